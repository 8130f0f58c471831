//! The HTTP API through `tower::ServiceExt::oneshot`, with an in-memory registry behind the
//! `Registry` seam so that these tests can count exactly which registry calls a request makes.
//! (The end-to-end tests use the real `docker-registry`.) The caller-authentication tests
//! (`auth`) use the same registry and gate.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use bytes::Bytes;
use serde_json::{json, Value};
use tower::ServiceExt;

use shipgate::gate::{Gate, GateSettings};
use shipgate::policy::{Policy, PolicySet};
use shipgate::reference::{Digest, Repository};
use shipgate::registry::{Descriptor, Manifest, Registry, RegistryError};
use shipgate::server::{app, AppState};
use shipgate::verify::{TrustRoot, Verifier};

const DIGEST: &str = "sha256:4bf12e8bb9ef4bd25b9e3b6b7c50a5f2e3a4f8d1c1f4f5a1b2c3d4e5f6a7b8c9";

/// A registry with one tag (`v1` → `DIGEST`) and no signatures, counting every call.
#[derive(Default)]
pub(crate) struct MemoryRegistry {
    pub(crate) calls: AtomicUsize,
    referrer_calls: AtomicUsize,
}

#[async_trait]
impl Registry for MemoryRegistry {
    async fn resolve(
        &self,
        _: &Repository,
        reference: &str,
    ) -> Result<(Digest, String), RegistryError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if reference == "v1" {
            Ok((
                DIGEST.parse().unwrap(),
                "application/vnd.oci.image.manifest.v1+json".into(),
            ))
        } else {
            Err(RegistryError::NotFound {
                repository: "registry.test/app".into(),
                what: format!("manifest {reference}"),
            })
        }
    }
    async fn manifest(&self, _: &Repository, _: &str) -> Result<Option<Manifest>, RegistryError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(None)
    }
    async fn blob(&self, _: &Repository, d: &Digest, _: usize) -> Result<Bytes, RegistryError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Err(RegistryError::NotFound {
            repository: "registry.test/app".into(),
            what: format!("blob {d}"),
        })
    }
    async fn referrers(
        &self,
        _: &Repository,
        _: &Digest,
    ) -> Result<Option<Vec<Descriptor>>, RegistryError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.referrer_calls.fetch_add(1, Ordering::SeqCst);
        Ok(Some(Vec::new()))
    }
    async fn tags(&self, _: &Repository, _: usize) -> Result<(Vec<String>, bool), RegistryError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Ok((vec!["v1".to_string()], false))
    }
}

pub(crate) const POLICY: &str = r#"
name: local
images: ["registry.test/**"]
signatures:
  authorities:
    - name: ci
      keyless:
        issuer: https://token.actions.githubusercontent.com
        subject: https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main
"#;

/// A gate with this one policy (YAML) in front of `registry`.
pub(crate) fn gate(policy_yaml: &str, registry: Arc<MemoryRegistry>) -> Gate {
    let policy = Policy::from_yaml(policy_yaml, std::path::Path::new("local.yaml")).unwrap();
    Gate::new(
        PolicySet::new(vec![policy]).unwrap(),
        registry,
        Arc::new(shipgate::evidence::ecr_findings::AwsScanFindings::new()),
        Arc::new(Verifier::new(Arc::new(TrustRoot::public_good().unwrap()))),
        GateSettings::default(),
    )
}

fn service() -> (axum::Router, Arc<MemoryRegistry>) {
    let registry = Arc::new(MemoryRegistry::default());
    (app(AppState::new(gate(POLICY, registry.clone()))), registry)
}

async fn call(app: &axum::Router, method: &str, uri: &str, body: &str) -> (StatusCode, Value) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    let value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
    (status, value)
}

/// Signatures and provenance both look at the digest's referrers: one lookup serves both.
#[tokio::test]
async fn signatures_and_provenance_share_one_referrers_lookup() {
    let yaml = format!(
        "{POLICY}provenance:\n  authorities:\n    - name: builder\n      keyless:\n        issuer: https://token.actions.githubusercontent.com\n        subjectRegExp: ^https://github\\.com/acme/\n  builderId: https://github.com/actions/runner/github-hosted\n"
    );
    let registry = Arc::new(MemoryRegistry::default());
    let app = app(AppState::new(gate(&yaml, registry.clone())));
    let (status, body) = call(
        &app,
        "POST",
        "/v1/decisions",
        &json!({"image": format!("registry.test/app@{DIGEST}")}).to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["decision"], "fail", "{body}");
    let checks: Vec<&str> = body["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["check"].as_str().unwrap())
        .collect();
    assert!(
        checks.contains(&"signature") && checks.contains(&"provenance"),
        "{body}"
    );
    assert_eq!(registry.referrer_calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn health_and_readiness() {
    let (app, _) = service();
    assert_eq!(
        call(&app, "GET", "/healthz", "").await,
        (StatusCode::OK, json!({"status":"ok"}))
    );
    let (status, body) = call(&app, "GET", "/readyz", "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["policies"], 1);
    // The gate's base-image cache is visible.
    let (status, body) = call(&app, "GET", "/metrics", "").await;
    assert_eq!(status, StatusCode::OK);
    let text = body.as_str().unwrap_or_default();
    assert!(
        text.contains("shipgate_base_image_cache_entries 0"),
        "{text}"
    );
    assert!(
        text.contains("shipgate_base_image_cache_total{outcome=\"hit\"} 0"),
        "{text}"
    );
    // The API describes itself, as `shipgate openapi` and docs/openapi.json do.
    let (status, body) = call(&app, "GET", "/openapi.json", "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, shipgate::api_docs::openapi());
    let (status, body) = call(&app, "GET", "/nope", "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body["error"]
        .as_str()
        .unwrap()
        .contains("POST /v1/decisions"));
}

#[tokio::test]
async fn malformed_requests_are_4xx_with_a_json_error() {
    let (app, registry) = service();
    for body in [
        "not json",
        "{}",
        r#"{"image": 5}"#,
        r#"{"image":"registry.test/app:v1","colour":"blue"}"#,
        r#"{"image":"Registry.test/UPPER:v1"}"#,
        r#"{"image":"registry.test/app@sha256:abc"}"#,
        r#"{"image":"registry.test/app:v1","policy":"no-such-policy"}"#,
    ] {
        let (status, value) = call(&app, "POST", "/v1/decisions", body).await;
        assert!(status.is_client_error(), "{body}: {status}");
        assert!(
            value["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{body}: {value}"
        );
    }
    let big = format!(r#"{{"image":"{}"}}"#, "a".repeat(20_000));
    let (status, _) = call(&app, "POST", "/v1/decisions", &big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        registry.calls.load(Ordering::SeqCst),
        0,
        "a bad request reached the registry"
    );
}

#[tokio::test]
async fn an_image_no_policy_governs_fails_without_any_registry_call() {
    let (app, registry) = service();
    let (status, d) = call(
        &app,
        "POST",
        "/v1/decisions",
        r#"{"image":"evil.example.com/x:v1"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(d["decision"], "fail");
    assert_eq!(d["checks"][0]["check"], "policy-match");
    assert!(d["checks"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("no policy governs evil.example.com/x"));
    assert_eq!(registry.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn an_unsigned_image_fails_with_a_reason_and_the_decision_is_cached() {
    let (app, registry) = service();
    let (status, d) = call(
        &app,
        "POST",
        "/v1/decisions",
        r#"{"image":"registry.test/app:v1"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(d["decision"], "fail");
    assert_eq!(d["digest"], DIGEST);
    assert_eq!(d["mode"], "enforce");
    assert_eq!(d["policies"][0]["name"], "local");
    assert!(d["policies"][0]["sha256"]
        .as_str()
        .unwrap()
        .starts_with("sha256:"));
    let check = &d["checks"][0];
    assert_eq!(
        (check["check"].as_str(), check["result"].as_str()),
        (Some("signature"), Some("fail"))
    );
    assert!(
        check["reason"]
            .as_str()
            .unwrap()
            .contains("no signatures found for sha256:4bf12e8b"),
        "{check}"
    );
    assert_eq!(d["cached"], false);
    let first_calls = registry.calls.load(Ordering::SeqCst);

    // By digest, within the (short) failure TTL: answered from the cache, no registry call.
    let by_digest = format!(r#"{{"image":"registry.test/app@{DIGEST}"}}"#);
    let (_, again) = call(&app, "POST", "/v1/decisions", &by_digest).await;
    assert_eq!(again["decision"], "fail");
    assert_eq!(again["cached"], true);
    assert_eq!(again["image"], format!("registry.test/app@{DIGEST}"));
    assert_eq!(registry.calls.load(Ordering::SeqCst), first_calls);

    let (_, metrics) = call(&app, "GET", "/metrics", "").await;
    let metrics = metrics.as_str().unwrap().to_string();
    assert!(
        metrics.contains("shipgate_decisions_total{decision=\"fail\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("shipgate_decision_cache_total{outcome=\"hit\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_tag_that_does_not_resolve_fails_closed() {
    let (app, _) = service();
    let (status, d) = call(
        &app,
        "POST",
        "/v1/decisions",
        r#"{"image":"registry.test/app:missing"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(d["decision"], "fail");
    assert_eq!(d["checks"][0]["check"], "resolve");
    assert_eq!(d["checks"][0]["result"], "error");
    assert!(d.get("digest").is_none());
}
