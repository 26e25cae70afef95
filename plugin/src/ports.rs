//! The ports of the rules: what they need from the outside world, as
//! traits. The component implements them over the host's imports
//! (`component.rs`); native tests and benchmarks over memory (`memory.rs`).

use crate::model::{
    Account, AuditEntry, ChangeOp, MemberQuery, OnboardingRequest, OnboardingStatus, Organization,
    Staff,
};

/// Where the rules read records from. The component reads the host's cache
/// and directory; native tests and benchmarks read memory.
pub trait Records {
    /// A person with membership and organization; `None` when unknown.
    fn account(&self, person_id: &str) -> Result<Option<Account>, Unavailable>;
    /// An organization; `None` when unknown.
    fn organization(&self, id: &str) -> Result<Option<Organization>, Unavailable>;
    /// A staff member; `None` when unknown.
    fn staff(&self, id: &str) -> Result<Option<Staff>, Unavailable>;

    /// The records of one decision, one or two, each with its stamp; a
    /// record whose stamp is still the `known` one comes back
    /// [`Found::Unchanged`] and is not copied. The component asks the host
    /// for both in one call; this default reads each and stamps it here.
    fn read(
        &self,
        first: Lookup<'_>,
        second: Option<Lookup<'_>>,
    ) -> Result<(Found, Option<Found>), Unavailable> {
        let one = |lookup: Lookup<'_>| -> Result<Found, Unavailable> {
            let found = match lookup.key {
                Key::Account(id) => self.account(id)?.map(Found::account),
                Key::Organization(id) => self.organization(id)?.map(Found::organization),
                Key::Staff(id) => self.staff(id)?.map(Found::staff),
            };
            Ok(match found {
                None => Found::Missing,
                Some(found) if found.stamp().is_some() && found.stamp() == lookup.known => {
                    Found::Unchanged
                }
                Some(found) => found,
            })
        };
        Ok((one(first)?, second.map(one).transpose()?))
    }
}

/// Which record a decision reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Key<'a> {
    /// A person with membership and organization, by person id.
    Account(&'a str),
    /// An organization, by id.
    Organization(&'a str),
    /// A staff member, by id.
    Staff(&'a str),
}

/// One record to read, and the stamp of the copy the caller holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lookup<'a> {
    /// The record.
    pub key: Key<'a>,
    /// The stamp of the caller's copy, if it has one.
    pub known: Option<u64>,
}

/// What a [`Lookup`] found. A stamp changes whenever anything in its record
/// does; equal stamps mean equal records.
#[derive(Clone, Debug, PartialEq)]
pub enum Found {
    /// The caller's copy is current.
    Unchanged,
    /// No such record.
    Missing,
    /// An account and its stamp.
    Account(u64, Account),
    /// An organization and its stamp.
    Organization(u64, Organization),
    /// A staff member and its stamp.
    Staff(u64, Staff),
}

impl Found {
    /// An account, stamped with the hash of its content.
    pub fn account(account: Account) -> Self {
        Self::Account(stamp(&account), account)
    }

    /// An organization, stamped with the hash of its content.
    pub fn organization(organization: Organization) -> Self {
        Self::Organization(stamp(&organization), organization)
    }

    /// A staff member, stamped with the hash of its content.
    pub fn staff(staff: Staff) -> Self {
        Self::Staff(stamp(&staff), staff)
    }

    /// The record's stamp, if a record came back.
    pub fn stamp(&self) -> Option<u64> {
        match self {
            Self::Unchanged | Self::Missing => None,
            Self::Account(s, _) | Self::Organization(s, _) | Self::Staff(s, _) => Some(*s),
        }
    }
}

/// A record's stamp where nothing outside this process sees it (native
/// tests and benches): its hash. The host stamps with a key of its own.
fn stamp(record: &impl std::hash::Hash) -> u64 {
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
    BuildHasherDefault::<DefaultHasher>::default().hash_one(record)
}

/// The records could not be read.
#[derive(Clone, Debug, thiserror::Error)]
#[error("records unavailable: {0}")]
pub struct Unavailable(pub String);

/// Why a directory call failed.
#[derive(Clone, Debug, PartialEq)]
pub enum DirError {
    /// Version mismatch.
    Conflict(String),
    /// Missing record.
    NotFound(String),
    /// Uniqueness violated.
    Duplicate(String),
    /// Malformed input (a cursor the directory did not issue).
    Invalid(String),
    /// Backend down.
    Unavailable(String),
}

/// An audit page the rules filter: the entries of an organization the
/// actor may not see are left out.
pub trait AuditEntries {
    /// Keeps the entries whose organization (`None`: the store's own)
    /// `keep` says yes to, in order.
    fn retain_organizations(&mut self, keep: impl FnMut(Option<&str>) -> bool);
}

impl AuditEntries for Vec<crate::model::AuditEntry> {
    fn retain_organizations(&mut self, mut keep: impl FnMut(Option<&str>) -> bool) {
        self.retain(|e| keep(e.organization_id.as_deref()));
    }
}

/// What the lifecycle needs from the directory beyond [`Records`] (which may
/// answer from a cache). Reads here are always fresh.
pub trait Directory: Records {
    /// A listing page, passed through untouched.
    type MemberPage;
    /// An audit page, passed through but for the entries the actor may not
    /// see.
    type AuditPage: AuditEntries;

    /// A fresh id for a record of `kind`.
    fn new_id(&self, kind: &str) -> Result<String, DirError>;
    /// A person with membership and organization, read from the directory.
    fn fresh_account(&self, person_id: &str) -> Result<Option<crate::model::Account>, DirError>;
    /// An organization, read from the directory (never from a cache).
    fn fresh_organization(&self, id: &str) -> Result<Option<crate::model::Organization>, DirError>;
    /// A staff member, read from the directory (never from a cache).
    fn fresh_staff(&self, id: &str) -> Result<Option<crate::model::Staff>, DirError>;
    /// The person with this (normalized) email.
    fn account_by_email(&self, email: &str) -> Result<Option<crate::model::Account>, DirError>;
    /// The person linked to (issuer, subject).
    fn find_link(&self, issuer: &str, subject: &str) -> Result<Option<String>, DirError>;
    /// The staff member with this (normalized) email, from the directory.
    fn staff_by_email(&self, email: &str) -> Result<Option<crate::model::Staff>, DirError>;
    /// The staff members assigned to an organization, by name, from the
    /// directory.
    fn organization_staff(
        &self,
        organization_id: &str,
    ) -> Result<Vec<crate::model::Staff>, DirError>;
    /// The staff member linked to (issuer, subject) by a staff provider.
    fn find_staff_link(&self, issuer: &str, subject: &str) -> Result<Option<String>, DirError>;
    /// Whether any external identity is linked to the person.
    fn has_links(&self, person_id: &str) -> Result<bool, DirError>;
    /// An onboarding request.
    fn onboarding(&self, id: &str) -> Result<Option<OnboardingRequest>, DirError>;
    /// The pending request for an email.
    fn pending_onboarding(&self, email: &str) -> Result<Option<OnboardingRequest>, DirError>;
    /// Requests, newest first.
    fn list_onboarding(
        &self,
        status: Option<OnboardingStatus>,
    ) -> Result<Vec<OnboardingRequest>, DirError>;
    /// A page of members.
    fn list_members(&self, query: MemberQuery) -> Result<Self::MemberPage, DirError>;
    /// A page of the audit trail.
    fn read_audit(
        &self,
        organization: Option<&str>,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Self::AuditPage, DirError>;
    /// Commits ops and audit entry atomically.
    fn apply(&self, ops: Vec<ChangeOp>, audit: AuditEntry) -> Result<(), DirError>;
    /// Now, in Unix seconds.
    fn now(&self) -> u64;
}
