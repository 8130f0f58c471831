//! The gate: image → policies → digest → evidence → checks → decision.
//!
//! Stateless apart from a short-lived in-memory cache: identical concurrent requests for one
//! digest share one evaluation, and finished decisions are reused for a few seconds.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::cache::DecisionCache;
use crate::decision::{Check, CheckResult, Decision, PolicyRef};
use crate::evaluate;
use crate::evidence::attestations;
use crate::evidence::ecr_findings::{self, CollectPlan, ScanFindings};
use crate::evidence::signatures::{self, CollectLimits};
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
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionRequest {
    pub image: String,
    #[serde(default)]
    pub policy: Option<String>,
}

#[derive(Clone)]
pub struct Gate {
    inner: Arc<Inner>,
}

struct Inner {
    policies: PolicySet,
    registry: Arc<dyn Registry>,
    findings: Arc<dyn ScanFindings>,
    verifier: Arc<Verifier>,
    settings: GateSettings,
    cache: DecisionCache,
}

impl Gate {
    /// `findings` answers `vulnerabilities: {source: ecr}` (the AWS SDK in production); it is
    /// only asked when a governing policy has a `vulnerabilities` section.
    pub fn new(
        policies: PolicySet,
        registry: Arc<dyn Registry>,
        findings: Arc<dyn ScanFindings>,
        verifier: Arc<Verifier>,
        settings: GateSettings,
    ) -> Gate {
        let cache = DecisionCache::new(
            settings.cache_pass_ttl,
            settings.cache_fail_ttl,
            settings.cache_capacity,
        );
        Gate {
            inner: Arc::new(Inner {
                policies,
                registry,
                findings,
                verifier,
                settings,
                cache,
            }),
        }
    }

    pub fn policies(&self) -> &PolicySet {
        &self.inner.policies
    }

    pub fn cache(&self) -> &DecisionCache {
        &self.inner.cache
    }

    /// May `request.image` be deployed? Every outcome but a malformed request is a `Decision`.
    pub async fn decide(&self, request: &DecisionRequest) -> Result<Decision, RequestError> {
        let started = Instant::now();
        let image: ImageRef = request.image.trim().parse()?;
        let policies = self.select_policies(&image, request.policy.as_deref())?;
        let refs: Vec<PolicyRef> = policies
            .iter()
            .map(|p| PolicyRef {
                name: p.name.clone(),
                sha256: p.sha256.clone(),
                mode: p.mode,
            })
            .collect();

        // Decided before any network call: the gate never fetches from a host no policy names.
        if policies.is_empty() {
            let (result, reason) = match self.inner.settings.unmatched {
                Unmatched::Deny => (
                    CheckResult::Fail,
                    format!(
                        "no policy governs {}: add its registry/repository to a policy's `images`",
                        image.repository
                    ),
                ),
                Unmatched::Allow => (
                    CheckResult::Skip,
                    format!(
                        "no policy governs {}; unmatched images are allowed by configuration",
                        image.repository
                    ),
                ),
            };
            let check = Check::new("policy-match", None, result, reason);
            return Ok(Decision::conclude(
                request.image.clone(),
                None,
                refs,
                vec![check],
                started,
            ));
        }

        let budget = self.inner.settings.timeout;
        let work = self.resolve_and_evaluate(&image, &policies, &refs, request, started);
        match tokio::time::timeout(budget, work).await {
            Ok(decision) => Ok(decision),
            Err(_) => {
                let check = Check::new(
                    "timeout",
                    None,
                    CheckResult::Error,
                    format!(
                        "the evaluation did not finish within {} s (registry {} slow or unreachable?); retry, or raise the gate's timeout",
                        budget.as_secs(),
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

    fn select_policies(
        &self,
        image: &ImageRef,
        named: Option<&str>,
    ) -> Result<Vec<Arc<Policy>>, RequestError> {
        match named {
            None => Ok(self.inner.policies.governing(&image.repository)),
            Some(name) => {
                let policy = self
                    .inner
                    .policies
                    .get(name)
                    .ok_or_else(|| RequestError::UnknownPolicy(name.to_string()))?;
                // A named policy still only applies to images it governs.
                Ok(if policy.governs(&image.repository) {
                    vec![policy.clone()]
                } else {
                    Vec::new()
                })
            }
        }
    }

    async fn resolve_and_evaluate(
        &self,
        image: &ImageRef,
        policies: &[Arc<Policy>],
        refs: &[PolicyRef],
        request: &DecisionRequest,
        started: Instant,
    ) -> Decision {
        // A digest is already what every check is about; only a tag needs the registry.
        let digest = match &image.digest {
            Some(d) => d.clone(),
            None => match self
                .inner
                .registry
                .resolve(&image.repository, image.tag_or_latest())
                .await
            {
                Ok((digest, _media_type)) => digest,
                Err(e) => {
                    let check = Check::new(
                        "resolve",
                        None,
                        CheckResult::Error,
                        format!("could not resolve {image} to a digest: {e}"),
                    );
                    return Decision::conclude(
                        request.image.clone(),
                        None,
                        refs.to_vec(),
                        vec![check],
                        started,
                    );
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
        let mut decision = self
            .inner
            .cache
            .get_or_evaluate(key, async move {
                gate.evaluate(name, repo, digest_for_eval, policies, refs, started)
                    .await
            })
            .await;
        // A shared or cached evaluation may have been asked for by another name of the image.
        decision.image = request.image.clone();
        decision
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
        let needs_signatures = policies.iter().any(|p| p.signatures.is_some());
        let scans: Vec<_> = policies
            .iter()
            .filter_map(|p| p.vulnerabilities.as_ref())
            .collect();
        // One collection serves every policy: the longest wait any of them allows.
        let plan = (!scans.is_empty()).then(|| CollectPlan {
            wait_for_scan: scans
                .iter()
                .map(|v| v.wait_for_scan)
                .max()
                .unwrap_or_default(),
            start_scan: scans.iter().any(|v| v.start_scan),
            gate_timeout: self.inner.settings.timeout,
            // A timeout too large to add is, in practice, no bound.
            gate_deadline: tokio::time::Instant::from_std(
                started
                    .checked_add(self.inner.settings.timeout)
                    .unwrap_or_else(|| started + Duration::from_secs(365 * 24 * 3600)),
            ),
        });
        // Signatures come from the registry, findings from ECR: independent, so concurrent.
        // Every policy's base-image patterns, collected once (the evidence is keyed by pattern).
        let base_patterns: Vec<&crate::evidence::base_image::BasePattern> = policies
            .iter()
            .filter_map(|p| p.base_images.as_ref())
            .flat_map(|b| b.allow.iter().chain(b.deny.iter()))
            .collect();
        let needs_attestations = policies.iter().any(|p| p.provenance.is_some());
        // A repository pattern without a tag can only find candidates the image names: its
        // annotation, or the images its provenance lists. Then the attestations are read for
        // those hints too (before the base images, which they steer).
        let wants_hints = base_patterns.iter().any(|p| {
            matches!(
                p.selector,
                crate::evidence::base_image::Selector::Repositories { .. }
            )
        });
        let limits = &self.inner.settings.collect;
        let bundles =
            signatures::referrer_bundles(self.inner.registry.as_ref(), &repo, &digest, limits);
        let (signatures, findings, (attestations, base_images)) = tokio::join!(
            async {
                if needs_signatures {
                    Some(
                        signatures::collect_with(
                            self.inner.registry.as_ref(),
                            &repo,
                            &digest,
                            limits,
                            bundles.clone(),
                        )
                        .await,
                    )
                } else {
                    None
                }
            },
            async {
                match &plan {
                    Some(plan) => Some(
                        ecr_findings::collect(self.inner.findings.as_ref(), &repo, &digest, plan)
                            .await,
                    ),
                    None => None,
                }
            },
            async {
                let attestations = if needs_attestations || wants_hints {
                    Some(
                        attestations::collect(
                            self.inner.registry.as_ref(),
                            &repo,
                            &digest,
                            limits,
                            bundles.clone(),
                        )
                        .await,
                    )
                } else {
                    None
                };
                let base_images = if base_patterns.is_empty() {
                    None
                } else {
                    let hints = attestations
                        .as_ref()
                        .map(crate::evidence::base_hints::from_attestations)
                        .unwrap_or_default();
                    let hint_errors = attestations
                        .as_ref()
                        .map(|a| a.errors.clone())
                        .unwrap_or_default();
                    Some(
                        crate::evidence::base_image::collect(
                            self.inner.registry.as_ref(),
                            &repo,
                            &digest,
                            &base_patterns,
                            &hints,
                            &hint_errors,
                        )
                        .await,
                    )
                };
                (attestations, base_images)
            }
        );
        let today = time::OffsetDateTime::now_utc().date();
        let mut checks = Vec::new();
        for policy in &policies {
            if let (Some(rule), Some(found)) = (&policy.provenance, &attestations) {
                checks.push(evaluate::provenance_check(
                    &policy.name,
                    rule,
                    &digest,
                    found,
                    &self.inner.verifier,
                ));
            }
            if let (Some(rule), Some(found)) = (&policy.signatures, &signatures) {
                checks.push(evaluate::signature_check(
                    &policy.name,
                    rule,
                    &digest,
                    found,
                    &self.inner.verifier,
                ));
            }
            if let (Some(rule), Some(found)) = (&policy.vulnerabilities, &findings) {
                checks.push(evaluate::vulnerability_check(
                    &policy.name,
                    rule,
                    found,
                    today,
                ));
            }
            if let (Some(rule), Some(found)) = (&policy.base_images, &base_images) {
                checks.push(evaluate::base_image_check(&policy.name, rule, found));
            }
        }
        Decision::conclude(image, Some(digest.to_string()), refs, checks, started)
    }
}
