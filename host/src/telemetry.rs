//! What the host tells operators: Prometheus metrics (served at `/metrics`
//! by `partnergate serve`) and the optional decision log (JSON lines,
//! sampled). A leaf: it knows decisions and requests, nothing above.

use std::collections::HashMap;
use std::io::Write;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Metric, Registry};

use crate::decision::{AuthorizeRequest, Decision, DecisionKind};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EffectLabels {
    effect: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PolicyLabels {
    policy: String,
    effect: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CacheLabels {
    tier: &'static str,
    result: &'static str,
}

/// The host's metrics.
pub struct Metrics {
    registry: Registry,
    deciding: Family<PolicyLabels, Counter>,
    /// `decisions` (by effect) for allow and deny, taken from the family
    /// once.
    by_effect: [Counter; 2],
    /// `deciding`'s counters by policy id, for allow and deny: taken from
    /// the family the first time a policy decides with that effect, so that
    /// counting a decision copies no label.
    by_policy: [RwLock<HashMap<String, Counter, foldhash::fast::RandomState>>; 2],
    failures: Counter,
    /// `failures` by reason (`deadline`, `busy`, `plugin_trap`, ...).
    unavailable: Family<ReasonLabels, Counter>,
    latency: Histogram,
    reloads: Family<OutcomeLabels, Counter>,
    shadow: Family<OutcomeLabels, Counter>,
    cache: Family<CacheLabels, Counter>,
    /// `cache`'s hit and miss counters by tier, taken from the family the
    /// first time a tier is counted (a host has one or two tiers).
    cache_by_tier: RwLock<Vec<(&'static str, [Counter; 2])>>,
    idle: Gauge,
    /// Calls that found no warm instance and started one.
    pub(crate) instantiations: Counter,
    /// Calls that waited for one of the running slots.
    pub(crate) waits: Counter,
    /// Calls whose instance had to load the policy set first.
    pub(crate) late_loads: Counter,
    /// Spare instances warmed in the background.
    pub(crate) spares: Counter,
    /// Instances that loaded a policy set from its prepared form.
    pub(crate) prepared_loads: Counter,
    /// Decisions the host gave again without a plugin call.
    pub(crate) reused: Counter,
    /// Record reads that went to the directory because the node could not
    /// confirm it had seen every change.
    pub(crate) cache_untrusted: Counter,
    log_dropped: Counter,
}

/// A metric's name and help text.
type Help = (&'static str, &'static str);

/// Registers `metric` with its name and help text and gives it back: a
/// metric is a handle, so the registered copy and the one kept count
/// together.
fn registered<M: Metric + Clone>(registry: &mut Registry, (name, help): Help, metric: M) -> M {
    registry.register(name, help, metric.clone());
    metric
}

/// Registers a family of counters with its name and help text.
fn family<L>(registry: &mut Registry, help: Help) -> Family<L, Counter>
where
    L: EncodeLabelSet + Clone + std::hash::Hash + Eq + std::fmt::Debug + Send + Sync + 'static,
{
    registered(registry, help, Family::default())
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("partnergate");
        // Each metric's name (after the prefix) and help text.
        let [
            decisions_help,
            deciding_help,
            cache_help,
            latency_help,
            idle_help,
        ] = [
            ("decisions", "Decisions of authorize, by effect"),
            (
                "decision_policies",
                "Decisions by deciding policy id and effect",
            ),
            (
                "cache_lookups",
                "Status cache lookups by tier (memory; first-level and redis) and result (hit, miss, bypassed)",
            ),
            (
                "decision_duration_seconds",
                "Time to decide one request, plugin call included",
            ),
            (
                "pool_idle_instances",
                "Warm plugin instances waiting for a call",
            ),
        ];
        let decisions: Family<EffectLabels, Counter> = family(&mut registry, decisions_help);
        let deciding: Family<PolicyLabels, Counter> = family(&mut registry, deciding_help);
        let cache: Family<CacheLabels, Counter> = family(&mut registry, cache_help);
        let unavailable: Family<ReasonLabels, Counter> = family(
            &mut registry,
            (
                "decisions_unavailable",
                "decision_failures by reason: deadline, busy, plugin_trap, memory_limit, records_unavailable, engine",
            ),
        );
        let buckets = exponential_buckets(0.000_005, 2.0, 16);
        let latency = registered(&mut registry, latency_help, Histogram::new(buckets));
        let idle = registered(&mut registry, idle_help, Gauge::default());
        let [reloads, shadow] = [
            ("policy_reloads", "Policy set reloads, by outcome"),
            (
                "shadow_decisions",
                "Decisions of the shadow policy set: agree, disagree or failed",
            ),
        ]
        .map(|help| family::<OutcomeLabels>(&mut registry, help));
        let [failures, instantiations, waits, late_loads, spares, prepared_loads, reused, cache_untrusted, log_dropped] = [
            ("decision_failures", "Requests no decision could be made for (the plugin failed or ran out of time, no instance came free, records unreadable): answered 503 decision_unavailable, never as a decision"),
            ("pool_instantiations", "Calls that found no warm instance and started one"),
            ("pool_waits", "Calls that waited because --max-instances were running"),
            ("pool_late_loads", "Calls whose instance had to load the policy set in use first (a reload warms instances so that none should)"),
            ("pool_spares", "Spare instances warmed in the background after a call took the last idle one"),
            ("pool_prepared_loads", "Instances that loaded the policy set from the form an instance prepared after validating it (no parsing or validating again)"),
            ("decisions_reused", "Decisions given again by the host without a plugin call: the records they rest on kept their stamps"),
            ("cache_untrusted_reads", "Record reads that went to the directory because this node could not confirm it had seen every change (change log unread within the window, shared cache unreachable)"),
            ("decision_log_dropped", "Decision log lines dropped because its writer fell behind"),
        ]
        .map(|help| registered(&mut registry, help, Counter::default()));
        // One at a time: the family's guard must go before it creates the
        // next.
        let allowed = decisions
            .get_or_create(&EffectLabels { effect: "allow" })
            .clone();
        let denied = decisions
            .get_or_create(&EffectLabels { effect: "deny" })
            .clone();
        let by_effect = [allowed, denied];
        Self {
            by_effect,
            by_policy: Default::default(),
            log_dropped,
            late_loads,
            spares,
            prepared_loads,
            reused,
            cache_untrusted,
            registry,
            deciding,
            failures,
            unavailable,
            latency,
            reloads,
            shadow,
            cache,
            cache_by_tier: Default::default(),
            idle,
            instantiations,
            waits,
        }
    }
}

impl Metrics {
    /// Counts one decision of `authorize` and its latency.
    pub(crate) fn decided(&self, decision: &Decision, took: Duration) {
        let i = match decision.decision {
            DecisionKind::Allow => 0,
            DecisionKind::Deny => 1,
        };
        self.by_effect[i].inc();
        for policy in &decision.policies {
            if let Some(counter) = self.by_policy[i]
                .read()
                .expect("metrics lock")
                .get(policy.as_str())
            {
                counter.inc();
                continue;
            }
            let counter = self
                .deciding
                .get_or_create(&PolicyLabels {
                    policy: policy.clone(),
                    effect: effect(decision.decision),
                })
                .clone();
            counter.inc();
            self.by_policy[i]
                .write()
                .expect("metrics lock")
                .insert(policy.clone(), counter);
        }
        self.latency.observe(took.as_secs_f64());
    }

    /// Counts a request no decision could be made for, and why.
    pub(crate) fn failed(&self, reason: &'static str) {
        self.failures.inc();
        self.unavailable
            .get_or_create(&ReasonLabels { reason })
            .inc();
    }

    /// Counts a reload: `applied` or `refused`.
    pub(crate) fn reloaded(&self, outcome: &str) {
        self.reloads
            .get_or_create(&OutcomeLabels {
                outcome: outcome.into(),
            })
            .inc();
    }

    /// Counts a shadow decision: `agree`, `disagree` or `failed`.
    pub(crate) fn shadowed(&self, outcome: &str) {
        self.shadow
            .get_or_create(&OutcomeLabels {
                outcome: outcome.into(),
            })
            .inc();
    }

    /// Counts a status-cache lookup in `tier` (`memory`, `redis`).
    pub(crate) fn cache_lookup(&self, tier: &'static str, hit: bool) {
        let i = usize::from(!hit);
        let known = self.cache_by_tier.read().expect("metrics lock");
        if let Some((_, counters)) = known.iter().find(|(t, _)| *t == tier) {
            counters[i].inc();
            return;
        }
        drop(known);
        let counter = |result| {
            self.cache
                .get_or_create(&CacheLabels { tier, result })
                .clone()
        };
        let counters = [counter("hit"), counter("miss")];
        counters[i].inc();
        let mut known = self.cache_by_tier.write().expect("metrics lock");
        if !known.iter().any(|(t, _)| *t == tier) {
            known.push((tier, counters));
        }
    }

    /// The metrics in Prometheus' text format, with `idle` warm instances
    /// and the lookups a cache counts itself (its counters are mirrored).
    pub fn render(
        &self,
        idle: usize,
        cache_lookups: Option<Vec<(&'static str, &'static str, u64)>>,
        log_dropped: u64,
    ) -> String {
        self.idle.set(idle as i64);
        let seen = self.log_dropped.get();
        if log_dropped > seen {
            self.log_dropped.inc_by(log_dropped - seen);
        }
        for (tier, result, total) in cache_lookups.unwrap_or_default() {
            let counter = self.cache.get_or_create(&CacheLabels { tier, result });
            let seen = counter.get();
            if total > seen {
                counter.inc_by(total - seen);
            }
        }
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String does not fail");
        out
    }
}

fn effect(kind: DecisionKind) -> &'static str {
    match kind {
        DecisionKind::Allow => "allow",
        DecisionKind::Deny => "deny",
    }
}

/// Lines waiting for the decision log's writer; beyond this many, lines
/// are dropped (and counted) rather than slow decisions down.
pub const DECISION_LOG_BACKLOG: usize = 8192;

enum LogEntry {
    Line(String),
    /// Answered once every line before it is written and flushed.
    Flush(std::sync::mpsc::SyncSender<()>),
}

/// The decision log: a sample of the decisions as JSON lines, written by a
/// thread of its own so that a slow disk never holds a decision up.
pub struct DecisionLog {
    lines: std::sync::mpsc::SyncSender<LogEntry>,
    /// Every how-manieth decision is written, from `sample`.
    every: u64,
    seen: AtomicU64,
    dropped: AtomicU64,
}

impl DecisionLog {
    /// A log to `sink` of a `sample` (0 to 1) of the decisions: 1 writes
    /// each, 0.1 one in ten (deterministically, so a test or an audit can
    /// count on it).
    pub fn new(mut sink: Box<dyn Write + Send>, sample: f64) -> Self {
        let every = if sample <= 0.0 {
            u64::MAX
        } else {
            (1.0 / sample.min(1.0)).round().max(1.0) as u64
        };
        let (lines, received) = std::sync::mpsc::sync_channel::<LogEntry>(DECISION_LOG_BACKLOG);
        // Ends when the log is dropped, after writing what was sent.
        std::thread::Builder::new()
            .name("decision-log".into())
            .spawn(move || {
                for entry in received {
                    match entry {
                        LogEntry::Line(line) => {
                            if let Err(err) = writeln!(sink, "{line}") {
                                tracing::warn!("decision log: {err}");
                            }
                        }
                        LogEntry::Flush(done) => {
                            let _ = done.send(());
                        }
                    }
                    if let Err(err) = sink.flush() {
                        tracing::warn!("decision log: {err}");
                    }
                }
            })
            .expect("the decision log's thread starts");
        Self {
            lines,
            every,
            seen: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
        }
    }

    /// Writes one line for a decision of `request`, if sampled: the time,
    /// the request (principal, action, resource, context; never a token or
    /// cookie, which requests do not carry), the decision, the deciding
    /// policies, the policy set's version and the latency. Dropped (and
    /// counted) when the writer is [`DECISION_LOG_BACKLOG`] lines behind.
    pub(crate) fn write(
        &self,
        request: &AuthorizeRequest,
        answer: Result<&Decision, &crate::error::Error>,
        policy_set: &str,
        took: Duration,
    ) {
        let n = self.seen.fetch_add(1, Ordering::Relaxed);
        if self.every == u64::MAX || !n.is_multiple_of(self.every) {
            return;
        }
        let (decision, policies, errors) = match answer {
            Ok(d) => (effect(d.decision), d.policies.clone(), d.errors.clone()),
            Err(err) => ("deny", Vec::new(), vec![err.to_string()]),
        };
        let line = serde_json::json!({
            "time": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            "principal": request.principal,
            "action": request.action,
            "resource": request.resource,
            "context": request.context,
            "decision": decision,
            "policies": policies,
            "errors": errors,
            "policy_set": policy_set,
            "latency_us": took.as_micros() as u64,
        });
        if self
            .lines
            .try_send(LogEntry::Line(line.to_string()))
            .is_err()
        {
            let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if dropped.is_power_of_two() {
                tracing::warn!(dropped, "the decision log falls behind: lines dropped");
            }
        }
    }

    /// Waits until every line written so far is in the sink.
    pub fn flush(&self) {
        let (done, flushed) = std::sync::mpsc::sync_channel(1);
        if self.lines.send(LogEntry::Flush(done)).is_ok() {
            let _ = flushed.recv();
        }
    }

    /// Lines dropped because the writer fell behind.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sample_of_a_tenth_writes_one_decision_in_ten() {
        #[derive(Clone, Default)]
        struct Shared(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
        impl Write for Shared {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let out = Shared::default();
        let log = DecisionLog::new(Box::new(out.clone()), 0.1);
        let request = AuthorizeRequest::new("customer:bob", "browse", "store:main");
        let decision = Decision {
            decision: DecisionKind::Allow,
            policies: vec!["active-member-browses".into()],
            errors: vec![],
        };
        for _ in 0..30 {
            log.write(&request, Ok(&decision), "v1", Duration::from_micros(12));
        }
        log.flush();
        assert_eq!(log.dropped(), 0);
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0]["policies"][0], "active-member-browses");
        assert_eq!(lines[0]["latency_us"], 12);
        assert_eq!(lines[0]["policy_set"], "v1");
        assert_eq!(DecisionLog::new(Box::new(out.clone()), 0.0).every, u64::MAX);
    }

    #[test]
    fn a_slow_sink_drops_lines_instead_of_holding_decisions_up() {
        struct Stuck(std::sync::Arc<std::sync::Mutex<()>>);
        impl Write for Stuck {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                drop(self.0.lock().unwrap());
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let gate = std::sync::Arc::new(std::sync::Mutex::new(()));
        let held = gate.lock().unwrap();
        let log = DecisionLog::new(Box::new(Stuck(gate.clone())), 1.0);
        let request = AuthorizeRequest::new("customer:bob", "browse", "store:main");
        let decision = Decision {
            decision: DecisionKind::Allow,
            policies: vec![],
            errors: vec![],
        };
        let started = std::time::Instant::now();
        for _ in 0..DECISION_LOG_BACKLOG + 100 {
            log.write(&request, Ok(&decision), "v1", Duration::ZERO);
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "writes never wait for the sink"
        );
        assert!(log.dropped() >= 99, "dropped {}", log.dropped());
        drop(held);
        log.flush();
    }
}
