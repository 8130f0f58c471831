//! Notary Project signature envelopes: JWS (flattened JSON) and COSE_Sign1, parsed into one
//! shape. Parsing checks the envelope's own rules (required and critical headers, content
//! type, encodings, sizes); [`Envelope::verify_signature`] checks the signature with a key.
//!
//! Each format ([`jws`], [`cose`]) reads its encoding; [`rules`] then applies what the Notary
//! Project signature specification states once for both.

mod cbor;
mod cose;
mod jws;
mod rules;
#[cfg(test)]
mod tests;

use aws_lc_rs::signature::{self as sig, UnparsedPublicKey, VerificationAlgorithm};

use super::super::keys::{KeyKind, PublicKey};
use super::super::x509::{MAX_CERT_LEN, MAX_CHAIN};
use super::super::Rejection;
use super::{COSE_MEDIA_TYPE, JWS_MEDIA_TYPE};
#[cfg(test)]
use rules::show_time;
use rules::{check_chain_len, finish, Format, Label, Parts};

/// Largest envelope we read.
pub(crate) const MAX_ENVELOPE_LEN: usize = 1024 * 1024;
/// Largest RFC 3161 timestamp token we keep.
pub(crate) const MAX_TIMESTAMP_LEN: usize = 64 * 1024;

/// The only payload content type the specification defines.
const PAYLOAD_MEDIA_TYPE: &str = "application/vnd.cncf.notary.payload.v1+json";
const SIGNING_SCHEME: &str = "io.cncf.notary.signingScheme";
const SIGNING_TIME: &str = "io.cncf.notary.signingTime";
const AUTHENTIC_SIGNING_TIME: &str = "io.cncf.notary.authenticSigningTime";
const EXPIRY: &str = "io.cncf.notary.expiry";
const VERIFICATION_PLUGIN: &str = "io.cncf.notary.verificationPlugin";
const VERIFICATION_PLUGIN_MIN_VERSION: &str = "io.cncf.notary.verificationPluginMinVersion";
const SIGNING_AGENT: &str = "io.cncf.notary.signingAgent";
const TIMESTAMP_SIGNATURE: &str = "io.cncf.notary.timestampSignature";
/// The namespace the specification reserves for its own headers.
const NOTARY_PREFIX: &str = "io.cncf.notary.";

/// The two signing schemes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SigningScheme {
    /// `notary.x509`: signing time is claimed; a timestamp may prove it.
    X509,
    /// `notary.x509.signingAuthority`: the signing authority vouches for the signing time.
    X509SigningAuthority,
}

/// The signature algorithms Notation allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SignatureAlgorithm {
    Ps256,
    Ps384,
    Ps512,
    Es256,
    Es384,
    Es512,
}

/// A signed attribute that is not one of Notary's own (`io.cncf.notary.*`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ExtendedAttribute {
    pub key: String,
    /// Listed in `crit`: a verifier that does not understand it must fail.
    pub critical: bool,
    pub value: serde_json::Value,
}

/// A parsed envelope.
#[derive(Debug, Clone)]
pub(crate) struct Envelope {
    /// The payload bytes as signed (`{"targetArtifact": {…}}`).
    pub payload: Vec<u8>,
    /// The exact bytes the signature is over: the JWS signing input
    /// (`BASE64URL(protected) '.' BASE64URL(payload)`) or the COSE `Sig_structure`.
    pub signed_bytes: Vec<u8>,
    /// The signature (RSASSA-PSS, or ECDSA as fixed-size `r || s`).
    pub signature: Vec<u8>,
    pub alg: SignatureAlgorithm,
    /// DER certificates, leaf first (`x5c` / `x5chain`).
    pub cert_chain: Vec<Vec<u8>>,
    pub signing_scheme: SigningScheme,
    /// `io.cncf.notary.signingTime` (Unix seconds); `notary.x509` only.
    pub signing_time: Option<i64>,
    /// `io.cncf.notary.authenticSigningTime`; `notary.x509.signingAuthority` only.
    pub authentic_signing_time: Option<i64>,
    /// `io.cncf.notary.expiry`.
    pub expiry: Option<i64>,
    /// `io.cncf.notary.verificationPlugin`.
    pub verification_plugin: Option<String>,
    /// `io.cncf.notary.verificationPluginMinVersion`.
    pub verification_plugin_min_version: Option<String>,
    /// Other protected headers (not `alg`/`crit`/`cty`, not `io.cncf.notary.*`).
    pub extended: Vec<ExtendedAttribute>,
    /// `io.cncf.notary.signingAgent` (unprotected; informational).
    pub signing_agent: Option<String>,
    /// `io.cncf.notary.timestampSignature`: a DER RFC 3161 `TimeStampToken` over `signature`.
    pub timestamp_token: Option<Vec<u8>>,
}

/// Parses an envelope of `media_type` (`application/jose+json` or `application/cose`).
pub(crate) fn parse(bytes: &[u8], media_type: &str) -> Result<Envelope, Rejection> {
    if bytes.len() > MAX_ENVELOPE_LEN {
        return Err(Rejection::new(format!(
            "the signature envelope is {} bytes; at most {MAX_ENVELOPE_LEN} are read",
            bytes.len()
        )));
    }
    let media_type = media_type.trim();
    if media_type.eq_ignore_ascii_case(JWS_MEDIA_TYPE) {
        jws::parse(bytes)
    } else if media_type.eq_ignore_ascii_case(COSE_MEDIA_TYPE) {
        cose::parse(bytes)
    } else {
        Err(Rejection::new(format!(
            "signature envelope media type `{media_type}` is not supported \
             ({JWS_MEDIA_TYPE} and {COSE_MEDIA_TYPE} are)"
        )))
    }
}

impl Envelope {
    /// Whether `signature` over `signed_bytes` verifies with `key` under `alg` (the key type
    /// must fit the algorithm: RSA for PS*, P-256/P-384/P-521 for ES256/384/512).
    ///
    /// For RSA the key size must also be the one the specification pairs with the algorithm
    /// (2048 bits for PS256, 3072 for PS384, 4096 for PS512), as Notation checks: the
    /// signing key, not the header, is the source of truth for the algorithm.
    pub fn verify_signature(&self, key: &PublicKey) -> bool {
        let alg: &'static dyn VerificationAlgorithm = match (self.alg, key.kind()) {
            (SignatureAlgorithm::Es256, KeyKind::P256) => &sig::ECDSA_P256_SHA256_FIXED,
            (SignatureAlgorithm::Es384, KeyKind::P384) => &sig::ECDSA_P384_SHA384_FIXED,
            (SignatureAlgorithm::Es512, KeyKind::P521) => &sig::ECDSA_P521_SHA512_FIXED,
            (SignatureAlgorithm::Ps256, KeyKind::Rsa) if rsa_bits(key) == Some(2048) => {
                &sig::RSA_PSS_2048_8192_SHA256
            }
            (SignatureAlgorithm::Ps384, KeyKind::Rsa) if rsa_bits(key) == Some(3072) => {
                &sig::RSA_PSS_2048_8192_SHA384
            }
            (SignatureAlgorithm::Ps512, KeyKind::Rsa) if rsa_bits(key) == Some(4096) => {
                &sig::RSA_PSS_2048_8192_SHA512
            }
            _ => return false,
        };
        UnparsedPublicKey::new(alg, key.spki_der())
            .verify(&self.signed_bytes, &self.signature)
            .is_ok()
    }
}

/// The modulus size of an RSA key.
fn rsa_bits(key: &PublicKey) -> Option<usize> {
    aws_lc_rs::rsa::PublicEncryptingKey::from_der(key.spki_der())
        .ok()
        .map(|k| k.key_size_bits())
}
