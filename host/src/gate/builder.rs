//! Configuring and starting a [`PartnerGate`].

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use super::{PLUGIN_WASM, PartnerGate, PluginSource};
use crate::cache::memory::MemoryCache;
use crate::cache::{EphemeralStore, StatusCache};
use crate::clock::Clock;
use crate::directory::Directory;
use crate::directory::sqlite::SqliteDirectory;
use crate::error::Error;
use crate::policies::PolicySource;
use crate::pool::{Limits, Pool};
use crate::runtime;
use crate::state::Services;

/// Configures and starts a [`PartnerGate`].
pub struct Builder {
    plugin: PluginSource,
    policies: PolicySource,
    artifact_dir: Option<PathBuf>,
    limits: Limits,
    directory: Option<Arc<dyn Directory>>,
    cache: Option<Arc<dyn StatusCache>>,
    ephemeral: Option<Arc<dyn EphemeralStore>>,
    clock: Clock,
    decision_log: Option<crate::telemetry::DecisionLog>,
    shadow: Option<PolicySource>,
    sync_interval: Duration,
    trust_window: Duration,
}

/// How often a node reads the directory's change log by default.
pub const DEFAULT_SYNC_INTERVAL: Duration = Duration::from_millis(50);
/// How long a node trusts its cache after a round of the change log began,
/// by default: the longest any node answers from a record older than a
/// committed change.
pub const DEFAULT_TRUST_WINDOW: Duration = Duration::from_millis(300);

impl Default for Builder {
    fn default() -> Self {
        Self {
            plugin: PluginSource::Embedded,
            policies: PolicySource::Embedded,
            artifact_dir: None,
            limits: Limits::default(),
            directory: None,
            cache: None,
            ephemeral: None,
            clock: Clock::system(),
            decision_log: None,
            shadow: None,
            sync_interval: DEFAULT_SYNC_INTERVAL,
            trust_window: DEFAULT_TRUST_WINDOW,
        }
    }
}

impl Builder {
    /// The component to load (default: the embedded plugin).
    pub fn plugin(mut self, plugin: PluginSource) -> Self {
        self.plugin = plugin;
        self
    }

    /// Where the policy set comes from (default: the embedded defaults).
    pub fn policies(mut self, policies: PolicySource) -> Self {
        self.policies = policies;
        self
    }

    /// Caches the compiled plugin in `dir` (default: no cache).
    pub fn artifact_cache(mut self, dir: impl Into<PathBuf>) -> Self {
        self.artifact_dir = Some(dir.into());
        self
    }

    /// Bounds on calls and instances.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The customer directory (default: an empty SQLite database in memory).
    pub fn directory(mut self, directory: Arc<dyn Directory>) -> Self {
        self.directory = Some(directory);
        self
    }

    /// The status cache (default: in-process, 30 s TTL).
    pub fn cache(mut self, cache: Arc<dyn StatusCache>) -> Self {
        self.cache = Some(cache);
        self
    }

    /// Where sign-in state and sessions live (default: in process). Several
    /// nodes share one — Redis — so that a sign-in begun on one node can
    /// finish on another.
    pub fn ephemeral(mut self, store: Arc<dyn EphemeralStore>) -> Self {
        self.ephemeral = Some(store);
        self
    }

    /// The clock the host and the plugin read (default: the system clock).
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Keeps a decision log (JSON lines) of `authorize`.
    pub fn decision_log(mut self, log: crate::telemetry::DecisionLog) -> Self {
        self.decision_log = Some(log);
        self
    }

    /// Decides every request with the candidate set at `source` too, on
    /// instances of its own, without changing any answer (see
    /// [`PartnerGate::shadow_report`]).
    pub fn shadow_policies(mut self, source: PolicySource) -> Self {
        self.shadow = Some(source);
        self
    }

    /// Reads the directory's change log every `interval` and trusts the
    /// status cache for `window` after a round began (defaults 50 ms and
    /// 300 ms): no node answers from a record older than a change later
    /// than `window` after it committed, and a change is answered at most
    /// `window` after its commit. A window under two intervals is raised to
    /// two, or every late round would leave the cache untrusted.
    pub fn change_sync(mut self, interval: Duration, window: Duration) -> Self {
        self.sync_interval = interval;
        self.trust_window = window.max(interval * 2);
        self
    }

    /// Compiles (or loads) the plugin, validates the policy set (and the
    /// shadow set) and warms one instance. Refuses to start on an invalid
    /// policy set.
    pub async fn build(self) -> Result<PartnerGate, Error> {
        let wasm = match &self.plugin {
            PluginSource::Embedded => PLUGIN_WASM.to_vec(),
            PluginSource::Bytes(bytes) => bytes.clone(),
            PluginSource::File(path) => std::fs::read(path).map_err(|e| {
                Error::Config(format!("cannot read plugin `{}`: {e}", path.display()))
            })?,
        };
        let started = Instant::now();
        let engine = runtime::engine()?;
        // Compiling takes seconds: off the async workers, so that the rest
        // of the process (a `starting` answer, other tasks) goes on.
        let (component, artifact) = {
            let (engine, dir) = (engine.clone(), self.artifact_dir.clone());
            tokio::task::spawn_blocking(move || {
                runtime::load_component(&engine, &wasm, dir.as_deref())
            })
            .await
            .map_err(|e| Error::Engine(format!("compiling the plugin panicked: {e}")))??
        };
        let compile_time = started.elapsed();
        let directory: Arc<dyn Directory> = match self.directory {
            Some(directory) => directory,
            None => Arc::new(SqliteDirectory::in_memory(self.clock.clone())?),
        };
        let in_process = || Arc::new(MemoryCache::new(Duration::from_secs(30)));
        let (cache, ephemeral): (Arc<dyn StatusCache>, Arc<dyn EphemeralStore>) =
            match (self.cache, self.ephemeral) {
                (Some(cache), Some(ephemeral)) => (cache, ephemeral),
                (Some(cache), None) => (cache, in_process()),
                (None, Some(ephemeral)) => (in_process(), ephemeral),
                (None, None) => {
                    let both = in_process();
                    (both.clone(), both)
                }
            };
        let sync = Arc::new(crate::records::ChangeSync::new(
            directory.clone(),
            cache.clone(),
            self.sync_interval,
            self.trust_window,
        ));
        crate::records::start_following(&sync).await;
        let services = Services {
            sync,
            directory,
            cache,
            outbox_ready: Arc::new(Notify::new()),
            clock: self.clock,
            metrics: Arc::new(crate::telemetry::Metrics::default()),
        };
        tracing::info!(
            directory = services.directory.summary(),
            cache = services.cache.summary(),
            ?artifact,
            ?compile_time,
            "plugin ready"
        );
        let listings = Arc::new(tokio::sync::Semaphore::new(self.limits.max_listings.max(1)));
        let shadow = match self.shadow {
            Some(source) => {
                let pool = Pool::new(&engine, &component, services.clone(), self.limits.clone())?;
                let (schema, files) = source.read()?;
                pool.install(schema, files).await?;
                Some(Arc::new(super::shadow::Shadow::new(pool, source)))
            }
            None => None,
        };
        let min_instances = self.limits.min_instances;
        let pool = Pool::new(&engine, &component, services.clone(), self.limits)?;
        let (schema, files) = self.policies.read()?;
        pool.install(schema, files).await?;
        pool.warm_up(min_instances).await?;
        let pool = Arc::new(pool);
        crate::pool::spares(&pool);
        Ok(PartnerGate {
            pool,
            listings,
            policies: self.policies,
            services,
            ephemeral,
            artifact,
            decision_log: self.decision_log.map(Arc::new),
            shadow,
            health_probe: Default::default(),
        })
    }
}
