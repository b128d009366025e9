//! Logins waiting for their second factor: a row per `mfa_token` (only its
//! SHA-256 is stored), single use, [`LIFETIME`] long, ended by
//! [`MAX_FAILURES`] wrong codes. Stored so that any instance may finish
//! what another began; finishing is one conditional update
//! ([`claim`]), so of two attempts at once one wins.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use sha2::{Digest, Sha256};

use super::schema::pending_logins;
use super::{Conn, DbError};

/// How long a pending login may be finished.
pub const LIFETIME: Duration = Duration::minutes(5);
/// Wrong codes that end a pending login.
pub const MAX_FAILURES: i32 = 5;

/// A live pending login.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = pending_logins)]
pub struct Pending {
    pub user_id: String,
    /// How the first step authenticated (amr, comma-separated).
    pub amr: String,
}

/// The stored form of an `mfa_token` (and of a WebSocket ticket): hex
/// SHA-256.
pub fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Opens a pending login for `user_id`, the first step done by `amr`.
pub fn open(
    conn: &mut Conn,
    token: &str,
    user_id: &str,
    amr: &str,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    let now = now.naive_utc();
    diesel::insert_into(pending_logins::table)
        .values((
            pending_logins::token_hash.eq(token_hash(token)),
            pending_logins::user_id.eq(user_id),
            pending_logins::amr.eq(amr),
            pending_logins::created_at.eq(now),
            pending_logins::expires_at.eq(now + LIFETIME),
            pending_logins::failures.eq(0),
        ))
        .execute(conn)?;
    Ok(())
}

/// The pending login of `token` if it may still be finished at `now`.
pub fn live(conn: &mut Conn, token: &str, now: DateTime<Utc>) -> Result<Option<Pending>, DbError> {
    Ok(pending_logins::table
        .find(token_hash(token))
        .filter(pending_logins::used_at.is_null())
        .filter(pending_logins::expires_at.gt(now.naive_utc()))
        .filter(pending_logins::failures.lt(MAX_FAILURES))
        .select(Pending::as_select())
        .first(conn)
        .optional()?)
}

/// Counts a wrong code against the pending login.
pub fn failed(conn: &mut Conn, token: &str) -> Result<(), DbError> {
    diesel::update(pending_logins::table.find(token_hash(token)))
        .set(pending_logins::failures.eq(pending_logins::failures + 1))
        .execute(conn)?;
    Ok(())
}

/// Finishes the pending login of `token` if it is still live; whether
/// this call did.
pub fn claim(conn: &mut Conn, token: &str, now: DateTime<Utc>) -> Result<bool, DbError> {
    let now = now.naive_utc();
    let changed = diesel::update(
        pending_logins::table
            .find(token_hash(token))
            .filter(pending_logins::used_at.is_null())
            .filter(pending_logins::expires_at.gt(now))
            .filter(pending_logins::failures.lt(MAX_FAILURES)),
    )
    .set(pending_logins::used_at.eq(now))
    .execute(conn)?;
    Ok(changed > 0)
}

/// Deletes pending logins that expired before `before`.
pub fn purge(conn: &mut Conn, before: DateTime<Utc>) -> Result<usize, DbError> {
    Ok(diesel::delete(
        pending_logins::table.filter(pending_logins::expires_at.lt(before.naive_utc())),
    )
    .execute(conn)?)
}
