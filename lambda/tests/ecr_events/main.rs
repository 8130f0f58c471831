//! EventBridge ECR events → decision → quarantine, through `Lambda::handle` and once through
//! the real `shipgate-lambda` binary (loopback Lambda Runtime API), against a real `moto`
//! server (ECR API and injected scan findings; see `tests/it/ecr_findings.rs`).
//!
//! The events are the AWS documentation's examples (constants below, verbatim); the tests that
//! act on moto change only `region` and the image fields to name a real image, since the
//! documented digests are placeholders (60 hex characters: the verbatim examples are malformed
//! and are refused, see `documented_examples_parse_as_documented`).
//!
//! Observed moto 5.2.5 behaviour the tests rely on (and that matches AWS): `BatchDeleteImage` by
//! tag on a multi-tag image removes only that tag; `PutImage` of the same manifest with a new
//! tag adds the tag to the existing digest, also in an IMMUTABLE repository. Deviations: moto's
//! digests are not sha256 of the manifest (the quarantine relies on ECR's own digest check, not
//! a local hash); moto does not implement `UpdateImageStorageClass` (archive is not covered
//! here); moto's `BatchGetRepositoryScanningConfiguration` ignores a repository's `scanOnPush`
//! flag, so "scans on push" is configured with a registry scanning rule, which it does reflect.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod examples;
mod harness;

use aws_sdk_ecr::types::ImageIdentifier;
use serde_json::{json, Value};
use shipgate_lambda::ecr_events::{parse, Parsed, Trigger};
use shipgate_lambda::{HandlerError, LambdaSettings};
use shipgate_test_support::moto::{self, Moto, ACCOUNT, REGION};

use examples::*;
use harness::*;

// --- Tests ---------------------------------------------------------------------------------

#[test]
fn documented_examples_parse_as_documented() {
    // The ECR examples' digests are 60-character placeholders: refused, never guessed at.
    for text in [PUSH_EXAMPLE, SCAN_EXAMPLE, INSPECTOR_EXAMPLE] {
        match parse(&example(text)) {
            Err(HandlerError::Malformed(why)) => {
                assert!(why.contains("digest"), "{why}")
            }
            other => panic!("expected a malformed digest, got {other:?}"),
        }
    }
    // Inspector's ECR example has a real digest: account, region and name come from the ARN.
    let Parsed::Decide(e) = parse(&example(INSPECTOR_ECR_EXAMPLE)).unwrap() else {
        panic!("not decided")
    };
    assert_eq!(e.trigger, Trigger::InspectorScan);
    assert_eq!(
        e.image.reference(),
        "111122223333.dkr.ecr.us-east-1.amazonaws.com/inspector2@sha256:965fbcae990b0467ed5657caceaec165018ef44a4d2d46c7cdea80a9dff0d1ea"
    );
    assert_eq!(e.tags, ["ubuntu22"]);
    assert_eq!(e.origin.id, "fdaa751a-984c-a709-44f9-9a9da9cd3606");
    // An EC2 instance scan names no image: ignored.
    assert!(matches!(
        parse(&example(INSPECTOR_EC2_EXAMPLE)).unwrap(),
        Parsed::Ignore { .. }
    ));
    // The substituted events used below are well-formed.
    let d = format!("sha256:{}", "a".repeat(64));
    let Parsed::Decide(e) = parse(&inspector_event("governed/x", &d, &["v1"])).unwrap() else {
        panic!("not decided")
    };
    assert_eq!(e.image.region, REGION, "the ARN's region, not the event's");
    assert_eq!(e.image.repository, "governed/x");
}

#[test]
fn events_that_need_no_decision_are_ignored_with_a_reason() {
    let d = format!("sha256:{}", "a".repeat(64));
    let cases: Vec<(Value, &str)> = vec![
        (
            {
                let mut e = push_event("governed/app", &d, "v1");
                e["detail"]["action-type"] = json!("DELETE");
                e
            },
            "action-type DELETE is not a push",
        ),
        (
            {
                let mut e = push_event("governed/app", &d, "v1");
                e["detail"]["result"] = json!("FAILURE");
                e
            },
            "push result FAILURE is not SUCCESS",
        ),
        (
            push_event("governed/app", &d, "quarantine-20261123T130405Z"),
            "the quarantine's own PutImage",
        ),
        (
            {
                let mut e = scan_event("governed/app", &d, &[]);
                e["detail"]["scan-status"] = json!("IN_PROGRESS");
                e
            },
            "scan-status IN_PROGRESS: the scan has not ended",
        ),
        (
            {
                let mut e = inspector_event("governed/app", &d, &[]);
                e["detail"]["scan-status"] = json!("SCAN_ELIGIBILITY_EXPIRED");
                e
            },
            "is not INITIAL_SCAN_COMPLETE",
        ),
    ];
    for (event, why) in cases {
        match parse(&event).unwrap() {
            Parsed::Ignore { why: got, .. } => assert!(got.contains(why), "{got}"),
            other => panic!("expected ignore ({why}), got {other:?}"),
        }
    }
}

#[test]
fn malformed_events_are_errors_that_say_what_is_wrong() {
    let d = format!("sha256:{}", "a".repeat(64));
    let cases: Vec<(Value, &str)> = vec![
        (
            {
                let mut e = scan_event("governed/app", &d, &[]);
                e.as_object_mut().unwrap().remove("detail");
                e
            },
            "`detail` must be an object",
        ),
        (
            {
                let mut e = scan_event("governed/app", &d, &[]);
                e["detail"].as_object_mut().unwrap().remove("image-digest");
                e
            },
            "`detail.image-digest` is missing",
        ),
        (scan_event("governed/app", "sha256:abc", &[]), "sha256:abc"),
        (
            scan_event("Governed/App", &d, &[]),
            "repository path components",
        ),
        (
            {
                let mut e = inspector_event("governed/app", &d, &[]);
                e["detail"]["repository-name"] = json!("arn:aws:s3:::bucket");
                e
            },
            "not an ECR repository ARN",
        ),
        (
            {
                let mut e = scan_event("governed/app", &d, &[]);
                e["detail"]["image-tags"] = json!("latest");
                e
            },
            "`detail.image-tags` must be an array",
        ),
        (
            {
                let mut e = push_event("governed/app", &d, "v1");
                e["account"] = json!(12);
                e
            },
            "`account` must be a non-empty string",
        ),
        (
            {
                let mut e = scan_event("governed/app", &d, &[]);
                e["source"] = json!("acme.ci");
                e
            },
            "must come from source aws.ecr, not acme.ci",
        ),
    ];
    for (event, why) in cases {
        match parse(&event) {
            Err(HandlerError::Malformed(got)) => assert!(got.contains(why), "{got} lacks {why}"),
            other => panic!("expected malformed ({why}), got {other:?}"),
        }
    }
    let mut other = push_event("governed/app", &d, "v1");
    other["detail-type"] = json!("ECR Pull Through Cache Action");
    assert!(
        matches!(parse(&other), Err(HandlerError::UnknownEvent(w)) if w.contains("check the EventBridge rule"))
    );
}

#[test]
fn failing_scan_quarantines_keeps_the_digest_and_repeats_are_idempotent() {
    let moto = Moto::start();
    runtime().block_on(async {
        let h = harness(&moto, "HIGH", settings()).await;
        let repo = "governed/app";
        let digest = moto.put_image(repo, "v1", true).await;
        h.add_tag(repo, &digest, "latest").await;
        h.add_tag(repo, &digest, "release-1").await;
        critical(&moto, repo, &digest);
        assert_eq!(h.tags(repo, &digest).await, ["latest", "release-1", "v1"]);

        let event = scan_event(repo, &digest, &["v1", "latest", "release-1"]);
        let out = h.handle(event.clone()).await.unwrap();
        assert_eq!(out["action"], "quarantined", "{out:#}");
        let o = &out["outcome"];
        assert_eq!(o["removed_tags"], json!(["latest", "release-1", "v1"]));
        assert_eq!(o["already_quarantined"], false);
        assert_eq!(o["dry_run"], false);
        assert_eq!(o["archived"], false);
        assert_eq!(o["digest"], digest);
        assert_eq!(o["repository"], repo);
        let qtag = o["quarantine_tag"].as_str().unwrap().to_string();
        assert_quarantine_tag(&qtag, &digest);
        assert_eq!(out["decision"]["policies"][0]["name"], "scan");
        assert!(out["decision"]["policies"][0]["sha256"]
            .as_str()
            .unwrap()
            .starts_with("sha256:"));
        assert!(
            out["decision"]["reasons"][0]
                .as_str()
                .unwrap()
                .contains("CVE-2024-0001"),
            "{out:#}"
        );
        // Only the quarantine tag is left, and the digest is still there.
        assert_eq!(h.tags(repo, &digest).await, std::slice::from_ref(&qtag));

        // The same event again (EventBridge delivers at least once): nothing changes.
        let again = h.handle(event).await.unwrap();
        assert_eq!(again["action"], "quarantined");
        assert_eq!(again["outcome"]["already_quarantined"], true);
        assert_eq!(again["outcome"]["quarantine_tag"], qtag);
        assert_eq!(again["outcome"]["removed_tags"], json!([]));
        assert_eq!(
            again["outcome"]["actions"],
            json!(["nothing to do: already quarantined"])
        );
        assert_eq!(h.tags(repo, &digest).await, std::slice::from_ref(&qtag));

        // The push event the quarantine's own PutImage causes: ignored, not a loop.
        let own = h.handle(push_event(repo, &digest, &qtag)).await.unwrap();
        assert_eq!(own["action"], "ignored");
        assert_eq!(h.tags(repo, &digest).await, std::slice::from_ref(&qtag));

        // A new tag pushed onto the quarantined digest is removed again; one quarantine tag.
        h.add_tag(repo, &digest, "v2").await;
        let push = h.handle(push_event(repo, &digest, "v2")).await.unwrap();
        assert_eq!(push["action"], "quarantined", "{push:#}");
        assert_eq!(push["outcome"]["already_quarantined"], true);
        assert_eq!(push["outcome"]["removed_tags"], json!(["v2"]));
        assert_eq!(h.tags(repo, &digest).await, std::slice::from_ref(&qtag));

        // A later pass (here: a laxer policy) never restores the quarantined image.
        let lax = harness(&moto, "CRITICAL", settings()).await;
        let pass = lax
            .handle(scan_event(repo, &digest, &[qtag.as_str()]))
            .await
            .unwrap();
        assert_eq!(pass["action"], "passed", "{pass:#}");
        assert!(pass["reason"]
            .as_str()
            .unwrap()
            .contains("stays quarantined"));
        assert_eq!(h.tags(repo, &digest).await, [qtag]);
    });
}

#[test]
fn dry_run_reports_the_plan_and_changes_nothing() {
    let moto = Moto::start();
    runtime().block_on(async {
        let h = harness(
            &moto,
            "HIGH",
            LambdaSettings {
                dry_run: true,
                archive: true,
                ..settings()
            },
        )
        .await;
        let repo = "governed/dry";
        let digest = moto.put_image(repo, "v1", true).await;
        h.add_tag(repo, &digest, "latest").await;
        critical(&moto, repo, &digest);

        let out = h
            .handle(scan_event(repo, &digest, &["v1", "latest"]))
            .await
            .unwrap();
        assert_eq!(out["action"], "dry_run", "{out:#}");
        let o = &out["outcome"];
        assert_eq!(o["dry_run"], true);
        assert_eq!(o["removed_tags"], json!(["latest", "v1"]));
        assert_eq!(o["archived"], true, "archive is planned");
        let qtag = o["quarantine_tag"].as_str().unwrap();
        assert_eq!(
            o["actions"],
            json!([
                format!("would add tag {qtag}"),
                "would remove tags latest, v1",
                "would move the image to the ARCHIVE storage class"
            ])
        );
        assert_eq!(h.tags(repo, &digest).await, ["latest", "v1"]);
    });
}

#[test]
fn clean_scan_and_ungoverned_repositories_change_nothing() {
    let moto = Moto::start();
    runtime().block_on(async {
        let h = harness(&moto, "HIGH", settings()).await;
        let digest = moto.put_image("governed/clean", "v1", true).await;
        clean(&moto, "governed/clean", &digest);
        let out = h
            .handle(scan_event("governed/clean", &digest, &["v1"]))
            .await
            .unwrap();
        assert_eq!(out["action"], "passed", "{out:#}");
        assert_eq!(out["reason"], "passes; nothing to do");
        assert_eq!(h.tags("governed/clean", &digest).await, ["v1"]);

        // Failing findings, but no policy governs the repository: never quarantined.
        let other = moto.put_image("other/app", "v1", true).await;
        critical(&moto, "other/app", &other);
        let out = h
            .handle(scan_event("other/app", &other, &["v1"]))
            .await
            .unwrap();
        assert_eq!(out["action"], "ignored", "{out:#}");
        assert!(out["reason"]
            .as_str()
            .unwrap()
            .contains("no policy governs 123456789012.dkr.ecr.us-east-1.amazonaws.com/other/app"));
        assert_eq!(h.tags("other/app", &other).await, ["v1"]);
    });
}

#[test]
fn push_with_pending_scan_is_deferred_only_where_the_repository_scans_on_push() {
    let moto = Moto::start();
    runtime().block_on(async {
        let h = harness(&moto, "HIGH", settings()).await;
        // Basic scan on push for governed/scanned* (moto reflects registry scanning rules).
        h.ecr
            .put_registry_scanning_configuration()
            .scan_type(aws_sdk_ecr::types::ScanType::Basic)
            .rules(
                aws_sdk_ecr::types::RegistryScanningRule::builder()
                    .scan_frequency(aws_sdk_ecr::types::ScanFrequency::ScanOnPush)
                    .repository_filters(
                        aws_sdk_ecr::types::ScanningRepositoryFilter::builder()
                            .filter("governed/scanned*")
                            .filter_type(aws_sdk_ecr::types::ScanningRepositoryFilterType::Wildcard)
                            .build()
                            .unwrap(),
                    )
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        let scanned = moto.put_image("governed/scanned", "v1", false).await;
        let out = h
            .handle(push_event("governed/scanned", &scanned, "v1"))
            .await
            .unwrap();
        assert_eq!(out["action"], "deferred", "{out:#}");
        assert_eq!(h.tags("governed/scanned", &scanned).await, ["v1"]);

        // The scan event for a scan ECR still reports pending: an error, so Lambda retries.
        let err = h
            .handle(scan_event("governed/scanned", &scanned, &["v1"]))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, HandlerError::Aws(w) if w.contains("still reports the scan as pending")),
            "{err}"
        );
        assert_eq!(h.tags("governed/scanned", &scanned).await, ["v1"]);

        // No scanning configured: no scan will ever come, so the push decides (and fails).
        let unscanned = moto.put_image("governed/unscanned", "v1", false).await;
        let out = h
            .handle(push_event("governed/unscanned", &unscanned, "v1"))
            .await
            .unwrap();
        assert_eq!(out["action"], "quarantined", "{out:#}");
        let tags = h.tags("governed/unscanned", &unscanned).await;
        assert_eq!(quarantine_tags(&tags).len(), 1);
        assert_eq!(tags.len(), 1, "{tags:?}");
    });
}

#[test]
fn inspector_event_names_the_repository_by_arn() {
    let moto = Moto::start();
    runtime().block_on(async {
        let h = harness(&moto, "HIGH", settings()).await;
        let repo = "governed/enhanced";
        let digest = moto.put_image(repo, "latest", true).await;
        critical(&moto, repo, &digest);
        let out = h
            .handle(inspector_event(repo, &digest, &["latest"]))
            .await
            .unwrap();
        assert_eq!(out["action"], "quarantined", "{out:#}");
        assert_eq!(out["outcome"]["region"], REGION);
        assert_eq!(out["outcome"]["registry_id"], ACCOUNT);
        assert_eq!(out["outcome"]["removed_tags"], json!(["latest"]));
        let tags = h.tags(repo, &digest).await;
        assert_eq!(tags.len(), 1);
        assert_quarantine_tag(&tags[0], &digest);
    });
}

#[test]
fn immutable_repository_is_quarantined_too() {
    let moto = Moto::start();
    runtime().block_on(async {
        let h = harness(&moto, "HIGH", settings()).await;
        let repo = "governed/immutable";
        h.ecr
            .create_repository()
            .repository_name(repo)
            .image_tag_mutability(aws_sdk_ecr::types::ImageTagMutability::Immutable)
            .send()
            .await
            .unwrap();
        let digest = moto.put_image(repo, "v1", true).await;
        h.add_tag(repo, &digest, "v1.0").await;
        critical(&moto, repo, &digest);
        // Observed with moto 5.2.5 (as on AWS): a new tag can be added to an existing digest,
        // and tags can be removed, in an IMMUTABLE repository; only re-pointing a tag fails.
        let out = h
            .handle(scan_event(repo, &digest, &["v1", "v1.0"]))
            .await
            .unwrap();
        assert_eq!(out["action"], "quarantined", "{out:#}");
        assert_eq!(out["outcome"]["removed_tags"], json!(["v1", "v1.0"]));
        let tags = h.tags(repo, &digest).await;
        assert_eq!(tags.len(), 1, "{tags:?}");
        assert_quarantine_tag(&tags[0], &digest);
    });
}

#[test]
fn an_image_deleted_since_the_event_is_ignored() {
    let moto = Moto::start();
    runtime().block_on(async {
        let h = harness(&moto, "HIGH", settings()).await;
        let repo = "governed/gone";
        let digest = moto.put_image(repo, "v1", true).await;
        critical(&moto, repo, &digest);
        // Deleted between the event and the quarantine: nothing is left to act on.
        h.ecr
            .batch_delete_image()
            .repository_name(repo)
            .image_ids(ImageIdentifier::builder().image_digest(&digest).build())
            .send()
            .await
            .unwrap();
        let out = h.handle(scan_event(repo, &digest, &["v1"])).await.unwrap();
        assert_eq!(out["action"], "ignored", "{out:#}");
        assert!(out["reason"].as_str().unwrap().contains("does not exist"));
    });
}

/// The real `shipgate-lambda` binary, polling the loopback Lambda Runtime API of the test
/// support crate (AWS publishes no local implementation of that API), with the policy bundle
/// in `SHIPGATE_POLICIES` and moto as its only AWS endpoint.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_binary_quarantines_and_reports_malformed_events_as_errors() {
    use shipgate_test_support::lambda_runtime_api::{LambdaProcess, Outcome, RuntimeApi};

    let moto = tokio::task::spawn_blocking(Moto::start).await.unwrap();
    let policies = tempfile::tempdir().unwrap();
    std::fs::write(
        policies.path().join("scan.yaml"),
        "name: scan\nimages: [\"*.dkr.ecr.*.amazonaws.com/governed/**\"]\nvulnerabilities:\n  source: ecr\n  waitForScan: 0\n  maxSeverity: HIGH\n",
    )
    .unwrap();
    let repo = "governed/binary";
    let digest = moto.put_image(repo, "v1", true).await;
    critical(&moto, repo, &digest);
    let ecr = moto.client().await;

    let api = RuntimeApi::start().await;
    let function = LambdaProcess::spawn(
        env!("CARGO_BIN_EXE_shipgate-lambda"),
        &api,
        &[
            ("SHIPGATE_POLICIES", policies.path().to_str().unwrap()),
            ("AWS_ENDPOINT_URL", &moto.endpoint),
        ],
    );
    let out = api.invoke(scan_event(repo, &digest, &["v1"])).await;
    let Outcome::Response(out) = out else {
        panic!("{out:?}\n{}", function.stderr())
    };
    assert_eq!(out["action"], "quarantined", "{out:#}");
    let qtag = out["outcome"]["quarantine_tag"]
        .as_str()
        .unwrap()
        .to_string();
    let described = ecr
        .describe_images()
        .repository_name(repo)
        .image_ids(ImageIdentifier::builder().image_digest(&digest).build())
        .send()
        .await
        .unwrap();
    assert_eq!(
        described.image_details()[0].image_tags(),
        std::slice::from_ref(&qtag)
    );

    let bad = api.invoke(scan_event(repo, "sha256:abc", &[])).await;
    match &bad {
        Outcome::Error { body, .. } => assert!(
            body["errorMessage"]
                .as_str()
                .unwrap_or_default()
                .contains("malformed event"),
            "{bad:?}"
        ),
        other => panic!("expected an error, got {other:?}"),
    }
    let (stderr, _) = function.finish();
    let audits: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("\"target\":\"shipgate::audit\""))
        .collect();
    assert_eq!(audits.len(), 1, "one audit line per quarantine: {stderr}");
    let line: Value = serde_json::from_str(audits[0]).unwrap();
    let f = &line["fields"];
    assert_eq!(f["audit"], true);
    assert_eq!(f["actor"], "shipgate-lambda");
    assert_eq!(f["event_id"], "85fc3613-e913-7fc4-a80c-a3753e4aa9ae");
    assert_eq!(f["event_source"], "aws.ecr");
    assert_eq!(f["event_detail_type"], "ECR Image Scan");
    assert_eq!(f["event_time"], "2019-10-29T02:36:48Z");
    assert_eq!(f["repository"], repo);
    assert_eq!(f["digest"], digest);
    assert_eq!(f["quarantine_tag"], qtag);
    assert_eq!(f["removed_tags"], r#"["v1"]"#);
    assert_eq!(f["dry_run"], false);
    assert_eq!(f["archived"], false);
    assert_eq!(f["already_quarantined"], false);
    let policies: Value = serde_json::from_str(f["policies"].as_str().unwrap()).unwrap();
    assert_eq!(policies[0]["name"], "scan");
    assert!(policies[0]["sha256"]
        .as_str()
        .unwrap()
        .starts_with("sha256:"));
    let reasons: Value = serde_json::from_str(f["reasons"].as_str().unwrap()).unwrap();
    let reason = reasons[0].as_str().unwrap();
    assert!(
        reason.starts_with("scan/vulnerabilities: ") && reason.contains("CVE-2024-0001"),
        "{reason}"
    );
}

// --- Issue 10: only a decided fail quarantines; a failed scan still decides -------------------

#[test]
fn scan_events_that_end_the_scan_are_decided_whatever_their_status() {
    let d = format!("sha256:{}", "a".repeat(64));
    for status in ["COMPLETE", "FAILED", "UNSUPPORTED_IMAGE", "SOMETHING_NEW"] {
        let mut e = scan_event("governed/app", &d, &["v1"]);
        e["detail"]["scan-status"] = json!(status);
        match parse(&e).unwrap() {
            Parsed::Decide(e) => assert_eq!(e.trigger, Trigger::BasicScan),
            other => panic!("scan-status {status} must be decided, got {other:?}"),
        }
    }
    for status in ["PENDING", "IN_PROGRESS"] {
        let mut e = scan_event("governed/app", &d, &["v1"]);
        e["detail"]["scan-status"] = json!(status);
        assert!(
            matches!(parse(&e).unwrap(), Parsed::Ignore { .. }),
            "a running scan ({status}) is left to the event that ends it"
        );
    }
}

/// Basic scan on push for `governed/scanned*`, as moto reflects it (see the module notes).
async fn scan_on_push(h: &Harness) {
    h.ecr
        .put_registry_scanning_configuration()
        .scan_type(aws_sdk_ecr::types::ScanType::Basic)
        .rules(
            aws_sdk_ecr::types::RegistryScanningRule::builder()
                .scan_frequency(aws_sdk_ecr::types::ScanFrequency::ScanOnPush)
                .repository_filters(
                    aws_sdk_ecr::types::ScanningRepositoryFilter::builder()
                        .filter("governed/scanned*")
                        .filter_type(aws_sdk_ecr::types::ScanningRepositoryFilterType::Wildcard)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
}

#[test]
fn a_deferred_push_whose_scan_fails_is_decided_and_quarantined() {
    let moto = Moto::start();
    runtime().block_on(async {
        let h = harness(&moto, "HIGH", settings()).await;
        scan_on_push(&h).await;
        let repo = "governed/scanned-fails";
        let digest = moto.put_image(repo, "v1", false).await;
        h.add_tag(repo, &digest, "latest").await;
        let out = h.handle(push_event(repo, &digest, "v1")).await.unwrap();
        assert_eq!(out["action"], "deferred", "{out:#}");
        assert_eq!(h.tags(repo, &digest).await, ["latest", "v1"]);

        // The scan runs (moto reports injected findings only for a started scan) and ends
        // FAILED: ECR's event says so, and the findings API reports the status.
        h.ecr
            .start_image_scan()
            .repository_name(repo)
            .image_id(ImageIdentifier::builder().image_digest(&digest).build())
            .send()
            .await
            .unwrap();
        let description =
            "UnsupportedImageError: The operating system and/or package manager are not supported.";
        moto.inject(json!({
            "registryId": ACCOUNT, "repositoryName": repo, "imageId": {"imageDigest": digest},
            "imageScanStatus": {"status": "FAILED", "description": description},
            "imageScanFindings": {"findings": [], "findingSeverityCounts": {}}}));
        let mut failed = scan_event(repo, &digest, &["v1", "latest"]);
        failed["detail"]["scan-status"] = json!("FAILED");
        let out = h.handle(failed).await.unwrap();
        assert_eq!(out["action"], "quarantined", "{out:#}");
        assert_eq!(out["decision"]["decision"], "fail");
        let reason = out["decision"]["reasons"][0].as_str().unwrap();
        assert!(
            reason.starts_with("scan/vulnerabilities: ")
                && reason.contains("status FAILED")
                && reason.contains(description)
                && reason.contains("re-run the scan"),
            "the reason names the scan's status, its description and the remedy: {reason}"
        );
        assert_eq!(out["outcome"]["removed_tags"], json!(["latest", "v1"]));
        let tags = h.tags(repo, &digest).await;
        assert_eq!(tags.len(), 1, "{tags:?}");
        assert_quarantine_tag(&tags[0], &digest);
    });
}

/// A policy that needs the image's registry (a signature), for a registry the function cannot
/// reach: every HTTPS request goes through a proxy on a closed loopback port, so the registry
/// is unreachable without any lookup leaving the machine (the issue's case was a DNS failure;
/// both end in the same `error`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_binary_never_quarantines_an_image_it_could_not_decide() {
    use shipgate_test_support::lambda_runtime_api::{LambdaProcess, Outcome, RuntimeApi};

    let moto = tokio::task::spawn_blocking(Moto::start).await.unwrap();
    let policies = tempfile::tempdir().unwrap();
    std::fs::create_dir(policies.path().join("keys")).unwrap();
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/../policies/keys/release.pub"),
        policies.path().join("keys/release.pub"),
    )
    .unwrap();
    std::fs::write(
        policies.path().join("signed.yaml"),
        "name: signed\nimages: [\"*.dkr.ecr.*.amazonaws.com/governed/signed/**\"]\nsignatures:\n  authorities:\n    - name: release-key\n      keyRef: keys/release.pub\n      transparencyLog: optional\n",
    )
    .unwrap();
    std::fs::write(
        policies.path().join("scan.yaml"),
        "name: scan\nimages: [\"*.dkr.ecr.*.amazonaws.com/governed/scan/**\"]\nvulnerabilities:\n  source: ecr\n  waitForScan: 0\n  maxSeverity: HIGH\n",
    )
    .unwrap();
    // The image that cannot be decided, with the two tags of the issue's report.
    let unreachable = "governed/signed/app";
    let undecided = moto.put_image(unreachable, "v1.4.2", true).await;
    moto::add_tag(&moto.client().await, unreachable, &undecided, "latest").await;
    // The image that fails for certain, in the same function.
    let failing = "governed/scan/app";
    let decided = moto.put_image(failing, "v1", true).await;
    critical(&moto, failing, &decided);
    let ecr = moto.client().await;

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let api = RuntimeApi::start().await;
    let function = LambdaProcess::spawn(
        env!("CARGO_BIN_EXE_shipgate-lambda"),
        &api,
        &[
            ("SHIPGATE_POLICIES", policies.path().to_str().unwrap()),
            ("AWS_ENDPOINT_URL", &moto.endpoint),
            ("HTTPS_PROXY", &proxy),
            ("https_proxy", &proxy),
            ("NO_PROXY", "127.0.0.1,localhost"),
            ("no_proxy", "127.0.0.1,localhost"),
        ],
    );

    let started = std::time::Instant::now();
    let out = api
        .invoke(push_event(unreachable, &undecided, "v1.4.2"))
        .await;
    let Outcome::Error { body, .. } = &out else {
        panic!(
            "an undecided image must be an invocation error (so Lambda retries it), got {out:?}\n{}",
            function.stderr()
        )
    };
    let message = body["errorMessage"].as_str().unwrap_or_default();
    for needle in [
        "not decided: ",
        "the gate could not decide (signed/signature: ",
        "cannot connect to registry 123456789012.dkr.ecr.us-east-1.amazonaws.com",
        "nothing was quarantined and its tags are untouched",
        "MaximumRetryAttempts",
        "dead-letter queue",
        "shipgate check",
    ] {
        assert!(message.contains(needle), "`{needle}` missing: {message}");
    }
    assert!(
        started.elapsed() < std::time::Duration::from_secs(60),
        "an unreachable registry is answered within the gate's bounds"
    );
    assert_eq!(
        moto::tags(&ecr, unreachable, &undecided).await,
        ["latest", "v1.4.2"],
        "tags untouched"
    );

    // A decided fail in the same function still quarantines.
    let out = api.invoke(scan_event(failing, &decided, &["v1"])).await;
    let Outcome::Response(out) = out else {
        panic!("{out:?}\n{}", function.stderr())
    };
    assert_eq!(out["action"], "quarantined", "{out:#}");
    let tags = moto::tags(&ecr, failing, &decided).await;
    assert_eq!(tags.len(), 1, "{tags:?}");
    assert_quarantine_tag(&tags[0], &decided);

    let (stderr, _) = function.finish();
    assert!(
        stderr.contains("not decided: not quarantined, tags untouched"),
        "the undecided event is logged: {stderr}"
    );
    let audits = stderr
        .lines()
        .filter(|l| l.contains("\"target\":\"shipgate::audit\""))
        .count();
    assert_eq!(audits, 1, "one quarantine, one audit line: {stderr}");
}

/// Plays "someone removes the other tags between the confirm and the untag". Quarantine
/// (`quarantine_tags: true`): before its first `BatchDeleteImage` of ordinary tags, every
/// quarantine tag of the repository is removed in moto. Release (`false`): before its first
/// `BatchDeleteImage` of quarantine tags, every ordinary tag is removed. Another client, on its
/// own thread and runtime: interceptors are sync.
#[derive(Debug)]
struct RemoveQuarantineTagsBeforeUntag {
    endpoint: String,
    done: std::sync::atomic::AtomicBool,
    quarantine_tags: bool,
}

impl aws_sdk_ecr::config::Intercept for RemoveQuarantineTagsBeforeUntag {
    fn name(&self) -> &'static str {
        "RemoveQuarantineTagsBeforeUntag"
    }

    fn read_before_execution(
        &self,
        context: &aws_sdk_ecr::config::interceptors::BeforeSerializationInterceptorContextRef<'_>,
        _: &mut aws_sdk_ecr::config::ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        use aws_sdk_ecr::operation::batch_delete_image::BatchDeleteImageInput;
        let Some(input) = context.input().downcast_ref::<BatchDeleteImageInput>() else {
            return Ok(());
        };
        let removes_quarantine_tags = input
            .image_ids()
            .iter()
            .any(|i| i.image_tag().is_some_and(|t| t.starts_with("quarantine-")));
        // The interfering client removes what the untag is not about.
        let interfere = removes_quarantine_tags != self.quarantine_tags;
        if !interfere || self.done.swap(true, std::sync::atomic::Ordering::SeqCst) {
            return Ok(());
        }
        let quarantine_tags = self.quarantine_tags;
        let repo = input.repository_name().unwrap_or_default().to_string();
        let endpoint = self.endpoint.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
                    .region(aws_config::Region::new(REGION));
                let config = (moto::hook_for(&endpoint))(loader).load().await;
                let other = aws_sdk_ecr::Client::new(&config);
                let listed = other
                    .list_images()
                    .repository_name(&repo)
                    .send()
                    .await
                    .unwrap();
                let quarantine: Vec<ImageIdentifier> = listed
                    .image_ids()
                    .iter()
                    .filter_map(|i| i.image_tag())
                    .filter(|t| t.starts_with("quarantine-") == quarantine_tags)
                    .map(|t| ImageIdentifier::builder().image_tag(t).build())
                    .collect();
                assert!(
                    !quarantine.is_empty(),
                    "the confirm saw the tags removed here"
                );
                other
                    .batch_delete_image()
                    .repository_name(&repo)
                    .set_image_ids(Some(quarantine))
                    .send()
                    .await
                    .unwrap();
            })
        })
        .join()
        .map_err(|_| "the interfering client panicked".into())
    }
}

#[test]
fn an_image_deleted_by_the_untag_race_is_put_back_under_its_quarantine_tag() {
    let moto = Moto::start();
    runtime().block_on(async {
        let repo = "governed/raced";
        let digest = moto.put_image(repo, "v1", true).await;
        let client = moto.client().await;
        moto::add_tag(&client, repo, &digest, "latest").await;
        let loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(REGION));
        let sdk = (moto.hook())(loader).load().await;
        let raced = aws_sdk_ecr::Client::from_conf(
            aws_sdk_ecr::config::Builder::from(&sdk)
                .interceptor(RemoveQuarantineTagsBeforeUntag {
                    endpoint: moto.endpoint.clone(),
                    done: false.into(),
                    quarantine_tags: true,
                })
                .build(),
        );
        let image = shipgate::quarantine::EcrImage::parse(&format!(
            "{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{repo}@{digest}"
        ))
        .unwrap();
        let outcome = shipgate::quarantine::quarantine(
            &raced,
            &image,
            shipgate::quarantine::QuarantineSettings::default(),
            time::OffsetDateTime::now_utc(),
        )
        .await
        .unwrap();
        assert_eq!(outcome.removed_tags, ["latest", "v1"]);
        assert!(outcome.restored_after_deletion, "{outcome:?}");
        assert!(
            outcome
                .actions
                .last()
                .is_some_and(|a| a.contains("put it back as quarantine-")),
            "{outcome:?}"
        );
        // The digest exists again, under its quarantine tag only (`tags` panics if it is gone).
        assert_eq!(
            moto::tags(&client, repo, &digest).await,
            std::slice::from_ref(&outcome.quarantine_tag)
        );
    });
}

#[test]
fn an_image_deleted_by_the_release_race_is_put_back_quarantined() {
    let moto = Moto::start();
    runtime().block_on(async {
        let repo = "governed/released";
        let digest = moto.put_image(repo, "v1", true).await;
        let client = moto.client().await;
        let image = shipgate::quarantine::EcrImage::parse(&format!(
            "{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{repo}@{digest}"
        ))
        .unwrap();
        let outcome = shipgate::quarantine::quarantine(
            &client,
            &image,
            shipgate::quarantine::QuarantineSettings::default(),
            time::OffsetDateTime::now_utc(),
        )
        .await
        .unwrap();
        let qtag = outcome.quarantine_tag;
        let loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(REGION));
        let sdk = (moto.hook())(loader).load().await;
        let raced = aws_sdk_ecr::Client::from_conf(
            aws_sdk_ecr::config::Builder::from(&sdk)
                .interceptor(RemoveQuarantineTagsBeforeUntag {
                    endpoint: moto.endpoint.clone(),
                    done: false.into(),
                    quarantine_tags: false,
                })
                .build(),
        );
        let err = shipgate::quarantine::release(&raced, &image, &["v1".to_string()], false)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, shipgate::quarantine::QuarantineError::Refused(w)
                if w.contains("put back, quarantined, as quarantine-") && w.contains("run the release again")),
            "{err}"
        );
        // The digest exists again, quarantined (`tags` panics if it is gone).
        assert_eq!(moto::tags(&client, repo, &digest).await, [qtag]);
    });
}
