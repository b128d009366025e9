//! The hashing pool and the gate in front of it. Hashing is CPU-bound and
//! needs 19 MiB of block memory per hash. The [`HashGate`] owns a fixed
//! pool of threads, one per core, started once, each with a
//! [`Hasher`] that allocates its block memory on first use and reuses it
//! for every hash after (so a login storm cannot grow memory with the
//! number of threads that ever hashed). On Linux the threads run in the
//! `SCHED_IDLE` class: they get the CPU time the HTTP workers leave, and a
//! worker that wakes up takes the core back at once, so a storm of logins
//! slows down logins, not the `/api` path. (At nice +10 or +19, `/api`'s
//! p99 during a login storm was 2–3 × its idle p99; see BENCHMARKS.md.)
//! In front of the pool: a bounded waiting room and a bounded wait; past
//! either the caller is told [`Busy`] (answered with 429).

use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

use super::password::{HashError, Hasher, dummy_hash};

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
pub(crate) struct HashPermit {
    _permit: OwnedSemaphorePermit,
}

impl HashGate {
    /// Makes the dummy hash and starts the pool's threads; they end when
    /// the last clone of the gate is dropped. Fails when the dummy hash
    /// cannot be made.
    pub fn new(threads: usize, waiting: usize, wait: Duration) -> Result<Self, HashError> {
        let threads = threads.max(1);
        let dummy = dummy_hash()?;
        let (jobs, queue) = mpsc::sync_channel::<Job>(threads);
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..threads {
            let (queue, hasher) = (queue.clone(), Hasher::new(dummy.clone()));
            let started = std::thread::Builder::new()
                .name(format!("portcullis-hash-{i}"))
                .spawn(move || work(&queue, hasher));
            if let Err(e) = started {
                log::error!("cannot start a password hashing thread: {e}");
            }
        }
        Ok(Self {
            slots: Arc::new(Semaphore::new(threads)),
            room: Arc::new(Semaphore::new(waiting.max(threads))),
            wait,
            jobs,
        })
    }

    /// A gate for one-off work outside the server (the command line, the
    /// demo's seeding): one thread, nobody else waiting.
    pub(crate) fn single() -> Result<Self, HashError> {
        Self::new(1, 1, Duration::from_secs(60))
    }

    /// A slot, or `None` after waiting `wait` in vain.
    pub(crate) async fn enter(&self) -> Option<HashPermit> {
        tokio::time::timeout(self.wait, self.slots.clone().acquire_owned())
            .await
            .ok()?
            .ok()
            .map(|permit| HashPermit { _permit: permit })
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
fn work(queue: &Mutex<Receiver<Job>>, mut hasher: Hasher) {
    step_aside();
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
    use crate::auth::password::{Verdict, hash, verify};

    #[actix_web::test]
    async fn the_gate_refuses_when_every_slot_is_busy() {
        let gate = HashGate::new(1, 4, Duration::from_millis(20)).unwrap();
        let held = gate.enter().await.unwrap();
        assert!(gate.enter().await.is_none());
        drop(held);
        assert!(gate.enter().await.is_some());
    }

    #[actix_web::test]
    async fn the_pool_hashes_in_the_standard_format_and_verifies_both_ways() {
        let gate = HashGate::new(2, 4, Duration::from_secs(30)).unwrap();
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

    #[actix_web::test]
    async fn a_full_waiting_room_is_busy_at_once() {
        let gate = HashGate::new(1, 1, Duration::from_secs(30)).unwrap();
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
        let gate = HashGate::new(1, 1, Duration::from_secs(30)).unwrap();
        let theirs = gate.run(|_| policy()).await.unwrap();
        assert_eq!(
            theirs,
            ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle)
        );
        assert_ne!(policy(), theirs, "the caller keeps its class");
    }
}
