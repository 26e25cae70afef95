//! Why a status-cache call failed: the `status-cache` import's error, apart
//! from the backends so that the bindings depend on nothing else here.

/// Why a cache call failed.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// The backend cannot be reached; callers read the directory instead.
    #[error("status cache unavailable: {0}")]
    Unavailable(String),
    /// A bug in the backend: traps the plugin call.
    #[error("status cache failed: {0}")]
    Internal(String),
}
