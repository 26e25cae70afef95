use crate::bindings::status_cache;
use crate::bindings::types::{Account, Organization};
use crate::cache::CacheError;
use crate::state::HostState;

impl status_cache::Host for HostState {
    async fn get(&mut self, person_id: String) -> Result<Option<Account>, CacheError> {
        let found = self.services.cache.get(&person_id).await;
        if let Ok(found) = &found
            && self.services.cache.lookups().is_none()
        {
            let tier = self.services.cache.tier();
            self.services.metrics.cache_lookup(tier, found.is_some());
        }
        found
    }

    async fn put(&mut self, value: Account) -> Result<(), CacheError> {
        self.services.cache.put(value).await
    }

    async fn get_organization(
        &mut self,
        organization_id: String,
    ) -> Result<Option<Organization>, CacheError> {
        let found = self.services.cache.get_organization(&organization_id).await;
        if let Ok(found) = &found
            && self.services.cache.lookups().is_none()
        {
            let tier = self.services.cache.tier();
            self.services.metrics.cache_lookup(tier, found.is_some());
        }
        found
    }

    async fn put_organization(&mut self, value: Organization) -> Result<(), CacheError> {
        self.services.cache.put_organization(value).await
    }

    async fn invalidate(&mut self, person_id: String) -> Result<(), CacheError> {
        self.services.cache.invalidate(&person_id).await
    }

    fn convert_error(&mut self, err: CacheError) -> wasmtime::Result<status_cache::Error> {
        match err {
            CacheError::Unavailable(m) => Ok(status_cache::Error::Unavailable(m)),
            err @ CacheError::Internal(_) => Err(wasmtime::Error::msg(err.to_string())),
        }
    }
}
