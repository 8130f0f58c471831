//! Policies: the file format (`model`), its checked form (`Policy`), and loading.
//!
//! "Parse, don't validate": a `Policy` exists only if every glob, regular expression and key in
//! its file compiled. Errors name the file, the line and the field.

pub mod base_pattern;
mod glob;
pub mod kms;
mod locate;
pub mod model;
mod notation;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use sha2::Digest as _;

pub use crate::verify::authority::{
    self, Authority, FulcioClaim, Identity, Matcher, TlogRequirement,
};
pub use glob::ImageGlobs;
pub use kms::KmsKeyRef;
pub use model::{Mode, OnError, Severity, VulnerabilitySource};

use crate::reference::Repository;
use crate::verify::PublicKey;
use model::{
    AuthorityFile, ClaimsFile, PolicyFile, ProvenanceSection, TransparencyLog,
    VulnerabilitiesSection,
};

/// Policy files larger than this are refused: a policy is a page, not a data set.
const MAX_POLICY_BYTES: u64 = 256 * 1024;
/// Directories with more policy files than this are refused.
const MAX_POLICY_FILES: usize = 1000;
/// Compiled regular expressions are bounded so a policy cannot make matching slow.
const MAX_REGEX_BYTES: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("{file}: {message}")]
    Invalid { file: String, message: String },
    #[error("{file}: cannot read: {source}")]
    Io {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("policy name `{name}` is used by both {first} and {second}; names must be unique")]
    DuplicateName {
        name: String,
        first: String,
        second: String,
    },
    #[error("{0}: no policy files (*.yaml, *.yml) found")]
    Empty(String),
}

/// The AWS KMS keys the service fetched for `awskms://` references, by URI as the policy
/// wrote it: the key, or why it cannot be used (the policy then does not load).
pub type FetchedKmsKeys = BTreeMap<String, Result<PublicKey, String>>;

/// The signature requirement of a policy.
#[derive(Debug, Clone)]
pub struct SignaturePolicy {
    pub threshold: usize,
    pub authorities: Vec<Authority>,
}

/// The build-provenance requirement of a policy (`provenance:`).
#[derive(Debug, Clone)]
pub struct ProvenancePolicy {
    pub authorities: Vec<Authority>,
    /// The SLSA provenance predicate type required.
    pub predicate_type: String,
    pub builder_id: Option<Matcher>,
    pub build_type: Option<Matcher>,
    pub source_repository: Option<Matcher>,
    pub source_ref: Option<Matcher>,
    pub workflow_path: Option<Matcher>,
    /// Other predicate types that must also be present and validly signed.
    pub require_predicates: Vec<String>,
}

/// The ECR managed-signing requirement of a policy (`ecrSigning:`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcrSigningPolicy {
    /// The status ECR must report: `COMPLETE`.
    pub status: String,
    /// Only a status of this signing profile counts; any profile when `None`.
    pub signing_profile_arn: Option<String>,
}

/// The one status an `ecrSigning` rule can require.
pub const ECR_SIGNING_COMPLETE: &str = "COMPLETE";

/// SLSA provenance v1.
pub const SLSA_PROVENANCE_V1: &str = "https://slsa.dev/provenance/v1";
/// SLSA provenance v0.2.
pub const SLSA_PROVENANCE_V02: &str = "https://slsa.dev/provenance/v0.2";

/// The base-image requirement of a policy (`baseImages:`): the image's layers must begin with
/// those of an allowed base, and of no denied one.
#[derive(Debug, Clone)]
pub struct BaseImagePolicy {
    pub allow: Vec<base_pattern::BasePattern>,
    pub deny: Vec<base_pattern::BasePattern>,
}

/// The scan-findings requirement of a policy (`vulnerabilities:`).
#[derive(Debug, Clone)]
pub struct VulnerabilityPolicy {
    pub source: VulnerabilitySource,
    /// How long to wait for a scan that has not finished (or not started).
    pub wait_for_scan: std::time::Duration,
    /// Start a basic scan when there is none.
    pub start_scan: bool,
    /// Counted findings above this fail.
    pub max_severity: Option<Severity>,
    /// Most counted findings allowed per severity.
    pub budgets: std::collections::BTreeMap<Severity, u64>,
    pub only_fixable: bool,
    /// Findings with a known score below this are not counted (0: all count).
    pub min_score: f64,
    pub ignore: Vec<IgnoreEntry>,
}

/// An accepted finding: its id, why, and the last day (UTC) the acceptance holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IgnoreEntry {
    pub id: String,
    pub reason: String,
    pub expires: Option<time::Date>,
}

/// The longest `waitForScan` a policy may ask for; the gate's timeout bounds it anyway.
const MAX_WAIT_FOR_SCAN: std::time::Duration = std::time::Duration::from_secs(3600);

/// Parses `120s`, `2m`, `1m30s`, `1h`, `500ms`, `0`.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let t = text.trim();
    if t == "0" {
        return Ok(std::time::Duration::ZERO);
    }
    let bad =
        || format!("`{text}` is not a duration; write it like `120s`, `2m`, `1m30s` or `500ms`");
    let mut total = std::time::Duration::ZERO;
    let mut rest = t;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits > 9 {
            return Err(bad());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let part = match &rest[..unit_len] {
            "ms" => std::time::Duration::from_millis(n),
            "s" => std::time::Duration::from_secs(n),
            "m" => std::time::Duration::from_secs(n * 60),
            "h" => std::time::Duration::from_secs(n * 3600),
            _ => return Err(bad()),
        };
        rest = &rest[unit_len..];
        total += part;
    }
    Ok(total)
}

/// A loaded, checked policy.
#[derive(Debug, Clone)]
pub struct Policy {
    pub name: String,
    pub images: ImageGlobs,
    pub mode: Mode,
    pub on_error: OnError,
    pub signatures: Option<SignaturePolicy>,
    pub vulnerabilities: Option<VulnerabilityPolicy>,
    pub base_images: Option<BaseImagePolicy>,
    pub provenance: Option<ProvenancePolicy>,
    pub ecr_signing: Option<EcrSigningPolicy>,
    /// `sha256:<hex>` of the policy file's bytes, recorded in every decision.
    pub sha256: String,
    /// The file it came from.
    pub source: PathBuf,
}

/// A YAML error's message; one a check raised after reading a mapping carries no position,
/// so the line of the field it names is added.
fn yaml_error_message(text: &str, e: &serde_yaml::Error) -> String {
    let mut message = e.to_string();
    if e.location().is_none() {
        if let Some(line) = message.split_once(": ").and_then(|(p, _)| {
            locate::line_of_path(text, p).or_else(|| {
                // `allow: [..]` (flow style): point at the list's line.
                let list = p.strip_suffix(']')?.rsplit_once('[')?.0;
                locate::line_of_path(text, list)
            })
        }) {
            message.push_str(&format!(" at line {line}"));
        }
    }
    message
}

/// The authorities of a section, reading each `keyRef` file relative to `base` and taking each
/// KMS key from `kms`.
fn resolve_authorities(
    text: &str,
    base: &Path,
    section: &str,
    drafts: Vec<DraftAuthority>,
    kms: &FetchedKmsKeys,
    invalid: &dyn Fn(String) -> PolicyError,
) -> Result<Vec<Authority>, PolicyError> {
    let mut authorities = Vec::new();
    for (i, draft) in drafts.into_iter().enumerate() {
        let identity = match draft.identity {
            DraftIdentity::Ready(identity) => identity,
            DraftIdentity::KeyRef(path) => {
                let field = format!("{section}.authorities[{i}].keyRef");
                let at = line_of(text, &path);
                let full = base.join(&path);
                let pem = read_bounded(&full).map_err(|e| {
                    invalid(format!(
                        "{field}: cannot read key file {}: {e}{at}",
                        full.display()
                    ))
                })?;
                let key = PublicKey::from_pem(&pem)
                    .map_err(|e| invalid(format!("{field}: {}: {e}{at}", full.display())))?;
                Identity::Key(key)
            }
            DraftIdentity::Kms(r) => {
                let at = line_of(text, &r.uri);
                let key = kms_key(&r, kms).map_err(|e| {
                    invalid(format!(
                        "{section}.authorities[{i}].key: {}: {e}{at}",
                        r.uri
                    ))
                })?;
                Identity::Key(key.with_origin(&r.uri))
            }
            DraftIdentity::Notation(d) => {
                let resolved = notation::resolve(d, &draft.name, base).map_err(|e| {
                    let at = line_of(text, &e.needle);
                    invalid(format!(
                        "{section}.authorities[{i}].{}: {}{at}",
                        e.field, e.message
                    ))
                })?;
                Identity::Notation(Arc::new(resolved))
            }
        };
        authorities.push(Authority {
            name: draft.name,
            identity,
            tlog: draft.tlog,
            trust_root: draft.trust_root,
        });
    }
    Ok(authorities)
}

/// The key fetched for `r`, or why there is none.
fn kms_key(r: &KmsKeyRef, kms: &FetchedKmsKeys) -> Result<PublicKey, String> {
    match kms.get(&r.uri) {
        Some(Ok(key)) => Ok(key.clone()),
        Some(Err(why)) => Err(why.clone()),
        None => Err(
            "AWS KMS keys are fetched when the service loads policies (`shipgate check`, `serve`, `policy validate`); this loader fetched none"
                .into(),
        ),
    }
}

/// A policy file parsed and checked, before its AWS KMS keys are fetched: the first of the
/// two loading phases, so the core stays free of I/O runtimes. [`PolicyDraft::kms_keys`] says
/// what to fetch; [`PolicyDraft::resolve`] finishes the policy with the answers.
pub struct PolicyDraft {
    raw: RawPolicy,
    text: String,
    source: PathBuf,
}

impl PolicyDraft {
    /// Parses one policy from YAML text. `source` names it in errors and resolves `keyRef`s.
    pub fn parse(text: &str, source: &Path) -> Result<PolicyDraft, PolicyError> {
        let raw: RawPolicy = serde_yaml::from_str(text).map_err(|e| PolicyError::Invalid {
            file: source.display().to_string(),
            message: yaml_error_message(text, &e),
        })?;
        Ok(PolicyDraft {
            raw,
            text: text.to_string(),
            source: source.to_path_buf(),
        })
    }

    /// Reads and parses one policy file.
    pub fn read(path: &Path) -> Result<PolicyDraft, PolicyError> {
        let text = read_bounded(path).map_err(|source| PolicyError::Io {
            file: path.display().to_string(),
            source,
        })?;
        PolicyDraft::parse(&text, path)
    }

    /// The AWS KMS keys the policy names (`key: awskms:///…`), in file order.
    pub fn kms_keys(&self) -> impl Iterator<Item = &KmsKeyRef> {
        let signatures = self.raw.signatures.iter().flat_map(|s| &s.authorities);
        let provenance = self.raw.provenance.iter().flat_map(|p| &p.authorities);
        signatures
            .chain(provenance)
            .filter_map(|a| match &a.identity {
                DraftIdentity::Kms(r) => Some(r),
                _ => None,
            })
    }

    /// The checked policy: `keyRef` files read, KMS keys taken from `kms`.
    pub fn resolve(self, kms: &FetchedKmsKeys) -> Result<Policy, PolicyError> {
        let PolicyDraft { raw, text, source } = self;
        let file = source.display().to_string();
        let invalid = |message: String| PolicyError::Invalid {
            file: file.clone(),
            message,
        };
        let base = source.parent().unwrap_or(Path::new("."));
        let resolve = |section: &str, drafts: Vec<DraftAuthority>| {
            resolve_authorities(&text, base, section, drafts, kms, &invalid)
        };
        let mut signatures = None;
        if let Some(section) = raw.signatures {
            signatures = Some(SignaturePolicy {
                threshold: section.threshold,
                authorities: resolve("signatures", section.authorities)?,
            });
        }
        let mut provenance = None;
        if let Some(p) = raw.provenance {
            provenance = Some(ProvenancePolicy {
                authorities: resolve("provenance", p.authorities)?,
                ..p.policy
            });
        }
        Ok(Policy {
            name: raw.name,
            images: raw.images,
            mode: raw.mode,
            on_error: raw.on_error,
            signatures,
            vulnerabilities: raw.vulnerabilities,
            base_images: raw.base_images,
            provenance,
            ecr_signing: raw.ecr_signing,
            sha256: format!(
                "sha256:{}",
                hex::encode(sha2::Sha256::digest(text.as_bytes()))
            ),
            source,
        })
    }
}

impl Policy {
    /// Parses one policy from YAML text. `source` names it in errors and resolves `keyRef`s.
    /// A policy naming an AWS KMS key does not load here (nothing is fetched): the service
    /// loads those in two phases through [`PolicyDraft`].
    pub fn from_yaml(text: &str, source: &Path) -> Result<Policy, PolicyError> {
        PolicyDraft::parse(text, source)?.resolve(&FetchedKmsKeys::new())
    }

    /// Loads one policy file (no AWS KMS keys; see [`Policy::from_yaml`]).
    pub fn load(path: &Path) -> Result<Policy, PolicyError> {
        PolicyDraft::read(path)?.resolve(&FetchedKmsKeys::new())
    }

    /// Whether this policy governs images of `repo`.
    pub fn governs(&self, repo: &Repository) -> bool {
        self.images.matches(repo)
    }
}

/// All policies the gate applies, in a stable order (by name).
#[derive(Debug, Clone, Default)]
pub struct PolicySet {
    policies: Vec<Arc<Policy>>,
}

impl PolicySet {
    pub fn new(mut policies: Vec<Policy>) -> Result<PolicySet, PolicyError> {
        policies.sort_by(|a, b| a.name.cmp(&b.name));
        for pair in policies.windows(2) {
            if pair[0].name == pair[1].name {
                return Err(PolicyError::DuplicateName {
                    name: pair[0].name.clone(),
                    first: pair[0].source.display().to_string(),
                    second: pair[1].source.display().to_string(),
                });
            }
        }
        Ok(PolicySet {
            policies: policies.into_iter().map(Arc::new).collect(),
        })
    }

    /// Loads each path (see [`PolicySet::drafts`]); without AWS KMS keys, which the service
    /// fetches between [`PolicySet::drafts`] and [`PolicySet::resolve`].
    pub fn load(paths: &[PathBuf]) -> Result<PolicySet, PolicyError> {
        PolicySet::resolve(PolicySet::drafts(paths)?, &FetchedKmsKeys::new())
    }

    /// Reads each path: a file is one policy, a directory contributes its `*.yaml`/`*.yml`
    /// files (not recursively, in name order).
    pub fn drafts(paths: &[PathBuf]) -> Result<Vec<PolicyDraft>, PolicyError> {
        let mut drafts = Vec::new();
        for path in paths {
            if path.is_dir() {
                let files = policy_files(path)?;
                if files.is_empty() {
                    return Err(PolicyError::Empty(path.display().to_string()));
                }
                for file in files {
                    drafts.push(PolicyDraft::read(&file)?);
                }
            } else {
                drafts.push(PolicyDraft::read(path)?);
            }
        }
        Ok(drafts)
    }

    /// Finishes the drafts with the fetched KMS keys.
    pub fn resolve(
        drafts: Vec<PolicyDraft>,
        kms: &FetchedKmsKeys,
    ) -> Result<PolicySet, PolicyError> {
        let policies = drafts
            .into_iter()
            .map(|d| d.resolve(kms))
            .collect::<Result<Vec<_>, _>>()?;
        PolicySet::new(policies)
    }

    pub fn is_empty(&self) -> bool {
        self.policies.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<Policy>> {
        self.policies.iter()
    }

    pub fn get(&self, name: &str) -> Option<&Arc<Policy>> {
        self.policies.iter().find(|p| p.name == name)
    }

    /// The policies that govern `repo`. Pure: no network is touched to decide this.
    pub fn governing(&self, repo: &Repository) -> Vec<Arc<Policy>> {
        let path = repo.to_string();
        self.policies
            .iter()
            .filter(|p| p.images.matches_path(&path))
            .cloned()
            .collect()
    }
}

fn policy_files(dir: &Path) -> Result<Vec<PathBuf>, PolicyError> {
    let io = |source| PolicyError::Io {
        file: dir.display().to_string(),
        source,
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        let is_yaml = matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        );
        if is_yaml && path.is_file() {
            files.push(path);
        }
        if files.len() > MAX_POLICY_FILES {
            return Err(PolicyError::Invalid {
                file: dir.display().to_string(),
                message: format!("more than {MAX_POLICY_FILES} policy files"),
            });
        }
    }
    files.sort();
    Ok(files)
}

/// Reads a small text file, refusing anything over `MAX_POLICY_BYTES`.
fn read_bounded(path: &Path) -> std::io::Result<String> {
    let len = std::fs::metadata(path)?.len();
    if len > MAX_POLICY_BYTES {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{len} bytes is larger than the {MAX_POLICY_BYTES}-byte limit"),
        ));
    }
    std::fs::read_to_string(path)
}

/// " at line N" for the first line that mentions `needle`, for errors found after parsing.
fn line_of(text: &str, needle: &str) -> String {
    text.lines()
        .position(|l| l.contains(needle))
        .map(|i| format!(" at line {}", i + 1))
        .unwrap_or_default()
}

// --- Deserialization into checked types ------------------------------------------------------
// Checks run inside `Deserialize` (through `try_from`), so serde_yaml reports the field path and
// the line and column of the value that is wrong.

#[derive(Deserialize)]
#[serde(try_from = "PolicyFile")]
struct RawPolicy {
    name: String,
    images: ImageGlobs,
    mode: Mode,
    on_error: OnError,
    signatures: Option<RawSignatures>,
    vulnerabilities: Option<VulnerabilityPolicy>,
    base_images: Option<BaseImagePolicy>,
    provenance: Option<RawProvenance>,
    ecr_signing: Option<EcrSigningPolicy>,
}

/// `provenance:` checked, with authorities whose `keyRef`s are resolved after parsing.
struct RawProvenance {
    authorities: Vec<DraftAuthority>,
    /// Everything but the authorities (left empty here).
    policy: ProvenancePolicy,
}

struct RawSignatures {
    threshold: usize,
    authorities: Vec<DraftAuthority>,
}

struct DraftAuthority {
    name: String,
    identity: DraftIdentity,
    tlog: TlogRequirement,
    trust_root: Option<String>,
}

enum DraftIdentity {
    Ready(Identity),
    /// Resolved against the policy file's directory after parsing.
    KeyRef(String),
    /// `notation:` / `awsSigner:`, whose files are read after parsing too.
    Notation(notation::NotationDraft),
    /// `key: awskms:///…`, whose key the service fetches after parsing.
    Kms(KmsKeyRef),
}

impl TryFrom<PolicyFile> for RawPolicy {
    type Error = String;
    fn try_from(f: PolicyFile) -> Result<Self, String> {
        if f.name.is_empty()
            || f.name.len() > 128
            || !f
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        {
            return Err(format!(
                "name `{}` must be 1-128 characters of [A-Za-z0-9._-]",
                f.name
            ));
        }
        let images = ImageGlobs::new(&f.images)?;
        if f.signatures.is_none()
            && f.vulnerabilities.is_none()
            && f.provenance.is_none()
            && f.base_images.is_none()
            && f.ecr_signing.is_none()
        {
            return Err(
                "a policy must require at least one check: add a `signatures`, `vulnerabilities`, `provenance`, `baseImages` or `ecrSigning` section"
                    .into(),
            );
        }
        let ecr_signing = f.ecr_signing.map(ecr_signing_policy).transpose()?;
        let provenance = f.provenance.map(provenance_policy).transpose()?;
        let vulnerabilities = f.vulnerabilities.map(vulnerability_policy).transpose()?;
        let base_images = f.base_images.map(base_image_policy).transpose()?;
        let signatures = match f.signatures {
            None => None,
            Some(s) => {
                if s.authorities.is_empty() {
                    return Err("signatures.authorities: at least one authority is needed".into());
                }
                if s.threshold == 0 || s.threshold > s.authorities.len() {
                    return Err(format!(
                        "signatures.threshold: {} must be between 1 and the number of authorities ({})",
                        s.threshold,
                        s.authorities.len()
                    ));
                }
                let authorities = draft_authorities("signatures", s.authorities)?;
                Some(RawSignatures {
                    threshold: s.threshold,
                    authorities,
                })
            }
        };
        Ok(RawPolicy {
            name: f.name,
            images,
            mode: f.mode,
            on_error: f.on_error,
            signatures,
            vulnerabilities,
            provenance,
            base_images,
            ecr_signing,
        })
    }
}

fn ecr_signing_policy(s: model::EcrSigningSection) -> Result<EcrSigningPolicy, String> {
    let status = s.status.unwrap_or_else(|| ECR_SIGNING_COMPLETE.to_string());
    if status != ECR_SIGNING_COMPLETE {
        return Err(format!(
            "ecrSigning.status: `{status}` cannot be required; the only status that proves ECR signed the image is `{ECR_SIGNING_COMPLETE}`"
        ));
    }
    let signing_profile_arn = match s.signing_profile_arn {
        None => None,
        Some(arn) if arn.starts_with("arn:aws") && arn.contains(":signer:") && arn.contains("/signing-profiles/") => Some(arn),
        Some(arn) => {
            return Err(format!(
                "ecrSigning.signingProfileArn: `{arn}` is not an AWS Signer signing-profile ARN (arn:aws:signer:REGION:ACCOUNT:/signing-profiles/NAME)"
            ))
        }
    };
    Ok(EcrSigningPolicy {
        status,
        signing_profile_arn,
    })
}

/// Checks a list of authorities (`signatures` or `provenance`): distinct names, one identity each.
fn draft_authorities(
    section: &str,
    list: Vec<AuthorityFile>,
) -> Result<Vec<DraftAuthority>, String> {
    let mut names = BTreeSet::new();
    let mut authorities = Vec::new();
    for (i, a) in list.into_iter().enumerate() {
        if !names.insert(a.name.clone()) {
            return Err(format!(
                "{section}.authorities[{i}].name: `{}` is used twice; the threshold counts distinct authorities",
                a.name
            ));
        }
        if section == "provenance" && (a.notation.is_some() || a.aws_signer.is_some()) {
            return Err(format!(
                "{section}.authorities[{i}].{}: a Notary Project authority signs images only; provenance attestations are verified as Sigstore bundles or cosign attestations, so use `key`, `keyRef` or `keyless` here (and the Notary Project authority under `signatures`)",
                if a.notation.is_some() { "notation" } else { "awsSigner" }
            ));
        }
        authorities
            .push(draft_authority(a).map_err(|e| format!("{section}.authorities[{i}].{e}"))?);
    }
    Ok(authorities)
}

fn provenance_policy(p: ProvenanceSection) -> Result<RawProvenance, String> {
    if p.authorities.is_empty() {
        return Err("provenance.authorities: at least one authority is needed".into());
    }
    let authorities = draft_authorities("provenance", p.authorities)?;
    let predicate_type = p
        .predicate_type
        .unwrap_or_else(|| SLSA_PROVENANCE_V1.to_string());
    if predicate_type != SLSA_PROVENANCE_V1 && predicate_type != SLSA_PROVENANCE_V02 {
        return Err(format!(
            "provenance.predicateType: `{predicate_type}` is not supported; use `{SLSA_PROVENANCE_V1}` (default) or `{SLSA_PROVENANCE_V02}`"
        ));
    }
    let optional = |field: &str, exact: Option<String>, pattern: Option<String>| {
        if exact.is_none() && pattern.is_none() {
            Ok(None)
        } else {
            matcher(&format!("provenance.{field}"), exact, pattern).map(Some)
        }
    };
    let mut require_predicates = Vec::new();
    for (i, t) in p.require_predicates.into_iter().enumerate() {
        let t = t.trim().to_string();
        if t.is_empty() {
            return Err(format!(
                "provenance.requirePredicates[{i}]: must not be empty"
            ));
        }
        if !require_predicates.contains(&t) {
            require_predicates.push(t);
        }
    }
    Ok(RawProvenance {
        authorities,
        policy: ProvenancePolicy {
            authorities: Vec::new(),
            predicate_type,
            builder_id: optional("builderId", p.builder_id, p.builder_id_reg_exp)?,
            build_type: optional("buildType", p.build_type, p.build_type_reg_exp)?,
            source_repository: optional(
                "sourceRepository",
                p.source_repository,
                p.source_repository_reg_exp,
            )?,
            source_ref: optional("sourceRef", p.source_ref, p.source_ref_reg_exp)?,
            workflow_path: optional("workflowPath", p.workflow_path, p.workflow_path_reg_exp)?,
            require_predicates,
        },
    })
}

fn base_image_policy(b: model::BaseImagesSection) -> Result<BaseImagePolicy, String> {
    use base_pattern::BasePattern;
    const MAX_PATTERNS: usize = 64;
    if b.allow.is_empty() {
        return Err(
            "baseImages.allow: at least one pattern is needed (e.g. `public.ecr.aws/docker/library/alpine:3.*`)"
                .into(),
        );
    }
    let compile = |field: &str, list: &[String]| -> Result<Vec<BasePattern>, String> {
        if list.len() > MAX_PATTERNS {
            return Err(format!(
                "baseImages.{field}: at most {MAX_PATTERNS} patterns"
            ));
        }
        list.iter()
            .enumerate()
            .map(|(i, p)| {
                BasePattern::parse(p).map_err(|e| format!("baseImages.{field}[{i}]: {e}"))
            })
            .collect()
    };
    let deny = compile("deny", &b.deny)?;
    // A repository glob is matched only against a base the image itself names (annotation or
    // provenance): an image built on a denied base that names none would pass. A deny rule
    // must be checkable against every image, so only tag globs and digests of a literal
    // repository are accepted (their candidates are listed from the registry).
    if let Some((i, p)) = deny
        .iter()
        .enumerate()
        .find(|(_, p)| matches!(p.selector, base_pattern::Selector::Repositories { .. }))
    {
        return Err(format!(
            "baseImages.deny[{i}]: `{}`: a repository glob cannot be checked against an image that does not name its base, so it could be dodged; name each denied repository with a tag glob or digest instead (e.g. `registry/base/old:*`, `registry/base/old@sha256:…`)",
            p.text
        ));
    }
    Ok(BaseImagePolicy {
        allow: compile("allow", &b.allow)?,
        deny,
    })
}

fn vulnerability_policy(v: VulnerabilitiesSection) -> Result<VulnerabilityPolicy, String> {
    let wait_for_scan = match &v.wait_for_scan {
        None => std::time::Duration::ZERO,
        Some(text) => {
            parse_duration(text).map_err(|e| format!("vulnerabilities.waitForScan: {e}"))?
        }
    };
    if wait_for_scan > MAX_WAIT_FOR_SCAN {
        return Err(format!(
            "vulnerabilities.waitForScan: {} is longer than the 1h limit (the gate's evaluation timeout bounds the wait anyway)",
            v.wait_for_scan.as_deref().unwrap_or_default()
        ));
    }
    if v.max_severity.is_none() && v.budgets.is_empty() {
        return Err(
            "vulnerabilities: give `maxSeverity`, `budgets` or both; without them no finding can fail the image"
                .into(),
        );
    }
    let min_score = v.min_score.unwrap_or(0.0);
    if !(0.0..=10.0).contains(&min_score) {
        return Err(format!(
            "vulnerabilities.minScore: {min_score} must be between 0 and 10 (CVSS and Inspector scores use that range)"
        ));
    }
    let mut ids = BTreeSet::new();
    let mut ignore = Vec::new();
    for (i, entry) in v.ignore.into_iter().enumerate() {
        let field = format!("vulnerabilities.ignore[{i}]");
        let id = entry.id.trim().to_string();
        if id.is_empty() {
            return Err(format!("{field}.id: must not be empty"));
        }
        if !ids.insert(id.to_ascii_uppercase()) {
            return Err(format!(
                "{field}.id: `{id}` is listed twice; keep one entry with one reason"
            ));
        }
        if entry.reason.trim().is_empty() {
            return Err(format!(
                "{field}.reason: say why `{id}` is accepted (it is reported in every decision)"
            ));
        }
        let expires = match &entry.expires {
            None => None,
            Some(text) => Some(
                time::Date::parse(
                    text.trim(),
                    time::macros::format_description!("[year]-[month]-[day]"),
                )
                .map_err(|e| {
                    format!("{field}.expires: `{text}` is not a date like 2027-01-31 ({e})")
                })?,
            ),
        };
        ignore.push(IgnoreEntry {
            id,
            reason: entry.reason.trim().to_string(),
            expires,
        });
    }
    Ok(VulnerabilityPolicy {
        source: v.source,
        wait_for_scan,
        start_scan: v.start_scan,
        max_severity: v.max_severity,
        budgets: v.budgets,
        only_fixable: v.only_fixable,
        min_score,
        ignore,
    })
}

fn draft_authority(mut a: AuthorityFile) -> Result<DraftAuthority, String> {
    if a.name.is_empty() {
        return Err("name: must not be empty".into());
    }
    let given = [
        a.key.is_some(),
        a.key_ref.is_some(),
        a.keyless.is_some(),
        a.notation.is_some(),
        a.aws_signer.is_some(),
    ];
    if given.iter().filter(|g| **g).count() != 1 {
        return Err(format!(
            "{}: give exactly one of `key`, `keyRef`, `keyless`, `notation` or `awsSigner` for authority `{}`",
            if a.aws_signer.is_some() {
                "awsSigner"
            } else if a.notation.is_some() {
                "notation"
            } else if a.keyless.is_some() {
                "keyless"
            } else {
                "key"
            },
            a.name
        ));
    }
    if let Some(name) = &a.trust_root {
        if a.notation.is_some() || a.aws_signer.is_some() {
            return Err(format!(
                "trustRoot: authority `{}` is a Notary Project signer, judged by its trust store, \
                 not by a Sigstore trusted root; remove `trustRoot`",
                a.name
            ));
        }
        check_trust_root_name(name).map_err(|e| format!("trustRoot: {e}"))?;
    }
    if let Some(draft) = notation::draft_of(&mut a)? {
        return Ok(DraftAuthority {
            name: a.name,
            identity: DraftIdentity::Notation(draft),
            tlog: TlogRequirement::Optional,
            trust_root: None,
        });
    }
    let identity = if let Some(uri) = a.key.as_deref().filter(|k| kms::is_kms_uri(k)) {
        DraftIdentity::Kms(KmsKeyRef::parse(uri).map_err(|e| format!("key: {e}"))?)
    } else if let Some(pem) = &a.key {
        DraftIdentity::Ready(Identity::Key(
            PublicKey::from_pem(pem).map_err(|e| format!("key: {e}"))?,
        ))
    } else if let Some(path) = a.key_ref {
        DraftIdentity::KeyRef(path)
    } else if let Some(k) = a.keyless {
        let issuer = matcher("keyless.issuer", k.issuer, k.issuer_reg_exp)?;
        let subject = matcher("keyless.subject", k.subject, k.subject_reg_exp)?;
        let claims = claims(k.claims.unwrap_or_default())?;
        DraftIdentity::Ready(Identity::Keyless {
            issuer,
            subject,
            claims,
        })
    } else {
        return Err("key: give one of `key`, `keyRef` or `keyless`".into());
    };
    let tlog = match a.transparency_log {
        None | Some(TransparencyLog::Required) => TlogRequirement::Required,
        // For keyless this accepts signatures whose time a verified RFC 3161 timestamp proves
        // instead (GitHub's Sigstore instance has no log); the verifier still demands one.
        Some(TransparencyLog::Optional) => TlogRequirement::Optional,
    };
    Ok(DraftAuthority {
        name: a.name,
        identity,
        tlog,
        trust_root: a.trust_root,
    })
}

/// A trust root's name as policies and the service configuration write it: lower-case
/// letters, digits and `-`, at most 63 characters (so it can never be a path or a URL).
pub fn check_trust_root_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{name}` is not a trust root name: use lower-case letters, digits and `-` (at most 63), e.g. `github`"
        ))
    }
}

/// `(claim, exact, regex)` for each field of a [`ClaimsFile`].
macro_rules! claim_fields {
    ($c:ident; $($claim:ident => $exact:ident, $re:ident;)*) => {
        [$((FulcioClaim::$claim, $c.$exact, $c.$re)),*]
    };
}

/// `keyless.claims`, in OID order: each claim given (exact or regex) becomes a requirement.
fn claims(c: ClaimsFile) -> Result<Vec<(FulcioClaim, Matcher)>, String> {
    let given = claim_fields! { c;
        BuildSignerUri => build_signer_uri, build_signer_uri_reg_exp;
        BuildSignerDigest => build_signer_digest, build_signer_digest_reg_exp;
        RunnerEnvironment => runner_environment, runner_environment_reg_exp;
        SourceRepositoryUri => source_repository_uri, source_repository_uri_reg_exp;
        SourceRepositoryDigest => source_repository_digest, source_repository_digest_reg_exp;
        SourceRepositoryRef => source_repository_ref, source_repository_ref_reg_exp;
        SourceRepositoryIdentifier => source_repository_identifier, source_repository_identifier_reg_exp;
        SourceRepositoryOwnerUri => source_repository_owner_uri, source_repository_owner_uri_reg_exp;
        SourceRepositoryOwnerIdentifier => source_repository_owner_identifier, source_repository_owner_identifier_reg_exp;
        BuildConfigUri => build_config_uri, build_config_uri_reg_exp;
        BuildConfigDigest => build_config_digest, build_config_digest_reg_exp;
        BuildTrigger => build_trigger, build_trigger_reg_exp;
        RunInvocationUri => run_invocation_uri, run_invocation_uri_reg_exp;
        SourceRepositoryVisibilityAtSigning => source_repository_visibility_at_signing, source_repository_visibility_at_signing_reg_exp;
    };
    given
        .into_iter()
        .filter(|(_, exact, pattern)| exact.is_some() || pattern.is_some())
        .map(|(claim, exact, pattern)| {
            let field = format!("keyless.claims.{claim}");
            matcher(&field, exact, pattern).map(|m| (claim, m))
        })
        .collect()
}

fn matcher(field: &str, exact: Option<String>, pattern: Option<String>) -> Result<Matcher, String> {
    match (exact, pattern) {
        (Some(e), None) if !e.is_empty() => Ok(Matcher::Exact(e)),
        (None, Some(p)) => regex::RegexBuilder::new(&p)
            .size_limit(MAX_REGEX_BYTES)
            .build()
            .map(Matcher::Regex)
            .map_err(|e| format!("{field}RegExp: {e}")),
        (Some(_), Some(_)) => Err(format!("{field}: give `{field}` or `{field}RegExp`, not both")),
        _ => Err(format!(
            "{field}: required (exact `{field}` or `{field}RegExp`); an authority that accepts any identity trusts everyone"
        )),
    }
}

#[cfg(test)]
mod tests;
