//! Notary Project signatures, service side (issue 13): discovery on a real registry, the gate's
//! report, policy loading, AWS Signer revocation through the real SDK, and `verify-notation`.
//!
//! The verifier itself (`verify::notation`) lands separately. Tests that need Notation's files
//! parsed (trust stores, trust policies, levels) check `verifier_is_stub()` and say PENDING
//! until it does; the rest run now, and their assertions hold before and after it lands.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use shipgate::decision::{CheckCode, CheckResult, Decision};
use shipgate::evidence::notation::{collect_signatures, NotationPlan};
use shipgate::evidence::signatures::{referrer_bundles, CollectLimits};
use shipgate::evidence::SignatureArtifact;
use shipgate::gate::DecisionRequest;
use shipgate::policy::{Identity, Policy};
use shipgate::reference::Repository;
use shipgate::verify::notation::{StoreKind, TrustedIdentity};
use shipgate::verify::notation_authority::{NotationKind, NotationTrust};

use crate::common::notation::*;
use crate::common::oci::{push_image, ImageRefs};
use crate::common::registry::TestRegistry;

mod cli;
mod revocation;

fn pending(what: &str) -> bool {
    if verifier_is_stub() {
        eprintln!("PENDING until verify::notation lands: {what}");
        return true;
    }
    false
}

fn repo(host: &str) -> Repository {
    Repository {
        registry: host.to_string(),
        name: "team/app".to_string(),
    }
}

/// An image with two Notary Project signatures: a JWS layer that is no envelope, and a layer of
/// a media type no envelope has. Returns the image and the two signature manifests' digests.
fn signed_image(reg: &TestRegistry) -> (ImageRefs, Vec<String>) {
    let img = push_image(&reg.url(), "team/app", "v1");
    let jws = attach_signature(&reg.url(), "team/app", &img.digest, JWS, b"not an envelope");
    let odd = attach_signature(
        &reg.url(),
        "team/app",
        &img.digest,
        "application/vnd.example.unknown",
        b"junk",
    );
    (img, vec![jws.to_string(), odd.to_string()])
}

fn decide(gate: &shipgate::gate::Gate, image: &str) -> Decision {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(gate.decide(&DecisionRequest {
        image: image.to_string(),
        policy: None,
    }))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signatures_are_found_through_the_tag_fallback_with_their_target() {
    let reg = TestRegistry::start();
    let (img, _) = signed_image(&reg);
    let client = registry_client(&reg.host);
    let repo = repo(&reg.host);
    let limits = CollectLimits::default();
    let plan = Some(NotationPlan { revocation: None });
    let shared = referrer_bundles(&client, &repo, &img.digest, &limits);
    let found = collect_signatures(&client, &repo, &img.digest, &limits, shared, plan).await;
    assert!(found.errors.is_empty(), "{:?}", found.errors);
    let notation: Vec<_> = found
        .artifacts
        .iter()
        .filter_map(|a| match a {
            SignatureArtifact::Notation(n) => Some(n),
            _ => None,
        })
        .collect();
    assert_eq!(notation.len(), 2, "{:?}", found.notes);
    let media: BTreeSet<&str> = notation.iter().map(|n| n.media_type.as_str()).collect();
    // The unknown media type is kept: verification must reject it where the user can see it.
    assert_eq!(
        media,
        BTreeSet::from([JWS, "application/vnd.example.unknown"])
    );
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    for n in &notation {
        assert_eq!(n.target.digest, img.digest.as_str());
        assert_eq!(n.target.size, img.descriptor.size);
        assert_eq!(n.target.media_type, img.descriptor.media_type);
        assert_eq!(n.repository, format!("{}/team/app", reg.host));
        assert!((now - n.checked_at).abs() < 120, "{}", n.checked_at);
        assert_eq!(
            n.revocation,
            shipgate_core::evidence::notation::RevocationCheck::NotChecked
        );
        assert!(n.source.contains("tag fallback sha256-"), "{}", n.source);
    }
    let notes = found.notes.join("\n");
    assert!(notes.contains("2 Notary Project signatures"), "{notes}");

    // Bounded like every other signature kind, and said so.
    let limits = CollectLimits {
        max_signatures: 1,
        ..CollectLimits::default()
    };
    let shared = referrer_bundles(&client, &repo, &img.digest, &limits);
    let found = collect_signatures(&client, &repo, &img.digest, &limits, shared, plan).await;
    assert_eq!(found.artifacts.len(), 1);
    let truncated = found.truncated.join("\n");
    assert!(
        truncated.contains(
            "only the first 1 of 2 Notary Project signature referrers were checked (limit max_signatures)"
        ),
        "{truncated}"
    );
}

#[test]
fn the_gate_reports_each_notation_signature_as_found_and_rejected() {
    let reg = TestRegistry::start();
    let (img, signatures) = signed_image(&reg);
    let registry = Arc::new(RecordingRegistry::new(registry_client(&reg.host)));
    let policy = policy_with(&reg.host, vec![authority_from_parts("release")]);
    let gate = gate_over(registry.clone(), policy);
    let d = decide(&gate, &format!("{}/team/app@{}", reg.host, img.digest));
    assert!(!d.passed(), "{}", d.to_text());
    let check = d.checks.iter().find(|c| c.check == "signature").unwrap();
    assert_eq!(check.result, CheckResult::Fail, "{}", d.to_text());
    assert_eq!(
        check.code,
        CheckCode::SignatureUnverified,
        "{}",
        d.to_text()
    );
    assert_eq!(check.evidence["signatures_found"], 2, "{}", d.to_text());
    let reason = &check.reason;
    assert!(
        reason.contains(
            "No signature from authority `release` (Notary Project, identity *, level strict): found 2 signatures"
        ),
        "{reason}"
    );
    assert!(
        reason.contains("Notary Project signature sha256:"),
        "{reason}"
    );
    assert_verifier_reason(reason, "envelope");
    // What was read: the image manifest (the target), each signature manifest and envelope.
    let calls = registry.calls();
    assert!(
        calls.contains(&format!("manifest {}", img.digest)),
        "{calls:?}"
    );
    for s in &signatures {
        assert!(calls.contains(&format!("manifest {s}")), "{calls:?}");
    }
}

#[test]
fn a_cosign_only_policy_makes_no_notation_requests() {
    let reg = TestRegistry::start();
    let (img, signatures) = signed_image(&reg);
    let registry = Arc::new(RecordingRegistry::new(registry_client(&reg.host)));
    let yaml = format!(
        "name: cosign\nimages: [\"{}/**\"]\nsignatures:\n  authorities:\n    - name: ci\n      keyless:\n        issuer: https://issuer.example\n        subject: someone\n",
        reg.host
    );
    let policy = Policy::from_yaml(&yaml, Path::new("cosign.yaml")).unwrap();
    let gate = gate_over(registry.clone(), policy);
    let d = decide(&gate, &format!("{}/team/app@{}", reg.host, img.digest));
    assert!(!d.passed());
    // Exactly what a cosign-only policy has always asked: the referrers (the API, then its
    // tag fallback) and the legacy `.sig` tag. No image manifest, no Notation manifest or blob.
    let calls: BTreeSet<String> = registry.calls().into_iter().collect();
    let expected = BTreeSet::from([
        format!("referrers {}", img.digest),
        format!("manifest {}", img.digest.cosign_tag("")),
        format!("manifest {}", img.digest.cosign_tag(".sig")),
    ]);
    assert_eq!(calls, expected);
    assert!(signatures
        .iter()
        .all(|s| !calls.iter().any(|c| c.contains(s))));
    let check = d.checks.iter().find(|c| c.check == "signature").unwrap();
    assert_eq!(check.code, CheckCode::SignatureMissing, "{}", d.to_text());
}

/// Writes the files of a Notation authority next to `policy.yaml` in `dir`.
fn notation_files(dir: &Path) {
    let root = dir.join("notation/truststore");
    trust_store_with_ca(&root, "ca", "acme", &ca_certificate("acme root"));
    trust_store_with_ca(&root, "tsa", "tsa", &ca_certificate("acme tsa"));
    std::fs::write(
        dir.join("notation/trustpolicy.json"),
        trust_policy_json(
            "prod",
            &["ghcr.io/acme/app"],
            "strict",
            &["ca:acme", "tsa:tsa"],
            &["x509.subject: C=US, ST=WA, O=acme, CN=release"],
        ),
    )
    .unwrap();
    std::fs::write(dir.join("roots.pem"), ca_certificate("aws signer china")).unwrap();
}

const THREE_KINDS: &str = r#"name: notation
images: ["ghcr.io/**"]
signatures:
  authorities:
    - name: inline
      notation:
        trustStore: notation/truststore
        trustedIdentities: ["x509.subject: C=US, ST=WA, O=acme, CN=release"]
    - name: file
      notation:
        trustPolicy: notation/trustpolicy.json
        trustStore: notation/truststore
    - name: aws
      awsSigner:
        profileArns:
          - arn:aws:signer:us-east-1:123456789012:/signing-profiles/release
          - arn:aws:signer:us-east-1:123456789012:/signing-profiles/release/abcdef1234
        rootsRef: roots.pem
        govCloud: true
        level: permissive
        override: {expiry: log}
"#;

#[test]
fn notation_and_aws_signer_authorities_load() {
    if pending("loading notation/awsSigner authorities") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    notation_files(dir.path());
    let path = dir.path().join("policy.yaml");
    std::fs::write(&path, THREE_KINDS).unwrap();
    let policy = Policy::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let authorities = &policy.signatures.as_ref().unwrap().authorities;
    let notation = |i: usize| match &authorities[i].identity {
        Identity::Notation(n) => n.clone(),
        other => panic!("{other:?}"),
    };
    let inline = notation(0);
    let NotationTrust::Statement(s) = &inline.trust else {
        panic!("inline statement expected")
    };
    assert_eq!(s.registry_scopes, ["*"]);
    assert_eq!(s.level.name, "strict");
    assert!(s.trust_stores.contains(&(StoreKind::Ca, "acme".into())));
    assert!(s.trust_stores.contains(&(StoreKind::Tsa, "tsa".into())));
    assert!(matches!(
        s.trusted_identities.as_slice(),
        [TrustedIdentity::X509Subject(_)]
    ));
    let file = notation(1);
    assert!(matches!(file.trust, NotationTrust::Document(_)));
    assert!(file.statement_for("ghcr.io/acme/app").is_ok());
    let aws = notation(2);
    assert_eq!(aws.kind, NotationKind::AwsSigner);
    let s = aws.statement_for("ghcr.io/acme/app").unwrap();
    assert_eq!(s.level.name, "permissive");
    assert_eq!(s.trusted_identities.len(), 2);
    assert!(s
        .trust_stores
        .contains(&(StoreKind::SigningAuthority, "aws-signer-ts".into())));
    // Permissive logs revocation, it does not skip it: AWS Signer is asked.
    assert!(aws.wants_signer_revocation());
    assert!(!inline.wants_signer_revocation());
    let needs = shipgate::evaluate::Needs::of(&[Arc::new(policy)]);
    assert!(needs.notation.is_some_and(|n| n.signer_revocation));
}

#[test]
fn notation_files_that_do_not_fit_are_refused_with_field_and_line() {
    if pending("refusals that read trust stores") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    notation_files(dir.path());
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "trustStore: notation/truststore\n        trustedIdentities",
            "trustStore: notation/missing\n        trustedIdentities",
            &[
                "signatures.authorities[0].notation.trustStore",
                "missing",
                "line 7",
            ],
        ),
        (
            "trustPolicy: notation/trustpolicy.json",
            "trustPolicy: notation/absent.json",
            &[
                "signatures.authorities[1].notation.trustPolicy",
                "absent.json",
                "line 11",
            ],
        ),
        (
            "rootsRef: roots.pem",
            "rootsRef: policy.yaml",
            &["signatures.authorities[2].awsSigner.rootsRef"],
        ),
    ];
    for (from, to, wants) in cases {
        let path = dir.path().join("policy.yaml");
        std::fs::write(&path, THREE_KINDS.replacen(from, to, 1)).unwrap();
        let err = Policy::load(&path).unwrap_err().to_string();
        for want in *wants {
            assert!(err.contains(want), "{err} lacks {want:?}");
        }
    }
    // A trust policy that names a store the trust-store root does not have.
    std::fs::write(
        dir.path().join("notation/trustpolicy.json"),
        trust_policy_json("prod", &["*"], "strict", &["ca:other"], &["*"]),
    )
    .unwrap();
    let path = dir.path().join("policy.yaml");
    std::fs::write(&path, THREE_KINDS).unwrap();
    let err = Policy::load(&path).unwrap_err().to_string();
    assert!(err.contains("`ca:other`"), "{err}");
}

#[test]
fn shipgate_check_reports_the_notation_signature_it_rejected() {
    if pending("`shipgate check` with a notation policy file") {
        return;
    }
    let reg = TestRegistry::start();
    let (img, _) = signed_image(&reg);
    let dir = tempfile::tempdir().unwrap();
    notation_files(dir.path());
    let path = dir.path().join("policy.yaml");
    std::fs::write(
        &path,
        THREE_KINDS.replace("ghcr.io/**", &format!("{}/**", reg.host)),
    )
    .unwrap();
    let image = format!("{}/team/app@{}", reg.host, img.digest);
    let out = cli::shipgate(&[
        "check",
        &image,
        "--policy",
        path.to_str().unwrap(),
        "--insecure-registry",
        &reg.host,
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("Notary Project signature sha256:"),
        "{stdout}"
    );
    assert!(stdout.contains("envelope"), "{stdout}");
}
