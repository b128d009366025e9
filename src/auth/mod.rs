//! Authentication domain: users, passwords and the pool that hashes them,
//! second factors (TOTP, recovery codes) and how a session authenticated
//! (`authn`), sealed secrets, access tokens (JWT), refresh tokens, the
//! revocation list and the live WebSockets it closes, and roles. No actix types
//! and no database here.

pub mod authn;
pub mod device;
pub mod hash_pool;
pub mod mac_key;
pub mod password;
pub mod recovery;
pub mod refresh;
pub mod revocation;
pub mod roles;
pub mod seal;
pub mod sockets;
pub mod token_cache;
pub mod tokens;
pub mod totp;
pub mod user;

pub use roles::{Role, Roles};
pub use user::User;
