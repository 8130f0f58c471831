//! The `base-image` check: is every platform of the image built on an allowed base (its layers
//! begin with the base's complete layer list) and on no denied one? Pure: no I/O.

use serde_json::json;

use crate::decision::{Check, CheckCode, CheckResult};
use crate::evidence::base_image::{
    annotation_names, BaseAnnotation, BaseImageEvidence, Candidate, PlatformLayers,
};
use crate::policy::base_pattern::BasePattern;
use crate::policy::BaseImagePolicy;
use crate::reference::{Digest, ImageRef};

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
    let check = |code, result, reason: String, evidence| {
        Check::new("base-image", code, Some(policy), result, reason).with_evidence(evidence)
    };
    let candidates_json = |patterns: &[BasePattern]| {
        patterns
            .iter()
            .map(|p| {
                let pc = found.patterns.get(&p.text).cloned().unwrap_or_default();
                json!({
                    "pattern": p.text,
                    "candidates": pc.candidates.iter().map(|c| json!({
                        "name": c.name,
                        "digest": c.digest.as_str(),
                        "layers": c.layer_count(),
                    })).collect::<Vec<_>>(),
                    "notes": pc.notes,
                    "errors": pc.errors,
                    "truncated": pc.truncated,
                })
            })
            .collect::<Vec<_>>()
    };
    let mut evidence = json!({
        "image": found.image.iter().map(|p| json!({
            "platform": p.platform.as_ref().map(|x| x.to_string()),
            "digest": p.digest.as_str(),
            "layers": p.layers.len(),
        })).collect::<Vec<_>>(),
        "annotation": found.annotation,
        "provenance_hints": found.hints,
        "allow": candidates_json(&rule.allow),
        "deny": candidates_json(&rule.deny),
    });
    if let Some(e) = &found.image_error {
        return check(
            CheckCode::EvidenceUnavailable,
            CheckResult::Error,
            format!("could not read the image's layers: {e}"),
            evidence,
        );
    }
    let errors_of = |patterns: &[BasePattern]| -> Vec<String> {
        patterns
            .iter()
            .filter_map(|p| found.patterns.get(&p.text))
            .flat_map(|pc| pc.errors.iter().cloned())
            .collect()
    };
    let multi = found.image.len() > 1;
    let on = |p: &PlatformLayers| {
        if multi {
            format!("{}: ", p.platform_name())
        } else {
            String::new()
        }
    };

    // Deny wins: any platform on a denied base fails, whatever else matches.
    let mut denied = Vec::new();
    for p in &found.image {
        if let Some((pattern, c)) = matches(&rule.deny, found, p).first() {
            denied.push(format!(
                "{}built on denied base {} (deny pattern `{pattern}`)",
                on(p),
                short(c)
            ));
        }
    }
    if !denied.is_empty() {
        evidence["denied"] = json!(denied);
        return check(
            CheckCode::BaseDenied,
            CheckResult::Fail,
            format!("{}; `deny` wins over `allow`", denied.join("; ")),
            evidence,
        );
    }
    let deny_errors = errors_of(&rule.deny);
    let truncated_of = |patterns: &[BasePattern]| -> Vec<String> {
        patterns
            .iter()
            .filter_map(|p| found.patterns.get(&p.text))
            .flat_map(|pc| pc.truncated.iter().cloned())
            .collect()
    };
    let deny_truncated = truncated_of(&rule.deny);

    let mut built_on = Vec::new();
    let mut missing = Vec::new();
    for p in &found.image {
        match matches(&rule.allow, found, p).first() {
            Some((pattern, c)) => built_on.push((p, *pattern, *c)),
            None => missing.push(p),
        }
    }
    evidence["built_on"] = json!(built_on
        .iter()
        .map(|(p, pattern, c)| json!({
            "platform": p.platform.as_ref().map(|x| x.to_string()),
            "base": c.name,
            "digest": c.digest.as_str(),
            "pattern": pattern,
        }))
        .collect::<Vec<_>>());

    if missing.is_empty() {
        let same = built_on
            .windows(2)
            .all(|w| w[0].2.digest == w[1].2.digest && w[0].2.name == w[1].2.name);
        let mut reason = if same || !multi {
            let (_, _, c) = built_on[0];
            let mut r = format!("built on {}", short(c));
            if found.hints.iter().any(|h| hint_names(h, c)) {
                r.push_str(", as its provenance says");
            }
            if multi {
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
        };
        if !deny_errors.is_empty() {
            reason.push_str(&format!(
                "; but the denied bases could not all be resolved, so a denied base cannot be ruled out: {}",
                deny_errors.join("; ")
            ));
            return check(
                CheckCode::EvidenceUnavailable,
                CheckResult::Error,
                reason,
                evidence,
            );
        }
        if !deny_truncated.is_empty() {
            // A denied base among the candidates a bound left out cannot be ruled out.
            return check(
                CheckCode::EvidenceTruncated,
                CheckResult::Error,
                super::cut_short(
                    &deny_truncated,
                    &format!("{reason}, and no denied base among the candidates read"),
                ),
                evidence,
            );
        }
        return check(CheckCode::BaseAllowed, CheckResult::Pass, reason, evidence);
    }

    // Not built on an allowed base (for at least one platform): say what was compared.
    let all: Vec<&Candidate> = rule
        .allow
        .iter()
        .filter_map(|p| found.patterns.get(&p.text))
        .flat_map(|pc| pc.candidates.iter())
        .collect();
    let mut parts = Vec::new();
    for p in &missing {
        let mut s = format!(
            "{}no allowed base matched: compared with {} candidate{}",
            on(p),
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
    let mut reason = parts.join("; ");
    if let Some(a) = &found.annotation {
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
            None if annotation_covered(a, &rule.allow) => reason.push_str(&format!(
                "; the annotation claims base {claimed}, which could not be resolved"
            )),
            None => reason.push_str(&format!(
                "; the annotation claims base {claimed}, which no `baseImages.allow` pattern covers (an annotation alone never passes)"
            )),
        }
    }
    // A provenance that names a candidate the layers contradict is worth saying; images it
    // lists that no pattern covers (builder stages, tools) are only in the evidence.
    for h in &found.hints {
        if let Some(c) = all.iter().find(|c| hint_names(h, c)) {
            reason.push_str(&format!(
                "; the provenance lists base {} but the image's layers do not begin with its {} layers",
                h.name,
                c.layer_count()
            ));
        }
    }
    let notes: Vec<String> = rule
        .allow
        .iter()
        .filter_map(|p| found.patterns.get(&p.text).map(|pc| (p, pc)))
        .filter(|(_, pc)| !pc.notes.is_empty())
        .map(|(p, pc)| format!("`{}`: {}", p.text, pc.notes.join("; ")))
        .collect();
    if !notes.is_empty() {
        reason.push_str(&format!(". {}", notes.join(". ")));
    }
    let mut errors = errors_of(&rule.allow);
    errors.extend(deny_errors);
    let allow_truncated = truncated_of(&rule.allow);
    if !allow_truncated.is_empty() {
        // An allowed base among the candidates a bound left out might have matched.
        check(
            CheckCode::EvidenceTruncated,
            CheckResult::Error,
            super::cut_short(&allow_truncated, &reason),
            evidence,
        )
    } else if errors.is_empty() {
        check(
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
        check(
            CheckCode::EvidenceUnavailable,
            CheckResult::Error,
            reason,
            evidence,
        )
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
