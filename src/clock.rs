//! The one place that reads the wall clock. Everything else takes `now` as a
//! parameter (ledger, tokens) or reads the [`Clock`] the application was
//! built with (handlers, extractors), so expiry is tested by advancing a test
//! clock instead of sleeping. Clippy's `disallowed-methods` enforces this.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Duration, Utc};

/// A source of the current time: the system clock, or the system clock
/// shifted by an offset that tests move forward.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    /// Milliseconds added to the system time; `None` for the real clock.
    offset_ms: Option<Arc<AtomicI64>>,
}

impl Clock {
    /// The real clock.
    pub(crate) fn system() -> Self {
        Self::default()
    }

    /// A clock that runs with real time and can be moved forward with
    /// [`Clock::advance`]; clones share the offset.
    pub fn test() -> Self {
        Self {
            offset_ms: Some(Arc::new(AtomicI64::new(0))),
        }
    }

    /// The current time, UTC.
    pub fn now(&self) -> DateTime<Utc> {
        let offset = self
            .offset_ms
            .as_ref()
            .map_or(0, |o| o.load(Ordering::Relaxed));
        now() + Duration::milliseconds(offset)
    }

    /// Moves a test clock forward; the real clock cannot be moved.
    pub fn advance(&self, by: std::time::Duration) {
        if let Some(offset) = &self.offset_ms {
            let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
            offset.fetch_add(ms, Ordering::Relaxed);
        }
    }
}

/// The system time, UTC. For start-up and the command line; request paths
/// read the application's [`Clock`].
#[expect(
    clippy::disallowed_methods,
    reason = "the one reader of the wall clock"
)]
pub fn now() -> DateTime<Utc> {
    Utc::now()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_test_clock_moves_forward_and_clones_share_it() {
        let clock = Clock::test();
        let copy = clock.clone();
        let before = copy.now();
        clock.advance(std::time::Duration::from_secs(3600));
        let after = copy.now();
        assert!(after - before >= Duration::seconds(3600));
        assert!(after - before < Duration::seconds(3660));
    }

    #[test]
    fn the_system_clock_ignores_advance() {
        let clock = Clock::system();
        clock.advance(std::time::Duration::from_secs(3600));
        assert!(clock.now() - now() < Duration::seconds(60));
    }
}
