//! A pool of warm plugin instances with the policy set already loaded, and
//! the leash every call runs on: an epoch deadline, a memory limit, and
//! discarding any instance that traps.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::Duration;

use tokio::sync::{Notify, Semaphore};
use wasmtime::component::Component;
use wasmtime::{Engine, Store, StoreLimitsBuilder, Trap};

use crate::error::{Error, Fault};
use crate::exports::{Instance, Linked};
use crate::model::{Answer, Decision, PolicyFile, Summary};
use crate::reuse::{Asked, Key, Reuse};
use crate::runtime::EPOCH_TICK;
use crate::state::{HostState, Services};

/// Bounds on each plugin call and on the pool.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Linear memory one instance may grow to.
    pub memory_bytes: usize,
    /// Wall-clock budget of one call (epoch deadline). A call also waits at
    /// most this long for an instance to come free; then it is refused
    /// (`Busy`) without reaching the plugin.
    pub call_timeout: Duration,
    /// Budget of loading a policy set into an instance (at start, on reload,
    /// into a fresh instance): parsing and validating a set takes far longer
    /// than one decision, so it does not share `call_timeout`.
    pub load_timeout: Duration,
    /// Instances running at once; further calls wait.
    pub max_instances: usize,
    /// Instances kept warm from the start (at most `max_instances`); beyond
    /// them the pool warms a spare in the background whenever a call takes
    /// the last idle one, so that calls do not meet a fresh instance.
    pub min_instances: usize,
    /// Listings, audit reads and bulk calls running at once; further ones
    /// wait, so that they never take the cores decisions need (default:
    /// half the cores, at least one).
    pub max_listings: usize,
    /// Decisions the host keeps to give again without a plugin call while
    /// the records they rest on keep their stamps (0: none, every decision
    /// is a call).
    pub reuse_decisions: usize,
}

/// Half the cores, at least one.
pub fn half_the_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1))
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            memory_bytes: 64 << 20,
            call_timeout: Duration::from_millis(250),
            load_timeout: Duration::from_secs(10),
            max_instances: 32,
            min_instances: 1,
            max_listings: half_the_cores(),
            reuse_decisions: 4096,
        }
    }
}

/// A validated policy set, ready to load into instances.
#[derive(Clone, Debug)]
pub struct PolicyBundle {
    /// The schema file.
    pub schema: PolicyFile,
    /// The policy files.
    pub files: Vec<PolicyFile>,
    /// What the plugin reported when it validated them.
    pub summary: Summary,
    /// Increments with every reload; instances with an older one reload.
    pub generation: u64,
    /// The set as the plugin prepared it after loading and validating it
    /// once: every other instance loads it without parsing or validating.
    prepared: OnceLock<String>,
}

/// One instance and the policy generation it has loaded.
pub(crate) struct Warm {
    pub(crate) store: Store<HostState>,
    pub(crate) plugin: Instance,
    generation: u64,
}

impl Warm {
    /// The policy generation this instance has loaded.
    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }

    /// Arms the deadline for the next call into the guest: `timeout` of the
    /// plugin's own time (time the host spends committing a change does not
    /// count), and four times that for the whole call, imports included.
    /// `now` is the time the call starts.
    pub(crate) fn arm(&mut self, now: std::time::Instant, timeout: Duration) {
        let state = self.store.data_mut();
        state.armed = Some((now, timeout));
        state.call_deadline = Some(now + timeout * 4);
        state.host_wait = Duration::ZERO;
        state.staff_read.clear();
        self.store.set_epoch_deadline(ticks(timeout));
    }
}

/// `timeout` in epoch ticks (at least one).
fn ticks(timeout: Duration) -> u64 {
    (timeout.as_micros() / EPOCH_TICK.as_micros()).max(1) as u64
}

/// A call to make on a warm instance.
pub(crate) type Call<'a, R> = Pin<Box<dyn Future<Output = wasmtime::Result<R>> + Send + 'a>>;

/// The second argument of a call given to [`Pool::run`]: it says that
/// `'x`, the lifetime of what the call borrows from its caller (a
/// request's texts), outlives `'a`, its borrow of the instance, so that
/// the call's future may hold both.
pub(crate) type Lent<'a, 'x> = std::marker::PhantomData<&'a &'x ()>;

pub(crate) struct Pool {
    engine: Engine,
    pre: Linked,
    services: Services,
    limits: Limits,
    bundle: RwLock<Arc<PolicyBundle>>,
    /// Woken when a call took the last idle instance (see [`spares`]).
    wants_spare: Arc<Notify>,
    /// Instances to keep alive: one more than the most calls that ran at
    /// once when a call took the last idle instance.
    wanted: std::sync::atomic::AtomicUsize,
    idle: Mutex<Vec<Warm>>,
    running: Semaphore,
    /// One install at a time.
    installing: tokio::sync::Mutex<()>,
    /// Decisions to give again without a call.
    reuse: Reuse,
    /// Calls waiting for an instance now.
    queued: AtomicUsize,
    /// Running mean of a call's duration, in nanoseconds (0: none yet).
    mean_call_ns: AtomicU64,
}

/// A call's place in the queue for an instance, given up when dropped.
struct Queued<'a> {
    count: &'a AtomicUsize,
    /// Calls waiting, this one included, when it joined.
    position: usize,
}

impl<'a> Queued<'a> {
    fn join(count: &'a AtomicUsize) -> Self {
        let position = count.fetch_add(1, Ordering::Relaxed) + 1;
        Self { count, position }
    }
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        self.count.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Pool {
    /// Links the imports and prepares instantiation of `component`.
    pub(crate) fn new(
        engine: &Engine,
        component: &Component,
        services: Services,
        limits: Limits,
    ) -> Result<Self, Error> {
        let pre = Linked::new(engine, component)?;
        let empty = PolicyBundle {
            schema: PolicyFile {
                name: String::new(),
                text: String::new(),
            },
            files: Vec::new(),
            summary: Summary {
                version: String::new(),
                policies: 0,
                permits: 0,
                forbids: 0,
            },
            generation: 0,
            prepared: OnceLock::new(),
        };
        Ok(Self {
            engine: engine.clone(),
            pre,
            services,
            running: Semaphore::new(limits.max_instances),
            reuse: Reuse::new(limits.reuse_decisions),
            installing: tokio::sync::Mutex::new(()),
            limits,
            bundle: RwLock::new(Arc::new(empty)),
            idle: Mutex::new(Vec::new()),
            wants_spare: Arc::new(Notify::new()),
            wanted: std::sync::atomic::AtomicUsize::new(0),
            queued: AtomicUsize::new(0),
            mean_call_ns: AtomicU64::new(0),
        })
    }

    /// The key `asked` is given again by ([`Reuse::key`]).
    pub(crate) fn reuse_key(&self, asked: Asked<'_>) -> Key {
        self.reuse.key(asked)
    }

    /// The decision this pool's instances gave `asked` (whose key is
    /// `key`) under the policy set in use, if it may be given again (see
    /// [`Reuse`]); counted.
    pub(crate) async fn reused(&self, key: Key, asked: Asked<'_>) -> Option<Decision> {
        let generation = self.bundle.read().expect("bundle lock").generation;
        let decision = self
            .reuse
            .get(key, asked, generation, &self.services)
            .await?;
        self.services.metrics.reused.inc();
        Some(decision)
    }

    /// Decides `asked` on a warm instance, or gives the decision again
    /// without a call while what it rests on holds.
    pub(crate) async fn decide(
        &self,
        asked: Asked<'_>,
    ) -> Result<crate::decision::Decision, Error> {
        let key = self.reuse_key(asked);
        if let Some(decision) = self.reused(key, asked).await {
            return Ok(decision.into());
        }
        let (generation, answer) = self
            .run(move |warm, _| {
                Box::pin(async move {
                    let answer = warm.plugin.authorize(&mut warm.store, asked).await?;
                    Ok((warm.generation(), answer))
                })
            })
            .await?;
        if let Ok(answer) = &answer {
            self.keep(key, asked, generation, answer);
        }
        answer.map(|answer| answer.decision.into())
    }

    /// Keeps `answer` to `asked` (whose key is `key`), decided on an
    /// instance of policy `generation`, to give again while what it rests
    /// on holds.
    pub(crate) fn keep(&self, key: Key, asked: Asked<'_>, generation: u64, answer: &Answer) {
        self.reuse.put(key, asked, generation, answer);
    }

    pub(crate) fn bundle(&self) -> Arc<PolicyBundle> {
        self.bundle.read().expect("bundle lock").clone()
    }

    pub(crate) fn limits(&self) -> &Limits {
        &self.limits
    }

    /// A fresh instance with no policy loaded.
    pub(crate) async fn instantiate(&self) -> Result<Warm, Error> {
        let limits = StoreLimitsBuilder::new()
            .memory_size(self.limits.memory_bytes)
            .trap_on_grow_failure(true)
            .build();
        let mut store = Store::new(&self.engine, HostState::new(self.services.clone(), limits));
        store.limiter(|state| &mut state.limits);
        // At the deadline the plugin goes on only for what is left of its
        // own budget: time the host spent committing is given back.
        store.epoch_deadline_callback(|ctx| {
            Ok(match ctx.data().plugin_time_left() {
                Some(left) if !left.is_zero() => wasmtime::UpdateDeadline::Continue(ticks(left)),
                _ => wasmtime::UpdateDeadline::Interrupt,
            })
        });
        // Instantiating runs the component's initialisation: a load, not a
        // decision, so it has the load's budget.
        store.set_epoch_deadline(ticks(self.limits.load_timeout));
        let plugin = self
            .pre
            .instantiate(&mut store)
            .await
            .map_err(|e| load_fault(&e, self.limits.load_timeout))?;
        Ok(Warm {
            store,
            plugin,
            generation: 0,
        })
    }

    /// Checks a policy set on a warm instance without putting it in use
    /// (`validate` leaves the instance's own set as it was).
    pub(crate) async fn validate(
        &self,
        schema: &PolicyFile,
        files: &[PolicyFile],
    ) -> Result<Summary, Error> {
        let (schema, files) = (schema.clone(), files.to_vec());
        self.run_within(self.limits.load_timeout, move |warm, _| {
            Box::pin(async move { warm.plugin.validate(&mut warm.store, &schema, &files).await })
        })
        .await?
    }

    /// Validates and puts a policy set in use; a refused set leaves the
    /// current one in use. The new set is loaded into as many fresh
    /// instances as are alive now *before* the switch, and those replace the
    /// idle ones at the switch, so that no request after it meets an
    /// instance that must load the set first; instances busy at the switch
    /// are dropped when their call ends.
    pub(crate) async fn install(
        &self,
        schema: PolicyFile,
        files: Vec<PolicyFile>,
    ) -> Result<Arc<PolicyBundle>, Error> {
        let _one = self.installing.lock().await;
        // The first fresh instance loads the files, which validates them: a
        // refused set stops here, before anything is switched, and an
        // accepted one is not validated again.
        let timeout = self.limits.load_timeout;
        let mut first = self.instantiate().await?;
        first.arm(std::time::Instant::now(), timeout);
        let summary = load_files(&mut first, &schema, &files, timeout).await?;
        let bundle = Arc::new(PolicyBundle {
            schema,
            files,
            summary,
            generation: self.bundle().generation + 1,
            prepared: OnceLock::new(),
        });
        prepare(&mut first, &bundle, timeout).await?;
        first.generation = bundle.generation;
        let busy = self.limits.max_instances - self.running.available_permits();
        let alive = (self.idle_count() + busy).clamp(1, self.limits.max_instances);
        let mut warmed = Vec::with_capacity(alive);
        warmed.push(first);
        while warmed.len() < alive {
            warmed.push(self.loaded(&bundle).await?);
        }
        let mut slot = self.bundle.write().expect("bundle lock");
        *slot = bundle.clone();
        *self.idle.lock().expect("idle lock") = warmed;
        Ok(bundle)
    }

    /// A fresh instance with `bundle` loaded.
    async fn loaded(&self, bundle: &PolicyBundle) -> Result<Warm, Error> {
        let mut warm = self.instantiate().await?;
        load(&mut warm, bundle, self.limits.load_timeout).await?;
        Ok(warm)
    }

    /// Adds warm instances holding the set in use until `n` are idle (at
    /// most `max_instances`).
    pub(crate) async fn warm_up(&self, n: usize) -> Result<(), Error> {
        let n = n.min(self.limits.max_instances);
        while self.idle_count() < n {
            let bundle = self.bundle();
            let warm = self.loaded(&bundle).await?;
            if self.bundle().generation == warm.generation {
                self.idle.lock().expect("idle lock").push(warm);
            }
        }
        Ok(())
    }

    /// Runs `call` on a warm instance holding the current policy set. An
    /// instance that traps, overruns its deadline or memory is discarded.
    pub(crate) async fn run<'x, R, F>(&self, call: F) -> Result<R, Error>
    where
        R: Send,
        F: for<'a> FnOnce(&'a mut Warm, Lent<'a, 'x>) -> Call<'a, R> + Send,
    {
        self.run_within(self.limits.call_timeout, call).await
    }

    /// [`Self::run`] with a deadline of `timeout` instead of the call
    /// timeout: for a call that does the work of many (a bulk call).
    pub(crate) async fn run_within<'x, R, F>(&self, timeout: Duration, call: F) -> Result<R, Error>
    where
        R: Send,
        F: for<'a> FnOnce(&'a mut Warm, Lent<'a, 'x>) -> Call<'a, R> + Send,
    {
        // A call that cannot start within its own deadline is refused
        // before it reaches the plugin: once calls queue longer than that,
        // waiting only turns them into deadline traps later.
        let _permit = match self.running.try_acquire() {
            Ok(permit) => permit,
            Err(_) => {
                self.services.metrics.waits.inc();
                let queued = Queued::join(&self.queued);
                // The calls ahead finish `max_instances` at a time: when
                // that takes longer than this call's deadline, say so now.
                let mean = self.mean_call_ns.load(Ordering::Relaxed) as u128;
                let ahead = queued.position as u128;
                if mean > 0
                    && ahead * mean / self.limits.max_instances as u128 >= timeout.as_nanos()
                {
                    return Err(Error::Busy(format!(
                        "{ahead} calls are queued for {} instances: more than {timeout:?} of work ahead",
                        self.limits.max_instances
                    )));
                }
                match tokio::time::timeout(timeout, self.running.acquire()).await {
                    Ok(Ok(permit)) => permit,
                    Ok(Err(_)) => return Err(Error::Busy("the pool is shut down".into())),
                    Err(_) => {
                        return Err(Error::Busy(format!(
                            "no plugin instance came free within {timeout:?} (all {} busy)",
                            self.limits.max_instances
                        )));
                    }
                }
            }
        };
        // The instance first, then the set: an instance warmed for a set
        // that was switched to meanwhile then matches it.
        let idle = {
            let mut idle = self.idle.lock().expect("idle lock");
            let warm = idle.pop();
            if idle.is_empty() {
                // The calls running now, this one included, plus a spare.
                let busy = self.limits.max_instances - self.running.available_permits();
                let wanted = (busy + 1).min(self.limits.max_instances);
                self.wanted
                    .fetch_max(wanted, std::sync::atomic::Ordering::Relaxed);
                self.wants_spare.notify_one();
            }
            warm
        };
        let bundle = self.bundle();
        // The two slow paths are boxed: inline, their futures (an
        // instantiation's is kilobytes) would make every call's future
        // that large, and be copied on every decision.
        let mut warm = match idle {
            Some(warm) => warm,
            None => {
                self.services.metrics.instantiations.inc();
                Box::pin(self.instantiate()).await?
            }
        };
        if warm.generation != bundle.generation && bundle.generation != 0 {
            self.services.metrics.late_loads.inc();
            Box::pin(load(&mut warm, &bundle, self.limits.load_timeout)).await?;
        }
        let started = std::time::Instant::now();
        warm.arm(started, timeout);
        // The epoch deadline stops guest code; this stops a host import that
        // hangs. Either way the instance is dropped with the future (a
        // commit in progress goes on in its own task: see `records`).
        let deadline = warm
            .store
            .data()
            .call_deadline
            .unwrap_or_else(|| started + timeout * 4);
        let outcome =
            tokio::time::timeout_at(deadline.into(), call(&mut warm, Lent::default())).await;
        if timeout == self.limits.call_timeout {
            // Only calls of the usual budget: a bulk call's length says
            // nothing about how soon the next decision starts.
            self.observe_call(started.elapsed());
        }
        match outcome {
            Ok(Ok(value)) => {
                // An instance of a set no longer in use is dropped: the
                // switch put instances warmed for the new set in its place.
                if warm.generation == self.bundle.read().expect("bundle lock").generation {
                    self.idle.lock().expect("idle lock").push(warm);
                }
                Ok(value)
            }
            Ok(Err(err)) => {
                tracing::warn!("discarding a plugin instance: {err:?}");
                Err(fault(&err))
            }
            Err(_) => Err(Error::Plugin {
                fault: Fault::Deadline,
                message: format!(
                    "a host call made by the plugin did not finish within {:?}",
                    timeout * 4
                ),
            }),
        }
    }

    /// Folds one call's duration into the running mean (1/16 weight).
    fn observe_call(&self, took: Duration) {
        let sample = took.as_nanos().min(u128::from(u64::MAX)) as u64;
        let mean = self.mean_call_ns.load(Ordering::Relaxed);
        let next = if mean == 0 {
            sample
        } else {
            mean - mean / 16 + sample / 16
        };
        self.mean_call_ns.store(next, Ordering::Relaxed);
    }

    /// Warms instances until as many are alive as are wanted (one more than
    /// the most calls seen running when the last idle one was taken), so
    /// the next call that needs one finds it ready.
    async fn warm_spare(&self) -> Result<(), Error> {
        loop {
            let busy = self.limits.max_instances - self.running.available_permits();
            let alive = self.idle_count() + busy;
            let bundle = self.bundle();
            if alive >= self.wanted.load(std::sync::atomic::Ordering::Relaxed)
                || bundle.generation == 0
            {
                return Ok(());
            }
            let warm = self.loaded(&bundle).await?;
            if self.bundle().generation == warm.generation {
                self.idle.lock().expect("idle lock").push(warm);
                self.services.metrics.spares.inc();
            }
        }
    }

    /// Number of idle warm instances (for tests and metrics).
    pub(crate) fn idle_count(&self) -> usize {
        self.idle.lock().expect("idle lock").len()
    }
}

/// Loads `bundle` into `warm` within `timeout`: from the prepared set when
/// an instance has given one, else from the files, and then keeps the set as
/// this instance prepares it for the next.
async fn load(warm: &mut Warm, bundle: &PolicyBundle, timeout: Duration) -> Result<(), Error> {
    warm.arm(std::time::Instant::now(), timeout);
    let prepared_loads = warm.store.data().services.metrics.prepared_loads.clone();
    if let Some(prepared) = bundle.prepared.get() {
        let loaded = warm
            .plugin
            .load_prepared(&mut warm.store, prepared)
            .await
            .map_err(|e| load_fault(&e, timeout))?;
        if loaded.is_ok() {
            prepared_loads.inc();
            warm.generation = bundle.generation;
            return Ok(());
        }
        tracing::warn!("the plugin refused its own prepared policy set; loading the files");
    }
    load_files(warm, &bundle.schema, &bundle.files, timeout).await?;
    prepare(warm, bundle, timeout).await?;
    warm.generation = bundle.generation;
    Ok(())
}

/// Loads the policy files into `warm` (armed by the caller), which
/// validates them; the plugin's summary of the set.
async fn load_files(
    warm: &mut Warm,
    schema: &PolicyFile,
    files: &[PolicyFile],
    timeout: Duration,
) -> Result<Summary, Error> {
    warm.plugin
        .load(&mut warm.store, schema, files)
        .await
        .map_err(|e| load_fault(&e, timeout))?
}

/// Keeps `bundle` in the form `warm` (which holds it loaded from the files)
/// prepares it in, for the next instances to load, unless one did already.
async fn prepare(warm: &mut Warm, bundle: &PolicyBundle, timeout: Duration) -> Result<(), Error> {
    if bundle.prepared.get().is_some() {
        return Ok(());
    }
    // Preparing is a call of its own, with a deadline of its own.
    warm.arm(std::time::Instant::now(), timeout);
    let prepared = warm
        .plugin
        .prepared(&mut warm.store)
        .await
        .map_err(|e| load_fault(&e, timeout))?;
    if let Some(prepared) = prepared {
        let _ = bundle.prepared.set(prepared);
    }
    Ok(())
}

/// Classifies an error out of a guest call. The message is one line (the
/// trap, or the error's root cause); the wasm backtrace goes to the debug
/// log.
fn fault(err: &wasmtime::Error) -> Error {
    let detail = format!("{err:?}");
    tracing::debug!("plugin call failed: {detail}");
    let (fault, message) = match err.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => (
            Fault::Deadline,
            "the call ran past its deadline (wasm trap: interrupt)".to_string(),
        ),
        _ if detail.contains("forcing trap when growing memory")
            || detail.contains("memory") && detail.contains("limit") =>
        {
            (
                Fault::MemoryLimit,
                "the plugin ran out of its memory limit".to_string(),
            )
        }
        Some(trap) => (Fault::Trap, format!("wasm trap: {trap}")),
        None => (Fault::Trap, err.root_cause().to_string()),
    };
    Error::Plugin { fault, message }
}

/// [`fault`] for starting an instance or loading the policy set, which
/// names the option to change when it ran out of time.
fn load_fault(err: &wasmtime::Error, timeout: Duration) -> Error {
    match fault(err) {
        Error::Plugin {
            fault: Fault::Deadline,
            ..
        } => Error::Plugin {
            fault: Fault::Deadline,
            message: format!(
                "starting a plugin instance or loading the policy set into it took longer than its {} ms budget: raise --policy-load-timeout-ms",
                timeout.as_millis()
            ),
        },
        other => other,
    }
}

/// Warms spares for `pool` (see [`Pool::warm_spare`]) while it lives: a
/// task of its own, so that no call waits for an instance to start.
pub(crate) fn spares(pool: &Arc<Pool>) {
    let wants = pool.wants_spare.clone();
    let pool = Arc::downgrade(pool);
    tokio::spawn(async move {
        loop {
            // Wakes at least once a second to notice the pool is gone.
            let woken = tokio::time::timeout(Duration::from_secs(1), wants.notified()).await;
            let Some(pool) = pool.upgrade() else {
                return;
            };
            if woken.is_ok()
                && let Err(err) = pool.warm_spare().await
            {
                tracing::warn!("could not warm a spare plugin instance: {err}");
            }
        }
    });
}
