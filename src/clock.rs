//! The one place that reads the wall clock. Everything else takes `now` as a
//! parameter, so expiry is tested without sleeping (clippy's
//! `disallowed-methods` enforces this).

use chrono::{DateTime, Utc};

/// The current time, UTC.
#[allow(clippy::disallowed_methods)]
pub fn now() -> DateTime<Utc> {
    Utc::now()
}
