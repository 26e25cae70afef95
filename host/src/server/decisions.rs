//! Decisions and the policy set: `/v1/authorize`, `/v1/policies`, the
//! reload, health and the OpenAPI document.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::error::ApiError;
use super::json::ApiJson;
use super::state::AppState;
use crate::error::Error;
use crate::gate::AuthorizeRequest;

/// The OpenAPI document of this API.
pub const OPENAPI: &str = include_str!("../../openapi.json");

pub(super) async fn health(State(state): State<AppState>) -> Json<serde_json::Value> {
    let mut body = json!(state.gate.health().await);
    body["policy"] = json!(state.gate.policy_summary());
    body["idle_instances"] = json!(state.gate.idle_instances());
    Json(body)
}

pub(super) async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

pub(super) async fn authorize(
    State(state): State<AppState>,
    body: Result<ApiJson<AuthorizeRequest>, ApiError>,
) -> Response {
    let ApiJson(request) = match body {
        Ok(body) => body,
        Err(refused) => return refused.deny().into_response(),
    };
    match state.gate.authorize(&request).await {
        Ok(decision) => Json(decision).into_response(),
        Err(err) if err.is_decision_unavailable() => decision_unavailable(&err),
        Err(Error::InvalidRequest(m)) => ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!("invalid request: {m}"),
        )
        .deny()
        .into_response(),
        Err(err) => ApiError::from(err).deny().into_response(),
    }
}

/// No decision could be made now: 503 with `Retry-After`, never a
/// decision. The body names the reason (`deadline`, `busy`, ...), not the
/// details, which go to the log.
fn decision_unavailable(err: &Error) -> Response {
    tracing::warn!("no decision could be made: {err}");
    let reason = err.unavailable_reason().unwrap_or("engine");
    let mut error = ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "decision_unavailable",
        "no decision could be made now (nothing is allowed): retry",
    );
    error.set("reason", json!(reason));
    let mut response = error.into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
    response
}

pub(super) async fn policies(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(json!(state.gate.policy_summary()))
}

/// The shadow policy set's counts since start; `configured: false`
/// without one.
pub(super) async fn shadow(State(state): State<AppState>) -> Response {
    match state.gate.shadow_report() {
        Some(report) => {
            let mut body = json!(report);
            body["configured"] = json!(true);
            Json(body).into_response()
        }
        None => Json(json!({ "configured": false })).into_response(),
    }
}

/// The metrics in Prometheus' text format.
pub(super) async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.gate.metrics(),
    )
        .into_response()
}

pub(super) async fn reload(State(state): State<AppState>) -> Response {
    match state.gate.reload_policies().await {
        Ok(summary) => Json(summary).into_response(),
        Err(err) => ApiError::from(err).into_response(),
    }
}
