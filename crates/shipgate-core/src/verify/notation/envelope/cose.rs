//! The COSE envelope (`application/cose`): a COSE_Sign1 (RFC 9052 §4.2), tagged 18 or not.

use std::fmt;

use super::cbor::{self, Item, Key, Reader};
use super::*;

/// COSE label of `x5chain` (RFC 9360).
const X5CHAIN: i128 = 33;

fn reject<T>(m: impl fmt::Display) -> Result<T, Rejection> {
    Err(Rejection::new(format!("the COSE envelope{m}")))
}

fn malformed(e: String) -> Rejection {
    Rejection::new(format!("the COSE envelope is not well-formed CBOR: {e}"))
}

fn label(key: Key<'_>) -> Label {
    match key {
        Key::Int(n) => Label::Int(n),
        Key::Text(t) => Label::Text(t.to_string()),
    }
}

pub(super) fn parse(bytes: &[u8]) -> Result<Envelope, Rejection> {
    let mut r = Reader::new(bytes);
    let (mut major, mut arg, _) = r.head().map_err(malformed)?;
    if major == 6 {
        if arg != 18 {
            return reject(format!(
                " carries CBOR tag {arg}; a COSE_Sign1 (tag 18) is expected"
            ));
        }
        (major, arg, _) = r.head().map_err(malformed)?;
    }
    if (major, arg) != (4, 4) {
        return reject(" is not a COSE_Sign1 (a CBOR array of four items)");
    }
    let start = r.pos();
    let Item::Bytes(protected) = r.item().map_err(malformed)? else {
        return reject("'s protected header is not a byte string");
    };
    // The protected header is signed as it was encoded (go-cose does the same).
    let raw_protected = bytes.get(start..r.pos()).unwrap_or_default();
    let Item::Map(unprotected) = r.item().map_err(malformed)? else {
        return reject("'s unprotected header is not a map");
    };
    let payload = match r.item().map_err(malformed)? {
        Item::Bytes(b) => b,
        Item::Null => return reject(" has a detached payload, which Notation does not use"),
        _ => return reject("'s payload is not a byte string"),
    };
    let Item::Bytes(signature) = r.item().map_err(malformed)? else {
        return reject("'s signature is not a byte string");
    };
    if !r.at_end() {
        return reject(" has bytes after the COSE_Sign1");
    }
    // An empty protected header is an empty map (RFC 9052 §3).
    let protected = if protected.is_empty() {
        Vec::new()
    } else {
        match cbor::decode_all(protected) {
            Ok(Item::Map(entries)) => entries,
            Ok(_) => return reject("'s protected header is not a CBOR map"),
            Err(e) => return reject(format!("'s protected header is not well-formed CBOR: {e}")),
        }
    };

    let mut p = Parts {
        format: Format::Cose,
        payload: payload.to_vec(),
        signature: signature.to_vec(),
        signed_bytes: sig_structure(raw_protected, payload),
        ..Parts::default()
    };
    protected_fields(protected, &mut p)?;
    unprotected_fields(unprotected, &mut p)?;
    finish(p)
}

/// `Sig_structure = ["Signature1", body_protected, external_aad = h'', payload]`, encoded.
fn sig_structure(raw_protected: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + raw_protected.len() + payload.len());
    out.push(0x84);
    out.push(0x6a);
    out.extend_from_slice(b"Signature1");
    out.extend_from_slice(raw_protected);
    out.push(0x40);
    out.extend_from_slice(&cbor::bstr_head(payload.len()));
    out.extend_from_slice(payload);
    out
}

fn protected_fields(entries: Vec<(Key<'_>, Item<'_>)>, p: &mut Parts) -> Result<(), Rejection> {
    for (key, value) in entries {
        p.labels.insert(label(key));
        match key {
            Key::Int(1) => p.alg = Some(alg(&value)?),
            Key::Int(2) => p.crit = Some(crit(&value)?),
            Key::Int(3) => p.content_type = Some(text(&value, "content type (label 3)")?),
            // RFC 9360 allows the chain in the protected header too.
            Key::Int(X5CHAIN) => p.cert_chain = chain(&value)?,
            Key::Text(SIGNING_SCHEME) => p.signing_scheme = Some(text(&value, SIGNING_SCHEME)?),
            Key::Text(SIGNING_TIME) => p.signing_time = Some(time(&value, SIGNING_TIME)?),
            Key::Text(AUTHENTIC_SIGNING_TIME) => {
                p.authentic_signing_time = Some(time(&value, AUTHENTIC_SIGNING_TIME)?)
            }
            Key::Text(EXPIRY) => p.expiry = Some(time(&value, EXPIRY)?),
            Key::Text(VERIFICATION_PLUGIN) => {
                p.verification_plugin = Some(text(&value, VERIFICATION_PLUGIN)?)
            }
            Key::Text(VERIFICATION_PLUGIN_MIN_VERSION) => {
                p.verification_plugin_min_version =
                    Some(text(&value, VERIFICATION_PLUGIN_MIN_VERSION)?)
            }
            _ => p.extended.push((label(key), cbor::to_json(&value))),
        }
    }
    Ok(())
}

fn unprotected_fields(entries: Vec<(Key<'_>, Item<'_>)>, p: &mut Parts) -> Result<(), Rejection> {
    for (key, value) in entries {
        // RFC 9052 §3: a label must not be in both buckets.
        if p.labels.contains(&label(key)) {
            return reject(format!(
                " carries label `{key}` in both the protected and the unprotected header"
            ));
        }
        match key {
            Key::Int(2) => return reject(" carries `crit` in the unprotected header"),
            Key::Int(X5CHAIN) => p.cert_chain = chain(&value)?,
            Key::Text(TIMESTAMP_SIGNATURE) => match value {
                Item::Bytes(b) => p.timestamp_token = Some(b.to_vec()),
                _ => return reject(format!("'s `{TIMESTAMP_SIGNATURE}` is not a byte string")),
            },
            Key::Text(SIGNING_AGENT) => p.signing_agent = Some(text(&value, SIGNING_AGENT)?),
            // Other unprotected headers change nothing a verifier decides.
            _ => {}
        }
    }
    Ok(())
}

fn alg(value: &Item<'_>) -> Result<SignatureAlgorithm, Rejection> {
    Ok(match value {
        Item::Int(-37) => SignatureAlgorithm::Ps256,
        Item::Int(-38) => SignatureAlgorithm::Ps384,
        Item::Int(-39) => SignatureAlgorithm::Ps512,
        Item::Int(-7) => SignatureAlgorithm::Es256,
        Item::Int(-35) => SignatureAlgorithm::Es384,
        Item::Int(-36) => SignatureAlgorithm::Es512,
        Item::Int(other) => {
            return reject(format!(
                "'s signature algorithm {other} is not supported (PS256 -37, PS384 -38, \
                 PS512 -39, ES256 -7, ES384 -35 and ES512 -36 are)"
            ))
        }
        Item::Text(name) => {
            return reject(format!(
                "'s signature algorithm `{name}` is not supported (COSE algorithms are \
                 integers: PS256 -37, PS384 -38, PS512 -39, ES256 -7, ES384 -35, ES512 -36)"
            ))
        }
        _ => return reject("'s `alg` (label 1) is not an integer"),
    })
}

fn crit(value: &Item<'_>) -> Result<Vec<Label>, Rejection> {
    let Item::Array(labels) = value else {
        return reject("'s `crit` (label 2) is not an array");
    };
    labels
        .iter()
        .map(|l| match l {
            // RFC 9052 §3.1: the generic parameters 0 to 8 must not be listed.
            Item::Int(n @ 0..=8) => reject(format!(
                "'s `crit` lists label {n}, which COSE does not allow (0 to 8 are reserved)"
            )),
            Item::Int(n) => Ok(Label::Int(*n)),
            Item::Text(t) => Ok(Label::Text((*t).to_string())),
            _ => reject("'s `crit` has an entry that is neither an integer nor text"),
        })
        .collect()
}

fn text(value: &Item<'_>, what: &str) -> Result<String, Rejection> {
    match value {
        Item::Text(t) => Ok((*t).to_string()),
        _ => reject(format!("'s `{what}` is not a text string")),
    }
}

/// An epoch date/time: tag 1 over an integer (RFC 8949 §3.4.2). Notation writes integers;
/// a fraction "SHOULD NOT be used", and a float is refused rather than rounded.
fn time(value: &Item<'_>, what: &str) -> Result<i64, Rejection> {
    match value {
        Item::Tag(1, inner) => match inner.as_ref() {
            Item::Int(n) => {
                i64::try_from(*n).or_else(|_| reject(format!("'s `{what}` ({n}) is out of range")))
            }
            _ => reject(format!(
                "'s `{what}` is not an integer epoch time (fractional times are not accepted)"
            )),
        },
        _ => reject(format!(
            "'s `{what}` is not a CBOR epoch date/time (tag 1 over an integer)"
        )),
    }
}

/// `x5chain`: one certificate as a byte string, or an array of them, leaf first.
fn chain(value: &Item<'_>) -> Result<Vec<Vec<u8>>, Rejection> {
    let certs = match value {
        Item::Bytes(b) => return Ok(vec![b.to_vec()]),
        Item::Array(certs) => certs,
        _ => return reject("'s `x5chain` (label 33) is neither a byte string nor an array"),
    };
    check_chain_len(certs.len(), Format::Cose)?;
    certs
        .iter()
        .enumerate()
        .map(|(i, c)| match c {
            Item::Bytes(b) => Ok(b.to_vec()),
            _ => reject(format!("'s `x5chain` entry {} is not a byte string", i + 1)),
        })
        .collect()
}
