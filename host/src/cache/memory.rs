//! An in-process status cache with a hard TTL per entry.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::{CacheError, EphemeralStore, StatusCache};
use crate::bindings::types::{Account, Organization};

/// An in-process [`StatusCache`].
pub struct MemoryCache {
    ttl: Duration,
    entries: Mutex<HashMap<String, (Instant, Account)>>,
    organizations: Mutex<HashMap<String, (Instant, Organization)>>,
    ephemeral: Mutex<HashMap<(String, String), (Instant, String)>>,
}

impl MemoryCache {
    /// A cache whose entries live at most `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
            organizations: Mutex::new(HashMap::new()),
            ephemeral: Mutex::new(HashMap::new()),
        }
    }
}

#[async_trait]
impl StatusCache for MemoryCache {
    fn summary(&self) -> String {
        format!("in-process status cache (TTL {:?})", self.ttl)
    }

    async fn get(&self, person_id: &str) -> Result<Option<Account>, CacheError> {
        let mut entries = self.entries.lock().expect("cache lock");
        match entries.get(person_id) {
            Some((at, account)) if at.elapsed() < self.ttl => Ok(Some(account.clone())),
            Some(_) => {
                entries.remove(person_id);
                Ok(None)
            }
            None => Ok(None),
        }
    }

    async fn put(&self, account: Account) -> Result<(), CacheError> {
        let mut entries = self.entries.lock().expect("cache lock");
        entries.insert(account.person.id.clone(), (Instant::now(), account));
        Ok(())
    }

    async fn get_organization(
        &self,
        organization_id: &str,
    ) -> Result<Option<Organization>, CacheError> {
        let orgs = self.organizations.lock().expect("cache lock");
        Ok(orgs
            .get(organization_id)
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, org)| org.clone()))
    }

    async fn put_organization(&self, organization: Organization) -> Result<(), CacheError> {
        let mut orgs = self.organizations.lock().expect("cache lock");
        orgs.insert(organization.id.clone(), (Instant::now(), organization));
        Ok(())
    }

    async fn invalidate(&self, person_id: &str) -> Result<(), CacheError> {
        self.entries.lock().expect("cache lock").remove(person_id);
        Ok(())
    }

    async fn invalidate_organization(&self, organization_id: &str) -> Result<(), CacheError> {
        self.organizations
            .lock()
            .expect("cache lock")
            .remove(organization_id);
        self.entries
            .lock()
            .expect("cache lock")
            .retain(|_, (_, account)| {
                account
                    .membership
                    .as_ref()
                    .is_none_or(|m| m.organization_id != organization_id)
            });
        Ok(())
    }
}

#[async_trait]
impl EphemeralStore for MemoryCache {
    async fn put_ephemeral(
        &self,
        namespace: &str,
        key: &str,
        value: &str,
        ttl: Duration,
    ) -> Result<(), CacheError> {
        let mut values = self.ephemeral.lock().expect("cache lock");
        values.retain(|_, (expires, _)| *expires > Instant::now());
        values.insert(
            (namespace.into(), key.into()),
            (Instant::now() + ttl, value.into()),
        );
        Ok(())
    }

    async fn get_ephemeral(
        &self,
        namespace: &str,
        key: &str,
    ) -> Result<Option<String>, CacheError> {
        let values = self.ephemeral.lock().expect("cache lock");
        let found = values.get(&(namespace.to_string(), key.to_string()));
        Ok(found
            .filter(|(expires, _)| *expires > Instant::now())
            .map(|(_, v)| v.clone()))
    }

    async fn take_ephemeral(
        &self,
        namespace: &str,
        key: &str,
    ) -> Result<Option<String>, CacheError> {
        let mut values = self.ephemeral.lock().expect("cache lock");
        let found = values.remove(&(namespace.to_string(), key.to_string()));
        Ok(found
            .filter(|(expires, _)| *expires > Instant::now())
            .map(|(_, v)| v))
    }

    async fn delete_ephemeral(&self, namespace: &str, key: &str) -> Result<(), CacheError> {
        self.ephemeral
            .lock()
            .expect("cache lock")
            .remove(&(namespace.to_string(), key.to_string()));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn ephemeral_values_are_single_use_and_expire() {
        let cache = MemoryCache::new(Duration::from_secs(1));
        cache
            .put_ephemeral("state", "s1", "v", Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(
            cache.get_ephemeral("state", "s1").await.unwrap().as_deref(),
            Some("v")
        );
        assert_eq!(
            cache
                .take_ephemeral("state", "s1")
                .await
                .unwrap()
                .as_deref(),
            Some("v")
        );
        assert_eq!(cache.take_ephemeral("state", "s1").await.unwrap(), None);
        cache
            .put_ephemeral("state", "s2", "v", Duration::ZERO)
            .await
            .unwrap();
        assert_eq!(cache.take_ephemeral("state", "s2").await.unwrap(), None);
        cache
            .put_ephemeral("session", "s3", "v", Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(
            cache.get_ephemeral("state", "s3").await.unwrap(),
            None,
            "namespaces are apart"
        );
    }
}
