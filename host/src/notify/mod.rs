//! Delivering the outbox: invitations, approvals and rejections queued by
//! directory changes are sent by SMTP when it is configured, or appended to a
//! local JSON-lines file otherwise. Delivery is retried with exponential
//! backoff; a message is marked delivered only after the server accepted it,
//! and carries a Message-ID derived from its outbox id, so a resend after a
//! crash can be recognised as the same message.

//! # Layout
//! - this module: the [`Mailer`] trait, rendering, address checks;
//! - [`smtp`]: SMTP delivery (plain, STARTTLS, implicit TLS);
//! - [`mod@file`]: the JSON-lines file used without SMTP;
//! - [`worker`]: the background delivery loop with its backoff;
//! - [`error`]: the `notifications` import's error.

pub mod error;
pub mod file;
pub mod smtp;
pub mod worker;

use async_trait::async_trait;
use lettre::message::Mailbox;

use crate::directory::OutboxMessage;
use crate::model::{Notification, NotificationKind};

pub use error::{DeliveryError, NotifyError};
pub use file::FileMailer;
pub use smtp::{SmtpMailer, SmtpSecurity, SmtpSettings};
pub use worker::{backoff_secs, run_outbox};

/// The address as a mailbox, if it is one.
pub fn valid_address(address: &str) -> Option<Mailbox> {
    address.parse::<Mailbox>().ok()
}

/// Where delivered messages go.
#[async_trait]
pub trait Mailer: Send + Sync + 'static {
    /// What this is, for logs.
    fn summary(&self) -> String;
    /// Delivers one message; `Err` is retried later.
    async fn deliver(&self, message: &OutboxMessage) -> Result<(), DeliveryError>;
}

fn param<'a>(n: &'a Notification, key: &str) -> &'a str {
    n.params
        .iter()
        .find(|(k, _)| k == key)
        .map_or("", |(_, v)| v.as_str())
}

/// Subject and plain-text body of a notification.
pub fn render(n: &Notification) -> (String, String) {
    let name = param(n, "name");
    let org = param(n, "organization");
    match n.kind {
        NotificationKind::Invitation => (
            format!("You are invited to {org}'s store account"),
            format!(
                "Hello {name},\n\n{org} has invited you to buy in our store. Sign in with this email address to accept.\n"
            ),
        ),
        NotificationKind::Approval => (
            format!("{org} can now trade with us"),
            format!(
                "Hello {name},\n\nYour request for {org} was approved. Sign in with this email address to manage your organization's users.\n"
            ),
        ),
        NotificationKind::Rejection => (
            format!("Your request for {org}"),
            format!(
                "Hello {name},\n\nWe cannot approve the request for {org} at this time.\n{}\n",
                param(n, "reason")
            ),
        ),
    }
}
