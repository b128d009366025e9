//! The in-memory list of revoked sessions that access-token checks consult,
//! so a revoked session's access tokens die before their `exp` without a
//! database read per request.
//!
//! Entries are kept only as long as an access token issued before the
//! revocation could still be valid (`horizon`); the list is loaded at start
//! and topped up about once a second from the database, which also catches
//! revocations made by other processes (`portcullis user disable`, another
//! gateway instance).

use std::collections::HashMap;
use std::sync::RwLock;

use chrono::{DateTime, Duration, Utc};

#[derive(Debug)]
pub struct RevocationList {
    horizon: Duration,
    revoked: RwLock<HashMap<String, DateTime<Utc>>>,
}

impl RevocationList {
    /// `horizon`: how long after revocation a token of the session could
    /// still pass `exp` (access TTL plus leeway).
    pub fn new(horizon: Duration) -> Self {
        Self {
            horizon,
            revoked: RwLock::new(HashMap::new()),
        }
    }

    /// How far back a poll must look to fill an empty list.
    pub(crate) fn horizon(&self) -> Duration {
        self.horizon
    }

    pub(crate) fn is_revoked(&self, session_id: &str) -> bool {
        self.revoked
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(session_id)
    }

    /// Adds revocations and drops those older than the horizon.
    pub fn extend(
        &self,
        entries: impl IntoIterator<Item = (String, DateTime<Utc>)>,
        now: DateTime<Utc>,
    ) {
        let mut revoked = self.revoked.write().unwrap_or_else(|e| e.into_inner());
        revoked.extend(entries);
        let oldest = now - self.horizon;
        revoked.retain(|_, at| *at >= oldest);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revoked_sessions_are_remembered_until_the_horizon() {
        let list = RevocationList::new(Duration::seconds(905));
        let t0 = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        list.extend([("s1".to_owned(), t0)], t0);
        assert!(list.is_revoked("s1"));
        assert!(!list.is_revoked("s2"));
        list.extend([], t0 + Duration::seconds(905));
        assert!(list.is_revoked("s1"));
        list.extend([], t0 + Duration::seconds(906));
        assert!(!list.is_revoked("s1"));
        assert!(
            list.revoked.read().unwrap().is_empty(),
            "forgotten, not kept"
        );
    }
}
