//! The service configuration file (`shipgate serve --config FILE`). Flags override it.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::gate::Unmatched;

pub use crate::auth::config::{AuthConfig, ClaimRule, ClaimValue, OidcConfig, TokenConfig};
pub use crate::net::OutboundConfig;

#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ServeConfig {
    /// Address to listen on, e.g. `127.0.0.1:8080`.
    #[serde(default)]
    pub listen: Option<String>,
    /// Policy files or directories (relative to this file): one path, or a list of them.
    #[serde(default, deserialize_with = "one_or_many")]
    #[schemars(with = "OneOrMany")]
    pub policies: Vec<PathBuf>,
    /// Registries (`HOST:PORT`) that may be reached over plain HTTP.
    #[serde(default)]
    pub insecure_registries: Vec<String>,
    /// A private Sigstore `trusted_root.json` (default: the embedded public-good root).
    #[serde(default)]
    pub trusted_root: Option<PathBuf>,
    /// Keep the public-good Sigstore trusted root current through its TUF repository instead
    /// of the embedded one (not with `trustedRoot`).
    #[serde(default)]
    pub tuf: Option<crate::trust::TufConfig>,
    /// More Sigstore trusted roots, by name (`NAME: trusted_root.json`, relative to this file),
    /// that an authority picks with `trustRoot: NAME`. `public-good` and `github` (GitHub's
    /// own Sigstore instance) are built in; a file given under their name replaces them.
    #[serde(default)]
    pub trust_roots: std::collections::BTreeMap<String, PathBuf>,
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
    /// Bounds of the HTTP server (timeouts, connections, decisions in flight); see
    /// docs/server-limits.md.
    #[serde(default)]
    pub limits: Option<LimitsConfig>,
    /// Who may call `POST /v1/decisions`. Without it the service listens on loopback only.
    #[serde(default)]
    pub auth: Option<AuthConfig>,
    /// Where registry-chosen hops (redirects, token services) may go, and connection bounds.
    #[serde(default)]
    pub outbound: Option<OutboundConfig>,
    /// How policy and configuration changes are picked up while serving; see docs/reload.md.
    #[serde(default)]
    pub reload: Option<ReloadConfig>,
}

/// Reloading while serving (SIGHUP always reloads; this adds watching the files).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ReloadConfig {
    /// Seconds between looks at the config file, the policy files and the files they name
    /// (`keyRef`, Notation trust stores) for a change (default 5; 0: only SIGHUP reloads).
    #[serde(default)]
    pub watch_seconds: Option<u64>,
}

impl ReloadConfig {
    pub const DEFAULT_WATCH_SECONDS: u64 = 5;
}

/// The HTTP server's limits; each key left out keeps its default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LimitsConfig {
    /// Seconds a client has to send a request's headers, from connecting or from the first
    /// byte of a kept-alive request (default 10); then the connection is closed.
    #[serde(default)]
    pub header_timeout_seconds: Option<u64>,
    /// Seconds a client has to send a request's body once its headers arrived (default 10);
    /// then it gets 408 and the connection is closed.
    #[serde(default)]
    pub body_timeout_seconds: Option<u64>,
    /// Seconds a kept-alive connection may wait for its next request (default 60).
    #[serde(default)]
    pub idle_timeout_seconds: Option<u64>,
    /// Open client connections at most (default 4096, fewer when the fd limit leaves less
    /// room: a quarter of `ulimit -n`, at least 64 fds, is kept for everything else).
    #[serde(default)]
    pub max_connections: Option<usize>,
    /// `POST /v1/decisions` requests answered at once (default 256); more get 503 at once.
    #[serde(default)]
    pub max_decisions_in_flight: Option<usize>,
    /// Evaluations (tag resolutions and evidence collections, each holding registry
    /// connections and memory until it ends) running at once (default 64); a request that
    /// needs one more gets 503 with `Retry-After` at once. A request by digest answered from
    /// the cache needs none; a tag is resolved under one.
    #[serde(default)]
    pub max_concurrent_evaluations: Option<usize>,
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
        for (name, file) in &mut config.trust_roots {
            crate::policy::check_trust_root_name(name)
                .map_err(|e| anyhow::anyhow!("{}: trustRoots: {e}", path.display()))?;
            *file = base.join(&*file);
        }
        if let Some(tuf) = &mut config.tuf {
            if config.trusted_root.is_some() {
                anyhow::bail!(
                    "{}: give `trustedRoot` (a fixed private root) or `tuf` (the public-good root, refreshed), not both",
                    path.display()
                );
            }
            tuf.cache_dir = base.join(&tuf.cache_dir);
            if let Some(root) = &mut tuf.root {
                *root = base.join(&*root);
            }
            tuf.options()
                .map_err(|e| anyhow::anyhow!("{}: {e:#}", path.display()))?;
        }
        if let Some(outbound) = &config.outbound {
            // Refused at load: a misspelt host pattern must not silently allow nothing (or all).
            crate::net::HopPolicy::new(&outbound.allow_hosts, outbound.allow_private_networks)
                .map_err(|e| anyhow::anyhow!("{}: outbound: {e}", path.display()))?;
            if outbound.max_connections_per_host == Some(0) {
                anyhow::bail!(
                    "{}: outbound: maxConnectionsPerHost must be at least 1",
                    path.display()
                );
            }
        }
        if let Some(auth) = &config.auth {
            // Refused at load, before anything listens: a wrong auth section must not serve.
            crate::auth::validate_config(auth)
                .map_err(|e| anyhow::anyhow!("{}: auth: {e}", path.display()))?;
        }
        Ok(config)
    }
}

/// `policies: ./policies` and `policies: [a.yaml, b/]` both mean a list of paths.
fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<PathBuf>, D::Error> {
    match OneOrMany::deserialize(d)? {
        OneOrMany::One(p) => Ok(vec![p]),
        OneOrMany::Many(ps) => Ok(ps),
    }
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
enum OneOrMany {
    One(PathBuf),
    Many(Vec<PathBuf>),
}

#[cfg(test)]
mod policies_field_tests {
    use super::*;

    #[test]
    fn one_path_or_a_list() {
        let one: ServeConfig = serde_yaml::from_str("policies: ./policies").unwrap();
        assert_eq!(one.policies, [PathBuf::from("./policies")]);
        let many: ServeConfig = serde_yaml::from_str("policies: [a.yaml, b/]").unwrap();
        assert_eq!(
            many.policies,
            [PathBuf::from("a.yaml"), PathBuf::from("b/")]
        );
        let none: ServeConfig = serde_yaml::from_str("listen: 127.0.0.1:1").unwrap();
        assert!(none.policies.is_empty());
        assert!(serde_yaml::from_str::<ServeConfig>("policies: {a: 1}").is_err());
    }
}
