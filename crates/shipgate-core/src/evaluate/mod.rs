//! Judging evidence against policies: pure functions, no I/O.
//!
//! [`Needs::of`] says what the governing policies need collected; the service collects it into
//! an [`Evidence`]; [`evaluate`] turns every rule of every policy into exactly one [`Check`].
//! Both walk the policy by destructuring it, so a new kind of rule does not compile until it
//! is planned for and judged — and a rule whose evidence is missing is an `error`, never a
//! silently absent check.

mod base_image;
mod ecr_signing;
mod needs;
mod provenance;
mod signature;
mod vulnerabilities;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use crate::decision::{Check, CheckCode, CheckResult};
use crate::evidence::Evidence;
use crate::policy::Policy;
use crate::reference::Digest;
use crate::verify::Verifier;

pub use base_image::{
    base_image_check, BaseImageReport, BuiltOnReport, CandidateReport, PatternReport,
    PlatformReport,
};
pub use ecr_signing::{ecr_signing_check, EcrSigningReport};
pub use needs::{Needs, NotationNeeds, ScanNeeds};
pub use provenance::{
    build_facts, provenance_check, BuildFacts, ProvenanceFacts, ProvenanceReport,
    RejectedAttestation, VerifiedProvenance,
};
pub use signature::{signature_check, SignatureReport};
pub use vulnerabilities::{
    vulnerability_check, ExpiredIgnore, IgnoredFinding, NotCounted, RulesApplied, Violation,
    VulnerabilityReport,
};

/// The checks of `policies` for `digest` from `evidence`: one per rule of every policy, in a
/// fixed order (provenance, signature, vulnerabilities, base image, ECR signing), judged against `today`
/// (UTC; decides which ignore entries have expired).
pub fn evaluate(
    policies: &[Arc<Policy>],
    digest: &Digest,
    evidence: &Evidence,
    verifier: &Verifier,
    today: time::Date,
) -> Vec<Check> {
    let mut checks = Vec::new();
    for policy in policies {
        // Every field named: a new rule kind must be judged here before this compiles.
        let Policy {
            name,
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
        if let Some(rule) = provenance {
            checks.push(match &evidence.attestations {
                Some(found) => provenance_check(name, rule, digest, found, verifier),
                None => not_collected(name, "provenance", "attestations"),
            });
        }
        if let Some(rule) = signatures {
            checks.push(match &evidence.signatures {
                Some(found) => signature_check(name, rule, digest, found, verifier),
                None => not_collected(name, "signature", "signatures"),
            });
        }
        if let Some(rule) = vulnerabilities {
            checks.push(match &evidence.scan {
                Some(found) => vulnerability_check(name, rule, found, today),
                None => not_collected(name, "vulnerabilities", "scan findings"),
            });
        }
        if let Some(rule) = base_images {
            checks.push(match &evidence.base_images {
                Some(found) => base_image_check(name, rule, found),
                None => not_collected(name, "base-image", "base images"),
            });
        }
        if let Some(rule) = ecr_signing {
            checks.push(match &evidence.ecr_signing {
                Some(found) => ecr_signing_check(name, rule, found),
                None => not_collected(name, "ecr-signing", "ECR signing statuses"),
            });
        }
    }
    checks
}

/// A rule whose evidence nobody collected: could not decide, so it denies.
fn not_collected(policy: &str, check: &str, what: &str) -> Check {
    Check::new(
        check,
        CheckCode::EvidenceNotCollected,
        Some(policy),
        CheckResult::Error,
        format!(
            "policy `{policy}` has a `{check}` rule, but no {what} were collected for it, so it \
             cannot be judged and the image fails closed; this is a bug in shipgate's \
             collection plan, please report it"
        ),
    )
}

/// The reason of a check whose evidence a bound cut short: the bounds first, then what was
/// found among the evidence that was read.
pub(crate) fn cut_short(bounds: &[String], found: &str) -> String {
    format!(
        "could not decide: evidence collection was cut short ({}), and what was read does not satisfy the policy, so this is not a verdict. Remove stale or junk artifacts, or raise the limit. Among what was read: {found}",
        bounds.join("; ")
    )
}
