//! [`PartnerGate`]: the host as a library. Build one with [`Builder`], then
//! ask it for decisions; `partnergate serve` is a thin HTTP layer on top.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use tokio::sync::watch;

use crate::cache::{EphemeralStore, StatusCache};
use crate::clock::Clock;
use crate::error::Error;
use crate::notify::Mailer;
use crate::policies::PolicySource;
use crate::pool::{Limits, Pool};
use crate::reuse::Asked;
use crate::runtime::Artifact;
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

/// What `/v1/health` says: `ok`, or `degraded` with the problems.
#[derive(Clone, Debug, Serialize)]
pub struct Health {
    /// `ok` or `degraded`.
    pub status: &'static str,
    /// Each part checked.
    pub checks: HealthChecks,
    /// What is wrong, one sentence each; empty when `ok`.
    pub problems: Vec<String>,
}

/// The parts [`PartnerGate::health`] checks.
#[derive(Clone, Debug, Serialize)]
pub struct HealthChecks {
    /// The customer directory.
    pub directory: Check,
    /// The status cache (Redis when configured).
    pub cache: Check,
    /// Following the change log (what keeps the cache from answering
    /// with an old record).
    pub change_log: Check,
}

/// One part's state.
#[derive(Clone, Debug, Serialize)]
pub struct Check {
    /// Whether it works.
    pub ok: bool,
    /// What is wrong with it, in words that name no address or secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Check {
    fn of(state: Result<(), String>) -> Self {
        Self {
            ok: state.is_ok(),
            error: state.err(),
        }
    }
}

mod builder;
mod call;
mod shadow;
mod signin;
mod users;

pub use shadow::ShadowReport;

pub use builder::Builder;

/// A running PartnerGate host. Cheap to clone; clones share the pool.
#[derive(Clone)]
pub struct PartnerGate {
    pool: Arc<Pool>,
    /// Permits of the calls that read many records (listings, audit, bulk).
    listings: Arc<tokio::sync::Semaphore>,
    policies: PolicySource,
    services: Services,
    ephemeral: Arc<dyn EphemeralStore>,
    artifact: Artifact,
    /// The decision log, if one is kept.
    decision_log: Option<Arc<crate::telemetry::DecisionLog>>,
    /// The candidate policy set deciding beside this one, if any.
    shadow: Option<Arc<shadow::Shadow>>,
    /// The directory's last health probe.
    health_probe: Arc<tokio::sync::Mutex<Option<Probe>>>,
}

/// A health probe: when it was made, and what it found.
type Probe = (std::time::Instant, Result<(), String>);

impl PartnerGate {
    /// A builder with embedded defaults.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// Decides a request. An `Err` is never a decision: either the request
    /// is wrong (`InvalidRequest`), or no decision could be made now
    /// ([`Error::is_decision_unavailable`]: the plugin failed or ran out of
    /// time, no instance came free, the records could not be read). Allow
    /// nothing on an `Err`, and do not show the second kind as the
    /// policies' answer: it is worth a retry.
    pub async fn authorize(&self, request: &AuthorizeRequest) -> Result<Decision, Error> {
        let context = context_text(&request.context)?;
        let asked = texts_of(request, &context);
        // Only a shadow set needs the request again.
        let shadowed = self.shadow.as_ref().map(|_| asked.to_request());
        let started = std::time::Instant::now();
        let answer = self.pool.decide(asked).await;
        let took = started.elapsed();
        let metrics = &self.services.metrics;
        match &answer {
            Ok(decision) => metrics.decided(decision, took),
            Err(err) => {
                if let Some(reason) = err.unavailable_reason() {
                    metrics.failed(reason);
                }
            }
        }
        if let Some(log) = &self.decision_log {
            let version = self.pool.bundle().summary.version.clone();
            log.write(request, answer.as_ref(), &version, took);
        }
        if let (Some(shadow), Some(asked), Ok(live)) = (&self.shadow, shadowed, &answer) {
            shadow.compare(request.clone(), asked, live.clone(), metrics.clone());
        }
        answer
    }

    /// What is degraded on this node: the directory answers a query within a
    /// second, the shared cache is connected, the change log was read
    /// within the trust window. A degraded node still answers: decisions
    /// that need what is down fail with `Unavailable` until it returns.
    pub async fn health(&self) -> Health {
        // `/v1/health` answers anyone: what is wrong is said in fixed words
        // (no address, no backend's message); the details go to the log.
        let check = |what: &str, state: Result<(), String>, problem: &str| {
            state.map_err(|detail| {
                tracing::debug!("health: {what}: {detail}");
                problem.to_string()
            })
        };
        let directory = Check::of(check(
            "directory",
            self.probe_directory().await,
            "the directory is unreachable: decisions on records not cached, and every change, fail",
        ));
        let cache = Check::of(check(
            "cache",
            self.services.cache.healthy(),
            "the shared status cache (Redis) is unreachable: records are read from the directory",
        ));
        let change_log = Check::of(check(
            "change log",
            self.services.sync.problem().map_or(Ok(()), Err),
            "the change log has not been read within the trust window: records are read from the directory",
        ));
        let problems: Vec<String> = [&directory, &cache, &change_log]
            .into_iter()
            .filter_map(|check| check.error.clone())
            .collect();
        Health {
            status: if problems.is_empty() {
                "ok"
            } else {
                "degraded"
            },
            checks: HealthChecks {
                directory,
                cache,
                change_log,
            },
            problems,
        }
    }

    /// Whether the directory answers a query within a second; asked at
    /// most once a second (health is polled, and must stay cheap), the
    /// last answer given meanwhile.
    async fn probe_directory(&self) -> Result<(), String> {
        let mut last = self.health_probe.lock().await;
        if let Some((at, answer)) = &*last
            && at.elapsed() < Duration::from_secs(1)
        {
            return answer.clone();
        }
        let directory = crate::records::fresh(&self.services);
        let answer = match tokio::time::timeout(Duration::from_secs(1), directory.is_empty()).await
        {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(err)) => Err(format!("the directory is unreachable: {err}")),
            Err(_) => Err("the directory did not answer within 1 s".to_string()),
        };
        *last = Some((std::time::Instant::now(), answer.clone()));
        answer
    }

    /// What the shadow policy set did since start, if one is configured.
    pub fn shadow_report(&self) -> Option<ShadowReport> {
        self.shadow.as_ref().map(|s| s.report())
    }

    /// The metrics in Prometheus' text format.
    pub fn metrics(&self) -> String {
        self.services.metrics.render(
            self.pool.idle_count(),
            self.services.cache.lookups(),
            self.decision_log.as_ref().map_or(0, |log| log.dropped()),
        )
    }

    /// Decides many requests on one warm instance, in order: for a page that
    /// shows only the buttons the policies permit. Each item is what
    /// [`Self::authorize`] would answer (a decision the host may give again
    /// is given without a call); the whole call fails only when the plugin
    /// does (then every item is a denial), and when it calls the plugin it
    /// counts as a listing (see `--max-listings`) with the deadline of a
    /// bulk call.
    pub async fn authorize_many(
        &self,
        requests: &[AuthorizeRequest],
    ) -> Result<Vec<Result<Decision, Error>>, Error> {
        let mut answers: Vec<Option<Result<Decision, Error>>> = Vec::with_capacity(requests.len());
        let mut asked = Vec::with_capacity(requests.len());
        let mut keys = Vec::with_capacity(requests.len());
        for request in requests {
            let context = match context_text(&request.context) {
                Ok(context) => context,
                Err(err) => {
                    answers.push(Some(Err(err)));
                    continue;
                }
            };
            let texts = texts_of(request, &context);
            let key = self.pool.reuse_key(texts);
            match self.pool.reused(key, texts).await {
                Some(decision) => answers.push(Some(Ok(decision.into()))),
                None => {
                    asked.push(texts.to_request());
                    keys.push(key);
                    answers.push(None);
                }
            }
        }
        let mut decided = Vec::new().into_iter();
        if !asked.is_empty() {
            let _permit = self
                .listings
                .acquire()
                .await
                .map_err(|_| Error::Unavailable("the host is shutting down".into()))?;
            let base = self.limits().call_timeout;
            let budget = base + base / 100 * asked.len().min(10_000) as u32;
            let (asked, generation, answered) = self
                .pool
                .run_within(budget, move |warm, _| {
                    Box::pin(async move {
                        let mut answered = Vec::with_capacity(asked.len());
                        for request in &asked {
                            let asked = Asked::from(request);
                            answered.push(warm.plugin.authorize(&mut warm.store, asked).await?);
                        }
                        Ok((asked, warm.generation(), answered))
                    })
                })
                .await?;
            for ((request, answer), key) in asked.iter().zip(&answered).zip(keys) {
                if let Ok(answer) = answer {
                    self.pool
                        .keep(key, Asked::from(request), generation, answer);
                }
            }
            decided = answered.into_iter();
        }
        Ok(answers
            .into_iter()
            .map(|answer| match answer {
                Some(given) => given,
                None => decided
                    .next()
                    .expect("one decision per request asked")
                    .map(|answer| answer.decision.into()),
            })
            .collect())
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
        if let Some(shadow) = &self.shadow {
            // The candidate is re-read too; a broken one keeps its old set.
            let reloaded = match shadow.source.read() {
                Ok((schema, files)) => shadow.pool.install(schema, files).await.map(|_| ()),
                Err(err) => Err(err),
            };
            if let Err(err) = reloaded {
                tracing::warn!("the shadow policy set was not reloaded: {err}");
            }
        }
        let installed = match self.policies.read() {
            Ok((schema, files)) => self.pool.install(schema, files).await,
            Err(err) => Err(err),
        };
        self.services.metrics.reloaded(if installed.is_ok() {
            "applied"
        } else {
            "refused"
        });
        let bundle = installed?;
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

    /// Where sign-in state and sessions live.
    pub fn ephemeral(&self) -> &Arc<dyn EphemeralStore> {
        &self.ephemeral
    }

    /// The status cache behind the plugin.
    pub fn cache(&self) -> &Arc<dyn StatusCache> {
        &self.services.cache
    }

    /// Stores a merchant staff member (staff are managed outside the
    /// plugin: by the merchant's own back office, through here) and drops
    /// their cached record on every node, so the next decision reads the
    /// new one.
    ///
    /// Returns `Unavailable` when the directory cannot be written (nothing
    /// changed).
    pub async fn put_staff(&self, staff: &crate::model::Staff) -> Result<(), Error> {
        Ok(crate::records::put_staff(&self.services, staff.clone()).await?)
    }

    /// How the component was obtained on this start.
    pub fn artifact(&self) -> &Artifact {
        &self.artifact
    }

    /// Starts instances holding the policy set in use until `n` wait for a
    /// call (at most `--max-instances`): before a burst, or in tests that
    /// need calls to run at once.
    pub async fn warm_up(&self, n: usize) -> Result<(), Error> {
        self.pool.warm_up(n).await
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

/// The texts of `request`, with its `context` in the plugin's form.
fn texts_of<'a>(request: &'a AuthorizeRequest, context: &'a str) -> Asked<'a> {
    Asked {
        principal: &request.principal,
        action: &request.action,
        resource: &request.resource,
        context,
        organization: request.organization.as_deref(),
    }
}

/// The context as the plugin is given it: a JSON object as text, or empty
/// for none (null).
fn context_text(context: &serde_json::Value) -> Result<String, Error> {
    // `to_string` writes into a buffer sized for a small object at once.
    let text = |value: &serde_json::Value| {
        serde_json::to_string(value).expect("a JSON value always serializes")
    };
    match context {
        serde_json::Value::Null => Ok(String::new()),
        serde_json::Value::Object(_) if has_fractional_form(context) => {
            Ok(text(&whole_numbers(context.clone())))
        }
        serde_json::Value::Object(_) => Ok(text(context)),
        _ => Err(Error::InvalidRequest(
            "context must be a JSON object".into(),
        )),
    }
}

/// `value` with every number that is whole and exactly representable
/// (below 2^53 in size) written as an integer: JSON does not tell `12000.0`
/// from `12000` (JSON Schema's `integer` accepts both), and Cedar has no
/// fractions. Larger numbers written with a fraction stay as they are (and
/// are refused): a float cannot say which integer was meant.
fn whole_numbers(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Number(n) if n.as_i64().is_none() && n.as_u64().is_none() => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() <= 9_007_199_254_740_992.0 => {
                Value::from(f as i64)
            }
            _ => Value::Number(n),
        },
        Value::Array(items) => Value::Array(items.into_iter().map(whole_numbers).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, whole_numbers(v)))
                .collect(),
        ),
        other => other,
    }
}

/// Whether `value` holds a number that is not an integer as written.
fn has_fractional_form(value: &serde_json::Value) -> bool {
    use serde_json::Value;
    match value {
        Value::Number(n) => n.as_i64().is_none() && n.as_u64().is_none(),
        Value::Array(items) => items.iter().any(has_fractional_form),
        Value::Object(map) => map.values().any(has_fractional_form),
        _ => false,
    }
}

fn summary_of(s: &crate::model::Summary, source: &PolicySource) -> PolicySummary {
    PolicySummary {
        version: s.version.clone(),
        policies: s.policies,
        permits: s.permits,
        forbids: s.forbids,
        source: source.describe(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_numbers_in_a_context_are_integers_and_fractions_stay() {
        let context = serde_json::json!({"orderTotal": 51224372.0, "nested": [2.0, 2.5], "n": 7});
        assert_eq!(
            whole_numbers(context),
            serde_json::json!({"orderTotal": 51224372, "nested": [2, 2.5], "n": 7})
        );
        assert!(whole_numbers(serde_json::json!(51224372.0)).is_i64());
        assert_eq!(
            whole_numbers(serde_json::json!(1e300)),
            serde_json::json!(1e300)
        );
    }
}
