//! Public keys and the signature primitives (aws-lc-rs), parsed once and reused.

use std::fmt;
use std::sync::Arc;

use aws_lc_rs::digest;
use aws_lc_rs::signature::{
    self as sig, ParsedPublicKey, UnparsedPublicKey, VerificationAlgorithm,
};
use const_oid::ObjectIdentifier;
use x509_cert::der::Decode as _;
use x509_cert::spki::SubjectPublicKeyInfoRef;

use super::asn1;
use super::VerifyError;

const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const P521: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");
const RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");

// Certificate signature algorithms.
const ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const ECDSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const ECDSA_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.4");
const RSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const RSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
const RSA_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");

/// The kinds of keys Sigstore and cosign use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyKind {
    P256,
    P384,
    P521,
    Rsa,
    Ed25519,
}

/// The digest algorithms of the Sigstore algorithm registry (bundle `messageDigest`,
/// hashedrekord entries).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HashAlg {
    Sha256,
    Sha384,
    Sha512,
}

impl HashAlg {
    /// From the protobuf `HashAlgorithm` name (`SHA2_256`, `SHA2_384`, `SHA2_512`).
    pub fn from_protobuf(name: &str) -> Option<HashAlg> {
        match name {
            "SHA2_256" => Some(HashAlg::Sha256),
            "SHA2_384" => Some(HashAlg::Sha384),
            "SHA2_512" => Some(HashAlg::Sha512),
            _ => None,
        }
    }

    /// From a Rekor v1 hash `algorithm` (`sha256`, `sha384`, `sha512`).
    pub fn from_rekor(name: &str) -> Option<HashAlg> {
        match name {
            "sha256" => Some(HashAlg::Sha256),
            "sha384" => Some(HashAlg::Sha384),
            "sha512" => Some(HashAlg::Sha512),
            _ => None,
        }
    }

    /// `SHA-256`, `SHA-384`, `SHA-512`, for reasons.
    pub fn name(self) -> &'static str {
        match self {
            HashAlg::Sha256 => "SHA-256",
            HashAlg::Sha384 => "SHA-384",
            HashAlg::Sha512 => "SHA-512",
        }
    }

    /// The digest length in bytes.
    pub fn len(self) -> usize {
        self.digest_alg().output_len()
    }

    fn digest_alg(self) -> &'static digest::Algorithm {
        match self {
            HashAlg::Sha256 => &digest::SHA256,
            HashAlg::Sha384 => &digest::SHA384,
            HashAlg::Sha512 => &digest::SHA512,
        }
    }

    /// The digest of `data`.
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        digest::digest(self.digest_alg(), data).as_ref().to_vec()
    }
}

struct KeyInner {
    kind: KeyKind,
    spki_der: Vec<u8>,
    fingerprint: String,
    /// The key parsed for its default scheme: ECDSA with the curve's hash (ASN.1 signatures),
    /// RSA PKCS#1 v1.5 with SHA-256, or Ed25519.
    default: ParsedPublicKey,
    /// RSA only: the same key for PSS with SHA-256.
    pss: Option<ParsedPublicKey>,
}

/// A parsed public key a policy names.
#[derive(Clone)]
pub struct PublicKey {
    inner: Arc<KeyInner>,
    /// When the key may sign (Unix seconds, both ends inclusive), where one is given: a
    /// signature then needs a proven signing time inside it.
    valid_for: Option<(i64, i64)>,
    /// Where the policy got the key when it is not inline (`awskms:///alias/release`), so
    /// decisions can say which key verified.
    origin: Option<Arc<str>>,
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "PublicKey({:?} {})",
            self.inner.kind, self.inner.fingerprint
        )
    }
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.inner.spki_der == other.inner.spki_der
    }
}
impl Eq for PublicKey {}

impl PublicKey {
    /// The same key, trusted only for signatures made from `start` to `end` (Unix seconds,
    /// inclusive).
    pub fn with_validity(mut self, start: i64, end: i64) -> PublicKey {
        self.valid_for = Some((start, end));
        self
    }

    /// The key's validity window, if it has one.
    pub fn validity(&self) -> Option<(i64, i64)> {
        self.valid_for
    }

    /// The same key, noting where it came from (a KMS key URI); see [`PublicKey::label`].
    pub fn with_origin(mut self, origin: &str) -> PublicKey {
        self.origin = Some(Arc::from(origin));
        self
    }

    /// Where the key came from, when the policy named it by reference (a KMS key URI).
    pub fn origin(&self) -> Option<&str> {
        self.origin.as_deref()
    }

    /// How decisions name the key: its fingerprint, and its origin when it has one
    /// (`sha256:… (awskms:///alias/release)`).
    pub fn label(&self) -> String {
        match &self.origin {
            Some(origin) => format!("{} ({origin})", self.inner.fingerprint),
            None => self.inner.fingerprint.clone(),
        }
    }

    /// Parses a PEM `PUBLIC KEY` (ECDSA P-256/P-384/P-521, RSA, Ed25519).
    pub fn from_pem(pem: &str) -> Result<PublicKey, VerifyError> {
        if pem.len() > asn1::MAX_PEM_LEN {
            return Err(VerifyError::Key("PEM text is larger than 64 KiB".into()));
        }
        let blocks = asn1::pem_blocks(pem, "PUBLIC KEY", 1).map_err(VerifyError::Key)?;
        match blocks.as_slice() {
            [der] => PublicKey::from_spki_der(der),
            [] => Err(VerifyError::Key(
                "no `-----BEGIN PUBLIC KEY-----` block (a SubjectPublicKeyInfo PEM is expected)"
                    .into(),
            )),
            _ => Err(VerifyError::Key("more than one PUBLIC KEY block".into())),
        }
    }

    /// Parses a DER SubjectPublicKeyInfo.
    pub fn from_spki_der(der: &[u8]) -> Result<PublicKey, VerifyError> {
        let err = |m: &str| VerifyError::Key(m.to_string());
        let spki = SubjectPublicKeyInfoRef::from_der(der)
            .map_err(|e| VerifyError::Key(format!("not a DER SubjectPublicKeyInfo: {e}")))?;
        let alg = spki.algorithm.oid;
        let kind = if alg == EC_PUBLIC_KEY {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as::<ObjectIdentifier>().ok())
                .ok_or_else(|| err("EC key without a named curve"))?;
            if curve == P256 {
                KeyKind::P256
            } else if curve == P384 {
                KeyKind::P384
            } else if curve == P521 {
                KeyKind::P521
            } else {
                return Err(VerifyError::Key(format!(
                    "EC curve {curve} is not supported (P-256, P-384 and P-521 are)"
                )));
            }
        } else if alg == RSA {
            KeyKind::Rsa
        } else if alg == ED25519 {
            KeyKind::Ed25519
        } else {
            return Err(VerifyError::Key(format!(
                "key algorithm {alg} is not supported (ECDSA P-256/P-384/P-521, RSA and Ed25519 are)"
            )));
        };
        let default_alg: &'static dyn VerificationAlgorithm = match kind {
            KeyKind::P256 => &sig::ECDSA_P256_SHA256_ASN1,
            // The Sigstore algorithm registry pairs each curve with its hash.
            KeyKind::P384 => &sig::ECDSA_P384_SHA384_ASN1,
            KeyKind::P521 => &sig::ECDSA_P521_SHA512_ASN1,
            KeyKind::Rsa => &sig::RSA_PKCS1_2048_8192_SHA256,
            KeyKind::Ed25519 => &sig::ED25519,
        };
        let default = ParsedPublicKey::new(default_alg, der)
            .map_err(|e| VerifyError::Key(format!("{kind:?} key rejected: {e}")))?;
        let pss = match kind {
            KeyKind::Rsa => ParsedPublicKey::new(&sig::RSA_PSS_2048_8192_SHA256, der).ok(),
            _ => None,
        };
        let fingerprint = format!("sha256:{}", hex::encode(sha256(der)));
        Ok(PublicKey {
            valid_for: None,
            origin: None,
            inner: Arc::new(KeyInner {
                kind,
                spki_der: der.to_vec(),
                fingerprint,
                default,
                pss,
            }),
        })
    }

    /// `sha256:<hex>` of the key's SubjectPublicKeyInfo DER, to name it in evidence.
    pub fn fingerprint(&self) -> String {
        self.inner.fingerprint.clone()
    }

    /// The DER SubjectPublicKeyInfo.
    pub fn spki_der(&self) -> &[u8] {
        &self.inner.spki_der
    }

    /// The key's algorithm as KMS and X.509 name it: `ECDSA P-256`, `ECDSA P-384`,
    /// `ECDSA P-521`, `RSA` or `Ed25519`.
    pub fn algorithm(&self) -> &'static str {
        match self.inner.kind {
            KeyKind::P256 => "ECDSA P-256",
            KeyKind::P384 => "ECDSA P-384",
            KeyKind::P521 => "ECDSA P-521",
            KeyKind::Rsa => "RSA",
            KeyKind::Ed25519 => "Ed25519",
        }
    }

    pub(crate) fn kind(&self) -> KeyKind {
        self.inner.kind
    }

    /// Verifies `signature` over `message` with the key's usual scheme: ECDSA (ASN.1 DER) with
    /// SHA-256 for P-256, SHA-384 for P-384 and SHA-512 for P-521, RSA PKCS#1 v1.5 or PSS with SHA-256, Ed25519.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        if self.inner.default.verify_sig(message, signature).is_ok() {
            return true;
        }
        self.inner
            .pss
            .as_ref()
            .is_some_and(|k| k.verify_sig(message, signature).is_ok())
    }

    /// Verifies `signature` over a message known only by its `alg` digest (a bundle's
    /// `messageSignature`). The pairs are the Sigstore registry's (P-256/SHA-256,
    /// P-384/SHA-384, P-521/SHA-512, RSA with SHA-256/384/512, PKCS#1 v1.5 or PSS), plus
    /// P-384/SHA-256, which cosign makes; any other pair fails. Ed25519 signs messages, not
    /// digests, so it never verifies here.
    pub(crate) fn verify_prehashed(&self, alg: HashAlg, digest: &[u8], signature: &[u8]) -> bool {
        let Ok(d) = digest::Digest::import_less_safe(digest, alg.digest_alg()) else {
            return false;
        };
        let others: &[&'static dyn VerificationAlgorithm] = match (self.inner.kind, alg) {
            (KeyKind::P256, HashAlg::Sha256)
            | (KeyKind::P384, HashAlg::Sha384)
            | (KeyKind::P521, HashAlg::Sha512) => {
                return self.inner.default.verify_digest_sig(&d, signature).is_ok();
            }
            (KeyKind::P384, HashAlg::Sha256) => &[&sig::ECDSA_P384_SHA256_ASN1],
            (KeyKind::Rsa, HashAlg::Sha256) => {
                if self.inner.default.verify_digest_sig(&d, signature).is_ok() {
                    return true;
                }
                &[&sig::RSA_PSS_2048_8192_SHA256]
            }
            (KeyKind::Rsa, HashAlg::Sha384) => &[
                &sig::RSA_PKCS1_2048_8192_SHA384,
                &sig::RSA_PSS_2048_8192_SHA384,
            ],
            (KeyKind::Rsa, HashAlg::Sha512) => &[
                &sig::RSA_PKCS1_2048_8192_SHA512,
                &sig::RSA_PSS_2048_8192_SHA512,
            ],
            _ => return false,
        };
        others.iter().any(|a| {
            UnparsedPublicKey::new(*a, &self.inner.spki_der)
                .verify_digest(&d, signature)
                .is_ok()
        })
    }

    /// Verifies an X.509 signature made with algorithm `alg_oid` (the certificate's
    /// `signatureAlgorithm`) over `message`.
    pub(crate) fn verify_x509(
        &self,
        alg_oid: &ObjectIdentifier,
        message: &[u8],
        signature: &[u8],
    ) -> bool {
        let alg: &'static dyn VerificationAlgorithm = match (self.inner.kind, *alg_oid) {
            (KeyKind::P256, ECDSA_SHA256)
            | (KeyKind::P384, ECDSA_SHA384)
            | (KeyKind::P521, ECDSA_SHA512) => {
                return self.inner.default.verify_sig(message, signature).is_ok();
            }
            (KeyKind::Rsa, RSA_SHA256) => {
                return self.inner.default.verify_sig(message, signature).is_ok();
            }
            (KeyKind::Ed25519, ED25519) => {
                return self.inner.default.verify_sig(message, signature).is_ok();
            }
            (KeyKind::P256, ECDSA_SHA384) => &sig::ECDSA_P256_SHA384_ASN1,
            (KeyKind::P256, ECDSA_SHA512) => &sig::ECDSA_P256_SHA512_ASN1,
            (KeyKind::P384, ECDSA_SHA256) => &sig::ECDSA_P384_SHA256_ASN1,
            (KeyKind::P384, ECDSA_SHA512) => &sig::ECDSA_P384_SHA512_ASN1,
            (KeyKind::P521, ECDSA_SHA256) => &sig::ECDSA_P521_SHA256_ASN1,
            (KeyKind::P521, ECDSA_SHA384) => &sig::ECDSA_P521_SHA384_ASN1,
            (KeyKind::Rsa, RSA_SHA384) => &sig::RSA_PKCS1_2048_8192_SHA384,
            (KeyKind::Rsa, RSA_SHA512) => &sig::RSA_PKCS1_2048_8192_SHA512,
            _ => return false,
        };
        UnparsedPublicKey::new(alg, &self.inner.spki_der)
            .verify(message, signature)
            .is_ok()
    }
}

/// SHA-256 of `data`.
pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    let d = digest::digest(&digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> PublicKey {
        let path = format!(
            "{}/../../tests/data/vectors/connaisseur/test-testdata-cosign/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        PublicKey::from_pem(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn parses_cosign_keys_and_fingerprints_them() {
        let alice = key("alice.key");
        assert_eq!(alice.kind(), KeyKind::P256);
        assert!(alice.fingerprint().starts_with("sha256:"));
        assert_eq!(alice.fingerprint().len(), 7 + 64);
        assert_ne!(alice, key("bob.key"));
    }

    #[test]
    fn parses_ed25519_and_rejects_junk() {
        let ed = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAt8rlp1knGwjfbcXAYPYAkn0XiLz1x8O4t0YkEhie244=\n-----END PUBLIC KEY-----\n";
        assert_eq!(PublicKey::from_pem(ed).unwrap().kind(), KeyKind::Ed25519);
        assert!(
            PublicKey::from_pem("-----BEGIN PUBLIC KEY-----\nMAA=\n-----END PUBLIC KEY-----")
                .is_err()
        );
        assert!(PublicKey::from_pem("hello").is_err());
    }

    #[test]
    fn rsa_pkcs1_and_pss_verify() {
        use aws_lc_rs::rand::SystemRandom;
        use aws_lc_rs::signature::{KeyPair, RsaKeyPair, RSA_PKCS1_SHA256, RSA_PSS_SHA256};
        let kp = RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        let spki = aws_lc_rs::encoding::AsDer::<aws_lc_rs::encoding::PublicKeyX509Der>::as_der(
            kp.public_key(),
        )
        .unwrap();
        let key = PublicKey::from_spki_der(spki.as_ref()).unwrap();
        assert_eq!(key.kind(), KeyKind::Rsa);
        let rng = SystemRandom::new();
        for enc in [&RSA_PKCS1_SHA256, &RSA_PSS_SHA256] {
            let mut s = vec![0u8; kp.public_modulus_len()];
            kp.sign(enc, &rng, b"payload", &mut s).unwrap();
            assert!(key.verify(b"payload", &s));
            assert!(!key.verify(b"payloaD", &s));
        }
    }

    #[test]
    fn p384_and_p521_use_their_registry_hashes() {
        use aws_lc_rs::rand::SystemRandom;
        use aws_lc_rs::signature::{
            EcdsaKeyPair, KeyPair, ECDSA_P384_SHA384_ASN1_SIGNING, ECDSA_P521_SHA512_ASN1_SIGNING,
        };
        let rng = SystemRandom::new();
        let spki = |kp: &EcdsaKeyPair| {
            let der = aws_lc_rs::encoding::AsDer::<aws_lc_rs::encoding::PublicKeyX509Der>::as_der(
                kp.public_key(),
            )
            .unwrap();
            PublicKey::from_spki_der(der.as_ref()).unwrap()
        };
        for (signing, kind, hash) in [
            (
                &ECDSA_P384_SHA384_ASN1_SIGNING,
                KeyKind::P384,
                HashAlg::Sha384,
            ),
            (
                &ECDSA_P521_SHA512_ASN1_SIGNING,
                KeyKind::P521,
                HashAlg::Sha512,
            ),
        ] {
            let kp = EcdsaKeyPair::generate(signing).unwrap();
            let key = spki(&kp);
            assert_eq!(key.kind(), kind);
            let other = spki(&EcdsaKeyPair::generate(signing).unwrap());
            let s = kp.sign(&rng, b"payload").unwrap();
            let s = s.as_ref();
            assert!(key.verify(b"payload", s));
            assert!(!key.verify(b"payloaD", s));
            assert!(!other.verify(b"payload", s));
            let d = hash.digest(b"payload");
            assert!(key.verify_prehashed(hash, &d, s));
            assert!(!other.verify_prehashed(hash, &d, s));
            assert!(!key.verify_prehashed(hash, &hash.digest(b"payloaD"), s));
            // The digest must be of the algorithm named.
            assert!(!key.verify_prehashed(HashAlg::Sha256, &d, s));
            for wrong in [HashAlg::Sha256, HashAlg::Sha384, HashAlg::Sha512] {
                if wrong != hash {
                    assert!(!key.verify_prehashed(wrong, &wrong.digest(b"payload"), s));
                }
            }
        }
    }

    #[test]
    fn unsupported_curves_are_rejected() {
        // A secp256k1 key (1.3.132.0.10).
        let k1 = "-----BEGIN PUBLIC KEY-----\nMFYwEAYHKoZIzj0CAQYFK4EEAAoDQgAEX0CTLUyvvHMXjqrwTGmdF7b8mItlgh1s\nQhKBv2/E3jGpGGTUQDtT7cRmd7tDZ2FRdDJb6sXZmm3mbxUx0GsdsA==\n-----END PUBLIC KEY-----\n";
        let err = PublicKey::from_pem(k1).unwrap_err().to_string();
        assert!(err.contains("1.3.132.0.10 is not supported"), "{err}");
    }
}
