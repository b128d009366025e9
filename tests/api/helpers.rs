//! Spawns the real application on port 0 with its own database and test
//! clock, a real upstream where a test needs one, and helpers that read like
//! the contract: `logged_in`, `refresh`, `logout`, `assert_cookie_cleared`.
//!
//! The database is a temp SQLite file, or, when `PORTCULLIS_TEST_DATABASE`
//! names a PostgreSQL server (`postgres://user:pw@host/postgres`, a role
//! that may create databases), a fresh database on it per test app, dropped
//! when the app is. Tests that need PostgreSQL whatever the suite runs on
//! ([`postgres_or_skip`]) use `PORTCULLIS_TEST_POSTGRES`, else that same
//! server; without either they skip, saying so, unless
//! `PORTCULLIS_REQUIRE_POSTGRES=1` makes that a failure.

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use actix_web::cookie::Cookie;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use awc::ClientResponse;
use futures_util::StreamExt;
use portcullis::auth::password::{self, Password};
use portcullis::auth::{Role, Roles, User};
use portcullis::clock::Clock;
use portcullis::config::{Config, DbArgs, ServeArgs};
use portcullis::db::Db;
use portcullis::db::users::{self, UserRef};
use portcullis::events::Caller;
use portcullis::services::Services;
use portcullis::startup::Application;
use serde_json::{Value, json};

pub const SECRET: &str = "integration-test-secret-of-enough-bytes";
pub const COOKIE: &str = "portcullis_refresh";
pub const PASSWORD: &str = "correct horse battery";
/// Opaque "compressed" bytes: the gateway must pass them on as they are.
pub const GZIP_BYTES: &[u8] = b"\x1f\x8b\x08\x00not-really-gzip\x00\x01\x02";

pub type Response = ClientResponse;

pub struct TestApp {
    pub url: String,
    pub port: u16,
    /// The separate `/metrics` listener's port, when one was configured.
    pub metrics_port: Option<u16>,
    pub database_url: String,
    /// Whether the app runs on PostgreSQL.
    pub postgres: bool,
    /// The echo upstream, for apps spawned with one.
    upstream: Option<Upstream>,
    pub client: awc::Client,
    /// The app's clock: tests move it forward instead of sleeping.
    pub clock: Clock,
    /// One pool per test app, beside the app's own.
    db: Db,
    /// Keeps the database alive (last field: dropped after the pool).
    _database: Arc<TestDatabase>,
}

/// An upstream address nothing listens on, for apps whose tests never
/// reach the upstream.
const NO_UPSTREAM: &str = "http://127.0.0.1:9";

/// The gateway with defaults; no upstream runs behind it.
pub async fn spawn_app() -> TestApp {
    spawn_with(|_| {}).await
}

/// The gateway with `adjust` applied to its flags; no upstream runs behind
/// it unless `adjust` names one.
pub async fn spawn_with(adjust: impl FnOnce(&mut ServeArgs)) -> TestApp {
    start(None, adjust)
}

/// The gateway in front of a real echo upstream.
pub async fn spawn_proxied() -> TestApp {
    spawn_proxied_with(|_| {}).await
}

/// [`spawn_proxied`] with `adjust` applied to the gateway's flags.
pub async fn spawn_proxied_with(adjust: impl FnOnce(&mut ServeArgs)) -> TestApp {
    start(Some(Upstream::spawn()), adjust)
}

fn start(upstream: Option<Upstream>, adjust: impl FnOnce(&mut ServeArgs)) -> TestApp {
    start_on(
        Arc::new(TestDatabase::for_suite()),
        Clock::test(),
        upstream,
        adjust,
    )
}

/// Another gateway instance on the database of `app`, on the same (test)
/// clock, with `adjust` applied to its flags.
pub async fn spawn_beside(app: &TestApp, adjust: impl FnOnce(&mut ServeArgs)) -> TestApp {
    start_on(app._database.clone(), app.clock.clone(), None, adjust)
}

/// The gateway on `database`, with `adjust` applied to its flags.
pub async fn spawn_on(
    database: &Arc<TestDatabase>,
    adjust: impl FnOnce(&mut ServeArgs),
) -> TestApp {
    start_on(database.clone(), Clock::test(), None, adjust)
}

fn start_on(
    database: Arc<TestDatabase>,
    clock: Clock,
    upstream: Option<Upstream>,
    adjust: impl FnOnce(&mut ServeArgs),
) -> TestApp {
    let database_url = database.url.clone();
    let mut args = ServeArgs {
        db: DbArgs {
            database_url: database_url.clone(),
        },
        bind: "127.0.0.1:0".into(),
        upstream: Some(
            upstream
                .as_ref()
                .map_or(NO_UPSTREAM.into(), |u| u.url.clone()),
        ),
        jwt_secret: Some(SECRET.into()),
        workers: Some("2".into()),
        upstream_timeout: "3".into(),
        ..ServeArgs::default()
    };
    adjust(&mut args);
    let config = Config::from_args(&args).expect("valid test config");
    let app = Application::build(config, clock.clone()).unwrap();
    let port = app.port();
    let metrics_port = app.metrics_port();
    actix_web::rt::spawn(app.run());
    TestApp {
        url: format!("http://127.0.0.1:{port}"),
        port,
        metrics_port,
        db: Db::connect(&args.db.database_url).unwrap(),
        postgres: database.is_postgres(),
        database_url: args.db.database_url,
        upstream,
        client: client(),
        clock,
        _database: database,
    }
}

/// A test's database: a temp SQLite file, or a fresh PostgreSQL database
/// dropped at the end.
pub struct TestDatabase {
    pub url: String,
    kind: DatabaseKind,
}

enum DatabaseKind {
    Sqlite(#[expect(dead_code, reason = "kept to be deleted on drop")] tempfile::TempDir),
    Postgres { admin_url: String, name: String },
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
            kind: DatabaseKind::Sqlite(dir),
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

pub fn client() -> awc::Client {
    awc::Client::builder()
        .disable_redirects()
        .timeout(Duration::from_secs(30))
        .finish()
}

/// A logged-in session: the access token and the refresh cookie's value.
#[derive(Debug, Clone)]
pub struct Session {
    pub access: String,
    pub refresh: String,
    pub body: Value,
}

impl TestApp {
    /// The test's own pool on the app's database.
    pub fn db(&self) -> &Db {
        &self.db
    }

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

    /// The echo upstream behind an app from [`spawn_proxied`].
    pub fn upstream(&self) -> &Upstream {
        self.upstream
            .as_ref()
            .expect("this app was spawned without an upstream: use spawn_proxied")
    }

    /// Moves the app's clock forward: expiry without sleeping.
    pub fn advance(&self, secs: f64) {
        self.clock.advance(Duration::from_secs_f64(secs));
    }

    /// Creates a user directly in the database, with [`PASSWORD`].
    pub fn add_user(&self, name: &str, roles: &[Role]) -> User {
        let hash = password::hash(PASSWORD).unwrap();
        create_user(&self.db, name, &hash, roles, self.clock.now())
    }

    /// The account use cases as the command line runs them, beside the
    /// gateway (on its database and clock).
    fn outside(&self) -> Services {
        Services::standalone(&self.db, self.clock.now()).unwrap()
    }

    /// Disables `name` from outside the gateway (as `portcullis user disable`).
    pub async fn disable(&self, name: &str) {
        let who = UserRef::Name(name.to_owned());
        let accounts = self.outside().accounts;
        let caller = Caller::default();
        let done = accounts.set_disabled(who, true, None, &caller, self.clock.now());
        done.await.unwrap();
    }

    /// Sets `name`'s roles from outside the gateway (as `portcullis user roles`).
    pub async fn set_roles(&self, name: &str, roles: &[Role]) {
        let (who, roles) = (
            UserRef::Name(name.to_owned()),
            Roles::new(roles.iter().copied()),
        );
        let accounts = self.outside().accounts;
        let caller = Caller::default();
        let done = accounts.set_roles(who, roles, None, &caller, self.clock.now());
        done.await.unwrap();
    }

    /// Sets `name`'s password from outside the gateway (as `portcullis user passwd`).
    pub async fn set_password(&self, name: &str, password: &str) {
        let who = UserRef::Name(name.to_owned());
        let password = Password::new(password.to_owned());
        let accounts = self.outside().accounts;
        let caller = Caller::default();
        let done = accounts.set_password(who, password, &caller, self.clock.now());
        done.await.unwrap();
    }

    /// A user with `roles`, logged in.
    pub async fn logged_in(&self, name: &str, roles: &[Role]) -> Session {
        self.add_user(name, roles);
        self.login(name).await
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.client
            .post(format!("{}{path}", self.url))
            .send_json(body)
            .await
            .unwrap()
    }

    pub async fn login_raw(&self, name: &str, password: &str) -> Response {
        self.post_json(
            "/auth/login",
            &json!({ "username": name, "password": password }),
        )
        .await
    }

    pub async fn login(&self, name: &str) -> Session {
        let mut res = self.login_raw(name, PASSWORD).await;
        assert_eq!(res.status(), 200, "login of {name} failed");
        let refresh = set_cookie(&res, COOKIE)
            .expect("refresh cookie")
            .value()
            .to_owned();
        let body: Value = res.json().await.unwrap();
        Session {
            access: body["access_token"].as_str().unwrap().to_owned(),
            refresh,
            body,
        }
    }

    pub async fn refresh(&self, refresh: &str) -> Response {
        self.client
            .post(format!("{}/auth/refresh", self.url))
            .insert_header(("X-CSRF", "1"))
            .insert_header(("Cookie", format!("{COOKIE}={refresh}")))
            .send()
            .await
            .unwrap()
    }

    /// `POST /auth/logout` with the refresh cookie and the CSRF header.
    pub async fn logout(&self, refresh: &str) -> Response {
        self.client
            .post(format!("{}/auth/logout", self.url))
            .insert_header(("X-CSRF", "1"))
            .insert_header(("Cookie", format!("{COOKIE}={refresh}")))
            .send()
            .await
            .unwrap()
    }

    pub async fn me(&self, access: &str) -> Response {
        self.client
            .get(format!("{}/auth/me", self.url))
            .bearer_auth(access)
            .send()
            .await
            .unwrap()
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .unwrap()
    }

    pub async fn api(&self, method: &str, path: &str, access: &str) -> Response {
        self.client
            .request(method.parse().unwrap(), format!("{}/api{path}", self.url))
            .bearer_auth(access)
            .send()
            .await
            .unwrap()
    }

    /// `METHOD /api{path}` with a bearer token and a JSON body.
    pub async fn api_json(&self, method: &str, path: &str, access: &str, body: &Value) -> Response {
        self.client
            .request(method.parse().unwrap(), format!("{}/api{path}", self.url))
            .bearer_auth(access)
            .send_json(body)
            .await
            .unwrap()
    }

    /// Polls `/auth/me` until the token is refused; panics after `limit`.
    pub async fn wait_until_refused(&self, access: &str, limit: Duration) -> Duration {
        let start = std::time::Instant::now();
        loop {
            if self.me(access).await.status() == 401 {
                return start.elapsed();
            }
            assert!(
                start.elapsed() < limit,
                "token still accepted after {limit:?}"
            );
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The real binary with a clean environment and working directory, so
/// nothing from the developer's shell or a `.env` leaks in.
pub fn portcullis() -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .current_dir(std::env::temp_dir());
    cmd
}

/// Runs a command of the binary against `database_url` to completion,
/// with `stdin` as its input.
pub fn cli(database_url: &str, args: &[&str], stdin: &str) -> std::process::Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = portcullis()
        .args(args)
        .env("DATABASE_URL", database_url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A command may exit without reading its input (a taken name is
    // refused before the password is read): a broken pipe is no failure.
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    child.wait_with_output().unwrap()
}

/// The `Set-Cookie` named `name`, parsed.
pub fn set_cookie(res: &Response, name: &str) -> Option<Cookie<'static>> {
    res.headers()
        .get_all("set-cookie")
        .filter_map(|v| Cookie::parse(v.to_str().ok()?.to_owned()).ok())
        .find(|c| c.name() == name)
}

/// The response clears the refresh cookie: same name and path, `Max-Age=0`.
pub fn assert_cookie_cleared(res: &Response) {
    let cleared = set_cookie(res, COOKIE).expect("a Set-Cookie clearing the refresh cookie");
    assert_eq!(cleared.value(), "", "the cleared cookie is empty");
    assert_eq!(
        cleared.path(),
        Some("/auth"),
        "cleared on the path it was set"
    );
    assert_eq!(
        cleared.max_age().map(|a| a.whole_seconds()),
        Some(0),
        "Max-Age=0"
    );
}

/// Reads a JSON error body and checks its shape; returns the code.
pub async fn error_code(res: &mut Response) -> String {
    assert_eq!(
        res.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/json"),
        "error responses are JSON"
    );
    let body: Value = res.json().await.unwrap();
    assert!(body["message"].is_string(), "message missing: {body}");
    body["error"].as_str().unwrap().to_owned()
}

/// A real upstream: echoes what it received, and a few special routes.
pub struct Upstream {
    pub url: String,
    pub port: u16,
    pub hits: Arc<AtomicUsize>,
}

impl Upstream {
    pub fn spawn() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        let server = HttpServer::new(move || {
            let counter = counter.clone();
            App::new()
                .wrap_fn(move |req, srv| {
                    counter.fetch_add(1, Ordering::SeqCst);
                    actix_web::dev::Service::call(srv, req)
                })
                .route(
                    "/redirect",
                    web::get().to(|| async {
                        HttpResponse::Found()
                            .insert_header(("Location", "http://127.0.0.1:1/elsewhere"))
                            .finish()
                    }),
                )
                .route(
                    "/slow",
                    web::get().to(|| async {
                        actix_web::rt::time::sleep(Duration::from_secs(30)).await;
                        HttpResponse::Ok().finish()
                    }),
                )
                .route(
                    "/big/{bytes}",
                    web::get().to(|n: web::Path<usize>| async move {
                        let total = n.into_inner();
                        let chunk = web::Bytes::from(vec![b'x'; 64 * 1024]);
                        let stream = futures_util::stream::iter(
                            (0..total.div_ceil(chunk.len())).map(move |i| {
                                let len = chunk.len().min(total - i * chunk.len());
                                Ok::<_, actix_web::Error>(chunk.slice(..len))
                            }),
                        );
                        HttpResponse::Ok().streaming(stream)
                    }),
                )
                .route(
                    "/gzip",
                    web::get().to(|| async {
                        HttpResponse::Ok()
                            .insert_header(("Content-Encoding", "gzip"))
                            .insert_header(("Content-Type", "text/plain"))
                            .body(GZIP_BYTES)
                    }),
                )
                .route(
                    "/teapot",
                    web::get().to(|| async {
                        HttpResponse::build(actix_web::http::StatusCode::IM_A_TEAPOT)
                            .insert_header(("X-Upstream", "yes"))
                            .insert_header(("X-Frame-Options", "SAMEORIGIN"))
                            .insert_header(("Set-Cookie", "upstream=1; Path=/"))
                            .json(json!({ "short": "and stout" }))
                    }),
                )
                .route(
                    "/owned-headers",
                    web::get().to(|| async {
                        // headers only the gateway may set on its responses
                        HttpResponse::Ok()
                            .insert_header(("Access-Control-Allow-Origin", "*"))
                            .insert_header(("Access-Control-Allow-Methods", "DELETE"))
                            .insert_header(("Access-Control-Max-Age", "86400"))
                            .append_header(("Set-Cookie", format!("{COOKIE}=planted; Path=/auth")))
                            .append_header(("Set-Cookie", "upstream=1; Path=/"))
                            .finish()
                    }),
                )
                .default_service(web::to(echo))
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
        actix_web::rt::spawn(server);
        Self {
            url: format!("http://127.0.0.1:{port}"),
            port,
            hits,
        }
    }

    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

/// Echoes method, path, query, headers (all values per name) and the body's
/// length, read as a stream.
async fn echo(req: HttpRequest, mut body: web::Payload) -> HttpResponse {
    let mut len = 0usize;
    while let Some(chunk) = body.next().await {
        match chunk {
            Ok(c) => len += c.len(),
            Err(e) => return HttpResponse::BadRequest().body(e.to_string()),
        }
    }
    let mut headers = serde_json::Map::new();
    for name in req.headers().keys() {
        let values: Vec<Value> = req
            .headers()
            .get_all(name)
            .map(|v| json!(v.to_str().unwrap_or("<binary>")))
            .collect();
        headers.insert(name.as_str().to_owned(), Value::Array(values));
    }
    HttpResponse::Ok().json(json!({
        "method": req.method().as_str(),
        "path": req.uri().path(),
        "query": req.uri().query(),
        "headers": headers,
        "body_len": len,
    }))
}

/// A `portcullis serve` child process, killed (SIGKILL) when dropped.
pub struct ServeProcess {
    child: std::process::Child,
    pub url: String,
}

impl ServeProcess {
    /// Starts `portcullis serve` on `database_url` (port 0, HS256 with
    /// [`SECRET`]) with `env` on top, and waits until it listens. `Err`
    /// holds what it printed when it exited instead.
    pub fn start(database_url: &str, env: &[(&str, &str)]) -> Result<Self, String> {
        use std::io::{BufRead, BufReader};
        let mut cmd = portcullis();
        cmd.arg("serve")
            .env("DATABASE_URL", database_url)
            .env("PORTCULLIS_BIND", "127.0.0.1:0")
            .env("PORTCULLIS_UPSTREAM", NO_UPSTREAM)
            .env("PORTCULLIS_JWT_SECRET", SECRET)
            .env("PORTCULLIS_WORKERS", "2")
            .env("RUST_LOG", "info")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        for (var, value) in env {
            cmd.env(var, value);
        }
        let mut child = cmd.spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut lines = Vec::new();
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    let port: Option<u16> = line
                        .split("listening on port ")
                        .nth(1)
                        .and_then(|rest| rest.split_whitespace().next()?.parse().ok());
                    lines.push(line);
                    if let Some(port) = port {
                        return Ok(Self {
                            child,
                            url: format!("http://127.0.0.1:{port}"),
                        });
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    let status = child.wait().unwrap();
                    return Err(format!("{status}:\n{}", lines.join("\n")));
                }
            }
        }
    }

    /// `kill -9`: no shutdown, no flushing, no goodbye.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A TCP relay in front of a server that a test can cut and restore: the
/// database "goes away" (every connection through it closed, new ones
/// closed at once) and comes back, without touching the real server. Or it
/// freezes: connections stay open and nothing arrives either way, like a
/// server that hangs.
pub struct Relay {
    pub port: u16,
    up: Arc<std::sync::atomic::AtomicBool>,
    frozen: Arc<std::sync::atomic::AtomicBool>,
    open: Arc<std::sync::Mutex<Vec<std::net::TcpStream>>>,
}

impl Relay {
    pub fn to(target: std::net::SocketAddr) -> Self {
        use std::sync::atomic::AtomicBool;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(true));
        let frozen = Arc::new(AtomicBool::new(false));
        let open = Arc::new(std::sync::Mutex::new(Vec::<std::net::TcpStream>::new()));
        let (up2, frozen2, open2) = (up.clone(), frozen.clone(), open.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if !up2.load(Ordering::SeqCst) {
                    let _ = client.shutdown(std::net::Shutdown::Both);
                    continue;
                }
                let Ok(server) = std::net::TcpStream::connect(target) else {
                    continue;
                };
                let mut open = open2.lock().unwrap();
                open.push(client.try_clone().unwrap());
                open.push(server.try_clone().unwrap());
                for (mut from, mut to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ] {
                    let frozen = frozen2.clone();
                    std::thread::spawn(move || {
                        use std::io::{Read, Write};
                        let mut buf = [0u8; 16 * 1024];
                        while let Ok(n @ 1..) = from.read(&mut buf) {
                            while frozen.load(Ordering::SeqCst) {
                                std::thread::sleep(Duration::from_millis(10));
                            }
                            if to.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                        let _ = to.shutdown(std::net::Shutdown::Both);
                        let _ = from.shutdown(std::net::Shutdown::Both);
                    });
                }
            }
        });
        Self {
            port,
            up,
            frozen,
            open,
        }
    }

    /// Holds every byte in flight until [`Relay::thaw`].
    pub fn freeze(&self) {
        self.frozen.store(true, Ordering::SeqCst);
    }

    pub fn thaw(&self) {
        self.frozen.store(false, Ordering::SeqCst);
    }

    /// Closes every connection and refuses new ones until [`Relay::restore`].
    pub fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for stream in self.open.lock().unwrap().drain(..) {
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
    }

    pub fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

/// The host and port a PostgreSQL URL names (default port 5432).
pub fn postgres_addr(url: &str) -> std::net::SocketAddr {
    use std::net::ToSocketAddrs;
    let rest = url.split_once("://").unwrap().1;
    let authority = rest.split('/').next().unwrap();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let with_port = if host_port.contains(':') {
        host_port.to_owned()
    } else {
        format!("{host_port}:5432")
    };
    with_port.to_socket_addrs().unwrap().next().unwrap()
}

/// `url` with its host and port replaced by `127.0.0.1:port`.
pub fn via_port(url: &str, port: u16) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let userinfo = authority
        .rsplit_once('@')
        .map(|(u, _)| format!("{u}@"))
        .unwrap_or_default();
    format!("{scheme}://{userinfo}127.0.0.1:{port}/{path}")
}

/// Creates `name` with an already computed password `hash` straight in the
/// database (for gateways the test does not run in-process).
pub fn create_user(
    db: &Db,
    name: &str,
    hash: &str,
    roles: &[Role],
    now: chrono::DateTime<chrono::Utc>,
) -> User {
    let roles = Roles::new(roles.iter().copied());
    db.with_conn(|c| users::create(c, name, hash, &roles, now))
        .unwrap()
}
