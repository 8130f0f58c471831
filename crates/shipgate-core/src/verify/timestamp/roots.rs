//! RFC 3161 timestamps verified against trusted root certificates (a Notary Project `tsa:`
//! trust store) rather than the TSAs of a Sigstore trust root, as the Notary Project verifies
//! timestamp countersignatures (tspclient-go, notation-go):
//!
//! - the message imprint is a SHA-256/384/512 hash of the bytes timestamped (SHA-1 refused);
//! - some SignerInfo (the first that verifies wins) names its signing certificate with a
//!   SigningCertificateV2 attribute (RFC 5816; SHA-1 certificate hashes refused), that
//!   certificate is embedded in the token, matches the hash and signed the attributes;
//! - the signing certificate is a timestamping leaf (timeStamping as its only, critical, EKU)
//!   and chains through the token's certificates to a self-signed root of `roots`, each link
//!   meeting the Notary Project certificate requirements;
//! - every certificate of that chain is valid at genTime (notation-go verifies the TSA chain
//!   with the current time set to genTime, so a token stays verifiable after its TSA expires).
//!
//! Revocation of the TSA chain (OCSP/CRL) is not checked: the core makes no network calls.

use super::super::x509::profile::{self, Purpose};
use super::*;

/// Verifies a DER RFC 3161 token over `signature` against the trusted `roots`.
pub(crate) fn verify_with_roots(
    der: &[u8],
    signature: &[u8],
    roots: &[Cert],
) -> Result<VerifiedTimestamp, Rejection> {
    let tokens = parse_all(der)?;
    let Some(first) = tokens.first() else {
        return Err(malformed("signerInfos"));
    };
    if first.imprint_hash == Hash::Sha1 {
        return Err(reject(
            "the RFC 3161 timestamp's message imprint is a SHA-1 hash, which is refused",
        ));
    }
    if first.imprint_hash.digest(signature).as_slice() != first.imprint {
        return Err(reject(
            "the RFC 3161 timestamp is over other data than this signature (message imprint \
             mismatch): it timestamps another signature",
        ));
    }
    if roots.is_empty() {
        return Err(reject(
            "no trusted TSA root certificate is configured, so the RFC 3161 timestamp cannot \
             be verified",
        ));
    }
    let embedded: Vec<Cert> = first
        .embedded
        .iter()
        .filter_map(|der| Cert::from_der(der).ok())
        .collect();
    let mut why = None;
    for token in &tokens {
        match check_signer(token, &embedded, roots) {
            Ok(v) => return Ok(v),
            Err(r) => why = Some(r),
        }
    }
    Err(why.unwrap_or_else(|| malformed("signerInfos")))
}

/// Checks one SignerInfo of the token and the chain of its signing certificate.
fn check_signer(
    t: &Token<'_>,
    embedded: &[Cert],
    roots: &[Cert],
) -> Result<VerifiedTimestamp, Rejection> {
    let attrs = attributes(t)?;
    let (hash, cert_hash) = match attrs.cert_id {
        Some(id) if attrs.cert_id_v2 => id,
        _ => {
            return Err(reject(
                "the RFC 3161 timestamp has no SigningCertificateV2 attribute naming its \
                 signing certificate (RFC 5816)",
            ))
        }
    };
    if hash == Hash::Sha1 {
        return Err(reject(
            "the RFC 3161 timestamp names its signing certificate by a SHA-1 hash, which is \
             refused",
        ));
    }
    if t.digest_alg.digest(t.tst_info).as_slice() != attrs.message_digest {
        return Err(reject(
            "the RFC 3161 timestamp's message-digest attribute does not match its TSTInfo \
             (the timestamp was altered)",
        ));
    }
    let alg = x509_alg(t.signature_alg, t.digest_alg)
        .ok_or_else(|| reject("the RFC 3161 timestamp is signed with an unsupported algorithm"))?;
    let signer = embedded
        .iter()
        .find(|c| sid_names(&t.sid, c))
        .ok_or_else(|| {
            reject("the RFC 3161 timestamp does not embed the certificate of its signer")
        })?;
    if hash.digest(&signer.der).as_slice() != cert_hash {
        return Err(reject(
            "the RFC 3161 timestamp's signing certificate does not match the hash in its \
             SigningCertificateV2 attribute",
        ));
    }
    // The signed attributes are signed as a SET OF (tag 0x31), not as the [0] they are sent as.
    let mut signed = t.signed_attrs.full.to_vec();
    if let Some(tag) = signed.first_mut() {
        *tag = 0x31;
    }
    if !signer.key.verify_x509(&alg, &signed, t.signature) {
        return Err(reject(
            "the RFC 3161 timestamp's signature does not verify with its signing certificate",
        ));
    }
    let chain = chain_to_root(signer, embedded, roots)?;
    profile::check_chain(&chain, Purpose::TimeStamping).map_err(|e| {
        reject(format!(
            "the RFC 3161 timestamp's certificate chain is invalid: {e}"
        ))
    })?;
    let g = t.gen_time_ns;
    if let Some(c) = chain.iter().find(|c| !valid_at_ns(c, g)) {
        return Err(reject(format!(
            "the RFC 3161 timestamp's time {} is outside the validity {}..{} of TSA certificate \
             {}",
            fmt_ns(g),
            fmt_time(c.not_before),
            fmt_time(c.not_after),
            c.subject()
        )));
    }
    Ok(VerifiedTimestamp {
        gen_time_ns: g,
        tsa: signer.subject(),
        accuracy_ns: t.accuracy_ns.ok_or_else(|| malformed("accuracy"))?,
    })
}

/// The path from `signer` through the token's certificates to a root of `roots`, signer first
/// and root last; a root is preferred at every step, so a trust store anchors at the first
/// certificate it signed even when the token also embeds a cross-signed copy of that root.
fn chain_to_root<'c>(
    signer: &'c Cert,
    embedded: &'c [Cert],
    roots: &'c [Cert],
) -> Result<Vec<&'c Cert>, Rejection> {
    if roots.iter().any(|r| r.der == signer.der) {
        return Ok(vec![signer]);
    }
    let mut chain = vec![signer];
    let mut current = signer;
    while chain.len() < MAX_CHAIN {
        if let Some(root) = roots.iter().find(|r| current.is_signed_by(r)) {
            chain.push(root);
            return Ok(chain);
        }
        let next = embedded
            .iter()
            .find(|c| !chain.iter().any(|x| x.der == c.der) && current.is_signed_by(c));
        match next {
            Some(n) => {
                chain.push(n);
                current = n;
            }
            None => break,
        }
    }
    Err(reject(format!(
        "the RFC 3161 timestamp was signed by {}, whose certificate does not chain to a trusted \
         TSA root (an untrusted TSA)",
        signer.subject()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TSP: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/data/vectors/notation/tspclient-go/testdata"
    );

    fn roots() -> Vec<Cert> {
        let der = std::fs::read(format!("{TSP}/GlobalSignRootCA.crt")).unwrap();
        vec![Cert::from_der(&der)
            .or_else(|_| Cert::from_pem(std::str::from_utf8(&der).unwrap()))
            .unwrap()]
    }

    fn token(name: &str) -> Vec<u8> {
        std::fs::read(format!("{TSP}/{name}")).unwrap()
    }

    fn err(r: Result<VerifiedTimestamp, Rejection>, needle: &str) {
        match r {
            Ok(v) => panic!("accepted {v:?}, expected {needle:?}"),
            Err(Rejection { reason: m, .. }) => {
                assert!(m.contains(needle), "{m:?} lacks {needle:?}")
            }
        }
    }

    #[test]
    fn accuracy_is_seconds_millis_and_micros() {
        let acc = |der: &[u8]| accuracy_ns(&read_tlv(der).unwrap().0);
        assert_eq!(acc(&[0x30, 0x03, 0x02, 0x01, 0x02]), Some(2_000_000_000));
        let all = [
            0x30, 0x09, 0x02, 0x01, 0x01, 0x80, 0x01, 0x05, 0x81, 0x01, 0x07,
        ];
        assert_eq!(acc(&all), Some(1_005_007_000));
        assert_eq!(acc(&[0x30, 0x00]), Some(0));
        // Negative, oversized or unknown parts are malformed.
        assert_eq!(acc(&[0x30, 0x03, 0x02, 0x01, 0xff]), None);
        assert_eq!(acc(&[0x30, 0x07, 0x02, 0x05, 1, 0, 0, 0, 0]), None);
        assert_eq!(acc(&[0x30, 0x03, 0x04, 0x01, 0x01]), None);
    }

    #[test]
    fn tspclient_tokens() {
        let roots = roots();
        for name in [
            "TimeStampToken.p7s",
            "TimeStampTokenWithValidAndInvalidSignerInfos.p7s",
        ] {
            let v = verify_with_roots(&token(name), b"notation", &roots)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            // 2021-09-17T14:09:10Z, accurate to a second.
            assert_eq!(
                (v.secs(), v.accuracy_ns),
                (1_631_887_750, 1_000_000_000),
                "{name}"
            );
            assert!(
                v.tsa.contains("Globalsign TSA for Advanced - G4"),
                "{}",
                v.tsa
            );
        }
        for (name, needle) in [
            (
                "TimeStampTokenWithoutCertificate.p7s",
                "does not embed the certificate",
            ),
            ("TimeStampTokenWithInvalidSignature.p7s", "does not verify"),
            ("TimeStampTokenWithInvalidTSTInfo.p7s", "genTime"),
            (
                "TimeStampTokenWithMismatchCertHash.p7s",
                "does not match the hash",
            ),
            ("SHA1TimeStampToken.p7s", "unsupported hash"),
            (
                "TimeStampTokenWithoutSigningCertificate.p7s",
                "no SigningCertificateV2",
            ),
            ("TimeStampTokenWithSHA1CertHash.p7s", "SHA-1 hash"),
        ] {
            err(verify_with_roots(&token(name), b"notation", &roots), needle);
        }
    }
}
