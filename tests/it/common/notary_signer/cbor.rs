//! A minimal deterministic CBOR encoder for COSE_Sign1.

use serde_json::Value;

/// A CBOR data item: the subset COSE_Sign1 needs, encoded deterministically (shortest heads,
/// map keys sorted by their encoding as RFC 8949 §4.2.1 says).
#[derive(Debug, Clone, PartialEq)]
pub enum Cbor {
    Int(i64),
    Bytes(Vec<u8>),
    Text(String),
    Array(Vec<Cbor>),
    Map(Vec<(Cbor, Cbor)>),
    Tag(u64, Box<Cbor>),
    Bool(bool),
}

fn cbor_head(major: u8, n: u64, out: &mut Vec<u8>) {
    let m = major << 5;
    match n {
        0..=23 => out.push(m | n as u8),
        24..=0xff => out.extend([m | 24, n as u8]),
        0x100..=0xffff => out.extend([&[m | 25][..], &(n as u16).to_be_bytes()].concat()),
        0x1_0000..=0xffff_ffff => out.extend([&[m | 26][..], &(n as u32).to_be_bytes()].concat()),
        _ => out.extend([&[m | 27][..], &n.to_be_bytes()].concat()),
    }
}

impl Cbor {
    pub fn text(s: &str) -> Cbor {
        Cbor::Text(s.to_string())
    }
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            Cbor::Int(n) if *n >= 0 => cbor_head(0, *n as u64, &mut out),
            Cbor::Int(n) => cbor_head(1, (-1 - *n) as u64, &mut out),
            Cbor::Bytes(b) => {
                cbor_head(2, b.len() as u64, &mut out);
                out.extend_from_slice(b);
            }
            Cbor::Text(s) => {
                cbor_head(3, s.len() as u64, &mut out);
                out.extend_from_slice(s.as_bytes());
            }
            Cbor::Array(items) => {
                cbor_head(4, items.len() as u64, &mut out);
                items.iter().for_each(|i| out.extend(i.encode()));
            }
            Cbor::Map(entries) => {
                let mut enc: Vec<(Vec<u8>, Vec<u8>)> = entries
                    .iter()
                    .map(|(k, v)| (k.encode(), v.encode()))
                    .collect();
                enc.sort();
                cbor_head(5, enc.len() as u64, &mut out);
                enc.into_iter()
                    .for_each(|(k, v)| out.extend(k.into_iter().chain(v)));
            }
            Cbor::Tag(t, inner) => {
                cbor_head(6, *t, &mut out);
                out.extend(inner.encode());
            }
            Cbor::Bool(b) => out.push(if *b { 0xf5 } else { 0xf4 }),
        }
        out
    }
    /// A JSON attribute value as CBOR (integers only; no null).
    pub fn from_json(v: &Value) -> Cbor {
        match v {
            Value::String(s) => Cbor::text(s),
            Value::Number(n) => Cbor::Int(n.as_i64().expect("integer attribute")),
            Value::Bool(b) => Cbor::Bool(*b),
            Value::Array(a) => Cbor::Array(a.iter().map(Cbor::from_json).collect()),
            Value::Object(m) => Cbor::Map(
                m.iter()
                    .map(|(k, v)| (Cbor::text(k), Cbor::from_json(v)))
                    .collect(),
            ),
            Value::Null => panic!("null has no Notary COSE form"),
        }
    }
}
