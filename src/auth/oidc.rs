//! OIDC JWT verification: pick the issuer by the token's (unverified) `iss`, its key by `kid`,
//! the algorithm from the key, then verify signature, `iss`, `aud`, `exp`, `nbf`, `iat` and the
//! configured claim rules.

use std::collections::HashMap;
use std::str::FromStr;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, AlgorithmFamily, Validation};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::claims::{shorten, ClaimRules};
use super::jwks::{KeyCache, KeyError};
use super::{Caller, Refusal};

/// One `auth.oidc` entry: an audience and the claim rules that go with it.
pub struct OidcEntry {
    pub audience: String,
    pub rules: ClaimRules,
}

/// Every entry of one issuer, sharing that issuer's key cache.
pub struct Issuer {
    pub entries: Vec<OidcEntry>,
    pub keys: std::sync::Arc<KeyCache>,
    /// The background refresh of `keys`, stopped when the issuer is dropped.
    pub _refresher: Option<super::jwks::Refresher>,
}

pub struct OidcVerifier {
    /// By issuer URL, exactly as in the tokens' `iss`.
    pub issuers: HashMap<String, Issuer>,
    pub leeway_seconds: u64,
}

/// Only what is needed to choose the key; `jsonwebtoken` parses the header again when verifying.
#[derive(Deserialize)]
struct RawHeader {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    crit: Option<Value>,
}

impl OidcVerifier {
    pub async fn verify(&self, token: &str) -> Result<Caller, Refusal> {
        let unauthenticated = |reason: String, claimed: Option<String>| Refusal::Unauthenticated {
            reason,
            claimed_issuer: claimed,
        };
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(_), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(unauthenticated(
                "the bearer token is not a JWT (header.payload.signature)".into(),
                None,
            ));
        };
        let header: RawHeader = decode_part(header)
            .map_err(|e| unauthenticated(format!("the JWT header is malformed: {e}"), None))?;
        let payload: Map<String, Value> = decode_part(payload)
            .map_err(|e| unauthenticated(format!("the JWT payload is malformed: {e}"), None))?;
        let alg = check_alg(&header.alg).map_err(|e| unauthenticated(e, None))?;
        if header.crit.is_some() {
            return Err(unauthenticated(
                "the JWT header has `crit` extensions, which shipgate does not support".into(),
                None,
            ));
        }
        let Some(iss) = payload.get("iss").and_then(Value::as_str) else {
            return Err(unauthenticated("the JWT has no `iss` claim".into(), None));
        };
        let claimed = Some(shorten(iss));
        let Some((configured, issuer)) = self.issuers.get_key_value(iss) else {
            return Err(unauthenticated(
                format!(
                    "the JWT's issuer `{}` is not one this service trusts",
                    shorten(iss)
                ),
                claimed,
            ));
        };
        let Some(kid) = header.kid.as_deref() else {
            return Err(unauthenticated(
                "the JWT header has no `kid`; shipgate picks the issuer's key by kid".into(),
                claimed,
            ));
        };
        let key = match issuer.keys.key(kid).await {
            Ok(k) => k,
            Err(KeyError::UnknownKid) => {
                return Err(unauthenticated(
                    format!(
                        "the JWT's key id `{}` is not in the JWKS of {iss}; mint a token with a \
                         current key (the JWKS is refreshed at most once per cool-down)",
                        shorten(kid)
                    ),
                    claimed,
                ))
            }
            Err(KeyError::Unavailable(why)) => {
                return Err(Refusal::KeysUnavailable {
                    reason: format!(
                        "cannot verify the JWT: the keys of {iss} are unavailable: {why}"
                    ),
                    issuer: iss.to_string(),
                })
            }
        };
        if !key.algorithms.contains(&alg) {
            return Err(unauthenticated(
                format!(
                    "the JWT's alg {alg:?} does not match key `{}` of {iss}, which allows {:?}",
                    shorten(kid),
                    key.algorithms
                ),
                claimed,
            ));
        }

        let audiences: Vec<&str> = issuer.entries.iter().map(|e| e.audience.as_str()).collect();
        let mut validation = Validation::new(alg);
        validation.leeway = self.leeway_seconds;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.validate_aud = true;
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.set_issuer(&[configured]);
        validation.set_audience(&audiences);
        let claims = jsonwebtoken::decode::<Map<String, Value>>(token, &key.key, &validation)
            .map_err(|e| unauthenticated(explain(e.kind(), kid, iss, &audiences), claimed.clone()))?
            .claims;
        // `jsonwebtoken` does not look at `iat`: a present one must be a NumericDate (a number,
        // as `exp` and `nbf`), or a string `iat` would skip this check.
        if let Some(iat) = claims.get("iat") {
            let Some(iat) = iat.as_f64() else {
                return Err(unauthenticated(
                    "the JWT's `iat` claim is malformed".into(),
                    claimed,
                ));
            };
            let now = jsonwebtoken::get_current_timestamp();
            if iat > now.saturating_add(self.leeway_seconds) as f64 {
                return Err(unauthenticated(
                    "the JWT's `iat` is in the future; check the issuer's clock".into(),
                    claimed,
                ));
            }
        }

        let subject = claims
            .get("sub")
            .and_then(Value::as_str)
            .map(shorten)
            .unwrap_or_default();
        let mut failures = Vec::new();
        for entry in &issuer.entries {
            if !audience_contains(&claims, &entry.audience) {
                continue;
            }
            match entry.rules.check(&claims) {
                Ok(()) => {
                    return Ok(Caller::Oidc {
                        issuer: configured.clone(),
                        subject,
                    })
                }
                Err(why) => failures.push(why),
            }
        }
        if failures.is_empty() {
            // `jsonwebtoken` checked the audience already; this is the belt to its braces.
            return Err(unauthenticated(
                explain(&ErrorKind::InvalidAudience, kid, iss, &audiences),
                claimed,
            ));
        }
        failures.dedup();
        Err(Refusal::Forbidden {
            reason: format!(
                "the token is valid but not allowed here: {}",
                failures.join("; or ")
            ),
            caller: Caller::Oidc {
                issuer: configured.clone(),
                subject,
            }
            .to_string(),
        })
    }
}

fn decode_part<T: serde::de::DeserializeOwned>(part: &str) -> Result<T, String> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|e| format!("not base64url: {e}"))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("not the expected JSON: {e}"))
}

/// The header's alg is only a claim: `none` and HMAC are refused outright (a public JWKS key used
/// as an HMAC secret would let anyone sign), the rest must later match the key's algorithms.
fn check_alg(alg: &str) -> Result<Algorithm, String> {
    if alg.eq_ignore_ascii_case("none") {
        return Err("the JWT is unsigned (`alg: none`); send a token signed by the issuer".into());
    }
    let parsed = Algorithm::from_str(alg)
        .map_err(|_| format!("the JWT's alg `{}` is not supported", shorten(alg)))?;
    if parsed.family() == AlgorithmFamily::Hmac {
        return Err(format!(
            "the JWT's alg `{alg}` is refused: only public-key signatures (RS*, PS*, ES*, EdDSA) \
             from the issuer's JWKS are accepted"
        ));
    }
    Ok(parsed)
}

fn audience_contains(claims: &Map<String, Value>, audience: &str) -> bool {
    match claims.get("aud") {
        Some(Value::String(a)) => a == audience,
        Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(audience)),
        _ => false,
    }
}

fn explain(kind: &ErrorKind, kid: &str, iss: &str, audiences: &[&str]) -> String {
    match kind {
        ErrorKind::ExpiredSignature => {
            "the JWT has expired (`exp` is in the past); mint a fresh one".into()
        }
        ErrorKind::ImmatureSignature => {
            "the JWT is not valid yet (`nbf` is in the future); check the issuer's clock".into()
        }
        ErrorKind::InvalidAudience => format!(
            "the JWT's audience (`aud`) is not {}; request the token with that audience",
            audiences
                .iter()
                .map(|a| format!("`{a}`"))
                .collect::<Vec<_>>()
                .join(" or ")
        ),
        ErrorKind::InvalidIssuer => format!("the JWT's `iss` is not `{iss}`"),
        ErrorKind::InvalidSignature => format!(
            "the JWT's signature does not verify with key `{}` of {iss}",
            shorten(kid)
        ),
        ErrorKind::MissingRequiredClaim(c) => format!("the JWT has no `{c}` claim"),
        ErrorKind::InvalidClaimFormat(c) => format!("the JWT's `{c}` claim is malformed"),
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
            format!(
                "the JWT's alg does not match key `{}` of {iss}",
                shorten(kid)
            )
        }
        other => format!("the JWT is not valid: {other:?}"),
    }
}
