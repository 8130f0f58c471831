//! `shipgate github-action`: the logic of `github-action/action.yml`, so that it is tested in
//! Rust rather than in shell.
//!
//! Decides one or more images, locally (`--policy`) or by asking a shipgate service
//! (`--gate-url`, authenticated with the job's GitHub OIDC token), then reports the way a step
//! does: the decisions as text on stdout, `::error`/`::warning` annotations, outputs in
//! `$GITHUB_OUTPUT` (`decision`, `digest`, `decision-json`) and a Markdown table in
//! `$GITHUB_STEP_SUMMARY`. Exit 0 pass, 1 fail (0 with `--fail-on never`), 2 usage.
//!
//! Output shapes (documented in README.md, "GitHub Actions"):
//! - `decision`: `pass` when every image passes, else `fail`.
//! - `digest`: the digests in image order, one per line (an empty line for an image whose
//!   digest could not be resolved); for one image simply its digest.
//! - `decision-json`: always a JSON array of decisions in image order, so consumers need one
//!   shape (`fromJSON(steps.gate.outputs.decision-json)[0].decision`). An image for which no
//!   decision could be obtained has a `fail` decision with one `gate-request` check saying why.

mod remote;
mod runner_env;
mod summary;

use std::io::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use clap::{ArgGroup, Args, ValueEnum};

use crate::decision::{Check, CheckCode, CheckResult, Decision};
use crate::gate::DecisionRequest;
use crate::reference::ImageRef;
use crate::setup::{open_gate, usage, FirstRefresh, GateArgs, EXIT_FAIL, EXIT_PASS};
use remote::{GateService, TokenEndpoint};
use runner_env::{append, outputs_block, random_delimiter, RunnerFiles};

/// More images than this in one step is a mistake in the workflow, not a deployment.
const MAX_IMAGES: usize = 32;
/// GitHub keeps at most 1 MiB of outputs per job; larger decisions lose their evidence first.
const MAX_DECISION_JSON_BYTES: usize = 512 * 1024;
/// The check of a decision that could not be obtained (token, network, HTTP error).
pub const NOT_DECIDED_CHECK: &str = "gate-request";

/// When the step fails.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    /// Exit 1 when the decision is fail.
    #[default]
    Fail,
    /// Report the fail (outputs, summary, annotations) but exit 0.
    Never,
}

#[derive(Args, Debug)]
#[command(group(ArgGroup::new("mode").required(true).args(["gate_url", "policy"])))]
pub struct GithubActionArgs {
    /// An image to decide. Repeatable; a value may also list several images separated by
    /// newlines, spaces or commas (the action's multi-line `image` input).
    #[arg(long = "image", required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
    /// Remote mode: the shipgate service to ask (https://, or http:// to loopback only).
    #[arg(long, value_name = "URL")]
    pub gate_url: Option<String>,
    /// Remote mode: the audience of the GitHub OIDC token.
    #[arg(long, default_value = "shipgate", requires = "gate_url")]
    pub audience: String,
    /// Local mode: a policy file or directory. Repeatable.
    #[arg(long, value_name = "FILE")]
    pub policy: Vec<PathBuf>,
    /// `never`: report a fail without failing the step.
    #[arg(long, value_enum, default_value = "fail")]
    pub fail_on: FailOn,
    /// Local mode only.
    #[command(flatten)]
    pub gate: GateArgs,
}

/// The answer for one image: a decision, or a fail standing in for one that was not obtained.
#[derive(Debug, Clone)]
pub struct ImageOutcome {
    pub decision: Decision,
    /// True when no gate answered: `decision` is a fail made here, with the reason.
    pub not_decided: bool,
}

impl ImageOutcome {
    fn not_decided(image: &str, reason: String) -> ImageOutcome {
        let check = Check::new(
            NOT_DECIDED_CHECK,
            CheckCode::GateUnreachable,
            None,
            CheckResult::Error,
            reason,
        );
        ImageOutcome {
            decision: Decision::conclude(
                image.to_string(),
                None,
                Vec::new(),
                vec![check],
                Instant::now(),
            ),
            not_decided: true,
        }
    }
}

pub async fn run(args: GithubActionArgs) -> u8 {
    let images = match image_list(&args.images) {
        Ok(images) => images,
        Err(message) => return usage(message),
    };
    let outcomes = match &args.gate_url {
        Some(gate_url) => remote_outcomes(gate_url, &args, &images).await,
        None => local_outcomes(&args, &images).await,
    };
    match outcomes {
        Ok(outcomes) => report(&outcomes, &RunnerFiles::from_env(), args.fail_on),
        Err(code) => code,
    }
}

/// Splits and validates the images; each must be a well-formed reference.
fn image_list(values: &[String]) -> Result<Vec<String>, String> {
    let images: Vec<String> = values
        .iter()
        .flat_map(|v| v.split(|c: char| c.is_whitespace() || c == ','))
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    if images.is_empty() {
        return Err("--image: no image given (the `image` input is empty)".into());
    }
    if images.len() > MAX_IMAGES {
        return Err(format!(
            "--image: {} images given, at most {MAX_IMAGES} per step",
            images.len()
        ));
    }
    for image in &images {
        if let Err(e) = image.parse::<ImageRef>() {
            return Err(format!("--image `{image}`: {e}"));
        }
    }
    Ok(images)
}

async fn local_outcomes(
    args: &GithubActionArgs,
    images: &[String],
) -> Result<Vec<ImageOutcome>, u8> {
    let policies = crate::policy_loader::load_policies(&args.policy)
        .await
        .map_err(|e| usage(e.to_string()))?;
    let gate = open_gate(policies, &args.gate, None, FirstRefresh::Wait)
        .await
        .map_err(|e| usage(format!("{e:#}")))?
        .gate;
    let decide = |image: &String| {
        let gate = gate.clone();
        let request = DecisionRequest {
            image: image.clone(),
            policy: None,
        };
        async move {
            match gate.decide(&request).await {
                Ok(decision) => ImageOutcome {
                    decision,
                    not_decided: false,
                },
                Err(e) => {
                    ImageOutcome::not_decided(&request.image, format!("could not decide: {e}"))
                }
            }
        }
    };
    Ok(futures::future::join_all(images.iter().map(decide)).await)
}

async fn remote_outcomes(
    gate_url: &str,
    args: &GithubActionArgs,
    images: &[String],
) -> Result<Vec<ImageOutcome>, u8> {
    let g = &args.gate;
    if !g.insecure_registries.is_empty()
        || g.trusted_root.is_some()
        || g.unmatched.is_some()
        || g.timeout.is_some()
    {
        return Err(usage(
            "--insecure-registry, --trusted-root, --unmatched and --timeout apply to --policy (local) mode; with --gate-url the service's configuration decides".into(),
        ));
    }
    let service = GateService::new(gate_url).map_err(|e| usage(e.to_string()))?;
    let endpoint = TokenEndpoint::from_env().map_err(|e| usage(e.to_string()))?;
    let url = service.decisions_url().to_string();
    let token = match service.oidc_token(&endpoint, &args.audience).await {
        Ok(token) => {
            // Masked before anything else runs, so no later output can show it.
            println!("::add-mask::{token}");
            let _ = std::io::stdout().flush();
            token
        }
        Err(e) => {
            eprintln!("shipgate: {e}");
            return Ok(images
                .iter()
                .map(|image| {
                    ImageOutcome::not_decided(
                        image,
                        format!("could not get a decision from {url}: {e}"),
                    )
                })
                .collect());
        }
    };
    let decisions = images
        .iter()
        .map(|image| remote_outcome(&service, image, &token, &url));
    Ok(futures::future::join_all(decisions).await)
}

async fn remote_outcome(
    service: &GateService,
    image: &str,
    token: &str,
    url: &str,
) -> ImageOutcome {
    match service.decide(image, token).await {
        Ok(decision) => ImageOutcome {
            decision,
            not_decided: false,
        },
        Err(e) => {
            eprintln!("shipgate: {image}: could not get a decision: {e}");
            ImageOutcome::not_decided(image, format!("could not get a decision from {url}: {e}"))
        }
    }
}

/// Prints, writes the runner files and picks the exit code.
fn report(outcomes: &[ImageOutcome], files: &RunnerFiles, fail_on: FailOn) -> u8 {
    let passed = outcomes.iter().all(|o| o.decision.passed());
    let outputs = match outputs_block(&[
        ("decision", if passed { "pass" } else { "fail" }.to_string()),
        ("digest", digests(outcomes)),
        ("decision-json", decision_json(outcomes)),
    ]) {
        Ok(block) => block,
        Err(e) => return usage(e.to_string()),
    };
    let markdown = summary::render(outcomes, fail_on == FailOn::Never);

    // Reasons quote registries, ECR and the service; a line of theirs must not be read as a
    // workflow command, so everything but the annotations is printed with commands stopped.
    let resume = random_delimiter();
    let mut text = format!("::stop-commands::{resume}\n");
    for o in outcomes {
        text.push_str(&o.decision.to_text());
    }
    if files.output.is_none() {
        text.push_str("\nGITHUB_OUTPUT is not set; the outputs would be:\n");
        text.push_str(&outputs);
    }
    if files.step_summary.is_none() {
        text.push_str("\nGITHUB_STEP_SUMMARY is not set; the summary would be:\n\n");
        text.push_str(&markdown);
    }
    text.push_str(&format!("::{resume}::\n"));
    for line in summary::annotations(outcomes) {
        text.push_str(&line);
        text.push('\n');
    }
    let failed = outcomes.iter().filter(|o| !o.decision.passed()).count();
    text.push_str(&if passed {
        format!("shipgate: pass ({} images)\n", outcomes.len())
    } else {
        format!(
            "shipgate: fail ({failed} of {} images failed)\n",
            outcomes.len()
        )
    });
    print!("{text}");
    let _ = std::io::stdout().flush();

    let written = files
        .output
        .as_ref()
        .map_or(Ok(()), |path| append("GITHUB_OUTPUT", path, &outputs))
        .and_then(|()| {
            files.step_summary.as_ref().map_or(Ok(()), |path| {
                append("GITHUB_STEP_SUMMARY", path, &markdown)
            })
        });
    if let Err(e) = written {
        return usage(e.to_string());
    }
    match (passed, fail_on) {
        (true, _) => EXIT_PASS,
        (false, FailOn::Never) => EXIT_PASS,
        (false, FailOn::Fail) => EXIT_FAIL,
    }
}

/// One digest per line in image order; empty for an image that was not resolved.
fn digests(outcomes: &[ImageOutcome]) -> String {
    outcomes
        .iter()
        .map(|o| o.decision.digest.as_deref().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The decisions as one compact JSON array. Over the size bound the evidence is dropped (the
/// verdicts, checks and reasons stay); if even that is too large, only the verdicts remain.
fn decision_json(outcomes: &[ImageOutcome]) -> String {
    let decisions: Vec<&Decision> = outcomes.iter().map(|o| &o.decision).collect();
    let full = serde_json::to_string(&decisions).unwrap_or_default();
    if !full.is_empty() && full.len() <= MAX_DECISION_JSON_BYTES {
        return full;
    }
    let without_evidence: Vec<Decision> = outcomes
        .iter()
        .map(|o| {
            let mut d = o.decision.clone();
            d.checks = d
                .checks
                .iter()
                .cloned()
                .map(|c| c.with_evidence(serde_json::Value::Null))
                .collect::<Vec<_>>()
                .into();
            d
        })
        .collect();
    let slim = serde_json::to_string(&without_evidence).unwrap_or_default();
    if !slim.is_empty() && slim.len() <= MAX_DECISION_JSON_BYTES {
        return slim;
    }
    let verdicts: Vec<serde_json::Value> = outcomes
        .iter()
        .map(|o| {
            serde_json::json!({
                "decision": o.decision.decision,
                "image": o.decision.image,
                "digest": o.decision.digest,
            })
        })
        .collect();
    serde_json::to_string(&verdicts).unwrap_or_else(|_| "[]".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_split_on_newlines_spaces_and_commas() {
        let images = image_list(&[
            "reg.test/a:v1\r\n\n  reg.test/b:v2 ,reg.test/c@sha256:0000000000000000000000000000000000000000000000000000000000000000".into(),
            "reg.test/d:v4".into(),
        ])
        .unwrap();
        assert_eq!(images.len(), 4);
        assert_eq!(images[0], "reg.test/a:v1");
        assert_eq!(images[3], "reg.test/d:v4");
    }

    #[test]
    fn bad_image_lists_are_usage_errors() {
        assert!(image_list(&["  \n".into()]).is_err());
        assert!(image_list(&["reg.test/UPPER:v1".into()])
            .unwrap_err()
            .contains("UPPER"));
        let many: Vec<String> = (0..=MAX_IMAGES)
            .map(|i| format!("reg.test/a:{i}"))
            .collect();
        assert!(image_list(&many).unwrap_err().contains("at most"));
    }

    #[test]
    fn decision_json_is_an_array_in_image_order_and_bounded() {
        let a = ImageOutcome::not_decided("reg.test/a:v1", "no".into());
        let big = "x".repeat(MAX_DECISION_JSON_BYTES);
        let mut b = ImageOutcome::not_decided("reg.test/b:v1", "no".into());
        b.decision.checks = vec![Check::new(
            "signature",
            crate::decision::CheckCode::SignatureMissing,
            None,
            CheckResult::Fail,
            "r".into(),
        )
        .with_evidence(serde_json::json!({ "big": big }))]
        .into();
        let v: serde_json::Value =
            serde_json::from_str(&decision_json(std::slice::from_ref(&a))).unwrap();
        assert_eq!(v[0]["image"], "reg.test/a:v1");
        assert_eq!(v[0]["checks"][0]["check"], NOT_DECIDED_CHECK);
        let json = decision_json(&[a, b]);
        assert!(json.len() <= MAX_DECISION_JSON_BYTES);
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v[1]["image"], "reg.test/b:v1");
        assert_eq!(v[1]["checks"][0]["reason"], "r");
        assert!(v[1]["checks"][0].get("evidence").is_none());
    }

    #[test]
    fn decision_json_keeps_only_verdicts_when_the_reasons_are_too_large() {
        let reason = "y".repeat(MAX_DECISION_JSON_BYTES / 2);
        let outcomes: Vec<ImageOutcome> = ["reg.test/a:v1", "reg.test/b:v1"]
            .iter()
            .map(|image| {
                // Set after the decision is built: `Decision::conclude` bounds reasons itself
                // (4 KiB), and this is about what the step does when they are still too large.
                let mut o = ImageOutcome::not_decided(image, String::new());
                o.decision.checks = o
                    .decision
                    .checks
                    .iter()
                    .cloned()
                    .map(|mut c| {
                        c.reason = reason.clone();
                        c
                    })
                    .collect::<Vec<_>>()
                    .into();
                o
            })
            .collect();
        let json = decision_json(&outcomes);
        assert!(json.len() <= MAX_DECISION_JSON_BYTES);
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v[1]["image"], "reg.test/b:v1");
        assert_eq!(v[1]["decision"], "fail");
        assert!(v[1].get("checks").is_none(), "{json}");
    }
}
