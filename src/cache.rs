//! Decision cache with request coalescing ("single flight").
//!
//! Keyed by (repository, digest, applied policy hashes): signatures live per repository, and a
//! changed policy file must never be answered from a decision made under the old one.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures::future::{BoxFuture, FutureExt, Shared};

use crate::decision::{Decision, PolicyRef};
use crate::reference::{Digest, Repository};

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey(String);

impl CacheKey {
    pub fn new(repo: &Repository, digest: &Digest, policies: &[PolicyRef]) -> CacheKey {
        let mut key = format!("{repo}@{digest}");
        for p in policies {
            key.push(' ');
            key.push_str(&p.name);
            key.push('=');
            key.push_str(&p.sha256);
        }
        CacheKey(key)
    }
}

enum Entry {
    InFlight(Shared<BoxFuture<'static, Decision>>),
    Done { decision: Decision, until: Instant },
}

pub struct DecisionCache {
    entries: Mutex<HashMap<CacheKey, Entry>>,
    pass_ttl: Duration,
    fail_ttl: Duration,
    capacity: usize,
    hits: AtomicU64,
    coalesced: AtomicU64,
    misses: AtomicU64,
}

/// Counters for `/metrics`.
#[derive(Debug, Clone, Copy, Default)]
pub struct CacheStats {
    pub hits: u64,
    pub coalesced: u64,
    pub misses: u64,
}

impl DecisionCache {
    pub fn new(pass_ttl: Duration, fail_ttl: Duration, capacity: usize) -> DecisionCache {
        DecisionCache {
            entries: Mutex::new(HashMap::new()),
            pass_ttl,
            fail_ttl,
            capacity: capacity.max(1),
            hits: AtomicU64::new(0),
            coalesced: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    pub fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            coalesced: self.coalesced.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
        }
    }

    /// A fresh cached decision, the result of an evaluation already running for `key`, or the
    /// result of running `evaluate` (which later callers then share).
    pub async fn get_or_evaluate<F>(&self, key: CacheKey, evaluate: F) -> Decision
    where
        F: Future<Output = Decision> + Send + 'static,
    {
        let shared = {
            let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
            match entries.get(&key) {
                Some(Entry::Done { decision, until }) if *until > Instant::now() => {
                    self.hits.fetch_add(1, Ordering::Relaxed);
                    let mut d = decision.clone();
                    d.cached = true;
                    return d;
                }
                Some(Entry::InFlight(f)) => {
                    self.coalesced.fetch_add(1, Ordering::Relaxed);
                    f.clone()
                }
                _ => {
                    self.misses.fetch_add(1, Ordering::Relaxed);
                    // Run on its own task so that a caller who gives up (client disconnect)
                    // does not cancel the evaluation others are waiting for.
                    let task = tokio::spawn(evaluate);
                    let f = async move {
                        task.await
                            .unwrap_or_else(|e| panic_decision(&e.to_string()))
                    }
                    .boxed()
                    .shared();
                    entries.insert(key.clone(), Entry::InFlight(f.clone()));
                    f
                }
            }
        };
        let decision = shared.await;
        let ttl = if decision.passed() {
            self.pass_ttl
        } else {
            self.fail_ttl
        };
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if matches!(entries.get(&key), Some(Entry::InFlight(_))) {
            if entries.len() >= self.capacity {
                let now = Instant::now();
                entries.retain(|_, e| !matches!(e, Entry::Done { until, .. } if *until <= now));
                if entries.len() >= self.capacity {
                    // Keep only evaluations still running; a finished one whose callers all
                    // went away would otherwise stay forever.
                    entries.retain(|_, e| matches!(e, Entry::InFlight(f) if f.peek().is_none()));
                }
            }
            entries.insert(
                key,
                Entry::Done {
                    decision: decision.clone(),
                    until: Instant::now() + ttl,
                },
            );
        }
        decision
    }
}

/// An evaluation that panicked still answers: with a fail that says so.
fn panic_decision(why: &str) -> Decision {
    let check = crate::decision::Check::new(
        "internal",
        None,
        crate::decision::CheckResult::Error,
        format!("the evaluation failed unexpectedly ({why}); this is a bug in shipgate, please report it"),
    );
    Decision::conclude(String::new(), None, Vec::new(), vec![check], Instant::now())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;

    fn decision(pass: bool) -> Decision {
        let result = if pass {
            crate::decision::CheckResult::Pass
        } else {
            crate::decision::CheckResult::Fail
        };
        let c = crate::decision::Check::new("signature", None, result, String::new());
        Decision::conclude("i".into(), None, vec![], vec![c], Instant::now())
    }

    fn key(n: u8) -> CacheKey {
        CacheKey(format!("k{n}"))
    }

    #[tokio::test]
    async fn concurrent_requests_share_one_evaluation_and_then_hit() {
        let cache = Arc::new(DecisionCache::new(
            Duration::from_secs(60),
            Duration::from_secs(1),
            10,
        ));
        let runs = Arc::new(AtomicUsize::new(0));
        let mut handles = Vec::new();
        for _ in 0..8 {
            let (cache, runs) = (cache.clone(), runs.clone());
            handles.push(tokio::spawn(async move {
                cache
                    .get_or_evaluate(key(1), async move {
                        runs.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        decision(true)
                    })
                    .await
            }));
        }
        for h in handles {
            assert!(h.await.unwrap().passed());
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        let again = cache
            .get_or_evaluate(key(1), async { decision(false) })
            .await;
        assert!(again.passed() && again.cached);
        let s = cache.stats();
        assert_eq!((s.misses, s.coalesced + s.hits), (1, 8));
    }

    #[tokio::test]
    async fn failures_expire_sooner_and_panics_become_errors() {
        let cache = DecisionCache::new(Duration::from_secs(60), Duration::ZERO, 10);
        assert!(!cache
            .get_or_evaluate(key(2), async { decision(false) })
            .await
            .passed());
        // Zero TTL for failures: the next call evaluates again.
        assert!(cache
            .get_or_evaluate(key(2), async { decision(true) })
            .await
            .passed());
        let d = cache
            .get_or_evaluate(key(3), async { panic!("boom") })
            .await;
        assert!(!d.passed());
        assert_eq!(d.checks[0].check, "internal");
    }

    #[tokio::test]
    async fn capacity_is_bounded() {
        let cache = DecisionCache::new(Duration::from_secs(60), Duration::from_secs(60), 3);
        for n in 0..10 {
            cache
                .get_or_evaluate(key(n), async { decision(true) })
                .await;
        }
        assert!(cache.entries.lock().unwrap().len() <= 3);
    }
}
