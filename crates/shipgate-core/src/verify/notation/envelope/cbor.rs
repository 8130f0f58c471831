//! A small, bounded CBOR (RFC 8949) reader for COSE_Sign1 envelopes.
//!
//! It decodes with the rules go-cose (Notation's COSE library) sets: definite lengths only and
//! no duplicate map keys, so both read one envelope the same way. Map keys must be integers or
//! text (all COSE labels are). Depth and item count are bounded, and a declared length is
//! checked against the bytes left before anything is allocated for it.

use std::collections::BTreeSet;
use std::fmt;

/// Deepest nesting read (an envelope needs 3; extended attribute values get the rest).
const MAX_DEPTH: usize = 16;
/// Most items one reader decodes.
const MAX_ITEMS: usize = 16 * 1024;

/// A decoded CBOR data item, borrowing strings from the input.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Item<'a> {
    /// Major types 0 and 1 (−2⁶⁴ … 2⁶⁴−1).
    Int(i128),
    Bytes(&'a [u8]),
    Text(&'a str),
    Array(Vec<Item<'a>>),
    Map(Vec<(Key<'a>, Item<'a>)>),
    Tag(u64, Box<Item<'a>>),
    Bool(bool),
    /// `null` and `undefined`.
    Null,
    Float(f64),
    /// Any other simple value.
    Simple(u8),
}

/// A map key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Key<'a> {
    Int(i128),
    Text(&'a str),
}

impl fmt::Display for Key<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::Int(n) => write!(f, "{n}"),
            Key::Text(t) => f.write_str(t),
        }
    }
}

/// A position in a CBOR input.
pub(super) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    items: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader {
            buf,
            pos: 0,
            items: 0,
        }
    }

    pub fn pos(&self) -> usize {
        self.pos
    }

    pub fn at_end(&self) -> bool {
        self.pos >= self.buf.len()
    }

    fn take(&mut self, n: u64) -> Result<&'a [u8], String> {
        let end = usize::try_from(n)
            .ok()
            .and_then(|n| self.pos.checked_add(n))
            .filter(|end| *end <= self.buf.len())
            .ok_or("the CBOR ends in the middle of an item")?;
        let out = self
            .buf
            .get(self.pos..end)
            .ok_or("the CBOR ends in the middle of an item")?;
        self.pos = end;
        Ok(out)
    }

    fn uint(&mut self, len: u64) -> Result<u64, String> {
        Ok(self
            .take(len)?
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
    }

    /// The next item's major type, argument and additional information.
    pub fn head(&mut self) -> Result<(u8, u64, u8), String> {
        let first = self.uint(1)?;
        let (major, info) = ((first >> 5) as u8, (first & 0x1f) as u8);
        let arg = match info {
            0..=23 => u64::from(info),
            24 => self.uint(1)?,
            25 => self.uint(2)?,
            26 => self.uint(4)?,
            27 => self.uint(8)?,
            31 => return Err("indefinite-length CBOR items are not accepted".into()),
            _ => return Err(format!("CBOR additional information {info} is reserved")),
        };
        Ok((major, arg, info))
    }

    /// Reads one whole item.
    pub fn item(&mut self) -> Result<Item<'a>, String> {
        self.item_at(0)
    }

    fn item_at(&mut self, depth: usize) -> Result<Item<'a>, String> {
        if depth > MAX_DEPTH {
            return Err(format!("CBOR nesting is deeper than {MAX_DEPTH}"));
        }
        self.items += 1;
        if self.items > MAX_ITEMS {
            return Err(format!("the CBOR has more than {MAX_ITEMS} items"));
        }
        let (major, arg, info) = self.head()?;
        Ok(match major {
            0 => Item::Int(i128::from(arg)),
            1 => Item::Int(-1 - i128::from(arg)),
            2 => Item::Bytes(self.take(arg)?),
            3 => Item::Text(
                std::str::from_utf8(self.take(arg)?)
                    .map_err(|_| "a CBOR text string is not valid UTF-8")?,
            ),
            4 => {
                let n = self.room(arg, 1)?;
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    items.push(self.item_at(depth + 1)?);
                }
                Item::Array(items)
            }
            5 => {
                let n = self.room(arg, 2)?;
                let mut entries = Vec::with_capacity(n);
                let mut seen = BTreeSet::new();
                for _ in 0..n {
                    let key = match self.item_at(depth + 1)? {
                        Item::Int(i) => Key::Int(i),
                        Item::Text(t) => Key::Text(t),
                        _ => return Err("a CBOR map key is neither an integer nor text".into()),
                    };
                    if !seen.insert(key) {
                        return Err(format!("the CBOR map key `{key}` occurs twice"));
                    }
                    entries.push((key, self.item_at(depth + 1)?));
                }
                Item::Map(entries)
            }
            6 => Item::Tag(arg, Box::new(self.item_at(depth + 1)?)),
            _ => match info {
                20 => Item::Bool(false),
                21 => Item::Bool(true),
                22 | 23 => Item::Null,
                24 => Item::Simple(u8::try_from(arg).unwrap_or(u8::MAX)),
                25 => Item::Float(f16(u16::try_from(arg).unwrap_or(u16::MAX))),
                26 => Item::Float(f64::from(f32::from_bits(
                    u32::try_from(arg).unwrap_or(u32::MAX),
                ))),
                27 => Item::Float(f64::from_bits(arg)),
                _ => Item::Simple(info),
            },
        })
    }

    /// A count of items taking at least `min_bytes` each, refused when more than what is left
    /// could hold (so nothing is allocated for a forged length).
    fn room(&self, count: u64, min_bytes: u64) -> Result<usize, String> {
        let left = self.buf.len().saturating_sub(self.pos) as u64;
        match count.checked_mul(min_bytes) {
            Some(need) if need <= left => {
                usize::try_from(count).map_err(|_| "CBOR length is too large".to_string())
            }
            _ => Err("the CBOR ends in the middle of an item".into()),
        }
    }
}

/// Decodes `buf` as exactly one item.
pub(super) fn decode_all(buf: &[u8]) -> Result<Item<'_>, String> {
    let mut r = Reader::new(buf);
    let item = r.item()?;
    if !r.at_end() {
        return Err("there are bytes after the CBOR item".into());
    }
    Ok(item)
}

/// The head of a byte string of `len` bytes, shortest form (as go-cose encodes it).
pub(super) fn bstr_head(len: usize) -> Vec<u8> {
    let len = len as u64;
    match len {
        0..=23 => vec![0x40 | len as u8],
        24..=0xff => vec![0x58, len as u8],
        0x100..=0xffff => [&[0x59][..], &(len as u16).to_be_bytes()].concat(),
        0x1_0000..=0xffff_ffff => [&[0x5a][..], &(len as u32).to_be_bytes()].concat(),
        _ => [&[0x5b][..], &len.to_be_bytes()].concat(),
    }
}

/// An IEEE 754 half-precision float.
fn f16(bits: u16) -> f64 {
    let sign = if bits & 0x8000 == 0 { 1.0 } else { -1.0 };
    let exp = i32::from((bits >> 10) & 0x1f);
    let frac = f64::from(bits & 0x3ff);
    sign * match exp {
        0 => frac * 2f64.powi(-24),
        31 if frac == 0.0 => f64::INFINITY,
        31 => f64::NAN,
        e => (1.0 + frac / 1024.0) * 2f64.powi(e - 15),
    }
}

/// A best-effort JSON rendering of an extended attribute's value: byte strings as standard
/// base64 (as Go's `encoding/json` renders them), tags dropped, integer map keys as text.
pub(super) fn to_json(item: &Item<'_>) -> serde_json::Value {
    use base64::Engine as _;
    use serde_json::Value;
    match item {
        Item::Int(n) => i64::try_from(*n)
            .map(Value::from)
            .or_else(|_| u64::try_from(*n).map(Value::from))
            .unwrap_or_else(|_| Value::from(*n as f64)),
        Item::Bytes(b) => Value::String(base64::engine::general_purpose::STANDARD.encode(b)),
        Item::Text(t) => Value::String((*t).to_string()),
        Item::Array(items) => Value::Array(items.iter().map(to_json).collect()),
        Item::Map(entries) => Value::Object(
            entries
                .iter()
                .map(|(k, v)| (k.to_string(), to_json(v)))
                .collect(),
        ),
        Item::Tag(_, inner) => to_json(inner),
        Item::Bool(b) => Value::Bool(*b),
        Item::Null | Item::Simple(_) => Value::Null,
        Item::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
    }
}
