//! `records`: what a decision reads, in one call. The status cache first,
//! then the directory (filling the cache with what it read), each record
//! stamped so that a plugin holding a current copy is told `unchanged`
//! instead of being sent it again.

use std::hash::Hash;

use crate::bindings::records::{self, Found, Key, Lookup};
use crate::bindings::types::{Account, Organization, Staff};
use crate::cache::{CacheError, StatusCache};
use crate::directory::{Directory, DirectoryError};
use crate::state::{HostState, Services};

impl records::Host for HostState {
    async fn read(
        &mut self,
        first: Lookup,
        second: Option<Lookup>,
    ) -> wasmtime::Result<Result<(Found, Option<Found>), records::Error>> {
        let services = &self.services;
        let first = match read_one(services, &first.key, first.known).await {
            Ok(found) => found,
            Err(err) => return Ok(Err(err)),
        };
        let second = match second {
            Some(lookup) => match read_one(services, &lookup.key, lookup.known).await {
                Ok(found) => Some(found),
                Err(err) => return Ok(Err(err)),
            },
            None => None,
        };
        Ok(Ok((first, second)))
    }
}

/// One lookup: the record, `missing`, or `unchanged` when its stamp is
/// `known` (the one the plugin holds).
pub(crate) async fn read_one(
    services: &Services,
    key: &Key,
    known: Option<u64>,
) -> Result<Found, records::Error> {
    let (stamp, found) = match key {
        Key::Account(id) => stamped::<Account>(services, id, Found::Account).await?,
        Key::Organization(id) => stamped::<Organization>(services, id, Found::Organization).await?,
        Key::Staff(id) => stamped::<Staff>(services, id, Found::Staff).await?,
    }
    .unzip();
    Ok(match (stamp, found) {
        (Some(stamp), _) if known == Some(stamp) => Found::Unchanged,
        (_, Some(found)) => found,
        _ => Found::Missing,
    })
}

/// The record with `id` and its stamp: cached, or read from the directory
/// and cached. A cache that cannot be reached is passed over.
async fn stamped<R: Record>(
    services: &Services,
    id: &str,
    found: fn((u64, R)) -> Found,
) -> Result<Option<(u64, Found)>, records::Error> {
    let cache = services.cache.as_ref();
    let cached = match R::cached(cache, id).await {
        Ok(cached) => {
            if cache.lookups().is_none() {
                services
                    .metrics
                    .cache_lookup(cache.tier(), cached.is_some());
            }
            cached
        }
        Err(err) => {
            tracing::warn!(%err, "status cache read failed; reading the directory");
            None
        }
    };
    let record = match cached {
        Some(record) => record,
        None => {
            let Some(record) = R::read(services.directory.as_ref(), id)
                .await
                .map_err(unavailable)?
            else {
                return Ok(None);
            };
            if let Err(err) = R::fill(cache, record.clone()).await {
                tracing::warn!(%err, "status cache write failed");
            }
            record
        }
    };
    let stamp = services.stamp(&record);
    Ok(Some((stamp, found((stamp, record)))))
}

fn unavailable(err: DirectoryError) -> records::Error {
    match err {
        DirectoryError::Unavailable(m) => records::Error::Unavailable(m),
        other => records::Error::InternalError(Some(other.to_string())),
    }
}

/// A kind of record decisions read: where the cache and the directory
/// keep it.
trait Record: Clone + Hash + Sized {
    async fn cached(cache: &dyn StatusCache, id: &str) -> Result<Option<Self>, CacheError>;
    async fn fill(cache: &dyn StatusCache, record: Self) -> Result<(), CacheError>;
    async fn read(directory: &dyn Directory, id: &str) -> Result<Option<Self>, DirectoryError>;
}

/// `Record` for a kind: its cache getter and filler, its directory reader.
macro_rules! record {
    ($kind:ty, $get:ident, $put:ident, $read:ident) => {
        impl Record for $kind {
            async fn cached(cache: &dyn StatusCache, id: &str) -> Result<Option<Self>, CacheError> {
                cache.$get(id).await
            }
            async fn fill(cache: &dyn StatusCache, record: Self) -> Result<(), CacheError> {
                cache.$put(record).await
            }
            async fn read(
                directory: &dyn Directory,
                id: &str,
            ) -> Result<Option<Self>, DirectoryError> {
                directory.$read(id).await
            }
        }
    };
}

record!(Account, get, put, get_account);
record!(
    Organization,
    get_organization,
    put_organization,
    get_organization
);
record!(Staff, get_staff, put_staff, get_staff);
