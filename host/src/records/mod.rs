//! The records decisions rest on and the one path every change commits by.
//!
//! - **Reading** ([`lookup`], [`stamped`]): the status cache while it is trusted
//!   ([`ChangeSync`]), else the directory; a miss fills the cache
//!   with the ticket taken before the directory was read, so a reader that
//!   raced a change never stores the old record. [`fresh`] reads skip the
//!   cache: what changes are decided on.
//! - **Committing** ([`commit`]): the change is applied within a budget
//!   (either it commits in time or nothing changed), then — in a task of
//!   its own, which runs to the end even when the caller has gone — this
//!   node's copies are dropped, the outbox is woken, and the invalidation
//!   is sent to the shared tier and every node. The caller is answered once
//!   every node has acknowledged, or, when some did not (Redis paused or
//!   restarting, a node stopped), once the trust window has passed: by
//!   then no node answers from a record older than the change.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::cache::{CacheError, CacheRead, FillTicket, Stamped, StatusCache};
use crate::directory::{Directory, DirectoryError};
use crate::model::{Account, AuditEntry, ChangeOp, Notification, Organization, RecordKey, Staff};
use crate::state::Services;
use crate::touched::Touched;

pub use crate::change_log::ChangeSync;

/// A kind of record decisions read: where the cache and the directory
/// keep it.
pub(crate) trait Record: Clone + std::hash::Hash + Sized + Send + 'static {
    async fn cached(
        cache: &dyn StatusCache,
        id: &str,
    ) -> Result<CacheRead<Arc<Stamped<Self>>>, CacheError>;
    async fn fill(
        cache: &dyn StatusCache,
        record: Arc<Stamped<Self>>,
        ticket: FillTicket,
    ) -> Result<(), CacheError>;
    async fn read(directory: &dyn Directory, id: &str) -> Result<Option<Self>, DirectoryError>;
}

/// `Record` for a kind: its cache getter and filler, its directory reader.
macro_rules! record {
    ($kind:ty, $get:ident, $put:ident, $read:ident) => {
        impl Record for $kind {
            async fn cached(
                cache: &dyn StatusCache,
                id: &str,
            ) -> Result<CacheRead<Arc<Stamped<Self>>>, CacheError> {
                cache.$get(id).await
            }
            async fn fill(
                cache: &dyn StatusCache,
                record: Arc<Stamped<Self>>,
                ticket: FillTicket,
            ) -> Result<(), CacheError> {
                cache.$put(record, ticket).await
            }
            async fn read(
                directory: &dyn Directory,
                id: &str,
            ) -> Result<Option<Self>, DirectoryError> {
                directory.$read(id).await
            }
        }
    };
}

record!(Account, get, put, get_account);
record!(
    Organization,
    get_organization,
    put_organization,
    get_organization
);
record!(Staff, get_staff, put_staff, get_staff);

/// The record of kind `R` with `id`: cached while the cache is trusted
/// (shared with the cache, not copied), or read from the directory (and
/// cached with the miss's ticket). A cache that cannot be reached is passed
/// over.
pub(crate) async fn lookup<R: Record>(
    services: &Services,
    id: &str,
) -> Result<Option<Arc<Stamped<R>>>, DirectoryError> {
    let cache = services.cache.as_ref();
    let trusted = services.sync.trusted();
    let ticket = if trusted {
        match R::cached(cache, id).await {
            // Checked again after the read: a node stopped between the
            // first check and the read must not use what it read.
            Ok(CacheRead::Hit(record)) if services.sync.trusted() => {
                count(services, true);
                return Ok(Some(record));
            }
            Ok(CacheRead::Hit(_)) => FillTicket::refused(),
            Ok(CacheRead::Miss(ticket)) => {
                count(services, false);
                ticket
            }
            Err(err) => {
                tracing::warn!(%err, "status cache read failed; reading the directory");
                FillTicket::refused()
            }
        }
    } else {
        services.metrics.cache_untrusted.inc();
        FillTicket::refused()
    };
    let Some(record) = R::read(services.directory.as_ref(), id).await? else {
        return Ok(None);
    };
    // Stamped once, shared by the cache and this reader.
    let record = Stamped::shared(record);
    if !ticket.is_refused()
        && let Err(err) = R::fill(cache, record.clone(), ticket).await
    {
        tracing::warn!(%err, "status cache write failed");
    }
    Ok(Some(record))
}

/// The directory as fresh reads see it: straight from the directory, never
/// a cache. What the plugin's changes are decided on (its `directory`
/// import), what a listing shows, what health probes.
pub(crate) fn fresh(services: &Services) -> &dyn Directory {
    services.directory.as_ref()
}

/// A record of any kind a decision reads.
pub(crate) enum Read {
    /// A person with membership and organization.
    Account(Arc<Stamped<Account>>),
    /// An organization.
    Organization(Arc<Stamped<Organization>>),
    /// A staff member.
    Staff(Arc<Stamped<Staff>>),
}

/// The record behind `key` ([`lookup`]) with its stamp
/// ([`Stamped::stamp`], computed when it was read): what the `records`
/// import gives a decision, and what a decision given again is checked
/// against.
pub(crate) async fn stamped(
    services: &Services,
    key: &RecordKey,
) -> Result<Option<(u64, Read)>, DirectoryError> {
    Ok(match key {
        RecordKey::Account(id) => lookup::<Account>(services, id)
            .await?
            .map(|r| (r.stamp(), Read::Account(r))),
        RecordKey::Organization(id) => lookup::<Organization>(services, id)
            .await?
            .map(|r| (r.stamp(), Read::Organization(r))),
        RecordKey::Staff(id) => lookup::<Staff>(services, id)
            .await?
            .map(|r| (r.stamp(), Read::Staff(r))),
    })
}

/// Counts a lookup under the cache's tier, unless the backend counts its
/// own.
fn count(services: &Services, hit: bool) {
    let cache = services.cache.as_ref();
    if cache.lookups().is_none() {
        services.metrics.cache_lookup(cache.tier(), hit);
    }
}

/// Applies a change and makes it hold on the next request, on every node
/// (see the module's documentation). `staff` are the staff records the
/// decision read: the change commits only while they are stored as read.
/// `budget` bounds the commit, waiting for locks included; the answer comes
/// at most the trust window later.
///
/// Returns the directory's refusal (`Conflict`, `Duplicate`, ...) or
/// `Unavailable` when nothing changed; `Ok` once the change committed and
/// holds everywhere.
pub async fn commit(
    services: &Services,
    ops: Vec<ChangeOp>,
    audit: AuditEntry,
    staff: Vec<Staff>,
    budget: Duration,
) -> Result<(), DirectoryError> {
    let touched = Touched::of(&ops);
    let queues = ops.iter().any(|op| matches!(op, ChangeOp::Queue(_)));
    let directory = services.directory.clone();
    let apply = async move { directory.apply_within(ops, audit, &staff, budget).await };
    settle(services, apply, touched, queues).await
}

/// Stores a staff record and makes it hold on the next request, as
/// [`commit`] does for a change.
pub async fn put_staff(services: &Services, staff: Staff) -> Result<(), DirectoryError> {
    let touched = vec![Touched::Staff(staff.id.clone())];
    let directory = services.directory.clone();
    let apply = async move { directory.put_staff(&staff).await };
    settle(services, apply, touched, false).await
}

/// Queues a notification on its own (not part of a change) and wakes the
/// outbox: the one way, besides [`commit`], anything is written.
pub async fn enqueue(
    services: &Services,
    notification: Notification,
) -> Result<(), DirectoryError> {
    services.directory.enqueue(notification).await?;
    services.outbox_ready.notify_one();
    Ok(())
}

/// Runs `apply` and what follows a commit in a task of its own, and
/// answers once the change holds everywhere.
async fn settle(
    services: &Services,
    apply: impl Future<Output = Result<(), DirectoryError>> + Send + 'static,
    touched: Vec<Touched>,
    queues: bool,
) -> Result<(), DirectoryError> {
    let cache = services.cache.clone();
    let outbox = services.outbox_ready.clone();
    let window = services.sync.window();
    let (committed, on_commit) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(async move {
        let result = apply.await;
        let at = Instant::now();
        let ok = result.is_ok();
        let _ = committed.send(result.map(|()| at));
        if !ok {
            return Ok(());
        }
        for t in &touched {
            cache.drop_local(t);
        }
        if queues {
            outbox.notify_one();
        }
        invalidate_everywhere(cache.as_ref(), &touched).await
    });
    let committed_at = on_commit
        .await
        .map_err(|_| DirectoryError::Internal("the commit task stopped".into()))??;
    // Acknowledged by every node, or else every node's trust in what it
    // cached before the change has run out.
    let everyone_by = committed_at + window;
    match tokio::time::timeout_at(everyone_by.into(), task).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(err))) => {
            tracing::warn!(
                "change committed; its invalidation was not acknowledged ({err}): answering once every node's trust in older records has run out"
            );
            tokio::time::sleep_until(everyone_by.into()).await;
        }
        Ok(Err(join)) => {
            tracing::error!("the invalidation task failed: {join}");
            tokio::time::sleep_until(everyone_by.into()).await;
        }
        Err(_) => {}
    }
    Ok(())
}

/// Sends the invalidation of every record in `touched` to the shared tier
/// and every node. One that is not acknowledged is not lost: every node's
/// next round of the change log retires the same records, in its first
/// level and in the shared tier, and trusts its cache only once that
/// succeeded.
async fn invalidate_everywhere(
    cache: &dyn StatusCache,
    touched: &[Touched],
) -> Result<(), CacheError> {
    let mut first_error = None;
    for t in touched {
        if let Err(err) = cache.invalidate(t).await {
            first_error.get_or_insert(err);
        }
    }
    match first_error {
        None => Ok(()),
        Some(err) => Err(err),
    }
}

/// Starts following the change log for `sync` (one round now, then every
/// interval in the background).
pub async fn start_following(sync: &Arc<ChangeSync>) {
    if let Err(err) = sync.catch_up().await {
        tracing::warn!("{err}: the status cache is not trusted until the change log can be read");
    }
    crate::change_log::spawn(sync);
}
