//! A minimal DER encoder (definite, minimal lengths; DER-sorted SET OF) and the little DER
//! reading the TSA needs (issuer and serial number of a certificate).

use super::keys::HashAlg;

/// DER TLV with a definite, minimal length.
pub(super) fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    if content.len() < 0x80 {
        out.push(content.len() as u8);
    } else {
        let be = content.len().to_be_bytes();
        let skip = be.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (be.len() - skip) as u8);
        out.extend_from_slice(&be[skip..]);
    }
    out.extend_from_slice(content);
    out
}
pub(super) fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}
/// SET OF: DER orders the elements by their encodings.
pub(super) fn set_of(mut parts: Vec<Vec<u8>>) -> Vec<u8> {
    parts.sort();
    tlv(0x31, &parts.concat())
}
pub(super) fn oid(arcs: &[u64]) -> Vec<u8> {
    let mut body = Vec::new();
    for arc in std::iter::once(arcs[0] * 40 + arcs[1]).chain(arcs[2..].iter().copied()) {
        let mut b = vec![(arc & 0x7f) as u8];
        let mut v = arc >> 7;
        while v > 0 {
            b.push(0x80 | (v & 0x7f) as u8);
            v >>= 7;
        }
        body.extend(b.iter().rev());
    }
    tlv(0x06, &body)
}
/// INTEGER from unsigned big-endian bytes (minimal, with a 0x00 if the top bit is set).
pub(super) fn uint(be: &[u8]) -> Vec<u8> {
    let skip = be.iter().take_while(|&&b| b == 0).count().min(be.len() - 1);
    let mut body = if be[skip] & 0x80 != 0 {
        vec![0]
    } else {
        vec![]
    };
    body.extend_from_slice(&be[skip..]);
    tlv(0x02, &body)
}
pub(super) fn octets(b: &[u8]) -> Vec<u8> {
    tlv(0x04, b)
}
/// AlgorithmIdentifier of a hash, parameters NULL or absent.
pub(super) fn hash_alg_id(h: HashAlg, null: bool) -> Vec<u8> {
    let mut parts = vec![oid(h.oid())];
    if null {
        parts.push(vec![0x05, 0x00]);
    }
    seq(&parts)
}

/// Splits the first DER element of `b`: (tag, content, whole element, rest).
fn der_split(b: &[u8]) -> (u8, &[u8], &[u8], &[u8]) {
    let (len, hdr) = if b[1] < 0x80 {
        (b[1] as usize, 2)
    } else {
        let n = (b[1] & 0x7f) as usize;
        (
            b[2..2 + n]
                .iter()
                .fold(0usize, |a, &x| (a << 8) | x as usize),
            2 + n,
        )
    };
    (b[0], &b[hdr..hdr + len], &b[..hdr + len], &b[hdr + len..])
}

/// (issuer Name, serialNumber INTEGER) of a certificate, both as complete DER elements.
pub(super) fn issuer_and_serial(cert: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let tbs = der_split(der_split(cert).1).1;
    let rest = if tbs[0] == 0xa0 {
        der_split(tbs).3
    } else {
        tbs
    }; // [0] version
    let (_, _, serial, rest) = der_split(rest);
    let issuer = der_split(der_split(rest).3).2; // skip signature AlgorithmIdentifier
    (issuer.to_vec(), serial.to_vec())
}
