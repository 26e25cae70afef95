//! An in-process status cache with a hard TTL per entry.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::ephemeral::Entry;
use super::{CacheError, EphemeralStore, StatusCache};
use crate::bindings::types::{Account, Organization, Staff};

/// How many sign-in states and sessions the in-process store holds at most by
/// default: anyone can begin sign-ins, so the store must not grow without
/// bound (Redis is bounded by its own `maxmemory`).
pub const DEFAULT_EPHEMERAL_LIMIT: usize = 200_000;

/// An in-process [`StatusCache`].
pub struct MemoryCache {
    ttl: Duration,
    entries: Mutex<HashMap<String, (Instant, Account)>>,
    organizations: Mutex<HashMap<String, (Instant, Organization)>>,
    staff: Mutex<HashMap<String, (Instant, Staff)>>,
    ephemeral: Mutex<Ephemeral>,
    ephemeral_limit: usize,
}

/// Short-lived values, with expired ones swept at most once a second (or when
/// full) rather than on every write.
struct Ephemeral {
    values: HashMap<(String, String), (Instant, String)>,
    next_sweep: Instant,
}

impl MemoryCache {
    /// A cache whose entries live at most `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
            organizations: Mutex::new(HashMap::new()),
            staff: Mutex::new(HashMap::new()),
            ephemeral: Mutex::new(Ephemeral {
                values: HashMap::new(),
                next_sweep: Instant::now(),
            }),
            ephemeral_limit: DEFAULT_EPHEMERAL_LIMIT,
        }
    }

    /// Holds at most `limit` sign-in states and sessions; beyond it, new
    /// ones are refused (`Unavailable`) until old ones expire.
    pub fn with_ephemeral_limit(mut self, limit: usize) -> Self {
        self.ephemeral_limit = limit;
        self
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

    async fn get_staff(&self, staff_id: &str) -> Result<Option<Staff>, CacheError> {
        let staff = self.staff.lock().expect("cache lock");
        Ok(staff
            .get(staff_id)
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, s)| s.clone()))
    }

    async fn put_staff(&self, staff: Staff) -> Result<(), CacheError> {
        let mut all = self.staff.lock().expect("cache lock");
        all.insert(staff.id.clone(), (Instant::now(), staff));
        Ok(())
    }

    async fn invalidate_staff(&self, staff_id: &str) -> Result<(), CacheError> {
        self.staff.lock().expect("cache lock").remove(staff_id);
        Ok(())
    }
}

#[async_trait]
impl EphemeralStore for MemoryCache {
    async fn put_entry(&self, entry: Entry<'_>) -> Result<(), CacheError> {
        let key = (entry.namespace.to_string(), entry.key.to_string());
        let now = Instant::now();
        let mut store = self.ephemeral.lock().expect("cache lock");
        let full = store.values.len() >= self.ephemeral_limit;
        if full || now >= store.next_sweep {
            store.values.retain(|_, (expires, _)| *expires > now);
            store.next_sweep = now + Duration::from_secs(1);
        }
        if store.values.len() >= self.ephemeral_limit && !store.values.contains_key(&key) {
            return Err(CacheError::Unavailable(format!(
                "the in-process store already holds {} sign-ins and sessions: try again later",
                self.ephemeral_limit
            )));
        }
        store.values.insert(key, (now + entry.ttl, entry.value.into()));
        Ok(())
    }

    async fn get_ephemeral(
        &self,
        namespace: &str,
        key: &str,
    ) -> Result<Option<String>, CacheError> {
        let store = self.ephemeral.lock().expect("cache lock");
        let found = store.values.get(&(namespace.to_string(), key.to_string()));
        Ok(found
            .filter(|(expires, _)| *expires > Instant::now())
            .map(|(_, v)| v.clone()))
    }

    async fn take_ephemeral(
        &self,
        namespace: &str,
        key: &str,
    ) -> Result<Option<String>, CacheError> {
        let mut store = self.ephemeral.lock().expect("cache lock");
        let found = store
            .values
            .remove(&(namespace.to_string(), key.to_string()));
        Ok(found
            .filter(|(expires, _)| *expires > Instant::now())
            .map(|(_, v)| v))
    }

    async fn delete_ephemeral(&self, namespace: &str, key: &str) -> Result<(), CacheError> {
        self.ephemeral
            .lock()
            .expect("cache lock")
            .values
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

    #[tokio::test]
    async fn a_full_store_refuses_new_values_until_old_ones_expire() {
        let cache = MemoryCache::new(Duration::from_secs(1)).with_ephemeral_limit(2);
        let put = |key: &'static str, ttl: Duration| {
            let cache = &cache;
            async move { cache.put_ephemeral("state", key, "v", ttl).await }
        };
        put("a", Duration::from_millis(50)).await.unwrap();
        put("b", Duration::from_secs(60)).await.unwrap();
        let err = put("c", Duration::from_secs(60)).await.unwrap_err();
        assert!(matches!(err, CacheError::Unavailable(_)), "{err}");
        // Rewriting a held key is not growth.
        put("b", Duration::from_secs(60)).await.unwrap();
        assert_eq!(
            cache.get_ephemeral("state", "b").await.unwrap().as_deref(),
            Some("v")
        );
        tokio::time::sleep(Duration::from_millis(60)).await;
        put("c", Duration::from_secs(60)).await.unwrap();
        assert_eq!(
            cache.get_ephemeral("state", "c").await.unwrap().as_deref(),
            Some("v")
        );
    }
}
