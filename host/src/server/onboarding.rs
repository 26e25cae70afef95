//! The onboarding endpoints: a prospect asks to trade (through the
//! storefront, with the service token), merchant staff list and decide.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::Deserialize;
use serde_json::json;

use super::auth::{Acting, SessionActor};
use super::error::{ApiError, bad_query, no_such_step};
use super::json::{ApiJson, ApiQuery, OptionalJson, onboarding_json, reply};
use super::state::AppState;
use crate::model::OnboardingStatus;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/onboarding",
            post(submit_onboarding).get(list_onboarding),
        )
        .route("/v1/onboarding/{request}/{step}", post(decide_onboarding))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OnboardingBody {
    organization_name: String,
    requester_name: String,
    requester_email: String,
}

async fn submit_onboarding(
    State(state): State<AppState>,
    session: Option<axum::Extension<SessionActor>>,
    ApiJson(b): ApiJson<OnboardingBody>,
) -> Response {
    if session.is_some() {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "service_token_required",
            "onboarding requests come through the storefront, with the service token",
        )
        .into_response();
    }
    let result = state
        .gate
        .submit_onboarding(&b.organization_name, &b.requester_name, &b.requester_email)
        .await;
    reply(result, StatusCode::CREATED, onboarding_json)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OnboardingParams {
    status: Option<String>,
}

async fn list_onboarding(
    Acting { gate, actor }: Acting,
    ApiQuery(p): ApiQuery<OnboardingParams>,
) -> Response {
    let status = match p.status.as_deref() {
        None | Some("all") => None,
        Some(name) => match name.parse::<OnboardingStatus>() {
            Ok(status) => Some(status),
            Err(err) => return bad_query(format!("{err} or all")).into_response(),
        },
    };
    reply(
        gate.list_onboarding(&actor, status).await,
        StatusCode::OK,
        |list| json!({ "requests": list.into_iter().map(onboarding_json).collect::<Vec<_>>() }),
    )
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RejectBody {
    #[serde(default)]
    reason: String,
}

async fn decide_onboarding(
    Acting { gate, actor }: Acting,
    Path((request, step)): Path<(String, String)>,
    OptionalJson(b): OptionalJson<RejectBody>,
) -> Response {
    let result = match step.as_str() {
        "approve" => gate.approve_onboarding(&actor, &request).await,
        "reject" => {
            gate.reject_onboarding(&actor, &request, &b.map(|b| b.reason).unwrap_or_default())
                .await
        }
        _ => return no_such_step(&step, "approve or reject"),
    };
    reply(result, StatusCode::OK, onboarding_json)
}
