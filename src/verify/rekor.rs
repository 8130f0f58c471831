//! Rekor v1 transparency-log proofs: the signed entry timestamp (SET), the RFC 6962 inclusion
//! proof with its signed checkpoint, and what the logged entry body binds.

use base64::Engine as _;
use serde::Deserialize;

use super::certificate::{fmt_time, Cert};
use super::keys::{sha256, PublicKey};
use super::trust_root::{LogKey, TrustRoot};
use super::Rejection;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
/// Largest entry body we read.
const MAX_BODY_LEN: usize = 256 * 1024;
/// Most hashes an inclusion proof may hold (a tree of 2^64 leaves needs 64).
const MAX_PROOF_HASHES: usize = 64;
/// Most signatures we read from an entry body or a checkpoint.
const MAX_SIGNATURES: usize = 8;

fn reject(m: impl Into<String>) -> Rejection {
    Rejection(m.into())
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

struct Checkpoint {
    size: u64,
    root: Vec<u8>,
}

/// A signed note: `origin\nsize\nbase64(root)\n[extra lines]\n\n— name base64(hint‖sig)\n…`.
fn verify_checkpoint(note: &str, log: &LogKey, key: &PublicKey) -> Result<Checkpoint, Rejection> {
    let bad = || reject("the checkpoint is malformed");
    let split = note.find("\n\n").ok_or_else(bad)?;
    let text = note.get(..split + 1).ok_or_else(bad)?;
    let sigs = note.get(split + 2..).ok_or_else(bad)?;
    let mut lines = text.lines();
    let _origin = lines.next().filter(|o| !o.is_empty()).ok_or_else(bad)?;
    let size = lines
        .next()
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or_else(bad)?;
    let root = lines
        .next()
        .and_then(|r| B64.decode(r).ok())
        .filter(|r| r.len() == 32)
        .ok_or_else(bad)?;
    let hint = log.log_id.get(..4).ok_or_else(bad)?;
    let verified = sigs
        .lines()
        .take(MAX_SIGNATURES)
        .filter_map(|l| l.strip_prefix("\u{2014} "))
        .filter_map(|l| l.rsplit_once(' '))
        .filter_map(|(_name, b)| B64.decode(b).ok())
        .any(|raw| {
            raw.get(..4) == Some(hint)
                && raw.get(4..).is_some_and(|s| key.verify(text.as_bytes(), s))
        });
    if !verified {
        return Err(reject(format!(
            "the checkpoint carries no valid signature by log {}",
            log.base_url
        )));
    }
    Ok(Checkpoint { size, root })
}

// ---- entry bodies ----

/// What a logged entry says was signed, by whom.
#[derive(Debug)]
pub(crate) enum Body {
    /// `hashedrekord` 0.0.1: a signature over a blob known by its SHA-256.
    HashedRekord {
        signature: Vec<u8>,
        verifier: Vec<u8>,
        sha256: Vec<u8>,
    },
    /// `dsse` 0.0.1 or `intoto` 0.0.2: a DSSE envelope; signatures with their verifiers.
    Envelope {
        kind: &'static str,
        payload_sha256: Option<Vec<u8>>,
        signatures: Vec<(Vec<u8>, Vec<u8>)>,
    },
}

/// What the artifact signed, for comparison with the body.
pub(crate) enum Subject<'a> {
    /// A blob: the SHA-256 of the signed bytes (payload or message).
    Blob(&'a [u8]),
    /// A DSSE envelope: the SHA-256 of its payload.
    Dsse(&'a [u8]),
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
    fn parse(bytes: &[u8]) -> Result<Body, Rejection> {
        let raw: RawBody = serde_json::from_slice(bytes)
            .map_err(|e| reject(format!("the log entry body is not a Rekor entry: {e}")))?;
        let spec_err =
            |e: serde_json::Error| reject(format!("the {} log entry is malformed: {e}", raw.kind));
        match (raw.kind.as_str(), raw.api_version.as_str()) {
            ("hashedrekord", "0.0.1") => {
                let s: HashedRekordSpec = serde_json::from_value(raw.spec).map_err(spec_err)?;
                Ok(Body::HashedRekord {
                    signature: B64
                        .decode(&s.signature.content)
                        .map_err(|_| reject("the log entry's signature is not base64"))?,
                    verifier: verifier_der(&s.signature.public_key.content)?,
                    sha256: sha256_value(&s.data.hash)?,
                })
            }
            ("dsse", "0.0.1") => {
                let s: DsseSpec = serde_json::from_value(raw.spec).map_err(spec_err)?;
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
            ("intoto", "0.0.2") => {
                let s: IntotoSpec = serde_json::from_value(raw.spec).map_err(spec_err)?;
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
            (kind, version) => Err(reject(format!(
                "log entries of kind {kind} {version} are not supported (hashedrekord 0.0.1, \
                 dsse 0.0.1 and intoto 0.0.2 are)"
            ))),
        }
    }

    /// Checks that this entry logs exactly `signature` by `signer` over `subject`.
    pub fn binds(
        &self,
        subject: &Subject<'_>,
        signature: &[u8],
        signer: &Signer<'_>,
    ) -> Result<(), Rejection> {
        match (self, subject) {
            (Body::HashedRekord { signature: s, verifier, sha256 }, Subject::Blob(hash)) => {
                if sha256.as_slice() != *hash {
                    return Err(reject(
                        "the transparency-log entry is for other content than this signature's payload",
                    ));
                }
                if s.as_slice() != signature {
                    return Err(reject("the transparency-log entry logs another signature"));
                }
                if !verifier_matches(verifier, signer) {
                    return Err(reject(
                        "the transparency-log entry names another certificate or key than the signer",
                    ));
                }
                Ok(())
            }
            (Body::Envelope { payload_sha256, signatures, kind }, Subject::Dsse(hash)) => {
                let hash_ok = payload_sha256.as_ref().is_some_and(|h| h.as_slice() == *hash);
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
            (Body::HashedRekord { .. }, Subject::Dsse(_)) => Err(reject(
                "the transparency-log entry is a hashedrekord, but the bundle holds a DSSE envelope",
            )),
            (Body::Envelope { kind, .. }, Subject::Blob(_)) => Err(reject(format!(
                "the transparency-log entry is a {kind} entry, but the signature is over a blob",
            ))),
        }
    }
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
}
