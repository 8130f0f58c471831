//! The `vulnerabilities` check: do the image's scan findings stay within the policy's limits?

mod judge;
mod report;
mod text;

#[cfg(test)]
mod tests;

use crate::decision::{Check, CheckCode, CheckResult};
use crate::evidence::ecr_findings::{ScanEvidence, ScanOutcome, WaitBound};
use crate::policy::VulnerabilityPolicy;

pub use report::{
    ExpiredIgnore, IgnoredFinding, NotCounted, RulesApplied, Violation, VulnerabilityReport,
};
use text::seconds;

const CHECK: &str = "vulnerabilities";

/// One outcome of the check, before it becomes a `Check`.
struct Verdict {
    code: CheckCode,
    result: CheckResult,
    reason: String,
}

/// Judges `evidence` against `rule`. `today` (UTC) decides which ignore entries have expired.
pub fn vulnerability_check(
    policy: &str,
    rule: &VulnerabilityPolicy,
    evidence: &ScanEvidence,
    today: time::Date,
) -> Check {
    let mut report = VulnerabilityReport {
        source: "ecr".into(),
        image: evidence.target.as_ref().map(|t| {
            format!(
                "{}.dkr.ecr.{}.amazonaws.com/{}@{}",
                t.registry_id, t.region, t.repository, t.digest
            )
        }),
        notes: evidence.notes.clone(),
        ..VulnerabilityReport::default()
    };
    let verdict = match &evidence.outcome {
        ScanOutcome::NotEcr { registry } => Verdict {
            code: CheckCode::ScanNotEcr,
            result: CheckResult::Fail,
            reason: format!(
                "`vulnerabilities.source: ecr` needs an image in Amazon ECR (ACCOUNT.dkr.ecr.REGION.amazonaws.com/…), but this image is on {registry}; push it to ECR, or narrow this policy's `images` to ECR repositories"
            ),
        },
        ScanOutcome::Error { reason } => Verdict {
            code: CheckCode::ScanUnavailable,
            result: CheckResult::Error,
            reason: format!(
                "could not read the ECR scan findings, so the image fails closed: {reason}"
            ),
        },
        ScanOutcome::Unusable {
            status,
            description,
        } => unusable(status, description.as_deref(), &mut report),
        ScanOutcome::NotFinished {
            last_status,
            waited,
            bound,
        } => not_finished(last_status, *waited, bound, &mut report),
        ScanOutcome::Findings {
            status,
            findings,
            pages,
        } => judge::judge(rule, status, findings, *pages, today, &mut report),
    };
    Check::new(
        CHECK,
        verdict.code,
        Some(policy),
        verdict.result,
        verdict.reason,
    )
    .with_report(&report)
}

/// A scan status that will never have findings: fail closed, with what to do about it.
fn unusable(status: &str, description: Option<&str>, report: &mut VulnerabilityReport) -> Verdict {
    let hint = match status {
        "FAILED" => "re-run the scan (`aws ecr start-image-scan`) and check that the image's OS and packages are supported",
        "UNSUPPORTED_IMAGE" => "ECR cannot scan this image's operating system or format; use a supported base image or another scanner",
        "SCAN_ELIGIBILITY_EXPIRED" => "enhanced scanning no longer rescans this image; push it again or raise the registry's scan duration",
        "FINDINGS_UNAVAILABLE" => "ECR no longer has findings for this image (scanning turned off, or the image was deleted); scan it again",
        _ => "shipgate does not know this status; report it, and scan the image again",
    };
    report.scan_status = Some(status.to_string());
    report.scan_status_description = description.map(str::to_string);
    let described = description
        .filter(|d| !d.is_empty())
        .map(|d| format!(" ({d})"))
        .unwrap_or_default();
    Verdict {
        code: CheckCode::ScanUnusable,
        result: CheckResult::Fail,
        reason: format!(
            "the ECR scan has status {status}{described}, which has no findings to judge, so the image fails closed; {hint}"
        ),
    }
}

/// The scan had not finished when the wait ended: could not decide (`scan-pending`), which
/// adapters that can ask again later (CodePipeline, the scan-complete event) wait on.
fn not_finished(
    last_status: &str,
    waited: std::time::Duration,
    bound: &WaitBound,
    report: &mut VulnerabilityReport,
) -> Verdict {
    report.scan_status = Some(last_status.to_string());
    report.scan_pending = true;
    report.waited_ms = Some(u64::try_from(waited.as_millis()).unwrap_or(u64::MAX));
    let status = if last_status == "no scan" {
        "ECR has no scan of this image".to_string()
    } else {
        format!("last status {last_status}")
    };
    let reason = match bound {
        WaitBound::WaitForScan(wait) => {
            report.wait_ended_by = Some("waitForScan".into());
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
            report.wait_ended_by = Some("gate timeout".into());
            format!(
                "scan not finished after {} ({status}): the gate's evaluation timeout of {} ended the wait before `waitForScan` ({}) ran out; raise the gate's timeout (`--timeout`, `timeoutSeconds`) above `waitForScan`, or lower `waitForScan`",
                seconds(waited),
                seconds(*timeout),
                seconds(*wait_for_scan)
            )
        }
    };
    Verdict {
        code: CheckCode::ScanPending,
        result: CheckResult::Error,
        reason,
    }
}
