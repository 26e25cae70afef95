//! Adding one user, adding many, and editing one. A refused or stale form
//! comes back with what was typed and a message saying what to do.

use axum::body::Bytes;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;

use super::list::href;
use super::respond::{Fields, Page, explain, failure, html, see_other};
use super::viewer::{Signed, Viewer, moved_on, no_user};
use super::views::{BulkAddPage, ResultRow, ResultsPage, UserForm, UserFormPage};
use crate::error::Error;
use crate::model::Account;
use crate::model::{NewUser, Target, UserChanges};

/// Roles typed as `buyer, approver`.
fn roles(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(String::from)
        .collect()
}

/// A spending limit typed as digits; empty is no limit.
fn spending_limit(text: &str) -> Result<Option<u64>, ()> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.parse().map(Some).map_err(|_| ())
}

fn form_of(fields: &Fields) -> UserForm {
    UserForm {
        email: fields.get("email").trim().to_string(),
        name: fields.get("name").trim().to_string(),
        roles: fields.get("roles").to_string(),
        spending_limit: fields.get("spending_limit").to_string(),
        is_admin: fields.get("is_admin") == "yes",
    }
}

fn add_page<'a>(
    viewer: &'a Viewer<'a>,
    nav: (bool, bool),
    form: UserForm,
    error: Option<String>,
) -> UserFormPage<'a> {
    let m = viewer.m;
    let mut chrome = viewer.chrome(m.t("add-title"), "new", nav);
    chrome.error = error;
    UserFormPage {
        chrome,
        heading: m.t("add-title"),
        action: format!("{}/new", viewer.page.prefix),
        submit: m.t("add-button"),
        version: None,
        form,
        email_editable: true,
        admin_editable: false,
    }
}

/// The viewer of an add form, if the policies let them add users (with
/// the navigation), or the page to show instead.
async fn adder(signed: &Signed) -> Result<(Viewer<'_>, (bool, bool)), Response> {
    let viewer = signed.viewer();
    let nav = match viewer.nav().await {
        Ok(nav) => nav,
        Err(err) => return Err(failure(viewer.page, viewer.m, &err)),
    };
    if !nav.0 {
        return Err(super::viewer::forbidden(&viewer));
    }
    Ok((viewer, nav))
}

pub(super) async fn add_form(signed: Signed) -> Page {
    let (viewer, nav) = adder(&signed).await?;
    Ok(html(
        StatusCode::OK,
        add_page(&viewer, nav, UserForm::default(), None),
    ))
}

pub(super) async fn add(signed: Signed, body: Bytes) -> Page {
    let viewer = signed.viewer();
    let m = viewer.m;
    let fields = Fields::parse(&body);
    let form = form_of(&fields);
    let nav = viewer.nav().await.unwrap_or_default();
    let refuse = |status, error| html(status, add_page(&viewer, nav, form.clone(), Some(error)));
    if !viewer.csrf_ok(fields.get("csrf")) {
        return Ok(refuse(StatusCode::FORBIDDEN, m.t("error-csrf")));
    }
    let Ok(limit) = spending_limit(&form.spending_limit) else {
        return Ok(refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            m.t1("error-invalid", "reason", &m.t("field-limit-hint")),
        ));
    };
    let user = NewUser {
        email: form.email.clone(),
        name: form.name.clone(),
        roles: roles(&form.roles),
        is_admin: false,
        spending_limit: limit,
    };
    Ok(
        match viewer
            .state
            .gate
            .add_user(viewer.actor, viewer.organization_id, user)
            .await
        {
            Ok(_) => see_other(&format!("{}?notice=added", viewer.page.prefix)),
            Err(err) => {
                let (status, text) = explain(m, &err, false);
                refuse(status, text)
            }
        },
    )
}

pub(super) async fn bulk_add_form(signed: Signed) -> Page {
    let (viewer, nav) = adder(&signed).await?;
    Ok(html(
        StatusCode::OK,
        BulkAddPage {
            chrome: viewer.chrome(viewer.m.t("bulk-add-title"), "bulk-add", nav),
            addresses: String::new(),
            roles: String::new(),
            spending_limit: String::new(),
        },
    ))
}

/// One pasted line: `address`, `Name <address>` or `address, Name`; a
/// missing name is the address's local part.
fn pasted(line: &str) -> (String, String) {
    let line = line.trim();
    if let Some((name, rest)) = line.split_once('<') {
        let email = rest.trim_end_matches('>').trim();
        let name = name.trim().trim_matches('"').trim();
        return (email.to_string(), name.to_string());
    }
    if let Some((email, name)) = line.split_once(',') {
        return (email.trim().to_string(), name.trim().to_string());
    }
    (line.to_string(), String::new())
}

pub(super) async fn bulk_add(signed: Signed, body: Bytes) -> Page {
    let viewer = signed.viewer();
    let m = viewer.m;
    let fields = Fields::parse(&body);
    let nav = viewer.nav().await.unwrap_or_default();
    let refuse = |status, error| {
        let mut chrome = viewer.chrome(m.t("bulk-add-title"), "bulk-add", nav);
        chrome.error = Some(error);
        html(
            status,
            BulkAddPage {
                chrome,
                addresses: fields.get("addresses").to_string(),
                roles: fields.get("roles").to_string(),
                spending_limit: fields.get("spending_limit").to_string(),
            },
        )
    };
    if !viewer.csrf_ok(fields.get("csrf")) {
        return Ok(refuse(StatusCode::FORBIDDEN, m.t("error-csrf")));
    }
    let Ok(limit) = spending_limit(fields.get("spending_limit")) else {
        return Ok(refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            m.t1("error-invalid", "reason", &m.t("field-limit-hint")),
        ));
    };
    let roles = roles(fields.get("roles"));
    let lines: Vec<(String, String)> = fields
        .get("addresses")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(pasted)
        .collect();
    if lines.is_empty() {
        return Ok(refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            m.t("bulk-add-empty"),
        ));
    }
    let users = lines
        .iter()
        .map(|(email, name)| NewUser {
            email: email.clone(),
            name: if name.is_empty() {
                email.split('@').next().unwrap_or(email).to_string()
            } else {
                name.clone()
            },
            roles: roles.clone(),
            is_admin: false,
            spending_limit: limit,
        })
        .collect();
    let results = match viewer
        .state
        .gate
        .bulk_add(viewer.actor, viewer.organization_id, users)
        .await
    {
        Ok(results) => results,
        Err(err) => {
            let (status, text) = explain(m, &err, false);
            return Ok(refuse(status, text));
        }
    };
    let total = results.len();
    let mut ok = 0;
    let rows = lines
        .into_iter()
        .zip(results)
        .map(|((email, _), result)| match result {
            Ok(_) => {
                ok += 1;
                ResultRow {
                    who: email,
                    ok: true,
                    outcome: m.t("result-ok"),
                }
            }
            Err(err) => ResultRow {
                who: email,
                ok: false,
                outcome: m.t1("result-failed", "reason", &explain(m, &err, false).1),
            },
        })
        .collect();
    Ok(html(
        StatusCode::OK,
        ResultsPage {
            chrome: viewer.chrome(m.t("results-title"), "bulk-add", nav),
            summary: m.t2(
                "results-summary",
                ("done", &ok.to_string()),
                ("total", &total.to_string()),
            ),
            rows,
            back: viewer.page.prefix.clone(),
        },
    ))
}

/// What the edit form may change for `account`, as the rules say
/// (`get-users`): the email while invited and unlinked, the administrator
/// flag where the policies permit it.
struct Editable {
    email: bool,
    admin: bool,
}

/// The user behind an edit, if the viewer may view and edit them, with what
/// the form may change.
async fn editable(viewer: &Viewer<'_>, person: &str) -> Result<Option<(Account, Editable)>, Error> {
    let Some(view) = viewer.state.gate.get_user(viewer.actor, person).await? else {
        return Ok(None);
    };
    if !view.steps.edit {
        return Ok(None);
    }
    let editable = Editable {
        email: view.steps.edit_email,
        admin: view.steps.change_admin,
    };
    Ok(Some((view.member, editable)))
}

fn edit_page<'a>(
    viewer: &'a Viewer<'a>,
    nav: (bool, bool),
    account: &Account,
    editable: &Editable,
    version: u64,
    form: UserForm,
    error: Option<String>,
) -> UserFormPage<'a> {
    let m = viewer.m;
    let title = m.t1("edit-title", "name", &account.person.name);
    let mut chrome = viewer.chrome(title.clone(), "users", nav);
    chrome.error = error;
    UserFormPage {
        chrome,
        heading: title,
        action: format!("{}/users/{}", viewer.page.prefix, account.person.id),
        submit: m.t("save"),
        version: Some(version),
        form,
        email_editable: editable.email,
        admin_editable: editable.admin,
    }
}

fn current_form(account: &Account) -> UserForm {
    let membership = account.membership.as_ref();
    UserForm {
        email: account.person.email.clone(),
        name: account.person.name.clone(),
        roles: membership.map(|m| m.roles.join(", ")).unwrap_or_default(),
        spending_limit: membership
            .and_then(|m| m.spending_limit)
            .map(|l| l.to_string())
            .unwrap_or_default(),
        is_admin: membership.is_some_and(|m| m.is_admin),
    }
}

pub(super) async fn edit_form(signed: Signed, Path(person): Path<String>) -> Page {
    let viewer = signed.viewer();
    let (account, editable) = match editable(&viewer, &person).await {
        Ok(Some(found)) => found,
        Ok(None) => return Ok(no_user(&viewer)),
        Err(err) => return Ok(failure(viewer.page, viewer.m, &err)),
    };
    let nav = viewer.nav().await.unwrap_or_default();
    let version = account.membership.as_ref().map_or(0, |m| m.version);
    let form = current_form(&account);
    Ok(html(
        StatusCode::OK,
        edit_page(&viewer, nav, &account, &editable, version, form, None),
    ))
}

pub(super) async fn edit(signed: Signed, Path(person): Path<String>, body: Bytes) -> Page {
    let viewer = signed.viewer();
    let m = viewer.m;
    let fields = Fields::parse(&body);
    let (account, editable) = match editable(&viewer, &person).await {
        Ok(Some(found)) => found,
        Ok(None) => return Ok(no_user(&viewer)),
        Err(err) => return Ok(failure(viewer.page, m, &err)),
    };
    let nav = viewer.nav().await.unwrap_or_default();
    let mut typed = form_of(&fields);
    if !editable.email {
        typed.email = account.person.email.clone();
    }
    let version: u64 = fields.get("version").parse().unwrap_or(0);
    let refuse = |status, version, error| {
        html(
            status,
            edit_page(
                &viewer,
                nav,
                &account,
                &editable,
                version,
                typed.clone(),
                Some(error),
            ),
        )
    };
    if !viewer.csrf_ok(fields.get("csrf")) {
        return Ok(refuse(StatusCode::FORBIDDEN, version, m.t("error-csrf")));
    }
    let Ok(limit) = spending_limit(&typed.spending_limit) else {
        return Ok(refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            version,
            m.t1("error-invalid", "reason", &m.t("field-limit-hint")),
        ));
    };
    // Only what differs from the record as it is now; the version says
    // whether it is still the record the form was opened on.
    let current = current_form(&account);
    let current_limit = account.membership.as_ref().and_then(|m| m.spending_limit);
    let typed_roles = roles(&typed.roles);
    let changes = UserChanges {
        name: (typed.name != current.name).then(|| typed.name.clone()),
        email: (editable.email && typed.email != current.email).then(|| typed.email.clone()),
        roles: (typed_roles != roles(&current.roles)).then_some(typed_roles),
        is_admin: (editable.admin && typed.is_admin != current.is_admin).then_some(typed.is_admin),
        spending_limit: (limit != current_limit).then_some(limit),
    };
    let target = Target::person(person.clone(), version);
    Ok(
        match viewer
            .state
            .gate
            .edit_user(viewer.actor, target, changes)
            .await
        {
            Ok(_) => see_other(&href(&viewer.page.prefix, "notice=edited")),
            Err(err) => {
                let stale =
                    matches!(err, Error::Conflict(_)) && moved_on(&viewer, &person, version).await;
                let (status, mut text) = explain(m, &err, stale);
                if stale {
                    text = m.t("error-stale-form");
                }
                // A stale form keeps what was typed and now carries the version
                // read: saving again replaces the other change knowingly.
                let now = if stale {
                    account.membership.as_ref().map_or(version, |m| m.version)
                } else {
                    version
                };
                refuse(status, now, text)
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pasted_lines_take_three_shapes() {
        assert_eq!(pasted(" a@x.test "), ("a@x.test".into(), String::new()));
        assert_eq!(
            pasted("Ann Lee <ann@x.test>"),
            ("ann@x.test".into(), "Ann Lee".into())
        );
        assert_eq!(
            pasted("ann@x.test, Ann Lee"),
            ("ann@x.test".into(), "Ann Lee".into())
        );
    }

    #[test]
    fn limits_are_digits_or_nothing() {
        assert_eq!(spending_limit(""), Ok(None));
        assert_eq!(spending_limit(" 5000 "), Ok(Some(5000)));
        assert!(spending_limit("50.5").is_err());
        assert!(spending_limit("-1").is_err());
    }
}
