//! Judging one Notary Project signature against each authority of a rule: Notation authorities
//! run the Notary Project verifier; cosign authorities (key, keyless) never accept it.

use crate::evidence::notation::NotationArtifact;
use crate::reference::Digest;

use super::authority::{Authority, Identity};
use super::notation;
use super::notation_authority::{revocation_of, target_of};
use super::{Rejection, VerifiedSignature};

/// One result per authority, in order. `image_signature` is false where the caller asks about
/// an attestation or an artifact that is not an image manifest: a Notation signature signs an
/// image manifest and is never an attestation, so it counts for nothing there.
pub(crate) fn judge_notation(
    artifact: &NotationArtifact,
    digest: Option<&Digest>,
    image_signature: bool,
    authorities: &[Authority],
) -> Vec<Result<VerifiedSignature, Rejection>> {
    let precondition = match digest {
        _ if !image_signature => Err(Rejection::new(
            "a Notary Project signature signs an image manifest; it is not an attestation or an \
             artifact signature"
                .into(),
        )),
        None => Err(Rejection::new(
            "a Notary Project signature names a sha256 image digest; no sha256 was given".into(),
        )),
        // Collection fetched the target for the digest being decided; anything else is a bug
        // that must not verify a signature of another image.
        Some(d) if artifact.target.digest != d.as_str() => Err(Rejection::new(format!(
            "the signature was collected for {}, not {d}",
            artifact.target.digest
        ))),
        Some(_) => Ok(()),
    };
    authorities
        .iter()
        .map(|a| {
            precondition.clone()?;
            judge_one(artifact, a)
        })
        .collect()
}

fn judge_one(artifact: &NotationArtifact, a: &Authority) -> Result<VerifiedSignature, Rejection> {
    let authority = match &a.identity {
        Identity::Notation(n) => n,
        Identity::Key(_) | Identity::Keyless { .. } => {
            return Err(Rejection::new(format!(
                "a Notary Project signature cannot satisfy cosign authority `{}` ({})",
                a.name,
                if matches!(a.identity, Identity::Key(_)) {
                    "key"
                } else {
                    "keyless"
                }
            )))
        }
    };
    let statement = authority.statement_for(&artifact.repository).map_err(|e| {
        Rejection::new(format!(
            "authority `{}`: no trust-policy statement applies to {}: {e}",
            a.name, artifact.repository
        ))
    })?;
    let verified = notation::verify(
        &artifact.envelope,
        &artifact.media_type,
        &target_of(&artifact.target),
        statement,
        &authority.stores,
        artifact.checked_at,
        &revocation_of(&artifact.revocation),
    )?;
    Ok(VerifiedSignature {
        authority: a.name.clone(),
        signer: verified.signer,
        issuer: None,
        tlog_index: None,
        // No log: the authentic (timestamped) signing time, else the time the envelope claims.
        integrated_time: verified.timestamp.or(verified.signing_time),
        logged: verified.logged,
        source: artifact.source.clone(),
    })
}

#[cfg(test)]
#[path = "notation_judge_tests.rs"]
mod tests;
