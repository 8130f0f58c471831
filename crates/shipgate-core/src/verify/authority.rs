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

/// A claim of the OIDC token that Fulcio copies into the certificate as an extension
/// `1.3.6.1.4.1.57264.1.N` (a DER UTF8String), named as the policy names it: the camelCase of
/// the name in Fulcio's `docs/oid-info.md` (and sigstore-go's `certificate.Extensions`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FulcioClaim {
    BuildSignerUri,
    BuildSignerDigest,
    RunnerEnvironment,
    SourceRepositoryUri,
    SourceRepositoryDigest,
    SourceRepositoryRef,
    SourceRepositoryIdentifier,
    SourceRepositoryOwnerUri,
    SourceRepositoryOwnerIdentifier,
    BuildConfigUri,
    BuildConfigDigest,
    BuildTrigger,
    RunInvocationUri,
    SourceRepositoryVisibilityAtSigning,
}

impl FulcioClaim {
    /// Every claim, in OID order (`.9` to `.22`).
    pub const ALL: [FulcioClaim; 14] = [
        FulcioClaim::BuildSignerUri,
        FulcioClaim::BuildSignerDigest,
        FulcioClaim::RunnerEnvironment,
        FulcioClaim::SourceRepositoryUri,
        FulcioClaim::SourceRepositoryDigest,
        FulcioClaim::SourceRepositoryRef,
        FulcioClaim::SourceRepositoryIdentifier,
        FulcioClaim::SourceRepositoryOwnerUri,
        FulcioClaim::SourceRepositoryOwnerIdentifier,
        FulcioClaim::BuildConfigUri,
        FulcioClaim::BuildConfigDigest,
        FulcioClaim::BuildTrigger,
        FulcioClaim::RunInvocationUri,
        FulcioClaim::SourceRepositoryVisibilityAtSigning,
    ];

    /// The last arc of the extension's OID: `1.3.6.1.4.1.57264.1.{arc}`.
    pub fn arc(self) -> u32 {
        match self {
            FulcioClaim::BuildSignerUri => 9,
            FulcioClaim::BuildSignerDigest => 10,
            FulcioClaim::RunnerEnvironment => 11,
            FulcioClaim::SourceRepositoryUri => 12,
            FulcioClaim::SourceRepositoryDigest => 13,
            FulcioClaim::SourceRepositoryRef => 14,
            FulcioClaim::SourceRepositoryIdentifier => 15,
            FulcioClaim::SourceRepositoryOwnerUri => 16,
            FulcioClaim::SourceRepositoryOwnerIdentifier => 17,
            FulcioClaim::BuildConfigUri => 18,
            FulcioClaim::BuildConfigDigest => 19,
            FulcioClaim::BuildTrigger => 20,
            FulcioClaim::RunInvocationUri => 21,
            FulcioClaim::SourceRepositoryVisibilityAtSigning => 22,
        }
    }

    /// The extension's OID, dotted.
    pub fn oid(self) -> String {
        format!("1.3.6.1.4.1.57264.1.{}", self.arc())
    }

    /// The policy's name for it (`sourceRepositoryRef`).
    pub fn name(self) -> &'static str {
        match self {
            FulcioClaim::BuildSignerUri => "buildSignerUri",
            FulcioClaim::BuildSignerDigest => "buildSignerDigest",
            FulcioClaim::RunnerEnvironment => "runnerEnvironment",
            FulcioClaim::SourceRepositoryUri => "sourceRepositoryUri",
            FulcioClaim::SourceRepositoryDigest => "sourceRepositoryDigest",
            FulcioClaim::SourceRepositoryRef => "sourceRepositoryRef",
            FulcioClaim::SourceRepositoryIdentifier => "sourceRepositoryIdentifier",
            FulcioClaim::SourceRepositoryOwnerUri => "sourceRepositoryOwnerUri",
            FulcioClaim::SourceRepositoryOwnerIdentifier => "sourceRepositoryOwnerIdentifier",
            FulcioClaim::BuildConfigUri => "buildConfigUri",
            FulcioClaim::BuildConfigDigest => "buildConfigDigest",
            FulcioClaim::BuildTrigger => "buildTrigger",
            FulcioClaim::RunInvocationUri => "runInvocationUri",
            FulcioClaim::SourceRepositoryVisibilityAtSigning => {
                "sourceRepositoryVisibilityAtSigning"
            }
        }
    }
}

impl fmt::Display for FulcioClaim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Who a signature must come from.
#[derive(Debug, Clone)]
pub enum Identity {
    /// A public key the policy names.
    Key(PublicKey),
    /// A Fulcio certificate whose OIDC issuer and subject match, and which carries every
    /// required claim extension with a matching value.
    Keyless {
        issuer: Matcher,
        subject: Matcher,
        claims: Vec<(FulcioClaim, Matcher)>,
    },
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
    /// The named Sigstore trusted root its signatures are judged by (`trustRoot:`); `None`:
    /// the verifier's main root.
    pub trust_root: Option<String>,
}
