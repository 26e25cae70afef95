//! Following the directory's change log: how a node knows that it has seen
//! every change, whatever happened to the invalidations sent to it.
//!
//! Every change that touches a cached record takes the next position of the
//! change log in its own transaction. Each node reads the log every
//! [`ChangeSync::interval`] and retires what each new change touched, in
//! its first level and in the shared tier (so an invalidation Redis never
//! took, or a node never received, is made up for). The node trusts its
//! cache only while the last round that finished started less than
//! [`ChangeSync::window`] ago: such a round saw every change committed
//! before it began, so a change is never answered from the old record more
//! than `window` after it committed, on any node — Redis paused or
//! restarted, a node stopped and resumed, a commit whose caller had gone.
//! A node that cannot read the log (or reach the shared tier) stops
//! trusting its cache and reads the directory.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::cache::{CacheError, StatusCache};
use crate::directory::{Directory, DirectoryError};

/// Entries read from the log per round; a node further behind drops
/// everything it caches.
const PAGE: u32 = 5_000;

/// Why a round of following the log failed.
#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    /// The log could not be read.
    #[error("reading the change log: {0}")]
    Directory(#[from] DirectoryError),
    /// A change could not be retired from the shared tier.
    #[error("retiring a change from the status cache: {0}")]
    Cache(#[from] CacheError),
}

/// A node's place in the change log and how recently it was confirmed.
pub struct ChangeSync {
    directory: Arc<dyn Directory>,
    cache: Arc<dyn StatusCache>,
    origin: Instant,
    /// When (ms after `origin`, plus one) the last round that retired
    /// everything it read began; 0 before the first.
    confirmed: AtomicU64,
    /// The last position retired; `None` until the first round.
    position: tokio::sync::Mutex<Option<u64>>,
    interval: Duration,
    window: Duration,
    /// Why the last round failed, until one succeeds.
    failure: std::sync::Mutex<Option<String>>,
}

impl ChangeSync {
    /// Follows `directory`'s log for `cache`, every `interval`, trusting the
    /// cache for `window` after a round began.
    pub fn new(
        directory: Arc<dyn Directory>,
        cache: Arc<dyn StatusCache>,
        interval: Duration,
        window: Duration,
    ) -> Self {
        Self {
            directory,
            cache,
            origin: Instant::now(),
            confirmed: AtomicU64::new(0),
            failure: std::sync::Mutex::new(None),
            position: tokio::sync::Mutex::new(None),
            interval,
            window,
        }
    }

    /// How often the log is read.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// How long after a round began the cache is trusted.
    pub fn window(&self) -> Duration {
        self.window
    }

    fn now_ms(&self) -> u64 {
        self.origin.elapsed().as_millis() as u64 + 1
    }

    /// Whether cached records may be used now: the last round that
    /// completed began within the window.
    pub fn trusted(&self) -> bool {
        let confirmed = self.confirmed.load(Ordering::Acquire);
        confirmed != 0 && self.now_ms().saturating_sub(confirmed) < self.window.as_millis() as u64
    }

    /// Why the cache is not trusted now (`None` when it is): the last
    /// round's error, or that no round completed within the window.
    pub fn problem(&self) -> Option<String> {
        if self.trusted() {
            return None;
        }
        let failure = self.failure.lock().expect("failure lock").clone();
        Some(failure.unwrap_or_else(|| {
            format!(
                "the change log was not read within {} ms",
                self.window.as_millis()
            )
        }))
    }

    fn note(&self, failure: Option<String>) {
        *self.failure.lock().expect("failure lock") = failure;
    }

    /// One round: retires what every change since the last round touched,
    /// then marks the cache trusted from this round's start. The first
    /// round (and one that finds the log pruned past it) drops everything.
    pub async fn catch_up(&self) -> Result<(), FollowError> {
        let mut position = self.position.lock().await;
        let started = self.now_ms();
        match *position {
            None => {
                // Only the head: everything before it is dropped anyway.
                let feed = self.directory.changes_since(u64::MAX, 0).await?;
                self.cache.forget_all().await?;
                *position = Some(feed.head);
            }
            Some(after) => {
                let feed = self.directory.changes_since(after, PAGE).await?;
                if feed.complete {
                    for (_, touched) in &feed.entries {
                        self.cache.retire(touched).await?;
                    }
                } else {
                    tracing::warn!(
                        after,
                        head = feed.head,
                        "the change log does not reach back to this node's position: dropping every cached record"
                    );
                    self.cache.forget_all().await?;
                }
                *position = Some(feed.head);
            }
        }
        self.confirmed.fetch_max(started, Ordering::AcqRel);
        Ok(())
    }
}

/// Follows the log until `sync` is dropped; a failed round is logged (once
/// until one succeeds again) and the cache goes untrusted when the window
/// passes.
pub fn spawn(sync: &Arc<ChangeSync>) {
    let weak = Arc::downgrade(sync);
    let interval = sync.interval;
    tokio::spawn(async move {
        let mut failing = false;
        loop {
            tokio::time::sleep(interval).await;
            let Some(sync) = weak.upgrade() else { return };
            let round = sync.catch_up().await;
            sync.note(round.as_ref().err().map(ToString::to_string));
            match round {
                Ok(()) if failing => {
                    failing = false;
                    tracing::info!("following the change log again: the status cache is trusted");
                }
                Ok(()) => {}
                Err(err) if !failing => {
                    failing = true;
                    tracing::warn!(
                        "{err}: reading the directory, not the status cache, until this succeeds"
                    );
                }
                Err(_) => {}
            }
        }
    });
}
