//! Static tokens, malformed `Authorization` headers, what stays open, and `auth` configuration
//! errors at load.

use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::http::{header, StatusCode};
use serde_json::json;
use shipgate::config::ServeConfig;
use shipgate_test_support::oidc::TestIssuer;

use super::{bearer, fixture, fixture_with, get_text, post_headers, token_hash, STATIC_TOKEN};

#[tokio::test]
async fn static_tokens_and_malformed_headers() {
    let f = fixture();
    f.expect_refused(
        Some(&bearer("sg-pipeline-wrong")),
        StatusCode::UNAUTHORIZED,
        "not a configured static token",
    )
    .await;
    f.expect_refused(
        Some(&bearer(&token_hash(STATIC_TOKEN))),
        StatusCode::UNAUTHORIZED,
        "not a configured static token",
    )
    .await;
    f.expect_refused(
        None,
        StatusCode::UNAUTHORIZED,
        "Authorization: Bearer <token>",
    )
    .await;
    f.expect_refused(
        Some(&format!("Basic {STATIC_TOKEN}")),
        StatusCode::UNAUTHORIZED,
        "must use the Bearer scheme",
    )
    .await;
    f.expect_refused(
        Some("Bearer "),
        StatusCode::UNAUTHORIZED,
        "the bearer token is empty",
    )
    .await;
    let huge = format!("Bearer {}", "a".repeat(20_000));
    f.expect_refused(
        Some(&huge),
        StatusCode::UNAUTHORIZED,
        "larger than 16384 bytes",
    )
    .await;
    let huge_jwt = f
        .issuer
        .token(&json!({"iss": f.issuer.url(), "pad": "x".repeat(20_000)}));
    f.expect_refused(
        Some(&bearer(&huge_jwt)),
        StatusCode::UNAUTHORIZED,
        "larger than 16384 bytes",
    )
    .await;
    // Two headers, even when one holds the right token: which one counts is not guessed.
    for pair in [
        [bearer(STATIC_TOKEN), bearer("sg-other")],
        [bearer("sg-other"), bearer(STATIC_TOKEN)],
    ] {
        let (status, headers, body) = post_headers(&f.app, &[&pair[0], &pair[1]]).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert!(
            body["error"]
                .as_str()
                .unwrap_or_default()
                .contains("exactly one"),
            "{body}"
        );
        assert!(headers.contains_key(header::WWW_AUTHENTICATE));
        assert_eq!(f.registry.calls.load(Ordering::SeqCst), 0);
    }
    assert_eq!(
        f.issuer.jwks_fetches(),
        0,
        "nothing above needed the issuer"
    );

    f.expect_decided(&bearer(STATIC_TOKEN)).await;

    // Refusals are counted; health, readiness and metrics stay open.
    let (status, metrics) = get_text(&f.app, "/metrics").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        metrics.contains("shipgate_refused_callers_total{reason=\"unauthenticated\"} 9"),
        "{metrics}"
    );
    assert!(
        metrics.contains("shipgate_refused_callers_total{reason=\"forbidden\"} 0"),
        "{metrics}"
    );
    assert_eq!(get_text(&f.app, "/healthz").await.0, StatusCode::OK);
    assert_eq!(get_text(&f.app, "/readyz").await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_jwt_is_refused_when_only_static_tokens_are_configured() {
    let issuer = TestIssuer::start();
    let auth = format!(
        "tokens:\n  - name: pipeline\n    sha256: \"{}\"\n",
        token_hash(STATIC_TOKEN)
    );
    let f = fixture_with(issuer, &auth, Duration::from_secs(3600));
    let jwt = f.issuer.token(&f.good_claims());
    f.expect_refused(
        Some(&bearer(&jwt)),
        StatusCode::UNAUTHORIZED,
        "JWTs are not accepted here",
    )
    .await;
    assert_eq!(
        f.issuer.jwks_fetches(),
        0,
        "an unconfigured issuer is never contacted"
    );
    f.expect_decided(&bearer(STATIC_TOKEN)).await;
}

#[test]
fn a_plain_http_issuer_off_loopback_is_refused_at_config_load() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.yaml");
    std::fs::write(
        &path,
        "auth:\n  oidc:\n    - issuer: http://issuer.example.com\n      audience: shipgate\n      claims: {sub: x}\n",
    )
    .unwrap();
    let err = format!("{:#}", ServeConfig::load(&path).unwrap_err());
    assert!(err.contains("auth: oidc[0].issuer"), "{err}");
    assert!(err.contains("only https issuers are accepted"), "{err}");

    std::fs::write(
        &path,
        "auth:\n  tokens:\n    - name: pipeline\n      sha256: nothex\n",
    )
    .unwrap();
    let err = format!("{:#}", ServeConfig::load(&path).unwrap_err());
    assert!(err.contains("64 hex digits"), "{err}");

    std::fs::write(&path, "auth:\n  tokens: []\n  passwords: []\n").unwrap();
    let err = format!("{:#}", ServeConfig::load(&path).unwrap_err());
    assert!(err.contains("unknown field `passwords`"), "{err}");
}
