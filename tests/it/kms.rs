//! AWS KMS keys in policies (`key: awskms:///…`), end to end through the real `shipgate`
//! binary: images pushed to a real `docker-registry`, keys made in a real `moto` server whose
//! `Sign` makes real signatures (ECDSA over the payload, verifiable with the key `GetPublicKey`
//! returns), so the image is signed as `cosign sign --key awskms:///…` signs it. The child
//! process finds moto through `AWS_ENDPOINT_URL`, as an operator would point the gate at an
//! endpoint.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_kms::types::{KeySpec, KeyUsageType, MessageType, SigningAlgorithmSpec};
use axum::http::StatusCode;
use serde_json::{json, Value};
use shipgate::reference::Digest;

use crate::common::aws::runtime;
use crate::common::cosign::{
    attach_legacy_signature, b64, simple_signing_payload, LegacyLayer, SigningKey,
};
use crate::common::ecr_stub;
use crate::common::moto::{hook_for, Moto, ACCOUNT, REGION};
use crate::common::oci::push_image;
use crate::common::registry::{free_port, TestRegistry};

async fn kms_client(endpoint: &str) -> aws_sdk_kms::Client {
    let loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(REGION));
    aws_sdk_kms::Client::new(&(hook_for(endpoint))(loader).load().await)
}

/// A key in moto (and an alias to it when given); returns its key id.
async fn create_key(
    kms: &aws_sdk_kms::Client,
    spec: KeySpec,
    usage: KeyUsageType,
    alias: Option<&str>,
) -> String {
    let out = kms
        .create_key()
        .key_spec(spec)
        .key_usage(usage)
        .send()
        .await
        .unwrap();
    let id = out.key_metadata().unwrap().key_id().to_string();
    if let Some(alias) = alias {
        kms.create_alias()
            .alias_name(alias)
            .target_key_id(&id)
            .send()
            .await
            .unwrap();
    }
    id
}

/// What `cosign sign --key awskms:///…` attaches: the simple-signing payload signed by KMS.
async fn kms_signed_layer(
    kms: &aws_sdk_kms::Client,
    key_id: &str,
    reference: &str,
    digest: &Digest,
) -> LegacyLayer {
    let payload = simple_signing_payload(reference, digest);
    let out = kms
        .sign()
        .key_id(key_id)
        .message(aws_sdk_kms::primitives::Blob::new(payload.clone()))
        .message_type(MessageType::Raw)
        .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
        .send()
        .await
        .unwrap();
    let mut layer = LegacyLayer::sign_payload(&SigningKey::generate_p256(), payload);
    layer.signature = out.signature().unwrap().as_ref().to_vec();
    layer
}

fn policy_text(name: &str, host: &str, keys: &[&str]) -> String {
    let mut text = format!("name: {name}\nimages: [\"{host}/**\"]\nsignatures:\n  authorities:\n");
    for (i, key) in keys.iter().enumerate() {
        text.push_str(&format!(
            "    - name: a{i}\n      key: {key}\n      transparencyLog: optional\n"
        ));
    }
    text
}

fn write_policy(dir: &Path, file: &str, text: &str) -> PathBuf {
    let path = dir.join(file);
    std::fs::write(&path, text).unwrap();
    path
}

/// `shipgate ARGS` with AWS pointed at `endpoint` and nothing else of the environment.
fn shipgate(endpoint: &str, args: &[&str]) -> Output {
    crate::common::aws::shipgate_with_aws(endpoint, args)
}

fn check(endpoint: &str, reg: &TestRegistry, image: &str, policy: &Path) -> Output {
    let policy = policy.to_str().unwrap();
    let args = [
        "check",
        image,
        "--output",
        "json",
        "--insecure-registry",
        &reg.host,
        "--policy",
        policy,
    ];
    shipgate(endpoint, &args)
}

fn text(out: &Output) -> String {
    format!(
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Lines of stderr that are not the SDK's JSON log records (it warns that the test's
/// `/nonexistent` config files are missing).
fn reason_lines(stderr: &str) -> usize {
    stderr.lines().filter(|l| !l.starts_with('{')).count()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn an_image_signed_with_a_kms_key_passes_under_every_form_of_its_name_and_fails_under_another() {
    let rt = runtime();
    let moto = Moto::start();
    let reg = TestRegistry::start();
    let kms = rt.block_on(kms_client(&moto.endpoint));
    let key_id = rt.block_on(create_key(
        &kms,
        KeySpec::EccNistP256,
        KeyUsageType::SignVerify,
        Some("alias/release"),
    ));
    rt.block_on(create_key(
        &kms,
        KeySpec::EccNistP256,
        KeyUsageType::SignVerify,
        Some("alias/other"),
    ));
    let img = push_image(&reg.url(), "team/app", "v1");
    let reference = format!("{}/team/app", reg.host);
    let layer = rt.block_on(kms_signed_layer(&kms, &key_id, &reference, &img.digest));
    attach_legacy_signature(&reg.url(), "team/app", &img.digest, vec![layer]);
    let image = format!("{reference}:v1");
    let dir = tempfile::tempdir().unwrap();

    let arn = |resource: &str| format!("awskms:///arn:aws:kms:{REGION}:{ACCOUNT}:{resource}");
    for uri in [
        "awskms:///alias/release".to_string(),
        arn(&format!("key/{key_id}")),
        arn("alias/release"),
        format!("awskms:///{key_id}"),
    ] {
        let policy = write_policy(
            dir.path(),
            "p.yaml",
            &policy_text("kms", &reg.host, &[&uri]),
        );
        let out = check(&moto.endpoint, &reg, &image, &policy);
        assert_eq!(out.status.code(), Some(0), "{uri}: {}", text(&out));
        let d: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(d["decision"], "pass", "{uri}");
        // The decision says which key verified: its fingerprint and where it came from.
        let signer = d["checks"][0]["evidence"]["verified"][0]["signer"]
            .as_str()
            .unwrap_or_else(|| panic!("{d:#}"));
        assert!(
            signer.starts_with("sha256:") && signer.ends_with(&format!(" ({uri})")),
            "{signer}"
        );
        let out = shipgate(
            &moto.endpoint,
            &["policy", "validate", policy.to_str().unwrap()],
        );
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        assert!(String::from_utf8_lossy(&out.stdout).contains(": ok (policy `kms`, sha256:"));
    }

    // Signed by `release`, judged against `other`: a fail of the signature check, not an error.
    let policy = write_policy(
        dir.path(),
        "p.yaml",
        &policy_text("kms", &reg.host, &["awskms:///alias/other"]),
    );
    let out = check(&moto.endpoint, &reg, &image, &policy);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let d: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(d["checks"][0]["check"], "signature");
    assert_eq!(d["checks"][0]["result"], "fail");
    let reason = d["checks"][0]["reason"].as_str().unwrap();
    assert!(reason.contains("(awskms:///alias/other)"), "{reason}");
}

#[test]
fn a_key_that_cannot_verify_image_signatures_keeps_the_policy_from_loading() {
    let rt = runtime();
    let moto = Moto::start();
    let reg = TestRegistry::start();
    let kms = rt.block_on(kms_client(&moto.endpoint));
    let cases = [
        (
            KeySpec::SymmetricDefault,
            KeyUsageType::EncryptDecrypt,
            "alias/sym",
            "ENCRYPT_DECRYPT (key spec SYMMETRIC_DEFAULT)",
        ),
        (
            KeySpec::Rsa2048,
            KeyUsageType::EncryptDecrypt,
            "alias/rsa-enc",
            "ENCRYPT_DECRYPT (key spec RSA_2048)",
        ),
        (
            KeySpec::EccSecgP256K1,
            KeyUsageType::SignVerify,
            "alias/k1",
            "key spec ECC_SECG_P256K1 cannot be verified",
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (spec, usage, alias, why) in cases {
        rt.block_on(create_key(&kms, spec, usage, Some(alias)));
        let uri = format!("awskms:///{alias}");
        let policy = write_policy(
            dir.path(),
            "p.yaml",
            &policy_text("kms", &reg.host, &[&uri]),
        );
        let out = check(
            &moto.endpoint,
            &reg,
            &format!("{}/team/app:v1", reg.host),
            &policy,
        );
        assert_eq!(out.status.code(), Some(2), "{uri}: {}", text(&out));
        assert!(out.stdout.is_empty(), "{}", text(&out));
        let err = stderr(&out);
        assert!(
            err.contains(&format!("signatures.authorities[0].key: {uri}: ")) && err.contains(why),
            "{err}"
        );
        assert_eq!(reason_lines(&err), 1, "{err}");
        let out = shipgate(
            &moto.endpoint,
            &["policy", "validate", policy.to_str().unwrap()],
        );
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        assert!(stderr(&out).contains(why), "{}", text(&out));
    }
}

#[test]
fn a_missing_alias_or_an_unreachable_kms_stops_the_load_in_bounded_time() {
    let moto = Moto::start();
    let reg = TestRegistry::start();
    let dir = tempfile::tempdir().unwrap();
    let policy = write_policy(
        dir.path(),
        "p.yaml",
        &policy_text("kms", &reg.host, &["awskms:///alias/nope"]),
    );
    let out = shipgate(
        &moto.endpoint,
        &["policy", "validate", policy.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = stderr(&out);
    assert!(err.contains("awskms:///alias/nope: AWS KMS GetPublicKey (us-east-1) failed: HTTP 400 NotFoundException"), "{err}");
    assert!(err.contains("check the alias or key id"), "{err}");
    assert!(err.contains("at line 6"), "{err}");

    // Nothing listens on this port: connection refused, retried within the 5 s bound.
    let nowhere = format!("http://127.0.0.1:{}", free_port());
    let started = Instant::now();
    let image = format!("{}/team/app:v1", reg.host);
    let out = check(&nowhere, &reg, &image, &policy);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = stderr(&out);
    assert!(
        err.contains("awskms:///alias/nope: AWS KMS GetPublicKey"),
        "{err}"
    );
    assert!(err.contains("kms:GetPublicKey"), "{err}");
    assert_eq!(reason_lines(&err), 1, "{err}");
}

#[test]
fn an_endpoint_in_the_key_uri_is_refused_before_any_call() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write_policy(
        dir.path(),
        "p.yaml",
        &policy_text(
            "kms",
            "127.0.0.1:5000",
            &["awskms://127.0.0.1:4566/alias/release"],
        ),
    );
    // No KMS anywhere: the refusal comes from parsing alone.
    let nowhere = format!("http://127.0.0.1:{}", free_port());
    let out = shipgate(&nowhere, &["policy", "validate", policy.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = stderr(&out);
    assert!(err.contains("signatures.authorities[0].key: `awskms://127.0.0.1:4566/alias/release` names an endpoint"), "{err}");
    assert!(err.contains("AWS_ENDPOINT_URL_KMS"), "{err}");
    assert!(err.contains("line 6"), "{err}");
}

/// Several authorities and policies naming one key cost one `GetPublicKey`. Moto does not
/// count requests, so a loopback stub of the KMS JSON protocol answers (with a key of the
/// test's own, which signed the image) and records each call.
#[test]
fn one_key_named_many_times_is_fetched_once() {
    let rt = runtime();
    let reg = TestRegistry::start();
    let key = SigningKey::generate_p256();
    let img = push_image(&reg.url(), "team/app", "v1");
    let reference = format!("{}/team/app", reg.host);
    attach_legacy_signature(
        &reg.url(),
        "team/app",
        &img.digest,
        vec![LegacyLayer::signed(&key, &reference, &img.digest)],
    );
    let calls: Arc<Mutex<Vec<(String, Value)>>> = Arc::default();
    let seen = calls.clone();
    let spki = b64(key.public_spki_der());
    let endpoint = rt.block_on(ecr_stub::serve(move |operation, request| {
        seen.lock().unwrap().push((operation.to_string(), request));
        let reply = json!({
            "KeyId": format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"),
            "KeySpec": "ECC_NIST_P256",
            "KeyUsage": "SIGN_VERIFY",
            "PublicKey": spki,
            "SigningAlgorithms": ["ECDSA_SHA_256"],
        });
        (StatusCode::OK, reply)
    }));
    let dir = tempfile::tempdir().unwrap();
    let same = "awskms:///alias/release";
    write_policy(
        dir.path(),
        "a.yaml",
        &policy_text("a", &reg.host, &[same, same]),
    );
    write_policy(dir.path(), "b.yaml", &policy_text("b", &reg.host, &[same]));
    let out = check(&endpoint, &reg, &format!("{reference}:v1"), dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let calls = calls.lock().unwrap();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0].0, "TrentService.GetPublicKey");
    assert_eq!(calls[0].1, json!({"KeyId": "alias/release"}));
}

/// `shipgate serve` fetches KMS keys at start and again at each reload: an alias moved to
/// another key (`UpdateAlias`) is followed after SIGHUP, and a reload while KMS refuses the key
/// keeps the previous set serving, saying why in `/readyz`.
#[test]
fn serve_fetches_kms_keys_again_on_reload() {
    use crate::common::oci::agent;
    use crate::common::serve::ServeProcess;

    let rt = runtime();
    let moto = Moto::start();
    let reg = TestRegistry::start();
    let kms = rt.block_on(kms_client(&moto.endpoint));
    let first = rt.block_on(create_key(
        &kms,
        KeySpec::EccNistP256,
        KeyUsageType::SignVerify,
        Some("alias/release"),
    ));
    let second = rt.block_on(create_key(
        &kms,
        KeySpec::EccNistP256,
        KeyUsageType::SignVerify,
        None,
    ));
    let img = push_image(&reg.url(), "team/app", "v1");
    let reference = format!("{}/team/app", reg.host);
    let layer = rt.block_on(kms_signed_layer(&kms, &second, &reference, &img.digest));
    attach_legacy_signature(&reg.url(), "team/app", &img.digest, vec![layer]);
    let image = format!("{reference}@{}", img.digest);

    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    write_policy(
        dir.path(),
        "p.yaml",
        &policy_text("kms", &reg.host, &["awskms:///alias/release"]),
    );
    let config = write_policy(
        dir.path(),
        "serve.yaml",
        &format!(
            "listen: 127.0.0.1:{port}\npolicies: [./p.yaml]\ninsecureRegistries: [\"{}\"]\nreload:\n  watchSeconds: 0\n",
            reg.host
        ),
    );
    let env = crate::common::aws::aws_env(&moto.endpoint);
    let serve = ServeProcess::start_with_env(["--config", config.to_str().unwrap()], env, port);
    let http = agent();
    let decide = || -> Value {
        let mut resp = http
            .post(format!("{}/v1/decisions", serve.base))
            .header("content-type", "application/json")
            .send(json!({ "image": image }).to_string())
            .unwrap();
        serde_json::from_str(&resp.body_mut().read_to_string().unwrap()).unwrap()
    };
    // The alias names the first key; the image is signed by the second.
    assert_eq!(decide()["decision"], "fail");

    rt.block_on(
        kms.update_alias()
            .alias_name("alias/release")
            .target_key_id(&second)
            .send(),
    )
    .unwrap();
    serve.hup();
    serve.wait_reload("generation 2", |r| r["generation"] == 2);
    let d = decide();
    assert_eq!(d["decision"], "pass", "{d}");
    assert_eq!(d["cached"], false, "{d}");

    // The alias is gone (moto answers GetPublicKey for disabled keys, so a deleted alias
    // stands for a key KMS refuses): the reload fails and the previous keys keep serving.
    rt.block_on(kms.delete_alias().alias_name("alias/release").send())
        .unwrap();
    serve.hup();
    let r = serve.wait_reload("a failed reload", |r| r["failures"] == 1);
    let reason = r["reload"]["lastError"]["reason"]
        .as_str()
        .unwrap_or_default();
    assert!(reason.contains("awskms:///alias/release"), "{r}");
    assert_eq!(decide()["decision"], "pass");
    assert_ne!(first, second);
}
