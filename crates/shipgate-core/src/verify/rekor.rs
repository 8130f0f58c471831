//! Transparency-log proofs: for Rekor v1 the signed entry timestamp (SET), for v1 and v2 the
//! RFC 6962 inclusion proof with its signed-note checkpoint, and what the logged entry body
//! binds (v1 `hashedrekord`/`dsse`/`intoto`, v2 `hashedrekord`/`dsse` 0.0.2). Rekor v2 entries
//! carry no time: their signing time comes from RFC 3161 timestamps (see `judge`).

use base64::Engine as _;
use serde::Deserialize;

use super::certificate::fmt_time;
use super::keys::{sha256, HashAlg, KeyKind, PublicKey};
use super::trust_root::{LogKey, TrustRoot, Validity};
use super::x509::Cert;
use super::Rejection;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
/// Largest entry body we read.
const MAX_BODY_LEN: usize = 256 * 1024;
/// Most hashes an inclusion proof may hold (a tree of 2^64 leaves needs 64).
const MAX_PROOF_HASHES: usize = 64;
/// Most signatures we read from an entry body.
const MAX_SIGNATURES: usize = 8;
/// Most signature lines we read from a checkpoint (the log's and witnesses' cosignatures).
const MAX_NOTE_SIGNATURES: usize = 32;
/// Largest checkpoint we read.
const MAX_NOTE_LEN: usize = 16 * 1024;

fn reject(m: impl Into<String>) -> Rejection {
    Rejection::new(m.into())
}

/// A log entry as the artifact presents it, before anything is checked.
pub(crate) struct EntryInput<'a> {
    /// The base64 entry body, exactly as the artifact gives it.
    pub body_b64: &'a str,
    pub log_id: &'a [u8],
    pub log_index: u64,
    pub integrated_time: Option<i64>,
    pub set: Option<&'a [u8]>,
    pub proof: Option<&'a ProofInput>,
}

/// An RFC 6962 inclusion proof with its checkpoint.
pub(crate) struct ProofInput {
    pub log_index: u64,
    pub tree_size: u64,
    pub root_hash: Vec<u8>,
    pub hashes: Vec<Vec<u8>>,
    pub checkpoint: Option<String>,
}

/// A log entry whose proofs verified.
#[derive(Debug)]
pub(crate) struct VerifiedEntry {
    pub log_index: u64,
    /// The integration time, only when a SET signed it.
    pub integrated_time: Option<i64>,
    pub body: Body,
    /// When the log's key may be used (checked against RFC 3161 times where no SET time exists).
    pub log_valid_for: Validity,
    pub log_url: String,
}

/// Verifies whatever proofs the entry carries; `require_set` / `require_proof` say which must be there.
pub(crate) fn verify_entry(
    root: &TrustRoot,
    e: &EntryInput<'_>,
    require_set: bool,
    require_proof: bool,
) -> Result<VerifiedEntry, Rejection> {
    let log = root.tlog(e.log_id).ok_or_else(|| {
        reject(format!(
            "the transparency-log entry is from log {}, which the trust root does not list",
            hex::encode(e.log_id)
        ))
    })?;
    let key = log.key.as_ref().ok_or_else(|| {
        reject(format!(
            "the key of log {} is of an unsupported type",
            log.base_url
        ))
    })?;
    let body = B64
        .decode(e.body_b64)
        .map_err(|_| reject("the transparency-log entry body is not valid base64"))?;
    if body.len() > MAX_BODY_LEN {
        return Err(reject(
            "the transparency-log entry body is larger than 256 KiB",
        ));
    }
    let mut integrated_time = None;
    match (e.set, e.integrated_time) {
        (Some(set), Some(t)) => {
            verify_set(log, key, e, t, set)?;
            integrated_time = Some(t);
        }
        (Some(_), None) => return Err(reject("the log entry has a SET but no integratedTime")),
        (None, _) if require_set => {
            return Err(reject(
                "the transparency-log entry has no signed entry timestamp (inclusion promise)",
            ))
        }
        (None, _) => {}
    }
    match e.proof {
        Some(p) => verify_inclusion(log, key, &body, p, integrated_time)?,
        None if require_proof => {
            return Err(reject("the transparency-log entry has no inclusion proof"))
        }
        None => {}
    }
    Ok(VerifiedEntry {
        log_index: e.log_index,
        integrated_time,
        body: Body::parse(&body)?,
        log_valid_for: log.valid_for,
        log_url: log.base_url.clone(),
    })
}

/// The SET: the log's signature over the RFC 8785 canonical JSON of
/// `{body, integratedTime, logID, logIndex}`.
fn verify_set(
    log: &LogKey,
    key: &PublicKey,
    e: &EntryInput<'_>,
    t: i64,
    set: &[u8],
) -> Result<(), Rejection> {
    if !log.valid_for.contains_secs(t) {
        return Err(reject(format!(
            "the log key of {} was not valid at the entry's integration time {}",
            log.base_url,
            fmt_time(t)
        )));
    }
    let payload = serde_json::json!({
        "body": e.body_b64,
        "integratedTime": t,
        "logID": hex::encode(e.log_id),
        "logIndex": e.log_index,
    });
    let canonical = serde_json_canonicalizer::to_vec(&payload)
        .map_err(|_| reject("cannot canonicalize the SET payload"))?;
    if key.verify(&canonical, set) {
        Ok(())
    } else {
        Err(reject(format!(
            "the signed entry timestamp (SET) does not verify with the key of log {}; the \
             entry, its time or its index was altered",
            log.base_url
        )))
    }
}

fn hash_children(left: &[u8], right: &[u8]) -> [u8; 32] {
    let mut buf = Vec::with_capacity(65);
    buf.push(1);
    buf.extend_from_slice(left);
    buf.extend_from_slice(right);
    sha256(&buf)
}

/// RFC 9162 §2.1.3.2: the root implied by an audit path.
fn root_from_proof(index: u64, size: u64, leaf: [u8; 32], proof: &[Vec<u8>]) -> Option<[u8; 32]> {
    if index >= size {
        return None;
    }
    let inner = (64 - (index ^ (size - 1)).leading_zeros()) as usize;
    let border = index.checked_shr(inner as u32).unwrap_or(0).count_ones() as usize;
    if proof.len() != inner + border {
        return None;
    }
    let mut h = leaf;
    for (i, p) in proof.iter().enumerate() {
        if p.len() != 32 {
            return None;
        }
        h = if i < inner && (index >> i) & 1 == 0 {
            hash_children(&h, p)
        } else {
            hash_children(p, &h)
        };
    }
    Some(h)
}

fn verify_inclusion(
    log: &LogKey,
    key: &PublicKey,
    body: &[u8],
    p: &ProofInput,
    integrated_time: Option<i64>,
) -> Result<(), Rejection> {
    if p.hashes.len() > MAX_PROOF_HASHES {
        return Err(reject("the inclusion proof is too long"));
    }
    let mut leaf = Vec::with_capacity(body.len() + 1);
    leaf.push(0);
    leaf.extend_from_slice(body);
    let computed = root_from_proof(p.log_index, p.tree_size, sha256(&leaf), &p.hashes)
        .ok_or_else(|| reject("the inclusion proof is malformed for its index and tree size"))?;
    if computed.as_slice() != p.root_hash.as_slice() {
        return Err(reject(
            "the inclusion proof does not lead to its root hash: the entry is not the one the log holds",
        ));
    }
    let note = p
        .checkpoint
        .as_deref()
        .ok_or_else(|| reject("the inclusion proof has no signed checkpoint"))?;
    if let Some(t) = integrated_time {
        if !log.valid_for.contains_secs(t) {
            return Err(reject(
                "the log key was not valid at the entry's integration time",
            ));
        }
    }
    let cp = verify_checkpoint(note, log, key)?;
    if cp.size != p.tree_size || cp.root != p.root_hash {
        return Err(reject(
            "the signed checkpoint is for another tree than the inclusion proof",
        ));
    }
    Ok(())
}

pub(super) struct Checkpoint {
    size: u64,
    root: Vec<u8>,
}

/// A signed note (C2SP `signed-note`): `origin\nsize\nbase64(root)\n[extra lines]\n\n` and then
/// signature lines `— name base64(keyhint‖sig)`, in any order. Exactly the log's signature
/// counts: its key hint is the first 4 bytes of the trust root's log id, and for an Ed25519 log
/// (Rekor v2) also the hint the signed-note spec derives, `sha256(name‖"\n"‖0x01‖key)[..4]`,
/// so a signature line must carry the log's own name. Witness cosignatures are ignored.
pub(super) fn verify_checkpoint(
    note: &str,
    log: &LogKey,
    key: &PublicKey,
) -> Result<Checkpoint, Rejection> {
    let bad = |what: &str| reject(format!("the checkpoint is malformed: {what}"));
    if note.len() > MAX_NOTE_LEN {
        return Err(bad("larger than 16 KiB"));
    }
    let split = note
        .find("\n\n")
        .ok_or_else(|| bad("no blank line before the signatures"))?;
    let text = note.get(..split + 1).ok_or_else(|| bad("no text"))?;
    let sigs = note.get(split + 2..).ok_or_else(|| bad("no signatures"))?;
    let mut lines = text.lines();
    let origin = lines
        .next()
        .filter(|o| !o.is_empty())
        .ok_or_else(|| bad("no origin line"))?;
    let size = lines
        .next()
        .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or_else(|| bad("the second line is not a tree size (missing origin or size?)"))?;
    let root = lines
        .next()
        .and_then(|r| B64.decode(r).ok())
        .filter(|r| r.len() == 32)
        .ok_or_else(|| bad("the third line is not a base64 SHA-256 root hash"))?;
    let hint = log
        .log_id
        .get(..4)
        .ok_or_else(|| bad("the log id is too short"))?;
    let (log_lines, verified) = log_signatures(sigs, text, hint, key);
    if !verified {
        return Err(reject(if log_lines == 0 {
            format!(
                "the checkpoint (origin `{origin}`) carries no signature by log {} (no signature \
                 line with its name and key hint)",
                log.base_url
            )
        } else {
            format!(
                "the checkpoint's signature by log {} does not verify: the checkpoint was altered",
                log.base_url
            )
        }));
    }
    Ok(Checkpoint { size, root })
}

/// Of the note's signature lines, (how many are the log's, whether one of them verifies
/// `text`): a line counts if its key hint is `hint` (and, for an Ed25519 key, the hint its
/// name derives).
fn log_signatures(sigs: &str, text: &str, hint: &[u8], key: &PublicKey) -> (usize, bool) {
    let ed25519_key = match key.kind() {
        KeyKind::Ed25519 => key
            .spki_der()
            .get(key.spki_der().len().saturating_sub(32)..),
        _ => None,
    };
    let mut log_lines = 0;
    let mut verified = false;
    for line in sigs.lines().take(MAX_NOTE_SIGNATURES) {
        let Some((name, b)) = line
            .strip_prefix("\u{2014} ")
            .and_then(|l| l.rsplit_once(' '))
        else {
            continue;
        };
        let Ok(raw) = B64.decode(b) else { continue };
        if raw.get(..4) != Some(hint) {
            continue; // a witness, or another key of the log
        }
        if let Some(pk) = ed25519_key {
            let mut id = Vec::with_capacity(name.len() + 34);
            id.extend_from_slice(name.as_bytes());
            id.extend_from_slice(b"\n\x01");
            id.extend_from_slice(pk);
            if sha256(&id).get(..4) != Some(hint) {
                continue; // the hint of another key name: not the log's signature
            }
        }
        log_lines += 1;
        if raw.get(4..).is_some_and(|s| key.verify(text.as_bytes(), s)) {
            verified = true;
            break;
        }
    }
    (log_lines, verified)
}

// ---- entry bodies ----

/// What a logged entry says was signed, by whom.
#[derive(Debug)]
pub(crate) enum Body {
    /// `hashedrekord` 0.0.1 or 0.0.2: a signature over a blob known by its SHA-256, SHA-384 or
    /// SHA-512 digest. A Rekor v2 (0.0.2) entry may also log a DSSE envelope's signature,
    /// `digest` then being the SHA-256 of the envelope's PAE (rekor-v2 spec, "hashedrekord over
    /// DSSE").
    HashedRekord {
        signature: Vec<u8>,
        /// A DER certificate or SubjectPublicKeyInfo.
        verifier: Vec<u8>,
        alg: HashAlg,
        digest: Vec<u8>,
        v2: bool,
    },
    /// `dsse` 0.0.1 / 0.0.2 or `intoto` 0.0.2: a DSSE envelope; signatures with their verifiers.
    Envelope {
        kind: &'static str,
        payload_sha256: Option<Vec<u8>>,
        signatures: Vec<(Vec<u8>, Vec<u8>)>,
    },
    /// `intoto` 0.0.1: the SHA-256 of the whole envelope (which holds the signature), of its
    /// payload, and the one verifier; the signature itself is not in the body.
    EnvelopeHash {
        envelope_sha256: Vec<u8>,
        payload_sha256: Vec<u8>,
        verifier: Vec<u8>,
    },
}

/// What the artifact signed, for comparison with the body.
pub(crate) enum Subject<'a> {
    /// A blob: the digest of the signed bytes (payload or message), SHA-256 but for a
    /// `messageSignature` over a SHA-384/SHA-512 digest.
    Blob(HashAlg, &'a [u8]),
    /// A DSSE envelope: the SHA-256 of its payload, and of its PAE (what the signature covers).
    Dsse {
        payload: &'a [u8],
        pae: &'a [u8],
        /// The SHA-256 of the envelope's bytes as stored (a cosign `.att` layer), where known.
        envelope: Option<&'a [u8]>,
    },
}

/// Who signed, for comparison with the body's verifier.
pub(crate) enum Signer<'a> {
    Key(&'a PublicKey),
    Cert(&'a Cert),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawBody {
    api_version: String,
    kind: String,
    spec: serde_json::Value,
}

#[derive(Deserialize)]
struct HashedRekordSpec {
    data: HrData,
    signature: HrSignature,
}
#[derive(Deserialize)]
struct HrData {
    hash: HashValue,
}
#[derive(Deserialize)]
struct HashValue {
    algorithm: String,
    value: String,
}
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HrSignature {
    content: String,
    public_key: HrKey,
}
#[derive(Deserialize)]
struct HrKey {
    content: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DsseSpec {
    payload_hash: Option<HashValue>,
    signatures: Vec<DsseSig>,
}
#[derive(Deserialize)]
struct DsseSig {
    signature: String,
    verifier: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IntotoV1Spec {
    content: IntotoV1Content,
    public_key: String,
}
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IntotoV1Content {
    hash: HashValue,
    payload_hash: HashValue,
}
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IntotoSpec {
    content: IntotoContent,
}
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IntotoContent {
    envelope: IntotoEnvelope,
    payload_hash: Option<HashValue>,
}
#[derive(Deserialize)]
struct IntotoEnvelope {
    signatures: Vec<IntotoSig>,
}
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IntotoSig {
    sig: String,
    public_key: String,
}

/// Rekor v2 (`hashedRekordV002`, `dsseV002`) entry specs: protobuf JSON.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct V2Spec {
    hashed_rekord_v002: Option<HashedRekordV2>,
    dsse_v002: Option<DsseV2>,
}
#[derive(Deserialize)]
struct HashedRekordV2 {
    data: V2Hash,
    signature: V2Signature,
}
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DsseV2 {
    payload_hash: V2Hash,
    #[serde(default)]
    signatures: Vec<V2Signature>,
}
#[derive(Deserialize)]
struct V2Hash {
    algorithm: String,
    digest: String,
}
#[derive(Deserialize)]
struct V2Signature {
    content: String,
    verifier: V2Verifier,
}
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct V2Verifier {
    x509_certificate: Option<V2Bytes>,
    public_key: Option<V2Bytes>,
}
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct V2Bytes {
    raw_bytes: String,
}

/// A hashedrekord 0.0.2 data digest: SHA2_256, SHA2_384 or SHA2_512.
fn v2_digest(h: &V2Hash) -> Result<(HashAlg, Vec<u8>), Rejection> {
    let alg = HashAlg::from_protobuf(&h.algorithm).ok_or_else(|| {
        reject(format!(
            "log entry hash algorithm `{}` is not SHA2_256, SHA2_384 or SHA2_512",
            h.algorithm
        ))
    })?;
    let d = B64
        .decode(&h.digest)
        .ok()
        .filter(|v| v.len() == alg.len())
        .ok_or_else(|| reject(format!("log entry digest is not a base64 {}", alg.name())))?;
    Ok((alg, d))
}

/// A hashedrekord 0.0.1 data hash: sha256, sha384 or sha512, in hex.
fn hex_digest(h: &HashValue) -> Result<(HashAlg, Vec<u8>), Rejection> {
    let alg = HashAlg::from_rekor(&h.algorithm).ok_or_else(|| {
        reject(format!(
            "log entry hash algorithm `{}` is not sha256, sha384 or sha512",
            h.algorithm
        ))
    })?;
    let d = hex::decode(&h.value)
        .ok()
        .filter(|v| v.len() == alg.len())
        .ok_or_else(|| reject(format!("log entry hash is not a hex {}", alg.name())))?;
    Ok((alg, d))
}

fn v2_sha256(h: &V2Hash) -> Result<Vec<u8>, Rejection> {
    if h.algorithm != "SHA2_256" {
        return Err(reject(format!(
            "log entry hash algorithm `{}` is not SHA2_256",
            h.algorithm
        )));
    }
    B64.decode(&h.digest)
        .ok()
        .filter(|v| v.len() == 32)
        .ok_or_else(|| reject("log entry digest is not a base64 SHA-256"))
}

fn v2_signature(sig: &V2Signature) -> Result<(Vec<u8>, Vec<u8>), Rejection> {
    let signature = B64
        .decode(&sig.content)
        .map_err(|_| reject("the log entry's signature is not base64"))?;
    let verifier = match (&sig.verifier.x509_certificate, &sig.verifier.public_key) {
        (Some(c), None) | (None, Some(c)) => B64
            .decode(&c.raw_bytes)
            .map_err(|_| reject("the log entry's verifier is not base64"))?,
        _ => {
            return Err(reject(
                "the log entry's verifier must be exactly one certificate or public key",
            ))
        }
    };
    Ok((signature, verifier))
}

fn sha256_value(h: &HashValue) -> Result<Vec<u8>, Rejection> {
    if h.algorithm != "sha256" {
        return Err(reject(format!(
            "log entry hash algorithm `{}` is not sha256",
            h.algorithm
        )));
    }
    hex::decode(&h.value)
        .ok()
        .filter(|v| v.len() == 32)
        .ok_or_else(|| reject("log entry hash is not 64 hex characters"))
}

/// A base64 PEM (certificate or public key) as the DER it holds.
fn verifier_der(b64: &str) -> Result<Vec<u8>, Rejection> {
    let bad = || reject("the log entry's public key is not a base64 PEM");
    let pem = B64.decode(b64).map_err(|_| bad())?;
    let pem = std::str::from_utf8(&pem).map_err(|_| bad())?;
    let label = if pem.contains("-----BEGIN CERTIFICATE-----") {
        "CERTIFICATE"
    } else {
        "PUBLIC KEY"
    };
    let mut blocks = super::asn1::pem_blocks(pem, label, 1).map_err(|_| bad())?;
    blocks.pop().ok_or_else(bad)
}

impl Body {
    pub(super) fn parse(bytes: &[u8]) -> Result<Body, Rejection> {
        let raw: RawBody = serde_json::from_slice(bytes)
            .map_err(|e| reject(format!("the log entry body is not a Rekor entry: {e}")))?;
        let spec_err =
            |e: serde_json::Error| reject(format!("the {} log entry is malformed: {e}", raw.kind));
        match (raw.kind.as_str(), raw.api_version.as_str()) {
            ("hashedrekord", "0.0.1") => {
                Body::hashedrekord_v1(serde_json::from_value(raw.spec).map_err(spec_err)?)
            }
            ("hashedrekord", "0.0.2") => {
                Body::hashedrekord_v2(serde_json::from_value(raw.spec).map_err(spec_err)?)
            }
            ("dsse", "0.0.2") => Body::dsse_v2(serde_json::from_value(raw.spec).map_err(spec_err)?),
            ("dsse", "0.0.1") => Body::dsse_v1(serde_json::from_value(raw.spec).map_err(spec_err)?),
            ("intoto", "0.0.1") => {
                let s: IntotoV1Spec = serde_json::from_value(raw.spec).map_err(spec_err)?;
                Ok(Body::EnvelopeHash {
                    envelope_sha256: sha256_value(&s.content.hash)?,
                    payload_sha256: sha256_value(&s.content.payload_hash)?,
                    verifier: verifier_der(&s.public_key)?,
                })
            }
            ("intoto", "0.0.2") => {
                Body::intoto_v2(serde_json::from_value(raw.spec).map_err(spec_err)?)
            }
            (kind, version) => Err(reject(format!(
                "log entries of kind {kind} {version} are not supported (hashedrekord 0.0.1 and \
                 0.0.2, dsse 0.0.1 and 0.0.2, and intoto 0.0.1 and 0.0.2 are)"
            ))),
        }
    }

    fn hashedrekord_v1(s: HashedRekordSpec) -> Result<Body, Rejection> {
        let (alg, digest) = hex_digest(&s.data.hash)?;
        Ok(Body::HashedRekord {
            signature: B64
                .decode(&s.signature.content)
                .map_err(|_| reject("the log entry's signature is not base64"))?,
            verifier: verifier_der(&s.signature.public_key.content)?,
            alg,
            digest,
            v2: false,
        })
    }

    fn hashedrekord_v2(s: V2Spec) -> Result<Body, Rejection> {
        let h = s.hashed_rekord_v002.ok_or_else(|| {
            reject("the hashedrekord 0.0.2 log entry has no hashedRekordV002 spec")
        })?;
        let (signature, verifier) = v2_signature(&h.signature)?;
        let (alg, digest) = v2_digest(&h.data)?;
        Ok(Body::HashedRekord {
            signature,
            verifier,
            alg,
            digest,
            v2: true,
        })
    }

    fn dsse_v2(s: V2Spec) -> Result<Body, Rejection> {
        let d = s
            .dsse_v002
            .ok_or_else(|| reject("the dsse 0.0.2 log entry has no dsseV002 spec"))?;
        let signatures = d
            .signatures
            .iter()
            .take(MAX_SIGNATURES)
            .map(v2_signature)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Body::Envelope {
            kind: "dsse",
            payload_sha256: Some(v2_sha256(&d.payload_hash)?),
            signatures,
        })
    }

    fn dsse_v1(s: DsseSpec) -> Result<Body, Rejection> {
        let mut signatures = Vec::new();
        for sig in s.signatures.iter().take(MAX_SIGNATURES) {
            signatures.push((
                B64.decode(&sig.signature)
                    .map_err(|_| reject("a dsse entry signature is not base64"))?,
                verifier_der(&sig.verifier)?,
            ));
        }
        Ok(Body::Envelope {
            kind: "dsse",
            payload_sha256: s.payload_hash.as_ref().map(sha256_value).transpose()?,
            signatures,
        })
    }

    fn intoto_v2(s: IntotoSpec) -> Result<Body, Rejection> {
        let mut signatures = Vec::new();
        for sig in s.content.envelope.signatures.iter().take(MAX_SIGNATURES) {
            // intoto 0.0.2 stores the envelope's (base64) signature base64-encoded again.
            let once = B64
                .decode(&sig.sig)
                .map_err(|_| reject("an intoto entry signature is not base64"))?;
            let twice = std::str::from_utf8(&once)
                .ok()
                .and_then(|s| B64.decode(s.trim()).ok())
                .unwrap_or(once);
            signatures.push((twice, verifier_der(&sig.public_key)?));
        }
        Ok(Body::Envelope {
            kind: "intoto",
            payload_sha256: s
                .content
                .payload_hash
                .as_ref()
                .map(sha256_value)
                .transpose()?,
            signatures,
        })
    }

    /// Checks that this entry logs exactly `signature` by `signer` over `subject`.
    pub fn binds(
        &self,
        subject: &Subject<'_>,
        signature: &[u8],
        signer: &Signer<'_>,
    ) -> Result<(), Rejection> {
        match (self, subject) {
            (
                Body::HashedRekord {
                    signature: s,
                    verifier,
                    alg,
                    digest,
                    v2,
                },
                _,
            ) => {
                hashed_digest_binds(*alg, digest, subject, *v2)?;
                hashed_signature_binds(s, verifier, signature, signer)
            }
            (
                Body::Envelope {
                    payload_sha256,
                    signatures,
                    kind,
                },
                Subject::Dsse { payload: hash, .. },
            ) => envelope_binds(
                kind,
                payload_sha256.as_deref(),
                signatures,
                hash,
                signature,
                signer,
            ),
            (
                Body::EnvelopeHash {
                    envelope_sha256,
                    payload_sha256,
                    verifier,
                },
                Subject::Dsse {
                    payload, envelope, ..
                },
            ) => envelope_hash_binds(
                envelope_sha256,
                payload_sha256,
                verifier,
                payload,
                *envelope,
                signer,
            ),
            (Body::EnvelopeHash { .. }, Subject::Blob(..)) => Err(reject(
                "the transparency-log entry is an intoto entry, but the signature is over a blob",
            )),
            (Body::Envelope { kind, .. }, Subject::Blob(..)) => Err(reject(format!(
                "the transparency-log entry is a {kind} entry, but the signature is over a blob",
            ))),
        }
    }
}

/// The (algorithm, digest) a hashedrekord entry must log for `subject`.
fn hashed_subject<'a>(subject: &Subject<'a>, v2: bool) -> Result<(HashAlg, &'a [u8]), Rejection> {
    match subject {
        Subject::Blob(a, h) => Ok((*a, *h)),
        // A v2 hashedrekord over DSSE binds the SHA-256 of the envelope's PAE.
        Subject::Dsse { pae, .. } if v2 => Ok((HashAlg::Sha256, *pae)),
        Subject::Dsse { .. } => Err(reject(
            "the transparency-log entry is a hashedrekord, but the bundle holds a DSSE envelope",
        )),
    }
}

/// Whether a hashedrekord entry's (algorithm, digest) is what `subject` needs it to log.
fn hashed_digest_binds(
    alg: HashAlg,
    digest: &[u8],
    subject: &Subject<'_>,
    v2: bool,
) -> Result<(), Rejection> {
    let (ours, hash) = hashed_subject(subject, v2)?;
    if alg != ours {
        return Err(reject(format!(
            "the transparency-log entry logs a {} digest, the signature is over a {} digest",
            alg.name(),
            ours.name()
        )));
    }
    if digest != hash {
        return Err(reject(
            "the transparency-log entry is for other content than this signature's payload",
        ));
    }
    Ok(())
}

/// Whether a hashedrekord entry logs exactly `signature`, by `signer`.
fn hashed_signature_binds(
    logged: &[u8],
    verifier: &[u8],
    signature: &[u8],
    signer: &Signer<'_>,
) -> Result<(), Rejection> {
    if logged != signature {
        return Err(reject("the transparency-log entry logs another signature"));
    }
    if !verifier_matches(verifier, signer) {
        return Err(reject(
            "the transparency-log entry names another certificate or key than the signer",
        ));
    }
    Ok(())
}

/// Whether a dsse/intoto entry logs the envelope's payload hash and its signature by `signer`.
fn envelope_binds(
    kind: &str,
    payload_sha256: Option<&[u8]>,
    signatures: &[(Vec<u8>, Vec<u8>)],
    hash: &[u8],
    signature: &[u8],
    signer: &Signer<'_>,
) -> Result<(), Rejection> {
    let hash_ok = payload_sha256.is_some_and(|h| h == hash);
    if !hash_ok {
        return Err(reject(format!(
            "the {kind} transparency-log entry is for another payload than this envelope's"
        )));
    }
    if !signatures
        .iter()
        .any(|(s, v)| s.as_slice() == signature && verifier_matches(v, signer))
    {
        return Err(reject(format!(
            "the {kind} transparency-log entry does not log this envelope's signature and signer"
        )));
    }
    Ok(())
}

/// Whether an intoto 0.0.1 entry logs this envelope, its payload and its signer.
fn envelope_hash_binds(
    envelope_sha256: &[u8],
    payload_sha256: &[u8],
    verifier: &[u8],
    payload: &[u8],
    envelope: Option<&[u8]>,
    signer: &Signer<'_>,
) -> Result<(), Rejection> {
    if envelope.is_none_or(|e| e != envelope_sha256) {
        return Err(reject(
            "the intoto transparency-log entry is for another envelope than this one",
        ));
    }
    if payload_sha256 != payload {
        return Err(reject(
            "the intoto transparency-log entry is for another payload than this envelope's",
        ));
    }
    if !verifier_matches(verifier, signer) {
        return Err(reject(
            "the transparency-log entry names another certificate or key than the signer",
        ));
    }
    Ok(())
}

fn verifier_matches(verifier: &[u8], signer: &Signer<'_>) -> bool {
    match signer {
        Signer::Cert(c) => verifier == c.der.as_slice(),
        Signer::Key(k) => {
            verifier == k.spki_der()
                || Cert::from_der(verifier).is_ok_and(|c| c.spki_der() == k.spki_der())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inclusion_math_on_small_trees() {
        // Tree of 3 leaves: root = H(H(l0,l1), l2).
        let leaf = |b: u8| sha256(&[0, b]);
        let (l0, l1, l2) = (leaf(0), leaf(1), leaf(2));
        let n01 = hash_children(&l0, &l1);
        let root = hash_children(&n01, &l2);
        assert_eq!(
            root_from_proof(0, 3, l0, &[l1.to_vec(), l2.to_vec()]),
            Some(root)
        );
        assert_eq!(
            root_from_proof(1, 3, l1, &[l0.to_vec(), l2.to_vec()]),
            Some(root)
        );
        assert_eq!(root_from_proof(2, 3, l2, &[n01.to_vec()]), Some(root));
        assert_ne!(root_from_proof(2, 3, l1, &[n01.to_vec()]), Some(root));
        assert_eq!(root_from_proof(3, 3, l2, &[n01.to_vec()]), None);
        assert_eq!(root_from_proof(0, 1, l0, &[]), Some(l0));
        assert_eq!(root_from_proof(0, 1, l0, &[l1.to_vec()]), None);
        // Huge trees must not overflow the shifts.
        assert_eq!(root_from_proof(u64::MAX - 1, u64::MAX, l0, &[]), None);
        assert_eq!(root_from_proof(1 << 63, u64::MAX, l0, &[]), None);
    }

    const CONFORMANCE: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/data/vectors/sigstore-conformance/assets/bundle-verify"
    );

    fn json(path: &str) -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(format!("{CONFORMANCE}/{path}")).unwrap()).unwrap()
    }

    /// The rekor2-happy-path checkpoint, with the trust root it verifies under.
    fn happy() -> (String, TrustRoot) {
        let b = json("rekor2-happy-path/bundle.sigstore.json");
        let note = b["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]["checkpoint"]
            ["envelope"]
            .as_str()
            .unwrap()
            .to_string();
        let root = TrustRoot::from_json(
            &std::fs::read(format!("{CONFORMANCE}/rekor2-happy-path/trusted_root.json")).unwrap(),
        )
        .unwrap();
        (note, root)
    }

    fn check(note: &str, root: &TrustRoot) -> Result<Checkpoint, Rejection> {
        let log = root
            .tlogs
            .iter()
            .find(|l| l.base_url.contains("log2025-alpha1"))
            .unwrap();
        verify_checkpoint(note, log, log.key.as_ref().unwrap())
    }

    fn err<T>(r: Result<T, Rejection>, needle: &str) {
        match r {
            Ok(_) => panic!("accepted, expected {needle:?}"),
            Err(Rejection { reason: m, .. }) => {
                assert!(m.contains(needle), "{m:?} lacks {needle:?}")
            }
        }
    }

    #[test]
    fn rekor_v2_checkpoint_verifies_with_cosignatures_in_any_order() {
        let (note, root) = happy();
        let cp = check(&note, &root).unwrap();
        assert_eq!(cp.size, 736);
        let (text, sig) = note.split_once("\n\n").unwrap();
        let witness = "\u{2014} witness.example O8PH5AAAAABopO8+4O9uzScQrNEnGdKLYXSPoUjH1Se4n92W+wT/j5Kel/4J2XWE4bEe9bpIVUD6EGOeUDFkSWz/rbDhvVcJ/2OrDw==\n";
        assert!(check(&format!("{text}\n\n{witness}{sig}"), &root).is_ok());
        assert!(check(&format!("{text}\n\n{sig}{witness}"), &root).is_ok());
        // Only the witness: the log's own signature is required.
        err(
            check(&format!("{text}\n\n{witness}"), &root),
            "carries no signature by log",
        );
    }

    #[test]
    fn rekor_v2_checkpoint_missing_lines_or_bad_signature_fail() {
        let (note, root) = happy();
        let lines: Vec<&str> = note.split('\n').collect();
        let without = |i: usize| {
            let mut l = lines.clone();
            l.remove(i);
            l.join("\n")
        };
        err(check(&without(0), &root), "not a tree size");
        err(check(&without(1), &root), "not a tree size");
        err(check(&without(2), &root), "root hash");
        err(
            check(&format!("{}\n", lines[..4].join("\n")), &root),
            "carries no signature by log",
        );
        err(check(&note.replace("\n\n", "\n"), &root), "no blank line");
        // Another tree size under the same signature: the signature breaks.
        err(
            check(&note.replacen("\n736\n", "\n737\n", 1), &root),
            "does not verify",
        );
        // The signature line renamed: its key hint no longer names the log's key.
        err(
            check(
                &note.replace(
                    "\u{2014} log2025-alpha1.rekor.sigstage.dev",
                    "\u{2014} log2025-alpha1.rekor.github.dev",
                ),
                &root,
            ),
            "carries no signature by log",
        );
        err(
            check(&"x".repeat(MAX_NOTE_LEN + 1), &root),
            "larger than 16 KiB",
        );
    }

    fn v2_body(case: &str) -> Body {
        let b = json(&format!("{case}/bundle.sigstore.json"));
        let body = B64
            .decode(
                b["verificationMaterial"]["tlogEntries"][0]["canonicalizedBody"]
                    .as_str()
                    .unwrap(),
            )
            .unwrap();
        Body::parse(&body).unwrap()
    }

    #[test]
    fn rekor_v2_hashedrekord_binds_only_its_signature_digest_and_signer() {
        let b = json("rekor2-happy-path/bundle.sigstore.json");
        let body = v2_body("rekor2-happy-path");
        let sig = B64
            .decode(b["messageSignature"]["signature"].as_str().unwrap())
            .unwrap();
        let digest = B64
            .decode(
                b["messageSignature"]["messageDigest"]["digest"]
                    .as_str()
                    .unwrap(),
            )
            .unwrap();
        let cert = Cert::from_der(
            &B64.decode(
                b["verificationMaterial"]["certificate"]["rawBytes"]
                    .as_str()
                    .unwrap(),
            )
            .unwrap(),
        )
        .unwrap();
        let signer = Signer::Cert(&cert);
        body.binds(&Subject::Blob(HashAlg::Sha256, &digest), &sig, &signer)
            .unwrap();
        let mut other = digest.clone();
        other[0] ^= 1;
        err(
            body.binds(&Subject::Blob(HashAlg::Sha256, &other), &sig, &signer),
            "other content",
        );
        let mut other_sig = sig.clone();
        other_sig[8] ^= 1;
        err(
            body.binds(
                &Subject::Blob(HashAlg::Sha256, &digest),
                &other_sig,
                &signer,
            ),
            "another signature",
        );
        // The certificate's own key matches it; any other key does not.
        let key = PublicKey::from_spki_der(cert.spki_der()).unwrap();
        body.binds(
            &Subject::Blob(HashAlg::Sha256, &digest),
            &sig,
            &Signer::Key(&key),
        )
        .unwrap();
        let public_good = TrustRoot::public_good().unwrap();
        let key = public_good.tlogs[0].key.clone().unwrap();
        err(
            body.binds(
                &Subject::Blob(HashAlg::Sha256, &digest),
                &sig,
                &Signer::Key(&key),
            ),
            "another certificate or key",
        );
        // A v2 hashedrekord binds a DSSE envelope by its PAE hash, never by its payload hash.
        err(
            body.binds(
                &Subject::Dsse {
                    payload: &digest,
                    pae: &other,
                    envelope: None,
                },
                &sig,
                &signer,
            ),
            "other content",
        );
        body.binds(
            &Subject::Dsse {
                payload: &other,
                pae: &digest,
                envelope: None,
            },
            &sig,
            &signer,
        )
        .unwrap();
    }

    #[test]
    fn rekor_v2_bodies_are_parsed_strictly() {
        let parse = |v: serde_json::Value| Body::parse(&serde_json::to_vec(&v).unwrap());
        let verifier = serde_json::json!({"publicKey": {"rawBytes": "AAAA"}});
        let hr = |alg: &str, digest: &str| {
            serde_json::json!({"apiVersion": "0.0.2", "kind": "hashedrekord", "spec": {
                "hashedRekordV002": {"data": {"algorithm": alg, "digest": digest},
                "signature": {"content": "AAAA", "verifier": verifier}}}})
        };
        let d32 = B64.encode([7u8; 32]);
        assert!(matches!(
            parse(hr("SHA2_256", &d32)),
            Ok(Body::HashedRekord { v2: true, .. })
        ));
        err(parse(hr("SHA2_384", &d32)), "not a base64 SHA-384");
        err(parse(hr("SHA2_256", "AAAA")), "not a base64 SHA-256");
        err(
            parse(hr("SHA3_256", &d32)),
            "not SHA2_256, SHA2_384 or SHA2_512",
        );
        assert!(matches!(
            parse(hr("SHA2_512", &B64.encode([7u8; 64]))),
            Ok(Body::HashedRekord {
                alg: HashAlg::Sha512,
                v2: true,
                ..
            })
        ));
        err(
            parse(serde_json::json!({"apiVersion": "0.0.2", "kind": "hashedrekord", "spec": {}})),
            "no hashedRekordV002",
        );
        let dsse = serde_json::json!({"apiVersion": "0.0.2", "kind": "dsse", "spec": {
            "dsseV002": {"payloadHash": {"algorithm": "SHA2_256", "digest": d32},
            "signatures": [{"content": "AAAA", "verifier": verifier}]}}});
        match parse(dsse).unwrap() {
            Body::Envelope {
                kind,
                payload_sha256,
                signatures,
            } => {
                assert_eq!(kind, "dsse");
                assert_eq!(payload_sha256, Some(vec![7u8; 32]));
                assert_eq!(signatures.len(), 1);
            }
            b => panic!("{b:?}"),
        }
        let two = serde_json::json!({"apiVersion": "0.0.2", "kind": "dsse", "spec": {
            "dsseV002": {"payloadHash": {"algorithm": "SHA2_256", "digest": d32},
            "signatures": [{"content": "AAAA", "verifier": {}}]}}});
        err(parse(two), "exactly one certificate or public key");
        err(
            parse(serde_json::json!({"apiVersion": "0.0.3", "kind": "dsse", "spec": {}})),
            "not supported",
        );
    }
}
