//! The list of the organization's users: filters, search, sorting, paging
//! with the API's cursor, and the buttons each row may show (the changes
//! they post are in `steps`).

use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::respond::{Page, failure, html};
use super::viewer::{Signed, Viewer, forbidden};
use super::views::{
    BulkActions, Column, FilterLink, ListPage, Row, RowActions, StepButton, timestamp,
};
use crate::error::Error;
use crate::model::UserQuery;
use crate::model::{Account, AccountStatus, MemberSort};

/// Rows per page.
pub(super) const PAGE_ROWS: u32 = 50;

/// What the list shows: the query string of the page, parsed strictly
/// enough that writing it back out can only produce these fields.
#[derive(Clone, Debug, Default, Deserialize)]
pub(super) struct ListQuery {
    status: Option<String>,
    q: Option<String>,
    sort: Option<String>,
    order: Option<String>,
    pub(super) cursor: Option<String>,
    notice: Option<String>,
}

/// The notices a change can announce, by the key in `?notice=`.
const NOTICES: &[&str] = &[
    "added",
    "edited",
    "revoked",
    "reinstated",
    "removed",
    "reinvited",
];

impl ListQuery {
    /// The list as a form's `back` field or a query string wrote it; what
    /// does not parse is the first page of all users.
    pub(super) fn from_back(back: &str) -> Self {
        let back = back.strip_prefix('?').unwrap_or(back);
        let mut query = Self::default();
        for (k, v) in url::form_urlencoded::parse(back.as_bytes()) {
            let v = Some(v.into_owned());
            match &*k {
                "status" => query.status = v,
                "q" => query.q = v,
                "sort" => query.sort = v,
                "order" => query.order = v,
                "cursor" => query.cursor = v,
                _ => {}
            }
        }
        query
    }

    fn status(&self) -> Option<AccountStatus> {
        self.status.as_deref().and_then(|s| s.parse().ok())
    }

    fn sort(&self) -> (&'static str, MemberSort) {
        match self.sort.as_deref() {
            Some("email") => ("email", MemberSort::Email),
            Some("company") => ("company", MemberSort::Company),
            Some("added") => ("added", MemberSort::Added),
            _ => ("name", MemberSort::Name),
        }
    }

    fn descending(&self) -> bool {
        self.order.as_deref() == Some("desc")
    }

    fn search(&self) -> &str {
        self.q.as_deref().map(str::trim).unwrap_or("")
    }

    /// The query string (no `?`) of this list with `cursor`, without a
    /// notice; fields at their default are left out.
    pub(super) fn encode(&self, cursor: Option<&str>) -> String {
        let mut out = url::form_urlencoded::Serializer::new(String::new());
        if let Some(status) = self.status() {
            out.append_pair("status", status.name());
        }
        if !self.search().is_empty() {
            out.append_pair("q", self.search());
        }
        let (sort, _) = self.sort();
        if sort != "name" {
            out.append_pair("sort", sort);
        }
        if self.descending() {
            out.append_pair("order", "desc");
        }
        if let Some(cursor) = cursor {
            out.append_pair("cursor", cursor);
        }
        out.finish()
    }

    fn with(&self, change: impl FnOnce(&mut Self)) -> Self {
        let mut next = self.clone();
        next.cursor = None;
        change(&mut next);
        next
    }
}

/// `prefix` with `query` (no `?`) appended.
pub(super) fn href(prefix: &str, query: &str) -> String {
    if query.is_empty() {
        prefix.to_string()
    } else {
        format!("{prefix}?{query}")
    }
}

pub(super) async fn show(signed: Signed, Query(query): Query<ListQuery>) -> Page {
    let viewer = signed.viewer();
    let notice = query
        .notice
        .as_deref()
        .filter(|n| NOTICES.contains(n))
        .map(|n| viewer.m.t(&format!("notice-{n}")));
    Ok(render(&viewer, &query, StatusCode::OK, notice, None).await)
}

/// The list as `query` asks, with a notice or an error to announce.
pub(super) async fn render(
    viewer: &Viewer<'_>,
    query: &ListQuery,
    status: StatusCode,
    notice: Option<String>,
    error: Option<String>,
) -> Response {
    let m = viewer.m;
    let (sort_name, sort) = query.sort();
    let listed = viewer
        .state
        .gate
        .list_users(
            viewer.actor,
            UserQuery {
                organizations: Some(viewer.organization_id.to_string()),
                status: query.status(),
                search: Some(query.search().to_string()).filter(|s| !s.is_empty()),
                sort,
                descending: query.descending(),
                cursor: query.cursor.clone(),
                limit: PAGE_ROWS,
            },
        )
        .await;
    let page = match listed {
        Ok(page) => page,
        Err(Error::Denied(_)) => return forbidden(viewer),
        // A cursor from another query or a tampered link: start over.
        Err(Error::InvalidRequest(_)) if query.cursor.is_some() => {
            return Box::pin(render(viewer, &query.with(|_| {}), status, notice, error)).await;
        }
        Err(err) => return failure(viewer.page, m, &err),
    };
    let actions = match row_actions(viewer, &page.members).await {
        Ok(actions) => actions,
        Err(err) => return failure(viewer.page, m, &err),
    };
    let nav = match viewer.nav().await {
        Ok(nav) => nav,
        Err(err) => return failure(viewer.page, m, &err),
    };
    let prefix = viewer.page.prefix.as_str();
    let mut bulk = BulkActions::default();
    let rows: Vec<Row> = page
        .members
        .iter()
        .zip(actions)
        .filter_map(|(account, actions)| {
            bulk.include(&actions);
            row(viewer, account, actions)
        })
        .collect();
    let current = query.status().map(|s| s.name());
    let filters = [
        None,
        Some("invited"),
        Some("active"),
        Some("revoked"),
        Some("removed"),
    ]
    .into_iter()
    .map(|status| FilterLink {
        href: href(
            prefix,
            &query
                .with(|q| q.status = status.map(String::from))
                .encode(None),
        ),
        label: m.t(&format!("filter-{}", status.unwrap_or("all"))),
        current: status == current,
    })
    .collect();
    let columns = [
        ("name", "column-name"),
        ("email", "column-email"),
        ("company", "column-company"),
        ("", "column-status"),
        ("", "column-roles"),
        ("", "column-limit"),
    ]
    .into_iter()
    .map(|(key, label)| {
        let label = m.t(label);
        if key.is_empty() {
            return Column {
                sort_label: label.clone(),
                label,
                href: None,
                aria_sort: None,
                arrow: None,
            };
        }
        let sorted = key == sort_name;
        let descending = sorted && !query.descending();
        let target = query.with(|q| {
            q.sort = Some(key.into());
            q.order = descending.then(|| "desc".into());
        });
        Column {
            sort_label: m.t1("sort-by", "column", &label),
            label,
            href: Some(href(prefix, &target.encode(None))),
            aria_sort: sorted.then(|| {
                if query.descending() {
                    "descending"
                } else {
                    "ascending"
                }
            }),
            arrow: sorted.then(|| if query.descending() { "▼" } else { "▲" }),
        }
    })
    .collect();
    let view = ListPage {
        chrome: {
            let mut chrome = viewer.chrome(m.t("page-title"), "users", nav);
            chrome.notice = notice;
            chrome.error = error;
            chrome
        },
        filters,
        status: current,
        search: query.search().to_string(),
        clear_href: href(prefix, &query.with(|q| q.q = None).encode(None)),
        columns,
        rows,
        bulk,
        back: query.encode(query.cursor.as_deref()),
        next_href: page
            .next_cursor
            .as_deref()
            .map(|c| href(prefix, &query.encode(Some(c)))),
        first_href: query
            .cursor
            .is_some()
            .then(|| href(prefix, &query.encode(None))),
    };
    html(status, view)
}

/// The steps the rules allow the viewer on each row, asked of the plugin
/// in one call (the lifecycle and the policies both; the page copies no
/// rule). A row the viewer may no longer see offers none.
async fn row_actions(viewer: &Viewer<'_>, members: &[Account]) -> Result<Vec<RowActions>, Error> {
    if members.is_empty() {
        return Ok(Vec::new());
    }
    let ids = members.iter().map(|a| a.person.id.clone()).collect();
    let views = viewer.state.gate.get_users(viewer.actor, ids).await?;
    Ok(views
        .into_iter()
        .map(|view| {
            view.map_or_else(RowActions::default, |v| RowActions {
                edit: v.steps.edit,
                revoke: v.steps.revoke,
                reinstate: v.steps.reinstate,
                remove: v.steps.remove,
                reinvite: v.steps.reinvite,
            })
        })
        .collect())
}

fn row(viewer: &Viewer<'_>, account: &Account, actions: RowActions) -> Option<Row> {
    let m = viewer.m;
    let membership = account.membership.as_ref()?;
    let name = account.person.name.clone();
    let status = membership.status.name();
    let mut steps = Vec::new();
    for (allowed, step, key) in [
        (actions.revoke, "revoke", "action-revoke"),
        (actions.reinstate, "reinstate", "action-reinstate"),
        (actions.reinvite, "reinvite", "action-reinvite"),
    ] {
        if allowed {
            let text = m.t(key);
            steps.push(StepButton {
                step,
                label: m.t2("action-user", ("action", &text), ("name", &name)),
                text,
            });
        }
    }
    let remove_text = m.t("action-remove");
    Some(Row {
        person_id: account.person.id.clone(),
        version: membership.version,
        email: account.person.email.clone(),
        company: account
            .organization
            .as_ref()
            .map(|o| o.name.clone())
            .unwrap_or_default(),
        is_admin: membership.is_admin,
        status,
        status_label: m.t(&format!("status-{status}")),
        invited_note: (membership.status == AccountStatus::Invited)
            .then_some(membership.invited_at)
            .flatten()
            .map(|at| m.t1("invited-at", "when", &timestamp(at).0)),
        roles: membership.roles.join(", "),
        limit: membership
            .spending_limit
            .map(|l| viewer.page.currency.format(&m, l))
            .unwrap_or_else(|| m.t("no-limit")),
        selectable: actions.revoke || actions.reinstate || actions.remove || actions.reinvite,
        select_label: m.t1("select-user", "name", &name),
        edit_label: m.t1("action-edit-user", "name", &name),
        remove_label: m.t2("action-user", ("action", &remove_text), ("name", &name)),
        actions,
        steps,
        name,
    })
}
