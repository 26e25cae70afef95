//! [`PartnerGate`]: the host as a library. Build one with [`Builder`], then
//! ask it for decisions; `partnergate serve` is a thin HTTP layer on top.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::bindings::access;
use crate::bindings::types::{Decision as WitDecision, Effect};
use crate::cache::StatusCache;
use crate::cache::memory::MemoryCache;
use crate::directory::Directory;
use crate::directory::memory::MemoryDirectory;
use crate::error::Error;
use crate::notify::{MemoryOutbox, Notifier};
use crate::policies::PolicySource;
use crate::pool::{Limits, Pool};
use crate::runtime::{self, Artifact};
use crate::state::Services;

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

/// One authorization question.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizeRequest {
    /// `customer:<id>` or `staff:<id>`.
    pub principal: String,
    /// A Cedar action of the schema, e.g. `placeOrder`.
    pub action: String,
    /// `store:<id>`, `organization:<id>`, `customer:<id>` or `onboarding:<id>`.
    pub resource: String,
    /// The action's context, e.g. `{"orderTotal": 12000}`.
    #[serde(default)]
    pub context: serde_json::Value,
}

impl AuthorizeRequest {
    /// A request with an empty context.
    pub fn new(principal: impl Into<String>, action: impl Into<String>, resource: impl Into<String>) -> Self {
        Self {
            principal: principal.into(),
            action: action.into(),
            resource: resource.into(),
            context: serde_json::Value::Object(Default::default()),
        }
    }

    /// The same request with `context`.
    pub fn with_context(mut self, context: serde_json::Value) -> Self {
        self.context = context;
        self
    }
}

/// A decision and the reasons for it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// `allow` or `deny`.
    pub decision: DecisionKind,
    /// The `@id`s of the policies that decided: the permits that allowed, or
    /// the forbids that denied. Empty on a denial means no policy permits.
    pub policies: Vec<String>,
    /// Errors that forced a denial (unknown principal, evaluation errors).
    pub errors: Vec<String>,
}

/// Allow or deny.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DecisionKind {
    /// Permitted.
    Allow,
    /// Refused.
    Deny,
}

impl Decision {
    /// Whether the request is allowed.
    pub fn is_allowed(&self) -> bool {
        self.decision == DecisionKind::Allow
    }
}

impl From<WitDecision> for Decision {
    fn from(d: WitDecision) -> Self {
        let decision = match d.effect {
            Effect::Allow if d.errors.is_empty() => DecisionKind::Allow,
            _ => DecisionKind::Deny,
        };
        Self { decision, policies: d.policies, errors: d.errors }
    }
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
    notifier: Option<Arc<dyn Notifier>>,
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
            notifier: None,
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

    /// The customer directory (default: an empty in-memory directory).
    pub fn directory(mut self, directory: Arc<dyn Directory>) -> Self {
        self.directory = Some(directory);
        self
    }

    /// The status cache (default: in-process, 30 s TTL).
    pub fn cache(mut self, cache: Arc<dyn StatusCache>) -> Self {
        self.cache = Some(cache);
        self
    }

    /// The notification outbox (default: in memory).
    pub fn notifier(mut self, notifier: Arc<dyn Notifier>) -> Self {
        self.notifier = Some(notifier);
        self
    }

    /// Compiles (or loads) the plugin, validates the policy set and warms
    /// one instance. Refuses to start on an invalid policy set.
    pub async fn build(self) -> Result<PartnerGate, Error> {
        let wasm = match &self.plugin {
            PluginSource::Embedded => PLUGIN_WASM.to_vec(),
            PluginSource::Bytes(bytes) => bytes.clone(),
            PluginSource::File(path) => std::fs::read(path)
                .map_err(|e| Error::Config(format!("cannot read plugin `{}`: {e}", path.display())))?,
        };
        let started = Instant::now();
        let engine = runtime::engine()?;
        let (component, artifact) = runtime::load_component(&engine, &wasm, self.artifact_dir.as_deref())?;
        let compile_time = started.elapsed();
        let services = Services {
            directory: self.directory.unwrap_or_else(|| Arc::new(MemoryDirectory::new())),
            cache: self.cache.unwrap_or_else(|| Arc::new(MemoryCache::new(Duration::from_secs(30)))),
            notifier: self.notifier.unwrap_or_else(|| Arc::new(MemoryOutbox::default())),
        };
        tracing::info!(
            directory = services.directory.summary(),
            cache = services.cache.summary(),
            notifier = services.notifier.summary(),
            ?artifact,
            ?compile_time,
            "plugin ready"
        );
        let pool = Pool::new(&engine, &component, services.clone(), self.limits)?;
        let (schema, files) = self.policies.read()?;
        pool.install(schema, files).await?;
        Ok(PartnerGate { pool: Arc::new(pool), policies: self.policies, services, artifact })
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
            _ => return Err(Error::InvalidRequest("context must be a JSON object".into())),
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
                Box::pin(async move { warm.plugin.partnergate_b2b_access().call_authorize(&mut warm.store, &wit).await })
            })
            .await?;
        match result {
            Ok(decision) => Ok(decision.into()),
            Err(access::Error::InvalidRequest(m)) => Err(Error::InvalidRequest(m)),
            Err(access::Error::Unavailable(m)) => Err(Error::Unavailable(m)),
            Err(access::Error::NotLoaded) => Err(Error::Engine("the plugin has no policy set loaded".into())),
            Err(access::Error::InternalError(m)) => Err(Error::Engine(m.unwrap_or_else(|| "plugin internal error".into()))),
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
        tracing::info!(version = bundle.summary.version, source = self.policies.describe(), "policy set reloaded");
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
