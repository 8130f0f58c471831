//! The Sigstore `trusted_root.json`: Fulcio CAs, Rekor logs, CT logs, timestamp authorities.

use base64::Engine as _;
use serde::Deserialize;

use super::keys::PublicKey;
use super::x509::{Cert, MAX_CHAIN};
use super::VerifyError;

/// The public-good root, embedded at build time (see `data/README.md`).
const PUBLIC_GOOD: &[u8] = include_bytes!("../../data/trusted_root.json");
/// GitHub's own Sigstore instance (Fulcio and TSA at `*.githubapp.com`, no transparency log):
/// what signs artifact attestations of private repositories. See `data/README.md`.
const GITHUB: &[u8] = include_bytes!("../../data/github_trusted_root.json");

/// Largest trusted root we read.
const MAX_ROOT_LEN: usize = 4 * 1024 * 1024;

/// A closed interval of time, as `validFor` gives it: start required, end inclusive and optional.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Validity {
    start_ns: i128,
    end_ns: Option<i128>,
}

impl Validity {
    /// Whether Unix second `t` lies inside the window.
    pub fn contains_secs(&self, t: i64) -> bool {
        self.contains_ns(i128::from(t) * 1_000_000_000)
    }
    /// Whether Unix millisecond `t` lies inside the window.
    pub fn contains_millis(&self, t: u64) -> bool {
        self.contains_ns(i128::from(t) * 1_000_000)
    }
    /// Whether Unix nanosecond `t` lies inside the window.
    pub fn contains_ns(&self, t: i128) -> bool {
        self.start_ns <= t && self.end_ns.is_none_or(|end| t <= end)
    }
}

/// A transparency log (Rekor) or certificate-transparency log key.
#[derive(Debug)]
pub(crate) struct LogKey {
    pub base_url: String,
    /// The log id the trust root gives (`logId.keyId`).
    pub log_id: Vec<u8>,
    /// `None` when the key's algorithm is not supported: entries of that log then fail.
    pub key: Option<PublicKey>,
    pub valid_for: Validity,
}

/// A Fulcio certificate authority: its chain, issuing certificate first.
#[derive(Debug)]
pub(crate) struct CertificateAuthority {
    pub uri: String,
    pub chain: Vec<Cert>,
    pub valid_for: Validity,
    /// Whether each certificate of `chain` is signed by the next (checked once, at load).
    pub chain_signatures_ok: bool,
}

/// An RFC 3161 timestamp authority: its chain (signing certificate first) and validity.
#[derive(Debug)]
pub(crate) struct TimestampAuthority {
    pub uri: String,
    pub chain: Vec<Cert>,
    pub valid_for: Validity,
    /// Whether each certificate of `chain` is signed by the next (checked once, at load).
    pub chain_signatures_ok: bool,
}

/// A Sigstore trusted root (`trusted_root.json`): Fulcio CAs, Rekor and CT log keys, TSAs.
#[derive(Debug)]
pub struct TrustRoot {
    pub(crate) tlogs: Vec<LogKey>,
    pub(crate) ctlogs: Vec<LogKey>,
    pub(crate) cas: Vec<CertificateAuthority>,
    pub(crate) tsas: Vec<TimestampAuthority>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawRoot {
    media_type: Option<String>,
    #[serde(default)]
    tlogs: Vec<RawLog>,
    #[serde(default)]
    certificate_authorities: Vec<RawCa>,
    #[serde(default)]
    ctlogs: Vec<RawLog>,
    #[serde(default)]
    timestamp_authorities: Vec<RawCa>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawLog {
    #[serde(default)]
    base_url: String,
    public_key: RawKey,
    log_id: RawLogId,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawKey {
    raw_bytes: Option<String>,
    valid_for: Option<RawRange>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawLogId {
    key_id: String,
}

#[derive(Deserialize)]
struct RawRange {
    start: Option<String>,
    end: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawCa {
    #[serde(default)]
    uri: String,
    cert_chain: RawChain,
    valid_for: Option<RawRange>,
}

#[derive(Deserialize)]
struct RawChain {
    certificates: Vec<RawBytes>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawBytes {
    raw_bytes: String,
}

fn b64(s: &str, what: &str) -> Result<Vec<u8>, VerifyError> {
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(|e| VerifyError::TrustRoot(format!("{what} is not valid base64: {e}")))
}

fn validity(range: Option<&RawRange>, what: &str) -> Result<Validity, VerifyError> {
    let parse = |s: &str| {
        time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
            .map(|t| t.unix_timestamp_nanos())
            .map_err(|e| VerifyError::TrustRoot(format!("{what}: validFor time `{s}`: {e}")))
    };
    // `validFor` is optional in the trusted-root protobuf; without one the key or CA is trusted
    // at any time (what sigstore-go and sigstore-python do). Every other check still applies.
    let Some(range) = range else {
        return Ok(Validity {
            start_ns: i128::MIN,
            end_ns: None,
        });
    };
    let start = range
        .start
        .as_deref()
        .ok_or_else(|| VerifyError::TrustRoot(format!("{what}: validFor has no start")))?;
    let start_ns = parse(start)?;
    let end_ns = range.end.as_deref().map(parse).transpose()?;
    if end_ns.is_some_and(|end| end < start_ns) {
        return Err(VerifyError::TrustRoot(format!(
            "{what}: validFor ends before it starts"
        )));
    }
    Ok(Validity { start_ns, end_ns })
}

fn log_key(raw: &RawLog, what: &str) -> Result<LogKey, VerifyError> {
    let what = format!("{what} {}", raw.base_url);
    let log_id = b64(&raw.log_id.key_id, &format!("{what} logId"))?;
    let der = raw
        .public_key
        .raw_bytes
        .as_deref()
        .ok_or_else(|| VerifyError::TrustRoot(format!("{what} has no public key bytes")))?;
    let der = b64(der, &format!("{what} public key"))?;
    let valid_for = validity(raw.public_key.valid_for.as_ref(), &what)?;
    Ok(LogKey {
        base_url: raw.base_url.clone(),
        log_id,
        // An unsupported key algorithm disables that log rather than the whole root.
        key: PublicKey::from_spki_der(&der).ok(),
        valid_for,
    })
}

/// The certificates of a CA or TSA chain, and whether each is signed by the next.
fn chain(ca: &RawCa, what: &str) -> Result<(Vec<Cert>, bool), VerifyError> {
    if ca.cert_chain.certificates.len() > MAX_CHAIN {
        return Err(VerifyError::TrustRoot(format!(
            "{what} has more than {MAX_CHAIN} certificates"
        )));
    }
    let mut chain = Vec::with_capacity(ca.cert_chain.certificates.len());
    for c in &ca.cert_chain.certificates {
        let der = b64(&c.raw_bytes, what)?;
        let cert =
            Cert::from_der(&der).map_err(|e| VerifyError::TrustRoot(format!("{what}: {e}")))?;
        chain.push(cert);
    }
    if chain.is_empty() {
        return Err(VerifyError::TrustRoot(format!(
            "{what} has no certificates"
        )));
    }
    let ok = chain
        .windows(2)
        .all(|w| matches!(w, [child, parent] if child.is_signed_by(parent)));
    Ok((chain, ok))
}

impl TrustRoot {
    /// The Sigstore public-good production root, embedded in the binary.
    pub fn public_good() -> Result<TrustRoot, VerifyError> {
        TrustRoot::from_json(PUBLIC_GOOD)
    }

    /// GitHub's Sigstore instance, embedded in the binary (the root `trustRoot: github` names
    /// unless the service configures a newer copy).
    pub fn github() -> Result<TrustRoot, VerifyError> {
        TrustRoot::from_json(GITHUB)
    }

    /// A private root in the `trusted_root.json` format.
    pub fn from_json(bytes: &[u8]) -> Result<TrustRoot, VerifyError> {
        if bytes.len() > MAX_ROOT_LEN {
            return Err(VerifyError::TrustRoot("larger than 4 MiB".into()));
        }
        let raw: RawRoot = serde_json::from_slice(bytes)
            .map_err(|e| VerifyError::TrustRoot(format!("not a trusted_root.json: {e}")))?;
        if let Some(mt) = &raw.media_type {
            if !mt.starts_with("application/vnd.dev.sigstore.trustedroot") {
                return Err(VerifyError::TrustRoot(format!(
                    "unexpected mediaType `{mt}`"
                )));
            }
        }
        let tlogs = raw
            .tlogs
            .iter()
            .map(|l| log_key(l, "tlog"))
            .collect::<Result<Vec<_>, _>>()?;
        let ctlogs = raw
            .ctlogs
            .iter()
            .map(|l| log_key(l, "ctlog"))
            .collect::<Result<Vec<_>, _>>()?;
        let mut cas = Vec::with_capacity(raw.certificate_authorities.len());
        for ca in &raw.certificate_authorities {
            let what = format!("certificate authority {}", ca.uri);
            let (chain, chain_signatures_ok) = chain(ca, &what)?;
            cas.push(CertificateAuthority {
                uri: ca.uri.clone(),
                valid_for: validity(ca.valid_for.as_ref(), &what)?,
                chain,
                chain_signatures_ok,
            });
        }
        let mut tsas = Vec::with_capacity(raw.timestamp_authorities.len());
        for tsa in &raw.timestamp_authorities {
            let what = format!("timestamp authority {}", tsa.uri);
            let (chain, chain_signatures_ok) = chain(tsa, &what)?;
            tsas.push(TimestampAuthority {
                uri: tsa.uri.clone(),
                valid_for: validity(tsa.valid_for.as_ref(), &what)?,
                chain,
                chain_signatures_ok,
            });
        }
        Ok(TrustRoot {
            tlogs,
            ctlogs,
            cas,
            tsas,
        })
    }

    /// Whether the root names any transparency log. A root without one (GitHub's own Sigstore
    /// instance) can only prove signing times by RFC 3161 timestamps.
    pub fn has_transparency_logs(&self) -> bool {
        !self.tlogs.is_empty()
    }

    /// Whether `der` is, byte for byte, a certificate of one of the root's Fulcio CA chains.
    pub(crate) fn is_ca_certificate(&self, der: &[u8]) -> bool {
        self.cas
            .iter()
            .any(|ca| ca.chain.iter().any(|c| c.der == der))
    }

    /// The Rekor log with this id.
    pub(crate) fn tlog(&self, log_id: &[u8]) -> Option<&LogKey> {
        self.tlogs.iter().find(|l| l.log_id == log_id)
    }

    /// The CT log with this id.
    pub(crate) fn ctlog(&self, log_id: &[u8]) -> Option<&LogKey> {
        self.ctlogs.iter().find(|l| l.log_id == log_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vectors(path: &str) -> Vec<u8> {
        std::fs::read(format!(
            "{}/../../tests/data/vectors/{path}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    #[test]
    fn public_good_parses() {
        let root = TrustRoot::public_good().unwrap();
        assert!(root.tlogs.len() >= 2);
        assert!(root.ctlogs.len() >= 2);
        assert!(root.cas.len() >= 2);
        assert!(root.cas.iter().all(|c| c.chain_signatures_ok));
        let rekor = hex::decode("c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d")
            .unwrap();
        let log = root.tlog(&rekor).unwrap();
        assert!(log.key.is_some());
        assert!(log.valid_for.contains_secs(1_717_082_297));
        assert!(!log.valid_for.contains_secs(1_600_000_000));
    }

    #[test]
    fn other_roots_parse() {
        for p in [
            "public-good-trust/github-instance-trusted_root.from-sigstore-java.json",
            "sigstore-conformance/assets/bundle-verify/intoto-with-custom-trust-root/trusted_root.json",
        ] {
            TrustRoot::from_json(&vectors(p)).unwrap_or_else(|e| panic!("{p}: {e}"));
        }
    }

    #[test]
    fn missing_validity_start_is_rejected() {
        let bytes = vectors(
            "sigstore-conformance/assets/bundle-verify/trust-root-tlog-missing-validity-start_fail/trusted_root.json",
        );
        let err = TrustRoot::from_json(&bytes).unwrap_err().to_string();
        assert!(err.contains("no start"), "{err}");
        assert!(TrustRoot::from_json(b"{").is_err());
    }

    #[test]
    fn end_is_inclusive() {
        let v = validity(
            Some(&RawRange {
                start: Some("2021-01-01T00:00:00Z".into()),
                end: Some("2022-12-31T23:59:59.999Z".into()),
            }),
            "t",
        )
        .unwrap();
        assert!(v.contains_secs(1_672_531_199)); // 2022-12-31T23:59:59Z
        assert!(!v.contains_secs(1_672_531_200));
        assert!(v.contains_secs(1_609_459_200));
        assert!(!v.contains_secs(1_609_459_199));
    }

    #[test]
    fn absent_validity_is_unbounded() {
        let v = validity(None, "t").unwrap();
        assert!(v.contains_secs(i64::MIN));
        assert!(v.contains_secs(0));
        assert!(v.contains_secs(i64::MAX));
        // A root whose keys and CAs carry no validFor parses, and trusts them at any time.
        let mut j: serde_json::Value = serde_json::from_slice(PUBLIC_GOOD).unwrap();
        for list in ["tlogs", "ctlogs"] {
            for l in j[list].as_array_mut().unwrap() {
                l["publicKey"].as_object_mut().unwrap().remove("validFor");
            }
        }
        for list in ["certificateAuthorities", "timestampAuthorities"] {
            for ca in j[list].as_array_mut().unwrap() {
                ca.as_object_mut().unwrap().remove("validFor");
            }
        }
        let root = TrustRoot::from_json(&serde_json::to_vec(&j).unwrap()).unwrap();
        assert!(!root.tlogs.is_empty());
        assert!(root
            .tlogs
            .iter()
            .all(|l| l.valid_for.contains_secs(0) && l.valid_for.contains_secs(4_000_000_000)));
        assert!(root.cas.iter().all(|c| c.valid_for.contains_secs(0)));
    }
}
