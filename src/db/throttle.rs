//! Login throttling: attempts are counted per username and per client
//! address in fixed windows that expire, so a stranger can slow an account
//! down for one window but never lock it out for good.
//!
//! The counts live in the database (`login_attempts`), so every instance on
//! it counts against the same limit: N instances do not give an attacker N
//! times the guesses. An attempt is counted before the password is checked
//! and atomically (one write transaction; on PostgreSQL the conditional
//! increment holds the row lock), so parallel guesses cannot all pass the
//! check before any is recorded. The cheap path: a refusal the database has
//! given is remembered in memory until its window ends, so an attacker who
//! keeps guessing costs no database work. Never on the `/api` path.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;

use super::schema::login_attempts;
use super::{Conn, Db, DbError};
use crate::client_addr::bucket;

/// Attempts allowed per window before answers become 429.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub per_username: u32,
    pub per_address: u32,
    pub window: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            per_username: 5,
            per_address: 20,
            window: Duration::seconds(300),
        }
    }
}

/// Why a login may not proceed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Throttled {
    /// Over a limit: wait `secs` seconds. `remembered`: this instance had
    /// been refused for the bucket already and asked no database.
    #[error("too many attempts; retry in {secs} s")]
    Wait { secs: u64, remembered: bool },
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Whose attempts count together.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Counted<'a> {
    /// A username's (its lower-cased key; empty for a name that cannot
    /// exist), and the address's.
    Username(&'a str),
    /// One known device's (a valid device cookie's id) alone: strangers'
    /// guesses at the username do not stop it.
    Device(&'a str),
}

impl<'a> Counted<'a> {
    /// A known device's attempts when there is one, else the username's.
    pub(crate) fn of(username_key: &'a str, device: Option<&'a str>) -> Self {
        device.map_or(Counted::Username(username_key), Counted::Device)
    }
}

/// An attempt [`Throttle::begin`] counted: the buckets it counted in, the
/// one of the name or device first.
#[must_use = "an attempt is settled once its password was checked"]
#[derive(Debug)]
pub(crate) struct Attempt {
    buckets: Vec<String>,
}

/// What checking a counted attempt found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Settle {
    Succeeded,
    Failed,
    /// Nothing was checked (every hasher was busy).
    NotChecked,
}

/// Past this many remembered refusals, the expired ones are swept (and if
/// that is not enough, all are forgotten: the database still knows).
const MEMO_LIMIT: usize = 10_000;

/// Why [`count`] counted nothing.
#[derive(Debug)]
pub enum CountError {
    /// These buckets are over their limit until the time given.
    Refused(Vec<(String, DateTime<Utc>)>),
    Db(DbError),
}

impl From<diesel::result::Error> for CountError {
    fn from(e: diesel::result::Error) -> Self {
        CountError::Db(e.into())
    }
}

impl From<DbError> for CountError {
    fn from(e: DbError) -> Self {
        CountError::Db(e)
    }
}

#[derive(Debug)]
pub struct Throttle {
    limits: Limits,
    /// Buckets the database refused, until when.
    refused: Mutex<HashMap<String, DateTime<Utc>>>,
}

impl Throttle {
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            refused: Mutex::new(HashMap::new()),
        }
    }

    /// Counts a login attempt against its buckets before it runs, or
    /// refuses it with [`Throttled::Wait`] when any is over its limit.
    /// The attempt is then [`Throttle::settle`]d with what the check found.
    pub(crate) async fn begin(
        &self,
        db: &Db,
        who: Counted<'_>,
        addr: IpAddr,
        now: DateTime<Utc>,
    ) -> Result<Attempt, Throttled> {
        let buckets = self.buckets(who, addr);
        if let Some(secs) = self.remembered(&buckets, now) {
            return Err(Throttled::Wait {
                secs,
                remembered: true,
            });
        }
        let window = self.limits.window;
        let counted = buckets.clone();
        let refused = db
            .run(move |conn| match count(conn, &counted, window, now) {
                Ok(()) => Ok(Vec::new()),
                Err(CountError::Refused(refused)) => Ok(refused),
                Err(CountError::Db(e)) => Err(e),
            })
            .await?;
        let Some(until) = refused.iter().map(|(_, until)| *until).max() else {
            let buckets = buckets.into_iter().map(|(b, _)| b).collect();
            return Ok(Attempt { buckets });
        };
        self.remember(refused, now);
        Err(Throttled::Wait {
            secs: wait_secs(until - now),
            remembered: false,
        })
    }

    /// Settles a counted attempt: a success clears the name's (or the
    /// device's) count and refunds the address; an attempt that never
    /// checked a password (every hasher was busy) is taken back from every
    /// bucket, so an overload does not count as a failure; a failure stays
    /// counted. A database that fails here is logged: the attempt was
    /// answered.
    pub(crate) async fn settle(&self, db: &Db, attempt: Attempt, outcome: Settle) {
        let Attempt { buckets } = attempt;
        let settled = match outcome {
            Settle::Failed => return,
            Settle::Succeeded => db.run(move |conn| succeeded(conn, &buckets)).await,
            Settle::NotChecked => db.run(move |conn| refund(conn, &buckets)).await,
        };
        if let Err(e) = settled {
            log::warn!("settling a login attempt ({outcome:?}) failed: {e}");
        }
    }

    /// Forgets the windows that can no longer refuse anything at `now`.
    pub(crate) async fn purge_stale(&self, db: &Db, now: DateTime<Utc>) -> Result<usize, DbError> {
        let before = now - self.limits.window;
        db.run(move |c| purge(c, before)).await
    }

    /// The buckets an attempt counts in: the username's and the
    /// address's, or a known device's alone. An empty username key is a
    /// name that cannot exist: it gets a bucket per address with the
    /// address's limit, so junk names neither grow the table nor lock out
    /// anyone sooner than the address bucket does.
    fn buckets(&self, who: Counted<'_>, addr: IpAddr) -> Vec<(String, u32)> {
        let addr = bucket(addr);
        let user = match who {
            Counted::Device(id) => return vec![(format!("device:{id}"), self.limits.per_username)],
            Counted::Username("") => (format!("junk:{addr}"), self.limits.per_address),
            Counted::Username(key) => (format!("user:{key}"), self.limits.per_username),
        };
        vec![user, (format!("addr:{addr}"), self.limits.per_address)]
    }

    /// Seconds left on a refusal this instance already got for a bucket.
    fn remembered(&self, buckets: &[(String, u32)], now: DateTime<Utc>) -> Option<u64> {
        let refused = self.lock();
        buckets
            .iter()
            .filter_map(|(b, _)| refused.get(b).filter(|until| **until > now))
            .max()
            .map(|until| wait_secs(*until - now))
    }

    /// Remembers buckets the database refused, each until its window ends:
    /// exactly as long as the database would refuse it too.
    fn remember(&self, refused: Vec<(String, DateTime<Utc>)>, now: DateTime<Utc>) {
        let mut memo = self.lock();
        if memo.len() >= MEMO_LIMIT {
            memo.retain(|_, until| *until > now);
            if memo.len() >= MEMO_LIMIT {
                memo.clear();
            }
        }
        memo.extend(refused);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, DateTime<Utc>>> {
        // A poisoned lock only means another thread panicked mid-update of
        // the memo; it is still usable.
        self.refused.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn wait_secs(left: Duration) -> u64 {
    let ms = left.num_milliseconds().max(0) as u64;
    ms.div_ceil(1000).max(1)
}

/// Counts one attempt against every bucket, or none: if any bucket is over
/// its limit the transaction is rolled back and the answer names the
/// buckets refused and until when. Buckets are locked in the order given
/// (always user, then address), so concurrent attempts cannot deadlock.
pub fn count(
    conn: &mut Conn,
    buckets: &[(String, u32)],
    window: Duration,
    now: DateTime<Utc>,
) -> Result<(), CountError> {
    super::write_tx(conn, |conn| {
        let mut refused = Vec::new();
        for (b, limit) in buckets {
            if let Some(started) = count_one(conn, b, *limit, window, now)? {
                refused.push((b.clone(), started + window));
            }
        }
        if refused.is_empty() {
            Ok(())
        } else {
            Err(CountError::Refused(refused))
        }
    })
}

/// Counts an attempt in one bucket; `Some(window start)` when it is over its
/// limit (nothing counted).
fn count_one(
    conn: &mut Conn,
    bucket: &str,
    limit: u32,
    window: Duration,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, DbError> {
    let limit = i32::try_from(limit).unwrap_or(i32::MAX);
    let now_naive = now.naive_utc();
    let row = || login_attempts::table.find(bucket);
    // an expired window starts again
    diesel::update(row().filter(login_attempts::window_start.le(now_naive - window)))
        .set((
            login_attempts::window_start.eq(now_naive),
            login_attempts::attempts.eq(0),
        ))
        .execute(conn)?;
    // The second try covers a concurrent first attempt inserting the row.
    for _ in 0..2 {
        let counted = diesel::update(row().filter(login_attempts::attempts.lt(limit)))
            .set(login_attempts::attempts.eq(login_attempts::attempts + 1))
            .execute(conn)?;
        if counted > 0 {
            return Ok(None);
        }
        let found: Option<(chrono::NaiveDateTime, i32)> = row()
            .select((login_attempts::window_start, login_attempts::attempts))
            .first(conn)
            .optional()?;
        match found {
            Some((started, attempts)) if attempts >= limit => return Ok(Some(started.and_utc())),
            // a concurrent first attempt inserted it after the update
            // looked (each statement sees what was committed before it, on
            // PostgreSQL): count again
            Some(_) => continue,
            None => {}
        }
        // first attempt in this bucket; a savepoint, so that losing the race
        // for the insert does not abort the whole transaction
        let inserted = conn.transaction(|conn| {
            diesel::insert_into(login_attempts::table)
                .values((
                    login_attempts::bucket.eq(bucket),
                    login_attempts::window_start.eq(now_naive),
                    login_attempts::attempts.eq(1),
                ))
                .execute(conn)
        });
        match inserted.map_err(DbError::from) {
            Ok(_) => return Ok(None),
            Err(e) if super::is_unique_violation(&e) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(DbError::Unavailable(
        "login attempt bucket kept changing".into(),
    ))
}

/// A success: the first bucket's count is cleared, the others refunded.
fn succeeded(conn: &mut Conn, buckets: &[String]) -> Result<(), DbError> {
    let Some((first, rest)) = buckets.split_first() else {
        return Ok(());
    };
    super::write_tx(conn, |conn| {
        diesel::delete(login_attempts::table.find(first)).execute(conn)?;
        rest.iter().try_for_each(|b| give_back(conn, b))
    })
}

fn refund(conn: &mut Conn, buckets: &[String]) -> Result<(), DbError> {
    super::write_tx(conn, |conn| {
        buckets.iter().try_for_each(|b| give_back(conn, b))
    })
}

/// Takes one attempt off `bucket` (never below zero).
fn give_back(conn: &mut Conn, bucket: &str) -> Result<(), DbError> {
    diesel::update(
        login_attempts::table
            .find(bucket)
            .filter(login_attempts::attempts.gt(0)),
    )
    .set(login_attempts::attempts.eq(login_attempts::attempts - 1))
    .execute(conn)?;
    Ok(())
}

/// Forgets windows that started before `before` (they can no longer refuse).
pub(crate) fn purge(conn: &mut Conn, before: DateTime<Utc>) -> Result<usize, DbError> {
    Ok(diesel::delete(
        login_attempts::table.filter(login_attempts::window_start.lt(before.naive_utc())),
    )
    .execute(conn)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ADDR: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
    const OTHER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2));

    struct Fixture {
        db: Db,
        throttle: Throttle,
        t0: DateTime<Utc>,
        _dir: tempfile::TempDir,
    }

    fn fixture() -> Fixture {
        let (db, dir) = crate::db::temp_db();
        Fixture {
            db,
            throttle: Throttle::new(Limits {
                per_username: 3,
                per_address: 5,
                window: Duration::seconds(60),
            }),
            t0: DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
            _dir: dir,
        }
    }

    impl Fixture {
        /// An attempt counted straight in the database (no memo).
        fn begin(&self, user: &str, addr: IpAddr, at: DateTime<Utc>) -> Result<(), u64> {
            let buckets = self.throttle.buckets(Counted::Username(user), addr);
            let window = self.throttle.limits.window;
            match self
                .db
                .with_conn(|c| Ok(count(c, &buckets, window, at)))
                .unwrap()
            {
                Ok(()) => Ok(()),
                Err(CountError::Refused(refused)) => Err(refused
                    .iter()
                    .map(|(_, until)| wait_secs(*until - at))
                    .max()
                    .unwrap()),
                Err(CountError::Db(e)) => panic!("{e}"),
            }
        }

        fn succeeded(&self, user: &str, addr: IpAddr) {
            let buckets: Vec<String> = (self.throttle.buckets(Counted::Username(user), addr))
                .into_iter()
                .map(|(b, _)| b)
                .collect();
            self.db.with_conn(|c| succeeded(c, &buckets)).unwrap();
        }
    }

    #[test]
    fn a_username_is_throttled_after_its_limit_until_the_window_ends() {
        let f = fixture();
        for _ in 0..3 {
            assert!(f.begin("alice", ADDR, f.t0).is_ok());
        }
        assert_eq!(
            f.begin("alice", OTHER, f.t0 + Duration::seconds(10)),
            Err(50)
        );
        assert!(f.begin("bob", OTHER, f.t0).is_ok());
        assert!(
            f.begin("alice", OTHER, f.t0 + Duration::seconds(60))
                .is_ok()
        );
    }

    #[actix_web::test]
    async fn a_refunded_attempt_counts_against_neither_bucket() {
        let f = fixture();
        // many attempts that never ran: none of them is left counted
        for _ in 0..10 {
            let attempt = f
                .throttle
                .begin(&f.db, Counted::Username("alice"), ADDR, f.t0)
                .await
                .unwrap();
            f.throttle.settle(&f.db, attempt, Settle::NotChecked).await;
        }
        for _ in 0..3 {
            assert!(f.begin("alice", OTHER, f.t0).is_ok());
        }
        assert!(f.begin("alice", OTHER, f.t0).is_err());
        for i in 0..5 {
            assert!(f.begin(&format!("user{i}"), ADDR, f.t0).is_ok());
        }
        assert!(f.begin("someone", ADDR, f.t0).is_err());
    }

    #[test]
    fn an_address_is_throttled_across_usernames() {
        let f = fixture();
        for i in 0..5 {
            assert!(f.begin(&format!("user{i}"), ADDR, f.t0).is_ok());
        }
        assert!(f.begin("someone", ADDR, f.t0).is_err());
        assert!(f.begin("someone", OTHER, f.t0).is_ok());
    }

    #[test]
    fn a_refused_attempt_counts_against_neither_bucket() {
        let f = fixture();
        for i in 0..5 {
            f.begin(&format!("user{i}"), ADDR, f.t0).unwrap();
        }
        for _ in 0..10 {
            assert!(f.begin("carol", ADDR, f.t0).is_err());
        }
        assert!(
            f.begin("carol", OTHER, f.t0).is_ok(),
            "carol was not counted"
        );
    }

    #[test]
    fn success_clears_the_username_count_and_refunds_the_address() {
        let f = fixture();
        for _ in 0..4 {
            f.begin("alice", ADDR, f.t0).unwrap();
            f.succeeded("alice", ADDR);
        }
        f.begin("alice", ADDR, f.t0).unwrap();
        f.begin("alice", ADDR, f.t0).unwrap();
        assert!(f.begin("alice", OTHER, f.t0).is_ok());
        assert!(
            f.begin("x", ADDR, f.t0).is_ok(),
            "successes do not count against the address"
        );
    }

    #[actix_web::test]
    async fn a_known_device_counts_alone_and_its_success_clears_only_itself() {
        let f = fixture();
        // strangers throttle alice's name
        for _ in 0..3 {
            f.begin("alice", OTHER, f.t0).unwrap();
        }
        assert!(f.begin("alice", ADDR, f.t0).is_err());
        // her device still gets its own attempts, then is throttled itself
        let device = Counted::Device("d1");
        for _ in 0..3 {
            let attempt = f.throttle.begin(&f.db, device, ADDR, f.t0).await.unwrap();
            f.throttle.settle(&f.db, attempt, Settle::Failed).await;
        }
        assert!(f.throttle.begin(&f.db, device, ADDR, f.t0).await.is_err());
        assert!(
            f.begin("alice", ADDR, f.t0).is_err(),
            "the name stays throttled"
        );
    }

    #[test]
    fn ipv6_clients_are_counted_per_64() {
        let f = fixture();
        for i in 0..5u16 {
            let addr = IpAddr::V6(std::net::Ipv6Addr::new(0x2001, 0xdb8, 0, 1, 0, 0, 0, i));
            assert!(f.begin(&format!("u{i}"), addr, f.t0).is_ok());
        }
        let same_64 = IpAddr::V6(std::net::Ipv6Addr::new(0x2001, 0xdb8, 0, 1, 9, 9, 9, 9));
        assert!(f.begin("v", same_64, f.t0).is_err());
    }

    #[test]
    fn expired_windows_are_purged() {
        let f = fixture();
        f.begin("alice", ADDR, f.t0).unwrap();
        let later = f.t0 + Duration::seconds(61);
        f.begin("bob", OTHER, later).unwrap();
        let n = f.db.with_conn(|c| purge(c, later - Duration::seconds(60)));
        assert_eq!(n.unwrap(), 2, "alice's two buckets");
    }

    #[tokio::test]
    async fn only_the_bucket_refused_is_remembered() {
        let f = fixture();
        for i in 0..5 {
            let name = format!("u{i}");
            let _failed = f
                .throttle
                .begin(&f.db, Counted::Username(&name), ADDR, f.t0)
                .await
                .unwrap();
        }
        let refused = f
            .throttle
            .begin(&f.db, Counted::Username("alice"), ADDR, f.t0)
            .await;
        assert!(matches!(refused, Err(Throttled::Wait { secs: 60, .. })));
        // alice herself is not throttled: from elsewhere she may try
        assert!(
            f.throttle
                .begin(&f.db, Counted::Username("alice"), OTHER, f.t0)
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn a_refusal_is_remembered_without_asking_the_database_again() {
        let f = fixture();
        for _ in 0..3 {
            let _failed = f
                .throttle
                .begin(&f.db, Counted::Username("alice"), ADDR, f.t0)
                .await
                .unwrap();
        }
        let first = f
            .throttle
            .begin(&f.db, Counted::Username("alice"), ADDR, f.t0)
            .await;
        assert!(matches!(first, Err(Throttled::Wait { secs: 60, .. })));
        // the database forgets; the memo still refuses until the window ends
        f.db.with_conn(|c| purge(c, f.t0 + Duration::days(1)))
            .unwrap();
        let at = f.t0 + Duration::seconds(59);
        let memo = f
            .throttle
            .begin(&f.db, Counted::Username("alice"), ADDR, at)
            .await;
        assert!(matches!(
            memo,
            Err(Throttled::Wait {
                secs: 1,
                remembered: true
            })
        ));
        let after = f.t0 + Duration::seconds(60);
        assert!(
            f.throttle
                .begin(&f.db, Counted::Username("alice"), ADDR, after)
                .await
                .is_ok()
        );
    }
}
