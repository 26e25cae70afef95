//! No caching at all: every read goes to the directory.

use async_trait::async_trait;

use super::{CacheError, StatusCache};
use crate::bindings::types::{Account, Organization};

/// A [`StatusCache`] that never holds accounts or organizations (ephemeral
/// sign-in values are kept in process: they cannot be read from anywhere
/// else).
pub struct NoCache {
    ephemeral: super::memory::MemoryCache,
}

impl Default for NoCache {
    fn default() -> Self {
        Self {
            ephemeral: super::memory::MemoryCache::new(std::time::Duration::ZERO),
        }
    }
}

#[async_trait]
impl super::EphemeralStore for NoCache {
    async fn put_ephemeral(
        &self,
        namespace: &str,
        key: &str,
        value: &str,
        ttl: std::time::Duration,
    ) -> Result<(), CacheError> {
        self.ephemeral
            .put_ephemeral(namespace, key, value, ttl)
            .await
    }

    async fn get_ephemeral(
        &self,
        namespace: &str,
        key: &str,
    ) -> Result<Option<String>, CacheError> {
        self.ephemeral.get_ephemeral(namespace, key).await
    }

    async fn take_ephemeral(
        &self,
        namespace: &str,
        key: &str,
    ) -> Result<Option<String>, CacheError> {
        self.ephemeral.take_ephemeral(namespace, key).await
    }

    async fn delete_ephemeral(&self, namespace: &str, key: &str) -> Result<(), CacheError> {
        self.ephemeral.delete_ephemeral(namespace, key).await
    }
}

#[async_trait]
impl StatusCache for NoCache {
    fn summary(&self) -> String {
        "no status cache".into()
    }

    async fn get(&self, _: &str) -> Result<Option<Account>, CacheError> {
        Ok(None)
    }

    async fn put(&self, _: Account) -> Result<(), CacheError> {
        Ok(())
    }

    async fn get_organization(&self, _: &str) -> Result<Option<Organization>, CacheError> {
        Ok(None)
    }

    async fn put_organization(&self, _: Organization) -> Result<(), CacheError> {
        Ok(())
    }

    async fn invalidate(&self, _: &str) -> Result<(), CacheError> {
        Ok(())
    }

    async fn invalidate_organization(&self, _: &str) -> Result<(), CacheError> {
        Ok(())
    }
}
