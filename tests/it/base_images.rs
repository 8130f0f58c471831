//! `baseImages`: the image's layers must begin with an allowed base's layers, against the real
//! registry (`docker-registry`), with images built "FROM" bases in the test.

use std::collections::BTreeMap;
use std::path::Path;

use shipgate::decision::{CheckResult, Decision};
use shipgate::policy::Policy;

use crate::common::oci::{
    image_config, push_blob, push_image, push_image_with_layers, push_index, push_manifest,
    random_layer, retag, Layer, Manifest, OCI_CONFIG, OCI_MANIFEST,
};
use crate::common::registry::TestRegistry;
use crate::gate_harness::{decide, gate};

fn policy(host: &str, allow: &[String], deny: &[String]) -> String {
    let list = |items: &[String]| -> String {
        items
            .iter()
            .map(|i| format!("    - \"{i}\"\n"))
            .collect::<String>()
    };
    let mut y = format!(
        "name: base\nimages: [\"{host}/app/**\"]\nbaseImages:\n  allow:\n{}",
        list(allow)
    );
    if !deny.is_empty() {
        y.push_str(&format!("  deny:\n{}", list(deny)));
    }
    y
}

fn base_check(d: &Decision) -> (CheckResult, String, serde_json::Value) {
    let c = d
        .checks
        .iter()
        .find(|c| c.check == "base-image")
        .unwrap_or_else(|| panic!("no base-image check in {}", d.to_text()));
    (c.result, c.reason.clone(), c.evidence.clone())
}

fn expect(d: &Decision, result: CheckResult, needles: &[&str]) {
    let (got, reason, _) = base_check(d);
    assert_eq!(got, result, "{}", d.to_text());
    assert_eq!(d.passed(), result == CheckResult::Pass, "{}", d.to_text());
    for n in needles {
        assert!(reason.contains(n), "reason lacks {n:?}:\n{}", d.to_text());
    }
}

/// An image of these layers with manifest annotations (e.g. `org.opencontainers.image.base.*`).
fn push_annotated(
    url: &str,
    repo: &str,
    tag: &str,
    layers: &[Layer],
    annotations: &[(&str, String)],
) {
    for l in layers {
        push_blob(url, repo, &l.descriptor.media_type, &l.data);
    }
    let config_bytes = image_config(layers);
    let config = push_blob(url, repo, OCI_CONFIG, &config_bytes);
    let mut manifest = Manifest::oci(
        config,
        layers.iter().map(|l| l.descriptor.clone()).collect(),
    );
    manifest.annotations = Some(
        annotations
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect::<BTreeMap<_, _>>(),
    );
    push_manifest(url, repo, tag, OCI_MANIFEST, &manifest.to_bytes());
}

#[test]
fn allowed_base_passes_and_forbidden_base_fails() {
    let reg = TestRegistry::start();
    let (url, host) = (reg.url(), reg.host.clone());
    let alpine = push_image(&url, "base/alpine", "3.19");
    let other = push_image(&url, "other/base", "1");
    push_image_with_layers(&url, "app/good", "v1", &alpine.layers, 2);
    push_image_with_layers(&url, "app/bad", "v1", &other.layers, 2);
    let g = gate(
        &host,
        &policy(&host, &[format!("{host}/base/alpine:3.*")], &[]),
        None,
    );

    let d = decide(&g, &format!("{host}/app/good:v1"));
    expect(
        &d,
        CheckResult::Pass,
        &[&format!(
            "built on {host}/base/alpine:3.19 ({})",
            alpine.digest
        )],
    );

    let d = decide(&g, &format!("{host}/app/bad:v1"));
    expect(
        &d,
        CheckResult::Fail,
        &[&format!(
            "no allowed base matched: compared with 1 candidate ({host}/base/alpine:3.19 ({}))",
            alpine.digest
        )],
    );
}

#[test]
fn an_annotation_alone_never_passes() {
    let reg = TestRegistry::start();
    let (url, host) = (reg.url(), reg.host.clone());
    let alpine = push_image(&url, "base/alpine", "3.19");
    // Claims alpine, but its layers are its own.
    push_annotated(
        &url,
        "app/liar",
        "v1",
        &[random_layer(true), random_layer(true), random_layer(true)],
        &[
            (
                "org.opencontainers.image.base.name",
                format!("{host}/base/alpine:3.19"),
            ),
            (
                "org.opencontainers.image.base.digest",
                alpine.digest.to_string(),
            ),
        ],
    );
    // Truthful: claims alpine and is built on it.
    let mut layers = alpine.layers.clone();
    layers.push(random_layer(true));
    push_annotated(
        &url,
        "app/honest",
        "v1",
        &layers,
        &[(
            "org.opencontainers.image.base.name",
            format!("{host}/base/alpine:3.19"),
        )],
    );
    let g = gate(
        &host,
        &policy(&host, &[format!("{host}/base/alpine:3.*")], &[]),
        None,
    );
    let d = decide(&g, &format!("{host}/app/liar:v1"));
    expect(
        &d,
        CheckResult::Fail,
        &[&format!(
            "the annotation claims base {host}/base/alpine:3.19 but the image's layers do not begin with its 2 layers"
        )],
    );
    let (_, _, evidence) = base_check(&d);
    assert_eq!(
        evidence["annotation"]["digest"],
        alpine.digest.as_str(),
        "{evidence}"
    );
    expect(
        &decide(&g, &format!("{host}/app/honest:v1")),
        CheckResult::Pass,
        &[&format!("built on {host}/base/alpine:3.19")],
    );
}

#[test]
fn repository_globs_check_only_the_annotated_base() {
    let reg = TestRegistry::start();
    let (url, host) = (reg.url(), reg.host.clone());
    let golden = push_image(&url, "golden/java", "21");
    let mut layers = golden.layers.clone();
    layers.push(random_layer(true));
    push_annotated(
        &url,
        "app/svc",
        "v1",
        &layers,
        &[
            (
                "org.opencontainers.image.base.name",
                format!("{host}/golden/java:21"),
            ),
            (
                "org.opencontainers.image.base.digest",
                golden.digest.to_string(),
            ),
        ],
    );
    // Built on golden but does not say so: a repository glob cannot find it.
    push_image_with_layers(&url, "app/quiet", "v1", &golden.layers, 1);
    // Claims a base on a host no pattern names: never fetched, so a fail (not a network error).
    push_annotated(
        &url,
        "app/elsewhere",
        "v1",
        &layers,
        &[(
            "org.opencontainers.image.base.name",
            "evil.invalid:5000/golden/java:21".to_string(),
        )],
    );
    let g = gate(
        &host,
        &policy(&host, &[format!("{host}/golden/**")], &[]),
        None,
    );
    expect(
        &decide(&g, &format!("{host}/app/svc:v1")),
        CheckResult::Pass,
        &[&format!(
            "built on {host}/golden/java:21 ({})",
            golden.digest
        )],
    );
    expect(
        &decide(&g, &format!("{host}/app/quiet:v1")),
        CheckResult::Fail,
        &["compared with 0 candidates", "annotation"],
    );
    expect(
        &decide(&g, &format!("{host}/app/elsewhere:v1")),
        CheckResult::Fail,
        &["evil.invalid:5000/golden/java:21, which no `baseImages.allow` pattern covers"],
    );
}

/// A SLSA v1 provenance for `subject` that lists `deps` (uri, sha256 digest) among the build's
/// inputs, attached as a legacy `.att` signed by a key no policy names: hints are discovery only.
fn attach_provenance_listing(
    url: &str,
    repo: &str,
    subject: &shipgate::reference::Digest,
    deps: &[(String, String)],
) {
    use crate::common::attest::{attach_legacy_attestations, AttLayer};
    let statement = serde_json::json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": repo, "digest": {"sha256": subject.hex()}}],
        "predicateType": "https://slsa.dev/provenance/v1",
        "predicate": {
            "buildDefinition": {
                "buildType": "https://mobyproject.org/buildkit@v1",
                "externalParameters": {},
                "resolvedDependencies": deps.iter().map(|(uri, d)| serde_json::json!({
                    "uri": uri, "digest": {"sha256": d.trim_start_matches("sha256:")}
                })).collect::<Vec<_>>(),
            },
            "runDetails": {"builder": {"id": "https://example.com/buildkit"}},
        },
    });
    let key = crate::common::cosign::SigningKey::generate_p256();
    let layer = AttLayer::key_signed(&key, &serde_json::to_vec(&statement).unwrap());
    attach_legacy_attestations(url, repo, subject, vec![layer]);
}

#[test]
fn provenance_dependencies_find_candidates_for_repository_globs_but_layers_decide() {
    let reg = TestRegistry::start();
    let (url, host) = (reg.url(), reg.host.clone());
    let golden = push_image(&url, "golden/java", "21");
    let builder = push_image(&url, "tools/gradle", "8");
    // BuildKit's purl for the base, with the builder stage's image listed too.
    let deps = vec![
        (
            format!("pkg:docker/{host}/tools/gradle@8?platform=linux%2Famd64"),
            builder.digest.to_string(),
        ),
        (
            format!("pkg:docker/{host}/golden/java@21?platform=linux%2Famd64"),
            golden.digest.to_string(),
        ),
    ];
    // Built on golden, no annotation: only the provenance names the base.
    let quiet = push_image_with_layers(&url, "app/quiet", "v1", &golden.layers, 1);
    attach_provenance_listing(&url, "app/quiet", &quiet.digest, &deps);
    // Says it is built on golden, but its layers are its own.
    let liar = push_image_with_layers(&url, "app/liar", "v1", &[random_layer(true)], 1);
    attach_provenance_listing(&url, "app/liar", &liar.digest, &deps);
    let g = gate(
        &host,
        &policy(&host, &[format!("{host}/golden/**")], &[]),
        None,
    );

    let d = decide(&g, &format!("{host}/app/quiet:v1"));
    expect(
        &d,
        CheckResult::Pass,
        &[&format!(
            "built on {host}/golden/java:21 ({}), as its provenance says",
            golden.digest
        )],
    );
    let (_, _, evidence) = base_check(&d);
    assert_eq!(
        evidence["provenance_hints"].as_array().map(Vec::len),
        Some(2),
        "{evidence}"
    );

    let d = decide(&g, &format!("{host}/app/liar:v1"));
    expect(
        &d,
        CheckResult::Fail,
        &[&format!(
            "the provenance lists base {host}/golden/java:21 but the image's layers do not begin with its 2 layers"
        )],
    );
    // The builder stage's image is in no allowed repository: never fetched as a candidate.
    let (_, _, evidence) = base_check(&d);
    let candidates = evidence["allow"][0]["candidates"].as_array().unwrap();
    assert_eq!(candidates.len(), 1, "{evidence}");
}

/// The real registry client, except that the image's `.att` tag cannot be read.
struct AttestationsUnreadable(shipgate::registry::RegistryClient);

#[async_trait::async_trait]
impl shipgate::registry::Registry for AttestationsUnreadable {
    async fn resolve(
        &self,
        repo: &shipgate::reference::Repository,
        reference: &str,
    ) -> Result<(shipgate::reference::Digest, String), shipgate::registry::RegistryError> {
        self.0.resolve(repo, reference).await
    }
    async fn manifest(
        &self,
        repo: &shipgate::reference::Repository,
        reference: &str,
    ) -> Result<Option<shipgate::registry::Manifest>, shipgate::registry::RegistryError> {
        if reference.ends_with(".att") {
            return Err(shipgate::registry::RegistryError::Other(
                "HTTP 503 from the registry".into(),
            ));
        }
        self.0.manifest(repo, reference).await
    }
    async fn blob(
        &self,
        repo: &shipgate::reference::Repository,
        digest: &shipgate::reference::Digest,
        max: usize,
    ) -> Result<bytes::Bytes, shipgate::registry::RegistryError> {
        self.0.blob(repo, digest, max).await
    }
    async fn referrers(
        &self,
        repo: &shipgate::reference::Repository,
        subject: &shipgate::reference::Digest,
    ) -> Result<Option<Vec<shipgate::registry::Descriptor>>, shipgate::registry::RegistryError>
    {
        self.0.referrers(repo, subject).await
    }
    async fn tags(
        &self,
        repo: &shipgate::reference::Repository,
        limit: usize,
    ) -> Result<(Vec<String>, bool), shipgate::registry::RegistryError> {
        self.0.tags(repo, limit).await
    }
}

/// A repository pattern can only find the bases the image names; when its attestations cannot
/// be read, a base its provenance names may be missing, so "no base matched" is not a verdict.
#[test]
fn unreadable_attestations_make_a_repository_pattern_an_error_not_a_fail() {
    use std::sync::Arc;
    let reg = TestRegistry::start();
    let (url, host) = (reg.url(), reg.host.clone());
    let golden = push_image(&url, "golden/java", "21");
    push_image_with_layers(&url, "app/quiet", "v1", &golden.layers, 1);
    let policy_yaml = policy(&host, &[format!("{host}/golden/**")], &[]);
    let client = || {
        shipgate::registry::RegistryClient::new(shipgate::registry::RegistryConfig {
            insecure_hosts: vec![host.clone()],
            ..Default::default()
        })
        .unwrap()
    };
    let make = |registry: Arc<dyn shipgate::registry::Registry>| {
        shipgate::gate::Gate::new(
            shipgate::policy::PolicySet::new(vec![Policy::from_yaml(
                &policy_yaml,
                Path::new("p.yaml"),
            )
            .unwrap()])
            .unwrap(),
            registry,
            Arc::new(shipgate::evidence::ecr_findings::AwsScanFindings::new()),
            Arc::new(shipgate::verify::Verifier::new(Arc::new(
                shipgate::verify::TrustRoot::public_good().unwrap(),
            ))),
            shipgate::gate::GateSettings::default(),
        )
    };
    // Readable and empty: a fail, the image names no base.
    expect(
        &decide(&make(Arc::new(client())), &format!("{host}/app/quiet:v1")),
        CheckResult::Fail,
        &["compared with 0 candidates"],
    );
    // Unreadable: an error that says why.
    expect(
        &decide(
            &make(Arc::new(AttestationsUnreadable(client()))),
            &format!("{host}/app/quiet:v1"),
        ),
        CheckResult::Error,
        &[
            "the image's attestations could not all be read, so a base its provenance names may be missing",
            "HTTP 503",
        ],
    );
}

#[test]
fn deny_wins_over_allow() {
    let reg = TestRegistry::start();
    let (url, host) = (reg.url(), reg.host.clone());
    let bad = push_image(&url, "base/old", "1.0");
    // A golden image (allowed) built on a denied base, and an app built on the golden image.
    let golden = push_image_with_layers(&url, "golden/app-base", "2024", &bad.layers, 1);
    push_image_with_layers(&url, "app/svc", "v1", &golden.layers, 1);
    let good = push_image(&url, "golden/clean", "2024");
    push_image_with_layers(&url, "app/clean", "v1", &good.layers, 1);
    let allow = [
        format!("{host}/golden/app-base:*"),
        format!("{host}/golden/clean:*"),
    ];
    let deny = [format!("{host}/base/old@{}", bad.digest)];
    let g = gate(&host, &policy(&host, &allow, &deny), None);
    expect(
        &decide(&g, &format!("{host}/app/svc:v1")),
        CheckResult::Fail,
        &[
            &format!("built on denied base {host}/base/old@{}", bad.digest),
            "`deny` wins",
        ],
    );
    expect(
        &decide(&g, &format!("{host}/app/clean:v1")),
        CheckResult::Pass,
        &[&format!("built on {host}/golden/clean:2024")],
    );
}

#[test]
fn tag_globs_select_only_matching_tags() {
    let reg = TestRegistry::start();
    let (url, host) = (reg.url(), reg.host.clone());
    let v3 = push_image(&url, "base/alpine", "3.19");
    retag(&url, "base/alpine", &v3.digest, "3.19.1");
    let v4 = push_image(&url, "base/alpine", "4.0");
    let edge = push_image(&url, "base/alpine", "edge");
    push_image_with_layers(&url, "app/on3", "v1", &v3.layers, 1);
    push_image_with_layers(&url, "app/on4", "v1", &v4.layers, 1);
    push_image_with_layers(&url, "app/onedge", "v1", &edge.layers, 1);
    let g = gate(
        &host,
        &policy(&host, &[format!("{host}/base/alpine:3.*")], &[]),
        None,
    );
    let d = decide(&g, &format!("{host}/app/on3:v1"));
    expect(&d, CheckResult::Pass, &[&format!("({})", v3.digest)]);
    let (_, _, evidence) = base_check(&d);
    let mut names: Vec<String> = evidence["allow"][0]["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    assert_eq!(
        names,
        vec![
            format!("{host}/base/alpine:3.19"),
            format!("{host}/base/alpine:3.19.1")
        ],
        "{evidence}"
    );
    for app in ["on4", "onedge"] {
        expect(
            &decide(&g, &format!("{host}/app/{app}:v1")),
            CheckResult::Fail,
            &["no allowed base matched: compared with 2 candidates"],
        );
    }
}

#[test]
fn multi_arch_images_are_compared_per_platform() {
    let reg = TestRegistry::start();
    let (url, host) = (reg.url(), reg.host.clone());
    // A two-platform base (linux/amd64, linux/arm64/v8).
    let amd = push_image(&url, "base/multi", "amd64-only");
    let arm = push_image(&url, "base/multi", "arm64-only");
    let base = push_index(
        &url,
        "base/multi",
        "1.0",
        &[amd.digest.clone(), arm.digest.clone()],
    );

    let app_amd = push_image_with_layers(&url, "app/multi", "amd", &amd.layers, 1);
    let app_arm = push_image_with_layers(&url, "app/multi", "arm", &arm.layers, 1);
    push_index(
        &url,
        "app/multi",
        "v1",
        &[app_amd.digest.clone(), app_arm.digest.clone()],
    );
    // The arm64 image is built on the amd64 base's layers: wrong for its platform.
    let wrong_arm = push_image_with_layers(&url, "app/multi", "arm-wrong", &amd.layers, 1);
    push_index(
        &url,
        "app/multi",
        "v2",
        &[app_amd.digest.clone(), wrong_arm.digest.clone()],
    );
    let g = gate(
        &host,
        &policy(&host, &[format!("{host}/base/multi:1.*")], &[]),
        None,
    );
    expect(
        &decide(&g, &format!("{host}/app/multi:v1")),
        CheckResult::Pass,
        &[&format!(
            "built on {host}/base/multi:1.0 ({base}) (all 2 platforms)"
        )],
    );
    let d = decide(&g, &format!("{host}/app/multi:v2"));
    expect(
        &d,
        CheckResult::Fail,
        &["linux/arm64/v8: no allowed base matched: compared with 1 candidate"],
    );
    let (_, reason, _) = base_check(&d);
    assert!(!reason.contains("linux/amd64:"), "{reason}");
}

#[test]
fn registry_errors_while_resolving_candidates_are_errors() {
    let reg = TestRegistry::start();
    let (url, host) = (reg.url(), reg.host.clone());
    let other = push_image(&url, "other/base", "1");
    push_image_with_layers(&url, "app/x", "v1", &other.layers, 1);
    let alpine = push_image(&url, "base/alpine", "3.19");
    push_image_with_layers(&url, "app/y", "v1", &alpine.layers, 1);
    // A registry that refuses connections, and a repository that does not exist.
    let closed = format!("127.0.0.1:{}", crate::common::registry::free_port());
    for pattern in [
        format!("{closed}/base/alpine:3.*"),
        format!("{host}/no/such:3.*"),
    ] {
        let g = gate(
            &host,
            &policy(&host, std::slice::from_ref(&pattern), &[]),
            None,
        );
        expect(
            &decide(&g, &format!("{host}/app/x:v1")),
            CheckResult::Error,
            &["could not be resolved, so this is not a verdict"],
        );
    }
    // A deny list that cannot be read makes an otherwise allowed image an error, not a pass.
    let g = gate(
        &host,
        &policy(
            &host,
            &[format!("{host}/base/alpine:3.*")],
            &[format!("{closed}/base/bad:*")],
        ),
        None,
    );
    expect(
        &decide(&g, &format!("{host}/app/y:v1")),
        CheckResult::Error,
        &["a denied base cannot be ruled out"],
    );
}

#[test]
fn policy_errors_name_field_and_line() {
    let load = |y: &str| {
        Policy::from_yaml(y, Path::new("p.yaml"))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    };
    let block = "name: p\nimages: [\"r.io/app/**\"]\nbaseImages:\n  allow:\n    - \"r.io/base/alpine:3.*\"\n    - \"r.io/base/alpine:[\"\n";
    let e = load(block);
    assert!(e.contains("baseImages.allow[1]"), "{e}");
    assert!(e.contains("line 6"), "{e}");
    let flow = "name: p\nimages: [\"r.io/app/**\"]\nbaseImages:\n  allow: [\"r.io/base/*:3.*\"]\n";
    let e = load(flow);
    assert!(e.contains("baseImages.allow[0]"), "{e}");
    assert!(e.contains("literal repository"), "{e}");
    assert!(e.contains("line 4"), "{e}");
    let deny = "name: p\nimages: [\"r.io/app/**\"]\nbaseImages:\n  allow: [\"r.io/base/alpine:3.*\"]\n  deny:\n    - \"alpine:3\"\n";
    let e = load(deny);
    assert!(e.contains("baseImages.deny[0]"), "{e}");
    assert!(e.contains("line 6"), "{e}");
    let empty = "name: p\nimages: [\"r.io/app/**\"]\nbaseImages:\n  allow: []\n";
    assert!(load(empty).contains("baseImages.allow"), "{}", load(empty));
    let unknown =
        "name: p\nimages: [\"r.io/app/**\"]\nbaseImages:\n  allow: [\"r.io/b:1\"]\n  alow: []\n";
    assert!(load(unknown).contains("alow"), "{}", load(unknown));
    // A policy with only `baseImages` is complete.
    let ok = "name: p\nimages: [\"r.io/app/**\"]\nbaseImages:\n  allow: [\"r.io/base/alpine:3.*\", \"r.io/golden/**\"]\n";
    assert_eq!(load(ok), "");
}

#[test]
fn tag_lists_are_bounded_and_say_so() {
    let reg = TestRegistry::start();
    let (url, host) = (reg.url(), reg.host.clone());
    let base = push_image(&url, "base/many", "t000");
    for n in 1..105 {
        retag(&url, "base/many", &base.digest, &format!("t{n:03}"));
    }
    push_image_with_layers(&url, "app/early", "v1", &base.layers, 1);
    let g = gate(
        &host,
        &policy(&host, &[format!("{host}/base/many:*")], &[]),
        None,
    );
    let d = decide(&g, &format!("{host}/app/early:v1"));
    expect(
        &d,
        CheckResult::Pass,
        &[
            &format!("built on {host}/base/many:t"),
            base.digest.as_str(),
        ],
    );
    let (_, _, evidence) = base_check(&d);
    let notes = evidence["allow"][0]["notes"].to_string();
    assert!(
        notes.contains(
            "has more than 100 tags; only the first 100 in the registry's order were considered"
        ),
        "{evidence}"
    );
    assert!(
        notes.contains("only the first 20 were resolved"),
        "{evidence}"
    );
    assert_eq!(
        evidence["allow"][0]["candidates"].as_array().unwrap().len(),
        20,
        "{evidence}"
    );

    // The client's tag listing itself: bounded, truncation reported.
    let client = shipgate::registry::RegistryClient::new(shipgate::registry::RegistryConfig {
        insecure_hosts: vec![host.clone()],
        ..Default::default()
    })
    .unwrap();
    let repo = |name: &str| shipgate::reference::Repository {
        registry: host.clone(),
        name: name.into(),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    use shipgate::registry::Registry as _;
    let (tags, truncated) = rt.block_on(client.tags(&repo("base/many"), 3)).unwrap();
    assert_eq!(tags.len(), 3);
    assert!(tags.iter().all(|t| t.starts_with('t')), "{tags:?}");
    assert!(truncated);
    let (mut tags, truncated) = rt.block_on(client.tags(&repo("base/many"), 105)).unwrap();
    assert!(!truncated);
    tags.sort();
    let want: Vec<String> = (0..105).map(|n| format!("t{n:03}")).collect();
    assert_eq!(tags, want);
    assert!(rt.block_on(client.tags(&repo("no/such"), 3)).is_err());
}

/// Issue 10: a `deny` repository glob is matched only against a base the image names, so an
/// image built on a denied base that names none passed. Such patterns are refused at load;
/// the same base denied by a tag glob (listed from the registry) fails the image.
#[test]
fn a_deny_rule_cannot_be_dodged_by_omitting_the_base_annotation() {
    let reg = TestRegistry::start();
    let (url, host) = (reg.url(), reg.host.clone());
    let bad = push_image(&url, "base/old", "1.0");
    let good = push_image(&url, "golden/clean", "2024");
    // Built on the denied base (its layers first), names no base anywhere.
    push_image_with_layers(&url, "app/sneaky", "v1", &bad.layers, 1);
    let allow = [format!("{host}/base/**"), format!("{host}/golden/clean:*")];

    let glob_deny = policy(&host, &allow, &[format!("{host}/base/**")]);
    let e = Policy::from_yaml(&glob_deny, Path::new("p.yaml"))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("baseImages.deny[0]"), "{e}");
    assert!(e.contains("repository glob"), "{e}");
    assert!(e.contains("tag glob or digest"), "{e}");

    let tag_deny = policy(&host, &allow, &[format!("{host}/base/old:*")]);
    let g = gate(&host, &tag_deny, None);
    expect(
        &decide(&g, &format!("{host}/app/sneaky:v1")),
        CheckResult::Fail,
        &[&format!("built on denied base {host}/base/old:1.0")],
    );
    // A clean image still passes under the same deny list.
    push_image_with_layers(&url, "app/clean", "v1", &good.layers, 1);
    expect(
        &decide(&g, &format!("{host}/app/clean:v1")),
        CheckResult::Pass,
        &[&format!("built on {host}/golden/clean:2024")],
    );
}

/// Issue 10: a deny tag glob over more tags than are listed cannot rule a denied base out: the
/// check is an error that names the bound, not a pass.
#[test]
fn a_deny_list_cut_short_by_a_bound_is_an_error() {
    let reg = TestRegistry::start();
    let (url, host) = (reg.url(), reg.host.clone());
    let old = push_image(&url, "base/old", "t000");
    for n in 1..105 {
        retag(&url, "base/old", &old.digest, &format!("t{n:03}"));
    }
    let good = push_image(&url, "golden/clean", "2024");
    push_image_with_layers(&url, "app/clean", "v1", &good.layers, 1);
    let g = gate(
        &host,
        &policy(
            &host,
            &[format!("{host}/golden/clean:*")],
            &[format!("{host}/base/old:*")],
        ),
        None,
    );
    let d = decide(&g, &format!("{host}/app/clean:v1"));
    expect(
        &d,
        CheckResult::Error,
        &[
            "could not decide",
            "limit MAX_TAGS_LISTED",
            "limit MAX_TAGS_RESOLVED",
        ],
    );
}
