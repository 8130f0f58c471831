//! The real `shipgate serve` process: starts on the repository's example policies with no
//! configuration, answers over real HTTP, logs JSON when not on a terminal, and stops cleanly
//! on SIGTERM.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::oci::agent;
use crate::common::registry::free_port;

#[test]
fn serves_the_example_policies_and_stops_on_sigterm() {
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_shipgate"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start shipgate serve");
    let http = agent();
    let deadline = Instant::now() + Duration::from_secs(20);
    while http.get(format!("{base}/healthz")).call().is_err() {
        assert!(Instant::now() < deadline, "serve did not come up");
        assert!(child.try_wait().unwrap().is_none(), "serve exited early");
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut ready = http.get(format!("{base}/readyz")).call().unwrap();
    assert_eq!(ready.status(), 200);
    let body: serde_json::Value =
        serde_json::from_str(&ready.body_mut().read_to_string().unwrap()).unwrap();
    assert_eq!(
        body["policies"], 2,
        "policies/ holds two example policies: {body}"
    );

    // Unmatched: decided without touching any registry.
    let mut resp = http
        .post(format!("{base}/v1/decisions"))
        .header("content-type", "application/json")
        .send(r#"{"image":"docker.io/library/alpine:3"}"#)
        .unwrap();
    assert_eq!(resp.status(), 200);
    let d: serde_json::Value =
        serde_json::from_str(&resp.body_mut().read_to_string().unwrap()).unwrap();
    assert_eq!(d["decision"], "fail");
    assert_eq!(d["checks"][0]["check"], "policy-match");

    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "serve ignored SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "exit after SIGTERM: {status}");
    let mut logs = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut logs)
        .unwrap();
    let first: serde_json::Value = serde_json::from_str(logs.lines().next().expect("a log line"))
        .unwrap_or_else(|e| panic!("log is not JSON ({e}): {logs}"));
    assert_eq!(
        first["fields"]["message"], "shipgate serving POST /v1/decisions",
        "{logs}"
    );
    assert!(
        logs.contains("no `auth` configured: serving unauthenticated, on loopback only"),
        "{logs}"
    );
    assert!(logs.contains("shutdown signal received"), "{logs}");
}
