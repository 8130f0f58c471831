//! Why the trusted root cannot be refreshed or served, in one line each.

use std::time::Duration;

#[derive(Debug, Clone, thiserror::Error)]
pub enum TufError {
    #[error("invalid TUF options: {0}")]
    Options(String),
    #[error("the Sigstore TUF update failed: {0}")]
    Update(String),
    #[error("the Sigstore TUF update was refused as a rollback: {0}")]
    Rollback(String),
    #[error("the Sigstore TUF update did not finish within {0:?}")]
    Timeout(Duration),
    #[error("the TUF target `trusted_root.json` is unusable: {0}")]
    Target(String),
    #[error("the Sigstore TUF metadata expired at {expired_at}; refresh failed: {reason}")]
    Expired { expired_at: String, reason: String },
    #[error("no verified Sigstore trusted root: {0}")]
    NoRoot(String),
    #[error("the TUF cache: {0}")]
    Cache(String),
}

pub(crate) fn update_error(err: tough::error::Error) -> TufError {
    use tough::error::Error as E;
    let text = describe(&err);
    match err {
        E::OlderMetadata { .. }
        | E::OlderSnapshotInTimestamp { .. }
        | E::SnapshotRoleRollback { .. } => TufError::Rollback(text),
        E::ExpiredMetadata { .. } => TufError::Update(format!(
            "{text}: the mirror serves expired metadata (a stale mirror, or a freeze attack)"
        )),
        _ => TufError::Update(text),
    }
}

/// A fetch failure as "cannot fetch URL: why" (tough's own text names the URL twice); anything
/// else as its error chain.
fn describe(err: &tough::error::Error) -> String {
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        if let Some(failed) = cause.downcast_ref::<tough::TransportError>() {
            let why = std::error::Error::source(failed)
                .map_or_else(|| failed.kind().to_string(), error_chain);
            return format!("cannot fetch {}: {why}", failed.url());
        }
        source = cause.source();
    }
    error_chain(err)
}

/// An error and its causes on one line, each cause once (tough's messages repeat their source).
pub(crate) fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let part = cause.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = cause.source();
    }
    text
}
