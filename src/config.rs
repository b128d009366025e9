//! One typed [`Config`] built from the `serve` flags and their environment
//! variables. Validation collects every problem at once; each names the
//! variable and what is wrong, and the CLI exits with status 2.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration as StdDuration;

use chrono::Duration;
use ipnet::IpNet;
use secrecy::{ExposeSecret, SecretString};

use crate::auth::tokens::{KeyError, SigningKey, Tokens};
use crate::db::ledger::SessionPolicy;
use crate::proxy::Upstream;
use crate::proxy::policy::Policy;

/// Defaults, shared by clap and [`ServeArgs::default`].
pub mod defaults {
    pub const DATABASE_URL: &str = "portcullis.db";
    pub const BIND: &str = "127.0.0.1:8080";
    pub const ACCESS_TTL: &str = "900";
    pub const SESSION_TTL: &str = "2592000";
    pub const SESSION_IDLE_TTL: &str = "604800";
    pub const REFRESH_GRACE: &str = "5";
    pub const COOKIE_SECURE: &str = "true";
    pub const COOKIE_NAME: &str = "portcullis_refresh";
    pub const ALLOW_REGISTRATION: &str = "false";
    pub const STATIC_DIR: &str = "static";
    pub const UPSTREAM_TIMEOUT: &str = "30";
    pub const ISSUER: &str = "portcullis";
    pub const AUDIENCE: &str = "portcullis-api";
    pub const MAX_BODY_SIZE: &str = "10485760";
}

/// The database flag, shared by every command that opens the database.
#[derive(Debug, Clone, clap::Args)]
pub struct DbArgs {
    /// SQLite path (or sqlite://PATH); postgres://… selects PostgreSQL.
    #[arg(long, env = "DATABASE_URL", default_value = defaults::DATABASE_URL)]
    pub database_url: String,
}

impl Default for DbArgs {
    fn default() -> Self {
        Self {
            database_url: defaults::DATABASE_URL.into(),
        }
    }
}

/// Flags of `portcullis serve`; each is also read from the variable named.
/// Values stay text here so that [`Config::from_args`] can report every
/// problem at once.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// Listen address.
    #[arg(long, env = "PORTCULLIS_BIND", default_value = defaults::BIND)]
    pub bind: String,
    /// Base URL of the upstream API (may contain a path).
    #[arg(long, env = "PORTCULLIS_UPSTREAM")]
    pub upstream: Option<String>,
    /// HS256 secret, at least 32 bytes.
    #[arg(long, env = "PORTCULLIS_JWT_SECRET", hide_env_values = true, value_parser = parse_secret)]
    pub jwt_secret: Option<SecretString>,
    /// Ed25519 PKCS#8 PEM private key; selects EdDSA.
    #[arg(long, env = "PORTCULLIS_JWT_KEY_FILE")]
    pub jwt_key_file: Option<PathBuf>,
    /// Extra Ed25519 key files still accepted and published (comma-separated).
    #[arg(long, env = "PORTCULLIS_JWT_VERIFY_KEYS", default_value = "")]
    pub jwt_verify_keys: String,
    /// Access-token lifetime (seconds, or a form like 15m).
    #[arg(long, env = "PORTCULLIS_ACCESS_TTL", default_value = defaults::ACCESS_TTL)]
    pub access_ttl: String,
    /// Absolute session lifetime.
    #[arg(long, env = "PORTCULLIS_SESSION_TTL", default_value = defaults::SESSION_TTL)]
    pub session_ttl: String,
    /// A session unused this long expires.
    #[arg(long, env = "PORTCULLIS_SESSION_IDLE_TTL", default_value = defaults::SESSION_IDLE_TTL)]
    pub session_idle_ttl: String,
    /// How long a just-rotated refresh token may be presented again.
    #[arg(long, env = "PORTCULLIS_REFRESH_GRACE", default_value = defaults::REFRESH_GRACE)]
    pub refresh_grace: String,
    /// The Secure attribute of the refresh cookie.
    #[arg(long, env = "PORTCULLIS_COOKIE_SECURE", default_value = defaults::COOKIE_SECURE)]
    pub cookie_secure: String,
    #[arg(long, env = "PORTCULLIS_COOKIE_NAME", default_value = defaults::COOKIE_NAME)]
    pub cookie_name: String,
    /// Whether POST /auth/register is open.
    #[arg(long, env = "PORTCULLIS_ALLOW_REGISTRATION", default_value = defaults::ALLOW_REGISTRATION)]
    pub allow_registration: String,
    /// Comma-separated origins allowed to call with credentials.
    #[arg(long, env = "PORTCULLIS_CORS_ORIGINS", default_value = "")]
    pub cors_origins: String,
    /// The SPA's folder.
    #[arg(long, env = "PORTCULLIS_STATIC_DIR", default_value = defaults::STATIC_DIR)]
    pub static_dir: PathBuf,
    /// Seconds before an upstream call answers 504.
    #[arg(long, env = "PORTCULLIS_UPSTREAM_TIMEOUT", default_value = defaults::UPSTREAM_TIMEOUT)]
    pub upstream_timeout: String,
    #[arg(long, env = "PORTCULLIS_ISSUER", default_value = defaults::ISSUER)]
    pub issuer: String,
    #[arg(long, env = "PORTCULLIS_AUDIENCE", default_value = defaults::AUDIENCE)]
    pub audience: String,
    /// Addresses or CIDRs whose X-Forwarded-For is believed (comma-separated).
    #[arg(long, env = "PORTCULLIS_TRUSTED_PROXIES", default_value = "")]
    pub trusted_proxies: String,
    /// A TOML file of route rules replacing the default policy.
    #[arg(long, env = "PORTCULLIS_POLICY")]
    pub policy: Option<PathBuf>,
    /// A separate address for /metrics.
    #[arg(long, env = "PORTCULLIS_METRICS_BIND")]
    pub metrics_bind: Option<String>,
    /// Largest proxied request body, in bytes.
    #[arg(long, env = "PORTCULLIS_MAX_BODY_SIZE", default_value = defaults::MAX_BODY_SIZE)]
    pub max_body_size: String,
    /// HTTP worker threads (default: one per CPU).
    #[arg(long, env = "PORTCULLIS_WORKERS")]
    pub workers: Option<String>,
}

impl Default for ServeArgs {
    fn default() -> Self {
        Self {
            db: DbArgs::default(),
            bind: defaults::BIND.into(),
            upstream: None,
            jwt_secret: None,
            jwt_key_file: None,
            jwt_verify_keys: String::new(),
            access_ttl: defaults::ACCESS_TTL.into(),
            session_ttl: defaults::SESSION_TTL.into(),
            session_idle_ttl: defaults::SESSION_IDLE_TTL.into(),
            refresh_grace: defaults::REFRESH_GRACE.into(),
            cookie_secure: defaults::COOKIE_SECURE.into(),
            cookie_name: defaults::COOKIE_NAME.into(),
            allow_registration: defaults::ALLOW_REGISTRATION.into(),
            cors_origins: String::new(),
            static_dir: defaults::STATIC_DIR.into(),
            upstream_timeout: defaults::UPSTREAM_TIMEOUT.into(),
            issuer: defaults::ISSUER.into(),
            audience: defaults::AUDIENCE.into(),
            trusted_proxies: String::new(),
            policy: None,
            metrics_bind: None,
            max_body_size: defaults::MAX_BODY_SIZE.into(),
            workers: None,
        }
    }
}

/// The refresh cookie's settings.
#[derive(Debug, Clone)]
pub struct CookieSettings {
    pub name: String,
    pub secure: bool,
}

/// Everything `serve` needs, validated.
pub struct Config {
    pub database_url: String,
    pub bind: String,
    pub upstream: Upstream,
    pub signing_key: SigningKey,
    /// PEM text of extra verification keys.
    pub verify_keys: Vec<String>,
    pub access_ttl: Duration,
    pub session: SessionPolicy,
    pub cookie: CookieSettings,
    pub allow_registration: bool,
    pub cors_origins: Vec<String>,
    pub static_dir: PathBuf,
    pub upstream_timeout: StdDuration,
    pub issuer: String,
    pub audience: String,
    pub trusted_proxies: Vec<IpNet>,
    pub policy: Policy,
    pub metrics_bind: Option<String>,
    pub max_body_size: usize,
    pub workers: usize,
}

impl Config {
    /// Validates `args`; `Err` holds one line per problem.
    pub fn from_args(args: &ServeArgs) -> Result<Self, Vec<String>> {
        let mut errors = Vec::new();
        let mut check = |var: &str, result: Result<(), String>| {
            if let Err(e) = result {
                errors.push(format!("{var}: {e}"));
            }
        };
        macro_rules! field {
            ($var:expr, $parse:expr, $fallback:expr) => {
                match $parse {
                    Ok(v) => v,
                    Err(e) => {
                        check($var, Err(e));
                        $fallback
                    }
                }
            };
        }

        let database_url = args.db.database_url.trim().to_owned();
        check("DATABASE_URL", non_empty(&database_url));
        if database_url.starts_with("postgres://") || database_url.starts_with("postgresql://") {
            check(
                "DATABASE_URL",
                Err("PostgreSQL is not supported by this build yet; use a SQLite path".into()),
            );
        }
        check("PORTCULLIS_BIND", parse_bind(&args.bind));

        let upstream = field!(
            "PORTCULLIS_UPSTREAM",
            args.upstream
                .as_deref()
                .ok_or_else(|| "required: the base URL of the upstream API".to_owned())
                .and_then(Upstream::parse),
            Upstream::placeholder()
        );

        let signing_key = match signing_key(args) {
            Ok(key) => key,
            Err((var, e)) => {
                check(var, Err(e));
                SigningKey::Hs256(SecretString::from("x".repeat(32)))
            }
        };
        let verify_keys = field!(
            "PORTCULLIS_JWT_VERIFY_KEYS",
            split_list(&args.jwt_verify_keys)
                .map(|p| read_file(Path::new(p)))
                .collect::<Result<Vec<_>, _>>(),
            Vec::new()
        );

        let access_ttl = field!(
            "PORTCULLIS_ACCESS_TTL",
            parse_secs(&args.access_ttl, 1),
            Duration::seconds(900)
        );
        let ttl = field!(
            "PORTCULLIS_SESSION_TTL",
            parse_secs(&args.session_ttl, 1),
            Duration::days(30)
        );
        let idle_ttl = field!(
            "PORTCULLIS_SESSION_IDLE_TTL",
            parse_secs(&args.session_idle_ttl, 1),
            Duration::days(7)
        );
        let grace = field!(
            "PORTCULLIS_REFRESH_GRACE",
            parse_secs(&args.refresh_grace, 0),
            Duration::seconds(5)
        );
        if access_ttl >= ttl {
            check(
                "PORTCULLIS_ACCESS_TTL",
                Err(format!(
                    "must be shorter than PORTCULLIS_SESSION_TTL ({}s >= {}s)",
                    access_ttl.num_seconds(),
                    ttl.num_seconds()
                )),
            );
        }
        if grace > Duration::seconds(60) {
            check(
                "PORTCULLIS_REFRESH_GRACE",
                Err("at most 60 seconds; longer windows weaken reuse detection".into()),
            );
        }

        let secure = field!(
            "PORTCULLIS_COOKIE_SECURE",
            parse_bool(&args.cookie_secure),
            true
        );
        let cookie_name = args.cookie_name.trim().to_owned();
        check(
            "PORTCULLIS_COOKIE_NAME",
            cookie_name_ok(&cookie_name, secure),
        );
        let allow_registration = field!(
            "PORTCULLIS_ALLOW_REGISTRATION",
            parse_bool(&args.allow_registration),
            false
        );
        let cors_origins = field!(
            "PORTCULLIS_CORS_ORIGINS",
            split_list(&args.cors_origins)
                .map(parse_origin)
                .collect::<Result<Vec<_>, _>>(),
            Vec::new()
        );
        check(
            "PORTCULLIS_STATIC_DIR",
            if args.static_dir.is_dir() {
                Ok(())
            } else {
                Err(format!("{} is not a directory", args.static_dir.display()))
            },
        );
        let upstream_timeout = field!(
            "PORTCULLIS_UPSTREAM_TIMEOUT",
            parse_secs(&args.upstream_timeout, 1).map(|d| d.to_std().unwrap_or_default()),
            StdDuration::from_secs(30)
        );
        let issuer = args.issuer.trim().to_owned();
        check("PORTCULLIS_ISSUER", non_empty(&issuer));
        let audience = args.audience.trim().to_owned();
        check("PORTCULLIS_AUDIENCE", non_empty(&audience));
        let trusted_proxies = field!(
            "PORTCULLIS_TRUSTED_PROXIES",
            split_list(&args.trusted_proxies)
                .map(parse_net)
                .collect::<Result<Vec<_>, _>>(),
            Vec::new()
        );
        let policy = field!(
            "PORTCULLIS_POLICY",
            match &args.policy {
                None => Ok(Policy::default()),
                Some(path) =>
                    read_file(path)
                        .and_then(|text| Policy::parse(&text)
                            .map_err(|e| format!("{}: {e}", path.display()))),
            },
            Policy::default()
        );
        if let Some(addr) = &args.metrics_bind {
            check("PORTCULLIS_METRICS_BIND", parse_bind(addr));
        }
        let max_body_size = field!(
            "PORTCULLIS_MAX_BODY_SIZE",
            args.max_body_size
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!(
                    "{:?} is not a positive number of bytes",
                    args.max_body_size
                )),
            10 << 20
        );
        let workers = field!(
            "PORTCULLIS_WORKERS",
            match &args.workers {
                None => Ok(std::thread::available_parallelism().map_or(2, |n| n.get())),
                Some(n) => n
                    .trim()
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=256).contains(n))
                    .ok_or_else(|| format!("{n:?} is not a number from 1 to 256")),
            },
            1
        );

        match Tokens::new(&signing_key, &verify_keys, &issuer, &audience, access_ttl) {
            Err(e @ KeyError::BadVerifyKey(_)) => {
                check("PORTCULLIS_JWT_VERIFY_KEYS", Err(e.to_string()))
            }
            Err(e) => check("PORTCULLIS_JWT_KEY_FILE", Err(e.to_string())),
            Ok(_) => {}
        }

        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Self {
            database_url,
            bind: args.bind.trim().to_owned(),
            upstream,
            signing_key,
            verify_keys,
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
            static_dir: args.static_dir.clone(),
            upstream_timeout,
            issuer,
            audience,
            trusted_proxies,
            policy,
            metrics_bind: args.metrics_bind.clone(),
            max_body_size,
            workers,
        })
    }
}

fn parse_secret(value: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(value))
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
        (Some(secret), None) if secret.expose_secret().len() < 32 => Err((
            SECRET,
            format!(
                "must be at least 32 bytes (got {}); generate one with `openssl rand -base64 48`",
                secret.expose_secret().len()
            ),
        )),
        (Some(secret), None) => Ok(SigningKey::Hs256(secret.clone())),
        (None, Some(path)) => read_file(path)
            .map(|pem| SigningKey::EdDsa(SecretString::from(pem)))
            .map_err(|e| (KEY_FILE, e)),
    }
}

fn read_file(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

fn non_empty(value: &str) -> Result<(), String> {
    if value.is_empty() {
        Err("must not be empty".into())
    } else {
        Ok(())
    }
}

fn split_list(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(str::trim).filter(|s| !s.is_empty())
}

fn parse_bind(value: &str) -> Result<(), String> {
    let value = value.trim();
    let valid = value
        .rsplit_once(':')
        .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
    if valid {
        Ok(())
    } else {
        Err(format!("{value:?} is not an address like 127.0.0.1:8080"))
    }
}

/// Seconds as a plain number, or a humantime form (`15m`, `1h 30m`).
pub fn parse_secs(value: &str, min: i64) -> Result<Duration, String> {
    let value = value.trim();
    let secs = match value.parse::<i64>() {
        Ok(n) => n,
        Err(_) => humantime::parse_duration(value)
            .map_err(|e| format!("{value:?} is not a duration ({e})"))?
            .as_secs()
            .try_into()
            .map_err(|_| format!("{value:?} is too long"))?,
    };
    if secs < min {
        return Err(format!("{value:?} must be at least {min} second(s)"));
    }
    if secs > 10 * 365 * 86_400 {
        return Err(format!("{value:?} is longer than ten years"));
    }
    Ok(Duration::seconds(secs))
}

fn parse_bool(value: &str) -> Result<bool, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(format!("{value:?} is not true or false")),
    }
}

fn cookie_name_ok(name: &str, secure: bool) -> Result<(), String> {
    // RFC 6265 §4.1.1: a cookie name is an RFC 2616 token.
    let token = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if !token {
        return Err(format!("{name:?} is not a valid cookie name"));
    }
    if !secure && (name.starts_with("__Host-") || name.starts_with("__Secure-")) {
        return Err("a __Host- or __Secure- cookie needs PORTCULLIS_COOKIE_SECURE=true".into());
    }
    Ok(())
}

fn parse_origin(value: &str) -> Result<String, String> {
    let bad = || {
        format!("{value:?} is not an origin like https://app.example.com (no wildcard, no path)")
    };
    let (scheme, rest) = value.split_once("://").ok_or_else(bad)?;
    let host_ok = !rest.is_empty()
        && rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b));
    if !(scheme == "http" || scheme == "https") || !host_ok {
        return Err(bad());
    }
    Ok(value.trim_end_matches('/').to_ascii_lowercase())
}

fn parse_net(value: &str) -> Result<IpNet, String> {
    IpNet::from_str(value)
        .or_else(|_| IpAddr::from_str(value).map(IpNet::from))
        .map_err(|_| format!("{value:?} is not an IP address or CIDR"))
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // No key material, ever.
        f.debug_struct("Config")
            .field("database_url", &self.database_url)
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
            jwt_secret: Some("0123456789abcdef0123456789abcdef".into()),
            static_dir: ".".into(),
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
            access_ttl: "40d".into(),
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
    fn durations_accept_seconds_and_humantime() {
        assert_eq!(parse_secs("900", 1), Ok(Duration::seconds(900)));
        assert_eq!(parse_secs("15m", 1), Ok(Duration::seconds(900)));
        assert!(parse_secs("0", 1).is_err());
        assert!(parse_secs("soon", 1).is_err());
    }
}
