//! The database: one connection type over SQLite and PostgreSQL, the pool,
//! embedded migrations per backend, and the only code that runs SQL. Knows
//! nothing of HTTP, nor of the use cases built on it (`accounts`).
//!
//! Query code is written once, against [`Conn`] (Diesel's `MultiConnection`
//! over both backends). What differs between the engines lives here and
//! nowhere else: how a connection is opened and set up, how a write
//! transaction starts ([`write_tx`]), the migration lock, and the
//! revocation notice ([`notify_revoked`]).
//!
//! Every call from a request goes through [`Db::run`] (anything that may
//! write) or [`Db::read`] (read-only), never on an async worker. On
//! PostgreSQL both take a pooled connection on the blocking thread pool. On
//! SQLite `run` goes to the process's one writer ([`writer`]: one thread,
//! one connection, group commit), so in-process writers never wait for each
//! other's lock; `read` takes a pooled connection, WAL letting readers run
//! beside the writer.

pub mod ceremonies;
pub mod events;
pub mod factors;
pub mod ledger;
pub mod listen;
pub mod oidc;
pub mod passkeys;
pub mod pending;
pub mod schema;
pub mod secrets;
pub mod throttle;
pub mod tickets;
pub mod users;
pub mod writer;

use std::time::Duration;

use diesel::connection::{Connection, SimpleConnection, TransactionManager};
use diesel::pg::PgConnection;
use diesel::r2d2::{ManageConnection, Pool, R2D2Connection};
use diesel::result::{DatabaseErrorKind, Error as QueryError};
use diesel::sqlite::SqliteConnection;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

/// The connection every query runs on: one of the two backends.
#[derive(diesel::MultiConnection)]
pub enum Conn {
    Sqlite(SqliteConnection),
    Pg(PgConnection),
}

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// The key of the PostgreSQL advisory lock migrations run under
/// (`"portcullis"` in ASCII), so instances starting at once take turns.
const MIGRATION_LOCK: i64 = 0x706f_7274_6375_6c6c;

/// The PostgreSQL channel revocations are announced on.
pub(crate) const REVOKED_CHANNEL: &str = "portcullis_revoked";

/// Why a database call failed.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// No connection within the connect timeout, a connection lost
    /// mid-call, a statement over its timeout or a lock wait that gave up:
    /// the database is (for now) not answering. Callers answer 503.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    #[error("database query failed: {0}")]
    Query(diesel::result::Error),
    #[error("the blocking thread pool is gone")]
    Blocking,
    #[error("applying migrations failed: {0}")]
    Migration(String),
    #[error("DATABASE_URL: {0}")]
    Unsupported(String),
    /// The database holds something the code never writes.
    #[error("unexpected database content: {0}")]
    Inconsistent(String),
}

impl From<diesel::result::Error> for DbError {
    fn from(e: diesel::result::Error) -> Self {
        if is_outage(&e) {
            DbError::Unavailable(one_line(&e))
        } else {
            DbError::Query(e)
        }
    }
}

impl From<diesel::r2d2::PoolError> for DbError {
    fn from(e: diesel::r2d2::PoolError) -> Self {
        DbError::Unavailable(one_line(&e))
    }
}

/// libpq's messages span lines; logs and the CLI's cause want one. A line
/// repeated is said once: libpq tries with and without TLS
/// (`sslmode=prefer`) and reports each attempt's identical failure.
fn one_line(e: &impl std::fmt::Display) -> String {
    let mut said: Vec<String> = Vec::new();
    for line in e.to_string().lines() {
        let line = line.split_whitespace().collect::<Vec<_>>().join(" ");
        if !line.is_empty() && !said.contains(&line) {
            said.push(line);
        }
    }
    said.join(" ")
}

/// Logs the pool's failed connection attempts on one line each, as a
/// warning, but a cause only once until a connection succeeds again: the
/// pool retries by itself (requests meanwhile answer 503), and an outage
/// is one line, not one a second.
#[derive(Debug, Clone, Default)]
struct LogConnectFailures {
    /// The cause last logged; cleared by a connection that succeeds.
    last: std::sync::Arc<std::sync::Mutex<Option<String>>>,
}

impl LogConnectFailures {
    fn connected(&self) {
        if let Ok(mut last) = self.last.lock()
            && last.take().is_some()
        {
            log::info!("database connection restored");
        }
    }
}

impl diesel::r2d2::HandleError<diesel::r2d2::Error> for LogConnectFailures {
    fn handle_error(&self, error: diesel::r2d2::Error) {
        let cause = one_line(&error);
        let Ok(mut last) = self.last.lock() else {
            return;
        };
        if last.as_deref() != Some(cause.as_str()) {
            log::warn!("database connection failed: {cause}");
            *last = Some(cause);
        }
    }
}

/// Whether a query error means "the database is not answering" rather than
/// "this query is wrong".
fn is_outage(e: &QueryError) -> bool {
    match e {
        QueryError::DatabaseError(kind, info) => match kind {
            DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand => true,
            DatabaseErrorKind::Unknown => {
                // Diesel keeps no SQLSTATE for these; the server's texts are
                // stable: a statement timeout (57014), an administrator
                // shutdown (57P01…), SQLite's busy timeout.
                let message = info.message();
                [
                    "statement timeout",
                    "terminating connection",
                    "server closed the connection",
                    "no connection to the server",
                    "database is locked",
                ]
                .iter()
                .any(|needle| message.contains(needle))
            }
            _ => false,
        },
        QueryError::BrokenTransactionManager => true,
        _ => false,
    }
}

/// Which engine a `DATABASE_URL` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
}

/// How to reach the database and how long to wait for it.
#[derive(Clone)]
pub struct DbSettings {
    /// A SQLite path (or `sqlite://PATH`), or a `postgres://` URL.
    pub url: String,
    /// Most connections this process holds at once.
    pub pool_size: u32,
    /// Longest a statement may run (PostgreSQL `statement_timeout`), and
    /// longest SQLite waits for the write lock.
    pub statement_timeout: Duration,
    /// Longest a caller waits for a connection (and PostgreSQL's
    /// `connect_timeout`) before the answer is 503.
    pub connect_timeout: Duration,
}

impl DbSettings {
    pub(crate) const DEFAULT_POOL_SIZE: u32 = 10;
    pub(crate) const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(5);
    pub(crate) const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

    /// `url` with the default pool size and timeouts.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            pool_size: Self::DEFAULT_POOL_SIZE,
            statement_timeout: Self::DEFAULT_STATEMENT_TIMEOUT,
            connect_timeout: Self::DEFAULT_CONNECT_TIMEOUT,
        }
    }

    /// The URL with any password replaced, for logs and messages.
    pub(crate) fn redacted_url(&self) -> String {
        let Some((scheme, rest)) = self.url.split_once("://") else {
            return self.url.clone();
        };
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        match authority.rsplit_once('@') {
            Some((userinfo, host)) => {
                let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
                format!("{scheme}://{user}:***@{host}/{path}")
            }
            None => self.url.clone(),
        }
    }

    /// The backend and where, as logs and `config check` tell it:
    /// `sqlite portcullis.db`, `postgres postgres://u:***@host/db`.
    pub(crate) fn describe(&self) -> String {
        match self.target() {
            Ok(Target::Sqlite(path)) => format!("sqlite {path}"),
            Ok(Target::Postgres(_)) => format!("postgres {}", self.redacted_url()),
            Err(_) => self.redacted_url(),
        }
    }

    /// The SQLite file the URL names, if it names one.
    pub(crate) fn sqlite_path(&self) -> Option<String> {
        match self.target() {
            Ok(Target::Sqlite(path)) => Some(path),
            _ => None,
        }
    }

    /// The engine the URL names, and what to hand that engine's driver.
    fn target(&self) -> Result<Target, DbError> {
        let url = self.url.trim();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Target::Postgres(with_libpq_defaults(url, self)));
        }
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .unwrap_or(url);
        if path.is_empty() {
            return Err(DbError::Unsupported("empty SQLite path".into()));
        }
        Ok(Target::Sqlite(path.to_owned()))
    }
}

/// Adds libpq parameters the URL does not set, so a database host that
/// stops answering costs seconds, not the operating system's minutes:
/// `connect_timeout`; `tcp_user_timeout`, after which unacknowledged data
/// fails the connection (and the pool replaces it); `keepalives_idle`, so an
/// idle pooled connection to a vanished host is noticed too.
fn with_libpq_defaults(url: &str, settings: &DbSettings) -> String {
    let user_timeout = settings.statement_timeout + settings.connect_timeout;
    let defaults = [
        (
            "connect_timeout",
            settings.connect_timeout.as_secs().max(1).to_string(),
        ),
        ("tcp_user_timeout", user_timeout.as_millis().to_string()),
        ("keepalives_idle", "30".to_owned()),
    ];
    let mut url = url.to_owned();
    for (name, value) in defaults {
        if !url.contains(&format!("{name}=")) {
            let sep = if url.contains('?') { '&' } else { '?' };
            url = format!("{url}{sep}{name}={value}");
        }
    }
    url
}

impl std::fmt::Debug for DbSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DbSettings")
            .field("url", &self.redacted_url())
            .field("pool_size", &self.pool_size)
            .field("statement_timeout", &self.statement_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .finish()
    }
}

#[derive(Clone)]
enum Target {
    Sqlite(String),
    Postgres(String),
}

/// Opens connections of the configured backend and sets each one up. (The
/// derive's own `establish` tries every backend in turn; a PostgreSQL URL
/// must never fall through to a SQLite file of that name.)
#[derive(Clone)]
struct Manager {
    target: Target,
    setup: String,
    failures: LogConnectFailures,
}

impl std::fmt::Debug for Manager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // the target may hold a password
        f.write_str("Manager")
    }
}

impl ManageConnection for Manager {
    type Connection = Conn;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<Conn, Self::Error> {
        let mut conn = match &self.target {
            Target::Sqlite(path) => Conn::Sqlite(
                SqliteConnection::establish(path).map_err(diesel::r2d2::Error::ConnectionError)?,
            ),
            Target::Postgres(url) => Conn::Pg(
                PgConnection::establish(url).map_err(diesel::r2d2::Error::ConnectionError)?,
            ),
        };
        conn.batch_execute(&self.setup)
            .map_err(diesel::r2d2::Error::QueryError)?;
        self.failures.connected();
        Ok(conn)
    }

    fn is_valid(&self, conn: &mut Conn) -> Result<(), Self::Error> {
        conn.ping().map_err(diesel::r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut Conn) -> bool {
        std::thread::panicking() || conn.is_broken()
    }
}

/// The statements every new connection runs.
fn session_setup(target: &Target, statement_timeout: Duration) -> String {
    let ms = statement_timeout.as_millis();
    match target {
        // busy_timeout makes a writer wait for the lock instead of failing;
        // synchronous=FULL makes a rotation the client has seen survive a
        // power loss. (WAL is set once per file, in `Db::open`.)
        Target::Sqlite(_) => format!(
            "PRAGMA busy_timeout = {ms};
             PRAGMA foreign_keys = ON;
             PRAGMA synchronous = FULL;"
        ),
        // Timestamps are bound as UTC `timestamp` values into `timestamptz`
        // columns: the session time zone must be UTC for that to be exact.
        Target::Postgres(_) => format!(
            "SET TIME ZONE 'UTC';
             SET statement_timeout = {ms};
             SET application_name = 'portcullis';"
        ),
    }
}

/// Switches a SQLite file to WAL, waiting up to `patience` for other
/// processes opening it at the same moment. The switch upgrades a shared
/// lock to an exclusive one, and SQLite answers "locked" at once rather than
/// call the busy handler there (waiting could deadlock), so the wait is here.
fn enable_wal(conn: &mut SqliteConnection, patience: Duration) -> Result<(), DbError> {
    let deadline = std::time::Instant::now() + patience;
    conn.batch_execute(&format!("PRAGMA busy_timeout = {};", patience.as_millis()))?;
    loop {
        match conn.batch_execute("PRAGMA journal_mode = WAL;") {
            Err(e) if is_outage(&e) && std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5));
            }
            done => return Ok(done?),
        }
    }
}

/// A cloneable handle on the connection pool.
#[derive(Clone)]
pub struct Db {
    pool: Pool<Manager>,
    /// SQLite only: the one writer of this process.
    writer: Option<writer::Writer>,
    backend: Backend,
    settings: DbSettings,
}

impl Db {
    /// Opens a pool for `database_url` with the default settings.
    pub fn connect(database_url: &str) -> Result<Self, DbError> {
        Self::open(&DbSettings::new(database_url))
    }

    /// Opens the pool. Fails when the database cannot be reached within the
    /// connect timeout.
    pub fn open(settings: &DbSettings) -> Result<Self, DbError> {
        let target = settings.target()?;
        let backend = match target {
            Target::Sqlite(ref path) => {
                create_owner_only(path)?;
                // WAL lets readers run beside the one writer. It is a property
                // of the file, set here by one connection: the pool's
                // connections opening at once would otherwise race for it.
                let mut first = SqliteConnection::establish(path)
                    .map_err(|e| DbError::Unsupported(format!("cannot open {path}: {e}")))?;
                enable_wal(&mut first, settings.statement_timeout)?;
                Backend::Sqlite
            }
            Target::Postgres(ref url) => {
                // one attempt first, so that start-up fails with libpq's
                // own cause, once, and a refused password is not retried
                // for the whole connect timeout by the pool
                PgConnection::establish(url).map_err(|e| DbError::Unavailable(one_line(&e)))?;
                Backend::Postgres
            }
        };
        let failures = LogConnectFailures::default();
        let manager = Manager {
            setup: session_setup(&target, settings.statement_timeout),
            target,
            failures: failures.clone(),
        };
        let writer = match backend {
            Backend::Sqlite => Some(writer::Writer::start(manager.clone())?),
            Backend::Postgres => None,
        };
        let pool = Pool::builder()
            .max_size(settings.pool_size.max(1))
            // open connections as they are needed, not all at start-up
            .min_idle(Some(1))
            .connection_timeout(settings.connect_timeout)
            .error_handler(Box::new(failures))
            .build(manager)?;
        Ok(Self {
            pool,
            writer,
            backend,
            settings: settings.clone(),
        })
    }

    pub(crate) fn backend(&self) -> Backend {
        self.backend
    }

    /// Applies pending migrations; returns how many ran. Safe to call from
    /// several processes at once: the whole run is one write transaction,
    /// which on SQLite holds the file's write lock and on PostgreSQL first
    /// takes an advisory lock, so the others wait and then find nothing to do.
    pub fn migrate(&self) -> Result<usize, DbError> {
        let mut conn = self.pool.get()?;
        let migrations = match self.backend {
            Backend::Sqlite => SQLITE_MIGRATIONS,
            Backend::Postgres => POSTGRES_MIGRATIONS,
        };
        write_tx(&mut conn, |conn| {
            if let Conn::Pg(pg) = conn {
                // a migration may take longer than a request's statement
                // timeout, and the others must wait for it however long
                pg.batch_execute(&format!(
                    "SET LOCAL statement_timeout = 0;
                     SELECT pg_advisory_xact_lock({MIGRATION_LOCK});"
                ))?;
            }
            conn.run_pending_migrations(migrations)
                .map(|done| done.len())
                .map_err(|e| DbError::Migration(e.to_string()))
        })
    }

    /// How many migrations are applied and how many are pending; changes
    /// nothing.
    pub fn migration_status(&self) -> Result<(usize, usize), DbError> {
        let mut conn = self.pool.get()?;
        let migrations = match self.backend {
            Backend::Sqlite => SQLITE_MIGRATIONS,
            Backend::Postgres => POSTGRES_MIGRATIONS,
        };
        let pending = conn
            .pending_migrations(migrations)
            .map_err(|e| DbError::Migration(e.to_string()))?
            .len();
        let applied = conn
            .applied_migrations()
            .map_err(|e| DbError::Migration(e.to_string()))?
            .len();
        Ok((applied, pending))
    }

    /// How many migrations this binary embeds for `settings`' backend.
    pub fn migrations_known(settings: &DbSettings) -> usize {
        let migrations = match settings.target() {
            Ok(Target::Postgres(_)) => POSTGRES_MIGRATIONS,
            _ => SQLITE_MIGRATIONS,
        };
        diesel::migration::MigrationSource::<diesel::sqlite::Sqlite>::migrations(&migrations)
            .map_or(0, |m| m.len())
    }

    /// Runs `f` with a pooled connection, synchronously. For the CLI and
    /// start-up only; request handlers use [`Db::run`].
    pub fn with_conn<T>(
        &self,
        f: impl FnOnce(&mut Conn) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        let mut conn = self.pool.get()?;
        f(&mut conn)
    }

    /// [`Db::with_conn`] for work whose error is its own.
    fn with_conn_as<T, E: From<DbError>>(
        &self,
        f: impl FnOnce(&mut Conn) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut conn = self.pool.get().map_err(DbError::from)?;
        f(&mut conn)
    }

    /// Runs `f`, which may write, and answers once what it wrote is
    /// committed. On SQLite `f` runs on the process's writer, in a savepoint
    /// of a batch's transaction; on PostgreSQL as [`Db::read`] does. The
    /// caller gets an answer within the connect timeout plus the statement
    /// timeout, even from a database that went silent without closing the
    /// connection: then `f` is left to fail on its own. `f`'s error is any
    /// type a [`DbError`] converts into, so a use case returns its own.
    pub async fn run<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut Conn) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let Some(writer) = &self.writer else {
            return self.read(f).await;
        };
        let limit = self.settings.connect_timeout + self.settings.statement_timeout;
        match tokio::time::timeout(limit, writer.run(f)).await {
            Ok(done) => done,
            Err(_) => Err(too_late().into()),
        }
    }

    /// Runs `f`, which only reads, with a pooled connection on the blocking
    /// thread pool, within the same time limit as [`Db::run`]. (A write here
    /// would still work, but on SQLite wait for the writer's lock.)
    pub async fn read<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut Conn) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let db = self.clone();
        let limit = self.settings.connect_timeout + self.settings.statement_timeout;
        let call = tokio::task::spawn_blocking(move || db.with_conn_as(f));
        match tokio::time::timeout(limit, call).await {
            Ok(done) => done.map_err(|_| DbError::Blocking)?,
            Err(_) => Err(too_late().into()),
        }
    }

    /// Whether the database answers a trivial query within a second or two.
    pub(crate) async fn ping(&self) -> bool {
        let db = self.clone();
        let wait = self.settings.connect_timeout.min(Duration::from_secs(2));
        let call = tokio::task::spawn_blocking(move || -> Result<(), DbError> {
            let mut conn = db.pool.get_timeout(wait)?;
            Ok(conn.batch_execute("SELECT 1")?)
        });
        matches!(
            tokio::time::timeout(wait + Duration::from_secs(1), call).await,
            Ok(Ok(Ok(())))
        )
    }

    /// A connection outside the pool, for a long-lived `LISTEN`.
    pub(crate) fn dedicated_pg(&self) -> Result<Option<PgConnection>, DbError> {
        let Target::Postgres(url) = self.settings.target()? else {
            return Ok(None);
        };
        let mut conn = PgConnection::establish(&url)
            .map_err(|e| DbError::Unavailable(format!("cannot connect: {}", one_line(&e))))?;
        conn.batch_execute(&session_setup(
            &Target::Postgres(url),
            self.settings.statement_timeout,
        ))?;
        Ok(Some(conn))
    }
}

/// What a caller gets from a database that did not answer within the
/// connect timeout plus the statement timeout.
fn too_late() -> DbError {
    DbError::Unavailable("the database did not answer in time".into())
}

/// Creates a new SQLite file owner-only (0600) before SQLite opens it: it
/// holds password hashes and session data. SQLite gives the `-wal` and
/// `-shm` files it creates beside it the same mode. An existing file is
/// left as it is.
fn create_owner_only(path: &str) -> Result<(), DbError> {
    if path == ":memory:" || path.starts_with("file:") {
        return Ok(());
    }
    match crate::files::write_private_file(std::path::Path::new(path), b"") {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(DbError::Unsupported(format!("cannot create {path}: {e}"))),
    }
}

/// Runs `f` in a write transaction. On SQLite an `IMMEDIATE` one, which
/// takes the write lock before the first read, so a read-then-write use case
/// never fails with SQLITE_BUSY halfway and concurrent callers serialise. On
/// PostgreSQL a plain (read committed) transaction: the use cases lock the
/// rows they decide on with conditional updates (see `ledger::rotate`).
/// Inside another transaction it is a savepoint of that one. Rolled back
/// when `f` fails.
pub fn write_tx<T, E: From<diesel::result::Error>>(
    conn: &mut Conn,
    f: impl FnOnce(&mut Conn) -> Result<T, E>,
) -> Result<T, E> {
    let depth = <Conn as Connection>::TransactionManager::transaction_manager_status_mut(conn)
        .transaction_depth()?;
    if depth.is_some() {
        return conn.transaction(f);
    }
    begin_write(conn)?;
    type Tm = <Conn as Connection>::TransactionManager;
    match f(conn) {
        Ok(value) => {
            if let Err(commit) = Tm::commit_transaction(conn) {
                // a failed COMMIT leaves the transaction to roll back
                let _ = Tm::rollback_transaction(conn);
                return Err(commit.into());
            }
            Ok(value)
        }
        Err(e) => {
            // if the rollback fails too, the connection is broken and the
            // pool drops it; the caller's error is the one to report
            let _ = Tm::rollback_transaction(conn);
            Err(e)
        }
    }
}

/// Opens a write transaction: `BEGIN IMMEDIATE` on SQLite (see
/// [`write_tx`]), a plain `BEGIN` on PostgreSQL. Shared with the writer's
/// batches.
fn begin_write(conn: &mut Conn) -> diesel::QueryResult<()> {
    use diesel::connection::AnsiTransactionManager;
    match conn {
        Conn::Sqlite(c) => AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE"),
        Conn::Pg(c) => AnsiTransactionManager::begin_transaction(c),
    }
}

/// Announces revoked sessions to every instance listening (PostgreSQL
/// `NOTIFY`, delivered when the transaction commits). On SQLite nothing is
/// sent: other processes find revocations by polling.
pub(crate) fn notify_revoked(conn: &mut Conn, session_ids: &[&str]) -> Result<(), DbError> {
    use diesel::RunQueryDsl;
    use diesel::sql_types::Text;
    let Conn::Pg(pg) = conn else {
        return Ok(());
    };
    for id in session_ids {
        diesel::sql_query("SELECT pg_notify($1, $2)")
            .bind::<Text, _>(REVOKED_CHANNEL)
            .bind::<Text, _>(id)
            .execute(pg)?;
    }
    Ok(())
}

/// Whether a Diesel error is a unique-constraint violation.
pub(crate) fn is_unique_violation(err: &DbError) -> bool {
    matches!(
        err,
        DbError::Query(diesel::result::Error::DatabaseError(
            DatabaseErrorKind::UniqueViolation,
            _
        ))
    )
}

/// For unit tests: a migrated SQLite database in a fresh temporary
/// directory, which lives as long as the returned guard.
#[cfg(test)]
pub(crate) fn temp_db() -> (Db, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::connect(dir.path().join("t.db").to_str().unwrap()).unwrap();
    db.migrate().unwrap();
    (db, dir)
}

#[cfg(test)]
mod tests {
    use diesel::prelude::*;
    use diesel::sql_types::{Integer, Text};

    use super::*;

    #[derive(QueryableByName)]
    struct JournalMode {
        #[diesel(sql_type = Text)]
        journal_mode: String,
    }

    #[derive(QueryableByName)]
    struct ForeignKeys {
        #[diesel(sql_type = Integer)]
        foreign_keys: i32,
    }

    #[derive(QueryableByName)]
    struct Synchronous {
        #[diesel(sql_type = Integer)]
        synchronous: i32,
    }

    #[test]
    fn every_sqlite_connection_is_durable_wal_with_foreign_keys() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::connect(dir.path().join("t.db").to_str().unwrap()).unwrap();
        db.with_conn(|c| {
            let Conn::Sqlite(c) = c else {
                panic!("a path opens SQLite")
            };
            let mode: JournalMode = diesel::sql_query("PRAGMA journal_mode").get_result(c)?;
            assert_eq!(mode.journal_mode, "wal");
            let fk: ForeignKeys = diesel::sql_query("PRAGMA foreign_keys").get_result(c)?;
            assert_eq!(fk.foreign_keys, 1);
            // 2 = FULL
            let sync: Synchronous = diesel::sql_query("PRAGMA synchronous").get_result(c)?;
            assert_eq!(sync.synchronous, 2);
            Ok(())
        })
        .unwrap();
    }

    #[test]
    fn the_url_scheme_picks_the_backend() {
        let pg = DbSettings::new("postgres://u:p@127.0.0.1/db");
        assert!(matches!(
            pg.target().unwrap(),
            Target::Postgres(url) if url == "postgres://u:p@127.0.0.1/db?connect_timeout=5\
                &tcp_user_timeout=10000&keepalives_idle=30"
        ));
        let pg = DbSettings::new(
            "postgresql://h/db?sslmode=require&connect_timeout=2&tcp_user_timeout=0",
        );
        assert!(matches!(
            pg.target().unwrap(),
            Target::Postgres(url) if url == "postgresql://h/db?sslmode=require&connect_timeout=2\
                &tcp_user_timeout=0&keepalives_idle=30"
        ));
        assert!(matches!(
            DbSettings::new("sqlite://x.db").target().unwrap(),
            Target::Sqlite(path) if path == "x.db"
        ));
        assert!(matches!(
            DbSettings::new("data/x.db").target().unwrap(),
            Target::Sqlite(path) if path == "data/x.db"
        ));
        assert!(DbSettings::new("sqlite://").target().is_err());
    }

    #[test]
    fn the_password_never_shows() {
        let settings = DbSettings::new("postgres://app:s3cret@db:5432/gw?sslmode=require");
        assert_eq!(
            settings.redacted_url(),
            "postgres://app:***@db:5432/gw?sslmode=require"
        );
        assert!(!format!("{settings:?}").contains("s3cret"));
    }

    #[test]
    fn a_cause_repeated_by_libpq_is_said_once_on_one_line() {
        let twice = "connection to server failed: FATAL:  password authentication failed\n\
                     connection to server failed: FATAL:  password authentication failed\n";
        assert_eq!(
            one_line(&twice),
            "connection to server failed: FATAL: password authentication failed"
        );
        assert_eq!(one_line(&"a\n  b\n"), "a b");
    }

    #[test]
    fn an_unreachable_postgres_fails_within_the_connect_timeout() {
        // nothing listens on port 9 (discard) on loopback
        let settings = DbSettings {
            connect_timeout: Duration::from_secs(1),
            ..DbSettings::new("postgres://u:p@127.0.0.1:9/db")
        };
        let started = std::time::Instant::now();
        assert!(matches!(Db::open(&settings), Err(DbError::Unavailable(_))));
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn a_failed_write_transaction_leaves_nothing_behind() {
        let (db, _dir) = temp_db();
        let failed: Result<(), DbError> = db.with_conn(|c| {
            write_tx(c, |c| {
                users::create(
                    c,
                    "alice",
                    "h",
                    &crate::auth::Roles::new([]),
                    chrono::DateTime::UNIX_EPOCH,
                )?;
                Err(DbError::Migration("stop".into()))
            })
        });
        assert!(failed.is_err());
        assert!(db.with_conn(users::list).unwrap().is_empty());
    }
}
