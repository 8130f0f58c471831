//! Scan evidence: an image's Amazon ECR scan (basic or enhanced) as the collector found it.

use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use super::severity::Severity;

/// The image whose scan is asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanTarget {
    /// The 12-digit account of the registry (ECR's `registryId`).
    pub registry_id: String,
    pub region: String,
    pub repository: String,
    pub digest: String,
}

/// Basic (Clair-style `findings`) or enhanced (Amazon Inspector `enhancedFindings`) scanning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ScanKind {
    Basic,
    Enhanced,
}

/// One finding, normalized from either scan type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Finding {
    /// `CVE-2024-12345` (basic: `name`; enhanced: the vulnerability id, else the title).
    pub id: String,
    /// The severity used for judging (unknown severities are UNTRIAGED).
    pub severity: Severity,
    /// The severity exactly as ECR reported it.
    pub reported_severity: String,
    pub scan: ScanKind,
    /// Enhanced only: ACTIVE, SUPPRESSED, CLOSED.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Inspector score (enhanced) or CVSS base score; absent when ECR gives none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// Enhanced only: YES, NO, PARTIAL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix_available: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exploit_available: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_in: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
}

/// What the gate knows about the scan after collecting.
#[derive(Debug, Clone)]
pub enum ScanOutcome {
    /// The scan is COMPLETE (basic) or ACTIVE (enhanced): these are all its findings.
    Findings {
        status: String,
        findings: Vec<Finding>,
        pages: usize,
    },
    /// Still PENDING / IN_PROGRESS / not started when the wait ended.
    NotFinished {
        /// The last status seen (`PENDING`, `IN_PROGRESS`, or `no scan` for ScanNotFound).
        last_status: String,
        waited: Duration,
        bound: WaitBound,
    },
    /// A status that will not turn into findings (FAILED, UNSUPPORTED_IMAGE, …, or unknown).
    Unusable {
        status: String,
        description: Option<String>,
    },
    /// ECR could not be asked (after retries), or said no.
    Error { reason: String },
    /// The image is not in an ECR registry.
    NotEcr { registry: String },
}

/// What ended the wait for an unfinished scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitBound {
    /// The policy's `waitForScan` ran out.
    WaitForScan(Duration),
    /// The gate's evaluation timeout came first (`waitForScan` was longer).
    GateTimeout {
        timeout: Duration,
        wait_for_scan: Duration,
    },
}

/// The collected scan, with notes on how it was obtained.
#[derive(Debug, Clone)]
pub struct ScanEvidence {
    pub outcome: ScanOutcome,
    /// `registryId/region/repository@digest` that was asked, when ECR was asked.
    pub target: Option<ScanTarget>,
    /// Polls, retries, scans started.
    pub notes: Vec<String>,
}

/// Severity from ECR's text; anything unknown (basic scanning's UNDEFINED, new values) is
/// UNTRIAGED, which ranks above HIGH: unknown is never treated as harmless.
pub fn severity_of(text: &str) -> Severity {
    match text.trim().to_ascii_uppercase().as_str() {
        "INFORMATIONAL" => Severity::Informational,
        "LOW" => Severity::Low,
        "MEDIUM" => Severity::Medium,
        "HIGH" => Severity::High,
        "CRITICAL" => Severity::Critical,
        _ => Severity::Untriaged,
    }
}
