//! The organization's audit trail, newest first, paged with its cursor.

use axum::extract::Query;
use axum::http::StatusCode;

use serde::Deserialize;

use super::list::href;
use super::respond::{Page, failure, html};
use super::viewer::{Signed, forbidden};
use super::views::{AuditPage, AuditRow, timestamp};
use crate::error::Error;

/// Entries per page.
pub(super) const PAGE_ENTRIES: u32 = 50;

#[derive(Deserialize)]
pub(super) struct AuditQuery {
    cursor: Option<String>,
}

/// The rows of a page of the audit trail, and the link to the next page
/// (`prefix?cursor=...`).
pub(super) fn audit_rows(
    page: crate::model::AuditPage,
    prefix: &str,
) -> (Vec<AuditRow>, Option<String>) {
    let rows = page
        .entries
        .into_iter()
        .map(|record| {
            let (when, iso) = timestamp(record.at);
            AuditRow {
                iso,
                when,
                actor: record.entry.actor,
                action: record.entry.action,
                target: record.entry.target,
                policies: record.entry.policies.join(", "),
            }
        })
        .collect();
    let next_href = page.next_cursor.map(|c| {
        href(
            prefix,
            &url::form_urlencoded::Serializer::new(String::new())
                .append_pair("cursor", &c)
                .finish(),
        )
    });
    (rows, next_href)
}

pub(super) async fn show(signed: Signed, Query(query): Query<AuditQuery>) -> Page {
    let viewer = signed.viewer();
    let m = viewer.m;
    let read = viewer
        .state
        .gate
        .read_audit(
            viewer.actor,
            Some(viewer.organization_id),
            query.cursor.as_deref(),
            PAGE_ENTRIES,
        )
        .await;
    let page = match read {
        Ok(page) => page,
        Err(Error::Denied(_)) => return Ok(forbidden(&viewer)),
        Err(err) => return Ok(failure(viewer.page, m, &err)),
    };
    let nav = viewer.nav().await.map_err(|err| viewer.failed(err))?;
    let (rows, next_href) = audit_rows(page, &format!("{}/audit", viewer.page.prefix));
    Ok(html(
        StatusCode::OK,
        AuditPage {
            chrome: viewer.chrome(m.t("audit-title"), "audit", nav),
            rows,
            next_href,
        },
    ))
}
