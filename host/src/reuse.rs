//! Decisions given again without a plugin call.
//!
//! With each decision the plugin says what it rests on: the records it was
//! made on, with the stamps the `records` import gave them
//! (`access.answer.basis`). While every one of those records keeps its stamp
//! and the same policy set is in use, the plugin would decide the same
//! request the same way, so the host gives the decision again itself. The
//! stamps are checked on every reuse through the same path the plugin reads
//! by (the status cache, then the directory), so a record changed on any
//! node is seen exactly when the plugin's own memo would see it; a reload
//! starts afresh (entries carry their policy generation); a record that
//! cannot be read sends the request to the plugin, which fails closed.
//!
//! A decision is kept only for a request asked before (a doorkeeper, as in
//! TinyLFU): most requests are asked once — every checkout has its own
//! total — and keeping each would cost every new decision an entry, an
//! eviction, and the entries of requests that do come again. The
//! doorkeeper remembers the keys of requests asked, one slot each in a
//! fixed table (two per entry kept); a request whose key is in its slot
//! when it is decided is kept. So a request is decided by the plugin twice
//! (its memo answers the second time) and given again from the third.

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::sync::{Arc, Mutex};

use crate::model::{AccessRequest as Request, Answer, Decision, Stamped};
use crate::state::Services;

/// Decisions the plugin said may be given again, by request.
pub(crate) struct Reuse {
    /// Entries kept (the oldest is dropped beyond it); 0 keeps none.
    capacity: usize,
    /// Keys the map by a keyed hash of the request's texts (seeded at
    /// random per process, so keys cannot be aimed at a slot); each entry
    /// holds the texts too, so two requests never share an entry, and a
    /// collision only costs a reuse. foldhash rather than SipHash: the
    /// key is computed for every decision.
    hasher: foldhash::quality::RandomState,
    entries: Mutex<Entries>,
}

/// The entries and their keys in insertion order: when full, the oldest
/// entry is dropped, one per insertion (never a sweep of the whole map
/// while the lock is held).
#[derive(Default)]
struct Entries {
    map: HashMap<u64, Arc<Entry>, BuildHasherDefault<Prehashed>>,
    order: std::collections::VecDeque<u64>,
    /// The doorkeeper: the key last seen in each slot (`key % len`).
    seen: Vec<u64>,
}

/// The texts of a request, borrowed: what a decision is kept by. A
/// repeated request is looked up without copying them.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Asked<'a> {
    pub principal: &'a str,
    pub action: &'a str,
    pub resource: &'a str,
    /// The context as the plugin is given it (JSON text, or empty).
    pub context: &'a str,
    /// The organization acted for, if named.
    pub organization: Option<&'a str>,
}

impl<'a> Asked<'a> {
    /// The request the plugin is called with.
    pub(crate) fn to_request(self) -> Request {
        Request {
            principal: self.principal.to_string(),
            action: self.action.to_string(),
            resource: self.resource.to_string(),
            context: self.context.to_string(),
            organization: self.organization.map(str::to_string),
        }
    }
}

impl<'a> From<&'a Request> for Asked<'a> {
    fn from(request: &'a Request) -> Self {
        Self {
            principal: &request.principal,
            action: &request.action,
            resource: &request.resource,
            context: &request.context,
            organization: request.organization.as_deref(),
        }
    }
}

/// The map's hasher: its keys are keyed hashes already, so they are used
/// as they are rather than hashed again.
#[derive(Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }

    /// Not used by a map keyed by `u64`; folds the bytes in rather than
    /// panic.
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }

    fn write_u64(&mut self, key: u64) {
        self.0 = key;
    }
}

/// A request's key in the map: a keyed hash of its texts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Key(u64);

/// One decision and what it rests on.
struct Entry {
    request: Request,
    /// The policy generation of the instance that decided.
    generation: u64,
    basis: Vec<Stamped>,
    decision: Decision,
}

impl Entry {
    /// The decision, if every record it rests on still has its stamp.
    async fn confirm(&self, services: &Services) -> Option<Decision> {
        for basis in &self.basis {
            match crate::records::stamped(services, &basis.key).await {
                Ok(Some((stamp, _))) if stamp == basis.stamp => {}
                _ => return None,
            }
        }
        Some(self.decision.clone())
    }
}

impl Reuse {
    /// A store of at most `capacity` decisions (none when 0).
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity,
            hasher: foldhash::quality::RandomState::default(),
            entries: Mutex::new(Entries {
                seen: vec![0; capacity.saturating_mul(2)],
                ..Entries::default()
            }),
        }
    }

    /// The key `asked` is kept by: computed once per request, for its
    /// lookup and its keeping.
    pub(crate) fn key(&self, asked: Asked<'_>) -> Key {
        Key(self.hasher.hash_one((
            asked.principal,
            asked.action,
            asked.resource,
            asked.context,
            asked.organization,
        )))
    }

    /// The decision given for `asked` under policy `generation`, if there
    /// is one and every record it rests on still has its stamp.
    pub(crate) async fn get(
        &self,
        key: Key,
        asked: Asked<'_>,
        generation: u64,
        services: &Services,
    ) -> Option<Decision> {
        let entry = self.candidate(key, asked, generation)?;
        // Boxed: the stamps' reads make a large future, which every new
        // decision (no candidate) would otherwise carry and copy.
        Box::pin(entry.confirm(services)).await
    }

    /// The entry kept for `asked` under policy `generation`, its stamps not
    /// yet checked.
    fn candidate(&self, key: Key, asked: Asked<'_>, generation: u64) -> Option<Arc<Entry>> {
        if self.capacity == 0 {
            return None;
        }
        let entry = {
            let entries = self.entries.lock().expect("reuse lock");
            entries.map.get(&key.0)?.clone()
        };
        let same = entry.request.principal == asked.principal
            && entry.request.action == asked.action
            && entry.request.resource == asked.resource
            && entry.request.context == asked.context
            && entry.request.organization.as_deref() == asked.organization;
        (same && entry.generation == generation).then_some(entry)
    }

    /// Keeps the plugin's `answer` to `request`, decided under policy
    /// `generation`, if the plugin said what it rests on and the request
    /// was asked before (the doorkeeper, see the module's documentation).
    /// `key` is `request`'s ([`Reuse::key`]).
    pub(crate) fn put(&self, key: Key, asked: Asked<'_>, generation: u64, answer: &Answer) {
        let Some(basis) = &answer.basis else {
            return;
        };
        if self.capacity == 0 {
            return;
        }
        debug_assert_eq!(key, self.key(asked));
        let Key(key) = key;
        {
            let mut entries = self.entries.lock().expect("reuse lock");
            let slot = (key % entries.seen.len() as u64) as usize;
            let asked_before = entries.seen[slot] == key || entries.map.contains_key(&key);
            if !asked_before {
                entries.seen[slot] = key;
                return;
            }
        }
        let entry = Arc::new(Entry {
            request: asked.to_request(),
            generation,
            basis: basis.clone(),
            decision: answer.decision.clone(),
        });
        let evicted = {
            let mut entries = self.entries.lock().expect("reuse lock");
            if entries.map.insert(key, entry).is_some() {
                return;
            }
            entries.order.push_back(key);
            if entries.order.len() > self.capacity {
                entries
                    .order
                    .pop_front()
                    .and_then(|oldest| entries.map.remove(&oldest))
            } else {
                None
            }
        };
        // Dropped outside the lock.
        drop(evicted);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Decision, Effect};

    fn request(total: u32) -> Request {
        Request {
            principal: "customer:bob".into(),
            action: "placeOrder".into(),
            resource: "store:main".into(),
            context: format!("{{\"orderTotal\":{total}}}"),
            organization: None,
        }
    }

    fn answer() -> Answer {
        Answer {
            decision: Decision {
                effect: Effect::Allow,
                policies: vec!["order-within-spending-limit".into()],
                errors: vec![],
            },
            basis: Some(vec![]),
        }
    }

    fn put(reuse: &Reuse, request: Request, answer: &Answer) {
        let asked = Asked::from(&request);
        reuse.put(reuse.key(asked), asked, 1, answer);
    }

    fn kept(reuse: &Reuse) -> usize {
        reuse.entries.lock().unwrap().map.len()
    }

    #[test]
    fn a_request_asked_once_is_not_kept_and_one_asked_again_is() {
        let reuse = Reuse::new(4);
        put(&reuse, request(1), &answer());
        assert_eq!(kept(&reuse), 0, "kept at its first asking");
        put(&reuse, request(1), &answer());
        assert_eq!(kept(&reuse), 1, "not kept at its second asking");
        put(&reuse, request(1), &answer());
        assert_eq!(kept(&reuse), 1);
    }

    #[test]
    fn requests_asked_once_never_push_out_one_asked_again() {
        let reuse = Reuse::new(4);
        put(&reuse, request(1), &answer());
        put(&reuse, request(1), &answer());
        for total in 2..1_000 {
            put(&reuse, request(total), &answer());
        }
        let entries = reuse.entries.lock().unwrap();
        assert_eq!(entries.map.len(), 1);
        assert!(
            entries
                .map
                .contains_key(&reuse.key(Asked::from(&request(1))).0)
        );
    }

    #[test]
    fn kept_entries_stay_within_capacity_oldest_out_first() {
        let reuse = Reuse::new(4);
        for total in 0..10 {
            put(&reuse, request(total), &answer());
            put(&reuse, request(total), &answer());
        }
        let entries = reuse.entries.lock().unwrap();
        assert_eq!(entries.map.len(), 4);
        for total in 6..10 {
            assert!(
                entries
                    .map
                    .contains_key(&reuse.key(Asked::from(&request(total))).0)
            );
        }
    }

    #[test]
    fn an_answer_without_basis_or_a_store_of_none_keeps_nothing() {
        let reuse = Reuse::new(4);
        let unkeepable = Answer {
            basis: None,
            ..answer()
        };
        for _ in 0..3 {
            put(&reuse, request(1), &unkeepable);
        }
        assert_eq!(kept(&reuse), 0);
        let none = Reuse::new(0);
        for _ in 0..3 {
            put(&none, request(1), &answer());
        }
        assert_eq!(kept(&none), 0);
    }
}
