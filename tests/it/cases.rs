//! Every bundle case of `tests/data/vectors/cases.json` (bundles collected from sigstore-go,
//! sigstore-rs, cosign, the GitHub CLI and slsa-verifier) through the real
//! `shipgate verify-bundle`, with its expected result. The sigstore-conformance cases are left to
//! `conformance.rs`, which runs them the way that suite's runner does; legacy image signatures
//! and attestations (registry dumps) are covered by `vectors.rs` through the whole gate.
//!
//! How a case becomes a command line (the choices are in `docs/verification-choices.md`):
//! - `--bundle`: the case's file; for a `.jsonl` file, or a `selector` `JSONL line N`, line N
//!   (default 0) is written to a temporary file first.
//! - `--key K` (several keys `a|b`: one run per key; the case passes if any key verifies, and
//!   fails only if every key is refused), else `--certificate-identity` and
//!   `--certificate-oidc-issuer`.
//! - `--trusted-root`: the case's `trusted_root`.
//! - The artifact: its path; else the case's `digest`; else, for a DSSE bundle, the first subject
//!   of the in-toto statement (its `sha256` if it has one) — this only tests the signature chain,
//!   not the binding to an artifact, since the digest comes from the signed statement itself;
//!   a DSSE payload that is not an in-toto statement: the SHA-256 of the payload; a message
//!   signature bundle: its `messageDigest`.
//! - Expected `PASS` means exit 0; `FAIL` means exit 1 exactly ("not verified"), since exit 2
//!   ("unusable arguments") would mean this harness built a bad command line and proves nothing.
//!   `CLIENT-DEPENDENT` cases and the cases whose expectation the CLI cannot express take the
//!   result in [`CHOICES`].

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use base64::Engine as _;
use serde_json::Value;
use sha2::Digest as _;

use crate::common::replay::vectors_dir;

/// The kinds this harness runs.
const KINDS: &[&str] = &[
    "bundle",
    "bundle-jsonl",
    "key",
    "key-validity",
    "tsa",
    "policy",
    "trust-root",
    "malformed",
    "npm-attestation",
    "cosign-v3-image-sig",
    "cosign-v3-image-attestation",
    "bundle-github-instance",
    "legacy-converted",
];

/// How many cases of those kinds `cases.json` holds outside sigstore-conformance.
const EXPECTED_CASES: usize = 27;

/// Our own result where upstream clients disagree (`CLIENT-DEPENDENT`) or where the upstream
/// expectation depends on an input `verify-bundle` cannot take. Each entry has a paragraph in
/// `docs/verification-choices.md`.
const CHOICES: &[(&str, Expect, &str)] = &[(
    "gh/sigstore-js-2.1.0-bundle-v0.1",
    Expect::Pass,
    "a v0.1 bundle of the same attestation: cryptographically valid (sigstore-js passes it); \
         `gh` refuses v0.1 by policy, shipgate accepts v0.1, v0.2 and v0.3",
)];

/// Key validity windows that upstream tests give a managed key in code, not in data.
/// sigstore-go's `public-key-validity` test: valid from the epoch for one second, so its RFC 3161
/// time lies outside and the case must FAIL.
const KEY_WINDOWS: &[(&str, &str, &str)] = &[(
    "go/public-key-validity",
    "1970-01-01T00:00:00Z",
    "1970-01-01T00:00:01Z",
)];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Pass,
    Fail,
}

impl std::fmt::Display for Expect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Expect::Pass => "PASS",
            Expect::Fail => "FAIL",
        })
    }
}

/// The outcome of one case (one run per key when it names several).
#[derive(Debug)]
struct Outcome {
    id: String,
    upstream: String,
    expect: Expect,
    /// (key label or "", exit code, last stderr line) per run.
    runs: Vec<(String, Option<i32>, String)>,
}

impl Outcome {
    fn right(&self) -> bool {
        match self.expect {
            Expect::Pass => self.runs.iter().any(|(_, code, _)| *code == Some(0)),
            Expect::Fail => self.runs.iter().all(|(_, code, _)| *code == Some(1)),
        }
    }
}

fn all_cases() -> Vec<Value> {
    let path = vectors_dir().join("cases.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let all: Vec<Value> = serde_json::from_str(&text).expect("cases.json is JSON");
    all.into_iter()
        .filter(|c| c["src"] != "sigstore-conformance")
        .filter(|c| KINDS.contains(&c["kind"].as_str().unwrap_or_default()))
        .collect()
}

fn expectation(case: &Value) -> Expect {
    let id = case["id"].as_str().unwrap_or_default();
    if let Some((_, e, _)) = CHOICES.iter().find(|(cid, _, _)| *cid == id) {
        return *e;
    }
    match case["expected"].as_str() {
        Some("PASS") => Expect::Pass,
        Some("FAIL") => Expect::Fail,
        other => panic!(
            "case `{id}` expects {other:?} and has no entry in CHOICES: decide, and document it \
             in docs/verification-choices.md"
        ),
    }
}

fn str_field<'a>(case: &'a Value, name: &str) -> Option<&'a str> {
    case[name].as_str().filter(|s| !s.is_empty())
}

/// Line `n` of a JSONL file (blank lines skipped).
fn jsonl_line(text: &str, n: usize) -> Option<String> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .nth(n)
        .map(str::to_string)
}

/// The bundle as one JSON document: `(bytes, path to give --bundle)`.
fn bundle_for(case: &Value, tmp: &Path) -> (Vec<u8>, PathBuf) {
    let rel = str_field(case, "bundle").expect("case has a bundle");
    let path = vectors_dir().join(rel);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let line = match str_field(case, "selector") {
        Some(sel) => {
            let n = sel
                .strip_prefix("JSONL line ")
                .and_then(|n| n.trim().parse::<usize>().ok())
                .unwrap_or_else(|| panic!("unknown selector `{sel}`: teach cases.rs"));
            Some(n)
        }
        None if rel.ends_with(".jsonl") => Some(0),
        None => None,
    };
    match line {
        None => (bytes, path),
        Some(n) => {
            let text = String::from_utf8(bytes).expect("a JSONL file is UTF-8");
            let line = jsonl_line(&text, n)
                .unwrap_or_else(|| panic!("{}: no JSONL line {n}", path.display()));
            let out = tmp.join("bundle.json");
            std::fs::write(&out, &line).expect("write extracted bundle");
            (line.into_bytes(), out)
        }
    }
}

/// What to verify against when the case gives no artifact and no digest (see the module doc).
fn digest_from_bundle(bundle: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD;
    let json: Value = serde_json::from_slice(bundle).unwrap_or(Value::Null);
    if let Some(payload) = json["dsseEnvelope"]["payload"].as_str() {
        let payload = b64.decode(payload).unwrap_or_default();
        if let Ok(statement) = serde_json::from_slice::<Value>(&payload) {
            if let Some(digests) = statement["subject"][0]["digest"].as_object() {
                // The sha256 of the first subject, else its first digest as `alg:hex`.
                if let Some(h) = digests.get("sha256").and_then(Value::as_str) {
                    return format!("sha256:{h}");
                }
                if let Some((alg, h)) = digests.iter().next() {
                    return format!("{alg}:{}", h.as_str().unwrap_or_default());
                }
            }
        }
        // Not an in-toto statement: the payload itself is what was signed.
        return format!("sha256:{}", hex::encode(sha2::Sha256::digest(&payload)));
    }
    let md = &json["messageSignature"]["messageDigest"];
    if md["algorithm"] == "SHA2_256" {
        if let Some(d) = md["digest"].as_str().and_then(|d| b64.decode(d).ok()) {
            return format!("sha256:{}", hex::encode(d));
        }
    }
    // Nothing names content: any digest will do, the case can only fail.
    format!("sha256:{}", "0".repeat(64))
}

/// A key named by a bare name (`alice`) is looked up beside the case's files.
fn key_path(case: &Value, name: &str) -> PathBuf {
    if name.contains('/') {
        return vectors_dir().join(name);
    }
    let anchor = str_field(case, "bundle")
        .or_else(|| str_field(case, "layout"))
        .map(|p| vectors_dir().join(p))
        .unwrap_or_else(vectors_dir);
    for dir in anchor.ancestors().skip(1) {
        for candidate in [
            name.to_string(),
            format!("{name}.pub"),
            format!("{name}.key"),
        ] {
            let p = dir.join(&candidate);
            if p.is_file() {
                return p;
            }
        }
        if dir == vectors_dir() {
            break;
        }
    }
    panic!("key `{name}` of case `{}` not found", case["id"]);
}

fn run_case(case: &Value) -> Outcome {
    let id = case["id"].as_str().unwrap_or_default().to_string();
    let tmp = tempfile::tempdir().expect("temp dir");
    let (bundle_bytes, bundle_path) = bundle_for(case, tmp.path());

    let artifact = match (str_field(case, "artifact"), str_field(case, "digest")) {
        (Some(a), _) => vectors_dir().join(a).display().to_string(),
        (None, Some(d)) => d.to_string(),
        (None, None) => digest_from_bundle(&bundle_bytes),
    };

    let mut base = vec![
        "verify-bundle".to_string(),
        "--bundle".to_string(),
        bundle_path.display().to_string(),
    ];
    if let Some(root) = str_field(case, "trusted_root") {
        base.push("--trusted-root".into());
        base.push(vectors_dir().join(root).display().to_string());
    }

    let mut variants: Vec<(String, Vec<String>)> = Vec::new();
    if let Some(keys) = str_field(case, "key") {
        for name in keys.split('|') {
            let path = key_path(case, name);
            let mut args = vec!["--key".into(), path.display().to_string()];
            if let Some(window) = KEY_WINDOWS.iter().find(|(id, _, _)| case["id"] == *id) {
                // The window upstream's test code gives the key, given the same way here.
                args.extend(["--key-valid-from".into(), window.1.into()]);
                args.extend(["--key-valid-until".into(), window.2.into()]);
            }
            variants.push((name.to_string(), args));
        }
    } else {
        let identity = str_field(case, "identity").expect("keyless case has an identity");
        let issuer = str_field(case, "issuer").expect("keyless case has an issuer");
        variants.push((
            String::new(),
            vec![
                "--certificate-identity".into(),
                identity.into(),
                "--certificate-oidc-issuer".into(),
                issuer.into(),
            ],
        ));
    }

    let runs = variants
        .into_iter()
        .map(|(label, auth)| {
            let out = Command::new(env!("CARGO_BIN_EXE_shipgate"))
                .args(&base)
                .args(&auth)
                .arg(&artifact)
                .env_remove("RUST_LOG")
                .output()
                .expect("run shipgate verify-bundle");
            let stderr = String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
                .trim()
                .to_string();
            (label, out.status.code(), stderr)
        })
        .collect();

    Outcome {
        upstream: case["expected"].as_str().unwrap_or_default().to_string(),
        expect: expectation(case),
        id,
        runs,
    }
}

#[test]
fn every_choice_is_a_case() {
    let cases = all_cases();
    for (id, _, why) in CHOICES {
        assert!(
            cases.iter().any(|c| c["id"] == *id),
            "CHOICES names `{id}` ({why}), which cases.json no longer has"
        );
    }
}

#[test]
fn vector_bundle_cases_give_their_expected_results() {
    let cases = all_cases();
    assert_eq!(
        cases.len(),
        EXPECTED_CASES,
        "the vectors changed; look at cases.json"
    );
    // Decide every expectation first, so a new CLIENT-DEPENDENT case stops the run at once.
    for case in &cases {
        expectation(case);
    }

    let next = AtomicUsize::new(0);
    let outcomes = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(case) = cases.get(i) else { break };
                let outcome = run_case(case);
                outcomes.lock().unwrap().push((i, outcome));
            });
        }
    });
    let mut outcomes = outcomes.into_inner().unwrap();
    outcomes.sort_by_key(|(i, _)| *i);

    let wrong: Vec<&Outcome> = outcomes
        .iter()
        .map(|(_, o)| o)
        .filter(|o| !o.right())
        .collect();
    eprintln!(
        "vector bundle cases: {} of {} right",
        outcomes.len() - wrong.len(),
        outcomes.len()
    );
    if !wrong.is_empty() {
        let list: Vec<String> = wrong
            .iter()
            .map(|o| {
                let runs: Vec<String> = o
                    .runs
                    .iter()
                    .map(|(label, code, stderr)| {
                        format!(
                            "{}exit {} — {}",
                            if label.is_empty() {
                                String::new()
                            } else {
                                format!("key {label}: ")
                            },
                            code.map_or_else(|| "signal".into(), |c| c.to_string()),
                            if stderr.is_empty() {
                                "(no stderr)"
                            } else {
                                stderr
                            }
                        )
                    })
                    .collect();
                format!(
                    "  {}: expected {} (upstream {}), {}",
                    o.id,
                    o.expect,
                    o.upstream,
                    runs.join("; ")
                )
            })
            .collect();
        panic!(
            "{} of {} vector bundle cases wrong:\n{}",
            wrong.len(),
            outcomes.len(),
            list.join("\n")
        );
    }
}
