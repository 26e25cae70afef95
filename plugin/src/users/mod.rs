//! The organization-user lifecycle: add, edit, remove, revoke,
//! reinstate, re-invite, bulk, list and audit. Each step is decided by Cedar
//! before anything changes, and each change commits with its audit entry and
//! notifications in one directory transaction. Deciding before a change is
//! in `permit`, listing and the audit trail in `listing`, onboarding (a
//! prospect's request, its approval) in `onboarding`.

mod error;
mod listing;
mod onboarding;
mod organizations;
mod permit;
#[cfg(test)]
pub(crate) mod tests;
mod view;

pub use error::UserError;
use permit::{Acting, Fresh, SEE_USER, guards, permit_with};

use crate::access::{self, Records};
use crate::model::{
    AccountStatus, AuditEntry, ChangeOp, Membership, Notification, NotificationKind, Organization,
    Person,
};
pub use crate::ports::{DirError, Directory};
use crate::rules::Rules;

/// Seconds an invited user must wait between two invitations.
pub const REINVITE_INTERVAL_SECS: u64 = 300;

/// The resource user-management decisions about the whole store use.
const STORE: &str = "store:merchant";

/// Most items one bulk call takes.
pub const BULK_MAX: usize = 1000;

pub use crate::model::{BulkAction, NewUser, Target, UserChanges, UserQuery, UserSteps, UserView};

/// The membership revoked: from invited or active.
fn revoked(m: &Membership) -> Result<Membership, UserError> {
    match m.status {
        AccountStatus::Invited | AccountStatus::Active => Ok(Membership {
            status: AccountStatus::Revoked,
            previous_status: Some(m.status),
            ..m.clone()
        }),
        other => Err(UserError::Invalid(format!(
            "only invited or active users can be revoked; this one is {}",
            other.name()
        ))),
    }
}

/// The membership reinstated to its status before the revocation.
fn reinstated(m: &Membership) -> Result<Membership, UserError> {
    match m.status {
        AccountStatus::Revoked => Ok(Membership {
            status: m
                .previous_status
                .filter(|s| *s != AccountStatus::Revoked)
                .unwrap_or(AccountStatus::Active),
            previous_status: None,
            ..m.clone()
        }),
        other => Err(UserError::Invalid(format!(
            "only revoked users can be reinstated; this one is {}",
            other.name()
        ))),
    }
}

/// The membership ended.
fn removed(m: &Membership) -> Result<Membership, UserError> {
    match m.status {
        AccountStatus::Removed => Err(UserError::Invalid("the user is removed already".into())),
        _ => Ok(Membership {
            status: AccountStatus::Removed,
            previous_status: None,
            ..m.clone()
        }),
    }
}

/// The membership invited again at `now`: invited users only, at most once
/// per [`REINVITE_INTERVAL_SECS`].
fn reinvited(m: &Membership, now: u64) -> Result<Membership, UserError> {
    if m.status != AccountStatus::Invited {
        return Err(UserError::Invalid(format!(
            "only invited users can be re-invited; this one is {}",
            m.status.name()
        )));
    }
    if let Some(at) = m.invited_at {
        let next = at.saturating_add(REINVITE_INTERVAL_SECS);
        if now < next {
            return Err(UserError::RateLimited(next - now));
        }
    }
    Ok(Membership {
        invited_at: Some(now),
        ..m.clone()
    })
}

/// Whether the email of the user with membership `m` may change: only
/// while invited and with no identity linked (`linked` is asked only then),
/// since sign-in knows them by it afterwards.
fn email_change(
    m: &Membership,
    linked: impl FnOnce() -> Result<bool, DirError>,
) -> Result<(), UserError> {
    if m.status != AccountStatus::Invited {
        return Err(UserError::Invalid(format!(
            "the email of a user who is {} cannot change: sign-in knows them by it; remove the user and add them again",
            m.status.name()
        )));
    }
    if linked()? {
        return Err(UserError::Invalid(
            "the user's email is in use for sign-in and can never be edited here: remove the user and add them again".into(),
        ));
    }
    Ok(())
}

/// Trims and lower-cases an email and checks its shape.
pub fn normalize_email(email: &str) -> Result<String, UserError> {
    let email = email.trim().to_lowercase();
    let valid = email.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty()
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains('@')
    }) && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email.len() <= 254;
    if valid {
        Ok(email)
    } else {
        Err(UserError::Invalid(format!(
            "`{}` is not a valid email address",
            email
        )))
    }
}

fn required(what: &str, value: &str) -> Result<String, UserError> {
    let value = value.trim();
    if value.is_empty() || value.len() > 200 {
        return Err(UserError::Invalid(format!(
            "{what} must be 1 to 200 characters"
        )));
    }
    Ok(value.to_string())
}

/// The largest spending limit: Cedar's `Long` and the directories store
/// signed 64-bit integers.
pub const MAX_SPENDING_LIMIT: u64 = i64::MAX as u64;

fn spending_limit(limit: Option<u64>) -> Result<Option<u64>, UserError> {
    match limit {
        Some(l) if l > MAX_SPENDING_LIMIT => Err(UserError::Invalid(format!(
            "the spending limit must be at most {MAX_SPENDING_LIMIT}"
        ))),
        other => Ok(other),
    }
}

/// Refuses an empty bulk call or one over [`BULK_MAX`] items.
fn bulk_size(what: &str, len: usize) -> Result<(), UserError> {
    if (1..=BULK_MAX).contains(&len) {
        Ok(())
    } else {
        Err(UserError::Invalid(format!(
            "a bulk call takes 1 to {BULK_MAX} {what}, not {len}: split it"
        )))
    }
}

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// The lifecycle rules.
impl<D: Directory> Rules<'_, D> {
    fn organization(&self, id: &str) -> Result<Organization, UserError> {
        self.dir
            .organization(id)?
            .ok_or_else(|| UserError::NotFound(format!("organization `{id}`")))
    }

    /// Whether a person's email is no longer theirs to change from the
    /// organization `account` acts in: an identity is linked to it, or
    /// another organization knows them by it too.
    fn elsewhere_or_linked(&self, account: &crate::model::Account) -> Result<bool, DirError> {
        let elsewhere = account.memberships.iter().any(|m| {
            account
                .membership
                .as_ref()
                .is_none_or(|acted| acted.organization_id != m.organization.id)
                && m.membership.status != AccountStatus::Removed
        });
        Ok(elsewhere || self.dir.has_links(&account.person.id)?)
    }

    /// The target's account and membership, checked against the version
    /// read. Call it only once the actor is permitted to act on the target.
    fn target(
        &self,
        records: &impl Records,
        target: &Target,
        organization: Option<&str>,
    ) -> Result<(crate::model::Account, Membership), UserError> {
        let account = records
            .account(&target.person_id)?
            .ok_or_else(|| UserError::NotFound(format!("user `{}`", target.person_id)))?;
        let account = account.into_acting_for(organization);
        let membership = account
            .membership
            .clone()
            .ok_or_else(|| match organization {
                Some(_) => UserError::NotFound(format!(
                    "user `{}` is not a member of this organization",
                    target.person_id
                )),
                None if account.memberships.len() > 1 => UserError::Invalid(format!(
                    "user `{}` is a member of several organizations: name the organization",
                    target.person_id
                )),
                None => UserError::NotFound(format!(
                    "user `{}` is not a member of any organization",
                    target.person_id
                )),
            })?;
        if membership.version != target.version {
            return Err(UserError::Conflict(format!(
                "user `{}` changed since it was read (version {} now, {} read): read it again",
                target.person_id, membership.version, target.version
            )));
        }
        Ok((account, membership))
    }

    fn invitation(&self, email: &str, name: &str, org: &Organization) -> Notification {
        Notification {
            kind: NotificationKind::Invitation,
            recipient: email.to_string(),
            params: vec![
                ("name".into(), name.to_string()),
                ("organization".into(), org.name.clone()),
                ("organization_id".into(), org.id.clone()),
            ],
        }
    }

    /// Adds a user with status `invited` and queues the invitation.
    pub fn add_user(
        &self,
        actor: &str,
        organization_id: &str,
        user: NewUser,
    ) -> Result<Membership, UserError> {
        let org_ref = format!("organization:{organization_id}");
        // Decided over records read fresh; what they said becomes the
        // change's guards, so an administrator revoked meanwhile adds no one.
        let fresh = Fresh(self.dir);
        let records = access::ReadOnce::new(&fresh);
        let Acting {
            actor, principal, ..
        } = self.acting(&records, actor, Some(organization_id))?;
        let actor = actor.as_str();
        let mut policies =
            self.permit_on_organization(&records, actor, "addUser", organization_id)?;
        if user.is_admin {
            policies.extend(permit_with(
                self.loaded,
                self.names,
                &records,
                actor,
                "designateAdmin",
                &org_ref,
            )?);
        }
        let email = normalize_email(&user.email)?;
        let name = required("name", &user.name)?;
        let org = self.organization(organization_id)?;
        let existing = self.dir.account_by_email(&email)?;
        let (person, before, expected) = match existing {
            Some(account) => {
                let here = account
                    .member_of(organization_id)
                    .map(|m| m.membership.clone());
                if here
                    .as_ref()
                    .is_some_and(|m| m.status != AccountStatus::Removed)
                {
                    return Err(UserError::Conflict(format!(
                        "`{email}` is already a member of this organization"
                    )));
                }
                // A person known elsewhere is invited into this organization
                // too: a membership of its own. Their record stays as it is
                // (the name is theirs in their other organizations), and
                // nothing about those is said.
                let elsewhere = account.memberships.iter().any(|m| {
                    m.organization.id != organization_id
                        && m.membership.status != AccountStatus::Removed
                });
                let person = if elsewhere {
                    account.person
                } else {
                    Person {
                        name: name.clone(),
                        ..account.person
                    }
                };
                (person, here.as_ref().map(json), here.map(|m| m.version))
            }
            None => (
                Person {
                    id: self.dir.new_id("person")?,
                    email: email.clone(),
                    name: name.clone(),
                },
                None,
                None,
            ),
        };
        let membership = Membership {
            organization_id: organization_id.to_string(),
            person_id: person.id.clone(),
            status: AccountStatus::Invited,
            previous_status: None,
            is_admin: user.is_admin,
            roles: user.roles,
            spending_limit: spending_limit(user.spending_limit)?,
            invited_at: Some(self.dir.now()),
            version: expected.map_or(1, |v| v + 1),
        };
        let audit = AuditEntry {
            actor: principal,
            action: "addUser".into(),
            target: format!("customer:{}", person.id),
            organization_id: Some(organization_id.to_string()),
            before: before.unwrap_or_default(),
            after: json(&membership),
            policies,
        };
        let mut ops = guards(&records, Some(organization_id));
        ops.extend([
            ChangeOp::PutPerson(person),
            ChangeOp::PutMembership(membership.clone(), expected),
            ChangeOp::Queue(self.invitation(&email, &name, &org)),
        ]);
        self.dir.apply(ops, audit)?;
        Ok(membership)
    }

    /// Edits a user.
    pub fn edit_user(
        &self,
        actor: &str,
        target: &Target,
        changes: UserChanges,
    ) -> Result<Membership, UserError> {
        let resource = format!("customer:{}", target.person_id);
        let fresh = Fresh(self.dir);
        let records = access::ReadOnce::new(&fresh);
        let acting = self.acting(&records, actor, target.organization_id.as_deref())?;
        let actor = acting.actor.as_str();
        let mut policies = self.permit_on_user(&records, actor, "editUser", &target.person_id)?;
        let (account, before) = self.target(&records, target, acting.organization.as_deref())?;
        let mut after = before.clone();
        let mut person = account.person.clone();
        if let Some(admin) = changes.is_admin
            && admin != before.is_admin
        {
            policies.extend(permit_with(
                self.loaded,
                self.names,
                &records,
                actor,
                if admin {
                    "designateAdmin"
                } else {
                    "demoteAdmin"
                },
                &resource,
            )?);
            after.is_admin = admin;
        }
        if let Some(name) = changes.name {
            person.name = required("name", &name)?;
        }
        if let Some(email) = changes.email {
            let email = normalize_email(&email)?;
            if email != person.email {
                email_change(&before, || self.elsewhere_or_linked(&account))?;
                if self.dir.account_by_email(&email)?.is_some() {
                    return Err(UserError::Conflict(format!(
                        "`{email}` belongs to another person"
                    )));
                }
                person.email = email;
            }
        }
        if let Some(roles) = changes.roles {
            after.roles = roles;
        }
        if let Some(limit) = changes.spending_limit {
            after.spending_limit = spending_limit(limit)?;
        }
        after.version = before.version + 1;
        let mut ops = guards(&records, Some(&before.organization_id));
        if person != account.person {
            ops.push(ChangeOp::PutPerson(person.clone()));
        }
        ops.push(ChangeOp::PutMembership(after.clone(), Some(before.version)));
        let audit = AuditEntry {
            actor: acting.principal,
            action: "editUser".into(),
            target: resource,
            organization_id: Some(before.organization_id.clone()),
            before: json(&(&account.person, &before)),
            after: json(&(&person, &after)),
            policies,
        };
        self.dir.apply(ops, audit)?;
        Ok(after)
    }

    fn transition(
        &self,
        actor: &str,
        target: &Target,
        action: &str,
        next: impl FnOnce(&Membership) -> Result<Membership, UserError>,
        notify: bool,
    ) -> Result<Membership, UserError> {
        let resource = format!("customer:{}", target.person_id);
        let fresh = Fresh(self.dir);
        let records = access::ReadOnce::new(&fresh);
        let acting = self.acting(&records, actor, target.organization_id.as_deref())?;
        let policies = self.permit_on_user(&records, &acting.actor, action, &target.person_id)?;
        let (account, before) = self.target(&records, target, acting.organization.as_deref())?;
        let mut after = next(&before)?;
        after.version = before.version + 1;
        let mut ops = guards(&records, Some(&before.organization_id));
        ops.push(ChangeOp::PutMembership(after.clone(), Some(before.version)));
        if notify {
            let org = self.organization(&before.organization_id)?;
            ops.push(ChangeOp::Queue(self.invitation(
                &account.person.email,
                &account.person.name,
                &org,
            )));
        }
        let audit = AuditEntry {
            actor: acting.principal,
            action: action.to_string(),
            target: resource,
            organization_id: Some(before.organization_id.clone()),
            before: json(&before),
            after: json(&after),
            policies,
        };
        self.dir.apply(ops, audit)?;
        Ok(after)
    }

    /// Revokes a user's access.
    pub fn revoke_user(&self, actor: &str, target: &Target) -> Result<Membership, UserError> {
        self.transition(actor, target, "revokeUser", revoked, false)
    }

    /// Restores a revoked user's previous status.
    pub fn reinstate_user(&self, actor: &str, target: &Target) -> Result<Membership, UserError> {
        self.transition(actor, target, "reinstateUser", reinstated, false)
    }

    /// Ends a user's membership.
    pub fn remove_user(&self, actor: &str, target: &Target) -> Result<Membership, UserError> {
        self.transition(actor, target, "removeUser", removed, false)
    }

    /// Sends an invitation again, at most once per [`REINVITE_INTERVAL_SECS`].
    pub fn reinvite_user(&self, actor: &str, target: &Target) -> Result<Membership, UserError> {
        let now = self.dir.now();
        self.transition(actor, target, "reinviteUser", |m| reinvited(m, now), true)
    }

    /// Adds many users (1 to [`BULK_MAX`]); one result each, in order.
    pub fn bulk_add(
        &self,
        actor: &str,
        organization_id: &str,
        users: Vec<NewUser>,
    ) -> Result<Vec<Result<Membership, UserError>>, UserError> {
        bulk_size("users", users.len())?;
        Ok(users
            .into_iter()
            .map(|user| self.add_user(actor, organization_id, user))
            .collect())
    }

    /// Changes many users (1 to [`BULK_MAX`]); one result each, in order.
    pub fn bulk_change(
        &self,
        actor: &str,
        action: BulkAction,
        targets: &[Target],
    ) -> Result<Vec<Result<Membership, UserError>>, UserError> {
        bulk_size("targets", targets.len())?;
        Ok(targets
            .iter()
            .map(|target| match action {
                BulkAction::Revoke => self.revoke_user(actor, target),
                BulkAction::Reinstate => self.reinstate_user(actor, target),
                BulkAction::Remove => self.remove_user(actor, target),
                BulkAction::Reinvite => self.reinvite_user(actor, target),
            })
            .collect())
    }
}
