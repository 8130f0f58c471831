//! The policy file as the user writes it (YAML), strict: unknown keys are errors.
//!
//! These types are only the file's shape; `compile` turns them into the checked form that
//! evaluation uses, so a loaded policy can never hold a key that does not parse or a bad regex.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use crate::evidence::severity::Severity;

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
    /// How a check that could not decide (`error`: registry unreachable, scan pending, evidence
    /// cut short) counts: `deny` (default) fails the image like a `fail`; `audit` reports it in
    /// the decision without failing the image. There is no `allow`: an error is never silent.
    #[serde(default)]
    pub on_error: OnError,
    /// Who must have signed the image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signatures: Option<SignaturesSection>,
    /// Which scan findings the image may have.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vulnerabilities: Option<VulnerabilitiesSection>,
    /// Which base images the image must be built on (its layers must begin with theirs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_images: Option<BaseImagesSection>,
    /// Which signed build provenance (SLSA) the image must have.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<ProvenanceSection>,
    /// Amazon ECR managed signing: the status ECR reports for the image must be `COMPLETE`
    /// (in addition to any `signatures` rule that verifies the signature itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ecr_signing: Option<EcrSigningSection>,
}

/// `ecrSigning:` — what ECR's managed signing must report for the image.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EcrSigningSection {
    /// The status required: `COMPLETE` (the default and only accepted value).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Only a status of this AWS Signer signing profile counts (any profile when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_profile_arn: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    #[default]
    Enforce,
    Audit,
}

/// How `error` results of a policy count (`onError`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OnError {
    /// An `error` denies like a `fail` (fail closed).
    #[default]
    Deny,
    /// An `error` is reported in the decision but does not fail the image.
    Audit,
}

impl OnError {
    pub fn is_deny(&self) -> bool {
        *self == OnError::Deny
    }
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

/// A signer the policy trusts: a public key, a keyless (Fulcio certificate) identity, or a
/// Notary Project signer (`notation`, `awsSigner`; image signatures only).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AuthorityFile {
    /// Name reported in decisions; unique within the policy.
    pub name: String,
    /// Inline PEM public key (ECDSA P-256/P-384/P-521, RSA, Ed25519), or an AWS KMS key as
    /// cosign names it (`awskms:///alias/NAME`, `awskms:///KEY-ID`, `awskms:///arn:aws:kms:…`),
    /// whose public key is fetched (`kms:GetPublicKey`) when the policy loads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Path to a PEM public key, relative to the policy file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_ref: Option<String>,
    /// Keyless signing: the certificate's OIDC issuer and subject (SAN) must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyless: Option<KeylessFile>,
    /// Notary Project (Notation) signatures, judged by a Notation trust policy and trust store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notation: Option<NotationFile>,
    /// Notary Project signatures made by AWS Signer signing profiles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_signer: Option<AwsSignerFile>,
    /// `required` (default) or `optional`. Optional for a key: a signature needs no log entry.
    /// Optional for keyless: a verified RFC 3161 timestamp may prove the signing time instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transparency_log: Option<TransparencyLog>,
    /// The Sigstore trusted root this authority's signatures are judged by, by name: `github`
    /// (GitHub's own Sigstore instance), `public-good`, or one the service configures
    /// (`trustRoots`, `--trust-root NAME=FILE`). Default: the gate's main root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust_root: Option<String>,
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
    /// Token claims the certificate must carry (Fulcio extensions `1.3.6.1.4.1.57264.1.9`–`.22`),
    /// each exact or as a regular expression; a certificate without one does not count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claims: Option<ClaimsFile>,
}

/// `keyless.claims`: the OIDC token claims Fulcio copies into the certificate (the names are
/// the camelCase of Fulcio's extension names), each exact or `…RegExp`, never both.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ClaimsFile {
    /// Exact: the workflow that signed (`…/.github/workflows/release.yml@refs/heads/main`), extension `.9`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_signer_uri: Option<String>,
    /// Regular expression for `buildSignerUri`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_signer_uri_reg_exp: Option<String>,
    /// Exact: the commit of the signing workflow, extension `.10`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_signer_digest: Option<String>,
    /// Regular expression for `buildSignerDigest`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_signer_digest_reg_exp: Option<String>,
    /// Exact: `github-hosted` or `self-hosted`, extension `.11`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runner_environment: Option<String>,
    /// Regular expression for `runnerEnvironment`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runner_environment_reg_exp: Option<String>,
    /// Exact: the repository built (`https://github.com/acme/app`), extension `.12`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_repository_uri: Option<String>,
    /// Regular expression for `sourceRepositoryUri`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_repository_uri_reg_exp: Option<String>,
    /// Exact: the commit built, extension `.13`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_repository_digest: Option<String>,
    /// Regular expression for `sourceRepositoryDigest`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_repository_digest_reg_exp: Option<String>,
    /// Exact: the ref built (`refs/heads/main`, `refs/tags/v1.2.3`), extension `.14`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_repository_ref: Option<String>,
    /// Regular expression for `sourceRepositoryRef`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_repository_ref_reg_exp: Option<String>,
    /// Exact: the repository's immutable id, extension `.15`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_repository_identifier: Option<String>,
    /// Regular expression for `sourceRepositoryIdentifier`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_repository_identifier_reg_exp: Option<String>,
    /// Exact: the repository's owner (`https://github.com/acme`), extension `.16`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_repository_owner_uri: Option<String>,
    /// Regular expression for `sourceRepositoryOwnerUri`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_repository_owner_uri_reg_exp: Option<String>,
    /// Exact: the owner's immutable id, extension `.17`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_repository_owner_identifier: Option<String>,
    /// Regular expression for `sourceRepositoryOwnerIdentifier`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_repository_owner_identifier_reg_exp: Option<String>,
    /// Exact: the top-level build configuration (workflow file at a ref), extension `.18`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_config_uri: Option<String>,
    /// Regular expression for `buildConfigUri`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_config_uri_reg_exp: Option<String>,
    /// Exact: the commit of the build configuration, extension `.19`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_config_digest: Option<String>,
    /// Regular expression for `buildConfigDigest`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_config_digest_reg_exp: Option<String>,
    /// Exact: the event that started the build (`push`, `release`), extension `.20`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_trigger: Option<String>,
    /// Regular expression for `buildTrigger`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_trigger_reg_exp: Option<String>,
    /// Exact: the run (`…/actions/runs/ID/attempts/N`), extension `.21`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_invocation_uri: Option<String>,
    /// Regular expression for `runInvocationUri`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_invocation_uri_reg_exp: Option<String>,
    /// Exact: `public`, `private` or `internal`, extension `.22`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_repository_visibility_at_signing: Option<String>,
    /// Regular expression for `sourceRepositoryVisibilityAtSigning`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_repository_visibility_at_signing_reg_exp: Option<String>,
}

/// `notation:` — Notary Project signatures under Notation's own trust policy and trust stores.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NotationFile {
    /// Notation's `trustpolicy.json` (relative to the policy file): the statement whose
    /// `registryScopes` name the image's `registry/repository` (else the `*` one) judges it.
    /// Without it, `trustedIdentities`, `level` and `override` make one statement for every
    /// repository that trusts every store of `trustStore`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust_policy: Option<String>,
    /// Required: the trust-store root (relative to the policy file), laid out as Notation's:
    /// `DIR/{ca,signingAuthority,tsa}/NAME/*.pem|crt|cer|der`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust_store: Option<String>,
    /// Without `trustPolicy` (then required): who may sign, as Notation writes it:
    /// `x509.subject: C=US, ST=WA, O=acme, CN=release`, or `*` for any certificate of the store.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trusted_identities: Vec<String>,
    /// Without `trustPolicy`: `strict` (default), `permissive` or `audit`; `skip` is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
    /// Without `trustPolicy`: per-step actions that differ from the level's, as Notation's
    /// `override` (`{expiry: log}`, `{revocation: skip}`; integrity cannot be overridden).
    #[serde(
        default,
        rename = "override",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub overrides: BTreeMap<String, String>,
}

/// `awsSigner:` — Notary Project signatures made by AWS Signer (verified natively, no plugin).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AwsSignerFile {
    /// A signing-profile ARN (`arn:aws:signer:REGION:ACCOUNT:/signing-profiles/NAME`) or
    /// signing-profile-version ARN (`…/NAME/VERSION`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_arn: Option<String>,
    /// Several such ARNs; a signature by any one of them counts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub profile_arns: Vec<String>,
    /// A PEM file (relative to the policy file) of further AWS Signer root CAs, e.g. for the
    /// China regions. The commercial AWS Signer root is always trusted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roots_ref: Option<String>,
    /// Also trust the AWS GovCloud (US) AWS Signer root.
    #[serde(default)]
    pub gov_cloud: bool,
    /// `strict` (default), `permissive` or `audit`; `skip` is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
    /// Per-step actions that differ from the level's, as Notation's `override`.
    #[serde(
        default,
        rename = "override",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub overrides: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TransparencyLog {
    Required,
    Optional,
}

/// The `vulnerabilities:` section: limits on the image's scan findings.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct VulnerabilitiesSection {
    /// Where findings come from: `ecr` (Amazon ECR basic or enhanced scanning).
    pub source: VulnerabilitySource,
    /// How long to wait for a scan that is pending, in progress or not started: `120s`, `2m`,
    /// `1m30s`. Default `0s` (look once). Also bounded by the gate's evaluation timeout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_for_scan: Option<String>,
    /// Start a basic scan (`StartImageScan`) when the image has none yet. Default false.
    #[serde(default)]
    pub start_scan: bool,
    /// Any counted finding above this severity fails the image. Order: INFORMATIONAL < LOW <
    /// MEDIUM < HIGH < UNTRIAGED < CRITICAL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_severity: Option<Severity>,
    /// Most counted findings allowed of exactly this severity, e.g. `{HIGH: 3, MEDIUM: 20}`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub budgets: BTreeMap<Severity, u64>,
    /// Count only findings that have a fix (enhanced scanning's `fixAvailable` YES or PARTIAL).
    /// Findings that do not say (basic scanning) still count.
    #[serde(default)]
    pub only_fixable: bool,
    /// Findings whose score (Inspector score, else CVSS) is below this (0-10) are not counted.
    /// Findings without a score always count. Default 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_score: Option<f64>,
    /// Findings that are accepted, with a reason and optionally an expiry date.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore: Vec<IgnoreFile>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum VulnerabilitySource {
    /// Amazon ECR `DescribeImageScanFindings` for the image's digest.
    Ecr,
}

/// An accepted finding.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct IgnoreFile {
    /// The vulnerability id as ECR reports it, e.g. `CVE-2024-12345`.
    pub id: String,
    /// Why it is accepted; reported in every decision.
    pub reason: String,
    /// Last day (UTC, inclusive) the entry applies: `2027-01-31`. After it, the finding counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
}

/// The `baseImages:` section: the image's layers must begin with the complete layer list of an
/// allowed base image, and of no denied one.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct BaseImagesSection {
    /// `registry/repo:TAGGLOB` (the repository's tags that match), `registry/repo@sha256:…`
    /// (exactly that image), or a repository glob without a tag (`registry/golden/**`: only the
    /// base named by the image's `org.opencontainers.image.base.name` annotation is checked).
    pub allow: Vec<String>,
    /// Same forms; an image built on a denied base fails even if an allowed base also matches.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deny: Vec<String>,
}

/// The `provenance:` section: a signed SLSA provenance attestation about the image's digest.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ProvenanceSection {
    /// Who must have signed the attestations; same forms as `signatures.authorities`.
    pub authorities: Vec<AuthorityFile>,
    /// `https://slsa.dev/provenance/v1` (default) or `https://slsa.dev/provenance/v0.2`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predicate_type: Option<String>,
    /// Exact builder id (`runDetails.builder.id`, v0.2 `builder.id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub builder_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub builder_id_reg_exp: Option<String>,
    /// Exact build type (`buildDefinition.buildType`, v0.2 `buildType`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_type_reg_exp: Option<String>,
    /// The source repository, e.g. `https://github.com/acme/app`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_repository: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_repository_reg_exp: Option<String>,
    /// The source ref, e.g. `refs/heads/main`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ref: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ref_reg_exp: Option<String>,
    /// The workflow file, e.g. `.github/workflows/release.yml`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow_path_reg_exp: Option<String>,
    /// Other predicate types that must also be present and validly signed (SBOM, vuln scan).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub require_predicates: Vec<String>,
}
