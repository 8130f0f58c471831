//! The real `shipgate serve` process: starts on the repository's example policies with no
//! configuration, answers over real HTTP, logs JSON when not on a terminal, and stops cleanly
//! on SIGTERM.

use std::process::Command;
use std::time::Duration;

use crate::common::oci::agent;
use crate::common::registry::free_port;
use crate::common::serve::ServeProcess;

#[test]
fn serves_the_example_policies_and_stops_on_sigterm() {
    let port = free_port();
    let mut serve = ServeProcess::start(["--listen", &format!("127.0.0.1:{port}")], port);
    let base = serve.base.clone();
    let http = agent();
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

    let pid = serve.pid().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let status = serve
        .wait_for_exit(Duration::from_secs(10))
        .expect("serve ignored SIGTERM");
    assert!(status.success(), "exit after SIGTERM: {status}");
    let logs = serve.stop_and_logs();
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
