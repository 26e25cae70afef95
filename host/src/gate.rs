//! [`PartnerGate`]: the host as a library. Build one with [`Builder`], then
//! ask it for decisions; `partnergate serve` is a thin HTTP layer on top.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use tokio::sync::{Notify, watch};

use crate::bindings::access;
use crate::bindings::org_users::{self, BulkAction, NewUser, Target, UserChanges, UserQuery};
use crate::bindings::sign_in::{self, SignedIn};
use crate::bindings::types::ExternalIdentity;
use crate::bindings::types::{
    AuditPage, MemberPage, Membership, OnboardingRequest, OnboardingStatus, Organization,
};
use crate::cache::StatusCache;
use crate::cache::memory::MemoryCache;
use crate::clock::Clock;
use crate::directory::Directory;
use crate::directory::sqlite::SqliteDirectory;
use crate::error::Error;
use crate::notify::Mailer;
use crate::policies::PolicySource;
use crate::pool::{Limits, Pool};
use crate::runtime::{self, Artifact};
use crate::state::Services;

pub use crate::decision::{AuthorizeRequest, Decision, DecisionKind};

/// The plugin component built with this host (`plugin/`, release, LTO).
pub const PLUGIN_WASM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/partnergate_plugin.wasm"));

/// Which component to load.
#[derive(Clone, Debug)]
pub enum PluginSource {
    /// [`PLUGIN_WASM`].
    Embedded,
    /// A component file.
    File(PathBuf),
    /// Component bytes.
    Bytes(Vec<u8>),
}

/// The summary of the policy set in use.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PolicySummary {
    /// Content hash reported by the plugin.
    pub version: String,
    /// Number of policies.
    pub policies: u32,
    /// Permits.
    pub permits: u32,
    /// Forbids.
    pub forbids: u32,
    /// Where the set was read from.
    pub source: String,
}

/// Configures and starts a [`PartnerGate`].
pub struct Builder {
    plugin: PluginSource,
    policies: PolicySource,
    artifact_dir: Option<PathBuf>,
    limits: Limits,
    directory: Option<Arc<dyn Directory>>,
    cache: Option<Arc<dyn StatusCache>>,
    clock: Clock,
}

impl Default for Builder {
    fn default() -> Self {
        Self {
            plugin: PluginSource::Embedded,
            policies: PolicySource::Embedded,
            artifact_dir: None,
            limits: Limits::default(),
            directory: None,
            cache: None,
            clock: Clock::system(),
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

    /// The clock the host and the plugin read (default: the system clock).
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Compiles (or loads) the plugin, validates the policy set and warms
    /// one instance. Refuses to start on an invalid policy set.
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
        let (component, artifact) =
            runtime::load_component(&engine, &wasm, self.artifact_dir.as_deref())?;
        let compile_time = started.elapsed();
        let directory: Arc<dyn Directory> = match self.directory {
            Some(directory) => directory,
            None => Arc::new(
                SqliteDirectory::in_memory(self.clock.clone())
                    .map_err(|e| Error::Unavailable(e.to_string()))?,
            ),
        };
        let services = Services {
            directory,
            cache: self
                .cache
                .unwrap_or_else(|| Arc::new(MemoryCache::new(Duration::from_secs(30)))),
            outbox_ready: Arc::new(Notify::new()),
            clock: self.clock,
        };
        tracing::info!(
            directory = services.directory.summary(),
            cache = services.cache.summary(),
            ?artifact,
            ?compile_time,
            "plugin ready"
        );
        let pool = Pool::new(&engine, &component, services.clone(), self.limits)?;
        let (schema, files) = self.policies.read()?;
        pool.install(schema, files).await?;
        Ok(PartnerGate {
            pool: Arc::new(pool),
            policies: self.policies,
            services,
            artifact,
        })
    }
}

/// A running PartnerGate host. Cheap to clone; clones share the pool.
#[derive(Clone)]
pub struct PartnerGate {
    pool: Arc<Pool>,
    policies: PolicySource,
    services: Services,
    artifact: Artifact,
}

impl PartnerGate {
    /// A builder with embedded defaults.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// Decides a request. An `Err` is a denial the caller could not get a
    /// decision for (bad request, plugin fault, unavailable backend).
    pub async fn authorize(&self, request: &AuthorizeRequest) -> Result<Decision, Error> {
        let context = match &request.context {
            serde_json::Value::Null => String::new(),
            serde_json::Value::Object(_) => request.context.to_string(),
            _ => {
                return Err(Error::InvalidRequest(
                    "context must be a JSON object".into(),
                ));
            }
        };
        let wit = access::Request {
            principal: request.principal.clone(),
            action: request.action.clone(),
            resource: request.resource.clone(),
            context,
        };
        let result = self
            .pool
            .run(move |warm| {
                Box::pin(async move {
                    warm.plugin
                        .partnergate_b2b_access()
                        .call_authorize(&mut warm.store, &wit)
                        .await
                })
            })
            .await?;
        match result {
            Ok(decision) => Ok(decision.into()),
            Err(access::Error::InvalidRequest(m)) => Err(Error::InvalidRequest(m)),
            Err(access::Error::Unavailable(m)) => Err(Error::Unavailable(m)),
            Err(access::Error::NotLoaded) => {
                Err(Error::Engine("the plugin has no policy set loaded".into()))
            }
            Err(access::Error::InternalError(m)) => Err(Error::Engine(
                m.unwrap_or_else(|| "plugin internal error".into()),
            )),
        }
    }

    /// Checks the policy set at `source` exactly as a load would, without
    /// putting it in use.
    pub async fn validate_policies(&self, source: &PolicySource) -> Result<PolicySummary, Error> {
        let (schema, files) = source.read()?;
        let summary = self.pool.validate(&schema, &files).await?;
        Ok(summary_of(&summary, source))
    }

    /// Re-reads the configured policy source and puts it in use if it
    /// validates; otherwise the current set stays in use and the problems are
    /// returned.
    pub async fn reload_policies(&self) -> Result<PolicySummary, Error> {
        let (schema, files) = self.policies.read()?;
        let bundle = self.pool.install(schema, files).await?;
        tracing::info!(
            version = bundle.summary.version,
            source = self.policies.describe(),
            "policy set reloaded"
        );
        Ok(summary_of(&bundle.summary, &self.policies))
    }

    /// The policy set in use.
    pub fn policy_summary(&self) -> PolicySummary {
        summary_of(&self.pool.bundle().summary, &self.policies)
    }

    /// The customer directory behind the plugin.
    pub fn directory(&self) -> &Arc<dyn Directory> {
        &self.services.directory
    }

    /// The status cache behind the plugin.
    pub fn cache(&self) -> &Arc<dyn StatusCache> {
        &self.services.cache
    }

    /// How the component was obtained on this start.
    pub fn artifact(&self) -> &Artifact {
        &self.artifact
    }

    /// Warm instances waiting for a call.
    pub fn idle_instances(&self) -> usize {
        self.pool.idle_count()
    }

    /// The limits calls run under.
    pub fn limits(&self) -> &Limits {
        self.pool.limits()
    }

    /// The clock the host and plugin read.
    pub fn clock(&self) -> &Clock {
        &self.services.clock
    }

    /// Starts delivering the outbox through `mailer` in the background until
    /// the returned handle is stopped or dropped.
    pub fn spawn_outbox(&self, mailer: Arc<dyn Mailer>, poll: Duration) -> OutboxHandle {
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(crate::notify::run_outbox(
            self.services.directory.clone(),
            mailer,
            self.services.clock.clone(),
            self.services.outbox_ready.clone(),
            poll,
            stopped,
        ));
        OutboxHandle {
            stop,
            task: Some(task),
        }
    }

    async fn users<R: Send + 'static>(
        &self,
        call: impl for<'a> FnOnce(
            &'a org_users::Guest,
            &'a mut wasmtime::Store<crate::state::HostState>,
        ) -> crate::pool::Call<'a, R>
        + Send
        + 'static,
    ) -> Result<R, Error> {
        self.pool
            .run(move |warm| call(warm.plugin.partnergate_b2b_org_users(), &mut warm.store))
            .await
    }

    /// Adds a user to an organization (status `invited`, invitation queued).
    pub async fn add_user(
        &self,
        actor: &str,
        organization_id: &str,
        user: NewUser,
    ) -> Result<Membership, Error> {
        let (actor, org) = (actor.to_string(), organization_id.to_string());
        user_result(
            self.users(move |g, s| {
                Box::pin(async move { g.call_add_user(s, &actor, &org, &user).await })
            })
            .await?,
        )
    }

    /// Edits a user.
    pub async fn edit_user(
        &self,
        actor: &str,
        target: Target,
        changes: UserChanges,
    ) -> Result<Membership, Error> {
        let actor = actor.to_string();
        user_result(
            self.users(move |g, s| {
                Box::pin(async move { g.call_edit_user(s, &actor, &target, &changes).await })
            })
            .await?,
        )
    }

    /// Removes a user (status `removed`).
    pub async fn remove_user(&self, actor: &str, target: Target) -> Result<Membership, Error> {
        let actor = actor.to_string();
        user_result(
            self.users(move |g, s| {
                Box::pin(async move { g.call_remove_user(s, &actor, &target).await })
            })
            .await?,
        )
    }

    /// Revokes a user's access.
    pub async fn revoke_user(&self, actor: &str, target: Target) -> Result<Membership, Error> {
        let actor = actor.to_string();
        user_result(
            self.users(move |g, s| {
                Box::pin(async move { g.call_revoke_user(s, &actor, &target).await })
            })
            .await?,
        )
    }

    /// Reinstates a revoked user.
    pub async fn reinstate_user(&self, actor: &str, target: Target) -> Result<Membership, Error> {
        let actor = actor.to_string();
        user_result(
            self.users(move |g, s| {
                Box::pin(async move { g.call_reinstate_user(s, &actor, &target).await })
            })
            .await?,
        )
    }

    /// Re-sends an invited user's invitation (rate-limited).
    pub async fn reinvite_user(&self, actor: &str, target: Target) -> Result<Membership, Error> {
        let actor = actor.to_string();
        user_result(
            self.users(move |g, s| {
                Box::pin(async move { g.call_reinvite_user(s, &actor, &target).await })
            })
            .await?,
        )
    }

    /// Adds 1 to 1000 users; one result each, in order (`Error::InvalidRequest`
    /// for the whole call beyond that).
    pub async fn bulk_add(
        &self,
        actor: &str,
        organization_id: &str,
        users: Vec<NewUser>,
    ) -> Result<Vec<Result<Membership, Error>>, Error> {
        let (actor, org) = (actor.to_string(), organization_id.to_string());
        let results = self
            .users(move |g, s| {
                Box::pin(async move { g.call_bulk_add(s, &actor, &org, &users).await })
            })
            .await?;
        Ok(user_result(results)?.into_iter().map(user_result).collect())
    }

    /// Revokes, reinstates, removes or re-invites 1 to 1000 users; one
    /// result each, in order (`Error::InvalidRequest` for the whole call beyond
    /// that).
    pub async fn bulk_change(
        &self,
        actor: &str,
        action: BulkAction,
        targets: Vec<Target>,
    ) -> Result<Vec<Result<Membership, Error>>, Error> {
        let actor = actor.to_string();
        let results = self
            .users(move |g, s| {
                Box::pin(async move { g.call_bulk_change(s, &actor, action, &targets).await })
            })
            .await?;
        Ok(user_result(results)?.into_iter().map(user_result).collect())
    }

    /// Lists and searches users.
    pub async fn list_users(&self, actor: &str, query: UserQuery) -> Result<MemberPage, Error> {
        let actor = actor.to_string();
        user_result(
            self.users(move |g, s| {
                Box::pin(async move { g.call_list_users(s, &actor, &query).await })
            })
            .await?,
        )
    }

    /// Reads an organization's audit trail, or (`None`) all of it.
    pub async fn read_audit(
        &self,
        actor: &str,
        organization_id: Option<&str>,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<AuditPage, Error> {
        let (actor, org, cursor) = (
            actor.to_string(),
            organization_id.map(String::from),
            cursor.map(String::from),
        );
        user_result(
            self.users(move |g, s| {
                Box::pin(async move {
                    g.call_read_audit(s, &actor, org.as_deref(), cursor.as_deref(), limit)
                        .await
                })
            })
            .await?,
        )
    }

    /// A prospect's onboarding request.
    pub async fn submit_onboarding(
        &self,
        organization_name: &str,
        requester_name: &str,
        requester_email: &str,
    ) -> Result<OnboardingRequest, Error> {
        let (o, n, e) = (
            organization_name.to_string(),
            requester_name.to_string(),
            requester_email.to_string(),
        );
        user_result(
            self.users(move |g, s| {
                Box::pin(async move { g.call_submit_onboarding(s, &o, &n, &e).await })
            })
            .await?,
        )
    }

    /// Approves an onboarding request.
    pub async fn approve_onboarding(
        &self,
        actor: &str,
        request_id: &str,
    ) -> Result<OnboardingRequest, Error> {
        let (actor, id) = (actor.to_string(), request_id.to_string());
        user_result(
            self.users(move |g, s| {
                Box::pin(async move { g.call_approve_onboarding(s, &actor, &id).await })
            })
            .await?,
        )
    }

    /// Rejects an onboarding request.
    pub async fn reject_onboarding(
        &self,
        actor: &str,
        request_id: &str,
        reason: &str,
    ) -> Result<OnboardingRequest, Error> {
        let (actor, id, reason) = (
            actor.to_string(),
            request_id.to_string(),
            reason.to_string(),
        );
        user_result(
            self.users(move |g, s| {
                Box::pin(async move { g.call_reject_onboarding(s, &actor, &id, &reason).await })
            })
            .await?,
        )
    }

    /// Lists onboarding requests (staff).
    pub async fn list_onboarding(
        &self,
        actor: &str,
        status: Option<OnboardingStatus>,
    ) -> Result<Vec<OnboardingRequest>, Error> {
        let actor = actor.to_string();
        user_result(
            self.users(move |g, s| {
                Box::pin(async move { g.call_list_onboarding(s, &actor, status).await })
            })
            .await?,
        )
    }

    /// Creates an approved organization (staff).
    pub async fn create_organization(
        &self,
        actor: &str,
        name: &str,
    ) -> Result<Organization, Error> {
        let (actor, name) = (actor.to_string(), name.to_string());
        user_result(
            self.users(move |g, s| {
                Box::pin(async move { g.call_create_organization(s, &actor, &name).await })
            })
            .await?,
        )
    }
}

impl PartnerGate {
    /// Resolves an identity whose ID token was validated to a customer,
    /// linking it when the sign-in rules allow. `Err(Error::Refused(reason))`
    /// says why not; every link and refusal is audited.
    pub async fn link_identity(&self, identity: ExternalIdentity) -> Result<SignedIn, Error> {
        let result = self
            .pool
            .run(move |warm| {
                Box::pin(async move {
                    warm.plugin
                        .partnergate_b2b_sign_in()
                        .call_link(&mut warm.store, &identity)
                        .await
                })
            })
            .await?;
        result.map_err(sign_in_error)
    }

    /// What the policies decide on `autoLink` for `identity` and the customer
    /// `person_id`, changing nothing (policy tests, explaining a refusal).
    /// `Err(Error::Refused)` when there is no such customer.
    pub async fn decide_link(
        &self,
        identity: ExternalIdentity,
        person_id: &str,
    ) -> Result<Decision, Error> {
        let person_id = person_id.to_string();
        let result = self
            .pool
            .run(move |warm| {
                Box::pin(async move {
                    warm.plugin
                        .partnergate_b2b_sign_in()
                        .call_decide_link(&mut warm.store, &identity, &person_id)
                        .await
                })
            })
            .await?;
        result.map(Decision::from).map_err(sign_in_error)
    }

    /// Whether a session of `person_id`, begun in `organization_id`, may go
    /// on: `Err(Error::Refused)` with the reason whenever a fresh sign-in of
    /// the person would be refused.
    pub async fn check_session(&self, person_id: &str, organization_id: &str) -> Result<(), Error> {
        let (person_id, organization_id) = (person_id.to_string(), organization_id.to_string());
        let result = self
            .pool
            .run(move |warm| {
                Box::pin(async move {
                    warm.plugin
                        .partnergate_b2b_sign_in()
                        .call_check_session(&mut warm.store, &person_id, &organization_id)
                        .await
                })
            })
            .await?;
        result.map_err(sign_in_error)
    }

    /// Puts an ID token or code exchange refused before linking into the
    /// audit trail (`idTokenRefused` by `provider:<provider>`), through the
    /// plugin like every other entry.
    pub async fn record_refusal(
        &self,
        provider: &str,
        issuer: &str,
        reason: &str,
    ) -> Result<(), Error> {
        let (provider, issuer, reason) =
            (provider.to_string(), issuer.to_string(), reason.to_string());
        let result = self
            .pool
            .run(move |warm| {
                Box::pin(async move {
                    warm.plugin
                        .partnergate_b2b_sign_in()
                        .call_record_refusal(&mut warm.store, &provider, &issuer, &reason)
                        .await
                })
            })
            .await?;
        result.map_err(sign_in_error)
    }
}

fn sign_in_error(err: sign_in::Error) -> Error {
    match err {
        sign_in::Error::Unsupported => {
            Error::Unsupported("the loaded plugin does not implement sign-in".into())
        }
        sign_in::Error::Refused(reason) => Error::Refused(reason),
        sign_in::Error::Unavailable(m) => Error::Unavailable(m),
        sign_in::Error::InternalError(m) => {
            Error::Engine(m.unwrap_or_else(|| "plugin internal error".into()))
        }
    }
}

/// The background outbox delivery; stops when stopped or dropped.
pub struct OutboxHandle {
    stop: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl OutboxHandle {
    /// Stops delivery and waits for the worker to finish its current message.
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for OutboxHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

fn user_result<T>(result: Result<T, org_users::Error>) -> Result<T, Error> {
    result.map_err(|err| match err {
        org_users::Error::Unsupported => {
            Error::Unsupported("the loaded plugin does not implement this operation".into())
        }
        org_users::Error::Denied(d) => Error::Denied(d.into()),
        org_users::Error::Invalid(m) => Error::InvalidRequest(m),
        org_users::Error::NotFound(m) => Error::NotFound(m),
        org_users::Error::Conflict(m) => Error::Conflict(m),
        org_users::Error::RateLimited(s) => Error::RateLimited(s),
        org_users::Error::Unavailable(m) => Error::Unavailable(m),
        org_users::Error::InternalError(m) => {
            Error::Engine(m.unwrap_or_else(|| "plugin internal error".into()))
        }
    })
}

fn summary_of(s: &crate::bindings::policy::Summary, source: &PolicySource) -> PolicySummary {
    PolicySummary {
        version: s.version.clone(),
        policies: s.policies,
        permits: s.permits,
        forbids: s.forbids,
        source: source.describe(),
    }
}
