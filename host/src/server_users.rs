//! The organization-user endpoints of the HTTP API. The acting principal is
//! either named by the `X-PartnerGate-Actor` header (`customer:<id>` or
//! `staff:<id>`), asserted by the storefront that holds the service token, or
//! the person of a signed-in browser's session (changes then also need the
//! session's CSRF token in `X-PartnerGate-CSRF`).

use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::bindings::org_users::{BulkAction, NewUser, Target, UserChanges, UserQuery};
use crate::bindings::types::{
    Account, AccountStatus, AuditPage, MemberPage, MemberSort, Membership, OnboardingRequest,
    OnboardingStatus, Organization,
};
use crate::error::Error;
use crate::server::json::{ApiJson, ApiQuery, OptionalJson};
use crate::server::{ApiError, AppState};

/// The header naming the acting principal.
pub const ACTOR_HEADER: &str = "x-partnergate-actor";
/// The header carrying a session's CSRF token on cookie-authenticated changes.
pub const CSRF_HEADER: &str = "x-partnergate-csrf";

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/organizations", post(create_organization))
        .route(
            "/v1/organizations/{organization}/users",
            get(list_org_users).post(add_user),
        )
        .route(
            "/v1/organizations/{organization}/users/bulk",
            post(bulk_add),
        )
        .route("/v1/organizations/{organization}/audit", get(org_audit))
        .route("/v1/users", get(list_all_users))
        .route("/v1/users/bulk", post(bulk_change))
        .route("/v1/users/{person}", patch(edit_user))
        .route("/v1/users/{person}/{step}", post(change_user))
        .route("/v1/audit", get(all_audit))
        .route(
            "/v1/onboarding",
            post(submit_onboarding).get(list_onboarding),
        )
        .route("/v1/onboarding/{request}/{step}", post(decide_onboarding))
}

/// The acting principal: the session's person when the request came in with a
/// valid session (see [`SessionActor`]), otherwise `X-PartnerGate-Actor`.
pub(crate) struct Actor(String);

/// Put into a request's extensions by the server's middleware when a
/// signed-in browser's session authenticated it: the session's principal.
#[derive(Clone)]
pub(crate) struct SessionActor(pub(crate) String);

impl<S: Send + Sync> FromRequestParts<S> for Actor {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Response> {
        if let Some(SessionActor(actor)) = parts.extensions.get::<SessionActor>() {
            return Ok(Self(actor.clone()));
        }
        let value = parts
            .headers
            .get(ACTOR_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .unwrap_or("");
        let id = value
            .strip_prefix("customer:")
            .or_else(|| value.strip_prefix("staff:"));
        if id.is_none_or(|id| id.is_empty() || id.chars().any(char::is_whitespace)) {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "actor_required",
                "name the acting principal in the `X-PartnerGate-Actor` header: `customer:<id>` or `staff:<id>`",
            )
            .into_response());
        }
        Ok(Self(value.to_string()))
    }
}

/// The principal of a signed-in browser's session `id`. A change (any method
/// but GET/HEAD) must carry the session's CSRF token; an
/// `X-PartnerGate-Actor` naming someone else is refused rather than ignored.
pub(crate) async fn session_actor(
    service: &crate::oidc::SignInService,
    gate: &crate::gate::PartnerGate,
    id: &str,
    method: &axum::http::Method,
    headers: &axum::http::HeaderMap,
) -> Result<SessionActor, Response> {
    let session = match service.live_session(gate, id).await {
        Ok(Some((session, _))) => session,
        Ok(None) => {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "not_signed_in",
                "the session has ended (signed out, expired, or the membership was revoked): sign in again",
            )
            .deny()
            .into_response());
        }
        Err(err) => return Err(ApiError::from(err).into_response()),
    };
    let actor = format!("customer:{}", session.person_id);
    if !method.is_safe() {
        let presented = headers
            .get(CSRF_HEADER)
            .map(|v| v.as_bytes())
            .unwrap_or_default();
        if session.csrf_token.is_empty()
            || !crate::server::constant_time_eq(presented, session.csrf_token.as_bytes())
        {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "csrf_token_required",
                "a change from a signed-in browser must send the session's `csrf_token` (GET /v1/me) in `X-PartnerGate-CSRF`",
            )
            .deny()
            .into_response());
        }
    }
    if let Some(named) = headers.get(ACTOR_HEADER)
        && named.as_bytes() != actor.as_bytes()
    {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "actor_mismatch",
            format!("signed in as `{actor}`: a session cannot act as another principal"),
        )
        .deny()
        .into_response());
    }
    Ok(SessionActor(actor))
}

fn reply<T>(
    result: Result<T, Error>,
    status: StatusCode,
    to_json: impl FnOnce(T) -> Value,
) -> Response {
    match result {
        Ok(value) => (status, Json(to_json(value))).into_response(),
        Err(err) => error_response(err),
    }
}

/// A query-string problem: 400, like a malformed query string.
fn bad_query(message: String) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", message)
}

/// [`reply`] for listings, whose only invalid input is the query string
/// (limit, cursor): that is a 400.
fn page_reply<T>(result: Result<T, Error>, to_json: impl FnOnce(T) -> Value) -> Response {
    match result {
        Err(Error::InvalidRequest(m)) => bad_query(m).into_response(),
        other => reply(other, StatusCode::OK, to_json),
    }
}

fn error_response(err: Error) -> Response {
    let retry = if let Error::RateLimited(secs) = &err {
        Some(*secs)
    } else {
        None
    };
    let mut response = ApiError::from(err).into_response();
    if let Some(secs) = retry
        && let Ok(value) = HeaderValue::from_str(&secs.to_string())
    {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

fn error_json(err: Error) -> Value {
    let response = ApiError::from(err);
    response.into_json()
}

pub(crate) fn membership_json(m: Membership) -> Value {
    json!({
        "person_id": m.person_id,
        "organization_id": m.organization_id,
        "status": m.status.name(),
        "previous_status": m.previous_status.map(AccountStatus::name),
        "is_admin": m.is_admin,
        "roles": m.roles,
        "spending_limit": m.spending_limit,
        "invited_at": m.invited_at,
        "version": m.version,
    })
}

fn organization_json(o: Organization) -> Value {
    json!({ "id": o.id, "name": o.name, "status": o.status.name(), "active_admins": o.active_admins })
}

fn account_json(a: Account) -> Value {
    json!({
        "person": { "id": a.person.id, "email": a.person.email, "name": a.person.name },
        "membership": a.membership.map(membership_json),
        "organization": a.organization.map(organization_json),
    })
}

fn page_json(p: MemberPage) -> Value {
    json!({ "users": p.members.into_iter().map(account_json).collect::<Vec<_>>(), "next_cursor": p.next_cursor })
}

fn audit_json(p: AuditPage) -> Value {
    let entries: Vec<Value> = p
        .entries
        .into_iter()
        .map(|r| {
            let parse = |s: &str| {
                if s.is_empty() {
                    Value::Null
                } else {
                    serde_json::from_str(s).unwrap_or(Value::String(s.into()))
                }
            };
            json!({
                "id": r.id,
                "at": r.at,
                "actor": r.entry.actor,
                "action": r.entry.action,
                "target": r.entry.target,
                "organization_id": r.entry.organization_id,
                "before": parse(&r.entry.before),
                "after": parse(&r.entry.after),
                "policies": r.entry.policies,
            })
        })
        .collect();
    json!({ "entries": entries, "next_cursor": p.next_cursor })
}

fn onboarding_json(r: OnboardingRequest) -> Value {
    json!({
        "id": r.id,
        "organization_name": r.organization_name,
        "requester_name": r.requester_name,
        "requester_email": r.requester_email,
        "status": r.status.name(),
        "organization_id": r.organization_id,
        "submitted_at": r.submitted_at,
        "version": r.version,
    })
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
    #[serde(default, deserialize_with = "crate::server::json::optional_whole_u64")]
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
    State(state): State<AppState>,
    Actor(actor): Actor,
    Path(org): Path<String>,
    ApiJson(b): ApiJson<NewUserBody>,
) -> Response {
    reply(
        state.gate.add_user(&actor, &org, b.into()).await,
        StatusCode::CREATED,
        membership_json,
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BulkAddBody {
    users: Vec<NewUserBody>,
}

fn results_json(results: Vec<Result<Membership, Error>>) -> Value {
    let results: Vec<Value> = results
        .into_iter()
        .map(|r| match r {
            Ok(m) => json!({ "ok": membership_json(m) }),
            Err(e) => json!({ "error": error_json(e) }),
        })
        .collect();
    json!({ "results": results })
}

async fn bulk_add(
    State(state): State<AppState>,
    Actor(actor): Actor,
    Path(org): Path<String>,
    ApiJson(b): ApiJson<BulkAddBody>,
) -> Response {
    let users = b.users.into_iter().map(NewUser::from).collect();
    reply(
        state.gate.bulk_add(&actor, &org, users).await,
        StatusCode::OK,
        results_json,
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EditBody {
    #[serde(deserialize_with = "crate::server::json::whole_u64")]
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
    crate::server::json::optional_whole_u64(d).map(Some)
}

async fn edit_user(
    State(state): State<AppState>,
    Actor(actor): Actor,
    Path(person): Path<String>,
    ApiJson(b): ApiJson<EditBody>,
) -> Response {
    let changes = UserChanges {
        name: b.name,
        email: b.email,
        roles: b.roles,
        is_admin: b.is_admin,
        spending_limit: b.spending_limit,
    };
    let target = Target {
        person_id: person,
        version: b.version,
    };
    reply(
        state.gate.edit_user(&actor, target, changes).await,
        StatusCode::OK,
        membership_json,
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VersionBody {
    #[serde(deserialize_with = "crate::server::json::whole_u64")]
    version: u64,
}

async fn change_user(
    State(state): State<AppState>,
    Actor(actor): Actor,
    Path((person, step)): Path<(String, String)>,
    ApiJson(b): ApiJson<VersionBody>,
) -> Response {
    let target = Target {
        person_id: person,
        version: b.version,
    };
    let result = match step.as_str() {
        "revoke" => state.gate.revoke_user(&actor, target).await,
        "reinstate" => state.gate.reinstate_user(&actor, target).await,
        "remove" => state.gate.remove_user(&actor, target).await,
        "reinvite" => state.gate.reinvite_user(&actor, target).await,
        _ => {
            return ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("no such step `{step}`: use revoke, reinstate, remove or reinvite"),
            )
            .into_response();
        }
    };
    reply(result, StatusCode::OK, membership_json)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TargetBody {
    person_id: String,
    #[serde(deserialize_with = "crate::server::json::whole_u64")]
    version: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BulkChangeBody {
    action: String,
    targets: Vec<TargetBody>,
}

async fn bulk_change(
    State(state): State<AppState>,
    Actor(actor): Actor,
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
            version: t.version,
        })
        .collect();
    reply(
        state.gate.bulk_change(&actor, action, targets).await,
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

fn user_query(organization_id: Option<String>, p: ListParams) -> Result<UserQuery, Response> {
    let bad = |m: String| bad_query(m).into_response();
    let status = match p.status.as_deref() {
        None | Some("all") => None,
        Some(s) => Some(s.parse::<AccountStatus>().map_err(|e| bad(e.to_string()))?),
    };
    let sort = match p.sort.as_deref() {
        None | Some("name") => MemberSort::Name,
        Some("email") => MemberSort::Email,
        Some("company") => MemberSort::Company,
        Some("added") => MemberSort::Added,
        Some(other) => {
            return Err(bad(format!(
                "unknown sort `{other}`: use name, email, company or added"
            )));
        }
    };
    let descending = match p.order.as_deref() {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(other) => return Err(bad(format!("unknown order `{other}`: use asc or desc"))),
    };
    Ok(UserQuery {
        organization_id,
        status,
        search: p.search,
        sort,
        descending,
        cursor: p.cursor,
        limit: p.limit.unwrap_or(50),
    })
}

async fn list_org_users(
    State(state): State<AppState>,
    Actor(actor): Actor,
    Path(org): Path<String>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Response {
    match user_query(Some(org), params) {
        Ok(query) => page_reply(state.gate.list_users(&actor, query).await, page_json),
        Err(r) => r,
    }
}

async fn list_all_users(
    State(state): State<AppState>,
    Actor(actor): Actor,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Response {
    match user_query(None, params) {
        Ok(query) => page_reply(state.gate.list_users(&actor, query).await, page_json),
        Err(r) => r,
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PageParams {
    cursor: Option<String>,
    limit: Option<u32>,
}

async fn org_audit(
    State(state): State<AppState>,
    Actor(actor): Actor,
    Path(org): Path<String>,
    ApiQuery(p): ApiQuery<PageParams>,
) -> Response {
    let result = state
        .gate
        .read_audit(
            &actor,
            Some(&org),
            p.cursor.as_deref(),
            p.limit.unwrap_or(50),
        )
        .await;
    page_reply(result, audit_json)
}

async fn all_audit(
    State(state): State<AppState>,
    Actor(actor): Actor,
    ApiQuery(p): ApiQuery<PageParams>,
) -> Response {
    let result = state
        .gate
        .read_audit(&actor, None, p.cursor.as_deref(), p.limit.unwrap_or(50))
        .await;
    page_reply(result, audit_json)
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
    State(state): State<AppState>,
    Actor(actor): Actor,
    ApiQuery(p): ApiQuery<OnboardingParams>,
) -> Response {
    let status = match p.status.as_deref() {
        None | Some("all") => None,
        Some("pending") => Some(OnboardingStatus::Pending),
        Some("approved") => Some(OnboardingStatus::Approved),
        Some("rejected") => Some(OnboardingStatus::Rejected),
        Some(other) => {
            return bad_query(format!(
                "unknown status `{other}`: use all, pending, approved or rejected"
            ))
            .into_response();
        }
    };
    reply(
        state.gate.list_onboarding(&actor, status).await,
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
    State(state): State<AppState>,
    Actor(actor): Actor,
    Path((request, step)): Path<(String, String)>,
    OptionalJson(b): OptionalJson<RejectBody>,
) -> Response {
    let result = match step.as_str() {
        "approve" => state.gate.approve_onboarding(&actor, &request).await,
        "reject" => {
            state
                .gate
                .reject_onboarding(&actor, &request, &b.map(|b| b.reason).unwrap_or_default())
                .await
        }
        _ => {
            return ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("no such step `{step}`: use approve or reject"),
            )
            .into_response();
        }
    };
    reply(result, StatusCode::OK, onboarding_json)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OrganizationBody {
    name: String,
}

async fn create_organization(
    State(state): State<AppState>,
    Actor(actor): Actor,
    ApiJson(b): ApiJson<OrganizationBody>,
) -> Response {
    reply(
        state.gate.create_organization(&actor, &b.name).await,
        StatusCode::CREATED,
        organization_json,
    )
}
