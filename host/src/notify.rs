//! Notifications the plugin queues (invitations, approvals, rejections).

use std::sync::Mutex;

use async_trait::async_trait;

use crate::bindings::notifications::Notification;

/// Why a notification could not be queued.
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

/// Where notifications go.
#[async_trait]
pub trait Notifier: Send + Sync + 'static {
    /// What this backend is, for logs.
    fn summary(&self) -> String;
    /// Queues one notification.
    async fn send(&self, message: Notification) -> Result<(), NotifyError>;
}

/// Keeps notifications in memory, for embedding and tests.
#[derive(Default)]
pub struct MemoryOutbox {
    sent: Mutex<Vec<Notification>>,
}

impl MemoryOutbox {
    /// The notifications queued so far.
    pub fn sent(&self) -> Vec<Notification> {
        self.sent.lock().expect("outbox lock").clone()
    }
}

#[async_trait]
impl Notifier for MemoryOutbox {
    fn summary(&self) -> String {
        "in-memory outbox".into()
    }

    async fn send(&self, message: Notification) -> Result<(), NotifyError> {
        let at = message.recipient.find('@');
        if at.is_none_or(|i| i == 0 || i + 1 == message.recipient.len()) {
            return Err(NotifyError::InvalidRecipient(message.recipient));
        }
        self.sent.lock().expect("outbox lock").push(message);
        Ok(())
    }
}
