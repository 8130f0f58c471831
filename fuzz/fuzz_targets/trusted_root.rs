//! Arbitrary bytes as a `trusted_root.json`: parsing must return `Ok` or `Err`, never panic,
//! hang or allocate without bound.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shipgate::verify::TrustRoot;

fuzz_target!(|data: &[u8]| {
    let _ = TrustRoot::from_json(data);
});
