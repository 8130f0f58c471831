//! Judging evidence against a policy: pure functions, no I/O.

mod base_image;
mod provenance;
mod vulnerabilities;

use std::collections::BTreeMap;

use serde_json::json;

use crate::decision::{Check, CheckResult};
use crate::evidence::signatures::SignatureCollection;
use crate::policy::{Identity, SignaturePolicy};
use crate::reference::Digest;
use crate::verify::{VerifiedSignature, Verifier};

pub use base_image::base_image_check;
pub use provenance::{build_facts, provenance_check, BuildFacts};
pub use vulnerabilities::vulnerability_check;

/// How many rejection reasons one authority reports at most (the rest are counted).
const MAX_REASONS_PER_AUTHORITY: usize = 4;

/// The `signature` check: do at least `threshold` distinct authorities each have a signature
/// over this digest that verifies?
pub fn signature_check(
    policy: &str,
    rule: &SignaturePolicy,
    digest: &Digest,
    found: &SignatureCollection,
    verifier: &Verifier,
) -> Check {
    let mut verified: BTreeMap<&str, VerifiedSignature> = BTreeMap::new();
    // Per authority: (source, reason) of each signature that did not count for it.
    let mut rejected: BTreeMap<&str, Vec<(String, String)>> = BTreeMap::new();
    for artifact in &found.artifacts {
        let results = verifier.verify_signature(artifact, digest, &rule.authorities);
        for (authority, result) in rule.authorities.iter().zip(results) {
            match result {
                Ok(v) => {
                    verified.entry(authority.name.as_str()).or_insert(v);
                }
                Err(r) => rejected
                    .entry(authority.name.as_str())
                    .or_default()
                    .push((artifact.source().to_string(), r.0)),
            }
        }
    }
    let evidence = json!({
        "threshold": rule.threshold,
        "authorities": rule.authorities.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(),
        "verified": verified.values().collect::<Vec<_>>(),
        "signatures_found": found.artifacts.len(),
        "looked_at": found.notes,
        "lookup_errors": found.errors,
        "truncated": found.truncated,
    });
    let count = verified.len();
    if count >= rule.threshold {
        let who: Vec<String> = verified
            .values()
            .map(|v| format!("`{}` ({})", v.authority, v.signer))
            .collect();
        return Check::new(
            "signature",
            Some(policy),
            CheckResult::Pass,
            format!(
                "signed by {count} of the {} required authorit{}: {}",
                rule.threshold,
                if rule.threshold == 1 { "y" } else { "ies" },
                who.join(", ")
            ),
        )
        .with_evidence(evidence);
    }

    let mut reason = if found.artifacts.is_empty() {
        format!(
            "no signatures found for {digest} ({}). Sign the digest, not a tag (`cosign sign --key KEY IMAGE@{digest}`), and push the signature to the same repository",
            found.notes.join("; ")
        )
    } else {
        format!(
            "{count} of the {} required authorit{} verified",
            rule.threshold,
            if rule.threshold == 1 { "y" } else { "ies" }
        )
    };
    for authority in &rule.authorities {
        if verified.contains_key(authority.name.as_str()) || found.artifacts.is_empty() {
            continue;
        }
        let reasons = rejected.remove(authority.name.as_str()).unwrap_or_default();
        reason.push_str(&format!(
            ". No signature from authority `{}` ({}): found {} signature{}",
            authority.name,
            describe(&authority.identity),
            reasons.len(),
            if reasons.len() == 1 { "" } else { "s" },
        ));
        let mut seen = Vec::new();
        for (source, why) in &reasons {
            if seen.len() == MAX_REASONS_PER_AUTHORITY {
                reason.push_str(&format!("; and {} more", reasons.len() - seen.len()));
                break;
            }
            if !seen.contains(&why) {
                reason.push_str(&format!("; {source}: {why}"));
                seen.push(why);
            }
        }
    }
    // Missing evidence because a lookup failed is "could not decide", not "unsigned".
    let mut result = if found.errors.is_empty() {
        CheckResult::Fail
    } else {
        reason.push_str(&format!(
            ". Some signature locations could not be read, so this may be incomplete: {}",
            found.errors.join("; ")
        ));
        CheckResult::Error
    };
    // A bound cut the collection short: what was not read might have verified. Said first, so
    // that it survives when the reason is cut to the decision's size bound.
    if !found.truncated.is_empty() {
        reason = cut_short(&found.truncated, &reason);
        result = CheckResult::Error;
    }
    Check::new("signature", Some(policy), result, reason).with_evidence(evidence)
}

/// The reason of a check whose evidence a bound cut short: the bounds first, then what was
/// found among the evidence that was read.
pub(crate) fn cut_short(bounds: &[String], found: &str) -> String {
    format!(
        "could not decide: evidence collection was cut short ({}), and what was read does not satisfy the policy, so this is not a verdict. Remove stale or junk artifacts, or raise the limit. Among what was read: {found}",
        bounds.join("; ")
    )
}

fn describe(identity: &Identity) -> String {
    match identity {
        Identity::Key(key) => format!("key {}", key.fingerprint()),
        Identity::Keyless { issuer, subject } => {
            format!("keyless, issuer {issuer}, subject {subject}")
        }
    }
}
