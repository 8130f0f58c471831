//! The Sigstore trusted roots a verifier judges by: its main root, and any number of named
//! ones that an authority picks with `trustRoot:` (e.g. GitHub's own Sigstore instance beside
//! the public-good one). Each is asked for at every verification, so a root that the service
//! keeps current (TUF) is always the newest verified one.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use crate::verify::authority::Authority;
use crate::verify::{Rejection, TrustRoot};

/// Where a trusted root comes from: fixed at start, or kept current by the service (TUF).
/// The core only asks; it never fetches.
pub trait TrustRootSource: Send + Sync {
    /// The root to judge with now, or why there is none (e.g. its TUF metadata expired):
    /// then every Sigstore signature it would judge is rejected with that reason, never
    /// judged with a stale root.
    fn current(&self) -> Result<Arc<TrustRoot>, String>;
}

/// A trusted root that never changes (an embedded one, or a file given at start).
pub struct FixedRoot(pub Arc<TrustRoot>);

impl TrustRootSource for FixedRoot {
    fn current(&self) -> Result<Arc<TrustRoot>, String> {
        Ok(self.0.clone())
    }
}

/// A root compiled into the binary, parsed when first asked for: a gate that never names it
/// never parses it (`check` runs once per process; a reload builds its roots again).
pub struct EmbeddedRoot {
    parse: fn() -> Result<TrustRoot, crate::verify::VerifyError>,
    root: OnceLock<Result<Arc<TrustRoot>, String>>,
}

impl EmbeddedRoot {
    /// The Sigstore public-good root ([`TrustRoot::public_good`]).
    pub fn public_good() -> EmbeddedRoot {
        EmbeddedRoot::of(TrustRoot::public_good)
    }

    /// GitHub's Sigstore instance ([`TrustRoot::github`]).
    pub fn github() -> EmbeddedRoot {
        EmbeddedRoot::of(TrustRoot::github)
    }

    fn of(parse: fn() -> Result<TrustRoot, crate::verify::VerifyError>) -> EmbeddedRoot {
        EmbeddedRoot {
            parse,
            root: OnceLock::new(),
        }
    }
}

impl TrustRootSource for EmbeddedRoot {
    fn current(&self) -> Result<Arc<TrustRoot>, String> {
        self.root
            .get_or_init(|| {
                (self.parse)()
                    .map(Arc::new)
                    .map_err(|e| format!("the embedded trusted root does not parse: {e}"))
            })
            .clone()
    }
}

/// The main root and the named ones.
pub(crate) struct TrustRoots {
    main: Arc<dyn TrustRootSource>,
    named: BTreeMap<String, Arc<dyn TrustRootSource>>,
}

impl TrustRoots {
    pub(crate) fn new(main: Arc<dyn TrustRootSource>) -> TrustRoots {
        TrustRoots {
            main,
            named: BTreeMap::new(),
        }
    }

    pub(crate) fn insert(&mut self, name: String, source: Arc<dyn TrustRootSource>) {
        self.named.insert(name, source);
    }

    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.named.keys().map(String::as_str)
    }

    pub(crate) fn contains(&self, name: &str) -> bool {
        self.named.contains_key(name)
    }

    /// The root called `name` (`None`: the main root) as it is now, or why there is none,
    /// as the sentence every authority judged by it is rejected with.
    pub(crate) fn get(&self, name: Option<&str>) -> Result<Arc<TrustRoot>, String> {
        match name {
            None => self.main.current().map_err(|why| {
                format!(
                    "the Sigstore trusted root is unavailable, so no Sigstore signature can be \
                     verified: {why}"
                )
            }),
            Some(name) => match self.named.get(name) {
                Some(source) => source.current().map_err(|why| {
                    format!(
                        "the Sigstore trusted root `{name}` is unavailable, so no signature \
                         can be verified with it: {why}"
                    )
                }),
                None => Err(format!(
                    "the authority names the trusted root `{name}`, which this gate does not \
                     have (it has: {}); configure it with `trustRoots` in the service \
                     configuration or `--trust-root {name}=FILE`",
                    self.describe_names()
                )),
            },
        }
    }

    fn describe_names(&self) -> String {
        if self.named.is_empty() {
            "only its main root".into()
        } else {
            self.names()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    }

    /// Judges each authority with the root it names. Authorities are grouped by root; each
    /// group is judged once with its root (or rejected whole, saying why that root is
    /// unavailable), and the results come back in the authorities' order. Authorities that
    /// all share one root (the usual case) are judged without copying them.
    pub(crate) fn judge_per_root<T>(
        &self,
        authorities: &[Authority],
        judge: impl Fn(&TrustRoot, &[Authority]) -> Vec<Result<T, Rejection>>,
    ) -> Vec<Result<T, Rejection>> {
        let judge_group = |name: Option<&str>, group: &[Authority]| match self.get(name) {
            Ok(root) => judge(&root, group),
            Err(why) => group
                .iter()
                .map(|_| Err(Rejection::new(why.clone())))
                .collect(),
        };
        let Some(first) = authorities.first().map(|a| a.trust_root.as_deref()) else {
            return Vec::new();
        };
        if authorities.iter().all(|a| a.trust_root.as_deref() == first) {
            return judge_group(first, authorities);
        }
        let mut names: Vec<Option<&str>> = Vec::new();
        for a in authorities {
            if !names.contains(&a.trust_root.as_deref()) {
                names.push(a.trust_root.as_deref());
            }
        }
        let mut results: Vec<Option<Result<T, Rejection>>> =
            authorities.iter().map(|_| None).collect();
        for name in names {
            let members: Vec<usize> = (0..authorities.len())
                .filter(|&i| authorities[i].trust_root.as_deref() == name)
                .collect();
            let group: Vec<Authority> = members.iter().map(|&i| authorities[i].clone()).collect();
            for (i, result) in members.into_iter().zip(judge_group(name, &group)) {
                results[i] = Some(result);
            }
        }
        results
            .into_iter()
            .map(|r| {
                r.unwrap_or_else(|| {
                    Err(Rejection::new(
                        "the authority was not judged by any trusted root (bug)".into(),
                    ))
                })
            })
            .collect()
    }
}
