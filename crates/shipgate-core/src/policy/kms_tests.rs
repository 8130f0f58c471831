use super::*;

const UUID: &str = "1234abcd-12ab-34cd-56ef-1234567890ab";

#[test]
fn every_cosign_form_parses() {
    let cases = [
        ("awskms:///alias/release", "alias/release", None),
        (
            "awskms:///alias/team/release_v2-x",
            "alias/team/release_v2-x",
            None,
        ),
        (&format!("awskms:///{UUID}") as &str, UUID, None),
        (
            "awskms:///mrk-1234abcd12ab34cd56ef1234567890ab",
            "mrk-1234abcd12ab34cd56ef1234567890ab",
            None,
        ),
        (
            &format!("awskms:///arn:aws:kms:eu-west-1:123456789012:key/{UUID}"),
            &format!("arn:aws:kms:eu-west-1:123456789012:key/{UUID}"),
            Some("eu-west-1"),
        ),
        (
            "awskms:///arn:aws:kms:us-east-1:123456789012:alias/release",
            "arn:aws:kms:us-east-1:123456789012:alias/release",
            Some("us-east-1"),
        ),
        (
            &format!("awskms:///arn:aws-us-gov:kms:us-gov-west-1:123456789012:key/{UUID}"),
            &format!("arn:aws-us-gov:kms:us-gov-west-1:123456789012:key/{UUID}"),
            Some("us-gov-west-1"),
        ),
        (
            "awskms:///arn:aws-cn:kms:cn-north-1:123456789012:alias/release",
            "arn:aws-cn:kms:cn-north-1:123456789012:alias/release",
            Some("cn-north-1"),
        ),
    ];
    for (uri, key_id, region) in cases {
        let r = KmsKeyRef::parse(uri).unwrap_or_else(|e| panic!("{uri}: {e}"));
        assert_eq!(r.uri, uri);
        assert_eq!(r.key_id, key_id, "{uri}");
        assert_eq!(r.region.as_deref(), region, "{uri}");
    }
    // A block scalar's trailing newline is not part of the reference.
    assert_eq!(
        KmsKeyRef::parse("awskms:///alias/release\n").unwrap().uri,
        "awskms:///alias/release"
    );
}

#[test]
fn an_endpoint_in_the_uri_is_refused() {
    let e = KmsKeyRef::parse("awskms://localhost:4566/alias/release").unwrap_err();
    assert!(e.contains("`localhost:4566`"), "{e}");
    assert!(e.contains("AWS_ENDPOINT_URL_KMS"), "{e}");
    assert!(e.contains("awskms:///alias/release"), "{e}");
}

#[test]
fn bad_forms_are_refused_with_a_reason() {
    let cases = [
        ("awskms:", "does not start with"),
        ("awskms://", "not an AWS KMS key reference"),
        ("awskms:///", "not an AWS KMS key reference"),
        ("awskms:///release", "not an AWS KMS key reference"),
        (
            "awskms:///1234abcd-12ab-34cd-56ef",
            "not an AWS KMS key reference",
        ),
        ("awskms:///alias/", "alias name"),
        ("awskms:///alias/rel ease", "alias name"),
        ("awskms:///alias/a:b", "alias name"),
        (
            "awskms:///arn:aws:kms:us-east-1:123456789012",
            "not an AWS KMS key reference",
        ),
        (
            "awskms:///arn:aws-iso:kms:us-east-1:123456789012:alias/a",
            "partition",
        ),
        (
            "awskms:///arn:aws:s3:us-east-1:123456789012:alias/a",
            "not a KMS ARN",
        ),
        (
            "awskms:///arn:aws:kms::123456789012:alias/a",
            "not an AWS region",
        ),
        (
            "awskms:///arn:aws:kms:US-EAST-1:123456789012:alias/a",
            "not an AWS region",
        ),
        ("awskms:///arn:aws:kms:us-east-1:1234:alias/a", "account id"),
        (
            "awskms:///arn:aws:kms:us-east-1:123456789012:key/nope",
            "key/KEY-ID",
        ),
        (
            "awskms:///arn:aws:kms:us-east-1:123456789012:grant/x",
            "key/KEY-ID",
        ),
    ];
    for (uri, why) in cases {
        let e = KmsKeyRef::parse(uri).unwrap_err();
        assert!(e.contains(why), "{uri}: {e}");
    }
    assert!(KmsKeyRef::parse(&format!("awskms:///alias/{}", "a".repeat(3000))).is_err());
}

fn spki(alg: &'static aws_lc_rs::signature::EcdsaSigningAlgorithm) -> Vec<u8> {
    use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair as _};
    let pair = EcdsaKeyPair::generate(alg).unwrap();
    aws_lc_rs::encoding::AsDer::<aws_lc_rs::encoding::PublicKeyX509Der>::as_der(pair.public_key())
        .unwrap()
        .as_ref()
        .to_vec()
}

#[test]
fn a_signing_key_of_a_verifiable_spec_is_accepted() {
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P384_SHA384_ASN1_SIGNING};
    let p256 = spki(&ECDSA_P256_SHA256_ASN1_SIGNING);
    let key = key_from_kms("ECC_NIST_P256", "SIGN_VERIFY", &p256).unwrap();
    assert_eq!(key.algorithm(), "ECDSA P-256");
    let p384 = spki(&ECDSA_P384_SHA384_ASN1_SIGNING);
    assert!(key_from_kms("ECC_NIST_P384", "SIGN_VERIFY", &p384).is_ok());
    // The DER key must be of the spec KMS states.
    let e = key_from_kms("ECC_NIST_P384", "SIGN_VERIFY", &p256).unwrap_err();
    assert!(
        e.contains("ECC_NIST_P384") && e.contains("ECDSA P-256"),
        "{e}"
    );
    let e = key_from_kms("RSA_2048", "SIGN_VERIFY", &p256).unwrap_err();
    assert!(e.contains("RSA_2048"), "{e}");
    let e = key_from_kms("ECC_NIST_P256", "SIGN_VERIFY", b"not der").unwrap_err();
    assert!(e.contains("does not parse"), "{e}");
}

#[test]
fn other_specs_and_usages_are_refused_by_name() {
    let p256 = spki(&aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1_SIGNING);
    for spec in [
        "ECC_SECG_P256K1",
        "SM2",
        "HMAC_256",
        "SYMMETRIC_DEFAULT",
        "ML_DSA_65",
    ] {
        let e = key_from_kms(spec, "SIGN_VERIFY", &p256).unwrap_err();
        assert!(e.contains(&format!("key spec {spec} cannot")), "{e}");
    }
    for usage in ["ENCRYPT_DECRYPT", "GENERATE_VERIFY_MAC", "KEY_AGREEMENT"] {
        let e = key_from_kms("RSA_2048", usage, &p256).unwrap_err();
        assert!(e.contains(usage) && e.contains("SIGN_VERIFY"), "{e}");
    }
}

const POLICY: &str = r#"name: kms
images: ["127.0.0.1:*/**"]
signatures:
  threshold: 2
  authorities:
    - name: release
      key: awskms:///alias/release
      transparencyLog: optional
    - name: again
      key: awskms:///alias/release
      transparencyLog: optional
provenance:
  authorities:
    - name: builder
      key: awskms:///arn:aws:kms:eu-west-1:123456789012:alias/builder
"#;

fn draft(text: &str) -> Result<crate::policy::PolicyDraft, String> {
    crate::policy::PolicyDraft::parse(text, std::path::Path::new("p/kms.yaml"))
        .map_err(|e| e.to_string())
}

#[test]
fn a_policy_lists_its_kms_keys_and_takes_them_from_the_fetched_ones() {
    use crate::policy::{FetchedKmsKeys, Identity};
    let d = draft(POLICY).unwrap();
    let uris: Vec<&str> = d.kms_keys().map(|r| r.uri.as_str()).collect();
    assert_eq!(
        uris,
        [
            "awskms:///alias/release",
            "awskms:///alias/release",
            "awskms:///arn:aws:kms:eu-west-1:123456789012:alias/builder"
        ]
    );
    let der = spki(&aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1_SIGNING);
    let key = key_from_kms("ECC_NIST_P256", "SIGN_VERIFY", &der).unwrap();
    let mut fetched = FetchedKmsKeys::new();
    for uri in &uris {
        fetched.insert(uri.to_string(), Ok(key.clone()));
    }
    let p = d.resolve(&fetched).unwrap();
    let a = &p.signatures.as_ref().unwrap().authorities[0];
    let Identity::Key(k) = &a.identity else {
        panic!("a key expected")
    };
    assert_eq!(k.origin(), Some("awskms:///alias/release"));
    assert!(
        k.label().ends_with(" (awskms:///alias/release)"),
        "{}",
        k.label()
    );
    assert_eq!(k, &key);
}

#[test]
fn a_kms_key_that_was_not_fetched_or_failed_stops_the_load_naming_field_and_line() {
    use crate::policy::{FetchedKmsKeys, Policy};
    let e = Policy::from_yaml(POLICY, std::path::Path::new("p/kms.yaml"))
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("p/kms.yaml: signatures.authorities[0].key: awskms:///alias/release: "),
        "{e}"
    );
    assert!(e.ends_with(" at line 7"), "{e}");
    let mut fetched = FetchedKmsKeys::new();
    fetched.insert(
        "awskms:///alias/release".into(),
        Err("AWS KMS GetPublicKey failed: NotFoundException".into()),
    );
    let e = draft(POLICY)
        .unwrap()
        .resolve(&fetched)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(
            "awskms:///alias/release: AWS KMS GetPublicKey failed: NotFoundException at line 7"
        ),
        "{e}"
    );
}

#[test]
fn a_malformed_reference_is_refused_at_parse_with_its_field_and_line() {
    let bad = POLICY.replace("awskms:///alias/release\n      transparencyLog: optional\n    - name: again", "awskms://kms.example:443/alias/release\n      transparencyLog: optional\n    - name: again");
    let e = draft(&bad).err().unwrap();
    assert!(e.contains("signatures.authorities[0].key: `awskms://kms.example:443/alias/release` names an endpoint"), "{e}");
    assert!(e.contains("line 7"), "{e}");
    let bad = POLICY.replace("alias/builder", "alias/");
    let e = draft(&bad).err().unwrap();
    assert!(e.contains("provenance.authorities[0].key: "), "{e}");
    // An inline PEM is still a PEM.
    let e = draft(&POLICY.replace("awskms:///alias/release", "notakey"))
        .err()
        .unwrap();
    assert!(e.contains("signatures.authorities[0].key: "), "{e}");
}
