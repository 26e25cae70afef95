//! `records`: what a decision reads, in one call, through
//! [`crate::records::lookup`] (the status cache while it is trusted, else
//! the directory), each record stamped so that a plugin holding a current
//! copy is told `unchanged` instead of being sent it again.

use std::hash::Hash;

use crate::bindings::records::{self, Found, Key, Lookup};
use crate::bindings::types::{Account, Organization, Staff};
use crate::directory::DirectoryError;
use crate::records::{Record, lookup};
use crate::state::{HostState, Services};

impl records::Host for HostState {
    async fn read(
        &mut self,
        first: Lookup,
        second: Option<Lookup>,
    ) -> wasmtime::Result<Result<(Found, Option<Found>), records::Error>> {
        let started = std::time::Instant::now();
        let services = &self.services;
        let read = async {
            let first = read_one(services, &first.key, first.known).await?;
            let second = match second {
                Some(lookup) => Some(read_one(services, &lookup.key, lookup.known).await?),
                None => None,
            };
            Ok((first, second))
        }
        .await;
        // The host's time, not the plugin's: see `HostState::host_wait`.
        self.host_wait += started.elapsed();
        Ok(read)
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

/// The record with `id` and its stamp ([`crate::records::lookup`]).
async fn stamped<R: Record + Hash>(
    services: &Services,
    id: &str,
    found: fn((u64, R)) -> Found,
) -> Result<Option<(u64, Found)>, records::Error> {
    let Some(record) = lookup::<R>(services, id).await.map_err(unavailable)? else {
        return Ok(None);
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
