//! The test PKI: certificates ([`Cert`]), CAs issuing code-signing or time-stamping leaves
//! ([`Ca`], [`LeafOptions`]), the root → intermediate → leaf [`Pki`], and the trust-store writer.

use std::path::{Path, PathBuf};

use time::OffsetDateTime;

use super::der::{oid, seq};
use super::keys::{HashAlg, Key, KeyKind};
use super::{days, now, NotarySigner};
use crate::common::cosign::pem_encode;
use crate::common::oci;

const OID_EKU_TIME_STAMPING: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 3, 8];
const OID_EXT_KEY_USAGE: &[u64] = &[2, 5, 29, 37];

/// A certificate and its private key.
#[derive(Clone)]
pub struct Cert {
    pub der: Vec<u8>,
    pub key: Key,
}

impl Cert {
    pub fn pem(&self) -> String {
        pem_encode("CERTIFICATE", &self.der)
    }
    /// Hex SHA-256 of the DER: the chain thumbprint Notation records.
    pub fn thumbprint(&self) -> String {
        hex::encode(HashAlg::Sha256.digest(&self.der))
    }
}

/// What a leaf certificate is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// keyUsage digitalSignature (critical), EKU codeSigning, basicConstraints CA:false.
    CodeSigning,
    /// keyUsage digitalSignature (critical), EKU timeStamping only and critical, CA:false.
    TimeStamping,
}

#[derive(Debug, Clone)]
pub struct LeafOptions {
    pub key: KeyKind,
    /// RDNs in order, e.g. the default `C=US, ST=WA, L=Seattle, O=Acme, CN=release`.
    pub subject: Vec<(rcgen::DnType, String)>,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    pub purpose: Purpose,
}

impl Default for LeafOptions {
    /// P-256 code-signing leaf, [`DEFAULT_SUBJECT`], valid from a day ago for a year.
    fn default() -> Self {
        use rcgen::DnType as D;
        let subject = [
            (D::CountryName, "US"),
            (D::StateOrProvinceName, "WA"),
            (D::LocalityName, "Seattle"),
        ]
        .into_iter()
        .chain([(D::OrganizationName, "Acme"), (D::CommonName, "release")])
        .map(|(t, v)| (t, v.to_string()))
        .collect();
        LeafOptions {
            key: KeyKind::EcP256,
            subject,
            not_before: now() - days(1),
            not_after: now() + days(365),
            purpose: Purpose::CodeSigning,
        }
    }
}

fn cert_params(
    subject: &[(rcgen::DnType, String)],
    nb: OffsetDateTime,
    na: OffsetDateTime,
) -> rcgen::CertificateParams {
    let mut p = rcgen::CertificateParams::default();
    p.distinguished_name = rcgen::DistinguishedName::new();
    for (t, v) in subject {
        p.distinguished_name.push(t.clone(), v.as_str());
    }
    p.not_before = nb;
    p.not_after = na;
    let mut serial = oci::random_bytes(16);
    serial[0] = (serial[0] & 0x7f) | 0x01;
    p.serial_number = Some(rcgen::SerialNumber::from_slice(&serial));
    p.use_authority_key_identifier_extension = true;
    p
}

/// A certificate authority: its certificate and what rcgen needs to issue under it.
pub struct Ca {
    pub cert: Cert,
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
}

impl Ca {
    fn make(cn: &str, kind: KeyKind, parent: Option<&Ca>) -> Ca {
        let key = Key::generate(kind);
        let far = time::macros::datetime!(2099-12-31 23:59:59 UTC);
        let mut p = cert_params(
            &[
                (rcgen::DnType::OrganizationName, "Acme".into()),
                (rcgen::DnType::CommonName, cn.into()),
            ],
            now() - days(3650),
            far,
        );
        // Roots are unconstrained; intermediates may only issue leaves (pathLen 0).
        p.is_ca = rcgen::IsCa::Ca(match parent {
            None => rcgen::BasicConstraints::Unconstrained,
            Some(_) => rcgen::BasicConstraints::Constrained(0),
        });
        p.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
        ];
        let kp = key.rcgen();
        let der = match parent {
            None => p.self_signed(&kp),
            Some(parent) => p.signed_by(&kp, &parent.issuer),
        };
        let cert = Cert {
            der: der.unwrap().der().to_vec(),
            key,
        };
        Ca {
            cert,
            issuer: rcgen::Issuer::new(p, kp),
        }
    }
    /// A self-signed root `O=Acme, CN=<cn>`, valid from ten years ago to 2099.
    pub fn root(cn: &str, kind: KeyKind) -> Ca {
        Ca::make(cn, kind, None)
    }
    /// An intermediate CA issued by this one.
    pub fn intermediate(&self, cn: &str, kind: KeyKind) -> Ca {
        Ca::make(cn, kind, Some(self))
    }
    /// Issues a leaf certificate (fresh key) as `opts` says.
    pub fn issue(&self, opts: &LeafOptions) -> Cert {
        let key = Key::generate(opts.key);
        let mut p = cert_params(&opts.subject, opts.not_before, opts.not_after);
        p.is_ca = rcgen::IsCa::ExplicitNoCa;
        p.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
        match opts.purpose {
            Purpose::CodeSigning => {
                p.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::CodeSigning]
            }
            Purpose::TimeStamping => {
                // rcgen writes EKU non-critical; RFC 3161 wants it critical, so write it ourselves.
                let mut ext = rcgen::CustomExtension::from_oid_content(
                    OID_EXT_KEY_USAGE,
                    seq(&[oid(OID_EKU_TIME_STAMPING)]),
                );
                ext.set_criticality(true);
                p.custom_extensions = vec![ext];
            }
        }
        let der = p
            .signed_by(&key.rcgen(), &self.issuer)
            .unwrap()
            .der()
            .to_vec();
        Cert { der, key }
    }
}

/// A code-signing PKI: root → optional intermediate → leaf.
pub struct Pki {
    pub root: Ca,
    pub intermediate: Option<Ca>,
    pub leaf: Cert,
}

impl Pki {
    /// Root `Acme Root CA` (P-256), an intermediate `Acme Intermediate CA` if asked, and a leaf.
    pub fn new(leaf: &LeafOptions, intermediate: bool) -> Pki {
        let root = Ca::root("Acme Root CA", KeyKind::EcP256);
        let intermediate =
            intermediate.then(|| root.intermediate("Acme Intermediate CA", KeyKind::EcP256));
        let leaf = intermediate.as_ref().unwrap_or(&root).issue(leaf);
        Pki {
            root,
            intermediate,
            leaf,
        }
    }
    /// The default P-256 leaf directly under the root.
    pub fn simple() -> Pki {
        Pki::new(&LeafOptions::default(), false)
    }
    /// DER certificates leaf first, ending with the root: what `x5c` / x5chain carry.
    pub fn chain(&self) -> Vec<Vec<u8>> {
        let mut c = vec![self.leaf.der.clone()];
        c.extend(self.intermediate.as_ref().map(|i| i.cert.der.clone()));
        c.push(self.root.cert.der.clone());
        c
    }
    /// A JWS signer with this leaf and chain.
    pub fn signer(&self) -> NotarySigner {
        NotarySigner::new(&self.leaf, self.chain())
    }
}

/// Writes certificates as a Notation trust store `DIR/<store_type>/<name>/cert-N.pem`
/// (`store_type` is `ca`, `signingAuthority` or `tsa`); returns the store directory.
pub fn write_trust_store(dir: &Path, store_type: &str, name: &str, certs: &[&[u8]]) -> PathBuf {
    let store = dir.join(store_type).join(name);
    std::fs::create_dir_all(&store).unwrap();
    for (i, der) in certs.iter().enumerate() {
        std::fs::write(
            store.join(format!("cert-{i}.pem")),
            pem_encode("CERTIFICATE", der),
        )
        .unwrap();
    }
    store
}
