//! A loopback stub of the CodePipeline job-result API (AWS JSON 1.1 protocol):
//! `CodePipeline_20150709.PutJobSuccessResult` and `…PutJobFailureResult`. moto does not
//! implement the job APIs, so this axum server stands in: it checks the `X-Amz-Target` and
//! `Content-Type: application/x-amz-json-1.1` headers, records each call's exact JSON body,
//! and answers `{}` or a queued error (e.g. `InvalidJobStateException`).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Value};

const TARGET_PREFIX: &str = "CodePipeline_20150709.";
const OPERATIONS: [&str; 2] = ["PutJobSuccessResult", "PutJobFailureResult"];
const JSON_11: &str = "application/x-amz-json-1.1";

/// One accepted-or-refused call: the operation from `X-Amz-Target` and the parsed body.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub operation: String,
    pub body: Value,
}

#[derive(Default)]
struct Shared {
    calls: Mutex<Vec<Call>>,
    replies: Mutex<VecDeque<(u16, Value)>>,
    violations: Mutex<Vec<String>>,
}

pub struct CodePipelineStub {
    /// `http://127.0.0.1:PORT`, for `AWS_ENDPOINT_URL_CODEPIPELINE`.
    pub endpoint: String,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl CodePipelineStub {
    pub async fn start() -> CodePipelineStub {
        let shared = Arc::new(Shared::default());
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        CodePipelineStub {
            endpoint,
            shared,
            server,
        }
    }

    /// The next call is answered with `status` and the AWS JSON error `{"__type": code, …}`.
    pub fn reply_error(&self, status: u16, code: &str, message: &str) {
        self.shared
            .replies
            .lock()
            .unwrap()
            .push_back((status, json!({"__type": code, "message": message})));
    }

    /// All calls so far.
    pub fn calls(&self) -> Vec<Call> {
        self.shared.calls.lock().unwrap().clone()
    }

    /// Requests that broke the protocol (wrong target, content type or body).
    pub fn violations(&self) -> Vec<String> {
        self.shared.violations.lock().unwrap().clone()
    }
}

impl Drop for CodePipelineStub {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn handle(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let target = header("x-amz-target");
    let content_type = header("content-type");
    let operation = target.strip_prefix(TARGET_PREFIX).unwrap_or("");
    let mut problems = Vec::new();
    if !OPERATIONS.contains(&operation) {
        problems.push(format!("unexpected X-Amz-Target `{target}`"));
    }
    if content_type != JSON_11 {
        problems.push(format!("Content-Type `{content_type}`, expected {JSON_11}"));
    }
    let parsed: Result<Value, _> = serde_json::from_slice(&body);
    if parsed.is_err() {
        problems.push("the body is not JSON".into());
    }
    if !problems.is_empty() {
        shared.violations.lock().unwrap().extend(problems.clone());
        return (
            StatusCode::BAD_REQUEST,
            [("content-type", JSON_11)],
            json!({"__type": "ValidationException", "message": problems.join("; ")}).to_string(),
        )
            .into_response();
    }
    shared.calls.lock().unwrap().push(Call {
        operation: operation.to_string(),
        body: parsed.unwrap_or(Value::Null),
    });
    let reply = shared.replies.lock().unwrap().pop_front();
    match reply {
        Some((status, body)) => (
            StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            [("content-type", JSON_11)],
            body.to_string(),
        )
            .into_response(),
        None => (StatusCode::OK, [("content-type", JSON_11)], "{}").into_response(),
    }
}
