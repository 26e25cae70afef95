//! Organizations in the back office: which ones a staff member sees,
//! blocking and unblocking them with a reason, and which staff members are
//! assigned to each.

use super::{Fresh, Rules, UserError, guards, json, normalize_email, required};
use crate::access;
use crate::model::{AuditEntry, ChangeOp, Organization, OrganizationStatus, Staff, StaffStatus};
use crate::ports::Directory;

impl<D: Directory> Rules<'_, D> {
    /// The organizations `actor` may see (`viewOrganization`), by name:
    /// among a staff member's assigned ones, those whose name contains
    /// `search` (case-insensitive). Nothing for anyone else, and nothing
    /// about an organization the policies do not let them see.
    pub fn list_organizations(
        &self,
        actor: &str,
        search: Option<&str>,
    ) -> Result<Vec<Organization>, UserError> {
        let candidates = match actor.strip_prefix("staff:") {
            Some(id) => self
                .dir
                .fresh_staff(id)?
                .map(|s| s.assigned_organizations)
                .unwrap_or_default(),
            None => Vec::new(),
        };
        let search = search
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_lowercase);
        let mut seen = Vec::new();
        for id in candidates {
            match self.permit(actor, "viewOrganization", &format!("organization:{id}")) {
                Ok(_) => {}
                Err(UserError::Denied(_)) => continue,
                Err(err) => return Err(err),
            }
            let Some(org) = self.dir.fresh_organization(&id)? else {
                continue;
            };
            if search
                .as_deref()
                .is_none_or(|s| org.name.to_lowercase().contains(s))
            {
                seen.push(org);
            }
        }
        seen.sort_by(|a, b| {
            a.name
                .to_lowercase()
                .cmp(&b.name.to_lowercase())
                .then(a.id.cmp(&b.id))
        });
        Ok(seen)
    }

    /// Blocks an approved organization (`blocked`), or unblocks a blocked
    /// one, with the reason (staff). Decided before the organization is
    /// read, so that someone the policies do not permit learns nothing about
    /// it. A block ends every member's session on their next request and
    /// stops their orders.
    pub fn set_organization_blocked(
        &self,
        actor: &str,
        organization_id: &str,
        blocked: bool,
        reason: &str,
    ) -> Result<Organization, UserError> {
        let reason = required("reason", reason)?;
        let action = if blocked {
            "blockOrganization"
        } else {
            "unblockOrganization"
        };
        let (policies, mut ops, before) = self.permit_staff_step(actor, action, organization_id)?;
        let target = format!("organization:{organization_id}");
        let (from, to) = if blocked {
            (OrganizationStatus::Approved, OrganizationStatus::Blocked)
        } else {
            (OrganizationStatus::Blocked, OrganizationStatus::Approved)
        };
        if before.status != from {
            return Err(UserError::Invalid(format!(
                "the organization is {}: only an {} organization can be {}",
                before.status.name(),
                from.name(),
                if blocked { "blocked" } else { "unblocked" }
            )));
        }
        let after = Organization {
            status: to,
            ..before.clone()
        };
        let mut recorded = serde_json::json!({ "status": to.name() });
        recorded["reason"] = reason.into();
        let audit = AuditEntry {
            actor: actor.to_string(),
            action: action.into(),
            target,
            organization_id: Some(organization_id.to_string()),
            before: json(&before),
            after: recorded.to_string(),
            policies,
        };
        // The status this step goes from must still be the stored one
        // when it commits (another staff member may have changed it).
        ops.push(ChangeOp::ExpectOrganizationStatus(
            organization_id.to_string(),
            from,
        ));
        ops.push(ChangeOp::PutOrganization(after.clone()));
        self.dir.apply(ops, audit)?;
        Ok(after)
    }

    /// The staff members assigned to an organization, by name. Decided
    /// (`viewOrganization`) before the organization is read.
    pub fn organization_staff(
        &self,
        actor: &str,
        organization_id: &str,
    ) -> Result<Vec<Staff>, UserError> {
        let target = format!("organization:{organization_id}");
        self.permit_before_details(
            self.dir,
            actor,
            "viewOrganization",
            &target,
            "viewOrganization",
        )?;
        if self.dir.fresh_organization(organization_id)?.is_none() {
            return Err(UserError::NotFound(format!(
                "organization `{organization_id}`"
            )));
        }
        Ok(self.dir.organization_staff(organization_id)?)
    }

    /// Assigns the staff member with `email` to the organization. Decided
    /// (`assignStaff`) before the organization or the colleague is read:
    /// someone the policies do not permit learns nothing about either.
    pub fn assign_staff(
        &self,
        actor: &str,
        organization_id: &str,
        email: &str,
    ) -> Result<Staff, UserError> {
        let email = normalize_email(email)?;
        let (policies, mut ops, _) =
            self.permit_staff_step(actor, "assignStaff", organization_id)?;
        let mut colleague = self.dir.staff_by_email(&email)?.ok_or_else(|| {
            UserError::NotFound(format!("no staff member has the email `{email}`"))
        })?;
        if colleague.status == StaffStatus::Removed {
            return Err(UserError::Invalid(format!(
                "`{}` was removed from the staff",
                colleague.name
            )));
        }
        if colleague
            .assigned_organizations
            .iter()
            .any(|o| o == organization_id)
        {
            return Err(UserError::Invalid(format!(
                "`{}` is assigned to this organization already",
                colleague.name
            )));
        }
        let audit = AuditEntry {
            actor: actor.to_string(),
            action: "assignStaff".into(),
            target: format!("staff:{}", colleague.id),
            organization_id: Some(organization_id.to_string()),
            before: String::new(),
            after: serde_json::json!({ "staff": colleague.id, "name": colleague.name }).to_string(),
            policies,
        };
        ops.push(ChangeOp::AssignStaff(
            colleague.id.clone(),
            organization_id.to_string(),
        ));
        self.dir.apply(ops, audit)?;
        colleague
            .assigned_organizations
            .push(organization_id.to_string());
        colleague.assigned_organizations.sort();
        Ok(colleague)
    }

    /// Withdraws a staff member's assignment to the organization; they see
    /// nothing of it on their next request. Decided (`unassignStaff`)
    /// before anything is read.
    pub fn unassign_staff(
        &self,
        actor: &str,
        organization_id: &str,
        staff_id: &str,
    ) -> Result<Staff, UserError> {
        let (policies, mut ops, _) =
            self.permit_staff_step(actor, "unassignStaff", organization_id)?;
        let mut colleague = self
            .dir
            .fresh_staff(staff_id)?
            .filter(|s| {
                s.assigned_organizations
                    .iter()
                    .any(|o| o == organization_id)
            })
            .ok_or_else(|| {
                UserError::NotFound(format!(
                    "staff `{staff_id}` is not assigned to this organization"
                ))
            })?;
        // Someone must still see the organization; the store holds this
        // against a concurrent withdrawal (`conflict`).
        if self.dir.organization_staff(organization_id)?.len() <= 1 {
            return Err(UserError::Invalid(format!(
                "`{}` is the last staff member assigned to this organization: assign a colleague first",
                colleague.name
            )));
        }
        let audit = AuditEntry {
            actor: actor.to_string(),
            action: "unassignStaff".into(),
            target: format!("staff:{}", colleague.id),
            organization_id: Some(organization_id.to_string()),
            before: serde_json::json!({ "staff": colleague.id, "name": colleague.name })
                .to_string(),
            after: String::new(),
            policies,
        };
        ops.push(ChangeOp::UnassignStaff(
            colleague.id.clone(),
            organization_id.to_string(),
        ));
        self.dir.apply(ops, audit)?;
        colleague
            .assigned_organizations
            .retain(|o| o != organization_id);
        Ok(colleague)
    }

    /// Decides a staff step (`action`) on the organization over fresh
    /// records before it is read (a denial says more than "not permitted"
    /// only to a staff member who may see it), then reads it: the deciding
    /// policies, the guards the change commits with, and the organization;
    /// `not-found` only after a permit.
    fn permit_staff_step(
        &self,
        actor: &str,
        action: &str,
        organization_id: &str,
    ) -> Result<(Vec<String>, Vec<ChangeOp>, Organization), UserError> {
        let target = format!("organization:{organization_id}");
        let fresh = Fresh(self.dir);
        let records = access::ReadOnce::new(&fresh);
        let policies =
            self.permit_before_details(&records, actor, action, &target, "viewOrganization")?;
        let ops = guards(&records, access::split_actor(actor).1);
        let organization = self
            .dir
            .fresh_organization(organization_id)?
            .ok_or_else(|| UserError::NotFound(format!("organization `{organization_id}`")))?;
        Ok((policies, ops, organization))
    }
}
