//! Authentication domain: users, passwords and the pool that hashes them,
//! access tokens (JWT), refresh tokens, the revocation list and roles. No actix types
//! and no database here.

pub mod hash_pool;
pub mod password;
pub mod refresh;
pub mod revocation;
pub mod roles;
pub mod token_cache;
pub mod tokens;
pub mod user;

pub use roles::{Role, Roles};
pub use user::User;
