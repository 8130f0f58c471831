//! Base-image evidence: the image's layer lists (per platform) and the layer lists of the
//! base images a policy's `baseImages` patterns name. The layers are what counts: an image is
//! built on a base when its layers begin with the base's complete layer list; annotations and
//! provenance hints only help to find a candidate.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::base_hints::BaseHint;
use crate::reference::Digest;

pub const ANNOTATION_BASE_NAME: &str = "org.opencontainers.image.base.name";
pub const ANNOTATION_BASE_DIGEST: &str = "org.opencontainers.image.base.digest";

/// `os/architecture[/variant]` of an index entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub architecture: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl Platform {
    /// Same os and architecture, and the same variant when both give one.
    pub fn same(&self, other: &Platform) -> bool {
        self.os == other.os
            && self.architecture == other.architecture
            && match (&self.variant, &other.variant) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            }
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// One image manifest: its platform (when an index named it) and its layer digests in order.
#[derive(Debug, Clone, Serialize)]
pub struct PlatformLayers {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    pub digest: Digest,
    pub layers: Vec<String>,
}

impl PlatformLayers {
    pub fn platform_name(&self) -> String {
        self.platform
            .as_ref()
            .map_or_else(|| "the image".to_string(), |p| p.to_string())
    }
}

/// A base image a pattern selected, resolved to a digest and its per-platform layer lists.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// `registry/repo:tag` or `registry/repo@sha256:…`.
    pub name: String,
    pub digest: Digest,
    pub manifests: Arc<Vec<PlatformLayers>>,
}

impl Candidate {
    /// The base manifest `image` is built on, if any: for the same platform when both are known,
    /// the base's complete (non-empty) layer list must be a prefix of the image's.
    pub fn base_of(&self, image: &PlatformLayers) -> Option<&PlatformLayers> {
        self.manifests.iter().find(|base| {
            let platform_ok = match (&base.platform, &image.platform) {
                (Some(a), Some(b)) => a.same(b),
                _ => true,
            };
            platform_ok && !base.layers.is_empty() && image.layers.starts_with(&base.layers)
        })
    }

    /// The most layers any of its manifests has (for "its N layers").
    pub fn layer_count(&self) -> usize {
        self.manifests
            .iter()
            .map(|m| m.layers.len())
            .max()
            .unwrap_or(0)
    }
}

/// What one pattern resolved to.
#[derive(Debug, Clone, Default)]
pub struct PatternCandidates {
    pub candidates: Vec<Candidate>,
    /// Truncation and other remarks.
    pub notes: Vec<String>,
    /// Lookups that failed: the candidate list may be incomplete.
    pub errors: Vec<String>,
    /// Bounds that cut the candidate list short, each naming its limit: a base that was not
    /// considered can be neither allowed nor ruled out.
    pub truncated: Vec<String>,
}

/// The `org.opencontainers.image.base.*` annotations of the image, as written.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BaseAnnotation {
    pub name: Option<String>,
    pub digest: Option<String>,
}

/// Everything the `base-image` check judges.
#[derive(Debug, Clone, Default)]
pub struct BaseImageEvidence {
    /// The image's manifests: one, or one per platform of an index.
    pub image: Vec<PlatformLayers>,
    /// Why the image's own layers could not be read (then nothing can be judged).
    pub image_error: Option<String>,
    pub annotation: Option<BaseAnnotation>,
    /// Images the provenance lists among the build's inputs (candidates' names, not proof).
    pub hints: Vec<BaseHint>,
    /// By pattern text.
    pub patterns: BTreeMap<String, PatternCandidates>,
}

/// Whether `annotation` names `candidate` (by digest, else by name).
pub fn annotation_names(annotation: &BaseAnnotation, candidate: &Candidate) -> bool {
    let by_digest = annotation
        .digest
        .as_deref()
        .is_some_and(|d| d.trim() == candidate.digest.as_str());
    let by_name = annotation.name.as_deref().is_some_and(|n| {
        let n = n.trim();
        n == candidate.name
            || n.strip_suffix(&format!("@{}", candidate.digest))
                .is_some_and(|rest| rest == candidate.name || candidate.name.starts_with(rest))
    });
    by_digest || by_name
}
