//! The rules the Notary Project signature specification states once for both formats: the
//! signing scheme and its times, `crit`, the content type, the certificate chain. Each format
//! ([`super::jws`], [`super::cose`]) reads its encoding into [`Parts`]; [`finish`] judges them,
//! so the two formats cannot drift apart.

use std::collections::BTreeSet;
use std::fmt;

use super::*;

/// The two encodings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) enum Format {
    #[default]
    Jws,
    Cose,
}

impl Format {
    pub(super) fn name(self) -> &'static str {
        match self {
            Format::Jws => "JWS",
            Format::Cose => "COSE",
        }
    }

    pub(super) fn chain_header(self) -> &'static str {
        match self {
            Format::Jws => "x5c",
            Format::Cose => "x5chain (label 33)",
        }
    }
}

/// A protected-header label: COSE has integer and text labels, JWS only names.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Label {
    Int(i128),
    Text(String),
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Label::Int(n) => write!(f, "{n}"),
            Label::Text(t) => f.write_str(t),
        }
    }
}

/// What a format's parser read, before the shared rules ([`finish`]) judge it.
#[derive(Debug, Default)]
pub(super) struct Parts {
    pub format: Format,
    pub payload: Vec<u8>,
    pub signed_bytes: Vec<u8>,
    pub signature: Vec<u8>,
    pub alg: Option<SignatureAlgorithm>,
    pub content_type: Option<String>,
    pub crit: Option<Vec<Label>>,
    /// Every label of the protected header (a set: lookups stay cheap however many).
    pub labels: BTreeSet<Label>,
    pub signing_scheme: Option<String>,
    pub signing_time: Option<i64>,
    pub authentic_signing_time: Option<i64>,
    pub expiry: Option<i64>,
    pub verification_plugin: Option<String>,
    pub verification_plugin_min_version: Option<String>,
    /// Protected labels other than the ones above (and `alg`, `crit`, content type).
    pub extended: Vec<(Label, serde_json::Value)>,
    pub cert_chain: Vec<Vec<u8>>,
    pub signing_agent: Option<String>,
    pub timestamp_token: Option<Vec<u8>>,
}

/// "the JWS envelope" + `m`, as a rejection.
fn rejection(f: &str, m: String) -> Rejection {
    Rejection::new(format!("the {f} envelope{m}"))
}

/// The specification's rules common to both formats, applied to what a format read.
pub(super) fn finish(p: Parts) -> Result<Envelope, Rejection> {
    let f = p.format.name();
    let (alg, scheme) = header_basics(&p)?;
    let crit = check_crit(&p)?;
    let signed_at = signing_time(&p, scheme)?;
    // Notation refuses such an envelope as invalid; so do we.
    if let Some(expiry) = p.expiry {
        if expiry <= signed_at {
            return Err(rejection(
                f,
                format!(
                    " expires ({}) no later than it was signed ({})",
                    show_time(expiry),
                    show_time(signed_at)
                ),
            ));
        }
    }
    check_chain(&p.cert_chain, p.format)?;
    if let Some(token) = &p.timestamp_token {
        if token.is_empty() {
            return Err(rejection(f, format!("'s `{TIMESTAMP_SIGNATURE}` is empty")));
        }
        if token.len() > MAX_TIMESTAMP_LEN {
            return Err(rejection(
                f,
                format!(
                    "'s `{TIMESTAMP_SIGNATURE}` is larger than {} KiB",
                    MAX_TIMESTAMP_LEN / 1024
                ),
            ));
        }
    }
    let extended = extended_attributes(f, p.extended, &crit)?;
    Ok(Envelope {
        payload: p.payload,
        signed_bytes: p.signed_bytes,
        signature: p.signature,
        alg,
        cert_chain: p.cert_chain,
        signing_scheme: scheme,
        signing_time: p.signing_time,
        authentic_signing_time: p.authentic_signing_time,
        expiry: p.expiry,
        verification_plugin: p.verification_plugin,
        verification_plugin_min_version: p.verification_plugin_min_version,
        extended,
        signing_agent: p.signing_agent,
        timestamp_token: p.timestamp_token,
    })
}

/// Non-empty payload and signature, the algorithm, the content type and the signing scheme.
fn header_basics(p: &Parts) -> Result<(SignatureAlgorithm, SigningScheme), Rejection> {
    let f = p.format.name();
    let reject = |m: String| Err(rejection(f, m));
    if p.payload.is_empty() {
        return reject("'s payload is empty".into());
    }
    if p.signature.is_empty() {
        return reject("'s signature is empty".into());
    }
    let Some(alg) = p.alg else {
        return reject("'s protected header does not carry the signature algorithm (`alg`)".into());
    };
    match p.content_type.as_deref() {
        Some(PAYLOAD_MEDIA_TYPE) => {}
        Some(other) => {
            return reject(format!(
                "'s payload content type is `{other}`, not `{PAYLOAD_MEDIA_TYPE}`"
            ))
        }
        None => return reject("'s protected header does not carry the content type".into()),
    }
    let scheme = match p.signing_scheme.as_deref() {
        Some("notary.x509") => SigningScheme::X509,
        Some("notary.x509.signingAuthority") => SigningScheme::X509SigningAuthority,
        Some(other) => {
            return reject(format!(
                " uses signing scheme `{other}`; notary.x509 and \
                 notary.x509.signingAuthority are supported"
            ))
        }
        None => {
            return reject(format!(
                "'s protected header does not carry `{SIGNING_SCHEME}`"
            ))
        }
    };
    Ok((alg, scheme))
}

/// `crit`: every name in it must be present, and every critical header must be in it.
fn check_crit(p: &Parts) -> Result<BTreeSet<Label>, Rejection> {
    let f = p.format.name();
    let reject = |m: String| Err(rejection(f, m));
    let Some(crit) = &p.crit else {
        return reject("'s protected header has no `crit` (the specification requires it)".into());
    };
    if crit.is_empty() {
        return reject("'s protected header has an empty `crit`".into());
    }
    let crit: BTreeSet<Label> = crit.iter().cloned().collect();
    if let Some(absent) = crit.iter().find(|c| !p.labels.contains(*c)) {
        return reject(format!(
            "'s protected header lists `{absent}` in `crit` but does not carry it"
        ));
    }
    let present = [
        (SIGNING_SCHEME, true),
        (AUTHENTIC_SIGNING_TIME, p.authentic_signing_time.is_some()),
        (EXPIRY, p.expiry.is_some()),
        (VERIFICATION_PLUGIN, p.verification_plugin.is_some()),
        (
            VERIFICATION_PLUGIN_MIN_VERSION,
            p.verification_plugin_min_version.is_some(),
        ),
    ];
    for (name, _) in present.iter().filter(|(_, here)| *here) {
        if !crit.contains(&Label::Text((*name).to_string())) {
            return reject(format!(
                "'s protected header carries `{name}` but does not list it in `crit` \
                 (the specification makes it critical)"
            ));
        }
    }
    Ok(crit)
}

/// The signing time the scheme requires (and only the one it allows).
fn signing_time(p: &Parts, scheme: SigningScheme) -> Result<i64, Rejection> {
    let f = p.format.name();
    match scheme {
        SigningScheme::X509 => {
            if p.authentic_signing_time.is_some() {
                return Err(rejection(
                    f,
                    format!(
                        " carries `{AUTHENTIC_SIGNING_TIME}`, which only the \
                         notary.x509.signingAuthority scheme allows"
                    ),
                ));
            }
            p.signing_time.ok_or_else(|| {
                rejection(
                    f,
                    format!(" uses signing scheme notary.x509 but does not carry `{SIGNING_TIME}`"),
                )
            })
        }
        SigningScheme::X509SigningAuthority => {
            if p.signing_time.is_some() {
                return Err(rejection(
                    f,
                    format!(
                        " carries `{SIGNING_TIME}`, which the notary.x509.signingAuthority \
                         scheme does not allow (it uses `{AUTHENTIC_SIGNING_TIME}`)"
                    ),
                ));
            }
            p.authentic_signing_time.ok_or_else(|| {
                rejection(
                    f,
                    format!(
                        " uses signing scheme notary.x509.signingAuthority but does not carry \
                         `{AUTHENTIC_SIGNING_TIME}`"
                    ),
                )
            })
        }
    }
}

/// The protected headers that are not Notary's own, each marked critical or not. An unknown
/// `io.cncf.notary.*` header that is critical cannot be honoured; a non-critical one is
/// informational by definition and dropped.
fn extended_attributes(
    f: &str,
    labels: Vec<(Label, serde_json::Value)>,
    crit: &BTreeSet<Label>,
) -> Result<Vec<ExtendedAttribute>, Rejection> {
    let mut extended = Vec::with_capacity(labels.len());
    let mut keys = BTreeSet::new();
    for (label, value) in labels {
        let critical = crit.contains(&label);
        let key = label.to_string();
        if key.starts_with(NOTARY_PREFIX) {
            if critical {
                return Err(rejection(
                    f,
                    format!(
                        "'s protected header lists `{key}` in `crit`, a Notary Project header \
                         this verifier does not know"
                    ),
                ));
            }
            continue;
        }
        if !keys.insert(key.clone()) {
            return Err(rejection(
                f,
                format!(
                    "'s protected header carries the label `{key}` both as an integer and as text"
                ),
            ));
        }
        extended.push(ExtendedAttribute {
            key,
            critical,
            value,
        });
    }
    Ok(extended)
}

/// The chain's shape: one to [`MAX_CHAIN`] certificates, none empty or over [`MAX_CERT_LEN`].
/// The format parsers call it early too, before decoding every certificate.
pub(super) fn check_chain_len(n: usize, format: Format) -> Result<(), Rejection> {
    let (f, h) = (format.name(), format.chain_header());
    if n == 0 {
        return Err(Rejection::new(format!(
            "the {f} envelope carries no certificate chain (`{h}`); the signing certificate \
             is required"
        )));
    }
    if n > MAX_CHAIN {
        return Err(Rejection::new(format!(
            "the {f} envelope's `{h}` has {n} certificates; at most {MAX_CHAIN} are accepted"
        )));
    }
    Ok(())
}

fn check_chain(chain: &[Vec<u8>], format: Format) -> Result<(), Rejection> {
    check_chain_len(chain.len(), format)?;
    let (f, h) = (format.name(), format.chain_header());
    for (i, cert) in chain.iter().enumerate() {
        if cert.is_empty() || cert.len() > MAX_CERT_LEN {
            return Err(Rejection::new(format!(
                "the {f} envelope's `{h}` certificate {} is {} bytes; a certificate of 1 byte \
                 to {} KiB is expected",
                i + 1,
                cert.len(),
                MAX_CERT_LEN / 1024
            )));
        }
    }
    Ok(())
}

/// RFC 3339 for a reason, or the raw number when out of range.
pub(super) fn show_time(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| {
            d.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| t.to_string())
}
