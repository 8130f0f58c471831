//! Seeds a registry for the load and cold-check benchmarks: pushes `bench/app:v1`, signs it the
//! way `cosign sign --key` does (legacy `.sig` tag) with a fresh P-256 key, and writes the
//! public key and a policy for it into OUT_DIR. Uses the test fixtures, not the gate.
//!
//! Usage: `seed_signed_image http://127.0.0.1:PORT OUT_DIR` → prints the image digest.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

#[allow(unused_imports)]
#[path = "../tests/it/common/mod.rs"]
mod common;

use common::cosign::{attach_legacy_signature, LegacyLayer, SigningKey};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (url, out) = (&args[1], std::path::Path::new(&args[2]));
    let host = url.trim_start_matches("http://");
    let img = common::oci::push_image(url, "bench/app", "v1");
    let key = SigningKey::generate_p256();
    let layer = LegacyLayer::signed(&key, &format!("{host}/bench/app"), &img.digest);
    attach_legacy_signature(url, "bench/app", &img.digest, vec![layer]);
    std::fs::create_dir_all(out).expect("out dir");
    std::fs::write(out.join("release.pub"), key.public_pem()).expect("key");
    let policy = format!(
        "name: bench\nimages: [\"{host}/**\"]\nsignatures:\n  authorities:\n    - name: release\n      keyRef: release.pub\n      transparencyLog: optional\n"
    );
    std::fs::write(out.join("policy.yaml"), policy).expect("policy");
    println!("{}", img.digest);
}
