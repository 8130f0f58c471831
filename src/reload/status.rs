//! What `/readyz` and `/metrics` say about reloads.

use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::policy::PolicySet;

/// The serving generation and the latest reload attempt.
#[derive(Debug, Clone)]
pub struct ReloadStatus {
    /// 1 at startup, one more at each successful reload.
    pub generation: u64,
    /// The serving policies: (name, `sha256:…` of the file).
    pub policies: Vec<(String, String)>,
    /// When the serving generation was loaded (RFC 3339).
    pub loaded_at: String,
    /// Set when the latest attempt failed (and the generation above kept serving).
    pub last_error: Option<ReloadFailure>,
    /// Settings changed in the files that only a restart applies.
    pub restart_needed: Vec<String>,
    pub successes: u64,
    pub failures: u64,
}

#[derive(Debug, Clone)]
pub struct ReloadFailure {
    pub at: String,
    pub reason: String,
}

/// The numbers `/metrics` shows.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReloadMetrics {
    pub generation: u64,
    pub successes: u64,
    pub failures: u64,
    /// Whether the latest attempt (or the startup) succeeded.
    pub last_succeeded: bool,
}

fn now() -> String {
    OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .unwrap_or_else(|_| "unknown".into())
}

impl ReloadFailure {
    pub fn now(reason: String) -> ReloadFailure {
        ReloadFailure { at: now(), reason }
    }
}

impl ReloadStatus {
    /// Generation 1, serving `policies`, loaded now.
    pub fn started(policies: &PolicySet) -> ReloadStatus {
        ReloadStatus {
            generation: 1,
            policies: policies
                .iter()
                .map(|p| (p.name.clone(), p.sha256.clone()))
                .collect(),
            loaded_at: now(),
            last_error: None,
            restart_needed: Vec::new(),
            successes: 0,
            failures: 0,
        }
    }

    pub fn metrics(&self) -> ReloadMetrics {
        ReloadMetrics {
            generation: self.generation,
            successes: self.successes,
            failures: self.failures,
            last_succeeded: self.last_error.is_none(),
        }
    }

    /// The `reload` object of `/readyz`.
    pub fn to_json(&self) -> Value {
        let policies: Vec<Value> = self
            .policies
            .iter()
            .map(|(name, sha256)| json!({ "name": name, "sha256": sha256 }))
            .collect();
        let mut out = json!({
            "generation": self.generation,
            "loadedAt": self.loaded_at,
            "policies": policies,
            "successes": self.successes,
            "failures": self.failures,
        });
        if let Some(failure) = &self.last_error {
            out["lastError"] = json!({ "at": failure.at, "reason": failure.reason });
        }
        if !self.restart_needed.is_empty() {
            out["restartNeeded"] = json!(self.restart_needed);
        }
        out
    }
}
