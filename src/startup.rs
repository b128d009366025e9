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
use crate::auth::throttle::{Limits, Throttle};
use crate::auth::tokens::LEEWAY_SECS;
use crate::clock::Clock;
use crate::config::Config;
use crate::db::{Db, DbError, ledger};
use crate::http::limits::{self, ConnectionLimit};
use crate::http::routes::api;
use crate::http::{self, AppState};

/// How often the revocation list is topped up from the database.
const REVOCATION_POLL: Duration = Duration::from_secs(1);
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
        let db = Db::connect(&config.database_url)?;
        let applied = db.migrate()?;
        if applied > 0 {
            log::info!("applied {applied} database migration(s)");
        }
        let revoked = Arc::new(RevocationList::new(
            config.access_ttl + chrono::Duration::seconds(LEEWAY_SECS),
        ));
        let now = clock.now();
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
            body_idle_timeout: config.body_idle_timeout,
            static_dir: config.static_dir,
        });

        let bind_err = |source| StartupError::Bind {
            addr: config.bind.clone(),
            source,
        };
        let listener = TcpListener::bind(&config.bind).map_err(bind_err)?;
        let port = listener.local_addr().map_err(bind_err)?.port();
        let origins = config.cors_origins;
        let connections =
            ConnectionLimit::new(config.max_client_connections, state.trusted_proxies.clone());
        let app_state = state.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(app_state.clone())
                .app_data(web::Data::new(api::client(app_state.upstream_timeout)))
                .wrap(from_fn(limits::bound_clients))
                .wrap(http::cors(&origins))
                .wrap(from_fn(http::error::json_errors))
                .wrap(from_fn(http::security_headers))
                .wrap(http::access_log())
                .configure(|cfg| http::configure(cfg, app_state.static_dir.clone()))
        })
        .workers(config.workers)
        .on_connect(move |conn, data| connections.on_connect(conn, data))
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

    /// Serves until the server stops, polling revocations meanwhile.
    pub async fn run(self) -> std::io::Result<()> {
        let poller = actix_web::rt::spawn(maintain_ledger(self.state));
        let result = self.server.await;
        poller.abort();
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
        }
    }
}
