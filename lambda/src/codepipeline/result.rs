//! Reporting a job's one result: `PutJobSuccessResult` (with output variables, or with a
//! continuation token while a scan runs) or `PutJobFailureResult`.

use aws_sdk_codepipeline::types::{ExecutionDetails, FailureDetails, FailureType};

use crate::{sdk_error_text, HandlerError};

/// CodePipeline's limits: `executionDetails.summary` 2048 characters, `failureDetails.message`
/// 5000 characters.
pub const MAX_SUMMARY_CHARS: usize = 2048;
pub const MAX_MESSAGE_CHARS: usize = 5000;

/// What the job ends with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every image may be deployed.
    Pass {
        summary: String,
        /// The decided digests, space-separated, in the order of the images.
        digests: String,
    },
    /// An ECR scan has not finished: CodePipeline invokes the function again with `token`.
    Continue {
        token: String,
        summary: String,
        percent_complete: i32,
    },
    Fail {
        kind: FailureKind,
        message: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The images may not be deployed, or could not be decided.
    JobFailed,
    /// The action is set up wrongly: UserParameters, policy name, input artifact.
    ConfigurationError,
}

impl Outcome {
    pub fn fail(message: impl Into<String>) -> Outcome {
        Outcome::Fail {
            kind: FailureKind::JobFailed,
            message: message.into(),
        }
    }

    pub fn configuration(message: impl Into<String>) -> Outcome {
        Outcome::Fail {
            kind: FailureKind::ConfigurationError,
            message: message.into(),
        }
    }

    /// `pass`, `waiting`, `fail` or `configuration-error`: the job's log and response word.
    pub fn word(&self) -> &'static str {
        match self {
            Outcome::Pass { .. } => "pass",
            Outcome::Continue { .. } => "waiting",
            Outcome::Fail {
                kind: FailureKind::JobFailed,
                ..
            } => "fail",
            Outcome::Fail {
                kind: FailureKind::ConfigurationError,
                ..
            } => "configuration-error",
        }
    }
}

/// Cuts `text` to at most `max` characters, ending with `…` when cut.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Whether CodePipeline took the result now, or had one already (a retried invocation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reported {
    Now,
    AlreadyReported,
}

/// Sends `outcome` for `job_id`. `InvalidJobStateException` means the job already has its
/// result (this is a retry of an invocation that reported): that is not an error. Any other
/// failure is, so that Lambda invokes the function again and the job still gets its result.
pub async fn report(
    client: &aws_sdk_codepipeline::Client,
    job_id: &str,
    outcome: &Outcome,
) -> Result<Reported, HandlerError> {
    let (op, sent) = match outcome {
        Outcome::Pass { summary, digests } => (
            "PutJobSuccessResult",
            client
                .put_job_success_result()
                .job_id(job_id)
                .execution_details(
                    ExecutionDetails::builder()
                        .summary(truncate(summary, MAX_SUMMARY_CHARS))
                        .build(),
                )
                .output_variables("decision", "pass")
                .output_variables("digest", digests.clone())
                .send()
                .await
                .map(|_| ())
                .map_err(|e| sdk_error_text(&e)),
        ),
        Outcome::Continue {
            token,
            summary,
            percent_complete,
        } => (
            "PutJobSuccessResult",
            client
                .put_job_success_result()
                .job_id(job_id)
                .continuation_token(token.clone())
                .execution_details(
                    ExecutionDetails::builder()
                        .summary(truncate(summary, MAX_SUMMARY_CHARS))
                        .percent_complete(*percent_complete)
                        .build(),
                )
                .send()
                .await
                .map(|_| ())
                .map_err(|e| sdk_error_text(&e)),
        ),
        Outcome::Fail { kind, message } => {
            let details = FailureDetails::builder()
                .r#type(match kind {
                    FailureKind::JobFailed => FailureType::JobFailed,
                    FailureKind::ConfigurationError => FailureType::ConfigurationError,
                })
                .message(truncate(message, MAX_MESSAGE_CHARS))
                .build()
                .map_err(|e| HandlerError::Aws(format!("PutJobFailureResult: {e}")))?;
            (
                "PutJobFailureResult",
                client
                    .put_job_failure_result()
                    .job_id(job_id)
                    .failure_details(details)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| sdk_error_text(&e)),
            )
        }
    };
    match sent {
        Ok(()) => Ok(Reported::Now),
        Err((Some(code), _)) if code == "InvalidJobStateException" => {
            tracing::warn!(
                job_id,
                operation = op,
                "CodePipeline says the job already has a result (InvalidJobStateException); a retried invocation, nothing more to do"
            );
            Ok(Reported::AlreadyReported)
        }
        Err((_, detail)) => Err(HandlerError::Aws(format!(
            "CodePipeline {op} for job {job_id} failed: {detail}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_counts_characters_and_marks_the_cut() {
        assert_eq!(truncate("abc", 3), "abc");
        assert_eq!(truncate("abcd", 3), "ab…");
        assert_eq!(truncate("ééééé", 4).chars().count(), 4);
    }
}
