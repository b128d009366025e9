//! The two backends: one schema, migrations that several processes may
//! start at once, and a database that goes away and comes back.

use std::time::{Duration, Instant};

use diesel::prelude::*;
use diesel::sql_types::{Integer, Text};
use portcullis::auth::Role;
use serde_json::Value;

use crate::support::*;

#[derive(QueryableByName, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Column {
    #[diesel(sql_type = Text)]
    tbl: String,
    #[diesel(sql_type = Text)]
    col: String,
    #[diesel(sql_type = Text)]
    ty: String,
    #[diesel(sql_type = Text)]
    nullable: String,
}

#[derive(QueryableByName, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Index {
    #[diesel(sql_type = Text)]
    tbl: String,
    #[diesel(sql_type = Text)]
    cols: String,
    #[diesel(sql_type = Integer)]
    uniq: i32,
}

const SQLITE_COLUMNS: &str = r#"
    SELECT m.name AS tbl, p.name AS col, upper(p.type) AS ty,
           CASE WHEN p."notnull" = 0 THEN 'YES' ELSE 'NO' END AS nullable
    FROM sqlite_master m, pragma_table_info(m.name) p
    WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite!_%' ESCAPE '!'
      AND m.name NOT LIKE '!_!_diesel%' ESCAPE '!'"#;

const SQLITE_INDEXES: &str = r#"
    SELECT m.name AS tbl, il."unique" AS uniq,
           (SELECT group_concat(name, ',') FROM
              (SELECT ii.name FROM pragma_index_info(il.name) ii ORDER BY ii.seqno)) AS cols
    FROM sqlite_master m, pragma_index_list(m.name) il
    WHERE m.type = 'table' AND il.origin != 'pk'
      AND m.name NOT LIKE '!_!_diesel%' ESCAPE '!'"#;

const POSTGRES_COLUMNS: &str = r#"
    SELECT table_name::text AS tbl, column_name::text AS col, data_type::text AS ty,
           is_nullable::text AS nullable
    FROM information_schema.columns
    WHERE table_schema = 'public' AND table_name NOT LIKE '!_!_diesel%' ESCAPE '!'"#;

const POSTGRES_INDEXES: &str = r#"
    SELECT t.relname::text AS tbl, CASE WHEN ix.indisunique THEN 1 ELSE 0 END AS uniq,
           (SELECT string_agg(a.attname::text, ',' ORDER BY k.n)
              FROM unnest(ix.indkey::int2[]) WITH ORDINALITY AS k(attnum, n)
              JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum) AS cols
    FROM pg_index ix
    JOIN pg_class t ON t.oid = ix.indrelid
    JOIN pg_namespace ns ON ns.oid = t.relnamespace
    WHERE ns.nspname = 'public' AND NOT ix.indisprimary
      AND t.relname NOT LIKE '!_!_diesel%' ESCAPE '!'"#;

/// SQLite's declared type → the PostgreSQL type the same column must have.
fn postgres_type(sqlite: &str) -> &'static str {
    match sqlite {
        "TEXT" => "text",
        "BOOLEAN" => "boolean",
        "INTEGER" => "integer",
        // SQLite stores every integer in up to 8 bytes; BIGINT says so to PostgreSQL
        "BIGINT" => "bigint",
        "TIMESTAMP" => "timestamp with time zone",
        other => panic!("a column of type {other} has no agreed PostgreSQL type"),
    }
}

#[test]
fn both_backends_migrate_to_the_same_schema() {
    let Some(admin) = postgres_or_skip("both_backends_migrate_to_the_same_schema") else {
        return;
    };
    let sqlite = TestDatabase::sqlite();
    migrated_db(&sqlite.url);
    let postgres = TestDatabase::postgres(&admin);
    migrated_db(&postgres.url);

    let mut lite = SqliteConnection::establish(&sqlite.url).unwrap();
    let mut pg = PgConnection::establish(&postgres.url).unwrap();
    let mut lite_columns: Vec<Column> = diesel::sql_query(SQLITE_COLUMNS).load(&mut lite).unwrap();
    for c in &mut lite_columns {
        // SQLite's INTEGER PRIMARY KEY is the 64-bit rowid: PostgreSQL's
        // bigserial is its twin
        c.ty = if (c.tbl.as_str(), c.col.as_str()) == ("security_events", "id") {
            "bigint".to_owned()
        } else {
            postgres_type(&c.ty).to_owned()
        };
    }
    let mut pg_columns: Vec<Column> = diesel::sql_query(POSTGRES_COLUMNS).load(&mut pg).unwrap();
    lite_columns.sort();
    pg_columns.sort();
    assert!(
        lite_columns.iter().any(|c| c.tbl == "refresh_tokens"),
        "the introspection sees the tables"
    );
    assert_eq!(
        lite_columns, pg_columns,
        "columns, types or nullability drift"
    );

    let mut lite_indexes: Vec<Index> = diesel::sql_query(SQLITE_INDEXES).load(&mut lite).unwrap();
    let mut pg_indexes: Vec<Index> = diesel::sql_query(POSTGRES_INDEXES).load(&mut pg).unwrap();
    lite_indexes.sort();
    pg_indexes.sort();
    assert!(
        lite_indexes
            .iter()
            .any(|i| i.tbl == "users" && i.cols == "username_key" && i.uniq == 1),
        "unique constraints count as indexes: {lite_indexes:?}"
    );
    assert_eq!(lite_indexes, pg_indexes, "indexes drift");
}

/// Starts three `serve` processes at once on `database_url`; all must listen.
fn three_at_once(database_url: &str) {
    let starts: Vec<_> = (0..3)
        .map(|_| {
            let url = database_url.to_owned();
            std::thread::spawn(move || try_serve(serve_command(&[("DATABASE_URL", &url)])))
        })
        .collect();
    for start in starts {
        if let Err(output) = start.join().unwrap() {
            panic!("a serve process did not start: {output}");
        }
    }
}

#[test]
fn three_servers_starting_at_once_on_a_new_sqlite_file_all_start() {
    // the race this guards against lost about 40 % of rounds
    for _ in 0..5 {
        let db = TestDatabase::sqlite();
        three_at_once(&db.url);
    }
}

#[test]
fn three_servers_starting_at_once_on_a_new_postgres_database_all_start() {
    let name = "three_servers_starting_at_once_on_a_new_postgres_database_all_start";
    let Some(admin) = postgres_or_skip(name) else {
        return;
    };
    for _ in 0..3 {
        let db = TestDatabase::postgres(&admin);
        three_at_once(&db.url);
    }
}

/// Waits until `check` holds, polling every 100 ms; panics after `limit`.
async fn eventually<F, Fut>(limit: Duration, what: &str, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !check().await {
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    start.elapsed()
}

/// How many revocation listeners of ours the database sees.
fn listeners(conn: &mut PgConnection) -> i64 {
    diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
        "count(*) FROM pg_stat_activity WHERE application_name = 'portcullis-listener' \
         AND datname = current_database()",
    ))
    .get_result(conn)
    .unwrap()
}

#[actix_web::test]
async fn a_database_outage_answers_503_keeps_the_api_up_and_heals_by_itself() {
    let name = "a_database_outage_answers_503_keeps_the_api_up_and_heals_by_itself";
    let Some(admin) = postgres_or_skip(name) else {
        return;
    };
    let database = std::sync::Arc::new(TestDatabase::postgres(&admin));
    let relay = Relay::to(postgres_addr(&admin));
    let through_relay = via_port(&database.url, relay.port);
    let upstream = Upstream::spawn();
    let instance = |a: &mut ServeArgs| {
        a.db.database_url = through_relay.clone();
        a.db_connect_timeout = "1".into();
        a.upstream = Some(upstream.url.clone());
    };
    let app = spawn_on(&database, instance).await;
    let other = spawn_beside(&app, instance).await;
    let session = app.logged_in("alice", &[Role::User]).await;
    app.add_user("bob", &[]);
    assert_eq!(app.get("/readyz").await.status(), 200);

    relay.cut();
    // readiness says so within a few seconds, and answers quickly
    for instance in [&app, &other] {
        eventually(Duration::from_secs(10), "/readyz turns 503", || async {
            instance.get("/readyz").await.status() == 503
        })
        .await;
    }
    let started = Instant::now();
    let mut res = app.get("/readyz").await;
    assert_eq!(res.status(), 503);
    assert_eq!(error_code(&mut res).await, "unavailable");
    assert!(started.elapsed() < Duration::from_secs(4), "/readyz hangs");

    // routes that need the database: 503 JSON, bounded by the connect
    // timeout; a refresh keeps its cookie (the session is not lost)
    let started = Instant::now();
    let mut res = app.login_raw("bob", PASSWORD).await;
    assert_eq!(res.status(), 503);
    assert_eq!(error_code(&mut res).await, "unavailable");
    let mut res = other.refresh(&session.refresh).await;
    assert_eq!(res.status(), 503);
    assert!(
        set_cookie(&res, COOKIE).is_none(),
        "a 503 leaves the cookie alone"
    );
    assert_eq!(error_code(&mut res).await, "unavailable");
    assert!(started.elapsed() < Duration::from_secs(10), "requests hang");

    // verification is in memory: /auth/me and /api keep working
    assert_eq!(app.me(&session.access).await.status(), 200);
    let mut res = other.api("GET", "/employees", &session.access).await;
    assert_eq!(res.status(), 200);
    let echo: Value = res.json().await.unwrap();
    assert_eq!(echo["headers"]["x-user-name"][0], "alice");

    relay.restore();
    for instance in [&app, &other] {
        eventually(Duration::from_secs(15), "/readyz recovers", || async {
            instance.get("/readyz").await.status() == 200
        })
        .await;
    }
    // full service, no restart: the ledger, the throttle, and the listeners
    let mut res = other.refresh(&session.refresh).await;
    assert_eq!(res.status(), 200, "{:?}", res.body().await);
    let rotated = refresh_cookie(&res);
    assert_eq!(app.login_raw("bob", PASSWORD).await.status(), 200);
    let mut direct = PgConnection::establish(&database.url).unwrap();
    eventually(Duration::from_secs(10), "both listeners are back", || {
        let n = listeners(&mut direct);
        async move { n == 2 }
    })
    .await;
    assert_eq!(app.logout(&rotated).await.status(), 204);
    other
        .wait_until_refused(&session.access, Duration::from_secs(2))
        .await;
}

#[test]
fn a_revocation_is_announced_to_listeners_when_it_commits_and_not_before() {
    use portcullis::auth::authn::{Authentication, Method};
    use portcullis::db::ledger::{self, ClientInfo, EndReason, SessionPolicy, Which};
    use portcullis::db::listen::Listener;
    let name = "a_revocation_is_announced_to_listeners_when_it_commits_and_not_before";
    let Some(admin) = postgres_or_skip(name) else {
        return;
    };
    let database = TestDatabase::postgres(&admin);
    let db = migrated_db(&database.url);
    let mut listener = Listener::connect(&db).unwrap().expect("PostgreSQL listens");
    let now = portcullis::clock::now();
    let user = create_user_with_hash(&db, "alice", "x", &[], now);
    let policy = SessionPolicy {
        ttl: chrono::Duration::days(1),
        idle_ttl: chrono::Duration::days(1),
        grace: chrono::Duration::seconds(5),
    };
    let open = || {
        let auth = Authentication::by(&[Method::Pwd], now);
        db.with_conn(|c| ledger::issue(c, &user, &auth, &ClientInfo::default(), &policy, now))
            .unwrap()
            .session
            .id
    };
    let (kept, ended, by_owner) = (open(), open(), open());

    // revoked, then rolled back: nothing is announced
    let owned_by = |session_id: &str| Which::OwnedBy {
        user_id: user.id.clone(),
        session_id: session_id.to_owned(),
    };
    let rolled_back: Result<(), portcullis::db::DbError> = db.with_conn(|c| {
        portcullis::db::write_tx(c, |c| {
            ledger::end(c, &owned_by(&kept), EndReason::Logout, &policy, now)?;
            Err(portcullis::db::DbError::Blocking)
        })
    });
    assert!(rolled_back.is_err());
    db.with_conn(|c| ledger::end(c, &owned_by(&ended), EndReason::Logout, &policy, now))
        .unwrap();
    // the owner ending one of their sessions (DELETE /auth/sessions/{id})
    let reason = EndReason::EndedElsewhere;
    db.with_conn(|c| ledger::end(c, &owned_by(&by_owner), reason, &policy, now))
        .unwrap();

    let deadline = Instant::now() + Duration::from_secs(2);
    let mut heard = Vec::new();
    while !(heard.contains(&ended) && heard.contains(&by_owner)) {
        assert!(Instant::now() < deadline, "no notice within 2 s: {heard:?}");
        heard.extend(listener.drain().unwrap());
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        heard,
        vec![ended, by_owner],
        "only the committed revocations"
    );
}

#[actix_web::test]
async fn a_lost_listener_leaves_revocation_to_the_poll_still_within_two_seconds() {
    let name = "a_lost_listener_leaves_revocation_to_the_poll_still_within_two_seconds";
    let Some(admin) = postgres_or_skip(name) else {
        return;
    };
    let database = std::sync::Arc::new(TestDatabase::postgres(&admin));
    let a = spawn_on(&database, |_| {}).await;
    let b = spawn_beside(&a, |_| {}).await;
    let session = a.logged_in("alice", &[Role::User]).await;
    // the database drops every listener (as a failover or a proxy would)
    let mut conn = PgConnection::establish(&database.url).unwrap();
    eventually(Duration::from_secs(5), "both listeners are up", || {
        let n = listeners(&mut conn);
        async move { n == 2 }
    })
    .await;
    diesel::sql_query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE application_name = 'portcullis-listener' AND datname = current_database()",
    )
    .execute(&mut conn)
    .unwrap();
    assert_eq!(a.logout(&session.refresh).await.status(), 204);
    let took = b
        .wait_until_refused(&session.access, Duration::from_secs(2))
        .await;
    eprintln!("revocation by poll alone took {took:?}");
}

#[actix_web::test]
async fn a_database_that_hangs_answers_503_in_bounded_time_and_heals() {
    let name = "a_database_that_hangs_answers_503_in_bounded_time_and_heals";
    let Some(admin) = postgres_or_skip(name) else {
        return;
    };
    let database = std::sync::Arc::new(TestDatabase::postgres(&admin));
    let relay = Relay::to(postgres_addr(&admin));
    let through_relay = via_port(&database.url, relay.port);
    let app = spawn_on(&database, |a| {
        a.db.database_url = through_relay.clone();
        a.db_connect_timeout = "1".into();
        a.db_statement_timeout = "1".into();
    })
    .await;
    let session = app.logged_in("alice", &[Role::User]).await;

    // the server stops answering but closes nothing
    relay.freeze();
    let started = Instant::now();
    let mut res = app.refresh(&session.refresh).await;
    assert_eq!(res.status(), 503);
    assert_eq!(error_code(&mut res).await, "unavailable");
    let mut res = app.get("/readyz").await;
    assert_eq!(res.status(), 503);
    assert_eq!(error_code(&mut res).await, "unavailable");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "answers within the timeouts, took {:?}",
        started.elapsed()
    );
    assert_eq!(app.me(&session.access).await.status(), 200);

    relay.thaw();
    eventually(
        Duration::from_secs(15),
        "the session refreshes again",
        || async { app.refresh(&session.refresh).await.status() == 200 },
    )
    .await;
}
