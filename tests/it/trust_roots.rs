//! Several named Sigstore trusted roots in one gate, end to end through the real `shipgate`
//! binary: two private Sigstore instances made in the test sign one image in a real
//! `docker-registry`, and each authority is judged by the root it names (`trustRoot:`). Also
//! GitHub's own instance (the built-in `github` root) with its real attestation, and the
//! TUF-refreshed root for `shipgate check` from a loopback TUF repository signed in the test.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::cosign::attach_legacy_signature;
use crate::common::oci::push_image;
use crate::common::private_sigstore::PrivateSigstore;
use crate::common::registry::TestRegistry;

const ISSUER: &str = "https://token.actions.githubusercontent.com";
const ALPHA_CI: &str = "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main";
const BETA_CI: &str = "https://github.com/acme/app/.github/workflows/attest.yml@refs/heads/main";

/// An image in `reg` signed twice (legacy cosign layers): by `ALPHA_CI` through the `alpha`
/// instance and by `BETA_CI` through `beta`. Returns `host/team/app:v1`.
fn doubly_signed(reg: &TestRegistry, alpha: &PrivateSigstore, beta: &PrivateSigstore) -> String {
    let img = push_image(&reg.url(), "team/app", "v1");
    let reference = format!("{}/team/app", reg.host);
    let signed_at = time::OffsetDateTime::now_utc() - time::Duration::minutes(30);
    let t = (signed_at + time::Duration::minutes(1)).unix_timestamp();
    let layers = [(alpha, ALPHA_CI), (beta, BETA_CI)]
        .iter()
        .enumerate()
        .map(|(i, (sigstore, identity))| {
            let signer = sigstore.keyless_signer(identity, ISSUER, signed_at);
            sigstore.keyless_legacy_layer(&signer, &reference, &img.digest, t, 10 + i as u64)
        })
        .collect();
    attach_legacy_signature(&reg.url(), "team/app", &img.digest, layers);
    format!("{reference}:v1")
}

/// A policy requiring both CI identities (threshold 2), each under the root it names.
fn policy(host: &str, alpha_root: &str, beta_root: &str) -> String {
    format!(
        "name: two-roots\nimages: [\"{host}/**\"]\nsignatures:\n  threshold: 2\n  authorities:\n\
         \x20   - name: release\n      trustRoot: {alpha_root}\n      keyless:\n        issuer: {ISSUER}\n        subject: {ALPHA_CI}\n\
         \x20   - name: attest\n      trustRoot: {beta_root}\n      keyless:\n        issuer: {ISSUER}\n        subject: {BETA_CI}\n"
    )
}

struct Setup {
    reg: TestRegistry,
    image: String,
    dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Setup {
        let reg = TestRegistry::start();
        let (alpha, beta) = (PrivateSigstore::new(), PrivateSigstore::new());
        let image = doubly_signed(&reg, &alpha, &beta);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("alpha.json"), alpha.trusted_root_json()).unwrap();
        std::fs::write(dir.path().join("beta.json"), beta.trusted_root_json()).unwrap();
        Setup { reg, image, dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write_policy(&self, yaml: &str) -> PathBuf {
        let path = self.path("policy.yaml");
        std::fs::write(&path, yaml).unwrap();
        path
    }

    /// `shipgate check IMAGE --policy P --insecure-registry HOST ARGS…`: (exit code, stdout
    /// JSON or text, stderr).
    fn check(&self, policy: &Path, args: &[&str]) -> (Option<i32>, String, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_shipgate"))
            .args(["check", &self.image, "--output", "json", "--policy"])
            .arg(policy)
            .args(["--insecure-registry", &self.reg.host])
            .args(args)
            .env_remove("SHIPGATE_TRUST_ROOTS")
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn roots_flags(&self) -> Vec<String> {
        vec![
            "--trust-root".into(),
            format!("alpha={}", self.path("alpha.json").display()),
            "--trust-root".into(),
            format!("beta={}", self.path("beta.json").display()),
        ]
    }
}

fn signature_check(json: &str) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {json}"));
    v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "signature")
        .cloned()
        .unwrap_or_else(|| panic!("no signature check: {json}"))
}

#[test]
fn each_authority_is_judged_by_the_root_it_names() {
    let s = Setup::new();
    let flags = s.roots_flags();
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let (code, out, err) = s.check(
        &s.write_policy(&policy(&s.reg.host, "alpha", "beta")),
        &flags,
    );
    assert_eq!(code, Some(0), "{out}{err}");
    let check = signature_check(&out);
    assert_eq!(check["result"], "pass", "{check}");

    // The same roots from the environment (what the Lambda and the GitHub step read).
    let env = format!(
        "alpha={},beta={}",
        s.path("alpha.json").display(),
        s.path("beta.json").display()
    );
    let out = Command::new(env!("CARGO_BIN_EXE_shipgate"))
        .args(["check", &s.image, "--policy"])
        .arg(s.path("policy.yaml"))
        .args(["--insecure-registry", &s.reg.host])
        .env("SHIPGATE_TRUST_ROOTS", env)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_signature_is_not_accepted_under_another_root() {
    let s = Setup::new();
    let flags = s.roots_flags();
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    // `attest` now names alpha: beta's certificate does not chain to alpha's CA.
    let (code, out, err) = s.check(
        &s.write_policy(&policy(&s.reg.host, "alpha", "alpha")),
        &flags,
    );
    assert_eq!(code, Some(1), "{out}{err}");
    let check = signature_check(&out);
    assert_eq!(check["result"], "fail", "{check}");
    let reason = check["reason"].as_str().unwrap();
    assert!(reason.contains("1 of the 2 required"), "{reason}");
    assert!(reason.contains("`attest`"), "{reason}");
    // Swapped roots: neither counts.
    let (code, out, _) = s.check(
        &s.write_policy(&policy(&s.reg.host, "beta", "alpha")),
        &flags,
    );
    assert_eq!(code, Some(1), "{out}");
    assert!(
        signature_check(&out)["reason"]
            .as_str()
            .unwrap()
            .contains("0 of the 2 required"),
        "{out}"
    );
    // No `trustRoot`: the main root (here the embedded public-good one) judges; it knows
    // neither private CA.
    let yaml = policy(&s.reg.host, "alpha", "beta").replace("      trustRoot: alpha\n", "");
    let (code, out, _) = s.check(&s.write_policy(&yaml), &flags);
    assert_eq!(code, Some(1), "{out}");
    // …and with alpha as the main root the unnamed authority passes again.
    let mut main = flags.clone();
    let alpha = s.path("alpha.json").display().to_string();
    main.extend(["--trusted-root", alpha.as_str()]);
    let (code, out, err) = s.check(&s.write_policy(&yaml), &main);
    assert_eq!(code, Some(0), "{out}{err}");
}

#[test]
fn roots_that_cannot_serve_the_policy_are_refused_before_deciding() {
    let s = Setup::new();
    let flags = s.roots_flags();
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    // A name no root has: exit 2 naming it and how to configure it.
    let (code, out, err) = s.check(
        &s.write_policy(&policy(&s.reg.host, "alpha", "gamma")),
        &flags,
    );
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(err.contains("trustRoot `gamma` is not configured"), "{err}");
    assert!(err.contains("--trust-root gamma=FILE"), "{err}");
    assert!(
        err.contains("signatures.authorities[1] (`attest`)"),
        "{err}"
    );
    // GitHub's instance has no transparency log: requiring a log proof from it is refused…
    let (code, _, err) = s.check(
        &s.write_policy(&policy(&s.reg.host, "alpha", "github")),
        &flags,
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("trustRoot `github` has no transparency log"),
        "{err}"
    );
    assert!(err.contains("transparencyLog: optional"), "{err}");
    // …and with `transparencyLog: optional` the policy loads; beta's signature does not chain
    // to GitHub's CA, so it fails (exit 1), not a usage error.
    let yaml = policy(&s.reg.host, "alpha", "github").replace(
        "    - name: attest\n",
        "    - name: attest\n      transparencyLog: optional\n",
    );
    let (code, out, err) = s.check(&s.write_policy(&yaml), &flags);
    assert_eq!(code, Some(1), "{out}{err}");
    // Malformed flags and names.
    for bad in ["alpha", "Alpha=x.json", "alpha="] {
        let (code, _, err) = s.check(&s.path("policy.yaml"), &["--trust-root", bad]);
        assert_eq!(code, Some(2), "{bad}: {err}");
        assert!(err.contains("--trust-root"), "{bad}: {err}");
    }
    let (code, _, err) = s.check(
        &s.path("policy.yaml"),
        &["--trust-root", "alpha=/nonexistent/root.json"],
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("trust root `alpha`") && err.contains("cannot read"),
        "{err}"
    );
    // A bad name in the policy is refused by `policy validate`, with its line.
    let yaml = policy(&s.reg.host, "alpha", "../beta");
    let path = s.write_policy(&yaml);
    let out = Command::new(env!("CARGO_BIN_EXE_shipgate"))
        .args(["policy", "validate"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("trustRoot") && err.contains("not a trust root name"),
        "{err}"
    );
}

/// The serve configuration's `trustRoots` (relative to the config file) feed the same check.
#[test]
fn the_serve_config_names_roots_relative_to_itself() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("roots")).unwrap();
    std::fs::write(
        dir.path().join("roots/beta.json"),
        PrivateSigstore::new().trusted_root_json(),
    )
    .unwrap();
    let config = dir.path().join("shipgate.yaml");
    std::fs::write(&config, "trustRoots:\n  beta: roots/beta.json\n").unwrap();
    let loaded = shipgate::config::ServeConfig::load(&config).unwrap();
    assert_eq!(
        loaded.trust_roots["beta"],
        dir.path().join("roots/beta.json")
    );
    std::fs::write(&config, "trustRoots:\n  Beta!: roots/beta.json\n").unwrap();
    let err = shipgate::config::ServeConfig::load(&config)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("trustRoots") && err.contains("`Beta!`"),
        "{err}"
    );
}

/// GitHub's own Sigstore instance, built in as `github`: its real attestation (a private
/// repository's provenance, no transparency log) verifies for an authority naming `github`
/// beside an authority judged by the public-good root, in one call; the same authority without
/// `trustRoot` does not.
#[test]
fn the_built_in_github_root_verifies_githubs_real_attestation() {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use sha2::Digest as _;
    use shipgate::evidence::attestations::AttestationArtifact;
    use shipgate::evidence::BundleArtifact;
    use shipgate::policy::{Authority, Identity, Matcher, TlogRequirement};
    use shipgate::reference::Digest;
    use shipgate::verify::{FixedRoot, Subject, TrustRoot};

    use crate::common::replay::vectors_dir;

    let dir = vectors_dir().join("github-cli-attestation/test-data");
    let public_good: Arc<dyn shipgate::verify::TrustRootSource> =
        Arc::new(FixedRoot(Arc::new(TrustRoot::public_good().unwrap())));
    let verifier =
        shipgate::trust::named::verifier(public_good.clone(), public_good, &BTreeMap::new())
            .unwrap();
    let names: Vec<&str> = verifier.root_names().collect();
    assert_eq!(names, ["github", "public-good"]);

    let artifact =
        std::fs::read(dir.join("github_provenance_demo-0.0.12-py3-none-any.whl")).unwrap();
    let subject = Subject::of_bytes(
        Digest::of(&artifact),
        hex::encode(sha2::Sha512::digest(&artifact)),
    );
    let line = std::fs::read_to_string(
        dir.join("github_provenance_demo-0.0.12-py3-none-any-bundle.jsonl"),
    )
    .unwrap()
    .lines()
    .next()
    .unwrap()
    .to_string();
    let bundle = AttestationArtifact::Bundle(BundleArtifact {
        json: line.into_bytes(),
        media_type: "application/vnd.dev.sigstore.bundle.v0.3+json".into(),
        source: "test".into(),
    });
    let authority = |name: &str, root: Option<&str>| {
        Authority {
        name: name.into(),
        identity: Identity::Keyless {
            issuer: Matcher::Exact(ISSUER.into()),
            subject: Matcher::Exact(
                "https://github.com/actions/attest-demo/.github/workflows/build-python.yml@refs/heads/main"
                    .into(),
            ),
            claims: Vec::new(),
        },
        tlog: TlogRequirement::Optional,
        trust_root: root.map(str::to_string),
    }
    };
    let results = verifier.verify_attestation(
        &bundle,
        &subject,
        &[
            authority("main-root", None),
            authority("github", Some("github")),
            authority("public-good", Some("public-good")),
            authority("unknown", Some("ghes")),
        ],
    );
    assert_eq!(results.len(), 4);
    assert!(
        results[0].is_err(),
        "the public-good root must not know GitHub's CA"
    );
    let ok = results[1].as_ref().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ok.predicate_type, "https://slsa.dev/provenance/v1");
    assert!(results[2].is_err());
    let unknown = results[3].as_ref().unwrap_err().to_string();
    assert!(
        unknown.contains("`ghes`") && unknown.contains("`github`, `public-good`"),
        "{unknown}"
    );
}

/// `shipgate check --tuf-cache`: the main root comes from a TUF repository (signed in the test,
/// served on loopback, trusted through `--tuf-root`) that distributes the `alpha` instance's
/// trusted root. It is refreshed before deciding; with the mirror down the verified disk cache
/// serves; with neither, nothing is judged (a fail that says why), never a pass.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_takes_its_root_from_tuf_and_fails_closed_without_one() {
    use crate::common::tuf_repo::{Mirror, TufRepo};

    let s = tokio::task::spawn_blocking(Setup::new).await.unwrap();
    let repo = TufRepo::new().await;
    let alpha = std::fs::read(s.path("alpha.json")).unwrap();
    repo.publish(1, &alpha, jiff::SignedDuration::from_hours(24))
        .await;
    let mirror = Mirror::serve(repo.served.clone()).await;
    std::fs::write(s.path("tuf-root.json"), &repo.initial_root).unwrap();
    // One authority, judged by the main root.
    let yaml = format!(
        "name: tuf\nimages: [\"{}/**\"]\nsignatures:\n  authorities:\n    - name: release\n      \
         keyless:\n        issuer: {ISSUER}\n        subject: {ALPHA_CI}\n",
        s.reg.host
    );
    let policy = s.write_policy(&yaml);
    let root = s.path("tuf-root.json").display().to_string();
    let url = mirror.url.to_string();
    // The blocking `shipgate` run holds one worker; the mirror answers on the other.
    let check = |cache: &str| {
        let cache = s.path(cache).display().to_string();
        s.check(
            &policy,
            &[
                "--tuf-cache",
                &cache,
                "--tuf-mirror",
                &url,
                "--tuf-root",
                &root,
            ],
        )
    };

    let (code, out, err) = check("cache");
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(mirror.requests.load(std::sync::atomic::Ordering::SeqCst) > 0);
    assert!(s.path("cache").is_dir());

    mirror.set_up(false);
    let (code, out, err) = check("cache");
    assert_eq!(code, Some(0), "the verified disk cache serves: {out}{err}");
    assert!(err.contains("TUF refresh failed"), "{err}");

    // A fresh cache and no mirror: no root was ever verified, and a `--tuf-root` repository
    // has no embedded fallback.
    let (code, out, err) = check("empty-cache");
    assert_eq!(code, Some(1), "{out}{err}");
    let reason = signature_check(&out)["reason"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(reason.contains("trusted root is unavailable"), "{reason}");

    // --tuf-root without --tuf-cache is a usage error; so is a fixed main root with TUF.
    let (code, _, err) = s.check(&policy, &["--tuf-root", &root]);
    assert_eq!(code, Some(2), "{err}");
    let cache = s.path("cache").display().to_string();
    let alpha_file = s.path("alpha.json").display().to_string();
    let (code, _, err) = s.check(
        &policy,
        &["--tuf-cache", &cache, "--trusted-root", &alpha_file],
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("not both"), "{err}");
}
