//! Builds the application users run: opens and migrates the database, loads
//! keys, binds the listener (port 0 works; HTTPS when TLS is configured) and
//! the metrics listener when it has its own address, and starts the HTTP
//! servers. SIGTERM or SIGINT stops them gracefully: no new connections,
//! in-flight requests get `PORTCULLIS_SHUTDOWN_TIMEOUT` to finish, live
//! WebSockets are closed (`1001`). SIGHUP reloads the certificate, the token
//! keys and the policy ([`crate::config::reload`]); a reload that fails
//! keeps what runs and logs why.
//! Tests start exactly this.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

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

use crate::auth::sockets::LiveSockets;
use crate::clock::Clock;
use crate::config::{Config, ServeArgs, reload, tls};
use crate::db::{Backend, Db, DbError, passkeys};
use crate::http::access_log::AccessLog;
use crate::http::limits::ConnectionLimit;
use crate::http::routes::api;
use crate::http::routes::websocket::SocketClient;
use crate::http::state::{AppState, Listeners};
use crate::http::{self, limits};
use crate::jobs;
use crate::services::ServicesError;

/// The blocking-pool threads of each HTTP worker's runtime (tokio's default
/// is 512 shared out): only database calls run there (argon2 has its own
/// pool), and more threads than pooled connections would only wait.
const BLOCKING_THREADS_PER_WORKER: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("{0}")]
    Db(#[from] DbError),
    #[error("{0}")]
    Services(#[from] ServicesError),
    /// A setting the database's content needs is missing: the CLI exits 2.
    #[error("{0}")]
    Config(String),
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
    /// The flags the configuration came from, read again on SIGHUP.
    args: Box<ServeArgs>,
    /// What runs, for the start-up line ([`Config::summary`]).
    running: String,
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
        if let (Some(rp), Some(url)) = (&config.passkeys, &config.public_url)
            && !rp.secure_context()
        {
            log::warn!(
                "passkeys will not work: browsers offer them only on https:// or http://localhost, and PORTCULLIS_PUBLIC_URL is {url}"
            );
        }
        if config.passkeys.is_none() {
            let stored = db.with_conn(passkeys::count)?;
            if stored > 0 {
                return Err(StartupError::Config(format!(
                    "PORTCULLIS_PUBLIC_URL: {stored} passkey(s) are registered and can be checked only against the origin users open, by its host name (e.g. https://app.example.com); set it"
                )));
            }
            if let Some(url) = &config.public_url {
                log::warn!(
                    "passkeys are off: PORTCULLIS_PUBLIC_URL {url} is an IP address, which cannot be a WebAuthn RP ID; use a host name (localhost works)"
                );
            }
        }
        if config.static_dir.is_none() {
            log::info!(
                "no SPA: PORTCULLIS_STATIC_DIR is unset and ./static does not exist; serving the API only"
            );
        }
        let listener = bind(&config.bind)?;
        let port = port_of(&listener, &config.bind)?;
        let host = config.bind.rsplit_once(':').map_or("", |(host, _)| host);
        let running = config.summary(&format!("{host}:{port}"));
        let (state, listeners) = AppState::new(config, clock, db)?;
        let state = web::Data::new(state);
        let server = main_server(state.clone(), &listeners, listener).map_err(|source| {
            StartupError::Bind {
                addr: listeners.bind.clone(),
                source,
            }
        })?;
        let metrics = match &listeners.metrics_bind {
            None => None,
            Some(addr) => Some(metrics_server(state.clone(), addr, &listeners)?),
        };
        Ok(Self {
            port,
            server,
            metrics,
            state,
            args: Box::new(listeners.args),
            running,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// What runs: scheme and address, signing keys, database, SPA,
    /// workers, metrics listener.
    pub fn running(&self) -> &str {
        &self.running
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
        let (services, clock) = (&self.state.services, &self.state.clock);
        let listener = (self.state.db.backend() == Backend::Postgres).then(|| {
            actix_web::rt::spawn(jobs::listen_for_revocations(
                services.clone(),
                clock.clone(),
            ))
        });
        let poller = actix_web::rt::spawn(jobs::maintain_ledger(services.clone(), clock.clone()));
        let oidc = services.oidc.clone();
        let discovery = actix_web::rt::spawn(async move { oidc.discover().await });
        let reloads = actix_web::rt::spawn(reload_on_hangup(self.state.clone(), self.args));
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
        discovery.abort();
        reloads.abort();
        if let Some(listener) = listener {
            listener.abort();
        }
        log::info!("portcullis stopped");
        log::logger().flush();
        result
    }
}

/// The main listener, plain HTTP or HTTPS, bounded per client address.
fn main_server(
    state: web::Data<AppState>,
    listeners: &Listeners,
    listener: TcpListener,
) -> std::io::Result<Server> {
    let connections = ConnectionLimit::new(
        listeners.max_client_connections,
        state.trusted_proxies.clone(),
    );
    let sockets = state.revoked.sockets().clone();
    let parts = AppParts {
        state,
        origins: listeners.cors_origins.clone(),
        upstream_tls: listeners.upstream_tls.clone(),
        metrics_here: listeners.metrics_bind.is_none(),
    };
    match &listeners.tls {
        Some(current) => https_server(
            parts,
            listener,
            tls::server(current.clone()).map_err(std::io::Error::other)?,
            connections,
            listeners,
            sockets,
        ),
        None => HttpServer::new(move || app(parts.clone()))
            .on_connect(move |conn, data| connections.on_connect(conn, data))
            .workers(listeners.workers)
            .worker_max_blocking_threads(BLOCKING_THREADS_PER_WORKER)
            .shutdown_timeout(listeners.shutdown_timeout)
            .shutdown_signal(stop_signal(sockets))
            .listen(listener)
            .map(HttpServer::run),
    }
}

/// The separate `/metrics` listener on `addr`: one worker, `/metrics` only,
/// stopped with the main one.
fn metrics_server(
    state: web::Data<AppState>,
    addr: &str,
    listeners: &Listeners,
) -> Result<(u16, Server), StartupError> {
    let listener = bind(addr)?;
    let port = port_of(&listener, addr)?;
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .wrap(AccessLog::new(state.metrics.clone()))
            .configure(http::configure_metrics)
    })
    .workers(1)
    .worker_max_blocking_threads(BLOCKING_THREADS_PER_WORKER)
    .disable_signals()
    .shutdown_timeout(listeners.shutdown_timeout)
    .listen(listener)
    .map_err(|source| StartupError::Bind {
        addr: addr.to_owned(),
        source,
    })?
    .run();
    Ok((port, server))
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
            state.proxy.timeout,
            parts.upstream_tls.clone(),
        )))
        .app_data(web::Data::new(SocketClient::new(
            state.proxy.timeout,
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
    listeners: &Listeners,
    sockets: Arc<LiveSockets>,
) -> std::io::Result<Server> {
    let addr = listener.local_addr()?;
    let builder = actix_server::Server::build()
        .workers(listeners.workers)
        .worker_max_blocking_threads(BLOCKING_THREADS_PER_WORKER)
        .shutdown_timeout(listeners.shutdown_timeout)
        .shutdown_signal(stop_signal(sockets));
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

/// At every SIGHUP, loads the certificate, the token keys and the policy
/// again and swaps them in, or logs each problem and keeps what runs.
async fn reload_on_hangup(state: web::Data<AppState>, args: Box<ServeArgs>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut hangups) = signal(SignalKind::hangup()) else {
            log::warn!("cannot listen for SIGHUP; reloading needs a restart");
            return;
        };
        while hangups.recv().await.is_some() {
            match reload::reload(&args) {
                Ok(fresh) => log::info!("SIGHUP: reloaded {}", state.apply(fresh)),
                Err(problems) => {
                    for problem in &problems {
                        log::error!("SIGHUP: {problem}");
                    }
                    log::error!(
                        "SIGHUP: reload failed; still running with the previous certificate, keys and policy"
                    );
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (state, args);
    }
}

/// Resolves at the first SIGTERM or SIGINT (Ctrl-C): the servers then stop
/// gracefully, and every live WebSocket closes with `1001`. (actix's own
/// handling treats SIGINT as a hard stop.)
async fn stop_signal(sockets: Arc<LiveSockets>) {
    signalled().await;
    sockets.shut_down();
}

async fn signalled() {
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
