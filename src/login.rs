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
//! A passkey alone is a login too ([`Login::with_passkey`]), counted
//! against the caller's address.
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

use chrono::{DateTime, Utc};

use crate::auth::authn::{ACR_PWD, Authentication, Method};
use crate::auth::device::DeviceKey;
use crate::auth::hash_pool::{Busy, HashGate};
use crate::auth::opaque_token;
use crate::auth::password::{HashError, Hasher, Password, Verdict};
use crate::auth::user::{User, is_valid_username};
use crate::db::ledger::{self, Grant, Session};
use crate::db::throttle::{Counted, Settle, Throttle, Throttled};
use crate::db::users::{self, Credentials, UserRef};
use crate::db::{self, Db, DbError, ceremonies, oidc, pending};
use crate::events::{self, Caller, Event, Kind};
use crate::factors::passkeys::Ceremony;
use crate::factors::{BY_PASSKEY, FactorError, Factors, Proof};
use crate::metrics::{LoginOutcome, Metrics};
use crate::sessions::{Ending, Sessions};

/// Why a login (or a re-authentication) did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Unknown user, wrong password, disabled user, a wrong or spent code,
    /// a pending login that is over: one outcome on purpose.
    #[error("unknown user or wrong password")]
    InvalidCredentials,
    /// Too many attempts for this username, device or address: wait
    /// `secs`. `remembered`: refused from this instance's memory, with no
    /// database work.
    #[error("too many attempts; retry in {secs} s")]
    Throttled { secs: u64, remembered: bool },
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
            Throttled::Wait { secs, remembered } => LoginError::Throttled { secs, remembered },
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
    /// A session (the user has no second factor), and the device cookie
    /// to set.
    Session { grant: Box<Grant>, device: String },
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
    devices: DeviceKey,
    metrics: Arc<Metrics>,
}

impl Login {
    pub fn new(
        db: Db,
        hashing: HashGate,
        throttle: Arc<Throttle>,
        sessions: Sessions,
        factors: Factors,
        devices: DeviceKey,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            db,
            hashing,
            throttle,
            sessions,
            factors,
            devices,
            metrics,
        }
    }

    /// A password login: counted (against the device alone when `device`
    /// is a valid device cookie of this username), checked, settled; then a
    /// session, or a pending login when the user has a second factor.
    pub async fn with_password(
        &self,
        username: &str,
        password: Password,
        device: Option<&str>,
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
        let mut known: Option<User> = None;
        let check = async {
            let found = match lookup {
                Some(name) => {
                    self.db
                        .read(move |c| users::find_by_username(c, &name))
                        .await?
                }
                None => None,
            };
            known = found.as_ref().map(|f| f.user.clone());
            self.check_password(found, password).await
        };
        let trusted = self.trusted_device(&key, device, now);
        let counted = Counted::of(&key, trusted.as_deref());
        let (user, rehash) = match self.checked(counted, caller, now, check).await {
            Ok(checked) => checked,
            Err(e) => {
                let event = self.failed_login(username, known, &e, caller, now).await;
                self.refused(&e, event, now).await;
                return Err(e);
            }
        };
        let device = self.devices.issue(&key, now);
        let methods = self.factors.methods(&user.id).await?;
        if methods.is_empty() {
            let auth = Authentication::by(&[Method::Pwd], now);
            let also = rehash.map(Also::Rehash);
            let grant = self.open_session(user, auth, also, caller, now).await?;
            let grant = Box::new(grant);
            return Ok(SignIn::Session { grant, device });
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
    /// counted as the password was (against the username, or the device
    /// alone) and against the pending login (the fifth ends it); a right
    /// one opens the session, once. Returns it and the device cookie.
    pub async fn second_factor(
        &self,
        mfa_token: &str,
        proof: Proof,
        device: Option<&str>,
        caller: &Caller,
        now: DateTime<Utc>,
    ) -> Result<(Grant, String), LoginError> {
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
        let trusted = self.trusted_device(&key, device, now);
        let counted = Counted::of(&key, trusted.as_deref());
        let check = async {
            if let Some(method) = self.factors.verify(&user.id, &proof, now).await? {
                return Ok(method);
            }
            let token = mfa_token.to_owned();
            self.db.run(move |c| pending::failed(c, &token)).await?;
            Err(LoginError::InvalidCredentials)
        };
        let method = match self.checked(counted, caller, now, check).await {
            Ok(method) => method,
            Err(e) => {
                let event = Event::new(Kind::SecondFactorFailed, caller, now).user(&user);
                self.refused(&e, event, now).await;
                return Err(e);
            }
        };
        let first = Authentication::from_stored(&pending.amr, ACR_PWD, now);
        let auth = first.raised(method, now);
        let also = Some(Also::ClaimPending(mfa_token.to_owned(), method));
        let device = self.devices.issue(&key, now);
        let grant = self.open_session(user, auth, also, caller, now).await?;
        Ok((grant, device))
    }

    /// Begins the passkey second step of the pending login of `mfa_token`:
    /// a ceremony for its user's passkeys.
    pub async fn passkey_second_step(
        &self,
        mfa_token: &str,
        now: DateTime<Utc>,
    ) -> Result<Ceremony, LoginError> {
        let token = mfa_token.to_owned();
        let pending = self.db.read(move |c| pending::live(c, &token, now)).await?;
        let pending = pending.ok_or(LoginError::InvalidCredentials)?;
        Ok(self.factors.begin_assertion(&pending.user_id, now).await?)
    }

    /// A passwordless login: an assertion by a discoverable passkey for a
    /// ceremony of [`Factors::begin_discovery`], counted against the
    /// caller's address (no username was typed). Returns the session and
    /// the device cookie.
    pub async fn with_passkey(
        &self,
        ceremony: &str,
        credential: &serde_json::Value,
        caller: &Caller,
        now: DateTime<Utc>,
    ) -> Result<(Grant, String), LoginError> {
        let check = async {
            let Some(id) = self.factors.discovered(ceremony, credential, now).await? else {
                return Err(LoginError::InvalidCredentials);
            };
            let user = self.db.read(move |c| users::find_by_id(c, &id)).await?;
            user.ok_or(LoginError::InvalidCredentials)
        };
        let user = match self
            .checked(Counted::Username(""), caller, now, check)
            .await
        {
            Ok(user) => user,
            Err(e) => {
                let event = Event::new(Kind::LoginFailed, caller, now).with("method", "passkey");
                self.refused(&e, event, now).await;
                return Err(e);
            }
        };
        let device = self
            .devices
            .issue(&users::username_key(&user.username), now);
        let auth = Authentication::by(BY_PASSKEY, now);
        let grant = self.open_session(user, auth, None, caller, now).await?;
        Ok((grant, device))
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
    ) -> Result<(User, &'static [Method]), LoginError> {
        let key = format!("reauth:{}", users::username_key(who.username));
        let counted = Counted::Username(&key);
        let id = UserRef::Id(who.user_id.to_owned());
        let check = async {
            let found = self.db.read(move |c| users::find(c, &id)).await?;
            match proof {
                Reauth::Password(password) => {
                    let (user, _) = self.check_password(found, password).await?;
                    Ok((user, BY_PASSWORD))
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
        self.checked(counted, caller, now, check).await
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
        let (user, methods) = self.reauthenticate(who, proof, caller, now).await?;
        let (sid, policy) = (who.session_id.to_owned(), self.sessions.policy());
        let event = Event::new(Kind::SteppedUp, caller, now)
            .user(&user)
            .session(&sid)
            .with("method", method_names(methods));
        let (session, event) = self
            .db
            .run(move |c| {
                db::write_tx(c, |c| {
                    let Some(session) = ledger::find_session(c, &sid)? else {
                        return Ok(None);
                    };
                    let auth = session.authentication().raised(methods, now);
                    let Some(session) = ledger::reauthenticate(c, &sid, &auth, &policy, now)?
                    else {
                        return Ok(None);
                    };
                    event.write(c)?;
                    Ok::<_, DbError>(Some((session, event)))
                })
            })
            .await?
            .ok_or(LoginError::InvalidCredentials)?;
        self.sessions.announce(Ending::said(vec![event]), now);
        Ok((user, session))
    }

    /// The one step every way in ends with: opens a session for `user`,
    /// authenticated as `auth` says, doing `also` in the same transaction
    /// (storing an upgraded password hash, or finishing a pending login),
    /// if the user may still log in; stores the login's events with it,
    /// then counts and logs them.
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
        let login_ok = match &also {
            Some(Also::Federated { provider, .. }) => {
                Event::new(Kind::OidcLogin, caller, now).with("provider", provider.as_str())
            }
            _ => Event::new(Kind::LoginOk, caller, now),
        }
        .with("amr", auth.stored_amr());
        let factor_ok = Event::new(Kind::SecondFactorOk, caller, now);
        let (grant, events) = self
            .db
            .run(move |conn| {
                db::write_tx(conn, |conn| {
                    let live = users::find_by_id(conn, &user.id)?.filter(|u| !u.disabled);
                    let Some(user) = live else {
                        return Err(LoginError::InvalidCredentials);
                    };
                    let mut events = Vec::with_capacity(2);
                    let done = match &also {
                        Some(Also::Rehash(hash)) => {
                            users::update_hash(conn, &user.id, hash, now)?;
                            true
                        }
                        Some(Also::ClaimPending(token, methods)) => {
                            events.push(factor_ok.with("method", method_names(methods)));
                            pending::claim(conn, token, now)?
                        }
                        Some(Also::Federated { .. }) | None => true,
                    };
                    if !done {
                        return Err(LoginError::InvalidCredentials);
                    }
                    let grant = ledger::issue(conn, &user, &auth, &client, &policy, now)?;
                    if let Some(Also::Federated { provider, sid }) = &also {
                        oidc::mark_session(conn, &grant.session.id, provider, sid.as_deref())?;
                    }
                    events.push(login_ok);
                    let events: Vec<Event> = events
                        .into_iter()
                        .map(|e| e.user(&grant.user).session(&grant.session.id))
                        .collect();
                    events::write_all(conn, &events)?;
                    Ok((grant, events))
                })
            })
            .await?;
        self.metrics.login(LoginOutcome::Ok);
        self.sessions.announce(Ending::said(events), now);
        Ok(grant)
    }

    /// Forgets login counts whose window has passed, and pending logins
    /// and WebAuthn ceremonies long over (none can refuse or finish
    /// anything any more).
    pub async fn purge(&self, now: DateTime<Utc>) -> Result<(), DbError> {
        self.throttle.purge_stale(&self.db, now).await?;
        let before = now - pending::LIFETIME;
        self.db.run(move |c| pending::purge(c, before)).await?;
        let before = now - ceremonies::LIFETIME;
        self.db.run(move |c| ceremonies::purge(c, before)).await?;
        Ok(())
    }

    /// Runs `check` as one counted attempt in the throttle buckets of
    /// `counted` (a username's and the caller's address, or a known
    /// device's): refused before it runs when one is over its limit,
    /// settled after with what it found.
    async fn checked<T>(
        &self,
        counted: Counted<'_>,
        caller: &Caller,
        now: DateTime<Utc>,
        check: impl Future<Output = Result<T, LoginError>>,
    ) -> Result<T, LoginError> {
        let addr = caller.addr.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        let attempt = self.throttle.begin(&self.db, counted, addr, now).await?;
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

    /// The event of a refused password login: naming the user when one has
    /// that name (found by the check, or looked up now for an attempt the
    /// throttle refused before any check), else only a keyed hash of what
    /// was typed.
    async fn failed_login(
        &self,
        username: &str,
        known: Option<User>,
        e: &LoginError,
        caller: &Caller,
        now: DateTime<Utc>,
    ) -> Event {
        let unchecked = matches!(
            e,
            LoginError::Throttled {
                remembered: false,
                ..
            }
        );
        let known = match known {
            None if unchecked && is_valid_username(username) => {
                let name = username.to_owned();
                let found = self.db.read(move |c| users::find_by_username(c, &name));
                found.await.ok().flatten().map(|f| f.user)
            }
            known => known,
        };
        let event = Event::new(Kind::LoginFailed, caller, now);
        match &known {
            Some(user) => event.user(user),
            None => event.with("username_unknown", self.devices.tag(username)),
        }
    }

    /// The device id of `cookie` when it is a device cookie the gateway
    /// made for `username_key` and is not too old.
    fn trusted_device(
        &self,
        username_key: &str,
        cookie: Option<&str>,
        now: DateTime<Utc>,
    ) -> Option<String> {
        self.devices.device_of(cookie?, username_key, now)
    }

    /// Counts a refused login and says it: `event` (a failed login or a
    /// failed second step) when the credentials were wrong, a throttled
    /// login when it was refused uncounted. A refusal remembered in memory
    /// is logged but not stored again: the database refusal that started
    /// it was. Storing is best effort: the answer is the refusal anyway.
    async fn refused(&self, e: &LoginError, event: Event, now: DateTime<Utc>) {
        let (outcome, event) = match e {
            LoginError::InvalidCredentials => (LoginOutcome::Invalid, Some((event, true))),
            LoginError::Throttled { remembered, .. } => {
                let event = event.retyped(Kind::LoginThrottled);
                (LoginOutcome::Throttled, Some((event, !remembered)))
            }
            LoginError::Busy => (LoginOutcome::Throttled, None),
            LoginError::Hash(_) | LoginError::Db(_) => return,
        };
        self.metrics.login(outcome);
        let Some((event, store)) = event else {
            return;
        };
        if !store {
            return event.log();
        }
        let stored = event.clone();
        match self.db.run(move |c| stored.write(c)).await {
            Ok(()) => self.sessions.announce(Ending::said(vec![event]), now),
            Err(e) => {
                log::warn!("storing a {} event failed: {e}", event.kind().as_str());
                event.log();
            }
        }
    }
}

/// What opening a session also does, in its transaction.
#[derive(Debug)]
pub enum Also {
    /// Stores this stronger hash of the password just checked.
    Rehash(String),
    /// Finishes the pending login of this `mfa_token`, whose second step
    /// used these methods, or opens nothing.
    ClaimPending(String, &'static [Method]),
    /// Notes the OpenID Provider (by id) that signed the user in, and its
    /// session id `sid`, for its back-channel logout.
    Federated {
        provider: String,
        sid: Option<String>,
    },
}

/// How a password authenticates.
const BY_PASSWORD: &[Method] = &[Method::Pwd];

/// How an event names the methods of a step: `otp`, `hwk,user`.
fn method_names(methods: &[Method]) -> String {
    let names: Vec<&str> = methods.iter().map(|m| m.as_str()).collect();
    names.join(",")
}

/// The password check itself, on a hashing thread: the user found, or the
/// dummy hash when none was; a disabled user fails like a wrong password.
fn check_password(
    hasher: &mut Hasher,
    found: Option<Credentials>,
    password: &Password,
) -> Option<(User, Option<String>)> {
    // a federated user without a password takes as long as an unknown one
    let Some(found) = found.filter(|f| f.password_hash != users::NO_PASSWORD) else {
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
