//! A 256-bit key for HMAC-SHA-256 that the gateway makes for itself and
//! keeps in the database (`db::secrets`): drawn from the operating
//! system's CSPRNG, stored as base64url, never printed. The successor key
//! of refresh tokens and the device-cookie key are each one of these.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

#[derive(Clone)]
pub struct MacKey([u8; 32]);

impl fmt::Debug for MacKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MacKey(<redacted>)")
    }
}

impl MacKey {
    /// A new key from the operating system's CSPRNG.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// The key as stored (base64url); see [`MacKey::from_stored`].
    pub(crate) fn to_stored(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }

    /// A stored key, if `value` is one.
    pub(crate) fn from_stored(value: &str) -> Option<Self> {
        URL_SAFE_NO_PAD
            .decode(value)
            .ok()?
            .try_into()
            .ok()
            .map(Self)
    }

    /// A fresh HMAC-SHA-256 under this key.
    #[expect(clippy::expect_used, reason = "HMAC takes keys of any length")]
    pub(crate) fn hmac(&self) -> Hmac<Sha256> {
        <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC takes keys of any length")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_round_trips_through_its_stored_form_and_never_prints() {
        let key = MacKey::generate();
        let again = MacKey::from_stored(&key.to_stored()).unwrap();
        assert_eq!(again.0, key.0);
        assert_ne!(MacKey::generate().0, key.0);
        assert!(MacKey::from_stored("short").is_none());
        assert!(!format!("{key:?}").contains(&key.to_stored()));
    }
}
