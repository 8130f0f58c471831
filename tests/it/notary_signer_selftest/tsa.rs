//! RFC 3161 tokens: checked by hand (a minimal DER reader and a CMS check) and, when the
//! `openssl` CLI is installed, with `openssl ts -verify`.

use aws_lc_rs::signature as sig;
use x509_cert::der::Decode as _;
use x509_cert::Certificate;

use super::{days, openssl, s, which_openssl};
use crate::common::notary_signer::*;

/// The elements inside `b`: (tag, content, whole element).
fn elems(mut b: &[u8]) -> Vec<(u8, &[u8], &[u8])> {
    let mut out = Vec::new();
    while !b.is_empty() {
        let (len, hdr) = match b[1] {
            l if l < 0x80 => (l as usize, 2),
            l => {
                let n = (l & 0x7f) as usize;
                (
                    b[2..2 + n]
                        .iter()
                        .fold(0usize, |a, &x| (a << 8) | x as usize),
                    2 + n,
                )
            }
        };
        out.push((b[0], &b[hdr..hdr + len], &b[..hdr + len]));
        b = &b[hdr + len..];
    }
    out
}

/// Checks an RFC 3161 token by hand: structure, imprint over `message`, signed attributes (DER
/// order, content type, message digest, ESS certHash) and the CMS signature with the TSA key.
/// Returns the TSTInfo genTime.
pub(super) fn check_token(token: &[u8], message: &[u8], tsa: &Tsa) -> String {
    let ci = elems(elems(token)[0].1);
    assert_eq!(
        ci[0].2,
        [6, 9, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 1, 7, 2],
        "id-signedData"
    );
    let sd = elems(elems(ci[1].1)[0].1);
    assert_eq!(sd[0].2, [2, 1, 3], "SignedData version 3");
    let encap = elems(sd[2].1);
    let tst_oid = [6, 11, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 1, 9, 16, 1, 4];
    assert_eq!(encap[0].2, tst_oid, "id-ct-TSTInfo");
    let tst_der = elems(elems(encap[1].1)[0].1)[0].2.to_vec(); // [0] { OCTET STRING { TSTInfo } }
    assert_eq!(sd[3].0, 0xa0, "certificates present");
    assert_eq!(
        elems(sd[3].1)[0].2,
        tsa.cert.der,
        "TSA certificate in the token"
    );
    let si = elems(elems(sd[4].1)[0].1);
    assert_eq!(si[0].2, [2, 1, 1], "SignerInfo version 1");
    assert_eq!(si[3].0, 0xa0, "signedAttrs [0]");
    let attrs = elems(si[3].1);
    assert!(
        attrs.windows(2).all(|w| w[0].2 < w[1].2),
        "signed attributes not in DER SET OF order"
    );
    let attr = |oid_tail: &[u8]| {
        let a = attrs
            .iter()
            .find(|a| elems(a.1)[0].1.ends_with(oid_tail))
            .expect("attribute");
        elems(elems(a.1)[1].1)[0].2.to_vec()
    };
    assert_eq!(attr(&[9, 3]), tst_oid, "contentType");
    let sha256 = |b: &[u8]| {
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, b)
            .as_ref()
            .to_vec()
    };
    assert_eq!(attr(&[9, 4])[2..], sha256(&tst_der), "messageDigest");
    let ess = attr(&[9, 16, 2, 47]); // SigningCertificateV2 { { ESSCertIDv2 { certHash } } }
    let cert_id = elems(elems(elems(&ess)[0].1)[0].1)[0].1.to_vec();
    assert_eq!(elems(&cert_id)[0].1, sha256(&tsa.cert.der), "ESS certHash");
    // The signature is over the attributes re-tagged as a SET.
    let mut signed = si[3].2.to_vec();
    signed[0] = 0x31;
    let signature = si[5].1;
    let tsa_cert = Certificate::from_der(&tsa.cert.der).unwrap();
    let key = tsa_cert
        .tbs_certificate()
        .subject_public_key_info()
        .subject_public_key
        .raw_bytes();
    sig::UnparsedPublicKey::new(&sig::ECDSA_P256_SHA256_ASN1, key)
        .verify(&signed, signature)
        .expect("CMS signature");
    // TSTInfo { version 1, policy, messageImprint { sha256, H(message) }, serial, genTime, accuracy }
    let tst = elems(elems(&tst_der)[0].1);
    assert_eq!(tst[0].2, [2, 1, 1]);
    let imprint = elems(tst[2].1);
    assert_eq!(
        elems(imprint[0].1)[0].1,
        [0x60, 0x86, 0x48, 1, 0x65, 3, 4, 2, 1],
        "sha256"
    );
    assert_eq!(imprint[1].1, sha256(message), "imprint");
    assert_eq!(tst[4].0, 0x18, "GeneralizedTime");
    assert_eq!(tst[5].2, [0x30, 3, 2, 1, 1], "accuracy 1s");
    String::from_utf8(tst[4].1.to_vec()).unwrap()
}

#[test]
fn timestamp_tokens_check_out_here_and_with_openssl() {
    let message = b"the raw signature bytes";
    let sha = hex::encode(HashAlg::Sha256.digest(message));
    let gen_time = time::macros::datetime!(2024-01-02 03:04:05 UTC);
    let tsa = Tsa::new();
    let good = tsa.token(
        message,
        &TokenOptions {
            gen_time: Some(gen_time),
            ..Default::default()
        },
    );
    assert_eq!(check_token(&good, message, &tsa), "20240102030405Z");

    // Broken variants, checked structurally here.
    let bare = tsa.token(
        message,
        &TokenOptions {
            certificates: false,
            ..Default::default()
        },
    );
    let sd = elems(elems(elems(elems(&bare)[0].1)[1].1)[0].1);
    assert_eq!(sd.len(), 4, "no certificates field");
    let sha1 = tsa.token(
        message,
        &TokenOptions {
            cert_hash: CertHash::Sha1,
            ..Default::default()
        },
    );
    assert!(
        sha1.windows(20)
            .any(|w| w == HashAlg::Sha1.digest(&tsa.cert.der)),
        "SHA-1 certHash"
    );
    let sha384 = tsa.token(
        message,
        &TokenOptions {
            hash: Some(HashAlg::Sha384),
            ..Default::default()
        },
    );
    assert!(
        sha384
            .windows(48)
            .any(|w| w == HashAlg::Sha384.digest(message)),
        "SHA-384 imprint"
    );

    if !which_openssl() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let verify = |tsa: &Tsa, token: &[u8], digest: &str| {
        let (tok, root, cert) = (
            dir.path().join("t.der"),
            dir.path().join("root.pem"),
            dir.path().join("tsa.pem"),
        );
        std::fs::write(&tok, token).unwrap();
        std::fs::write(&root, tsa.root.pem()).unwrap();
        std::fs::write(&cert, tsa.cert.pem()).unwrap();
        let args = [
            "ts",
            "-verify",
            "-in",
            s(&tok),
            "-token_in",
            "-digest",
            digest,
            "-CAfile",
            s(&root),
            "-untrusted",
            s(&cert),
        ];
        let out = openssl(&args);
        eprintln!(
            "openssl ts -verify: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out.status.success()
    };
    assert!(verify(&tsa, &good, &sha), "good token");
    let wrong = tsa.token(
        message,
        &TokenOptions {
            wrong_imprint: true,
            ..Default::default()
        },
    );
    assert!(!verify(&tsa, &wrong, &sha), "wrong imprint must fail");
    let bad_ess = tsa.token(
        message,
        &TokenOptions {
            cert_hash: CertHash::Wrong,
            ..Default::default()
        },
    );
    assert!(
        !verify(&tsa, &bad_ess, &sha),
        "wrong ESS certHash must fail"
    );
    for kind in [KeyKind::EcP384, KeyKind::Rsa2048] {
        let other = Tsa::with(kind, now() - days(1), now() + days(365));
        assert!(
            verify(
                &other,
                &other.token(message, &TokenOptions::default()),
                &sha
            ),
            "{kind:?} TSA"
        );
    }
}
