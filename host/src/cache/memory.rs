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
    entries: Timed<Account>,
    organizations: Timed<Organization>,
    staff: Timed<Staff>,
    ephemeral: Mutex<Ephemeral>,
    ephemeral_limit: usize,
}

/// Records of one kind by id, each with the time it was put; one older than
/// the TTL reads as absent (and is dropped).
struct Timed<T>(Mutex<HashMap<String, (Instant, T)>>);

impl<T: Clone> Timed<T> {
    fn new() -> Self {
        Self(Mutex::new(HashMap::new()))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Instant, T)>> {
        self.0.lock().expect("cache lock")
    }

    fn get(&self, id: &str, ttl: Duration) -> Option<T> {
        let mut all = self.lock();
        match all.get(id) {
            Some((at, record)) if at.elapsed() < ttl => Some(record.clone()),
            Some(_) => {
                all.remove(id);
                None
            }
            None => None,
        }
    }

    fn put(&self, id: &str, record: T) {
        self.lock().insert(id.to_string(), (Instant::now(), record));
    }

    fn remove(&self, id: &str) {
        self.lock().remove(id);
    }
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
            entries: Timed::new(),
            organizations: Timed::new(),
            staff: Timed::new(),
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
        Ok(self.entries.get(person_id, self.ttl))
    }

    async fn put(&self, account: Account) -> Result<(), CacheError> {
        self.entries.put(&account.person.id.clone(), account);
        Ok(())
    }

    async fn get_organization(
        &self,
        organization_id: &str,
    ) -> Result<Option<Organization>, CacheError> {
        Ok(self.organizations.get(organization_id, self.ttl))
    }

    async fn put_organization(&self, organization: Organization) -> Result<(), CacheError> {
        self.organizations
            .put(&organization.id.clone(), organization);
        Ok(())
    }

    async fn invalidate(&self, person_id: &str) -> Result<(), CacheError> {
        self.entries.remove(person_id);
        Ok(())
    }

    async fn invalidate_organization(&self, organization_id: &str) -> Result<(), CacheError> {
        self.organizations.remove(organization_id);
        self.entries.lock().retain(|_, (_, account)| {
            account
                .membership
                .as_ref()
                .is_none_or(|m| m.organization_id != organization_id)
        });
        Ok(())
    }

    async fn get_staff(&self, staff_id: &str) -> Result<Option<Staff>, CacheError> {
        Ok(self.staff.get(staff_id, self.ttl))
    }

    async fn put_staff(&self, staff: Staff) -> Result<(), CacheError> {
        self.staff.put(&staff.id.clone(), staff);
        Ok(())
    }

    async fn invalidate_staff(&self, staff_id: &str) -> Result<(), CacheError> {
        self.staff.remove(staff_id);
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
        store
            .values
            .insert(key, (now + entry.ttl, entry.value.into()));
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
