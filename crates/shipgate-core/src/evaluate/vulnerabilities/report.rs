//! The evidence of a `vulnerabilities` check, typed.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::evidence::ecr_findings::Finding;
use crate::policy::Severity;

/// What the `vulnerabilities` check saw. The scan fields are present when the scan was read;
/// `scan_pending` is set when it had not finished (the code is then `scan-pending`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct VulnerabilityReport {
    /// Where findings come from: `ecr`.
    pub source: String,
    /// `ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPO@DIGEST` that ECR was asked about.
    pub image: Option<String>,
    /// Polls, retries, scans started.
    pub notes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scan_status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scan_status_description: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub scan_pending: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waited_ms: Option<u64>,
    /// `waitForScan` or `gate timeout`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_ended_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pages: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub findings_reported: Option<usize>,
    /// Counted findings per severity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counts: Option<BTreeMap<Severity, usize>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<RulesApplied>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub violations_total: Option<usize>,
    /// The findings that broke the policy (at most 500), each with the rule it broke.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub violations: Option<Vec<Violation>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignored: Option<Vec<IgnoredFinding>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expired_ignores: Option<Vec<ExpiredIgnore>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_counted: Option<NotCounted>,
}

/// The policy's limits, as applied.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RulesApplied {
    pub max_severity: Option<Severity>,
    pub budgets: BTreeMap<Severity, u64>,
    pub only_fixable: bool,
    pub min_score: f64,
}

/// A finding that broke the policy.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Violation {
    #[serde(flatten)]
    pub finding: Finding,
    /// `above maxSeverity HIGH`, `over the HIGH budget of 3`.
    pub broke: String,
}

/// A finding an `ignore` entry accepted.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct IgnoredFinding {
    pub id: String,
    pub severity: Severity,
    pub package: Option<String>,
    pub version: Option<String>,
    pub reason: String,
    pub expires: Option<String>,
}

/// An `ignore` entry past its last day: its finding counts again.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ExpiredIgnore {
    pub id: String,
    pub reason: String,
    pub expired_on: Option<String>,
}

/// Why findings were not counted.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NotCounted {
    pub suppressed_or_closed: usize,
    pub below_min_score: usize,
    pub not_fixable: usize,
    pub ignored: usize,
}
