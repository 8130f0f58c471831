//! X.509 certificates: Fulcio leaves, their identity, their chain to the trust root, their SCTs.

use const_oid::ObjectIdentifier;
use x509_cert::der::asn1::Utf8StringRef;
use x509_cert::der::Decode as _;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{
    BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages, SubjectAltName,
};

use super::asn1;
use super::authority::FulcioClaim;
use super::keys::sha256;
use super::trust_root::TrustRoot;
use super::x509::Cert;
use super::Rejection;

const CODE_SIGNING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.3");
const FULCIO_ISSUER_V1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.1");
const FULCIO_ISSUER_V2: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.8");
const FULCIO_USERNAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.7");
const SCT_LIST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.11129.2.4.2");
/// Extensions a leaf may mark critical; any other critical extension is refused (RFC 5280).
const KNOWN_CRITICAL: [&str; 4] = ["2.5.29.15", "2.5.29.37", "2.5.29.19", "2.5.29.17"];
/// Most SCTs we look at in one certificate.
const MAX_SCTS: usize = 16;
/// Longest claim value we read (Fulcio copies token claims: URIs, digests, refs); a longer one
/// counts as absent.
const MAX_CLAIM_BYTES: usize = 4096;

/// What a Fulcio leaf says about its signer, read once.
#[derive(Debug)]
pub(crate) struct Leaf {
    pub cert: Cert,
    /// SAN URI, email or Fulcio username, whichever comes first.
    pub identity: Option<String>,
    /// The OIDC issuer (Fulcio extension 1.8, else the deprecated 1.1).
    pub issuer: Option<String>,
    /// The token claims Fulcio copied into extensions 1.9–1.22 that are present, well-formed
    /// (a DER UTF8String) and at most [`MAX_CLAIM_BYTES`] long, in OID order.
    pub claims: Vec<(FulcioClaim, String)>,
}

impl Leaf {
    pub fn new(cert: Cert) -> Leaf {
        let identity = san_identity(&cert);
        let issuer = cert
            .extension(&FULCIO_ISSUER_V2)
            .and_then(|v| {
                Utf8StringRef::from_der(v)
                    .ok()
                    .map(|s| s.as_str().to_string())
            })
            .or_else(|| {
                cert.extension(&FULCIO_ISSUER_V1)
                    .and_then(|v| std::str::from_utf8(v).ok().map(str::to_string))
            });
        let claims = read_claims(&cert);
        Leaf {
            cert,
            identity,
            issuer,
            claims,
        }
    }

    /// The value of `claim`, if the certificate carries it.
    pub fn claim(&self, claim: FulcioClaim) -> Option<&str> {
        self.claims
            .iter()
            .find(|(c, _)| *c == claim)
            .map(|(_, v)| v.as_str())
    }

    /// Checks that this leaf is a code-signing certificate issued by a Fulcio CA of `root`
    /// valid at Unix second `t`, that `t` lies in its own validity, and (if the root lists CT
    /// logs) that it carries a valid SCT.
    pub fn verify_at(&self, root: &TrustRoot, t: i64) -> Result<(), Rejection> {
        let cert = &self.cert;
        self.check_profile()?;
        if !cert.valid_at(t) {
            return Err(Rejection::new(format!(
                "the signing time {} is outside the certificate's validity {}..{}",
                fmt_time(t),
                fmt_time(cert.not_before),
                fmt_time(cert.not_after)
            )));
        }
        let mut tried = 0;
        let mut found: Option<Rejection> = None;
        for ca in &root.cas {
            let Some(issuer) = ca.chain.first() else {
                continue;
            };
            if !ca.valid_for.contains_secs(t) || !ca.chain_signatures_ok {
                continue;
            }
            tried += 1;
            if !cert.is_signed_by(issuer) {
                continue;
            }
            if let Some(expired) = ca.chain.iter().find(|c| !c.valid_at(t)) {
                found = Some(Rejection::new(format!(
                    "CA certificate of {} was not valid at the signing time {} (valid {}..{})",
                    ca.uri,
                    fmt_time(t),
                    fmt_time(expired.not_before),
                    fmt_time(expired.not_after)
                )));
                continue;
            }
            if !root.ctlogs.is_empty() {
                verify_sct(cert, issuer, root)?;
            }
            return Ok(());
        }
        Err(found.unwrap_or_else(|| {
            Rejection::new(if tried == 0 {
                format!(
                    "the trust root has no Fulcio CA valid at the signing time {}",
                    fmt_time(t)
                )
            } else {
                "the certificate does not chain to a Fulcio CA of the trust root (another \
                 Sigstore instance, or a forged certificate)"
                    .into()
            })
        }))
    }

    /// Key usage, extended key usage, basic constraints and critical extensions.
    fn check_profile(&self) -> Result<(), Rejection> {
        let tbs = self.cert.parsed.tbs_certificate();
        let bad = |m: &str| Rejection::new(format!("the signing certificate {m}"));
        match tbs.get_extension::<ExtendedKeyUsage>() {
            Ok(Some((_, eku))) if eku.0.contains(&CODE_SIGNING) => {}
            Ok(_) => return Err(bad("lacks the code-signing extended key usage")),
            Err(_) => return Err(bad("has a malformed extended key usage")),
        }
        match tbs.get_extension::<KeyUsage>() {
            Ok(Some((_, ku))) if !ku.0.contains(KeyUsages::DigitalSignature) => {
                return Err(bad("does not allow digital signatures (key usage)"))
            }
            Ok(_) => {}
            Err(_) => return Err(bad("has a malformed key usage")),
        }
        match tbs.get_extension::<BasicConstraints>() {
            Ok(Some((_, bc))) if bc.ca => return Err(bad("is a CA certificate")),
            Ok(_) => {}
            Err(_) => return Err(bad("has malformed basic constraints")),
        }
        for ext in tbs.extensions().into_iter().flatten() {
            if ext.critical && !KNOWN_CRITICAL.contains(&ext.extn_id.to_string().as_str()) {
                return Err(bad(&format!(
                    "has an unknown critical extension {}",
                    ext.extn_id
                )));
            }
        }
        Ok(())
    }
}

/// Fulcio's claim extensions (`1.3.6.1.4.1.57264.1.9` to `.22`), each a DER UTF8String.
fn read_claims(cert: &Cert) -> Vec<(FulcioClaim, String)> {
    FulcioClaim::ALL
        .iter()
        .filter_map(|&claim| {
            let oid = ObjectIdentifier::new(&claim.oid()).ok()?;
            let value = Utf8StringRef::from_der(cert.extension(&oid)?).ok()?;
            let value = value.as_str();
            (value.len() <= MAX_CLAIM_BYTES).then(|| (claim, value.to_string()))
        })
        .collect()
}

fn san_identity(cert: &Cert) -> Option<String> {
    let (_, san) = cert
        .parsed
        .tbs_certificate()
        .get_extension::<SubjectAltName>()
        .ok()??;
    san.0.iter().find_map(|name| match name {
        GeneralName::UniformResourceIdentifier(s) | GeneralName::Rfc822Name(s) => {
            Some(s.as_str().to_string())
        }
        GeneralName::OtherName(o) if o.type_id == FULCIO_USERNAME => o
            .value
            .decode_as::<Utf8StringRef>()
            .ok()
            .map(|s| s.as_str().to_string()),
        _ => None,
    })
}

/// Checks for at least one embedded SCT (RFC 6962 §3.2, precertificate entry) signed by a CT log
/// of the trust root that was valid at the SCT's time.
fn verify_sct(leaf: &Cert, issuer: &Cert, root: &TrustRoot) -> Result<(), Rejection> {
    let none = || {
        Rejection::new(
            "the certificate has no valid SCT from a CT log of the trust root (the trust root \
             requires certificate transparency)"
                .into(),
        )
    };
    let ext = leaf.extension(&SCT_LIST).ok_or_else(none)?;
    let list = asn1::read_tlv(ext)
        .filter(|(t, rest)| t.tag == 0x04 && rest.is_empty())
        .map(|(t, _)| t.content)
        .ok_or_else(none)?;
    let precert_tbs =
        asn1::tbs_without_extension(&leaf.der, SCT_LIST.as_bytes()).ok_or_else(none)?;
    let issuer_key_hash = sha256(issuer.spki_der());

    let mut r = Reader(list);
    let mut scts = Reader(r.vec16().ok_or_else(none)?);
    let mut seen = 0;
    while !scts.0.is_empty() && seen < MAX_SCTS {
        seen += 1;
        let Some(sct) = scts.vec16() else { break };
        if let Some(true) = check_one_sct(sct, &precert_tbs, &issuer_key_hash, root) {
            return Ok(());
        }
    }
    Err(none())
}

/// `Some(true)` if this serialized SCT verifies.
fn check_one_sct(
    sct: &[u8],
    tbs: &[u8],
    issuer_key_hash: &[u8; 32],
    root: &TrustRoot,
) -> Option<bool> {
    let mut r = Reader(sct);
    let version = r.u8()?;
    let log_id = r.take(32)?;
    let ts_bytes = r.take(8)?;
    let timestamp = u64::from_be_bytes(ts_bytes.try_into().ok()?);
    let extensions = r.vec16()?;
    let _hash_alg = r.u8()?;
    let _sig_alg = r.u8()?;
    let signature = r.vec16()?;
    if version != 0 || !r.0.is_empty() {
        return Some(false);
    }
    let log = root.ctlog(log_id)?;
    let key = log.key.as_ref()?;
    if !log.valid_for.contains_millis(timestamp) {
        return Some(false);
    }
    let tbs_len = u32::try_from(tbs.len()).ok().filter(|&l| l < 1 << 24)?;
    let ext_len = u16::try_from(extensions.len()).ok()?;
    let mut signed = Vec::with_capacity(tbs.len() + extensions.len() + 50);
    signed.push(0); // sct_version v1
    signed.push(0); // signature_type certificate_timestamp
    signed.extend_from_slice(ts_bytes);
    signed.extend_from_slice(&1u16.to_be_bytes()); // entry_type precert_entry
    signed.extend_from_slice(issuer_key_hash);
    signed.extend_from_slice(tbs_len.to_be_bytes().get(1..)?);
    signed.extend_from_slice(tbs);
    signed.extend_from_slice(&ext_len.to_be_bytes());
    signed.extend_from_slice(extensions);
    Some(key.verify(&signed, signature))
}

/// A TLS-encoding reader (big-endian, length-prefixed vectors).
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1)?.first().copied()
    }
    fn vec16(&mut self) -> Option<&'a [u8]> {
        let len = self.take(2)?;
        let len = u16::from_be_bytes(len.try_into().ok()?) as usize;
        self.take(len)
    }
}

/// Unix seconds as RFC 3339, for messages.
pub(crate) fn fmt_time(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| {
            d.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| format!("@{t}"))
}
