//! `records`: what a decision reads, in one call, through
//! [`crate::records::stamped`] (the status cache while it is trusted, else
//! the directory), each record stamped so that a plugin holding a current
//! copy is told `unchanged` instead of being sent it again.
//!
//! Linked by hand rather than through the generated `records::Host`: the
//! records are lowered into the plugin's memory straight from the host's
//! copies ([`super::lowered`]), not from WIT-typed copies made first.

use std::task::Poll;
use std::time::{Duration, Instant};

use wasmtime::component::Linker;

use super::lowered::{Found, Shared};
use crate::bindings::records::{self, Lookup};
use crate::convert::Conv;
use crate::directory::DirectoryError;
use crate::model::RecordKey;
use crate::records::{Read, stamped};
use crate::state::{HostState, Services};

impl crate::bindings::types::Host for HostState {}

/// The interface's instance name, as the world imports it.
const INTERFACE: &str = "partnergate:b2b/records@0.10.0";

/// Defines `records.read` in `linker`.
pub(crate) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.instance(INTERFACE)?.func_wrap_async(
        "read",
        |mut store, (first, second): (Lookup, Option<Lookup>)| {
            Box::new(async move {
                let state: &mut HostState = store.data_mut();
                // The host's time, not the plugin's (see
                // `HostState::host_wait`), is timed only when the read has
                // to wait (the directory, Redis): one answered from the
                // in-process cache at once takes microseconds, and the
                // clock would be read twice on every decision for them.
                let (read, waited) = {
                    let mut read = std::pin::pin!(read(&state.services, first, second));
                    match futures_util::poll!(read.as_mut()) {
                        Poll::Ready(read) => (read, Duration::ZERO),
                        Poll::Pending => {
                            let started = Instant::now();
                            (read.await, started.elapsed())
                        }
                    }
                };
                state.host_wait += waited;
                Ok((read,))
            })
        },
    )
}

/// One lookup, or two (a decision's principal and resource).
async fn read(
    services: &Services,
    first: Lookup,
    second: Option<Lookup>,
) -> Result<(Found, Option<Found>), records::Error> {
    let first = read_one(services, first).await?;
    let second = match second {
        Some(lookup) => Some(read_one(services, lookup).await?),
        None => None,
    };
    Ok((first, second))
}

/// One lookup: the record, `missing`, or `unchanged` when its stamp is the
/// one the plugin holds.
async fn read_one(services: &Services, lookup: Lookup) -> Result<Found, records::Error> {
    let key: RecordKey = lookup.key.conv();
    Ok(match stamped(services, &key).await.map_err(unavailable)? {
        Some((stamp, _)) if lookup.known == Some(stamp) => Found::Unchanged,
        Some((stamp, Read::Account(a))) => Found::Account((stamp, Shared(a))),
        Some((stamp, Read::Organization(o))) => Found::Organization((stamp, Shared(o))),
        Some((stamp, Read::Staff(s))) => Found::Staff((stamp, Shared(s))),
        None => Found::Missing,
    })
}

fn unavailable(err: DirectoryError) -> records::Error {
    match err {
        DirectoryError::Unavailable(m) => records::Error::Unavailable(m),
        other => records::Error::InternalError(Some(other.to_string())),
    }
}
