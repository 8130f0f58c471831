//! `shipgate github-action`, the real binary, as a GitHub Actions step runs it: with temporary
//! `GITHUB_OUTPUT` and `GITHUB_STEP_SUMMARY` files whose exact content is asserted.
//!
//! Local mode decides images pushed to a real `docker-registry` and signed in the test. Remote
//! mode asks the real `shipgate::server::app` (the real gate over the same registry) through a
//! small axum layer that checks the bearer token, since the server's own caller authentication
//! is built separately. GitHub's OIDC token endpoint has no local implementation, so a loopback
//! axum stub stands in for it and checks the exact wire request (path and query, `audience`,
//! `Authorization: Bearer <request token>`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::http::{header::AUTHORIZATION, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde_json::{json, Value};
use shipgate::reference::Digest;

use crate::common::cosign::{attach_legacy_signature, LegacyLayer, SigningKey};
use crate::common::oci::push_image;
use crate::common::registry::TestRegistry;
use crate::gate_harness::{gate, key_authority, policy_for};

/// What the runner gives the step: an id token request URL that already has a query string.
const REQUEST_TOKEN: &str = "runner-request-token-7f3a";
/// A JWT-shaped token that the stub issues; it must never be printed except to be masked.
const JWT: &str = "eyJhbGciOiJSUzI1NiIsImtpZCI6InRlc3QifQ.eyJzdWIiOiJyZXBvOmFjbWUvYXBwIiwiYXVkIjoic2hpcGdhdGUtdGVzdCJ9.c2lnbmF0dXJlLWJ5dGVzLXRoYXQtYXJlLW5vdC1yZWFs";
const AUDIENCE: &str = "shipgate-test";

/// A registry with `team/app:signed` (signed with `key`) and `team/app:unsigned`.
struct Fixture {
    reg: TestRegistry,
    key: SigningKey,
    signed: Digest,
    unsigned: Digest,
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        let reg = TestRegistry::start();
        let key = SigningKey::generate_p256();
        let signed = push_image(&reg.url(), "team/app", "signed").digest;
        let unsigned = push_image(&reg.url(), "team/app", "unsigned").digest;
        let reference = format!("{}/team/app", reg.host);
        attach_legacy_signature(
            &reg.url(),
            "team/app",
            &signed,
            vec![LegacyLayer::signed(&key, &reference, &signed)],
        );
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("policy.yaml"),
            fixture_policy(&reg.host, &key),
        )
        .unwrap();
        Fixture {
            reg,
            key,
            signed,
            unsigned,
            dir,
        }
    }

    fn image(&self, tag: &str) -> String {
        format!("{}/team/app:{tag}", self.reg.host)
    }

    fn policy_path(&self) -> PathBuf {
        self.dir.path().join("policy.yaml")
    }

    fn local_args(&self, images: &[String]) -> Vec<String> {
        let policy = self.policy_path().display().to_string();
        step_args(
            images,
            &["--policy", &policy, "--insecure-registry", &self.reg.host],
        )
    }
}

/// `github-action --image IMAGE… MODE…`, as the action's `Decide` step builds it.
fn step_args(images: &[String], mode: &[&str]) -> Vec<String> {
    let mut args = vec!["github-action".to_string()];
    for image in images {
        args.extend(["--image".into(), image.clone()]);
    }
    args.extend(mode.iter().map(|a| a.to_string()));
    args
}

/// Remote-mode arguments: ask `gate_url` with a token for `AUDIENCE`.
fn remote_args(images: &[String], gate_url: &str) -> Vec<String> {
    step_args(images, &["--gate-url", gate_url, "--audience", AUDIENCE])
}

/// The runner's id token variables, pointing at `token_url`.
fn token_env(token_url: &str) -> [(&'static str, &str); 2] {
    [
        ("ACTIONS_ID_TOKEN_REQUEST_URL", token_url),
        ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", REQUEST_TOKEN),
    ]
}

fn fixture_policy(host: &str, key: &SigningKey) -> String {
    policy_for(
        host,
        &format!(
            "  authorities:\n{}",
            key_authority("release", &key.public_pem(), "optional")
        ),
    )
}

/// What one run of the step left behind.
struct Step {
    code: i32,
    stdout: String,
    stderr: String,
    output: String,
    summary: String,
}

impl Step {
    /// `$GITHUB_OUTPUT` parsed the way the runner does: `name=value` and `name<<DELIM` blocks.
    fn outputs(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut lines = self.output.lines();
        while let Some(line) = lines.next() {
            if let Some((name, delimiter)) = line.split_once("<<") {
                let mut value = Vec::new();
                for l in lines.by_ref() {
                    if l == delimiter {
                        break;
                    }
                    value.push(l);
                }
                out.push((name.to_string(), value.join("\n")));
            } else if let Some((name, value)) = line.split_once('=') {
                out.push((name.to_string(), value.to_string()));
            } else {
                panic!(
                    "unparseable GITHUB_OUTPUT line {line:?} in:\n{}",
                    self.output
                );
            }
        }
        out
    }

    fn output(&self, name: &str) -> String {
        self.outputs()
            .into_iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("no output {name} in:\n{}", self.output))
            .1
    }

    fn decisions(&self) -> Vec<Value> {
        match serde_json::from_str(&self.output("decision-json")).unwrap() {
            Value::Array(a) => a,
            other => panic!("decision-json is not an array: {other}"),
        }
    }
}

/// Runs the binary with fresh runner files (pre-filled, to show that they are appended to)
/// and no inherited token variables; `env` adds variables.
fn run_step(args: &[String], env: &[(&str, &str)]) -> Step {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("output");
    let summary = dir.path().join("summary");
    std::fs::write(&output, "earlier=1\n").unwrap();
    std::fs::write(&summary, "# earlier step\n").unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_shipgate"));
    command
        .args(args)
        .env("GITHUB_OUTPUT", &output)
        .env("GITHUB_STEP_SUMMARY", &summary)
        .env_remove("ACTIONS_ID_TOKEN_REQUEST_URL")
        .env_remove("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
        .env_remove("SHIPGATE_LOG");
    for (k, v) in env {
        command.env(k, v);
    }
    let result = command.output().expect("run shipgate");
    let read = |p: &Path| std::fs::read_to_string(p).unwrap();
    let (output, summary) = (read(&output), read(&summary));
    Step {
        code: result.status.code().expect("exit code"),
        stdout: String::from_utf8(result.stdout).unwrap(),
        stderr: String::from_utf8(result.stderr).unwrap(),
        output: output
            .strip_prefix("earlier=1\n")
            .unwrap_or_else(|| panic!("GITHUB_OUTPUT was not appended to:\n{output}"))
            .to_string(),
        summary: summary
            .strip_prefix("# earlier step\n")
            .unwrap_or_else(|| panic!("GITHUB_STEP_SUMMARY was not appended to:\n{summary}"))
            .to_string(),
    }
}

fn show(step: &Step) -> String {
    format!(
        "exit {}\n--- stdout\n{}\n--- stderr\n{}\n--- output\n{}\n--- summary\n{}",
        step.code, step.stdout, step.stderr, step.output, step.summary
    )
}

// ---------------------------------------------------------------- local mode

#[test]
fn local_signed_image_passes_with_outputs_and_summary() {
    let f = Fixture::new();
    let image = f.image("signed");
    let step = run_step(&f.local_args(std::slice::from_ref(&image)), &[]);
    assert_eq!(step.code, 0, "{}", show(&step));

    let names: Vec<String> = step.outputs().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        ["decision", "digest", "decision-json"],
        "{}",
        step.output
    );
    assert_eq!(step.output("decision"), "pass");
    assert_eq!(step.output("digest"), f.signed.to_string());
    // One-line values use the plain form.
    assert!(step.output.starts_with(&format!(
        "decision=pass\ndigest={}\ndecision-json=[",
        f.signed
    )));
    let decisions = step.decisions();
    assert_eq!(decisions.len(), 1);
    assert_eq!(decisions[0]["decision"], "pass");
    assert_eq!(decisions[0]["image"], image.as_str());
    assert_eq!(decisions[0]["digest"], f.signed.to_string());

    assert!(
        step.summary.starts_with("## shipgate: ✅ pass\n"),
        "{}",
        step.summary
    );
    assert!(
        step.summary
            .contains(&format!("| `{image}` | ✅ pass | `{}` |", f.signed)),
        "{}",
        step.summary
    );
    let signature_row = step
        .summary
        .lines()
        .find(|l| l.starts_with("| `signature` | `e2e` | ✅ pass | "))
        .unwrap_or_else(|| panic!("no signature row:\n{}", step.summary));
    assert!(signature_row.contains("`release`"), "{signature_row}");
    assert!(step.summary.contains("Policies: `e2e` (enforce, `sha256:"));

    assert!(!step.stdout.contains("::error"), "{}", show(&step));
    assert!(
        step.stdout.contains(&format!("PASS  {image}")),
        "{}",
        show(&step)
    );
    assert!(
        step.stdout.ends_with("shipgate: pass (1 images)\n"),
        "{}",
        show(&step)
    );
}

#[test]
fn local_unsigned_image_fails_with_an_error_annotation() {
    let f = Fixture::new();
    let image = f.image("unsigned");
    let step = run_step(&f.local_args(std::slice::from_ref(&image)), &[]);
    assert_eq!(step.code, 1, "{}", show(&step));
    assert_eq!(step.output("decision"), "fail");
    assert_eq!(step.output("digest"), f.unsigned.to_string());
    assert_eq!(step.decisions()[0]["decision"], "fail");

    let error = step
        .stdout
        .lines()
        .find(|l| l.starts_with("::error title=shipgate::"))
        .unwrap_or_else(|| panic!("no ::error annotation:\n{}", show(&step)));
    assert!(
        error.starts_with(&format!("::error title=shipgate::{image}: e2e/signature: ")),
        "{error}"
    );
    assert!(error.contains("no signatures found"), "{error}");
    // The text of the decisions is printed with workflow commands stopped, then resumed.
    let stop = step
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("::stop-commands::"))
        .expect("commands are stopped around the decision text");
    assert!(
        step.stdout.contains(&format!("\n::{stop}::\n")),
        "{}",
        show(&step)
    );

    assert!(
        step.summary.starts_with("## shipgate: ❌ fail\n"),
        "{}",
        step.summary
    );
    assert!(
        step.summary
            .lines()
            .any(|l| l.starts_with("| `signature` | `e2e` | ❌ fail | ")
                && l.contains("no signatures found")),
        "{}",
        step.summary
    );
}

#[test]
fn fail_on_never_reports_the_fail_but_exits_zero() {
    let f = Fixture::new();
    let mut args = f.local_args(&[f.image("unsigned")]);
    args.extend(["--fail-on".into(), "never".into()]);
    let step = run_step(&args, &[]);
    assert_eq!(step.code, 0, "{}", show(&step));
    assert_eq!(step.output("decision"), "fail");
    assert!(
        step.stdout.contains("::error title=shipgate::"),
        "{}",
        show(&step)
    );
    assert!(
        step.summary.contains("`fail-on: never`"),
        "{}",
        step.summary
    );
}

#[test]
fn two_images_one_failing_fail_together_in_image_order() {
    let f = Fixture::new();
    let (signed, unsigned) = (f.image("signed"), f.image("unsigned"));
    // As the action passes a multi-line `image` input: one value, one image per line.
    let args = f.local_args(&[format!("{signed}\n{unsigned}\n")]);
    let step = run_step(&args, &[]);
    assert_eq!(step.code, 1, "{}", show(&step));
    assert_eq!(step.output("decision"), "fail");
    assert_eq!(
        step.output("digest"),
        format!("{}\n{}", f.signed, f.unsigned),
        "one digest per line, in image order"
    );
    // The multi-line value uses the heredoc form with a random delimiter.
    let open = step
        .output
        .lines()
        .find(|l| l.starts_with("digest<<"))
        .unwrap_or_else(|| panic!("digest is not a heredoc:\n{}", step.output));
    assert!(open.starts_with("digest<<ghadelimiter_"), "{open}");
    let decisions = step.decisions();
    let verdicts: Vec<(&str, &str)> = decisions
        .iter()
        .map(|d| {
            (
                d["image"].as_str().unwrap(),
                d["decision"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        verdicts,
        [(signed.as_str(), "pass"), (unsigned.as_str(), "fail")]
    );
    assert!(
        step.summary.contains(&format!("### ✅ pass: `{signed}`")),
        "{}",
        step.summary
    );
    assert!(
        step.summary.contains(&format!("### ❌ fail: `{unsigned}`")),
        "{}",
        step.summary
    );
    let errors = step
        .stdout
        .lines()
        .filter(|l| l.starts_with("::error"))
        .count();
    assert_eq!(
        errors,
        1,
        "only the failing image is annotated:\n{}",
        show(&step)
    );
    assert!(step
        .stdout
        .contains("shipgate: fail (1 of 2 images failed)"));
}

#[test]
fn outside_actions_everything_goes_to_stdout() {
    let f = Fixture::new();
    let output = Command::new(env!("CARGO_BIN_EXE_shipgate"))
        .args(f.local_args(&[f.image("signed")]))
        .env_remove("GITHUB_OUTPUT")
        .env_remove("GITHUB_STEP_SUMMARY")
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("GITHUB_OUTPUT is not set; the outputs would be:\ndecision=pass\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "GITHUB_STEP_SUMMARY is not set; the summary would be:\n\n## shipgate: ✅ pass"
        ),
        "{stdout}"
    );
}

#[test]
fn mode_and_input_mistakes_are_usage_errors() {
    let f = Fixture::new();
    let image = f.image("signed");
    let policy = f.policy_path().display().to_string();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["github-action", "--image", &image], "--gate-url"),
        (
            vec![
                "github-action",
                "--image",
                &image,
                "--policy",
                &policy,
                "--gate-url",
                "https://gate.example.com",
            ],
            "cannot be used with",
        ),
        (
            vec!["github-action", "--image", "\n", "--policy", &policy],
            "no image given",
        ),
        (
            vec!["github-action", "--image", "Bad/Name", "--policy", &policy],
            "Bad/Name",
        ),
        (
            vec![
                "github-action",
                "--image",
                &image,
                "--policy",
                "/no/such/policy.yaml",
            ],
            "/no/such/policy.yaml",
        ),
    ];
    for (args, needle) in cases {
        let args: Vec<String> = args.into_iter().map(String::from).collect();
        let step = run_step(&args, &[]);
        assert_eq!(step.code, 2, "{args:?}\n{}", show(&step));
        assert!(
            step.stderr.contains(needle),
            "{args:?} lacks {needle:?}\n{}",
            show(&step)
        );
        assert_eq!(step.output, "", "no outputs on a usage error");
    }
}

// ---------------------------------------------------------------- remote mode

/// What the token endpoint stub saw and how it answers.
#[derive(Default)]
struct TokenStub {
    requests: Mutex<Vec<String>>,
    fail_with: Option<StatusCode>,
}

async fn token_endpoint(
    State(stub): State<Arc<TokenStub>>,
    uri: Uri,
    request: Request,
) -> Response {
    stub.requests.lock().unwrap().push(uri.to_string());
    let bearer = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if bearer != format!("Bearer {REQUEST_TOKEN}") {
        return (StatusCode::UNAUTHORIZED, "wrong request token").into_response();
    }
    if let Some(status) = stub.fail_with {
        return (
            status,
            Json(json!({"message": "token service unavailable"})),
        )
            .into_response();
    }
    Json(json!({ "count": 1, "value": JWT })).into_response()
}

/// In front of the real service: only `Bearer <expected>` gets through.
struct BearerGuard {
    expected: String,
    calls: AtomicUsize,
}

async fn require_bearer(
    State(guard): State<Arc<BearerGuard>>,
    request: Request,
    next: Next,
) -> Response {
    guard.calls.fetch_add(1, Ordering::SeqCst);
    let bearer = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if bearer == format!("Bearer {}", guard.expected) {
        next.run(request).await
    } else {
        (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "the token's audience is not accepted by this service"})),
        )
            .into_response()
    }
}

/// The token endpoint stub and the guarded real service, on loopback ports.
struct Remote {
    /// Serves the stub and the service until the test ends.
    _rt: tokio::runtime::Runtime,
    token_url: String,
    gate_url: String,
    stub: Arc<TokenStub>,
    guard: Arc<BearerGuard>,
}

impl Remote {
    fn start(f: &Fixture, stub: TokenStub, accepted_token: &str) -> Remote {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let stub = Arc::new(stub);
        let guard = Arc::new(BearerGuard {
            expected: accepted_token.to_string(),
            calls: AtomicUsize::new(0),
        });
        let tokens = Router::new()
            .route("/_apis/idtoken", axum::routing::get(token_endpoint))
            .with_state(stub.clone());
        let service = shipgate::server::app(shipgate::server::AppState::new(gate(
            &f.reg.host,
            &fixture_policy(&f.reg.host, &f.key),
            None,
        )))
        .layer(axum::middleware::from_fn_with_state(
            guard.clone(),
            require_bearer,
        ));
        let token_base = serve(&rt, tokens);
        let gate_url = serve(&rt, service);
        Remote {
            token_url: format!("{token_base}/_apis/idtoken?api-version=2.0"),
            gate_url,
            _rt: rt,
            stub,
            guard,
        }
    }

    fn run(&self, images: &[String]) -> Step {
        run_step(
            &remote_args(images, &self.gate_url),
            &token_env(&self.token_url),
        )
    }
}

fn serve(rt: &tokio::runtime::Runtime, app: Router) -> String {
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

/// The JWT appears nowhere but in the `::add-mask::` line, which comes first.
fn assert_token_only_masked(step: &Step) {
    let mut lines = step.stdout.lines();
    assert_eq!(
        lines.next(),
        Some(format!("::add-mask::{JWT}").as_str()),
        "{}",
        show(step)
    );
    assert!(!lines.any(|l| l.contains(JWT)), "{}", show(step));
    for (what, text) in [
        ("stderr", &step.stderr),
        ("output", &step.output),
        ("summary", &step.summary),
    ] {
        assert!(!text.contains(JWT), "token in {what}:\n{}", show(step));
        assert!(
            !text.contains(REQUEST_TOKEN),
            "request token in {what}:\n{}",
            show(step)
        );
    }
    assert!(!step.stdout.contains(REQUEST_TOKEN), "{}", show(step));
}

#[test]
fn remote_pass_with_the_oidc_token_as_bearer() {
    let f = Fixture::new();
    let remote = Remote::start(&f, TokenStub::default(), JWT);
    let image = f.image("signed");
    let step = remote.run(std::slice::from_ref(&image));
    assert_eq!(step.code, 0, "{}", show(&step));
    assert_eq!(step.output("decision"), "pass");
    assert_eq!(step.output("digest"), f.signed.to_string());
    assert_eq!(step.decisions()[0]["image"], image.as_str());
    assert!(
        step.summary.contains("| `signature` | `e2e` | ✅ pass | "),
        "{}",
        step.summary
    );
    assert_token_only_masked(&step);

    // One token request, with the runner's query kept and the audience appended.
    assert_eq!(
        *remote.stub.requests.lock().unwrap(),
        [format!(
            "/_apis/idtoken?api-version=2.0&audience={AUDIENCE}"
        )]
    );
    assert_eq!(remote.guard.calls.load(Ordering::SeqCst), 1);
}

#[test]
fn remote_token_endpoint_failure_fails_closed_without_asking_the_gate() {
    let f = Fixture::new();
    let stub = TokenStub {
        fail_with: Some(StatusCode::INTERNAL_SERVER_ERROR),
        ..TokenStub::default()
    };
    let remote = Remote::start(&f, stub, JWT);
    let image = f.image("signed");
    let step = remote.run(std::slice::from_ref(&image));
    assert_eq!(step.code, 1, "{}", show(&step));
    assert!(
        step.stderr.contains("could not get a GitHub OIDC token: the token endpoint answered HTTP 500: token service unavailable"),
        "{}",
        show(&step)
    );
    assert_eq!(step.output("decision"), "fail");
    assert_eq!(step.output("digest"), "");
    let d = &step.decisions()[0];
    assert_eq!(d["checks"][0]["check"], "gate-request");
    assert_eq!(d["checks"][0]["result"], "error");
    assert!(
        step.summary.contains(&format!(
            "### ❌ fail (could not get a decision): `{image}`"
        )),
        "{}",
        step.summary
    );
    assert!(
        step.stdout.contains(&format!(
            "::error title=shipgate::{image}: gate-request: could not get a decision from "
        )),
        "{}",
        show(&step)
    );
    assert!(
        !step.stdout.contains("::add-mask::"),
        "no token, nothing to mask"
    );
    assert_eq!(remote.guard.calls.load(Ordering::SeqCst), 0);
}

#[test]
fn remote_gate_refusal_is_a_fail_with_the_services_error() {
    let f = Fixture::new();
    // The service accepts another token than the one the job gets.
    let remote = Remote::start(&f, TokenStub::default(), "some.other.token");
    let image = f.image("signed");
    let step = remote.run(std::slice::from_ref(&image));
    assert_eq!(step.code, 1, "{}", show(&step));
    assert_eq!(step.output("decision"), "fail");
    let reason = step.decisions()[0]["checks"][0]["reason"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        reason.contains("the shipgate service refused the request (HTTP 401): the token's audience is not accepted by this service"),
        "{reason}"
    );
    assert!(step.stderr.contains("HTTP 401"), "{}", show(&step));
    assert!(
        step.summary.contains("could not get a decision"),
        "{}",
        step.summary
    );
    assert_token_only_masked(&step);
    assert_eq!(remote.guard.calls.load(Ordering::SeqCst), 1);
}

#[test]
fn remote_gate_fail_is_reported_as_the_gates_fail() {
    let f = Fixture::new();
    let remote = Remote::start(&f, TokenStub::default(), JWT);
    let (signed, unsigned) = (f.image("signed"), f.image("unsigned"));
    let step = remote.run(&[signed, unsigned.clone()]);
    assert_eq!(step.code, 1, "{}", show(&step));
    assert_eq!(
        step.output("digest"),
        format!("{}\n{}", f.signed, f.unsigned)
    );
    assert!(
        step.summary.contains(&format!("### ❌ fail: `{unsigned}`")),
        "{}",
        step.summary
    );
    assert!(
        !step.summary.contains("could not get a decision"),
        "{}",
        step.summary
    );
    assert!(step.stdout.contains(&format!(
        "::error title=shipgate::{unsigned}: e2e/signature: "
    )));
    assert_token_only_masked(&step);
    assert_eq!(
        remote.stub.requests.lock().unwrap().len(),
        1,
        "one token for all images"
    );
    assert_eq!(remote.guard.calls.load(Ordering::SeqCst), 2);
}

/// Remote mode that cannot start (no token permission, a gate URL that would expose the token,
/// local-only options) is exit 2 with no outputs, before any request.
#[test]
fn remote_setup_mistakes_are_usage_errors() {
    let image = ["127.0.0.1:5000/team/app:v1".to_string()];
    // Nothing listens there: a request would fail with exit 1, not 2.
    let tokens = token_env("http://127.0.0.1:9/token?x=1");
    let cases: [(&str, &[&str], bool, &str); 6] = [
        (
            "http://127.0.0.1:9",
            &[],
            false,
            "`permissions: id-token: write`",
        ),
        ("http://gate.example.com", &[], true, "must be https://"),
        ("http://10.1.2.3:8080", &[], true, "must be https://"),
        ("gate.example.com", &[], true, "is not a URL"),
        (
            "https://ci:s3cret@gate.example.com",
            &[],
            true,
            "must not carry credentials",
        ),
        (
            "https://gate.example.com",
            &["--insecure-registry", "127.0.0.1:5000"],
            true,
            "apply to --policy (local) mode",
        ),
    ];
    for (url, extra, with_token, needle) in cases {
        let mut args = remote_args(&image, url);
        args.extend(extra.iter().map(|a| a.to_string()));
        let step = run_step(&args, if with_token { &tokens } else { &[] });
        assert_eq!(step.code, 2, "{url}\n{}", show(&step));
        assert!(step.stderr.contains(needle), "{url}\n{}", show(&step));
        assert!(!step.stderr.contains("s3cret"), "{url}\n{}", show(&step));
        assert_eq!(step.output, "", "{url}: no outputs on a usage error");
    }
}

#[test]
fn remote_unreachable_gate_is_a_fail_not_a_pass() {
    let f = Fixture::new();
    let remote = Remote::start(&f, TokenStub::default(), JWT);
    // Nothing listens there (bound, then released).
    let closed = format!("http://127.0.0.1:{}", crate::common::registry::free_port());
    let step = run_step(
        &remote_args(&[f.image("signed")], &closed),
        &token_env(&remote.token_url),
    );
    assert_eq!(step.code, 1, "{}", show(&step));
    assert_eq!(step.output("decision"), "fail");
    assert!(
        step.stderr
            .contains("could not get a decision: could not reach the shipgate service"),
        "{}",
        show(&step)
    );
    assert!(
        step.summary.contains("could not get a decision"),
        "{}",
        step.summary
    );
    assert_token_only_masked(&step);
}

// ------------------------------------------ end to end: the step and the real service

/// The whole remote path with nothing stubbed but GitHub's token endpoint: the step gets a real
/// RS256 JWT (minted by a test OIDC issuer whose discovery and JWKS are on loopback) and calls
/// the real `shipgate serve` process, which verifies it against its `auth.oidc` rules and then
/// decides the image on the real registry. A token of another repository owner is refused with
/// 403 and the step fails closed quoting the service.
#[test]
fn end_to_end_with_the_real_service_and_oidc_auth() {
    use shipgate_test_support::oidc::TestIssuer;

    let f = Fixture::new();
    let issuer = TestIssuer::start();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yaml");
    let port = crate::common::registry::free_port();
    std::fs::write(
        &config,
        format!(
            "listen: 127.0.0.1:{port}\npolicies: [{}]\ninsecureRegistries: [\"{}\"]\nauth:\n  oidc:\n    - issuer: {}\n      audience: {AUDIENCE}\n      claims: {{repository_owner: acme, ref: refs/heads/main}}\n",
            f.policy_path().display(),
            f.reg.host,
            issuer.url()
        ),
    )
    .unwrap();
    let service = crate::common::serve::ServeProcess::start(
        [std::ffi::OsStr::new("--config"), config.as_os_str()],
        port,
    );
    let gate_url = service.base.clone();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let run = |repository: &str| {
        let jwt = issuer.token(&issuer.github_claims(AUDIENCE, repository));
        let issued = jwt.clone();
        let tokens = Router::new().route(
            "/_apis/idtoken",
            axum::routing::get(move || {
                let jwt = issued.clone();
                async move { Json(json!({ "value": jwt })) }
            }),
        );
        let token_url = format!("{}/_apis/idtoken?api-version=2.0", serve(&rt, tokens));
        let step = run_step(
            &remote_args(&[f.image("signed")], &gate_url),
            &token_env(&token_url),
        );
        for (what, text) in [
            ("stderr", &step.stderr),
            ("output", &step.output),
            ("summary", &step.summary),
        ] {
            assert!(!text.contains(&jwt), "token in {what}:\n{}", show(&step));
        }
        step
    };

    let accepted = run("acme/app");
    let refused = run("evil/app");
    drop(service);

    assert_eq!(accepted.code, 0, "{}", show(&accepted));
    assert_eq!(accepted.output("decision"), "pass");
    assert_eq!(accepted.output("digest"), f.signed.to_string());
    assert_eq!(issuer.jwks_fetches(), 1, "keys fetched once and cached");

    assert_eq!(refused.code, 1, "{}", show(&refused));
    assert_eq!(refused.output("decision"), "fail");
    let reason = refused.decisions()[0]["checks"][0]["reason"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        reason.contains("403") && reason.contains("repository_owner"),
        "{reason}\n{}",
        show(&refused)
    );
}
