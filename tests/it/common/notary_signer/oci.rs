//! Storing a signature in a registry as Notation does: the signature manifest and the referrers
//! tag index.

use std::collections::BTreeMap;

use shipgate::reference::Digest;
use time::OffsetDateTime;

use super::keys::HashAlg;
use super::{now, rfc3339, SIGNATURE_ARTIFACT_TYPE, THUMBPRINT_ANNOTATION};
use crate::common::cosign::referrers_tag;
use crate::common::oci::{self, Descriptor, Index, Manifest};

/// `["<hex sha256 of each certificate>", …]` as a JSON string, leaf first.
pub fn thumbprints(chain: &[Vec<u8>]) -> String {
    let t: Vec<String> = chain
        .iter()
        .map(|c| hex::encode(HashAlg::Sha256.digest(c)))
        .collect();
    serde_json::to_string(&t).unwrap()
}

/// The signature manifest Notation pushes: OCI image manifest, `artifactType` Notary signature,
/// empty config, one envelope layer, `subject`, thumbprint and `created` annotations.
pub fn signature_manifest(
    subject: &Descriptor,
    envelope: &[u8],
    media_type: &str,
    chain: &[Vec<u8>],
    created: OffsetDateTime,
) -> Manifest {
    let mut m = Manifest::oci(
        Descriptor::of(oci::OCI_EMPTY, b"{}"),
        vec![Descriptor::of(media_type, envelope)],
    );
    m.artifact_type = Some(SIGNATURE_ARTIFACT_TYPE.to_string());
    m.subject = Some(subject.clone());
    m.annotations = Some(BTreeMap::from([
        (THUMBPRINT_ANNOTATION.to_string(), thumbprints(chain)),
        (
            "org.opencontainers.image.created".to_string(),
            rfc3339(created),
        ),
    ]));
    m
}

/// Stores a signature as Notation does on a registry without the referrers API: pushes the
/// envelope blob, the empty config and the signature manifest (by digest), then adds it to the
/// subject's `sha256-<hex>` referrers index. Returns the signature manifest digest.
pub fn attach_signature(
    url: &str,
    repo: &str,
    subject: &Descriptor,
    envelope: &[u8],
    media_type: &str,
    chain: &[Vec<u8>],
) -> Digest {
    oci::push_blob(url, repo, media_type, envelope);
    oci::push_blob(url, repo, oci::OCI_EMPTY, b"{}");
    let manifest = signature_manifest(subject, envelope, media_type, chain, now());
    let bytes = manifest.to_bytes();
    let digest = oci::push_manifest(
        url,
        repo,
        &Digest::of(&bytes).to_string(),
        oci::OCI_MANIFEST,
        &bytes,
    );
    let mut entry = Descriptor::of(oci::OCI_MANIFEST, &bytes);
    entry.artifact_type = manifest.artifact_type;
    entry.annotations = manifest.annotations;
    let tag = referrers_tag(&subject.digest);
    let mut index = match oci::get_manifest(url, repo, &tag) {
        Some(existing) => serde_json::from_slice::<Index>(&existing.bytes).unwrap(),
        None => Index::oci(Vec::new()),
    };
    index.manifests.retain(|d| d.digest != digest);
    index.manifests.push(entry);
    oci::push_manifest(url, repo, &tag, oci::OCI_INDEX, &index.to_bytes());
    digest
}
