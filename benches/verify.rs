//! Criterion benchmarks of the hot paths, each beside its baseline in the same run:
//! - `verify/legacy-key` (a real cosign key signature, alice's, from the connaisseur dump) beside
//!   `floor/ecdsa-p256-verify`, the one signature check it cannot avoid;
//! - `verify/legacy-keyless` (a real keyless signature with its Rekor SET and Fulcio chain);
//! - `verify/bundle-v03` (sigstore-rs's real cosign v3 bundle);
//! - `evaluate/…`: choosing the policies for an image and judging collected evidence.
//!
//! Run: `cargo bench --bench verify` (reads `tests/data/vectors`).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine as _;
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use serde_json::Value;

use shipgate::evaluate::signature_check;
use shipgate::evidence::signatures::SignatureCollection;
use shipgate::evidence::{BundleArtifact, LegacySignature, SignatureArtifact};
use shipgate::policy::{Policy, PolicySet};
use shipgate::reference::{Digest, Repository};
use shipgate::verify::{TrustRoot, Verifier};

fn vectors() -> PathBuf {
    std::env::var_os("SHIPGATE_TEST_VECTORS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/vectors"))
}

fn dump() -> PathBuf {
    vectors().join("connaisseur/test-testdata-cosign/securesystemsengineering/testimage")
}

/// The legacy signature layers of `sha256-<hex>.sig` in the connaisseur dump.
fn legacy(digest: &Digest) -> Vec<SignatureArtifact> {
    let path = dump().join(format!("manifests/{}.json", digest.cosign_tag(".sig")));
    let manifest: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let layers = manifest["layers"].as_array().unwrap();
    layers
        .iter()
        .enumerate()
        .map(|(i, layer)| {
            let a = &layer["annotations"];
            let get = |k: &str| a[k].as_str().map(str::to_string);
            let blob = dump().join(format!("blobs/{}.json", layer["digest"].as_str().unwrap()));
            SignatureArtifact::Legacy(LegacySignature {
                payload: std::fs::read(blob).unwrap(),
                signature: get("dev.cosignproject.cosign/signature").unwrap(),
                certificate: get("dev.sigstore.cosign/certificate"),
                chain: get("dev.sigstore.cosign/chain"),
                rekor_bundle: get("dev.sigstore.cosign/bundle"),
                rfc3161_timestamp: get("dev.sigstore.cosign/rfc3161timestamp"),
                source: format!("layer {i}"),
            })
        })
        .collect()
}

fn policy(yaml: &str) -> Policy {
    Policy::from_yaml(yaml, Path::new("bench.yaml")).unwrap()
}

fn key_policy(keys: &[&str], threshold: usize) -> Policy {
    let mut text = format!("name: bench\nimages: [\"registry.test/**\"]\nsignatures:\n  threshold: {threshold}\n  authorities:\n");
    for k in keys {
        let pem = std::fs::read_to_string(
            vectors().join(format!("connaisseur/test-testdata-cosign/{k}.key")),
        )
        .unwrap();
        text.push_str(&format!(
            "    - name: {k}\n      transparencyLog: optional\n      key: |\n"
        ));
        for line in pem.lines() {
            text.push_str(&format!("        {line}\n"));
        }
    }
    policy(&text)
}

fn keyless_policy(issuer: &str, subject: &str) -> Policy {
    policy(&format!("name: bench\nimages: [\"registry.test/**\"]\nsignatures:\n  authorities:\n    - name: ci\n      keyless:\n        issuer: {issuer}\n        subject: {subject}\n"))
}

fn benches(c: &mut Criterion) {
    let verifier = Verifier::new(Arc::new(TrustRoot::public_good().unwrap()));

    // Key-based legacy signature and its crypto floor.
    let alice_digest: Digest =
        "sha256:071bf7a986f1ca9cb2a1f0bc8392822a7777f90d58f2d2c6f271913e08de7c81"
            .parse()
            .unwrap();
    let alice = legacy(&alice_digest);
    let alice_policy = key_policy(&["alice"], 1);
    let alice_auth = &alice_policy.signatures.as_ref().unwrap().authorities;
    assert!(verifier.verify_signature(&alice[0], &alice_digest, alice_auth)[0].is_ok());
    c.bench_function("verify/legacy-key", |b| {
        b.iter(|| verifier.verify_signature(black_box(&alice[0]), &alice_digest, alice_auth))
    });
    let SignatureArtifact::Legacy(l) = &alice[0] else {
        unreachable!()
    };
    let sig = base64::engine::general_purpose::STANDARD
        .decode(&l.signature)
        .unwrap();
    let pem = std::fs::read_to_string(vectors().join("connaisseur/test-testdata-cosign/alice.key"))
        .unwrap();
    let der_b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let spki = base64::engine::general_purpose::STANDARD
        .decode(der_b64)
        .unwrap();
    // The last 65 bytes of a P-256 SPKI are the uncompressed point.
    let point = &spki[spki.len() - 65..];
    let key = aws_lc_rs::signature::UnparsedPublicKey::new(
        &aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1,
        point,
    );
    assert!(key.verify(&l.payload, &sig).is_ok());
    c.bench_function("floor/ecdsa-p256-verify", |b| {
        b.iter(|| key.verify(black_box(&l.payload), black_box(&sig)))
    });

    // Keyless legacy signature with a Rekor SET, public-good root.
    let keyless_digest: Digest =
        "sha256:31dc72a13a0c34b40eb95419d2b2fd67320c856baf3b72da518023ee8d370aee"
            .parse()
            .unwrap();
    let keyless = legacy(&keyless_digest);
    let kp = keyless_policy(
        "https://github.com/login/oauth",
        "philipp.belitz@securesystems.de",
    );
    let ka = &kp.signatures.as_ref().unwrap().authorities;
    assert!(verifier.verify_signature(&keyless[0], &keyless_digest, ka)[0].is_ok());
    c.bench_function("verify/legacy-keyless", |b| {
        b.iter(|| verifier.verify_signature(black_box(&keyless[0]), &keyless_digest, ka))
    });

    // Real cosign v3 bundle.
    let bundle = SignatureArtifact::Bundle(BundleArtifact {
        json: std::fs::read(vectors().join("sigstore-rs/bundle_v03.json")).unwrap(),
        media_type: "application/vnd.dev.sigstore.bundle.v0.3+json".into(),
        source: "bench".into(),
    });
    let bundle_digest: Digest =
        "sha256:c811d58de79c92f03214e63aa339484e488d694ae8a6283b5f3f17a9faf50172"
            .parse()
            .unwrap();
    let bp = keyless_policy(
        "https://token.actions.githubusercontent.com",
        "https://github.com/kubewarden/kubewarden-controller/.github/workflows/release.yml@refs/tags/v1.34.0",
    );
    let ba = &bp.signatures.as_ref().unwrap().authorities;
    assert!(verifier.verify_signature(&bundle, &bundle_digest, ba)[0].is_ok());
    c.bench_function("verify/bundle-v03", |b| {
        b.iter(|| verifier.verify_signature(black_box(&bundle), &bundle_digest, ba))
    });

    // Policy evaluation: select policies for an image among 50, then judge a 3-of-3 threshold
    // over the three-signature image (9 verifications).
    let mut many: Vec<Policy> = (0..49)
        .map(|i| policy(&format!("name: p{i}\nimages: [\"team{i}.example.com/**\", \"*.dkr.ecr.*.amazonaws.com/t{i}/**\"]\nsignatures:\n  authorities:\n    - name: ci\n      keyless:\n        issuer: x\n        subject: y\n")))
        .collect();
    many.push(key_policy(&["alice", "bob", "charlie"], 3));
    let set = PolicySet::new(many).unwrap();
    let repo = Repository {
        registry: "registry.test".into(),
        name: "team/app".into(),
    };
    c.bench_function("evaluate/select-policies-of-50", |b| {
        b.iter(|| set.governing(black_box(&repo)))
    });
    let multi_digest: Digest =
        "sha256:bfec161fecb0a887df7cb85e4da327c65986ccda7060cf3cd92171c6c90d7533"
            .parse()
            .unwrap();
    let found = SignatureCollection {
        artifacts: legacy(&multi_digest),
        notes: vec![],
        errors: vec![],
        truncated: vec![],
    };
    let p = set.get("bench").unwrap();
    let rule = p.signatures.as_ref().unwrap();
    assert_eq!(
        signature_check("bench", rule, &multi_digest, &found, &verifier).result,
        shipgate::decision::CheckResult::Pass
    );
    c.bench_function("evaluate/threshold-3-of-3", |b| {
        b.iter(|| signature_check("bench", rule, black_box(&multi_digest), &found, &verifier))
    });
}

criterion_group!(benches_group, benches);
criterion_main!(benches_group);
