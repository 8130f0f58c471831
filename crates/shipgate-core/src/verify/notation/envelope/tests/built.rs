//! Envelopes built here, signed with keys made here: each rule, in both formats.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature as sig;
use serde_json::json;

use super::support::{certs, p256, refused, Spec, TestKey, T0};
use super::*;

#[test]
fn every_algorithm_round_trips_in_both_formats() {
    let keys = [
        (("ES256", -7), p256()),
        (
            ("ES384", -35),
            TestKey::ec(&sig::ECDSA_P384_SHA384_FIXED_SIGNING),
        ),
        (
            ("ES512", -36),
            TestKey::ec(&sig::ECDSA_P521_SHA512_FIXED_SIGNING),
        ),
        (("PS256", -37), TestKey::rsa(KeySize::Rsa2048)),
        (("PS512", -39), TestKey::rsa(KeySize::Rsa4096)),
    ];
    let p384 = TestKey::ec(&sig::ECDSA_P384_SHA384_FIXED_SIGNING).public();
    for (alg, key) in &keys {
        let spec = Spec {
            alg: *alg,
            ..Spec::default()
        };
        for env in spec.both(key) {
            let env = env.unwrap();
            assert!(env.verify_signature(&key.public()), "{alg:?}");
            assert!(!env.verify_signature(&p256().public()), "{alg:?}");
            assert!(!env.verify_signature(&p384), "{alg:?}");
            let mut altered = env.clone();
            altered.payload.push(b' ');
            altered.signed_bytes[3] ^= 1;
            assert!(!altered.verify_signature(&key.public()), "{alg:?}");
            assert_eq!(env.signing_time, Some(T0));
            assert_eq!(env.signing_agent.as_deref(), Some("shipgate-test/1"));
            assert_eq!(env.cert_chain, certs(1));
        }
    }
}

#[test]
fn the_key_must_fit_the_algorithm() {
    // An ES256 signature checked against an RSA key.
    let rsa = TestKey::rsa(KeySize::Rsa2048).public();
    let key = p256();
    for env in Spec::default().both(&key) {
        assert!(!env.unwrap().verify_signature(&rsa));
    }
    // ES384 in the header, a P-256 key (and its valid P-256/SHA-256 signature).
    let spec = Spec {
        alg: ("ES384", -35),
        ..Spec::default()
    };
    for env in spec.both(&key) {
        let mut env = env.unwrap();
        assert!(!env.verify_signature(&key.public()));
        env.alg = SignatureAlgorithm::Es256;
        assert!(env.verify_signature(&key.public()));
    }
    // PS384 needs a 3072-bit key: a 2048-bit key's PSS/SHA-384 signature is refused.
    let rsa = TestKey::rsa(KeySize::Rsa2048);
    let spec = Spec {
        alg: ("PS384", -38),
        ..Spec::default()
    };
    let TestKey::Rsa(k) = &rsa else {
        unreachable!()
    };
    for env in spec.both(&rsa) {
        let mut env = env.unwrap();
        let mut s = vec![0; k.public_modulus_len()];
        k.sign(
            &sig::RSA_PSS_SHA384,
            &SystemRandom::new(),
            &env.signed_bytes,
            &mut s,
        )
        .unwrap();
        env.signature = s;
        assert!(!env.verify_signature(&rsa.public()));
    }
}

#[test]
fn crit_must_name_present_headers_and_every_critical_one() {
    let mut spec = Spec::default();
    spec.crit.push("foo");
    refused(
        &spec,
        "protected header lists `foo` in `crit` but does not carry it",
    );

    let expiring = Spec {
        times: vec![(SIGNING_TIME, T0), (EXPIRY, T0 + 60)],
        ..Spec::default()
    };
    refused(
        &expiring,
        "carries `io.cncf.notary.expiry` but does not list it in `crit`",
    );
    let mut ok = expiring.clone();
    ok.crit.push(EXPIRY);
    for env in ok.both(&p256()) {
        assert_eq!(env.unwrap().expiry, Some(T0 + 60));
    }

    let plugin = Spec {
        extra: vec![(VERIFICATION_PLUGIN, "com.example.plugin")],
        ..Spec::default()
    };
    refused(
        &plugin,
        "carries `io.cncf.notary.verificationPlugin` but does not list",
    );
    let mut ok = plugin.clone();
    ok.crit.push(VERIFICATION_PLUGIN);
    ok.extra.push((VERIFICATION_PLUGIN_MIN_VERSION, "1.0.0"));
    refused(
        &ok,
        "`io.cncf.notary.verificationPluginMinVersion` but does not list",
    );
    ok.crit.push(VERIFICATION_PLUGIN_MIN_VERSION);
    for env in ok.both(&p256()) {
        let env = env.unwrap();
        assert_eq!(
            env.verification_plugin.as_deref(),
            Some("com.example.plugin")
        );
        assert_eq!(
            env.verification_plugin_min_version.as_deref(),
            Some("1.0.0")
        );
        assert!(env.extended.is_empty());
    }

    let no_crit = Spec {
        crit: Vec::new(),
        ..Spec::default()
    };
    refused(&no_crit, "empty `crit`");
    let scheme_not_critical = Spec {
        crit: vec!["com.example.a"],
        extra: vec![("com.example.a", "x")],
        ..Spec::default()
    };
    refused(
        &scheme_not_critical,
        "`io.cncf.notary.signingScheme` but does not list",
    );
}

#[test]
fn extended_attributes_come_back_with_their_criticality() {
    let spec = Spec {
        crit: vec![SIGNING_SCHEME, "com.example.critical"],
        extra: vec![
            ("com.example.critical", "yes"),
            ("com.example.informational", "fyi"),
            // Reserved and unknown, but not critical: informational, dropped.
            ("io.cncf.notary.someday", "x"),
        ],
        ..Spec::default()
    };
    for env in spec.both(&p256()) {
        let env = env.unwrap();
        let mut attrs = env.extended.clone();
        attrs.sort_by(|a, b| a.key.cmp(&b.key));
        assert_eq!(
            attrs,
            vec![
                ExtendedAttribute {
                    key: "com.example.critical".into(),
                    critical: true,
                    value: json!("yes"),
                },
                ExtendedAttribute {
                    key: "com.example.informational".into(),
                    critical: false,
                    value: json!("fyi"),
                },
            ]
        );
    }
    let mut reserved = spec.clone();
    reserved.crit.push("io.cncf.notary.someday");
    refused(
        &reserved,
        "`io.cncf.notary.someday` in `crit`, a Notary Project header",
    );
}

#[test]
fn schemes_require_their_own_signing_time() {
    let none = Spec {
        times: Vec::new(),
        ..Spec::default()
    };
    refused(
        &none,
        "notary.x509 but does not carry `io.cncf.notary.signingTime`",
    );
    let both = Spec {
        crit: vec![SIGNING_SCHEME, AUTHENTIC_SIGNING_TIME],
        times: vec![(SIGNING_TIME, T0), (AUTHENTIC_SIGNING_TIME, T0)],
        ..Spec::default()
    };
    refused(&both, "`io.cncf.notary.authenticSigningTime`, which only");
    let authority = Spec {
        scheme: "notary.x509.signingAuthority",
        crit: vec![SIGNING_SCHEME, AUTHENTIC_SIGNING_TIME],
        times: vec![(AUTHENTIC_SIGNING_TIME, T0)],
        ..Spec::default()
    };
    for env in authority.both(&p256()) {
        let env = env.unwrap();
        assert_eq!(env.signing_scheme, SigningScheme::X509SigningAuthority);
        assert_eq!(
            (env.signing_time, env.authentic_signing_time),
            (None, Some(T0))
        );
    }
    let mut claimed = authority.clone();
    claimed.times.push((SIGNING_TIME, T0));
    refused(
        &claimed,
        "which the notary.x509.signingAuthority scheme does not allow",
    );
    let unproven = Spec {
        times: Vec::new(),
        ..authority.clone()
    };
    refused(
        &unproven,
        "lists `io.cncf.notary.authenticSigningTime` in `crit` but does not",
    );
    let unproven = Spec {
        crit: vec![SIGNING_SCHEME],
        ..unproven
    };
    refused(
        &unproven,
        "signingAuthority but does not carry `io.cncf.notary.authentic",
    );
    let other = Spec {
        scheme: "notary.x509.other",
        ..Spec::default()
    };
    refused(&other, "signing scheme `notary.x509.other`");
    let stale = Spec {
        crit: vec![SIGNING_SCHEME, EXPIRY],
        times: vec![(SIGNING_TIME, T0), (EXPIRY, T0)],
        ..Spec::default()
    };
    refused(
        &stale,
        "expires (2023-11-14T22:13:20Z) no later than it was signed",
    );
}

#[test]
fn content_type_algorithm_payload_and_chain_are_checked() {
    let cty = Spec {
        cty: "application/json",
        ..Spec::default()
    };
    refused(&cty, "payload content type is `application/json`, not");
    let [jws, cose] = Spec {
        alg: ("HS256", -8),
        ..Spec::default()
    }
    .both(&p256());
    assert!(jws
        .unwrap_err()
        .reason
        .contains("algorithm `HS256` is not supported"));
    assert!(cose
        .unwrap_err()
        .reason
        .contains("algorithm -8 is not supported"));
    let empty = Spec {
        payload: Vec::new(),
        ..Spec::default()
    };
    refused(&empty, "payload is empty");
    let none = Spec {
        certs: 0,
        ..Spec::default()
    };
    refused(&none, "carries no certificate chain");
    let many = Spec {
        certs: 11,
        ..Spec::default()
    };
    refused(&many, "has 11 certificates; at most 10 are accepted");
    let ten = Spec {
        certs: 10,
        ..Spec::default()
    };
    for env in ten.both(&p256()) {
        assert_eq!(env.unwrap().cert_chain.len(), 10);
    }
}

#[test]
fn media_type_and_size_are_checked() {
    let env = Spec::default().jws(&p256());
    assert!(parse(&env, "application/json")
        .unwrap_err()
        .reason
        .contains("not supported"));
    assert!(parse(&env, "Application/JOSE+JSON").is_ok());
    assert!(parse(&env, COSE_MEDIA_TYPE).is_err());
    let big = vec![b' '; MAX_ENVELOPE_LEN + 1];
    assert!(parse(&big, JWS_MEDIA_TYPE)
        .unwrap_err()
        .reason
        .contains("at most"));
}
