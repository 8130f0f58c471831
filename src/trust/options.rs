//! The vocabulary of the TUF trusted root: where to refresh from, what is served, the limits.

use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;
use tough::schema::{Root, Signed};
use tough::Limits;
use url::Url;

use super::error::{error_chain, TufError};
use crate::verify::TrustRoot;

/// Sigstore's public-good TUF root (version 15), the bootstrap of trust: see docs/trust-roots.md.
pub const SIGSTORE_TUF_ROOT: &[u8] = include_bytes!("data/root.json");
/// Sigstore's public-good TUF mirror: metadata at its root, targets below `targets/`.
pub const SIGSTORE_TUF_MIRROR: &str = "https://tuf-repo-cdn.sigstore.dev";
/// The target that holds the Sigstore trusted root.
pub const TRUSTED_ROOT_TARGET: &str = "trusted_root.json";
/// Bound on one whole refresh (every request of the update cycle together).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest `trusted_root.json` accepted: what [`TrustRoot::from_json`] reads.
pub const DEFAULT_MAX_TARGET_BYTES: u64 = 4 * 1024 * 1024;

/// Sizes of the metadata files: Sigstore's are a few KiB; these leave room for growth while an
/// endless-data mirror costs at most this much per file (and the whole refresh, `timeout`).
pub(crate) const LIMITS: Limits = Limits {
    max_root_size: 512 * 1024,
    max_targets_size: 4 * 1024 * 1024,
    max_timestamp_size: 64 * 1024,
    max_snapshot_size: 1024 * 1024,
    max_root_updates: 128,
};

/// Where and how to refresh the trusted root.
#[derive(Debug, Clone)]
pub struct TufOptions {
    /// The TUF repository: metadata at `MIRROR/N.root.json`, `MIRROR/timestamp.json` …, targets at
    /// `MIRROR/targets/`. `https://`, `http://` to loopback (tests), or `file://` (a copy of the
    /// repository on disk, for air-gapped installs).
    pub mirror: Url,
    /// Holds the verified metadata and target between restarts; created if missing.
    pub cache_dir: PathBuf,
    /// The TUF `root.json` trusted out of band (a newer root found in the cache takes over).
    pub embedded_root: Cow<'static, [u8]>,
    /// Bound on one whole refresh; also each request's.
    pub timeout: Duration,
    /// Largest `trusted_root.json` accepted.
    pub max_target_bytes: u64,
    /// Served while no TUF state was ever verified (first start, no network, no cache).
    pub offline_default: Option<Arc<TrustRoot>>,
}

impl TufOptions {
    /// Sigstore's public-good instance: its mirror, its TUF root, the compiled-in trusted root as
    /// the offline default.
    pub fn sigstore_public_good(cache_dir: PathBuf) -> Result<TufOptions, TufError> {
        let mirror =
            Url::parse(SIGSTORE_TUF_MIRROR).map_err(|e| TufError::Options(e.to_string()))?;
        let offline = TrustRoot::public_good().map_err(|e| TufError::Options(e.to_string()))?;
        Ok(TufOptions {
            mirror,
            cache_dir,
            embedded_root: Cow::Borrowed(SIGSTORE_TUF_ROOT),
            timeout: DEFAULT_TIMEOUT,
            max_target_bytes: DEFAULT_MAX_TARGET_BYTES,
            offline_default: Some(Arc::new(offline)),
        })
    }
}

/// Where the root [`TufTrustRoot::current`] serves came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RootSource {
    /// Nothing verified yet: the offline default (or nothing, if there is none).
    OfflineDefault,
    /// The disk cache, verified again at start-up.
    Cache,
    /// A refresh from the mirror.
    Mirror,
}

/// What is being served, for health checks and logs.
#[derive(Debug, Clone)]
pub struct TufStatus {
    pub source: RootSource,
    /// Version of the TUF root the state was verified with.
    pub root_version: Option<u64>,
    pub timestamp_version: Option<u64>,
    /// The earliest expiry of the root, timestamp, snapshot and targets metadata.
    pub expires: Option<OffsetDateTime>,
    /// SHA-256 of the `trusted_root.json` served, hex.
    pub target_sha256: Option<String>,
    /// Why the last refresh failed (cleared by a successful one).
    pub last_error: Option<String>,
}

/// The mirror URL as a directory (tough joins file names onto it).
pub(crate) fn directory(mut url: Url) -> Result<Url, TufError> {
    if url.cannot_be_a_base() || url.query().is_some() || url.fragment().is_some() {
        return Err(TufError::Options(
            "the mirror must be a plain URL (no query or fragment)".into(),
        ));
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

/// The version of a TUF root, checking that it parses and is signed by its own threshold.
pub(crate) fn root_version(bytes: &[u8]) -> Result<u64, String> {
    let root: Signed<Root> =
        serde_json::from_slice(bytes).map_err(|e| format!("not a TUF root.json: {e}"))?;
    root.signed
        .verify_role(&root)
        .map_err(|e| format!("not signed by its own keys: {}", error_chain(&e)))?;
    Ok(root.signed.version.get())
}
