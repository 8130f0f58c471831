//! `notation:` and `awsSigner:` authorities: every refusal names the field and the line, before
//! any Notation file is read. (Loading a valid one reads trust stores through
//! `verify::notation`; those end-to-end loads are in `tests/it/notation.rs`.)

use std::path::Path;

use super::super::model::PolicyFile;
use super::super::Policy;
use super::check_profile_arn;

fn parse(text: &str) -> Result<Policy, String> {
    Policy::from_yaml(text, Path::new("policies/test.yaml")).map_err(|e| e.to_string())
}

/// A policy whose one authority (indented under `- name: release`) is `authority`.
fn with_authority(authority: &str) -> String {
    format!(
        "name: n\nimages: [\"ghcr.io/**\"]\nsignatures:\n  authorities:\n    - name: release\n{authority}"
    )
}

const NOTATION: &str = "      notation:\n        trustStore: notation/truststore\n        trustedIdentities: [\"x509.subject: C=US, ST=WA, O=acme, CN=release\"]\n";
const AWS: &str = "      awsSigner:\n        profileArn: arn:aws:signer:us-east-1:123456789012:/signing-profiles/release\n";

#[test]
fn every_field_is_in_the_file_model() {
    let text = with_authority(
        "      notation:\n        trustPolicy: notation/trustpolicy.json\n        trustStore: notation/truststore\n    - name: aws\n      awsSigner:\n        profileArns: [\"arn:aws:signer:us-east-1:123456789012:/signing-profiles/a\"]\n        rootsRef: roots.pem\n        govCloud: true\n        level: permissive\n        override: {expiry: log}\n    - name: inline\n      notation:\n        trustStore: ts\n        trustedIdentities: [\"*\"]\n        level: audit\n        override: {revocation: skip}\n",
    );
    let file: PolicyFile = serde_yaml::from_str(&text).unwrap();
    let a = &file.signatures.as_ref().unwrap().authorities;
    let n = a[0].notation.as_ref().unwrap();
    assert_eq!(n.trust_policy.as_deref(), Some("notation/trustpolicy.json"));
    assert_eq!(n.trust_store.as_deref(), Some("notation/truststore"));
    let s = a[1].aws_signer.as_ref().unwrap();
    assert_eq!(s.profile_arns.len(), 1);
    assert_eq!(s.roots_ref.as_deref(), Some("roots.pem"));
    assert!(s.gov_cloud);
    assert_eq!(s.level.as_deref(), Some("permissive"));
    assert_eq!(s.overrides.get("expiry").map(String::as_str), Some("log"));
    let i = a[2].notation.as_ref().unwrap();
    assert_eq!(i.trusted_identities, ["*"]);
    assert_eq!(i.level.as_deref(), Some("audit"));
    assert_eq!(
        i.overrides.get("revocation").map(String::as_str),
        Some("skip")
    );
    let schema = serde_json::to_string(&schemars::schema_for!(PolicyFile)).unwrap();
    for field in [
        "notation",
        "awsSigner",
        "trustPolicy",
        "trustStore",
        "trustedIdentities",
        "profileArns",
        "rootsRef",
        "govCloud",
        "override",
    ] {
        assert!(schema.contains(field), "schema lacks {field}");
    }
}

/// Each refusal, with what its message must say.
#[test]
fn refusals_name_the_field_and_the_line() {
    let cases: Vec<(String, &[&str])> = vec![
        (
            with_authority(&format!("      keyRef: k.pem\n{NOTATION}")),
            &["signatures.authorities[0].notation", "exactly one of", "`awsSigner`"],
        ),
        (
            with_authority(&format!("{NOTATION}{}", AWS)),
            &["signatures.authorities[0].awsSigner", "exactly one of"],
        ),
        (
            with_authority(&NOTATION.replace("        trustStore: notation/truststore\n", "")),
            &["signatures.authorities[0].notation: `trustStore` is required", "line 6"],
        ),
        (
            with_authority(&format!("{NOTATION}        level: skip\n")),
            &["signatures.authorities[0].notation.level", "`skip` verifies nothing", "line 9"],
        ),
        (
            with_authority(&format!("{AWS}        level: skip\n")),
            &["signatures.authorities[0].awsSigner.level", "`skip`", "line 8"],
        ),
        (
            with_authority(&format!("{NOTATION}        level: lenient\n")),
            &["notation.level", "`lenient` is not a verification level"],
        ),
        (
            with_authority(&AWS.replace(":signer:", ":ecr:")),
            &["signatures.authorities[0].awsSigner.profileArn", "is not an AWS Signer signing-profile ARN", "line 7"],
        ),
        (
            with_authority("      awsSigner:\n        profileArns: [\"arn:aws:signer:us-east-1:123456789012:/signing-profiles/ok\", \"arn:aws:signer:us-east-1:12345:/signing-profiles/x\"]\n"),
            &["awsSigner.profileArns[1]", "12345"],
        ),
        (
            with_authority("      awsSigner:\n        govCloud: true\n"),
            &["awsSigner: `profileArn` is required", "line 6"],
        ),
        (
            with_authority("      notation:\n        trustStore: ts\n"),
            &["notation: `trustedIdentities` is required without `trustPolicy`"],
        ),
        (
            with_authority("      notation:\n        trustStore: ts\n        trustPolicy: tp.json\n        level: audit\n"),
            &["notation.trustPolicy", "come from the trust policy file"],
        ),
        (
            with_authority(&format!("{NOTATION}      transparencyLog: optional\n")),
            &["signatures.authorities[0].transparencyLog", "no transparency log"],
        ),
        (
            with_authority(&format!("{NOTATION}        colour: blue\n")),
            &["unknown field `colour`"],
        ),
        (
            format!("name: n\nimages: [\"ghcr.io/**\"]\nprovenance:\n  authorities:\n    - name: release\n{NOTATION}"),
            &["provenance.authorities[0].notation", "signs images only", "line 6"],
        ),
        (
            format!("name: n\nimages: [\"ghcr.io/**\"]\nprovenance:\n  authorities:\n    - name: release\n{AWS}"),
            &["provenance.authorities[0].awsSigner", "signs images only"],
        ),
    ];
    for (text, wants) in cases {
        let err = parse(&text).expect_err(&format!("accepted:\n{text}"));
        for want in wants {
            assert!(err.contains(want), "error {err:?} lacks {want:?}\n{text}");
        }
    }
}

#[test]
fn profile_arns_are_checked_by_shape() {
    for good in [
        "arn:aws:signer:us-east-1:123456789012:/signing-profiles/release",
        "arn:aws:signer:us-east-1:123456789012:/signing-profiles/release_2/abcDEF1234",
        "arn:aws-cn:signer:cn-north-1:123456789012:/signing-profiles/r",
        "arn:aws-us-gov:signer:us-gov-west-1:123456789012:/signing-profiles/r",
    ] {
        assert!(check_profile_arn(good).is_ok(), "{good}");
    }
    for bad in [
        "",
        "release",
        "arn:aws:ecr:us-east-1:123456789012:/signing-profiles/release",
        "arn:aws:signer:us-east-1:1234:/signing-profiles/release",
        "arn:aws:signer:US-EAST-1:123456789012:/signing-profiles/release",
        "arn:aws:signer:us-east-1:123456789012:signing-profiles/release",
        "arn:aws:signer:us-east-1:123456789012:/signing-profiles/",
        "arn:aws:signer:us-east-1:123456789012:/signing-profiles/a-b",
        "arn:aws:signer:us-east-1:123456789012:/signing-profiles/a/b/c",
        "arn:evil:signer:us-east-1:123456789012:/signing-profiles/a",
    ] {
        assert!(check_profile_arn(bad).is_err(), "{bad}");
    }
}
