//! The login flow: from credentials presented to a session opened, or a
//! typed refusal ([`LoginError`]). Everything a login is made of happens
//! here, in this order: the attempt is counted by the throttle before
//! anything is checked ([`Login::checked`]), the password is checked on
//! the hashing pool with no database connection held (an unknown user
//! against a dummy hash, so it takes as long), the attempt is settled
//! (a success clears the username's count, a busy pool refunds it), the
//! outcome is counted in the metrics and said as one security event.
//!
//! A user with a second factor gets, instead of a session, a pending login
//! ([`SignIn::SecondFactor`]) that [`Login::second_factor`] finishes on any
//! instance; its codes are counted against the username like passwords.
//! Every way in ends in [`Login::open_session`], the only code that opens
//! a session, and says how the user authenticated (`amr`, `acr`,
//! `auth_time`).
//!
//! Checking someone already signed in (a password change, a step-up) goes
//! through the same counting, in a bucket of their own
//! ([`Login::reauthenticate`]). Knows nothing of HTTP; callers pass `now`.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};

use crate::auth::authn::{ACR_PWD, Authentication, Method};
use crate::auth::hash_pool::{Busy, HashGate};
use crate::auth::password::{HashError, Hasher, Password, Verdict};
use crate::auth::user::{User, is_valid_username};
use crate::db::ledger::{self, Grant, Session};
use crate::db::throttle::{Settle, Throttle, Throttled};
use crate::db::users::{self, Credentials, UserRef};
use crate::db::{self, Db, DbError, pending};
use crate::events::{Caller, Event, Kind};
use crate::factors::{FactorError, Factors, Proof};
use crate::metrics::{LoginOutcome, Metrics};
use crate::sessions::Sessions;

/// Why a login (or a re-authentication) did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Unknown user, wrong password, disabled user, a wrong or spent code,
    /// a pending login that is over: one outcome on purpose.
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

impl From<diesel::result::Error> for LoginError {
    fn from(e: diesel::result::Error) -> Self {
        LoginError::Db(e.into())
    }
}

impl From<FactorError> for LoginError {
    fn from(e: FactorError) -> Self {
        match e {
            FactorError::Db(e) => LoginError::Db(e),
            _ => LoginError::InvalidCredentials,
        }
    }
}

/// What a correct password leads to.
#[derive(Debug)]
pub enum SignIn {
    /// A session: the user has no second factor.
    Session(Box<Grant>),
    /// A pending login: send one of `methods` with `mfa_token`.
    SecondFactor {
        mfa_token: String,
        methods: Vec<&'static str>,
    },
}

/// What re-authenticates someone already signed in.
#[derive(Debug)]
pub enum Reauth {
    Password(Password),
    Factor(Proof),
}

/// The session a re-authentication is for.
#[derive(Debug, Clone, Copy)]
pub struct Signed<'a> {
    pub user_id: &'a str,
    pub username: &'a str,
    pub session_id: &'a str,
}

/// The login flow's parts; cloning shares them.
#[derive(Clone)]
pub struct Login {
    db: Db,
    hashing: HashGate,
    throttle: Arc<Throttle>,
    sessions: Sessions,
    factors: Factors,
    metrics: Arc<Metrics>,
}

impl Login {
    pub fn new(
        db: Db,
        hashing: HashGate,
        throttle: Arc<Throttle>,
        sessions: Sessions,
        factors: Factors,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            db,
            hashing,
            throttle,
            sessions,
            factors,
            metrics,
        }
    }

    /// A password login: counted, checked, settled; then a session, or a
    /// pending login when the user has a second factor.
    pub async fn with_password(
        &self,
        username: &str,
        password: Password,
        caller: &Caller,
        now: DateTime<Utc>,
    ) -> Result<SignIn, LoginError> {
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
        let (user, rehash) = match self.checked(&key, caller, now, check).await {
            Ok(checked) => checked,
            Err(e) => {
                self.refused(&e, Kind::LoginFailed, username, caller);
                return Err(e);
            }
        };
        let methods = self.factors.methods(&user.id).await?;
        if methods.is_empty() {
            let auth = Authentication::by(&[Method::Pwd], now);
            let also = rehash.map(Also::Rehash);
            let grant = self.open_session(user, auth, also, caller, now).await?;
            return Ok(SignIn::Session(Box::new(grant)));
        }
        let mfa_token = opaque_token();
        let (token, id) = (mfa_token.clone(), user.id.clone());
        self.db
            .run(move |c| {
                db::write_tx(c, |c| {
                    if let Some(hash) = &rehash {
                        users::update_hash(c, &id, hash, now)?;
                    }
                    pending::open(c, &token, &id, Method::Pwd.as_str(), now)
                })
            })
            .await?;
        Ok(SignIn::SecondFactor { mfa_token, methods })
    }

    /// Finishes a pending login with its second factor. A wrong code is
    /// counted against the username's throttle and the pending login (the
    /// fifth ends it); a right one opens the session, once.
    pub async fn second_factor(
        &self,
        mfa_token: &str,
        proof: Proof,
        caller: &Caller,
        now: DateTime<Utc>,
    ) -> Result<Grant, LoginError> {
        let token = mfa_token.to_owned();
        let found = self
            .db
            .read(move |c| {
                let Some(pending) = pending::live(c, &token, now)? else {
                    return Ok::<_, DbError>(None);
                };
                Ok(users::find_by_id(c, &pending.user_id)?.map(|user| (pending, user)))
            })
            .await?;
        let (pending, user) = found.ok_or(LoginError::InvalidCredentials)?;
        let key = users::username_key(&user.username);
        let check = async {
            if let Some(method) = self.factors.verify(&user.id, &proof, now).await? {
                return Ok(method);
            }
            let token = mfa_token.to_owned();
            self.db.run(move |c| pending::failed(c, &token)).await?;
            Err(LoginError::InvalidCredentials)
        };
        let method = match self.checked(&key, caller, now, check).await {
            Ok(method) => method,
            Err(e) => {
                self.refused(&e, Kind::SecondFactorFailed, &user.username, caller);
                return Err(e);
            }
        };
        let first = Authentication::from_stored(&pending.amr, ACR_PWD, now);
        let auth = first.raised(&[method], now);
        let also = Some(Also::ClaimPending(mfa_token.to_owned()));
        self.open_session(user, auth, also, caller, now).await
    }

    /// Checks someone already signed in again (a password change, a
    /// step-up), counted like a login but in a bucket of their own, so a
    /// stolen access token cannot lock its owner out of logging in.
    /// Returns the user as the database has them now, and the method.
    pub async fn reauthenticate(
        &self,
        who: Signed<'_>,
        proof: Reauth,
        caller: &Caller,
        now: DateTime<Utc>,
    ) -> Result<(User, Method), LoginError> {
        let key = format!("reauth:{}", users::username_key(who.username));
        let id = UserRef::Id(who.user_id.to_owned());
        let check = async {
            let found = self.db.read(move |c| users::find(c, &id)).await?;
            match proof {
                Reauth::Password(password) => {
                    let (user, _) = self.check_password(found, password).await?;
                    Ok((user, Method::Pwd))
                }
                Reauth::Factor(proof) => {
                    let user = found
                        .map(|f| f.user)
                        .filter(|u| !u.disabled)
                        .ok_or(LoginError::InvalidCredentials)?;
                    let method = self.factors.verify(&user.id, &proof, now).await?;
                    Ok((user, method.ok_or(LoginError::InvalidCredentials)?))
                }
            }
        };
        self.checked(&key, caller, now, check).await
    }

    /// A step-up: re-authenticates the caller's session, which keeps its
    /// id and refresh token; its `auth_time` becomes `now`, and its `amr`
    /// and `acr` rise with what was used.
    pub async fn step_up(
        &self,
        who: Signed<'_>,
        proof: Reauth,
        caller: &Caller,
        now: DateTime<Utc>,
    ) -> Result<(User, Session), LoginError> {
        let (user, method) = self.reauthenticate(who, proof, caller, now).await?;
        let (sid, policy) = (who.session_id.to_owned(), self.sessions.policy());
        let session = self
            .db
            .run(move |c| {
                db::write_tx(c, |c| {
                    let Some(session) = ledger::find_session(c, &sid)? else {
                        return Ok(None);
                    };
                    let auth = session.authentication().raised(&[method], now);
                    ledger::reauthenticate(c, &sid, &auth, &policy, now)
                })
            })
            .await?
            .ok_or(LoginError::InvalidCredentials)?;
        Event::new(Kind::SteppedUp, caller)
            .user(&user)
            .session(&session.id)
            .record();
        Ok((user, session))
    }

    /// The one step every way in ends with: opens a session for `user`,
    /// authenticated as `auth` says, doing `also` in the same transaction
    /// (storing an upgraded password hash, or finishing a pending login),
    /// if the user may still log in; counts the login and says it.
    pub async fn open_session(
        &self,
        user: User,
        auth: Authentication,
        also: Option<Also>,
        caller: &Caller,
        now: DateTime<Utc>,
    ) -> Result<Grant, LoginError> {
        let client = caller.client();
        let policy = self.sessions.policy();
        let grant = self
            .db
            .run(move |conn| {
                db::write_tx(conn, |conn| {
                    let live = users::find_by_id(conn, &user.id)?.filter(|u| !u.disabled);
                    let Some(user) = live else {
                        return Err(LoginError::InvalidCredentials);
                    };
                    let done = match &also {
                        Some(Also::Rehash(hash)) => {
                            users::update_hash(conn, &user.id, hash, now)?;
                            true
                        }
                        Some(Also::ClaimPending(token)) => pending::claim(conn, token, now)?,
                        None => true,
                    };
                    if !done {
                        return Err(LoginError::InvalidCredentials);
                    }
                    Ok(ledger::issue(conn, &user, &auth, &client, &policy, now)?)
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

    /// Forgets login counts whose window has passed and pending logins
    /// long over (neither can refuse or finish anything any more).
    pub async fn purge(&self, now: DateTime<Utc>) -> Result<(), DbError> {
        self.throttle.purge_stale(&self.db, now).await?;
        let before = now - pending::LIFETIME;
        self.db.run(move |c| pending::purge(c, before)).await?;
        Ok(())
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

    /// Counts a refused login and says it as an event of `kind`.
    fn refused(&self, e: &LoginError, kind: Kind, username: &str, caller: &Caller) {
        let (outcome, kind) = match e {
            LoginError::InvalidCredentials => (LoginOutcome::Invalid, Some(kind)),
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

/// What opening a session also does, in its transaction.
#[derive(Debug)]
pub enum Also {
    /// Stores this stronger hash of the password just checked.
    Rehash(String),
    /// Finishes the pending login of this `mfa_token`, or opens nothing.
    ClaimPending(String),
}

/// 256 random bits, URL-safe: an `mfa_token`.
fn opaque_token() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
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
