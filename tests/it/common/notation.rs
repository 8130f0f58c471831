//! Notary Project (Notation) fixtures: signature manifests attached as OCI referrers the way
//! `notation sign` attaches them on a registry without the referrers API (the `sha256-<hex>`
//! tag-fallback index), trust stores and trust policies laid out as Notation's, and gates whose
//! policy has a Notation authority.
//!
//! Made for the end-to-end tests that come with real envelopes: `attach_signature` takes any
//! envelope bytes, `trust_store_with_ca` writes any certificate, `trust_policy_json` any
//! statement.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use shipgate::gate::{Gate, GateSettings};
use shipgate::policy::{Authority, Identity, Policy, PolicySet, SignaturePolicy, TlogRequirement};
use shipgate::reference::{Digest, Repository};
use shipgate::registry::{Descriptor as RegistryDescriptor, Manifest as RegistryManifest};
use shipgate::registry::{Registry, RegistryClient, RegistryConfig, RegistryError};
use shipgate::verify::notation::{
    TrustPolicy, TrustStores, TrustedIdentity, VerificationLevel, SIGNATURE_ARTIFACT_TYPE,
};
use shipgate::verify::notation_authority::{NotationAuthority, NotationKind, NotationTrust};
use shipgate::verify::{TrustRoot, Verifier};

use super::oci::{self, Descriptor, Index, Manifest};

pub const JWS: &str = "application/jose+json";
pub const COSE: &str = "application/cose";

/// Whether `verify::notation` is still the interface's stub (it answers "not implemented").
/// Tests that need Notation's files parsed (trust stores, trust policies, levels) wait for the
/// verifier; everything else runs today. Once it lands, this is false and they all run.
pub fn verifier_is_stub() -> bool {
    VerificationLevel::new("strict", &BTreeMap::new()).is_err_and(|e| e.contains("not implemented"))
}

/// Asserts that a rejection reason is the verifier's: it must mention `want` (e.g. `envelope`),
/// or, while the verifier is the stub, say that it is not implemented.
pub fn assert_verifier_reason(reason: &str, want: &str) {
    if verifier_is_stub() {
        assert!(reason.contains("not implemented"), "{reason}");
    } else {
        assert!(reason.contains(want), "reason lacks {want:?}: {reason}");
    }
}

/// Attaches `envelope` (its layer typed `layer_media_type`) to `image_digest` as a Notary
/// Project signature manifest, listed in the referrers tag-fallback index; returns the
/// signature manifest's digest.
pub fn attach_signature(
    url: &str,
    repo: &str,
    image_digest: &Digest,
    layer_media_type: &str,
    envelope: &[u8],
) -> Digest {
    let image = oci::get_manifest(url, repo, image_digest.as_str())
        .unwrap_or_else(|| panic!("{repo}@{image_digest} is not in the registry"));
    let image_media_type = image.media_type.split(';').next().unwrap_or_default();
    let subject = Descriptor::of(image_media_type, &image.bytes);
    let layer = oci::push_blob(url, repo, layer_media_type, envelope);
    let config = oci::push_blob(url, repo, oci::OCI_EMPTY, b"{}");
    let annotations = BTreeMap::from([(
        "io.cncf.notary.x509chain.thumbprint#S256".to_string(),
        "[\"0000000000000000000000000000000000000000000000000000000000000000\"]".to_string(),
    )]);
    let manifest = Manifest {
        schema_version: 2,
        media_type: Some(oci::OCI_MANIFEST.to_string()),
        artifact_type: Some(SIGNATURE_ARTIFACT_TYPE.to_string()),
        config,
        layers: vec![layer],
        subject: Some(subject),
        annotations: Some(annotations.clone()),
    };
    let bytes = manifest.to_bytes();
    let digest = Digest::of(&bytes);
    oci::push_manifest(url, repo, digest.as_str(), oci::OCI_MANIFEST, &bytes);
    let mut entry = Descriptor::of(oci::OCI_MANIFEST, &bytes);
    entry.artifact_type = Some(SIGNATURE_ARTIFACT_TYPE.to_string());
    entry.annotations = Some(annotations);
    let tag = image_digest.cosign_tag("");
    let mut index = match oci::get_manifest(url, repo, &tag) {
        Some(existing) => serde_json::from_slice::<Index>(&existing.bytes).expect("index"),
        None => Index::oci(Vec::new()),
    };
    index.manifests.retain(|d| d.digest != digest);
    index.manifests.push(entry);
    oci::push_manifest(url, repo, &tag, oci::OCI_INDEX, &index.to_bytes());
    digest
}

/// A self-signed CA certificate (PEM) with this subject common name.
pub fn ca_certificate(common_name: &str) -> String {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CountryName, "US");
    params
        .distinguished_name
        .push(rcgen::DnType::StateOrProvinceName, "WA");
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationName, "acme");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, common_name);
    let key = rcgen::KeyPair::generate().expect("key");
    params.self_signed(&key).expect("self-signed").pem()
}

/// Writes `cert_pem` as `root/KIND/NAME/root.pem` (Notation's layout); returns `KIND:NAME`.
pub fn trust_store_with_ca(root: &Path, kind: &str, name: &str, cert_pem: &str) -> String {
    let dir = root.join(kind).join(name);
    std::fs::create_dir_all(&dir).expect("trust store dir");
    std::fs::write(dir.join("root.pem"), cert_pem).expect("write certificate");
    format!("{kind}:{name}")
}

/// A Notation trust policy (version 1.0) of one statement.
pub fn trust_policy_json(
    name: &str,
    scopes: &[&str],
    level: &str,
    stores: &[&str],
    identities: &[&str],
) -> String {
    serde_json::json!({
        "version": "1.0",
        "trustPolicies": [{
            "name": name,
            "registryScopes": scopes,
            "signatureVerification": {"level": level},
            "trustStores": stores,
            "trustedIdentities": identities,
        }]
    })
    .to_string()
}

/// A Notation authority built from parts, without reading any file: strict (every step
/// enforced), any identity, no trust store. Nothing can verify against it; it makes the gate
/// collect and judge Notary Project signatures whatever state the verifier is in.
pub fn authority_from_parts(name: &str) -> Authority {
    let statement = TrustPolicy {
        name: name.into(),
        registry_scopes: vec!["*".into()],
        level: VerificationLevel {
            name: "strict".into(),
            actions: BTreeMap::new(),
        },
        trust_stores: Vec::new(),
        trusted_identities: vec![TrustedIdentity::Any],
    };
    Authority {
        name: name.into(),
        identity: Identity::Notation(Arc::new(NotationAuthority {
            kind: NotationKind::Notation,
            stores: TrustStores::new(),
            trust: NotationTrust::Statement(statement),
        })),
        tlog: TlogRequirement::Optional,
        trust_root: None,
    }
}

/// A policy for `host` whose `signatures` rule is `authorities` (threshold 1).
pub fn policy_with(host: &str, authorities: Vec<Authority>) -> Policy {
    // Any valid signatures section; it is replaced below.
    let yaml = format!(
        "name: notation\nimages: [\"{host}/**\"]\nsignatures:\n  authorities:\n    - name: placeholder\n      keyless:\n        issuer: https://issuer.example\n        subject: nobody\n"
    );
    let mut policy = Policy::from_yaml(&yaml, Path::new("notation.yaml")).expect("policy");
    policy.signatures = Some(SignaturePolicy {
        threshold: 1,
        authorities,
    });
    policy
}

/// The real registry client for a plain-HTTP test registry.
pub fn registry_client(host: &str) -> RegistryClient {
    RegistryClient::new(RegistryConfig {
        insecure_hosts: vec![host.to_string()],
        ..RegistryConfig::default()
    })
    .expect("registry client")
}

/// A gate over `registry` with one policy, no caching.
pub fn gate_over(registry: Arc<dyn Registry>, policy: Policy) -> Gate {
    Gate::new(
        PolicySet::new(vec![policy]).expect("policy set"),
        registry,
        Arc::new(shipgate::evidence::ecr_findings::AwsScanFindings::new()),
        Arc::new(Verifier::new(Arc::new(
            TrustRoot::public_good().expect("trust root"),
        ))),
        GateSettings {
            cache_pass_ttl: std::time::Duration::ZERO,
            cache_fail_ttl: std::time::Duration::ZERO,
            ..GateSettings::default()
        },
    )
}

/// A `Registry` that records every call (`manifest REF`, `blob DIGEST`, `referrers DIGEST`)
/// before passing it to the real client.
pub struct RecordingRegistry {
    pub inner: RegistryClient,
    pub calls: Mutex<Vec<String>>,
}

impl RecordingRegistry {
    pub fn new(inner: RegistryClient) -> RecordingRegistry {
        RecordingRegistry {
            inner,
            calls: Mutex::new(Vec::new()),
        }
    }

    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }

    fn record(&self, call: String) {
        self.calls.lock().unwrap().push(call);
    }
}

#[async_trait]
impl Registry for RecordingRegistry {
    async fn resolve(
        &self,
        repo: &Repository,
        reference: &str,
    ) -> Result<(Digest, String), RegistryError> {
        self.record(format!("resolve {reference}"));
        self.inner.resolve(repo, reference).await
    }
    async fn manifest(
        &self,
        repo: &Repository,
        reference: &str,
    ) -> Result<Option<RegistryManifest>, RegistryError> {
        self.record(format!("manifest {reference}"));
        self.inner.manifest(repo, reference).await
    }
    async fn blob(
        &self,
        repo: &Repository,
        digest: &Digest,
        max_bytes: usize,
    ) -> Result<Bytes, RegistryError> {
        self.record(format!("blob {digest}"));
        self.inner.blob(repo, digest, max_bytes).await
    }
    async fn referrers(
        &self,
        repo: &Repository,
        subject: &Digest,
    ) -> Result<Option<Vec<RegistryDescriptor>>, RegistryError> {
        self.record(format!("referrers {subject}"));
        self.inner.referrers(repo, subject).await
    }
}
