//! Spawns the real application on port 0 with its own temp SQLite file and
//! test clock, a real upstream where a test needs one, and helpers that read
//! like the contract: `logged_in`, `refresh`, `logout`,
//! `assert_cookie_cleared`.

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use actix_web::cookie::Cookie;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use awc::ClientResponse;
use futures_util::StreamExt;
use portcullis::accounts;
use portcullis::auth::{Role, Roles, User, password};
use portcullis::clock::Clock;
use portcullis::config::{Config, DbArgs, ServeArgs};
use portcullis::db::Db;
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
    pub database_url: String,
    /// The echo upstream, for apps spawned with one.
    upstream: Option<Upstream>,
    pub client: awc::Client,
    /// The app's clock: tests move it forward instead of sleeping.
    pub clock: Clock,
    /// One pool per test app, beside the app's own.
    db: Db,
    /// Keeps the temp directory (and the database in it) alive.
    _dir: tempfile::TempDir,
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
    let dir = tempfile::tempdir().unwrap();
    let database_url = dir.path().join("portcullis.db").display().to_string();
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
    let clock = Clock::test();
    let config = Config::from_args(&args).expect("valid test config");
    let app = Application::build(config, clock.clone()).unwrap();
    let port = app.port();
    actix_web::rt::spawn(app.run());
    TestApp {
        url: format!("http://127.0.0.1:{port}"),
        port,
        db: Db::connect(&database_url).unwrap(),
        database_url,
        upstream,
        client: client(),
        clock,
        _dir: dir,
    }
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
        let roles = Roles::new(roles.iter().copied());
        self.db
            .with_conn(|c| Ok(accounts::create(c, name, &hash, &roles, self.clock.now())))
            .unwrap()
            .unwrap()
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
