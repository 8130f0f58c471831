//! What the files a reload reads hold, to tell when they changed.
//!
//! Content hashes rather than inotify: they follow symlinks (a Kubernetes ConfigMap swaps a
//! `..data` symlink, which inotify on the file never sees), they see files replaced by rename,
//! and a few small files hashed every few seconds cost nothing.

use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::load::Sources;

/// Policy fields that name files relative to the policy (`crates/shipgate-core/src/policy`):
/// a change to one of those files is a change to the policy.
const REFERENCE_FIELDS: [&str; 4] = ["keyRef", "trustStore", "trustPolicy", "rootsRef"];
/// Bounds of one look, so a path pointing at a huge tree cannot make polling expensive.
const MAX_FILES: usize = 2_000;
const MAX_DEPTH: usize = 4;
const MAX_HASHED_BYTES: u64 = 4 * 1024 * 1024;

/// What the watched files held: each path and the hash of its content (`None`: unreadable).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Fingerprint(Vec<(PathBuf, Option<[u8; 32]>)>);

impl Fingerprint {
    /// The config file, the trusted root file, the policy files the config (or the flags)
    /// name, and the files they name.
    pub fn of(sources: &Sources) -> Fingerprint {
        let mut print = Fingerprint::default();
        if let Some(config) = &sources.config {
            print.add_file(config);
        }
        // An unreadable config is fingerprinted by its bytes alone; its policies are then
        // those of the flags (or `./policies`).
        let config = sources.read_config().unwrap_or_default();
        // With `tuf`, the root is the TUF repository's and no file is read again.
        if let Some(root) = sources
            .trusted_root(&config)
            .filter(|_| config.tuf.is_none())
        {
            print.add_file(&root);
        }
        for root in sources.named_root_files(&config) {
            print.add_file(&root);
        }
        for path in sources.policy_paths(&config) {
            if path.is_dir() {
                for file in yaml_files(&path) {
                    print.add_policy(&file);
                }
            } else {
                print.add_policy(&path);
            }
        }
        print
    }

    /// [`Fingerprint::of`] off the async workers.
    pub async fn of_async(sources: &Sources) -> Fingerprint {
        let sources = sources.clone();
        tokio::task::spawn_blocking(move || Fingerprint::of(&sources))
            .await
            .unwrap_or_default()
    }

    fn add_file(&mut self, path: &Path) {
        if self.0.len() < MAX_FILES {
            self.0.push((path.to_path_buf(), hash_file(path)));
        }
    }

    fn add_policy(&mut self, path: &Path) {
        self.add_file(path);
        let Ok(text) = std::fs::read_to_string(path) else {
            return;
        };
        let Ok(yaml) = serde_yaml::from_str::<serde_yaml::Value>(&text) else {
            return;
        };
        let base = path.parent().unwrap_or(Path::new("."));
        let mut referenced = Vec::new();
        references(&yaml, &mut referenced);
        for name in referenced {
            self.add_tree(&base.join(name), 0);
        }
    }

    /// A file, or every file under a directory (a Notation trust store is `DIR/ca/NAME/*.pem`).
    fn add_tree(&mut self, path: &Path, depth: usize) {
        if !path.is_dir() {
            self.add_file(path);
            return;
        }
        if depth >= MAX_DEPTH {
            return;
        }
        let Ok(entries) = std::fs::read_dir(path) else {
            self.0.push((path.to_path_buf(), None));
            return;
        };
        let mut children: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        children.sort();
        for child in children {
            self.add_tree(&child, depth + 1);
        }
    }
}

/// The string values of [`REFERENCE_FIELDS`] anywhere in a policy.
fn references(value: &serde_yaml::Value, out: &mut Vec<String>) {
    match value {
        serde_yaml::Value::Mapping(map) => {
            for (key, child) in map {
                match (key.as_str(), child.as_str()) {
                    (Some(k), Some(v)) if REFERENCE_FIELDS.contains(&k) => out.push(v.to_string()),
                    _ => references(child, out),
                }
            }
        }
        serde_yaml::Value::Sequence(items) => items.iter().for_each(|i| references(i, out)),
        _ => {}
    }
}

/// The `*.yaml`/`*.yml` files of a directory, as `PolicySet::load` reads them.
fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")) && p.is_file()
        })
        .take(MAX_FILES)
        .collect();
    files.sort();
    files
}

/// SHA-256 of the file's first `MAX_HASHED_BYTES` and its length (symlinks followed).
fn hash_file(path: &Path) -> Option<[u8; 32]> {
    let file = std::fs::File::open(path).ok()?;
    let len = file.metadata().ok()?.len();
    let mut hasher = Sha256::new();
    hasher.update(len.to_be_bytes());
    let mut bytes = Vec::new();
    file.take(MAX_HASHED_BYTES).read_to_end(&mut bytes).ok()?;
    hasher.update(&bytes);
    Some(hasher.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, text: &str) {
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn a_key_file_a_policy_names_is_part_of_it_and_other_files_are_not() {
        let dir = tempfile::tempdir().unwrap();
        let policies = dir.path().join("policies");
        std::fs::create_dir(&policies).unwrap();
        write(&policies.join("k.pub"), "key one");
        write(&policies.join("notes.txt"), "not read by anything");
        write(
            &policies.join("app.yaml"),
            "name: app\nimages: [\"r/**\"]\nsignatures:\n  authorities:\n    - name: a\n      keyRef: k.pub\n",
        );
        let sources = Sources {
            config: None,
            flag_policies: vec![policies.clone()],
            flag_trusted_root: None,
            flag_trust_roots: Vec::new(),
        };
        let before = Fingerprint::of(&sources);
        assert_eq!(before.0.len(), 2, "{before:?}");
        write(
            &policies.join("notes.txt"),
            "changed, but no policy names it",
        );
        assert_eq!(Fingerprint::of(&sources), before);
        write(&policies.join("k.pub"), "key two");
        assert_ne!(Fingerprint::of(&sources), before);
    }

    #[cfg(unix)]
    #[test]
    fn a_swapped_symlink_is_a_change() {
        let dir = tempfile::tempdir().unwrap();
        write(&dir.path().join("v1.yaml"), "name: a\nimages: [\"r/**\"]\n");
        write(&dir.path().join("v2.yaml"), "name: b\nimages: [\"r/**\"]\n");
        let link = dir.path().join("policy.yaml");
        std::os::unix::fs::symlink("v1.yaml", &link).unwrap();
        let sources = Sources {
            config: None,
            flag_policies: vec![link.clone()],
            flag_trusted_root: None,
            flag_trust_roots: Vec::new(),
        };
        let before = Fingerprint::of(&sources);
        std::fs::remove_file(&link).unwrap();
        std::os::unix::fs::symlink("v2.yaml", &link).unwrap();
        assert_ne!(Fingerprint::of(&sources), before);
    }

    #[test]
    fn references_are_found_at_any_depth() {
        let yaml: serde_yaml::Value = serde_yaml::from_str(
            "signatures:\n  authorities:\n    - keyRef: a.pub\n    - notation:\n        trustStore: store\n        trustPolicy: tp.json\nprovenance:\n  authorities:\n    - awsSigner:\n        rootsRef: roots.pem\n",
        )
        .unwrap();
        let mut found = Vec::new();
        references(&yaml, &mut found);
        assert_eq!(found, ["a.pub", "store", "tp.json", "roots.pem"]);
    }
}
