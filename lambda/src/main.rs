//! The `shipgate-lambda` bootstrap: build once, then answer events through the Lambda Runtime
//! API (`AWS_LAMBDA_RUNTIME_API`).
#![forbid(unsafe_code)]

use std::process::ExitCode;

use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;
use shipgate_lambda::Lambda;

/// What the Lambda service sets and `lambda_runtime` reads (it panics on a missing one).
const RUNTIME_ENV: [&str; 4] = [
    "AWS_LAMBDA_RUNTIME_API",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
];

#[tokio::main]
async fn main() -> ExitCode {
    shipgate::cli::init_tracing("info");
    let missing: Vec<&str> = RUNTIME_ENV
        .into_iter()
        .filter(|v| std::env::var_os(v).is_none())
        .collect();
    let memory_ok =
        std::env::var("AWS_LAMBDA_FUNCTION_MEMORY_SIZE").map_or(true, |m| m.parse::<i32>().is_ok());
    if !missing.is_empty() || !memory_ok {
        eprintln!(
            "shipgate-lambda: not running inside AWS Lambda ({}); deploy it as a function (see README, \"CodePipeline\"), or use `shipgate check` locally",
            if missing.is_empty() {
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE is not a number".to_string()
            } else {
                format!("{} unset", missing.join(", "))
            }
        );
        return ExitCode::from(2);
    }
    let lambda = match Lambda::from_env().await {
        Ok(l) => l,
        Err(e) => {
            // A broken policy bundle must stop the function, not pass images.
            tracing::error!(error = %e, "shipgate-lambda cannot start");
            return ExitCode::from(2);
        }
    };
    let lambda = &lambda;
    let handler = service_fn(move |event: LambdaEvent<Value>| async move {
        // CodePipeline jobs get the invocation's deadline, so that a slow evaluation still
        // ends in a reported result instead of a timed-out function.
        let answer = if event.payload.get("CodePipeline.job").is_some() {
            let deadline = event.context.deadline();
            shipgate_lambda::codepipeline::handle_until(lambda, event.payload, Some(deadline)).await
        } else {
            lambda.handle(event.payload).await
        };
        answer.map_err(lambda_runtime::Error::from)
    });
    match lambda_runtime::run(handler).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "lambda runtime stopped");
            ExitCode::from(1)
        }
    }
}
