//! The checked form of a Notary Project authority: a policy's `notation:` (Notation's own trust
//! policy and trust-store layout) or `awsSigner:` (AWS Signer signing profiles), compiled into
//! trust stores and either one statement or a whole trust-policy document.

use crate::evidence::notation::{NotationTarget, RevocationCheck};

use super::notation::{
    Action, RevocationStatus, Step, StoreKind, Target, TrustPolicy, TrustPolicyDocument,
    TrustStores, TrustedIdentity,
};

/// What the policy wrote, for reasons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotationKind {
    /// `notation:` — X.509 signing (`notary.x509`) under a trust store of the policy's.
    Notation,
    /// `awsSigner:` — AWS Signer signing profiles (`notary.x509.signingAuthority`).
    AwsSigner,
}

/// Which trust-policy statement judges a signature.
#[derive(Debug)]
pub enum NotationTrust {
    /// One statement for every repository (inline `notation:` fields, or `awsSigner:`).
    Statement(TrustPolicy),
    /// Notation's own `trustpolicy.json`: the statement is chosen by the image's repository.
    Document(TrustPolicyDocument),
}

/// A Notary Project authority: trust stores and the trust policy that uses them.
#[derive(Debug)]
pub struct NotationAuthority {
    pub kind: NotationKind,
    pub stores: TrustStores,
    pub trust: NotationTrust,
}

impl NotationAuthority {
    /// The statement that judges signatures of images in `repository` (`registry/repo`).
    pub fn statement_for(&self, repository: &str) -> Result<&TrustPolicy, String> {
        match &self.trust {
            NotationTrust::Statement(s) => Ok(s),
            NotationTrust::Document(d) => d.statement_for(repository),
        }
    }

    /// Every statement this authority may use.
    pub fn statements(&self) -> Vec<&TrustPolicy> {
        match &self.trust {
            NotationTrust::Statement(s) => vec![s],
            NotationTrust::Document(d) => d.statements.iter().collect(),
        }
    }

    /// Whether a signature judged here may need AWS Signer's revocation status: some statement
    /// trusts a signing-authority store (the AWS Signer scheme) at a level that does not skip
    /// revocation. Only then does the service call `GetRevocationStatus`.
    pub fn wants_signer_revocation(&self) -> bool {
        self.statements().iter().any(|s| {
            s.level.action(Step::Revocation) != Action::Skip
                && s.trust_stores
                    .iter()
                    .any(|(kind, _)| *kind == StoreKind::SigningAuthority)
        })
    }

    /// Who this authority trusts, for reasons: `AWS Signer, profile arn:…, level strict`.
    pub fn describe(&self) -> String {
        match &self.trust {
            NotationTrust::Statement(s) => {
                let who: Vec<String> = s.trusted_identities.iter().map(identity_text).collect();
                let what = match self.kind {
                    NotationKind::AwsSigner => "AWS Signer, profile",
                    NotationKind::Notation => "Notary Project, identity",
                };
                format!(
                    "{what}{} {}, level {}",
                    if who.len() == 1 { "" } else { "s" },
                    who.join(" | "),
                    s.level.name
                )
            }
            NotationTrust::Document(d) => format!(
                "Notary Project trust policy with {} statement{}",
                d.statements.len(),
                if d.statements.len() == 1 { "" } else { "s" }
            ),
        }
    }
}

/// A trusted identity as a trust policy writes it.
pub fn identity_text(identity: &TrustedIdentity) -> String {
    match identity {
        TrustedIdentity::Any => "*".to_string(),
        TrustedIdentity::X509Subject(attributes) => {
            let dn: Vec<String> = attributes.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!("x509.subject: {}", dn.join(", "))
        }
        TrustedIdentity::AwsSignerProfile(arn) => arn.clone(),
    }
}

/// The verifier's form of a collected target.
pub(crate) fn target_of(t: &NotationTarget) -> Target {
    Target {
        media_type: t.media_type.clone(),
        digest: t.digest.clone(),
        size: t.size,
    }
}

/// The verifier's form of a collected revocation check.
pub(crate) fn revocation_of(r: &RevocationCheck) -> RevocationStatus {
    match r {
        RevocationCheck::NotChecked => RevocationStatus::NotChecked,
        RevocationCheck::Good => RevocationStatus::Good,
        RevocationCheck::Revoked(what) => RevocationStatus::Revoked(what.clone()),
        RevocationCheck::Unknown(why) => RevocationStatus::Unknown(why.clone()),
    }
}
