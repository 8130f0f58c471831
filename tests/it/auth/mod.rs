//! Caller authentication of `shipgate serve` (OIDC JWTs, static tokens).
//!
//! The JWTs are real: keys made by the test, signed by `shipgate_test_support::oidc::TestIssuer`,
//! whose discovery document and JWKS are served on a loopback port and fetched by the server's
//! real HTTP client. The HTTP API is driven through `tower::ServiceExt::oneshot` with the counting
//! in-memory registry of `http_api` behind the gate: a refused request must not reach the gate at
//! all.
//!
//! `jwt`: OIDC tokens and key handling; `tokens`: static tokens, malformed headers and the
//! configuration; `serve`: the real `shipgate serve` binary (the loopback rule).

mod jwt;
mod serve;
mod tokens;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderMap, Request, StatusCode};
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use tower::ServiceExt;

use shipgate::auth::{AuthSettings, Authenticator};
use shipgate::config::AuthConfig;
use shipgate::server::{app, AppState};
use shipgate_test_support::oidc::TestIssuer;

use crate::http_api::{gate, MemoryRegistry, POLICY};

const STATIC_TOKEN: &str = "sg-pipeline-4f9d2c7a1b8e6035";
/// A tag the registry does not know: a request that gets through fails at `resolve`.
const IMAGE: &str = r#"{"image":"registry.test/app:missing"}"#;

struct Fixture {
    app: axum::Router,
    registry: Arc<MemoryRegistry>,
    issuer: TestIssuer,
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The default rules: owner `acme`, `main` or tag `v1`, environment `production`; plus a static
/// token named `pipeline`.
fn default_auth(issuer: &TestIssuer) -> String {
    format!(
        r#"
oidc:
  - issuer: {}
    audience: shipgate
    claims:
      repository_owner: acme
      repository_owner_id: 4200
      ref: [refs/heads/main, refs/tags/v1]
      environment: production
tokens:
  - name: pipeline
    sha256: "{}"
"#,
        issuer.url(),
        token_hash(STATIC_TOKEN)
    )
}

fn fixture_with(issuer: TestIssuer, auth_yaml: &str, cooldown: Duration) -> Fixture {
    let auth: AuthConfig = serde_yaml::from_str(auth_yaml).unwrap();
    let settings = AuthSettings {
        jwks_cooldown: cooldown,
        ..AuthSettings::default()
    };
    let authenticator = Authenticator::new(&auth, &settings).unwrap();
    let registry = Arc::new(MemoryRegistry::default());
    let gate = gate(POLICY, registry.clone());
    Fixture {
        app: app(AppState::with_auth(gate, Arc::new(authenticator))),
        registry,
        issuer,
    }
}

/// Cool-down of an hour: within a test, a second refresh never happens.
fn fixture() -> Fixture {
    let issuer = TestIssuer::start();
    let auth = default_auth(&issuer);
    fixture_with(issuer, &auth, Duration::from_secs(3600))
}

async fn post(app: &axum::Router, authorization: Option<&str>) -> (StatusCode, HeaderMap, Value) {
    post_headers(app, authorization.as_slice()).await
}

/// A decision request with one `Authorization` header per item of `authorizations`.
async fn post_headers(
    app: &axum::Router,
    authorizations: &[&str],
) -> (StatusCode, HeaderMap, Value) {
    let mut request = Request::builder()
        .method("POST")
        .uri("/v1/decisions")
        .header("content-type", "application/json");
    for a in authorizations {
        request = request.header(header::AUTHORIZATION, *a);
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::from(IMAGE)).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    let value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
    (status, headers, value)
}

async fn get_text(app: &axum::Router, uri: &str) -> (StatusCode, String) {
    let request = Request::builder().uri(uri).body(Body::empty()).unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

impl Fixture {
    fn good_claims(&self) -> Value {
        self.issuer.github_claims("shipgate", "acme/app")
    }

    /// Sends the token, expects a refusal with this status and error text, and checks that the
    /// gate never ran.
    async fn expect_refused(&self, authorization: Option<&str>, status: StatusCode, text: &str) {
        let (got, headers, body) = post(&self.app, authorization).await;
        assert_eq!(got, status, "{body}");
        let error = body["error"].as_str().unwrap_or_else(|| panic!("{body}"));
        assert!(error.contains(text), "expected `{text}` in: {error}");
        if let Some(a) = authorization {
            let token = a.split_once(' ').map_or(a, |(_, t)| t);
            if token.len() > 8 {
                assert!(!error.contains(token), "the error echoes the token");
            }
        }
        if status == StatusCode::UNAUTHORIZED {
            assert_eq!(
                headers.get(header::WWW_AUTHENTICATE).unwrap(),
                r#"Bearer realm="shipgate""#
            );
        }
        assert_eq!(
            self.registry.calls.load(Ordering::SeqCst),
            0,
            "a refused request reached the gate"
        );
    }

    async fn expect_decided(&self, authorization: &str) {
        let before = self.registry.calls.load(Ordering::SeqCst);
        let (status, _, body) = post(&self.app, Some(authorization)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["decision"], "fail", "{body}");
        assert_eq!(body["checks"][0]["check"], "resolve", "{body}");
        assert!(
            self.registry.calls.load(Ordering::SeqCst) > before,
            "the gate did not run"
        );
    }
}
