//! What each plugin instance's store holds: WASI context, limits, and the
//! services that back the plugin's imports.

use std::sync::Arc;

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
    /// The key records are stamped with (`records` import): random per
    /// process, so nobody outside can make two records share a stamp.
    pub stamps: std::hash::RandomState,
}

impl Services {
    /// A record's stamp: its keyed hash, which changes whenever anything in
    /// the record does.
    pub fn stamp(&self, record: &impl std::hash::Hash) -> u64 {
        std::hash::BuildHasher::hash_one(&self.stamps, record)
    }
}

/// The data of one plugin instance's store.
pub struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limits: StoreLimits,
    pub(crate) services: Services,
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
