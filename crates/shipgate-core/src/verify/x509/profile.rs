//! The Notary Project's certificate requirements (signature specification, "Certificate
//! Requirements"), as notation-core-go's `ValidateCodeSigningCertChain` and
//! `ValidateTimestampingCertChain` apply them: to the code-signing chain inside a Notation
//! envelope and to the chain of an RFC 3161 countersignature's TSA. Validity periods are not
//! judged here (the callers judge them at the time that matters).

use const_oid::ObjectIdentifier;
use x509_cert::ext::pkix::KeyUsages;

use super::super::asn1::{children, read_tlv};
use super::super::keys::KeyKind;
use super::Cert;

const EKU_ANY: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37.0");
const EKU_SERVER_AUTH: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.1");
const EKU_CLIENT_AUTH: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.2");
const EKU_EMAIL: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.4");
const EKU_TIME_STAMPING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.8");
const EKU_OCSP_SIGNING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.9");

/// What a chain's leaf is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// The signing certificate of a Notation envelope.
    CodeSigning,
    /// The signing certificate of an RFC 3161 timestamp.
    TimeStamping,
}

/// A public key's type and size, as the Notary Project names signing keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeySpec {
    Rsa(usize),
    Ec(usize),
}

/// The key spec of `cert`'s public key, if the Notary Project allows it (RSA 2048, 3072 or
/// 4096 bits; ECDSA P-256, P-384 or P-521).
pub(crate) fn key_spec(cert: &Cert) -> Result<KeySpec, String> {
    let spec = match cert.key.kind() {
        KeyKind::P256 => KeySpec::Ec(256),
        KeyKind::P384 => KeySpec::Ec(384),
        KeyKind::P521 => KeySpec::Ec(521),
        KeyKind::Rsa => KeySpec::Rsa(rsa_bits(cert.spki_der()).ok_or_else(|| {
            format!("certificate {}: the RSA key does not parse", cert.subject())
        })?),
        KeyKind::Ed25519 => {
            return Err(format!(
                "certificate {}: Ed25519 keys are not allowed by the Notary Project",
                cert.subject()
            ))
        }
    };
    match spec {
        KeySpec::Rsa(2048 | 3072 | 4096) | KeySpec::Ec(_) => Ok(spec),
        KeySpec::Rsa(n) => Err(format!(
            "certificate {}: a {n}-bit RSA key is not allowed (2048, 3072 or 4096 bits are)",
            cert.subject()
        )),
    }
}

/// The modulus size of an RSA SubjectPublicKeyInfo, in bits rounded up to whole bytes (as Go's
/// `rsa.PublicKey.Size() * 8`, which the Notary Project's key specs are stated in).
fn rsa_bits(spki: &[u8]) -> Option<usize> {
    let (seq, _) = read_tlv(spki).filter(|(t, _)| t.tag == 0x30)?;
    let fields = children(seq.content)?;
    let bits = fields.get(1).filter(|t| t.tag == 0x03)?;
    let (unused, key) = bits.content.split_first()?;
    if *unused != 0 {
        return None;
    }
    let (rsa, _) = read_tlv(key).filter(|(t, _)| t.tag == 0x30)?;
    let modulus = children(rsa.content)?
        .first()
        .copied()
        .filter(|t| t.tag == 0x02)?;
    let significant = modulus.content.iter().skip_while(|&&b| b == 0).count();
    Some(significant * 8)
}

/// Validates a chain, leaf first, as notation-core-go does: each certificate is issued by the
/// next, the last one is self-signed and no other is, the leaf meets the leaf requirements
/// for `purpose` and every other certificate the CA requirements. One self-signed leaf alone is
/// a valid chain.
pub(crate) fn check_chain(chain: &[&Cert], purpose: Purpose) -> Result<(), String> {
    let Some((leaf, _)) = chain.split_first() else {
        return Err("the certificate chain is empty".into());
    };
    if chain.len() == 1 {
        if !leaf.is_self_signed() {
            return Err(format!(
                "the only certificate of the chain, {}, is not self-signed: the chain must end \
                 with its root",
                leaf.subject()
            ));
        }
        return check_leaf(leaf, purpose);
    }
    for (i, cert) in chain.iter().enumerate() {
        match chain.get(i + 1) {
            None if !cert.is_self_signed() => {
                return Err(format!(
                    "the last certificate of the chain, {}, is not a self-signed root",
                    cert.subject()
                ))
            }
            None => {}
            Some(_) if cert.is_self_signed() => {
                return Err(format!(
                    "certificate {} is self-signed but is not the last of the chain",
                    cert.subject()
                ))
            }
            Some(parent) if !cert.is_signed_by(parent) => {
                return Err(format!(
                    "certificate {} is not issued by the next one in the chain, {}",
                    cert.subject(),
                    parent.subject()
                ))
            }
            Some(_) => {}
        }
        match i {
            0 => check_leaf(cert, purpose)?,
            _ => check_ca(cert, i - 1, purpose)?,
        }
    }
    Ok(())
}

/// The leaf requirements: not a CA; keyUsage present (critical for code signing) with
/// digitalSignature and nothing that encrypts or signs certificates; an allowed EKU; an
/// allowed key.
pub(crate) fn check_leaf(cert: &Cert, purpose: Purpose) -> Result<(), String> {
    let who = cert.subject();
    if let Some((_, true, _)) = cert.basic_constraints()? {
        return Err(format!("signing certificate {who} is a CA certificate"));
    }
    let usage = key_usage_present(cert, purpose)?;
    if !usage.contains(KeyUsages::DigitalSignature) {
        return Err(format!(
            "signing certificate {who}: keyUsage lacks digitalSignature"
        ));
    }
    let forbidden = KeyUsages::KeyEncipherment
        | KeyUsages::DataEncipherment
        | KeyUsages::KeyAgreement
        | KeyUsages::KeyCertSign
        | KeyUsages::CRLSign
        | KeyUsages::EncipherOnly
        | KeyUsages::DecipherOnly;
    if !(usage & forbidden).is_empty() {
        return Err(format!(
            "signing certificate {who}: keyUsage must be digitalSignature only, but allows {:?}",
            usage & forbidden
        ));
    }
    check_leaf_eku(cert, purpose)?;
    key_spec(cert).map(|_| ())
}

fn check_leaf_eku(cert: &Cert, purpose: Purpose) -> Result<(), String> {
    let who = cert.subject();
    let eku = cert.extended_key_usage()?;
    match (purpose, eku) {
        (Purpose::TimeStamping, Some((true, ekus))) if ekus == [EKU_TIME_STAMPING] => Ok(()),
        (Purpose::TimeStamping, Some((false, ekus))) if ekus == [EKU_TIME_STAMPING] => Err(
            format!("timestamping certificate {who}: extendedKeyUsage must be critical"),
        ),
        (Purpose::TimeStamping, _) => Err(format!(
            "timestamping certificate {who} must have timeStamping as its only extended key usage"
        )),
        (Purpose::CodeSigning, None) => Ok(()),
        (Purpose::CodeSigning, Some((_, ekus))) => {
            let excluded = [
                (EKU_ANY, "anyExtendedKeyUsage"),
                (EKU_SERVER_AUTH, "serverAuth"),
                (EKU_CLIENT_AUTH, "clientAuth"),
                (EKU_EMAIL, "emailProtection"),
                (EKU_OCSP_SIGNING, "OCSPSigning"),
                (EKU_TIME_STAMPING, "timeStamping"),
            ];
            match excluded.iter().find(|(oid, _)| ekus.contains(oid)) {
                Some((_, name)) => Err(format!(
                    "signing certificate {who}: extendedKeyUsage must not contain {name}"
                )),
                None => Ok(()),
            }
        }
    }
}

/// The CA requirements: basicConstraints with cA true and a pathLenConstraint, if any, that
/// allows the `below` CA certificates under it; keyUsage present (critical for code signing)
/// with keyCertSign. In a timestamping chain an EKU, if present, must allow time stamping
/// (as Go's chain building, which notation-go uses for TSA chains, requires).
pub(crate) fn check_ca(cert: &Cert, below: usize, purpose: Purpose) -> Result<(), String> {
    let who = cert.subject();
    match cert.basic_constraints()? {
        Some((_, true, Some(len))) if usize::from(len) < below => {
            return Err(format!(
                "CA certificate {who}: its path length constraint {len} does not allow the \
                 {below} CA certificate(s) below it"
            ))
        }
        Some((_, true, _)) => {}
        _ => {
            return Err(format!(
                "CA certificate {who}: basicConstraints must be present with cA true"
            ))
        }
    }
    if !key_usage_present(cert, purpose)?.contains(KeyUsages::KeyCertSign) {
        return Err(format!("CA certificate {who}: keyUsage lacks keyCertSign"));
    }
    if purpose == Purpose::TimeStamping {
        if let Some((_, ekus)) = cert.extended_key_usage()? {
            if !ekus.contains(&EKU_TIME_STAMPING) && !ekus.contains(&EKU_ANY) {
                return Err(format!(
                    "CA certificate {who}: its extendedKeyUsage does not allow time stamping"
                ));
            }
        }
    }
    Ok(())
}

/// The keyUsage bits; the extension must be present, and critical except in timestamping
/// chains (notation-core-go relaxes criticality there, as public TSAs often omit it).
fn key_usage_present(
    cert: &Cert,
    purpose: Purpose,
) -> Result<x509_cert::der::flagset::FlagSet<KeyUsages>, String> {
    match cert.key_usage()? {
        None => Err(format!(
            "certificate {}: the keyUsage extension must be present",
            cert.subject()
        )),
        Some((false, _)) if purpose == Purpose::CodeSigning => Err(format!(
            "certificate {}: the keyUsage extension must be critical",
            cert.subject()
        )),
        Some((_, usage)) => Ok(usage.0),
    }
}
