//! The three EventBridge events, parsed into "decide this digest" or "ignore, because …".
//!
//! Shapes (AWS documentation, "Amazon ECR events and EventBridge" and "EventBridge events sent
//! for enhanced scanning"):
//! - `ECR Image Action` (source `aws.ecr`): detail {result, repository-name, image-digest,
//!   action-type, image-tag};
//! - `ECR Image Scan` (source `aws.ecr`, basic scanning): detail {scan-status: COMPLETE (the
//!   documented example; FAILED when the scan could not complete), repository-name,
//!   image-digest, image-tags, finding-severity-counts};
//! - `Inspector2 Scan` (source `aws.inspector2`, enhanced scanning): detail {scan-status:
//!   INITIAL_SCAN_COMPLETE, repository-name: the repository's ARN, image-digest, image-tags,
//!   finding-severity-counts}; also sent for EC2 instances and Lambda functions, without a
//!   repository or digest.
//!
//! The severity counts are not used: the gate reads the findings from ECR itself and judges
//! them with the repository's policies.

use serde_json::Value;
use shipgate::quarantine::{is_quarantine_tag, EcrImage};

use crate::HandlerError;

pub const IMAGE_ACTION: &str = "ECR Image Action";
pub const IMAGE_SCAN: &str = "ECR Image Scan";
pub const INSPECTOR_SCAN: &str = "Inspector2 Scan";

/// Strings longer than this in an event are refused (the longest legitimate one is an ARN).
const MAX_FIELD: usize = 1024;
/// More tags than this in one event are refused.
const MAX_EVENT_TAGS: usize = 1000;

/// Which event asked for the decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    Push,
    BasicScan,
    InspectorScan,
}

/// Who asked: the event's identity, for the audit line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub id: String,
    pub source: String,
    pub detail_type: String,
    pub time: String,
}

/// A digest to decide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageEvent {
    pub origin: Origin,
    pub trigger: Trigger,
    pub image: EcrImage,
    /// The tags the event names (the pushed tag, or the scanned image's tags).
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    Decide(ImageEvent),
    /// A well-formed event that needs no decision, and why.
    Ignore {
        origin: Origin,
        why: String,
    },
}

fn malformed(why: String) -> HandlerError {
    HandlerError::Malformed(why)
}

fn text<'a>(v: &'a Value, path: &str, key: &str) -> Result<&'a str, HandlerError> {
    match v.get(key) {
        Some(Value::String(s)) if !s.is_empty() && s.len() <= MAX_FIELD => Ok(s),
        Some(Value::String(s)) if s.len() > MAX_FIELD => Err(malformed(format!(
            "`{path}{key}` is longer than {MAX_FIELD} characters"
        ))),
        Some(_) => Err(malformed(format!(
            "`{path}{key}` must be a non-empty string"
        ))),
        None => Err(malformed(format!("`{path}{key}` is missing"))),
    }
}

fn optional_text<'a>(v: &'a Value, path: &str, key: &str) -> Result<Option<&'a str>, HandlerError> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(_) => text(v, path, key).map(Some),
    }
}

fn tags(detail: &Value) -> Result<Vec<String>, HandlerError> {
    match detail.get("image-tags") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) if items.len() <= MAX_EVENT_TAGS => items
            .iter()
            .map(|t| match t {
                Value::String(s) if s.len() <= MAX_FIELD => Ok(s.clone()),
                _ => Err(malformed(
                    "`detail.image-tags` must hold only tag strings".into(),
                )),
            })
            .collect(),
        Some(Value::Array(_)) => Err(malformed(format!(
            "`detail.image-tags` has more than {MAX_EVENT_TAGS} tags"
        ))),
        Some(_) => Err(malformed(
            "`detail.image-tags` must be an array of strings".into(),
        )),
    }
}

/// `arn:PARTITION:ecr:REGION:ACCOUNT:repository/NAME` → (account, region, name).
fn repository_arn(arn: &str) -> Option<(&str, &str, &str)> {
    let mut parts = arn.splitn(6, ':');
    let (scheme, partition, service, region, account, resource) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    let name = resource.strip_prefix("repository/")?;
    (scheme == "arn" && partition.starts_with("aws") && service == "ecr")
        .then_some((account, region, name))
}

/// The image an event names; every part is checked (account, region, repository, digest).
fn image(
    account: &str,
    region: &str,
    repository: &str,
    digest: &str,
) -> Result<EcrImage, HandlerError> {
    let reference = format!("{account}.dkr.ecr.{region}.amazonaws.com/{repository}@{digest}");
    EcrImage::parse(&reference)
        .map_err(|e| malformed(format!("the event names no valid ECR image: {e}")))
}

/// Parses one EventBridge event. Unknown detail types and missing or invalid fields are errors
/// (the rule is wrong or the event is corrupt: the retry and dead-letter queue make it visible).
pub fn parse(event: &Value) -> Result<Parsed, HandlerError> {
    let detail_type = text(event, "", "detail-type")?;
    let origin = Origin {
        id: text(event, "", "id")?.to_string(),
        source: text(event, "", "source")?.to_string(),
        detail_type: detail_type.to_string(),
        time: optional_text(event, "", "time")?.unwrap_or("").to_string(),
    };
    let account = text(event, "", "account")?;
    let region = text(event, "", "region")?;
    let detail = match event.get("detail") {
        Some(d @ Value::Object(_)) => d,
        _ => return Err(malformed("`detail` must be an object".into())),
    };
    // `aws.*` sources cannot be sent with PutEvents: checking them keeps hand-made events on a
    // shared bus from posing as ECR's or Inspector's.
    let expected_source = match detail_type {
        IMAGE_ACTION | IMAGE_SCAN => Some("aws.ecr"),
        INSPECTOR_SCAN => Some("aws.inspector2"),
        _ => None,
    };
    if let Some(expected) = expected_source.filter(|s| *s != origin.source) {
        return Err(malformed(format!(
            "a `{detail_type}` event must come from source {expected}, not {}",
            origin.source
        )));
    }
    let d = "detail.";
    let ignore = |why: String| {
        Ok(Parsed::Ignore {
            origin: origin.clone(),
            why,
        })
    };
    // The image of an ECR event: the event's account and region, the detail's repository name.
    let named_image = || {
        image(
            account,
            region,
            text(detail, d, "repository-name")?,
            text(detail, d, "image-digest")?,
        )
    };
    match detail_type {
        IMAGE_ACTION => {
            let action = text(detail, d, "action-type")?;
            let result = text(detail, d, "result")?;
            if action != "PUSH" {
                return ignore(format!("action-type {action} is not a push"));
            }
            if result != "SUCCESS" {
                return ignore(format!("push result {result} is not SUCCESS"));
            }
            let tag = optional_text(detail, d, "image-tag")?;
            if let Some(tag) = tag.filter(|t| is_quarantine_tag(t)) {
                return ignore(format!(
                    "push of the quarantine tag {tag}: the quarantine's own PutImage"
                ));
            }
            let image = named_image()?;
            Ok(Parsed::Decide(ImageEvent {
                origin,
                trigger: Trigger::Push,
                image,
                tags: tag.map(str::to_string).into_iter().collect(),
            }))
        }
        IMAGE_SCAN => {
            let status = text(detail, d, "scan-status")?;
            // Only a scan still running is ignored (its end sends another event). COMPLETE,
            // FAILED and any other status end the scan: decided, so that a push deferred for
            // its scan is never left pending. The findings API, not the event, says what the
            // scan found; a FAILED scan fails the `vulnerabilities` check.
            if matches!(status, "PENDING" | "IN_PROGRESS") {
                return ignore(format!(
                    "scan-status {status}: the scan has not ended; its end decides"
                ));
            }
            let image = named_image()?;
            Ok(Parsed::Decide(ImageEvent {
                origin,
                trigger: Trigger::BasicScan,
                image,
                tags: tags(detail)?,
            }))
        }
        INSPECTOR_SCAN => {
            let status = text(detail, d, "scan-status")?;
            let repository = optional_text(detail, d, "repository-name")?;
            let digest = optional_text(detail, d, "image-digest")?;
            if repository.is_none() && digest.is_none() {
                return ignore(
                    "Inspector2 scan of a resource that is not an ECR image (EC2 instance, Lambda function)"
                        .into(),
                );
            }
            if status != "INITIAL_SCAN_COMPLETE" {
                return ignore(format!("scan-status {status} is not INITIAL_SCAN_COMPLETE"));
            }
            let repository = text(detail, d, "repository-name")?;
            let digest = text(detail, d, "image-digest")?;
            // Inspector names the repository by ARN (older examples: by name).
            let image = match repository_arn(repository) {
                Some((account, region, name)) => image(account, region, name, digest)?,
                None if repository.starts_with("arn:") => {
                    return Err(malformed(format!(
                        "`detail.repository-name` {repository} is not an ECR repository ARN"
                    )))
                }
                None => image(account, region, repository, digest)?,
            };
            Ok(Parsed::Decide(ImageEvent {
                origin,
                trigger: Trigger::InspectorScan,
                image,
                tags: tags(detail)?,
            }))
        }
        other => Err(HandlerError::UnknownEvent(format!(
            "detail-type `{other}` is not one this function handles ({IMAGE_ACTION}, {IMAGE_SCAN}, {INSPECTOR_SCAN}); check the EventBridge rule"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_arns() {
        assert_eq!(
            repository_arn(
                "arn:aws:ecr:us-east-2:123456789012:repository/amazon/amazon-ecs-sample"
            ),
            Some(("123456789012", "us-east-2", "amazon/amazon-ecs-sample"))
        );
        assert_eq!(
            repository_arn("arn:aws-cn:ecr:cn-north-1:123456789012:repository/a"),
            Some(("123456789012", "cn-north-1", "a"))
        );
        assert_eq!(repository_arn("arn:aws:s3:::bucket"), None);
        assert_eq!(repository_arn("my-repo"), None);
    }

    #[test]
    fn china_region_images_keep_their_domain() {
        let digest = format!("sha256:{}", "a".repeat(64));
        let event = |region: &str| {
            serde_json::json!({
                "id": "1", "source": "aws.ecr", "detail-type": IMAGE_ACTION,
                "account": "123456789012", "region": region,
                "detail": {"action-type": "PUSH", "result": "SUCCESS",
                           "repository-name": "app", "image-digest": digest, "image-tag": "v1"}
            })
        };
        for (region, host) in [
            (
                "cn-north-1",
                "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn",
            ),
            ("us-east-1", "123456789012.dkr.ecr.us-east-1.amazonaws.com"),
        ] {
            let Ok(Parsed::Decide(e)) = parse(&event(region)) else {
                panic!("{region}: not decided")
            };
            assert_eq!(e.image.reference(), format!("{host}/app@{digest}"));
        }
    }
}
