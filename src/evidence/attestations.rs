//! Collection of in-toto attestations for an image digest, where cosign and GitHub put them:
//! the legacy `sha256-<hex>.att` tag (one DSSE envelope per layer, with cosign's annotations),
//! and Sigstore bundles with DSSE content attached as OCI 1.1 referrers (through the referrers
//! API, or its `sha256-<hex>` tag fallback; the referrer lookup is shared with signatures).
//!
//! Nothing is judged here; lookup failures go to `errors` so evaluation can fail closed.

use futures::stream::{self, StreamExt as _};

use super::signatures::{
    quoted_media_type, tag_layers, CollectLimits, SharedBundles, SkipNotes, BUNDLE_ANNOTATION,
    CERTIFICATE_ANNOTATION, CHAIN_ANNOTATION, RFC3161_ANNOTATION,
};
use super::SignatureArtifact;
use crate::reference::{Digest, Repository};
use crate::registry::Registry;
pub use shipgate_core::evidence::attestations::*;

/// Largest DSSE envelope read from a `.att` layer.
const MAX_ENVELOPE_BYTES: usize = 1024 * 1024;

/// Collects the attestations for `digest` in `repo`: the legacy `.att` tag, and the DSSE
/// bundles among `bundles` (the lookup shared with signatures: `signatures::referrer_bundles`).
pub async fn collect(
    registry: &dyn Registry,
    repo: &Repository,
    digest: &Digest,
    limits: &CollectLimits,
    bundles: SharedBundles<'_>,
) -> AttestationCollection {
    let (mut out, referrers) =
        tokio::join!(collect_legacy(registry, repo, digest, limits), bundles);
    let bundles = referrers.bundles;
    out.notes.extend(bundles.notes);
    out.errors.extend(bundles.errors);
    out.truncated.extend(bundles.truncated);
    for a in bundles.artifacts {
        if let SignatureArtifact::Bundle(b) = a {
            out.artifacts.push(AttestationArtifact::Bundle(b));
        }
    }
    if out.artifacts.len() > limits.max_signatures {
        out.truncated.push(format!(
            "only the first {} of {} attestations were checked (limit max_signatures)",
            limits.max_signatures,
            out.artifacts.len()
        ));
        out.artifacts.truncate(limits.max_signatures);
    }
    out
}

async fn collect_legacy(
    registry: &dyn Registry,
    repo: &Repository,
    digest: &Digest,
    limits: &CollectLimits,
) -> AttestationCollection {
    let mut out = AttestationCollection::default();
    let tag = digest.cosign_tag(".att");
    let Some(layers) = tag_layers(registry, repo, &tag, &mut out.notes, &mut out.errors).await
    else {
        return out;
    };
    let mut candidates = Vec::new();
    let mut skips = SkipNotes::default();
    let mut over_limit = 0usize;
    for (i, layer) in layers.iter().enumerate() {
        if layer.media_type != DSSE_MEDIA_TYPE {
            skips.push(&mut out.notes, || {
                format!(
                    "tag {tag}, layer {i}: media type {} is not a DSSE envelope, skipped",
                    quoted_media_type(&layer.media_type)
                )
            });
            continue;
        }
        if candidates.len() >= limits.max_signatures {
            over_limit += 1;
            continue;
        }
        let ann = layer.annotations.clone().unwrap_or_default();
        candidates.push((i, layer.digest.clone(), ann));
    }
    skips.finish(&mut out.notes, &format!("tag {tag}"));
    if over_limit > 0 {
        out.truncated.push(format!(
            "tag {tag}: only the first {} of {} attestation layers were checked (limit max_signatures)",
            limits.max_signatures,
            limits.max_signatures + over_limit
        ));
    }
    let fetched: Vec<_> = stream::iter(candidates)
        .map(|(i, layer_digest, ann)| {
            let tag = tag.clone();
            async move {
                let source = format!("tag {tag}, layer {i}");
                let d: Digest = layer_digest.parse().map_err(|e| format!("{source}: {e}"))?;
                let envelope = registry
                    .blob(repo, &d, MAX_ENVELOPE_BYTES)
                    .await
                    .map_err(|e| format!("{source}: fetching the DSSE envelope: {e}"))?;
                Ok::<_, String>(LegacyAttestation {
                    envelope: envelope.to_vec(),
                    certificate: ann.get(CERTIFICATE_ANNOTATION).cloned(),
                    chain: ann.get(CHAIN_ANNOTATION).cloned(),
                    rekor_bundle: ann.get(BUNDLE_ANNOTATION).cloned(),
                    rfc3161_timestamp: ann.get(RFC3161_ANNOTATION).cloned(),
                    predicate_type: ann.get(PREDICATE_TYPE_ANNOTATION).cloned(),
                    source,
                })
            }
        })
        .buffered(limits.concurrency.max(1))
        .collect()
        .await;
    for r in fetched {
        match r {
            Ok(a) => out.artifacts.push(AttestationArtifact::Legacy(a)),
            Err(e) => out.errors.push(e),
        }
    }
    out
}
