//! The service configuration file (`shipgate serve --config FILE`). Flags override it.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::gate::Unmatched;

#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ServeConfig {
    /// Address to listen on, e.g. `127.0.0.1:8080`.
    #[serde(default)]
    pub listen: Option<String>,
    /// Policy files or directories (relative to this file).
    #[serde(default)]
    pub policies: Vec<PathBuf>,
    /// Registries (`HOST:PORT`) that may be reached over plain HTTP.
    #[serde(default)]
    pub insecure_registries: Vec<String>,
    /// A private Sigstore `trusted_root.json` (default: the embedded public-good root).
    #[serde(default)]
    pub trusted_root: Option<PathBuf>,
    /// What to do with an image no policy governs: `deny` (default) or `allow`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub unmatched: Option<Unmatched>,
    /// Time budget of one evaluation, in seconds (default 20).
    #[serde(default)]
    pub timeout_seconds: Option<u64>,
    /// How long a passing decision is reused, in seconds (default 60).
    #[serde(default)]
    pub cache_pass_seconds: Option<u64>,
    /// How long a failing decision is reused, in seconds (default 5).
    #[serde(default)]
    pub cache_fail_seconds: Option<u64>,
}

impl ServeConfig {
    pub fn load(path: &Path) -> anyhow::Result<ServeConfig> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("{}: cannot read: {e}", path.display()))?;
        let mut config: ServeConfig =
            serde_yaml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        for p in &mut config.policies {
            *p = base.join(&*p);
        }
        if let Some(root) = &mut config.trusted_root {
            *root = base.join(&*root);
        }
        Ok(config)
    }
}
