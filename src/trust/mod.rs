//! Trust roots that change at run time: the Sigstore trusted root, refreshed through TUF
//! ([`tuf`]). Not wired into the gate yet; see docs/trust-roots.md.

mod cache;
mod error;
mod options;
mod refresh;
mod transport;
pub mod tuf;

pub use refresh::{start, Refresher};
pub use tuf::{RootSource, TufError, TufOptions, TufStatus, TufTrustRoot};
