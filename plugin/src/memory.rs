//! Records held in memory, for native tests and the native benchmark
//! baseline: [`MemoryRecords`] answers decisions, [`MemoryDirectory`] is a
//! whole directory the lifecycle and sign-in rules can change.

use std::cell::RefCell;
use std::collections::HashMap;

use crate::access::{Records, Unavailable};
use crate::model::{
    Account, AccountStatus, AuditEntry, ChangeOp, Member, MemberQuery, Membership, Notification,
    OnboardingRequest, OnboardingStatus, Organization, Person, Staff,
};
use crate::users::{DirError, Directory};

/// Accounts, organizations and staff keyed by id.
#[derive(Clone, Debug, Default)]
pub struct MemoryRecords {
    /// Accounts by person id.
    pub accounts: HashMap<String, Account>,
    /// Organizations by id.
    pub organizations: HashMap<String, Organization>,
    /// Staff by id.
    pub staff: HashMap<String, Staff>,
}

impl Records for MemoryRecords {
    fn account(&self, person_id: &str) -> Result<Option<Account>, Unavailable> {
        Ok(self.accounts.get(person_id).cloned())
    }

    fn organization(&self, id: &str) -> Result<Option<Organization>, Unavailable> {
        Ok(self.organizations.get(id).cloned())
    }

    fn staff(&self, id: &str) -> Result<Option<Staff>, Unavailable> {
        Ok(self.staff.get(id).cloned())
    }
}

/// What a [`MemoryDirectory`] holds.
#[derive(Clone, Debug, Default)]
pub struct DirectoryState {
    /// People by id.
    pub people: HashMap<String, Person>,
    /// Memberships by (person id, organization id).
    pub memberships: HashMap<(String, String), Membership>,
    /// Organizations by id (`active_admins` is derived when read).
    pub organizations: HashMap<String, Organization>,
    /// Staff by id.
    pub staff: HashMap<String, Staff>,
    /// Person ids by (issuer, subject).
    pub links: HashMap<(String, String), String>,
    /// Staff ids by (issuer, subject), from staff providers.
    pub staff_links: HashMap<(String, String), String>,
    /// Onboarding requests by id.
    pub onboarding: HashMap<String, OnboardingRequest>,
    /// The audit trail, oldest first.
    pub audit: Vec<AuditEntry>,
    /// Queued notifications, oldest first.
    pub outbox: Vec<Notification>,
    /// Ids handed out so far.
    pub next_id: u64,
    /// The clock, in Unix seconds.
    pub now: u64,
}

/// A whole directory in memory with the same rules as the real backends:
/// version checks, unique emails and links, all-or-nothing changes. A
/// listing page is the matching memberships; an audit page the entries,
/// newest first.
#[derive(Debug, Default)]
pub struct MemoryDirectory {
    /// Everything, open to tests for set-up and inspection.
    pub state: RefCell<DirectoryState>,
}

impl DirectoryState {
    fn account(&self, person_id: &str) -> Option<Account> {
        let person = self.people.get(person_id)?.clone();
        let members = self
            .memberships
            .values()
            .filter(|m| m.person_id == person_id)
            .filter_map(|m| {
                Some(Member {
                    membership: m.clone(),
                    organization: self.organization(&m.organization_id)?,
                })
            })
            .collect();
        Some(Account::of_person(person, members))
    }

    fn organization(&self, id: &str) -> Option<Organization> {
        let mut org = self.organizations.get(id)?.clone();
        org.active_admins = self
            .memberships
            .values()
            .filter(|m| m.organization_id == id && m.is_admin && m.status == AccountStatus::Active)
            .count() as u32;
        Some(org)
    }

    fn apply(&mut self, op: ChangeOp) -> Result<(), DirError> {
        match op {
            ChangeOp::PutPerson(person) => {
                if self
                    .people
                    .values()
                    .any(|p| p.email == person.email && p.id != person.id)
                {
                    return Err(DirError::Duplicate(format!(
                        "`{}` belongs to another person",
                        person.email
                    )));
                }
                self.people.insert(person.id.clone(), person);
            }
            ChangeOp::PutOrganization(org) => {
                self.organizations.insert(org.id.clone(), org);
            }
            ChangeOp::PutMembership(membership, expected) => {
                let key = (
                    membership.person_id.clone(),
                    membership.organization_id.clone(),
                );
                let stored = self.memberships.get(&key).map(|m| m.version);
                if stored != expected {
                    return Err(DirError::Conflict(format!(
                        "membership of `{}` is at version {stored:?}, not {expected:?}",
                        membership.person_id
                    )));
                }
                let mut membership = membership;
                membership.version = expected.map_or(1, |v| v + 1);
                self.memberships.insert(key, membership);
            }
            ChangeOp::PutLink(issuer, subject, person) => {
                let key = (issuer, subject);
                if self.links.contains_key(&key) {
                    return Err(DirError::Duplicate("the identity is linked already".into()));
                }
                self.links.insert(key, person);
            }
            ChangeOp::PutStaffLink(issuer, subject, staff) => {
                let key = (issuer, subject);
                if self.staff_links.contains_key(&key) {
                    return Err(DirError::Duplicate("the identity is linked already".into()));
                }
                self.staff_links.insert(key, staff);
            }
            ChangeOp::ActivateStaff(id) => {
                let staff = self
                    .staff
                    .get_mut(&id)
                    .ok_or_else(|| DirError::NotFound(format!("staff `{id}`")))?;
                if staff.status != crate::model::StaffStatus::Invited {
                    return Err(DirError::Conflict(format!(
                        "staff `{id}` is no longer invited"
                    )));
                }
                staff.status = crate::model::StaffStatus::Active;
            }
            ChangeOp::PutOnboarding(request, expected) => {
                let stored = self.onboarding.get(&request.id).map(|r| r.version);
                if stored != expected {
                    return Err(DirError::Conflict(format!(
                        "onboarding request `{}` changed",
                        request.id
                    )));
                }
                self.onboarding.insert(request.id.clone(), request);
            }
            ChangeOp::Queue(notification) => self.outbox.push(notification),
            ChangeOp::ExpectMembership(person, org, version) => {
                let stored = self
                    .memberships
                    .get(&(person.clone(), org))
                    .map(|m| m.version);
                if stored != Some(version) {
                    return Err(DirError::Conflict(format!(
                        "membership of `{person}` changed since the decision"
                    )));
                }
            }
            ChangeOp::AssignStaff(id, org) => {
                if self.organization(&org).is_none() {
                    return Err(DirError::NotFound(format!("organization `{org}`")));
                }
                let staff = self
                    .staff
                    .get_mut(&id)
                    .ok_or_else(|| DirError::NotFound(format!("staff `{id}`")))?;
                if staff.status == crate::model::StaffStatus::Removed {
                    return Err(DirError::Conflict(format!("staff `{id}` was removed")));
                }
                if !staff.assigned_organizations.contains(&org) {
                    staff.assigned_organizations.push(org);
                    staff.assigned_organizations.sort();
                }
            }
            ChangeOp::UnassignStaff(id, org) => {
                let staff = self
                    .staff
                    .get_mut(&id)
                    .filter(|s| s.assigned_organizations.contains(&org))
                    .ok_or_else(|| {
                        DirError::NotFound(format!("staff `{id}` assigned to `{org}`"))
                    })?;
                staff.assigned_organizations.retain(|o| *o != org);
                if !self
                    .staff
                    .values()
                    .any(|s| s.assigned_organizations.contains(&org))
                {
                    return Err(DirError::Conflict(format!(
                        "`{id}` is the last staff member assigned to `{org}`"
                    )));
                }
            }
            ChangeOp::ExpectOrganizationStatus(org, status) => {
                let now = self.organization(&org).map(|o| o.status);
                if now != Some(status) {
                    return Err(DirError::Conflict(format!(
                        "the status of `{org}` changed since it was read"
                    )));
                }
            }
            ChangeOp::ExpectActiveAdmins(org, count) => {
                let now = self.organization(&org).map(|o| o.active_admins);
                if now != Some(count) {
                    return Err(DirError::Conflict(format!(
                        "the administrators of `{org}` changed since the decision"
                    )));
                }
            }
        }
        Ok(())
    }
}

impl Records for MemoryDirectory {
    fn account(&self, person_id: &str) -> Result<Option<Account>, Unavailable> {
        Ok(self.state.borrow().account(person_id))
    }

    fn organization(&self, id: &str) -> Result<Option<Organization>, Unavailable> {
        Ok(self.state.borrow().organization(id))
    }

    fn staff(&self, id: &str) -> Result<Option<Staff>, Unavailable> {
        Ok(self.state.borrow().staff.get(id).cloned())
    }
}

impl Directory for MemoryDirectory {
    type MemberPage = Vec<Membership>;
    type AuditPage = Vec<AuditEntry>;

    fn new_id(&self, kind: &str) -> Result<String, DirError> {
        let mut state = self.state.borrow_mut();
        state.next_id += 1;
        Ok(format!("{kind}-{}", state.next_id))
    }

    fn fresh_account(&self, person_id: &str) -> Result<Option<Account>, DirError> {
        Ok(self.state.borrow().account(person_id))
    }

    fn fresh_organization(&self, id: &str) -> Result<Option<Organization>, DirError> {
        Ok(self.state.borrow().organization(id))
    }

    fn fresh_staff(&self, id: &str) -> Result<Option<Staff>, DirError> {
        Ok(self.state.borrow().staff.get(id).cloned())
    }

    fn account_by_email(&self, email: &str) -> Result<Option<Account>, DirError> {
        let state = self.state.borrow();
        Ok(state
            .people
            .values()
            .find(|p| p.email == email)
            .and_then(|p| state.account(&p.id)))
    }

    fn find_link(&self, issuer: &str, subject: &str) -> Result<Option<String>, DirError> {
        Ok(self
            .state
            .borrow()
            .links
            .get(&(issuer.to_string(), subject.to_string()))
            .cloned())
    }

    fn staff_by_email(&self, email: &str) -> Result<Option<Staff>, DirError> {
        Ok(self
            .state
            .borrow()
            .staff
            .values()
            .find(|s| s.email.as_deref() == Some(email))
            .cloned())
    }

    fn organization_staff(&self, organization_id: &str) -> Result<Vec<Staff>, DirError> {
        let mut staff: Vec<Staff> = self
            .state
            .borrow()
            .staff
            .values()
            .filter(|s| {
                s.assigned_organizations
                    .iter()
                    .any(|o| o == organization_id)
            })
            .cloned()
            .collect();
        staff.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
        Ok(staff)
    }

    fn find_staff_link(&self, issuer: &str, subject: &str) -> Result<Option<String>, DirError> {
        Ok(self
            .state
            .borrow()
            .staff_links
            .get(&(issuer.to_string(), subject.to_string()))
            .cloned())
    }

    fn has_links(&self, person_id: &str) -> Result<bool, DirError> {
        Ok(self.state.borrow().links.values().any(|p| p == person_id))
    }

    fn onboarding(&self, id: &str) -> Result<Option<OnboardingRequest>, DirError> {
        Ok(self.state.borrow().onboarding.get(id).cloned())
    }

    fn pending_onboarding(&self, email: &str) -> Result<Option<OnboardingRequest>, DirError> {
        Ok(self
            .state
            .borrow()
            .onboarding
            .values()
            .find(|r| r.requester_email == email && r.status == OnboardingStatus::Pending)
            .cloned())
    }

    fn list_onboarding(
        &self,
        status: Option<OnboardingStatus>,
    ) -> Result<Vec<OnboardingRequest>, DirError> {
        let mut all: Vec<OnboardingRequest> = self
            .state
            .borrow()
            .onboarding
            .values()
            .filter(|r| status.is_none_or(|s| r.status == s))
            .cloned()
            .collect();
        all.sort_by_key(|r| std::cmp::Reverse(r.submitted_at));
        Ok(all)
    }

    fn list_members(&self, query: MemberQuery) -> Result<Vec<Membership>, DirError> {
        let mut page: Vec<Membership> = self
            .state
            .borrow()
            .memberships
            .values()
            .filter(|m| query.organizations.contains(&m.organization_id))
            .filter(|m| query.status.is_none_or(|s| m.status == s))
            .cloned()
            .collect();
        page.sort_by(|a, b| a.person_id.cmp(&b.person_id));
        page.truncate(query.limit as usize);
        Ok(page)
    }

    fn read_audit(
        &self,
        organization: Option<&str>,
        _cursor: Option<&str>,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, DirError> {
        Ok(self
            .state
            .borrow()
            .audit
            .iter()
            .rev()
            .filter(|e| organization.is_none_or(|o| e.organization_id.as_deref() == Some(o)))
            .take(limit as usize)
            .cloned()
            .collect())
    }

    fn apply(&self, ops: Vec<ChangeOp>, audit: AuditEntry) -> Result<(), DirError> {
        let mut state = self.state.borrow_mut();
        // All or nothing: change a copy, keep it only when every step held.
        let mut next = state.clone();
        for op in ops {
            next.apply(op)?;
        }
        next.audit.push(audit);
        *state = next;
        Ok(())
    }

    fn now(&self) -> u64 {
        self.state.borrow().now
    }
}
