//! What every page handler answers with: rendering, the message and
//! failure pages, what an error tells the viewer, form bodies, redirects.

use axum::body::Bytes;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};

use super::config::PageConfig;
use super::i18n::Messages;
use super::views::{Chrome, MessagePage};
use crate::error::Error;
use crate::server::auth::cleared_session_cookie;

/// What a page handler answers: its page, or the whole response that
/// stopped it early (the sign-in page, a refusal, a failure).
pub(super) type Page = Result<Response, Response>;

/// A page with a heading, a sentence and links, and no data.
pub(super) fn message(
    page: &PageConfig,
    m: Messages<'_>,
    status: StatusCode,
    heading: String,
    explain: String,
    links: Vec<(String, String)>,
) -> Response {
    framed_message(
        page.bare_chrome(m, heading.clone()),
        status,
        heading,
        explain,
        links,
    )
}

/// [`message`] in a frame of the caller's (the back office's).
pub(super) fn framed_message(
    chrome: Chrome<'_>,
    status: StatusCode,
    heading: String,
    explain: String,
    links: Vec<(String, String)>,
) -> Response {
    let view = MessagePage {
        chrome,
        heading,
        explain,
        links,
    };
    html(status, view)
}

/// The page for an error no form can recover from.
pub(super) fn failure(page: &PageConfig, m: Messages<'_>, err: &Error) -> Response {
    let (status, text) = explain(m, err, false);
    message(page, m, status, m.t("page-title"), text, Vec::new())
}

/// Renders `view` with `status`.
pub(super) fn html(status: StatusCode, view: impl askama::Template) -> Response {
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
pub(super) fn explain(m: Messages<'_>, err: &Error, stale: bool) -> (StatusCode, String) {
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
        Error::Unavailable(_)
        | Error::Busy(_)
        | Error::Cache(_)
        | Error::Directory(crate::directory::error::DirectoryError::Unavailable(_)) => {
            (StatusCode::SERVICE_UNAVAILABLE, m.t("error-unavailable"))
        }
        other => {
            tracing::error!("page: {other}");
            (StatusCode::INTERNAL_SERVER_ERROR, m.t("error-internal"))
        }
    }
}

/// A form body: its fields in order, repeated names kept.
pub(super) struct Fields(Vec<(String, String)>);

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
pub(super) fn see_other(location: &str) -> Response {
    Redirect::to(location).into_response()
}

/// Ends the session `id`: then the provider's end-session page where it
/// offers RP-initiated logout (in `frame`), else back to `home`; the
/// session cookie cleared either way.
pub(super) async fn end_session(
    service: &crate::oidc::SignInService,
    id: &str,
    frame: super::views::Chrome<'_>,
    home: &str,
) -> Response {
    let m = frame.m;
    let mut reply = match service.logout(id).await {
        Ok(Some(end_session)) => {
            let mut view = MessagePage {
                heading: m.t("signed-out-done"),
                explain: m.t("sign-out-provider-explain"),
                links: vec![(end_session.clone(), m.t("sign-out-provider"))],
                chrome: frame,
            };
            view.chrome.refresh = Some(end_session);
            html(StatusCode::OK, view)
        }
        Ok(None) => see_other(home),
        Err(err) => {
            let (status, text) = explain(m, &err, false);
            let view = MessagePage {
                heading: m.t("page-title"),
                explain: text,
                links: Vec::new(),
                chrome: frame,
            };
            return html(status, view);
        }
    };
    reply.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cleared_session_cookie()).expect("a fixed cookie is a header value"),
    );
    reply
}
