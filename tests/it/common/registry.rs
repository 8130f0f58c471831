//! A real OCI registry for tests: Debian's `docker-registry` (CNCF distribution 2.8) on a free
//! loopback port, with its storage in a temporary directory. Killed when dropped.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where Debian installs the registry; `SHIPGATE_TEST_REGISTRY_BIN` overrides it.
fn registry_binary() -> PathBuf {
    std::env::var_os("SHIPGATE_TEST_REGISTRY_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/docker-registry"))
}

/// A free loopback port (bound, then released; the registry binds it right after).
pub use shipgate_test_support::free_port;

pub struct TestRegistry {
    child: Child,
    /// `127.0.0.1:PORT`
    pub host: String,
    _dir: tempfile::TempDir,
}

/// Options for a registry that needs credentials.
#[derive(Default)]
pub struct RegistryOptions {
    /// `user:password` pairs for htpasswd basic auth (bcrypt hashes are made with `htpasswd`
    /// from apache2-utils if present, else by the `bcrypt` hashes given here directly).
    pub htpasswd_lines: Vec<String>,
}

impl TestRegistry {
    pub fn start() -> TestRegistry {
        Self::start_with(RegistryOptions::default())
    }

    pub fn start_with(opts: RegistryOptions) -> TestRegistry {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut last_err = String::new();
        for _attempt in 0..5 {
            let port = free_port();
            let host = format!("127.0.0.1:{port}");
            let auth = if opts.htpasswd_lines.is_empty() {
                String::new()
            } else {
                let path = dir.path().join("htpasswd");
                std::fs::write(&path, opts.htpasswd_lines.join("\n") + "\n").expect("htpasswd");
                format!(
                    "auth:\n  htpasswd:\n    realm: test\n    path: {}\n",
                    path.display()
                )
            };
            let config = format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {host}\n{auth}",
                dir.path().join("data").display()
            );
            let config_path = dir.path().join("config.yml");
            std::fs::write(&config_path, config).expect("write registry config");
            let mut child = Command::new(registry_binary())
                .arg("serve")
                .arg(&config_path)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| {
                    panic!(
                        "cannot start {} ({e}); install Debian's docker-registry (scripts/test.sh does)",
                        registry_binary().display()
                    )
                });
            let deadline = Instant::now() + Duration::from_secs(15);
            while Instant::now() < deadline {
                if let Ok(Some(status)) = child.try_wait() {
                    last_err = format!("registry exited with {status}");
                    break;
                }
                if std::net::TcpStream::connect(&host).is_ok() {
                    return TestRegistry {
                        child,
                        host,
                        _dir: dir,
                    };
                }
                std::thread::sleep(Duration::from_millis(25));
            }
            let _ = child.kill();
            let _ = child.wait();
            if last_err.is_empty() {
                last_err = "registry did not listen within 15 s".into();
            }
        }
        panic!("could not start docker-registry: {last_err}");
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.host)
    }
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
