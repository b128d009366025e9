//! The gateway in-process: [`TestApp`] and the `spawn_*` functions that
//! build it on port 0 with its own database, a test clock and, where a test
//! needs one, a real upstream. The one place the suite builds a `Config`
//! and an `Application`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Once};
use std::time::Duration;

use portcullis::clock::Clock;
pub use portcullis::config::ServeArgs;
use portcullis::config::{Config, DbArgs};
use portcullis::db::Db;
use portcullis::logging::{self, LogFormat};
use portcullis::startup::Application;

use super::*;

pub struct TestApp {
    pub url: String,
    pub port: u16,
    /// The separate `/metrics` listener's port, when one was configured.
    pub metrics_port: Option<u16>,
    pub database_url: String,
    /// Whether the app runs on PostgreSQL.
    pub postgres: bool,
    /// The echo upstream, for apps spawned with one.
    pub(super) upstream: Option<Upstream>,
    pub client: awc::Client,
    /// The app's clock: tests move it forward instead of sleeping.
    pub clock: Clock,
    /// One pool per test app, beside the app's own.
    pub(super) db: Db,
    /// Keeps the database alive (last field: dropped after the pool).
    _database: Arc<TestDatabase>,
}

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
    show_logs_if_asked();
    let config = Config::from_args(&args).expect("valid test config");
    let app = Application::build(config, clock.clone()).unwrap();
    let port = app.port();
    let metrics_port = app.metrics_port();
    actix_web::rt::spawn(app.run());
    TestApp {
        url: format!("http://127.0.0.1:{port}"),
        port,
        metrics_port,
        db: open_db(&args.db.database_url),
        postgres: database.is_postgres(),
        database_url: args.db.database_url,
        upstream,
        client: client(),
        clock,
        _database: database,
    }
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
}

/// With `PORTCULLIS_TEST_LOG` set, installs the gateway's own logger (text
/// lines on stderr) the first time a gateway starts in this process.
fn show_logs_if_asked() {
    static LOGGER: Once = Once::new();
    if test_log() {
        LOGGER.call_once(|| logging::init(LogFormat::Text));
    }
}

/// Flags: sign with the key in `key` (an Ed25519 PEM) instead of a secret.
pub fn sign_with_key(args: &mut ServeArgs, key: &Path) {
    args.jwt_secret = None;
    args.jwt_key_file = Some(key.to_owned());
}

/// A new Ed25519 signing key in `dir`, as `portcullis demo` makes one; its
/// path.
pub fn ed25519_key_file(dir: &Path) -> PathBuf {
    let path = dir.join("signing-key.pem");
    let pem = portcullis::auth::tokens::generate_ed25519_pem().unwrap();
    std::fs::write(&path, secrecy::ExposeSecret::expose_secret(&pem)).unwrap();
    path
}

/// A policy file in `dir` with `rules` (TOML); its path.
pub fn policy_file(dir: &Path, rules: &str) -> PathBuf {
    let path = dir.join("policy.toml");
    std::fs::write(&path, rules).unwrap();
    path
}
