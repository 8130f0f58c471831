//! The gate and `Lambda` under test (moto as ECR), and helpers to read and change moto's images.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use serde_json::{json, Value};
use shipgate::gate::{Gate, GateSettings};
use shipgate::policy::{Policy, PolicySet};
use shipgate::reference::{Digest, Repository};
use shipgate::registry::{Descriptor, Manifest, Registry, RegistryError};
use shipgate::verify::{TrustRoot, Verifier};
use shipgate_lambda::{HandlerError, Lambda, LambdaSettings};
use shipgate_test_support::moto::{self, Moto, ACCOUNT, REGION};

// --- Test gate and Lambda -------------------------------------------------------------------

/// A registry that must not be needed (digest references and a findings-only policy): counts
/// calls and answers none. Written without `async_trait` (not a dependency of this crate):
/// these are the signatures the macro produces.
#[derive(Default)]
struct NoRegistry {
    calls: AtomicUsize,
}

type Fut<'a, T> = Pin<Box<dyn Future<Output = Result<T, RegistryError>> + Send + 'a>>;

impl NoRegistry {
    fn refuse<'a, T: 'a>(&'a self, what: String) -> Fut<'a, T> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            Err(RegistryError::NotFound {
                repository: "none".into(),
                what,
            })
        })
    }
}

impl Registry for NoRegistry {
    fn resolve<'a, 'b, 'c, 'f>(&'a self, _: &'b Repository, r: &'c str) -> Fut<'f, (Digest, String)>
    where
        'a: 'f,
        'b: 'f,
        'c: 'f,
        Self: 'f,
    {
        self.refuse(r.to_string())
    }
    fn manifest<'a, 'b, 'c, 'f>(
        &'a self,
        _: &'b Repository,
        r: &'c str,
    ) -> Fut<'f, Option<Manifest>>
    where
        'a: 'f,
        'b: 'f,
        'c: 'f,
        Self: 'f,
    {
        self.refuse(r.to_string())
    }
    fn blob<'a, 'b, 'c, 'f>(&'a self, _: &'b Repository, d: &'c Digest, _: usize) -> Fut<'f, Bytes>
    where
        'a: 'f,
        'b: 'f,
        'c: 'f,
        Self: 'f,
    {
        self.refuse(d.to_string())
    }
    fn referrers<'a, 'b, 'c, 'f>(
        &'a self,
        _: &'b Repository,
        d: &'c Digest,
    ) -> Fut<'f, Option<Vec<Descriptor>>>
    where
        'a: 'f,
        'b: 'f,
        'c: 'f,
        Self: 'f,
    {
        self.refuse(d.to_string())
    }
}

/// Governs `governed/**` only; fails on findings above HIGH; never waits for a scan.
pub fn policy(max_severity: &str) -> Policy {
    let yaml = format!(
        "name: scan\nimages: [\"*.dkr.ecr.*.amazonaws.com/governed/**\"]\nvulnerabilities:\n  source: ecr\n  waitForScan: 0\n  maxSeverity: {max_severity}\n"
    );
    Policy::from_yaml(&yaml, Path::new("scan.yaml")).unwrap()
}

pub struct Harness {
    pub lambda: Lambda,
    registry: Arc<NoRegistry>,
    pub ecr: aws_sdk_ecr::Client,
}

pub async fn harness(moto: &Moto, max_severity: &str, settings: LambdaSettings) -> Harness {
    let registry = Arc::new(NoRegistry::default());
    let gate = Gate::new(
        PolicySet::new(vec![policy(max_severity)]).unwrap(),
        registry.clone(),
        moto.findings(),
        Arc::new(Verifier::new(Arc::new(TrustRoot::public_good().unwrap()))),
        GateSettings {
            timeout: Duration::from_secs(20),
            cache_pass_ttl: Duration::ZERO,
            cache_fail_ttl: Duration::ZERO,
            ..GateSettings::default()
        },
    );
    let loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(REGION));
    let sdk = (moto.hook())(loader).load().await;
    Harness {
        lambda: Lambda::new(gate, sdk, settings),
        registry,
        ecr: moto.client().await,
    }
}

impl Harness {
    pub async fn handle(&self, event: Value) -> Result<Value, HandlerError> {
        let out = self.lambda.handle(event).await;
        assert_eq!(
            self.registry.calls.load(Ordering::SeqCst),
            0,
            "no registry is needed"
        );
        out
    }

    /// The digest's tags, sorted; panics if the digest is gone (nothing may ever be deleted).
    pub async fn tags(&self, repo: &str, digest: &str) -> Vec<String> {
        moto::tags(&self.ecr, repo, digest).await
    }

    /// Adds `tag` to an existing digest, as `docker push` of the same image would.
    pub async fn add_tag(&self, repo: &str, digest: &str, tag: &str) {
        moto::add_tag(&self.ecr, repo, digest, tag).await
    }
}

pub fn settings() -> LambdaSettings {
    LambdaSettings::default()
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

pub fn critical(moto: &Moto, repo: &str, digest: &str) {
    moto.inject(json!({
        "registryId": ACCOUNT, "repositoryName": repo, "imageId": {"imageDigest": digest},
        "imageScanStatus": {"status": "COMPLETE", "description": "done"},
        "imageScanFindings": {
            "findings": [{"name": "CVE-2024-0001", "severity": "CRITICAL",
                          "uri": "https://nvd.nist.gov/vuln/detail/CVE-2024-0001",
                          "attributes": [{"key": "package_name", "value": "openssl"},
                                         {"key": "package_version", "value": "3.0.1"}]}],
            "findingSeverityCounts": {"CRITICAL": 1}}}));
}

pub fn clean(moto: &Moto, repo: &str, digest: &str) {
    moto.inject(json!({
        "registryId": ACCOUNT, "repositoryName": repo, "imageId": {"imageDigest": digest},
        "imageScanStatus": {"status": "COMPLETE", "description": "done"},
        "imageScanFindings": {"findings": [], "findingSeverityCounts": {}}}));
}

pub fn quarantine_tags(tags: &[String]) -> Vec<&String> {
    tags.iter()
        .filter(|t| t.starts_with("quarantine-"))
        .collect()
}

/// `quarantine-YYYYMMDDTHHMMSSZ-` and the first 12 hex characters of `digest`.
pub fn assert_quarantine_tag(tag: &str, digest: &str) {
    let rest = tag.strip_prefix("quarantine-").expect("quarantine- prefix");
    let (stamp, suffix) = rest.split_once('-').expect("a digest suffix");
    assert_eq!(stamp.len(), "YYYYMMDDTHHMMSSZ".len(), "{tag}");
    assert!(stamp.ends_with('Z') && stamp.as_bytes()[8] == b'T', "{tag}");
    assert_eq!(
        Some(suffix),
        digest.strip_prefix("sha256:").map(|h| &h[..12]),
        "{tag}"
    );
}
