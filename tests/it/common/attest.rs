//! Attestation fixtures: SLSA provenance statements, cosign legacy `.att` manifests (DSSE
//! envelope layers with cosign's annotations and an `intoto` 0.0.2 Rekor entry), and bundles.

use std::collections::BTreeMap;

use serde_json::{json, Value};
use shipgate::reference::Digest;

use super::cosign::{b64, dsse_envelope, pem_encode, sha256, SigningKey, IN_TOTO_PAYLOAD_TYPE};
use super::oci::{self, Manifest};
use super::private_sigstore::{PrivateSigstore, TransparencyLog};

pub const DSSE_MEDIA_TYPE: &str = "application/vnd.dsse.envelope.v1+json";
pub const SLSA_V1: &str = "https://slsa.dev/provenance/v1";
pub const SLSA_V02: &str = "https://slsa.dev/provenance/v0.2";
pub const GITHUB_RUNNER: &str = "https://github.com/actions/runner/github-hosted";
pub const GITHUB_BUILD_TYPE: &str = "https://actions.github.io/buildtypes/workflow/v1";

/// What a provenance says about the build.
#[derive(Debug, Clone)]
pub struct Build {
    pub builder: String,
    pub build_type: String,
    pub repository: String,
    pub git_ref: String,
    pub workflow: String,
}

impl Default for Build {
    fn default() -> Build {
        Build {
            builder: GITHUB_RUNNER.into(),
            build_type: GITHUB_BUILD_TYPE.into(),
            repository: "https://github.com/acme/app".into(),
            git_ref: "refs/heads/main".into(),
            workflow: ".github/workflows/release.yml".into(),
        }
    }
}

/// An in-toto Statement v1 with a SLSA v1 predicate as GitHub's attest-build-provenance writes.
pub fn slsa_v1_statement(subject: &Digest, b: &Build) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "registry/app", "digest": {"sha256": subject.hex()}}],
        "predicateType": SLSA_V1,
        "predicate": {
            "buildDefinition": {
                "buildType": b.build_type,
                "externalParameters": {"workflow": {
                    "ref": b.git_ref, "repository": b.repository, "path": b.workflow}},
                "internalParameters": {"github": {"event_name": "push"}},
                "resolvedDependencies": [{"uri": format!("git+{}@{}", b.repository, b.git_ref),
                    "digest": {"gitCommit": "0123456789abcdef0123456789abcdef01234567"}}],
            },
            "runDetails": {
                "builder": {"id": b.builder},
                "metadata": {"invocationId": "https://github.com/acme/app/actions/runs/1/attempts/1"},
            },
        },
    }))
    .expect("json")
}

/// An in-toto Statement v0.1 with another predicate (e.g. an SBOM).
pub fn other_statement(subject: &Digest, predicate_type: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "_type": "https://in-toto.io/Statement/v0.1",
        "subject": [{"name": "registry/app", "digest": {"sha256": subject.hex()}}],
        "predicateType": predicate_type,
        "predicate": {},
    }))
    .expect("json")
}

/// An `intoto` 0.0.2 Rekor body for `envelope` signed by `verifier_pem` (as Rekor canonicalizes it:
/// the envelope's signature base64-encoded again, public keys base64 PEM).
pub fn intoto_body(envelope: &Value, verifier_pem: &str) -> Vec<u8> {
    use base64::Engine as _;
    let payload = base64::engine::general_purpose::STANDARD
        .decode(envelope["payload"].as_str().expect("payload"))
        .expect("payload base64");
    let envelope_bytes = serde_json::to_vec(envelope).expect("envelope");
    let sig = envelope["signatures"][0]["sig"].as_str().expect("sig");
    serde_json_canonicalizer::to_vec(&json!({
        "apiVersion": "0.0.2",
        "kind": "intoto",
        "spec": {"content": {
            "envelope": {
                "payloadType": envelope["payloadType"],
                "signatures": [{"sig": b64(sig), "publicKey": b64(verifier_pem)}],
            },
            "hash": {"algorithm": "sha256", "value": hex::encode(sha256(&envelope_bytes))},
            "payloadHash": {"algorithm": "sha256", "value": hex::encode(sha256(&payload))},
        }},
    }))
    .expect("canonical json")
}

/// The `dev.sigstore.cosign/bundle` annotation for an attestation: an intoto 0.0.2 entry + SET.
pub fn intoto_rekor_set(
    log: &TransparencyLog,
    envelope: &Value,
    verifier_pem: &str,
    integrated_time: i64,
    log_index: u64,
) -> String {
    let body_b64 = b64(intoto_body(envelope, verifier_pem));
    let set = log.signed_entry_timestamp(&body_b64, integrated_time, log_index);
    format!(
        r#"{{"SignedEntryTimestamp":"{}","Payload":{{"body":"{}","integratedTime":{},"logIndex":{},"logID":"{}"}}}}"#,
        b64(set),
        body_b64,
        integrated_time,
        log_index,
        log.log_id_hex()
    )
}

/// One `.att` layer: the envelope JSON and its annotations.
pub struct AttLayer {
    pub envelope: Vec<u8>,
    pub annotations: BTreeMap<String, String>,
}

impl AttLayer {
    /// `key` signs `statement`; no certificate, no log entry (`cosign attest --tlog-upload=false`).
    pub fn key_signed(key: &SigningKey, statement: &[u8]) -> AttLayer {
        let env = dsse_envelope(key, IN_TOTO_PAYLOAD_TYPE, statement);
        let pt = serde_json::from_slice::<Value>(statement).expect("statement")["predicateType"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        AttLayer {
            envelope: serde_json::to_vec(&env).expect("envelope"),
            annotations: BTreeMap::from([("predicateType".to_string(), pt)]),
        }
    }

    /// What keyless `cosign attest` (legacy format) attaches: envelope signed by the leaf key,
    /// certificate + chain annotations, and an intoto 0.0.2 Rekor bundle.
    pub fn keyless(
        sigstore: &PrivateSigstore,
        key: &SigningKey,
        cert_pem: &str,
        statement: &[u8],
        integrated_time: i64,
        log_index: u64,
    ) -> AttLayer {
        let mut layer = AttLayer::key_signed(key, statement);
        let env: Value = serde_json::from_slice(&layer.envelope).expect("envelope");
        let cert_der = super::cosign::pem_decode_all(cert_pem)
            .into_iter()
            .next()
            .expect("cert");
        let cert = pem_encode("CERTIFICATE", &cert_der);
        let bundle = intoto_rekor_set(&sigstore.log, &env, &cert, integrated_time, log_index);
        layer.annotations.extend([
            ("dev.sigstore.cosign/certificate".to_string(), cert),
            (
                "dev.sigstore.cosign/chain".to_string(),
                sigstore.ca.root_pem.clone(),
            ),
            ("dev.sigstore.cosign/bundle".to_string(), bundle),
        ]);
        layer
    }
}

/// Pushes the `sha256-<hex>.att` manifest with these layers (replacing any).
pub fn attach_legacy_attestations(
    url: &str,
    repo: &str,
    image_digest: &Digest,
    layers: Vec<AttLayer>,
) -> Digest {
    let mut descriptors = Vec::new();
    for l in layers {
        let mut d = oci::push_blob(url, repo, DSSE_MEDIA_TYPE, &l.envelope);
        d.annotations = Some(l.annotations);
        descriptors.push(d);
    }
    let config_bytes = super::cosign::cosign_signature_config(&descriptors);
    let config = oci::push_blob(url, repo, oci::OCI_CONFIG, &config_bytes);
    let manifest = Manifest::oci(config, descriptors);
    oci::push_manifest(
        url,
        repo,
        &image_digest.cosign_tag(".att"),
        oci::OCI_MANIFEST,
        &manifest.to_bytes(),
    )
}

/// Turns a `cosign save` OCI layout (index.json naming the image and its `atts` manifest) into a
/// replay dump (`manifests/`, `blobs/`): the image manifest by digest, the attestation manifest
/// under `sha256-<hex>.att`. Returns the dump directory and the image digest.
pub fn layout_to_dump(layout: &std::path::Path) -> (tempfile::TempDir, Digest) {
    let index: Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).expect("index.json"))
            .expect("index json");
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("manifests")).expect("mkdir");
    std::fs::create_dir_all(dir.path().join("blobs")).expect("mkdir");
    let blob = |digest: &str| {
        std::fs::read(layout.join("blobs/sha256").join(&digest["sha256:".len()..]))
            .unwrap_or_else(|e| panic!("blob {digest}: {e}"))
    };
    let mut image = None;
    let mut atts = None;
    for m in index["manifests"].as_array().expect("manifests") {
        let digest = m["digest"].as_str().expect("digest").to_string();
        match m["annotations"]["kind"].as_str() {
            Some("dev.cosignproject.cosign/image" | "dev.cosignproject.cosign/imageIndex") => {
                image = Some(digest)
            }
            Some("dev.cosignproject.cosign/atts") => atts = Some(digest),
            _ => {}
        }
    }
    let image: Digest = image.expect("image in layout").parse().expect("digest");
    let atts = atts.expect("atts in layout");
    let write = |name: String, bytes: &[u8]| {
        std::fs::write(dir.path().join(name), bytes).expect("write dump file");
    };
    write(format!("manifests/{image}.json"), &blob(image.as_str()));
    let att_bytes = blob(&atts);
    write(
        format!("manifests/{}.json", image.cosign_tag(".att")),
        &att_bytes,
    );
    let att: Value = serde_json::from_slice(&att_bytes).expect("atts manifest");
    let mut blobs = vec![att["config"]["digest"]
        .as_str()
        .expect("config")
        .to_string()];
    for l in att["layers"].as_array().expect("layers") {
        blobs.push(l["digest"].as_str().expect("layer").to_string());
    }
    for d in blobs {
        write(format!("blobs/{d}.json"), &blob(&d));
    }
    (dir, image)
}
