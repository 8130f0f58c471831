//! Shared test fixtures: a real registry, images pushed to it, and real signatures.
#![allow(dead_code)]

pub mod attest;
pub mod aws;
pub mod cosign;
pub mod ecr_stub;
pub mod moto;
pub mod notary_signer;
pub mod notation;
pub mod oci;
pub mod private_sigstore;
pub mod registry;
pub mod replay;
pub mod serve;
pub mod signer_stub;
pub mod tuf_repo;
