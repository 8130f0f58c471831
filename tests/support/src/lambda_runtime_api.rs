//! A loopback implementation of the AWS Lambda Runtime API
//! (<https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html>), for driving the real
//! `shipgate-lambda` binary in tests. AWS publishes no local implementation of it that runs
//! here, so this is a small axum server that speaks its wire format:
//!
//! - `GET /2018-06-01/runtime/invocation/next` hands out queued events with the
//!   `Lambda-Runtime-Aws-Request-Id`, `Lambda-Runtime-Deadline-Ms`,
//!   `Lambda-Runtime-Invoked-Function-Arn` and `Lambda-Runtime-Trace-Id` headers, and waits
//!   while the queue is empty (as the real API does);
//! - `POST /2018-06-01/runtime/invocation/{id}/response` and `…/{id}/error` record the
//!   invocation's outcome; `POST /2018-06-01/runtime/init/error` records a failed start.
//!
//! # Use
//! ```ignore
//! let api = RuntimeApi::start().await;                       // inside a multi-thread tokio test
//! let function = LambdaProcess::spawn(env!("CARGO_BIN_EXE_shipgate-lambda"), &api,
//!     &[("SHIPGATE_POLICIES", dir), ("AWS_ENDPOINT_URL_ECR", &moto.endpoint)]);
//! let id = api.push(event_json);                             // queue one invocation
//! let outcome = api.outcome(&id).await;                      // its response or error
//! assert!(!function.stderr().contains("secret"));            // everything it logged so far
//! ```
//! The process is started with a cleared environment plus the variables `lambda_runtime`
//! needs (`AWS_LAMBDA_RUNTIME_API`, `AWS_LAMBDA_FUNCTION_NAME`, `…_MEMORY_SIZE`,
//! `…_VERSION`, `AWS_LAMBDA_LOG_STREAM_NAME`, `AWS_LAMBDA_LOG_GROUP_NAME`), static test AWS
//! credentials, `AWS_REGION=us-east-1`, and the caller's variables (which win). It is
//! killed when dropped; so is the server when `RuntimeApi` is dropped.

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::Value;
use tokio::sync::Notify;

/// The function name, and so its ARN, every invocation reports.
pub const FUNCTION_NAME: &str = "shipgate-test";
pub const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:shipgate-test";
/// How long `outcome` waits before failing the test (a hang guard, not a timing assertion).
pub const OUTCOME_WAIT: Duration = Duration::from_secs(120);

/// What the function answered to one invocation.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// `POST …/response`: the handler's return value.
    Response(Value),
    /// `POST …/error`: the `Lambda-Runtime-Function-Error-Type` header and the error body
    /// (`{"errorType": …, "errorMessage": …}`).
    Error {
        error_type: Option<String>,
        body: Value,
    },
}

struct Queued {
    id: String,
    event: Value,
    deadline_ms: u64,
    trace_id: String,
}

#[derive(Default)]
struct Shared {
    queue: Mutex<VecDeque<Queued>>,
    queued: Notify,
    outcomes: Mutex<HashMap<String, Outcome>>,
    answered: Notify,
    init_errors: Mutex<Vec<Value>>,
    next_id: AtomicU64,
}

/// The loopback Runtime API; see the module documentation.
pub struct RuntimeApi {
    shared: Arc<Shared>,
    /// `127.0.0.1:PORT`: the form `AWS_LAMBDA_RUNTIME_API` takes.
    pub address: String,
    server: tokio::task::JoinHandle<()>,
}

impl RuntimeApi {
    /// Binds a free loopback port and serves on the current tokio runtime.
    pub async fn start() -> RuntimeApi {
        let shared = Arc::new(Shared::default());
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(response),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let address = listener.local_addr().expect("local addr").to_string();
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        RuntimeApi {
            shared,
            address,
            server,
        }
    }

    /// Queues `event` with a deadline 120 s from now; returns its request id.
    pub fn push(&self, event: Value) -> String {
        self.push_with_deadline(event, Duration::from_secs(120))
    }

    /// Queues `event` whose `Lambda-Runtime-Deadline-Ms` is `in_` from now.
    pub fn push_with_deadline(&self, event: Value, in_: Duration) -> String {
        let n = self.shared.next_id.fetch_add(1, Ordering::SeqCst);
        let id = format!("00000000-0000-4000-8000-{n:012}");
        let deadline = SystemTime::now()
            .checked_add(in_)
            .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        self.shared.queue.lock().unwrap().push_back(Queued {
            id: id.clone(),
            event,
            deadline_ms: deadline,
            trace_id: format!("Root=1-00000000-{n:024x};Parent={n:016x};Sampled=0"),
        });
        self.shared.queued.notify_one();
        id
    }

    /// Waits for the outcome of invocation `id` (panics after [`OUTCOME_WAIT`]).
    pub async fn outcome(&self, id: &str) -> Outcome {
        let wait = async {
            loop {
                let answered = self.shared.answered.notified();
                if let Some(o) = self.shared.outcomes.lock().unwrap().get(id) {
                    return o.clone();
                }
                answered.await;
            }
        };
        tokio::time::timeout(OUTCOME_WAIT, wait)
            .await
            .unwrap_or_else(|_| panic!("no outcome for invocation {id} within {OUTCOME_WAIT:?}"))
    }

    /// Pushes `event` and waits for its outcome.
    pub async fn invoke(&self, event: Value) -> Outcome {
        let id = self.push(event);
        self.outcome(&id).await
    }

    /// Bodies posted to `/runtime/init/error` so far.
    pub fn init_errors(&self) -> Vec<Value> {
        self.shared.init_errors.lock().unwrap().clone()
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn next(State(shared): State<Arc<Shared>>) -> Response {
    loop {
        let queued = shared.queued.notified();
        let item = shared.queue.lock().unwrap().pop_front();
        if let Some(Queued {
            id,
            event,
            deadline_ms,
            trace_id,
        }) = item
        {
            let mut headers = HeaderMap::new();
            let mut set = |name: &'static str, value: String| {
                if let Ok(v) = value.parse() {
                    headers.insert(name, v);
                }
            };
            set("lambda-runtime-aws-request-id", id);
            set("lambda-runtime-deadline-ms", deadline_ms.to_string());
            set("lambda-runtime-invoked-function-arn", FUNCTION_ARN.into());
            set("lambda-runtime-trace-id", trace_id);
            set("content-type", "application/json".into());
            return (StatusCode::OK, headers, event.to_string()).into_response();
        }
        queued.await;
    }
}

fn accepted() -> Response {
    (StatusCode::ACCEPTED, r#"{"status":"OK"}"#).into_response()
}

fn json_or_text(body: &Bytes) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

fn record(shared: &Shared, id: String, outcome: Outcome) {
    shared.outcomes.lock().unwrap().insert(id, outcome);
    shared.answered.notify_waiters();
}

async fn response(
    State(shared): State<Arc<Shared>>,
    UrlPath(id): UrlPath<String>,
    body: Bytes,
) -> Response {
    record(&shared, id, Outcome::Response(json_or_text(&body)));
    accepted()
}

async fn error(
    State(shared): State<Arc<Shared>>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let error_type = headers
        .get("lambda-runtime-function-error-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    record(
        &shared,
        id,
        Outcome::Error {
            error_type,
            body: json_or_text(&body),
        },
    );
    accepted()
}

async fn init_error(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    shared.init_errors.lock().unwrap().push(json_or_text(&body));
    shared.answered.notify_waiters();
    accepted()
}

/// A function process (the real binary) polling a [`RuntimeApi`]; killed when dropped.
pub struct LambdaProcess {
    child: Child,
    stderr: Arc<Mutex<Vec<u8>>>,
    stdout: Arc<Mutex<Vec<u8>>>,
}

impl LambdaProcess {
    /// Starts `binary` against `api` with a cleared environment, the Lambda and AWS variables
    /// described in the module documentation, then `env` (which overrides them).
    pub fn spawn(
        binary: impl AsRef<Path>,
        api: &RuntimeApi,
        env: &[(&str, &str)],
    ) -> LambdaProcess {
        let binary = binary.as_ref();
        let mut command = Command::new(binary);
        command
            .env_clear()
            .env("AWS_LAMBDA_RUNTIME_API", &api.address)
            .env("AWS_LAMBDA_FUNCTION_NAME", FUNCTION_NAME)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "2026/01/01/[$LATEST]test")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/shipgate-test")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", crate::moto::REGION)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let stdout = Arc::new(Mutex::new(Vec::new()));
        if let Some(pipe) = child.stderr.take() {
            drain(pipe, stderr.clone());
        }
        if let Some(pipe) = child.stdout.take() {
            drain(pipe, stdout.clone());
        }
        LambdaProcess {
            child,
            stderr,
            stdout,
        }
    }

    /// Everything the process wrote to stderr so far (its log).
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }

    /// Everything the process wrote to stdout so far.
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout.lock().unwrap()).into_owned()
    }

    /// Kills the process and returns all it wrote to stderr and stdout.
    pub fn finish(mut self) -> (String, String) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // The drain threads end at EOF; give them a moment to copy the last bytes.
        for _ in 0..50 {
            if Arc::strong_count(&self.stderr) == 1 && Arc::strong_count(&self.stdout) == 1 {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        (self.stderr(), self.stdout())
    }

    /// Whether the process has exited, and how.
    pub fn try_wait(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }
}

fn drain(mut pipe: impl std::io::Read + Send + 'static, into: Arc<Mutex<Vec<u8>>>) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while let Ok(n) = pipe.read(&mut buf) {
            if n == 0 {
                break;
            }
            into.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    });
}

impl Drop for LambdaProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
