//! What every entry point shares: the options that build a gate (flags, environment, config
//! file), the exit codes and the usage error, and logging. The command line (`cli`), the
//! GitHub step and the quarantine commands all start here; none of them depends on another.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use crate::config::ServeConfig;
use crate::evidence::ecr_findings::AwsScanFindings;
use crate::gate::{Gate, GateSettings, Unmatched};
use crate::policy::PolicySet;
use crate::registry::{RegistryClient, RegistryConfig};
use crate::verify::{TrustRoot, Verifier};

pub const EXIT_PASS: u8 = 0;
pub const EXIT_FAIL: u8 = 1;
pub const EXIT_USAGE: u8 = 2;

/// Options shared by `check`, `serve` and `github-action` (and the Lambda's defaults).
#[derive(Args, Clone, Default, Debug)]
pub struct GateArgs {
    /// A registry (HOST:PORT) that may be reached over plain HTTP. Repeatable.
    #[arg(
        long = "insecure-registry",
        value_name = "HOST:PORT",
        env = "SHIPGATE_INSECURE_REGISTRIES",
        value_delimiter = ','
    )]
    pub insecure_registries: Vec<String>,
    /// A private Sigstore trusted_root.json (default: the embedded public-good root).
    #[arg(long, value_name = "FILE", env = "SHIPGATE_TRUSTED_ROOT")]
    pub trusted_root: Option<PathBuf>,
    /// What to do with an image that no policy governs.
    #[arg(long, value_enum, env = "SHIPGATE_UNMATCHED")]
    pub unmatched: Option<Unmatched>,
    /// Time budget of one evaluation, in seconds.
    #[arg(long, value_name = "SECONDS", env = "SHIPGATE_TIMEOUT")]
    pub timeout: Option<u64>,
    /// A host (`host`, `host:port`, `*` within one DNS label) a registry may redirect to or
    /// name as its token service, besides the built-in CDN/token hosts. Repeatable; adds to
    /// `outbound.allowHosts`.
    #[arg(long = "allow-outbound-host", value_name = "HOST[:PORT]")]
    pub allow_outbound_hosts: Vec<String>,
    /// Let registry redirects and token services reach loopback/private/link-local addresses
    /// (`outbound.allowPrivateNetworks`).
    #[arg(long)]
    pub allow_private_networks: bool,
}

pub fn usage(message: String) -> u8 {
    eprintln!("shipgate: {message}");
    EXIT_USAGE
}

/// Builds the gate from flags, falling back to the config file, then to defaults, with a
/// fixed trusted root (`--trusted-root`, else the embedded public-good one).
pub fn build_gate(
    policies: PolicySet,
    args: &GateArgs,
    config: Option<&ServeConfig>,
) -> anyhow::Result<Gate> {
    let trusted_root = args
        .trusted_root
        .clone()
        .or_else(|| config.and_then(|c| c.trusted_root.clone()));
    let trust_root = match &trusted_root {
        Some(path) => {
            let bytes = std::fs::read(path).map_err(|e| {
                anyhow::anyhow!("{}: cannot read trusted root: {e}", path.display())
            })?;
            TrustRoot::from_json(&bytes).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
        }
        None => TrustRoot::public_good()?,
    };
    let verifier = Arc::new(Verifier::new(Arc::new(trust_root)));
    build_gate_with(policies, args, config, verifier)
}

/// Like [`build_gate`], with the verifier given (a TUF-refreshed root: `tuf:` in the config).
pub fn build_gate_with(
    policies: PolicySet,
    args: &GateArgs,
    config: Option<&ServeConfig>,
    verifier: Arc<Verifier>,
) -> anyhow::Result<Gate> {
    let config = config.cloned().unwrap_or_default();
    let mut insecure = config.insecure_registries;
    insecure.extend(args.insecure_registries.iter().cloned());
    let mut outbound = config.outbound.unwrap_or_default();
    outbound
        .allow_hosts
        .extend(args.allow_outbound_hosts.iter().cloned());
    outbound.allow_private_networks |= args.allow_private_networks;
    let registry = RegistryClient::new(RegistryConfig {
        insecure_hosts: insecure,
        outbound,
        ..RegistryConfig::default()
    })?;
    let defaults = GateSettings::default();
    let settings = GateSettings {
        unmatched: args.unmatched.or(config.unmatched).unwrap_or_default(),
        timeout: args
            .timeout
            .or(config.timeout_seconds)
            .map_or(defaults.timeout, Duration::from_secs),
        cache_pass_ttl: config
            .cache_pass_seconds
            .map_or(defaults.cache_pass_ttl, Duration::from_secs),
        cache_fail_ttl: config
            .cache_fail_seconds
            .map_or(defaults.cache_fail_ttl, Duration::from_secs),
        max_concurrent_evaluations: match config
            .limits
            .as_ref()
            .and_then(|l| l.max_concurrent_evaluations)
        {
            Some(0) => anyhow::bail!("limits.maxConcurrentEvaluations must be at least 1"),
            Some(n) => n,
            None => defaults.max_concurrent_evaluations,
        },
        ..defaults
    };
    Ok(Gate::new(
        policies,
        Arc::new(registry),
        Arc::new(AwsScanFindings::new()),
        verifier,
        settings,
    ))
}

/// Logs to stderr: JSON lines when not on a terminal (for log collectors), text otherwise.
pub fn init_tracing(default_level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SHIPGATE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if std::io::stderr().is_terminal() {
        builder.try_init()
    } else {
        builder.json().try_init()
    };
}
