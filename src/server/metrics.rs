//! Prometheus metrics, written by hand: a few counters and one histogram need no framework.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::cache::CacheStats;
use crate::evidence::base_image::BaseImageCacheStats;
use crate::reload::ReloadMetrics;

/// Upper bounds (seconds) of the decision-latency histogram buckets.
const BUCKETS: [f64; 10] = [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 20.0];

/// Why a caller was refused, the label of `shipgate_refused_callers_total`.
#[derive(Debug, Clone, Copy)]
pub enum RefusedCaller {
    /// 401: no or invalid credentials.
    Unauthenticated,
    /// 403: a valid token whose claims are outside the rules.
    Forbidden,
    /// 503: the issuer's keys could not be fetched.
    KeysUnavailable,
}

/// Why a decision request was refused for load, the label of `shipgate_overloaded_total`.
#[derive(Debug, Clone, Copy)]
pub enum Overload {
    /// The server's limit of decision requests in flight (`limits.maxDecisionsInFlight`).
    DecisionsInFlight,
    /// The gate's own limit of concurrent evaluations.
    GateEvaluations,
}

/// Why the server closed a client connection, the label of
/// `shipgate_connections_closed_total`.
#[derive(Debug, Clone, Copy)]
pub enum ClosedConnection {
    /// The request headers did not arrive within the header timeout.
    HeaderTimeout,
    /// The request body did not arrive within the body timeout (answered 408).
    BodyTimeout,
    /// Kept alive without a new request for the idle timeout.
    IdleTimeout,
    /// Closed to make room for a new connection (at the cap, or out of fds).
    Evicted,
    /// A new connection closed at once: at the cap, and every connection was being answered.
    RefusedAtCap,
    /// Not being answered when the server shut down.
    Shutdown,
}

const CLOSED_LABELS: [(&str, ClosedConnection); 6] = [
    ("header_timeout", ClosedConnection::HeaderTimeout),
    ("body_timeout", ClosedConnection::BodyTimeout),
    ("idle_timeout", ClosedConnection::IdleTimeout),
    ("evicted", ClosedConnection::Evicted),
    ("refused_at_cap", ClosedConnection::RefusedAtCap),
    ("shutdown", ClosedConnection::Shutdown),
];

#[derive(Default)]
pub struct Metrics {
    overloaded: [AtomicU64; 2],
    closed_connections: [AtomicU64; CLOSED_LABELS.len()],
    open_connections: AtomicU64,
    accept_exhausted: AtomicU64,
    pass: AtomicU64,
    fail: AtomicU64,
    bad_requests: AtomicU64,
    refused: [AtomicU64; 3],
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Metrics {
    pub fn record_decision(&self, passed: bool, took: Duration) {
        if passed { &self.pass } else { &self.fail }.fetch_add(1, Ordering::Relaxed);
        let secs = took.as_secs_f64();
        for (bound, bucket) in BUCKETS.iter().zip(&self.buckets) {
            if secs <= *bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(
            u64::try_from(took.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    pub fn record_bad_request(&self) {
        self.bad_requests.fetch_add(1, Ordering::Relaxed);
    }

    pub fn record_refused_caller(&self, why: RefusedCaller) {
        self.refused[why as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub fn record_overloaded(&self, why: Overload) {
        self.overloaded[why as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub fn record_closed_connection(&self, why: ClosedConnection) {
        self.closed_connections[why as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub fn set_open_connections(&self, open: usize) {
        self.open_connections
            .store(u64::try_from(open).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    pub fn record_accept_exhausted(&self) {
        self.accept_exhausted.fetch_add(1, Ordering::Relaxed);
    }

    /// The text exposition format.
    pub fn render(
        &self,
        cache: CacheStats,
        base_images: BaseImageCacheStats,
        policies: usize,
        reload: ReloadMetrics,
    ) -> String {
        let mut out = String::new();
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        out.push_str("# HELP shipgate_decisions_total Decisions answered, by verdict.\n");
        out.push_str("# TYPE shipgate_decisions_total counter\n");
        let _ = writeln!(
            out,
            "shipgate_decisions_total{{decision=\"pass\"}} {}",
            load(&self.pass)
        );
        let _ = writeln!(
            out,
            "shipgate_decisions_total{{decision=\"fail\"}} {}",
            load(&self.fail)
        );
        out.push_str(
            "# HELP shipgate_bad_requests_total Requests refused as malformed (HTTP 4xx).\n",
        );
        out.push_str("# TYPE shipgate_bad_requests_total counter\n");
        let _ = writeln!(
            out,
            "shipgate_bad_requests_total {}",
            load(&self.bad_requests)
        );
        out.push_str(
            "# HELP shipgate_refused_callers_total Decision requests refused by caller authentication.\n",
        );
        out.push_str("# TYPE shipgate_refused_callers_total counter\n");
        for (label, why) in [
            ("unauthenticated", RefusedCaller::Unauthenticated),
            ("forbidden", RefusedCaller::Forbidden),
            ("keys_unavailable", RefusedCaller::KeysUnavailable),
        ] {
            let _ = writeln!(
                out,
                "shipgate_refused_callers_total{{reason=\"{label}\"}} {}",
                load(&self.refused[why as usize])
            );
        }
        out.push_str(
            "# HELP shipgate_overloaded_total Decision requests refused with 503 for load, by limit.\n",
        );
        out.push_str("# TYPE shipgate_overloaded_total counter\n");
        for (label, why) in [
            ("decisions_in_flight", Overload::DecisionsInFlight),
            ("gate_evaluations", Overload::GateEvaluations),
        ] {
            let _ = writeln!(
                out,
                "shipgate_overloaded_total{{limit=\"{label}\"}} {}",
                load(&self.overloaded[why as usize])
            );
        }
        out.push_str("# HELP shipgate_connections_open Client connections open.\n");
        out.push_str("# TYPE shipgate_connections_open gauge\n");
        let _ = writeln!(
            out,
            "shipgate_connections_open {}",
            load(&self.open_connections)
        );
        out.push_str(
            "# HELP shipgate_connections_closed_total Client connections closed by the server, by reason.\n",
        );
        out.push_str("# TYPE shipgate_connections_closed_total counter\n");
        for (label, why) in CLOSED_LABELS {
            let _ = writeln!(
                out,
                "shipgate_connections_closed_total{{reason=\"{label}\"}} {}",
                load(&self.closed_connections[why as usize])
            );
        }
        out.push_str(
            "# HELP shipgate_accept_exhausted_total accept() failures for lack of fds or memory.\n",
        );
        out.push_str("# TYPE shipgate_accept_exhausted_total counter\n");
        let _ = writeln!(
            out,
            "shipgate_accept_exhausted_total {}",
            load(&self.accept_exhausted)
        );
        out.push_str("# HELP shipgate_decision_cache_total Decision cache lookups, by outcome.\n");
        out.push_str("# TYPE shipgate_decision_cache_total counter\n");
        let _ = writeln!(
            out,
            "shipgate_decision_cache_total{{outcome=\"hit\"}} {}",
            cache.hits
        );
        let _ = writeln!(
            out,
            "shipgate_decision_cache_total{{outcome=\"coalesced\"}} {}",
            cache.coalesced
        );
        let _ = writeln!(
            out,
            "shipgate_decision_cache_total{{outcome=\"miss\"}} {}",
            cache.misses
        );
        out.push_str(
            "# HELP shipgate_base_image_cache_total Resolved base-image lookups, by outcome.\n",
        );
        out.push_str("# TYPE shipgate_base_image_cache_total counter\n");
        let _ = writeln!(
            out,
            "shipgate_base_image_cache_total{{outcome=\"hit\"}} {}",
            base_images.hits
        );
        let _ = writeln!(
            out,
            "shipgate_base_image_cache_total{{outcome=\"miss\"}} {}",
            base_images.misses
        );
        out.push_str("# HELP shipgate_base_image_cache_entries Resolved base images cached.\n");
        out.push_str("# TYPE shipgate_base_image_cache_entries gauge\n");
        let _ = writeln!(
            out,
            "shipgate_base_image_cache_entries {}",
            base_images.entries
        );
        out.push_str("# HELP shipgate_policies Policies loaded.\n");
        out.push_str("# TYPE shipgate_policies gauge\n");
        let _ = writeln!(out, "shipgate_policies {policies}");
        render_reload(&mut out, reload);
        out.push_str(
            "# HELP shipgate_decision_duration_seconds Time to answer a decision request.\n",
        );
        out.push_str("# TYPE shipgate_decision_duration_seconds histogram\n");
        for (bound, bucket) in BUCKETS.iter().zip(&self.buckets) {
            let _ = writeln!(
                out,
                "shipgate_decision_duration_seconds_bucket{{le=\"{bound}\"}} {}",
                load(bucket)
            );
        }
        let count = load(&self.count);
        let _ = writeln!(
            out,
            "shipgate_decision_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(
            out,
            "shipgate_decision_duration_seconds_sum {}",
            load(&self.sum_micros) as f64 / 1e6
        );
        let _ = writeln!(out, "shipgate_decision_duration_seconds_count {count}");
        out
    }
}

/// The reload counters and gauges (docs/reload.md).
fn render_reload(out: &mut String, reload: ReloadMetrics) {
    out.push_str(
        "# HELP shipgate_reloads_total Reloads of policies and configuration, by result.\n",
    );
    out.push_str("# TYPE shipgate_reloads_total counter\n");
    let _ = writeln!(
        out,
        "shipgate_reloads_total{{result=\"success\"}} {}",
        reload.successes
    );
    let _ = writeln!(
        out,
        "shipgate_reloads_total{{result=\"failure\"}} {}",
        reload.failures
    );
    out.push_str(
        "# HELP shipgate_config_generation The serving policies' generation: 1 at startup, +1 per reload applied.\n",
    );
    out.push_str("# TYPE shipgate_config_generation gauge\n");
    let _ = writeln!(out, "shipgate_config_generation {}", reload.generation);
    out.push_str(
        "# HELP shipgate_config_last_reload_success 1 if the latest reload (or the startup) applied, 0 if it failed.\n",
    );
    out.push_str("# TYPE shipgate_config_last_reload_success gauge\n");
    let _ = writeln!(
        out,
        "shipgate_config_last_reload_success {}",
        u8::from(reload.last_succeeded)
    );
}
