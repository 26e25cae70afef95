//! Decisions and the policy set: `/v1/authorize`, `/v1/policies`, the
//! reload, health and the OpenAPI document.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::OPENAPI;
use super::error::ApiError;
use super::json::ApiJson;
use super::state::AppState;
use crate::error::Error;
use crate::gate::AuthorizeRequest;

pub(super) async fn health(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(json!({
        "status": "ok",
        "policy": state.gate.policy_summary(),
        "idle_instances": state.gate.idle_instances(),
    }))
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
