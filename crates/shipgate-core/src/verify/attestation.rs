//! Attestations: a DSSE envelope with an in-toto Statement, in a Sigstore bundle (OCI referrer)
//! or a cosign `.att` layer. The signature is judged like any other ([`judge`]); on top, the
//! envelope must carry an in-toto Statement that names the subject, and the statement is returned.

use base64::Engine as _;
use serde::Deserialize;
use serde_json::Value;

use crate::evidence::attestations::{AttestationArtifact, LegacyAttestation};
use crate::evidence::BundleArtifact;
use crate::reference::Digest;

use super::asn1;
use super::bundle::MAX_BUNDLE_LEN;
use super::certificate::Leaf;
use super::dsse;
use super::judge::{Material, Signed, Tlog};
use super::keys::sha256;
use super::legacy;
use super::timestamp::Timestamps;
use super::trust_root::TrustRoot;
use super::x509::{Cert, MAX_CHAIN};
use super::{Rejection, Subject};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
/// Most subjects looked through.
const MAX_SUBJECTS: usize = 1024;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Envelope {
    payload: String,
    payload_type: String,
    #[serde(default)]
    signatures: Vec<EnvelopeSignature>,
}

#[derive(Deserialize)]
struct EnvelopeSignature {
    sig: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BundleShape {
    dsse_envelope: Option<Envelope>,
}

fn reject(m: impl Into<String>) -> Rejection {
    Rejection::new(m.into())
}

/// The statement of an attestation, checked to name `subject`.
pub(crate) struct Statement {
    pub predicate_type: String,
    pub value: Value,
}

/// The DSSE payload of an envelope, decoded and checked: in-toto payload type, an in-toto
/// Statement v0.1/v1 whose subjects include `subject`.
fn statement(env: &Envelope, subject: &Subject) -> Result<(Vec<u8>, Statement), Rejection> {
    if env.payload_type != dsse::IN_TOTO {
        return Err(reject(format!(
            "the DSSE payload type is `{}`, not `{}`",
            env.payload_type,
            dsse::IN_TOTO
        )));
    }
    let payload = B64
        .decode(env.payload.trim())
        .map_err(|_| reject("the DSSE payload is not valid base64"))?;
    let value: Value = serde_json::from_slice(&payload)
        .map_err(|e| reject(format!("the DSSE payload is not an in-toto Statement: {e}")))?;
    check_subject(&value, subject)?;
    // The shared check also validates `_type`.
    let predicate_type = dsse::check_statement(&payload, subject)?;
    if predicate_type.is_empty() {
        return Err(reject("the in-toto Statement has no predicateType"));
    }
    Ok((
        payload,
        Statement {
            predicate_type,
            value,
        },
    ))
}

/// "attestation subject sha256:ab… is not this image sha256:cd…" when no subject matches.
fn check_subject(value: &Value, subject: &Subject) -> Result<(), Rejection> {
    let subjects = value
        .get("subject")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    if subjects.len() > MAX_SUBJECTS {
        return Err(reject("the in-toto Statement has too many subjects"));
    }
    let digest_of = |s: &Value, alg: &str| {
        s.get("digest")
            .and_then(|d| d.get(alg))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let matches = subjects.iter().any(|s| {
        digest_of(s, "sha256")
            .zip(subject.sha256.as_ref().map(Digest::hex))
            .is_some_and(|(a, b)| a.eq_ignore_ascii_case(b))
            || digest_of(s, "sha512")
                .zip(subject.sha512.as_deref())
                .is_some_and(|(a, b)| a.eq_ignore_ascii_case(b))
    });
    if matches {
        return Ok(());
    }
    let named: Vec<String> = subjects
        .iter()
        .filter_map(|s| {
            digest_of(s, "sha256")
                .map(|h| format!("sha256:{h}"))
                .or_else(|| digest_of(s, "sha512").map(|h| format!("sha512:{h}")))
        })
        .take(3)
        .collect();
    Err(reject(if named.is_empty() {
        format!(
            "the attestation names no sha256 or sha512 subject, so it is not about this image {}",
            subject.describe()
        )
    } else {
        format!(
            "attestation subject {} is not this image {}",
            named.join(", "),
            subject.describe()
        )
    }))
}

/// A bundle attestation: the statement, and the material judged like a bundle signature.
pub(crate) fn prepare_bundle(
    artifact: &BundleArtifact,
    subject: &Subject,
    root: &TrustRoot,
) -> Result<(Statement, Material), Rejection> {
    if artifact.json.len() > MAX_BUNDLE_LEN {
        return Err(reject("the Sigstore bundle is larger than 1 MiB"));
    }
    let shape: BundleShape = serde_json::from_slice(&artifact.json).map_err(|e| {
        reject(format!(
            "the Sigstore bundle is not valid JSON of the bundle format: {e}"
        ))
    })?;
    let env = shape.dsse_envelope.ok_or_else(|| {
        reject("the Sigstore bundle holds a message signature, not an attestation (DSSE envelope)")
    })?;
    let (_, st) = statement(&env, subject)?;
    let material = super::bundle::prepare(artifact, subject, root, false)?;
    Ok((st, material))
}

/// A cosign `.att` layer: the DSSE envelope plus cosign's annotations.
pub(crate) fn prepare_legacy(
    att: &LegacyAttestation,
    subject: &Subject,
    root: &TrustRoot,
) -> Result<(Statement, Material), Rejection> {
    if att.envelope.len() > MAX_BUNDLE_LEN {
        return Err(reject("the DSSE envelope is larger than 1 MiB"));
    }
    let env: Envelope = serde_json::from_slice(&att.envelope)
        .map_err(|e| reject(format!("the attestation layer is not a DSSE envelope: {e}")))?;
    let (payload, st) = statement(&env, subject)?;
    let [sig] = env.signatures.as_slice() else {
        return Err(reject("the DSSE envelope must hold exactly one signature"));
    };
    let signature = B64
        .decode(sig.sig.trim())
        .map_err(|_| reject("the DSSE signature is not valid base64"))?;
    let leaf = match &att.certificate {
        None => None,
        Some(pem) => {
            Some(Leaf::new(Cert::from_pem(pem).map_err(|e| {
                reject(format!("the certificate annotation: {e}"))
            })?))
        }
    };
    if let Some(chain) = &att.chain {
        // Trust comes from the trust root only; the chain is decoded just to bound it.
        if chain.len() > asn1::MAX_PEM_LEN * MAX_CHAIN {
            return Err(reject("the chain annotation is too large"));
        }
        asn1::pem_blocks(chain, "CERTIFICATE", MAX_CHAIN)
            .map_err(|e| reject(format!("the chain annotation: {e}")))?;
    }
    let timestamps = match &att.rfc3161_timestamp {
        None => Timestamps::default(),
        Some(json) => Timestamps::verify(&[legacy::annotation_timestamp(json)?], &signature, root),
    };
    // The Rekor entry (intoto 0.0.2 or dsse 0.0.1) must bind this envelope: payload hash,
    // signature and signer are checked per authority by `judge`.
    let tlog = match &att.rekor_bundle {
        None => Tlog::Absent,
        Some(json) => match legacy::rekor_entry(json, root) {
            Ok(e) => Tlog::Verified(e),
            Err(r) => Tlog::Invalid(r),
        },
    };
    let pae = dsse::pae(&env.payload_type, &payload);
    let material = Material {
        subject_sha256: sha256(&payload).to_vec(),
        subject_alg: super::keys::HashAlg::Sha256,
        dsse_pae_sha256: Some(sha256(&pae)),
        dsse_envelope_sha256: Some(sha256(&att.envelope)),
        predicate_type: None,
        signed: Signed::Message(pae),
        signature,
        leaf,
        tlog,
        timestamps,
    };
    Ok((st, material))
}

/// Dispatches on the artifact's format.
pub(crate) fn prepare(
    artifact: &AttestationArtifact,
    subject: &Subject,
    root: &TrustRoot,
) -> Result<(Statement, Material), Rejection> {
    match artifact {
        AttestationArtifact::Bundle(b) => prepare_bundle(b, subject, root),
        AttestationArtifact::Legacy(l) => prepare_legacy(l, subject, root),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_statement_about_another_digest_says_so() {
        let ours: Digest = format!("sha256:{}", "ab".repeat(32)).parse().unwrap();
        let st = serde_json::json!({
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{"digest": {"sha256": "cd".repeat(32)}}],
            "predicateType": "https://slsa.dev/provenance/v1",
        });
        let err = check_subject(&st, &Subject::sha256(&ours))
            .unwrap_err()
            .reason;
        assert!(
            err.starts_with(&format!(
                "attestation subject sha256:{} is not this image sha256:",
                "cd".repeat(32)
            )),
            "{err}"
        );
        assert!(check_subject(
            &st,
            &Subject::sha256(&format!("sha256:{}", "cd".repeat(32)).parse().unwrap())
        )
        .is_ok());
    }
}
