//! Collection of signature artifacts for an image digest, in the places cosign writes them:
//! the legacy `sha256-<hex>.sig` tag, and Sigstore bundles attached as OCI 1.1 referrers
//! (through the referrers API, or the `sha256-<hex>` index tag when the registry has none:
//! `referrers`). Notary Project signatures are listed in the same lookup and fetched by
//! `notation`.
//!
//! Nothing is judged here. Whatever went wrong while looking is returned in `errors`, so that
//! evaluation can fail closed with the reason instead of reading it as "not signed".

use futures::stream::{self, StreamExt as _};
use serde::Deserialize;

use super::referrers;
pub use super::referrers::Referrers;
use super::{BundleArtifact, LegacySignature, SignatureArtifact};
use crate::reference::{Digest, Repository};
use crate::registry::{Descriptor, Registry};
use crate::verify::notation::SIGNATURE_ARTIFACT_TYPE as NOTATION_ARTIFACT_TYPE;
pub use shipgate_core::evidence::signatures::*;

/// Bounds on what `collect` reads.
#[derive(Debug, Clone)]
pub struct CollectLimits {
    /// Most artifacts returned (legacy layers and bundles together; Notary Project signatures,
    /// where a policy reads them, have the same bound of their own).
    pub max_signatures: usize,
    /// Largest simple-signing payload blob read.
    pub max_payload_bytes: usize,
    /// Largest Sigstore bundle blob read.
    pub max_bundle_bytes: usize,
    /// Largest Notary Project signature envelope read.
    pub max_envelope_bytes: usize,
    /// How many referrer manifests are fetched at once.
    pub concurrency: usize,
}

/// Most "skipped" notes one tag manifest or listing adds; the rest are counted in one note.
pub const MAX_SKIP_NOTES: usize = 8;
/// Longest media type quoted in a note (it comes from the registry).
const MAX_QUOTED_MEDIA_TYPE: usize = 128;

/// `media_type` as quoted in a note: bounded, since a registry chooses it.
pub(super) fn quoted_media_type(media_type: &str) -> String {
    crate::decision::truncate_text(media_type, MAX_QUOTED_MEDIA_TYPE)
}

/// Counts skipped entries and notes only the first [`MAX_SKIP_NOTES`] of them.
#[derive(Default)]
pub(super) struct SkipNotes {
    skipped: usize,
}

impl SkipNotes {
    pub(super) fn push(&mut self, notes: &mut Vec<String>, note: impl FnOnce() -> String) {
        self.skipped += 1;
        if self.skipped <= MAX_SKIP_NOTES {
            notes.push(note());
        }
    }

    pub(super) fn finish(self, notes: &mut Vec<String>, what: &str) {
        if self.skipped > MAX_SKIP_NOTES {
            notes.push(format!(
                "{what}: {} more skipped entries not listed",
                self.skipped - MAX_SKIP_NOTES
            ));
        }
    }
}

impl Default for CollectLimits {
    fn default() -> Self {
        CollectLimits {
            max_signatures: 32,
            max_payload_bytes: 64 * 1024,
            max_bundle_bytes: 1024 * 1024,
            max_envelope_bytes: 1024 * 1024,
            concurrency: 4,
        }
    }
}

#[derive(Deserialize)]
pub(super) struct ImageManifest {
    #[serde(default)]
    pub(super) layers: Vec<Descriptor>,
    #[serde(default)]
    pub(super) subject: Option<Descriptor>,
}

/// The referrer lookup of one evaluation, shared: signatures (cosign and Notary Project) and
/// attestations all need what is attached to the digest, and the registry is asked once.
pub type SharedBundles<'a> = futures::future::Shared<futures::future::BoxFuture<'a, Referrers>>;

/// Starts (lazily) the one referrer lookup of `digest` that [`collect`] and
/// `attestations::collect` share.
pub fn referrer_bundles<'a>(
    registry: &'a dyn Registry,
    repo: &'a Repository,
    digest: &'a Digest,
    limits: &'a CollectLimits,
) -> SharedBundles<'a> {
    use futures::FutureExt as _;
    collect_bundles(registry, repo, digest, limits)
        .boxed()
        .shared()
}

/// Collects the signature artifacts for `digest` in `repo`: the legacy `.sig` tag and the
/// bundles attached as referrers.
pub async fn collect(
    registry: &dyn Registry,
    repo: &Repository,
    digest: &Digest,
    limits: &CollectLimits,
) -> SignatureCollection {
    let bundles = referrer_bundles(registry, repo, digest, limits);
    collect_with(registry, repo, digest, limits, bundles).await
}

/// [`collect`], with the referrer lookup of `bundles` (from [`referrer_bundles`]) that
/// attestation collection shares.
pub async fn collect_with(
    registry: &dyn Registry,
    repo: &Repository,
    digest: &Digest,
    limits: &CollectLimits,
    bundles: SharedBundles<'_>,
) -> SignatureCollection {
    let (legacy, referrers) = tokio::join!(collect_legacy(registry, repo, digest, limits), bundles);
    let mut out = SignatureCollection::default();
    for part in [legacy, referrers.bundles] {
        out.artifacts.extend(part.artifacts);
        out.notes.extend(part.notes);
        out.errors.extend(part.errors);
        out.truncated.extend(part.truncated);
    }
    if out.artifacts.len() > limits.max_signatures {
        out.truncated.push(format!(
            "only the first {} of {} signature artifacts were checked (limit max_signatures)",
            limits.max_signatures,
            out.artifacts.len()
        ));
        out.artifacts.truncate(limits.max_signatures);
    }
    out
}

/// The layers of a cosign tag manifest (`sha256-<hex>.sig` or `.att`). `None`, with a note when
/// the tag does not exist or an error when it cannot be read, if there are none to look at.
pub(super) async fn tag_layers(
    registry: &dyn Registry,
    repo: &Repository,
    tag: &str,
    notes: &mut Vec<String>,
    errors: &mut Vec<String>,
) -> Option<Vec<Descriptor>> {
    let manifest = match registry.manifest(repo, tag).await {
        Ok(Some(m)) => m,
        Ok(None) => {
            notes.push(format!("tag {tag}: not found"));
            return None;
        }
        Err(e) => {
            errors.push(format!("looking up tag {tag}: {e}"));
            return None;
        }
    };
    match serde_json::from_slice::<ImageManifest>(&manifest.bytes) {
        Ok(m) => {
            notes.push(format!("tag {tag}: {} layers", m.layers.len()));
            Some(m.layers)
        }
        Err(e) => {
            errors.push(format!(
                "tag {tag} ({}) is not an image manifest: {e}",
                manifest.digest
            ));
            None
        }
    }
}

async fn collect_legacy(
    registry: &dyn Registry,
    repo: &Repository,
    digest: &Digest,
    limits: &CollectLimits,
) -> SignatureCollection {
    let mut out = SignatureCollection::default();
    let tag = digest.cosign_tag(".sig");
    let Some(layers) = tag_layers(registry, repo, &tag, &mut out.notes, &mut out.errors).await
    else {
        return out;
    };
    let mut candidates = Vec::new();
    let mut skips = SkipNotes::default();
    let mut over_limit = 0usize;
    for (i, layer) in layers.iter().enumerate() {
        if layer.media_type != SIMPLESIGNING_MEDIA_TYPE {
            skips.push(&mut out.notes, || {
                format!(
                    "tag {tag}, layer {i}: media type {} is not a cosign signature, skipped",
                    quoted_media_type(&layer.media_type)
                )
            });
            continue;
        }
        let Some(signature) = layer
            .annotations
            .as_ref()
            .and_then(|a| a.get(SIGNATURE_ANNOTATION))
        else {
            skips.push(&mut out.notes, || {
                format!("tag {tag}, layer {i}: no {SIGNATURE_ANNOTATION} annotation, skipped")
            });
            continue;
        };
        if candidates.len() >= limits.max_signatures {
            over_limit += 1;
            continue;
        }
        let ann = layer.annotations.clone().unwrap_or_default();
        candidates.push((i, layer.digest.clone(), signature.clone(), ann));
    }
    skips.finish(&mut out.notes, &format!("tag {tag}"));
    if over_limit > 0 {
        out.truncated.push(format!(
            "tag {tag}: only the first {} of {} signature layers were checked (limit max_signatures)",
            limits.max_signatures,
            limits.max_signatures + over_limit
        ));
    }
    let fetched: Vec<_> = stream::iter(candidates)
        .map(|(i, layer_digest, signature, ann)| {
            let tag = tag.clone();
            async move {
                let source = format!("tag {tag}, layer {i}");
                let d: Digest = layer_digest.parse().map_err(|e| format!("{source}: {e}"))?;
                let payload = registry
                    .blob(repo, &d, limits.max_payload_bytes)
                    .await
                    .map_err(|e| format!("{source}: fetching the signed payload: {e}"))?;
                Ok::<_, String>(LegacySignature {
                    payload: payload.to_vec(),
                    signature,
                    certificate: ann.get(CERTIFICATE_ANNOTATION).cloned(),
                    chain: ann.get(CHAIN_ANNOTATION).cloned(),
                    rekor_bundle: ann.get(BUNDLE_ANNOTATION).cloned(),
                    rfc3161_timestamp: ann.get(RFC3161_ANNOTATION).cloned(),
                    source,
                })
            }
        })
        .buffered(limits.concurrency.max(1))
        .collect()
        .await;
    for r in fetched {
        match r {
            Ok(sig) => out.artifacts.push(SignatureArtifact::Legacy(sig)),
            Err(e) => out.errors.push(e),
        }
    }
    out
}

/// The Sigstore bundles attached to `digest` as OCI referrers (referrers API, else its tag
/// fallback), and the Notary Project signatures listed there; shared with attestation
/// collection.
async fn collect_bundles(
    registry: &dyn Registry,
    repo: &Repository,
    digest: &Digest,
    limits: &CollectLimits,
) -> Referrers {
    let mut out = SignatureCollection::default();
    let Some((descriptors, via)) = referrers::list(registry, repo, digest, &mut out).await else {
        return Referrers {
            bundles: out,
            ..Referrers::default()
        };
    };
    // Only listed here; fetched by `notation::collect` for policies with a Notation authority.
    let notation = descriptors
        .iter()
        .filter(|d| d.artifact_type.as_deref() == Some(NOTATION_ARTIFACT_TYPE))
        .cloned()
        .collect();
    let mut bundles: Vec<Descriptor> = descriptors
        .into_iter()
        .filter(|d| {
            d.artifact_type
                .as_deref()
                .is_some_and(|t| t.starts_with(BUNDLE_MEDIA_PREFIX))
        })
        .collect();
    if bundles.len() > limits.max_signatures {
        out.truncated.push(format!(
            "{via}: only the first {} of {} Sigstore bundle referrers were checked (limit max_signatures)",
            limits.max_signatures,
            bundles.len(),
        ));
        bundles.truncate(limits.max_signatures);
    }
    let results: Vec<_> = stream::iter(bundles)
        .map(|d| fetch_bundle(registry, repo, digest, d, &via, limits))
        .buffered(limits.concurrency.max(1))
        .collect()
        .await;
    let mut skips = SkipNotes::default();
    for r in results {
        match r {
            Ok(Ok(b)) => out.artifacts.push(SignatureArtifact::Bundle(b)),
            Ok(Err(note)) => skips.push(&mut out.notes, || note),
            Err(e) => out.errors.push(e),
        }
    }
    skips.finish(&mut out.notes, &via);
    Referrers {
        bundles: out,
        notation,
        via,
    }
}

/// A listed referrer's manifest, read and parsed: `Ok(Err(note))` when its `subject` is not
/// `subject` (a registry that lists another image's referrers: skipped, said), `Err(error)`
/// when it cannot be read. Shared by the bundle and Notary Project collectors.
pub(super) async fn referrer_manifest(
    registry: &dyn Registry,
    repo: &Repository,
    subject: &Digest,
    desc: &Descriptor,
    source: &str,
) -> Result<Result<ImageManifest, String>, String> {
    let d: Digest = desc.digest.parse().map_err(|e| format!("{source}: {e}"))?;
    let manifest = registry
        .manifest(repo, d.as_str())
        .await
        .map_err(|e| format!("{source}: {e}"))?
        .ok_or_else(|| format!("{source}: listed, but its manifest does not exist"))?;
    let parsed: ImageManifest = serde_json::from_slice(&manifest.bytes)
        .map_err(|e| format!("{source}: not an image manifest: {e}"))?;
    match parsed.subject.as_ref().map(|s| s.digest.as_str()) {
        Some(s) if s == subject.as_str() => Ok(Ok(parsed)),
        other => Ok(Err(format!(
            "{source}: its subject is {}, not {subject}; skipped",
            other.unwrap_or("missing")
        ))),
    }
}

/// `Ok(Ok(bundle))`, `Ok(Err(note))` for a referrer that is skipped on purpose, `Err(error)`.
async fn fetch_bundle(
    registry: &dyn Registry,
    repo: &Repository,
    subject: &Digest,
    desc: Descriptor,
    via: &str,
    limits: &CollectLimits,
) -> Result<Result<BundleArtifact, String>, String> {
    let source = format!("referrer {} ({via})", desc.digest);
    let parsed = match referrer_manifest(registry, repo, subject, &desc, &source).await? {
        Ok(m) => m,
        Err(note) => return Ok(Err(note)),
    };
    let Some(layer) = parsed
        .layers
        .iter()
        .find(|l| l.media_type.starts_with(BUNDLE_MEDIA_PREFIX))
    else {
        return Ok(Err(format!("{source}: no Sigstore bundle layer; skipped")));
    };
    let ld: Digest = layer.digest.parse().map_err(|e| format!("{source}: {e}"))?;
    let json = registry
        .blob(repo, &ld, limits.max_bundle_bytes)
        .await
        .map_err(|e| format!("{source}: fetching the bundle: {e}"))?;
    Ok(Ok(BundleArtifact {
        json: json.to_vec(),
        media_type: layer.media_type.clone(),
        source,
    }))
}
