//! A real `moto` server (the AWS mock, from PyPI) on a free loopback port, for the ECR scan
//! findings tests. `scripts/test.sh` installs it into `.venv`; `SHIPGATE_TEST_MOTO` names the
//! `moto_server` binary. Killed when dropped.
//!
//! The SDK is pointed at it explicitly (a loader hook), never through process-wide environment
//! variables, because tests run in parallel threads of one process.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_ecr::error::DisplayErrorContext;
use aws_sdk_ecr::types::ImageIdentifier;
use serde_json::Value;
use shipgate::evidence::ecr_findings::AwsScanFindings;
use shipgate::registry::LoaderHook;

use crate::free_port;

/// The account moto uses by default, and so the one in every test image's host name.
pub const ACCOUNT: &str = "123456789012";
pub const REGION: &str = "us-east-1";

fn moto_binary() -> PathBuf {
    std::env::var_os("SHIPGATE_TEST_MOTO")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/moto_server")
        })
}

pub struct Moto {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub endpoint: String,
}

impl Moto {
    pub fn start() -> Moto {
        let binary = moto_binary();
        let mut last_err = String::new();
        for _attempt in 0..5 {
            let port = free_port();
            let mut child = Command::new(&binary)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| {
                    panic!(
                        "cannot start {} ({e}); run ./scripts/test.sh (it makes .venv with `pip install 'moto[server]'`) or set SHIPGATE_TEST_MOTO",
                        binary.display()
                    )
                });
            let host = format!("127.0.0.1:{port}");
            let deadline = Instant::now() + Duration::from_secs(60);
            while Instant::now() < deadline {
                if let Ok(Some(status)) = child.try_wait() {
                    last_err = format!("moto_server exited with {status}");
                    break;
                }
                if std::net::TcpStream::connect(&host).is_ok() {
                    return Moto {
                        child,
                        endpoint: format!("http://{host}"),
                    };
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
            if last_err.is_empty() {
                last_err = "moto_server did not listen within 60 s".into();
            }
        }
        panic!("could not start moto_server: {last_err}");
    }

    /// Points an SDK configuration loader at this server with dummy static credentials.
    pub fn hook(&self) -> LoaderHook {
        hook_for(&self.endpoint)
    }

    /// The gate's real ECR findings source, talking to this server.
    pub fn findings(&self) -> Arc<AwsScanFindings> {
        Arc::new(AwsScanFindings::with_loader_hook(self.hook()))
    }

    pub async fn client(&self) -> aws_sdk_ecr::Client {
        let loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(REGION));
        let config = (self.hook())(loader).load().await;
        aws_sdk_ecr::Client::new(&config)
    }

    /// Creates `repo` (if needed) and puts an image tagged `tag` whose single layer is unique to
    /// the tag; starts its scan when `scan`. Returns the image digest moto assigned.
    pub async fn put_image(&self, repo: &str, tag: &str, scan: bool) -> String {
        let client = self.client().await;
        let _ = client
            .create_repository()
            .repository_name(repo)
            .send()
            .await;
        let layer = format!(
            "sha256:{}",
            hex::encode(<sha2::Sha256 as sha2::Digest>::digest(tag.as_bytes()))
        );
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 2,
                       "digest": format!("sha256:{}", "0".repeat(64))},
            "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                        "size": 1, "digest": layer}],
        });
        let out = client
            .put_image()
            .repository_name(repo)
            .image_tag(tag)
            .image_manifest(manifest.to_string())
            .send()
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "moto PutImage: {}",
                    aws_sdk_ecr::error::DisplayErrorContext(&e)
                )
            });
        let digest = out
            .image()
            .and_then(|i| i.image_id())
            .and_then(|i| i.image_digest())
            .expect("moto returns the image digest")
            .to_string();
        if scan {
            client
                .start_image_scan()
                .repository_name(repo)
                .image_id(
                    aws_sdk_ecr::types::ImageIdentifier::builder()
                        .image_digest(&digest)
                        .build(),
                )
                .send()
                .await
                .unwrap_or_else(|e| {
                    panic!(
                        "moto StartImageScan: {}",
                        aws_sdk_ecr::error::DisplayErrorContext(&e)
                    )
                });
        }
        digest
    }

    /// Queues the `DescribeImageScanFindings` response moto gives for the image named in
    /// `response` (`repositoryName` and `imageId.imageDigest`), through
    /// `POST /moto-api/static/ecr/scan-finding-results`. Moto returns it verbatim.
    pub fn inject(&self, response: Value) {
        let body = serde_json::json!({"results": [response], "region": REGION});
        let url = format!("{}/moto-api/static/ecr/scan-finding-results", self.endpoint);
        let status = ureq::post(&url)
            .header("Content-Type", "application/json")
            .send(body.to_string())
            .map(|r| r.status().as_u16())
            .unwrap_or_else(|e| panic!("POST {url}: {e}"));
        assert_eq!(status, 201, "moto refused the scan findings");
    }
}

/// The digest's tags in `repo`, sorted; panics if the digest is gone (tests of the quarantine
/// check that nothing is ever deleted).
pub async fn tags(client: &aws_sdk_ecr::Client, repo: &str, digest: &str) -> Vec<String> {
    let out = client
        .describe_images()
        .repository_name(repo)
        .image_ids(ImageIdentifier::builder().image_digest(digest).build())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{repo}@{digest} is gone: {}", DisplayErrorContext(&e)));
    let mut tags = out.image_details()[0].image_tags().to_vec();
    tags.sort();
    tags
}

/// Adds `tag` to an existing digest, as `docker push` of the same image would.
pub async fn add_tag(client: &aws_sdk_ecr::Client, repo: &str, digest: &str, tag: &str) {
    let got = client
        .batch_get_image()
        .repository_name(repo)
        .image_ids(ImageIdentifier::builder().image_digest(digest).build())
        .send()
        .await
        .unwrap_or_else(|e| panic!("moto BatchGetImage: {}", DisplayErrorContext(&e)));
    let manifest = got.images()[0]
        .image_manifest()
        .expect("moto returns the manifest")
        .to_string();
    client
        .put_image()
        .repository_name(repo)
        .image_manifest(manifest)
        .image_tag(tag)
        .send()
        .await
        .unwrap_or_else(|e| panic!("moto PutImage: {}", DisplayErrorContext(&e)));
}

/// A loader hook for an endpoint (moto or a stub), with dummy static credentials.
pub fn hook_for(endpoint: &str) -> LoaderHook {
    let endpoint = endpoint.to_string();
    Arc::new(move |loader: aws_config::ConfigLoader| {
        loader.endpoint_url(endpoint.clone()).credentials_provider(
            aws_sdk_ecr::config::Credentials::new("test", "test", None, None, "test"),
        )
    })
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
