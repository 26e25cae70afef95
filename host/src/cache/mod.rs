//! The account-status cache in front of the directory, and the store of
//! short-lived sign-in values ([`EphemeralStore`], a trait of its own that
//! the in-process and Redis backends also implement).
//!
//! One trait, one module per backend: [`memory`] (the embedded default, for a
//! single node), [`redis`] (several nodes) and [`none`] (no caching). A miss
//! is always safe; a stale hit is not, so every directory change invalidates
//! what it touched before it is reported done ([`invalidate_after`]).

pub mod ephemeral;
pub mod error;
pub mod memory;
pub mod none;
pub mod redis;

pub use ephemeral::EphemeralStore;
pub use error::CacheError;

use async_trait::async_trait;

use crate::bindings::directory::ChangeOp;
use crate::bindings::types::{Account, Organization, Staff};

/// A status-cache backend.
#[async_trait]
pub trait StatusCache: Send + Sync + 'static {
    /// What this backend is, for logs.
    fn summary(&self) -> String;

    /// The tier lookups are counted under (`/metrics`): `memory` unless
    /// the backend says otherwise.
    fn tier(&self) -> &'static str {
        "memory"
    }

    /// Lookups the backend counts itself, by tier and result (`hit`,
    /// `miss`, `bypassed`), since start; `None` when it does not, and the
    /// host then counts hits and misses under [`StatusCache::tier`].
    fn lookups(&self) -> Option<Vec<(&'static str, &'static str, u64)>> {
        None
    }

    /// The cached account of a person.
    async fn get(&self, person_id: &str) -> Result<Option<Account>, CacheError>;

    /// Caches an account.
    async fn put(&self, account: Account) -> Result<(), CacheError>;

    /// The cached organization.
    async fn get_organization(
        &self,
        organization_id: &str,
    ) -> Result<Option<Organization>, CacheError>;

    /// Caches an organization.
    async fn put_organization(&self, organization: Organization) -> Result<(), CacheError>;

    /// Drops a person's entry.
    async fn invalidate(&self, person_id: &str) -> Result<(), CacheError>;

    /// Drops an organization's entry and those of its members (their entries
    /// embed its status and administrator count).
    async fn invalidate_organization(&self, organization_id: &str) -> Result<(), CacheError>;

    /// The cached staff member, if present and fresh.
    ///
    /// Returns `Ok(None)` on a miss and `Unavailable` when the cache is down.
    async fn get_staff(&self, staff_id: &str) -> Result<Option<Staff>, CacheError>;

    /// Caches a staff member read from the directory.
    async fn put_staff(&self, staff: Staff) -> Result<(), CacheError>;

    /// Drops a staff member's entry on every node (after their record or
    /// assignments changed).
    async fn invalidate_staff(&self, staff_id: &str) -> Result<(), CacheError>;
}

/// Whether a change op can make a cached account stale.
pub fn affects_cache(op: &ChangeOp) -> bool {
    matches!(
        op,
        ChangeOp::PutPerson(_) | ChangeOp::PutOrganization(_) | ChangeOp::PutMembership(_)
    )
}

/// Invalidates every entry a committed change may have made stale.
pub async fn invalidate_after(cache: &dyn StatusCache, ops: &[ChangeOp]) -> Result<(), CacheError> {
    for op in ops {
        match op {
            ChangeOp::PutPerson(p) => cache.invalidate(&p.id).await?,
            ChangeOp::PutOrganization(o) => cache.invalidate_organization(&o.id).await?,
            ChangeOp::PutMembership((m, _)) => {
                cache.invalidate(&m.person_id).await?;
                cache.invalidate_organization(&m.organization_id).await?;
            }
            ChangeOp::LinkIdentity(_)
            | ChangeOp::PutOnboarding(_)
            | ChangeOp::QueueNotification(_)
            | ChangeOp::ExpectMembership(_)
            | ChangeOp::ExpectActiveAdmins(_) => {}
        }
    }
    Ok(())
}
