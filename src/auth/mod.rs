//! Authentication domain: passwords, access tokens (JWT), refresh tokens,
//! login throttling, the revocation list and roles. No actix types here.

pub mod password;
pub mod refresh;
pub mod revocation;
pub mod roles;
pub mod throttle;
pub mod tokens;

pub use roles::{Role, Roles};
