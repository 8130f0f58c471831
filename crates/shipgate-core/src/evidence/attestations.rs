//! Attestation evidence: in-toto attestations found for an image, and what was looked at.

use super::BundleArtifact;

/// Media type of a cosign attestation layer: one DSSE envelope.
pub const DSSE_MEDIA_TYPE: &str = "application/vnd.dsse.envelope.v1+json";
/// The predicate type cosign records on each attestation layer.
pub const PREDICATE_TYPE_ANNOTATION: &str = "predicateType";

/// An attestation found for an image.
#[derive(Debug, Clone)]
pub enum AttestationArtifact {
    /// A layer of a legacy `sha256-<hex>.att` manifest.
    Legacy(LegacyAttestation),
    /// A Sigstore bundle with a DSSE envelope, found as an OCI referrer.
    Bundle(BundleArtifact),
}

impl AttestationArtifact {
    /// Where it was found, for reasons and evidence.
    pub fn source(&self) -> &str {
        match self {
            AttestationArtifact::Legacy(l) => &l.source,
            AttestationArtifact::Bundle(b) => &b.source,
        }
    }
}

/// One layer of a cosign `.att` manifest, with its annotations.
#[derive(Debug, Clone)]
pub struct LegacyAttestation {
    /// The layer blob: a DSSE envelope JSON (`payloadType`, `payload`, `signatures`).
    pub envelope: Vec<u8>,
    /// `dev.sigstore.cosign/certificate`: PEM leaf certificate (keyless).
    pub certificate: Option<String>,
    /// `dev.sigstore.cosign/chain`: PEM chain (keyless).
    pub chain: Option<String>,
    /// `dev.sigstore.cosign/bundle`: Rekor SET bundle JSON (an `intoto` or `dsse` entry).
    pub rekor_bundle: Option<String>,
    /// `dev.sigstore.cosign/rfc3161timestamp`.
    pub rfc3161_timestamp: Option<String>,
    /// `predicateType` annotation (informative only: the signed statement decides).
    pub predicate_type: Option<String>,
    /// Where it was found.
    pub source: String,
}

/// What was found, what was looked at, and what could not be looked at.
#[derive(Debug, Clone, Default)]
pub struct AttestationCollection {
    pub artifacts: Vec<AttestationArtifact>,
    pub notes: Vec<String>,
    /// Failures while looking; non-empty means "unknown", never "not attested".
    pub errors: Vec<String>,
    /// Bounds that cut the collection short, each naming its limit (see
    /// `SignatureCollection::truncated`).
    pub truncated: Vec<String>,
}
