//! `notation:` and `awsSigner:` authorities (Notary Project signatures): checked while the YAML
//! is read (`draft_*`, so that errors carry the line), then their files are read relative to the
//! policy file (`resolve`) into a [`NotationAuthority`].
//!
//! Notation's own formats are parsed by `verify::notation` alone: the inline form is handed to
//! it as a one-statement trust policy, so `trustedIdentities` mean exactly what they mean in a
//! `trustpolicy.json`, with the same checks.

use std::collections::BTreeMap;
use std::path::Path;

use crate::verify::notation::{
    StoreKind, TrustPolicy, TrustPolicyDocument, TrustStores, TrustedIdentity, VerificationLevel,
};
use crate::verify::notation_authority::{NotationAuthority, NotationKind, NotationTrust};

use super::model::{AuthorityFile, AwsSignerFile, NotationFile};

/// The store AWS Signer roots are kept in (the name Notation's AWS Signer plugin documents).
pub const AWS_SIGNER_STORE: &str = "aws-signer-ts";
/// Most profile ARNs, or trusted identities, one authority lists.
const MAX_IDENTITIES: usize = 64;

/// A Notary Project authority, checked, with its files not read yet.
pub(super) enum NotationDraft {
    Notation {
        trust_store: String,
        trust: DraftTrust,
    },
    AwsSigner {
        arns: Vec<String>,
        roots_ref: Option<String>,
        gov_cloud: bool,
        level: VerificationLevel,
    },
}

pub(super) enum DraftTrust {
    /// `trustPolicy:` — Notation's trust policy file.
    File(String),
    /// One statement from the authority's own fields.
    Inline {
        identities: Vec<String>,
        level: String,
        overrides: BTreeMap<String, String>,
    },
}

/// Why `resolve` failed: the field (below the authority), what to look for to find the line,
/// and the message.
pub(super) struct ResolveError {
    pub field: &'static str,
    pub needle: String,
    pub message: String,
}

/// The draft of an authority's `notation:` or `awsSigner:` (it has exactly one kind, checked
/// before); `None` for the other kinds.
pub(super) fn draft_of(a: &mut AuthorityFile) -> Result<Option<NotationDraft>, String> {
    let (notation, aws_signer) = (a.notation.take(), a.aws_signer.take());
    if (notation.is_some() || aws_signer.is_some()) && a.transparency_log.is_some() {
        return Err(
            "transparencyLog: a Notary Project signature has no transparency log; drop the field"
                .into(),
        );
    }
    match (notation, aws_signer) {
        (Some(n), _) => draft_notation(n).map(Some),
        (None, Some(s)) => draft_aws_signer(s).map(Some),
        (None, None) => Ok(None),
    }
}

fn draft_notation(n: NotationFile) -> Result<NotationDraft, String> {
    let trust_store = n.trust_store.filter(|s| !s.trim().is_empty()).ok_or(
        "notation: `trustStore` is required: the trust-store directory, laid out as Notation's \
         (DIR/ca/NAME/*.pem, DIR/signingAuthority/NAME/*.pem, DIR/tsa/NAME/*.pem)",
    )?;
    let trust = match n.trust_policy {
        Some(file) => {
            if !n.trusted_identities.is_empty() || n.level.is_some() || !n.overrides.is_empty() {
                return Err(
                    "notation.trustPolicy: `trustedIdentities`, `level` and `override` \
                            come from the trust policy file; give them there, or drop \
                            `trustPolicy`"
                        .into(),
                );
            }
            DraftTrust::File(file)
        }
        None => {
            if n.trusted_identities.is_empty() {
                return Err(
                    "notation: `trustedIdentities` is required without `trustPolicy`, e.g. \
                            `x509.subject: C=US, ST=WA, O=acme, CN=release` (`*` trusts every \
                            certificate that chains to the trust store)"
                        .into(),
                );
            }
            if n.trusted_identities.len() > MAX_IDENTITIES {
                return Err(format!(
                    "notation.trustedIdentities: at most {MAX_IDENTITIES} identities"
                ));
            }
            let level = level("notation", n.level, &n.overrides)?;
            DraftTrust::Inline {
                identities: n.trusted_identities,
                level: level.name,
                overrides: n.overrides,
            }
        }
    };
    Ok(NotationDraft::Notation { trust_store, trust })
}

fn draft_aws_signer(a: AwsSignerFile) -> Result<NotationDraft, String> {
    let mut arns = Vec::new();
    let named = a
        .profile_arn
        .into_iter()
        .map(|arn| ("awsSigner.profileArn".to_string(), arn))
        .chain(
            a.profile_arns
                .into_iter()
                .enumerate()
                .map(|(i, arn)| (format!("awsSigner.profileArns[{i}]"), arn)),
        );
    for (field, arn) in named {
        check_profile_arn(&arn).map_err(|e| format!("{field}: `{arn}` {e}"))?;
        if !arns.contains(&arn) {
            arns.push(arn);
        }
    }
    if arns.is_empty() {
        return Err(
            "awsSigner: `profileArn` is required: the AWS Signer signing profile ARN \
                    (arn:aws:signer:REGION:ACCOUNT:/signing-profiles/NAME), or a list \
                    `profileArns`"
                .into(),
        );
    }
    if arns.len() > MAX_IDENTITIES {
        return Err(format!(
            "awsSigner.profileArns: at most {MAX_IDENTITIES} profiles"
        ));
    }
    Ok(NotationDraft::AwsSigner {
        arns,
        roots_ref: a.roots_ref,
        gov_cloud: a.gov_cloud,
        level: level("awsSigner", a.level, &a.overrides)?,
    })
}

/// The verification level; `skip` is refused, since a signature nobody checked must never
/// stand for an image in a gate.
fn level(
    section: &str,
    name: Option<String>,
    overrides: &BTreeMap<String, String>,
) -> Result<VerificationLevel, String> {
    let name = name.unwrap_or_else(|| "strict".to_string());
    match name.as_str() {
        "strict" | "permissive" | "audit" => {}
        "skip" => {
            return Err(format!(
                "{section}.level: `skip` verifies nothing, so a skipped signature could let any \
                 image through; use `audit` to only log failed checks (integrity is still \
                 enforced)"
            ))
        }
        other => {
            return Err(format!(
                "{section}.level: `{other}` is not a verification level; use `strict` (default), \
                 `permissive` or `audit`"
            ))
        }
    }
    let field = if overrides.is_empty() {
        "level"
    } else {
        "override"
    };
    VerificationLevel::new(&name, overrides).map_err(|e| format!("{section}.{field}: {e}"))
}

/// `arn:PARTITION:signer:REGION:ACCOUNT:/signing-profiles/NAME[/VERSION]`: an error says what
/// is wrong, for "`ARN` is not …".
fn check_profile_arn(arn: &str) -> Result<(), String> {
    let shape = "(expected arn:aws:signer:REGION:ACCOUNT:/signing-profiles/NAME, or …/NAME/VERSION for one profile version)";
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [prefix, partition, service, region, account, resource] = parts[..] else {
        return Err(format!("is not an ARN {shape}"));
    };
    let word = |s: &str, extra: &[u8]| {
        !s.is_empty()
            && s.len() <= 64
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || extra.contains(&b))
    };
    let profile = resource.strip_prefix("/signing-profiles/").map(|p| {
        let mut it = p.splitn(2, '/');
        (it.next().unwrap_or(""), it.next())
    });
    let ok = prefix == "arn"
        && matches!(partition, "aws" | "aws-cn" | "aws-us-gov")
        && service == "signer"
        && word(region, b"-")
        && region.bytes().all(|b| !b.is_ascii_uppercase())
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && profile.is_some_and(|(name, version)| {
            word(name, b"_") && version.is_none_or(|v| word(v, b""))
        });
    if ok {
        Ok(())
    } else {
        Err(format!("is not an AWS Signer signing-profile ARN {shape}"))
    }
}

/// Reads the authority's files relative to `base` (the policy file's directory).
pub(super) fn resolve(
    draft: NotationDraft,
    name: &str,
    base: &Path,
) -> Result<NotationAuthority, ResolveError> {
    match draft {
        NotationDraft::Notation { trust_store, trust } => {
            resolve_notation(name, base, &trust_store, trust)
        }
        NotationDraft::AwsSigner {
            arns,
            roots_ref,
            gov_cloud,
            level,
        } => resolve_aws_signer(name, base, arns, roots_ref, gov_cloud, level),
    }
}

fn resolve_notation(
    name: &str,
    base: &Path,
    trust_store: &str,
    trust: DraftTrust,
) -> Result<NotationAuthority, ResolveError> {
    let dir = base.join(trust_store);
    let store_error = |message: String| ResolveError {
        field: "notation.trustStore",
        needle: trust_store.to_string(),
        message: format!("{}: {message}", dir.display()),
    };
    let stores = TrustStores::from_dir(&dir).map_err(store_error)?;
    let names = stores.names();
    if names.is_empty() {
        return Err(store_error(
            "no trust stores in it (expected DIR/ca/NAME/*.pem, DIR/signingAuthority/NAME/*.pem \
             or DIR/tsa/NAME/*.pem)"
                .into(),
        ));
    }
    let trust = match trust {
        DraftTrust::File(file) => {
            let path = base.join(&file);
            let policy_error = |message: String| ResolveError {
                field: "notation.trustPolicy",
                needle: file.clone(),
                message: format!("{}: {message}", path.display()),
            };
            let text = super::read_bounded(&path)
                .map_err(|e| policy_error(format!("cannot read the trust policy: {e}")))?;
            let document = TrustPolicyDocument::from_json(text.as_bytes()).map_err(policy_error)?;
            for statement in &document.statements {
                if let Some((kind, store)) =
                    statement.trust_stores.iter().find(|s| !names.contains(s))
                {
                    return Err(policy_error(format!(
                        "statement `{}` names trust store `{}:{store}`, which {} does not have",
                        statement.name,
                        kind.as_str(),
                        dir.display()
                    )));
                }
            }
            NotationTrust::Document(document)
        }
        DraftTrust::Inline {
            identities,
            level,
            overrides,
        } => NotationTrust::Statement(inline_statement(
            name,
            &names,
            &identities,
            &level,
            &overrides,
        )?),
    };
    Ok(NotationAuthority {
        kind: NotationKind::Notation,
        stores,
        trust,
    })
}

/// The inline fields as a Notation trust policy of one statement for every repository, which
/// trusts every store of the trust-store root (the signature's scheme picks `ca` or
/// `signingAuthority`; `tsa` stores verify timestamps), parsed by Notation's own rules.
fn inline_statement(
    name: &str,
    stores: &[(StoreKind, String)],
    identities: &[String],
    level: &str,
    overrides: &BTreeMap<String, String>,
) -> Result<TrustPolicy, ResolveError> {
    let store_names: Vec<String> = stores
        .iter()
        .map(|(kind, store)| format!("{}:{store}", kind.as_str()))
        .collect();
    let mut verification = serde_json::json!({ "level": level });
    if !overrides.is_empty() {
        verification["override"] = serde_json::json!(overrides);
    }
    let document = serde_json::json!({
        "version": "1.0",
        "trustPolicies": [{
            "name": name,
            "registryScopes": ["*"],
            "signatureVerification": verification,
            "trustStores": store_names,
            "trustedIdentities": identities,
        }]
    });
    let invalid = |message: String| ResolveError {
        field: "notation.trustedIdentities",
        needle: "trustedIdentities".to_string(),
        message,
    };
    TrustPolicyDocument::from_json(document.to_string().as_bytes())
        .map_err(invalid)?
        .statements
        .into_iter()
        .next()
        .ok_or_else(|| invalid("the trust policy has no statement (bug)".into()))
}

fn resolve_aws_signer(
    name: &str,
    base: &Path,
    arns: Vec<String>,
    roots_ref: Option<String>,
    gov_cloud: bool,
    level: VerificationLevel,
) -> Result<NotationAuthority, ResolveError> {
    let mut stores = TrustStores::aws_signer(gov_cloud);
    if let Some(file) = roots_ref {
        let path = base.join(&file);
        let roots_error = |message: String| ResolveError {
            field: "awsSigner.rootsRef",
            needle: file.clone(),
            message: format!("{}: {message}", path.display()),
        };
        let pem = super::read_bounded(&path)
            .map_err(|e| roots_error(format!("cannot read the root certificates: {e}")))?;
        let added = stores
            .add_certificates(
                StoreKind::SigningAuthority,
                AWS_SIGNER_STORE,
                pem.as_bytes(),
            )
            .map_err(roots_error)?;
        if added == 0 {
            return Err(roots_error("no certificates in it".into()));
        }
    }
    let trust_stores: Vec<(StoreKind, String)> = stores
        .names()
        .into_iter()
        .filter(|(kind, _)| *kind == StoreKind::SigningAuthority)
        .collect();
    if trust_stores.is_empty() {
        return Err(ResolveError {
            field: "awsSigner",
            needle: "awsSigner".into(),
            message: "no AWS Signer root certificate is available (the embedded roots are \
                      missing: a bug)"
                .into(),
        });
    }
    let statement = TrustPolicy {
        name: name.to_string(),
        registry_scopes: vec!["*".to_string()],
        level,
        trust_stores,
        trusted_identities: arns
            .into_iter()
            .map(TrustedIdentity::AwsSignerProfile)
            .collect(),
    };
    Ok(NotationAuthority {
        kind: NotationKind::AwsSigner,
        stores,
        trust: NotationTrust::Statement(statement),
    })
}

#[cfg(test)]
#[path = "notation_tests.rs"]
mod tests;
