//! The HTTP API of `partnergate serve`, under `/v1`, described by the
//! OpenAPI document served at `/v1/openapi.json`.

//!
//! # Layout
//! - this module: the route table, the router and `serve`;
//! - [`auth`]: service token, session cookie, CSRF token, the actor;
//! - `error`: the one error → status table and the JSON error body;
//! - `json`: extractors that refuse with that body, and the presenters;
//! - `state`: what every handler shares;
//! - handlers by resource: `decisions` (authorize, policies, health),
//!   `users`, `onboarding`, `signin`;
//! - [`page`]: the "Organization users" page, HTML for a signed-in
//!   administrator under its own prefix.

use std::future::Future;

use axum::Router;
use axum::http::StatusCode;
use axum::middleware;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use tokio::net::TcpListener;

use crate::gate::PartnerGate;

pub mod auth;
mod decisions;
mod error;
pub(crate) mod json;
mod onboarding;
mod organizations;
pub mod page;
mod signin;
mod state;
mod users;

pub use json::MAX_BODY_BYTES;
pub(crate) use state::AppState;

use error::ApiError;

pub use decisions::OPENAPI;

/// Every route served, as `(method, path)`; the OpenAPI document must list
/// each (a test checks it).
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/v1/health"),
    ("get", "/v1/openapi.json"),
    ("post", "/v1/authorize"),
    ("get", "/v1/policies"),
    ("post", "/v1/policies/reload"),
    ("get", "/v1/shadow"),
    ("get", "/metrics"),
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
    ("post", "/v1/me/organization"),
    ("get", "/v1/organizations/{organization}/users/{person}"),
    ("patch", "/v1/organizations/{organization}/users/{person}"),
    (
        "post",
        "/v1/organizations/{organization}/users/{person}/revoke",
    ),
    (
        "post",
        "/v1/organizations/{organization}/users/{person}/reinstate",
    ),
    (
        "post",
        "/v1/organizations/{organization}/users/{person}/remove",
    ),
    (
        "post",
        "/v1/organizations/{organization}/users/{person}/reinvite",
    ),
    ("post", "/v1/onboarding/{request}/approve"),
    ("post", "/v1/onboarding/{request}/reject"),
    ("get", "/v1/organizations"),
    ("post", "/v1/organizations/{organization}/block"),
    ("post", "/v1/organizations/{organization}/unblock"),
    ("get", "/v1/organizations/{organization}/staff"),
    ("post", "/v1/organizations/{organization}/staff"),
    ("delete", "/v1/organizations/{organization}/staff/{staff}"),
];

/// The router, for embedding in a storefront's own axum server.
pub fn router(gate: PartnerGate, service_token: Option<String>) -> Router {
    router_with_sign_in(gate, service_token, None)
}

/// The router with the browser sign-in endpoints of `sign_in` and, with
/// sign-in, the organization-users page at its default prefix.
pub fn router_with_sign_in(
    gate: PartnerGate,
    service_token: Option<String>,
    sign_in: Option<std::sync::Arc<crate::oidc::SignInService>>,
) -> Router {
    let page = sign_in.as_ref().map(|_| page::PageConfig::default());
    router_with(gate, service_token, sign_in, page)
}

/// The router with sign-in and, when `page` is given, the
/// organization-users page as it configures.
pub fn router_with(
    gate: PartnerGate,
    service_token: Option<String>,
    sign_in: Option<std::sync::Arc<crate::oidc::SignInService>>,
    page: Option<page::PageConfig>,
) -> Router {
    let page_routes = page.as_ref().map(page::routes);
    let state = AppState {
        gate,
        token: service_token,
        sign_in,
        page: page.map(std::sync::Arc::new),
    };
    let protected = Router::new()
        .route("/v1/authorize", post(decisions::authorize))
        .route("/v1/policies", get(decisions::policies))
        .route("/v1/policies/reload", post(decisions::reload))
        .route("/v1/shadow", get(decisions::shadow))
        .route("/metrics", get(decisions::metrics))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_token,
        ));
    // User management: the storefront with its token, or a signed-in
    // browser with its session (the actor is then the session's person).
    let users = users::routes()
        .merge(onboarding::routes())
        .merge(organizations::routes())
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_token_or_session,
        ));
    let mut router = Router::new()
        .route("/v1/health", get(decisions::health))
        .route("/v1/openapi.json", get(decisions::openapi))
        .merge(protected)
        .merge(users)
        .merge(signin::routes());
    if let Some(page_routes) = page_routes {
        router = router.merge(page_routes);
    }
    router
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
    // Each request knows its peer's address (the prospect's form limits
    // requests per address).
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
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
