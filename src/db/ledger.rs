//! The refresh-token ledger: the only code that touches sessions and refresh
//! tokens. A small state machine with named operations, each taking `now`:
//!
//! - [`issue`]: a login opens a session and its first token;
//! - [`rotate`]: an unspent token is spent and its successor stored, exactly
//!   once; a token spent within the grace period yields the same successor
//!   again; a token spent before that is reuse and revokes the session;
//! - [`end`]: the sessions a [`Which`] names end, for an [`EndReason`],
//!   through one conditional update that also announces them;
//! - [`live_sessions`], [`live_session_counts`]: what a user or an admin
//!   sees of them;
//! - [`revoked_since`]: feeds the in-memory revocation list.
//!
//! Rotation is one [`super::write_tx`] that claims the token with a
//! conditional update, so of N concurrent rotations (on one instance or
//! many) one wins and the others see its result. Revocations are announced
//! to other instances ([`super::notify_revoked`]) in the same transaction.

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::schema::{refresh_tokens, sessions};
use super::users;
use super::{Conn, DbError};
use crate::auth::User;
use crate::auth::authn::Authentication;
use crate::auth::refresh::{RefreshToken, SuccessorKey};

/// How long sessions live and how long a rotated token may be replayed.
#[derive(Debug, Clone, Copy)]
pub struct SessionPolicy {
    /// Absolute lifetime from login; rotation never extends it.
    pub ttl: Duration,
    /// A session unused this long is expired.
    pub idle_ttl: Duration,
    /// A spent token presented within this long of its rotation is a replay,
    /// not reuse.
    pub grace: Duration,
}

impl Default for SessionPolicy {
    /// The contract's defaults: 30 days, 7 days idle, 5 s of grace.
    fn default() -> Self {
        Self {
            ttl: Duration::days(30),
            idle_ttl: Duration::days(7),
            grace: Duration::seconds(5),
        }
    }
}

/// Why a session ended: stored with it, logged, and (contract §12) told
/// to the client whose refresh it refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// The session's own logout.
    Logout,
    /// The user logged out everywhere.
    LogoutAll,
    /// The user ended it from another session.
    EndedElsewhere,
    /// An admin ended the user's sessions.
    Admin,
    PasswordChanged,
    /// A second factor was added or removed.
    FactorsChanged,
    UserDisabled,
    /// A spent refresh token was presented after the grace period.
    ReuseDetected,
    /// Past the absolute lifetime.
    Expired,
    /// Unused longer than the idle lifetime.
    Idle,
    /// The OpenID Provider logged the user out (back-channel logout).
    OidcLogout,
}

impl EndReason {
    const ALL: [EndReason; 11] = [
        EndReason::Logout,
        EndReason::LogoutAll,
        EndReason::EndedElsewhere,
        EndReason::Admin,
        EndReason::PasswordChanged,
        EndReason::FactorsChanged,
        EndReason::UserDisabled,
        EndReason::ReuseDetected,
        EndReason::Expired,
        EndReason::Idle,
        EndReason::OidcLogout,
    ];

    /// The stored, logged and answered name.
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Logout => "logout",
            EndReason::LogoutAll => "logout_all",
            EndReason::EndedElsewhere => "ended_elsewhere",
            EndReason::Admin => "admin",
            EndReason::PasswordChanged => "password_changed",
            EndReason::FactorsChanged => "factors_changed",
            EndReason::UserDisabled => "user_disabled",
            EndReason::ReuseDetected => "reuse_detected",
            EndReason::Expired => "expired",
            EndReason::Idle => "idle",
            EndReason::OidcLogout => "oidc_logout",
        }
    }

    /// The reason a stored name stands for.
    pub fn parse(stored: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == stored)
    }
}

impl std::fmt::Display for EndReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The sessions an ending applies to; only live ones end.
#[derive(Debug, Clone)]
pub enum Which {
    /// The session a refresh token (spent or not) belongs to.
    Token(RefreshToken),
    /// One live session, if it belongs to `user_id`: another user's
    /// session and an unknown id are alike.
    OwnedBy { user_id: String, session_id: String },
    /// Every session of a user but `keep`.
    AllOf {
        user_id: String,
        keep: Option<String>,
    },
    /// The sessions `provider` opened, for its session `sid` when given,
    /// else for the user `user_id` (a back-channel logout, contract §10).
    Federated {
        provider: String,
        sid: Option<String>,
        user_id: Option<String>,
    },
}

impl Which {
    /// Every session of `user_id` but `keep`.
    pub fn all_of(user_id: &str, keep: Option<String>) -> Self {
        Which::AllOf {
            user_id: user_id.to_owned(),
            keep,
        }
    }
}

/// A session that just ended, and whose it was.
#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct Ended {
    pub session_id: String,
    pub user_id: String,
}

/// Who opened a session, for the operator's records.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub user_agent: Option<String>,
    pub client_addr: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = sessions)]
pub struct Session {
    pub id: String,
    pub user_id: String,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub last_used_at: NaiveDateTime,
    pub revoked_at: Option<NaiveDateTime>,
    pub revoked_reason: Option<String>,
    /// When the session last authenticated (login or step-up).
    pub auth_time: NaiveDateTime,
    /// How: RFC 8176 values, comma-separated.
    pub amr: String,
    pub acr: String,
    /// Who used the session last (its last rotation), to compare a reuse with.
    pub last_client_addr: Option<String>,
    pub last_user_agent: Option<String>,
}

impl Session {
    /// How the session last authenticated, as its tokens say it.
    pub fn authentication(&self) -> Authentication {
        Authentication::from_stored(&self.amr, &self.acr, self.auth_time.and_utc())
    }

    /// Seconds until the absolute expiry (never negative).
    pub(crate) fn remaining(&self, now: DateTime<Utc>) -> Duration {
        (self.expires_at.and_utc() - now).max(Duration::zero())
    }

    /// Why the session is over at `now`, if it is: past its absolute
    /// lifetime, or unused too long.
    fn expiry(&self, policy: &SessionPolicy, now: DateTime<Utc>) -> Option<EndReason> {
        let now = now.naive_utc();
        if now >= self.expires_at {
            Some(EndReason::Expired)
        } else if now >= self.last_used_at + policy.idle_ttl {
            Some(EndReason::Idle)
        } else {
            None
        }
    }
}

/// A live session as its owner sees it in a list of their devices.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = sessions)]
pub struct SessionInfo {
    pub id: String,
    pub created_at: NaiveDateTime,
    pub last_used_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub user_agent: Option<String>,
    pub client_addr: Option<String>,
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = refresh_tokens)]
struct TokenRow {
    session_id: String,
    spent_at: Option<NaiveDateTime>,
}

/// A session with its current refresh token, as a login or refresh leaves it.
#[derive(Debug)]
pub struct Grant {
    pub session: Session,
    pub user: User,
    pub refresh: RefreshToken,
}

/// What presenting a refresh token did.
#[derive(Debug)]
pub(crate) enum RotateOutcome {
    /// The token was unspent; it is spent now and `grant.refresh` is new.
    Rotated(Grant),
    /// The token was spent within the grace period; `grant.refresh` is the
    /// successor already issued.
    Replayed(Grant),
    /// Presenting the token ended its session: it was spent before the
    /// grace period ([`EndReason::ReuseDetected`], with what the reuse
    /// looked like), the session is past its absolute or idle lifetime, or
    /// its user can no longer log in.
    Ended {
        ended: Ended,
        reason: EndReason,
        reuse: Option<Reuse>,
    },
    /// Unknown token (`None`), or a token of a session that had ended
    /// before, for the reason it ended.
    Refused(Option<EndReason>),
}

/// What a refresh-token reuse looked like (contract §12).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reuse {
    pub cause: ReuseCause,
    /// Whether the reusing client's address and user agent are those of
    /// the session's last use.
    pub same_addr: bool,
    pub same_agent: bool,
}

/// Whose is the token that was presented again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReuseCause {
    /// Its successor was never presented: most likely the client never
    /// received or saved it.
    SuccessorUnused,
    /// Its successor was presented too: someone else holds a newer token,
    /// likely theft.
    SuccessorUsed,
}

impl ReuseCause {
    pub fn as_str(self) -> &'static str {
        match self {
            ReuseCause::SuccessorUnused => "successor_unused",
            ReuseCause::SuccessorUsed => "successor_used",
        }
    }
}

/// How far a grace replay follows a chain of quick rotations to its head.
const MAX_REPLAY_HOPS: usize = 8;

/// Opens a session for `user`, authenticated as `auth` says, and stores
/// its first refresh token.
pub fn issue(
    conn: &mut Conn,
    user: &User,
    auth: &Authentication,
    client: &ClientInfo,
    policy: &SessionPolicy,
    now: DateTime<Utc>,
) -> Result<Grant, DbError> {
    let refresh = RefreshToken::generate();
    let naive = now.naive_utc();
    let session = Session {
        id: uuid::Uuid::new_v4().to_string(),
        user_id: user.id.clone(),
        created_at: naive,
        expires_at: naive + policy.ttl,
        last_used_at: naive,
        revoked_at: None,
        revoked_reason: None,
        auth_time: auth.auth_time.naive_utc(),
        amr: auth.stored_amr(),
        acr: auth.acr.to_owned(),
        last_client_addr: client.client_addr.clone(),
        last_user_agent: client.user_agent.clone(),
    };
    super::write_tx(conn, |conn| {
        diesel::insert_into(sessions::table)
            .values((
                sessions::id.eq(&session.id),
                sessions::user_id.eq(&session.user_id),
                sessions::created_at.eq(session.created_at),
                sessions::expires_at.eq(session.expires_at),
                sessions::last_used_at.eq(session.last_used_at),
                sessions::user_agent.eq(&client.user_agent),
                sessions::client_addr.eq(&client.client_addr),
                sessions::auth_time.eq(session.auth_time),
                sessions::amr.eq(&session.amr),
                sessions::acr.eq(&session.acr),
                sessions::last_client_addr.eq(&session.last_client_addr),
                sessions::last_user_agent.eq(&session.last_user_agent),
            ))
            .execute(conn)?;
        insert_token(conn, &refresh, &session.id, None, naive)
    })?;
    Ok(Grant {
        session,
        user: user.clone(),
        refresh,
    })
}

/// Presents a refresh token: rotates it, replays its successor, or detects
/// reuse. See [`RotateOutcome`].
///
/// Exactly once: the token is claimed by one conditional update (`spent_at
/// IS NULL`). On SQLite the write transaction serialises callers; on
/// PostgreSQL a concurrent claim waits for the winner's row lock, then finds
/// the token spent and, in a fresh snapshot, the winner's successor.
pub(crate) fn rotate(
    conn: &mut Conn,
    presented: &RefreshToken,
    key: &SuccessorKey,
    policy: &SessionPolicy,
    client: &ClientInfo,
    now: DateTime<Utc>,
) -> Result<RotateOutcome, DbError> {
    super::write_tx(conn, |conn| {
        let (session_id, spent_at) = match claim(conn, presented, now)? {
            Some(session_id) => (session_id, None),
            None => match find_token(conn, presented)? {
                Some(TokenRow {
                    session_id,
                    spent_at: Some(at),
                }) => (session_id, Some(at)),
                _ => return Ok(RotateOutcome::Refused(None)),
            },
        };
        let session = find_session(conn, &session_id)?.ok_or_else(|| {
            DbError::Inconsistent(format!("a refresh token of no session ({session_id})"))
        })?;
        if session.revoked_at.is_some() {
            let reason = session.revoked_reason.as_deref().and_then(EndReason::parse);
            return Ok(RotateOutcome::Refused(reason));
        }
        if let Some(reason) = session.expiry(policy, now) {
            return ended(conn, session, reason, None, now);
        }
        let Some(user) = users::find_by_id(conn, &session.user_id)?.filter(|u| !u.disabled) else {
            return ended(conn, session, EndReason::UserDisabled, None, now);
        };

        let Some(spent_at) = spent_at else {
            let successor = presented.successor(key);
            insert_token(
                conn,
                &successor,
                &session.id,
                Some(presented),
                now.naive_utc(),
            )?;
            let session = touch(conn, session, client, now)?;
            return Ok(RotateOutcome::Rotated(Grant {
                session,
                user,
                refresh: successor,
            }));
        };

        match replay_head(conn, presented, spent_at, key, policy, now)? {
            Some(head) => Ok(RotateOutcome::Replayed(Grant {
                session,
                user,
                refresh: head,
            })),
            None => {
                let reuse = reuse_of(conn, presented, key, &session, client)?;
                ended(conn, session, EndReason::ReuseDetected, Some(reuse), now)
            }
        }
    })
}

/// What the reuse of `presented` looks like: whether its successor was
/// ever presented, and whether the client is the session's last one.
fn reuse_of(
    conn: &mut Conn,
    presented: &RefreshToken,
    key: &SuccessorKey,
    session: &Session,
    client: &ClientInfo,
) -> Result<Reuse, DbError> {
    let successor = find_token(conn, &presented.successor(key))?;
    let cause = match successor {
        Some(TokenRow {
            spent_at: Some(_), ..
        }) => ReuseCause::SuccessorUsed,
        _ => ReuseCause::SuccessorUnused,
    };
    Ok(Reuse {
        cause,
        same_addr: client.client_addr.is_some() && client.client_addr == session.last_client_addr,
        same_agent: client.user_agent.is_some() && client.user_agent == session.last_user_agent,
    })
}

/// Ends the session a presented token belongs to, as [`RotateOutcome::Ended`].
fn ended(
    conn: &mut Conn,
    session: Session,
    reason: EndReason,
    reuse: Option<Reuse>,
    now: DateTime<Utc>,
) -> Result<RotateOutcome, DbError> {
    mark_ended(conn, std::slice::from_ref(&session.id), reason, now)?;
    Ok(RotateOutcome::Ended {
        ended: Ended {
            session_id: session.id,
            user_id: session.user_id,
        },
        reason,
        reuse,
    })
}

/// Records a new authentication of a live session (a step-up): its
/// `auth_time`, `amr` and `acr` become `auth`'s. `None` when the session
/// is no longer live.
pub fn reauthenticate(
    conn: &mut Conn,
    session_id: &str,
    auth: &Authentication,
    policy: &SessionPolicy,
    now: DateTime<Utc>,
) -> Result<Option<Session>, DbError> {
    let naive = now.naive_utc();
    super::write_tx(conn, |conn| {
        let changed = diesel::update(
            sessions::table
                .find(session_id)
                .filter(is_live(naive, naive - policy.idle_ttl)),
        )
        .set((
            sessions::auth_time.eq(auth.auth_time.naive_utc()),
            sessions::amr.eq(auth.stored_amr()),
            sessions::acr.eq(auth.acr),
        ))
        .execute(conn)?;
        if changed == 0 {
            return Ok(None);
        }
        find_session(conn, session_id)
    })
}

/// Spends `token` if it is unspent; returns its session when this call did.
fn claim(
    conn: &mut Conn,
    token: &RefreshToken,
    now: DateTime<Utc>,
) -> Result<Option<String>, DbError> {
    Ok(diesel::update(
        refresh_tokens::table
            .find(token.hash())
            .filter(refresh_tokens::spent_at.is_null()),
    )
    .set(refresh_tokens::spent_at.eq(now.naive_utc()))
    .returning(refresh_tokens::session_id)
    .get_result(conn)
    .optional()?)
}

/// Follows successors of a token spent at `spent_at` while each was spent
/// within the grace period, to the unspent head of the chain. `None` means
/// the presentation is reuse.
fn replay_head(
    conn: &mut Conn,
    presented: &RefreshToken,
    mut spent_at: NaiveDateTime,
    key: &SuccessorKey,
    policy: &SessionPolicy,
    now: DateTime<Utc>,
) -> Result<Option<RefreshToken>, DbError> {
    let mut current = presented.clone();
    for _ in 0..MAX_REPLAY_HOPS {
        if now.naive_utc() - spent_at > policy.grace {
            return Ok(None);
        }
        let next = current.successor(key);
        match find_token(conn, &next)? {
            None => return Ok(None),
            Some(TokenRow { spent_at: None, .. }) => return Ok(Some(next)),
            Some(TokenRow {
                spent_at: Some(at), ..
            }) => {
                spent_at = at;
                current = next;
            }
        }
    }
    Ok(None)
}

/// Ends the live sessions `which` names, for `reason`; returns them (none
/// when nothing matched or all had ended already).
pub fn end(
    conn: &mut Conn,
    which: &Which,
    reason: EndReason,
    policy: &SessionPolicy,
    now: DateTime<Utc>,
) -> Result<Vec<Ended>, DbError> {
    super::write_tx(conn, |conn| {
        let candidates: Vec<String> = match which {
            Which::Token(token) => find_token(conn, token)?
                .map(|row| row.session_id)
                .into_iter()
                .collect(),
            Which::OwnedBy {
                user_id,
                session_id,
            } => {
                let naive = now.naive_utc();
                sessions::table
                    .filter(sessions::id.eq(session_id))
                    .filter(sessions::user_id.eq(user_id))
                    .filter(is_live(naive, naive - policy.idle_ttl))
                    .select(sessions::id)
                    .load(conn)?
            }
            Which::AllOf { user_id, keep } => sessions::table
                .filter(sessions::user_id.eq(user_id))
                .filter(sessions::revoked_at.is_null())
                // session ids are UUIDs: "" matches none
                .filter(sessions::id.ne(keep.as_deref().unwrap_or_default()))
                .select(sessions::id)
                .load(conn)?,
            Which::Federated {
                provider,
                sid,
                user_id,
            } => {
                let query = sessions::table
                    .filter(sessions::oidc_provider.eq(provider))
                    .filter(sessions::revoked_at.is_null())
                    .select(sessions::id)
                    .into_boxed();
                match (sid, user_id) {
                    (Some(sid), _) => query.filter(sessions::oidc_sid.eq(sid)).load(conn)?,
                    (None, Some(user)) => query.filter(sessions::user_id.eq(user)).load(conn)?,
                    (None, None) => Vec::new(),
                }
            }
        };
        mark_ended(conn, &candidates, reason, now)
    })
}

/// The one place a session ends: those of `ids` not ended yet are marked
/// with `reason` and announced to the other instances
/// ([`super::notify_revoked`], delivered on commit). Returns those it
/// ended.
fn mark_ended(
    conn: &mut Conn,
    ids: &[String],
    reason: EndReason,
    now: DateTime<Utc>,
) -> Result<Vec<Ended>, DbError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let ended: Vec<Ended> = diesel::update(
        sessions::table
            .filter(sessions::id.eq_any(ids))
            .filter(sessions::revoked_at.is_null()),
    )
    .set((
        sessions::revoked_at.eq(now.naive_utc()),
        sessions::revoked_reason.eq(reason.as_str()),
    ))
    .returning((sessions::id, sessions::user_id))
    .get_results(conn)?;
    let ids: Vec<&str> = ended.iter().map(|e| e.session_id.as_str()).collect();
    super::notify_revoked(conn, &ids)?;
    Ok(ended)
}

/// Sessions that are neither revoked nor past their absolute or idle
/// expiry at `now`: the filter behind every "live" query below.
#[diesel::dsl::auto_type]
fn is_live(now: NaiveDateTime, idle_since: NaiveDateTime) -> _ {
    sessions::revoked_at
        .is_null()
        .and(sessions::expires_at.gt(now))
        .and(sessions::last_used_at.gt(idle_since))
}

/// A user's live sessions, newest first.
pub(crate) fn live_sessions(
    conn: &mut Conn,
    user_id: &str,
    policy: &SessionPolicy,
    now: DateTime<Utc>,
) -> Result<Vec<SessionInfo>, DbError> {
    let now = now.naive_utc();
    Ok(sessions::table
        .filter(sessions::user_id.eq(user_id))
        .filter(is_live(now, now - policy.idle_ttl))
        .order((sessions::created_at.desc(), sessions::id.desc()))
        .select(SessionInfo::as_select())
        .load(conn)?)
}

/// How many live sessions each user has; users without one are absent.
pub(crate) fn live_session_counts(
    conn: &mut Conn,
    policy: &SessionPolicy,
    now: DateTime<Utc>,
) -> Result<HashMap<String, i64>, DbError> {
    let now = now.naive_utc();
    let rows: Vec<(String, i64)> = sessions::table
        .filter(is_live(now, now - policy.idle_ttl))
        .group_by(sessions::user_id)
        .select((sessions::user_id, diesel::dsl::count_star()))
        .load(conn)?;
    Ok(rows.into_iter().collect())
}

/// Sessions revoked at or after `since`, with when.
pub(crate) fn revoked_since(
    conn: &mut Conn,
    since: DateTime<Utc>,
) -> Result<Vec<(String, DateTime<Utc>)>, DbError> {
    let rows: Vec<(String, Option<NaiveDateTime>)> = sessions::table
        .filter(sessions::revoked_at.ge(since.naive_utc()))
        .select((sessions::id, sessions::revoked_at))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, at)| Some((id, at?.and_utc())))
        .collect())
}

/// How many sessions are live at `now`: not revoked, not past their
/// absolute or idle expiry.
pub(crate) fn count_live(
    conn: &mut Conn,
    policy: &SessionPolicy,
    now: DateTime<Utc>,
) -> Result<i64, DbError> {
    let now = now.naive_utc();
    Ok(sessions::table
        .filter(is_live(now, now - policy.idle_ttl))
        .count()
        .get_result(conn)?)
}

/// Deletes sessions (and their tokens) that ended before `before`.
pub(crate) fn purge_ended(conn: &mut Conn, before: DateTime<Utc>) -> Result<usize, DbError> {
    let before = before.naive_utc();
    Ok(diesel::delete(
        sessions::table.filter(
            sessions::expires_at
                .lt(before)
                .or(sessions::revoked_at.lt(before)),
        ),
    )
    .execute(conn)?)
}

/// When the session `id` ends by itself if nothing else happens (its
/// absolute or its idle expiry), or `None` when it is over at `now`
/// (ended, expired, unknown).
pub(crate) fn live_until(
    conn: &mut Conn,
    id: &str,
    policy: &SessionPolicy,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, DbError> {
    let Some(session) = find_session(conn, id)? else {
        return Ok(None);
    };
    if session.revoked_at.is_some() || session.expiry(policy, now).is_some() {
        return Ok(None);
    }
    let idle_end = session.last_used_at + policy.idle_ttl;
    Ok(Some(session.expires_at.min(idle_end).and_utc()))
}

pub fn find_session(conn: &mut Conn, id: &str) -> Result<Option<Session>, DbError> {
    Ok(sessions::table
        .find(id)
        .select(Session::as_select())
        .first(conn)
        .optional()?)
}

fn find_token(conn: &mut Conn, token: &RefreshToken) -> Result<Option<TokenRow>, DbError> {
    Ok(refresh_tokens::table
        .find(token.hash())
        .select(TokenRow::as_select())
        .first(conn)
        .optional()?)
}

fn insert_token(
    conn: &mut Conn,
    token: &RefreshToken,
    session_id: &str,
    parent: Option<&RefreshToken>,
    now: NaiveDateTime,
) -> Result<(), DbError> {
    diesel::insert_into(refresh_tokens::table)
        .values((
            refresh_tokens::token_hash.eq(token.hash()),
            refresh_tokens::session_id.eq(session_id),
            refresh_tokens::parent_hash.eq(parent.map(RefreshToken::hash)),
            refresh_tokens::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Records a use of the session by `client` at `now`.
fn touch(
    conn: &mut Conn,
    mut session: Session,
    client: &ClientInfo,
    now: DateTime<Utc>,
) -> Result<Session, DbError> {
    session.last_used_at = now.naive_utc();
    session.last_client_addr.clone_from(&client.client_addr);
    session.last_user_agent.clone_from(&client.user_agent);
    diesel::update(sessions::table.find(&session.id))
        .set((
            sessions::last_used_at.eq(session.last_used_at),
            sessions::last_client_addr.eq(&session.last_client_addr),
            sessions::last_user_agent.eq(&session.last_user_agent),
        ))
        .execute(conn)?;
    Ok(session)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Roles;
    use crate::auth::authn::Method;
    use crate::db::Db;

    struct Fixture {
        db: Db,
        _dir: tempfile::TempDir,
        user: User,
        key: SuccessorKey,
        policy: SessionPolicy,
        t0: DateTime<Utc>,
    }

    fn fixture() -> Fixture {
        let (db, dir) = crate::db::temp_db();
        let t0 = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .to_utc();
        let user = db
            .with_conn(|c| users::create(c, "alice", "x", &Roles::new([]), t0))
            .unwrap();
        Fixture {
            db,
            _dir: dir,
            user,
            key: SuccessorKey::generate(),
            policy: SessionPolicy {
                ttl: Duration::days(30),
                idle_ttl: Duration::days(7),
                grace: Duration::seconds(5),
            },
            t0,
        }
    }

    impl Fixture {
        fn issue(&self) -> Grant {
            self.db
                .with_conn(|c| {
                    let auth = Authentication::by(&[Method::Pwd], self.t0);
                    issue(
                        c,
                        &self.user,
                        &auth,
                        &ClientInfo::default(),
                        &self.policy,
                        self.t0,
                    )
                })
                .unwrap()
        }

        fn rotate(&self, token: &RefreshToken, at: DateTime<Utc>) -> RotateOutcome {
            self.db
                .with_conn(|c| {
                    rotate(
                        c,
                        token,
                        &self.key,
                        &self.policy,
                        &ClientInfo::default(),
                        at,
                    )
                })
                .unwrap()
        }

        fn session(&self, id: &str) -> Session {
            self.db.with_conn(|c| find_session(c, id)).unwrap().unwrap()
        }

        fn end(&self, which: Which, reason: EndReason) -> Vec<String> {
            self.db
                .with_conn(|c| end(c, &which, reason, &self.policy, self.t0))
                .unwrap()
                .into_iter()
                .map(|e| e.session_id)
                .collect()
        }

        fn all_of(&self, keep: Option<&str>) -> Which {
            Which::AllOf {
                user_id: self.user.id.clone(),
                keep: keep.map(str::to_owned),
            }
        }
    }

    fn ended_for(outcome: RotateOutcome) -> EndReason {
        match outcome {
            RotateOutcome::Ended { reason, .. } => reason,
            other => panic!("expected Ended, got {other:?}"),
        }
    }

    fn rotated(outcome: RotateOutcome) -> Grant {
        match outcome {
            RotateOutcome::Rotated(grant) => grant,
            other => panic!("expected Rotated, got {other:?}"),
        }
    }

    #[test]
    fn issue_opens_a_session_with_absolute_expiry() {
        let f = fixture();
        let grant = f.issue();
        assert_eq!(
            grant.session.expires_at,
            (f.t0 + Duration::days(30)).naive_utc()
        );
        assert_eq!(f.session(&grant.session.id).user_id, f.user.id);
    }

    #[test]
    fn rotate_spends_the_token_and_issues_a_successor() {
        let f = fixture();
        let first = f.issue();
        let second = rotated(f.rotate(&first.refresh, f.t0 + Duration::seconds(60)));
        assert_ne!(second.refresh, first.refresh);
        assert_eq!(second.session.id, first.session.id);
        let third = rotated(f.rotate(&second.refresh, f.t0 + Duration::seconds(120)));
        assert_ne!(third.refresh, second.refresh);
    }

    #[test]
    fn rotation_never_extends_the_session() {
        let f = fixture();
        let first = f.issue();
        let later = f.t0 + Duration::days(6);
        let second = rotated(f.rotate(&first.refresh, later));
        assert_eq!(second.session.expires_at, first.session.expires_at);
        assert_eq!(second.session.remaining(later), Duration::days(24));
    }

    #[test]
    fn a_spent_token_within_grace_replays_the_same_successor() {
        let f = fixture();
        let first = f.issue();
        let second = rotated(f.rotate(&first.refresh, f.t0));
        match f.rotate(&first.refresh, f.t0 + Duration::seconds(5)) {
            RotateOutcome::Replayed(grant) => assert_eq!(grant.refresh, second.refresh),
            other => panic!("expected Replayed, got {other:?}"),
        }
    }

    #[test]
    fn a_replay_follows_quick_rotations_to_the_head_of_the_chain() {
        let f = fixture();
        let first = f.issue();
        let second = rotated(f.rotate(&first.refresh, f.t0));
        let third = rotated(f.rotate(&second.refresh, f.t0 + Duration::seconds(1)));
        match f.rotate(&first.refresh, f.t0 + Duration::seconds(2)) {
            RotateOutcome::Replayed(grant) => assert_eq!(grant.refresh, third.refresh),
            other => panic!("expected Replayed, got {other:?}"),
        }
    }

    #[test]
    fn a_spent_token_after_grace_is_reuse_and_revokes_the_whole_session() {
        let f = fixture();
        let first = f.issue();
        let second = rotated(f.rotate(&first.refresh, f.t0));
        let at = f.t0 + Duration::seconds(6);
        assert_eq!(
            ended_for(f.rotate(&first.refresh, at)),
            EndReason::ReuseDetected
        );
        let session = f.session(&first.session.id);
        assert_eq!(session.revoked_reason.as_deref(), Some("reuse_detected"));
        // the descendant dies with the session, which says why
        assert!(matches!(
            f.rotate(&second.refresh, at),
            RotateOutcome::Refused(Some(EndReason::ReuseDetected))
        ));
    }

    fn reuse_of(outcome: RotateOutcome) -> Reuse {
        match outcome {
            RotateOutcome::Ended {
                reuse: Some(reuse), ..
            } => reuse,
            other => panic!("expected a reuse, got {other:?}"),
        }
    }

    #[test]
    fn a_reuse_says_whether_the_successor_was_ever_presented_and_by_whom() {
        let f = fixture();
        let phone = ClientInfo {
            user_agent: Some("phone".into()),
            client_addr: Some("192.0.2.1".into()),
        };
        let rotate_as = |token: &RefreshToken, client: &ClientInfo, at| {
            f.db.with_conn(|c| rotate(c, token, &f.key, &f.policy, client, at))
                .unwrap()
        };
        let later = f.t0 + Duration::seconds(60);
        // the successor was never presented: a lost answer, likely
        let lost = f.issue();
        rotated(rotate_as(&lost.refresh, &phone, f.t0));
        let reuse = reuse_of(rotate_as(&lost.refresh, &phone, later));
        assert_eq!(reuse.cause, ReuseCause::SuccessorUnused);
        assert!(reuse.same_addr && reuse.same_agent);
        // the successor was presented too: someone else holds a newer one
        let stolen = f.issue();
        let newer = rotated(rotate_as(&stolen.refresh, &phone, f.t0));
        rotated(rotate_as(
            &newer.refresh,
            &phone,
            f.t0 + Duration::seconds(10),
        ));
        let thief = ClientInfo {
            user_agent: Some("curl".into()),
            client_addr: Some("203.0.113.9".into()),
        };
        let reuse = reuse_of(rotate_as(&stolen.refresh, &thief, later));
        assert_eq!(reuse.cause, ReuseCause::SuccessorUsed);
        assert!(!reuse.same_addr && !reuse.same_agent);
    }

    #[test]
    fn an_unknown_token_is_invalid() {
        let f = fixture();
        assert!(matches!(
            f.rotate(&RefreshToken::generate(), f.t0),
            RotateOutcome::Refused(None)
        ));
    }

    #[test]
    fn an_idle_session_expires() {
        let f = fixture();
        let first = f.issue();
        let at = f.t0 + Duration::days(7);
        assert_eq!(ended_for(f.rotate(&first.refresh, at)), EndReason::Idle);
        let session = f.session(&first.session.id);
        assert_eq!(session.revoked_reason.as_deref(), Some("idle"));
    }

    #[test]
    fn a_session_expires_at_its_absolute_lifetime_even_when_used() {
        let f = fixture();
        let mut token = f.issue().refresh;
        for day in [6, 12, 18, 24] {
            token = rotated(f.rotate(&token, f.t0 + Duration::days(day))).refresh;
        }
        assert_eq!(
            ended_for(f.rotate(&token, f.t0 + Duration::days(30))),
            EndReason::Expired
        );
    }

    #[test]
    fn ending_by_token_ends_the_session_and_its_tokens() {
        let f = fixture();
        let grant = f.issue();
        let ids = f.end(Which::Token(grant.refresh.clone()), EndReason::Logout);
        assert_eq!(ids, std::slice::from_ref(&grant.session.id));
        assert!(
            f.end(Which::Token(grant.refresh.clone()), EndReason::Logout)
                .is_empty(),
            "an ended session ends once"
        );
        assert!(matches!(
            f.rotate(&grant.refresh, f.t0),
            RotateOutcome::Refused(Some(EndReason::Logout))
        ));
        let revoked = f.db.with_conn(|c| revoked_since(c, f.t0)).unwrap();
        assert_eq!(revoked, vec![(grant.session.id, f.t0)]);
    }

    #[test]
    fn ending_all_of_a_user_ends_every_session() {
        let f = fixture();
        let a = f.issue();
        let b = f.issue();
        let ids = f.end(f.all_of(None), EndReason::UserDisabled);
        assert_eq!(ids.len(), 2);
        assert!(matches!(
            f.rotate(&a.refresh, f.t0),
            RotateOutcome::Refused(_)
        ));
        assert!(matches!(
            f.rotate(&b.refresh, f.t0),
            RotateOutcome::Refused(_)
        ));
    }

    #[test]
    fn ending_all_of_a_user_can_keep_the_callers_session() {
        let f = fixture();
        let mine = f.issue();
        let other = f.issue();
        let ids = f.end(f.all_of(Some(&mine.session.id)), EndReason::PasswordChanged);
        assert_eq!(ids, vec![other.session.id.clone()]);
        assert_eq!(
            f.session(&other.session.id).revoked_reason.as_deref(),
            Some("password_changed")
        );
        assert!(matches!(
            f.rotate(&mine.refresh, f.t0),
            RotateOutcome::Rotated(_)
        ));
        assert!(matches!(
            f.rotate(&other.refresh, f.t0),
            RotateOutcome::Refused(_)
        ));
    }

    #[test]
    fn a_disabled_user_cannot_refresh() {
        let f = fixture();
        let grant = f.issue();
        f.db.with_conn(|c| {
            diesel::update(crate::db::schema::users::table)
                .set(crate::db::schema::users::disabled.eq(true))
                .execute(c)?;
            Ok(())
        })
        .unwrap();
        assert_eq!(
            ended_for(f.rotate(&grant.refresh, f.t0)),
            EndReason::UserDisabled
        );
    }

    #[test]
    fn live_sessions_are_listed_newest_first_without_ended_ones() {
        let f = fixture();
        let old = f.issue();
        let dead = f.issue();
        let new =
            f.db.with_conn(|c| {
                issue(
                    c,
                    &f.user,
                    &Authentication::by(&[Method::Pwd], f.t0),
                    &ClientInfo {
                        user_agent: Some("UA".into()),
                        client_addr: Some("192.0.2.1".into()),
                    },
                    &f.policy,
                    f.t0 + Duration::seconds(10),
                )
            })
            .unwrap();
        f.end(Which::Token(dead.refresh), EndReason::Logout);
        let at = f.t0 + Duration::seconds(20);
        let list =
            f.db.with_conn(|c| live_sessions(c, &f.user.id, &f.policy, at))
                .unwrap();
        let ids: Vec<&str> = list.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, [new.session.id.as_str(), old.session.id.as_str()]);
        assert_eq!(list[0].user_agent.as_deref(), Some("UA"));
        assert_eq!(list[0].client_addr.as_deref(), Some("192.0.2.1"));
        let counts =
            f.db.with_conn(|c| live_session_counts(c, &f.policy, at))
                .unwrap();
        assert_eq!(counts.get(&f.user.id), Some(&2));
    }

    #[test]
    fn idle_and_expired_sessions_are_not_live() {
        let f = fixture();
        f.issue();
        let idle = f.t0 + f.policy.idle_ttl;
        let list =
            f.db.with_conn(|c| live_sessions(c, &f.user.id, &f.policy, idle))
                .unwrap();
        assert!(list.is_empty());
        let counts =
            f.db.with_conn(|c| live_session_counts(c, &f.policy, idle))
                .unwrap();
        assert!(counts.is_empty());
    }

    #[test]
    fn a_user_can_revoke_only_their_own_live_session() {
        let f = fixture();
        let other =
            f.db.with_conn(|c| users::create(c, "mallory", "x", &Roles::new([]), f.t0))
                .unwrap();
        let grant = f.issue();
        let id = grant.session.id.as_str();
        let revoke = |user: &str, session: &str| {
            let which = Which::OwnedBy {
                user_id: user.to_owned(),
                session_id: session.to_owned(),
            };
            !f.end(which, EndReason::EndedElsewhere).is_empty()
        };
        assert!(!revoke(&other.id, id), "another user's session");
        assert!(!revoke(&f.user.id, "no-such-session"));
        assert!(f.session(id).revoked_at.is_none());
        assert!(revoke(&f.user.id, id));
        assert_eq!(
            f.session(id).revoked_reason.as_deref(),
            Some("ended_elsewhere")
        );
        assert!(!revoke(&f.user.id, id), "already ended");
    }

    #[test]
    fn end_reasons_read_back_as_stored() {
        for reason in EndReason::ALL {
            assert_eq!(EndReason::parse(reason.as_str()), Some(reason));
        }
        assert_eq!(EndReason::parse("refresh_token_reused"), None);
    }

    #[test]
    fn purge_removes_ended_sessions_only() {
        let f = fixture();
        let live = f.issue();
        let dead = f.issue();
        f.end(Which::Token(dead.refresh), EndReason::Logout);
        let n =
            f.db.with_conn(|c| purge_ended(c, f.t0 + Duration::seconds(1)))
                .unwrap();
        assert_eq!(n, 1);
        assert_eq!(f.session(&live.session.id).id, live.session.id);
    }
}
