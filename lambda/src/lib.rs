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
use shipgate::cli::FirstRefresh;
use shipgate::decision::Decision;
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
    /// Keeps a TUF-refreshed trusted root current (`SHIPGATE_TUF_CACHE`); `None` otherwise.
    pub tuf_refresher: Option<shipgate::trust::Refresher>,
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
            tuf_refresher: None,
        }
    }

    /// Loads the policies in `SHIPGATE_POLICIES` and the SDK's standard configuration.
    pub async fn from_env() -> Result<Lambda, StartupError> {
        let settings = LambdaSettings::from_env();
        let policies =
            shipgate::policy_loader::load_policies(std::slice::from_ref(&settings.policies_dir))
                .await
                .map_err(|e| StartupError::Policies(e.to_string()))?;
        // The `SHIPGATE_*` variables of the command line apply: insecure registries, the main
        // and named trusted roots, and `SHIPGATE_TUF_CACHE` (e.g. /tmp/shipgate-tuf) for the
        // TUF-refreshed public-good root, refreshed in the background while the function lives.
        let args = shipgate::cli::GateArgs::from_env()
            .map_err(|e| StartupError::Gate(format!("{e:#}")))?;
        let open = shipgate::cli::open_gate(policies, &args, None, FirstRefresh::Background)
            .await
            .map_err(|e| StartupError::Gate(format!("{e:#}")))?;
        let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let mut lambda = Lambda::new(open.gate, sdk, settings);
        lambda.tuf_refresher = open.roots.refresher;
        Ok(lambda)
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

/// Why `d` fails, one `policy/check: reason` per check that counts
/// ([`Decision::counting_denials`]).
pub(crate) fn denial_reasons(d: &Decision) -> Vec<String> {
    d.counting_denials()
        .map(|c| match &c.policy {
            Some(p) => format!("{p}/{}: {}", c.check, c.reason),
            None => format!("{}: {}", c.check, c.reason),
        })
        .collect()
}

/// An AWS SDK error as (the service's error code, a sentence): the code and message when the
/// service answered, else the SDK's description. Never the request's signature or credentials.
/// One function for every client: the SDK crates share their error types.
pub(crate) fn sdk_error_text<E, R>(
    e: &aws_sdk_codepipeline::error::SdkError<E, R>,
) -> (Option<String>, String)
where
    E: aws_sdk_codepipeline::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match e.as_service_error() {
        Some(s) => (
            s.code().map(str::to_string),
            format!(
                "{}: {}",
                s.code().unwrap_or("error"),
                s.message().unwrap_or("no message")
            ),
        ),
        None => (
            None,
            aws_sdk_codepipeline::error::DisplayErrorContext(e).to_string(),
        ),
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
    /// The gate could not decide (a check is `error`): nothing was changed; the error makes
    /// Lambda retry the event, then hand it to the on-failure destination or dead-letter queue.
    #[error("not decided: {0}")]
    Undecided(String),
}

#[cfg(test)]
mod tests {
    use shipgate::decision::{Check, CheckResult, Decision, PolicyRef};
    use shipgate::policy::Mode;

    #[test]
    fn denial_reasons_are_the_checks_that_make_the_image_fail() {
        let policy = |name: &str, mode| PolicyRef {
            name: name.into(),
            sha256: "sha256:00".into(),
            mode,
            on_error: Default::default(),
        };
        let check = |name: &str, policy: Option<&str>, result| {
            let code = match result {
                CheckResult::Pass => shipgate::decision::CheckCode::SignatureVerified,
                _ => shipgate::decision::CheckCode::SignatureMissing,
            };
            Check::new(name, code, policy, result, format!("{name} says so"))
        };
        let d = Decision::conclude(
            "host.example/app:v1".into(),
            None,
            vec![policy("prod", Mode::Enforce), policy("trial", Mode::Audit)],
            vec![
                check("signature", Some("prod"), CheckResult::Fail),
                check("provenance", Some("prod"), CheckResult::Pass),
                check("vulnerabilities", Some("trial"), CheckResult::Fail),
                check("resolve", None, CheckResult::Error),
            ],
            std::time::Instant::now(),
        );
        assert_eq!(
            super::denial_reasons(&d),
            [
                "prod/signature: signature says so",
                "resolve: resolve says so"
            ],
            "an audited policy's failure is reported elsewhere, never as a reason"
        );
    }

    /// The quarantine acts only on `Decision::is_decided_fail`: an enforced `fail`, whatever
    /// else could not be decided.
    #[test]
    fn decided_fail_needs_an_enforced_fail() {
        let policy = |name: &str, mode| PolicyRef {
            name: name.into(),
            sha256: "sha256:00".into(),
            mode,
            on_error: Default::default(),
        };
        let check = |name: &str, policy: Option<&str>, result| {
            let code = match result {
                CheckResult::Pass => shipgate::decision::CheckCode::SignatureVerified,
                _ => shipgate::decision::CheckCode::SignatureMissing,
            };
            Check::new(name, code, policy, result, format!("{name} says so"))
        };
        let decide = |checks: Vec<Check>| {
            Decision::conclude(
                "host.example/app:v1".into(),
                None,
                vec![policy("prod", Mode::Enforce), policy("trial", Mode::Audit)],
                checks,
                std::time::Instant::now(),
            )
        };
        use CheckResult::{Error, Fail, Pass, Skip};
        let cases: Vec<(Vec<Check>, bool, &str)> = vec![
            (
                vec![check("signature", Some("prod"), Pass)],
                false,
                "a pass",
            ),
            (
                vec![
                    check("signature", Some("prod"), Fail),
                    check("provenance", Some("prod"), Pass),
                    check("base-image", Some("prod"), Skip),
                ],
                true,
                "an enforced fail",
            ),
            (
                vec![
                    check("signature", Some("prod"), Fail),
                    check("vulnerabilities", Some("prod"), Error),
                ],
                true,
                "an enforced fail stands beside an enforced error (a fail is read in full)",
            ),
            (
                vec![check("signature", Some("prod"), Error)],
                false,
                "an enforced error only",
            ),
            (
                vec![
                    check("signature", Some("prod"), Error),
                    check("vulnerabilities", Some("trial"), Fail),
                ],
                false,
                "an enforced error beside an audited fail",
            ),
            (
                vec![
                    check("signature", Some("prod"), Fail),
                    check("resolve", None, Error),
                ],
                true,
                "a fail stands beside an error of no policy",
            ),
            (
                vec![
                    check("signature", Some("prod"), Fail),
                    check("vulnerabilities", Some("trial"), Error),
                ],
                true,
                "an audited policy's error does not count",
            ),
            (
                vec![
                    check("signature", Some("prod"), Pass),
                    check("vulnerabilities", Some("trial"), Fail),
                ],
                false,
                "an audited policy's fail is no verdict",
            ),
            (
                vec![check("policy-match", None, Fail)],
                true,
                "a fail of no policy counts",
            ),
            (
                vec![check("signature", Some("unknown"), Fail)],
                true,
                "a check of an unknown policy counts as enforced",
            ),
        ];
        for (checks, expected, what) in cases {
            let d = decide(checks);
            assert_eq!(d.is_decided_fail(), expected, "{what}");
            // A failing image that is not decided says which checks could not decide.
            if !d.passed() && !expected {
                let undecided: Vec<&str> = d.undecided_checks().map(|c| c.check.as_str()).collect();
                assert_eq!(undecided, ["signature"], "{what}");
            }
        }
    }
}
