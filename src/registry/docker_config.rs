//! Credentials from a docker `config.json`: `auths`, `credHelpers` and `credsStore`.
//!
//! Known gap: an `identitytoken` (an OAuth2 refresh token that `docker login` stores for some
//! registries) is not exchanged for an access token; such entries are skipped with a warning.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use base64::Engine as _;
use serde::Deserialize;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use super::auth::Credentials;
use super::error::RegistryError;

/// Docker Hub's key in `auths` and the server URL its credential helpers know it by.
const DOCKER_HUB_SERVER: &str = "https://index.docker.io/v1/";
/// A credential helper may print at most this much.
const MAX_HELPER_OUTPUT: u64 = 64 * 1024;

#[derive(Debug, Default, Deserialize)]
pub struct DockerConfig {
    #[serde(default)]
    pub auths: HashMap<String, AuthEntry>,
    #[serde(default, rename = "credHelpers")]
    pub cred_helpers: HashMap<String, String>,
    #[serde(default, rename = "credsStore")]
    pub creds_store: Option<String>,
}

#[derive(Default, Deserialize)]
pub struct AuthEntry {
    #[serde(default)]
    pub auth: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub identitytoken: Option<String>,
}

impl std::fmt::Debug for AuthEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthEntry")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
pub fn default_path() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir).join("config.json"));
    }
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|h| PathBuf::from(h).join(".docker").join("config.json"))
}

/// The registry a docker-config key or server URL names: scheme and path dropped, Docker Hub's
/// aliases folded into `docker.io`.
pub fn normalize_key(key: &str) -> String {
    let k = key.trim();
    let k = k
        .strip_prefix("https://")
        .or_else(|| k.strip_prefix("http://"))
        .unwrap_or(k);
    let host = k.split('/').next().unwrap_or(k).to_ascii_lowercase();
    match host.as_str() {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => {
            "docker.io".to_string()
        }
        _ => host,
    }
}

/// The server URL a credential helper is asked about for `registry`.
fn helper_server_url(registry: &str) -> String {
    if registry == crate::reference::DOCKER_HUB {
        DOCKER_HUB_SERVER.to_string()
    } else {
        registry.to_string()
    }
}

impl DockerConfig {
    /// Reads `path`; a missing file is an empty config, an unreadable or malformed one an error.
    pub async fn load(path: &Path) -> Result<DockerConfig, RegistryError> {
        let bytes = match tokio::fs::read(path).await {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(DockerConfig::default())
            }
            Err(e) => {
                return Err(RegistryError::Credentials {
                    registry: "any registry".into(),
                    detail: format!("cannot read docker config {}: {e}", path.display()),
                })
            }
        };
        serde_json::from_slice(&bytes).map_err(|e| RegistryError::Credentials {
            registry: "any registry".into(),
            detail: format!(
                "docker config {} is not valid JSON ({e}): fix it or point the docker config setting elsewhere",
                path.display()
            ),
        })
    }

    /// The credential helper configured for `registry` (`credHelpers` entry).
    pub fn helper_for(&self, registry: &str) -> Option<&str> {
        self.cred_helpers
            .iter()
            .find(|(k, _)| normalize_key(k) == registry)
            .map(|(_, v)| v.as_str())
    }

    /// Credentials stored inline in `auths` for `registry`.
    pub fn inline_for(&self, registry: &str) -> Result<Option<Credentials>, RegistryError> {
        let Some((_, entry)) = self
            .auths
            .iter()
            .find(|(k, _)| normalize_key(k) == registry)
        else {
            return Ok(None);
        };
        if let Some(auth) = entry.auth.as_deref().filter(|a| !a.is_empty()) {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(auth.trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| RegistryError::Credentials {
                    registry: registry.to_string(),
                    detail: "the `auth` entry in the docker config is not base64 of `user:password`: run `docker login` again".into(),
                })?;
            let (user, pass) = decoded
                .split_once(':')
                .ok_or_else(|| RegistryError::Credentials {
                    registry: registry.to_string(),
                    detail: "the `auth` entry in the docker config has no `:` between user and password: run `docker login` again".into(),
                })?;
            return Ok(Some(Credentials::new(user, pass)));
        }
        if let (Some(u), Some(p)) = (entry.username.as_deref(), entry.password.as_deref()) {
            if !u.is_empty() {
                return Ok(Some(Credentials::new(u, p)));
            }
        }
        if entry
            .identitytoken
            .as_deref()
            .is_some_and(|t| !t.is_empty())
        {
            tracing::warn!(
                registry,
                "docker config holds an identity token for this registry; identity tokens are not supported, continuing without credentials"
            );
        }
        Ok(None)
    }
}

/// Finds `docker-credential-<name>`: first in `dirs`, then on `PATH`.
pub fn find_helper(name: &str, dirs: &[PathBuf]) -> Option<PathBuf> {
    if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
        return None;
    }
    let file = format!("docker-credential-{name}");
    let path_dirs = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default();
    dirs.iter()
        .chain(path_dirs.iter())
        .map(|d| d.join(&file))
        .find(|p| p.is_file())
}

#[derive(Deserialize)]
struct HelperOutput {
    #[serde(rename = "Username", default)]
    username: String,
    #[serde(rename = "Secret", default)]
    secret: String,
}

/// Runs `docker-credential-<name> get` with the server URL on stdin, bounded by `timeout`.
/// `Ok(None)` when the helper has no credentials for the server.
pub async fn run_helper(
    name: &str,
    registry: &str,
    dirs: &[PathBuf],
    timeout: Duration,
) -> Result<Option<Credentials>, RegistryError> {
    let fail = |detail: String| RegistryError::Credentials {
        registry: registry.to_string(),
        detail,
    };
    let program = find_helper(name, dirs).ok_or_else(|| {
        fail(format!(
            "the docker config names credential helper `{name}`, but docker-credential-{name} is not installed (not on PATH)"
        ))
    })?;
    let server = helper_server_url(registry);
    let run = async {
        let mut child = tokio::process::Command::new(&program)
            .arg("get")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| fail(format!("cannot run docker-credential-{name}: {e}")))?;
        if let Some(mut stdin) = child.stdin.take() {
            // A helper that exits without reading is not an error here; its exit status says.
            let _ = stdin.write_all(server.as_bytes()).await;
            let _ = stdin.shutdown().await;
        }
        let mut stdout = Vec::new();
        let mut stderr = Vec::new();
        let out = child.stdout.take().map(|s| s.take(MAX_HELPER_OUTPUT));
        let err = child.stderr.take().map(|s| s.take(4096));
        let read_out = async {
            if let Some(mut o) = out {
                let _ = o.read_to_end(&mut stdout).await;
            }
        };
        let read_err = async {
            if let Some(mut e) = err {
                let _ = e.read_to_end(&mut stderr).await;
            }
        };
        tokio::join!(read_out, read_err);
        let status = child
            .wait()
            .await
            .map_err(|e| fail(format!("docker-credential-{name} failed: {e}")))?;
        Ok::<_, RegistryError>((status, stdout, stderr))
    };
    let (status, stdout, stderr) = tokio::time::timeout(timeout, run).await.map_err(|_| {
        fail(format!(
            "docker-credential-{name} did not answer within {:.1} s",
            timeout.as_secs_f64()
        ))
    })??;
    if !status.success() {
        // The helper protocol's "no credentials" answer; everything else is a failure.
        let text = String::from_utf8_lossy(&stdout).to_string() + &String::from_utf8_lossy(&stderr);
        if text.to_ascii_lowercase().contains("credentials not found") {
            return Ok(None);
        }
        // Helper output is not echoed: it might hold a secret. Its first stderr line is short
        // diagnostic text by convention, so that much is shown.
        let first = String::from_utf8_lossy(&stderr)
            .lines()
            .next()
            .unwrap_or("")
            .chars()
            .take(200)
            .collect::<String>();
        return Err(fail(format!(
            "docker-credential-{name} get exited with {status}{}",
            if first.is_empty() {
                String::new()
            } else {
                format!(": {first}")
            }
        )));
    }
    let parsed: HelperOutput = serde_json::from_slice(&stdout).map_err(|_| {
        fail(format!(
            "docker-credential-{name} get did not print JSON with Username and Secret"
        ))
    })?;
    if parsed.username == "<token>" {
        tracing::warn!(
            registry,
            helper = name,
            "credential helper returned an identity token; identity tokens are not supported, continuing without credentials"
        );
        return Ok(None);
    }
    if parsed.secret.is_empty() {
        return Ok(None);
    }
    Ok(Some(Credentials::new(parsed.username, parsed.secret)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_normalized() {
        assert_eq!(normalize_key("https://index.docker.io/v1/"), "docker.io");
        assert_eq!(normalize_key("registry-1.docker.io"), "docker.io");
        assert_eq!(normalize_key("http://127.0.0.1:5000/v2/"), "127.0.0.1:5000");
        assert_eq!(normalize_key("GHCR.io"), "ghcr.io");
    }

    #[test]
    fn inline_auth_forms() {
        let cfg: DockerConfig = serde_json::from_str(
            r#"{"auths":{
                "https://index.docker.io/v1/":{"auth":"dTpwOmFzcw=="},
                "ghcr.io":{"username":"me","password":"pw"},
                "quay.io":{"identitytoken":"x"},
                "bad.io":{"auth":"!!"}
            },"credHelpers":{"https://gcr.io":"gcloud"}}"#,
        )
        .unwrap();
        assert_eq!(
            cfg.inline_for("docker.io").unwrap(),
            Some(Credentials::new("u", "p:ass"))
        );
        assert_eq!(
            cfg.inline_for("ghcr.io").unwrap(),
            Some(Credentials::new("me", "pw"))
        );
        assert_eq!(cfg.inline_for("quay.io").unwrap(), None);
        assert_eq!(cfg.inline_for("other.io").unwrap(), None);
        let err = cfg.inline_for("bad.io").unwrap_err().to_string();
        assert!(err.contains("docker login"), "{err}");
        assert_eq!(cfg.helper_for("gcr.io"), Some("gcloud"));
        assert!(!format!("{:?}", cfg.auths["ghcr.io"]).contains("pw"));
    }

    #[test]
    fn helper_names_cannot_escape() {
        assert!(find_helper("../x", &[]).is_none());
        assert!(find_helper("", &[]).is_none());
    }
}
