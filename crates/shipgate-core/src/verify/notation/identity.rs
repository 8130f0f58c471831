//! Trusted identities: `*`, `x509.subject: <DN>` (matched as Notation matches them: every
//! attribute of the identity must be in the signing certificate's subject with the same value)
//! and AWS Signer signing-profile ARNs (matched by [`super::aws_signer`]).

use super::super::x509::Cert;
use super::aws_signer;
use super::TrustedIdentity;

/// A parsed distinguished name: `(TYPE, value)` pairs, types upper-case short names.
pub(super) type Dn = Vec<(String, String)>;

/// Attribute types a DN may name by OID, by Go's short name (the leaf subject is rendered with
/// those names, so identities must use them too).
const OID_NAMES: [(&str, &str); 9] = [
    ("2.5.4.6", "C"),
    ("2.5.4.10", "O"),
    ("2.5.4.11", "OU"),
    ("2.5.4.3", "CN"),
    ("2.5.4.5", "SERIALNUMBER"),
    ("2.5.4.7", "L"),
    ("2.5.4.8", "ST"),
    ("2.5.4.9", "STREET"),
    ("2.5.4.17", "POSTALCODE"),
];

/// Parses one `trustedIdentities` entry of statement `statement` (not `*`, which the caller
/// handles with its own rule).
pub(super) fn parse_identity(statement: &str, raw: &str) -> Result<TrustedIdentity, String> {
    if raw.is_empty() {
        return Err(format!(
            "trust policy statement {statement:?} has an empty trusted identity"
        ));
    }
    let Some((prefix, value)) = raw.split_once(':') else {
        return Err(format!(
            "trust policy statement {statement:?} has trusted identity {raw:?} without a \
             `type:` prefix (x509.subject: … or an AWS Signer signing-profile ARN)"
        ));
    };
    if prefix == "x509.subject" {
        if value.trim().is_empty() {
            return Err(format!(
                "trust policy statement {statement:?} has trusted identity {raw:?} without a \
                 distinguished name"
            ));
        }
        return parse_dn(value).map(TrustedIdentity::X509Subject);
    }
    if aws_signer::is_profile_identity(raw) {
        return Ok(TrustedIdentity::AwsSignerProfile(raw.to_string()));
    }
    Err(format!(
        "trust policy statement {statement:?} has trusted identity {raw:?}: shipgate verifies \
         x509.subject identities and AWS Signer signing-profile ARNs; identities meant for other \
         verification plugins are not supported (shipgate runs no plugins)"
    ))
}

/// Parses an RFC 4514 distinguished name as Notation requires it: single-valued RDNs, no
/// attribute twice, `C`, `ST` (or its alias `S`) and `O` present, no `#hex` values.
pub(super) fn parse_dn(text: &str) -> Result<Dn, String> {
    let bad = |why: &str| format!("distinguished name {:?} is invalid: {why}", text.trim());
    if text.contains("=#") {
        return Err(bad("#hex attribute values are not supported"));
    }
    let mut dn: Dn = Vec::new();
    for rdn in split_unescaped(text, &[',', ';']) {
        if split_unescaped(rdn, &['+']).len() > 1 {
            return Err(bad("multi-valued RDNs are not supported"));
        }
        let Some((ty, value)) = rdn.split_once('=') else {
            return Err(bad("every RDN must be TYPE=value"));
        };
        let ty = normalize_type(ty.trim());
        if ty.is_empty() || !ty.chars().all(|c| c.is_ascii_alphanumeric() || c == '.') {
            return Err(bad("an attribute type is empty or not a name"));
        }
        let value = unescape(value).ok_or_else(|| bad("a value has an invalid escape"))?;
        if dn.iter().any(|(t, _)| *t == ty) {
            return Err(bad(&format!("{ty} appears twice")));
        }
        dn.push((ty, value));
    }
    check_mandatory(&dn).map_err(|m| bad(&m))?;
    Ok(dn)
}

/// `C`, `ST` and `O` must be present (the Notary Project trust policy rules).
fn check_mandatory(dn: &Dn) -> Result<(), String> {
    for need in ["C", "ST", "O"] {
        if !dn.iter().any(|(t, v)| t == need && !v.is_empty()) {
            return Err(format!("it lacks {need}; C, ST (or S) and O are mandatory"));
        }
    }
    Ok(())
}

/// Upper-case; `S` is the state alias some tools write; known OIDs by their short names.
fn normalize_type(ty: &str) -> String {
    let upper = ty.to_ascii_uppercase();
    if upper == "S" {
        return "ST".into();
    }
    OID_NAMES
        .iter()
        .find(|(oid, _)| *oid == upper)
        .map_or(upper, |(_, name)| (*name).to_string())
}

/// Splits on any of `seps` that is not escaped by a backslash.
fn split_unescaped<'a>(s: &'a str, seps: &[char]) -> Vec<&'a str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if seps.contains(&c) {
            parts.push(s.get(start..i).unwrap_or(""));
            start = i + c.len_utf8();
        }
    }
    parts.push(s.get(start..).unwrap_or(""));
    parts
}

/// An RFC 4514 attribute value: `\c` escapes a special character, `\XX` is a byte; spaces
/// around the value are dropped unless escaped.
fn unescape(value: &str) -> Option<String> {
    let mut bytes: Vec<(u8, bool)> = Vec::new();
    let mut it = value.bytes().peekable();
    while let Some(b) = it.next() {
        if b != b'\\' {
            bytes.push((b, false));
            continue;
        }
        let first = it.next()?;
        if first.is_ascii_hexdigit() && it.peek().is_some_and(u8::is_ascii_hexdigit) {
            let second = it.next()?;
            let hex = [first, second];
            let byte = u8::from_str_radix(std::str::from_utf8(&hex).ok()?, 16).ok()?;
            bytes.push((byte, true));
        } else {
            bytes.push((first, true));
        }
    }
    let start = bytes.iter().position(|&(b, esc)| b != b' ' || esc)?;
    let end = bytes.iter().rposition(|&(b, esc)| b != b' ' || esc)?;
    let kept: Vec<u8> = bytes.get(start..=end)?.iter().map(|&(b, _)| b).collect();
    String::from_utf8(kept).ok()
}

/// Whether every attribute of `a` is in `b` with the same value.
pub(super) fn is_subset(a: &Dn, b: &Dn) -> bool {
    a.iter()
        .all(|(t, v)| b.iter().any(|(t2, v2)| t == t2 && v == v2))
}

/// The x509.subject identities of one statement must not overlap: no identity may be a
/// subset of another (one certificate would match both).
pub(super) fn check_overlaps(statement: &str, dns: &[(&str, &Dn)]) -> Result<(), String> {
    for (i, (raw_a, a)) in dns.iter().enumerate() {
        for (j, (raw_b, b)) in dns.iter().enumerate() {
            if i != j && is_subset(a, b) {
                return Err(format!(
                    "trust policy statement {statement:?} has overlapping x509.subject trusted \
                     identities: {raw_a:?} overlaps with {raw_b:?}"
                ));
            }
        }
    }
    Ok(())
}

/// The signing certificate's subject as Notation reads it for matching: each attribute once,
/// C, ST and O present.
fn leaf_dn(leaf: &Cert) -> Result<Dn, String> {
    let attrs = leaf.subject_attributes()?;
    let mut dn: Dn = Vec::new();
    for (t, v) in attrs {
        if dn.iter().any(|(t2, _)| *t2 == t) {
            return Err(format!(
                "the signing certificate subject {} has {t} twice, so no x509.subject identity \
                 can match it",
                leaf.subject()
            ));
        }
        dn.push((t, v));
    }
    check_mandatory(&dn).map_err(|m| {
        format!(
            "the signing certificate subject {} cannot match an x509.subject identity: {m}",
            leaf.subject()
        )
    })?;
    Ok(dn)
}

/// Whether `leaf` is one of the statement's x509 identities (or the statement trusts `*`).
pub(super) fn x509_matches(identities: &[TrustedIdentity], leaf: &Cert) -> Result<(), String> {
    if identities.contains(&TrustedIdentity::Any) {
        return Ok(());
    }
    let wanted: Vec<&Dn> = identities
        .iter()
        .filter_map(|i| match i {
            TrustedIdentity::X509Subject(dn) => Some(dn),
            _ => None,
        })
        .collect();
    if wanted.is_empty() {
        return Err(
            "the trust policy statement names no x509.subject identity (nor `*`) for this \
             certificate-signed signature"
                .into(),
        );
    }
    let have = leaf_dn(leaf)?;
    if wanted.iter().any(|dn| is_subset(dn, &have)) {
        return Ok(());
    }
    Err(format!(
        "the signing certificate subject {} matches none of the trusted x509.subject identities",
        leaf.subject()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dn(pairs: &[(&str, &str)]) -> Dn {
        pairs
            .iter()
            .map(|(t, v)| (t.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn distinguished_names_parse_as_notation_reads_them() {
        assert_eq!(
            parse_dn(" CN=e2e,O=Notary,L=Seattle,ST=WA,C=US").unwrap(),
            dn(&[
                ("CN", "e2e"),
                ("O", "Notary"),
                ("L", "Seattle"),
                ("ST", "WA"),
                ("C", "US")
            ])
        );
        // Spaces around values, the S alias, escapes, OID types.
        assert_eq!(
            parse_dn("C=US, S=WA, O=acme\\, inc., OU=\\ x\\2Cy ,2.5.4.3=b").unwrap(),
            dn(&[
                ("C", "US"),
                ("ST", "WA"),
                ("O", "acme, inc."),
                ("OU", " x,y"),
                ("CN", "b")
            ])
        );
        for (bad, why) in [
            ("CN=e2e,L=Seattle,ST=WA,C=US", "lacks O"),
            ("C=US,ST=WA", "lacks O"),
            ("C=US,ST=WA,O=a,O=b", "twice"),
            ("C=US,ST=WA,O=a+CN=b", "multi-valued"),
            ("C=US,ST=WA,O=#0403616263", "#hex"),
            ("C=US,ST=WA,O", "TYPE=value"),
            ("C=US,ST=WA,O=a\\", "escape"),
            ("C=US,ST=WA,=a", "not a name"),
        ] {
            let e = parse_dn(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn subsets_and_overlaps() {
        let full = parse_dn("CN=e2e,O=Notary,L=Seattle,ST=WA,C=US").unwrap();
        let part = parse_dn("CN=e2e,O=Notary,ST=WA,C=US").unwrap();
        let other = parse_dn("CN=e2e,O=Notary,ST=WA,C=USB").unwrap();
        assert!(is_subset(&part, &full) && !is_subset(&full, &part));
        assert!(!is_subset(&other, &full));
        assert!(check_overlaps("s", &[("a", &full), ("b", &part)])
            .unwrap_err()
            .contains("overlapping"));
        assert!(check_overlaps("s", &[("a", &full), ("b", &other)]).is_ok());
    }

    #[test]
    fn identities_parse() {
        let p = |s: &str| parse_identity("s", s);
        assert!(matches!(
            p("x509.subject: C=US,ST=WA,O=x"),
            Ok(TrustedIdentity::X509Subject(_))
        ));
        assert!(matches!(
            p("arn:aws:signer:us-west-2:000000000000:/signing-profiles/P"),
            Ok(TrustedIdentity::AwsSignerProfile(_))
        ));
        for (bad, why) in [
            ("", "empty"),
            ("shop", "prefix"),
            ("x509.subject:", "without a distinguished name"),
            ("x509.subject: CN=x", "lacks"),
            ("kms.key: abc", "other verification plugins"),
            (
                "arn:aws:signer:us-west-2:000000000000:/signing-jobs/97af3947",
                "other verification plugins",
            ),
        ] {
            let e = p(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }
}
