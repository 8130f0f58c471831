//! Image references and digests.
//!
//! Every check is about a digest, never a tag: `ImageRef` keeps what the user wrote,
//! `Digest` is the validated content address that the gate resolves it to.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Docker Hub's registry name, as references without a registry host mean it.
pub const DOCKER_HUB: &str = "docker.io";
const MAX_REFERENCE_LEN: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    #[error("image reference `{0}` is empty or longer than 1024 characters")]
    Length(String),
    #[error("image reference `{reference}` is not valid: {why}")]
    Invalid { reference: String, why: String },
    #[error("digest `{0}` is not of the form sha256:<64 lowercase hex characters>")]
    Digest(String),
}

/// A validated `sha256:<64 hex>` content digest. Other algorithms are refused on purpose:
/// cosign signs sha256 manifest digests, and a gate must not guess.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Digest(String);

impl Digest {
    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Digest {
        use sha2::Digest as _;
        Digest(format!(
            "sha256:{}",
            hex::encode(sha2::Sha256::digest(bytes))
        ))
    }
    /// `sha256:<hex>`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The 64 hex characters after `sha256:`.
    pub fn hex(&self) -> &str {
        &self.0[7..]
    }
    /// The tag cosign derives from this digest: `sha256-<hex>` (plus a suffix such as `.sig`).
    pub fn cosign_tag(&self, suffix: &str) -> String {
        format!("sha256-{}{}", self.hex(), suffix)
    }
}

impl FromStr for Digest {
    type Err = ReferenceError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let hex = s
            .strip_prefix("sha256:")
            .ok_or_else(|| ReferenceError::Digest(s.to_string()))?;
        if hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            Ok(Digest(s.to_string()))
        } else {
            Err(ReferenceError::Digest(s.to_string()))
        }
    }
}

impl TryFrom<String> for Digest {
    type Error = ReferenceError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Digest> for String {
    fn from(d: Digest) -> String {
        d.0
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A repository on a registry: `registry/repository`, e.g. `127.0.0.1:5000/team/app`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Repository {
    /// Host and optional port, lower-case: `ghcr.io`, `127.0.0.1:5000`, `docker.io`.
    pub registry: String,
    /// Path on the registry: `team/app` (Docker Hub's `library/` is made explicit).
    pub name: String,
}

impl fmt::Display for Repository {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.name)
    }
}

/// What the user named: a repository with a tag, a digest, or both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    pub repository: Repository,
    pub tag: Option<String>,
    pub digest: Option<Digest>,
}

impl ImageRef {
    /// `registry/name:tag@digest` as far as known; with neither tag nor digest, `:latest` is implied.
    pub fn tag_or_latest(&self) -> &str {
        self.tag.as_deref().unwrap_or("latest")
    }
    /// The reference pinned to `digest`: `registry/name@sha256:…`.
    pub fn pinned(&self, digest: &Digest) -> String {
        format!("{}@{}", self.repository, digest)
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

/// The tag grammar of the distribution spec: 1 to 128 of `[A-Za-z0-9_.-]`, not starting with
/// `.` or `-`.
pub fn is_valid_tag(tag: &str) -> bool {
    !tag.is_empty()
        && tag.len() <= 128
        && tag
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        && !tag.starts_with(['.', '-'])
}

impl FromStr for ImageRef {
    type Err = ReferenceError;

    /// Parses the Docker reference grammar: `[host[:port]/]path[:tag][@sha256:hex]`.
    /// The first component is a registry host if it has a `.` or `:`, or is `localhost`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = |why: &str| ReferenceError::Invalid {
            reference: s.to_string(),
            why: why.to_string(),
        };
        if s.is_empty() || s.len() > MAX_REFERENCE_LEN {
            return Err(ReferenceError::Length(s.chars().take(80).collect()));
        }
        let (rest, digest) = match s.split_once('@') {
            Some((rest, d)) => (rest, Some(d.parse::<Digest>()?)),
            None => (s, None),
        };
        // A tag is the part after the last ':' that comes after the last '/'.
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (path, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => {
                let at = last_slash + i;
                (&rest[..at], Some(&rest[at + 1..]))
            }
            None => (rest, None),
        };
        if let Some(tag) = tag {
            if !is_valid_tag(tag) {
                return Err(invalid("the tag may hold only [A-Za-z0-9_.-], at most 128"));
            }
        }
        let (registry, name) = match path.split_once('/') {
            Some((first, rest))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (first.to_ascii_lowercase(), rest.to_string())
            }
            _ => (DOCKER_HUB.to_string(), path.to_string()),
        };
        let name = if registry == DOCKER_HUB && !name.contains('/') {
            format!("library/{name}")
        } else {
            name
        };
        if registry.is_empty()
            || !registry
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
        {
            return Err(invalid(
                "the registry host has characters a host name cannot hold",
            ));
        }
        let component_ok = |c: &str| {
            !c.is_empty()
                && c.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
                })
                && c.as_bytes()[0].is_ascii_alphanumeric()
                && c.as_bytes()[c.len() - 1].is_ascii_alphanumeric()
        };
        if !name.split('/').all(component_ok) {
            return Err(invalid(
                "repository path components must be lower-case [a-z0-9] separated by . _ - or /",
            ));
        }
        Ok(ImageRef {
            repository: Repository { registry, name },
            tag: tag.map(str::to_string),
            digest,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:31dc72a13a0c34b40eb95419d2b2fd67320c856baf3b72da518023ee8d370aee";

    #[test]
    fn parses_the_usual_forms() {
        let r: ImageRef = "127.0.0.1:5000/team/app:v1".parse().unwrap();
        assert_eq!(r.repository.registry, "127.0.0.1:5000");
        assert_eq!(r.repository.name, "team/app");
        assert_eq!(r.tag.as_deref(), Some("v1"));
        let r: ImageRef = format!("ghcr.io/acme/app@{D}").parse().unwrap();
        assert_eq!(r.digest.as_ref().map(Digest::as_str), Some(D));
        assert_eq!(r.tag, None);
        let r: ImageRef = "alpine".parse().unwrap();
        assert_eq!(r.repository.to_string(), "docker.io/library/alpine");
        assert_eq!(r.tag_or_latest(), "latest");
        let r: ImageRef = "localhost/app:1".parse().unwrap();
        assert_eq!(r.repository.registry, "localhost");
    }

    #[test]
    fn refuses_malformed_references() {
        for bad in [
            "",
            "Upper/Case",
            "ghcr.io/a//b",
            "ghcr.io/app:",
            "ghcr.io/app@sha256:abc",
            "ghcr.io/app@sha512:00",
            "ghcr.io/app:bad tag",
            "ghcr.io/-app",
        ] {
            assert!(bad.parse::<ImageRef>().is_err(), "{bad:?} was accepted");
        }
        assert!("sha256:ABCDEF".parse::<Digest>().is_err());
    }

    #[test]
    fn digest_of_bytes_and_cosign_tag() {
        let d = Digest::of(b"");
        assert_eq!(
            d.as_str(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            d.cosign_tag(".sig"),
            "sha256-e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855.sig"
        );
    }
}
