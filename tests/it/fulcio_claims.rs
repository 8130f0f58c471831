//! GitHub certificate claims as keyless policy fields, end to end: certificates from the test's
//! private Sigstore carry Fulcio's claim extensions (`1.3.6.1.4.1.57264.1.9`–`.22`), images are
//! signed in a real `docker-registry`, and the real gate decides.

use shipgate::decision::{CheckCode, Decision};

use crate::common::cosign::{
    attach_bundle_via_tag_fallback, attach_legacy_signature, StatementOptions,
};
use crate::common::oci::push_image;
use crate::common::private_sigstore::{github_claims, PrivateSigstore, FULCIO_CLAIM_OIDS};
use crate::common::registry::TestRegistry;
use crate::gate_harness::*;

const ISSUER: &str = "https://token.actions.githubusercontent.com";
const RELEASE: &str = "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main";

/// What GitHub's token says for a push to `main` of `acme/app`.
const MAIN_PUSH: [(&str, &str); 14] = [
    ("buildSignerUri", RELEASE),
    (
        "buildSignerDigest",
        "0123456789abcdef0123456789abcdef01234567",
    ),
    ("runnerEnvironment", "github-hosted"),
    ("sourceRepositoryUri", "https://github.com/acme/app"),
    (
        "sourceRepositoryDigest",
        "0123456789abcdef0123456789abcdef01234567",
    ),
    ("sourceRepositoryRef", "refs/heads/main"),
    ("sourceRepositoryIdentifier", "123456"),
    ("sourceRepositoryOwnerUri", "https://github.com/acme"),
    ("sourceRepositoryOwnerIdentifier", "7890"),
    ("buildConfigUri", RELEASE),
    (
        "buildConfigDigest",
        "0123456789abcdef0123456789abcdef01234567",
    ),
    ("buildTrigger", "push"),
    (
        "runInvocationUri",
        "https://github.com/acme/app/actions/runs/1/attempts/1",
    ),
    ("sourceRepositoryVisibilityAtSigning", "private"),
];

/// A keyless policy for `host` with `claims` lines (`key: value`) under `keyless.claims`.
fn claims_policy(host: &str, claims: &[&str]) -> String {
    let claims: String = claims.iter().map(|c| format!("          {c}\n")).collect();
    policy_for(
        host,
        &format!(
            "  authorities:\n    - name: ci\n      keyless:\n        issuer: {ISSUER}\n        \
             subjectRegExp: ^https://github\\.com/acme/app/\n        claims:\n{claims}"
        ),
    )
}

const REQUIRED: [&str; 3] = [
    "sourceRepositoryUri: https://github.com/acme/app",
    "sourceRepositoryRef: refs/heads/main",
    "buildTrigger: push",
];

fn code(d: &Decision) -> Option<CheckCode> {
    d.checks
        .iter()
        .find(|c| c.check == "signature")
        .map(|c| c.code)
}

fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

/// Pushes `tag` of `team/app`, signed (legacy cosign layer) by a certificate with `claims`.
fn signed_image(
    reg: &TestRegistry,
    sigstore: &PrivateSigstore,
    tag: &str,
    claims: &[(&str, &str)],
) -> String {
    let img = push_image(&reg.url(), "team/app", tag);
    let reference = format!("{}/team/app", reg.host);
    let signed_at = now() - time::Duration::minutes(30);
    let signer = sigstore.keyless_signer_with(RELEASE, ISSUER, signed_at, &github_claims(claims));
    let t = (signed_at + time::Duration::minutes(1)).unix_timestamp();
    attach_legacy_signature(
        &reg.url(),
        "team/app",
        &img.digest,
        vec![sigstore.keyless_legacy_layer(&signer, &reference, &img.digest, t, 7)],
    );
    format!("{reference}:{tag}")
}

fn with(overrides: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    MAIN_PUSH
        .iter()
        .map(|(k, v)| {
            let v = overrides
                .iter()
                .find(|(o, _)| o == k)
                .map_or(*v, |(_, o)| *o);
            (*k, v)
        })
        .collect()
}

#[test]
fn a_certificate_with_the_required_claims_passes() {
    let reg = TestRegistry::start();
    let sigstore = PrivateSigstore::new();
    let root = sigstore.trusted_root_json();
    let image = signed_image(&reg, &sigstore, "main", &MAIN_PUSH);
    let gate = gate(&reg.host, &claims_policy(&reg.host, &REQUIRED), Some(&root));
    let d = decide(&gate, &image);
    assert_pass(&d);
    assert_eq!(code(&d), Some(CheckCode::SignatureVerified));

    // Every claim, exact and as a regex, of the certificate that carries them all.
    let exact: Vec<String> = MAIN_PUSH
        .iter()
        .map(|(k, v)| format!("{k}: '{v}'"))
        .collect();
    let exact: Vec<&str> = exact.iter().map(String::as_str).collect();
    assert_pass(&decide(&gate_for(&reg, &root, &exact), &image));
    let regex: Vec<String> = MAIN_PUSH
        .iter()
        .map(|(k, v)| format!("{k}RegExp: '^{}$'", regex::escape(v)))
        .collect();
    let regex: Vec<&str> = regex.iter().map(String::as_str).collect();
    assert_pass(&decide(&gate_for(&reg, &root, &regex), &image));
}

fn gate_for(reg: &TestRegistry, root: &str, claims: &[&str]) -> shipgate::gate::Gate {
    gate(&reg.host, &claims_policy(&reg.host, claims), Some(root))
}

#[test]
fn another_ref_is_an_identity_mismatch_naming_the_claim() {
    let reg = TestRegistry::start();
    let sigstore = PrivateSigstore::new();
    let root = sigstore.trusted_root_json();
    let image = signed_image(
        &reg,
        &sigstore,
        "dev",
        &with(&[("sourceRepositoryRef", "refs/heads/dev")]),
    );
    let d = decide(&gate_for(&reg, &root, &REQUIRED), &image);
    assert_fail(
        &d,
        &[
            "`ci`",
            "certificate claim sourceRepositoryRef is `refs/heads/dev`, not `refs/heads/main`",
        ],
    );
    assert_eq!(code(&d), Some(CheckCode::SignatureIdentityMismatch));
}

#[test]
fn a_regex_mismatch_is_an_identity_mismatch_naming_the_claim() {
    let reg = TestRegistry::start();
    let sigstore = PrivateSigstore::new();
    let root = sigstore.trusted_root_json();
    let image = signed_image(
        &reg,
        &sigstore,
        "pr",
        &with(&[("buildTrigger", "pull_request")]),
    );
    let policy = [
        "sourceRepositoryUri: https://github.com/acme/app",
        "sourceRepositoryRefRegExp: ^refs/(heads/main|tags/v[0-9.]+)$",
        "buildTriggerRegExp: ^(push|release)$",
    ];
    let d = decide(&gate_for(&reg, &root, &policy), &image);
    assert_fail(
        &d,
        &[
            "`ci`",
            "certificate claim buildTrigger is `pull_request`",
            "^(push|release)$",
        ],
    );
    assert_eq!(code(&d), Some(CheckCode::SignatureIdentityMismatch));
}

#[test]
fn a_certificate_lacking_the_extension_is_an_identity_mismatch() {
    let reg = TestRegistry::start();
    let sigstore = PrivateSigstore::new();
    let root = sigstore.trusted_root_json();
    let without_trigger: Vec<(&str, &str)> = MAIN_PUSH
        .iter()
        .copied()
        .filter(|(k, _)| *k != "buildTrigger")
        .collect();
    let image = signed_image(&reg, &sigstore, "old", &without_trigger);
    let d = decide(&gate_for(&reg, &root, &REQUIRED), &image);
    assert_fail(
        &d,
        &[
            "`ci`",
            "certificate claim buildTrigger is absent",
            "1.3.6.1.4.1.57264.1.20",
        ],
    );
    assert_eq!(code(&d), Some(CheckCode::SignatureIdentityMismatch));

    // A certificate with no claim extension at all (a non-CI identity).
    let bare = signed_image(&reg, &sigstore, "bare", &[]);
    let d = decide(&gate_for(&reg, &root, &REQUIRED), &bare);
    assert_fail(&d, &["certificate claim sourceRepositoryUri is absent"]);
    assert_eq!(code(&d), Some(CheckCode::SignatureIdentityMismatch));
}

#[test]
fn claims_are_judged_in_new_format_bundles_too() {
    let reg = TestRegistry::start();
    let sigstore = PrivateSigstore::new();
    let root = sigstore.trusted_root_json();
    let signed_at = now() - time::Duration::minutes(30);
    let t = (signed_at + time::Duration::minutes(1)).unix_timestamp();
    for (tag, git_ref, passes) in [
        ("b-main", "refs/heads/main", true),
        ("b-dev", "refs/heads/dev", false),
    ] {
        let img = push_image(&reg.url(), "team/app", tag);
        let claims = with(&[("sourceRepositoryRef", git_ref)]);
        let signer =
            sigstore.keyless_signer_with(RELEASE, ISSUER, signed_at, &github_claims(&claims));
        let bundle =
            sigstore.keyless_bundle_v03(&signer, &img.digest, &StatementOptions::default(), t, 11);
        attach_bundle_via_tag_fallback(&reg.url(), "team/app", &img.digest, &bundle);
        let d = decide(
            &gate_for(&reg, &root, &REQUIRED),
            &format!("{}/team/app:{tag}", reg.host),
        );
        if passes {
            assert_pass(&d);
        } else {
            assert_fail(
                &d,
                &["certificate claim sourceRepositoryRef is `refs/heads/dev`"],
            );
            assert_eq!(code(&d), Some(CheckCode::SignatureIdentityMismatch));
        }
    }
}

#[test]
fn the_test_ca_knows_every_claim_the_policy_does() {
    let names: Vec<&str> = FULCIO_CLAIM_OIDS.iter().map(|(n, _)| *n).collect();
    let policy: Vec<&str> = shipgate::policy::FulcioClaim::ALL
        .iter()
        .map(|c| c.name())
        .collect();
    assert_eq!(names, policy);
    for ((_, oid), claim) in FULCIO_CLAIM_OIDS
        .iter()
        .zip(shipgate::policy::FulcioClaim::ALL)
    {
        let dotted: Vec<String> = oid.iter().map(u64::to_string).collect();
        assert_eq!(dotted.join("."), claim.oid());
    }
}
