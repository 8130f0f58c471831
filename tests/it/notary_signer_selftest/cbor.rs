//! A minimal CBOR reader (definite lengths only; checks heads are the shortest form).

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Item {
    Uint(u64),
    Neg(i64),
    Bytes(Vec<u8>),
    Text(String),
    Array(Vec<Item>),
    Map(Vec<(Item, Item)>),
    Tag(u64, Box<Item>),
}

fn read(b: &[u8]) -> (Item, &[u8]) {
    let (major, info) = (b[0] >> 5, b[0] & 0x1f);
    let width = match info {
        0..=23 => 0,
        24..=27 => 1 << (info - 24),
        _ => panic!("indefinite or reserved head {:#x}", b[0]),
    };
    let n = if width == 0 {
        info as u64
    } else {
        b[1..1 + width]
            .iter()
            .fold(0u64, |a, &x| (a << 8) | x as u64)
    };
    let min_width = match n {
        0..=23 => 0,
        24..=0xff => 1,
        0x100..=0xffff => 2,
        0x1_0000..=0xffff_ffff => 4,
        _ => 8,
    };
    assert_eq!(width, min_width, "non-canonical CBOR head");
    let rest = &b[1 + width..];
    let len = n as usize;
    match major {
        0 => (Item::Uint(n), rest),
        1 => (Item::Neg(-1 - n as i64), rest),
        2 => (Item::Bytes(rest[..len].to_vec()), &rest[len..]),
        3 => (
            Item::Text(String::from_utf8(rest[..len].to_vec()).unwrap()),
            &rest[len..],
        ),
        4 | 5 => {
            let mut rest = rest;
            let mut items = Vec::new();
            for _ in 0..len * (major as usize - 3) {
                let (i, r) = read(rest);
                items.push(i);
                rest = r;
            }
            if major == 4 {
                return (Item::Array(items), rest);
            }
            let mut pairs = Vec::new();
            let mut it = items.into_iter();
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                pairs.push((k, v));
            }
            (Item::Map(pairs), rest)
        }
        6 => {
            let (i, r) = read(rest);
            (Item::Tag(n, Box::new(i)), r)
        }
        _ => panic!("unexpected major type {major}"),
    }
}

pub(super) fn decode(b: &[u8]) -> Item {
    let (i, rest) = read(b);
    assert!(rest.is_empty(), "trailing bytes after CBOR item");
    i
}

pub(super) fn text(s: &str) -> Item {
    Item::Text(s.to_string())
}

pub(super) fn get<'a>(map: &'a Item, key: &Item) -> Option<&'a Item> {
    let Item::Map(pairs) = map else {
        panic!("not a map: {map:?}")
    };
    pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

/// Deterministic key order for the key kinds COSE headers use: small uints, then text by
/// (length, bytes) — what bytewise order of the encodings gives.
pub(super) fn sorted_keys(map: &Item) -> bool {
    let Item::Map(pairs) = map else { return false };
    let rank = |k: &Item| match k {
        Item::Uint(n) => (0, *n as usize, Vec::new()),
        Item::Text(s) => (3, s.len(), s.as_bytes().to_vec()),
        other => panic!("unexpected key {other:?}"),
    };
    pairs.windows(2).all(|w| rank(&w[0].0) < rank(&w[1].0))
}

/// A CBOR byte-string head + bytes, written here for the Sig_structure.
pub(super) fn bstr(b: &[u8]) -> Vec<u8> {
    let mut out = match b.len() {
        n if n < 24 => vec![0x40 | n as u8],
        n if n < 256 => vec![0x58, n as u8],
        n => vec![0x59, (n >> 8) as u8, n as u8],
    };
    out.extend_from_slice(b);
    out
}
