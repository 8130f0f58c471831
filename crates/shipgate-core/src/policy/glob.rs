//! Globs on `registry/repository`: which images a policy governs.

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

use crate::reference::Repository;

const MAX_GLOBS: usize = 256;

/// `*` matches within one path segment (and within the host), `**` across segments.
#[derive(Debug, Clone)]
pub struct ImageGlobs {
    patterns: Vec<String>,
    set: GlobSet,
}

impl ImageGlobs {
    pub fn new(patterns: &[String]) -> Result<ImageGlobs, String> {
        if patterns.is_empty() {
            return Err(
                "images: at least one glob is needed (e.g. `registry.example.com/team/**`)".into(),
            );
        }
        if patterns.len() > MAX_GLOBS {
            return Err(format!("images: at most {MAX_GLOBS} globs"));
        }
        let mut builder = GlobSetBuilder::new();
        for (i, p) in patterns.iter().enumerate() {
            if p.contains('@') || p.rsplit('/').next().is_some_and(|last| last.contains(':')) {
                return Err(format!(
                    "images[{i}]: `{p}` names a tag or digest; globs match `registry/repository` only"
                ));
            }
            if !p.contains('/') {
                return Err(format!(
                    "images[{i}]: `{p}` has no `/`; write `registry/repository` (e.g. `ghcr.io/acme/**`)"
                ));
            }
            let glob = GlobBuilder::new(p)
                .literal_separator(true)
                .backslash_escape(true)
                .build()
                .map_err(|e| format!("images[{i}]: `{p}`: {e}"))?;
            builder.add(glob);
        }
        let set = builder.build().map_err(|e| format!("images: {e}"))?;
        Ok(ImageGlobs {
            patterns: patterns.to_vec(),
            set,
        })
    }

    pub fn matches(&self, repo: &Repository) -> bool {
        self.matches_path(&repo.to_string())
    }

    /// Matches an already formatted `registry/repository`.
    pub fn matches_path(&self, path: &str) -> bool {
        self.set.is_match(path)
    }

    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(s: &str) -> Repository {
        let (registry, name) = s.split_once('/').unwrap();
        Repository {
            registry: registry.into(),
            name: name.into(),
        }
    }

    #[test]
    fn globs_match_registry_and_repository() {
        let g = ImageGlobs::new(&[
            "127.0.0.1:*/**".into(),
            "*.dkr.ecr.*.amazonaws.com/prod/**".into(),
        ])
        .unwrap();
        assert!(g.matches(&repo("127.0.0.1:5000/app")));
        assert!(g.matches(&repo("127.0.0.1:5000/team/app")));
        assert!(g.matches(&repo(
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/prod/app"
        )));
        assert!(g.matches(&repo(
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/prod/a/b"
        )));
        assert!(!g.matches(&repo(
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/dev/app"
        )));
        assert!(!g.matches(&repo("127.0.0.2:5000/app")));
        assert!(!g.matches(&repo("evil.com/127.0.0.1:5000/app")));
        // `*` does not cross `/`: a host glob cannot swallow a path.
        let g = ImageGlobs::new(&["ghcr.io/acme/*".into()]).unwrap();
        assert!(g.matches(&repo("ghcr.io/acme/app")));
        assert!(!g.matches(&repo("ghcr.io/acme/app/sub")));
    }

    #[test]
    fn refuses_tags_digests_and_hostless_globs() {
        assert!(ImageGlobs::new(&["ghcr.io/acme/app:latest".into()]).is_err());
        assert!(ImageGlobs::new(&["ghcr.io/acme/app@sha256:00".into()]).is_err());
        assert!(ImageGlobs::new(&["app".into()]).is_err());
        assert!(ImageGlobs::new(&[]).is_err());
        assert!(ImageGlobs::new(&["ghcr.io/[".into()]).is_err());
    }
}
