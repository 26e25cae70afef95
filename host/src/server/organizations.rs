//! The organization endpoints of the back office's API (merchant staff):
//! the organizations a staff member sees, blocking and unblocking them with
//! a reason, and the staff assigned to each. Every call is decided by the
//! plugin before the organization is read: a staff member the policies do
//! not permit gets the same 403 whether it exists or not.

use axum::Router;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{delete, get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::Acting;
use super::json::{ApiJson, ApiQuery, organization_json, reply};
use super::state::AppState;
use crate::model::Staff;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/organizations",
            get(list_organizations).post(create_organization),
        )
        .route("/v1/organizations/{organization}/block", post(block))
        .route("/v1/organizations/{organization}/unblock", post(unblock))
        .route(
            "/v1/organizations/{organization}/staff",
            get(organization_staff).post(assign_staff),
        )
        .route(
            "/v1/organizations/{organization}/staff/{staff}",
            delete(unassign_staff),
        )
}

/// A staff member as an organization's assignment lists show them.
pub(super) fn staff_json(s: Staff) -> Value {
    json!({
        "id": s.id,
        "name": s.name,
        "email": s.email,
        "status": s.status.name(),
        "assigned_organizations": s.assigned_organizations,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SearchParams {
    search: Option<String>,
}

/// `GET /v1/organizations`: the organizations the actor may see, by name.
async fn list_organizations(
    Acting { gate, actor }: Acting,
    ApiQuery(p): ApiQuery<SearchParams>,
) -> Response {
    reply(
        gate.list_organizations(&actor, p.search.as_deref()).await,
        StatusCode::OK,
        |list| json!({ "organizations": list.into_iter().map(organization_json).collect::<Vec<_>>() }),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReasonBody {
    reason: String,
}

/// `POST /v1/organizations/{organization}/block`, with the reason the
/// audit entry keeps; the members' sessions end on their next request.
async fn block(acting: Acting, organization: Path<String>, body: ApiJson<ReasonBody>) -> Response {
    set_blocked(acting, organization, body, true).await
}

/// `POST /v1/organizations/{organization}/unblock`, with the reason.
async fn unblock(
    acting: Acting,
    organization: Path<String>,
    body: ApiJson<ReasonBody>,
) -> Response {
    set_blocked(acting, organization, body, false).await
}

async fn set_blocked(
    Acting { gate, actor }: Acting,
    Path(organization): Path<String>,
    ApiJson(b): ApiJson<ReasonBody>,
    blocked: bool,
) -> Response {
    reply(
        gate.set_organization_blocked(&actor, &organization, blocked, &b.reason)
            .await,
        StatusCode::OK,
        organization_json,
    )
}

/// `GET /v1/organizations/{organization}/staff`: who is assigned.
async fn organization_staff(
    Acting { gate, actor }: Acting,
    Path(organization): Path<String>,
) -> Response {
    reply(
        gate.organization_staff(&actor, &organization).await,
        StatusCode::OK,
        |list| json!({ "staff": list.into_iter().map(staff_json).collect::<Vec<_>>() }),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AssignBody {
    email: String,
}

/// `POST /v1/organizations/{organization}/staff`: assigns the staff member
/// with this email.
async fn assign_staff(
    Acting { gate, actor }: Acting,
    Path(organization): Path<String>,
    ApiJson(b): ApiJson<AssignBody>,
) -> Response {
    reply(
        gate.assign_staff(&actor, &organization, &b.email).await,
        StatusCode::OK,
        staff_json,
    )
}

/// `DELETE /v1/organizations/{organization}/staff/{staff}`: withdraws the
/// assignment.
async fn unassign_staff(
    Acting { gate, actor }: Acting,
    Path((organization, staff)): Path<(String, String)>,
) -> Response {
    reply(
        gate.unassign_staff(&actor, &organization, &staff).await,
        StatusCode::OK,
        staff_json,
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OrganizationBody {
    name: String,
}

/// `POST /v1/organizations`: an approved organization, created directly;
/// its creator is assigned to it.
async fn create_organization(
    Acting { gate, actor }: Acting,
    ApiJson(b): ApiJson<OrganizationBody>,
) -> Response {
    reply(
        gate.create_organization(&actor, &b.name).await,
        StatusCode::CREATED,
        organization_json,
    )
}
