//! The outbox file: each message appended as a JSON line, when no SMTP
//! server is configured.

use std::io::Write as _;
use std::path::PathBuf;

use async_trait::async_trait;

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

    async fn deliver(&self, message: &OutboxMessage) -> Result<(), String> {
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
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(|e| format!("cannot open `{}`: {e}", self.path.display()))?;
        writeln!(file, "{line}")
            .and_then(|()| file.sync_data())
            .map_err(|e| e.to_string())
    }
}
