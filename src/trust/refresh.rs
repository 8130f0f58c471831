//! Keeping the trusted root current in the background, and the one call that sets it all up.

use std::sync::Arc;
use std::time::Duration;

use super::tuf::{TufError, TufOptions, TufTrustRoot};

/// Shortest refresh interval: a mirror is not to be polled in a loop.
const MIN_INTERVAL: Duration = Duration::from_secs(1);

/// Aborts the background refresh when dropped (a reload, a test), like `auth::jwks::Refresher`.
pub struct Refresher(tokio::task::JoinHandle<()>);

impl Drop for Refresher {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl TufTrustRoot {
    /// Refreshes now, then every `every` (at least a second), while `this` lives. Failures are
    /// logged and remembered (see [`TufTrustRoot::current`]); the last verified root serves
    /// meanwhile. `None` outside a tokio runtime.
    pub fn spawn_refresher(this: &Arc<TufTrustRoot>, every: Duration) -> Option<Refresher> {
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        let weak = Arc::downgrade(this);
        let every = every.max(MIN_INTERVAL);
        Some(Refresher(runtime.spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                // The first tick is immediate: a start-up refresh, off the start-up path.
                tick.tick().await;
                let Some(this) = weak.upgrade() else { break };
                // `refresh` logs and remembers its own failures.
                let _ = this.refresh().await;
            }
        })))
    }
}

/// The entry point for the service: loads the disk cache (no network needed), then refreshes in
/// the background every `every`. Keep the `Refresher` as long as the root is used.
pub async fn start(
    options: TufOptions,
    every: Duration,
) -> Result<(Arc<TufTrustRoot>, Option<Refresher>), TufError> {
    let root = Arc::new(TufTrustRoot::new(options).await?);
    let refresher = TufTrustRoot::spawn_refresher(&root, every);
    Ok((root, refresher))
}
