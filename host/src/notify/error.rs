//! Why a notification could not be queued ([`NotifyError`]) or delivered
//! ([`DeliveryError`]).

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

/// Why one delivery failed; the outbox tries it again later.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// The recipient's address is malformed.
    #[error("invalid recipient `{0}`")]
    InvalidRecipient(String),
    /// The message could not be built from the notification.
    #[error("cannot build the message: {0}")]
    Message(#[source] lettre::error::Error),
    /// The mail server could not be reached, refused the connection's
    /// security or the message.
    #[error("{0}")]
    Transport(#[source] lettre::transport::smtp::Error),
    /// The outbox file could not be written.
    #[error("cannot write `{path}`: {source}")]
    File {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The mail server did not answer in time.
    #[error("no answer within {0:?}")]
    Timeout(std::time::Duration),
}
