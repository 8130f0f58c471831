//! Amazon ECR managed signing: the signing status ECR reports for one image
//! (`DescribeImageSigningStatus`), as plain data.

use serde::{Deserialize, Serialize};

use super::ecr_findings::ScanTarget;

/// One signing status entry: ECR signs an image once per matching signing rule (profile).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EcrSigningStatus {
    /// The AWS Signer signing profile ECR signed with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_profile_arn: Option<String>,
    /// `IN_PROGRESS`, `COMPLETE` or `FAILED` (or a status newer than this build knows).
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
}

/// What ECR said about the image's managed signing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EcrSigningEvidence {
    /// The image in ECR; `None` when the image is not in an ECR registry.
    pub target: Option<ScanTarget>,
    /// Each signing status ECR reported (empty: ECR has not signed it and is not signing it).
    pub statuses: Vec<EcrSigningStatus>,
    /// Why ECR could not be asked; set, the statuses are unknown (never "unsigned").
    pub error: Option<String>,
}
