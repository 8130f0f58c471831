//! Notary Project signatures end to end (issue 13): JWS and COSE envelopes made in the test with
//! its own CA and TSA (`common::notary_signer`), attached to fresh images in a real registry as
//! Notation attaches them, judged by the real `shipgate check` binary; and AWS Signer signatures
//! judged in process by a gate whose `GetRevocationStatus` goes through the real SDK to a
//! loopback stub (`aws`).
//!
//! Each table row is its own image (its own repository), so one row's signature can never make
//! another row pass.

mod aws;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::common::cosign::{attach_legacy_signature, LegacyLayer, SigningKey};
use crate::common::notary_signer::{
    attach_signature, now, write_trust_store, Ca, Cert, EnvelopeFormat, KeyKind, LeafOptions,
    NotarySigner, Pki, Tamper, TokenOptions, Tsa,
};
use crate::common::oci::push_image;
use crate::common::registry::TestRegistry;
use crate::gate_harness::key_authority;

const IDENTITY: &str = "x509.subject: C=US, ST=WA, O=Acme, CN=release";
const OTHER_IDENTITY: &str = "x509.subject: C=US, ST=WA, O=Other, CN=release";

/// The leaf's subject as the decision names the signer (RFC 4514).
const LEAF_SUBJECT: &str = "CN=release,O=Acme,L=Seattle,ST=WA,C=US";

fn days(n: i64) -> time::Duration {
    time::Duration::days(n)
}

/// The test's PKI: root `Acme Root CA` with a valid and an expired code-signing leaf (same
/// subject), a TSA, and a root that signed nothing here.
struct Keys {
    pki: Pki,
    expired: Cert,
    tsa: Tsa,
    other_root: Ca,
}

impl Keys {
    fn new() -> Keys {
        let pki = Pki::simple();
        let expired = pki.root.issue(&LeafOptions {
            not_before: now() - days(30),
            not_after: now() - days(1),
            ..LeafOptions::default()
        });
        Keys {
            pki,
            expired,
            tsa: Tsa::new(),
            other_root: Ca::root("Other Root CA", KeyKind::EcP256),
        }
    }

    /// Signed ten days ago with the leaf that expired yesterday.
    fn expired_signer(&self) -> NotarySigner {
        let chain = vec![self.expired.der.clone(), self.pki.root.cert.der.clone()];
        NotarySigner::new(&self.expired, chain).signing_time(now() - days(10))
    }
}

/// Which policy judges a row: its trust store and trusted identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trust {
    /// `ca:acme` (the signing root), identity [`IDENTITY`].
    Acme,
    /// `ca:acme` and `tsa:acme-tsa` (the TSA root).
    AcmeAndTsa,
    /// `ca:other` only: a root that signed nothing here.
    OtherCa,
    /// `ca:acme`, identity [`OTHER_IDENTITY`].
    OtherIdentity,
}

/// Writes `DIR/policy.yaml` with one `notation:` authority `release` (plus `extra` authorities
/// before it, and a threshold) over a trust store `DIR/truststore`; returns the policy path.
fn write_policy(dir: &Path, host: &str, keys: &Keys, trust: Trust, head: &str) -> PathBuf {
    let stores = dir.join("truststore");
    let acme = keys.pki.root.cert.der.as_slice();
    match trust {
        Trust::OtherCa => write_trust_store(&stores, "ca", "other", &[&keys.other_root.cert.der]),
        _ => write_trust_store(&stores, "ca", "acme", &[acme]),
    };
    if trust == Trust::AcmeAndTsa {
        write_trust_store(&stores, "tsa", "acme-tsa", &[&keys.tsa.root.der]);
    }
    let identity = match trust {
        Trust::OtherIdentity => OTHER_IDENTITY,
        _ => IDENTITY,
    };
    let path = dir.join("policy.yaml");
    std::fs::write(
        &path,
        format!(
            "name: notation-e2e\nimages: [\"{host}/**\"]\nsignatures:\n{head}    - name: release\n      notation:\n        trustStore: truststore\n        trustedIdentities: [\"{identity}\"]\n"
        ),
    )
    .unwrap();
    path
}

/// `shipgate check IMAGE --policy P --output json` against the loopback registry: (exit code,
/// the decision as JSON, stderr).
fn shipgate_check(image: &str, policy: &Path, host: &str) -> (Option<i32>, Value, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_shipgate"))
        .args(["check", image, "--policy"])
        .arg(policy)
        .args(["--output", "json", "--insecure-registry", host])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let json = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{image}: not JSON ({e}): {stdout}\n{stderr}"));
    (out.status.code(), json, stderr)
}

/// The decision's `signature` check.
fn signature_check(decision: &Value) -> &Value {
    decision["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["check"] == "signature"))
        .unwrap_or_else(|| panic!("no signature check: {decision:#}"))
}

/// One row: how the signature is made, which policy judges it, what must come out. `code`
/// `signature-verified` means a pass (exit 0); any other a fail (exit 1) whose reason holds
/// every needle (the other image's digest too, for `for_other`).
struct Row {
    name: &'static str,
    signer: fn(&Keys) -> NotarySigner,
    /// Sign another image's descriptor, attach the envelope to this one.
    for_other: bool,
    trust: Trust,
    code: &'static str,
    needles: &'static [&'static str],
}

fn row(
    name: &'static str,
    signer: fn(&Keys) -> NotarySigner,
    trust: Trust,
    code: &'static str,
    needles: &'static [&'static str],
) -> Row {
    Row {
        name,
        signer,
        for_other: false,
        trust,
        code,
        needles,
    }
}

fn valid(k: &Keys) -> NotarySigner {
    k.pki.signer()
}

fn rows() -> Vec<Row> {
    let unverified = "signature-unverified";
    let altered: &[&str] = &["integrity failed", "does not verify", "altered"];
    vec![
        row("valid", valid, Trust::Acme, "signature-verified", &[]),
        row(
            "tampered-payload",
            |k| k.pki.signer().tamper(Tamper::Payload),
            Trust::Acme,
            unverified,
            altered,
        ),
        row(
            "tampered-signature",
            |k| k.pki.signer().tamper(Tamper::Signature),
            Trust::Acme,
            unverified,
            altered,
        ),
        Row {
            for_other: true,
            ..row(
                "other-digest",
                valid,
                Trust::Acme,
                unverified,
                &["integrity failed", "not this image"],
            )
        },
        row(
            "expired-no-timestamp",
            Keys::expired_signer,
            Trust::Acme,
            unverified,
            &["authenticTimestamp", "not now", "no tsa: store"],
        ),
        row(
            "expired-timestamped-while-valid",
            |k| {
                let made = now() - days(10) + time::Duration::minutes(1);
                let opts = TokenOptions {
                    gen_time: Some(made),
                    ..TokenOptions::default()
                };
                k.expired_signer().timestamp(&k.tsa, opts)
            },
            Trust::AcmeAndTsa,
            "signature-verified",
            &[],
        ),
        // The same store without a countersignature: the `tsa:` store makes one required.
        row(
            "valid-without-timestamp-under-tsa-store",
            valid,
            Trust::AcmeAndTsa,
            unverified,
            &["no timestamp countersignature"],
        ),
        row(
            "untrusted-store",
            valid,
            Trust::OtherCa,
            unverified,
            &[
                "authenticity failed",
                "no certificate of trust store ca:other",
            ],
        ),
        row(
            "wrong-identity",
            valid,
            Trust::OtherIdentity,
            "signature-identity-mismatch",
            &["authenticity failed", "O=Other"],
        ),
        row(
            "unknown-critical-attribute",
            |k| {
                k.pki
                    .signer()
                    .attribute("com.example.unknown", "value", true)
            },
            Trust::Acme,
            unverified,
            &["integrity failed", "com.example.unknown", "critical"],
        ),
    ]
}

/// Runs every row in `format` on one registry; returns what did not come out as expected.
fn run_rows(format: EnvelopeFormat) -> Vec<String> {
    let reg = TestRegistry::start();
    let keys = Keys::new();
    let dir = tempfile::tempdir().unwrap();
    let mut wrong = Vec::new();
    for row in rows() {
        let repo = format!("notation-e2e/{format:?}-{}", row.name).to_lowercase();
        let img = push_image(&reg.url(), &repo, "v1");
        let other = push_image(&reg.url(), &repo, "other");
        let signer = (row.signer)(&keys).format(format);
        let signed_for = if row.for_other { &other } else { &img };
        let (envelope, media_type) = signer.sign(&signed_for.descriptor);
        attach_signature(
            &reg.url(),
            &repo,
            &img.descriptor,
            &envelope,
            media_type,
            &signer.chain,
        );
        let policy_dir = dir.path().join(&repo);
        std::fs::create_dir_all(&policy_dir).unwrap();
        let policy = write_policy(&policy_dir, &reg.host, &keys, row.trust, "  authorities:\n");
        let image = format!("{}/{repo}@{}", reg.host, img.digest);
        let (exit, decision, stderr) = shipgate_check(&image, &policy, &reg.host);
        let check = signature_check(&decision);
        let reason = check["reason"].as_str().unwrap_or_default();
        let pass = row.code == "signature-verified";
        let mut problems = Vec::new();
        if exit != Some(if pass { 0 } else { 1 }) {
            problems.push(format!("exit {exit:?}"));
        }
        let want_result = if pass { "pass" } else { "fail" };
        if check["code"] != row.code || check["result"] != want_result {
            problems.push(format!("{} / {}", check["code"], check["result"]));
        }
        let other_hex = other.digest.as_str().to_string();
        let mut needles: Vec<&str> = row.needles.to_vec();
        if row.for_other {
            needles.push(&other_hex);
        }
        problems.extend(
            needles
                .iter()
                .filter(|n| !reason.contains(**n))
                .map(|n| format!("reason lacks {n:?}")),
        );
        if pass {
            let signer = check["evidence"]["verified"][0]["signer"]
                .as_str()
                .unwrap_or_default();
            if signer != LEAF_SUBJECT {
                problems.push(format!("verified[0].signer is {signer:?}"));
            }
        }
        if !problems.is_empty() {
            wrong.push(format!(
                "{format:?} {}: {}\n  reason: {reason}\n  stderr: {stderr}",
                row.name,
                problems.join("; ")
            ));
        }
    }
    wrong
}

#[test]
fn jws_signatures_pass_and_fail_through_shipgate_check() {
    let wrong = run_rows(EnvelopeFormat::Jws);
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn cose_signatures_pass_and_fail_through_shipgate_check() {
    let wrong = run_rows(EnvelopeFormat::Cose);
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// A cosign key authority and a Notation authority under one `threshold: 2`: the Notation
/// signature alone is 1 of 2; with the cosign signature too, 2 of 2.
#[test]
fn notation_and_cosign_signatures_count_toward_one_threshold() {
    let reg = TestRegistry::start();
    let keys = Keys::new();
    let cosign = SigningKey::generate_p256();
    let img = push_image(&reg.url(), "notation-e2e/threshold", "v1");
    let (envelope, media_type) = keys.pki.signer().cose().sign(&img.descriptor);
    let chain = keys.pki.chain();
    attach_signature(
        &reg.url(),
        "notation-e2e/threshold",
        &img.descriptor,
        &envelope,
        media_type,
        &chain,
    );
    let dir = tempfile::tempdir().unwrap();
    let head = format!(
        "  threshold: 2\n  authorities:\n{}",
        key_authority("ci", &cosign.public_pem(), "optional")
    );
    let policy = write_policy(dir.path(), &reg.host, &keys, Trust::Acme, &head);
    let reference = format!("{}/notation-e2e/threshold", reg.host);
    let image = format!("{reference}@{}", img.digest);

    let (exit, decision, stderr) = shipgate_check(&image, &policy, &reg.host);
    let check = signature_check(&decision);
    let reason = check["reason"].as_str().unwrap();
    assert_eq!(exit, Some(1), "{decision:#}\n{stderr}");
    assert_eq!(check["result"], "fail", "{decision:#}");
    assert!(
        reason.contains("1 of the 2 required authorities verified")
            && reason.contains("No signature from authority `ci`"),
        "{reason}"
    );
    let verified = check["evidence"]["verified"].as_array().unwrap();
    assert_eq!(verified.len(), 1, "{decision:#}");
    assert_eq!(verified[0]["authority"], "release");

    attach_legacy_signature(
        &reg.url(),
        "notation-e2e/threshold",
        &img.digest,
        vec![LegacyLayer::signed(&cosign, &reference, &img.digest)],
    );
    let (exit, decision, stderr) = shipgate_check(&image, &policy, &reg.host);
    let check = signature_check(&decision);
    assert_eq!(exit, Some(0), "{decision:#}\n{stderr}");
    assert_eq!(check["code"], "signature-verified", "{decision:#}");
    let reason = check["reason"].as_str().unwrap();
    assert!(
        reason.contains("signed by 2 of the 2")
            && reason.contains("`release` (")
            && reason.contains("`ci` ("),
        "{reason}"
    );
}
