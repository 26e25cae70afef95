use crate::bindings::notifications::{self, Notification};
use crate::notify::NotifyError;
use crate::state::HostState;

impl notifications::Host for HostState {
    async fn send(&mut self, message: Notification) -> Result<(), NotifyError> {
        self.services.notifier.send(message).await
    }

    fn convert_error(&mut self, err: NotifyError) -> wasmtime::Result<notifications::Error> {
        match err {
            NotifyError::InvalidRecipient(m) => Ok(notifications::Error::InvalidRecipient(m)),
            NotifyError::Unavailable(m) => Ok(notifications::Error::Unavailable(m)),
            err @ NotifyError::Internal(_) => Err(wasmtime::Error::msg(err.to_string())),
        }
    }
}
