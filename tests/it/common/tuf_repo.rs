//! A TUF repository made and signed in the test (tough's editor, keys generated here), served
//! over loopback HTTP the way Sigstore's mirror lays it out: metadata at the root
//! (`N.root.json`, `timestamp.json`, `N.snapshot.json`, `N.targets.json`), targets below
//! `targets/` named by their SHA-256 (consistent snapshots).

use std::collections::HashMap;
use std::num::NonZeroU64;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::Ed25519KeyPair;
use axum::http::{StatusCode, Uri};
use tough::editor::signed::{PathExists, SignedRole};
use tough::editor::RepositoryEditor;
use tough::key_source::KeySource;
use tough::schema::{KeyHolder, RoleKeys, RoleType, Root};
use tough::sign::{parse_keypair, Sign};

/// The public-good trusted root shipgate embeds, and another real one (an older public-good
/// snapshot): two distinguishable versions of the target.
pub const TRUSTED_ROOT_A: &str = "crates/shipgate-core/data/trusted_root.json";
pub const TRUSTED_ROOT_B: &str =
    "tests/data/vectors/public-good-trust/older-snapshots/sigstore-rs_trust_root_prod_trusted_root.json";

pub fn read(path: &str) -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap()
}

/// An Ed25519 signing key held in memory.
#[derive(Debug, Clone)]
pub struct MemKey(Vec<u8>);

impl MemKey {
    pub fn generate() -> MemKey {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        MemKey(pkcs8.as_ref().to_vec())
    }

    fn sign(&self) -> Box<dyn Sign> {
        Box::new(parse_keypair(&self.0).unwrap())
    }
}

#[async_trait::async_trait]
impl KeySource for MemKey {
    async fn as_sign(&self) -> Result<Box<dyn Sign>, Box<dyn std::error::Error + Send + Sync>> {
        Ok(self.sign())
    }

    async fn write(
        &self,
        _: &str,
        _: &str,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        Ok(())
    }
}

/// A root of `version` whose four roles are all held by `key` (threshold 1).
fn root_metadata(version: u64, key: &MemKey) -> Root {
    let tuf_key = key.sign().tuf_key();
    let key_id = tuf_key.key_id().unwrap();
    let roles = [
        RoleType::Root,
        RoleType::Snapshot,
        RoleType::Targets,
        RoleType::Timestamp,
    ]
    .into_iter()
    .map(|role| {
        let keys = RoleKeys {
            keyids: vec![key_id.clone()],
            threshold: NonZeroU64::new(1).unwrap(),
            _extra: HashMap::new(),
        };
        (role, keys)
    })
    .collect();
    Root {
        spec_version: "1.0.31".into(),
        consistent_snapshot: true,
        version: NonZeroU64::new(version).unwrap(),
        expires: jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24 * 365),
        keys: HashMap::from([(key_id, tuf_key)]),
        roles,
        _extra: HashMap::new(),
    }
}

/// `root` signed by each of `signers`, each key as its holder root's root role allows.
async fn sign_root(root: &Root, signers: &[(&Root, &MemKey)]) -> Vec<u8> {
    let mut first: Option<SignedRole<Root>> = None;
    let mut more = Vec::new();
    for (holder, key) in signers {
        let keys: Vec<Box<dyn KeySource>> = vec![Box::new((*key).clone())];
        let one = SignedRole::new(
            root.clone(),
            &KeyHolder::Root((*holder).clone()),
            &keys,
            &SystemRandom::new(),
        )
        .await
        .unwrap();
        match first {
            None => first = Some(one),
            Some(_) => more.extend(one.signed().signatures.clone()),
        }
    }
    let signed = first.expect("at least one signer");
    signed.add_old_signatures(more).unwrap().buffer().clone()
}

/// The repository: its keys, its files (served by [`Mirror`]) and a work directory.
pub struct TufRepo {
    _dir: tempfile::TempDir,
    /// What the mirror serves.
    pub served: PathBuf,
    work: PathBuf,
    key: MemKey,
    root: Root,
    /// `1.root.json`: what a client embeds.
    pub initial_root: Vec<u8>,
}

impl TufRepo {
    pub async fn new() -> TufRepo {
        let dir = tempfile::tempdir().unwrap();
        let served = dir.path().join("served");
        let work = dir.path().join("work");
        std::fs::create_dir_all(served.join("targets")).unwrap();
        std::fs::create_dir_all(work.join("in")).unwrap();
        let key = MemKey::generate();
        let root = root_metadata(1, &key);
        let initial_root = sign_root(&root, &[(&root, &key)]).await;
        std::fs::write(served.join("1.root.json"), &initial_root).unwrap();
        std::fs::write(work.join("root.json"), &initial_root).unwrap();
        TufRepo {
            _dir: dir,
            served,
            work,
            key,
            root,
            initial_root,
        }
    }

    /// Publishes timestamp/snapshot/targets `version` with `trusted_root` as the target, all
    /// expiring `expires_in` from now.
    pub async fn publish(
        &self,
        version: u64,
        trusted_root: &[u8],
        expires_in: jiff::SignedDuration,
    ) {
        let input = self.work.join("in");
        std::fs::write(input.join("trusted_root.json"), trusted_root).unwrap();
        let expires = jiff::Timestamp::now() + expires_in;
        let version = NonZeroU64::new(version).unwrap();
        let mut editor = RepositoryEditor::new(self.work.join("root.json"))
            .await
            .unwrap();
        editor
            .targets_version(version)
            .unwrap()
            .targets_expires(expires)
            .unwrap()
            .snapshot_version(version)
            .snapshot_expires(expires)
            .timestamp_version(version)
            .timestamp_expires(expires);
        editor
            .add_target_path(input.join("trusted_root.json"))
            .await
            .unwrap();
        let keys: Vec<Box<dyn KeySource>> = vec![Box::new(self.key.clone())];
        let signed = editor.sign(&keys).await.unwrap();
        signed.write(&self.served).await.unwrap();
        signed
            .copy_targets(&input, self.served.join("targets"), PathExists::Replace)
            .await
            .unwrap();
    }

    /// Rotates the root to a new key: root `version`, signed by `signers` (`old`, `new` or both).
    /// Later publications are signed with the new key.
    pub async fn rotate_root(&mut self, version: u64, old_signs: bool, new_signs: bool) {
        let key = MemKey::generate();
        let root = root_metadata(version, &key);
        let mut signers = Vec::new();
        if old_signs {
            signers.push((&self.root, &self.key));
        }
        if new_signs {
            signers.push((&root, &key));
        }
        let bytes = sign_root(&root, &signers).await;
        std::fs::write(self.served.join(format!("{version}.root.json")), &bytes).unwrap();
        std::fs::write(self.work.join("root.json"), &bytes).unwrap();
        self.key = key;
        self.root = root;
    }

    pub fn file(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.served.join(name)).unwrap()
    }

    pub fn put(&self, name: &str, bytes: &[u8]) {
        std::fs::write(self.served.join(name), bytes).unwrap();
    }

    /// The served target file(s) named `*.trusted_root.json`.
    pub fn target_files(&self) -> Vec<PathBuf> {
        std::fs::read_dir(self.served.join("targets"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect()
    }
}

/// Serves a directory over loopback HTTP; `up` false answers 503 to everything.
pub struct Mirror {
    pub url: url::Url,
    pub up: Arc<AtomicBool>,
    /// Requests answered, to tell a cache hit from a fetch.
    pub requests: Arc<AtomicUsize>,
}

impl Mirror {
    pub async fn serve(dir: PathBuf) -> Mirror {
        let up = Arc::new(AtomicBool::new(true));
        let requests = Arc::new(AtomicUsize::new(0));
        let (up2, requests2) = (up.clone(), requests.clone());
        let app = axum::Router::new().fallback(move |uri: Uri| {
            let (dir, up, requests) = (dir.clone(), up2.clone(), requests2.clone());
            async move {
                requests.fetch_add(1, Ordering::SeqCst);
                let path = uri.path().trim_start_matches('/');
                if !up.load(Ordering::SeqCst) {
                    return (StatusCode::SERVICE_UNAVAILABLE, Vec::new());
                }
                if path.split('/').any(|part| part == "..") {
                    return (StatusCode::BAD_REQUEST, Vec::new());
                }
                match std::fs::read(dir.join(path)) {
                    Ok(bytes) => (StatusCode::OK, bytes),
                    Err(_) => (StatusCode::NOT_FOUND, Vec::new()),
                }
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = url::Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Mirror { url, up, requests }
    }

    pub fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::SeqCst);
    }
}

/// A loopback URL where nothing listens (a port bound, then released).
pub async fn closed_port_url() -> url::Url {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    url::Url::parse(&format!("http://{addr}/")).unwrap()
}
