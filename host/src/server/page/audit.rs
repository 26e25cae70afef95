//! The organization's audit trail, newest first, paged with its cursor.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};

use serde::Deserialize;

use super::list::href;
use super::views::{AuditPage, AuditRow, timestamp};
use super::{Page, failure, forbidden, html, viewer};
use crate::error::Error;
use crate::server::state::AppState;

/// Entries per page.
const PAGE_ENTRIES: u32 = 50;

#[derive(Deserialize)]
pub(super) struct AuditQuery {
    cursor: Option<String>,
}

pub(super) async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<AuditQuery>,
) -> Page {
    let viewer = viewer(&state, &headers).await?;
    let m = viewer.m;
    let read = state
        .gate
        .read_audit(
            &viewer.actor,
            Some(&viewer.session.organization_id),
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
    let prefix = format!("{}/audit", viewer.page.prefix);
    let next_href = page.next_cursor.map(|c| {
        href(
            &prefix,
            &url::form_urlencoded::Serializer::new(String::new())
                .append_pair("cursor", &c)
                .finish(),
        )
    });
    Ok(html(
        StatusCode::OK,
        AuditPage {
            chrome: viewer.chrome(m.t("audit-title"), "audit", nav),
            rows,
            next_href,
        },
    ))
}
