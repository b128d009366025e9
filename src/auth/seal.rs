//! Secrets at rest, sealed: XChaCha20-Poly1305 under the key of
//! `PORTCULLIS_ENCRYPTION_KEY_FILE`, a random 192-bit nonce per seal, and
//! associated data naming what the secret is and whose (a sealed TOTP seed
//! moved to another user's row does not open). A database dump alone never
//! yields the secret.
//!
//! Stored as base64 of `nonce || ciphertext`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use secrecy::{ExposeSecret, SecretSlice};

const NONCE_BYTES: usize = 24;

/// The sealing key: 32 bytes. Its `Debug` prints nothing.
#[derive(Clone)]
pub struct SealKey(SecretSlice<u8>);

impl std::fmt::Debug for SealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealKey(***)")
    }
}

impl SealKey {
    /// The key from the text of its file: 32 bytes in base64 (surrounding
    /// white space ignored).
    pub fn from_base64(text: &str) -> Result<Self, String> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|_| "not base64 (make one with `openssl rand -base64 32`)".to_owned())?;
        if bytes.len() != 32 {
            return Err(format!(
                "decodes to {} bytes; it must be 32 (`openssl rand -base64 32`)",
                bytes.len()
            ));
        }
        Ok(Self(bytes.into()))
    }

    /// A new random key, as the text of its file.
    pub fn generate_base64() -> String {
        STANDARD.encode(XChaCha20Poly1305::generate_key(&mut OsRng))
    }

    /// The cipher; `None` cannot happen for a key of 32 bytes.
    fn cipher(&self) -> Option<XChaCha20Poly1305> {
        XChaCha20Poly1305::new_from_slice(self.0.expose_secret()).ok()
    }

    /// `secret` sealed, bound to `context`.
    pub fn seal(&self, secret: &[u8], context: &[u8]) -> Option<String> {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let sealed = self
            .cipher()?
            .encrypt(
                &nonce,
                Payload {
                    msg: secret,
                    aad: context,
                },
            )
            .ok()?;
        let mut out = nonce.to_vec();
        out.extend(sealed);
        Some(STANDARD.encode(out))
    }

    /// What `sealed` holds, if it was sealed with this key for `context`.
    pub fn open(&self, sealed: &str, context: &[u8]) -> Option<Vec<u8>> {
        let bytes = STANDARD.decode(sealed).ok()?;
        if bytes.len() < NONCE_BYTES {
            return None;
        }
        let (nonce, sealed) = bytes.split_at(NONCE_BYTES);
        let nonce = XNonce::from(<[u8; NONCE_BYTES]>::try_from(nonce).ok()?);
        self.cipher()?
            .decrypt(
                &nonce,
                Payload {
                    msg: sealed,
                    aad: context,
                },
            )
            .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_opens_only_with_its_key_and_context() {
        let key = SealKey::from_base64(&SealKey::generate_base64()).unwrap();
        let sealed = key.seal(b"seed bytes", b"totp:alice").unwrap();
        assert!(!sealed.contains("seed"));
        assert_eq!(key.open(&sealed, b"totp:alice").unwrap(), b"seed bytes");
        assert!(key.open(&sealed, b"totp:mallory").is_none(), "another row");
        let other = SealKey::from_base64(&SealKey::generate_base64()).unwrap();
        assert!(other.open(&sealed, b"totp:alice").is_none(), "another key");
        assert_ne!(
            key.seal(b"seed bytes", b"totp:alice").unwrap(),
            sealed,
            "fresh nonce"
        );
        assert!(key.open("not base64!", b"x").is_none());
        assert!(key.open("AAAA", b"x").is_none());
    }

    #[test]
    fn key_files_hold_exactly_32_bytes_of_base64() {
        assert!(SealKey::from_base64(&format!(" {}\n", SealKey::generate_base64())).is_ok());
        assert!(SealKey::from_base64("c2hvcnQ=").unwrap_err().contains("32"));
        assert!(SealKey::from_base64("***").is_err());
        let key = SealKey::from_base64(&SealKey::generate_base64()).unwrap();
        assert_eq!(format!("{key:?}"), "SealKey(***)");
    }
}
