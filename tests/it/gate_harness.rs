//! Builds the real gate (real `RegistryClient`, real verifier) for end-to-end tests, and runs
//! the real `shipgate` binary.

use std::path::Path;
use std::sync::Arc;

use shipgate::decision::{CheckResult, Decision};
use shipgate::evidence::ecr_findings::AwsScanFindings;
use shipgate::gate::{DecisionRequest, Gate, GateSettings};
use shipgate::policy::{Policy, PolicySet};
use shipgate::registry::{RegistryClient, RegistryConfig};
use shipgate::verify::{TrustRoot, Verifier};

/// A gate that may speak plain HTTP to `host`, with one policy, and the public-good trust root
/// unless `trusted_root` (JSON) is given.
pub fn gate(host: &str, policy_yaml: &str, trusted_root: Option<&str>) -> Gate {
    let policy = Policy::from_yaml(policy_yaml, Path::new("test-policy.yaml"))
        .unwrap_or_else(|e| panic!("test policy: {e}"));
    let root = match trusted_root {
        Some(json) => TrustRoot::from_json(json.as_bytes()).expect("private trusted root"),
        None => TrustRoot::public_good().expect("embedded trusted root"),
    };
    let registry = RegistryClient::new(RegistryConfig {
        insecure_hosts: vec![host.to_string()],
        ..RegistryConfig::default()
    })
    .expect("registry client");
    Gate::new(
        PolicySet::new(vec![policy]).expect("policy set"),
        Arc::new(registry),
        Arc::new(AwsScanFindings::new()),
        Arc::new(Verifier::new(Arc::new(root))),
        // No caching: these tests change the registry between decisions.
        GateSettings {
            cache_pass_ttl: std::time::Duration::ZERO,
            cache_fail_ttl: std::time::Duration::ZERO,
            ..GateSettings::default()
        },
    )
}

/// Runs one decision on a fresh runtime (the fixtures are blocking, so tests are plain `#[test]`).
pub fn decide(gate: &Gate, image: &str) -> Decision {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(gate.decide(&DecisionRequest {
        image: image.to_string(),
        policy: None,
    }))
    .expect("a well-formed request")
}

/// The one signature check of a decision.
pub fn signature_check(d: &Decision) -> (CheckResult, String) {
    let c = d
        .checks
        .iter()
        .find(|c| c.check == "signature")
        .unwrap_or_else(|| panic!("no signature check in {}", d.to_text()));
    (c.result, c.reason.clone())
}

/// Asserts a pass, showing the decision otherwise.
pub fn assert_pass(d: &Decision) {
    assert!(d.passed(), "expected pass:\n{}", d.to_text());
}

/// Asserts a fail whose signature reason contains every `needle`.
pub fn assert_fail(d: &Decision, needles: &[&str]) {
    assert!(!d.passed(), "expected fail:\n{}", d.to_text());
    let (_, reason) = signature_check(d);
    for n in needles {
        assert!(reason.contains(n), "reason lacks {n:?}:\n{}", d.to_text());
    }
}

/// A policy for `host` with the given `signatures:` block (indented two spaces).
pub fn policy_for(host: &str, signatures: &str) -> String {
    format!("name: e2e\nimages: [\"{host}/**\"]\nsignatures:\n{signatures}")
}

/// An inline-key authority block.
pub fn key_authority(name: &str, public_pem: &str, tlog: &str) -> String {
    let key: String = public_pem
        .lines()
        .map(|l| format!("        {l}\n"))
        .collect();
    format!("    - name: {name}\n      transparencyLog: {tlog}\n      key: |\n{key}")
}

/// A keyless authority block.
pub fn keyless_authority(name: &str, issuer: &str, subject: &str) -> String {
    format!(
        "    - name: {name}\n      keyless:\n        issuer: {issuer}\n        subject: {subject}\n"
    )
}
