//! What the container image ships (issue 10): no policy in it may govern loopback, link-local or
//! private addresses, or any caller could make the service probe the pod's own ports and
//! network. The repository's examples (which govern `127.0.0.1:*/**` for the tests) stay out.

use std::path::{Path, PathBuf};

use shipgate::policy::PolicySet;
use shipgate::reference::ImageRef;

/// Repositories on addresses a service must never be steered to by a bundled policy.
const PRIVATE_TARGETS: &[&str] = &[
    "127.0.0.1:5000/app",
    "127.0.0.1:8080/app",
    "localhost:5000/app",
    "10.0.0.1:5000/app",
    "172.16.0.1/app",
    "192.168.1.10:5000/app",
    "169.254.169.254/latest",
];

/// The policies in `paths` that govern one of `PRIVATE_TARGETS`, as `name → target`.
fn governing_private(paths: &[PathBuf]) -> Vec<(String, String)> {
    let set = PolicySet::load(paths).unwrap_or_else(|e| panic!("{paths:?}: {e}"));
    let mut found = Vec::new();
    for target in PRIVATE_TARGETS {
        let image: ImageRef = target.parse().unwrap();
        for p in set.governing(&image.repository) {
            found.push((p.name.clone(), (*target).to_string()));
        }
    }
    found
}

/// The sources of the Dockerfile's `COPY` instructions whose destination is under
/// `/etc/shipgate` (where `serve` reads its policies and configuration).
fn copied_into_etc(dockerfile: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in dockerfile.lines().map(str::trim) {
        let Some(rest) = line.strip_prefix("COPY ") else {
            continue;
        };
        let words: Vec<&str> = rest
            .split_whitespace()
            .filter(|w| !w.starts_with("--"))
            .collect();
        if let Some((dest, sources)) = words.split_last() {
            if dest.starts_with("/etc/shipgate") {
                out.extend(sources.iter().map(|s| s.to_string()));
            }
        }
    }
    out
}

#[test]
fn the_container_image_ships_no_policy_for_private_addresses() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dockerfile = std::fs::read_to_string(root.join("Dockerfile")).unwrap();
    // The checker itself finds the repository's example (it governs 127.0.0.1:*/** on purpose).
    assert!(
        !governing_private(&[root.join("policies/production.yaml")]).is_empty(),
        "the check cannot see a loopback policy"
    );
    assert_eq!(
        copied_into_etc("COPY --chown=1 policies /etc/shipgate/policies"),
        ["policies"]
    );
    for source in copied_into_etc(&dockerfile) {
        let path = root.join(&source);
        let policies: Vec<PathBuf> = if path.is_dir() {
            std::fs::read_dir(&path)
                .unwrap()
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
                .collect()
        } else if path.extension().is_some_and(|x| x == "yaml" || x == "yml") {
            vec![path]
        } else {
            continue;
        };
        let found = governing_private(&policies);
        assert!(
            found.is_empty(),
            "the image ships {source}, whose policies govern private addresses: {found:?}"
        );
    }
}

/// Container and Lambda users configure through the environment: `SHIPGATE_LISTEN`,
/// `SHIPGATE_POLICIES` (comma-separated), `SHIPGATE_CONFIG`, `SHIPGATE_TIMEOUT`, ….
#[test]
fn serve_takes_its_configuration_from_the_environment() {
    use crate::common::registry::free_port;
    use crate::common::serve::ServeProcess;
    let dir = tempfile::tempdir().unwrap();
    let policy = "name: only\nimages: [\"registry.test/**\"]\nsignatures:\n  authorities:\n    - name: x\n      keyless:\n        issuer: https://token.actions.githubusercontent.com\n        subject: https://github.com/acme/x/.github/workflows/r.yml@refs/heads/main\n";
    std::fs::write(dir.path().join("only.yaml"), policy).unwrap();
    // A config file that names one path (not a list) for its policies, as users write it.
    std::fs::write(
        dir.path().join("config.yaml"),
        "policies: ./only.yaml\ntimeoutSeconds: 7\n",
    )
    .unwrap();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let config = dir.path().join("config.yaml");
    let serve = ServeProcess::start_with_env(
        std::iter::empty::<&str>(),
        [
            ("SHIPGATE_LISTEN", listen.as_str()),
            ("SHIPGATE_CONFIG", config.to_str().unwrap()),
        ],
        port,
    );
    let body = readyz(&serve.base);
    assert_eq!(body["policies"], 1, "{body}");
    drop(serve);

    // SHIPGATE_POLICIES overrides the configuration file's list.
    let other = tempfile::tempdir().unwrap();
    for name in ["a", "b"] {
        std::fs::write(
            other.path().join(format!("{name}.yaml")),
            policy.replace("name: only", &format!("name: {name}")),
        )
        .unwrap();
    }
    let both = format!(
        "{},{}",
        other.path().join("a.yaml").display(),
        other.path().join("b.yaml").display()
    );
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let serve = ServeProcess::start_with_env(
        std::iter::empty::<&str>(),
        [
            ("SHIPGATE_LISTEN", listen.as_str()),
            ("SHIPGATE_CONFIG", config.to_str().unwrap()),
            ("SHIPGATE_POLICIES", both.as_str()),
        ],
        port,
    );
    let body = readyz(&serve.base);
    assert_eq!(body["policies"], 2, "{body}");
}

/// The body of `GET /readyz`.
fn readyz(base: &str) -> serde_json::Value {
    let mut ready = crate::common::oci::agent()
        .get(format!("{base}/readyz"))
        .call()
        .unwrap();
    serde_json::from_str(&ready.body_mut().read_to_string().unwrap()).unwrap()
}
