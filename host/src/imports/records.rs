//! `records`: what a decision reads, in one call, through
//! [`crate::records::stamped`] (the status cache while it is trusted, else
//! the directory), each record stamped so that a plugin holding a current
//! copy is told `unchanged` instead of being sent it again.

use crate::bindings::records::{self, Found, Lookup};
use crate::convert::Conv;
use crate::directory::DirectoryError;
use crate::model::RecordKey;
use crate::records::{Read, stamped};
use crate::state::{HostState, Services};

impl crate::bindings::types::Host for HostState {}

impl records::Host for HostState {
    async fn read(
        &mut self,
        first: Lookup,
        second: Option<Lookup>,
    ) -> wasmtime::Result<Result<(Found, Option<Found>), records::Error>> {
        let started = std::time::Instant::now();
        let services = &self.services;
        let read = async {
            let first = read_one(services, first).await?;
            let second = match second {
                Some(lookup) => Some(read_one(services, lookup).await?),
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

/// One lookup: the record, `missing`, or `unchanged` when its stamp is the
/// one the plugin holds.
async fn read_one(services: &Services, lookup: Lookup) -> Result<Found, records::Error> {
    let key: RecordKey = lookup.key.conv();
    Ok(match stamped(services, &key).await.map_err(unavailable)? {
        Some((stamp, _)) if lookup.known == Some(stamp) => Found::Unchanged,
        Some((stamp, Read::Account(a))) => Found::Account((stamp, a.conv())),
        Some((stamp, Read::Organization(o))) => Found::Organization((stamp, o.conv())),
        Some((stamp, Read::Staff(s))) => Found::Staff((stamp, s.conv())),
        None => Found::Missing,
    })
}

fn unavailable(err: DirectoryError) -> records::Error {
    match err {
        DirectoryError::Unavailable(m) => records::Error::Unavailable(m),
        other => records::Error::InternalError(Some(other.to_string())),
    }
}
