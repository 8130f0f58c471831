//! Amazon ECR managed signing status (`DescribeImageSigningStatus`), read through the same ECR
//! port as the scan findings. Judging it is `evaluate::ecr_signing`, pure.

use std::time::Duration;

use tokio::time::Instant;

use super::ecr_findings::{EcrCallError, ScanFindings, ScanTarget};
use crate::reference::{Digest, Repository};
use crate::registry::ecr::parse_ecr_host;
pub use shipgate_core::evidence::ecr_signing::*;

/// Attempts at a throttled or failed call.
const ATTEMPTS: u32 = 3;
const FIRST_RETRY_BACKOFF: Duration = Duration::from_millis(100);

/// The signing statuses of `digest`, or why they could not be read; `target` is `None` when
/// the image is not in ECR. Every call ends before `deadline`.
pub async fn collect(
    source: &dyn ScanFindings,
    repo: &Repository,
    digest: &Digest,
    deadline: Instant,
) -> EcrSigningEvidence {
    let Some(host) = parse_ecr_host(&repo.registry) else {
        return EcrSigningEvidence::default();
    };
    let target = ScanTarget {
        registry_id: host.account,
        region: host.region,
        repository: repo.name.clone(),
        digest: digest.to_string(),
    };
    let mut backoff = FIRST_RETRY_BACKOFF;
    let mut attempt = 1;
    let result = loop {
        let call = tokio::time::timeout_at(deadline, source.signing_status(&target)).await;
        match call {
            Err(_) => {
                break Err(
                    "ECR DescribeImageSigningStatus did not answer before the gate's deadline"
                        .into(),
                )
            }
            Ok(Ok(statuses)) => break Ok(statuses),
            Ok(Err(EcrCallError::Retryable(e)))
                if attempt < ATTEMPTS && Instant::now() + backoff < deadline =>
            {
                tracing::debug!(error = %e, attempt, "retrying DescribeImageSigningStatus");
                tokio::time::sleep(backoff).await;
                backoff *= 2;
                attempt += 1;
            }
            Ok(Err(EcrCallError::Retryable(e) | EcrCallError::Fatal(e))) => break Err(e),
            Ok(Err(EcrCallError::ScanNotFound)) => {
                break Err("ECR answered DescribeImageSigningStatus with ScanNotFound".into())
            }
        }
    };
    match result {
        Ok(statuses) => EcrSigningEvidence {
            target: Some(target),
            statuses,
            error: None,
        },
        Err(error) => EcrSigningEvidence {
            target: Some(target),
            statuses: Vec::new(),
            error: Some(error),
        },
    }
}
