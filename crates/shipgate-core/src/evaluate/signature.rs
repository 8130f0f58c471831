//! The `signature` check: do at least `threshold` distinct authorities each have a signature
//! over this digest that verifies?

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::decision::{Check, CheckCode, CheckResult};
use crate::evidence::signatures::SignatureCollection;
use crate::policy::{Identity, SignaturePolicy};
use crate::reference::Digest;
use crate::verify::{Rejection, RejectionKind, VerifiedSignature, Verifier};

const CHECK: &str = "signature";
/// How many rejection reasons one authority reports at most (the rest are counted).
const MAX_REASONS_PER_AUTHORITY: usize = 4;

/// The evidence of a `signature` check.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SignatureReport {
    pub threshold: usize,
    /// The authorities of the rule, by name.
    pub authorities: Vec<String>,
    /// One verified signature per authority that counted.
    pub verified: Vec<VerifiedSignature>,
    pub signatures_found: usize,
    /// What was looked at, e.g. `tag sha256-….sig: 2 layers`.
    pub looked_at: Vec<String>,
    /// Lookups that failed: non-empty means "unknown", never "unsigned".
    pub lookup_errors: Vec<String>,
    /// Bounds that cut the collection short.
    pub truncated: Vec<String>,
}

/// Per authority: each signature that did not count for it (where it was found, and why).
type Rejections<'a> = BTreeMap<&'a str, Vec<(String, Rejection)>>;

pub fn signature_check(
    policy: &str,
    rule: &SignaturePolicy,
    digest: &Digest,
    found: &SignatureCollection,
    verifier: &Verifier,
) -> Check {
    let (verified, mut rejected) = tally(rule, digest, found, verifier);
    let report = SignatureReport {
        threshold: rule.threshold,
        authorities: rule.authorities.iter().map(|a| a.name.clone()).collect(),
        verified: verified.values().cloned().collect(),
        signatures_found: found.artifacts.len(),
        looked_at: found.notes.clone(),
        lookup_errors: found.errors.clone(),
        truncated: found.truncated.clone(),
    };
    let count = verified.len();
    let required = format!(
        "{} required authorit{}",
        rule.threshold,
        if rule.threshold == 1 { "y" } else { "ies" }
    );
    if count >= rule.threshold {
        let who: Vec<String> = verified
            .values()
            .map(|v| format!("`{}` ({})", v.authority, v.signer))
            .collect();
        let reason = format!("signed by {count} of the {required}: {}", who.join(", "));
        return Check::new(
            CHECK,
            CheckCode::SignatureVerified,
            Some(policy),
            CheckResult::Pass,
            reason,
        )
        .with_report(&report);
    }
    let unavailable = unavailable_authorities(rule, &verified, &rejected);
    let (mut code, mut reason) = if found.artifacts.is_empty() {
        let reason = format!(
            "no signatures found for {digest} ({}). Sign the digest, not a tag ({}), and push the signature to the same repository",
            found.notes.join("; "),
            how_to_sign(rule, digest)
        );
        (CheckCode::SignatureMissing, reason)
    } else {
        let mut reason = format!("{count} of the {required} verified");
        let code = shortfall(rule, &verified, &mut rejected, &mut reason);
        (code, reason)
    };
    // Missing evidence because a lookup failed is "could not decide", not "unsigned".
    let mut result = CheckResult::Fail;
    if unavailable > 0 && count + unavailable >= rule.threshold {
        reason.push_str(
            ". A service the verification depends on could not be asked, so this is not a \
             verdict; retry",
        );
        (code, result) = (CheckCode::EvidenceUnavailable, CheckResult::Error);
    }
    if !found.errors.is_empty() {
        reason.push_str(&format!(
            ". Some signature locations could not be read, so this may be incomplete: {}",
            found.errors.join("; ")
        ));
        (code, result) = (CheckCode::EvidenceUnavailable, CheckResult::Error);
    }
    // A bound cut the collection short: what was not read might have verified. Said first, so
    // that it survives when the reason is cut to the decision's size bound.
    if !found.truncated.is_empty() {
        reason = super::cut_short(&found.truncated, &reason);
        (code, result) = (CheckCode::EvidenceTruncated, CheckResult::Error);
    }
    Check::new(CHECK, code, Some(policy), result, reason).with_report(&report)
}

/// Verifies every artifact for every authority: the first verified signature per authority,
/// and the rejections of the rest.
fn tally<'a>(
    rule: &'a SignaturePolicy,
    digest: &Digest,
    found: &SignatureCollection,
    verifier: &Verifier,
) -> (BTreeMap<&'a str, VerifiedSignature>, Rejections<'a>) {
    let mut verified: BTreeMap<&str, VerifiedSignature> = BTreeMap::new();
    let mut rejected: Rejections = BTreeMap::new();
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
                    .push((artifact.source().to_string(), r)),
            }
        }
    }
    (verified, rejected)
}

/// How many authorities that did not count have a signature that could not be judged (a
/// revocation service down): if they could make up the shortfall, the check is "could not
/// decide", not "unsigned".
fn unavailable_authorities(
    rule: &SignaturePolicy,
    verified: &BTreeMap<&str, VerifiedSignature>,
    rejected: &Rejections,
) -> usize {
    rule.authorities
        .iter()
        .filter(|a| !verified.contains_key(a.name.as_str()))
        .filter(|a| {
            rejected
                .get(a.name.as_str())
                .is_some_and(|rs| rs.iter().any(|(_, r)| r.kind == RejectionKind::Unavailable))
        })
        .count()
}

/// Says, per authority that did not count, what was found instead; the code is
/// `signature-identity-mismatch` when every rejection was a valid signature by someone else.
fn shortfall(
    rule: &SignaturePolicy,
    verified: &BTreeMap<&str, VerifiedSignature>,
    rejected: &mut Rejections,
    reason: &mut String,
) -> CheckCode {
    let mut all_identity = true;
    for authority in &rule.authorities {
        if verified.contains_key(authority.name.as_str()) {
            continue;
        }
        let reasons = rejected.remove(authority.name.as_str()).unwrap_or_default();
        all_identity &= reasons
            .iter()
            .all(|(_, r)| r.kind == RejectionKind::Identity);
        reason.push_str(&format!(
            ". No signature from authority `{}` ({}): found {} signature{}",
            authority.name,
            describe(&authority.identity),
            reasons.len(),
            if reasons.len() == 1 { "" } else { "s" },
        ));
        let mut seen: Vec<&str> = Vec::new();
        for (source, why) in &reasons {
            if seen.len() == MAX_REASONS_PER_AUTHORITY {
                reason.push_str(&format!("; and {} more", reasons.len() - seen.len()));
                break;
            }
            if !seen.contains(&why.reason.as_str()) {
                reason.push_str(&format!("; {source}: {}", why.reason));
                seen.push(&why.reason);
            }
        }
    }
    if all_identity {
        CheckCode::SignatureIdentityMismatch
    } else {
        CheckCode::SignatureUnverified
    }
}

/// The signing command(s) for the kinds of authority the rule has.
fn how_to_sign(rule: &SignaturePolicy, digest: &Digest) -> String {
    let notation = |a: &crate::policy::Authority| matches!(a.identity, Identity::Notation(_));
    let mut how = Vec::new();
    if rule.authorities.iter().any(|a| !notation(a)) {
        how.push(format!("`cosign sign --key KEY IMAGE@{digest}`"));
    }
    if rule.authorities.iter().any(notation) {
        how.push(format!("`notation sign IMAGE@{digest}`"));
    }
    how.join(" or ")
}

fn describe(identity: &Identity) -> String {
    match identity {
        Identity::Key(key) => format!("key {}", key.label()),
        Identity::Keyless {
            issuer,
            subject,
            claims,
        } => {
            let mut s = format!("keyless, issuer {issuer}, subject {subject}");
            for (claim, m) in claims {
                s.push_str(&format!(", {claim} {m}"));
            }
            s
        }
        Identity::Notation(n) => n.describe(),
    }
}
