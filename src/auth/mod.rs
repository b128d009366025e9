//! Authentication domain: users, passwords and the pool that hashes them,
//! second factors (TOTP, recovery codes, the WebAuthn relying party for
//! passkeys) and how a session authenticated
//! (`authn`), sealed secrets, access tokens (JWT), refresh tokens, the
//! revocation list and the live WebSockets it closes, and roles. No actix types
//! and no database here.

pub mod authn;
pub mod device;
pub mod hash_pool;
pub mod mac_key;
pub mod passkey;
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

/// 256 random bits, URL-safe: an opaque single-use value handed to a
/// client (an `mfa_token`, a WebSocket ticket, a sign-in's browser cookie),
/// stored only hashed.
pub fn opaque_token() -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}
