//! Who is calling: the storefront's service token, a signed-in browser's
//! session cookie with its CSRF token, and the acting principal — in one
//! place.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::state::AppState;
use crate::oidc::{SESSION_COOKIE, SESSION_TTL};

/// The header naming the acting principal.
pub const ACTOR_HEADER: &str = "x-partnergate-actor";
/// The header carrying a session's CSRF token on cookie-authenticated changes.
pub const CSRF_HEADER: &str = "x-partnergate-csrf";

pub(super) async fn require_token(
    State(state): State<AppState>,
    headers: HeaderMap,
    request: Request,
    next: Next,
) -> Response {
    if let Some(expected) = &state.token {
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if !presented.is_some_and(|p| constant_time_eq(p.as_bytes(), expected.as_bytes())) {
            return ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "send the service token as `Authorization: Bearer <token>`",
            )
            .deny()
            .into_response();
        }
    }
    next.run(request).await
}

/// Authenticates user-management requests: a request with a session cookie
/// and no `Authorization` (sign-in configured) by its session — valid, with
/// the CSRF token on changes — whose principal becomes the actor; anything
/// else by the service token.
pub(super) async fn require_token_or_session(
    State(state): State<AppState>,
    headers: HeaderMap,
    mut request: Request,
    next: Next,
) -> Response {
    if let Some(service) = &state.sign_in
        && !headers.contains_key(header::AUTHORIZATION)
        && let Some(id) = session_cookie(&headers)
    {
        return match session_actor(service, &state.gate, &id, request.method(), &headers).await {
            Ok(actor) => {
                request.extensions_mut().insert(actor);
                next.run(request).await
            }
            Err(refused) => refused,
        };
    }
    require_token(State(state), headers, request, next).await
}

pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The acting principal: the session's person when the request came in with a
/// valid session (see [`SessionActor`]), otherwise `X-PartnerGate-Actor`.
pub(crate) struct Actor(pub(crate) String);

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

/// The acting principal and the library it acts through: what every
/// organization-user handler starts from.
pub(crate) struct Acting {
    pub(crate) gate: crate::gate::PartnerGate,
    pub(crate) actor: String,
}

impl FromRequestParts<AppState> for Acting {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let Actor(actor) = Actor::from_request_parts(parts, state).await?;
        Ok(Self {
            gate: state.gate.clone(),
            actor,
        })
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
    // A person in several organizations acts only once they picked one.
    if session.staff_id.is_none() && session.organization_id.is_none() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "organization_required",
            "you belong to several organizations: choose the one to act for first (`POST /v1/me/organization`)",
        )
        .deny()
        .into_response());
    }
    let actor = session.actor();
    if !method.is_safe()
        && let Err(refused) = csrf_checked(&session, headers)
    {
        return Err(refused.deny().into_response());
    }
    // The header may name the person alone or as the session acts.
    let person = match &session.staff_id {
        Some(_) => actor.clone(),
        None => format!("customer:{}", session.person_id),
    };
    if let Some(named) = headers.get(ACTOR_HEADER)
        && named.as_bytes() != actor.as_bytes()
        && named.as_bytes() != person.as_bytes()
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

/// Refuses a change from a signed-in browser that does not send its
/// session's CSRF token in `X-PartnerGate-CSRF`.
pub(crate) fn csrf_checked(
    session: &crate::oidc::Session,
    headers: &HeaderMap,
) -> Result<(), ApiError> {
    let presented = headers
        .get(CSRF_HEADER)
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    if session.csrf_token.is_empty() || !constant_time_eq(presented, session.csrf_token.as_bytes())
    {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "csrf_token_required",
            "a change from a signed-in browser must send the session's `csrf_token` (GET /v1/me) in `X-PartnerGate-CSRF`",
        ));
    }
    Ok(())
}

pub(crate) fn session_cookie(headers: &HeaderMap) -> Option<String> {
    cookie(headers, SESSION_COOKIE)
}

/// The value of the cookie `name` the request carries.
pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .map(str::trim)
        .find_map(|c| {
            c.strip_prefix(name)
                .and_then(|rest| rest.strip_prefix('='))
                .map(String::from)
        })
}

/// How long a begun sign-in's binding cookie lives (as its server-side
/// state).
const BINDING_TTL_SECS: u64 = 600;

/// The `Set-Cookie` value binding a begun sign-in to this browser:
/// HttpOnly, SameSite=Lax (the provider's redirect back is a top-level
/// GET, which carries it), `__Host-` and Secure over https.
pub(super) fn binding_cookie(binding: &crate::oidc::Binding, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!(
        "{}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age={BINDING_TTL_SECS}{secure}",
        binding.cookie, binding.value
    )
}

/// The `Set-Cookie` value that ends a binding cookie.
pub(super) fn cleared_binding_cookie(name: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}")
}

/// The `Set-Cookie` value that ends the session cookie in the browser.
pub(super) fn cleared_session_cookie() -> String {
    format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0")
}

/// The `Set-Cookie` value for a new session: HttpOnly, SameSite=Lax, and
/// Secure when the site is served over https.
pub(crate) fn set_session_cookie(session: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!(
        "{SESSION_COOKIE}={session}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
        SESSION_TTL.as_secs()
    )
}
