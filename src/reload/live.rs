//! The gate (and caller authentication) currently serving, swapped whole by a reload.

use std::sync::{Arc, Mutex, RwLock};

use crate::auth::Authenticator;
use crate::cache::CacheStats;
use crate::evidence::base_image::BaseImageCacheStats;
use crate::gate::Gate;

use super::status::{ReloadFailure, ReloadStatus};

/// What one request is answered with, taken once at its start.
#[derive(Clone)]
pub struct Snapshot {
    pub gate: Gate,
    /// `None`: no caller authentication (the CLI then listens on loopback only).
    pub auth: Option<Arc<Authenticator>>,
}

/// The current [`Snapshot`], the reload history, and the cache counters of retired gates.
pub struct Live {
    current: RwLock<Snapshot>,
    status: Mutex<ReloadStatus>,
    /// Counters of the gates replaced so far, so that `/metrics` counters never go back.
    retired: Mutex<(CacheStats, BaseImageCacheStats)>,
}

impl Live {
    /// Generation 1: what the process started with.
    pub fn new(gate: Gate, auth: Option<Arc<Authenticator>>) -> Live {
        let status = ReloadStatus::started(gate.policies());
        Live {
            current: RwLock::new(Snapshot { gate, auth }),
            status: Mutex::new(status),
            retired: Mutex::new(Default::default()),
        }
    }

    /// The snapshot to answer one request with (two `Arc` clones under a read lock).
    pub fn current(&self) -> Snapshot {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn status(&self) -> ReloadStatus {
        self.status
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Swaps `next` in and returns the generation it is. `restart_needed` names the changed
    /// settings that were not applied.
    ///
    /// The new gate comes with its own, empty decision cache: a decision made before the swap
    /// is never served after it. The cache key holds each policy's hash, but that is the hash
    /// of the policy file only; a `keyRef` key file or a Notation trust store can change
    /// under unchanged policy bytes, so only a fresh cache proves "decided under this set".
    pub(super) fn install(&self, next: Snapshot, restart_needed: Vec<String>) -> u64 {
        let mut status = ReloadStatus::started(next.gate.policies());
        let previous = {
            let mut current = self.current.write().unwrap_or_else(|p| p.into_inner());
            std::mem::replace(&mut *current, next)
        };
        {
            let mut retired = self.retired.lock().unwrap_or_else(|p| p.into_inner());
            add_stats(&mut retired, &previous.gate);
        }
        let mut old = self.status.lock().unwrap_or_else(|p| p.into_inner());
        status.generation = old.generation + 1;
        status.successes = old.successes + 1;
        status.failures = old.failures;
        status.restart_needed = restart_needed;
        *old = status;
        old.generation
    }

    /// Records a reload that left the current snapshot in place.
    pub(super) fn record_failure(&self, reason: String) {
        let mut status = self.status.lock().unwrap_or_else(|p| p.into_inner());
        status.failures += 1;
        status.last_error = Some(ReloadFailure::now(reason));
    }

    /// Decision-cache and base-image-cache counters since the process started (current gate
    /// plus every retired one); the base-image entries are the current gate's.
    pub fn cache_stats(&self, current: &Gate) -> (CacheStats, BaseImageCacheStats) {
        let mut stats = *self.retired.lock().unwrap_or_else(|p| p.into_inner());
        add_stats(&mut stats, current);
        stats.1.entries = current.base_image_cache().stats().entries;
        stats
    }
}

fn add_stats(total: &mut (CacheStats, BaseImageCacheStats), gate: &Gate) {
    let cache = gate.cache().stats();
    total.0.hits += cache.hits;
    total.0.coalesced += cache.coalesced;
    total.0.misses += cache.misses;
    let base = gate.base_image_cache().stats();
    total.1.hits += base.hits;
    total.1.misses += base.misses;
}
