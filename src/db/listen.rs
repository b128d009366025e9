//! Revocation notices from other instances: a dedicated PostgreSQL
//! connection `LISTEN`s on [`super::REVOKED_CHANNEL`], where the ledger
//! announces every revoked session in the transaction that revokes it.
//!
//! Reading never blocks: [`Listener::drain`] takes what has arrived. A
//! listener whose connection died reports an error and is replaced by the
//! caller; notices sent meanwhile are lost, which is why the revocation
//! poll stays on as the backstop. SQLite has no listener (`None`).

use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;

use super::{Db, DbError, REVOKED_CHANNEL};

/// The listener's `application_name` in `pg_stat_activity`.
pub(crate) const APPLICATION_NAME: &str = "portcullis-listener";

/// How often an idle listener checks that its connection still answers.
const PING_EVERY: Duration = Duration::from_secs(5);

pub struct Listener {
    conn: PgConnection,
    pinged: Instant,
}

impl Listener {
    /// A listening connection, or `None` on SQLite.
    pub fn connect(db: &Db) -> Result<Option<Self>, DbError> {
        let Some(mut conn) = db.dedicated_pg()? else {
            return Ok(None);
        };
        // named, so an operator can tell it apart in pg_stat_activity
        conn.batch_execute(&format!(
            "SET application_name = '{APPLICATION_NAME}'; LISTEN {REVOKED_CHANNEL};"
        ))?;
        Ok(Some(Self {
            conn,
            pinged: Instant::now(),
        }))
    }

    /// The session ids announced since the last call.
    pub fn drain(&mut self) -> Result<Vec<String>, DbError> {
        if self.pinged.elapsed() >= PING_EVERY {
            // a connection the server dropped only shows when it is used
            self.conn.batch_execute("SELECT 1")?;
            self.pinged = Instant::now();
        }
        let mut ids = Vec::new();
        for notice in self.conn.notifications_iter() {
            // PQconsumeInput failing means the connection is gone
            let notice = notice.map_err(|e| DbError::Unavailable(e.to_string()))?;
            if notice.channel == REVOKED_CHANNEL {
                ids.push(notice.payload);
            }
        }
        Ok(ids)
    }
}
