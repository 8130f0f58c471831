//! The Sigstore trusted root refreshed through TUF (`shipgate::trust`), against TUF repositories
//! signed in the test and served over loopback: first fetch, updates, rollback, expiry,
//! tampering, an unreachable mirror, restarts from the disk cache, foreign root keys; and
//! tough against Sigstore's real, signed metadata.

use std::borrow::Cow;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

use jiff::SignedDuration;
use shipgate::trust::{RootSource, TufError, TufOptions, TufTrustRoot};

use crate::common::tuf_repo::{
    self, closed_port_url, Mirror, TufRepo, TRUSTED_ROOT_A, TRUSTED_ROOT_B,
};

const DAY: SignedDuration = SignedDuration::from_hours(24);

fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(bytes))
}

fn options(repo: &TufRepo, mirror: url::Url, cache: &Path) -> TufOptions {
    TufOptions {
        mirror,
        cache_dir: cache.to_path_buf(),
        embedded_root: Cow::Owned(repo.initial_root.clone()),
        timeout: Duration::from_secs(10),
        max_target_bytes: 1024 * 1024,
        offline_default: None,
    }
}

/// A repository at version 1 (target A), its mirror, a cache directory and a client.
async fn setup() -> (TufRepo, Mirror, tempfile::TempDir, TufTrustRoot) {
    let repo = TufRepo::new().await;
    repo.publish(1, &tuf_repo::read(TRUSTED_ROOT_A), DAY).await;
    let mirror = Mirror::serve(repo.served.clone()).await;
    let cache = tempfile::tempdir().unwrap();
    let client = TufTrustRoot::new(options(&repo, mirror.url.clone(), cache.path()))
        .await
        .unwrap();
    (repo, mirror, cache, client)
}

fn served_sha(client: &TufTrustRoot) -> Option<String> {
    client.status().target_sha256
}

#[tokio::test]
async fn first_fetch_verifies_and_parses() {
    let (repo, mirror, cache, client) = setup().await;
    // Nothing verified and no offline default: no root, with the reason.
    assert_eq!(client.status().source, RootSource::OfflineDefault);
    let err = client.current().unwrap_err();
    assert!(matches!(err, TufError::NoRoot(_)), "{err}");

    client.refresh().await.unwrap();
    client.current().unwrap();
    let status = client.status();
    assert_eq!(status.source, RootSource::Mirror);
    assert_eq!(status.timestamp_version, Some(1));
    assert_eq!(status.root_version, Some(1));
    assert_eq!(
        status.target_sha256,
        Some(sha256(&tuf_repo::read(TRUSTED_ROOT_A)))
    );
    assert!(status.last_error.is_none());
    assert!(mirror.requests.load(Ordering::SeqCst) >= 4);

    // With an offline default, that serves until something is verified.
    let mut with_default = options(&repo, mirror.url.clone(), &cache.path().join("other"));
    with_default.offline_default = Some(std::sync::Arc::new(
        shipgate::verify::TrustRoot::public_good().unwrap(),
    ));
    let fresh = TufTrustRoot::new(with_default).await.unwrap();
    fresh.current().unwrap();
    assert_eq!(fresh.status().source, RootSource::OfflineDefault);
}

#[tokio::test]
async fn a_new_version_is_picked_up() {
    let (repo, _mirror, _cache, client) = setup().await;
    client.refresh().await.unwrap();
    repo.publish(2, &tuf_repo::read(TRUSTED_ROOT_B), DAY).await;
    client.refresh().await.unwrap();
    assert_eq!(client.status().timestamp_version, Some(2));
    assert_eq!(
        served_sha(&client),
        Some(sha256(&tuf_repo::read(TRUSTED_ROOT_B)))
    );
}

#[tokio::test]
async fn a_rollback_is_refused_and_the_last_good_root_kept() {
    let (repo, mirror, cache, client) = setup().await;
    let old_timestamp = repo.file("timestamp.json");
    client.refresh().await.unwrap();
    repo.publish(2, &tuf_repo::read(TRUSTED_ROOT_B), DAY).await;
    client.refresh().await.unwrap();
    let good = served_sha(&client);

    // The mirror serves version 1 again: validly signed, but older than what was verified.
    repo.put("timestamp.json", &old_timestamp);
    let err = client.refresh().await.unwrap_err();
    assert!(matches!(err, TufError::Rollback(_)), "{err}");
    assert!(err.to_string().contains("version 1 of timestamp"), "{err}");
    client.current().unwrap();
    assert_eq!(served_sha(&client), good);
    assert_eq!(client.status().timestamp_version, Some(2));
    assert!(client.status().last_error.unwrap().contains("rollback"));

    // A restart remembers the versions too (tough's datastore in the cache directory).
    drop(client);
    let restarted = TufTrustRoot::new(options(&repo, mirror.url.clone(), cache.path()))
        .await
        .unwrap();
    let err = restarted.refresh().await.unwrap_err();
    assert!(matches!(err, TufError::Rollback(_)), "{err}");
    assert_eq!(served_sha(&restarted), good);
}

#[tokio::test]
async fn expired_metadata_is_an_error_never_a_stale_root() {
    let repo = TufRepo::new().await;
    repo.publish(
        1,
        &tuf_repo::read(TRUSTED_ROOT_A),
        SignedDuration::from_secs(3),
    )
    .await;
    let mirror = Mirror::serve(repo.served.clone()).await;
    let cache = tempfile::tempdir().unwrap();
    let client = TufTrustRoot::new(options(&repo, mirror.url.clone(), cache.path()))
        .await
        .unwrap();
    client.refresh().await.unwrap();
    client.current().unwrap();
    let expires = client.status().expires.unwrap();

    // The mirror goes away and the metadata expires: the root is no longer served.
    mirror.set_up(false);
    let wait = expires - time::OffsetDateTime::now_utc() + time::Duration::milliseconds(200);
    tokio::time::sleep(Duration::try_from(wait).unwrap_or_default()).await;
    client.refresh().await.unwrap_err();
    let err = client.current().unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, TufError::Expired { .. }), "{text}");
    assert!(
        text.contains("the Sigstore TUF metadata expired at"),
        "{text}"
    );
    assert!(
        text.contains("refresh failed: ") && text.contains("503"),
        "{text}"
    );

    // The mirror is back but still serves the expired metadata: a freeze, refused.
    mirror.set_up(true);
    let err = client.refresh().await.unwrap_err();
    assert!(err.to_string().contains("is expired"), "{err}");
    assert!(client.current().is_err());

    // A restart from the expired cache says so too, before any refresh.
    let restarted = TufTrustRoot::new(options(&repo, closed_port_url().await, cache.path()))
        .await
        .unwrap();
    assert_eq!(restarted.status().source, RootSource::Cache);
    let err = restarted.current().unwrap_err().to_string();
    assert!(
        err.contains("expired at") && err.contains("no refresh has succeeded"),
        "{err}"
    );
}

#[tokio::test]
async fn a_tampered_target_is_refused() {
    let (repo, _mirror, _cache, client) = setup().await;
    client.refresh().await.unwrap();
    let good = served_sha(&client);

    repo.publish(2, &tuf_repo::read(TRUSTED_ROOT_B), DAY).await;
    let b = sha256(&tuf_repo::read(TRUSTED_ROOT_B));
    let target = repo
        .target_files()
        .into_iter()
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(&b))
        .unwrap();
    // Same length, one byte changed: only the signed hash tells.
    let mut bytes = std::fs::read(&target).unwrap();
    let last = bytes.len() - 2;
    bytes[last] = if bytes[last] == b' ' { b'\t' } else { b' ' };
    std::fs::write(&target, &bytes).unwrap();

    let err = client.refresh().await.unwrap_err();
    assert!(err.to_string().contains("Hash mismatch"), "{err}");
    assert_eq!(served_sha(&client), good);
    assert_eq!(client.status().timestamp_version, Some(1));
}

#[tokio::test]
async fn an_unreachable_mirror_keeps_the_cached_root_while_valid() {
    let (_repo, mirror, _cache, client) = setup().await;
    client.refresh().await.unwrap();
    let good = served_sha(&client);
    mirror.set_up(false);
    let err = client.refresh().await.unwrap_err();
    assert!(matches!(err, TufError::Update(_)), "{err}");
    assert!(err.to_string().contains("503"), "{err}");
    client.current().unwrap();
    assert_eq!(served_sha(&client), good);
    assert!(client.status().last_error.unwrap().contains("503"));
}

#[tokio::test]
async fn a_restart_with_only_the_disk_cache_works() {
    let (repo, mirror, cache, client) = setup().await;
    client.refresh().await.unwrap();
    let good = served_sha(&client);
    drop(client);
    let before = mirror.requests.load(Ordering::SeqCst);

    // Mirror down (nothing listens): the cache is verified again offline and serves.
    let restarted = TufTrustRoot::new(options(&repo, closed_port_url().await, cache.path()))
        .await
        .unwrap();
    assert_eq!(restarted.status().source, RootSource::Cache);
    assert_eq!(served_sha(&restarted), good);
    restarted.current().unwrap();
    let err = restarted.refresh().await.unwrap_err();
    assert!(matches!(err, TufError::Update(_)), "{err}");
    restarted.current().unwrap();
    assert_eq!(mirror.requests.load(Ordering::SeqCst), before);

    // A cache tampered on disk is refused (and replaced by the next refresh), never served.
    let generation = std::fs::read_to_string(cache.path().join("current")).unwrap();
    let targets = cache.path().join(generation.trim()).join("targets");
    for entry in std::fs::read_dir(&targets).unwrap() {
        std::fs::write(entry.unwrap().path(), b"{}").unwrap();
    }
    let restarted = TufTrustRoot::new(options(&repo, mirror.url.clone(), cache.path()))
        .await
        .unwrap();
    assert_eq!(restarted.status().source, RootSource::OfflineDefault);
    assert!(restarted
        .status()
        .last_error
        .unwrap()
        .contains("disk cache was refused"));
    restarted.refresh().await.unwrap();
    assert_eq!(served_sha(&restarted), good);
}

#[tokio::test]
async fn a_root_signed_by_keys_the_trusted_root_does_not_name_is_refused() {
    // Root version 2 signed only by its own new key, not by the version-1 root key.
    let (mut repo, _mirror, _cache, client) = setup().await;
    client.refresh().await.unwrap();
    let good = served_sha(&client);
    repo.rotate_root(2, false, true).await;
    repo.publish(2, &tuf_repo::read(TRUSTED_ROOT_B), DAY).await;
    let err = client.refresh().await.unwrap_err();
    assert!(
        err.to_string().contains("Failed to verify root metadata"),
        "{err}"
    );
    assert_eq!(served_sha(&client), good);
    assert_eq!(client.status().root_version, Some(1));

    // A whole repository under other keys: its metadata does not verify under our root.
    let (_other, other_mirror, _c, _) = setup().await;
    let cache = tempfile::tempdir().unwrap();
    let client = TufTrustRoot::new(options(&repo, other_mirror.url.clone(), cache.path()))
        .await
        .unwrap();
    let err = client.refresh().await.unwrap_err();
    assert!(
        err.to_string()
            .contains("Failed to verify timestamp metadata"),
        "{err}"
    );
    assert!(client.current().is_err());
}

#[tokio::test]
async fn a_cross_signed_root_rotation_is_followed_and_cached() {
    let (mut repo, _mirror, cache, client) = setup().await;
    client.refresh().await.unwrap();
    repo.rotate_root(2, true, true).await;
    repo.publish(2, &tuf_repo::read(TRUSTED_ROOT_B), DAY).await;
    client.refresh().await.unwrap();
    assert_eq!(client.status().root_version, Some(2));
    drop(client);
    // The restart anchors at the cached version-2 root, not the embedded version 1.
    let restarted = TufTrustRoot::new(options(&repo, closed_port_url().await, cache.path()))
        .await
        .unwrap();
    assert_eq!(restarted.status().root_version, Some(2));
    assert_eq!(
        served_sha(&restarted),
        Some(sha256(&tuf_repo::read(TRUSTED_ROOT_B)))
    );
}

/// Sigstore's real TUF metadata (root v15, timestamp, snapshot, targets and the npm delegation,
/// from the root-signing repository) verifies with tough down to `trusted_root.json`; expiry aside
/// (these copies expire), which shipgate itself enforces through a `file://` mirror.
#[tokio::test]
async fn sigstores_real_metadata_verifies() {
    let vectors = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/vectors/public-good-trust/root-signing");
    let mirror = tempfile::tempdir().unwrap();
    let copy = |from: &str, to: &str| {
        let to = mirror.path().join(to);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(vectors.join(from), to).unwrap();
    };
    let trusted_root = std::fs::read(vectors.join("targets/trusted_root.json")).unwrap();
    copy("metadata/timestamp.json", "timestamp.json");
    copy("metadata/snapshot.json", "165.snapshot.json");
    copy("metadata/targets.json", "14.targets.json");
    copy(
        "metadata/registry.npmjs.org.json",
        "8.registry.npmjs.org.json",
    );
    copy(
        "targets/trusted_root.json",
        &format!("targets/{}.trusted_root.json", sha256(&trusted_root)),
    );
    // The embedded bootstrap root is that repository's root.json, byte for byte.
    let embedded = shipgate::trust::tuf::SIGSTORE_TUF_ROOT;
    assert_eq!(
        embedded,
        std::fs::read(vectors.join("metadata/root.json")).unwrap()
    );

    let metadata = url::Url::from_directory_path(mirror.path()).unwrap();
    let targets = metadata.join("targets/").unwrap();
    let repo = tough::RepositoryLoader::new(&embedded, metadata.clone(), targets)
        .expiration_enforcement(tough::ExpirationEnforcement::Unsafe)
        .load()
        .await
        .unwrap();
    let name = tough::TargetName::new("trusted_root.json").unwrap();
    let stream = repo.read_target(&name).await.unwrap().unwrap();
    let bytes = tough::IntoVec::into_vec(stream).await.unwrap();
    assert_eq!(bytes, trusted_root);

    // shipgate enforces expiry: once these copies expire, a refresh says so.
    let cache = tempfile::tempdir().unwrap();
    let mut opts = TufOptions::sigstore_public_good(cache.path().to_path_buf()).unwrap();
    opts.mirror = metadata;
    let client = TufTrustRoot::new(opts).await.unwrap();
    match client.refresh().await {
        Ok(_) => assert_eq!(served_sha(&client), Some(sha256(&trusted_root))),
        Err(e) => assert!(e.to_string().contains("metadata is expired"), "{e}"),
    }
    // Either way the offline default or the verified root serves.
    client.current().unwrap();
}

#[tokio::test]
async fn the_background_refresher_refreshes_and_stops_when_dropped() {
    let repo = TufRepo::new().await;
    repo.publish(1, &tuf_repo::read(TRUSTED_ROOT_A), DAY).await;
    let mirror = Mirror::serve(repo.served.clone()).await;
    let cache = tempfile::tempdir().unwrap();
    let opts = options(&repo, mirror.url.clone(), cache.path());
    let (root, refresher) = shipgate::trust::start(opts, Duration::from_secs(1))
        .await
        .unwrap();
    let refresher = refresher.expect("inside a runtime");
    let until = |version: u64| {
        let root = root.clone();
        async move {
            for _ in 0..50 {
                if root.status().timestamp_version == Some(version) {
                    return true;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            false
        }
    };
    // The first refresh runs at once, the next within the interval.
    assert!(until(1).await, "{:?}", root.status());
    repo.publish(2, &tuf_repo::read(TRUSTED_ROOT_B), DAY).await;
    assert!(until(2).await, "{:?}", root.status());

    drop(refresher);
    repo.publish(3, &tuf_repo::read(TRUSTED_ROOT_A), DAY).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(root.status().timestamp_version, Some(2));
}

#[tokio::test]
async fn bad_options_are_refused_with_the_reason() {
    let repo = TufRepo::new().await;
    let cache = tempfile::tempdir().unwrap();
    let refused = |opts: TufOptions| async move {
        match TufTrustRoot::new(opts).await {
            Err(e) => e.to_string(),
            Ok(_) => panic!("accepted"),
        }
    };
    let plain = url::Url::parse("http://tuf.example.com/").unwrap();
    let err = refused(options(&repo, plain, cache.path())).await;
    assert!(err.contains("https://"), "{err}");
    let creds = url::Url::parse("https://user:pw@tuf.example.com/").unwrap();
    let err = refused(options(&repo, creds, cache.path())).await;
    assert!(err.contains("credentials") && !err.contains("pw"), "{err}");
    let mut garbage = options(&repo, closed_port_url().await, cache.path());
    garbage.embedded_root = Cow::Borrowed(b"{}");
    let err = refused(garbage).await;
    assert!(err.contains("the embedded TUF root"), "{err}");
}

/// The TUF root as the verifier's trusted root (`Verifier::with_source`, what `tuf:` in the
/// serve config builds): a real cosign v3 bundle (sigstore-rs's, public-good) verifies under the
/// public-good `trusted_root.json` the repository serves, and once that metadata has expired
/// with the mirror gone the same bundle is rejected with the reason — never judged with a
/// stale root.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_verifier_judges_with_the_tuf_root_and_refuses_once_it_expired() {
    use shipgate::evidence::{BundleArtifact, SignatureArtifact};
    use shipgate::policy::Policy;
    use shipgate::verify::Verifier;

    let repo = TufRepo::new().await;
    repo.publish(
        1,
        &tuf_repo::read(TRUSTED_ROOT_A),
        SignedDuration::from_secs(3),
    )
    .await;
    let mirror = Mirror::serve(repo.served.clone()).await;
    let cache = tempfile::tempdir().unwrap();
    let client = TufTrustRoot::new(options(&repo, mirror.url.clone(), cache.path()))
        .await
        .unwrap();
    client.refresh().await.unwrap();
    let verifier = Verifier::with_source(std::sync::Arc::new(client));

    let bundle = SignatureArtifact::Bundle(BundleArtifact {
        json: tuf_repo::read("tests/data/vectors/sigstore-rs/bundle_v03.json"),
        media_type: "application/vnd.dev.sigstore.bundle.v0.3+json".into(),
        source: "test".into(),
    });
    let digest: shipgate::reference::Digest =
        "sha256:c811d58de79c92f03214e63aa339484e488d694ae8a6283b5f3f17a9faf50172"
            .parse()
            .unwrap();
    let policy = Policy::from_yaml(
        "name: t\nimages: [\"registry.test/**\"]\nsignatures:\n  authorities:\n    - name: ci\n      keyless:\n        issuer: https://token.actions.githubusercontent.com\n        subject: https://github.com/kubewarden/kubewarden-controller/.github/workflows/release.yml@refs/tags/v1.34.0\n",
        Path::new("t.yaml"),
    )
    .unwrap();
    let authorities = &policy.signatures.as_ref().unwrap().authorities;
    let verified = verifier.verify_signature(&bundle, &digest, authorities);
    assert!(verified[0].is_ok(), "{verified:?}");

    mirror.set_up(false);
    tokio::time::sleep(Duration::from_millis(3200)).await;
    let refused = verifier.verify_signature(&bundle, &digest, authorities);
    let why = refused[0].as_ref().unwrap_err().reason.clone();
    assert!(
        why.contains("trusted root is unavailable") && why.contains("expired"),
        "{why}"
    );
}

/// `tuf:` in the serve config: checked at load (with `trustedRoot` it is refused; a bad
/// interval or mirror is named), and its cache directory is relative to the file.
#[test]
fn the_serve_config_tuf_section_is_checked_at_load() {
    let dir = tempfile::tempdir().unwrap();
    let load = |yaml: &str| {
        let path = dir.path().join("serve.yaml");
        std::fs::write(&path, yaml).unwrap();
        shipgate::config::ServeConfig::load(&path)
    };
    let ok = load("tuf:\n  cacheDir: tuf-cache\n  refreshMinutes: 30\n").unwrap();
    assert_eq!(
        ok.tuf.unwrap().cache_dir,
        dir.path().join("tuf-cache"),
        "relative to the config file"
    );
    for (yaml, needle) in [
        ("trustedRoot: root.json\ntuf:\n  cacheDir: c\n", "not both"),
        (
            "tuf:\n  cacheDir: c\n  refreshMinutes: 0\n",
            "refreshMinutes",
        ),
        ("tuf:\n  cacheDir: c\n  mirror: not a url\n", "tuf.mirror"),
        ("tuf:\n  cacheDir: c\n  mirorr: x\n", "mirorr"),
    ] {
        let err = format!("{:#}", load(yaml).unwrap_err());
        assert!(err.contains(needle), "{yaml}: {err}");
    }
}
