//! Issue 10, "outbound requests go only where a policy points": hops a registry chooses
//! (redirects, Bearer token realms) to another host are refused unless allowed, and never reach
//! loopback/private addresses unless the configuration says so (IP literals and names that
//! resolve there); a registry that accepts and never answers holds at most the per-host bound of
//! connections; ECR hosts with made-up regions build no AWS client. Hostile registries are
//! loopback stubs; the gate runs as the real `shipgate check` binary.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::Response;
use shipgate::config::OutboundConfig;
use shipgate::reference::{Digest, Repository};
use shipgate::registry::{Credentials, Registry, RegistryClient, RegistryConfig};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const MANIFEST: &[u8] = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}"#;
const STORED: &[u8] = b"stored bytes";

/// Serves `handler` on a free loopback port, counting requests; returns `127.0.0.1:PORT`.
async fn serve<H, F>(handler: H) -> (String, Arc<AtomicUsize>)
where
    H: Fn(Request) -> F + Clone + Send + Sync + 'static,
    F: std::future::Future<Output = Response> + Send + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let host = listener.local_addr().unwrap().to_string();
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    let app = axum::Router::new().fallback(move |req: Request| {
        let h = handler.clone();
        seen.fetch_add(1, Ordering::SeqCst);
        async move { h(req).await }
    });
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (host, count)
}

fn respond(status: StatusCode, headers: &[(&str, String)], body: &[u8]) -> Response {
    let mut r = Response::builder().status(status);
    for (k, v) in headers {
        r = r.header(*k, v);
    }
    r.body(Body::from(body.to_vec())).unwrap()
}

/// Storage that serves the manifest (with its media type) or the stored bytes.
async fn storage() -> (String, Arc<AtomicUsize>) {
    serve(|req: Request| async move {
        if req.uri().path().contains("manifest") {
            respond(
                StatusCode::OK,
                &[("content-type", OCI_MANIFEST.into())],
                MANIFEST,
            )
        } else {
            respond(StatusCode::OK, &[], STORED)
        }
    })
    .await
}

/// A registry whose manifests and blobs all redirect to `target` (a URL prefix).
async fn redirecting_registry(target: String) -> String {
    serve(move |req: Request| {
        let target = target.clone();
        async move {
            let path = req.uri().path();
            let kind = if path.contains("/manifests/") {
                "manifest"
            } else {
                "blob"
            };
            respond(
                StatusCode::TEMPORARY_REDIRECT,
                &[("location", format!("{target}/{kind}?sig=abc"))],
                b"",
            )
        }
    })
    .await
    .0
}

fn repo(registry: &str) -> Repository {
    Repository {
        registry: registry.to_string(),
        name: "team/app".to_string(),
    }
}

fn client(insecure: &[&str], outbound: OutboundConfig) -> RegistryClient {
    client_with(insecure, outbound, None)
}

fn client_with(
    insecure: &[&str],
    outbound: OutboundConfig,
    docker_config: Option<&std::path::Path>,
) -> RegistryClient {
    RegistryClient::new(RegistryConfig {
        insecure_hosts: insecure.iter().map(|s| s.to_string()).collect(),
        docker_config: Some(
            docker_config
                .map(|p| p.to_path_buf())
                .unwrap_or_else(|| "/nonexistent/shipgate-test/config.json".into()),
        ),
        request_timeout: Duration::from_secs(5),
        outbound,
        ..Default::default()
    })
    .unwrap()
    .with_ecr_tokens(None)
}

fn allow(hosts: &[&str], private: bool) -> OutboundConfig {
    OutboundConfig {
        allow_hosts: hosts.iter().map(|s| s.to_string()).collect(),
        allow_private_networks: private,
        max_connections_per_host: None,
    }
}

#[tokio::test]
async fn a_redirect_to_another_loopback_port_is_refused_unless_configured() {
    let (store, store_hits) = storage().await;
    let registry = redirecting_registry(format!("http://{store}/bucket")).await;
    let r = repo(&registry);
    let digest = Digest::of(STORED);

    // Not allowed at all: the error names the host and the key that would allow it.
    let c = client(&[&registry, &store], OutboundConfig::default());
    let err = c.blob(&r, &digest, 1024).await.unwrap_err().to_string();
    assert!(
        err.contains(&store) && err.contains("outbound.allowHosts"),
        "{err}"
    );
    let err = c.resolve(&r, "v1").await.unwrap_err().to_string();
    assert!(err.contains("outbound.allowHosts"), "{err}");

    // Allowed by name, but an IP literal on loopback still needs allowPrivateNetworks.
    let c = client(&[&registry, &store], allow(&[&store], false));
    let err = c.blob(&r, &digest, 1024).await.unwrap_err().to_string();
    assert!(
        err.contains("127.0.0.1") && err.contains("outbound.allowPrivateNetworks"),
        "{err}"
    );
    assert_eq!(store_hits.load(Ordering::SeqCst), 0, "nothing reached it");

    // Both: followed.
    let c = client(&[&registry, &store], allow(&[&store], true));
    assert_eq!(&c.blob(&r, &digest, 1024).await.unwrap()[..], STORED);
    assert!(c.manifest(&r, "v1").await.unwrap().is_some());
    assert_eq!(c.resolve(&r, "v1").await.unwrap().0, Digest::of(MANIFEST));
}

/// A name that resolves to loopback is refused by the resolver the connection uses, even when
/// the host is allowed by name: the check is on the address actually connected to.
#[tokio::test]
async fn a_hop_to_a_name_resolving_to_loopback_is_refused_at_resolution() {
    let (store, store_hits) = storage().await;
    let port = store.rsplit_once(':').unwrap().1;
    let by_name = format!("localhost:{port}");
    let registry = redirecting_registry(format!("http://{by_name}/bucket")).await;
    let r = repo(&registry);
    let digest = Digest::of(STORED);

    let c = client(&[&registry, &by_name], allow(&[&by_name], false));
    let err = c.blob(&r, &digest, 1024).await.unwrap_err().to_string();
    assert!(
        err.contains("localhost") && err.contains("outbound.allowPrivateNetworks"),
        "{err}"
    );
    assert_eq!(store_hits.load(Ordering::SeqCst), 0, "nothing reached it");

    let c = client(&[&registry, &by_name], allow(&[&by_name], true));
    assert_eq!(&c.blob(&r, &digest, 1024).await.unwrap()[..], STORED);
}

/// A Bearer realm on another origin is a hop too: refused (and sent no credentials) unless
/// configured; the registry's own origin is always fine.
#[tokio::test]
async fn a_token_realm_on_another_port_is_refused_unless_configured() {
    let auth_seen: Arc<Mutex<Vec<Option<String>>>> = Arc::default();
    let seen = auth_seen.clone();
    let token = |req: &Request, seen: &Arc<Mutex<Vec<Option<String>>>>| {
        seen.lock().unwrap().push(
            req.headers()
                .get("authorization")
                .map(|v| v.to_str().unwrap().to_string()),
        );
        respond(
            StatusCode::OK,
            &[("content-type", "application/json".into())],
            br#"{"token":"tok-1","expires_in":300}"#,
        )
    };
    let (token_host, _) = serve(move |req: Request| {
        let seen = seen.clone();
        async move { token(&req, &seen) }
    })
    .await;
    let realm = format!("http://{token_host}/token");
    let registry_for = |realm: String| {
        serve(move |req: Request| {
            let realm = realm.clone();
            async move {
                if req
                    .headers()
                    .get("authorization")
                    .map(|v| v.to_str().unwrap())
                    != Some("Bearer tok-1")
                {
                    return respond(
                        StatusCode::UNAUTHORIZED,
                        &[(
                            "www-authenticate",
                            format!(r#"Bearer realm="{realm}",service="stub""#),
                        )],
                        b"",
                    );
                }
                respond(
                    StatusCode::OK,
                    &[
                        ("content-type", OCI_MANIFEST.into()),
                        ("docker-content-digest", Digest::of(MANIFEST).to_string()),
                    ],
                    MANIFEST,
                )
            }
        })
    };
    let (registry, _) = registry_for(realm.clone()).await;
    let r = repo(&registry);
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.json");
    std::fs::write(
        &cfg,
        serde_json::json!({"auths": {registry.clone(): {"username": "alice", "password": "s3cret"}}})
            .to_string(),
    )
    .unwrap();

    let c = client_with(
        &[&registry, &token_host],
        OutboundConfig::default(),
        Some(&cfg),
    );
    let err = c.resolve(&r, "v1").await.unwrap_err().to_string();
    assert!(
        err.contains("token service")
            && err.contains(&token_host)
            && err.contains("outbound.allowHosts"),
        "{err}"
    );
    let c = client_with(
        &[&registry, &token_host],
        allow(&[&token_host], false),
        Some(&cfg),
    );
    let err = c.resolve(&r, "v1").await.unwrap_err().to_string();
    assert!(err.contains("outbound.allowPrivateNetworks"), "{err}");
    assert!(
        auth_seen.lock().unwrap().is_empty(),
        "no credentials left for a refused token service"
    );

    let c = client_with(
        &[&registry, &token_host],
        allow(&[&token_host], true),
        Some(&cfg),
    );
    assert_eq!(c.resolve(&r, "v1").await.unwrap().0, Digest::of(MANIFEST));
    assert_eq!(
        auth_seen.lock().unwrap().as_slice(),
        &[Some(Credentials::new("alice", "s3cret").basic_header())]
    );
}

/// N concurrent requests to a registry that accepts and never answers: the listener never holds
/// more than the per-host bound of connections, and every request ends in an error promptly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registry_that_never_answers_holds_at_most_the_per_host_bound_of_connections() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let host = listener.local_addr().unwrap().to_string();
    let open = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let accepted = Arc::new(AtomicUsize::new(0));
    {
        let (open, peak, accepted) = (open.clone(), peak.clone(), accepted.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                accepted.fetch_add(1, Ordering::SeqCst);
                let (open, peak) = (open.clone(), peak.clone());
                tokio::spawn(async move {
                    // The client closes a timed-out connection before it opens the next one, but
                    // this side may see the new one before the old one's end: count it a moment
                    // later so that a closed socket is not counted as open.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    let now = open.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    // Read and never answer, until the client gives up and closes.
                    let mut buf = [0u8; 4096];
                    loop {
                        match tokio::io::AsyncReadExt::read(&mut sock, &mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(_) => {}
                        }
                    }
                    open.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
    }
    const BOUND: usize = 4;
    const REQUESTS: usize = 60;
    let c = Arc::new(
        RegistryClient::new(RegistryConfig {
            insecure_hosts: vec![host.clone()],
            docker_config: Some("/nonexistent/shipgate-test/config.json".into()),
            request_timeout: Duration::from_millis(1500),
            outbound: OutboundConfig {
                max_connections_per_host: Some(BOUND),
                ..Default::default()
            },
            ..Default::default()
        })
        .unwrap()
        .with_ecr_tokens(None),
    );
    let started = Instant::now();
    let tasks: Vec<_> = (0..REQUESTS)
        .map(|i| {
            let c = c.clone();
            let r = repo(&host);
            tokio::spawn(async move { c.resolve(&r, &format!("v{i}")).await })
        })
        .collect();
    for t in tasks {
        let err = t.await.unwrap().unwrap_err().to_string();
        assert!(
            err.contains("did not answer") || err.contains("connections"),
            "{err}"
        );
    }
    let took = started.elapsed();
    assert!(
        peak.load(Ordering::SeqCst) <= BOUND,
        "peak {} open connections at the listener, bound {BOUND}",
        peak.load(Ordering::SeqCst)
    );
    assert!(took < Duration::from_secs(30), "took {took:?}");
    eprintln!(
        "{REQUESTS} requests: peak {} connections, {} accepted in all, {took:?}",
        peak.load(Ordering::SeqCst),
        accepted.load(Ordering::SeqCst)
    );
}

/// An ECR host with a made-up region gets a clear error and no AWS client (the registry stub
/// stands in for the host and asks for credentials, which is where the region is used).
#[tokio::test]
async fn an_ecr_host_with_a_made_up_region_is_an_error_not_a_client() {
    let (stub, _) = serve(|_req: Request| async {
        respond(
            StatusCode::UNAUTHORIZED,
            &[("www-authenticate", "Basic realm=\"ecr\"".into())],
            b"",
        )
    })
    .await;
    let made_up = "123456789012.dkr.ecr.zz-nowhere-1.amazonaws.com".to_string();
    let addr: std::net::SocketAddr = stub.parse().unwrap();
    let c = RegistryClient::new(RegistryConfig {
        insecure_hosts: vec![made_up.clone()],
        docker_config: Some("/nonexistent/shipgate-test/config.json".into()),
        request_timeout: Duration::from_secs(5),
        resolve: vec![(made_up.clone(), addr)],
        ..Default::default()
    })
    .unwrap();
    let err = c
        .resolve(&repo(&made_up), "v1")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("not an AWS region"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// Through the gate: the real `shipgate check` binary.

fn check(image: &str, policy: &std::path::Path, args: &[&str]) -> (Option<i32>, serde_json::Value) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_shipgate"))
        .arg("check")
        .arg(image)
        .arg("--policy")
        .arg(policy)
        .args(["--output", "json", "--timeout", "15"])
        .args(args)
        .env("DOCKER_CONFIG", "/nonexistent/shipgate-test")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env_remove("SHIPGATE_LOG")
        .output()
        .expect("run shipgate check");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "no JSON decision: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code(), json)
}

fn reasons(decision: &serde_json::Value) -> String {
    decision["checks"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .map(|c| format!("{} {}: {}", c["check"], c["result"], c["reason"]))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_the_gate_a_refused_hop_is_an_error_never_a_pass() {
    let (store, store_hits) = storage().await;
    let registry = redirecting_registry(format!("http://{store}/bucket")).await;
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.yaml");
    std::fs::write(
        &policy,
        format!(
            "name: outbound\nimages: [\"{registry}/**\"]\nsignatures:\n  authorities:\n    - name: ci\n      keyless:\n        issuer: https://token.actions.githubusercontent.com\n        subject: https://github.com/org/repo/.github/workflows/release.yml@refs/heads/main\n"
        ),
    )
    .unwrap();
    let image = format!("{registry}/team/app:v1");
    let insecure = [
        "--insecure-registry",
        &registry,
        "--insecure-registry",
        &store,
    ];

    let (code, d) = tokio::task::spawn_blocking({
        let (image, policy) = (image.clone(), policy.clone());
        let args: Vec<String> = insecure.iter().map(|s| s.to_string()).collect();
        move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            check(&image, &policy, &args)
        }
    })
    .await
    .unwrap();
    assert_eq!(d["decision"], "fail", "{d}");
    assert_ne!(code, Some(0));
    let why = reasons(&d);
    assert!(
        why.contains("\"error\"") && why.contains("outbound.allowHosts") && why.contains(&store),
        "{why}"
    );
    assert_eq!(store_hits.load(Ordering::SeqCst), 0);

    // Configured by flags: the manifest is read through the redirect, and the verdict is
    // about the evidence (unsigned), not about the hop.
    let (code, d) = tokio::task::spawn_blocking({
        let (image, policy, store) = (image.clone(), policy.clone(), store.clone());
        let mut args: Vec<String> = insecure.iter().map(|s| s.to_string()).collect();
        args.extend([
            "--allow-outbound-host".into(),
            store,
            "--allow-private-networks".into(),
        ]);
        move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            check(&image, &policy, &args)
        }
    })
    .await
    .unwrap();
    assert_eq!(d["decision"], "fail", "{d}");
    assert_ne!(code, Some(0));
    assert_eq!(d["digest"], Digest::of(MANIFEST).to_string(), "{d}");
    let why = reasons(&d);
    assert!(!why.contains("outbound."), "{why}");
    assert!(store_hits.load(Ordering::SeqCst) > 0);
}

/// `outbound:` in the serve configuration is validated at load.
#[test]
fn a_bad_outbound_host_pattern_is_refused_at_load() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shipgate.yaml");
    std::fs::write(
        &path,
        "outbound:\n  allowHosts: [\"https://cdn.example.com/\"]\n",
    )
    .unwrap();
    let err = shipgate::config::ServeConfig::load(&path)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("outbound") && err.contains("not a URL"),
        "{err}"
    );
    std::fs::write(
        &path,
        "outbound:\n  allowHosts: [\"*.blob.core.windows.net\"]\n  allowPrivateNetworks: false\n  maxConnectionsPerHost: 4\n",
    )
    .unwrap();
    let c = shipgate::config::ServeConfig::load(&path).unwrap();
    let o = c.outbound.unwrap();
    assert_eq!(o.allow_hosts, vec!["*.blob.core.windows.net".to_string()]);
    assert_eq!(o.max_connections_per_host, Some(4));
}

/// The `outbound:` section of the serve configuration reaches the registry client of the real
/// `shipgate serve`: without it the hop is an error, with it the manifest is read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_applies_the_outbound_section_of_its_configuration() {
    let (store, _) = storage().await;
    let registry = redirecting_registry(format!("http://{store}/bucket")).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("policy.yaml"),
        format!(
            "name: outbound\nimages: [\"{registry}/**\"]\nsignatures:\n  authorities:\n    - name: ci\n      keyless:\n        issuer: https://token.actions.githubusercontent.com\n        subject: x\n"
        ),
    )
    .unwrap();
    let decide = |outbound: &'static str| {
        let dir = dir.path().to_path_buf();
        let (registry, store) = (registry.clone(), store.clone());
        tokio::task::spawn_blocking(move || {
            let port = crate::common::registry::free_port();
            let cfg = dir.join("shipgate.yaml");
            std::fs::write(
                &cfg,
                format!(
                    "listen: 127.0.0.1:{port}\npolicies: [policy.yaml]\ninsecureRegistries: [\"{registry}\", \"{store}\"]\ncacheFailSeconds: 0\n{}",
                    outbound.replace("STORE", &store)
                ),
            )
            .unwrap();
            let serve = crate::common::serve::ServeProcess::start(
                ["--config", cfg.to_str().unwrap()],
                port,
            );
            let mut resp = crate::common::oci::agent()
                .post(format!("{}/v1/decisions", serve.base))
                .header("content-type", "application/json")
                .send(format!(r#"{{"image":"{registry}/team/app:v1"}}"#))
                .unwrap();
            serde_json::from_str::<serde_json::Value>(&resp.body_mut().read_to_string().unwrap())
                .unwrap()
        })
    };
    let d = decide("").await.unwrap();
    assert_eq!(d["decision"], "fail", "{d}");
    assert!(reasons(&d).contains("outbound.allowHosts"), "{d}");
    let d = decide("outbound:\n  allowHosts: [\"STORE\"]\n  allowPrivateNetworks: true\n")
        .await
        .unwrap();
    assert_eq!(d["decision"], "fail", "{d}");
    assert_eq!(d["digest"], Digest::of(MANIFEST).to_string(), "{d}");
    assert!(!reasons(&d).contains("outbound."), "{d}");
}
