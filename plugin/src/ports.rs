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

/// What the lifecycle needs from the directory beyond [`Records`] (which may
/// answer from a cache). Reads here are always fresh.
pub trait Directory: Records {
    /// A listing page, passed through untouched.
    type MemberPage;
    /// An audit page, passed through untouched.
    type AuditPage;

    /// A fresh id for a record of `kind`.
    fn new_id(&self, kind: &str) -> Result<String, DirError>;
    /// A person with membership and organization, read from the directory.
    fn fresh_account(&self, person_id: &str) -> Result<Option<crate::model::Account>, DirError>;
    /// The person with this (normalized) email.
    fn account_by_email(&self, email: &str) -> Result<Option<crate::model::Account>, DirError>;
    /// The person linked to (issuer, subject).
    fn find_link(&self, issuer: &str, subject: &str) -> Result<Option<String>, DirError>;
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
