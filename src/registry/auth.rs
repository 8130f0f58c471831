//! Registry authentication: `WWW-Authenticate` challenges, credentials, and the token cache.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine as _;

/// A user name and secret for one registry. `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub secret: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl Credentials {
    pub fn new(username: impl Into<String>, secret: impl Into<String>) -> Credentials {
        Credentials {
            username: username.into(),
            secret: secret.into(),
        }
    }

    /// `Basic base64(user:secret)`.
    pub fn basic_header(&self) -> String {
        let raw = format!("{}:{}", self.username, self.secret);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    }
}

/// A parsed `WWW-Authenticate` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
        scope: Option<String>,
    },
}

/// Parses the first challenge we understand from a `WWW-Authenticate` value, e.g.
/// `Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"`.
pub fn parse_challenge(value: &str) -> Option<Challenge> {
    let value = value.trim();
    let (scheme, rest) = match value.find(char::is_whitespace) {
        Some(i) => (&value[..i], value[i..].trim_start()),
        None => (value, ""),
    };
    let params = parse_params(rest);
    match scheme.to_ascii_lowercase().as_str() {
        "basic" => Some(Challenge::Basic),
        "bearer" => {
            let realm = params.get("realm")?.clone();
            if realm.is_empty() {
                return None;
            }
            Some(Challenge::Bearer {
                realm,
                service: params.get("service").cloned(),
                scope: params.get("scope").cloned(),
            })
        }
        _ => None,
    }
}

/// `key=value` or `key="quoted, value"` pairs separated by commas; keys lower-cased.
fn parse_params(s: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut chars = s.chars().peekable();
    loop {
        while matches!(chars.peek(), Some(c) if *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c == ',' {
                break;
            }
            key.push(c);
            chars.next();
        }
        if key.is_empty() && chars.peek().is_none() {
            break;
        }
        let mut val = String::new();
        if chars.peek() == Some(&'=') {
            chars.next();
            if chars.peek() == Some(&'"') {
                chars.next();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => {
                            if let Some(n) = chars.next() {
                                val.push(n);
                            }
                        }
                        '"' => break,
                        _ => val.push(c),
                    }
                }
            } else {
                while let Some(&c) = chars.peek() {
                    if c == ',' {
                        break;
                    }
                    val.push(c);
                    chars.next();
                }
                val = val.trim().to_string();
            }
        }
        let key = key.trim().to_ascii_lowercase();
        if !key.is_empty() {
            out.entry(key).or_insert(val);
        }
        if chars.peek().is_none() {
            break;
        }
    }
    out
}

/// The JSON a token endpoint answers with (Docker token spec / OAuth2).
#[derive(serde::Deserialize)]
pub(crate) struct TokenResponse {
    #[serde(default)]
    pub token: Option<String>,
    #[serde(default)]
    pub access_token: Option<String>,
    #[serde(default)]
    pub expires_in: Option<u64>,
}

impl TokenResponse {
    /// The token (`token` preferred, `access_token` otherwise) and how long it may be used.
    pub fn into_token(self) -> Option<(String, Duration)> {
        let token = self
            .token
            .filter(|t| !t.is_empty())
            .or(self.access_token.filter(|t| !t.is_empty()))?;
        // The token spec's default is 60 s; keep a small margin so we never send a stale one.
        let secs = self.expires_in.filter(|s| *s > 0).unwrap_or(60);
        let ttl = Duration::from_secs(secs.saturating_sub(secs.min(10) / 2).max(1));
        Some((token, ttl))
    }
}

/// `Authorization` header values per (registry, scope), with expiry. Basic headers are cached
/// too, so that a registry that asked for them once gets them up front next time.
#[derive(Default)]
pub(crate) struct AuthCache {
    entries: Mutex<HashMap<CacheKey, CachedHeader>>,
}

/// (registry, scope)
type CacheKey = (String, String);
/// (`Authorization` value, expiry)
type CachedHeader = (String, Option<Instant>);

impl AuthCache {
    pub fn get(&self, registry: &str, scope: &str) -> Option<String> {
        let mut map = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let key = (registry.to_string(), scope.to_string());
        match map.get(&key) {
            Some((_, Some(exp))) if *exp <= Instant::now() => {
                map.remove(&key);
                None
            }
            Some((header, _)) => Some(header.clone()),
            None => None,
        }
    }

    pub fn put(&self, registry: &str, scope: &str, header: String, ttl: Option<Duration>) {
        let mut map = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > 1024 {
            let now = Instant::now();
            map.retain(|_, (_, exp)| exp.is_none_or(|e| e > now));
        }
        map.insert(
            (registry.to_string(), scope.to_string()),
            (header, ttl.map(|t| Instant::now() + t)),
        );
    }

    pub fn forget(&self, registry: &str, scope: &str) {
        let mut map = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(&(registry.to_string(), scope.to_string()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bearer_with_commas_inside_quotes() {
        let c = parse_challenge(
            r#"Bearer realm="https://auth.example/token",service="reg.example",scope="repository:a/b:pull,push""#,
        )
        .unwrap();
        assert_eq!(
            c,
            Challenge::Bearer {
                realm: "https://auth.example/token".into(),
                service: Some("reg.example".into()),
                scope: Some("repository:a/b:pull,push".into()),
            }
        );
    }

    #[test]
    fn parses_basic_and_refuses_unknown() {
        assert_eq!(
            parse_challenge(r#"Basic realm="Registry Realm""#),
            Some(Challenge::Basic)
        );
        assert_eq!(parse_challenge("basic"), Some(Challenge::Basic));
        assert_eq!(parse_challenge(r#"Negotiate abc"#), None);
        assert_eq!(parse_challenge(r#"Bearer service="x""#), None);
        let c = parse_challenge("Bearer realm=http://a/t, service=s").unwrap();
        assert_eq!(
            c,
            Challenge::Bearer {
                realm: "http://a/t".into(),
                service: Some("s".into()),
                scope: None
            }
        );
    }

    #[test]
    fn token_response_fields_and_default_expiry() {
        let t: TokenResponse = serde_json::from_str(r#"{"access_token":"a"}"#).unwrap();
        let (tok, ttl) = t.into_token().unwrap();
        assert_eq!(tok, "a");
        assert!(ttl <= Duration::from_secs(60) && ttl >= Duration::from_secs(50));
        let t: TokenResponse =
            serde_json::from_str(r#"{"token":"t","access_token":"a","expires_in":300}"#).unwrap();
        assert_eq!(t.into_token().unwrap().0, "t");
        let t: TokenResponse = serde_json::from_str(r#"{"token":""}"#).unwrap();
        assert!(t.into_token().is_none());
    }

    #[test]
    fn credentials_debug_hides_secret() {
        let c = Credentials::new("u", "hunter2");
        assert!(!format!("{c:?}").contains("hunter2"));
        assert_eq!(c.basic_header(), "Basic dTpodW50ZXIy");
    }

    #[test]
    fn cache_expires() {
        let c = AuthCache::default();
        c.put("r", "s", "Bearer x".into(), Some(Duration::from_millis(0)));
        assert_eq!(c.get("r", "s"), None);
        c.put("r", "s", "Bearer y".into(), Some(Duration::from_secs(60)));
        assert_eq!(c.get("r", "s").as_deref(), Some("Bearer y"));
        c.forget("r", "s");
        assert_eq!(c.get("r", "s"), None);
    }
}
