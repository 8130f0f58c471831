//! A parsed X.509 certificate with the byte ranges its signature checks need, shared by the
//! trust root (CA and TSA chains) and the Fulcio leaf checks in `certificate`.

use const_oid::ObjectIdentifier;
use x509_cert::der::Decode as _;
use x509_cert::Certificate;

use super::asn1;
use super::keys::PublicKey;

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
