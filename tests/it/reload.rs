//! Reloading the real `shipgate serve` on SIGHUP and on file change: decisions follow the new
//! policies, a bad file keeps the previous set serving (and says so), a changed key file is
//! never answered from a decision made with the old key, and reloading under load fails no
//! request. Waits are polls with generous deadlines, never timed assertions.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::Value;

use crate::common::cosign::{attach_legacy_signature, sha256, LegacyLayer, SigningKey};
use crate::common::oci::{agent, push_image};
use crate::common::registry::{free_port, TestRegistry};
use crate::common::serve::ServeProcess;

/// A registry with one image signed by `k1`, key files `k1.pub`, `k2.pub` and `current.pub`
/// (`k1`'s key until a test changes it), a policy
/// directory and a config file, and `shipgate serve --config` on them.
struct Fixture {
    _registry: TestRegistry,
    dir: tempfile::TempDir,
    /// `host/team/app@sha256:…`
    image: String,
    host: String,
    port: u16,
    serve: ServeProcess,
}

impl Fixture {
    /// The policy names `key_ref` (relative to `policies/`); the config watches every
    /// `watch_seconds` (0: SIGHUP only).
    fn start(key_ref: &str, watch_seconds: u64) -> Fixture {
        Fixture::start_with(key_ref, watch_seconds, "")
    }

    /// [`Fixture::start`] with `extra` appended to the config file.
    fn start_with(key_ref: &str, watch_seconds: u64, extra: &str) -> Fixture {
        let registry = TestRegistry::start();
        let img = push_image(&registry.url(), "team/app", "v1");
        let k1 = SigningKey::generate_p256();
        let k2 = SigningKey::generate_p256();
        let reference = format!("{}/team/app", registry.host);
        attach_legacy_signature(
            &registry.url(),
            "team/app",
            &img.digest,
            vec![LegacyLayer::signed(&k1, &reference, &img.digest)],
        );
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("policies")).unwrap();
        std::fs::create_dir(dir.path().join("keys")).unwrap();
        std::fs::write(dir.path().join("keys/k1.pub"), k1.public_pem()).unwrap();
        std::fs::write(dir.path().join("keys/k2.pub"), k2.public_pem()).unwrap();
        std::fs::write(dir.path().join("keys/current.pub"), k1.public_pem()).unwrap();
        let port = free_port();
        let host = registry.host.clone();
        write_atomically(
            &dir.path().join("policies/app.yaml"),
            &policy_text(&host, key_ref),
        );
        write_atomically(
            &dir.path().join("serve.yaml"),
            &config_text(port, &host, watch_seconds, extra),
        );
        let config = dir.path().join("serve.yaml");
        let serve = ServeProcess::start(["--config", config.to_str().unwrap()], port);
        Fixture {
            image: format!("{reference}@{}", img.digest),
            host,
            port,
            dir,
            _registry: registry,
            serve,
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn write_policy(&self, key_ref: &str) -> String {
        let text = policy_text(&self.host, key_ref);
        write_atomically(&self.path("policies/app.yaml"), &text);
        file_sha256(&text)
    }

    fn write_config(&self, watch_seconds: u64, extra: &str) {
        let text = config_text(self.port, &self.host, watch_seconds, extra);
        write_atomically(&self.path("serve.yaml"), &text);
    }

    fn hup(&self) {
        self.serve.hup();
    }

    fn readyz(&self) -> (u16, Value) {
        self.serve.readyz()
    }

    fn metrics(&self) -> String {
        let mut resp = agent()
            .get(format!("{}/metrics", self.serve.base))
            .call()
            .unwrap();
        resp.body_mut().read_to_string().unwrap()
    }

    fn decide(&self) -> Value {
        let (status, body) = post_decision(&agent(), &self.serve.base, &self.image).unwrap();
        assert_eq!(status, 200, "{body}");
        body
    }

    fn wait_reload(&self, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        self.serve.wait_reload(what, done)
    }

    fn wait_generation(&self, generation: u64) -> Value {
        self.wait_reload(&format!("generation {generation}"), |r| {
            r["generation"] == generation
        })
    }
}

fn config_text(port: u16, host: &str, watch_seconds: u64, extra: &str) -> String {
    format!(
        "listen: 127.0.0.1:{port}\npolicies: [./policies]\ninsecureRegistries: [\"{host}\"]\nreload:\n  watchSeconds: {watch_seconds}\n{extra}"
    )
}

/// Policy `app`: images of `host/team/` signed by the key in `key_ref`.
fn policy_text(host: &str, key_ref: &str) -> String {
    format!(
        "name: app\nimages: [\"{host}/team/**\"]\nsignatures:\n  authorities:\n    - name: release\n      keyRef: {key_ref}\n      transparencyLog: optional\n"
    )
}

/// `sha256:<hex>` of a policy file's bytes, as decisions name it.
fn file_sha256(text: &str) -> String {
    let digest = sha256(text.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// Written beside and renamed over, as deploy tools do: a reader never sees half a file.
fn write_atomically(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// A decision request; `Err` is a transport error.
fn post_decision(http: &ureq::Agent, base: &str, image: &str) -> Result<(u16, Value), String> {
    let mut resp = http
        .post(format!("{base}/v1/decisions"))
        .header("content-type", "application/json")
        .send(serde_json::json!({ "image": image }).to_string())
        .map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let text = resp
        .body_mut()
        .read_to_string()
        .map_err(|e| e.to_string())?;
    let body = serde_json::from_str(&text).map_err(|e| format!("{e}: {text}"))?;
    Ok((status, body))
}

fn policy_sha(decision: &Value) -> &str {
    decision["policies"][0]["sha256"]
        .as_str()
        .unwrap_or_default()
}

#[test]
fn sighup_applies_a_changed_policy() {
    let f = Fixture::start("../keys/k1.pub", 0);
    let (status, ready) = f.readyz();
    assert_eq!(status, 200, "{ready}");
    assert_eq!(ready["reload"]["generation"], 1, "{ready}");
    let sha_k1 = file_sha256(&policy_text(&f.host, "../keys/k1.pub"));
    assert_eq!(ready["reload"]["policies"][0]["sha256"], sha_k1.as_str());
    let d = f.decide();
    assert_eq!(d["decision"], "pass", "{d}");
    assert_eq!(policy_sha(&d), sha_k1);

    let sha_k2 = f.write_policy("../keys/k2.pub");
    f.hup();
    let ready = f.wait_generation(2);
    assert_eq!(ready["reload"]["policies"][0]["sha256"], sha_k2.as_str());
    assert!(ready["reload"].get("lastError").is_none(), "{ready}");
    let d = f.decide();
    assert_eq!(d["decision"], "fail", "{d}");
    assert_eq!(policy_sha(&d), sha_k2);
    assert_eq!(d["cached"], false, "{d}");
    let metrics = f.metrics();
    assert!(
        metrics.contains("shipgate_reloads_total{result=\"success\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("shipgate_config_generation 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("shipgate_config_last_reload_success 1"),
        "{metrics}"
    );
}

#[test]
fn a_changed_file_is_picked_up_without_a_signal() {
    let f = Fixture::start("../keys/k1.pub", 1);
    assert_eq!(f.decide()["decision"], "pass");
    let sha_k2 = f.write_policy("../keys/k2.pub");
    let ready = f.wait_generation(2);
    assert_eq!(ready["reload"]["policies"][0]["sha256"], sha_k2.as_str());
    let d = f.decide();
    assert_eq!(d["decision"], "fail", "{d}");
    assert_eq!(policy_sha(&d), sha_k2);
    let mut serve = f.serve;
    let logs = serve.stop_and_logs();
    assert!(
        logs.contains("policy or configuration files changed; reloading"),
        "{logs}"
    );
    assert!(logs.contains("changed app"), "{logs}");
}

#[test]
fn a_bad_policy_keeps_the_previous_set_serving_until_fixed() {
    let f = Fixture::start("../keys/k1.pub", 0);
    let sha_k1 = file_sha256(&policy_text(&f.host, "../keys/k1.pub"));
    write_atomically(
        &f.path("policies/app.yaml"),
        "name: app\nimages: [unclosed\n",
    );
    f.hup();
    let ready = f.wait_reload("a failed reload", |r| r["failures"] == 1);
    assert_eq!(ready["status"], "ready", "{ready}");
    assert_eq!(ready["reload"]["generation"], 1, "{ready}");
    let reason = ready["reload"]["lastError"]["reason"].as_str().unwrap();
    assert!(reason.contains("app.yaml"), "{reason}");
    let d = f.decide();
    assert_eq!(d["decision"], "pass", "{d}");
    assert_eq!(policy_sha(&d), sha_k1);
    let metrics = f.metrics();
    assert!(
        metrics.contains("shipgate_reloads_total{result=\"failure\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("shipgate_config_last_reload_success 0"),
        "{metrics}"
    );
    assert!(
        metrics.contains("shipgate_config_generation 1"),
        "{metrics}"
    );

    let sha_k2 = f.write_policy("../keys/k2.pub");
    f.hup();
    let ready = f.wait_generation(2);
    assert!(ready["reload"].get("lastError").is_none(), "{ready}");
    let d = f.decide();
    assert_eq!(d["decision"], "fail", "{d}");
    assert_eq!(policy_sha(&d), sha_k2);
    assert!(f
        .metrics()
        .contains("shipgate_config_last_reload_success 1"));
    let mut serve = f.serve;
    let logs = serve.stop_and_logs();
    assert!(
        logs.contains("reload failed; the previous policies and configuration keep serving"),
        "{logs}"
    );
}

#[test]
fn a_bad_config_keeps_the_previous_set_and_restart_only_settings_are_named() {
    let f = Fixture::start("../keys/k1.pub", 0);
    f.write_config(0, "notAField: 1\n");
    f.hup();
    let ready = f.wait_reload("a failed reload", |r| r["failures"] == 1);
    let reason = ready["reload"]["lastError"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("serve.yaml") && reason.contains("notAField"),
        "{reason}"
    );
    assert_eq!(f.decide()["decision"], "pass");

    // A server limit changed with a policy: the policy applies, the limit waits for a restart.
    f.write_config(0, "limits:\n  maxDecisionsInFlight: 7\n");
    f.write_policy("../keys/k2.pub");
    f.hup();
    let ready = f.wait_generation(2);
    assert_eq!(
        ready["reload"]["restartNeeded"],
        serde_json::json!(["limits"]),
        "{ready}"
    );
    assert!(ready["reload"].get("lastError").is_none(), "{ready}");
    assert_eq!(f.decide()["decision"], "fail");
}

#[test]
fn a_changed_key_file_is_never_answered_from_the_old_decision() {
    let f = Fixture::start("../keys/current.pub", 0);
    let sha = file_sha256(&policy_text(&f.host, "../keys/current.pub"));
    assert_eq!(f.decide()["decision"], "pass");
    let d = f.decide();
    assert_eq!(d["cached"], true, "a pass is cached for a minute: {d}");

    // The policy file's bytes (and so its hash) do not change; the key it names does.
    let k2 = std::fs::read_to_string(f.path("keys/k2.pub")).unwrap();
    write_atomically(&f.path("keys/current.pub"), &k2);
    f.hup();
    let ready = f.wait_generation(2);
    assert_eq!(ready["reload"]["policies"][0]["sha256"], sha.as_str());
    let d = f.decide();
    assert_eq!(policy_sha(&d), sha);
    assert_eq!(
        d["decision"], "fail",
        "decided with the new key, not served from the cache: {d}"
    );
    assert_eq!(d["cached"], false, "{d}");
}

#[test]
fn a_changed_key_file_is_watched() {
    let f = Fixture::start("../keys/current.pub", 1);
    assert_eq!(f.decide()["decision"], "pass");
    let k2 = std::fs::read_to_string(f.path("keys/k2.pub")).unwrap();
    write_atomically(&f.path("keys/current.pub"), &k2);
    f.wait_generation(2);
    assert_eq!(f.decide()["decision"], "fail");
}

/// The "done when": clients deciding in a loop while the policy is swapped back and
/// forth; every answer is a 200 decided wholly under one of the two policies.
#[test]
fn reload_under_load_fails_no_request() {
    const CLIENTS: usize = 16;
    const RELOADS: u64 = 24;
    let f = Fixture::start("../keys/k1.pub", 0);
    let sha_pass = file_sha256(&policy_text(&f.host, "../keys/k1.pub"));
    let sha_fail = file_sha256(&policy_text(&f.host, "../keys/k2.pub"));
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicUsize::new(0));
    let problems = Arc::new(Mutex::new(Vec::<String>::new()));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (stop, answered, problems) = (stop.clone(), answered.clone(), problems.clone());
            let (base, image) = (f.serve.base.clone(), f.image.clone());
            let (sha_pass, sha_fail) = (sha_pass.clone(), sha_fail.clone());
            std::thread::spawn(move || {
                let http = agent();
                while !stop.load(Ordering::Relaxed) {
                    let problem = match post_decision(&http, &base, &image) {
                        Err(e) => Some(format!("transport error: {e}")),
                        Ok((status, body)) if status != 200 => Some(format!("{status}: {body}")),
                        Ok((_, d)) => {
                            let sha = policy_sha(&d);
                            let consistent = (sha == sha_pass && d["decision"] == "pass")
                                || (sha == sha_fail && d["decision"] == "fail");
                            (!consistent).then(|| format!("mixed or unknown policy: {d}"))
                        }
                    };
                    answered.fetch_add(1, Ordering::Relaxed);
                    if let Some(p) = problem {
                        problems.lock().unwrap().push(p);
                    }
                }
            })
        })
        .collect();
    for generation in 2..=RELOADS + 1 {
        let key = if generation % 2 == 0 {
            "../keys/k2.pub"
        } else {
            "../keys/k1.pub"
        };
        f.write_policy(key);
        f.hup();
        f.wait_generation(generation);
    }
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().unwrap();
    }
    let problems = problems.lock().unwrap();
    assert!(
        problems.is_empty(),
        "{} problems, first: {:?}",
        problems.len(),
        problems.first()
    );
    let answered = answered.load(Ordering::Relaxed);
    eprintln!("{answered} decisions answered by {CLIENTS} clients through {RELOADS} reloads");
    assert!(answered >= CLIENTS, "the clients did not run");
    let metrics = f.metrics();
    assert!(
        metrics.contains(&format!(
            "shipgate_reloads_total{{result=\"success\"}} {RELOADS}"
        )),
        "{metrics}"
    );
    assert!(
        metrics.contains("shipgate_reloads_total{result=\"failure\"} 0"),
        "{metrics}"
    );
}

/// A decision request with a bearer token: the HTTP status.
fn post_with_token(f: &Fixture, token: &str) -> u16 {
    agent()
        .post(format!("{}/v1/decisions", f.serve.base))
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {token}"))
        .send(serde_json::json!({ "image": f.image }).to_string())
        .unwrap()
        .status()
        .as_u16()
}

fn tokens_section(name: &str, token: &str) -> String {
    let digest = sha256(token.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("auth:\n  tokens:\n    - name: {name}\n      sha256: \"{hex}\"\n")
}

#[test]
fn changed_tokens_apply_and_auth_the_process_started_without_can_go() {
    let f = Fixture::start("../keys/k1.pub", 0);
    f.write_config(0, &tokens_section("first", "token-one"));
    f.hup();
    f.wait_generation(2);
    assert_eq!(post_with_token(&f, "token-one"), 200);
    assert_eq!(post_with_token(&f, "token-two"), 401);

    f.write_config(0, &tokens_section("second", "token-two"));
    f.hup();
    f.wait_generation(3);
    assert_eq!(post_with_token(&f, "token-two"), 200);
    assert_eq!(post_with_token(&f, "token-one"), 401);

    // This process started without `auth`, on loopback: dropping it again is allowed.
    f.write_config(0, "");
    f.hup();
    let ready = f.wait_generation(4);
    assert!(ready["reload"].get("restartNeeded").is_none(), "{ready}");
    assert_eq!(f.decide()["decision"], "pass");
    let mut serve = f.serve;
    let logs = serve.stop_and_logs();
    assert!(
        !logs.contains("token-one") && !logs.contains("token-two"),
        "{logs}"
    );
}

#[test]
fn removing_auth_from_a_service_started_with_it_needs_a_restart() {
    let f = Fixture::start_with("../keys/k1.pub", 0, &tokens_section("ci", "token-one"));
    assert_eq!(post_with_token(&f, "token-one"), 200);
    f.write_config(0, "");
    let sha_k2 = f.write_policy("../keys/k2.pub");
    f.hup();
    let ready = f.wait_generation(2);
    assert_eq!(
        ready["reload"]["restartNeeded"],
        serde_json::json!(["auth (removed)"]),
        "{ready}"
    );
    // The policy applied; the token is still required.
    assert_eq!(ready["reload"]["policies"][0]["sha256"], sha_k2.as_str());
    let (status, _) = post_decision(&agent(), &f.serve.base, &f.image).unwrap();
    assert_eq!(status, 401);
    assert_eq!(post_with_token(&f, "token-one"), 200);
}

/// A named Sigstore trusted root (`trustRoots:`) is read again on reload: a policy naming it is
/// judged by the new file, a broken file keeps the previous set serving, and a policy naming a
/// root that is not configured is refused by the reload, not served.
#[test]
fn named_trusted_roots_reload_with_the_config() {
    use crate::common::private_sigstore::PrivateSigstore;

    let f = Fixture::start("../keys/k1.pub", 0);
    let (signer_instance, other_instance) = (PrivateSigstore::new(), PrivateSigstore::new());
    // `corp/app`, signed keyless through `signer_instance`.
    let img = push_image(&f._registry.url(), "corp/app", "v1");
    let reference = format!("{}/corp/app", f.host);
    let identity = "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main";
    let issuer = "https://token.actions.githubusercontent.com";
    let signed_at = time::OffsetDateTime::now_utc() - time::Duration::minutes(30);
    let signer = signer_instance.keyless_signer(identity, issuer, signed_at);
    let t = (signed_at + time::Duration::minutes(1)).unix_timestamp();
    attach_legacy_signature(
        &f._registry.url(),
        "corp/app",
        &img.digest,
        vec![signer_instance.keyless_legacy_layer(&signer, &reference, &img.digest, t, 3)],
    );
    let corp_image = format!("{reference}@{}", img.digest);
    let decide_corp = || {
        let (status, d) = post_decision(&agent(), &f.serve.base, &corp_image).unwrap();
        assert_eq!(status, 200, "{d}");
        d
    };
    let corp_policy = |root: &str| {
        format!(
            "name: corp\nimages: [\"{}/corp/**\"]\nsignatures:\n  authorities:\n    - name: ci\n      \
             trustRoot: {root}\n      keyless:\n        issuer: {issuer}\n        subject: {identity}\n",
            f.host
        )
    };
    std::fs::create_dir(f.path("roots")).unwrap();
    write_atomically(
        &f.path("roots/corp.json"),
        &other_instance.trusted_root_json(),
    );
    write_atomically(&f.path("policies/corp.yaml"), &corp_policy("corp"));
    f.write_config(0, "trustRoots:\n  corp: roots/corp.json\n");
    f.hup();
    f.wait_generation(2);
    let d = decide_corp();
    assert_eq!(d["decision"], "fail", "another instance's root: {d}");

    // The right root file, same policy bytes: judged by the new root, not answered from cache.
    write_atomically(
        &f.path("roots/corp.json"),
        &signer_instance.trusted_root_json(),
    );
    f.hup();
    f.wait_generation(3);
    let d = decide_corp();
    assert_eq!(d["decision"], "pass", "{d}");
    assert_eq!(d["cached"], false, "{d}");

    // A broken root file: the reload fails naming it, and the previous set keeps serving.
    write_atomically(&f.path("roots/corp.json"), "{not json");
    f.hup();
    let ready = f.wait_reload("a failed reload", |r| r["failures"] == 1);
    let reason = ready["reload"]["lastError"]["reason"].as_str().unwrap();
    assert!(reason.contains("trust root `corp`"), "{reason}");
    assert_eq!(decide_corp()["decision"], "pass");

    // A policy naming a root the config does not have is refused by the reload.
    write_atomically(
        &f.path("roots/corp.json"),
        &signer_instance.trusted_root_json(),
    );
    write_atomically(&f.path("policies/corp.yaml"), &corp_policy("ghes"));
    f.hup();
    let ready = f.wait_reload("a second failed reload", |r| r["failures"] == 2);
    let reason = ready["reload"]["lastError"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("trustRoot `ghes` is not configured"),
        "{reason}"
    );
    assert_eq!(decide_corp()["decision"], "pass");
}
