//! The command line: `check`, `serve`, `policy validate|schema`, the verifiers alone
//! (`verify-bundle`, `verify-notation`), and the adapters' commands.
//!
//! Exit codes, everywhere: 0 pass (or valid), 1 fail, 2 usage or configuration error.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::auth::{AuthSettings, Authenticator};
use crate::config::ReloadConfig;
use crate::gate::DecisionRequest;
use crate::policy::model::PolicyFile;
use crate::policy_loader::load_policies;
use crate::reload::{load_policy_set, spawn_triggers, Live, Reloader, Running, Sources};
use crate::server::{self, AppState};

pub use crate::setup::{
    init_tracing, main_roots, open_gate, usage, FirstRefresh, GateArgs, EXIT_FAIL, EXIT_PASS,
    EXIT_USAGE,
};

#[derive(Parser)]
#[command(
    name = "shipgate",
    version,
    about = "May this container image be deployed?"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Decide one image against policies; exit 0 pass, 1 fail, 2 usage/config error.
    Check(CheckArgs),
    /// Run the HTTP decision service.
    Serve(ServeArgs),
    /// Work with policy files.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Verify one Sigstore bundle for an artifact (the sigstore-conformance client protocol);
    /// exit 0 verified, 1 not verified, 2 unusable arguments.
    VerifyBundle(crate::verify_bundle::VerifyBundleArgs),
    /// Verify one Notary Project (Notation) signature offline with Notation's trust policy and
    /// trust-store layout; exit 0 verified, 1 not verified, 2 unusable arguments (including an
    /// invalid trust policy or trust store).
    VerifyNotation(crate::verify_notation::VerifyNotationArgs),
    /// Run as a GitHub Actions step: decide images (locally or with a shipgate service),
    /// write outputs, a step summary and annotations; exit 1 on fail.
    GithubAction(crate::github_action::GithubActionArgs),
    /// Inspect or undo a quarantine applied by shipgate-lambda.
    #[command(subcommand)]
    Quarantine(crate::quarantine::QuarantineCommand),
    /// Describe the decision format.
    #[command(subcommand)]
    Decision(DecisionCommand),
    /// Print the OpenAPI 3.1 description of the HTTP API (`docs/openapi.json`).
    Openapi,
}

#[derive(Subcommand)]
enum DecisionCommand {
    /// Print the JSON Schema of a decision (`docs/decision.schema.json`).
    Schema,
    /// Print the table of check codes and remediations (`docs/codes.md`).
    Codes,
}

#[derive(Subcommand)]
enum PolicyCommand {
    /// Check policy files; exit 0 if all are valid, 2 otherwise.
    Validate {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Print the JSON Schema of policy files (for editors).
    Schema,
}

#[derive(Clone, Copy, ValueEnum)]
enum Output {
    Text,
    Json,
}

#[derive(Args)]
struct CheckArgs {
    /// The image: registry/repository:tag or registry/repository@sha256:….
    image: String,
    /// A policy file or a directory of them. Repeatable.
    #[arg(long, required = true)]
    policy: Vec<PathBuf>,
    #[arg(long, value_enum, default_value = "text")]
    output: Output,
    #[command(flatten)]
    gate: GateArgs,
}

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on (default 127.0.0.1:8080). Without `auth` in --config, only a
    /// loopback address is allowed.
    #[arg(long, env = "SHIPGATE_LISTEN")]
    listen: Option<String>,
    /// Policy files or directories (default: ./policies when it exists). In the environment,
    /// a comma-separated list.
    #[arg(long, env = "SHIPGATE_POLICIES", value_delimiter = ',')]
    policies: Vec<PathBuf>,
    /// A YAML configuration file; flags and the environment override it.
    #[arg(long, env = "SHIPGATE_CONFIG")]
    config: Option<PathBuf>,
    #[command(flatten)]
    gate: GateArgs,
}

/// Prints a generated description (schema, OpenAPI) as pretty JSON.
fn print_json(value: &serde_json::Value) -> u8 {
    match serde_json::to_string_pretty(value) {
        Ok(s) => {
            println!("{s}");
            EXIT_PASS
        }
        Err(e) => usage(format!("cannot render it: {e}")),
    }
}

/// Runs the command line; the binary's `main` is this call.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Policy(PolicyCommand::Schema) => {
            print_json(&schemars::schema_for!(PolicyFile).to_value())
        }
        Command::Decision(DecisionCommand::Schema) => {
            print_json(&crate::api_docs::decision_schema())
        }
        Command::Decision(DecisionCommand::Codes) => {
            print!("{}", crate::api_docs::codes_markdown());
            EXIT_PASS
        }
        Command::Openapi => print_json(&crate::api_docs::openapi()),
        Command::Policy(PolicyCommand::Validate { files }) => runtime().block_on(validate(&files)),
        Command::VerifyBundle(args) => match crate::verify_bundle::verify_bundle(&args) {
            Ok(v) => {
                println!("OK: {}", v.signer);
                EXIT_PASS
            }
            Err(crate::verify_bundle::VerifyBundleError::Failed(why)) => {
                eprintln!("FAIL: {}", why.replace('\n', " "));
                EXIT_FAIL
            }
            Err(crate::verify_bundle::VerifyBundleError::Usage(why)) => usage(why),
        },
        Command::VerifyNotation(args) => match crate::verify_notation::verify_notation(&args) {
            Ok(line) => {
                println!("OK: {}", line.replace('\n', " "));
                EXIT_PASS
            }
            Err(crate::verify_notation::VerifyNotationError::Failed(why)) => {
                eprintln!("FAIL: {}", why.replace('\n', " "));
                EXIT_FAIL
            }
            Err(crate::verify_notation::VerifyNotationError::Usage(why)) => usage(why),
        },
        Command::Check(args) => {
            init_tracing("warn");
            runtime().block_on(check(args))
        }
        Command::Serve(args) => {
            init_tracing("info");
            runtime().block_on(serve(args))
        }
        Command::GithubAction(args) => {
            init_tracing("warn");
            runtime().block_on(crate::github_action::run(args))
        }
        Command::Quarantine(command) => {
            init_tracing("info");
            runtime().block_on(crate::quarantine::run_command(command))
        }
    };
    ExitCode::from(code)
}

fn runtime() -> tokio::runtime::Runtime {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("shipgate: cannot start the async runtime: {e}");
            std::process::exit(i32::from(EXIT_USAGE));
        }
    }
}

/// Loads each file as the gate would, AWS KMS keys included (which proves they are usable).
async fn validate(files: &[PathBuf]) -> u8 {
    let mut code = EXIT_PASS;
    for file in files {
        match load_policies(std::slice::from_ref(file)).await {
            Ok(set) => {
                for p in set.iter() {
                    println!(
                        "{}: ok (policy `{}`, {})",
                        p.source.display(),
                        p.name,
                        p.sha256
                    );
                }
            }
            Err(e) => {
                eprintln!("{e}");
                code = EXIT_USAGE;
            }
        }
    }
    code
}

async fn check(args: CheckArgs) -> u8 {
    let policies = match load_policies(&args.policy).await {
        Ok(p) => p,
        Err(e) => return usage(e.to_string()),
    };
    let gate = match open_gate(policies, &args.gate, None, FirstRefresh::Wait).await {
        Ok(g) => g.gate,
        Err(e) => return usage(format!("{e:#}")),
    };
    let request = DecisionRequest {
        image: args.image,
        policy: None,
    };
    let decision = match gate.decide(&request).await {
        Ok(d) => d,
        Err(e) => return usage(e.to_string()),
    };
    match args.output {
        Output::Text => print!("{}", decision.to_text()),
        Output::Json => match serde_json::to_string_pretty(&decision) {
            Ok(s) => println!("{s}"),
            Err(e) => return usage(format!("cannot render the decision: {e}")),
        },
    }
    if decision.passed() {
        EXIT_PASS
    } else {
        EXIT_FAIL
    }
}

async fn serve(args: ServeArgs) -> u8 {
    // The same steps a reload takes (`crate::reload`), so a reload accepts what startup does.
    let sources = Sources {
        config: args.config.clone(),
        flag_policies: args.policies.clone(),
        flag_trusted_root: args.gate.trusted_root.clone(),
        // A malformed flag is refused below, when the gate is built.
        flag_trust_roots: args
            .gate
            .trust_roots
            .iter()
            .filter_map(|f| crate::trust::named::parse_flag(f).ok())
            .map(|(_, file)| file)
            .collect(),
    };
    let config = match sources.read_config() {
        Ok(c) => c,
        Err(e) => return usage(format!("{e:#}")),
    };
    let policies = match load_policy_set(&sources.policy_paths(&config)).await {
        Ok(p) => p,
        Err(e) => return usage(e.to_string()),
    };
    if policies.is_empty() {
        tracing::warn!("no policies loaded: every image will fail with `no policy governs`");
    }
    // With `tuf:` (or --tuf-cache), the Sigstore root is the TUF repository's, kept current
    // in the background: the refresher lives as long as the server, and reloads keep it.
    let roots = match main_roots(&args.gate, Some(&config), FirstRefresh::Background).await {
        Ok(r) => r,
        Err(e) => return usage(format!("{e:#}")),
    };
    let gate = match roots.gate(policies, &args.gate, Some(&config)) {
        Ok(g) => g,
        Err(e) => return usage(format!("{e:#}")),
    };
    let auth = match &config.auth {
        Some(auth) => match Authenticator::new(auth, &AuthSettings::default()) {
            Ok(a) => Some(Arc::new(a)),
            Err(e) => return usage(format!("auth: {e}")),
        },
        None => None,
    };
    let listen = args
        .listen
        .clone()
        .or(config.listen.clone())
        .unwrap_or_else(|| "127.0.0.1:8080".to_string());
    let limits = match server::ServerLimits::from_config(config.limits.as_ref()) {
        Ok(l) => l,
        Err(e) => return usage(format!("--config: {e}")),
    };
    let unauthenticated_refusal = || {
        usage(format!(
            "refusing to serve {listen} without caller authentication: configure `auth` (OIDC \
             issuers or static tokens) in the --config file, or listen on a loopback address \
             such as 127.0.0.1:8080"
        ))
    };
    // Checked before binding when the address is literal, and again on the bound address
    // (a host name may resolve anywhere).
    if auth.is_none()
        && listen
            .parse::<std::net::SocketAddr>()
            .is_ok_and(|a| !crate::auth::is_loopback(a.ip()))
    {
        return unauthenticated_refusal();
    }
    let listener = match tokio::net::TcpListener::bind(&listen).await {
        Ok(l) => l,
        Err(e) => return usage(format!("cannot listen on {listen}: {e}")),
    };
    let bound = match listener.local_addr() {
        Ok(a) => a,
        Err(e) => return usage(format!("cannot read the address bound for {listen}: {e}")),
    };
    if auth.is_none() && !crate::auth::is_loopback(bound.ip()) {
        return unauthenticated_refusal();
    }
    tracing::info!(
        listen = %bound,
        policies = gate.policies().iter().count(),
        auth = auth.as_ref().map_or_else(|| "none".to_string(), |a| a.describe()),
        "shipgate serving POST /v1/decisions"
    );
    tracing::info!(
        header_timeout_seconds = limits.header_timeout.as_secs(),
        body_timeout_seconds = limits.body_timeout.as_secs(),
        idle_timeout_seconds = limits.idle_timeout.as_secs(),
        max_connections = limits.max_connections,
        max_decisions_in_flight = limits.max_decisions_in_flight,
        "server limits"
    );
    if auth.is_none() {
        tracing::warn!(
            listen = %bound,
            "no `auth` configured: serving unauthenticated, on loopback only"
        );
    }
    let live = Arc::new(Live::new(gate, auth));
    let watch = config
        .reload
        .as_ref()
        .and_then(|r| r.watch_seconds)
        .unwrap_or(ReloadConfig::DEFAULT_WATCH_SECONDS);
    let running = Running {
        config,
        listen_flag: args.listen.is_some(),
        tuf_roots: roots.is_tuf().then(|| Arc::new(roots)),
    };
    let reloader = Arc::new(Reloader::new(sources, args.gate, running, live.clone()));
    reloader.remember().await;
    if let Err(e) = spawn_triggers(reloader, Duration::from_secs(watch)) {
        return usage(format!("cannot listen for SIGHUP: {e}"));
    }
    tracing::info!(
        watch_seconds = watch,
        "reloading on SIGHUP and on file change"
    );
    let state =
        AppState::with_live(live).with_max_decisions_in_flight(limits.max_decisions_in_flight);
    match server::run(listener, state, limits, server::shutdown_signal()).await {
        Ok(()) => EXIT_PASS,
        Err(e) => usage(format!("server error: {e}")),
    }
}
