//! `RegistryClient` and signature collection against Debian's real `docker-registry` (2.8),
//! plus small loopback stubs where the real registry cannot show the behaviour (bearer token
//! service, the OCI 1.1 referrers API, registry errors, lying registries, blob redirects).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use base64::Engine as _;
use serde_json::json;
use shipgate::evidence::signatures::{collect, CollectLimits};
use shipgate::evidence::SignatureArtifact;
use shipgate::reference::{Digest, Repository};
use shipgate::registry::{
    Credentials, EcrAuthorization, EcrHost, EcrTokens, Registry, RegistryClient, RegistryConfig,
    RegistryError,
};

use crate::common::registry::{RegistryOptions, TestRegistry};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const OCI_EMPTY: &str = "application/vnd.oci.empty.v1+json";
const BUNDLE_V03: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
const SIMPLESIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// bcrypt of `correct-horse` (made once with Python's bcrypt; no htpasswd needed at test time).
const HTPASSWD_ALICE: &str = "alice:$2b$05$4TMnPnty2iAZtJgc5Ocd4e0onpNiVrniS7M9OAOo493iwIyc22D8u";
const PASSWORD: &str = "correct-horse";

// ---------------------------------------------------------------------------------------------
// Pushing to the real registry with plain reqwest.

struct Pusher {
    http: reqwest::Client,
    base: String,
    auth: Option<String>,
}

impl Pusher {
    fn new(reg: &TestRegistry) -> Pusher {
        Pusher {
            http: reqwest::Client::new(),
            base: reg.url(),
            auth: None,
        }
    }

    fn with_basic(mut self, user: &str, pass: &str) -> Pusher {
        self.auth = Some(Credentials::new(user, pass).basic_header());
        self
    }

    fn req(&self, method: reqwest::Method, url: &str) -> reqwest::RequestBuilder {
        let r = self.http.request(method, url);
        match &self.auth {
            Some(a) => r.header("authorization", a),
            None => r,
        }
    }

    async fn blob(&self, name: &str, bytes: &[u8]) -> Digest {
        let digest = Digest::of(bytes);
        let resp = self
            .req(
                reqwest::Method::POST,
                &format!("{}/v2/{name}/blobs/uploads/", self.base),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 202, "start upload: {:?}", resp.text().await);
        let loc = resp.headers()["location"].to_str().unwrap().to_string();
        let loc = if loc.starts_with("http") {
            loc
        } else {
            format!("{}{loc}", self.base)
        };
        let sep = if loc.contains('?') { '&' } else { '?' };
        let resp = self
            .req(reqwest::Method::PUT, &format!("{loc}{sep}digest={digest}"))
            .header("content-type", "application/octet-stream")
            .body(bytes.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201, "finish upload: {:?}", resp.text().await);
        digest
    }

    async fn manifest(
        &self,
        name: &str,
        reference: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> Digest {
        let resp = self
            .req(
                reqwest::Method::PUT,
                &format!("{}/v2/{name}/manifests/{reference}", self.base),
            )
            .header("content-type", media_type)
            .body(bytes.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201, "push manifest: {:?}", resp.text().await);
        Digest::of(bytes)
    }

    /// A one-layer OCI image; returns its manifest digest and bytes.
    async fn image(&self, name: &str, tag: &str, salt: &str) -> (Digest, Vec<u8>) {
        let config = json!({"architecture": "amd64", "os": "linux", "salt": salt}).to_string();
        let layer = format!("layer {salt}");
        let cd = self.blob(name, config.as_bytes()).await;
        let ld = self.blob(name, layer.as_bytes()).await;
        let m = json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": config.len()},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": ld, "size": layer.len()}]
        })
        .to_string()
        .into_bytes();
        (self.manifest(name, tag, OCI_MANIFEST, &m).await, m)
    }
}

fn repo(registry: &str, name: &str) -> Repository {
    Repository {
        registry: registry.to_string(),
        name: name.to_string(),
    }
}

/// A client that trusts `insecure` over plain HTTP and reads `docker_config` (or none at all).
fn client_with(insecure: &[&str], docker_config: Option<&std::path::Path>) -> RegistryClient {
    RegistryClient::new(RegistryConfig {
        insecure_hosts: insecure.iter().map(|s| s.to_string()).collect(),
        docker_config: Some(
            docker_config
                .map(|p| p.to_path_buf())
                .unwrap_or_else(|| "/nonexistent/shipgate-test/config.json".into()),
        ),
        request_timeout: Duration::from_secs(5),
        ..Default::default()
    })
    .unwrap()
    .with_ecr_tokens(None)
}

/// Like `client_with`, also letting redirects and token realms reach `hops` (other loopback
/// ports), as a user configures `outbound.allowHosts` and `allowPrivateNetworks`.
fn client_allowing_hops(
    insecure: &[&str],
    docker_config: Option<&std::path::Path>,
    hops: &[&str],
) -> RegistryClient {
    RegistryClient::new(RegistryConfig {
        insecure_hosts: insecure.iter().map(|s| s.to_string()).collect(),
        docker_config: Some(
            docker_config
                .map(|p| p.to_path_buf())
                .unwrap_or_else(|| "/nonexistent/shipgate-test/config.json".into()),
        ),
        request_timeout: Duration::from_secs(5),
        outbound: shipgate::config::OutboundConfig {
            allow_hosts: hops.iter().map(|s| s.to_string()).collect(),
            allow_private_networks: true,
            max_connections_per_host: None,
        },
        ..Default::default()
    })
    .unwrap()
    .with_ecr_tokens(None)
}

fn write_docker_config(dir: &std::path::Path, value: serde_json::Value) -> std::path::PathBuf {
    let p = dir.join("config.json");
    std::fs::write(&p, value.to_string()).unwrap();
    p
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

// ---------------------------------------------------------------------------------------------
// Loopback stubs.

/// Serves `handler` for every request on a free loopback port; returns `127.0.0.1:PORT`.
async fn serve<H, F>(handler: H) -> String
where
    H: Fn(Request) -> F + Clone + Send + Sync + 'static,
    F: std::future::Future<Output = Response> + Send + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let host = listener.local_addr().unwrap().to_string();
    let app = axum::Router::new().fallback(move |req: Request| {
        let h = handler.clone();
        async move { h(req).await }
    });
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    host
}

fn respond(status: StatusCode, headers: &[(&str, String)], body: Vec<u8>) -> Response {
    let mut r = Response::builder().status(status);
    for (k, v) in headers {
        r = r.header(*k, v);
    }
    r.body(Body::from(body)).unwrap()
}

/// An in-memory read-only registry: manifests by reference, blobs by digest, and optionally a
/// referrers API (pages of descriptors, linked with `Link`).
#[derive(Default)]
struct StubContent {
    manifests: HashMap<String, (String, Vec<u8>)>,
    blobs: HashMap<String, Vec<u8>>,
    referrer_pages: Option<Vec<Vec<serde_json::Value>>>,
    /// Path suffixes answered with this status instead.
    fail: Vec<(String, StatusCode)>,
}

impl StubContent {
    fn add_manifest(&mut self, tag: Option<&str>, media_type: &str, bytes: Vec<u8>) -> Digest {
        let d = Digest::of(&bytes);
        self.manifests
            .insert(d.to_string(), (media_type.into(), bytes.clone()));
        if let Some(t) = tag {
            self.manifests.insert(t.into(), (media_type.into(), bytes));
        }
        d
    }
    fn add_blob(&mut self, bytes: &[u8]) -> Digest {
        let d = Digest::of(bytes);
        self.blobs.insert(d.to_string(), bytes.to_vec());
        d
    }
}

async fn stub_registry(content: StubContent) -> String {
    let content = Arc::new(content);
    serve(move |req: Request| {
        let c = content.clone();
        async move { stub_answer(&c, req.method(), req.uri().path(), req.uri().query()) }
    })
    .await
}

fn stub_answer(c: &StubContent, method: &Method, path: &str, query: Option<&str>) -> Response {
    let not_found = || {
        respond(
            StatusCode::NOT_FOUND,
            &[("content-type", "application/json".into())],
            br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#.to_vec(),
        )
    };
    if let Some((_, status)) = c.fail.iter().find(|(s, _)| path.ends_with(s.as_str())) {
        return respond(*status, &[], b"stub failure".to_vec());
    }
    let body_for = |bytes: &Vec<u8>| {
        if method == Method::HEAD {
            Vec::new()
        } else {
            bytes.clone()
        }
    };
    if let Some((_, reference)) = path.split_once("/manifests/") {
        return match c.manifests.get(reference) {
            Some((mt, bytes)) => respond(
                StatusCode::OK,
                &[
                    ("content-type", mt.clone()),
                    ("docker-content-digest", Digest::of(bytes).to_string()),
                    ("content-length", bytes.len().to_string()),
                ],
                body_for(bytes),
            ),
            None => not_found(),
        };
    }
    if let Some((_, digest)) = path.split_once("/blobs/") {
        return match c.blobs.get(digest) {
            Some(bytes) => respond(StatusCode::OK, &[], body_for(bytes)),
            None => not_found(),
        };
    }
    if path.contains("/referrers/") {
        let Some(pages) = &c.referrer_pages else {
            return respond(StatusCode::NOT_FOUND, &[], b"404 page not found".to_vec());
        };
        let page: usize = query
            .and_then(|q| q.strip_prefix("page="))
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        let mut headers = vec![("content-type", OCI_INDEX.to_string())];
        if page + 1 < pages.len() {
            headers.push(("link", format!("<{path}?page={}>; rel=\"next\"", page + 1)));
        }
        let body = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": pages[page]});
        return respond(StatusCode::OK, &headers, body.to_string().into_bytes());
    }
    not_found()
}

// ---------------------------------------------------------------------------------------------
// Resolve, manifest, blob against the real registry.

#[tokio::test]
async fn resolves_tags_and_digests_and_fetches_manifests_and_blobs() {
    let reg = TestRegistry::start();
    let p = Pusher::new(&reg);
    let (digest, bytes) = p.image("team/app", "v1", "a").await;
    let c = client_with(&[&reg.host], None);
    let r = repo(&reg.host, "team/app");

    let (d, mt) = c.resolve(&r, "v1").await.unwrap();
    assert_eq!(d, digest);
    assert_eq!(mt, OCI_MANIFEST);
    let (d2, _) = c.resolve(&r, digest.as_str()).await.unwrap();
    assert_eq!(d2, digest);

    let m = c.manifest(&r, digest.as_str()).await.unwrap().unwrap();
    assert_eq!(m.digest, digest);
    assert_eq!(&m.bytes[..], &bytes[..]);
    assert_eq!(m.media_type, OCI_MANIFEST);
    let m = c.manifest(&r, "v1").await.unwrap().unwrap();
    assert_eq!(m.digest, digest);

    assert!(c.manifest(&r, "nope").await.unwrap().is_none());
    let missing = Digest::of(b"missing");
    assert!(c.manifest(&r, missing.as_str()).await.unwrap().is_none());
    let err = c.resolve(&r, "nope").await.unwrap_err();
    assert!(err.is_not_found(), "{err}");
    assert!(err.to_string().contains("team/app:nope"), "{err}");

    let layer = p.blob("team/app", b"layer a").await;
    assert_eq!(&c.blob(&r, &layer, 1024).await.unwrap()[..], b"layer a");
    let err = c.blob(&r, &layer, 3).await.unwrap_err();
    assert!(matches!(err, RegistryError::TooLarge { .. }), "{err}");
    let err = c.blob(&r, &missing, 1024).await.unwrap_err();
    assert!(err.is_not_found(), "{err}");

    // A manifest over the configured bound is refused.
    let small = RegistryClient::new(RegistryConfig {
        insecure_hosts: vec![reg.host.clone()],
        docker_config: Some("/nonexistent/x.json".into()),
        max_manifest_bytes: 16,
        ..Default::default()
    })
    .unwrap()
    .with_ecr_tokens(None);
    let err = small.manifest(&r, "v1").await.unwrap_err();
    assert!(matches!(err, RegistryError::TooLarge { .. }), "{err}");

    // distribution 2.8 has no referrers API.
    assert_eq!(c.referrers(&r, &digest).await.unwrap(), None);
}

#[tokio::test]
async fn an_index_resolves_to_the_index_digest() {
    let reg = TestRegistry::start();
    let p = Pusher::new(&reg);
    let (amd, amd_bytes) = p.image("multi", "amd64", "amd").await;
    let (arm, arm_bytes) = p.image("multi", "arm64", "arm").await;
    let index = json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            {"mediaType": OCI_MANIFEST, "digest": amd, "size": amd_bytes.len(), "platform": {"architecture": "amd64", "os": "linux"}},
            {"mediaType": OCI_MANIFEST, "digest": arm, "size": arm_bytes.len(), "platform": {"architecture": "arm64", "os": "linux"}}
        ]
    })
    .to_string()
    .into_bytes();
    let idx = p.manifest("multi", "latest", OCI_INDEX, &index).await;
    let c = client_with(&[&reg.host], None);
    let (d, mt) = c
        .resolve(&repo(&reg.host, "multi"), "latest")
        .await
        .unwrap();
    assert_eq!(d, idx);
    assert_ne!(d, amd);
    assert_eq!(mt, OCI_INDEX);
}

#[tokio::test]
async fn plain_http_is_refused_for_hosts_not_listed_as_insecure() {
    let reg = TestRegistry::start();
    let p = Pusher::new(&reg);
    p.image("team/app", "v1", "a").await;
    let c = client_with(&[], None);
    let err = c
        .resolve(&repo(&reg.host, "team/app"), "v1")
        .await
        .unwrap_err();
    assert!(matches!(err, RegistryError::Tls { .. }), "{err:?}");
    assert!(err.to_string().contains("insecure hosts"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// Stubs for what a real registry will not do on demand.

#[tokio::test]
async fn a_manifest_or_blob_that_does_not_hash_to_its_digest_is_refused() {
    let mut content = StubContent::default();
    let real = content.add_manifest(Some("v1"), OCI_MANIFEST, br#"{"schemaVersion":2}"#.to_vec());
    // The stub serves other bytes under the digest of `real`.
    content.manifests.insert(
        real.to_string(),
        (
            OCI_MANIFEST.into(),
            br#"{"schemaVersion":2,"x":1}"#.to_vec(),
        ),
    );
    let blob_digest = Digest::of(b"the blob");
    content
        .blobs
        .insert(blob_digest.to_string(), b"another blob".to_vec());
    let host = stub_registry(content).await;
    let c = client_with(&[&host], None);
    let r = repo(&host, "lying");
    let err = c.manifest(&r, real.as_str()).await.unwrap_err();
    assert!(matches!(err, RegistryError::DigestMismatch { .. }), "{err}");
    let err = c.blob(&r, &blob_digest, 1024).await.unwrap_err();
    assert!(matches!(err, RegistryError::DigestMismatch { .. }), "{err}");
    // HEAD names a digest for the digest reference that differs: refused too.
    let err = c.resolve(&r, real.as_str()).await.unwrap_err();
    assert!(matches!(err, RegistryError::DigestMismatch { .. }), "{err}");
}

#[tokio::test]
async fn head_without_a_digest_falls_back_to_get_and_hashing() {
    let body = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}"#;
    let host = serve(move |req: Request| async move {
        if req.method() == Method::HEAD {
            return respond(StatusCode::METHOD_NOT_ALLOWED, &[], Vec::new());
        }
        respond(
            StatusCode::OK,
            &[("content-type", OCI_MANIFEST.into())],
            body.to_vec(),
        )
    })
    .await;
    let c = client_with(&[&host], None);
    let (d, mt) = c.resolve(&repo(&host, "x"), "v1").await.unwrap();
    assert_eq!(d, Digest::of(body));
    assert_eq!(mt, OCI_MANIFEST);
}

#[tokio::test]
async fn a_slow_registry_times_out_with_a_classified_error() {
    let host = serve(|_req: Request| async {
        tokio::time::sleep(Duration::from_secs(5)).await;
        respond(StatusCode::OK, &[], Vec::new())
    })
    .await;
    let c = RegistryClient::new(RegistryConfig {
        insecure_hosts: vec![host.clone()],
        docker_config: Some("/nonexistent/x.json".into()),
        request_timeout: Duration::from_millis(300),
        ..Default::default()
    })
    .unwrap()
    .with_ecr_tokens(None);
    let err = c.resolve(&repo(&host, "x"), "v1").await.unwrap_err();
    assert!(matches!(err, RegistryError::Timeout { .. }), "{err:?}");
}

#[tokio::test]
async fn blob_redirects_do_not_carry_registry_credentials_to_storage() {
    let seen_auth: Arc<Mutex<Vec<Option<String>>>> = Arc::default();
    let seen = seen_auth.clone();
    let storage = serve(move |req: Request| {
        let seen = seen.clone();
        async move {
            let auth = req
                .headers()
                .get("authorization")
                .map(|v| v.to_str().unwrap().to_string());
            seen.lock().unwrap().push(auth);
            respond(StatusCode::OK, &[], b"stored bytes".to_vec())
        }
    })
    .await;
    let expected = Credentials::new("alice", PASSWORD).basic_header();
    let storage_host = storage.clone();
    let registry = serve(move |req: Request| {
        let expected = expected.clone();
        let storage = storage_host.clone();
        async move {
            if req
                .headers()
                .get("authorization")
                .map(|v| v.to_str().unwrap())
                != Some(&expected)
            {
                return respond(
                    StatusCode::UNAUTHORIZED,
                    &[("www-authenticate", "Basic realm=\"stub\"".into())],
                    Vec::new(),
                );
            }
            respond(
                StatusCode::TEMPORARY_REDIRECT,
                &[(
                    "location",
                    format!("http://{storage}/bucket/object?sig=abc"),
                )],
                Vec::new(),
            )
        }
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_docker_config(
        dir.path(),
        json!({"auths": {registry.clone(): {"username": "alice", "password": PASSWORD}}}),
    );
    let r = repo(&registry, "team/app");
    let digest = Digest::of(b"stored bytes");
    // Storage over plain HTTP is refused unless listed.
    let c = client_with(&[&registry], Some(&cfg));
    let err = c.blob(&r, &digest, 1024).await.unwrap_err();
    assert!(
        matches!(err, RegistryError::InsecureRefused { .. }),
        "{err}"
    );
    let c = client_allowing_hops(&[&registry, &storage], Some(&cfg), &[&storage]);
    assert_eq!(
        &c.blob(&r, &digest, 1024).await.unwrap()[..],
        b"stored bytes"
    );
    assert_eq!(seen_auth.lock().unwrap().as_slice(), &[None]);
}

// ---------------------------------------------------------------------------------------------
// Authentication.

#[tokio::test]
async fn basic_auth_from_docker_config_auths_right_and_wrong_password() {
    let reg = TestRegistry::start_with(RegistryOptions {
        htpasswd_lines: vec![HTPASSWD_ALICE.to_string()],
    });
    let p = Pusher::new(&reg).with_basic("alice", PASSWORD);
    let (digest, _) = p.image("team/app", "v1", "basic").await;
    let r = repo(&reg.host, "team/app");
    let dir = tempfile::tempdir().unwrap();

    // `auth` form, keyed by a URL as older docker versions write it.
    let cfg = write_docker_config(
        dir.path(),
        json!({"auths": {format!("http://{}/v2/", reg.host): {"auth": b64(&format!("alice:{PASSWORD}"))}}}),
    );
    let c = client_with(&[&reg.host], Some(&cfg));
    assert_eq!(c.resolve(&r, "v1").await.unwrap().0, digest);
    // The cached Basic header is used up front afterwards.
    assert!(c.manifest(&r, "v1").await.unwrap().is_some());

    // Wrong password: a clear error that does not echo the secret.
    let cfg = write_docker_config(
        dir.path(),
        json!({"auths": {reg.host.clone(): {"username": "alice", "password": "wrong-horse"}}}),
    );
    let c = client_with(&[&reg.host], Some(&cfg));
    let err = c.resolve(&r, "v1").await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, RegistryError::Unauthorized { .. }), "{text}");
    assert!(
        text.contains(&format!("docker login {}", reg.host)),
        "{text}"
    );
    assert!(text.contains("team/app"), "{text}");
    assert!(!text.contains("wrong-horse") && !format!("{err:?}").contains("wrong-horse"));

    // No credentials at all.
    let c = client_with(&[&reg.host], None);
    let err = c.resolve(&r, "v1").await.unwrap_err();
    assert!(err.to_string().contains("none were found"), "{err}");
}

/// Debian's registry can do token auth only with a real token service (signed JWTs, a
/// certificate bundle), so the Bearer flow runs against a stub registry that answers with the
/// challenge and a stub token endpoint that checks what the client sends.
#[tokio::test]
async fn bearer_token_flow_with_credentials_and_token_caching() {
    let token_calls = Arc::new(AtomicUsize::new(0));
    let calls = token_calls.clone();
    let expected_basic = Credentials::new("alice", PASSWORD).basic_header();
    let token_host = serve(move |req: Request| {
        let calls = calls.clone();
        let expected_basic = expected_basic.clone();
        async move {
            calls.fetch_add(1, Ordering::SeqCst);
            let q: HashMap<String, String> =
                url::form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
                    .into_owned()
                    .collect();
            assert_eq!(q.get("service").map(String::as_str), Some("stub-registry"));
            assert_eq!(
                q.get("scope").map(String::as_str),
                Some("repository:team/app:pull")
            );
            if req
                .headers()
                .get("authorization")
                .map(|v| v.to_str().unwrap())
                != Some(&expected_basic)
            {
                return respond(StatusCode::UNAUTHORIZED, &[], b"{}".to_vec());
            }
            // `access_token` only, as OAuth2-style token services answer.
            respond(
                StatusCode::OK,
                &[("content-type", "application/json".into())],
                json!({"access_token": "tok-1", "expires_in": 300})
                    .to_string()
                    .into_bytes(),
            )
        }
    })
    .await;
    let mut content = StubContent::default();
    let digest = content.add_manifest(
        Some("v1"),
        OCI_MANIFEST,
        br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}"#.to_vec(),
    );
    let content = Arc::new(content);
    let realm = format!("http://{token_host}/token");
    let registry_host = serve(move |req: Request| {
        let content = content.clone();
        let realm = realm.clone();
        async move {
            if req.headers().get("authorization").map(|v| v.to_str().unwrap()) != Some("Bearer tok-1") {
                return respond(
                    StatusCode::UNAUTHORIZED,
                    &[(
                        "www-authenticate",
                        format!(r#"Bearer realm="{realm}",service="stub-registry",scope="repository:team/app:pull""#),
                    )],
                    br#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#.to_vec(),
                );
            }
            stub_answer(&content, req.method(), req.uri().path(), req.uri().query())
        }
    })
    .await;
    let r = repo(&registry_host, "team/app");
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_docker_config(
        dir.path(),
        json!({"auths": {registry_host.clone(): {"username": "alice", "password": PASSWORD}}}),
    );
    let c = client_allowing_hops(&[&registry_host, &token_host], Some(&cfg), &[&token_host]);
    assert_eq!(c.resolve(&r, "v1").await.unwrap().0, digest);
    assert!(c.manifest(&r, digest.as_str()).await.unwrap().is_some());
    assert_eq!(token_calls.load(Ordering::SeqCst), 1, "the token is cached");

    // A token realm over plain HTTP that is not listed as insecure is refused.
    let c = client_with(&[&registry_host], Some(&cfg));
    let err = c.resolve(&r, "v1").await.unwrap_err();
    assert!(
        matches!(err, RegistryError::InsecureRefused { .. }),
        "{err}"
    );

    // Wrong credentials: the token service refuses, and the error says what to do.
    let cfg = write_docker_config(
        dir.path(),
        json!({"auths": {registry_host.clone(): {"username": "alice", "password": "nope"}}}),
    );
    let c = client_allowing_hops(&[&registry_host, &token_host], Some(&cfg), &[&token_host]);
    let err = c.resolve(&r, "v1").await.unwrap_err();
    assert!(matches!(err, RegistryError::Unauthorized { .. }), "{err}");
    assert!(err.to_string().contains("docker login"), "{err}");
}

/// Writes `docker-credential-test` into `dir`: it answers for `server` only and logs what it
/// was asked to `dir/asked`.
fn write_helper(dir: &std::path::Path, name: &str, server: &str, user: &str, secret: &str) {
    use std::os::unix::fs::PermissionsExt as _;
    let path = dir.join(format!("docker-credential-{name}"));
    let log = dir.join("asked");
    let script = format!(
        "#!/bin/sh\n[ \"$1\" = get ] || exit 2\nread -r server\necho \"$server\" >> '{}'\nif [ \"$server\" = '{server}' ]; then\n  printf '{{\"ServerURL\":\"%s\",\"Username\":\"{user}\",\"Secret\":\"{secret}\"}}' \"$server\"\nelse\n  echo 'credentials not found in native keychain'\n  exit 1\nfi\n",
        log.display()
    );
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[tokio::test]
async fn credential_helpers_and_creds_store() {
    let reg = TestRegistry::start_with(RegistryOptions {
        htpasswd_lines: vec![HTPASSWD_ALICE.to_string()],
    });
    let p = Pusher::new(&reg).with_basic("alice", PASSWORD);
    let (digest, _) = p.image("team/app", "v1", "helper").await;
    let r = repo(&reg.host, "team/app");
    let helpers = tempfile::tempdir().unwrap();
    write_helper(helpers.path(), "test", &reg.host, "alice", PASSWORD);
    let dir = tempfile::tempdir().unwrap();
    let client = |cfg: &std::path::Path| {
        RegistryClient::new(RegistryConfig {
            insecure_hosts: vec![reg.host.clone()],
            docker_config: Some(cfg.to_path_buf()),
            credential_helper_dirs: vec![helpers.path().to_path_buf()],
            ..Default::default()
        })
        .unwrap()
        .with_ecr_tokens(None)
    };

    // credHelpers entry for this registry.
    let cfg = write_docker_config(
        dir.path(),
        json!({"credHelpers": {reg.host.clone(): "test"}}),
    );
    assert_eq!(client(&cfg).resolve(&r, "v1").await.unwrap().0, digest);
    let asked = std::fs::read_to_string(helpers.path().join("asked")).unwrap();
    assert_eq!(
        asked.trim(),
        reg.host,
        "the helper is asked about the registry host"
    );

    // credsStore as the default for every registry.
    let cfg = write_docker_config(dir.path(), json!({"credsStore": "test"}));
    assert_eq!(client(&cfg).resolve(&r, "v1").await.unwrap().0, digest);

    // A helper that has nothing for this registry: anonymous, then a clear 401 error.
    write_helper(helpers.path(), "empty", "elsewhere.example", "x", "y");
    let cfg = write_docker_config(dir.path(), json!({"credsStore": "empty"}));
    let err = client(&cfg).resolve(&r, "v1").await.unwrap_err();
    assert!(matches!(err, RegistryError::Unauthorized { .. }), "{err}");

    // A helper that is not installed is named in the error.
    let cfg = write_docker_config(
        dir.path(),
        json!({"credHelpers": {reg.host.clone(): "absent"}}),
    );
    let err = client(&cfg).resolve(&r, "v1").await.unwrap_err();
    assert!(
        err.to_string().contains("docker-credential-absent"),
        "{err}"
    );

    // A malformed docker config is an error, not "no credentials".
    std::fs::write(dir.path().join("config.json"), "{not json").unwrap();
    let err = client(&dir.path().join("config.json"))
        .resolve(&r, "v1")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not valid JSON"), "{err}");
}

struct FakeEcr {
    calls: AtomicUsize,
    password: String,
}

#[async_trait::async_trait]
impl EcrTokens for FakeEcr {
    async fn authorization(&self, host: &EcrHost) -> Result<EcrAuthorization, RegistryError> {
        assert_eq!(host.account, "123456789012");
        assert_eq!(host.region, "eu-west-1");
        self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(EcrAuthorization {
            credentials: Credentials::new("alice", self.password.clone()),
            expires_at: SystemTime::now() + Duration::from_secs(12 * 3600),
        })
    }
}

#[tokio::test]
async fn ecr_hosts_get_credentials_from_the_ecr_token_source() {
    let reg = TestRegistry::start_with(RegistryOptions {
        htpasswd_lines: vec![HTPASSWD_ALICE.to_string()],
    });
    let p = Pusher::new(&reg).with_basic("alice", PASSWORD);
    let (digest, _) = p.image("team/app", "v1", "ecr").await;
    let port = reg.host.rsplit_once(':').unwrap().1;
    let ecr_name = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";
    let ecr_host = format!("{ecr_name}:{port}");
    let fake = Arc::new(FakeEcr {
        calls: AtomicUsize::new(0),
        password: PASSWORD.into(),
    });
    let c = RegistryClient::new(RegistryConfig {
        insecure_hosts: vec![ecr_host.clone()],
        docker_config: Some("/nonexistent/x.json".into()),
        resolve: vec![(ecr_name.to_string(), "127.0.0.1:0".parse().unwrap())],
        ..Default::default()
    })
    .unwrap()
    .with_ecr_tokens(Some(fake.clone()));
    let r = repo(&ecr_host, "team/app");
    assert_eq!(c.resolve(&r, "v1").await.unwrap().0, digest);
    assert!(c.manifest(&r, "v1").await.unwrap().is_some());
    assert_eq!(fake.calls.load(Ordering::SeqCst), 1);
}

// ---------------------------------------------------------------------------------------------
// Signature collection.

async fn push_bundle_referrer(
    p: &Pusher,
    name: &str,
    subject: &Digest,
    subject_size: usize,
    bundle: &[u8],
) -> (Digest, usize) {
    let empty = p.blob(name, b"{}").await;
    let bd = p.blob(name, bundle).await;
    let m = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": BUNDLE_V03,
        "config": {"mediaType": OCI_EMPTY, "digest": empty, "size": 2},
        "layers": [{"mediaType": BUNDLE_V03, "digest": bd, "size": bundle.len()}],
        "subject": {"mediaType": OCI_MANIFEST, "digest": subject, "size": subject_size},
        "annotations": {"dev.sigstore.bundle.content": "dsse-envelope"}
    })
    .to_string()
    .into_bytes();
    let d = p
        .manifest(name, Digest::of(&m).as_str(), OCI_MANIFEST, &m)
        .await;
    (d, m.len())
}

#[tokio::test]
async fn collects_bundles_through_the_referrers_tag_fallback() {
    let reg = TestRegistry::start();
    let p = Pusher::new(&reg);
    let (image, image_bytes) = p.image("team/app", "v1", "signed").await;
    let (other, other_bytes) = p.image("team/app", "v2", "other").await;
    let bundle = br#"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","x":1}"#;
    let (good, good_size) =
        push_bundle_referrer(&p, "team/app", &image, image_bytes.len(), bundle).await;
    // Listed in the index, but about another image: skipped with a note.
    let (stray, stray_size) =
        push_bundle_referrer(&p, "team/app", &other, other_bytes.len(), b"{\"stray\":1}").await;
    let index = json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            {"mediaType": OCI_MANIFEST, "digest": good, "size": good_size, "artifactType": BUNDLE_V03},
            {"mediaType": OCI_MANIFEST, "digest": stray, "size": stray_size, "artifactType": BUNDLE_V03},
            {"mediaType": OCI_MANIFEST, "digest": other, "size": other_bytes.len(), "artifactType": "application/spdx+json"}
        ]
    })
    .to_string()
    .into_bytes();
    p.manifest("team/app", &image.cosign_tag(""), OCI_INDEX, &index)
        .await;

    let c = client_with(&[&reg.host], None);
    let got = collect(
        &c,
        &repo(&reg.host, "team/app"),
        &image,
        &CollectLimits::default(),
    )
    .await;
    assert!(got.errors.is_empty(), "{:?}", got.errors);
    assert_eq!(got.artifacts.len(), 1, "{:?}", got.notes);
    let SignatureArtifact::Bundle(b) = &got.artifacts[0] else {
        panic!("expected a bundle: {:?}", got.artifacts[0]);
    };
    assert_eq!(b.json, bundle);
    assert_eq!(b.media_type, BUNDLE_V03);
    assert!(
        b.source.contains(good.as_str()) && b.source.contains("tag fallback"),
        "{}",
        b.source
    );
    let notes = got.notes.join("\n");
    assert!(
        notes.contains(&format!(
            "referrers API not supported by the registry, used tag fallback {}",
            image.cosign_tag("")
        )),
        "{notes}"
    );
    assert!(
        notes.contains(&format!("{stray}")) && notes.contains("skipped"),
        "{notes}"
    );
    assert!(
        notes.contains(&format!("tag {}: not found", image.cosign_tag(".sig"))),
        "{notes}"
    );
}

#[tokio::test]
async fn collects_legacy_sig_layers_with_their_annotations() {
    let reg = TestRegistry::start();
    let p = Pusher::new(&reg);
    let (image, _) = p.image("team/app", "v1", "legacy").await;
    let payload1 = format!(
        r#"{{"critical":{{"identity":{{"docker-reference":"{}/team/app"}},"image":{{"docker-manifest-digest":"{image}"}},"type":"cosign container image signature"}},"optional":null}}"#,
        reg.host
    );
    let payload2 = format!("{payload1} ");
    let d1 = p.blob("team/app", payload1.as_bytes()).await;
    let d2 = p.blob("team/app", payload2.as_bytes()).await;
    let config = p.blob("team/app", b"{\"sig\":true}").await;
    let sig = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": 12},
        "layers": [
            {"mediaType": SIMPLESIGNING, "digest": d1, "size": payload1.len(), "annotations": {
                "dev.cosignproject.cosign/signature": "MEUCIQsig1",
                "dev.sigstore.cosign/certificate": "-----BEGIN CERTIFICATE-----\nleaf\n-----END CERTIFICATE-----\n",
                "dev.sigstore.cosign/chain": "-----BEGIN CERTIFICATE-----\nca\n-----END CERTIFICATE-----\n",
                "dev.sigstore.cosign/bundle": "{\"SignedEntryTimestamp\":\"x\"}",
                "dev.sigstore.cosign/rfc3161timestamp": "{\"SignedRFC3161Timestamp\":\"y\"}"
            }},
            {"mediaType": SIMPLESIGNING, "digest": d2, "size": payload2.len(), "annotations": {
                "dev.cosignproject.cosign/signature": "MEUCIQsig2"
            }},
            {"mediaType": SIMPLESIGNING, "digest": d2, "size": payload2.len()}
        ]
    })
    .to_string()
    .into_bytes();
    p.manifest("team/app", &image.cosign_tag(".sig"), OCI_MANIFEST, &sig)
        .await;

    let c = client_with(&[&reg.host], None);
    let got = collect(
        &c,
        &repo(&reg.host, "team/app"),
        &image,
        &CollectLimits::default(),
    )
    .await;
    assert!(got.errors.is_empty(), "{:?}", got.errors);
    let legacy: Vec<_> = got
        .artifacts
        .iter()
        .map(|a| match a {
            SignatureArtifact::Legacy(l) => l,
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(legacy.len(), 2);
    assert_eq!(legacy[0].payload, payload1.as_bytes());
    assert_eq!(legacy[0].signature, "MEUCIQsig1");
    assert!(legacy[0].certificate.as_deref().unwrap().contains("leaf"));
    assert!(legacy[0].chain.as_deref().unwrap().contains("ca"));
    assert_eq!(
        legacy[0].rekor_bundle.as_deref(),
        Some("{\"SignedEntryTimestamp\":\"x\"}")
    );
    assert!(legacy[0].rfc3161_timestamp.is_some());
    assert_eq!(
        legacy[0].source,
        format!("tag {}, layer 0", image.cosign_tag(".sig"))
    );
    assert_eq!(legacy[1].signature, "MEUCIQsig2");
    assert!(legacy[1].certificate.is_none() && legacy[1].rekor_bundle.is_none());
    let notes = got.notes.join("\n");
    assert!(
        notes.contains(&format!("tag {}: 3 layers", image.cosign_tag(".sig"))),
        "{notes}"
    );
    assert!(
        notes.contains("layer 2: no dev.cosignproject.cosign/signature"),
        "{notes}"
    );

    // The bound: one artifact at most, and the collection says it was cut short (issue 10:
    // `truncated`, which makes an unsatisfied check `error`, no longer a note).
    let limits = CollectLimits {
        max_signatures: 1,
        ..Default::default()
    };
    let got = collect(&c, &repo(&reg.host, "team/app"), &image, &limits).await;
    assert_eq!(got.artifacts.len(), 1);
    assert!(
        got.truncated
            .join("\n")
            .contains("only the first 1 of 2 signature layers were checked (limit max_signatures)"),
        "{:?}",
        got.truncated
    );
}

#[tokio::test]
async fn collects_bundles_through_the_referrers_api_across_pages() {
    let mut content = StubContent::default();
    let image = content.add_manifest(
        Some("v1"),
        OCI_MANIFEST,
        br#"{"schemaVersion":2,"image":1}"#.to_vec(),
    );
    let mut referrer = |bundle: &[u8], subject: &Digest| {
        let empty = content.add_blob(b"{}");
        let bd = content.add_blob(bundle);
        let m = json!({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": BUNDLE_V03,
            "config": {"mediaType": OCI_EMPTY, "digest": empty, "size": 2},
            "layers": [{"mediaType": BUNDLE_V03, "digest": bd, "size": bundle.len()}],
            "subject": {"mediaType": OCI_MANIFEST, "digest": subject, "size": 10}
        })
        .to_string()
        .into_bytes();
        let len = m.len();
        let d = content.add_manifest(None, OCI_MANIFEST, m);
        json!({"mediaType": OCI_MANIFEST, "digest": d, "size": len, "artifactType": BUNDLE_V03})
    };
    let first = referrer(b"{\"bundle\":1}", &image);
    let second = referrer(b"{\"bundle\":2}", &image);
    let sbom = json!({"mediaType": OCI_MANIFEST, "digest": Digest::of(b"sbom"), "size": 4, "artifactType": "application/spdx+json"});
    content.referrer_pages = Some(vec![vec![first, sbom], vec![second]]);
    let host = stub_registry(content).await;
    let c = client_with(&[&host], None);
    let r = repo(&host, "team/app");
    assert_eq!(c.referrers(&r, &image).await.unwrap().unwrap().len(), 3);

    let got = collect(&c, &r, &image, &CollectLimits::default()).await;
    assert!(got.errors.is_empty(), "{:?}", got.errors);
    let jsons: Vec<_> = got
        .artifacts
        .iter()
        .map(|a| match a {
            SignatureArtifact::Bundle(b) => String::from_utf8(b.json.clone()).unwrap(),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(jsons, ["{\"bundle\":1}", "{\"bundle\":2}"]);
    assert!(got.artifacts[0].source().contains("referrers API"));
    assert!(
        got.notes
            .iter()
            .any(|n| n.starts_with("referrers API: 3 referrers")),
        "{:?}",
        got.notes
    );
}

#[tokio::test]
async fn a_registry_error_while_looking_is_reported_not_read_as_unsigned() {
    let image = Digest::of(b"image");
    let mut content = StubContent::default();
    content.fail.push((
        format!("/manifests/{}", image.cosign_tag(".sig")),
        StatusCode::INTERNAL_SERVER_ERROR,
    ));
    let host = stub_registry(content).await;
    let c = client_with(&[&host], None);
    let got = collect(
        &c,
        &repo(&host, "team/app"),
        &image,
        &CollectLimits::default(),
    )
    .await;
    assert!(got.artifacts.is_empty());
    assert_eq!(got.errors.len(), 1, "{:?}", got.errors);
    let e = &got.errors[0];
    assert!(
        e.contains(&image.cosign_tag(".sig")) && e.contains("HTTP 500"),
        "{e}"
    );

    // A referrers API that fails is an error too, not "no referrers".
    let mut content = StubContent::default();
    content
        .fail
        .push((format!("/referrers/{image}"), StatusCode::BAD_GATEWAY));
    let host = stub_registry(content).await;
    let c = client_with(&[&host], None);
    let got = collect(
        &c,
        &repo(&host, "team/app"),
        &image,
        &CollectLimits::default(),
    )
    .await;
    assert_eq!(got.errors.len(), 1, "{:?}", got.errors);
    assert!(got.errors[0].contains("HTTP 502"), "{:?}", got.errors);
}

/// The real `AwsEcrTokens` (AWS SDK) against a loopback stub of ECR's JSON API: the token is
/// decoded and its expiry read; static credentials keep the SDK off the instance metadata service.
#[tokio::test]
async fn aws_sdk_ecr_tokens_against_a_stub_endpoint() {
    use shipgate::registry::AwsEcrTokens;
    let seen: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let log = seen.clone();
    let endpoint = serve(move |req: Request| {
        let log = log.clone();
        async move {
            let target = req
                .headers()
                .get("x-amz-target")
                .map(|v| v.to_str().unwrap().to_string())
                .unwrap_or_default();
            let auth = req
                .headers()
                .get("authorization")
                .map(|v| v.to_str().unwrap().to_string())
                .unwrap_or_default();
            log.lock().unwrap().push((target, auth));
            respond(
                StatusCode::OK,
                &[("content-type", "application/x-amz-json-1.1".into())],
                json!({"authorizationData": [{
                    "authorizationToken": b64("AWS:ecr-password"),
                    "expiresAt": 4102444800.0,
                    "proxyEndpoint": "https://123456789012.dkr.ecr.eu-west-1.amazonaws.com"
                }]})
                .to_string()
                .into_bytes(),
            )
        }
    })
    .await;
    let url = format!("http://{endpoint}");
    let tokens = AwsEcrTokens::with_loader_hook(Arc::new(move |l| {
        l.endpoint_url(url.clone())
            .credentials_provider(aws_sdk_ecr::config::Credentials::new(
                "AKIDTEST", "secret", None, None, "test",
            ))
    }));
    let host =
        shipgate::registry::ecr::parse_ecr_host("123456789012.dkr.ecr.eu-west-1.amazonaws.com")
            .unwrap();
    let auth = tokens.authorization(&host).await.unwrap();
    assert_eq!(auth.credentials, Credentials::new("AWS", "ecr-password"));
    assert_eq!(
        auth.expires_at,
        SystemTime::UNIX_EPOCH + Duration::from_secs(4102444800)
    );
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        seen[0].0,
        "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken"
    );
    assert!(
        seen[0].1.contains("AKIDTEST/") && seen[0].1.contains("/eu-west-1/ecr/"),
        "{}",
        seen[0].1
    );
}
