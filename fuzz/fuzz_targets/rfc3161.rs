//! Arbitrary bytes as an RFC 3161 timestamp (a `TimeStampResp` or bare `TimeStampToken`: CMS
//! SignedData over a TSTInfo, DER), verified over a fixed signature against a trust root with a
//! timestamp authority, exactly as a bundle's timestamp is; and the same bytes as the cosign
//! `rfc3161timestamp` annotation text. Must return, never panic, hang or allocate without bound.
//!
//! The trust root and signature are the sigstore-conformance `rekor2-happy-path` case's, so its
//! timestamp (a seed) verifies and mutations reach the signer and validity checks.
#![no_main]

use std::sync::OnceLock;

use base64::Engine as _;
use libfuzzer_sys::fuzz_target;
use shipgate::verify::{fuzzing, TrustRoot};

const ROOT_JSON: &[u8] = include_bytes!("../keys/rekor2-happy-path.trusted_root.json");
/// `messageSignature.signature` of the conformance `rekor2-happy-path` bundle.
const SIGNATURE_B64: &str =
    "MEYCIQDM0YxJn7VsUc7FvU7SBXelSzFUWewaeQlbhP5mbpVnawIhAPaZ5dns1a38KgelWWCs1SW1lyrXxVz2RtiiFKDOELlC";

fn fixture() -> &'static (TrustRoot, Vec<u8>) {
    static FIXTURE: OnceLock<(TrustRoot, Vec<u8>)> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let root = TrustRoot::from_json(ROOT_JSON).expect("conformance trusted root");
        let sig = base64::engine::general_purpose::STANDARD
            .decode(SIGNATURE_B64)
            .expect("signature base64");
        (root, sig)
    })
}

fuzz_target!(|data: &[u8]| {
    let (root, signature) = fixture();
    let _ = fuzzing::rfc3161_timestamp(data, signature, root);
    if let Ok(text) = std::str::from_utf8(data) {
        if let Some(der) = fuzzing::rfc3161_annotation(text) {
            let _ = fuzzing::rfc3161_timestamp(&der, signature, root);
        }
    }
});
