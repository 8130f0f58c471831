//! The OCI 1.1 referrers of an image digest, listed once per evaluation: through the referrers
//! API, or its `sha256-<hex>` tag fallback (an image index) when the registry has none. Sigstore
//! bundles, DSSE attestations and Notary Project signatures are all found in this one listing.

use crate::reference::{Digest, Repository};
use serde::Deserialize;
use shipgate_core::evidence::signatures::SignatureCollection;

use crate::registry::{Descriptor, Registry, MAX_REFERRERS};

/// What the shared referrer lookup found: the Sigstore bundles it fetched (with the notes,
/// errors and bounds of the listing itself), and the Notary Project signature referrers it
/// listed, which are only fetched for policies that have a Notation authority.
#[derive(Debug, Clone, Default)]
pub struct Referrers {
    pub bundles: SignatureCollection,
    /// Descriptors with `artifactType` `application/vnd.cncf.notary.signature`, in listing order.
    pub notation: Vec<Descriptor>,
    /// How they were listed, for sources: `referrers API` or `tag fallback sha256-…`.
    pub via: String,
}

#[derive(Deserialize)]
struct ImageIndex {
    #[serde(default)]
    manifests: Vec<Descriptor>,
}

/// The referrers of `digest` and how they were listed; `None` (with a note or an error in
/// `out`) when there is no listing to look at.
pub(super) async fn list(
    registry: &dyn Registry,
    repo: &Repository,
    digest: &Digest,
    out: &mut SignatureCollection,
) -> Option<(Vec<Descriptor>, String)> {
    let (mut descriptors, via) = match registry.referrers(repo, digest).await {
        Ok(Some(d)) => {
            out.notes
                .push(format!("referrers API: {} referrers of {digest}", d.len()));
            (d, "referrers API".to_string())
        }
        Ok(None) => {
            let tag = digest.cosign_tag("");
            match registry.manifest(repo, &tag).await {
                Ok(None) => {
                    out.notes.push(format!(
                        "referrers API not supported by the registry, tag fallback {tag}: not found"
                    ));
                    return None;
                }
                Err(e) => {
                    out.errors.push(format!(
                        "referrers API not supported by the registry; looking up tag fallback {tag}: {e}"
                    ));
                    return None;
                }
                Ok(Some(m)) => match serde_json::from_slice::<ImageIndex>(&m.bytes) {
                    Ok(index) => {
                        out.notes.push(format!(
                            "referrers API not supported by the registry, used tag fallback {tag}: {} referrers",
                            index.manifests.len()
                        ));
                        (index.manifests, format!("tag fallback {tag}"))
                    }
                    Err(e) => {
                        out.errors.push(format!(
                            "tag fallback {tag} ({}) is not an image index: {e}",
                            m.digest
                        ));
                        return None;
                    }
                },
            }
        }
        Err(e) => {
            out.errors
                .push(format!("listing the referrers of {digest}: {e}"));
            return None;
        }
    };
    // The registry client returns one more than `MAX_REFERRERS` when the listing went on (the
    // tag fallback index is cut here the same way): more than it means the rest was not read.
    if descriptors.len() > MAX_REFERRERS {
        out.truncated.push(format!(
            "{via}: more than {MAX_REFERRERS} referrers listed; only the first {MAX_REFERRERS} were considered (limit max_referrers)"
        ));
        descriptors.truncate(MAX_REFERRERS);
    }
    Some((descriptors, via))
}
