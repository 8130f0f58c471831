//! Notary Project signature envelopes: JWS (flattened JSON) and COSE_Sign1, parsed into one
//! shape. Parsing checks the envelope's own rules (required and critical headers, content
//! type, encodings, sizes); [`Envelope::verify_signature`] checks the signature with a key.

use super::super::keys::PublicKey;
use super::super::Rejection;

/// Largest envelope we read.
pub(crate) const MAX_ENVELOPE_LEN: usize = 1024 * 1024;

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
    let _ = (bytes, media_type);
    Err(Rejection::new(
        "Notary Project envelopes are not parsed yet".into(),
    ))
}

impl Envelope {
    /// Whether `signature` over `signed_bytes` verifies with `key` under `alg` (the key type
    /// must fit the algorithm: RSA for PS*, P-256/P-384/P-521 for ES256/384/512).
    pub fn verify_signature(&self, key: &PublicKey) -> bool {
        let _ = key;
        false
    }
}
