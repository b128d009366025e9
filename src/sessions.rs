//! Login and registration rules: username and password shapes, the
//! password check (with a dummy hash, so unknown users take as long, and a
//! re-hash of weak hashes) and opening the session. Everything here blocks:
//! callers run it on the blocking pool. Knows nothing of HTTP.

use chrono::{DateTime, Utc};

use crate::auth::password::{self, Verdict};
use crate::db::ledger::{self, ClientInfo, Grant, SessionPolicy};
use crate::db::users::{self, Credentials, User};
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

/// Checks a password against the user found (or a dummy hash when none
/// was, so an unknown user takes as long). CPU only: run it on the blocking
/// pool without holding a database connection. Unknown user, wrong
/// password and disabled user are one outcome, `None`, on purpose.
/// `Some((user, new_hash))` carries a re-hash when the stored one is weak.
pub fn check_password(
    found: Option<Credentials>,
    password: &str,
) -> Option<(User, Option<String>)> {
    let Some(found) = found else {
        password::verify_dummy(password);
        return None;
    };
    let Verdict::Valid { rehash } = password::verify(password, &found.password_hash) else {
        return None;
    };
    if found.user.disabled {
        return None;
    }
    let new_hash = rehash.then(|| password::hash(password)).and_then(|r| {
        r.map_err(|e| log::warn!("re-hashing a weak password hash failed: {e}"))
            .ok()
    });
    Some((found.user, new_hash))
}

/// Opens a session for a user whose password was just checked, storing
/// the upgraded hash if there is one.
pub fn open_session(
    conn: &mut Conn,
    user: &User,
    new_hash: Option<&str>,
    client: &ClientInfo,
    policy: &SessionPolicy,
    now: DateTime<Utc>,
) -> Result<Grant, DbError> {
    if let Some(hash) = new_hash {
        users::update_hash(conn, &user.id, hash, now)?;
    }
    ledger::issue(conn, user, client, policy, now)
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
