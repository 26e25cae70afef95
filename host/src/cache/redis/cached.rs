//! The kinds of record the cache holds (an account, an organization, a
//! staff member): for each, its first level, its Redis keys, its stored form
//! and its letter in invalidation messages.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::inner::Inner;
use super::keys::{
    entry_key, members_key, org_tombstone, organization_key, person_tombstone, staff_key,
    staff_tombstone,
};
use super::stored::{CachedAccount, CachedOrganization, CachedStaff};
use super::tier::Tier;
use crate::model::{Account, Organization, Staff};

/// A kind of record the cache holds: where it lives in L1 and in Redis,
/// and its stored form.
pub(super) trait Cached: Clone + std::hash::Hash + Sized + Send + Sync {
    /// The JSON form in Redis.
    type Stored: Serialize + DeserializeOwned + for<'a> From<&'a Self> + Into<Self>;
    /// The record's id (a person's or an organization's).
    fn id(&self) -> &str;
    /// Its first level.
    fn tier(inner: &Inner) -> &Tier<Self>;
    /// The Redis key of the entry with `id`.
    fn key(generation: u64, id: &str) -> String;
    /// The Redis key of its tombstone.
    fn tombstone(generation: u64, id: &str) -> String;
    /// Its letter in invalidation messages (`p`, `o`, `s`).
    const KIND: &'static str;
    /// The keys a guarded fill touches (entry, the two tombstones it must
    /// beat, the member index), the member to add to the index, and a
    /// tombstone and member index for each further organization.
    fn fill_keys(&self, generation: u64) -> ([String; 4], String, Vec<String>);
}

impl Cached for Account {
    type Stored = CachedAccount;
    const KIND: &'static str = "p";

    fn id(&self) -> &str {
        &self.person.id
    }

    fn tier(inner: &Inner) -> &Tier<Self> {
        &inner.accounts
    }

    fn key(generation: u64, id: &str) -> String {
        entry_key(generation, id)
    }

    fn tombstone(generation: u64, id: &str) -> String {
        person_tombstone(generation, id)
    }

    fn fill_keys(&self, generation: u64) -> ([String; 4], String, Vec<String>) {
        let person = &self.person.id;
        let entry = entry_key(generation, person);
        let tomb_p = person_tombstone(generation, person);
        // Every organization the entry embeds: dropping any drops it.
        let mut organizations = self
            .memberships
            .iter()
            .map(|m| m.organization.id.as_str())
            .chain(self.membership.as_ref().map(|m| m.organization_id.as_str()));
        let (tomb_o, members) = match organizations.next() {
            Some(org) => (org_tombstone(generation, org), members_key(generation, org)),
            // Without an organization: the person's tombstone twice, and the
            // entry as its own index (the script skips both).
            None => (tomb_p.clone(), entry.clone()),
        };
        let mut more: Vec<&str> = organizations.collect();
        more.sort_unstable();
        more.dedup();
        let first = self
            .memberships
            .first()
            .map(|m| m.organization.id.as_str())
            .or(self.membership.as_ref().map(|m| m.organization_id.as_str()));
        let more = more
            .into_iter()
            .filter(|org| Some(*org) != first)
            .flat_map(|org| [org_tombstone(generation, org), members_key(generation, org)])
            .collect();
        ([entry, tomb_p, tomb_o, members], hex::encode(person), more)
    }
}

/// `Cached` for a record kept under its id alone, with no index (an
/// organization, a staff member): its stored form, its first-level tier, and
/// its entry and tombstone keys.
macro_rules! cached_by_id {
    ($record:ty, $stored:ty, $kind:literal, $tier:ident, $key:ident, $tombstone:ident) => {
        impl Cached for $record {
            type Stored = $stored;
            const KIND: &'static str = $kind;

            fn id(&self) -> &str {
                &self.id
            }

            fn tier(inner: &Inner) -> &Tier<Self> {
                &inner.$tier
            }

            fn key(generation: u64, id: &str) -> String {
                $key(generation, id)
            }

            fn tombstone(generation: u64, id: &str) -> String {
                $tombstone(generation, id)
            }

            fn fill_keys(&self, generation: u64) -> ([String; 4], String, Vec<String>) {
                let entry = $key(generation, &self.id);
                let tomb = $tombstone(generation, &self.id);
                // The tombstone twice and the entry as its own index: the
                // script skips both.
                (
                    [entry.clone(), tomb.clone(), tomb, entry],
                    String::new(),
                    Vec::new(),
                )
            }
        }
    };
}

cached_by_id!(
    Organization,
    CachedOrganization,
    "o",
    organizations,
    organization_key,
    org_tombstone
);
cached_by_id!(Staff, CachedStaff, "s", staff, staff_key, staff_tombstone);
