//! Issue 10, "evidence that was cut short is `error`, not `fail`": bounds on signature
//! collection and referrer listings name themselves and never turn into a verdict, and a
//! decision stays small whatever the registry sends. Against the real `docker-registry`, with
//! a loopback stub where the registry must lie (referrers API pages).

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::net::TcpListener;

use shipgate::decision::{CheckResult, Decision};
use shipgate::evidence::signatures::SIMPLESIGNING_MEDIA_TYPE;
use shipgate::reference::{Digest, Repository};
use shipgate::registry::{Registry as _, RegistryClient, RegistryConfig};

use crate::common::cosign::{
    attach_legacy_signature, put_legacy_signature_manifest, referrers_tag, LegacyLayer, SigningKey,
};
use crate::common::oci::{self, push_blob, push_image, push_manifest, Descriptor, Index};
use crate::common::registry::TestRegistry;
use crate::gate_harness::*;

/// What a decision may take serialized (the bound `docs/evidence-bounds.md` promises).
const MAX_DECISION_BYTES: usize = 64 * 1024;

fn key_policy(host: &str, key: &SigningKey) -> String {
    policy_for(
        host,
        &format!(
            "  authorities:\n{}",
            key_authority("release", &key.public_pem(), "optional")
        ),
    )
}

fn decision_bytes(d: &Decision) -> usize {
    serde_json::to_vec(d).expect("decision serializes").len()
}

#[test]
fn junk_signature_layers_before_a_valid_one_make_an_error_that_names_the_bound() {
    let reg = TestRegistry::start();
    let img = push_image(&reg.url(), "team/app", "v1");
    let key = SigningKey::generate_p256();
    let junk_key = SigningKey::generate_p256();
    let reference = format!("{}/team/app", reg.host);
    // 32 signatures by a key no policy trusts, then the valid one: only the first 32 are read.
    let mut layers: Vec<LegacyLayer> = (0..32)
        .map(|_| LegacyLayer::signed(&junk_key, &reference, &img.digest))
        .collect();
    layers.push(LegacyLayer::signed(&key, &reference, &img.digest));
    attach_legacy_signature(&reg.url(), "team/app", &img.digest, layers);

    let d = decide(
        &gate(&reg.host, &key_policy(&reg.host, &key), None),
        &format!("{reference}:v1"),
    );
    assert!(!d.passed(), "{}", d.to_text());
    let (result, reason) = signature_check(&d);
    assert_eq!(result, CheckResult::Error, "{}", d.to_text());
    assert!(
        reason.contains(
            "only the first 32 of 33 signature layers were checked (limit max_signatures)"
        ),
        "{reason}"
    );
    assert!(reason.starts_with("could not decide"), "{reason}");
}

#[test]
fn a_policy_satisfied_by_what_was_read_still_passes_past_the_bound() {
    let reg = TestRegistry::start();
    let img = push_image(&reg.url(), "team/app", "v1");
    let key = SigningKey::generate_p256();
    let junk_key = SigningKey::generate_p256();
    let reference = format!("{}/team/app", reg.host);
    let mut layers = vec![LegacyLayer::signed(&key, &reference, &img.digest)];
    layers.extend((0..40).map(|_| LegacyLayer::signed(&junk_key, &reference, &img.digest)));
    attach_legacy_signature(&reg.url(), "team/app", &img.digest, layers);
    let d = decide(
        &gate(&reg.host, &key_policy(&reg.host, &key), None),
        &format!("{reference}:v1"),
    );
    assert_pass(&d);
    let c = d.checks.iter().find(|c| c.check == "signature").unwrap();
    assert!(
        c.evidence["truncated"]
            .to_string()
            .contains("limit max_signatures"),
        "{}",
        c.evidence
    );
}

#[test]
fn a_huge_sig_manifest_gives_a_small_decision_and_no_pass() {
    let reg = TestRegistry::start();
    let img = push_image(&reg.url(), "team/app", "v1");
    let key = SigningKey::generate_p256();
    let reference = format!("{}/team/app", reg.host);
    let payload = push_blob(&reg.url(), "team/app", SIMPLESIGNING_MEDIA_TYPE, b"{}");
    // ~3 MiB of layers: long made-up media types, and signature layers whose annotations are
    // junk of 40 KiB each (certificate, chain, bundle), all quoted nowhere in full.
    let mut layers = Vec::new();
    for i in 0..2000 {
        let mut d = payload.clone();
        d.media_type = format!("application/vnd.junk.{i}.{}", "x".repeat(1000));
        layers.push(d);
    }
    for _ in 0..40 {
        let mut d = payload.clone();
        let junk = "A".repeat(10 * 1024);
        d.annotations = Some(BTreeMap::from([
            (
                "dev.cosignproject.cosign/signature".to_string(),
                junk.clone(),
            ),
            ("dev.sigstore.cosign/certificate".to_string(), junk.clone()),
            ("dev.sigstore.cosign/chain".to_string(), junk.clone()),
            ("dev.sigstore.cosign/bundle".to_string(), junk),
        ]));
        layers.push(d);
    }
    put_legacy_signature_manifest(&reg.url(), "team/app", &img.digest, layers);
    let sig = oci::get_manifest(&reg.url(), "team/app", &img.digest.cosign_tag(".sig"))
        .expect("the .sig manifest");
    assert!(sig.bytes.len() > 2 * 1024 * 1024, "{}", sig.bytes.len());

    let d = decide(
        &gate(&reg.host, &key_policy(&reg.host, &key), None),
        &format!("{reference}:v1"),
    );
    assert!(!d.passed(), "{}", d.to_text());
    // Reported in the notes (2.3 MB before issue 10).
    eprintln!("decision of {} bytes", decision_bytes(&d));
    assert!(
        decision_bytes(&d) <= MAX_DECISION_BYTES,
        "decision of {} bytes",
        decision_bytes(&d)
    );
    let (result, reason) = signature_check(&d);
    // 40 signature layers, 32 read: cut short, so not a verdict.
    assert_eq!(result, CheckResult::Error, "{reason}");
    assert!(reason.contains("limit max_signatures"), "{reason}");
}

/// A `sha256-<hex>` referrers index (the tag fallback `docker-registry` needs) of `n` bundle
/// referrers. The registry wants every listed manifest to exist, so each names `existing` (a
/// manifest without the subject: a junk referrer).
fn push_referrer_index(url: &str, repo: &str, subject: &Digest, existing: &Descriptor, n: usize) {
    let manifests: Vec<Descriptor> = (0..n)
        .map(|_| {
            let mut d = existing.clone();
            d.artifact_type = Some("application/vnd.dev.sigstore.bundle.v0.3+json".into());
            d.annotations = Some(BTreeMap::from([(
                "org.example.padding".to_string(),
                "p".repeat(1000),
            )]));
            d
        })
        .collect();
    push_manifest(
        url,
        repo,
        &referrers_tag(subject),
        oci::OCI_INDEX,
        &Index::oci(manifests).to_bytes(),
    );
}

#[test]
fn a_huge_referrer_index_is_cut_at_the_bound_and_is_an_error() {
    let reg = TestRegistry::start();
    let img = push_image(&reg.url(), "team/app", "v1");
    let key = SigningKey::generate_p256();
    push_referrer_index(&reg.url(), "team/app", &img.digest, &img.descriptor, 1200);
    let d = decide(
        &gate(&reg.host, &key_policy(&reg.host, &key), None),
        &format!("{}/team/app:v1", reg.host),
    );
    assert!(!d.passed(), "{}", d.to_text());
    assert!(
        decision_bytes(&d) <= MAX_DECISION_BYTES,
        "decision of {} bytes",
        decision_bytes(&d)
    );
    let (result, reason) = signature_check(&d);
    assert_eq!(result, CheckResult::Error, "{reason}");
    assert!(
        reason.contains("more than 1000 referrers listed; only the first 1000 were considered (limit max_referrers)"),
        "{reason}"
    );
}

/// A registry that answers every request for the referrers API with `page` (HTTP 200, an OCI
/// index) and a `Link` to the next page, forever. Returns `host:port`.
fn endless_referrers_stub(page: Vec<u8>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let host = listener.local_addr().expect("addr").to_string();
    std::thread::spawn(move || {
        for (n, conn) in listener.incoming().enumerate() {
            let Ok(mut conn) = conn else { continue };
            let mut buf = [0u8; 8192];
            let _ = conn.read(&mut buf);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.oci.image.index.v1+json\r\nContent-Length: {}\r\nLink: </v2/team/app/referrers/sha256:{}?page={n}>; rel=\"next\"\r\nConnection: close\r\n\r\n",
                page.len(),
                "0".repeat(64),
            );
            let _ = conn.write_all(head.as_bytes());
            let _ = conn.write_all(&page);
        }
    });
    host
}

fn index_page(entries: usize, padding: usize) -> Vec<u8> {
    let manifests: Vec<serde_json::Value> = (0..entries)
        .map(|i| {
            serde_json::json!({
                "mediaType": oci::OCI_MANIFEST,
                "size": 1,
                "digest": Digest::of(format!("r{i}").as_bytes()).as_str(),
                "artifactType": "application/vnd.example.junk",
                "annotations": {"pad": "p".repeat(padding)},
            })
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": manifests,
    }))
    .expect("json")
}

#[test]
fn the_referrers_api_listing_is_bounded_in_bytes_descriptors_and_pages() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let subject: Digest = format!("sha256:{}", "0".repeat(64))
        .parse()
        .expect("digest");
    let list = |host: &str| {
        let client = RegistryClient::new(RegistryConfig {
            insecure_hosts: vec![host.to_string()],
            ..RegistryConfig::default()
        })
        .expect("client");
        let repo = Repository {
            registry: host.to_string(),
            name: "team/app".into(),
        };
        rt.block_on(client.referrers(&repo, &subject))
    };

    // Endless pages of 300: cut at one more than 1000 descriptors, the rest not read.
    let host = endless_referrers_stub(index_page(300, 10));
    let got = list(&host).expect("a listing").expect("the referrers API");
    assert_eq!(got.len(), 1001);

    // Endless pages of 10: the page bound is hit first, and that is an error, not a short list.
    let host = endless_referrers_stub(index_page(10, 10));
    let e = list(&host).expect_err("cut short").to_string();
    assert!(e.contains("limit max_referrer_pages"), "{e}");

    // One page over 1 MiB (under the 4 MiB manifest bound) is refused.
    let host = endless_referrers_stub(index_page(200, 8 * 1024));
    let e = list(&host).expect_err("page too large").to_string();
    assert!(e.contains("1048576") || e.contains("1 MiB"), "{e}");
}
