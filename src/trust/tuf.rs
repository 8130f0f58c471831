//! The Sigstore `trusted_root.json`, refreshed through Sigstore's TUF repository.
//!
//! The compiled-in trusted root never changes: after a Fulcio/Rekor/CT key rotation every running
//! shipgate would reject new signatures until rebuilt. [`TufTrustRoot`] follows the TUF client
//! workflow (tough does the verification: root chain, signatures and thresholds, versions,
//! expiry, hashes) from an embedded TUF `root.json`, fetches the `trusted_root.json` target and
//! parses it with [`TrustRoot::from_json`].
//!
//! - Every verified update cycle is cached on disk (`super::cache`); at start-up the cache is
//!   verified again offline, so a restart without network serves the last verified root.
//! - The last verified root serves only while its TUF metadata is unexpired; after that,
//!   [`TufTrustRoot::current`] is an error naming the expiry and the last refresh failure, never
//!   a silently stale root. When nothing was ever verified, the offline default (the
//!   compiled-in root) serves, as before.
//! - Rollbacks are refused: tough's datastore in the cache directory remembers the versions.
//!
//! See docs/trust-roots.md.

use std::borrow::Cow;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use tough::{ExpirationEnforcement, IntoVec as _, Repository, RepositoryLoader, TargetName};
use url::Url;

use super::cache::Cache;
use super::error::{error_chain, update_error};
use super::options::{directory, root_version, LIMITS};
use super::transport::MirrorTransport;
use crate::verify::TrustRoot;

pub use super::error::TufError;
pub use super::options::{
    RootSource, TufOptions, TufStatus, DEFAULT_MAX_TARGET_BYTES, DEFAULT_TIMEOUT,
    SIGSTORE_TUF_MIRROR, SIGSTORE_TUF_ROOT, TRUSTED_ROOT_TARGET,
};

/// One verified update cycle.
#[derive(Clone)]
struct Verified {
    trust_root: Arc<TrustRoot>,
    /// The newest verified TUF root: the anchor of the next update.
    tuf_root: Vec<u8>,
    root_version: u64,
    timestamp_version: u64,
    expires: OffsetDateTime,
    target_sha256: String,
    source: RootSource,
}

#[derive(Default)]
struct State {
    verified: Option<Verified>,
    last_error: Option<String>,
}

/// The Sigstore trusted root, kept current through TUF. Cheap to share (`Arc`).
pub struct TufTrustRoot {
    metadata_url: Url,
    targets_url: Url,
    embedded_root: Cow<'static, [u8]>,
    embedded_version: u64,
    timeout: Duration,
    max_target_bytes: u64,
    offline_default: Option<Arc<TrustRoot>>,
    transport: MirrorTransport,
    cache: Cache,
    state: RwLock<State>,
    /// One update cycle at a time: tough's datastore is not meant for concurrent loads.
    refreshing: tokio::sync::Mutex<()>,
}

impl TufTrustRoot {
    /// Checks the options, then loads the disk cache (verified again, offline). Needs no network:
    /// call [`TufTrustRoot::refresh`] or [`TufTrustRoot::spawn_refresher`] for that.
    pub async fn new(options: TufOptions) -> Result<TufTrustRoot, TufError> {
        let embedded_version = root_version(&options.embedded_root)
            .map_err(|e| TufError::Options(format!("the embedded TUF root: {e}")))?;
        let metadata_url = directory(options.mirror)?;
        let targets_url = metadata_url
            .join("targets/")
            .map_err(|e| TufError::Options(e.to_string()))?;
        let max_body = LIMITS.max_targets_size.max(options.max_target_bytes);
        let transport = if metadata_url.scheme() == "file" {
            MirrorTransport::directory(max_body)
        } else {
            crate::net::require_https_or_loopback(&metadata_url).map_err(|e| {
                use crate::net::InsecureUrl as I;
                TufError::Options(match e {
                    I::Credentials => "the mirror URL carries credentials".into(),
                    I::PlainHttp => "the mirror must be https:// (http:// only to loopback)".into(),
                    I::NotHttp => format!(
                        "the mirror must be https:// or file://, not {}:",
                        metadata_url.scheme()
                    ),
                })
            })?;
            MirrorTransport::http(options.timeout, max_body).map_err(TufError::Options)?
        };
        let cache_dir = std::path::absolute(&options.cache_dir)
            .map_err(|e| TufError::Options(format!("cache directory: {e}")))?;
        tokio::fs::create_dir_all(&cache_dir)
            .await
            .map_err(|e| TufError::Cache(format!("cannot create {}: {e}", cache_dir.display())))?;
        let this = TufTrustRoot {
            metadata_url,
            targets_url,
            embedded_root: options.embedded_root,
            embedded_version,
            timeout: options.timeout,
            max_target_bytes: options.max_target_bytes,
            offline_default: options.offline_default,
            transport,
            cache: Cache::new(cache_dir),
            state: RwLock::new(State::default()),
            refreshing: tokio::sync::Mutex::new(()),
        };
        match this.load_cache().await {
            Ok(Some(verified)) => this.write_state().verified = Some(verified),
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(error = %e, "the TUF cache was refused; it is replaced by the next refresh");
                this.write_state().last_error = Some(format!("the disk cache was refused: {e}"));
            }
        }
        Ok(this)
    }

    /// The trusted root to verify with: the last verified one while its TUF metadata is
    /// unexpired, the offline default while nothing was ever verified, else an error.
    pub fn current(&self) -> Result<Arc<TrustRoot>, TufError> {
        let state = self.state.read().unwrap_or_else(|e| e.into_inner());
        let reason = || {
            state
                .last_error
                .clone()
                .unwrap_or_else(|| "no refresh has succeeded since".to_owned())
        };
        match &state.verified {
            Some(v) if OffsetDateTime::now_utc() < v.expires => Ok(v.trust_root.clone()),
            Some(v) => Err(TufError::Expired {
                expired_at: v.expires.format(&Rfc3339).unwrap_or_default(),
                reason: reason(),
            }),
            None => match &self.offline_default {
                Some(root) => Ok(root.clone()),
                None => Err(TufError::NoRoot(reason())),
            },
        }
    }

    /// What is served and why; never fails.
    pub fn status(&self) -> TufStatus {
        let state = self.state.read().unwrap_or_else(|e| e.into_inner());
        let v = state.verified.as_ref();
        TufStatus {
            source: v.map_or(RootSource::OfflineDefault, |v| v.source),
            root_version: v.map(|v| v.root_version),
            timestamp_version: v.map(|v| v.timestamp_version),
            expires: v.map(|v| v.expires),
            target_sha256: v.map(|v| v.target_sha256.clone()),
            last_error: state.last_error.clone(),
        }
    }

    /// One TUF update cycle against the mirror, bounded by the timeout. On success the new root
    /// serves and is cached; on failure the last verified root keeps serving (until it expires)
    /// and the reason is remembered for [`TufTrustRoot::current`].
    pub async fn refresh(&self) -> Result<Arc<TrustRoot>, TufError> {
        let _one_at_a_time = self.refreshing.lock().await;
        let outcome = match tokio::time::timeout(self.timeout, self.update()).await {
            Ok(outcome) => outcome,
            Err(_) => Err(TufError::Timeout(self.timeout)),
        };
        match outcome {
            Ok(verified) => {
                tracing::info!(
                    root_version = verified.root_version,
                    timestamp_version = verified.timestamp_version,
                    trusted_root_sha256 = %verified.target_sha256,
                    "refreshed the Sigstore trusted root through TUF"
                );
                let root = verified.trust_root.clone();
                let mut state = self.write_state();
                state.verified = Some(verified);
                state.last_error = None;
                Ok(root)
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot refresh the Sigstore trusted root; the last verified one serves until its TUF metadata expires");
                self.write_state().last_error = Some(e.to_string());
                Err(e)
            }
        }
    }

    async fn update(&self) -> Result<Verified, TufError> {
        let (anchor, previous) = {
            let state = self.state.read().unwrap_or_else(|e| e.into_inner());
            let previous = state.verified.clone();
            let anchor = match &previous {
                Some(v) if v.root_version > self.embedded_version => v.tuf_root.clone(),
                _ => self.embedded_root.to_vec(),
            };
            (anchor, previous)
        };
        let datastore = self.cache.datastore().await.map_err(TufError::Cache)?;
        let transport = self.transport.fresh();
        let repo =
            RepositoryLoader::new(&anchor, self.metadata_url.clone(), self.targets_url.clone())
                .transport(transport.clone())
                .limits(LIMITS)
                .datastore(datastore)
                .expiration_enforcement(ExpirationEnforcement::Safe)
                .load()
                .await
                .map_err(update_error)?;
        // The newest root's own bytes (what the mirror served), to anchor the next cycle.
        let version = repo.root().signed.version.get();
        let newest_url = self
            .metadata_url
            .join(&format!("{version}.root.json"))
            .map_err(|e| TufError::Update(e.to_string()))?;
        let recorded = transport.recorded();
        let tuf_root = recorded
            .iter()
            .rev()
            .find(|(url, _)| *url == newest_url)
            .map_or(anchor, |(_, bytes)| bytes.to_vec());
        let verified = self
            .read_target(&repo, tuf_root, RootSource::Mirror)
            .await?;
        // tough compares with its datastore; this also covers a datastore that was lost or
        // skipped its check (it does after a timestamp key rotation) within this process.
        if let Some(old) = previous {
            if old.root_version == verified.root_version
                && verified.timestamp_version < old.timestamp_version
            {
                return Err(TufError::Rollback(format!(
                    "timestamp version {} is older than the verified {}",
                    verified.timestamp_version, old.timestamp_version
                )));
            }
        }
        if let Err(e) = self
            .cache
            .store(
                &verified.tuf_root,
                &transport.recorded(),
                &self.metadata_url,
                &self.targets_url,
            )
            .await
        {
            // The root still serves from memory; a restart then starts from the older cache.
            tracing::warn!(error = %e, "cannot cache the verified TUF state");
        }
        Ok(verified)
    }

    /// The cached generation, verified again from its newest root (or the embedded root, when
    /// that is newer: a rebuilt binary's root wins over an older cache). Expiry is not enforced
    /// by tough here but by [`TufTrustRoot::current`], so an expired cache reports when.
    async fn load_cache(&self) -> Result<Option<Verified>, String> {
        let Some(generation) = self.cache.current().await? else {
            return Ok(None);
        };
        let cached_version = root_version(&generation.root)?;
        let anchor = if cached_version >= self.embedded_version {
            generation.root
        } else {
            self.embedded_root.to_vec()
        };
        let repo = RepositoryLoader::new(&anchor, generation.metadata_url, generation.targets_url)
            .transport(MirrorTransport::directory(
                LIMITS.max_targets_size.max(self.max_target_bytes),
            ))
            .limits(LIMITS)
            .expiration_enforcement(ExpirationEnforcement::Unsafe)
            .load()
            .await
            .map_err(|e| error_chain(&e))?;
        let verified = self
            .read_target(&repo, anchor, RootSource::Cache)
            .await
            .map_err(|e| e.to_string())?;
        Ok(Some(verified))
    }

    /// Reads and parses the trusted-root target of a verified repository.
    async fn read_target(
        &self,
        repo: &Repository,
        tuf_root: Vec<u8>,
        source: RootSource,
    ) -> Result<Verified, TufError> {
        let name =
            TargetName::new(TRUSTED_ROOT_TARGET).map_err(|e| TufError::Target(e.to_string()))?;
        let missing = || TufError::Target("not listed in the targets metadata".into());
        let target = repo
            .targets()
            .signed
            .targets
            .get(&name)
            .ok_or_else(missing)?;
        if target.length > self.max_target_bytes {
            return Err(TufError::Target(format!(
                "{} bytes, more than the {} allowed",
                target.length, self.max_target_bytes
            )));
        }
        // tough bounds the read by the signed length and checks the signed SHA-256.
        let bytes = repo
            .read_target(&name)
            .await
            .map_err(update_error)?
            .ok_or_else(missing)?
            .into_vec()
            .await
            .map_err(update_error)?;
        let trust_root =
            TrustRoot::from_json(&bytes).map_err(|e| TufError::Target(e.to_string()))?;
        let expires = [
            repo.root().signed.expires,
            repo.timestamp().signed.expires,
            repo.snapshot().signed.expires,
            repo.targets().signed.expires,
        ]
        .into_iter()
        .min()
        .map(|t| t.as_nanosecond())
        .unwrap_or_default();
        let expires = OffsetDateTime::from_unix_timestamp_nanos(expires)
            .map_err(|e| TufError::Update(format!("metadata expiry: {e}")))?;
        Ok(Verified {
            trust_root: Arc::new(trust_root),
            tuf_root,
            root_version: repo.root().signed.version.get(),
            timestamp_version: repo.timestamp().signed.version.get(),
            expires,
            target_sha256: hex::encode(aws_lc_rs::digest::digest(
                &aws_lc_rs::digest::SHA256,
                &bytes,
            )),
            source,
        })
    }

    fn write_state(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }
}
