//! Handler-level edge cases: `codepipeline::handle_until` with a gate built here (its ECR
//! findings source panics or never answers) and the loopback CodePipeline stub.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::json;
use shipgate::evidence::ecr_findings::{EcrCallError, FindingsPage, ScanFindings, ScanTarget};
use shipgate::gate::{Gate, GateSettings};
use shipgate::policy::{Policy, PolicySet};
use shipgate::registry::{RegistryClient, RegistryConfig};
use shipgate::verify::{TrustRoot, Verifier};
use shipgate_lambda::{Lambda, LambdaSettings};
use shipgate_test_support::moto::{hook_for, REGION};

use super::codepipeline_stub::CodePipelineStub;
use super::{failure, job, HOST, POLICY};

type Page<'a> = Pin<Box<dyn Future<Output = Result<FindingsPage, EcrCallError>> + Send + 'a>>;
type Started<'a> = Pin<Box<dyn Future<Output = Result<(), EcrCallError>> + Send + 'a>>;

/// An ECR findings source that panics, or never answers.
enum Findings {
    Panics,
    Hangs,
}

// `ScanFindings` is an `async_trait`; this is its expansion, written out because the
// lambda crate's tests do not depend on `async-trait`.
impl ScanFindings for Findings {
    fn describe<'s, 't, 'n, 'f>(&'s self, _: &'t ScanTarget, _: Option<&'n str>) -> Page<'f>
    where
        's: 'f,
        't: 'f,
        'n: 'f,
        Self: 'f,
    {
        Box::pin(async move {
            match self {
                Findings::Panics => panic!("a bug in the findings source"),
                Findings::Hangs => std::future::pending().await,
            }
        })
    }

    fn start_scan<'s, 't, 'f>(&'s self, _: &'t ScanTarget) -> Started<'f>
    where
        's: 'f,
        't: 'f,
        Self: 'f,
    {
        Box::pin(async { Ok(()) })
    }
}

async fn lambda(findings: Findings, stub: &CodePipelineStub) -> Lambda {
    let policy = Policy::from_yaml(POLICY, Path::new("scan.yaml")).unwrap();
    let gate = Gate::new(
        PolicySet::new(vec![policy]).unwrap(),
        Arc::new(RegistryClient::new(RegistryConfig::default()).unwrap()),
        Arc::new(findings),
        Arc::new(Verifier::new(Arc::new(TrustRoot::public_good().unwrap()))),
        GateSettings {
            timeout: Duration::from_secs(300),
            ..GateSettings::default()
        },
    );
    let loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(REGION));
    let sdk = (hook_for(&stub.endpoint))(loader).load().await;
    Lambda::new(gate, sdk, LambdaSettings::default())
}

fn image() -> String {
    format!("{HOST}/app@sha256:{}", "ab".repeat(32))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_during_the_evaluation_still_fails_the_job_once() {
    let stub = CodePipelineStub::start().await;
    let lambda = lambda(Findings::Panics, &stub).await;
    let params = json!({"images": [image()]}).to_string();
    let response = shipgate_lambda::codepipeline::handle_until(
        &lambda,
        job("job-panic", Some(&params), None, None),
        None,
    )
    .await
    .unwrap();
    assert_eq!(response["result"], "fail");
    let calls = stub.calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0].body["failureDetails"]["type"], "JobFailed");
    let message = calls[0].body["failureDetails"]["message"].as_str().unwrap();
    // The gate turns a panic in its evidence tasks into a failing check; a panic outside
    // them ends in the handler's own "internal error" failure. Either way: one JobFailed.
    assert!(
        message.contains("panicked") || message.starts_with("internal error"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_function_deadline_ends_the_job_with_a_failure() {
    let stub = CodePipelineStub::start().await;
    let lambda = lambda(Findings::Hangs, &stub).await;
    let params = json!({"images": [image()]}).to_string();
    let deadline = SystemTime::now() + Duration::from_secs(6);
    shipgate_lambda::codepipeline::handle_until(
        &lambda,
        job("job-slow", Some(&params), None, None),
        Some(deadline),
    )
    .await
    .unwrap();
    let calls = stub.calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    let message = calls[0].body["failureDetails"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("the evaluation did not finish before the function's deadline"),
        "{message}"
    );
    assert_eq!(calls[0], failure("job-slow", "JobFailed", message));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_codepipeline_errors_are_function_errors_so_lambda_retries() {
    let stub = CodePipelineStub::start().await;
    let lambda = lambda(Findings::Hangs, &stub).await;
    stub.reply_error(400, "JobNotFoundException", "no such job");
    let result = shipgate_lambda::codepipeline::handle(
        &lambda,
        job("job-unknown", Some("not json"), None, None),
    )
    .await;
    let err = result.unwrap_err().to_string();
    assert!(
        err.contains("PutJobFailureResult") && err.contains("JobNotFoundException"),
        "{err}"
    );
}
