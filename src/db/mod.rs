//! The database: connection pool, embedded migrations, and the only code that
//! runs SQL. Knows nothing of HTTP, nor of the use cases built on it
//! (`accounts`).
//!
//! Every call goes through [`Db::run`], which takes a pooled connection and runs
//! the closure on the blocking thread pool, never on an async worker.
//! SQL here stays portable (Diesel's query builder, no SQLite-only statements
//! outside [`SqlitePragmas`]) so a PostgreSQL backend can slot in.

pub mod ledger;
pub mod schema;
pub mod users;

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool};
use diesel::sqlite::SqliteConnection;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

/// The connection type every query runs on.
pub type Conn = SqliteConnection;
type SqlitePool = Pool<ConnectionManager<Conn>>;

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

/// Why a database call failed.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("could not get a database connection: {0}")]
    Pool(#[from] diesel::r2d2::PoolError),
    #[error("database query failed: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("the blocking thread pool is gone")]
    Blocking,
    #[error("applying migrations failed: {0}")]
    Migration(String),
    #[error("DATABASE_URL: {0}")]
    Unsupported(String),
}

/// Settings applied to every SQLite connection the pool opens.
#[derive(Debug)]
struct SqlitePragmas;

impl CustomizeConnection<Conn, diesel::r2d2::Error> for SqlitePragmas {
    fn on_acquire(&self, conn: &mut Conn) -> Result<(), diesel::r2d2::Error> {
        // busy_timeout makes a writer wait for the lock instead of failing;
        // synchronous=FULL makes a rotation the client has seen survive a
        // power loss. (WAL is set once per file, in `Db::connect`.)
        conn.batch_execute(
            "PRAGMA busy_timeout = 5000;
             PRAGMA foreign_keys = ON;
             PRAGMA synchronous = FULL;",
        )
        .map_err(diesel::r2d2::Error::QueryError)
    }
}

/// A cloneable handle on the connection pool.
#[derive(Clone)]
pub struct Db {
    pool: SqlitePool,
}

impl Db {
    /// Opens the pool for `database_url` (a SQLite path or `sqlite://PATH`).
    pub fn connect(database_url: &str) -> Result<Self, DbError> {
        let path = sqlite_path(database_url)?;
        create_owner_only(&path)?;
        // WAL lets readers run beside the one writer. It is a property of
        // the file, set here by one connection: the pool's connections
        // opening at once would otherwise race for the switch.
        let mut first = <Conn as diesel::Connection>::establish(&path)
            .map_err(|e| DbError::Unsupported(format!("cannot open {path}: {e}")))?;
        first.batch_execute("PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL;")?;
        drop(first);
        let pool = Pool::builder()
            .max_size(8)
            .connection_timeout(Duration::from_secs(5))
            .connection_customizer(Box::new(SqlitePragmas))
            .build(ConnectionManager::<Conn>::new(path))?;
        Ok(Self { pool })
    }

    /// Applies pending migrations; returns how many ran.
    pub fn migrate(&self) -> Result<usize, DbError> {
        let mut conn = self.pool.get()?;
        conn.run_pending_migrations(MIGRATIONS)
            .map(|done| done.len())
            .map_err(|e| DbError::Migration(e.to_string()))
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

    /// Runs `f` with a pooled connection on the blocking thread pool.
    pub async fn run<T, F>(&self, f: F) -> Result<T, DbError>
    where
        F: FnOnce(&mut Conn) -> Result<T, DbError> + Send + 'static,
        T: Send + 'static,
    {
        let db = self.clone();
        tokio::task::spawn_blocking(move || db.with_conn(f))
            .await
            .map_err(|_| DbError::Blocking)?
    }

    /// Whether the database answers a trivial query.
    pub async fn ping(&self) -> bool {
        self.run(|conn| Ok(conn.batch_execute("SELECT 1")?))
            .await
            .is_ok()
    }
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

fn sqlite_path(database_url: &str) -> Result<String, DbError> {
    if database_url.starts_with("postgres://") || database_url.starts_with("postgresql://") {
        return Err(DbError::Unsupported(
            "PostgreSQL support is not built yet; use a SQLite path".into(),
        ));
    }
    let path = database_url
        .strip_prefix("sqlite://")
        .or_else(|| database_url.strip_prefix("sqlite:"))
        .unwrap_or(database_url);
    if path.is_empty() {
        return Err(DbError::Unsupported("empty SQLite path".into()));
    }
    Ok(path.to_owned())
}

/// Runs `f` in a write transaction: on SQLite an `IMMEDIATE` one, which
/// takes the write lock before the first read, so a read-then-write use case
/// never fails with SQLITE_BUSY halfway and concurrent callers serialise.
/// Inside another write transaction it is a savepoint of that one.
pub fn write_tx<T, E: From<diesel::result::Error>>(
    conn: &mut Conn,
    f: impl FnOnce(&mut Conn) -> Result<T, E>,
) -> Result<T, E> {
    use diesel::connection::{Connection, TransactionManager};
    let depth = <Conn as Connection>::TransactionManager::transaction_manager_status_mut(conn)
        .transaction_depth()?;
    if depth.is_some() {
        conn.transaction(f)
    } else {
        conn.immediate_transaction(f)
    }
}

/// Whether a Diesel error is a unique-constraint violation.
pub fn is_unique_violation(err: &DbError) -> bool {
    matches!(
        err,
        DbError::Query(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _
        ))
    )
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
    fn every_connection_is_durable_wal_with_foreign_keys() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::connect(dir.path().join("t.db").to_str().unwrap()).unwrap();
        db.with_conn(|c| {
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
    fn postgres_urls_are_refused_until_that_backend_exists() {
        assert!(matches!(
            Db::connect("postgres://localhost/x"),
            Err(DbError::Unsupported(_))
        ));
    }
}
