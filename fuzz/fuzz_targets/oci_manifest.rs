//! Arbitrary bytes as OCI manifests, image indexes and referrer listings, read by the real
//! evidence collectors (`signatures`, `attestations`, `base_image`) from an in-memory registry
//! that serves these bytes for every manifest, blob and referrers request (so one input is at
//! once the image, its `.sig`/`.att` tag manifests, its referrers index and their manifests).
//! The registry side parses as `RegistryClient` does: the manifest's media type from its own
//! `mediaType` (`manifest_media_type`), the referrers listing as an OCI index of descriptors.
//! Collection must finish, never panic, hang or allocate without bound.
#![no_main]

use std::sync::OnceLock;

use async_trait::async_trait;
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use shipgate::evidence::signatures::CollectLimits;
use shipgate::evidence::{attestations, base_image, signatures};
use shipgate::reference::{Digest, Repository};
use shipgate::registry::client::manifest_media_type;
use shipgate::registry::{Descriptor, Manifest, Registry, RegistryError};

/// Serves the fuzz input for everything it is asked.
struct BytesRegistry {
    bytes: Bytes,
    digest: Digest,
}

/// The referrers response body, as `RegistryClient::referrers` reads it.
#[derive(serde::Deserialize)]
struct Index {
    #[serde(default)]
    manifests: Vec<Descriptor>,
}

#[async_trait]
impl Registry for BytesRegistry {
    async fn resolve(
        &self,
        _repo: &Repository,
        _reference: &str,
    ) -> Result<(Digest, String), RegistryError> {
        Ok((self.digest.clone(), manifest_media_type(&self.bytes, None)))
    }

    async fn manifest(
        &self,
        _repo: &Repository,
        _reference: &str,
    ) -> Result<Option<Manifest>, RegistryError> {
        Ok(Some(Manifest {
            digest: self.digest.clone(),
            media_type: manifest_media_type(&self.bytes, None),
            bytes: self.bytes.clone(),
        }))
    }

    async fn blob(
        &self,
        _repo: &Repository,
        _digest: &Digest,
        max_bytes: usize,
    ) -> Result<Bytes, RegistryError> {
        if self.bytes.len() > max_bytes {
            return Err(RegistryError::Other("blob larger than the limit".into()));
        }
        Ok(self.bytes.clone())
    }

    async fn referrers(
        &self,
        _repo: &Repository,
        _subject: &Digest,
    ) -> Result<Option<Vec<Descriptor>>, RegistryError> {
        serde_json::from_slice::<Index>(&self.bytes)
            .map(|i| Some(i.manifests))
            .map_err(|e| RegistryError::Other(format!("not an OCI index: {e}")))
    }
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("tokio runtime")
    })
}

fuzz_target!(|data: &[u8]| {
    let registry = BytesRegistry {
        bytes: Bytes::copy_from_slice(data),
        digest: Digest::of(data),
    };
    let repo = Repository {
        registry: "registry.invalid".into(),
        name: "fuzz/app".into(),
    };
    let limits = CollectLimits::default();
    let digest = registry.digest.clone();
    runtime().block_on(async {
        let bundles = signatures::referrer_bundles(&registry, &repo, &digest, &limits);
        let _ = signatures::collect_with(&registry, &repo, &digest, &limits, bundles.clone()).await;
        let _ = attestations::collect(&registry, &repo, &digest, &limits, bundles).await;
        let _ = base_image::collect(&registry, &repo, &digest, &[], &[], &[]).await;
    });
});
