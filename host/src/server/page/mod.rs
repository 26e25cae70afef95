//! The "Organization users" page: HTML rendered on the server for a
//! signed-in organization administrator, under a prefix the storefront
//! mounts or proxies (`--page-prefix`, default
//! [`DEFAULT_PREFIX`]).
//!
//! Every action is a plain form (POST, the session's CSRF token in a hidden
//! field); `page.js` only enhances. Each user, button and editable field is
//! shown only where the rules say so: the page asks the plugin what the
//! viewer may see of the listed users and which steps the lifecycle and the
//! policies allow ([`crate::PartnerGate::get_users`]), and for a batch of
//! decisions on the organization ([`crate::PartnerGate::authorize_many`]);
//! it reads no record itself and copies no rule.
//!
//! # Layout
//! - this module: routes, signing out; `config`: prefix, catalog, theme;
//!   `respond`: rendering, the message and failure pages, form bodies;
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

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use super::state::AppState;

mod audit;
mod back_office;
mod config;
mod forms;
pub mod i18n;
mod list;
pub mod money;
pub mod onboarding;
mod rate_limit;
mod respond;
mod steps;
mod viewer;
mod views;

pub(crate) use config::SharedPage;
pub use config::{DEFAULT_BACK_OFFICE_PATH, DEFAULT_ONBOARDING_PATH, DEFAULT_PREFIX, PageConfig};
use respond::{Fields, Page, failure, message, see_other};
use viewer::Choosing;

const STYLESHEET: &str = include_str!("../../../assets/page.css");
const SCRIPT: &str = include_str!("../../../assets/page.js");

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
        .route(&format!("{p}/organization"), post(switch_organization))
        .route(&format!("{p}/assets/page.css"), get(stylesheet))
        .route(&format!("{p}/assets/page.js"), get(script))
        .route(&format!("{p}/assets/theme.css"), get(theme))
        .route(
            &page.onboarding_path,
            get(onboarding::show).post(onboarding::submit),
        )
        .route(
            &format!("{}/received", page.onboarding_path),
            get(onboarding::received),
        )
        .route(&page.back_office, get(back_office::queue))
        .route(
            &format!("{}/onboarding/{{request}}/{{step}}", page.back_office),
            post(back_office::decide),
        )
        .route(
            &format!("{}/audit", page.back_office),
            get(back_office::audit),
        )
        .route(
            &format!("{}/organizations", page.back_office),
            get(back_office::organizations).post(back_office::create),
        )
        .route(
            &format!("{}/organizations/{{organization}}", page.back_office),
            get(back_office::organization),
        )
        .route(
            &format!("{}/organizations/{{organization}}/staff", page.back_office),
            post(back_office::assign),
        )
        .route(
            &format!("{}/organizations/{{organization}}/users", page.back_office),
            post(back_office::add_user),
        )
        .route(
            &format!(
                "{}/organizations/{{organization}}/staff/{{staff}}/unassign",
                page.back_office
            ),
            post(back_office::unassign),
        )
        .route(
            &format!(
                "{}/organizations/{{organization}}/{{step}}",
                page.back_office
            ),
            post(back_office::block),
        )
        .route(
            &format!("{}/users", page.back_office),
            get(back_office::users),
        )
        .route(
            &format!(
                "{}/users/{{organization}}/{{person}}/remove",
                page.back_office
            ),
            get(back_office::confirm_remove).post(back_office::user_step_remove),
        )
        .route(
            &format!(
                "{}/users/{{organization}}/{{person}}/{{step}}",
                page.back_office
            ),
            post(back_office::user_step),
        )
        .route(
            &format!("{}/signout", page.back_office),
            post(back_office::sign_out),
        )
        .route(
            &format!("{}/assets/page.css", page.back_office),
            get(stylesheet),
        )
        .route(&format!("{}/assets/page.js", page.back_office), get(script))
        .route(
            &format!("{}/assets/theme.css", page.back_office),
            get(theme),
        )
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

/// The answer to a form without this session's CSRF token: expired (it
/// was opened in another session, such as before a switch).
fn expired_form(viewer: &viewer::Viewer<'_>) -> Response {
    message(
        viewer.page,
        viewer.m,
        StatusCode::FORBIDDEN,
        viewer.m.t("page-title"),
        viewer.m.t("error-csrf"),
        Vec::new(),
    )
}

/// Switches the session to another of the person's organizations (the
/// header's switcher, or the choice after sign-in): checked as at sign-in,
/// the session rotated, then the list of that organization's users.
async fn switch_organization(Choosing(signed): Choosing, body: Bytes) -> Page {
    let viewer = signed.viewer();
    let fields = Fields::parse(&body);
    if !viewer.csrf_ok(fields.get("csrf")) {
        return Ok(expired_form(&viewer));
    }
    let service = signed.sign_in();
    match service
        .switch(
            &signed.state.gate,
            &signed.session_id,
            fields.get("organization"),
        )
        .await
    {
        Ok(Some((id, switched))) => {
            let mut reply = see_other(&viewer.page.prefix);
            let cookie =
                super::auth::set_session_cookie(&id, service.secure_cookies(&switched.provider));
            reply.headers_mut().insert(
                header::SET_COOKIE,
                HeaderValue::from_str(&cookie).expect("a session cookie is a header value"),
            );
            Ok(reply)
        }
        Ok(None) => Ok(see_other(&viewer.page.prefix)),
        Err(crate::error::Error::Refused(_)) => Ok(message(
            viewer.page,
            viewer.m,
            StatusCode::FORBIDDEN,
            viewer.m.t("choose-organization-title"),
            viewer.m.t("switch-refused"),
            vec![(viewer.page.prefix.clone(), viewer.m.t("nav-users"))],
        )),
        Err(err) => Ok(failure(viewer.page, viewer.m, &err)),
    }
}

/// Ends the session, then ends the provider's too when it offers that: a
/// page that goes on to the provider's end-session address by itself (a
/// redirect from a form would break `form-action 'self'`), with a link
/// for when it does not; otherwise the sign-in page.
async fn sign_out(Choosing(signed): Choosing, body: Bytes) -> Page {
    let viewer = signed.viewer();
    if !viewer.csrf_ok(Fields::parse(&body).get("csrf")) {
        return Ok(expired_form(&viewer));
    }
    let m = viewer.m;
    Ok(respond::end_session(
        signed.sign_in(),
        &signed.session_id,
        viewer.page.bare_chrome(m, m.t("signed-out-done")),
        &viewer.page.prefix,
    )
    .await)
}

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
