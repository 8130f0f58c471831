//! What the governing policies need collected: the plan the service's collectors follow.

use std::sync::Arc;
use std::time::Duration;

use crate::policy::base_pattern::{BasePattern, Selector};
use crate::policy::Policy;

/// The evidence a set of policies needs, collected once for all of them.
#[derive(Debug, Clone, Default)]
pub struct Needs {
    /// Signature artifacts (a `signatures` rule).
    pub signatures: bool,
    /// Notary Project signatures too (a `signatures` rule with a `notation`/`awsSigner`
    /// authority); cosign-only rules never fetch them.
    pub notation: Option<NotationNeeds>,
    /// Attestations: a `provenance` rule, or a base-image pattern that can only find its
    /// candidates among the images the provenance names.
    pub attestations: bool,
    /// ECR scan findings (a `vulnerabilities` rule).
    pub scan: Option<ScanNeeds>,
    /// Every `baseImages` pattern of every policy (allow and deny); empty: no base-image rule.
    pub base_patterns: Vec<BasePattern>,
    /// ECR's managed-signing status (an `ecrSigning` rule).
    pub ecr_signing: bool,
}

/// What Notary Project signatures need besides the envelope.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NotationNeeds {
    /// Ask AWS Signer whether an AWS Signer signature is revoked: some Notation authority's
    /// level does not skip revocation for a signing-authority (AWS Signer) trust store.
    pub signer_revocation: bool,
}

/// How to read the scan: the longest wait any policy allows, and whether any starts a scan.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScanNeeds {
    pub wait_for_scan: Duration,
    pub start_scan: bool,
}

impl Needs {
    pub fn of(policies: &[Arc<Policy>]) -> Needs {
        let mut needs = Needs::default();
        for policy in policies {
            // Every field named, as in `evaluate`: a new rule kind must be planned for here.
            let Policy {
                name: _,
                images: _,
                mode: _,
                on_error: _,
                signatures,
                vulnerabilities,
                base_images,
                provenance,
                ecr_signing,
                sha256: _,
                source: _,
            } = policy.as_ref();
            needs.signatures |= signatures.is_some();
            let notation = signatures
                .iter()
                .flat_map(|s| &s.authorities)
                .filter_map(|a| match &a.identity {
                    crate::policy::Identity::Notation(n) => Some(n),
                    _ => None,
                });
            for n in notation {
                let plan = needs.notation.get_or_insert_with(NotationNeeds::default);
                plan.signer_revocation |= n.wants_signer_revocation();
            }
            needs.attestations |= provenance.is_some();
            needs.ecr_signing |= ecr_signing.is_some();
            if let Some(v) = vulnerabilities {
                let scan = needs.scan.get_or_insert_with(ScanNeeds::default);
                scan.wait_for_scan = scan.wait_for_scan.max(v.wait_for_scan);
                scan.start_scan |= v.start_scan;
            }
            if let Some(b) = base_images {
                needs
                    .base_patterns
                    .extend(b.allow.iter().chain(&b.deny).cloned());
            }
        }
        // A repository pattern without a tag can only find candidates the image names: its
        // annotation, or the images its provenance lists. Then the attestations are read for
        // those hints too (before the base images, which they steer).
        needs.attestations |= needs
            .base_patterns
            .iter()
            .any(|p| matches!(p.selector, Selector::Repositories { .. }));
        needs
    }

    /// Whether anything at all must be collected.
    pub fn is_empty(&self) -> bool {
        !self.signatures
            && !self.attestations
            && self.scan.is_none()
            && self.base_patterns.is_empty()
            && !self.ecr_signing
    }
}
