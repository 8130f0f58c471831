//! CodePipeline Invoke (Lambda) jobs: decide the job's images, then report exactly one result.
//!
//! The images come from `UserParameters` (`{"images": [...], "policy": "name"}`) or, when it
//! names none, from the first input artifact ([`artifact`]). All images pass → a
//! `PutJobSuccessResult` with output variables `decision` and `digest`; any image fails → a
//! `PutJobFailureResult` (`JobFailed`) with the reasons; a bad setup (UserParameters, policy
//! name, artifact content) → `ConfigurationError`. While an ECR scan is still running the job
//! succeeds with a continuation token ([`Continuation`]) and CodePipeline invokes the function
//! again, up to [`MAX_WAIT`] / [`MAX_ATTEMPTS`].
//!
//! Every job with a readable id gets one result, also when the evaluation errors, panics or
//! runs into the function's deadline: the evaluation runs in its own task. The job's
//! `artifactCredentials` are never logged (see [`event::ArtifactCredentials`]).

pub mod artifact;
pub mod event;
pub mod result;

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use shipgate::decision::Decision;
use shipgate::gate::{DecisionRequest, Gate};

use crate::{HandlerError, Lambda};
use event::JobData;
pub use result::{FailureKind, Outcome};

/// Most images decided in one job.
pub const MAX_IMAGES: usize = 20;
/// How long a job may wait for unfinished ECR scans over all its continuations.
pub const MAX_WAIT: Duration = Duration::from_secs(30 * 60);
/// Most invocations of one job while waiting (a bound independent of the clock).
pub const MAX_ATTEMPTS: u32 = 120;
/// Time kept back from the function's deadline for reporting the result.
const DEADLINE_MARGIN: Duration = Duration::from_secs(5);
/// Longest continuation token accepted back (CodePipeline allows 2048 characters).
const MAX_TOKEN_LEN: usize = 512;

/// Answers a `{"CodePipeline.job": …}` event (no deadline known).
pub async fn handle(lambda: &Lambda, event: Value) -> Result<Value, HandlerError> {
    handle_until(lambda, event, None).await
}

/// Answers a job, ending the evaluation [`DEADLINE_MARGIN`] before `deadline` (the
/// invocation's, from the Lambda runtime) so that a result is still reported in time.
pub async fn handle_until(
    lambda: &Lambda,
    event: Value,
    deadline: Option<SystemTime>,
) -> Result<Value, HandlerError> {
    let job = event::parse(event).map_err(|e| HandlerError::Malformed(e.to_string()))?;
    let (outcome, images) = match job.data {
        Err(reason) => (Outcome::configuration(reason), Vec::new()),
        Ok(data) => evaluate_guarded(lambda, data, deadline).await,
    };
    tracing::info!(
        job_id = %job.id,
        images = %images.join(" "),
        decision = outcome.word(),
        "codepipeline job"
    );
    let reported = result::report(&lambda.codepipeline, &job.id, &outcome).await?;
    Ok(json!({
        "jobId": job.id,
        "result": outcome.word(),
        "alreadyReported": reported == result::Reported::AlreadyReported,
    }))
}

/// Runs [`evaluate`] in its own task, so that a panic or the deadline still ends in a result.
async fn evaluate_guarded(
    lambda: &Lambda,
    data: JobData,
    deadline: Option<SystemTime>,
) -> (Outcome, Vec<String>) {
    let gate = lambda.gate.clone();
    let sdk = lambda.sdk.clone();
    let mut task = tokio::spawn(async move { evaluate(&gate, &sdk, data).await });
    let budget = deadline.map(|d| {
        d.duration_since(SystemTime::now())
            .unwrap_or_default()
            .saturating_sub(DEADLINE_MARGIN)
    });
    let joined = match budget {
        None => (&mut task).await,
        Some(budget) => match tokio::time::timeout(budget, &mut task).await {
            Ok(joined) => joined,
            Err(_) => {
                task.abort();
                return (
                    Outcome::fail(format!(
                        "the evaluation did not finish before the function's deadline (it had {}s); raise the Lambda function's timeout (60 s or more is recommended) or the gate has a problem reaching AWS",
                        budget.as_secs()
                    )),
                    Vec::new(),
                );
            }
        },
    };
    match joined {
        Ok(done) => done,
        Err(e) => {
            tracing::error!(
                panicked = e.is_panic(),
                "the CodePipeline job evaluation did not complete"
            );
            (
                Outcome::fail(
                    "internal error: the evaluation stopped unexpectedly (a bug in shipgate); the image was not allowed. Retry the stage; if it repeats, report it with the function's log",
                ),
                Vec::new(),
            )
        }
    }
}

/// `UserParameters`: which images, under which policy.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct UserParameters {
    #[serde(default)]
    images: Option<Vec<String>>,
    #[serde(default)]
    policy: Option<String>,
}

const USER_PARAMETERS_HELP: &str = r#"UserParameters must be empty or JSON {"images": ["<image>", ...], "policy": "<policy name>"} (both optional; without images the first input artifact is read)"#;

fn user_parameters(text: Option<&str>) -> Result<UserParameters, String> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(UserParameters::default());
    };
    let value: Value =
        serde_json::from_str(text).map_err(|e| format!("{USER_PARAMETERS_HELP}: {e}"))?;
    if !value.is_object() {
        return Err(format!("{USER_PARAMETERS_HELP}: it is not a JSON object"));
    }
    let mut p: UserParameters =
        serde_json::from_value(value).map_err(|e| format!("{USER_PARAMETERS_HELP}: {e}"))?;
    if let Some(images) = &mut p.images {
        let mut unique: Vec<String> = Vec::new();
        for image in images.iter().map(|i| i.trim()) {
            if image.is_empty() {
                return Err(format!("{USER_PARAMETERS_HELP}: an image is empty"));
            }
            if !unique.iter().any(|u| u == image) {
                unique.push(image.to_string());
            }
        }
        if unique.is_empty() {
            return Err(format!(
                "{USER_PARAMETERS_HELP}: `images` is empty (leave it out to read the input artifact)"
            ));
        }
        if unique.len() > MAX_IMAGES {
            return Err(format!(
                "UserParameters names {} images; at most {MAX_IMAGES} are decided per job",
                unique.len()
            ));
        }
        *images = unique;
    }
    if p.policy.as_deref().is_some_and(|n| n.trim().is_empty()) {
        return Err(format!("{USER_PARAMETERS_HELP}: `policy` is empty"));
    }
    Ok(p)
}

/// The state CodePipeline hands back on the next invocation while a scan runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Continuation {
    /// Always 1: the token's format.
    pub shipgate: u32,
    /// Unix seconds of the job's first invocation.
    pub first_attempt_at: u64,
    /// Invocations so far, this one included.
    pub attempt: u32,
}

impl Continuation {
    pub fn parse(token: &str) -> Result<Continuation, String> {
        let bad = || {
            "the job's continuationToken was not written by shipgate (or is damaged); rerun the stage"
                .to_string()
        };
        if token.len() > MAX_TOKEN_LEN {
            return Err(bad());
        }
        let c: Continuation = serde_json::from_str(token).map_err(|_| bad())?;
        if c.shipgate != 1 || c.attempt == 0 {
            return Err(bad());
        }
        Ok(c)
    }

    pub fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Decides the job's images; never reports (the caller does, exactly once).
async fn evaluate(
    gate: &Gate,
    sdk: &aws_config::SdkConfig,
    data: JobData,
) -> (Outcome, Vec<String>) {
    let previous = match data.continuation_token.as_deref() {
        None | Some("") => None,
        Some(token) => match Continuation::parse(token) {
            Ok(c) => Some(c),
            Err(e) => return (Outcome::configuration(e), Vec::new()),
        },
    };
    let params = match user_parameters(
        data.action_configuration
            .configuration
            .user_parameters
            .as_deref(),
    ) {
        Ok(p) => p,
        Err(e) => return (Outcome::configuration(e), Vec::new()),
    };
    let images = match params.images {
        Some(images) => images,
        None => {
            let Some(first) = data.input_artifacts.first() else {
                return (
                    Outcome::configuration(format!(
                        "no images to decide: UserParameters names none and the action has no input artifact. {USER_PARAMETERS_HELP}, or give the action the artifact of an Amazon ECR source action (imageDetail.json) or one with imagedefinitions.json"
                    )),
                    Vec::new(),
                );
            };
            match artifact::images(sdk, first, data.artifact_credentials.as_ref()).await {
                Ok(images) => images,
                Err(artifact::ArtifactError::Unreadable(e)) => {
                    return (Outcome::fail(e), Vec::new())
                }
                Err(artifact::ArtifactError::Content(e)) => {
                    return (Outcome::configuration(e), Vec::new())
                }
            }
        }
    };
    let requests: Vec<DecisionRequest> = images
        .iter()
        .map(|image| DecisionRequest {
            image: image.clone(),
            policy: params.policy.clone(),
        })
        .collect();
    let answers = futures::future::join_all(requests.iter().map(|r| gate.decide(r))).await;
    let mut decisions = Vec::with_capacity(answers.len());
    let mut refused = Vec::new();
    for (image, answer) in images.iter().zip(answers) {
        match answer {
            Ok(d) => decisions.push(d),
            Err(e) => refused.push(format!("{image}: {e}")),
        }
    }
    if !refused.is_empty() {
        return (
            Outcome::configuration(format!(
                "the request cannot be decided: {}",
                refused.join("; ")
            )),
            images,
        );
    }
    (conclude(&decisions, previous, unix_now()), images)
}

/// The job's outcome from its decisions. `previous` is the continuation this invocation
/// carries; `now` is unix seconds.
pub fn conclude(decisions: &[Decision], previous: Option<Continuation>, now: u64) -> Outcome {
    if decisions.iter().all(Decision::passed) {
        let summary = decisions
            .iter()
            .map(|d| format!("PASS {} ({})", describe(d), policy_names(d)))
            .collect::<Vec<_>>()
            .join("\n");
        let digests = decisions
            .iter()
            .filter_map(|d| d.digest.clone())
            .collect::<Vec<_>>()
            .join(" ");
        return Outcome::Pass { summary, digests };
    }
    let failing: Vec<&Decision> = decisions.iter().filter(|d| !d.passed()).collect();
    let message = failure_message(decisions);
    if !failing.iter().all(|d| d.only_waiting_for_scan()) {
        return Outcome::fail(message);
    }
    let first = previous.map_or(now, |p| p.first_attempt_at);
    let attempt = previous.map_or(1, |p| p.attempt.saturating_add(1));
    let waited = Duration::from_secs(now.saturating_sub(first));
    if waited >= MAX_WAIT || attempt >= MAX_ATTEMPTS {
        return Outcome::fail(format!(
            "gave up waiting for the ECR scan after {attempt} attempts over {} min (at most {} min or {MAX_ATTEMPTS} attempts); make sure the repository scans on push, then rerun the stage.\n{message}",
            waited.as_secs() / 60,
            MAX_WAIT.as_secs() / 60
        ));
    }
    let waiting: Vec<String> = failing.iter().map(|d| describe(d)).collect();
    Outcome::Continue {
        token: Continuation {
            shipgate: 1,
            first_attempt_at: first,
            attempt,
        }
        .encode(),
        summary: format!(
            "waiting for the ECR scan of {} (attempt {attempt} of at most {MAX_ATTEMPTS}, {} min at most)",
            waiting.join(", "),
            MAX_WAIT.as_secs() / 60
        ),
        percent_complete: i32::try_from(attempt.saturating_mul(100) / MAX_ATTEMPTS)
            .unwrap_or(99)
            .min(99),
    }
}

/// `image (digest)`, without repeating a digest the image already names.
fn describe(d: &Decision) -> String {
    match &d.digest {
        Some(digest) if !d.image.contains(digest.as_str()) => format!("{} ({digest})", d.image),
        _ => d.image.clone(),
    }
}

fn policy_names(d: &Decision) -> String {
    if d.policies.is_empty() {
        return "no policy".into();
    }
    let names: Vec<&str> = d.policies.iter().map(|p| p.name.as_str()).collect();
    format!("policy {}", names.join(", "))
}

/// Failing images with their failing checks first, then the images that passed.
fn failure_message(decisions: &[Decision]) -> String {
    let mut lines = Vec::new();
    for d in decisions.iter().filter(|d| !d.passed()) {
        let checks = crate::denial_reasons(d);
        lines.push(format!("FAIL {}: {}", describe(d), checks.join("; ")));
    }
    for d in decisions.iter().filter(|d| d.passed()) {
        lines.push(format!("PASS {}", describe(d)));
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests;
