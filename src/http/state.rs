//! What every handler shares ([`AppState`]), built once from the validated
//! configuration ([`AppState::new`]), grouped by who needs it: the clock
//! and the database, the token signer and the revocation list the
//! extractors check, the services the auth routes call, the proxy's
//! settings, and the SPA's folder. The token keys, the policy and the
//! listener's certificate are swapped whole by a reload
//! ([`AppState::apply`]); a request reads each once and keeps what it got.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use actix_web::http::header::HeaderValue;
use arc_swap::ArcSwap;
use chrono::Duration as ChronoDuration;

use crate::auth::hash_pool::HashGate;
use crate::auth::revocation::RevocationList;
use crate::auth::tokens::{LEEWAY_SECS, Tokens};
use crate::client_addr::TrustedProxies;
use crate::clock::Clock;
use crate::config::reload::Reloaded;
use crate::config::tls::CurrentCertificate;
use crate::config::{Config, CookieSettings, MfaPolicy, ServeArgs};
use crate::db::throttle::Limits;
use crate::db::{Db, ledger};
use crate::http::fetch;
use crate::metrics::Metrics;
use crate::proxy::Upstream;
use crate::proxy::policy::Policy;
use crate::services::{DEFAULT_ISSUER, Parts, Services, ServicesError};

/// Logins that may wait for a hashing thread, per thread; more are
/// answered 429 at once (a hash takes tens of milliseconds, a wait at
/// most a second).
const HASH_WAITING_PER_THREAD: usize = 32;
/// Longest a login waits for a hashing thread.
const HASH_WAIT: Duration = Duration::from_secs(1);
/// Longest a request to an OpenID Provider may take.
const PROVIDER_TIMEOUT: Duration = Duration::from_secs(10);

/// The name authenticator apps show for this gateway: the host users open
/// it on, when `PORTCULLIS_PUBLIC_URL` says.
fn issuer(public_url: Option<&str>) -> String {
    public_url
        .and_then(|url| url.split_once("://"))
        .map(|(_, host)| host.split(':').next().unwrap_or(host).to_owned())
        .filter(|host| !host.is_empty())
        .unwrap_or_else(|| DEFAULT_ISSUER.to_owned())
}

/// How `/api` calls are checked and sent.
pub struct ProxySettings {
    pub upstream: Upstream,
    pub policy: ArcSwap<Policy>,
    pub timeout: Duration,
    pub max_body_size: usize,
    /// Longest pause between two pieces of a proxied request body.
    pub body_idle_timeout: Duration,
    /// Largest WebSocket message, either way.
    pub ws_max_message: usize,
}

/// Everything a handler may need, shared by every worker.
pub struct AppState {
    /// The application's clock: every handler and extractor reads `now` here.
    pub clock: Clock,
    pub db: Db,
    pub tokens: ArcSwap<Tokens>,
    /// Sessions ended lately, whose access tokens are refused.
    pub revoked: Arc<RevocationList>,
    pub services: Services,
    pub cookie: CookieSettings,
    pub allow_registration: bool,
    pub trusted_proxies: TrustedProxies,
    pub proxy: ProxySettings,
    /// The SPA's folder; `None` serves no SPA.
    pub static_dir: Option<PathBuf>,
    pub metrics: Arc<Metrics>,
    /// Whether the main listener speaks TLS (`X-Forwarded-Proto`).
    pub https: bool,
    /// The `Strict-Transport-Security` every answer carries: only on an
    /// HTTPS listener, unless configured off.
    pub hsts: Option<HeaderValue>,
    /// Who must use a second factor.
    pub mfa: MfaPolicy,
    /// The certificate the HTTPS listener presents; `None` on plain HTTP.
    pub certificate: Option<Arc<CurrentCertificate>>,
}

/// What the listeners are built from: the part of the configuration the
/// handlers never read.
pub struct Listeners {
    pub bind: String,
    pub tls: Option<Arc<CurrentCertificate>>,
    pub cors_origins: Vec<String>,
    pub upstream_tls: Option<Arc<rustls::ClientConfig>>,
    pub metrics_bind: Option<String>,
    pub max_client_connections: usize,
    pub workers: usize,
    pub shutdown_timeout: u64,
    /// The flags the configuration came from, for a reload.
    pub args: ServeArgs,
}

impl AppState {
    /// The shared state on an opened, migrated database, and what is left
    /// of the configuration for the listeners. The revocation list starts
    /// with the sessions ended within one access-token lifetime.
    pub fn new(config: Config, clock: Clock, db: Db) -> Result<(Self, Listeners), ServicesError> {
        let now = clock.now();
        let revoked = Arc::new(RevocationList::new(
            config.access_ttl + ChronoDuration::seconds(LEEWAY_SECS),
        ));
        let recent = db.with_conn(|c| ledger::revoked_since(c, now - revoked.horizon()))?;
        revoked.extend(recent, now);
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        let metrics = Arc::new(Metrics::new());
        let parts = Parts {
            db: db.clone(),
            hashing: HashGate::new(threads, HASH_WAITING_PER_THREAD * threads, HASH_WAIT)?,
            throttle: Limits::default(),
            revoked: revoked.clone(),
            session: config.session,
            metrics: metrics.clone(),
            seal: config.seal,
            passkeys: config.passkeys,
            issuer: issuer(config.public_url.as_deref()),
            event_retention: config.event_retention,
            providers: config.oidc_providers,
            fetch: Some(fetch::fetcher(config.oidc_tls, PROVIDER_TIMEOUT)),
        };
        let hsts = config
            .hsts
            .filter(|_| config.tls.is_some())
            .and_then(|v| HeaderValue::from_str(&v).ok());
        let state = Self {
            services: Services::new(parts, now)?,
            clock,
            db,
            tokens: ArcSwap::from_pointee(config.tokens),
            revoked,
            cookie: config.cookie,
            allow_registration: config.allow_registration,
            trusted_proxies: TrustedProxies::new(config.trusted_proxies),
            proxy: ProxySettings {
                upstream: config.upstream,
                policy: ArcSwap::from_pointee(config.policy),
                timeout: config.upstream_timeout,
                max_body_size: config.max_body_size,
                body_idle_timeout: config.body_idle_timeout,
                ws_max_message: config.ws_max_message,
            },
            static_dir: config.static_dir,
            metrics,
            https: config.tls.is_some(),
            hsts,
            mfa: config.mfa,
            certificate: config.tls.clone(),
        };
        let listeners = Listeners {
            bind: config.bind,
            tls: config.tls,
            cors_origins: config.cors_origins,
            upstream_tls: config.upstream_tls,
            metrics_bind: config.metrics_bind,
            max_client_connections: config.max_client_connections,
            workers: config.workers,
            shutdown_timeout: config.shutdown_timeout,
            args: config.args,
        };
        Ok((state, listeners))
    }

    /// Swaps in what a reload loaded: new handshakes present the new
    /// certificate, new requests see the new keys and policy; connections
    /// and sessions stay. Returns what now runs, for the log.
    pub fn apply(&self, fresh: Reloaded) -> String {
        let mut told = Vec::new();
        if let (Some(current), Some(next)) = (&self.certificate, fresh.certificate) {
            current.replace(next);
            told.push("the TLS certificate".to_owned());
        }
        told.push(format!("signing with {}", fresh.tokens.describe()));
        told.push(format!("a policy of {} rule(s)", fresh.policy.len()));
        self.tokens.store(Arc::new(fresh.tokens));
        self.proxy.policy.store(Arc::new(fresh.policy));
        told.join(", ")
    }
}
