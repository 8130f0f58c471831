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

/// What one evaluation left: its decision and when its evidence started to be collected, or
/// `None` when its deadline passed first (the work was dropped, and nothing is cached).
type Outcome = Option<(Decision, Instant)>;

enum Entry {
    /// Running until its deadline at the latest.
    InFlight {
        outcome: Shared<BoxFuture<'static, Outcome>>,
        deadline: Instant,
    },
    Done {
        decision: Decision,
        until: Instant,
    },
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
    /// result of the evaluation `start` returns (which later callers then share).
    ///
    /// The evaluation runs on its own task, so a caller who gives up (client disconnect) does
    /// not cancel what others wait for; but it is dropped at `deadline` — its registry requests
    /// with it — and then answers `Ok(None)`, which is never cached. A finished decision is
    /// reused until its TTL counted from when its evidence began to be collected, not from when
    /// it finished, so a slow evaluation is not served for longer than its evidence is fresh.
    /// `start` is called only when there is no decision to share; its error (e.g. the gate is
    /// at its limit of concurrent evaluations) is returned as is.
    pub async fn get_or_evaluate<F, E>(
        &self,
        key: CacheKey,
        deadline: Instant,
        start: impl FnOnce() -> Result<F, E>,
    ) -> Result<Option<Decision>, E>
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
                    return Ok(Some(d));
                }
                // Shared while running, or when it finished with a decision not yet stored.
                // One whose deadline passed has nothing to share (its callers may all have
                // gone before they could remove it): evaluate afresh.
                Some(Entry::InFlight { outcome, deadline })
                    if match outcome.peek() {
                        None => *deadline > Instant::now(),
                        Some(done) => done.is_some(),
                    } =>
                {
                    self.coalesced.fetch_add(1, Ordering::Relaxed);
                    outcome.clone()
                }
                _ => {
                    let evaluate = start()?;
                    self.misses.fetch_add(1, Ordering::Relaxed);
                    if entries.len() >= self.capacity {
                        // Evaluations that timed out with no caller left to remove them would
                        // otherwise pile up while every evaluation times out.
                        prune(&mut entries, self.capacity);
                    }
                    let task = tokio::spawn(async move {
                        let collected_from = Instant::now();
                        let deadline = tokio::time::Instant::from_std(deadline);
                        tokio::time::timeout_at(deadline, evaluate)
                            .await
                            .ok()
                            .map(|d| (d, collected_from))
                    });
                    let f = async move {
                        task.await.unwrap_or_else(|e| {
                            Some((panic_decision(&e.to_string()), Instant::now()))
                        })
                    }
                    .boxed()
                    .shared();
                    entries.insert(
                        key.clone(),
                        Entry::InFlight {
                            outcome: f.clone(),
                            deadline,
                        },
                    );
                    f
                }
            }
        };
        let outcome = shared.clone().await;
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let Some((decision, collected_from)) = outcome else {
            // Past its deadline: forget it, so that the next request evaluates afresh.
            if is_ours(entries.get(&key), &shared) {
                entries.remove(&key);
            }
            return Ok(None);
        };
        let ttl = if decision.passed() {
            self.pass_ttl
        } else {
            self.fail_ttl
        };
        // A TTL too large to add is, in practice, no expiry (a year).
        let until = collected_from
            .checked_add(ttl)
            .unwrap_or_else(|| collected_from + Duration::from_secs(365 * 24 * 3600));
        if is_ours(entries.get(&key), &shared) {
            if until <= Instant::now() {
                // Its evidence is already older than the TTL allows.
                entries.remove(&key);
                return Ok(Some(decision));
            }
            if entries.len() >= self.capacity {
                prune(&mut entries, self.capacity);
            }
            entries.insert(
                key,
                Entry::Done {
                    decision: decision.clone(),
                    until,
                },
            );
        }
        Ok(Some(decision))
    }
}

/// Drops expired decisions and evaluations past their deadline; if still at `capacity`, keeps
/// only the evaluations still running (a finished one whose callers all went away would
/// otherwise stay forever).
fn prune(entries: &mut HashMap<CacheKey, Entry>, capacity: usize) {
    let now = Instant::now();
    entries.retain(|_, e| match e {
        Entry::Done { until, .. } => *until > now,
        Entry::InFlight { deadline, .. } => *deadline > now,
    });
    if entries.len() >= capacity {
        entries.retain(|_, e| {
            matches!(e, Entry::InFlight { outcome, deadline }
                if outcome.peek().is_none() && *deadline > now)
        });
    }
}

/// Whether `entry` is the evaluation `shared` (and not a newer one that replaced it).
fn is_ours(entry: Option<&Entry>, shared: &Shared<BoxFuture<'static, Outcome>>) -> bool {
    matches!(entry, Some(Entry::InFlight { outcome, .. }) if outcome.ptr_eq(shared))
}

/// An evaluation that panicked still answers: with a fail that says so.
fn panic_decision(why: &str) -> Decision {
    let check = crate::decision::Check::new(
        "internal",
        crate::decision::CheckCode::InternalError,
        None,
        crate::decision::CheckResult::Error,
        format!("the evaluation failed unexpectedly ({why}); this is a bug in shipgate, please report it"),
    );
    Decision::conclude(String::new(), None, Vec::new(), vec![check], Instant::now())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::convert::Infallible;
    use std::sync::atomic::{AtomicBool, AtomicUsize};
    use std::sync::Arc;

    fn decision(pass: bool) -> Decision {
        let result = if pass {
            crate::decision::CheckResult::Pass
        } else {
            crate::decision::CheckResult::Fail
        };
        let c = crate::decision::Check::new(
            "signature",
            crate::decision::CheckCode::SignatureMissing,
            None,
            result,
            String::new(),
        );
        Decision::conclude("i".into(), None, vec![], vec![c], Instant::now())
    }

    fn key(n: u8) -> CacheKey {
        CacheKey(format!("k{n}"))
    }

    fn far() -> Instant {
        Instant::now() + Duration::from_secs(3600)
    }

    /// The cache's answer to `work`, started if nothing is shared or cached.
    async fn ask<F>(
        cache: &DecisionCache,
        k: CacheKey,
        deadline: Instant,
        work: F,
    ) -> Option<Decision>
    where
        F: Future<Output = Decision> + Send + 'static,
    {
        match cache
            .get_or_evaluate(k, deadline, || Ok::<_, Infallible>(work))
            .await
        {
            Ok(d) => d,
            Err(never) => match never {},
        }
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
                ask(&cache, key(1), far(), async move {
                    runs.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    decision(true)
                })
                .await
            }));
        }
        for h in handles {
            assert!(h.await.unwrap().unwrap().passed());
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        let again = ask(&cache, key(1), far(), async { decision(false) })
            .await
            .unwrap();
        assert!(again.passed() && again.cached);
        let s = cache.stats();
        assert_eq!((s.misses, s.coalesced + s.hits), (1, 8));
    }

    #[tokio::test]
    async fn failures_expire_sooner_and_panics_become_errors() {
        let cache = DecisionCache::new(Duration::from_secs(60), Duration::ZERO, 10);
        assert!(!ask(&cache, key(2), far(), async { decision(false) })
            .await
            .unwrap()
            .passed());
        // Zero TTL for failures: the next call evaluates again.
        assert!(ask(&cache, key(2), far(), async { decision(true) })
            .await
            .unwrap()
            .passed());
        let d = ask(&cache, key(3), far(), async { panic!("boom") })
            .await
            .unwrap();
        assert!(!d.passed());
        assert_eq!(d.checks[0].check, "internal");
    }

    #[tokio::test]
    async fn capacity_is_bounded() {
        let cache = DecisionCache::new(Duration::from_secs(60), Duration::from_secs(60), 3);
        for n in 0..10 {
            ask(&cache, key(n), far(), async { decision(true) }).await;
        }
        assert!(cache.entries.lock().unwrap().len() <= 3);
    }

    /// Sets its flag when dropped: shows that the work itself was cancelled.
    struct DropFlag(Arc<AtomicBool>);
    impl Drop for DropFlag {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    #[tokio::test]
    async fn work_past_its_deadline_is_dropped_and_never_cached() {
        let cache = DecisionCache::new(Duration::from_secs(60), Duration::from_secs(60), 10);
        let dropped = Arc::new(AtomicBool::new(false));
        let finished = Arc::new(AtomicBool::new(false));
        let (flag, done) = (DropFlag(dropped.clone()), finished.clone());
        let deadline = Instant::now() + Duration::from_millis(100);
        let answer = ask(&cache, key(4), deadline, async move {
            let _flag = flag;
            tokio::time::sleep(Duration::from_secs(5)).await;
            done.store(true, Ordering::SeqCst);
            decision(true)
        })
        .await;
        assert!(answer.is_none(), "a late evaluation has no answer");
        // The work was dropped at the deadline, not left running on its task.
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(dropped.load(Ordering::SeqCst));
        assert!(!finished.load(Ordering::SeqCst));
        // Nothing was cached: the next request evaluates again (and may fail).
        let next = ask(&cache, key(4), far(), async { decision(false) })
            .await
            .unwrap();
        assert!(!next.passed() && !next.cached);
    }

    #[tokio::test]
    async fn ttl_counts_from_when_the_evidence_was_collected() {
        // A 300 ms pass TTL and an evaluation that takes 400 ms: its evidence is already too
        // old to reuse when it finishes, so the next request evaluates again.
        let cache = DecisionCache::new(Duration::from_millis(300), Duration::ZERO, 10);
        let slow = ask(&cache, key(5), far(), async {
            tokio::time::sleep(Duration::from_millis(400)).await;
            decision(true)
        })
        .await
        .unwrap();
        assert!(slow.passed());
        let next = ask(&cache, key(5), far(), async { decision(false) })
            .await
            .unwrap();
        assert!(!next.cached && !next.passed());

        // A quick evaluation is reused, but only until its collection time + TTL.
        ask(&cache, key(6), far(), async {
            tokio::time::sleep(Duration::from_millis(150)).await;
            decision(true)
        })
        .await;
        assert!(
            ask(&cache, key(6), far(), async { decision(false) })
                .await
                .unwrap()
                .cached
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        let expired = ask(&cache, key(6), far(), async { decision(false) })
            .await
            .unwrap();
        assert!(!expired.cached && !expired.passed());
    }

    #[tokio::test]
    async fn a_refused_start_is_returned_and_leaves_nothing_behind() {
        let cache = DecisionCache::new(Duration::from_secs(60), Duration::from_secs(60), 10);
        let refused = cache
            .get_or_evaluate(key(7), far(), || {
                Err::<std::future::Ready<Decision>, _>("busy")
            })
            .await;
        assert_eq!(refused.err(), Some("busy"));
        assert!(cache.entries.lock().unwrap().is_empty());
        assert_eq!(cache.stats().misses, 0);
    }

    #[tokio::test]
    async fn evaluations_whose_callers_left_before_their_deadline_do_not_pile_up() {
        let cache = DecisionCache::new(Duration::from_secs(60), Duration::from_secs(60), 3);
        for n in 0..10 {
            // The caller gives up before the evaluation's own deadline, so it never removes
            // the entry; the next miss at capacity must.
            let deadline = Instant::now() + Duration::from_millis(20);
            let gave_up = tokio::time::timeout(
                Duration::from_millis(5),
                ask(&cache, key(n), deadline, async {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    decision(true)
                }),
            )
            .await;
            assert!(gave_up.is_err());
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
        assert!(cache.entries.lock().unwrap().len() <= 3);
    }
}
