//! WebSocket tickets (contract §11): a row per ticket (only its SHA-256 is
//! stored), bound to a session, single use, [`LIFETIME`] long. Stored so
//! that any instance accepts a ticket another issued; spending one is one
//! conditional update ([`claim`]), so of two handshakes with the same
//! ticket, on one instance or two, one wins.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;

use super::pending::token_hash as ticket_hash;
use super::schema::ws_tickets;
use super::{Conn, DbError};

/// How long a ticket may be spent.
pub const LIFETIME: Duration = Duration::seconds(30);

/// A ticket spent by [`claim`]: its session, and the claims (JSON) of the
/// access token it was issued for.
#[derive(Debug, Clone, Queryable)]
pub struct Claimed {
    pub session_id: String,
    pub claims: String,
}

/// Stores `ticket` for `session_id`, carrying `claims` (JSON), spendable
/// until `now` + [`LIFETIME`].
pub fn issue(
    conn: &mut Conn,
    ticket: &str,
    session_id: &str,
    claims: &str,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    let now = now.naive_utc();
    diesel::insert_into(ws_tickets::table)
        .values((
            ws_tickets::ticket_hash.eq(ticket_hash(ticket)),
            ws_tickets::session_id.eq(session_id),
            ws_tickets::claims.eq(claims),
            ws_tickets::created_at.eq(now),
            ws_tickets::expires_at.eq(now + LIFETIME),
        ))
        .execute(conn)?;
    Ok(())
}

/// Spends `ticket` if it is unspent and not expired at `now`; what it
/// carried when this call spent it, `None` otherwise (unknown, spent,
/// expired).
pub fn claim(
    conn: &mut Conn,
    ticket: &str,
    now: DateTime<Utc>,
) -> Result<Option<Claimed>, DbError> {
    let now = now.naive_utc();
    Ok(diesel::update(
        ws_tickets::table
            .find(ticket_hash(ticket))
            .filter(ws_tickets::used_at.is_null())
            .filter(ws_tickets::expires_at.gt(now)),
    )
    .set(ws_tickets::used_at.eq(now))
    .returning((ws_tickets::session_id, ws_tickets::claims))
    .get_result(conn)
    .optional()?)
}

/// Deletes tickets that expired before `before`.
pub fn purge(conn: &mut Conn, before: DateTime<Utc>) -> Result<usize, DbError> {
    Ok(
        diesel::delete(ws_tickets::table.filter(ws_tickets::expires_at.lt(before.naive_utc())))
            .execute(conn)?,
    )
}
