//! Users made straight in the database, behind the gateway's back.

use portcullis::accounts;
use portcullis::auth::{Role, Roles, User};
use portcullis::db::Db;

/// Creates `name` with an already computed password `hash` straight in the
/// database (for gateways the test does not run in-process).
pub fn create_user(
    db: &Db,
    name: &str,
    hash: &str,
    roles: &[Role],
    now: chrono::DateTime<chrono::Utc>,
) -> User {
    let roles = Roles::new(roles.iter().copied());
    db.with_conn(|c| Ok(accounts::create(c, name, hash, &roles, now)))
        .unwrap()
        .unwrap()
}
