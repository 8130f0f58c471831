//! The sigstore-conformance verification corpus (`assets/bundle-verify/`), run exactly as the
//! suite's own runner runs a client: for each case directory, `shipgate verify-bundle` twice —
//! once with the artifact's path, once with `sha256:<hex of the artifact>` — and a case whose
//! name ends in `_fail` must exit non-zero, every other case must exit 0.
//!
//! Per directory (see the corpus README): `bundle.sigstore.json`; `artifact` (default `../a.txt`);
//! `key.pub` (then `--key`, else keyless with `identity` / `issuer`, whose defaults are the
//! suite's beacon workflow and the GitHub Actions issuer); `trusted_root.json` (else the
//! embedded public-good root, i.e. no `--trusted-root`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use sha2::Digest as _;

use crate::common::replay::vectors_dir;

const DEFAULT_IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const DEFAULT_ISSUER: &str = "https://token.actions.githubusercontent.com";

/// How many case directories the corpus holds at the pinned commit.
const EXPECTED_CASES: usize = 70;

/// One run of the binary.
#[derive(Debug)]
struct Run {
    case: String,
    mode: &'static str,
    should_pass: bool,
    code: Option<i32>,
    stderr: String,
}

impl Run {
    fn right(&self) -> bool {
        match self.code {
            Some(0) => self.should_pass,
            // Killed by a signal is never right: the suite wants an orderly exit.
            None => false,
            Some(_) => !self.should_pass,
        }
    }
}

fn corpus_dir() -> PathBuf {
    vectors_dir().join("sigstore-conformance/assets/bundle-verify")
}

/// The case directories, sorted by name.
fn case_dirs() -> Vec<PathBuf> {
    let dir = corpus_dir();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

/// A case's optional text file, trimmed as the runner reads it (`read_text().strip()`).
fn text(dir: &Path, name: &str) -> Option<String> {
    let path = dir.join(name);
    path.exists().then(|| {
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .trim()
            .to_string()
    })
}

/// The arguments before the artifact, as the runner builds them for this case.
fn base_args(dir: &Path) -> Vec<String> {
    let mut args = vec![
        "verify-bundle".to_string(),
        "--bundle".to_string(),
        dir.join("bundle.sigstore.json").display().to_string(),
    ];
    let key = dir.join("key.pub");
    if key.exists() {
        args.push("--key".into());
        args.push(key.display().to_string());
    } else {
        args.push("--certificate-identity".into());
        args.push(text(dir, "identity").unwrap_or_else(|| DEFAULT_IDENTITY.into()));
        args.push("--certificate-oidc-issuer".into());
        args.push(text(dir, "issuer").unwrap_or_else(|| DEFAULT_ISSUER.into()));
    }
    let root = dir.join("trusted_root.json");
    if root.exists() {
        args.push("--trusted-root".into());
        args.push(root.display().to_string());
    }
    args
}

fn artifact_path(dir: &Path) -> PathBuf {
    let own = dir.join("artifact");
    if own.exists() {
        own
    } else {
        dir.join("../a.txt")
    }
}

fn sha256_of(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(&bytes)))
}

fn run(case: &str, mode: &'static str, should_pass: bool, args: &[String]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_shipgate"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("run shipgate verify-bundle");
    let stderr = String::from_utf8_lossy(&out.stderr);
    Run {
        case: case.to_string(),
        mode,
        should_pass,
        code: out.status.code(),
        stderr: stderr.lines().last().unwrap_or("").trim().to_string(),
    }
}

/// The two runs of one case directory.
fn runs_for(dir: &Path) -> Vec<Run> {
    let name = dir.file_name().unwrap().to_string_lossy().to_string();
    let should_pass = !name.ends_with("_fail");
    let artifact = artifact_path(dir);
    let mut by_path = base_args(dir);
    by_path.push(artifact.display().to_string());
    let mut by_digest = base_args(dir);
    by_digest.push(sha256_of(&artifact));
    vec![
        run(&name, "path", should_pass, &by_path),
        run(&name, "digest", should_pass, &by_digest),
    ]
}

#[test]
fn sigstore_conformance_bundle_verify_suite() {
    let dirs = case_dirs();
    assert_eq!(
        dirs.len(),
        EXPECTED_CASES,
        "the conformance corpus changed: {} case directories under {}",
        dirs.len(),
        corpus_dir().display()
    );

    // Every case in parallel (a handful of threads pulling from a shared index).
    let next = AtomicUsize::new(0);
    let results = Mutex::new(Vec::new());
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(4)
        .min(8);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(dir) = dirs.get(i) else { break };
                let runs = runs_for(dir);
                results.lock().unwrap().extend(runs);
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by(|a, b| (&a.case, a.mode).cmp(&(&b.case, b.mode)));
    assert_eq!(results.len(), 2 * EXPECTED_CASES);

    let wrong: Vec<&Run> = results.iter().filter(|r| !r.right()).collect();
    let right = results.len() - wrong.len();
    eprintln!(
        "sigstore-conformance: {right} of {} runs right",
        results.len()
    );
    if !wrong.is_empty() {
        let list: Vec<String> = wrong
            .iter()
            .map(|r| {
                format!(
                    "  {} [{}]: expected {}, exit {} — {}",
                    r.case,
                    r.mode,
                    if r.should_pass { "PASS" } else { "FAIL" },
                    r.code.map_or_else(|| "signal".into(), |c| c.to_string()),
                    if r.stderr.is_empty() {
                        "(no stderr)"
                    } else {
                        &r.stderr
                    }
                )
            })
            .collect();
        panic!(
            "{} of {} sigstore-conformance runs wrong:\n{}",
            wrong.len(),
            results.len(),
            list.join("\n")
        );
    }
}
