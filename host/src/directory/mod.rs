//! The customer directory the plugin reads and changes: customer records,
//! memberships, staff and identity links.
//!
//! One trait, one module per backend: [`memory`] (for embedding, tests and
//! benchmarks) and, as organization users land, `sqlite`.

pub mod memory;
pub mod seed;

use async_trait::async_trait;

use crate::bindings::directory::{AuditEntry, ChangeOp};
use crate::bindings::types::{Account, Organization, Staff};

/// Why a directory call failed.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    /// The stored version differs from the one the change expected.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The change names a record that does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// The change would break a uniqueness rule.
    #[error("duplicate: {0}")]
    Duplicate(String),
    /// The backend cannot be reached.
    #[error("directory unavailable: {0}")]
    Unavailable(String),
    /// A bug or corrupt data in the backend: traps the plugin call.
    #[error("directory failed: {0}")]
    Internal(String),
}

/// A customer directory backend.
#[async_trait]
pub trait Directory: Send + Sync + 'static {
    /// What this backend is, for logs: "in-memory directory (3 people)".
    fn summary(&self) -> String;

    /// A person with membership, organization and its active admin count.
    async fn get_account(&self, person_id: &str) -> Result<Option<Account>, DirectoryError>;

    /// An organization with its active admin count.
    async fn get_organization(&self, id: &str) -> Result<Option<Organization>, DirectoryError>;

    /// A merchant staff member.
    async fn get_staff(&self, id: &str) -> Result<Option<Staff>, DirectoryError>;

    /// The person an external identity is linked to.
    async fn find_link(&self, issuer: &str, subject: &str) -> Result<Option<String>, DirectoryError>;

    /// Applies every op and stores the audit entry, atomically.
    async fn apply(&self, ops: Vec<ChangeOp>, audit: AuditEntry) -> Result<(), DirectoryError>;
}
