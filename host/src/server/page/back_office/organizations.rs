//! The organizations a staff member is assigned to: search, create, block
//! and unblock with a reason, and on each organization's own page the
//! staff assigned to it (assign a colleague, withdraw an assignment). The
//! plugin decides each step before it reads the organization: a staff
//! member the policies do not permit sees the same refusal whether it
//! exists or not.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use serde::Deserialize;

use super::staff::{NavLink, StaffSigned, forbidden};
use crate::error::Error;
use crate::model::{NewUser, Organization, OrganizationStatus, Staff};
use crate::server::page::respond::{Page, explain, failure, html, see_other};
use crate::server::page::views::Chrome;

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
    /// The create form, where the policies permit it (`createOrganization`),
    /// with the name typed and why it was refused.
    create: Option<CreateForm>,
}

/// The form creating an organization.
struct CreateForm {
    name: String,
    error: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct OrganizationsQuery {
    search: Option<String>,
    notice: Option<String>,
}

/// `GET <back office>/organizations`: the organizations the staff member
/// may see (their assigned ones), searched by name, each with the block or
/// unblock the policies permit.
pub(crate) async fn organizations(staff: StaffSigned, Query(q): Query<OrganizationsQuery>) -> Page {
    let notice = q.notice.as_deref().and_then(|n| match n {
        "blocked" | "unblocked" => Some(staff.m().t(&format!("back-office-{n}"))),
        _ => None,
    });
    let search = q.search.unwrap_or_default();
    render_organizations(&staff, &search, StatusCode::OK, notice, None, None, None).await
}

async fn render_organizations(
    staff: &StaffSigned,
    search: &str,
    code: StatusCode,
    notice: Option<String>,
    error: Option<String>,
    reason_error: Option<(String, String)>,
    create: Option<CreateForm>,
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
    let mut asks = asks;
    asks.push(("createOrganization", "store:main".into()));
    let mut allowed = staff
        .permitted(&asks)
        .await
        .map_err(|err| failure(page, m, &err))?;
    let may_create = allowed.pop().unwrap_or(false);
    let create = may_create.then(|| {
        create.unwrap_or(CreateForm {
            name: String::new(),
            error: None,
        })
    });
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
    let (chrome, nav) = staff
        .frame(
            "organizations",
            m.t("back-office-organizations"),
            notice,
            error,
        )
        .await?;
    Ok(html(
        code,
        OrganizationsPage {
            chrome,
            nav,
            search: search.to_string(),
            rows,
            create,
        },
    ))
}

/// `POST <back office>/organizations/{id}/{block|unblock}`: the step with
/// its reason, then the list with a notice; a refusal shows nothing about
/// the organization.
pub(crate) async fn block(
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
            None,
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
            render_organizations(&staff, "", code, None, Some(text), None, None).await
        }
    }
}

/// `POST <back office>/organizations`: creates an approved organization
/// (its creator is assigned to it), then its own page.
pub(crate) async fn create(staff: StaffSigned, body: Bytes) -> Page {
    let m = staff.m();
    let Some(fields) = staff.form(&body) else {
        return Ok(staff.expired_form());
    };
    let name = fields.get("name").trim().to_string();
    let refused = |error: String| CreateForm {
        name: name.clone(),
        error: Some(error),
    };
    if name.is_empty() || name.chars().count() > 200 {
        let error = m.t("back-office-name-required");
        let form = refused(error.clone());
        return render_organizations(
            &staff,
            "",
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            Some(error),
            None,
            Some(form),
        )
        .await;
    }
    match staff
        .state
        .gate
        .create_organization(&staff.actor(), &name)
        .await
    {
        Ok(org) => Ok(see_other(&format!(
            "{}/organizations/{}?notice=created",
            staff.page().back_office,
            org.id
        ))),
        Err(Error::Denied(_)) => Err(forbidden(&staff)),
        Err(err) => {
            let (code, text) = explain(m, &err, false);
            let form = refused(text.clone());
            render_organizations(&staff, "", code, None, Some(text), None, Some(form)).await
        }
    }
}

/// One assigned staff member on an organization's page.
struct StaffRow {
    id: String,
    name: String,
    email: String,
    status_label: String,
    /// The withdraw button's accessible name, where the policies permit it.
    unassign: Option<String>,
}

#[derive(Template)]
#[template(path = "page/organization.html")]
struct OrganizationPage<'a> {
    chrome: Chrome<'a>,
    nav: Vec<NavLink>,
    organization: Organization,
    status_label: String,
    staff: Vec<StaffRow>,
    /// The assign form (`assignStaff`), with the email typed and why it was
    /// refused.
    assign: Option<(String, Option<String>)>,
    /// The add-a-user form (`addUser`), where the policies permit it.
    add: Option<AddForm>,
    users_href: String,
}

/// The form adding a user to the organization: the fields typed, whether
/// the administrator box is offered (`designateAdmin`), and why the last
/// try was refused.
#[derive(Default)]
struct AddForm {
    email: String,
    name: String,
    is_admin: bool,
    may_designate: bool,
    error: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct OrganizationQuery {
    notice: Option<String>,
}

/// `GET <back office>/organizations/{id}`: the organization, the staff
/// assigned to it and the assign form, as the policies permit.
pub(crate) async fn organization(
    staff: StaffSigned,
    Path(id): Path<String>,
    Query(q): Query<OrganizationQuery>,
) -> Page {
    let notice = q.notice.as_deref().and_then(|n| match n {
        "created" | "assigned" | "unassigned" => Some(staff.m().t(&format!("back-office-{n}"))),
        _ => None,
    });
    render_organization(&staff, &id, StatusCode::OK, notice, None, Refused::None).await
}

/// A form of the organization's page that was refused, to show again with
/// what was typed.
enum Refused {
    None,
    Assign(String, String),
    Add(AddForm),
}

async fn render_organization(
    staff: &StaffSigned,
    id: &str,
    code: StatusCode,
    notice: Option<String>,
    error: Option<String>,
    refused: Refused,
) -> Page {
    let m = staff.m();
    let page = staff.page();
    let gate = &staff.state.gate;
    let actor = staff.actor();
    // Decided before the organization is read: a refusal here is the same
    // for one that does not exist.
    let assigned = match gate.organization_staff(&actor, id).await {
        Ok(assigned) => assigned,
        Err(Error::Denied(_) | Error::NotFound(_)) => return Err(forbidden(staff)),
        Err(err) => return Err(failure(page, m, &err)),
    };
    // The organization as the staff member may see it (`viewOrganization`).
    let Some(organization) = gate
        .list_organizations(&actor, None)
        .await
        .map_err(|err| failure(page, m, &err))?
        .into_iter()
        .find(|o| o.id == id)
    else {
        return Err(forbidden(staff));
    };
    let resource = format!("organization:{id}");
    let allowed = staff
        .permitted(&[
            ("assignStaff", resource.clone()),
            ("unassignStaff", resource.clone()),
            ("addUser", resource.clone()),
            ("designateAdmin", resource),
        ])
        .await
        .map_err(|err| failure(page, m, &err))?;
    let rows = assigned
        .into_iter()
        .map(|s: Staff| StaffRow {
            unassign: allowed[1].then(|| m.t1("back-office-unassign-label", "name", &s.name)),
            status_label: m.t(&format!("staff-status-{}", s.status.name())),
            email: s.email.unwrap_or_default(),
            id: s.id,
            name: s.name,
        })
        .collect();
    let (chrome, nav) = staff
        .frame("organizations", organization.name.clone(), notice, error)
        .await?;
    Ok(html(
        code,
        OrganizationPage {
            chrome,
            nav,
            status_label: m.t(&format!(
                "organization-status-{}",
                organization.status.name()
            )),
            users_href: format!(
                "{}/users?organization={}",
                page.back_office, organization.id
            ),
            organization,
            staff: rows,
            assign: allowed[0].then(|| match &refused {
                Refused::Assign(email, error) => (email.clone(), Some(error.clone())),
                _ => Default::default(),
            }),
            add: allowed[2].then(|| {
                let mut form = match refused {
                    Refused::Add(form) => form,
                    _ => AddForm::default(),
                };
                form.may_designate = allowed[3];
                form
            }),
        },
    ))
}

/// `POST <back office>/organizations/{id}/staff`: assigns the colleague
/// with the email given, then the organization's page.
pub(crate) async fn assign(staff: StaffSigned, Path(id): Path<String>, body: Bytes) -> Page {
    let m = staff.m();
    let Some(fields) = staff.form(&body) else {
        return Ok(staff.expired_form());
    };
    let email = fields.get("email").trim().to_string();
    let result = staff
        .state
        .gate
        .assign_staff(&staff.actor(), &id, &email)
        .await;
    match result {
        Ok(_) => Ok(see_other(&format!(
            "{}/organizations/{id}?notice=assigned",
            staff.page().back_office
        ))),
        Err(Error::Denied(_)) => Err(forbidden(&staff)),
        Err(err) => {
            let (code, text) = explain(m, &err, false);
            let form = Refused::Assign(email, text.clone());
            render_organization(&staff, &id, code, None, Some(text), form).await
        }
    }
}

/// `POST <back office>/organizations/{id}/staff/{staff}/unassign`:
/// withdraws the assignment, then the organization's page (or, for one's
/// own assignment, the list: the organization is no longer theirs to see).
pub(crate) async fn unassign(
    staff: StaffSigned,
    Path((id, colleague)): Path<(String, String)>,
    body: Bytes,
) -> Page {
    let m = staff.m();
    if staff.form(&body).is_none() {
        return Ok(staff.expired_form());
    }
    let result = staff
        .state
        .gate
        .unassign_staff(&staff.actor(), &id, &colleague)
        .await;
    let bo = &staff.page().back_office;
    match result {
        Ok(_) if staff.actor() == format!("staff:{colleague}") => {
            Ok(see_other(&format!("{bo}/organizations")))
        }
        Ok(_) => Ok(see_other(&format!(
            "{bo}/organizations/{id}?notice=unassigned"
        ))),
        Err(Error::Denied(_)) => Err(forbidden(&staff)),
        Err(err) => {
            let (code, text) = explain(m, &err, false);
            render_organization(&staff, &id, code, None, Some(text), Refused::None).await
        }
    }
}

/// `POST <back office>/organizations/{id}/users`: adds a user (invited,
/// the invitation queued), an administrator where the policies permit it;
/// then the organization's users. The plugin decides and checks the
/// fields; a refusal shows the form again with what was typed.
pub(crate) async fn add_user(staff: StaffSigned, Path(id): Path<String>, body: Bytes) -> Page {
    let m = staff.m();
    let Some(fields) = staff.form(&body) else {
        return Ok(staff.expired_form());
    };
    let form = AddForm {
        email: fields.get("email").trim().to_string(),
        name: fields.get("name").trim().to_string(),
        is_admin: fields.get("is_admin") == "yes",
        ..AddForm::default()
    };
    let user = NewUser {
        email: form.email.clone(),
        name: form.name.clone(),
        roles: Vec::new(),
        is_admin: form.is_admin,
        spending_limit: None,
    };
    match staff.state.gate.add_user(&staff.actor(), &id, user).await {
        Ok(_) => Ok(see_other(&format!(
            "{}/users?organization={id}&notice=added",
            staff.page().back_office
        ))),
        Err(Error::Denied(_)) if !form.is_admin => Err(forbidden(&staff)),
        Err(err) => {
            let (code, text) = explain(m, &err, false);
            let form = Refused::Add(AddForm {
                error: Some(text.clone()),
                ..form
            });
            render_organization(&staff, &id, code, None, Some(text), form).await
        }
    }
}
