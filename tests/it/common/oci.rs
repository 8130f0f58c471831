//! Pushing OCI content to a test registry over plain HTTP (the Distribution API, no auth).
//!
//! The gate never trusts tags, only digests, so every helper here returns the digest the registry
//! will serve the content under (computed locally and checked against `Docker-Content-Digest`).
//! Images are small and random, so every test gets fresh digests and cannot collide with another
//! test pushing to the same registry. Layers are real (tiny) tar files, optionally gzipped, and the
//! config's `rootfs.diff_ids` are the sha256 of the uncompressed tars, so base-image checks that
//! compare diff IDs as well as layer digests see a consistent image.
//!
//! All calls are blocking (`ureq`), so they may also be used from inside a `#[tokio::test]`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use shipgate::reference::Digest;

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
pub const OCI_LAYER_TAR_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// The OCI empty descriptor's media type; its content is `{}`.
pub const OCI_EMPTY: &str = "application/vnd.oci.empty.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

/// Every manifest media type we ask for on GET/HEAD.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json";

/// An OCI content descriptor, serialized with the image spec's field names in
/// go-containerregistry's field order (what cosign writes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Descriptor {
    #[serde(rename = "mediaType")]
    pub media_type: String,
    pub size: u64,
    pub digest: Digest,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Value>,
    #[serde(
        rename = "artifactType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub artifact_type: Option<String>,
}

/// An OCI image manifest (also used for cosign `.sig` images and OCI 1.1 referrers).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    #[serde(rename = "mediaType", default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(
        rename = "artifactType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub artifact_type: Option<String>,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

impl Manifest {
    /// An OCI image manifest (`mediaType` set) with this config and these layers.
    pub fn oci(config: Descriptor, layers: Vec<Descriptor>) -> Manifest {
        Manifest {
            schema_version: 2,
            media_type: Some(OCI_MANIFEST.to_string()),
            artifact_type: None,
            config,
            layers,
            subject: None,
            annotations: None,
        }
    }
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("manifest json")
    }
}

/// An OCI image index (multi-arch images, and the referrers tag-schema index).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Index {
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    #[serde(rename = "mediaType", default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    pub manifests: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

impl Index {
    pub fn oci(manifests: Vec<Descriptor>) -> Index {
        Index {
            schema_version: 2,
            media_type: Some(OCI_INDEX.to_string()),
            manifests,
            annotations: None,
        }
    }
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("index json")
    }
}

impl Descriptor {
    /// The descriptor of `bytes` with `media_type` (no annotations, platform or artifact type).
    pub fn of(media_type: &str, bytes: &[u8]) -> Descriptor {
        Descriptor {
            media_type: media_type.to_string(),
            digest: Digest::of(bytes),
            size: bytes.len() as u64,
            artifact_type: None,
            annotations: None,
            platform: None,
        }
    }
}

/// A layer: its descriptor and its bytes (kept so the layer can be pushed again, e.g. into another
/// repository as the base of a derived image).
#[derive(Debug, Clone)]
pub struct Layer {
    pub descriptor: Descriptor,
    pub data: Vec<u8>,
    /// `sha256:` of the uncompressed tar: the config's `rootfs.diff_ids` entry.
    pub diff_id: Digest,
}

/// What `push_image` made: everything a test needs to refer to the image.
#[derive(Debug, Clone)]
pub struct ImageRefs {
    /// The repository it was pushed to (`team/app`).
    pub repo: String,
    /// The tag it was pushed under.
    pub tag: String,
    /// The manifest digest: what the gate resolves the tag to and what signatures name.
    pub digest: Digest,
    /// The exact manifest bytes the registry serves.
    pub manifest_bytes: Vec<u8>,
    /// The manifest's own descriptor (media type, digest, size): what a `subject` or an index names.
    pub descriptor: Descriptor,
    pub config: Descriptor,
    pub config_bytes: Vec<u8>,
    pub layers: Vec<Layer>,
}

/// A blocking HTTP agent that reports 4xx/5xx as responses, not errors.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

/// Random bytes (aws-lc-rs' system RNG).
pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    aws_lc_rs::rand::fill(&mut v).expect("random bytes");
    v
}

fn header(resp: &ureq::http::Response<ureq::Body>, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn body_string(resp: &mut ureq::http::Response<ureq::Body>) -> String {
    resp.body_mut().read_to_string().unwrap_or_default()
}

/// Uploads a blob (monolithic: `POST …/blobs/uploads/` then `PUT <location>&digest=…`) and
/// returns its descriptor. Pushing a blob the repository already has is harmless.
pub fn push_blob(url: &str, repo: &str, media_type: &str, data: &[u8]) -> Descriptor {
    let desc = Descriptor::of(media_type, data);
    let agent = agent();
    let mut resp = agent
        .post(format!("{url}/v2/{repo}/blobs/uploads/"))
        .send_empty()
        .expect("POST blob upload");
    assert_eq!(
        resp.status().as_u16(),
        202,
        "starting a blob upload to {url}/{repo}: {}",
        body_string(&mut resp)
    );
    let location = header(&resp, "location").expect("upload Location header");
    let location = if location.starts_with('/') {
        format!("{url}{location}")
    } else {
        location
    };
    let sep = if location.contains('?') { '&' } else { '?' };
    let put_url = format!("{location}{sep}digest={}", desc.digest);
    let mut resp = agent
        .put(&put_url)
        .header("Content-Type", "application/octet-stream")
        .send(data)
        .expect("PUT blob");
    assert_eq!(
        resp.status().as_u16(),
        201,
        "finishing the blob upload of {}: {}",
        desc.digest,
        body_string(&mut resp)
    );
    desc
}

/// Pushes a manifest under `reference` (a tag or its own digest) with `Content-Type: media_type`
/// and returns its digest (checked against the registry's `Docker-Content-Digest`).
pub fn push_manifest(
    url: &str,
    repo: &str,
    reference: &str,
    media_type: &str,
    bytes: &[u8],
) -> Digest {
    let digest = Digest::of(bytes);
    let mut resp = agent()
        .put(format!("{url}/v2/{repo}/manifests/{reference}"))
        .header("Content-Type", media_type)
        .send(bytes)
        .expect("PUT manifest");
    let status = resp.status().as_u16();
    assert_eq!(
        status,
        201,
        "pushing manifest {repo}:{reference}: {}",
        body_string(&mut resp)
    );
    if let Some(served) = header(&resp, "docker-content-digest") {
        assert_eq!(served, digest.as_str(), "registry digest differs from ours");
    }
    digest
}

/// A manifest as the registry serves it.
#[derive(Debug, Clone)]
pub struct FetchedManifest {
    pub bytes: Vec<u8>,
    pub media_type: String,
    /// `Docker-Content-Digest` (or, if absent, the sha256 of the bytes).
    pub digest: Digest,
}

/// `GET /v2/<repo>/manifests/<reference>`; `None` on 404.
pub fn get_manifest(url: &str, repo: &str, reference: &str) -> Option<FetchedManifest> {
    let mut resp = agent()
        .get(format!("{url}/v2/{repo}/manifests/{reference}"))
        .header("Accept", MANIFEST_ACCEPT)
        .call()
        .expect("GET manifest");
    match resp.status().as_u16() {
        404 => return None,
        200 => {}
        s => panic!(
            "GET manifest {repo}:{reference}: HTTP {s}: {}",
            body_string(&mut resp)
        ),
    }
    let media_type = header(&resp, "content-type").unwrap_or_default();
    let served = header(&resp, "docker-content-digest");
    let bytes = resp
        .body_mut()
        .with_config()
        .limit(64 << 20)
        .read_to_vec()
        .expect("manifest body");
    let digest = served
        .map(|d| d.parse().expect("Docker-Content-Digest"))
        .unwrap_or_else(|| Digest::of(&bytes));
    Some(FetchedManifest {
        bytes,
        media_type,
        digest,
    })
}

/// The digest a tag points at (`HEAD` and `Docker-Content-Digest`), `None` if the tag is unknown.
pub fn resolve(url: &str, repo: &str, reference: &str) -> Option<Digest> {
    let resp = agent()
        .head(format!("{url}/v2/{repo}/manifests/{reference}"))
        .header("Accept", MANIFEST_ACCEPT)
        .call()
        .expect("HEAD manifest");
    match resp.status().as_u16() {
        404 => None,
        200 => Some(
            header(&resp, "docker-content-digest")
                .expect("Docker-Content-Digest")
                .parse()
                .expect("digest"),
        ),
        s => panic!("HEAD manifest {repo}:{reference}: HTTP {s}"),
    }
}

/// `GET /v2/<repo>/blobs/<digest>` (panics unless 200).
pub fn get_blob(url: &str, repo: &str, digest: &Digest) -> Vec<u8> {
    let mut resp = agent()
        .get(format!("{url}/v2/{repo}/blobs/{digest}"))
        .call()
        .expect("GET blob");
    assert_eq!(resp.status().as_u16(), 200, "GET blob {repo}@{digest}");
    resp.body_mut()
        .with_config()
        .limit(256 << 20)
        .read_to_vec()
        .expect("blob body")
}

/// A minimal ustar archive holding one regular file.
pub fn tar_one_file(name: &str, content: &[u8]) -> Vec<u8> {
    assert!(name.len() < 100, "tar name too long");
    let mut header = [0u8; 512];
    header[..name.len()].copy_from_slice(name.as_bytes());
    let put_octal = |h: &mut [u8; 512], at: usize, width: usize, value: u64| {
        let s = format!("{value:0w$o}\0", w = width - 1);
        h[at..at + width].copy_from_slice(s.as_bytes());
    };
    put_octal(&mut header, 100, 8, 0o644); // mode
    put_octal(&mut header, 108, 8, 0); // uid
    put_octal(&mut header, 116, 8, 0); // gid
    put_octal(&mut header, 124, 12, content.len() as u64); // size
    put_octal(&mut header, 136, 12, 0); // mtime
    header[156] = b'0'; // regular file
    header[257..263].copy_from_slice(b"ustar\0");
    header[263..265].copy_from_slice(b"00");
    header[148..156].copy_from_slice(b"        ");
    let sum: u64 = header.iter().map(|&b| b as u64).sum();
    let s = format!("{sum:06o}\0 ");
    header[148..156].copy_from_slice(s.as_bytes());
    let mut out = header.to_vec();
    out.extend_from_slice(content);
    out.resize(out.len().div_ceil(512) * 512, 0);
    out.extend_from_slice(&[0u8; 1024]);
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A valid gzip stream of `data` using stored (uncompressed) deflate blocks: real gzip, no codec.
pub fn gzip_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    let mut chunks = data.chunks(65535).peekable();
    if chunks.peek().is_none() {
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    while let Some(chunk) = chunks.next() {
        let last = chunks.peek().is_none();
        out.push(u8::from(last));
        let len = chunk.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(chunk);
    }
    out.extend_from_slice(&crc32(data).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

/// A random layer: a tar with one random file, gzipped (`tar+gzip` media type) or plain (`tar`).
pub fn random_layer(gzip: bool) -> Layer {
    let name = format!("file-{}", hex::encode(random_bytes(6)));
    let content = random_bytes(64 + (random_bytes(1)[0] as usize));
    let tar = tar_one_file(&name, &content);
    let diff_id = Digest::of(&tar);
    let (media_type, data) = if gzip {
        (OCI_LAYER_TAR_GZIP, gzip_stored(&tar))
    } else {
        (OCI_LAYER_TAR, tar)
    };
    Layer {
        descriptor: Descriptor::of(media_type, &data),
        data,
        diff_id,
    }
}

/// The OCI image config for these layers (linux/amd64, diff IDs in layer order).
pub fn image_config(layers: &[Layer]) -> Vec<u8> {
    let diff_ids: Vec<&str> = layers.iter().map(|l| l.diff_id.as_str()).collect();
    let history: Vec<Value> = layers
        .iter()
        .map(|l| json!({"created": "2024-01-01T00:00:00Z", "created_by": format!("ADD {} /", l.descriptor.digest)}))
        .collect();
    serde_json::to_vec(&json!({
        "architecture": "amd64",
        "os": "linux",
        "created": "2024-01-01T00:00:00Z",
        "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": history,
    }))
    .expect("config json")
}

/// Pushes the layers and a config, then the OCI image manifest under `tag`.
fn push_image_from_layers(url: &str, repo: &str, tag: &str, layers: Vec<Layer>) -> ImageRefs {
    for l in &layers {
        push_blob(url, repo, &l.descriptor.media_type, &l.data);
    }
    let config_bytes = image_config(&layers);
    let config = push_blob(url, repo, OCI_CONFIG, &config_bytes);
    let manifest = Manifest::oci(
        config.clone(),
        layers.iter().map(|l| l.descriptor.clone()).collect(),
    );
    let manifest_bytes = manifest.to_bytes();
    let digest = push_manifest(url, repo, tag, OCI_MANIFEST, &manifest_bytes);
    ImageRefs {
        repo: repo.to_string(),
        tag: tag.to_string(),
        digest,
        descriptor: Descriptor::of(OCI_MANIFEST, &manifest_bytes),
        manifest_bytes,
        config,
        config_bytes,
        layers,
    }
}

/// A small random single-platform image (OCI manifest, OCI config, one gzipped and one plain tar
/// layer) pushed as `repo:tag`. Each call makes a new digest.
pub fn push_image(url: &str, repo: &str, tag: &str) -> ImageRefs {
    push_image_from_layers(
        url,
        repo,
        tag,
        vec![random_layer(true), random_layer(false)],
    )
}

/// An image built "FROM" a base: the base's layers first (pushed into `repo` again, so the base
/// may live in another repository), then `extra` new random gzipped layers. Used for base-image
/// checks: the derived manifest's first layers (and config diff IDs) equal the base's.
pub fn push_image_with_layers(
    url: &str,
    repo: &str,
    tag: &str,
    base_layers: &[Layer],
    extra: usize,
) -> ImageRefs {
    let mut layers = base_layers.to_vec();
    layers.extend((0..extra).map(|_| random_layer(true)));
    push_image_from_layers(url, repo, tag, layers)
}

/// The platform given to the n-th image of an index made by `push_index`.
pub fn index_platform(n: usize) -> Value {
    match n % 4 {
        0 => json!({"architecture": "amd64", "os": "linux"}),
        1 => json!({"architecture": "arm64", "os": "linux", "variant": "v8"}),
        2 => json!({"architecture": "arm", "os": "linux", "variant": "v7"}),
        _ => json!({"architecture": "s390x", "os": "linux"}),
    }
}

/// A multi-arch OCI image index over manifests already in `repo` (looked up for their size and
/// media type; platforms linux/amd64, linux/arm64/v8, linux/arm/v7, linux/s390x in that order),
/// pushed as `repo:tag`. Returns the index digest.
pub fn push_index(url: &str, repo: &str, tag: &str, images: &[Digest]) -> Digest {
    let manifests: Vec<Descriptor> = images
        .iter()
        .enumerate()
        .map(|(n, d)| {
            let m = get_manifest(url, repo, d.as_str())
                .unwrap_or_else(|| panic!("{repo}@{d} is not in the registry"));
            let media_type = m.media_type.split(';').next().unwrap_or_default().trim();
            let mut desc = Descriptor::of(media_type, &m.bytes);
            desc.platform = Some(index_platform(n));
            desc
        })
        .collect();
    let bytes = Index::oci(manifests).to_bytes();
    push_manifest(url, repo, tag, OCI_INDEX, &bytes)
}

/// Points `tag` at the manifest `digest` (same bytes, same media type): what `crane tag` does.
pub fn retag(url: &str, repo: &str, digest: &Digest, tag: &str) {
    let m = get_manifest(url, repo, digest.as_str())
        .unwrap_or_else(|| panic!("{repo}@{digest} is not in the registry"));
    let got = push_manifest(url, repo, tag, &m.media_type, &m.bytes);
    assert_eq!(&got, digest);
}
