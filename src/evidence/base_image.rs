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
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use globset::{GlobBuilder, GlobMatcher};
use serde::{Deserialize, Serialize};

use super::base_hints::BaseHint;
use crate::reference::{Digest, ImageRef, Repository};
use crate::registry::Registry;

pub const ANNOTATION_BASE_NAME: &str = "org.opencontainers.image.base.name";
pub const ANNOTATION_BASE_DIGEST: &str = "org.opencontainers.image.base.digest";

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

/// One entry of `baseImages.allow` / `deny`, checked.
#[derive(Debug, Clone)]
pub struct BasePattern {
    /// As written in the policy.
    pub text: String,
    pub selector: Selector,
}

#[derive(Debug, Clone)]
pub enum Selector {
    /// `registry/repo:TAGGLOB`: the repository's tags that match.
    Tags {
        repository: Repository,
        tags: GlobMatcher,
    },
    /// `registry/repo@sha256:…`: exactly that image.
    Digest {
        repository: Repository,
        digest: Digest,
    },
    /// `registry/repo/**` without a tag: repositories cannot be listed portably, so only the
    /// base that the image's annotation names (in a matching repository) is a candidate.
    /// Allowed in `allow` only: it can prove a base, never rule one out (policy load refuses
    /// it in `deny`).
    Repositories { glob: GlobMatcher },
}

impl BasePattern {
    pub fn parse(text: &str) -> Result<BasePattern, String> {
        let t = text.trim();
        let bad = |why: &str| format!("`{text}`: {why}");
        if t.is_empty() {
            return Err(bad("empty pattern"));
        }
        let (repo_part, tag, digest) = if let Some((repo, d)) = t.split_once('@') {
            let digest = d
                .parse::<Digest>()
                .map_err(|_| bad("the digest must be sha256:<64 lowercase hex>"))?;
            (repo, None, Some(digest))
        } else {
            let last_slash = t.rfind('/').map_or(0, |i| i + 1);
            match t[last_slash..].rfind(':') {
                Some(i) => (&t[..last_slash + i], Some(&t[last_slash + i + 1..]), None),
                None => (t, None, None),
            }
        };
        let Some((host, _)) = repo_part.split_once('/') else {
            return Err(bad(
                "write `registry/repository[:TAGGLOB|@sha256:…]`, e.g. `public.ecr.aws/docker/library/alpine:3.*`",
            ));
        };
        if !(host.contains('.') || host.contains(':') || host == "localhost") {
            return Err(bad(
                "the first component must be a registry host (`docker.io/library/alpine:3.*`)",
            ));
        }
        let is_glob = |s: &str| s.contains(['*', '?', '[', ']', '{', '}', '\\']);
        let literal_repo = || -> Result<Repository, String> {
            if is_glob(repo_part) {
                return Err(bad(
                    "a tag glob or digest needs a literal repository (repositories cannot be listed); use `registry/repo/**` without a tag to accept an annotated base from any matching repository",
                ));
            }
            let r: ImageRef = repo_part
                .parse()
                .map_err(|e| bad(&format!("not a repository: {e}")))?;
            if r.tag.is_some() || r.digest.is_some() {
                return Err(bad("not a repository"));
            }
            Ok(r.repository)
        };
        let selector = match (tag, digest) {
            (_, Some(digest)) => Selector::Digest {
                repository: literal_repo()?,
                digest,
            },
            (Some(tag), None) => {
                if tag.is_empty()
                    || tag.len() > 128
                    || !tag.bytes().all(|b| {
                        b.is_ascii_alphanumeric()
                            || matches!(b, b'_' | b'.' | b'-' | b'*' | b'?' | b'[' | b']')
                            || matches!(b, b'{' | b'}' | b',' | b'!')
                    })
                {
                    return Err(bad("the tag glob may hold [A-Za-z0-9_.-] and `*?[]{},!`"));
                }
                let tags = GlobBuilder::new(tag)
                    .literal_separator(true)
                    .build()
                    .map_err(|e| bad(&format!("tag glob: {e}")))?
                    .compile_matcher();
                Selector::Tags {
                    repository: literal_repo()?,
                    tags,
                }
            }
            (None, None) => {
                if repo_part.bytes().any(|b| b.is_ascii_uppercase()) {
                    return Err(bad("repositories are lower-case"));
                }
                if repo_part
                    .split_once('/')
                    .is_some_and(|(_, path)| path.contains(':'))
                {
                    return Err(bad(
                        "a `:` belongs only before a tag glob, after the last `/`",
                    ));
                }
                let glob = GlobBuilder::new(repo_part)
                    .literal_separator(true)
                    .backslash_escape(true)
                    .build()
                    .map_err(|e| bad(&e.to_string()))?
                    .compile_matcher();
                Selector::Repositories { glob }
            }
        };
        Ok(BasePattern {
            text: t.to_string(),
            selector,
        })
    }

    /// Whether the annotated base `name` (with its digest, if annotated) falls under this pattern.
    fn covers(&self, name: &ImageRef, digest: Option<&Digest>) -> bool {
        match &self.selector {
            Selector::Tags { repository, tags } => {
                *repository == name.repository
                    && name.tag.as_deref().is_some_and(|t| tags.is_match(t))
            }
            Selector::Digest {
                repository,
                digest: d,
            } => {
                *repository == name.repository
                    && (digest == Some(d) || name.digest.as_ref() == Some(d))
            }
            Selector::Repositories { glob } => glob.is_match(name.repository.to_string()),
        }
    }
}

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
#[derive(Debug, Clone, Default, Serialize)]
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

fn cache() -> &'static Mutex<CacheMap> {
    static CACHE: OnceLock<Mutex<CacheMap>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

fn cached(pattern: &str, digest: &Digest) -> Option<Arc<Vec<PlatformLayers>>> {
    let map = cache().lock().unwrap_or_else(|e| e.into_inner());
    map.get(&(pattern.to_string(), digest.clone()))
        .filter(|(at, _)| at.elapsed() < CACHE_TTL)
        .map(|(_, v)| v.clone())
}

fn remember(pattern: &str, digest: &Digest, layers: Arc<Vec<PlatformLayers>>) {
    let mut map = cache().lock().unwrap_or_else(|e| e.into_inner());
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

struct Fetcher<'a> {
    registry: &'a dyn Registry,
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
        let manifests = match cached(pattern, &digest) {
            Some(m) => m,
            None => {
                let (m, _) = self.layers(repo, &digest).await?;
                let m = Arc::new(m);
                remember(pattern, &digest, m.clone());
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
    repo: &Repository,
    digest: &Digest,
    patterns: &[&BasePattern],
    hints: &[BaseHint],
    hint_errors: &[String],
) -> BaseImageEvidence {
    let mut fetcher = Fetcher {
        registry,
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

/// Whether the annotated base falls under one of `patterns` (so it was a candidate).
pub fn annotation_covered(annotation: &BaseAnnotation, patterns: &[BasePattern]) -> bool {
    let Some(name) = annotation
        .name
        .as_deref()
        .and_then(|n| n.trim().parse::<ImageRef>().ok())
    else {
        return false;
    };
    let digest = annotation
        .digest
        .as_deref()
        .and_then(|d| d.trim().parse::<Digest>().ok());
    patterns.iter().any(|p| p.covers(&name, digest.as_ref()))
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
