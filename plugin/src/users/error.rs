//! Why a lifecycle operation did not happen.

use crate::access::Unavailable;
use crate::model::Decision;
use crate::ports::DirError;

/// Why an operation did not happen; nothing changed in any case.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum UserError {
    /// The policies denied it.
    #[error("denied by {:?}", .0.policies)]
    Denied(Decision),
    /// Malformed input or a step that does not apply.
    #[error("invalid: {0}")]
    Invalid(String),
    /// No such record.
    #[error("not found: {0}")]
    NotFound(String),
    /// Already exists, or changed since read.
    #[error("conflict: {0}")]
    Conflict(String),
    /// Retry after this many seconds.
    #[error("rate limited for {0} s")]
    RateLimited(u64),
    /// The directory failed.
    #[error("unavailable: {0}")]
    Unavailable(String),
}

impl From<DirError> for UserError {
    fn from(err: DirError) -> Self {
        match err {
            DirError::Conflict(m) | DirError::Duplicate(m) => Self::Conflict(m),
            DirError::NotFound(m) => Self::NotFound(m),
            DirError::Invalid(m) => Self::Invalid(m),
            DirError::Unavailable(m) => Self::Unavailable(m),
        }
    }
}

impl From<Unavailable> for UserError {
    fn from(err: Unavailable) -> Self {
        Self::Unavailable(err.0)
    }
}
