//! `shipgate verify-notation`: the Notary Project verifier alone, offline, with Notation's own
//! trust policy (`trustpolicy.json`) and trust-store layout, so that a signature can be checked
//! exactly as the gate would check it, and held against Notation's own results.
//!
//! `verify-notation --signature FILE --signature-media-type application/jose+json|application/cose
//! --trust-policy trustpolicy.json --trust-store-root DIR --reference REGISTRY/REPO@sha256:HEX
//! --media-type M --size N [--revocation-status good|revoked|unknown]` → exit 0 verified (one
//! line: signer, scheme, level, logged steps), 1 not verified (one line says why), 2 unusable
//! arguments (a missing or unreadable file, a bad media type or reference, an invalid trust
//! policy or trust store).

use std::path::{Path, PathBuf};

use crate::reference::ImageRef;
use crate::verify::notation::{
    self, RevocationStatus, Target, TrustPolicyDocument, TrustStores, COSE_MEDIA_TYPE,
    JWS_MEDIA_TYPE,
};

/// Largest envelope read (the gate reads at most this from a registry too).
const MAX_SIGNATURE_FILE: u64 = 1024 * 1024;
/// Largest trust policy read (the verifier refuses larger ones as well).
const MAX_TRUST_POLICY_FILE: u64 = 256 * 1024;

#[derive(clap::Args, Debug)]
pub struct VerifyNotationArgs {
    /// The signature envelope (the signature manifest's layer).
    #[arg(long)]
    pub signature: PathBuf,
    /// The envelope's media type: application/jose+json (JWS) or application/cose (COSE).
    #[arg(long, value_name = "MEDIA_TYPE")]
    pub signature_media_type: String,
    /// Notation's trust policy (trustpolicy.json); the statement is chosen by the reference's
    /// REGISTRY/REPO. An invalid trust policy is an unusable argument (exit 2).
    #[arg(long, value_name = "FILE")]
    pub trust_policy: PathBuf,
    /// The trust-store root, laid out as Notation's: DIR/{ca,signingAuthority,tsa}/NAME/*.pem.
    #[arg(long, value_name = "DIR")]
    pub trust_store_root: PathBuf,
    /// The signed image: REGISTRY/REPO@sha256:HEX.
    #[arg(long)]
    pub reference: String,
    /// The image manifest's media type, as the signature must name it.
    #[arg(long, value_name = "MEDIA_TYPE")]
    pub media_type: String,
    /// The image manifest's size in bytes, as the signature must name it.
    #[arg(long)]
    pub size: u64,
    /// What AWS Signer's revocation check said (the gate asks AWS; offline, give the answer).
    /// Without it, revocation was not checked.
    #[arg(long, value_enum)]
    pub revocation_status: Option<RevocationArg>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum RevocationArg {
    Good,
    Revoked,
    Unknown,
}

/// Why `verify-notation` did not say yes.
#[derive(Debug, thiserror::Error)]
pub enum VerifyNotationError {
    /// The arguments or files are unusable (exit 2).
    #[error("{0}")]
    Usage(String),
    /// The signature does not verify (exit 1).
    #[error("{0}")]
    Failed(String),
}

/// Verifies the signature as the arguments say; the one line to print on success.
pub fn verify_notation(args: &VerifyNotationArgs) -> Result<String, VerifyNotationError> {
    let usage = VerifyNotationError::Usage;
    let image: ImageRef = args
        .reference
        .trim()
        .parse()
        .map_err(|e| usage(format!("--reference `{}`: {e}", args.reference)))?;
    let (Some(digest), None) = (&image.digest, &image.tag) else {
        return Err(usage(format!(
            "--reference `{}`: name the image by digest alone, as REGISTRY/REPO@sha256:HEX",
            args.reference
        )));
    };
    let media_type = args.signature_media_type.as_str();
    if media_type != JWS_MEDIA_TYPE && media_type != COSE_MEDIA_TYPE {
        return Err(usage(format!(
            "--signature-media-type `{media_type}`: use {JWS_MEDIA_TYPE} or {COSE_MEDIA_TYPE}"
        )));
    }
    if args.media_type.trim().is_empty() {
        return Err(usage("--media-type: the image manifest's media type, e.g. application/vnd.oci.image.manifest.v1+json".into()));
    }
    let envelope = read(&args.signature, MAX_SIGNATURE_FILE)?;
    let policy_bytes = read(&args.trust_policy, MAX_TRUST_POLICY_FILE)?;
    let document = TrustPolicyDocument::from_json(&policy_bytes)
        .map_err(|e| usage(format!("{}: {e}", args.trust_policy.display())))?;
    let stores = TrustStores::from_dir(&args.trust_store_root)
        .map_err(|e| usage(format!("{}: {e}", args.trust_store_root.display())))?;
    let repository = image.repository.to_string();
    let failed = VerifyNotationError::Failed;
    let statement = document.statement_for(&repository).map_err(|e| {
        failed(format!(
            "no trust-policy statement applies to {repository}: {e}"
        ))
    })?;
    let revocation = match args.revocation_status {
        None => RevocationStatus::NotChecked,
        Some(RevocationArg::Good) => RevocationStatus::Good,
        Some(RevocationArg::Revoked) => {
            RevocationStatus::Revoked("revoked, as --revocation-status says".into())
        }
        Some(RevocationArg::Unknown) => {
            RevocationStatus::Unknown("unknown, as --revocation-status says".into())
        }
    };
    let target = Target {
        media_type: args.media_type.trim().to_string(),
        digest: digest.to_string(),
        size: args.size,
    };
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let verified = notation::verify(
        &envelope,
        media_type,
        &target,
        statement,
        &stores,
        now,
        &revocation,
    )
    .map_err(|r| failed(r.reason))?;
    let mut line = format!(
        "{} ({}, level {}, trust policy statement `{}`)",
        verified.signer, verified.signing_scheme, statement.level.name, statement.name
    );
    if !verified.logged.is_empty() {
        line.push_str(&format!("; logged: {}", verified.logged.join("; ")));
    }
    Ok(line)
}

fn read(path: &Path, max: u64) -> Result<Vec<u8>, VerifyNotationError> {
    let usage = |e: String| VerifyNotationError::Usage(format!("{}: {e}", path.display()));
    let len = std::fs::metadata(path)
        .map_err(|e| usage(e.to_string()))?
        .len();
    if len > max {
        return Err(usage(format!(
            "{len} bytes is larger than the {max}-byte limit"
        )));
    }
    std::fs::read(path).map_err(|e| usage(e.to_string()))
}
