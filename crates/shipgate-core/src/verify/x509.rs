//! A parsed X.509 certificate with the byte ranges its signature checks need, shared by the
//! trust root (CA and TSA chains) and the Fulcio leaf checks in `certificate`.

use const_oid::ObjectIdentifier;
use x509_cert::der::Decode as _;
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage};
use x509_cert::Certificate;

use super::asn1;
use super::keys::PublicKey;

pub(crate) mod profile;

/// Largest certificate we parse.
pub(crate) const MAX_CERT_LEN: usize = 32 * 1024;
/// Most certificates we accept in a chain.
pub(crate) const MAX_CHAIN: usize = 10;

/// A parsed certificate with the exact bytes its checks need.
#[derive(Debug)]
pub(crate) struct Cert {
    pub der: Vec<u8>,
    pub parsed: Certificate,
    pub key: PublicKey,
    pub not_before: i64,
    pub not_after: i64,
    tbs: std::ops::Range<usize>,
    issuer: std::ops::Range<usize>,
    subject: std::ops::Range<usize>,
    spki: std::ops::Range<usize>,
    signature: Vec<u8>,
}

/// `sub` as a range inside `whole` (both slices of the same buffer).
fn range_in(whole: &[u8], sub: &[u8]) -> std::ops::Range<usize> {
    let start = (sub.as_ptr() as usize).saturating_sub(whole.as_ptr() as usize);
    start..start + sub.len()
}

impl Cert {
    pub fn from_der(der: &[u8]) -> Result<Cert, String> {
        if der.len() > MAX_CERT_LEN {
            return Err("certificate is larger than 32 KiB".into());
        }
        let parsed =
            Certificate::from_der(der).map_err(|e| format!("certificate does not parse: {e}"))?;
        let parts = asn1::cert_parts(der).ok_or("certificate DER is malformed")?;
        let key =
            PublicKey::from_spki_der(parts.spki).map_err(|e| format!("certificate key: {e}"))?;
        let signature = parsed
            .signature()
            .as_bytes()
            .ok_or("certificate signature has unused bits")?
            .to_vec();
        let validity = parsed.tbs_certificate().validity();
        Ok(Cert {
            tbs: range_in(der, parts.tbs),
            issuer: range_in(der, parts.issuer),
            subject: range_in(der, parts.subject),
            spki: range_in(der, parts.spki),
            der: der.to_vec(),
            key,
            not_before: secs(validity.not_before),
            not_after: secs(validity.not_after),
            signature,
            parsed,
        })
    }

    /// Parses a single PEM certificate.
    pub fn from_pem(pem: &str) -> Result<Cert, String> {
        let mut certs = Cert::chain_from_pem(pem)?;
        match certs.len() {
            1 => Ok(certs.remove(0)),
            0 => Err("no PEM certificate found".into()),
            n => Err(format!("expected one certificate, found {n}")),
        }
    }

    /// Parses a PEM chain of at most [`MAX_CHAIN`] certificates.
    fn chain_from_pem(pem: &str) -> Result<Vec<Cert>, String> {
        if pem.len() > asn1::MAX_PEM_LEN * MAX_CHAIN {
            return Err("PEM certificate text is too large".into());
        }
        asn1::pem_blocks(pem, "CERTIFICATE", MAX_CHAIN)?
            .iter()
            .map(|der| Cert::from_der(der))
            .collect()
    }

    fn slice(&self, r: &std::ops::Range<usize>) -> &[u8] {
        self.der.get(r.clone()).unwrap_or(&[])
    }
    pub fn spki_der(&self) -> &[u8] {
        self.slice(&self.spki)
    }

    /// Whether `issuer` names this certificate's issuer and its key verifies the signature.
    pub fn is_signed_by(&self, issuer: &Cert) -> bool {
        self.slice(&self.issuer) == issuer.slice(&issuer.subject)
            && issuer.key.verify_x509(
                &self.parsed.signature_algorithm().oid,
                self.slice(&self.tbs),
                &self.signature,
            )
    }

    /// Whether Unix second `t` lies in notBefore..=notAfter.
    pub fn valid_at(&self, t: i64) -> bool {
        self.not_before <= t && t <= self.not_after
    }

    pub(super) fn extension(&self, oid: &ObjectIdentifier) -> Option<&[u8]> {
        self.parsed
            .tbs_certificate()
            .extensions()?
            .iter()
            .find(|e| e.extn_id == *oid)
            .map(|e| e.extn_value.as_bytes())
    }
}

fn secs(t: x509_cert::time::Time) -> i64 {
    i64::try_from(t.to_unix_duration().as_secs()).unwrap_or(i64::MAX)
}

/// The X.509 profile checks (basic constraints, key usage, extended key usage) and the subject
/// as attributes, for chains judged by rules rather than against a fixed trust root (Notary
/// Project code-signing chains, RFC 3161 TSA chains up to a trust store).
impl Cert {
    /// The DER TBSCertificate, exactly as signed.
    pub fn tbs_der(&self) -> &[u8] {
        self.slice(&self.tbs)
    }

    /// Whether the certificate's own key verifies its signature and it names itself as issuer.
    pub fn is_self_signed(&self) -> bool {
        self.is_signed_by(self)
    }

    /// `(critical, cA, pathLenConstraint)` of basicConstraints, if present.
    pub fn basic_constraints(&self) -> Result<Option<(bool, bool, Option<u8>)>, String> {
        self.parsed
            .tbs_certificate()
            .get_extension::<BasicConstraints>()
            .map(|o| o.map(|(crit, bc)| (crit, bc.ca, bc.path_len_constraint)))
            .map_err(|e| format!("{}: basicConstraints does not parse: {e}", self.subject()))
    }

    /// `(critical, bits)` of keyUsage, if present.
    pub fn key_usage(&self) -> Result<Option<(bool, KeyUsage)>, String> {
        self.parsed
            .tbs_certificate()
            .get_extension::<KeyUsage>()
            .map_err(|e| format!("{}: keyUsage does not parse: {e}", self.subject()))
    }

    /// `(critical, purposes)` of extendedKeyUsage, if present.
    pub fn extended_key_usage(&self) -> Result<Option<(bool, Vec<ObjectIdentifier>)>, String> {
        self.parsed
            .tbs_certificate()
            .get_extension::<ExtendedKeyUsage>()
            .map(|o| o.map(|(crit, eku)| (crit, eku.0)))
            .map_err(|e| format!("{}: extendedKeyUsage does not parse: {e}", self.subject()))
    }

    /// The subject as an RFC 4514 string (`CN=…,O=…,C=…`), for reasons and evidence.
    pub fn subject(&self) -> String {
        self.parsed.tbs_certificate().subject().to_string()
    }

    /// The subject's attributes as `(type, value)` in certificate order, types named as Go's
    /// `pkix.Name` names them (`C`, `ST`, `L`, `O`, `OU`, `CN`, …; others as dotted OIDs),
    /// because Notary Project trusted identities are matched against that rendering. A value
    /// that is not a string is `#<hex of its DER>`. Multi-valued RDNs are refused, as Notation
    /// refuses them.
    pub fn subject_attributes(&self) -> Result<Vec<(String, String)>, String> {
        let mut out = Vec::new();
        for rdn in self.parsed.tbs_certificate().subject().iter_rdn() {
            if rdn.len() > 1 {
                return Err(format!(
                    "the certificate subject {} has a multi-valued RDN",
                    self.subject()
                ));
            }
            for atv in rdn.iter() {
                out.push((attribute_name(&atv.oid), attribute_value(&atv.value)));
            }
        }
        Ok(out)
    }
}

/// Go's short name of a DN attribute type, else its dotted OID.
fn attribute_name(oid: &ObjectIdentifier) -> String {
    const NAMES: [(&str, &str); 9] = [
        ("2.5.4.6", "C"),
        ("2.5.4.10", "O"),
        ("2.5.4.11", "OU"),
        ("2.5.4.3", "CN"),
        ("2.5.4.5", "SERIALNUMBER"),
        ("2.5.4.7", "L"),
        ("2.5.4.8", "ST"),
        ("2.5.4.9", "STREET"),
        ("2.5.4.17", "POSTALCODE"),
    ];
    let dotted = oid.to_string();
    NAMES
        .iter()
        .find(|(o, _)| *o == dotted)
        .map_or(dotted.clone(), |(_, n)| (*n).to_string())
}

fn attribute_value(value: &x509_cert::der::Any) -> String {
    use x509_cert::der::asn1::{Ia5StringRef, PrintableStringRef, TeletexStringRef, Utf8StringRef};
    use x509_cert::der::{Encode as _, Tag, Tagged as _};
    let s = match value.tag() {
        Tag::PrintableString => PrintableStringRef::try_from(value)
            .ok()
            .map(|s| s.as_str().to_string()),
        Tag::Utf8String => Utf8StringRef::try_from(value)
            .ok()
            .map(|s| s.as_str().to_string()),
        Tag::Ia5String => Ia5StringRef::try_from(value)
            .ok()
            .map(|s| s.as_str().to_string()),
        Tag::TeletexString => TeletexStringRef::try_from(value)
            .ok()
            .map(|s| s.as_str().to_string()),
        _ => None,
    };
    s.unwrap_or_else(|| format!("#{}", hex::encode(value.to_der().unwrap_or_default())))
}
