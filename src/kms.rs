//! AWS KMS public keys for policy authorities that name one (`key: awskms:///alias/release`):
//! `kms:GetPublicKey`, asked once per distinct URI when policies load, behind the `KmsKeys`
//! port so tests and other environments need no AWS. What KMS answers is judged by the core
//! (`shipgate_core::policy::kms::key_from_kms`); a key that cannot be fetched or used keeps the
//! policy from loading: it never becomes a pass, and verification never calls KMS.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::{self, StreamExt as _};
use shipgate_core::policy::kms::key_from_kms;
use shipgate_core::policy::{FetchedKmsKeys, KmsKeyRef};
use tokio::sync::Mutex;

use crate::registry::LoaderHook;

/// Longest wait for one `GetPublicKey` answer (SDK retries included), as for AWS Signer.
pub const KMS_TIMEOUT: Duration = Duration::from_secs(5);
/// Most `GetPublicKey` calls in flight during one load.
const CONCURRENCY: usize = 4;
/// What every failure adds, so the user knows what the gate needs.
const NEEDS: &str = "the gate needs kms:GetPublicKey on the key (and AWS credentials and a region)";

/// What `GetPublicKey` returned for a key.
#[derive(Debug, Clone)]
pub struct KmsPublicKey {
    /// `KeySpec`: `ECC_NIST_P256`, `RSA_2048`, …
    pub key_spec: String,
    /// `KeyUsage`: `SIGN_VERIFY`, `ENCRYPT_DECRYPT`, …
    pub key_usage: String,
    /// The DER SubjectPublicKeyInfo.
    pub der: Vec<u8>,
}

/// Where policies' KMS public keys come from.
#[async_trait]
pub trait KmsKeys: Send + Sync {
    /// The key `key` names, or why it could not be fetched (one line, naming the region and
    /// what to do; the caller adds the URI).
    async fn public_key(&self, key: &KmsKeyRef) -> Result<KmsPublicKey, String>;
}

/// Fetches each distinct URI among `refs` once (at most [`CONCURRENCY`] at a time, each bounded
/// by [`KMS_TIMEOUT`]) and judges the answers.
pub async fn fetch_keys<'a>(
    refs: impl IntoIterator<Item = &'a KmsKeyRef>,
    port: &dyn KmsKeys,
) -> FetchedKmsKeys {
    let mut distinct: HashMap<&str, &KmsKeyRef> = HashMap::new();
    for r in refs {
        distinct.entry(r.uri.as_str()).or_insert(r);
    }
    // Owned references: a closure over borrowed ones makes the future not `Send` (rustc's
    // higher-ranked lifetime limits), and the hot reload spawns it.
    let owned: Vec<KmsKeyRef> = distinct.into_values().cloned().collect();
    stream::iter(owned)
        .map(|r: KmsKeyRef| async move {
            let answer = match tokio::time::timeout(KMS_TIMEOUT, port.public_key(&r)).await {
                Ok(Ok(k)) => key_from_kms(&k.key_spec, &k.key_usage, &k.der),
                Ok(Err(why)) => Err(why),
                Err(_) => Err(format!(
                    "AWS KMS GetPublicKey did not answer within {} s; {NEEDS}",
                    KMS_TIMEOUT.as_secs()
                )),
            };
            (r.uri, answer)
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await
}

/// `GetPublicKey` through the AWS SDK with the standard configuration chain (credentials,
/// region, `AWS_ENDPOINT_URL(_KMS)`), in the region of the key's ARN or else the default
/// region. Clients are made on first use, one per region (a load names few).
#[derive(Default)]
pub struct AwsKms {
    /// Region given by an ARN (`None`: the default region) → client.
    clients: Mutex<HashMap<Option<String>, aws_sdk_kms::Client>>,
    hook: Option<LoaderHook>,
}

impl AwsKms {
    pub fn new() -> AwsKms {
        AwsKms::default()
    }

    /// Like `new`, with `hook` applied to the SDK's configuration loader (after the region is
    /// set), e.g. to pin an endpoint or a credentials provider.
    pub fn with_loader_hook(hook: LoaderHook) -> AwsKms {
        AwsKms {
            hook: Some(hook),
            ..AwsKms::default()
        }
    }

    async fn client(&self, region: Option<&str>) -> aws_sdk_kms::Client {
        let mut clients = self.clients.lock().await;
        let slot = region.map(str::to_string);
        if let Some(c) = clients.get(&slot) {
            return c.clone();
        }
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if let Some(region) = region {
            loader = loader.region(aws_config::Region::new(region.to_string()));
        }
        if let Some(hook) = &self.hook {
            loader = hook(loader);
        }
        let shared = loader.load().await;
        let config = aws_sdk_kms::config::Builder::from(&shared)
            .timeout_config(
                aws_sdk_kms::config::timeout::TimeoutConfig::builder()
                    .operation_timeout(KMS_TIMEOUT)
                    .build(),
            )
            .build();
        let client = aws_sdk_kms::Client::from_conf(config);
        clients.insert(slot, client.clone());
        client
    }
}

#[async_trait]
impl KmsKeys for AwsKms {
    async fn public_key(&self, key: &KmsKeyRef) -> Result<KmsPublicKey, String> {
        let client = self.client(key.region.as_deref()).await;
        let Some(region) = client.config().region().map(|r| r.to_string()) else {
            return Err(format!(
                "no AWS region is configured to look the key up in; set AWS_REGION or name the key by its ARN (`awskms:///arn:aws:kms:REGION:ACCOUNT:key/ID`); {NEEDS}"
            ));
        };
        let out = client
            .get_public_key()
            .key_id(&key.key_id)
            .send()
            .await
            .map_err(|e| describe_error(&region, &e))?;
        let der = out
            .public_key()
            .map(|b| b.as_ref().to_vec())
            .ok_or_else(|| format!("AWS KMS GetPublicKey ({region}) returned no public key"))?;
        // `KeySpec` replaced `CustomerMasterKeySpec`, which KMS still sends (and moto sends
        // alone); both name the same spec.
        #[allow(deprecated)]
        let legacy_spec = out
            .customer_master_key_spec()
            .map(|s| s.as_str().to_string());
        let key_spec = out
            .key_spec()
            .map(|s| s.as_str().to_string())
            .or(legacy_spec)
            .unwrap_or_else(|| "(none given)".into());
        let key_usage = out
            .key_usage()
            .map(|u| u.as_str().to_string())
            .unwrap_or_else(|| "(none given)".into());
        Ok(KmsPublicKey {
            key_spec,
            key_usage,
            der,
        })
    }
}

/// Why a call failed, in one line with what to do; never includes credentials (SDK errors
/// carry the service's code and message, not the request's signature).
fn describe_error<E>(
    region: &str,
    e: &aws_sdk_kms::error::SdkError<E, aws_sdk_kms::config::http::HttpResponse>,
) -> String
where
    E: aws_sdk_kms::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    use aws_sdk_kms::error::SdkError;
    let where_ = format!("AWS KMS GetPublicKey ({region})");
    let text = match e {
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or("(no error code)");
            let message = service.err().message().unwrap_or("");
            let status = service.raw().status().as_u16();
            let hint = match code {
                "NotFoundException" => {
                    format!("check the alias or key id and that the key is in {region}")
                }
                "AccessDeniedException" => {
                    "allow the gate's role kms:GetPublicKey on this key (IAM policy and key policy)"
                        .into()
                }
                "DisabledException" | "KMSInvalidStateException" => {
                    "enable the key (a disabled or pending-deletion key signs nothing)".into()
                }
                _ => NEEDS.into(),
            };
            format!(
                "{where_} failed: HTTP {status} {code}{}{message}; {hint}",
                if message.is_empty() { "" } else { ": " }
            )
        }
        SdkError::TimeoutError(_) => format!(
            "{where_} did not answer within {} s; {NEEDS}",
            KMS_TIMEOUT.as_secs()
        ),
        _ => {
            let detail = aws_sdk_kms::error::DisplayErrorContext(e).to_string();
            if detail.contains("CredentialsNotLoaded") || detail.contains("ProviderChainError") {
                format!("{where_} failed: no AWS credentials could be loaded (environment, profile, SSO, web identity, container or instance role); {NEEDS}")
            } else {
                format!("{where_} failed: {detail}; {NEEDS}")
            }
        }
    };
    // One line: the reason ends a CLI error and a log field.
    crate::decision::truncate_text(&text.replace(['\n', '\r'], " "), 1024)
}
