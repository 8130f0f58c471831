//! The decision: one JSON shape for the CLI, the HTTP API and every adapter.

use std::fmt::Write as _;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::policy::Mode;

/// pass or fail: the only two answers a gate gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Fail,
}

/// The outcome of one check. `error` means "could not decide" and denies like `fail`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckResult {
    Pass,
    Fail,
    Error,
    Skip,
}

/// One check of one policy, with its reason and the evidence behind it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Check {
    /// Stable check code: `policy-match`, `resolve`, `signature`.
    pub check: String,
    /// The policy the check belongs to (absent for checks before any policy applies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    pub result: CheckResult,
    /// A sentence a developer can act on.
    pub reason: String,
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub evidence: serde_json::Value,
}

impl Check {
    pub fn new(check: &str, policy: Option<&str>, result: CheckResult, reason: String) -> Check {
        Check {
            check: check.to_string(),
            policy: policy.map(str::to_string),
            result,
            reason,
            evidence: serde_json::Value::Null,
        }
    }

    pub fn with_evidence(mut self, evidence: serde_json::Value) -> Check {
        self.evidence = evidence;
        self
    }

    /// Whether this check denies when its policy is enforced.
    pub fn denies(&self) -> bool {
        matches!(self.result, CheckResult::Fail | CheckResult::Error)
    }
}

/// Name and content hash of a policy that was applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyRef {
    pub name: String,
    pub sha256: String,
    pub mode: Mode,
}

/// May this image be deployed, and why.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Decision {
    pub decision: Verdict,
    /// `enforce` if any applied policy enforces, else `audit`.
    pub mode: Mode,
    /// The image as the caller named it.
    pub image: String,
    /// The digest every check was about (absent if it could not be resolved).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    pub policies: Vec<PolicyRef>,
    /// Shared, so that answering from the cache copies no check or evidence.
    pub checks: Arc<[Check]>,
    /// RFC 3339 time of the evaluation.
    pub evaluated_at: String,
    pub duration_ms: u64,
    /// True when this answer came from the decision cache.
    #[serde(default)]
    pub cached: bool,
}

impl Decision {
    /// Builds the verdict from the checks: a denying check of an enforced policy fails the
    /// image; a denying check of an audited policy is reported only. A check that belongs to
    /// no policy (could not match or resolve) always counts.
    pub fn conclude(
        image: String,
        digest: Option<String>,
        policies: Vec<PolicyRef>,
        checks: Vec<Check>,
        started: std::time::Instant,
    ) -> Decision {
        let mode_of = |name: &str| {
            policies
                .iter()
                .find(|p| p.name == name)
                .map_or(Mode::Enforce, |p| p.mode)
        };
        let denied = checks.iter().any(|c| {
            c.denies()
                && match &c.policy {
                    Some(name) => mode_of(name) == Mode::Enforce,
                    None => true,
                }
        });
        let mode = if policies.is_empty() || policies.iter().any(|p| p.mode == Mode::Enforce) {
            Mode::Enforce
        } else {
            Mode::Audit
        };
        Decision {
            decision: if denied { Verdict::Fail } else { Verdict::Pass },
            mode,
            image,
            digest,
            policies,
            checks: bound_checks(checks).into(),
            evaluated_at: now_rfc3339(),
            duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            cached: false,
        }
    }

    pub fn passed(&self) -> bool {
        self.decision == Verdict::Pass
    }

    /// The checks that deny this image: failing or erroring checks of enforced policies, and
    /// of no policy (audited policies' failures are reported, not counted).
    pub fn counting_denials(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| {
            c.denies()
                && c.policy
                    .as_deref()
                    .is_none_or(|name| self.policy_mode(name) == Mode::Enforce)
        })
    }

    /// The mode of the applied policy `name` (`enforce` for a name not among them: a check
    /// that cannot be placed counts).
    pub fn policy_mode(&self, name: &str) -> Mode {
        self.policies
            .iter()
            .find(|p| p.name == name)
            .map_or(Mode::Enforce, |p| p.mode)
    }

    /// True when the image fails only because an ECR scan has not finished: every denying
    /// check that counts is a `vulnerabilities` check whose evidence says `scan_pending`.
    /// Callers that can ask again later (a CodePipeline continuation, the scan-complete event
    /// after a push) wait instead of failing; everyone else treats it as the fail it is.
    pub fn only_waiting_for_scan(&self) -> bool {
        if self.passed() {
            return false;
        }
        let mut any = false;
        let all_pending = self.counting_denials().all(|c| {
            any = true;
            c.check == "vulnerabilities" && c.evidence["scan_pending"] == serde_json::json!(true)
        });
        any && all_pending
    }

    /// The terminal form: a verdict line, then one line per check.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let verdict = match self.decision {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
        };
        let _ = write!(out, "{verdict}  {}", self.image);
        if let Some(d) = &self.digest {
            let _ = write!(out, "  ({d})");
        }
        out.push('\n');
        for p in &self.policies {
            let mode = match p.mode {
                Mode::Enforce => "enforce",
                Mode::Audit => "audit",
            };
            let _ = writeln!(out, "  policy {} [{mode}] {}", p.name, p.sha256);
        }
        for c in self.checks.iter() {
            let mark = match c.result {
                CheckResult::Pass => "pass ",
                CheckResult::Fail => "FAIL ",
                CheckResult::Error => "ERROR",
                CheckResult::Skip => "skip ",
            };
            let scope = c
                .policy
                .as_deref()
                .map(|p| format!("{p}/"))
                .unwrap_or_default();
            let _ = writeln!(out, "  {mark} {scope}{}: {}", c.check, c.reason);
        }
        out
    }
}

/// Longest reason a check keeps (bytes); longer ones are cut with a marker.
pub const MAX_REASON_BYTES: usize = 4 * 1024;
/// Longest string kept anywhere in a check's evidence (bytes).
pub const MAX_EVIDENCE_STRING_BYTES: usize = 1024;
/// Most items kept of a list (or entries of an object) in evidence; the rest are counted.
pub const MAX_EVIDENCE_ITEMS: usize = 32;
/// Deepest nesting kept in evidence; deeper values are replaced by a marker.
pub const MAX_EVIDENCE_DEPTH: usize = 8;
/// What all checks of a decision take at most when serialized (bytes). With the policies,
/// image and times around them a decision stays well under 64 KiB, whatever a registry sends.
pub const MAX_CHECKS_BYTES: usize = 56 * 1024;
/// The reason length used when even evidence-free checks are over [`MAX_CHECKS_BYTES`].
const MIN_REASON_BYTES: usize = 512;

/// `text` cut to at most `max` bytes (on a character boundary) plus a marker that says how
/// much was left out, so a reader knows it is not the whole text.
pub fn truncate_text(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{}… [{} more bytes truncated]",
        &text[..end],
        text.len() - end
    )
}

/// Bounds `value` in place: strings cut, lists and objects capped (an `"… N more"` item or
/// entry says how many were dropped), nesting cut at [`MAX_EVIDENCE_DEPTH`].
pub fn bound_evidence(value: &mut serde_json::Value) {
    bound_value(value, 0);
}

fn bound_value(value: &mut serde_json::Value, depth: usize) {
    use serde_json::Value;
    if depth >= MAX_EVIDENCE_DEPTH && (value.is_array() || value.is_object()) {
        *value = Value::String("… [nested too deep, omitted]".to_string());
        return;
    }
    match value {
        Value::String(s) if s.len() > MAX_EVIDENCE_STRING_BYTES => {
            *s = truncate_text(s, MAX_EVIDENCE_STRING_BYTES);
        }
        Value::Array(items) => {
            if items.len() > MAX_EVIDENCE_ITEMS {
                let more = items.len() - MAX_EVIDENCE_ITEMS;
                items.truncate(MAX_EVIDENCE_ITEMS);
                items.push(Value::String(format!("… {more} more")));
            }
            for item in items.iter_mut() {
                bound_value(item, depth + 1);
            }
        }
        Value::Object(map) => {
            if map.len() > MAX_EVIDENCE_ITEMS {
                let more = map.len() - MAX_EVIDENCE_ITEMS;
                let kept: serde_json::Map<String, Value> = std::mem::take(map)
                    .into_iter()
                    .take(MAX_EVIDENCE_ITEMS)
                    .collect();
                *map = kept;
                map.insert(
                    "…".to_string(),
                    Value::String(format!("{more} more entries")),
                );
            }
            // Keys can come from the registry (annotations) too.
            if map.keys().any(|k| k.len() > MAX_EVIDENCE_STRING_BYTES) {
                let entries: Vec<(String, Value)> = std::mem::take(map).into_iter().collect();
                for (k, v) in entries {
                    map.insert(truncate_text(&k, MAX_EVIDENCE_STRING_BYTES), v);
                }
            }
            for v in map.values_mut() {
                bound_value(v, depth + 1);
            }
        }
        _ => {}
    }
}

fn serialized_len(check: &Check) -> usize {
    serde_json::to_vec(check).map_or(usize::MAX, |v| v.len())
}

/// Every check bounded ([`truncate_text`] on the reason, [`bound_evidence`] on the evidence),
/// then, while all of them together are over [`MAX_CHECKS_BYTES`], the largest evidence is
/// replaced by a note of its size, and last the reasons are shortened further. Results are
/// never changed: only what is quoted.
pub fn bound_checks(mut checks: Vec<Check>) -> Vec<Check> {
    for c in &mut checks {
        if c.reason.len() > MAX_REASON_BYTES {
            c.reason = truncate_text(&c.reason, MAX_REASON_BYTES);
        }
        bound_evidence(&mut c.evidence);
    }
    let mut sizes: Vec<usize> = checks.iter().map(serialized_len).collect();
    let total = |sizes: &[usize]| sizes.iter().fold(0usize, |a, b| a.saturating_add(*b));
    while total(&sizes) > MAX_CHECKS_BYTES {
        // The largest check whose evidence is still there.
        let Some(i) = (0..checks.len())
            .filter(|&i| {
                !checks[i].evidence.is_null() && checks[i].evidence.get("omitted").is_none()
            })
            .max_by_key(|&i| sizes[i])
        else {
            break;
        };
        let bytes = serde_json::to_vec(&checks[i].evidence).map_or(0, |v| v.len());
        // Top-level flags stay: adapters act on them (`scan_pending` decides wait-or-fail).
        let mut kept: serde_json::Map<String, serde_json::Value> = checks[i]
            .evidence
            .as_object()
            .map(|o| {
                o.iter()
                    .filter(|(_, v)| v.is_boolean())
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            })
            .unwrap_or_default();
        kept.insert(
            "omitted".into(),
            format!(
                "{bytes} bytes of evidence left out to keep the decision under {} KiB",
                MAX_CHECKS_BYTES / 1024 + 8
            )
            .into(),
        );
        checks[i].evidence = serde_json::Value::Object(kept);
        sizes[i] = serialized_len(&checks[i]);
    }
    if total(&sizes) > MAX_CHECKS_BYTES {
        for c in &mut checks {
            if c.reason.len() > MIN_REASON_BYTES {
                c.reason = truncate_text(&c.reason, MIN_REASON_BYTES);
            }
        }
    }
    checks
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Verdict or "could not decide": adapters that act on a failure (the quarantine Lambda) act
/// only on a verdict.
impl Decision {
    /// True when the image was decided to fail: the verdict is fail and at least one counting
    /// denial ([`Decision::counting_denials`]) is `fail`. A `fail` is only reached on evidence
    /// read in full, so it stands whatever another check could not decide; an image whose
    /// counting denials are all `error` (registry unreachable, a bound cut evidence short, a
    /// pending scan) was not decided. (Were an `error` elsewhere to veto the verdict, anyone
    /// able to push 33 junk signature layers could keep a failing image out of quarantine.)
    pub fn is_decided_fail(&self) -> bool {
        !self.passed()
            && self
                .counting_denials()
                .any(|c| c.result == CheckResult::Fail)
    }

    /// The counting denials that are `error`: why a failing image was not decided.
    pub fn undecided_checks(&self) -> impl Iterator<Item = &Check> {
        self.counting_denials()
            .filter(|c| c.result == CheckResult::Error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(name: &str, mode: Mode) -> PolicyRef {
        PolicyRef {
            name: name.into(),
            sha256: "sha256:00".into(),
            mode,
        }
    }

    fn check(policy: Option<&str>, result: CheckResult) -> Check {
        Check::new("signature", policy, result, "because".into())
    }

    fn conclude(policies: Vec<PolicyRef>, checks: Vec<Check>) -> Decision {
        Decision::conclude(
            "img".into(),
            None,
            policies,
            checks,
            std::time::Instant::now(),
        )
    }

    #[test]
    fn enforce_fail_and_error_deny_audit_does_not() {
        let d = conclude(
            vec![policy("a", Mode::Enforce)],
            vec![check(Some("a"), CheckResult::Fail)],
        );
        assert_eq!(d.decision, Verdict::Fail);
        let d = conclude(
            vec![policy("a", Mode::Enforce)],
            vec![check(Some("a"), CheckResult::Error)],
        );
        assert_eq!(d.decision, Verdict::Fail);
        let d = conclude(
            vec![policy("a", Mode::Audit)],
            vec![check(Some("a"), CheckResult::Fail)],
        );
        assert_eq!(d.decision, Verdict::Pass);
        assert_eq!(d.mode, Mode::Audit);
        let d = conclude(
            vec![policy("a", Mode::Audit), policy("b", Mode::Enforce)],
            vec![
                check(Some("a"), CheckResult::Pass),
                check(Some("b"), CheckResult::Fail),
            ],
        );
        assert_eq!(d.decision, Verdict::Fail);
        assert_eq!(d.mode, Mode::Enforce);
    }

    #[test]
    fn checks_outside_any_policy_always_count() {
        let d = conclude(vec![], vec![check(None, CheckResult::Fail)]);
        assert_eq!(d.decision, Verdict::Fail);
        let d = conclude(
            vec![policy("a", Mode::Audit)],
            vec![check(None, CheckResult::Error)],
        );
        assert_eq!(d.decision, Verdict::Fail);
        let d = conclude(
            vec![policy("a", Mode::Enforce)],
            vec![check(Some("a"), CheckResult::Skip)],
        );
        assert_eq!(d.decision, Verdict::Pass);
    }

    #[test]
    fn only_waiting_for_scan_needs_every_enforced_denial_to_be_a_pending_scan() {
        let pending = || {
            Check::new(
                "vulnerabilities",
                Some("a"),
                CheckResult::Error,
                "wait".into(),
            )
            .with_evidence(serde_json::json!({"scan_pending": true}))
        };
        let d = conclude(vec![policy("a", Mode::Enforce)], vec![pending()]);
        assert!(d.only_waiting_for_scan());
        let d = conclude(
            vec![policy("a", Mode::Enforce)],
            vec![pending(), check(Some("a"), CheckResult::Fail)],
        );
        assert!(!d.only_waiting_for_scan(), "a real failure does not wait");
        let d = conclude(
            vec![policy("a", Mode::Enforce)],
            vec![Check::new(
                "vulnerabilities",
                Some("a"),
                CheckResult::Error,
                "x".into(),
            )],
        );
        assert!(
            !d.only_waiting_for_scan(),
            "an ECR error is not a pending scan"
        );
        let d = conclude(vec![policy("a", Mode::Enforce)], vec![]);
        assert!(!d.only_waiting_for_scan(), "a pass is not waiting");
    }

    #[test]
    fn json_shape_is_stable() {
        let d = conclude(
            vec![policy("a", Mode::Enforce)],
            vec![check(Some("a"), CheckResult::Pass)],
        );
        let v = serde_json::to_value(&d).unwrap();
        for key in [
            "decision",
            "mode",
            "image",
            "policies",
            "checks",
            "evaluated_at",
            "duration_ms",
        ] {
            assert!(v.get(key).is_some(), "missing {key}");
        }
        assert_eq!(v["decision"], "pass");
        assert_eq!(v["checks"][0]["check"], "signature");
        assert_eq!(v["checks"][0]["result"], "pass");
        assert_eq!(v["policies"][0]["sha256"], "sha256:00");
    }

    #[test]
    fn truncate_text_cuts_on_a_char_boundary_and_says_how_much() {
        assert_eq!(truncate_text("short", 10), "short");
        let t = truncate_text("ééééé", 3);
        assert_eq!(t, "é… [8 more bytes truncated]");
        let long = "x".repeat(10_000);
        let t = truncate_text(&long, 100);
        assert!(t.starts_with(&"x".repeat(100)));
        assert!(t.ends_with("… [9900 more bytes truncated]"), "{t}");
    }

    #[test]
    fn evidence_lists_strings_and_depth_are_bounded() {
        let mut v = serde_json::json!({
            "list": (0..100).collect::<Vec<_>>(),
            "text": "a".repeat(5000),
            "ok": [1, 2, 3],
        });
        bound_evidence(&mut v);
        let list = v["list"].as_array().unwrap();
        assert_eq!(list.len(), MAX_EVIDENCE_ITEMS + 1);
        assert_eq!(list[MAX_EVIDENCE_ITEMS], "… 68 more");
        assert!(v["text"].as_str().unwrap().len() < MAX_EVIDENCE_STRING_BYTES + 64);
        assert!(v["text"].as_str().unwrap().contains("more bytes truncated"));
        assert_eq!(v["ok"], serde_json::json!([1, 2, 3]));

        let mut map = serde_json::Map::new();
        for i in 0..100 {
            map.insert(format!("k{i:03}"), serde_json::json!(i));
        }
        map.insert("x".repeat(5000), serde_json::json!(1));
        let mut v = serde_json::Value::Object(map);
        bound_evidence(&mut v);
        let obj = v.as_object().unwrap();
        assert_eq!(obj.len(), MAX_EVIDENCE_ITEMS + 1);
        assert_eq!(obj["…"], "69 more entries");

        let mut deep = serde_json::json!(1);
        for _ in 0..50 {
            deep = serde_json::json!([deep]);
        }
        bound_evidence(&mut deep);
        assert!(serde_json::to_string(&deep)
            .unwrap()
            .contains("nested too deep"));
    }

    #[test]
    fn a_decision_stays_small_whatever_the_checks_quote() {
        // Many checks, each quoting as much as it can: a huge reason, many large strings.
        let checks: Vec<Check> = (0..40)
            .map(|i| {
                Check::new(
                    "signature",
                    Some("a"),
                    if i == 0 {
                        CheckResult::Error
                    } else {
                        CheckResult::Pass
                    },
                    "r".repeat(100_000),
                )
                .with_evidence(serde_json::json!({
                    "looked_at": vec!["n".repeat(10_000); 100],
                    "nested": {"more": vec![vec!["z".repeat(2000); 40]; 40]},
                }))
            })
            .collect();
        let d = conclude(vec![policy("a", Mode::Enforce)], checks);
        let bytes = serde_json::to_vec(&d).unwrap();
        assert!(bytes.len() <= 64 * 1024, "{} bytes", bytes.len());
        // Results are never changed by bounding: the error still denies.
        assert_eq!(d.decision, Verdict::Fail);
        assert_eq!(d.checks.len(), 40);
        assert!(d.checks[0].reason.contains("more bytes truncated"));

        // A small decision is left exactly as it was.
        let d = conclude(
            vec![policy("a", Mode::Enforce)],
            vec![check(Some("a"), CheckResult::Pass).with_evidence(serde_json::json!({"k": [1]}))],
        );
        assert_eq!(d.checks[0].reason, "because");
        assert_eq!(d.checks[0].evidence, serde_json::json!({"k": [1]}));
    }
}
