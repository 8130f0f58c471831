//! What a person sees of the step: the Markdown step summary and the annotations. Pure
//! functions of the outcomes, bounded in size whatever the decisions hold.

use std::fmt::Write as _;

use serde_json::Value;

use super::runner_env::{annotation, Level};
use super::ImageOutcome;
use crate::decision::{Check, CheckCode, CheckResult, Decision};
use crate::evaluate::Violation;
use crate::policy::Mode;

/// Check rows shown per image; the rest are counted ("and N more").
const MAX_ROWS_PER_IMAGE: usize = 30;
/// Characters of one table cell (reasons can list many findings).
const MAX_CELL_CHARS: usize = 400;
/// Finding links shown per image.
const MAX_FINDINGS_PER_IMAGE: usize = 20;
/// GitHub refuses step summaries over 1 MiB; stay well below it.
const MAX_SUMMARY_BYTES: usize = 512 * 1024;
/// Annotations per level: GitHub shows at most 10 of each per step.
const MAX_ANNOTATIONS_PER_LEVEL: usize = 10;
/// Characters of one annotation message.
const MAX_ANNOTATION_CHARS: usize = 1000;

/// The step summary: a headline, one row per image, then a section per image with a row per
/// check and links to the findings that broke a policy.
pub fn render(outcomes: &[ImageOutcome], fail_on_never: bool) -> String {
    let passed = outcomes.iter().all(|o| o.decision.passed());
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## shipgate: {}\n",
        if passed { "✅ pass" } else { "❌ fail" }
    );
    if !passed && fail_on_never {
        out.push_str(
            "> `fail-on: never`: this step reports the fail but does not fail the job.\n\n",
        );
    }
    out.push_str("| image | decision | digest |\n|---|---|---|\n");
    for o in outcomes {
        let _ = writeln!(
            out,
            "| {} | {} | {} |",
            code(&o.decision.image),
            verdict_text(o),
            o.decision.digest.as_deref().map_or("—".into(), code)
        );
    }
    for o in outcomes {
        out.push('\n');
        image_section(&mut out, o);
    }
    bounded(out)
}

fn verdict_text(o: &ImageOutcome) -> &'static str {
    if o.not_decided {
        "❌ fail (could not get a decision)"
    } else if o.decision.passed() {
        "✅ pass"
    } else {
        "❌ fail"
    }
}

fn image_section(out: &mut String, o: &ImageOutcome) {
    let d = &o.decision;
    let _ = writeln!(out, "### {}: {}\n", verdict_text(o), code(&d.image));
    if o.not_decided {
        out.push_str("No gate answered for this image, so it fails (fail closed).\n\n");
    }
    let mut facts = Vec::new();
    if let Some(digest) = &d.digest {
        facts.push(format!("Digest: {}", code(digest)));
    }
    if !d.policies.is_empty() {
        let policies: Vec<String> = d
            .policies
            .iter()
            .map(|p| {
                format!(
                    "{} ({}, {})",
                    code(&p.name),
                    mode_text(p.mode),
                    code(&p.sha256)
                )
            })
            .collect();
        facts.push(format!("Policies: {}", policies.join(", ")));
    }
    if !facts.is_empty() {
        // Two trailing spaces: a Markdown line break between the facts.
        let _ = writeln!(out, "{}\n", facts.join("  \n"));
    }
    out.push_str("| check | policy | result | reason |\n|---|---|---|---|\n");
    for c in d.checks.iter().take(MAX_ROWS_PER_IMAGE) {
        let policy = match &c.policy {
            Some(name) if d.policy_mode(name) == Mode::Audit => format!("{} (audit)", code(name)),
            Some(name) => code(name),
            None => "—".into(),
        };
        let _ = writeln!(
            out,
            "| {} | {policy} | {} | {} |",
            code(&c.check),
            result_text(c.result),
            cell(&c.reason)
        );
    }
    if d.checks.len() > MAX_ROWS_PER_IMAGE {
        let _ = writeln!(
            out,
            "\n… and {} more checks (see the `decision-json` output).",
            d.checks.len() - MAX_ROWS_PER_IMAGE
        );
    }
    findings_section(out, d);
}

/// Links to the ECR findings that broke a policy: the `violations` of each
/// `finding-over-budget` check's `VulnerabilityReport`, read item by item (the decision's size
/// bound may have replaced the tail of the list with a marker).
fn findings_section(out: &mut String, d: &Decision) {
    let mut lines = Vec::new();
    let mut total = 0usize;
    for c in d
        .checks
        .iter()
        .filter(|c| c.code == CheckCode::FindingOverBudget)
    {
        let violations: Vec<Violation> = c
            .evidence
            .get("violations")
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(|v| serde_json::from_value(v.clone()).ok())
                    .collect()
            })
            .unwrap_or_default();
        // `violations` is capped; `violations_total` is the real count.
        let reported = c
            .evidence
            .get("violations_total")
            .and_then(Value::as_u64)
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(0);
        total += reported.max(violations.len());
        for v in &violations {
            if lines.len() < MAX_FINDINGS_PER_IMAGE {
                lines.push(finding_line(c, v));
            }
        }
    }
    if lines.is_empty() {
        return;
    }
    out.push_str("\nFindings that broke a policy:\n\n");
    for line in &lines {
        let _ = writeln!(out, "- {line}");
    }
    if total > lines.len() {
        let _ = writeln!(
            out,
            "- … and {} more (see the `decision-json` output)",
            total - lines.len()
        );
    }
}

fn finding_line(c: &Check, v: &Violation) -> String {
    let f = &v.finding;
    let title = if f.id.is_empty() {
        "finding"
    } else {
        f.id.as_str()
    };
    let mut line = match finding_link(&f.id, f.link.as_deref().unwrap_or("")) {
        Some(url) => format!("[{}]({url})", text(title)),
        None => text(title),
    };
    let severity = f.severity.as_str();
    for part in [Some(severity), f.package.as_deref(), f.version.as_deref()]
        .into_iter()
        .flatten()
    {
        if !part.is_empty() {
            let _ = write!(line, " · {}", text(part));
        }
    }
    if let Some(fixed) = f.fixed_in.as_deref().filter(|s| !s.is_empty()) {
        let _ = write!(line, " · fixed in {}", text(fixed));
    }
    if let Some(policy) = &c.policy {
        let _ = write!(line, " ({})", code(policy));
    }
    line
}

/// The finding's own link when it is a plain `https://` URL, else the advisory page its id
/// names (CVE → NVD, GHSA → GitHub advisories), else none. A link is never built from text
/// that could break out of the Markdown link syntax.
pub fn finding_link(id: &str, link: &str) -> Option<String> {
    let safe = |s: &str| {
        s.len() <= 512
            && s.chars().all(|ch| {
                ch.is_ascii_graphic() && !matches!(ch, '(' | ')' | '<' | '>' | '"' | '\\' | '`')
            })
    };
    if link.starts_with("https://") && safe(link) {
        return Some(link.to_string());
    }
    let id_ok = |prefix: &str| {
        id.strip_prefix(prefix).is_some_and(|rest| {
            !rest.is_empty()
                && rest.len() <= 40
                && rest
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || ch == '-')
        })
    };
    if id_ok("CVE-") {
        Some(format!("https://nvd.nist.gov/vuln/detail/{id}"))
    } else if id_ok("GHSA-") {
        Some(format!("https://github.com/advisories/{id}"))
    } else {
        None
    }
}

/// The annotations: `::error` per denying check that counts (an enforced policy's, or one
/// outside any policy), `::warning` per denial of an audited policy. Capped per level.
pub fn annotations(outcomes: &[ImageOutcome]) -> Vec<String> {
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    for o in outcomes {
        let d = &o.decision;
        let mut counted = false;
        for c in d.checks.iter().filter(|c| c.denies()) {
            let level = match &c.policy {
                Some(name) if d.policy_mode(name) == Mode::Audit => Level::Warning,
                _ => Level::Error,
            };
            counted |= level == Level::Error;
            let scope = c
                .policy
                .as_deref()
                .map(|p| format!("{p}/"))
                .unwrap_or_default();
            let message = truncate(
                &format!("{}: {scope}{}: {}", d.image, c.check, c.reason),
                MAX_ANNOTATION_CHARS,
            );
            match level {
                Level::Error => errors.push(message),
                Level::Warning => warnings.push(message),
            }
        }
        if !d.passed() && !counted {
            errors.push(format!("{}: fail", d.image));
        }
    }
    let mut lines = Vec::new();
    for (level, messages) in [(Level::Error, errors), (Level::Warning, warnings)] {
        let n = messages.len();
        for m in messages.into_iter().take(MAX_ANNOTATIONS_PER_LEVEL) {
            lines.push(annotation(level, "shipgate", &m));
        }
        if n > MAX_ANNOTATIONS_PER_LEVEL {
            lines.push(annotation(
                level,
                "shipgate",
                &format!(
                    "… and {} more; see the step summary",
                    n - MAX_ANNOTATIONS_PER_LEVEL
                ),
            ));
        }
    }
    lines
}

fn mode_text(mode: Mode) -> &'static str {
    match mode {
        Mode::Enforce => "enforce",
        Mode::Audit => "audit",
    }
}

fn result_text(result: CheckResult) -> &'static str {
    match result {
        CheckResult::Pass => "✅ pass",
        CheckResult::Fail => "❌ fail",
        CheckResult::Error => "⚠️ error",
        CheckResult::Skip => "⏭️ skip",
    }
}

/// A table cell: bounded, one line, no `|` that would split the row, no HTML. Reasons quote
/// names in backticks; balanced pairs stay code spans (whose content is literal, so only `|`
/// is escaped there), everything else is Markdown-inert text.
pub fn cell(s: &str) -> String {
    let s = truncate(s, MAX_CELL_CHARS);
    let parts: Vec<&str> = s.split('`').collect();
    let mut out = String::with_capacity(s.len());
    for (i, part) in parts.iter().enumerate() {
        let opened = i % 2 == 1;
        if opened && i + 1 < parts.len() && !part.trim().is_empty() {
            let code = part.replace('|', "\\|").replace(['\r', '\n'], " ");
            let _ = write!(out, "`{code}`");
        } else {
            // An unpaired or empty backtick is shown as a character.
            if opened {
                out.push_str("\\`");
            }
            out.push_str(&text(part));
            if opened && i + 1 < parts.len() {
                out.push_str("\\`");
            }
        }
    }
    out.replace("\r\n", "<br>").replace(['\r', '\n'], "<br>")
}

/// Markdown-inert text: HTML and the characters that make links, emphasis, code and cells.
fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '|' | '[' | ']' | '`' | '*' | '_' | '\\' => {
                out.push('\\');
                out.push(ch);
            }
            _ => out.push(ch),
        }
    }
    out
}

/// A code span for names shipgate controls or validated (images, digests, policy names);
/// anything that could end the span or a table cell is dropped rather than trusted.
fn code(s: &str) -> String {
    let clean: String = truncate(s, MAX_CELL_CHARS)
        .chars()
        .filter(|ch| !matches!(ch, '`' | '|' | '\r' | '\n'))
        .collect();
    format!("`{clean}`")
}

fn truncate(s: &str, max_chars: usize) -> String {
    match s.char_indices().nth(max_chars) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_string(),
    }
}

fn bounded(mut out: String) -> String {
    if out.len() > MAX_SUMMARY_BYTES {
        let mut at = MAX_SUMMARY_BYTES;
        while !out.is_char_boundary(at) {
            at -= 1;
        }
        out.truncate(at);
        out.push_str("\n\n… summary truncated; see the `decision-json` output.\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::PolicyRef;
    use serde_json::json;

    fn decision(checks: Vec<Check>, policies: Vec<(&str, Mode)>) -> Decision {
        Decision::conclude(
            "reg.test/app:v1".into(),
            Some("sha256:aa".into()),
            policies
                .into_iter()
                .map(|(n, mode)| PolicyRef {
                    name: n.into(),
                    sha256: "sha256:pp".into(),
                    mode,
                    on_error: Default::default(),
                })
                .collect(),
            checks,
            std::time::Instant::now(),
        )
    }

    fn outcome(d: Decision) -> ImageOutcome {
        ImageOutcome {
            decision: d,
            not_decided: false,
        }
    }

    #[test]
    fn cells_escape_pipes_newlines_and_html() {
        assert_eq!(
            cell("a | b\nc\r\nd <b>&"),
            "a \\| b<br>c<br>d &lt;b&gt;&amp;"
        );
        assert_eq!(cell("[x](javascript:y)"), "\\[x\\](javascript:y)");
        assert_eq!(
            cell("key `release` (a|b `x|y`) `<b>` scan_pending"),
            "key `release` (a\\|b `x\\|y`) `<b>` scan\\_pending"
        );
        assert_eq!(cell("one ` open"), "one \\` open");
        assert_eq!(cell("a `` b"), "a \\`\\` b");
        let long = "x".repeat(MAX_CELL_CHARS + 10);
        assert_eq!(cell(&long).chars().count(), MAX_CELL_CHARS + 1);
        assert!(cell(&long).ends_with('…'));
    }

    #[test]
    fn summaries_over_the_bound_are_cut_on_a_char_boundary() {
        let short = "## shipgate: ✅ pass\n".to_string();
        assert_eq!(bounded(short.clone()), short);
        // Two-byte characters, so the bound falls inside one.
        let long = format!("a{}z", "é".repeat(MAX_SUMMARY_BYTES / 2 + 1));
        let cut = bounded(long);
        assert!(cut.len() < MAX_SUMMARY_BYTES + 100, "{}", cut.len());
        assert!(cut.ends_with("summary truncated; see the `decision-json` output.\n"));
        assert!(!cut.contains('z'));
    }

    #[test]
    fn code_spans_cannot_be_broken_out_of() {
        assert_eq!(code("a`b|c\nd"), "`abcd`");
    }

    #[test]
    fn finding_links_are_plain_https_or_derived_from_the_id() {
        assert_eq!(
            finding_link("CVE-2024-1", "https://example.test/CVE-2024-1").as_deref(),
            Some("https://example.test/CVE-2024-1")
        );
        assert_eq!(
            finding_link("CVE-2024-1", "javascript:alert(1)").as_deref(),
            Some("https://nvd.nist.gov/vuln/detail/CVE-2024-1")
        );
        assert_eq!(
            finding_link("CVE-2024-1", "https://x.test/a)b").as_deref(),
            Some("https://nvd.nist.gov/vuln/detail/CVE-2024-1")
        );
        assert_eq!(
            finding_link("GHSA-abcd-efgh-ijkl", "").as_deref(),
            Some("https://github.com/advisories/GHSA-abcd-efgh-ijkl")
        );
        assert_eq!(finding_link("CVE-1)](x", ""), None);
        assert_eq!(finding_link("some title", "http://plain.test"), None);
    }

    #[test]
    fn summary_has_a_row_per_check_and_links_findings() {
        let vuln = Check::new(
            "vulnerabilities",
            crate::decision::CheckCode::FindingOverBudget,
            Some("prod"),
            CheckResult::Fail,
            "CVE-2024-1 (CRITICAL) | too many\nfindings".into(),
        )
        .with_evidence(json!({
            "violations_total": 3,
            "violations": [
                {"id": "CVE-2024-1", "severity": "CRITICAL", "reported_severity": "CRITICAL",
                 "scan": "enhanced", "package": "openssl", "version": "3.0.1",
                 "fixed_in": "3.0.2", "link": "https://nvd.nist.gov/vuln/detail/CVE-2024-1",
                 "broke": "above maxSeverity HIGH"},
                {"id": "GHSA-aaaa-bbbb-cccc", "severity": "HIGH", "reported_severity": "HIGH",
                 "scan": "enhanced", "broke": "over the HIGH budget of 0"},
                "… 1 more"
            ]
        }));
        let sig = Check::new(
            "signature",
            crate::decision::CheckCode::SignatureVerified,
            Some("prod"),
            CheckResult::Pass,
            "ok".into(),
        );
        let d = decision(vec![sig, vuln], vec![("prod", Mode::Enforce)]);
        let md = render(&[outcome(d)], false);
        assert!(md.starts_with("## shipgate: ❌ fail\n"), "{md}");
        assert!(
            md.contains("| `reg.test/app:v1` | ❌ fail | `sha256:aa` |"),
            "{md}"
        );
        assert!(
            md.contains("| `signature` | `prod` | ✅ pass | ok |"),
            "{md}"
        );
        assert!(
            md.contains("| `vulnerabilities` | `prod` | ❌ fail | CVE-2024-1 (CRITICAL) \\| too many<br>findings |"),
            "{md}"
        );
        assert!(md.contains(
            "- [CVE-2024-1](https://nvd.nist.gov/vuln/detail/CVE-2024-1) · CRITICAL · openssl · 3.0.1 · fixed in 3.0.2 (`prod`)"
        ), "{md}");
        assert!(
            md.contains(
                "- [GHSA-aaaa-bbbb-cccc](https://github.com/advisories/GHSA-aaaa-bbbb-cccc) · HIGH"
            ),
            "{md}"
        );
        assert!(md.contains("- … and 1 more"), "{md}");
    }

    #[test]
    fn rows_are_capped() {
        let checks = (0..MAX_ROWS_PER_IMAGE + 5)
            .map(|i| {
                Check::new(
                    "signature",
                    crate::decision::CheckCode::SignatureVerified,
                    Some("p"),
                    CheckResult::Pass,
                    format!("r{i}"),
                )
            })
            .collect();
        let md = render(
            &[outcome(decision(checks, vec![("p", Mode::Enforce)]))],
            false,
        );
        assert_eq!(md.matches("| `signature` |").count(), MAX_ROWS_PER_IMAGE);
        assert!(md.contains("… and 5 more checks"), "{md}");
    }

    #[test]
    fn enforced_denials_are_errors_audited_ones_warnings() {
        let d = decision(
            vec![
                Check::new(
                    "signature",
                    crate::decision::CheckCode::SignatureMissing,
                    Some("prod"),
                    CheckResult::Fail,
                    "no sig\nx".into(),
                ),
                Check::new(
                    "base-image",
                    crate::decision::CheckCode::EvidenceUnavailable,
                    Some("trial"),
                    CheckResult::Error,
                    "50%".into(),
                ),
                Check::new(
                    "provenance",
                    crate::decision::CheckCode::ProvenanceVerified,
                    Some("prod"),
                    CheckResult::Pass,
                    "ok".into(),
                ),
            ],
            vec![("prod", Mode::Enforce), ("trial", Mode::Audit)],
        );
        assert_eq!(
            annotations(&[outcome(d)]),
            vec![
                "::error title=shipgate::reg.test/app:v1: prod/signature: no sig%0Ax".to_string(),
                "::warning title=shipgate::reg.test/app:v1: trial/base-image: 50%25".to_string(),
            ]
        );
    }

    #[test]
    fn annotations_are_capped_per_level() {
        let checks = (0..15)
            .map(|i| {
                Check::new(
                    "signature",
                    crate::decision::CheckCode::SignatureMissing,
                    Some("p"),
                    CheckResult::Fail,
                    format!("r{i}"),
                )
            })
            .collect();
        let lines = annotations(&[outcome(decision(checks, vec![("p", Mode::Enforce)]))]);
        assert_eq!(lines.len(), MAX_ANNOTATIONS_PER_LEVEL + 1);
        assert!(lines[MAX_ANNOTATIONS_PER_LEVEL].contains("and 5 more"));
    }

    #[test]
    fn audit_only_fail_says_so_and_fail_on_never_is_noted() {
        let d = decision(
            vec![Check::new(
                "policy-match",
                crate::decision::CheckCode::PolicyUnmatched,
                None,
                CheckResult::Fail,
                "no policy".into(),
            )],
            vec![],
        );
        let md = render(&[outcome(d)], true);
        assert!(md.contains("`fail-on: never`"), "{md}");
        assert!(
            md.contains("| `policy-match` | — | ❌ fail | no policy |"),
            "{md}"
        );
    }
}
