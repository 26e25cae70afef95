//! The customer directory the plugin reads and changes: customer records,
//! memberships, staff, identity links, onboarding requests, the audit log and
//! the notification outbox.
//!
//! One trait, one module per backend: [`sqlite`] (the embedded default, also
//! `:memory:` for tests) and [`postgres`] (several nodes); [`listing`] holds
//! what both mean by a cursor and a search; [`open`] picks the backend for a
//! `--database` value.

pub mod error;
pub mod listing;
mod open;
pub mod outbox;
pub mod postgres;
pub mod schema;
pub mod seed;
pub mod sqlite;

pub use error::DirectoryError;
pub use listing::AuditQuery;
pub use open::open;
pub use outbox::{Outbox, OutboxMessage};

use std::time::Duration;

use async_trait::async_trait;

use crate::model::{
    Account, AuditEntry, AuditPage, MemberPage, OnboardingRequest, OnboardingStatus, Organization,
    Staff,
};
use crate::model::{ChangeOp, MemberQuery};
pub use crate::touched::{ChangeFeed, Touched};

/// How long a change may take, waiting for locks included, when its caller
/// gives no budget (loading a seed, a staff record, a library caller's own
/// change): plugin calls give what is left of theirs.
pub const DEFAULT_CHANGE_BUDGET: Duration = Duration::from_secs(60);

/// The error of a change whose decision read a staff record that has
/// changed since.
pub fn staff_changed(id: &str) -> DirectoryError {
    DirectoryError::Conflict(format!(
        "the staff record of `{id}` changed since the decision: read it again"
    ))
}

/// The error of a change that did not commit within its budget.
pub fn over_budget(budget: Duration) -> DirectoryError {
    DirectoryError::Unavailable(format!(
        "the directory did not commit the change within {budget:?} (another change held it): nothing changed; try again"
    ))
}

/// A customer directory backend. Its outbox ([`Outbox`]), the notifications
/// a change queued in the same transaction, is a trait of its own.
#[async_trait]
pub trait Directory: Outbox {
    /// What this backend is, for logs: "SQLite at /var/lib/partnergate.db".
    fn summary(&self) -> String;

    /// A fresh unique id for a record of `kind`.
    async fn new_id(&self, kind: &str) -> Result<String, DirectoryError>;
    /// A person with membership, organization and its active admin count.
    async fn get_account(&self, person_id: &str) -> Result<Option<Account>, DirectoryError>;
    /// The person with this email (trimmed, case-insensitive).
    async fn find_account_by_email(&self, email: &str) -> Result<Option<Account>, DirectoryError>;
    /// An organization with its active admin count.
    async fn get_organization(&self, id: &str) -> Result<Option<Organization>, DirectoryError>;
    /// A merchant staff member.
    async fn get_staff(&self, id: &str) -> Result<Option<Staff>, DirectoryError>;
    /// Stores a staff record (staff are managed outside the plugin), with
    /// its entry in the change log.
    async fn put_staff(&self, staff: &Staff) -> Result<(), DirectoryError>;
    /// Whether the directory holds no organizations and no people.
    async fn is_empty(&self) -> Result<bool, DirectoryError>;
    /// The person an external identity is linked to.
    async fn find_link(
        &self,
        issuer: &str,
        subject: &str,
    ) -> Result<Option<String>, DirectoryError>;
    /// The staff member linked to an identity from a staff provider.
    async fn find_staff_link(
        &self,
        issuer: &str,
        subject: &str,
    ) -> Result<Option<String>, DirectoryError>;
    /// The staff member with this email (trimmed, case-insensitive).
    async fn find_staff_by_email(&self, email: &str) -> Result<Option<Staff>, DirectoryError>;
    /// The staff members assigned to an organization, by name then id.
    async fn list_organization_staff(
        &self,
        organization_id: &str,
    ) -> Result<Vec<Staff>, DirectoryError>;
    /// The identities linked to a person.
    async fn list_links(&self, person_id: &str) -> Result<Vec<(String, String)>, DirectoryError>;
    /// An onboarding request.
    async fn get_onboarding(&self, id: &str) -> Result<Option<OnboardingRequest>, DirectoryError>;
    /// Onboarding requests, newest first.
    async fn list_onboarding(
        &self,
        status: Option<OnboardingStatus>,
    ) -> Result<Vec<OnboardingRequest>, DirectoryError>;
    /// The pending request for an email.
    async fn find_pending_onboarding(
        &self,
        email: &str,
    ) -> Result<Option<OnboardingRequest>, DirectoryError>;
    /// A page of members.
    async fn list_members(&self, query: MemberQuery) -> Result<MemberPage, DirectoryError>;
    /// A page of the audit trail, newest first.
    async fn read_audit(&self, query: AuditQuery) -> Result<AuditPage, DirectoryError>;
    /// Applies every op and stores the audit entry, atomically, within the
    /// default budget ([`DEFAULT_CHANGE_BUDGET`]).
    async fn apply(&self, ops: Vec<ChangeOp>, audit: AuditEntry) -> Result<(), DirectoryError> {
        self.apply_within(ops, audit, &[], DEFAULT_CHANGE_BUDGET)
            .await
    }
    /// Applies every op and stores the audit entry, atomically, and writes
    /// the records the ops touch into the change log in the same
    /// transaction. Each of `staff` (the staff records the decision read)
    /// must still be stored as it was, or the change fails with `Conflict`.
    /// Either the change commits within `budget` (waiting for locks
    /// included) or it rolls back and `Unavailable` says that nothing
    /// changed: never a commit after the caller was told it failed.
    async fn apply_within(
        &self,
        ops: Vec<ChangeOp>,
        audit: AuditEntry,
        staff: &[Staff],
        budget: Duration,
    ) -> Result<(), DirectoryError>;
    /// The change log after position `after` (at most `limit` entries): what
    /// every change committed since touched, and the log's head.
    async fn changes_since(&self, after: u64, limit: u32) -> Result<ChangeFeed, DirectoryError>;
}
