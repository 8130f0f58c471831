//! Legacy cosign signatures: a layer of a `sha256-<hex>.sig` manifest with its annotations.

use base64::Engine as _;
use serde::Deserialize;

use crate::evidence::LegacySignature;
use crate::reference::Digest;

use super::asn1;
use super::certificate::Leaf;
use super::judge::{Material, Signed, Tlog};
use super::keys::sha256;
use super::rekor::{self, EntryInput};
use super::timestamp::{self, Timestamps};
use super::trust_root::TrustRoot;
use super::x509::{Cert, MAX_CHAIN};
use super::Rejection;

/// Largest simple-signing payload or Rekor bundle annotation we read.
const MAX_PAYLOAD_LEN: usize = 1024 * 1024;
const SIGNATURE_TYPE: &str = "cosign container image signature";

#[derive(Deserialize)]
struct SimpleSigning {
    critical: Critical,
}
#[derive(Deserialize)]
struct Critical {
    image: Image,
    #[serde(rename = "type")]
    type_: String,
}
#[derive(Deserialize)]
struct Image {
    #[serde(rename = "docker-manifest-digest")]
    docker_manifest_digest: String,
}

/// `dev.sigstore.cosign/bundle`.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RekorBundle {
    signed_entry_timestamp: String,
    payload: RekorPayload,
}
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RekorPayload {
    body: String,
    integrated_time: i64,
    log_index: i64,
    #[serde(rename = "logID")]
    log_id: String,
}

fn reject(m: impl Into<String>) -> Rejection {
    Rejection::new(m.into())
}

/// Parses and checks everything about `sig` that does not depend on the authority.
pub(crate) fn prepare(
    sig: &LegacySignature,
    digest: &Digest,
    root: &TrustRoot,
) -> Result<Material, Rejection> {
    if sig.payload.len() > MAX_PAYLOAD_LEN {
        return Err(reject("the signed payload is larger than 1 MiB"));
    }
    let payload: SimpleSigning = serde_json::from_slice(&sig.payload).map_err(|e| {
        reject(format!(
            "the signed payload is not cosign simple-signing JSON: {e}"
        ))
    })?;
    if payload.critical.type_ != SIGNATURE_TYPE {
        return Err(reject(format!(
            "the signed payload has type `{}`, not `{SIGNATURE_TYPE}`",
            payload.critical.type_
        )));
    }
    let named = &payload.critical.image.docker_manifest_digest;
    if named != digest.as_str() {
        return Err(reject(format!(
            "payload names {named}, not this image {digest} (a signature of another image)"
        )));
    }
    let signature = base64::engine::general_purpose::STANDARD
        .decode(sig.signature.trim())
        .map_err(|_| reject("the signature annotation is not base64"))?;
    let leaf = match &sig.certificate {
        None => None,
        Some(pem) => {
            Some(Leaf::new(Cert::from_pem(pem).map_err(|e| {
                reject(format!("the certificate annotation: {e}"))
            })?))
        }
    };
    if let Some(chain) = &sig.chain {
        // Trust comes from the trust root only; the chain is decoded just to bound it.
        if chain.len() > asn1::MAX_PEM_LEN * MAX_CHAIN {
            return Err(reject("the chain annotation is too large"));
        }
        asn1::pem_blocks(chain, "CERTIFICATE", MAX_CHAIN)
            .map_err(|e| reject(format!("the chain annotation: {e}")))?;
    }
    let timestamps = match &sig.rfc3161_timestamp {
        None => Timestamps::default(),
        Some(json) => Timestamps::verify(&[annotation_timestamp(json)?], &signature, root),
    };
    let tlog = match &sig.rekor_bundle {
        None => Tlog::Absent,
        Some(json) => match rekor_entry(json, root) {
            Ok(e) => Tlog::Verified(e),
            Err(r) => Tlog::Invalid(r),
        },
    };
    Ok(Material {
        subject_sha256: sha256(&sig.payload).to_vec(),
        subject_alg: super::keys::HashAlg::Sha256,
        dsse_pae_sha256: None,
        dsse_envelope_sha256: None,
        predicate_type: None,
        signed: Signed::Message(sig.payload.clone()),
        signature,
        leaf,
        tlog,
        timestamps,
    })
}

/// `dev.sigstore.cosign/rfc3161timestamp`: `{"SignedRFC3161Timestamp": "<base64 DER>"}`. Cosign
/// timestamps the raw (base64-decoded) signature bytes, so the imprint is checked over those.
pub(crate) fn annotation_timestamp(json: &str) -> Result<Vec<u8>, Rejection> {
    #[derive(Deserialize)]
    struct Annotation {
        #[serde(rename = "SignedRFC3161Timestamp")]
        signed_rfc3161_timestamp: String,
    }
    if json.len() > 2 * timestamp::MAX_TIMESTAMP_LEN {
        return Err(reject("the RFC 3161 timestamp annotation is too large"));
    }
    let a: Annotation = serde_json::from_str(json).map_err(|e| {
        reject(format!(
            "the RFC 3161 timestamp annotation is not {{\"SignedRFC3161Timestamp\": ...}}: {e}"
        ))
    })?;
    base64::engine::general_purpose::STANDARD
        .decode(a.signed_rfc3161_timestamp.trim())
        .map_err(|_| reject("the RFC 3161 timestamp annotation is not base64"))
}

pub(crate) fn rekor_entry(json: &str, root: &TrustRoot) -> Result<rekor::VerifiedEntry, Rejection> {
    if json.len() > MAX_PAYLOAD_LEN {
        return Err(reject("the Rekor bundle annotation is larger than 1 MiB"));
    }
    let b: RekorBundle = serde_json::from_str(json)
        .map_err(|e| reject(format!("the Rekor bundle annotation is malformed: {e}")))?;
    let set = base64::engine::general_purpose::STANDARD
        .decode(&b.signed_entry_timestamp)
        .map_err(|_| reject("the Rekor SET is not base64"))?;
    let log_id = hex::decode(&b.payload.log_id)
        .map_err(|_| reject("the Rekor bundle's logID is not hex"))?;
    let log_index = u64::try_from(b.payload.log_index)
        .map_err(|_| reject("the Rekor bundle's logIndex is negative"))?;
    rekor::verify_entry(
        root,
        &EntryInput {
            body_b64: &b.payload.body,
            log_id: &log_id,
            log_index,
            integrated_time: Some(b.payload.integrated_time),
            set: Some(&set),
            proof: None,
        },
        true,
        false,
    )
}
