//! The images of an input artifact: the zip CodePipeline stored in its artifact bucket, read
//! with the job's own `artifactCredentials`, holding `imageDetail.json` (Amazon ECR source
//! action) or `imagedefinitions.json` (Amazon ECS standard deployments). Every read is bounded:
//! object size, zip entries, uncompressed size of the file read.

use std::io::Read;
use std::time::Duration;

use serde::Deserialize;
use shipgate::reference::{Digest, ImageRef};

use super::event::{Artifact, ArtifactCredentials};
use super::MAX_IMAGES;

/// Largest artifact object read from S3 (an image artifact is a few hundred bytes).
pub const MAX_OBJECT_BYTES: usize = 10 * 1024 * 1024;
/// Most zip entries looked at.
pub const MAX_ZIP_ENTRIES: usize = 10_000;
/// Largest uncompressed `imageDetail.json` / `imagedefinitions.json`.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;
/// One S3 call's budget (the SDK's retries included).
const S3_OPERATION_TIMEOUT: Duration = Duration::from_secs(20);

pub const IMAGE_DETAIL: &str = "imageDetail.json";
pub const IMAGE_DEFINITIONS: &str = "imagedefinitions.json";

/// Why the artifact gave no images. `Unreadable` is the pipeline's state (the object is gone,
/// the credentials expired, S3 failed): a `JobFailed`. `Content` is what the action was wired
/// to: a `ConfigurationError`.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    #[error("{0}")]
    Unreadable(String),
    #[error("{0}")]
    Content(String),
}

/// Reads the images named by `artifact`.
pub async fn images(
    sdk: &aws_config::SdkConfig,
    artifact: &Artifact,
    credentials: Option<&ArtifactCredentials>,
) -> Result<Vec<String>, ArtifactError> {
    let location = match (&artifact.location.kind[..], &artifact.location.s3_location) {
        ("S3", Some(s3)) => s3,
        (kind, _) => {
            return Err(ArtifactError::Content(format!(
            "input artifact `{}` is stored as `{kind}`, not in S3; only S3 artifacts can be read",
            artifact.name
        )))
        }
    };
    let Some(credentials) = credentials else {
        return Err(ArtifactError::Content(format!(
            "the job gives no artifactCredentials to read input artifact `{}`",
            artifact.name
        )));
    };
    let where_ = format!(
        "input artifact `{}` (s3://{}/{})",
        artifact.name, location.bucket_name, location.object_key
    );
    let bytes = get_object(
        sdk,
        credentials,
        &location.bucket_name,
        &location.object_key,
        &where_,
    )
    .await?;
    images_from_zip(&bytes).map_err(|e| ArtifactError::Content(format!("{where_}: {e}")))
}

/// An S3 client that is the function's SDK configuration with the job's credentials. With an
/// endpoint override (`AWS_ENDPOINT_URL[_S3]`, only ever set for S3-compatible stores such as
/// moto, MinIO or LocalStack) path-style addressing is forced: those serve buckets under the
/// path, and `bucket.127.0.0.1` does not resolve. Real S3 keeps virtual-hosted addressing.
fn s3_client(sdk: &aws_config::SdkConfig, credentials: &ArtifactCredentials) -> aws_sdk_s3::Client {
    let overridden =
        sdk.endpoint_url().is_some() || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some();
    let config = aws_sdk_s3::config::Builder::from(sdk)
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            credentials.access_key_id.clone(),
            credentials.secret_access_key.clone(),
            Some(credentials.session_token.clone()),
            None,
            "codepipeline-artifact-credentials",
        ))
        .force_path_style(overridden)
        .timeout_config(
            aws_sdk_s3::config::timeout::TimeoutConfig::builder()
                .operation_timeout(S3_OPERATION_TIMEOUT)
                .build(),
        )
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

async fn get_object(
    sdk: &aws_config::SdkConfig,
    credentials: &ArtifactCredentials,
    bucket: &str,
    key: &str,
    where_: &str,
) -> Result<Vec<u8>, ArtifactError> {
    let client = s3_client(sdk, credentials);
    let out = client
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| {
            let (_, detail) = crate::sdk_error_text(&e);
            ArtifactError::Unreadable(format!(
                "cannot read {where_}: {detail}; check that the previous action produced it and that the pipeline's artifact store is reachable"
            ))
        })?;
    let too_big = || {
        ArtifactError::Content(format!(
            "{where_} is larger than {MAX_OBJECT_BYTES} bytes; an image artifact is a small zip with imageDetail.json or imagedefinitions.json"
        ))
    };
    if out
        .content_length()
        .is_some_and(|n| usize::try_from(n).map_or(true, |n| n > MAX_OBJECT_BYTES))
    {
        return Err(too_big());
    }
    let mut body = out.body;
    let mut bytes = Vec::new();
    while let Some(chunk) = body.try_next().await.map_err(|e| {
        ArtifactError::Unreadable(format!("cannot read {where_}: the download broke off: {e}"))
    })? {
        if bytes.len() + chunk.len() > MAX_OBJECT_BYTES {
            return Err(too_big());
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// The images of an artifact zip: `imageDetail.json` if present, else `imagedefinitions.json`.
pub fn images_from_zip(bytes: &[u8]) -> Result<Vec<String>, String> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|e| format!("is not a zip archive ({e})"))?;
    if zip.len() > MAX_ZIP_ENTRIES {
        return Err(format!(
            "has {} entries; at most {MAX_ZIP_ENTRIES} are read",
            zip.len()
        ));
    }
    for (name, parse) in [
        (
            IMAGE_DETAIL,
            parse_image_detail as fn(&[u8]) -> Result<Vec<String>, String>,
        ),
        (IMAGE_DEFINITIONS, parse_image_definitions),
    ] {
        let mut file = match zip.by_name(name) {
            Ok(f) => f,
            Err(zip::result::ZipError::FileNotFound) => continue,
            Err(e) => return Err(format!("{name} cannot be read from the zip ({e})")),
        };
        if file.size() > MAX_FILE_BYTES {
            return Err(format!(
                "{name} is {} bytes uncompressed; at most {MAX_FILE_BYTES} are read",
                file.size()
            ));
        }
        let mut content = Vec::new();
        // `take` bounds the read even if the declared size lies.
        (&mut file)
            .take(MAX_FILE_BYTES + 1)
            .read_to_end(&mut content)
            .map_err(|e| format!("{name} cannot be decompressed ({e})"))?;
        if content.len() as u64 > MAX_FILE_BYTES {
            return Err(format!(
                "{name} is larger than {MAX_FILE_BYTES} bytes uncompressed"
            ));
        }
        return parse(&content).map_err(|e| format!("{name}: {e}"));
    }
    Err(format!(
        "contains neither {IMAGE_DETAIL} (Amazon ECR source action) nor {IMAGE_DEFINITIONS} (ECS deploy input) at its root; give the action the artifact that names the image, or set UserParameters {{\"images\": [...]}}"
    ))
}

/// `imageDetail.json` of the Amazon ECR source action: `ImageURI`, and `ImageDigest`.
#[derive(Deserialize)]
struct ImageDetail {
    #[serde(rename = "ImageURI")]
    image_uri: String,
    #[serde(rename = "ImageDigest", default)]
    image_digest: Option<String>,
}

/// The image by digest where possible: `ImageURI` if it has one, else the repository of
/// `ImageURI` pinned to `ImageDigest` (so that the gate decides exactly the pushed image).
pub fn parse_image_detail(content: &[u8]) -> Result<Vec<String>, String> {
    let detail: ImageDetail =
        serde_json::from_slice(content).map_err(|e| format!("is not valid ({e})"))?;
    let uri = detail.image_uri.trim();
    let image: ImageRef = uri
        .parse()
        .map_err(|e| format!("ImageURI is not an image reference ({e})"))?;
    if image.digest.is_some() {
        return Ok(vec![uri.to_string()]);
    }
    match detail.image_digest.as_deref().map(str::trim) {
        Some(d) if !d.is_empty() => {
            let digest: Digest = d
                .parse()
                .map_err(|e| format!("ImageDigest is not a digest ({e})"))?;
            Ok(vec![image.pinned(&digest)])
        }
        _ => Ok(vec![uri.to_string()]),
    }
}

/// `imagedefinitions.json`: `[{"name": "container", "imageUri": "…"}]`.
#[derive(Deserialize)]
struct ImageDefinition {
    #[serde(rename = "imageUri")]
    image_uri: String,
}

pub fn parse_image_definitions(content: &[u8]) -> Result<Vec<String>, String> {
    let defs: Vec<ImageDefinition> =
        serde_json::from_slice(content).map_err(|e| format!("is not valid ({e})"))?;
    let mut images: Vec<String> = Vec::new();
    for d in defs {
        let uri = d.image_uri.trim().to_string();
        if !images.contains(&uri) {
            images.push(uri);
        }
    }
    if images.is_empty() {
        return Err("names no image".into());
    }
    if images.len() > MAX_IMAGES {
        return Err(format!(
            "names {} images; at most {MAX_IMAGES} are decided per job",
            images.len()
        ));
    }
    Ok(images)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (name, content) in files {
            w.start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            w.write_all(content).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    #[test]
    fn image_detail_prefers_the_digest() {
        let tagged = format!(
            r#"{{"ImageSizeInBytes": "44728918", "ImageDigest": "{DIGEST}", "Version": "1.0",
               "RegistryId": "123456789012", "RepositoryName": "app",
               "ImageURI": "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:latest", "ImageTags": ["latest"]}}"#
        );
        assert_eq!(
            parse_image_detail(tagged.as_bytes()).unwrap(),
            [format!(
                "123456789012.dkr.ecr.us-east-1.amazonaws.com/app@{DIGEST}"
            )]
        );
        let pinned = format!(
            r#"{{"ImageURI": "123456789012.dkr.ecr.us-east-1.amazonaws.com/app@{DIGEST}"}}"#
        );
        assert_eq!(
            parse_image_detail(pinned.as_bytes()).unwrap(),
            [format!(
                "123456789012.dkr.ecr.us-east-1.amazonaws.com/app@{DIGEST}"
            )]
        );
        let by_tag = br#"{"ImageURI": "ghcr.io/a/b:1"}"#;
        assert_eq!(parse_image_detail(by_tag).unwrap(), ["ghcr.io/a/b:1"]);
        assert!(parse_image_detail(br#"{"ImageURI": "x", "ImageDigest": "md5:1"}"#).is_err());
        assert!(parse_image_detail(b"[]").is_err());
    }

    #[test]
    fn image_definitions_are_deduplicated_and_bounded() {
        let defs = br#"[{"name": "a", "imageUri": "ghcr.io/a:1"}, {"name": "b", "imageUri": "ghcr.io/a:1"},
                       {"name": "c", "imageUri": "ghcr.io/c:2"}]"#;
        assert_eq!(
            parse_image_definitions(defs).unwrap(),
            ["ghcr.io/a:1", "ghcr.io/c:2"]
        );
        assert!(parse_image_definitions(b"[]").is_err());
        let many: Vec<_> = (0..=MAX_IMAGES)
            .map(|i| serde_json::json!({"name": "x", "imageUri": format!("ghcr.io/x:{i}")}))
            .collect();
        let many = serde_json::to_vec(&many).unwrap();
        assert!(parse_image_definitions(&many)
            .unwrap_err()
            .contains("at most 20"));
    }

    #[test]
    fn zips_are_read_with_bounds() {
        let z = zip_of(&[
            (
                "imagedefinitions.json",
                br#"[{"name": "a", "imageUri": "ghcr.io/a:1"}]"#,
            ),
            ("imageDetail.json", br#"{"ImageURI": "ghcr.io/b:2"}"#),
        ]);
        assert_eq!(
            images_from_zip(&z).unwrap(),
            ["ghcr.io/b:2"],
            "imageDetail.json first"
        );
        let z = zip_of(&[("other.txt", b"x")]);
        assert!(images_from_zip(&z)
            .unwrap_err()
            .contains("contains neither"));
        assert!(images_from_zip(b"not a zip")
            .unwrap_err()
            .contains("not a zip"));
        // A small zip that inflates past the bound.
        let big = vec![b' '; (MAX_FILE_BYTES + 10) as usize];
        let z = zip_of(&[("imageDetail.json", &big)]);
        assert!(z.len() < 100_000);
        assert!(images_from_zip(&z).unwrap_err().contains("at most"));
    }
}
