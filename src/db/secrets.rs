//! Secrets the ledger generates for itself and keeps in the database, so
//! every instance on the database agrees without configuration: today the
//! key refresh tokens' successors are derived under.
//!
//! A reader of the database learns the key but still cannot mint a token:
//! a successor is derived from the *plaintext* parent, and the database
//! holds only hashes.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::schema::ledger_secrets;
use super::{Conn, DbError};
use crate::auth::refresh::SuccessorKey;

const SUCCESSOR_KEY: &str = "refresh_successor_key";

/// The successor key, generated and stored by the first caller. Instances
/// starting at once agree: the name is the primary key, so one insert wins
/// and everyone reads the winner's value.
pub(crate) fn successor_key(conn: &mut Conn, now: DateTime<Utc>) -> Result<SuccessorKey, DbError> {
    if let Some(key) = stored(conn)? {
        return Ok(key);
    }
    let inserted = diesel::insert_into(ledger_secrets::table)
        .values((
            ledger_secrets::name.eq(SUCCESSOR_KEY),
            ledger_secrets::secret.eq(SuccessorKey::generate().to_stored()),
            ledger_secrets::created_at.eq(now.naive_utc()),
        ))
        .execute(conn)
        .map_err(DbError::from);
    match inserted {
        Ok(_) => {}
        Err(e) if super::is_unique_violation(&e) => {}
        Err(e) => return Err(e),
    }
    stored(conn)?.ok_or_else(|| DbError::Inconsistent("the successor key was not stored".into()))
}

fn stored(conn: &mut Conn) -> Result<Option<SuccessorKey>, DbError> {
    let value: Option<String> = ledger_secrets::table
        .find(SUCCESSOR_KEY)
        .select(ledger_secrets::secret)
        .first(conn)
        .optional()?;
    match value {
        None => Ok(None),
        Some(value) => SuccessorKey::from_stored(&value)
            .map(Some)
            .ok_or_else(|| DbError::Inconsistent("the stored successor key is malformed".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::refresh::RefreshToken;
    use crate::db::Db;

    #[test]
    fn the_successor_key_is_generated_once_and_shared_by_every_pool() {
        let dir = tempfile::tempdir().unwrap();
        let url = dir.path().join("t.db").display().to_string();
        let a = Db::connect(&url).unwrap();
        a.migrate().unwrap();
        let b = Db::connect(&url).unwrap();
        let now = DateTime::UNIX_EPOCH;
        let first = a.with_conn(|c| successor_key(c, now)).unwrap();
        let second = b.with_conn(|c| successor_key(c, now)).unwrap();
        let token = RefreshToken::generate();
        assert_eq!(token.successor(&first), token.successor(&second));
    }
}
