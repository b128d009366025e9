//! One typed [`Config`] for `serve`, built from the flags and their
//! environment variables ([`args`]) by pure parsers ([`parse`]). The
//! collector reports every problem at once, each naming the variable and
//! what is wrong (the CLI exits 2), and builds a `Config` only when every
//! field parsed: there are no placeholder values. Key files are read and
//! parsed once, here; start-up reuses the result.

pub mod args;
pub mod parse;
pub mod tls;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::Duration;
use ipnet::IpNet;
use secrecy::{ExposeSecret, SecretString};

pub use args::{DbArgs, ServeArgs, defaults};
use parse::{
    cookie_name_ok, database_dir_exists, non_empty, parse_bind, parse_bool, parse_count, parse_net,
    parse_origin, parse_secs, read_file, secret_ok, split_list,
};

use crate::auth::tokens::{KeyError, SigningKey, Tokens};
use crate::db::DbSettings;
use crate::db::ledger::SessionPolicy;
use crate::proxy::Upstream;
use crate::proxy::policy::Policy;

/// The refresh cookie's settings.
#[derive(Debug, Clone)]
pub struct CookieSettings {
    pub name: String,
    pub secure: bool,
}

/// Everything `serve` needs, validated.
pub struct Config {
    /// Where the database is, and how many connections and how long to wait.
    pub database: DbSettings,
    pub bind: String,
    pub upstream: Upstream,
    /// The signer and verifier, keys loaded.
    pub tokens: Tokens,
    pub access_ttl: Duration,
    pub session: SessionPolicy,
    pub cookie: CookieSettings,
    pub allow_registration: bool,
    pub cors_origins: Vec<String>,
    /// The SPA's folder; `None` when unset and `./static` does not exist.
    pub static_dir: Option<PathBuf>,
    pub upstream_timeout: StdDuration,
    pub trusted_proxies: Vec<IpNet>,
    pub policy: Policy,
    /// A separate listen address for `/metrics`.
    pub metrics_bind: Option<String>,
    pub max_body_size: usize,
    /// Longest pause between two pieces of a proxied request body.
    pub body_idle_timeout: StdDuration,
    /// Most connections one client address may hold open at once.
    pub max_client_connections: usize,
    pub workers: usize,
    /// The listener's TLS; `None` is plain HTTP.
    pub tls: Option<rustls::ServerConfig>,
    /// The client TLS for an `https://` upstream; `None` for `http://`.
    pub upstream_tls: Option<Arc<rustls::ClientConfig>>,
    /// Seconds in-flight requests get after SIGTERM/SIGINT.
    pub shutdown_timeout: u64,
}

/// Collects problems, one line each, naming the variable.
#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    /// The value, or `None` with the problem noted.
    fn take<T>(&mut self, var: &str, result: Result<T, String>) -> Option<T> {
        result.map_err(|e| self.0.push(format!("{var}: {e}"))).ok()
    }

    fn check(&mut self, var: &str, ok: Result<(), String>) {
        self.take(var, ok);
    }
}

impl Config {
    /// Validates `args`; `Err` holds one line per problem.
    pub fn from_args(args: &ServeArgs) -> Result<Self, Vec<String>> {
        let mut p = Problems::default();

        let database_url = args.db.database_url.trim().to_owned();
        p.check("DATABASE_URL", non_empty(&database_url));
        p.check("DATABASE_URL", database_dir_exists(&database_url));
        let pool_size = p.take(
            "PORTCULLIS_DB_POOL_SIZE",
            parse_count(&args.db_pool_size, 1..=1000, "a number of connections"),
        );
        let statement_timeout = p.take(
            "PORTCULLIS_DB_STATEMENT_TIMEOUT",
            parse_secs(&args.db_statement_timeout, 1),
        );
        let connect_timeout = p.take(
            "PORTCULLIS_DB_CONNECT_TIMEOUT",
            parse_secs(&args.db_connect_timeout, 1),
        );
        p.check("PORTCULLIS_BIND", parse_bind(&args.bind));
        let upstream = p.take(
            "PORTCULLIS_UPSTREAM",
            args.upstream
                .as_deref()
                .ok_or_else(|| "required: the base URL of the upstream API".to_owned())
                .and_then(Upstream::parse),
        );

        let signing_key = signing_key(args)
            .map_err(|(var, e)| p.0.push(format!("{var}: {e}")))
            .ok();
        let verify_keys = p.take(
            "PORTCULLIS_JWT_VERIFY_KEYS",
            split_list(&args.jwt_verify_keys)
                .map(|path| read_file(Path::new(path)))
                .collect::<Result<Vec<_>, _>>(),
        );
        if args.jwt_secret.is_some() && !args.jwt_verify_keys.trim().is_empty() {
            p.check(
                "PORTCULLIS_JWT_VERIFY_KEYS",
                Err("Ed25519 keys verify EdDSA tokens only; with PORTCULLIS_JWT_SECRET (HS256) leave it empty".into()),
            );
        }
        let access_ttl = p.take("PORTCULLIS_ACCESS_TTL", parse_secs(&args.access_ttl, 1));
        let ttl = p.take("PORTCULLIS_SESSION_TTL", parse_secs(&args.session_ttl, 1));
        let idle_ttl = p.take(
            "PORTCULLIS_SESSION_IDLE_TTL",
            parse_secs(&args.session_idle_ttl, 1),
        );
        let grace = p.take(
            "PORTCULLIS_REFRESH_GRACE",
            parse_secs(&args.refresh_grace, 0).and_then(|g| {
                if g > Duration::seconds(60) {
                    Err("at most 60 seconds; longer windows weaken reuse detection".into())
                } else {
                    Ok(g)
                }
            }),
        );
        let secure = p.take("PORTCULLIS_COOKIE_SECURE", parse_bool(&args.cookie_secure));
        let cookie_name = args.cookie_name.trim().to_owned();
        p.check(
            "PORTCULLIS_COOKIE_NAME",
            cookie_name_ok(&cookie_name, secure.unwrap_or(true)),
        );
        let allow_registration = p.take(
            "PORTCULLIS_ALLOW_REGISTRATION",
            parse_bool(&args.allow_registration),
        );
        let cors_origins = p.take(
            "PORTCULLIS_CORS_ORIGINS",
            split_list(&args.cors_origins)
                .map(parse_origin)
                .collect::<Result<Vec<_>, _>>(),
        );
        let static_dir = p.take(
            "PORTCULLIS_STATIC_DIR",
            static_dir(args.static_dir.as_deref()),
        );
        let upstream_timeout = p.take(
            "PORTCULLIS_UPSTREAM_TIMEOUT",
            parse_secs(&args.upstream_timeout, 1).map(|d| d.to_std().unwrap_or_default()),
        );
        let issuer = args.issuer.trim().to_owned();
        p.check("PORTCULLIS_ISSUER", non_empty(&issuer));
        let audience = args.audience.trim().to_owned();
        p.check("PORTCULLIS_AUDIENCE", non_empty(&audience));
        let trusted_proxies = p.take(
            "PORTCULLIS_TRUSTED_PROXIES",
            split_list(&args.trusted_proxies)
                .map(parse_net)
                .collect::<Result<Vec<_>, _>>(),
        );
        let policy = p.take(
            "PORTCULLIS_POLICY",
            match &args.policy {
                None => Ok(Policy::default()),
                Some(path) => read_file(path).and_then(|text| {
                    Policy::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
                }),
            },
        );
        if let Some(addr) = &args.metrics_bind {
            p.check("PORTCULLIS_METRICS_BIND", parse_bind(addr));
        }
        let max_body_size = p.take(
            "PORTCULLIS_MAX_BODY_SIZE",
            parse_count(&args.max_body_size, 1..=usize::MAX, "a number of bytes"),
        );
        let body_idle_timeout = p.take(
            "PORTCULLIS_BODY_IDLE_TIMEOUT",
            parse_secs(&args.body_idle_timeout, 1).map(|d| d.to_std().unwrap_or_default()),
        );
        let max_client_connections = p.take(
            "PORTCULLIS_MAX_CLIENT_CONNECTIONS",
            parse_count(&args.max_client_connections, 1..=65_536, "a number"),
        );
        let workers = p.take(
            "PORTCULLIS_WORKERS",
            match &args.workers {
                None => Ok(std::thread::available_parallelism().map_or(2, |n| n.get())),
                Some(n) => parse_count(n, 1..=256, "a number"),
            },
        );

        let tls = match (&args.tls_cert, &args.tls_key) {
            (Some(cert), Some(key)) => tls::server(cert, key)
                .map(Some)
                .map_err(|(var, e)| p.0.push(format!("{var}: {e}")))
                .ok(),
            (None, None) => Some(None),
            (Some(_), None) => p.take(
                "PORTCULLIS_TLS_KEY",
                Err("required with PORTCULLIS_TLS_CERT: set both or neither".into()),
            ),
            (None, Some(_)) => p.take(
                "PORTCULLIS_TLS_CERT",
                Err("required with PORTCULLIS_TLS_KEY: set both or neither".into()),
            ),
        };
        let upstream_tls = match &upstream {
            Some(up) if up.is_https() => p
                .take(
                    "PORTCULLIS_UPSTREAM_CA",
                    tls::upstream(args.upstream_ca.as_deref()),
                )
                .map(|c| Some(Arc::new(c))),
            _ => Some(None),
        };
        let shutdown_timeout = p.take(
            "PORTCULLIS_SHUTDOWN_TIMEOUT",
            parse_secs(&args.shutdown_timeout, 0).map(|d| d.num_seconds().unsigned_abs()),
        );

        let tokens = match (&signing_key, &verify_keys, access_ttl) {
            (Some(key), Some(extra), Some(ttl)) => {
                match Tokens::new(key, extra, &issuer, &audience, ttl) {
                    Ok(tokens) => Some(tokens),
                    Err(e @ KeyError::BadVerifyKey(_)) => {
                        p.take("PORTCULLIS_JWT_VERIFY_KEYS", Err(e.to_string()))
                    }
                    Err(e) => p.take("PORTCULLIS_JWT_KEY_FILE", Err(e.to_string())),
                }
            }
            _ => None,
        };

        let (
            Some(upstream),
            Some(tokens),
            Some(access_ttl),
            Some(ttl),
            Some(idle_ttl),
            Some(grace),
            Some(secure),
            Some(allow_registration),
            Some(cors_origins),
            Some(static_dir),
            Some(upstream_timeout),
            Some(trusted_proxies),
            Some(policy),
            Some(max_body_size),
            Some(body_idle_timeout),
            Some(max_client_connections),
            Some(workers),
            Some(pool_size),
            Some(statement_timeout),
            Some(connect_timeout),
            Some(tls),
            Some(upstream_tls),
            Some(shutdown_timeout),
        ) = (
            upstream,
            tokens,
            access_ttl,
            ttl,
            idle_ttl,
            grace,
            secure,
            allow_registration,
            cors_origins,
            static_dir,
            upstream_timeout,
            trusted_proxies,
            policy,
            max_body_size,
            body_idle_timeout,
            max_client_connections,
            workers,
            pool_size,
            statement_timeout,
            connect_timeout,
            tls,
            upstream_tls,
            shutdown_timeout,
        )
        else {
            return Err(p.0);
        };
        if !p.0.is_empty() {
            return Err(p.0);
        }
        Ok(Self {
            database: DbSettings {
                url: database_url,
                pool_size: u32::try_from(pool_size).unwrap_or(u32::MAX),
                statement_timeout: statement_timeout.to_std().unwrap_or_default(),
                connect_timeout: connect_timeout.to_std().unwrap_or_default(),
            },
            bind: args.bind.trim().to_owned(),
            upstream,
            tokens,
            access_ttl,
            session: SessionPolicy {
                ttl,
                idle_ttl,
                grace,
            },
            cookie: CookieSettings {
                name: cookie_name,
                secure,
            },
            allow_registration,
            cors_origins,
            static_dir,
            upstream_timeout,
            trusted_proxies,
            policy,
            metrics_bind: args.metrics_bind.clone(),
            max_body_size,
            body_idle_timeout,
            max_client_connections,
            workers,
            tls,
            upstream_tls,
            shutdown_timeout,
        })
    }
}

/// The SPA folder: a named one must exist (its absolute path is named when
/// it does not); unnamed, `./static` if it exists, else none.
fn static_dir(named: Option<&Path>) -> Result<Option<PathBuf>, String> {
    match named {
        Some(dir) if dir.is_dir() => Ok(Some(dir.to_owned())),
        Some(dir) => {
            let shown = std::path::absolute(dir).unwrap_or_else(|_| dir.to_owned());
            Err(format!("{} is not a directory", shown.display()))
        }
        None => {
            let default = PathBuf::from(defaults::STATIC_DIR);
            Ok(default.is_dir().then_some(default))
        }
    }
}

/// The signing key, or the variable to blame and what is wrong.
fn signing_key(args: &ServeArgs) -> Result<SigningKey, (&'static str, String)> {
    const SECRET: &str = "PORTCULLIS_JWT_SECRET";
    const KEY_FILE: &str = "PORTCULLIS_JWT_KEY_FILE";
    match (&args.jwt_secret, &args.jwt_key_file) {
        (Some(_), Some(_)) => Err((
            SECRET,
            format!("set either {SECRET} or {KEY_FILE}, not both"),
        )),
        (None, None) => Err((
            SECRET,
            format!("a signing key is required: set {SECRET} (32+ bytes) or {KEY_FILE}"),
        )),
        (Some(secret), None) => secret_ok(secret.expose_secret())
            .map(|()| SigningKey::Hs256(secret.clone()))
            .map_err(|e| (SECRET, e)),
        (None, Some(path)) => read_file(path)
            .map(|pem| SigningKey::EdDsa(SecretString::from(pem)))
            .map_err(|e| (KEY_FILE, e)),
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // No key material, ever.
        f.debug_struct("Config")
            .field("database", &self.database)
            .field("bind", &self.bind)
            .field("upstream", &self.upstream)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> ServeArgs {
        ServeArgs {
            upstream: Some("http://127.0.0.1:9000/base".into()),
            jwt_secret: Some("a-test-secret-of-at-least-32-bytes-and-varied".into()),
            static_dir: Some(".".into()),
            ..ServeArgs::default()
        }
    }

    #[test]
    fn defaults_with_a_secret_and_upstream_are_valid() {
        let config = Config::from_args(&args()).unwrap();
        assert_eq!(config.access_ttl, Duration::seconds(900));
        assert_eq!(config.session.ttl, Duration::days(30));
        assert!(config.cookie.secure);
    }

    #[test]
    fn every_problem_is_reported_at_once_naming_the_variable() {
        let errors = Config::from_args(&ServeArgs {
            jwt_secret: Some("short".into()),
            upstream: None,
            access_ttl: "soon".into(),
            jwt_verify_keys: "old.pem".into(),
            cors_origins: "*".into(),
            trusted_proxies: "not-an-ip".into(),
            cookie_secure: "maybe".into(),
            ..args()
        })
        .unwrap_err();
        let all = errors.join("\n");
        for var in [
            "PORTCULLIS_JWT_SECRET",
            "PORTCULLIS_UPSTREAM",
            "PORTCULLIS_ACCESS_TTL",
            "PORTCULLIS_JWT_VERIFY_KEYS",
            "PORTCULLIS_CORS_ORIGINS",
            "PORTCULLIS_TRUSTED_PROXIES",
            "PORTCULLIS_COOKIE_SECURE",
        ] {
            assert!(all.contains(var), "{var} missing from:\n{all}");
        }
        assert!(!all.contains("short\""), "the secret is echoed:\n{all}");
    }

    #[test]
    fn both_or_neither_signing_key_is_refused() {
        let both = ServeArgs {
            jwt_key_file: Some("key.pem".into()),
            ..args()
        };
        assert!(Config::from_args(&both).is_err());
        let neither = ServeArgs {
            jwt_secret: None,
            ..args()
        };
        assert!(Config::from_args(&neither).is_err());
    }

    #[test]
    fn a_missing_named_static_folder_is_an_error_naming_its_absolute_path() {
        let errors = Config::from_args(&ServeArgs {
            static_dir: Some("no-such-folder".into()),
            ..args()
        })
        .unwrap_err();
        let line = errors.join("\n");
        assert!(line.starts_with("PORTCULLIS_STATIC_DIR: /"), "{line}");
        assert!(line.contains("no-such-folder"), "{line}");
    }

    #[test]
    fn tls_takes_both_files_or_neither_and_an_https_upstream_a_readable_ca() {
        let config = Config::from_args(&args()).unwrap();
        assert!(config.tls.is_none() && config.upstream_tls.is_none());
        assert_eq!(config.shutdown_timeout, 30);
        let errors = Config::from_args(&ServeArgs {
            tls_cert: Some("cert.pem".into()),
            upstream: Some("https://127.0.0.1:9443".into()),
            upstream_ca: Some("no-such-ca.pem".into()),
            shutdown_timeout: "soon".into(),
            ..args()
        })
        .unwrap_err()
        .join("\n");
        for var in [
            "PORTCULLIS_TLS_KEY",
            "PORTCULLIS_UPSTREAM_CA",
            "PORTCULLIS_SHUTDOWN_TIMEOUT",
        ] {
            assert!(errors.contains(var), "{var} missing from:\n{errors}");
        }
    }

    #[test]
    fn an_unnamed_static_folder_is_optional() {
        assert_eq!(
            static_dir(None).unwrap().is_some(),
            Path::new("static").is_dir()
        );
    }
}
