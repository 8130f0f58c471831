//! Trust roots that change at run time: the Sigstore trusted root, refreshed through TUF
//! ([`tuf`]), and served to the verifier as its trusted root ([`source`]: `tuf:` in the
//! `serve --config` file), and the named roots authorities pick with `trustRoot:` ([`named`]).
//! See docs/trust-roots.md.

mod cache;
mod error;
pub mod named;
mod options;
mod refresh;
pub mod source;
mod transport;
pub mod tuf;

pub use refresh::{start, Refresher};
pub use source::TufConfig;
pub use tuf::{RootSource, TufError, TufOptions, TufStatus, TufTrustRoot};
