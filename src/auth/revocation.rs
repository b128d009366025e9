//! The in-memory list of revoked sessions that access-token checks consult,
//! so a revoked session's access tokens die before their `exp` without a
//! database read per request.
//!
//! Entries are kept only as long as an access token issued before the
//! revocation could still be valid (`horizon`); the list is loaded at start
//! and topped up about once a second from the database, which also catches
//! revocations made by other processes (`portcullis user disable`, another
//! gateway instance). Every session it learns has ended also closes that
//! session's live WebSockets ([`LiveSockets`]), whichever way the news came.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Duration, Utc};

use super::sockets::LiveSockets;

#[derive(Debug)]
pub struct RevocationList {
    horizon: Duration,
    revoked: RwLock<HashMap<String, DateTime<Utc>>>,
    sockets: Arc<LiveSockets>,
}

impl RevocationList {
    /// `horizon`: how long after revocation a token of the session could
    /// still pass `exp` (access TTL plus leeway).
    pub fn new(horizon: Duration) -> Self {
        Self {
            horizon,
            revoked: RwLock::new(HashMap::new()),
            sockets: Arc::default(),
        }
    }

    /// The live WebSockets this list closes.
    pub fn sockets(&self) -> &Arc<LiveSockets> {
        &self.sockets
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

    /// Adds revocations and drops those older than the horizon; then the
    /// live sockets of the sessions added close. (In that order: a socket
    /// registered after the close checks this list again.)
    pub fn extend(
        &self,
        entries: impl IntoIterator<Item = (String, DateTime<Utc>)>,
        now: DateTime<Utc>,
    ) {
        let ended: Vec<(String, DateTime<Utc>)> = entries.into_iter().collect();
        {
            let mut revoked = self.revoked.write().unwrap_or_else(|e| e.into_inner());
            revoked.extend(ended.iter().cloned());
            let oldest = now - self.horizon;
            revoked.retain(|_, at| *at >= oldest);
        }
        self.sockets
            .end_sessions(ended.iter().map(|(id, _)| id.as_str()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_revocation_closes_the_sessions_live_sockets() {
        let list = RevocationList::new(Duration::seconds(905));
        let mut socket = list.sockets().register("s1");
        let t0 = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        list.extend([("s1".to_owned(), t0)], t0);
        assert_eq!(
            socket.closing().await,
            super::super::sockets::Closing::SessionEnded
        );
    }

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
