//! One kind of cached record in the first level.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::cache::Stamped;

/// One kind of cached record (accounts, organizations, staff): its first
/// level.
pub(super) struct Tier<T> {
    pub(super) l1: std::sync::Mutex<ById<T>>,
}

/// Records of one kind by id, with the time each was put in L1.
pub(super) type ById<T> = HashMap<String, (Instant, Arc<Stamped<T>>)>;

impl<T> Default for Tier<T> {
    fn default() -> Self {
        Self {
            l1: Default::default(),
        }
    }
}

impl<T> Tier<T> {
    pub(super) fn clear(&self) {
        self.l1.lock().expect("l1 lock").clear();
    }

    pub(super) fn fresh(&self, id: &str, ttl: Duration) -> Option<Arc<Stamped<T>>> {
        let l1 = self.l1.lock().expect("l1 lock");
        l1.get(id)
            .filter(|(at, _)| at.elapsed() < ttl)
            .map(|(_, v)| v.clone())
    }
}
