//! Entry points for the fuzz targets in `fuzz/`: thin wrappers that hand arbitrary bytes to the
//! crate-private parsers exactly as verification calls them, so the targets exercise the real
//! code and this module adds no logic. Not an API: hidden from the docs, may change any time.

use super::certificate::Leaf;
use super::x509::Cert;
use super::{asn1, dsse, legacy, rekor, timestamp, Subject, TrustRoot};

/// DER contents of the SCT-list extension OID (1.3.6.1.4.1.11129.2.4.2), which
/// `tbs_without_extension` cuts out to rebuild the RFC 6962 precertificate.
const SCT_LIST_OID: [u8; 10] = [0x2b, 0x06, 0x01, 0x04, 0x01, 0xd6, 0x79, 0x02, 0x04, 0x02];

/// A Notary Project envelope (`application/jose+json`, else `application/cose`), parsed as
/// verification parses it, and its signature checked with its own leaf key. True when it
/// parses.
pub fn notation_envelope(bytes: &[u8]) -> bool {
    [
        super::notation::JWS_MEDIA_TYPE,
        super::notation::COSE_MEDIA_TYPE,
    ]
    .iter()
    .any(|media_type| {
        let Ok(e) = super::notation::envelope::parse(bytes, media_type) else {
            return false;
        };
        if let Some(leaf) = e.cert_chain.first().and_then(|d| Cert::from_der(d).ok()) {
            let _ = e.verify_signature(&leaf.key);
        }
        true
    })
}

/// What a Notary Project envelope's signature covers, the signature, and the leaf certificate
/// (DER): what the benchmark's crypto floor verifies. `None` when it does not parse.
pub fn notation_signed_parts(
    bytes: &[u8],
    media_type: &str,
) -> Option<(Vec<u8>, Vec<u8>, Vec<u8>)> {
    let e = super::notation::envelope::parse(bytes, media_type).ok()?;
    let leaf = e.cert_chain.into_iter().next()?;
    Some((e.signed_bytes, e.signature, leaf))
}

/// An RFC 3161 `TimeStampResp` / `TimeStampToken` (DER) over `signature`, verified against the
/// TSAs of `root` as a bundle's timestamp is. Returns how many verified (0 or 1).
pub fn rfc3161_timestamp(der: &[u8], signature: &[u8], root: &TrustRoot) -> usize {
    let _ = timestamp::claimed_gen_time(der);
    timestamp::Timestamps::verify(&[der.to_vec()], signature, root)
        .verified
        .len()
}

/// The cosign `rfc3161timestamp` annotation (JSON around base64 DER), decoded as a legacy
/// signature's timestamp is.
pub fn rfc3161_annotation(json: &str) -> Option<Vec<u8>> {
    legacy::annotation_timestamp(json).ok()
}

/// A Rekor entry body (the JSON the log stores: hashedrekord, dsse, intoto; v1 and v2).
pub fn rekor_body(bytes: &[u8]) -> bool {
    rekor::Body::parse(bytes).is_ok()
}

/// A cosign `dev.sigstore.cosign/bundle` annotation (SET, integrated time, base64 body),
/// verified against `root` as a legacy signature's log entry is.
pub fn rekor_bundle_annotation(json: &str, root: &TrustRoot) -> bool {
    legacy::rekor_entry(json, root).is_ok()
}

/// A signed-note checkpoint, checked against every log of `root` with a supported key.
/// Returns whether any log's signature verified.
pub fn rekor_checkpoint(note: &str, root: &TrustRoot) -> bool {
    root.tlogs.iter().any(|log| {
        log.key
            .as_ref()
            .is_some_and(|key| rekor::verify_checkpoint(note, log, key).is_ok())
    })
}

/// An X.509 certificate (DER): sliced by hand (`asn1`), decoded, read as a Fulcio leaf and
/// verified against `root` at its own notBefore. Returns whether it verified.
pub fn certificate_der(der: &[u8], root: &TrustRoot) -> bool {
    let _ = asn1::cert_parts(der);
    let _ = asn1::tbs_without_extension(der, &SCT_LIST_OID);
    let Ok(cert) = Cert::from_der(der) else {
        return false;
    };
    let at = cert.not_before;
    let leaf = Leaf::new(cert);
    leaf.verify_at(root, at).is_ok()
}

/// PEM text holding certificates, as cosign's certificate and chain annotations carry them.
pub fn certificate_pem(text: &str) -> usize {
    let _ = Cert::from_pem(text);
    asn1::pem_blocks(text, "CERTIFICATE", 10).map_or(0, |blocks| blocks.len())
}

/// A DSSE payload read as an in-toto Statement about `subject`, and its pre-authentication
/// encoding. Returns the predicate type when the statement names the subject.
pub fn dsse_statement(payload_type: &str, payload: &[u8], subject: &Subject) -> Option<String> {
    let _ = dsse::pae(payload_type, payload);
    dsse::check_statement(payload, subject).ok()
}

#[cfg(test)]
mod tests {
    //! The fuzz fixtures must let seeds reach the deep checks: a seed that no longer verifies
    //! would leave the targets fuzzing only the first parse error.
    use super::*;
    use base64::Engine as _;

    const FUZZ: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fuzz");

    fn conformance_root() -> TrustRoot {
        let json = std::fs::read(format!("{FUZZ}/keys/rekor2-happy-path.trusted_root.json"))
            .expect("fixture trust root");
        TrustRoot::from_json(&json).expect("parses")
    }

    #[test]
    fn a_timestamp_seed_verifies_and_a_flipped_byte_does_not() {
        let root = conformance_root();
        // The signature the rfc3161 target timestamps (the case's messageSignature).
        let sig = base64::engine::general_purpose::STANDARD
            .decode("MEYCIQDM0YxJn7VsUc7FvU7SBXelSzFUWewaeQlbhP5mbpVnawIhAPaZ5dns1a38KgelWWCs1SW1lyrXxVz2RtiiFKDOELlC")
            .expect("base64");
        // Seeds are deduplicated, so the case's timestamp may carry another case's name.
        let dir = format!("{FUZZ}/seeds/rfc3161");
        let mut der = std::fs::read_dir(&dir)
            .expect("seed dir")
            .filter_map(|e| std::fs::read(e.ok()?.path()).ok())
            .find(|der| rfc3161_timestamp(der, &sig, &root) == 1)
            .expect("a seed that verifies over the fixture signature");
        let last = der.len() - 1;
        der[last] ^= 1;
        assert_eq!(rfc3161_timestamp(&der, &sig, &root), 0);
        assert_eq!(
            rfc3161_timestamp(b"\x30\x84\xff\xff\xff\xff", &sig, &root),
            0
        );
    }

    #[test]
    fn a_checkpoint_seed_verifies_and_an_altered_one_does_not() {
        let root = conformance_root();
        let dir = format!("{FUZZ}/seeds/checkpoint");
        let verified: Vec<String> = std::fs::read_dir(&dir)
            .expect("seed dir")
            .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
            .filter(|note| rekor_checkpoint(note, &root))
            .collect();
        let note = verified
            .first()
            .expect("a seed signed by the fixture's log");
        assert!(!rekor_checkpoint(&note.replacen('\n', "x\n", 1), &root));
        assert!(!rekor_checkpoint("", &root));
    }

    #[test]
    fn garbage_is_refused_by_every_wrapper() {
        let root = conformance_root();
        for junk in [&b""[..], b"\x30\x80", b"{}", b"not json", &[0xff; 64]] {
            assert!(!rekor_body(junk));
            assert!(!certificate_der(junk, &root));
            let text = String::from_utf8_lossy(junk);
            assert!(!rekor_bundle_annotation(&text, &root));
            assert_eq!(certificate_pem(&text), 0);
            assert!(rfc3161_annotation(&text).is_none());
        }
    }
}
