//! Password hashing with argon2id (OWASP: m=19456 KiB, t=2, p=1): the
//! one-off functions for the command line, and a [`Hasher`] that reuses its
//! block memory, for the threads of the hashing pool
//! ([`super::hash_pool`]). Passwords travel as [`Password`], whose `Debug`
//! prints nothing, and are compared exactly as sent: no trimming, no
//! normalisation.

use std::sync::Arc;

use argon2::password_hash::{Output, SaltString};
use argon2::{
    Algorithm, Argon2, Block, Params, PasswordHash, PasswordHasher, PasswordVerifier, Version,
};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};

const M_COST_KIB: u32 = 19_456;
const T_COST: u32 = 2;
const P_COST: u32 = 1;

/// Length limits for new passwords, in characters.
pub(crate) const MIN_LEN: usize = 8;
pub(crate) const MAX_LEN: usize = 256;

/// Whether `password` may be set: 8–256 characters, taken exactly as sent.
pub(crate) fn is_valid_new(password: &str) -> bool {
    (MIN_LEN..=MAX_LEN).contains(&password.chars().count())
}

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

/// A password as a client or an operator typed it. Its `Debug` prints
/// nothing, so no log line or error can carry it.
#[derive(Clone)]
pub struct Password(SecretString);

impl Password {
    pub fn new(text: String) -> Self {
        Self(SecretString::from(text))
    }

    pub(crate) fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

fn hasher() -> Argon2<'static> {
    // The constants are valid parameters; Params::new only rejects out-of-range ones.
    let params = Params::new(M_COST_KIB, T_COST, P_COST, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password into a PHC string, allocating its block memory for
/// this one hash. For the command line; request handlers go through the
/// [`HashGate`](super::hash_pool::HashGate).
pub fn hash(password: &str) -> Result<String, HashError> {
    let salt = SaltString::encode_b64(&new_salt()).map_err(|e| HashError(e.to_string()))?;
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| HashError(e.to_string()))
}

/// Checks a password against a stored PHC hash, allocating its block
/// memory for this one check. A malformed stored hash is
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

/// A hash no password matches, made once when the hashing pool starts: an
/// unknown username is checked against it, so it takes as long as a wrong
/// password. Failing here fails start-up (an empty dummy would make
/// unknown users answer faster, an oracle nobody would notice).
pub(crate) fn dummy_hash() -> Result<Arc<str>, HashError> {
    hash("portcullis dummy password").map(Arc::from)
}

fn new_salt() -> [u8; 16] {
    let mut salt = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    salt
}

/// One hashing thread's tools: the block memory for the pool's
/// parameters, allocated on first use and reused for every hash after,
/// and the dummy hash (see [`dummy_hash`]).
pub struct Hasher {
    blocks: Vec<Block>,
    dummy: Arc<str>,
}

impl Hasher {
    pub fn new(dummy: Arc<str>) -> Self {
        Self {
            blocks: Vec::new(),
            dummy,
        }
    }

    fn blocks(&mut self) -> &mut [Block] {
        if self.blocks.is_empty() {
            let ours = hasher().params().block_count();
            self.blocks = vec![Block::default(); ours];
        }
        &mut self.blocks
    }

    /// Hashes a password into a PHC string, in the reused memory.
    pub fn hash(&mut self, password: &str) -> Result<String, HashError> {
        let err = |e: &dyn std::fmt::Display| HashError(e.to_string());
        let argon = hasher();
        let salt = new_salt();
        let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
        let blocks = self.blocks();
        argon
            .hash_password_into_with_memory(password.as_bytes(), &salt, &mut out, blocks)
            .map_err(|e| err(&e))?;
        let salt = SaltString::encode_b64(&salt).map_err(|e| err(&e))?;
        let phc = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: argon.params().try_into().map_err(|e| err(&e))?,
            salt: Some(salt.as_salt()),
            hash: Some(Output::new(&out).map_err(|e| err(&e))?),
        };
        Ok(phc.to_string())
    }

    /// [`verify`] in the reused memory: the hash's output is recomputed
    /// with its own algorithm, version, parameters and salt, and compared
    /// in constant time ([`Output`]'s equality). A stored hash needing more
    /// memory than the pool's gets a one-off buffer.
    pub fn verify(&mut self, password: &str, stored: &str) -> Verdict {
        let Ok(parsed) = PasswordHash::new(stored) else {
            return Verdict::Invalid;
        };
        let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
            return Verdict::Invalid;
        };
        let (Ok(algorithm), Ok(params)) = (
            Algorithm::try_from(parsed.algorithm),
            Params::try_from(&parsed),
        ) else {
            return Verdict::Invalid;
        };
        let version = match parsed.version.map(Version::try_from) {
            None => Version::default(),
            Some(Ok(v)) => v,
            Some(Err(_)) => return Verdict::Invalid,
        };
        let mut salt_buf = [0u8; 64];
        let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
            return Verdict::Invalid;
        };
        let argon = Argon2::new(algorithm, version, params);
        let needed = argon.params().block_count();
        let mut one_off;
        let blocks = if needed <= hasher().params().block_count() {
            self.blocks()
        } else {
            one_off = vec![Block::default(); needed];
            &mut one_off[..]
        };
        let mut out = vec![0u8; expected.len()];
        let computed = argon
            .hash_password_into_with_memory(password.as_bytes(), salt, &mut out, blocks)
            .ok()
            .and_then(|()| Output::new(&out).ok());
        match computed {
            Some(computed) if computed == expected => Verdict::Valid {
                rehash: is_weaker(&parsed),
            },
            _ => Verdict::Invalid,
        }
    }

    /// Spends the same work as [`Hasher::verify`] against the dummy hash,
    /// so an unknown username takes as long as a wrong password.
    pub(crate) fn verify_dummy(&mut self, password: &str) {
        let dummy = self.dummy.clone();
        let _ = self.verify(password, &dummy);
    }
}

fn is_weaker(parsed: &PasswordHash<'_>) -> bool {
    let current = parsed.algorithm.as_str() == "argon2id" && parsed.version == Some(0x13);
    let params = Params::try_from(parsed).ok();
    !current
        || params
            .is_none_or(|p| p.m_cost() < M_COST_KIB || p.t_cost() < T_COST || p.p_cost() < P_COST)
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
    fn new_passwords_count_characters_not_bytes() {
        assert!(!is_valid_new("1234567"));
        assert!(!is_valid_new("ééééééé"));
        assert!(is_valid_new(&"é".repeat(256)));
        assert!(!is_valid_new(&"x".repeat(257)));
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

    #[test]
    fn the_reused_memory_verifies_hashes_with_other_parameters() {
        let mut pool = Hasher::new(dummy_hash().unwrap());
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        for (m, t, p, alg) in [
            (8, 1, 1, Algorithm::Argon2id),
            (64, 3, 2, Algorithm::Argon2i),
            (M_COST_KIB + 1024, 1, 1, Algorithm::Argon2id),
            (M_COST_KIB, T_COST, P_COST, Algorithm::Argon2d),
        ] {
            let other = Argon2::new(alg, Version::V0x13, Params::new(m, t, p, None).unwrap())
                .hash_password(b"pw123456", &salt)
                .unwrap()
                .to_string();
            assert_eq!(
                pool.verify("pw123456", &other),
                Verdict::Valid { rehash: true },
                "{other}"
            );
            assert_eq!(
                pool.verify("pw1234567", &other),
                Verdict::Invalid,
                "{other}"
            );
        }
        let ours = pool.hash("pw123456").unwrap();
        assert_eq!(
            pool.verify("pw123456", &ours),
            Verdict::Valid { rehash: false }
        );
        assert_eq!(pool.verify("anything", "not a hash"), Verdict::Invalid);
        // the pool's memory was allocated once, at the pool's size
        assert_eq!(pool.blocks.len(), hasher().params().block_count());
    }
}
