//! Second factors as stored: a user's TOTP seed (sealed by the caller:
//! this module never sees one in the clear) with the last step a code was
//! accepted for, and their recovery codes (hashes only). Every "once" is a
//! conditional update, so it holds across instances: a step is accepted
//! only if it is later than the last one, a code spent only if unspent.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::schema::{recovery_codes, totp_factors};
use super::{Conn, DbError};

/// A user's TOTP row.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = totp_factors)]
pub struct TotpRow {
    /// The confirmed seed, sealed.
    pub secret: Option<String>,
    /// A seed set up and not confirmed, sealed.
    pub pending_secret: Option<String>,
    pub last_step: Option<i32>,
}

pub fn totp(conn: &mut Conn, user_id: &str) -> Result<Option<TotpRow>, DbError> {
    Ok(totp_factors::table
        .find(user_id)
        .select(TotpRow::as_select())
        .first(conn)
        .optional()?)
}

/// Stores a new pending seed, replacing a pending one (a confirmed seed
/// stays until the new one is confirmed).
pub fn set_pending(
    conn: &mut Conn,
    user_id: &str,
    sealed: &str,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    let now = now.naive_utc();
    super::write_tx(conn, |conn| {
        let updated = diesel::update(totp_factors::table.find(user_id))
            .set((
                totp_factors::pending_secret.eq(sealed),
                totp_factors::updated_at.eq(now),
            ))
            .execute(conn)?;
        if updated == 0 {
            diesel::insert_into(totp_factors::table)
                .values((
                    totp_factors::user_id.eq(user_id),
                    totp_factors::pending_secret.eq(sealed),
                    totp_factors::updated_at.eq(now),
                ))
                .execute(conn)?;
        }
        Ok(())
    })
}

/// Makes the pending seed `sealed` the confirmed one, its code of `step`
/// spent. `false` when that seed is no longer the pending one (a newer
/// setup replaced it, or another request confirmed it).
pub fn confirm(
    conn: &mut Conn,
    user_id: &str,
    sealed: &str,
    step: i32,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    let now = now.naive_utc();
    let changed = diesel::update(
        totp_factors::table
            .find(user_id)
            .filter(totp_factors::pending_secret.eq(sealed)),
    )
    .set((
        totp_factors::secret.eq(sealed),
        totp_factors::pending_secret.eq(None::<String>),
        totp_factors::last_step.eq(step),
        totp_factors::enabled_at.eq(now),
        totp_factors::updated_at.eq(now),
    ))
    .execute(conn)?;
    Ok(changed > 0)
}

/// Accepts a code of `step` for the confirmed seed: `false` when a code of
/// this step or a later one was accepted already (a replay).
pub fn accept_step(conn: &mut Conn, user_id: &str, step: i32) -> Result<bool, DbError> {
    let changed = diesel::update(
        totp_factors::table
            .find(user_id)
            .filter(totp_factors::secret.is_not_null())
            .filter(
                totp_factors::last_step
                    .is_null()
                    .or(totp_factors::last_step.lt(step)),
            ),
    )
    .set(totp_factors::last_step.eq(step))
    .execute(conn)?;
    Ok(changed > 0)
}

/// Removes the user's TOTP, confirmed and pending; whether there was one.
pub fn remove_totp(conn: &mut Conn, user_id: &str) -> Result<bool, DbError> {
    let n = diesel::delete(totp_factors::table.find(user_id)).execute(conn)?;
    Ok(n > 0)
}

/// Replaces every recovery code of the user with `hashes`.
pub fn replace_codes(
    conn: &mut Conn,
    user_id: &str,
    hashes: &[String],
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    super::write_tx(conn, |conn| {
        remove_codes(conn, user_id)?;
        let now = now.naive_utc();
        // one by one: the two backends share no batch insert
        for hash in hashes {
            diesel::insert_into(recovery_codes::table)
                .values((
                    recovery_codes::user_id.eq(user_id),
                    recovery_codes::code_hash.eq(hash),
                    recovery_codes::created_at.eq(now),
                ))
                .execute(conn)?;
        }
        Ok(())
    })
}

/// Spends the unspent code with `hash`; whether there was one.
pub fn spend_code(
    conn: &mut Conn,
    user_id: &str,
    hash: &str,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    let changed = diesel::update(
        recovery_codes::table
            .find((user_id, hash))
            .filter(recovery_codes::used_at.is_null()),
    )
    .set(recovery_codes::used_at.eq(now.naive_utc()))
    .execute(conn)?;
    Ok(changed > 0)
}

/// How many unspent codes the user has.
pub fn codes_left(conn: &mut Conn, user_id: &str) -> Result<i64, DbError> {
    Ok(recovery_codes::table
        .filter(recovery_codes::user_id.eq(user_id))
        .filter(recovery_codes::used_at.is_null())
        .count()
        .get_result(conn)?)
}

/// The users who have TOTP on.
pub fn users_with_totp(conn: &mut Conn) -> Result<std::collections::HashSet<String>, DbError> {
    let ids: Vec<String> = totp_factors::table
        .filter(totp_factors::secret.is_not_null())
        .select(totp_factors::user_id)
        .load(conn)?;
    Ok(ids.into_iter().collect())
}

pub fn remove_codes(conn: &mut Conn, user_id: &str) -> Result<(), DbError> {
    diesel::delete(recovery_codes::table.filter(recovery_codes::user_id.eq(user_id)))
        .execute(conn)?;
    Ok(())
}
