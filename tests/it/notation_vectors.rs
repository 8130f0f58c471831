//! The real Notary Project vectors (`tests/data/vectors/notation`, see its README and
//! `cases.json`): every envelope case through `shipgate verify-notation`, and every OCI-layout
//! case pushed to a real registry and judged by `shipgate check` with a `notation` authority
//! that points at the case's own trust policy and trust store. Both run the real binary.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::common::oci::{push_blob, push_manifest};
use crate::common::registry::TestRegistry;
use crate::common::replay::vectors_dir;

fn notation_dir() -> PathBuf {
    vectors_dir().join("notation")
}

fn cases() -> Vec<Value> {
    let bytes = std::fs::read(notation_dir().join("cases.json")).unwrap();
    serde_json::from_slice::<Vec<Value>>(&bytes).unwrap()
}

/// What a full verification must give for a case. Cases that upstream asserted only for the
/// authentic-timestamp step are judged whole here; where the whole verdict differs from the
/// step's, the case's notes say why and it is listed.
fn full_expectation(case: &Value) -> Option<bool> {
    let id = case["id"].as_str().unwrap();
    match (
        case["check"].as_str().unwrap(),
        case["expected"].as_str().unwrap(),
    ) {
        // The leaf is in no stored trust store: the step passes, authenticity does not.
        (_, _) if id == "notation-go/ts-cose-expired-leaf-timestamped" => Some(false),
        ("full" | "step:authenticTimestamp", "PASS") => Some(true),
        ("full" | "step:authenticTimestamp", "FAIL") => Some(false),
        _ => None,
    }
}

/// A Notation trust-store root (`DIR/{ca,signingAuthority,tsa}/NAME/FILE`) holding the case's
/// `trust_stores`.
fn trust_store_root(case: &Value, dir: &Path) -> PathBuf {
    let root = dir.join("truststore");
    for (store, files) in case["trust_stores"].as_object().unwrap() {
        let (kind, name) = store.split_once(':').unwrap();
        let folder = root.join(kind).join(name);
        std::fs::create_dir_all(&folder).unwrap();
        for f in files.as_array().unwrap() {
            let src = notation_dir().join(f.as_str().unwrap());
            let file_name = src.file_name().unwrap().to_owned();
            std::fs::copy(&src, folder.join(file_name)).unwrap();
        }
    }
    std::fs::create_dir_all(&root).unwrap();
    root
}

/// `(exit code, stdout, stderr)`.
fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_shipgate"))
        .args(args)
        .output()
        .expect("run shipgate");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn every_envelope_case_gives_its_expected_result_through_verify_notation() {
    let mut checked = 0;
    let mut mismatches = Vec::new();
    for case in cases() {
        if case["kind"] != "envelope" {
            continue;
        }
        let Some(pass) = full_expectation(&case) else {
            continue;
        };
        let id = case["id"].as_str().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let stores = trust_store_root(&case, dir.path());
        let target = &case["target"];
        let size = target["size"].as_u64().unwrap().to_string();
        // The repository the trust policy scopes, and the digest the signature is about (some
        // notation-go envelopes were made for another digest than the reference they share).
        let repository = case["artifact_reference"]
            .as_str()
            .unwrap()
            .split_once('@')
            .unwrap()
            .0;
        let reference = format!("{repository}@{}", target["digest"].as_str().unwrap());
        let (code, out, err) = run(&[
            "verify-notation",
            "--signature",
            notation_dir()
                .join(case["envelope"].as_str().unwrap())
                .to_str()
                .unwrap(),
            "--signature-media-type",
            case["envelope_media_type"].as_str().unwrap(),
            "--trust-policy",
            notation_dir()
                .join(case["trust_policy"].as_str().unwrap())
                .to_str()
                .unwrap(),
            "--trust-store-root",
            stores.to_str().unwrap(),
            "--reference",
            &reference,
            "--media-type",
            target["mediaType"].as_str().unwrap(),
            "--size",
            &size,
        ]);
        checked += 1;
        let want = if pass { 0 } else { 1 };
        let text = format!("{out}{err}");
        if code != want {
            mismatches.push(format!("{id}: exit {code}, want {want}: {}", text.trim()));
        }
        // A verdict is one line that says why.
        assert!(
            !text.trim().is_empty() && text.trim().lines().count() <= 3,
            "{id}: {text}"
        );
    }
    assert!(checked >= 14, "only {checked} envelope cases ran");
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

/// Pushes a whole OCI image layout to `repo`: blobs, then every manifest by digest (and by its
/// `org.opencontainers.image.ref.name` tag), image manifests before the index that lists them.
fn push_layout(url: &str, repo: &str, layout: &Path) {
    let index: Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    let blob =
        |digest: &str| std::fs::read(layout.join("blobs/sha256").join(&digest[7..])).unwrap();
    let mut entries: Vec<&Value> = index["manifests"].as_array().unwrap().iter().collect();
    // Indexes (the referrers tag) last: their children must exist first.
    entries.sort_by_key(|m| m["mediaType"].as_str().unwrap().contains("index"));
    for m in entries {
        let digest = m["digest"].as_str().unwrap();
        let media_type = m["mediaType"].as_str().unwrap();
        let bytes = blob(digest);
        let manifest: Value = serde_json::from_slice(&bytes).unwrap();
        for d in manifest["config"].as_object().into_iter().chain(
            manifest["layers"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|l| l.as_object()),
        ) {
            let digest = d["digest"].as_str().unwrap();
            push_blob(url, repo, d["mediaType"].as_str().unwrap(), &blob(digest));
        }
        let pushed = push_manifest(url, repo, digest, media_type, &bytes);
        assert_eq!(pushed.as_str(), digest);
        if let Some(tag) = m["annotations"]["org.opencontainers.image.ref.name"].as_str() {
            push_manifest(url, repo, tag, media_type, &bytes);
        }
    }
}

#[test]
fn every_oci_layout_case_gives_its_expected_result_through_check_against_a_real_registry() {
    let registry = TestRegistry::start();
    let url = registry.url();
    let host = url.trim_start_matches("http://").to_string();
    let mut checked = 0;
    let mut mismatches = Vec::new();
    for (i, case) in cases().into_iter().enumerate() {
        if case["kind"] != "oci-layout" {
            continue;
        }
        let Some(pass) = full_expectation(&case) else {
            continue;
        };
        let id = case["id"].as_str().unwrap();
        // One repository per case: each layout carries its own signature for the same image.
        let repo = format!("e2e{i}");
        push_layout(
            &url,
            &repo,
            &notation_dir().join(case["layout"].as_str().unwrap()),
        );
        let digest = case["target"]["digest"].as_str().unwrap();
        let dir = tempfile::tempdir().unwrap();
        trust_store_root(&case, dir.path());
        std::fs::copy(
            notation_dir().join(case["trust_policy"].as_str().unwrap()),
            dir.path().join("trustpolicy.json"),
        )
        .unwrap();
        let policy = dir.path().join("policy.yaml");
        std::fs::write(
            &policy,
            format!(
                "name: notation\nimages: [\"{host}/**\"]\nsignatures:\n  authorities:\n    - name: e2e\n      notation:\n        trustPolicy: trustpolicy.json\n        trustStore: truststore\n"
            ),
        )
        .unwrap();
        let image = format!("{host}/{repo}@{digest}");
        let (code, text, err) = run(&[
            "check",
            &image,
            "--output",
            "json",
            "--policy",
            policy.to_str().unwrap(),
            "--insecure-registry",
            &host,
        ]);
        checked += 1;
        // A trust policy Notation refuses as invalid is a configuration error for the gate:
        // the policy does not load (exit 2), so nothing passes.
        let invalid_policy = case["reason"]
            .as_str()
            .unwrap_or("")
            .starts_with("trust policy is invalid");
        let want = match (pass, invalid_policy) {
            (true, _) => 0,
            (false, false) => 1,
            (false, true) => 2,
        };
        let d: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if code != want {
            mismatches.push(format!("{id}: exit {code}, want {want}: {text}{err}"));
            continue;
        }
        if invalid_policy {
            assert!(err.contains("trustPolicy"), "{id}: {err}");
            continue;
        }
        let check = &d["checks"][0];
        assert_eq!(check["check"], "signature", "{id}: {text}");
        if pass {
            assert_eq!(check["code"], "signature-verified", "{id}: {text}");
        } else {
            // Found, and rejected with a reason: never "missing".
            assert_ne!(check["code"], "signature-missing", "{id}: {text}");
            assert_eq!(check["evidence"]["signatures_found"], 1, "{id}: {text}");
        }
    }
    assert!(checked >= 12, "only {checked} layout cases ran");
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}
