//! The policy file as the user writes it (YAML), strict: unknown keys are errors.
//!
//! These types are only the file's shape; `compile` turns them into the checked form that
//! evaluation uses, so a loaded policy can never hold a key that does not parse or a bad regex.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One policy: which images it governs and what they must prove.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PolicyFile {
    /// Unique name of the policy, reported in every decision.
    pub name: String,
    /// Globs on `registry/repository` (no tag): `*` matches within one path segment, `**` across
    /// segments. `127.0.0.1:*/**`, `*.dkr.ecr.*.amazonaws.com/prod/**`.
    pub images: Vec<String>,
    /// `enforce`: a failed check denies. `audit`: checks are reported, the decision is never fail.
    #[serde(default)]
    pub mode: Mode,
    /// Who must have signed the image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signatures: Option<SignaturesSection>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    #[default]
    Enforce,
    Audit,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SignaturesSection {
    /// How many distinct authorities must each have a verified signature (k of n). Default 1.
    #[serde(default = "one")]
    pub threshold: usize,
    /// The authorities that may sign.
    pub authorities: Vec<AuthorityFile>,
}

fn one() -> usize {
    1
}

/// A signer the policy trusts: a public key, or a keyless (Fulcio certificate) identity.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AuthorityFile {
    /// Name reported in decisions; unique within the policy.
    pub name: String,
    /// Inline PEM public key (ECDSA P-256/P-384, RSA, Ed25519).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Path to a PEM public key, relative to the policy file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_ref: Option<String>,
    /// Keyless signing: the certificate's OIDC issuer and subject (SAN) must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyless: Option<KeylessFile>,
    /// `required` (default; the only choice for keyless) or `optional` (keys only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transparency_log: Option<TransparencyLog>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KeylessFile {
    /// Exact OIDC issuer URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// Regular expression for the issuer (unanchored unless you anchor it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer_reg_exp: Option<String>,
    /// Exact certificate subject (SAN: URI or e-mail).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Regular expression for the subject (unanchored unless you anchor it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_reg_exp: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TransparencyLog {
    Required,
    Optional,
}
