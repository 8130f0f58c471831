//! OIDC JWTs from the loopback test issuer: what verifies, what is refused (401/403/503), and
//! how the JWKS cache refreshes.

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::json;
use shipgate::auth::{AuthSettings, Authenticator};
use shipgate::config::AuthConfig;
use shipgate_test_support::oidc::{now, Signature, TestIssuer};

use super::{bearer, default_auth, fixture, fixture_with, get_text, post};

#[tokio::test]
async fn a_valid_rs256_token_reaches_the_gate_and_keys_are_fetched_once() {
    let f = fixture();
    assert_eq!(f.issuer.jwks_fetches(), 0, "keys are fetched lazily");
    let token = f.issuer.token(&f.good_claims());
    f.expect_decided(&bearer(&token)).await;
    f.expect_decided(&format!("bearer {token}")).await;
    // A NumericDate may have a fraction (RFC 7519).
    let mut claims = f.good_claims();
    claims["iat"] = json!(now() as f64 - 0.5);
    f.expect_decided(&bearer(&f.issuer.token(&claims))).await;
    assert_eq!(f.issuer.discovery_fetches(), 1);
    assert_eq!(f.issuer.jwks_fetches(), 1, "a cached kid needs no refresh");
}

#[tokio::test]
async fn an_es256_token_verifies_with_an_ec_key_of_the_jwks() {
    let f = fixture();
    let kid = f.issuer.add_ec_key();
    let token = f.issuer.token_with(
        &json!({"alg": "ES256", "typ": "JWT", "kid": kid}),
        &f.good_claims(),
        Signature::Key(kid.clone()),
    );
    f.expect_decided(&bearer(&token)).await;
}

#[tokio::test]
async fn wrong_audience_issuer_and_times_are_401() {
    let f = fixture();
    let mut claims = f.good_claims();
    claims["aud"] = json!("someone-else");
    let wrong_aud = f.issuer.token(&claims);
    f.expect_refused(
        Some(&bearer(&wrong_aud)),
        StatusCode::UNAUTHORIZED,
        "audience (`aud`) is not `shipgate`",
    )
    .await;

    // Another issuer with its own keys, not configured.
    let stranger = TestIssuer::start();
    let foreign = stranger.token(&stranger.github_claims("shipgate", "acme/app"));
    f.expect_refused(
        Some(&bearer(&foreign)),
        StatusCode::UNAUTHORIZED,
        &format!("issuer `{}` is not one this service trusts", stranger.url()),
    )
    .await;
    assert_eq!(
        stranger.jwks_fetches(),
        0,
        "an unconfigured issuer is never contacted"
    );

    let mut claims = f.good_claims();
    claims["exp"] = json!(now() - 3600);
    claims["iat"] = json!(now() - 4000);
    claims["nbf"] = json!(now() - 4000);
    f.expect_refused(
        Some(&bearer(&f.issuer.token(&claims))),
        StatusCode::UNAUTHORIZED,
        "the JWT has expired",
    )
    .await;

    let mut claims = f.good_claims();
    claims["nbf"] = json!(now() + 3600);
    claims["exp"] = json!(now() + 7200);
    f.expect_refused(
        Some(&bearer(&f.issuer.token(&claims))),
        StatusCode::UNAUTHORIZED,
        "not valid yet",
    )
    .await;

    let mut claims = f.good_claims();
    claims["iat"] = json!(now() + 3600);
    f.expect_refused(
        Some(&bearer(&f.issuer.token(&claims))),
        StatusCode::UNAUTHORIZED,
        "`iat` is in the future",
    )
    .await;

    // `iat` must be a number when present: a string would otherwise dodge the check above.
    let mut claims = f.good_claims();
    claims["iat"] = json!((now() + 3600).to_string());
    f.expect_refused(
        Some(&bearer(&f.issuer.token(&claims))),
        StatusCode::UNAUTHORIZED,
        "the JWT's `iat` claim is malformed",
    )
    .await;

    let mut claims = f.good_claims();
    claims.as_object_mut().unwrap().remove("exp");
    f.expect_refused(
        Some(&bearer(&f.issuer.token(&claims))),
        StatusCode::UNAUTHORIZED,
        "the JWT has no `exp` claim",
    )
    .await;
}

#[tokio::test]
async fn an_unknown_kid_refreshes_once_then_the_cool_down_holds() {
    let f = fixture();
    let kid = f.issuer.add_unpublished_key();
    let token = f.issuer.token_with(
        &json!({"alg": "RS256", "kid": kid}),
        &f.good_claims(),
        Signature::Key(kid.clone()),
    );
    for _ in 0..3 {
        f.expect_refused(
            Some(&bearer(&token)),
            StatusCode::UNAUTHORIZED,
            &format!("key id `{kid}` is not in the JWKS of {}", f.issuer.url()),
        )
        .await;
    }
    assert_eq!(f.issuer.jwks_fetches(), 1, "one refresh per cool-down");

    // A rotation within the cool-down is not seen either: no second fetch.
    let new_kid = f.issuer.rotate();
    let rotated = f.issuer.token(&f.good_claims());
    f.expect_refused(
        Some(&bearer(&rotated)),
        StatusCode::UNAUTHORIZED,
        &format!("key id `{new_kid}` is not in the JWKS"),
    )
    .await;
    assert_eq!(f.issuer.jwks_fetches(), 1);
}

#[tokio::test]
async fn a_rotated_key_is_picked_up_after_the_cool_down() {
    let issuer = TestIssuer::start();
    let auth = default_auth(&issuer);
    let f = fixture_with(issuer, &auth, Duration::ZERO);
    let old = f.issuer.token(&f.good_claims());
    f.expect_decided(&bearer(&old)).await;
    assert_eq!(f.issuer.jwks_fetches(), 1);

    f.issuer.rotate();
    let new = f.issuer.token(&f.good_claims());
    f.expect_decided(&bearer(&new)).await;
    assert_eq!(
        f.issuer.jwks_fetches(),
        2,
        "the unknown kid refreshed the JWKS"
    );
    f.expect_decided(&bearer(&new)).await;
    assert_eq!(f.issuer.jwks_fetches(), 2);

    // The old key left the JWKS with the rotation: its tokens no longer verify.
    let (status, _, body) = post(&f.app, Some(&bearer(&old))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(body["error"]
        .as_str()
        .unwrap()
        .contains("key id `key-1` is not in the JWKS"));
}

/// Even with no cool-down, requests that wait on the same refresh share its result.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_unknown_kids_coalesce_into_one_refresh() {
    let issuer = TestIssuer::start();
    let auth = default_auth(&issuer);
    let f = fixture_with(issuer, &auth, Duration::ZERO);
    let token = bearer(&f.issuer.token(&f.good_claims()));
    let requests = (0..16).map(|_| post(&f.app, Some(&token)));
    for (status, _, body) in futures::future::join_all(requests).await {
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    assert_eq!(f.issuer.jwks_fetches(), 1);
}

#[tokio::test]
async fn unsigned_hmac_mismatched_and_tampered_tokens_are_401() {
    let f = fixture();
    let kid = f.issuer.current_kid();
    let claims = f.good_claims();

    let none = f.issuer.token_with(
        &json!({"alg": "none", "kid": kid}),
        &claims,
        Signature::Unsigned,
    );
    f.expect_refused(
        Some(&bearer(&none)),
        StatusCode::UNAUTHORIZED,
        "`alg: none`",
    )
    .await;

    // The classic key confusion: HMAC with the issuer's public key as the secret.
    let hs = f.issuer.token_with(
        &json!({"alg": "HS256", "kid": kid}),
        &claims,
        Signature::HmacSha256(f.issuer.public_key_der()),
    );
    f.expect_refused(
        Some(&bearer(&hs)),
        StatusCode::UNAUTHORIZED,
        "alg `HS256` is refused",
    )
    .await;

    // The key says RS256; a header claiming PS256 is not believed.
    let ps = f.issuer.token_with(
        &json!({"alg": "PS256", "kid": kid}),
        &claims,
        Signature::Key(kid.clone()),
    );
    f.expect_refused(
        Some(&bearer(&ps)),
        StatusCode::UNAUTHORIZED,
        &format!("alg PS256 does not match key `{kid}`"),
    )
    .await;

    // A valid signature over other claims: swap in a payload naming another owner.
    let genuine = f.issuer.token(&claims);
    let mut evil = claims.clone();
    evil["repository_owner"] = json!("evil");
    let forged_payload = f.issuer.token(&evil);
    let parts: Vec<&str> = genuine.split('.').collect();
    let forged: Vec<&str> = forged_payload.split('.').collect();
    let tampered = format!("{}.{}.{}", parts[0], forged[1], parts[2]);
    f.expect_refused(
        Some(&bearer(&tampered)),
        StatusCode::UNAUTHORIZED,
        &format!("signature does not verify with key `{kid}`"),
    )
    .await;

    let with_crit = f.issuer.token_with(
        &json!({"alg": "RS256", "kid": kid, "crit": ["exp"]}),
        &claims,
        Signature::Key(kid.clone()),
    );
    f.expect_refused(
        Some(&bearer(&with_crit)),
        StatusCode::UNAUTHORIZED,
        "`crit`",
    )
    .await;

    let no_kid = f.issuer.token_with(
        &json!({"alg": "RS256", "typ": "JWT"}),
        &claims,
        Signature::Key(kid.clone()),
    );
    f.expect_refused(
        Some(&bearer(&no_kid)),
        StatusCode::UNAUTHORIZED,
        "the JWT header has no `kid`",
    )
    .await;

    f.expect_refused(
        Some("Bearer not.a.jwt"),
        StatusCode::UNAUTHORIZED,
        "the JWT header is malformed",
    )
    .await;
}

#[tokio::test]
async fn claims_outside_the_rules_are_403() {
    let f = fixture();
    let mut claims = f.good_claims();
    claims["repository_owner"] = json!("evil");
    f.expect_refused(
        Some(&bearer(&f.issuer.token(&claims))),
        StatusCode::FORBIDDEN,
        "claim `repository_owner` is `evil`, not `acme`",
    )
    .await;

    let mut claims = f.good_claims();
    claims["ref"] = json!("refs/heads/dev");
    f.expect_refused(
        Some(&bearer(&f.issuer.token(&claims))),
        StatusCode::FORBIDDEN,
        "claim `ref` is `refs/heads/dev`, not one of `refs/heads/main`, `refs/tags/v1`",
    )
    .await;

    let mut claims = f.good_claims();
    claims.as_object_mut().unwrap().remove("environment");
    f.expect_refused(
        Some(&bearer(&f.issuer.token(&claims))),
        StatusCode::FORBIDDEN,
        "the token has no `environment` claim",
    )
    .await;

    // A numeric id in the token compares by its string form with the configured 4200.
    let mut claims = f.good_claims();
    claims["repository_owner_id"] = json!(4200);
    f.expect_decided(&bearer(&f.issuer.token(&claims))).await;
    claims["repository_owner_id"] = json!(4201);
    let (status, _, body) = post(&f.app, Some(&bearer(&f.issuer.token(&claims)))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");

    let (_, metrics) = get_text(&f.app, "/metrics").await;
    assert!(
        metrics.contains("shipgate_refused_callers_total{reason=\"forbidden\"} 4"),
        "{metrics}"
    );
    assert!(
        metrics.contains("shipgate_refused_callers_total{reason=\"unauthenticated\"} 0"),
        "{metrics}"
    );
}

#[tokio::test]
async fn any_entry_of_the_same_issuer_may_accept() {
    let issuer = TestIssuer::start();
    let auth = format!(
        r#"
oidc:
  - issuer: {url}
    audience: shipgate
    claims: {{repository: acme/app, environment: production}}
  - issuer: {url}
    audience: shipgate-staging
    claims: {{repository: acme/tools}}
"#,
        url = issuer.url()
    );
    let f = fixture_with(issuer, &auth, Duration::from_secs(3600));
    let tools = f.issuer.github_claims("shipgate-staging", "acme/tools");
    f.expect_decided(&bearer(&f.issuer.token(&tools))).await;
    let mut app_staging = f.issuer.github_claims("shipgate-staging", "acme/app");
    app_staging["environment"] = json!("production");
    let (status, _, body) = post(&f.app, Some(&bearer(&f.issuer.token(&app_staging)))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body["error"]
        .as_str()
        .unwrap()
        .contains("claim `repository` is `acme/app`, not `acme/tools`"));
}

#[tokio::test]
async fn unreachable_keys_are_503_and_never_a_pass() {
    let f = fixture();
    f.issuer.set_jwks_status(Some(500));
    let token = f.issuer.token(&f.good_claims());
    f.expect_refused(
        Some(&bearer(&token)),
        StatusCode::SERVICE_UNAVAILABLE,
        "keys of",
    )
    .await;
    // Within the cool-down the failure is remembered rather than retried.
    f.expect_refused(
        Some(&bearer(&token)),
        StatusCode::SERVICE_UNAVAILABLE,
        "HTTP 500",
    )
    .await;
    assert_eq!(f.issuer.jwks_fetches(), 1);
    let (_, metrics) = get_text(&f.app, "/metrics").await;
    assert!(
        metrics.contains("shipgate_refused_callers_total{reason=\"keys_unavailable\"} 2"),
        "{metrics}"
    );
}

/// The default rules with `jwksMaxAge` set.
fn auth_with_max_age(issuer: &TestIssuer, age: &str) -> String {
    default_auth(issuer).replace(
        "    audience: shipgate\n",
        &format!("    audience: shipgate\n    jwksMaxAge: {age}\n"),
    )
}

/// A key the issuer withdrew stops verifying within `jwksMaxAge`, though no token with an
/// unknown `kid` arrives: the background refresh replaced the set without any request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_withdrawn_key_stops_verifying_within_the_maximum_age() {
    let issuer = TestIssuer::start();
    let auth = auth_with_max_age(&issuer, "1s");
    let f = fixture_with(issuer, &auth, Duration::ZERO);
    let old = f.issuer.token(&f.good_claims());
    f.expect_decided(&bearer(&old)).await;
    assert_eq!(f.issuer.jwks_fetches(), 1);

    f.issuer.rotate();
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert!(
        f.issuer.jwks_fetches() >= 2,
        "the background task refreshed the JWKS before it expired"
    );
    let (status, _, body) = post(&f.app, Some(&bearer(&old))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(body["error"]
        .as_str()
        .unwrap()
        .contains("key id `key-1` is not in the JWKS"));
    let fetches = f.issuer.jwks_fetches();
    let new = f.issuer.token(&f.good_claims());
    f.expect_decided(&bearer(&new)).await;
    assert_eq!(
        f.issuer.jwks_fetches(),
        fetches,
        "the new key was already there: no request waited for a refresh"
    );
}

/// An unreachable issuer: the cached keys serve until they expire, then tokens are refused
/// with 503, never verified with keys older than the maximum age.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_keys_are_never_used_when_the_issuer_is_unreachable() {
    let issuer = TestIssuer::start();
    let auth = auth_with_max_age(&issuer, "2s");
    let f = fixture_with(issuer, &auth, Duration::from_secs(3600));
    let token = f.issuer.token(&f.good_claims());
    f.expect_decided(&bearer(&token)).await;
    f.issuer.set_jwks_status(Some(500));
    // Past half the age the background refresh fails; the set is still within its age.
    tokio::time::sleep(Duration::from_millis(1300)).await;
    f.expect_decided(&bearer(&token)).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let before = f.registry.calls.load(std::sync::atomic::Ordering::SeqCst);
    let (status, _, body) = post(&f.app, Some(&bearer(&token))).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("keys of"),
        "{body}"
    );
    assert_eq!(
        f.registry.calls.load(std::sync::atomic::Ordering::SeqCst),
        before,
        "a refused request reached the gate"
    );
}

#[test]
fn jwks_max_age_is_validated() {
    let issuer = TestIssuer::start();
    for (age, why) in [
        ("0s", "between 1s and 24h"),
        ("48h", "between 1s and 24h"),
        ("soon", ""),
    ] {
        let auth: AuthConfig = serde_yaml::from_str(&auth_with_max_age(&issuer, age)).unwrap();
        let err = match Authenticator::new(&auth, &AuthSettings::default()) {
            Ok(_) => panic!("{age} accepted"),
            Err(e) => e.to_string(),
        };
        assert!(
            err.contains("oidc[0].jwksMaxAge") && err.contains(why),
            "{age}: {err}"
        );
    }
}
