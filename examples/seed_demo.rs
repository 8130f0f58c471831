//! Seeds a registry for the README's quick start (`scripts/demo.sh`): pushes `demo/app:signed`,
//! signed the way `cosign sign --key` does (legacy `.sig` tag) with a fresh P-256 key, and
//! `demo/app:unsigned`, which nobody signed. Writes the public key (`release.pub`) and a shipgate
//! policy for `HOST/demo/**` that requires that key (`policy.yaml`) into OUT_DIR. Uses the test
//! fixtures, not the gate.
//!
//! Usage: `seed_demo http://127.0.0.1:PORT OUT_DIR` → prints one line per image pushed.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

#[allow(unused_imports)]
#[path = "../tests/it/common/mod.rs"]
mod common;

use common::cosign::{attach_legacy_signature, LegacyLayer, SigningKey};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 {
        eprintln!("usage: seed_demo http://127.0.0.1:PORT OUT_DIR");
        std::process::exit(2);
    }
    let (url, out) = (&args[1], std::path::Path::new(&args[2]));
    let host = url.trim_start_matches("http://");

    let signed = common::oci::push_image(url, "demo/app", "signed");
    let key = SigningKey::generate_p256();
    let layer = LegacyLayer::signed(&key, &format!("{host}/demo/app"), &signed.digest);
    attach_legacy_signature(url, "demo/app", &signed.digest, vec![layer]);
    let unsigned = common::oci::push_image(url, "demo/app", "unsigned");

    std::fs::create_dir_all(out).expect("out dir");
    std::fs::write(out.join("release.pub"), key.public_pem()).expect("key");
    let policy = format!(
        "# The quick start's policy: every image under {host}/demo/ must be signed by release.pub.\n\
         name: demo\n\
         images: [\"{host}/demo/**\"]\n\
         signatures:\n\
         \x20 authorities:\n\
         \x20   - name: release\n\
         \x20     keyRef: release.pub\n\
         \x20     transparencyLog: optional   # a key signature needs no Rekor entry\n"
    );
    std::fs::write(out.join("policy.yaml"), policy).expect("policy");
    println!("pushed {host}/demo/app:signed ({}), signed", signed.digest);
    println!(
        "pushed {host}/demo/app:unsigned ({}), not signed",
        unsigned.digest
    );
}
