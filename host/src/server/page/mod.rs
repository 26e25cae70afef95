//! The "Organization users" page: HTML rendered on the server for a
//! signed-in organization administrator, under a prefix the storefront
//! mounts or proxies (`--page-prefix`, default
//! [`DEFAULT_PREFIX`]).
//!
//! Every action is a plain form (POST, the session's CSRF token in a hidden
//! field); `page.js` only enhances. Each button is shown only where the
//! policies permit it: the page asks the plugin for a batch of decisions
//! ([`crate::PartnerGate::authorize_many`]) and copies no rule.
//!
//! # Layout
//! - this module: configuration, routes, shared replies, signing out;
//! - `viewer`: who is signed in (the `Signed` extractor) and what every
//!   page handler works with (`Viewer`);
//! - `list`: the list: filters, search, sorting, paging, the buttons each
//!   row may show;
//! - `steps`: the changes posted from the list: one-click steps, removal,
//!   bulk changes;
//! - `forms`: add, bulk add, edit;
//! - `audit`: the organization's audit trail;
//! - `views`: the templates and their view models;
//! - `i18n`: the message catalog.

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use super::auth::cleared_session_cookie;
use super::state::AppState;
use crate::error::Error;

mod audit;
mod forms;
pub mod i18n;
mod list;
mod steps;
mod viewer;
mod views;

use i18n::{Catalog, Messages};
use viewer::{Signed, Viewer};
use views::{Chrome, MessagePage, Nav};

/// Where the page is served unless configured otherwise.
pub const DEFAULT_PREFIX: &str = "/account/organization-users";

const STYLESHEET: &str = include_str!("../../../assets/page.css");
const SCRIPT: &str = include_str!("../../../assets/page.js");

/// How the page is served.
pub struct PageConfig {
    /// The path prefix: `/account/organization-users` by default.
    pub prefix: String,
    /// The message catalog.
    pub catalog: Catalog,
    /// A stylesheet served after the page's own, to theme it.
    pub theme_css: Option<String>,
}

impl Default for PageConfig {
    fn default() -> Self {
        Self {
            prefix: DEFAULT_PREFIX.into(),
            catalog: Catalog::english(),
            theme_css: None,
        }
    }
}

impl PageConfig {
    /// The frame of a page that shows no one's data: no navigation, no
    /// forms.
    fn bare_chrome<'a>(&'a self, m: Messages<'a>, title: String) -> Chrome<'a> {
        Chrome {
            m,
            prefix: &self.prefix,
            title,
            organization: None,
            me: None,
            csrf: String::new(),
            notice: None,
            error: None,
            theme: self.theme_css.is_some(),
            nav: Nav::default(),
            refresh: None,
        }
    }

    /// The page under `prefix`, with the locales of `locales` and the theme
    /// in `theme_css`; a bad prefix, catalog or unreadable theme is refused.
    pub fn load(
        prefix: &str,
        locales: Option<&std::path::Path>,
        theme_css: Option<&PathBuf>,
    ) -> Result<Self, Error> {
        let prefix = prefix.trim_end_matches('/');
        if !prefix.starts_with('/')
            || prefix.starts_with("/v1")
            || prefix
                .chars()
                .any(|c| !(c.is_ascii_alphanumeric() || "/-_.".contains(c)))
        {
            return Err(Error::Config(format!(
                "page prefix `{prefix}`: use a path such as `/account/organization-users` (letters, digits, `/-_.`; not under `/v1`)"
            )));
        }
        let theme_css = theme_css
            .map(|path| {
                std::fs::read_to_string(path)
                    .map_err(|e| Error::Config(format!("page theme `{}`: {e}", path.display())))
            })
            .transpose()?;
        Ok(Self {
            prefix: prefix.into(),
            catalog: Catalog::load(locales)?,
            theme_css,
        })
    }
}

/// The page's routes, each under the configured prefix.
pub(crate) fn routes(page: &PageConfig) -> Router<AppState> {
    let p = &page.prefix;
    Router::new()
        .route(p, get(list::show))
        .route(&format!("{p}/"), get(list::show))
        .route(&format!("{p}/bulk"), post(steps::bulk))
        .route(
            &format!("{p}/users/{{person}}/remove"),
            get(steps::confirm_remove).post(steps::remove),
        )
        .route(&format!("{p}/users/{{person}}/{{step}}"), post(steps::step))
        .route(
            &format!("{p}/users/{{person}}"),
            get(forms::edit_form).post(forms::edit),
        )
        .route(&format!("{p}/new"), get(forms::add_form).post(forms::add))
        .route(
            &format!("{p}/bulk-add"),
            get(forms::bulk_add_form).post(forms::bulk_add),
        )
        .route(&format!("{p}/audit"), get(audit::show))
        .route(&format!("{p}/signout"), post(sign_out))
        .route(&format!("{p}/assets/page.css"), get(stylesheet))
        .route(&format!("{p}/assets/page.js"), get(script))
        .route(&format!("{p}/assets/theme.css"), get(theme))
        .layer(middleware::from_fn(security_headers))
}

/// No framing by other sites, no inline script, nothing cached.
async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'self'; base-uri 'none'",
        ),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

fn asset(content_type: &'static str, body: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        body,
    )
        .into_response()
}

async fn stylesheet() -> Response {
    asset("text/css; charset=utf-8", STYLESHEET.into())
}

async fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT.into())
}

async fn theme(State(state): State<AppState>) -> Response {
    match state.page.as_ref().and_then(|p| p.theme_css.clone()) {
        Some(css) => asset("text/css; charset=utf-8", css),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// What a page handler answers: its page, or the whole response that
/// stopped it early (the sign-in page, a refusal, a failure).
type Page = Result<Response, Response>;

/// A page with a heading, a sentence and links, and no data.
fn message(
    page: &PageConfig,
    m: Messages<'_>,
    status: StatusCode,
    heading: String,
    explain: String,
    links: Vec<(String, String)>,
) -> Response {
    let view = MessagePage {
        chrome: page.bare_chrome(m, heading.clone()),
        heading,
        explain,
        links,
    };
    html(status, view)
}

/// The page for an error no form can recover from.
fn failure(page: &PageConfig, m: Messages<'_>, err: &Error) -> Response {
    let (status, text) = explain(m, err, false);
    message(page, m, status, m.t("page-title"), text, Vec::new())
}

/// The page an actor who may not list the organization's users gets: no
/// data, only their sign-out.
fn forbidden(viewer: &Viewer<'_>) -> Response {
    let m = viewer.m;
    let mut chrome = viewer.chrome(m.t("forbidden-title"), "", (false, false));
    chrome.nav = Nav::default();
    chrome.organization = None;
    html(
        StatusCode::FORBIDDEN,
        MessagePage {
            chrome,
            heading: m.t("forbidden-title"),
            explain: m.t("forbidden-explain"),
            links: Vec::new(),
        },
    )
}

/// Renders `view` with `status`.
fn html(status: StatusCode, view: impl askama::Template) -> Response {
    match view.render() {
        Ok(body) => (status, Html(body)).into_response(),
        Err(err) => {
            tracing::error!("page template failed: {err}");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page could not be rendered",
            )
                .into_response()
        }
    }
}

/// The status and the message, saying what to do, for `err`; `stale` when
/// the caller found that the record changed since it was read.
fn explain(m: Messages<'_>, err: &Error, stale: bool) -> (StatusCode, String) {
    match err {
        Error::Denied(decision) if decision.policies.is_empty() => {
            (StatusCode::FORBIDDEN, m.t("error-denied-none"))
        }
        Error::Denied(decision) => (
            StatusCode::FORBIDDEN,
            m.t1("error-denied", "policies", &decision.policies.join(", ")),
        ),
        Error::Conflict(_) if stale => (StatusCode::CONFLICT, m.t("error-stale")),
        Error::Conflict(reason) => (
            StatusCode::CONFLICT,
            m.t1("error-conflict", "reason", reason),
        ),
        Error::InvalidRequest(reason) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            m.t1("error-invalid", "reason", reason),
        ),
        Error::NotFound(_) => (StatusCode::NOT_FOUND, m.t("error-not-found")),
        Error::RateLimited(seconds) => (
            StatusCode::TOO_MANY_REQUESTS,
            m.t1("error-rate-limited", "seconds", &seconds.to_string()),
        ),
        Error::Unavailable(_) | Error::Busy(_) => {
            (StatusCode::SERVICE_UNAVAILABLE, m.t("error-unavailable"))
        }
        other => {
            tracing::error!("page: {other}");
            (StatusCode::INTERNAL_SERVER_ERROR, m.t("error-internal"))
        }
    }
}

/// A form body: its fields in order, repeated names kept.
struct Fields(Vec<(String, String)>);

impl Fields {
    pub fn parse(body: &Bytes) -> Self {
        Self(url::form_urlencoded::parse(body).into_owned().collect())
    }

    /// The first value of `name`, or empty.
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }

    /// Every value of `name`.
    pub fn all<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s str> + 's {
        self.0
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The page after a change: `303 See Other` to `location`.
fn see_other(location: &str) -> Response {
    Redirect::to(location).into_response()
}

/// Ends the session, then ends the provider's too when it offers that: a
/// page that goes on to the provider's end-session address by itself (a
/// redirect from a form would break `form-action 'self'`), with a link
/// for when it does not; otherwise the sign-in page.
async fn sign_out(signed: Signed, body: Bytes) -> Page {
    let viewer = signed.viewer();
    if !viewer.csrf_ok(Fields::parse(&body).get("csrf")) {
        return Ok(message(
            viewer.page,
            viewer.m,
            StatusCode::FORBIDDEN,
            viewer.m.t("page-title"),
            viewer.m.t("error-csrf"),
            Vec::new(),
        ));
    }
    let service = signed
        .state
        .sign_in
        .as_ref()
        .expect("a viewer means sign-in");
    let mut reply = match service.logout(&signed.session_id).await {
        Ok(Some(end_session)) => {
            let m = viewer.m;
            let mut view = MessagePage {
                chrome: viewer.page.bare_chrome(m, m.t("signed-out-done")),
                heading: m.t("signed-out-done"),
                explain: m.t("sign-out-provider-explain"),
                links: vec![(end_session.clone(), m.t("sign-out-provider"))],
            };
            view.chrome.refresh = Some(end_session);
            html(StatusCode::OK, view)
        }
        Ok(None) => see_other(&viewer.page.prefix),
        Err(err) => return Ok(failure(viewer.page, viewer.m, &err)),
    };
    reply.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cleared_session_cookie()).expect("a fixed cookie is a header value"),
    );
    Ok(reply)
}

/// The shared state when the page is served.
pub(crate) type SharedPage = Arc<PageConfig>;

#[cfg(test)]
mod tests {
    use super::*;

    /// The `--pg-*` colours the stylesheet declares, as RGB.
    fn colours() -> std::collections::HashMap<String, [f64; 3]> {
        STYLESHEET
            .lines()
            .filter_map(|line| {
                let (name, value) = line.trim().strip_prefix("--pg-")?.split_once(':')?;
                let hex = value.trim().trim_end_matches(';').strip_prefix('#')?;
                let channel = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).ok().map(f64::from);
                Some((name.to_string(), [channel(0)?, channel(2)?, channel(4)?]))
            })
            .collect()
    }

    /// WCAG 2 contrast ratio of two sRGB colours.
    fn contrast(a: [f64; 3], b: [f64; 3]) -> f64 {
        let luminance = |c: [f64; 3]| {
            let linear = |v: f64| {
                let v = v / 255.0;
                if v <= 0.04045 {
                    v / 12.92
                } else {
                    ((v + 0.055) / 1.055).powf(2.4)
                }
            };
            0.2126 * linear(c[0]) + 0.7152 * linear(c[1]) + 0.0722 * linear(c[2])
        };
        let (l1, l2) = (luminance(a), luminance(b));
        (l1.max(l2) + 0.05) / (l1.min(l2) + 0.05)
    }

    #[test]
    fn every_text_and_background_pair_meets_wcag_aa() {
        let c = colours();
        let pairs = [
            ("text", "background"),
            ("text", "surface"),
            ("muted", "background"),
            ("muted", "surface"),
            ("accent", "background"),
            ("accent-text", "accent"),
            ("danger", "background"),
            ("danger-text", "danger"),
            ("status-invited", "status-invited-bg"),
            ("status-active", "status-active-bg"),
            ("status-revoked", "status-revoked-bg"),
            ("status-removed", "status-removed-bg"),
        ];
        for (fg, bg) in pairs {
            let ratio = contrast(c[fg], c[bg]);
            assert!(ratio >= 4.5, "--pg-{fg} on --pg-{bg}: {ratio:.2} < 4.5");
        }
        // The focus ring against the page (non-text contrast, 3:1).
        assert!(contrast(c["focus"], c["background"]) >= 3.0);
        // The check itself: black on white is 21:1.
        assert!((contrast([0.0; 3], [255.0; 3]) - 21.0).abs() < 0.01);
    }

    #[test]
    fn the_prefix_must_be_a_plain_path_outside_the_api() {
        assert_eq!(
            PageConfig::load("/b2b/users/", None, None).unwrap().prefix,
            "/b2b/users"
        );
        for bad in ["b2b", "/v1/users", "/a b", "/x?y", ""] {
            let err = PageConfig::load(bad, None, None).err().unwrap().to_string();
            assert!(err.contains("page prefix"), "{bad}: {err}");
        }
    }
}
