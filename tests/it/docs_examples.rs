//! Every example in the documentation is checked (issue 12): the README's quick start is run and
//! its output compared with what the README shows; every YAML block of README.md and docs/*.md
//! that is a policy or a `serve --config` file must load; every JSON block must parse, and
//! decision requests and decisions must have their types' shape.
//!
//! A block that is deliberately partial is preceded by `<!-- not-checked: reason -->`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use regex::Regex;
use serde_yaml::Value as Yaml;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// README.md, then docs/*.md in name order.
fn doc_files() -> Vec<PathBuf> {
    let mut docs: Vec<PathBuf> = std::fs::read_dir(repo().join("docs"))
        .expect("docs/")
        .map(|e| e.expect("docs/ entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    let mut files = vec![repo().join("README.md")];
    files.extend(docs);
    files
}

/// One fenced code block of a Markdown file.
#[derive(Debug)]
struct Block {
    /// `docs/policies.md:42` (the opening fence).
    at: String,
    /// The info string's first word: `yaml`, `json`, `sh`, `console`, …
    lang: String,
    body: String,
    /// The reason of a `<!-- not-checked: reason -->` comment right before the block.
    not_checked: Option<String>,
}

fn blocks_of(file: &Path) -> Vec<Block> {
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let name = file
        .strip_prefix(repo())
        .unwrap_or(file)
        .display()
        .to_string();
    let marker = Regex::new(r"^<!--\s*not-checked:\s*(.*?)\s*-->$").unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut blocks = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let trimmed = lines[i].trim_start();
        let indent = lines[i].len() - trimmed.len();
        if let Some(info) = trimmed.strip_prefix("```") {
            let lang = info.split_whitespace().next().unwrap_or("").to_lowercase();
            let not_checked = lines[..i]
                .iter()
                .rev()
                .find(|l| !l.trim().is_empty())
                .and_then(|l| marker.captures(l.trim()))
                .map(|c| c[1].to_string());
            let start = i;
            let mut body = String::new();
            i += 1;
            while i < lines.len() && lines[i].trim() != "```" {
                let line = lines[i];
                let cut = line.len() - line.trim_start().len();
                body.push_str(&line[cut.min(indent)..]);
                body.push('\n');
                i += 1;
            }
            assert!(i < lines.len(), "{name}:{}: unclosed code block", start + 1);
            blocks.push(Block {
                at: format!("{name}:{}", start + 1),
                lang,
                body,
                not_checked,
            });
        }
        i += 1;
    }
    blocks
}

fn all_blocks() -> Vec<Block> {
    doc_files().iter().flat_map(|f| blocks_of(f)).collect()
}

/// A deliberately partial block must say why.
fn skipped(block: &Block) -> bool {
    match &block.not_checked {
        Some(reason) => {
            assert!(
                !reason.is_empty(),
                "{}: `not-checked` needs a reason",
                block.at
            );
            true
        }
        None => false,
    }
}

/// The top-level keys of `ServeConfig`, from its JSON Schema (so a new field needs no test edit).
fn serve_config_keys() -> BTreeSet<String> {
    let schema = serde_json::to_value(schemars::schema_for!(shipgate::config::ServeConfig))
        .expect("ServeConfig schema");
    let keys: BTreeSet<String> = schema["properties"]
        .as_object()
        .expect("ServeConfig schema has properties")
        .keys()
        .cloned()
        .collect();
    assert!(
        keys.contains("policies") && keys.contains("auth"),
        "{keys:?}"
    );
    keys
}

/// Top-level keys of a GitHub Actions workflow, or of the part of one that a snippet shows.
const WORKFLOW_KEYS: &[&str] = &[
    "name",
    "run-name",
    "on",
    "permissions",
    "env",
    "defaults",
    "concurrency",
    "jobs",
    "steps",
];

#[derive(Default, Debug)]
struct YamlCount {
    policies: usize,
    serve_configs: usize,
    workflows: usize,
    cloudformation: usize,
    not_checked: usize,
}

#[test]
fn yaml_examples_are_valid_policies_and_serve_configs() {
    let config_keys = serve_config_keys();
    // As if the block were a file in policies/: `keyRef: keys/release.pub` resolves.
    let policy_path = repo().join("policies").join("docs-example.yaml");
    let mut n = YamlCount::default();
    let mut problems = Vec::new();
    for block in all_blocks() {
        if !matches!(block.lang.as_str(), "yaml" | "yml") {
            continue;
        }
        if skipped(&block) {
            n.not_checked += 1;
            continue;
        }
        let value: Yaml = match serde_yaml::from_str(&block.body) {
            Ok(v) => v,
            Err(e) => {
                problems.push(format!("{}: not YAML: {e}", block.at));
                continue;
            }
        };
        let Some(map) = value.as_mapping() else {
            problems.push(format!("{}: not a mapping at the top level", block.at));
            continue;
        };
        let keys: BTreeSet<String> = map
            .keys()
            .map(|k| k.as_str().unwrap_or("<not a string>").to_string())
            .collect();
        let has = |k: &str| keys.contains(k);
        if has("Resources") || has("AWSTemplateFormatVersion") {
            n.cloudformation += 1;
        } else if has("name") && has("images") {
            match shipgate::policy::Policy::from_yaml(&block.body, &policy_path) {
                Ok(_) => n.policies += 1,
                Err(e) => problems.push(format!("{}: policy does not load: {e}", block.at)),
            }
        } else if keys.iter().all(|k| config_keys.contains(k)) {
            match serde_yaml::from_str::<shipgate::config::ServeConfig>(&block.body) {
                Ok(config) => {
                    // What `ServeConfig::load` refuses before anything listens.
                    let auth = config.auth.as_ref().map(shipgate::auth::validate_config);
                    match auth {
                        Some(Err(e)) => {
                            problems.push(format!("{}: serve config: auth: {e}", block.at))
                        }
                        _ => n.serve_configs += 1,
                    }
                }
                Err(e) => problems.push(format!("{}: not a serve config: {e}", block.at)),
            }
        } else if keys.iter().all(|k| WORKFLOW_KEYS.contains(&k.as_str())) {
            n.workflows += 1;
        } else {
            problems.push(format!(
                "{}: a YAML block that is neither a policy (name + images), a serve config \
                 ({config_keys:?}), a GitHub workflow nor CloudFormation: keys {keys:?}; fix it or \
                 mark it `<!-- not-checked: reason -->`",
                block.at
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    eprintln!("YAML blocks checked: {n:?}");
    // Found nothing is a failure: the policies of docs/policies.md and docs/releases.md, the
    // configurations of docs/http-api.md and docs/auth.md, the workflows of docs/github-action.md
    // and docs/auth.md, the CloudFormation of docs/codepipeline.md.
    assert!(n.policies >= 5, "{n:?}");
    assert!(n.serve_configs >= 2, "{n:?}");
    assert!(n.workflows >= 3, "{n:?}");
    assert!(n.cloudformation >= 1, "{n:?}");
    assert!(
        n.not_checked <= 3,
        "`not-checked` is for the odd partial block: {n:?}"
    );
}

#[test]
fn json_examples_parse_and_requests_are_decision_requests() {
    let mut json_blocks = 0;
    let mut decisions = 0;
    let mut requests = Vec::new();
    let mut problems = Vec::new();
    // `curl … -d '{"image":…}'` in shell and workflow examples: the body of a decision request.
    let curl_body = Regex::new(r#"-d\s+'(\{[^']*\})'"#).unwrap();
    for block in all_blocks() {
        if skipped(&block) {
            continue;
        }
        for body in curl_body.captures_iter(&block.body) {
            requests.push((block.at.clone(), body[1].to_string()));
        }
        if block.lang != "json" {
            continue;
        }
        let value: serde_json::Value = match serde_json::from_str(&block.body) {
            Ok(v) => v,
            Err(e) => {
                problems.push(format!("{}: not JSON: {e}", block.at));
                continue;
            }
        };
        json_blocks += 1;
        let Some(object) = value.as_object() else {
            continue;
        };
        if object.contains_key("decision") && object.contains_key("checks") {
            match serde_json::from_value::<shipgate::decision::Decision>(value.clone()) {
                Ok(_) => decisions += 1,
                Err(e) => problems.push(format!("{}: not a decision: {e}", block.at)),
            }
        } else if object.contains_key("image")
            && object.keys().all(|k| k == "image" || k == "policy")
        {
            requests.push((block.at.clone(), block.body.clone()));
        }
    }
    for (at, body) in &requests {
        if let Err(e) = serde_json::from_str::<shipgate::gate::DecisionRequest>(body) {
            problems.push(format!("{at}: not a decision request: {e}: {body}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    eprintln!(
        "JSON blocks checked: {json_blocks} ({decisions} decisions), decision requests: {}",
        requests.len()
    );
    // The README's decision; the UserParameters, EventBridge patterns and IAM policy of
    // docs/codepipeline.md and docs/quarantine.md; the requests of README.md and docs/auth.md.
    assert!(json_blocks >= 6, "{json_blocks} JSON blocks");
    assert!(decisions >= 1, "{decisions} decisions");
    assert!(requests.len() >= 3, "{requests:?}");
}

/// The quick start's seeder as `cargo test` builds it: `examples/seed_demo` next to the shipgate
/// binary's directory. `cargo test --test it` builds no examples, so it is built here if missing.
fn seed_demo_binary() -> PathBuf {
    let shipgate = Path::new(env!("CARGO_BIN_EXE_shipgate"));
    let profile_dir = shipgate.parent().expect("the binary's directory");
    let seed = profile_dir
        .join("examples")
        .join(format!("seed_demo{}", std::env::consts::EXE_SUFFIX));
    if !seed.exists() {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut build = Command::new(cargo);
        build
            .args(["build", "--quiet", "--example", "seed_demo", "--target-dir"])
            .arg(profile_dir.parent().expect("the target directory"))
            .current_dir(repo());
        if profile_dir.file_name().is_some_and(|p| p == "release") {
            build.arg("--release");
        }
        let status = build.status().expect("run cargo build --example seed_demo");
        assert!(
            status.success(),
            "cargo build --example seed_demo: {status}"
        );
    }
    assert!(seed.exists(), "{} is missing", seed.display());
    seed
}

/// Ports, digests and key hashes differ from run to run.
fn normalize(text: &str) -> Vec<String> {
    let port = Regex::new(r"127\.0\.0\.1:\d+").unwrap();
    let hex = Regex::new(r"sha256([:-])[0-9a-f]{64}").unwrap();
    text.lines()
        .map(|l| {
            let l = port.replace_all(l, "127.0.0.1:PORT");
            hex.replace_all(&l, "sha256${1}HEX").trim_end().to_string()
        })
        .collect()
}

/// What the README shows after `$ ./scripts/demo.sh`, without the script's own progress lines
/// on stderr (`demo.sh: …`).
fn readme_demo_output() -> String {
    let block = blocks_of(&repo().join("README.md"))
        .into_iter()
        .find(|b| b.lang == "console" && b.body.starts_with("$ ./scripts/demo.sh\n"))
        .expect("README.md shows `$ ./scripts/demo.sh` and its output in a ```console block");
    block
        .body
        .lines()
        .skip(1)
        .filter(|l| !l.starts_with("demo.sh: "))
        .map(|l| format!("{l}\n"))
        .collect()
}

#[test]
fn quick_start_demo_passes_the_signed_image_and_fails_the_unsigned_one_as_the_readme_shows() {
    let out = Command::new("bash")
        .arg(repo().join("scripts/demo.sh"))
        .env("SHIPGATE_BIN", env!("CARGO_BIN_EXE_shipgate"))
        .env("SEED_DEMO_BIN", seed_demo_binary())
        .current_dir(repo())
        .output()
        .expect("run scripts/demo.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "scripts/demo.sh: {}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    let got = normalize(&stdout);
    let has = |prefix: &str| got.iter().any(|l| l.starts_with(prefix));
    assert!(
        has("PASS  127.0.0.1:PORT/demo/app:signed  (sha256:HEX)"),
        "{stdout}"
    );
    assert!(
        has("  pass  demo/signature [signature-verified]: signed by 1 of the 1 required authority: `release`"),
        "{stdout}"
    );
    assert!(
        has("FAIL  127.0.0.1:PORT/demo/app:unsigned  (sha256:HEX)"),
        "{stdout}"
    );
    assert!(
        has("  FAIL  demo/signature [signature-missing]: no signatures found for sha256:HEX"),
        "{stdout}"
    );
    assert!(
        has("demo: ok (signed: pass, exit 0; unsigned: fail, exit 1)"),
        "{stdout}"
    );
    let want = normalize(&readme_demo_output());
    assert!(
        got == want,
        "README.md's quick start output is not what scripts/demo.sh prints (ports and digests \
         aside); paste the real output into README.md\n--- README.md\n{}\n--- scripts/demo.sh\n{}",
        want.join("\n"),
        got.join("\n")
    );
}
