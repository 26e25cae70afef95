//! Why a notification could not be queued.

/// Why a notification could not be queued (the `notifications` import).
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// The address is malformed.
    #[error("invalid recipient `{0}`")]
    InvalidRecipient(String),
    /// The outbox cannot be written.
    #[error("outbox unavailable: {0}")]
    Unavailable(String),
    /// A bug: traps the plugin call.
    #[error("outbox failed: {0}")]
    Internal(String),
}
