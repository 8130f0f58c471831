//! Notary Project (Notation) signature evidence: an envelope found as an OCI referrer, with what
//! its verification needs to know about the image and about when it was collected.
//!
//! These are plain data. They mirror `verify::notation::{Target, RevocationStatus}` instead of
//! naming them because `verify` depends on `evidence` (it judges these artifacts), never the
//! reverse; `verify::notation_authority` converts.

/// A Notary Project signature as found on the registry.
#[derive(Debug, Clone)]
pub struct NotationArtifact {
    /// The envelope: the signature manifest's single layer.
    pub envelope: Vec<u8>,
    /// That layer's media type (`application/jose+json`, `application/cose`). Any other is
    /// kept too, so that verification rejects it with a reason instead of it vanishing.
    pub media_type: String,
    /// The image manifest's descriptor as the registry serves it: what the signature must name.
    pub target: NotationTarget,
    /// `registry/repository` of the image: selects the trust-policy statement (`registryScopes`).
    pub repository: String,
    /// When it was collected (Unix seconds): expiry and certificate validity are judged at this
    /// time, which keeps the core free of a clock.
    pub checked_at: i64,
    /// What AWS Signer said about revocation (`NotChecked` for any other signature).
    pub revocation: RevocationCheck,
    /// Where it was found.
    pub source: String,
}

/// The descriptor of the image manifest a Notation signature must name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotationTarget {
    pub media_type: String,
    /// `sha256:<hex>`.
    pub digest: String,
    pub size: u64,
}

/// What the service's revocation check (AWS Signer `GetRevocationStatus`) found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevocationCheck {
    /// Nobody checked: not an AWS Signer signature, or no authority's level checks revocation.
    NotChecked,
    /// Checked: nothing revoked.
    Good,
    /// Checked: revoked (which entities: signing profile, job, certificate hashes).
    Revoked(String),
    /// The check could not be made (why).
    Unknown(String),
}
