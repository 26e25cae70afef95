//! No caching at all: every read goes to the directory.

use async_trait::async_trait;

use super::{CacheError, StatusCache};
use crate::bindings::types::{Account, Organization, Staff};

/// A [`StatusCache`] that never holds anything.
#[derive(Default)]
pub struct NoCache;

#[async_trait]
impl StatusCache for NoCache {
    fn tier(&self) -> &'static str {
        "none"
    }

    fn summary(&self) -> String {
        "no status cache".into()
    }

    // Nothing to read ...
    async fn get(&self, _: &str) -> Result<Option<Account>, CacheError> {
        Ok(None)
    }

    async fn get_organization(&self, _: &str) -> Result<Option<Organization>, CacheError> {
        Ok(None)
    }

    async fn get_staff(&self, _: &str) -> Result<Option<Staff>, CacheError> {
        Ok(None)
    }

    // ... nothing kept ...
    async fn put(&self, _: Account) -> Result<(), CacheError> {
        Ok(())
    }

    async fn put_organization(&self, _: Organization) -> Result<(), CacheError> {
        Ok(())
    }

    async fn put_staff(&self, _: Staff) -> Result<(), CacheError> {
        Ok(())
    }

    // ... and nothing to drop.
    async fn invalidate(&self, _: &str) -> Result<(), CacheError> {
        Ok(())
    }

    async fn invalidate_organization(&self, _: &str) -> Result<(), CacheError> {
        Ok(())
    }

    async fn invalidate_staff(&self, _: &str) -> Result<(), CacheError> {
        Ok(())
    }
}
