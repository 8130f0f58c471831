//! The `auth:` section of the service configuration, as written (checked by
//! `auth::validate_config`).

use std::collections::BTreeMap;

use serde::Deserialize;

/// Caller authentication: a bearer token must be accepted by one of these.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AuthConfig {
    /// OIDC issuers whose JWTs are accepted, each with an audience and claim rules.
    #[serde(default)]
    pub oidc: Vec<OidcConfig>,
    /// Static bearer tokens for machine callers, stored as SHA-256 hashes.
    #[serde(default)]
    pub tokens: Vec<TokenConfig>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OidcConfig {
    /// The issuer URL, exactly as in the tokens' `iss` (https; http only on loopback).
    pub issuer: String,
    /// The audience the tokens must be minted for (their `aud` must contain it).
    pub audience: String,
    /// Claim name → the value it must equal, or a list of values it must be one of.
    #[serde(default)]
    pub claims: BTreeMap<String, ClaimRule>,
    /// How long a fetched JWKS may be used (`10m`, `1h`; 1 s – 24 h; default 1 h): a key the
    /// issuer withdrew stops verifying within this age. Entries of one issuer share the
    /// smallest.
    #[serde(default)]
    pub jwks_max_age: Option<String>,
}

/// One claim rule: a single value or a list of allowed values.
#[derive(Debug, Clone, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum ClaimRule {
    One(ClaimValue),
    AnyOf(Vec<ClaimValue>),
}

/// A claim value as written in YAML; numbers and booleans compare by their string form
/// (`repository_id: 123` matches the claim `"123"`).
#[derive(Debug, Clone, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum ClaimValue {
    Text(String),
    Unsigned(u64),
    Signed(i64),
    Bool(bool),
}

impl ClaimValue {
    pub fn to_text(&self) -> String {
        match self {
            ClaimValue::Text(s) => s.clone(),
            ClaimValue::Unsigned(n) => n.to_string(),
            ClaimValue::Signed(n) => n.to_string(),
            ClaimValue::Bool(b) => b.to_string(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TokenConfig {
    /// The caller's name, logged on every decision it asks for.
    pub name: String,
    /// Hex SHA-256 of the token: `printf %s "$TOKEN" | sha256sum`.
    pub sha256: String,
}
