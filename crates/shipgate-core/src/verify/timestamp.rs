//! RFC 3161 signed timestamps, verified against the trust root's timestamp authorities.
//!
//! A timestamp counts only if: it is a granted `TimeStampResp` (or a bare `TimeStampToken`)
//! holding CMS `SignedData` over a `TSTInfo`; its message imprint is the hash of the signature
//! bytes it timestamps; its signed attributes name the `TSTInfo` content type and carry the
//! digest of the `TSTInfo`; the signer (the embedded certificate the signer identifier names, or
//! else the trust root TSA's own certificate) is a time-stamping certificate of a TSA of the
//! trust root and signed the attributes; and `genTime` lies inside that TSA's `validFor` and the
//! validity of every certificate of its chain. The DER is walked by hand with [`asn1`], bounded
//! and without indexing on input.

use aws_lc_rs::digest;
use const_oid::ObjectIdentifier;
use x509_cert::ext::pkix::{ExtendedKeyUsage, SubjectKeyIdentifier};

use super::asn1::{self, children, read_tlv, Tlv};
use super::certificate::fmt_time;
use super::trust_root::{TimestampAuthority, TrustRoot};
use super::x509::{Cert, MAX_CHAIN};
use super::Rejection;

mod roots;
pub(crate) use roots::verify_with_roots;

/// Largest timestamp we read.
pub(crate) const MAX_TIMESTAMP_LEN: usize = 64 * 1024;
/// Most timestamps we look at in one artifact.
pub(crate) const MAX_TIMESTAMPS: usize = 8;

const SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
const TST_INFO: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");
const ATTR_CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
const ATTR_MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
const ATTR_SIGNING_CERT: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.12");
const ATTR_SIGNING_CERT_V2: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.47");
const TIME_STAMPING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.8");

const SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
const SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
const SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");

const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const ECDSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const ECDSA_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.4");
const RSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const RSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
const RSA_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");
const ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");

fn reject(m: impl Into<String>) -> Rejection {
    Rejection::new(m.into())
}

fn malformed(what: &str) -> Rejection {
    reject(format!("the RFC 3161 timestamp is malformed ({what})"))
}

/// A timestamp that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VerifiedTimestamp {
    /// `genTime` in Unix nanoseconds (sub-second precision kept for the `validFor` bounds).
    pub gen_time_ns: i128,
    /// The URI of the trust root TSA that signed it (for a trust-store TSA: the subject of
    /// its signing certificate).
    pub tsa: String,
    /// The token's accuracy in nanoseconds: the true time lies in `genTime ± accuracy`.
    pub accuracy_ns: i128,
}

impl VerifiedTimestamp {
    /// `genTime` in whole Unix seconds (rounded down).
    pub fn secs(&self) -> i64 {
        i64::try_from(self.gen_time_ns.div_euclid(1_000_000_000)).unwrap_or(i64::MAX)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Hash {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

impl Hash {
    fn from_alg_id(alg: &[u8]) -> Option<Hash> {
        let oid = read_tlv(alg)
            .filter(|(t, _)| t.tag == 0x30)
            .and_then(|(t, _)| children(t.content))?
            .first()
            .filter(|t| t.tag == 0x06)?
            .content;
        Hash::from_oid(oid)
    }
    fn from_oid(oid: &[u8]) -> Option<Hash> {
        [
            (SHA1, Hash::Sha1),
            (SHA256, Hash::Sha256),
            (SHA384, Hash::Sha384),
            (SHA512, Hash::Sha512),
        ]
        .into_iter()
        .find(|(o, _)| o.as_bytes() == oid)
        .map(|(_, h)| h)
    }
    fn digest(self, data: &[u8]) -> Vec<u8> {
        let alg = match self {
            Hash::Sha1 => &digest::SHA1_FOR_LEGACY_USE_ONLY,
            Hash::Sha256 => &digest::SHA256,
            Hash::Sha384 => &digest::SHA384,
            Hash::Sha512 => &digest::SHA512,
        };
        digest::digest(alg, data).as_ref().to_vec()
    }
}

fn is_oid(t: Option<&Tlv<'_>>, oid: &ObjectIdentifier) -> bool {
    t.is_some_and(|t| t.tag == 0x06 && t.content == oid.as_bytes())
}

/// The parts of a timestamp token the checks need.
struct Token<'a> {
    /// The DER TSTInfo (the encapsulated content, exactly as signed).
    tst_info: &'a [u8],
    imprint_hash: Hash,
    imprint: &'a [u8],
    gen_time_ns: i128,
    /// How far the true time may be from `genTime` either way (RFC 3161 2.4.2), in ns;
    /// `None` when the token's accuracy is malformed.
    accuracy_ns: Option<i128>,
    embedded: Vec<&'a [u8]>,
    sid: Tlv<'a>,
    digest_alg: Hash,
    /// The `[0] IMPLICIT` signed attributes, whole.
    signed_attrs: Tlv<'a>,
    signature_alg: &'a [u8],
    signature: &'a [u8],
}

/// Slices a DER `TimeStampResp` (or a bare `TimeStampToken`) with exactly one signer into a
/// [`Token`].
fn parse(der: &[u8]) -> Result<Token<'_>, Rejection> {
    let mut tokens = parse_all(der)?;
    match tokens.len() {
        1 => Ok(tokens.remove(0)),
        _ => Err(reject(
            "the RFC 3161 timestamp must have exactly one signer",
        )),
    }
}

/// Slices a DER `TimeStampResp` (or a bare `TimeStampToken`) into one [`Token`] per SignerInfo
/// (at most [`MAX_SIGNERS`]); they share the TSTInfo and the embedded certificates.
fn parse_all(der: &[u8]) -> Result<Vec<Token<'_>>, Rejection> {
    let content_info = content_info(der)?;
    let sd = signed_data(&content_info)?;
    // SignedData ::= SEQUENCE { version, digestAlgorithms SET, encapContentInfo,
    //   certificates [0] IMPLICIT OPTIONAL, crls [1] IMPLICIT OPTIONAL, signerInfos SET }
    let mut it = sd.iter().skip(2);
    let tst_info = encapsulated_tst_info(it.next())?;
    let mut embedded = Vec::new();
    let mut next = it.next();
    if let Some(certs) = next.filter(|t| t.tag == 0xa0) {
        embedded = embedded_certificates(certs)?;
        next = it.next();
    }
    if next.is_some_and(|t| t.tag == 0xa1) {
        next = it.next();
    }
    let signers = signer_infos(next)?;
    let f = tst_info_fields(tst_info)?;
    Ok(signers
        .into_iter()
        .map(|signer| Token {
            tst_info,
            imprint_hash: f.imprint_hash,
            imprint: f.imprint,
            gen_time_ns: f.gen_time_ns,
            accuracy_ns: f.accuracy_ns,
            embedded: embedded.clone(),
            sid: signer.sid,
            digest_alg: signer.digest_alg,
            signed_attrs: signer.signed_attrs,
            signature_alg: signer.signature_alg,
            signature: signer.signature,
        })
        .collect())
}

/// The token's ContentInfo fields, from a granted response or a bare token.
fn content_info(der: &[u8]) -> Result<Vec<Tlv<'_>>, Rejection> {
    if der.len() > MAX_TIMESTAMP_LEN {
        return Err(reject("the RFC 3161 timestamp is larger than 64 KiB"));
    }
    let (outer, rest) = read_tlv(der).ok_or_else(|| malformed("not DER"))?;
    if outer.tag != 0x30 || !rest.is_empty() {
        return Err(malformed("not a DER SEQUENCE"));
    }
    let parts = children(outer.content).ok_or_else(|| malformed("not DER"))?;
    // TimeStampResp ::= SEQUENCE { status PKIStatusInfo, timeStampToken ContentInfo OPTIONAL };
    // a token is the ContentInfo itself, SEQUENCE { contentType OID, [0] EXPLICIT content }.
    match parts.first().map(|t| t.tag) {
        Some(0x30) => {
            let status = parts
                .first()
                .and_then(|s| children(s.content))
                .and_then(|s| s.first().copied())
                .filter(|s| s.tag == 0x02)
                .ok_or_else(|| malformed("no PKIStatus"))?;
            if status.content != [0] && status.content != [1] {
                return Err(reject(
                    "the RFC 3161 timestamp response says the TSA did not grant the timestamp",
                ));
            }
            children(parts.get(1).ok_or_else(|| malformed("no token"))?.content)
                .ok_or_else(|| malformed("token"))
        }
        Some(0x06) => Ok(parts),
        _ => Err(malformed("neither a response nor a token")),
    }
}

/// The fields of the CMS SignedData a ContentInfo wraps.
fn signed_data<'a>(content_info: &[Tlv<'a>]) -> Result<Vec<Tlv<'a>>, Rejection> {
    if !is_oid(content_info.first(), &SIGNED_DATA) {
        return Err(malformed("the token is not CMS SignedData"));
    }
    let sd_wrapper = content_info
        .get(1)
        .filter(|t| t.tag == 0xa0)
        .ok_or_else(|| malformed("no SignedData"))?;
    read_tlv(sd_wrapper.content)
        .filter(|(t, _)| t.tag == 0x30)
        .and_then(|(t, _)| children(t.content))
        .ok_or_else(|| malformed("SignedData"))
}

/// The DER TSTInfo inside encapContentInfo, exactly as signed.
fn encapsulated_tst_info<'a>(encap: Option<&Tlv<'a>>) -> Result<&'a [u8], Rejection> {
    let encap = encap
        .filter(|t| t.tag == 0x30)
        .and_then(|t| children(t.content))
        .ok_or_else(|| malformed("encapContentInfo"))?;
    if !is_oid(encap.first(), &TST_INFO) {
        return Err(malformed("the signed content is not a TSTInfo"));
    }
    encap
        .get(1)
        .filter(|t| t.tag == 0xa0)
        .and_then(|t| read_tlv(t.content))
        .filter(|(t, rest)| t.tag == 0x04 && rest.is_empty())
        .map(|(t, _)| t.content)
        .ok_or_else(|| malformed("eContent"))
}

/// The DER certificates embedded in SignedData `certificates`, at most [`MAX_CHAIN`].
fn embedded_certificates<'a>(certs: &Tlv<'a>) -> Result<Vec<&'a [u8]>, Rejection> {
    let mut embedded = Vec::new();
    for c in children(certs.content).ok_or_else(|| malformed("certificates"))? {
        if c.tag == 0x30 {
            embedded.push(c.full);
        }
    }
    if embedded.len() > MAX_CHAIN {
        return Err(reject(format!(
            "the RFC 3161 timestamp embeds more than {MAX_CHAIN} certificates"
        )));
    }
    Ok(embedded)
}

/// The fields of the token's one SignerInfo the checks need.
struct SignerFields<'a> {
    sid: Tlv<'a>,
    digest_alg: Hash,
    signed_attrs: Tlv<'a>,
    signature_alg: &'a [u8],
    signature: &'a [u8],
}

/// Most SignerInfos we read in one timestamp.
const MAX_SIGNERS: usize = 8;

/// Reads `signerInfos`: at least one, at most [`MAX_SIGNERS`], each with signed attributes.
fn signer_infos<'a>(signer_infos: Option<&Tlv<'a>>) -> Result<Vec<SignerFields<'a>>, Rejection> {
    let signer_infos = signer_infos
        .filter(|t| t.tag == 0x31)
        .and_then(|t| children(t.content))
        .ok_or_else(|| malformed("signerInfos"))?;
    if signer_infos.is_empty() || signer_infos.len() > MAX_SIGNERS {
        return Err(reject(format!(
            "the RFC 3161 timestamp has {} signers (1 to {MAX_SIGNERS} are read)",
            signer_infos.len()
        )));
    }
    signer_infos.iter().map(signer_info).collect()
}

/// Reads one SignerInfo.
fn signer_info<'a>(signer_info: &Tlv<'a>) -> Result<SignerFields<'a>, Rejection> {
    // SignerInfo ::= SEQUENCE { version, sid, digestAlgorithm, signedAttrs [0] IMPLICIT,
    //   signatureAlgorithm, signature OCTET STRING, unsignedAttrs [1] OPTIONAL }
    let si = children(signer_info.content).ok_or_else(|| malformed("SignerInfo"))?;
    let field = |i: usize, what: &str| si.get(i).copied().ok_or_else(|| malformed(what));
    let sid = field(1, "sid")?;
    let digest_alg = Hash::from_alg_id(field(2, "digestAlgorithm")?.full)
        .ok_or_else(|| reject("the RFC 3161 timestamp uses an unsupported digest algorithm"))?;
    let signed_attrs = field(3, "signedAttrs")?;
    if signed_attrs.tag != 0xa0 {
        return Err(reject(
            "the RFC 3161 timestamp has no signed attributes (RFC 3161 requires them)",
        ));
    }
    let signature_alg = field(4, "signatureAlgorithm")?;
    let signature = field(5, "signature")?;
    if signature_alg.tag != 0x30 || signature.tag != 0x04 {
        return Err(malformed("signature"));
    }
    Ok(SignerFields {
        sid,
        digest_alg,
        signed_attrs,
        signature_alg: signature_alg.full,
        signature: signature.content,
    })
}

/// The TSTInfo fields the checks need.
struct TstFields<'a> {
    imprint_hash: Hash,
    imprint: &'a [u8],
    gen_time_ns: i128,
    accuracy_ns: Option<i128>,
}

/// The baseline time-stamp policy of ETSI TS 102 023 / RFC 3628 (`0.4.0.2023.1.1`), whose
/// tokens are accurate to one second when they state no accuracy.
const BASELINE_POLICY: ObjectIdentifier = ObjectIdentifier::new_unwrap("0.4.0.2023.1.1");

/// The message imprint, genTime and accuracy (ns) of a DER TSTInfo.
fn tst_info_fields(tst_info: &[u8]) -> Result<TstFields<'_>, Rejection> {
    // TSTInfo ::= SEQUENCE { version, policy, messageImprint, serialNumber, genTime, ... }
    let tst = read_tlv(tst_info)
        .filter(|(t, rest)| t.tag == 0x30 && rest.is_empty())
        .and_then(|(t, _)| children(t.content))
        .ok_or_else(|| malformed("TSTInfo"))?;
    if tst
        .first()
        .is_none_or(|v| v.tag != 0x02 || v.content != [1])
    {
        return Err(malformed("TSTInfo version is not 1"));
    }
    let imprint = tst
        .get(2)
        .filter(|t| t.tag == 0x30)
        .and_then(|t| children(t.content))
        .ok_or_else(|| malformed("messageImprint"))?;
    let (Some(imprint_alg), Some(imprint_value)) = (imprint.first(), imprint.get(1)) else {
        return Err(malformed("messageImprint"));
    };
    let imprint_hash = Hash::from_alg_id(imprint_alg.full).ok_or_else(|| {
        reject("the RFC 3161 timestamp's message imprint uses an unsupported hash algorithm")
    })?;
    if imprint_value.tag != 0x04 {
        return Err(malformed("messageImprint"));
    }
    let gen_time_ns = tst
        .get(4)
        .filter(|t| t.tag == 0x18)
        .and_then(|t| parse_generalized_time_ns(t.content))
        .ok_or_else(|| malformed("genTime"))?;
    // accuracy OPTIONAL follows genTime; as the Notary Project reads it: a stated accuracy,
    // else one second under the baseline policy, else none. A malformed one is kept as `None`
    // for the verifiers that use accuracy to refuse (the Sigstore checks never read it).
    let stated = match tst.get(5).filter(|t| t.tag == 0x30) {
        Some(acc) => accuracy_ns(acc),
        None => Some(0),
    };
    let baseline = is_oid(tst.get(1), &BASELINE_POLICY);
    let accuracy_ns = stated.map(|n| if n == 0 && baseline { 1_000_000_000 } else { n });
    Ok(TstFields {
        imprint_hash,
        imprint: imprint_value.content,
        gen_time_ns,
        accuracy_ns,
    })
}

/// `Accuracy ::= SEQUENCE { seconds INTEGER OPTIONAL, millis [0] INTEGER (1..999) OPTIONAL,
/// micros [1] INTEGER (1..999) OPTIONAL }` in nanoseconds.
fn accuracy_ns(acc: &Tlv<'_>) -> Option<i128> {
    let mut total: i128 = 0;
    for part in children(acc.content)? {
        let unit: i128 = match part.tag {
            0x02 => 1_000_000_000,
            0x80 => 1_000_000,
            0x81 => 1_000,
            _ => return None,
        };
        // A non-negative INTEGER of at most 4 bytes (a day is 86400 s; more is absurd).
        if part.content.len() > 4 || part.content.first().is_none_or(|b| b & 0x80 != 0) {
            return None;
        }
        let n = part
            .content
            .iter()
            .fold(0i128, |n, &b| (n << 8) | i128::from(b));
        total += n * unit;
    }
    Some(total)
}

/// The signed attributes' values the checks need.
struct Attrs<'a> {
    message_digest: &'a [u8],
    /// `(hash, certHash)` of the first ESSCertID(v2), if the attributes name the signer.
    cert_id: Option<(Hash, &'a [u8])>,
    /// Whether `cert_id` is from SigningCertificateV2 (not the SHA-1 SigningCertificate).
    cert_id_v2: bool,
}

fn attributes<'a>(t: &Token<'a>) -> Result<Attrs<'a>, Rejection> {
    let mut content_type_ok = false;
    let mut message_digest = None;
    let mut cert_id = None;
    let mut cert_id_v2 = false;
    let mut seen: Vec<&[u8]> = Vec::new();
    for attr in children(t.signed_attrs.content).ok_or_else(|| malformed("signedAttrs"))? {
        let parts = children(attr.content).ok_or_else(|| malformed("attribute"))?;
        let (Some(oid), Some(values)) = (parts.first(), parts.get(1)) else {
            return Err(malformed("attribute"));
        };
        if oid.tag != 0x06 || values.tag != 0x31 {
            return Err(malformed("attribute"));
        }
        if seen.contains(&oid.content) {
            return Err(reject("the RFC 3161 timestamp repeats a signed attribute"));
        }
        seen.push(oid.content);
        let values = children(values.content).ok_or_else(|| malformed("attribute values"))?;
        let [value] = values.as_slice() else {
            return Err(malformed("attribute with other than one value"));
        };
        if oid.content == ATTR_CONTENT_TYPE.as_bytes() {
            content_type_ok = value.tag == 0x06 && value.content == TST_INFO.as_bytes();
        } else if oid.content == ATTR_MESSAGE_DIGEST.as_bytes() {
            message_digest = Some(value).filter(|v| v.tag == 0x04).map(|v| v.content);
        } else if oid.content == ATTR_SIGNING_CERT_V2.as_bytes() {
            // SigningCertificateV2 ::= SEQUENCE { certs SEQUENCE OF ESSCertIDv2, ... }
            // ESSCertIDv2 ::= SEQUENCE { hashAlgorithm DEFAULT sha256, certHash OCTET STRING, ... }
            let first = first_cert_id(value).ok_or_else(|| malformed("signingCertificateV2"))?;
            let (hash, cert_hash) = match first.as_slice() {
                [h, c, ..] if h.tag == 0x30 => (Hash::from_alg_id(h.full), *c),
                [c, ..] => (Some(Hash::Sha256), *c),
                [] => return Err(malformed("ESSCertIDv2")),
            };
            let hash = hash.ok_or_else(|| {
                reject("the RFC 3161 timestamp names its signer with an unsupported hash")
            })?;
            if cert_hash.tag != 0x04 {
                return Err(malformed("ESSCertIDv2"));
            }
            cert_id = Some((hash, cert_hash.content));
            cert_id_v2 = true;
        } else if oid.content == ATTR_SIGNING_CERT.as_bytes() && cert_id.is_none() {
            // ESSCertID ::= SEQUENCE { certHash OCTET STRING (SHA-1), issuerSerial OPTIONAL }
            let first = first_cert_id(value).ok_or_else(|| malformed("signingCertificate"))?;
            let cert_hash = first
                .first()
                .filter(|c| c.tag == 0x04)
                .ok_or_else(|| malformed("ESSCertID"))?;
            cert_id = Some((Hash::Sha1, cert_hash.content));
        }
    }
    if !content_type_ok {
        return Err(reject(
            "the RFC 3161 timestamp's signed content-type attribute is not TSTInfo",
        ));
    }
    let message_digest = message_digest
        .ok_or_else(|| reject("the RFC 3161 timestamp has no signed message-digest attribute"))?;
    Ok(Attrs {
        message_digest,
        cert_id,
        cert_id_v2,
    })
}

/// The fields of the first ESSCertID(v2) of a SigningCertificate(V2) value.
fn first_cert_id<'a>(value: &Tlv<'a>) -> Option<Vec<Tlv<'a>>> {
    let outer = children(value.content).filter(|_| value.tag == 0x30)?;
    let certs = outer.first().filter(|c| c.tag == 0x30)?;
    let first = children(certs.content)?.first().copied()?;
    children(first.content).filter(|_| first.tag == 0x30)
}

/// `(issuer Name DER, serial INTEGER contents)` of a certificate.
fn issuer_and_serial(der: &[u8]) -> Option<(&[u8], &[u8])> {
    let parts = asn1::cert_parts(der)?;
    let (tbs, _) = read_tlv(parts.tbs)?;
    let fields = children(tbs.content)?;
    let offset = usize::from(fields.first()?.tag == 0xa0);
    let serial = fields.get(offset).filter(|s| s.tag == 0x02)?;
    Some((parts.issuer, serial.content))
}

/// Whether the SignerInfo's `sid` names this certificate.
fn sid_names(sid: &Tlv<'_>, cert: &Cert) -> bool {
    match sid.tag {
        // IssuerAndSerialNumber ::= SEQUENCE { issuer Name, serialNumber INTEGER }
        0x30 => {
            let Some(parts) = children(sid.content) else {
                return false;
            };
            let (Some(issuer), Some(serial)) = (parts.first(), parts.get(1)) else {
                return false;
            };
            issuer_and_serial(&cert.der)
                .is_some_and(|(i, s)| i == issuer.full && serial.tag == 0x02 && s == serial.content)
        }
        // [0] IMPLICIT SubjectKeyIdentifier
        0x80 => matches!(
            cert.parsed.tbs_certificate().get_extension::<SubjectKeyIdentifier>(),
            Ok(Some((_, ski))) if ski.0.as_bytes() == sid.content
        ),
        _ => false,
    }
}

/// The X.509 signature algorithm equivalent to a CMS (digest, signature) algorithm pair.
fn x509_alg(signature_alg: &[u8], digest_alg: Hash) -> Option<ObjectIdentifier> {
    let oid = read_tlv(signature_alg)
        .and_then(|(t, _)| children(t.content))?
        .first()
        .filter(|t| t.tag == 0x06)?
        .content;
    let known = [
        ECDSA_SHA256,
        ECDSA_SHA384,
        ECDSA_SHA512,
        RSA_SHA256,
        RSA_SHA384,
        RSA_SHA512,
        ED25519,
    ];
    if let Some(o) = known.into_iter().find(|o| o.as_bytes() == oid) {
        return Some(o);
    }
    let ec = oid == EC_PUBLIC_KEY.as_bytes();
    let rsa = oid == RSA_ENCRYPTION.as_bytes();
    match (ec, rsa, digest_alg) {
        (true, _, Hash::Sha256) => Some(ECDSA_SHA256),
        (true, _, Hash::Sha384) => Some(ECDSA_SHA384),
        (true, _, Hash::Sha512) => Some(ECDSA_SHA512),
        (_, true, Hash::Sha256) => Some(RSA_SHA256),
        (_, true, Hash::Sha384) => Some(RSA_SHA384),
        (_, true, Hash::Sha512) => Some(RSA_SHA512),
        _ => None,
    }
}

fn valid_at_ns(cert: &Cert, t_ns: i128) -> bool {
    i128::from(cert.not_before) * 1_000_000_000 <= t_ns
        && t_ns <= i128::from(cert.not_after) * 1_000_000_000
}

fn fmt_ns(t_ns: i128) -> String {
    fmt_time(i64::try_from(t_ns.div_euclid(1_000_000_000)).unwrap_or(i64::MAX))
}

/// Verifies a DER RFC 3161 timestamp over `signature` (the bytes it must timestamp) against the
/// trust root's timestamp authorities.
pub(crate) fn verify(
    der: &[u8],
    signature: &[u8],
    root: &TrustRoot,
) -> Result<VerifiedTimestamp, Rejection> {
    let t = parse(der)?;
    if t.imprint_hash.digest(signature).as_slice() != t.imprint {
        return Err(reject(
            "the RFC 3161 timestamp is over other data than this signature (message imprint \
             mismatch): it timestamps another signature",
        ));
    }
    let attrs = attributes(&t)?;
    if t.digest_alg.digest(t.tst_info).as_slice() != attrs.message_digest {
        return Err(reject(
            "the RFC 3161 timestamp's message-digest attribute does not match its TSTInfo \
             (the timestamp was altered)",
        ));
    }
    let alg = x509_alg(t.signature_alg, t.digest_alg)
        .ok_or_else(|| reject("the RFC 3161 timestamp is signed with an unsupported algorithm"))?;
    // The signed attributes are signed as a SET OF (tag 0x31), not as the [0] they are sent as.
    let mut signed = t.signed_attrs.full.to_vec();
    if let Some(tag) = signed.first_mut() {
        *tag = 0x31;
    }
    let embedded: Vec<Cert> = t
        .embedded
        .iter()
        .filter_map(|der| Cert::from_der(der).ok())
        .filter(|c| sid_names(&t.sid, c))
        .collect();
    if root.tsas.is_empty() {
        return Err(reject(
            "the trust root lists no timestamp authority, so the RFC 3161 timestamp cannot be \
             verified",
        ));
    }
    let mut why: Option<Rejection> = None;
    for tsa in &root.tsas {
        let candidates: Vec<&Cert> = if embedded.is_empty() {
            tsa.chain
                .first()
                .filter(|c| sid_names(&t.sid, c))
                .into_iter()
                .collect()
        } else {
            embedded.iter().collect()
        };
        for signer in candidates {
            match check_signer(&t, &attrs, alg, &signed, signer, tsa) {
                Ok(()) => {
                    return Ok(VerifiedTimestamp {
                        gen_time_ns: t.gen_time_ns,
                        tsa: tsa.uri.clone(),
                        accuracy_ns: t.accuracy_ns.unwrap_or(0),
                    })
                }
                // Keep the most telling reason: one from a TSA whose key signed the token.
                Err((signed_by_tsa, r)) => {
                    if signed_by_tsa || why.is_none() {
                        why = Some(r);
                    }
                }
            }
        }
    }
    Err(why.unwrap_or_else(|| {
        reject(
            "the RFC 3161 timestamp was not signed by a timestamp authority of the trust root \
             (an untrusted TSA)",
        )
    }))
}

/// Checks `signer` as the signer of the token for `tsa`; on failure says whether the signature
/// itself verified (so the reason is about time or profile, not about another TSA).
fn check_signer(
    t: &Token<'_>,
    attrs: &Attrs<'_>,
    alg: ObjectIdentifier,
    signed: &[u8],
    signer: &Cert,
    tsa: &TimestampAuthority,
) -> Result<(), (bool, Rejection)> {
    let untrusted = || {
        (
            false,
            reject(
                "the RFC 3161 timestamp was not signed by a timestamp authority of the trust \
                 root (an untrusted TSA)",
            ),
        )
    };
    // The path: the signer, then the TSA chain above its leaf.
    let leaf = tsa.chain.first().ok_or_else(untrusted)?;
    let above = tsa.chain.get(1..).unwrap_or(&[]);
    let chained = if signer.der == leaf.der {
        true
    } else {
        above
            .first()
            .is_some_and(|issuer| signer.is_signed_by(issuer))
    };
    if !chained || !tsa.chain_signatures_ok {
        return Err(untrusted());
    }
    if let Some((hash, cert_hash)) = attrs.cert_id {
        if hash.digest(&signer.der).as_slice() != cert_hash {
            return Err(untrusted());
        }
    }
    if !signer.key.verify_x509(&alg, signed, t.signature) {
        return Err(untrusted());
    }
    let fail = |m: String| (true, reject(m));
    match signer
        .parsed
        .tbs_certificate()
        .get_extension::<ExtendedKeyUsage>()
    {
        Ok(Some((_, eku))) if eku.0.contains(&TIME_STAMPING) => {}
        _ => {
            return Err(fail(format!(
                "the certificate of timestamp authority {} lacks the time-stamping extended key \
                 usage",
                tsa.uri
            )))
        }
    }
    let g = t.gen_time_ns;
    if !tsa.valid_for.contains_ns(g) {
        return Err(fail(format!(
            "the RFC 3161 timestamp's time {} is outside the validity the trust root gives \
             timestamp authority {}",
            fmt_ns(g),
            tsa.uri
        )));
    }
    if let Some(c) = std::iter::once(signer)
        .chain(above.iter())
        .find(|c| !valid_at_ns(c, g))
    {
        return Err(fail(format!(
            "the RFC 3161 timestamp's time {} is outside the validity {}..{} of a certificate \
             of timestamp authority {}",
            fmt_ns(g),
            fmt_time(c.not_before),
            fmt_time(c.not_after),
            tsa.uri
        )));
    }
    Ok(())
}

/// `YYYYMMDDHHMMSS[.f+]Z` as Unix nanoseconds.
fn parse_generalized_time_ns(s: &[u8]) -> Option<i128> {
    let s = std::str::from_utf8(s).ok()?;
    let digits = s.get(..14)?;
    let rest = s.get(14..)?.strip_suffix('Z')?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let frac_ns: i128 = match rest.strip_prefix('.') {
        None if rest.is_empty() => 0,
        Some(f) if !f.is_empty() && f.len() <= 9 && f.bytes().all(|b| b.is_ascii_digit()) => {
            let n: i128 = f.parse().ok()?;
            n * 10i128.pow(9 - f.len() as u32)
        }
        _ => return None,
    };
    let n = |r: std::ops::Range<usize>| digits.get(r).and_then(|x| x.parse::<u16>().ok());
    let month = time::Month::try_from(u8::try_from(n(4..6)?).ok()?).ok()?;
    let date =
        time::Date::from_calendar_date(i32::from(n(0..4)?), month, u8::try_from(n(6..8)?).ok()?)
            .ok()?;
    let t = time::Time::from_hms(
        u8::try_from(n(8..10)?).ok()?,
        u8::try_from(n(10..12)?).ok()?,
        u8::try_from(n(12..14)?).ok()?,
    )
    .ok()?;
    let secs = time::PrimitiveDateTime::new(date, t)
        .assume_utc()
        .unix_timestamp();
    Some(i128::from(secs) * 1_000_000_000 + frac_ns)
}

/// The `genTime` (Unix seconds) a timestamp claims, without verifying anything: an unverified
/// time can only be used to reject (a bundle contradicting itself), never to accept.
pub(crate) fn claimed_gen_time(der: &[u8]) -> Option<i64> {
    let t = parse(der).ok()?;
    i64::try_from(t.gen_time_ns.div_euclid(1_000_000_000)).ok()
}

/// The outcome of an artifact's RFC 3161 timestamps, judged once.
#[derive(Debug, Default)]
pub(crate) struct Timestamps {
    /// Timestamps that verified: their times are signing times.
    pub verified: Vec<VerifiedTimestamp>,
    /// Why each other timestamp did not verify (it then proves nothing).
    pub failures: Vec<Rejection>,
    /// The times the unverified timestamps claim: still refused when they contradict the
    /// certificate (a reason to reject, never to accept).
    pub claimed_unverified: Vec<i64>,
}

impl Timestamps {
    /// Verifies each DER timestamp over `signature`.
    pub fn verify(ders: &[Vec<u8>], signature: &[u8], root: &TrustRoot) -> Timestamps {
        let mut out = Timestamps::default();
        for der in ders.iter().take(MAX_TIMESTAMPS) {
            match verify(der, signature, root) {
                Ok(v) => out.verified.push(v),
                Err(r) => {
                    out.claimed_unverified.extend(claimed_gen_time(der));
                    out.failures.push(r);
                }
            }
        }
        if ders.len() > MAX_TIMESTAMPS {
            out.failures.push(reject(format!(
                "more than {MAX_TIMESTAMPS} RFC 3161 timestamps; the rest were not read"
            )));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    const CONFORMANCE: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/data/vectors/sigstore-conformance/assets/bundle-verify"
    );
    const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

    /// `(timestamp DER, the signature it must cover, the case's trust root)`.
    fn case(name: &str) -> (Vec<u8>, Vec<u8>, TrustRoot) {
        let dir = format!("{CONFORMANCE}/{name}");
        let bundle: serde_json::Value =
            serde_json::from_slice(&std::fs::read(format!("{dir}/bundle.sigstore.json")).unwrap())
                .unwrap();
        let ts = bundle["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"]
            [0]["signedTimestamp"]
            .as_str()
            .unwrap()
            .replace('\n', "");
        let sig = bundle["messageSignature"]["signature"]
            .as_str()
            .or_else(|| bundle["dsseEnvelope"]["signatures"][0]["sig"].as_str())
            .unwrap();
        let root =
            TrustRoot::from_json(&std::fs::read(format!("{dir}/trusted_root.json")).unwrap())
                .unwrap();
        (B64.decode(ts).unwrap(), B64.decode(sig).unwrap(), root)
    }

    fn err(r: Result<VerifiedTimestamp, Rejection>, needle: &str) {
        match r {
            Ok(v) => panic!("accepted {v:?}, expected {needle:?}"),
            Err(Rejection { reason: m, .. }) => {
                assert!(m.contains(needle), "{m:?} lacks {needle:?}")
            }
        }
    }

    #[test]
    fn happy_paths_verify_with_and_without_embedded_certificate() {
        for name in [
            "rekor2-happy-path",
            "rekor2-timestamp-with-embedded-cert",
            "rekor2-timestamp-without-embedded-cert",
            "rekor2-timestamp-with-expired-cert-chain",
            "rekor2-dsse-happy-path",
            "trust-root-tsa-validity-end-inclusive",
        ] {
            let (der, sig, root) = case(name);
            let v = verify(&der, &sig, &root).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(Some(v.secs()), claimed_gen_time(&der), "{name}");
        }
        let (der, sig, root) = case("trust-root-tsa-validity-end-inclusive");
        // 2025-06-12T12:02:20Z, exactly the end of the TSA's validFor.
        assert_eq!(verify(&der, &sig, &root).unwrap().secs(), 1_749_729_740);
    }

    #[test]
    fn imprint_must_cover_this_signature() {
        let (der, mut sig, root) = case("rekor2-happy-path");
        if let Some(b) = sig.last_mut() {
            *b ^= 1;
        }
        err(verify(&der, &sig, &root), "message imprint mismatch");
        let (der, sig, root) = case("rekor2-timestamp-payload-mismatch_fail");
        err(verify(&der, &sig, &root), "message imprint mismatch");
    }

    #[test]
    fn untrusted_tsas_are_refused() {
        for name in [
            "rekor2-timestamp-untrusted-tsa-with-embedded-cert_fail",
            "rekor2-timestamp-untrusted-tsa-without-embedded-cert_fail",
        ] {
            let (der, sig, root) = case(name);
            err(verify(&der, &sig, &root), "untrusted TSA");
        }
        // A staging timestamp under the public-good root (another TSA).
        let (der, sig, _) = case("rekor2-happy-path");
        err(
            verify(&der, &sig, &TrustRoot::public_good().unwrap()),
            "untrusted TSA",
        );
        // A root without TSAs.
        let mut root = case("rekor2-happy-path").2;
        root.tsas.clear();
        err(verify(&der, &sig, &root), "lists no timestamp authority");
    }

    #[test]
    fn gen_time_must_lie_inside_the_tsa_validity() {
        let (der, sig, root) = case("rekor2-timestamp-outside-trust-root-tsa-validity_fail");
        err(
            verify(&der, &sig, &root),
            "outside the validity the trust root gives",
        );
        let (der, sig, root) = case("rekor2-timestamp-outside-tsa-cert-validity_fail");
        err(
            verify(&der, &sig, &root),
            "of a certificate of timestamp authority",
        );
    }

    #[test]
    fn tampering_is_detected() {
        let (der, sig, root) = case("rekor2-happy-path");
        // Move genTime by one second inside the signed TSTInfo: the message digest breaks.
        let gen = b"20250612120220Z";
        let at = der.windows(gen.len()).position(|w| w == gen).unwrap();
        let mut moved = der.clone();
        moved[at + 13] = b'1';
        err(verify(&moved, &sig, &root), "message-digest attribute");
        // The signature itself altered.
        let mut bad_sig = der.clone();
        let n = bad_sig.len();
        bad_sig[n - 3] ^= 0x01;
        assert!(verify(&bad_sig, &sig, &root).is_err());
        // Truncations and garbage never panic.
        for cut in 0..der.len() {
            assert!(verify(&der[..cut], &sig, &root).is_err());
        }
        err(verify(&[0x30, 0x00], &sig, &root), "malformed");
        err(
            verify(&vec![0u8; MAX_TIMESTAMP_LEN + 1], &sig, &root),
            "larger than 64 KiB",
        );
    }

    #[test]
    fn a_refused_grant_status_is_refused() {
        let (der, sig, root) = case("rekor2-happy-path");
        // TimeStampResp starts 30 82 xx xx 30 03 02 01 00: status granted (0) -> rejection (2).
        let at = der
            .windows(5)
            .position(|w| w == [0x30, 0x03, 0x02, 0x01, 0x00])
            .unwrap();
        let mut refused = der.clone();
        refused[at + 4] = 2;
        err(verify(&refused, &sig, &root), "did not grant");
    }

    #[test]
    fn generalized_times() {
        assert_eq!(
            parse_generalized_time_ns(b"20260409072329Z"),
            Some(1_775_719_409_000_000_000)
        );
        assert_eq!(
            parse_generalized_time_ns(b"20260409072329.5Z"),
            Some(1_775_719_409_500_000_000)
        );
        assert_eq!(parse_generalized_time_ns(b"20260409072329.Z"), None);
        assert_eq!(parse_generalized_time_ns(b"2026040907232"), None);
        assert_eq!(parse_generalized_time_ns(b"20261309072329Z"), None);
    }
}
