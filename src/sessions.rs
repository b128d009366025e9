//! The sessions service: the one place sessions end, and what a session
//! does after login (refresh, listing). Ending a session is four things
//! that must never come apart: the ledger marks it ended (in the
//! database, announced to the other instances by `NOTIFY` in the same
//! transaction), this instance's revocation list learns it at once (so its
//! access tokens are refused from the next request, not the next poll),
//! and one security event is logged per session, with its
//! [`EndReason`]. [`Sessions::end`] does all of it; a use case that ends
//! sessions inside a bigger transaction (a password change, disabling a
//! user) calls [`ledger::end`] in that transaction and hands what it ended
//! to [`Sessions::announce`].
//!
//! Knows nothing of HTTP; callers pass `now`.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::auth::refresh::{RefreshToken, SuccessorKey};
use crate::auth::revocation::RevocationList;
use crate::db::ledger::{self, Ended, Grant, RotateOutcome, SessionInfo, SessionPolicy, Which};
use crate::db::{Db, DbError};
use crate::events::{Caller, Event, Kind};
use crate::metrics::{Metrics, RefreshOutcome as Refresh};

pub use crate::db::ledger::EndReason;

/// What presenting a refresh token came to.
#[derive(Debug)]
pub enum Refreshed {
    /// The token was rotated (or, within the grace period, its successor
    /// given again): the session goes on.
    Granted(Box<Grant>),
    /// The session ended now, for this reason.
    Ended(EndReason),
    /// Unknown token, or a session that had ended before.
    Invalid,
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
        let (key, policy) = (self.successor.clone(), self.policy);
        let outcome = self
            .db
            .run(move |conn| ledger::rotate(conn, &token, &key, &policy, now))
            .await?;
        Ok(match outcome {
            RotateOutcome::Rotated(grant) => {
                self.metrics.refresh(Refresh::Rotated);
                Refreshed::Granted(Box::new(grant))
            }
            RotateOutcome::Replayed(grant) => {
                self.metrics.refresh(Refresh::Replayed);
                Event::new(Kind::RefreshReplayed, caller)
                    .user_id(&grant.user.id)
                    .session(&grant.session.id)
                    .record();
                Refreshed::Granted(Box::new(grant))
            }
            RotateOutcome::Ended { ended, reason } => {
                self.metrics.refresh(match reason {
                    EndReason::ReuseDetected => Refresh::Reused,
                    EndReason::Expired | EndReason::Idle => Refresh::Expired,
                    _ => Refresh::Invalid,
                });
                self.announce(&[ended], reason, caller, None, now);
                Refreshed::Ended(reason)
            }
            RotateOutcome::Invalid => {
                self.metrics.refresh(Refresh::Invalid);
                Refreshed::Invalid
            }
        })
    }

    /// Counts a refresh that came without a token this gateway could read.
    pub(crate) fn count_unusable_token(&self) {
        self.metrics.refresh(Refresh::Invalid);
    }

    /// Ends the live sessions `which` names, for `reason`, on behalf of
    /// `actor` (an admin acting on another user's account, if one is).
    /// Returns what ended: nothing when no live session matched.
    pub async fn end(
        &self,
        which: Which,
        reason: EndReason,
        caller: &Caller,
        actor: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Ended>, DbError> {
        let policy = self.policy;
        let ended = self
            .db
            .run(move |conn| ledger::end(conn, &which, reason, &policy, now))
            .await?;
        self.announce(&ended, reason, caller, actor, now);
        Ok(ended)
    }

    /// After sessions ended in a committed transaction: this instance's
    /// revocation list learns them, and each is one event.
    pub(crate) fn announce(
        &self,
        ended: &[Ended],
        reason: EndReason,
        caller: &Caller,
        actor: Option<&str>,
        now: DateTime<Utc>,
    ) {
        self.revoked
            .extend(ended.iter().map(|e| (e.session_id.clone(), now)), now);
        let kind = match reason {
            EndReason::ReuseDetected => Kind::ReuseDetected,
            _ => Kind::SessionEnded,
        };
        for e in ended {
            Event::new(kind, caller)
                .user_id(&e.user_id)
                .session(&e.session_id)
                .reason(reason)
                .actor(actor)
                .record();
        }
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
