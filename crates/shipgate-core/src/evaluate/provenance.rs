//! The `provenance` check: a SLSA provenance attestation about this digest, signed by an
//! authority of the policy, whose builder, build type and source match the policy.

use serde_json::Value;

use crate::decision::{Check, CheckCode, CheckResult};

const CHECK: &str = "provenance";
use crate::evidence::attestations::AttestationCollection;
use crate::policy::{Matcher, ProvenancePolicy, SLSA_PROVENANCE_V02};
use crate::reference::Digest;
use crate::verify::{Subject, VerifiedAttestation, Verifier};

/// Most distinct rejection reasons quoted in a reason.
const MAX_REASONS: usize = 6;

/// The evidence of a `provenance` check.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct ProvenanceReport {
    /// The SLSA predicate type the rule requires.
    pub predicate_type: String,
    pub authorities: Vec<String>,
    /// Every attestation that verified for an authority, whatever its predicate.
    pub verified: Vec<VerifiedProvenance>,
    /// The verified provenance of the required type: its facts and how they differ from the rule.
    pub provenance: Vec<ProvenanceFacts>,
    /// Attestations that verified for no authority, and why.
    pub rejected: Vec<RejectedAttestation>,
    /// `requirePredicates` with no verified attestation.
    pub missing_predicates: Vec<String>,
    pub attestations_found: usize,
    pub looked_at: Vec<String>,
    pub lookup_errors: Vec<String>,
    pub truncated: Vec<String>,
}

/// An attestation that verified.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct VerifiedProvenance {
    pub predicate_type: String,
    pub authority: String,
    pub signer: String,
    pub issuer: Option<String>,
    pub tlog_index: Option<u64>,
    pub source: String,
}

/// A verified provenance of the required type.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct ProvenanceFacts {
    pub source: String,
    pub facts: BuildFacts,
    /// How the facts differ from the rule (empty: it meets the rule).
    pub mismatches: Vec<String>,
}

/// An attestation that did not verify.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct RejectedAttestation {
    pub source: String,
    pub reason: String,
}

/// What a provenance predicate says about the build, for SLSA v1 and v0.2.
#[derive(
    Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
pub struct BuildFacts {
    pub builder_id: Option<String>,
    pub build_type: Option<String>,
    pub source_repository: Option<String>,
    pub source_ref: Option<String>,
    pub workflow_path: Option<String>,
}

fn text(v: &Value, path: &[&str]) -> Option<String> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_str().map(str::to_string)
}

/// `git+https://github.com/acme/app@refs/heads/main` → (`https://github.com/acme/app`,
/// `refs/heads/main`). A URI without `@<ref>` has no ref.
fn split_source_uri(uri: &str) -> (String, Option<String>) {
    let uri = uri.strip_prefix("git+").unwrap_or(uri);
    // The ref follows the last `@` after the host (an `@` in user-info precedes the host).
    let after_scheme = uri.find("://").map(|i| i + 3).unwrap_or(0);
    let host_end = uri[after_scheme..]
        .find('/')
        .map(|i| after_scheme + i)
        .unwrap_or(uri.len());
    match uri[host_end..].rfind('@') {
        Some(i) => (
            uri[..host_end + i].to_string(),
            Some(uri[host_end + i + 1..].to_string()),
        ),
        None => (uri.to_string(), None),
    }
}

/// Reads the facts from a provenance predicate of `predicate_type`.
pub fn build_facts(predicate_type: &str, predicate: &Value) -> BuildFacts {
    let mut f = BuildFacts::default();
    if predicate_type == SLSA_PROVENANCE_V02 {
        f.builder_id = text(predicate, &["builder", "id"]);
        f.build_type = text(predicate, &["buildType"]);
        let config = text(predicate, &["invocation", "configSource", "uri"]).or_else(|| {
            predicate
                .get("materials")
                .and_then(Value::as_array)
                .and_then(|m| m.first())
                .and_then(|m| text(m, &["uri"]))
        });
        if let Some(uri) = config {
            let (repo, r) = split_source_uri(&uri);
            f.source_repository = Some(repo);
            f.source_ref = r;
        }
        f.workflow_path = text(predicate, &["invocation", "configSource", "entryPoint"]);
        return f;
    }
    // SLSA v1.
    f.builder_id = text(predicate, &["runDetails", "builder", "id"]);
    f.build_type = text(predicate, &["buildDefinition", "buildType"]);
    let ext = predicate
        .get("buildDefinition")
        .and_then(|b| b.get("externalParameters"))
        .cloned()
        .unwrap_or(Value::Null);
    if let Some(wf) = ext.get("workflow").filter(|w| w.is_object()) {
        // GitHub Actions build types (actions.github.io, slsa-framework github-actions-buildtypes).
        f.source_repository = text(wf, &["repository"]).map(|r| split_source_uri(&r).0);
        f.source_ref = text(wf, &["ref"]);
        f.workflow_path = text(wf, &["path"]);
    }
    if f.source_repository.is_none() {
        let source = match ext.get("source") {
            Some(Value::String(s)) => Some(s.clone()),
            Some(o @ Value::Object(_)) => text(o, &["uri"]),
            _ => None,
        }
        .or_else(|| {
            predicate
                .get("buildDefinition")
                .and_then(|b| b.get("resolvedDependencies"))
                .and_then(Value::as_array)
                .and_then(|d| d.first())
                .and_then(|d| text(d, &["uri"]))
        });
        if let Some(uri) = source {
            let (repo, r) = split_source_uri(&uri);
            f.source_repository = Some(repo);
            if f.source_ref.is_none() {
                f.source_ref = r;
            }
        }
    }
    f
}

/// Every way `facts` breaks the policy, as sentences; empty when it complies.
pub fn mismatches(rule: &ProvenancePolicy, facts: &BuildFacts) -> Vec<String> {
    let mut out = Vec::new();
    let mut field = |what: &str, want: &Option<Matcher>, have: &Option<String>| {
        let Some(want) = want else { return };
        match have {
            None => out.push(format!(
                "the provenance names no {what}, and the policy requires `{want}`"
            )),
            Some(h) if !want.matches(h) => {
                out.push(format!("provenance {what} `{h}` is not `{want}`"))
            }
            Some(_) => {}
        }
    };
    field("builder", &rule.builder_id, &facts.builder_id);
    field("build type", &rule.build_type, &facts.build_type);
    field(
        "source repository",
        &rule.source_repository,
        &facts.source_repository,
    );
    field("source ref", &rule.source_ref, &facts.source_ref);
    field("workflow", &rule.workflow_path, &facts.workflow_path);
    out
}

/// The `provenance` check.
pub fn provenance_check(
    policy: &str,
    rule: &ProvenancePolicy,
    digest: &Digest,
    found: &AttestationCollection,
    verifier: &Verifier,
) -> Check {
    let (verified, rejected) = verify_all(rule, digest, found, verifier);
    let judged = Judged::new(rule, found, &verified, rejected);
    let evidence = judged.evidence();

    let good = judged.candidates.iter().find(|(_, _, p)| p.is_empty());
    if let (Some((v, facts, _)), true) = (good, judged.missing_predicates.is_empty()) {
        return Check::new(
            CHECK,
            CheckCode::ProvenanceVerified,
            Some(policy),
            CheckResult::Pass,
            judged.pass_reason(v, facts),
        )
        .with_report(&evidence);
    }
    let (code, result, reason) = judged.failure(digest, good.is_some());
    Check::new(CHECK, code, Some(policy), result, reason).with_report(&evidence)
}

/// Verifies each attestation against the rule's authorities: the verified ones, and the
/// (source, reason) of those that verified for no authority.
fn verify_all(
    rule: &ProvenancePolicy,
    digest: &Digest,
    found: &AttestationCollection,
    verifier: &Verifier,
) -> (Vec<VerifiedAttestation>, Vec<(String, String)>) {
    let subject = Subject::sha256(digest);
    let mut verified: Vec<VerifiedAttestation> = Vec::new();
    let mut rejected: Vec<(String, String)> = Vec::new();
    for artifact in &found.artifacts {
        let results = verifier.verify_attestation(artifact, &subject, &rule.authorities);
        let mut reasons = Vec::new();
        let mut ok = None;
        for r in results {
            match r {
                Ok(v) => {
                    ok = Some(v);
                    break;
                }
                Err(e) => reasons.push(e.reason),
            }
        }
        match ok {
            Some(v) => verified.push(v),
            None => {
                reasons.dedup();
                rejected.push((artifact.source().to_string(), reasons.join("; ")));
            }
        }
    }
    (verified, rejected)
}

/// A verified provenance of the required type, its build facts and what in it the rule refuses.
type Candidate<'a> = (&'a VerifiedAttestation, BuildFacts, Vec<String>);

/// The verified attestations judged against the rule: everything the outcome is made from.
struct Judged<'a> {
    rule: &'a ProvenancePolicy,
    found: &'a AttestationCollection,
    verified: &'a [VerifiedAttestation],
    /// (source, reason) of attestations that verified for no authority.
    rejected: Vec<(String, String)>,
    candidates: Vec<Candidate<'a>>,
    missing_predicates: Vec<&'a String>,
}

impl<'a> Judged<'a> {
    fn new(
        rule: &'a ProvenancePolicy,
        found: &'a AttestationCollection,
        verified: &'a [VerifiedAttestation],
        rejected: Vec<(String, String)>,
    ) -> Self {
        // Judge each verified provenance of the required type.
        let mut candidates = Vec::new();
        for v in verified
            .iter()
            .filter(|v| v.predicate_type == rule.predicate_type)
        {
            let predicate = v.statement.get("predicate").cloned().unwrap_or(Value::Null);
            let facts = build_facts(&v.predicate_type, &predicate);
            let problems = mismatches(rule, &facts);
            candidates.push((v, facts, problems));
        }
        let missing_predicates: Vec<&String> = rule
            .require_predicates
            .iter()
            .filter(|t| !verified.iter().any(|v| &v.predicate_type == *t))
            .collect();
        Judged {
            rule,
            found,
            verified,
            rejected,
            candidates,
            missing_predicates,
        }
    }

    fn evidence(&self) -> ProvenanceReport {
        let (rule, found) = (self.rule, self.found);
        ProvenanceReport {
            predicate_type: rule.predicate_type.clone(),
            authorities: rule.authorities.iter().map(|a| a.name.clone()).collect(),
            verified: self
                .verified
                .iter()
                .map(|v| VerifiedProvenance {
                    predicate_type: v.predicate_type.clone(),
                    authority: v.signature.authority.clone(),
                    signer: v.signature.signer.clone(),
                    issuer: v.signature.issuer.clone(),
                    tlog_index: v.signature.tlog_index,
                    source: v.signature.source.clone(),
                })
                .collect(),
            provenance: self
                .candidates
                .iter()
                .map(|(v, facts, problems)| ProvenanceFacts {
                    source: v.signature.source.clone(),
                    facts: facts.clone(),
                    mismatches: problems.clone(),
                })
                .collect(),
            rejected: self
                .rejected
                .iter()
                .map(|(source, reason)| RejectedAttestation {
                    source: source.clone(),
                    reason: reason.clone(),
                })
                .collect(),
            missing_predicates: self
                .missing_predicates
                .iter()
                .map(|p| p.to_string())
                .collect(),
            attestations_found: found.artifacts.len(),
            looked_at: found.notes.clone(),
            lookup_errors: found.errors.clone(),
            truncated: found.truncated.clone(),
        }
    }

    /// Who signed the passing provenance, its builder and source.
    fn pass_reason(&self, v: &VerifiedAttestation, facts: &BuildFacts) -> String {
        let mut reason = format!(
            "provenance ({}) signed by `{}` ({}): builder {}",
            v.predicate_type,
            v.signature.authority,
            v.signature.signer,
            facts.builder_id.as_deref().unwrap_or("unnamed"),
        );
        if let Some(r) = &facts.source_repository {
            reason.push_str(&format!(", source {r}"));
            if let Some(r) = &facts.source_ref {
                reason.push_str(&format!("@{r}"));
            }
        }
        if !self.rule.require_predicates.is_empty() {
            reason.push_str(&format!(
                "; also attested: {}",
                self.rule.require_predicates.join(", ")
            ));
        }
        reason
    }

    /// The code, result and reason when no provenance passes (`good`: one matched the rule).
    fn failure(&self, digest: &Digest, good: bool) -> (CheckCode, CheckResult, String) {
        let (mut code, mut parts) = self.failure_parts(digest);
        if good || !self.missing_predicates.is_empty() {
            for t in &self.missing_predicates {
                parts.push(format!(
                    "required predicate {t} has no attestation signed by an authority of the policy"
                ));
            }
        }
        self.rejection_parts(&mut parts);
        let found = self.found;
        let mut reason = parts.join(". ");
        let mut result = CheckResult::Fail;
        if !found.errors.is_empty() {
            reason.push_str(&format!(
                ". Some attestation locations could not be read, so this may be incomplete: {}",
                found.errors.join("; ")
            ));
            (code, result) = (CheckCode::EvidenceUnavailable, CheckResult::Error);
        }
        // An attestation a bound left unread might have satisfied the policy.
        if !found.truncated.is_empty() {
            reason = super::cut_short(&found.truncated, &reason);
            (code, result) = (CheckCode::EvidenceTruncated, CheckResult::Error);
        }
        (code, result, reason)
    }

    /// Why no provenance of the required type passes: none found, none verified, or mismatches.
    fn failure_parts(&self, digest: &Digest) -> (CheckCode, Vec<String>) {
        let (rule, found) = (self.rule, self.found);
        let mut parts = Vec::new();
        let mut code = CheckCode::ProvenanceUnverified;
        if found.artifacts.is_empty() {
            code = CheckCode::ProvenanceMissing;
            parts.push(format!(
                "no attestations found for {digest} ({})",
                found.notes.join("; ")
            ));
        } else if self.candidates.is_empty() {
            let others: Vec<&str> = self
                .verified
                .iter()
                .map(|v| v.predicate_type.as_str())
                .collect();
            parts.push(format!(
                "no verified {} attestation for {digest} among {} found{}",
                rule.predicate_type,
                found.artifacts.len(),
                if others.is_empty() {
                    String::new()
                } else {
                    format!(" (verified: {})", others.join(", "))
                }
            ));
        } else {
            for (v, _, problems) in &self.candidates {
                if !problems.is_empty() {
                    parts.push(format!("{}: {}", v.signature.source, problems.join("; ")));
                }
            }
        }
        (code, parts)
    }

    /// One sentence per distinct rejection reason, naming every attestation it applies to.
    fn rejection_parts(&self, parts: &mut Vec<String>) {
        let mut grouped: Vec<(&str, Vec<&str>)> = Vec::new();
        for (source, why) in &self.rejected {
            match grouped.iter_mut().find(|(w, _)| *w == why.as_str()) {
                Some((_, sources)) => sources.push(source),
                None => grouped.push((why, vec![source])),
            }
        }
        for (i, (why, sources)) in grouped.iter().enumerate() {
            if i == MAX_REASONS {
                parts.push(format!("and {} more reasons", grouped.len() - i));
                break;
            }
            parts.push(format!("{}: {why}", sources.join("; ")));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_named_field_the_provenance_lacks_fails() {
        let rule = ProvenancePolicy {
            authorities: Vec::new(),
            predicate_type: crate::policy::SLSA_PROVENANCE_V1.into(),
            builder_id: Some(Matcher::Exact(
                "https://github.com/actions/runner/github-hosted".into(),
            )),
            build_type: None,
            source_repository: None,
            source_ref: Some(Matcher::Exact("refs/heads/main".into())),
            workflow_path: None,
            require_predicates: Vec::new(),
        };
        let facts = BuildFacts {
            builder_id: Some("https://github.com/x/runner@v1".into()),
            ..BuildFacts::default()
        };
        assert_eq!(
            mismatches(&rule, &facts),
            vec![
                "provenance builder `https://github.com/x/runner@v1` is not `https://github.com/actions/runner/github-hosted`".to_string(),
                "the provenance names no source ref, and the policy requires `refs/heads/main`".to_string(),
            ]
        );
    }

    #[test]
    fn github_v1_facts() {
        let p = json!({
            "buildDefinition": {
                "buildType": "https://actions.github.io/buildtypes/workflow/v1",
                "externalParameters": {"workflow": {
                    "ref": "refs/heads/main",
                    "repository": "https://github.com/acme/app",
                    "path": ".github/workflows/release.yml"}},
            },
            "runDetails": {"builder": {"id": "https://github.com/actions/runner/github-hosted"}},
        });
        let f = build_facts("https://slsa.dev/provenance/v1", &p);
        assert_eq!(
            f.builder_id.as_deref(),
            Some("https://github.com/actions/runner/github-hosted")
        );
        assert_eq!(
            f.source_repository.as_deref(),
            Some("https://github.com/acme/app")
        );
        assert_eq!(f.source_ref.as_deref(), Some("refs/heads/main"));
        assert_eq!(
            f.workflow_path.as_deref(),
            Some(".github/workflows/release.yml")
        );
    }

    #[test]
    fn v02_config_source_and_other_v1_sources() {
        let p = json!({
            "builder": {"id": "https://github.com/x/runner@v1"},
            "buildType": "bt",
            "invocation": {"configSource": {
                "uri": "git+https://github.com/acme/app@refs/heads/main",
                "entryPoint": ".github/workflows/e2e.yml"}},
        });
        let f = build_facts(SLSA_PROVENANCE_V02, &p);
        assert_eq!(
            f.builder_id.as_deref(),
            Some("https://github.com/x/runner@v1")
        );
        assert_eq!(
            f.source_repository.as_deref(),
            Some("https://github.com/acme/app")
        );
        assert_eq!(f.source_ref.as_deref(), Some("refs/heads/main"));
        assert_eq!(
            f.workflow_path.as_deref(),
            Some(".github/workflows/e2e.yml")
        );

        let v1 = json!({"buildDefinition": {"externalParameters": {},
            "resolvedDependencies": [{"uri": "git+https://gitlab.com/a/b@refs/tags/v1"}]}});
        let f = build_facts("https://slsa.dev/provenance/v1", &v1);
        assert_eq!(
            f.source_repository.as_deref(),
            Some("https://gitlab.com/a/b")
        );
        assert_eq!(f.source_ref.as_deref(), Some("refs/tags/v1"));
        assert_eq!(f.builder_id, None);
        let (r, none) = split_source_uri("https://github.com/a/b");
        assert_eq!((r.as_str(), none), ("https://github.com/a/b", None));
    }

    #[test]
    fn attestations_cut_short_by_a_bound_are_an_error_naming_it() {
        let rule = ProvenancePolicy {
            authorities: Vec::new(),
            predicate_type: crate::policy::SLSA_PROVENANCE_V1.into(),
            builder_id: None,
            build_type: None,
            source_repository: None,
            source_ref: None,
            workflow_path: None,
            require_predicates: Vec::new(),
        };
        let verifier = Verifier::new(std::sync::Arc::new(
            crate::verify::TrustRoot::public_good().unwrap(),
        ));
        let digest = Digest::of(b"image");
        let mut found = AttestationCollection::default();
        let c = provenance_check("p", &rule, &digest, &found, &verifier);
        assert_eq!(c.result, CheckResult::Fail, "{}", c.reason);
        found.truncated.push(
            "only the first 32 of 40 attestations were checked (limit max_signatures)".into(),
        );
        let c = provenance_check("p", &rule, &digest, &found, &verifier);
        assert_eq!(c.result, CheckResult::Error, "{}", c.reason);
        assert!(c.reason.starts_with("could not decide"), "{}", c.reason);
        assert!(c.reason.contains("(limit max_signatures)"), "{}", c.reason);
    }
}
