//! Signature verification: one entry point, `Verifier::verify_signature`.
//!
//! PLACEHOLDER — being implemented. The interface below is fixed; the internals are not.

use std::sync::Arc;

use crate::evidence::SignatureArtifact;
use crate::policy::authority::Authority;
use crate::reference::Digest;

/// A Sigstore trusted root (`trusted_root.json`): Fulcio CAs, Rekor and CT log keys, TSAs.
#[derive(Debug)]
pub struct TrustRoot {}

impl TrustRoot {
    /// The Sigstore public-good production root, embedded in the binary.
    pub fn public_good() -> Result<TrustRoot, VerifyError> {
        Err(VerifyError::TrustRoot("not implemented yet".into()))
    }
    /// A private root in the `trusted_root.json` format.
    pub fn from_json(_bytes: &[u8]) -> Result<TrustRoot, VerifyError> {
        Err(VerifyError::TrustRoot("not implemented yet".into()))
    }
}

/// A parsed public key a policy names.
#[derive(Debug, Clone)]
pub struct PublicKey {}

impl PublicKey {
    /// Parses a PEM `PUBLIC KEY` (ECDSA P-256/P-384, RSA, Ed25519).
    pub fn from_pem(_pem: &str) -> Result<PublicKey, VerifyError> {
        Err(VerifyError::Key("not implemented yet".into()))
    }
    /// `sha256:<hex>` of the key's SubjectPublicKeyInfo DER, to name it in evidence.
    pub fn fingerprint(&self) -> String {
        String::new()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("trusted root: {0}")]
    TrustRoot(String),
    #[error("public key: {0}")]
    Key(String),
}

/// Why a signature does not count for an authority: a sentence a developer can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Rejection(pub String);

/// A signature that verified for an authority.
#[derive(Debug, Clone, serde::Serialize)]
pub struct VerifiedSignature {
    /// The authority's name.
    pub authority: String,
    /// Key fingerprint, or the certificate subject for keyless.
    pub signer: String,
    /// The OIDC issuer of a keyless certificate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// Transparency-log index, where a log proof verified.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tlog_index: Option<u64>,
    /// Log integration time (Unix seconds), where known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub integrated_time: Option<i64>,
    /// Where the signature was found.
    pub source: String,
}

/// Verifies signatures against a trust root. Cheap to share: hold it in an `Arc`.
pub struct Verifier {
    #[allow(dead_code)]
    trust_root: Arc<TrustRoot>,
}

impl Verifier {
    pub fn new(trust_root: Arc<TrustRoot>) -> Self {
        Verifier { trust_root }
    }

    /// Verifies one artifact for `digest` against each authority; one result per authority, in order.
    pub fn verify_signature(
        &self,
        _artifact: &SignatureArtifact,
        _digest: &Digest,
        authorities: &[Authority],
    ) -> Vec<Result<VerifiedSignature, Rejection>> {
        authorities
            .iter()
            .map(|_| Err(Rejection("verification not implemented yet".into())))
            .collect()
    }
}
