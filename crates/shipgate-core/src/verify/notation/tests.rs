//! The verification steps, on envelopes built as structs with chains made by rcgen (the
//! signature itself is checked by the envelope parser's tests and the vectors).

use std::collections::BTreeMap;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};

use super::envelope::{Envelope, SignatureAlgorithm, SigningScheme};
use super::*;
use crate::verify::RejectionKind;

/// 2026-01-01T00:00:00Z.
pub(super) const NOW: i64 = 1_767_225_600;
pub(super) const DIGEST: &str =
    "sha256:b8479de3f88fb259a0a9ea82a5b2a052a1ef3c4ebbcfc61482d5ae4c831f8af9";
pub(super) const TSP: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/data/vectors/notation/tspclient-go/testdata"
);

pub(super) fn target() -> Target {
    Target {
        media_type: "application/vnd.oci.image.manifest.v1+json".into(),
        digest: DIGEST.into(),
        size: 517,
    }
}

fn dn(cn: &str) -> DistinguishedName {
    let mut d = DistinguishedName::new();
    d.push(DnType::CountryName, "US");
    d.push(DnType::StateOrProvinceName, "WA");
    d.push(DnType::OrganizationName, "Acme");
    d.push(DnType::CommonName, cn);
    d
}

/// A root CA and a code-signing leaf under it, valid `from..to` (years).
pub(super) struct Pki {
    pub root: Vec<u8>,
    pub leaf: Vec<u8>,
}

pub(super) fn pki_with(from: i32, to: i32, leaf_tweak: impl FnOnce(&mut CertificateParams)) -> Pki {
    let root_key = KeyPair::generate().unwrap();
    let mut root = CertificateParams::new(vec![]).unwrap();
    root.distinguished_name = dn("Root");
    root.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    root.key_usages = vec![KeyUsagePurpose::KeyCertSign];
    root.not_before = rcgen::date_time_ymd(from, 1, 1);
    root.not_after = rcgen::date_time_ymd(to, 1, 1);
    let root_der = root.self_signed(&root_key).unwrap().der().to_vec();
    let leaf_key = KeyPair::generate().unwrap();
    let mut leaf = CertificateParams::new(vec![]).unwrap();
    leaf.distinguished_name = dn("signer");
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::CodeSigning];
    leaf.not_before = rcgen::date_time_ymd(from, 1, 1);
    leaf.not_after = rcgen::date_time_ymd(to, 1, 1);
    leaf_tweak(&mut leaf);
    let issuer = Issuer::from_params(&root, &root_key);
    let leaf_der = leaf.signed_by(&leaf_key, &issuer).unwrap().der().to_vec();
    Pki {
        root: root_der,
        leaf: leaf_der,
    }
}

pub(super) fn pki() -> Pki {
    pki_with(2020, 2030, |_| {})
}

pub(super) fn payload(digest: &str, media_type: &str, size: u64) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "targetArtifact": {"mediaType": media_type, "digest": digest, "size": size,
                           "annotations": {"a": "b"}}
    }))
    .unwrap()
}

/// A `notary.x509` envelope over [`target`] whose "signature" is the bytes the tspclient-go
/// tokens timestamp.
pub(super) fn envelope(pki: &Pki) -> Envelope {
    let t = target();
    Envelope {
        payload: payload(&t.digest, &t.media_type, t.size),
        signed_bytes: Vec::new(),
        signature: b"notation".to_vec(),
        alg: SignatureAlgorithm::Es256,
        cert_chain: vec![pki.leaf.clone(), pki.root.clone()],
        signing_scheme: SigningScheme::X509,
        // 2021-09-17T14:00:00Z, before the tspclient-go tokens' genTime.
        signing_time: Some(1_631_887_200),
        authentic_signing_time: None,
        expiry: None,
        verification_plugin: None,
        verification_plugin_min_version: None,
        extended: Vec::new(),
        signing_agent: None,
        timestamp_token: None,
    }
}

pub(super) fn policy(
    level: &str,
    overrides: &[(&str, &str)],
    stores: &[(StoreKind, &str)],
    ids: Vec<TrustedIdentity>,
) -> TrustPolicy {
    let o: BTreeMap<String, String> = overrides
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    TrustPolicy {
        name: "test".into(),
        registry_scopes: vec!["*".into()],
        level: VerificationLevel::new(level, &o).unwrap(),
        trust_stores: stores.iter().map(|(k, n)| (*k, n.to_string())).collect(),
        trusted_identities: ids,
    }
}

pub(super) fn strict_ca() -> TrustPolicy {
    policy(
        "strict",
        &[],
        &[(StoreKind::Ca, "acme")],
        vec![TrustedIdentity::Any],
    )
}

pub(super) fn stores_with(kind: StoreKind, name: &str, der: &[u8]) -> TrustStores {
    let mut s = TrustStores::new();
    s.add_certificates(kind, name, der).unwrap();
    s
}

/// Judges `env` as `verify` does after the signature check.
pub(super) fn judge(
    env: &Envelope,
    policy: &TrustPolicy,
    stores: &TrustStores,
    now: i64,
    revocation: &RevocationStatus,
) -> Result<NotationVerified, Rejection> {
    let chain = integrity::chain(env).map_err(Rejection::new)?;
    let t = target();
    let cx = steps::Context {
        target: &t,
        policy,
        stores,
        now,
        revocation,
    };
    steps::judge(env, chain, &cx)
}

pub(super) fn fails(r: Result<NotationVerified, Rejection>, kind: RejectionKind, needle: &str) {
    match r {
        Ok(v) => panic!("accepted {v:?}, expected {needle:?}"),
        Err(e) => {
            assert!(e.reason.contains(needle), "{:?} lacks {needle:?}", e.reason);
            assert_eq!(e.kind, kind, "{}", e.reason);
        }
    }
}

pub(super) const NC: RevocationStatus = RevocationStatus::NotChecked;
use RejectionKind::{Identity, Invalid};

#[test]
fn a_valid_chain_in_a_ca_store_verifies() {
    let p = pki();
    let env = envelope(&p);
    let stores = stores_with(StoreKind::Ca, "acme", &p.root);
    let v = judge(&env, &strict_ca(), &stores, NOW, &NC).unwrap();
    assert_eq!(v.signer, "CN=signer,O=Acme,ST=WA,C=US");
    assert_eq!(v.signing_scheme, "notary.x509");
    assert_eq!((v.signing_time, v.timestamp), (Some(1_631_887_200), None));
    assert!(v.logged.is_empty());
    // A leaf that is neither a CA nor self-signed cannot be pinned in a store (notation-go
    // refuses such a store).
    let mut pinned = TrustStores::new();
    let e = pinned
        .add_certificates(StoreKind::Ca, "acme", &p.leaf)
        .unwrap_err();
    assert!(
        e.contains("neither a CA certificate nor a self-signed"),
        "{e}"
    );
}

#[test]
fn the_payload_must_name_this_artifact() {
    let p = pki();
    let stores = stores_with(StoreKind::Ca, "acme", &p.root);
    let t = target();
    for (payload, needle) in [
        (
            payload("sha256:00", &t.media_type, t.size),
            "the signature is for sha256:00, not this image",
        ),
        (
            payload(
                &t.digest,
                "application/vnd.docker.distribution.manifest.v2+json",
                t.size,
            ),
            "as \"application/vnd.docker",
        ),
        (
            payload(&t.digest, &t.media_type, 518),
            "of 518 bytes, not 517",
        ),
        (
            b"{\"targetArtifact\": 1}".to_vec(),
            "not a Notary Project payload",
        ),
        (b"{}".to_vec(), "no targetArtifact"),
        (b"tampered".to_vec(), "not a Notary Project payload"),
    ] {
        let mut env = envelope(&p);
        env.payload = payload;
        fails(
            judge(&env, &strict_ca(), &stores, NOW, &NC),
            Invalid,
            needle,
        );
    }
}

#[test]
fn untrusted_stores_fail_authenticity_unless_logged() {
    let p = pki();
    let other = pki();
    let env = envelope(&p);
    let stores = stores_with(StoreKind::Ca, "acme", &other.root);
    fails(
        judge(&env, &strict_ca(), &stores, NOW, &NC),
        Invalid,
        "authenticity failed: the signature's certificate chain",
    );
    // The store must be configured, and of the scheme's kind.
    fails(
        judge(&env, &strict_ca(), &TrustStores::new(), NOW, &NC),
        Invalid,
        "is not configured",
    );
    let sa = stores_with(StoreKind::SigningAuthority, "acme", &p.root);
    let sa_policy = policy(
        "strict",
        &[],
        &[(StoreKind::SigningAuthority, "acme")],
        vec![TrustedIdentity::Any],
    );
    fails(
        judge(&env, &sa_policy, &sa, NOW, &NC),
        Invalid,
        "names no ca: trust store",
    );
    // audit logs it; so does an authenticity override.
    let audit = policy(
        "audit",
        &[],
        &[(StoreKind::Ca, "acme")],
        vec![TrustedIdentity::Any],
    );
    let v = judge(&env, &audit, &stores, NOW, &NC).unwrap();
    assert!(
        v.logged.iter().any(|l| l.starts_with("authenticity: ")),
        "{:?}",
        v.logged
    );
    let over = policy(
        "strict",
        &[("authenticity", "log")],
        &[(StoreKind::Ca, "acme")],
        vec![TrustedIdentity::Any],
    );
    assert_eq!(
        judge(&env, &over, &stores, NOW, &NC).unwrap().logged.len(),
        1
    );
}

#[test]
fn a_wrong_identity_is_an_identity_rejection() {
    let p = pki();
    let env = envelope(&p);
    let stores = stores_with(StoreKind::Ca, "acme", &p.root);
    let id = |s: &str| identity::parse_identity("t", s).unwrap();
    let pol = |ids| policy("strict", &[], &[(StoreKind::Ca, "acme")], ids);
    fails(
        judge(
            &env,
            &pol(vec![id("x509.subject: C=US, ST=WA, O=Other")]),
            &stores,
            NOW,
            &NC,
        ),
        Identity,
        "matches none of the trusted x509.subject identities",
    );
    fails(
        judge(
            &env,
            &pol(vec![id("arn:aws:signer:us-east-1:1:/signing-profiles/p")]),
            &stores,
            NOW,
            &NC,
        ),
        Identity,
        "names no x509.subject identity",
    );
    // A subset of the subject matches, attributes in any order.
    let ok = pol(vec![
        id("x509.subject: O=Acme, ST=WA, C=US"),
        id("x509.subject: C=US, ST=WA, O=Other"),
    ]);
    assert!(judge(&env, &ok, &stores, NOW, &NC).is_ok());
    // A leaf subject without ST can match no x509.subject identity.
    let no_st = pki_with(2020, 2030, |l| {
        let mut d = DistinguishedName::new();
        d.push(DnType::CountryName, "US");
        d.push(DnType::OrganizationName, "Acme");
        l.distinguished_name = d;
    });
    let stores = stores_with(StoreKind::Ca, "acme", &no_st.root);
    fails(
        judge(
            &envelope(&no_st),
            &pol(vec![id("x509.subject: C=US, ST=WA, O=Acme")]),
            &stores,
            NOW,
            &NC,
        ),
        Identity,
        "lacks ST",
    );
}

#[test]
fn an_expired_chain_without_a_timestamp_fails_unless_logged() {
    let p = pki_with(2020, 2022, |_| {});
    let env = envelope(&p);
    let stores = stores_with(StoreKind::Ca, "acme", &p.root);
    fails(
        judge(&env, &strict_ca(), &stores, NOW, &NC),
        Invalid,
        "authenticTimestamp failed: certificate CN=signer",
    );
    let permissive = policy(
        "permissive",
        &[],
        &[(StoreKind::Ca, "acme")],
        vec![TrustedIdentity::Any],
    );
    let v = judge(&env, &permissive, &stores, NOW, &NC).unwrap();
    assert!(
        v.logged[0].starts_with("authenticTimestamp: "),
        "{:?}",
        v.logged
    );
    // Not yet valid fails the same way.
    let future = pki_with(2027, 2030, |_| {});
    let stores = stores_with(StoreKind::Ca, "acme", &future.root);
    fails(
        judge(&envelope(&future), &strict_ca(), &stores, NOW, &NC),
        Invalid,
        "not now",
    );
}
