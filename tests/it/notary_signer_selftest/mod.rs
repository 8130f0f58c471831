//! Self-test of the Notation test signer (`common/notary_signer/`), independent of shipgate's
//! verifier: envelope signatures are checked with aws-lc-rs against the leaf's SPKI (parsed with
//! `x509-cert`), COSE with a small CBOR reader written here, RFC 3161 tokens with a CMS check done
//! here and, when the `openssl` CLI is installed, with `openssl ts -verify`.
//!
//! Topics: `jws` and `cose` (envelope shape, conformance vectors, signatures), `tsa` (RFC 3161
//! tokens), `pki` (certificates, trust store, signature manifest), `registry` (attaching);
//! `cbor` is the CBOR reader the checks use.

mod cbor;
mod cose;
mod jws;
mod pki;
mod registry;
mod tsa;

use std::process::Command;

use aws_lc_rs::signature as sig;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine as _;
use serde_json::Value;
use x509_cert::der::Decode as _;
use x509_cert::Certificate;

use crate::common::notary_signer::KeyKind;
use crate::common::oci::{self, Descriptor};

const EXPIRY: &str = "io.cncf.notary.expiry";
const SCHEME: &str = "io.cncf.notary.signingScheme";
const PLUGIN: &str = "io.cncf.notary.verificationPlugin";
const AST: &str = "io.cncf.notary.authenticSigningTime";

fn subject() -> Descriptor {
    Descriptor::of(oci::OCI_MANIFEST, &oci::random_bytes(40))
}

fn days(n: i64) -> time::Duration {
    time::Duration::days(n)
}

/// Verifies a Notary signature (ECDSA r||s or RSASSA-PSS) with the SPKI of `leaf`.
fn verifies(kind: KeyKind, leaf: &[u8], msg: &[u8], signature: &[u8]) -> bool {
    let cert = Certificate::from_der(leaf).unwrap();
    let key = cert
        .tbs_certificate()
        .subject_public_key_info()
        .subject_public_key
        .raw_bytes()
        .to_vec();
    let alg: &'static dyn sig::VerificationAlgorithm = match kind {
        KeyKind::EcP256 => &sig::ECDSA_P256_SHA256_FIXED,
        KeyKind::EcP384 => &sig::ECDSA_P384_SHA384_FIXED,
        KeyKind::EcP521 => &sig::ECDSA_P521_SHA512_FIXED,
        KeyKind::Rsa2048 => &sig::RSA_PSS_2048_8192_SHA256,
        KeyKind::Rsa3072 => &sig::RSA_PSS_2048_8192_SHA384,
        KeyKind::Rsa4096 => &sig::RSA_PSS_2048_8192_SHA512,
    };
    sig::UnparsedPublicKey::new(alg, key)
        .verify(msg, signature)
        .is_ok()
}

/// The parts of a flattened JWS: (protected header, protected b64, payload b64, signature, header).
fn jws_parts(env: &[u8]) -> (Value, String, String, Vec<u8>, Value) {
    let text = std::str::from_utf8(env).unwrap();
    // notation-core-go marshals a struct: payload, protected, header, signature.
    let at = |k: &str| text.find(&format!("\"{k}\":")).unwrap();
    assert!(
        at("payload") < at("protected")
            && at("protected") < at("header")
            && at("header") < at("signature"),
        "{text}"
    );
    let v: Value = serde_json::from_slice(env).unwrap();
    let p = v["protected"].as_str().unwrap().to_string();
    let raw = String::from_utf8(B64URL.decode(&p).unwrap()).unwrap();
    // Go marshals the header from a map: keys in sorted order.
    let h: Value = serde_json::from_str(&raw).unwrap();
    let keys: Vec<&String> = h.as_object().unwrap().keys().collect();
    let pos: Vec<usize> = keys
        .iter()
        .map(|k| raw.find(&format!("\"{k}\":")).unwrap())
        .collect();
    assert!(
        pos.windows(2).all(|w| w[0] < w[1]),
        "unsorted protected header {raw}"
    );
    let signature = B64URL.decode(v["signature"].as_str().unwrap()).unwrap();
    (
        h,
        p,
        v["payload"].as_str().unwrap().to_string(),
        signature,
        v["header"].clone(),
    )
}

fn time_str(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

fn pem_encode_cert(der: &[u8]) -> String {
    crate::common::cosign::pem_encode("CERTIFICATE", der)
}

fn s(p: &std::path::Path) -> &str {
    p.to_str().unwrap()
}

fn which_openssl() -> bool {
    let found = Command::new("which")
        .arg("openssl")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !found {
        eprintln!("note: `openssl` is not installed; skipping the openssl cross-checks");
    }
    found
}

fn openssl(args: &[&str]) -> std::process::Output {
    Command::new("openssl").args(args).output().unwrap()
}
