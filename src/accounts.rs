//! Account use cases, shared by the HTTP routes, the command line and the
//! demo, each assembled once here: create an account, set a password (an
//! operator's) or change one's own, disable or enable, set roles, end
//! every session of a user. The rules "disabling ends every session", "a
//! new password ends the other sessions" and "an admin cannot lock
//! themselves out" are written here once; every write is one transaction,
//! and the sessions it ends are announced by the sessions service.
//!
//! Hashing runs on the [`HashGate`]'s pool with no database connection
//! held. Knows nothing of HTTP; callers pass `now`.

use chrono::{DateTime, Utc};

use crate::auth::hash_pool::{Busy, HashGate};
use crate::auth::password::{self, HashError, Password};
use crate::auth::user::{USERNAME_RULE, is_valid_username};
use crate::auth::{Role, Roles, User};
use crate::db::ledger::{EndReason, Which};
use crate::db::users::{self, UserRef};
use crate::db::{self, Conn, Db, DbError};
use crate::events::{Caller, Event, Kind};
use crate::login::{Login, LoginError, Reauth, Signed};
use crate::sessions::{Ending, Sessions, end_in};

/// Why an account operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// A username or password of the wrong shape; the text says which.
    #[error("{0}")]
    InvalidInput(String),
    #[error("the username is taken")]
    UsernameTaken,
    #[error("no such user")]
    UnknownUser,
    /// Checking the current password failed (see [`LoginError`]).
    #[error(transparent)]
    Login(#[from] LoginError),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<Busy> for AccountError {
    fn from(e: Busy) -> Self {
        AccountError::Login(e.into())
    }
}

impl From<HashError> for AccountError {
    fn from(e: HashError) -> Self {
        AccountError::Login(e.into())
    }
}

impl From<diesel::result::Error> for AccountError {
    fn from(e: diesel::result::Error) -> Self {
        AccountError::Db(e.into())
    }
}

/// Usernames: 3–32 of `[A-Za-z0-9_.-]`.
pub(crate) fn validate_username(username: &str) -> Result<(), AccountError> {
    if is_valid_username(username) {
        Ok(())
    } else {
        Err(AccountError::InvalidInput(USERNAME_RULE.into()))
    }
}

/// Passwords: 8–256 characters, taken exactly as sent.
pub(crate) fn validate_password(password: &str) -> Result<(), AccountError> {
    if password::is_valid_new(password) {
        Ok(())
    } else {
        Err(AccountError::InvalidInput(format!(
            "A password is {} to {} characters.",
            password::MIN_LEN,
            password::MAX_LEN
        )))
    }
}

/// The account use cases; cloning shares them.
#[derive(Clone)]
pub struct Accounts {
    db: Db,
    hashing: HashGate,
    login: Login,
    sessions: Sessions,
}

impl Accounts {
    pub fn new(db: Db, hashing: HashGate, login: Login, sessions: Sessions) -> Self {
        Self {
            db,
            hashing,
            login,
            sessions,
        }
    }

    /// Creates an account: the name and password are checked, the password
    /// hashed, the user stored. A taken name (in any letter case) is
    /// [`AccountError::UsernameTaken`].
    pub async fn register(
        &self,
        username: &str,
        password: Password,
        roles: Roles,
        caller: &Caller,
        now: DateTime<Utc>,
    ) -> Result<User, AccountError> {
        validate_username(username)?;
        let hash = self.hash_new(password).await?;
        let (name, by) = (username.to_owned(), caller.clone());
        let (user, event) = self
            .db
            .run(move |c| {
                db::write_tx(c, |c| {
                    let user = create(c, &name, &hash, &roles, now)?;
                    let event = Event::new(Kind::UserCreated, &by, now)
                        .user(&user)
                        .with("roles", user.roles.to_string());
                    event.write(c)?;
                    Ok::<_, AccountError>((user, event))
                })
            })
            .await?;
        self.sessions.announce(Ending::said(vec![event]), now);
        Ok(user)
    }

    /// Sets a new password chosen by an operator: every session of the
    /// user ends.
    pub async fn set_password(
        &self,
        who: UserRef,
        password: Password,
        caller: &Caller,
        now: DateTime<Utc>,
    ) -> Result<User, AccountError> {
        let hash = self.hash_new(password).await?;
        self.store_password(who, hash, None, caller, now).await
    }

    /// Changes the caller's own password: the current one is checked
    /// (counted like a login, see [`Login::reauthenticate`]), then the new
    /// one stored and every session but `keep` (the caller's) ends.
    #[expect(clippy::too_many_arguments, reason = "each is one fact of the request")]
    pub(crate) async fn change_password(
        &self,
        user_id: &str,
        username: &str,
        keep: &str,
        current: Password,
        new: Password,
        caller: &Caller,
        now: DateTime<Utc>,
    ) -> Result<(), AccountError> {
        validate_password(new.expose())?;
        let who = Signed {
            user_id,
            username,
            session_id: keep,
        };
        let reauth = Reauth::Password(current);
        let (user, _) = self.login.reauthenticate(who, reauth, caller, now).await?;
        let hash = self.hash_new(new).await?;
        let keep = Some(keep.to_owned());
        self.store_password(UserRef::Id(user.id), hash, keep, caller, now)
            .await?;
        Ok(())
    }

    /// Disables (ending every session) or enables a user, on behalf of
    /// the admin `actor` if one acts, who may not disable themselves.
    pub async fn set_disabled(
        &self,
        who: UserRef,
        disabled: bool,
        actor: Option<&User>,
        caller: &Caller,
        now: DateTime<Utc>,
    ) -> Result<User, AccountError> {
        if disabled && acts_on_self(actor, &who) {
            return Err(AccountError::InvalidInput(
                "You cannot disable your own account.".into(),
            ));
        }
        let (policy, by, actor) = (self.sessions.policy(), caller.clone(), name_of(actor));
        let kind = if disabled {
            Kind::UserDisabled
        } else {
            Kind::UserEnabled
        };
        let (user, event, ending) = self
            .db
            .run(move |c| {
                db::write_tx(c, |c| {
                    let user = found(c, &who)?;
                    users::set_disabled(c, &user.id, disabled, now)?;
                    let event = Event::new(kind, &by, now)
                        .user(&user)
                        .actor(actor.as_deref());
                    event.write(c)?;
                    let ending = if disabled {
                        let reason = EndReason::UserDisabled;
                        let actor = actor.as_deref();
                        end_in(
                            c,
                            &Which::all_of(&user.id, None),
                            reason,
                            &policy,
                            &by,
                            actor,
                            now,
                        )?
                    } else {
                        Ending::default()
                    };
                    Ok::<_, AccountError>((User { disabled, ..user }, event, ending))
                })
            })
            .await?;
        self.sessions.announce(ending.after(event), now);
        Ok(user)
    }

    /// Replaces a user's roles (they reach access tokens from the next
    /// refresh), on behalf of the admin `actor` if one acts, who may not
    /// remove their own `admin` role.
    pub async fn set_roles(
        &self,
        who: UserRef,
        roles: Roles,
        actor: Option<&User>,
        caller: &Caller,
        now: DateTime<Utc>,
    ) -> Result<User, AccountError> {
        if acts_on_self(actor, &who) && !roles.contains(Role::Admin) {
            return Err(AccountError::InvalidInput(
                "You cannot remove your own admin role.".into(),
            ));
        }
        let (by, actor) = (caller.clone(), name_of(actor));
        let (user, event) = self
            .db
            .run(move |c| {
                db::write_tx(c, |c| {
                    let user = found(c, &who)?;
                    users::set_roles(c, &user.id, &roles, now)?;
                    let event = Event::new(Kind::RolesChanged, &by, now)
                        .user(&user)
                        .with("roles", roles.to_string())
                        .actor(actor.as_deref());
                    event.write(c)?;
                    Ok::<_, AccountError>((User { roles, ..user }, event))
                })
            })
            .await?;
        self.sessions.announce(Ending::said(vec![event]), now);
        Ok(user)
    }

    /// Ends every session of a user, for `reason`, on behalf of `actor`
    /// (an admin) if one acts. A user who does not exist has none.
    pub(crate) async fn end_all_sessions(
        &self,
        who: UserRef,
        reason: EndReason,
        actor: Option<&User>,
        caller: &Caller,
        now: DateTime<Utc>,
    ) -> Result<(), AccountError> {
        let user = self.db.read(move |c| found(c, &who)).await?;
        let which = Which::AllOf {
            user_id: user.id,
            keep: None,
        };
        let by = actor.map(|a| a.username.as_str());
        self.sessions.end(which, reason, caller, by, now).await?;
        Ok(())
    }

    /// Hashes a new password on the pool, once it is of the right shape.
    async fn hash_new(&self, password: Password) -> Result<String, AccountError> {
        validate_password(password.expose())?;
        Ok(self
            .hashing
            .run(move |h| h.hash(password.expose()))
            .await??)
    }

    /// Stores a password hash and ends every session of the user but
    /// `keep`, in one transaction.
    async fn store_password(
        &self,
        who: UserRef,
        hash: String,
        keep: Option<String>,
        caller: &Caller,
        now: DateTime<Utc>,
    ) -> Result<User, AccountError> {
        let (policy, by) = (self.sessions.policy(), caller.clone());
        let (user, event, ending) = self
            .db
            .run(move |c| {
                db::write_tx(c, |c| {
                    let user = found(c, &who)?;
                    users::update_hash(c, &user.id, &hash, now)?;
                    let event = Event::new(Kind::PasswordChanged, &by, now).user(&user);
                    event.write(c)?;
                    let reason = EndReason::PasswordChanged;
                    let all = Which::all_of(&user.id, keep);
                    let ending = end_in(c, &all, reason, &policy, &by, None, now)?;
                    Ok::<_, AccountError>((user, event, ending))
                })
            })
            .await?;
        self.sessions.announce(ending.after(event), now);
        Ok(user)
    }
}

/// The admin's name, for their events.
fn name_of(actor: Option<&User>) -> Option<String> {
    actor.map(|a| a.username.clone())
}

/// Whether the admin `actor` acts on their own account.
fn acts_on_self(actor: Option<&User>, who: &UserRef) -> bool {
    actor.is_some_and(|a| *who == UserRef::Id(a.id.clone()))
}

/// Creates an account with an already hashed password, as a unique
/// username (in any letter case).
fn create(
    conn: &mut Conn,
    username: &str,
    password_hash: &str,
    roles: &Roles,
    now: DateTime<Utc>,
) -> Result<User, AccountError> {
    users::create(conn, username, password_hash, roles, now).map_err(|e| {
        if db::is_unique_violation(&e) {
            AccountError::UsernameTaken
        } else {
            e.into()
        }
    })
}

/// The user `who` names, or [`AccountError::UnknownUser`].
fn found(conn: &mut Conn, who: &UserRef) -> Result<User, AccountError> {
    users::find(conn, who)?
        .map(|c| c.user)
        .ok_or(AccountError::UnknownUser)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::authn::{Authentication, Method};
    use crate::db::ledger;
    use crate::services::Services;

    /// The caller of the unit tests: no address, no agent.
    static NOBODY: std::sync::LazyLock<Caller> = std::sync::LazyLock::new(Caller::default);

    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    struct Fixture {
        services: Services,
        db: Db,
        _dir: tempfile::TempDir,
    }

    fn fixture() -> Fixture {
        let (db, dir) = crate::db::temp_db();
        Fixture {
            services: Services::standalone(&db, None, t0()).unwrap(),
            db,
            _dir: dir,
        }
    }

    impl Fixture {
        async fn user(&self, name: &str, roles: &[Role]) -> User {
            let roles = Roles::new(roles.iter().copied());
            let pw = Password::new("a fine password".into());
            self.services
                .accounts
                .register(name, pw, roles, &NOBODY, t0())
                .await
                .unwrap()
        }

        async fn session(&self, user: &User) -> String {
            let (user, auth) = (user.clone(), Authentication::by(&[Method::Pwd], t0()));
            let grant = self
                .services
                .login
                .open_session(user, auth, None, &NOBODY, t0());
            grant.await.unwrap().session.id
        }

        fn live(&self, id: &str) -> bool {
            let id = id.to_owned();
            let session = self.db.with_conn(|c| ledger::find_session(c, &id));
            session.unwrap().unwrap().revoked_at.is_none()
        }
    }

    #[actix_web::test]
    async fn a_taken_name_in_any_case_is_username_taken() {
        let f = fixture();
        f.user("alice", &[]).await;
        let pw = Password::new("another password".into());
        let again = f
            .services
            .accounts
            .register("ALICE", pw, Roles::new([]), &NOBODY, t0());
        assert!(matches!(again.await, Err(AccountError::UsernameTaken)));
    }

    #[actix_web::test]
    async fn disabling_ends_every_session_and_enabling_ends_none() {
        let f = fixture();
        let user = f.user("bob", &[]).await;
        let (a, b) = (f.session(&user).await, f.session(&user).await);
        let accounts = &f.services.accounts;
        let by_name = UserRef::Name("BOB".into());
        let disabled = accounts.set_disabled(by_name, true, None, &NOBODY, t0());
        assert!(disabled.await.unwrap().disabled);
        assert!(!f.live(&a) && !f.live(&b));
        let (user, auth) = (user.clone(), Authentication::by(&[Method::Pwd], t0()));
        let refused = f
            .services
            .login
            .open_session(user.clone(), auth, None, &NOBODY, t0());
        assert!(
            matches!(refused.await, Err(LoginError::InvalidCredentials)),
            "no session opens for a disabled user"
        );
        let by_id = UserRef::Id(user.id.clone());
        let enabled = accounts.set_disabled(by_id.clone(), false, None, &NOBODY, t0());
        assert!(!enabled.await.unwrap().disabled);
        let c = f.session(&user).await;
        let again = accounts.set_disabled(by_id, false, None, &NOBODY, t0());
        again.await.unwrap();
        assert!(f.live(&c), "enabling ends no session");
    }

    #[actix_web::test]
    async fn a_new_password_ends_the_other_sessions_only() {
        let f = fixture();
        let user = f.user("carol", &[]).await;
        let (mine, other) = (f.session(&user).await, f.session(&user).await);
        let changed = f.services.accounts.change_password(
            &user.id,
            "carol",
            &mine,
            Password::new("a fine password".into()),
            Password::new("a finer password".into()),
            &NOBODY,
            t0(),
        );
        changed.await.unwrap();
        assert!(f.live(&mine));
        assert!(!f.live(&other));
    }

    #[actix_web::test]
    async fn a_wrong_current_password_changes_nothing() {
        let f = fixture();
        let user = f.user("dora", &[]).await;
        let other = f.session(&user).await;
        let changed = f.services.accounts.change_password(
            &user.id,
            "dora",
            "",
            Password::new("not the password".into()),
            Password::new("a finer password".into()),
            &NOBODY,
            t0(),
        );
        assert!(matches!(
            changed.await,
            Err(AccountError::Login(LoginError::InvalidCredentials))
        ));
        assert!(f.live(&other));
    }

    #[actix_web::test]
    async fn an_admin_cannot_lock_themselves_out() {
        let f = fixture();
        let admin = f.user("root", &[Role::Admin]).await;
        let other = f.user("dave", &[Role::Admin]).await;
        let (accounts, me) = (&f.services.accounts, UserRef::Id(admin.id.clone()));
        let caller = &*NOBODY;
        let r = accounts.set_disabled(me.clone(), true, Some(&admin), caller, t0());
        assert!(matches!(r.await, Err(AccountError::InvalidInput(_))));
        let editor = Roles::new([Role::Editor]);
        let r = accounts.set_roles(me.clone(), editor, Some(&admin), caller, t0());
        assert!(matches!(r.await, Err(AccountError::InvalidInput(_))));
        // keeping admin, enabling oneself, or acting on another admin is fine
        let keep = Roles::new([Role::Admin]);
        let r = accounts.set_roles(me.clone(), keep, Some(&admin), caller, t0());
        assert!(r.await.is_ok());
        let r = accounts.set_disabled(me, false, Some(&admin), caller, t0());
        assert!(r.await.is_ok());
        let them = UserRef::Id(other.id.clone());
        let r = accounts.set_disabled(them, true, Some(&admin), caller, t0());
        assert!(r.await.unwrap().disabled);
    }

    #[actix_web::test]
    async fn unknown_users_are_reported_not_created() {
        let f = fixture();
        let r = f.services.accounts.set_roles(
            UserRef::Name("nobody".into()),
            Roles::new([Role::Admin]),
            None,
            &NOBODY,
            t0(),
        );
        assert!(matches!(r.await, Err(AccountError::UnknownUser)));
    }
}
