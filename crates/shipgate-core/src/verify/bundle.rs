//! Sigstore bundles v0.1–v0.3 with Rekor v1 or v2 entries and RFC 3161 timestamps: a DSSE
//! in-toto Statement naming the image, or a `messageSignature` over the image digest.

use base64::Engine as _;
use serde::Deserialize;
use serde_json::Value;

use crate::evidence::BundleArtifact;

use super::asn1;
use super::certificate::Leaf;
use super::dsse;
use super::judge::{Material, Signed, Tlog};
use super::keys::{sha256, HashAlg};
use super::rekor::{self, EntryInput, ProofInput};
use super::timestamp;
use super::trust_root::TrustRoot;
use super::x509::{Cert, MAX_CHAIN};
use super::{Rejection, Subject};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
/// Largest bundle we read.
pub(crate) const MAX_BUNDLE_LEN: usize = 1024 * 1024;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawBundle {
    media_type: String,
    verification_material: Option<RawMaterial>,
    dsse_envelope: Option<RawEnvelope>,
    message_signature: Option<RawMessageSignature>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawMaterial {
    x509_certificate_chain: Option<RawChain>,
    certificate: Option<RawBytes>,
    public_key: Option<Value>,
    #[serde(default)]
    tlog_entries: Vec<RawTlogEntry>,
    timestamp_verification_data: Option<RawTimestamps>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawTimestamps {
    #[serde(default)]
    rfc3161_timestamps: Vec<RawSignedTimestamp>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawSignedTimestamp {
    signed_timestamp: String,
}

#[derive(Deserialize)]
struct RawChain {
    #[serde(default)]
    certificates: Vec<RawBytes>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawBytes {
    #[serde(default)]
    raw_bytes: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawTlogEntry {
    log_index: Option<Value>,
    log_id: Option<RawLogId>,
    kind_version: Option<RawKindVersion>,
    integrated_time: Option<Value>,
    inclusion_promise: Option<RawPromise>,
    inclusion_proof: Option<RawProof>,
    #[serde(default)]
    canonicalized_body: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawLogId {
    key_id: String,
}

#[derive(Deserialize)]
struct RawKindVersion {
    kind: String,
    version: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawPromise {
    signed_entry_timestamp: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawProof {
    log_index: Option<Value>,
    root_hash: String,
    tree_size: Option<Value>,
    #[serde(default)]
    hashes: Vec<String>,
    checkpoint: Option<RawCheckpoint>,
}

#[derive(Deserialize)]
struct RawCheckpoint {
    envelope: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEnvelope {
    payload: String,
    payload_type: String,
    #[serde(default)]
    signatures: Vec<RawDsseSignature>,
}

#[derive(Deserialize)]
struct RawDsseSignature {
    sig: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawMessageSignature {
    message_digest: Option<RawMessageDigest>,
    signature: String,
}

#[derive(Deserialize)]
struct RawMessageDigest {
    algorithm: String,
    digest: String,
}

fn reject(m: impl Into<String>) -> Rejection {
    Rejection::new(m.into())
}

/// The bundle format version a media type names: 1, 2 or 3 (for v0.1–v0.3).
fn version(media_type: &str) -> Option<u8> {
    match media_type {
        "application/vnd.dev.sigstore.bundle+json;version=0.1" => Some(1),
        "application/vnd.dev.sigstore.bundle+json;version=0.2" => Some(2),
        "application/vnd.dev.sigstore.bundle+json;version=0.3"
        | "application/vnd.dev.sigstore.bundle.v0.3+json" => Some(3),
        _ => None,
    }
}

/// A protobuf-JSON int64: a string or a number, never negative here.
fn uint(v: Option<&Value>, what: &str) -> Result<u64, Rejection> {
    let n = match v {
        None => Some(0), // protobuf JSON omits zero values
        Some(Value::String(s)) => s.parse::<u64>().ok(),
        Some(Value::Number(n)) => n.as_u64(),
        Some(_) => None,
    };
    n.ok_or_else(|| reject(format!("the bundle's {what} is not a non-negative integer")))
}

fn b64(s: &str, what: &str) -> Result<Vec<u8>, Rejection> {
    B64.decode(s)
        .map_err(|_| reject(format!("the bundle's {what} is not valid base64")))
}

/// Parses and checks everything about the bundle that does not depend on the authority.
///
/// `raw_dsse`: a DSSE envelope whose payload type is not in-toto may sign the artifact itself
/// (its payload is the artifact's bytes, as sigstore-js and sigstore-python accept); only for
/// an artifact verified on its own, never for an image signature or an attestation.
pub(crate) fn prepare(
    artifact: &BundleArtifact,
    subject: &Subject,
    root: &TrustRoot,
    raw_dsse: bool,
) -> Result<Material, Rejection> {
    if artifact.json.len() > MAX_BUNDLE_LEN {
        return Err(reject("the Sigstore bundle is larger than 1 MiB"));
    }
    let b: RawBundle = serde_json::from_slice(&artifact.json).map_err(|e| {
        reject(format!(
            "the Sigstore bundle is not valid JSON of the bundle format: {e}"
        ))
    })?;
    let v = version(&b.media_type).ok_or_else(|| {
        reject(format!(
            "bundle media type `{}` is not supported (v0.1, v0.2 and v0.3 are)",
            b.media_type
        ))
    })?;
    let vm = b
        .verification_material
        .as_ref()
        .ok_or_else(|| reject("the bundle has no verificationMaterial"))?;
    let leaf = leaf(vm, root)?;

    let content = match (&b.dsse_envelope, &b.message_signature) {
        (Some(env), None) => dsse_content(env, subject, raw_dsse)?,
        (None, Some(ms)) => message_signature_content(ms, subject)?,
        _ => {
            return Err(reject(
                "the bundle must hold exactly one of dsseEnvelope and messageSignature",
            ))
        }
    };

    let tlog = match tlog(vm, v, root) {
        Ok(Some(e)) => Tlog::Verified(e),
        Ok(None) => Tlog::Absent,
        Err(r) => Tlog::Invalid(r),
    };
    let timestamps = timestamps(vm, &content.signature, root)?;
    Ok(Material {
        signed: content.signed,
        signature: content.signature,
        subject_sha256: content.subject_sha256,
        subject_alg: content.subject_alg,
        dsse_pae_sha256: content.dsse_pae_sha256,
        dsse_envelope_sha256: None,
        predicate_type: content.predicate_type,
        leaf,
        tlog,
        timestamps,
    })
}

/// What a bundle signs and the digest its log entry must bind, from either content form.
struct Content {
    signed: Signed,
    signature: Vec<u8>,
    subject_sha256: Vec<u8>,
    subject_alg: HashAlg,
    dsse_pae_sha256: Option<[u8; 32]>,
    predicate_type: Option<String>,
}

/// A `dsseEnvelope`: an in-toto statement about `subject` (or, if `raw_dsse`, the artifact).
fn dsse_content(
    env: &RawEnvelope,
    subject: &Subject,
    raw_dsse: bool,
) -> Result<Content, Rejection> {
    let mut predicate_type = None;
    let payload = b64(&env.payload, "DSSE payload")?;
    if env.payload_type == dsse::IN_TOTO {
        predicate_type = Some(dsse::check_statement(&payload, subject)?);
    } else if raw_dsse {
        check_raw_payload(&payload, &env.payload_type, subject)?;
    } else {
        return Err(reject(format!(
            "the DSSE payload type is `{}`, not `{}`",
            env.payload_type,
            dsse::IN_TOTO
        )));
    }
    let [sig] = env.signatures.as_slice() else {
        return Err(reject("the DSSE envelope must hold exactly one signature"));
    };
    let signature = b64(&sig.sig, "DSSE signature")?;
    let pae = dsse::pae(&env.payload_type, &payload);
    let pae_sha256 = sha256(&pae);
    Ok(Content {
        signed: Signed::Message(pae),
        signature,
        subject_sha256: sha256(&payload).to_vec(),
        subject_alg: HashAlg::Sha256,
        dsse_pae_sha256: Some(pae_sha256),
        predicate_type,
    })
}

/// A `messageSignature`: a signature over a digest that must be the artifact's.
fn message_signature_content(
    ms: &RawMessageSignature,
    subject: &Subject,
) -> Result<Content, Rejection> {
    let md = ms
        .message_digest
        .as_ref()
        .ok_or_else(|| reject("the messageSignature has no messageDigest"))?;
    let alg = HashAlg::from_protobuf(&md.algorithm).ok_or_else(|| {
        reject(format!(
            "the messageSignature digest algorithm is {}, not SHA2_256, SHA2_384 or \
             SHA2_512",
            md.algorithm
        ))
    })?;
    let signed_digest = b64(&md.digest, "message digest")?;
    if signed_digest.len() != alg.len() {
        return Err(reject(format!(
            "the messageSignature digest is not a {} digest",
            alg.name()
        )));
    }
    check_message_digest(&signed_digest, alg, subject)?;
    let signature = b64(&ms.signature, "message signature")?;
    Ok(Content {
        signed: Signed::Prehashed(alg, signed_digest.clone()),
        signature,
        subject_sha256: signed_digest,
        subject_alg: alg,
        dsse_pae_sha256: None,
        predicate_type: None,
    })
}

/// The signed digest must be the artifact's digest of the same algorithm (the only comparable one).
fn check_message_digest(
    signed_digest: &[u8],
    alg: HashAlg,
    subject: &Subject,
) -> Result<(), Rejection> {
    let (ours, prefix) = match alg {
        HashAlg::Sha256 => (
            subject.sha256.as_ref().map(|d| d.hex().to_string()),
            "sha256",
        ),
        HashAlg::Sha384 => (subject.sha384.clone(), "sha384"),
        HashAlg::Sha512 => (subject.sha512.clone(), "sha512"),
    };
    let Some(ours) = ours else {
        return Err(reject(format!(
            "the bundle signs a {} message digest, and the artifact's {} is not \
             known (given as {}); give the artifact file",
            alg.name(),
            alg.name(),
            subject.describe()
        )));
    };
    if hex::encode(signed_digest) != ours {
        return Err(reject(format!(
            "the bundle signs {prefix}:{}, not this artifact {} (a signature of \
             other content)",
            hex::encode(signed_digest),
            subject.describe()
        )));
    }
    Ok(())
}

/// A DSSE payload that is not an in-toto statement is the artifact itself: its SHA-256 or
/// SHA-512 must be the artifact's.
fn check_raw_payload(
    payload: &[u8],
    payload_type: &str,
    subject: &Subject,
) -> Result<(), Rejection> {
    let sha256_ok = subject
        .sha256
        .as_ref()
        .map(|d| hex::encode(sha256(payload)) == d.hex());
    let sha512_ok = subject
        .sha512
        .as_ref()
        .map(|h| hex::encode(HashAlg::Sha512.digest(payload)) == *h);
    // Every digest known of the artifact must match; at least one is.
    match (sha256_ok, sha512_ok) {
        (Some(false), _) | (_, Some(false)) | (None, None) => Err(reject(format!(
            "the DSSE payload (type `{payload_type}`, not in-toto) is not this artifact {}",
            subject.describe()
        ))),
        _ => Ok(()),
    }
}

/// The bundle's RFC 3161 timestamps, each verified over the signature (for DSSE, the envelope's
/// signature) against the trust root's TSAs.
fn timestamps(
    vm: &RawMaterial,
    signature: &[u8],
    root: &TrustRoot,
) -> Result<timestamp::Timestamps, Rejection> {
    let Some(tsd) = &vm.timestamp_verification_data else {
        return Ok(timestamp::Timestamps::default());
    };
    if tsd.rfc3161_timestamps.len() > timestamp::MAX_TIMESTAMPS {
        return Err(reject(format!(
            "the bundle has more than {} RFC 3161 timestamps",
            timestamp::MAX_TIMESTAMPS
        )));
    }
    let ders = tsd
        .rfc3161_timestamps
        .iter()
        // Go's decoder (protojson) skips line breaks, and bundles made with `base64 file` have them.
        .map(|t| {
            b64(
                &t.signed_timestamp.replace(['\n', '\r'], ""),
                "RFC 3161 timestamp",
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(timestamp::Timestamps::verify(&ders, signature, root))
}

/// The signing certificate, if the bundle is keyless.
fn leaf(vm: &RawMaterial, root: &TrustRoot) -> Result<Option<Leaf>, Rejection> {
    let bad = |e: String| reject(format!("the bundle's certificate: {e}"));
    match (&vm.x509_certificate_chain, &vm.certificate, &vm.public_key) {
        (Some(chain), None, None) => {
            if chain.certificates.len() > MAX_CHAIN {
                return Err(reject(format!(
                    "the certificate chain has more than {MAX_CHAIN} certificates"
                )));
            }
            let mut certs = chain.certificates.iter();
            let first = certs
                .next()
                .ok_or_else(|| reject("the bundle's certificate chain is empty"))?;
            let leaf = Cert::from_der(&b64(&first.raw_bytes, "certificate")?).map_err(bad)?;
            // Trust comes only from the trust root: the leaf is verified against its CAs, never
            // against certificates shipped here. A root certificate here is refused unless it is
            // byte for byte one of the trust root's own (older clients shipped the full chain).
            for c in certs {
                let der = b64(&c.raw_bytes, "certificate")?;
                let parts = asn1::cert_parts(&der)
                    .ok_or_else(|| reject("a certificate of the bundle's chain is malformed"))?;
                if parts.issuer == parts.subject && !root.is_ca_certificate(&der) {
                    return Err(reject(
                        "the bundle's certificate chain includes a root certificate that is not \
                         in the trust root; trust anchors come only from the trust root",
                    ));
                }
            }
            Ok(Some(Leaf::new(leaf)))
        }
        (None, Some(c), None) => {
            let cert = Cert::from_der(&b64(&c.raw_bytes, "certificate")?).map_err(bad)?;
            Ok(Some(Leaf::new(cert)))
        }
        (None, None, Some(_)) => Ok(None),
        (None, None, None) => Err(reject("the bundle has no certificate or public key")),
        _ => Err(reject(
            "the bundle has more than one kind of verification material",
        )),
    }
}

/// A Rekor v2 entry needs a v0.3 bundle and has no SET and no integration time.
fn check_rekor_v2(entry: &RawTlogEntry, kv: &RawKindVersion, v: u8) -> Result<(), Rejection> {
    if v < 3 {
        return Err(reject(format!(
            "the bundle holds a Rekor v2 {} entry, which needs a v0.3 bundle",
            kv.kind
        )));
    }
    if entry.inclusion_promise.is_some() {
        return Err(reject(
            "the Rekor v2 entry carries a signed entry timestamp, which Rekor v2 never issues",
        ));
    }
    if uint(entry.integrated_time.as_ref(), "integratedTime")? != 0 {
        return Err(reject(
            "the Rekor v2 entry claims an integration time, which Rekor v2 never records",
        ));
    }
    Ok(())
}

/// The inclusion proof's fields, decoded (at most 64 hashes).
fn proof_input(p: &RawProof) -> Result<ProofInput, Rejection> {
    if p.hashes.len() > 64 {
        return Err(reject("the inclusion proof is too long"));
    }
    Ok(ProofInput {
        log_index: uint(p.log_index.as_ref(), "inclusion proof logIndex")?,
        tree_size: uint(p.tree_size.as_ref(), "inclusion proof treeSize")?,
        root_hash: b64(&p.root_hash, "inclusion proof rootHash")?,
        hashes: p
            .hashes
            .iter()
            .map(|h| b64(h, "inclusion proof hash"))
            .collect::<Result<_, _>>()?,
        checkpoint: p.checkpoint.as_ref().map(|c| c.envelope.clone()),
    })
}

/// The entry's integration time (Unix seconds), never for Rekor v2.
fn integrated_time(entry: &RawTlogEntry, rekor_v2: bool) -> Result<Option<i64>, Rejection> {
    Ok(match &entry.integrated_time {
        _ if rekor_v2 => None,
        None => None,
        Some(t) => Some(
            i64::try_from(uint(Some(t), "integratedTime")?)
                .map_err(|_| reject("the integratedTime is out of range"))?,
        ),
    })
}

/// Verifies the bundle's single Rekor v1 entry, if any.
fn tlog(
    vm: &RawMaterial,
    v: u8,
    root: &TrustRoot,
) -> Result<Option<rekor::VerifiedEntry>, Rejection> {
    let entry = match vm.tlog_entries.as_slice() {
        [] => return Ok(None),
        [e] => e,
        _ => {
            return Err(reject(
                "bundles with more than one transparency-log entry are not supported yet",
            ))
        }
    };
    let kv = entry
        .kind_version
        .as_ref()
        .ok_or_else(|| reject("the transparency-log entry has no kindVersion"))?;
    // Rekor v2: hashedrekord / dsse 0.0.2, no SET and no integration time; the inclusion proof
    // with its checkpoint is required, the time comes from RFC 3161 timestamps.
    let rekor_v2 = kv.version == "0.0.2" && (kv.kind == "hashedrekord" || kv.kind == "dsse");
    if rekor_v2 {
        check_rekor_v2(entry, kv, v)?;
    }
    let log_id = entry
        .log_id
        .as_ref()
        .ok_or_else(|| reject("the transparency-log entry has no logId"))?;
    let log_id = b64(&log_id.key_id, "logId")?;
    let set = entry
        .inclusion_promise
        .as_ref()
        .map(|p| b64(&p.signed_entry_timestamp, "signed entry timestamp"))
        .transpose()?;
    let integrated_time = integrated_time(entry, rekor_v2)?;
    let proof = entry
        .inclusion_proof
        .as_ref()
        .map(proof_input)
        .transpose()?;
    let verified = rekor::verify_entry(
        root,
        &EntryInput {
            body_b64: &entry.canonicalized_body,
            log_id: &log_id,
            log_index: uint(entry.log_index.as_ref(), "logIndex")?,
            integrated_time,
            set: set.as_deref(),
            proof: proof.as_ref(),
        },
        v == 1 && !rekor_v2,
        v >= 2 || rekor_v2,
    )?;
    Ok(Some(verified))
}
