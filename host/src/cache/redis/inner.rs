//! What every part of the Redis cache shares: its settings and its state.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::time::{Duration, Instant};

use redis::aio::ConnectionManager;
use tokio::sync::Notify;

use super::tier::Tier;
use crate::model::{Account, Organization, Staff};

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

/// The Redis cache's state, shared by its tasks.
pub(super) struct Inner {
    pub(super) node: String,
    pub(super) accounts: Tier<Account>,
    pub(super) organizations: Tier<Organization>,
    pub(super) staff: Tier<Staff>,
    pub(super) config: RedisCacheConfig,
    pub(super) client: redis::Client,
    pub(super) conn: ConnectionManager,
    pub(super) subscribed: AtomicBool,
    pub(super) last_beat: std::sync::Mutex<Option<Instant>>,
    pub(super) generation: AtomicU64,
    /// Invalidations this node has processed (its own and others').
    pub(super) seen: AtomicU64,
    pub(super) acks: std::sync::Mutex<HashMap<u64, HashSet<String>>>,
    pub(super) ack_arrived: Notify,
    pub(super) l1_hits: AtomicU64,
    pub(super) redis_hits: AtomicU64,
    pub(super) miss_count: AtomicU64,
    pub(super) bypassed: AtomicU64,
}
