//! The AWS documentation's example events, verbatim, and the same events naming a real image.

use serde_json::{json, Value};
use shipgate_test_support::moto::{ACCOUNT, REGION};

// --- The AWS documentation's examples, verbatim -------------------------------------------------

/// "Event for a completed image push" (Amazon ECR User Guide, ECR events and EventBridge).
pub const PUSH_EXAMPLE: &str = r#"{
    "version": "0",
    "id": "13cde686-328b-6117-af20-0e5566167482",
    "detail-type": "ECR Image Action",
    "source": "aws.ecr",
    "account": "123456789012",
    "time": "2019-11-16T01:54:34Z",
    "region": "us-west-2",
    "resources": [],
    "detail": {
        "result": "SUCCESS",
        "repository-name": "my-repository-name",
        "image-digest": "sha256:7f5b2640fe6fb4f46592dfd3410c4a79dac4f89e4782432e0378abcd1234",
        "action-type": "PUSH",
        "image-tag": "latest"
    }
}"#;

/// "Event for a completed image scan" (basic scanning; same page).
pub const SCAN_EXAMPLE: &str = r#"{
    "version": "0",
    "id": "85fc3613-e913-7fc4-a80c-a3753e4aa9ae",
    "detail-type": "ECR Image Scan",
    "source": "aws.ecr",
    "account": "123456789012",
    "time": "2019-10-29T02:36:48Z",
    "region": "us-east-1",
    "resources": [
        "arn:aws:ecr:us-east-1:123456789012:repository/my-repo"
    ],
    "detail": {
        "scan-status": "COMPLETE",
        "repository-name": "my-repo",
        "finding-severity-counts": {
           "CRITICAL": 10,
           "MEDIUM": 9
         },
        "image-digest": "sha256:7f5b2640fe6fb4f46592dfd3410c4a79dac4f89e4782432e0378abcd1234",
        "image-tags": []
    }
}"#;

/// "Event for an initial image scan (enhanced scanning)" (ECR User Guide, enhanced scanning).
pub const INSPECTOR_EXAMPLE: &str = r#"{
    "version": "0",
    "id": "739c0d3c-4f02-85c7-5a88-94a9EXAMPLE",
    "detail-type": "Inspector2 Scan",
    "source": "aws.inspector2",
    "account": "123456789012",
    "time": "2021-12-03T18:03:16Z",
    "region": "us-east-2",
    "resources": [
        "arn:aws:ecr:us-east-2:123456789012:repository/amazon/amazon-ecs-sample"
    ],
    "detail": {
        "scan-status": "INITIAL_SCAN_COMPLETE",
        "repository-name": "arn:aws:ecr:us-east-2:123456789012:repository/amazon/amazon-ecs-sample",
        "finding-severity-counts": {
            "CRITICAL": 7,
            "HIGH": 61,
            "MEDIUM": 62,
            "TOTAL": 158
        },
        "image-digest": "sha256:36c7b282abd0186e01419f2e58743e1bf635808231049bbc9d77e5EXAMPLE",
        "image-tags": [
            "latest"
        ]
    }
}"#;

/// "Amazon ECR image initial scan" (Amazon Inspector User Guide, EventBridge schemas).
pub const INSPECTOR_ECR_EXAMPLE: &str = r#"{
    "version": "0",
    "id": "fdaa751a-984c-a709-44f9-9a9da9cd3606",
    "detail-type": "Inspector2 Scan",
    "source": "aws.inspector2",
    "account": "111122223333",
    "time": "2023-01-20T23:15:18Z",
    "region": "us-east-1",
    "resources": [
        "arn:aws:ecr:us-east-1:111122223333:repository/inspector2"
    ],
    "detail": {
        "scan-status": "INITIAL_SCAN_COMPLETE",
        "repository-name": "arn:aws:ecr:us-east-1:111122223333:repository/inspector2",
        "finding-severity-counts": {
            "CRITICAL": 0,
            "HIGH": 0,
            "MEDIUM": 0,
            "TOTAL": 0
        },
        "image-digest": "sha256:965fbcae990b0467ed5657caceaec165018ef44a4d2d46c7cdea80a9dff0d1ea",
        "image-tags": [
            "ubuntu22"
        ],
        "version": "1.0"
    }
}"#;

/// "Amazon EC2 instance initial scan" (same page): no image at all.
pub const INSPECTOR_EC2_EXAMPLE: &str = r#"{
    "version": "0",
    "id": "28a46762-6ac8-6cc4-4f55-bc9ab99af928",
    "detail-type": "Inspector2 Scan",
    "source": "aws.inspector2",
    "account": "111122223333",
    "time": "2023-01-20T22:52:35Z",
    "region": "us-east-1",
    "resources": [
        "i-087d63509b8c97098"
    ],
    "detail": {
        "scan-status": "INITIAL_SCAN_COMPLETE",
        "finding-severity-counts": {
            "CRITICAL": 0,
            "HIGH": 0,
            "MEDIUM": 0,
            "TOTAL": 0
        },
        "instance-id": "i-087d63509b8c97098",
        "version": "1.0"
    }
}"#;

pub fn example(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

/// The documented push event, naming a real image in moto's region.
pub fn push_event(repo: &str, digest: &str, tag: &str) -> Value {
    let mut e = example(PUSH_EXAMPLE);
    e["region"] = json!(REGION);
    e["detail"]["repository-name"] = json!(repo);
    e["detail"]["image-digest"] = json!(digest);
    e["detail"]["image-tag"] = json!(tag);
    e
}

pub fn scan_event(repo: &str, digest: &str, tags: &[&str]) -> Value {
    let mut e = example(SCAN_EXAMPLE);
    e["resources"] = json!([format!("arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{repo}")]);
    e["detail"]["repository-name"] = json!(repo);
    e["detail"]["image-digest"] = json!(digest);
    e["detail"]["image-tags"] = json!(tags);
    e
}

pub fn inspector_event(repo: &str, digest: &str, tags: &[&str]) -> Value {
    let mut e = example(INSPECTOR_EXAMPLE);
    let arn = format!("arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{repo}");
    // The function's own region differs on purpose: the ARN decides where the image is.
    e["region"] = json!("us-east-2");
    e["resources"] = json!([arn]);
    e["detail"]["repository-name"] = json!(arn);
    e["detail"]["image-digest"] = json!(digest);
    e["detail"]["image-tags"] = json!(tags);
    e
}
