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
    #[error("{what} must not carry credentials (user:password@): the bearer token authenticates")]
    Credentials { what: &'static str },
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
        let request = self
            .http
            .get(url)
            .bearer_auth(&endpoint.request_token)
            .header(reqwest::header::ACCEPT, "application/json");
        let (status, body) = send_bounded(request, TOKEN_TIMEOUT, MAX_TOKEN_RESPONSE_BYTES)
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
        let request = self
            .http
            .post(self.decisions.clone())
            .bearer_auth(token)
            .json(&serde_json::json!({ "image": image }));
        let (status, body) = send_bounded(request, DECISION_TIMEOUT, MAX_DECISION_RESPONSE_BYTES)
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
    // A password in the URL would be quoted in every reason, output and summary.
    match crate::net::require_https_or_loopback(&url) {
        Ok(()) => Ok(url),
        Err(crate::net::InsecureUrl::Credentials) => Err(SetupError::Credentials { what }),
        Err(_) => Err(SetupError::NotHttps {
            what,
            url: raw.to_string(),
        }),
    }
}

/// Sends `request` within `timeout` and reads the status and at most `max` bytes of the body;
/// a longer body is an error, not a truncation.
async fn send_bounded(
    request: reqwest::RequestBuilder,
    timeout: Duration,
    max: usize,
) -> Result<(reqwest::StatusCode, Vec<u8>), String> {
    let response = request
        .timeout(timeout)
        .send()
        .await
        .map_err(|e| transport_error(&e))?;
    let status = response.status();
    match crate::net::read_body(response, max).await {
        Ok(body) => Ok((status, body.to_vec())),
        Err(crate::net::BodyError::TooLarge) => {
            Err(format!("the response is larger than {max} bytes"))
        }
        Err(crate::net::BodyError::Transport(e)) => Err(transport_error(&e)),
    }
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
    let text = if e.is_timeout() {
        format!("timed out: {}", crate::net::error_text(e))
    } else {
        crate::net::error_text(e)
    };
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
        for with_credentials in [
            "https://user:s3cret@gate.example.com",
            "https://user@gate.example.com",
            "http://user:s3cret@127.0.0.1:8080",
        ] {
            let e = secure_url("--gate-url", with_credentials).unwrap_err();
            assert!(
                matches!(e, SetupError::Credentials { .. }),
                "{with_credentials}"
            );
            assert!(!e.to_string().contains("s3cret"), "{e}");
        }
    }

    /// A loopback service answering every path with what `answer` says for it.
    async fn stub(answer: fn(&str) -> axum::response::Response) -> String {
        let app = axum::Router::new()
            .fallback(move |uri: axum::http::Uri| async move { answer(uri.path()) });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}")
    }

    #[tokio::test]
    async fn only_a_decision_about_the_asked_image_is_a_decision() {
        use axum::response::IntoResponse;
        let base = stub(|path| {
            let about = |image: &str| {
                let d = Decision::conclude(
                    image.into(),
                    None,
                    Vec::new(),
                    Vec::new(),
                    std::time::Instant::now(),
                );
                axum::Json(d).into_response()
            };
            match path {
                "/same/v1/decisions" => about("reg.test/app:v1"),
                "/other/v1/decisions" => about("reg.test/other:v1"),
                "/garbage/v1/decisions" => "{\"decision\":\"pass\"}".into_response(),
                "/redirect/v1/decisions" => {
                    axum::response::Redirect::temporary("/same/v1/decisions").into_response()
                }
                "/huge/v1/decisions" => "x".repeat(MAX_DECISION_RESPONSE_BYTES + 1).into_response(),
                _ => axum::http::StatusCode::NOT_FOUND.into_response(),
            }
        })
        .await;
        let decide = |prefix: &str| {
            let service = GateService::new(&format!("{base}/{prefix}")).unwrap();
            async move { service.decide("reg.test/app:v1", "a.b.c").await }
        };
        assert_eq!(decide("same").await.unwrap().image, "reg.test/app:v1");
        let e = decide("other").await.unwrap_err();
        assert!(
            matches!(&e, RemoteError::Malformed(m) if m.contains("reg.test/other:v1")),
            "{e}"
        );
        let e = decide("garbage").await.unwrap_err();
        assert!(matches!(e, RemoteError::Malformed(_)), "{e}");
        // A redirect is not followed (it could carry the bearer token elsewhere).
        let e = decide("redirect").await.unwrap_err();
        assert!(matches!(e, RemoteError::Refused { status: 307, .. }), "{e}");
        let e = decide("huge").await.unwrap_err();
        assert!(e.to_string().contains("larger than"), "{e}");
        let e = decide("missing").await.unwrap_err();
        assert!(matches!(e, RemoteError::Refused { status: 404, .. }), "{e}");
    }

    #[tokio::test]
    async fn a_token_answer_without_a_jwt_is_refused_unquoted() {
        use axum::response::IntoResponse;
        let base = stub(|path| match path {
            "/jwt" => axum::Json(serde_json::json!({"value": "aaa.bbb.ccc"})).into_response(),
            "/spaces" => {
                axum::Json(serde_json::json!({"value": "aaa.b b.c%0A::x"})).into_response()
            }
            "/empty" => axum::Json(serde_json::json!({"value": ""})).into_response(),
            "/none" => axum::Json(serde_json::json!({"count": 1})).into_response(),
            _ => "not json".into_response(),
        })
        .await;
        let service = GateService::new("http://127.0.0.1:9").unwrap();
        let token = |path: &str| {
            let endpoint = TokenEndpoint {
                url: Url::parse(&format!("{base}{path}?api-version=2.0")).unwrap(),
                request_token: "r".into(),
            };
            let service = &service;
            async move { service.oidc_token(&endpoint, "aud").await }
        };
        assert_eq!(token("/jwt").await.unwrap(), "aaa.bbb.ccc");
        for path in ["/spaces", "/empty", "/none", "/text"] {
            let e = token(path).await.unwrap_err();
            assert!(matches!(e, RemoteError::Token(_)), "{path}: {e}");
            assert!(!e.to_string().contains("::x"), "{path}: {e}");
        }
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
