//! Base-image evidence: the image's layer lists (per platform) and the layer lists of the base
//! images a policy's `baseImages` patterns name, resolved from the registry.
//!
//! The evidence that counts is the layers: an image is built on a base when its layers begin
//! with the base's complete layer list. The OCI annotations `org.opencontainers.image.base.name`
//! / `.digest` and the images a provenance lists among the build's inputs
//! ([`super::base_hints`]) only help to find a candidate (and are reported); they never pass on
//! their own.
//!
//! Network guard: candidates are fetched only from repositories that a `baseImages` pattern
//! names (a literal repository, or one matched by a repository glob); an annotation or a hint
//! can pick a candidate among those, never add a host.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Deserialize;

use super::base_hints::BaseHint;
use crate::reference::{Digest, ImageRef, Repository};
use crate::registry::Registry;
pub use shipgate_core::evidence::base_image::*;
pub use shipgate_core::policy::base_pattern::{BasePattern, Selector};

/// Tags of one repository considered per pattern (in the registry's list order: which tags are
/// "newest" is not knowable from the API). More are reported as truncated.
pub const MAX_TAGS_LISTED: usize = 100;
/// Matching tags resolved per pattern.
pub const MAX_TAGS_RESOLVED: usize = 20;
/// Manifests fetched per collection (the image's and every candidate's, cache hits excluded).
pub const MAX_MANIFESTS: usize = 100;
/// Platform manifests read from one index.
pub const MAX_PLATFORMS: usize = 16;
/// How long a resolved base (pattern + digest → layer lists) is reused: tags move, so short.
const CACHE_TTL: Duration = Duration::from_secs(60);
const CACHE_CAPACITY: usize = 1024;

#[derive(Deserialize)]
struct RawManifest {
    #[serde(default)]
    layers: Option<Vec<RawDescriptor>>,
    #[serde(default)]
    manifests: Option<Vec<RawDescriptor>>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct RawDescriptor {
    digest: String,
    #[serde(default)]
    platform: Option<Platform>,
}

type CacheMap = HashMap<(String, Digest), (Instant, Arc<Vec<PlatformLayers>>)>;

/// Resolved base images (pattern + digest → per-platform layer lists), reused for
/// [`CACHE_TTL`] across evaluations: one per `Gate`, so tests and gates never share it.
#[derive(Default)]
pub struct BaseImageCache {
    map: Mutex<CacheMap>,
    hits: AtomicU64,
    misses: AtomicU64,
}

/// What `/metrics` shows of a [`BaseImageCache`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BaseImageCacheStats {
    pub entries: usize,
    pub hits: u64,
    pub misses: u64,
}

impl BaseImageCache {
    fn get(&self, pattern: &str, digest: &Digest) -> Option<Arc<Vec<PlatformLayers>>> {
        let map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let found = map
            .get(&(pattern.to_string(), digest.clone()))
            .filter(|(at, _)| at.elapsed() < CACHE_TTL)
            .map(|(_, v)| v.clone());
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    fn remember(&self, pattern: &str, digest: &Digest, layers: Arc<Vec<PlatformLayers>>) {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= CACHE_CAPACITY {
            map.retain(|_, (at, _)| at.elapsed() < CACHE_TTL);
            if map.len() >= CACHE_CAPACITY {
                map.clear();
            }
        }
        map.insert(
            (pattern.to_string(), digest.clone()),
            (Instant::now(), layers),
        );
    }

    pub fn stats(&self) -> BaseImageCacheStats {
        BaseImageCacheStats {
            entries: self.map.lock().unwrap_or_else(|e| e.into_inner()).len(),
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
        }
    }
}

struct Fetcher<'a> {
    registry: &'a dyn Registry,
    cache: &'a BaseImageCache,
    fetched: usize,
}

impl Fetcher<'_> {
    async fn manifest_json(
        &mut self,
        repo: &Repository,
        digest: &Digest,
    ) -> Result<RawManifest, String> {
        if self.fetched >= MAX_MANIFESTS {
            return Err(format!(
                "not fetched: the limit of {MAX_MANIFESTS} manifests per evaluation was reached"
            ));
        }
        self.fetched += 1;
        let m = self
            .registry
            .manifest(repo, digest.as_str())
            .await
            .map_err(|e| format!("{repo}@{digest}: {e}"))?
            .ok_or_else(|| format!("{repo}@{digest}: no such manifest"))?;
        serde_json::from_slice(&m.bytes)
            .map_err(|e| format!("{repo}@{digest}: not an image manifest or index ({e})"))
    }

    /// The layer lists of the manifest at `digest` (one per platform for an index), and its
    /// annotations (an index's, else its first platform manifest's).
    async fn layers(
        &mut self,
        repo: &Repository,
        digest: &Digest,
    ) -> Result<(Vec<PlatformLayers>, BTreeMap<String, String>), String> {
        let top = self.manifest_json(repo, digest).await?;
        if let Some(layers) = top.layers {
            let layers = layers.into_iter().map(|l| l.digest).collect();
            return Ok((
                vec![PlatformLayers {
                    platform: None,
                    digest: digest.clone(),
                    layers,
                }],
                top.annotations,
            ));
        }
        let Some(children) = top.manifests else {
            return Err(format!(
                "{repo}@{digest}: neither an image manifest nor an index"
            ));
        };
        let mut annotations = top.annotations;
        let mut out = Vec::new();
        // BuildKit's attestation manifests say `unknown/unknown`: they are not platforms.
        let children: Vec<_> = children
            .into_iter()
            .filter(|c| c.platform.as_ref().is_none_or(|p| p.os != "unknown"))
            .collect();
        if children.len() > MAX_PLATFORMS {
            return Err(format!(
                "{repo}@{digest}: the index has {} platforms, more than the {MAX_PLATFORMS} read",
                children.len()
            ));
        }
        for child in children {
            let child_digest: Digest = child
                .digest
                .parse()
                .map_err(|_| format!("{repo}@{digest}: an index entry has a bad digest"))?;
            let m = self.manifest_json(repo, &child_digest).await?;
            let Some(layers) = m.layers else {
                return Err(format!(
                    "{repo}@{child_digest}: a nested index is not supported as an image platform"
                ));
            };
            if annotations.is_empty() {
                annotations = m.annotations;
            }
            out.push(PlatformLayers {
                platform: child.platform,
                digest: child_digest,
                layers: layers.into_iter().map(|l| l.digest).collect(),
            });
        }
        if out.is_empty() {
            return Err(format!("{repo}@{digest}: the index names no image"));
        }
        Ok((out, annotations))
    }

    /// A candidate by digest, from the cache when it is fresh.
    async fn candidate(
        &mut self,
        pattern: &str,
        repo: &Repository,
        name: String,
        digest: Digest,
    ) -> Result<Candidate, String> {
        let manifests = match self.cache.get(pattern, &digest) {
            Some(m) => m,
            None => {
                let (m, _) = self.layers(repo, &digest).await?;
                let m = Arc::new(m);
                self.cache.remember(pattern, &digest, m.clone());
                m
            }
        };
        Ok(Candidate {
            name,
            digest,
            manifests,
        })
    }
}

/// Reads the image's layers and resolves every pattern's candidates. Never fails: what could
/// not be read is recorded, and the check turns it into `error`. `hints` (from provenance)
/// add candidates for repository patterns and are resolved first among a tag pattern's tags;
/// `hint_errors` (attestation locations that could not be read) make a repository pattern's
/// candidate list incomplete, so they are its errors.
pub async fn collect(
    registry: &dyn Registry,
    cache: &BaseImageCache,
    repo: &Repository,
    digest: &Digest,
    patterns: &[&BasePattern],
    hints: &[BaseHint],
    hint_errors: &[String],
) -> BaseImageEvidence {
    let mut fetcher = Fetcher {
        registry,
        cache,
        fetched: 0,
    };
    let mut evidence = BaseImageEvidence::default();
    let annotations = match fetcher.layers(repo, digest).await {
        Ok((image, annotations)) => {
            evidence.image = image;
            annotations
        }
        Err(e) => {
            evidence.image_error = Some(e);
            return evidence;
        }
    };
    let annotation = BaseAnnotation {
        name: annotations.get(ANNOTATION_BASE_NAME).cloned(),
        digest: annotations.get(ANNOTATION_BASE_DIGEST).cloned(),
    };
    let annotated: Option<(ImageRef, Option<Digest>)> = annotation
        .name
        .as_deref()
        .and_then(|n| n.trim().parse::<ImageRef>().ok())
        .map(|r| {
            let d = annotation
                .digest
                .as_deref()
                .and_then(|d| d.trim().parse::<Digest>().ok())
                .or_else(|| r.digest.clone());
            (r, d)
        });
    if annotation.name.is_some() || annotation.digest.is_some() {
        evidence.annotation = Some(annotation);
    }
    evidence.hints = hints.to_vec();
    // The annotation first, then the provenance's images: the names a repository pattern may
    // fetch. Each is (label source, reference, digest).
    let mut named: Vec<(ImageRef, Option<Digest>)> = Vec::new();
    if let Some(a) = &annotated {
        named.push(a.clone());
    }
    for h in hints {
        if let Some(p) = h.parsed() {
            if !named.iter().any(|n| n.0 == p.0 && n.1 == p.1) {
                named.push(p);
            }
        }
    }

    for pattern in patterns {
        if evidence.patterns.contains_key(&pattern.text) {
            continue;
        }
        let mut found = PatternCandidates::default();
        match &pattern.selector {
            Selector::Digest { repository, digest } => {
                let name = format!("{repository}@{digest}");
                match fetcher
                    .candidate(&pattern.text, repository, name, digest.clone())
                    .await
                {
                    Ok(c) => found.candidates.push(c),
                    Err(e) => found.errors.push(e),
                }
            }
            Selector::Tags { repository, tags } => {
                match registry.tags(repository, MAX_TAGS_LISTED).await {
                    Err(e) => found
                        .errors
                        .push(format!("cannot list the tags of {repository}: {e}")),
                    Ok((listed, truncated)) => {
                        if truncated {
                            let note = format!(
                                "{repository} has more than {MAX_TAGS_LISTED} tags; only the first {MAX_TAGS_LISTED} in the registry's order were considered"
                            );
                            found
                                .truncated
                                .push(format!("{note} (limit MAX_TAGS_LISTED)"));
                            found.notes.push(note);
                        }
                        let mut matching: Vec<&String> = listed
                            .iter()
                            .filter(|t| tags.is_match(t.as_str()))
                            .collect();
                        // Tags the annotation or provenance name first, so that the cap on
                        // resolved tags never drops the base the build says it used.
                        let named_here = |t: &&String| {
                            named.iter().any(|(r, _)| {
                                r.repository == *repository && r.tag.as_deref() == Some(t.as_str())
                            })
                        };
                        matching.sort_by_key(|t| !named_here(t));
                        if matching.len() > MAX_TAGS_RESOLVED {
                            let note = format!(
                                "{} tags match; only the first {MAX_TAGS_RESOLVED} were resolved",
                                matching.len()
                            );
                            found
                                .truncated
                                .push(format!("{repository}: {note} (limit MAX_TAGS_RESOLVED)"));
                            found.notes.push(note);
                        }
                        if matching.is_empty() {
                            found.notes.push(format!(
                                "no tag of {repository} matches (of {} listed)",
                                listed.len()
                            ));
                        }
                        for tag in matching.into_iter().take(MAX_TAGS_RESOLVED) {
                            let name = format!("{repository}:{tag}");
                            let resolved = registry
                                .resolve(repository, tag)
                                .await
                                .map_err(|e| format!("cannot resolve {name}: {e}"));
                            let result = match resolved {
                                Ok((d, _)) => {
                                    fetcher.candidate(&pattern.text, repository, name, d).await
                                }
                                Err(e) => Err(e),
                            };
                            match result {
                                Ok(c) => found.candidates.push(c),
                                Err(e) => found.errors.push(e),
                            }
                        }
                    }
                }
            }
            Selector::Repositories { .. } => {
                let covered: Vec<&(ImageRef, Option<Digest>)> = named
                    .iter()
                    .filter(|(n, d)| pattern.covers(n, d.as_ref()))
                    .collect();
                found.errors.extend(hint_errors.iter().map(|e| {
                    format!("the image's attestations could not all be read, so a base its provenance names may be missing: {e}")
                }));
                if covered.is_empty() {
                    found.notes.push(
                        "a repository pattern without a tag is checked only against the bases the image's `org.opencontainers.image.base.name` annotation or its provenance's dependencies name, and they name none in a matching repository".to_string(),
                    );
                }
                for (name, named_digest) in covered {
                    let base_repo = &name.repository;
                    let resolved = match named_digest {
                        Some(d) => Ok(d.clone()),
                        None => registry
                            .resolve(base_repo, name.tag_or_latest())
                            .await
                            .map(|(d, _)| d)
                            .map_err(|e| format!("cannot resolve the named base {name}: {e}")),
                    };
                    let label = match &name.tag {
                        Some(t) => format!("{base_repo}:{t}"),
                        None => match named_digest {
                            Some(d) => format!("{base_repo}@{d}"),
                            None => name.to_string(),
                        },
                    };
                    let result = match resolved {
                        Ok(d) => fetcher.candidate(&pattern.text, base_repo, label, d).await,
                        Err(e) => Err(e),
                    };
                    match result {
                        Ok(c) => found.candidates.push(c),
                        Err(e) => found.errors.push(e),
                    }
                }
            }
        }
        evidence.patterns.insert(pattern.text.clone(), found);
    }
    evidence
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_parse() {
        let p = BasePattern::parse("public.ecr.aws/docker/library/alpine:3.*").unwrap();
        match p.selector {
            Selector::Tags { repository, tags } => {
                assert_eq!(
                    repository.to_string(),
                    "public.ecr.aws/docker/library/alpine"
                );
                assert!(tags.is_match("3.19"));
                assert!(!tags.is_match("4.0"));
            }
            _ => panic!("tags"),
        }
        let p = BasePattern::parse("127.0.0.1:5000/base/alpine:3.*").unwrap();
        assert!(matches!(p.selector, Selector::Tags { .. }));
        let p = BasePattern::parse("123456789012.dkr.ecr.*.amazonaws.com/golden/**").unwrap();
        match p.selector {
            Selector::Repositories { glob } => {
                assert!(glob.is_match("123456789012.dkr.ecr.eu-west-1.amazonaws.com/golden/a/b"));
                assert!(!glob.is_match("123456789012.dkr.ecr.eu-west-1.amazonaws.com/other/a"));
            }
            _ => panic!("repositories"),
        }
        let d = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let p = BasePattern::parse(&format!("ghcr.io/acme/base@{d}")).unwrap();
        assert!(matches!(p.selector, Selector::Digest { .. }));
        for bad in [
            "alpine:3.*",
            "library/alpine:3",
            "ghcr.io/acme/*:3.*",
            "ghcr.io/acme/base@sha256:00",
            "ghcr.io/acme/base:[",
            "ghcr.io/[",
            "ghcr.io/acme/base:a/b",
            "",
        ] {
            assert!(BasePattern::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn prefix_and_platforms() {
        let d = |n: u8| Digest::of(&[n]);
        let pl = |p: Option<(&str, &str)>, layers: &[&str]| PlatformLayers {
            platform: p.map(|(os, a)| Platform {
                os: os.into(),
                architecture: a.into(),
                variant: None,
            }),
            digest: d(0),
            layers: layers.iter().map(|s| s.to_string()).collect(),
        };
        let base = Candidate {
            name: "r.io/base:1".into(),
            digest: d(1),
            manifests: Arc::new(vec![
                pl(Some(("linux", "amd64")), &["a", "b"]),
                pl(Some(("linux", "arm64")), &["c"]),
            ]),
        };
        assert!(base
            .base_of(&pl(Some(("linux", "amd64")), &["a", "b", "x"]))
            .is_some());
        assert!(base.base_of(&pl(None, &["a", "b"])).is_some());
        assert!(base
            .base_of(&pl(Some(("linux", "arm64")), &["a", "b", "x"]))
            .is_none());
        assert!(base
            .base_of(&pl(Some(("linux", "amd64")), &["b", "a"]))
            .is_none());
        assert!(base.base_of(&pl(None, &["a"])).is_none());
        assert_eq!(base.layer_count(), 2);
    }
}
