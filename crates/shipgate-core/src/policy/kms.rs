//! AWS KMS key references in policies (`key: awskms:///alias/release`, the URI forms cosign
//! writes) and the judgement of what KMS answers for one.
//!
//! Pure: the service fetches each key with `kms:GetPublicKey` when policies load and hands the
//! answer to [`key_from_kms`]; the loaded policy then holds the key itself, so verification
//! never calls KMS.

use crate::verify::PublicKey;

/// The scheme of a KMS key reference.
pub const SCHEME: &str = "awskms://";
/// The longest reference accepted (an ARN is at most 2048 characters).
const MAX_URI_LEN: usize = 2048;
/// The AWS partitions cosign's URI grammar knows.
const PARTITIONS: &[&str] = &["aws", "aws-us-gov", "aws-cn"];

/// A KMS key a policy names: `awskms:///alias/NAME`, `awskms:///KEY-ID`,
/// `awskms:///arn:PARTITION:kms:REGION:ACCOUNT:key/KEY-ID` or `…:alias/NAME`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KmsKeyRef {
    /// The URI as the policy wrote it (trimmed); the key's name in errors and decisions.
    pub uri: String,
    /// What `GetPublicKey` is given as `KeyId`: an alias name, a key id or an ARN.
    pub key_id: String,
    /// The region of an ARN; `None` for an alias or key id (the SDK's default region then).
    pub region: Option<String>,
}

/// Whether a `key:` value is a KMS key reference rather than a PEM key.
pub fn is_kms_uri(text: &str) -> bool {
    text.trim_start().starts_with(SCHEME)
}

impl KmsKeyRef {
    /// Parses a reference; the error says what is wrong and which forms are accepted.
    pub fn parse(text: &str) -> Result<KmsKeyRef, String> {
        let uri = text.trim();
        if uri.len() > MAX_URI_LEN {
            return Err(format!(
                "the AWS KMS key reference is longer than {MAX_URI_LEN} characters"
            ));
        }
        let rest = uri
            .strip_prefix(SCHEME)
            .ok_or_else(|| format!("`{uri}` does not start with `{SCHEME}`"))?;
        let Some((host, key_id)) = rest.split_once('/') else {
            return Err(bad_form(uri));
        };
        if !host.is_empty() {
            // cosign lets the URI carry an endpoint; a policy must not choose where the gate
            // connects (with its credentials), so that is the operator's setting alone.
            return Err(format!(
                "`{uri}` names an endpoint (`{host}`); a policy cannot choose where the gate connects: write `awskms:///{key_id}` and set AWS_ENDPOINT_URL_KMS (or AWS_ENDPOINT_URL) in the gate's environment if it must use another endpoint"
            ));
        }
        let region = if let Some(arn) = key_id.strip_prefix("arn:") {
            Some(arn_region(uri, arn)?)
        } else if let Some(name) = key_id.strip_prefix("alias/") {
            check_alias(uri, name)?;
            None
        } else if is_key_id(key_id) {
            None
        } else {
            return Err(bad_form(uri));
        };
        Ok(KmsKeyRef {
            uri: uri.to_string(),
            key_id: key_id.to_string(),
            region,
        })
    }
}

fn bad_form(uri: &str) -> String {
    format!(
        "`{uri}` is not an AWS KMS key reference; write `awskms:///alias/NAME`, `awskms:///KEY-ID` or `awskms:///arn:aws:kms:REGION:ACCOUNT:key/KEY-ID` (or `…:alias/NAME`)"
    )
}

/// The region of `arn:PARTITION:kms:REGION:ACCOUNT:key/ID` or `…:alias/NAME` (`arn` without
/// its `arn:` prefix).
fn arn_region(uri: &str, arn: &str) -> Result<String, String> {
    let parts: Vec<&str> = arn.splitn(5, ':').collect();
    let [partition, service, region, account, resource] = parts.as_slice() else {
        return Err(bad_form(uri));
    };
    if !PARTITIONS.contains(partition) {
        return Err(format!(
            "`{uri}`: partition `{partition}` is not one of {}",
            PARTITIONS.join(", ")
        ));
    }
    if *service != "kms" {
        return Err(format!("`{uri}` is not a KMS ARN (service `{service}`)"));
    }
    let region_ok = !region.is_empty()
        && region.len() <= 32
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !region_ok {
        return Err(format!("`{uri}`: `{region}` is not an AWS region"));
    }
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "`{uri}`: `{account}` is not an AWS account id (12 digits)"
        ));
    }
    if let Some(name) = resource.strip_prefix("alias/") {
        check_alias(uri, name)?;
    } else if !resource.strip_prefix("key/").is_some_and(is_key_id) {
        return Err(format!(
            "`{uri}`: the ARN must end in `key/KEY-ID` or `alias/NAME`"
        ));
    }
    Ok(region.to_string())
}

/// An alias name (after `alias/`): KMS allows letters, digits, `/`, `_` and `-`.
fn check_alias(uri: &str, name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 250
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{uri}`: the alias name must be 1-250 characters of [A-Za-z0-9/_-]"
        ))
    }
}

/// A KMS key id: a UUID, or `mrk-` and 32 hex digits (a multi-Region key).
fn is_key_id(id: &str) -> bool {
    let hex = |s: &str| s.bytes().all(|b| b.is_ascii_hexdigit());
    if let Some(mrk) = id.strip_prefix("mrk-") {
        return mrk.len() == 32 && hex(mrk);
    }
    let groups: Vec<&str> = id.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && hex(g))
}

/// The key KMS returned (`GetPublicKey`: `KeySpec`, `KeyUsage`, DER SubjectPublicKeyInfo),
/// if shipgate can verify its signatures: a `SIGN_VERIFY` key of a spec shipgate verifies,
/// whose DER key is of that spec.
pub fn key_from_kms(key_spec: &str, key_usage: &str, der: &[u8]) -> Result<PublicKey, String> {
    if key_usage != "SIGN_VERIFY" {
        return Err(format!(
            "the key's usage is {key_usage} (key spec {key_spec}); only an asymmetric SIGN_VERIFY key signs images: name a signing key"
        ));
    }
    let expected = match key_spec {
        "ECC_NIST_P256" => "ECDSA P-256",
        "ECC_NIST_P384" => "ECDSA P-384",
        "ECC_NIST_P521" => "ECDSA P-521",
        "RSA_2048" | "RSA_3072" | "RSA_4096" => "RSA",
        other => {
            return Err(format!(
                "key spec {other} cannot be verified by shipgate (ECC_NIST_P256, ECC_NIST_P384, ECC_NIST_P521 and RSA_2048/3072/4096 can): sign with a key of one of those specs"
            ))
        }
    };
    let key = PublicKey::from_spki_der(der)
        .map_err(|e| format!("KMS returned a public key that does not parse: {e}"))?;
    if key.algorithm() != expected {
        return Err(format!(
            "KMS says the key spec is {key_spec}, but the public key it returned is {}; refusing a key whose kind is in doubt",
            key.algorithm()
        ));
    }
    Ok(key)
}

#[cfg(test)]
#[path = "kms_tests.rs"]
mod tests;
