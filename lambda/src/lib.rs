//! `shipgate-lambda`: the gate on AWS Lambda.
//!
//! One function answers three kinds of events (see [`handle`]):
//! - a CodePipeline job (`CodePipeline.job`): decide the images, then report exactly one job
//!   result to CodePipeline ([`codepipeline`]);
//! - EventBridge `ECR Image Action` / `ECR Image Scan` / `Inspector2 Scan`: decide the pushed
//!   digest and quarantine it on fail ([`ecr_events`], using `shipgate::quarantine`).
//!
//! Everything is built once per cold start ([`Lambda::from_env`]); the handler is stateless.
#![forbid(unsafe_code)]

pub mod codepipeline;
pub mod ecr_events;

use std::path::PathBuf;

use serde_json::Value;
use shipgate::gate::Gate;

/// Switches read from the environment at cold start.
#[derive(Debug, Clone, Default)]
pub struct LambdaSettings {
    /// `SHIPGATE_POLICIES` (default `policies` beside the bootstrap binary's working directory).
    pub policies_dir: PathBuf,
    /// `SHIPGATE_DRY_RUN=true`: report what the quarantine would do, change nothing.
    pub dry_run: bool,
    /// `SHIPGATE_ARCHIVE=true`: also move quarantined images to the ARCHIVE storage class.
    pub archive: bool,
}

impl LambdaSettings {
    pub fn from_env() -> LambdaSettings {
        let flag = |name: &str| {
            std::env::var(name)
                .map(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes"))
                .unwrap_or(false)
        };
        LambdaSettings {
            policies_dir: std::env::var_os("SHIPGATE_POLICIES")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("policies")),
            dry_run: flag("SHIPGATE_DRY_RUN"),
            archive: flag("SHIPGATE_ARCHIVE"),
        }
    }
}

/// What one cold start builds: the gate and the AWS clients. Tests build it with
/// [`Lambda::new`] around a gate and an SDK configuration that point at loopback servers.
pub struct Lambda {
    pub gate: Gate,
    /// The SDK configuration (region, credentials, `AWS_ENDPOINT_URL[_SERVICE]`) every client
    /// is made from. S3 clients for CodePipeline artifacts replace its credentials with the
    /// job's `artifactCredentials`.
    pub sdk: aws_config::SdkConfig,
    pub ecr: aws_sdk_ecr::Client,
    pub codepipeline: aws_sdk_codepipeline::Client,
    pub settings: LambdaSettings,
}

/// Why the function could not start: a broken policy bundle or configuration.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("{0}")]
    Policies(String),
    #[error("{0}")]
    Gate(String),
}

impl Lambda {
    pub fn new(gate: Gate, sdk: aws_config::SdkConfig, settings: LambdaSettings) -> Lambda {
        Lambda {
            gate,
            ecr: aws_sdk_ecr::Client::new(&sdk),
            codepipeline: aws_sdk_codepipeline::Client::new(&sdk),
            sdk,
            settings,
        }
    }

    /// Loads the policies in `SHIPGATE_POLICIES` and the SDK's standard configuration.
    pub async fn from_env() -> Result<Lambda, StartupError> {
        let settings = LambdaSettings::from_env();
        let policies =
            shipgate::policy::PolicySet::load(std::slice::from_ref(&settings.policies_dir))
                .map_err(|e| StartupError::Policies(e.to_string()))?;
        let gate = shipgate::cli::build_gate(policies, &shipgate::cli::GateArgs::default(), None)
            .map_err(|e| StartupError::Gate(format!("{e:#}")))?;
        let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        Ok(Lambda::new(gate, sdk, settings))
    }

    /// Answers one event. The returned value is the function's response; an `Err` is reported
    /// to the Lambda service as a function error (so EventBridge retries it).
    pub async fn handle(&self, event: Value) -> Result<Value, HandlerError> {
        if event.get("CodePipeline.job").is_some() {
            return codepipeline::handle(self, event).await;
        }
        if event.get("detail-type").is_some() {
            return ecr_events::handle(self, event).await;
        }
        Err(HandlerError::UnknownEvent(
            "expected a CodePipeline job (`CodePipeline.job`) or an EventBridge event (`detail-type`)"
                .into(),
        ))
    }
}

/// An event that could not be handled; the runtime reports it as a function error.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error("unknown event: {0}")]
    UnknownEvent(String),
    #[error("malformed event: {0}")]
    Malformed(String),
    #[error("{0}")]
    Aws(String),
}
