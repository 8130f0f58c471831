//! The real `shipgate serve` binary: no `auth` means loopback only; with `auth` it may listen
//! anywhere and refuses callers without a token.

use std::ffi::OsStr;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use shipgate_test_support::free_port;

use super::{token_hash, STATIC_TOKEN};
use crate::common::serve::ServeProcess;

/// Runs `shipgate serve` with these arguments until it exits or `limit` passes.
fn serve_exit(args: &[&str], limit: Duration) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_shipgate"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("serve")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start shipgate serve");
    let deadline = Instant::now() + limit;
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    (code, stderr)
}

#[test]
fn serve_refuses_a_non_loopback_address_without_auth() {
    for listen in [
        format!("0.0.0.0:{}", free_port()),
        format!("[::]:{}", free_port()),
    ] {
        let (code, stderr) = serve_exit(&["--listen", &listen], Duration::from_secs(20));
        assert_eq!(code, Some(2), "{listen}: {stderr}");
        assert!(
            stderr.contains("without caller authentication: configure `auth`"),
            "{listen}: {stderr}"
        );
    }
}

#[test]
fn serve_with_a_static_token_listens_on_any_address() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yaml");
    let policies = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    std::fs::write(
        &config,
        format!(
            "policies: [{}]\nauth:\n  tokens:\n    - name: pipeline\n      sha256: \"{}\"\n",
            policies.display(),
            token_hash(STATIC_TOKEN)
        ),
    )
    .unwrap();
    let port = free_port();
    let listen = format!("0.0.0.0:{port}");
    let mut serve = ServeProcess::start(
        [
            OsStr::new("--listen"),
            OsStr::new(&listen),
            OsStr::new("--config"),
            config.as_os_str(),
        ],
        port,
    );
    let base = serve.base.clone();
    let http = crate::common::oci::agent();
    let post = |token: Option<&str>| {
        let mut request = http
            .post(format!("{base}/v1/decisions"))
            .header("content-type", "application/json");
        if let Some(t) = token {
            request = request.header("authorization", &format!("Bearer {t}"));
        }
        let mut response = request
            .send(r#"{"image":"docker.io/library/alpine:3"}"#)
            .unwrap();
        (
            response.status().as_u16(),
            response.body_mut().read_to_string().unwrap(),
        )
    };
    let (status, body) = post(None);
    assert_eq!(status, 401, "{body}");
    let (status, body) = post(Some("sg-wrong"));
    assert_eq!(status, 401, "{body}");
    let (status, body) = post(Some(STATIC_TOKEN));
    assert_eq!(status, 200, "{body}");
    let logs = serve.stop_and_logs();
    assert!(logs.contains("static tokens [pipeline]"), "{logs}");
    assert!(logs.contains("caller refused"), "{logs}");
    assert!(
        logs.contains("token:pipeline"),
        "the audit line names the caller: {logs}"
    );
    assert!(
        !logs.contains(STATIC_TOKEN),
        "a log line holds the token: {logs}"
    );
    assert!(
        !logs.contains("sg-wrong"),
        "a log line holds the token: {logs}"
    );
}
