//! Trust stores (files, folders, the embedded AWS Signer roots) and AWS Signer signatures.

use std::path::Path;

use super::aws_signer;
use super::envelope::{Envelope, ExtendedAttribute, SigningScheme};
use super::tests::*;
use super::*;
use crate::verify::keys::sha256;
use crate::verify::RejectionKind::{Identity, Invalid};

const VECTORS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/data/vectors/notation"
);

#[test]
fn certificates_are_read_from_pem_and_der() {
    let p = pki();
    let other = pki();
    let mut s = TrustStores::new();
    assert_eq!(s.add_certificates(StoreKind::Ca, "acme", &p.root), Ok(1));
    let pem = |der: &[u8]| {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD.encode(der);
        format!("-----BEGIN CERTIFICATE-----\n{b64}\n-----END CERTIFICATE-----\n")
    };
    let two = format!("{}junk between blocks\n{}", pem(&p.root), pem(&other.root));
    assert_eq!(
        s.add_certificates(StoreKind::Ca, "acme", two.as_bytes()),
        Ok(2)
    );
    assert_eq!(
        s.stores.get(&(StoreKind::Ca, "acme".into())).map(Vec::len),
        Some(3)
    );
    for (kind, name, bytes, needle) in [
        (StoreKind::Ca, "a/b", p.root.clone(), "invalid"),
        (StoreKind::Ca, "", p.root.clone(), "invalid"),
        (
            StoreKind::Tsa,
            "x",
            b"garbage".to_vec(),
            "neither PEM nor a DER",
        ),
        (
            StoreKind::Tsa,
            "x",
            b"-----BEGIN PUBLIC KEY-----\nAA==\n-----END PUBLIC KEY-----".to_vec(),
            "expected a PEM `CERTIFICATE` block",
        ),
        (
            StoreKind::Tsa,
            "x",
            b"-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----".to_vec(),
            "does not parse",
        ),
        (
            StoreKind::Tsa,
            "x",
            vec![0u8; 64 * 1024 + 1],
            "larger than 64 KiB",
        ),
        (
            StoreKind::Ca,
            "leaf",
            p.leaf.clone(),
            "neither a CA certificate nor a self-signed",
        ),
    ] {
        let e = s.add_certificates(kind, name, &bytes).unwrap_err();
        assert!(e.contains(needle), "{name}: {e}");
    }
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn folders_in_the_notation_layout_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let x509 = dir.path().join("x509");
    let p = pki();
    write(&x509.join("ca/acme/root.pem"), &p.root);
    write(&x509.join("ca/acme/.hidden"), b"ignored");
    write(
        &x509.join("ca/acme/sub/ignored.txt"),
        b"ignored: sub-folders are",
    );
    write(
        &x509.join("tsa/gs/globalsign.CER"),
        &std::fs::read(format!("{TSP}/GlobalSignRootCA.crt")).unwrap(),
    );
    write(&x509.join("signingAuthority/sa/root.der"), &p.root);
    // Both the trust-store folder and its x509/ folder are accepted.
    for root in [dir.path(), x509.as_path()] {
        let s = TrustStores::from_dir(root).unwrap();
        assert_eq!(
            s.names(),
            vec![
                (StoreKind::Ca, "acme".to_string()),
                (StoreKind::SigningAuthority, "sa".to_string()),
                (StoreKind::Tsa, "gs".to_string()),
            ]
        );
    }
    // The vectors' notation-go trust store.
    let s = TrustStores::from_dir(Path::new(&format!(
        "{VECTORS}/notation-go/verifier/testdata/truststore/x509"
    )))
    .unwrap();
    assert_eq!(s.names().len(), 5);
}

#[test]
fn folders_fail_clearly() {
    let p = pki();
    let case = |setup: &dyn Fn(&Path)| {
        let dir = tempfile::tempdir().unwrap();
        setup(dir.path());
        TrustStores::from_dir(dir.path()).unwrap_err()
    };
    let e = case(&|_| {});
    assert!(e.contains("no trust store under"), "{e}");
    let e = case(&|d| write(&d.join("ca/acme/README.md"), b"x"));
    assert!(e.contains("is not a certificate file"), "{e}");
    let e = case(&|d| std::fs::create_dir_all(d.join("ca/empty")).unwrap());
    assert!(e.contains("holds no certificate"), "{e}");
    let e = case(&|d| write(&d.join("ca/root.pem"), &p.root));
    assert!(
        e.contains("is a file: certificates go in a named store folder"),
        "{e}"
    );
    let e = case(&|d| write(&d.join("ca/bad name/root.pem"), &p.root));
    assert!(e.contains("invalid name"), "{e}");
    let e = case(&|d| write(&d.join("ca/acme/big.pem"), &vec![b'a'; 64 * 1024 + 1]));
    assert!(e.contains("larger than 64 KiB"), "{e}");
    let e = case(&|d| {
        for i in 0..65 {
            write(&d.join(format!("ca/acme/{i}.pem")), &p.root);
        }
    });
    assert!(e.contains("more than 64 entries"), "{e}");
    let e = TrustStores::from_dir(Path::new("/nonexistent/trust-store")).unwrap_err();
    assert!(e.contains("/nonexistent/trust-store"), "{e}");
}

#[cfg(unix)]
#[test]
fn symlinks_are_followed_only_inside_the_folder() {
    let p = pki();
    let outside = tempfile::tempdir().unwrap();
    write(&outside.path().join("root.pem"), &p.root);
    let dir = tempfile::tempdir().unwrap();
    // Kubernetes-style: the file is a symlink into a hidden ..data folder.
    write(&dir.path().join("..data/root.pem"), &p.root);
    std::fs::create_dir_all(dir.path().join("ca/acme")).unwrap();
    std::os::unix::fs::symlink(
        dir.path().join("..data/root.pem"),
        dir.path().join("ca/acme/root.pem"),
    )
    .unwrap();
    assert!(TrustStores::from_dir(dir.path()).is_ok());
    std::os::unix::fs::symlink(
        outside.path().join("root.pem"),
        dir.path().join("ca/acme/out.pem"),
    )
    .unwrap();
    let e = TrustStores::from_dir(dir.path()).unwrap_err();
    assert!(e.contains("leads outside the trust store folder"), "{e}");
}

#[test]
fn the_embedded_aws_signer_roots_are_the_published_ones() {
    let fingerprints = |s: &TrustStores| -> Vec<String> {
        s.stores[&(StoreKind::SigningAuthority, "aws-signer-ts".to_string())]
            .iter()
            .map(|c| hex::encode(sha256(&c.der)))
            .collect()
    };
    let commercial = "90a87d0543c3f094dbff9589b6649affe2f3d6e0f308799be2258461c686473f";
    let gov = "673653ab76f41a10546cdeb4107ecd6df2c15c2c9a0d32ed97d271b4436fc3e8";
    assert_eq!(
        fingerprints(&TrustStores::aws_signer(false)),
        vec![commercial]
    );
    assert_eq!(
        fingerprints(&TrustStores::aws_signer(true)),
        vec![commercial, gov]
    );
}

const PROFILE_VERSION: &str =
    "arn:aws:signer:us-west-2:000000000000:/signing-profiles/NotaryPluginIntegProfile/OF8IVUsPJq";
const PROFILE: &str =
    "arn:aws:signer:us-west-2:000000000000:/signing-profiles/NotaryPluginIntegProfile";
const JOB: &str =
    "arn:aws:signer:us-west-2:000000000000:/signing-jobs/97af3947-e7b2-4533-8d9d-6741156f0b79";

/// An AWS Signer-shaped envelope over a chain whose root is in `signingAuthority:aws`.
fn aws_envelope(p: &Pki) -> Envelope {
    let attr = |key: &str, value: &str| ExtendedAttribute {
        key: key.into(),
        critical: true,
        value: serde_json::json!(value),
    };
    let mut env = envelope(p);
    env.signing_scheme = SigningScheme::X509SigningAuthority;
    env.signing_time = None;
    env.authentic_signing_time = Some(1_700_000_000);
    env.verification_plugin = Some(AWS_SIGNER_PLUGIN.into());
    env.extended = vec![
        attr(aws_signer::ATTR_PROFILE_VERSION, PROFILE_VERSION),
        attr(aws_signer::ATTR_JOB, JOB),
    ];
    env
}

fn aws_policy(ids: &[&str]) -> TrustPolicy {
    let ids = ids
        .iter()
        .map(|i| match *i {
            "*" => TrustedIdentity::Any,
            arn => TrustedIdentity::AwsSignerProfile(arn.into()),
        })
        .collect();
    policy("strict", &[], &[(StoreKind::SigningAuthority, "aws")], ids)
}

#[test]
fn aws_signer_signatures_are_verified_natively() {
    let p = pki();
    let env = aws_envelope(&p);
    let stores = stores_with(StoreKind::SigningAuthority, "aws", &p.root);
    let good = RevocationStatus::Good;
    let v = judge(&env, &aws_policy(&[PROFILE]), &stores, NOW, &good).unwrap();
    assert_eq!(v.signer, PROFILE);
    assert_eq!(v.signing_scheme, "notary.x509.signingAuthority");
    assert_eq!(v.signing_time, Some(1_700_000_000));
    assert!(judge(&env, &aws_policy(&[PROFILE_VERSION]), &stores, NOW, &good).is_ok());
    // Revocation must have been asked of AWS Signer.
    fails(
        judge(&env, &aws_policy(&[PROFILE]), &stores, NOW, &NC),
        Invalid,
        "revocation was not checked",
    );
    // Identities.
    fails(
        judge(&env, &aws_policy(&["*"]), &stores, NOW, &good),
        Identity,
        "`*` is refused",
    );
    let other = "arn:aws:signer:us-west-2:000000000000:/signing-profiles/Other";
    fails(
        judge(&env, &aws_policy(&[other]), &stores, NOW, &good),
        Identity,
        "matches none of the trusted identities",
    );
    // The authentic signing time must lie inside the chain.
    let mut late = aws_envelope(&p);
    late.authentic_signing_time = Some(1_900_000_000);
    fails(
        judge(&late, &aws_policy(&[PROFILE]), &stores, NOW, &good),
        Invalid,
        "was not valid when the signature was made",
    );
    // A ca: store does not anchor a signingAuthority signature.
    let ca = stores_with(StoreKind::Ca, "aws", &p.root);
    let ca_policy = policy(
        "strict",
        &[],
        &[(StoreKind::Ca, "aws")],
        vec![TrustedIdentity::AwsSignerProfile(PROFILE.into())],
    );
    fails(
        judge(&env, &ca_policy, &ca, NOW, &good),
        Invalid,
        "names no signingAuthority: trust store",
    );
    // Without the plugin header the AWS attributes are unknown critical attributes.
    let mut bare = aws_envelope(&p);
    bare.verification_plugin = None;
    fails(
        judge(&bare, &aws_policy(&[PROFILE]), &stores, NOW, &good),
        Invalid,
        "com.amazonaws.signer.signingProfileVersion",
    );
    let mut no_job = aws_envelope(&p);
    no_job.extended.retain(|a| a.key != aws_signer::ATTR_JOB);
    fails(
        judge(&no_job, &aws_policy(&[PROFILE]), &stores, NOW, &good),
        Invalid,
        "lacks com.amazonaws.signer.signingJob",
    );
}

#[test]
fn the_revocation_query_is_the_plugins() {
    let p = pki();
    let env = aws_envelope(&p);
    let q = aws_signer::revocation_query(&env).unwrap();
    assert_eq!(q.profile_version_arn, PROFILE_VERSION);
    assert_eq!(q.job_arn, JOB);
    assert_eq!(q.platform_id, "Notation-OCI-SHA384-ECDSA");
    assert_eq!(q.signature_timestamp, 1_700_000_000);
    let tbs = |der: &[u8]| {
        let c = crate::verify::x509::Cert::from_der(der).unwrap();
        hex::encode(aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA384,
            c.tbs_der(),
        ))
    };
    let (leaf, root) = (tbs(&p.leaf), tbs(&p.root));
    assert_eq!(
        q.certificate_hashes,
        vec![format!("{leaf}{root}"), format!("{root}{root}")]
    );
    // Not an AWS Signer signature: no query.
    assert_eq!(aws_signer::revocation_query(&envelope(&p)), None);
}
