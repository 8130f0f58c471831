//! Real signatures nobody on this project made, through the whole gate:
//! - the connaisseur registry dump (legacy cosign `.sig` signatures: keyless with a Rekor SET,
//!   and key-signed by alice/bob/charlie), replayed by a loopback server, every
//!   `legacy-image-signature` case of `tests/data/vectors/cases.json` with its expected result;
//! - sigstore-rs's real cosign v3 bundle, attached through the referrers tag fallback of the
//!   real `docker-registry`.

use serde_json::Value;

use crate::common::cosign::attach_bundle_via_tag_fallback;
use crate::common::registry::TestRegistry;
use crate::common::replay::{vectors_dir, ReplayRegistry};
use crate::gate_harness::*;

fn cases(kind: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(vectors_dir().join("cases.json")).expect("cases.json");
    let all: Vec<Value> = serde_json::from_str(&text).expect("cases.json is JSON");
    all.into_iter().filter(|c| c["kind"] == kind).collect()
}

fn authorities_for(case: &Value) -> (String, usize) {
    if let Some(keys) = case["key"].as_str() {
        let names: Vec<&str> = keys.split('|').collect();
        let mut block = String::new();
        for name in &names {
            let file = if name.contains('/') {
                vectors_dir().join(name)
            } else {
                vectors_dir().join(format!("connaisseur/test-testdata-cosign/{name}.key"))
            };
            let pem = std::fs::read_to_string(&file)
                .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            let label = file.file_stem().unwrap().to_string_lossy().to_string();
            block.push_str(&key_authority(&label, &pem, "optional"));
        }
        (block, names.len())
    } else {
        let identity = case["identity"].as_str().expect("identity");
        let issuer = case["issuer"].as_str().expect("issuer");
        (keyless_authority("keyless", issuer, identity), 1)
    }
}

#[test]
fn connaisseur_legacy_signatures_give_their_expected_results() {
    let replay = ReplayRegistry::connaisseur();
    let cases = cases("legacy-image-signature");
    assert_eq!(cases.len(), 6, "the vectors changed; look at cases.json");
    for case in cases {
        let (block, n) = authorities_for(&case);
        // k-of-n with every key named: all must have signed.
        let policy = policy_for(
            &replay.host,
            &format!("  threshold: {n}\n  authorities:\n{block}"),
        );
        let gate = gate(&replay.host, &policy, None);
        let image = format!(
            "{}/{}@{}",
            replay.host,
            replay.repo,
            case["digest"].as_str().unwrap()
        );
        let d = decide(&gate, &image);
        let expected_pass = case["expected"] == "PASS";
        assert_eq!(
            d.passed(),
            expected_pass,
            "case {}:\n{}",
            case["id"],
            d.to_text()
        );
    }
}

#[test]
fn connaisseur_threshold_semantics() {
    // Upstream 01_cosign.yaml: trust roots {alice, bob} with threshold 2 pass on the
    // alice+bob+charlie image; alice alone with threshold 2 of {alice, bob} fails.
    let replay = ReplayRegistry::connaisseur();
    let key = |n: &str| {
        std::fs::read_to_string(
            vectors_dir().join(format!("connaisseur/test-testdata-cosign/{n}.key")),
        )
        .unwrap()
    };
    let block = format!(
        "  threshold: 2\n  authorities:\n{}{}",
        key_authority("alice", &key("alice"), "optional"),
        key_authority("bob", &key("bob"), "optional")
    );
    let gate = gate(&replay.host, &policy_for(&replay.host, &block), None);
    let multi = "sha256:bfec161fecb0a887df7cb85e4da327c65986ccda7060cf3cd92171c6c90d7533";
    let alice_only = "sha256:071bf7a986f1ca9cb2a1f0bc8392822a7777f90d58f2d2c6f271913e08de7c81";
    assert_pass(&decide(
        &gate,
        &format!("{}/{}@{multi}", replay.host, replay.repo),
    ));
    assert_fail(
        &decide(
            &gate,
            &format!("{}/{}@{alice_only}", replay.host, replay.repo),
        ),
        &["1 of the 2 required", "`bob`"],
    );
}

#[test]
fn connaisseur_keyless_signature_requires_the_log_and_the_right_identity() {
    let replay = ReplayRegistry::connaisseur();
    let digest = "sha256:31dc72a13a0c34b40eb95419d2b2fd67320c856baf3b72da518023ee8d370aee";
    let image = format!("{}/{}@{digest}", replay.host, replay.repo);
    let policy = |issuer: &str, subject: &str| {
        policy_for(
            &replay.host,
            &format!(
                "  authorities:\n{}",
                keyless_authority("philipp", issuer, subject)
            ),
        )
    };
    let d = decide(
        &gate(
            &replay.host,
            &policy(
                "https://github.com/login/oauth",
                "philipp.belitz@securesystems.de",
            ),
            None,
        ),
        &image,
    );
    assert_pass(&d);
    let (_, reason) = signature_check(&d);
    assert!(
        reason.contains("philipp.belitz@securesystems.de"),
        "{reason}"
    );
    let d = decide(
        &gate(
            &replay.host,
            &policy("https://github.com/login/oauth", "someone@securesystems.de"),
            None,
        ),
        &image,
    );
    assert_fail(
        &d,
        &[
            "philipp.belitz@securesystems.de",
            "someone@securesystems.de",
        ],
    );
}

const KUBEWARDEN: &str = "sha256:c811d58de79c92f03214e63aa339484e488d694ae8a6283b5f3f17a9faf50172";
const KUBEWARDEN_ID: &str = "https://github.com/kubewarden/kubewarden-controller/.github/workflows/release.yml@refs/tags/v1.34.0";
const GITHUB: &str = "https://token.actions.githubusercontent.com";

#[test]
fn real_cosign_v3_bundle_verifies_for_its_digest_and_identity_only() {
    let reg = TestRegistry::start();
    // The registry has no referrers API; the bundle goes in through the `sha256-<hex>` tag
    // fallback. The image manifest itself is not in the dump, so we push a stand-in under the
    // real digest's fallback tag only: the gate needs no image manifest to check a digest.
    let bundle =
        std::fs::read_to_string(vectors_dir().join("sigstore-rs/bundle_v03.json")).unwrap();
    let standin = crate::common::oci::push_image(&reg.url(), "kubewarden/controller", "standin");
    attach_to_digest(
        &reg.url(),
        "kubewarden/controller",
        KUBEWARDEN,
        &standin,
        &bundle,
    );
    let policy = |subject: &str| {
        policy_for(
            &reg.host,
            &format!(
                "  authorities:\n{}",
                keyless_authority("kubewarden", GITHUB, subject)
            ),
        )
    };
    let image = format!("{}/kubewarden/controller@{KUBEWARDEN}", reg.host);
    assert_pass(&decide(
        &gate(&reg.host, &policy(KUBEWARDEN_ID), None),
        &image,
    ));
    let other_id = KUBEWARDEN_ID.replace("v1.34.0", "v1.35.0");
    assert_fail(
        &decide(&gate(&reg.host, &policy(&other_id), None), &image),
        &["`kubewarden`"],
    );

    // The same bundle attached to another digest: its statement names c811…, not this image.
    let other = crate::common::oci::push_image(&reg.url(), "kubewarden/controller", "other");
    attach_bundle_via_tag_fallback(&reg.url(), "kubewarden/controller", &other.digest, &bundle);
    let d = decide(
        &gate(&reg.host, &policy(KUBEWARDEN_ID), None),
        &format!("{}/kubewarden/controller:other", reg.host),
    );
    assert_fail(&d, &["`kubewarden`"]);
}

/// Attaches `bundle` as a referrer of `digest` whose manifest we do not have: the referrer's
/// `subject` names `digest` (with the stand-in's media type and size), listed in the fallback tag.
fn attach_to_digest(
    url: &str,
    repo: &str,
    digest: &str,
    standin: &crate::common::oci::ImageRefs,
    bundle: &str,
) {
    use crate::common::cosign::BUNDLE_V03_MEDIA_TYPE;
    use crate::common::oci::{
        push_blob, push_manifest, Descriptor, Index, OCI_EMPTY, OCI_INDEX, OCI_MANIFEST,
    };
    let layer = push_blob(url, repo, BUNDLE_V03_MEDIA_TYPE, bundle.as_bytes());
    let config = push_blob(url, repo, OCI_EMPTY, b"{}");
    let mut subject = standin.descriptor.clone();
    subject.digest = digest.parse().unwrap();
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": BUNDLE_V03_MEDIA_TYPE,
        "config": config,
        "layers": [layer],
        "subject": subject,
    });
    let bytes = serde_json::to_vec(&manifest).unwrap();
    let referrer = push_manifest(
        url,
        repo,
        &Descriptor::of(OCI_MANIFEST, &bytes).digest.to_string(),
        OCI_MANIFEST,
        &bytes,
    );
    let mut entry = Descriptor::of(OCI_MANIFEST, &bytes);
    entry.artifact_type = Some(BUNDLE_V03_MEDIA_TYPE.to_string());
    let index = Index::oci(vec![entry]).to_bytes();
    let tag = format!("sha256-{}", &digest[7..]);
    let _ = referrer;
    push_manifest(url, repo, &tag, OCI_INDEX, &index);
}
