//! `evaluate` as a whole: one check per rule, and a rule without evidence is an `error`.

use std::path::Path;
use std::sync::Arc;

use super::*;
use crate::evidence::signatures::SignatureCollection;
use crate::verify::TrustRoot;

const KEY: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE4nAr21O/2Q0nkN8I4YDnzL/B/+eB
fTICOKesye5z+W24H7UX16WiqCkR6RzgmXcBCeioomDRMb0VSq6hT7nbwg==
-----END PUBLIC KEY-----";

fn policy(yaml: &str) -> Arc<Policy> {
    Arc::new(Policy::from_yaml(yaml, Path::new("p.yaml")).unwrap())
}

fn signed_and_scanned() -> Arc<Policy> {
    let key = KEY.replace('\n', "\n        ");
    policy(&format!(
        "name: p\nimages: [\"r.example/app\"]\nsignatures:\n  authorities:\n    - name: k\n      key: |\n        {key}\nvulnerabilities:\n  source: ecr\n  maxSeverity: HIGH\n"
    ))
}

fn digest() -> Digest {
    "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
        .parse()
        .unwrap()
}

fn today() -> time::Date {
    time::macros::date!(2026 - 12 - 01)
}

fn verifier() -> Verifier {
    Verifier::new(Arc::new(TrustRoot::public_good().unwrap()))
}

/// A rule that no collector answered is `error` (`evidence-not-collected`), and the decision
/// fails: a missing check can never turn into a pass.
#[test]
fn a_rule_without_collected_evidence_is_an_error_not_a_pass() {
    let policies = [signed_and_scanned()];
    // The signatures were collected (and say "unsigned"), the scan was not.
    let evidence = Evidence {
        signatures: Some(SignatureCollection::default()),
        ..Evidence::default()
    };
    let checks = evaluate(&policies, &digest(), &evidence, &verifier(), today());
    assert_eq!(checks.len(), 2, "one check per rule: {checks:?}");
    let scan = checks
        .iter()
        .find(|c| c.check == "vulnerabilities")
        .unwrap();
    assert_eq!(scan.result, CheckResult::Error);
    assert_eq!(scan.code, CheckCode::EvidenceNotCollected);
    assert!(!scan.remediation.is_empty());

    // Nothing collected at all: every rule is still there, each an error.
    let checks = evaluate(
        &policies,
        &digest(),
        &Evidence::default(),
        &verifier(),
        today(),
    );
    assert_eq!(checks.len(), 2);
    assert!(checks
        .iter()
        .all(|c| c.code == CheckCode::EvidenceNotCollected && c.result == CheckResult::Error));
    let refs = vec![crate::decision::PolicyRef::of(&policies[0])];
    let d = crate::decision::Decision::conclude(
        "r.example/app@x".into(),
        None,
        refs,
        checks,
        std::time::Instant::now(),
    );
    assert!(!d.passed());
}

#[test]
fn needs_follow_the_rules_of_every_policy() {
    let only_scan = policy(
        "name: s\nimages: [\"r.example/**\"]\nvulnerabilities:\n  source: ecr\n  maxSeverity: HIGH\n  waitForScan: 30s\n",
    );
    let needs = Needs::of(&[signed_and_scanned(), only_scan.clone()]);
    assert!(needs.signatures);
    assert!(!needs.attestations);
    assert_eq!(
        needs.scan.map(|s| s.wait_for_scan),
        Some(std::time::Duration::from_secs(30)),
        "the longest wait of any policy"
    );
    assert!(needs.base_patterns.is_empty());
    let needs = Needs::of(&[only_scan]);
    assert!(!needs.signatures && needs.scan.is_some());
    assert!(Needs::of(&[]).is_empty());
}

#[test]
fn every_code_has_a_remediation_unless_it_passes() {
    for code in CheckCode::ALL {
        let passing = matches!(
            code,
            CheckCode::SignatureVerified
                | CheckCode::ProvenanceVerified
                | CheckCode::FindingsWithinBudget
                | CheckCode::BaseAllowed
                | CheckCode::EcrSigningComplete
                | CheckCode::PolicyUnmatchedAllowed
        );
        assert_eq!(code.remediation().is_empty(), passing, "{code}");
        assert!(!code.meaning().is_empty(), "{code}");
        let json = serde_json::to_value(code).unwrap();
        assert_eq!(json, serde_json::json!(code.as_str()));
        assert_eq!(serde_json::from_value::<CheckCode>(json).unwrap(), *code);
    }
}
