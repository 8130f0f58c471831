//! Certificates carry what Notation requires (checked with `x509-cert` and, when installed,
//! `openssl verify`); the trust-store layout and the signature manifest.

use serde_json::{json, Value};
use x509_cert::der::Decode as _;
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage};
use x509_cert::Certificate;

use super::{days, openssl, pem_encode_cert, s, subject, which_openssl};
use crate::common::cosign::pem_decode_all;
use crate::common::notary_signer::*;

fn ext<'a, T: x509_cert::der::Decode<'a> + const_oid::AssociatedOid>(
    c: &'a Certificate,
) -> (bool, T) {
    c.tbs_certificate()
        .get_extension::<T>()
        .unwrap()
        .expect("extension present")
}

#[test]
fn certificates_carry_what_notation_requires() {
    let pki = Pki::new(&LeafOptions::default(), true);
    let leaf = Certificate::from_der(&pki.leaf.der).unwrap();
    assert_eq!(
        leaf.tbs_certificate().subject().to_string(),
        "CN=release,O=Acme,L=Seattle,ST=WA,C=US"
    );
    let (critical, ku) = ext::<KeyUsage>(&leaf);
    assert!(critical && ku.digital_signature() && !ku.key_cert_sign());
    let (_, eku) = ext::<ExtendedKeyUsage>(&leaf);
    assert_eq!(eku.0, [const_oid::db::rfc5280::ID_KP_CODE_SIGNING]);
    assert!(!ext::<BasicConstraints>(&leaf).1.ca);
    let inter = Certificate::from_der(&pki.intermediate.as_ref().unwrap().cert.der).unwrap();
    let (critical, bc) = ext::<BasicConstraints>(&inter);
    assert!(critical && bc.ca && bc.path_len_constraint == Some(0));
    let (critical, ku) = ext::<KeyUsage>(&inter);
    assert!(critical && ku.key_cert_sign());
    let tsa = Tsa::new();
    let tsa_cert = Certificate::from_der(&tsa.cert.der).unwrap();
    let (critical, eku) = ext::<ExtendedKeyUsage>(&tsa_cert);
    assert!(critical && eku.0 == [const_oid::db::rfc5280::ID_KP_TIME_STAMPING]);

    let expired = LeafOptions {
        not_before: now() - days(30),
        not_after: now() - days(1),
        ..Default::default()
    };
    let old = Certificate::from_der(&Pki::new(&expired, false).leaf.der).unwrap();
    let not_after = old
        .tbs_certificate()
        .validity()
        .not_after
        .to_unix_duration()
        .as_secs() as i64;
    assert!(not_after < now().unix_timestamp());

    // Trust store layout and the manifest Notation pushes.
    let dir = tempfile::tempdir().unwrap();
    let store = write_trust_store(dir.path(), "ca", "acme", &[&pki.root.cert.der]);
    assert_eq!(store, dir.path().join("ca/acme"));
    let pem = std::fs::read_to_string(store.join("cert-0.pem")).unwrap();
    assert_eq!(
        pem_decode_all(&pem),
        std::slice::from_ref(&pki.root.cert.der)
    );
    let subject = subject();
    let m = signature_manifest(&subject, b"envelope", JWS_MEDIA_TYPE, &pki.chain(), now());
    let v: Value = serde_json::from_slice(&m.to_bytes()).unwrap();
    assert_eq!(v["artifactType"], "application/vnd.cncf.notary.signature");
    let empty = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";
    assert_eq!(
        v["config"],
        json!({"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2})
    );
    assert_eq!(v["layers"][0]["mediaType"], JWS_MEDIA_TYPE);
    assert_eq!(v["subject"]["digest"], subject.digest.as_str());
    let thumbs: Vec<String> =
        serde_json::from_str(v["annotations"][THUMBPRINT_ANNOTATION].as_str().unwrap()).unwrap();
    assert_eq!(
        thumbs,
        [
            pki.leaf.thumbprint(),
            pki.intermediate.as_ref().unwrap().cert.thumbprint(),
            pki.root.cert.thumbprint()
        ]
    );

    if which_openssl() {
        let p = |name: &str, der: &[u8]| {
            let path = dir.path().join(name);
            std::fs::write(&path, pem_encode_cert(der)).unwrap();
            path
        };
        let (root, inter) = (
            p("root.pem", &pki.root.cert.der),
            p("inter.pem", &pki.chain()[1]),
        );
        let out = openssl(&[
            "verify",
            "-CAfile",
            s(&root),
            "-untrusted",
            s(&inter),
            s(&p("leaf.pem", &pki.leaf.der)),
        ]);
        assert!(out.status.success(), "openssl verify leaf: {out:?}");
        let tsa_root = p("tsa-root.pem", &tsa.root.der);
        let out = openssl(&[
            "verify",
            "-purpose",
            "timestampsign",
            "-CAfile",
            s(&tsa_root),
            s(&p("tsa.pem", &tsa.cert.der)),
        ]);
        assert!(out.status.success(), "openssl verify TSA: {out:?}");
    }
}
