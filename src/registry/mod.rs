//! OCI distribution client: the one seam between the gate and any registry.
//!
//! The `Registry` trait is the fixed interface; `RegistryClient` implements it over HTTPS
//! (anonymous, basic and bearer-token auth; credentials from the docker config, credential
//! helpers, or ECR's `GetAuthorizationToken`).

mod auth;
pub mod client;
pub mod docker_config;
pub mod ecr;
mod error;

/// Most referrer descriptors kept from one listing (referrers API or its tag-fallback index).
/// The client returns one more when the listing went on, and the collectors read "more than
/// this" as cut short: one constant, so the two can never disagree.
pub const MAX_REFERRERS: usize = 1000;

pub use auth::Credentials;
pub use client::{RegistryClient, RegistryConfig};
pub use ecr::{AwsEcrTokens, EcrAuthorization, EcrHost, EcrTokens, LoaderHook};
pub use error::RegistryError;

use std::collections::BTreeMap;

use async_trait::async_trait;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::reference::{Digest, Repository};

/// A manifest (image, index, or artifact) as fetched, with its verified digest.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// sha256 of `bytes` (checked against the reference when fetched by digest).
    pub digest: Digest,
    /// `Content-Type` / `mediaType` of the manifest.
    pub media_type: String,
    pub bytes: Bytes,
}

/// An OCI content descriptor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// What the gate needs from a registry. Implemented by `RegistryClient` for real registries.
#[async_trait]
pub trait Registry: Send + Sync {
    /// The digest `reference` (a tag or a digest) points at, and its media type (HEAD, then GET).
    async fn resolve(
        &self,
        repo: &Repository,
        reference: &str,
    ) -> Result<(Digest, String), RegistryError>;
    /// A manifest by tag or digest; `Ok(None)` when the registry says it does not exist.
    async fn manifest(
        &self,
        repo: &Repository,
        reference: &str,
    ) -> Result<Option<Manifest>, RegistryError>;
    /// A blob, refused if larger than `max_bytes`; its digest is checked.
    async fn blob(
        &self,
        repo: &Repository,
        digest: &Digest,
        max_bytes: usize,
    ) -> Result<Bytes, RegistryError>;
    /// The referrers of `subject` via the OCI 1.1 referrers API; `Ok(None)` when the registry
    /// has no referrers API (the caller then uses the `sha256-<hex>` tag fallback).
    async fn referrers(
        &self,
        repo: &Repository,
        subject: &Digest,
    ) -> Result<Option<Vec<Descriptor>>, RegistryError>;
    /// The tags of `repo` (`GET /v2/<name>/tags/list`, following `Link` pages), in the
    /// registry's order, at most `limit`; the flag says whether the list was cut short.
    /// Registries that cannot list tags answer with an error (the default).
    async fn tags(
        &self,
        repo: &Repository,
        limit: usize,
    ) -> Result<(Vec<String>, bool), RegistryError> {
        let _ = limit;
        Err(RegistryError::Other(format!(
            "this registry client cannot list the tags of {repo}"
        )))
    }
}
