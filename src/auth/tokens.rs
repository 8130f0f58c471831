//! Static bearer tokens for machine callers. The configuration holds only their SHA-256, so a
//! leaked config file does not leak a credential.

use std::collections::HashSet;

use sha2::{Digest, Sha256};

use super::config::TokenConfig;

/// The most static tokens one configuration may list.
const MAX_TOKENS: usize = 1000;

#[derive(Debug, Clone, Default)]
pub struct StaticTokens {
    tokens: Vec<(String, [u8; 32])>,
}

impl StaticTokens {
    pub fn from_config(config: &[TokenConfig]) -> Result<StaticTokens, String> {
        if config.len() > MAX_TOKENS {
            return Err(format!("at most {MAX_TOKENS} static tokens"));
        }
        let mut names = HashSet::new();
        let mut hashes = HashSet::new();
        let mut tokens = Vec::with_capacity(config.len());
        for t in config {
            let valid_name = !t.name.is_empty()
                && t.name.len() <= 64
                && t.name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
            if !valid_name {
                return Err(format!(
                    "token name `{}` must be 1-64 characters of [A-Za-z0-9._-]",
                    super::claims::shorten(&t.name)
                ));
            }
            if !names.insert(t.name.as_str()) {
                return Err(format!("token name `{}` is listed twice", t.name));
            }
            let hash = parse_sha256(&t.sha256).ok_or_else(|| {
                format!(
                    "token `{}`: sha256 must be 64 hex digits (printf %s \"$TOKEN\" | sha256sum)",
                    t.name
                )
            })?;
            if !hashes.insert(hash) {
                return Err(format!(
                    "token `{}` has the same sha256 as another token; each caller needs its own",
                    t.name
                ));
            }
            tokens.push((t.name.clone(), hash));
        }
        Ok(StaticTokens { tokens })
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tokens.iter().map(|(name, _)| name.as_str())
    }

    /// The name of the token whose hash matches `presented`. Every configured hash is compared
    /// in constant time, so the time taken does not tell which bytes matched.
    pub fn find(&self, presented: &str) -> Option<&str> {
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let mut found = None;
        for (name, hash) in &self.tokens {
            if aws_lc_rs::constant_time::verify_slices_are_equal(&digest, hash).is_ok() {
                found = Some(name.as_str());
            }
        }
        found
    }
}

fn parse_sha256(text: &str) -> Option<[u8; 32]> {
    let text = text.trim();
    if text.len() != 64 {
        return None;
    }
    let bytes = hex::decode(text.to_ascii_lowercase()).ok()?;
    bytes.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(name: &str, sha256: &str) -> TokenConfig {
        TokenConfig {
            name: name.into(),
            sha256: sha256.into(),
        }
    }

    #[test]
    fn matches_by_hash_only() {
        let hash = hex::encode(Sha256::digest(b"s3cret-token"));
        let tokens = StaticTokens::from_config(&[token("pipeline", &hash.to_uppercase())]).unwrap();
        assert_eq!(tokens.find("s3cret-token"), Some("pipeline"));
        assert_eq!(tokens.find("s3cret-tokeN"), None);
        assert_eq!(tokens.find(&hash), None, "the hash itself is not the token");
    }

    #[test]
    fn bad_configurations_are_refused() {
        let hash = hex::encode(Sha256::digest(b"x"));
        for (config, expected) in [
            (vec![token("a", "abc")], "64 hex digits"),
            (vec![token("a", &"z".repeat(64))], "64 hex digits"),
            (vec![token("a b", &hash)], "must be 1-64 characters"),
            (vec![token("a", &hash), token("a", &hash)], "listed twice"),
            (vec![token("a", &hash), token("b", &hash)], "same sha256"),
        ] {
            let err = StaticTokens::from_config(&config).unwrap_err();
            assert!(err.contains(expected), "{err}");
        }
    }
}
