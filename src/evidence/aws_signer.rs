//! AWS Signer revocation: `GetRevocationStatus` for Notary Project signatures that AWS Signer
//! made, asked before evaluation so that the core stays free of I/O. AWS Signer is behind the
//! `SignerRevocation` port (as ECR is behind `ScanFindings`), so tests and other environments
//! need no AWS.
//!
//! Fail closed, but never here: a call that fails or times out is `Unknown(why)`, and the
//! verifier enforces (or only logs) that as the authority's level says.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::{self, StreamExt as _};
use shipgate_core::evidence::notation::RevocationCheck;
use shipgate_core::verify::notation::{aws_signer_revocation_query, AwsSignerRevocationQuery};
use tokio::sync::Mutex;

use super::SignatureArtifact;
use crate::registry::ecr::{is_plausible_region, MAX_REGION_CLIENTS};
use crate::registry::LoaderHook;

/// Longest wait for one `GetRevocationStatus` answer.
pub const REVOCATION_TIMEOUT: Duration = Duration::from_secs(5);
/// Most revoked entities quoted in a reason (AWS Signer names at most the profile, the job and
/// each certificate hash it was asked about).
const MAX_QUOTED_ENTITIES: usize = 8;

/// Whether AWS Signer considers one signature revoked.
#[async_trait]
pub trait SignerRevocation: Send + Sync {
    /// Never an error: a call that cannot be made or answered is `Unknown(why)`.
    async fn status(&self, query: &AwsSignerRevocationQuery) -> RevocationCheck;
}

/// Sets `revocation` on every AWS Signer signature among `artifacts` (others stay
/// `NotChecked`), at most `concurrency` calls at a time, each bounded by [`REVOCATION_TIMEOUT`].
pub async fn check_revocations(
    artifacts: &mut [SignatureArtifact],
    port: &dyn SignerRevocation,
    concurrency: usize,
) {
    let queries: Vec<(usize, AwsSignerRevocationQuery)> = artifacts
        .iter()
        .enumerate()
        .filter_map(|(i, a)| match a {
            SignatureArtifact::Notation(n) => {
                aws_signer_revocation_query(&n.envelope, &n.media_type).map(|q| (i, q))
            }
            _ => None,
        })
        .collect();
    let answers: Vec<(usize, RevocationCheck)> = stream::iter(queries)
        .map(|(i, q)| async move {
            let answer = tokio::time::timeout(REVOCATION_TIMEOUT, port.status(&q))
                .await
                .unwrap_or_else(|_| {
                    RevocationCheck::Unknown(format!(
                        "AWS Signer GetRevocationStatus did not answer within {} s",
                        REVOCATION_TIMEOUT.as_secs()
                    ))
                });
            (i, answer)
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    for (i, answer) in answers {
        if let Some(SignatureArtifact::Notation(n)) = artifacts.get_mut(i) {
            n.revocation = answer;
        }
    }
}

/// The region of an AWS Signer ARN (`arn:aws:signer:REGION:…`), if it looks like one.
pub fn region_of(arn: &str) -> Option<&str> {
    let mut parts = arn.split(':');
    let (Some("arn"), Some(_partition), Some("signer"), Some(region)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    is_plausible_region(region).then_some(region)
}

/// `GetRevocationStatus` through the AWS SDK with the standard credential chain
/// (`AWS_ENDPOINT_URL(_SIGNER)` is honoured by the SDK), in the region of the signing profile.
/// One client per region, at most [`MAX_REGION_CLIENTS`]; no SDK retries (one bounded call).
#[derive(Default)]
pub struct AwsSignerRevocation {
    /// region → (client, last use), for least-recently-used eviction.
    clients: Mutex<HashMap<String, (aws_sdk_signer::Client, u64)>>,
    uses: std::sync::atomic::AtomicU64,
    hook: Option<LoaderHook>,
}

impl AwsSignerRevocation {
    pub fn new() -> AwsSignerRevocation {
        AwsSignerRevocation::default()
    }

    /// Like `new`, with `hook` applied to the SDK's configuration loader (after the region is
    /// set), e.g. to pin an endpoint or a credentials provider.
    pub fn with_loader_hook(hook: LoaderHook) -> AwsSignerRevocation {
        AwsSignerRevocation {
            hook: Some(hook),
            ..AwsSignerRevocation::default()
        }
    }

    async fn client(&self, region: &str) -> aws_sdk_signer::Client {
        let now = self.uses.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut clients = self.clients.lock().await;
        if let Some((c, used)) = clients.get_mut(region) {
            *used = now;
            return c.clone();
        }
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(region.to_string()));
        if let Some(hook) = &self.hook {
            loader = hook(loader);
        }
        let shared = loader.load().await;
        let config = aws_sdk_signer::config::Builder::from(&shared)
            .retry_config(aws_sdk_signer::config::retry::RetryConfig::disabled())
            .timeout_config(
                aws_sdk_signer::config::timeout::TimeoutConfig::builder()
                    .operation_timeout(REVOCATION_TIMEOUT)
                    .build(),
            )
            .build();
        let client = aws_sdk_signer::Client::from_conf(config);
        while clients.len() >= MAX_REGION_CLIENTS {
            let Some(oldest) = clients
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(r, _)| r.clone())
            else {
                break;
            };
            clients.remove(&oldest);
        }
        clients.insert(region.to_string(), (client.clone(), now));
        client
    }
}

#[async_trait]
impl SignerRevocation for AwsSignerRevocation {
    async fn status(&self, q: &AwsSignerRevocationQuery) -> RevocationCheck {
        let Some(region) = region_of(&q.profile_version_arn) else {
            return RevocationCheck::Unknown(format!(
                "the signature's signing profile `{}` is not an AWS Signer ARN with a region, so \
                 AWS Signer cannot be asked about it",
                crate::decision::truncate_text(&q.profile_version_arn, 256)
            ));
        };
        let client = self.client(region).await;
        let sent = client
            .get_revocation_status()
            .signature_timestamp(aws_sdk_signer::primitives::DateTime::from_secs(
                q.signature_timestamp,
            ))
            .platform_id(&q.platform_id)
            .profile_version_arn(&q.profile_version_arn)
            .job_arn(&q.job_arn)
            .set_certificate_hashes(Some(q.certificate_hashes.clone()))
            .send()
            .await;
        match sent {
            Ok(out) if out.revoked_entities().is_empty() => RevocationCheck::Good,
            Ok(out) => {
                let revoked = out.revoked_entities();
                let mut what: Vec<&str> = revoked
                    .iter()
                    .take(MAX_QUOTED_ENTITIES)
                    .map(String::as_str)
                    .collect();
                let more = revoked.len().saturating_sub(MAX_QUOTED_ENTITIES);
                let tail = format!("and {more} more");
                if more > 0 {
                    what.push(&tail);
                }
                RevocationCheck::Revoked(crate::decision::truncate_text(&what.join(", "), 2048))
            }
            Err(e) => RevocationCheck::Unknown(describe_error(region, &e)),
        }
    }
}

/// Why a call failed, in words; never includes credentials (SDK errors carry the service's
/// code and message, not the request's signature).
fn describe_error<E>(
    region: &str,
    e: &aws_sdk_signer::error::SdkError<E, aws_sdk_signer::config::http::HttpResponse>,
) -> String
where
    E: aws_sdk_signer::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    use aws_sdk_signer::error::SdkError;
    let where_ = format!("AWS Signer GetRevocationStatus ({region})");
    let text = match e {
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or("(no error code)");
            let message = service.err().message().unwrap_or("");
            let status = service.raw().status().as_u16();
            format!(
                "{where_} failed: HTTP {status} {code}{}{message}",
                if message.is_empty() { "" } else { ": " }
            )
        }
        _ => {
            let detail = aws_sdk_signer::error::DisplayErrorContext(e).to_string();
            if detail.contains("CredentialsNotLoaded") || detail.contains("ProviderChainError") {
                format!("{where_} failed: no AWS credentials could be loaded (environment, profile, SSO, web identity, container or instance role); give the gate credentials with signer:GetRevocationStatus")
            } else {
                format!("{where_} failed: {detail}")
            }
        }
    };
    crate::decision::truncate_text(&text, 1024)
}
