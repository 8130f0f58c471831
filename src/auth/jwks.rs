//! An issuer's signing keys: OIDC discovery → `jwks_uri` → JWKS, cached by `kid`.
//!
//! Keys are fetched lazily (startup needs no network). A token whose `kid` is not cached triggers
//! one refresh, at most once per cool-down, and concurrent refreshes coalesce behind one lock, so
//! a flood of tokens with made-up key ids costs the issuer one request per cool-down.
//!
//! Keys expire: a key set older than the issuer's maximum age (`jwksMaxAge`, default 1 h) is
//! never used, so a key the issuer withdrew stops verifying within that age even if no token
//! with an unknown `kid` ever arrives. A background task refreshes the set at half that age,
//! so callers normally never wait for it; if the issuer is unreachable, the old set serves
//! until it expires, then tokens are refused (503) — never verified with stale keys.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey};
use serde::Deserialize;
use serde_json::Value;
use url::Url;

/// Discovery documents are a few KiB; JWKS a few keys. Anything larger is not one.
const MAX_DISCOVERY_BYTES: usize = 64 * 1024;
const MAX_JWKS_BYTES: usize = 256 * 1024;
const MAX_KEYS: usize = 100;

/// A public key of the issuer and the algorithms it may verify (from the JWK, never the token).
pub struct VerifyingKey {
    pub key: DecodingKey,
    pub algorithms: Vec<Algorithm>,
}

#[derive(Debug)]
pub enum KeyError {
    /// Not in the JWKS, even after a refresh (or within the cool-down of the last one).
    UnknownKid,
    /// The keys could not be fetched; the reason names the URL and what went wrong.
    Unavailable(String),
}

pub struct KeyCache {
    issuer: String,
    http: reqwest::Client,
    cooldown: Duration,
    max_age: Duration,
    keys: RwLock<KeySet>,
    refresh: tokio::sync::Mutex<RefreshState>,
}

/// The last key set fetched, and when.
#[derive(Default)]
struct KeySet {
    keys: HashMap<String, Arc<VerifyingKey>>,
    fetched_at: Option<Instant>,
}

/// Aborts the background refresh when the issuer's cache is dropped (a reload, a test).
pub struct Refresher(tokio::task::JoinHandle<()>);

impl Drop for Refresher {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[derive(Default)]
struct RefreshState {
    last_attempt: Option<Instant>,
    last_error: Option<String>,
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
}

#[derive(Deserialize)]
struct RawJwkSet {
    keys: Vec<Value>,
}

impl KeyCache {
    pub fn new(
        issuer: String,
        http: reqwest::Client,
        cooldown: Duration,
        max_age: Duration,
    ) -> KeyCache {
        KeyCache {
            issuer,
            http,
            cooldown,
            max_age,
            keys: RwLock::new(KeySet::default()),
            refresh: tokio::sync::Mutex::new(RefreshState::default()),
        }
    }

    /// Refreshes the key set in the background at half its maximum age, once it has been
    /// fetched at all (startup stays offline). `None` outside a tokio runtime: expiry then still
    /// holds, enforced when a token arrives. The task ends when the cache is dropped.
    pub fn spawn_refresher(cache: &Arc<KeyCache>) -> Option<Refresher> {
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        let weak = Arc::downgrade(cache);
        let every = (cache.max_age / 2).max(Duration::from_millis(100));
        Some(Refresher(runtime.spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(cache) = weak.upgrade() else { break };
                cache.background_refresh(every).await;
            }
        })))
    }

    /// One background refresh, if the set is at least `age` old; failures are logged and
    /// remembered like a request's, and the old set serves until it expires.
    async fn background_refresh(&self, age: Duration) {
        let due = {
            let set = self.keys.read().unwrap_or_else(|e| e.into_inner());
            set.fetched_at.is_some_and(|t| t.elapsed() >= age)
        };
        if !due {
            return;
        }
        let mut state = self.refresh.lock().await;
        state.last_attempt = Some(Instant::now());
        match self.fetch().await {
            Ok(keys) => {
                tracing::debug!(issuer = %self.issuer, keys = keys.len(), "refreshed the issuer's JWKS");
                self.store(keys);
                state.last_error = None;
            }
            Err(e) => {
                tracing::warn!(issuer = %self.issuer, error = %e, "cannot refresh the issuer's JWKS; the current keys serve until they are older than the maximum age");
                state.last_error = Some(e);
            }
        }
    }

    fn store(&self, keys: HashMap<String, Arc<VerifyingKey>>) {
        *self.keys.write().unwrap_or_else(|e| e.into_inner()) = KeySet {
            keys,
            fetched_at: Some(Instant::now()),
        };
    }

    /// Whether the key set is missing or older than the maximum age.
    fn expired(&self) -> bool {
        let set = self.keys.read().unwrap_or_else(|e| e.into_inner());
        set.fetched_at.is_none_or(|t| t.elapsed() > self.max_age)
    }

    /// The key with this `kid`, refreshing the JWKS when it is not cached.
    pub async fn key(&self, kid: &str) -> Result<Arc<VerifyingKey>, KeyError> {
        if let Some(key) = self.cached(kid) {
            return Ok(key);
        }
        let mut state = self.refresh.lock().await;
        // Another request may have refreshed while this one waited for the lock.
        if let Some(key) = self.cached(kid) {
            return Ok(key);
        }
        if let Some(at) = state.last_attempt {
            if at.elapsed() < self.cooldown {
                return Err(match &state.last_error {
                    Some(e) => KeyError::Unavailable(e.clone()),
                    None if self.expired() => KeyError::Unavailable(format!(
                        "the keys of {} are older than their maximum age of {} s and the next refresh is not due yet",
                        self.issuer,
                        self.max_age.as_secs()
                    )),
                    None => KeyError::UnknownKid,
                });
            }
        }
        state.last_attempt = Some(Instant::now());
        match self.fetch().await {
            Ok(keys) => {
                tracing::info!(issuer = %self.issuer, keys = keys.len(), "fetched the issuer's JWKS");
                self.store(keys);
                state.last_error = None;
            }
            Err(e) => {
                tracing::warn!(issuer = %self.issuer, error = %e, "cannot fetch the issuer's JWKS");
                state.last_error = Some(e.clone());
                return Err(KeyError::Unavailable(e));
            }
        }
        self.cached(kid).ok_or(KeyError::UnknownKid)
    }

    /// The key with this `kid`, unless the set it came from is older than the maximum age.
    fn cached(&self, kid: &str) -> Option<Arc<VerifyingKey>> {
        let set = self.keys.read().unwrap_or_else(|e| e.into_inner());
        if set.fetched_at.is_none_or(|t| t.elapsed() > self.max_age) {
            return None;
        }
        set.keys.get(kid).cloned()
    }

    async fn fetch(&self) -> Result<HashMap<String, Arc<VerifyingKey>>, String> {
        let discovery_url = format!(
            "{}/.well-known/openid-configuration",
            self.issuer.trim_end_matches('/')
        );
        let body = get_bounded(&self.http, &discovery_url, MAX_DISCOVERY_BYTES).await?;
        let discovery: Discovery = serde_json::from_slice(&body)
            .map_err(|e| format!("{discovery_url}: not an OIDC discovery document: {e}"))?;
        if discovery.issuer != self.issuer {
            return Err(format!(
                "{discovery_url}: names issuer `{}`, not `{}`",
                super::claims::shorten(&discovery.issuer),
                self.issuer
            ));
        }
        let jwks_uri = check_url(&discovery.jwks_uri)
            .map_err(|e| format!("{discovery_url}: jwks_uri: {e}"))?;
        let body = get_bounded(&self.http, jwks_uri.as_str(), MAX_JWKS_BYTES).await?;
        let set: RawJwkSet =
            serde_json::from_slice(&body).map_err(|e| format!("{jwks_uri}: not a JWK set: {e}"))?;
        if set.keys.len() > MAX_KEYS {
            return Err(format!("{jwks_uri}: more than {MAX_KEYS} keys"));
        }
        let mut keys = HashMap::new();
        for raw in set.keys {
            // One key shipgate cannot use must not hide the others.
            match serde_json::from_value::<Jwk>(raw) {
                Ok(jwk) => match verifying_key(&jwk) {
                    Ok((kid, key)) => {
                        keys.insert(kid, Arc::new(key));
                    }
                    Err(why) => tracing::debug!(jwks = %jwks_uri, why, "JWK skipped"),
                },
                Err(e) => tracing::debug!(jwks = %jwks_uri, error = %e, "JWK skipped"),
            }
        }
        Ok(keys)
    }
}

/// The key and the algorithms it allows. Symmetric (`oct`) keys are never used: a public JWKS
/// that held one would let anyone who reads it sign tokens.
fn verifying_key(jwk: &Jwk) -> Result<(String, VerifyingKey), &'static str> {
    let kid = jwk.common.key_id.clone().ok_or("no kid")?;
    if matches!(&jwk.common.public_key_use, Some(u) if *u != PublicKeyUse::Signature) {
        return Err("not a signing key (use)");
    }
    let by_type: Vec<Algorithm> = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => AlgorithmFamily::Rsa.algorithms().to_vec(),
        AlgorithmParameters::EllipticCurve(p) => match p.curve {
            EllipticCurve::P256 => vec![Algorithm::ES256],
            EllipticCurve::P384 => vec![Algorithm::ES384],
            _ => return Err("unsupported curve"),
        },
        AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519 => {
            vec![Algorithm::EdDSA]
        }
        _ => return Err("not an RSA, EC or Ed25519 public key"),
    };
    let algorithms = match jwk.common.key_algorithm {
        None => by_type,
        Some(named) => {
            let alg = Algorithm::try_from(named).map_err(|_| "alg is not a signature algorithm")?;
            if !by_type.contains(&alg) {
                return Err("alg does not fit the key type");
            }
            vec![alg]
        }
    };
    let key = DecodingKey::from_jwk(jwk).map_err(|_| "malformed key parameters")?;
    Ok((kid, VerifyingKey { key, algorithms }))
}

/// A GET with the client's timeout, refusing non-2xx answers and bodies over `max` bytes.
async fn get_bounded(http: &reqwest::Client, url: &str, max: usize) -> Result<Vec<u8>, String> {
    let response = http
        .get(url)
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| format!("{url}: {}", crate::net::error_text(&e)))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("{url}: HTTP {status}"));
    }
    match crate::net::read_body(response, max).await {
        Ok(body) => Ok(body.to_vec()),
        Err(crate::net::BodyError::TooLarge) => {
            Err(format!("{url}: response is larger than {max} bytes"))
        }
        Err(crate::net::BodyError::Transport(e)) => {
            Err(format!("{url}: {}", crate::net::error_text(&e)))
        }
    }
}

/// Issuer and JWKS URLs: `https://`, or plain `http://` to a loopback host (tests, sidecars).
pub fn check_url(text: &str) -> Result<Url, String> {
    use crate::net::InsecureUrl;
    let url = Url::parse(text)
        .map_err(|e| format!("`{}` is not a URL: {e}", super::claims::shorten(text)))?;
    crate::net::require_https_or_loopback(&url).map_err(|why| match why {
        InsecureUrl::Credentials => format!("`{url}` must not carry credentials"),
        InsecureUrl::PlainHttp => format!(
            "`{url}` is plain http: only https issuers are accepted (http only on 127.0.0.1, [::1] or localhost)"
        ),
        InsecureUrl::NotHttp => format!("`{url}` is not an https URL"),
    })?;
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback_http() {
        for ok in [
            "https://token.actions.githubusercontent.com",
            "http://127.0.0.1:8080",
            "http://[::1]:9000/issuer",
            "http://localhost:1234",
        ] {
            assert!(check_url(ok).is_ok(), "{ok}");
        }
        for (bad, why) in [
            ("http://issuer.example.com", "plain http"),
            ("http://10.0.0.1", "plain http"),
            ("ftp://x.example.com", "not an https URL"),
            ("https://user:pw@x.example.com", "credentials"),
            ("token.actions.githubusercontent.com", "not a URL"),
        ] {
            let err = check_url(bad).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }

    #[test]
    fn symmetric_and_mismatched_keys_are_never_used() {
        let oct: Jwk = serde_json::from_value(serde_json::json!(
            {"kty":"oct","kid":"h","k":"c2VjcmV0"}
        ))
        .unwrap();
        assert!(verifying_key(&oct).is_err());
        let rsa_named_hs: Jwk = serde_json::from_value(serde_json::json!(
            {"kty":"RSA","kid":"r","alg":"HS256","n":"AQAB","e":"AQAB"}
        ))
        .unwrap();
        assert!(verifying_key(&rsa_named_hs).is_err());
        let rsa: Jwk = serde_json::from_value(serde_json::json!(
            {"kty":"RSA","kid":"r","alg":"RS256","use":"sig","n":"AQAB","e":"AQAB"}
        ))
        .unwrap();
        let (kid, key) = verifying_key(&rsa).unwrap();
        assert_eq!(
            (kid.as_str(), key.algorithms),
            ("r", vec![Algorithm::RS256])
        );
    }
}
