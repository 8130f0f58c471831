//! Registry errors, worded so that the person reading them knows what to do next.
//!
//! No variant carries a password, a token or an `Authorization` header: messages and fields
//! are safe to log and to show in a decision.

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// 401 after we offered whatever credentials we have (or none).
    #[error(
        "registry {registry} refused our credentials for repository {repository}: run `docker login {registry}` or check credHelpers/credsStore in the docker config{hint}"
    )]
    Unauthorized {
        registry: String,
        repository: String,
        /// Extra context, e.g. " (no credentials were found for it)"; never a secret.
        hint: String,
    },
    /// 403: the credentials are accepted but may not pull.
    #[error(
        "registry {registry} denied access to repository {repository} (HTTP 403): the credentials work but lack pull permission on it"
    )]
    Denied {
        registry: String,
        repository: String,
    },
    #[error(
        "{what} not found in {repository}: check the tag or digest, and that the image was pushed"
    )]
    NotFound { repository: String, what: String },
    #[error("{what} is larger than the {limit}-byte limit: refusing to read it")]
    TooLarge { what: String, limit: u64 },
    #[error(
        "registry {registry} did not answer within {:.1} s ({during}): check the network path to it or raise the request timeout",
        after.as_secs_f64()
    )]
    Timeout {
        registry: String,
        during: String,
        after: Duration,
    },
    #[error(
        "TLS connection to {registry} failed ({detail}): if it serves plain HTTP on loopback or a private network, list it in the insecure hosts; otherwise check its certificate"
    )]
    Tls { registry: String, detail: String },
    #[error(
        "registry {registry} may only be reached over HTTPS: plain HTTP is allowed only for hosts listed as insecure ({detail})"
    )]
    InsecureRefused { registry: String, detail: String },
    #[error(
        "cannot connect to registry {registry} ({detail}): check the host name, port and network"
    )]
    Connect { registry: String, detail: String },
    #[error(
        "digest mismatch for {what}: expected {expected}, the bytes hash to {actual}; the registry (or something in between) served content that is not what was asked for"
    )]
    DigestMismatch {
        what: String,
        expected: String,
        actual: String,
    },
    #[error("registry {registry} answered HTTP {status} for {what}{detail}")]
    Status {
        registry: String,
        what: String,
        status: u16,
        /// `: <registry error text>` or empty.
        detail: String,
    },
    #[error("registry {registry} sent an invalid response for {what}: {detail}")]
    Protocol {
        registry: String,
        what: String,
        detail: String,
    },
    #[error("credentials for {registry} could not be obtained: {detail}")]
    Credentials { registry: String, detail: String },
    #[error("invalid {what} `{value}`: {why}")]
    InvalidReference {
        what: &'static str,
        value: String,
        why: &'static str,
    },
    #[error("{0}")]
    Other(String),
}

impl RegistryError {
    /// True for "this does not exist" (as opposed to "we could not find out").
    pub fn is_not_found(&self) -> bool {
        matches!(self, RegistryError::NotFound { .. })
    }
}

/// Classifies a transport error from reqwest. The URL is left out of the message (it can hold
/// a token realm's query) and the error chain is searched for TLS causes.
pub(crate) fn classify_transport(
    err: &reqwest::Error,
    registry: &str,
    during: &str,
    timeout: Duration,
) -> RegistryError {
    if err.is_timeout() {
        return RegistryError::Timeout {
            registry: registry.to_string(),
            during: during.to_string(),
            after: timeout,
        };
    }
    let chain = crate::net::error_text(err);
    let lower = chain.to_ascii_lowercase();
    let tls_words = [
        "tls",
        "certificate",
        "handshake",
        "corrupt message",
        "invalidcontenttype",
        "unknownissuer",
        "ssl",
    ];
    if tls_words.iter().any(|w| lower.contains(w)) {
        return RegistryError::Tls {
            registry: registry.to_string(),
            detail: chain,
        };
    }
    if err.is_connect() {
        return RegistryError::Connect {
            registry: registry.to_string(),
            detail: chain,
        };
    }
    RegistryError::Connect {
        registry: registry.to_string(),
        detail: format!("{during}: {chain}"),
    }
}
