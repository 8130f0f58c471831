//! Named Sigstore trusted roots: the built-in ones (`public-good`, `github`), the ones the
//! service configures (`trustRoots:` in the config file, `--trust-root NAME=FILE`), and the
//! check, before the gate starts, that every `trustRoot:` a policy names exists.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::policy::{check_trust_root_name, Authority, PolicySet, TlogRequirement};
use crate::verify::{EmbeddedRoot, FixedRoot, TrustRoot, TrustRootSource, Verifier};

/// The roots every gate has under these names unless configured otherwise.
pub const PUBLIC_GOOD: &str = "public-good";
pub const GITHUB: &str = "github";

/// `NAME=FILE` of `--trust-root`.
pub fn parse_flag(value: &str) -> Result<(String, PathBuf), String> {
    let Some((name, file)) = value.split_once('=') else {
        return Err(format!(
            "--trust-root `{value}`: give NAME=FILE (e.g. github=github-root.json); the main \
             root is --trusted-root FILE"
        ));
    };
    check_trust_root_name(name).map_err(|e| format!("--trust-root: {e}"))?;
    if file.is_empty() {
        return Err(format!("--trust-root {name}=: the file is missing"));
    }
    Ok((name.to_string(), PathBuf::from(file)))
}

/// The verifier: `main` for authorities without `trustRoot:`, the built-in roots, then the
/// configured `named` files (which may replace a built-in, e.g. a newer `github` root).
/// `public_good` is what `public-good` names: the TUF-refreshed root when TUF is on.
pub fn verifier(
    main: Arc<dyn TrustRootSource>,
    public_good: Arc<dyn TrustRootSource>,
    named: &BTreeMap<String, PathBuf>,
) -> anyhow::Result<Verifier> {
    let mut verifier = Verifier::with_source(main)
        .with_named_root(PUBLIC_GOOD, public_good)
        .with_named_root(GITHUB, Arc::new(EmbeddedRoot::github()));
    for (name, path) in named {
        let root = read_root(path).map_err(|e| anyhow::anyhow!("trust root `{name}`: {e}"))?;
        if matches!(name.as_str(), PUBLIC_GOOD | GITHUB) {
            tracing::info!(name, file = %path.display(), "built-in trusted root replaced");
        }
        verifier = verifier.with_named_root(name, Arc::new(FixedRoot(Arc::new(root))));
    }
    Ok(verifier)
}

/// A `trusted_root.json` file.
pub fn read_root(path: &Path) -> anyhow::Result<TrustRoot> {
    let bytes = std::fs::read(path)
        .map_err(|e| anyhow::anyhow!("{}: cannot read trusted root: {e}", path.display()))?;
    TrustRoot::from_json(&bytes).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// Refuses, before anything is served, a policy whose authority names a root the verifier
/// does not have (every signature would fail "unknown root"), or requires a transparency-log
/// proof from a root that has no log (every signature would fail for want of one).
pub fn check_policies(policies: &PolicySet, verifier: &Verifier) -> anyhow::Result<()> {
    for policy in policies.iter() {
        let sections = [
            (
                "signatures",
                policy.signatures.as_ref().map(|s| &s.authorities),
            ),
            (
                "provenance",
                policy.provenance.as_ref().map(|p| &p.authorities),
            ),
        ];
        for (section, authorities) in sections {
            for (i, a) in authorities.into_iter().flatten().enumerate() {
                check_authority(a, verifier).map_err(|why| {
                    anyhow::anyhow!(
                        "{}: policy `{}`: {section}.authorities[{i}] (`{}`): {why}",
                        policy.source.display(),
                        policy.name,
                        a.name
                    )
                })?;
            }
        }
    }
    Ok(())
}

fn check_authority(a: &Authority, verifier: &Verifier) -> Result<(), String> {
    let Some(name) = a.trust_root.as_deref() else {
        return Ok(());
    };
    if !verifier.has_root(name) {
        let known: Vec<String> = verifier.root_names().map(|n| format!("`{n}`")).collect();
        return Err(format!(
            "trustRoot `{name}` is not configured (this gate has {}); add it with `trustRoots: \
             {{{name}: FILE}}` in the service configuration or `--trust-root {name}=FILE`",
            known.join(", ")
        ));
    }
    // A refreshed root may gain a log later; only a root that exists now can be judged.
    if let Ok(root) = verifier.named_trust_root(Some(name)) {
        if a.tlog == TlogRequirement::Required && !root.has_transparency_logs() {
            return Err(format!(
                "trustRoot `{name}` has no transparency log, so no signature could show the \
                 log proof this authority requires; set `transparencyLog: optional` (a signed \
                 RFC 3161 timestamp from the root's timestamp authority then proves the \
                 signing time)"
            ));
        }
    }
    Ok(())
}
