//! The login flow: from credentials presented to a session opened, or a
//! typed refusal ([`LoginError`]). Everything a login is made of happens
//! here, in this order: the attempt is counted by the throttle before
//! anything is checked ([`Login::checked`]), the password is checked on
//! the hashing pool with no database connection held (an unknown user
//! against a dummy hash, so it takes as long), the attempt is settled
//! (a success clears the username's count, a busy pool refunds it), the
//! outcome is counted in the metrics and said as one security event. Every
//! way in ends in [`Login::open_session`], the only code that opens a
//! session.
//!
//! A password check for someone already signed in (a password change)
//! goes through the same counting, in a bucket of its own
//! ([`Login::reauthenticate`]). Knows nothing of HTTP; callers pass `now`.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::auth::hash_pool::{Busy, HashGate};
use crate::auth::password::{HashError, Hasher, Password, Verdict};
use crate::auth::user::{User, is_valid_username};
use crate::db::ledger::{self, Grant};
use crate::db::throttle::{Settle, Throttle, Throttled};
use crate::db::users::{self, Credentials, UserRef};
use crate::db::{self, Db, DbError};
use crate::events::{Caller, Event, Kind};
use crate::metrics::{LoginOutcome, Metrics};
use crate::sessions::Sessions;

/// Why a login (or a re-authentication) did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Unknown user, wrong password or disabled user: one outcome on purpose.
    #[error("unknown user or wrong password")]
    InvalidCredentials,
    /// Too many attempts for this username or address: wait this long.
    #[error("too many attempts; retry in {0} s")]
    Throttled(u64),
    /// Every password hasher is busy; nothing was checked.
    #[error("every password hasher is busy")]
    Busy,
    #[error(transparent)]
    Hash(#[from] HashError),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<Busy> for LoginError {
    fn from(_: Busy) -> Self {
        LoginError::Busy
    }
}

impl From<Throttled> for LoginError {
    fn from(e: Throttled) -> Self {
        match e {
            Throttled::Wait(secs) => LoginError::Throttled(secs),
            Throttled::Db(e) => LoginError::Db(e),
        }
    }
}

/// The login flow's parts; cloning shares them.
#[derive(Clone)]
pub struct Login {
    db: Db,
    hashing: HashGate,
    throttle: Arc<Throttle>,
    sessions: Sessions,
    metrics: Arc<Metrics>,
}

impl Login {
    pub fn new(
        db: Db,
        hashing: HashGate,
        throttle: Arc<Throttle>,
        sessions: Sessions,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            db,
            hashing,
            throttle,
            sessions,
            metrics,
        }
    }

    /// A password login: counted, checked, settled, then a session opened.
    pub(crate) async fn with_password(
        &self,
        username: &str,
        password: Password,
        caller: &Caller,
        now: DateTime<Utc>,
    ) -> Result<Grant, LoginError> {
        // A name that cannot exist is counted per address only (see
        // `Throttle::buckets`), so junk names cannot grow the throttle's
        // table; it is looked up nowhere but still costs a (dummy) hash.
        let (key, lookup) = if is_valid_username(username) {
            (users::username_key(username), Some(username.to_owned()))
        } else {
            (String::new(), None)
        };
        let check = async {
            let found = match lookup {
                Some(name) => {
                    self.db
                        .read(move |c| users::find_by_username(c, &name))
                        .await?
                }
                None => None,
            };
            self.check_password(found, password).await
        };
        match self.checked(&key, caller, now, check).await {
            Ok((user, rehash)) => self.open_session(user, rehash, caller, now).await,
            Err(e) => {
                self.refused(&e, username, caller);
                Err(e)
            }
        }
    }

    /// Checks the password of a user who is signed in already (a password
    /// change), counted like a login but in a bucket of its own, so a
    /// stolen access token cannot lock its owner out of logging in. Returns
    /// the user as the database has them now.
    pub(crate) async fn reauthenticate(
        &self,
        user_id: &str,
        username: &str,
        password: Password,
        caller: &Caller,
        now: DateTime<Utc>,
    ) -> Result<User, LoginError> {
        let key = format!("password-change:{}", users::username_key(username));
        let who = UserRef::Id(user_id.to_owned());
        let check = async {
            let found = self.db.read(move |c| users::find(c, &who)).await?;
            self.check_password(found, password).await
        };
        let (user, _) = self.checked(&key, caller, now, check).await?;
        Ok(user)
    }

    /// The one step every way in ends with: opens a session for `user`
    /// (storing an upgraded password hash with it, in one transaction),
    /// counts the login and says it as an event.
    pub(crate) async fn open_session(
        &self,
        user: User,
        new_hash: Option<String>,
        caller: &Caller,
        now: DateTime<Utc>,
    ) -> Result<Grant, LoginError> {
        let client = caller.client();
        let policy = self.sessions.policy();
        let grant = self
            .db
            .run(move |conn| {
                db::write_tx(conn, |conn| {
                    if let Some(hash) = &new_hash {
                        users::update_hash(conn, &user.id, hash, now)?;
                    }
                    ledger::issue(conn, &user, &client, &policy, now)
                })
            })
            .await?;
        self.metrics.login(LoginOutcome::Ok);
        Event::new(Kind::LoginOk, caller)
            .user(&grant.user)
            .session(&grant.session.id)
            .record();
        Ok(grant)
    }

    /// Forgets login counts whose window has passed (they can refuse
    /// nothing any more).
    pub(crate) async fn forget_stale_attempts(&self, now: DateTime<Utc>) -> Result<usize, DbError> {
        self.throttle.purge_stale(&self.db, now).await
    }

    /// Runs `check` as one counted attempt in the throttle bucket `key`
    /// and the caller's address bucket: refused before it runs when either
    /// is over its limit, settled after with what it found.
    async fn checked<T>(
        &self,
        key: &str,
        caller: &Caller,
        now: DateTime<Utc>,
        check: impl Future<Output = Result<T, LoginError>>,
    ) -> Result<T, LoginError> {
        let addr = caller.addr.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        let attempt = self.throttle.begin(&self.db, key, addr, now).await?;
        let result = check.await;
        let outcome = match &result {
            Ok(_) => Settle::Succeeded,
            Err(LoginError::Busy) => Settle::NotChecked,
            Err(_) => Settle::Failed,
        };
        self.throttle.settle(&self.db, attempt, outcome).await;
        result
    }

    /// Checks `password` on the hashing pool against the user found (or
    /// the dummy hash when none was). `new_hash` carries a re-hash when the
    /// stored one is weak.
    async fn check_password(
        &self,
        found: Option<Credentials>,
        password: Password,
    ) -> Result<(User, Option<String>), LoginError> {
        self.hashing
            .run(move |h| check_password(h, found, &password))
            .await?
            .ok_or(LoginError::InvalidCredentials)
    }

    /// Counts a refused login and says it as an event.
    fn refused(&self, e: &LoginError, username: &str, caller: &Caller) {
        let (outcome, kind) = match e {
            LoginError::InvalidCredentials => (LoginOutcome::Invalid, Some(Kind::LoginFailed)),
            LoginError::Throttled(_) => (LoginOutcome::Throttled, Some(Kind::LoginThrottled)),
            LoginError::Busy => (LoginOutcome::Throttled, None),
            LoginError::Hash(_) | LoginError::Db(_) => return,
        };
        self.metrics.login(outcome);
        if let Some(kind) = kind {
            Event::new(kind, caller).username(username).record();
        }
    }
}

/// The password check itself, on a hashing thread: the user found, or the
/// dummy hash when none was; a disabled user fails like a wrong password.
fn check_password(
    hasher: &mut Hasher,
    found: Option<Credentials>,
    password: &Password,
) -> Option<(User, Option<String>)> {
    let Some(found) = found else {
        hasher.verify_dummy(password.expose());
        return None;
    };
    let Verdict::Valid { rehash } = hasher.verify(password.expose(), &found.password_hash) else {
        return None;
    };
    if found.user.disabled {
        return None;
    }
    let new_hash = rehash
        .then(|| hasher.hash(password.expose()))
        .and_then(|r| {
            r.map_err(|e| log::warn!("re-hashing a weak password hash failed: {e}"))
                .ok()
        });
    Some((found.user, new_hash))
}
