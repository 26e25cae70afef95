//! Short-lived values any node can read back: sign-in state and sessions.

use std::time::Duration;

use async_trait::async_trait;

use super::CacheError;

/// One short-lived value to store: where, what and for how long.
#[derive(Debug, Clone, Copy)]
pub struct Entry<'a> {
    /// What the value is (`oidc-state`, `session`).
    pub namespace: &'a str,
    /// Which one of its namespace.
    pub key: &'a str,
    /// The value.
    pub value: &'a str,
    /// How long it may be read back.
    pub ttl: Duration,
}

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
        ttl: Duration,
    ) -> Result<(), CacheError> {
        self.put_entry(Entry {
            namespace,
            key,
            value,
            ttl,
        })
        .await
    }
    /// Stores one entry, replacing any under its namespace and key: what a
    /// store implements for [`EphemeralStore::put_ephemeral`].
    async fn put_entry(&self, entry: Entry<'_>) -> Result<(), CacheError>;
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
