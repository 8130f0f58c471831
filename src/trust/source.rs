//! The TUF-refreshed root as the verifier's [`TrustRootSource`], and the `tuf:` section of the
//! service configuration that turns it on.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use url::Url;

use super::{Refresher, TufOptions, TufTrustRoot};
use crate::verify::{TrustRoot, TrustRootSource};

impl TrustRootSource for TufTrustRoot {
    fn current(&self) -> Result<Arc<TrustRoot>, String> {
        TufTrustRoot::current(self).map_err(|e| e.to_string())
    }
}

/// `tuf:` in the `serve --config` file: keep the Sigstore trusted root current through TUF.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TufConfig {
    /// Where verified TUF metadata and the trusted root are kept between restarts (relative
    /// to the config file); created if missing.
    pub cache_dir: PathBuf,
    /// The TUF repository (default `https://tuf-repo-cdn.sigstore.dev`); `file://` for a copy
    /// on disk (air-gapped installs).
    #[serde(default)]
    pub mirror: Option<String>,
    /// Minutes between refreshes (default 60; 1 to 1440).
    #[serde(default)]
    pub refresh_minutes: Option<u64>,
    /// A TUF `root.json` trusted out of band (relative to the config file) instead of the
    /// embedded Sigstore one: a newer public-good root, or the root of a private TUF
    /// repository. With it, nothing is judged until the repository's metadata has verified
    /// once (the embedded public-good trusted root is no fallback for another repository).
    #[serde(default)]
    pub root: Option<PathBuf>,
}

impl TufConfig {
    /// The options and refresh interval, checked.
    pub fn options(&self) -> anyhow::Result<(TufOptions, Duration)> {
        let mut options = TufOptions::sigstore_public_good(self.cache_dir.clone())?;
        if let Some(mirror) = &self.mirror {
            options.mirror = Url::parse(mirror)
                .map_err(|e| anyhow::anyhow!("tuf.mirror: `{mirror}` is not a URL: {e}"))?;
        }
        if let Some(path) = &self.root {
            let bytes = read_tuf_root(path)?;
            options.embedded_root = std::borrow::Cow::Owned(bytes);
            options.offline_default = None;
        }
        let minutes = self.refresh_minutes.unwrap_or(60);
        if !(1..=1440).contains(&minutes) {
            anyhow::bail!("tuf.refreshMinutes: {minutes} must be between 1 and 1440");
        }
        Ok((options, Duration::from_secs(minutes * 60)))
    }

    /// Starts the TUF root (from its disk cache, without waiting for the network) and its
    /// background refresh; keep the [`Refresher`] for as long as the root is used.
    pub async fn start(&self) -> anyhow::Result<(Arc<TufTrustRoot>, Option<Refresher>)> {
        let (options, every) = self.options()?;
        Ok(super::start(options, every).await?)
    }
}

/// A `root.json` file, bounded like the metadata the mirror serves.
fn read_tuf_root(path: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    use std::io::Read as _;
    let limit = super::options::LIMITS.max_root_size;
    let file = std::fs::File::open(path)
        .map_err(|e| anyhow::anyhow!("tuf.root: {}: cannot read: {e}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| anyhow::anyhow!("tuf.root: {}: cannot read: {e}", path.display()))?;
    if bytes.len() as u64 > limit {
        anyhow::bail!("tuf.root: {}: larger than {limit} bytes", path.display());
    }
    Ok(bytes)
}
