//! Building envelopes in both formats, signed with keys made in the test.

use aws_lc_rs::encoding::{AsDer, PublicKeyX509Der};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{self as sig, EcdsaKeyPair, KeyPair, RsaKeyPair};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use serde_json::{json, Map, Value};

use super::*;

pub(super) enum TestKey {
    Ec(EcdsaKeyPair),
    Rsa(RsaKeyPair),
}

impl TestKey {
    pub fn ec(alg: &'static sig::EcdsaSigningAlgorithm) -> TestKey {
        TestKey::Ec(EcdsaKeyPair::generate(alg).unwrap())
    }
    pub fn rsa(size: KeySize) -> TestKey {
        TestKey::Rsa(RsaKeyPair::generate(size).unwrap())
    }
    /// ECDSA as the key's algorithm says; RSA as PSS with the hash its size implies.
    pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
        let rng = SystemRandom::new();
        match self {
            TestKey::Ec(k) => k.sign(&rng, msg).unwrap().as_ref().to_vec(),
            TestKey::Rsa(k) => {
                let enc = match k.public_modulus_len() {
                    256 => &sig::RSA_PSS_SHA256,
                    384 => &sig::RSA_PSS_SHA384,
                    _ => &sig::RSA_PSS_SHA512,
                };
                let mut out = vec![0; k.public_modulus_len()];
                k.sign(enc, &rng, msg, &mut out).unwrap();
                out
            }
        }
    }
    pub fn public(&self) -> PublicKey {
        let der = match self {
            TestKey::Ec(k) => AsDer::<PublicKeyX509Der>::as_der(k.public_key()).unwrap(),
            TestKey::Rsa(k) => AsDer::<PublicKeyX509Der>::as_der(k.public_key()).unwrap(),
        };
        PublicKey::from_spki_der(der.as_ref()).unwrap()
    }
}

pub(super) const T0: i64 = 1_700_000_000;

/// An envelope to build, in either format.
#[derive(Clone)]
pub(super) struct Spec {
    /// JWS name and COSE number.
    pub alg: (&'static str, i64),
    pub cty: &'static str,
    pub scheme: &'static str,
    pub crit: Vec<&'static str>,
    pub times: Vec<(&'static str, i64)>,
    /// Text-valued protected headers.
    pub extra: Vec<(&'static str, &'static str)>,
    pub certs: usize,
    pub payload: Vec<u8>,
}

impl Default for Spec {
    fn default() -> Spec {
        Spec {
            alg: ("ES256", -7),
            cty: PAYLOAD_MEDIA_TYPE,
            scheme: "notary.x509",
            crit: vec![SIGNING_SCHEME],
            times: vec![(SIGNING_TIME, T0)],
            extra: Vec::new(),
            certs: 1,
            payload: br#"{"targetArtifact":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270","size":7}}"#.to_vec(),
        }
    }
}

/// A minimal CBOR encoder for the tests (shortest heads).
pub(super) mod enc {
    pub fn head(major: u8, n: u64) -> Vec<u8> {
        let m = major << 5;
        match n {
            0..=23 => vec![m | n as u8],
            24..=0xff => vec![m | 24, n as u8],
            0x100..=0xffff => [&[m | 25][..], &(n as u16).to_be_bytes()].concat(),
            _ => [&[m | 26][..], &(n as u32).to_be_bytes()].concat(),
        }
    }
    pub fn int(i: i64) -> Vec<u8> {
        if i >= 0 {
            head(0, i as u64)
        } else {
            head(1, (-1 - i) as u64)
        }
    }
    pub fn bstr(b: &[u8]) -> Vec<u8> {
        [head(2, b.len() as u64), b.to_vec()].concat()
    }
    pub fn tstr(s: &str) -> Vec<u8> {
        [head(3, s.len() as u64), s.as_bytes().to_vec()].concat()
    }
    pub fn arr(items: &[Vec<u8>]) -> Vec<u8> {
        [head(4, items.len() as u64), items.concat()].concat()
    }
    pub fn map(entries: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
        let body: Vec<u8> = entries
            .iter()
            .flat_map(|(k, v)| [&k[..], v].concat())
            .collect();
        [head(5, entries.len() as u64), body].concat()
    }
    pub fn tag(n: u64, item: Vec<u8>) -> Vec<u8> {
        [head(6, n), item].concat()
    }
}

/// Stand-ins for certificates: parsing keeps them as bytes.
pub(super) fn certs(n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| vec![0x30, 0x03, 0x02, 0x01, i as u8])
        .collect()
}

impl Spec {
    pub fn protected_json(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("alg".into(), json!(self.alg.0));
        m.insert("cty".into(), json!(self.cty));
        m.insert("crit".into(), json!(self.crit));
        m.insert(SIGNING_SCHEME.into(), json!(self.scheme));
        for (k, t) in &self.times {
            m.insert((*k).into(), json!(show_time(*t)));
        }
        for (k, v) in &self.extra {
            m.insert((*k).into(), json!(v));
        }
        m
    }

    /// A JWS with the given protected header text and unprotected header.
    pub fn jws_with(&self, key: &TestKey, protected: &str, header: Value) -> Vec<u8> {
        let protected = URL_SAFE_NO_PAD.encode(protected);
        let payload = URL_SAFE_NO_PAD.encode(&self.payload);
        let signature = key.sign(format!("{protected}.{payload}").as_bytes());
        let doc = json!({
            "payload": payload,
            "protected": protected,
            "header": header,
            "signature": URL_SAFE_NO_PAD.encode(signature),
        });
        doc.to_string().into_bytes()
    }

    pub fn jws_header(&self) -> Value {
        let x5c: Vec<String> = certs(self.certs)
            .iter()
            .map(|c| STANDARD.encode(c))
            .collect();
        json!({"x5c": x5c, SIGNING_AGENT: "shipgate-test/1"})
    }

    pub fn jws(&self, key: &TestKey) -> Vec<u8> {
        let protected = Value::Object(self.protected_json()).to_string();
        self.jws_with(key, &protected, self.jws_header())
    }

    pub fn cose_protected(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        let crit: Vec<Vec<u8>> = self.crit.iter().map(|c| enc::tstr(c)).collect();
        let mut entries = vec![
            (enc::int(1), enc::int(self.alg.1)),
            (enc::int(2), enc::arr(&crit)),
            (enc::int(3), enc::tstr(self.cty)),
            (enc::tstr(SIGNING_SCHEME), enc::tstr(self.scheme)),
        ];
        for (k, t) in &self.times {
            entries.push((enc::tstr(k), enc::tag(1, enc::int(*t))));
        }
        for (k, v) in &self.extra {
            entries.push((enc::tstr(k), enc::tstr(v)));
        }
        entries
    }

    pub fn cose_unprotected(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        let chain: Vec<Vec<u8>> = certs(self.certs).iter().map(|c| enc::bstr(c)).collect();
        vec![
            (enc::int(33), enc::arr(&chain)),
            (enc::tstr(SIGNING_AGENT), enc::tstr("shipgate-test/1")),
        ]
    }

    /// A tagged COSE_Sign1 with the given (encoded) protected map and unprotected entries.
    pub fn cose_with(
        &self,
        key: &TestKey,
        protected: &[u8],
        unprotected: &[(Vec<u8>, Vec<u8>)],
    ) -> Vec<u8> {
        let tbs = enc::arr(&[
            enc::tstr("Signature1"),
            enc::bstr(protected),
            enc::bstr(b""),
            enc::bstr(&self.payload),
        ]);
        let signature = key.sign(&tbs);
        enc::tag(
            18,
            enc::arr(&[
                enc::bstr(protected),
                enc::map(unprotected),
                enc::bstr(&self.payload),
                enc::bstr(&signature),
            ]),
        )
    }

    pub fn cose(&self, key: &TestKey) -> Vec<u8> {
        let protected = enc::map(&self.cose_protected());
        self.cose_with(key, &protected, &self.cose_unprotected())
    }

    /// Parses the spec in both formats.
    pub fn both(&self, key: &TestKey) -> [Result<Envelope, Rejection>; 2] {
        [
            parse(&self.jws(key), JWS_MEDIA_TYPE),
            parse(&self.cose(key), COSE_MEDIA_TYPE),
        ]
    }
}

pub(super) fn p256() -> TestKey {
    TestKey::ec(&sig::ECDSA_P256_SHA256_FIXED_SIGNING)
}

/// Both formats refuse `spec`, saying `why`.
#[track_caller]
pub(super) fn refused(spec: &Spec, why: &str) {
    for result in spec.both(&p256()) {
        let reason = result.unwrap_err().reason;
        assert!(reason.contains(why), "{reason}\n  does not say: {why}");
    }
}
