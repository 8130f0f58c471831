//! Caller authentication for `shipgate serve`: OIDC JWTs (GitHub Actions first) and static
//! tokens, presented as `Authorization: Bearer <token>`.
//!
//! A refusal is a value ([`Refusal`]) that the HTTP layer turns into 401 (no or invalid
//! credentials), 403 (a valid token whose claims are outside the rules) or 503 (the issuer's keys
//! cannot be fetched). Nothing here logs or returns the token itself.

mod claims;
pub mod config;
mod jwks;
mod oidc;
mod tokens;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, HeaderMap};

use claims::ClaimRules;
use config::AuthConfig;
use jwks::KeyCache;
use oidc::{Issuer, OidcEntry, OidcVerifier};
use tokens::StaticTokens;

/// JWTs of real issuers are 1-2 KiB; a larger bearer token is refused before any parsing.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// GitHub Actions' OIDC issuer (GitHub Enterprise Cloud issuers add `/<enterprise>`).
pub const GITHUB_ACTIONS_ISSUER: &str = "https://token.actions.githubusercontent.com";

/// Claims that say whose workflow it is. An entry for GitHub must pin at least one of them:
/// any repository on GitHub can mint a token for any audience.
const GITHUB_PINNING_CLAIMS: [&str; 9] = [
    "repository",
    "repository_id",
    "repository_owner",
    "repository_owner_id",
    "job_workflow_ref",
    "workflow_ref",
    "sub",
    "enterprise",
    "enterprise_id",
];

/// Tunables that are not part of the configuration file (tests shorten the cool-down).
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// At most one JWKS refresh per issuer per this interval, however many unknown `kid`s arrive.
    pub jwks_cooldown: Duration,
    /// Timeout of each discovery or JWKS request.
    pub fetch_timeout: Duration,
    /// Clock skew allowed on `exp`, `nbf` and `iat`.
    pub leeway: Duration,
    /// How long a JWKS is used when the configuration does not say (`jwksMaxAge`).
    pub jwks_max_age: Duration,
}

/// Bounds of `jwksMaxAge`: at least a second (tests), at most a day.
const JWKS_MAX_AGE_RANGE: (Duration, Duration) =
    (Duration::from_secs(1), Duration::from_secs(24 * 3600));

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings {
            jwks_cooldown: Duration::from_secs(30),
            fetch_timeout: Duration::from_secs(10),
            leeway: Duration::from_secs(60),
            jwks_max_age: Duration::from_secs(3600),
        }
    }
}

/// Who asked for a decision; its `Display` form is the `caller` field of the audit log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// A verified JWT: its issuer and `sub`.
    Oidc { issuer: String, subject: String },
    /// A static token, by its configured name.
    Token { name: String },
    /// No `auth` configured: the service listens on loopback only.
    Unauthenticated,
}

impl fmt::Display for Caller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Caller::Oidc { issuer, subject } => write!(f, "oidc:{issuer}:{subject}"),
            Caller::Token { name } => write!(f, "token:{name}"),
            Caller::Unauthenticated => f.write_str("unauthenticated-loopback"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// No credentials, or credentials that do not verify: HTTP 401.
    #[error("{reason}")]
    Unauthenticated {
        reason: String,
        /// The `iss` the token claims (not verified), for the log.
        claimed_issuer: Option<String>,
    },
    /// A verified caller whose claims are outside every rule: HTTP 403.
    #[error("{reason}")]
    Forbidden { reason: String, caller: String },
    /// The issuer's keys could not be fetched, so nothing can be verified: HTTP 503.
    #[error("{reason}")]
    KeysUnavailable { reason: String, issuer: String },
}

#[derive(Debug, thiserror::Error)]
pub enum AuthConfigError {
    #[error("{0}")]
    Invalid(String),
    #[error("cannot build the HTTP client for OIDC key fetches: {0}")]
    Http(#[from] reqwest::Error),
}

/// Checks the `auth` section without building anything (used when the config file is loaded).
pub fn validate_config(config: &AuthConfig) -> Result<(), AuthConfigError> {
    parse(config).map(|_| ())
}

/// The validated `auth` section.
struct Parsed {
    /// Each issuer, its entries, and its `jwksMaxAge` when any entry sets one.
    issuers: Vec<(String, Vec<OidcEntry>, Option<Duration>)>,
    tokens: StaticTokens,
}

fn parse(config: &AuthConfig) -> Result<Parsed, AuthConfigError> {
    let invalid = AuthConfigError::Invalid;
    if config.oidc.is_empty() && config.tokens.is_empty() {
        return Err(invalid(
            "lists no `oidc` issuer and no `tokens`; remove `auth` to serve on loopback only, \
             or configure a caller"
                .into(),
        ));
    }
    let mut issuers: Vec<(String, Vec<OidcEntry>, Option<Duration>)> = Vec::new();
    for (i, entry) in config.oidc.iter().enumerate() {
        let at = format!("oidc[{i}]");
        jwks::check_url(&entry.issuer).map_err(|e| invalid(format!("{at}.issuer: {e}")))?;
        if entry.audience.trim().is_empty() {
            return Err(invalid(format!("{at}.audience must not be empty")));
        }
        let rules = ClaimRules::from_config(&entry.claims)
            .map_err(|e| invalid(format!("{at}.claims: {e}")))?;
        if rules.is_empty() {
            return Err(invalid(format!(
                "{at}.claims: name at least one claim rule; the audience alone does not say who \
                 the caller is"
            )));
        }
        if entry.issuer.starts_with(GITHUB_ACTIONS_ISSUER)
            && !rules.names().any(|n| GITHUB_PINNING_CLAIMS.contains(&n))
        {
            return Err(invalid(format!(
                "{at}.claims: a GitHub Actions issuer needs a rule on one of {}; otherwise any \
                 repository on GitHub could call",
                GITHUB_PINNING_CLAIMS.join(", ")
            )));
        }
        let parsed = OidcEntry {
            audience: entry.audience.clone(),
            rules,
        };
        let max_age = entry
            .jwks_max_age
            .as_deref()
            .map(|text| jwks_max_age(text).map_err(|e| invalid(format!("{at}.jwksMaxAge: {e}"))))
            .transpose()?;
        match issuers.iter_mut().find(|(iss, _, _)| *iss == entry.issuer) {
            Some((_, entries, age)) => {
                entries.push(parsed);
                *age = match (*age, max_age) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
            }
            None => issuers.push((entry.issuer.clone(), vec![parsed], max_age)),
        }
    }
    let tokens =
        StaticTokens::from_config(&config.tokens).map_err(|e| invalid(format!("tokens: {e}")))?;
    Ok(Parsed { issuers, tokens })
}

fn jwks_max_age(text: &str) -> Result<Duration, String> {
    let age = crate::policy::parse_duration(text)?;
    let (min, max) = JWKS_MAX_AGE_RANGE;
    if age < min || age > max {
        return Err(format!("`{text}` must be between 1s and 24h"));
    }
    Ok(age)
}

/// Decides who a request comes from. Built once per process from the `auth` configuration.
pub struct Authenticator {
    oidc: Option<OidcVerifier>,
    tokens: StaticTokens,
}

impl Authenticator {
    pub fn new(
        config: &AuthConfig,
        settings: &AuthSettings,
    ) -> Result<Authenticator, AuthConfigError> {
        let parsed = parse(config)?;
        let oidc = if parsed.issuers.is_empty() {
            None
        } else {
            let http = reqwest::Client::builder()
                .timeout(settings.fetch_timeout)
                .connect_timeout(settings.fetch_timeout)
                // Discovery and JWKS must come from the URLs checked above, not a redirect.
                .redirect(reqwest::redirect::Policy::none())
                .build()?;
            let issuers = parsed
                .issuers
                .into_iter()
                .map(|(issuer, entries, max_age)| {
                    let keys = Arc::new(KeyCache::new(
                        issuer.clone(),
                        http.clone(),
                        settings.jwks_cooldown,
                        max_age.unwrap_or(settings.jwks_max_age),
                    ));
                    let refresher = KeyCache::spawn_refresher(&keys);
                    let issuer_keys = Issuer {
                        entries,
                        keys,
                        _refresher: refresher,
                    };
                    (issuer, issuer_keys)
                })
                .collect::<HashMap<_, _>>();
            Some(OidcVerifier {
                issuers,
                leeway_seconds: settings.leeway.as_secs(),
            })
        };
        Ok(Authenticator {
            oidc,
            tokens: parsed.tokens,
        })
    }

    /// Who may call, for the startup log: issuers and token names, never hashes.
    pub fn describe(&self) -> String {
        let mut issuers: Vec<&str> = self
            .oidc
            .iter()
            .flat_map(|o| o.issuers.keys().map(String::as_str))
            .collect();
        issuers.sort_unstable();
        let tokens: Vec<&str> = self.tokens.names().collect();
        format!(
            "oidc issuers [{}], static tokens [{}]",
            issuers.join(", "),
            tokens.join(", ")
        )
    }

    /// The caller of a request with these headers, or why it is refused.
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Caller, Refusal> {
        let unauthenticated = |reason: &str| Refusal::Unauthenticated {
            reason: reason.to_string(),
            claimed_issuer: None,
        };
        let mut values = headers.get_all(header::AUTHORIZATION).iter();
        let (Some(value), None) = (values.next(), values.next()) else {
            return Err(unauthenticated(
                "send exactly one `Authorization: Bearer <token>` header (an OIDC JWT from a \
                 configured issuer, or a configured static token)",
            ));
        };
        if value.len() > MAX_TOKEN_BYTES + "Bearer ".len() {
            return Err(unauthenticated(&format!(
                "the bearer token is larger than {MAX_TOKEN_BYTES} bytes"
            )));
        }
        let value = value
            .to_str()
            .map_err(|_| unauthenticated("the Authorization header is not printable ASCII"))?;
        let token = match value.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
            _ => {
                return Err(unauthenticated(
                    "the Authorization header must use the Bearer scheme: `Authorization: Bearer <token>`",
                ))
            }
        };
        if token.is_empty() {
            return Err(unauthenticated("the bearer token is empty"));
        }
        if let Some(name) = self.tokens.find(token) {
            return Ok(Caller::Token {
                name: name.to_string(),
            });
        }
        let looks_like_jwt = token.split('.').count() == 3;
        match (&self.oidc, looks_like_jwt) {
            (Some(oidc), true) => oidc.verify(token).await,
            (None, true) => Err(unauthenticated(
                "JWTs are not accepted here: no OIDC issuer is configured, and the token is not a \
                 configured static token",
            )),
            (_, false) => Err(unauthenticated(
                "the bearer token is not a configured static token (nor a JWT)",
            )),
        }
    }
}

/// Whether an unauthenticated server may listen here: loopback addresses only.
pub use crate::net::is_loopback;

#[cfg(test)]
mod tests {
    use super::*;

    fn config(yaml: &str) -> AuthConfig {
        serde_yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn configuration_errors_say_what_to_fix() {
        for (yaml, expected) in [
            ("{}", "lists no `oidc` issuer and no `tokens`"),
            (
                "oidc: [{issuer: 'http://issuer.example.com', audience: a, claims: {sub: x}}]",
                "oidc[0].issuer: `http://issuer.example.com/` is plain http",
            ),
            (
                "oidc: [{issuer: 'https://i.example.com', audience: '', claims: {sub: x}}]",
                "oidc[0].audience must not be empty",
            ),
            (
                "oidc: [{issuer: 'https://i.example.com', audience: a}]",
                "name at least one claim rule",
            ),
            (
                "oidc: [{issuer: 'https://token.actions.githubusercontent.com', audience: a, claims: {ref: refs/heads/main}}]",
                "any repository on GitHub could call",
            ),
        ] {
            let err = validate_config(&config(yaml)).unwrap_err().to_string();
            assert!(err.contains(expected), "{yaml}: {err}");
        }
        validate_config(&config(
            "oidc: [{issuer: 'https://token.actions.githubusercontent.com', audience: shipgate, claims: {repository_owner_id: 123}}]",
        ))
        .unwrap();
    }

    #[test]
    fn loopback_addresses() {
        for ip in ["127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1"] {
            assert!(is_loopback(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "0.0.0.0",
            "::",
            "10.0.0.1",
            "192.168.1.2",
            "::ffff:10.0.0.1",
        ] {
            assert!(!is_loopback(ip.parse().unwrap()), "{ip}");
        }
    }
}
