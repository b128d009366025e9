//! Storage for signing in with an OpenID Provider (contract §10): sign-ins
//! on their way through a provider (by the SHA-256 of their `state`, bound
//! to the browser by the SHA-256 of its `portcullis_oidc` cookie, claimed
//! once by one conditional update), users as providers know them (the pair
//! issuer and subject), the back-channel logout tokens seen, and which
//! provider (and provider session) opened a session.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;

use super::pending::token_hash;
use super::schema::{oidc_flows, oidc_identities, oidc_logout_tokens, sessions};
use super::{Conn, DbError, is_unique_violation};

/// How long a sign-in may take at the provider.
pub const FLOW_LIFETIME: Duration = Duration::minutes(10);

/// A sign-in begun, as the callback needs it.
#[derive(Debug, Clone, Queryable)]
pub struct Flow {
    pub provider_id: String,
    pub nonce: String,
    pub pkce_verifier: String,
    pub return_to: String,
}

/// What starting a sign-in stores.
pub struct NewFlow<'a> {
    pub state: &'a str,
    pub browser: &'a str,
    pub provider_id: &'a str,
    pub nonce: &'a str,
    pub pkce_verifier: &'a str,
    pub return_to: &'a str,
}

pub fn open_flow(conn: &mut Conn, flow: &NewFlow<'_>, now: DateTime<Utc>) -> Result<(), DbError> {
    diesel::insert_into(oidc_flows::table)
        .values((
            oidc_flows::state_hash.eq(token_hash(flow.state)),
            oidc_flows::provider_id.eq(flow.provider_id),
            oidc_flows::browser_hash.eq(token_hash(flow.browser)),
            oidc_flows::nonce.eq(flow.nonce),
            oidc_flows::pkce_verifier.eq(flow.pkce_verifier),
            oidc_flows::return_to.eq(flow.return_to),
            oidc_flows::created_at.eq(now.naive_utc()),
        ))
        .execute(conn)?;
    Ok(())
}

/// Claims the sign-in of `state` for the browser holding `browser`, at
/// `provider_id`'s callback: once, within [`FLOW_LIFETIME`]. Of two
/// claims at once (on any instances) one wins; a wrong browser or
/// provider claims nothing and spends nothing.
pub fn claim_flow(
    conn: &mut Conn,
    state: &str,
    browser: &str,
    provider_id: &str,
    now: DateTime<Utc>,
) -> Result<Option<Flow>, DbError> {
    let naive = now.naive_utc();
    Ok(diesel::update(
        oidc_flows::table
            .filter(oidc_flows::state_hash.eq(token_hash(state)))
            .filter(oidc_flows::browser_hash.eq(token_hash(browser)))
            .filter(oidc_flows::provider_id.eq(provider_id))
            .filter(oidc_flows::used_at.is_null())
            .filter(oidc_flows::created_at.gt(naive - FLOW_LIFETIME)),
    )
    .set(oidc_flows::used_at.eq(naive))
    .returning((
        oidc_flows::provider_id,
        oidc_flows::nonce,
        oidc_flows::pkce_verifier,
        oidc_flows::return_to,
    ))
    .get_result(conn)
    .optional()?)
}

/// The user the provider `issuer` knows as `subject`, if linked.
pub fn user_of(conn: &mut Conn, issuer: &str, subject: &str) -> Result<Option<String>, DbError> {
    Ok(oidc_identities::table
        .filter(oidc_identities::issuer.eq(issuer))
        .filter(oidc_identities::subject.eq(subject))
        .select(oidc_identities::user_id)
        .first(conn)
        .optional()?)
}

/// Links `user_id` to (`issuer`, `subject`); `false` when that pair is
/// linked already (to anyone).
pub fn link(
    conn: &mut Conn,
    issuer: &str,
    subject: &str,
    provider_id: &str,
    user_id: &str,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    let inserted = diesel::insert_into(oidc_identities::table)
        .values((
            oidc_identities::issuer.eq(issuer),
            oidc_identities::subject.eq(subject),
            oidc_identities::user_id.eq(user_id),
            oidc_identities::provider_id.eq(provider_id),
            oidc_identities::created_at.eq(now.naive_utc()),
        ))
        .execute(conn);
    first_insert(inserted)
}

/// An insert's outcome: `false` when the row was there already. On
/// PostgreSQL such a failure spoils the transaction: the caller stops.
fn first_insert(inserted: QueryResult<usize>) -> Result<bool, DbError> {
    match inserted.map_err(DbError::from) {
        Ok(_) => Ok(true),
        Err(e) if is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Notes a login through (`issuer`, `subject`) at `now`.
pub fn touch(
    conn: &mut Conn,
    issuer: &str,
    subject: &str,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    diesel::update(
        oidc_identities::table
            .filter(oidc_identities::issuer.eq(issuer))
            .filter(oidc_identities::subject.eq(subject)),
    )
    .set(oidc_identities::last_login_at.eq(now.naive_utc()))
    .execute(conn)?;
    Ok(())
}

/// A link of a user to a provider, as the user and the CLI see it.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = oidc_identities)]
pub struct Linked {
    pub provider_id: String,
    pub subject: String,
    pub user_id: String,
}

/// The providers `user_id` is linked to.
pub fn links_of(conn: &mut Conn, user_id: &str) -> Result<Vec<Linked>, DbError> {
    Ok(oidc_identities::table
        .filter(oidc_identities::user_id.eq(user_id))
        .order(oidc_identities::provider_id)
        .select(Linked::as_select())
        .load(conn)?)
}

/// Every link, for `user list`.
pub fn all_links(conn: &mut Conn) -> Result<Vec<Linked>, DbError> {
    Ok(oidc_identities::table
        .order(oidc_identities::provider_id)
        .select(Linked::as_select())
        .load(conn)?)
}

/// Records a back-channel logout token's `jti`; `false` when `issuer`
/// sent it before.
pub fn first_use_of_jti(
    conn: &mut Conn,
    issuer: &str,
    jti: &str,
    expires_at: DateTime<Utc>,
) -> Result<bool, DbError> {
    let inserted = diesel::insert_into(oidc_logout_tokens::table)
        .values((
            oidc_logout_tokens::issuer.eq(issuer),
            oidc_logout_tokens::jti.eq(jti),
            oidc_logout_tokens::expires_at.eq(expires_at.naive_utc()),
        ))
        .execute(conn);
    first_insert(inserted)
}

/// Notes which provider, and which of its sessions, opened `session_id`.
pub fn mark_session(
    conn: &mut Conn,
    session_id: &str,
    provider_id: &str,
    sid: Option<&str>,
) -> Result<(), DbError> {
    diesel::update(sessions::table.filter(sessions::id.eq(session_id)))
        .set((
            sessions::oidc_provider.eq(provider_id),
            sessions::oidc_sid.eq(sid),
        ))
        .execute(conn)?;
    Ok(())
}

/// Forgets sign-ins past their lifetime and logout tokens past the time
/// they could be replayed; returns how many rows went.
pub fn purge(conn: &mut Conn, now: DateTime<Utc>) -> Result<usize, DbError> {
    let naive = now.naive_utc();
    let flows =
        diesel::delete(oidc_flows::table.filter(oidc_flows::created_at.lt(naive - FLOW_LIFETIME)))
            .execute(conn)?;
    let tokens =
        diesel::delete(oidc_logout_tokens::table.filter(oidc_logout_tokens::expires_at.lt(naive)))
            .execute(conn)?;
    Ok(flows + tokens)
}
