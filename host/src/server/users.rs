//! The organization-user endpoints of the HTTP API. The acting principal is
//! either named by the `X-PartnerGate-Actor` header (`customer:<id>` or
//! `staff:<id>`), asserted by the storefront that holds the service token, or
//! the person of a signed-in browser's session (changes then also need the
//! session's CSRF token in `X-PartnerGate-CSRF`).

use axum::Router;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use super::auth::Acting;
use super::error::{ApiError, bad_query, no_such_step};
use super::json::{
    ApiJson, ApiQuery, audit_json, membership_json, page_json, page_reply, reply, results_json,
    user_view_json,
};
use super::state::AppState;
use crate::model::{AccountStatus, MemberSort};
use crate::model::{BulkAction, NewUser, Target, UserChanges, UserQuery};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/organizations/{organization}/users",
            get(list_users).post(add_user),
        )
        .route(
            "/v1/organizations/{organization}/users/bulk",
            post(bulk_add),
        )
        .route("/v1/organizations/{organization}/audit", get(read_audit))
        .route("/v1/users", get(list_users))
        .route("/v1/users/bulk", post(bulk_change))
        .route(
            "/v1/organizations/{organization}/users/{person}",
            get(get_membership).patch(edit_membership),
        )
        .route(
            "/v1/organizations/{organization}/users/{person}/{step}",
            post(change_membership),
        )
        .route("/v1/users/{person}", get(get_user).patch(edit_user))
        .route("/v1/users/{person}/{step}", post(change_user))
        .route("/v1/audit", get(read_audit))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUserBody {
    email: String,
    name: String,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    is_admin: bool,
    #[serde(default, deserialize_with = "super::json::optional_whole_u64")]
    spending_limit: Option<u64>,
}

impl From<NewUserBody> for NewUser {
    fn from(b: NewUserBody) -> Self {
        NewUser {
            email: b.email,
            name: b.name,
            roles: b.roles,
            is_admin: b.is_admin,
            spending_limit: b.spending_limit,
        }
    }
}

async fn add_user(
    Acting { gate, actor }: Acting,
    Path(org): Path<String>,
    ApiJson(b): ApiJson<NewUserBody>,
) -> Response {
    reply(
        gate.add_user(&actor, &org, b.into()).await,
        StatusCode::CREATED,
        membership_json,
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BulkAddBody {
    users: Vec<NewUserBody>,
}

async fn bulk_add(
    Acting { gate, actor }: Acting,
    Path(org): Path<String>,
    ApiJson(b): ApiJson<BulkAddBody>,
) -> Response {
    let users = b.users.into_iter().map(NewUser::from).collect();
    reply(
        gate.bulk_add(&actor, &org, users).await,
        StatusCode::OK,
        results_json,
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EditBody {
    #[serde(deserialize_with = "super::json::whole_u64")]
    version: u64,
    name: Option<String>,
    email: Option<String>,
    roles: Option<Vec<String>>,
    is_admin: Option<bool>,
    #[serde(default, deserialize_with = "double_option")]
    spending_limit: Option<Option<u64>>,
}

/// `null` means "remove the limit", absence means "leave it".
fn double_option<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<u64>>, D::Error> {
    super::json::optional_whole_u64(d).map(Some)
}

/// What the actor may see of one user and which steps the rules allow
/// them (`GET /v1/users/{person}`): a storefront shows a button or an
/// editable field only where `steps` says so. A user the actor may not view
/// is 404, the same answer as for no such user.
async fn get_user(Acting { gate, actor }: Acting, Path(person): Path<String>) -> Response {
    let result = gate.get_user(&actor, &person).await.and_then(|view| {
        view.ok_or_else(|| crate::error::Error::NotFound(format!("user `{person}`")))
    });
    reply(result, StatusCode::OK, user_view_json)
}

/// `GET /v1/organizations/{organization}/users/{person}`: the person's
/// membership there, as [`get_user`] shows it. An actor acting for another
/// organization (a session switched elsewhere) is refused.
async fn get_membership(
    Acting { gate, actor }: Acting,
    Path((org, person)): Path<(String, String)>,
) -> Response {
    let Some(actor) = acting_in(&actor, &org) else {
        return elsewhere();
    };
    get_user(Acting { gate, actor }, Path(person)).await
}

async fn edit_user(
    Acting { gate, actor }: Acting,
    Path(person): Path<String>,
    ApiJson(b): ApiJson<EditBody>,
) -> Response {
    edit(gate, actor, Target::person(person, b.version), b).await
}

async fn edit_membership(
    Acting { gate, actor }: Acting,
    Path((org, person)): Path<(String, String)>,
    ApiJson(b): ApiJson<EditBody>,
) -> Response {
    edit(gate, actor, Target::membership(person, org, b.version), b).await
}

async fn edit(
    gate: crate::gate::PartnerGate,
    actor: String,
    target: Target,
    b: EditBody,
) -> Response {
    let changes = UserChanges {
        name: b.name,
        email: b.email,
        roles: b.roles,
        is_admin: b.is_admin,
        spending_limit: b.spending_limit,
    };
    reply(
        gate.edit_user(&actor, target, changes).await,
        StatusCode::OK,
        membership_json,
    )
}

/// The actor acting in organization `org`: pinned there now unless it was
/// pinned already; `None` when it is pinned to another organization.
fn acting_in(actor: &str, org: &str) -> Option<String> {
    match crate::model::split_actor(actor) {
        (_, Some(pinned)) if pinned == org => Some(actor.to_string()),
        (_, Some(_)) => None,
        (principal, None) => Some(format!("{principal}@{org}")),
    }
}

/// The answer to an actor acting for another organization than the one
/// the request is about.
fn elsewhere() -> Response {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "forbidden",
        "the session acts for another organization: switch to this one first (`POST /v1/me/organization`)",
    )
    .into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VersionBody {
    #[serde(deserialize_with = "super::json::whole_u64")]
    version: u64,
}

async fn change_user(
    Acting { gate, actor }: Acting,
    Path((person, step)): Path<(String, String)>,
    ApiJson(b): ApiJson<VersionBody>,
) -> Response {
    change(gate, actor, Target::person(person, b.version), &step).await
}

async fn change_membership(
    Acting { gate, actor }: Acting,
    Path((org, person, step)): Path<(String, String, String)>,
    ApiJson(b): ApiJson<VersionBody>,
) -> Response {
    change(
        gate,
        actor,
        Target::membership(person, org, b.version),
        &step,
    )
    .await
}

async fn change(
    gate: crate::gate::PartnerGate,
    actor: String,
    target: Target,
    step: &str,
) -> Response {
    let result = match step {
        "revoke" => gate.revoke_user(&actor, target).await,
        "reinstate" => gate.reinstate_user(&actor, target).await,
        "remove" => gate.remove_user(&actor, target).await,
        "reinvite" => gate.reinvite_user(&actor, target).await,
        _ => return no_such_step(step, "revoke, reinstate, remove or reinvite"),
    };
    reply(result, StatusCode::OK, membership_json)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TargetBody {
    person_id: String,
    /// The membership's organization; absent for the person's only one.
    #[serde(default)]
    organization_id: Option<String>,
    #[serde(deserialize_with = "super::json::whole_u64")]
    version: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BulkChangeBody {
    action: String,
    targets: Vec<TargetBody>,
}

async fn bulk_change(
    Acting { gate, actor }: Acting,
    ApiJson(b): ApiJson<BulkChangeBody>,
) -> Response {
    let action = match b.action.as_str() {
        "revoke" => BulkAction::Revoke,
        "reinstate" => BulkAction::Reinstate,
        "remove" => BulkAction::Remove,
        "reinvite" => BulkAction::Reinvite,
        other => {
            return ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_request",
                format!("unknown action `{other}`: use revoke, reinstate, remove or reinvite"),
            )
            .into_response();
        }
    };
    let targets = b
        .targets
        .into_iter()
        .map(|t| Target {
            person_id: t.person_id,
            organization_id: t.organization_id,
            version: t.version,
        })
        .collect();
    reply(
        gate.bulk_change(&actor, action, targets).await,
        StatusCode::OK,
        results_json,
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListParams {
    status: Option<String>,
    search: Option<String>,
    sort: Option<String>,
    order: Option<String>,
    cursor: Option<String>,
    limit: Option<u32>,
}

fn user_query(organization_id: Option<String>, p: ListParams) -> Result<UserQuery, ApiError> {
    let status = match p.status.as_deref() {
        None | Some("all") => None,
        Some(s) => Some(
            s.parse::<AccountStatus>()
                .map_err(|e| bad_query(e.to_string()))?,
        ),
    };
    let sort = match p.sort.as_deref() {
        None | Some("name") => MemberSort::Name,
        Some("email") => MemberSort::Email,
        Some("company") => MemberSort::Company,
        Some("added") => MemberSort::Added,
        Some(other) => {
            return Err(bad_query(format!(
                "unknown sort `{other}`: use name, email, company or added"
            )));
        }
    };
    let descending = match p.order.as_deref() {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(other) => {
            return Err(bad_query(format!(
                "unknown order `{other}`: use asc or desc"
            )));
        }
    };
    Ok(UserQuery {
        organizations: organization_id,
        status,
        search: p.search,
        sort,
        descending,
        cursor: p.cursor,
        limit: p.limit.unwrap_or(50),
    })
}

/// A page of an organization's users (`/v1/organizations/{organization}/users`)
/// or, for staff, of their assigned organizations' (`/v1/users`).
async fn list_users(
    Acting { gate, actor }: Acting,
    organization: Option<Path<String>>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Response {
    match user_query(organization.map(|Path(org)| org), params) {
        Ok(query) => page_reply(gate.list_users(&actor, query).await, page_json),
        Err(err) => err.into_response(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PageParams {
    cursor: Option<String>,
    limit: Option<u32>,
}

/// A page of an organization's audit trail
/// (`/v1/organizations/{organization}/audit`) or of all of it (`/v1/audit`).
async fn read_audit(
    Acting { gate, actor }: Acting,
    organization: Option<Path<String>>,
    ApiQuery(p): ApiQuery<PageParams>,
) -> Response {
    let organization = organization.map(|Path(org)| org);
    let limit = p.limit.unwrap_or(50);
    let result = gate
        .read_audit(&actor, organization.as_deref(), p.cursor.as_deref(), limit)
        .await;
    page_reply(result, audit_json)
}
