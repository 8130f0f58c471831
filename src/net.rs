//! What shipgate's outbound HTTP clients share: the registry client, the OIDC key fetches
//! (`auth::jwks`) and the GitHub step's calls to a gate (`github_action::remote`); and what
//! limits the hops a registry chooses (redirects, token services: see `docs/outbound.md`).

use serde::Deserialize;
use url::Url;

/// Outbound requests to registries (see docs/outbound.md). The registry a policy names is
/// always reachable; these settings govern the hosts *it* sends us to.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OutboundConfig {
    /// Extra hosts a registry may redirect to or name as its token service, besides the
    /// built-in blob/CDN/token hosts of the big registries: `host` or `host:port`, `*` matching
    /// within one DNS label (e.g. `*.blob.core.windows.net`).
    #[serde(default)]
    pub allow_hosts: Vec<String>,
    /// Let such hops reach loopback, private, link-local and other non-public addresses
    /// (default false: the cloud metadata endpoint and the pod's own ports stay out of reach).
    #[serde(default)]
    pub allow_private_networks: bool,
    /// Most connections open at once to one registry or storage host (default 8).
    #[serde(default)]
    pub max_connections_per_host: Option<usize>,
}

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
    // The header as well as the body's own hint: a body re-wrapped by the registry client's
    // connection bound no longer knows its length.
    let declared = response
        .headers()
        .get(reqwest::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if response
        .content_length()
        .or(declared)
        .is_some_and(|n| n > limit as u64)
    {
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

// ---------------------------------------------------------------------------------------------
// Hops a registry chooses: redirects and token services.

/// Whether `ip` is not a public unicast address: loopback, private (RFC 1918, fc00::/7),
/// link-local (169.254/16 with the cloud metadata endpoint, fe80::/10), shared (100.64/10),
/// unspecified, multicast, broadcast or reserved. IPv4-mapped and NAT64 IPv6 addresses are
/// judged by the IPv4 address inside.
pub fn is_non_public(ip: std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V4(v4) => is_non_public_v4(v4),
        std::net::IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_non_public_v4(v4);
            }
            let s = v6.segments();
            let b = v6.octets();
            let last32 = std::net::Ipv4Addr::new(b[12], b[13], b[14], b[15]);
            // NAT64 (64:ff9b::/96, and the local-use 64:ff9b:1::/48) and IPv4-compatible
            // (::a.b.c.d) addresses reach the IPv4 address in their last 32 bits.
            let nat64 = s[0] == 0x64 && s[1] == 0xff9b && s[2..6].iter().all(|x| *x == 0);
            let nat64_local = s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1;
            let compatible =
                s[..6].iter().all(|x| *x == 0) && !v6.is_loopback() && !v6.is_unspecified();
            if nat64 || nat64_local || compatible {
                return is_non_public_v4(last32);
            }
            // 6to4 (2002::/16) carries the IPv4 address in bits 16..48.
            if s[0] == 0x2002 {
                return is_non_public_v4(std::net::Ipv4Addr::new(b[2], b[3], b[4], b[5]));
            }
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xffc0) == 0xfe80 // link-local
                || (s[0] & 0xfe00) == 0xfc00 // unique local
                || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated, still routed privately)
        }
    }
}

fn is_non_public_v4(ip: std::net::Ipv4Addr) -> bool {
    let o = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_multicast()
        || ip.is_broadcast()
        || o[0] == 0 // "this network"
        || (o[0] == 100 && (o[1] & 0xc0) == 64) // shared address space 100.64/10
        || (o[0] == 192 && o[1] == 0 && o[2] == 0) // IETF protocol assignments
        || (o[0] == 198 && (o[1] & 0xfe) == 18) // benchmarking 198.18/15
        || o[0] >= 240 // reserved
}

/// Blob-storage, CDN and token hosts the big registries send clients to, from their firewall
/// documentation: ECR's S3 layer buckets, Docker Hub's token service and CDNs, GHCR's package
/// CDN, Google's storage, Quay's CDNs. Only over HTTPS on port 443 (see `HostPattern`).
pub const DEFAULT_HOP_HOSTS: &[&str] = &[
    // Amazon ECR: layers are served from S3 buckets named after the region.
    "prod-*-starport-layer-bucket.s3.*.amazonaws.com",
    "prod-*-starport-layer-bucket.s3.amazonaws.com",
    "prod-*-starport-layer-bucket.s3.*.amazonaws.com.cn",
    // Docker Hub.
    "auth.docker.io",
    "production.cloudflare.docker.com",
    "production.cloudfront.docker.com",
    "docker-images-prod.r2.cloudflarestorage.com",
    "docker-images-prod.*.r2.cloudflarestorage.com",
    // GitHub Container Registry.
    "pkg-containers.githubusercontent.com",
    // Google Artifact Registry / Container Registry.
    "storage.googleapis.com",
    // Quay.io.
    "cdn.quay.io",
    "cdn0*.quay.io",
];

/// One allowed hop host: `host` or `host:port`, where `*` inside a DNS label matches any
/// characters of that one label (it never spans a dot). Without a port only the scheme's
/// default port matches. Host names compare case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPattern {
    labels: Vec<String>,
    port: Option<u16>,
    text: String,
}

impl HostPattern {
    pub fn parse(text: &str) -> Result<HostPattern, String> {
        let trimmed = text.trim();
        let bad = |why: &str| format!("outbound host `{text}`: {why}");
        if trimmed.is_empty() {
            return Err(bad("empty"));
        }
        if trimmed.contains("://") || trimmed.contains('/') {
            return Err(bad("write a host or host:port, not a URL"));
        }
        let (host, port) = if let Some(rest) = trimmed.strip_prefix('[') {
            let (inside, after) = rest.split_once(']').ok_or_else(|| bad("unclosed `[`"))?;
            let port = match after.strip_prefix(':') {
                Some(p) => Some(p),
                None if after.is_empty() => None,
                None => return Err(bad("unexpected text after `]`")),
            };
            (format!("[{inside}]"), port)
        } else {
            if trimmed.matches(':').count() > 1 {
                // An IPv6 address without brackets would silently match nothing.
                return Err(bad(
                    "write an IPv6 address in brackets, e.g. `[fd00::1]:5000`",
                ));
            }
            match trimmed.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), Some(p)),
                None => (trimmed.to_string(), None),
            }
        };
        let port = match port {
            Some(p) => Some(
                p.parse::<u16>()
                    .map_err(|_| bad("the port is not a number"))?,
            ),
            None => None,
        };
        let host = host.to_ascii_lowercase();
        let labels: Vec<String> = if host.starts_with('[') {
            vec![host]
        } else {
            host.split('.').map(str::to_string).collect()
        };
        if labels.iter().any(|l| l.is_empty()) {
            return Err(bad("empty DNS label"));
        }
        if labels.iter().any(|l| l.starts_with('[') && l.contains('*')) {
            return Err(bad("an IPv6 address cannot hold a wildcard"));
        }
        if labels.iter().all(|l| l.chars().all(|c| c == '*')) {
            return Err(bad("a pattern of wildcards only would allow every host"));
        }
        Ok(HostPattern {
            labels,
            port,
            text: trimmed.to_string(),
        })
    }

    /// Whether `url`'s host and port match.
    pub fn matches(&self, url: &Url) -> bool {
        let Some(port) = url.port_or_known_default() else {
            return false;
        };
        let port_ok = match self.port {
            Some(p) => p == port,
            None => url.port().is_none(),
        };
        if !port_ok {
            return false;
        }
        let host = match url.host() {
            Some(url::Host::Domain(d)) => d.to_ascii_lowercase(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => format!("[{ip}]"),
            None => return false,
        };
        let host = host.strip_suffix('.').unwrap_or(&host);
        let labels: Vec<&str> = if host.starts_with('[') {
            vec![host]
        } else {
            host.split('.').collect()
        };
        labels.len() == self.labels.len()
            && self
                .labels
                .iter()
                .zip(&labels)
                .all(|(p, l)| wildcard_match(p, l))
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// `*` matches any run of characters; everything else literally.
fn wildcard_match(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

/// Where hops chosen by a registry (a redirect's `Location`, a Bearer challenge's `realm`) may
/// go when they leave the registry's own origin.
#[derive(Debug, Clone)]
pub struct HopPolicy {
    allow_hosts: Vec<HostPattern>,
    pub allow_private_networks: bool,
}

/// Why a hop is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HopRefusal {
    /// The host matches neither the built-in list nor `outbound.allowHosts`.
    NotAllowed { host: String },
    /// An address (literal or resolved) that is not public.
    NonPublic { host: String, address: String },
}

impl std::fmt::Display for HopRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HopRefusal::NotAllowed { host } => write!(
                f,
                "{host} is not the registry's own host nor a known blob/CDN/token host; if it is one of the registry's, add `{host}` to `outbound.allowHosts` in the configuration (or pass --allow-outbound-host {host})"
            ),
            HopRefusal::NonPublic { host, address } => write!(
                f,
                "{host} is {address}, a loopback, private, link-local or otherwise non-public address; set `outbound.allowPrivateNetworks: true` in the configuration (or pass --allow-private-networks) if the registry really keeps its storage or token service there"
            ),
        }
    }
}

impl std::error::Error for HopRefusal {}

impl HopPolicy {
    /// The built-in hosts plus `extra` (from `outbound.allowHosts`).
    pub fn new(extra: &[String], allow_private_networks: bool) -> Result<HopPolicy, String> {
        let mut allow_hosts = DEFAULT_HOP_HOSTS
            .iter()
            .map(|h| HostPattern::parse(h))
            .collect::<Result<Vec<_>, _>>()?;
        for h in extra {
            allow_hosts.push(HostPattern::parse(h)?);
        }
        Ok(HopPolicy {
            allow_hosts,
            allow_private_networks,
        })
    }

    /// Checks a hop's URL: its host must be allowed, and an IP literal must be public unless
    /// private networks are allowed. Names are checked again when they are resolved
    /// ([`HopResolver`]), on the connection that is actually made.
    pub fn check(&self, url: &Url) -> Result<(), HopRefusal> {
        let host = match (url.host_str(), url.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_string(),
            (None, _) => String::new(),
        };
        if !self.allow_hosts.iter().any(|p| p.matches(url)) {
            return Err(HopRefusal::NotAllowed { host });
        }
        let literal: Option<std::net::IpAddr> = match url.host() {
            Some(url::Host::Ipv4(ip)) => Some(ip.into()),
            Some(url::Host::Ipv6(ip)) => Some(ip.into()),
            _ => None,
        };
        if let Some(ip) = literal {
            if !self.allow_private_networks && is_non_public(ip) {
                return Err(HopRefusal::NonPublic {
                    host,
                    address: ip.to_string(),
                });
            }
        }
        Ok(())
    }
}

/// The DNS resolver of the client that makes registry-chosen hops: names that resolve only to
/// non-public addresses are refused, and non-public addresses are dropped from mixed answers.
/// Filtering here, on the addresses the connection will use, also defeats DNS rebinding (a
/// name that is public when checked and private when connected).
pub struct HopResolver {
    /// Fixed addresses per host name (as `curl --resolve`), filtered like DNS answers.
    pub overrides: std::collections::HashMap<String, Vec<std::net::SocketAddr>>,
    pub allow_private_networks: bool,
}

impl reqwest::dns::Resolve for HopResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        let fixed = self.overrides.get(&host.to_ascii_lowercase()).cloned();
        let allow_private = self.allow_private_networks;
        Box::pin(async move {
            let found: Vec<std::net::SocketAddr> = match fixed {
                Some(addrs) => addrs,
                None => tokio::net::lookup_host((host.as_str(), 0)).await?.collect(),
            };
            if allow_private {
                return Ok(Box::new(found.into_iter()) as reqwest::dns::Addrs);
            }
            let first_refused = found.iter().find(|a| is_non_public(a.ip())).copied();
            let public: Vec<std::net::SocketAddr> = found
                .into_iter()
                .filter(|a| !is_non_public(a.ip()))
                .collect();
            match (public.is_empty(), first_refused) {
                (false, _) => Ok(Box::new(public.into_iter()) as reqwest::dns::Addrs),
                (true, Some(addr)) => Err(Box::new(HopRefusal::NonPublic {
                    host,
                    address: addr.ip().to_string(),
                })
                    as Box<dyn std::error::Error + Send + Sync>),
                (true, None) => Err(format!("{host} has no addresses").into()),
            }
        })
    }
}

/// The hop refusal inside a transport error, if the resolver refused the name.
pub fn hop_refusal(err: &reqwest::Error) -> Option<HopRefusal> {
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        if let Some(r) = s.downcast_ref::<HopRefusal>() {
            return Some(r.clone());
        }
        source = s.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_public_addresses() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "fc00::5",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "240.0.0.1",
            "192.0.0.1",
            "198.18.0.1",
            "::169.254.169.254",
            "64:ff9b:1::a9fe:a9fe",
            "2002:a9fe:a9fe::1",
            "2002:7f00:1::",
        ] {
            assert!(is_non_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "52.216.1.1",
            "8.8.8.8",
            "2600:1f18::1",
            "::ffff:52.216.1.1",
            "100.128.0.1",
            "2002:34d8:101::1",
            "::34.216.1.1",
        ] {
            assert!(!is_non_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn host_patterns() {
        let m = |p: &str, u: &str| {
            HostPattern::parse(p)
                .unwrap()
                .matches(&Url::parse(u).unwrap())
        };
        assert!(m(
            "*.blob.core.windows.net",
            "https://acct.blob.core.windows.net/x"
        ));
        assert!(!m(
            "*.blob.core.windows.net",
            "https://a.b.blob.core.windows.net/x"
        ));
        assert!(!m(
            "*.blob.core.windows.net",
            "https://blob.core.windows.net/x"
        ));
        assert!(!m(
            "*.blob.core.windows.net",
            "https://acct.blob.core.windows.net.evil.io/x"
        ));
        assert!(m(
            "prod-*-starport-layer-bucket.s3.*.amazonaws.com",
            "https://prod-eu-west-1-starport-layer-bucket.s3.eu-west-1.amazonaws.com/a?b"
        ));
        assert!(!m(
            "prod-*-starport-layer-bucket.s3.*.amazonaws.com",
            "https://evil-starport-layer-bucket.s3.eu-west-1.amazonaws.com/"
        ));
        // Without a port only the default port; with one, exactly it.
        assert!(m("cdn.quay.io", "https://CDN.quay.io/x"));
        assert!(!m("cdn.quay.io", "https://cdn.quay.io:8443/x"));
        assert!(m("127.0.0.1:5001", "http://127.0.0.1:5001/t"));
        assert!(!m("127.0.0.1:5001", "http://127.0.0.1:5002/t"));
        assert!(m("[::1]:5001", "http://[::1]:5001/t"));
        for bad in [
            "",
            "*",
            "*.*",
            "**",
            "**.*",
            "[*]",
            "fd00::1",
            "::1:5000",
            "https://x.io",
            "x.io:port",
            "a..b",
            "[::1",
        ] {
            assert!(HostPattern::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn hop_policy_refuses_unknown_hosts_and_private_literals() {
        let p = HopPolicy::new(&["127.0.0.1:6002".into(), "*.corp.example".into()], false).unwrap();
        let check = |u: &str| p.check(&Url::parse(u).unwrap());
        assert_eq!(check("https://auth.docker.io/token"), Ok(()));
        assert_eq!(check("https://s.corp.example/x"), Ok(()));
        assert!(matches!(
            check("https://evil.example/x"),
            Err(HopRefusal::NotAllowed { .. })
        ));
        assert!(matches!(
            check("http://127.0.0.1:6002/"),
            Err(HopRefusal::NonPublic { .. })
        ));
        assert!(matches!(
            check("http://169.254.169.254/latest/meta-data"),
            Err(HopRefusal::NotAllowed { .. })
        ));
        let text = check("http://127.0.0.1:6002/").unwrap_err().to_string();
        assert!(text.contains("outbound.allowPrivateNetworks"), "{text}");
        let text = check("https://evil.example/x").unwrap_err().to_string();
        assert!(
            text.contains("outbound.allowHosts") && text.contains("evil.example"),
            "{text}"
        );
        let open = HopPolicy::new(&["127.0.0.1:6002".into()], true).unwrap();
        assert_eq!(
            open.check(&Url::parse("http://127.0.0.1:6002/").unwrap()),
            Ok(())
        );
    }

    #[tokio::test]
    async fn the_hop_resolver_refuses_names_of_private_addresses() {
        use reqwest::dns::Resolve as _;
        let r = HopResolver {
            overrides: std::collections::HashMap::from([(
                "mixed.test".to_string(),
                vec![
                    "10.0.0.1:0".parse().unwrap(),
                    "52.216.1.1:0".parse().unwrap(),
                ],
            )]),
            allow_private_networks: false,
        };
        let err = r
            .resolve("localhost".parse().unwrap())
            .await
            .err()
            .expect("localhost is refused");
        assert!(err.to_string().contains("allowPrivateNetworks"), "{err}");
        let addrs: Vec<_> = r
            .resolve("mixed.test".parse().unwrap())
            .await
            .unwrap()
            .collect();
        assert_eq!(addrs, vec!["52.216.1.1:0".parse().unwrap()]);
        let open = HopResolver {
            overrides: Default::default(),
            allow_private_networks: true,
        };
        assert!(open.resolve("localhost".parse().unwrap()).await.is_ok());
    }

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
