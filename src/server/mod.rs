//! The HTTP service: `POST /v1/decisions`, `GET /healthz`, `GET /readyz`, `GET /metrics`.

mod limits;
mod listener;
mod metrics;

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::auth::{Authenticator, Caller, Refusal};
use crate::gate::{DecisionRequest, Gate, RequestError};
use crate::reload::Live;
pub use limits::{connection_cap, soft_fd_limit, ServerLimits};
pub use metrics::{ClosedConnection, Metrics, Overload, RefusedCaller};

/// Requests are one image name and a policy name: anything larger is not a request.
const MAX_BODY_BYTES: usize = 16 * 1024;
/// What a caller refused for the server's own in-flight limit is told to wait: decisions that
/// are cached or fail fast free slots within about a second.
const DECISIONS_RETRY_AFTER_SECONDS: u64 = 1;

#[derive(Clone)]
pub struct AppState {
    /// The gate and caller authentication serving now; a reload swaps them.
    pub live: Arc<Live>,
    pub metrics: Arc<Metrics>,
    /// One permit per `POST /v1/decisions` being answered; none left: 503 at once.
    pub decision_slots: Arc<Semaphore>,
    /// The number of permits `decision_slots` started with (quoted in the 503).
    pub max_decisions_in_flight: usize,
}

impl AppState {
    /// Without caller authentication: for loopback listeners and tests.
    pub fn new(gate: Gate) -> AppState {
        AppState::with_live(Arc::new(Live::new(gate, None)))
    }

    /// Serving whatever `live` holds now (the CLI reloads it).
    pub fn with_live(live: Arc<Live>) -> AppState {
        AppState {
            live,
            metrics: Arc::new(Metrics::default()),
            decision_slots: Arc::new(Semaphore::new(
                ServerLimits::DEFAULT_MAX_DECISIONS_IN_FLIGHT,
            )),
            max_decisions_in_flight: ServerLimits::DEFAULT_MAX_DECISIONS_IN_FLIGHT,
        }
    }

    /// At most `limit` (at least 1) decision requests are answered at once.
    pub fn with_max_decisions_in_flight(self, limit: usize) -> AppState {
        let limit = limit.max(1);
        AppState {
            decision_slots: Arc::new(Semaphore::new(limit)),
            max_decisions_in_flight: limit,
            ..self
        }
    }

    /// `POST /v1/decisions` then needs a bearer token that `auth` accepts.
    pub fn with_auth(gate: Gate, auth: Arc<Authenticator>) -> AppState {
        AppState::with_live(Arc::new(Live::new(gate, Some(auth))))
    }
}

/// The service's routes; tests drive it with `tower::ServiceExt::oneshot`.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/v1/decisions", post(decide))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// Serves until `shutdown` resolves, then finishes the requests in flight. The connection
/// bounds (timeouts, cap) come from `limits`; the decisions-in-flight bound from `state`.
pub async fn run(
    listener: TcpListener,
    state: AppState,
    limits: ServerLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let metrics = state.metrics.clone();
    listener::serve(listener, app(state), limits, metrics, shutdown).await
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
    headers: HeaderMap,
    body: Result<Json<DecisionRequest>, JsonRejection>,
) -> Result<Response, Response> {
    let started = Instant::now();
    // Before anything else, authentication included (it may fetch an issuer's keys): beyond
    // the limit the caller is told at once to come back, never queued, so load cannot grow
    // memory or latency without bound.
    let Ok(_slot) = state.decision_slots.clone().try_acquire_owned() else {
        state.metrics.record_overloaded(Overload::DecisionsInFlight);
        return Err(overloaded(
            format!(
                "the server is answering its limit of {} decision requests; retry in {} s",
                state.max_decisions_in_flight, DECISIONS_RETRY_AFTER_SECONDS
            ),
            DECISIONS_RETRY_AFTER_SECONDS,
        ));
    };
    // Taken once: the request is answered by this gate to its end, whatever a reload swaps in
    // meanwhile.
    let serving = state.live.current();
    // Authentication comes first: an unknown caller learns nothing about the request it sent.
    let caller = match &serving.auth {
        None => Caller::Unauthenticated,
        Some(auth) => auth
            .authenticate(&headers)
            .await
            .map_err(|refusal| refuse(&state, &refusal))?,
    };
    let Json(request) = body.map_err(|e| {
        state.metrics.record_bad_request();
        ApiError {
            status: e.status(),
            message: format!(
                "request body must be JSON like {{\"image\":\"registry/repo@sha256:…\",\"policy\":\"name\"}}: {}",
                e.body_text()
            ),
        }
    })
    .map_err(IntoResponse::into_response)?;
    let decision = serving.gate.decide(&request).await.map_err(|e| {
        if let RequestError::Overloaded {
            retry_after_seconds,
            ..
        } = &e
        {
            // Nothing was decided: not the caller's fault, and worth retrying.
            state.metrics.record_overloaded(Overload::GateEvaluations);
            tracing::warn!(image = %request.image, caller = %caller, error = %e, "overloaded");
            return overloaded(e.to_string(), *retry_after_seconds);
        }
        state.metrics.record_bad_request();
        tracing::info!(image = %request.image, caller = %caller, error = %e, "bad request");
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message: e.to_string(),
        }
        .into_response()
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
        caller = %caller,
        duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        "decision"
    );
    Ok(Json(decision).into_response())
}

/// 503 with `Retry-After` (seconds, at least 1) and the API's error shape.
fn overloaded(message: String, retry_after_seconds: u64) -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::RETRY_AFTER, retry_after_seconds.max(1).to_string())],
        Json(json!({ "error": message })),
    )
        .into_response()
}

/// 401 carries `WWW-Authenticate: Bearer`; every refusal is logged with what is known of the
/// caller, never the token.
fn refuse(state: &AppState, refusal: &Refusal) -> Response {
    let (status, kind) = match refusal {
        Refusal::Unauthenticated { claimed_issuer, .. } => {
            tracing::warn!(
                status = 401,
                claimed_issuer = claimed_issuer.as_deref().unwrap_or(""),
                reason = %refusal,
                "caller refused"
            );
            (StatusCode::UNAUTHORIZED, RefusedCaller::Unauthenticated)
        }
        Refusal::Forbidden { caller, .. } => {
            tracing::warn!(status = 403, caller = %caller, reason = %refusal, "caller refused");
            (StatusCode::FORBIDDEN, RefusedCaller::Forbidden)
        }
        Refusal::KeysUnavailable { issuer, .. } => {
            tracing::warn!(status = 503, issuer = %issuer, reason = %refusal, "caller refused");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                RefusedCaller::KeysUnavailable,
            )
        }
    };
    state.metrics.record_refused_caller(kind);
    let body = Json(json!({ "error": refusal.to_string() }));
    if status == StatusCode::UNAUTHORIZED {
        (
            status,
            [(header::WWW_AUTHENTICATE, r#"Bearer realm="shipgate""#)],
            body,
        )
            .into_response()
    } else {
        (status, body).into_response()
    }
}

/// The OpenAPI description (`shipgate openapi`), rendered once.
async fn openapi() -> impl IntoResponse {
    static DOC: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let body = DOC.get_or_init(|| crate::api_docs::openapi().to_string());
    ([(header::CONTENT_TYPE, "application/json")], body.as_str())
}

async fn healthz() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

/// 503 while no policy is loaded. A failed reload leaves it 200 (the previous policies are
/// still serving) and says so in `reload.lastError`.
async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    // Both from one status, so the count and the generation it names agree.
    let status = state.live.status();
    let n = status.policies.len();
    let reload = status.to_json();
    if n == 0 {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "no policies loaded", "policies": 0, "reload": reload })),
        )
    } else {
        (
            StatusCode::OK,
            Json(json!({ "status": "ready", "policies": n, "reload": reload })),
        )
    }
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let gate = state.live.current().gate;
    let (cache, base_images) = state.live.cache_stats(&gate);
    let body = state.metrics.render(
        cache,
        base_images,
        gate.policies().iter().count(),
        state.live.status().metrics(),
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body)
}

async fn not_found() -> ApiError {
    ApiError {
        status: StatusCode::NOT_FOUND,
        message: "no such route; the API is POST /v1/decisions, GET /healthz, /readyz, /metrics, /openapi.json"
            .into(),
    }
}
