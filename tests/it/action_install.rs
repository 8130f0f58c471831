//! `github-action/install.sh`, the composite action's installer, run by bash as the runner
//! would: a release archive is accepted only with the sha256 the action carries, fetched once
//! and then taken from the cache, and every other case stops the step (exit 2) with a reason.
//! GitHub's release downloads have no local stand-in, so a loopback axum server serves the
//! archive (`SHIPGATE_RELEASE_BASE_URL`); it counts the downloads.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use sha2::{Digest as _, Sha256};

const VERSION: &str = "1.2.3";

/// The platform's archive name, as the release workflow writes it.
fn archive_name() -> String {
    let target = match std::env::consts::ARCH {
        "aarch64" => "aarch64-unknown-linux-musl",
        _ => "x86_64-unknown-linux-musl",
    };
    format!("shipgate-v{VERSION}-{target}.tar.gz")
}

/// A `.tar.gz` holding one executable `shipgate` that prints `marker`.
fn release_archive(dir: &Path, marker: &str) -> Vec<u8> {
    let stage = dir.join("stage");
    std::fs::create_dir_all(&stage).unwrap();
    std::fs::write(
        stage.join("shipgate"),
        format!("#!/bin/sh\necho {marker}\n"),
    )
    .unwrap();
    let out = dir.join("a.tar.gz");
    let ok = Command::new("tar")
        .args([
            "-czf",
            out.to_str().unwrap(),
            "-C",
            stage.to_str().unwrap(),
            "shipgate",
        ])
        .status()
        .unwrap()
        .success();
    assert!(ok);
    std::fs::read(out).unwrap()
}

/// A copy of `github-action/` whose checksums.txt and release.env say what the test wants.
fn action_copy(dir: &Path, checksums: &str, pinned: &str) -> PathBuf {
    let action = dir.join("github-action");
    std::fs::create_dir_all(&action).unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("github-action/install.sh");
    std::fs::copy(src, action.join("install.sh")).unwrap();
    std::fs::write(action.join("checksums.txt"), checksums).unwrap();
    std::fs::write(action.join("release.env"), format!("version={pinned}\n")).unwrap();
    action
}

struct Release {
    base: String,
    downloads: Arc<AtomicUsize>,
    _rt: tokio::runtime::Runtime,
}

fn serve_release(body: Vec<u8>) -> Release {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let downloads = Arc::new(AtomicUsize::new(0));
    let path = format!("/v{VERSION}/{}", archive_name());
    let app = Router::new()
        .route(
            &path,
            get(
                |State((n, body)): State<(Arc<AtomicUsize>, Arc<Vec<u8>>)>| async move {
                    n.fetch_add(1, Ordering::SeqCst);
                    (StatusCode::OK, body.as_ref().clone())
                },
            ),
        )
        .with_state((downloads.clone(), Arc::new(body)));
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(async move { axum::serve(listener, app).await });
    Release {
        base: format!("http://{addr}"),
        downloads,
        _rt: rt,
    }
}

fn install(action: &Path, env: &[(&str, &str)], scratch: &Path) -> Output {
    Command::new("bash")
        .arg(action.join("install.sh"))
        .env("RUNNER_TEMP", scratch.join("runner-temp"))
        .env("SHIPGATE_CACHE_DIR", scratch.join("cache"))
        .env_remove("SHIPGATE_VERSION")
        .env_remove("SHIPGATE_INSTALL")
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn a_release_is_installed_only_with_the_checksum_the_action_carries() {
    if !cfg!(target_os = "linux") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let archive = release_archive(dir.path(), "the-real-release");
    let sha = hex::encode(Sha256::digest(&archive));
    let release = serve_release(archive);
    let checksums = format!("# comment\n{sha}  {}\n", archive_name());
    let action = action_copy(dir.path(), &checksums, VERSION);
    let env = [("SHIPGATE_RELEASE_BASE_URL", release.base.as_str())];

    // auto + a pinned version with a checksum: the release, verified, installed.
    let out = install(&action, &env, dir.path());
    assert!(out.status.success(), "{}", stderr(&out));
    let bin = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let ran = Command::new(&bin).output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&ran.stdout).trim(),
        "the-real-release"
    );
    assert_eq!(release.downloads.load(Ordering::SeqCst), 1);

    // A second job with the cache restored: no download.
    std::fs::remove_dir_all(dir.path().join("runner-temp")).unwrap();
    let out = install(&action, &env, dir.path());
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(release.downloads.load(Ordering::SeqCst), 1);
}

#[test]
fn a_tampered_archive_or_an_unlisted_version_stops_the_step() {
    if !cfg!(target_os = "linux") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let served = release_archive(dir.path(), "tampered");
    let release = serve_release(served);
    let base = release.base.as_str();
    // The action expects another archive's hash.
    let other = hex::encode(Sha256::digest(b"the archive the release process signed"));
    let action = action_copy(
        dir.path(),
        &format!("{other}  {}\n", archive_name()),
        VERSION,
    );
    let out = install(
        &action,
        &[
            ("SHIPGATE_RELEASE_BASE_URL", base),
            ("SHIPGATE_INSTALL", "release"),
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("refusing it"), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    assert!(
        std::fs::read_dir(dir.path().join("cache"))
            .unwrap()
            .next()
            .is_none(),
        "a rejected download was kept"
    );

    // A version this action carries no checksum for.
    let out = install(
        &action,
        &[
            ("SHIPGATE_RELEASE_BASE_URL", base),
            ("SHIPGATE_INSTALL", "release"),
            ("SHIPGATE_VERSION", "9.9.9"),
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("carries no sha256"),
        "{}",
        stderr(&out)
    );

    // Malformed inputs and a plain-http mirror that is not loopback.
    for (env, needle) in [
        (
            vec![("SHIPGATE_VERSION", "1.2.3; rm -rf /")],
            "version must be X.Y.Z",
        ),
        (vec![("SHIPGATE_INSTALL", "curl|sh")], "install must be"),
        // auto with an explicit version the action lists no checksum for: never a source
        // build of another version instead.
        (vec![("SHIPGATE_VERSION", "9.9.9")], "carries no sha256"),
        (
            vec![
                ("SHIPGATE_INSTALL", "release"),
                ("SHIPGATE_RELEASE_BASE_URL", "http://example.com/releases"),
            ],
            "must be https",
        ),
    ] {
        let out = install(&action, &env, dir.path());
        assert_eq!(out.status.code(), Some(2), "{env:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(needle), "{env:?}: {}", stderr(&out));
    }
    assert_eq!(
        release.downloads.load(Ordering::SeqCst),
        1,
        "only the tampered case downloads"
    );
}

#[test]
fn without_a_pinned_release_auto_builds_from_source_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let action = action_copy(dir.path(), "# empty\n", "");
    // PATH without cargo: the source build is chosen, then refused for want of a toolchain,
    // which shows the choice without compiling anything here.
    let out = install(&action, &[("PATH", "/usr/bin:/bin")], dir.path());
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("carries no release checksum"), "{err}");
    assert!(err.contains("needs a Rust toolchain"), "{err}");
}
