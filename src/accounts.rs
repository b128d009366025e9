//! Account use cases, each one transaction over `db::users` and
//! `db::ledger`, shared by the HTTP routes and the command line: create an
//! account, check a password and open a session (login), set or change a
//! password, disable or enable, set roles, end sessions. "Disabling ends
//! every session" and "a new password ends the other sessions" are written
//! here once, and so is "an admin cannot lock themselves out".
//!
//! The transactional functions take a connection and block; argon2 never
//! runs while a connection is held. The `async` wrappers run the database
//! work on the blocking pool and the hashing on the [`HashGate`]'s pool
//! (holding a hashing slot for the hash only) for request handlers. Knows
//! nothing of HTTP.

use chrono::{DateTime, Utc};

use crate::auth::password::{self, HashGate, Hasher, Verdict};
use crate::auth::{Role, Roles, User};
use crate::db::ledger::{self, ClientInfo, Grant, SessionPolicy};
use crate::db::users::{self, Credentials, UserRef};
use crate::db::{self, Conn, Db, DbError};

/// Why an account operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// A username or password of the wrong shape; the text says which.
    #[error("{0}")]
    InvalidInput(String),
    #[error("the username is taken")]
    UsernameTaken,
    #[error("no such user")]
    UnknownUser,
    /// Unknown user, wrong password or disabled user: one outcome on purpose.
    #[error("unknown user or wrong password")]
    InvalidCredentials,
    /// Every password hasher is busy; nothing was checked.
    #[error("every password hasher is busy")]
    Busy,
    #[error(transparent)]
    Hash(#[from] password::HashError),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<password::Busy> for AccountError {
    fn from(_: password::Busy) -> Self {
        AccountError::Busy
    }
}

impl From<diesel::result::Error> for AccountError {
    fn from(e: diesel::result::Error) -> Self {
        AccountError::Db(e.into())
    }
}

/// Usernames: 3–32 of `[A-Za-z0-9_.-]`.
pub fn validate_username(username: &str) -> Result<(), AccountError> {
    let ok = (3..=32).contains(&username.len())
        && username
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(AccountError::InvalidInput(
            "A username is 3 to 32 letters, digits, '_', '.' or '-'.".into(),
        ))
    }
}

/// Passwords: 8–256 characters, taken exactly as sent.
pub fn validate_password(password: &str) -> Result<(), AccountError> {
    let n = password.chars().count();
    if (password::MIN_LEN..=password::MAX_LEN).contains(&n) {
        Ok(())
    } else {
        Err(AccountError::InvalidInput(format!(
            "A password is {} to {} characters.",
            password::MIN_LEN,
            password::MAX_LEN
        )))
    }
}

/// Creates an account with an already hashed password; a taken name (in
/// any letter case) is [`AccountError::UsernameTaken`].
pub fn create(
    conn: &mut Conn,
    username: &str,
    password_hash: &str,
    roles: &Roles,
    now: DateTime<Utc>,
) -> Result<User, AccountError> {
    validate_username(username)?;
    users::create(conn, username, password_hash, roles, now).map_err(|e| {
        if db::is_unique_violation(&e) {
            AccountError::UsernameTaken
        } else {
            e.into()
        }
    })
}

/// Validates and hashes a new password, then creates the account. Blocks
/// for the hash; the connection is taken only afterwards.
pub fn register(
    db: &Db,
    username: &str,
    password: &str,
    roles: &Roles,
    now: DateTime<Utc>,
) -> Result<User, AccountError> {
    validate_username(username)?;
    validate_password(password)?;
    let hash = password::hash(password)?;
    {
        let (username, roles) = (username.to_owned(), roles.clone());
        db.run_blocking(move |c| Ok(create(c, &username, &hash, &roles, now)))?
    }
}

/// Checks a password against the user found (or a dummy hash when none
/// was, so an unknown user takes as long). CPU only: run it on a hashing
/// thread (`hasher`) without holding a database connection.
/// `Some((user, new_hash))` carries a re-hash when the stored one is weak.
pub fn check_password(
    hasher: &mut Hasher,
    found: Option<Credentials>,
    password: &str,
) -> Option<(User, Option<String>)> {
    let Some(found) = found else {
        hasher.verify_dummy(password);
        return None;
    };
    let Verdict::Valid { rehash } = hasher.verify(password, &found.password_hash) else {
        return None;
    };
    if found.user.disabled {
        return None;
    }
    let new_hash = rehash.then(|| hasher.hash(password)).and_then(|r| {
        r.map_err(|e| log::warn!("re-hashing a weak password hash failed: {e}"))
            .ok()
    });
    Some((found.user, new_hash))
}

/// Opens a session for a user whose password was just checked, storing
/// the upgraded hash if there is one, in one transaction.
pub fn open_session(
    conn: &mut Conn,
    user: &User,
    new_hash: Option<&str>,
    client: &ClientInfo,
    policy: &SessionPolicy,
    now: DateTime<Utc>,
) -> Result<Grant, DbError> {
    db::write_tx(conn, |conn| {
        if let Some(hash) = new_hash {
            users::update_hash(conn, &user.id, hash, now)?;
        }
        ledger::issue(conn, user, client, policy, now)
    })
}

/// Login: look the user up, check the password on the hashing pool with no
/// connection held, open a session. A name that cannot exist is looked up
/// nowhere but still costs a (dummy) hash. A busy pool is
/// [`AccountError::Busy`], before any password is checked.
pub async fn login(
    db: &Db,
    hashing: &HashGate,
    username: String,
    password: String,
    client: ClientInfo,
    policy: SessionPolicy,
    now: DateTime<Utc>,
) -> Result<Grant, AccountError> {
    let found = if validate_username(&username).is_ok() {
        db.read(move |c| users::find_by_username(c, &username))
            .await?
    } else {
        None
    };
    let checked = hashing
        .run(move |h| check_password(h, found, &password))
        .await?;
    let (user, new_hash) = checked.ok_or(AccountError::InvalidCredentials)?;
    Ok(db
        .run(move |c| open_session(c, &user, new_hash.as_deref(), &client, &policy, now))
        .await?)
}

/// Sets a new (already hashed) password and ends every session of the
/// user but `keep`. Returns the user and the sessions ended.
pub fn set_password(
    conn: &mut Conn,
    who: UserRef<'_>,
    password_hash: &str,
    keep: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(User, Vec<String>), AccountError> {
    db::write_tx(conn, |conn| {
        let Some(found) = users::find(conn, who)? else {
            return Err(AccountError::UnknownUser);
        };
        users::update_hash(conn, &found.user.id, password_hash, now)?;
        let ended =
            ledger::revoke_all_for_user(conn, &found.user.id, keep, "password_changed", now)?;
        Ok((found.user, ended))
    })
}

/// Disables (ending every session) or enables a user. Returns the user and
/// the sessions ended.
pub fn set_disabled(
    conn: &mut Conn,
    who: UserRef<'_>,
    disabled: bool,
    now: DateTime<Utc>,
) -> Result<(User, Vec<String>), AccountError> {
    db::write_tx(conn, |conn| {
        let Some(found) = users::find(conn, who)? else {
            return Err(AccountError::UnknownUser);
        };
        users::set_disabled(conn, &found.user.id, disabled, now)?;
        let ended = if disabled {
            ledger::revoke_all_for_user(conn, &found.user.id, None, "user_disabled", now)?
        } else {
            Vec::new()
        };
        let user = User {
            disabled,
            ..found.user
        };
        Ok((user, ended))
    })
}

/// Replaces a user's roles; they reach access tokens from the next refresh.
pub fn set_roles(
    conn: &mut Conn,
    who: UserRef<'_>,
    roles: &Roles,
    now: DateTime<Utc>,
) -> Result<User, AccountError> {
    db::write_tx(conn, |conn| {
        let Some(found) = users::find(conn, who)? else {
            return Err(AccountError::UnknownUser);
        };
        users::set_roles(conn, &found.user.id, roles, now)?;
        Ok(User {
            roles: roles.clone(),
            ..found.user
        })
    })
}

/// Changes the caller's own password: the new one is validated, the
/// current one checked on the hashing pool with no connection held (a
/// wrong one costs as much as a failed login), then the new hash is stored
/// and every session but `keep` (the caller's) ends. Returns the sessions
/// ended.
pub async fn change_password(
    db: &Db,
    hashing: &HashGate,
    user_id: String,
    keep: String,
    current: String,
    new: String,
    now: DateTime<Utc>,
) -> Result<Vec<String>, AccountError> {
    validate_password(&new)?;
    let id = user_id.clone();
    let found = db.read(move |c| users::find(c, UserRef::Id(&id))).await?;
    let hashed = hashing
        .run(move |h| check_password(h, found, &current).map(|_| h.hash(&new)))
        .await?;
    let hash = hashed.ok_or(AccountError::InvalidCredentials)??;
    let (_, ended) = db
        .run(move |c| {
            Ok(set_password(
                c,
                UserRef::Id(&user_id),
                &hash,
                Some(&keep),
                now,
            ))
        })
        .await??;
    Ok(ended)
}

/// Ends every session of a user, for `reason`. Returns the sessions ended.
pub fn end_all_sessions(
    conn: &mut Conn,
    who: UserRef<'_>,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Vec<String>, AccountError> {
    db::write_tx(conn, |conn| {
        let Some(found) = users::find(conn, who)? else {
            return Err(AccountError::UnknownUser);
        };
        Ok(ledger::revoke_all_for_user(
            conn,
            &found.user.id,
            None,
            reason,
            now,
        )?)
    })
}

/// [`set_disabled`] on behalf of the admin `actor`, who may not disable
/// their own account.
pub fn set_disabled_by(
    conn: &mut Conn,
    actor: &str,
    target: &str,
    disabled: bool,
    now: DateTime<Utc>,
) -> Result<(User, Vec<String>), AccountError> {
    if disabled && actor == target {
        return Err(AccountError::InvalidInput(
            "You cannot disable your own account.".into(),
        ));
    }
    set_disabled(conn, UserRef::Id(target), disabled, now)
}

/// [`set_roles`] on behalf of the admin `actor`, who may not remove their
/// own `admin` role.
pub fn set_roles_by(
    conn: &mut Conn,
    actor: &str,
    target: &str,
    roles: &Roles,
    now: DateTime<Utc>,
) -> Result<User, AccountError> {
    if actor == target && !roles.contains(Role::Admin) {
        return Err(AccountError::InvalidInput(
            "You cannot remove your own admin role.".into(),
        ));
    }
    set_roles(conn, UserRef::Id(target), roles, now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Role;
    use crate::db::temp_db;

    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    fn policy() -> SessionPolicy {
        SessionPolicy {
            ttl: chrono::Duration::days(1),
            idle_ttl: chrono::Duration::days(1),
            grace: chrono::Duration::seconds(5),
        }
    }

    fn session(db: &Db, user: &User) -> Grant {
        db.with_conn(|c| open_session(c, user, None, &ClientInfo::default(), &policy(), t0()))
            .unwrap()
    }

    fn live(db: &Db, id: &str) -> bool {
        db.with_conn(|c| ledger::find_session(c, id))
            .unwrap()
            .revoked_at
            .is_none()
    }

    #[test]
    fn usernames_follow_the_contract() {
        assert!(validate_username("al").is_err());
        assert!(validate_username("alice.b-c_d").is_ok());
        assert!(validate_username(&"a".repeat(33)).is_err());
        assert!(validate_username("al ice").is_err());
        assert!(validate_username("ålice").is_err());
    }

    #[test]
    fn passwords_count_characters_not_bytes() {
        assert!(validate_password("1234567").is_err());
        assert!(validate_password("ééééééé").is_err());
        assert!(validate_password(&"é".repeat(256)).is_ok());
        assert!(validate_password(&"x".repeat(257)).is_err());
    }

    #[test]
    fn a_taken_name_in_any_case_is_username_taken() {
        let (db, _dir) = temp_db();
        db.with_conn(|c| Ok(create(c, "alice", "h", &Roles::new([]), t0())))
            .unwrap()
            .unwrap();
        let again = db
            .with_conn(|c| Ok(create(c, "ALICE", "h", &Roles::new([]), t0())))
            .unwrap();
        assert!(matches!(again, Err(AccountError::UsernameTaken)));
    }

    #[test]
    fn disabling_ends_every_session_and_enabling_ends_none() {
        let (db, _dir) = temp_db();
        let user = db
            .with_conn(|c| Ok(create(c, "bob", "h", &Roles::new([]), t0())))
            .unwrap()
            .unwrap();
        let a = session(&db, &user);
        let b = session(&db, &user);
        let (disabled, ended) = db
            .with_conn(|c| Ok(set_disabled(c, UserRef::Name("BOB"), true, t0())))
            .unwrap()
            .unwrap();
        assert!(disabled.disabled);
        assert_eq!(ended.len(), 2);
        assert!(!live(&db, &a.session.id) && !live(&db, &b.session.id));
        let c = session(&db, &user);
        let (_, ended) = db
            .with_conn(|c| Ok(set_disabled(c, UserRef::Id(&user.id), false, t0())))
            .unwrap()
            .unwrap();
        assert!(ended.is_empty());
        assert!(live(&db, &c.session.id));
    }

    #[test]
    fn a_new_password_ends_the_other_sessions_only() {
        let (db, _dir) = temp_db();
        let user = db
            .with_conn(|c| Ok(create(c, "carol", "h", &Roles::new([]), t0())))
            .unwrap()
            .unwrap();
        let mine = session(&db, &user);
        let other = session(&db, &user);
        let (_, ended) = db
            .with_conn(|c| {
                Ok(set_password(
                    c,
                    UserRef::Id(&user.id),
                    "h2",
                    Some(&mine.session.id),
                    t0(),
                ))
            })
            .unwrap()
            .unwrap();
        assert_eq!(ended, vec![other.session.id.clone()]);
        assert!(live(&db, &mine.session.id));
        assert!(!live(&db, &other.session.id));
    }

    #[test]
    fn an_admin_cannot_lock_themselves_out() {
        let (db, _dir) = temp_db();
        let admin = db
            .with_conn(|c| Ok(create(c, "root", "h", &Roles::new([Role::Admin]), t0())))
            .unwrap()
            .unwrap();
        let other = db
            .with_conn(|c| Ok(create(c, "dave", "h", &Roles::new([Role::Admin]), t0())))
            .unwrap()
            .unwrap();
        let me = admin.id.as_str();
        let r = db
            .with_conn(|c| Ok(set_disabled_by(c, me, me, true, t0())))
            .unwrap();
        assert!(matches!(r, Err(AccountError::InvalidInput(_))));
        let r = db
            .with_conn(|c| Ok(set_roles_by(c, me, me, &Roles::new([Role::Editor]), t0())))
            .unwrap();
        assert!(matches!(r, Err(AccountError::InvalidInput(_))));
        // keeping admin, enabling oneself, or acting on another admin is fine
        let r = db
            .with_conn(|c| Ok(set_roles_by(c, me, me, &Roles::new([Role::Admin]), t0())))
            .unwrap();
        assert!(r.is_ok());
        let r = db
            .with_conn(|c| Ok(set_disabled_by(c, me, me, false, t0())))
            .unwrap();
        assert!(r.is_ok());
        let r = db
            .with_conn(|c| Ok(set_disabled_by(c, me, &other.id, true, t0())))
            .unwrap();
        assert!(r.unwrap().0.disabled);
    }

    #[test]
    fn unknown_users_are_reported_not_created() {
        let (db, _dir) = temp_db();
        let r = db
            .with_conn(|c| {
                Ok(set_roles(
                    c,
                    UserRef::Name("nobody"),
                    &Roles::new([Role::Admin]),
                    t0(),
                ))
            })
            .unwrap();
        assert!(matches!(r, Err(AccountError::UnknownUser)));
    }
}
