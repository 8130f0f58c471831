//! `shipgate quarantine list|release` through the real `shipgate` binary against `moto`.
//!
//! The image is quarantined with the library (`shipgate::quarantine::quarantine`, what the Lambda
//! calls); the child process finds moto through `AWS_ENDPOINT_URL` and dummy credentials set on
//! it alone (tests run in parallel threads: no process-wide environment changes).
//!
//! moto 5.2.5 does not implement `UpdateImageStorageClass`, so archiving and the release of an
//! archived image run against a loopback stub of the ECR JSON protocol (`common::ecr_stub`) that
//! records each request's operation and body (`archive_*` below).

use std::process::Output;
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use serde_json::json;

use serde_json::Value;
use shipgate::quarantine::{self, EcrImage, QuarantineError, QuarantineSettings};

use crate::common::aws::runtime;
use crate::common::moto::{add_tag, hook_for, tags, Moto, ACCOUNT, REGION};

const HOST: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com";

fn shipgate(moto: &Moto, args: &[&str]) -> Output {
    shipgate_at(&moto.endpoint, args)
}

fn shipgate_at(endpoint: &str, args: &[&str]) -> Output {
    crate::common::aws::shipgate_with_aws(endpoint, args)
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("exit code")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn list_and_release_restore_tags_and_remove_the_quarantine_tag() {
    let moto = Moto::start();
    let rt = runtime();
    let client = rt.block_on(moto.client());
    let repo = "team/app";
    let digest = rt.block_on(async {
        let digest = moto.put_image(repo, "v1", false).await;
        add_tag(&client, repo, &digest, "latest").await;
        digest
    });
    let image = EcrImage::parse(&format!("{HOST}/{repo}@{digest}")).unwrap();
    let outcome = rt
        .block_on(quarantine::quarantine(
            &client,
            &image,
            QuarantineSettings::default(),
            time::OffsetDateTime::now_utc(),
        ))
        .unwrap();
    assert_eq!(outcome.removed_tags, ["latest", "v1"]);
    let qtag = outcome.quarantine_tag.clone();
    assert_eq!(
        rt.block_on(tags(&client, repo, &digest)),
        std::slice::from_ref(&qtag)
    );
    let reference = format!("{HOST}/{repo}@{digest}");
    let repository = format!("{HOST}/{repo}");

    // list: text and JSON.
    let out = shipgate(&moto, &["quarantine", "list", &repository]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).contains(&format!("{reference}  {qtag}")),
        "{}",
        stdout(&out)
    );
    let out = shipgate(&moto, &["quarantine", "list", &repository, "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        listed,
        serde_json::json!([{"digest": digest, "quarantine_tags": [qtag], "other_tags": []}])
    );

    // Usage errors: no tag, a tag instead of a digest, a non-ECR image.
    let out = shipgate(&moto, &["quarantine", "release", &reference]);
    assert_eq!(code(&out), 2, "--tag is required");
    for bad in [
        format!("{HOST}/{repo}:v1"),
        format!("ghcr.io/team/app@{digest}"),
    ] {
        let out = shipgate(&moto, &["quarantine", "release", &bad, "--tag", "v1"]);
        assert_eq!(code(&out), 2, "{bad}: {}", stderr(&out));
    }
    let out = shipgate(
        &moto,
        &["quarantine", "release", &reference, "--tag", "quarantine-x"],
    );
    assert_eq!(code(&out), 2, "{}", stderr(&out));

    // A tag that now belongs to another image is refused, and nothing changes.
    rt.block_on(moto.put_image(repo, "taken", false));
    let out = shipgate(
        &moto,
        &[
            "quarantine",
            "release",
            &reference,
            "--tag",
            "v1",
            "--tag",
            "taken",
        ],
    );
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("tag `taken` now points at"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        rt.block_on(tags(&client, repo, &digest)),
        std::slice::from_ref(&qtag)
    );

    // The release: tags back, quarantine tag gone, the digest unchanged.
    let out = shipgate(
        &moto,
        &[
            "quarantine",
            "release",
            &reference,
            "--tag",
            "v1",
            "--tag",
            "latest",
        ],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).contains(&format!("released {reference}")),
        "{}",
        stdout(&out)
    );
    assert!(
        stdout(&out).contains("tags restored: latest, v1"),
        "{}",
        stdout(&out)
    );
    assert!(stdout(&out).contains(&format!("quarantine tags removed: {qtag}")));
    assert_eq!(rt.block_on(tags(&client, repo, &digest)), ["latest", "v1"]);

    // Again: the image is not quarantined any more.
    let out = shipgate(&moto, &["quarantine", "release", &reference, "--tag", "v1"]);
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("is not quarantined"),
        "{}",
        stderr(&out)
    );
    let out = shipgate(&moto, &["quarantine", "list", &repository]);
    assert_eq!(code(&out), 0);
    assert!(
        stdout(&out).contains("no quarantined images"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn release_can_keep_the_quarantine_tag_and_missing_images_are_errors() {
    let moto = Moto::start();
    let rt = runtime();
    let client = rt.block_on(moto.client());
    let repo = "team/keep";
    let digest = rt.block_on(moto.put_image(repo, "v1", false));
    let image = EcrImage::parse(&format!("{HOST}/{repo}@{digest}")).unwrap();
    let outcome = rt
        .block_on(quarantine::quarantine(
            &client,
            &image,
            QuarantineSettings::default(),
            time::OffsetDateTime::now_utc(),
        ))
        .unwrap();
    let reference = image.reference();
    let out = shipgate(
        &moto,
        &[
            "quarantine",
            "release",
            &reference,
            "--tag",
            "v1",
            "--keep-quarantine-tag",
            "--json",
        ],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let released: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(released["restored_tags"], serde_json::json!(["v1"]));
    assert_eq!(released["removed_quarantine_tags"], serde_json::json!([]));
    assert_eq!(released["activating"], false);
    let mut expected = vec![outcome.quarantine_tag, "v1".to_string()];
    expected.sort();
    assert_eq!(rt.block_on(tags(&client, repo, &digest)), expected);

    // A digest that does not exist: exit 2 with ECR's answer.
    let missing = format!("{HOST}/{repo}@sha256:{}", "0".repeat(64));
    let out = shipgate(&moto, &["quarantine", "release", &missing, "--tag", "v1"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    let out = shipgate(&moto, &["quarantine", "list", &format!("{HOST}/nope")]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("RepositoryNotFoundException"),
        "{}",
        stderr(&out)
    );
    // A listing names the repository, not a digest it was never asked about.
    assert!(!stderr(&out).contains("sha256:"), "{}", stderr(&out));
}

#[test]
fn two_images_quarantined_in_the_same_second_keep_their_own_tags() {
    // A MUTABLE repository (moto's default): a shared quarantine tag would move from the first
    // image, already stripped of its other tags, to the second, leaving the first untagged.
    let moto = Moto::start();
    let rt = runtime();
    let client = rt.block_on(moto.client());
    let repo = "team/same-second";
    let now = time::OffsetDateTime::now_utc();
    let digests: Vec<String> = ["a", "b"]
        .iter()
        .map(|tag| rt.block_on(moto.put_image(repo, tag, false)))
        .collect();
    for digest in &digests {
        let image = EcrImage::parse(&format!("{HOST}/{repo}@{digest}")).unwrap();
        rt.block_on(quarantine::quarantine(
            &client,
            &image,
            QuarantineSettings::default(),
            now,
        ))
        .unwrap();
    }
    let [first, second] = [0, 1].map(|i| rt.block_on(tags(&client, repo, &digests[i])));
    assert_eq!(first.len(), 1, "{first:?}");
    assert_eq!(second.len(), 1, "{second:?}");
    assert!(first[0].starts_with("quarantine-"), "{first:?}");
    assert_ne!(first, second);
}

// --- Archive, against a loopback stub of the ECR JSON protocol --------------------------------

/// One image in the stub: its tags and storage status; every request is recorded.
struct StubEcr {
    tags: Vec<String>,
    status: Mutex<String>,
    /// What UpdateImageStorageClass answers for STANDARD (ECR activates archived images slowly).
    restore_status: &'static str,
    /// The `failureCode` BatchGetImage answers with (it never returns a manifest).
    manifest_failure: &'static str,
    calls: Mutex<Vec<(String, Value)>>,
}

const STUB_DIGEST: &str = "sha256:eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee";

async fn stub_ecr(stub: Arc<StubEcr>) -> String {
    crate::common::ecr_stub::serve(move |operation, request| {
        stub.calls
            .lock()
            .unwrap()
            .push((operation.to_string(), request.clone()));
        let ok = |v: Value| (StatusCode::OK, v);
        match operation {
            "DescribeImages" => {
                let status = stub.status.lock().unwrap().clone();
                ok(json!({"imageDetails": [{
                    "registryId": ACCOUNT, "repositoryName": "team/app",
                    "imageDigest": STUB_DIGEST, "imageTags": stub.tags,
                    "imageStatus": status}]}))
            }
            "BatchGetImage" => ok(json!({"images": [], "failures": [{
                "imageId": {"imageDigest": STUB_DIGEST},
                "failureCode": stub.manifest_failure,
                "failureReason": "from the stub"}]})),
            "UpdateImageStorageClass" => {
                let new = match request["targetStorageClass"].as_str() {
                    Some("ARCHIVE") => "ARCHIVED",
                    _ => stub.restore_status,
                };
                *stub.status.lock().unwrap() = new.to_string();
                ok(json!({"registryId": ACCOUNT, "repositoryName": "team/app",
                          "imageId": {"imageDigest": STUB_DIGEST}, "imageStatus": new}))
            }
            _ => (
                StatusCode::BAD_REQUEST,
                json!({"__type": "UnknownOperationException", "message": operation}),
            ),
        }
    })
    .await
}

async fn stub_client(url: &str) -> aws_sdk_ecr::Client {
    let loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(REGION));
    aws_sdk_ecr::Client::new(&(hook_for(url))(loader).load().await)
}

fn targets(stub: &StubEcr) -> Vec<String> {
    stub.calls
        .lock()
        .unwrap()
        .iter()
        .map(|(operation, _)| operation.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archive_moves_a_quarantined_image_once_and_release_restores_it_first() {
    let stub = Arc::new(StubEcr {
        tags: vec!["quarantine-20260101T000000Z".into()],
        status: Mutex::new("ACTIVE".into()),
        restore_status: "ACTIVATING",
        manifest_failure: "ImageNotFound",
        calls: Mutex::new(Vec::new()),
    });
    let url = stub_ecr(stub.clone()).await;
    let client = stub_client(&url).await;
    let image = EcrImage::parse(&format!("{HOST}/team/app@{STUB_DIGEST}")).unwrap();
    let archive = QuarantineSettings {
        dry_run: false,
        archive: true,
    };

    let outcome = quarantine::quarantine(&client, &image, archive, time::OffsetDateTime::now_utc())
        .await
        .unwrap();
    assert!(
        outcome.already_quarantined && outcome.archived,
        "{outcome:?}"
    );
    assert_eq!(
        outcome.actions,
        ["moved the image to the ARCHIVE storage class"]
    );
    assert_eq!(
        targets(&stub),
        ["DescribeImages", "UpdateImageStorageClass"]
    );
    assert_eq!(
        stub.calls.lock().unwrap()[1].1,
        json!({"registryId": ACCOUNT, "repositoryName": "team/app",
               "imageId": {"imageDigest": STUB_DIGEST}, "targetStorageClass": "ARCHIVE"})
    );

    // Already archived: nothing more.
    stub.calls.lock().unwrap().clear();
    let again = quarantine::quarantine(&client, &image, archive, time::OffsetDateTime::now_utc())
        .await
        .unwrap();
    assert!(!again.archived);
    assert_eq!(again.actions, ["nothing to do: already quarantined"]);
    assert_eq!(targets(&stub), ["DescribeImages"]);

    // Release of an archived image: restore to STANDARD first; while ECR activates it, no tag
    // changes and the command says to run it again (exit 1).
    stub.calls.lock().unwrap().clear();
    let reference = image.reference();
    let out = tokio::task::spawn_blocking(move || {
        shipgate_at(&url, &["quarantine", "release", &reference, "--tag", "v1"])
    })
    .await
    .unwrap();
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(
        stdout(&out).contains("restoring from ARCHIVE to STANDARD"),
        "{}",
        stdout(&out)
    );
    assert_eq!(
        targets(&stub),
        ["DescribeImages", "UpdateImageStorageClass"]
    );
    assert_eq!(
        stub.calls.lock().unwrap()[1].1["targetStorageClass"],
        "STANDARD"
    );
    let released = quarantine::release(&client, &image, &["v1".into()], false)
        .await
        .unwrap();
    assert!(released.activating, "still ACTIVATING: {released:?}");
    assert!(released.restored_tags.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manifest_ecr_cannot_return_is_retried_unless_the_image_is_gone() {
    let image = EcrImage::parse(&format!("{HOST}/team/app@{STUB_DIGEST}")).unwrap();
    for (failure, gone) in [
        ("ImageNotFound", true),
        ("KmsError", false),
        ("UpstreamUnavailable", false),
    ] {
        let stub = Arc::new(StubEcr {
            tags: vec!["v1".into()],
            status: Mutex::new("ACTIVE".into()),
            restore_status: "ACTIVE",
            manifest_failure: failure,
            calls: Mutex::new(Vec::new()),
        });
        let client = stub_client(&stub_ecr(stub.clone()).await).await;
        let err = quarantine::quarantine(
            &client,
            &image,
            QuarantineSettings::default(),
            time::OffsetDateTime::now_utc(),
        )
        .await
        .unwrap_err();
        // The Lambda ignores NotFound ("image gone") and retries every other error.
        assert_eq!(
            matches!(err, QuarantineError::NotFound(_)),
            gone,
            "{failure}: {err:?}"
        );
        assert!(err.to_string().contains(failure), "{err}");
        // No tag was touched without a quarantine tag in place.
        assert_eq!(
            targets(&stub),
            ["DescribeImages", "BatchGetImage"],
            "{failure}"
        );
    }
}
