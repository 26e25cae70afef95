//! The onboarding queue: filter by status, approve, reject with a reason
//! the prospect receives by mail.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use serde::Deserialize;

use super::staff::{NavLink, StaffSigned, forbidden};
use crate::error::Error;
use crate::model::{OnboardingRequest, OnboardingStatus};
use crate::server::page::i18n::Messages;
use crate::server::page::respond::{Page, explain, failure, html, see_other};
use crate::server::page::views::Chrome;

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

#[derive(Deserialize)]
pub(crate) struct QueueQuery {
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
pub(crate) async fn queue(staff: StaffSigned, Query(q): Query<QueueQuery>) -> Page {
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
            let (submitted, submitted_iso) = crate::server::page::views::timestamp(r.submitted_at);
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
    let (chrome, nav) = staff
        .frame("queue", m.t("back-office-queue"), notice, error)
        .await?;
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

/// `POST <back office>/onboarding/{id}/{approve|reject}`: the step, then
/// the queue with a notice, or the queue with the error saying what to do.
pub(crate) async fn decide(
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
            if step == "approve" {
                "approved"
            } else {
                "rejected"
            }
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
