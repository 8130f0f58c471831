//! An RFC 3161 time-stamping authority ([`Tsa`]) making TimeStampTokens, valid or broken as
//! [`TokenOptions`] says.

use time::OffsetDateTime;

use super::der::{hash_alg_id, issuer_and_serial, octets, oid, seq, set_of, tlv, uint};
use super::keys::{HashAlg, KeyKind};
use super::pki::{Ca, Cert, LeafOptions, Purpose};
use super::{days, now};
use crate::common::oci;

const OID_SIGNED_DATA: &[u64] = &[1, 2, 840, 113549, 1, 7, 2];
const OID_TST_INFO: &[u64] = &[1, 2, 840, 113549, 1, 9, 16, 1, 4];
const OID_CONTENT_TYPE: &[u64] = &[1, 2, 840, 113549, 1, 9, 3];
const OID_MESSAGE_DIGEST: &[u64] = &[1, 2, 840, 113549, 1, 9, 4];
const OID_SIGNING_CERT_V2: &[u64] = &[1, 2, 840, 113549, 1, 9, 16, 2, 47];

/// How the TSA makes a token; the defaults make a valid one.
#[derive(Debug, Clone)]
pub struct TokenOptions {
    /// messageImprint hash; `None`: the hash of the signature algorithm (what Notation asks for).
    pub hash: Option<HashAlg>,
    /// genTime; `None`: now.
    pub gen_time: Option<OffsetDateTime>,
    /// Flip a byte of the imprint so it no longer matches the message.
    pub wrong_imprint: bool,
    /// Put the TSA certificate in SignedData.certificates.
    pub certificates: bool,
    /// ESSCertIDv2 hash: SHA-256 (algorithm omitted, the default), SHA-1 (explicit), or garbage.
    pub cert_hash: CertHash,
    pub accuracy_seconds: Option<u32>,
    pub policy: Vec<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertHash {
    Sha256,
    Sha1,
    Wrong,
}

impl Default for TokenOptions {
    fn default() -> Self {
        TokenOptions {
            hash: None,
            gen_time: None,
            wrong_imprint: false,
            certificates: true,
            cert_hash: CertHash::Sha256,
            accuracy_seconds: Some(1),
            policy: vec![1, 2, 3, 4, 1],
        }
    }
}

/// A time-stamping authority: a root and a TSA certificate issued by it.
#[derive(Clone)]
pub struct Tsa {
    pub root: Cert,
    pub cert: Cert,
}

impl Tsa {
    /// P-256 root `Acme TSA Root` and TSA `CN=Acme TSA`, valid from a year ago to 2099.
    pub fn new() -> Tsa {
        let far = time::macros::datetime!(2099-12-31 23:59:59 UTC);
        Tsa::with(KeyKind::EcP256, now() - days(365), far)
    }
    /// A TSA with this key type and TSA-certificate validity.
    pub fn with(key: KeyKind, not_before: OffsetDateTime, not_after: OffsetDateTime) -> Tsa {
        let root = Ca::root("Acme TSA Root", KeyKind::EcP256);
        let subject = vec![
            (rcgen::DnType::OrganizationName, "Acme".into()),
            (rcgen::DnType::CommonName, "Acme TSA".into()),
        ];
        let cert = root.issue(&LeafOptions {
            key,
            subject,
            not_before,
            not_after,
            purpose: Purpose::TimeStamping,
        });
        Tsa {
            root: root.cert,
            cert,
        }
    }

    /// An RFC 3161 TimeStampToken (CMS ContentInfo, DER) over `message`.
    pub fn token(&self, message: &[u8], o: &TokenOptions) -> Vec<u8> {
        let hash = o.hash.unwrap_or(HashAlg::Sha256);
        let mut imprint = hash.digest(message);
        if o.wrong_imprint {
            imprint[0] ^= 0xff;
        }
        let t = o
            .gen_time
            .unwrap_or_else(now)
            .to_offset(time::UtcOffset::UTC);
        let gen_time = t
            .format(time::macros::format_description!(
                "[year][month][day][hour][minute][second]Z"
            ))
            .unwrap();
        // TSTInfo { version 1, policy, messageImprint, serialNumber, genTime, accuracy? }
        let mut tst = vec![
            uint(&[1]),
            oid(&o.policy),
            seq(&[hash_alg_id(hash, true), octets(&imprint)]),
        ];
        tst.push(uint(&oci::random_bytes(8)));
        tst.push(tlv(0x18, gen_time.as_bytes()));
        tst.extend(o.accuracy_seconds.map(|s| seq(&[uint(&s.to_be_bytes())])));
        let tst_info = seq(&tst);

        // SigningCertificateV2 { certs SEQUENCE OF ESSCertIDv2 { [hashAlgorithm], certHash } }
        let ess_cert_id = match o.cert_hash {
            CertHash::Sha256 => seq(&[octets(&HashAlg::Sha256.digest(&self.cert.der))]),
            CertHash::Sha1 => seq(&[
                hash_alg_id(HashAlg::Sha1, true),
                octets(&HashAlg::Sha1.digest(&self.cert.der)),
            ]),
            CertHash::Wrong => seq(&[octets(&[0x5a; 32])]),
        };
        let attr = |id: &[u64], value: Vec<u8>| seq(&[oid(id), set_of(vec![value])]);
        let key = &self.cert.key;
        let (digest_alg, sig_alg) = key.cms_algs();
        let signed_attrs = set_of(vec![
            attr(OID_CONTENT_TYPE, oid(OID_TST_INFO)),
            attr(OID_MESSAGE_DIGEST, octets(&digest_alg.digest(&tst_info))),
            attr(OID_SIGNING_CERT_V2, seq(&[seq(&[ess_cert_id])])),
        ]);
        // The signature covers the attributes encoded as a SET (0x31); they are stored [0] IMPLICIT.
        let signature = key.sign_cms(&signed_attrs);
        let mut signed_attrs_field = signed_attrs;
        signed_attrs_field[0] = 0xa0;
        let (issuer, serial) = issuer_and_serial(&self.cert.der);
        let signer_info = seq(&[
            uint(&[1]),
            seq(&[issuer, serial]), // sid: IssuerAndSerialNumber
            hash_alg_id(digest_alg, false),
            signed_attrs_field,
            sig_alg,
            octets(&signature),
        ]);
        let mut signed_data = vec![
            uint(&[3]),
            set_of(vec![hash_alg_id(digest_alg, false)]),
            seq(&[oid(OID_TST_INFO), tlv(0xa0, &octets(&tst_info))]), // eContent [0] EXPLICIT
        ];
        if o.certificates {
            signed_data.push(tlv(0xa0, &self.cert.der)); // certificates [0] IMPLICIT SET OF
        }
        signed_data.push(set_of(vec![signer_info]));
        seq(&[oid(OID_SIGNED_DATA), tlv(0xa0, &seq(&signed_data))])
    }
}

impl Default for Tsa {
    fn default() -> Self {
        Self::new()
    }
}
