//! The second-factors service (contract §9): a user's TOTP (set up,
//! confirmed with a code, removed), recovery codes (ten at a time, shown
//! once, each good once) and passkeys ([`passkeys`]: registered, named,
//! removed, and the ceremonies that use them), and the one check every
//! second factor goes through, [`Factors::verify`]. A TOTP seed is sealed before it is stored
//! ([`SealKey`], bound to its user) and opened only to check a code;
//! without an encryption key TOTP is not offered. Adding or removing a
//! factor ends every other session of the user ([`EndReason::FactorsChanged`]),
//! in the same transaction as the change.
//!
//! Knows nothing of HTTP; callers pass `now`.

pub mod passkeys;

use chrono::{DateTime, Utc};

use crate::auth::User;
use crate::auth::authn::Method;
use crate::auth::passkey::RelyingParty;
use crate::auth::recovery;
use crate::auth::seal::SealKey;
use crate::auth::totp::{self, TotpSecret};
use crate::db::ledger::{EndReason, Which};
use crate::db::{self, Conn, Db, DbError, factors, passkeys as passkey_rows, users};
use crate::events::{Caller, Event, Kind};
use crate::sessions::{Ending, Sessions, end_in};

/// Why a factor operation did not happen.
#[derive(Debug, thiserror::Error)]
pub enum FactorError {
    /// TOTP needs `PORTCULLIS_ENCRYPTION_KEY_FILE`, which is not set.
    #[error("TOTP is not offered by this gateway")]
    NotOffered,
    /// Confirming, with no TOTP set up.
    #[error("no TOTP is set up")]
    NothingPending,
    /// Removing TOTP the user does not have.
    #[error("no TOTP is enabled")]
    NotEnabled,
    /// Passkeys need `PORTCULLIS_PUBLIC_URL`, which is not set.
    #[error("passkeys are not offered by this gateway")]
    PasskeysNotOffered,
    /// A passkey the user does not have.
    #[error("no such passkey")]
    NoPasskey,
    /// A registration whose ceremony is spent or over, or whose answer
    /// the relying party refused (or a credential registered already).
    #[error("the passkey was not accepted")]
    PasskeyRefused,
    /// A passkey's name: 1 to 64 characters.
    #[error("a passkey's name has 1 to 64 characters")]
    BadName,
    /// Recovery codes for a user with no second factor.
    #[error("there is no second factor to recover")]
    NoFactor,
    /// A reset for a user who does not exist.
    #[error("no such user")]
    UnknownUser,
    /// The code is not one the factor accepts now.
    #[error("the code is not right")]
    WrongCode,
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for FactorError {
    fn from(e: diesel::result::Error) -> Self {
        FactorError::Db(e.into())
    }
}

/// What proves the second factor.
#[derive(Debug, Clone)]
pub enum Proof {
    Totp(String),
    RecoveryCode(String),
    /// An assertion (the `PublicKeyCredential` as JSON) for a ceremony the
    /// user began ([`Factors::begin_assertion`]).
    Passkey {
        ceremony: String,
        credential: serde_json::Value,
    },
}

/// How a code authenticates (RFC 8176).
pub const BY_CODE: &[Method] = &[Method::Otp];
/// How a passkey authenticates: possession and the user's verification.
pub const BY_PASSKEY: &[Method] = &[Method::Hwk, Method::User];

/// A user's factors, as `GET /auth/mfa` tells them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub totp: bool,
    pub totp_available: bool,
    pub passkeys: Vec<passkeys::PasskeyInfo>,
    pub passkeys_available: bool,
    pub recovery_codes_left: i64,
}

/// A TOTP setup: what an authenticator app needs.
#[derive(Debug)]
pub struct Setup {
    /// The seed in base32.
    pub secret: String,
    pub otpauth_uri: String,
    pub qr_svg: String,
}

/// The second-factors service; cloning shares it.
#[derive(Clone)]
pub struct Factors {
    db: Db,
    seal: Option<SealKey>,
    /// The issuer authenticator apps show beside the account.
    issuer: String,
    /// Checks passkeys; without it passkeys are not offered.
    rp: Option<RelyingParty>,
    sessions: Sessions,
}

impl Factors {
    pub fn new(
        db: Db,
        seal: Option<SealKey>,
        issuer: String,
        rp: Option<RelyingParty>,
        sessions: Sessions,
    ) -> Self {
        Self {
            db,
            seal,
            issuer,
            rp,
            sessions,
        }
    }

    /// Whether TOTP is offered (an encryption key is configured).
    pub fn totp_offered(&self) -> bool {
        self.seal.is_some()
    }

    pub async fn status(&self, user_id: &str) -> Result<Status, FactorError> {
        let id = user_id.to_owned();
        let (row, keys, left) = self
            .db
            .read(move |c| {
                let row = factors::totp(c, &id)?;
                let keys = passkey_rows::of_user(c, &id)?;
                Ok::<_, DbError>((row, keys, factors::codes_left(c, &id)?))
            })
            .await?;
        Ok(Status {
            totp: row.is_some_and(|r| r.secret.is_some()),
            totp_available: self.totp_offered(),
            passkeys: keys.iter().map(passkeys::PasskeyInfo::from).collect(),
            passkeys_available: self.passkeys_offered(),
            recovery_codes_left: left,
        })
    }

    /// The second-step methods the user can log in with (contract names):
    /// empty for a user without a second factor.
    pub async fn methods(&self, user_id: &str) -> Result<Vec<&'static str>, FactorError> {
        let status = self.status(user_id).await?;
        let mut methods = Vec::new();
        if status.totp {
            methods.push("totp");
        }
        if !status.passkeys.is_empty() && self.passkeys_offered() {
            methods.push("passkey");
        }
        if !methods.is_empty() && status.recovery_codes_left > 0 {
            methods.push("recovery_code");
        }
        Ok(methods)
    }

    /// Sets up a new TOTP seed for the user, pending until a code confirms
    /// it (a new setup replaces a pending one).
    pub async fn set_up_totp(
        &self,
        user_id: &str,
        username: &str,
        now: DateTime<Utc>,
    ) -> Result<Setup, FactorError> {
        let seal = self.seal.as_ref().ok_or(FactorError::NotOffered)?;
        let secret = TotpSecret::generate();
        let sealed = seal
            .seal(secret.expose(), &context(user_id))
            .ok_or(FactorError::NotOffered)?;
        let uri = secret
            .otpauth_uri(&self.issuer, username)
            .ok_or(FactorError::NotOffered)?;
        let qr_svg = totp::qr_svg(&uri).ok_or(FactorError::NotOffered)?;
        let id = user_id.to_owned();
        self.db
            .run(move |c| factors::set_pending(c, &id, &sealed, now))
            .await?;
        Ok(Setup {
            secret: secret.base32(),
            otpauth_uri: uri,
            qr_svg,
        })
    }

    /// Confirms the pending TOTP with a code of it: TOTP is on, ten new
    /// recovery codes (returned, shown once) replace any old ones, and
    /// every session of the user but `keep` ends.
    pub async fn confirm_totp(
        &self,
        user_id: &str,
        code: &str,
        keep: &str,
        caller: &Caller,
        now: DateTime<Utc>,
    ) -> Result<Vec<String>, FactorError> {
        let seal = self.seal.as_ref().ok_or(FactorError::NotOffered)?;
        let id = user_id.to_owned();
        let row = self.db.read(move |c| factors::totp(c, &id)).await?;
        let sealed = row
            .and_then(|r| r.pending_secret)
            .ok_or(FactorError::NothingPending)?;
        let secret = open(seal, &sealed, user_id).ok_or(FactorError::NothingPending)?;
        let step = step_of(&secret, code, now).ok_or(FactorError::WrongCode)?;
        let codes = recovery::generate();
        let hashes = hashes_of(&codes);
        let (id, change) = (
            user_id.to_owned(),
            Change::new(Kind::FactorAdded, "totp", caller),
        );
        let keep = Some(keep.to_owned());
        self.change(user_id, change, keep, now, move |c| {
            if !factors::confirm(c, &id, &sealed, step, now)? {
                return Err(FactorError::NothingPending);
            }
            Ok(factors::replace_codes(c, &id, &hashes, now)?)
        })
        .await?;
        Ok(codes)
    }

    /// Removes the user's TOTP (and, when it was their last second factor,
    /// their recovery codes); every session but `keep` ends.
    pub async fn remove_totp(
        &self,
        user_id: &str,
        keep: &str,
        caller: &Caller,
        now: DateTime<Utc>,
    ) -> Result<(), FactorError> {
        let (id, change) = (
            user_id.to_owned(),
            Change::new(Kind::FactorRemoved, "totp", caller),
        );
        let keep = Some(keep.to_owned());
        self.change(user_id, change, keep, now, move |c| {
            let enabled = factors::totp(c, &id)?.is_some_and(|r| r.secret.is_some());
            if !enabled {
                return Err(FactorError::NotEnabled);
            }
            factors::remove_totp(c, &id)?;
            codes_die_with_the_last_factor(c, &id)
        })
        .await
    }

    /// Ten new recovery codes for a user with a second factor; the old
    /// ones die.
    pub async fn new_recovery_codes(
        &self,
        user_id: &str,
        caller: &Caller,
        now: DateTime<Utc>,
    ) -> Result<Vec<String>, FactorError> {
        if self.methods(user_id).await?.is_empty() {
            return Err(FactorError::NoFactor);
        }
        let codes = recovery::generate();
        let (id, hashes, by) = (user_id.to_owned(), hashes_of(&codes), caller.clone());
        let event = self
            .db
            .run(move |c| {
                db::write_tx(c, |c| {
                    factors::replace_codes(c, &id, &hashes, now)?;
                    let event = Event::new(Kind::FactorAdded, &by, now)
                        .user_id(&id)
                        .with("factor", "recovery_codes");
                    event.write(c)?;
                    Ok::<_, DbError>(event)
                })
            })
            .await?;
        self.sessions.announce(Ending::said(vec![event]), now);
        Ok(codes)
    }

    /// Removes every factor of a user (an admin's reset for a lost
    /// phone, on behalf of `actor` when one acts); every session of theirs
    /// ends.
    pub async fn reset(
        &self,
        user_id: &str,
        actor: Option<&User>,
        caller: &Caller,
        now: DateTime<Utc>,
    ) -> Result<(), FactorError> {
        let id = user_id.to_owned();
        let mut change = Change::new(Kind::FactorRemoved, "all", caller);
        change.actor = actor.map(|a| a.username.clone());
        self.change(user_id, change, None, now, move |c| {
            if users::find_by_id(c, &id)?.is_none() {
                return Err(FactorError::UnknownUser);
            }
            factors::remove_totp(c, &id)?;
            passkey_rows::remove_all(c, &id)?;
            Ok(factors::remove_codes(c, &id)?)
        })
        .await
    }

    /// Checks a second factor of `user_id`, spending what it spends: a
    /// TOTP code's step (a code works once), a recovery code, a passkey
    /// ceremony (and its counter moves on). `None` is a wrong code (or a
    /// replayed one, or a factor the user lacks); else how it
    /// authenticated.
    pub async fn verify(
        &self,
        user_id: &str,
        proof: &Proof,
        now: DateTime<Utc>,
    ) -> Result<Option<&'static [Method]>, FactorError> {
        let id = user_id.to_owned();
        match proof {
            Proof::Totp(code) => {
                let Some(seal) = &self.seal else {
                    return Ok(None);
                };
                let row = self.db.read(move |c| factors::totp(c, &id)).await?;
                let Some(sealed) = row.and_then(|r| r.secret) else {
                    return Ok(None);
                };
                let step = open(seal, &sealed, user_id).and_then(|s| step_of(&s, code, now));
                let Some(step) = step else {
                    return Ok(None);
                };
                let id = user_id.to_owned();
                let fresh = self
                    .db
                    .run(move |c| factors::accept_step(c, &id, step))
                    .await?;
                Ok(fresh.then_some(BY_CODE))
            }
            Proof::RecoveryCode(code) => {
                let Some(normal) = recovery::normalize(code) else {
                    return Ok(None);
                };
                let hash = recovery::hash(&normal);
                let spent = self
                    .db
                    .run(move |c| factors::spend_code(c, &id, &hash, now))
                    .await?;
                Ok(spent.then_some(BY_CODE))
            }
            Proof::Passkey {
                ceremony,
                credential,
            } => {
                let asserted = self
                    .finish_assertion(Some(user_id), ceremony, credential, now)
                    .await?;
                Ok(asserted.map(|_| BY_PASSKEY))
            }
        }
    }

    /// Runs `apply`, a change of the user's factors, in one transaction
    /// with its event and the end of every session of the user but `keep`;
    /// once it committed, the event is logged and the ending announced.
    async fn change<T: Send + 'static>(
        &self,
        user_id: &str,
        change: Change,
        keep: Option<String>,
        now: DateTime<Utc>,
        apply: impl FnOnce(&mut Conn) -> Result<T, FactorError> + Send + 'static,
    ) -> Result<T, FactorError> {
        let (id, policy) = (user_id.to_owned(), self.sessions.policy());
        let (done, event, ending) = self
            .db
            .run(move |c| {
                db::write_tx(c, |c| {
                    let done = apply(c)?;
                    let Change {
                        kind,
                        factor,
                        caller,
                        actor,
                    } = change;
                    let event = Event::new(kind, &caller, now)
                        .user_id(&id)
                        .with("factor", factor)
                        .actor(actor.as_deref());
                    event.write(c)?;
                    let actor = actor.as_deref();
                    let all = Which::all_of(&id, keep);
                    let ending = end_in(c, &all, CHANGED, &policy, &caller, actor, now)?;
                    Ok::<_, FactorError>((done, event, ending))
                })
            })
            .await?;
        self.sessions.announce(ending.after(event), now);
        Ok(done)
    }
}

/// A change of a user's factors, as its event says it.
struct Change {
    kind: Kind,
    factor: &'static str,
    caller: Caller,
    /// The admin who made it, if one did.
    actor: Option<String>,
}

impl Change {
    fn new(kind: Kind, factor: &'static str, caller: &Caller) -> Self {
        Self {
            kind,
            factor,
            caller: caller.clone(),
            actor: None,
        }
    }
}

/// Why the sessions a factor change ends, end.
const CHANGED: EndReason = EndReason::FactorsChanged;

/// What a sealed seed is bound to: its purpose and its user.
fn context(user_id: &str) -> Vec<u8> {
    format!("portcullis totp seed:{user_id}").into_bytes()
}

fn open(seal: &SealKey, sealed: &str, user_id: &str) -> Option<TotpSecret> {
    seal.open(sealed, &context(user_id))
        .map(TotpSecret::from_bytes)
}

/// The step `code` belongs to at `now`, as stored.
fn step_of(secret: &TotpSecret, code: &str, now: DateTime<Utc>) -> Option<i32> {
    let secs = u64::try_from(now.timestamp()).ok()?;
    i32::try_from(secret.matching_step(code, secs)?).ok()
}

/// Recovery codes back up a second factor: they go when the last one does.
fn codes_die_with_the_last_factor(c: &mut Conn, user_id: &str) -> Result<(), FactorError> {
    let totp = factors::totp(c, user_id)?.is_some_and(|r| r.secret.is_some());
    if !totp && passkey_rows::of_user(c, user_id)?.is_empty() {
        factors::remove_codes(c, user_id)?;
    }
    Ok(())
}

fn hashes_of(codes: &[String]) -> Vec<String> {
    codes
        .iter()
        .filter_map(|c| recovery::normalize(c))
        .map(|n| recovery::hash(&n))
        .collect()
}
