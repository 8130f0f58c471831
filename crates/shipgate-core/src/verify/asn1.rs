//! Just enough DER and PEM handling to slice certificates exactly as they were signed.
//!
//! `x509-cert` decodes certificates into structures; signatures, however, cover the original
//! bytes, and the RFC 6962 precertificate is the TBS with one extension cut out. This module
//! walks DER by hand for those two jobs. Everything is bounds-checked: no indexing on input.

/// One DER element: its tag, its whole encoding and its contents.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tlv<'a> {
    pub tag: u8,
    pub full: &'a [u8],
    pub content: &'a [u8],
}

/// Reads one DER element from the start of `input`; returns it and what follows.
/// Only single-byte tags and definite lengths up to 4 length bytes (DER never needs more here).
pub(crate) fn read_tlv(input: &[u8]) -> Option<(Tlv<'_>, &[u8])> {
    let (&tag, rest) = input.split_first()?;
    if tag & 0x1f == 0x1f {
        return None; // multi-byte tags never occur in the structures we walk
    }
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        first as usize
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 {
            return None; // indefinite or absurd lengths
        }
        let (bytes, after) = rest.split_at_checked(n)?;
        rest = after;
        let mut len = 0usize;
        for &b in bytes {
            len = (len << 8) | b as usize;
        }
        len
    };
    let header = input.len() - rest.len();
    let (content, after) = rest.split_at_checked(len)?;
    let full = input.get(..header + len)?;
    Some((Tlv { tag, full, content }, after))
}

/// All elements inside `content`, in order; `None` if any is malformed.
pub(crate) fn children(mut content: &[u8]) -> Option<Vec<Tlv<'_>>> {
    let mut out = Vec::new();
    while !content.is_empty() {
        let (tlv, rest) = read_tlv(content)?;
        out.push(tlv);
        content = rest;
        if out.len() > 4096 {
            return None;
        }
    }
    Some(out)
}

/// Appends a DER header for `tag` and `len`.
pub(crate) fn push_header(out: &mut Vec<u8>, tag: u8, len: usize) {
    out.push(tag);
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = (len as u32).to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        let significant = bytes.get(skip..).unwrap_or(&[]);
        out.push(0x80 | significant.len() as u8);
        out.extend_from_slice(significant);
    }
}

/// The parts of a certificate a signature check needs, sliced from its DER.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CertParts<'a> {
    /// The TBSCertificate, exactly as signed.
    pub tbs: &'a [u8],
    pub issuer: &'a [u8],
    pub subject: &'a [u8],
    pub spki: &'a [u8],
}

/// Slices `Certificate ::= SEQUENCE { tbs, signatureAlgorithm, signature }`.
pub(crate) fn cert_parts(der: &[u8]) -> Option<CertParts<'_>> {
    let (cert, rest) = read_tlv(der)?;
    if cert.tag != 0x30 || !rest.is_empty() {
        return None;
    }
    let (tbs, _) = read_tlv(cert.content)?;
    if tbs.tag != 0x30 {
        return None;
    }
    let fields = children(tbs.content)?;
    // [0] version is optional; then serial, signature, issuer, validity, subject, spki.
    let offset = usize::from(fields.first()?.tag == 0xa0);
    let issuer = fields.get(offset + 2)?.full;
    let subject = fields.get(offset + 4)?.full;
    let spki = fields.get(offset + 5)?.full;
    Some(CertParts {
        tbs: tbs.full,
        issuer,
        subject,
        spki,
    })
}

/// The TBS of `cert_der` without the extension whose DER-encoded OID contents are `oid`
/// (the RFC 6962 precertificate TBS, when `oid` is the SCT list extension).
pub(crate) fn tbs_without_extension(cert_der: &[u8], oid: &[u8]) -> Option<Vec<u8>> {
    let parts = cert_parts(cert_der)?;
    let (tbs, _) = read_tlv(parts.tbs)?;
    let mut body = Vec::with_capacity(tbs.content.len());
    let mut removed = false;
    for field in children(tbs.content)? {
        if field.tag != 0xa3 {
            body.extend_from_slice(field.full);
            continue;
        }
        let (seq, rest) = read_tlv(field.content)?;
        if seq.tag != 0x30 || !rest.is_empty() {
            return None;
        }
        let mut exts = Vec::with_capacity(seq.content.len());
        for ext in children(seq.content)? {
            let (id, _) = read_tlv(ext.content)?;
            if id.tag == 0x06 && id.content == oid {
                removed = true;
            } else {
                exts.extend_from_slice(ext.full);
            }
        }
        let mut seq_out = Vec::with_capacity(exts.len() + 6);
        push_header(&mut seq_out, 0x30, exts.len());
        seq_out.extend_from_slice(&exts);
        push_header(&mut body, 0xa3, seq_out.len());
        body.extend_from_slice(&seq_out);
    }
    if !removed {
        return None;
    }
    let mut out = Vec::with_capacity(body.len() + 6);
    push_header(&mut out, 0x30, body.len());
    out.extend_from_slice(&body);
    Some(out)
}

/// Largest PEM text we accept for one certificate or key.
pub(crate) const MAX_PEM_LEN: usize = 64 * 1024;

/// The DER contents of each `-----BEGIN <label>-----` block in `text`, in order.
/// Blocks with another label are an error, as is anything that is not base64 inside a block.
pub(crate) fn pem_blocks(
    text: &str,
    label: &str,
    max_blocks: usize,
) -> Result<Vec<Vec<u8>>, String> {
    use base64::Engine as _;
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        match current.as_mut() {
            None if line == begin => current = Some(String::new()),
            None if line.starts_with("-----BEGIN ") => {
                return Err(format!("expected a PEM `{label}` block, found `{line}`"));
            }
            None => {} // text outside blocks is ignored, as RFC 7468 allows
            Some(b64) if line == end => {
                let der = base64::engine::general_purpose::STANDARD
                    .decode(b64.as_bytes())
                    .map_err(|e| format!("PEM `{label}` block is not valid base64: {e}"))?;
                out.push(der);
                current = None;
                if out.len() > max_blocks {
                    return Err(format!("more than {max_blocks} PEM `{label}` blocks"));
                }
            }
            Some(_) if line.starts_with("-----") => {
                return Err(format!("unterminated PEM `{label}` block"));
            }
            Some(b64) => b64.push_str(line),
        }
    }
    if current.is_some() {
        return Err(format!("unterminated PEM `{label}` block"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_short_and_long_lengths() {
        let (t, rest) = read_tlv(&[0x04, 0x02, 0xaa, 0xbb, 0xff]).unwrap();
        assert_eq!(
            (t.tag, t.content, rest),
            (0x04, &[0xaa, 0xbb][..], &[0xff][..])
        );
        let mut long = vec![0x04, 0x81, 0x80];
        long.extend(std::iter::repeat_n(7u8, 0x80));
        let (t, rest) = read_tlv(&long).unwrap();
        assert_eq!(t.content.len(), 0x80);
        assert!(rest.is_empty());
        assert!(read_tlv(&[0x04, 0x05, 0x00]).is_none());
        assert!(read_tlv(&[0x04, 0x80]).is_none());
        let mut out = Vec::new();
        push_header(&mut out, 0x30, 0x1234);
        assert_eq!(out, [0x30, 0x82, 0x12, 0x34]);
    }

    #[test]
    fn pem_rejects_garbage() {
        assert!(pem_blocks(
            "-----BEGIN PUBLIC KEY-----\n!!\n-----END PUBLIC KEY-----",
            "PUBLIC KEY",
            1
        )
        .is_err());
        assert!(pem_blocks("-----BEGIN PUBLIC KEY-----\nAAAA\n", "PUBLIC KEY", 1).is_err());
        assert!(pem_blocks(
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
            "PUBLIC KEY",
            1
        )
        .is_err());
        assert_eq!(pem_blocks("", "PUBLIC KEY", 1).unwrap().len(), 0);
    }
}
