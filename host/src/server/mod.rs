//! The HTTP API of `partnergate serve`, under `/v1`, described by the
//! OpenAPI document served at `/v1/openapi.json`.

use std::future::Future;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use tokio::net::TcpListener;

use crate::error::{Error, Fault};
use crate::gate::{AuthorizeRequest, PartnerGate};

pub(crate) mod json;

pub use json::MAX_BODY_BYTES;

/// The OpenAPI document of this API.
pub const OPENAPI: &str = include_str!("../../openapi.json");

/// Every route served, as `(method, path)`; the OpenAPI document must list
/// each (a test checks it).
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/v1/health"),
    ("get", "/v1/openapi.json"),
    ("post", "/v1/authorize"),
    ("get", "/v1/policies"),
    ("post", "/v1/policies/reload"),
    ("get", "/v1/organizations/{organization}/users"),
    ("post", "/v1/organizations/{organization}/users"),
    ("post", "/v1/organizations/{organization}/users/bulk"),
    ("get", "/v1/organizations/{organization}/audit"),
    ("post", "/v1/organizations"),
    ("get", "/v1/users"),
    ("patch", "/v1/users/{person}"),
    ("post", "/v1/users/{person}/revoke"),
    ("post", "/v1/users/{person}/reinstate"),
    ("post", "/v1/users/{person}/remove"),
    ("post", "/v1/users/{person}/reinvite"),
    ("post", "/v1/users/bulk"),
    ("get", "/v1/audit"),
    ("post", "/v1/onboarding"),
    ("get", "/v1/onboarding"),
    ("get", "/v1/signin/{provider}/login"),
    ("get", "/v1/signin/{provider}/callback"),
    ("post", "/v1/signin/logout"),
    ("get", "/v1/me"),
    ("post", "/v1/onboarding/{request}/approve"),
    ("post", "/v1/onboarding/{request}/reject"),
];

#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) gate: PartnerGate,
    token: Option<String>,
    pub(crate) sign_in: Option<std::sync::Arc<crate::oidc::SignInService>>,
}

/// The router, for embedding in a storefront's own axum server.
pub fn router(gate: PartnerGate, service_token: Option<String>) -> Router {
    router_with_sign_in(gate, service_token, None)
}

/// The router with the browser sign-in endpoints of `sign_in`.
pub fn router_with_sign_in(
    gate: PartnerGate,
    service_token: Option<String>,
    sign_in: Option<std::sync::Arc<crate::oidc::SignInService>>,
) -> Router {
    let state = AppState {
        gate,
        token: service_token,
        sign_in,
    };
    let protected = Router::new()
        .route("/v1/authorize", post(authorize))
        .route("/v1/policies", get(policies))
        .route("/v1/policies/reload", post(reload))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token));
    // User management: the storefront with its token, or a signed-in
    // browser with its session (the actor is then the session's person).
    let users = crate::server_users::routes().route_layer(middleware::from_fn_with_state(
        state.clone(),
        require_token_or_session,
    ));
    Router::new()
        .route("/v1/health", get(health))
        .route("/v1/openapi.json", get(openapi))
        .merge(protected)
        .merge(users)
        .merge(crate::server_signin::routes())
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .fallback(|| async {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                "no such endpoint: see /v1/openapi.json",
            )
            .into_response()
        })
        .with_state(state)
}

/// Serves `router` on `listener` until `shutdown` completes.
pub async fn serve_router(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}

/// Serves the API on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    gate: PartnerGate,
    service_token: Option<String>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(gate, service_token))
        .with_graceful_shutdown(shutdown)
        .await
}

/// A JSON error body: a stable `code`, a human `message`, and for anything
/// about authorization `"decision": "deny"` so careless callers fail closed.
pub(crate) struct ApiError {
    status: StatusCode,
    body: serde_json::Value,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            body: json!({ "code": code, "message": message.into() }),
        }
    }

    pub(crate) fn deny(mut self) -> Self {
        self.body["decision"] = json!("deny");
        self
    }
}

impl ApiError {
    /// The JSON body alone (for per-item results of bulk calls).
    pub(crate) fn into_json(self) -> serde_json::Value {
        self.body
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        let message = err.to_string();
        match err {
            Error::InvalidRequest(_) => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", message)
            }
            Error::InvalidPolicies(problems) => {
                let mut e = Self::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_policies",
                    "the policy set is invalid; the current set stays in use",
                );
                e.body["problems"] = json!(problems);
                e
            }
            Error::PolicySource(_) => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, "policy_source", message)
            }
            Error::Unavailable(_) => {
                Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
            }
            Error::Busy(_) => Self::new(StatusCode::SERVICE_UNAVAILABLE, "busy", message),
            Error::ProviderUnavailable(_) => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "provider_unavailable",
                message,
            ),
            Error::Plugin { fault, .. } => {
                let code = match fault {
                    Fault::Deadline => "plugin_deadline",
                    Fault::MemoryLimit => "plugin_memory_limit",
                    Fault::Trap => "plugin_trap",
                };
                tracing::error!("{message}");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    code,
                    "the plugin failed; the request is denied",
                )
            }
            Error::Unsupported(_) => Self::new(StatusCode::NOT_IMPLEMENTED, "unsupported", message),
            Error::Denied(decision) => {
                let mut e = Self::new(StatusCode::FORBIDDEN, "denied", message);
                e.body["decision"] = json!("deny");
                e.body["policies"] = json!(decision.policies);
                e.body["errors"] = json!(decision.errors);
                e
            }
            Error::NotFound(_) => Self::new(StatusCode::NOT_FOUND, "not_found", message),
            Error::Refused(_) => {
                let mut e = Self::new(StatusCode::FORBIDDEN, "sign_in_refused", message);
                e.body["decision"] = json!("deny");
                e
            }
            Error::Conflict(_) => Self::new(StatusCode::CONFLICT, "conflict", message),
            Error::RateLimited(secs) => {
                let mut e = Self::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", message);
                e.body["retry_after"] = json!(secs);
                e
            }
            Error::Engine(_) | Error::Config(_) => {
                tracing::error!("{message}");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal error; the request is denied",
                )
            }
        }
    }
}

async fn require_token(
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
async fn require_token_or_session(
    State(state): State<AppState>,
    headers: HeaderMap,
    mut request: Request,
    next: Next,
) -> Response {
    if let Some(service) = &state.sign_in
        && !headers.contains_key(header::AUTHORIZATION)
        && let Some(id) = crate::server_signin::session_cookie(&headers)
    {
        return match crate::server_users::session_actor(
            service,
            &state.gate,
            &id,
            request.method(),
            &headers,
        )
        .await
        {
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

async fn health(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(json!({
        "status": "ok",
        "policy": state.gate.policy_summary(),
        "idle_instances": state.gate.idle_instances(),
    }))
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

async fn authorize(
    State(state): State<AppState>,
    body: Result<Json<AuthorizeRequest>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Json(request) = match body {
        Ok(body) => body,
        Err(rejection) => return json::json_rejection(&rejection).deny().into_response(),
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

async fn policies(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(json!(state.gate.policy_summary()))
}

async fn reload(State(state): State<AppState>) -> Response {
    match state.gate.reload_policies().await {
        Ok(summary) => Json(summary).into_response(),
        Err(err) => ApiError::from(err).into_response(),
    }
}
