//! `baseImages.allow` / `deny` entries, checked at policy load.

use globset::{GlobBuilder, GlobMatcher};

use crate::reference::{Digest, ImageRef, Repository};

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

/// The literal repository a tag glob or digest pattern names; `Err` says why it is not one.
fn literal_repository(repo_part: &str) -> Result<Repository, String> {
    let is_glob = |s: &str| s.contains(['*', '?', '[', ']', '{', '}', '\\']);
    if is_glob(repo_part) {
        return Err(
            "a tag glob or digest needs a literal repository (repositories cannot be listed); use `registry/repo/**` without a tag to accept an annotated base from any matching repository".to_string(),
        );
    }
    let r: ImageRef = repo_part
        .parse()
        .map_err(|e| format!("not a repository: {e}"))?;
    if r.tag.is_some() || r.digest.is_some() {
        return Err("not a repository".to_string());
    }
    Ok(r.repository)
}

/// The tag glob after the last `:`, compiled; `Err` says why it is not one.
fn tag_glob(tag: &str) -> Result<GlobMatcher, String> {
    if tag.is_empty()
        || tag.len() > 128
        || !tag.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(b, b'_' | b'.' | b'-' | b'*' | b'?' | b'[' | b']')
                || matches!(b, b'{' | b'}' | b',' | b'!')
        })
    {
        return Err("the tag glob may hold [A-Za-z0-9_.-] and `*?[]{},!`".to_string());
    }
    Ok(GlobBuilder::new(tag)
        .literal_separator(true)
        .build()
        .map_err(|e| format!("tag glob: {e}"))?
        .compile_matcher())
}

/// `registry/repo/**` without a tag: a glob over repositories; `Err` says why it is not one.
fn repositories(repo_part: &str) -> Result<Selector, String> {
    if repo_part.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err("repositories are lower-case".to_string());
    }
    if repo_part
        .split_once('/')
        .is_some_and(|(_, path)| path.contains(':'))
    {
        return Err("a `:` belongs only before a tag glob, after the last `/`".to_string());
    }
    let glob = GlobBuilder::new(repo_part)
        .literal_separator(true)
        .backslash_escape(true)
        .build()
        .map_err(|e| e.to_string())?
        .compile_matcher();
    Ok(Selector::Repositories { glob })
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
        let selector = match (tag, digest) {
            (_, Some(digest)) => Selector::Digest {
                repository: literal_repository(repo_part).map_err(|w| bad(&w))?,
                digest,
            },
            (Some(tag), None) => {
                let tags = tag_glob(tag).map_err(|w| bad(&w))?;
                Selector::Tags {
                    repository: literal_repository(repo_part).map_err(|w| bad(&w))?,
                    tags,
                }
            }
            (None, None) => repositories(repo_part).map_err(|w| bad(&w))?,
        };
        Ok(BasePattern {
            text: t.to_string(),
            selector,
        })
    }

    /// Whether the annotated base `name` (with its digest, if annotated) falls under this pattern.
    pub fn covers(&self, name: &ImageRef, digest: Option<&Digest>) -> bool {
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
