//! How many requests one client address may send: the prospect's form
//! takes a few per window from each.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Requests one client address may send per [`WINDOW`].
pub const REQUESTS_PER_WINDOW: usize = 5;

/// The rate limit's window.
pub const WINDOW: Duration = Duration::from_secs(600);

/// Addresses tracked at most: beyond, the oldest windows are dropped.
const ADDRESSES_KEPT: usize = 100_000;

/// Recent requests by client address.
#[derive(Default)]
pub struct RateLimit(Mutex<HashMap<IpAddr, VecDeque<Instant>>>);

impl std::fmt::Debug for RateLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RateLimit")
    }
}

impl RateLimit {
    /// Counts a request from `address` now; `false` when it is over the
    /// limit (and then not counted).
    pub(super) fn admit(&self, address: IpAddr) -> bool {
        let now = Instant::now();
        let mut all = self.0.lock().expect("rate limit lock");
        if all.len() >= ADDRESSES_KEPT {
            all.retain(|_, times| times.back().is_some_and(|t| now - *t < WINDOW));
        }
        let times = all.entry(address).or_default();
        while times.front().is_some_and(|t| now - *t >= WINDOW) {
            times.pop_front();
        }
        if times.len() >= REQUESTS_PER_WINDOW {
            return false;
        }
        times.push_back(now);
        true
    }
}
