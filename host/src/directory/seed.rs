//! A directory described in JSON, to start a directory with records: the
//! sample data beside the default policies (`policies/directory.json`), policy
//! tests and benchmarks use it.

use std::path::Path;

use serde::Deserialize;

use super::{Directory, DirectoryError};
use crate::model::AuditEntry;
use crate::model::ChangeOp;
use crate::model::{AccountStatus, Membership, Organization, Person, Staff, StaffStatus};

/// The JSON document: every list optional.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Seed {
    /// Organization records.
    pub organizations: Vec<SeedOrganization>,
    /// Person records, each with memberships: one in the single-organization
    /// form (`organization`, `status`, ...), any number in `memberships`.
    pub people: Vec<SeedPerson>,
    /// Merchant staff.
    pub staff: Vec<SeedStaff>,
    /// Identity links.
    pub links: Vec<SeedLink>,
}

/// An organization.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedOrganization {
    /// Id.
    pub id: String,
    /// Company name.
    pub name: String,
    /// `pending`, `approved`, `rejected` or `blocked`.
    pub status: String,
}

/// A person and their membership.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedPerson {
    /// Id.
    pub id: String,
    /// Email.
    pub email: String,
    /// Name.
    pub name: String,
    /// The organization id, if a member.
    pub organization: Option<String>,
    /// `invited`, `active`, `revoked` or `removed`; default `active`.
    pub status: Option<String>,
    /// Administers the organization.
    #[serde(default)]
    pub admin: bool,
    /// Roles.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Spending limit in minor units.
    pub spending_limit: Option<u64>,
    /// Memberships in several organizations, instead of (or beside) the
    /// single-organization fields above.
    #[serde(default)]
    pub memberships: Vec<SeedMembership>,
}

/// One membership of a person, in the `memberships` form.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedMembership {
    /// The organization id.
    pub organization: String,
    /// `invited`, `active`, `revoked` or `removed`; default `active`.
    pub status: Option<String>,
    /// Administers the organization.
    #[serde(default)]
    pub admin: bool,
    /// Roles.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Spending limit in minor units.
    pub spending_limit: Option<u64>,
}

/// A staff member.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedStaff {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Assigned organization ids.
    #[serde(default)]
    pub organizations: Vec<String>,
    /// The email a staff provider's first sign-in is matched on.
    pub email: Option<String>,
    /// `invited`, `active` or `removed`; by default `invited` when an email
    /// is given (the staff member signs in to become active), else
    /// `active` (staff acting only through the API).
    pub status: Option<StaffStatus>,
}

/// An identity link.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedLink {
    /// Issuer URL.
    pub issuer: String,
    /// Subject.
    pub subject: String,
    /// Person id.
    pub person: String,
}

/// Why a seed could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// The file could not be read.
    #[error("cannot read directory seed `{path}`: {source}")]
    Read {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The JSON is malformed or has an unknown field or value.
    #[error("directory seed `{path}`: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong, with line and column.
        message: String,
    },
}

impl Seed {
    /// Reads a seed file.
    pub fn from_file(path: &Path) -> Result<Self, SeedError> {
        let text = std::fs::read_to_string(path).map_err(|source| SeedError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_json(&text).map_err(|message| SeedError::Invalid {
            path: path.display().to_string(),
            message,
        })
    }

    /// Parses a seed document.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let seed: Self = serde_json::from_str(text).map_err(|e| e.to_string())?;
        seed.ops()?;
        Ok(seed)
    }

    /// The directory changes that create these records.
    pub fn ops(&self) -> Result<Vec<ChangeOp>, String> {
        // An actor names the organization it acts in after `@`
        // (`customer:bob@acme`), so no id may hold one.
        let ids = self
            .organizations
            .iter()
            .map(|o| ("organization", &o.id))
            .chain(self.people.iter().map(|p| ("person", &p.id)))
            .chain(self.staff.iter().map(|s| ("staff", &s.id)));
        for (kind, id) in ids {
            if id.is_empty() || id.contains('@') || id.chars().any(char::is_whitespace) {
                return Err(format!(
                    "{kind} id `{id}` must be non-empty, without `@` or spaces"
                ));
            }
        }
        let mut ops = Vec::new();
        for o in &self.organizations {
            ops.push(ChangeOp::PutOrganization(Organization {
                id: o.id.clone(),
                name: o.name.clone(),
                // A seed file with an unknown name is refused, with the names there are.
                status: o
                    .status
                    .parse()
                    .map_err(|e: crate::model::UnknownName| e.to_string())?,
                active_admins: 0,
            }));
        }
        for p in &self.people {
            ops.push(ChangeOp::PutPerson(Person {
                id: p.id.clone(),
                email: p.email.clone(),
                name: p.name.clone(),
            }));
            let single = p.organization.as_ref().map(|org| SeedMembership {
                organization: org.clone(),
                status: p.status.clone(),
                admin: p.admin,
                roles: p.roles.clone(),
                spending_limit: p.spending_limit,
            });
            if single.is_none()
                && (p.status.is_some()
                    || p.admin
                    || !p.roles.is_empty()
                    || p.spending_limit.is_some())
            {
                return Err(format!(
                    "person `{}` has membership fields but no `organization`: name it, or use `memberships`",
                    p.id
                ));
            }
            let mut seen = std::collections::HashSet::new();
            for m in single.iter().chain(&p.memberships) {
                let org = &m.organization;
                if !self.organizations.iter().any(|o| &o.id == org) {
                    return Err(format!(
                        "person `{}` names unknown organization `{org}`",
                        p.id
                    ));
                }
                if !seen.insert(org) {
                    return Err(format!(
                        "person `{}` has two memberships in organization `{org}`",
                        p.id
                    ));
                }
                let status: AccountStatus = m
                    .status
                    .as_deref()
                    .unwrap_or("active")
                    .parse()
                    .map_err(|e: crate::model::UnknownName| e.to_string())?;
                ops.push(ChangeOp::PutMembership(
                    Membership {
                        organization_id: org.clone(),
                        person_id: p.id.clone(),
                        status,
                        previous_status: None,
                        is_admin: m.admin,
                        roles: m.roles.clone(),
                        spending_limit: m.spending_limit,
                        invited_at: None,
                        version: 1,
                    },
                    None,
                ));
            }
        }
        for l in &self.links {
            ops.push(ChangeOp::PutLink(
                l.issuer.clone(),
                l.subject.clone(),
                l.person.clone(),
            ));
        }
        Ok(ops)
    }

    /// The staff records (staff are not changed through the plugin, so they
    /// are not ops).
    pub fn staff(&self) -> Vec<Staff> {
        self.staff
            .iter()
            .map(|s| Staff {
                id: s.id.clone(),
                name: s.name.clone(),
                assigned_organizations: s.organizations.clone(),
                email: s.email.as_ref().map(|e| e.trim().to_lowercase()),
                status: s.status.unwrap_or(if s.email.is_some() {
                    StaffStatus::Invited
                } else {
                    StaffStatus::Active
                }),
            })
            .collect()
    }

    /// Loads the seed's records into `dir` in one transaction.
    pub async fn load_into(&self, dir: &dyn Directory) -> Result<(), DirectoryError> {
        let ops = self.ops().map_err(DirectoryError::Internal)?;
        dir.apply(ops, Self::audit()).await?;
        for staff in self.staff() {
            dir.put_staff(&staff).await?;
        }
        Ok(())
    }

    /// The audit entry recorded for seeding.
    pub fn audit() -> AuditEntry {
        AuditEntry {
            actor: "system:seed".into(),
            action: "seed".into(),
            target: "directory".into(),
            organization_id: None,
            before: String::new(),
            after: String::new(),
            policies: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn memberships(json: &str) -> Result<Vec<(String, String, AccountStatus, bool)>, String> {
        Ok(Seed::from_json(json)?
            .ops()?
            .into_iter()
            .filter_map(|op| match op {
                ChangeOp::PutMembership(m, _) => {
                    Some((m.person_id, m.organization_id, m.status, m.is_admin))
                }
                _ => None,
            })
            .collect())
    }

    const ORGS: &str = r#""organizations": [
        {"id": "a", "name": "A", "status": "approved"},
        {"id": "b", "name": "B", "status": "approved"}]"#;

    #[test]
    fn a_person_takes_memberships_in_both_forms() {
        let seed = format!(
            r#"{{{ORGS}, "people": [
              {{"id": "p", "email": "p@x.test", "name": "P", "organization": "a", "admin": true,
                "memberships": [{{"organization": "b", "status": "invited"}}]}},
              {{"id": "q", "email": "q@x.test", "name": "Q"}}]}}"#
        );
        assert_eq!(
            memberships(&seed).unwrap(),
            [
                ("p".into(), "a".into(), AccountStatus::Active, true),
                ("p".into(), "b".into(), AccountStatus::Invited, false),
            ]
        );
    }

    #[test]
    fn a_seed_with_a_doubled_membership_or_an_id_with_an_at_is_refused() {
        let twice = format!(
            r#"{{{ORGS}, "people": [{{"id": "p", "email": "p@x.test", "name": "P", "organization": "a",
                "memberships": [{{"organization": "a"}}]}}]}}"#
        );
        assert!(
            memberships(&twice)
                .unwrap_err()
                .contains("two memberships in organization `a`")
        );
        let at =
            format!(r#"{{{ORGS}, "people": [{{"id": "p@a", "email": "p@x.test", "name": "P"}}]}}"#);
        assert!(memberships(&at).unwrap_err().contains("without `@`"));
        let loose = format!(
            r#"{{{ORGS}, "people": [{{"id": "p", "email": "p@x.test", "name": "P", "admin": true}}]}}"#
        );
        assert!(
            memberships(&loose)
                .unwrap_err()
                .contains("no `organization`")
        );
        let unknown = format!(
            r#"{{{ORGS}, "people": [{{"id": "p", "email": "p@x.test", "name": "P",
                "memberships": [{{"organization": "z"}}]}}]}}"#
        );
        assert!(
            memberships(&unknown)
                .unwrap_err()
                .contains("unknown organization `z`")
        );
    }
}
