//! An in-process status cache with a hard TTL per entry.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use smol_str::SmolStr;

use super::ephemeral::Entry;
use super::{CacheError, CacheRead, EphemeralStore, FillTicket, Stamped, StatusCache};
use crate::model::{Account, Organization, Staff};
use crate::touched::Touched;

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
    marks: Mutex<Marks>,
    ephemeral: Mutex<Ephemeral>,
    ephemeral_limit: usize,
}

/// How many invalidation marks are kept before the oldest are folded into
/// the floor.
const MARKS_KEPT: usize = 50_000;

/// What was invalidated when: the counter tickets are taken from, the last
/// invalidation of each record, and the floor below which marks were
/// forgotten (a fill with an older ticket is refused, whatever it holds).
/// Every fill and every invalidation happens under its lock, so a fill
/// checks and stores in one step.
#[derive(Default)]
struct Marks {
    counter: u64,
    by_record: HashMap<Touched, u64>,
    floor: u64,
}

impl Marks {
    /// Marks `touched` as invalidated now.
    fn mark(&mut self, touched: &Touched) {
        self.counter += 1;
        if self.by_record.len() >= MARKS_KEPT {
            self.floor = self.counter;
            self.by_record.clear();
        }
        self.by_record.insert(touched.clone(), self.counter);
    }

    /// Whether a fill with `ticket` of a record that rests on `covers` may
    /// be stored.
    fn admits(&self, ticket: &FillTicket, covers: &[Touched]) -> bool {
        !ticket.is_refused()
            && ticket.local >= self.floor
            && covers
                .iter()
                .all(|t| self.by_record.get(t).is_none_or(|&at| at <= ticket.local))
    }
}

/// Records of one kind by id, each with the time it was put; one older than
/// the TTL reads as absent (and is dropped).
struct Timed<T>(Mutex<ById<T>>);

/// Records of one kind by id, with the time each was put. An id of up to
/// 23 bytes is held in the entry itself (`SmolStr`), so finding a record
/// does not wait for a second cache miss to compare its id; ids are hashed
/// with foldhash (random seed per process), as the reuse map's keys are.
type ById<T> = HashMap<SmolStr, (Instant, Arc<Stamped<T>>), foldhash::quality::RandomState>;

impl<T> Timed<T> {
    fn new() -> Self {
        Self(Mutex::new(HashMap::default()))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ById<T>> {
        self.0.lock().expect("cache lock")
    }

    fn get(&self, id: &str, ttl: Duration) -> Option<Arc<Stamped<T>>> {
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

    fn put(&self, id: &str, record: Arc<Stamped<T>>) {
        self.lock()
            .insert(SmolStr::new(id), (Instant::now(), record));
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
            marks: Mutex::new(Marks::default()),
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

    fn marks(&self) -> std::sync::MutexGuard<'_, Marks> {
        self.marks.lock().expect("marks lock")
    }

    /// A hit, or a miss with the ticket of now.
    fn read<T>(&self, found: Option<T>) -> CacheRead<T> {
        match found {
            Some(record) => CacheRead::Hit(record),
            None => CacheRead::Miss(FillTicket {
                local: self.marks().counter,
                shared: None,
            }),
        }
    }

    /// Stores `record` with `store` unless something in `covers` was
    /// invalidated after `ticket`.
    fn fill(&self, ticket: &FillTicket, covers: &[Touched], store: impl FnOnce()) {
        let marks = self.marks();
        if marks.admits(ticket, covers) {
            store();
        }
    }
}

#[async_trait]
impl StatusCache for MemoryCache {
    fn summary(&self) -> String {
        format!("in-process status cache (TTL {:?})", self.ttl)
    }

    async fn get(&self, person_id: &str) -> Result<CacheRead<Arc<Stamped<Account>>>, CacheError> {
        Ok(self.read(self.entries.get(person_id, self.ttl)))
    }

    async fn put(
        &self,
        account: Arc<Stamped<Account>>,
        ticket: FillTicket,
    ) -> Result<(), CacheError> {
        let mut covers = vec![Touched::Person(account.person.id.clone())];
        if let Some(m) = &account.membership {
            covers.push(Touched::Organization(m.organization_id.clone()));
        }
        covers.extend(
            account
                .memberships
                .iter()
                .map(|m| Touched::Organization(m.organization.id.clone())),
        );
        self.fill(&ticket, &covers, || {
            self.entries.put(&account.person.id.clone(), account)
        });
        Ok(())
    }

    async fn get_organization(
        &self,
        organization_id: &str,
    ) -> Result<CacheRead<Arc<Stamped<Organization>>>, CacheError> {
        Ok(self.read(self.organizations.get(organization_id, self.ttl)))
    }

    async fn put_organization(
        &self,
        organization: Arc<Stamped<Organization>>,
        ticket: FillTicket,
    ) -> Result<(), CacheError> {
        let covers = [Touched::Organization(organization.id.clone())];
        self.fill(&ticket, &covers, || {
            self.organizations
                .put(&organization.id.clone(), organization)
        });
        Ok(())
    }

    async fn get_staff(
        &self,
        staff_id: &str,
    ) -> Result<CacheRead<Arc<Stamped<Staff>>>, CacheError> {
        Ok(self.read(self.staff.get(staff_id, self.ttl)))
    }

    async fn put_staff(
        &self,
        staff: Arc<Stamped<Staff>>,
        ticket: FillTicket,
    ) -> Result<(), CacheError> {
        let covers = [Touched::Staff(staff.id.clone())];
        self.fill(&ticket, &covers, || {
            self.staff.put(&staff.id.clone(), staff)
        });
        Ok(())
    }

    async fn invalidate(&self, touched: &Touched) -> Result<(), CacheError> {
        self.drop_local(touched);
        Ok(())
    }

    fn drop_local(&self, touched: &Touched) {
        let mut marks = self.marks();
        marks.mark(touched);
        match touched {
            Touched::Person(id) => self.entries.remove(id),
            Touched::Staff(id) => self.staff.remove(id),
            Touched::Organization(id) => {
                self.organizations.remove(id);
                self.entries
                    .lock()
                    .retain(|_, (_, account)| !super::embeds(account, id));
            }
        }
    }

    async fn forget_all(&self) -> Result<(), CacheError> {
        let mut marks = self.marks();
        marks.counter += 1;
        marks.floor = marks.counter;
        marks.by_record.clear();
        self.entries.lock().clear();
        self.organizations.lock().clear();
        self.staff.lock().clear();
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

    fn account(id: &str, organization: &str) -> Account {
        use crate::model::{AccountStatus, Member, Membership, OrganizationStatus, Person};
        Account::of_person(
            Person {
                id: id.into(),
                email: format!("{id}@example.test"),
                name: id.into(),
            },
            vec![Member {
                membership: Membership {
                    organization_id: organization.into(),
                    person_id: id.into(),
                    status: AccountStatus::Active,
                    previous_status: None,
                    is_admin: false,
                    roles: Vec::new(),
                    spending_limit: None,
                    invited_at: None,
                    version: 1,
                },
                organization: Organization {
                    id: organization.into(),
                    name: organization.into(),
                    status: OrganizationStatus::Approved,
                    active_admins: 1,
                },
            }],
        )
    }

    fn ticket(read: CacheRead<Arc<Stamped<Account>>>) -> FillTicket {
        match read {
            CacheRead::Miss(ticket) => ticket,
            CacheRead::Hit(_) => panic!("expected a miss"),
        }
    }

    /// Ids of up to 23 bytes are held inline in the map's entries, longer
    /// ones on the heap: both are found, told apart and dropped alike.
    #[tokio::test]
    async fn short_and_long_ids_are_found_and_invalidated_alike() {
        let cache = MemoryCache::new(Duration::from_secs(60));
        let long = "a-person-id-well-over-23-bytes-0001";
        let longer = "a-person-id-well-over-23-bytes-00010";
        for id in ["bob", long, longer] {
            let fresh = ticket(cache.get(id).await.unwrap());
            cache
                .put(Stamped::shared(account(id, "acme")), fresh)
                .await
                .unwrap();
        }
        for id in ["bob", long, longer] {
            let hit = cache.get(id).await.unwrap().hit().expect("cached");
            assert_eq!(hit.person.id, id);
        }
        cache
            .invalidate(&Touched::Person(long.into()))
            .await
            .unwrap();
        assert!(cache.get(long).await.unwrap().hit().is_none());
        assert!(cache.get(longer).await.unwrap().hit().is_some());
        assert!(cache.get("bob").await.unwrap().hit().is_some());
        assert!(cache.get("bo").await.unwrap().hit().is_none());
    }

    /// The race behind issue #23's 17 stale allows: a reader misses, reads
    /// the directory before a change commits, and fills after the change's
    /// invalidation.
    #[tokio::test]
    async fn a_fill_older_than_an_invalidation_is_refused() {
        let cache = MemoryCache::new(Duration::from_secs(60));
        let old = ticket(cache.get("bob").await.unwrap());
        cache
            .invalidate(&Touched::Person("bob".into()))
            .await
            .unwrap();
        cache
            .put(Stamped::shared(account("bob", "acme")), old)
            .await
            .unwrap();
        assert!(cache.get("bob").await.unwrap().hit().is_none());

        // Through the organization it rests on, too.
        let old = ticket(cache.get("bob").await.unwrap());
        cache
            .invalidate(&Touched::Organization("acme".into()))
            .await
            .unwrap();
        cache
            .put(Stamped::shared(account("bob", "acme")), old)
            .await
            .unwrap();
        assert!(cache.get("bob").await.unwrap().hit().is_none());

        // A fill that began after the invalidation is stored; another
        // record's invalidation does not refuse it.
        let fresh = ticket(cache.get("bob").await.unwrap());
        cache
            .invalidate(&Touched::Person("carol".into()))
            .await
            .unwrap();
        cache
            .put(Stamped::shared(account("bob", "acme")), fresh)
            .await
            .unwrap();
        assert!(cache.get("bob").await.unwrap().hit().is_some());

        // Nothing fills with a refused ticket, or one older than a flush.
        cache.forget_all().await.unwrap();
        let before_flush = ticket(cache.get("bob").await.unwrap());
        cache
            .put(
                Stamped::shared(account("bob", "acme")),
                FillTicket::refused(),
            )
            .await
            .unwrap();
        assert!(cache.get("bob").await.unwrap().hit().is_none());
        cache.forget_all().await.unwrap();
        cache
            .put(Stamped::shared(account("bob", "acme")), before_flush)
            .await
            .unwrap();
        assert!(cache.get("bob").await.unwrap().hit().is_none());
    }

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
