//! The serve process's background jobs: the revocation list is topped up
//! from the database about once a second (catching sessions ended by other
//! processes: another instance, the command line), and on PostgreSQL also
//! a tenth of a second after another instance announces one (`NOTIFY`);
//! at start and now and then, long-ended sessions, stale login counts and
//! security events past their retention are purged.
//! They run beside the HTTP servers until [`crate::startup`] stops them.

use std::time::{Duration, Instant};

use chrono::Duration as ChronoDuration;

use crate::clock::Clock;
use crate::db::DbError;
use crate::db::listen::Listener;
use crate::services::{Purged, Services};

/// How often the revocation list is topped up from the database.
const REVOCATION_POLL: Duration = Duration::from_secs(1);
/// How often the PostgreSQL listener is read.
const LISTEN_EVERY: Duration = Duration::from_millis(100);
/// How long a lost listener waits before reconnecting.
const LISTEN_RETRY: Duration = Duration::from_secs(2);
/// How often ended sessions and stale login counts are purged.
const PURGE_EVERY: Duration = Duration::from_secs(600);

/// Polls revocations every second and purges now and then, for ever.
pub async fn maintain_ledger(services: Services, clock: Clock) {
    let sessions = &services.sessions;
    let mut ticker = tokio::time::interval(REVOCATION_POLL);
    // the first purge runs at start
    let mut last_purge: Option<Instant> = None;
    let mut since = clock.now() - sessions.revocation_horizon();
    loop {
        ticker.tick().await;
        let now = clock.now();
        // overlap the previous poll: a revocation committed late with an
        // earlier timestamp (or by a process with a slightly slow clock) is
        // still seen
        match sessions
            .catch_up(since - ChronoDuration::seconds(5), now)
            .await
        {
            Ok(()) => since = now,
            Err(e) => log::warn!("polling revocations failed: {e}"),
        }
        if last_purge.is_none_or(|at| at.elapsed() >= PURGE_EVERY) {
            last_purge = Some(Instant::now());
            match services.purge(now).await {
                Ok(Purged { sessions, events }) if sessions + events > 0 => {
                    log::info!("purged {sessions} ended sessions and {events} old security events")
                }
                Ok(_) => {}
                Err(e) => log::warn!("purging ended sessions, login counts and events failed: {e}"),
            }
        }
    }
}

/// PostgreSQL only: applies the revocations other instances announce, a
/// tenth of a second after they commit. A lost connection is replaced after
/// [`LISTEN_RETRY`]; meanwhile the poll above still runs every second.
pub async fn listen_for_revocations(services: Services, clock: Clock) {
    let mut ticker = tokio::time::interval(LISTEN_EVERY);
    let mut listener: Option<Listener> = None;
    let db = services.sessions.db().clone();
    loop {
        ticker.tick().await;
        let (db, current) = (db.clone(), listener.take());
        let drained = tokio::task::spawn_blocking(move || {
            let mut current = match current {
                Some(l) => l,
                None => match Listener::connect(&db)? {
                    Some(l) => l,
                    None => return Ok(None),
                },
            };
            let ids = current.drain()?;
            Ok::<_, DbError>(Some((current, ids)))
        })
        .await;
        match drained {
            Ok(Ok(Some((kept, ids)))) => {
                listener = Some(kept);
                services.sessions.heard(ids, clock.now());
            }
            Ok(Ok(None)) => return,
            Ok(Err(e)) => {
                log::warn!("revocation listener lost ({e}); polling covers until it is back");
                tokio::time::sleep(LISTEN_RETRY).await;
            }
            Err(_) => return,
        }
    }
}
