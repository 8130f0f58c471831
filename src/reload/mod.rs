//! Reloading policies and configuration while serving, on SIGHUP and on file change.
//!
//! All or nothing: a reload reads the config file and every policy again and builds a new
//! [`Gate`]; only when everything loaded is it swapped in, otherwise the previous gate keeps
//! serving and the failure is logged, shown in `/readyz` and counted in `/metrics`. Each
//! request takes the current [`Snapshot`] once, at its start, and is answered with it to the
//! end, so a request in flight is never split between two policy sets and none fails during
//! a swap. See docs/reload.md.

mod fingerprint;
mod live;
mod load;
mod reloader;
mod status;
mod watch;

pub use fingerprint::Fingerprint;
pub use live::{Live, Snapshot};
pub use load::{gate_for, load_policy_set, Sources};
pub use reloader::{Reloader, Running};
pub use status::{ReloadFailure, ReloadMetrics, ReloadStatus};
pub use watch::spawn_triggers;
