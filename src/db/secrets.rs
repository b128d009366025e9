//! Secrets the gateway generates for itself and keeps in the database, so
//! every instance on the database agrees without configuration: the key
//! refresh tokens' successors are derived under, and the key of device
//! cookies (and of the tags unknown usernames are logged as).
//!
//! A reader of the database learns the successor key but still cannot mint
//! a token: a successor is derived from the *plaintext* parent, and the
//! database holds only hashes. With the device key they could make device
//! cookies, which only choose a throttle bucket: no login without the
//! password.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::schema::ledger_secrets;
use super::{Conn, DbError};
use crate::auth::device::DeviceKey;
use crate::auth::mac_key::MacKey;
use crate::auth::refresh::SuccessorKey;

const SUCCESSOR_KEY: &str = "refresh_successor_key";
const DEVICE_KEY: &str = "device_cookie_key";

/// The successor key, generated and stored by the first caller.
pub(crate) fn successor_key(conn: &mut Conn, now: DateTime<Utc>) -> Result<SuccessorKey, DbError> {
    key(conn, SUCCESSOR_KEY, now).map(SuccessorKey::from)
}

/// The device-cookie key, generated and stored by the first caller.
pub(crate) fn device_key(conn: &mut Conn, now: DateTime<Utc>) -> Result<DeviceKey, DbError> {
    key(conn, DEVICE_KEY, now).map(DeviceKey::from)
}

/// The key stored as `name`, made and stored first if there is none.
fn key(conn: &mut Conn, name: &str, now: DateTime<Utc>) -> Result<MacKey, DbError> {
    let stored = shared(conn, name, &MacKey::generate().to_stored(), now)?;
    MacKey::from_stored(&stored)
        .ok_or_else(|| DbError::Inconsistent(format!("the stored {name} is malformed")))
}

/// The secret stored as `name`, storing `fresh` first if there is none.
/// Instances starting at once agree: the name is the primary key, so one
/// insert wins and everyone reads the winner's value.
fn shared(conn: &mut Conn, name: &str, fresh: &str, now: DateTime<Utc>) -> Result<String, DbError> {
    if let Some(value) = stored(conn, name)? {
        return Ok(value);
    }
    let inserted = diesel::insert_into(ledger_secrets::table)
        .values((
            ledger_secrets::name.eq(name),
            ledger_secrets::secret.eq(fresh),
            ledger_secrets::created_at.eq(now.naive_utc()),
        ))
        .execute(conn)
        .map_err(DbError::from);
    match inserted {
        Ok(_) => {}
        Err(e) if super::is_unique_violation(&e) => {}
        Err(e) => return Err(e),
    }
    stored(conn, name)?.ok_or_else(|| DbError::Inconsistent(format!("the {name} was not stored")))
}

fn stored(conn: &mut Conn, name: &str) -> Result<Option<String>, DbError> {
    Ok(ledger_secrets::table
        .find(name)
        .select(ledger_secrets::secret)
        .first(conn)
        .optional()?)
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
