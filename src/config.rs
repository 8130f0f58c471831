//! The service configuration file (`shipgate serve --config FILE`). Flags override it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::gate::Unmatched;

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
}

/// Outbound requests to registries (see docs/outbound.md). The registry a policy names is
/// always reachable; these settings govern the hosts *it* sends us to.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OutboundConfig {
    /// Extra hosts a registry may redirect to or name as its token service, besides the
    /// built-in blob/CDN/token hosts of the big registries: `host` or `host:port`, `*` matching
    /// within one DNS label (e.g. `*.blob.core.windows.net`).
    #[serde(default)]
    pub allow_hosts: Vec<String>,
    /// Let such hops reach loopback, private, link-local and other non-public addresses
    /// (default false: the cloud metadata endpoint and the pod's own ports stay out of reach).
    #[serde(default)]
    pub allow_private_networks: bool,
    /// Most connections open at once to one registry or storage host (default 8).
    #[serde(default)]
    pub max_connections_per_host: Option<usize>,
}

/// Caller authentication: a bearer token must be accepted by one of these.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AuthConfig {
    /// OIDC issuers whose JWTs are accepted, each with an audience and claim rules.
    #[serde(default)]
    pub oidc: Vec<OidcConfig>,
    /// Static bearer tokens for machine callers, stored as SHA-256 hashes.
    #[serde(default)]
    pub tokens: Vec<TokenConfig>,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OidcConfig {
    /// The issuer URL, exactly as in the tokens' `iss` (https; http only on loopback).
    pub issuer: String,
    /// The audience the tokens must be minted for (their `aud` must contain it).
    pub audience: String,
    /// Claim name → the value it must equal, or a list of values it must be one of.
    #[serde(default)]
    pub claims: BTreeMap<String, ClaimRule>,
}

/// One claim rule: a single value or a list of allowed values.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum ClaimRule {
    One(ClaimValue),
    AnyOf(Vec<ClaimValue>),
}

/// A claim value as written in YAML; numbers and booleans compare by their string form
/// (`repository_id: 123` matches the claim `"123"`).
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum ClaimValue {
    Text(String),
    Unsigned(u64),
    Signed(i64),
    Bool(bool),
}

impl ClaimValue {
    pub fn to_text(&self) -> String {
        match self {
            ClaimValue::Text(s) => s.clone(),
            ClaimValue::Unsigned(n) => n.to_string(),
            ClaimValue::Signed(n) => n.to_string(),
            ClaimValue::Bool(b) => b.to_string(),
        }
    }
}

/// The HTTP server's limits; each key left out keeps its default.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
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

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TokenConfig {
    /// The caller's name, logged on every decision it asks for.
    pub name: String,
    /// Hex SHA-256 of the token: `printf %s "$TOKEN" | sha256sum`.
    pub sha256: String,
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
