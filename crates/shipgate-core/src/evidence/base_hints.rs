//! Base-image hints from provenance: the container images a SLSA provenance lists among the
//! build's inputs (v1 `buildDefinition.resolvedDependencies`, v0.2 `materials`), e.g. BuildKit's
//! `pkg:docker/alpine@3.19?platform=linux%2Famd64` with its `sha256` digest.
//!
//! A hint only tells the base-image collection which candidate to fetch, exactly like the
//! `org.opencontainers.image.base.name` annotation: the layers decide, so a hint is read from
//! the statement without verifying its signature (a forged hint can name a candidate, never
//! pass an image), and candidates still come only from repositories a policy pattern names.

use base64::Engine as _;
use serde::Serialize;
use serde_json::Value;

use super::attestations::{AttestationArtifact, AttestationCollection};
use crate::reference::{Digest, ImageRef};

/// Most hints taken from all attestations of one image.
pub const MAX_HINTS: usize = 16;
/// Largest DSSE payload decoded for hints.
const MAX_PAYLOAD_BYTES: usize = 4 * 1024 * 1024;

/// A container image the provenance says the build used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct BaseHint {
    /// The reference as a registry name: `docker.io/library/alpine:3.19`.
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// The dependency URI as the provenance wrote it.
    pub uri: String,
    /// Where the attestation was found.
    pub source: String,
}

impl BaseHint {
    /// The hint as a reference and digest, for matching against policy patterns.
    pub fn parsed(&self) -> Option<(ImageRef, Option<Digest>)> {
        let r: ImageRef = self.name.parse().ok()?;
        let d = self
            .digest
            .as_deref()
            .and_then(|d| d.parse::<Digest>().ok())
            .or_else(|| r.digest.clone());
        Some((r, d))
    }
}

/// The container-image dependencies of every SLSA provenance in `found`, deduplicated.
pub fn from_attestations(found: &AttestationCollection) -> Vec<BaseHint> {
    let mut out: Vec<BaseHint> = Vec::new();
    for artifact in &found.artifacts {
        let Some(statement) = statement(artifact) else {
            continue;
        };
        for hint in from_statement(&statement, artifact.source()) {
            if out.len() >= MAX_HINTS {
                return out;
            }
            if !out
                .iter()
                .any(|h| h.name == hint.name && h.digest == hint.digest)
            {
                out.push(hint);
            }
        }
    }
    out
}

/// The in-toto statement inside an attestation's DSSE envelope (not verified: see above).
fn statement(artifact: &AttestationArtifact) -> Option<Value> {
    let envelope: Value = match artifact {
        AttestationArtifact::Legacy(l) => serde_json::from_slice(&l.envelope).ok()?,
        AttestationArtifact::Bundle(b) => serde_json::from_slice::<Value>(&b.json)
            .ok()?
            .get("dsseEnvelope")?
            .clone(),
    };
    let payload = envelope.get("payload")?.as_str()?;
    if payload.len() > MAX_PAYLOAD_BYTES {
        return None;
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(payload)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(payload))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The image dependencies of one statement (any SLSA provenance version).
pub fn from_statement(statement: &Value, source: &str) -> Vec<BaseHint> {
    let predicate = statement.get("predicate").unwrap_or(&Value::Null);
    let deps = predicate
        .get("buildDefinition")
        .and_then(|b| b.get("resolvedDependencies"))
        .or_else(|| predicate.get("materials"))
        .and_then(Value::as_array);
    let Some(deps) = deps else {
        return Vec::new();
    };
    deps.iter()
        .filter_map(|d| {
            let uri = d.get("uri")?.as_str()?;
            let name = image_name(uri)?;
            let digest = d
                .get("digest")
                .and_then(|g| g.get("sha256"))
                .and_then(Value::as_str)
                .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
                .map(|h| format!("sha256:{}", h.to_ascii_lowercase()));
            Some(BaseHint {
                name,
                digest,
                uri: uri.to_string(),
                source: source.to_string(),
            })
        })
        .collect()
}

/// A dependency URI that names a container image, as `registry/repository[:tag|@digest]`:
/// `pkg:docker/…` (package URL; BuildKit writes the registry into the name, the purl spec a
/// `repository_url` qualifier), `docker-image://…` and `oci://…`. Other URIs (git, files) are
/// not images.
fn image_name(uri: &str) -> Option<String> {
    let name = if let Some(rest) = uri.strip_prefix("pkg:docker/") {
        let (path, qualifiers) = rest.split_once('?').unwrap_or((rest, ""));
        let path = path.split_once('#').map_or(path, |(p, _)| p);
        let path = percent_decode(path)?;
        // In a purl the version follows `@`; a digest version is `sha256:…`.
        let (repo, version) = match path.rsplit_once('@') {
            Some((r, v)) => (r.to_string(), Some(v.to_string())),
            None => (path, None),
        };
        let registry = qualifiers
            .split('&')
            .filter_map(|q| q.split_once('='))
            .find(|(k, _)| *k == "repository_url")
            .and_then(|(_, v)| percent_decode(v));
        let repo = match registry {
            Some(r) if !repo.starts_with(&format!("{}/", r.trim_end_matches('/'))) => {
                format!("{}/{repo}", r.trim_end_matches('/'))
            }
            _ => repo,
        };
        match version {
            Some(v) if v.starts_with("sha256:") => format!("{repo}@{v}"),
            Some(v) => format!("{repo}:{v}"),
            None => repo,
        }
    } else if let Some(rest) = uri
        .strip_prefix("docker-image://")
        .or_else(|| uri.strip_prefix("oci://"))
    {
        rest.to_string()
    } else {
        return None;
    };
    // Normalize through the reference grammar (`alpine:3` → `docker.io/library/alpine:3`).
    let r: ImageRef = name.parse().ok()?;
    let mut out = r.repository.to_string();
    if let Some(t) = &r.tag {
        out.push(':');
        out.push_str(t);
    }
    if let Some(d) = &r.digest {
        out.push('@');
        out.push_str(d.as_str());
    }
    Some(out)
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const HEX: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn image_uris_of_buildkit_the_purl_spec_and_docker_image() {
        for (uri, want) in [
            (
                "pkg:docker/alpine@3.19?platform=linux%2Famd64",
                "docker.io/library/alpine:3.19",
            ),
            (
                "pkg:docker/ghcr.io/acme/base@1.2?platform=linux%2Farm64",
                "ghcr.io/acme/base:1.2",
            ),
            (
                "pkg:docker/acme/base@1.2?repository_url=127.0.0.1%3A5000",
                "127.0.0.1:5000/acme/base:1.2",
            ),
            (
                &format!("pkg:docker/127.0.0.1%3A5000/base/alpine@sha256%3A{HEX}"),
                &format!("127.0.0.1:5000/base/alpine@sha256:{HEX}"),
            ),
            (
                "docker-image://public.ecr.aws/docker/library/alpine:3.20",
                "public.ecr.aws/docker/library/alpine:3.20",
            ),
        ] {
            assert_eq!(image_name(uri).as_deref(), Some(want), "{uri}");
        }
        for not_image in [
            "git+https://github.com/acme/app@refs/heads/main",
            "https://example.com/file.tar",
            "pkg:npm/left-pad@1.0.0",
            "pkg:docker/%zz",
            "pkg:docker/UPPER/case",
        ] {
            assert_eq!(image_name(not_image), None, "{not_image}");
        }
    }

    #[test]
    fn reads_v1_resolved_dependencies_and_v02_materials() {
        let v1 = json!({"predicate": {"buildDefinition": {"resolvedDependencies": [
            {"uri": "git+https://github.com/acme/app@refs/heads/main", "digest": {"sha1": "ab"}},
            {"uri": "pkg:docker/alpine@3.19", "digest": {"sha256": HEX}},
        ]}}});
        let hints = from_statement(&v1, "src");
        assert_eq!(hints.len(), 1);
        assert_eq!(hints[0].name, "docker.io/library/alpine:3.19");
        assert_eq!(hints[0].digest.as_deref(), Some(&*format!("sha256:{HEX}")));
        let (r, d) = hints[0].parsed().unwrap();
        assert_eq!(r.repository.to_string(), "docker.io/library/alpine");
        assert!(d.is_some());

        let v02 = json!({"predicate": {"materials": [
            {"uri": "docker-image://ghcr.io/acme/base:1", "digest": {"sha256": "short"}},
        ]}});
        let hints = from_statement(&v02, "src");
        assert_eq!(hints.len(), 1);
        assert_eq!(hints[0].digest, None, "a malformed digest is dropped");
        assert!(from_statement(&json!({"predicate": {}}), "s").is_empty());
        assert!(from_statement(&json!("not a statement"), "s").is_empty());
    }
}
