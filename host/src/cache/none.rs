//! No caching at all: every read goes to the directory.

use std::sync::Arc;

use async_trait::async_trait;

use super::{CacheError, CacheRead, FillTicket, Stamped, StatusCache};
use crate::model::{Account, Organization, Staff};
use crate::touched::Touched;

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
    async fn get(&self, _: &str) -> Result<CacheRead<Arc<Stamped<Account>>>, CacheError> {
        Ok(CacheRead::Miss(FillTicket::refused()))
    }

    async fn get_organization(
        &self,
        _: &str,
    ) -> Result<CacheRead<Arc<Stamped<Organization>>>, CacheError> {
        Ok(CacheRead::Miss(FillTicket::refused()))
    }

    async fn get_staff(&self, _: &str) -> Result<CacheRead<Arc<Stamped<Staff>>>, CacheError> {
        Ok(CacheRead::Miss(FillTicket::refused()))
    }

    // ... nothing kept ...
    async fn put(&self, _: Arc<Stamped<Account>>, _: FillTicket) -> Result<(), CacheError> {
        Ok(())
    }

    async fn put_organization(
        &self,
        _: Arc<Stamped<Organization>>,
        _: FillTicket,
    ) -> Result<(), CacheError> {
        Ok(())
    }

    async fn put_staff(&self, _: Arc<Stamped<Staff>>, _: FillTicket) -> Result<(), CacheError> {
        Ok(())
    }

    // ... and nothing to drop.
    fn drop_local(&self, _: &Touched) {}

    async fn invalidate(&self, _: &Touched) -> Result<(), CacheError> {
        Ok(())
    }

    async fn forget_all(&self) -> Result<(), CacheError> {
        Ok(())
    }
}
