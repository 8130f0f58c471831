//! One reload: read everything again, build a new gate, and swap it in, or keep the old one.

use std::sync::{Arc, Mutex};

use crate::auth::{AuthSettings, Authenticator};
use crate::config::{AuthConfig, ServeConfig};
use crate::policy::PolicySet;
use crate::setup::{GateArgs, MainRoots};

use super::fingerprint::Fingerprint;
use super::live::{Live, Snapshot};
use super::load::{gate_for, load_policy_set, Sources};

/// What the process started with and a reload keeps.
pub struct Running {
    /// The config as started: the settings only a restart applies are compared with it.
    pub config: ServeConfig,
    /// `--listen` was given, so the config's `listen` is not used anyway.
    pub listen_flag: bool,
    /// With TUF, the TUF-refreshed main root and its refresher, kept across reloads.
    pub tuf_roots: Option<Arc<MainRoots>>,
}

/// Reloads [`Live`] from [`Sources`], one reload at a time.
pub struct Reloader {
    sources: Sources,
    args: GateArgs,
    running: Running,
    live: Arc<Live>,
    /// The `auth` section serving now: an unchanged one keeps its authenticator (and the
    /// issuers' keys it has fetched).
    applied_auth: Mutex<Option<AuthConfig>>,
    one_at_a_time: tokio::sync::Mutex<()>,
    /// The files as the latest reload read them, for the watcher to compare with.
    seen: Mutex<Option<Fingerprint>>,
}

impl Reloader {
    pub fn new(sources: Sources, args: GateArgs, running: Running, live: Arc<Live>) -> Reloader {
        let applied_auth = Mutex::new(running.config.auth.clone());
        Reloader {
            sources,
            args,
            running,
            live,
            applied_auth,
            one_at_a_time: tokio::sync::Mutex::new(()),
            seen: Mutex::new(None),
        }
    }

    pub fn sources(&self) -> &Sources {
        &self.sources
    }

    /// The fingerprint of the files as the latest reload (or [`Reloader::remember`]) read them.
    pub fn seen(&self) -> Option<Fingerprint> {
        self.seen.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Records the files as they are now (at startup, before anything was reloaded).
    pub async fn remember(&self) {
        let now = Fingerprint::of_async(&self.sources).await;
        *self.seen.lock().unwrap_or_else(|p| p.into_inner()) = Some(now);
    }

    /// Reads everything again and swaps the new gate in; on any error keeps the serving one.
    /// `trigger` says why, for the logs. Returns whether the new files were applied.
    pub async fn reload(&self, trigger: &str) -> bool {
        let _one = self.one_at_a_time.lock().await;
        // Taken before reading: a change made while loading differs from it, so the watcher
        // reloads once more rather than missing it.
        self.remember().await;
        match self.prepare().await {
            Ok((snapshot, restart_needed, auth)) => {
                let changes =
                    describe_changes(&self.live.status().policies, snapshot.gate.policies());
                let policies = snapshot.gate.policies().iter().count();
                if !restart_needed.is_empty() {
                    tracing::warn!(
                        settings = %restart_needed.join(", "),
                        "changed settings need a restart to apply; the rest of the change is applied"
                    );
                }
                let generation = self.live.install(snapshot, restart_needed);
                *self.applied_auth.lock().unwrap_or_else(|p| p.into_inner()) = auth;
                tracing::info!(trigger, generation, policies, changes = %changes, "reloaded");
                true
            }
            Err(e) => {
                let reason = format!("{e:#}");
                tracing::error!(
                    trigger,
                    reason = %reason,
                    "reload failed; the previous policies and configuration keep serving"
                );
                self.live.record_failure(reason);
                false
            }
        }
    }

    /// The next snapshot, the settings that need a restart, and the `auth` section applied.
    async fn prepare(&self) -> anyhow::Result<(Snapshot, Vec<String>, Option<AuthConfig>)> {
        let mut config = self.sources.read_config()?;
        let restart_needed = self.keep_restart_only(&mut config);
        let policies = load_policy_set(&self.sources.policy_paths(&config)).await?;
        let serving = self.live.current();
        let serving_count = serving.gate.policies().iter().count();
        if policies.is_empty() && serving_count > 0 {
            // An emptied directory is more often a half-finished deploy than a wish to deny
            // every image; to serve no policy, restart.
            anyhow::bail!(
                "the files now hold no policy and {serving_count} are serving: a reload never empties the gate"
            );
        }
        let gate = gate_for(
            policies,
            &self.args,
            &config,
            self.running.tuf_roots.as_ref(),
        )
        .await?;
        // One pool of evaluation slots across reloads (the limit is restart-only).
        let gate = gate
            .sharing_evaluation_slots(&serving.gate)
            .ok_or_else(|| {
                anyhow::anyhow!("the new gate cannot share the evaluation limit (bug)")
            })?;
        let applied = self
            .applied_auth
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let auth = if config.auth == applied {
            serving.auth
        } else {
            match &config.auth {
                Some(section) => Some(Arc::new(
                    Authenticator::new(section, &AuthSettings::default())
                        .map_err(|e| anyhow::anyhow!("auth: {e}"))?,
                )),
                None => None,
            }
        };
        Ok((Snapshot { gate, auth }, restart_needed, config.auth))
    }

    /// Puts back the settings only a restart applies (the listener, its limits, the TUF
    /// source, the watch interval, and removing `auth` from a service started with it), and
    /// names those that changed.
    fn keep_restart_only(&self, config: &mut ServeConfig) -> Vec<String> {
        let was = &self.running.config;
        let mut changed = Vec::new();
        if !self.running.listen_flag && config.listen != was.listen {
            changed.push("listen".to_string());
            config.listen.clone_from(&was.listen);
        }
        if config.limits != was.limits {
            changed.push("limits".to_string());
            config.limits.clone_from(&was.limits);
        }
        if config.tuf != was.tuf {
            changed.push("tuf".to_string());
            config.tuf.clone_from(&was.tuf);
        }
        if config.reload != was.reload {
            changed.push("reload".to_string());
            config.reload.clone_from(&was.reload);
        }
        // Started with authentication, the listener may be reachable from anywhere: dropping
        // it could open the gate, so that takes a restart (which checks the loopback rule).
        if config.auth.is_none() && was.auth.is_some() {
            changed.push("auth (removed)".to_string());
            config.auth = self
                .applied_auth
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
        }
        changed
    }
}

/// "added a; changed b; removed c", by policy name and file hash.
fn describe_changes(before: &[(String, String)], after: &PolicySet) -> String {
    let mut parts = Vec::new();
    let added: Vec<&str> = after
        .iter()
        .filter(|p| !before.iter().any(|(name, _)| *name == p.name))
        .map(|p| p.name.as_str())
        .collect();
    let changed: Vec<&str> = after
        .iter()
        .filter(|p| {
            before
                .iter()
                .any(|(name, sha)| *name == p.name && *sha != p.sha256)
        })
        .map(|p| p.name.as_str())
        .collect();
    let removed: Vec<&str> = before
        .iter()
        .filter(|(name, _)| after.get(name).is_none())
        .map(|(name, _)| name.as_str())
        .collect();
    for (what, names) in [("added", added), ("changed", changed), ("removed", removed)] {
        if !names.is_empty() {
            parts.push(format!("{what} {}", names.join(", ")));
        }
    }
    if parts.is_empty() {
        "no policy file changed".into()
    } else {
        parts.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Policy;

    fn policy(name: &str, body: &str) -> Policy {
        let text = format!(
            "name: {name}\nimages: [\"r/{body}/**\"]\nsignatures:\n  authorities:\n    - name: ci\n      keyless: {{issuer: \"https://issuer\", subject: \"ci\"}}\n"
        );
        Policy::from_yaml(&text, std::path::Path::new("p.yaml")).unwrap()
    }

    #[test]
    fn changes_name_added_changed_and_removed_policies() {
        let a = policy("a", "x");
        let before = vec![
            ("a".to_string(), a.sha256.clone()),
            ("b".to_string(), "sha256:old".to_string()),
            ("c".to_string(), "sha256:gone".to_string()),
        ];
        let after = PolicySet::new(vec![a, policy("b", "y"), policy("d", "z")]).unwrap();
        assert_eq!(
            describe_changes(&before, &after),
            "added d; changed b; removed c"
        );
        let same: Vec<(String, String)> = after
            .iter()
            .map(|p| (p.name.clone(), p.sha256.clone()))
            .collect();
        assert_eq!(describe_changes(&same, &after), "no policy file changed");
    }
}
