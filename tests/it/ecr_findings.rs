//! The `vulnerabilities` check against ECR scan findings.
//!
//! Most tests run the real `moto` server (see `common::moto`) and inject findings through its
//! `/moto-api/static/ecr/scan-finding-results` endpoint. Moto returns an injected response
//! verbatim (basic `findings`, `enhancedFindings`, any scan status) but always the same one for
//! an image: it ignores `nextToken` and cannot move a scan from PENDING to COMPLETE or answer with
//! throttling and 5xx. Those are covered by `stub_*` tests against a loopback stub of the ECR JSON
//! protocol (axum, checking `X-Amz-Target`).

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::http::StatusCode;
use bytes::Bytes;
use serde_json::{json, Value};

use shipgate::decision::{Check, CheckResult, Decision};
use shipgate::evidence::ecr_findings::{
    AwsScanFindings, EcrCallError, FindingsPage, ScanFindings, ScanTarget,
};
use shipgate::gate::{DecisionRequest, Gate, GateSettings};
use shipgate::policy::{Policy, PolicySet};
use shipgate::reference::{Digest, Repository};
use shipgate::registry::{Descriptor, Manifest, Registry, RegistryError};
use shipgate::verify::{TrustRoot, Verifier};

use crate::common::aws::runtime;
use crate::common::moto::{hook_for, Moto, ACCOUNT};

const HOST: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com";

/// A registry that must not be needed: counts calls and answers none.
#[derive(Default)]
struct NoRegistry {
    calls: AtomicUsize,
}

#[async_trait]
impl Registry for NoRegistry {
    async fn resolve(&self, _: &Repository, r: &str) -> Result<(Digest, String), RegistryError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Err(RegistryError::NotFound {
            repository: "none".into(),
            what: r.into(),
        })
    }
    async fn manifest(&self, _: &Repository, _: &str) -> Result<Option<Manifest>, RegistryError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(None)
    }
    async fn blob(&self, _: &Repository, d: &Digest, _: usize) -> Result<Bytes, RegistryError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Err(RegistryError::NotFound {
            repository: "none".into(),
            what: d.to_string(),
        })
    }
    async fn referrers(
        &self,
        _: &Repository,
        _: &Digest,
    ) -> Result<Option<Vec<Descriptor>>, RegistryError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(None)
    }
}

fn policy(vulnerabilities: &str) -> String {
    format!("name: scan\nimages: [\"*.dkr.ecr.*.amazonaws.com/**\", \"ghcr.io/**\"]\nvulnerabilities:\n  source: ecr\n{vulnerabilities}")
}

/// Decides `image` under one policy, with `findings` as the ECR source and no registry.
async fn decide_with(
    findings: Arc<dyn ScanFindings>,
    policy_yaml: &str,
    image: &str,
    timeout: Duration,
) -> Decision {
    let policy = Policy::from_yaml(policy_yaml, Path::new("scan.yaml"))
        .unwrap_or_else(|e| panic!("test policy: {e}"));
    let registry = Arc::new(NoRegistry::default());
    let gate = Gate::new(
        PolicySet::new(vec![policy]).unwrap(),
        registry.clone(),
        findings,
        Arc::new(Verifier::new(Arc::new(TrustRoot::public_good().unwrap()))),
        GateSettings {
            timeout,
            cache_pass_ttl: Duration::ZERO,
            cache_fail_ttl: Duration::ZERO,
            ..GateSettings::default()
        },
    );
    let d = gate
        .decide(&DecisionRequest {
            image: image.into(),
            policy: None,
        })
        .await
        .expect("a well-formed request");
    assert_eq!(
        registry.calls.load(Ordering::SeqCst),
        0,
        "a digest and a findings-only policy need no registry"
    );
    d
}

fn vuln_check(d: &Decision) -> &Check {
    d.checks
        .iter()
        .find(|c| c.check == "vulnerabilities")
        .unwrap_or_else(|| panic!("no vulnerabilities check in {}", d.to_text()))
}

fn expect(d: &Decision, result: CheckResult, needles: &[&str]) {
    let c = vuln_check(d);
    assert_eq!(c.result, result, "{}", d.to_text());
    assert_eq!(d.passed(), result == CheckResult::Pass, "{}", d.to_text());
    for n in needles {
        assert!(c.reason.contains(n), "reason lacks {n:?}:\n{}", d.to_text());
    }
}

fn image(repo: &str, digest: &str) -> String {
    format!("{HOST}/{repo}@{digest}")
}

fn basic(name: &str, severity: &str, package: &str, version: &str, cvss3: &str) -> Value {
    json!({"name": name, "severity": severity,
           "uri": format!("https://nvd.nist.gov/vuln/detail/{name}"),
           "attributes": [{"key": "package_name", "value": package},
                          {"key": "package_version", "value": version},
                          {"key": "CVSS3_SCORE", "value": cvss3}]})
}

fn enhanced(id: &str, severity: &str, status: &str, score: f64, fix: &str, pkg: &str) -> Value {
    json!({"awsAccountId": ACCOUNT, "findingArn": format!("arn:aws:inspector2:us-east-1:{ACCOUNT}:finding/{id}"),
           "severity": severity, "status": status, "score": score, "fixAvailable": fix,
           "exploitAvailable": "NO", "title": format!("{id} - {pkg}"), "type": "PACKAGE_VULNERABILITY",
           "packageVulnerabilityDetails": {
               "vulnerabilityId": id, "source": "NVD",
               "sourceUrl": format!("https://nvd.nist.gov/vuln/detail/{id}"),
               "vulnerablePackages": [{"name": pkg, "version": "1.0.0", "fixedInVersion": if fix == "NO" { "NotAvailable" } else { "1.0.1" }}]}})
}

fn response(repo: &str, digest: &str, status: &str, scan: Value) -> Value {
    json!({"registryId": ACCOUNT, "repositoryName": repo, "imageId": {"imageDigest": digest},
           "imageScanStatus": {"status": status, "description": format!("status {status}")},
           "imageScanFindings": scan})
}

#[test]
fn moto_basic_findings_against_every_threshold() {
    let moto = Moto::start();
    runtime().block_on(async {
        let digest = moto.put_image("app", "basic", true).await;
        moto.inject(response(
            "app",
            &digest,
            "COMPLETE",
            json!({"findings": [
                basic("CVE-2024-0001", "CRITICAL", "openssl", "3.0.1", "9.8"),
                basic("CVE-2024-0002", "HIGH", "zlib", "1.2.11", "7.5"),
                basic("CVE-2024-0003", "HIGH", "curl", "7.88.0", "7.1"),
                basic("CVE-2024-0004", "MEDIUM", "bash", "5.1", "5.0"),
                basic("CVE-2024-0005", "UNDEFINED", "tar", "1.34", "oops"),
            ], "findingSeverityCounts": {"CRITICAL": 1, "HIGH": 2, "MEDIUM": 1, "UNDEFINED": 1}}),
        ));
        let img = image("app", &digest);
        let f = moto.findings();
        let t = Duration::from_secs(20);

        let d = decide_with(f.clone(), &policy("  maxSeverity: HIGH\n"), &img, t).await;
        expect(
            &d,
            CheckResult::Fail,
            &[
                "2 findings above maxSeverity HIGH",
                "CVE-2024-0001 (CRITICAL, openssl 3.0.1, https://nvd.nist.gov/vuln/detail/CVE-2024-0001)",
                "CVE-2024-0005 (UNTRIAGED (reported UNDEFINED), tar 1.34",
                "1 CRITICAL, 1 UNTRIAGED, 2 HIGH, 1 MEDIUM counted (basic scanning)",
            ],
        );
        let c = vuln_check(&d);
        assert_eq!(c.evidence["counts"]["HIGH"], 2);
        assert_eq!(c.evidence["violations"][0]["package"], "openssl");
        assert_eq!(c.evidence["violations"][0]["version"], "3.0.1");
        assert_eq!(c.evidence["image"], format!("{HOST}/app@{digest}"));

        let d = decide_with(
            f.clone(),
            &policy("  maxSeverity: CRITICAL\n  budgets: {HIGH: 1, MEDIUM: 5}\n"),
            &img,
            t,
        )
        .await;
        expect(
            &d,
            CheckResult::Fail,
            &["2 HIGH findings exceed the budget of 1", "CVE-2024-0002", "CVE-2024-0003"],
        );
        let d = decide_with(
            f.clone(),
            &policy("  maxSeverity: CRITICAL\n  budgets: {HIGH: 2, MEDIUM: 1}\n"),
            &img,
            t,
        )
        .await;
        expect(&d, CheckResult::Pass, &["within maxSeverity CRITICAL and budgets HIGH 2, MEDIUM 1"]);
        // minScore 7.2 drops the 7.1 and 5.0 findings; the one without a score still counts.
        let d = decide_with(
            f.clone(),
            &policy("  maxSeverity: CRITICAL\n  budgets: {HIGH: 1, MEDIUM: 0, UNTRIAGED: 0}\n  minScore: 7.2\n"),
            &img,
            t,
        )
        .await;
        expect(
            &d,
            CheckResult::Fail,
            &["1 UNTRIAGED finding exceeds the budget of 0", "2 scored below minScore 7.2"],
        );
        // onlyFixable: basic scanning does not say whether a fix exists, so everything counts.
        let d = decide_with(
            f,
            &policy("  maxSeverity: HIGH\n  onlyFixable: true\n  ignore:\n    - id: CVE-2024-0005\n      reason: tar is not in the runtime path\n"),
            &img,
            t,
        )
        .await;
        expect(&d, CheckResult::Fail, &["1 finding above maxSeverity HIGH: CVE-2024-0001", "1 ignored: CVE-2024-0005 (tar is not in the runtime path)"]);
    });
}

#[test]
fn moto_enhanced_findings_status_fix_score_and_ignore_entries() {
    let moto = Moto::start();
    runtime().block_on(async {
        let digest = moto.put_image("svc", "enhanced", true).await;
        moto.inject(response(
            "svc",
            &digest,
            "ACTIVE",
            json!({"enhancedFindings": [
                enhanced("CVE-2025-1001", "CRITICAL", "ACTIVE", 9.8, "YES", "openssl"),
                enhanced("CVE-2025-1002", "CRITICAL", "SUPPRESSED", 9.8, "YES", "glibc"),
                enhanced("CVE-2025-1003", "CRITICAL", "CLOSED", 9.8, "YES", "glibc"),
                enhanced("CVE-2025-1004", "CRITICAL", "ACTIVE", 9.1, "NO", "libxml2"),
                enhanced("CVE-2025-1005", "HIGH", "ACTIVE", 5.0, "YES", "curl"),
                enhanced("CVE-2025-1006", "UNTRIAGED", "ACTIVE", 0.0, "YES", "busybox"),
            ]}),
        ));
        let img = image("svc", &digest);
        let f = moto.findings();
        let t = Duration::from_secs(20);

        let d = decide_with(f.clone(), &policy("  maxSeverity: HIGH\n"), &img, t).await;
        expect(
            &d,
            CheckResult::Fail,
            &[
                "3 findings above maxSeverity HIGH",
                "CVE-2025-1001 (CRITICAL, openssl 1.0.0, fixed in 1.0.1, https://nvd.nist.gov/vuln/detail/CVE-2025-1001)",
                "CVE-2025-1004",
                "CVE-2025-1006 (UNTRIAGED",
                "2 suppressed or closed",
                "(enhanced scanning)",
            ],
        );
        let c = vuln_check(&d);
        assert!(!c.reason.contains("CVE-2025-1002") && !c.reason.contains("CVE-2025-1003"));
        assert_eq!(c.evidence["violations"][0]["fix_available"], "YES");
        assert_eq!(c.evidence["violations"][0]["score"], 9.8);

        // onlyFixable drops CVE-2025-1004; a live entry ignores 1001; an expired one no longer
        // ignores 1006.
        let ignores = "  ignore:\n    - id: CVE-2025-1001\n      reason: not reachable, see SEC-123\n      expires: 2999-01-31\n    - id: CVE-2025-1006\n      reason: busybox is unused\n      expires: 2020-01-31\n";
        let d = decide_with(
            f.clone(),
            &policy(&format!("  maxSeverity: HIGH\n  onlyFixable: true\n{ignores}")),
            &img,
            t,
        )
        .await;
        expect(
            &d,
            CheckResult::Fail,
            &[
                "1 finding above maxSeverity HIGH: CVE-2025-1006",
                "ignore entry for CVE-2025-1006 expired on 2020-01-31",
                "1 without a fix",
                "1 ignored: CVE-2025-1001 (not reachable, see SEC-123)",
            ],
        );
        let c = vuln_check(&d);
        assert_eq!(c.evidence["ignored"][0]["id"], "CVE-2025-1001");
        assert_eq!(c.evidence["ignored"][0]["expires"], "2999-01-31");
        assert_eq!(c.evidence["expired_ignores"][0]["expired_on"], "2020-01-31");

        // Everything accepted, and minScore 6 drops the 5.0 HIGH: passes with a zero HIGH budget.
        let d = decide_with(
            f,
            &policy("  maxSeverity: HIGH\n  budgets: {HIGH: 0}\n  onlyFixable: true\n  minScore: 6\n  ignore:\n    - id: CVE-2025-1001\n      reason: not reachable\n    - id: CVE-2025-1006\n      reason: busybox is unused\n      expires: 2999-12-31\n"),
            &img,
            t,
        )
        .await;
        expect(&d, CheckResult::Pass, &["ECR scan ACTIVE: no findings counted", "2 ignored"]);
    });
}

#[test]
fn moto_missing_scan_waits_then_fails_and_says_which_bound_ended_the_wait() {
    let moto = Moto::start();
    runtime().block_on(async {
        let digest = moto.put_image("unscanned", "v1", false).await;
        let img = image("unscanned", &digest);
        let f = moto.findings();
        let started = std::time::Instant::now();
        let d = decide_with(
            f.clone(),
            &policy("  waitForScan: 1s\n  maxSeverity: HIGH\n"),
            &img,
            Duration::from_secs(20),
        )
        .await;
        assert!(started.elapsed() >= Duration::from_secs(1));
        expect(
            &d,
            CheckResult::Error,
            &[
                "scan not finished after 1s",
                "ECR has no scan of this image",
                "`waitForScan` ran out",
                "startScan: true",
            ],
        );
        assert_eq!(vuln_check(&d).evidence["wait_ended_by"], "waitForScan");

        let d = decide_with(
            f.clone(),
            &policy("  waitForScan: 2m\n  maxSeverity: HIGH\n"),
            &img,
            Duration::from_secs(2),
        )
        .await;
        expect(
            &d,
            CheckResult::Error,
            &[
                "scan not finished after",
                "the gate's evaluation timeout of 2s ended the wait before `waitForScan` (120s)",
            ],
        );
        assert_eq!(vuln_check(&d).evidence["wait_ended_by"], "gate timeout");

        // startScan: StartImageScan makes moto's scan exist; the injected result is then read.
        moto.inject(response(
            "unscanned",
            &digest,
            "COMPLETE",
            json!({"findings": [basic("CVE-2024-9999", "CRITICAL", "openssl", "1.1.1", "9.8")]}),
        ));
        let d = decide_with(
            f,
            &policy("  waitForScan: 10s\n  startScan: true\n  maxSeverity: HIGH\n"),
            &img,
            Duration::from_secs(20),
        )
        .await;
        expect(
            &d,
            CheckResult::Fail,
            &["CVE-2024-9999 (CRITICAL, openssl 1.1.1"],
        );
        let notes = vuln_check(&d).evidence["notes"].to_string();
        assert!(notes.contains("started a basic scan"), "{notes}");
    });
}

#[test]
fn moto_failed_unsupported_and_unknown_statuses_fail_closed() {
    let moto = Moto::start();
    runtime().block_on(async {
        let f = moto.findings();
        for (tag, status, needle) in [
            ("failed", "FAILED", "re-run the scan"),
            ("unsupported", "UNSUPPORTED_IMAGE", "cannot scan this image"),
            ("expired", "SCAN_ELIGIBILITY_EXPIRED", "no longer rescans"),
            ("gone", "FINDINGS_UNAVAILABLE", "no longer has findings"),
            ("new", "BRAND_NEW_STATUS", "does not know this status"),
        ] {
            let digest = moto.put_image("odd", tag, true).await;
            moto.inject(response("odd", &digest, status, json!({"findings": []})));
            let d = decide_with(
                f.clone(),
                &policy("  waitForScan: 5s\n  maxSeverity: CRITICAL\n"),
                &image("odd", &digest),
                Duration::from_secs(20),
            )
            .await;
            expect(
                &d,
                CheckResult::Fail,
                &[
                    &format!("the ECR scan has status {status} (status {status})"),
                    needle,
                    "fails closed",
                ],
            );
        }
        // Moto ignores `nextToken`: a response that names one comes back with the same token,
        // which the gate refuses to loop on.
        let digest = moto.put_image("odd", "looping", true).await;
        let mut looping = response("odd", &digest, "COMPLETE", json!({"findings": []}));
        looping["nextToken"] = json!("page-2");
        moto.inject(looping);
        let d = decide_with(
            f,
            &policy("  maxSeverity: CRITICAL\n"),
            &image("odd", &digest),
            Duration::from_secs(20),
        )
        .await;
        expect(&d, CheckResult::Error, &["same nextToken twice"]);
    });
}

#[test]
fn moto_unknown_repository_is_an_error_that_says_so() {
    let moto = Moto::start();
    runtime().block_on(async {
        let img = image("nope", &format!("sha256:{}", "c".repeat(64)));
        let d = decide_with(
            moto.findings(),
            &policy("  maxSeverity: HIGH\n"),
            &img,
            Duration::from_secs(20),
        )
        .await;
        expect(
            &d,
            CheckResult::Error,
            &[
                "RepositoryNotFoundException",
                "is the image in this account's ECR",
            ],
        );
    });
}

/// A findings source that counts calls (for images ECR must not be asked about).
#[derive(Default)]
struct Counting(AtomicUsize);

#[async_trait]
impl ScanFindings for Counting {
    async fn describe(
        &self,
        _: &ScanTarget,
        _: Option<&str>,
    ) -> Result<FindingsPage, EcrCallError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Err(EcrCallError::Fatal("should not be asked".into()))
    }
    async fn start_scan(&self, _: &ScanTarget) -> Result<(), EcrCallError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

#[tokio::test]
async fn a_non_ecr_image_fails_with_a_clear_reason() {
    let source = Arc::new(Counting::default());
    let d = decide_with(
        source.clone(),
        &policy("  maxSeverity: HIGH\n"),
        &format!("ghcr.io/acme/app@sha256:{}", "d".repeat(64)),
        Duration::from_secs(5),
    )
    .await;
    expect(
        &d,
        CheckResult::Fail,
        &[
            "needs an image in Amazon ECR",
            "this image is on ghcr.io",
            "narrow this policy's `images`",
        ],
    );
    assert_eq!(source.0.load(Ordering::SeqCst), 0);
}

#[test]
fn policies_with_only_vulnerabilities_validate_and_errors_name_the_field() {
    let ok = policy("  waitForScan: 1m30s\n  maxSeverity: HIGH\n  budgets: {HIGH: 3, MEDIUM: 20}\n  onlyFixable: false\n  minScore: 0\n  ignore:\n    - id: CVE-2024-12345\n      reason: not reachable, see SEC-123\n      expires: 2027-01-31\n");
    let p = Policy::from_yaml(&ok, Path::new("ok.yaml")).unwrap();
    let v = p.vulnerabilities.unwrap();
    assert_eq!(v.wait_for_scan, Duration::from_secs(90));
    for (body, needles) in [
        ("  maxSeverity: SEVERE\n", &["maxSeverity", "line 5"][..]),
        ("  waitForScan: soon\n  maxSeverity: HIGH\n", &["vulnerabilities.waitForScan", "`soon` is not a duration", "line 5"]),
        ("  onlyFixable: true\n", &["give `maxSeverity`, `budgets` or both"]),
        ("  maxSeverity: HIGH\n  minScore: 11\n", &["vulnerabilities.minScore", "between 0 and 10", "line 6"]),
        ("  maxSeverity: HIGH\n  ignore:\n    - id: CVE-1\n      reason: x\n      expires: 31/01/2027\n", &["vulnerabilities.ignore[0].expires", "not a date like 2027-01-31", "line 9"]),
        ("  maxSeverity: HIGH\n  ignore:\n    - id: CVE-1\n      reason: \"\"\n", &["vulnerabilities.ignore[0].reason", "say why"]),
        ("  maxSeverity: HIGH\n  colour: red\n", &["unknown field `colour`", "line 6"]),
        ("  maxSeverity: HIGH\n  budgets: {SEVERE: 1}\n", &["budgets", "line 6"]),
    ] {
        let err = Policy::from_yaml(&policy(body), Path::new("bad.yaml"))
            .expect_err(body)
            .to_string();
        for n in needles {
            assert!(err.contains(n), "{body}: {err} lacks {n}");
        }
    }
    let err = Policy::from_yaml("name: x\nimages: [\"a/**\"]\n", Path::new("none.yaml"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("at least one check") && err.contains("`vulnerabilities`"),
        "{err}"
    );
}

#[test]
fn check_command_against_moto_exit_codes() {
    let moto = Moto::start();
    let digest = runtime().block_on(async {
        let digest = moto.put_image("app", "cli", true).await;
        moto.inject(response(
            "app",
            &digest,
            "COMPLETE",
            json!({"findings": [basic("CVE-2024-4242", "CRITICAL", "openssl", "3.0.1", "9.8")]}),
        ));
        digest
    });
    let dir = tempfile::tempdir().unwrap();
    let strict = dir.path().join("strict.yaml");
    std::fs::write(&strict, policy("  maxSeverity: HIGH\n")).unwrap();
    let lenient = dir.path().join("lenient.yaml");
    std::fs::write(
        &lenient,
        policy("  maxSeverity: HIGH\n  ignore:\n    - id: CVE-2024-4242\n      reason: patched in the runtime layer, see SEC-9\n"),
    )
    .unwrap();
    let run = |policy: &Path| {
        crate::common::aws::shipgate_with_aws(
            &moto.endpoint,
            &[
                "check",
                &image("app", &digest),
                "--output",
                "json",
                "--policy",
                policy.to_str().unwrap(),
            ],
        )
    };
    let out = run(&strict);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let d: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(d["decision"], "fail");
    assert_eq!(d["digest"], digest);
    assert_eq!(d["checks"][0]["check"], "vulnerabilities");
    assert_eq!(
        d["checks"][0]["evidence"]["violations"][0]["id"],
        "CVE-2024-4242"
    );
    let out = run(&lenient);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("patched in the runtime layer, see SEC-9"),
        "{stdout}"
    );
}

// --- A loopback stub of the ECR JSON protocol: paging, a scan that finishes, throttling, 5xx ---

/// What the stub answers, in order (the last answer repeats).
struct Script {
    answers: Mutex<Vec<(StatusCode, Value)>>,
    /// The `nextToken` of every DescribeImageScanFindings request.
    tokens: Mutex<Vec<Option<String>>>,
}

async fn stub(answers: Vec<(StatusCode, Value)>) -> (String, Arc<Script>) {
    let script = Arc::new(Script {
        answers: Mutex::new(answers),
        tokens: Mutex::new(Vec::new()),
    });
    let state = script.clone();
    let url = crate::common::ecr_stub::serve(move |operation, request| {
        if operation != "DescribeImageScanFindings" {
            return (
                StatusCode::BAD_REQUEST,
                json!({"__type": "UnknownOperationException", "message": operation}),
            );
        }
        assert_eq!(request["registryId"], ACCOUNT);
        assert_eq!(request["repositoryName"], "team/app");
        state
            .tokens
            .lock()
            .unwrap()
            .push(request["nextToken"].as_str().map(str::to_string));
        let mut answers = state.answers.lock().unwrap();
        if answers.len() > 1 {
            answers.remove(0)
        } else {
            answers[0].clone()
        }
    })
    .await;
    (url, script)
}

fn page(status: &str, findings: Vec<Value>, next: Option<&str>) -> (StatusCode, Value) {
    let mut v = json!({"registryId": ACCOUNT, "repositoryName": "team/app",
                       "imageScanStatus": {"status": status},
                       "imageScanFindings": {"findings": findings}});
    if let Some(n) = next {
        v["nextToken"] = json!(n);
    }
    (StatusCode::OK, v)
}

fn error(status: StatusCode, kind: &str) -> (StatusCode, Value) {
    (
        status,
        json!({"__type": kind, "message": format!("{kind} from the stub")}),
    )
}

fn stub_image() -> String {
    format!("{HOST}/team/app@sha256:{}", "e".repeat(64))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stub_pages_after_waiting_and_retrying() {
    let (url, script) = stub(vec![
        error(StatusCode::BAD_REQUEST, "ScanNotFoundException"),
        page("PENDING", vec![], None),
        page("IN_PROGRESS", vec![], None),
        error(StatusCode::BAD_REQUEST, "ThrottlingException"),
        error(StatusCode::INTERNAL_SERVER_ERROR, "ServerException"),
        page(
            "COMPLETE",
            vec![basic("CVE-P1", "HIGH", "a", "1", "7.0")],
            Some("t2"),
        ),
        error(StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailable"),
        page(
            "COMPLETE",
            vec![basic("CVE-P2", "HIGH", "b", "1", "7.0")],
            Some("t3"),
        ),
        page(
            "COMPLETE",
            vec![basic("CVE-P3", "CRITICAL", "c", "1", "9.0")],
            None,
        ),
    ])
    .await;
    let source = Arc::new(AwsScanFindings::with_loader_hook(hook_for(&url)));
    let d = decide_with(
        source,
        &policy("  waitForScan: 15s\n  maxSeverity: CRITICAL\n  budgets: {HIGH: 1}\n"),
        &stub_image(),
        Duration::from_secs(20),
    )
    .await;
    expect(
        &d,
        CheckResult::Fail,
        &[
            "2 HIGH findings exceed the budget of 1: CVE-P1",
            "CVE-P2",
            "1 CRITICAL, 2 HIGH counted",
        ],
    );
    let c = vuln_check(&d);
    assert_eq!(c.evidence["pages"], 3);
    let notes = c.evidence["notes"].to_string();
    assert!(
        notes.contains("ThrottlingException")
            && notes.contains("HTTP 500")
            && notes.contains("HTTP 503"),
        "{notes}"
    );
    let tokens = script.tokens.lock().unwrap().clone();
    let t = |s: &str| Some(s.to_string());
    assert_eq!(
        tokens,
        vec![
            None,
            None,
            None,
            None,
            None,
            None,
            t("t2"),
            t("t2"),
            t("t3")
        ],
        "polls, retries, then follows nextToken (resending it after a retry)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stub_persistent_throttling_fails_closed_within_the_budget() {
    let (url, _) = stub(vec![error(StatusCode::BAD_REQUEST, "ThrottlingException")]).await;
    let source = Arc::new(AwsScanFindings::with_loader_hook(hook_for(&url)));
    let started = std::time::Instant::now();
    let d = decide_with(
        source,
        &policy("  maxSeverity: CRITICAL\n"),
        &stub_image(),
        Duration::from_secs(3),
    )
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    expect(
        &d,
        CheckResult::Error,
        &[
            "could not read the ECR scan findings",
            "kept failing within the gate's time budget",
            "ThrottlingException",
        ],
    );
    let (url, _) = stub(vec![error(StatusCode::FORBIDDEN, "AccessDeniedException")]).await;
    let source = Arc::new(AwsScanFindings::with_loader_hook(hook_for(&url)));
    let d = decide_with(
        source,
        &policy("  maxSeverity: CRITICAL\n"),
        &stub_image(),
        Duration::from_secs(3),
    )
    .await;
    expect(
        &d,
        CheckResult::Error,
        &[
            "AccessDeniedException",
            "grant ecr:DescribeImageScanFindings",
        ],
    );
}
