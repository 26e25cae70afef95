//! Deciding before a change: every lifecycle step is permitted over records
//! read fresh from the directory, a denial reveals nothing about a target
//! the actor may not see, and what the decision read becomes the change's
//! guards.

use super::Directory;
use super::error::UserError;
use crate::access::{self, AccessError, Names, Records, Unavailable};
use crate::model::{ChangeOp, Decision, Effect, Organization};

/// Who acts, in which organization: `customer:bob@acme`, `staff:sam@acme`,
/// or an actor as given when the organization is not known (a staff member
/// acting on a person's only membership).
pub(super) struct Acting {
    /// The actor reference with the organization, for decisions.
    pub(super) actor: String,
    /// The principal alone, for the audit trail.
    pub(super) principal: String,
    /// The organization acted in.
    pub(super) organization: Option<String>,
}
use crate::policy_set::LoadedPolicies;
use crate::rules::Rules;

/// The action whose permit lets an actor learn a user's details (existence,
/// status, version) from a refused operation.
pub(super) const SEE_USER: &str = "viewUser";

/// The action whose permit lets an actor learn an organization's details
/// (existence, status) from a refused operation.
pub(super) const SEE_ORGANIZATION: &str = "listUsers";

/// Decides with `records` and turns a denial into [`UserError::Denied`].
pub(super) fn permit_with(
    loaded: &LoadedPolicies,
    names: &Names,
    records: &impl Records,
    actor: &str,
    action: &str,
    resource: &str,
) -> Result<Vec<String>, UserError> {
    let (principal, organization) = access::split_actor(actor);
    let request = access::Request {
        principal,
        action,
        resource,
        context: "",
        organization,
    };
    match access::authorize(loaded, names, records, &request) {
        Ok(decision) if decision.effect == Effect::Allow => Ok(decision.policies),
        Ok(decision) => Err(UserError::Denied(decision)),
        // The schema does not let this principal take this action at all
        // (a customer deciding onboarding, a malformed actor): a denial.
        Err(AccessError::InvalidRequest(m)) => Err(UserError::Denied(Decision::deny_because(m))),
        Err(AccessError::Unavailable(u)) => Err(u.into()),
    }
}

/// Records read fresh from the directory, never from a cache: the decisions
/// a change acts on are made over these, and [`guards`] makes the change
/// commit only while they still hold.
pub(super) struct Fresh<'a, D>(pub(super) &'a D);

impl<D: Directory> Records for Fresh<'_, D> {
    fn account(&self, person_id: &str) -> Result<Option<crate::model::Account>, Unavailable> {
        self.0
            .fresh_account(person_id)
            .map_err(|e| Unavailable(format!("{e:?}")))
    }

    fn organization(&self, id: &str) -> Result<Option<Organization>, Unavailable> {
        self.0
            .fresh_organization(id)
            .map_err(|e| Unavailable(format!("{e:?}")))
    }

    fn staff(&self, id: &str) -> Result<Option<crate::model::Staff>, Unavailable> {
        self.0
            .fresh_staff(id)
            .map_err(|e| Unavailable(format!("{e:?}")))
    }
}

/// What the decisions over `records` depended on, as guards the directory
/// checks inside the change's transaction: each membership read is still at
/// its version, and each organization still has the active administrators
/// counted. Two administrators revoking each other at once can no longer
/// both commit: the second finds the first's change and fails with
/// `conflict`, to be decided again.
pub(super) fn guards<R: Records>(
    records: &access::ReadOnce<'_, R>,
    organization: Option<&str>,
) -> Vec<ChangeOp> {
    let mut ops = Vec::new();
    let mut organizations = Vec::new();
    for account in records.accounts_read() {
        // The memberships the decisions were made on: in the organization
        // acted in (the person's only one when none is named).
        let account = account.into_acting_for(organization);
        if let Some(m) = &account.membership {
            ops.push(ChangeOp::ExpectMembership(
                m.person_id.clone(),
                m.organization_id.clone(),
                m.version,
            ));
        }
        if let Some(o) = account.organization
            && !organizations.iter().any(|(id, _)| *id == o.id)
        {
            organizations.push((o.id, o.active_admins));
        }
    }
    ops.extend(
        organizations
            .into_iter()
            .map(|(id, count)| ChangeOp::ExpectActiveAdmins(id, count)),
    );
    ops
}

impl<D: Directory> Rules<'_, D> {
    /// Who acts, and in which organization. `about` is the organization the
    /// operation is in (the target membership's, the listing's, the one a
    /// user is added to) when the caller named it. An actor pinned to an
    /// organization (`customer:bob@acme`: a session's active one) is
    /// refused for an operation in another, whatever rights they hold
    /// there; a customer who names none acts in their only membership.
    pub(super) fn acting(
        &self,
        records: &impl Records,
        actor: &str,
        about: Option<&str>,
    ) -> Result<Acting, UserError> {
        let (principal, pinned) = access::split_actor(actor);
        let organization = match (pinned, about) {
            (Some(pinned), Some(about)) if pinned != about => {
                return Err(UserError::Denied(Decision::deny_because(format!(
                    "`{principal}` acts for another organization now: switch to the organization first"
                ))));
            }
            (Some(pinned), _) => Some(pinned.to_string()),
            (None, Some(about)) => Some(about.to_string()),
            (None, None) => match principal.strip_prefix("customer:") {
                Some(person) => records
                    .account(person)?
                    .and_then(|a| a.membership)
                    .map(|m| m.organization_id),
                None => None,
            },
        };
        Ok(Acting {
            actor: match &organization {
                Some(o) => format!("{principal}@{o}"),
                None => principal.to_string(),
            },
            principal: principal.to_string(),
            organization,
        })
    }

    /// Decides a change over records read fresh, and gives the deciding
    /// policies with the guards the change must commit with.
    pub(super) fn permit_fresh(
        &self,
        actor: &str,
        action: &str,
        resource: &str,
    ) -> Result<(Vec<String>, Vec<ChangeOp>), UserError> {
        let fresh = Fresh(self.dir);
        let records = access::ReadOnce::new(&fresh);
        let policies = permit_with(self.loaded, self.names, &records, actor, action, resource)?;
        Ok((policies, guards(&records, access::split_actor(actor).1)))
    }

    /// Decides and turns a denial into [`UserError::Denied`].
    pub(super) fn permit(
        &self,
        actor: &str,
        action: &str,
        resource: &str,
    ) -> Result<Vec<String>, UserError> {
        permit_with(self.loaded, self.names, self.dir, actor, action, resource)
    }

    /// Decides `action` on `resource` before anything about the resource is
    /// looked at. A denial tells more than "not permitted" only to an actor
    /// the policies let `see` the resource: anyone else gets the same answer
    /// whether the resource exists or not, whatever its status or version
    /// (the deciding policies of `see`, no evaluation errors, since those
    /// name attributes of the resource).
    pub(super) fn permit_before_details(
        &self,
        records: &impl Records,
        actor: &str,
        action: &str,
        resource: &str,
        see: &str,
    ) -> Result<Vec<String>, UserError> {
        let permit =
            |action: &str| permit_with(self.loaded, self.names, records, actor, action, resource);
        let denied = match permit(action) {
            Err(UserError::Denied(decision)) => decision,
            other => return other,
        };
        let seen = if action == see {
            Err(UserError::Denied(denied.clone()))
        } else {
            permit(see)
        };
        match seen {
            Ok(_) => Err(UserError::Denied(denied)),
            Err(UserError::Denied(hidden)) => Err(UserError::Denied(Decision {
                effect: Effect::Deny,
                policies: hidden.policies,
                errors: Vec::new(),
            })),
            Err(other) => Err(other),
        }
    }

    /// Decides `action` on a user, over `records`, revealing nothing to an
    /// actor who may not see the user ([`Self::permit_before_details`]).
    pub(super) fn permit_on_user(
        &self,
        records: &impl Records,
        actor: &str,
        action: &str,
        person_id: &str,
    ) -> Result<Vec<String>, UserError> {
        self.permit_before_details(
            records,
            actor,
            action,
            &format!("customer:{person_id}"),
            SEE_USER,
        )
    }

    /// Decides `action` on an organization over `records`, revealing
    /// nothing to an actor who may not list its users
    /// ([`Self::permit_before_details`]).
    pub(super) fn permit_on_organization(
        &self,
        records: &impl Records,
        actor: &str,
        action: &str,
        organization_id: &str,
    ) -> Result<Vec<String>, UserError> {
        self.permit_before_details(
            records,
            actor,
            action,
            &format!("organization:{organization_id}"),
            SEE_ORGANIZATION,
        )
    }
}
