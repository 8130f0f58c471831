//! JWS envelopes: shape, notation-core-go's conformance vector, the signing-authority scheme
//! and tampering.

use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD as B64URL};
use base64::Engine as _;
use serde_json::{json, Value};

use super::cbor::{decode, get, text, Item};
use super::tsa::check_token;
use super::{days, jws_parts, subject, time_str, verifies, AST, EXPIRY, PLUGIN, SCHEME};
use crate::common::notary_signer::*;

#[test]
fn jws_envelope_is_notation_shaped_and_verifies() {
    let pki = Pki::new(&LeafOptions::default(), true);
    let tsa = Tsa::new();
    let subject = subject();
    let signer = pki
        .signer()
        .expiry(now() + days(30))
        .attribute(PLUGIN, "com.example.plugin", true)
        .attribute("com.example.note", "hi", false);
    let (env, media_type) = signer
        .clone()
        .timestamp(&tsa, TokenOptions::default())
        .sign(&subject);
    assert_eq!(media_type, "application/jose+json");
    let (h, protected, payload, signature, header) = jws_parts(&env);
    assert_eq!(h["alg"], "ES256");
    assert_eq!(h["cty"], PAYLOAD_MEDIA_TYPE);
    assert_eq!(h[SCHEME], "notary.x509");
    assert_eq!(
        h["crit"],
        json!([SCHEME, PLUGIN, EXPIRY]),
        "crit as notation-core-go orders it"
    );
    assert_eq!(
        h["io.cncf.notary.signingTime"],
        time_str(signer.signing_time)
    );
    assert_eq!(h[EXPIRY], time_str(signer.expiry.unwrap()));
    assert_eq!(h["com.example.note"], "hi");
    assert!(h.get(AST).is_none());
    let expected = format!(
        r#"{{"targetArtifact":{{"mediaType":"{}","digest":"{}","size":{}}}}}"#,
        subject.media_type, subject.digest, subject.size
    );
    assert_eq!(B64URL.decode(&payload).unwrap(), expected.as_bytes());
    let x5c: Vec<Vec<u8>> = header["x5c"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| B64.decode(c.as_str().unwrap()).unwrap())
        .collect();
    assert_eq!(x5c, pki.chain());
    assert_eq!(x5c.len(), 3);
    assert_eq!(header["io.cncf.notary.signingAgent"], DEFAULT_SIGNING_AGENT);
    assert_eq!(signature.len(), 64, "fixed-width r||s");
    assert!(verifies(
        KeyKind::EcP256,
        &x5c[0],
        format!("{protected}.{payload}").as_bytes(),
        &signature
    ));
    let token = B64
        .decode(
            header["io.cncf.notary.timestampSignature"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
    check_token(&token, &signature, &tsa);
}

/// notation-core-go's JWS conformance vector (signature/jws/testdata/conformance.json): the same
/// inputs give the same protected header, byte for byte.
#[test]
fn jws_protected_header_matches_notation_conformance_vector() {
    let vector = "eyJhbGciOiJFUzI1NiIsImNyaXQiOlsiaW8uY25jZi5ub3Rhcnkuc2lnbmluZ1NjaGVtZSIsInNpZ25lZENyaXRLZXkxIiwiaW8uY25jZi5ub3RhcnkuZXhwaXJ5Il0sImN0eSI6ImFwcGxpY2F0aW9uL3ZuZC5jbmNmLm5vdGFyeS5wYXlsb2FkLnYxK2pzb24iLCJpby5jbmNmLm5vdGFyeS5leHBpcnkiOiIyMDk5LTA4LTMwVDEzOjUwOjAwWiIsImlvLmNuY2Yubm90YXJ5LnNpZ25pbmdTY2hlbWUiOiJub3RhcnkueDUwOSIsImlvLmNuY2Yubm90YXJ5LnNpZ25pbmdUaW1lIjoiMjAyMi0wOC0yOVQxMzo1MDowMFoiLCJzaWduZWRDcml0S2V5MSI6InNpZ25lZENyaXRWYWx1ZTEiLCJzaWduZWRLZXkxIjoic2lnbmVkVmFsdWUxIiwic2lnbmVkS2V5MiI6InNpZ25lZFZhbHVlMSIsInNpZ25lZEtleTMiOiJzaWduZWRWYWx1ZTEiLCJzaWduZWRLZXk0Ijoic2lnbmVkVmFsdWUxIn0";
    let mut signer = Pki::simple()
        .signer()
        .signing_time(time::macros::datetime!(2022-08-29 13:50:00 UTC))
        .expiry(time::macros::datetime!(2099-08-30 13:50:00 UTC))
        .attribute("signedCritKey1", "signedCritValue1", true);
    for k in ["signedKey1", "signedKey2", "signedKey3", "signedKey4"] {
        signer = signer.attribute(k, "signedValue1", false);
    }
    let (_, protected, ..) = jws_parts(&signer.sign(&subject()).0);
    assert_eq!(protected, vector);
}

#[test]
fn signing_authority_scheme_and_tampering() {
    let pki = Pki::simple();
    let (prof, job) = (
        "com.amazonaws.signer.signingProfileVersion",
        "com.amazonaws.signer.signingJob",
    );
    let sa = pki
        .signer()
        .scheme(Scheme::SigningAuthority)
        .attribute(
            prof,
            "arn:aws:signer:us-east-1:1:/signing-profiles/p/v",
            true,
        )
        .attribute(job, "arn:aws:signer:us-east-1:1:/signing-jobs/j", true);
    let (h, ..) = jws_parts(&sa.sign(&subject()).0);
    assert_eq!(h[SCHEME], "notary.x509.signingAuthority");
    assert_eq!(h["crit"], json!([SCHEME, prof, job, AST]));
    assert_eq!(h[AST], time_str(sa.signing_time));
    assert!(h.get("io.cncf.notary.signingTime").is_none());
    let Item::Tag(_, s) = decode(&sa.clone().cose().sign(&subject()).0) else {
        panic!()
    };
    let Item::Array(parts) = *s else { panic!() };
    let Item::Bytes(prot) = &parts[0] else {
        panic!()
    };
    let crit = Item::Array([SCHEME, AST, prof, job].map(text).to_vec());
    assert_eq!(get(&decode(prot), &Item::Uint(2)), Some(&crit));
    assert!(get(&decode(prot), &text("io.cncf.notary.signingTime")).is_none());
    assert!(get(&parts[1], &text("io.cncf.notary.timestampSignature")).is_none());

    // Tampering: the signature no longer verifies; a claimed alg is only claimed.
    let subject = subject();
    for t in [Tamper::Signature, Tamper::Payload] {
        let (h, p, payload, signature, _) = jws_parts(&pki.signer().tamper(t).sign(&subject).0);
        assert_eq!(h["alg"], "ES256");
        assert!(
            !verifies(
                KeyKind::EcP256,
                &pki.leaf.der,
                format!("{p}.{payload}").as_bytes(),
                &signature
            ),
            "{t:?}"
        );
        if t == Tamper::Payload {
            let v: Value = serde_json::from_slice(&B64URL.decode(&payload).unwrap()).unwrap();
            assert_eq!(v["targetArtifact"]["size"], subject.size + 1);
        }
    }
    let (h, p, payload, signature, _) =
        jws_parts(&pki.signer().alg(SigAlg::Es384).sign(&subject).0);
    assert_eq!(h["alg"], "ES384");
    assert!(verifies(
        KeyKind::EcP256,
        &pki.leaf.der,
        format!("{p}.{payload}").as_bytes(),
        &signature
    ));
}
