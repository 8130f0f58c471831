//! Snapshots of whole decisions (JSON and text) for one representative case of every outcome:
//! pass, each fail code, error, audit, unmatched. They were recorded before the evaluation core
//! was restructured (issue 11) and may only change where a field is added on purpose; review a
//! change with `cargo insta review` (or read the `.snap.new` file) before accepting it.
//!
//! Everything is fixed so that the snapshots are stable: the image and its base live in an
//! in-memory registry behind the `Registry` seam, ECR answers come from an in-memory
//! `ScanFindings`, and signatures are made with fixed keys (ECDSA signatures differ per run, but
//! no decision quotes them). Only the evaluation time and duration are blanked.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use base64::Engine as _;
use bytes::Bytes;

use shipgate::decision::Decision;
use shipgate::evidence::ecr_findings::{
    EcrCallError, Finding, FindingsPage, ScanFindings, ScanKind, ScanTarget,
};
use shipgate::gate::{DecisionRequest, Gate, GateSettings};
use shipgate::policy::{Policy, PolicySet, Severity};
use shipgate::reference::{Digest, Repository};
use shipgate::registry::{Descriptor, Manifest, Registry, RegistryError};
use shipgate::verify::{TrustRoot, Verifier};

use crate::common::cosign::{self, KeyAlgorithm, LegacyLayer, SigningKey};
use crate::common::oci;

const HOST: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com";

/// Two fixed P-256 keys (PKCS#8, base64): the policy trusts the first.
const TRUSTED_KEY: &str = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgDfLEvzjZOHk8gkRyjexCHBC20EfgDVrR0CKPwiE7TCehRANCAATicCvbU7/ZDSeQ3wjhgOfMv8H/54F9MgI4p6zJ7nP5bbgftRfXpaKoKRHpHOCZdwEJ6KiiYNExvRVKrqFPudvC";
const OTHER_KEY: &str = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgLg2Ya+E8ei+dsi+LA+hucyLvC/a75lbnwlOKJKTjDFyhRANCAARGlNKFJvEc6BB/chk65yAhvYtAVoHXs9rfnzRLwA7az3lHxg5AqTifhG7Y0Y1fcrp68Rqjwdd83Hemg37ou/ET";

fn key(b64: &str) -> SigningKey {
    let der = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    SigningKey::from_pkcs8(KeyAlgorithm::EcdsaP256Sha256, &der)
}

/// An in-memory registry: manifests by `repo:tag` or `repo@digest`, blobs by digest.
#[derive(Default)]
struct Store {
    manifests: Mutex<HashMap<String, (Bytes, String)>>,
    blobs: Mutex<HashMap<String, Bytes>>,
    tags: Mutex<HashMap<String, Vec<String>>>,
    /// When set, every referrers lookup fails (a registry error mid-way).
    referrers_fail: bool,
}

impl Store {
    fn put_blob(&self, bytes: &[u8]) -> Digest {
        let digest = Digest::of(bytes);
        self.blobs
            .lock()
            .unwrap()
            .insert(digest.to_string(), Bytes::copy_from_slice(bytes));
        digest
    }

    fn put_manifest(
        &self,
        repo: &str,
        tag: Option<&str>,
        media_type: &str,
        bytes: &[u8],
    ) -> Digest {
        let digest = Digest::of(bytes);
        let entry = (Bytes::copy_from_slice(bytes), media_type.to_string());
        let mut manifests = self.manifests.lock().unwrap();
        manifests.insert(format!("{repo}@{digest}"), entry.clone());
        if let Some(tag) = tag {
            manifests.insert(format!("{repo}:{tag}"), entry);
            self.tags
                .lock()
                .unwrap()
                .entry(repo.to_string())
                .or_default()
                .push(tag.to_string());
        }
        digest
    }

    /// An image whose layers are `layers` (contents), tagged `tag`.
    fn put_image(&self, repo: &str, tag: &str, layers: &[&[u8]]) -> Digest {
        let config =
            br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
        self.put_blob(config);
        let descriptors = layers
            .iter()
            .map(|l| {
                self.put_blob(l);
                oci::Descriptor::of("application/vnd.oci.image.layer.v1.tar+gzip", l)
            })
            .collect();
        let manifest =
            oci::Manifest::oci(oci::Descriptor::of(oci::OCI_CONFIG, config), descriptors);
        self.put_manifest(repo, Some(tag), oci::OCI_MANIFEST, &manifest.to_bytes())
    }

    /// A legacy `.sig` manifest for `digest` signed by `key`.
    fn sign(&self, repo: &str, digest: &Digest, key: &SigningKey) {
        let layer = LegacyLayer::signed(key, &format!("{HOST}/{repo}"), digest);
        self.put_blob(&layer.payload);
        let mut d = oci::Descriptor::of(&layer.media_type, &layer.payload);
        d.annotations = Some(
            [(
                cosign::SIGNATURE_ANNOTATION.to_string(),
                layer.signature_b64(),
            )]
            .into(),
        );
        let config = cosign::cosign_signature_config(std::slice::from_ref(&d));
        self.put_blob(&config);
        let manifest = oci::Manifest::oci(oci::Descriptor::of(oci::OCI_CONFIG, &config), vec![d]);
        self.put_manifest(
            repo,
            Some(&digest.cosign_tag(".sig")),
            oci::OCI_MANIFEST,
            &manifest.to_bytes(),
        );
    }

    fn get(&self, repository: &Repository, reference: &str) -> Option<(Bytes, String)> {
        let sep = if reference.starts_with("sha256:") {
            "@"
        } else {
            ":"
        };
        self.manifests
            .lock()
            .unwrap()
            .get(&format!("{}{sep}{reference}", repository.name))
            .cloned()
    }
}

fn not_found(what: String) -> RegistryError {
    RegistryError::NotFound {
        repository: "in-memory".into(),
        what,
    }
}

#[async_trait]
impl Registry for Store {
    async fn resolve(
        &self,
        repository: &Repository,
        reference: &str,
    ) -> Result<(Digest, String), RegistryError> {
        let (bytes, media_type) = self
            .get(repository, reference)
            .ok_or_else(|| not_found(format!("manifest {reference}")))?;
        Ok((Digest::of(&bytes), media_type))
    }
    async fn manifest(
        &self,
        repository: &Repository,
        reference: &str,
    ) -> Result<Option<Manifest>, RegistryError> {
        Ok(self
            .get(repository, reference)
            .map(|(bytes, media_type)| Manifest {
                digest: Digest::of(&bytes),
                media_type,
                bytes,
            }))
    }
    async fn blob(&self, _: &Repository, d: &Digest, _: usize) -> Result<Bytes, RegistryError> {
        self.blobs
            .lock()
            .unwrap()
            .get(&d.to_string())
            .cloned()
            .ok_or_else(|| not_found(format!("blob {d}")))
    }
    async fn referrers(
        &self,
        _: &Repository,
        _: &Digest,
    ) -> Result<Option<Vec<Descriptor>>, RegistryError> {
        if self.referrers_fail {
            return Err(RegistryError::Status {
                registry: HOST.into(),
                what: "the referrers of the image".into(),
                status: 503,
                detail: String::new(),
            });
        }
        Ok(Some(Vec::new()))
    }
    async fn tags(
        &self,
        repository: &Repository,
        _: usize,
    ) -> Result<(Vec<String>, bool), RegistryError> {
        let tags = self.tags.lock().unwrap();
        Ok((
            tags.get(&repository.name).cloned().unwrap_or_default(),
            false,
        ))
    }
}

/// ECR's answer to `DescribeImageScanFindings`, fixed per case.
struct Scan {
    status: &'static str,
    findings: Vec<Finding>,
}

#[async_trait]
impl ScanFindings for Scan {
    async fn describe(
        &self,
        _: &ScanTarget,
        _: Option<&str>,
    ) -> Result<FindingsPage, EcrCallError> {
        Ok(FindingsPage {
            status: Some(self.status.to_string()),
            status_description: None,
            findings: self.findings.clone(),
            next_token: None,
        })
    }
    async fn start_scan(&self, _: &ScanTarget) -> Result<(), EcrCallError> {
        Ok(())
    }
}

fn finding(id: &str, severity: Severity) -> Finding {
    Finding {
        id: id.to_string(),
        severity,
        reported_severity: severity.as_str().to_string(),
        scan: ScanKind::Basic,
        status: None,
        score: None,
        fix_available: None,
        exploit_available: None,
        package: Some("openssl".into()),
        version: Some("3.0.1".into()),
        fixed_in: None,
        link: None,
    }
}

fn policy(mode: &str, extra: &str) -> String {
    let public = key(TRUSTED_KEY).public_pem().replace('\n', "\n          ");
    format!(
        r#"
name: prod
images: ["{HOST}/app"]
mode: {mode}
signatures:
  authorities:
    - name: release
      transparencyLog: optional
      key: |
          {public}
vulnerabilities:
  source: ecr
  maxSeverity: HIGH
  ignore:
    - id: CVE-2020-0001
      reason: accepted until the vendor ships a fix
      expires: "2020-01-31"
baseImages:
  allow: ["{HOST}/base:1.*"]
{extra}"#
    )
}

struct Case {
    policy: String,
    store: Store,
    scan: Scan,
    image: String,
}

/// The standard world: base `base:1.0` (one layer), image `app:v1` built on it (two layers),
/// signed by the trusted key, scanned with one LOW finding.
fn world() -> Case {
    let store = Store::default();
    store.put_image("base", "1.0", &[b"base layer"]);
    let digest = store.put_image("app", "v1", &[b"base layer", b"app layer"]);
    store.sign("app", &digest, &key(TRUSTED_KEY));
    Case {
        policy: policy("enforce", ""),
        store,
        scan: Scan {
            status: "COMPLETE",
            findings: vec![finding("CVE-2024-0001", Severity::Low)],
        },
        image: format!("{HOST}/app:v1"),
    }
}

fn decide(case: Case) -> Decision {
    let policy = Policy::from_yaml(&case.policy, std::path::Path::new("prod.yaml")).unwrap();
    let gate = Gate::new(
        PolicySet::new(vec![policy]).unwrap(),
        Arc::new(case.store),
        Arc::new(case.scan),
        Arc::new(Verifier::new(Arc::new(TrustRoot::public_good().unwrap()))),
        GateSettings::default(),
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut d = rt
        .block_on(gate.decide(&DecisionRequest {
            image: case.image,
            policy: None,
        }))
        .unwrap();
    d.evaluated_at = "[evaluated_at]".into();
    d.duration_ms = 0;
    assert_typed_evidence(&d);
    d
}

/// Every check's evidence reads back as the typed report of its family (what adapters use).
fn assert_typed_evidence(d: &Decision) {
    use shipgate::evaluate::{
        BaseImageReport, ProvenanceReport, SignatureReport, VulnerabilityReport,
    };
    for c in d.checks.iter() {
        let typed = match c.check.as_str() {
            "signature" => c.report::<SignatureReport>().is_some(),
            "provenance" => c.report::<ProvenanceReport>().is_some(),
            "vulnerabilities" => c.report::<VulnerabilityReport>().is_some(),
            "base-image" => c.report::<BaseImageReport>().is_some(),
            _ => c.evidence.is_null(),
        };
        assert!(
            typed,
            "{} evidence is not its typed report: {}",
            c.check, c.evidence
        );
    }
}

/// Both forms of one decision, as one snapshot each.
fn snapshot(name: &str, case: Case) {
    let d = decide(case);
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| {
        insta::assert_snapshot!(
            format!("{name}.json"),
            serde_json::to_string_pretty(&d).unwrap()
        );
        insta::assert_snapshot!(format!("{name}.txt"), d.to_text());
    });
}

#[test]
fn pass() {
    snapshot("pass", world());
}

#[test]
fn signature_missing() {
    let mut case = world();
    case.store = Store::default();
    case.store.put_image("base", "1.0", &[b"base layer"]);
    case.store
        .put_image("app", "v1", &[b"base layer", b"app layer"]);
    snapshot("signature-missing", case);
}

#[test]
fn signature_by_an_untrusted_key() {
    let mut case = world();
    case.store = Store::default();
    case.store.put_image("base", "1.0", &[b"base layer"]);
    let digest = case
        .store
        .put_image("app", "v1", &[b"base layer", b"app layer"]);
    case.store.sign("app", &digest, &key(OTHER_KEY));
    snapshot("signature-untrusted-key", case);
}

#[test]
fn finding_over_budget() {
    let mut case = world();
    case.scan
        .findings
        .push(finding("CVE-2024-9999", Severity::Critical));
    snapshot("finding-over-budget", case);
}

#[test]
fn expired_ignore_counts() {
    let mut case = world();
    case.scan
        .findings
        .push(finding("CVE-2020-0001", Severity::Critical));
    snapshot("ignore-expired", case);
}

#[test]
fn scan_pending() {
    let mut case = world();
    case.scan = Scan {
        status: "IN_PROGRESS",
        findings: Vec::new(),
    };
    snapshot("scan-pending", case);
}

#[test]
fn base_not_allowed() {
    let mut case = world();
    case.store = Store::default();
    case.store.put_image("base", "1.0", &[b"base layer"]);
    let digest = case
        .store
        .put_image("app", "v1", &[b"other base", b"app layer"]);
    case.store.sign("app", &digest, &key(TRUSTED_KEY));
    snapshot("base-not-allowed", case);
}

#[test]
fn provenance_missing() {
    let mut case = world();
    let public = key(TRUSTED_KEY).public_pem().replace('\n', "\n          ");
    case.policy = policy(
        "enforce",
        &format!(
            "provenance:\n  authorities:\n    - name: builder\n      transparencyLog: optional\n      key: |\n          {public}\n  sourceRepository: https://github.com/acme/app\n"
        ),
    );
    snapshot("provenance-missing", case);
}

#[test]
fn evidence_unavailable_is_an_error() {
    let mut case = world();
    case.store = Store {
        referrers_fail: true,
        ..Store::default()
    };
    case.store.put_image("base", "1.0", &[b"base layer"]);
    case.store
        .put_image("app", "v1", &[b"base layer", b"app layer"]);
    snapshot("evidence-unavailable", case);
}

#[test]
fn tag_that_does_not_resolve() {
    let mut case = world();
    case.image = format!("{HOST}/app:missing");
    snapshot("resolve-failed", case);
}

#[test]
fn audit_mode_reports_but_passes() {
    let mut case = world();
    case.policy = policy("audit", "");
    case.scan
        .findings
        .push(finding("CVE-2024-9999", Severity::Critical));
    snapshot("audit", case);
}

#[test]
fn unmatched_image() {
    let mut case = world();
    case.image = format!("{HOST}/other:v1");
    snapshot("unmatched", case);
}

// Recorded after the core refactor (issue 11): outcomes the first set did not cover.

#[test]
fn base_denied() {
    let mut case = world();
    case.policy = case.policy.replace(
        &format!("  allow: [\"{HOST}/base:1.*\"]\n"),
        &format!("  allow: [\"{HOST}/base:1.*\"]\n  deny: [\"{HOST}/base:1.0\"]\n"),
    );
    snapshot("base-denied", case);
}

#[test]
fn scan_unusable() {
    let mut case = world();
    case.scan = Scan {
        status: "UNSUPPORTED_IMAGE",
        findings: Vec::new(),
    };
    snapshot("scan-unusable", case);
}

/// `onError: audit`: a pending scan is reported as `error` and the image passes.
#[test]
fn on_error_audit_reports_a_pending_scan_and_passes() {
    let mut case = world();
    case.policy = case
        .policy
        .replace("mode: enforce\n", "mode: enforce\nonError: audit\n");
    case.scan = Scan {
        status: "IN_PROGRESS",
        findings: Vec::new(),
    };
    let d = decide(case);
    assert!(d.passed(), "{}", d.to_text());
    assert!(d
        .checks
        .iter()
        .any(|c| c.code == shipgate::decision::CheckCode::ScanPending
            && c.result == shipgate::decision::CheckResult::Error));
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| {
        insta::assert_snapshot!("on-error-audit.txt", d.to_text());
    });
}
