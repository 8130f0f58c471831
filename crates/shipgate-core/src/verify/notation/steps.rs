//! The Notary Project verification workflow after parsing: integrity (always enforced), then
//! authenticity (trust store and trusted identity), authentic timestamp, expiry and revocation,
//! each enforced, logged or skipped as the statement's verification level says.

use super::super::certificate::fmt_time;
use super::super::timestamp::{self, VerifiedTimestamp};
use super::super::x509::Cert;
use super::super::Rejection;
use super::aws_signer::{self, SignerAttributes};
use super::envelope::{Envelope, SigningScheme};
use super::integrity::{self, Checked};
use super::{
    identity, Action, NotationVerified, RevocationStatus, Step, StoreKind, Target, TrustPolicy,
    TrustStores, TrustedIdentity,
};

/// What the steps need besides the envelope.
pub(super) struct Context<'a> {
    pub target: &'a Target,
    pub policy: &'a TrustPolicy,
    pub stores: &'a TrustStores,
    pub now: i64,
    pub revocation: &'a RevocationStatus,
}

/// The failures of logged steps, and the level's actions.
struct Outcome<'a> {
    policy: &'a TrustPolicy,
    logged: Vec<String>,
}

impl Outcome<'_> {
    /// Runs `check` unless the level skips `step`; a failure rejects (enforce) or is recorded
    /// (log). `identity` marks a failure that is only about who signed.
    fn run<T>(
        &mut self,
        step: Step,
        identity: bool,
        check: impl FnOnce() -> Result<T, String>,
    ) -> Result<Option<T>, Rejection> {
        let action = self.policy.level.action(step);
        if action == Action::Skip {
            return Ok(None);
        }
        match (check(), action) {
            (Ok(v), _) => Ok(Some(v)),
            (Err(e), Action::Log) => {
                self.logged.push(format!("{}: {e}", step.name()));
                Ok(None)
            }
            (Err(e), _) => {
                let reason = format!("{} failed: {e}", step.name());
                Err(match identity {
                    true => Rejection::identity(reason),
                    false => Rejection::new(reason),
                })
            }
        }
    }
}

/// Judges an envelope whose signature verified with its leaf key.
pub(super) fn judge(
    env: &Envelope,
    chain: Vec<Cert>,
    cx: &Context<'_>,
) -> Result<NotationVerified, Rejection> {
    let checked = integrity::check(env, chain, cx.target)
        .map_err(|e| Rejection::new(format!("integrity failed: {e}")))?;
    let mut out = Outcome {
        policy: cx.policy,
        logged: Vec::new(),
    };
    out.run(Step::Authenticity, false, || {
        trusted_chain(env, &checked, cx)
    })?;
    out.run(Step::Authenticity, true, || trusted_identity(&checked, cx))?;
    let ts = out
        .run(Step::AuthenticTimestamp, false, || {
            authentic_timestamp(env, &checked.chain, cx)
        })?
        .flatten();
    out.run(Step::Expiry, false, || match env.expiry {
        Some(e) if cx.now >= e => Err(format!("the signature expired at {}", fmt_time(e))),
        _ => Ok(()),
    })?;
    out.run(Step::Revocation, false, || {
        revocation(cx.revocation, checked.aws.is_some())
    })
    // A revocation service that did not answer is "could not decide", not "revoked".
    .map_err(|r| match cx.revocation {
        RevocationStatus::Unknown(_) => Rejection::unavailable(r.reason),
        _ => r,
    })?;
    let signer = match (&checked.aws, checked.chain.first()) {
        (Some(a), _) => aws_signer::profile_of(&a.profile_version),
        (None, Some(leaf)) => leaf.subject(),
        (None, None) => String::new(),
    };
    let (scheme, signing_time) = match env.signing_scheme {
        SigningScheme::X509 => ("notary.x509", env.signing_time),
        SigningScheme::X509SigningAuthority => {
            ("notary.x509.signingAuthority", env.authentic_signing_time)
        }
    };
    Ok(NotationVerified {
        signer,
        signing_scheme: scheme.to_string(),
        signing_time,
        timestamp: ts.map(|t| t.secs()),
        logged: out.logged,
    })
}

/// The certificates of the statement's stores of `kind`; an error names a store that is not
/// configured.
fn store_certs<'s>(cx: &Context<'s>, kind: StoreKind) -> Result<Vec<&'s Cert>, String> {
    let mut certs = Vec::new();
    for (k, name) in cx.policy.trust_stores.iter().filter(|(k, _)| *k == kind) {
        let store = cx.stores.stores.get(&(*k, name.clone())).ok_or_else(|| {
            format!(
                "trust store {}:{name} of trust policy statement {:?} is not configured",
                k.as_str(),
                cx.policy.name
            )
        })?;
        certs.extend(store.iter());
    }
    Ok(certs)
}

/// The chain must contain a certificate of the statement's `ca:` stores (`notary.x509`) or
/// `signingAuthority:` stores (`notary.x509.signingAuthority`).
fn trusted_chain(env: &Envelope, checked: &Checked, cx: &Context<'_>) -> Result<(), String> {
    let kind = match env.signing_scheme {
        SigningScheme::X509 => StoreKind::Ca,
        SigningScheme::X509SigningAuthority => StoreKind::SigningAuthority,
    };
    let trusted = store_certs(cx, kind)?;
    if trusted.is_empty() {
        return Err(format!(
            "trust policy statement {:?} names no {}: trust store, which a {} signature needs",
            cx.policy.name,
            kind.as_str(),
            scheme_name(env.signing_scheme)
        ));
    }
    if checked
        .chain
        .iter()
        .any(|c| trusted.iter().any(|t| t.der == c.der))
    {
        return Ok(());
    }
    let names: Vec<String> = cx
        .policy
        .trust_stores
        .iter()
        .filter(|(k, _)| *k == kind)
        .map(|(k, n)| format!("{}:{n}", k.as_str()))
        .collect();
    Err(format!(
        "the signature's certificate chain (signed by {}) contains no certificate of trust \
         store {}",
        checked.chain.first().map(Cert::subject).unwrap_or_default(),
        names.join(", ")
    ))
}

fn scheme_name(s: SigningScheme) -> &'static str {
    match s {
        SigningScheme::X509 => "notary.x509",
        SigningScheme::X509SigningAuthority => "notary.x509.signingAuthority",
    }
}

/// The signer must be a trusted identity: for AWS Signer by its signing profile, otherwise by
/// the leaf certificate's subject.
fn trusted_identity(checked: &Checked, cx: &Context<'_>) -> Result<(), String> {
    let ids = &cx.policy.trusted_identities;
    if let Some(SignerAttributes {
        profile_version,
        alias,
        ..
    }) = &checked.aws
    {
        let raw: Vec<&str> = ids
            .iter()
            .filter_map(|i| match i {
                TrustedIdentity::Any => Some("*"),
                TrustedIdentity::AwsSignerProfile(arn) => Some(arn.as_str()),
                TrustedIdentity::X509Subject(_) => None,
            })
            .collect();
        return aws_signer::identity_matches(&raw, profile_version, alias.as_deref()).map(|_| ());
    }
    let leaf = checked
        .chain
        .first()
        .ok_or("the envelope carries no certificate")?;
    identity::x509_matches(ids, leaf)
}

/// The signing time must be proven to lie inside every chain certificate's validity.
fn authentic_timestamp(
    env: &Envelope,
    chain: &[Cert],
    cx: &Context<'_>,
) -> Result<Option<VerifiedTimestamp>, String> {
    if env.signing_scheme == SigningScheme::X509SigningAuthority {
        // The signing authority vouches for the time it signed.
        let t = env
            .authentic_signing_time
            .ok_or("the envelope has no authentic signing time")?;
        if let Some(c) = chain.iter().find(|c| !c.valid_at(t)) {
            return Err(format!(
                "certificate {} (valid {}..{}) was not valid when the signature was made at {}",
                c.subject(),
                fmt_time(c.not_before),
                fmt_time(c.not_after),
                fmt_time(t)
            ));
        }
        return Ok(None);
    }
    let tsa = store_certs(cx, StoreKind::Tsa)?;
    if tsa.is_empty() {
        // Without a tsa: store there is nothing to prove an earlier signing time with: the
        // chain must be valid now.
        if let Some(c) = chain.iter().find(|c| !c.valid_at(cx.now)) {
            return Err(format!(
                "certificate {} is valid only {}..{}, not now, and the trust policy statement \
                 names no tsa: store to verify a timestamp with",
                c.subject(),
                fmt_time(c.not_before),
                fmt_time(c.not_after)
            ));
        }
        return Ok(None);
    }
    timestamped(env, chain, &tsa).map(Some)
}

/// `notary.x509` with a `tsa:` store: a countersignature by a trusted TSA is required (the
/// Notary Project default `verifyTimestamp: always`), and its time range must lie after the
/// claimed signing time and inside every chain certificate's validity.
fn timestamped(env: &Envelope, chain: &[Cert], tsa: &[&Cert]) -> Result<VerifiedTimestamp, String> {
    let token = env.timestamp_token.as_deref().ok_or(
        "the envelope has no timestamp countersignature, which the trust policy statement's \
         tsa: store requires (verifyTimestamp is verified as always)",
    )?;
    let roots: Vec<Cert> = tsa
        .iter()
        .filter_map(|c| Cert::from_der(&c.der).ok())
        .collect();
    let ts = timestamp::verify_with_roots(token, &env.signature, &roots).map_err(|r| r.reason)?;
    const NS: i128 = 1_000_000_000;
    let (lower, upper) = (
        ts.gen_time_ns - ts.accuracy_ns,
        ts.gen_time_ns + ts.accuracy_ns,
    );
    if let Some(st) = env.signing_time.filter(|st| lower < i128::from(*st) * NS) {
        return Err(format!(
            "the timestamp ({}) is before the signing time the envelope claims ({})",
            fmt_time(ts.secs()),
            fmt_time(st)
        ));
    }
    let outside =
        |c: &&Cert| lower < i128::from(c.not_before) * NS || upper > i128::from(c.not_after) * NS;
    if let Some(c) = chain.iter().find(outside) {
        return Err(format!(
            "the timestamp ({} ± {} ms) is not inside the validity {}..{} of certificate {}",
            fmt_time(ts.secs()),
            ts.accuracy_ns / 1_000_000,
            fmt_time(c.not_before),
            fmt_time(c.not_after),
            c.subject()
        ));
    }
    Ok(ts)
}

/// Revocation as the service found it. Certificate OCSP/CRL is never fetched (the core makes
/// no network calls), so a signature that is not AWS Signer's passes unchecked; an AWS Signer
/// signature must have been checked with `GetRevocationStatus`.
fn revocation(status: &RevocationStatus, aws: bool) -> Result<(), String> {
    match status {
        RevocationStatus::Good => Ok(()),
        RevocationStatus::NotChecked if !aws => Ok(()),
        RevocationStatus::NotChecked => Err(
            "revocation was not checked: an AWS Signer signature needs AWS Signer's \
             GetRevocationStatus"
                .into(),
        ),
        RevocationStatus::Revoked(what) => Err(format!("revoked: {what}")),
        RevocationStatus::Unknown(why) => Err(format!("revocation could not be checked: {why}")),
    }
}
