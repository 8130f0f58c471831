//! Arbitrary bytes as a Notary Project signature envelope, JWS (`application/jose+json`) and
//! COSE_Sign1 (`application/cose`), parsed exactly as verification parses a signature layer,
//! and its signature checked with the leaf key it carries. Must return, never panic, hang or
//! allocate without bound. Seeds: the real notation and notation-go envelopes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shipgate::verify::fuzzing;

fuzz_target!(|data: &[u8]| {
    let _ = fuzzing::notation_envelope(data);
});
