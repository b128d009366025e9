//! The sessions service: the one place sessions end, and what a session
//! does after login (refresh, listing). Ending a session is four things
//! that must never come apart: the ledger marks it ended (in the
//! database, announced to the other instances by `NOTIFY` in the same
//! transaction), one security event per session is stored in that same
//! transaction, this instance's revocation list learns it at once (so its
//! access tokens are refused from the next request, not the next poll),
//! and the events are logged. [`Sessions::end`] does all of it; a use case
//! that ends sessions inside a bigger transaction (a password change,
//! disabling a user) calls [`end_in`] in that transaction and hands the
//! [`Ending`] to [`Sessions::announce`] once it committed.
//!
//! A session's WebSockets (contract §11) start here too: a ticket is
//! issued for the session of an access token and spent once, on any
//! instance, while that session lives ([`Sessions::issue_ticket`],
//! [`Sessions::spend_ticket`]); a live socket asks when its session ends
//! by itself ([`Sessions::live_until`]).
//!
//! Knows nothing of HTTP; callers pass `now`.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::auth::refresh::{RefreshToken, SuccessorKey};
use crate::auth::revocation::RevocationList;
use crate::auth::sockets::LiveSockets;
use crate::auth::tokens::Claims;
use crate::db::ledger::{self, Ended, Grant, RotateOutcome, SessionInfo, SessionPolicy, Which};
use crate::db::tickets;
use crate::db::{self, Conn, Db, DbError};
use crate::events::{self, Caller, Event, Kind};
use crate::metrics::{Metrics, RefreshOutcome as Refresh};

pub use crate::db::ledger::EndReason;

pub use crate::db::ledger::{Reuse, ReuseCause};

/// What presenting a refresh token came to.
#[derive(Debug)]
pub enum Refreshed {
    /// The token was rotated (or, within the grace period, its successor
    /// given again): the session goes on.
    Granted(Box<Grant>),
    /// The session ended now, for this reason (and, for a reuse, what it
    /// looked like).
    Ended(EndReason, Option<Reuse>),
    /// An unknown token (`None`), or one of a session that had ended
    /// before, for this reason.
    Refused(Option<EndReason>),
}

/// A WebSocket ticket spent: the claims of the access token it was issued
/// for, and when its session ends by itself if nothing else ends it.
#[derive(Debug)]
pub struct Ticketed {
    pub claims: Claims,
    pub live_until: DateTime<Utc>,
}

/// Sessions ended in a transaction, with their stored events: what
/// [`Sessions::announce`] takes once that transaction committed.
#[must_use = "an ending is announced once its transaction committed"]
#[derive(Debug, Default)]
pub struct Ending {
    ended: Vec<Ended>,
    events: Vec<Event>,
}

impl Ending {
    /// An ending of no session that says `events` (stored in a committed
    /// transaction).
    pub fn said(events: Vec<Event>) -> Self {
        Self {
            ended: Vec::new(),
            events,
        }
    }

    /// This ending, said after `event` (the change that caused it).
    pub fn after(mut self, event: Event) -> Self {
        self.events.insert(0, event);
        self
    }

    /// Whether no session ended.
    pub fn is_empty(&self) -> bool {
        self.ended.is_empty()
    }

    /// How many sessions ended.
    pub fn len(&self) -> usize {
        self.ended.len()
    }
}

/// Ends the live sessions `which` names, for `reason`, on behalf of
/// `actor` (an admin acting on someone else's account) if one acts, in the
/// caller's transaction: the ledger ends them and each is one stored event.
pub fn end_in(
    conn: &mut Conn,
    which: &Which,
    reason: EndReason,
    policy: &SessionPolicy,
    caller: &Caller,
    actor: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Ending, DbError> {
    let ended = ledger::end(conn, which, reason, policy, now)?;
    let events: Vec<Event> = ended
        .iter()
        .map(|e| ended_event(e, reason, caller, now).actor(actor))
        .collect();
    events::write_all(conn, &events)?;
    Ok(Ending { ended, events })
}

/// The reuse's facts, on its event.
fn reuse_detail(event: Event, reuse: &Option<Reuse>) -> Event {
    match reuse {
        None => event,
        Some(r) => event
            .with("cause", r.cause.as_str())
            .with("same_addr", r.same_addr.to_string())
            .with("same_agent", r.same_agent.to_string()),
    }
}

/// The event of one session's end.
fn ended_event(ended: &Ended, reason: EndReason, caller: &Caller, now: DateTime<Utc>) -> Event {
    Event::new(Kind::of_end(reason), caller, now)
        .user_id(&ended.user_id)
        .session(&ended.session_id)
        .reason(reason.as_str())
}

/// The sessions service; cloning shares it.
#[derive(Clone)]
pub struct Sessions {
    db: Db,
    revoked: Arc<RevocationList>,
    policy: SessionPolicy,
    successor: SuccessorKey,
    metrics: Arc<Metrics>,
}

impl Sessions {
    pub fn new(
        db: Db,
        revoked: Arc<RevocationList>,
        policy: SessionPolicy,
        successor: SuccessorKey,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            db,
            revoked,
            policy,
            successor,
            metrics,
        }
    }

    /// How long sessions live.
    pub fn policy(&self) -> SessionPolicy {
        self.policy
    }

    /// Presents a refresh token (see [`ledger::rotate`]): a rotation, a
    /// replay within the grace period, or the end of its session (reuse,
    /// expiry, a user who can no longer log in), counted and announced.
    pub async fn refresh(
        &self,
        token: RefreshToken,
        caller: &Caller,
        now: DateTime<Utc>,
    ) -> Result<Refreshed, DbError> {
        let (key, policy, client) = (self.successor.clone(), self.policy, caller.client());
        let by = caller.clone();
        let (outcome, ending) = self
            .db
            .run(move |conn| {
                db::write_tx(conn, |conn| {
                    let outcome = ledger::rotate(conn, &token, &key, &policy, &client, now)?;
                    let ending = match &outcome {
                        RotateOutcome::Ended {
                            ended,
                            reason,
                            reuse,
                        } => {
                            let event = reuse_detail(ended_event(ended, *reason, &by, now), reuse);
                            event.write(conn)?;
                            Ending {
                                ended: vec![ended.clone()],
                                events: vec![event],
                            }
                        }
                        _ => Ending::default(),
                    };
                    Ok::<_, DbError>((outcome, ending))
                })
            })
            .await?;
        self.announce(ending, now);
        Ok(match outcome {
            RotateOutcome::Rotated(grant) => {
                self.metrics.refresh(Refresh::Rotated);
                Refreshed::Granted(Box::new(grant))
            }
            RotateOutcome::Replayed(grant) => {
                self.metrics.refresh(Refresh::Replayed);
                Event::new(Kind::RefreshReplayed, caller, now)
                    .user_id(&grant.user.id)
                    .session(&grant.session.id)
                    .log();
                Refreshed::Granted(Box::new(grant))
            }
            RotateOutcome::Ended { reason, reuse, .. } => {
                self.metrics.refresh(match reason {
                    EndReason::ReuseDetected => Refresh::Reused,
                    EndReason::Expired | EndReason::Idle => Refresh::Expired,
                    _ => Refresh::Invalid,
                });
                if let Some(reuse) = &reuse {
                    self.metrics.reuse(reuse.cause);
                }
                Refreshed::Ended(reason, reuse)
            }
            RotateOutcome::Refused(reason) => {
                self.metrics.refresh(Refresh::Invalid);
                Refreshed::Refused(reason)
            }
        })
    }

    /// Counts a refresh that came without a token this gateway could read.
    pub(crate) fn count_unusable_token(&self) {
        self.metrics.refresh(Refresh::Invalid);
    }

    /// Ends the live sessions `which` names, for `reason`, on behalf of
    /// `actor` (an admin acting on another user's account, if one is).
    /// Whether any ended: none when no live session matched.
    pub async fn end(
        &self,
        which: Which,
        reason: EndReason,
        caller: &Caller,
        actor: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<bool, DbError> {
        let (policy, by, actor) = (self.policy, caller.clone(), actor.map(str::to_owned));
        let ending = self
            .db
            .run(move |conn| {
                db::write_tx(conn, |conn| {
                    end_in(conn, &which, reason, &policy, &by, actor.as_deref(), now)
                })
            })
            .await?;
        let any = !ending.is_empty();
        self.announce(ending, now);
        Ok(any)
    }

    /// After a transaction that ended sessions or stored events committed:
    /// this instance's revocation list learns the sessions, and the events
    /// are counted and logged. Every stored event is announced here.
    pub(crate) fn announce(&self, ending: Ending, now: DateTime<Utc>) {
        let Ending { ended, events } = ending;
        if !ended.is_empty() {
            self.revoked
                .extend(ended.into_iter().map(|e| (e.session_id, now)), now);
        }
        self.metrics.events(&events);
        events::log_all(&events);
    }

    /// How far back the revocation list must look: one access-token
    /// lifetime (and the leeway).
    pub(crate) fn revocation_horizon(&self) -> chrono::Duration {
        self.revoked.horizon()
    }

    /// Tops up this instance's revocation list with the sessions ended
    /// since `since` by anyone (another instance, the command line).
    pub(crate) async fn catch_up(
        &self,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), DbError> {
        let rows = self
            .db
            .read(move |c| ledger::revoked_since(c, since))
            .await?;
        self.revoked.extend(rows, now);
        Ok(())
    }

    /// Sessions another instance announced as ended.
    pub fn heard(&self, session_ids: Vec<String>, now: DateTime<Utc>) {
        if !session_ids.is_empty() {
            self.revoked
                .extend(session_ids.into_iter().map(|id| (id, now)), now);
        }
    }

    /// Deletes sessions that ended before `before`; returns how many.
    pub(crate) async fn purge_ended(&self, before: DateTime<Utc>) -> Result<usize, DbError> {
        self.db.run(move |c| ledger::purge_ended(c, before)).await
    }

    /// Issues a WebSocket ticket for the session of `claims`: 256 random
    /// bits, URL-safe, single use, [`tickets::LIFETIME`] long; only its
    /// hash is stored. The caller hands it out and never logs it.
    pub async fn issue_ticket(
        &self,
        claims: &Claims,
        now: DateTime<Utc>,
    ) -> Result<String, DbError> {
        let ticket = crate::auth::opaque_token();
        let json = serde_json::to_string(claims)
            .map_err(|e| DbError::Inconsistent(format!("claims as JSON: {e}")))?;
        let (stored, sid) = (ticket.clone(), claims.sid.clone());
        self.db
            .run(move |c| tickets::issue(c, &stored, &sid, &json, now))
            .await?;
        Ok(ticket)
    }

    /// Spends `ticket` if it is live and its session too: `None` for an
    /// unknown, spent or expired ticket, or one of a session that ended.
    pub async fn spend_ticket(
        &self,
        ticket: String,
        now: DateTime<Utc>,
    ) -> Result<Option<Ticketed>, DbError> {
        let policy = self.policy;
        let spent = self
            .db
            .run(move |c| {
                db::write_tx(c, |c| {
                    let Some(claimed) = tickets::claim(c, &ticket, now)? else {
                        return Ok::<_, DbError>(None);
                    };
                    let until = ledger::live_until(c, &claimed.session_id, &policy, now)?;
                    Ok(until.map(|until| (claimed, until)))
                })
            })
            .await?;
        let Some((claimed, live_until)) = spent else {
            return Ok(None);
        };
        let claims: Claims = serde_json::from_str(&claimed.claims)
            .map_err(|e| DbError::Inconsistent(format!("a ticket's claims: {e}")))?;
        if claims.sid != claimed.session_id || self.revoked.is_revoked(&claims.sid) {
            return Ok(None);
        }
        Ok(Some(Ticketed { claims, live_until }))
    }

    /// When the session `session_id` ends by itself if nothing else ends
    /// it, or `None` when it is over.
    pub async fn live_until(
        &self,
        session_id: String,
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, DbError> {
        let policy = self.policy;
        self.db
            .read(move |c| ledger::live_until(c, &session_id, &policy, now))
            .await
    }

    /// This instance's live WebSockets, which every ended session closes.
    pub fn sockets(&self) -> &Arc<LiveSockets> {
        self.revoked.sockets()
    }

    /// Whether this instance knows `session_id` has ended.
    pub fn is_revoked(&self, session_id: &str) -> bool {
        self.revoked.is_revoked(session_id)
    }

    /// The database this service works on.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// A user's live sessions, newest first.
    pub async fn list(
        &self,
        user_id: String,
        now: DateTime<Utc>,
    ) -> Result<Vec<SessionInfo>, DbError> {
        let policy = self.policy;
        self.db
            .read(move |c| ledger::live_sessions(c, &user_id, &policy, now))
            .await
    }

    /// How many sessions are live, for `/metrics`.
    pub(crate) async fn count_live(&self, now: DateTime<Utc>) -> Result<i64, DbError> {
        let policy = self.policy;
        self.db
            .read(move |c| ledger::count_live(c, &policy, now))
            .await
    }
}
