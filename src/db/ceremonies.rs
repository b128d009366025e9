//! WebAuthn ceremonies begun and not finished: a row per ceremony id (only
//! its SHA-256 is stored) with its kind, its user and webauthn-rs's state.
//! Single use and [`LIFETIME`] long: finishing is one conditional update
//! that returns the state ([`claim`]), so of two attempts, on one instance
//! or two, one gets it. Spent by any attempt, right or wrong.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;

use super::pending::token_hash;
use super::schema::webauthn_ceremonies;
use super::{Conn, DbError};

/// How long a ceremony may be finished.
pub const LIFETIME: Duration = Duration::minutes(5);

/// What a ceremony is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A new passkey of its user.
    Register,
    /// An assertion by one of its user's passkeys.
    Assert,
    /// An assertion by any discoverable passkey: a passwordless login.
    Discover,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Register => "register",
            Kind::Assert => "assert",
            Kind::Discover => "discover",
        }
    }
}

/// A new ceremony id: 256 random bits, URL-safe.
pub fn new_id() -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

/// Stores a ceremony `id` of `kind` for `user_id` (none for
/// [`Kind::Discover`]).
pub fn begin(
    conn: &mut Conn,
    id: &str,
    kind: Kind,
    user_id: Option<&str>,
    state: &str,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    let now = now.naive_utc();
    diesel::insert_into(webauthn_ceremonies::table)
        .values((
            webauthn_ceremonies::id_hash.eq(token_hash(id)),
            webauthn_ceremonies::kind.eq(kind.as_str()),
            webauthn_ceremonies::user_id.eq(user_id),
            webauthn_ceremonies::state.eq(state),
            webauthn_ceremonies::created_at.eq(now),
            webauthn_ceremonies::expires_at.eq(now + LIFETIME),
        ))
        .execute(conn)?;
    Ok(())
}

/// Spends the live ceremony `id` of `kind` for `user_id`; its state when
/// this call did.
pub fn claim(
    conn: &mut Conn,
    id: &str,
    kind: Kind,
    user_id: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Option<String>, DbError> {
    let now = now.naive_utc();
    let live = webauthn_ceremonies::table
        .find(token_hash(id))
        .filter(webauthn_ceremonies::kind.eq(kind.as_str()))
        .filter(webauthn_ceremonies::used_at.is_null())
        .filter(webauthn_ceremonies::expires_at.gt(now));
    let claimed = diesel::update(live).set(webauthn_ceremonies::used_at.eq(now));
    let state = match user_id {
        Some(user) => claimed
            .filter(webauthn_ceremonies::user_id.eq(user))
            .returning(webauthn_ceremonies::state)
            .get_result(conn),
        None => claimed
            .filter(webauthn_ceremonies::user_id.is_null())
            .returning(webauthn_ceremonies::state)
            .get_result(conn),
    };
    Ok(state.optional()?)
}

/// Deletes ceremonies that expired before `before`.
pub fn purge(conn: &mut Conn, before: DateTime<Utc>) -> Result<usize, DbError> {
    Ok(diesel::delete(
        webauthn_ceremonies::table.filter(webauthn_ceremonies::expires_at.lt(before.naive_utc())),
    )
    .execute(conn)?)
}
