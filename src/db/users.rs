//! User rows: lookup, creation and single-table updates. Nothing here
//! touches sessions: use cases that must also end sessions (disable, a new
//! password) live in `accounts`, in one transaction with the ledger.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::schema::users;
use super::{Conn, DbError};
use crate::auth::{Roles, User};

/// A user with the stored password hash, for login only.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub user: User,
    pub password_hash: String,
}

/// How a caller names a user: the CLI by name, the HTTP routes by id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserRef {
    Id(String),
    Name(String),
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

/// The stored hash of a user without a password (one an OpenID Provider
/// created): no password matches it.
pub const NO_PASSWORD: &str = "!";

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

/// The user named by `who`, with the password hash.
pub fn find(conn: &mut Conn, who: &UserRef) -> Result<Option<Credentials>, DbError> {
    let query = users::table.select(UserRow::as_select()).into_boxed();
    let query = match who {
        UserRef::Id(id) => query.filter(users::id.eq(id.clone())),
        UserRef::Name(name) => query.filter(users::username_key.eq(username_key(name))),
    };
    Ok(query.first(conn).optional()?.map(UserRow::into_credentials))
}

pub fn find_by_username(conn: &mut Conn, username: &str) -> Result<Option<Credentials>, DbError> {
    find(conn, &UserRef::Name(username.to_owned()))
}

pub fn find_by_id(conn: &mut Conn, id: &str) -> Result<Option<User>, DbError> {
    Ok(find(conn, &UserRef::Id(id.to_owned()))?.map(|c| c.user))
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

/// Every user with when the account was created, by username.
pub(crate) fn list_with_created(conn: &mut Conn) -> Result<Vec<(User, DateTime<Utc>)>, DbError> {
    let rows: Vec<(UserRow, chrono::NaiveDateTime)> = users::table
        .order(users::username_key)
        .select((UserRow::as_select(), users::created_at))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(row, at)| (row.into_credentials().user, at.and_utc()))
        .collect())
}

/// Replaces a password hash. Sessions are the caller's business.
pub(crate) fn update_hash(
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

/// Replaces the roles.
pub fn set_roles(
    conn: &mut Conn,
    id: &str,
    roles: &Roles,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    diesel::update(users::table.find(id))
        .set((
            users::roles.eq(roles.to_string()),
            users::updated_at.eq(now.naive_utc()),
        ))
        .execute(conn)?;
    Ok(())
}

/// Sets the disabled flag. Sessions are the caller's business.
pub fn set_disabled(
    conn: &mut Conn,
    id: &str,
    disabled: bool,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    diesel::update(users::table.find(id))
        .set((
            users::disabled.eq(disabled),
            users::updated_at.eq(now.naive_utc()),
        ))
        .execute(conn)?;
    Ok(())
}
