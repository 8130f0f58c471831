//! Issue 10: a request can only add conditions, and work ends when its time ends.
//!
//! - Naming a policy in a request never narrows the set of governing policies (the real
//!   `shipgate serve` process, a real registry, an unsigned image).
//! - An evaluation that outlives the gate's timeout is dropped with its registry connections
//!   (the real process against a loopback registry that accepts and never answers), is never
//!   cached, and excess evaluations are refused at once (the gate behind the `Registry` seam).

use std::io::Read as _;
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use serde_json::Value;

use shipgate::gate::{DecisionRequest, Gate, GateSettings, RequestError};
use shipgate::policy::{Policy, PolicySet};
use shipgate::reference::{Digest, Repository};
use shipgate::registry::{Descriptor, Manifest, Registry, RegistryError};
use shipgate::verify::{TrustRoot, Verifier};

use crate::common::oci::{agent, push_image};
use crate::common::registry::{free_port, TestRegistry};
use crate::common::serve::ServeProcess;

fn post(base: &str, body: &str) -> (u16, Value) {
    let mut resp = agent()
        .post(format!("{base}/v1/decisions"))
        .header("content-type", "application/json")
        .config()
        .http_status_as_error(false)
        .build()
        .send(body)
        .expect("the server answers");
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// A policy `name` over `images` that asks for a keyless signature no test image has.
fn keyless_policy(name: &str, images: &str) -> String {
    format!("name: {name}\nimages: [\"{images}\"]\nsignatures:\n  authorities:\n    - name: x\n      keyless:\n        issuer: https://token.actions.githubusercontent.com\n        subject: https://github.com/acme/x/.github/workflows/r.yml@refs/heads/main\n")
}

fn write_policy(dir: &std::path::Path, file: &str, yaml: &str) {
    std::fs::write(dir.join(file), yaml).unwrap();
}

/// Three policies govern one unsigned image: an enforced one it fails, an audit-mode one and an
/// enforced one with a weaker rule. Whichever the request names, the verdict is `fail`.
#[test]
fn naming_a_policy_never_weakens_the_decision() {
    let registry = TestRegistry::start();
    let host = &registry.host;
    let image = push_image(&format!("http://{host}"), "team/app", "v1");
    let dir = tempfile::tempdir().unwrap();
    let key = crate::common::cosign::SigningKey::generate_p256().public_pem();
    let signed_by = |name: &str, mode: &str| {
        format!(
            "name: {name}\nmode: {mode}\nimages: [\"{host}/team/**\"]\nsignatures:\n  authorities:\n    - name: release\n      key: |\n{}",
            key.lines()
                .map(|l| format!("        {l}\n"))
                .collect::<String>()
        )
    };
    write_policy(dir.path(), "strict.yaml", &signed_by("strict", "enforce"));
    write_policy(dir.path(), "audit.yaml", &signed_by("observe", "audit"));
    write_policy(
        dir.path(),
        "other.yaml",
        &keyless_policy("elsewhere", &format!("{host}/other/**")),
    );
    let port = free_port();
    let serve = ServeProcess::start(
        [
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--policies",
            dir.path().to_str().unwrap(),
            "--insecure-registry",
            host,
        ],
        port,
    );
    let by_digest = format!("{host}/team/app@{}", image.digest);
    for policy in [None, Some("observe"), Some("strict")] {
        let body = match policy {
            None => serde_json::json!({ "image": by_digest }),
            Some(p) => serde_json::json!({ "image": by_digest, "policy": p }),
        };
        let (status, d) = post(&serve.base, &body.to_string());
        assert_eq!(status, 200, "{d}");
        assert_eq!(d["decision"], "fail", "policy {policy:?}: {d}");
        let applied: Vec<&str> = d["policies"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(applied, ["observe", "strict"], "policy {policy:?}: {d}");
    }
    // A policy that does not govern the image cannot be satisfied: fail, without a registry call.
    let (status, d) = post(
        &serve.base,
        &serde_json::json!({ "image": by_digest, "policy": "elsewhere" }).to_string(),
    );
    assert_eq!(status, 200, "{d}");
    assert_eq!(d["decision"], "fail", "{d}");
    assert_eq!(d["checks"][0]["check"], "policy-match", "{d}");
    assert!(
        d["checks"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("policy `elsewhere` was requested but does not govern"),
        "{d}"
    );
    // An unknown name is still the caller's mistake.
    let (status, d) = post(
        &serve.base,
        &serde_json::json!({ "image": by_digest, "policy": "nope" }).to_string(),
    );
    assert_eq!(status, 400, "{d}");
}

/// A loopback "registry" that accepts connections and never answers; counts the connections
/// still open (a connection the gate dropped reads as EOF here).
struct Stall {
    host: String,
    open: Arc<AtomicUsize>,
    accepted: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl Stall {
    fn start() -> Stall {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let host = listener.local_addr().unwrap().to_string();
        let open = Arc::new(AtomicUsize::new(0));
        let accepted = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (o, a, s) = (open.clone(), accepted.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(mut conn) = conn else { continue };
                a.fetch_add(1, Ordering::SeqCst);
                o.fetch_add(1, Ordering::SeqCst);
                let o = o.clone();
                std::thread::spawn(move || {
                    // Read (and ignore) until the peer closes; never write a byte.
                    let mut buf = [0u8; 4096];
                    while matches!(conn.read(&mut buf), Ok(n) if n > 0) {}
                    o.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        Stall {
            host,
            open,
            accepted,
            stop,
        }
    }
}

impl Drop for Stall {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = std::net::TcpStream::connect(&self.host);
    }
}

/// The gate's timeout ends the work too: the registry connections close right after the
/// timeout answer, instead of living on until the registry client's own (longer) timeout.
#[test]
fn a_timed_out_evaluation_drops_its_registry_connections() {
    let stall = Stall::start();
    let dir = tempfile::tempdir().unwrap();
    write_policy(
        dir.path(),
        "p.yaml",
        &keyless_policy("p", &format!("{}/**", stall.host)),
    );
    let port = free_port();
    let serve = ServeProcess::start(
        [
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--policies",
            dir.path().to_str().unwrap(),
            "--insecure-registry",
            &stall.host,
            "--timeout",
            "2",
        ],
        port,
    );
    let digest = "sha256:4bf12e8bb9ef4bd25b9e3b6b7c50a5f2e3a4f8d1c1f4f5a1b2c3d4e5f6a7b8c9";
    let started = Instant::now();
    let (status, d) = post(
        &serve.base,
        &serde_json::json!({ "image": format!("{}/app@{digest}", stall.host) }).to_string(),
    );
    assert_eq!(status, 200, "{d}");
    assert_eq!(d["decision"], "fail", "{d}");
    assert_eq!(d["checks"][0]["check"], "timeout", "{d}");
    assert!(started.elapsed() < Duration::from_secs(6), "{d}");
    assert!(
        stall.accepted.load(Ordering::SeqCst) > 0,
        "the gate never reached the registry"
    );
    // The registry client's own timeout is 10 s: connections still open 3 s after the answer
    // would belong to work that outlived its deadline.
    let until = Instant::now() + Duration::from_secs(3);
    while stall.open.load(Ordering::SeqCst) > 0 && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        stall.open.load(Ordering::SeqCst),
        0,
        "registry connections outlived the evaluation's deadline"
    );
}

const DIGEST: &str = "sha256:4bf12e8bb9ef4bd25b9e3b6b7c50a5f2e3a4f8d1c1f4f5a1b2c3d4e5f6a7b8c9";

/// A registry behind the seam whose referrer lookups wait `delay` (shared, so a test can make it
/// fast later), recording when each call started.
#[derive(Default)]
struct SlowRegistry {
    delay_ms: AtomicUsize,
    calls: Mutex<Vec<Instant>>,
}

#[async_trait]
impl Registry for SlowRegistry {
    async fn resolve(&self, _: &Repository, _: &str) -> Result<(Digest, String), RegistryError> {
        self.calls.lock().unwrap().push(Instant::now());
        let delay = self.delay_ms.load(Ordering::SeqCst) as u64;
        tokio::time::sleep(Duration::from_millis(delay)).await;
        Ok((
            DIGEST.parse().unwrap(),
            "application/vnd.oci.image.manifest.v1+json".into(),
        ))
    }
    async fn manifest(&self, _: &Repository, _: &str) -> Result<Option<Manifest>, RegistryError> {
        self.calls.lock().unwrap().push(Instant::now());
        Ok(None)
    }
    async fn blob(&self, _: &Repository, d: &Digest, _: usize) -> Result<Bytes, RegistryError> {
        Err(RegistryError::NotFound {
            repository: "registry.test/app".into(),
            what: format!("blob {d}"),
        })
    }
    async fn referrers(
        &self,
        _: &Repository,
        _: &Digest,
    ) -> Result<Option<Vec<Descriptor>>, RegistryError> {
        self.calls.lock().unwrap().push(Instant::now());
        let delay = self.delay_ms.load(Ordering::SeqCst) as u64;
        tokio::time::sleep(Duration::from_millis(delay)).await;
        Ok(Some(Vec::new()))
    }
    async fn tags(&self, _: &Repository, _: usize) -> Result<(Vec<String>, bool), RegistryError> {
        Ok((Vec::new(), false))
    }
}

fn slow_gate(registry: Arc<SlowRegistry>, settings: GateSettings) -> Gate {
    let yaml = keyless_policy("p", "registry.test/**");
    let policy = Policy::from_yaml(&yaml, std::path::Path::new("p.yaml")).unwrap();
    Gate::new(
        PolicySet::new(vec![policy]).unwrap(),
        registry,
        Arc::new(shipgate::evidence::ecr_findings::AwsScanFindings::new()),
        Arc::new(Verifier::new(Arc::new(TrustRoot::public_good().unwrap()))),
        settings,
    )
}

fn request(image: &str) -> DecisionRequest {
    DecisionRequest {
        image: image.to_string(),
        policy: None,
    }
}

/// A late evaluation is neither finished in the background nor cached: after a timeout, the
/// next request evaluates afresh (and no registry call starts after the deadline).
#[tokio::test]
async fn a_late_evaluation_is_never_cached_or_finished_behind_the_callers_back() {
    let registry = Arc::new(SlowRegistry::default());
    registry.delay_ms.store(1500, Ordering::SeqCst);
    let gate = slow_gate(
        registry.clone(),
        GateSettings {
            timeout: Duration::from_millis(500),
            cache_fail_ttl: Duration::from_secs(60),
            ..GateSettings::default()
        },
    );
    let image = format!("registry.test/app@{DIGEST}");
    let started = Instant::now();
    let first = gate.decide(&request(&image)).await.unwrap();
    assert_eq!(first.checks[0].check, "timeout", "{}", first.to_text());
    let deadline = started + Duration::from_millis(500);
    // Long enough for the old work to have finished and cached itself, were it still running.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        registry
            .calls
            .lock()
            .unwrap()
            .iter()
            .all(|t| *t <= deadline + Duration::from_millis(100)),
        "a registry call started after the deadline"
    );
    registry.delay_ms.store(0, Ordering::SeqCst);
    let before = registry.calls.lock().unwrap().len();
    let second = gate.decide(&request(&image)).await.unwrap();
    assert!(!second.cached, "{}", second.to_text());
    assert_eq!(second.checks[0].check, "signature", "{}", second.to_text());
    assert!(registry.calls.lock().unwrap().len() > before);
}

/// Past its limit of concurrent evaluations the gate refuses at once instead of queueing, and
/// takes work again when a slot frees.
#[tokio::test]
async fn excess_evaluations_are_refused_at_once() {
    let registry = Arc::new(SlowRegistry::default());
    registry.delay_ms.store(600, Ordering::SeqCst);
    let gate = slow_gate(
        registry.clone(),
        GateSettings {
            max_concurrent_evaluations: 2,
            cache_pass_ttl: Duration::ZERO,
            cache_fail_ttl: Duration::ZERO,
            ..GateSettings::default()
        },
    );
    // Two digests and a tag: three distinct evaluations (no coalescing).
    let a = format!("registry.test/a@{DIGEST}");
    let b = format!("registry.test/b@{DIGEST}");
    let (g1, g2) = (gate.clone(), gate.clone());
    let first = tokio::spawn(async move { g1.decide(&request(&a)).await });
    let second = tokio::spawn(async move { g2.decide(&request(&b)).await });
    tokio::time::sleep(Duration::from_millis(150)).await;
    let asked = Instant::now();
    let third = gate.decide(&request("registry.test/c:v1")).await;
    assert!(asked.elapsed() < Duration::from_millis(300), "it queued");
    match third {
        Err(RequestError::Overloaded {
            limit,
            retry_after_seconds,
        }) => assert_eq!((limit, retry_after_seconds > 0), (2, true)),
        other => panic!("expected Overloaded, got {other:?}"),
    }
    assert!(first.await.unwrap().is_ok() && second.await.unwrap().is_ok());
    registry.delay_ms.store(0, Ordering::SeqCst);
    let again = gate.decide(&request("registry.test/c:v1")).await.unwrap();
    assert_eq!(again.checks[0].check, "signature", "{}", again.to_text());
}
