//! Reading: listing and searching an organization's users, and the audit
//! trail, each permitted first.

use super::{Directory, STORE, UserError, UserQuery};
use crate::access::{self, AccessError};
use crate::model::{Decision, Effect};
use crate::ports::AuditEntries;
use crate::rules::Rules;

impl<D: Directory> Rules<'_, D> {
    /// Lists users the actor may see.
    pub fn list_users(&self, actor: &str, query: UserQuery) -> Result<D::MemberPage, UserError> {
        if !(1..=500).contains(&query.limit) {
            return Err(UserError::Invalid(format!(
                "limit must be 1 to 500, not {}",
                query.limit
            )));
        }
        let organizations = match &query.organizations {
            Some(id) => {
                let acting = self.acting(self.dir, actor, Some(id))?;
                self.permit_on_organization(self.dir, &acting.actor, "listUsers", id)?;
                self.organization(id)?;
                vec![id.clone()]
            }
            None => {
                let (actor, _) = access::split_actor(actor);
                let Some(("staff", staff_id)) = actor.split_once(':') else {
                    return Err(UserError::Invalid("name the organization to list".into()));
                };
                let staff = self
                    .dir
                    .staff(staff_id)?
                    .ok_or_else(|| UserError::NotFound(format!("staff `{staff_id}`")))?;
                let mut allowed = Vec::new();
                let mut last_denial = None;
                // One decision per organization, the staff record read and
                // its entity built once.
                let resources: Vec<String> = staff
                    .assigned_organizations
                    .iter()
                    .map(|org| format!("organization:{org}"))
                    .collect();
                let decided = access::decide_each(
                    self.loaded,
                    self.names,
                    &access::ReadOnce::new(self.dir),
                    actor,
                    "listUsers",
                    &resources,
                )
                .map_err(denied_or_unavailable)?;
                for (org, decision) in staff.assigned_organizations.into_iter().zip(decided) {
                    match decision.map_err(denied_or_unavailable) {
                        Ok(d) if d.effect == Effect::Allow => allowed.push(org),
                        Ok(d) | Err(UserError::Denied(d)) => last_denial = Some(d),
                        Err(other) => return Err(other),
                    }
                }
                if allowed.is_empty() {
                    return Err(UserError::Denied(last_denial.unwrap_or_else(|| {
                        Decision::deny_because(format!(
                            "staff `{staff_id}` has no organizations assigned"
                        ))
                    })));
                }
                allowed
            }
        };
        let mut query = query.over(organizations);
        query.search = query
            .search
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty());
        Ok(self.dir.list_members(query)?)
    }

    /// Reads an organization's audit trail, or all of it.
    pub fn read_audit(
        &self,
        actor: &str,
        organization: Option<&str>,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<D::AuditPage, UserError> {
        if !(1..=500).contains(&limit) {
            return Err(UserError::Invalid(format!(
                "limit must be 1 to 500, not {limit}"
            )));
        }
        match organization {
            Some(id) => {
                let acting = self.acting(self.dir, actor, Some(id))?;
                self.permit_on_organization(self.dir, &acting.actor, "viewAudit", id)?;
                self.organization(id)?;
            }
            None => {
                let principal = access::split_actor(actor).0;
                self.permit(principal, "viewAudit", STORE)?;
                // The whole trail, but for the entries of organizations the
                // actor may not see (`viewAudit` on each): staff assigned
                // elsewhere learn nothing of them.
                let mut page = self.dir.read_audit(None, cursor, limit)?;
                let mut decided: Vec<(String, bool)> = Vec::new();
                let mut failed = None;
                page.retain_organizations(|org| {
                    let Some(org) = org else { return true };
                    if let Some((_, seen)) = decided.iter().find(|(o, _)| o == org) {
                        return *seen;
                    }
                    let resource = format!("organization:{org}");
                    let seen = match self.permit(principal, "viewAudit", &resource) {
                        Ok(_) => true,
                        Err(UserError::Denied(_)) => false,
                        Err(err) => {
                            failed.get_or_insert(err);
                            false
                        }
                    };
                    decided.push((org.to_string(), seen));
                    seen
                });
                return match failed {
                    Some(err) => Err(err),
                    None => Ok(page),
                };
            }
        }
        Ok(self.dir.read_audit(organization, cursor, limit)?)
    }
}

/// A request the schema does not allow (a malformed actor) is a denial;
/// unreadable records are what they are.
pub(super) fn denied_or_unavailable(err: AccessError) -> UserError {
    match err {
        AccessError::InvalidRequest(m) => UserError::Denied(Decision::deny_because(m)),
        AccessError::Unavailable(u) => u.into(),
    }
}
