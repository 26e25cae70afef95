//! The prospect's form: a public page where a company asks to trade as a
//! business partner (`POST /v1/onboarding` in a browser). Server-rendered,
//! no script needed; a double-submit token (a cookie and the same value in
//! the form) keeps other sites from posting it, and each client address may
//! send a few requests per window.

use std::net::{IpAddr, SocketAddr};

use askama::Template;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;

use super::config::PageConfig;
use super::i18n::Messages;
use super::rate_limit::WINDOW;
use super::respond::{Fields, failure, html, message, see_other};
use super::views::Chrome;
use crate::error::Error;
use crate::server::auth::{constant_time_eq, cookie};
use crate::server::state::AppState;

/// The cookie holding the form's token.
const TOKEN_COOKIE: &str = "pg_onboarding";

/// One field of the form, as shown.
struct Field {
    name: &'static str,
    label: String,
    kind: &'static str,
    autocomplete: &'static str,
    value: String,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "page/onboarding.html")]
struct OnboardingPage<'a> {
    chrome: Chrome<'a>,
    action: String,
    fields: Vec<Field>,
}

fn page(state: &AppState) -> &PageConfig {
    state
        .page
        .as_deref()
        .expect("the form's routes exist only with the page's configuration")
}

fn messages<'a>(page: &'a PageConfig, headers: &HeaderMap) -> Messages<'a> {
    page.catalog.for_request(
        headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    )
}

fn chrome<'a>(page: &'a PageConfig, m: Messages<'a>, title: String, token: &str) -> Chrome<'a> {
    let mut chrome = page.bare_chrome(m, title);
    chrome.app = m.t("onboarding-app");
    chrome.csrf = token.to_string();
    chrome
}

/// The form with `values` (organization, name, email) and their errors.
fn form(
    page: &PageConfig,
    m: Messages<'_>,
    status: StatusCode,
    token: &str,
    values: [&str; 3],
    errors: [Option<String>; 3],
) -> Response {
    let [organization, name, email] = values;
    let [e_org, e_name, e_email] = errors;
    let fields = vec![
        Field {
            name: "organization_name",
            label: m.t("field-organization-name"),
            kind: "text",
            autocomplete: "organization",
            value: organization.into(),
            error: e_org,
        },
        Field {
            name: "requester_name",
            label: m.t("field-your-name"),
            kind: "text",
            autocomplete: "name",
            value: name.into(),
            error: e_name,
        },
        Field {
            name: "requester_email",
            label: m.t("field-your-email"),
            kind: "email",
            autocomplete: "email",
            value: email.into(),
            error: e_email,
        },
    ];
    let view = OnboardingPage {
        chrome: chrome(page, m, m.t("onboarding-title"), token),
        action: page.onboarding_path.clone(),
        fields,
    };
    html(status, view)
}

/// `GET <path>`: the empty form, with a new token in its cookie and field.
pub(super) async fn show(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let page = page(&state);
    let m = messages(page, &headers);
    let token = openidconnect::CsrfToken::new_random_len(24)
        .secret()
        .clone();
    let mut reply = form(
        page,
        m,
        StatusCode::OK,
        &token,
        ["", "", ""],
        [None, None, None],
    );
    let cookie = format!(
        "{TOKEN_COOKIE}={token}; Path={}; HttpOnly; SameSite=Strict; Max-Age=3600",
        page.onboarding_path
    );
    reply.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).expect("a token cookie is a header value"),
    );
    reply
}

/// `POST <path>`: checks the token, the address's rate and the fields;
/// then the request, and the confirmation. A second request for an email
/// with one pending gets the same confirmation: the form says nothing about
/// who has asked before.
pub(super) async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    connected: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    body: Bytes,
) -> Response {
    let page = page(&state);
    let m = messages(page, &headers);
    let fields = Fields::parse(&body);
    let token = fields.get("csrf");
    let held = cookie(&headers, TOKEN_COOKIE).unwrap_or_default();
    if token.is_empty() || !constant_time_eq(token.as_bytes(), held.as_bytes()) {
        return message(
            page,
            m,
            StatusCode::FORBIDDEN,
            m.t("onboarding-title"),
            m.t("error-csrf"),
            vec![(page.onboarding_path.clone(), m.t("onboarding-heading"))],
        );
    }
    // Behind no proxy, the peer's address; without one (a router mounted
    // by an embedder), one shared window.
    let address = connected
        .map(|c| c.0.0.ip())
        .unwrap_or(IpAddr::from([0, 0, 0, 0]));
    if !page.onboarding_limit.admit(address) {
        let mut reply = message(
            page,
            m,
            StatusCode::TOO_MANY_REQUESTS,
            m.t("onboarding-title"),
            m.t("onboarding-rate-limited"),
            Vec::new(),
        );
        reply
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(WINDOW.as_secs()));
        return reply;
    }
    let values = [
        fields.get("organization_name"),
        fields.get("requester_name"),
        fields.get("requester_email"),
    ];
    let required = |v: &str| {
        let v = v.trim();
        (v.is_empty() || v.len() > 200).then(|| m.t("onboarding-required"))
    };
    // The email's shape is the rules' to judge (below).
    let errors = [
        required(values[0]),
        required(values[1]),
        required(values[2]),
    ];
    if errors.iter().any(Option::is_some) {
        return form(
            page,
            m,
            StatusCode::UNPROCESSABLE_ENTITY,
            token,
            values,
            errors,
        );
    }
    match state
        .gate
        .submit_onboarding(values[0], values[1], values[2])
        .await
    {
        Ok(_) | Err(Error::Conflict(_)) => see_other(&format!("{}/received", page.onboarding_path)),
        Err(Error::InvalidRequest(_)) => form(
            page,
            m,
            StatusCode::UNPROCESSABLE_ENTITY,
            token,
            values,
            [None, None, Some(m.t("onboarding-email-invalid"))],
        ),
        Err(err) => failure(page, m, &err),
    }
}

/// `GET <path>/received`: the confirmation.
pub(super) async fn received(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let page = page(&state);
    let m = messages(page, &headers);
    let view = super::views::MessagePage {
        chrome: chrome(page, m, m.t("onboarding-received-title"), ""),
        heading: m.t("onboarding-received-title"),
        explain: m.t("onboarding-received-explain"),
        links: Vec::new(),
    };
    html(StatusCode::OK, view)
}
