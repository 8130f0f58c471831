//! Evidence collection: the service side of `shipgate_core::evidence`. Each collector reads
//! one kind of evidence through a port (`Registry`, `ScanFindings`, `SignerRevocation`) and returns the core's plain
//! data types, re-exported here under the paths the service has always used.

pub mod attestations;
pub mod aws_signer;
pub mod base_image;
pub mod collect;
pub mod ecr_findings;
pub mod ecr_signing;
pub mod notation;
pub mod referrers;
pub mod signatures;

pub use shipgate_core::evidence::base_hints;
pub use shipgate_core::evidence::{
    BundleArtifact, Evidence, LegacySignature, NotationArtifact, SignatureArtifact,
};
