//! Login and registration as whole operations on the database: look the
//! user up, check the password (or a dummy hash, so unknown users take as
//! long), re-hash weak hashes, open the session. Runs on the blocking pool,
//! called through [`crate::db::Db::run`]; knows nothing of HTTP.

use chrono::{DateTime, Utc};

use crate::auth::password::{self, Verdict};
use crate::auth::{Roles, roles::Role};
use crate::db::ledger::{self, ClientInfo, Grant, SessionPolicy};
use crate::db::users::{self, User};
use crate::db::{Conn, DbError};

/// Usernames: 3–32 of `[A-Za-z0-9_.-]`.
pub fn validate_username(username: &str) -> Result<(), String> {
    let ok = (3..=32).contains(&username.len())
        && username
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err("A username is 3 to 32 letters, digits, '_', '.' or '-'.".into())
    }
}

/// Passwords: 8–256 characters, taken exactly as sent.
pub fn validate_password(password: &str) -> Result<(), String> {
    let n = password.chars().count();
    if (password::MIN_LEN..=password::MAX_LEN).contains(&n) {
        Ok(())
    } else {
        Err(format!(
            "A password is {} to {} characters.",
            password::MIN_LEN,
            password::MAX_LEN
        ))
    }
}

/// What a login attempt came to. Unknown user, wrong password and disabled
/// user are one outcome, on purpose.
#[derive(Debug)]
pub enum LoginOutcome {
    Success(Box<Grant>),
    Failed,
}

/// Checks credentials and opens a session. Takes the time of one argon2
/// verification whether or not the user exists.
pub fn login(
    conn: &mut Conn,
    username: &str,
    password: &str,
    client: &ClientInfo,
    policy: &SessionPolicy,
    now: DateTime<Utc>,
) -> Result<LoginOutcome, DbError> {
    let Some(found) = users::find_by_username(conn, username)? else {
        password::verify_dummy(password);
        return Ok(LoginOutcome::Failed);
    };
    let Verdict::Valid { rehash } = password::verify(password, &found.password_hash) else {
        return Ok(LoginOutcome::Failed);
    };
    if found.user.disabled {
        return Ok(LoginOutcome::Failed);
    }
    if rehash {
        match password::hash(password) {
            Ok(hash) => users::update_hash(conn, &found.user.id, &hash, now)?,
            Err(e) => log::warn!("re-hashing a weak password hash failed: {e}"),
        }
    }
    ledger::issue(conn, &found.user, client, policy, now)
        .map(|g| LoginOutcome::Success(Box::new(g)))
}

/// Creates a user with the `user` role plus `extra_roles`.
pub fn register(
    conn: &mut Conn,
    username: &str,
    password_hash: &str,
    extra_roles: &[Role],
    now: DateTime<Utc>,
) -> Result<User, DbError> {
    users::create(
        conn,
        username,
        password_hash,
        &Roles::new(extra_roles.iter().copied()),
        now,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
