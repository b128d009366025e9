//! Password hashing with argon2id (OWASP: m=19456 KiB, t=2, p=1), and the
//! pool that runs it.
//!
//! Hashing is CPU-bound and needs 19 MiB of block memory per hash. The
//! [`HashGate`] owns a fixed pool of threads, one per core, started once,
//! each allocating its block memory on first use and reusing it for every
//! hash after (so a login storm cannot grow memory with the number of
//! threads that ever hashed). On Linux the threads run in the `SCHED_IDLE`
//! class: they get the CPU time the HTTP workers leave, and a worker that
//! wakes up takes the core back at once, so a storm of logins slows down
//! logins, not the `/api` path. (At nice +10 or +19, `/api`'s p99 during
//! a login storm was 2–3 × its idle p99; see BENCHMARKS.md.) In front of
//! the pool: a bounded waiting room and a bounded wait; past either the
//! caller is told [`Busy`] (answered with 429).
//! Passwords are compared exactly as sent: no trimming, no normalisation.

use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use argon2::password_hash::{Output, SaltString};
use argon2::{
    Algorithm, Argon2, Block, Params, PasswordHash, PasswordHasher, PasswordVerifier, Version,
};
use rand::RngCore;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

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

/// Hashes a password into a PHC string, allocating its block memory for
/// this one hash. For the command line; request handlers go through the
/// [`HashGate`].
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

/// Spends the same work as [`verify`] against a hash no password matches,
/// so an unknown username takes as long as a wrong password.
pub fn verify_dummy(password: &str) {
    let _ = verify(password, &DUMMY);
}

static DUMMY: LazyLock<String> =
    LazyLock::new(|| hash("portcullis dummy password").unwrap_or_default());

fn new_salt() -> [u8; 16] {
    let mut salt = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    salt
}

/// One hashing thread's tools: the block memory for the pool's
/// parameters, allocated on first use and reused for every hash after.
#[derive(Default)]
pub struct Hasher {
    blocks: Vec<Block>,
}

impl Hasher {
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

    /// [`verify_dummy`] in the reused memory.
    pub fn verify_dummy(&mut self, password: &str) {
        let _ = self.verify(password, &DUMMY);
    }
}

fn is_weaker(parsed: &PasswordHash<'_>) -> bool {
    let current = parsed.algorithm.as_str() == "argon2id" && parsed.version == Some(0x13);
    let params = Params::try_from(parsed).ok();
    !current
        || params
            .is_none_or(|p| p.m_cost() < M_COST_KIB || p.t_cost() < T_COST || p.p_cost() < P_COST)
}

/// The hashing pool is busy: every thread is taken and either the waiting
/// room is full or the wait ran out. Answered with 429.
#[derive(Debug, PartialEq, Eq)]
pub struct Busy;

type Job = Box<dyn FnOnce(&mut Hasher) + Send>;

/// The hashing pool and the gate in front of it: `threads` threads, at
/// most `threads` hashes running, at most `waiting` callers waiting for
/// one of them, each at most `wait`.
#[derive(Clone)]
pub struct HashGate {
    slots: Arc<Semaphore>,
    room: Arc<Semaphore>,
    wait: Duration,
    jobs: SyncSender<Job>,
}

/// Held while one hash runs.
pub struct HashPermit(#[allow(dead_code)] OwnedSemaphorePermit);

impl HashGate {
    /// Starts the pool's threads; they end when the last clone of the gate
    /// is dropped.
    pub fn new(threads: usize, waiting: usize, wait: Duration) -> Self {
        let threads = threads.max(1);
        let (jobs, queue) = mpsc::sync_channel::<Job>(threads);
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..threads {
            let queue = queue.clone();
            let started = std::thread::Builder::new()
                .name(format!("portcullis-hash-{i}"))
                .spawn(move || work(&queue));
            if let Err(e) = started {
                log::error!("cannot start a password hashing thread: {e}");
            }
        }
        Self {
            slots: Arc::new(Semaphore::new(threads)),
            room: Arc::new(Semaphore::new(waiting.max(threads))),
            wait,
            jobs,
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

    /// Runs `f` on a hashing thread once one is free, or answers [`Busy`]
    /// at once when the waiting room is full and after `wait` when no
    /// thread came free. The slot is released when `f` ends, even if the
    /// caller stopped waiting.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Hasher) -> T + Send + 'static,
    ) -> Result<T, Busy> {
        let place = self.room.clone().try_acquire_owned().map_err(|_| Busy)?;
        let permit = self.enter().await.ok_or(Busy)?;
        drop(place);
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |h| {
            let _ = tx.send(f(h));
            drop(permit);
        });
        self.jobs.send(job).map_err(|_| Busy)?;
        rx.await.map_err(|_| Busy)
    }
}

/// A hashing thread: steps aside for the HTTP workers, then runs jobs
/// until the gate is gone.
fn work(queue: &Mutex<Receiver<Job>>) {
    step_aside();
    let mut hasher = Hasher::default();
    loop {
        let job = match queue.lock() {
            Ok(q) => q.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else { return };
        job(&mut hasher);
    }
}

/// Moves this thread to the `SCHED_IDLE` class (Linux; scheduling
/// classes are per thread there).
fn step_aside() {
    #[cfg(target_os = "linux")]
    {
        use thread_priority::{
            NormalThreadSchedulePolicy, ThreadPriority, ThreadSchedulePolicy,
            set_thread_priority_and_policy, thread_native_id,
        };
        let idle = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle);
        if let Err(e) =
            set_thread_priority_and_policy(thread_native_id(), ThreadPriority::Min, idle)
        {
            log::warn!("cannot lower the priority of a hashing thread: {e:?}");
        }
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
        let gate = HashGate::new(1, 4, Duration::from_millis(20));
        let held = gate.enter().await.unwrap();
        assert!(gate.enter().await.is_none());
        drop(held);
        assert!(gate.enter().await.is_some());
    }

    #[actix_web::test]
    async fn the_pool_hashes_in_the_standard_format_and_verifies_both_ways() {
        let gate = HashGate::new(2, 4, Duration::from_secs(30));
        let h = gate
            .run(|h| h.hash("correct horse"))
            .await
            .unwrap()
            .unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        // the crate's own verifier accepts the pool's hash ...
        assert_eq!(
            verify("correct horse", &h),
            Verdict::Valid { rehash: false }
        );
        assert_eq!(verify("correct horsE", &h), Verdict::Invalid);
        // ... and the pool accepts the crate's hash
        let std = hash("battery staple").unwrap();
        let (ok, bad) = gate
            .run(move |h| {
                (
                    h.verify("battery staple", &std),
                    h.verify("battery stapl", &std),
                )
            })
            .await
            .unwrap();
        assert_eq!(ok, Verdict::Valid { rehash: false });
        assert_eq!(bad, Verdict::Invalid);
    }

    #[test]
    fn the_reused_memory_verifies_hashes_with_other_parameters() {
        let mut pool = Hasher::default();
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

    #[actix_web::test]
    async fn a_full_waiting_room_is_busy_at_once() {
        let gate = HashGate::new(1, 1, Duration::from_secs(30));
        let (hold_tx, hold_rx) = std::sync::mpsc::channel::<()>();
        let running = gate.clone();
        let first =
            actix_web::rt::spawn(async move { running.run(move |_| hold_rx.recv().ok()).await });
        // wait until the only thread is taken
        while gate.slots.available_permits() > 0 {
            actix_web::rt::time::sleep(Duration::from_millis(5)).await;
        }
        let waiting = gate.clone();
        let second = actix_web::rt::spawn(async move { waiting.run(|_| 2).await });
        while gate.room.available_permits() > 0 {
            actix_web::rt::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(gate.run(|_| 3).await, Err(Busy));
        hold_tx.send(()).unwrap();
        assert_eq!(first.await.unwrap(), Ok(Some(())));
        assert_eq!(second.await.unwrap(), Ok(2));
        assert_eq!(gate.run(|_| 4).await, Ok(4));
    }

    /// This thread's scheduling policy.
    #[cfg(target_os = "linux")]
    fn policy() -> thread_priority::ThreadSchedulePolicy {
        thread_priority::thread_schedule_policy().unwrap()
    }

    #[cfg(target_os = "linux")]
    #[actix_web::test]
    async fn hashing_threads_yield_to_the_caller_s_class() {
        use thread_priority::{NormalThreadSchedulePolicy, ThreadSchedulePolicy};
        let gate = HashGate::new(1, 1, Duration::from_secs(30));
        let theirs = gate.run(|_| policy()).await.unwrap();
        assert_eq!(
            theirs,
            ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle)
        );
        assert_ne!(policy(), theirs, "the caller keeps its class");
    }
}
