//! A record with its stamp: what the cache holds and decisions read.

use std::hash::{BuildHasher, Hash, RandomState};
use std::ops::Deref;
use std::sync::{Arc, LazyLock};

/// The key records are stamped with: random per process, so nobody outside
/// can make two records share a stamp.
static KEY: LazyLock<RandomState> = LazyLock::new(RandomState::new);

/// A record and its stamp (its keyed hash, which changes whenever anything
/// in the record does), computed once when the record was read: a cache hit
/// neither copies nor hashes it again. Reads as the record it holds.
#[derive(Debug, PartialEq, Eq)]
pub struct Stamped<T> {
    stamp: u64,
    record: T,
}

impl<T: Hash> Stamped<T> {
    /// `record`, stamped.
    pub fn new(record: T) -> Self {
        Self {
            stamp: KEY.hash_one(&record),
            record,
        }
    }

    /// `record`, stamped, to be shared: what the cache holds and a read
    /// gives.
    pub fn shared(record: T) -> Arc<Self> {
        Arc::new(Self::new(record))
    }
}

impl<T> Stamped<T> {
    /// The record's stamp.
    pub fn stamp(&self) -> u64 {
        self.stamp
    }

    /// The record.
    pub fn record(&self) -> &T {
        &self.record
    }
}

impl<T> Deref for Stamped<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.record
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stamp_changes_with_any_field_and_not_without() {
        let a = Stamped::new(("bob", "active", 12_000u64));
        assert_eq!(
            a.stamp(),
            Stamped::new(("bob", "active", 12_000u64)).stamp()
        );
        for other in [
            ("bob", "revoked", 12_000u64),
            ("bob", "active", 12_001),
            ("bo", "bactive", 12_000),
        ] {
            assert_ne!(a.stamp(), Stamped::new(other).stamp(), "{other:?}");
        }
        assert_eq!(a.record().0, "bob");
        assert_eq!(a.2, 12_000, "reads as the record");
    }
}
