//! Evidence: what the service's collectors found about one digest, as plain data.
//!
//! Collection (registries, ECR) lives in the service crate; these types are what it hands to
//! `evaluate`, which never does I/O.

pub mod attestations;
pub mod base_hints;
pub mod base_image;
pub mod ecr_findings;
pub mod ecr_signing;
pub mod notation;
pub mod severity;
pub mod signatures;

pub use notation::NotationArtifact;

/// A signature found for an image: one of the formats cosign writes, or a Notary Project one.
#[derive(Debug, Clone)]
pub enum SignatureArtifact {
    /// A layer of a legacy `sha256-<hex>.sig` manifest.
    Legacy(LegacySignature),
    /// A Sigstore bundle (v0.1–v0.3), found as an OCI referrer or through the referrers tag fallback.
    Bundle(BundleArtifact),
    /// A Notary Project (Notation) signature envelope, found as an OCI referrer the same way.
    Notation(NotationArtifact),
}

impl SignatureArtifact {
    /// Where the artifact was found, for reasons and evidence (`tag sha256-ab….sig, layer 0`).
    pub fn source(&self) -> &str {
        match self {
            SignatureArtifact::Legacy(l) => &l.source,
            SignatureArtifact::Bundle(b) => &b.source,
            SignatureArtifact::Notation(n) => &n.source,
        }
    }
}

/// One layer of a legacy cosign signature manifest, with its annotations.
#[derive(Debug, Clone)]
pub struct LegacySignature {
    /// The layer blob: a simple-signing JSON payload naming `docker-manifest-digest`.
    pub payload: Vec<u8>,
    /// `dev.cosignproject.cosign/signature`: base64 signature over `payload`.
    pub signature: String,
    /// `dev.sigstore.cosign/certificate`: PEM leaf certificate (keyless).
    pub certificate: Option<String>,
    /// `dev.sigstore.cosign/chain`: PEM chain (keyless).
    pub chain: Option<String>,
    /// `dev.sigstore.cosign/bundle`: Rekor SET bundle JSON.
    pub rekor_bundle: Option<String>,
    /// `dev.sigstore.cosign/rfc3161timestamp`: JSON with a base64 RFC 3161 timestamp.
    pub rfc3161_timestamp: Option<String>,
    /// Where it was found.
    pub source: String,
}

/// A Sigstore bundle's bytes as found on the registry.
#[derive(Debug, Clone)]
pub struct BundleArtifact {
    /// The bundle JSON.
    pub json: Vec<u8>,
    /// The media type it was stored under, e.g. `application/vnd.dev.sigstore.bundle.v0.3+json`.
    pub media_type: String,
    /// Where it was found.
    pub source: String,
}

/// Everything collected about one digest for the policies that govern it: one field per kind
/// of evidence, `None` when no governing policy needed it (`evaluate::Needs`). A rule whose
/// field is `None` is judged `error` (`evidence-not-collected`), never skipped.
#[derive(Debug, Clone, Default)]
pub struct Evidence {
    pub signatures: Option<signatures::SignatureCollection>,
    pub attestations: Option<attestations::AttestationCollection>,
    pub scan: Option<ecr_findings::ScanEvidence>,
    pub base_images: Option<base_image::BaseImageEvidence>,
    pub ecr_signing: Option<ecr_signing::EcrSigningEvidence>,
}
