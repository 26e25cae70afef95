//! The background delivery loop: due messages are sent, failures retried
//! with exponential backoff.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, watch};

use super::Mailer;
use super::error::DeliveryError;
use crate::clock::Clock;
use crate::directory::Outbox;

/// Seconds to wait after the `attempts`-th failure: 2, 4, 8 ... up to 10 minutes.
pub fn backoff_secs(attempts: u32) -> u64 {
    2u64.saturating_pow(attempts.saturating_add(1)).min(600)
}

/// The longest one delivery may take.
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(60);

/// Delivers due outbox messages until `shutdown` turns true. Wakes on
/// `ready` (a change queued something) or every `poll`.
pub async fn run_outbox(
    outbox: Arc<dyn Outbox>,
    mailer: Arc<dyn Mailer>,
    clock: Clock,
    ready: Arc<Notify>,
    poll: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    tracing::info!(mailer = mailer.summary(), "outbox delivery started");
    while !*shutdown.borrow() {
        match outbox.due_messages(50).await {
            Ok(messages) => {
                for message in messages {
                    if *shutdown.borrow() {
                        return;
                    }
                    // A server that stops answering must not hold up every
                    // later message: the attempt fails and is retried.
                    let delivered =
                        tokio::time::timeout(DELIVERY_TIMEOUT, mailer.deliver(&message))
                            .await
                            .unwrap_or(Err(DeliveryError::Timeout(DELIVERY_TIMEOUT)));
                    match delivered {
                        Ok(()) => {
                            if let Err(err) = outbox.mark_delivered(message.id).await {
                                tracing::error!(
                                    id = message.id,
                                    "delivered but not recorded (may be sent again): {err}"
                                );
                            }
                        }
                        Err(err) => {
                            let retry_at = clock.now_secs() + backoff_secs(message.attempts);
                            tracing::warn!(
                                id = message.id,
                                attempts = message.attempts + 1,
                                "delivery failed, retrying: {err}"
                            );
                            if let Err(err) = outbox
                                .mark_failed(message.id, &err.to_string(), retry_at)
                                .await
                            {
                                tracing::error!(
                                    id = message.id,
                                    "cannot record the failed attempt: {err}"
                                );
                            }
                        }
                    }
                }
            }
            Err(err) => tracing::warn!("cannot read the outbox: {err}"),
        }
        tokio::select! {
            _ = ready.notified() => {}
            _ = tokio::time::sleep(poll) => {}
            _ = shutdown.changed() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff_secs(0), 2);
        assert_eq!(backoff_secs(1), 4);
        assert_eq!(backoff_secs(3), 16);
        assert_eq!(backoff_secs(40), 600);
    }
}
