//! Amazon ECR: registry credentials from `GetAuthorizationToken`, behind a small trait so that
//! tests (and other environments) need no AWS.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use base64::Engine as _;
use tokio::sync::Mutex;

use super::auth::Credentials;
use super::error::RegistryError;

/// The parts of an ECR registry host: `<account>.dkr.ecr[-fips].<region>.amazonaws.com[.cn]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcrHost {
    pub account: String,
    pub region: String,
}

/// Recognizes an ECR registry host (a `:port` suffix is ignored).
pub fn parse_ecr_host(registry: &str) -> Option<EcrHost> {
    let host = registry.rsplit_once(':').map_or(registry, |(h, p)| {
        if p.bytes().all(|b| b.is_ascii_digit()) {
            h
        } else {
            registry
        }
    });
    let host = host.to_ascii_lowercase();
    let rest = host
        .strip_suffix(".amazonaws.com")
        .or_else(|| host.strip_suffix(".amazonaws.com.cn"))?;
    let mut parts = rest.split('.');
    let account = parts.next()?;
    let dkr = parts.next()?;
    let ecr = parts.next()?;
    let region = parts.next()?;
    if parts.next().is_some()
        || dkr != "dkr"
        || !(ecr == "ecr" || ecr == "ecr-fips")
        || account.len() != 12
        || !account.bytes().all(|b| b.is_ascii_digit())
        || region.is_empty()
        || !region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return None;
    }
    Some(EcrHost {
        account: account.to_string(),
        region: region.to_string(),
    })
}

/// An ECR authorization: the decoded `AWS:password` pair and when it stops working.
#[derive(Clone)]
pub struct EcrAuthorization {
    pub credentials: Credentials,
    pub expires_at: SystemTime,
}

/// Where ECR registry credentials come from.
#[async_trait]
pub trait EcrTokens: Send + Sync {
    async fn authorization(&self, host: &EcrHost) -> Result<EcrAuthorization, RegistryError>;
}

/// Decodes an ECR `authorizationToken`: base64 of `AWS:<password>`.
pub fn decode_token(token: &str) -> Option<Credentials> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(token.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (user, pass) = text.split_once(':')?;
    if user.is_empty() || pass.is_empty() {
        return None;
    }
    Some(Credentials::new(user, pass))
}

/// Adjusts the SDK configuration loader (endpoint, credentials provider, …).
pub type LoaderHook =
    Arc<dyn Fn(aws_config::ConfigLoader) -> aws_config::ConfigLoader + Send + Sync>;

/// Region name prefixes of the AWS partitions (aws, aws-cn, aws-us-gov, aws-iso*, aws-eusc),
/// as the SDK's endpoint partition data matches them; the SDK does not expose its list of
/// regions, so a region is checked by its shape and the client cache is bounded.
const REGION_PREFIXES: &[&str] = &[
    "us", "eu", "ap", "sa", "ca", "me", "af", "il", "mx", "cn", "us-gov", "us-iso", "us-isob",
    "us-isof", "eu-isoe", "eusc-de",
];

/// Most SDK clients kept (one per region); the least recently used is dropped beyond this.
pub const MAX_REGION_CLIENTS: usize = 32;

/// Whether `region` has the shape of an AWS region: a partition prefix, a direction-like word
/// and a number (`eu-west-1`, `us-gov-east-1`, `cn-northwest-1`).
pub fn is_plausible_region(region: &str) -> bool {
    if region.len() > 32 {
        return false;
    }
    let Some((head, number)) = region.rsplit_once('-') else {
        return false;
    };
    let Some((prefix, word)) = head.rsplit_once('-') else {
        return false;
    };
    REGION_PREFIXES.contains(&prefix)
        && !word.is_empty()
        && word.bytes().all(|b| b.is_ascii_lowercase())
        && (1..=2).contains(&number.len())
        && number.bytes().all(|b| b.is_ascii_digit())
}

/// ECR SDK clients, one per region, built on first use with the standard AWS configuration
/// chain (`AWS_ENDPOINT_URL(_ECR)` is honoured by the SDK itself). Shared shape of everything
/// here that calls the ECR API. Bounded: a registry host with a made-up region is refused, and
/// at most [`MAX_REGION_CLIENTS`] clients are kept.
#[derive(Default)]
pub struct EcrClients {
    /// region → (client, last use), for least-recently-used eviction.
    clients: Mutex<HashMap<String, (aws_sdk_ecr::Client, u64)>>,
    uses: std::sync::atomic::AtomicU64,
    hook: Option<LoaderHook>,
    /// Whether the SDK retries on its own; off where the caller retries within its own budget.
    sdk_retries: bool,
}

impl EcrClients {
    /// `hook` adjusts the SDK's configuration loader (after the region is set), e.g. to pin an
    /// endpoint or a credentials provider.
    pub fn new(hook: Option<LoaderHook>, sdk_retries: bool) -> EcrClients {
        EcrClients {
            clients: Mutex::default(),
            uses: std::sync::atomic::AtomicU64::new(0),
            hook,
            sdk_retries,
        }
    }

    /// The client for `region`; an error for a region that is not shaped like an AWS region.
    pub async fn get(&self, region: &str) -> Result<aws_sdk_ecr::Client, RegistryError> {
        if !is_plausible_region(region) {
            return Err(RegistryError::Other(format!(
                "`{region}` is not an AWS region (expected e.g. `eu-west-1`): check the ECR registry host"
            )));
        }
        let now = self.uses.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut clients = self.clients.lock().await;
        if let Some((c, used)) = clients.get_mut(region) {
            *used = now;
            return Ok(c.clone());
        }
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(region.to_string()));
        if let Some(hook) = &self.hook {
            loader = hook(loader);
        }
        let shared = loader.load().await;
        let mut config = aws_sdk_ecr::config::Builder::from(&shared);
        if !self.sdk_retries {
            config = config.retry_config(aws_sdk_ecr::config::retry::RetryConfig::disabled());
        }
        let client = aws_sdk_ecr::Client::from_conf(config.build());
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
        Ok(client)
    }

    /// How many clients are kept.
    pub async fn len(&self) -> usize {
        self.clients.lock().await.len()
    }

    pub async fn is_empty(&self) -> bool {
        self.len().await == 0
    }
}

/// `GetAuthorizationToken` through the AWS SDK with the standard credential chain, in the
/// region named by the registry host.
pub struct AwsEcrTokens {
    clients: EcrClients,
}

impl Default for AwsEcrTokens {
    fn default() -> Self {
        AwsEcrTokens {
            clients: EcrClients::new(None, true),
        }
    }
}

impl AwsEcrTokens {
    pub fn new() -> AwsEcrTokens {
        AwsEcrTokens::default()
    }

    /// Like `new`, with `hook` applied to the SDK's configuration loader (after the region is
    /// set), e.g. to pin an endpoint or a credentials provider.
    pub fn with_loader_hook(hook: LoaderHook) -> AwsEcrTokens {
        AwsEcrTokens {
            clients: EcrClients::new(Some(hook), true),
        }
    }
}

#[async_trait]
impl EcrTokens for AwsEcrTokens {
    async fn authorization(&self, host: &EcrHost) -> Result<EcrAuthorization, RegistryError> {
        let registry = format!("{}.dkr.ecr.{}.amazonaws.com", host.account, host.region);
        let fail = |detail: String| RegistryError::Credentials {
            registry: registry.clone(),
            detail,
        };
        let client = self.clients.get(&host.region).await?;
        let out = client
            .get_authorization_token()
            .send()
            .await
            .map_err(|e| {
                fail(format!(
                    "ECR GetAuthorizationToken failed in {}: {}; check the AWS credentials (environment, profile or role) and ecr:GetAuthorizationToken permission",
                    host.region,
                    aws_sdk_ecr::error::DisplayErrorContext(&e)
                ))
            })?;
        let data = out.authorization_data().first().ok_or_else(|| {
            fail("ECR GetAuthorizationToken returned no authorization data".into())
        })?;
        let credentials = data
            .authorization_token()
            .and_then(decode_token)
            .ok_or_else(|| {
                fail("ECR GetAuthorizationToken returned a token that is not base64 of `AWS:<password>`".into())
            })?;
        let expires_at = data
            .expires_at()
            .and_then(|t| u64::try_from(t.secs()).ok())
            .map(|s| UNIX_EPOCH + Duration::from_secs(s))
            // ECR tokens last 12 hours; without a stated expiry assume much less.
            .unwrap_or_else(|| SystemTime::now() + Duration::from_secs(15 * 60));
        Ok(EcrAuthorization {
            credentials,
            expires_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognizes_ecr_hosts() {
        let h = parse_ecr_host("123456789012.dkr.ecr.eu-west-1.amazonaws.com").unwrap();
        assert_eq!(h.account, "123456789012");
        assert_eq!(h.region, "eu-west-1");
        let h = parse_ecr_host("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn:443").unwrap();
        assert_eq!(h.region, "cn-north-1");
        assert!(parse_ecr_host("123456789012.dkr.ecr-fips.us-east-1.amazonaws.com").is_some());
        for bad in [
            "ghcr.io",
            "12345.dkr.ecr.us-east-1.amazonaws.com",
            "123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.io",
            "x.123456789012.dkr.ecr.us-east-1.amazonaws.com",
            "public.ecr.aws",
        ] {
            assert!(parse_ecr_host(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn region_shapes() {
        for ok in [
            "eu-west-1",
            "us-east-1",
            "ap-southeast-5",
            "us-gov-west-1",
            "cn-northwest-1",
            "us-isob-east-1",
            "eusc-de-east-1",
            "mx-central-1",
        ] {
            assert!(is_plausible_region(ok), "{ok}");
        }
        for bad in [
            "",
            "eu-west",
            "xx-west-1",
            "eu-west-123",
            "eu-w3st-1",
            "eu--1",
            "eu-west-1-1",
            "localhost",
        ] {
            assert!(!is_plausible_region(bad), "{bad}");
        }
    }

    /// Thousands of made-up (but plausible) regions keep at most `MAX_REGION_CLIENTS`
    /// clients; implausible ones build none and say why.
    #[tokio::test]
    async fn the_client_cache_is_bounded_and_refuses_made_up_regions() {
        // Static credentials and a fixed endpoint: nothing here may reach for AWS.
        let clients = EcrClients::new(
            Some(Arc::new(|l: aws_config::ConfigLoader| {
                l.endpoint_url("http://127.0.0.1:9").credentials_provider(
                    aws_sdk_ecr::config::Credentials::new("AKIDTEST", "secret", None, None, "test"),
                )
            })),
            false,
        );
        let word = |mut n: usize| {
            let mut w = String::new();
            loop {
                w.push((b'a' + (n % 26) as u8) as char);
                n /= 26;
                if n == 0 {
                    break w;
                }
            }
        };
        for n in 0..2000 {
            clients.get(&format!("eu-{}-1", word(n))).await.unwrap();
            assert!(clients.len().await <= MAX_REGION_CLIENTS);
        }
        assert_eq!(clients.len().await, MAX_REGION_CLIENTS);
        for bad in ["xx-made-up-9", "eu-west-1.evil", "notaregion"] {
            let err = clients.get(bad).await.unwrap_err().to_string();
            assert!(err.contains("not an AWS region"), "{err}");
        }
        assert_eq!(clients.len().await, MAX_REGION_CLIENTS);
    }

    #[test]
    fn decodes_tokens() {
        let c = decode_token("QVdTOnNlY3JldA==").unwrap();
        assert_eq!(c, Credentials::new("AWS", "secret"));
        assert!(decode_token("bm9jb2xvbg==").is_none());
        assert!(decode_token("***").is_none());
    }
}
