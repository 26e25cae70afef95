use crate::bindings::wasi::logging::logging::{self, Level};
use crate::state::HostState;

impl logging::Host for HostState {
    async fn log(
        &mut self,
        level: Level,
        context: String,
        message: String,
    ) -> wasmtime::Result<()> {
        match level {
            Level::Trace => tracing::trace!(target: "plugin", context, "{message}"),
            Level::Debug => tracing::debug!(target: "plugin", context, "{message}"),
            Level::Info => tracing::info!(target: "plugin", context, "{message}"),
            Level::Warn => tracing::warn!(target: "plugin", context, "{message}"),
            Level::Error | Level::Critical => {
                tracing::error!(target: "plugin", context, "{message}")
            }
        }
        Ok(())
    }
}
