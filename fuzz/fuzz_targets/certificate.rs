//! Arbitrary bytes as an X.509 certificate: DER sliced by hand (`asn1`), decoded, read as a
//! Fulcio leaf (identity, issuer extensions) and verified (profile, chain to the CA, SCT)
//! against the public-good trust root; and, as text, as the PEM of cosign's certificate and
//! chain annotations. Must return, never panic, hang or allocate without bound.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use shipgate::verify::{fuzzing, TrustRoot};

fn root() -> &'static TrustRoot {
    static ROOT: OnceLock<TrustRoot> = OnceLock::new();
    ROOT.get_or_init(|| TrustRoot::public_good().expect("embedded public-good trusted root"))
}

fuzz_target!(|data: &[u8]| {
    let _ = fuzzing::certificate_der(data, root());
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = fuzzing::certificate_pem(text);
    }
});
