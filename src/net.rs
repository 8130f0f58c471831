//! What shipgate's outbound HTTP clients share: the registry client, the OIDC key fetches
//! (`auth::jwks`) and the GitHub step's calls to a gate (`github_action::remote`).

use url::Url;

/// Whether `ip` is a loopback address (127.0.0.0/8, ::1, or ::ffff:127.x.y.z).
pub fn is_loopback(ip: std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V4(v4) => v4.is_loopback(),
        std::net::IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// Whether `url` names a loopback host: `localhost` or a loopback address.
pub fn is_loopback_host(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => is_loopback(ip.into()),
        Some(url::Host::Ipv6(ip)) => is_loopback(ip.into()),
        None => false,
    }
}

/// Why a URL may not be used to send a token or fetch keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsecureUrl {
    /// `user:password@` in the URL: it would be quoted in every error and log line.
    Credentials,
    /// `http://` to a host that is not loopback.
    PlainHttp,
    /// Neither `https://` with a host nor `http://`.
    NotHttp,
}

/// `https://` with a host, or plain `http://` to a loopback host (tests, sidecars); never
/// with credentials in the URL.
pub fn require_https_or_loopback(url: &Url) -> Result<(), InsecureUrl> {
    if !url.username().is_empty() || url.password().is_some() {
        return Err(InsecureUrl::Credentials);
    }
    match url.scheme() {
        "https" if url.host().is_some() => Ok(()),
        "http" if is_loopback_host(url) => Ok(()),
        "http" => Err(InsecureUrl::PlainHttp),
        _ => Err(InsecureUrl::NotHttp),
    }
}

/// A transport error as one line: its causes, else its own text without the URL reqwest puts
/// there (a URL's query string does not belong in logs or reasons).
pub fn error_text(err: &reqwest::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.contains(&text) {
            parts.push(text);
        }
        source = s.source();
    }
    if !parts.is_empty() {
        return parts.join(": ");
    }
    let text = err.to_string();
    match err.url() {
        Some(u) => text.replace(&format!(" for url ({u})"), ""),
        None => text,
    }
}

/// Why a response body was not read.
#[derive(Debug)]
pub enum BodyError {
    /// Longer than the limit (by `Content-Length` or as read): an error, never a truncation.
    TooLarge,
    Transport(reqwest::Error),
}

/// Reads at most `limit` bytes of `response`'s body.
pub async fn read_body(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<bytes::Bytes, BodyError> {
    if response.content_length().is_some_and(|n| n > limit as u64) {
        return Err(BodyError::TooLarge);
    }
    let mut body = bytes::BytesMut::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Transport)? {
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_or_loopback_http_without_credentials() {
        let check = |u: &str| require_https_or_loopback(&Url::parse(u).unwrap());
        for ok in [
            "https://gate.example.com/",
            "http://127.0.0.1:8080",
            "http://127.3.2.1",
            "http://[::1]:9000/x",
            "http://[::ffff:127.0.0.1]/",
            "http://LOCALHOST:1/",
        ] {
            assert_eq!(check(ok), Ok(()), "{ok}");
        }
        for (bad, why) in [
            ("http://10.0.0.1/", InsecureUrl::PlainHttp),
            ("http://localhost.evil.com/", InsecureUrl::PlainHttp),
            ("http://[::ffff:10.0.0.1]/", InsecureUrl::PlainHttp),
            (
                "https://user:pw@gate.example.com/",
                InsecureUrl::Credentials,
            ),
            ("http://user@127.0.0.1/", InsecureUrl::Credentials),
            ("ftp://gate.example.com/", InsecureUrl::NotHttp),
            ("file:///etc/passwd", InsecureUrl::NotHttp),
        ] {
            assert_eq!(check(bad), Err(why), "{bad}");
        }
    }
}
