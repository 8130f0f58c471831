//! CodePipeline Invoke (Lambda) jobs through the REAL `shipgate-lambda` binary.
//!
//! The binary polls a loopback Lambda Runtime API (`shipgate_test_support::lambda_runtime_api`)
//! and reports to a loopback stub of the CodePipeline job-result API
//! (`common/codepipeline_stub.rs`, checking `X-Amz-Target`, the content type and the exact
//! JSON body): AWS publishes no local implementation of either, and moto does not implement
//! the job APIs. ECR scan findings and the S3 artifact bucket are a real moto server. The
//! events start from the documented example event of
//! <https://docs.aws.amazon.com/codepipeline/latest/userguide/actions-invoke-lambda-function.html>
//! (as captured in aws-lambda-rust-runtime's `example-codepipeline_job-event.json`).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

#[path = "common/codepipeline_stub.rs"]
mod codepipeline_stub;

use std::io::Write;

use serde_json::{json, Value};
use shipgate_test_support::lambda_runtime_api::{LambdaProcess, Outcome, RuntimeApi};
use shipgate_test_support::moto::{Moto, ACCOUNT, REGION};

use codepipeline_stub::{Call, CodePipelineStub};

const HOST: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
const BUCKET: &str = "codepipeline-us-east-1-1234567890";

/// The documented example event, verbatim.
const DOCUMENTED_EVENT: &str = r#"{
    "CodePipeline.job": {
        "id": "11111111-abcd-1111-abcd-111111abcdef",
        "accountId": "111111111111",
        "data": {
            "actionConfiguration": {
                "configuration": {
                    "FunctionName": "MyLambdaFunctionForAWSCodePipeline",
                    "UserParameters": "some-input-such-as-a-URL"
                }
            },
            "inputArtifacts": [
                {
                    "location": {
                        "s3Location": {
                            "bucketName": "the name of the bucket configured as the pipeline artifact store in Amazon S3, for example codepipeline-us-east-2-1234567890",
                            "objectKey": "the name of the application, for example CodePipelineDemoApplication.zip"
                        },
                        "type": "S3"
                    },
                    "revision": null,
                    "name": "ArtifactName"
                }
            ],
            "outputArtifacts": [],
            "artifactCredentials": {
                "secretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                "sessionToken": "MIICiTCCAfICCQD6m7oRw0uXOjANBgkqhkiG9w0BAQUFADCBiDELMAkGA1UEBhMCVVMxCzAJBgNVBAgTAldBMRAwDgYDVQQHEwdTZWF0dGxlMQ8wDQYDVQQKEwZBbWF6b24xFDASBgNVBAsTC0lBTSBDb25zb2xlMRIwEAYDVQQDEwlUZXN0Q2lsYWMxHzAdBgkqhkiG9w0BCQEWEG5vb25lQGFtYXpvbi5jb20wHhcNMTEwNDI1MjA0NTIxWhcNMTIwNDI0MjA0NTIxWjCBiDELMAkGA1UEBhMCVVMxCzAJBgNVBAgTAldBMRAwDgYDVQQHEwdTZWF0dGxlMQ8wDQYDVQQKEwZBbWF6b24xFDASBgNVBAsTC0lBTSBDb25zb2xlMRIwEAYDVQQDEwlUZXN0Q2lsYWMxHzAdBgkqhkiG9w0BCQEWEG5vb25lQGFtYXpvbi5jb20wgZ8wDQYJKoZIhvcNAQEBBQADgY0AMIGJAoGBAMaK0dn+a4GmWIWJ21uUSfwfEvySWtC2XADZ4nB+BLYgVIk60CpiwsZ3G93vUEIO3IyNoH/f0wYK8m9TrDHudUZg3qX4waLG5M43q7Wgc/MbQITxOUSQv7c7ugFFDzQGBzZswY6786m86gpEIbb3OhjZnzcvQAaRHhdlQWIMm2nrAgMBAAEwDQYJKoZIhvcNAQEFBQADgYEAtCu4nUhVVxYUntneD9+h8Mg9q6q+auNKyExzyLwaxlAoo7TJHidbtS4J5iNmZgXL0FkbFFBjvSfpJIlJ00zbhNYS5f6GuoEDmFJl0ZxBHjJnyp378OD8uTs7fLvjx79LjSTbNYiytVbZPQUQ5Yaxu2jXnimvw3rrszlaEXAMPLE=",
                "accessKeyId": "AKIAIOSFODNN7EXAMPLE"
            },
            "continuationToken": "A continuation token if continuing job"
        }
    }
}"#;

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const SESSION_TOKEN_PART: &str = "MIICiTCCAfICCQD6m7oRw0uXOjANBgkqhkiG9w0BAQUFADCBiDELMAkGA1UE";

/// The documented event with this test's job id, UserParameters, input artifact and token.
fn job(
    id: &str,
    user_parameters: Option<&str>,
    artifact: Option<&str>,
    token: Option<&str>,
) -> Value {
    let mut event: Value = serde_json::from_str(DOCUMENTED_EVENT).unwrap();
    let job = &mut event["CodePipeline.job"];
    job["id"] = json!(id);
    let data = &mut job["data"];
    let config = data["actionConfiguration"]["configuration"]
        .as_object_mut()
        .unwrap();
    match user_parameters {
        Some(p) => {
            config.insert("UserParameters".into(), json!(p));
        }
        None => {
            config.remove("UserParameters");
        }
    }
    match artifact {
        Some(key) => {
            data["inputArtifacts"][0]["location"]["s3Location"] =
                json!({"bucketName": BUCKET, "objectKey": key});
        }
        None => data["inputArtifacts"] = json!([]),
    }
    let data = data.as_object_mut().unwrap();
    match token {
        Some(t) => {
            data.insert("continuationToken".into(), json!(t));
        }
        None => {
            data.remove("continuationToken");
        }
    }
    event
}

fn findings_response(repo: &str, digest: &str, status: &str, findings: Value) -> Value {
    json!({"registryId": ACCOUNT, "repositoryName": repo, "imageId": {"imageDigest": digest},
           "imageScanStatus": {"status": status, "description": format!("status {status}")},
           "imageScanFindings": {"findings": findings}})
}

fn critical(name: &str, package: &str) -> Value {
    json!({"name": name, "severity": "CRITICAL",
           "uri": format!("https://nvd.nist.gov/vuln/detail/{name}"),
           "attributes": [{"key": "package_name", "value": package},
                          {"key": "package_version", "value": "1.0"},
                          {"key": "CVSS3_SCORE", "value": "9.8"}]})
}

const POLICY: &str = "name: scan\nimages: [\"*.dkr.ecr.*.amazonaws.com/**\"]\nvulnerabilities:\n  source: ecr\n  maxSeverity: HIGH\n";

/// moto, the CodePipeline stub, the Runtime API and the function process.
struct Harness {
    moto: Moto,
    stub: CodePipelineStub,
    api: RuntimeApi,
    function: Option<LambdaProcess>,
    _policies: tempfile::TempDir,
}

impl Harness {
    async fn start() -> Harness {
        let moto = Moto::start();
        let stub = CodePipelineStub::start().await;
        let api = RuntimeApi::start().await;
        let policies = tempfile::tempdir().unwrap();
        std::fs::write(policies.path().join("scan.yaml"), POLICY).unwrap();
        let dir = policies.path().display().to_string();
        let function = LambdaProcess::spawn(
            env!("CARGO_BIN_EXE_shipgate-lambda"),
            &api,
            &[
                ("SHIPGATE_POLICIES", &dir),
                ("AWS_ENDPOINT_URL_ECR", &moto.endpoint),
                ("AWS_ENDPOINT_URL_S3", &moto.endpoint),
                ("AWS_ENDPOINT_URL_CODEPIPELINE", &stub.endpoint),
            ],
        );
        Harness {
            moto,
            stub,
            api,
            function: Some(function),
            _policies: policies,
        }
    }

    /// Pushes an image to moto's ECR with the given scan result; returns `HOST/repo@digest`
    /// and the digest.
    async fn image(
        &self,
        repo: &str,
        tag: &str,
        status: &str,
        findings: Value,
    ) -> (String, String) {
        let digest = self.moto.put_image(repo, tag, true).await;
        self.moto
            .inject(findings_response(repo, &digest, status, findings));
        (format!("{HOST}/{repo}@{digest}"), digest)
    }

    async fn s3(&self) -> aws_sdk_s3::Client {
        let config = aws_sdk_s3::config::Builder::new()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new(REGION))
            .endpoint_url(&self.moto.endpoint)
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                "test", "test", None, None, "test",
            ))
            .force_path_style(true)
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }

    async fn put_artifact(&self, key: &str, files: &[(&str, String)]) {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (name, content) in files {
            w.start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            w.write_all(content.as_bytes()).unwrap();
        }
        let bytes = w.finish().unwrap().into_inner();
        let s3 = self.s3().await;
        let _ = s3.create_bucket().bucket(BUCKET).send().await;
        s3.put_object()
            .bucket(BUCKET)
            .key(key)
            .body(bytes.into())
            .send()
            .await
            .unwrap();
    }

    /// Runs one job and returns the function's response and the one CodePipeline call it made.
    async fn run(&self, event: Value) -> (Value, Call) {
        let before = self.stub.calls().len();
        let outcome = self.api.invoke(event).await;
        let Outcome::Response(response) = outcome else {
            panic!("the function failed: {outcome:?}\n{}", self.log());
        };
        let calls = self.stub.calls();
        assert_eq!(
            calls.len(),
            before + 1,
            "exactly one result per job: {calls:?}"
        );
        assert!(
            self.stub.violations().is_empty(),
            "{:?}",
            self.stub.violations()
        );
        (response, calls[before].clone())
    }

    fn log(&self) -> String {
        self.function
            .as_ref()
            .map(|f| f.stderr())
            .unwrap_or_default()
    }

    /// Stops the function and checks that its whole log never shows the job's credentials.
    fn finish(mut self) -> String {
        let (stderr, stdout) = self.function.take().unwrap().finish();
        for output in [&stderr, &stdout] {
            assert!(
                !output.contains(SECRET),
                "secret access key logged:\n{output}"
            );
            assert!(
                !output.contains(SESSION_TOKEN_PART),
                "session token logged:\n{output}"
            );
        }
        stderr
    }
}

fn success(id: &str, summary: &str, digest: &str) -> Call {
    Call {
        operation: "PutJobSuccessResult".into(),
        body: json!({"jobId": id, "executionDetails": {"summary": summary},
                     "outputVariables": {"decision": "pass", "digest": digest}}),
    }
}

fn failure(id: &str, kind: &str, message: &str) -> Call {
    Call {
        operation: "PutJobFailureResult".into(),
        body: json!({"jobId": id, "failureDetails": {"type": kind, "message": message}}),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_user_parameters_pass_fail_and_misconfiguration() {
    let h = Harness::start().await;
    let (clean, clean_digest) = h.image("app", "clean", "COMPLETE", json!([])).await;
    let (bad, _) = h
        .image(
            "app",
            "bad",
            "COMPLETE",
            json!([critical("CVE-2024-0001", "openssl")]),
        )
        .await;

    // Pass: output variables and summary.
    let params = json!({"images": [clean]}).to_string();
    let (response, call) = h.run(job("job-pass", Some(&params), None, None)).await;
    assert_eq!(
        call,
        success(
            "job-pass",
            &format!("PASS {clean} (policy scan)"),
            &clean_digest
        )
    );
    assert_eq!(
        response,
        json!({"jobId": "job-pass", "result": "pass", "alreadyReported": false})
    );

    // Fail: the failing check's reason is the message.
    let params = json!({"images": [bad, clean], "policy": "scan"}).to_string();
    let (_, call) = h.run(job("job-fail", Some(&params), None, None)).await;
    assert_eq!(call, failure("job-fail", "JobFailed", &format!(
        "FAIL {bad}: scan/vulnerabilities: 1 finding above maxSeverity HIGH: CVE-2024-0001 (CRITICAL, openssl 1.0, https://nvd.nist.gov/vuln/detail/CVE-2024-0001). ECR scan COMPLETE: 1 CRITICAL counted (basic scanning). Upgrade the packages named (or rebuild on a patched base image), or accept a finding with an `ignore` entry that has a reason and an expiry\nPASS {clean}")));

    // Malformed UserParameters and an unknown policy are configuration errors.
    let (_, call) = h
        .run(job("job-params", Some("[\"not an object\"]"), None, None))
        .await;
    assert_eq!(call, failure("job-params", "ConfigurationError",
        "UserParameters must be empty or JSON {\"images\": [\"<image>\", ...], \"policy\": \"<policy name>\"} (both optional; without images the first input artifact is read): it is not a JSON object"));
    let (_, call) = h
        .run(job("job-field", Some(r#"{"image": "x"}"#), None, None))
        .await;
    assert_eq!(call, failure("job-field", "ConfigurationError",
        "UserParameters must be empty or JSON {\"images\": [\"<image>\", ...], \"policy\": \"<policy name>\"} (both optional; without images the first input artifact is read): unknown field `image`, expected `images` or `policy`"));
    let params = json!({"images": [clean], "policy": "nope"}).to_string();
    let (_, call) = h.run(job("job-policy", Some(&params), None, None)).await;
    assert_eq!(
        call,
        failure(
            "job-policy",
            "ConfigurationError",
            &format!("the request cannot be decided: {clean}: no policy named `nope` is loaded")
        )
    );

    // A job that already has its result (a retried invocation) is answered without error.
    h.stub.reply_error(
        400,
        "InvalidJobStateException",
        "job is already in a final state",
    );
    let params = json!({"images": [clean]}).to_string();
    let (response, call) = h.run(job("job-again", Some(&params), None, None)).await;
    assert_eq!(call.operation, "PutJobSuccessResult");
    assert_eq!(response["alreadyReported"], true);

    // The documented example verbatim: its continuation token is not shipgate's.
    let (_, call) = h.run(serde_json::from_str(DOCUMENTED_EVENT).unwrap()).await;
    assert_eq!(call, failure("11111111-abcd-1111-abcd-111111abcdef", "ConfigurationError",
        "the job's continuationToken was not written by shipgate (or is damaged); rerun the stage"));

    // Without a job id nothing can be reported: a function error, and no call.
    let calls = h.stub.calls().len();
    let outcome = h
        .api
        .invoke(json!({"CodePipeline.job": {"data": {}}}))
        .await;
    assert!(matches!(outcome, Outcome::Error { .. }), "{outcome:?}");
    assert_eq!(h.stub.calls().len(), calls);

    let log = h.finish();
    assert!(
        log.contains("codepipeline job") && log.contains("job-pass"),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_artifact_images_from_s3() {
    let h = Harness::start().await;
    let (_, digest) = h.image("svc", "v1", "COMPLETE", json!([])).await;
    // The ECR source action's imageDetail.json names the image by tag and digest.
    let detail = json!({"ImageSizeInBytes": "44728918", "ImageDigest": digest, "Version": "1.0",
        "ImagePushedAt": "Mon Jan 21 20:04:00 UTC 2019", "RegistryId": ACCOUNT,
        "RepositoryName": "svc", "ImageURI": format!("{HOST}/svc:v1"), "ImageTags": ["v1"]});
    h.put_artifact(
        "pipe/SourceArti/detail.zip",
        &[("imageDetail.json", detail.to_string())],
    )
    .await;
    let (_, call) = h
        .run(job(
            "job-detail",
            None,
            Some("pipe/SourceArti/detail.zip"),
            None,
        ))
        .await;
    let pinned = format!("{HOST}/svc@{digest}");
    assert_eq!(
        call,
        success(
            "job-detail",
            &format!("PASS {pinned} (policy scan)"),
            &digest
        )
    );

    // imagedefinitions.json of an ECS deployment, with UserParameters naming only the policy.
    let defs = json!([{"name": "web", "imageUri": pinned}]);
    h.put_artifact(
        "pipe/BuildArtif/defs.zip",
        &[("imagedefinitions.json", defs.to_string())],
    )
    .await;
    let (_, call) = h
        .run(job(
            "job-defs",
            Some(r#"{"policy": "scan"}"#),
            Some("pipe/BuildArtif/defs.zip"),
            None,
        ))
        .await;
    assert_eq!(
        call,
        success("job-defs", &format!("PASS {pinned} (policy scan)"), &digest)
    );

    // A zip without either file is a configuration error; a missing object fails the job.
    h.put_artifact("pipe/other.zip", &[("README", "x".into())])
        .await;
    let (_, call) = h
        .run(job("job-empty", None, Some("pipe/other.zip"), None))
        .await;
    assert_eq!(
        call.body["failureDetails"]["type"], "ConfigurationError",
        "{call:?}"
    );
    assert!(call.body["failureDetails"]["message"]
        .as_str()
        .unwrap()
        .contains("contains neither imageDetail.json"));
    let (_, call) = h
        .run(job("job-missing", None, Some("pipe/gone.zip"), None))
        .await;
    assert_eq!(call, failure("job-missing", "JobFailed", &format!(
        "cannot read input artifact `ArtifactName` (s3://{BUCKET}/pipe/gone.zip): NoSuchKey: The specified key does not exist.; check that the previous action produced it and that the pipeline's artifact store is reachable")));

    // No UserParameters images and no artifact: nothing to decide.
    let (_, call) = h.run(job("job-nothing", None, None, None)).await;
    assert_eq!(call.body["failureDetails"]["type"], "ConfigurationError");
    h.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_pending_scan_continues_then_gives_up_after_the_bound() {
    let h = Harness::start().await;
    let (image, _) = h.image("slow", "v1", "IN_PROGRESS", json!([])).await;
    let params = json!({"images": [image]}).to_string();

    let (response, call) = h.run(job("job-wait", Some(&params), None, None)).await;
    assert_eq!(response["result"], "waiting");
    let token = call.body["continuationToken"].as_str().unwrap().to_string();
    assert_eq!(
        call,
        Call {
            operation: "PutJobSuccessResult".into(),
            body: json!({"jobId": "job-wait", "continuationToken": token, "executionDetails": {
            "summary": format!("waiting for the ECR scan of {image} (attempt 1 of at most 120, 30 min at most)"),
            "percentComplete": 0}}),
        }
    );
    let parsed: Value = serde_json::from_str(&token).unwrap();
    assert_eq!(parsed["shipgate"], 1);
    assert_eq!(parsed["attempt"], 1);

    // CodePipeline invokes again with the token: still waiting, attempt 2.
    let (_, call) = h
        .run(job("job-wait", Some(&params), None, Some(&token)))
        .await;
    let next: Value =
        serde_json::from_str(call.body["continuationToken"].as_str().unwrap()).unwrap();
    assert_eq!(next["attempt"], 2);
    assert_eq!(next["firstAttemptAt"], parsed["firstAttemptAt"]);

    // A continuation whose first attempt is past the 30-minute bound fails with the reason.
    let first = parsed["firstAttemptAt"].as_u64().unwrap() - 31 * 60;
    let late = json!({"shipgate": 1, "firstAttemptAt": first, "attempt": 7}).to_string();
    let (response, call) = h
        .run(job("job-wait", Some(&params), None, Some(&late)))
        .await;
    assert_eq!(response["result"], "fail");
    assert_eq!(call.operation, "PutJobFailureResult");
    assert_eq!(call.body["failureDetails"]["type"], "JobFailed");
    let message = call.body["failureDetails"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("gave up waiting for the ECR scan after 8 attempts over 31 min"),
        "{message}"
    );
    assert!(
        message.contains(&format!(
            "FAIL {image}: scan/vulnerabilities: scan not finished"
        )),
        "{message}"
    );
    h.finish();
}

/// Edge cases through `codepipeline::handle_until` directly.
#[path = "codepipeline/handler.rs"]
mod handler;

/// Started outside Lambda (no Runtime API environment) the binary says so and exits 2, where
/// `lambda_runtime` alone would panic on the first missing variable.
#[test]
fn outside_lambda_the_binary_exits_2_with_a_reason_not_a_panic() {
    let policies = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_shipgate-lambda"))
        .env_clear()
        .env("SHIPGATE_POLICIES", policies.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("not running inside AWS Lambda")
            && stderr.contains("AWS_LAMBDA_RUNTIME_API"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}
