//! COSE_Sign1 envelopes: CBOR map order (notation-core-go's conformance vector), shape and
//! signatures, and every key type signing with its Notary algorithm.

use super::cbor::{bstr, decode, get, sorted_keys, text, Item};
use super::tsa::check_token;
use super::{days, jws_parts, subject, verifies, EXPIRY, PLUGIN, SCHEME};
use crate::common::notary_signer::*;

/// The CBOR encoder orders map keys as go-cose does: notation-core-go's COSE conformance vector
/// (signature/cose/testdata/conformance.json; it predates tag-1 times, so plain integers here).
#[test]
fn cbor_map_order_matches_notation_cose_conformance_vector() {
    let vector = "A80138250283781C696F2E636E63662E6E6F746172792E7369676E696E67536368656D6575696F2E636E63662E6E6F746172792E6578706972796E7369676E6564437269744B65793103782B6170706C69636174696F6E2F766E642E636E63662E6E6F746172792E7061796C6F61642E76312B6A736F6E6A7369676E65644B6579316C7369676E656456616C7565316E7369676E6564437269744B657931707369676E65644372697456616C75653175696F2E636E63662E6E6F746172792E6578706972791A63071444781A696F2E636E63662E6E6F746172792E7369676E696E6754696D651A6305C2C4781C696F2E636E63662E6E6F746172792E7369676E696E67536368656D656B6E6F746172792E78353039";
    let t = Cbor::text;
    let map = Cbor::Map(vec![
        (t(SCHEME), t("notary.x509")),
        (t("io.cncf.notary.signingTime"), Cbor::Int(1661321924)),
        (t(EXPIRY), Cbor::Int(1661408324)),
        (t("signedCritKey1"), t("signedCritValue1")),
        (t("signedKey1"), t("signedValue1")),
        (Cbor::Int(3), t(PAYLOAD_MEDIA_TYPE)),
        (
            Cbor::Int(2),
            Cbor::Array(vec![t(SCHEME), t(EXPIRY), t("signedCritKey1")]),
        ),
        (Cbor::Int(1), Cbor::Int(-38)),
    ]);
    assert_eq!(hex::encode_upper(map.encode()), vector);
}

#[test]
fn cose_envelope_is_notation_shaped_and_verifies() {
    let pki = Pki::new(&LeafOptions::default(), true);
    let tsa = Tsa::new();
    let subject = subject();
    let signer = pki
        .signer()
        .cose()
        .expiry(now() + days(30))
        .attribute(PLUGIN, "com.example.plugin", true)
        .timestamp(&tsa, TokenOptions::default());
    let (env, media_type) = signer.sign(&subject);
    assert_eq!(media_type, "application/cose");
    let Item::Tag(18, sign1) = decode(&env) else {
        panic!("not COSE_Sign1_Tagged")
    };
    let Item::Array(parts) = *sign1 else {
        panic!("COSE_Sign1 is not an array")
    };
    let [Item::Bytes(protected_raw), unprotected, Item::Bytes(payload), Item::Bytes(signature)] =
        &parts[..]
    else {
        panic!("COSE_Sign1 shape: {parts:?}")
    };
    let protected = decode(protected_raw);
    assert!(
        sorted_keys(&protected) && sorted_keys(unprotected),
        "deterministic map order"
    );
    assert_eq!(
        get(&protected, &Item::Uint(1)),
        Some(&Item::Neg(-7)),
        "alg ES256"
    );
    let crit = Item::Array(vec![text(SCHEME), text(EXPIRY), text(PLUGIN)]);
    assert_eq!(
        get(&protected, &Item::Uint(2)),
        Some(&crit),
        "crit as notation-core-go orders it"
    );
    assert_eq!(
        get(&protected, &Item::Uint(3)),
        Some(&text(PAYLOAD_MEDIA_TYPE))
    );
    assert_eq!(get(&protected, &text(SCHEME)), Some(&text("notary.x509")));
    let epoch =
        |t: time::OffsetDateTime| Item::Tag(1, Box::new(Item::Uint(t.unix_timestamp() as u64)));
    assert_eq!(
        get(&protected, &text("io.cncf.notary.signingTime")),
        Some(&epoch(signer.signing_time))
    );
    assert_eq!(
        get(&protected, &text(EXPIRY)),
        Some(&epoch(signer.expiry.unwrap()))
    );
    assert_eq!(
        get(&protected, &text(PLUGIN)),
        Some(&text("com.example.plugin"))
    );
    let chain = Item::Array(pki.chain().into_iter().map(Item::Bytes).collect());
    assert_eq!(get(unprotected, &Item::Uint(33)), Some(&chain), "x5chain");
    assert_eq!(
        get(unprotected, &text("io.cncf.notary.signingAgent")),
        Some(&text(DEFAULT_SIGNING_AGENT))
    );
    assert_eq!(*payload, notary_payload(&subject, &Default::default()));
    // Sig_structure = ["Signature1", protected, h'', payload], encoded here by hand.
    let mut to_be_signed = vec![0x84, 0x6a];
    to_be_signed.extend(b"Signature1");
    to_be_signed.extend(bstr(protected_raw));
    to_be_signed.push(0x40);
    to_be_signed.extend(bstr(payload));
    assert!(verifies(
        KeyKind::EcP256,
        &pki.chain()[0],
        &to_be_signed,
        signature
    ));
    let Some(Item::Bytes(token)) = get(unprotected, &text("io.cncf.notary.timestampSignature"))
    else {
        panic!("no timestamp")
    };
    check_token(token, signature, &tsa);
}

#[test]
fn every_key_type_signs_with_its_notary_alg() {
    for kind in [
        KeyKind::EcP384,
        KeyKind::EcP521,
        KeyKind::Rsa2048,
        KeyKind::Rsa3072,
    ] {
        let pki = Pki::new(
            &LeafOptions {
                key: kind,
                ..Default::default()
            },
            false,
        );
        let alg = kind.notary_alg();
        let (env, _) = pki.signer().sign(&subject());
        let (h, p, payload, signature, _) = jws_parts(&env);
        assert_eq!(h["alg"], alg.jws_name());
        assert!(
            verifies(
                kind,
                &pki.leaf.der,
                format!("{p}.{payload}").as_bytes(),
                &signature
            ),
            "{kind:?} JWS"
        );
        let (env, _) = pki.signer().cose().sign(&subject());
        let Item::Tag(18, sign1) = decode(&env) else {
            panic!()
        };
        let Item::Array(parts) = *sign1 else { panic!() };
        let (Item::Bytes(prot), Item::Bytes(payload), Item::Bytes(signature)) =
            (&parts[0], &parts[2], &parts[3])
        else {
            panic!()
        };
        assert_eq!(
            get(&decode(prot), &Item::Uint(1)),
            Some(&Item::Neg(alg.cose_id()))
        );
        let mut tbs = vec![0x84, 0x6a];
        tbs.extend(
            b"Signature1"
                .iter()
                .copied()
                .chain(bstr(prot))
                .chain([0x40])
                .chain(bstr(payload)),
        );
        assert!(
            verifies(kind, &pki.leaf.der, &tbs, signature),
            "{kind:?} COSE"
        );
    }
}
