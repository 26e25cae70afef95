//! One kind of cached record in the first level, with the misses whose
//! fill is pending.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// One kind of cached record (accounts, organizations): its first level and
/// the misses whose fill is pending, each with the sequence numbers it read.
pub(super) struct Tier<T> {
    pub(super) l1: std::sync::Mutex<HashMap<String, (Instant, T)>>,
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
    pub(super) fn clear(&self) {
        self.l1.lock().expect("l1 lock").clear();
        self.misses.lock().expect("miss lock").clear();
    }

    pub(super) fn fresh(&self, id: &str, ttl: Duration) -> Option<T> {
        let l1 = self.l1.lock().expect("l1 lock");
        l1.get(id)
            .filter(|(at, _)| at.elapsed() < ttl)
            .map(|(_, v)| v.clone())
    }

    pub(super) fn record_miss(&self, id: &str, seq: u64, seen: u64) {
        let mut misses = self.misses.lock().expect("miss lock");
        if misses.len() > 10_000 {
            misses.clear();
        }
        misses.insert(id.to_string(), (seq, seen));
    }

    pub(super) fn take_miss(&self, id: &str) -> Option<(u64, u64)> {
        self.misses.lock().expect("miss lock").remove(id)
    }
}
