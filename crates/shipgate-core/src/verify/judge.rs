//! Judging one parsed signature against each authority of a policy.
//!
//! `legacy` and `bundle` turn an artifact into [`Material`] once (everything that does not depend
//! on the authority); this module decides, per authority, whether it counts.

use std::cell::OnceCell;

use crate::verify::authority::{Authority, FulcioClaim, Identity, Matcher, TlogRequirement};

use super::certificate::{fmt_time, Leaf};
use super::keys::{HashAlg, PublicKey};
use super::rekor::{Signer, Subject, VerifiedEntry};
use super::timestamp::Timestamps;
use super::trust_root::TrustRoot;
use super::{Rejection, VerifiedSignature};

/// What the signature covers.
pub(crate) enum Signed {
    /// The signed bytes themselves (a simple-signing payload, or a DSSE PAE).
    Message(Vec<u8>),
    /// Only the digest of the signed bytes (a bundle's `messageSignature`).
    Prehashed(HashAlg, Vec<u8>),
}

/// The state of the transparency-log evidence, judged once.
pub(crate) enum Tlog {
    Absent,
    Invalid(Rejection),
    Verified(VerifiedEntry),
}

/// A signature, parsed and checked as far as it can be without an authority.
pub(crate) struct Material {
    pub signed: Signed,
    pub signature: Vec<u8>,
    /// The digest the log entry must bind: of the signed blob, or (SHA-256) of the DSSE payload.
    pub subject_sha256: Vec<u8>,
    /// The algorithm of `subject_sha256`: SHA-256 but for a `messageSignature` over a
    /// SHA-384 or SHA-512 digest.
    pub subject_alg: HashAlg,
    /// For a DSSE envelope, the SHA-256 of its PAE (what a Rekor v2 hashedrekord binds).
    pub dsse_pae_sha256: Option<[u8; 32]>,
    /// For a DSSE envelope stored as bytes (a cosign `.att` layer), their SHA-256: what an
    /// `intoto` 0.0.1 log entry binds.
    pub dsse_envelope_sha256: Option<[u8; 32]>,
    /// The in-toto predicate type, for a DSSE bundle.
    pub predicate_type: Option<String>,
    /// The Fulcio leaf, for keyless signatures.
    pub leaf: Option<Leaf>,
    pub tlog: Tlog,
    /// RFC 3161 timestamps over `signature`, verified against the trust root.
    pub timestamps: Timestamps,
}

impl Material {
    fn verifies_with(&self, key: &PublicKey) -> bool {
        match &self.signed {
            Signed::Message(m) => key.verify(m, &self.signature),
            Signed::Prehashed(alg, d) => key.verify_prehashed(*alg, d, &self.signature),
        }
    }

    fn subject(&self) -> Subject<'_> {
        match &self.dsse_pae_sha256 {
            Some(pae) => Subject::Dsse {
                payload: &self.subject_sha256,
                pae,
                envelope: self.dsse_envelope_sha256.as_ref().map(|e| e.as_slice()),
            },
            None => Subject::Blob(self.subject_alg, &self.subject_sha256),
        }
    }
}

/// Keyless checks that do not depend on the authority, done at most once per artifact.
struct KeylessFacts {
    signature_ok: bool,
    /// Chain, SCT and validity at every verified signing time; `Err` also when there is none.
    trust: Result<(), Rejection>,
}

/// One result per authority, in order.
pub(crate) fn judge_all(
    material: &Result<Material, Rejection>,
    root: &TrustRoot,
    authorities: &[Authority],
    source: &str,
) -> Vec<Result<VerifiedSignature, Rejection>> {
    let facts = OnceCell::new();
    authorities
        .iter()
        .map(|a| match (&a.identity, material) {
            // Said first: the kind of signature is wrong whatever else is.
            (Identity::Notation(_), _) => Err(Rejection::new(format!(
                "this is a cosign (Sigstore) signature; authority `{}` expects a Notary Project \
                 signature",
                a.name
            ))),
            (_, Err(r)) => Err(r.clone()),
            (Identity::Key(key), Ok(m)) => judge_key(m, a, key, source),
            (
                Identity::Keyless {
                    issuer,
                    subject,
                    claims,
                },
                Ok(m),
            ) => {
                let rule = KeylessRule {
                    issuer,
                    subject,
                    claims,
                };
                judge_keyless(m, a, &rule, source, root, &facts)
            }
        })
        .collect()
}

fn judge_key(
    m: &Material,
    a: &Authority,
    key: &PublicKey,
    source: &str,
) -> Result<VerifiedSignature, Rejection> {
    if !m.verifies_with(key) {
        return Err(Rejection::new(format!(
            "signature does not verify with key {} of authority `{}`",
            key.label(),
            a.name
        )));
    }
    let (tlog_index, integrated_time) = match &m.tlog {
        Tlog::Invalid(r) => return Err(r.clone()),
        Tlog::Absent if a.tlog == TlogRequirement::Required => {
            return Err(Rejection::new(format!(
                "no transparency-log entry, and authority `{}` requires one",
                a.name
            )))
        }
        Tlog::Absent => (None, None),
        Tlog::Verified(e) => {
            e.body
                .binds(&m.subject(), &m.signature, &Signer::Key(key))?;
            (Some(e.log_index), e.integrated_time)
        }
    };
    if let Some((start, end)) = key.validity() {
        // The signing time must be proven (log integration time or verified RFC 3161
        // timestamp) and inside the key's window.
        let mut times: Vec<i64> = m.timestamps.verified.iter().map(|t| t.secs()).collect();
        times.extend(integrated_time);
        if times.is_empty() {
            return Err(Rejection::new(format!(
                "key {} of authority `{}` is valid only from {} to {}, and nothing proves when \
                 the signature was made (no log integration time, no verified RFC 3161 timestamp)",
                key.fingerprint(),
                a.name,
                fmt_time(start),
                fmt_time(end)
            )));
        }
        if let Some(t) = times.iter().find(|&&t| t < start || t > end) {
            return Err(Rejection::new(format!(
                "signed at {}, outside the validity window {}..{} of key {} of authority `{}`",
                fmt_time(*t),
                fmt_time(start),
                fmt_time(end),
                key.fingerprint(),
                a.name
            )));
        }
    }
    Ok(VerifiedSignature {
        authority: a.name.clone(),
        signer: key.label(),
        issuer: None,
        tlog_index,
        integrated_time,
        logged: Vec::new(),
        source: source.to_string(),
    })
}

/// What a keyless authority requires of the certificate.
struct KeylessRule<'r> {
    issuer: &'r Matcher,
    subject: &'r Matcher,
    claims: &'r [(FulcioClaim, Matcher)],
}

fn judge_keyless(
    m: &Material,
    a: &Authority,
    rule: &KeylessRule<'_>,
    source: &str,
    root: &TrustRoot,
    facts: &OnceCell<KeylessFacts>,
) -> Result<VerifiedSignature, Rejection> {
    let Some(leaf) = &m.leaf else {
        return Err(Rejection::identity(format!(
            "the signature was made with a key, not a Fulcio certificate; authority `{}` expects \
             a keyless identity",
            a.name
        )));
    };
    let (identity, issuer) = keyless_identity(leaf, a, rule)?;
    let entry = match &m.tlog {
        Tlog::Invalid(r) => return Err(r.clone()),
        Tlog::Verified(e) => Some(e),
        Tlog::Absent if a.tlog == TlogRequirement::Required => {
            return Err(Rejection::new(format!(
                "no transparency-log entry, and keyless authority `{}` requires one",
                a.name
            )))
        }
        // `transparencyLog: optional`: the signing time must then come from a verified RFC 3161
        // timestamp (`keyless_trust` refuses a signature with no verified time at all).
        Tlog::Absent => None,
    };
    let facts = facts.get_or_init(|| KeylessFacts {
        signature_ok: m.verifies_with(&leaf.cert.key),
        trust: keyless_trust(m, leaf, entry, root),
    });
    if !facts.signature_ok {
        return Err(Rejection::new(
            "signature does not verify with the certificate's key (payload or signature altered)"
                .into(),
        ));
    }
    if let Some(entry) = entry {
        entry
            .body
            .binds(&m.subject(), &m.signature, &Signer::Cert(&leaf.cert))?;
    }
    facts.trust.clone()?;
    Ok(VerifiedSignature {
        authority: a.name.clone(),
        signer: identity.to_string(),
        issuer: Some(issuer.to_string()),
        tlog_index: entry.map(|e| e.log_index),
        integrated_time: entry.and_then(|e| e.integrated_time),
        logged: Vec::new(),
        source: source.to_string(),
    })
}

/// The certificate's subject and issuer, once they and its claims match the rule.
fn keyless_identity<'l>(
    leaf: &'l Leaf,
    a: &Authority,
    rule: &KeylessRule<'_>,
) -> Result<(&'l str, &'l str), Rejection> {
    let identity = leaf.identity.as_deref().ok_or_else(|| {
        Rejection::new("the certificate names no identity (no URI, email or username SAN)".into())
    })?;
    let issuer = leaf.issuer.as_deref().ok_or_else(|| {
        Rejection::new(
            "the certificate names no OIDC issuer (Fulcio extension 1.3.6.1.4.1.57264.1.8)".into(),
        )
    })?;
    if !rule.subject.matches(identity) {
        return Err(Rejection::identity(format!(
            "certificate subject {identity} does not match {} (authority `{}`)",
            rule.subject, a.name
        )));
    }
    if !rule.issuer.matches(issuer) {
        return Err(Rejection::identity(format!(
            "certificate issuer {issuer} does not match {} (authority `{}`)",
            rule.issuer, a.name
        )));
    }
    for (claim, wanted) in rule.claims {
        check_claim(leaf, *claim, wanted, a)?;
    }
    Ok((identity, issuer))
}

/// One required certificate claim: present, and matching.
fn check_claim(
    leaf: &Leaf,
    claim: FulcioClaim,
    wanted: &Matcher,
    a: &Authority,
) -> Result<(), Rejection> {
    let Some(value) = leaf.claim(claim) else {
        return Err(Rejection::identity(format!(
            "certificate claim {claim} is absent (no Fulcio extension {}), and authority `{}` \
             requires {}",
            claim.oid(),
            a.name,
            describe_matcher(wanted)
        )));
    };
    if wanted.matches(value) {
        return Ok(());
    }
    Err(Rejection::identity(format!(
        "certificate claim {claim} is `{value}`, not {} (authority `{}`)",
        describe_matcher(wanted),
        a.name
    )))
}

/// `` `refs/heads/main` `` or `matching /^refs/tags//`.
fn describe_matcher(m: &Matcher) -> String {
    match m {
        Matcher::Exact(e) => format!("`{e}`"),
        Matcher::Regex(_) => format!("matching {m}"),
    }
}

/// The keyless time rule: the signing times are the SET-signed integration time (Rekor v1) and
/// the genTimes of the verified RFC 3161 timestamps; at least one is needed, and at every one the
/// certificate must be valid and chain to a Fulcio CA of the root (with an SCT).
fn keyless_trust(
    m: &Material,
    leaf: &Leaf,
    entry: Option<&VerifiedEntry>,
    root: &TrustRoot,
) -> Result<(), Rejection> {
    let mut times: Vec<(i64, String)> = Vec::new();
    if let Some(t) = entry.and_then(|e| e.integrated_time) {
        times.push((t, "the transparency log's integration time".to_string()));
    }
    for ts in &m.timestamps.verified {
        // Without a SET, nothing else says the log key was valid when the entry was made.
        if let Some(entry) = entry {
            if entry.integrated_time.is_none() && !entry.log_valid_for.contains_ns(ts.gen_time_ns) {
                return Err(Rejection::new(format!(
                    "the key of log {} was not valid at the RFC 3161 timestamp's time {}",
                    entry.log_url,
                    fmt_time(ts.secs())
                )));
            }
        }
        times.push((ts.secs(), format!("the RFC 3161 timestamp of {}", ts.tsa)));
    }
    if times.is_empty() {
        let why = match m.timestamps.failures.first() {
            Some(r) => format!("its RFC 3161 timestamp does not verify: {r}"),
            None => "it has no RFC 3161 timestamp".to_string(),
        };
        let log = if entry.is_some() {
            "the transparency-log entry has no signed entry timestamp (Rekor v2 entries never \
             have one)"
        } else {
            "there is no transparency-log entry"
        };
        return Err(Rejection::new(format!(
            "the signing time is unproven: {log} and {why}"
        )));
    }
    for (t, what) in &times {
        leaf.verify_at(root, *t)
            .map_err(|r| Rejection::new(format!("at {what}: {r}")))?;
    }
    match m
        .timestamps
        .claimed_unverified
        .iter()
        .find(|&&c| !leaf.cert.valid_at(c))
    {
        None => Ok(()),
        Some(&c) => Err(Rejection::new(format!(
            "the bundle's RFC 3161 timestamp claims {}, outside the certificate's validity {}..{}",
            fmt_time(c),
            fmt_time(leaf.cert.not_before),
            fmt_time(leaf.cert.not_after)
        ))),
    }
}

#[cfg(test)]
#[path = "judge_tests.rs"]
mod tests;
