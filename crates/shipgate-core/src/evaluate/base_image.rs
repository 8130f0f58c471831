//! The `base-image` check: is every platform of the image built on an allowed base (its layers
//! begin with the base's complete layer list) and on no denied one? Pure: no I/O.

use serde::{Deserialize, Serialize};

use crate::evidence::base_hints::BaseHint;

use crate::decision::{Check, CheckCode, CheckResult};
use crate::evidence::base_image::{
    annotation_names, BaseAnnotation, BaseImageEvidence, Candidate, PlatformLayers,
};
use crate::policy::base_pattern::BasePattern;
use crate::policy::BaseImagePolicy;
use crate::reference::{Digest, ImageRef};

/// The evidence of a `base-image` check.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BaseImageReport {
    /// The image's manifests: one, or one per platform of an index.
    pub image: Vec<PlatformReport>,
    /// The image's `org.opencontainers.image.base.*` annotations (a hint, never proof).
    pub annotation: Option<BaseAnnotation>,
    /// Images the provenance lists among the build's inputs (hints, never proof).
    pub provenance_hints: Vec<BaseHint>,
    /// What each `allow` pattern resolved to.
    pub allow: Vec<PatternReport>,
    /// What each `deny` pattern resolved to.
    pub deny: Vec<PatternReport>,
    /// Platforms built on a denied base (when any is).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub denied: Option<Vec<String>>,
    /// The allowed base each platform is built on (once deny was ruled out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub built_on: Option<Vec<BuiltOnReport>>,
}

/// One manifest of the image.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PlatformReport {
    pub platform: Option<String>,
    pub digest: String,
    pub layers: usize,
}

/// What one pattern resolved to.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PatternReport {
    pub pattern: String,
    pub candidates: Vec<CandidateReport>,
    pub notes: Vec<String>,
    pub errors: Vec<String>,
    pub truncated: Vec<String>,
}

/// A base image a pattern selected.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CandidateReport {
    pub name: String,
    pub digest: String,
    /// The most layers any of its platforms has.
    pub layers: usize,
}

/// The allowed base a platform is built on.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BuiltOnReport {
    pub platform: Option<String>,
    pub base: String,
    pub digest: String,
    pub pattern: String,
}

/// How many candidates a "compared with" list names (the rest are counted).
const MAX_NAMED: usize = 5;

fn short(c: &Candidate) -> String {
    format!("{} ({})", c.name, c.digest)
}

/// Candidates of `patterns` that `image` is built on: (pattern, candidate), longest base first.
fn matches<'a>(
    patterns: &'a [BasePattern],
    found: &'a BaseImageEvidence,
    image: &PlatformLayers,
) -> Vec<(&'a str, &'a Candidate)> {
    let mut out: Vec<(&str, &Candidate)> = patterns
        .iter()
        .filter_map(|p| found.patterns.get(&p.text).map(|c| (p.text.as_str(), c)))
        .flat_map(|(p, pc)| pc.candidates.iter().map(move |c| (p, c)))
        .filter(|(_, c)| c.base_of(image).is_some())
        .collect();
    out.sort_by_key(|(_, c)| std::cmp::Reverse(c.base_of(image).map_or(0, |m| m.layers.len())));
    out
}

pub fn base_image_check(policy: &str, rule: &BaseImagePolicy, found: &BaseImageEvidence) -> Check {
    let ctx = Ctx {
        policy,
        rule,
        found,
        multi: found.image.len() > 1,
    };
    let mut evidence = ctx.evidence();
    if let Some(e) = &found.image_error {
        return ctx.check(
            CheckCode::EvidenceUnavailable,
            CheckResult::Error,
            format!("could not read the image's layers: {e}"),
            evidence,
        );
    }

    // Deny wins: any platform on a denied base fails, whatever else matches.
    let denied = ctx.denied();
    if !denied.is_empty() {
        evidence.denied = Some(denied.clone());
        return ctx.check(
            CheckCode::BaseDenied,
            CheckResult::Fail,
            format!("{}; `deny` wins over `allow`", denied.join("; ")),
            evidence,
        );
    }
    let deny_errors = ctx.errors_of(&rule.deny);

    let mut built_on = Vec::new();
    let mut missing = Vec::new();
    for p in &found.image {
        match matches(&rule.allow, found, p).first() {
            Some((pattern, c)) => built_on.push((p, *pattern, *c)),
            None => missing.push(p),
        }
    }
    evidence.built_on = Some(
        built_on
            .iter()
            .map(|(p, pattern, c)| BuiltOnReport {
                platform: p.platform.as_ref().map(|x| x.to_string()),
                base: c.name.clone(),
                digest: c.digest.to_string(),
                pattern: pattern.to_string(),
            })
            .collect(),
    );

    if missing.is_empty() {
        ctx.allowed(&built_on, evidence, deny_errors)
    } else {
        ctx.not_allowed(&missing, evidence, deny_errors)
    }
}

/// A platform built on an allowed base: (platform, allow pattern, candidate).
type BuiltOn<'a> = (&'a PlatformLayers, &'a str, &'a Candidate);

/// The inputs every step of the check reads.
struct Ctx<'a> {
    policy: &'a str,
    rule: &'a BaseImagePolicy,
    found: &'a BaseImageEvidence,
    /// Whether the image has more than one platform (reasons then name the platform).
    multi: bool,
}

impl<'a> Ctx<'a> {
    fn check(
        &self,
        code: CheckCode,
        result: CheckResult,
        reason: String,
        evidence: BaseImageReport,
    ) -> Check {
        Check::new("base-image", code, Some(self.policy), result, reason).with_report(&evidence)
    }

    /// The evidence every outcome carries: the image's platforms and what each pattern found.
    fn evidence(&self) -> BaseImageReport {
        let found = self.found;
        BaseImageReport {
            image: found
                .image
                .iter()
                .map(|p| PlatformReport {
                    platform: p.platform.as_ref().map(|x| x.to_string()),
                    digest: p.digest.to_string(),
                    layers: p.layers.len(),
                })
                .collect(),
            annotation: found.annotation.clone(),
            provenance_hints: found.hints.clone(),
            allow: self.candidates_report(&self.rule.allow),
            deny: self.candidates_report(&self.rule.deny),
            denied: None,
            built_on: None,
        }
    }

    fn candidates_report(&self, patterns: &[BasePattern]) -> Vec<PatternReport> {
        patterns
            .iter()
            .map(|p| {
                let pc = self
                    .found
                    .patterns
                    .get(&p.text)
                    .cloned()
                    .unwrap_or_default();
                PatternReport {
                    pattern: p.text.clone(),
                    candidates: pc
                        .candidates
                        .iter()
                        .map(|c| CandidateReport {
                            name: c.name.clone(),
                            digest: c.digest.to_string(),
                            layers: c.layer_count(),
                        })
                        .collect(),
                    notes: pc.notes,
                    errors: pc.errors,
                    truncated: pc.truncated,
                }
            })
            .collect()
    }

    fn errors_of(&self, patterns: &[BasePattern]) -> Vec<String> {
        patterns
            .iter()
            .filter_map(|p| self.found.patterns.get(&p.text))
            .flat_map(|pc| pc.errors.iter().cloned())
            .collect()
    }

    fn truncated_of(&self, patterns: &[BasePattern]) -> Vec<String> {
        patterns
            .iter()
            .filter_map(|p| self.found.patterns.get(&p.text))
            .flat_map(|pc| pc.truncated.iter().cloned())
            .collect()
    }

    /// `linux/amd64: ` before a platform's reason when there are several, else nothing.
    fn on(&self, p: &PlatformLayers) -> String {
        if self.multi {
            format!("{}: ", p.platform_name())
        } else {
            String::new()
        }
    }

    /// One line per platform built on a denied base.
    fn denied(&self) -> Vec<String> {
        let mut denied = Vec::new();
        for p in &self.found.image {
            if let Some((pattern, c)) = matches(&self.rule.deny, self.found, p).first() {
                denied.push(format!(
                    "{}built on denied base {} (deny pattern `{pattern}`)",
                    self.on(p),
                    short(c)
                ));
            }
        }
        denied
    }

    /// Every platform is on an allowed base: pass, unless a denied base cannot be ruled out.
    fn allowed(
        &self,
        built_on: &[BuiltOn],
        evidence: BaseImageReport,
        deny_errors: Vec<String>,
    ) -> Check {
        let mut reason = self.allowed_reason(built_on);
        if !deny_errors.is_empty() {
            reason.push_str(&format!(
                "; but the denied bases could not all be resolved, so a denied base cannot be ruled out: {}",
                deny_errors.join("; ")
            ));
            return self.check(
                CheckCode::EvidenceUnavailable,
                CheckResult::Error,
                reason,
                evidence,
            );
        }
        let deny_truncated = self.truncated_of(&self.rule.deny);
        if !deny_truncated.is_empty() {
            // A denied base among the candidates a bound left out cannot be ruled out.
            return self.check(
                CheckCode::EvidenceTruncated,
                CheckResult::Error,
                super::cut_short(
                    &deny_truncated,
                    &format!("{reason}, and no denied base among the candidates read"),
                ),
                evidence,
            );
        }
        self.check(CheckCode::BaseAllowed, CheckResult::Pass, reason, evidence)
    }

    /// "built on X" (one base for all platforms) or each platform with its base.
    fn allowed_reason(&self, built_on: &[BuiltOn]) -> String {
        let same = built_on
            .windows(2)
            .all(|w| w[0].2.digest == w[1].2.digest && w[0].2.name == w[1].2.name);
        if same || !self.multi {
            let (_, _, c) = built_on[0];
            let mut r = format!("built on {}", short(c));
            if self.found.hints.iter().any(|h| hint_names(h, c)) {
                r.push_str(", as its provenance says");
            }
            if self.multi {
                r.push_str(&format!(" (all {} platforms)", built_on.len()));
            }
            r
        } else {
            format!(
                "built on allowed bases: {}",
                built_on
                    .iter()
                    .map(|(p, _, c)| format!("{} on {}", p.platform_name(), short(c)))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    }

    /// Not built on an allowed base (for at least one platform): say what was compared.
    fn not_allowed(
        &self,
        missing: &[&PlatformLayers],
        evidence: BaseImageReport,
        deny_errors: Vec<String>,
    ) -> Check {
        let all: Vec<&Candidate> = self
            .rule
            .allow
            .iter()
            .filter_map(|p| self.found.patterns.get(&p.text))
            .flat_map(|pc| pc.candidates.iter())
            .collect();
        let mut reason = self.compared(missing, &all);
        self.explain_claims(&all, &mut reason);
        let mut errors = self.errors_of(&self.rule.allow);
        errors.extend(deny_errors);
        let allow_truncated = self.truncated_of(&self.rule.allow);
        if !allow_truncated.is_empty() {
            // An allowed base among the candidates a bound left out might have matched.
            self.check(
                CheckCode::EvidenceTruncated,
                CheckResult::Error,
                super::cut_short(&allow_truncated, &reason),
                evidence,
            )
        } else if errors.is_empty() {
            self.check(
                CheckCode::BaseNotAllowed,
                CheckResult::Fail,
                reason,
                evidence,
            )
        } else {
            reason.push_str(&format!(
                ". Some candidates could not be resolved, so this is not a verdict: {}",
                errors.join("; ")
            ));
            self.check(
                CheckCode::EvidenceUnavailable,
                CheckResult::Error,
                reason,
                evidence,
            )
        }
    }

    /// Per missing platform: how many allowed candidates it was compared with, naming a few.
    fn compared(&self, missing: &[&PlatformLayers], all: &[&Candidate]) -> String {
        let mut parts = Vec::new();
        for p in missing {
            let mut s = format!(
                "{}no allowed base matched: compared with {} candidate{}",
                self.on(p),
                all.len(),
                if all.len() == 1 { "" } else { "s" }
            );
            if !all.is_empty() {
                let named: Vec<String> = all.iter().take(MAX_NAMED).map(|c| short(c)).collect();
                s.push_str(&format!(" ({}", named.join(", ")));
                if all.len() > MAX_NAMED {
                    s.push_str(&format!(", and {} more", all.len() - MAX_NAMED));
                }
                s.push(')');
            }
            parts.push(s);
        }
        parts.join("; ")
    }

    /// What the annotation, the provenance and the patterns' notes claim, after the reason.
    fn explain_claims(&self, all: &[&Candidate], reason: &mut String) {
        if let Some(a) = &self.found.annotation {
            let claimed = a
                .name
                .clone()
                .or_else(|| a.digest.clone())
                .unwrap_or_default();
            let named = all.iter().find(|c| annotation_names(a, c));
            match named {
                Some(c) => reason.push_str(&format!(
                    "; the annotation claims base {claimed} but the image's layers do not begin with its {} layers",
                    c.layer_count()
                )),
                None if annotation_covered(a, &self.rule.allow) => reason.push_str(&format!(
                    "; the annotation claims base {claimed}, which could not be resolved"
                )),
                None => reason.push_str(&format!(
                    "; the annotation claims base {claimed}, which no `baseImages.allow` pattern covers (an annotation alone never passes)"
                )),
            }
        }
        // A provenance that names a candidate the layers contradict is worth saying; images it
        // lists that no pattern covers (builder stages, tools) are only in the evidence.
        for h in &self.found.hints {
            if let Some(c) = all.iter().find(|c| hint_names(h, c)) {
                reason.push_str(&format!(
                    "; the provenance lists base {} but the image's layers do not begin with its {} layers",
                    h.name,
                    c.layer_count()
                ));
            }
        }
        let notes: Vec<String> = self
            .rule
            .allow
            .iter()
            .filter_map(|p| self.found.patterns.get(&p.text).map(|pc| (p, pc)))
            .filter(|(_, pc)| !pc.notes.is_empty())
            .map(|(p, pc)| format!("`{}`: {}", p.text, pc.notes.join("; ")))
            .collect();
        if !notes.is_empty() {
            reason.push_str(&format!(". {}", notes.join(". ")));
        }
    }
}

/// Whether a provenance hint names `candidate` (by digest, else by name).
fn hint_names(hint: &crate::evidence::base_hints::BaseHint, candidate: &Candidate) -> bool {
    hint.digest.as_deref() == Some(candidate.digest.as_str()) || hint.name == candidate.name
}

/// Whether the annotated base falls under one of `patterns` (so it was a candidate).
fn annotation_covered(annotation: &BaseAnnotation, patterns: &[BasePattern]) -> bool {
    let Some(name) = annotation
        .name
        .as_deref()
        .and_then(|n| n.trim().parse::<ImageRef>().ok())
    else {
        return false;
    };
    let digest = annotation
        .digest
        .as_deref()
        .and_then(|d| d.trim().parse::<Digest>().ok());
    patterns.iter().any(|p| p.covers(&name, digest.as_ref()))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::evidence::base_image::PatternCandidates;
    use crate::policy::base_pattern::BasePattern;
    use crate::reference::Digest;

    fn layers(names: &[&str]) -> PlatformLayers {
        PlatformLayers {
            platform: None,
            digest: Digest::of(names.join(",").as_bytes()),
            layers: names.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn candidate(name: &str, l: &[&str]) -> Candidate {
        Candidate {
            name: name.into(),
            digest: Digest::of(name.as_bytes()),
            manifests: Arc::new(vec![layers(l)]),
        }
    }

    fn setup(
        allow: &[(&str, Vec<Candidate>, Vec<String>)],
        deny: &[(&str, Vec<Candidate>, Vec<String>)],
        image: &[&str],
    ) -> (BaseImagePolicy, BaseImageEvidence) {
        let mut found = BaseImageEvidence {
            image: vec![layers(image)],
            ..Default::default()
        };
        let mut compile = |list: &[(&str, Vec<Candidate>, Vec<String>)]| {
            list.iter()
                .map(|(p, c, e)| {
                    let pattern = BasePattern::parse(p).unwrap();
                    found.patterns.insert(
                        pattern.text.clone(),
                        PatternCandidates {
                            candidates: c.clone(),
                            notes: vec![],
                            errors: e.clone(),
                            truncated: vec![],
                        },
                    );
                    pattern
                })
                .collect::<Vec<_>>()
        };
        let allow = compile(allow);
        let deny = compile(deny);
        (BaseImagePolicy { allow, deny }, found)
    }

    #[test]
    fn pass_fail_error_and_deny() {
        let alpine = candidate("r.io/base/alpine:3.19", &["a", "b"]);
        let (rule, found) = setup(
            &[("r.io/base/alpine:3.*", vec![alpine.clone()], vec![])],
            &[],
            &["a", "b", "c"],
        );
        let c = base_image_check("p", &rule, &found);
        assert_eq!(c.result, CheckResult::Pass, "{}", c.reason);
        assert!(c
            .reason
            .starts_with("built on r.io/base/alpine:3.19 (sha256:"));

        // Same base, but a deny list that could not be read: not a pass.
        let (rule, found) = setup(
            &[("r.io/base/alpine:3.*", vec![alpine.clone()], vec![])],
            &[("r.io/base/old:*", vec![], vec!["connection refused".into()])],
            &["a", "b", "c"],
        );
        let c = base_image_check("p", &rule, &found);
        assert_eq!(c.result, CheckResult::Error, "{}", c.reason);

        // Denied base under an allowed one: deny wins.
        let (rule, found) = setup(
            &[(
                "r.io/golden/app:*",
                vec![candidate("r.io/golden/app:1", &["a", "b", "g"])],
                vec![],
            )],
            &[("r.io/base/alpine:3.*", vec![alpine.clone()], vec![])],
            &["a", "b", "g", "x"],
        );
        let c = base_image_check("p", &rule, &found);
        assert_eq!(c.result, CheckResult::Fail, "{}", c.reason);
        assert!(
            c.reason.contains("denied base r.io/base/alpine:3.19"),
            "{}",
            c.reason
        );

        // Layers out of order, an annotation naming the base: fail, saying so.
        let (rule, mut found) = setup(
            &[("r.io/base/alpine:3.*", vec![alpine.clone()], vec![])],
            &[],
            &["b", "a", "c"],
        );
        found.annotation = Some(BaseAnnotation {
            name: Some("r.io/base/alpine:3.19".into()),
            digest: None,
        });
        let c = base_image_check("p", &rule, &found);
        assert_eq!(c.result, CheckResult::Fail, "{}", c.reason);
        assert!(
            c.reason.contains("the annotation claims base r.io/base/alpine:3.19 but the image's layers do not begin with its 2 layers"),
            "{}",
            c.reason
        );

        // No match and a lookup error: error.
        let (rule, found) = setup(
            &[("r.io/base/alpine:3.*", vec![], vec!["503".into()])],
            &[],
            &["a"],
        );
        assert_eq!(
            base_image_check("p", &rule, &found).result,
            CheckResult::Error
        );

        // The image's own layers unreadable: error.
        let (rule, mut found) = setup(&[("r.io/base/alpine:3.*", vec![], vec![])], &[], &["a"]);
        found.image_error = Some("denied".into());
        assert_eq!(
            base_image_check("p", &rule, &found).result,
            CheckResult::Error
        );
    }
}
