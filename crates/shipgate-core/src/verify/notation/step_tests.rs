//! The authentic-timestamp, expiry, revocation and attribute steps, and chain rules (integrity).

use rcgen::{BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, KeyUsagePurpose};

use super::envelope::{ExtendedAttribute, SignatureAlgorithm};
use super::tests::*;
use super::*;
use crate::verify::RejectionKind::Invalid;

fn tsa_policy() -> TrustPolicy {
    policy(
        "strict",
        &[],
        &[(StoreKind::Ca, "acme"), (StoreKind::Tsa, "gs")],
        vec![TrustedIdentity::Any],
    )
}

fn tsa_stores(p: &Pki, tsa_root: &[u8]) -> TrustStores {
    let mut s = stores_with(StoreKind::Ca, "acme", &p.root);
    s.add_certificates(StoreKind::Tsa, "gs", tsa_root).unwrap();
    s
}

fn globalsign_r3() -> Vec<u8> {
    std::fs::read(format!("{TSP}/GlobalSignRootCA.crt")).unwrap()
}

fn token() -> Vec<u8> {
    std::fs::read(format!("{TSP}/TimeStampToken.p7s")).unwrap()
}

#[test]
fn a_timestamp_by_a_trusted_tsa_proves_the_signing_time() {
    // The chain expired in 2022, but the token (2021-09-17T14:09:10Z ± 1 s) is inside it.
    let p = pki_with(2020, 2022, |_| {});
    let mut env = envelope(&p);
    env.timestamp_token = Some(token());
    let v = judge(
        &env,
        &tsa_policy(),
        &tsa_stores(&p, &globalsign_r3()),
        NOW,
        &NC,
    )
    .unwrap();
    assert_eq!(v.timestamp, Some(1_631_887_750));
    // A tsa: store makes the timestamp required, even for a chain valid now.
    let valid = pki();
    fails(
        judge(
            &envelope(&valid),
            &tsa_policy(),
            &tsa_stores(&valid, &globalsign_r3()),
            NOW,
            &NC,
        ),
        Invalid,
        "no timestamp countersignature",
    );
}

#[test]
fn timestamps_by_untrusted_tsas_or_outside_the_chain_fail() {
    let p = pki_with(2020, 2022, |_| {});
    let mut env = envelope(&p);
    env.timestamp_token = Some(token());
    let other_root = pki().root;
    fails(
        judge(&env, &tsa_policy(), &tsa_stores(&p, &other_root), NOW, &NC),
        Invalid,
        "untrusted TSA",
    );
    // The chain's validity starts after the timestamp.
    let late = pki_with(2022, 2030, |_| {});
    let mut env = envelope(&late);
    env.timestamp_token = Some(token());
    fails(
        judge(
            &env,
            &tsa_policy(),
            &tsa_stores(&late, &globalsign_r3()),
            NOW,
            &NC,
        ),
        Invalid,
        "is not inside the validity",
    );
    // The envelope claims a signing time after the timestamp.
    let mut env = envelope(&p);
    env.timestamp_token = Some(token());
    env.signing_time = Some(1_631_887_760);
    fails(
        judge(
            &env,
            &tsa_policy(),
            &tsa_stores(&p, &globalsign_r3()),
            NOW,
            &NC,
        ),
        Invalid,
        "before the signing time",
    );
    // A token over other bytes.
    env.signing_time = Some(1_631_887_200);
    env.signature = b"other".to_vec();
    fails(
        judge(
            &env,
            &tsa_policy(),
            &tsa_stores(&p, &globalsign_r3()),
            NOW,
            &NC,
        ),
        Invalid,
        "message imprint mismatch",
    );
}

#[test]
fn expiry_fails_unless_logged() {
    let p = pki();
    let stores = stores_with(StoreKind::Ca, "acme", &p.root);
    let mut env = envelope(&p);
    env.expiry = Some(NOW);
    fails(
        judge(&env, &strict_ca(), &stores, NOW, &NC),
        Invalid,
        "expiry failed: the signature expired at 2026-01-01T00:00:00Z",
    );
    let log = policy(
        "strict",
        &[("expiry", "log")],
        &[(StoreKind::Ca, "acme")],
        vec![TrustedIdentity::Any],
    );
    let v = judge(&env, &log, &stores, NOW, &NC).unwrap();
    assert_eq!(
        v.logged,
        vec!["expiry: the signature expired at 2026-01-01T00:00:00Z".to_string()]
    );
    env.expiry = Some(NOW + 1);
    assert!(judge(&env, &strict_ca(), &stores, NOW, &NC).is_ok());
    // An expiry not after the signing time is malformed (integrity).
    env.expiry = env.signing_time;
    fails(
        judge(&env, &strict_ca(), &stores, NOW, &NC),
        Invalid,
        "integrity failed: the envelope's expiry",
    );
}

#[test]
fn critical_attributes_and_plugins_must_be_understood() {
    let p = pki();
    let stores = stores_with(StoreKind::Ca, "acme", &p.root);
    let attr = |key: &str, critical| ExtendedAttribute {
        key: key.into(),
        critical,
        value: serde_json::json!("v"),
    };
    let mut env = envelope(&p);
    env.extended = vec![attr("SomeKey", false)];
    assert!(judge(&env, &strict_ca(), &stores, NOW, &NC).is_ok());
    env.extended = vec![attr("SomeKey", true)];
    fails(
        judge(&env, &strict_ca(), &stores, NOW, &NC),
        Invalid,
        "critical signed attribute \"SomeKey\"",
    );
    env.extended = vec![];
    env.verification_plugin = Some("plugin-name".into());
    fails(
        judge(&env, &strict_ca(), &stores, NOW, &NC),
        Invalid,
        "requires verification plugin \"plugin-name\", which shipgate does not run",
    );
    // The AWS Signer plugin needs its own scheme and attributes.
    env.verification_plugin = Some(AWS_SIGNER_PLUGIN.into());
    fails(
        judge(&env, &strict_ca(), &stores, NOW, &NC),
        Invalid,
        "notary.x509.signingAuthority",
    );
}

#[test]
fn the_algorithm_must_fit_the_leaf_key() {
    let p = pki();
    let stores = stores_with(StoreKind::Ca, "acme", &p.root);
    let mut env = envelope(&p);
    env.alg = SignatureAlgorithm::Es384;
    fails(
        judge(&env, &strict_ca(), &stores, NOW, &NC),
        Invalid,
        "implies Es256",
    );
}

#[test]
fn revocation_is_what_the_caller_found() {
    let p = pki();
    let stores = stores_with(StoreKind::Ca, "acme", &p.root);
    let env = envelope(&p);
    let revoked = RevocationStatus::Revoked("certificate CN=signer".into());
    let unknown = RevocationStatus::Unknown("OCSP timed out".into());
    fails(
        judge(&env, &strict_ca(), &stores, NOW, &revoked),
        Invalid,
        "revocation failed: revoked: certificate CN=signer",
    );
    // Not answered is "could not decide" (the check becomes `error`), not "revoked".
    fails(
        judge(&env, &strict_ca(), &stores, NOW, &unknown),
        crate::verify::RejectionKind::Unavailable,
        "revocation could not be checked: OCSP timed out",
    );
    assert!(judge(&env, &strict_ca(), &stores, NOW, &RevocationStatus::Good).is_ok());
    // Not checked: nothing to check offline for a certificate-signed signature.
    assert!(judge(&env, &strict_ca(), &stores, NOW, &NC).is_ok());
    let permissive = policy(
        "permissive",
        &[],
        &[(StoreKind::Ca, "acme")],
        vec![TrustedIdentity::Any],
    );
    let v = judge(&env, &permissive, &stores, NOW, &unknown).unwrap();
    assert_eq!(
        v.logged,
        vec!["revocation: revocation could not be checked: OCSP timed out".to_string()]
    );
    let skip = policy(
        "strict",
        &[("revocation", "skip")],
        &[(StoreKind::Ca, "acme")],
        vec![TrustedIdentity::Any],
    );
    assert!(judge(&env, &skip, &stores, NOW, &revoked)
        .unwrap()
        .logged
        .is_empty());
}

#[test]
fn invalid_chains_fail_integrity() {
    type Tweak = fn(&mut CertificateParams);
    let cases: [(Tweak, &str); 4] = [
        (
            |l| l.is_ca = IsCa::Ca(BasicConstraints::Unconstrained),
            "is a CA certificate",
        ),
        (
            |l| l.key_usages = vec![KeyUsagePurpose::KeyEncipherment],
            "lacks digitalSignature",
        ),
        (
            |l| l.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth],
            "must not contain serverAuth",
        ),
        (
            |l| l.key_usages = vec![],
            "keyUsage extension must be present",
        ),
    ];
    for (tweak, needle) in cases {
        let p = pki_with(2020, 2030, tweak);
        let stores = stores_with(StoreKind::Ca, "acme", &p.root);
        fails(
            judge(&envelope(&p), &strict_ca(), &stores, NOW, &NC),
            Invalid,
            needle,
        );
    }
    let p = pki();
    let stores = stores_with(StoreKind::Ca, "acme", &p.root);
    let mut env = envelope(&p);
    env.cert_chain = vec![p.root.clone(), p.leaf.clone()];
    fails(
        judge(&env, &strict_ca(), &stores, NOW, &NC),
        Invalid,
        "integrity failed: the certificate chain is invalid",
    );
    env.cert_chain = vec![p.leaf.clone()];
    fails(
        judge(&env, &strict_ca(), &stores, NOW, &NC),
        Invalid,
        "is not self-signed",
    );
    env.cert_chain = vec![];
    fails(
        judge(&env, &strict_ca(), &stores, NOW, &NC),
        Invalid,
        "no certificate chain",
    );
}

#[test]
fn skip_levels_and_unparsable_envelopes_are_rejected() {
    let skip = policy("skip", &[], &[], vec![]);
    let r = verify(
        b"{}",
        JWS_MEDIA_TYPE,
        &target(),
        &skip,
        &TrustStores::new(),
        NOW,
        &NC,
    );
    fails(r, Invalid, "skip: it verifies nothing");
    let r = verify(
        b"garbage",
        JWS_MEDIA_TYPE,
        &target(),
        &strict_ca(),
        &TrustStores::new(),
        NOW,
        &NC,
    );
    fails(r, Invalid, "integrity failed");
    assert_eq!(
        aws_signer_revocation_query(b"garbage", JWS_MEDIA_TYPE),
        None
    );
}
