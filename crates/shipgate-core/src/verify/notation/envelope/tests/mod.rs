//! The envelopes of the real Notation vectors (`tests/data/vectors/notation/cases.json`) and
//! notation-core-go's encoding references.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;

use super::super::super::x509::Cert;
use super::cbor::Reader;
use super::*;

mod built;
mod formats;
mod support;

const DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/data/vectors/notation"
);

fn read(rel: &str) -> Vec<u8> {
    std::fs::read(format!("{DIR}/{rel}")).unwrap()
}

fn unix(rfc3339: &str) -> i64 {
    time::OffsetDateTime::parse(rfc3339, &Rfc3339)
        .unwrap()
        .unix_timestamp()
}

/// Every envelope the cases name, with its expectations: envelope cases themselves and the
/// `signatures[]` entries of OCI-layout cases.
fn envelope_cases() -> Vec<(String, Value)> {
    let cases: Vec<Value> = serde_json::from_slice(&read("cases.json")).unwrap();
    let mut out = Vec::new();
    for case in cases {
        let id = case["id"].as_str().unwrap().to_string();
        if case.get("envelope").is_some() {
            out.push((id.clone(), case.clone()));
        }
        for sig in case["signatures"].as_array().into_iter().flatten() {
            out.push((id.clone(), sig.clone()));
        }
    }
    out
}

fn check_fields(id: &str, case: &Value, env: &Envelope) {
    let scheme = match case["signing_scheme"].as_str().unwrap() {
        "notary.x509" => SigningScheme::X509,
        "notary.x509.signingAuthority" => SigningScheme::X509SigningAuthority,
        other => panic!("{id}: scheme {other}"),
    };
    assert_eq!(env.signing_scheme, scheme, "{id}");
    let alg = match case["alg"].as_str().unwrap() {
        "PS256" => SignatureAlgorithm::Ps256,
        "PS384" => SignatureAlgorithm::Ps384,
        "ES256" => SignatureAlgorithm::Es256,
        other => panic!("{id}: alg {other}"),
    };
    assert_eq!(env.alg, alg, "{id}");
    let time = |name: &str| case[name].as_str().map(unix);
    assert_eq!(env.signing_time, time("signing_time"), "{id}");
    assert_eq!(
        env.authentic_signing_time,
        time("authentic_signing_time"),
        "{id}"
    );
    assert_eq!(env.expiry, time("expiry"), "{id}");
    assert_eq!(
        env.verification_plugin.as_deref(),
        case["verification_plugin"].as_str(),
        "{id}"
    );
    if let Some(agent) = case["signing_agent"].as_str() {
        assert_eq!(env.signing_agent.as_deref(), Some(agent), "{id}");
    }
    assert_eq!(
        env.timestamp_token.is_some(),
        case["timestamp_countersignature"] == true,
        "{id}"
    );

    // `crit`: each name is a header we read, or a critical extended attribute; and every
    // critical extended attribute is in it.
    let crit: Vec<&str> = case["crit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    for name in &crit {
        let read = match *name {
            SIGNING_SCHEME => true,
            AUTHENTIC_SIGNING_TIME => env.authentic_signing_time.is_some(),
            EXPIRY => env.expiry.is_some(),
            VERIFICATION_PLUGIN => env.verification_plugin.is_some(),
            other => env.extended.iter().any(|a| a.key == other && a.critical),
        };
        assert!(read, "{id}: crit {name}");
    }
    for attr in &env.extended {
        assert_eq!(attr.critical, crit.contains(&attr.key.as_str()), "{id}");
    }

    let chain = case["cert_chain"].as_array().unwrap();
    assert_eq!(env.cert_chain.len(), chain.len(), "{id}");
    for (der, want) in env.cert_chain.iter().zip(chain) {
        assert_eq!(
            hex::encode(super::super::super::keys::sha256(der)),
            want["sha256"].as_str().unwrap(),
            "{id}"
        );
    }
    let payload: Value = serde_json::from_slice(&env.payload).unwrap();
    if let Some(target) = case.get("target") {
        assert_eq!(
            payload["targetArtifact"]["digest"], target["digest"],
            "{id}"
        );
    }
}

#[test]
fn every_vector_envelope_parses_and_its_signature_verifies() {
    let (mut parsed, mut verified, mut cose) = (0, 0, 0);
    for (id, case) in envelope_cases() {
        let bytes = read(case["envelope"].as_str().unwrap());
        let Some(media_type) = case["envelope_media_type"].as_str() else {
            // e2e-invalid-signature: the layer holds the text "invalid signature".
            let layer = case["envelope_layer_media_type"].as_str().unwrap();
            let err = parse(&bytes, layer).unwrap_err().reason;
            assert!(err.contains("is not supported"), "{id}: {err}");
            assert!(parse(&bytes, JWS_MEDIA_TYPE).is_err(), "{id}");
            assert!(parse(&bytes, COSE_MEDIA_TYPE).is_err(), "{id}");
            continue;
        };
        if id.ends_with("/ca-invalid-signature") || id.ends_with("/sa-invalid-signature") {
            // cases.json says the `signature` member; it is `payload` that carries a `=`
            // (notation-go: "illegal base64 data at input byte 242").
            let err = parse(&bytes, media_type).unwrap_err().reason;
            assert!(
                err.contains("`payload` is not valid unpadded base64url"),
                "{id}: {err}"
            );
            continue;
        }
        let env = parse(&bytes, media_type).unwrap_or_else(|e| panic!("{id}: {}", e.reason));
        check_fields(&id, &case, &env);
        parsed += 1;
        cose += usize::from(media_type == COSE_MEDIA_TYPE);
        if case["signature_cryptographically_valid"] != true {
            continue;
        }
        let key = Cert::from_der(&env.cert_chain[0]).unwrap().key;
        assert!(env.verify_signature(&key), "{id}");
        let mut altered = env.clone();
        *altered.signed_bytes.last_mut().unwrap() ^= 1;
        assert!(!altered.verify_signature(&key), "{id}");
        let mut altered = env.clone();
        altered.signature[0] ^= 1;
        assert!(!altered.verify_signature(&key), "{id}");
        // Same key, another algorithm: refused, not retried.
        let mut altered = env.clone();
        altered.alg = match env.alg {
            SignatureAlgorithm::Ps256 => SignatureAlgorithm::Ps384,
            _ => SignatureAlgorithm::Ps256,
        };
        assert!(!altered.verify_signature(&key), "{id}");
        verified += 1;
    }
    assert_eq!((parsed, verified, cose), (27, 27, 3));
}

/// The wrapper of a notation-core-go conformance vector, with the given certificate added:
/// the vectors carry none (upstream signs them with keys made at run time).
fn cert() -> Vec<u8> {
    let env = parse(
        &read("notation-go/internal/mock/testdata/ca_valid_sig_env.json"),
        JWS_MEDIA_TYPE,
    )
    .unwrap();
    env.cert_chain[0].clone()
}

fn extended<'a>(env: &'a Envelope, key: &str) -> &'a ExtendedAttribute {
    env.extended.iter().find(|a| a.key == key).unwrap()
}

#[test]
fn jws_conformance_reference_parses_once_it_has_a_chain() {
    let raw = read("notation-core-go/signature/jws/testdata/conformance.json");
    let err = parse(&raw, JWS_MEDIA_TYPE).unwrap_err().reason;
    assert!(err.contains("no certificate chain (`x5c`)"), "{err}");

    let mut doc: Value = serde_json::from_slice(&raw).unwrap();
    doc["header"]["x5c"] = json!([STANDARD.encode(cert())]);
    let env = parse(doc.to_string().as_bytes(), JWS_MEDIA_TYPE).unwrap();
    assert_eq!(env.alg, SignatureAlgorithm::Es256);
    assert_eq!(env.signing_scheme, SigningScheme::X509);
    assert_eq!(env.signing_time, Some(unix("2022-08-29T13:50:00Z")));
    assert_eq!(env.expiry, Some(unix("2099-08-30T13:50:00Z")));
    assert_eq!(env.payload, br#"{"key":"hello JWS"}"#);
    assert_eq!(
        env.signing_agent.as_deref(),
        Some("NotationConformanceTest/1.0.0")
    );
    let crit = extended(&env, "signedCritKey1");
    assert!(crit.critical);
    assert_eq!(crit.value, json!("signedCritValue1"));
    for key in ["signedKey1", "signedKey2", "signedKey3", "signedKey4"] {
        assert!(!extended(&env, key).critical, "{key}");
    }
    assert_eq!(env.extended.len(), 5);
    let signing_input = format!(
        "{}.{}",
        doc["protected"].as_str().unwrap(),
        doc["payload"].as_str().unwrap()
    );
    assert_eq!(env.signed_bytes, signing_input.as_bytes());
    assert_eq!(env.signature.len(), 64);
}

#[test]
fn cose_conformance_reference_parses_once_it_has_a_chain() {
    let doc: Value = serde_json::from_slice(&read(
        "notation-core-go/signature/cose/testdata/conformance.json",
    ))
    .unwrap();
    let raw = hex::decode(doc["expectedOutput"]["cborHex"].as_str().unwrap()).unwrap();
    let err = parse(&raw, COSE_MEDIA_TYPE).unwrap_err().reason;
    assert!(err.contains("no certificate chain (`x5chain"), "{err}");

    // Swap the unprotected map (not signed) for one that adds `x5chain`.
    let mut r = Reader::new(&raw);
    assert_eq!(r.head().unwrap().1, 18);
    assert_eq!(r.head().unwrap().1, 4);
    let start = r.pos();
    r.item().unwrap();
    let protected = &raw[start..r.pos()];
    r.item().unwrap();
    let rest = &raw[r.pos()..];
    let agent = "NotationConformanceTest/1.0.0";
    let der = cert();
    let mut unprotected = vec![0xa2, 0x18, 0x21];
    unprotected.extend(cbor::bstr_head(der.len()));
    unprotected.extend(&der);
    unprotected.extend([0x78, 27]);
    unprotected.extend(SIGNING_AGENT.as_bytes());
    unprotected.extend([0x78, agent.len() as u8]);
    unprotected.extend(agent.as_bytes());
    let envelope = [&[0xd2, 0x84][..], protected, &unprotected, rest].concat();

    let env = parse(&envelope, COSE_MEDIA_TYPE).unwrap();
    assert_eq!(env.alg, SignatureAlgorithm::Ps384);
    assert_eq!(env.signing_time, Some(1661321924));
    assert_eq!(env.expiry, Some(1661408324));
    assert_eq!(env.payload, b"hello COSE");
    assert_eq!(env.signing_agent.as_deref(), Some(agent));
    assert_eq!(env.cert_chain, vec![der]);
    let crit = extended(&env, "signedCritKey1");
    assert!(crit.critical);
    assert_eq!(crit.value, json!("signedCritValue1"));
    assert!(!extended(&env, "signedKey1").critical);
    assert_eq!(env.extended.len(), 2);
    assert_eq!(env.signature.len(), 384);
    // Sig_structure = ["Signature1", protected as encoded, h'', payload].
    let want = [
        &[0x84, 0x6a][..],
        b"Signature1",
        protected,
        &[0x40, 0x4a],
        b"hello COSE",
    ]
    .concat();
    assert_eq!(env.signed_bytes, want);
}
