//! The browser-facing sign-in endpoints: login, callback, logout, and
//! `GET /v1/me` for the signed-in person. Not behind the service token: the
//! session cookie is the credential.

use std::sync::Arc;

use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::auth::{
    binding_cookie, cleared_binding_cookie, cleared_session_cookie, cookie, session_cookie,
    set_session_cookie,
};
use super::error::ApiError;
use super::json::ApiQuery;
use super::state::AppState;
use crate::error::Error;
use crate::oidc::{SignInService, Signed};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/signin/{provider}/login", get(login))
        .route("/v1/signin/{provider}/callback", get(callback))
        .route("/v1/signin/logout", post(logout))
        .route("/v1/me", get(me))
        .route("/v1/me/organization", post(switch_organization))
}

/// The sign-in service, for the handlers that need it: without
/// `--oidc-providers`, the request is refused with 501.
struct Service(Arc<SignInService>);

impl FromRequestParts<AppState> for Service {
    type Rejection = ApiError;

    async fn from_request_parts(_: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        state.sign_in.clone().map(Service).ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_IMPLEMENTED,
                "sign_in_not_configured",
                "sign-in is not configured: see --oidc-providers",
            )
        })
    }
}

#[derive(Deserialize)]
struct LoginParams {
    login_hint: Option<String>,
    return_to: Option<String>,
}

async fn login(
    Service(service): Service,
    Path(provider): Path<String>,
    ApiQuery(p): ApiQuery<LoginParams>,
) -> Response {
    match service
        .begin(
            &provider,
            p.login_hint.as_deref(),
            p.return_to.as_deref().unwrap_or("/v1/me"),
        )
        .await
    {
        Ok((url, binding)) => {
            let cookie = binding_cookie(&binding, service.secure_cookies(&provider));
            (
                StatusCode::SEE_OTHER,
                [(header::LOCATION, url), (header::SET_COOKIE, cookie)],
            )
                .into_response()
        }
        Err(err) => ApiError::from(err).into_response(),
    }
}

#[derive(Deserialize)]
struct CallbackParams {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
    /// RFC 9207: the issuer of the authorization response.
    iss: Option<String>,
}

async fn callback(
    State(state): State<AppState>,
    Service(service): Service,
    Path(provider): Path<String>,
    headers: HeaderMap,
    ApiQuery(p): ApiQuery<CallbackParams>,
) -> Response {
    if let Some(error) = p.error {
        let message = format!(
            "the provider answered `{error}`: {}",
            p.error_description.unwrap_or_default()
        );
        return ApiError::from(Error::Refused(message)).into_response();
    }
    let (Some(code), Some(st)) = (p.code, p.state) else {
        return ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the callback needs `code` and `state`",
        )
        .into_response();
    };
    let secure = service.secure_cookies(&provider);
    let name = crate::oidc::binding_cookie_name(&st, secure);
    let binding = name.as_deref().and_then(|name| cookie(&headers, name));
    let mut response = match service
        .finish(
            &state.gate,
            &provider,
            &code,
            &st,
            p.iss.as_deref(),
            binding.as_deref(),
        )
        .await
    {
        Ok((session, return_to)) => {
            let cookie = set_session_cookie(&session, secure);
            let mut response =
                (StatusCode::SEE_OTHER, [(header::LOCATION, return_to)]).into_response();
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                response.headers_mut().append(header::SET_COOKIE, value);
            }
            response
        }
        Err(err) => {
            tracing::info!(provider, "sign-in refused: {err}");
            ApiError::from(err).into_response()
        }
    };
    // The binding is single use, like the state.
    if let Some(name) = name
        && let Ok(value) = HeaderValue::from_str(&cleared_binding_cookie(&name, secure))
    {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

async fn logout(Service(service): Service, headers: HeaderMap) -> Response {
    let end_session = match session_cookie(&headers) {
        Some(id) => match service.logout(&id).await {
            Ok(url) => url,
            Err(err) => return ApiError::from(err).into_response(),
        },
        None => None,
    };
    let clear = cleared_session_cookie();
    match end_session {
        // The provider ends its own session too.
        Some(url) => (
            StatusCode::SEE_OTHER,
            [(header::SET_COOKIE, clear), (header::LOCATION, url)],
        )
            .into_response(),
        None => (StatusCode::NO_CONTENT, [(header::SET_COOKIE, clear)]).into_response(),
    }
}

fn not_signed_in() -> Response {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "not_signed_in",
        "sign in first: /v1/signin/<provider>/login",
    )
    .into_response()
}

/// The request's live session: its id, the session and who it is; 401
/// without one.
async fn live(
    state: &AppState,
    service: &SignInService,
    headers: &HeaderMap,
) -> Result<(String, crate::oidc::Session, Signed), Response> {
    let Some(id) = session_cookie(headers) else {
        return Err(not_signed_in());
    };
    match service.live_session(&state.gate, &id).await {
        Ok(Some((session, account))) => Ok((id, session, account)),
        Ok(None) => Err(not_signed_in()),
        Err(err) => Err(ApiError::from(err).into_response()),
    }
}

async fn me(
    State(state): State<AppState>,
    Service(service): Service,
    headers: HeaderMap,
) -> Response {
    let (session, account) = match live(&state, &service, &headers).await {
        Ok((_, session, Signed::Customer(account))) => (session, account),
        Ok((_, session, Signed::Staff(staff))) => {
            return Json(json!({
                "staff": {
                    "id": staff.id,
                    "name": staff.name,
                    "email": staff.email,
                    "assigned_organizations": staff.assigned_organizations,
                },
                "identity": { "issuer": session.issuer, "subject": session.subject },
                "csrf_token": session.csrf_token,
            }))
            .into_response();
        }
        Err(refused) => return refused,
    };
    let membership = account.membership.as_ref();
    // Every membership of the person (their own to see), the session's
    // active one marked.
    let memberships: Vec<serde_json::Value> = account
        .memberships
        .iter()
        .map(|m| {
            json!({
                "organization": { "id": m.organization.id, "name": m.organization.name },
                "organization_id": m.organization.id,
                "status": m.membership.status.name(),
                "roles": m.membership.roles,
                "is_admin": m.membership.is_admin,
                "spending_limit": m.membership.spending_limit,
                "active": Some(&m.organization.id) == session.organization_id.as_ref(),
            })
        })
        .collect();
    let acting = session.organization_id.is_some();
    Json(json!({
        "person": { "id": account.person.id, "email": account.person.email, "name": account.person.name },
        "organization": account.organization.as_ref().filter(|_| acting).map(|o| json!({ "id": o.id, "name": o.name })),
        "status": membership.filter(|_| acting).map(|m| m.status.name()),
        "roles": membership.filter(|_| acting).map(|m| m.roles.clone()).unwrap_or_default(),
        "is_admin": acting && membership.is_some_and(|m| m.is_admin),
        "memberships": memberships,
        "choose_organization": !acting,
        "identity": { "issuer": session.issuer, "subject": session.subject },
        "csrf_token": session.csrf_token,
    }))
    .into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SwitchBody {
    organization: String,
}

/// `POST /v1/me/organization`: the session acts for another of the
/// person's organizations from now on. The membership there is checked as
/// at sign-in and the session rotated: the answer sets a new session cookie
/// and gives the new CSRF token; the old session ends.
async fn switch_organization(
    State(state): State<AppState>,
    Service(service): Service,
    headers: HeaderMap,
    super::json::ApiJson(body): super::json::ApiJson<SwitchBody>,
) -> Response {
    let (id, session, _) = match live(&state, &service, &headers).await {
        Ok(live) => live,
        Err(refused) => return refused,
    };
    if let Err(refused) = super::auth::csrf_checked(&session, &headers) {
        return refused.into_response();
    }
    match service
        .switch(&state.gate, &id, body.organization.trim())
        .await
    {
        Ok(Some((new_id, switched))) => {
            let cookie = set_session_cookie(&new_id, service.secure_cookies(&switched.provider));
            (
                StatusCode::OK,
                [(header::SET_COOKIE, cookie)],
                Json(json!({
                    "organization_id": switched.organization_id,
                    "csrf_token": switched.csrf_token,
                })),
            )
                .into_response()
        }
        Ok(None) => not_signed_in(),
        Err(Error::Refused(reason)) => {
            ApiError::new(StatusCode::FORBIDDEN, "not_a_member", reason).into_response()
        }
        Err(err) => ApiError::from(err).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_cookies_are_http_only_lax_and_secure_under_https() {
        let cookie = set_session_cookie("abc", true);
        assert!(cookie.starts_with("pg_session=abc; Path=/; HttpOnly; SameSite=Lax"));
        assert!(cookie.ends_with("; Secure"), "{cookie}");
        assert!(!set_session_cookie("abc", false).contains("Secure"));
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("theme=dark; pg_session=s-1; pg_sessionx=no"),
        );
        assert_eq!(session_cookie(&headers).as_deref(), Some("s-1"));
        headers.insert(header::COOKIE, HeaderValue::from_static("pg_sessionx=no"));
        assert_eq!(session_cookie(&headers), None);
    }
}
