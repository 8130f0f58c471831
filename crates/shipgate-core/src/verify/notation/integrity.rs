//! The integrity step (always enforced) after the envelope parsed and its signature verified
//! with the leaf key: the certificate chain is a valid code-signing chain, the signature
//! algorithm is the one the leaf key implies, the signing times are there, the payload names
//! exactly this artifact, and every critical signed attribute is understood.

use serde::Deserialize;

use super::super::x509::profile::{self, KeySpec, Purpose};
use super::super::x509::{Cert, MAX_CHAIN};
use super::aws_signer::{self, SignerAttributes};
use super::envelope::{Envelope, SignatureAlgorithm, SigningScheme};
use super::{Target, AWS_SIGNER_PLUGIN};

/// What integrity established, for the later steps.
pub(super) struct Checked {
    /// The envelope's certificates, leaf first.
    pub chain: Vec<Cert>,
    /// The AWS Signer attributes, for an AWS Signer signature.
    pub aws: Option<SignerAttributes>,
}

/// The envelope's certificate chain, parsed (leaf first, at most [`MAX_CHAIN`]).
pub(super) fn chain(env: &Envelope) -> Result<Vec<Cert>, String> {
    if env.cert_chain.is_empty() {
        return Err("the envelope carries no certificate chain".into());
    }
    if env.cert_chain.len() > MAX_CHAIN {
        return Err(format!(
            "the envelope's certificate chain has more than {MAX_CHAIN} certificates"
        ));
    }
    env.cert_chain
        .iter()
        .map(|der| Cert::from_der(der).map_err(|e| format!("a chain certificate: {e}")))
        .collect()
}

pub(super) fn check(env: &Envelope, chain: Vec<Cert>, target: &Target) -> Result<Checked, String> {
    let refs: Vec<&Cert> = chain.iter().collect();
    profile::check_chain(&refs, Purpose::CodeSigning)
        .map_err(|e| format!("the certificate chain is invalid: {e}"))?;
    if let Some(leaf) = chain.first() {
        check_algorithm(env.alg, leaf)?;
    }
    check_times(env)?;
    check_payload(&env.payload, target)?;
    let aws = check_attributes(env)?;
    Ok(Checked { chain, aws })
}

/// The envelope's algorithm must be the one the leaf key's type and size imply (RSA 2048 →
/// PS256, 3072 → PS384, 4096 → PS512, P-256 → ES256, P-384 → ES384, P-521 → ES512), as
/// notation-core-go requires.
pub(super) fn check_algorithm(alg: SignatureAlgorithm, leaf: &Cert) -> Result<(), String> {
    use SignatureAlgorithm::*;
    let implied = match profile::key_spec(leaf)? {
        KeySpec::Rsa(2048) => Ps256,
        KeySpec::Rsa(3072) => Ps384,
        KeySpec::Rsa(4096) => Ps512,
        KeySpec::Ec(256) => Es256,
        KeySpec::Ec(384) => Es384,
        KeySpec::Ec(521) => Es512,
        other => return Err(format!("the signing key {other:?} is not allowed")),
    };
    if implied != alg {
        return Err(format!(
            "the envelope says {alg:?} but the signing certificate's key implies {implied:?}"
        ));
    }
    Ok(())
}

/// The scheme's signing time is present, and the expiry (if any) is after it.
fn check_times(env: &Envelope) -> Result<(), String> {
    let (signed, what) = match env.signing_scheme {
        SigningScheme::X509 => (env.signing_time, "io.cncf.notary.signingTime"),
        SigningScheme::X509SigningAuthority => (
            env.authentic_signing_time,
            "io.cncf.notary.authenticSigningTime",
        ),
    };
    let signed = signed.ok_or_else(|| format!("the envelope has no {what}"))?;
    if env.expiry.is_some_and(|e| e <= signed) {
        return Err("the envelope's expiry is not after its signing time".into());
    }
    Ok(())
}

#[derive(Deserialize)]
struct Payload {
    #[serde(rename = "targetArtifact")]
    target_artifact: Option<Descriptor>,
}

#[derive(Deserialize)]
struct Descriptor {
    #[serde(rename = "mediaType")]
    media_type: Option<String>,
    digest: Option<String>,
    size: Option<u64>,
}

/// The payload's `targetArtifact` must be exactly `target` (digest, media type and size).
fn check_payload(payload: &[u8], target: &Target) -> Result<(), String> {
    let p: Payload = serde_json::from_slice(payload)
        .map_err(|e| format!("the signed payload is not a Notary Project payload: {e}"))?;
    let d = p
        .target_artifact
        .ok_or("the signed payload has no targetArtifact")?;
    let digest = d.digest.unwrap_or_default();
    if digest != target.digest {
        return Err(format!(
            "the signature is for {digest}, not this image ({})",
            target.digest
        ));
    }
    let media_type = d.media_type.unwrap_or_default();
    if media_type != target.media_type {
        return Err(format!(
            "the signature is for {digest} as {media_type:?}, not as {:?}",
            target.media_type
        ));
    }
    if d.size != Some(target.size) {
        return Err(format!(
            "the signature is for {digest} of {} bytes, not {}",
            d.size.map_or("unknown".into(), |s| s.to_string()),
            target.size
        ));
    }
    Ok(())
}

/// Critical signed attributes must be understood: none without a verification plugin; for the
/// AWS Signer plugin, the ones it processes (shipgate does that natively); any other plugin
/// fails, since shipgate runs no plugins.
fn check_attributes(env: &Envelope) -> Result<Option<SignerAttributes>, String> {
    let understood: &[&str] = match env.verification_plugin.as_deref() {
        None => &[],
        Some(p) if p.trim().is_empty() => {
            return Err("io.cncf.notary.verificationPlugin is empty".into())
        }
        Some(AWS_SIGNER_PLUGIN) => &aws_signer::PROCESSED,
        Some(other) => {
            return Err(format!(
                "the signature requires verification plugin {other:?}, which shipgate does not \
                 run (only AWS Signer signatures are verified natively)"
            ))
        }
    };
    if let Some(a) = env
        .extended
        .iter()
        .find(|a| a.critical && !understood.contains(&a.key.as_str()))
    {
        return Err(format!(
            "the signature has critical signed attribute {:?}, which shipgate does not \
             understand",
            a.key
        ));
    }
    if env.verification_plugin.is_none() {
        return Ok(None);
    }
    if env.signing_scheme != SigningScheme::X509SigningAuthority {
        return Err(
            "an AWS Signer signature must use the notary.x509.signingAuthority scheme".into(),
        );
    }
    aws_signer::attributes(env).map(Some)
}
