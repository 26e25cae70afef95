//! The host library's error type.

/// One problem in a policy set, located in its file: the model's type.
pub use crate::model::Problem;

use crate::cache::error::CacheError;
use crate::directory::error::DirectoryError;

/// What went wrong with the plugin itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The call ran past its deadline.
    Deadline,
    /// The plugin tried to use more memory than allowed.
    MemoryLimit,
    /// The plugin trapped (a panic, an unreachable, a host bug).
    Trap,
}

/// Why the host could not answer. Every authorization caller must treat an
/// error as a denial.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The policy set does not parse or validate.
    #[error("policy set is invalid:\n{}", .0.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n"))]
    InvalidPolicies(Vec<Problem>),
    /// The policy files could not be read.
    #[error("cannot read policies: {0}")]
    PolicySource(String),
    /// The request is malformed.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The directory or cache could not be read.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// The plugin trapped, overran its deadline or its memory; the instance
    /// was discarded.
    #[error("plugin failed ({fault:?}): {message}")]
    Plugin {
        /// What kind of failure.
        fault: Fault,
        /// Details for logs.
        message: String,
    },
    /// Too many calls at once; no instance became free in time.
    #[error("busy: {0}")]
    Busy(String),
    /// The engine could not be set up or the plugin not compiled.
    #[error("{0}")]
    Engine(String),
    /// The configuration is wrong.
    #[error("configuration: {0}")]
    Config(String),
    /// The configuration is wrong: `what` could not be used, for the
    /// reason its source gives.
    #[error("configuration: {what}: {source}")]
    Misconfigured {
        /// What could not be used, e.g. "database `sqlite:...`".
        what: String,
        /// Why.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The directory refused or failed, outside a plugin call (loading a
    /// seed, storing a staff record); its error is the source.
    #[error(transparent)]
    Directory(#[from] DirectoryError),
    /// The status cache or the store of sign-in state failed; its error is
    /// the source.
    #[error(transparent)]
    Cache(#[from] CacheError),
    /// The policies denied the operation; nothing changed.
    #[error("denied by policy: {}", if .0.policies.is_empty() { "no policy permits it".to_string() } else { .0.policies.join(", ") })]
    Denied(crate::decision::Decision),
    /// The organization, user or request does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// A conflicting record exists, or the record changed since it was read.
    #[error("conflict: {0}")]
    Conflict(String),
    /// Too soon; retry after this many seconds.
    #[error("rate limited: retry in {0} s")]
    RateLimited(u64),
    /// A sign-in provider is not discovered yet (retried in the
    /// background); the rest of the service works.
    #[error("{0}")]
    ProviderUnavailable(String),
    /// A sign-in was refused; the text says why.
    #[error("sign-in refused: {0}")]
    Refused(String),
    /// The operation is not implemented by the loaded plugin.
    #[error("unsupported: {0}")]
    Unsupported(String),
}

impl Error {
    /// [`Error::Misconfigured`]: `what` could not be used because of
    /// `source`.
    pub fn misconfigured(
        what: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self::Misconfigured {
            what: what.into(),
            source: Box::new(source),
        }
    }

    /// Whether this is a decision that could not be made now, as opposed to
    /// one the policies made or a request that was wrong: the plugin trapped
    /// or ran past its deadline or memory, no instance came free in time, or
    /// the records could not be read. Nothing is allowed; the caller should
    /// retry, and must not show it as the policies' answer.
    pub fn is_decision_unavailable(&self) -> bool {
        self.unavailable_reason().is_some()
    }

    /// A short, stable name of why no decision could be made, for the API's
    /// `reason` and the metrics label; `None` for every other error (the
    /// one place that says which errors are unavailability).
    pub fn unavailable_reason(&self) -> Option<&'static str> {
        Some(match self {
            Error::Plugin {
                fault: Fault::Deadline,
                ..
            } => "deadline",
            Error::Plugin {
                fault: Fault::MemoryLimit,
                ..
            } => "memory_limit",
            Error::Plugin {
                fault: Fault::Trap, ..
            } => "plugin_trap",
            Error::Busy(_) => "busy",
            Error::Unavailable(_)
            | Error::Directory(DirectoryError::Unavailable(_))
            | Error::Cache(_) => "records_unavailable",
            Error::Engine(_) => "engine",
            _ => return None,
        })
    }
}
