//! AWS Signer `GetRevocationStatus` through the real SDK client (`AwsSignerRevocation`, as the
//! gate builds it), pointed at a loopback stub by endpoint URL. No local implementation of AWS
//! Signer exists (moto has none), so the stub is what can answer here; it checks the exact wire
//! request the SDK sends (method, path, every query parameter, a SigV4 `Authorization` for the
//! `signer` service in the profile's region), so a change of SDK or of what is asked shows.

use std::time::Duration;

use axum::http::{Method, StatusCode};

use crate::common::signer_stub::{sdk_hook as hook, serve as stub, Seen};
use shipgate::evidence::aws_signer::{AwsSignerRevocation, SignerRevocation};
use shipgate::verify::notation::AwsSignerRevocationQuery;
use shipgate_core::evidence::notation::RevocationCheck;

const PROFILE_VERSION: &str =
    "arn:aws:signer:us-west-2:123456789012:/signing-profiles/release/abcdef1234";
const JOB: &str =
    "arn:aws:signer:us-west-2:123456789012:/signing-jobs/0a1b2c3d-0000-4000-8000-000000000000";

fn query() -> AwsSignerRevocationQuery {
    AwsSignerRevocationQuery {
        profile_version_arn: PROFILE_VERSION.into(),
        job_arn: JOB.into(),
        platform_id: "Notation-OCI-SHA384-ECDSA".into(),
        // 2026-01-01T00:00:00Z
        signature_timestamp: 1_767_225_600,
        certificate_hashes: vec!["aa".repeat(48), "bb".repeat(48)],
    }
}

async fn ask(
    status: StatusCode,
    body: &'static str,
    delay: Duration,
) -> (RevocationCheck, Vec<Seen>, String) {
    let (url, seen) = stub(status, body, delay).await;
    let port = AwsSignerRevocation::with_loader_hook(hook(&url));
    let answer = port.status(&query()).await;
    let seen = seen.lock().unwrap().clone();
    (answer, seen, url)
}

#[tokio::test]
async fn the_sdk_sends_the_documented_request_and_nothing_revoked_is_good() {
    let (answer, seen, url) =
        ask(StatusCode::OK, r#"{"revokedEntities":[]}"#, Duration::ZERO).await;
    assert_eq!(answer, RevocationCheck::Good);
    let [request] = seen.as_slice() else {
        panic!("one request expected: {seen:?}")
    };
    assert_eq!(request.method, Method::GET);
    assert_eq!(request.path, "/revocations");
    // The API's host prefix: AWS Signer answers this on `data-signer.REGION.amazonaws.com`.
    let authority = url.trim_start_matches("http://");
    assert_eq!(
        request.host.as_deref(),
        Some(format!("data-{authority}").as_str())
    );
    let q = |k: &str| -> Vec<&str> {
        request
            .query
            .iter()
            .filter(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
            .collect()
    };
    assert_eq!(q("signatureTimestamp"), ["2026-01-01T00:00:00Z"]);
    assert_eq!(q("platformId"), ["Notation-OCI-SHA384-ECDSA"]);
    assert_eq!(q("profileVersionArn"), [PROFILE_VERSION]);
    assert_eq!(q("jobArn"), [JOB]);
    assert_eq!(q("certificateHashes"), ["aa".repeat(48), "bb".repeat(48)]);
    assert_eq!(request.query.len(), 6, "{:?}", request.query);
    let auth = request.authorization.as_deref().unwrap_or_default();
    assert!(
        auth.starts_with("AWS4-HMAC-SHA256 Credential=test/")
            && auth.contains("/us-west-2/signer/aws4_request"),
        "{auth}"
    );
}

#[tokio::test]
async fn revoked_entities_make_it_revoked() {
    let (answer, _, _) = ask(
        StatusCode::OK,
        r#"{"revokedEntities":["arn:aws:signer:us-west-2:123456789012:/signing-jobs/0a1b2c3d-0000-4000-8000-000000000000"]}"#,
        Duration::ZERO,
    )
    .await;
    let RevocationCheck::Revoked(what) = answer else {
        panic!("revoked expected: {answer:?}")
    };
    assert!(what.contains(JOB), "{what}");
}

#[tokio::test]
async fn a_server_error_is_unknown_and_says_why() {
    let (answer, seen, _) = ask(
        StatusCode::INTERNAL_SERVER_ERROR,
        r#"{"message":"boom"}"#,
        Duration::ZERO,
    )
    .await;
    let RevocationCheck::Unknown(why) = answer else {
        panic!("unknown expected: {answer:?}")
    };
    assert!(
        why.contains("HTTP 500")
            && why.contains("InternalServiceErrorException")
            && why.contains("boom"),
        "{why}"
    );
    assert_eq!(seen.len(), 1, "one bounded call, no retries");
    assert!(!why.contains("test"), "no credentials in reasons: {why}");
}

#[tokio::test]
async fn a_silent_service_is_unknown_within_the_timeout() {
    let started = std::time::Instant::now();
    let (answer, _, _) = ask(
        StatusCode::OK,
        r#"{"revokedEntities":[]}"#,
        Duration::from_secs(30),
    )
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    assert!(matches!(answer, RevocationCheck::Unknown(_)), "{answer:?}");
}

#[tokio::test]
async fn an_arn_without_a_region_is_unknown_without_a_call() {
    let (url, seen) = stub(StatusCode::OK, r#"{"revokedEntities":[]}"#, Duration::ZERO).await;
    let port = AwsSignerRevocation::with_loader_hook(hook(&url));
    let mut q = query();
    q.profile_version_arn = "arn:aws:signer::123456789012:/signing-profiles/x/y".into();
    let answer = port.status(&q).await;
    assert!(matches!(answer, RevocationCheck::Unknown(_)), "{answer:?}");
    assert!(seen.lock().unwrap().is_empty());
}
