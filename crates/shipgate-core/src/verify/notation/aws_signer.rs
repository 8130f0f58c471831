//! AWS Signer signatures, verified natively in place of its Notation plugin
//! (aws/aws-signer-notation-plugin, `internal/verifier`): the signing-profile identity rule, the
//! critical attributes the plugin processes, and the `GetRevocationStatus` query.
//!
//! An AWS Signer signature is a `notary.x509.signingAuthority` envelope naming the plugin
//! `com.amazonaws.signer.notation.plugin`, with critical signed attributes
//! `com.amazonaws.signer.signingProfileVersion` (`arn:…:/signing-profiles/NAME/VERSION`) and
//! `com.amazonaws.signer.signingJob`, and optionally `…signingProfileAlias`.

use aws_lc_rs::digest;

use super::super::x509::Cert;
use super::envelope::{Envelope, SigningScheme};
use super::{AwsSignerRevocationQuery, AWS_SIGNER_PLUGIN};

pub(super) const ATTR_PROFILE_VERSION: &str = "com.amazonaws.signer.signingProfileVersion";
pub(super) const ATTR_JOB: &str = "com.amazonaws.signer.signingJob";
pub(super) const ATTR_ALIAS: &str = "com.amazonaws.signer.signingProfileAlias";
/// The critical attributes the plugin (and so shipgate) processes.
pub(super) const PROCESSED: [&str; 3] = [ATTR_PROFILE_VERSION, ATTR_JOB, ATTR_ALIAS];
/// The signing platform of every Notation signature AWS Signer makes.
const PLATFORM_ID: &str = "Notation-OCI-SHA384-ECDSA";

/// The AWS Signer attributes of one envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct SignerAttributes {
    pub profile_version: String,
    pub job: String,
    pub alias: Option<String>,
}

/// The parts of an ARN (`arn:partition:service:region:account:resource`), split as the AWS SDK
/// splits them: six `:`-separated sections, the resource keeping any further `:`.
struct Arn<'a> {
    service: &'a str,
    resource: &'a str,
}

fn parse_arn(s: &str) -> Option<Arn<'_>> {
    let rest = s.strip_prefix("arn:")?;
    let mut parts = rest.splitn(5, ':');
    let (_partition, service, _region, _account, resource) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    Some(Arn { service, resource })
}

/// What kind of AWS Signer identity an ARN is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ProfileArn {
    /// `/signing-profiles/NAME`: any version of the profile.
    Profile,
    /// `/signing-profiles/NAME/VERSION`.
    ProfileVersion,
    /// `/aliased-signing-profiles/…`: equal to the signed `signingProfileVersion`.
    Aliased,
    /// `/aliases/…`: equal to the signed `signingProfileAlias`.
    Alias,
}

fn profile_arn(s: &str) -> Option<ProfileArn> {
    let arn = parse_arn(s).filter(|a| a.service == "signer")?;
    let r = arn.resource;
    if r.starts_with("/aliases/") {
        return Some(ProfileArn::Alias);
    }
    if r.starts_with("/aliased-signing-profiles/") {
        return Some(ProfileArn::Aliased);
    }
    if !r.starts_with("/signing-profiles/") {
        return None;
    }
    match r.split('/').count() {
        3 => Some(ProfileArn::Profile),
        4 => Some(ProfileArn::ProfileVersion),
        _ => None,
    }
}

/// Whether a trusted identity is an AWS Signer signing-profile (or profile-version, or alias)
/// ARN.
pub(super) fn is_profile_identity(s: &str) -> bool {
    profile_arn(s).is_some()
}

/// Whether `envelope` is an AWS Signer signature (it names the AWS Signer plugin).
pub(super) fn is_aws_signer(env: &Envelope) -> bool {
    env.verification_plugin.as_deref() == Some(AWS_SIGNER_PLUGIN)
}

/// The AWS Signer attributes of an envelope naming the plugin.
pub(super) fn attributes(env: &Envelope) -> Result<SignerAttributes, String> {
    let get = |key: &str| {
        env.extended
            .iter()
            .find(|a| a.key == key)
            .map(|a| {
                a.value
                    .as_str()
                    .map(str::to_string)
                    .ok_or_else(|| format!("the AWS Signer attribute {key} is not a string"))
            })
            .transpose()
    };
    let profile_version = get(ATTR_PROFILE_VERSION)?
        .ok_or_else(|| format!("the AWS Signer signature lacks {ATTR_PROFILE_VERSION}"))?;
    let job = get(ATTR_JOB)?.ok_or_else(|| format!("the AWS Signer signature lacks {ATTR_JOB}"))?;
    Ok(SignerAttributes {
        profile_version,
        job,
        alias: get(ATTR_ALIAS)?,
    })
}

/// The plugin's trusted-identity rule: a signing-profile ARN matches when it equals
/// `profile_version` minus its last path segment, a profile-version (or aliased-profile) ARN
/// when it equals `profile_version`, an alias ARN when it equals the signed alias; all
/// case-insensitive. Other entries are ignored; `*` is refused. Returns the matching identity.
pub(crate) fn identity_matches(
    identities: &[&str],
    profile_version: &str,
    alias: Option<&str>,
) -> Result<String, String> {
    if identities.contains(&"*") {
        return Err(
            "AWS Signer signatures need signing-profile ARNs as trusted identities; the \
             wildcard identity `*` is refused (as the AWS Signer plugin refuses it)"
                .into(),
        );
    }
    let profile = profile_version
        .rfind('/')
        .and_then(|i| profile_version.get(..i));
    for id in identities {
        let hit = match profile_arn(id) {
            Some(ProfileArn::Profile) => profile.is_some_and(|p| p.eq_ignore_ascii_case(id)),
            Some(ProfileArn::ProfileVersion | ProfileArn::Aliased) => {
                profile_version.eq_ignore_ascii_case(id)
            }
            Some(ProfileArn::Alias) => alias.is_some_and(|a| a.eq_ignore_ascii_case(id)),
            None => false,
        };
        if hit {
            return Ok((*id).to_string());
        }
    }
    Err(format!(
        "the AWS Signer signing profile {profile_version} matches none of the trusted \
         identities"
    ))
}

/// The signing-profile ARN of a profile-version ARN (its last path segment dropped).
pub(super) fn profile_of(profile_version: &str) -> String {
    profile_version
        .rfind('/')
        .and_then(|i| profile_version.get(..i))
        .unwrap_or(profile_version)
        .to_string()
}

/// The `GetRevocationStatus` input for an AWS Signer envelope, as the plugin builds it.
pub(super) fn revocation_query(env: &Envelope) -> Option<AwsSignerRevocationQuery> {
    if !is_aws_signer(env) || env.signing_scheme != SigningScheme::X509SigningAuthority {
        return None;
    }
    let attrs = attributes(env).ok()?;
    Some(AwsSignerRevocationQuery {
        profile_version_arn: attrs.profile_version,
        job_arn: attrs.job,
        platform_id: PLATFORM_ID.to_string(),
        signature_timestamp: env.authentic_signing_time?,
        certificate_hashes: certificate_hashes(&env.cert_chain)?,
    })
}

/// One hash per certificate of the chain (root included): the hex SHA-384 of its TBS followed
/// by that of its issuer's TBS (the next certificate's; the root's own again for the root).
pub(super) fn certificate_hashes(chain: &[Vec<u8>]) -> Option<Vec<String>> {
    let tbs_hashes: Vec<String> = chain
        .iter()
        .map(|der| {
            let cert = Cert::from_der(der).ok()?;
            Some(hex::encode(digest::digest(&digest::SHA384, cert.tbs_der())))
        })
        .collect::<Option<_>>()?;
    if tbs_hashes.is_empty() {
        return None;
    }
    Some(
        tbs_hashes
            .iter()
            .enumerate()
            .map(|(i, h)| {
                let parent = tbs_hashes.get(i + 1).unwrap_or(h);
                format!("{h}{parent}")
            })
            .collect(),
    )
}
