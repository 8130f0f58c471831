//! The `vulnerabilities` check: do the image's scan findings stay within the policy's limits?

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::{json, Value};

use crate::decision::{Check, CheckResult};
use crate::evidence::ecr_findings::{Finding, ScanEvidence, ScanOutcome, WaitBound};
use crate::policy::{IgnoreEntry, Severity, VulnerabilityPolicy};

const CHECK: &str = "vulnerabilities";
/// Findings named in a reason at most (the evidence lists more).
const MAX_IN_REASON: usize = 10;
/// Findings listed per evidence list at most (the rest are counted).
const MAX_IN_EVIDENCE: usize = 500;

/// Judges `evidence` against `rule`. `today` (UTC) decides which ignore entries have expired.
pub fn vulnerability_check(
    policy: &str,
    rule: &VulnerabilityPolicy,
    evidence: &ScanEvidence,
    today: time::Date,
) -> Check {
    let target = evidence.target.as_ref().map(|t| {
        format!(
            "{}.dkr.ecr.{}.amazonaws.com/{}@{}",
            t.registry_id, t.region, t.repository, t.digest
        )
    });
    let base = json!({
        "source": "ecr",
        "image": target,
        "notes": evidence.notes,
    });
    let (result, reason, evidence_json) = match &evidence.outcome {
        ScanOutcome::NotEcr { registry } => (
            CheckResult::Fail,
            format!(
                "`vulnerabilities.source: ecr` needs an image in Amazon ECR (ACCOUNT.dkr.ecr.REGION.amazonaws.com/…), but this image is on {registry}; push it to ECR, or narrow this policy's `images` to ECR repositories"
            ),
            base,
        ),
        ScanOutcome::Error { reason } => (
            CheckResult::Error,
            format!("could not read the ECR scan findings, so the image fails closed: {reason}"),
            base,
        ),
        ScanOutcome::Unusable {
            status,
            description,
        } => {
            let hint = match status.as_str() {
                "FAILED" => "re-run the scan (`aws ecr start-image-scan`) and check that the image's OS and packages are supported",
                "UNSUPPORTED_IMAGE" => "ECR cannot scan this image's operating system or format; use a supported base image or another scanner",
                "SCAN_ELIGIBILITY_EXPIRED" => "enhanced scanning no longer rescans this image; push it again or raise the registry's scan duration",
                "FINDINGS_UNAVAILABLE" => "ECR no longer has findings for this image (scanning turned off, or the image was deleted); scan it again",
                _ => "shipgate does not know this status; report it, and scan the image again",
            };
            let mut ev = base;
            ev["scan_status"] = json!(status);
            ev["scan_status_description"] = json!(description);
            (
                CheckResult::Fail,
                format!(
                    "the ECR scan has status {status}{}, which has no findings to judge, so the image fails closed; {hint}",
                    description
                        .as_deref()
                        .filter(|d| !d.is_empty())
                        .map(|d| format!(" ({d})"))
                        .unwrap_or_default()
                ),
                ev,
            )
        }
        ScanOutcome::NotFinished {
            last_status,
            waited,
            bound,
        } => {
            let mut ev = base;
            ev["scan_status"] = json!(last_status);
            // Adapters that can come back later (CodePipeline's continuation) look for this.
            ev["scan_pending"] = json!(true);
            ev["waited_ms"] = json!(u64::try_from(waited.as_millis()).unwrap_or(u64::MAX));
            let status = if last_status == "no scan" {
                "ECR has no scan of this image".to_string()
            } else {
                format!("last status {last_status}")
            };
            let reason = match bound {
                WaitBound::WaitForScan(wait) => {
                    ev["wait_ended_by"] = json!("waitForScan");
                    let hint = if last_status == "no scan" {
                        "turn on scan-on-push or enhanced scanning for the repository, or set `startScan: true`"
                    } else {
                        "retry when the scan has finished, or raise `waitForScan`"
                    };
                    format!(
                        "scan not finished after {} ({status}): the policy's `waitForScan` ran out; {hint}",
                        seconds(*wait)
                    )
                }
                WaitBound::GateTimeout {
                    timeout,
                    wait_for_scan,
                } => {
                    ev["wait_ended_by"] = json!("gate timeout");
                    format!(
                        "scan not finished after {} ({status}): the gate's evaluation timeout of {} ended the wait before `waitForScan` ({}) ran out; raise the gate's timeout (`--timeout`, `timeoutSeconds`) above `waitForScan`, or lower `waitForScan`",
                        seconds(*waited),
                        seconds(*timeout),
                        seconds(*wait_for_scan)
                    )
                }
            };
            (CheckResult::Error, reason, ev)
        }
        ScanOutcome::Findings {
            status,
            findings,
            pages,
        } => judge(rule, status, findings, *pages, today, base),
    };
    Check::new(CHECK, Some(policy), result, reason).with_evidence(evidence_json)
}

/// Why a finding was not counted.
#[derive(Default)]
struct NotCounted {
    suppressed_or_closed: usize,
    below_min_score: usize,
    not_fixable: usize,
}

fn judge(
    rule: &VulnerabilityPolicy,
    status: &str,
    findings: &[Finding],
    pages: usize,
    today: time::Date,
    mut ev: Value,
) -> (CheckResult, String, Value) {
    let mut skipped = NotCounted::default();
    let mut counted: Vec<&Finding> = Vec::new();
    let mut ignored: Vec<(&Finding, &IgnoreEntry)> = Vec::new();
    let mut expired: BTreeMap<&str, &IgnoreEntry> = BTreeMap::new();
    for f in findings {
        let status = f.status.as_deref().map(str::to_ascii_uppercase);
        if matches!(status.as_deref(), Some("SUPPRESSED" | "CLOSED")) {
            skipped.suppressed_or_closed += 1;
            continue;
        }
        if rule.min_score > 0.0 && f.score.is_some_and(|s| s < rule.min_score) {
            skipped.below_min_score += 1;
            continue;
        }
        if rule.only_fixable
            && f.fix_available
                .as_deref()
                .is_some_and(|v| v.eq_ignore_ascii_case("NO"))
        {
            skipped.not_fixable += 1;
            continue;
        }
        if let Some(entry) = rule
            .ignore
            .iter()
            .find(|e| e.id.eq_ignore_ascii_case(&f.id))
        {
            match entry.expires {
                Some(last_day) if today > last_day => {
                    expired.insert(entry.id.as_str(), entry);
                }
                _ => {
                    ignored.push((f, entry));
                    continue;
                }
            }
        }
        counted.push(f);
    }

    let mut counts: BTreeMap<Severity, usize> = Severity::ALL.iter().map(|s| (*s, 0)).collect();
    for f in &counted {
        *counts.entry(f.severity).or_default() += 1;
    }
    // The findings that broke the policy, and which rule each broke.
    let mut broke: Vec<(&Finding, String)> = Vec::new();
    let mut broke_ids: BTreeSet<usize> = BTreeSet::new();
    let mut problems: Vec<String> = Vec::new();
    if let Some(max) = rule.max_severity {
        let above: Vec<(usize, &&Finding)> = counted
            .iter()
            .enumerate()
            .filter(|(_, f)| f.severity > max)
            .collect();
        if !above.is_empty() {
            problems.push(format!(
                "{} finding{} above maxSeverity {max}: {}",
                above.len(),
                plural(above.len()),
                list(above.iter().map(|(_, f)| **f))
            ));
            for (i, f) in above {
                broke_ids.insert(i);
                broke.push((f, format!("above maxSeverity {max}")));
            }
        }
    }
    for (severity, limit) in &rule.budgets {
        let n = counts.get(severity).copied().unwrap_or(0);
        if u64::try_from(n).unwrap_or(u64::MAX) > *limit {
            let of: Vec<(usize, &&Finding)> = counted
                .iter()
                .enumerate()
                .filter(|(_, f)| f.severity == *severity)
                .collect();
            problems.push(format!(
                "{n} {severity} finding{} exceed{} the budget of {limit}: {}",
                plural(n),
                if n == 1 { "s" } else { "" },
                list(of.iter().map(|(_, f)| **f))
            ));
            for (i, f) in of {
                if broke_ids.insert(i) {
                    broke.push((f, format!("over the {severity} budget of {limit}")));
                }
            }
        }
    }

    let summary = {
        let nonzero: Vec<String> = counts
            .iter()
            .rev()
            .filter(|(_, n)| **n > 0)
            .map(|(s, n)| format!("{n} {s}"))
            .collect();
        let kinds: BTreeSet<&str> = findings
            .iter()
            .map(|f| match f.scan {
                crate::evidence::ecr_findings::ScanKind::Basic => "basic",
                crate::evidence::ecr_findings::ScanKind::Enhanced => "enhanced",
            })
            .collect();
        let mut s = format!(
            "ECR scan {status}: {} counted",
            if nonzero.is_empty() {
                "no findings".to_string()
            } else {
                nonzero.join(", ")
            }
        );
        if !kinds.is_empty() {
            s.push_str(&format!(
                " ({} scanning)",
                kinds.into_iter().collect::<Vec<_>>().join(" and ")
            ));
        }
        let mut not = Vec::new();
        if skipped.suppressed_or_closed > 0 {
            not.push(format!(
                "{} suppressed or closed",
                skipped.suppressed_or_closed
            ));
        }
        if skipped.below_min_score > 0 {
            not.push(format!(
                "{} scored below minScore {}",
                skipped.below_min_score, rule.min_score
            ));
        }
        if skipped.not_fixable > 0 {
            not.push(format!("{} without a fix", skipped.not_fixable));
        }
        if !ignored.is_empty() {
            let who: Vec<String> = ignored
                .iter()
                .take(MAX_IN_REASON)
                .map(|(f, e)| format!("{} ({})", f.id, e.reason))
                .collect();
            not.push(format!(
                "{} ignored: {}{}",
                ignored.len(),
                who.join(", "),
                more(ignored.len())
            ));
        }
        if !not.is_empty() {
            s.push_str(&format!("; not counted: {}", not.join("; ")));
        }
        s
    };
    let expired_text: Vec<String> = expired
        .values()
        .map(|e| {
            format!(
                "ignore entry for {} expired on {}, so its finding counts again",
                e.id,
                e.expires.map(|d| d.to_string()).unwrap_or_default()
            )
        })
        .collect();

    ev["scan_status"] = json!(status);
    ev["pages"] = json!(pages);
    ev["findings_reported"] = json!(findings.len());
    ev["counts"] = json!(counts
        .iter()
        .map(|(s, n)| (s.as_str(), *n))
        .collect::<BTreeMap<_, _>>());
    ev["rules"] = json!({
        "maxSeverity": rule.max_severity.map(Severity::as_str),
        "budgets": rule.budgets.iter().map(|(s, n)| (s.as_str(), *n)).collect::<BTreeMap<_, _>>(),
        "onlyFixable": rule.only_fixable,
        "minScore": rule.min_score,
    });
    ev["violations_total"] = json!(broke.len());
    ev["violations"] = Value::Array(
        broke
            .iter()
            .take(MAX_IN_EVIDENCE)
            .map(|(f, why)| {
                let mut v = json!(f);
                v["broke"] = json!(why);
                v
            })
            .collect(),
    );
    ev["ignored"] = Value::Array(
        ignored
            .iter()
            .take(MAX_IN_EVIDENCE)
            .map(|(f, e)| {
                json!({
                    "id": f.id,
                    "severity": f.severity,
                    "package": f.package,
                    "version": f.version,
                    "reason": e.reason,
                    "expires": e.expires.map(|d| d.to_string()),
                })
            })
            .collect(),
    );
    ev["expired_ignores"] = Value::Array(
        expired
            .values()
            .map(|e| {
                json!({
                    "id": e.id,
                    "reason": e.reason,
                    "expired_on": e.expires.map(|d| d.to_string()),
                })
            })
            .collect(),
    );
    ev["not_counted"] = json!({
        "suppressed_or_closed": skipped.suppressed_or_closed,
        "below_min_score": skipped.below_min_score,
        "not_fixable": skipped.not_fixable,
        "ignored": ignored.len(),
    });

    let mut reason;
    let result;
    if problems.is_empty() {
        result = CheckResult::Pass;
        reason = format!("{summary}; within {}", limits(rule));
        for e in &expired_text {
            reason.push_str(&format!(". Note: {e}"));
        }
    } else {
        result = CheckResult::Fail;
        reason = problems.join("; ");
        for e in &expired_text {
            reason.push_str(&format!(". The {e}"));
        }
        reason.push_str(&format!(
            ". {summary}. Upgrade the packages named (or rebuild on a patched base image), or accept a finding with an `ignore` entry that has a reason and an expiry"
        ));
    }
    (result, reason, ev)
}

fn limits(rule: &VulnerabilityPolicy) -> String {
    let mut parts = Vec::new();
    if let Some(max) = rule.max_severity {
        parts.push(format!("maxSeverity {max}"));
    }
    if !rule.budgets.is_empty() {
        let b: Vec<String> = rule
            .budgets
            .iter()
            .rev()
            .map(|(s, n)| format!("{s} {n}"))
            .collect();
        parts.push(format!("budgets {}", b.join(", ")));
    }
    parts.join(" and ")
}

/// `CVE-1 (CRITICAL, openssl 3.0.1, fixed in 3.0.2, https://…)`
fn describe(f: &Finding) -> String {
    let mut parts = vec![if f.reported_severity == f.severity.as_str() {
        f.severity.to_string()
    } else {
        format!("{} (reported {})", f.severity, f.reported_severity)
    }];
    match (&f.package, &f.version) {
        (Some(p), Some(v)) => parts.push(format!("{p} {v}")),
        (Some(p), None) => parts.push(p.clone()),
        (None, Some(v)) => parts.push(format!("version {v}")),
        (None, None) => {}
    }
    if let Some(fixed) = &f.fixed_in {
        parts.push(format!("fixed in {fixed}"));
    }
    if let Some(link) = &f.link {
        parts.push(link.clone());
    }
    format!("{} ({})", f.id, parts.join(", "))
}

fn list<'a>(findings: impl ExactSizeIterator<Item = &'a Finding>) -> String {
    let n = findings.len();
    let shown: Vec<String> = findings.take(MAX_IN_REASON).map(describe).collect();
    format!("{}{}", shown.join("; "), more(n))
}

fn more(n: usize) -> String {
    if n > MAX_IN_REASON {
        format!(" and {} more", n - MAX_IN_REASON)
    } else {
        String::new()
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// `120s`, `1.5s`
fn seconds(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::ecr_findings::{ScanKind, ScanTarget};
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
}
