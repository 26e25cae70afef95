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

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use futures_util::StreamExt;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, Script};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use super::{CacheError, EphemeralStore, StatusCache};
use crate::bindings::types::{
    Account, AccountStatus, Membership, Organization, OrganizationStatus, Person,
};

const INVALIDATIONS: &str = "pg:v1:invalidate";
const NODES: &str = "pg:v1:nodes";
const SEQ: &str = "pg:v1:seq";
const GEN: &str = "pg:v1:gen";

/// Settings of the Redis cache.
#[derive(Clone, Debug)]
pub struct RedisCacheConfig {
    /// `redis://host:port/db`.
    pub url: String,
    /// Hard TTL of every Redis entry and tombstone.
    pub entry_ttl: Duration,
    /// TTL of L1 entries; zero disables L1.
    pub l1_ttl: Duration,
    /// How long a change waits for other nodes' acknowledgements.
    pub ack_timeout: Duration,
    /// Heartbeat interval; L1 is trusted only within three of them.
    pub heartbeat: Duration,
}

impl RedisCacheConfig {
    /// Defaults for `url`: 5 min entries, 30 s L1, 250 ms acks, 1 s heartbeat.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            entry_ttl: Duration::from_secs(300),
            l1_ttl: Duration::from_secs(30),
            ack_timeout: Duration::from_millis(250),
            heartbeat: Duration::from_secs(1),
        }
    }
}

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

/// The Redis key of a person's entry in generation `generation`.
pub fn entry_key(generation: u64, person_id: &str) -> String {
    format!("pg:v1:{generation}:a:{}", hex::encode(person_id))
}

fn members_key(generation: u64, org_id: &str) -> String {
    format!("pg:v1:{generation}:m:{}", hex::encode(org_id))
}

fn person_tombstone(generation: u64, person_id: &str) -> String {
    format!("pg:v1:{generation}:tp:{}", hex::encode(person_id))
}

fn org_tombstone(generation: u64, org_id: &str) -> String {
    format!("pg:v1:{generation}:to:{}", hex::encode(org_id))
}

fn organization_key(generation: u64, org_id: &str) -> String {
    format!("pg:v1:{generation}:og:{}", hex::encode(org_id))
}

/// Ephemeral values are not generation-scoped: a new generation must not end
/// sessions or sign-ins in progress.
fn ephemeral_key(namespace: &str, key: &str) -> String {
    format!("pg:v1:e:{}:{}", hex::encode(namespace), hex::encode(key))
}

fn ack_channel(node: &str) -> String {
    format!("pg:v1:ack:{node}")
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64
}

/// One kind of cached record (accounts, organizations): its first level and
/// the misses whose fill is pending, each with the sequence numbers it read.
struct Tier<T> {
    l1: std::sync::Mutex<HashMap<String, (Instant, T)>>,
    misses: std::sync::Mutex<HashMap<String, (u64, u64)>>,
}

impl<T> Default for Tier<T> {
    fn default() -> Self {
        Self {
            l1: Default::default(),
            misses: Default::default(),
        }
    }
}

impl<T: Clone> Tier<T> {
    fn clear(&self) {
        self.l1.lock().expect("l1 lock").clear();
        self.misses.lock().expect("miss lock").clear();
    }

    fn fresh(&self, id: &str, ttl: Duration) -> Option<T> {
        let l1 = self.l1.lock().expect("l1 lock");
        l1.get(id)
            .filter(|(at, _)| at.elapsed() < ttl)
            .map(|(_, v)| v.clone())
    }

    fn record_miss(&self, id: &str, seq: u64, seen: u64) {
        let mut misses = self.misses.lock().expect("miss lock");
        if misses.len() > 10_000 {
            misses.clear();
        }
        misses.insert(id.to_string(), (seq, seen));
    }

    fn take_miss(&self, id: &str) -> Option<(u64, u64)> {
        self.misses.lock().expect("miss lock").remove(id)
    }
}

struct Inner {
    node: String,
    accounts: Tier<Account>,
    organizations: Tier<Organization>,
    config: RedisCacheConfig,
    client: redis::Client,
    conn: ConnectionManager,
    subscribed: AtomicBool,
    last_beat: std::sync::Mutex<Option<Instant>>,
    generation: AtomicU64,
    /// Invalidations this node has processed (its own and others').
    seen: AtomicU64,
    acks: std::sync::Mutex<HashMap<u64, HashSet<String>>>,
    ack_arrived: Notify,
    l1_hits: AtomicU64,
    redis_hits: AtomicU64,
    miss_count: AtomicU64,
    bypassed: AtomicU64,
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
        self.seen.fetch_add(1, Ordering::SeqCst);
    }

    fn drop_person(&self, person: &str) {
        self.accounts.l1.lock().expect("l1 lock").remove(person);
        self.seen.fetch_add(1, Ordering::SeqCst);
    }

    fn drop_organization(&self, org: &str) {
        self.organizations.l1.lock().expect("l1 lock").remove(org);
        self.accounts
            .l1
            .lock()
            .expect("l1 lock")
            .retain(|_, (_, account)| {
                account
                    .membership
                    .as_ref()
                    .is_none_or(|m| m.organization_id != org)
            });
        self.seen.fetch_add(1, Ordering::SeqCst);
    }

    fn fill_l1<T>(&self, tier: &Tier<T>, id: &str, value: T, seen_before: u64) {
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

    /// L1, then Redis; a miss records the sequence numbers its fill must beat.
    async fn read<T: Clone, C: serde::de::DeserializeOwned + Into<T>>(
        &self,
        tier: &Tier<T>,
        id: &str,
        key: String,
    ) -> Result<Option<T>, CacheError> {
        if !self.healthy() {
            self.bypassed.fetch_add(1, Ordering::Relaxed);
            return Ok(None);
        }
        if let Some(value) = tier.fresh(id, self.config.l1_ttl) {
            self.l1_hits.fetch_add(1, Ordering::Relaxed);
            return Ok(Some(value));
        }
        let seen_before = self.seen.load(Ordering::SeqCst);
        let mut conn = self.conn.clone();
        let (entry, seq): (Option<String>, Option<u64>) = redis::pipe()
            .get(key)
            .get(SEQ)
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        if let Some(cached) = entry.and_then(|json| serde_json::from_str::<C>(&json).ok()) {
            self.redis_hits.fetch_add(1, Ordering::Relaxed);
            let value: T = cached.into();
            self.fill_l1(tier, id, value.clone(), seen_before);
            return Ok(Some(value));
        }
        self.miss_count.fetch_add(1, Ordering::Relaxed);
        tier.record_miss(id, seq.unwrap_or(0), seen_before);
        Ok(None)
    }

    /// Stores what a miss read, unless something it covers was invalidated
    /// since (`keys`: entry, two tombstones, member index).
    async fn fill<T: Clone>(
        &self,
        tier: &Tier<T>,
        id: &str,
        value: T,
        payload: String,
        keys: [String; 4],
        member: String,
    ) -> Result<(), CacheError> {
        let Some((seq, seen_before)) = tier.take_miss(id) else {
            return Ok(());
        };
        if !self.healthy() {
            return Ok(());
        }
        let [entry, tomb_a, tomb_b, members] = keys;
        let mut conn = self.conn.clone();
        let stored: i64 = Script::new(GUARDED_PUT)
            .key(&entry)
            .key(&tomb_a)
            .key(&tomb_b)
            .key(&members)
            .arg(seq)
            .arg(payload)
            .arg(self.config.entry_ttl.as_secs().max(1))
            .arg(member)
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)?;
        if stored == 1 {
            self.fill_l1(tier, id, value, seen_before);
        }
        Ok(())
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
                break;
            }
        }
        self.acks.lock().expect("ack lock").remove(&seq);
        Ok(())
    }
}

/// Keeps the subscription up; flushes L1 whenever it is down.
async fn subscriber(inner: Arc<Inner>) {
    let mut backoff = Duration::from_millis(50);
    loop {
        if let Err(err) = subscribe_once(&inner).await {
            tracing::debug!("Redis subscription: {err}");
        }
        if inner.subscribed.swap(false, Ordering::SeqCst) {
            tracing::warn!("lost the Redis subscription: reading the directory until it is back");
        }
        inner.flush_l1();
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(1));
    }
}

async fn subscribe_once(inner: &Arc<Inner>) -> redis::RedisResult<()> {
    let mut pubsub = inner.client.get_async_pubsub().await?;
    pubsub.subscribe(INVALIDATIONS).await?;
    pubsub.subscribe(ack_channel(&inner.node)).await?;
    let mut conn = inner.conn.clone();
    // Invalidations may have been missed while disconnected: start a new
    // generation so that nothing cached before is read again.
    let generation: u64 = conn.incr(GEN, 1).await?;
    inner.generation.fetch_max(generation, Ordering::SeqCst);
    inner.flush_l1();
    let _: i64 = conn
        .publish(INVALIDATIONS, format!("g {generation} {} -", inner.node))
        .await?;
    let _: i64 = conn
        .zadd(
            NODES,
            &inner.node,
            now_ms() + 5 * inner.config.heartbeat.as_millis() as u64,
        )
        .await?;
    *inner.last_beat.lock().expect("beat lock") = Some(Instant::now());
    inner.subscribed.store(true, Ordering::SeqCst);
    tracing::info!(
        node = inner.node,
        generation,
        "status cache connected to Redis"
    );
    let mut messages = pubsub.into_on_message();
    while let Some(msg) = messages.next().await {
        let payload: String = msg.get_payload().unwrap_or_default();
        let mut parts = payload.split(' ');
        if msg.get_channel_name() != INVALIDATIONS {
            // An acknowledgement of one of our invalidations: "<seq> <node>".
            let (Some(Ok(seq)), Some(node)) = (parts.next().map(str::parse::<u64>), parts.next())
            else {
                continue;
            };
            inner
                .acks
                .lock()
                .expect("ack lock")
                .entry(seq)
                .or_default()
                .insert(node.to_string());
            inner.ack_arrived.notify_waiters();
            continue;
        }
        let (Some(kind), Some(seq), Some(origin)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let Ok(seq) = seq.parse::<u64>() else {
            continue;
        };
        let id = parts
            .next()
            .and_then(|h| hex::decode(h).ok())
            .and_then(|b| String::from_utf8(b).ok());
        match (kind, id) {
            ("p", Some(person)) => inner.drop_person(&person),
            ("o", Some(org)) => inner.drop_organization(&org),
            ("g", _) => {
                inner.generation.fetch_max(seq, Ordering::SeqCst);
                inner.flush_l1();
            }
            _ => continue,
        }
        if kind != "g" && origin != inner.node {
            let ack = format!("{seq} {}", inner.node);
            let _: Result<i64, _> = conn.publish(ack_channel(origin), ack).await;
        }
    }
    Ok(())
}

/// Registers this node in the live set; notices eviction and flushes.
async fn heartbeat(inner: Arc<Inner>) {
    loop {
        tokio::time::sleep(inner.config.heartbeat).await;
        if !inner.subscribed.load(Ordering::SeqCst) {
            continue;
        }
        let mut conn = inner.conn.clone();
        let beat = async {
            let score: Option<f64> = conn.zscore(NODES, &inner.node).await?;
            if score.is_none() {
                tracing::warn!(
                    node = inner.node,
                    "this node was evicted from the live set: flushing L1"
                );
                inner.flush_l1();
            }
            let _: i64 = conn
                .zadd(
                    NODES,
                    &inner.node,
                    now_ms() + 5 * inner.config.heartbeat.as_millis() as u64,
                )
                .await?;
            let _: i64 = redis::cmd("ZREMRANGEBYSCORE")
                .arg(NODES)
                .arg("-inf")
                .arg(now_ms())
                .query_async(&mut conn)
                .await?;
            redis::RedisResult::Ok(())
        };
        match beat.await {
            Ok(()) => *inner.last_beat.lock().expect("beat lock") = Some(Instant::now()),
            Err(err) => {
                tracing::warn!("Redis heartbeat failed: {err}");
                inner.flush_l1();
            }
        }
    }
}

/// Refuses to store an entry when its person or organization was invalidated
/// after the reader's sequence number.
const GUARDED_PUT: &str = r#"
local seq = tonumber(ARGV[1])
local tp = tonumber(redis.call('GET', KEYS[2]) or '0')
local to = 0
if KEYS[3] ~= KEYS[2] then to = tonumber(redis.call('GET', KEYS[3]) or '0') end
if tp > seq or to > seq then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
if KEYS[4] ~= KEYS[1] then
  redis.call('SADD', KEYS[4], ARGV[4])
  redis.call('EXPIRE', KEYS[4], ARGV[3])
end
return 1
"#;

/// Leaves an organization tombstone and deletes its entry and every member's.
const DROP_ORGANIZATION: &str = r#"
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
redis.call('DEL', KEYS[3])
local members = redis.call('SMEMBERS', KEYS[2])
for _, person in ipairs(members) do
  redis.call('DEL', ARGV[3] .. person)
end
redis.call('DEL', KEYS[2])
return #members
"#;

#[async_trait]
impl StatusCache for RedisCache {
    fn summary(&self) -> String {
        format!(
            "Redis status cache at {} with in-process L1 (node {})",
            self.inner.config.url, self.inner.node
        )
    }

    async fn get(&self, person_id: &str) -> Result<Option<Account>, CacheError> {
        let inner = &self.inner;
        let key = entry_key(inner.generation.load(Ordering::SeqCst), person_id);
        inner
            .read::<Account, CachedAccount>(&inner.accounts, person_id, key)
            .await
    }

    async fn put(&self, account: Account) -> Result<(), CacheError> {
        let inner = &self.inner;
        let generation = inner.generation.load(Ordering::SeqCst);
        let person = account.person.id.clone();
        let entry = entry_key(generation, &person);
        let tomb_p = person_tombstone(generation, &person);
        let (tomb_o, members) = match &account.membership {
            Some(m) => (
                org_tombstone(generation, &m.organization_id),
                members_key(generation, &m.organization_id),
            ),
            None => (tomb_p.clone(), entry.clone()),
        };
        let payload = serde_json::to_string(&CachedAccount::from(&account))
            .map_err(|e| CacheError::Internal(e.to_string()))?;
        inner
            .fill(
                &inner.accounts,
                &person,
                account,
                payload,
                [entry, tomb_p, tomb_o, members],
                hex::encode(&person),
            )
            .await
    }

    async fn get_organization(
        &self,
        organization_id: &str,
    ) -> Result<Option<Organization>, CacheError> {
        let inner = &self.inner;
        let key = organization_key(inner.generation.load(Ordering::SeqCst), organization_id);
        inner
            .read::<Organization, CachedOrganization>(&inner.organizations, organization_id, key)
            .await
    }

    async fn put_organization(&self, organization: Organization) -> Result<(), CacheError> {
        let inner = &self.inner;
        let generation = inner.generation.load(Ordering::SeqCst);
        let id = organization.id.clone();
        let entry = organization_key(generation, &id);
        let tomb = org_tombstone(generation, &id);
        let payload = serde_json::to_string(&CachedOrganization::from(&organization))
            .map_err(|e| CacheError::Internal(e.to_string()))?;
        // The tombstone twice and the entry as its own index: the script skips both.
        inner
            .fill(
                &inner.organizations,
                &id,
                organization,
                payload,
                [entry.clone(), tomb.clone(), tomb, entry],
                String::new(),
            )
            .await
    }

    async fn invalidate(&self, person_id: &str) -> Result<(), CacheError> {
        let inner = &self.inner;
        inner.drop_person(person_id);
        let generation = inner.generation.load(Ordering::SeqCst);
        let mut conn = inner.conn.clone();
        let seq: u64 = conn.incr(SEQ, 1).await.map_err(unavailable)?;
        let _: () = redis::pipe()
            .atomic()
            .set_ex(
                person_tombstone(generation, person_id),
                seq,
                inner.config.entry_ttl.as_secs().max(1),
            )
            .ignore()
            .del(entry_key(generation, person_id))
            .ignore()
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        inner.broadcast("p", seq, person_id).await
    }

    async fn invalidate_organization(&self, organization_id: &str) -> Result<(), CacheError> {
        let inner = &self.inner;
        inner.drop_organization(organization_id);
        let generation = inner.generation.load(Ordering::SeqCst);
        let mut conn = inner.conn.clone();
        let seq: u64 = conn.incr(SEQ, 1).await.map_err(unavailable)?;
        let _: i64 = Script::new(DROP_ORGANIZATION)
            .key(org_tombstone(generation, organization_id))
            .key(members_key(generation, organization_id))
            .key(organization_key(generation, organization_id))
            .arg(seq)
            .arg(inner.config.entry_ttl.as_secs().max(1))
            .arg(format!("pg:v1:{generation}:a:"))
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)?;
        inner.broadcast("o", seq, organization_id).await
    }
}

#[async_trait]
impl EphemeralStore for RedisCache {
    async fn put_ephemeral(
        &self,
        namespace: &str,
        key: &str,
        value: &str,
        ttl: Duration,
    ) -> Result<(), CacheError> {
        let mut conn = self.inner.conn.clone();
        let ms = ttl.as_millis().max(1) as u64;
        redis::cmd("SET")
            .arg(ephemeral_key(namespace, key))
            .arg(value)
            .arg("PX")
            .arg(ms)
            .query_async::<()>(&mut conn)
            .await
            .map_err(unavailable)
    }

    async fn get_ephemeral(
        &self,
        namespace: &str,
        key: &str,
    ) -> Result<Option<String>, CacheError> {
        let mut conn = self.inner.conn.clone();
        conn.get(ephemeral_key(namespace, key))
            .await
            .map_err(unavailable)
    }

    async fn take_ephemeral(
        &self,
        namespace: &str,
        key: &str,
    ) -> Result<Option<String>, CacheError> {
        let mut conn = self.inner.conn.clone();
        redis::cmd("GETDEL")
            .arg(ephemeral_key(namespace, key))
            .query_async(&mut conn)
            .await
            .map_err(unavailable)
    }

    async fn delete_ephemeral(&self, namespace: &str, key: &str) -> Result<(), CacheError> {
        let mut conn = self.inner.conn.clone();
        conn.del::<_, ()>(ephemeral_key(namespace, key))
            .await
            .map_err(unavailable)
    }
}

/// The JSON form of an account in Redis.
#[derive(Serialize, Deserialize)]
struct CachedAccount {
    id: String,
    email: String,
    name: String,
    membership: Option<CachedMembership>,
    organization: Option<CachedOrganization>,
}

#[derive(Serialize, Deserialize)]
struct CachedMembership {
    organization_id: String,
    status: String,
    previous_status: Option<String>,
    is_admin: bool,
    roles: Vec<String>,
    spending_limit: Option<u64>,
    invited_at: Option<u64>,
    version: u64,
}

#[derive(Serialize, Deserialize)]
struct CachedOrganization {
    id: String,
    name: String,
    status: String,
    active_admins: u32,
}

/// An account status read back from Redis. Fails closed on a name this
/// node does not know (another version wrote it): `revoked`, never more
/// access than was cached.
fn status(s: &str) -> AccountStatus {
    s.parse().unwrap_or(AccountStatus::Revoked)
}

impl From<&Organization> for CachedOrganization {
    fn from(o: &Organization) -> Self {
        Self {
            id: o.id.clone(),
            name: o.name.clone(),
            status: o.status.name().into(),
            active_admins: o.active_admins,
        }
    }
}

impl From<CachedOrganization> for Organization {
    fn from(o: CachedOrganization) -> Self {
        Organization {
            id: o.id,
            name: o.name,
            // An unknown status decodes to `blocked`: never more than was cached.
            status: o.status.parse().unwrap_or(OrganizationStatus::Blocked),
            active_admins: o.active_admins,
        }
    }
}

impl From<&Account> for CachedAccount {
    fn from(a: &Account) -> Self {
        Self {
            id: a.person.id.clone(),
            email: a.person.email.clone(),
            name: a.person.name.clone(),
            membership: a.membership.as_ref().map(|m| CachedMembership {
                organization_id: m.organization_id.clone(),
                status: m.status.name().into(),
                previous_status: m.previous_status.map(|s| s.name().into()),
                is_admin: m.is_admin,
                roles: m.roles.clone(),
                spending_limit: m.spending_limit,
                invited_at: m.invited_at,
                version: m.version,
            }),
            organization: a.organization.as_ref().map(CachedOrganization::from),
        }
    }
}

impl From<CachedAccount> for Account {
    fn from(c: CachedAccount) -> Self {
        let person = Person {
            id: c.id,
            email: c.email,
            name: c.name,
        };
        let membership = c.membership.map(|m| Membership {
            organization_id: m.organization_id,
            person_id: person.id.clone(),
            status: status(&m.status),
            previous_status: m.previous_status.as_deref().map(status),
            is_admin: m.is_admin,
            roles: m.roles,
            spending_limit: m.spending_limit,
            invited_at: m.invited_at,
            version: m.version,
        });
        let organization = c.organization.map(Organization::from);
        Account {
            person,
            membership,
            organization,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A name this node does not know (written by another version) reads
    /// as no more access than there can have been: a revoked account, a
    /// blocked organization.
    #[test]
    fn unknown_cached_names_fail_closed() {
        assert_eq!(status("suspended"), AccountStatus::Revoked);
        assert_eq!(status("active"), AccountStatus::Active);
        let org: Organization = CachedOrganization {
            id: "a".into(),
            name: "A".into(),
            status: "frozen".into(),
            active_admins: 1,
        }
        .into();
        assert_eq!(org.status, OrganizationStatus::Blocked);
    }

    proptest! {
        #[test]
        fn keys_of_two_principals_never_collide(a in ".{0,24}", b in ".{0,24}", generation in 0u64..4) {
            prop_assume!(a != b);
            prop_assert_ne!(entry_key(generation, &a), entry_key(generation, &b));
            prop_assert_ne!(person_tombstone(generation, &a), person_tombstone(generation, &b));
            prop_assert_ne!(members_key(generation, &a), members_key(generation, &b));
            // Keys of different kinds or generations never meet either.
            prop_assert_ne!(entry_key(generation, &a), person_tombstone(generation, &a));
            prop_assert_ne!(entry_key(generation, &a), entry_key(generation + 1, &a));
        }

        #[test]
        fn ephemeral_keys_never_collide(n1 in ".{0,8}", k1 in ".{0,16}", n2 in ".{0,8}", k2 in ".{0,16}") {
            prop_assume!((n1.as_str(), k1.as_str()) != (n2.as_str(), k2.as_str()));
            prop_assert_ne!(ephemeral_key(&n1, &k1), ephemeral_key(&n2, &k2));
        }

        #[test]
        fn ids_with_separators_stay_apart(prefix in "[a-z:]{0,6}", suffix in "[a-z:]{0,6}") {
            let a = format!("{prefix}:{suffix}");
            let b = format!("{prefix}{suffix}:");
            prop_assume!(a != b);
            prop_assert_ne!(entry_key(1, &a), entry_key(1, &b));
        }
    }

    #[test]
    fn cached_account_round_trips() {
        let account = Account {
            person: Person {
                id: "p".into(),
                email: "p@x.test".into(),
                name: "P".into(),
            },
            membership: Some(Membership {
                organization_id: "o".into(),
                person_id: "p".into(),
                status: AccountStatus::Revoked,
                previous_status: Some(AccountStatus::Active),
                is_admin: true,
                roles: vec!["buyer".into()],
                spending_limit: Some(7),
                invited_at: Some(9),
                version: 3,
            }),
            organization: Some(Organization {
                id: "o".into(),
                name: "O".into(),
                status: OrganizationStatus::Blocked,
                active_admins: 2,
            }),
        };
        let json = serde_json::to_string(&CachedAccount::from(&account)).unwrap();
        let back = Account::from(serde_json::from_str::<CachedAccount>(&json).unwrap());
        assert_eq!(format!("{back:?}"), format!("{account:?}"));
    }
}
