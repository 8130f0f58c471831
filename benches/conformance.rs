//! The Sigstore conformance suite's happy-path bundles through `Verifier::verify_signature`,
//! beside the bare signature operations a verifier cannot avoid for such a bundle, timed in the
//! same run:
//! - leaf-by-CA: ECDSA P-384/SHA-384 (the public-good Fulcio intermediate) over a leaf TBS;
//! - SCT: ECDSA P-256 over the precertificate entry;
//! - log proof: ECDSA P-256 over the SET payload, and over the checkpoint note;
//! - artifact signature: ECDSA P-256 over the signed bytes.
//!
//! The floor signatures are made fresh with the same curves, hashes and message sizes as the
//! real ones (the real SCT and SET inputs are derived data the verifier reconstructs).
//! `floor/bundle` runs all five in sequence: the cost of verifying such a bundle with no parsing,
//! no hashing of the Merkle path and no policy. Run: `cargo bench --bench conformance`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use std::path::{Path, PathBuf};
use std::sync::Arc;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    EcdsaKeyPair, KeyPair, UnparsedPublicKey, ECDSA_P256_SHA256_ASN1,
    ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P384_SHA384_ASN1, ECDSA_P384_SHA384_ASN1_SIGNING,
};
use criterion::{black_box, criterion_group, criterion_main, Criterion};

use shipgate::evidence::{BundleArtifact, SignatureArtifact};
use shipgate::policy::{Authority, Identity, Matcher, TlogRequirement};
use shipgate::reference::Digest;
use shipgate::verify::{TrustRoot, Verifier};

const HAPPY: [&str; 5] = [
    "happy-path-v0.1",
    "happy-path-v0.2",
    "happy-path-v0.3",
    "happy-path-v0.3-new-mediaType",
    "happy-path-intoto-in-dsse-v3",
];
const IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const ISSUER: &str = "https://token.actions.githubusercontent.com";

fn suite() -> PathBuf {
    std::env::var_os("SHIPGATE_TEST_VECTORS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/vectors"))
        .join("sigstore-conformance/assets/bundle-verify")
}

/// A fresh signature over `len` bytes and the key that checks it.
struct Op {
    key: UnparsedPublicKey<Vec<u8>>,
    msg: Vec<u8>,
    sig: Vec<u8>,
}

impl Op {
    fn new(p384: bool, len: usize) -> Op {
        let rng = SystemRandom::new();
        let (signing, verifying) = if p384 {
            (&ECDSA_P384_SHA384_ASN1_SIGNING, &ECDSA_P384_SHA384_ASN1)
        } else {
            (&ECDSA_P256_SHA256_ASN1_SIGNING, &ECDSA_P256_SHA256_ASN1)
        };
        let pair = EcdsaKeyPair::generate(signing).unwrap();
        let msg: Vec<u8> = (0..len).map(|i| i as u8).collect();
        let sig = pair.sign(&rng, &msg).unwrap().as_ref().to_vec();
        let key = UnparsedPublicKey::new(verifying, pair.public_key().as_ref().to_vec());
        Op { key, msg, sig }
    }
    fn verify(&self) -> bool {
        self.key
            .verify(black_box(&self.msg), black_box(&self.sig))
            .is_ok()
    }
}

fn benches(c: &mut Criterion) {
    let verifier = Verifier::new(Arc::new(TrustRoot::public_good().unwrap()));
    let authority = [Authority {
        name: "conformance".into(),
        identity: Identity::Keyless {
            issuer: Matcher::Exact(ISSUER.into()),
            subject: Matcher::Exact(IDENTITY.into()),
            claims: Vec::new(),
        },
        tlog: TlogRequirement::Required,
        trust_root: None,
    }];
    let artifact = std::fs::read(suite().join("a.txt")).unwrap();
    let digest = Digest::of(&artifact);
    for case in HAPPY {
        let dir = suite().join(case);
        let subject = match std::fs::read(dir.join("artifact")) {
            Ok(bytes) => Digest::of(&bytes),
            Err(_) => digest.clone(),
        };
        let bundle = SignatureArtifact::Bundle(BundleArtifact {
            json: std::fs::read(dir.join("bundle.sigstore.json")).unwrap(),
            media_type: String::new(),
            source: case.into(),
        });
        let first = verifier.verify_signature(&bundle, &subject, &authority);
        assert!(first[0].is_ok(), "{case}: {:?}", first[0]);
        c.bench_function(&format!("verify/{case}"), |b| {
            b.iter(|| verifier.verify_signature(black_box(&bundle), &subject, &authority))
        });
    }

    let leaf_by_ca = Op::new(true, 700);
    let sct = Op::new(false, 700);
    let set = Op::new(false, 450);
    let checkpoint = Op::new(false, 120);
    let artifact_sig = Op::new(false, 64);
    c.bench_function("floor/leaf-by-ca-p384", |b| b.iter(|| leaf_by_ca.verify()));
    c.bench_function("floor/p256-verify", |b| b.iter(|| sct.verify()));
    c.bench_function("floor/bundle", |b| {
        b.iter(|| {
            leaf_by_ca.verify()
                & sct.verify()
                & set.verify()
                & checkpoint.verify()
                & artifact_sig.verify()
        })
    });
}

criterion_group!(group, benches);
criterion_main!(group);
