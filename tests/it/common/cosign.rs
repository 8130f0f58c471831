//! Real cosign-format signatures made in Rust with real keys (cosign itself cannot be installed in
//! the test environment).
//!
//! Two storage formats, both byte-for-byte as cosign writes them:
//! - legacy: the `sha256-<hex>.sig` tag holding an OCI manifest with one
//!   `application/vnd.dev.cosign.simplesigning.v1+json` layer per signature, the signature and its
//!   verification material in layer annotations ([`attach_legacy_signature`]);
//! - cosign v3: a Sigstore bundle v0.3 with a DSSE envelope over an in-toto Statement, stored as an
//!   OCI 1.1 referrer of the image and listed in the `sha256-<hex>` referrers-tag index, because the
//!   test registry (distribution 2.8) has no referrers API ([`attach_bundle_via_tag_fallback`]).
//!
//! Everything a test might want to break (payload, signature bytes, certificate, chain, Rekor
//! bundle) can be chosen per layer with [`LegacyLayer`].

use std::collections::BTreeMap;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self as sig, KeyPair as _};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::{json, Value};
use shipgate::reference::Digest;

use super::oci::{self, Descriptor, Index, Manifest};
use super::private_sigstore::TransparencyLog;

/// Media type of a cosign simple-signing payload layer.
pub const SIMPLESIGNING_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// Layer annotation: base64 signature over the payload.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// Layer annotation: PEM signing certificate (keyless).
pub const CERTIFICATE_ANNOTATION: &str = "dev.sigstore.cosign/certificate";
/// Layer annotation: PEM chain above the certificate (intermediates, root).
pub const CHAIN_ANNOTATION: &str = "dev.sigstore.cosign/chain";
/// Layer annotation: the Rekor bundle (`{SignedEntryTimestamp, Payload}`).
pub const BUNDLE_ANNOTATION: &str = "dev.sigstore.cosign/bundle";
/// Sigstore bundle v0.3 media type (also the referrer's `artifactType` and layer media type).
pub const BUNDLE_V03_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
/// DSSE payload type of an in-toto statement.
pub const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// The predicate type cosign v3 uses for a plain image signature.
pub const COSIGN_SIGN_PREDICATE_TYPE: &str = "https://sigstore.dev/cosign/sign/v1";

/// Base64 (standard alphabet, padded), as cosign and Sigstore use it everywhere.
pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    B64.encode(bytes)
}

/// PEM-encodes `der` under `label` (64-character lines, trailing newline), as Go's `pem.Encode`.
pub fn pem_encode(label: &str, der: &[u8]) -> String {
    let body = b64(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in body.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).expect("base64 is ascii"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// The DER contents of every PEM block in `pem`, in order.
pub fn pem_decode_all(pem: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for line in pem.lines() {
        let line = line.trim();
        if line.starts_with("-----BEGIN ") {
            current = Some(String::new());
        } else if line.starts_with("-----END ") {
            if let Some(body) = current.take() {
                out.push(B64.decode(body).expect("PEM base64"));
            }
        } else if let Some(body) = current.as_mut() {
            body.push_str(line);
        }
    }
    out
}

/// The signature schemes cosign supports for keys we can make cheaply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAlgorithm {
    /// ECDSA P-256 with SHA-256, ASN.1 DER signatures (cosign's default).
    EcdsaP256Sha256,
    /// ECDSA P-384 with SHA-384, ASN.1 DER signatures.
    EcdsaP384Sha384,
    /// Ed25519 (pure, over the message).
    Ed25519,
}

impl KeyAlgorithm {
    /// The `keyDetails` name of the Sigstore protobuf specs.
    pub fn key_details(self) -> &'static str {
        match self {
            KeyAlgorithm::EcdsaP256Sha256 => "PKIX_ECDSA_P256_SHA_256",
            KeyAlgorithm::EcdsaP384Sha384 => "PKIX_ECDSA_P384_SHA_384",
            KeyAlgorithm::Ed25519 => "PKIX_ED25519",
        }
    }
    fn verification(self) -> &'static dyn sig::VerificationAlgorithm {
        match self {
            KeyAlgorithm::EcdsaP256Sha256 => &sig::ECDSA_P256_SHA256_ASN1,
            KeyAlgorithm::EcdsaP384Sha384 => &sig::ECDSA_P384_SHA384_ASN1,
            KeyAlgorithm::Ed25519 => &sig::ED25519,
        }
    }
}

/// A private key that signs as cosign does. Kept as PKCS#8 so it can also be handed to `rcgen`
/// (for certificates) or written out as a PEM file for the gate's configuration.
#[derive(Clone)]
pub struct SigningKey {
    pub algorithm: KeyAlgorithm,
    pkcs8: Vec<u8>,
    spki: Vec<u8>,
    /// The raw public key (uncompressed point for ECDSA, 32 bytes for Ed25519).
    raw_public: Vec<u8>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("algorithm", &self.algorithm)
            .field("hint", &self.key_hint())
            .finish()
    }
}

impl SigningKey {
    fn ecdsa(alg: KeyAlgorithm, signing: &'static sig::EcdsaSigningAlgorithm) -> SigningKey {
        let kp = sig::EcdsaKeyPair::generate(signing).expect("generate ECDSA key");
        let pkcs8 = kp.to_pkcs8v1().expect("pkcs8").as_ref().to_vec();
        Self::from_pkcs8(alg, &pkcs8)
    }
    /// A fresh ECDSA P-256 key (cosign's default key type).
    pub fn generate_p256() -> SigningKey {
        Self::ecdsa(
            KeyAlgorithm::EcdsaP256Sha256,
            &sig::ECDSA_P256_SHA256_ASN1_SIGNING,
        )
    }
    /// A fresh ECDSA P-384 key (signatures use SHA-384).
    pub fn generate_p384() -> SigningKey {
        Self::ecdsa(
            KeyAlgorithm::EcdsaP384Sha384,
            &sig::ECDSA_P384_SHA384_ASN1_SIGNING,
        )
    }
    /// A fresh Ed25519 key.
    pub fn generate_ed25519() -> SigningKey {
        let kp = sig::Ed25519KeyPair::generate().expect("generate Ed25519 key");
        let pkcs8 = kp.to_pkcs8v1().expect("pkcs8").as_ref().to_vec();
        Self::from_pkcs8(KeyAlgorithm::Ed25519, &pkcs8)
    }
    /// Loads a PKCS#8 (DER) private key of the given algorithm.
    pub fn from_pkcs8(algorithm: KeyAlgorithm, pkcs8: &[u8]) -> SigningKey {
        let (spki, raw_public) = match algorithm {
            KeyAlgorithm::EcdsaP256Sha256 | KeyAlgorithm::EcdsaP384Sha384 => {
                let kp = sig::EcdsaKeyPair::from_pkcs8(Self::ecdsa_alg(algorithm), pkcs8)
                    .expect("ECDSA pkcs8");
                let spki = kp.public_key().as_der().expect("spki").as_ref().to_vec();
                (spki, kp.public_key().as_ref().to_vec())
            }
            KeyAlgorithm::Ed25519 => {
                let kp = sig::Ed25519KeyPair::from_pkcs8(pkcs8).expect("Ed25519 pkcs8");
                let spki = kp.public_key().as_der().expect("spki").as_ref().to_vec();
                (spki, kp.public_key().as_ref().to_vec())
            }
        };
        SigningKey {
            algorithm,
            pkcs8: pkcs8.to_vec(),
            spki,
            raw_public,
        }
    }
    fn ecdsa_alg(alg: KeyAlgorithm) -> &'static sig::EcdsaSigningAlgorithm {
        match alg {
            KeyAlgorithm::EcdsaP256Sha256 => &sig::ECDSA_P256_SHA256_ASN1_SIGNING,
            KeyAlgorithm::EcdsaP384Sha384 => &sig::ECDSA_P384_SHA384_ASN1_SIGNING,
            KeyAlgorithm::Ed25519 => unreachable!("not ECDSA"),
        }
    }
    /// PKCS#8 DER of the private key.
    pub fn pkcs8_der(&self) -> &[u8] {
        &self.pkcs8
    }
    /// `-----BEGIN PRIVATE KEY-----` (unencrypted PKCS#8).
    pub fn private_pem(&self) -> String {
        pem_encode("PRIVATE KEY", &self.pkcs8)
    }
    /// DER SubjectPublicKeyInfo of the public key.
    pub fn public_spki_der(&self) -> &[u8] {
        &self.spki
    }
    /// `-----BEGIN PUBLIC KEY-----` PEM: what `cosign.pub` holds and what `--key` takes.
    pub fn public_pem(&self) -> String {
        pem_encode("PUBLIC KEY", &self.spki)
    }
    /// The raw public key (uncompressed EC point / Ed25519 bytes).
    pub fn raw_public_key(&self) -> &[u8] {
        &self.raw_public
    }
    /// base64(sha256(SPKI DER)): what cosign puts in a bundle's `verificationMaterial.publicKey.hint`.
    pub fn key_hint(&self) -> String {
        b64(sha256(&self.spki))
    }
    /// Signs `msg`: ECDSA ASN.1 DER over SHA-256 (P-256) / SHA-384 (P-384), or Ed25519.
    pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
        match self.algorithm {
            KeyAlgorithm::Ed25519 => sig::Ed25519KeyPair::from_pkcs8(&self.pkcs8)
                .expect("key")
                .sign(msg)
                .as_ref()
                .to_vec(),
            alg => sig::EcdsaKeyPair::from_pkcs8(Self::ecdsa_alg(alg), &self.pkcs8)
                .expect("key")
                .sign(&SystemRandom::new(), msg)
                .expect("sign")
                .as_ref()
                .to_vec(),
        }
    }
    /// Verifies `signature` over `msg` with this key's public half.
    pub fn verify(&self, msg: &[u8], signature: &[u8]) -> bool {
        verify_raw(self.algorithm, &self.raw_public, msg, signature)
    }
}

/// Verifies with a raw public key (uncompressed EC point / Ed25519 bytes).
pub fn verify_raw(alg: KeyAlgorithm, raw_public: &[u8], msg: &[u8], signature: &[u8]) -> bool {
    sig::UnparsedPublicKey::new(alg.verification(), raw_public)
        .verify(msg, signature)
        .is_ok()
}

/// The raw public key inside a DER SubjectPublicKeyInfo (the BIT STRING's content).
pub fn spki_raw_public_key(spki: &[u8]) -> Vec<u8> {
    // SEQUENCE { SEQUENCE { algorithm… }, BIT STRING { 0x00, key… } }: take the last TLV.
    let (_, outer, _) = der_tlv(spki);
    let (_, _, rest) = der_tlv(outer);
    let (tag, bits, _) = der_tlv(rest);
    assert_eq!(tag, 0x03, "SPKI without BIT STRING");
    bits[1..].to_vec()
}

/// One DER TLV: (tag, contents, rest).
fn der_tlv(b: &[u8]) -> (u8, &[u8], &[u8]) {
    let tag = b[0];
    let (len, hdr) = if b[1] < 0x80 {
        (b[1] as usize, 2)
    } else {
        let n = (b[1] & 0x7f) as usize;
        let len = b[2..2 + n]
            .iter()
            .fold(0usize, |a, &x| (a << 8) | x as usize);
        (len, 2 + n)
    };
    (tag, &b[hdr..hdr + len], &b[hdr + len..])
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::digest(data).into()
}

/// The simple-signing payload cosign signs for an image, byte-for-byte:
/// `{"critical":{"identity":{"docker-reference":"…"},"image":{"docker-manifest-digest":"sha256:…"},"type":"cosign container image signature"},"optional":null}`.
///
/// `docker_reference` is the repository cosign was given, without tag or digest
/// (e.g. `127.0.0.1:5000/team/app` or `index.docker.io/securesystemsengineering/testimage`).
pub fn simple_signing_payload(docker_reference: &str, digest: &Digest) -> Vec<u8> {
    format!(
        r#"{{"critical":{{"identity":{{"docker-reference":{}}},"image":{{"docker-manifest-digest":{}}},"type":"cosign container image signature"}},"optional":null}}"#,
        serde_json::to_string(docker_reference).expect("json string"),
        serde_json::to_string(digest.as_str()).expect("json string"),
    )
    .into_bytes()
}

/// One signature layer of a legacy `.sig` manifest. Every part is chosen by the test, so a layer
/// can be honest ([`LegacyLayer::signed`]) or broken in exactly one way (tampered payload, payload
/// naming another digest, signature by another key, wrong certificate, forged Rekor bundle…).
#[derive(Debug, Clone)]
pub struct LegacyLayer {
    /// The layer blob: the signed payload (normally [`simple_signing_payload`]).
    pub payload: Vec<u8>,
    /// Layer media type (normally [`SIMPLESIGNING_MEDIA_TYPE`]).
    pub media_type: String,
    /// The raw signature; base64-encoded into `dev.cosignproject.cosign/signature`.
    pub signature: Vec<u8>,
    /// If set, written verbatim as the signature annotation instead (e.g. invalid base64).
    pub signature_annotation: Option<String>,
    /// PEM leaf certificate (`dev.sigstore.cosign/certificate`), keyless signatures only.
    pub certificate_pem: Option<String>,
    /// PEM chain (`dev.sigstore.cosign/chain`).
    pub chain_pem: Option<String>,
    /// Rekor bundle JSON (`dev.sigstore.cosign/bundle`), see `PrivateSigstore::rekor_set`.
    pub bundle: Option<String>,
    /// Any other annotations (e.g. `dev.sigstore.cosign/rfc3161timestamp`).
    pub extra_annotations: BTreeMap<String, String>,
}

impl LegacyLayer {
    /// `payload` signed by `key`, nothing else attached.
    pub fn sign_payload(key: &SigningKey, payload: Vec<u8>) -> LegacyLayer {
        LegacyLayer {
            signature: key.sign(&payload),
            payload,
            media_type: SIMPLESIGNING_MEDIA_TYPE.to_string(),
            signature_annotation: None,
            certificate_pem: None,
            chain_pem: None,
            bundle: None,
            extra_annotations: BTreeMap::new(),
        }
    }
    /// What `cosign sign --key` (without tlog upload) attaches for `docker_reference@digest`.
    pub fn signed(key: &SigningKey, docker_reference: &str, digest: &Digest) -> LegacyLayer {
        Self::sign_payload(key, simple_signing_payload(docker_reference, digest))
    }
    /// The signature annotation's value.
    pub fn signature_b64(&self) -> String {
        self.signature_annotation
            .clone()
            .unwrap_or_else(|| b64(&self.signature))
    }
    pub fn with_certificate(mut self, cert_pem: impl Into<String>) -> Self {
        self.certificate_pem = Some(cert_pem.into());
        self
    }
    pub fn with_chain(mut self, chain_pem: impl Into<String>) -> Self {
        self.chain_pem = Some(chain_pem.into());
        self
    }
    pub fn with_bundle(mut self, bundle_json: impl Into<String>) -> Self {
        self.bundle = Some(bundle_json.into());
        self
    }
    fn annotations(&self) -> BTreeMap<String, String> {
        let mut a = self.extra_annotations.clone();
        a.insert(SIGNATURE_ANNOTATION.to_string(), self.signature_b64());
        if let Some(c) = &self.certificate_pem {
            a.insert(CERTIFICATE_ANNOTATION.to_string(), c.clone());
        }
        if let Some(c) = &self.chain_pem {
            a.insert(CHAIN_ANNOTATION.to_string(), c.clone());
        }
        if let Some(b) = &self.bundle {
            a.insert(BUNDLE_ANNOTATION.to_string(), b.clone());
        }
        a
    }
}

/// The config blob cosign (go-containerregistry) writes for a signature image: one zero-time
/// history entry and one diff ID (= the layer digest, layers are uncompressed) per layer.
pub fn cosign_signature_config(layers: &[Descriptor]) -> Vec<u8> {
    let diff_ids: Vec<String> = layers
        .iter()
        .map(|l| format!("{:?}", l.digest.as_str()))
        .collect();
    let history = vec![r#"{"created":"0001-01-01T00:00:00Z"}"#; layers.len()];
    format!(
        r#"{{"architecture":"","created":"0001-01-01T00:00:00Z","history":[{}],"os":"","rootfs":{{"type":"layers","diff_ids":[{}]}},"config":{{}}}}"#,
        history.join(","),
        diff_ids.join(",")
    )
    .into_bytes()
}

/// Pushes a `.sig` manifest with exactly these layers under `sha256-<hex>.sig`, replacing any
/// signatures already there. Returns the `.sig` manifest digest.
pub fn put_legacy_signature_manifest(
    url: &str,
    repo: &str,
    image_digest: &Digest,
    layers: Vec<Descriptor>,
) -> Digest {
    let config_bytes = cosign_signature_config(&layers);
    let config = oci::push_blob(url, repo, oci::OCI_CONFIG, &config_bytes);
    let manifest = Manifest::oci(config, layers);
    oci::push_manifest(
        url,
        repo,
        &image_digest.cosign_tag(".sig"),
        oci::OCI_MANIFEST,
        &manifest.to_bytes(),
    )
}

/// Attaches signatures to `image_digest` as cosign does: pushes each payload blob, then the
/// `sha256-<hex>.sig` OCI manifest (config blob as cosign writes it, one simple-signing layer per
/// signature with its annotations). Like `cosign sign`, signatures already attached are kept and
/// the new layers appended. Returns the `.sig` manifest digest.
pub fn attach_legacy_signature(
    url: &str,
    repo: &str,
    image_digest: &Digest,
    layers: Vec<LegacyLayer>,
) -> Digest {
    let mut descriptors: Vec<Descriptor> =
        match oci::get_manifest(url, repo, &image_digest.cosign_tag(".sig")) {
            Some(existing) => {
                serde_json::from_slice::<Manifest>(&existing.bytes)
                    .expect("existing .sig manifest")
                    .layers
            }
            None => Vec::new(),
        };
    for layer in &layers {
        let mut d = oci::push_blob(url, repo, &layer.media_type, &layer.payload);
        d.annotations = Some(layer.annotations());
        descriptors.push(d);
    }
    put_legacy_signature_manifest(url, repo, image_digest, descriptors)
}

/// What the in-toto Statement of a cosign v3 image signature holds besides the subject digest.
/// The default is what cosign v3 writes (see `sigstore-rs/bundle_v03.json`): subject
/// `[{"digest":{"sha256":…},"annotations":{}}]` without a name, and no `predicate` field.
#[derive(Debug, Clone, Default)]
pub struct StatementOptions {
    /// A subject `name` (e.g. the repository), which cosign leaves out.
    pub subject_name: Option<String>,
    /// A `predicate` (e.g. `{}`), which cosign leaves out.
    pub predicate: Option<Value>,
    /// Predicate type; default [`COSIGN_SIGN_PREDICATE_TYPE`].
    pub predicate_type: Option<String>,
}

/// The in-toto Statement v1 bytes cosign v3 signs for an image digest.
pub fn cosign_statement(image_digest: &Digest, opts: &StatementOptions) -> Vec<u8> {
    // Built by hand to keep cosign's field order: _type, subject, predicateType, predicate.
    let mut subject = String::from("{");
    if let Some(name) = &opts.subject_name {
        subject.push_str(&format!(
            r#""name":{},"#,
            serde_json::to_string(name).expect("json")
        ));
    }
    subject.push_str(&format!(
        r#""digest":{{"sha256":"{}"}},"annotations":{{}}}}"#,
        image_digest.hex()
    ));
    let predicate_type = opts
        .predicate_type
        .as_deref()
        .unwrap_or(COSIGN_SIGN_PREDICATE_TYPE);
    let mut s = format!(
        r#"{{"_type":"https://in-toto.io/Statement/v1","subject":[{subject}],"predicateType":{}"#,
        serde_json::to_string(predicate_type).expect("json")
    );
    if let Some(p) = &opts.predicate {
        s.push_str(&format!(
            r#","predicate":{}"#,
            serde_json::to_string(p).expect("json")
        ));
    }
    s.push('}');
    s.into_bytes()
}

/// DSSE pre-authentication encoding: `DSSEv1 <len(type)> <type> <len(body)> <body>`.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {} {} ",
        payload_type.len(),
        payload_type,
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

/// A DSSE envelope (`{payload, payloadType, signatures:[{sig}]}`, protobuf-JSON field names) with
/// `key`'s signature over PAE(payload_type, payload).
pub fn dsse_envelope(key: &SigningKey, payload_type: &str, payload: &[u8]) -> Value {
    let signature = key.sign(&pae(payload_type, payload));
    json!({
        "payload": b64(payload),
        "payloadType": payload_type,
        "signatures": [{"sig": b64(signature)}],
    })
}

/// Where and when a bundle's signature was (pretend-)logged.
#[derive(Clone, Copy)]
pub struct TlogParams<'a> {
    pub log: &'a TransparencyLog,
    /// Unix seconds.
    pub integrated_time: i64,
    pub log_index: u64,
}

/// How a bundle names its signer.
pub enum VerificationMaterial<'a> {
    /// `publicKey.hint` = base64(sha256(SPKI)) of this key.
    PublicKey(&'a SigningKey),
    /// `certificate.rawBytes` = this leaf certificate (PEM; its first block is used).
    Certificate(&'a str),
}

/// A Sigstore bundle v0.3 with a DSSE envelope over `statement` (an in-toto Statement) signed by
/// `key`; with a `tlogEntries` entry of kind `dsse` 0.0.1 (SET, inclusion proof, checkpoint) if
/// `tlog` is given. Field names and shapes follow `sigstore-rs/bundle_v03.json`.
pub fn dsse_bundle_v03(
    key: &SigningKey,
    material: VerificationMaterial<'_>,
    statement: &[u8],
    tlog: Option<TlogParams<'_>>,
) -> String {
    let envelope = dsse_envelope(key, IN_TOTO_PAYLOAD_TYPE, statement);
    let (mut vm, verifier_pem) = match material {
        VerificationMaterial::PublicKey(k) => {
            (json!({"publicKey": {"hint": k.key_hint()}}), k.public_pem())
        }
        VerificationMaterial::Certificate(pem) => {
            let der = pem_decode_all(pem)
                .into_iter()
                .next()
                .expect("certificate PEM");
            (
                json!({"certificate": {"rawBytes": b64(&der)}}),
                pem_encode("CERTIFICATE", &der),
            )
        }
    };
    if let Some(t) = tlog {
        let body = super::private_sigstore::dsse_body(&envelope, &[verifier_pem.as_str()]);
        vm["tlogEntries"] =
            json!([t
                .log
                .tlog_entry(&body, "dsse", t.integrated_time, t.log_index)]);
    }
    serde_json::to_string(&json!({
        "mediaType": BUNDLE_V03_MEDIA_TYPE,
        "verificationMaterial": vm,
        "dsseEnvelope": envelope,
    }))
    .expect("bundle json")
}

/// What `cosign sign --key` (v3, new bundle format) makes for an image: a v0.3 bundle whose DSSE
/// envelope holds the cosign-sign in-toto Statement for `image_digest`, `publicKey.hint` naming
/// `key`, and a `dsse` tlog entry if `tlog` is given (`--tlog-upload=false` otherwise).
pub fn key_bundle_v03(
    key: &SigningKey,
    image_digest: &Digest,
    statement: &StatementOptions,
    tlog: Option<TlogParams<'_>>,
) -> String {
    dsse_bundle_v03(
        key,
        VerificationMaterial::PublicKey(key),
        &cosign_statement(image_digest, statement),
        tlog,
    )
}

/// The referrers-tag-schema tag of a subject: `sha256-<hex>`.
pub fn referrers_tag(subject: &Digest) -> String {
    subject.cosign_tag("")
}

/// Attaches a Sigstore bundle to `image_digest` as cosign v3 does on a registry without the
/// referrers API: pushes the bundle blob, the empty config `{}`, the referrer manifest (OCI image
/// manifest, `artifactType` bundle v0.3, one bundle layer titled `sha256-<hex>.sigstore.json`,
/// `subject` = the image's descriptor, the spec's `dev.sigstore.bundle.*` annotations), then
/// (re)writes the `sha256-<hex>` OCI index listing it, keeping referrers already listed.
/// Returns the referrer manifest digest.
pub fn attach_bundle_via_tag_fallback(
    url: &str,
    repo: &str,
    image_digest: &Digest,
    bundle_json: &str,
) -> Digest {
    let image = oci::get_manifest(url, repo, image_digest.as_str())
        .unwrap_or_else(|| panic!("{repo}@{image_digest} is not in the registry"));
    let image_media_type = image.media_type.split(';').next().unwrap_or_default();
    let subject = Descriptor::of(image_media_type, &image.bytes);

    let mut layer = oci::push_blob(url, repo, BUNDLE_V03_MEDIA_TYPE, bundle_json.as_bytes());
    layer.annotations = Some(BTreeMap::from([(
        "org.opencontainers.image.title".to_string(),
        format!("{}.sigstore.json", layer.digest.cosign_tag("")),
    )]));
    let config = oci::push_blob(url, repo, oci::OCI_EMPTY, b"{}");

    let mut annotations = BTreeMap::new();
    let parsed: Value = serde_json::from_str(bundle_json).unwrap_or(Value::Null);
    if let Some(env) = parsed.get("dsseEnvelope") {
        annotations.insert(
            "dev.sigstore.bundle.content".to_string(),
            "dsse-envelope".to_string(),
        );
        let statement: Option<Value> = env
            .get("payload")
            .and_then(Value::as_str)
            .and_then(|p| B64.decode(p).ok())
            .and_then(|p| serde_json::from_slice(&p).ok());
        if let Some(pt) = statement
            .as_ref()
            .and_then(|s| s.get("predicateType"))
            .and_then(Value::as_str)
        {
            annotations.insert(
                "dev.sigstore.bundle.predicateType".to_string(),
                pt.to_string(),
            );
        }
    } else if parsed.get("messageSignature").is_some() {
        annotations.insert(
            "dev.sigstore.bundle.content".to_string(),
            "message-signature".to_string(),
        );
    }
    let created = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .expect("time")
        .format(&time::format_description::well_known::Rfc3339)
        .expect("rfc3339");
    annotations.insert("org.opencontainers.image.created".to_string(), created);

    let manifest = Manifest {
        schema_version: 2,
        media_type: Some(oci::OCI_MANIFEST.to_string()),
        artifact_type: Some(BUNDLE_V03_MEDIA_TYPE.to_string()),
        config,
        layers: vec![layer],
        subject: Some(subject),
        annotations: Some(annotations.clone()),
    };
    let manifest_bytes = manifest.to_bytes();
    let referrer = oci::push_manifest(
        url,
        repo,
        &Digest::of(&manifest_bytes).to_string(),
        oci::OCI_MANIFEST,
        &manifest_bytes,
    );

    let mut entry = Descriptor::of(oci::OCI_MANIFEST, &manifest_bytes);
    entry.artifact_type = Some(BUNDLE_V03_MEDIA_TYPE.to_string());
    entry.annotations = Some(annotations);
    let tag = referrers_tag(image_digest);
    let mut index = match oci::get_manifest(url, repo, &tag) {
        Some(existing) => {
            serde_json::from_slice::<Index>(&existing.bytes).expect("referrers index")
        }
        None => Index::oci(Vec::new()),
    };
    index.manifests.retain(|d| d.digest != referrer);
    index.manifests.push(entry);
    oci::push_manifest(url, repo, &tag, oci::OCI_INDEX, &index.to_bytes());
    referrer
}
