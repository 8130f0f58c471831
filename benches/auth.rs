//! Criterion benchmarks of caller authentication on `POST /v1/decisions`, beside its floor:
//! - `auth/jwt-rs256`: a GitHub-shaped RS256 JWT through `Authenticator::authenticate` (header
//!   parse, issuer and key by kid from the warm cache, signature, `exp`/`nbf`/`aud`/`iss`, claim
//!   rules), with the issuer's RSA-2048 key served by the tests' loopback `TestIssuer`;
//! - `auth/floor-rsa2048-pkcs1-sha256-verify`: aws-lc-rs verifying the same token's signature alone,
//!   the one check a JWT cannot avoid;
//! - `auth/static-token`: a static bearer token (SHA-256 and a constant-time comparison).
//!
//! Run: `cargo bench --bench auth`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use std::time::Duration;

use axum::http::{header, HeaderMap, HeaderValue};
use base64::Engine as _;
use criterion::{black_box, criterion_group, criterion_main, Criterion};

use shipgate::auth::{AuthSettings, Authenticator};
use shipgate::config::AuthConfig;
use shipgate_test_support::oidc::TestIssuer;

const STATIC: &str = "sg-bench-static-token-0123456789";

fn bench(c: &mut Criterion) {
    let issuer = TestIssuer::start();
    let config: AuthConfig = serde_yaml::from_str(&format!(
        "oidc:\n  - issuer: {}\n    audience: shipgate\n    claims: {{repository_owner: acme, ref: refs/heads/main}}\ntokens:\n  - name: bench\n    sha256: \"{}\"\n",
        issuer.url(),
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(STATIC.as_bytes()))
    ))
    .unwrap();
    let auth = Authenticator::new(&config, &AuthSettings::default()).unwrap();
    let mut claims = issuer.github_claims("shipgate", "acme/app");
    claims["exp"] = serde_json::json!(shipgate_test_support::oidc::now() + 3600);
    let jwt = issuer.token(&claims);
    let headers = |token: &str| {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
        );
        h
    };
    let (jwt_headers, static_headers) = (headers(&jwt), headers(STATIC));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // Warm the key cache (the one discovery + JWKS fetch) outside the measurement.
    rt.block_on(auth.authenticate(&jwt_headers)).unwrap();

    let (signing_input, signature) = jwt.rsplit_once('.').unwrap();
    let signature = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(signature)
        .unwrap();
    let public = aws_lc_rs::signature::UnparsedPublicKey::new(
        &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
        issuer.public_key_der(),
    );

    let mut g = c.benchmark_group("auth");
    g.measurement_time(Duration::from_secs(5));
    g.bench_function("jwt-rs256", |b| {
        b.iter(|| {
            rt.block_on(auth.authenticate(black_box(&jwt_headers)))
                .unwrap()
        })
    });
    g.bench_function("floor-rsa2048-pkcs1-sha256-verify", |b| {
        b.iter(|| {
            public
                .verify(black_box(signing_input.as_bytes()), black_box(&signature))
                .unwrap()
        })
    });
    g.bench_function("static-token", |b| {
        b.iter(|| {
            rt.block_on(auth.authenticate(black_box(&static_headers)))
                .unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
