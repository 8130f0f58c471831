//! A read-only registry that replays a registry dump (the connaisseur test data: real cosign
//! signature manifests and payload blobs made by real cosign), so the gate can be tested against
//! signatures nobody on this project produced.
//!
//! Serves, on a free loopback port, from an axum app on its own tokio runtime and thread:
//! - `GET /v2/` → 200;
//! - `GET`/`HEAD /v2/<name>/manifests/<ref>` from `manifests/<ref>.json`, by tag (the file name,
//!   e.g. `sha256-<hex>.sig`) or by digest (the sha256 of a manifest file), with
//!   `Docker-Content-Digest` and the manifest's `mediaType` as `Content-Type`;
//! - `GET`/`HEAD /v2/<name>/blobs/<digest>` from `blobs/<digest>.json`;
//! - 404 with a Distribution-style `{"errors":[…]}` body otherwise (no referrers API, like
//!   distribution 2.8), 405 for writes.
//!
//! Only the one repository `name` given at start is served. The server stops when dropped.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderValue, Method, Request, Response, StatusCode};
use shipgate::reference::Digest;

/// The test vectors in the repository (`tests/data/vectors`; `SHIPGATE_TEST_VECTORS` overrides).
pub fn vectors_dir() -> PathBuf {
    std::env::var_os("SHIPGATE_TEST_VECTORS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/vectors"))
        })
}

/// The connaisseur registry dump of `securesystemsengineering/testimage`.
pub fn connaisseur_dump_dir() -> PathBuf {
    vectors_dir().join("connaisseur/test-testdata-cosign/securesystemsengineering/testimage")
}

/// The repository name the connaisseur dump was taken from.
pub const CONNAISSEUR_REPO: &str = "securesystemsengineering/testimage";

/// One manifest of the dump.
#[derive(Debug, Clone)]
pub struct DumpManifest {
    pub bytes: Vec<u8>,
    pub digest: Digest,
    pub media_type: String,
}

#[derive(Default)]
struct Dump {
    repo: String,
    by_tag: HashMap<String, DumpManifest>,
    by_digest: HashMap<String, DumpManifest>,
    blobs: HashMap<String, Vec<u8>>,
    requests: Mutex<Vec<String>>,
}

/// Reads a dump directory (`manifests/<ref>.json`, `blobs/<digest>.json`).
fn load(dir: &Path, repo: &str) -> Dump {
    let mut dump = Dump {
        repo: repo.to_string(),
        ..Dump::default()
    };
    let read_dir = |sub: &str| -> Vec<(String, Vec<u8>)> {
        let mut out = Vec::new();
        let d = dir.join(sub);
        for entry in
            std::fs::read_dir(&d).unwrap_or_else(|e| panic!("reading {}: {e}", d.display()))
        {
            let path = entry.expect("dir entry").path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if let Some(stem) = name.strip_suffix(".json") {
                let bytes = std::fs::read(&path).expect("read dump file");
                out.push((stem.to_string(), bytes));
            }
        }
        out
    };
    for (stem, bytes) in read_dir("manifests") {
        let media_type = serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| v.get("mediaType")?.as_str().map(str::to_string))
            .unwrap_or_else(|| super::oci::OCI_MANIFEST.to_string());
        let m = DumpManifest {
            digest: Digest::of(&bytes),
            bytes,
            media_type,
        };
        dump.by_digest.insert(m.digest.to_string(), m.clone());
        dump.by_tag.insert(stem, m);
    }
    for (stem, bytes) in read_dir("blobs") {
        dump.blobs.insert(stem, bytes);
    }
    dump
}

/// The manifests of a dump by file name (without `.json`), for tests that want to compare.
pub fn dump_manifests(dir: &Path) -> HashMap<String, DumpManifest> {
    load(dir, "").by_tag
}

/// A running replay registry; stops when dropped.
pub struct ReplayRegistry {
    /// `127.0.0.1:PORT`
    pub host: String,
    /// The repository served, e.g. `securesystemsengineering/testimage`.
    pub repo: String,
    dump: Arc<Dump>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl ReplayRegistry {
    /// Serves the dump at `dir` as repository `repo`.
    pub fn start(dir: &Path, repo: &str) -> ReplayRegistry {
        let dump = Arc::new(load(dir, repo));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind replay registry");
        listener.set_nonblocking(true).expect("nonblocking");
        let host = listener.local_addr().expect("addr").to_string();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let state = dump.clone();
        let thread = std::thread::Builder::new()
            .name("replay-registry".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("tokio runtime");
                rt.block_on(async move {
                    let listener =
                        tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                    let app = axum::Router::new().fallback(handle).with_state(state);
                    tokio::select! {
                        r = axum::serve(listener, app) => r.expect("replay server"),
                        _ = stopped => {}
                    }
                });
            })
            .expect("spawn replay thread");
        ReplayRegistry {
            host,
            repo: repo.to_string(),
            dump,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// The connaisseur dump, served as `securesystemsengineering/testimage`.
    pub fn connaisseur() -> ReplayRegistry {
        Self::start(&connaisseur_dump_dir(), CONNAISSEUR_REPO)
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.host)
    }

    /// The manifest served under a tag (dump file name without `.json`).
    pub fn manifest(&self, tag: &str) -> Option<&DumpManifest> {
        self.dump.by_tag.get(tag)
    }

    /// Every request served so far, as `METHOD /path`.
    pub fn requests(&self) -> Vec<String> {
        self.dump.requests.lock().expect("lock").clone()
    }
}

impl Drop for ReplayRegistry {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn error(status: StatusCode, code: &str, message: &str, detail: &str) -> Response<Body> {
    let body =
        serde_json::json!({"errors": [{"code": code, "message": message, "detail": detail}]});
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
        .header("Docker-Distribution-API-Version", "registry/2.0")
        .body(Body::from(body.to_string()))
        .expect("response")
}

fn content(bytes: &[u8], media_type: &str, digest: &str, head: bool) -> Response<Body> {
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, media_type)
        .header(header::CONTENT_LENGTH, bytes.len())
        .header("Docker-Content-Digest", digest)
        .header(
            header::ETAG,
            HeaderValue::from_str(&format!("\"{digest}\"")).expect("etag"),
        )
        .header("Docker-Distribution-API-Version", "registry/2.0")
        .body(if head {
            Body::empty()
        } else {
            Body::from(bytes.to_vec())
        })
        .expect("response")
}

async fn handle(State(dump): State<Arc<Dump>>, req: Request<Body>) -> Response<Body> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    dump.requests
        .lock()
        .expect("lock")
        .push(format!("{method} {path}"));
    let head = method == Method::HEAD;
    if method != Method::GET && !head {
        return error(
            StatusCode::METHOD_NOT_ALLOWED,
            "UNSUPPORTED",
            "the replay registry is read-only",
            &path,
        );
    }
    if path == "/v2/" || path == "/v2" {
        return Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
            .header("Docker-Distribution-API-Version", "registry/2.0")
            .body(Body::from("{}"))
            .expect("response");
    }
    let Some(rest) = path.strip_prefix("/v2/") else {
        return error(StatusCode::NOT_FOUND, "NOT_FOUND", "not found", &path);
    };
    if let Some(i) = rest.rfind("/manifests/") {
        let (name, reference) = (&rest[..i], &rest[i + "/manifests/".len()..]);
        if name != dump.repo {
            return error(
                StatusCode::NOT_FOUND,
                "NAME_UNKNOWN",
                "repository name not known to registry",
                name,
            );
        }
        let found = if reference.starts_with("sha256:") {
            dump.by_digest.get(reference)
        } else {
            dump.by_tag.get(reference)
        };
        return match found {
            Some(m) => content(&m.bytes, &m.media_type, m.digest.as_str(), head),
            None => error(
                StatusCode::NOT_FOUND,
                "MANIFEST_UNKNOWN",
                "manifest unknown",
                reference,
            ),
        };
    }
    if let Some(i) = rest.rfind("/blobs/") {
        let (name, digest) = (&rest[..i], &rest[i + "/blobs/".len()..]);
        if name != dump.repo {
            return error(
                StatusCode::NOT_FOUND,
                "NAME_UNKNOWN",
                "repository name not known to registry",
                name,
            );
        }
        return match dump.blobs.get(digest) {
            Some(b) => content(b, "application/octet-stream", digest, head),
            None => error(
                StatusCode::NOT_FOUND,
                "BLOB_UNKNOWN",
                "blob unknown to registry",
                digest,
            ),
        };
    }
    error(StatusCode::NOT_FOUND, "NOT_FOUND", "not found", &path)
}
