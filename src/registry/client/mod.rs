//! `RegistryClient`: the OCI distribution API over HTTPS (plain HTTP only for listed hosts).

mod transport;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use reqwest::{Method, StatusCode};
use url::Url;

use super::auth::{AuthCache, Credentials};
use super::docker_config::DockerConfig;
use super::ecr::{AwsEcrTokens, EcrAuthorization, EcrTokens};
use super::error::RegistryError;
use super::{Descriptor, Manifest, Registry, MAX_REFERRERS};
use crate::reference::{Digest, Repository, DOCKER_HUB};
use transport::{content_type, next_link};

pub const MEDIA_OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const MEDIA_OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const MEDIA_DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const MEDIA_DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const MANIFEST_ACCEPT: &[&str] = &[
    MEDIA_OCI_MANIFEST,
    MEDIA_OCI_INDEX,
    MEDIA_DOCKER_MANIFEST,
    MEDIA_DOCKER_LIST,
];
const DOCKER_CONTENT_DIGEST: &str = "docker-content-digest";

/// How `RegistryClient` reaches registries.
#[derive(Debug, Clone)]
pub struct RegistryConfig {
    /// `HOST:PORT` (or `HOST` for port 80) that may be spoken to over plain HTTP. Everything
    /// else is HTTPS only, including token services and redirect targets.
    pub insecure_hosts: Vec<String>,
    /// The docker `config.json` to read credentials from; `None` means
    /// `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`. A missing file is no credentials.
    pub docker_config: Option<PathBuf>,
    /// Directories searched for `docker-credential-<name>` before `PATH`.
    pub credential_helper_dirs: Vec<PathBuf>,
    /// Bound on every HTTP request (connect to last body byte) and on credential helpers.
    pub request_timeout: Duration,
    /// Largest manifest (or referrers page) read.
    pub max_manifest_bytes: usize,
    /// Default bound for blobs, for callers that have no tighter one.
    pub max_blob_bytes: usize,
    /// Most `Link` pages of the referrers API followed.
    pub max_referrer_pages: usize,
    /// Largest page of the referrers API read (a referrers page holds descriptors only, so it
    /// needs far less than a manifest).
    pub max_referrer_page_bytes: usize,
    /// Fixed addresses for host names (`host`, address), as `curl --resolve`; mainly for tests.
    pub resolve: Vec<(String, SocketAddr)>,
    /// Where registry-chosen hops may go and how many connections one host gets
    /// (docs/outbound.md).
    pub outbound: crate::net::OutboundConfig,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        RegistryConfig {
            insecure_hosts: Vec::new(),
            docker_config: None,
            credential_helper_dirs: Vec::new(),
            request_timeout: Duration::from_secs(10),
            max_manifest_bytes: 4 * 1024 * 1024,
            max_blob_bytes: 64 * 1024 * 1024,
            max_referrer_pages: 16,
            max_referrer_page_bytes: 1024 * 1024,
            resolve: Vec::new(),
            outbound: crate::net::OutboundConfig::default(),
        }
    }
}

/// The real registry client. Cheap to share (`Arc`); caches tokens and credentials.
pub struct RegistryClient {
    pub(crate) config: RegistryConfig,
    /// Outbound clients, hop policy and per-host connection slots (`transport.rs`).
    pub(crate) outbound: transport::Outbound,
    pub(crate) auth: AuthCache,
    pub(crate) creds: Mutex<HashMap<String, (Option<Credentials>, Instant)>>,
    pub(crate) docker_config: tokio::sync::OnceCell<Result<Arc<DockerConfig>, String>>,
    pub(crate) ecr: Option<Arc<dyn EcrTokens>>,
    pub(crate) ecr_cache: tokio::sync::Mutex<HashMap<String, EcrAuthorization>>,
}

impl RegistryClient {
    /// A client with ECR credentials from the AWS SDK's standard chain.
    pub fn new(config: RegistryConfig) -> Result<RegistryClient, RegistryError> {
        let outbound = transport::Outbound::new(&config)?;
        Ok(RegistryClient {
            config,
            outbound,
            auth: AuthCache::default(),
            creds: Mutex::new(HashMap::new()),
            docker_config: tokio::sync::OnceCell::new(),
            ecr: Some(Arc::new(AwsEcrTokens::new())),
            ecr_cache: tokio::sync::Mutex::new(HashMap::new()),
        })
    }

    /// Replaces where ECR credentials come from (`None`: ECR hosts use the docker config only).
    pub fn with_ecr_tokens(mut self, tokens: Option<Arc<dyn EcrTokens>>) -> RegistryClient {
        self.ecr = tokens;
        self
    }

    pub fn config(&self) -> &RegistryConfig {
        &self.config
    }

    /// `https://host` (or `http://` for insecure hosts); Docker Hub is `registry-1.docker.io`.
    pub fn base_url(&self, registry: &str) -> Result<Url, RegistryError> {
        let host = if registry == DOCKER_HUB {
            "registry-1.docker.io"
        } else {
            registry
        };
        let scheme = if self.is_insecure(host) {
            "http"
        } else {
            "https"
        };
        Url::parse(&format!("{scheme}://{host}/")).map_err(|_| RegistryError::InvalidReference {
            what: "registry host",
            value: registry.to_string(),
            why: "not a host name or host:port",
        })
    }

    fn url(&self, repo: &Repository, tail: &str) -> Result<Url, RegistryError> {
        validate_repo(repo)?;
        let base = self.base_url(&repo.registry)?;
        base.join(&format!("v2/{}/{tail}", repo.name)).map_err(|_| {
            RegistryError::InvalidReference {
                what: "repository",
                value: repo.to_string(),
                why: "does not form a valid URL",
            }
        })
    }

    /// GET a manifest; also returns the registry's `Docker-Content-Digest`, if any.
    async fn fetch_manifest(
        &self,
        repo: &Repository,
        reference: &str,
    ) -> Result<Option<Manifest>, RegistryError> {
        let expected = parse_reference(reference)?;
        let what = format!("manifest {}", describe(repo, reference));
        let url = self.url(repo, &format!("manifests/{reference}"))?;
        let resp = self
            .send_following(repo, Method::GET, url, MANIFEST_ACCEPT, &what)
            .await?;
        match resp.status() {
            s if s.is_success() => {}
            StatusCode::NOT_FOUND => return Ok(None),
            _ => return Err(self.status_error_for(resp, repo, &what).await),
        }
        let header_type = content_type(resp.headers());
        let header_digest = resp
            .headers()
            .get(DOCKER_CONTENT_DIGEST)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let bytes = self
            .read_bounded(
                resp,
                self.config.max_manifest_bytes as u64,
                &repo.registry,
                &what,
            )
            .await?;
        let digest = Digest::of(&bytes);
        // By digest: the bytes must hash to it. By tag: a registry that names one digest and
        // serves other bytes is inconsistent, and we say so rather than pick one.
        let claimed = expected
            .as_ref()
            .map(|d| d.as_str().to_string())
            .or(header_digest.filter(|h| h.starts_with("sha256:")));
        if let Some(claimed) = claimed {
            if claimed != digest.as_str() {
                return Err(RegistryError::DigestMismatch {
                    what,
                    expected: claimed,
                    actual: digest.to_string(),
                });
            }
        }
        Ok(Some(Manifest {
            media_type: manifest_media_type(&bytes, header_type),
            digest,
            bytes,
        }))
    }

    async fn status_error_for(
        &self,
        resp: reqwest::Response,
        repo: &Repository,
        what: &str,
    ) -> RegistryError {
        match resp.status() {
            StatusCode::FORBIDDEN => RegistryError::Denied {
                registry: repo.registry.clone(),
                repository: repo.name.clone(),
            },
            StatusCode::NOT_FOUND => RegistryError::NotFound {
                repository: repo.to_string(),
                what: what.to_string(),
            },
            _ => self.status_error(resp, &repo.registry, what).await,
        }
    }
}

#[async_trait]
impl Registry for RegistryClient {
    async fn resolve(
        &self,
        repo: &Repository,
        reference: &str,
    ) -> Result<(Digest, String), RegistryError> {
        let expected = parse_reference(reference)?;
        let what = format!("manifest {}", describe(repo, reference));
        let url = self.url(repo, &format!("manifests/{reference}"))?;
        let resp = self
            .send_following(repo, Method::HEAD, url, MANIFEST_ACCEPT, &what)
            .await?;
        match resp.status() {
            s if s.is_success() => {
                let digest = resp
                    .headers()
                    .get(DOCKER_CONTENT_DIGEST)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<Digest>().ok());
                if let (Some(digest), Some(media_type)) = (digest, content_type(resp.headers())) {
                    if let Some(expected) = &expected {
                        if *expected != digest {
                            return Err(RegistryError::DigestMismatch {
                                what,
                                expected: expected.to_string(),
                                actual: digest.to_string(),
                            });
                        }
                    }
                    return Ok((digest, media_type));
                }
                // No usable digest or type: fetch the bytes and hash them.
            }
            StatusCode::NOT_FOUND => {
                return Err(RegistryError::NotFound {
                    repository: repo.to_string(),
                    what,
                })
            }
            StatusCode::FORBIDDEN => return Err(self.status_error_for(resp, repo, &what).await),
            status => {
                tracing::debug!(registry = %repo.registry, status = status.as_u16(), "HEAD on a manifest failed; trying GET");
            }
        }
        // The HEAD response holds one of the host's connection slots: release it before the
        // GET asks for another (with one slot per host it would otherwise wait for itself).
        drop(resp);
        match self.fetch_manifest(repo, reference).await? {
            Some(m) => Ok((m.digest, m.media_type)),
            None => Err(RegistryError::NotFound {
                repository: repo.to_string(),
                what,
            }),
        }
    }

    async fn manifest(
        &self,
        repo: &Repository,
        reference: &str,
    ) -> Result<Option<Manifest>, RegistryError> {
        self.fetch_manifest(repo, reference).await
    }

    async fn blob(
        &self,
        repo: &Repository,
        digest: &Digest,
        max_bytes: usize,
    ) -> Result<Bytes, RegistryError> {
        let what = format!("blob {digest}");
        let url = self.url(repo, &format!("blobs/{digest}"))?;
        let resp = self
            .send_following(repo, Method::GET, url, &[], &what)
            .await?;
        if !resp.status().is_success() {
            return Err(self.status_error_for(resp, repo, &what).await);
        }
        let bytes = self
            .read_bounded(resp, max_bytes as u64, &repo.registry, &what)
            .await?;
        let actual = Digest::of(&bytes);
        if actual != *digest {
            return Err(RegistryError::DigestMismatch {
                what: format!("{what} in {repo}"),
                expected: digest.to_string(),
                actual: actual.to_string(),
            });
        }
        Ok(bytes)
    }

    async fn referrers(
        &self,
        repo: &Repository,
        subject: &Digest,
    ) -> Result<Option<Vec<Descriptor>>, RegistryError> {
        #[derive(serde::Deserialize)]
        struct Index {
            #[serde(default)]
            manifests: Vec<Descriptor>,
        }
        let what = format!("the referrers of {subject}");
        let mut url = self.url(repo, &format!("referrers/{subject}"))?;
        let origin = url.clone();
        let mut out = Vec::new();
        for page in 0..self.config.max_referrer_pages.max(1) {
            let resp = self
                .send_following(repo, Method::GET, url.clone(), &[MEDIA_OCI_INDEX], &what)
                .await?;
            let status = resp.status();
            if page == 0
                && (status == StatusCode::NOT_FOUND
                    || status == StatusCode::METHOD_NOT_ALLOWED
                    || status == StatusCode::NOT_IMPLEMENTED)
            {
                // No referrers API (distribution 2.x answers 404 for the unknown route; a
                // registry that has it answers 200 with an empty index even for no referrers).
                return Ok(None);
            }
            if !status.is_success() {
                return Err(self.status_error_for(resp, repo, &what).await);
            }
            let next = next_link(resp.headers());
            let page_bytes = self
                .config
                .max_referrer_page_bytes
                .min(self.config.max_manifest_bytes);
            let body = self
                .read_bounded(resp, page_bytes as u64, &repo.registry, &what)
                .await?;
            let index: Index =
                serde_json::from_slice(&body).map_err(|e| RegistryError::Protocol {
                    registry: repo.registry.clone(),
                    what: what.clone(),
                    detail: format!("the referrers response is not an OCI image index ({e})"),
                })?;
            drop(body);
            let keep = MAX_REFERRERS.saturating_add(1);
            out.extend(
                index
                    .manifests
                    .into_iter()
                    .take(keep.saturating_sub(out.len())),
            );
            if out.len() >= keep {
                // Over the bound: one more than `MAX_REFERRERS` tells the caller there were
                // more; the remaining pages are not read.
                tracing::warn!(registry = %repo.registry, repository = %repo.name, limit = MAX_REFERRERS, "referrers list cut at the descriptor limit");
                return Ok(Some(out));
            }
            let Some(next) = next else {
                return Ok(Some(out));
            };
            url = next_page(&url, &origin, &next, repo, &what)?;
        }
        // More pages than the bound, with fewer descriptors than the descriptor bound: a
        // listing that cannot be read whole is an error, never a shorter list.
        Err(RegistryError::Protocol {
            registry: repo.registry.clone(),
            what,
            detail: format!(
                "the referrers list goes on beyond {} pages (limit max_referrer_pages); not all referrers could be read",
                self.config.max_referrer_pages.max(1)
            ),
        })
    }

    async fn tags(
        &self,
        repo: &Repository,
        limit: usize,
    ) -> Result<(Vec<String>, bool), RegistryError> {
        #[derive(serde::Deserialize)]
        struct TagList {
            #[serde(default)]
            tags: Option<Vec<String>>,
        }
        let what = format!("the tags of {repo}");
        // One more than wanted: a full page then says for sure whether there are more.
        let page_size = limit.clamp(1, 1000) + 1;
        let mut url = self.url(repo, &format!("tags/list?n={page_size}"))?;
        let origin = url.clone();
        let mut out = Vec::new();
        for _ in 0..self.config.max_referrer_pages.max(1) {
            let resp = self
                .send_following(repo, Method::GET, url.clone(), &["application/json"], &what)
                .await?;
            if !resp.status().is_success() {
                return Err(self.status_error_for(resp, repo, &what).await);
            }
            let next = next_link(resp.headers());
            let body = self
                .read_bounded(
                    resp,
                    self.config.max_manifest_bytes as u64,
                    &repo.registry,
                    &what,
                )
                .await?;
            let list: TagList =
                serde_json::from_slice(&body).map_err(|e| RegistryError::Protocol {
                    registry: repo.registry.clone(),
                    what: what.clone(),
                    detail: format!("the tag list is not JSON of the distribution spec ({e})"),
                })?;
            out.extend(list.tags.unwrap_or_default());
            if out.len() > limit {
                out.truncate(limit);
                return Ok((out, true));
            }
            let Some(next) = next else {
                return Ok((out, false));
            };
            url = next_page(&url, &origin, &next, repo, &what)?;
        }
        Ok((out, true))
    }
}

/// The URL a paged response's `Link` header names, refused unless it stays on the registry's
/// own origin (a page must not send our credentials elsewhere).
fn next_page(
    current: &Url,
    origin: &Url,
    link: &str,
    repo: &Repository,
    what: &str,
) -> Result<Url, RegistryError> {
    let protocol = |detail: &str| RegistryError::Protocol {
        registry: repo.registry.clone(),
        what: what.to_string(),
        detail: detail.to_string(),
    };
    let next = current
        .join(link)
        .map_err(|_| protocol("the `Link` header is not a URL"))?;
    if next.origin() != origin.origin() {
        return Err(protocol("the `Link` header points to another host"));
    }
    Ok(next)
}

/// A digest reference parsed, a tag checked; anything else refused before it reaches a URL.
fn parse_reference(reference: &str) -> Result<Option<Digest>, RegistryError> {
    if reference.contains(':') {
        return reference.parse::<Digest>().map(Some).map_err(|_| {
            RegistryError::InvalidReference {
                what: "digest",
                value: reference.chars().take(100).collect(),
                why: "only sha256:<64 lowercase hex> digests are accepted",
            }
        });
    }
    let ok = !reference.is_empty()
        && reference.len() <= 128
        && reference
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        && !reference.starts_with(['.', '-']);
    if ok {
        Ok(None)
    } else {
        Err(RegistryError::InvalidReference {
            what: "tag",
            value: reference.chars().take(130).collect(),
            why: "a tag holds only [A-Za-z0-9_.-], at most 128, not starting with . or -",
        })
    }
}

fn validate_repo(repo: &Repository) -> Result<(), RegistryError> {
    let component_ok = |c: &str| {
        !c.is_empty()
            && c != "."
            && c != ".."
            && c.bytes().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
            })
    };
    if repo.name.len() > 255 || !repo.name.split('/').all(component_ok) {
        return Err(RegistryError::InvalidReference {
            what: "repository",
            value: repo.name.chars().take(100).collect(),
            why: "path components must be lower-case [a-z0-9._-] separated by /",
        });
    }
    Ok(())
}

fn describe(repo: &Repository, reference: &str) -> String {
    if reference.contains(':') {
        format!("{repo}@{reference}")
    } else {
        format!("{repo}:{reference}")
    }
}

/// The manifest's own `mediaType` (covered by its digest) when it has one, else the header's.
/// `pub` only for the fuzz targets (`fuzz/`).
#[doc(hidden)]
pub fn manifest_media_type(bytes: &[u8], header: Option<String>) -> String {
    #[derive(serde::Deserialize)]
    struct Typed {
        #[serde(default, rename = "mediaType")]
        media_type: Option<String>,
    }
    serde_json::from_slice::<Typed>(bytes)
        .ok()
        .and_then(|t| t.media_type)
        .filter(|m| !m.is_empty())
        .or(header)
        .unwrap_or_else(|| MEDIA_OCI_MANIFEST.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_checked() {
        assert_eq!(parse_reference("v1.2_3-x").unwrap(), None);
        assert!(parse_reference("../x").is_err());
        assert!(parse_reference("sha256:abc").is_err());
        assert!(parse_reference("").is_err());
        let d = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(parse_reference(d).unwrap().unwrap().as_str(), d);
    }

    #[test]
    fn repositories_are_checked() {
        let r = |n: &str| Repository {
            registry: "r".into(),
            name: n.into(),
        };
        assert!(validate_repo(&r("team/app")).is_ok());
        assert!(validate_repo(&r("team/../x")).is_err());
        assert!(validate_repo(&r("Team")).is_err());
        assert!(validate_repo(&r("a//b")).is_err());
    }

    #[test]
    fn docker_hub_and_insecure_urls() {
        let c = RegistryClient::new(RegistryConfig {
            insecure_hosts: vec!["127.0.0.1:5000".into()],
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            c.base_url("docker.io").unwrap().as_str(),
            "https://registry-1.docker.io/"
        );
        assert_eq!(
            c.base_url("127.0.0.1:5000").unwrap().as_str(),
            "http://127.0.0.1:5000/"
        );
        assert_eq!(
            c.base_url("127.0.0.1:5001").unwrap().as_str(),
            "https://127.0.0.1:5001/"
        );
    }

    #[test]
    fn media_type_prefers_the_digested_bytes() {
        assert_eq!(
            manifest_media_type(
                br#"{"mediaType":"application/vnd.oci.image.index.v1+json"}"#,
                Some("application/json".into())
            ),
            MEDIA_OCI_INDEX
        );
        assert_eq!(
            manifest_media_type(br#"{"schemaVersion":2}"#, Some(MEDIA_DOCKER_LIST.into())),
            MEDIA_DOCKER_LIST
        );
    }
}
