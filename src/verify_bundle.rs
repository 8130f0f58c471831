//! `shipgate verify-bundle`: the verifier alone, with the sigstore-conformance client protocol,
//! so the project can be held against the public suite.
//!
//! `verify-bundle --bundle FILE (--certificate-identity ID --certificate-oidc-issuer ISS | --key PEM)
//! [--trusted-root FILE] (ARTIFACT_PATH | sha256:HEX)` → exit 0 verified, 1 not verified (one
//! line says why), 2 unusable arguments.

use std::path::{Path, PathBuf};

use crate::evidence::{BundleArtifact, SignatureArtifact};
use crate::policy::{Authority, Identity, Matcher, TlogRequirement};
use crate::reference::Digest;
use crate::verify::{PublicKey, Subject, TrustRoot, VerifiedSignature, Verifier};

/// Artifacts larger than this are hashed as a stream; the bundle itself is bounded by the verifier.
const MAX_BUNDLE_FILE: u64 = 1024 * 1024;

#[derive(clap::Args, Debug)]
pub struct VerifyBundleArgs {
    /// The Sigstore bundle (JSON).
    #[arg(long)]
    pub bundle: PathBuf,
    /// Keyless: the certificate's identity (SAN), exact.
    #[arg(long, requires = "certificate_oidc_issuer", conflicts_with = "key")]
    pub certificate_identity: Option<String>,
    /// Keyless: the certificate's OIDC issuer, exact.
    #[arg(long, requires = "certificate_identity", conflicts_with = "key")]
    pub certificate_oidc_issuer: Option<String>,
    /// A PEM public key (managed-key signing).
    #[arg(long)]
    pub key: Option<PathBuf>,
    /// With --key: the key is trusted only for signatures made from this time (RFC 3339); the
    /// signing time must then be proven by a log entry or an RFC 3161 timestamp.
    #[arg(long, requires = "key", value_name = "RFC3339")]
    pub key_valid_from: Option<String>,
    /// With --key: the key is trusted only for signatures made until this time (RFC 3339).
    #[arg(long, requires = "key", value_name = "RFC3339")]
    pub key_valid_until: Option<String>,
    /// A trusted_root.json (default: the embedded public-good root).
    #[arg(long)]
    pub trusted_root: Option<PathBuf>,
    /// The signed artifact's path, or its digest as `sha256:<hex>` (or `sha512:<hex>`).
    pub artifact: String,
}

/// Why `verify-bundle` did not say yes.
#[derive(Debug, thiserror::Error)]
pub enum VerifyBundleError {
    /// The arguments or files are unusable (exit 2).
    #[error("{0}")]
    Usage(String),
    /// The bundle does not verify (exit 1).
    #[error("{0}")]
    Failed(String),
}

/// Verifies the bundle as the arguments say.
pub fn verify_bundle(args: &VerifyBundleArgs) -> Result<VerifiedSignature, VerifyBundleError> {
    let usage = VerifyBundleError::Usage;
    let root = match &args.trusted_root {
        Some(path) => TrustRoot::from_json(&read(path)?)
            // An unusable trusted root is a verification failure in the suite's terms.
            .map_err(|e| VerifyBundleError::Failed(format!("{}: {e}", path.display())))?,
        None => TrustRoot::public_good().map_err(|e| usage(e.to_string()))?,
    };
    let identity = match (
        &args.key,
        &args.certificate_identity,
        &args.certificate_oidc_issuer,
    ) {
        (Some(path), None, None) => {
            let pem = String::from_utf8(read(path)?)
                .map_err(|_| usage(format!("{}: not a PEM file", path.display())))?;
            let key =
                PublicKey::from_pem(&pem).map_err(|e| usage(format!("{}: {e}", path.display())))?;
            Identity::Key(match key_window(args)? {
                Some((start, end)) => key.with_validity(start, end),
                None => key,
            })
        }
        (None, Some(subject), Some(issuer)) => Identity::Keyless {
            issuer: Matcher::Exact(issuer.clone()),
            subject: Matcher::Exact(subject.clone()),
            claims: Vec::new(),
        },
        _ => {
            return Err(usage(
                "give --key, or --certificate-identity with --certificate-oidc-issuer".into(),
            ))
        }
    };
    let tlog = match identity {
        // A managed key's bundle may carry a log entry (then it is checked) or none.
        Identity::Key(_) => TlogRequirement::Optional,
        // Keyless needs a log entry wherever the trusted root names a log; a root without one
        // (GitHub's instance) proves signing times by RFC 3161 timestamps alone, which the
        // verifier then requires.
        Identity::Keyless { .. } if root.has_transparency_logs() => TlogRequirement::Required,
        Identity::Keyless { .. } => TlogRequirement::Optional,
        // Not built here (`verify-notation` verifies Notary Project signatures).
        Identity::Notation(_) => TlogRequirement::Optional,
    };
    let subject = artifact_subject(&args.artifact)?;
    let json = read(&args.bundle)?;
    let artifact = SignatureArtifact::Bundle(BundleArtifact {
        json,
        media_type: String::new(),
        source: args.bundle.display().to_string(),
    });
    let authority = Authority {
        name: "cli".into(),
        identity,
        tlog,
        trust_root: None,
    };
    let verifier = Verifier::new(std::sync::Arc::new(root));
    let mut results =
        verifier.verify_subject(&artifact, &subject, std::slice::from_ref(&authority));
    match results.pop() {
        Some(Ok(v)) => Ok(v),
        Some(Err(r)) => Err(VerifyBundleError::Failed(r.reason)),
        None => Err(VerifyBundleError::Failed("no result".into())),
    }
}

/// The key's validity window from `--key-valid-from` / `--key-valid-until`, if either is given.
fn key_window(args: &VerifyBundleArgs) -> Result<Option<(i64, i64)>, VerifyBundleError> {
    let parse = |v: &Option<String>, default: i64| -> Result<i64, VerifyBundleError> {
        match v {
            None => Ok(default),
            Some(t) => {
                time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
                    .map(|d| d.unix_timestamp())
                    .map_err(|e| {
                        VerifyBundleError::Usage(format!("`{t}` is not an RFC 3339 time: {e}"))
                    })
            }
        }
    };
    if args.key_valid_from.is_none() && args.key_valid_until.is_none() {
        return Ok(None);
    }
    Ok(Some((
        parse(&args.key_valid_from, i64::MIN)?,
        parse(&args.key_valid_until, i64::MAX)?,
    )))
}

fn read(path: &Path) -> Result<Vec<u8>, VerifyBundleError> {
    let len = std::fs::metadata(path)
        .map_err(|e| VerifyBundleError::Usage(format!("{}: {e}", path.display())))?
        .len();
    if len > MAX_BUNDLE_FILE {
        return Err(VerifyBundleError::Failed(format!(
            "{}: {len} bytes is larger than the 1 MiB limit",
            path.display()
        )));
    }
    std::fs::read(path).map_err(|e| VerifyBundleError::Usage(format!("{}: {e}", path.display())))
}

/// `sha256:<hex>` or `sha512:<hex>` as given, or the SHA-256/384/512 digests of the file, read as a stream.
fn artifact_subject(artifact: &str) -> Result<Subject, VerifyBundleError> {
    let usage = |m: String| VerifyBundleError::Usage(m);
    if artifact.starts_with("sha256:") {
        let d: Digest = artifact
            .parse()
            .map_err(|e: crate::reference::ReferenceError| usage(e.to_string()))?;
        return Ok(Subject::sha256(&d));
    }
    if let Some(hex) = artifact.strip_prefix("sha512:") {
        if hex.len() != 128 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(usage(format!(
                "`{artifact}` is not sha512:<128 hex characters>"
            )));
        }
        return Ok(Subject {
            sha256: None,
            sha384: None,
            sha512: Some(hex.to_ascii_lowercase()),
        });
    }
    use sha2::Digest as _;
    use std::io::Read as _;
    let mut file = std::fs::File::open(artifact).map_err(|e| usage(format!("{artifact}: {e}")))?;
    let (mut h256, mut h384, mut h512) = (
        sha2::Sha256::new(),
        sha2::Sha384::new(),
        sha2::Sha512::new(),
    );
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file
            .read(&mut buf)
            .map_err(|e| usage(format!("{artifact}: {e}")))?;
        if n == 0 {
            break;
        }
        h256.update(&buf[..n]);
        h384.update(&buf[..n]);
        h512.update(&buf[..n]);
    }
    let sha256: Digest = format!("sha256:{}", hex::encode(h256.finalize()))
        .parse()
        .map_err(|e: crate::reference::ReferenceError| usage(e.to_string()))?;
    Ok(Subject::of_bytes(sha256, hex::encode(h512.finalize()))
        .with_sha384(hex::encode(h384.finalize())))
}
