//! Remote mode: a GitHub OIDC token for the job, then `POST {gate-url}/v1/decisions` per image
//! with that token as the bearer. Nothing here prints or logs the token.

use std::time::Duration;

use serde::Deserialize;
use url::Url;

use crate::decision::Decision;

/// GitHub's token is a few KiB; anything much larger is not a token response.
const MAX_TOKEN_RESPONSE_BYTES: usize = 64 * 1024;
/// A decision with full evidence (findings lists are capped by the evaluator).
const MAX_DECISION_RESPONSE_BYTES: usize = 4 * 1024 * 1024;
/// Characters of a service's error text quoted back to the user.
const MAX_ERROR_TEXT_CHARS: usize = 500;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const TOKEN_TIMEOUT: Duration = Duration::from_secs(30);
/// The service may wait for an ECR scan within its own evaluation budget; leave room for it.
const DECISION_TIMEOUT: Duration = Duration::from_secs(120);

/// Why remote mode cannot start: exit 2, nothing decided.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN are not set, so this job cannot request a GitHub OIDC token: add `permissions: id-token: write` to the job (remote mode authenticates with it)")]
    NoTokenEnvironment,
    #[error("{what} `{url}` is not a URL: {source}")]
    BadUrl {
        what: &'static str,
        url: String,
        source: url::ParseError,
    },
    #[error("{what} `{url}` must be https:// (plain http is allowed only to a loopback address): a bearer token is never sent in clear")]
    NotHttps { what: &'static str, url: String },
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

/// Why no decision was obtained: the image fails with this reason (fail closed).
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error("could not get a GitHub OIDC token: {0}")]
    Token(String),
    #[error("could not reach the shipgate service: {0}")]
    Unreachable(String),
    #[error("the shipgate service refused the request (HTTP {status}): {message}")]
    Refused { status: u16, message: String },
    #[error("the shipgate service answered with something that is not a decision: {0}")]
    Malformed(String),
}

/// Where the runner's OIDC token comes from (`ACTIONS_ID_TOKEN_REQUEST_*`).
pub struct TokenEndpoint {
    url: Url,
    request_token: String,
}

impl TokenEndpoint {
    /// Reads the runner's environment; absent when the job lacks `id-token: write`.
    pub fn from_env() -> Result<TokenEndpoint, SetupError> {
        let var = |name| std::env::var(name).ok().filter(|v| !v.is_empty());
        let (Some(url), Some(request_token)) = (
            var("ACTIONS_ID_TOKEN_REQUEST_URL"),
            var("ACTIONS_ID_TOKEN_REQUEST_TOKEN"),
        ) else {
            return Err(SetupError::NoTokenEnvironment);
        };
        Ok(TokenEndpoint {
            url: secure_url("ACTIONS_ID_TOKEN_REQUEST_URL", &url)?,
            request_token,
        })
    }
}

/// The shipgate service's decisions endpoint.
pub struct GateService {
    decisions: Url,
    http: reqwest::Client,
}

impl GateService {
    /// `{gate_url}/v1/decisions`, keeping any path prefix of `gate_url`.
    pub fn new(gate_url: &str) -> Result<GateService, SetupError> {
        let mut decisions = secure_url("--gate-url", gate_url)?;
        decisions
            .path_segments_mut()
            .map_err(|()| SetupError::NotHttps {
                what: "--gate-url",
                url: gate_url.to_string(),
            })?
            .pop_if_empty()
            .extend(["v1", "decisions"]);
        decisions.set_query(None);
        decisions.set_fragment(None);
        let http = reqwest::Client::builder()
            .user_agent(concat!(
                "shipgate-github-action/",
                env!("CARGO_PKG_VERSION")
            ))
            // A redirect could carry the bearer token elsewhere; the gate URL is configured
            // exactly, so a redirect is an error.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
            .map_err(|e| SetupError::Client(e.to_string()))?;
        Ok(GateService { decisions, http })
    }

    pub fn decisions_url(&self) -> &Url {
        &self.decisions
    }

    /// GET `{ACTIONS_ID_TOKEN_REQUEST_URL}&audience=AUD` with the request token as bearer;
    /// the answer is `{"value": "<jwt>"}`.
    pub async fn oidc_token(
        &self,
        endpoint: &TokenEndpoint,
        audience: &str,
    ) -> Result<String, RemoteError> {
        let mut url = endpoint.url.clone();
        url.query_pairs_mut().append_pair("audience", audience);
        let response = self
            .http
            .get(url)
            .bearer_auth(&endpoint.request_token)
            .header(reqwest::header::ACCEPT, "application/json")
            .timeout(TOKEN_TIMEOUT)
            .send()
            .await
            .map_err(|e| RemoteError::Token(transport_error(&e)))?;
        let status = response.status();
        let body = read_bounded(response, MAX_TOKEN_RESPONSE_BYTES)
            .await
            .map_err(RemoteError::Token)?;
        if !status.is_success() {
            // The body of a failed token request is GitHub's error text, never a token.
            return Err(RemoteError::Token(format!(
                "the token endpoint answered HTTP {}: {}",
                status.as_u16(),
                error_text(&body)
            )));
        }
        #[derive(Deserialize)]
        struct TokenResponse {
            value: String,
        }
        let token = serde_json::from_slice::<TokenResponse>(&body)
            .map_err(|_| {
                RemoteError::Token("the token endpoint's answer has no `value` string".into())
            })?
            .value;
        // A JWT is base64url segments joined by dots; anything else (empty, spaces, control
        // characters) is refused without quoting it.
        let looks_like_jwt = !token.is_empty()
            && token.split('.').count() == 3
            && token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'='));
        if !looks_like_jwt {
            return Err(RemoteError::Token(
                "the token endpoint's `value` is not a JWT".into(),
            ));
        }
        Ok(token)
    }

    /// Asks the service for the decision on `image`.
    pub async fn decide(&self, image: &str, token: &str) -> Result<Decision, RemoteError> {
        let response = self
            .http
            .post(self.decisions.clone())
            .bearer_auth(token)
            .json(&serde_json::json!({ "image": image }))
            .timeout(DECISION_TIMEOUT)
            .send()
            .await
            .map_err(|e| RemoteError::Unreachable(transport_error(&e)))?;
        let status = response.status();
        let body = read_bounded(response, MAX_DECISION_RESPONSE_BYTES)
            .await
            .map_err(RemoteError::Unreachable)?;
        if status != reqwest::StatusCode::OK {
            return Err(RemoteError::Refused {
                status: status.as_u16(),
                message: error_text(&body),
            });
        }
        let decision: Decision =
            serde_json::from_slice(&body).map_err(|e| RemoteError::Malformed(e.to_string()))?;
        if decision.image != image {
            return Err(RemoteError::Malformed(format!(
                "it is about `{}`, not `{image}`",
                one_line(&decision.image, 200)
            )));
        }
        Ok(decision)
    }
}

/// `https://…`, or `http://` to a loopback host (tests, a sidecar on the runner).
fn secure_url(what: &'static str, raw: &str) -> Result<Url, SetupError> {
    let url = Url::parse(raw.trim()).map_err(|source| SetupError::BadUrl {
        what,
        url: raw.to_string(),
        source,
    })?;
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    };
    match url.scheme() {
        "https" if url.host().is_some() => Ok(url),
        "http" if loopback => Ok(url),
        _ => Err(SetupError::NotHttps {
            what,
            url: raw.to_string(),
        }),
    }
}

/// Reads at most `max` bytes of the body; a longer one is an error, not a truncation.
async fn read_bounded(mut response: reqwest::Response, max: usize) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| transport_error(&e))? {
        if body.len() + chunk.len() > max {
            return Err(format!("the response is larger than {max} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The `error` of shipgate's `{"error": "…"}` shape, else the body's text; one bounded line.
fn error_text(body: &[u8]) -> String {
    let text = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            ["error", "message"]
                .iter()
                .find_map(|k| v.get(*k).and_then(|m| m.as_str()).map(str::to_string))
        })
        .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
    if text.trim().is_empty() {
        "(no error text)".into()
    } else {
        one_line(&text, MAX_ERROR_TEXT_CHARS)
    }
}

/// Control characters become spaces (no injected lines or workflow commands); bounded.
fn one_line(s: &str, max_chars: usize) -> String {
    let mut out: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max_chars)
        .collect();
    if s.chars().count() > max_chars {
        out.push('…');
    }
    out.trim().to_string()
}

/// reqwest's error with its causes ("error sending request: … connection refused").
fn transport_error(e: &reqwest::Error) -> String {
    let mut text = if e.is_timeout() {
        "timed out".to_string()
    } else {
        e.to_string()
    };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    one_line(&text, MAX_ERROR_TEXT_CHARS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gate_urls_must_be_https_unless_loopback() {
        for ok in [
            "https://gate.example.com",
            "http://127.0.0.1:8080",
            "http://[::1]:8080/",
            "http://localhost:1",
        ] {
            assert!(secure_url("--gate-url", ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://gate.example.com",
            "http://10.0.0.1",
            "ftp://127.0.0.1",
            "file:///tmp/x",
        ] {
            assert!(
                matches!(
                    secure_url("--gate-url", bad),
                    Err(SetupError::NotHttps { .. })
                ),
                "{bad}"
            );
        }
        assert!(matches!(
            secure_url("--gate-url", "gate.example.com"),
            Err(SetupError::BadUrl { .. })
        ));
    }

    #[test]
    fn decisions_url_keeps_a_path_prefix() {
        let s = GateService::new("https://gate.example.com/shipgate/?x=1").unwrap();
        assert_eq!(
            s.decisions_url().as_str(),
            "https://gate.example.com/shipgate/v1/decisions"
        );
        let s = GateService::new("http://127.0.0.1:9").unwrap();
        assert_eq!(
            s.decisions_url().as_str(),
            "http://127.0.0.1:9/v1/decisions"
        );
    }

    #[test]
    fn error_text_prefers_the_error_field_and_is_one_bounded_line() {
        assert_eq!(error_text(br#"{"error":"bad\ntoken"}"#), "bad token");
        assert_eq!(error_text(b"plain\r\n::error::x"), "plain  ::error::x");
        assert_eq!(error_text(b""), "(no error text)");
        let long = "y".repeat(2000);
        assert_eq!(
            error_text(long.as_bytes()).chars().count(),
            MAX_ERROR_TEXT_CHARS + 1
        );
    }
}
