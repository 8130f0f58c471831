//! The HTTP service: `POST /v1/decisions`, `GET /healthz`, `GET /readyz`, `GET /metrics`.

mod metrics;

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use tokio::net::TcpListener;

use crate::gate::{DecisionRequest, Gate};
pub use metrics::Metrics;

/// Requests are one image name and a policy name: anything larger is not a request.
const MAX_BODY_BYTES: usize = 16 * 1024;

#[derive(Clone)]
pub struct AppState {
    pub gate: Gate,
    pub metrics: Arc<Metrics>,
}

impl AppState {
    pub fn new(gate: Gate) -> AppState {
        AppState {
            gate,
            metrics: Arc::new(Metrics::default()),
        }
    }
}

/// The service's routes; tests drive it with `tower::ServiceExt::oneshot`.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/v1/decisions", post(decide))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// Serves until `shutdown` resolves, then finishes the requests in flight.
pub async fn run(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown signal received; finishing requests in flight");
}

/// One error shape for every refused request.
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "error": self.message }))).into_response()
    }
}

async fn decide(
    State(state): State<AppState>,
    body: Result<Json<DecisionRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let Json(request) = body.map_err(|e| {
        state.metrics.record_bad_request();
        ApiError {
            status: e.status(),
            message: format!(
                "request body must be JSON like {{\"image\":\"registry/repo@sha256:…\",\"policy\":\"name\"}}: {}",
                e.body_text()
            ),
        }
    })?;
    let decision = state.gate.decide(&request).await.map_err(|e| {
        state.metrics.record_bad_request();
        tracing::info!(image = %request.image, error = %e, "bad request");
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message: e.to_string(),
        }
    })?;
    state
        .metrics
        .record_decision(decision.passed(), started.elapsed());
    // One line per decision: the audit trail of what was allowed.
    tracing::info!(
        image = %request.image,
        policy = request.policy.as_deref().unwrap_or(""),
        decision = if decision.passed() { "pass" } else { "fail" },
        digest = decision.digest.as_deref().unwrap_or(""),
        cached = decision.cached,
        duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        "decision"
    );
    Ok(Json(decision).into_response())
}

async fn healthz() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let n = state.gate.policies().iter().count();
    if n == 0 {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "no policies loaded", "policies": 0 })),
        )
    } else {
        (
            StatusCode::OK,
            Json(json!({ "status": "ready", "policies": n })),
        )
    }
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let body = state.metrics.render(
        state.gate.cache().stats(),
        state.gate.policies().iter().count(),
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body)
}

async fn not_found() -> ApiError {
    ApiError {
        status: StatusCode::NOT_FOUND,
        message: "no such route; the API is POST /v1/decisions, GET /healthz, /readyz, /metrics"
            .into(),
    }
}
