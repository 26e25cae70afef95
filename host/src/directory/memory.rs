//! A directory held in memory: the embedded default until a database is
//! configured, and the backend of policy tests and benchmarks.

use std::collections::HashMap;
use std::sync::RwLock;

use async_trait::async_trait;

use super::seed::Seed;
use super::{Directory, DirectoryError};
use crate::bindings::directory::{AuditEntry, ChangeOp};
use crate::bindings::types::{Account, AccountStatus, Membership, Organization, Person, Staff};

#[derive(Default)]
struct State {
    people: HashMap<String, Person>,
    organizations: HashMap<String, Organization>,
    memberships: HashMap<String, Membership>,
    staff: HashMap<String, Staff>,
    links: HashMap<(String, String), String>,
    audit: Vec<AuditEntry>,
}

impl State {
    fn active_admins(&self, org_id: &str) -> u32 {
        self.memberships
            .values()
            .filter(|m| m.organization_id == org_id && m.is_admin && m.status == AccountStatus::Active)
            .count() as u32
    }

    fn organization(&self, id: &str) -> Option<Organization> {
        self.organizations.get(id).map(|o| Organization { active_admins: self.active_admins(id), ..o.clone() })
    }

    /// Checks one op against the state as it would be after the earlier ops.
    fn apply(&mut self, op: ChangeOp) -> Result<(), DirectoryError> {
        match op {
            ChangeOp::PutPerson(p) => {
                self.people.insert(p.id.clone(), p);
            }
            ChangeOp::PutOrganization(o) => {
                self.organizations.insert(o.id.clone(), o);
            }
            ChangeOp::PutMembership((mut m, expected)) => {
                if !self.people.contains_key(&m.person_id) {
                    return Err(DirectoryError::NotFound(format!("person `{}`", m.person_id)));
                }
                if !self.organizations.contains_key(&m.organization_id) {
                    return Err(DirectoryError::NotFound(format!("organization `{}`", m.organization_id)));
                }
                let current = self.memberships.get(&m.person_id).map(|c| c.version);
                if current != expected {
                    return Err(DirectoryError::Conflict(format!(
                        "membership of `{}` is at version {current:?}, the change expected {expected:?}",
                        m.person_id
                    )));
                }
                m.version = current.map_or(1, |v| v + 1);
                self.memberships.insert(m.person_id.clone(), m);
            }
            ChangeOp::LinkIdentity((issuer, subject, person)) => {
                if !self.people.contains_key(&person) {
                    return Err(DirectoryError::NotFound(format!("person `{person}`")));
                }
                let key = (issuer, subject);
                if self.links.contains_key(&key) {
                    return Err(DirectoryError::Duplicate(format!("identity `{}` at `{}` is linked already", key.1, key.0)));
                }
                self.links.insert(key, person);
            }
        }
        Ok(())
    }
}

/// An in-memory [`Directory`].
#[derive(Default)]
pub struct MemoryDirectory {
    state: RwLock<State>,
}

impl MemoryDirectory {
    /// An empty directory.
    pub fn new() -> Self {
        Self::default()
    }

    /// A directory holding a seed's records.
    pub fn from_seed(seed: &Seed) -> Result<Self, DirectoryError> {
        let dir = Self::new();
        let ops = seed.ops().map_err(DirectoryError::Internal)?;
        {
            let mut state = dir.state.write().expect("directory lock");
            for op in ops {
                state.apply(op)?;
            }
            for s in seed.staff() {
                state.staff.insert(s.id.clone(), s);
            }
        }
        Ok(dir)
    }

    /// The audit entries recorded so far, oldest first.
    pub fn audit(&self) -> Vec<AuditEntry> {
        self.state.read().expect("directory lock").audit.clone()
    }
}

#[async_trait]
impl Directory for MemoryDirectory {
    fn summary(&self) -> String {
        let state = self.state.read().expect("directory lock");
        format!(
            "in-memory directory ({} organizations, {} people, {} staff)",
            state.organizations.len(),
            state.people.len(),
            state.staff.len()
        )
    }

    async fn get_account(&self, person_id: &str) -> Result<Option<Account>, DirectoryError> {
        let state = self.state.read().expect("directory lock");
        let Some(person) = state.people.get(person_id) else { return Ok(None) };
        let membership = state.memberships.get(person_id).cloned();
        let organization = membership.as_ref().and_then(|m| state.organization(&m.organization_id));
        Ok(Some(Account { person: person.clone(), membership, organization }))
    }

    async fn get_organization(&self, id: &str) -> Result<Option<Organization>, DirectoryError> {
        Ok(self.state.read().expect("directory lock").organization(id))
    }

    async fn get_staff(&self, id: &str) -> Result<Option<Staff>, DirectoryError> {
        Ok(self.state.read().expect("directory lock").staff.get(id).cloned())
    }

    async fn find_link(&self, issuer: &str, subject: &str) -> Result<Option<String>, DirectoryError> {
        let state = self.state.read().expect("directory lock");
        Ok(state.links.get(&(issuer.to_string(), subject.to_string())).cloned())
    }

    async fn apply(&self, ops: Vec<ChangeOp>, audit: AuditEntry) -> Result<(), DirectoryError> {
        let mut state = self.state.write().expect("directory lock");
        // Work on a copy so that a failing op leaves nothing behind.
        let mut next = State {
            people: state.people.clone(),
            organizations: state.organizations.clone(),
            memberships: state.memberships.clone(),
            staff: HashMap::new(),
            links: state.links.clone(),
            audit: Vec::new(),
        };
        for op in ops {
            next.apply(op)?;
        }
        state.people = next.people;
        state.organizations = next.organizations;
        state.memberships = next.memberships;
        state.links = next.links;
        state.audit.push(audit);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed() -> Seed {
        Seed::from_json(
            r#"{"organizations": [{"id": "a", "name": "A", "status": "approved"}],
                "people": [{"id": "p", "email": "p@a.test", "name": "P", "organization": "a", "admin": true}]}"#,
        )
        .unwrap()
    }

    #[tokio::test]
    async fn failed_change_leaves_nothing_behind() {
        let dir = MemoryDirectory::from_seed(&seed()).unwrap();
        let person = Person { id: "q".into(), email: "q@a.test".into(), name: "Q".into() };
        let stale = dir.get_account("p").await.unwrap().unwrap().membership.unwrap();
        let err = dir
            .apply(
                vec![ChangeOp::PutPerson(person), ChangeOp::PutMembership((stale, Some(7)))],
                Seed::audit(),
            )
            .await
            .unwrap_err();
        assert!(matches!(err, DirectoryError::Conflict(_)), "{err}");
        assert!(dir.get_account("q").await.unwrap().is_none());
        assert!(dir.audit().is_empty());
    }

    #[tokio::test]
    async fn account_carries_the_active_admin_count() {
        let dir = MemoryDirectory::from_seed(&seed()).unwrap();
        let account = dir.get_account("p").await.unwrap().unwrap();
        assert_eq!(account.organization.unwrap().active_admins, 1);
    }

    #[test]
    fn seed_with_unknown_status_is_refused() {
        let err = Seed::from_json(r#"{"organizations": [{"id": "a", "name": "A", "status": "fine"}]}"#).unwrap_err();
        assert!(err.contains("`fine`"), "{err}");
    }
}
