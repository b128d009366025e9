//! Passkeys as stored: a row per credential with its owner, its name, the
//! public key as webauthn-rs keeps it, the last signature counter seen and
//! the backup flags. A credential id is unique across users. Using a
//! passkey is one conditional update ([`record_use`]) from the counter
//! the check started from, so two assertions racing on two instances
//! cannot both move it.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::schema::passkeys;
use super::{Conn, DbError};
use crate::auth::passkey::StoredPasskey;

/// A passkey row.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = passkeys)]
pub struct PasskeyRow {
    pub id: String,
    pub user_id: String,
    pub credential_id: String,
    pub name: String,
    pub credential: String,
    pub sign_count: i64,
    pub backup_eligible: bool,
    pub backup_state: bool,
    pub created_at: NaiveDateTime,
    pub last_used_at: Option<NaiveDateTime>,
}

impl PasskeyRow {
    /// The credential, for the relying party.
    pub fn stored(&self) -> StoredPasskey {
        StoredPasskey {
            credential_id: self.credential_id.clone(),
            credential: self.credential.clone(),
            sign_count: self.sign_count,
            backup_eligible: self.backup_eligible,
            backup_state: self.backup_state,
        }
    }
}

/// The user's passkeys, oldest first.
pub fn of_user(conn: &mut Conn, user_id: &str) -> Result<Vec<PasskeyRow>, DbError> {
    Ok(passkeys::table
        .filter(passkeys::user_id.eq(user_id))
        .order((passkeys::created_at.asc(), passkeys::id.asc()))
        .select(PasskeyRow::as_select())
        .load(conn)?)
}

/// The passkey with this credential id (base64url), whoever owns it.
pub fn by_credential(conn: &mut Conn, credential_id: &str) -> Result<Option<PasskeyRow>, DbError> {
    Ok(passkeys::table
        .filter(passkeys::credential_id.eq(credential_id))
        .select(PasskeyRow::as_select())
        .first(conn)
        .optional()?)
}

/// Stores a new passkey of `user_id`; its id. A credential id stored
/// already is a unique violation.
pub fn add(
    conn: &mut Conn,
    user_id: &str,
    name: &str,
    passkey: &StoredPasskey,
    now: DateTime<Utc>,
) -> Result<PasskeyRow, DbError> {
    let row = PasskeyRow {
        id: uuid::Uuid::new_v4().to_string(),
        user_id: user_id.to_owned(),
        credential_id: passkey.credential_id.clone(),
        name: name.to_owned(),
        credential: passkey.credential.clone(),
        sign_count: passkey.sign_count,
        backup_eligible: passkey.backup_eligible,
        backup_state: passkey.backup_state,
        created_at: now.naive_utc(),
        last_used_at: None,
    };
    diesel::insert_into(passkeys::table)
        .values((
            passkeys::id.eq(&row.id),
            passkeys::user_id.eq(&row.user_id),
            passkeys::credential_id.eq(&row.credential_id),
            passkeys::name.eq(&row.name),
            passkeys::credential.eq(&row.credential),
            passkeys::sign_count.eq(row.sign_count),
            passkeys::backup_eligible.eq(row.backup_eligible),
            passkeys::backup_state.eq(row.backup_state),
            passkeys::created_at.eq(row.created_at),
        ))
        .execute(conn)?;
    Ok(row)
}

/// Stores what an assertion changed of the passkey, if its counter is
/// still `previous` (no other assertion was recorded since the check
/// began); whether it was.
pub fn record_use(
    conn: &mut Conn,
    passkey: &StoredPasskey,
    previous: i64,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    let changed = diesel::update(
        passkeys::table
            .filter(passkeys::credential_id.eq(&passkey.credential_id))
            .filter(passkeys::sign_count.eq(previous)),
    )
    .set((
        passkeys::credential.eq(&passkey.credential),
        passkeys::sign_count.eq(passkey.sign_count),
        passkeys::backup_eligible.eq(passkey.backup_eligible),
        passkeys::backup_state.eq(passkey.backup_state),
        passkeys::last_used_at.eq(now.naive_utc()),
    ))
    .execute(conn)?;
    Ok(changed > 0)
}

/// Renames the user's passkey `id`; whether they have it.
pub fn rename(conn: &mut Conn, user_id: &str, id: &str, name: &str) -> Result<bool, DbError> {
    let changed = diesel::update(
        passkeys::table
            .find(id)
            .filter(passkeys::user_id.eq(user_id)),
    )
    .set(passkeys::name.eq(name))
    .execute(conn)?;
    Ok(changed > 0)
}

/// Removes the user's passkey `id`; whether they had it.
pub fn remove(conn: &mut Conn, user_id: &str, id: &str) -> Result<bool, DbError> {
    let n = diesel::delete(
        passkeys::table
            .find(id)
            .filter(passkeys::user_id.eq(user_id)),
    )
    .execute(conn)?;
    Ok(n > 0)
}

/// Removes every passkey of the user.
pub fn remove_all(conn: &mut Conn, user_id: &str) -> Result<(), DbError> {
    diesel::delete(passkeys::table.filter(passkeys::user_id.eq(user_id))).execute(conn)?;
    Ok(())
}

/// The users who have a passkey.
pub fn users_with_passkeys(conn: &mut Conn) -> Result<std::collections::HashSet<String>, DbError> {
    let ids: Vec<String> = passkeys::table
        .select(passkeys::user_id)
        .distinct()
        .load(conn)?;
    Ok(ids.into_iter().collect())
}

/// How many passkeys are stored, of anyone.
pub fn count(conn: &mut Conn) -> Result<i64, DbError> {
    Ok(passkeys::table.count().get_result(conn)?)
}
