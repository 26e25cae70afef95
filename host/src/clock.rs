//! The host's clock: system time, which tests can move forward. The plugin
//! reads the same clock through WASI's wall clock, so rate limits, audit
//! times and delivery retries all agree.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A shared clock; clones see the same time.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    skew_ms: Arc<AtomicU64>,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Self::default()
    }

    /// Moves this clock (and its clones) forward.
    pub fn advance(&self, by: Duration) {
        self.skew_ms
            .fetch_add(by.as_millis() as u64, Ordering::SeqCst);
    }

    /// Time since the Unix epoch.
    pub fn now(&self) -> Duration {
        let system = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        system + Duration::from_millis(self.skew_ms.load(Ordering::SeqCst))
    }

    /// Whole seconds since the Unix epoch.
    pub fn now_secs(&self) -> u64 {
        self.now().as_secs()
    }
}

impl wasmtime_wasi::HostWallClock for Clock {
    fn resolution(&self) -> Duration {
        Duration::from_millis(1)
    }

    fn now(&self) -> Duration {
        Clock::now(self)
    }
}
