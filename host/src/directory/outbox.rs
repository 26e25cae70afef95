//! The notification outbox: messages a change queued in its own
//! transaction (or the plugin queued on its own), delivered in the
//! background by `notify::worker`, which is all that reads it.

use async_trait::async_trait;

use super::error::DirectoryError;
use crate::model::Notification;

/// A notification waiting in the outbox.
#[derive(Clone, Debug)]
pub struct OutboxMessage {
    /// Outbox id, stable across restarts (used as the Message-ID).
    pub id: u64,
    /// The message.
    pub notification: Notification,
    /// Failed attempts so far.
    pub attempts: u32,
}

/// Where notifications wait until delivered. Every directory backend is
/// one (changes queue their notifications in their own transaction).
#[async_trait]
pub trait Outbox: Send + Sync + 'static {
    /// Puts one notification in the outbox on its own.
    async fn enqueue(&self, notification: Notification) -> Result<(), DirectoryError>;
    /// Undelivered messages due now, oldest first.
    async fn due_messages(&self, limit: u32) -> Result<Vec<OutboxMessage>, DirectoryError>;
    /// Records a delivery.
    async fn mark_delivered(&self, id: u64) -> Result<(), DirectoryError>;
    /// Records a failed attempt and when to retry.
    async fn mark_failed(&self, id: u64, error: &str, retry_at: u64) -> Result<(), DirectoryError>;
}
