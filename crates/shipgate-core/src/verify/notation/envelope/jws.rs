//! The JWS envelope (`application/jose+json`, RFC 7515 flattened JSON serialization).
//!
//! JSON objects are read with a visitor that refuses duplicate member names at every depth.
//! RFC 7515 §5.2 lets a parser keep the last duplicate instead, but two parsers keeping
//! different copies of a signed header is exactly the differential an attacker wants.

use std::fmt;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use time::format_description::well_known::Rfc3339;

use super::*;

/// Header names RFC 7515 registers; `crit` must not list them (RFC 7515 §4.1.11).
const REGISTERED: [&str; 11] = [
    "alg", "jku", "jwk", "kid", "x5u", "x5c", "x5t", "x5t#S256", "typ", "cty", "crit",
];

fn reject<T>(m: impl fmt::Display) -> Result<T, Rejection> {
    Err(Rejection::new(format!("the JWS envelope{m}")))
}

pub(super) fn parse(bytes: &[u8]) -> Result<Envelope, Rejection> {
    let mut top = object(bytes, "")?;
    if let Some(key) = top
        .keys()
        .find(|k| !matches!(k.as_str(), "payload" | "protected" | "header" | "signature"))
    {
        return reject(format!(
            " has a top-level member `{key}`; a Notary Project JWS envelope is flattened JSON \
             with only `payload`, `protected`, `header` and `signature`"
        ));
    }
    let protected_b64 = member(&top, "protected")?;
    let payload_b64 = member(&top, "payload")?;
    let mut p = Parts {
        format: Format::Jws,
        payload: b64url(payload_b64, "payload")?,
        signature: b64url(member(&top, "signature")?, "signature")?,
        signed_bytes: [protected_b64.as_bytes(), b".", payload_b64.as_bytes()].concat(),
        ..Parts::default()
    };
    let protected = object(&b64url(protected_b64, "protected")?, "'s protected header")?;
    let header = match top.remove("header") {
        None => Map::new(),
        Some(Value::Object(header)) => header,
        Some(_) => return reject("'s unprotected `header` is not a JSON object"),
    };
    // RFC 7515 §7.2.1: the two header sets must be disjoint.
    if let Some(key) = header.keys().find(|k| protected.contains_key(*k)) {
        return reject(format!(
            " carries `{key}` in both the protected and the unprotected header"
        ));
    }
    protected_fields(protected, &mut p)?;
    unprotected_fields(header, &mut p)?;
    finish(p)
}

fn protected_fields(protected: Map<String, Value>, p: &mut Parts) -> Result<(), Rejection> {
    for (key, value) in protected {
        p.labels.insert(Label::Text(key.clone()));
        match key.as_str() {
            "alg" => p.alg = Some(alg(&value)?),
            "cty" => p.content_type = Some(string(value, &key)?),
            "crit" => p.crit = Some(crit(value)?),
            SIGNING_SCHEME => p.signing_scheme = Some(string(value, &key)?),
            SIGNING_TIME => p.signing_time = Some(time(value, &key)?),
            AUTHENTIC_SIGNING_TIME => p.authentic_signing_time = Some(time(value, &key)?),
            EXPIRY => p.expiry = Some(time(value, &key)?),
            VERIFICATION_PLUGIN => p.verification_plugin = Some(string(value, &key)?),
            VERIFICATION_PLUGIN_MIN_VERSION => {
                p.verification_plugin_min_version = Some(string(value, &key)?)
            }
            _ => p.extended.push((Label::Text(key), value)),
        }
    }
    Ok(())
}

fn unprotected_fields(header: Map<String, Value>, p: &mut Parts) -> Result<(), Rejection> {
    for (key, value) in header {
        match key.as_str() {
            "x5c" => {
                let Value::Array(certs) = value else {
                    return reject("'s `x5c` is not an array");
                };
                check_chain_len(certs.len(), Format::Jws)?;
                for (i, cert) in certs.into_iter().enumerate() {
                    let what = format!("`x5c` certificate {}", i + 1);
                    p.cert_chain
                        .push(b64_std(&string(cert, &what)?, &what, MAX_CERT_LEN)?);
                }
            }
            TIMESTAMP_SIGNATURE => {
                let token = string(value, &key)?;
                p.timestamp_token = Some(b64_std(&token, &key, MAX_TIMESTAMP_LEN)?);
            }
            SIGNING_AGENT => p.signing_agent = Some(string(value, &key)?),
            // Integrity protection is what `crit` is for (RFC 7515 §4.1.11).
            "crit" => return reject(" carries `crit` in the unprotected header"),
            // Other unprotected headers change nothing a verifier decides (notation-go's own
            // vectors carry `io.cncf.notary.SigningAgent`).
            _ => {}
        }
    }
    Ok(())
}

fn alg(value: &Value) -> Result<SignatureAlgorithm, Rejection> {
    Ok(match value.as_str() {
        Some("PS256") => SignatureAlgorithm::Ps256,
        Some("PS384") => SignatureAlgorithm::Ps384,
        Some("PS512") => SignatureAlgorithm::Ps512,
        Some("ES256") => SignatureAlgorithm::Es256,
        Some("ES384") => SignatureAlgorithm::Es384,
        Some("ES512") => SignatureAlgorithm::Es512,
        Some(other) => {
            return reject(format!(
                "'s signature algorithm `{other}` is not supported \
                 (PS256, PS384, PS512, ES256, ES384 and ES512 are)"
            ))
        }
        None => return reject("'s `alg` is not a string"),
    })
}

fn crit(value: Value) -> Result<Vec<Label>, Rejection> {
    let Value::Array(names) = value else {
        return reject("'s `crit` is not an array");
    };
    names
        .into_iter()
        .map(|name| match name {
            Value::String(n) if REGISTERED.contains(&n.as_str()) => reject(format!(
                "'s `crit` lists `{n}`, a header JWS defines (only extensions may be listed)"
            )),
            Value::String(n) => Ok(Label::Text(n)),
            _ => reject("'s `crit` has an entry that is not a string"),
        })
        .collect()
}

fn string(value: Value, what: &str) -> Result<String, Rejection> {
    match value {
        Value::String(s) => Ok(s),
        _ => reject(format!("'s `{what}` is not a string")),
    }
}

/// An RFC 3339 date-time, as Unix seconds (a fraction is dropped).
fn time(value: Value, what: &str) -> Result<i64, Rejection> {
    let s = string(value, what)?;
    time::OffsetDateTime::parse(&s, &Rfc3339)
        .map(|t| t.unix_timestamp())
        .or_else(|e| {
            reject(format!(
                "'s `{what}` (`{s}`) is not an RFC 3339 date-time: {e}"
            ))
        })
}

fn member<'a>(top: &'a Map<String, Value>, name: &str) -> Result<&'a str, Rejection> {
    match top.get(name) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => reject(format!("'s `{name}` is not a string")),
        None => reject(format!(" has no `{name}`")),
    }
}

/// Base64url without padding, strictly (RFC 7515 §2): anything else is an integrity failure.
fn b64url(s: &str, what: &str) -> Result<Vec<u8>, Rejection> {
    URL_SAFE_NO_PAD
        .decode(s)
        .or_else(|e| reject(format!("'s `{what}` is not valid unpadded base64url: {e}")))
}

/// Standard base64 (`x5c`, RFC 7515 §4.1.6), refused unread when it is longer than `max`
/// bytes encode to (the decoded size is checked exactly later).
fn b64_std(s: &str, what: &str, max: usize) -> Result<Vec<u8>, Rejection> {
    if s.len() > (max / 3 + 1) * 4 {
        return reject(format!("'s {what} is larger than {} KiB", max / 1024));
    }
    STANDARD
        .decode(s)
        .or_else(|e| reject(format!("'s {what} is not valid base64: {e}")))
}

/// A JSON object, with duplicate member names refused at every depth.
fn object(bytes: &[u8], what: &str) -> Result<Map<String, Value>, Rejection> {
    match serde_json::from_slice::<Strict>(bytes) {
        Ok(Strict(Value::Object(map))) => Ok(map),
        Ok(_) => reject(format!("{what} is not a JSON object")),
        Err(e) => reject(format!("{what} is not valid JSON: {e}")),
    }
}

/// A [`Value`] whose objects never had a member name twice. serde_json bounds the nesting.
struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(Strict(v)) = seq.next_element()? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(de::Error::custom(format!("duplicate member `{key}`")));
            }
            let Strict(v) = map.next_value()?;
            out.insert(key, v);
        }
        Ok(Value::Object(out))
    }
}
