//! HTTP plumbing for `RegistryClient` (a private part of the client, not a module of its own): authenticated requests (401 → challenge → retry),
//! redirects that never carry registry credentials to another host, bounded bodies, and
//! status-to-error mapping.
//!
//! Outbound limits (docs/outbound.md): hops the registry chooses — a redirect or a token realm
//! on another origin — go only to allowed hosts and never to non-public addresses (checked on
//! the URL and again in the resolver the connection uses); every host gets at most
//! `maxConnectionsPerHost` connections at once, so a registry that accepts and never answers
//! holds a bounded number of sockets.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use bytes::Bytes;
use reqwest::header::{HeaderMap, ACCEPT, AUTHORIZATION, LOCATION, WWW_AUTHENTICATE};
use reqwest::{Method, Response, StatusCode};
use url::Url;

use super::super::auth::{parse_challenge, Challenge, Credentials, TokenResponse};
use super::super::docker_config::{self, DockerConfig};
use super::super::ecr::parse_ecr_host;
use super::super::error::{classify_transport, RegistryError};
use super::RegistryClient;
use crate::reference::Repository;

const MAX_REDIRECTS: usize = 5;
/// Connections open at once to one host when the configuration does not say.
pub(crate) const DEFAULT_MAX_CONNECTIONS_PER_HOST: usize = 8;
/// Hosts whose connection slots are tracked at once; idle ones are forgotten beyond this.
const MAX_TRACKED_HOSTS: usize = 1024;
/// Idle pooled connections are closed after this long.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
const MAX_TOKEN_RESPONSE: u64 = 64 * 1024;
const MAX_ERROR_BODY: u64 = 4 * 1024;
/// How long credentials from a docker config or helper are reused before asking again.
const CREDENTIALS_TTL: Duration = Duration::from_secs(300);
/// ECR tokens are refreshed this long before they expire.
const ECR_MARGIN: Duration = Duration::from_secs(300);

/// `host[:port]` of a URL, as insecure hosts are listed.
pub(crate) fn authority(url: &Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_string(),
        _ => String::new(),
    }
}

/// The HTTP clients and limits of outbound registry traffic.
pub(crate) struct Outbound {
    /// For the registry a policy names (which may well be private or loopback).
    registry_http: reqwest::Client,
    /// For hops the registry chooses on other origins: its resolver refuses non-public
    /// addresses unless `allowPrivateNetworks`.
    hop_http: reqwest::Client,
    hops: crate::net::HopPolicy,
    slots: HostSlots,
}

impl Outbound {
    pub(crate) fn new(config: &super::RegistryConfig) -> Result<Outbound, RegistryError> {
        let per_host = config
            .outbound
            .max_connections_per_host
            .unwrap_or(DEFAULT_MAX_CONNECTIONS_PER_HOST)
            .max(1);
        let hops = crate::net::HopPolicy::new(
            &config.outbound.allow_hosts,
            config.outbound.allow_private_networks,
        )
        .map_err(|e| RegistryError::Other(format!("outbound configuration: {e}")))?;
        let base = || {
            reqwest::Client::builder()
                .user_agent(concat!("shipgate/", env!("CARGO_PKG_VERSION")))
                .redirect(reqwest::redirect::Policy::none())
                .timeout(config.request_timeout)
                .connect_timeout(config.request_timeout)
                // Idle sockets are bounded too: no more than the active bound, not kept long.
                .pool_max_idle_per_host(per_host)
                .pool_idle_timeout(POOL_IDLE_TIMEOUT)
        };
        let mut registry = base();
        for (host, addr) in &config.resolve {
            registry = registry.resolve(host, *addr);
        }
        let mut overrides: HashMap<String, Vec<std::net::SocketAddr>> = HashMap::new();
        for (host, addr) in &config.resolve {
            overrides
                .entry(host.to_ascii_lowercase())
                .or_default()
                .push(*addr);
        }
        let hop = base().dns_resolver(Arc::new(crate::net::HopResolver {
            overrides,
            allow_private_networks: config.outbound.allow_private_networks,
        }));
        let build = |b: reqwest::ClientBuilder| {
            b.build()
                .map_err(|e| RegistryError::Other(format!("cannot build the HTTP client: {e}")))
        };
        Ok(Outbound {
            registry_http: build(registry)?,
            hop_http: build(hop)?,
            hops,
            slots: HostSlots {
                per_host,
                hosts: std::sync::Mutex::new(HashMap::new()),
            },
        })
    }
}

/// Connection slots per `scheme://host:port`: a request holds one from before it connects until
/// its body is read or dropped.
struct HostSlots {
    per_host: usize,
    hosts: std::sync::Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl HostSlots {
    async fn acquire(
        &self,
        url: &Url,
        wait: Duration,
        registry: &str,
        what: &str,
    ) -> Result<OwnedSemaphorePermit, RegistryError> {
        let key = format!(
            "{}://{}:{}",
            url.scheme(),
            url.host_str().unwrap_or(""),
            url.port_or_known_default().unwrap_or(0)
        );
        let slots = {
            let mut hosts = self.hosts.lock().unwrap_or_else(|e| e.into_inner());
            if !hosts.contains_key(&key) && hosts.len() >= MAX_TRACKED_HOSTS {
                // Forget hosts nobody holds or waits for (the map's own reference is the only one).
                hosts.retain(|_, s| Arc::strong_count(s) > 1);
                if hosts.len() >= MAX_TRACKED_HOSTS {
                    return Err(RegistryError::Other(format!(
                        "more than {MAX_TRACKED_HOSTS} registry hosts are being contacted at once; retry later"
                    )));
                }
            }
            hosts
                .entry(key.clone())
                .or_insert_with(|| Arc::new(Semaphore::new(self.per_host)))
                .clone()
        };
        match tokio::time::timeout(wait, slots.acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            Ok(Err(_)) => Err(RegistryError::Other(format!(
                "the connection slots to {key} were closed"
            ))),
            Err(_) => Err(RegistryError::Timeout {
                registry: registry.to_string(),
                during: format!(
                    "{what}: all {} connections to {} were busy",
                    self.per_host,
                    authority(url)
                ),
                after: wait,
            }),
        }
    }
}

/// `resp` with `permit` released only when its body has been read or dropped, so that the
/// bound counts connections that are really in use.
fn hold_permit(resp: Response, permit: OwnedSemaphorePermit) -> Response {
    use reqwest::ResponseBuilderExt as _;
    let mut builder = axum::http::Response::builder()
        .status(resp.status())
        .version(resp.version())
        .url(resp.url().clone());
    if let Some(headers) = builder.headers_mut() {
        *headers = resp.headers().clone();
    }
    let body = resp.bytes_stream().map(move |chunk| {
        let _held = &permit;
        chunk
    });
    match builder.body(reqwest::Body::wrap_stream(body)) {
        Ok(r) => Response::from(r),
        // Unreachable: status, version and headers come from a valid response.
        Err(e) => Response::from(
            axum::http::Response::builder()
                .status(StatusCode::BAD_GATEWAY)
                .body(reqwest::Body::from(format!(
                    "cannot re-wrap the response: {e}"
                )))
                .unwrap_or_default(),
        ),
    }
}

/// The error for a hop the policy refuses.
fn hop_refused(registry: &str, what: &str, refusal: &crate::net::HopRefusal) -> RegistryError {
    RegistryError::Other(format!(
        "registry {registry} sent us to another host for {what}, and shipgate does not follow it: {refusal}"
    ))
}

fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

/// The media type of a `Content-Type` value, without parameters.
pub(crate) fn content_type(headers: &HeaderMap) -> Option<String> {
    headers
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .filter(|v| !v.is_empty())
}

impl RegistryClient {
    /// Whether plain HTTP is allowed to `authority` (`host:port`).
    pub(crate) fn is_insecure(&self, authority: &str) -> bool {
        self.config
            .insecure_hosts
            .iter()
            .any(|h| h.eq_ignore_ascii_case(authority))
    }

    /// One request, no auth handling; transport errors classified. `hop`: the URL is one the
    /// registry chose on another origin (already checked against the hop policy).
    #[allow(clippy::too_many_arguments)]
    async fn raw(
        &self,
        hop: bool,
        method: Method,
        url: &Url,
        accept: &[&str],
        authorization: Option<&str>,
        registry: &str,
        what: &str,
    ) -> Result<Response, RegistryError> {
        let permit = self
            .outbound
            .slots
            .acquire(url, self.config.request_timeout, registry, what)
            .await?;
        let client = if hop {
            &self.outbound.hop_http
        } else {
            &self.outbound.registry_http
        };
        let mut req = client.request(method.clone(), url.clone());
        if !accept.is_empty() {
            req = req.header(ACCEPT, accept.join(", "));
        }
        if let Some(a) = authorization {
            req = req.header(AUTHORIZATION, a);
        }
        tracing::debug!(%method, host = %authority(url), path = url.path(), authenticated = authorization.is_some(), hop, "registry request");
        let resp = req
            .send()
            .await
            .map_err(|e| self.transport_error(&e, registry, what))?;
        Ok(hold_permit(resp, permit))
    }

    /// A transport error, naming the hop policy when the resolver refused the address.
    fn transport_error(&self, err: &reqwest::Error, registry: &str, what: &str) -> RegistryError {
        match crate::net::hop_refusal(err) {
            Some(refusal) => hop_refused(registry, what, &refusal),
            None => classify_transport(err, registry, what, self.config.request_timeout),
        }
    }

    /// A request to the registry of `repo` with pull authorization for it: anonymous or cached
    /// first, then on 401 the challenge is answered and the request retried once.
    pub(crate) async fn send(
        &self,
        repo: &Repository,
        method: Method,
        url: &Url,
        accept: &[&str],
        what: &str,
    ) -> Result<Response, RegistryError> {
        let scope = format!("repository:{}:pull", repo.name);
        let registry = repo.registry.as_str();
        let mut header = self.auth.get(registry, &scope);
        let mut offered = header.is_some();
        for attempt in 0..2 {
            let resp = self
                .raw(
                    false,
                    method.clone(),
                    url,
                    accept,
                    header.as_deref(),
                    registry,
                    what,
                )
                .await?;
            if resp.status() != StatusCode::UNAUTHORIZED {
                return Ok(resp);
            }
            self.auth.forget(registry, &scope);
            if attempt == 1 {
                break;
            }
            let challenge = resp
                .headers()
                .get_all(WWW_AUTHENTICATE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .find_map(parse_challenge);
            // Give the connection slot back before asking a token service (maybe the same host).
            drop(resp);
            match challenge {
                None => {
                    return Err(RegistryError::Unauthorized {
                        registry: registry.to_string(),
                        repository: repo.name.clone(),
                        hint: " (its WWW-Authenticate challenge was missing or not understood)"
                            .into(),
                    })
                }
                Some(Challenge::Basic) => {
                    let Some(creds) = self.credentials(registry).await? else {
                        return Err(RegistryError::Unauthorized {
                            registry: registry.to_string(),
                            repository: repo.name.clone(),
                            hint: " (it asks for a user name and password, and none were found for it)"
                                .into(),
                        });
                    };
                    let h = creds.basic_header();
                    self.auth
                        .put(registry, &scope, h.clone(), Some(CREDENTIALS_TTL));
                    header = Some(h);
                    offered = true;
                }
                Some(Challenge::Bearer {
                    realm,
                    service,
                    scope: asked,
                }) => {
                    let (token, ttl, had_creds) = self
                        .fetch_token(
                            repo,
                            &realm,
                            service.as_deref(),
                            asked.as_deref().unwrap_or(&scope),
                        )
                        .await?;
                    let h = format!("Bearer {token}");
                    self.auth.put(registry, &scope, h.clone(), Some(ttl));
                    header = Some(h);
                    offered = had_creds;
                }
            }
        }
        // Refused after a fresh challenge: ask the credential sources again next time, so that
        // a `docker login` done meanwhile is picked up.
        self.forget_credentials(registry).await;
        Err(RegistryError::Unauthorized {
            registry: registry.to_string(),
            repository: repo.name.clone(),
            hint: if offered {
                String::new()
            } else {
                " (no credentials were found for it, and anonymous access was refused)".into()
            },
        })
    }

    /// GETs a token from a Bearer challenge's realm, with basic credentials when we have them.
    async fn fetch_token(
        &self,
        repo: &Repository,
        realm: &str,
        service: Option<&str>,
        scope: &str,
    ) -> Result<(String, Duration, bool), RegistryError> {
        let registry = repo.registry.as_str();
        let protocol = |detail: String| RegistryError::Protocol {
            registry: registry.to_string(),
            what: "its token service".into(),
            detail,
        };
        let mut url = Url::parse(realm)
            .map_err(|_| protocol("the Bearer challenge's realm is not a URL".into()))?;
        match url.scheme() {
            "https" => {}
            "http" if self.is_insecure(&authority(&url)) => {}
            _ => {
                return Err(RegistryError::InsecureRefused {
                    registry: registry.to_string(),
                    detail: format!(
                        "its token service {} is not HTTPS and not listed as insecure",
                        authority(&url)
                    ),
                })
            }
        }
        {
            let mut q = url.query_pairs_mut();
            if let Some(s) = service {
                q.append_pair("service", s);
            }
            q.append_pair("scope", scope);
        }
        let what = format!("a pull token for {}", repo.name);
        // A realm on the registry's own origin is the registry; anywhere else is a hop it
        // chose, held to the hop policy before any credentials are sent there.
        let hop = !same_origin(&url, &self.base_url(registry)?);
        if hop {
            self.outbound
                .hops
                .check(&url)
                .map_err(|r| hop_refused(registry, "its token service", &r))?;
        }
        let creds = self.credentials(registry).await?;
        let basic = creds.as_ref().map(Credentials::basic_header);
        let resp = self
            .raw(
                hop,
                Method::GET,
                &url,
                &[],
                basic.as_deref(),
                registry,
                &what,
            )
            .await?;
        let status = resp.status();
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Err(RegistryError::Unauthorized {
                registry: registry.to_string(),
                repository: repo.name.clone(),
                hint: if creds.is_some() {
                    " (its token service refused them)".into()
                } else {
                    " (its token service refused anonymous access and no credentials were found)"
                        .into()
                },
            });
        }
        if !status.is_success() {
            return Err(self.status_error(resp, registry, &what).await);
        }
        let body = self
            .read_bounded(resp, MAX_TOKEN_RESPONSE, registry, &what)
            .await?;
        let parsed: TokenResponse = serde_json::from_slice(&body)
            .map_err(|_| protocol("the token response is not JSON".into()))?;
        let (token, ttl) = parsed.into_token().ok_or_else(|| {
            protocol("the token response has neither `token` nor `access_token`".into())
        })?;
        Ok((token, ttl, creds.is_some()))
    }

    /// Like [`send`](Self::send), following redirects. Hops to another origin (blob storage)
    /// are sent without the registry's Authorization; HTTPS is never downgraded to HTTP
    /// unless the target is listed as insecure.
    pub(crate) async fn send_following(
        &self,
        repo: &Repository,
        method: Method,
        url: Url,
        accept: &[&str],
        what: &str,
    ) -> Result<Response, RegistryError> {
        let origin = url.clone();
        let mut current = url;
        for _ in 0..=MAX_REDIRECTS {
            let resp = if same_origin(&current, &origin) {
                self.send(repo, method.clone(), &current, accept, what)
                    .await?
            } else {
                self.raw(
                    true,
                    method.clone(),
                    &current,
                    &[],
                    None,
                    &authority(&current),
                    what,
                )
                .await?
            };
            if !resp.status().is_redirection() {
                return Ok(resp);
            }
            let Some(loc) = resp.headers().get(LOCATION).and_then(|l| l.to_str().ok()) else {
                return Ok(resp);
            };
            let next = current.join(loc).map_err(|_| RegistryError::Protocol {
                registry: repo.registry.clone(),
                what: what.to_string(),
                detail: "a redirect's Location is not a URL".into(),
            })?;
            match next.scheme() {
                "https" => {}
                "http" if self.is_insecure(&authority(&next)) => {}
                _ => {
                    return Err(RegistryError::InsecureRefused {
                        registry: repo.registry.clone(),
                        detail: format!(
                        "it redirected {what} to {}, which is not HTTPS and not listed as insecure",
                        authority(&next)
                    ),
                    })
                }
            }
            if !same_origin(&next, &origin) {
                self.outbound
                    .hops
                    .check(&next)
                    .map_err(|r| hop_refused(&repo.registry, what, &r))?;
            }
            current = next;
        }
        Err(RegistryError::Protocol {
            registry: repo.registry.clone(),
            what: what.to_string(),
            detail: format!("more than {MAX_REDIRECTS} redirects"),
        })
    }

    /// The body, refused as soon as it is known to exceed `limit` (Content-Length or count).
    pub(crate) async fn read_bounded(
        &self,
        resp: Response,
        limit: u64,
        registry: &str,
        what: &str,
    ) -> Result<Bytes, RegistryError> {
        let too_large = || RegistryError::TooLarge {
            what: what.to_string(),
            limit,
        };
        match crate::net::read_body(resp, usize::try_from(limit).unwrap_or(usize::MAX)).await {
            Ok(body) => Ok(body),
            Err(crate::net::BodyError::TooLarge) => Err(too_large()),
            Err(crate::net::BodyError::Transport(e)) => Err(classify_transport(
                &e,
                registry,
                what,
                self.config.request_timeout,
            )),
        }
    }

    /// The error for a response that is not what we asked for.
    pub(crate) async fn status_error(
        &self,
        resp: Response,
        registry: &str,
        what: &str,
    ) -> RegistryError {
        let status = resp.status();
        let body = self
            .read_bounded(resp, MAX_ERROR_BODY, registry, what)
            .await
            .unwrap_or_default();
        let detail = oci_error_text(&body)
            .or_else(|| {
                let text = String::from_utf8_lossy(&body);
                let line: String = text
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
                    .chars()
                    .take(200)
                    .collect();
                (!line.is_empty()).then_some(line)
            })
            .map(|d| format!(": {d}"))
            .unwrap_or_default();
        let detail = if status == StatusCode::TOO_MANY_REQUESTS {
            format!("{detail} (rate limited: retry later or authenticate)")
        } else {
            detail
        };
        RegistryError::Status {
            registry: registry.to_string(),
            what: what.to_string(),
            status: status.as_u16(),
            detail,
        }
    }

    /// Credentials for `registry`: an explicit `credHelpers` entry, then ECR, then inline
    /// `auths`, then `credsStore`. Cached for a few minutes.
    pub(crate) async fn credentials(
        &self,
        registry: &str,
    ) -> Result<Option<Credentials>, RegistryError> {
        if let Some((c, at)) = self
            .creds
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(registry)
        {
            if at.elapsed() < CREDENTIALS_TTL {
                return Ok(c.clone());
            }
        }
        let found = self.lookup_credentials(registry).await?;
        self.creds
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(registry.to_string(), (found.clone(), Instant::now()));
        Ok(found)
    }

    async fn forget_credentials(&self, registry: &str) {
        self.creds
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(registry);
        self.ecr_cache.lock().await.remove(registry);
    }

    async fn lookup_credentials(
        &self,
        registry: &str,
    ) -> Result<Option<Credentials>, RegistryError> {
        let config = self.docker_config().await?;
        let dirs = &self.config.credential_helper_dirs;
        let helper_timeout = self.config.request_timeout;
        if let Some(helper) = config.helper_for(registry) {
            return docker_config::run_helper(helper, registry, dirs, helper_timeout).await;
        }
        if let Some(host) = parse_ecr_host(registry) {
            if let Some(c) = self.ecr_credentials(registry, &host).await? {
                return Ok(Some(c));
            }
        }
        if let Some(c) = config.inline_for(registry)? {
            return Ok(Some(c));
        }
        if let Some(store) = config.creds_store.as_deref().filter(|s| !s.is_empty()) {
            return docker_config::run_helper(store, registry, dirs, helper_timeout).await;
        }
        Ok(None)
    }

    async fn ecr_credentials(
        &self,
        registry: &str,
        host: &super::super::ecr::EcrHost,
    ) -> Result<Option<Credentials>, RegistryError> {
        let mut cache = self.ecr_cache.lock().await;
        if let Some(a) = cache.get(registry) {
            if a.expires_at
                .duration_since(std::time::SystemTime::now())
                .is_ok_and(|left| left > ECR_MARGIN)
            {
                return Ok(Some(a.credentials.clone()));
            }
        }
        let Some(tokens) = &self.ecr else {
            return Ok(None);
        };
        let auth = tokens.authorization(host).await?;
        cache.insert(registry.to_string(), auth.clone());
        Ok(Some(auth.credentials))
    }

    async fn docker_config(&self) -> Result<std::sync::Arc<DockerConfig>, RegistryError> {
        let loaded = self
            .docker_config
            .get_or_init(|| async {
                let path = self
                    .config
                    .docker_config
                    .clone()
                    .or_else(docker_config::default_path);
                match path {
                    Some(p) => DockerConfig::load(&p)
                        .await
                        .map(std::sync::Arc::new)
                        .map_err(|e| e.to_string()),
                    None => Ok(std::sync::Arc::new(DockerConfig::default())),
                }
            })
            .await;
        loaded.clone().map_err(RegistryError::Other)
    }
}

/// `CODE: message` from an OCI error body `{"errors":[{"code":…,"message":…}]}`.
pub(crate) fn oci_error_text(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Errors {
        errors: Vec<OciError>,
    }
    #[derive(serde::Deserialize)]
    struct OciError {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    let e: Errors = serde_json::from_slice(body).ok()?;
    let first = e.errors.first()?;
    Some(
        format!("{}: {}", first.code, first.message)
            .chars()
            .take(300)
            .collect(),
    )
}

/// The `rel="next"` target of a `Link` header: `</v2/…?last=x>; rel="next"`.
pub(crate) fn next_link(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(reqwest::header::LINK)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|part| {
            let mut pieces = part.split(';');
            let target = pieces.next()?.trim();
            let target = target.strip_prefix('<')?.strip_suffix('>')?;
            let is_next = pieces.any(|p| {
                let p = p.trim().to_ascii_lowercase();
                p == "rel=\"next\"" || p == "rel=next"
            });
            is_next.then(|| target.to_string())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_next() {
        let mut h = HeaderMap::new();
        h.insert(
            reqwest::header::LINK,
            "</v2/a/referrers/sha256:x?n=1&last=b>; rel=\"next\""
                .parse()
                .unwrap(),
        );
        assert_eq!(
            next_link(&h).as_deref(),
            Some("/v2/a/referrers/sha256:x?n=1&last=b")
        );
        let mut h = HeaderMap::new();
        h.insert(reqwest::header::LINK, "<x>; rel=\"prev\"".parse().unwrap());
        assert_eq!(next_link(&h), None);
    }

    #[test]
    fn oci_errors() {
        assert_eq!(
            oci_error_text(
                br#"{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known"}]}"#
            )
            .as_deref(),
            Some("NAME_UNKNOWN: repository name not known")
        );
        assert_eq!(oci_error_text(b"404 page not found"), None);
    }
}
