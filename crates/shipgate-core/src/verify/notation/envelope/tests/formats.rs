//! Rules of one encoding: JSON and base64url for JWS, CBOR for COSE.

use serde_json::{json, Value};

use super::support::{enc, p256, Spec, T0};
use super::*;

fn jws_reason(bytes: &[u8]) -> String {
    parse(bytes, JWS_MEDIA_TYPE).unwrap_err().reason
}

fn cose_reason(bytes: &[u8]) -> String {
    parse(bytes, COSE_MEDIA_TYPE).unwrap_err().reason
}

#[test]
fn jws_refuses_duplicate_members_anywhere() {
    let spec = Spec::default();
    let key = p256();
    let good = Value::Object(spec.protected_json()).to_string();
    let twice = good.replacen("{", r#"{"alg":"PS256","#, 1);
    let reason = jws_reason(&spec.jws_with(&key, &twice, spec.jws_header()));
    assert!(reason.contains("duplicate member `alg`"), "{reason}");
    let nested = good.replacen("{", r#"{"com.example.x":{"a":1,"a":2},"#, 1);
    let reason = jws_reason(&spec.jws_with(&key, &nested, spec.jws_header()));
    assert!(reason.contains("duplicate member `a`"), "{reason}");
    let doc = String::from_utf8(spec.jws(&key)).unwrap();
    let top = doc.replacen("{", r#"{"payload":"e30","#, 1);
    assert!(jws_reason(top.as_bytes()).contains("duplicate member `payload`"));
    // Names are matched exactly: `ALG` is an extension, and `alg` is then missing.
    let upper = good.replacen(r#""alg""#, r#""ALG""#, 1);
    let reason = jws_reason(&spec.jws_with(&key, &upper, spec.jws_header()));
    assert!(
        reason.contains("does not carry the signature algorithm"),
        "{reason}"
    );
}

#[test]
fn jws_members_are_strict() {
    let spec = Spec::default();
    let key = p256();
    let doc: Value = serde_json::from_slice(&spec.jws(&key)).unwrap();
    let with = |f: &dyn Fn(&mut Value)| {
        let mut d = doc.clone();
        f(&mut d);
        jws_reason(d.to_string().as_bytes())
    };
    let padded = with(&|d| {
        let p = d["payload"].as_str().unwrap().to_string();
        d["payload"] = json!(format!("{p}="));
    });
    assert!(
        padded.contains("`payload` is not valid unpadded base64url"),
        "{padded}"
    );
    let std_alphabet = with(&|d| d["signature"] = json!("ab+/"));
    assert!(std_alphabet.contains("`signature` is not valid unpadded base64url"));
    let bad_cert = with(&|d| d["header"]["x5c"] = json!(["not base64!"]));
    assert!(
        bad_cert.contains("`x5c` certificate 1 is not valid base64"),
        "{bad_cert}"
    );
    let extra = with(&|d| d["signatures"] = json!([]));
    assert!(extra.contains("top-level member `signatures`"), "{extra}");
    let missing = with(&|d| {
        d.as_object_mut().unwrap().remove("protected");
    });
    assert!(missing.contains("has no `protected`"), "{missing}");
    let both = with(&|d| d["header"]["cty"] = json!(PAYLOAD_MEDIA_TYPE));
    assert!(both.contains("`cty` in both the protected and the unprotected header"));
    let crit = with(&|d| d["header"]["crit"] = json!([]));
    assert!(crit.contains("`crit` in both"), "{crit}");
    let ts = with(&|d| d["header"][TIMESTAMP_SIGNATURE] = json!(""));
    assert!(
        ts.contains("`io.cncf.notary.timestampSignature` is empty"),
        "{ts}"
    );
    assert!(jws_reason(b"[]").contains("is not a JSON object"));
    assert!(jws_reason(b"{").contains("is not valid JSON"));

    // Unknown unprotected headers are ignored; a timestamp token is kept as bytes.
    let mut d = doc.clone();
    d["header"]["io.cncf.notary.SigningAgent"] = json!({"any": ["thing"]});
    d["header"][TIMESTAMP_SIGNATURE] = json!("MAMCAQE=");
    let env = parse(d.to_string().as_bytes(), JWS_MEDIA_TYPE).unwrap();
    assert_eq!(env.timestamp_token, Some(vec![0x30, 3, 2, 1, 1]));
}

#[test]
fn jws_header_values_must_have_their_types() {
    let spec = Spec::default();
    let key = p256();
    let cases: [(&str, Value, &str); 6] = [
        ("alg", json!("none"), "algorithm `none` is not supported"),
        ("alg", json!(-7), "`alg` is not a string"),
        ("crit", json!(SIGNING_SCHEME), "`crit` is not an array"),
        (
            "crit",
            json!(["alg", SIGNING_SCHEME]),
            "`crit` lists `alg`, a header JWS",
        ),
        (
            SIGNING_TIME,
            json!(T0),
            "`io.cncf.notary.signingTime` is not a string",
        ),
        (
            SIGNING_TIME,
            json!("yesterday"),
            "is not an RFC 3339 date-time",
        ),
    ];
    for (name, value, why) in cases {
        let mut protected = spec.protected_json();
        protected.insert(name.into(), value);
        let text = Value::Object(protected).to_string();
        let reason = jws_reason(&spec.jws_with(&key, &text, spec.jws_header()));
        assert!(reason.contains(why), "{reason}\n  does not say: {why}");
    }
    let not_object = spec.jws_with(&key, "[1]", spec.jws_header());
    assert!(jws_reason(&not_object).contains("protected header is not a JSON object"));
    // A fractional second is dropped; an offset is honoured.
    let mut protected = spec.protected_json();
    protected.insert(SIGNING_TIME.into(), json!("2023-11-15T00:13:20.75+02:00"));
    let text = Value::Object(protected).to_string();
    let env = parse(
        &spec.jws_with(&key, &text, spec.jws_header()),
        JWS_MEDIA_TYPE,
    )
    .unwrap();
    assert_eq!(env.signing_time, Some(T0));
}

#[test]
fn cose_tag_shape_and_trailing_bytes() {
    let spec = Spec::default();
    let key = p256();
    let good = spec.cose(&key);
    let untagged = &good[1..];
    assert!(parse(untagged, COSE_MEDIA_TYPE).is_ok());
    let sign = [&enc::head(6, 98)[..], untagged].concat();
    assert!(cose_reason(&sign).contains("carries CBOR tag 98; a COSE_Sign1 (tag 18)"));
    let mac0 = [&enc::head(6, 17)[..], untagged].concat();
    assert!(cose_reason(&mac0).contains("tag 17"));
    let three = [&[0xd2, 0x83][..], &untagged[1..]].concat();
    assert!(cose_reason(&three).contains("is not a COSE_Sign1"));
    let trailing = [&good[..], &[0x00]].concat();
    assert!(cose_reason(&trailing).contains("bytes after the COSE_Sign1"));
    // Every truncation is refused; every one-byte change parses or is refused, never panics.
    for cut in 0..good.len() {
        assert!(
            parse(&good[..cut], COSE_MEDIA_TYPE).is_err(),
            "cut at {cut}"
        );
    }
    for i in 0..good.len() {
        for flip in [0x01, 0x20, 0x80, 0xff] {
            let mut bad = good.clone();
            bad[i] ^= flip;
            let _ = parse(&bad, COSE_MEDIA_TYPE);
        }
    }
}

#[test]
fn cose_refuses_malformed_or_ambiguous_cbor() {
    let spec = Spec::default();
    let key = p256();
    let unprotected = spec.cose_unprotected();
    let with = |entries: Vec<(Vec<u8>, Vec<u8>)>| {
        let protected = enc::map(&entries);
        cose_reason(&spec.cose_with(&key, &protected, &unprotected))
    };
    let mut twice = spec.cose_protected();
    twice.push((enc::int(1), enc::int(-37)));
    assert!(with(twice).contains("the CBOR map key `1` occurs twice"));
    let mut indefinite = spec.cose_protected();
    indefinite.push((enc::tstr("com.example.x"), vec![0x9f, 0x01, 0xff]));
    assert!(with(indefinite).contains("indefinite-length CBOR items are not accepted"));
    let mut deep = spec.cose_protected();
    deep.push((
        enc::tstr("com.example.x"),
        [vec![0x81; 5000], vec![0x01]].concat(),
    ));
    assert!(with(deep).contains("CBOR nesting is deeper than 16"));
    let mut forged = spec.cose_protected();
    forged.push((
        enc::tstr("com.example.x"),
        vec![0x9b, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0],
    ));
    assert!(with(forged).contains("ends in the middle of an item"));
    let mut bad_key = spec.cose_protected();
    bad_key.push((enc::bstr(b"k"), enc::int(1)));
    assert!(with(bad_key).contains("map key is neither an integer nor text"));
    let mut bad_text = spec.cose_protected();
    bad_text.push((enc::tstr("com.example.x"), vec![0x62, 0xff, 0xfe]));
    assert!(with(bad_text).contains("not valid UTF-8"));

    let protected = enc::map(&spec.cose_protected());
    let mut both = unprotected.clone();
    both.push((enc::int(3), enc::tstr(PAYLOAD_MEDIA_TYPE)));
    let reason = cose_reason(&spec.cose_with(&key, &protected, &both));
    assert!(reason.contains("label `3` in both the protected and the unprotected"));
    let not_a_map = spec.cose_with(&key, &enc::arr(&[]), &unprotected);
    assert!(cose_reason(&not_a_map).contains("protected header is not a CBOR map"));
    let empty = spec.cose_with(&key, b"", &unprotected);
    assert!(cose_reason(&empty).contains("does not carry the signature algorithm"));
}

#[test]
fn cose_header_values_must_have_their_types() {
    let spec = Spec::default();
    let key = p256();
    let unprotected = spec.cose_unprotected();
    let replace = |label: Vec<u8>, value: Vec<u8>| {
        let mut entries = spec.cose_protected();
        entries.retain(|(k, _)| *k != label);
        entries.push((label, value));
        cose_reason(&spec.cose_with(&key, &enc::map(&entries), &unprotected))
    };
    let signing_time = || enc::tstr(SIGNING_TIME);
    let cases = [
        (
            enc::int(1),
            enc::tstr("ES256"),
            "algorithm `ES256` is not supported",
        ),
        (
            enc::int(2),
            enc::arr(&[enc::int(1)]),
            "`crit` lists label 1",
        ),
        (
            enc::int(2),
            enc::tstr(SIGNING_SCHEME),
            "`crit` (label 2) is not an array",
        ),
        (
            enc::int(3),
            enc::int(50),
            "content type (label 3)` is not a text string",
        ),
        (
            signing_time(),
            enc::int(T0),
            "is not a CBOR epoch date/time",
        ),
        (
            signing_time(),
            enc::tag(0, enc::tstr("2023-11-14T22:13:20Z")),
            "epoch",
        ),
        (
            signing_time(),
            enc::tag(1, vec![0xfb, 0x41, 0xd9, 0, 0, 0, 0, 0, 0]),
            "fractional",
        ),
    ];
    for (label, value, why) in cases {
        let reason = replace(label, value);
        assert!(reason.contains(why), "{reason}\n  does not say: {why}");
    }
    let mut crit = spec.cose_protected();
    crit.retain(|(k, _)| *k != enc::int(2));
    crit.push((
        enc::int(2),
        enc::arr(&[enc::tstr(SIGNING_SCHEME), enc::int(99)]),
    ));
    let reason = cose_reason(&spec.cose_with(&key, &enc::map(&crit), &unprotected));
    assert!(
        reason.contains("lists `99` in `crit` but does not carry it"),
        "{reason}"
    );
    // With label 99 present it is a critical extended attribute named "99".
    crit.push((enc::int(99), enc::map(&[(enc::int(1), enc::bstr(b"\x01"))])));
    let env = parse(
        &spec.cose_with(&key, &enc::map(&crit), &unprotected),
        COSE_MEDIA_TYPE,
    );
    let attr = &env.unwrap().extended[0];
    assert_eq!((attr.key.as_str(), attr.critical), ("99", true));
    assert_eq!(attr.value, json!({"1": "AQ=="}));
}

#[test]
fn cose_chain_and_unprotected_headers() {
    let spec = Spec::default();
    let key = p256();
    let protected = enc::map(&spec.cose_protected());
    let cert = vec![0x30, 0x00];
    let single = [(enc::int(33), enc::bstr(&cert))];
    let env = parse(&spec.cose_with(&key, &protected, &single), COSE_MEDIA_TYPE).unwrap();
    assert_eq!(env.cert_chain, vec![cert.clone()]);
    assert_eq!(env.signing_agent, None);
    let with_more = [
        (enc::int(33), enc::bstr(&cert)),
        (enc::tstr(TIMESTAMP_SIGNATURE), enc::bstr(b"\x30\x00")),
        (enc::tstr("io.cncf.notary.SigningAgent"), enc::int(7)),
        (enc::int(4), enc::bstr(b"kid")),
    ];
    let env = parse(
        &spec.cose_with(&key, &protected, &with_more),
        COSE_MEDIA_TYPE,
    )
    .unwrap();
    assert_eq!(env.timestamp_token, Some(vec![0x30, 0x00]));
    // The chain may be protected too (RFC 9360).
    let mut entries = spec.cose_protected();
    entries.push((enc::int(33), enc::arr(&[enc::bstr(&cert)])));
    let signed_chain = spec.cose_with(&key, &enc::map(&entries), &[]);
    assert_eq!(
        parse(&signed_chain, COSE_MEDIA_TYPE).unwrap().cert_chain,
        vec![cert]
    );

    let cases = [
        (
            enc::int(33),
            enc::tstr("cert"),
            "neither a byte string nor an array",
        ),
        (
            enc::int(33),
            enc::arr(&[enc::int(1)]),
            "`x5chain` entry 1 is not a byte string",
        ),
        (enc::int(2), enc::arr(&[]), "label `2` in both"),
        (
            enc::tstr(TIMESTAMP_SIGNATURE),
            enc::tstr("x"),
            "is not a byte string",
        ),
        (
            enc::tstr(SIGNING_AGENT),
            enc::int(1),
            "`io.cncf.notary.signingAgent` is not a text",
        ),
    ];
    for (label, value, why) in cases {
        let unprotected = [(label, value)];
        let reason = cose_reason(&spec.cose_with(&key, &protected, &unprotected));
        assert!(reason.contains(why), "{reason}\n  does not say: {why}");
    }
    let detached = enc::tag(
        18,
        enc::arr(&[
            enc::bstr(&protected),
            enc::map(&[]),
            vec![0xf6],
            enc::bstr(b"s"),
        ]),
    );
    assert!(cose_reason(&detached).contains("detached payload"));
    let token = vec![0u8; MAX_TIMESTAMP_LEN + 1];
    let big = [
        (enc::int(33), enc::bstr(b"\x30\x00")),
        (enc::tstr(TIMESTAMP_SIGNATURE), enc::bstr(&token)),
    ];
    assert!(cose_reason(&spec.cose_with(&key, &protected, &big)).contains("larger than 64 KiB"));
}

#[test]
fn many_headers_stay_cheap_and_bounded() {
    // Tens of thousands of critical extensions: set lookups, not a quadratic scan.
    let spec = Spec::default();
    let key = p256();
    let names: Vec<String> = (0..30_000).map(|i| format!("x{i}")).collect();
    let mut protected = spec.protected_json();
    let mut crit = vec![json!(SIGNING_SCHEME)];
    for name in &names {
        protected.insert(name.clone(), json!(1));
        crit.push(json!(name));
    }
    protected.insert("crit".into(), Value::Array(crit));
    let text = Value::Object(protected).to_string();
    let started = std::time::Instant::now();
    let env = parse(
        &spec.jws_with(&key, &text, spec.jws_header()),
        JWS_MEDIA_TYPE,
    )
    .unwrap();
    assert_eq!(env.extended.len(), names.len());
    assert!(env.extended.iter().all(|a| a.critical));
    assert!(started.elapsed() < std::time::Duration::from_secs(10));

    // CBOR: a reader decodes at most 16384 items.
    let mut entries = spec.cose_protected();
    entries.push((
        enc::tstr("com.example.x"),
        enc::arr(&vec![enc::int(0); 20_000]),
    ));
    let reason = cose_reason(&spec.cose_with(&key, &enc::map(&entries), &[]));
    assert!(reason.contains("more than 16384 items"), "{reason}");
}
