//! The outbox file: each message appended as a JSON line, when no SMTP
//! server is configured.

use std::io::Write as _;
use std::path::PathBuf;

use async_trait::async_trait;

use super::error::DeliveryError;
use super::{Mailer, render};
use crate::directory::OutboxMessage;

/// Appends each message as a JSON line to a file (no SMTP configured).
pub struct FileMailer {
    path: PathBuf,
}

impl FileMailer {
    /// A mailer writing to `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }
}

#[async_trait]
impl Mailer for FileMailer {
    fn summary(&self) -> String {
        format!("outbox file {}", self.path.display())
    }

    async fn deliver(&self, message: &OutboxMessage) -> Result<(), DeliveryError> {
        let n = &message.notification;
        let (subject, body) = render(n);
        let line = serde_json::json!({
            "id": message.id,
            "kind": n.kind.name(),
            "to": n.recipient,
            "subject": subject,
            "body": body,
            "params": n.params,
        });
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .and_then(|mut file| {
                writeln!(file, "{line}")?;
                file.sync_data()
            })
            .map_err(|source| DeliveryError::File {
                path: self.path.clone(),
                source,
            })
    }
}
