//! Signature evidence: the artifacts found where cosign writes them, and what was looked at.

use super::SignatureArtifact;

pub const SIMPLESIGNING_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
pub const CERTIFICATE_ANNOTATION: &str = "dev.sigstore.cosign/certificate";
pub const CHAIN_ANNOTATION: &str = "dev.sigstore.cosign/chain";
pub const BUNDLE_ANNOTATION: &str = "dev.sigstore.cosign/bundle";
pub const RFC3161_ANNOTATION: &str = "dev.sigstore.cosign/rfc3161timestamp";
/// Prefix of the Sigstore bundle media types (`application/vnd.dev.sigstore.bundle.v0.3+json`, …).
pub const BUNDLE_MEDIA_PREFIX: &str = "application/vnd.dev.sigstore.bundle";

/// What was found, what was looked at, and what could not be looked at.
#[derive(Debug, Clone, Default)]
pub struct SignatureCollection {
    pub artifacts: Vec<SignatureArtifact>,
    /// What was looked at, e.g. `tag sha256-….sig: 2 layers`.
    pub notes: Vec<String>,
    /// Failures while looking; non-empty means "unknown", never "unsigned".
    pub errors: Vec<String>,
    /// Bounds that cut the collection short, each naming its limit: non-empty means that what
    /// was not read might have satisfied the policy, so a shortfall is "unknown", not "fail".
    pub truncated: Vec<String>,
}
