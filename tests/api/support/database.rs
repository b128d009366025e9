//! Each test app's database: a temp SQLite file, or, when
//! `PORTCULLIS_TEST_DATABASE` names a PostgreSQL server
//! (`postgres://user:pw@host/postgres`, a role that may create databases),
//! a fresh database on it per test app, dropped when the app is. Tests that
//! need PostgreSQL whatever the suite runs on ([`postgres_or_skip`]) use
//! `PORTCULLIS_TEST_POSTGRES`, else that same server; without either they
//! skip, saying so, unless `PORTCULLIS_REQUIRE_POSTGRES=1` makes that a
//! failure.

use portcullis::db::Db;

use super::TestApp;

/// A test's database: a temp SQLite file, or a fresh PostgreSQL database
/// dropped at the end.
pub struct TestDatabase {
    pub url: String,
    kind: DatabaseKind,
}

enum DatabaseKind {
    /// The file's folder, removed when dropped.
    Sqlite {
        _dir: tempfile::TempDir,
    },
    Postgres {
        admin_url: String,
        name: String,
    },
}

impl TestDatabase {
    /// What the suite runs on: `PORTCULLIS_TEST_DATABASE`, else SQLite.
    pub fn for_suite() -> Self {
        match std::env::var("PORTCULLIS_TEST_DATABASE") {
            Ok(url) if is_postgres_url(&url) => Self::postgres(&url),
            Ok(url) if !url.is_empty() => {
                panic!("PORTCULLIS_TEST_DATABASE must be a postgres:// URL (or unset for SQLite)")
            }
            _ => Self::sqlite(),
        }
    }

    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        Self {
            url: dir.path().join("portcullis.db").display().to_string(),
            kind: DatabaseKind::Sqlite { _dir: dir },
        }
    }

    /// A new, empty database on the server `admin_url` connects to. Its
    /// default time zone is not UTC, so a test catches the gateway reading
    /// or writing a timestamp in the session's zone.
    pub fn postgres(admin_url: &str) -> Self {
        use diesel::{Connection, RunQueryDsl};
        let name = format!("portcullis_t_{}", uuid::Uuid::new_v4().simple());
        let mut admin = diesel::PgConnection::establish(admin_url)
            .unwrap_or_else(|e| panic!("cannot reach the test PostgreSQL server: {e}"));
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .unwrap();
        diesel::sql_query(format!(
            "ALTER DATABASE {name} SET timezone TO 'America/New_York'"
        ))
        .execute(&mut admin)
        .unwrap();
        Self {
            url: with_database(admin_url, &name),
            kind: DatabaseKind::Postgres {
                admin_url: admin_url.to_owned(),
                name,
            },
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self.kind, DatabaseKind::Postgres { .. })
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        use diesel::{Connection, RunQueryDsl};
        if let DatabaseKind::Postgres { admin_url, name } = &self.kind
            && let Ok(mut admin) = diesel::PgConnection::establish(admin_url)
        {
            let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut admin);
        }
    }
}

fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// `url` naming database `name` instead of its own.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let (server, _) = base
        .rsplit_once('/')
        .filter(|(server, _)| server.ends_with(|c| c != '/'))
        .unwrap_or((base, ""));
    let query = if query.is_empty() {
        String::new()
    } else {
        format!("?{query}")
    };
    format!("{server}/{name}{query}")
}

/// A pool on the database at `url`.
pub fn open_db(url: &str) -> Db {
    Db::connect(url).unwrap()
}

/// A pool on the database at `url`, migrated to the current schema.
pub fn migrated_db(url: &str) -> Db {
    let db = open_db(url);
    db.migrate().unwrap();
    db
}

/// The PostgreSQL server for tests that need one (`PORTCULLIS_TEST_POSTGRES`,
/// else a `postgres://` `PORTCULLIS_TEST_DATABASE`), or `None` after saying
/// that `test` is skipped. With `PORTCULLIS_REQUIRE_POSTGRES=1` a missing
/// server fails the test instead.
pub fn postgres_or_skip(test: &str) -> Option<String> {
    let url = ["PORTCULLIS_TEST_POSTGRES", "PORTCULLIS_TEST_DATABASE"]
        .iter()
        .filter_map(|var| std::env::var(var).ok())
        .find(|url| is_postgres_url(url));
    if url.is_none() {
        let why =
            "set PORTCULLIS_TEST_POSTGRES=postgres://USER:PW@HOST/postgres (a role with CREATEDB)";
        if std::env::var("PORTCULLIS_REQUIRE_POSTGRES").as_deref() == Ok("1") {
            panic!("{test} needs PostgreSQL and PORTCULLIS_REQUIRE_POSTGRES=1: {why}");
        }
        eprintln!("skipping {test}: it needs PostgreSQL; {why}");
    }
    url
}

impl TestApp {
    /// Everything the database stores, as bytes to search: the SQLite file
    /// and its write-ahead log, or every row of every table as text.
    pub fn stored_bytes(&self) -> Vec<u8> {
        if !self.postgres {
            let mut bytes = std::fs::read(&self.database_url).unwrap();
            bytes.extend(std::fs::read(format!("{}-wal", self.database_url)).unwrap_or_default());
            return bytes;
        }
        use diesel::{Connection, RunQueryDsl};
        #[derive(diesel::QueryableByName)]
        struct Row {
            #[diesel(sql_type = diesel::sql_types::Text)]
            text: String,
        }
        let mut conn = diesel::PgConnection::establish(&self.database_url).unwrap();
        let tables: Vec<Row> = diesel::sql_query(
            "SELECT table_name::text AS text FROM information_schema.tables \
             WHERE table_schema = 'public'",
        )
        .load(&mut conn)
        .unwrap();
        let mut bytes = Vec::new();
        for table in tables {
            let rows: Vec<Row> = diesel::sql_query(format!(
                "SELECT row_to_json(t)::text AS text FROM \"{}\" t",
                table.text
            ))
            .load(&mut conn)
            .unwrap();
            for row in rows {
                bytes.extend(row.text.into_bytes());
            }
        }
        bytes
    }
}
