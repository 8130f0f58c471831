//! Notary Project (Notation) signatures: JWS and COSE envelopes, trust policies, trust stores,
//! RFC 3161 countersignatures, verification levels, and AWS Signer (natively, in place of its
//! Notation plugin).
//!
//! Layout: [`envelope`] parses a JWS (`application/jose+json`) or COSE_Sign1
//! (`application/cose`) envelope into one [`envelope::Envelope`] and checks its signature with
//! the leaf key; everything else here judges that envelope against a [`TrustPolicy`] statement
//! and [`TrustStores`], step by step as the Notary Project specification orders them:
//! integrity, authenticity, authentic timestamp, expiry, revocation — each enforced, logged or
//! skipped as the verification level (and its overrides) says.
//!
//! Pure: no I/O but reading trust-store and trust-policy files on request
//! ([`TrustStores::from_dir`], [`TrustPolicyDocument::from_json`]). Revocation by AWS Signer
//! is an online call the service makes ([`aws_signer_revocation_query`]) and hands in as a
//! [`RevocationStatus`].
//!
//! Implementation: [`trust_store`], [`trust_policy`] (documents, statements, levels),
//! [`identity`] (x509.subject identities), [`aws_signer`] (signing-profile identities,
//! `GetRevocationStatus` input), [`integrity`] and [`steps`] (the workflow); RFC 3161 tokens
//! are verified by `verify::timestamp::verify_with_roots`, certificate requirements by
//! `verify::x509::profile`.
//!
//! What shipgate does differently from notation-go, deliberately:
//! - it runs no verification plugins: AWS Signer's checks (trusted identity, the attributes it
//!   processes, revocation input) are built in, any other plugin fails integrity, and the
//!   plugin's minimum version is not compared;
//! - trusted identities other than `*`, `x509.subject:` and AWS Signer signing-profile ARNs
//!   (meant for plugins) are refused when the policy loads, not when a signature needs them;
//! - `verifyTimestamp: afterCertExpiry` is verified as `always` (a `tsa:` store then always
//!   requires a countersignature): stricter, since [`TrustPolicy`] has no field for it yet;
//! - no OCSP/CRL is fetched, for signing or TSA chains: revocation is what the caller hands in,
//!   and only AWS Signer's is required (`NotChecked` fails an AWS Signer signature at enforce);
//! - a `skip` level is a rejection, not a pass; `S=` is read as `ST=` in x509.subject; the
//!   trust-store folder may be symlinked inside itself (Kubernetes mounts), not outside.

// The signing agent and the plugin's minimum version are parsed but only informational.
#[allow(dead_code)]
pub(crate) mod envelope;

mod aws_signer;
mod identity;
mod integrity;
mod steps;
mod trust_policy;
mod trust_store;

#[cfg(test)]
mod policy_tests;
#[cfg(test)]
mod step_tests;
#[cfg(test)]
mod store_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod vector_tests;

use std::collections::BTreeMap;
use std::path::Path;

use super::x509::Cert;
use super::Rejection;

/// The OCI artifact type of a Notation signature manifest.
pub const SIGNATURE_ARTIFACT_TYPE: &str = "application/vnd.cncf.notary.signature";
/// A JWS envelope (flattened JSON serialization).
pub const JWS_MEDIA_TYPE: &str = "application/jose+json";
/// A COSE_Sign1 envelope.
pub const COSE_MEDIA_TYPE: &str = "application/cose";
/// The verification plugin name AWS Signer signatures carry; shipgate verifies them natively.
pub const AWS_SIGNER_PLUGIN: &str = "com.amazonaws.signer.notation.plugin";

/// The artifact a signature must be about: the image manifest's descriptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub media_type: String,
    /// `sha256:<hex>`.
    pub digest: String,
    pub size: u64,
}

/// The three kinds of Notation trust store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StoreKind {
    /// `ca:` — roots for the `notary.x509` signing scheme.
    Ca,
    /// `signingAuthority:` — roots for `notary.x509.signingAuthority` (AWS Signer).
    SigningAuthority,
    /// `tsa:` — roots of RFC 3161 timestamp authorities.
    Tsa,
}

impl StoreKind {
    /// The name in trust policies and folder layouts: `ca`, `signingAuthority`, `tsa`.
    pub fn as_str(self) -> &'static str {
        match self {
            StoreKind::Ca => "ca",
            StoreKind::SigningAuthority => "signingAuthority",
            StoreKind::Tsa => "tsa",
        }
    }
}

/// Named sets of trusted certificates, as Notation lays them out
/// (`DIR/{ca,signingAuthority,tsa}/NAME/*.pem|crt|cer|der`).
#[derive(Debug, Default)]
pub struct TrustStores {
    pub(crate) stores: BTreeMap<(StoreKind, String), Vec<Cert>>,
}

impl TrustStores {
    pub fn new() -> TrustStores {
        TrustStores::default()
    }

    /// Adds the certificates of one file (PEM with one or more certificates, or one DER) to
    /// store `kind:name`; returns how many were added.
    pub fn add_certificates(
        &mut self,
        kind: StoreKind,
        name: &str,
        bytes: &[u8],
    ) -> Result<usize, String> {
        trust_store::add_certificates(self, kind, name, bytes)
    }

    /// Reads a trust-store root laid out as `DIR/{ca,signingAuthority,tsa}/NAME/*` (or
    /// Notation's own folder holding `x509/`). Files are `.pem`, `.crt`, `.cer` or `.der`;
    /// hidden entries and sub-folders of a store are ignored; a symlink may not lead outside
    /// `DIR`. Bounded: at most 64 stores, 64 files per store, 64 KiB per file.
    pub fn from_dir(dir: &Path) -> Result<TrustStores, String> {
        trust_store::from_dir(dir)
    }

    /// The AWS Signer root CAs, embedded: commercial (`signingAuthority:aws-signer-ts`) and,
    /// when `govcloud`, also GovCloud (US).
    pub fn aws_signer(govcloud: bool) -> TrustStores {
        trust_store::aws_signer(govcloud)
    }

    /// Every store's `(kind, name)`.
    pub fn names(&self) -> Vec<(StoreKind, String)> {
        self.stores.keys().cloned().collect()
    }
}

/// What a verification level does with a failed step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Enforce,
    Log,
    Skip,
}

/// The verification steps, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Step {
    Integrity,
    Authenticity,
    AuthenticTimestamp,
    Expiry,
    Revocation,
}

/// A verification level (`strict`, `permissive`, `audit`, `skip`) with its overrides applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerificationLevel {
    /// `strict`, `permissive`, `audit` or `skip`.
    pub name: String,
    pub actions: BTreeMap<Step, Action>,
}

impl VerificationLevel {
    /// A named level with `override` entries (`{"expiry": "log"}`), validated as Notation does
    /// (integrity cannot be overridden; `skip` takes no overrides).
    pub fn new(name: &str, overrides: &BTreeMap<String, String>) -> Result<Self, String> {
        trust_policy::level(name, overrides)
    }

    pub fn action(&self, step: Step) -> Action {
        self.actions.get(&step).copied().unwrap_or(Action::Enforce)
    }
}

/// One trusted identity of a statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrustedIdentity {
    /// `*`: any certificate that chains to the trust stores.
    Any,
    /// `x509.subject: C=US, ST=WA, O=…`: the leaf subject must carry each of these attributes.
    X509Subject(Vec<(String, String)>),
    /// An AWS Signer signing-profile ARN, signing-profile-version ARN (or, as the AWS Signer
    /// plugin also takes them, an aliased-profile or alias ARN), verbatim.
    AwsSignerProfile(String),
}

/// One statement of a Notation trust policy.
#[derive(Debug, Clone)]
pub struct TrustPolicy {
    pub name: String,
    /// `registry/repository` scopes, or `*`.
    pub registry_scopes: Vec<String>,
    pub level: VerificationLevel,
    pub trust_stores: Vec<(StoreKind, String)>,
    pub trusted_identities: Vec<TrustedIdentity>,
}

/// A Notation trust policy document (`version` 1.0, `trustPolicies`).
#[derive(Debug, Clone)]
pub struct TrustPolicyDocument {
    pub statements: Vec<TrustPolicy>,
}

impl TrustPolicyDocument {
    /// Parses and validates Notation's `trustpolicy.json` (bounded to 256 KiB).
    pub fn from_json(bytes: &[u8]) -> Result<TrustPolicyDocument, String> {
        trust_policy::from_json(bytes)
    }

    /// The statement for `repository` (`registry/repo`, no tag or digest): the one that names
    /// it exactly, else the `*` one; an error when none applies.
    pub fn statement_for(&self, repository: &str) -> Result<&TrustPolicy, String> {
        trust_policy::statement_for(self, repository)
    }
}

/// What revocation checking found for one signature. The service asks AWS Signer
/// (`GetRevocationStatus`) before evaluation; certificates carry no OCSP/CRL that is checked
/// offline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevocationStatus {
    /// Nobody checked (not an AWS Signer signature, or the level skips revocation).
    NotChecked,
    /// Checked: nothing revoked.
    Good,
    /// Checked: revoked (what, e.g. the signing profile or job ARN).
    Revoked(String),
    /// The check could not be made (why).
    Unknown(String),
}

/// What the service must ask AWS Signer's `GetRevocationStatus` about one signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsSignerRevocationQuery {
    /// `com.amazonaws.signer.signingProfileVersion`.
    pub profile_version_arn: String,
    /// `com.amazonaws.signer.signingJob`.
    pub job_arn: String,
    /// E.g. `Notation-OCI-SHA384-ECDSA`.
    pub platform_id: String,
    /// The signing time (Unix seconds).
    pub signature_timestamp: i64,
    /// One per certificate of the chain, root included, as the AWS Signer plugin computes
    /// them: the hex SHA-384 of the certificate's TBS followed by that of its issuer's TBS (for
    /// the root, its own again).
    pub certificate_hashes: Vec<String>,
}

/// The revocation query for an AWS Signer envelope; `None` for any other signature (or an
/// envelope that does not parse — verification then says why).
pub fn aws_signer_revocation_query(
    envelope: &[u8],
    media_type: &str,
) -> Option<AwsSignerRevocationQuery> {
    let env = envelope::parse(envelope, media_type).ok()?;
    aws_signer::revocation_query(&env)
}

/// A Notation signature that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotationVerified {
    /// The leaf certificate subject (RFC 4514), or for AWS Signer the signing-profile ARN.
    pub signer: String,
    /// `notary.x509` or `notary.x509.signingAuthority`.
    pub signing_scheme: String,
    /// The signing time the envelope claims, or the authentic signing time (Unix seconds).
    pub signing_time: Option<i64>,
    /// The genTime of a verified RFC 3161 countersignature (Unix seconds).
    pub timestamp: Option<i64>,
    /// Steps that failed but were only logged at this level, each with why.
    pub logged: Vec<String>,
}

/// Verifies one envelope for `target` under one trust-policy statement, at Unix second `now`.
/// Failures of steps the level enforces are a [`Rejection`] (kind `Identity` when the only
/// problem is the trusted identity); logged ones are listed in [`NotationVerified::logged`].
/// A level of `skip` is a rejection here: a skipped signature proves nothing to a gate.
pub fn verify(
    envelope: &[u8],
    media_type: &str,
    target: &Target,
    policy: &TrustPolicy,
    stores: &TrustStores,
    now: i64,
    revocation: &RevocationStatus,
) -> Result<NotationVerified, Rejection> {
    if policy.level.name == "skip" || policy.level.action(Step::Integrity) == Action::Skip {
        return Err(Rejection::new(format!(
            "trust policy statement {:?} has verification level skip: it verifies nothing, so \
             a gate cannot accept it",
            policy.name
        )));
    }
    let env = envelope::parse(envelope, media_type)
        .map_err(|r| Rejection::new(format!("integrity failed: {}", r.reason)))?;
    let chain =
        integrity::chain(&env).map_err(|e| Rejection::new(format!("integrity failed: {e}")))?;
    let leaf = chain
        .first()
        .ok_or_else(|| Rejection::new("integrity failed: no signing certificate".into()))?;
    // The key, not the header, decides the algorithm: say so before the signature check would
    // only say "does not verify".
    integrity::check_algorithm(env.alg, leaf)
        .map_err(|e| Rejection::new(format!("integrity failed: {e}")))?;
    if !env.verify_signature(&leaf.key) {
        return Err(Rejection::new(
            "integrity failed: the signature does not verify with the signing certificate's key \
             (the envelope or its payload was altered)"
                .into(),
        ));
    }
    let cx = steps::Context {
        target,
        policy,
        stores,
        now,
        revocation,
    };
    steps::judge(&env, chain, &cx)
}
