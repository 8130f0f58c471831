//! Collection of Notary Project (Notation) signatures for an image digest: the referrers whose
//! `artifactType` is `application/vnd.cncf.notary.signature`, from the referrer lookup that
//! cosign bundles and attestations share (`referrers`; never listed twice). Each is a manifest
//! whose single layer is the envelope (JWS or COSE).
//!
//! Only for policies with a Notation authority (`Needs::notation`): a cosign-only policy makes
//! exactly the requests it made before. Nothing is judged here; a layer of any media type
//! becomes an artifact, so that a malformed signature is rejected with a reason in the decision
//! rather than skipped out of sight.

use futures::stream::{self, StreamExt as _};
use shipgate_core::evidence::notation::{NotationTarget, RevocationCheck};

use super::aws_signer::{self, SignerRevocation};
use super::referrers::Referrers;
use super::signatures::{self, CollectLimits, SharedBundles, SkipNotes};
use super::{NotationArtifact, SignatureArtifact};
use crate::reference::{Digest, Repository};
use crate::registry::{Descriptor, Registry};
use shipgate_core::evidence::signatures::SignatureCollection;

/// How to collect Notary Project signatures, when a governing policy has a Notation authority.
#[derive(Clone, Copy)]
pub struct NotationPlan<'a> {
    /// Where to ask whether an AWS Signer signature is revoked; `None` when no authority's level
    /// checks revocation (`NotationNeeds::signer_revocation`).
    pub revocation: Option<&'a dyn SignerRevocation>,
}

/// The signatures of `digest`: cosign's (legacy tag and bundle referrers, as
/// `signatures::collect_with`) and, with a `plan`, the Notary Project ones.
pub async fn collect_signatures(
    registry: &dyn Registry,
    repo: &Repository,
    digest: &Digest,
    limits: &CollectLimits,
    shared: SharedBundles<'_>,
    plan: Option<NotationPlan<'_>>,
) -> SignatureCollection {
    let Some(plan) = plan else {
        return signatures::collect_with(registry, repo, digest, limits, shared).await;
    };
    let cosign = signatures::collect_with(registry, repo, digest, limits, shared.clone());
    let notation = async {
        let referrers = shared.await;
        let mut found = collect(registry, repo, digest, limits, &referrers).await;
        if let Some(port) = plan.revocation {
            aws_signer::check_revocations(&mut found.artifacts, port, limits.concurrency).await;
        }
        found
    };
    let (mut out, found) = tokio::join!(cosign, notation);
    out.artifacts.extend(found.artifacts);
    out.notes.extend(found.notes);
    out.errors.extend(found.errors);
    out.truncated.extend(found.truncated);
    out
}

/// The Notary Project signatures among `referrers` (at most `max_signatures`), each with the
/// image manifest's descriptor as its target. Asks the registry nothing when none is listed.
pub async fn collect(
    registry: &dyn Registry,
    repo: &Repository,
    digest: &Digest,
    limits: &CollectLimits,
    referrers: &Referrers,
) -> SignatureCollection {
    let mut out = SignatureCollection::default();
    let via = referrers.via.as_str();
    let mut listed = referrers.notation.clone();
    if listed.is_empty() {
        if !via.is_empty() {
            out.notes
                .push(format!("{via}: no Notary Project signatures"));
        }
        return out;
    }
    if listed.len() > limits.max_signatures {
        out.truncated.push(format!(
            "{via}: only the first {} of {} Notary Project signature referrers were checked (limit max_signatures)",
            limits.max_signatures,
            listed.len()
        ));
        listed.truncate(limits.max_signatures);
    }
    let target = match image_target(registry, repo, digest).await {
        Ok(t) => t,
        Err(e) => {
            out.errors.push(e);
            return out;
        }
    };
    let checked_at = time::OffsetDateTime::now_utc().unix_timestamp();
    let results: Vec<_> = stream::iter(listed)
        .map(|d| fetch_signature(registry, repo, digest, d, via, limits))
        .buffered(limits.concurrency.max(1))
        .collect()
        .await;
    let mut skips = SkipNotes::default();
    let mut found = 0usize;
    for r in results {
        match r {
            Ok(Ok((envelope, media_type, source))) => {
                found += 1;
                out.artifacts
                    .push(SignatureArtifact::Notation(NotationArtifact {
                        envelope,
                        media_type,
                        target: target.clone(),
                        repository: repo.to_string(),
                        checked_at,
                        revocation: RevocationCheck::NotChecked,
                        source,
                    }));
            }
            Ok(Err(note)) => skips.push(&mut out.notes, || note),
            Err(e) => out.errors.push(e),
        }
    }
    out.notes
        .push(format!("{via}: {found} Notary Project signatures"));
    skips.finish(&mut out.notes, via);
    out
}

/// The image manifest's descriptor as the registry serves it: the digest is checked by the
/// client, so the size of the bytes is the size a signature names.
async fn image_target(
    registry: &dyn Registry,
    repo: &Repository,
    digest: &Digest,
) -> Result<NotationTarget, String> {
    let what = "reading the image manifest, which Notary Project signatures name";
    match registry.manifest(repo, digest.as_str()).await {
        Ok(Some(m)) => Ok(NotationTarget {
            media_type: m.media_type,
            digest: m.digest.to_string(),
            size: m.bytes.len() as u64,
        }),
        Ok(None) => Err(format!("{what}: {digest} does not exist in {repo}")),
        Err(e) => Err(format!("{what}: {e}")),
    }
}

/// `Ok(Ok((envelope, media type, source)))`, `Ok(Err(note))` for a referrer that is not about
/// this image or has no single envelope, `Err(error)` when it could not be read.
async fn fetch_signature(
    registry: &dyn Registry,
    repo: &Repository,
    subject: &Digest,
    desc: Descriptor,
    via: &str,
    limits: &CollectLimits,
) -> Result<Result<(Vec<u8>, String, String), String>, String> {
    let source = format!("Notary Project signature {} ({via})", desc.digest);
    let parsed =
        match signatures::referrer_manifest(registry, repo, subject, &desc, &source).await? {
            Ok(m) => m,
            Err(note) => return Ok(Err(note)),
        };
    // The Notary Project's signature manifest has exactly one layer: the envelope.
    let [layer] = parsed.layers.as_slice() else {
        return Ok(Err(format!(
            "{source}: {} layers, where a Notary Project signature has exactly one (its envelope); skipped",
            parsed.layers.len()
        )));
    };
    let ld: Digest = layer.digest.parse().map_err(|e| format!("{source}: {e}"))?;
    let envelope = registry
        .blob(repo, &ld, limits.max_envelope_bytes)
        .await
        .map_err(|e| format!("{source}: fetching the envelope: {e}"))?;
    Ok(Ok((envelope.to_vec(), layer.media_type.clone(), source)))
}
