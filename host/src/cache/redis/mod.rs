//! The status cache in Redis, with an in-process first level (L1) in front.
//!
//! Correctness rests on four rules:
//! 1. **Guarded writes.** A miss records the global invalidation sequence
//!    (`seq`) before the plugin reads the directory; the later write is a Lua
//!    script that refuses to store the entry if the person or the
//!    organization was invalidated after that point (tombstones carry the
//!    sequence), so a slow reader never re-caches what a writer just changed.
//! 2. **Acknowledged invalidation.** Every change deletes the entry, leaves a
//!    tombstone, publishes an invalidation and waits until every live node
//!    has dropped its L1 copy and acknowledged (nodes that do not answer in
//!    time are evicted from the live set and must flush before they trust L1
//!    again).
//! 3. **Fail closed on doubt.** While the subscription is down, or the node's
//!    heartbeat is stale, L1 is flushed and not used, and every read goes to
//!    the directory.
//! 4. **New generation on (re)connect.** Each node bumps the key generation
//!    when it (re)connects, so entries written before an outage — when
//!    invalidations may have been missed — are never read again.
//!
//! Keys: `pg:v1:<generation>:a:<hex person>` (entry), `...:m:<hex org>` (members of
//! an organization with an entry), `...:tp:<hex person>` / `...:to:<hex org>`
//! (tombstones). Ids are hex-encoded, so no two principals share a key.

mod cached;
mod inner;
mod keys;
mod stored;
mod sync;
mod tier;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, Script};
use tokio::sync::Notify;

use super::ephemeral::Entry;
use super::{CacheError, CacheRead, EphemeralStore, FillTicket, Stamped, StatusCache};
use crate::model::{Account, Organization, Staff};
use crate::touched::Touched;
use cached::Cached;
use inner::Inner;
pub use inner::RedisCacheConfig;
pub use keys::entry_key;
use keys::{
    DROP_ORGANIZATION, GEN, GUARDED_PUT, INCARNATION, INVALIDATIONS, NODES, SEQ, ephemeral_key,
    members_key, now_ms, org_tombstone, organization_key,
};
use sync::{heartbeat, subscriber};
use tier::Tier;

/// Counters, for tests and benchmarks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Answered from L1.
    pub l1_hits: u64,
    /// Answered from Redis.
    pub redis_hits: u64,
    /// Not cached: the plugin read the directory.
    pub misses: u64,
    /// Reads while the cache was unhealthy (straight to the directory).
    pub bypassed: u64,
}

/// The Redis-backed [`StatusCache`].
pub struct RedisCache {
    inner: Arc<Inner>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for RedisCache {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

fn unavailable(err: redis::RedisError) -> CacheError {
    CacheError::Unavailable(err.to_string())
}

impl RedisCache {
    /// Connects lazily: the host starts even if Redis is down, and reads the
    /// directory until it is up.
    pub async fn connect(config: RedisCacheConfig) -> Result<Self, CacheError> {
        let client = redis::Client::open(config.url.as_str())
            .map_err(|e| CacheError::Internal(format!("bad Redis URL `{}`: {e}", config.url)))?;
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_millis(500)))
            .set_response_timeout(Some(Duration::from_millis(500)))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let conn = ConnectionManager::new_lazy_with_config(client.clone(), manager_config)
            .map_err(unavailable)?;
        let mut node_bytes = [0u8; 8];
        node_bytes.copy_from_slice(
            &SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos()
                .to_le_bytes()[..8],
        );
        let node = format!("{}-{}", hex::encode(node_bytes), std::process::id());
        let inner = Arc::new(Inner {
            node,
            accounts: Tier::default(),
            organizations: Tier::default(),
            staff: Tier::default(),
            config,
            client,
            conn,
            subscribed: AtomicBool::new(false),
            last_beat: Default::default(),
            generation: AtomicU64::new(0),
            seen: AtomicU64::new(0),
            acks: Default::default(),
            ack_arrived: Notify::new(),
            l1_hits: AtomicU64::new(0),
            redis_hits: AtomicU64::new(0),
            miss_count: AtomicU64::new(0),
            bypassed: AtomicU64::new(0),
        });
        let tasks = vec![
            tokio::spawn(subscriber(inner.clone())),
            tokio::spawn(heartbeat(inner.clone())),
        ];
        Ok(Self { inner, tasks })
    }

    /// Waits until the cache is connected and usable, or `timeout` passes.
    pub async fn wait_ready(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.inner.healthy() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        false
    }

    /// Whether the cache is in use (connected, subscribed, heartbeat fresh).
    pub fn is_healthy(&self) -> bool {
        self.inner.healthy()
    }

    /// Hit and miss counters.
    pub fn stats(&self) -> CacheStats {
        let i = &self.inner;
        CacheStats {
            l1_hits: i.l1_hits.load(Ordering::Relaxed),
            redis_hits: i.redis_hits.load(Ordering::Relaxed),
            misses: i.miss_count.load(Ordering::Relaxed),
            bypassed: i.bypassed.load(Ordering::Relaxed),
        }
    }

    /// This node's id in the live set.
    pub fn node_id(&self) -> &str {
        &self.inner.node
    }
}

impl Inner {
    fn healthy(&self) -> bool {
        self.subscribed.load(Ordering::SeqCst)
            && self
                .last_beat
                .lock()
                .expect("beat lock")
                .is_some_and(|at| at.elapsed() < self.config.heartbeat * 3)
    }

    fn flush_l1(&self) {
        self.accounts.clear();
        self.organizations.clear();
        self.staff.clear();
        self.seen.fetch_add(1, Ordering::SeqCst);
    }

    /// Drops the first-level entry of the record of kind `T` with `id`.
    fn drop_one<T: Cached>(&self, id: &str) {
        T::tier(self).l1.lock().expect("l1 lock").remove(id);
        self.seen.fetch_add(1, Ordering::SeqCst);
    }

    /// Runs `command` (`GET`, `GETDEL`, `DEL`) on one short-lived value.
    async fn ephemeral<T: redis::FromRedisValue>(
        &self,
        command: &str,
        namespace: &str,
        key: &str,
    ) -> Result<T, CacheError> {
        redis::cmd(command)
            .arg(ephemeral_key(namespace, key))
            .query_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)
    }

    fn drop_organization(&self, org: &str) {
        self.organizations.l1.lock().expect("l1 lock").remove(org);
        self.accounts
            .l1
            .lock()
            .expect("l1 lock")
            .retain(|_, (_, account)| !super::embeds(account, org));
        self.seen.fetch_add(1, Ordering::SeqCst);
    }

    fn fill_l1<T>(&self, tier: &Tier<T>, id: &str, value: Arc<Stamped<T>>, seen_before: u64) {
        if self.config.l1_ttl.is_zero() || !self.healthy() {
            return;
        }
        let mut l1 = tier.l1.lock().expect("l1 lock");
        // Checked under the lock: an invalidation processed since the read
        // began means the value may be stale.
        if self.seen.load(Ordering::SeqCst) == seen_before {
            l1.insert(id.to_string(), (Instant::now(), value));
        }
    }

    /// L1, then Redis; a miss carries the ticket its fill must present:
    /// this node's invalidation count and Redis's incarnation and
    /// sequence number, all taken before the directory is read.
    async fn read<T: Cached>(&self, id: &str) -> Result<CacheRead<Arc<Stamped<T>>>, CacheError> {
        if !self.healthy() {
            self.bypassed.fetch_add(1, Ordering::Relaxed);
            return Ok(CacheRead::Miss(FillTicket::refused()));
        }
        let tier = T::tier(self);
        if let Some(value) = tier.fresh(id, self.config.l1_ttl) {
            self.l1_hits.fetch_add(1, Ordering::Relaxed);
            return Ok(CacheRead::Hit(value));
        }
        let seen_before = self.seen.load(Ordering::SeqCst);
        let key = T::key(self.generation.load(Ordering::SeqCst), id);
        let mut conn = self.conn.clone();
        let (entry, seq, incarnation): (Option<String>, Option<u64>, Option<String>) =
            redis::pipe()
                .get(key)
                .get(SEQ)
                .get(INCARNATION)
                .query_async(&mut conn)
                .await
                .map_err(unavailable)?;
        let ticket = FillTicket {
            local: seen_before,
            shared: incarnation.map(|i| (i, seq.unwrap_or(0))),
        };
        if let Some(cached) = entry.and_then(|json| serde_json::from_str::<T::Stored>(&json).ok()) {
            self.redis_hits.fetch_add(1, Ordering::Relaxed);
            let value = Stamped::shared(cached.into());
            self.fill_l1(tier, id, value.clone(), seen_before);
            return Ok(CacheRead::Hit(value));
        }
        self.miss_count.fetch_add(1, Ordering::Relaxed);
        Ok(CacheRead::Miss(ticket))
    }

    /// Stores what a miss read, unless something it covers was invalidated
    /// after its ticket (in Redis: a later tombstone, or another
    /// incarnation; in L1: any invalidation this node processed since).
    async fn fill<T: Cached>(
        &self,
        value: Arc<Stamped<T>>,
        ticket: FillTicket,
    ) -> Result<(), CacheError> {
        let Some((incarnation, seq)) = ticket.shared.as_ref().filter(|_| !ticket.is_refused())
        else {
            return Ok(());
        };
        if !self.healthy() {
            return Ok(());
        }
        let tier = T::tier(self);
        let id = value.id().to_string();
        let payload = serde_json::to_string(&T::Stored::from(value.record()))
            .map_err(|e| CacheError::Internal(e.to_string()))?;
        let (keys, member, more) = value.fill_keys(self.generation.load(Ordering::SeqCst));
        let mut conn = self.conn.clone();
        let script = Script::new(GUARDED_PUT);
        let mut invocation = script.prepare_invoke();
        for key in &keys {
            invocation.key(key);
        }
        invocation.key(INCARNATION);
        for key in &more {
            invocation.key(key);
        }
        let stored: i64 = invocation
            .arg(*seq)
            .arg(payload)
            .arg(self.config.entry_ttl.as_secs().max(1))
            .arg(member)
            .arg(incarnation)
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)?;
        if stored == 1 {
            self.fill_l1(tier, &id, value, ticket.local);
        }
        Ok(())
    }

    /// Drops what `touched` names from L1, and buries it in Redis; with
    /// `tell`, publishes the invalidation and waits for the other nodes'
    /// acknowledgements.
    async fn drop_touched(&self, touched: &Touched, tell: bool) -> Result<(), CacheError> {
        self.drop_l1(touched);
        let (kind, seq) = match touched {
            Touched::Person(id) => (
                Account::KIND,
                self.bury(Account::tombstone, Account::key, id).await?,
            ),
            Touched::Staff(id) => (
                Staff::KIND,
                self.bury(Staff::tombstone, Staff::key, id).await?,
            ),
            Touched::Organization(id) => (Organization::KIND, self.bury_organization(id).await?),
        };
        if tell {
            self.broadcast(kind, seq, touched.id()).await?;
        }
        Ok(())
    }

    /// Drops what `touched` names from L1.
    fn drop_l1(&self, touched: &Touched) {
        match touched {
            Touched::Person(id) => self.drop_one::<Account>(id),
            Touched::Staff(id) => self.drop_one::<Staff>(id),
            Touched::Organization(id) => self.drop_organization(id),
        }
    }

    /// Leaves an organization's tombstone under a fresh sequence number and
    /// deletes its entry and every member's.
    async fn bury_organization(&self, organization_id: &str) -> Result<u64, CacheError> {
        let generation = self.generation.load(Ordering::SeqCst);
        let mut conn = self.conn.clone();
        let seq: u64 = conn.incr(SEQ, 1).await.map_err(unavailable)?;
        let _: i64 = Script::new(DROP_ORGANIZATION)
            .key(org_tombstone(generation, organization_id))
            .key(members_key(generation, organization_id))
            .key(organization_key(generation, organization_id))
            .arg(seq)
            .arg(self.config.entry_ttl.as_secs().max(1))
            .arg(format!("pg:v1:{generation}:a:"))
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(seq)
    }

    /// Deletes the entry of `id` and leaves its tombstone under a fresh
    /// sequence number, which it returns: a fill that began before it then
    /// never stores the old record.
    async fn bury(
        &self,
        tombstone: fn(u64, &str) -> String,
        entry: fn(u64, &str) -> String,
        id: &str,
    ) -> Result<u64, CacheError> {
        let generation = self.generation.load(Ordering::SeqCst);
        let mut conn = self.conn.clone();
        let seq: u64 = conn.incr(SEQ, 1).await.map_err(unavailable)?;
        let _: () = redis::pipe()
            .atomic()
            .set_ex(
                tombstone(generation, id),
                seq,
                self.config.entry_ttl.as_secs().max(1),
            )
            .ignore()
            .del(entry(generation, id))
            .ignore()
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(seq)
    }

    /// Publishes an invalidation and waits for every other live node to ack.
    async fn broadcast(&self, kind: &str, seq: u64, id: &str) -> Result<(), CacheError> {
        let mut conn = self.conn.clone();
        let live: Vec<String> = redis::cmd("ZRANGEBYSCORE")
            .arg(NODES)
            .arg(now_ms())
            .arg("+inf")
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        let others: HashSet<String> = live.into_iter().filter(|n| *n != self.node).collect();
        let message = format!("{kind} {seq} {} {}", self.node, hex::encode(id));
        let _: i64 = conn
            .publish(INVALIDATIONS, message)
            .await
            .map_err(unavailable)?;
        let deadline = tokio::time::Instant::now() + self.config.ack_timeout;
        loop {
            let notified = self.ack_arrived.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let missing: Vec<String> = {
                let acks = self.acks.lock().expect("ack lock");
                let got = acks.get(&seq);
                others
                    .iter()
                    .filter(|n| got.is_none_or(|g| !g.contains(*n)))
                    .cloned()
                    .collect()
            };
            if missing.is_empty() {
                break;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                tracing::warn!(
                    ?missing,
                    seq,
                    "nodes did not acknowledge an invalidation in time; evicting them from the live set"
                );
                let _: Result<i64, _> = conn.zrem(NODES, &missing).await;
                self.acks.lock().expect("ack lock").remove(&seq);
                // They may still hold the old record: the caller waits
                // until their trust in it has run out.
                return Err(CacheError::Unavailable(format!(
                    "{} node(s) did not acknowledge the invalidation within {:?}",
                    missing.len(),
                    self.config.ack_timeout
                )));
            }
        }
        self.acks.lock().expect("ack lock").remove(&seq);
        Ok(())
    }
}

#[async_trait]
impl StatusCache for RedisCache {
    fn tier(&self) -> &'static str {
        "redis"
    }

    fn healthy(&self) -> Result<(), String> {
        if self.is_healthy() {
            Ok(())
        } else {
            Err(format!(
                "{} is unreachable or its heartbeat is stale",
                self.summary()
            ))
        }
    }

    fn lookups(&self) -> Option<Vec<(&'static str, &'static str, u64)>> {
        // A read is answered by the first level, or by Redis, or by neither
        // (a miss: the plugin reads the directory); while unhealthy it
        // bypasses both.
        let stats = self.stats();
        Some(vec![
            ("first-level", "hit", stats.l1_hits),
            ("redis", "hit", stats.redis_hits),
            ("redis", "miss", stats.misses),
            ("redis", "bypassed", stats.bypassed),
        ])
    }

    fn summary(&self) -> String {
        format!(
            "Redis status cache at {} with in-process L1 (node {})",
            self.inner.config.url, self.inner.node
        )
    }

    async fn get(&self, person_id: &str) -> Result<CacheRead<Arc<Stamped<Account>>>, CacheError> {
        self.inner.read(person_id).await
    }

    async fn put(
        &self,
        account: Arc<Stamped<Account>>,
        ticket: FillTicket,
    ) -> Result<(), CacheError> {
        self.inner.fill(account, ticket).await
    }

    async fn get_organization(
        &self,
        organization_id: &str,
    ) -> Result<CacheRead<Arc<Stamped<Organization>>>, CacheError> {
        self.inner.read(organization_id).await
    }

    async fn put_organization(
        &self,
        organization: Arc<Stamped<Organization>>,
        ticket: FillTicket,
    ) -> Result<(), CacheError> {
        self.inner.fill(organization, ticket).await
    }

    async fn get_staff(
        &self,
        staff_id: &str,
    ) -> Result<CacheRead<Arc<Stamped<Staff>>>, CacheError> {
        self.inner.read(staff_id).await
    }

    async fn put_staff(
        &self,
        staff: Arc<Stamped<Staff>>,
        ticket: FillTicket,
    ) -> Result<(), CacheError> {
        self.inner.fill(staff, ticket).await
    }

    fn drop_local(&self, touched: &Touched) {
        self.inner.drop_l1(touched);
    }

    async fn invalidate(&self, touched: &Touched) -> Result<(), CacheError> {
        self.inner.drop_touched(touched, true).await
    }

    async fn retire(&self, touched: &Touched) -> Result<(), CacheError> {
        self.inner.drop_touched(touched, false).await
    }

    async fn forget_all(&self) -> Result<(), CacheError> {
        let inner = &self.inner;
        // Here at once (even if Redis cannot be reached), and again once the
        // new generation is in use, for what was filled meanwhile.
        inner.flush_l1();
        let mut conn = inner.conn.clone();
        let generation: u64 = conn.incr(GEN, 1).await.map_err(unavailable)?;
        inner.generation.fetch_max(generation, Ordering::SeqCst);
        inner.flush_l1();
        let _: i64 = conn
            .publish(INVALIDATIONS, format!("g {generation} {} -", inner.node))
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}

#[async_trait]
impl EphemeralStore for RedisCache {
    async fn put_entry(&self, entry: Entry<'_>) -> Result<(), CacheError> {
        let mut conn = self.inner.conn.clone();
        let ms = entry.ttl.as_millis().max(1) as u64;
        redis::cmd("SET")
            .arg(ephemeral_key(entry.namespace, entry.key))
            .arg(entry.value)
            .arg("PX")
            .arg(ms)
            .query_async::<()>(&mut conn)
            .await
            .map_err(unavailable)
    }

    async fn get_ephemeral(&self, ns: &str, key: &str) -> Result<Option<String>, CacheError> {
        self.inner.ephemeral("GET", ns, key).await
    }

    async fn take_ephemeral(&self, ns: &str, key: &str) -> Result<Option<String>, CacheError> {
        self.inner.ephemeral("GETDEL", ns, key).await
    }

    async fn delete_ephemeral(&self, ns: &str, key: &str) -> Result<(), CacheError> {
        self.inner.ephemeral("DEL", ns, key).await
    }
}
