//! The users of the organizations assigned to a staff member: search and
//! filter across them (or one), page with the API's cursor, and take the
//! lifecycle steps (revoke, reinstate, re-invite, remove after a
//! confirmation) on each membership. Which steps a row offers is asked of
//! the plugin per organization (`get-users` as `staff:<id>@<organization>`,
//! so each row's steps are about that membership); the step itself is
//! decided again when it is taken.

use std::collections::HashMap;

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use serde::Deserialize;

use super::staff::{NavLink, StaffSigned, forbidden};
use crate::error::Error;
use crate::model::{Account, AccountStatus, MemberSort, Target, UserQuery, UserSteps};
use crate::server::page::list::href;
use crate::server::page::respond::{Page, explain, failure, html, see_other};
use crate::server::page::views::{Chrome, ConfirmPage};

/// Rows per page.
const PAGE_ROWS: u32 = 50;

/// The steps a row may offer, in order, with their label keys.
const STEPS: [(&str, &str); 4] = [
    ("revoke", "action-revoke"),
    ("reinstate", "action-reinstate"),
    ("reinvite", "action-reinvite"),
    ("remove", "action-remove"),
];

/// What the list shows, from the query string (or a form's `back`).
#[derive(Clone, Debug, Default, Deserialize)]
pub(crate) struct UsersQuery {
    organization: Option<String>,
    q: Option<String>,
    status: Option<String>,
    cursor: Option<String>,
    notice: Option<String>,
}

impl UsersQuery {
    fn from_back(back: &str) -> Self {
        let mut query = Self::default();
        for (k, v) in url::form_urlencoded::parse(back.trim_start_matches('?').as_bytes()) {
            let v = Some(v.into_owned());
            match &*k {
                "organization" => query.organization = v,
                "q" => query.q = v,
                "status" => query.status = v,
                "cursor" => query.cursor = v,
                _ => {}
            }
        }
        query
    }

    fn organization(&self) -> Option<&str> {
        self.organization.as_deref().filter(|o| !o.is_empty())
    }

    fn search(&self) -> Option<&str> {
        self.q.as_deref().map(str::trim).filter(|q| !q.is_empty())
    }

    fn status(&self) -> Option<AccountStatus> {
        self.status.as_deref().and_then(|s| s.parse().ok())
    }

    /// The query string (no `?`) of this list at `cursor`, no notice.
    fn encode(&self, cursor: Option<&str>) -> String {
        let mut out = url::form_urlencoded::Serializer::new(String::new());
        if let Some(org) = self.organization() {
            out.append_pair("organization", org);
        }
        if let Some(q) = self.search() {
            out.append_pair("q", q);
        }
        if let Some(status) = self.status() {
            out.append_pair("status", status.name());
        }
        if let Some(cursor) = cursor {
            out.append_pair("cursor", cursor);
        }
        out.finish()
    }
}

/// One step button of a row.
struct StepButton {
    step: &'static str,
    text: String,
    label: String,
}

/// One membership as the list shows it.
struct UserRow {
    person_id: String,
    organization_id: String,
    organization: String,
    name: String,
    email: String,
    status: &'static str,
    status_label: String,
    is_admin: bool,
    version: u64,
    steps: Vec<StepButton>,
}

#[derive(Template)]
#[template(path = "page/back_office_users.html")]
struct UsersPage<'a> {
    chrome: Chrome<'a>,
    nav: Vec<NavLink>,
    /// (id, name, selected) of the organizations to filter on.
    organizations: Vec<(String, String, bool)>,
    /// (value, label, selected) of the statuses.
    statuses: Vec<(&'static str, String, bool)>,
    search: String,
    rows: Vec<UserRow>,
    back: String,
    next_href: Option<String>,
    first_href: Option<String>,
}

/// `GET <back office>/users`: the users of the staff member's assigned
/// organizations (or one of them), with the steps the rules allow.
pub(crate) async fn users(staff: StaffSigned, Query(query): Query<UsersQuery>) -> Page {
    let notice = query.notice.as_deref().and_then(|n| match n {
        "added" | "revoked" | "reinstated" | "reinvited" | "removed" => {
            Some(staff.m().t(&format!("notice-{n}")))
        }
        _ => None,
    });
    render(&staff, &query, StatusCode::OK, notice, None).await
}

async fn render(
    staff: &StaffSigned,
    query: &UsersQuery,
    code: StatusCode,
    notice: Option<String>,
    error: Option<String>,
) -> Page {
    let m = staff.m();
    let page = staff.page();
    let gate = &staff.state.gate;
    let actor = staff.actor();
    let listed = gate
        .list_users(
            &actor,
            UserQuery {
                organizations: query.organization().map(str::to_string),
                status: query.status(),
                search: query.search().map(str::to_string),
                sort: MemberSort::Name,
                descending: false,
                cursor: query.cursor.clone(),
                limit: PAGE_ROWS,
            },
        )
        .await;
    let listed = match listed {
        Ok(listed) => listed,
        // Nothing about an organization they may not see.
        Err(Error::Denied(_) | Error::NotFound(_)) => return Err(forbidden(staff)),
        // A cursor from another query: the first page.
        Err(Error::InvalidRequest(_)) if query.cursor.is_some() => {
            let first = UsersQuery {
                cursor: None,
                ..query.clone()
            };
            return Box::pin(render(staff, &first, code, notice, error)).await;
        }
        Err(err) => return Err(failure(page, m, &err)),
    };
    let steps = row_steps(staff, &listed.members)
        .await
        .map_err(|err| failure(page, m, &err))?;
    let rows = listed
        .members
        .iter()
        .filter_map(|account| row(staff, account, &steps))
        .collect();
    let organizations = gate
        .list_organizations(&actor, None)
        .await
        .map_err(|err| failure(page, m, &err))?
        .into_iter()
        .map(|o| {
            let selected = query.organization() == Some(o.id.as_str());
            (o.id, o.name, selected)
        })
        .collect();
    let status = query.status().map(|s| s.name());
    let statuses = ["invited", "active", "revoked", "removed"]
        .into_iter()
        .map(|s| (s, m.t(&format!("filter-{s}")), status == Some(s)))
        .collect();
    let (chrome, nav) = staff
        .frame("users", m.t("back-office-users"), notice, error)
        .await?;
    let users = format!("{}/users", page.back_office);
    let href = |q: String| href(&users, &q);
    Ok(html(
        code,
        UsersPage {
            chrome,
            nav,
            organizations,
            statuses,
            search: query.search().unwrap_or_default().to_string(),
            rows,
            back: query.encode(query.cursor.as_deref()),
            next_href: listed
                .next_cursor
                .as_deref()
                .map(|c| href(query.encode(Some(c)))),
            first_href: query.cursor.is_some().then(|| href(query.encode(None))),
        },
    ))
}

/// The steps the rules allow on each listed membership, by (organization,
/// person): one `get-users` call per organization on the page, acting in
/// it, so that each answer is about that membership.
async fn row_steps(
    staff: &StaffSigned,
    members: &[Account],
) -> Result<HashMap<(String, String), UserSteps>, Error> {
    let mut by_organization: Vec<(String, Vec<String>)> = Vec::new();
    for account in members {
        let Some(m) = &account.membership else {
            continue;
        };
        match by_organization
            .iter_mut()
            .find(|(o, _)| *o == m.organization_id)
        {
            Some((_, ids)) => ids.push(account.person.id.clone()),
            None => {
                by_organization.push((m.organization_id.clone(), vec![account.person.id.clone()]))
            }
        }
    }
    let mut steps = HashMap::new();
    for (organization, ids) in by_organization {
        let actor = format!("{}@{organization}", staff.actor());
        let views = staff.state.gate.get_users(&actor, ids.clone()).await?;
        for (id, view) in ids.into_iter().zip(views) {
            if let Some(view) = view {
                steps.insert((organization.clone(), id), view.steps);
            }
        }
    }
    Ok(steps)
}

fn row(
    staff: &StaffSigned,
    account: &Account,
    steps: &HashMap<(String, String), UserSteps>,
) -> Option<UserRow> {
    let m = staff.m();
    let membership = account.membership.as_ref()?;
    let allowed = steps.get(&(
        membership.organization_id.clone(),
        account.person.id.clone(),
    ));
    let name = account.person.name.clone();
    let buttons = STEPS
        .iter()
        .filter(|(step, _)| {
            allowed.is_some_and(|s| match *step {
                "revoke" => s.revoke,
                "reinstate" => s.reinstate,
                "reinvite" => s.reinvite,
                _ => s.remove,
            })
        })
        .map(|(step, key)| {
            let text = m.t(key);
            StepButton {
                step,
                label: m.t2("action-user", ("action", &text), ("name", &name)),
                text,
            }
        })
        .collect();
    let status = membership.status.name();
    Some(UserRow {
        person_id: account.person.id.clone(),
        organization_id: membership.organization_id.clone(),
        organization: account
            .organization
            .as_ref()
            .map(|o| o.name.clone())
            .unwrap_or_default(),
        email: account.person.email.clone(),
        status,
        status_label: m.t(&format!("status-{status}")),
        is_admin: membership.is_admin,
        version: membership.version,
        steps: buttons,
        name,
    })
}

/// `POST <back office>/users/{organization}/{person}/{step}`: a lifecycle
/// step on the person's membership in the organization, at the version the
/// list showed; `remove` only from its confirmation. Back to the list with
/// a notice, or the list with the error saying what to do.
pub(crate) async fn user_step(
    staff: StaffSigned,
    Path((organization, person, step)): Path<(String, String, String)>,
    body: Bytes,
) -> Page {
    take_step(staff, organization, person, &step, body).await
}

/// `POST <back office>/users/{organization}/{person}/remove`: the removal,
/// from its confirmation page (without `confirmed`, that page).
pub(crate) async fn user_step_remove(
    staff: StaffSigned,
    Path((organization, person)): Path<(String, String)>,
    body: Bytes,
) -> Page {
    take_step(staff, organization, person, "remove", body).await
}

async fn take_step(
    staff: StaffSigned,
    organization: String,
    person: String,
    step: &str,
    body: Bytes,
) -> Page {
    let m = staff.m();
    let Some(fields) = staff.form(&body) else {
        return Ok(staff.expired_form());
    };
    let query = UsersQuery::from_back(fields.get("back"));
    let Ok(version) = fields.get("version").parse() else {
        let error = m.t1("error-invalid", "reason", "version");
        return render(
            &staff,
            &query,
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            Some(error),
        )
        .await;
    };
    if step == "remove" && fields.get("confirmed") != "yes" {
        return confirm(&staff, &organization, &person, version, &query).await;
    }
    let target = Target::membership(person, organization, version);
    let gate = &staff.state.gate;
    let actor = staff.actor();
    let (result, notice) = match step {
        "revoke" => (gate.revoke_user(&actor, target).await, "revoked"),
        "reinstate" => (gate.reinstate_user(&actor, target).await, "reinstated"),
        "reinvite" => (gate.reinvite_user(&actor, target).await, "reinvited"),
        "remove" => (gate.remove_user(&actor, target).await, "removed"),
        _ => {
            return Ok(failure(
                staff.page(),
                m,
                &Error::NotFound(format!("no step `{step}`")),
            ));
        }
    };
    match result {
        Ok(_) => {
            let back = query.encode(query.cursor.as_deref());
            let sep = if back.is_empty() { "" } else { "&" };
            Ok(see_other(&format!(
                "{}/users?{back}{sep}notice={notice}",
                staff.page().back_office
            )))
        }
        Err(err) => {
            let (code, text) = explain(m, &err, false);
            render(&staff, &query, code, None, Some(text)).await
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct ConfirmQuery {
    version: u64,
    #[serde(default)]
    back: String,
}

/// `GET <back office>/users/{organization}/{person}/remove`: the
/// confirmation before a removal (the list's Remove is a link to it).
pub(crate) async fn confirm_remove(
    staff: StaffSigned,
    Path((organization, person)): Path<(String, String)>,
    Query(q): Query<ConfirmQuery>,
) -> Page {
    let query = UsersQuery::from_back(&q.back);
    confirm(&staff, &organization, &person, q.version, &query).await
}

/// The confirmation page for removing `person` from `organization`: only
/// for a membership the staff member may see and remove.
async fn confirm(
    staff: &StaffSigned,
    organization: &str,
    person: &str,
    version: u64,
    query: &UsersQuery,
) -> Page {
    let m = staff.m();
    let page = staff.page();
    let actor = format!("{}@{organization}", staff.actor());
    let view = staff
        .state
        .gate
        .get_users(&actor, vec![person.to_string()])
        .await
        .map_err(|err| failure(page, m, &err))?
        .pop()
        .flatten()
        .filter(|v| v.steps.remove);
    let Some(view) = view else {
        return Err(forbidden(staff));
    };
    let organization_name = view
        .member
        .organization
        .as_ref()
        .map(|o| o.name.clone())
        .unwrap_or_default();
    let name = view.member.person.name.clone();
    let bo = &page.back_office;
    let back = query.encode(query.cursor.as_deref());
    let heading = m.t2(
        "back-office-remove-title",
        ("name", &name),
        ("organization", &organization_name),
    );
    Ok(html(
        StatusCode::OK,
        ConfirmPage {
            chrome: staff.chrome(heading.clone()),
            heading,
            explain: m.t("back-office-remove-explain"),
            names: vec![format!("{name} <{}>", view.member.person.email)],
            action: format!("{bo}/users/{organization}/{person}/remove"),
            hidden: vec![("version".into(), version.to_string())],
            cancel_href: href(&format!("{bo}/users"), &back),
            back,
        },
    ))
}
