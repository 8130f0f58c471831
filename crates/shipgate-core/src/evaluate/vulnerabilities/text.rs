//! The sentences of the `vulnerabilities` check.

use std::time::Duration;

use crate::evidence::ecr_findings::Finding;
use crate::policy::VulnerabilityPolicy;

/// Findings named in a reason at most (the evidence lists more).
pub(super) const MAX_IN_REASON: usize = 10;

pub(super) fn limits(rule: &VulnerabilityPolicy) -> String {
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
pub(super) fn describe(f: &Finding) -> String {
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

pub(super) fn list<'a>(findings: impl ExactSizeIterator<Item = &'a Finding>) -> String {
    let n = findings.len();
    let shown: Vec<String> = findings.take(MAX_IN_REASON).map(describe).collect();
    format!("{}{}", shown.join("; "), more(n))
}

pub(super) fn more(n: usize) -> String {
    if n > MAX_IN_REASON {
        format!(" and {} more", n - MAX_IN_REASON)
    } else {
        String::new()
    }
}

pub(super) fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// `120s`, `1.5s`
pub(super) fn seconds(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}
