//! The back office (`--back-office-path`, default `/back-office`): the
//! merchant's staff, signed in through a provider marked `"staff": true`,
//! work the onboarding queue (approve; reject with a reason the prospect
//! receives by mail) and read the audit trail. Server-rendered, every
//! change a plain form with the session's CSRF token; the policies decide
//! every button (asked in one batch) and every step (the plugin decides
//! again when it is taken).

use askama::Template;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, Query};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use super::audit::{PAGE_ENTRIES, audit_rows};
use super::config::PageConfig;
use super::i18n::Messages;
use super::respond::{Fields, Page, end_session, explain, failure, html, see_other};
use super::viewer::Visit;
use super::views::{AuditRow, Chrome, MessagePage};
use crate::decision::AuthorizeRequest;
use crate::error::Error;
use crate::model::{OnboardingRequest, OnboardingStatus, OrganizationStatus, Staff};
use crate::oidc::{Session, Signed};
use crate::server::auth::constant_time_eq;
use crate::server::state::AppState;

/// A signed-in, active staff member: an extractor, so that a handler runs
/// only for one (anyone else gets the staff sign-in page or a refusal).
pub(super) struct StaffSigned {
    state: AppState,
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

fn page_of(state: &AppState) -> &PageConfig {
    state
        .page
        .as_deref()
        .expect("the back office's routes exist only with the page's configuration")
}

/// The back office's frame: its own prefix (assets, sign-out), its name.
fn chrome<'a>(page: &'a PageConfig, m: Messages<'a>, title: String) -> Chrome<'a> {
    let mut chrome = page.bare_chrome(m, title);
    chrome.prefix = &page.back_office;
    chrome.app = m.t("back-office-title");
    chrome
}

/// A message page in the back office's frame.
fn notice_page(
    page: &PageConfig,
    m: Messages<'_>,
    status: StatusCode,
    heading: String,
    explain: String,
    links: Vec<(String, String)>,
) -> Response {
    let view = MessagePage {
        chrome: chrome(page, m, heading.clone()),
        heading,
        explain,
        links,
    };
    html(status, view)
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
    fn page(&self) -> &PageConfig {
        page_of(&self.state)
    }

    fn m(&self) -> Messages<'_> {
        self.page()
            .catalog
            .for_request(self.accept_language.as_deref())
    }

    fn actor(&self) -> String {
        self.session.actor()
    }

    /// The frame with the staff member, the sign-out form and the
    /// navigation (`current` marked).
    fn chrome(&self, title: String) -> Chrome<'_> {
        let mut chrome = chrome(self.page(), self.m(), title);
        chrome.me = Some(self.staff.name.clone());
        chrome.csrf = self.session.csrf_token.clone();
        chrome
    }

    /// A posted form's fields, if it carries this session's CSRF token.
    fn form(&self, body: &Bytes) -> Option<Fields> {
        let fields = Fields::parse(body);
        let token = self.session.csrf_token.as_bytes();
        (!token.is_empty() && constant_time_eq(fields.get("csrf").as_bytes(), token))
            .then_some(fields)
    }

    /// The answer to a form without this session's CSRF token: it expired
    /// (it was opened in another session).
    fn expired_form(&self) -> Response {
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
    async fn permitted(&self, asks: &[(&str, String)]) -> Result<Vec<bool>, Error> {
        let actor = self.actor();
        let requests: Vec<AuthorizeRequest> = asks
            .iter()
            .map(|(action, resource)| AuthorizeRequest::by_actor(&actor, *action, resource.clone()))
            .collect();
        Ok(self
            .state
            .gate
            .authorize_many(&requests)
            .await?
            .into_iter()
            .map(|d| d.is_ok_and(|d| d.is_allowed()))
            .collect())
    }

    /// The back office's navigation: each link only where the policies
    /// permit it.
    async fn nav(&self, current: &'static str) -> Result<Vec<NavLink>, Error> {
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
struct NavLink {
    href: String,
    text: String,
    current: bool,
}

/// One onboarding request as the queue shows it.
struct QueueRow {
    id: String,
    organization_name: String,
    requester_name: String,
    requester_email: String,
    submitted: String,
    submitted_iso: String,
    status: &'static str,
    status_label: String,
    approve: bool,
    reject: bool,
    /// Why the reason given for rejecting it was refused.
    reason_error: Option<String>,
}

#[derive(Template)]
#[template(path = "page/queue.html")]
struct QueuePage<'a> {
    chrome: Chrome<'a>,
    nav: Vec<NavLink>,
    filters: Vec<(String, String, bool)>,
    rows: Vec<QueueRow>,
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
pub(super) struct QueueQuery {
    status: Option<String>,
    notice: Option<String>,
}

/// The statuses the queue filters on, in order; the first is the default.
const FILTERS: [OnboardingStatus; 3] = [
    OnboardingStatus::Pending,
    OnboardingStatus::Approved,
    OnboardingStatus::Rejected,
];

fn status_label(m: Messages<'_>, status: OnboardingStatus) -> String {
    m.t(&format!("onboarding-status-{}", status.name()))
}

/// `GET <back office>`: the onboarding queue, pending requests first by
/// default, with the buttons the policies permit on each.
pub(super) async fn queue(staff: StaffSigned, Query(q): Query<QueueQuery>) -> Page {
    let status = q
        .status
        .as_deref()
        .and_then(|s| s.parse().ok())
        .unwrap_or(OnboardingStatus::Pending);
    let notice = q.notice.as_deref().and_then(|n| match n {
        "approved" | "rejected" => Some(staff.m().t(&format!("back-office-{n}"))),
        _ => None,
    });
    render_queue(&staff, status, StatusCode::OK, notice, None, None).await
}

/// The queue in `status`, with a notice or an error (and the request
/// whose reason was missing).
async fn render_queue(
    staff: &StaffSigned,
    status: OnboardingStatus,
    code: StatusCode,
    notice: Option<String>,
    error: Option<String>,
    reason_error: Option<(String, String)>,
) -> Page {
    let m = staff.m();
    let page = staff.page();
    let requests = match staff
        .state
        .gate
        .list_onboarding(&staff.actor(), Some(status))
        .await
    {
        Ok(requests) => requests,
        Err(Error::Denied(_)) => return Err(forbidden(staff)),
        Err(err) => return Err(failure(page, m, &err)),
    };
    let asks: Vec<(&str, String)> = requests
        .iter()
        .flat_map(|r| {
            let resource = format!("onboarding:{}", r.id);
            [
                ("approveOnboarding", resource.clone()),
                ("rejectOnboarding", resource),
            ]
        })
        .collect();
    let allowed = staff
        .permitted(&asks)
        .await
        .map_err(|err| failure(page, m, &err))?;
    let rows = requests
        .into_iter()
        .zip(allowed.chunks(2))
        .map(|(r, allowed): (OnboardingRequest, &[bool])| {
            let pending = r.status == OnboardingStatus::Pending;
            let refused_reason = reason_error
                .as_ref()
                .filter(|(id, _)| *id == r.id)
                .map(|(_, e)| e.clone());
            let (submitted, submitted_iso) = super::views::timestamp(r.submitted_at);
            QueueRow {
                status: r.status.name(),
                status_label: status_label(m, r.status),
                approve: pending && allowed[0],
                reject: pending && allowed[1],
                id: r.id,
                organization_name: r.organization_name,
                requester_name: r.requester_name,
                requester_email: r.requester_email,
                submitted,
                submitted_iso,
                reason_error: refused_reason,
            }
        })
        .collect();
    let filters = FILTERS
        .iter()
        .map(|s| {
            (
                format!("{}?status={}", page.back_office, s.name()),
                status_label(m, *s),
                *s == status,
            )
        })
        .collect();
    let nav = staff
        .nav("queue")
        .await
        .map_err(|err| failure(page, m, &err))?;
    let mut chrome = staff.chrome(m.t("back-office-queue"));
    chrome.notice = notice;
    chrome.error = error;
    Ok(html(
        code,
        QueuePage {
            chrome,
            nav,
            filters,
            rows,
        },
    ))
}

/// What a staff member the policies do not permit sees: no data.
fn forbidden(staff: &StaffSigned) -> Response {
    let m = staff.m();
    html(
        StatusCode::FORBIDDEN,
        MessagePage {
            chrome: staff.chrome(m.t("forbidden-title")),
            heading: m.t("forbidden-title"),
            explain: m.t("back-office-forbidden"),
            links: Vec::new(),
        },
    )
}

/// `POST <back office>/onboarding/{id}/{approve|reject}`: the step, then
/// the queue with a notice, or the queue with the error saying what to do.
pub(super) async fn decide(
    staff: StaffSigned,
    Path((id, step)): Path<(String, String)>,
    body: Bytes,
) -> Page {
    let m = staff.m();
    let Some(fields) = staff.form(&body) else {
        return Ok(staff.expired_form());
    };
    let gate = &staff.state.gate;
    let actor = staff.actor();
    let result = match step.as_str() {
        "approve" => gate.approve_onboarding(&actor, &id).await,
        "reject" => {
            let reason = fields.get("reason").trim();
            if reason.is_empty() || reason.chars().count() > 500 {
                let field = (id.clone(), m.t("back-office-reason-required"));
                return render_queue(
                    &staff,
                    OnboardingStatus::Pending,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    None,
                    Some(m.t("back-office-reason-required")),
                    Some(field),
                )
                .await;
            }
            gate.reject_onboarding(&actor, &id, reason).await
        }
        _ => {
            return Ok(failure(
                staff.page(),
                m,
                &Error::NotFound(format!("no step `{step}`")),
            ));
        }
    };
    match result {
        Ok(_) => Ok(see_other(&format!(
            "{}?notice={}",
            staff.page().back_office,
            if step == "approve" { "approved" } else { "rejected" }
        ))),
        Err(err) => {
            let (code, text) = explain(m, &err, false);
            render_queue(
                &staff,
                OnboardingStatus::Pending,
                code,
                None,
                Some(text),
                None,
            )
            .await
        }
    }
}

/// One organization as the back office lists it.
struct OrganizationRow {
    id: String,
    name: String,
    status: &'static str,
    status_label: String,
    /// `block` or `unblock`, where the policies permit it.
    step: Option<&'static str>,
    step_text: String,
    /// Why the reason given for the step was refused.
    reason_error: Option<String>,
}

#[derive(Template)]
#[template(path = "page/organizations.html")]
struct OrganizationsPage<'a> {
    chrome: Chrome<'a>,
    nav: Vec<NavLink>,
    search: String,
    rows: Vec<OrganizationRow>,
}

#[derive(Deserialize)]
pub(super) struct OrganizationsQuery {
    search: Option<String>,
    notice: Option<String>,
}

/// `GET <back office>/organizations`: the organizations the staff member
/// may see (their assigned ones), searched by name, each with the block or
/// unblock the policies permit.
pub(super) async fn organizations(staff: StaffSigned, Query(q): Query<OrganizationsQuery>) -> Page {
    let notice = q.notice.as_deref().and_then(|n| match n {
        "blocked" | "unblocked" => Some(staff.m().t(&format!("back-office-{n}"))),
        _ => None,
    });
    let search = q.search.unwrap_or_default();
    render_organizations(&staff, &search, StatusCode::OK, notice, None, None).await
}

async fn render_organizations(
    staff: &StaffSigned,
    search: &str,
    code: StatusCode,
    notice: Option<String>,
    error: Option<String>,
    reason_error: Option<(String, String)>,
) -> Page {
    let m = staff.m();
    let page = staff.page();
    let search_for = Some(search).filter(|s| !s.trim().is_empty());
    let organizations = staff
        .state
        .gate
        .list_organizations(&staff.actor(), search_for)
        .await
        .map_err(|err| failure(page, m, &err))?;
    let steps: Vec<Option<&'static str>> = organizations
        .iter()
        .map(|o| match o.status {
            OrganizationStatus::Approved => Some("block"),
            OrganizationStatus::Blocked => Some("unblock"),
            _ => None,
        })
        .collect();
    let asks: Vec<(&str, String)> = organizations
        .iter()
        .zip(&steps)
        .map(|(o, step)| {
            let action = match step {
                Some("unblock") => "unblockOrganization",
                _ => "blockOrganization",
            };
            (action, format!("organization:{}", o.id))
        })
        .collect();
    let allowed = staff
        .permitted(&asks)
        .await
        .map_err(|err| failure(page, m, &err))?;
    let rows = organizations
        .into_iter()
        .zip(steps.into_iter().zip(allowed))
        .map(|(o, (step, allowed))| {
            let step = step.filter(|_| allowed);
            OrganizationRow {
                status: o.status.name(),
                status_label: m.t(&format!("organization-status-{}", o.status.name())),
                step,
                step_text: step
                    .map(|s| m.t1(&format!("back-office-{s}-label"), "organization", &o.name))
                    .unwrap_or_default(),
                reason_error: reason_error
                    .as_ref()
                    .filter(|(id, _)| *id == o.id)
                    .map(|(_, e)| e.clone()),
                id: o.id,
                name: o.name,
            }
        })
        .collect();
    let nav = staff
        .nav("organizations")
        .await
        .map_err(|err| failure(page, m, &err))?;
    let mut chrome = staff.chrome(m.t("back-office-organizations"));
    chrome.notice = notice;
    chrome.error = error;
    Ok(html(
        code,
        OrganizationsPage {
            chrome,
            nav,
            search: search.to_string(),
            rows,
        },
    ))
}

/// `POST <back office>/organizations/{id}/{block|unblock}`: the step with
/// its reason, then the list with a notice; a refusal shows nothing about
/// the organization.
pub(super) async fn block(
    staff: StaffSigned,
    Path((id, step)): Path<(String, String)>,
    body: Bytes,
) -> Page {
    let m = staff.m();
    let Some(fields) = staff.form(&body) else {
        return Ok(staff.expired_form());
    };
    let blocked = match step.as_str() {
        "block" => true,
        "unblock" => false,
        _ => {
            return Ok(failure(
                staff.page(),
                m,
                &Error::NotFound(format!("no step `{step}`")),
            ));
        }
    };
    let reason = fields.get("reason").trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        let field = (id.clone(), m.t("back-office-block-reason-required"));
        return render_organizations(
            &staff,
            "",
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            Some(m.t("back-office-block-reason-required")),
            Some(field),
        )
        .await;
    }
    let result = staff
        .state
        .gate
        .set_organization_blocked(&staff.actor(), &id, blocked, reason)
        .await;
    match result {
        Ok(_) => Ok(see_other(&format!(
            "{}/organizations?notice={step}ed",
            staff.page().back_office
        ))),
        // Nothing about an organization the policies do not let them see.
        Err(Error::Denied(_)) => Err(forbidden(&staff)),
        Err(err) => {
            let (code, text) = explain(m, &err, false);
            render_organizations(&staff, "", code, None, Some(text), None).await
        }
    }
}

#[derive(Deserialize)]
pub(super) struct AuditQuery {
    cursor: Option<String>,
}

/// `GET <back office>/audit`: the whole audit trail, newest first, where
/// the policies permit it.
pub(super) async fn audit(staff: StaffSigned, Query(q): Query<AuditQuery>) -> Page {
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
    let nav = staff
        .nav("audit")
        .await
        .map_err(|err| failure(page, m, &err))?;
    Ok(html(
        StatusCode::OK,
        StaffAuditPage {
            chrome: staff.chrome(m.t("audit-title")),
            nav,
            rows,
            next_href,
        },
    ))
}

/// `POST <back office>/signout`: ends the staff session (and the
/// provider's, where it offers RP-initiated logout).
pub(super) async fn sign_out(staff: StaffSigned, body: Bytes) -> Page {
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
