//! Builds the application users run: opens and migrates the database, loads
//! keys, binds the listener (port 0 works) and starts the HTTP server.
//! Tests start exactly this.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};

use crate::auth::password::HashGate;
use crate::auth::revocation::RevocationList;
use crate::auth::tokens::LEEWAY_SECS;
use crate::clock::Clock;
use crate::config::Config;
use crate::db::listen::Listener;
use crate::db::throttle::{self, Limits, Throttle};
use crate::db::{Backend, Db, DbError, ledger, secrets};
use crate::http::routes::api;
use crate::http::{self, AppState};

/// How often the revocation list is topped up from the database.
const REVOCATION_POLL: Duration = Duration::from_secs(1);
/// How often the PostgreSQL listener is read, and how long a lost one waits
/// before reconnecting.
const LISTEN_EVERY: Duration = Duration::from_millis(100);
const LISTEN_RETRY: Duration = Duration::from_secs(2);
/// How often ended sessions are purged from the ledger, and how long after
/// their end they are kept for the record.
const PURGE_EVERY: Duration = Duration::from_secs(600);
const KEEP_ENDED_DAYS: i64 = 7;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("{0}")]
    Db(#[from] DbError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
}

pub struct Application {
    port: u16,
    server: Server,
    state: web::Data<AppState>,
}

impl Application {
    /// Opens the database (applying migrations), builds the state and binds.
    /// `clock` is what every handler reads the time from: [`Clock::system`]
    /// in production, a [`Clock::test`] that tests advance.
    pub fn build(config: Config, clock: Clock) -> Result<Self, StartupError> {
        let db = Db::open(&config.database)?;
        let applied = db.migrate()?;
        if applied > 0 {
            log::info!("applied {applied} database migration(s)");
        }
        let now = clock.now();
        let successor = db.with_conn(|c| secrets::successor_key(c, now))?;
        let revoked = Arc::new(RevocationList::new(
            config.access_ttl + chrono::Duration::seconds(LEEWAY_SECS),
        ));
        let recent = db.with_conn(|c| ledger::revoked_since(c, now - revoked.horizon()))?;
        revoked.extend(recent, now);

        let hash_slots = std::thread::available_parallelism().map_or(2, |n| n.get());
        if config.static_dir.is_none() {
            log::info!(
                "no SPA: PORTCULLIS_STATIC_DIR is unset and ./static does not exist; serving the API only"
            );
        }
        let state = web::Data::new(AppState {
            clock,
            db,
            tokens: config.tokens,
            revoked,
            successor,
            throttle: Throttle::new(Limits::default()),
            hashing: HashGate::new(hash_slots, Duration::from_secs(1)),
            session: config.session,
            cookie: config.cookie,
            allow_registration: config.allow_registration,
            trusted_proxies: config.trusted_proxies,
            upstream: config.upstream,
            policy: config.policy,
            upstream_timeout: config.upstream_timeout,
            max_body_size: config.max_body_size,
            static_dir: config.static_dir,
        });

        let bind_err = |source| StartupError::Bind {
            addr: config.bind.clone(),
            source,
        };
        let listener = TcpListener::bind(&config.bind).map_err(bind_err)?;
        let port = listener.local_addr().map_err(bind_err)?.port();
        let origins = config.cors_origins;
        let app_state = state.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(app_state.clone())
                .app_data(web::Data::new(api::client(app_state.upstream_timeout)))
                .wrap(http::cors(&origins))
                .wrap(from_fn(http::error::json_errors))
                .wrap(from_fn(http::security_headers))
                .wrap(http::access_log())
                .configure(|cfg| http::configure(cfg, app_state.static_dir.clone()))
        })
        .workers(config.workers)
        .listen(listener)
        .map_err(bind_err)?
        .run();
        Ok(Self {
            port,
            server,
            state,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until the server stops, polling (and on PostgreSQL listening
    /// for) revocations meanwhile.
    pub async fn run(self) -> std::io::Result<()> {
        let listener = (self.state.db.backend() == Backend::Postgres)
            .then(|| actix_web::rt::spawn(listen_for_revocations(self.state.clone())));
        let poller = actix_web::rt::spawn(maintain_ledger(self.state));
        let result = self.server.await;
        poller.abort();
        if let Some(listener) = listener {
            listener.abort();
        }
        result
    }
}

/// Tops up the revocation list about once a second (catching revocations
/// by other processes) and now and then purges long-ended sessions.
async fn maintain_ledger(state: web::Data<AppState>) {
    let mut ticker = actix_web::rt::time::interval(REVOCATION_POLL);
    let mut last_purge = Instant::now();
    let mut since = state.clock.now() - state.revoked.horizon();
    loop {
        ticker.tick().await;
        let now = state.clock.now();
        // overlap the previous poll: a revocation committed late with an
        // earlier timestamp (or by a process with a slightly slow clock) is
        // still seen
        let from = since - chrono::Duration::seconds(5);
        match state.db.run(move |c| ledger::revoked_since(c, from)).await {
            Ok(rows) => {
                state.revoked.extend(rows, now);
                since = now;
            }
            Err(e) => log::warn!("polling revocations failed: {e}"),
        }
        if last_purge.elapsed() >= PURGE_EVERY {
            last_purge = Instant::now();
            let before = now - chrono::Duration::days(KEEP_ENDED_DAYS);
            match state.db.run(move |c| ledger::purge_ended(c, before)).await {
                Ok(n) if n > 0 => log::info!("purged {n} ended sessions"),
                Ok(_) => {}
                Err(e) => log::warn!("purging ended sessions failed: {e}"),
            }
            let stale = now - Limits::default().window;
            if let Err(e) = state.db.run(move |c| throttle::purge(c, stale)).await {
                log::warn!("purging login attempts failed: {e}");
            }
        }
    }
}

/// PostgreSQL only: applies the revocations other instances announce, a
/// tenth of a second after they commit. A lost connection is replaced after
/// [`LISTEN_RETRY`]; meanwhile the poll above still runs every second.
async fn listen_for_revocations(state: web::Data<AppState>) {
    let mut ticker = actix_web::rt::time::interval(LISTEN_EVERY);
    let mut listener: Option<Listener> = None;
    loop {
        ticker.tick().await;
        let db = state.db.clone();
        let current = listener.take();
        let drained = tokio::task::spawn_blocking(move || {
            let mut current = match current {
                Some(l) => l,
                None => match Listener::connect(&db)? {
                    Some(l) => l,
                    None => return Ok(None),
                },
            };
            let ids = current.drain()?;
            Ok::<_, DbError>(Some((current, ids)))
        })
        .await;
        match drained {
            Ok(Ok(Some((kept, ids)))) => {
                listener = Some(kept);
                if !ids.is_empty() {
                    let now = state.clock.now();
                    state
                        .revoked
                        .extend(ids.into_iter().map(|id| (id, now)), now);
                }
            }
            Ok(Ok(None)) => return,
            Ok(Err(e)) => {
                log::warn!("revocation listener lost ({e}); polling covers until it is back");
                actix_web::rt::time::sleep(LISTEN_RETRY).await;
            }
            Err(_) => return,
        }
    }
}
