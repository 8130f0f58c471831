//! Arbitrary bytes as a Rekor entry body (hashedrekord, dsse, intoto; 0.0.1 and 0.0.2), parsed
//! as a verified log entry's body is; and as the cosign `dev.sigstore.cosign/bundle` annotation
//! (SET, integrated time, base64 body, log id), verified against a trust root as a legacy
//! signature's log entry is. Must return, never panic, hang or allocate without bound.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use shipgate::verify::{fuzzing, TrustRoot};

fn root() -> &'static TrustRoot {
    static ROOT: OnceLock<TrustRoot> = OnceLock::new();
    ROOT.get_or_init(|| TrustRoot::public_good().expect("embedded public-good trusted root"))
}

fuzz_target!(|data: &[u8]| {
    let _ = fuzzing::rekor_body(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = fuzzing::rekor_bundle_annotation(text, root());
    }
});
