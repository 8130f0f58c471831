//! Where the gate's inputs come from, read the same way at startup and at every reload, so a
//! reload can never accept what startup would refuse.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::ServeConfig;
use crate::gate::Gate;
use crate::policy::PolicySet;
use crate::policy_loader::load_policies;
use crate::setup::{main_roots, FirstRefresh, GateArgs, MainRoots};

/// The files `shipgate serve` was started with.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// `--config FILE`, read again at each reload.
    pub config: Option<PathBuf>,
    /// `--policy` paths: when given they replace the config's `policies`.
    pub flag_policies: Vec<PathBuf>,
    /// `--trusted-root`: it replaces the config's `trustedRoot` (read again at each reload).
    pub flag_trusted_root: Option<PathBuf>,
    /// The files of `--trust-root NAME=FILE` (read again at each reload, like `trustRoots`).
    pub flag_trust_roots: Vec<PathBuf>,
}

impl Sources {
    /// The config file, or the defaults without `--config`.
    pub fn read_config(&self) -> anyhow::Result<ServeConfig> {
        match &self.config {
            Some(path) => ServeConfig::load(path),
            None => Ok(ServeConfig::default()),
        }
    }

    /// The policy paths: the flags', else the config's, else `./policies` if it is a directory.
    pub fn policy_paths(&self, config: &ServeConfig) -> Vec<PathBuf> {
        let mut paths = if self.flag_policies.is_empty() {
            config.policies.clone()
        } else {
            self.flag_policies.clone()
        };
        if paths.is_empty() && Path::new("policies").is_dir() {
            paths.push(PathBuf::from("policies"));
        }
        paths
    }

    /// The named trusted-root files a reload reads: `trustRoots`, then `--trust-root`.
    pub fn named_root_files(&self, config: &ServeConfig) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = config.trust_roots.values().cloned().collect();
        files.extend(self.flag_trust_roots.iter().cloned());
        files
    }

    /// The `trustedRoot` file a reload reads, if any.
    pub fn trusted_root(&self, config: &ServeConfig) -> Option<PathBuf> {
        self.flag_trusted_root
            .clone()
            .or_else(|| config.trusted_root.clone())
    }
}

/// Loads every policy under `paths` (a file is one policy, a directory its `*.yaml`/`*.yml`),
/// fetching the AWS KMS keys they name ([`load_policies`]).
///
/// The one place policies are loaded for `serve`, at startup and on reload, so a reload fetches
/// KMS keys again (an alias moved to another key is followed) and fails, keeping the previous
/// set, when one cannot be fetched.
pub async fn load_policy_set(paths: &[PathBuf]) -> anyhow::Result<PolicySet> {
    Ok(load_policies(paths).await?)
}

/// The gate for `policies` under `config`. With TUF (`tuf:`, `--tuf-cache`) the main root is
/// the running TUF-refreshed one (its refresher lives as long as the process; it is never
/// rebuilt); otherwise the `trustedRoot` file is read again. The named roots (`trustRoots`,
/// `--trust-root`) are read again either way.
pub async fn gate_for(
    policies: PolicySet,
    args: &GateArgs,
    config: &ServeConfig,
    tuf_roots: Option<&Arc<MainRoots>>,
) -> anyhow::Result<Gate> {
    match tuf_roots {
        Some(roots) => roots.gate(policies, args, Some(config)),
        None => main_roots(args, Some(config), FirstRefresh::Background)
            .await?
            .gate(policies, args, Some(config)),
    }
}
