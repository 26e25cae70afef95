//! Onboarding: a prospect asks to trade as a business partner, staff
//! approve (organization, first administrator, invitation) or reject it;
//! staff also create organizations directly.

use super::{Rules, STORE, UserError, json, normalize_email, required};
use crate::model::{
    AccountStatus, AuditEntry, ChangeOp, Membership, Notification, NotificationKind,
    OnboardingRequest, OnboardingStatus, Organization, OrganizationStatus, Person,
};
use crate::ports::Directory;

impl<D: Directory> Rules<'_, D> {
    /// A prospect asks to trade as a business partner.
    pub fn submit_onboarding(
        &self,
        organization_name: &str,
        requester_name: &str,
        requester_email: &str,
    ) -> Result<OnboardingRequest, UserError> {
        let email = normalize_email(requester_email)?;
        let organization_name = required("organization name", organization_name)?;
        let requester_name = required("requester name", requester_name)?;
        if self.dir.pending_onboarding(&email)?.is_some() {
            return Err(UserError::Conflict(format!(
                "a request for `{email}` is already pending"
            )));
        }
        // A person who already belongs to organizations may ask for another
        // one: approving it makes them its administrator in a membership of
        // its own. Nothing here says whether the email is known.
        let request = OnboardingRequest {
            id: self.dir.new_id("onboarding")?,
            organization_name,
            requester_name,
            requester_email: email.clone(),
            status: OnboardingStatus::Pending,
            organization_id: None,
            submitted_at: self.dir.now(),
            version: 1,
        };
        let audit = AuditEntry {
            actor: format!("prospect:{email}"),
            action: "submitOnboarding".into(),
            target: format!("onboarding:{}", request.id),
            organization_id: None,
            before: String::new(),
            after: json(&request),
            policies: Vec::new(),
        };
        self.dir
            .apply(vec![ChangeOp::PutOnboarding(request.clone(), None)], audit)?;
        Ok(request)
    }

    fn pending(&self, id: &str) -> Result<OnboardingRequest, UserError> {
        let request = self
            .dir
            .onboarding(id)?
            .ok_or_else(|| UserError::NotFound(format!("onboarding request `{id}`")))?;
        if request.status != OnboardingStatus::Pending {
            return Err(UserError::Invalid(
                format!(
                    "onboarding request `{id}` is {:?}, not pending",
                    request.status
                )
                .to_lowercase(),
            ));
        }
        Ok(request)
    }

    /// Approves a request: organization, administrator, membership, notice.
    pub fn approve_onboarding(
        &self,
        actor: &str,
        id: &str,
    ) -> Result<OnboardingRequest, UserError> {
        let (policies, guards) =
            self.permit_fresh(actor, "approveOnboarding", &format!("onboarding:{id}"))?;
        let before = self.pending(id)?;
        let email = &before.requester_email;
        // A known person becomes the administrator of the new organization
        // in a membership of its own; their other memberships stay.
        let person = match self.dir.account_by_email(email)? {
            Some(account) => account.person,
            None => Person {
                id: self.dir.new_id("person")?,
                email: email.clone(),
                name: before.requester_name.clone(),
            },
        };
        let expected = None;
        let org = Organization {
            id: self.dir.new_id("organization")?,
            name: before.organization_name.clone(),
            status: OrganizationStatus::Approved,
            active_admins: 0,
        };
        let membership = Membership {
            organization_id: org.id.clone(),
            person_id: person.id.clone(),
            status: AccountStatus::Invited,
            previous_status: None,
            is_admin: true,
            roles: Vec::new(),
            spending_limit: None,
            invited_at: Some(self.dir.now()),
            version: expected.map_or(1, |v| v + 1),
        };
        let after = OnboardingRequest {
            status: OnboardingStatus::Approved,
            organization_id: Some(org.id.clone()),
            version: before.version + 1,
            ..before.clone()
        };
        let notice = Notification {
            kind: NotificationKind::Approval,
            recipient: email.clone(),
            params: vec![
                ("name".into(), person.name.clone()),
                ("organization".into(), org.name.clone()),
                ("organization_id".into(), org.id.clone()),
            ],
        };
        let audit = AuditEntry {
            actor: actor.to_string(),
            action: "approveOnboarding".into(),
            target: format!("onboarding:{id}"),
            organization_id: Some(org.id.clone()),
            before: json(&before),
            after: json(&(&after, &membership)),
            policies,
        };
        let mut ops = guards;
        let assign = assign_acting_staff(actor, &org.id);
        ops.extend([
            ChangeOp::PutOrganization(org),
            ChangeOp::PutPerson(person),
            ChangeOp::PutMembership(membership, expected),
            ChangeOp::PutOnboarding(after.clone(), Some(before.version)),
            ChangeOp::Queue(notice),
        ]);
        ops.extend(assign);
        self.dir.apply(ops, audit)?;
        Ok(after)
    }

    /// Rejects a request; only the requester is notified.
    pub fn reject_onboarding(
        &self,
        actor: &str,
        id: &str,
        reason: &str,
    ) -> Result<OnboardingRequest, UserError> {
        let (policies, mut ops) =
            self.permit_fresh(actor, "rejectOnboarding", &format!("onboarding:{id}"))?;
        let before = self.pending(id)?;
        let after = OnboardingRequest {
            status: OnboardingStatus::Rejected,
            version: before.version + 1,
            ..before.clone()
        };
        let notice = Notification {
            kind: NotificationKind::Rejection,
            recipient: before.requester_email.clone(),
            params: vec![
                ("name".into(), before.requester_name.clone()),
                ("organization".into(), before.organization_name.clone()),
                ("reason".into(), reason.trim().to_string()),
            ],
        };
        let audit = AuditEntry {
            actor: actor.to_string(),
            action: "rejectOnboarding".into(),
            target: format!("onboarding:{id}"),
            organization_id: None,
            before: json(&before),
            after: json(&after),
            policies,
        };
        ops.extend([
            ChangeOp::PutOnboarding(after.clone(), Some(before.version)),
            ChangeOp::Queue(notice),
        ]);
        self.dir.apply(ops, audit)?;
        Ok(after)
    }

    /// Lists onboarding requests (staff).
    pub fn list_onboarding(
        &self,
        actor: &str,
        status: Option<OnboardingStatus>,
    ) -> Result<Vec<OnboardingRequest>, UserError> {
        self.permit(actor, "listOnboarding", STORE)?;
        Ok(self.dir.list_onboarding(status)?)
    }

    /// Creates an approved organization (staff).
    pub fn create_organization(&self, actor: &str, name: &str) -> Result<Organization, UserError> {
        let name = required("organization name", name)?;
        let (policies, mut ops) = self.permit_fresh(actor, "createOrganization", STORE)?;
        let org = Organization {
            id: self.dir.new_id("organization")?,
            name,
            status: OrganizationStatus::Approved,
            active_admins: 0,
        };
        let audit = AuditEntry {
            actor: actor.to_string(),
            action: "createOrganization".into(),
            target: format!("organization:{}", org.id),
            organization_id: Some(org.id.clone()),
            before: String::new(),
            after: json(&org),
            policies,
        };
        ops.push(ChangeOp::PutOrganization(org.clone()));
        ops.extend(assign_acting_staff(actor, &org.id));
        self.dir.apply(ops, audit)?;
        Ok(org)
    }
}

/// The staff member who creates an organization (directly, or by approving
/// a request) is assigned to it, so that someone sees it in the back
/// office (as a company's sales representative is its creator by
/// default in other suites).
fn assign_acting_staff(actor: &str, organization_id: &str) -> Option<ChangeOp> {
    let (principal, _) = crate::access::split_actor(actor);
    principal
        .strip_prefix("staff:")
        .map(|id| ChangeOp::AssignStaff(id.to_string(), organization_id.to_string()))
}
