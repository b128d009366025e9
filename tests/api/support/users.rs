//! Users made and changed behind the gateway's back: straight in the
//! database, or through the account use cases as the CLI runs them. The
//! suite's one door to the library's account functions (`services`,
//! `db::users`, `auth::password`): when one of their signatures changes,
//! only this file does.

use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use portcullis::accounts::Accounts;
use portcullis::auth::password::{self, Password};
use portcullis::auth::{Role, Roles, User};
use portcullis::db::Db;
use portcullis::db::users::{self, UserRef};
use portcullis::events::Caller;
use portcullis::services::Services;

use super::{PASSWORD, TestApp};

/// An argon2 hash of `password`, as the gateway stores one.
fn hash(password: &str) -> String {
    password::hash(password).unwrap()
}

/// The hash of [`PASSWORD`], computed once: argon2 is slow on purpose.
fn password_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| hash(PASSWORD))
}

/// Creates `name` with [`PASSWORD`] and `roles` (for gateways the test does
/// not run in-process).
pub fn create_user(db: &Db, name: &str, roles: &[Role], now: DateTime<Utc>) -> User {
    create_user_with_hash(db, name, password_hash(), roles, now)
}

/// Creates `name` with an already computed password `hash`.
pub fn create_user_with_hash(
    db: &Db,
    name: &str,
    hash: &str,
    roles: &[Role],
    now: DateTime<Utc>,
) -> User {
    let roles = Roles::new(roles.iter().copied());
    db.with_conn(|c| users::create(c, name, hash, &roles, now))
        .unwrap()
}

impl TestApp {
    /// Creates a user directly in the database, with [`PASSWORD`].
    pub fn add_user(&self, name: &str, roles: &[Role]) -> User {
        create_user(&self.db, name, roles, self.clock.now())
    }

    /// Creates a user directly in the database with the password `hash`.
    pub fn add_user_with_hash(&self, name: &str, hash: &str) -> User {
        create_user_with_hash(&self.db, name, hash, &[], self.clock.now())
    }

    /// The account use cases as the CLI runs them, beside the gateway (on
    /// its database and clock).
    fn accounts(&self) -> Accounts {
        let services = Services::standalone(&self.db, None, self.clock.now());
        services.unwrap().accounts
    }

    /// Disables `name` as the CLI does: every session of theirs ends.
    pub async fn disable_user(&self, name: &str) {
        let (who, caller) = (UserRef::Name(name.to_owned()), Caller::default());
        let accounts = self.accounts();
        let done = accounts.set_disabled(who, true, None, &caller, self.clock.now());
        done.await.unwrap();
    }

    /// Sets only the disabled flag of user `id`: no session is ended.
    pub fn set_disabled_flag(&self, id: &str) {
        self.db
            .with_conn(|c| users::set_disabled(c, id, true, self.clock.now()))
            .unwrap();
    }

    /// Replaces the roles of `name` as the CLI does.
    pub async fn set_roles(&self, name: &str, roles: &[Role]) {
        let (who, caller) = (UserRef::Name(name.to_owned()), Caller::default());
        let roles = Roles::new(roles.iter().copied());
        let accounts = self.accounts();
        let done = accounts.set_roles(who, roles, None, &caller, self.clock.now());
        done.await.unwrap();
    }

    /// Sets a new password for `name` as the CLI does: every session ends.
    pub async fn set_password(&self, name: &str, new: &str) {
        let (who, caller) = (UserRef::Name(name.to_owned()), Caller::default());
        let new = Password::new(new.to_owned());
        let accounts = self.accounts();
        let done = accounts.set_password(who, new, &caller, self.clock.now());
        done.await.unwrap();
    }

    /// The user with the id `id`, as stored.
    pub fn user(&self, id: &str) -> User {
        self.db
            .with_conn(|c| users::find_by_id(c, id))
            .unwrap()
            .expect("a stored user")
    }

    /// The password hash stored for `name`.
    pub fn stored_hash(&self, name: &str) -> String {
        self.db
            .with_conn(|c| users::find_by_username(c, name))
            .unwrap()
            .expect("a stored user")
            .password_hash
    }
}
