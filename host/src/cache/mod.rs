//! The account-status cache in front of the directory, and the store of
//! short-lived sign-in values ([`EphemeralStore`], a trait of its own that
//! the in-process and Redis backends also implement).
//!
//! One trait, one module per backend: [`memory`] (the embedded default, for a
//! single node), [`redis`] (several nodes) and [`none`] (no caching). A miss
//! is always safe; a stale hit is not, so every directory change invalidates
//! what it touched before it is reported done, and a fill that raced a
//! change is refused ([`FillTicket`]); see [`crate::records`] for the commit
//! path and the change log that makes up for a lost invalidation.

pub mod ephemeral;
pub mod error;
pub mod memory;
pub mod none;
pub mod redis;
pub mod stamped;

pub use ephemeral::EphemeralStore;
pub use error::CacheError;
pub use stamped::Stamped;

use std::sync::Arc;

use async_trait::async_trait;

use crate::model::{Account, Organization, Staff};
use crate::touched::Touched;

/// Whether `account` embeds organization `org` (its status and
/// administrator count, in any of the person's memberships): an
/// invalidation of the organization drops it.
pub(crate) fn embeds(account: &Account, org: &str) -> bool {
    account
        .membership
        .as_ref()
        .is_some_and(|m| m.organization_id == org)
        || account.memberships.iter().any(|m| m.organization.id == org)
}

/// What a lookup found: the record, or a miss with the ticket that the
/// record read from the directory must present to be stored.
#[derive(Clone, Debug)]
pub enum CacheRead<T> {
    /// The cached record.
    Hit(T),
    /// Not cached (or the cache is not used now): read the directory, and
    /// fill with this ticket.
    Miss(FillTicket),
}

impl<T> CacheRead<T> {
    /// The record, if it was a hit.
    pub fn hit(self) -> Option<T> {
        match self {
            CacheRead::Hit(record) => Some(record),
            CacheRead::Miss(_) => None,
        }
    }
}

/// Taken at a miss, before the directory is read: what the cache had
/// invalidated by then. A fill whose record something invalidated after
/// its ticket is refused, so a reader that read the directory before a
/// change committed never stores its copy after the change's invalidation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FillTicket {
    /// This process's invalidation counter when the miss happened.
    pub(crate) local: u64,
    /// The shared tier's: its incarnation (a Redis that restarted has
    /// another) and its invalidation sequence number.
    pub(crate) shared: Option<(String, u64)>,
}

impl FillTicket {
    /// A ticket no fill can use: for a read made while the cache is not
    /// trusted.
    pub fn refused() -> Self {
        Self {
            local: u64::MAX,
            shared: None,
        }
    }

    /// Whether this ticket can never fill.
    pub(crate) fn is_refused(&self) -> bool {
        self.local == u64::MAX
    }
}

/// A status-cache backend.
///
/// Its one invariant: a record is never stored after an invalidation of it
/// that came later than the fill's ticket ([`FillTicket`]).
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

    /// Whether the backend is usable now; `Err` says what is wrong (for
    /// `/v1/health`). In-process backends always are.
    fn healthy(&self) -> Result<(), String> {
        Ok(())
    }

    /// The cached account of a person with its stamp, shared with the
    /// cache: a hit copies and hashes nothing (decisions lower the record
    /// into the plugin from this copy).
    async fn get(&self, person_id: &str) -> Result<CacheRead<Arc<Stamped<Account>>>, CacheError>;

    /// Caches an account read from the directory after the miss that gave
    /// `ticket` (shared with the reader, stamped once); refused silently
    /// when it may be stale.
    async fn put(
        &self,
        account: Arc<Stamped<Account>>,
        ticket: FillTicket,
    ) -> Result<(), CacheError>;

    /// The cached organization.
    async fn get_organization(
        &self,
        organization_id: &str,
    ) -> Result<CacheRead<Arc<Stamped<Organization>>>, CacheError>;

    /// Caches an organization, as [`StatusCache::put`].
    async fn put_organization(
        &self,
        organization: Arc<Stamped<Organization>>,
        ticket: FillTicket,
    ) -> Result<(), CacheError>;

    /// The cached staff member.
    async fn get_staff(&self, staff_id: &str)
    -> Result<CacheRead<Arc<Stamped<Staff>>>, CacheError>;

    /// Caches a staff member, as [`StatusCache::put`].
    async fn put_staff(
        &self,
        staff: Arc<Stamped<Staff>>,
        ticket: FillTicket,
    ) -> Result<(), CacheError>;

    /// Drops this node's copies of what a committed change touched, at
    /// once and without I/O: the first step after a commit.
    fn drop_local(&self, touched: &Touched);

    /// Drops what a committed change touched — here at once, then in any
    /// shared tier — and tells every other node, waiting for their
    /// acknowledgements. An organization takes its members' entries with
    /// it (they embed its status and administrator count).
    ///
    /// Returns `Unavailable` when the shared tier did not take it (the local
    /// copy is gone by then; the change log covers the rest).
    async fn invalidate(&self, touched: &Touched) -> Result<(), CacheError>;

    /// Drops what a change touched here and in any shared tier, telling no
    /// one: what every node does for each change it reads from the change
    /// log, so that a lost invalidation is made up for.
    async fn retire(&self, touched: &Touched) -> Result<(), CacheError> {
        self.invalidate(touched).await
    }

    /// Drops everything, here and in any shared tier: for a node that may
    /// have missed changes (its change log was pruned past it).
    async fn forget_all(&self) -> Result<(), CacheError>;
}
