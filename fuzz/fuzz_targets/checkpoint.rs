//! Arbitrary text as a Rekor signed-note checkpoint (origin, size, root hash, signature lines),
//! checked against every log of the conformance `rekor2-happy-path` trust root (its Ed25519
//! Rekor v2 log, so the seed checkpoints verify and mutations reach the signature check).
//! Must return, never panic, hang or allocate without bound.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use shipgate::verify::{fuzzing, TrustRoot};

const ROOT_JSON: &[u8] = include_bytes!("../keys/rekor2-happy-path.trusted_root.json");

fn root() -> &'static TrustRoot {
    static ROOT: OnceLock<TrustRoot> = OnceLock::new();
    ROOT.get_or_init(|| TrustRoot::from_json(ROOT_JSON).expect("conformance trusted root"))
}

fuzz_target!(|data: &[u8]| {
    // The checkpoint reaches the verifier as a JSON string, so only UTF-8 text is possible.
    if let Ok(note) = std::str::from_utf8(data) {
        let _ = fuzzing::rekor_checkpoint(note, root());
    }
});
