//! RFC 3161 timestamps: NOT verified yet (next issue). We only read the claimed `genTime`, so
//! that a bundle whose own timestamp contradicts the certificate's validity is refused, as
//! sigstore clients refuse it. Reading an unverified time can only make us reject, never accept.

use super::asn1::{children, read_tlv};

/// The `genTime` (Unix seconds) of a DER `TimeStampResp` or `TimeStampToken`, if it parses.
pub(crate) fn claimed_gen_time(der: &[u8]) -> Option<i64> {
    let (outer, _) = read_tlv(der)?;
    let parts = children(outer.content)?;
    // A TimeStampResp is SEQUENCE { status PKIStatusInfo, token ContentInfo }; a token is the
    // ContentInfo itself, SEQUENCE { contentType OID, [0] content }.
    let content_info = match parts.first()?.tag {
        0x30 => children(parts.get(1)?.content)?,
        0x06 => parts,
        _ => return None,
    };
    let signed_data = read_tlv(content_info.get(1)?.content)?.0; // [0] EXPLICIT SignedData
    let sd = children(signed_data.content)?;
    let encap = children(sd.get(2)?.content)?; // version, digestAlgorithms, encapContentInfo
    let octets = read_tlv(encap.get(1)?.content)?.0; // [0] EXPLICIT OCTET STRING
    let tst_info = read_tlv(octets.content)?.0;
    let fields = children(tst_info.content)?; // version, policy, messageImprint, serial, genTime
    let gen_time = fields.get(4).filter(|t| t.tag == 0x18)?;
    parse_generalized_time(gen_time.content)
}

/// `YYYYMMDDHHMMSS[.fff]Z` as Unix seconds.
fn parse_generalized_time(s: &[u8]) -> Option<i64> {
    let s = std::str::from_utf8(s).ok()?;
    let digits = s.get(..14)?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) || !s.ends_with('Z') {
        return None;
    }
    let n = |r: std::ops::Range<usize>| digits.get(r).and_then(|x| x.parse::<u16>().ok());
    let month = time::Month::try_from(u8::try_from(n(4..6)?).ok()?).ok()?;
    let date =
        time::Date::from_calendar_date(i32::from(n(0..4)?), month, u8::try_from(n(6..8)?).ok()?)
            .ok()?;
    let t = time::Time::from_hms(
        u8::try_from(n(8..10)?).ok()?,
        u8::try_from(n(10..12)?).ok()?,
        u8::try_from(n(12..14)?).ok()?,
    )
    .ok()?;
    Some(
        time::PrimitiveDateTime::new(date, t)
            .assume_utc()
            .unix_timestamp(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_gen_time_of_the_cosign_v3_bundle() {
        use base64::Engine as _;
        let bundle: serde_json::Value = serde_json::from_slice(
            &std::fs::read(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../shared/vectors/sigstore-rs/bundle_v03.json"
            ))
            .unwrap(),
        )
        .unwrap();
        let ts = bundle["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"]
            [0]["signedTimestamp"]
            .as_str()
            .unwrap();
        let der = base64::engine::general_purpose::STANDARD
            .decode(ts)
            .unwrap();
        // 2026-04-09T07:23:29Z
        assert_eq!(claimed_gen_time(&der), Some(1_775_719_409));
        assert_eq!(claimed_gen_time(&der[..100]), None);
        assert_eq!(
            parse_generalized_time(b"20260409072329.123Z"),
            Some(1_775_719_409)
        );
        assert_eq!(parse_generalized_time(b"2026040907232"), None);
    }
}
