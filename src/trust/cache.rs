//! The disk cache of the last verified TUF state, laid out as a repository that a `file://`
//! load verifies again from scratch at start-up (signatures, hashes, the target), so a
//! tampered or half-written cache is refused, never trusted.
//!
//! ```text
//! CACHE_DIR/
//!   datastore/            tough's own state: the versions it saw last (rollback detection)
//!   current               the name of the generation in use, replaced atomically
//!   gen-…/root.json       the newest verified root: the trust anchor of the next load
//!   gen-…/metadata/       timestamp.json, [N.]snapshot.json, [N.]targets.json
//!   gen-…/targets/        the target, named as the mirror names it
//! ```
//!
//! A new generation is written whole, then `current` is switched to it, then older generations
//! are removed: a crash at any point leaves either the old or the new generation in use.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use url::Url;

const CURRENT: &str = "current";
const GENERATION_PREFIX: &str = "gen-";
/// The cache holds a few small files; a `current` pointer or a root larger than this is not ours.
const MAX_POINTER_BYTES: u64 = 256;
const MAX_ROOT_BYTES: u64 = 1024 * 1024;

/// One generation: where a `file://` load finds it.
pub(crate) struct Generation {
    pub root: Vec<u8>,
    pub metadata_url: Url,
    pub targets_url: Url,
}

pub(crate) struct Cache {
    dir: PathBuf,
}

impl Cache {
    pub(crate) fn new(dir: PathBuf) -> Cache {
        Cache { dir }
    }

    /// tough's datastore directory, created if missing (tough requires it to exist).
    pub(crate) async fn datastore(&self) -> Result<PathBuf, String> {
        let path = self.dir.join("datastore");
        tokio::fs::create_dir_all(&path)
            .await
            .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        Ok(path)
    }

    /// The generation in use, if one was ever stored.
    pub(crate) async fn current(&self) -> Result<Option<Generation>, String> {
        let pointer = self.dir.join(CURRENT);
        let name = match read_bounded(&pointer, MAX_POINTER_BYTES).await {
            Ok(bytes) => String::from_utf8_lossy(&bytes).trim().to_owned(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("cannot read {}: {e}", pointer.display())),
        };
        if !is_generation_name(&name) {
            return Err(format!("{} names no cache generation", pointer.display()));
        }
        let generation = self.dir.join(&name);
        let root_path = generation.join("root.json");
        let root = read_bounded(&root_path, MAX_ROOT_BYTES)
            .await
            .map_err(|e| format!("cannot read {}: {e}", root_path.display()))?;
        Ok(Some(Generation {
            root,
            metadata_url: directory_url(&generation.join("metadata"))?,
            targets_url: directory_url(&generation.join("targets"))?,
        }))
    }

    /// Stores a verified update cycle: `root` (the newest verified root) and the files fetched
    /// below `metadata_base` and `targets_base`, as recorded by the transport. Roots other than
    /// the newest are not kept: the next load starts from it.
    pub(crate) async fn store(
        &self,
        root: &[u8],
        recorded: &[(Url, Bytes)],
        metadata_base: &Url,
        targets_base: &Url,
    ) -> Result<(), String> {
        let name = format!(
            "{GENERATION_PREFIX}{}-{}",
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default(),
            std::process::id()
        );
        let generation = self.dir.join(&name);
        let io = |what: &Path, e: std::io::Error| format!("cannot write {}: {e}", what.display());
        for sub in ["metadata", "targets"] {
            let path = generation.join(sub);
            tokio::fs::create_dir_all(&path)
                .await
                .map_err(|e| io(&path, e))?;
        }
        write(&generation.join("root.json"), root).await?;
        for (url, bytes) in recorded {
            // Targets live below the metadata base on Sigstore's mirror: test them first.
            let (sub, file) = if let Some(file) = file_below(targets_base, url) {
                ("targets", file)
            } else if let Some(file) = file_below(metadata_base, url) {
                if is_versioned_root(file) {
                    continue;
                }
                ("metadata", file)
            } else {
                continue;
            };
            write(&generation.join(sub).join(file), bytes).await?;
        }
        // Switch atomically: rename replaces `current` in one step.
        let pointer = self.dir.join(CURRENT);
        let staged = self.dir.join(format!("{CURRENT}.tmp"));
        write(&staged, name.as_bytes()).await?;
        tokio::fs::rename(&staged, &pointer)
            .await
            .map_err(|e| io(&pointer, e))?;
        self.prune(&name).await;
        Ok(())
    }

    /// Removes every generation but `keep`; failures only leave disk space behind.
    async fn prune(&self, keep: &str) {
        let Ok(mut entries) = tokio::fs::read_dir(&self.dir).await else {
            return;
        };
        while let Ok(Some(entry)) = entries.next_entry().await {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name != keep && is_generation_name(&name) {
                if let Err(e) = tokio::fs::remove_dir_all(entry.path()).await {
                    tracing::debug!(path = %entry.path().display(), error = %e, "cannot remove an old TUF cache generation");
                }
            }
        }
    }
}

/// `gen-…` with no path separator or dot-dot: the pointer file cannot send us elsewhere.
fn is_generation_name(name: &str) -> bool {
    name.starts_with(GENERATION_PREFIX)
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// `N.root.json`.
fn is_versioned_root(file: &str) -> bool {
    file.strip_suffix(".root.json")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// The file name of `url` directly below `base`, if it is one plain file name.
fn file_below<'a>(base: &Url, url: &'a Url) -> Option<&'a str> {
    let rest = url.as_str().strip_prefix(base.as_str())?;
    let plain = !rest.is_empty()
        && !rest.starts_with('.')
        && rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
    plain.then_some(rest)
}

fn directory_url(path: &Path) -> Result<Url, String> {
    Url::from_directory_path(path)
        .map_err(|()| format!("{} is not an absolute directory path", path.display()))
}

async fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    tokio::fs::write(path, bytes)
        .await
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

async fn read_bounded(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    let len = tokio::fs::metadata(path).await?.len();
    if len > max {
        return Err(std::io::Error::other(format!("larger than {max} bytes")));
    }
    tokio::fs::read(path).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(is_versioned_root("12.root.json"));
        assert!(!is_versioned_root("root.json"));
        assert!(!is_versioned_root("x.root.json"));
        assert!(is_generation_name("gen-1-2"));
        assert!(!is_generation_name("gen-../x"));
        assert!(!is_generation_name("datastore"));
        let base = Url::parse("https://m.example/targets/").unwrap();
        let url = Url::parse("https://m.example/targets/ab.trusted_root.json").unwrap();
        assert_eq!(file_below(&base, &url), Some("ab.trusted_root.json"));
        let nested = Url::parse("https://m.example/targets/a/b.json").unwrap();
        assert_eq!(file_below(&base, &nested), None);
    }
}
