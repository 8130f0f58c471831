//! Reload triggers: SIGHUP, and a look at the files every few seconds.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use super::fingerprint::Fingerprint;
use super::reloader::Reloader;

/// Files are reloaded once two looks this far apart see the same content (an editor or a
/// deploy may write them in several steps).
const SETTLE: Duration = Duration::from_millis(500);

/// Starts the reload task, the SIGHUP listener and, unless `watch` is zero, the file watcher.
/// The SIGHUP handler is installed before this returns (SIGHUP's default action would
/// otherwise end the process). Triggers that arrive during a reload coalesce into one more.
pub fn spawn_triggers(reloader: Arc<Reloader>, watch: Duration) -> std::io::Result<()> {
    let requested = Arc::new(Notify::new());
    {
        let reloader = reloader.clone();
        let requested = requested.clone();
        tokio::spawn(async move {
            loop {
                requested.notified().await;
                reloader.reload("SIGHUP or file change").await;
            }
        });
    }
    #[cfg(unix)]
    {
        let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
        let requested = requested.clone();
        tokio::spawn(async move {
            while hangup.recv().await.is_some() {
                tracing::info!("SIGHUP received; reloading policies and configuration");
                requested.notify_one();
            }
        });
    }
    if !watch.is_zero() {
        tokio::spawn(watch_files(reloader, watch, requested));
    }
    Ok(())
}

/// Every `every`, compares the files with what the latest reload read; a change that holds
/// still for [`SETTLE`] requests a reload.
async fn watch_files(reloader: Arc<Reloader>, every: Duration, requested: Arc<Notify>) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let mut now = Fingerprint::of_async(reloader.sources()).await;
        if reloader.seen().as_ref() == Some(&now) {
            continue;
        }
        loop {
            tokio::time::sleep(SETTLE).await;
            let again = Fingerprint::of_async(reloader.sources()).await;
            if again == now {
                break;
            }
            now = again;
        }
        if reloader.seen().as_ref() != Some(&now) {
            tracing::info!("policy or configuration files changed; reloading");
            requested.notify_one();
        }
    }
}
