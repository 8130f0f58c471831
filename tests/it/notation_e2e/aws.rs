//! AWS Signer signatures in process: an envelope shaped as AWS Signer's Notation plugin makes it
//! (`notary.x509.signingAuthority`, the plugin named critically, the signing-profile-version and
//! signing-job attributes critical), chained to a test root given to the `awsSigner` authority by
//! `rootsRef`, judged by a gate whose `GetRevocationStatus` is the real SDK client pointed at a
//! loopback stub. (The binary cannot be used: the SDK asks for the `data-` host prefix, which
//! only the test's resolver maps to loopback.)

use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use shipgate::decision::{CheckCode, CheckResult, Decision};
use shipgate::evidence::aws_signer::AwsSignerRevocation;
use shipgate::evidence::ecr_findings::AwsScanFindings;
use shipgate::gate::{DecisionRequest, Gate, GateSettings};
use shipgate::policy::{Policy, PolicySet};
use shipgate::verify::{TrustRoot, Verifier};

use crate::common::notary_signer::{
    attach_signature, EnvelopeFormat, KeyKind, LeafOptions, NotarySigner, Pki, Scheme,
};
use crate::common::notation::registry_client;
use crate::common::oci::push_image;
use crate::common::registry::TestRegistry;
use crate::common::signer_stub::{self, sdk_hook as hook, Seen};

const PROFILE: &str = "arn:aws:signer:us-east-1:123456789012:/signing-profiles/release";
const PROFILE_VERSION: &str =
    "arn:aws:signer:us-east-1:123456789012:/signing-profiles/release/abcdef1234";
const JOB: &str = "arn:aws:signer:us-east-1:123456789012:/signing-jobs/1234";
const OTHER_PROFILE: &str = "arn:aws:signer:us-east-1:123456789012:/signing-profiles/other";
type Query = Vec<(String, String)>;

const NOT_REVOKED: &str = r#"{"revokedEntities":[]}"#;
const REVOKED_JOB: &str =
    r#"{"revokedEntities":["arn:aws:signer:us-east-1:123456789012:/signing-jobs/1234"]}"#;

/// A `GetRevocationStatus` stub answering every request with `status` and `body` at once;
/// returns its URL and what it was sent.
async fn stub(status: StatusCode, body: &'static str) -> (String, Arc<Mutex<Vec<Seen>>>) {
    signer_stub::serve(status, body, std::time::Duration::ZERO).await
}

/// Signs as AWS Signer does, with a P-384 leaf under an intermediate.
fn aws_signer(pki: &Pki, format: EnvelopeFormat) -> NotarySigner {
    pki.signer()
        .format(format)
        .scheme(Scheme::SigningAuthority)
        .attribute(
            "io.cncf.notary.verificationPlugin",
            "com.amazonaws.signer.notation.plugin",
            true,
        )
        .attribute(
            "com.amazonaws.signer.signingProfileVersion",
            PROFILE_VERSION,
            true,
        )
        .attribute("com.amazonaws.signer.signingJob", JOB, true)
}

struct Row {
    name: &'static str,
    format: EnvelopeFormat,
    /// The stub's answer.
    status: StatusCode,
    body: &'static str,
    /// The policy's `profileArn`.
    profile: &'static str,
    result: CheckResult,
    code: CheckCode,
    needles: &'static [&'static str],
}

#[allow(clippy::too_many_arguments)]
fn row(
    name: &'static str,
    format: EnvelopeFormat,
    status: StatusCode,
    body: &'static str,
    result: CheckResult,
    code: CheckCode,
    needles: &'static [&'static str],
) -> Row {
    Row {
        name,
        format,
        status,
        body,
        profile: PROFILE,
        result,
        code,
        needles,
    }
}

fn rows() -> Vec<Row> {
    use CheckCode::*;
    use CheckResult::{Fail, Pass};
    let ok = StatusCode::OK;
    let mut rows = Vec::new();
    for f in [EnvelopeFormat::Jws, EnvelopeFormat::Cose] {
        let verified = SignatureVerified;
        rows.push(row(
            "not-revoked",
            f,
            ok,
            NOT_REVOKED,
            Pass,
            verified,
            &[PROFILE],
        ));
        let revoked: &[&str] = &["revocation failed", "revoked: ", JOB];
        rows.push(row(
            "revoked",
            f,
            ok,
            REVOKED_JOB,
            Fail,
            SignatureUnverified,
            revoked,
        ));
        let other: &[&str] = &["authenticity failed", PROFILE_VERSION, "matches none"];
        let mismatch = SignatureIdentityMismatch;
        rows.push(Row {
            profile: OTHER_PROFILE,
            ..row("other-profile", f, ok, NOT_REVOKED, Fail, mismatch, other)
        });
    }
    rows
}

/// A gate with one `awsSigner` policy (roots from `rootsRef`) and revocation through the SDK at
/// `endpoint`.
fn gate(dir: &std::path::Path, host: &str, pki: &Pki, profile: &str, endpoint: &str) -> Gate {
    std::fs::write(dir.join("roots.pem"), pki.root.cert.pem()).unwrap();
    let path = dir.join("policy.yaml");
    std::fs::write(
        &path,
        format!(
            "name: aws-e2e\nimages: [\"{host}/**\"]\nsignatures:\n  authorities:\n    - name: aws\n      awsSigner:\n        profileArn: {profile}\n        rootsRef: roots.pem\n"
        ),
    )
    .unwrap();
    let policy = Policy::load(&path).unwrap_or_else(|e| panic!("{e}"));
    Gate::with_signer_revocation(
        PolicySet::new(vec![policy]).unwrap(),
        Arc::new(registry_client(host)),
        Arc::new(AwsScanFindings::new()),
        Arc::new(AwsSignerRevocation::with_loader_hook(hook(endpoint))),
        Arc::new(Verifier::new(Arc::new(TrustRoot::public_good().unwrap()))),
        GateSettings {
            cache_pass_ttl: std::time::Duration::ZERO,
            cache_fail_ttl: std::time::Duration::ZERO,
            ..GateSettings::default()
        },
    )
}

/// What of `d` differs from `row`.
fn problems(row: &Row, d: &Decision, asked: &[Query]) -> Vec<String> {
    let mut out = Vec::new();
    let Some(check) = d.checks.iter().find(|c| c.check == "signature") else {
        return vec!["no signature check".into()];
    };
    if (check.result, check.code) != (row.result, row.code) {
        out.push(format!("{:?} / {:?}", check.result, check.code));
    }
    if d.passed() != (row.result == CheckResult::Pass) {
        out.push(format!("decision passed: {}", d.passed()));
    }
    for n in row.needles {
        if !check.reason.contains(n) {
            out.push(format!("reason lacks {n:?}"));
        }
    }
    if row.result == CheckResult::Pass && check.evidence["verified"][0]["signer"] != PROFILE {
        out.push(format!(
            "signer {}",
            check.evidence["verified"][0]["signer"]
        ));
    }
    // AWS Signer was asked once, about this signature's profile version and job.
    let has = |q: &Query, k: &str, v: &str| q.iter().any(|(qk, qv)| qk == k && qv == v);
    let about = |q: &Query| has(q, "profileVersionArn", PROFILE_VERSION) && has(q, "jobArn", JOB);
    if asked.len() != 1 || !asked.iter().all(about) {
        out.push(format!("GetRevocationStatus requests: {asked:?}"));
    }
    out
}

/// Signs and attaches each row's envelope to a fresh image in one registry and judges it with a
/// fresh gate and stub; returns what did not come out as expected.
async fn judge_rows(rows: Vec<Row>) -> Vec<String> {
    let reg = TestRegistry::start();
    let leaf = LeafOptions {
        key: KeyKind::EcP384,
        ..LeafOptions::default()
    };
    let pki = Pki::new(&leaf, true);
    let dir = tempfile::tempdir().unwrap();
    let mut wrong = Vec::new();
    for row in rows {
        let repo = format!("aws-e2e/{:?}-{}", row.format, row.name).to_lowercase();
        let img = push_image(&reg.url(), &repo, "v1");
        let signer = aws_signer(&pki, row.format);
        let (envelope, media_type) = signer.sign(&img.descriptor);
        let chain = &signer.chain;
        attach_signature(
            &reg.url(),
            &repo,
            &img.descriptor,
            &envelope,
            media_type,
            chain,
        );
        let (url, seen) = stub(row.status, row.body).await;
        let policy_dir = dir.path().join(&repo);
        std::fs::create_dir_all(&policy_dir).unwrap();
        let gate = gate(&policy_dir, &reg.host, &pki, row.profile, &url);
        let image = format!("{}/{repo}@{}", reg.host, img.digest);
        let request = DecisionRequest {
            image,
            policy: None,
        };
        let d = gate.decide(&request).await.unwrap();
        let asked: Vec<Query> = seen
            .lock()
            .unwrap()
            .iter()
            .map(|s| s.query.clone())
            .collect();
        let p = problems(&row, &d, &asked);
        if !p.is_empty() {
            let (f, name, text) = (row.format, row.name, d.to_text());
            wrong.push(format!("{f:?} {name}: {}\n{text}", p.join("; ")));
        }
    }
    wrong
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_signer_signatures_are_judged_with_revocation_from_the_sdk() {
    let wrong = judge_rows(rows()).await;
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// AWS Signer not answering (HTTP 500) is no verdict on the signature: `error`, as
/// docs/notation.md says ("a call that fails or times out is `error` at `enforce`") and as the
/// signature check treats every other lookup that failed (`evidence-unavailable`), not a `fail`
/// telling the user to re-sign.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unanswered_revocation_call_is_an_error_not_a_fail() {
    let unavailable = row(
        "stub-500",
        EnvelopeFormat::Jws,
        StatusCode::INTERNAL_SERVER_ERROR,
        r#"{"message":"boom"}"#,
        CheckResult::Error,
        CheckCode::EvidenceUnavailable,
        &["GetRevocationStatus", "HTTP 500", "boom"],
    );
    let wrong = judge_rows(vec![unavailable]).await;
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
