//! The gate: image → policies → digest → evidence → checks → decision.
//!
//! Stateless apart from a short-lived in-memory cache: identical concurrent requests for one
//! digest share one evaluation, and finished decisions are reused for a few seconds.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::cache::DecisionCache;
use crate::decision::{Check, CheckCode, CheckResult, Decision, PolicyRef};
use crate::evaluate::{self, Needs};
use crate::evidence::aws_signer::{AwsSignerRevocation, SignerRevocation};
use crate::evidence::base_image::BaseImageCache;
use crate::evidence::collect::Collectors;
use crate::evidence::ecr_findings::ScanFindings;
use crate::evidence::signatures::CollectLimits;
use crate::policy::{Policy, PolicySet};
use crate::reference::{Digest, ImageRef};
use crate::registry::Registry;
use crate::verify::Verifier;

/// What to do with an image that no policy governs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Unmatched {
    /// Fail it (the default: a gate that passes the unknown is no gate).
    #[default]
    Deny,
    /// Pass it, saying that no policy applied.
    Allow,
}

#[derive(Debug, Clone)]
pub struct GateSettings {
    pub unmatched: Unmatched,
    /// The whole evaluation's time budget; past it the decision is a fail that says so.
    pub timeout: Duration,
    pub cache_pass_ttl: Duration,
    pub cache_fail_ttl: Duration,
    pub cache_capacity: usize,
    pub collect: CollectLimits,
    /// Most evaluations (tag resolutions and evidence collections) running at once; past it a
    /// request is refused with `RequestError::Overloaded` rather than queued.
    pub max_concurrent_evaluations: usize,
}

impl Default for GateSettings {
    fn default() -> Self {
        GateSettings {
            unmatched: Unmatched::Deny,
            timeout: Duration::from_secs(20),
            cache_pass_ttl: Duration::from_secs(60),
            cache_fail_ttl: Duration::from_secs(5),
            cache_capacity: 10_000,
            collect: CollectLimits::default(),
            max_concurrent_evaluations: 64,
        }
    }
}

/// A request the caller got wrong: 400 over HTTP, exit 2 on the command line.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error(transparent)]
    Reference(#[from] crate::reference::ReferenceError),
    #[error("no policy named `{0}` is loaded")]
    UnknownPolicy(String),
    /// Too many evaluations are running: 503 with `Retry-After` over HTTP; nothing was decided.
    #[error("the gate is at its limit of {limit} concurrent evaluations; retry in {retry_after_seconds} s")]
    Overloaded {
        limit: usize,
        retry_after_seconds: u64,
    },
}

/// What the caller asks.
#[derive(Debug, Clone, Default, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionRequest {
    /// The image: `registry/repository:tag` (resolved to a digest) or `…@sha256:<hex>`.
    pub image: String,
    /// "This policy must also be met": the named policy must be one of those governing the
    /// image, and the verdict is still that of every governing policy (it can only add a
    /// condition, never drop one).
    #[serde(default)]
    pub policy: Option<String>,
}

/// The policies a request is judged by.
struct Selection {
    /// Every loaded policy that governs the image.
    governing: Vec<Arc<Policy>>,
    /// Set when the request named a policy that does not govern the image: a fail.
    unmet_request: Option<String>,
}

#[derive(Clone)]
pub struct Gate {
    inner: Arc<Inner>,
}

struct Inner {
    policies: PolicySet,
    registry: Arc<dyn Registry>,
    findings: Arc<dyn ScanFindings>,
    /// AWS Signer revocation of Notary Project signatures; asked only for AWS Signer
    /// signatures under an authority whose level checks revocation.
    signer_revocation: Arc<dyn SignerRevocation>,
    verifier: Arc<Verifier>,
    settings: GateSettings,
    cache: DecisionCache,
    /// Resolved base images (pattern + digest → layer lists), reused for a minute across
    /// evaluations; shown in `/metrics`.
    base_images: BaseImageCache,
    /// One permit per running evaluation (see `GateSettings::max_concurrent_evaluations`).
    evaluations: Arc<tokio::sync::Semaphore>,
}

impl Gate {
    /// `findings` answers `vulnerabilities: {source: ecr}` (the AWS SDK in production); it is
    /// only asked when a governing policy has a `vulnerabilities` section. AWS Signer
    /// revocation goes to AWS through the SDK (`with_signer_revocation` to choose otherwise).
    pub fn new(
        policies: PolicySet,
        registry: Arc<dyn Registry>,
        findings: Arc<dyn ScanFindings>,
        verifier: Arc<Verifier>,
        settings: GateSettings,
    ) -> Gate {
        let revocation = Arc::new(AwsSignerRevocation::new());
        Gate::with_signer_revocation(policies, registry, findings, revocation, verifier, settings)
    }

    /// `Gate::new` with the port that answers AWS Signer's `GetRevocationStatus`.
    pub fn with_signer_revocation(
        policies: PolicySet,
        registry: Arc<dyn Registry>,
        findings: Arc<dyn ScanFindings>,
        signer_revocation: Arc<dyn SignerRevocation>,
        verifier: Arc<Verifier>,
        settings: GateSettings,
    ) -> Gate {
        let cache = DecisionCache::new(
            settings.cache_pass_ttl,
            settings.cache_fail_ttl,
            settings.cache_capacity,
        );
        let evaluations = Arc::new(tokio::sync::Semaphore::new(
            settings.max_concurrent_evaluations.max(1),
        ));
        Gate {
            inner: Arc::new(Inner {
                policies,
                registry,
                findings,
                signer_revocation,
                verifier,
                settings,
                cache,
                base_images: BaseImageCache::default(),
                evaluations,
            }),
        }
    }

    /// This freshly built gate, drawing its evaluation slots from `serving`'s pool instead of
    /// its own: a reload then never allows more than `maxConcurrentEvaluations` in all, even
    /// while evaluations of the replaced gate finish. `None` if the gate is already shared
    /// (cloned), or if the two limits differ (`limits` apply at a restart only, so they do not).
    pub fn sharing_evaluation_slots(mut self, serving: &Gate) -> Option<Gate> {
        let same = self.inner.settings.max_concurrent_evaluations
            == serving.inner.settings.max_concurrent_evaluations;
        let inner = Arc::get_mut(&mut self.inner).filter(|_| same)?;
        inner.evaluations = serving.inner.evaluations.clone();
        Some(self)
    }

    pub fn policies(&self) -> &PolicySet {
        &self.inner.policies
    }

    pub fn cache(&self) -> &DecisionCache {
        &self.inner.cache
    }

    /// The base-image cache (for `/metrics`).
    pub fn base_image_cache(&self) -> &BaseImageCache {
        &self.inner.base_images
    }

    /// May `request.image` be deployed? Every outcome but a malformed request is a `Decision`.
    pub async fn decide(&self, request: &DecisionRequest) -> Result<Decision, RequestError> {
        let started = Instant::now();
        let image: ImageRef = request.image.trim().parse()?;
        let Selection {
            governing: policies,
            unmet_request,
        } = self.select_policies(&image, request.policy.as_deref())?;
        let refs: Vec<PolicyRef> = policies.iter().map(|p| PolicyRef::of(p)).collect();

        // Decided before any network call: a requested policy that does not apply can only fail.
        if let Some(reason) = unmet_request {
            let check = Check::new(
                "policy-match",
                CheckCode::PolicyNotGoverning,
                None,
                CheckResult::Fail,
                reason,
            );
            return Ok(Decision::conclude(
                request.image.clone(),
                None,
                refs,
                vec![check],
                started,
            ));
        }
        // Decided before any network call: the gate never fetches from a host no policy names.
        if policies.is_empty() {
            let (code, result, reason) = match self.inner.settings.unmatched {
                Unmatched::Deny => (
                    CheckCode::PolicyUnmatched,
                    CheckResult::Fail,
                    format!(
                        "no policy governs {}: add its registry/repository to a policy's `images`",
                        image.repository
                    ),
                ),
                Unmatched::Allow => (
                    CheckCode::PolicyUnmatchedAllowed,
                    CheckResult::Skip,
                    format!(
                        "no policy governs {}; unmatched images are allowed by configuration",
                        image.repository
                    ),
                ),
            };
            let check = Check::new("policy-match", code, None, result, reason);
            return Ok(Decision::conclude(
                request.image.clone(),
                None,
                refs,
                vec![check],
                started,
            ));
        }

        let budget = self.inner.settings.timeout;
        let deadline = self.deadline(started);
        let work = self.resolve_and_evaluate(&image, &policies, &refs, request, started);
        match tokio::time::timeout_at(tokio::time::Instant::from_std(deadline), work).await {
            Ok(Ok(Some(decision))) => Ok(decision),
            Ok(Err(overloaded)) => Err(overloaded),
            // Either the resolution or the shared evaluation ran out of time; the work was
            // dropped with it (and nothing was cached).
            Ok(Ok(None)) | Err(_) => {
                let check = Check::new(
                    "timeout",
                    CheckCode::EvaluationTimeout,
                    None,
                    CheckResult::Error,
                    format!(
                        "the evaluation did not finish within {:.1} s (registry {} slow or unreachable?); retry, or raise the gate's timeout",
                        budget.as_secs_f64(),
                        image.repository.registry
                    ),
                );
                Ok(Decision::conclude(
                    request.image.clone(),
                    image.digest.as_ref().map(Digest::to_string),
                    refs,
                    vec![check],
                    started,
                ))
            }
        }
    }

    /// When an evaluation started at `started` must end; a timeout too large to add is, in
    /// practice, no bound.
    fn deadline(&self, started: Instant) -> Instant {
        started
            .checked_add(self.inner.settings.timeout)
            .unwrap_or_else(|| started + Duration::from_secs(365 * 24 * 3600))
    }

    /// A permit to run registry work, or `Overloaded` at once: excess load is refused quickly
    /// instead of queueing (each evaluation holds connections and memory until it ends).
    fn evaluation_permit(&self) -> Result<tokio::sync::OwnedSemaphorePermit, RequestError> {
        self.inner
            .evaluations
            .clone()
            .try_acquire_owned()
            .map_err(|_| RequestError::Overloaded {
                limit: self.inner.settings.max_concurrent_evaluations,
                retry_after_seconds: 1,
            })
    }

    /// Every policy that governs the image: the verdict always comes from all of them. A
    /// policy named in the request can only add a condition (it must be one of them), never
    /// narrow the set — otherwise naming an audit-mode or weaker policy would turn a fail
    /// into a pass.
    fn select_policies(
        &self,
        image: &ImageRef,
        named: Option<&str>,
    ) -> Result<Selection, RequestError> {
        let governing = self.inner.policies.governing(&image.repository);
        let Some(name) = named else {
            return Ok(Selection {
                governing,
                unmet_request: None,
            });
        };
        let policy = self
            .inner
            .policies
            .get(name)
            .ok_or_else(|| RequestError::UnknownPolicy(name.to_string()))?;
        let unmet_request = (!governing.iter().any(|p| p.name == policy.name)).then(|| {
            format!(
                "policy `{name}` was requested but does not govern {}: the image is outside its \
                 `images` patterns, so it cannot pass under it; check the image name, or add its \
                 repository to the policy",
                image.repository
            )
        });
        Ok(Selection {
            governing,
            unmet_request,
        })
    }

    async fn resolve_and_evaluate(
        &self,
        image: &ImageRef,
        policies: &[Arc<Policy>],
        refs: &[PolicyRef],
        request: &DecisionRequest,
        started: Instant,
    ) -> Result<Option<Decision>, RequestError> {
        // A digest is already what every check is about; only a tag needs the registry.
        let digest = match &image.digest {
            Some(d) => d.clone(),
            None => match self.resolve(image).await? {
                Ok((digest, _media_type)) => digest,
                Err(e) => {
                    let check = Check::new(
                        "resolve",
                        CheckCode::ResolveFailed,
                        None,
                        CheckResult::Error,
                        format!("could not resolve {image} to a digest: {e}"),
                    );
                    return Ok(Some(Decision::conclude(
                        request.image.clone(),
                        None,
                        refs.to_vec(),
                        vec![check],
                        started,
                    )));
                }
            },
        };

        let key = crate::cache::CacheKey::new(&image.repository, &digest, refs);
        let gate = self.clone();
        let repo = image.repository.clone();
        let policies = policies.to_vec();
        let refs = refs.to_vec();
        let name = request.image.clone();
        let digest_for_eval = digest.clone();
        let deadline = self.deadline(started);
        let decision = self
            .inner
            .cache
            .get_or_evaluate(key, deadline, || {
                let permit = self.evaluation_permit()?;
                Ok::<_, RequestError>(async move {
                    let decision = gate
                        .evaluate(name, repo, digest_for_eval, policies, refs, started)
                        .await;
                    drop(permit);
                    decision
                })
            })
            .await?;
        // A shared or cached evaluation may have been asked for by another name of the image.
        Ok(decision.map(|mut d| {
            d.image = request.image.clone();
            d
        }))
    }

    /// The digest `image`'s tag points at now, under an evaluation permit (a resolution is
    /// registry work like any other).
    async fn resolve(
        &self,
        image: &ImageRef,
    ) -> Result<Result<(Digest, String), crate::registry::RegistryError>, RequestError> {
        let _permit = self.evaluation_permit()?;
        Ok(self
            .inner
            .registry
            .resolve(&image.repository, image.tag_or_latest())
            .await)
    }

    /// Collects the evidence the policies need (once, concurrently) and judges it.
    async fn evaluate(
        &self,
        image: String,
        repo: crate::reference::Repository,
        digest: Digest,
        policies: Vec<Arc<Policy>>,
        refs: Vec<PolicyRef>,
        started: Instant,
    ) -> Decision {
        let needs = Needs::of(&policies);
        let collectors = Collectors {
            registry: self.inner.registry.as_ref(),
            findings: self.inner.findings.as_ref(),
            signer_revocation: self.inner.signer_revocation.as_ref(),
            base_images: &self.inner.base_images,
            limits: &self.inner.settings.collect,
            timeout: self.inner.settings.timeout,
            deadline: tokio::time::Instant::from_std(self.deadline(started)),
        };
        let evidence = collectors.collect(&needs, &repo, &digest).await;
        let today = time::OffsetDateTime::now_utc().date();
        let checks = evaluate::evaluate(&policies, &digest, &evidence, &self.inner.verifier, today);
        Decision::conclude(image, Some(digest.to_string()), refs, checks, started)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::ecr_findings::AwsScanFindings;
    use crate::registry::{RegistryClient, RegistryConfig};
    use crate::verify::TrustRoot;

    fn gate(max: usize) -> Gate {
        let root = TrustRoot::public_good().unwrap();
        Gate::new(
            PolicySet::new(Vec::new()).unwrap(),
            Arc::new(RegistryClient::new(RegistryConfig::default()).unwrap()),
            Arc::new(AwsScanFindings::new()),
            Arc::new(Verifier::new(Arc::new(root))),
            GateSettings {
                max_concurrent_evaluations: max,
                ..GateSettings::default()
            },
        )
    }

    /// A reloaded gate counts against the same limit as the gate it replaces.
    #[tokio::test]
    async fn a_reloaded_gate_shares_the_evaluation_slots_of_the_serving_one() {
        let serving = gate(1);
        let held = serving.evaluation_permit().unwrap();
        let next = gate(1).sharing_evaluation_slots(&serving).unwrap();
        assert!(matches!(
            next.evaluation_permit(),
            Err(RequestError::Overloaded { limit: 1, .. })
        ));
        drop(held);
        assert!(next.evaluation_permit().is_ok());
        // Only a fresh gate with the same limit can share.
        assert!(gate(2).sharing_evaluation_slots(&serving).is_none());
        let cloned = gate(1);
        let _other = cloned.clone();
        assert!(cloned.sharing_evaluation_slots(&serving).is_none());
    }
}
