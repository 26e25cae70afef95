//! What each plugin instance's store holds: WASI context, limits, and the
//! services that back the plugin's imports.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::StoreLimits;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use tokio::sync::Notify;

use crate::cache::StatusCache;
use crate::clock::Clock;
use crate::directory::Directory;

/// The backends behind the plugin's imports, shared by every instance.
#[derive(Clone)]
pub struct Services {
    /// Customer records.
    pub directory: Arc<dyn Directory>,
    /// Account-status cache.
    pub cache: Arc<dyn StatusCache>,
    /// Woken whenever a change queues a notification.
    pub outbox_ready: Arc<Notify>,
    /// The clock, shared with the plugin as its wall clock.
    pub clock: Clock,
    /// What the host counts.
    pub metrics: Arc<crate::telemetry::Metrics>,
    /// This node's place in the directory's change log: whether its cache
    /// may be trusted now.
    pub sync: Arc<crate::change_log::ChangeSync>,
}

/// The data of one plugin instance's store.
pub struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limits: StoreLimits,
    pub(crate) services: Services,
    /// When the current call was armed, with its plugin budget.
    pub(crate) armed: Option<(Instant, Duration)>,
    /// When the host stops waiting for the current call (its imports
    /// included).
    pub(crate) call_deadline: Option<Instant>,
    /// Time the current call spent in the host's imports (reads, commits):
    /// the host's time, not counted against the plugin's budget; the whole
    /// call is still bounded by `call_deadline`.
    pub(crate) host_wait: Duration,
    /// The staff records the current call read from the directory: its
    /// change commits only while they are stored as read.
    pub(crate) staff_read: Vec<crate::model::Staff>,
}

/// Time a commit leaves for what follows it inside the call.
const AFTER_COMMIT: Duration = Duration::from_millis(50);

impl HostState {
    /// What a commit made now may take: the call's time left, less the
    /// trust window the answer may wait for and a margin.
    pub(crate) fn commit_budget(&self) -> Duration {
        let reserve = self.services.sync.window() + AFTER_COMMIT;
        match self.call_deadline {
            Some(deadline) => deadline
                .saturating_duration_since(Instant::now())
                .saturating_sub(reserve),
            None => crate::directory::DEFAULT_CHANGE_BUDGET,
        }
    }

    /// Whether the plugin has used up its own budget (wall time since the
    /// call was armed, less the time the host spent committing).
    pub(crate) fn plugin_time_left(&self) -> Option<Duration> {
        let (at, budget) = self.armed?;
        budget.checked_sub(at.elapsed().saturating_sub(self.host_wait))
    }
}

impl HostState {
    /// A state with an empty WASI context: the plugin gets no files, no
    /// network, no environment, no arguments.
    pub fn new(services: Services, limits: StoreLimits) -> Self {
        let wasi = WasiCtx::builder()
            .wall_clock(services.clock.clone())
            .build();
        Self {
            wasi,
            table: ResourceTable::new(),
            limits,
            services,
            armed: None,
            call_deadline: None,
            host_wait: Duration::ZERO,
            staff_read: Vec::new(),
        }
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}
