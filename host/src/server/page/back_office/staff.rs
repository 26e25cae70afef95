//! Who works in the back office: the signed-in staff member (the
//! `StaffSigned` extractor), the back office's frame and navigation, the
//! refusal that shows nothing, the audit trail and signing out.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use crate::error::Error;
use crate::model::Staff;
use crate::oidc::{Session, Signed};
use crate::server::auth::constant_time_eq;
use crate::server::page::audit::{PAGE_ENTRIES, audit_rows};
use crate::server::page::config::PageConfig;
use crate::server::page::i18n::Messages;
use crate::server::page::respond::{Fields, Page, end_session, failure, framed_message, html};
use crate::server::page::viewer::{Visit, permitted};
use crate::server::page::views::{AuditRow, Chrome};
use crate::server::state::AppState;

/// A signed-in, active staff member: an extractor, so that a handler runs
/// only for one (anyone else gets the staff sign-in page or a refusal).
pub(crate) struct StaffSigned {
    pub(super) state: AppState,
    accept_language: Option<String>,
    session_id: String,
    session: Session,
    staff: Staff,
}

impl FromRequestParts<AppState> for StaffSigned {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        staff_signed(state, &parts.headers).await
    }
}

pub(super) fn page_of(state: &AppState) -> &PageConfig {
    state
        .page
        .as_deref()
        .expect("the back office's routes exist only with the page's configuration")
}

/// The back office's frame: its own prefix (assets, sign-out), its name.
pub(super) fn chrome<'a>(page: &'a PageConfig, m: Messages<'a>, title: String) -> Chrome<'a> {
    let mut chrome = page.bare_chrome(m, title);
    chrome.prefix = &page.back_office;
    chrome.app = m.t("back-office-title");
    chrome
}

/// A message page in the back office's frame.
pub(super) fn notice_page(
    page: &PageConfig,
    m: Messages<'_>,
    status: StatusCode,
    heading: String,
    explain: String,
    links: Vec<(String, String)>,
) -> Response {
    framed_message(
        chrome(page, m, heading.clone()),
        status,
        heading,
        explain,
        links,
    )
}

async fn staff_signed(state: &AppState, headers: &HeaderMap) -> Result<StaffSigned, Response> {
    let visit = Visit::of(state, headers).await?;
    let (page, m) = (visit.page, visit.m);
    match visit.live {
        Some((session, Signed::Staff(staff))) => Ok(StaffSigned {
            state: state.clone(),
            accept_language: visit.accept_language.map(str::to_string),
            session_id: visit.cookie.unwrap_or_default(),
            session,
            staff,
        }),
        // A customer's session shows nothing of the back office.
        Some((_, Signed::Customer(_))) => Err(notice_page(
            page,
            m,
            StatusCode::FORBIDDEN,
            m.t("forbidden-title"),
            m.t("back-office-customers"),
            Vec::new(),
        )),
        None => Err(visit.sign_in(
            chrome(page, m, m.t("signed-out-title")),
            true,
            &page.back_office,
            m.t("back-office-sign-in"),
        )),
    }
}

impl StaffSigned {
    pub(super) fn page(&self) -> &PageConfig {
        page_of(&self.state)
    }

    pub(super) fn m(&self) -> Messages<'_> {
        self.page()
            .catalog
            .for_request(self.accept_language.as_deref())
    }

    pub(super) fn actor(&self) -> String {
        self.session.actor()
    }

    /// The frame with the staff member, the sign-out form and the
    /// navigation (`current` marked).
    pub(super) fn chrome(&self, title: String) -> Chrome<'_> {
        let mut chrome = chrome(self.page(), self.m(), title);
        chrome.me = Some(self.staff.name.clone());
        chrome.csrf = self.session.csrf_token.clone();
        chrome
    }

    /// A posted form's fields, if it carries this session's CSRF token.
    pub(super) fn form(&self, body: &Bytes) -> Option<Fields> {
        let fields = Fields::parse(body);
        let token = self.session.csrf_token.as_bytes();
        (!token.is_empty() && constant_time_eq(fields.get("csrf").as_bytes(), token))
            .then_some(fields)
    }

    /// The answer to a form without this session's CSRF token: it expired
    /// (it was opened in another session).
    pub(super) fn expired_form(&self) -> Response {
        let m = self.m();
        notice_page(
            self.page(),
            m,
            StatusCode::FORBIDDEN,
            m.t("back-office-title"),
            m.t("error-csrf"),
            vec![(self.page().back_office.clone(), m.t("back-office-queue"))],
        )
    }

    /// Whether the policies permit each `(action, resource)`, asked in one
    /// batch; a question that could not be decided is a no.
    pub(super) async fn permitted(&self, asks: &[(&str, String)]) -> Result<Vec<bool>, Error> {
        permitted(&self.state, &self.actor(), asks).await
    }

    /// A page's frame: the navigation (`current` marked) and the chrome
    /// titled `title`, announcing `notice` or `error`; or the failure page.
    pub(super) async fn frame(
        &self,
        current: &'static str,
        title: String,
        notice: Option<String>,
        error: Option<String>,
    ) -> Result<(Chrome<'_>, Vec<NavLink>), Response> {
        let nav = self
            .nav(current)
            .await
            .map_err(|err| failure(self.page(), self.m(), &err))?;
        let mut chrome = self.chrome(title);
        chrome.notice = notice;
        chrome.error = error;
        Ok((chrome, nav))
    }

    /// The back office's navigation: each link only where the policies
    /// permit it.
    pub(super) async fn nav(&self, current: &'static str) -> Result<Vec<NavLink>, Error> {
        let allowed = self
            .permitted(&[
                ("listOnboarding", "store:main".into()),
                ("viewAudit", "store:main".into()),
            ])
            .await?;
        let m = self.m();
        let bo = &self.page().back_office;
        let links = [
            (allowed[0], "queue", bo.clone(), m.t("back-office-queue")),
            (
                true,
                "organizations",
                format!("{bo}/organizations"),
                m.t("back-office-organizations"),
            ),
            (
                true,
                "users",
                format!("{bo}/users"),
                m.t("back-office-users"),
            ),
            (allowed[1], "audit", format!("{bo}/audit"), m.t("nav-audit")),
        ];
        Ok(links
            .into_iter()
            .filter(|(shown, ..)| *shown)
            .map(|(_, key, href, text)| NavLink {
                href,
                text,
                current: key == current,
            })
            .collect())
    }
}

/// One link of the back office's navigation.
pub(super) struct NavLink {
    pub(super) href: String,
    pub(super) text: String,
    pub(super) current: bool,
}

/// What a staff member the policies do not permit sees: no data.
pub(super) fn forbidden(staff: &StaffSigned) -> Response {
    let m = staff.m();
    framed_message(
        staff.chrome(m.t("forbidden-title")),
        StatusCode::FORBIDDEN,
        m.t("forbidden-title"),
        m.t("back-office-forbidden"),
        Vec::new(),
    )
}

#[derive(Template)]
#[template(path = "page/staff_audit.html")]
struct StaffAuditPage<'a> {
    chrome: Chrome<'a>,
    nav: Vec<NavLink>,
    rows: Vec<AuditRow>,
    next_href: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct AuditQuery {
    cursor: Option<String>,
}

/// `GET <back office>/audit`: the whole audit trail, newest first, where
/// the policies permit it.
pub(crate) async fn audit(staff: StaffSigned, Query(q): Query<AuditQuery>) -> Page {
    let m = staff.m();
    let page = staff.page();
    let read = staff
        .state
        .gate
        .read_audit(&staff.actor(), None, q.cursor.as_deref(), PAGE_ENTRIES)
        .await;
    let entries = match read {
        Ok(entries) => entries,
        Err(Error::Denied(_)) => return Err(forbidden(&staff)),
        Err(err) => return Err(failure(page, m, &err)),
    };
    let (rows, next_href) = audit_rows(entries, &format!("{}/audit", page.back_office));
    let (chrome, nav) = staff.frame("audit", m.t("audit-title"), None, None).await?;
    Ok(html(
        StatusCode::OK,
        StaffAuditPage {
            chrome,
            nav,
            rows,
            next_href,
        },
    ))
}

/// `POST <back office>/signout`: ends the staff session (and the
/// provider's, where it offers RP-initiated logout).
pub(crate) async fn sign_out(staff: StaffSigned, body: Bytes) -> Page {
    let m = staff.m();
    let page = staff.page();
    if staff.form(&body).is_none() {
        return Ok(staff.expired_form());
    }
    let service = staff
        .state
        .sign_in
        .as_deref()
        .expect("a staff session means sign-in");
    Ok(end_session(
        service,
        &staff.session_id,
        chrome(page, m, m.t("signed-out-done")),
        &page.back_office,
    )
    .await)
}
