//! A private Sigstore instance made inside the test: a Fulcio-like CA and a Rekor-like log key,
//! and the `trusted_root.json` naming both. With it, keyless verification is tested end to end
//! with identities and issuers the test chooses, without network and without the public-good
//! instance (whose certificates expire after ten minutes and whose identities we do not own).
//!
//! Nothing here runs a server: certificates are issued and log entries "integrated" by signing
//! exactly what Fulcio and Rekor would have returned (SAN + issuer extensions; SET over the
//! canonical entry; an RFC 6962 inclusion proof and a signed checkpoint).

use aws_lc_rs::signature::{self as sig};
use serde_json::{json, Value};
use shipgate::reference::Digest;
use time::OffsetDateTime;

use super::cosign::{
    self, b64, pem_encode, sha256, LegacyLayer, SigningKey, StatementOptions, TlogParams,
    VerificationMaterial,
};

/// Fulcio's OIDC issuer extension (v2): DER UTF8String of the issuer URL.
pub const OID_FULCIO_ISSUER_V2: &[u64] = &[1, 3, 6, 1, 4, 1, 57264, 1, 8];
/// Fulcio's legacy OIDC issuer extension (v1): the raw bytes of the issuer URL.
pub const OID_FULCIO_ISSUER_V1: &[u64] = &[1, 3, 6, 1, 4, 1, 57264, 1, 1];
/// Fulcio's extensions for the OIDC token's claims (`docs/oid-info.md`), by shipgate's policy
/// name: `1.3.6.1.4.1.57264.1.9` to `.22`.
pub const FULCIO_CLAIM_OIDS: [(&str, &[u64]); 14] = [
    ("buildSignerUri", &[1, 3, 6, 1, 4, 1, 57264, 1, 9]),
    ("buildSignerDigest", &[1, 3, 6, 1, 4, 1, 57264, 1, 10]),
    ("runnerEnvironment", &[1, 3, 6, 1, 4, 1, 57264, 1, 11]),
    ("sourceRepositoryUri", &[1, 3, 6, 1, 4, 1, 57264, 1, 12]),
    ("sourceRepositoryDigest", &[1, 3, 6, 1, 4, 1, 57264, 1, 13]),
    ("sourceRepositoryRef", &[1, 3, 6, 1, 4, 1, 57264, 1, 14]),
    (
        "sourceRepositoryIdentifier",
        &[1, 3, 6, 1, 4, 1, 57264, 1, 15],
    ),
    (
        "sourceRepositoryOwnerUri",
        &[1, 3, 6, 1, 4, 1, 57264, 1, 16],
    ),
    (
        "sourceRepositoryOwnerIdentifier",
        &[1, 3, 6, 1, 4, 1, 57264, 1, 17],
    ),
    ("buildConfigUri", &[1, 3, 6, 1, 4, 1, 57264, 1, 18]),
    ("buildConfigDigest", &[1, 3, 6, 1, 4, 1, 57264, 1, 19]),
    ("buildTrigger", &[1, 3, 6, 1, 4, 1, 57264, 1, 20]),
    ("runInvocationUri", &[1, 3, 6, 1, 4, 1, 57264, 1, 21]),
    (
        "sourceRepositoryVisibilityAtSigning",
        &[1, 3, 6, 1, 4, 1, 57264, 1, 22],
    ),
];

/// `(oid, value)` extensions for `claims` given by policy name (`("sourceRepositoryRef",
/// "refs/heads/main")`), for [`FulcioCa::issue_leaf_with`].
pub fn github_claims<'a>(claims: &[(&str, &'a str)]) -> Vec<(&'static [u64], &'a str)> {
    claims
        .iter()
        .map(|(name, value)| {
            let (_, oid) = FULCIO_CLAIM_OIDS
                .iter()
                .find(|(n, _)| n == name)
                .unwrap_or_else(|| panic!("no Fulcio claim {name}"));
            (*oid, *value)
        })
        .collect()
}

/// The trusted root media type.
pub const TRUSTED_ROOT_MEDIA_TYPE: &str =
    "application/vnd.dev.sigstore.trustedroot+json;version=0.1";

/// The start of the validity of the test CA and log (well before any time a test uses).
pub fn epoch_start() -> OffsetDateTime {
    time::macros::datetime!(2020-01-01 00:00:00 UTC)
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .expect("rfc3339")
}

/// DER encoding of a UTF8String.
fn der_utf8_string(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = vec![0x0c];
    match b.len() {
        n if n < 0x80 => out.push(n as u8),
        n if n < 0x100 => out.extend_from_slice(&[0x81, n as u8]),
        n => out.extend_from_slice(&[0x82, (n >> 8) as u8, n as u8]),
    }
    out.extend_from_slice(b);
    out
}

fn rcgen_key(key: &SigningKey) -> rcgen::KeyPair {
    rcgen::KeyPair::try_from(key.pkcs8_der()).expect("rcgen key from PKCS#8")
}

/// A Fulcio-like certificate authority: one self-signed ECDSA P-256 root that issues short-lived
/// code-signing leaf certificates binding an identity (SAN URI or email) and an OIDC issuer.
pub struct FulcioCa {
    pub key: SigningKey,
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
    pub root_der: Vec<u8>,
    pub root_pem: String,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    /// `uri` in the trusted root.
    pub uri: String,
}

impl FulcioCa {
    /// A new root CA `O=shipgate-test, CN=shipgate-test-fulcio`, valid 2020–2099.
    pub fn new() -> FulcioCa {
        let key = SigningKey::generate_p256();
        let mut params = rcgen::CertificateParams::default();
        let mut dn = rcgen::DistinguishedName::new();
        dn.push(rcgen::DnType::OrganizationName, "shipgate-test");
        dn.push(rcgen::DnType::CommonName, "shipgate-test-fulcio");
        params.distinguished_name = dn;
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(1));
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
        ];
        params.not_before = epoch_start();
        params.not_after = time::macros::datetime!(2099-12-31 23:59:59 UTC);
        params.serial_number = Some(rcgen::SerialNumber::from_slice(&random_serial()));
        let kp = rcgen_key(&key);
        let cert = params.self_signed(&kp).expect("self-signed root");
        let root_der = cert.der().to_vec();
        FulcioCa {
            root_pem: pem_encode("CERTIFICATE", &root_der),
            root_der,
            not_before: params.not_before,
            not_after: params.not_after,
            issuer: rcgen::Issuer::new(params, kp),
            key,
            uri: "https://fulcio.shipgate.test".to_string(),
        }
    }

    /// Issues a leaf certificate for `key` as Fulcio would: empty subject, critical SAN (an email
    /// if `identity` looks like one — has `@` and no `://` — else a URI), key usage
    /// digitalSignature, EKU codeSigning, the OIDC issuer in both Fulcio extensions (1.1 raw and
    /// 1.8 UTF8String), AKI/SKI. Returns the PEM.
    pub fn issue_leaf_for(
        &self,
        key: &SigningKey,
        identity: &str,
        oidc_issuer: &str,
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
    ) -> String {
        self.issue_leaf_with(key, identity, oidc_issuer, not_before, not_after, &[])
    }

    /// [`FulcioCa::issue_leaf_for`] with `extra` extensions `(oid, value)`, each value a DER
    /// UTF8String, as Fulcio adds the OIDC token's claims (see [`github_claims`]).
    pub fn issue_leaf_with(
        &self,
        key: &SigningKey,
        identity: &str,
        oidc_issuer: &str,
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
        extra: &[(&[u64], &str)],
    ) -> String {
        let mut params = rcgen::CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        let ia5 = rcgen::string::Ia5String::try_from(identity.to_string()).expect("ASCII identity");
        params.subject_alt_names = vec![if identity.contains('@') && !identity.contains("://") {
            rcgen::SanType::Rfc822Name(ia5)
        } else {
            rcgen::SanType::URI(ia5)
        }];
        params.is_ca = rcgen::IsCa::NoCa;
        params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::CodeSigning];
        params.use_authority_key_identifier_extension = true;
        params.not_before = not_before;
        params.not_after = not_after;
        params.serial_number = Some(rcgen::SerialNumber::from_slice(&random_serial()));
        params.custom_extensions = vec![
            rcgen::CustomExtension::from_oid_content(
                OID_FULCIO_ISSUER_V1,
                oidc_issuer.as_bytes().to_vec(),
            ),
            rcgen::CustomExtension::from_oid_content(
                OID_FULCIO_ISSUER_V2,
                der_utf8_string(oidc_issuer),
            ),
        ];
        for (oid, value) in extra {
            params
                .custom_extensions
                .push(rcgen::CustomExtension::from_oid_content(
                    oid,
                    der_utf8_string(value),
                ));
        }
        let kp = rcgen_key(key);
        let cert = params.signed_by(&kp, &self.issuer).expect("leaf cert");
        pem_encode("CERTIFICATE", cert.der())
    }

    /// A fresh P-256 key and its leaf certificate (see [`FulcioCa::issue_leaf_for`]).
    pub fn issue_leaf(
        &self,
        identity: &str,
        oidc_issuer: &str,
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
    ) -> (SigningKey, String) {
        let key = SigningKey::generate_p256();
        let pem = self.issue_leaf_for(&key, identity, oidc_issuer, not_before, not_after);
        (key, pem)
    }
}

impl Default for FulcioCa {
    fn default() -> Self {
        Self::new()
    }
}

fn random_serial() -> Vec<u8> {
    let mut s = super::oci::random_bytes(16);
    s[0] &= 0x7f;
    s[0] |= 0x01;
    s
}

/// RFC 6962 leaf hash: SHA-256(0x00 || entry).
pub fn merkle_leaf_hash(entry: &[u8]) -> [u8; 32] {
    let mut v = vec![0u8];
    v.extend_from_slice(entry);
    sha256(&v)
}

/// RFC 6962 interior node hash: SHA-256(0x01 || left || right).
pub fn merkle_node_hash(left: &[u8], right: &[u8]) -> [u8; 32] {
    let mut v = vec![1u8];
    v.extend_from_slice(left);
    v.extend_from_slice(right);
    sha256(&v)
}

/// Runs the RFC 9162 §2.1.3.2 inclusion-proof verification walk from `leaf` at `index` in a tree
/// of `tree_size`, taking sibling hashes from `next_sibling`; returns (root, path used).
/// With random siblings this makes a valid proof for any index and size without a real tree.
pub fn merkle_root_from_path(
    leaf: [u8; 32],
    index: u64,
    tree_size: u64,
    mut next_sibling: impl FnMut() -> [u8; 32],
) -> ([u8; 32], Vec<[u8; 32]>) {
    assert!(index < tree_size);
    let (mut fn_, mut sn) = (index, tree_size - 1);
    let mut r = leaf;
    let mut path = Vec::new();
    while sn != 0 {
        let p = next_sibling();
        path.push(p);
        if fn_ & 1 == 1 || fn_ == sn {
            r = merkle_node_hash(&p, &r);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            r = merkle_node_hash(&r, &p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    (r, path)
}

/// A Rekor-like transparency log: an ECDSA P-256 key that signs SETs and checkpoints.
pub struct TransparencyLog {
    pub key: SigningKey,
    /// Checkpoint origin line, Rekor v1 style `<host> - <tree id>`.
    pub origin: String,
    /// `baseUrl` in the trusted root.
    pub base_url: String,
}

impl Default for TransparencyLog {
    fn default() -> Self {
        Self::new()
    }
}

impl TransparencyLog {
    pub fn new() -> TransparencyLog {
        TransparencyLog {
            key: SigningKey::generate_p256(),
            origin: "rekor.shipgate.test - 1".to_string(),
            base_url: "https://rekor.shipgate.test".to_string(),
        }
    }
    /// DER SPKI of the log key.
    pub fn public_spki_der(&self) -> &[u8] {
        self.key.public_spki_der()
    }
    /// PEM of the log key (what `--rekor-pubkey`-style options take).
    pub fn public_pem(&self) -> String {
        self.key.public_pem()
    }
    /// The log ID: sha256 of the log key's DER SPKI.
    pub fn log_id(&self) -> [u8; 32] {
        sha256(self.key.public_spki_der())
    }
    /// The log ID as lowercase hex (`Payload.logID` of a legacy Rekor bundle).
    pub fn log_id_hex(&self) -> String {
        hex::encode(self.log_id())
    }
    /// The log ID as base64 (`logId.keyId` in bundles and the trusted root).
    pub fn log_id_b64(&self) -> String {
        b64(self.log_id())
    }
    /// The RFC 8785 canonical JSON the SET signs: `{body, integratedTime, logIndex, logID}`.
    pub fn set_payload(&self, body_b64: &str, integrated_time: i64, log_index: u64) -> Vec<u8> {
        serde_json_canonicalizer::to_vec(&json!({
            "body": body_b64,
            "integratedTime": integrated_time,
            "logIndex": log_index,
            "logID": self.log_id_hex(),
        }))
        .expect("canonical json")
    }
    /// The SignedEntryTimestamp (DER ECDSA signature, raw bytes) over [`Self::set_payload`].
    pub fn signed_entry_timestamp(
        &self,
        body_b64: &str,
        integrated_time: i64,
        log_index: u64,
    ) -> Vec<u8> {
        self.key
            .sign(&self.set_payload(body_b64, integrated_time, log_index))
    }
    /// The `dev.sigstore.cosign/bundle` annotation for a legacy signature: a hashedrekord 0.0.1
    /// entry for (`signature_b64` over `payload`, verified by `cert_or_key_pem`) and its SET:
    /// `{"SignedEntryTimestamp":b64,"Payload":{"body":b64,"integratedTime":n,"logIndex":n,"logID":hex}}`.
    pub fn rekor_set(
        &self,
        signature_b64: &str,
        payload: &[u8],
        cert_or_key_pem: &str,
        integrated_time: i64,
        log_index: u64,
    ) -> String {
        let body = hashedrekord_body(signature_b64, payload, cert_or_key_pem);
        let body_b64 = b64(&body);
        let set = self.signed_entry_timestamp(&body_b64, integrated_time, log_index);
        // Field order as cosign serializes its Go struct.
        format!(
            r#"{{"SignedEntryTimestamp":"{}","Payload":{{"body":"{}","integratedTime":{},"logIndex":{},"logID":"{}"}}}}"#,
            b64(set),
            body_b64,
            integrated_time,
            log_index,
            self.log_id_hex()
        )
    }
    /// A signed checkpoint (signed note) for a tree: `origin\nsize\nroot_b64\n\n— origin sig\n`,
    /// the signature being base64(key hint (first 4 bytes of the log ID) || ECDSA signature).
    pub fn checkpoint(&self, tree_size: u64, root: &[u8; 32]) -> String {
        let note = format!("{}\n{}\n{}\n", self.origin, tree_size, b64(root));
        let mut sig = self.log_id()[..4].to_vec();
        sig.extend_from_slice(&self.key.sign(note.as_bytes()));
        format!("{note}\n\u{2014} {} {}\n", self.origin, b64(sig))
    }
    /// A bundle `tlogEntries` item for `canonical_body` (kind `hashedrekord` or `dsse`, 0.0.1):
    /// logIndex, logId, kindVersion, integratedTime, inclusionPromise (SET), inclusionProof (in a
    /// tree of `log_index + 6` leaves, random siblings, signed checkpoint), canonicalizedBody.
    pub fn tlog_entry(
        &self,
        canonical_body: &[u8],
        kind: &str,
        integrated_time: i64,
        log_index: u64,
    ) -> Value {
        let body_b64 = b64(canonical_body);
        let set = self.signed_entry_timestamp(&body_b64, integrated_time, log_index);
        let tree_size = log_index + 6;
        let (root, path) = merkle_root_from_path(
            merkle_leaf_hash(canonical_body),
            log_index,
            tree_size,
            || {
                let mut h = [0u8; 32];
                aws_lc_rs::rand::fill(&mut h).expect("rand");
                h
            },
        );
        json!({
            "logIndex": log_index.to_string(),
            "logId": {"keyId": self.log_id_b64()},
            "kindVersion": {"kind": kind, "version": "0.0.1"},
            "integratedTime": integrated_time.to_string(),
            "inclusionPromise": {"signedEntryTimestamp": b64(set)},
            "inclusionProof": {
                "logIndex": log_index.to_string(),
                "rootHash": b64(root),
                "treeSize": tree_size.to_string(),
                "hashes": path.iter().map(b64).collect::<Vec<_>>(),
                "checkpoint": {"envelope": self.checkpoint(tree_size, &root)},
            },
            "canonicalizedBody": body_b64,
        })
    }
}

/// The canonical hashedrekord 0.0.1 body Rekor stores for a signature over `payload`:
/// `{"apiVersion":"0.0.1","kind":"hashedrekord","spec":{"data":{"hash":{"algorithm":"sha256","value":hex}},"signature":{"content":sig_b64,"publicKey":{"content":b64(PEM)}}}}`.
pub fn hashedrekord_body(signature_b64: &str, payload: &[u8], cert_or_key_pem: &str) -> Vec<u8> {
    serde_json_canonicalizer::to_vec(&json!({
        "apiVersion": "0.0.1",
        "kind": "hashedrekord",
        "spec": {
            "data": {"hash": {"algorithm": "sha256", "value": hex::encode(sha256(payload))}},
            "signature": {
                "content": signature_b64,
                "publicKey": {"content": b64(cert_or_key_pem)},
            },
        },
    }))
    .expect("canonical json")
}

/// The canonical dsse 0.0.1 body Rekor stores for a DSSE envelope: `envelopeHash` (sha256 of the
/// envelope's compact JSON), `payloadHash` (sha256 of the decoded payload), and `signatures`
/// pairing each envelope signature with a verifier (base64 of its PEM certificate or key).
pub fn dsse_body(envelope: &Value, verifier_pems: &[&str]) -> Vec<u8> {
    use base64::Engine as _;
    let payload = base64::engine::general_purpose::STANDARD
        .decode(envelope["payload"].as_str().expect("payload"))
        .expect("payload base64");
    let envelope_bytes = serde_json::to_vec(envelope).expect("envelope json");
    let sigs = envelope["signatures"].as_array().expect("signatures");
    let signatures: Vec<Value> = sigs
        .iter()
        .zip(verifier_pems)
        .map(|(s, pem)| json!({"signature": s["sig"], "verifier": b64(pem)}))
        .collect();
    serde_json_canonicalizer::to_vec(&json!({
        "apiVersion": "0.0.1",
        "kind": "dsse",
        "spec": {
            "envelopeHash": {"algorithm": "sha256", "value": hex::encode(sha256(&envelope_bytes))},
            "payloadHash": {"algorithm": "sha256", "value": hex::encode(sha256(&payload))},
            "signatures": signatures,
        },
    }))
    .expect("canonical json")
}

/// A keyless signer: a leaf key and its certificate, issued by a [`PrivateSigstore`].
pub struct KeylessSigner {
    pub key: SigningKey,
    pub cert_pem: String,
}

/// The whole private instance: CA + log, and the trusted root that names them.
pub struct PrivateSigstore {
    pub ca: FulcioCa,
    pub log: TransparencyLog,
}

impl Default for PrivateSigstore {
    fn default() -> Self {
        Self::new()
    }
}

impl PrivateSigstore {
    pub fn new() -> PrivateSigstore {
        PrivateSigstore {
            ca: FulcioCa::new(),
            log: TransparencyLog::new(),
        }
    }

    /// A fresh P-256 leaf key and certificate for `identity` (SAN URI or email) from `oidc_issuer`.
    pub fn issue_leaf(
        &self,
        identity: &str,
        oidc_issuer: &str,
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
    ) -> (SigningKey, String) {
        self.ca
            .issue_leaf(identity, oidc_issuer, not_before, not_after)
    }

    /// A signer whose certificate is valid for ten minutes from `signed_at` (like Fulcio's).
    pub fn keyless_signer(
        &self,
        identity: &str,
        oidc_issuer: &str,
        signed_at: OffsetDateTime,
    ) -> KeylessSigner {
        let (key, cert_pem) = self.issue_leaf(
            identity,
            oidc_issuer,
            signed_at,
            signed_at + time::Duration::minutes(10),
        );
        KeylessSigner { key, cert_pem }
    }

    /// [`PrivateSigstore::keyless_signer`] whose certificate also carries `extra` extensions
    /// (DER UTF8Strings; see [`github_claims`]).
    pub fn keyless_signer_with(
        &self,
        identity: &str,
        oidc_issuer: &str,
        signed_at: OffsetDateTime,
        extra: &[(&[u64], &str)],
    ) -> KeylessSigner {
        let key = SigningKey::generate_p256();
        let cert_pem = self.ca.issue_leaf_with(
            &key,
            identity,
            oidc_issuer,
            signed_at,
            signed_at + time::Duration::minutes(10),
            extra,
        );
        KeylessSigner { key, cert_pem }
    }

    /// See [`TransparencyLog::rekor_set`].
    pub fn rekor_set(
        &self,
        signature_b64: &str,
        payload: &[u8],
        cert_or_key_pem: &str,
        integrated_time: i64,
        log_index: u64,
    ) -> String {
        self.log.rekor_set(
            signature_b64,
            payload,
            cert_or_key_pem,
            integrated_time,
            log_index,
        )
    }

    /// What keyless `cosign sign` (legacy format) attaches: the simple-signing payload signed by
    /// the leaf key, the leaf certificate, the chain (the root), and the Rekor bundle logged at
    /// `integrated_time` (Unix seconds; should lie inside the certificate's validity).
    pub fn keyless_legacy_layer(
        &self,
        signer: &KeylessSigner,
        docker_reference: &str,
        digest: &Digest,
        integrated_time: i64,
        log_index: u64,
    ) -> LegacyLayer {
        let layer = LegacyLayer::signed(&signer.key, docker_reference, digest);
        let bundle = self.rekor_set(
            &layer.signature_b64(),
            &layer.payload,
            &signer.cert_pem,
            integrated_time,
            log_index,
        );
        layer
            .with_certificate(signer.cert_pem.clone())
            .with_chain(self.ca.root_pem.clone())
            .with_bundle(bundle)
    }

    /// What keyless `cosign sign` (v3, new bundle format) makes: a v0.3 bundle with the leaf
    /// certificate, a DSSE envelope over the cosign-sign statement for `image_digest`, and a
    /// `dsse` tlog entry integrated at `integrated_time`.
    pub fn keyless_bundle_v03(
        &self,
        signer: &KeylessSigner,
        image_digest: &Digest,
        statement: &StatementOptions,
        integrated_time: i64,
        log_index: u64,
    ) -> String {
        cosign::dsse_bundle_v03(
            &signer.key,
            VerificationMaterial::Certificate(&signer.cert_pem),
            &cosign::cosign_statement(image_digest, statement),
            Some(TlogParams {
                log: &self.log,
                integrated_time,
                log_index,
            }),
        )
    }

    /// A `trusted_root.json` naming this CA (`certificateAuthorities`) and this log (`tlogs`,
    /// `PKIX_ECDSA_P256_SHA_256`), with empty `ctlogs` and `timestampAuthorities`.
    pub fn trusted_root_json(&self) -> String {
        let root = json!({
            "mediaType": TRUSTED_ROOT_MEDIA_TYPE,
            "tlogs": [{
                "baseUrl": self.log.base_url,
                "hashAlgorithm": "SHA2_256",
                "publicKey": {
                    "rawBytes": b64(self.log.public_spki_der()),
                    "keyDetails": self.log.key.algorithm.key_details(),
                    "validFor": {"start": rfc3339(epoch_start())},
                },
                "logId": {"keyId": self.log.log_id_b64()},
            }],
            "certificateAuthorities": [{
                "subject": {"organization": "shipgate-test", "commonName": "shipgate-test-fulcio"},
                "uri": self.ca.uri,
                "certChain": {"certificates": [{"rawBytes": b64(&self.ca.root_der)}]},
                "validFor": {"start": rfc3339(self.ca.not_before)},
            }],
            "ctlogs": [],
            "timestampAuthorities": [],
        });
        serde_json::to_string_pretty(&root).expect("trusted root json")
    }
}

/// Verifies a DER ECDSA P-256 signature against a DER SPKI (for self-tests).
pub fn verify_p256_spki(spki: &[u8], msg: &[u8], signature: &[u8]) -> bool {
    let raw = cosign::spki_raw_public_key(spki);
    sig::UnparsedPublicKey::new(&sig::ECDSA_P256_SHA256_ASN1, raw)
        .verify(msg, signature)
        .is_ok()
}
