//! Notation trust policies (`trustpolicy.json`, version 1.0) and verification levels, parsed and
//! validated by the rules notation-go applies (`OCIDocument.Validate`).
//!
//! As in notation-go, unknown fields are ignored (Go's JSON decoding ignores them), so one
//! document serves both Notation and shipgate. Where shipgate is stricter, it says so:
//! trusted identities other than `*`, `x509.subject:` and AWS Signer signing-profile ARNs are
//! refused when the policy is loaded (they are meant for verification plugins, which shipgate
//! does not run), and `verifyTimestamp: afterCertExpiry` is read but verified as `always`.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::identity::{self, Dn};
use super::trust_store::valid_store_name;
use super::{
    Action, Step, StoreKind, TrustPolicy, TrustPolicyDocument, TrustedIdentity, VerificationLevel,
};

/// Largest trust policy document.
const MAX_POLICY_LEN: usize = 256 * 1024;
/// Most statements in one document.
const MAX_STATEMENTS: usize = 64;
/// Most scopes, stores or identities in one statement.
const MAX_LIST: usize = 256;

impl Step {
    /// The name trust policies use: `integrity`, `authenticity`, `authenticTimestamp`,
    /// `expiry`, `revocation`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Step::Integrity => "integrity",
            Step::Authenticity => "authenticity",
            Step::AuthenticTimestamp => "authenticTimestamp",
            Step::Expiry => "expiry",
            Step::Revocation => "revocation",
        }
    }
}

const STEPS: [Step; 5] = [
    Step::Integrity,
    Step::Authenticity,
    Step::AuthenticTimestamp,
    Step::Expiry,
    Step::Revocation,
];

pub(super) fn level(
    name: &str,
    overrides: &BTreeMap<String, String>,
) -> Result<VerificationLevel, String> {
    use Action::{Enforce as E, Log as L, Skip as S};
    let base = match name {
        "strict" => [E, E, E, E, E],
        "permissive" => [E, E, L, L, L],
        "audit" => [E, L, L, L, L],
        "skip" => [S, S, S, S, S],
        "" => return Err("the signature verification level is missing".into()),
        other => {
            return Err(format!(
                "invalid signature verification level {other:?} (strict, permissive, audit or \
                 skip)"
            ))
        }
    };
    let mut actions: BTreeMap<Step, Action> = STEPS.into_iter().zip(base).collect();
    if name == "skip" && !overrides.is_empty() {
        return Err("the verification level skip cannot be customized with override".into());
    }
    for (key, value) in overrides {
        let step = STEPS.into_iter().find(|s| s.name() == key).ok_or_else(|| {
            format!(
                "verification type {key:?} in override is not supported (authenticity, \
                     authenticTimestamp, expiry or revocation)"
            )
        })?;
        let action = match value.as_str() {
            "enforce" => E,
            "log" => L,
            "skip" => S,
            other => {
                return Err(format!(
                    "verification action {other:?} for {key} is not supported (enforce, log \
                     or skip)"
                ))
            }
        };
        if step == Step::Integrity {
            return Err("integrity verification cannot be overridden".into());
        }
        if step != Step::Revocation && action == S {
            return Err(format!("{key} verification cannot be skipped"));
        }
        actions.insert(step, action);
    }
    Ok(VerificationLevel {
        name: name.to_string(),
        actions,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawDocument {
    version: Option<String>,
    trust_policies: Option<Vec<RawStatement>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawStatement {
    name: Option<String>,
    registry_scopes: Option<Vec<String>>,
    signature_verification: Option<RawVerification>,
    trust_stores: Option<Vec<String>>,
    trusted_identities: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawVerification {
    level: Option<String>,
    #[serde(rename = "override")]
    overrides: Option<BTreeMap<String, String>>,
    verify_timestamp: Option<String>,
}

pub(super) fn from_json(bytes: &[u8]) -> Result<TrustPolicyDocument, String> {
    if bytes.len() > MAX_POLICY_LEN {
        return Err("the trust policy document is larger than 256 KiB".into());
    }
    let raw: RawDocument = serde_json::from_slice(bytes)
        .map_err(|e| format!("the trust policy document is not valid JSON: {e}"))?;
    match raw.version.as_deref() {
        None | Some("") => return Err("the trust policy document has no version".into()),
        Some("1.0") => {}
        Some(v) => {
            return Err(format!(
                "trust policy document version {v:?} is not supported (1.0 is)"
            ))
        }
    }
    let raws = raw.trust_policies.unwrap_or_default();
    if raws.is_empty() {
        return Err("the trust policy document has no trust policy statements".into());
    }
    if raws.len() > MAX_STATEMENTS {
        return Err(format!(
            "the trust policy document has more than {MAX_STATEMENTS} statements"
        ));
    }
    let mut statements: Vec<TrustPolicy> = Vec::with_capacity(raws.len());
    for r in raws {
        let s = statement(r)?;
        if statements.iter().any(|o| o.name == s.name) {
            return Err(format!(
                "several trust policy statements are named {:?}; names must be unique",
                s.name
            ));
        }
        statements.push(s);
    }
    check_scopes(&statements)?;
    Ok(TrustPolicyDocument { statements })
}

fn statement(r: RawStatement) -> Result<TrustPolicy, String> {
    let name = r.name.unwrap_or_default();
    if name.is_empty() {
        return Err("a trust policy statement has no name".into());
    }
    let sv = r
        .signature_verification
        .ok_or_else(|| format!("trust policy statement {name:?} has no signatureVerification"))?;
    let level = level(
        sv.level.as_deref().unwrap_or(""),
        &sv.overrides.unwrap_or_default(),
    )
    .map_err(|e| format!("trust policy statement {name:?}: {e}"))?;
    match sv.verify_timestamp.as_deref() {
        None | Some("" | "always" | "afterCertExpiry") => {}
        Some(v) => {
            return Err(format!(
                "trust policy statement {name:?}: verifyTimestamp {v:?} is not supported \
                 (always or afterCertExpiry)"
            ))
        }
    }
    let stores = r.trust_stores.unwrap_or_default();
    let identities = r.trusted_identities.unwrap_or_default();
    let scopes = r.registry_scopes.unwrap_or_default();
    for (what, list) in [
        ("trustStores", &stores),
        ("trustedIdentities", &identities),
        ("registryScopes", &scopes),
    ] {
        if list.len() > MAX_LIST {
            return Err(format!(
                "trust policy statement {name:?} has more than {MAX_LIST} {what}"
            ));
        }
    }
    if level.name == "skip" {
        if !stores.is_empty() || !identities.is_empty() {
            return Err(format!(
                "trust policy statement {name:?} skips verification but names trust stores or \
                 trusted identities; remove them to skip"
            ));
        }
    } else if stores.is_empty() || identities.is_empty() {
        return Err(format!(
            "trust policy statement {name:?} needs both trustStores and trustedIdentities"
        ));
    }
    Ok(TrustPolicy {
        trust_stores: parse_stores(&name, &stores)?,
        trusted_identities: parse_identities(&name, &identities)?,
        name,
        registry_scopes: scopes,
        level,
    })
}

fn parse_stores(name: &str, stores: &[String]) -> Result<Vec<(StoreKind, String)>, String> {
    let mut out: Vec<(StoreKind, String)> = Vec::new();
    for s in stores {
        let Some((kind, store)) = s.split_once(':') else {
            return Err(format!(
                "trust policy statement {name:?} has trust store {s:?}, which is not TYPE:NAME"
            ));
        };
        let kind = match kind {
            "ca" => StoreKind::Ca,
            "signingAuthority" => StoreKind::SigningAuthority,
            "tsa" => StoreKind::Tsa,
            other => {
                return Err(format!(
                    "trust policy statement {name:?} uses trust store type {other:?} (ca, \
                     signingAuthority or tsa)"
                ))
            }
        };
        if !valid_store_name(store) {
            return Err(format!(
                "trust policy statement {name:?} has trust store name {store:?}, which must \
                 match [a-zA-Z0-9_.-]+"
            ));
        }
        let entry = (kind, store.to_string());
        if !out.contains(&entry) {
            out.push(entry);
        }
    }
    Ok(out)
}

fn parse_identities(name: &str, identities: &[String]) -> Result<Vec<TrustedIdentity>, String> {
    if identities.len() > 1 && identities.iter().any(|i| i == "*") {
        return Err(format!(
            "trust policy statement {name:?} uses the wildcard identity `*` with other \
             identities; `*` must stand alone"
        ));
    }
    let mut out = Vec::with_capacity(identities.len());
    for raw in identities {
        out.push(match raw.as_str() {
            "*" => TrustedIdentity::Any,
            _ => identity::parse_identity(name, raw)?,
        });
    }
    let dns: Vec<(&str, &Dn)> = identities
        .iter()
        .zip(&out)
        .filter_map(|(raw, id)| match id {
            TrustedIdentity::X509Subject(dn) => Some((raw.as_str(), dn)),
            _ => None,
        })
        .collect();
    identity::check_overlaps(name, &dns)?;
    Ok(out)
}

/// Every statement has scopes; `*` stands alone; every scope is a fully qualified repository;
/// no scope (`*` included) is in two statements.
fn check_scopes(statements: &[TrustPolicy]) -> Result<(), String> {
    let mut seen: Vec<&str> = Vec::new();
    for s in statements {
        if s.registry_scopes.is_empty() {
            return Err(format!(
                "trust policy statement {:?} has no registryScopes",
                s.name
            ));
        }
        if s.registry_scopes.len() > 1 && s.registry_scopes.iter().any(|x| x == "*") {
            return Err(format!(
                "trust policy statement {:?} uses the wildcard scope `*` with other scopes; `*` \
                 must stand alone",
                s.name
            ));
        }
        for scope in &s.registry_scopes {
            if scope != "*" {
                check_scope_format(scope)?;
            }
            if seen.contains(&scope.as_str()) {
                return Err(format!(
                    "registry scope {scope:?} is in several trust policy statements; a scope \
                     belongs to one statement"
                ));
            }
            seen.push(scope);
        }
    }
    Ok(())
}

/// A scope is `domain/repository` as the distribution reference grammar has them (no scheme,
/// tag, digest or wildcard).
fn check_scope_format(scope: &str) -> Result<(), String> {
    let label = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
    let component = r"[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*";
    let pattern = format!(r"^{label}(?:\.{label})*(?::[0-9]+)?/{component}(?:/{component})*$");
    let ok = regex::Regex::new(&pattern).is_ok_and(|re| re.is_match(scope));
    if ok {
        return Ok(());
    }
    Err(format!(
        "registry scope {scope:?} is not valid: use a fully qualified repository without \
         scheme, tag or wildcard, e.g. registry.example.com/team/app"
    ))
}

pub(super) fn statement_for<'d>(
    doc: &'d TrustPolicyDocument,
    repository: &str,
) -> Result<&'d TrustPolicy, String> {
    // A reference with a digest names its repository before the `@`.
    let path = repository.rsplit_once('@').map_or(repository, |(p, _)| p);
    let exact = doc
        .statements
        .iter()
        .find(|s| s.registry_scopes.iter().any(|x| x == path));
    let wildcard = || {
        doc.statements
            .iter()
            .find(|s| s.registry_scopes.iter().any(|x| x == "*"))
    };
    exact.or_else(wildcard).ok_or_else(|| {
        format!(
            "no trust policy statement applies to {path}: none names it in registryScopes and \
             none has the scope `*`"
        )
    })
}
