//! Password hashing with argon2id (OWASP: m=19456 KiB, t=2, p=1), and the
//! gate that bounds how many hashes run at once.
//!
//! Hashing is CPU-bound: callers run it on the blocking pool and hold a
//! [`HashPermit`] while they do, so a login storm cannot starve the rest.
//! Passwords are compared exactly as sent: no trimming, no normalisation.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use argon2::password_hash::SaltString;
use argon2::{Algorithm, Argon2, Params, PasswordHash, PasswordHasher, PasswordVerifier, Version};
use rand::RngCore;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

const M_COST_KIB: u32 = 19_456;
const T_COST: u32 = 2;
const P_COST: u32 = 1;

/// Length limits for new passwords, in characters.
pub const MIN_LEN: usize = 8;
pub const MAX_LEN: usize = 256;

#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

/// The result of checking a password against a stored hash.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Correct; `rehash` says the stored hash uses weaker parameters.
    Valid {
        rehash: bool,
    },
    Invalid,
}

fn hasher() -> Argon2<'static> {
    // The constants are valid parameters; Params::new only rejects out-of-range ones.
    let params = Params::new(M_COST_KIB, T_COST, P_COST, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password into a PHC string.
pub fn hash(password: &str) -> Result<String, HashError> {
    let mut salt = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| HashError(e.to_string()))?;
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| HashError(e.to_string()))
}

/// Checks a password against a stored PHC hash. A malformed stored hash is
/// [`Verdict::Invalid`].
pub fn verify(password: &str, stored: &str) -> Verdict {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return Verdict::Invalid;
    };
    match hasher().verify_password(password.as_bytes(), &parsed) {
        Ok(()) => Verdict::Valid {
            rehash: is_weaker(&parsed),
        },
        Err(_) => Verdict::Invalid,
    }
}

/// Spends the same work as [`verify`] against a hash no password matches,
/// so an unknown username takes as long as a wrong password.
pub fn verify_dummy(password: &str) {
    static DUMMY: LazyLock<String> =
        LazyLock::new(|| hash("portcullis dummy password").unwrap_or_default());
    let _ = verify(password, &DUMMY);
}

fn is_weaker(parsed: &PasswordHash<'_>) -> bool {
    let current = parsed.algorithm.as_str() == "argon2id" && parsed.version == Some(0x13);
    let params = Params::try_from(parsed).ok();
    !current
        || params
            .is_none_or(|p| p.m_cost() < M_COST_KIB || p.t_cost() < T_COST || p.p_cost() < P_COST)
}

/// Bounds concurrent hashing. Waiting longer than `wait` for a slot is an
/// overload, answered with 429 by the caller.
#[derive(Clone)]
pub struct HashGate {
    slots: Arc<Semaphore>,
    wait: Duration,
}

/// Held while one hash runs.
pub struct HashPermit(#[allow(dead_code)] OwnedSemaphorePermit);

impl HashGate {
    pub fn new(concurrency: usize, wait: Duration) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(concurrency.max(1))),
            wait,
        }
    }

    /// A slot, or `None` after waiting `wait` in vain.
    pub async fn enter(&self) -> Option<HashPermit> {
        tokio::time::timeout(self.wait, self.slots.clone().acquire_owned())
            .await
            .ok()?
            .ok()
            .map(HashPermit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_with_owasp_parameters() {
        let h = hash("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert_eq!(
            verify("correct horse", &h),
            Verdict::Valid { rehash: false }
        );
    }

    #[test]
    fn passwords_are_compared_exactly_as_sent() {
        let h = hash("secret password").unwrap();
        assert_eq!(verify("secret password ", &h), Verdict::Invalid);
        assert_eq!(verify("Secret password", &h), Verdict::Invalid);
    }

    #[test]
    fn weaker_stored_hashes_ask_for_a_rehash() {
        let weak = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8, 1, 1, None).unwrap(),
        )
        .hash_password(
            b"pw123456",
            &SaltString::encode_b64(b"0123456789abcdef").unwrap(),
        )
        .unwrap()
        .to_string();
        assert_eq!(verify("pw123456", &weak), Verdict::Valid { rehash: true });
    }

    #[test]
    fn a_malformed_stored_hash_is_invalid_not_a_crash() {
        assert_eq!(verify("anything", "not a hash"), Verdict::Invalid);
    }

    #[actix_web::test]
    async fn the_gate_refuses_when_every_slot_is_busy() {
        let gate = HashGate::new(1, Duration::from_millis(20));
        let held = gate.enter().await.unwrap();
        assert!(gate.enter().await.is_none());
        drop(held);
        assert!(gate.enter().await.is_some());
    }
}
