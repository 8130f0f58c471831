//! Collects, once and concurrently, the evidence a set of policies needs (`Needs`) through the
//! ports: the `Registry` (signatures, attestations, base images) and `ScanFindings` (ECR).

use std::time::Duration;

use shipgate_core::evaluate::Needs;
use shipgate_core::evidence::Evidence;

use super::aws_signer::SignerRevocation;
use super::base_image::BaseImageCache;
use super::ecr_findings::{CollectPlan, ScanFindings};
use super::signatures::CollectLimits;
use super::{
    attestations, base_hints, base_image, ecr_findings, ecr_signing, notation, signatures,
};
use crate::reference::{Digest, Repository};
use crate::registry::Registry;

/// The ports and bounds of one evaluation.
pub struct Collectors<'a> {
    pub registry: &'a dyn Registry,
    pub findings: &'a dyn ScanFindings,
    /// AWS Signer revocation, for Notary Project signatures (`Needs::notation`).
    pub signer_revocation: &'a dyn SignerRevocation,
    pub base_images: &'a BaseImageCache,
    pub limits: &'a CollectLimits,
    /// The gate's evaluation timeout, and when this evaluation's ends.
    pub timeout: Duration,
    pub deadline: tokio::time::Instant,
}

impl Collectors<'_> {
    /// Everything `needs` asks for, and nothing else: a field of the result is `Some` exactly
    /// when `needs` asked for it.
    pub async fn collect(&self, needs: &Needs, repo: &Repository, digest: &Digest) -> Evidence {
        // Signatures and attestations share one referrer lookup.
        let bundles = signatures::referrer_bundles(self.registry, repo, digest, self.limits);
        let (signatures, scan, (attestations, base_images), ecr_signing) = tokio::join!(
            async {
                if !needs.signatures {
                    return None;
                }
                let plan = needs.notation.map(|n| notation::NotationPlan {
                    revocation: n.signer_revocation.then_some(self.signer_revocation),
                });
                let found = notation::collect_signatures(
                    self.registry,
                    repo,
                    digest,
                    self.limits,
                    bundles.clone(),
                    plan,
                );
                Some(found.await)
            },
            async {
                let scan = needs.scan?;
                let plan = CollectPlan {
                    wait_for_scan: scan.wait_for_scan,
                    start_scan: scan.start_scan,
                    gate_timeout: self.timeout,
                    gate_deadline: self.deadline,
                };
                Some(ecr_findings::collect(self.findings, repo, digest, &plan).await)
            },
            async {
                let attestations = if needs.attestations {
                    let found = attestations::collect(
                        self.registry,
                        repo,
                        digest,
                        self.limits,
                        bundles.clone(),
                    );
                    Some(found.await)
                } else {
                    None
                };
                // The base images come after the attestations, whose provenance can name them.
                let base_images = if needs.base_patterns.is_empty() {
                    None
                } else {
                    Some(
                        self.base_images(needs, repo, digest, attestations.as_ref())
                            .await,
                    )
                };
                (attestations, base_images)
            },
            async {
                if !needs.ecr_signing {
                    return None;
                }
                // Answer a little before the gate gives up, so the decision says why.
                let margin = (self.timeout / 10).min(Duration::from_millis(200));
                let found =
                    ecr_signing::collect(self.findings, repo, digest, self.deadline - margin);
                Some(found.await)
            }
        );
        Evidence {
            signatures,
            attestations,
            scan,
            base_images,
            ecr_signing,
        }
    }

    async fn base_images(
        &self,
        needs: &Needs,
        repo: &Repository,
        digest: &Digest,
        attestations: Option<&attestations::AttestationCollection>,
    ) -> base_image::BaseImageEvidence {
        let patterns: Vec<&base_image::BasePattern> = needs.base_patterns.iter().collect();
        let hints = attestations
            .map(base_hints::from_attestations)
            .unwrap_or_default();
        let hint_errors = attestations.map(|a| a.errors.clone()).unwrap_or_default();
        base_image::collect(
            self.registry,
            self.base_images,
            repo,
            digest,
            &patterns,
            &hints,
            &hint_errors,
        )
        .await
    }
}
