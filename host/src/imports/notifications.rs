//! `notifications`: a message the plugin sends outside a change goes to
//! the outbox, which delivers it.

use crate::bindings::notifications::{self, Notification};
use crate::convert::Conv;
use crate::directory::DirectoryError;
use crate::notify::NotifyError;
use crate::state::HostState;

impl notifications::Host for HostState {
    async fn send(&mut self, message: Notification) -> Result<(), NotifyError> {
        if crate::notify::valid_address(&message.recipient).is_none() {
            return Err(NotifyError::InvalidRecipient(message.recipient));
        }
        crate::records::enqueue(&self.services, message.conv())
            .await
            .map_err(|err| match err {
                DirectoryError::Unavailable(m) => NotifyError::Unavailable(m),
                other => NotifyError::Internal(other.to_string()),
            })
    }

    fn convert_error(&mut self, err: NotifyError) -> wasmtime::Result<notifications::Error> {
        match err {
            NotifyError::InvalidRecipient(m) => Ok(notifications::Error::InvalidRecipient(m)),
            NotifyError::Unavailable(m) => Ok(notifications::Error::Unavailable(m)),
            err @ NotifyError::Internal(_) => Err(wasmtime::Error::msg(err.to_string())),
        }
    }
}
