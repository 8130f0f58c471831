//! Criterion benchmarks of Notary Project verification, each beside its crypto floor in the
//! same run: the one signature check a verifier cannot avoid (the leaf's RSASSA-PSS signature
//! over the exact signed bytes), measured with aws-lc-rs directly.
//! - `notation/jws-ps256` — notation's real e2e JWS signature (PS256, self-signed e2e leaf,
//!   `ca:e2e` store, strict level) — beside `floor/rsa-pss-sha256-jws`;
//! - `notation/cose-ps256-timestamped` — notation-go's real COSE_Sign1 with a GlobalSign
//!   RFC 3161 countersignature (so it also verifies the TSA's CMS signature and chain) — beside
//!   `floor/rsa-pss-sha256-cose`.
//!
//! Run: `cargo bench --bench notation` (reads `tests/data/vectors/notation`).
#![allow(clippy::unwrap_used, clippy::expect_used)] // bench code: a failed unwrap is a failed run

use std::path::{Path, PathBuf};

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use x509_cert::der::{Decode as _, Encode as _};

use shipgate::verify::fuzzing::notation_signed_parts;
use shipgate::verify::notation::{
    self, RevocationStatus, Target, TrustPolicyDocument, TrustStores, COSE_MEDIA_TYPE,
    JWS_MEDIA_TYPE,
};

fn vectors() -> PathBuf {
    std::env::var_os("SHIPGATE_TEST_VECTORS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/vectors"))
        .join("notation")
}

fn read(path: &str) -> Vec<u8> {
    std::fs::read(vectors().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The RSASSA-PSS SHA-256 check of the leaf's signature over the signed bytes, nothing else.
fn floor(envelope: &[u8], media_type: &str) -> impl Fn() -> bool {
    let (signed, signature, leaf) = notation_signed_parts(envelope, media_type).unwrap();
    let cert = x509_cert::Certificate::from_der(&leaf).unwrap();
    let spki = cert
        .tbs_certificate()
        .subject_public_key_info()
        .to_der()
        .unwrap();
    move || {
        aws_lc_rs::signature::UnparsedPublicKey::new(
            &aws_lc_rs::signature::RSA_PSS_2048_8192_SHA256,
            &spki,
        )
        .verify(black_box(&signed), black_box(&signature))
        .is_ok()
    }
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn benches(c: &mut Criterion) {
    // notation e2e: JWS, PS256, self-signed leaf in ca:e2e, strict.
    let layout = "notation/test/e2e/testdata/registry/oci_layout/e2e-valid-signature/blobs/sha256";
    let jws = read(&format!(
        "{layout}/c9af07e038b2b1a463e648986ad7273157511ffeba0b689f33e5472bae471f50"
    ));
    let mut stores = TrustStores::new();
    stores
        .add_certificates(
            notation::StoreKind::Ca,
            "e2e",
            &read("notation/test/e2e/testdata/config/localkeys/e2e.crt"),
        )
        .unwrap();
    let doc = TrustPolicyDocument::from_json(&read(
        "notation/test/e2e/testdata/config/trustpolicies/trustpolicy.json",
    ))
    .unwrap();
    let statement = doc.statement_for("localhost:5000/e2e").unwrap();
    let target = Target {
        media_type: "application/vnd.oci.image.manifest.v1+json".into(),
        digest: "sha256:b8479de3f88fb259a0a9ea82a5b2a052a1ef3c4ebbcfc61482d5ae4c831f8af9".into(),
        size: 517,
    };
    let verify_jws = || {
        notation::verify(
            black_box(&jws),
            JWS_MEDIA_TYPE,
            &target,
            statement,
            &stores,
            now(),
            &RevocationStatus::NotChecked,
        )
    };
    assert!(verify_jws().is_ok(), "{:?}", verify_jws());
    c.bench_function("notation/jws-ps256", |b| b.iter(verify_jws));
    let jws_floor = floor(&jws, JWS_MEDIA_TYPE);
    assert!(jws_floor());
    c.bench_function("floor/rsa-pss-sha256-jws", |b| b.iter(&jws_floor));

    // notation-go: COSE_Sign1, PS256, GlobalSign RFC 3161 countersignature, tsa store.
    let cose = read("notation-go/verifier/testdata/timestamp/sigEnv/coseWithTimestamp.sig");
    let stores =
        TrustStores::from_dir(&vectors().join("notation-go/verifier/testdata/truststore/x509"))
            .unwrap();
    let doc = TrustPolicyDocument::from_json(&read(
        "notation-go/derived/trustpolicy.test-timestamp.json",
    ))
    .unwrap();
    let statement = doc.statement_for("localhost:5000/net-monitor").unwrap();
    let target = Target {
        media_type: "application/vnd.docker.distribution.manifest.v2+json".into(),
        digest: "sha256:c0669ef34cdc14332c0f1ab0c2c01acb91d96014b172f1a76f3a39e63d1f0bda".into(),
        size: 528,
    };
    let verify_cose = || {
        notation::verify(
            black_box(&cose),
            COSE_MEDIA_TYPE,
            &target,
            statement,
            &stores,
            now(),
            &RevocationStatus::NotChecked,
        )
    };
    assert!(verify_cose().is_ok(), "{:?}", verify_cose());
    c.bench_function("notation/cose-ps256-timestamped", |b| b.iter(verify_cose));
    let cose_floor = floor(&cose, COSE_MEDIA_TYPE);
    assert!(cose_floor());
    c.bench_function("floor/rsa-pss-sha256-cose", |b| b.iter(&cose_floor));
}

criterion_group!(benches_group, benches);
criterion_main!(benches_group);
