//! The command line: `policy validate` of Notary Project authorities, and `verify-notation`
//! (the verifier alone): unusable arguments exit 2, a file that is no signature exits 1 with one
//! line saying why.

use std::path::Path;
use std::process::Command;

use super::{notation_files, pending};
use crate::common::notation::JWS;

pub(super) fn shipgate(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_shipgate"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn policy_validate_refuses_a_skip_level() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.yaml");
    std::fs::write(
        &path,
        "name: p\nimages: [\"ghcr.io/**\"]\nsignatures:\n  authorities:\n    - name: aws\n      awsSigner:\n        profileArn: arn:aws:signer:us-east-1:123456789012:/signing-profiles/release\n        level: skip\n",
    )
    .unwrap();
    let out = shipgate(&["policy", "validate", path.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("signatures.authorities[0].awsSigner.level: `skip` verifies nothing")
            && stderr.contains("line 8"),
        "{stderr}"
    );
}

/// `verify-notation` with the given arguments replacing the defaults' values.
fn verify_notation(dir: &Path, overrides: &[(&str, &str)]) -> std::process::Output {
    let defaults = [
        ("--signature", dir.join("sig.jws").display().to_string()),
        ("--signature-media-type", JWS.to_string()),
        (
            "--trust-policy",
            dir.join("notation/trustpolicy.json").display().to_string(),
        ),
        (
            "--trust-store-root",
            dir.join("notation/truststore").display().to_string(),
        ),
        (
            "--reference",
            "ghcr.io/acme/app@sha256:1111111111111111111111111111111111111111111111111111111111111111"
                .to_string(),
        ),
        (
            "--media-type",
            "application/vnd.oci.image.manifest.v1+json".to_string(),
        ),
        ("--size", "1234".to_string()),
    ];
    let mut args = vec!["verify-notation".to_string()];
    for (flag, value) in defaults {
        let value = overrides
            .iter()
            .find(|(f, _)| *f == flag)
            .map_or(value, |(_, v)| v.to_string());
        args.push(flag.to_string());
        args.push(value);
    }
    Command::new(env!("CARGO_BIN_EXE_shipgate"))
        .args(&args)
        .output()
        .unwrap()
}

#[test]
fn verify_notation_refuses_unusable_arguments_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    notation_files(dir.path());
    std::fs::write(dir.path().join("sig.jws"), b"not an envelope").unwrap();
    let missing = dir.path().join("absent.jws").display().to_string();
    let cases: &[(&str, &str, &str)] = &[
        ("--signature", &missing, "absent.jws"),
        (
            "--signature-media-type",
            "application/json",
            "--signature-media-type",
        ),
        ("--reference", "ghcr.io/acme/app:v1", "by digest"),
        ("--reference", "not a reference!", "--reference"),
        ("--media-type", " ", "--media-type"),
    ];
    for (flag, value, want) in cases {
        let out = verify_notation(dir.path(), &[(flag, value)]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flag} {value}: {stderr}");
        assert!(stderr.contains(want), "{flag} {value}: {stderr}");
        assert!(out.stdout.is_empty());
    }
    let out = verify_notation(dir.path(), &[("--size", "-1")]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn verify_notation_says_in_one_line_why_a_file_is_no_signature() {
    if pending("verify-notation reading trust policies") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    notation_files(dir.path());
    std::fs::write(dir.path().join("sig.jws"), b"not an envelope").unwrap();
    let out = verify_notation(dir.path(), &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.starts_with("FAIL: ") && stderr.trim_end().lines().count() == 1);
    assert!(stderr.contains("envelope"), "{stderr}");
    // An invalid trust policy is an unusable argument, not a verdict.
    std::fs::write(dir.path().join("notation/trustpolicy.json"), "{}").unwrap();
    let out = verify_notation(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(2));
}
