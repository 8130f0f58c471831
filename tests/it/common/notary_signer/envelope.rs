//! Notary envelopes: the payload, [`NotarySigner`] and the JWS / COSE_Sign1 it builds.

use std::collections::BTreeMap;

use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD as B64URL};
use base64::Engine as _;
use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;

use super::cbor::Cbor;
use super::keys::{Key, SigAlg};
use super::pki::Cert;
use super::tsa::{TokenOptions, Tsa};
use super::{
    now, rfc3339, AUTHENTIC_SIGNING_TIME, COSE_MEDIA_TYPE, DEFAULT_SIGNING_AGENT, EXPIRY,
    JWS_MEDIA_TYPE, PAYLOAD_MEDIA_TYPE, SIGNING_AGENT, SIGNING_SCHEME, SIGNING_TIME,
    TIMESTAMP_SIGNATURE,
};
use crate::common::oci::Descriptor;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvelopeFormat {
    Jws,
    Cose,
}

impl EnvelopeFormat {
    pub fn media_type(self) -> &'static str {
        match self {
            EnvelopeFormat::Jws => JWS_MEDIA_TYPE,
            EnvelopeFormat::Cose => COSE_MEDIA_TYPE,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `notary.x509`: `signingTime`, timestamps allowed.
    X509,
    /// `notary.x509.signingAuthority`: `authenticSigningTime` (critical), as AWS Signer signs.
    SigningAuthority,
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::X509 => "notary.x509",
            Scheme::SigningAuthority => "notary.x509.signingAuthority",
        }
    }
}

/// Breakage applied after signing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tamper {
    None,
    /// Swap in a payload whose size is one more than the signed one.
    Payload,
    /// Flip a bit of the signature (after any timestamp was made over it).
    Signature,
}

/// The Notary payload: `{"targetArtifact":{"mediaType":…,"digest":…,"size":…[,"annotations":…]}}`.
pub fn notary_payload(subject: &Descriptor, annotations: &BTreeMap<String, String>) -> Vec<u8> {
    #[derive(Serialize)]
    struct Target<'a> {
        #[serde(rename = "mediaType")]
        media_type: &'a str,
        digest: &'a str,
        size: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        annotations: Option<&'a BTreeMap<String, String>>,
    }
    let t = Target {
        media_type: &subject.media_type,
        digest: subject.digest.as_str(),
        size: subject.size,
        annotations: (!annotations.is_empty()).then_some(annotations),
    };
    #[derive(Serialize)]
    struct Payload<'a> {
        #[serde(rename = "targetArtifact")]
        target_artifact: Target<'a>,
    }
    serde_json::to_vec(&Payload { target_artifact: t }).unwrap()
}

/// Signs as `notation sign` does; every field may be set to make a broken signature.
#[derive(Clone)]
pub struct NotarySigner {
    pub key: Key,
    /// DER certificates, leaf first (`x5c` / x5chain).
    pub chain: Vec<Vec<u8>>,
    pub format: EnvelopeFormat,
    pub scheme: Scheme,
    /// `alg` to claim; `None`: the key's own ([`KeyKind::notary_alg`]). The signature is always
    /// made with the key's own algorithm.
    pub alg: Option<SigAlg>,
    pub signing_time: OffsetDateTime,
    pub expiry: Option<OffsetDateTime>,
    /// Extra protected attributes: (name, value, critical).
    pub attributes: Vec<(String, Value, bool)>,
    /// Replaces the computed `crit` list entirely.
    pub crit_override: Option<Vec<String>>,
    pub signing_agent: String,
    pub timestamp: Option<(Tsa, TokenOptions)>,
    pub payload_annotations: BTreeMap<String, String>,
    pub tamper: Tamper,
}

impl NotarySigner {
    /// JWS, `notary.x509`, signing time now, no expiry, no timestamp.
    pub fn new(leaf: &Cert, chain: Vec<Vec<u8>>) -> NotarySigner {
        NotarySigner {
            key: leaf.key.clone(),
            chain,
            format: EnvelopeFormat::Jws,
            scheme: Scheme::X509,
            alg: None,
            signing_time: now(),
            expiry: None,
            attributes: Vec::new(),
            crit_override: None,
            signing_agent: DEFAULT_SIGNING_AGENT.to_string(),
            timestamp: None,
            payload_annotations: BTreeMap::new(),
            tamper: Tamper::None,
        }
    }
    pub fn format(mut self, f: EnvelopeFormat) -> Self {
        self.format = f;
        self
    }
    pub fn cose(self) -> Self {
        self.format(EnvelopeFormat::Cose)
    }
    pub fn scheme(mut self, s: Scheme) -> Self {
        self.scheme = s;
        self
    }
    pub fn alg(mut self, a: SigAlg) -> Self {
        self.alg = Some(a);
        self
    }
    pub fn signing_time(mut self, t: OffsetDateTime) -> Self {
        self.signing_time = t.replace_nanosecond(0).unwrap();
        self
    }
    pub fn expiry(mut self, t: OffsetDateTime) -> Self {
        self.expiry = Some(t.replace_nanosecond(0).unwrap());
        self
    }
    /// Adds a protected attribute (name, JSON value, critical?), e.g. a verification plugin.
    pub fn attribute(mut self, name: &str, value: impl Into<Value>, critical: bool) -> Self {
        self.attributes
            .push((name.to_string(), value.into(), critical));
        self
    }
    pub fn crit(mut self, labels: &[&str]) -> Self {
        self.crit_override = Some(labels.iter().map(|s| s.to_string()).collect());
        self
    }
    pub fn timestamp(mut self, tsa: &Tsa, opts: TokenOptions) -> Self {
        self.timestamp = Some((tsa.clone(), opts));
        self
    }
    pub fn tamper(mut self, t: Tamper) -> Self {
        self.tamper = t;
        self
    }

    fn time_label(&self) -> &'static str {
        match self.scheme {
            Scheme::X509 => SIGNING_TIME,
            Scheme::SigningAuthority => AUTHENTIC_SIGNING_TIME,
        }
    }
    /// `crit` as notation-core-go orders it: signingScheme, then for JWS the critical extra
    /// attributes, authenticSigningTime, expiry; for COSE authenticSigningTime, expiry, extras.
    pub fn crit_list(&self) -> Vec<String> {
        if let Some(c) = &self.crit_override {
            return c.clone();
        }
        let extras = self.attributes.iter().filter(|a| a.2).map(|a| a.0.clone());
        let mut fixed = Vec::new();
        if self.scheme == Scheme::SigningAuthority {
            fixed.push(AUTHENTIC_SIGNING_TIME.to_string());
        }
        if self.expiry.is_some() {
            fixed.push(EXPIRY.to_string());
        }
        let mut crit = vec![SIGNING_SCHEME.to_string()];
        match self.format {
            EnvelopeFormat::Jws => crit.extend(extras.chain(fixed)),
            EnvelopeFormat::Cose => crit.extend(fixed.into_iter().chain(extras)),
        }
        crit
    }
    fn timestamp_over(&self, signature: &[u8]) -> Option<Vec<u8>> {
        let (tsa, opts) = self.timestamp.as_ref()?;
        let mut opts = opts.clone();
        opts.hash = opts.hash.or(Some(self.key.kind.notary_alg().hash()));
        Some(tsa.token(signature, &opts))
    }

    /// Signs the Notary payload for `subject`: (envelope bytes, envelope media type).
    pub fn sign(&self, subject: &Descriptor) -> (Vec<u8>, &'static str) {
        self.sign_payload(&notary_payload(subject, &self.payload_annotations))
    }

    /// Signs an arbitrary payload (still declared as the Notary payload type).
    pub fn sign_payload(&self, payload: &[u8]) -> (Vec<u8>, &'static str) {
        let alg = self.alg.unwrap_or(self.key.kind.notary_alg());
        // Tamper::Payload ships the payload with `"size":N` turned into N+1.
        let shown = match self.tamper {
            Tamper::Payload => bump_size(payload),
            _ => payload.to_vec(),
        };
        let env = match self.format {
            EnvelopeFormat::Jws => self.jws(alg, payload, shown),
            EnvelopeFormat::Cose => self.cose_sign1(alg, payload, shown),
        };
        (env, self.format.media_type())
    }

    fn finish_signature(&self, mut signature: Vec<u8>) -> (Vec<u8>, Option<Vec<u8>>) {
        let token = self.timestamp_over(&signature);
        if self.tamper == Tamper::Signature {
            *signature.last_mut().unwrap() ^= 0x01;
        }
        (signature, token)
    }

    fn jws(&self, alg: SigAlg, payload: &[u8], shown: Vec<u8>) -> Vec<u8> {
        // Go marshals the header from a map: keys sorted, as serde_json's (BTreeMap) Map does.
        let mut h = serde_json::Map::new();
        h.insert("alg".into(), alg.jws_name().into());
        h.insert("cty".into(), PAYLOAD_MEDIA_TYPE.into());
        h.insert("crit".into(), self.crit_list().into());
        h.insert(SIGNING_SCHEME.into(), self.scheme.as_str().into());
        h.insert(self.time_label().into(), rfc3339(self.signing_time).into());
        if let Some(e) = self.expiry {
            h.insert(EXPIRY.into(), rfc3339(e).into());
        }
        for (k, v, _) in &self.attributes {
            h.insert(k.clone(), v.clone());
        }
        let protected = B64URL.encode(serde_json::to_vec(&h).unwrap());
        let signing_input = format!("{protected}.{}", B64URL.encode(payload));
        let (signature, token) =
            self.finish_signature(self.key.sign_notary(signing_input.as_bytes()));

        #[derive(Serialize)]
        struct Header {
            #[serde(
                rename = "io.cncf.notary.timestampSignature",
                skip_serializing_if = "Option::is_none"
            )]
            timestamp: Option<String>,
            x5c: Vec<String>,
            #[serde(
                rename = "io.cncf.notary.signingAgent",
                skip_serializing_if = "String::is_empty"
            )]
            agent: String,
        }
        #[derive(Serialize)]
        struct Envelope {
            payload: String,
            protected: String,
            header: Header,
            signature: String,
        }
        serde_json::to_vec(&Envelope {
            payload: B64URL.encode(shown),
            protected,
            header: Header {
                timestamp: token.map(|t| B64.encode(t)),
                x5c: self.chain.iter().map(|c| B64.encode(c)).collect(),
                agent: self.signing_agent.clone(),
            },
            signature: B64URL.encode(signature),
        })
        .unwrap()
    }

    fn cose_sign1(&self, alg: SigAlg, payload: &[u8], shown: Vec<u8>) -> Vec<u8> {
        let epoch = |t: OffsetDateTime| Cbor::Tag(1, Box::new(Cbor::Int(t.unix_timestamp())));
        let mut protected = vec![
            (Cbor::Int(1), Cbor::Int(alg.cose_id())),
            (
                Cbor::Int(2),
                Cbor::Array(self.crit_list().iter().map(|c| Cbor::text(c)).collect()),
            ),
            (Cbor::Int(3), Cbor::text(PAYLOAD_MEDIA_TYPE)),
            (Cbor::text(SIGNING_SCHEME), Cbor::text(self.scheme.as_str())),
            (Cbor::text(self.time_label()), epoch(self.signing_time)),
        ];
        protected.extend(self.expiry.map(|e| (Cbor::text(EXPIRY), epoch(e))));
        protected.extend(
            self.attributes
                .iter()
                .map(|(k, v, _)| (Cbor::text(k), Cbor::from_json(v))),
        );
        let protected = Cbor::Map(protected).encode();
        // Sig_structure = ["Signature1", body_protected, external_aad = h'', payload]
        let to_sign = Cbor::Array(vec![
            Cbor::text("Signature1"),
            Cbor::Bytes(protected.clone()),
            Cbor::Bytes(vec![]),
            Cbor::Bytes(payload.to_vec()),
        ]);
        let (signature, token) = self.finish_signature(self.key.sign_notary(&to_sign.encode()));
        let mut unprotected = vec![(
            Cbor::Int(33),
            Cbor::Array(self.chain.iter().map(|c| Cbor::Bytes(c.clone())).collect()),
        )];
        if !self.signing_agent.is_empty() {
            unprotected.push((Cbor::text(SIGNING_AGENT), Cbor::text(&self.signing_agent)));
        }
        unprotected.extend(token.map(|t| (Cbor::text(TIMESTAMP_SIGNATURE), Cbor::Bytes(t))));
        // COSE_Sign1_Tagged = #6.18([protected bstr, unprotected map, payload bstr, signature bstr])
        Cbor::Tag(
            18,
            Box::new(Cbor::Array(vec![
                Cbor::Bytes(protected),
                Cbor::Map(unprotected),
                Cbor::Bytes(shown),
                Cbor::Bytes(signature),
            ])),
        )
        .encode()
    }
}

fn bump_size(payload: &[u8]) -> Vec<u8> {
    let s = std::str::from_utf8(payload).unwrap();
    let at = s.find("\"size\":").expect("a payload with a size") + 7;
    let end = at + s[at..].find(|c: char| !c.is_ascii_digit()).unwrap();
    let n: u64 = s[at..end].parse().unwrap();
    format!("{}{}{}", &s[..at], n + 1, &s[end..]).into_bytes()
}
