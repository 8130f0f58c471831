//! Provenance attestations end to end: SLSA statements signed in the test (with keys, and keyless
//! through a private Sigstore), attached to images in a real registry as Sigstore bundle
//! referrers (tag fallback) and as cosign legacy `.att` manifests, decided by the real gate.

use shipgate::decision::{CheckResult, Decision};

use crate::common::attest::*;
use crate::common::cosign::{
    attach_bundle_via_tag_fallback, dsse_bundle_v03, SigningKey, VerificationMaterial,
};
use crate::common::oci::push_image;
use crate::common::private_sigstore::PrivateSigstore;
use crate::common::registry::TestRegistry;
use crate::gate_harness::*;

const ISSUER: &str = "https://token.actions.githubusercontent.com";
const RELEASE: &str = "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main";

fn provenance_check(d: &Decision) -> (CheckResult, String) {
    let c = d
        .checks
        .iter()
        .find(|c| c.check == "provenance")
        .unwrap_or_else(|| panic!("no provenance check in {}", d.to_text()));
    (c.result, c.reason.clone())
}

fn assert_prov_fail(d: &Decision, needles: &[&str]) {
    assert!(!d.passed(), "expected fail:\n{}", d.to_text());
    let (result, reason) = provenance_check(d);
    assert_eq!(result, CheckResult::Fail, "{}", d.to_text());
    for n in needles {
        assert!(reason.contains(n), "reason lacks {n:?}:\n{}", d.to_text());
    }
}

/// A policy with a `provenance:` section: `authorities` block plus extra lines (2-space indent).
fn policy(host: &str, authorities: &str, extra: &str) -> String {
    format!(
        "name: prov\nimages: [\"{host}/**\"]\nprovenance:\n  authorities:\n{authorities}{extra}"
    )
}

const GITHUB_FIELDS: &str = "  builderId: https://github.com/actions/runner/github-hosted\n  buildType: https://actions.github.io/buildtypes/workflow/v1\n  sourceRepository: https://github.com/acme/app\n  sourceRef: refs/heads/main\n  workflowPath: .github/workflows/release.yml\n";

#[test]
fn bundle_referrer_provenance_passes_and_each_field_is_enforced() {
    let reg = TestRegistry::start();
    let img = push_image(&reg.url(), "team/app", "v1");
    let reference = format!("{}/team/app", reg.host);
    let key = SigningKey::generate_p256();
    let statement = slsa_v1_statement(&img.digest, &Build::default());
    let bundle = dsse_bundle_v03(
        &key,
        VerificationMaterial::PublicKey(&key),
        &statement,
        None,
    );
    attach_bundle_via_tag_fallback(&reg.url(), "team/app", &img.digest, &bundle);
    let auth = key_authority("builder", &key.public_pem(), "optional");
    let image = format!("{reference}:v1");

    let d = decide(
        &gate(&reg.host, &policy(&reg.host, &auth, GITHUB_FIELDS), None),
        &image,
    );
    assert!(d.passed(), "{}", d.to_text());
    let (result, reason) = provenance_check(&d);
    assert_eq!(result, CheckResult::Pass);
    assert!(reason.contains("`builder`"), "{reason}");
    assert!(
        reason.contains("https://github.com/acme/app@refs/heads/main"),
        "{reason}"
    );
    let evidence = serde_json::to_string(&d).unwrap();
    assert!(evidence.contains(SLSA_V1), "{evidence}");
    assert!(evidence.contains("tag fallback"), "{evidence}");

    let cases = [
        (
            "builderId: https://github.com/actions/runner/github-hosted",
            "builderId: https://github.com/x/runner@v1",
            "provenance builder `https://github.com/actions/runner/github-hosted` is not `https://github.com/x/runner@v1`",
        ),
        (
            "sourceRepository: https://github.com/acme/app",
            "sourceRepository: https://github.com/acme/other",
            "provenance source repository `https://github.com/acme/app` is not `https://github.com/acme/other`",
        ),
        (
            "sourceRef: refs/heads/main",
            "sourceRefRegExp: ^refs/tags/v",
            "provenance source ref `refs/heads/main` is not `/^refs/tags/v/`",
        ),
        (
            "workflowPath: .github/workflows/release.yml",
            "workflowPath: .github/workflows/ci.yml",
            "provenance workflow `.github/workflows/release.yml` is not `.github/workflows/ci.yml`",
        ),
        (
            "buildType: https://actions.github.io/buildtypes/workflow/v1",
            "buildType: https://example.com/other",
            "provenance build type",
        ),
    ];
    for (from, to, why) in cases {
        let fields = GITHUB_FIELDS.replace(from, to);
        let d = decide(
            &gate(&reg.host, &policy(&reg.host, &auth, &fields), None),
            &image,
        );
        assert_prov_fail(&d, &[why]);
    }

    // A v0.2 policy finds no v0.2 provenance; a required SBOM that is missing fails too.
    let d = decide(
        &gate(
            &reg.host,
            &policy(&reg.host, &auth, &format!("  predicateType: {SLSA_V02}\n")),
            None,
        ),
        &image,
    );
    assert_prov_fail(
        &d,
        &[
            "no verified https://slsa.dev/provenance/v0.2 attestation",
            SLSA_V1,
        ],
    );
    let sbom = "https://spdx.dev/Document";
    let with_sbom = format!("{GITHUB_FIELDS}  requirePredicates: [\"{sbom}\"]\n");
    let d = decide(
        &gate(&reg.host, &policy(&reg.host, &auth, &with_sbom), None),
        &image,
    );
    assert_prov_fail(&d, &["required predicate https://spdx.dev/Document"]);
    // Once an SBOM attestation by the same key is attached, it passes.
    let sbom_bundle = dsse_bundle_v03(
        &key,
        VerificationMaterial::PublicKey(&key),
        &other_statement(&img.digest, sbom),
        None,
    );
    attach_bundle_via_tag_fallback(&reg.url(), "team/app", &img.digest, &sbom_bundle);
    let d = decide(
        &gate(&reg.host, &policy(&reg.host, &auth, &with_sbom), None),
        &image,
    );
    assert!(d.passed(), "{}", d.to_text());
}

#[test]
fn legacy_att_keyless_provenance_passes_for_its_identity_only() {
    let reg = TestRegistry::start();
    let sigstore = PrivateSigstore::new();
    let root = sigstore.trusted_root_json();
    let img = push_image(&reg.url(), "team/app", "v1");
    let reference = format!("{}/team/app", reg.host);
    let signed_at = time::OffsetDateTime::now_utc() - time::Duration::minutes(5);
    let signer = sigstore.keyless_signer(RELEASE, ISSUER, signed_at);
    let statement = slsa_v1_statement(&img.digest, &Build::default());
    let t = signed_at.unix_timestamp() + 30;
    attach_legacy_attestations(
        &reg.url(),
        "team/app",
        &img.digest,
        vec![AttLayer::keyless(
            &sigstore,
            &signer.key,
            &signer.cert_pem,
            &statement,
            t,
            21,
        )],
    );
    let image = format!("{reference}:v1");
    let keyless = |subject: &str| {
        format!(
            "    - name: builder\n      keyless:\n        issuer: {ISSUER}\n        subjectRegExp: {subject}\n"
        )
    };
    let ok = policy(
        &reg.host,
        &keyless("^https://github\\.com/acme/"),
        GITHUB_FIELDS,
    );
    let d = decide(&gate(&reg.host, &ok, Some(&root)), &image);
    assert!(d.passed(), "{}", d.to_text());
    let evidence = serde_json::to_string(&d).unwrap();
    assert!(evidence.contains(".att, layer 0"), "{evidence}");

    // Another identity.
    let other = policy(
        &reg.host,
        &keyless("^https://github\\.com/evil/"),
        GITHUB_FIELDS,
    );
    assert_prov_fail(
        &decide(&gate(&reg.host, &other, Some(&root)), &image),
        &["`builder`", RELEASE],
    );
    // Not our CA: the public-good root.
    assert_prov_fail(&decide(&gate(&reg.host, &ok, None), &image), &[".att"]);

    // Without its Rekor entry a keyless attestation does not count.
    let img2 = push_image(&reg.url(), "team/app", "nolog");
    let mut layer = AttLayer::keyless(
        &sigstore,
        &signer.key,
        &signer.cert_pem,
        &slsa_v1_statement(&img2.digest, &Build::default()),
        t,
        22,
    );
    layer.annotations.remove("dev.sigstore.cosign/bundle");
    attach_legacy_attestations(&reg.url(), "team/app", &img2.digest, vec![layer]);
    assert_prov_fail(
        &decide(
            &gate(&reg.host, &ok, Some(&root)),
            &format!("{reference}:nolog"),
        ),
        &["log"],
    );

    // A Rekor entry for another envelope does not bind this one.
    let img3 = push_image(&reg.url(), "team/app", "swapped");
    let mine = AttLayer::keyless(
        &sigstore,
        &signer.key,
        &signer.cert_pem,
        &slsa_v1_statement(&img3.digest, &Build::default()),
        t,
        23,
    );
    let mut swapped = AttLayer::keyless(
        &sigstore,
        &signer.key,
        &signer.cert_pem,
        &slsa_v1_statement(
            &img3.digest,
            &Build {
                git_ref: "refs/heads/dev".into(),
                ..Build::default()
            },
        ),
        t,
        24,
    );
    swapped.annotations.insert(
        "dev.sigstore.cosign/bundle".into(),
        mine.annotations["dev.sigstore.cosign/bundle"].clone(),
    );
    attach_legacy_attestations(&reg.url(), "team/app", &img3.digest, vec![swapped]);
    assert_prov_fail(
        &decide(
            &gate(&reg.host, &ok, Some(&root)),
            &format!("{reference}:swapped"),
        ),
        &["transparency-log entry"],
    );
}

#[test]
fn unsigned_other_key_and_other_subject_fail() {
    let reg = TestRegistry::start();
    let reference = format!("{}/team/app", reg.host);
    let key = SigningKey::generate_p256();
    let auth = key_authority("builder", &key.public_pem(), "optional");
    let p = policy(&reg.host, &auth, GITHUB_FIELDS);

    // Nothing attached.
    let img = push_image(&reg.url(), "team/app", "bare");
    assert_prov_fail(
        &decide(&gate(&reg.host, &p, None), &format!("{reference}:bare")),
        &["no attestations found for", ".att: not found"],
    );

    // Unsigned: an envelope without signatures.
    let img_u = push_image(&reg.url(), "team/app", "unsigned");
    let mut layer =
        AttLayer::key_signed(&key, &slsa_v1_statement(&img_u.digest, &Build::default()));
    let mut env: serde_json::Value = serde_json::from_slice(&layer.envelope).unwrap();
    env["signatures"] = serde_json::json!([]);
    layer.envelope = serde_json::to_vec(&env).unwrap();
    attach_legacy_attestations(&reg.url(), "team/app", &img_u.digest, vec![layer]);
    assert_prov_fail(
        &decide(&gate(&reg.host, &p, None), &format!("{reference}:unsigned")),
        &["exactly one signature"],
    );

    // Signed by another key (legacy and bundle).
    let img_k = push_image(&reg.url(), "team/app", "otherkey");
    let other = SigningKey::generate_p256();
    let st = slsa_v1_statement(&img_k.digest, &Build::default());
    attach_legacy_attestations(
        &reg.url(),
        "team/app",
        &img_k.digest,
        vec![AttLayer::key_signed(&other, &st)],
    );
    let bundle = dsse_bundle_v03(&other, VerificationMaterial::PublicKey(&other), &st, None);
    attach_bundle_via_tag_fallback(&reg.url(), "team/app", &img_k.digest, &bundle);
    let d = decide(&gate(&reg.host, &p, None), &format!("{reference}:otherkey"));
    assert_prov_fail(
        &d,
        &["does not verify with key", ".att, layer 0", "tag fallback"],
    );

    // Signed by the right key, about another digest.
    let img_s = push_image(&reg.url(), "team/app", "othersubject");
    let st = slsa_v1_statement(&img.digest, &Build::default());
    attach_legacy_attestations(
        &reg.url(),
        "team/app",
        &img_s.digest,
        vec![AttLayer::key_signed(&key, &st)],
    );
    assert_prov_fail(
        &decide(
            &gate(&reg.host, &p, None),
            &format!("{reference}:othersubject"),
        ),
        &[&format!(
            "attestation subject {} is not this image {}",
            img.digest, img_s.digest
        )],
    );
}

#[test]
fn provenance_policy_errors_name_the_field() {
    let bad = "name: p\nimages: [\"x/**\"]\nprovenance:\n  authorities: []\n";
    let e = shipgate::policy::Policy::from_yaml(bad, std::path::Path::new("p.yaml"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("provenance.authorities"), "{e}");
    let bad = "name: p\nimages: [\"x/**\"]\nprovenance:\n  authorities:\n    - name: a\n      keyless: {issuer: i, subject: s}\n  predicateType: https://slsa.dev/provenance/v9\n";
    let e = shipgate::policy::Policy::from_yaml(bad, std::path::Path::new("p.yaml"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("provenance.predicateType"), "{e}");
    let bad = "name: p\nimages: [\"x/**\"]\nprovenance:\n  authorities:\n    - name: a\n      keyless: {issuer: i, subject: s}\n  builderId: a\n  builderIdRegExp: b\n";
    let e = shipgate::policy::Policy::from_yaml(bad, std::path::Path::new("p.yaml"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("builderId"), "{e}");
    let example = shipgate::policy::Policy::load(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/policies/examples/provenance.yaml"
    )))
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(example.provenance.is_some());
}

/// The `legacy-image-attestation` cases of the shared vectors: real `cosign attest` (SLSA v0.2 by
/// slsa-github-generator's container builder, keyless on public-good Sigstore, Rekor `intoto`
/// 0.0.1 and `dsse` 0.0.1 entries), replayed from a registry.
#[test]
fn slsa_verifier_container_attestations_verify_with_their_true_identity_only() {
    use crate::common::replay::{vectors_dir, ReplayRegistry};
    let cases: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(vectors_dir().join("cases.json")).unwrap()).unwrap();
    let cases: Vec<_> = cases
        .iter()
        .filter(|c| c["kind"] == "legacy-image-attestation")
        .collect();
    assert_eq!(cases.len(), 6);
    let repo = "slsa-framework/example-package";
    let mut bundles = Vec::new();
    for case in cases {
        let id = case["id"].as_str().unwrap();
        let identity = case["identity"].as_str().unwrap();
        let issuer = case["issuer"].as_str().unwrap();
        let (dump, digest) = layout_to_dump(&vectors_dir().join(case["layout"].as_str().unwrap()));
        assert_eq!(digest.as_str(), case["digest"].as_str().unwrap(), "{id}");
        let att_path = dump
            .path()
            .join(format!("manifests/{}.json", digest.cosign_tag(".att")));
        let att: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&att_path).unwrap()).unwrap();
        let bundle = att["layers"][0]["annotations"]["dev.sigstore.cosign/bundle"].clone();
        bundles.push((dump, digest.clone(), att_path, att, bundle));
        let dump = &bundles.last().unwrap().0;
        let reg = ReplayRegistry::start(dump.path(), repo);
        let image = format!("{}/{repo}@{digest}", reg.host);
        let auth = |subject: &str| {
            format!("    - name: slsa-generator\n      keyless:\n        issuer: {issuer}\n        subject: {subject}\n")
        };
        let fields = format!(
            "  predicateType: {SLSA_V02}\n  builderId: {identity}\n  buildType: https://github.com/slsa-framework/slsa-github-generator/container@v1\n  sourceRepository: https://github.com/slsa-framework/example-package\n  sourceRefRegExp: ^refs/(heads/main|tags/v13\\.0\\.30)$\n  workflowPath: .github/workflows/verifier-e2e.all.workflow_dispatch.main.all.slsa3.yml\n"
        );
        let d = decide(
            &gate(
                &reg.host,
                &policy(&reg.host, &auth(identity), &fields),
                None,
            ),
            &image,
        );
        assert!(d.passed(), "{id}:\n{}", d.to_text());
        let (_, reason) = provenance_check(&d);
        assert!(
            reason.contains("https://github.com/slsa-framework/example-package@refs/"),
            "{id}: {reason}"
        );

        // Any other identity, builder, source or ref fails, saying why.
        let other = identity.replace("generator_container_slsa3", "not-trusted");
        assert_prov_fail(
            &decide(
                &gate(&reg.host, &policy(&reg.host, &auth(&other), &fields), None),
                &image,
            ),
            &["`slsa-generator`", identity],
        );
        for (from, to, why) in [
            (identity.to_string(), other.clone(), format!("provenance builder `{identity}` is not `{other}`")),
            ("/example-package\n".to_string(), "/example-packageA\n".to_string(), "provenance source repository `https://github.com/slsa-framework/example-package` is not".to_string()),
            ("sourceRefRegExp: ^refs/(heads/main|tags/v13\\.0\\.30)$".to_string(), "sourceRef: refs/heads/master".to_string(), "is not `refs/heads/master`".to_string()),
        ] {
            let f = fields.replace(&from, &to);
            assert_prov_fail(
                &decide(&gate(&reg.host, &policy(&reg.host, &auth(identity), &f), None), &image),
                &[&why],
            );
        }
    }

    // A real Rekor entry of another attestation (its own SET verifies) does not bind this one.
    let (_, _, _, _, foreign) = &bundles[2];
    let (dump, digest, att_path, att, _) = &bundles[1];
    let mut att = att.clone();
    att["layers"][0]["annotations"]["dev.sigstore.cosign/bundle"] = foreign.clone();
    std::fs::write(att_path, serde_json::to_vec(&att).unwrap()).unwrap();
    let reg = ReplayRegistry::start(dump.path(), repo);
    let identity = "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml@refs/tags/v1.4.0";
    let auth = format!("    - name: slsa-generator\n      keyless:\n        issuer: https://token.actions.githubusercontent.com\n        subject: {identity}\n");
    assert_prov_fail(
        &decide(
            &gate(
                &reg.host,
                &policy(&reg.host, &auth, &format!("  predicateType: {SLSA_V02}\n")),
                None,
            ),
            &format!("{}/{repo}@{digest}", reg.host),
        ),
        &["transparency-log entry"],
    );
}

/// GitHub artifact attestations (`gh attestation` test data): Sigstore bundles with SLSA v1
/// provenance about files, verified through `Verifier::verify_attestation` with their true
/// identities (public-good, custom issuer, reusable workflow, GitHub's own Sigstore instance),
/// and refused for any other identity or artifact.
#[test]
fn github_attestation_bundles_verify_with_their_true_identity_only() {
    use std::sync::Arc;

    use sha2::Digest as _;
    use shipgate::evidence::attestations::AttestationArtifact;
    use shipgate::evidence::BundleArtifact;
    use shipgate::policy::{Authority, Identity, Matcher, TlogRequirement};
    use shipgate::reference::Digest;
    use shipgate::verify::{Subject, TrustRoot, Verifier};

    use crate::common::replay::vectors_dir;

    let dir = vectors_dir().join("github-cli-attestation/test-data");
    let public_good = Arc::new(Verifier::new(Arc::new(TrustRoot::public_good().unwrap())));
    let github = Arc::new(Verifier::new(Arc::new(
        TrustRoot::from_json(
            &std::fs::read(
                vectors_dir()
                    .join("public-good-trust/github-instance-trusted_root.from-sigstore-java.json"),
            )
            .unwrap(),
        )
        .unwrap(),
    )));
    let subject_of = |file: &str| {
        let bytes = std::fs::read(dir.join(file)).unwrap();
        Subject::of_bytes(
            Digest::of(&bytes),
            hex::encode(sha2::Sha512::digest(&bytes)),
        )
    };
    let authority = |issuer: &str, subject: &str, tlog: TlogRequirement| Authority {
        name: "builder".into(),
        identity: Identity::Keyless {
            issuer: Matcher::Exact(issuer.into()),
            subject: Matcher::Exact(subject.into()),
            claims: Vec::new(),
        },
        tlog,
        trust_root: None,
    };
    const GH: &str = "https://token.actions.githubusercontent.com";
    let sigstore_js =
        "https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main";
    // (bundle file, JSONL line, artifact, issuer, identity, verifier, tlog, source repository)
    #[allow(clippy::type_complexity)]
    let cases: Vec<(&str, usize, &str, &str, &str, &Arc<Verifier>, TlogRequirement, Option<&str>)> = vec![
        ("sigstore-js-2.1.0-bundle.json", 0, "sigstore-js-2.1.0.tgz", GH, sigstore_js, &public_good, TlogRequirement::Required, Some("https://github.com/sigstore/sigstore-js")),
        ("sigstore-js-2.1.0_with_2_bundles.jsonl", 0, "sigstore-js-2.1.0.tgz", GH, sigstore_js, &public_good, TlogRequirement::Required, Some("https://github.com/sigstore/sigstore-js")),
        ("sigstore-js-2.1.0_with_2_bundles.jsonl", 1, "sigstore-js-2.1.0.tgz", GH, sigstore_js, &public_good, TlogRequirement::Required, Some("https://github.com/sigstore/sigstore-js")),
        ("custom-issuer.sigstore.json", 0, "custom-issuer-artifact", "https://token.actions.githubusercontent.com/hammer-time", "https://github.com/too-legit/attest/.github/workflows/integration.yml@refs/heads/main", &public_good, TlogRequirement::Required, None),
        ("reusable-workflow-attestation.sigstore.json", 0, "reusable-workflow-artifact", GH, "https://github.com/github/artifact-attestations-workflows/.github/workflows/attest.yml@09b495c3f12c7881b3cc17209a327792065c1a1d", &public_good, TlogRequirement::Required, None),
        ("github_provenance_demo-0.0.12-py3-none-any-bundle.jsonl", 0, "github_provenance_demo-0.0.12-py3-none-any.whl", GH, "https://github.com/actions/attest-demo/.github/workflows/build-python.yml@refs/heads/main", &github, TlogRequirement::Optional, Some("https://github.com/actions/attest-demo")),
    ];
    for (file, line, artifact, issuer, identity, verifier, tlog, repo) in cases {
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        let json = if file.ends_with(".jsonl") {
            text.lines()
                .filter(|l| !l.trim().is_empty())
                .nth(line)
                .unwrap()
                .to_string()
        } else {
            text
        };
        let att = AttestationArtifact::Bundle(BundleArtifact {
            json: json.into_bytes(),
            media_type: "application/vnd.dev.sigstore.bundle.v0.3+json".into(),
            source: format!("{file}[{line}]"),
        });
        let subject = subject_of(artifact);
        let ok = verifier.verify_attestation(&att, &subject, &[authority(issuer, identity, tlog)]);
        let v = match &ok[..] {
            [Ok(v)] => v,
            other => panic!("{file}[{line}]: {other:?}"),
        };
        assert_eq!(v.signature.signer, identity, "{file}");
        assert!(!v.predicate_type.is_empty());
        if let Some(repo) = repo {
            assert_eq!(v.predicate_type, SLSA_V1, "{file}");
            let predicate = v.statement.get("predicate").cloned().unwrap_or_default();
            let facts = shipgate::evaluate::build_facts(&v.predicate_type, &predicate);
            assert_eq!(facts.builder_id.as_deref(), Some(GITHUB_RUNNER), "{file}");
            assert_eq!(facts.source_repository.as_deref(), Some(repo), "{file}");
            assert_eq!(
                facts.source_ref.as_deref(),
                Some("refs/heads/main"),
                "{file}"
            );
        }

        // Any other identity or issuer, or another artifact, fails.
        let other_identity = identity.replace("/.github/", "-fork/.github/");
        for wrong in [
            authority(issuer, &other_identity, tlog),
            authority("https://accounts.google.com", identity, tlog),
        ] {
            let r = verifier.verify_attestation(&att, &subject, &[wrong]);
            assert!(matches!(&r[..], [Err(_)]), "{file}: {r:?}");
        }
        let other = Subject::of_bytes(
            Digest::of(b"other"),
            hex::encode(sha2::Sha512::digest(b"other")),
        );
        let r = verifier.verify_attestation(&att, &other, &[authority(issuer, identity, tlog)]);
        match &r[..] {
            [Err(e)] => assert!(e.reason.contains("attestation subject"), "{file}: {e}"),
            other => panic!("{file}: {other:?}"),
        }
    }
}
