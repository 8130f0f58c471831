//! What every entry point shares: the options that build a gate (flags, environment, config
//! file), the exit codes and the usage error, and logging. The command line (`cli`), the
//! GitHub step and the quarantine commands all start here; none of them depends on another.

use std::collections::BTreeMap;
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
use crate::trust::{Refresher, TufConfig, TufTrustRoot};
use crate::verify::{EmbeddedRoot, FixedRoot, TrustRootSource, Verifier};

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
    /// Another Sigstore trusted root, by name, for authorities with `trustRoot: NAME`
    /// (`public-good` and `github` are built in; this replaces them). Repeatable.
    #[arg(
        long = "trust-root",
        value_name = "NAME=FILE",
        env = "SHIPGATE_TRUST_ROOTS",
        value_delimiter = ','
    )]
    pub trust_roots: Vec<String>,
    /// Keep the public-good Sigstore root current through its TUF repository, caching the
    /// verified metadata in DIR (not with --trusted-root). `check` and `github-action`
    /// refresh once before deciding; `serve` and the Lambda refresh in the background.
    #[arg(long, value_name = "DIR", env = "SHIPGATE_TUF_CACHE")]
    pub tuf_cache: Option<PathBuf>,
    /// The TUF repository to refresh from (default https://tuf-repo-cdn.sigstore.dev;
    /// `file://DIR` for a copy on disk). Needs --tuf-cache.
    #[arg(
        long,
        value_name = "URL",
        env = "SHIPGATE_TUF_MIRROR",
        requires = "tuf_cache"
    )]
    pub tuf_mirror: Option<String>,
    /// The TUF root.json trusted out of band instead of the embedded Sigstore one (a newer
    /// public-good root, or a private TUF repository's). Needs --tuf-cache.
    #[arg(
        long,
        value_name = "FILE",
        env = "SHIPGATE_TUF_ROOT",
        requires = "tuf_cache"
    )]
    pub tuf_root: Option<PathBuf>,
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

impl GateArgs {
    /// The options as the environment sets them (`SHIPGATE_*`), for entry points without a
    /// command line (the Lambda).
    pub fn from_env() -> anyhow::Result<GateArgs> {
        #[derive(clap::Parser)]
        struct EnvOnly {
            #[command(flatten)]
            gate: GateArgs,
        }
        use clap::Parser as _;
        Ok(EnvOnly::try_parse_from(["shipgate"])
            .map_err(|e| anyhow::anyhow!("{}", e.to_string().trim()))?
            .gate)
    }
}

/// A gate and the trusted roots it was built with (keep them as long as the gate is used:
/// they hold the TUF refresher).
pub struct OpenGate {
    pub gate: Gate,
    pub roots: MainRoots,
}

/// The main Sigstore root and the public-good one, set up once per process (a TUF-refreshed
/// root and its refresher must not be started again on a reload).
pub struct MainRoots {
    main: Arc<dyn TrustRootSource>,
    public_good: Arc<dyn TrustRootSource>,
    /// Keeps a TUF-refreshed root current; `None` for fixed roots.
    pub refresher: Option<Refresher>,
    tuf: bool,
}

impl MainRoots {
    /// Whether the main root is the TUF-refreshed one (kept across reloads; a fixed root file
    /// is read again instead).
    pub fn is_tuf(&self) -> bool {
        self.tuf
    }

    /// A gate for `policies` judged by these roots plus the named ones of `args` and
    /// `config` (read now: a reload picks up changed files). Every `trustRoot:` of the
    /// policies must name one of them.
    pub fn gate(
        &self,
        policies: PolicySet,
        args: &GateArgs,
        config: Option<&ServeConfig>,
    ) -> anyhow::Result<Gate> {
        let verifier = crate::trust::named::verifier(
            self.main.clone(),
            self.public_good.clone(),
            &named_roots(args, config)?,
        )?;
        crate::trust::named::check_policies(&policies, &verifier)?;
        build_gate_with(policies, args, config, Arc::new(verifier))
    }
}

/// When a TUF-refreshed root is first refreshed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirstRefresh {
    /// Before the gate is returned (one-shot commands: `check`, `github-action`); a failure
    /// is logged and the disk cache, else the embedded root, serves.
    Wait,
    /// In the background (services: `serve`, the Lambda).
    Background,
}

/// Builds the gate from flags, falling back to the config file, then to defaults. The main
/// Sigstore root is `--trusted-root` (or `trustedRoot`), else the TUF-refreshed public-good
/// root (`--tuf-cache` or `tuf:`), else the embedded public-good one; the named roots are the
/// built-in ones plus `--trust-root`/`trustRoots`. Every policy's `trustRoot:` must name one.
pub async fn open_gate(
    policies: PolicySet,
    args: &GateArgs,
    config: Option<&ServeConfig>,
    first_refresh: FirstRefresh,
) -> anyhow::Result<OpenGate> {
    let roots = main_roots(args, config, first_refresh).await?;
    let gate = roots.gate(policies, args, config)?;
    Ok(OpenGate { gate, roots })
}

/// The main root: `--trusted-root` (`trustedRoot`), else the TUF-refreshed public-good root
/// (`--tuf-cache`, `tuf:`), else the embedded public-good root.
pub async fn main_roots(
    args: &GateArgs,
    config: Option<&ServeConfig>,
    first_refresh: FirstRefresh,
) -> anyhow::Result<MainRoots> {
    let trusted_root = args
        .trusted_root
        .clone()
        .or_else(|| config.and_then(|c| c.trusted_root.clone()));
    let tuf = tuf_config(args, config)?;
    let is_tuf = tuf.is_some();
    let embedded: Arc<dyn TrustRootSource> = Arc::new(EmbeddedRoot::public_good());
    let (main, public_good, refresher): (Arc<dyn TrustRootSource>, _, _) = match (trusted_root, tuf)
    {
        (Some(_), Some(_)) => anyhow::bail!(
            "give a fixed main root (--trusted-root, `trustedRoot`) or the TUF-refreshed \
             public-good root (--tuf-cache, `tuf`), not both"
        ),
        (Some(path), None) => {
            let root = crate::trust::named::read_root(&path)?;
            (Arc::new(FixedRoot(Arc::new(root))), embedded, None)
        }
        (None, Some(tuf)) if first_refresh == FirstRefresh::Wait => {
            let (options, _) = tuf.options()?;
            let root = Arc::new(
                TufTrustRoot::new(options)
                    .await
                    .map_err(|e| anyhow::anyhow!("tuf: {e:#}"))?,
            );
            // A failed refresh is remembered by the root: once its metadata has expired it
            // serves nothing and every Sigstore signature fails with the reason.
            if let Err(e) = root.refresh().await {
                tracing::warn!(error = %e, "TUF refresh failed; judging with the last verified root");
            }
            (root.clone(), root, None)
        }
        (None, Some(tuf)) => {
            let (root, refresher) = tuf
                .start()
                .await
                .map_err(|e| anyhow::anyhow!("tuf: {e:#}"))?;
            tracing::info!(status = ?root.status(), "Sigstore trusted root from TUF");
            (root.clone(), root, refresher)
        }
        (None, None) => (embedded.clone(), embedded, None),
    };
    Ok(MainRoots {
        main,
        public_good,
        refresher,
        tuf: is_tuf,
    })
}

/// `--tuf-cache`/`--tuf-mirror` over the config's `tuf:` section.
fn tuf_config(args: &GateArgs, config: Option<&ServeConfig>) -> anyhow::Result<Option<TufConfig>> {
    let from_config = config.and_then(|c| c.tuf.clone());
    let Some(cache_dir) = args.tuf_cache.clone() else {
        return Ok(from_config);
    };
    let tuf = TufConfig {
        cache_dir,
        mirror: args
            .tuf_mirror
            .clone()
            .or_else(|| from_config.as_ref().and_then(|c| c.mirror.clone())),
        root: args
            .tuf_root
            .clone()
            .or_else(|| from_config.as_ref().and_then(|c| c.root.clone())),
        refresh_minutes: from_config.and_then(|c| c.refresh_minutes),
    };
    tuf.options()?;
    Ok(Some(tuf))
}

/// `trustRoots` of the config, then `--trust-root` (a flag wins over the file for one name).
fn named_roots(
    args: &GateArgs,
    config: Option<&ServeConfig>,
) -> anyhow::Result<BTreeMap<String, PathBuf>> {
    let mut named = config.map(|c| c.trust_roots.clone()).unwrap_or_default();
    for flag in &args.trust_roots {
        let (name, file) = crate::trust::named::parse_flag(flag).map_err(anyhow::Error::msg)?;
        named.insert(name, file);
    }
    Ok(named)
}

/// The gate around a verifier built already (see [`open_gate`]).
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
