//! Organizations in the back office: which ones a staff member sees, and
//! blocking and unblocking them with a reason.

use super::{Fresh, Rules, UserError, guards, json, required};
use crate::access;
use crate::model::{AuditEntry, ChangeOp, Organization, OrganizationStatus};
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
        let search = search.map(str::trim).filter(|s| !s.is_empty()).map(str::to_lowercase);
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
        seen.sort_by(|a, b| a.name.to_lowercase().cmp(&b.name.to_lowercase()).then(a.id.cmp(&b.id)));
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
        let target = format!("organization:{organization_id}");
        // Decided on fresh records; a denial says more than "not
        // permitted" only to a staff member who may see the organization.
        let fresh = Fresh(self.dir);
        let records = access::ReadOnce::new(&fresh);
        let policies =
            self.permit_before_details(&records, actor, action, &target, "viewOrganization")?;
        let mut ops = guards(&records, access::split_actor(actor).1);
        let before = self
            .dir
            .fresh_organization(organization_id)?
            .ok_or_else(|| UserError::NotFound(format!("organization `{organization_id}`")))?;
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
}
