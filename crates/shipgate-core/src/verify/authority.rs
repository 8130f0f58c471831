//! The checked form of a signing authority, as verification consumes it (a policy compiles
//! its `authorities` into these).

use std::fmt;
use std::sync::Arc;

use super::notation_authority::NotationAuthority;
use super::PublicKey;

/// An exact string or a regular expression, as policies name issuers and subjects.
#[derive(Clone)]
pub enum Matcher {
    Exact(String),
    Regex(regex::Regex),
}

impl Matcher {
    pub fn matches(&self, value: &str) -> bool {
        match self {
            Matcher::Exact(s) => s == value,
            Matcher::Regex(r) => r.is_match(value),
        }
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Matcher::Exact(s) => f.write_str(s),
            Matcher::Regex(r) => write!(f, "/{}/", r.as_str()),
        }
    }
}

impl fmt::Debug for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Who a signature must come from.
#[derive(Debug, Clone)]
pub enum Identity {
    /// A public key the policy names.
    Key(PublicKey),
    /// A Fulcio certificate whose OIDC issuer and subject match.
    Keyless { issuer: Matcher, subject: Matcher },
    /// A Notary Project signature that its trust policy and trust stores accept (`notation:`,
    /// `awsSigner:`); only for image signatures, never attestations.
    Notation(Arc<NotationAuthority>),
}

/// Whether a transparency-log proof must accompany the signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlogRequirement {
    Required,
    Optional,
}

/// One trusted signer of a policy.
#[derive(Debug, Clone)]
pub struct Authority {
    pub name: String,
    pub identity: Identity,
    pub tlog: TlogRequirement,
}
