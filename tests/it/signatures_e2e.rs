//! Signatures end to end: images pushed to a real `docker-registry`, signed in the test with real
//! keys (and a private Sigstore instance for keyless), decided by the real gate.

use shipgate::decision::CheckResult;
use shipgate::reference::Digest;

use crate::common::cosign::{
    attach_bundle_via_tag_fallback, attach_legacy_signature, key_bundle_v03,
    simple_signing_payload, LegacyLayer, SigningKey, StatementOptions, TlogParams,
};
use crate::common::oci::{push_image, push_index, retag};
use crate::common::private_sigstore::PrivateSigstore;
use crate::common::registry::TestRegistry;
use crate::gate_harness::*;

const ISSUER: &str = "https://token.actions.githubusercontent.com";
const RELEASE: &str = "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main";

fn key_policy(host: &str, key: &SigningKey) -> String {
    policy_for(
        host,
        &format!(
            "  authorities:\n{}",
            key_authority("release", &key.public_pem(), "optional")
        ),
    )
}

fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

#[test]
fn key_signed_image_passes_by_tag_and_by_digest() {
    let reg = TestRegistry::start();
    let img = push_image(&reg.url(), "team/app", "v1");
    let key = SigningKey::generate_p256();
    let reference = format!("{}/team/app", reg.host);
    attach_legacy_signature(
        &reg.url(),
        "team/app",
        &img.digest,
        vec![LegacyLayer::signed(&key, &reference, &img.digest)],
    );
    let gate = gate(&reg.host, &key_policy(&reg.host, &key), None);

    let d = decide(&gate, &format!("{reference}:v1"));
    assert_pass(&d);
    assert_eq!(d.digest.as_deref(), Some(img.digest.as_str()));
    let (_, reason) = signature_check(&d);
    assert!(reason.contains("`release`"), "{reason}");

    assert_pass(&decide(&gate, &format!("{reference}@{}", img.digest)));
}

#[test]
fn other_key_types_verify_too() {
    let reg = TestRegistry::start();
    for (i, key) in [SigningKey::generate_p384(), SigningKey::generate_ed25519()]
        .into_iter()
        .enumerate()
    {
        let img = push_image(&reg.url(), "team/app", &format!("k{i}"));
        let reference = format!("{}/team/app", reg.host);
        attach_legacy_signature(
            &reg.url(),
            "team/app",
            &img.digest,
            vec![LegacyLayer::signed(&key, &reference, &img.digest)],
        );
        let gate = gate(&reg.host, &key_policy(&reg.host, &key), None);
        assert_pass(&decide(&gate, &format!("{reference}:k{i}")));
    }
}

#[test]
fn wrong_key_fails() {
    let reg = TestRegistry::start();
    let img = push_image(&reg.url(), "team/app", "v1");
    let signer = SigningKey::generate_p256();
    let trusted = SigningKey::generate_p256();
    let reference = format!("{}/team/app", reg.host);
    attach_legacy_signature(
        &reg.url(),
        "team/app",
        &img.digest,
        vec![LegacyLayer::signed(&signer, &reference, &img.digest)],
    );
    let d = decide(
        &gate(&reg.host, &key_policy(&reg.host, &trusted), None),
        &format!("{reference}:v1"),
    );
    assert_fail(
        &d,
        &["No signature from authority `release`", "found 1 signature"],
    );
    assert_eq!(signature_check(&d).0, CheckResult::Fail);
}

#[test]
fn unsigned_image_fails_and_says_where_it_looked() {
    let reg = TestRegistry::start();
    let img = push_image(&reg.url(), "team/app", "v1");
    let key = SigningKey::generate_p256();
    let d = decide(
        &gate(&reg.host, &key_policy(&reg.host, &key), None),
        &format!("{}/team/app:v1", reg.host),
    );
    assert_fail(
        &d,
        &[
            "no signatures found",
            img.digest.as_str(),
            &img.digest.cosign_tag(".sig"),
        ],
    );
}

#[test]
fn tampered_payload_fails() {
    let reg = TestRegistry::start();
    let img = push_image(&reg.url(), "team/app", "v1");
    let key = SigningKey::generate_p256();
    let reference = format!("{}/team/app", reg.host);
    let mut layer = LegacyLayer::signed(&key, &reference, &img.digest);
    // Same digest, one byte of the signed document changed.
    let text = String::from_utf8(layer.payload.clone()).unwrap();
    layer.payload = text
        .replace(
            "cosign container image signature",
            "cosign container image signaturE",
        )
        .into_bytes();
    attach_legacy_signature(&reg.url(), "team/app", &img.digest, vec![layer]);
    let d = decide(
        &gate(&reg.host, &key_policy(&reg.host, &key), None),
        &format!("{reference}:v1"),
    );
    assert_fail(&d, &["`release`"]);
}

#[test]
fn signature_of_another_image_is_not_replayable() {
    let reg = TestRegistry::start();
    let signed = push_image(&reg.url(), "team/app", "signed");
    let other = push_image(&reg.url(), "team/app", "other");
    let key = SigningKey::generate_p256();
    let reference = format!("{}/team/app", reg.host);
    // A valid signature of `signed`, copied under `other`'s .sig tag.
    attach_legacy_signature(
        &reg.url(),
        "team/app",
        &other.digest,
        vec![LegacyLayer::signed(&key, &reference, &signed.digest)],
    );
    let d = decide(
        &gate(&reg.host, &key_policy(&reg.host, &key), None),
        &format!("{reference}:other"),
    );
    assert_fail(&d, &[signed.digest.hex().get(..12).unwrap()]);
}

#[test]
fn a_tag_moved_after_signing_is_judged_by_its_new_digest() {
    let reg = TestRegistry::start();
    let signed = push_image(&reg.url(), "team/app", "v1");
    let key = SigningKey::generate_p256();
    let reference = format!("{}/team/app", reg.host);
    attach_legacy_signature(
        &reg.url(),
        "team/app",
        &signed.digest,
        vec![LegacyLayer::signed(&key, &reference, &signed.digest)],
    );
    let gate = gate(&reg.host, &key_policy(&reg.host, &key), None);
    assert_pass(&decide(&gate, &format!("{reference}:v1")));

    let moved = push_image(&reg.url(), "team/app", "unsigned");
    retag(&reg.url(), "team/app", &moved.digest, "v1");
    let d = decide(&gate, &format!("{reference}:v1"));
    assert_eq!(d.digest.as_deref(), Some(moved.digest.as_str()));
    assert_fail(&d, &["no signatures found"]);
}

#[test]
fn multi_arch_index_is_judged_by_the_index_digest() {
    let reg = TestRegistry::start();
    let a = push_image(&reg.url(), "team/app", "amd64");
    let b = push_image(&reg.url(), "team/app", "arm64");
    let index = push_index(
        &reg.url(),
        "team/app",
        "multi",
        &[a.digest.clone(), b.digest.clone()],
    );
    let key = SigningKey::generate_p256();
    let reference = format!("{}/team/app", reg.host);
    attach_legacy_signature(
        &reg.url(),
        "team/app",
        &index,
        vec![LegacyLayer::signed(&key, &reference, &index)],
    );
    let gate = gate(&reg.host, &key_policy(&reg.host, &key), None);
    let d = decide(&gate, &format!("{reference}:multi"));
    assert_pass(&d);
    assert_eq!(d.digest.as_deref(), Some(index.as_str()));
    // A platform image is a different digest, with no signature of its own.
    assert_fail(
        &decide(&gate, &format!("{reference}:amd64")),
        &["no signatures found"],
    );
}

#[test]
fn key_authority_requiring_the_log_fails_without_a_log_entry() {
    let reg = TestRegistry::start();
    let img = push_image(&reg.url(), "team/app", "v1");
    let key = SigningKey::generate_p256();
    let reference = format!("{}/team/app", reg.host);
    attach_legacy_signature(
        &reg.url(),
        "team/app",
        &img.digest,
        vec![LegacyLayer::signed(&key, &reference, &img.digest)],
    );
    let policy = policy_for(
        &reg.host,
        &format!(
            "  authorities:\n{}",
            key_authority("release", &key.public_pem(), "required")
        ),
    );
    let d = decide(&gate(&reg.host, &policy, None), &format!("{reference}:v1"));
    assert_fail(&d, &["`release`", "log"]);
}

#[test]
fn threshold_counts_distinct_authorities() {
    let reg = TestRegistry::start();
    let img = push_image(&reg.url(), "team/app", "v1");
    let (alice, bob) = (SigningKey::generate_p256(), SigningKey::generate_p256());
    let reference = format!("{}/team/app", reg.host);
    let authorities = format!(
        "  threshold: 2\n  authorities:\n{}{}",
        key_authority("alice", &alice.public_pem(), "optional"),
        key_authority("bob", &bob.public_pem(), "optional")
    );
    let gate = gate(&reg.host, &policy_for(&reg.host, &authorities), None);
    // Alice twice is still one authority.
    attach_legacy_signature(
        &reg.url(),
        "team/app",
        &img.digest,
        vec![
            LegacyLayer::signed(&alice, &reference, &img.digest),
            LegacyLayer::signed(&alice, &reference, &img.digest),
        ],
    );
    assert_fail(
        &decide(&gate, &format!("{reference}:v1")),
        &["1 of the 2 required", "`bob`"],
    );
    attach_legacy_signature(
        &reg.url(),
        "team/app",
        &img.digest,
        vec![LegacyLayer::signed(&bob, &reference, &img.digest)],
    );
    let d = decide(&gate, &format!("{reference}@{}", img.digest));
    assert_pass(&d);
    assert!(
        signature_check(&d).1.contains("signed by 2 of the 2"),
        "{}",
        d.to_text()
    );
}

#[test]
fn keyless_identity_must_match_and_needs_its_log_entry() {
    let reg = TestRegistry::start();
    let sigstore = PrivateSigstore::new();
    let root = sigstore.trusted_root_json();
    let img = push_image(&reg.url(), "team/app", "v1");
    let reference = format!("{}/team/app", reg.host);
    let signed_at = now() - time::Duration::minutes(30);
    let signer = sigstore.keyless_signer(RELEASE, ISSUER, signed_at);
    let t = (signed_at + time::Duration::minutes(1)).unix_timestamp();
    attach_legacy_signature(
        &reg.url(),
        "team/app",
        &img.digest,
        vec![sigstore.keyless_legacy_layer(&signer, &reference, &img.digest, t, 7)],
    );

    let policy = |issuer: &str, subject: &str| {
        policy_for(
            &reg.host,
            &format!(
                "  authorities:\n{}",
                keyless_authority("ci", issuer, subject)
            ),
        )
    };
    let image = format!("{reference}:v1");
    assert_pass(&decide(
        &gate(&reg.host, &policy(ISSUER, RELEASE), Some(&root)),
        &image,
    ));

    let code = |d: &shipgate::decision::Decision| {
        d.checks
            .iter()
            .find(|c| c.check == "signature")
            .map(|c| c.code)
    };
    use shipgate::decision::CheckCode;
    let ok = decide(
        &gate(&reg.host, &policy(ISSUER, RELEASE), Some(&root)),
        &image,
    );
    assert_eq!(code(&ok), Some(CheckCode::SignatureVerified));
    let dev = "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/dev";
    let d = decide(&gate(&reg.host, &policy(ISSUER, dev), Some(&root)), &image);
    assert_fail(&d, &["`ci`", RELEASE]);
    assert_eq!(code(&d), Some(CheckCode::SignatureIdentityMismatch));
    let d = decide(
        &gate(
            &reg.host,
            &policy("https://accounts.google.com", RELEASE),
            Some(&root),
        ),
        &image,
    );
    assert_fail(&d, &["`ci`", ISSUER]);
    assert_eq!(code(&d), Some(CheckCode::SignatureIdentityMismatch));
    // The same certificate and signature under the public-good root: not our CA, so not an
    // identity mismatch but a signature that does not verify.
    let d = decide(&gate(&reg.host, &policy(ISSUER, RELEASE), None), &image);
    assert_eq!(code(&d), Some(CheckCode::SignatureUnverified));
    assert_fail(&d, &["`ci`"]);

    // Without the Rekor bundle the signature does not count.
    let other = push_image(&reg.url(), "team/app", "nolog");
    let mut layer = sigstore.keyless_legacy_layer(&signer, &reference, &other.digest, t, 8);
    layer.bundle = None;
    attach_legacy_signature(&reg.url(), "team/app", &other.digest, vec![layer]);
    assert_fail(
        &decide(
            &gate(&reg.host, &policy(ISSUER, RELEASE), Some(&root)),
            &format!("{reference}:nolog"),
        ),
        &["`ci`", "log"],
    );

    // Logged after the ten-minute certificate expired: not inside the validity window.
    let late = push_image(&reg.url(), "team/app", "late");
    let late_t = (signed_at + time::Duration::minutes(20)).unix_timestamp();
    attach_legacy_signature(
        &reg.url(),
        "team/app",
        &late.digest,
        vec![sigstore.keyless_legacy_layer(&signer, &reference, &late.digest, late_t, 9)],
    );
    assert_fail(
        &decide(
            &gate(&reg.host, &policy(ISSUER, RELEASE), Some(&root)),
            &format!("{reference}:late"),
        ),
        &["`ci`"],
    );
}

#[test]
fn bundles_found_through_the_referrers_tag_fallback_verify() {
    let reg = TestRegistry::start();
    let sigstore = PrivateSigstore::new();
    let root = sigstore.trusted_root_json();
    let reference = format!("{}/team/app", reg.host);

    // Keyless cosign v3 bundle (DSSE + dsse tlog entry).
    let img = push_image(&reg.url(), "team/app", "v3");
    let signed_at = now() - time::Duration::minutes(5);
    let signer = sigstore.keyless_signer(RELEASE, ISSUER, signed_at);
    let bundle = sigstore.keyless_bundle_v03(
        &signer,
        &img.digest,
        &StatementOptions::default(),
        signed_at.unix_timestamp() + 30,
        11,
    );
    attach_bundle_via_tag_fallback(&reg.url(), "team/app", &img.digest, &bundle);
    let keyless = policy_for(
        &reg.host,
        &format!(
            "  authorities:\n{}",
            keyless_authority("ci", ISSUER, RELEASE)
        ),
    );
    let d = decide(
        &gate(&reg.host, &keyless, Some(&root)),
        &format!("{reference}:v3"),
    );
    assert_pass(&d);
    assert!(signature_check(&d).1.contains("`ci`"));

    // Key-signed bundle with a log entry, under a key authority that requires the log.
    let img2 = push_image(&reg.url(), "team/app", "v3key");
    let key = SigningKey::generate_p256();
    let tlog = TlogParams {
        log: &sigstore.log,
        integrated_time: now().unix_timestamp() - 60,
        log_index: 12,
    };
    let bundle = key_bundle_v03(&key, &img2.digest, &StatementOptions::default(), Some(tlog));
    attach_bundle_via_tag_fallback(&reg.url(), "team/app", &img2.digest, &bundle);
    let keyed = policy_for(
        &reg.host,
        &format!(
            "  authorities:\n{}",
            key_authority("release", &key.public_pem(), "required")
        ),
    );
    assert_pass(&decide(
        &gate(&reg.host, &keyed, Some(&root)),
        &format!("{reference}:v3key"),
    ));

    // The same bundle attached to another image names the wrong subject.
    let img3 = push_image(&reg.url(), "team/app", "v3other");
    attach_bundle_via_tag_fallback(&reg.url(), "team/app", &img3.digest, &bundle);
    assert_fail(
        &decide(
            &gate(&reg.host, &keyed, Some(&root)),
            &format!("{reference}:v3other"),
        ),
        &["`release`"],
    );
}

#[test]
fn an_attestation_by_the_signer_is_not_an_image_signature() {
    let reg = TestRegistry::start();
    let sigstore = PrivateSigstore::new();
    let root = sigstore.trusted_root_json();
    let reference = format!("{}/team/app", reg.host);
    let img = push_image(&reg.url(), "team/app", "attested");
    let key = SigningKey::generate_p256();
    let tlog = TlogParams {
        log: &sigstore.log,
        integrated_time: now().unix_timestamp() - 60,
        log_index: 21,
    };
    let provenance = StatementOptions {
        predicate_type: Some("https://slsa.dev/provenance/v1".into()),
        predicate: Some(serde_json::json!({})),
        ..StatementOptions::default()
    };
    let bundle = key_bundle_v03(&key, &img.digest, &provenance, Some(tlog));
    attach_bundle_via_tag_fallback(&reg.url(), "team/app", &img.digest, &bundle);
    let keyed = policy_for(
        &reg.host,
        &format!(
            "  authorities:\n{}",
            key_authority("release", &key.public_pem(), "required")
        ),
    );
    let d = decide(
        &gate(&reg.host, &keyed, Some(&root)),
        &format!("{reference}:attested"),
    );
    assert_fail(
        &d,
        &["`release`", "attestation", "https://slsa.dev/provenance/v1"],
    );
}

#[test]
fn the_binary_exits_0_1_2() {
    let reg = TestRegistry::start();
    let img = push_image(&reg.url(), "team/app", "v1");
    push_image(&reg.url(), "team/app", "unsigned");
    let key = SigningKey::generate_p256();
    let reference = format!("{}/team/app", reg.host);
    attach_legacy_signature(
        &reg.url(),
        "team/app",
        &img.digest,
        vec![LegacyLayer::signed(&key, &reference, &img.digest)],
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("keys")).unwrap();
    std::fs::write(dir.path().join("keys/release.pub"), key.public_pem()).unwrap();
    let policy = dir.path().join("p.yaml");
    std::fs::write(
        &policy,
        format!("name: e2e\nimages: [\"{}/**\"]\nsignatures:\n  authorities:\n    - name: release\n      keyRef: keys/release.pub\n      transparencyLog: optional\n", reg.host),
    )
    .unwrap();
    let run = |image: &str, extra: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_shipgate"))
            .args(["check", image, "--policy"])
            .arg(&policy)
            .args(["--insecure-registry", &reg.host])
            .args(extra)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).to_string(),
        )
    };
    let (code, text) = run(&format!("{reference}:v1"), &[]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.starts_with("PASS"), "{text}");
    let (code, json) = run(&format!("{reference}:unsigned"), &["--output", "json"]);
    assert_eq!(code, Some(1), "{json}");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["decision"], "fail");
    assert_eq!(v["checks"][0]["check"], "signature");
    let (code, _) = run("Not A Reference", &[]);
    assert_eq!(code, Some(2));
    // Without --insecure-registry the registry is spoken to over HTTPS only: fail, not pass.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_shipgate"))
        .args(["check", &format!("{reference}:v1"), "--policy"])
        .arg(&policy)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "name: x\nimages: [\"a/b\"]\nsignatures: {}\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_shipgate"))
        .args(["policy", "validate"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad.yaml"));
    let _ = Digest::of(b"");
    let _ = simple_signing_payload;
}
