//! Builds the application users run: opens and migrates the database, loads
//! keys, binds the listener (port 0 works; HTTPS when TLS is configured) and
//! the metrics listener when it has its own address, and starts the HTTP
//! servers. SIGTERM or SIGINT stops them gracefully: no new connections,
//! in-flight requests get `PORTCULLIS_SHUTDOWN_TIMEOUT` to finish.
//! Tests start exactly this.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_http::{HttpService, KeepAlive};
use actix_service::{IntoServiceFactory, ServiceFactoryExt, map_config};
use actix_tls::accept::rustls_0_23::TlsStream;
use actix_web::body::MessageBody;
use actix_web::dev::{
    AppConfig, Extensions, Server, ServerHandle, ServiceFactory, ServiceRequest, ServiceResponse,
};
use actix_web::middleware::from_fn;
use actix_web::rt::net::TcpStream;
use actix_web::{App, HttpServer, web};

use crate::auth::password::HashGate;
use crate::auth::revocation::RevocationList;
use crate::auth::tokens::LEEWAY_SECS;
use crate::clock::Clock;
use crate::config::Config;
use crate::db::listen::Listener;
use crate::db::throttle::{self, Limits, Throttle};
use crate::db::{Backend, Db, DbError, ledger, secrets};
use crate::http::access::AccessLog;
use crate::http::limits::{self, ConnectionLimit};
use crate::http::metrics::Metrics;
use crate::http::routes::api;
use crate::http::{self, AppState};

/// How often the revocation list is topped up from the database.
/// Logins that may wait for a hashing thread, per thread; more are
/// answered 429 at once (a hash takes tens of milliseconds, a wait at
/// most a second).
const HASH_WAITING_PER_THREAD: usize = 32;

/// The blocking-pool threads of each HTTP worker's runtime (tokio's default
/// is 512 shared out): only database calls run there (argon2 has its own
/// pool), and more threads than pooled connections would only wait.
const BLOCKING_THREADS_PER_WORKER: usize = 16;

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
    /// The separate `/metrics` listener, when it has its own address.
    metrics: Option<(u16, Server)>,
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
            hashing: HashGate::new(
                hash_slots,
                HASH_WAITING_PER_THREAD * hash_slots,
                Duration::from_secs(1),
            ),
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
            metrics: Arc::new(Metrics::new()),
            https: config.tls.is_some(),
        });

        let listener = bind(&config.bind)?;
        let port = port_of(&listener, &config.bind)?;
        let parts = AppParts {
            state: state.clone(),
            origins: config.cors_origins,
            upstream_tls: config.upstream_tls,
            metrics_here: config.metrics_bind.is_none(),
        };
        let connections =
            ConnectionLimit::new(config.max_client_connections, state.trusted_proxies.clone());
        let server = match config.tls {
            Some(tls) => https_server(
                parts,
                listener,
                tls,
                connections,
                config.workers,
                config.shutdown_timeout,
            ),
            None => HttpServer::new(move || app(parts.clone()))
                .on_connect(move |conn, data| connections.on_connect(conn, data))
                .workers(config.workers)
                .worker_max_blocking_threads(BLOCKING_THREADS_PER_WORKER)
                .shutdown_timeout(config.shutdown_timeout)
                .shutdown_signal(stop_signal())
                .listen(listener)
                .map(HttpServer::run),
        }
        .map_err(|source| StartupError::Bind {
            addr: config.bind.clone(),
            source,
        })?;

        let metrics = match &config.metrics_bind {
            None => None,
            Some(addr) => {
                let listener = bind(addr)?;
                let port = port_of(&listener, addr)?;
                let app_state = state.clone();
                let server = HttpServer::new(move || {
                    App::new()
                        .app_data(app_state.clone())
                        .wrap(AccessLog::new(app_state.metrics.clone()))
                        .configure(http::configure_metrics)
                })
                .workers(1)
                .worker_max_blocking_threads(BLOCKING_THREADS_PER_WORKER)
                .disable_signals()
                .shutdown_timeout(config.shutdown_timeout)
                .listen(listener)
                .map_err(|source| StartupError::Bind {
                    addr: addr.clone(),
                    source,
                })?
                .run();
                Some((port, server))
            }
        };
        Ok(Self {
            port,
            server,
            metrics,
            state,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port of the separate `/metrics` listener, if there is one.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics.as_ref().map(|(port, _)| *port)
    }

    /// Serves until the server stops (after SIGTERM/SIGINT, once in-flight
    /// requests are done), polling (and on PostgreSQL listening for)
    /// revocations meanwhile; then stops the metrics listener, the poller
    /// and the listener.
    pub async fn run(self) -> std::io::Result<()> {
        let listener = (self.state.db.backend() == Backend::Postgres)
            .then(|| actix_web::rt::spawn(listen_for_revocations(self.state.clone())));
        let poller = actix_web::rt::spawn(maintain_ledger(self.state));
        let metrics: Option<ServerHandle> = self.metrics.map(|(_, server)| {
            let handle = server.handle();
            actix_web::rt::spawn(server);
            handle
        });
        let result = self.server.await;
        if let Some(handle) = metrics {
            handle.stop(true).await;
        }
        poller.abort();
        if let Some(listener) = listener {
            listener.abort();
        }
        log::info!("portcullis stopped");
        log::logger().flush();
        result
    }
}

/// What each worker's app is built from.
#[derive(Clone)]
struct AppParts {
    state: web::Data<AppState>,
    origins: Vec<String>,
    upstream_tls: Option<Arc<rustls::ClientConfig>>,
    /// Whether `/metrics` is served on this listener.
    metrics_here: bool,
}

/// One worker's application: state, its own upstream client, the
/// middleware (the access log outermost) and the route table.
fn app(
    parts: AppParts,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let state = parts.state;
    let metrics_here = parts.metrics_here;
    let static_dir = state.static_dir.clone();
    App::new()
        .app_data(web::Data::new(api::client(
            state.upstream_timeout,
            parts.upstream_tls,
        )))
        .app_data(state.clone())
        .wrap(from_fn(limits::bound_clients))
        .wrap(http::cors::cors(&parts.origins))
        .wrap(from_fn(http::error::json_errors))
        .wrap(from_fn(http::security_headers))
        .wrap(AccessLog::new(state.metrics.clone()))
        .configure(|cfg| http::configure(cfg, static_dir, metrics_here))
}

/// The HTTPS listener: rustls, then HTTP/1.1 only. (actix-web's own
/// rustls listener also offers HTTP/2 by ALPN whenever actix-http's http2
/// feature is on, which awc turns on; the contract and the proxy's body
/// framing are HTTP/1.1.) Same timeouts, signals and graceful drain as the
/// plain listener.
fn https_server(
    parts: AppParts,
    listener: TcpListener,
    tls: rustls::ServerConfig,
    connections: ConnectionLimit,
    workers: usize,
    shutdown_timeout: u64,
) -> std::io::Result<Server> {
    let addr = listener.local_addr()?;
    let builder = actix_server::Server::build()
        .workers(workers)
        .worker_max_blocking_threads(BLOCKING_THREADS_PER_WORKER)
        .shutdown_timeout(shutdown_timeout)
        .shutdown_signal(stop_signal());
    let draining = builder.graceful_shutdown_signal();
    Ok(builder
        .listen("portcullis-https", listener, move || {
            let draining = draining.clone();
            let connections = connections.clone();
            let service = app(parts.clone())
                .into_factory()
                .map_err(|e| e.error_response());
            HttpService::build()
                .keep_alive(KeepAlive::default())
                .client_request_timeout(Duration::from_secs(5))
                .client_disconnect_timeout(Duration::from_secs(1))
                .local_addr(addr)
                .on_connect_ext(move |io: &TlsStream<TcpStream>, data: &mut Extensions| {
                    connections.on_connect(io, data)
                })
                // idle keep-alive connections close at once on shutdown
                .graceful_shutdown_signal(move || {
                    let draining = draining.clone();
                    async move { draining.notified().await }
                })
                .h1(map_config(service, |_| AppConfig::default()))
                .rustls_0_23(tls.clone())
        })?
        .run())
}

fn bind(addr: &str) -> Result<TcpListener, StartupError> {
    TcpListener::bind(addr).map_err(|source| StartupError::Bind {
        addr: addr.to_owned(),
        source,
    })
}

fn port_of(listener: &TcpListener, addr: &str) -> Result<u16, StartupError> {
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|source| StartupError::Bind {
            addr: addr.to_owned(),
            source,
        })
}

/// Resolves at the first SIGTERM or SIGINT (Ctrl-C): the servers then stop
/// gracefully. (actix's own handling treats SIGINT as a hard stop.)
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            log::warn!("cannot listen for SIGTERM/SIGINT; stop the process with SIGKILL");
            return std::future::pending().await;
        };
        let name = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        };
        log::info!("{name} received: finishing in-flight requests, accepting no new ones");
    }
    #[cfg(not(unix))]
    {
        if tokio::signal::ctrl_c().await.is_ok() {
            log::info!("Ctrl-C received: finishing in-flight requests, accepting no new ones");
        } else {
            std::future::pending::<()>().await;
        }
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
        match state.db.read(move |c| ledger::revoked_since(c, from)).await {
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
