//! The `ecrSigning` rule: Amazon ECR managed signing status (`DescribeImageSigningStatus`),
//! through the real `shipgate check` binary and the real AWS SDK.
//!
//! moto (5.2.5) has no ECR managed signing, so ECR is the loopback stub of the ECR JSON
//! protocol (`common::ecr_stub`), which checks the wire request the SDK sends (its
//! `X-Amz-Target` and JSON body) and answers as the API reference documents.

use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::common::aws::runtime;

const ACCOUNT: &str = "123456789012";
const HOST: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
const DIGEST: &str = "sha256:5555555555555555555555555555555555555555555555555555555555555555";
const PROFILE: &str = "arn:aws:signer:us-east-1:123456789012:/signing-profiles/release";

type Calls = Arc<Mutex<Vec<(String, Value)>>>;

/// A stub ECR that answers `DescribeImageSigningStatus` with `answer`, recording each request.
async fn stub(answer: (StatusCode, Value)) -> (String, Calls) {
    let calls: Calls = Arc::default();
    let seen = calls.clone();
    let url = crate::common::ecr_stub::serve(move |operation, request| {
        seen.lock()
            .unwrap()
            .push((operation.to_string(), request.clone()));
        if operation == "DescribeImageSigningStatus" {
            answer.clone()
        } else {
            (
                StatusCode::BAD_REQUEST,
                json!({"__type": "UnknownOperationException", "message": operation}),
            )
        }
    })
    .await;
    (url, calls)
}

fn statuses(list: Value) -> (StatusCode, Value) {
    (
        StatusCode::OK,
        json!({"repositoryName": "team/app", "registryId": ACCOUNT,
               "imageId": {"imageDigest": DIGEST}, "signingStatuses": list}),
    )
}

/// Runs `shipgate check IMAGE --policy POLICY --output json` against ECR at `endpoint`:
/// `(exit code, decision JSON)`.
fn check(endpoint: &str, image: &str, policy_yaml: &str) -> (i32, Value) {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("signing.yaml");
    std::fs::write(&policy, policy_yaml).unwrap();
    let policy = policy.to_str().unwrap();
    let out = crate::common::aws::shipgate_with_aws(
        endpoint,
        &["check", image, "--output", "json", "--policy", policy],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let d: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{e}: {stdout}\n{}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code().unwrap_or(-1), d)
}

fn policy(rule: &str) -> String {
    format!("name: ecr-signed\nimages: [\"*.dkr.ecr.*.amazonaws.com/**\", \"ghcr.io/**\"]\necrSigning:\n{rule}")
}

fn signing_check(d: &Value) -> &Value {
    d["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "ecr-signing")
        .unwrap_or_else(|| panic!("no ecr-signing check in {d}"))
}

/// `(name, ECR's answer, the rule's YAML, exit code, check code, words the reason must hold)`.
type Case = (
    &'static str,
    (StatusCode, Value),
    String,
    i32,
    &'static str,
    &'static [&'static str],
);

#[test]
fn each_status_is_reported_and_judged_through_the_real_binary() {
    let image = format!("{HOST}/team/app@{DIGEST}");
    let failed = json!([{"signingProfileArn": PROFILE, "status": "FAILED",
        "failureCode": "SIGNING_PROFILE_REVOKED", "failureReason": "the profile was revoked"}]);
    let any = "  {}\n".to_string();
    let cases: Vec<Case> = vec![
        (
            "complete",
            statuses(json!([{"signingProfileArn": PROFILE, "status": "COMPLETE"}])),
            "  status: COMPLETE\n".into(),
            0,
            "ecr-signing-complete",
            &[PROFILE],
        ),
        (
            "failed",
            statuses(failed),
            any.clone(),
            1,
            "ecr-signing-failed",
            &["SIGNING_PROFILE_REVOKED", "the profile was revoked"],
        ),
        (
            "in progress",
            statuses(json!([{"signingProfileArn": PROFILE, "status": "IN_PROGRESS"}])),
            any.clone(),
            1,
            "ecr-signing-pending",
            &["still signing"],
        ),
        (
            "none",
            statuses(json!([])),
            any.clone(),
            1,
            "ecr-signing-missing",
            &["no signing status"],
        ),
        (
            "another profile",
            statuses(
                json!([{"signingProfileArn": format!("{PROFILE}-other"), "status": "COMPLETE"}]),
            ),
            format!("  signingProfileArn: {PROFILE}\n"),
            1,
            "ecr-signing-missing",
            &["release-other"],
        ),
        (
            "access denied",
            (
                StatusCode::BAD_REQUEST,
                json!({"__type": "AccessDeniedException",
            "message": "User is not authorized to perform: ecr:DescribeImageSigningStatus"}),
            ),
            any.clone(),
            1,
            "ecr-signing-unavailable",
            &["ecr:DescribeImageSigningStatus"],
        ),
    ];
    let rt = runtime();
    for (name, answer, rule, exit, code, needles) in cases {
        let (endpoint, calls) = rt.block_on(stub(answer));
        let (status, d) = check(&endpoint, &image, &policy(&rule));
        let c = signing_check(&d);
        assert_eq!(status, exit, "{name}: {d}");
        assert_eq!(c["code"], code, "{name}: {c}");
        for n in needles {
            assert!(
                c["reason"].as_str().unwrap().contains(n),
                "{name}: reason lacks {n:?}: {c}"
            );
        }
        // The exact wire request: one call (an AccessDenied is not retried), for this image.
        let calls = calls.lock().unwrap();
        assert_eq!(calls.len(), 1, "{name}: {calls:?}");
        assert_eq!(calls[0].0, "DescribeImageSigningStatus");
        assert_eq!(
            calls[0].1,
            json!({"registryId": ACCOUNT, "repositoryName": "team/app",
                   "imageId": {"imageDigest": DIGEST}}),
            "{name}"
        );
        if code == "ecr-signing-complete" {
            assert_eq!(c["evidence"]["statuses"][0]["status"], "COMPLETE");
            assert_eq!(d["decision"], "pass");
        } else {
            assert_eq!(d["decision"], "fail", "{name}");
        }
    }
}

#[test]
fn a_throttled_call_is_retried_and_a_non_ecr_image_is_never_asked() {
    let rt = runtime();
    // Throttled every time: three attempts, then an error naming the throttling, not a pass.
    let (endpoint, calls) = rt.block_on(stub((
        StatusCode::BAD_REQUEST,
        json!({"__type": "ThrottlingException", "message": "Rate exceeded"}),
    )));
    let (status, d) = check(
        &endpoint,
        &format!("{HOST}/team/app@{DIGEST}"),
        &policy("  {}\n"),
    );
    let c = signing_check(&d);
    assert_eq!((status, c["result"].as_str()), (1, Some("error")), "{d}");
    assert_eq!(c["code"], "ecr-signing-unavailable");
    assert!(
        calls.lock().unwrap().len() >= 2,
        "a throttled call is retried"
    );

    let (endpoint, calls) = rt.block_on(stub(statuses(json!([]))));
    let (status, d) = check(
        &endpoint,
        &format!("ghcr.io/acme/app@{DIGEST}"),
        &policy("  {}\n"),
    );
    let c = signing_check(&d);
    assert_eq!(
        (status, c["code"].as_str()),
        (1, Some("ecr-signing-not-ecr")),
        "{d}"
    );
    assert!(calls.lock().unwrap().is_empty());
}

#[test]
fn ecr_signing_rules_validate() {
    let parse = |rule: &str| {
        shipgate::policy::Policy::from_yaml(&policy(rule), Path::new("p.yaml")).map(|_| ())
    };
    assert!(parse("  status: COMPLETE\n").is_ok());
    assert!(parse(&format!("  signingProfileArn: {PROFILE}\n")).is_ok());
    let err = parse("  status: IN_PROGRESS\n").unwrap_err().to_string();
    assert!(
        err.contains("ecrSigning.status") && err.contains("COMPLETE"),
        "{err}"
    );
    let err = parse("  signingProfileArn: release\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("ecrSigning.signingProfileArn"), "{err}");
    let err = parse("  stauts: COMPLETE\n").unwrap_err().to_string();
    assert!(err.contains("stauts"), "{err}");
}
