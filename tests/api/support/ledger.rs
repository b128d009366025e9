//! What the session ledger stored, read (or, for a screenshot, aged)
//! behind the gateway's back, for checks no response shows. The suite's one
//! door to `portcullis::db::schema` and to the stored form of a refresh
//! token.

use std::collections::HashSet;

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use diesel::prelude::*;
use portcullis::auth::refresh::RefreshToken;
use portcullis::db::Db;
use portcullis::db::schema::{refresh_tokens, sessions};

/// How many refresh tokens are stored, and how many of them are unspent.
pub fn refresh_token_counts(db: &Db) -> (usize, usize) {
    let (stored, unspent): (i64, i64) = db
        .with_conn(|c| {
            let stored = refresh_tokens::table.count().get_result(c)?;
            let unspent = refresh_tokens::table
                .filter(refresh_tokens::spent_at.is_null())
                .count()
                .get_result(c)?;
            Ok((stored, unspent))
        })
        .unwrap();
    (stored.try_into().unwrap(), unspent.try_into().unwrap())
}

/// Hashes of the session's refresh tokens, and how many are unspent.
pub fn tokens_of_session(db: &Db, sid: &str) -> (HashSet<String>, usize) {
    let rows: Vec<(String, Option<NaiveDateTime>)> = db
        .with_conn(|c| {
            Ok(refresh_tokens::table
                .filter(refresh_tokens::session_id.eq(sid))
                .select((refresh_tokens::token_hash, refresh_tokens::spent_at))
                .load(c)?)
        })
        .unwrap();
    let unspent = rows.iter().filter(|(_, spent)| spent.is_none()).count();
    (rows.into_iter().map(|(hash, _)| hash).collect(), unspent)
}

/// What the ledger stores for a refresh cookie.
pub fn token_hash(cookie: &str) -> String {
    RefreshToken::parse(cookie).unwrap().hash()
}

/// When the session was revoked, if it was.
pub fn revoked_at(db: &Db, sid: &str) -> Option<NaiveDateTime> {
    db.with_conn(|c| {
        Ok(sessions::table
            .find(sid)
            .select(sessions::revoked_at)
            .first(c)?)
    })
    .unwrap()
}

/// The client address recorded for the first stored session.
pub fn first_session_client_addr(db: &Db) -> Option<String> {
    db.with_conn(|c| Ok(sessions::table.select(sessions::client_addr).first(c)?))
        .unwrap()
}

/// Moves a session's login (and so its expiry) `hours` before `now`, and
/// its last use half as far.
pub fn backdate_session(db: &Db, id: &str, now: DateTime<Utc>, hours: i64) {
    let now = now.naive_utc();
    let created = now - Duration::hours(hours);
    db.with_conn(|c| {
        diesel::update(sessions::table.find(id))
            .set((
                sessions::created_at.eq(created),
                sessions::expires_at.eq(created + Duration::days(30)),
                sessions::last_used_at.eq(now - Duration::hours(hours / 2)),
            ))
            .execute(c)?;
        Ok(())
    })
    .unwrap();
}

/// How many sessions are stored (live or ended).
pub fn session_count(db: &Db) -> usize {
    let n: i64 = db
        .with_conn(|c| Ok(sessions::table.count().get_result(c)?))
        .unwrap();
    n.try_into().unwrap()
}
