//! User accounts: lookup, creation and administration. Disabling a user or
//! changing a password revokes every session of theirs in the same
//! transaction.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::schema::users;
use super::{Conn, DbError, ledger};
use crate::auth::Roles;

/// A user as the rest of the crate sees it.
#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub username: String,
    pub roles: Roles,
    pub disabled: bool,
}

/// A user with the stored password hash, for login only.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub user: User,
    pub password_hash: String,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = users)]
struct UserRow {
    id: String,
    username: String,
    password_hash: String,
    roles: String,
    disabled: bool,
}

impl UserRow {
    fn into_credentials(self) -> Credentials {
        let roles = Roles::parse(&self.roles).unwrap_or_else(|_| Roles::new([]));
        Credentials {
            user: User {
                id: self.id,
                username: self.username,
                roles,
                disabled: self.disabled,
            },
            password_hash: self.password_hash,
        }
    }
}

/// The key a username is unique under: "Alice" and "alice" are one account.
pub fn username_key(username: &str) -> String {
    username.to_ascii_lowercase()
}

/// Creates a user; a taken username is a unique violation (see
/// [`super::is_unique_violation`]).
pub fn create(
    conn: &mut Conn,
    username: &str,
    password_hash: &str,
    roles: &Roles,
    now: DateTime<Utc>,
) -> Result<User, DbError> {
    let id = uuid::Uuid::new_v4().to_string();
    let now = now.naive_utc();
    diesel::insert_into(users::table)
        .values((
            users::id.eq(&id),
            users::username.eq(username),
            users::username_key.eq(username_key(username)),
            users::password_hash.eq(password_hash),
            users::roles.eq(roles.to_string()),
            users::disabled.eq(false),
            users::created_at.eq(now),
            users::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(User {
        id,
        username: username.to_owned(),
        roles: roles.clone(),
        disabled: false,
    })
}

pub fn find_by_username(conn: &mut Conn, username: &str) -> Result<Option<Credentials>, DbError> {
    Ok(users::table
        .filter(users::username_key.eq(username_key(username)))
        .select(UserRow::as_select())
        .first(conn)
        .optional()?
        .map(UserRow::into_credentials))
}

pub fn find_by_id(conn: &mut Conn, id: &str) -> Result<Option<User>, DbError> {
    Ok(users::table
        .find(id)
        .select(UserRow::as_select())
        .first(conn)
        .optional()?
        .map(|row| row.into_credentials().user))
}

pub fn list(conn: &mut Conn) -> Result<Vec<User>, DbError> {
    Ok(users::table
        .order(users::username_key)
        .select(UserRow::as_select())
        .load(conn)?
        .into_iter()
        .map(|row| row.into_credentials().user)
        .collect())
}

/// Replaces a password hash without touching sessions (a re-hash at login).
pub fn update_hash(
    conn: &mut Conn,
    id: &str,
    hash: &str,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    diesel::update(users::table.find(id))
        .set((
            users::password_hash.eq(hash),
            users::updated_at.eq(now.naive_utc()),
        ))
        .execute(conn)?;
    Ok(())
}

/// Sets a new password and revokes every session of the user. Returns
/// whether the user exists.
pub fn change_password(
    conn: &mut Conn,
    username: &str,
    hash: &str,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    conn.immediate_transaction(|conn| {
        let Some(found) = find_by_username(conn, username)? else {
            return Ok(false);
        };
        update_hash(conn, &found.user.id, hash, now)?;
        ledger::revoke_all_for_user(conn, &found.user.id, "password_changed", now)?;
        Ok(true)
    })
}

/// Replaces the roles; they apply from the user's next refresh. Returns
/// whether the user exists.
pub fn set_roles(
    conn: &mut Conn,
    username: &str,
    roles: &Roles,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    let changed =
        diesel::update(users::table.filter(users::username_key.eq(username_key(username))))
            .set((
                users::roles.eq(roles.to_string()),
                users::updated_at.eq(now.naive_utc()),
            ))
            .execute(conn)?;
    Ok(changed > 0)
}

/// Disables or enables a user; disabling revokes every session of theirs.
/// Returns whether the user exists.
pub fn set_disabled(
    conn: &mut Conn,
    username: &str,
    disabled: bool,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    conn.immediate_transaction(|conn| {
        let Some(found) = find_by_username(conn, username)? else {
            return Ok(false);
        };
        diesel::update(users::table.find(&found.user.id))
            .set((
                users::disabled.eq(disabled),
                users::updated_at.eq(now.naive_utc()),
            ))
            .execute(conn)?;
        if disabled {
            ledger::revoke_all_for_user(conn, &found.user.id, "user_disabled", now)?;
        }
        Ok(true)
    })
}
