//! Refresh tokens: opaque 256-bit random values, base64url in the cookie,
//! SHA-256 in the database. The plaintext lives only in [`RefreshToken`],
//! whose `Debug` prints nothing.
//!
//! A rotated token's successor is derived, not drawn: `HMAC-SHA256(key,
//! parent)`. A spent token presented again within the grace period therefore
//! yields the *same* successor without the database ever holding a usable
//! token, so two tabs that refresh at once converge on one cookie. The key
//! belongs to the ledger: generated once and kept in the database
//! (`db::secrets`), so every instance agrees whatever key it signs with.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};

use super::mac_key::MacKey;
use rand::RngCore;
use sha2::{Digest, Sha256};

const TOKEN_BYTES: usize = 32;

/// A refresh token in plaintext. Never logged, never stored.
#[derive(Clone, PartialEq, Eq)]
pub struct RefreshToken(String);

impl fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RefreshToken(<redacted>)")
    }
}

impl RefreshToken {
    /// A fresh token from the operating system's CSPRNG.
    pub fn generate() -> Self {
        let mut bytes = [0u8; TOKEN_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// Accepts a cookie value only if it has the exact shape of a token.
    pub fn parse(value: &str) -> Option<Self> {
        let bytes = URL_SAFE_NO_PAD.decode(value).ok()?;
        (bytes.len() == TOKEN_BYTES).then(|| Self(value.to_owned()))
    }

    /// The value for the cookie. Callers must not log it.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }

    /// What the database stores: hex SHA-256 of the token.
    pub fn hash(&self) -> String {
        hex(&Sha256::digest(self.0.as_bytes()))
    }

    /// The token this one rotates into; the same every time it is asked.
    pub fn successor(&self, key: &SuccessorKey) -> Self {
        let mut mac = key.mac();
        mac.update(self.0.as_bytes());
        Self(URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
    }
}

/// The key successors are derived under: 256 random bits, one per
/// database, never derived from the signing key (instances signing with
/// different keys must derive the same successors).
#[derive(Debug, Clone)]
pub struct SuccessorKey(MacKey);

impl SuccessorKey {
    pub fn generate() -> Self {
        Self(MacKey::generate())
    }

    fn mac(&self) -> Hmac<Sha256> {
        self.0.hmac()
    }
}

impl From<MacKey> for SuccessorKey {
    fn from(key: MacKey) -> Self {
        Self(key)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_carry_256_bits_and_round_trip_through_parse() {
        let token = RefreshToken::generate();
        assert_eq!(URL_SAFE_NO_PAD.decode(token.expose()).unwrap().len(), 32);
        assert_eq!(RefreshToken::parse(token.expose()), Some(token));
        assert_eq!(RefreshToken::parse("short"), None);
        assert_eq!(RefreshToken::parse(&"A".repeat(44)), None);
    }

    #[test]
    fn successor_is_deterministic_and_key_dependent() {
        let token = RefreshToken::generate();
        let key = SuccessorKey::generate();
        assert_eq!(token.successor(&key), token.successor(&key));
        assert_ne!(
            token.successor(&key),
            token.successor(&SuccessorKey::generate())
        );
        assert_ne!(token.successor(&key), token);
        assert!(RefreshToken::parse(token.successor(&key).expose()).is_some());
    }

    #[test]
    fn debug_never_prints_the_token() {
        let token = RefreshToken::generate();
        assert!(!format!("{token:?}").contains(token.expose()));
        assert_eq!(token.hash().len(), 64);
    }
}
