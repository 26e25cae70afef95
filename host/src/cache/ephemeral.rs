//! Short-lived values any node can read back: sign-in state and sessions.

use async_trait::async_trait;

use super::CacheError;

/// Short-lived values any node can read back: sign-in state (`state`,
/// `nonce`, PKCE verifier) and sessions, kept in the same store as the status
/// cache so a sign-in begun on one node can finish on another.
#[async_trait]
pub trait EphemeralStore: Send + Sync + 'static {
    /// Stores `value` under (`namespace`, `key`) for `ttl`, replacing any.
    async fn put_ephemeral(
        &self,
        namespace: &str,
        key: &str,
        value: &str,
        ttl: std::time::Duration,
    ) -> Result<(), CacheError>;
    /// Reads a value without consuming it.
    async fn get_ephemeral(&self, namespace: &str, key: &str)
    -> Result<Option<String>, CacheError>;
    /// Reads and deletes a value in one step: of two concurrent takers only
    /// one gets it (single use).
    async fn take_ephemeral(
        &self,
        namespace: &str,
        key: &str,
    ) -> Result<Option<String>, CacheError>;
    /// Deletes a value.
    async fn delete_ephemeral(&self, namespace: &str, key: &str) -> Result<(), CacheError>;
}
