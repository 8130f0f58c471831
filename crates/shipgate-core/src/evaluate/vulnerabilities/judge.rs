//! Judging a finished scan: which findings count, which break the policy, and the sentence.

use std::collections::{BTreeMap, BTreeSet};

use super::report::{
    ExpiredIgnore, IgnoredFinding, NotCounted, RulesApplied, Violation, VulnerabilityReport,
};
use super::text::{limits, list, more, plural, MAX_IN_REASON};
use super::Verdict;
use crate::decision::{CheckCode, CheckResult};
use crate::evidence::ecr_findings::{Finding, ScanKind};
use crate::policy::{IgnoreEntry, Severity, VulnerabilityPolicy};

/// Findings listed per evidence list at most (the rest are counted).
const MAX_IN_EVIDENCE: usize = 500;

/// The findings sorted by how they count.
#[derive(Default)]
struct Tally<'a> {
    counted: Vec<&'a Finding>,
    ignored: Vec<(&'a Finding, &'a IgnoreEntry)>,
    /// Ignore entries past their last day (their findings are counted).
    expired: BTreeMap<&'a str, &'a IgnoreEntry>,
    skipped: NotCounted,
}

/// The counted findings that broke the policy: one sentence per broken rule, and each finding
/// with the rule it broke.
struct Breaches<'a> {
    problems: Vec<String>,
    broke: Vec<(&'a Finding, String)>,
}

pub(super) fn judge(
    rule: &VulnerabilityPolicy,
    status: &str,
    findings: &[Finding],
    pages: usize,
    today: time::Date,
    report: &mut VulnerabilityReport,
) -> Verdict {
    let tally = tally(rule, findings, today);
    let mut counts: BTreeMap<Severity, usize> = Severity::ALL.iter().map(|s| (*s, 0)).collect();
    for f in &tally.counted {
        *counts.entry(f.severity).or_default() += 1;
    }
    let breaches = breaches(rule, &tally.counted, &counts);
    let summary = summary(rule, status, findings, &counts, &tally);
    let expired_text: Vec<String> = tally
        .expired
        .values()
        .map(|e| {
            format!(
                "ignore entry for {} expired on {}, so its finding counts again",
                e.id,
                e.expires.map(|d| d.to_string()).unwrap_or_default()
            )
        })
        .collect();
    fill_report(
        report,
        rule,
        status,
        pages,
        findings.len(),
        counts,
        &tally,
        &breaches,
    );
    if breaches.problems.is_empty() {
        let mut reason = format!("{summary}; within {}", limits(rule));
        for e in &expired_text {
            reason.push_str(&format!(". Note: {e}"));
        }
        return Verdict {
            code: CheckCode::FindingsWithinBudget,
            result: CheckResult::Pass,
            reason,
        };
    }
    let mut reason = breaches.problems.join("; ");
    for e in &expired_text {
        reason.push_str(&format!(". The {e}"));
    }
    reason.push_str(&format!(
        ". {summary}. Upgrade the packages named (or rebuild on a patched base image), or accept a finding with an `ignore` entry that has a reason and an expiry"
    ));
    Verdict {
        code: CheckCode::FindingOverBudget,
        result: CheckResult::Fail,
        reason,
    }
}

/// Sorts each finding: not counted (suppressed or closed, below `minScore`, without a fix when
/// `onlyFixable`), ignored by an entry that has not expired, or counted.
fn tally<'a>(
    rule: &'a VulnerabilityPolicy,
    findings: &'a [Finding],
    today: time::Date,
) -> Tally<'a> {
    let mut t = Tally::default();
    for f in findings {
        let status = f.status.as_deref().map(str::to_ascii_uppercase);
        if matches!(status.as_deref(), Some("SUPPRESSED" | "CLOSED")) {
            t.skipped.suppressed_or_closed += 1;
            continue;
        }
        if rule.min_score > 0.0 && f.score.is_some_and(|s| s < rule.min_score) {
            t.skipped.below_min_score += 1;
            continue;
        }
        if rule.only_fixable
            && f.fix_available
                .as_deref()
                .is_some_and(|v| v.eq_ignore_ascii_case("NO"))
        {
            t.skipped.not_fixable += 1;
            continue;
        }
        if let Some(entry) = rule
            .ignore
            .iter()
            .find(|e| e.id.eq_ignore_ascii_case(&f.id))
        {
            match entry.expires {
                Some(last_day) if today > last_day => {
                    t.expired.insert(entry.id.as_str(), entry);
                }
                _ => {
                    t.ignored.push((f, entry));
                    continue;
                }
            }
        }
        t.counted.push(f);
    }
    t.skipped.ignored = t.ignored.len();
    t
}

fn breaches<'a>(
    rule: &VulnerabilityPolicy,
    counted: &[&'a Finding],
    counts: &BTreeMap<Severity, usize>,
) -> Breaches<'a> {
    let mut out = Breaches {
        problems: Vec::new(),
        broke: Vec::new(),
    };
    let mut broke_ids: BTreeSet<usize> = BTreeSet::new();
    if let Some(max) = rule.max_severity {
        let above: Vec<(usize, &Finding)> = counted
            .iter()
            .enumerate()
            .filter(|(_, f)| f.severity > max)
            .map(|(i, f)| (i, *f))
            .collect();
        if !above.is_empty() {
            out.problems.push(format!(
                "{} finding{} above maxSeverity {max}: {}",
                above.len(),
                plural(above.len()),
                list(above.iter().map(|(_, f)| *f))
            ));
            for (i, f) in above {
                broke_ids.insert(i);
                out.broke.push((f, format!("above maxSeverity {max}")));
            }
        }
    }
    for (severity, limit) in &rule.budgets {
        let n = counts.get(severity).copied().unwrap_or(0);
        if u64::try_from(n).unwrap_or(u64::MAX) <= *limit {
            continue;
        }
        let of: Vec<(usize, &Finding)> = counted
            .iter()
            .enumerate()
            .filter(|(_, f)| f.severity == *severity)
            .map(|(i, f)| (i, *f))
            .collect();
        out.problems.push(format!(
            "{n} {severity} finding{} exceed{} the budget of {limit}: {}",
            plural(n),
            if n == 1 { "s" } else { "" },
            list(of.iter().map(|(_, f)| *f))
        ));
        for (i, f) in of {
            if broke_ids.insert(i) {
                out.broke
                    .push((f, format!("over the {severity} budget of {limit}")));
            }
        }
    }
    out
}

/// `ECR scan COMPLETE: 1 CRITICAL, 1 LOW counted (basic scanning); not counted: …`
fn summary(
    rule: &VulnerabilityPolicy,
    status: &str,
    findings: &[Finding],
    counts: &BTreeMap<Severity, usize>,
    t: &Tally,
) -> String {
    let nonzero: Vec<String> = counts
        .iter()
        .rev()
        .filter(|(_, n)| **n > 0)
        .map(|(s, n)| format!("{n} {s}"))
        .collect();
    let kinds: BTreeSet<&str> = findings
        .iter()
        .map(|f| match f.scan {
            ScanKind::Basic => "basic",
            ScanKind::Enhanced => "enhanced",
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
    if t.skipped.suppressed_or_closed > 0 {
        not.push(format!(
            "{} suppressed or closed",
            t.skipped.suppressed_or_closed
        ));
    }
    if t.skipped.below_min_score > 0 {
        not.push(format!(
            "{} scored below minScore {}",
            t.skipped.below_min_score, rule.min_score
        ));
    }
    if t.skipped.not_fixable > 0 {
        not.push(format!("{} without a fix", t.skipped.not_fixable));
    }
    if !t.ignored.is_empty() {
        let who: Vec<String> = t
            .ignored
            .iter()
            .take(MAX_IN_REASON)
            .map(|(f, e)| format!("{} ({})", f.id, e.reason))
            .collect();
        not.push(format!(
            "{} ignored: {}{}",
            t.ignored.len(),
            who.join(", "),
            more(t.ignored.len())
        ));
    }
    if !not.is_empty() {
        s.push_str(&format!("; not counted: {}", not.join("; ")));
    }
    s
}

#[allow(clippy::too_many_arguments)] // one report field per argument, filled in one place
fn fill_report(
    report: &mut VulnerabilityReport,
    rule: &VulnerabilityPolicy,
    status: &str,
    pages: usize,
    findings_reported: usize,
    counts: BTreeMap<Severity, usize>,
    t: &Tally,
    b: &Breaches,
) {
    report.scan_status = Some(status.to_string());
    report.pages = Some(pages);
    report.findings_reported = Some(findings_reported);
    report.counts = Some(counts);
    report.rules = Some(RulesApplied {
        max_severity: rule.max_severity,
        budgets: rule.budgets.clone(),
        only_fixable: rule.only_fixable,
        min_score: rule.min_score,
    });
    report.violations_total = Some(b.broke.len());
    report.violations = Some(
        b.broke
            .iter()
            .take(MAX_IN_EVIDENCE)
            .map(|(f, why)| Violation {
                finding: (*f).clone(),
                broke: why.clone(),
            })
            .collect(),
    );
    report.ignored = Some(
        t.ignored
            .iter()
            .take(MAX_IN_EVIDENCE)
            .map(|(f, e)| IgnoredFinding {
                id: f.id.clone(),
                severity: f.severity,
                package: f.package.clone(),
                version: f.version.clone(),
                reason: e.reason.clone(),
                expires: e.expires.map(|d| d.to_string()),
            })
            .collect(),
    );
    report.expired_ignores = Some(
        t.expired
            .values()
            .map(|e| ExpiredIgnore {
                id: e.id.clone(),
                reason: e.reason.clone(),
                expired_on: e.expires.map(|d| d.to_string()),
            })
            .collect(),
    );
    report.not_counted = Some(t.skipped);
}
