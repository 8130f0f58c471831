//! A loopback stub of the ECR API's JSON protocol (AWS JSON 1.1), for what moto cannot do:
//! scripted pages, throttling and 5xx (`ecr_findings`), `UpdateImageStorageClass` and manifest
//! failures (`quarantine`). The test gives the answers; the stub does the protocol.

use axum::http::{HeaderMap, StatusCode};
use bytes::Bytes;
use serde_json::Value;

/// The `X-Amz-Target` of every ECR operation starts with this.
pub const TARGET_PREFIX: &str = "AmazonEC2ContainerRegistry_V20150921.";

/// Serves `answer(operation, request)` on a free loopback port until the runtime ends, and
/// returns `http://127.0.0.1:PORT`. `operation` is the `X-Amz-Target` without
/// [`TARGET_PREFIX`] (the whole header if it lacks the prefix), `request` the JSON body (`null`
/// if it is not JSON); the answer is sent as `application/x-amz-json-1.1`. An AWS error is
/// `(status, {"__type": CODE, "message": …})`.
pub async fn serve<F>(answer: F) -> String
where
    F: Fn(&str, Value) -> (StatusCode, Value) + Clone + Send + Sync + 'static,
{
    let app = axum::Router::new().route(
        "/",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let answer = answer.clone();
            async move {
                let target = headers
                    .get("x-amz-target")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                let operation = target.strip_prefix(TARGET_PREFIX).unwrap_or(target);
                let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                let (status, reply) = answer(operation, request);
                (
                    status,
                    [("content-type", "application/x-amz-json-1.1")],
                    reply.to_string(),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    url
}
