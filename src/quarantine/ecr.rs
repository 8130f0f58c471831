//! The ECR calls under quarantine, release and listing, each bounded in time. The client must be
//! for the image's region.
//!
//! The manifest put back by `put_tag` is the one ECR returns for the digest, and `PutImage` is
//! given the digest to check, so re-tagging can never create a different image.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use aws_sdk_ecr::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ecr::types::{
    ImageFailureCode, ImageIdentifier, ImageStatus, ListImagesFilter, TagStatus,
};
use aws_sdk_ecr::Client;

use super::{is_quarantine_tag, EcrImage, QuarantineError, QuarantinedImage};

/// One ECR call may take this long; past it the action fails (and is safe to retry).
const CALL_TIMEOUT: Duration = Duration::from_secs(20);
/// More tags than this on one digest is refused rather than handled partly.
const MAX_TAGS: usize = 1000;
/// `BatchDeleteImage` takes at most 100 image ids per call.
const DELETE_BATCH: usize = 100;
/// `ListImages` pages read at most by `list` (1000 ids each).
const MAX_LIST_PAGES: usize = 100;
/// Manifest types asked for, so that ECR returns the stored manifest instead of converting it.
const MANIFEST_TYPES: [&str; 4] = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
];

/// A failed call: the service's error code (if it answered with one) and a sentence.
struct CallFailure {
    code: Option<String>,
    text: String,
}

impl CallFailure {
    fn is(&self, code: &str) -> bool {
        self.code.as_deref() == Some(code)
    }

    fn into_error(self) -> QuarantineError {
        match self.code.as_deref() {
            Some("ImageNotFoundException" | "RepositoryNotFoundException") => {
                QuarantineError::NotFound(self.text)
            }
            _ => QuarantineError::Aws(self.text),
        }
    }
}

/// What a call is about, for its error texts: `REPOSITORY@DIGEST (registry ACCOUNT, REGION)`.
fn about(image: &EcrImage) -> String {
    format!(
        "{}@{} (registry {}, {})",
        image.repository, image.digest, image.registry_id, image.region
    )
}

/// Runs one SDK call within `CALL_TIMEOUT`. Error texts name `about` and carry the service's
/// code and message, never the request's signature or credentials.
async fn call<T, E>(
    op: &str,
    about: &str,
    fut: impl Future<Output = Result<T, SdkError<E, aws_sdk_ecr::config::http::HttpResponse>>>,
) -> Result<T, CallFailure>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let where_ = format!("ECR {op} for {about}");
    match tokio::time::timeout(CALL_TIMEOUT, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => {
            let code = e
                .as_service_error()
                .and_then(|s| s.code())
                .map(str::to_string);
            let detail = aws_sdk_ecr::error::DisplayErrorContext(&e).to_string();
            Err(CallFailure {
                code,
                text: format!("{where_} failed: {detail}"),
            })
        }
        Err(_) => Err(CallFailure {
            code: None,
            text: format!(
                "{where_} did not answer within {} s; retry",
                CALL_TIMEOUT.as_secs()
            ),
        }),
    }
}

fn by_digest(image: &EcrImage) -> ImageIdentifier {
    ImageIdentifier::builder()
        .image_digest(image.digest.as_str())
        .build()
}

/// The digest's tags and storage status, as ECR reports them now.
pub(super) struct ImageState {
    pub(super) tags: Vec<String>,
    pub(super) archived: bool,
    pub(super) activating: bool,
}

pub(super) async fn describe(
    client: &Client,
    image: &EcrImage,
) -> Result<ImageState, QuarantineError> {
    let out = call(
        "DescribeImages",
        &about(image),
        client
            .describe_images()
            .registry_id(&image.registry_id)
            .repository_name(&image.repository)
            .image_ids(by_digest(image))
            .send(),
    )
    .await
    .map_err(CallFailure::into_error)?;
    let detail = out
        .image_details()
        .iter()
        .find(|d| d.image_digest() == Some(image.digest.as_str()))
        .ok_or_else(|| {
            QuarantineError::NotFound(format!("{} does not exist in ECR", image.reference()))
        })?;
    let tags = detail.image_tags().to_vec();
    if tags.len() > MAX_TAGS {
        return Err(QuarantineError::Refused(format!(
            "{} has {} tags, more than the {MAX_TAGS} handled; untag it by hand",
            image.reference(),
            tags.len()
        )));
    }
    Ok(ImageState {
        tags,
        archived: detail.image_status() == Some(&ImageStatus::Archived),
        activating: detail.image_status() == Some(&ImageStatus::Activating),
    })
}

/// The digest now carries `tag`, by `PutImage` of its own manifest. A tag that already points
/// at this digest is success; one that points elsewhere is ECR's error (or, in a mutable
/// repository, moved: callers check first).
pub(super) async fn put_tag(
    client: &Client,
    image: &EcrImage,
    tag: &str,
) -> Result<(), QuarantineError> {
    let manifest = read_manifest(client, image).await?;
    put_manifest(client, image, &manifest, tag).await
}

/// The digest's stored manifest, as `PutImage` takes it back.
pub(super) struct StoredManifest {
    manifest: String,
    media_type: Option<String>,
}

/// The manifest ECR stores for the digest (`BatchGetImage`).
pub(super) async fn read_manifest(
    client: &Client,
    image: &EcrImage,
) -> Result<StoredManifest, QuarantineError> {
    let got = call(
        "BatchGetImage",
        &about(image),
        client
            .batch_get_image()
            .registry_id(&image.registry_id)
            .repository_name(&image.repository)
            .image_ids(by_digest(image))
            .set_accepted_media_types(Some(MANIFEST_TYPES.map(str::to_string).to_vec()))
            .send(),
    )
    .await
    .map_err(CallFailure::into_error)?;
    let found = got
        .images()
        .iter()
        .find(|i| i.image_id().and_then(|id| id.image_digest()) == Some(image.digest.as_str()))
        .and_then(|i| {
            i.image_manifest()
                .map(|m| (m, i.image_manifest_media_type()))
        });
    let Some((manifest, media_type)) = found else {
        let why = got
            .failures()
            .iter()
            .map(|f| {
                format!(
                    "{}: {}",
                    f.failure_code().map_or("no code", |c| c.as_str()),
                    f.failure_reason().unwrap_or("no reason given")
                )
            })
            .collect::<Vec<_>>()
            .join("; ");
        let text = format!("ECR returned no manifest for {}: {why}", image.reference());
        // Only a missing image is final; anything else (a KMS or upstream error, no answer at
        // all) must not end the quarantine as "image gone": it is retried.
        let gone = !got.failures().is_empty()
            && got
                .failures()
                .iter()
                .all(|f| f.failure_code() == Some(&ImageFailureCode::ImageNotFound));
        return Err(if gone {
            QuarantineError::NotFound(text)
        } else {
            QuarantineError::Aws(text)
        });
    };
    Ok(StoredManifest {
        manifest: manifest.to_string(),
        media_type: media_type.map(str::to_string),
    })
}

/// `PutImage` of `stored` (the digest's own manifest) with `tag`, checked against the digest.
pub(super) async fn put_manifest(
    client: &Client,
    image: &EcrImage,
    stored: &StoredManifest,
    tag: &str,
) -> Result<(), QuarantineError> {
    let put = call(
        "PutImage",
        &about(image),
        client
            .put_image()
            .registry_id(&image.registry_id)
            .repository_name(&image.repository)
            .image_manifest(&stored.manifest)
            .set_image_manifest_media_type(stored.media_type.clone())
            .image_digest(image.digest.as_str())
            .image_tag(tag)
            .send(),
    )
    .await;
    match put {
        Ok(out) => {
            let digest = out
                .image()
                .and_then(|i| i.image_id())
                .and_then(|id| id.image_digest());
            if digest != Some(image.digest.as_str()) {
                return Err(QuarantineError::Aws(format!(
                    "ECR PutImage of tag `{tag}` for {} answered with digest {}; check the repository by hand",
                    image.reference(),
                    digest.unwrap_or("(none)")
                )));
            }
            Ok(())
        }
        // The tag already points at this very manifest: nothing to do.
        Err(f) if f.is("ImageAlreadyExistsException") => Ok(()),
        Err(f) => Err(f.into_error()),
    }
}

/// Removes `tags` (by tag) from the repository. Callers make sure the digest keeps another
/// reference; ECR would otherwise delete the image with its last tag.
pub(super) async fn delete_tags(
    client: &Client,
    image: &EcrImage,
    tags: &[String],
) -> Result<Vec<String>, QuarantineError> {
    let mut removed = Vec::new();
    for chunk in tags.chunks(DELETE_BATCH) {
        let ids = chunk
            .iter()
            .map(|t| ImageIdentifier::builder().image_tag(t).build())
            .collect();
        let out = call(
            "BatchDeleteImage",
            &about(image),
            client
                .batch_delete_image()
                .registry_id(&image.registry_id)
                .repository_name(&image.repository)
                .set_image_ids(Some(ids))
                .send(),
        )
        .await
        .map_err(CallFailure::into_error)?;
        removed.extend(
            out.image_ids()
                .iter()
                .filter_map(|id| id.image_tag().map(str::to_string)),
        );
        let failures: Vec<String> = out
            .failures()
            .iter()
            .map(|f| {
                format!(
                    "{}: {}",
                    f.image_id().and_then(|i| i.image_tag()).unwrap_or("?"),
                    f.failure_reason().unwrap_or("no reason given")
                )
            })
            .collect();
        if !failures.is_empty() {
            return Err(QuarantineError::Aws(format!(
                "ECR BatchDeleteImage for {} removed {removed:?} but not: {}; retry",
                image.reference(),
                failures.join("; ")
            )));
        }
    }
    removed.sort();
    removed.dedup();
    Ok(removed)
}

pub(super) async fn set_storage_class(
    client: &Client,
    image: &EcrImage,
    class: aws_sdk_ecr::types::TargetStorageClass,
) -> Result<Option<ImageStatus>, QuarantineError> {
    let out = call(
        "UpdateImageStorageClass",
        &about(image),
        client
            .update_image_storage_class()
            .registry_id(&image.registry_id)
            .repository_name(&image.repository)
            .image_id(by_digest(image))
            .target_storage_class(class)
            .send(),
    )
    .await
    .map_err(CallFailure::into_error)?;
    Ok(out.image_status().cloned())
}

/// The digest `tag` points at in the image's repository, if any.
pub(super) async fn tag_owner(
    client: &Client,
    image: &EcrImage,
    tag: &str,
) -> Result<Option<String>, QuarantineError> {
    let out = call(
        "DescribeImages",
        &about(image),
        client
            .describe_images()
            .registry_id(&image.registry_id)
            .repository_name(&image.repository)
            .image_ids(ImageIdentifier::builder().image_tag(tag).build())
            .send(),
    )
    .await;
    match out {
        Ok(out) => Ok(out
            .image_details()
            .iter()
            .find(|d| d.image_tags().iter().any(|t| t == tag))
            .and_then(|d| d.image_digest().map(str::to_string))),
        Err(f) if f.is("ImageNotFoundException") => Ok(None),
        Err(f) => Err(f.into_error()),
    }
}

/// The digests of `repository` that carry a quarantine tag, oldest quarantine tag first.
pub async fn list(
    client: &Client,
    registry_id: &str,
    region: &str,
    repository: &str,
) -> Result<Vec<QuarantinedImage>, QuarantineError> {
    let about = format!("{repository} (registry {registry_id}, {region})");
    let mut tags_by_digest: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut next: Option<String> = None;
    for page in 0.. {
        if page == MAX_LIST_PAGES {
            return Err(QuarantineError::Refused(format!(
                "{repository} has more than {} tagged images; list it with the AWS CLI",
                MAX_LIST_PAGES * 1000
            )));
        }
        let out = call(
            "ListImages",
            &about,
            client
                .list_images()
                .registry_id(registry_id)
                .repository_name(repository)
                .filter(
                    ListImagesFilter::builder()
                        .tag_status(TagStatus::Tagged)
                        .build(),
                )
                .max_results(1000)
                .set_next_token(next.take())
                .send(),
        )
        .await
        .map_err(CallFailure::into_error)?;
        for id in out.image_ids() {
            if let (Some(digest), Some(tag)) = (id.image_digest(), id.image_tag()) {
                tags_by_digest
                    .entry(digest.to_string())
                    .or_default()
                    .push(tag.to_string());
            }
        }
        match out.next_token() {
            Some(token) if !token.is_empty() => next = Some(token.to_string()),
            _ => break,
        }
    }
    let mut images: Vec<QuarantinedImage> = tags_by_digest
        .into_iter()
        .filter_map(|(digest, mut tags)| {
            tags.sort();
            tags.dedup();
            let (quarantine_tags, other_tags): (Vec<String>, Vec<String>) =
                tags.into_iter().partition(|t| is_quarantine_tag(t));
            (!quarantine_tags.is_empty()).then_some(QuarantinedImage {
                digest,
                quarantine_tags,
                other_tags,
            })
        })
        .collect();
    images.sort_by(|a, b| a.quarantine_tags.cmp(&b.quarantine_tags));
    Ok(images)
}

/// Whether ECR scans new pushes to the image's repository by itself (scan on push, or
/// continuous enhanced scanning): then a scan-complete event follows every push. Registry-level
/// scanning rules show up here too (`scanFrequency`).
pub async fn scans_on_push(client: &Client, image: &EcrImage) -> Result<bool, QuarantineError> {
    use aws_sdk_ecr::types::ScanFrequency;
    let out = call(
        "BatchGetRepositoryScanningConfiguration",
        &about(image),
        client
            .batch_get_repository_scanning_configuration()
            .repository_names(&image.repository)
            .send(),
    )
    .await
    .map_err(CallFailure::into_error)?;
    let config = out
        .scanning_configurations()
        .iter()
        .find(|c| c.repository_name() == Some(image.repository.as_str()))
        .ok_or_else(|| {
            QuarantineError::NotFound(format!(
                "ECR has no scanning configuration for repository {}",
                image.repository
            ))
        })?;
    Ok(config.scan_on_push()
        || matches!(
            config.scan_frequency(),
            Some(ScanFrequency::ScanOnPush | ScanFrequency::ContinuousScan)
        ))
}

/// Whether the digest is still in its repository: `false` only when ECR says that the image or
/// its repository does not exist (an event for an image deleted since needs no decision).
pub async fn image_exists(client: &Client, image: &EcrImage) -> Result<bool, QuarantineError> {
    match describe(client, image).await {
        Ok(_) | Err(QuarantineError::Refused(_)) => Ok(true),
        Err(QuarantineError::NotFound(_)) => Ok(false),
        Err(e) => Err(e),
    }
}
