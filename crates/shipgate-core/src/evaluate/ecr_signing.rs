//! The `ecr-signing` check: does Amazon ECR report that its managed signing of the image is
//! complete? This reads ECR's bookkeeping only; a `signatures` rule with an `awsSigner`
//! authority verifies the signature itself, and a policy that wants both says both.

use serde::{Deserialize, Serialize};

use crate::decision::{Check, CheckCode, CheckResult};
use crate::evidence::ecr_signing::{EcrSigningEvidence, EcrSigningStatus};
use crate::policy::EcrSigningPolicy;

const CHECK: &str = "ecr-signing";

/// The evidence of an `ecr-signing` check.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EcrSigningReport {
    /// The status the rule requires (`COMPLETE`).
    pub required_status: String,
    /// The signing profile the rule requires, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_profile_arn: Option<String>,
    /// `ACCOUNT/REGION/REPOSITORY@DIGEST` as ECR was asked, when the image is in ECR.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Every status ECR reported.
    pub statuses: Vec<EcrSigningStatus>,
}

pub fn ecr_signing_check(
    policy: &str,
    rule: &EcrSigningPolicy,
    found: &EcrSigningEvidence,
) -> Check {
    let report = EcrSigningReport {
        required_status: rule.status.clone(),
        signing_profile_arn: rule.signing_profile_arn.clone(),
        image: found.target.as_ref().map(|t| {
            format!(
                "{}/{}/{}@{}",
                t.registry_id, t.region, t.repository, t.digest
            )
        }),
        statuses: found.statuses.clone(),
    };
    let (result, code, reason) = judge(rule, found);
    Check::new(CHECK, code, Some(policy), result, reason).with_report(&report)
}

fn judge(rule: &EcrSigningPolicy, found: &EcrSigningEvidence) -> (CheckResult, CheckCode, String) {
    let Some(target) = &found.target else {
        return (
            CheckResult::Fail,
            CheckCode::EcrSigningNotEcr,
            "the policy requires Amazon ECR managed signing, but the image is not in an ECR registry".into(),
        );
    };
    if let Some(e) = &found.error {
        return (
            CheckResult::Error,
            CheckCode::EcrSigningUnavailable,
            format!(
                "could not read ECR's signing status of {}@{}: {e}",
                target.repository, target.digest
            ),
        );
    }
    let profile = rule.signing_profile_arn.as_deref();
    let relevant: Vec<&EcrSigningStatus> = found
        .statuses
        .iter()
        .filter(|s| {
            profile.is_none_or(|p| {
                s.signing_profile_arn
                    .as_deref()
                    .is_some_and(|a| same_profile(a, p))
            })
        })
        .collect();
    let by = match profile {
        Some(p) => format!(" with signing profile {p}"),
        None => String::new(),
    };
    judge_statuses(rule, &target.digest, &by, &relevant)
        .unwrap_or_else(|| missing(&target.digest, &by, &found.statuses))
}

/// The verdict from the statuses of the profile that counts: complete, in progress or failed;
/// `None` when there is none of those.
fn judge_statuses(
    rule: &EcrSigningPolicy,
    digest: &str,
    by: &str,
    relevant: &[&EcrSigningStatus],
) -> Option<(CheckResult, CheckCode, String)> {
    if let Some(s) = relevant.iter().find(|s| s.status == rule.status) {
        let with = s
            .signing_profile_arn
            .as_deref()
            .unwrap_or("an unnamed profile");
        return Some((
            CheckResult::Pass,
            CheckCode::EcrSigningComplete,
            format!(
                "ECR reports managed signing {} for {digest} (profile {with})",
                s.status
            ),
        ));
    }
    if relevant.iter().any(|s| s.status == "IN_PROGRESS") {
        return Some((
            CheckResult::Error,
            CheckCode::EcrSigningPending,
            format!("ECR is still signing {digest}{by}; not a verdict yet, retry shortly"),
        ));
    }
    let s = relevant.iter().find(|s| s.status == "FAILED")?;
    Some((
        CheckResult::Fail,
        CheckCode::EcrSigningFailed,
        format!(
            "ECR's managed signing of {digest}{by} FAILED ({}: {})",
            s.failure_code.as_deref().unwrap_or("no failure code"),
            s.failure_reason.as_deref().unwrap_or("no reason given")
        ),
    ))
}

/// No status of the profile that counts: say what ECR did report.
fn missing(digest: &str, by: &str, all: &[EcrSigningStatus]) -> (CheckResult, CheckCode, String) {
    let others: Vec<String> = all
        .iter()
        .map(|s| {
            format!(
                "{} by {}",
                s.status,
                s.signing_profile_arn.as_deref().unwrap_or("?")
            )
        })
        .collect();
    let seen = if others.is_empty() {
        "ECR reports no signing status at all".to_string()
    } else {
        format!("ECR reports only: {}", others.join(", "))
    };
    (
        CheckResult::Fail,
        CheckCode::EcrSigningMissing,
        format!(
            "ECR did not sign {digest}{by} ({seen}): no ECR signing rule matched the repository when the image was pushed"
        ),
    )
}

/// Signing profiles compare case-insensitively (AWS Signer's own rule for profile ARNs); a
/// status may name a profile version (`…/signing-profiles/NAME/VERSION`), which counts for
/// the profile.
fn same_profile(status_arn: &str, policy_arn: &str) -> bool {
    let a = status_arn.to_ascii_lowercase();
    let p = policy_arn.to_ascii_lowercase();
    a == p
        || a.strip_prefix(&p)
            .is_some_and(|rest| rest.starts_with('/') && !rest[1..].contains('/'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::ecr_findings::ScanTarget;

    const PROFILE: &str = "arn:aws:signer:us-east-1:123456789012:/signing-profiles/release";

    fn target() -> ScanTarget {
        ScanTarget {
            registry_id: "123456789012".into(),
            region: "us-east-1".into(),
            repository: "app".into(),
            digest: format!("sha256:{}", "a".repeat(64)),
        }
    }

    fn status(arn: &str, status: &str) -> EcrSigningStatus {
        EcrSigningStatus {
            signing_profile_arn: Some(arn.into()),
            status: status.into(),
            failure_code: (status == "FAILED").then(|| "SIGNING_PROFILE_REVOKED".into()),
            failure_reason: None,
        }
    }

    fn rule(profile: Option<&str>) -> EcrSigningPolicy {
        EcrSigningPolicy {
            status: "COMPLETE".into(),
            signing_profile_arn: profile.map(str::to_string),
        }
    }

    fn judged(
        rule: &EcrSigningPolicy,
        statuses: Vec<EcrSigningStatus>,
    ) -> (CheckResult, CheckCode) {
        let found = EcrSigningEvidence {
            target: Some(target()),
            statuses,
            error: None,
        };
        let c = ecr_signing_check("p", rule, &found);
        (c.result, c.code)
    }

    #[test]
    fn each_status_maps_to_its_result_and_code() {
        let r = rule(None);
        assert_eq!(
            judged(&r, vec![status(PROFILE, "COMPLETE")]),
            (CheckResult::Pass, CheckCode::EcrSigningComplete)
        );
        assert_eq!(
            judged(&r, vec![status(PROFILE, "IN_PROGRESS")]),
            (CheckResult::Error, CheckCode::EcrSigningPending)
        );
        assert_eq!(
            judged(&r, vec![status(PROFILE, "FAILED")]),
            (CheckResult::Fail, CheckCode::EcrSigningFailed)
        );
        assert_eq!(
            judged(&r, vec![]),
            (CheckResult::Fail, CheckCode::EcrSigningMissing)
        );
        // A status this build does not know is not COMPLETE.
        assert_eq!(
            judged(&r, vec![status(PROFILE, "SOMETHING_NEW")]),
            (CheckResult::Fail, CheckCode::EcrSigningMissing)
        );
    }

    #[test]
    fn a_named_profile_only_counts_its_own_status() {
        let other = "arn:aws:signer:us-east-1:123456789012:/signing-profiles/other";
        let r = rule(Some(PROFILE));
        assert_eq!(
            judged(&r, vec![status(other, "COMPLETE")]),
            (CheckResult::Fail, CheckCode::EcrSigningMissing)
        );
        assert_eq!(
            judged(
                &r,
                vec![
                    status(other, "COMPLETE"),
                    status(&format!("{PROFILE}/v1"), "COMPLETE")
                ]
            ),
            (CheckResult::Pass, CheckCode::EcrSigningComplete)
        );
        // `release-2` is another profile, not a version of `release`.
        assert_eq!(
            judged(&r, vec![status(&format!("{PROFILE}-2"), "COMPLETE")]),
            (CheckResult::Fail, CheckCode::EcrSigningMissing)
        );
    }

    #[test]
    fn not_ecr_and_unreadable_are_not_passes() {
        let r = rule(None);
        let c = ecr_signing_check("p", &r, &EcrSigningEvidence::default());
        assert_eq!(
            (c.result, c.code),
            (CheckResult::Fail, CheckCode::EcrSigningNotEcr)
        );
        let c = ecr_signing_check(
            "p",
            &r,
            &EcrSigningEvidence {
                target: Some(target()),
                statuses: vec![status(PROFILE, "COMPLETE")],
                error: Some("AccessDenied".into()),
            },
        );
        assert_eq!(
            (c.result, c.code),
            (CheckResult::Error, CheckCode::EcrSigningUnavailable)
        );
        assert!(c.reason.contains("AccessDenied"));
    }
}
