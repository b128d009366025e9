//! The SQLite writer of the serve process: one thread owning one connection,
//! fed by a bounded queue, so the process's write transactions never contend
//! with each other for the file's write lock (and never sleep in SQLite's
//! busy handler behind one another). `busy_timeout` stays on the connection
//! for other processes, such as the CLI beside a live server.
//!
//! Group commit: the thread takes what is queued (at most [`MAX_BATCH`]
//! jobs), opens one `BEGIN IMMEDIATE`, runs each job in its own `SAVEPOINT`
//! (a failing job rolls back only itself), `COMMIT`s once — one fsync per
//! batch, `synchronous=FULL` kept — and only then answers each caller. A
//! failed `COMMIT` answers every job of the batch with that error.
//!
//! PostgreSQL does not use this: its instances share the database and its
//! use cases lock rows, so they keep their pooled transactions.

use std::panic::{AssertUnwindSafe, catch_unwind};

use diesel::connection::{Connection, TransactionManager};
use diesel::r2d2::{ManageConnection, R2D2Connection};
use tokio::sync::{mpsc, oneshot};

use super::{Conn, DbError, Manager, one_line};

/// Most jobs one transaction takes.
pub(crate) const MAX_BATCH: usize = 64;

/// Most jobs waiting for the writer; callers beyond it wait to enqueue.
const QUEUE: usize = 1024;

/// What the writer hands a job after the batch's `COMMIT`: `Ok` when it
/// committed, or why it did not.
type Answer = Box<dyn FnOnce(Result<(), &DbError>) + Send>;

/// A job runs inside the batch's transaction (in its own savepoint) and
/// returns how to answer its caller once the batch's fate is known. Given
/// an error instead of a connection (none could be opened, the batch could
/// not begin), it does not run and answers with that error.
type Job = Box<dyn FnOnce(Result<&mut Conn, &DbError>) -> Answer + Send>;

/// A handle on the writer thread; cloning it shares the thread, which ends
/// when the last handle is dropped (after the jobs already queued).
#[derive(Clone)]
pub(crate) struct Writer {
    jobs: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts the writer thread. Its connection is opened by `manager` on
    /// the first job (and again after one breaks), so a process that never
    /// writes through it never opens it.
    pub(super) fn start(manager: Manager) -> Result<Self, DbError> {
        let (jobs, queue) = mpsc::channel(QUEUE);
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || serve(&manager, queue))
            .map_err(|e| DbError::Unavailable(format!("cannot start the writer: {e}")))?;
        Ok(Self { jobs })
    }

    /// Queues `f` and waits for its answer, given after its batch committed.
    /// `f` runs in a savepoint: when it fails, what it wrote is undone and
    /// the rest of the batch is unaffected.
    pub async fn run<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut Conn) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let (job, answer) = job(f);
        self.jobs.send(job).await.map_err(|_| DbError::Blocking)?;
        answer.await.map_err(|_| DbError::Blocking)?
    }

    /// How many jobs wait in the queue.
    #[cfg(test)]
    fn queued(&self) -> usize {
        self.jobs.max_capacity() - self.jobs.capacity()
    }
}

/// Wraps `f` as a [`Job`] and the receiver of its answer.
fn job<T, E, F>(f: F) -> (Job, oneshot::Receiver<Result<T, E>>)
where
    F: FnOnce(&mut Conn) -> Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: From<DbError> + Send + 'static,
{
    let (reply, answer) = oneshot::channel();
    let job: Job = Box::new(move |conn: Result<&mut Conn, &DbError>| {
        let result = match conn {
            Ok(conn) => in_savepoint(conn, f),
            Err(e) => Err(unavailable(e).into()),
        };
        Box::new(move |committed: Result<(), &DbError>| {
            let result = match committed {
                Ok(()) => result,
                Err(e) => result.and(Err(unavailable(e).into())),
            };
            // the caller may have given up waiting
            let _ = reply.send(result);
        })
    });
    (job, answer)
}

/// Runs `f` in a savepoint of the batch's transaction, rolled back when `f`
/// fails with its own error or a database one.
fn in_savepoint<T, E: From<DbError>>(
    conn: &mut Conn,
    f: impl FnOnce(&mut Conn) -> Result<T, E>,
) -> Result<T, E> {
    /// Diesel's transaction wants an error it can build from its own.
    enum Failed<E> {
        Job(E),
        Db(diesel::result::Error),
    }
    impl<E> From<diesel::result::Error> for Failed<E> {
        fn from(e: diesel::result::Error) -> Self {
            Failed::Db(e)
        }
    }
    conn.transaction(|c| f(c).map_err(Failed::Job))
        .map_err(|e| match e {
            Failed::Job(e) => e,
            Failed::Db(e) => DbError::from(e).into(),
        })
}

/// The writer thread: batches until every handle is gone.
fn serve(manager: &Manager, mut queue: mpsc::Receiver<Job>) {
    let mut conn: Option<Conn> = None;
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = queue.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let jobs = std::mem::take(&mut batch);
        let c = match conn.take().map_or_else(|| manager.connect(), Ok) {
            Ok(c) => conn.insert(c),
            Err(e) => {
                let e = DbError::Unavailable(one_line(&e));
                for job in jobs {
                    refuse(job, &e);
                }
                continue;
            }
        };
        run_batch(c, jobs);
        if !reusable(c) {
            conn = None;
        }
    }
}

/// Runs `jobs` in one transaction and answers each after its end.
fn run_batch(conn: &mut Conn, jobs: Vec<Job>) {
    type Tm = <Conn as Connection>::TransactionManager;
    // the writer exists for SQLite only: this is its `BEGIN IMMEDIATE`
    if let Err(e) = super::begin_write(conn) {
        let e = DbError::from(e);
        for job in jobs {
            refuse(job, &e);
        }
        return;
    }
    let mut answers = Vec::with_capacity(jobs.len());
    let mut jobs = jobs.into_iter();
    for job in jobs.by_ref() {
        match catch_unwind(AssertUnwindSafe(|| job(Ok(&mut *conn)))) {
            Ok(answer) => answers.push(answer),
            Err(_) => {
                // the panicking job's caller sees the writer gone; the
                // others are rolled back with it, the transaction's state
                // being unknown
                let _ = Tm::rollback_transaction(conn);
                let e = DbError::Unavailable("a database write panicked".into());
                for answer in answers {
                    answer(Err(&e));
                }
                for job in jobs {
                    refuse(job, &e);
                }
                return;
            }
        }
    }
    match Tm::commit_transaction(conn) {
        Ok(()) => {
            for answer in answers {
                answer(Ok(()));
            }
        }
        Err(e) => {
            let _ = Tm::rollback_transaction(conn);
            let e = DbError::from(e);
            for answer in answers {
                answer(Err(&e));
            }
        }
    }
}

/// Answers a job, without running it, with why it could not run.
fn refuse(job: Job, e: &DbError) {
    job(Err(e))(Err(e));
}

/// The error a job's caller gets when its batch failed as a whole.
fn unavailable(e: &DbError) -> DbError {
    match e {
        DbError::Unavailable(why) => DbError::Unavailable(why.clone()),
        other => DbError::Unavailable(other.to_string()),
    }
}

/// Whether the connection is out of any transaction and fit for the next
/// batch.
fn reusable(conn: &mut Conn) -> bool {
    type Tm = <Conn as Connection>::TransactionManager;
    !conn.is_broken()
        && matches!(
            Tm::transaction_manager_status_mut(conn).transaction_depth(),
            Ok(None)
        )
}

#[cfg(test)]
mod tests {
    use crate::auth::authn::{Authentication, Method};
    use std::time::Duration as StdDuration;

    use chrono::{DateTime, Duration, Utc};
    use diesel::prelude::*;

    use crate::auth::Roles;
    use crate::auth::refresh::SuccessorKey;
    use crate::db::ledger::{self, ClientInfo, RotateOutcome, SessionPolicy};
    use crate::db::schema::{refresh_tokens, users as users_table};
    use crate::db::{Db, DbError, temp_db, users};

    fn t0() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .to_utc()
    }

    /// Holds the writer in a job until the returned sender is dropped, and
    /// returns once that job runs: whatever is queued meanwhile is one batch.
    async fn hold_writer(db: &Db) -> std::sync::mpsc::Sender<()> {
        let (release, held) = std::sync::mpsc::channel::<()>();
        let (started, running) = tokio::sync::oneshot::channel();
        let blocker = db.clone();
        tokio::spawn(async move {
            blocker
                .run(move |_| {
                    let _ = started.send(());
                    let _ = held.recv();
                    Ok::<_, DbError>(())
                })
                .await
        });
        running.await.unwrap();
        release
    }

    /// Waits until `n` jobs are queued behind the held writer.
    async fn until_queued(db: &Db, n: usize) {
        let writer = db.writer.as_ref().unwrap();
        while writer.queued() < n {
            tokio::time::sleep(StdDuration::from_millis(1)).await;
        }
    }

    #[tokio::test]
    async fn two_presentations_of_one_token_in_one_batch_rotate_it_once() {
        let (db, _dir) = temp_db();
        let key = SuccessorKey::generate();
        let policy = SessionPolicy {
            ttl: Duration::days(30),
            idle_ttl: Duration::days(7),
            grace: Duration::seconds(5),
        };
        let grant = db
            .with_conn(|c| {
                let user = users::create(c, "alice", "x", &Roles::new([]), t0())?;
                let auth = Authentication::by(&[Method::Pwd], t0());
                ledger::issue(c, &user, &auth, &ClientInfo::default(), &policy, t0())
            })
            .unwrap();
        let release = hold_writer(&db).await;
        let presentations: Vec<_> = (0..2)
            .map(|_| {
                let (db, token, key) = (db.clone(), grant.refresh.clone(), key.clone());
                tokio::spawn(async move {
                    db.run(move |c| {
                        ledger::rotate(c, &token, &key, &policy, &ClientInfo::default(), t0())
                    })
                    .await
                })
            })
            .collect();
        until_queued(&db, 2).await;
        drop(release);
        let mut rotated = Vec::new();
        let mut replayed = Vec::new();
        for presentation in presentations {
            match presentation.await.unwrap().unwrap() {
                RotateOutcome::Rotated(g) => rotated.push(g.refresh),
                RotateOutcome::Replayed(g) => replayed.push(g.refresh),
                other => panic!("expected a rotation or a replay, got {other:?}"),
            }
        }
        assert_eq!(rotated.len(), 1, "exactly one presentation rotates");
        assert_eq!(replayed, rotated, "the other gets the same successor");
        let stored: i64 = db
            .with_conn(|c| Ok(refresh_tokens::table.count().get_result(c)?))
            .unwrap();
        assert_eq!(stored, 2, "the first token and one successor");
    }

    #[tokio::test]
    async fn a_failing_job_rolls_back_only_itself_and_the_batch_commits() {
        let (db, _dir) = temp_db();
        let release = hold_writer(&db).await;
        let create = |name: &'static str, fail: bool| {
            let db = db.clone();
            tokio::spawn(async move {
                db.run(move |c| {
                    users::create(c, name, "h", &Roles::new([]), t0())?;
                    if fail {
                        return Err(DbError::Inconsistent("stop".into()));
                    }
                    Ok(())
                })
                .await
            })
        };
        let jobs = [create("a", false), create("b", true), create("c", false)];
        until_queued(&db, 3).await;
        drop(release);
        let results: Vec<bool> = futures_util::future::join_all(jobs)
            .await
            .into_iter()
            .map(|r| r.unwrap().is_ok())
            .collect();
        assert_eq!(results, [true, false, true]);
        let names: Vec<String> = db
            .with_conn(|c| {
                Ok(users_table::table
                    .select(users_table::username)
                    .order(users_table::username)
                    .load(c)?)
            })
            .unwrap();
        assert_eq!(names, ["a", "c"]);
    }

    #[tokio::test]
    async fn an_answer_comes_after_the_commit() {
        let (db, dir) = temp_db();
        db.run(|c| users::create(c, "a", "h", &Roles::new([]), t0()).map(drop))
            .await
            .unwrap();
        // another connection sees the write as soon as its caller is answered
        let other = Db::connect(dir.path().join("t.db").to_str().unwrap()).unwrap();
        let seen: i64 = other
            .with_conn(|c| Ok(users_table::table.count().get_result(c)?))
            .unwrap();
        assert_eq!(seen, 1);
    }
}
