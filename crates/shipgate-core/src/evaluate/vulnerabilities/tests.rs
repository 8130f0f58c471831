use super::*;
use std::collections::BTreeMap;
use std::time::Duration;

use crate::evidence::ecr_findings::{Finding, ScanEvidence, ScanOutcome};
use crate::evidence::ecr_findings::{ScanKind, ScanTarget};
use crate::policy::{IgnoreEntry, Severity, VulnerabilityPolicy};
use crate::policy::{Policy, VulnerabilitySource};

fn finding(id: &str, severity: Severity) -> Finding {
    Finding {
        id: id.into(),
        severity,
        reported_severity: severity.as_str().into(),
        scan: ScanKind::Enhanced,
        status: Some("ACTIVE".into()),
        score: Some(7.5),
        fix_available: Some("YES".into()),
        exploit_available: None,
        package: Some("openssl".into()),
        version: Some("3.0.1".into()),
        fixed_in: Some("3.0.2".into()),
        link: Some(format!("https://nvd.nist.gov/vuln/detail/{id}")),
    }
}

fn rule() -> VulnerabilityPolicy {
    VulnerabilityPolicy {
        source: VulnerabilitySource::Ecr,
        wait_for_scan: Duration::ZERO,
        start_scan: false,
        max_severity: Some(Severity::High),
        budgets: BTreeMap::new(),
        only_fixable: false,
        min_score: 0.0,
        ignore: Vec::new(),
    }
}

fn evidence(findings: Vec<Finding>) -> ScanEvidence {
    ScanEvidence {
        outcome: ScanOutcome::Findings {
            status: "COMPLETE".into(),
            findings,
            pages: 1,
        },
        target: Some(ScanTarget {
            registry_id: "123456789012".into(),
            region: "us-east-1".into(),
            repository: "app".into(),
            digest: "sha256:00".into(),
        }),
        notes: vec![],
    }
}

fn today() -> time::Date {
    time::macros::date!(2026 - 06 - 15)
}

#[test]
fn max_severity_fails_above_and_lists_the_finding() {
    let c = vulnerability_check(
        "p",
        &rule(),
        &evidence(vec![
            finding("CVE-1", Severity::Critical),
            finding("CVE-2", Severity::High),
        ]),
        today(),
    );
    assert_eq!(c.result, CheckResult::Fail, "{}", c.reason);
    assert!(c.reason.contains("1 finding above maxSeverity HIGH: CVE-1 (CRITICAL, openssl 3.0.1, fixed in 3.0.2, https://nvd.nist.gov/vuln/detail/CVE-1)"), "{}", c.reason);
    assert_eq!(c.evidence["counts"]["HIGH"], 1);
    assert_eq!(c.evidence["violations"][0]["id"], "CVE-1");
    assert_eq!(c.evidence["violations"][0]["fixed_in"], "3.0.2");
    let c = vulnerability_check(
        "p",
        &rule(),
        &evidence(vec![finding("CVE-2", Severity::High)]),
        today(),
    );
    assert_eq!(c.result, CheckResult::Pass, "{}", c.reason);
}

#[test]
fn untriaged_ranks_between_high_and_critical() {
    let c = vulnerability_check(
        "p",
        &rule(),
        &evidence(vec![finding("CVE-U", Severity::Untriaged)]),
        today(),
    );
    assert_eq!(c.result, CheckResult::Fail);
    let mut r = rule();
    r.max_severity = Some(Severity::Untriaged);
    let c = vulnerability_check(
        "p",
        &r,
        &evidence(vec![finding("CVE-U", Severity::Untriaged)]),
        today(),
    );
    assert_eq!(c.result, CheckResult::Pass);
}

#[test]
fn budgets_status_score_fixable_and_ignores() {
    let mut r = rule();
    r.max_severity = None;
    r.budgets = BTreeMap::from([(Severity::High, 1), (Severity::Medium, 0)]);
    let mut suppressed = finding("CVE-S", Severity::Medium);
    suppressed.status = Some("SUPPRESSED".into());
    let mut closed = finding("CVE-C", Severity::Medium);
    closed.status = Some("CLOSED".into());
    let c = vulnerability_check(
        "p",
        &r,
        &evidence(vec![finding("CVE-H1", Severity::High), suppressed, closed]),
        today(),
    );
    assert_eq!(c.result, CheckResult::Pass, "{}", c.reason);
    assert_eq!(c.evidence["not_counted"]["suppressed_or_closed"], 2);
    let c = vulnerability_check(
        "p",
        &r,
        &evidence(vec![
            finding("CVE-H1", Severity::High),
            finding("CVE-H2", Severity::High),
        ]),
        today(),
    );
    assert_eq!(c.result, CheckResult::Fail);
    assert!(
        c.reason.contains("2 HIGH findings exceed the budget of 1"),
        "{}",
        c.reason
    );

    // minScore: a low score does not count; an unknown score does.
    let mut r = rule();
    r.min_score = 7.0;
    let mut low = finding("CVE-L", Severity::Critical);
    low.score = Some(6.9);
    let c = vulnerability_check("p", &r, &evidence(vec![low.clone()]), today());
    assert_eq!(c.result, CheckResult::Pass, "{}", c.reason);
    low.score = None;
    let c = vulnerability_check("p", &r, &evidence(vec![low]), today());
    assert_eq!(c.result, CheckResult::Fail);

    // onlyFixable: NO does not count; unknown (basic scanning) does.
    let mut r = rule();
    r.only_fixable = true;
    let mut unfixed = finding("CVE-N", Severity::Critical);
    unfixed.fix_available = Some("NO".into());
    let c = vulnerability_check("p", &r, &evidence(vec![unfixed.clone()]), today());
    assert_eq!(c.result, CheckResult::Pass);
    unfixed.fix_available = None;
    let c = vulnerability_check("p", &r, &evidence(vec![unfixed]), today());
    assert_eq!(c.result, CheckResult::Fail);

    // ignore: live through its last day, expired the day after.
    let mut r = rule();
    r.ignore = vec![IgnoreEntry {
        id: "CVE-X".into(),
        reason: "not reachable, see SEC-123".into(),
        expires: Some(today()),
    }];
    let ev = evidence(vec![finding("cve-x", Severity::Critical)]);
    let c = vulnerability_check("p", &r, &ev, today());
    assert_eq!(c.result, CheckResult::Pass, "{}", c.reason);
    assert!(c.reason.contains("not reachable, see SEC-123"));
    assert_eq!(
        c.evidence["ignored"][0]["reason"],
        "not reachable, see SEC-123"
    );
    let c = vulnerability_check("p", &r, &ev, today().next_day().unwrap());
    assert_eq!(c.result, CheckResult::Fail);
    assert!(
        c.reason
            .contains("ignore entry for CVE-X expired on 2026-06-15"),
        "{}",
        c.reason
    );
}

#[test]
fn policy_yaml_round_trip() {
    let p = Policy::from_yaml(
        "name: v\nimages: [\"*.dkr.ecr.*.amazonaws.com/**\"]\nvulnerabilities:\n  source: ecr\n  waitForScan: 2m\n  maxSeverity: HIGH\n  budgets: {HIGH: 3, MEDIUM: 20}\n  minScore: 4.5\n  ignore:\n    - id: CVE-2024-12345\n      reason: not reachable\n      expires: 2027-01-31\n",
        std::path::Path::new("v.yaml"),
    )
    .unwrap();
    let v = p.vulnerabilities.unwrap();
    assert_eq!(v.wait_for_scan, Duration::from_secs(120));
    assert_eq!(v.budgets[&Severity::High], 3);
    assert_eq!(
        v.ignore[0].expires,
        Some(time::macros::date!(2027 - 01 - 31))
    );
    assert!(p.signatures.is_none());
}
