//! Signature verification: one entry point, `Verifier::verify_signature`.
//!
//! A signature counts only if its payload names this exact digest; the key, or for keyless the
//! certificate chain, verifies to the trust root; for keyless the certificate's identity and
//! issuer match the authority, the transparency-log proof (Rekor v1 or v2) binds that signature,
//! and every verified signing time (the SET's integration time, the genTime of each verified
//! RFC 3161 timestamp; at least one) lies inside the certificate's validity window. Anything
//! else fails closed.
//!
//! Layout: [`trust_root`] (trusted_root.json), [`keys`] (public keys and primitives),
//! [`certificate`] (Fulcio leaves, chain, SCT), [`rekor`] (SET, inclusion proof, signed-note
//! checkpoint, entry bodies), [`timestamp`] (RFC 3161 timestamps, CMS SignedData),
//! [`legacy`] (cosign `.sig` layers), [`bundle`] (Sigstore bundles), [`dsse`] (envelopes and
//! in-toto statements), [`judge`] (per-authority decisions), [`asn1`] (DER/PEM slicing);
//! [`notation`] (Notary Project envelopes and trust policies), judged per authority by
//! `notation_judge` against a [`notation_authority::NotationAuthority`].
//!
//! Why not the `sigstore` crate (0.15), whose source was read for this: its cosign checks run on
//! `SignatureLayer`s that only its own OCI client can build (`SignatureLayer::new` is
//! crate-private), so the gate could not verify what its own registry client collected (nor the
//! referrers it finds); its bundle verifier has no RFC 3161 and does not verify attestations.
//! One module on `aws-lc-rs` serves every format with one set of fail-closed rules. The crate
//! stays a dev-dependency, as the baseline of `bench/cold-check.sh`.

use std::sync::Arc;

use crate::evidence::attestations::AttestationArtifact;
use crate::evidence::SignatureArtifact;
use crate::reference::Digest;
use crate::verify::authority::Authority;

mod asn1;
mod attestation;
pub mod authority;
mod bundle;
mod certificate;
mod dsse;
/// Entry points for the fuzz targets in `fuzz/`; not an API.
#[doc(hidden)]
pub mod fuzzing;
mod judge;
mod keys;
mod legacy;
pub mod notation;
pub mod notation_authority;
mod notation_judge;
mod rekor;
mod roots;
mod timestamp;
mod trust_root;
mod x509;

#[cfg(test)]
mod tests;

pub use keys::PublicKey;
use roots::TrustRoots;
pub use roots::{EmbeddedRoot, FixedRoot, TrustRootSource};
pub use trust_root::TrustRoot;

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("trusted root: {0}")]
    TrustRoot(String),
    #[error("public key: {0}")]
    Key(String),
}

/// Why a signature does not count for an authority: a sentence a developer can act on, and
/// what kind of problem it is (so a check can say "wrong signer" apart from "broken").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct Rejection {
    pub reason: String,
    pub kind: RejectionKind,
}

/// What kind of problem a [`Rejection`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectionKind {
    /// The signature is valid but made by someone the authority does not name: another key,
    /// another certificate subject or issuer, or a key where a keyless identity is expected.
    Identity,
    /// Anything else: altered payload or signature, missing or invalid log proof, expired
    /// certificate, another digest, an unreadable format.
    Invalid,
    /// The signature could not be judged because a service it depends on did not answer
    /// (AWS Signer's revocation check): not a verdict about the signature.
    Unavailable,
}

impl Rejection {
    pub fn new(reason: String) -> Rejection {
        Rejection {
            reason,
            kind: RejectionKind::Invalid,
        }
    }

    /// A rejection because something the judgement needs could not be asked (not a verdict).
    pub fn unavailable(reason: String) -> Rejection {
        Rejection {
            reason,
            kind: RejectionKind::Unavailable,
        }
    }

    /// A rejection because the signer is not the authority's.
    pub fn identity(reason: String) -> Rejection {
        Rejection {
            reason,
            kind: RejectionKind::Identity,
        }
    }
}

/// A signature that verified for an authority.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct VerifiedSignature {
    /// The authority's name.
    pub authority: String,
    /// Key fingerprint (followed by ` (awskms:///…)` for a KMS key), or the certificate subject
    /// for keyless; for a Notary Project signature
    /// the leaf certificate's subject, or the AWS Signer signing-profile ARN.
    pub signer: String,
    /// The OIDC issuer of a keyless certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// Transparency-log index, where a log proof verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tlog_index: Option<u64>,
    /// Log integration time (Unix seconds), where known; for a Notary Project signature (no
    /// log), its authentic signing time, else the time its envelope claims.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integrated_time: Option<i64>,
    /// Verification steps that failed but that the authority's level only logs (Notary Project
    /// `permissive` and `audit` levels, `override`s), each with why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub logged: Vec<String>,
    /// Where the signature was found.
    pub source: String,
}

/// An attestation whose DSSE signature verified for an authority and whose in-toto Statement
/// names the subject.
#[derive(Debug, Clone, serde::Serialize)]
pub struct VerifiedAttestation {
    pub signature: VerifiedSignature,
    pub predicate_type: String,
    /// The whole in-toto Statement (subject, predicateType, predicate).
    #[serde(skip)]
    pub statement: serde_json::Value,
}

/// The in-toto predicate type of a cosign (v3, bundle format) image signature.
pub const COSIGN_SIGN_PREDICATE: &str = "https://sigstore.dev/cosign/sign/v1";

/// What a signature must be about. Images are named by their sha256 manifest digest; other
/// artifacts (npm packages, release files) may be named in in-toto subjects by SHA-512 only.
#[derive(Debug, Clone)]
pub struct Subject {
    /// `sha256:<hex>`.
    pub sha256: Option<Digest>,
    /// Lower-case hex of the SHA-384 (an artifact file; only a bundle `messageSignature` over
    /// a SHA-384 digest uses it).
    pub sha384: Option<String>,
    /// Lower-case hex of the SHA-512.
    pub sha512: Option<String>,
}

impl Subject {
    /// An image (or any artifact known only by its SHA-256).
    pub fn sha256(digest: &Digest) -> Subject {
        Subject {
            sha256: Some(digest.clone()),
            sha384: None,
            sha512: None,
        }
    }

    /// Both digests of the artifact's bytes.
    pub fn of_bytes(sha256: Digest, sha512_hex: String) -> Subject {
        Subject {
            sha256: Some(sha256),
            sha384: None,
            sha512: Some(sha512_hex),
        }
    }

    /// The same subject, also known by its SHA-384 (lower-case hex).
    pub fn with_sha384(mut self, sha384_hex: String) -> Subject {
        self.sha384 = Some(sha384_hex);
        self
    }

    /// `sha256:…` and/or `sha512:…`, for reasons.
    pub fn describe(&self) -> String {
        let mut names = Vec::new();
        if let Some(d) = &self.sha256 {
            names.push(d.to_string());
        }
        if let Some(h) = &self.sha512 {
            names.push(format!("sha512:{h}"));
        }
        names.join(" / ")
    }
}

/// Verifies signatures against its trusted roots. Cheap to share: hold it in an `Arc`.
pub struct Verifier {
    roots: TrustRoots,
}

impl Verifier {
    pub fn new(trust_root: Arc<TrustRoot>) -> Self {
        Verifier::with_source(Arc::new(FixedRoot(trust_root)))
    }

    /// A verifier whose main trusted root is asked for at every verification (a
    /// TUF-refreshed one).
    pub fn with_source(source: Arc<dyn TrustRootSource>) -> Self {
        Verifier {
            roots: TrustRoots::new(source),
        }
    }

    /// Adds (or replaces) the root that authorities naming `name` in `trustRoot:` are judged by.
    pub fn with_named_root(mut self, name: &str, source: Arc<dyn TrustRootSource>) -> Self {
        self.roots.insert(name.to_string(), source);
        self
    }

    /// The names of the roots besides the main one, sorted.
    pub fn root_names(&self) -> impl Iterator<Item = &str> {
        self.roots.names()
    }

    /// Whether authorities may name `name` in `trustRoot:`.
    pub fn has_root(&self, name: &str) -> bool {
        self.roots.contains(name)
    }

    /// The main trust root this verifier judges against now, or why there is none.
    pub fn trust_root(&self) -> Result<Arc<TrustRoot>, String> {
        self.roots.get(None)
    }

    /// The root `name` (`None`: the main one) as it is now, or why there is none.
    pub fn named_trust_root(&self, name: Option<&str>) -> Result<Arc<TrustRoot>, String> {
        self.roots.get(name)
    }

    /// Verifies one artifact for `digest` against each authority; one result per authority, in order.
    pub fn verify_signature(
        &self,
        artifact: &SignatureArtifact,
        digest: &Digest,
        authorities: &[Authority],
    ) -> Vec<Result<VerifiedSignature, Rejection>> {
        self.verify_inner(artifact, &Subject::sha256(digest), authorities, true)
    }

    /// Like `verify_signature`, for a subject that may be named by SHA-512 (bundles only; a
    /// legacy cosign signature always names a sha256 image digest).
    pub fn verify_subject(
        &self,
        artifact: &SignatureArtifact,
        subject: &Subject,
        authorities: &[Authority],
    ) -> Vec<Result<VerifiedSignature, Rejection>> {
        self.verify_inner(artifact, subject, authorities, false)
    }

    /// `image_signature`: a DSSE bundle counts as an image signature only with cosign's
    /// signing predicate; otherwise any in-toto statement about the subject does. Without this
    /// a provenance or SBOM attestation signed by the same identity would pass `signatures:`.
    fn verify_inner(
        &self,
        artifact: &SignatureArtifact,
        subject: &Subject,
        authorities: &[Authority],
        image_signature: bool,
    ) -> Vec<Result<VerifiedSignature, Rejection>> {
        if authorities.is_empty() {
            return Vec::new();
        }
        // Notary Project signatures do not use the Sigstore root: judged before asking for it.
        if let SignatureArtifact::Notation(n) = artifact {
            return notation_judge::judge_notation(
                n,
                subject.sha256.as_ref(),
                image_signature,
                authorities,
            );
        }
        self.roots.judge_per_root(authorities, |root, group| {
            let material = prepare_signature(artifact, subject, root, image_signature);
            judge::judge_all(&material, root, group, artifact.source())
        })
    }

    /// Verifies an attestation (a DSSE envelope in a Sigstore bundle or a cosign `.att` layer)
    /// about `subject` against each authority; one result per authority, in order. It counts
    /// for an authority if the envelope's signature verifies as a signature would (key, or
    /// certificate + transparency-log / timestamp rules), and its in-toto Statement names the
    /// subject; the statement is returned for its predicate to be judged.
    pub fn verify_attestation(
        &self,
        artifact: &AttestationArtifact,
        subject: &Subject,
        authorities: &[Authority],
    ) -> Vec<Result<VerifiedAttestation, Rejection>> {
        if authorities.is_empty() {
            return Vec::new();
        }
        self.roots.judge_per_root(authorities, |root, group| {
            attestation_per_authority(artifact, subject, root, group)
        })
    }
}

/// One root's judgement of an attestation, per authority of `group`.
fn attestation_per_authority(
    artifact: &AttestationArtifact,
    subject: &Subject,
    root: &TrustRoot,
    group: &[Authority],
) -> Vec<Result<VerifiedAttestation, Rejection>> {
    let (statement, material) = match attestation::prepare(artifact, subject, root) {
        Ok((s, m)) => (Some(s), Ok(m)),
        Err(r) => (None, Err(r)),
    };
    judge::judge_all(&material, root, group, artifact.source())
        .into_iter()
        .map(|r| {
            let signature = r?;
            // A verified material always comes with its statement; fail closed if not.
            let st = statement.as_ref().ok_or_else(|| {
                Rejection::new("the attestation verified without an in-toto statement (bug)".into())
            })?;
            Ok(VerifiedAttestation {
                signature,
                predicate_type: st.predicate_type.clone(),
                statement: st.value.clone(),
            })
        })
        .collect()
}

/// The verified material of one image signature under `root`, before any authority is judged.
/// `image_signature`: a DSSE bundle counts as an image signature only with cosign's signing
/// predicate.
fn prepare_signature(
    artifact: &SignatureArtifact,
    subject: &Subject,
    root: &TrustRoot,
    image_signature: bool,
) -> Result<judge::Material, Rejection> {
    let mut material = match (artifact, &subject.sha256) {
        (SignatureArtifact::Notation(_), _) => Err(Rejection::new(
            "a Notary Project signature reached the Sigstore verifier (bug)".into(),
        )),
        (SignatureArtifact::Legacy(l), Some(digest)) => legacy::prepare(l, digest, root),
        (SignatureArtifact::Legacy(_), None) => Err(Rejection::new(
            "a cosign image signature names a sha256 digest; no sha256 was given".into(),
        )),
        (SignatureArtifact::Bundle(b), _) => bundle::prepare(b, subject, root, !image_signature),
    };
    if image_signature {
        if let Ok(Some(pt)) = material.as_ref().map(|m| m.predicate_type.as_deref()) {
            if pt != COSIGN_SIGN_PREDICATE {
                material = Err(Rejection::new(format!(
                    "the bundle is an attestation (predicate type {pt}), not a cosign image \
                         signature ({COSIGN_SIGN_PREDICATE})"
                )));
            }
        }
    }
    material
}
