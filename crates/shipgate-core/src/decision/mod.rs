//! The decision: one JSON shape for the CLI, the HTTP API and every adapter.

use std::fmt::Write as _;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::policy::{Mode, OnError};

mod bound;
mod code;

pub use bound::*;
pub use code::{codes_markdown, CheckCode};

/// pass or fail: the only two answers a gate gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Fail,
}

/// The outcome of one check. `error` means "could not decide" and denies like `fail` (unless
/// its policy says `onError: audit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CheckResult {
    Pass,
    Fail,
    Error,
    Skip,
}

/// One check of one policy, with its reason and the evidence behind it.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Check {
    /// The check family: `policy-match`, `resolve`, `timeout`, `internal`, `signature`,
    /// `provenance`, `vulnerabilities`, `base-image`.
    pub check: String,
    /// The stable code of this outcome (see `docs/codes.md`): what programs act on.
    pub code: CheckCode,
    /// The policy the check belongs to (absent for checks before any policy applies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    pub result: CheckResult,
    /// A sentence a developer can act on.
    pub reason: String,
    /// What to do about it, the same for every check with this code (absent when it passed).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub remediation: String,
    /// What the check saw: one of the typed reports in `evaluate` (`SignatureReport`, …),
    /// bounded in size.
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub evidence: serde_json::Value,
}

impl Check {
    pub fn new(
        check: &str,
        code: CheckCode,
        policy: Option<&str>,
        result: CheckResult,
        reason: String,
    ) -> Check {
        Check {
            check: check.to_string(),
            code,
            policy: policy.map(str::to_string),
            result,
            reason,
            remediation: code.remediation().to_string(),
            evidence: serde_json::Value::Null,
        }
    }

    /// Attaches a typed report as the evidence (serialized: the decision keeps JSON so that it
    /// can be bounded in size whatever a registry sent).
    pub fn with_report(mut self, report: &impl Serialize) -> Check {
        self.evidence = serde_json::to_value(report).unwrap_or_else(|e| {
            serde_json::Value::String(format!("evidence could not be serialized: {e}"))
        });
        self
    }

    pub fn with_evidence(mut self, evidence: serde_json::Value) -> Check {
        self.evidence = evidence;
        self
    }

    /// The evidence read back as the typed report `T`, when it is one (and was not trimmed).
    pub fn report<T: serde::de::DeserializeOwned>(&self) -> Option<T> {
        serde_json::from_value(self.evidence.clone()).ok()
    }

    /// Whether this check denies when its policy is enforced.
    pub fn denies(&self) -> bool {
        matches!(self.result, CheckResult::Fail | CheckResult::Error)
    }
}

/// Name and content hash of a policy that was applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PolicyRef {
    pub name: String,
    pub sha256: String,
    pub mode: Mode,
    /// How this policy's `error` results count (absent: `deny`).
    #[serde(default, skip_serializing_if = "OnError::is_deny")]
    pub on_error: OnError,
}

impl PolicyRef {
    /// The reference a decision records for `policy`.
    pub fn of(policy: &crate::policy::Policy) -> PolicyRef {
        PolicyRef {
            name: policy.name.clone(),
            sha256: policy.sha256.clone(),
            mode: policy.mode,
            on_error: policy.on_error,
        }
    }

    /// Whether a denying `check` of this policy counts against the image.
    fn counts(&self, check: &Check) -> bool {
        self.mode == Mode::Enforce
            && !(check.result == CheckResult::Error && self.on_error == OnError::Audit)
    }
}

/// Whether `check` denies the image under `policies`: a failing or erroring check of an
/// enforced policy (an `error` not when the policy says `onError: audit`), or of no policy
/// (could not match, resolve or finish), or of a policy not among them.
fn counts(policies: &[PolicyRef], check: &Check) -> bool {
    check.denies()
        && match &check.policy {
            Some(name) => policies
                .iter()
                .find(|p| &p.name == name)
                .is_none_or(|p| p.counts(check)),
            None => true,
        }
}

/// May this image be deployed, and why.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
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
        let denied = checks.iter().any(|c| counts(&policies, c));
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
        self.checks.iter().filter(|c| counts(&self.policies, c))
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
            c.code == CheckCode::ScanPending
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
            let on_error = match p.on_error {
                OnError::Deny => "",
                OnError::Audit => ", onError audit",
            };
            let _ = writeln!(out, "  policy {} [{mode}{on_error}] {}", p.name, p.sha256);
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
            let _ = writeln!(
                out,
                "  {mark} {scope}{} [{}]: {}",
                c.check, c.code, c.reason
            );
        }
        out
    }
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
mod tests;
