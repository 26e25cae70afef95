//! Shadow evaluation: a candidate policy set decides every request beside
//! the one in use, on instances of its own, after the answer is given; it
//! never changes an answer. Disagreements (a different effect) are counted
//! and logged with their request.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

use crate::decision::{AuthorizeRequest, Decision};
use crate::model::AccessRequest;
use crate::policies::PolicySource;
use crate::pool::Pool;
use crate::telemetry::Metrics;

/// The candidate set and what it did.
pub(super) struct Shadow {
    pub(super) pool: Pool,
    pub(super) source: PolicySource,
    agree: AtomicU64,
    disagree: AtomicU64,
    failed: AtomicU64,
}

/// The shadow set's counts since start (`GET /v1/shadow`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ShadowReport {
    /// Where the candidate set was read from.
    pub source: String,
    /// Its version (content hash).
    pub version: String,
    /// Requests it decided as the set in use did.
    pub agree: u64,
    /// Requests it decided otherwise (the other effect).
    pub disagree: u64,
    /// Requests it could not decide.
    pub failed: u64,
}

impl Shadow {
    pub(super) fn new(pool: Pool, source: PolicySource) -> Self {
        Self {
            pool,
            source,
            agree: AtomicU64::new(0),
            disagree: AtomicU64::new(0),
            failed: AtomicU64::new(0),
        }
    }

    pub(super) fn report(&self) -> ShadowReport {
        ShadowReport {
            source: self.source.describe(),
            version: self.pool.bundle().summary.version.clone(),
            agree: self.agree.load(Ordering::Relaxed),
            disagree: self.disagree.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
        }
    }

    /// Decides `asked` with the candidate set in the background and compares
    /// with `live`, the answer given.
    pub(super) fn compare(
        self: &Arc<Self>,
        request: AuthorizeRequest,
        asked: AccessRequest,
        live: Decision,
        metrics: Arc<Metrics>,
    ) {
        let shadow = self.clone();
        tokio::spawn(async move {
            let outcome = shadow.pool.decide((&asked).into()).await;
            let (count, label) = match &outcome {
                Ok(candidate) if candidate.decision == live.decision => (&shadow.agree, "agree"),
                Ok(_) => (&shadow.disagree, "disagree"),
                Err(_) => (&shadow.failed, "failed"),
            };
            count.fetch_add(1, Ordering::Relaxed);
            metrics.shadowed(label);
            match outcome {
                Ok(candidate) if candidate.decision != live.decision => tracing::warn!(
                    principal = request.principal,
                    action = request.action,
                    resource = request.resource,
                    context = %request.context,
                    live = ?live.decision,
                    live_policies = ?live.policies,
                    shadow = ?candidate.decision,
                    shadow_policies = ?candidate.policies,
                    "the shadow policy set disagrees"
                ),
                Ok(_) => {}
                Err(err) => tracing::warn!(
                    principal = request.principal,
                    action = request.action,
                    "the shadow policy set could not decide: {err}"
                ),
            }
        });
    }
}
