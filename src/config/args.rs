//! The command-line flags of `serve` (and the database flag every command
//! shares), each also read from its environment variable, with the
//! defaults written once. Values stay text: [`super::Config`] parses them.

use std::path::PathBuf;

use secrecy::SecretString;

/// Defaults, shared by clap and [`ServeArgs::default`]. The database's are
/// [`DbSettings`](crate::db::DbSettings)'s own, which every command opening
/// the database uses, and the sessions' are
/// [`SessionPolicy`](crate::db::ledger::SessionPolicy)'s, which the command
/// line's services use; here they are only turned into text.
pub mod defaults {
    use crate::db::DbSettings;
    use crate::db::ledger::SessionPolicy;

    pub const DATABASE_URL: &str = "portcullis.db";
    pub(crate) const BIND: &str = "127.0.0.1:8080";
    pub(crate) const ACCESS_TTL: &str = "900";
    pub(crate) const COOKIE_SECURE: &str = "true";
    pub(crate) const COOKIE_NAME: &str = "portcullis_refresh";
    pub(crate) const ALLOW_REGISTRATION: &str = "false";
    /// The SPA folder used when `PORTCULLIS_STATIC_DIR` is unset, if it exists.
    pub(crate) const STATIC_DIR: &str = "static";
    pub(crate) const UPSTREAM_TIMEOUT: &str = "30";
    pub(crate) const ISSUER: &str = "portcullis";
    pub(crate) const AUDIENCE: &str = "portcullis-api";
    pub(crate) const MAX_BODY_SIZE: &str = "10485760";
    pub(crate) const SHUTDOWN_TIMEOUT: &str = "30";
    pub(crate) const BODY_IDLE_TIMEOUT: &str = "30";
    pub(crate) const MAX_CLIENT_CONNECTIONS: &str = "100";
    pub(crate) const WS_MAX_MESSAGE: &str = "1048576";
    pub(crate) const ADMIN_REQUIRE_MFA: &str = "false";
    pub(crate) const HSTS: &str = "max-age=31536000";
    pub(crate) const EVENT_RETENTION: &str = "90";

    pub(crate) fn db_pool_size() -> String {
        DbSettings::DEFAULT_POOL_SIZE.to_string()
    }

    pub fn db_statement_timeout() -> String {
        DbSettings::DEFAULT_STATEMENT_TIMEOUT.as_secs().to_string()
    }

    pub fn db_connect_timeout() -> String {
        DbSettings::DEFAULT_CONNECT_TIMEOUT.as_secs().to_string()
    }

    pub fn session_ttl() -> String {
        SessionPolicy::default().ttl.num_seconds().to_string()
    }

    pub fn session_idle_ttl() -> String {
        SessionPolicy::default().idle_ttl.num_seconds().to_string()
    }

    pub fn refresh_grace() -> String {
        SessionPolicy::default().grace.num_seconds().to_string()
    }
}

/// The database flag, shared by every command that opens the database.
#[derive(Debug, Clone, clap::Args)]
pub struct DbArgs {
    /// SQLite path (or sqlite://PATH); postgres://… selects PostgreSQL.
    #[arg(
        long,
        env = "DATABASE_URL",
        hide_env_values = true,
        global = true,
        default_value = defaults::DATABASE_URL
    )]
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
/// Values stay text here so that [`super::Config::from_args`] can report every
/// problem at once.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// Most database connections this instance holds at once.
    #[arg(long, env = "PORTCULLIS_DB_POOL_SIZE", default_value_t = defaults::db_pool_size())]
    pub db_pool_size: String,
    /// Longest a database statement may run (seconds).
    #[arg(long, env = "PORTCULLIS_DB_STATEMENT_TIMEOUT", default_value_t = defaults::db_statement_timeout())]
    pub db_statement_timeout: String,
    /// Longest a request waits for a database connection before 503 (seconds).
    #[arg(long, env = "PORTCULLIS_DB_CONNECT_TIMEOUT", default_value_t = defaults::db_connect_timeout())]
    pub db_connect_timeout: String,
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
    #[arg(long, env = "PORTCULLIS_SESSION_TTL", default_value_t = defaults::session_ttl())]
    pub session_ttl: String,
    /// A session unused this long expires.
    #[arg(long, env = "PORTCULLIS_SESSION_IDLE_TTL", default_value_t = defaults::session_idle_ttl())]
    pub session_idle_ttl: String,
    /// How long a just-rotated refresh token may be presented again.
    #[arg(long, env = "PORTCULLIS_REFRESH_GRACE", default_value_t = defaults::refresh_grace())]
    pub refresh_grace: String,
    /// The Secure attribute of the refresh cookie.
    #[arg(long, env = "PORTCULLIS_COOKIE_SECURE", default_value = defaults::COOKIE_SECURE)]
    pub cookie_secure: String,
    /// The refresh cookie's name.
    #[arg(long, env = "PORTCULLIS_COOKIE_NAME", default_value = defaults::COOKIE_NAME)]
    pub cookie_name: String,
    /// Whether POST /auth/register is open.
    #[arg(long, env = "PORTCULLIS_ALLOW_REGISTRATION", default_value = defaults::ALLOW_REGISTRATION)]
    pub allow_registration: String,
    /// Comma-separated origins allowed to call with credentials.
    #[arg(long, env = "PORTCULLIS_CORS_ORIGINS", default_value = "")]
    pub cors_origins: String,
    /// The SPA's folder [default: ./static if it exists, else no SPA].
    #[arg(long, env = "PORTCULLIS_STATIC_DIR")]
    pub static_dir: Option<PathBuf>,
    /// Seconds before an upstream call answers 504.
    #[arg(long, env = "PORTCULLIS_UPSTREAM_TIMEOUT", default_value = defaults::UPSTREAM_TIMEOUT)]
    pub upstream_timeout: String,
    /// The `iss` of access tokens, checked on verify.
    #[arg(long, env = "PORTCULLIS_ISSUER", default_value = defaults::ISSUER)]
    pub issuer: String,
    /// The `aud` of access tokens, checked on verify.
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
    /// Largest proxied request body, in bytes (or `10m`, `512k`, `1 MiB`).
    #[arg(long, env = "PORTCULLIS_MAX_BODY_SIZE", default_value = defaults::MAX_BODY_SIZE)]
    pub max_body_size: String,
    /// Longest pause between two pieces of a proxied request body before
    /// the gateway answers 408.
    #[arg(long, env = "PORTCULLIS_BODY_IDLE_TIMEOUT", default_value = defaults::BODY_IDLE_TIMEOUT)]
    pub body_idle_timeout: String,
    /// Most connections one client address may hold open at once.
    #[arg(long, env = "PORTCULLIS_MAX_CLIENT_CONNECTIONS", default_value = defaults::MAX_CLIENT_CONNECTIONS)]
    pub max_client_connections: String,
    /// Largest WebSocket message through /api, in bytes (or `1m`); a bigger one
    /// closes the socket with 1009.
    #[arg(long, env = "PORTCULLIS_WS_MAX_MESSAGE", default_value = defaults::WS_MAX_MESSAGE)]
    pub ws_max_message: String,
    /// HTTP worker threads (default: one per CPU).
    #[arg(long, env = "PORTCULLIS_WORKERS")]
    pub workers: Option<String>,
    /// PEM certificate chain: the listener speaks HTTPS (with --tls-key).
    #[arg(long, env = "PORTCULLIS_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, env = "PORTCULLIS_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// PEM bundle trusted for an https:// upstream [default: system roots].
    #[arg(long, env = "PORTCULLIS_UPSTREAM_CA")]
    pub upstream_ca: Option<PathBuf>,
    /// Seconds in-flight requests get to finish after SIGTERM/SIGINT.
    #[arg(long, env = "PORTCULLIS_SHUTDOWN_TIMEOUT", default_value = defaults::SHUTDOWN_TIMEOUT)]
    pub shutdown_timeout: String,
    /// The origin users open (`https://app.example.com`): the WebAuthn RP ID
    /// and the OIDC redirect URIs are built on it; TOTP apps show its host.
    #[arg(long, env = "PORTCULLIS_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// A file of 32 random bytes in base64 that seals TOTP secrets at rest
    /// [default: none; TOTP is not offered].
    #[arg(long, env = "PORTCULLIS_ENCRYPTION_KEY_FILE")]
    pub encryption_key_file: Option<PathBuf>,
    /// A TOML file of OpenID Providers to sign in with (`[[providers]]`
    /// tables) [default: none].
    #[arg(long, env = "PORTCULLIS_OIDC_PROVIDERS")]
    pub oidc_providers: Option<PathBuf>,
    /// Roles whose holders must use a second factor (comma-separated).
    #[arg(long, env = "PORTCULLIS_MFA_REQUIRED_ROLES", default_value = "")]
    pub mfa_required_roles: String,
    /// Whether /auth/admin/* needs a second factor (acr "mfa").
    #[arg(long, env = "PORTCULLIS_ADMIN_REQUIRE_MFA", default_value = defaults::ADMIN_REQUIRE_MFA)]
    pub admin_require_mfa: String,
    /// The Strict-Transport-Security value on an HTTPS listener; `off` for
    /// none (a front proxy sets it).
    #[arg(long, env = "PORTCULLIS_HSTS", default_value = defaults::HSTS)]
    pub hsts: String,
    /// Days security events are kept.
    #[arg(long, env = "PORTCULLIS_EVENT_RETENTION", default_value = defaults::EVENT_RETENTION)]
    pub event_retention: String,
}

impl Default for ServeArgs {
    fn default() -> Self {
        Self {
            db: DbArgs::default(),
            db_pool_size: defaults::db_pool_size(),
            db_statement_timeout: defaults::db_statement_timeout(),
            db_connect_timeout: defaults::db_connect_timeout(),
            bind: defaults::BIND.into(),
            upstream: None,
            jwt_secret: None,
            jwt_key_file: None,
            jwt_verify_keys: String::new(),
            access_ttl: defaults::ACCESS_TTL.into(),
            session_ttl: defaults::session_ttl(),
            session_idle_ttl: defaults::session_idle_ttl(),
            refresh_grace: defaults::refresh_grace(),
            cookie_secure: defaults::COOKIE_SECURE.into(),
            cookie_name: defaults::COOKIE_NAME.into(),
            allow_registration: defaults::ALLOW_REGISTRATION.into(),
            cors_origins: String::new(),
            static_dir: None,
            upstream_timeout: defaults::UPSTREAM_TIMEOUT.into(),
            issuer: defaults::ISSUER.into(),
            audience: defaults::AUDIENCE.into(),
            trusted_proxies: String::new(),
            policy: None,
            metrics_bind: None,
            max_body_size: defaults::MAX_BODY_SIZE.into(),
            body_idle_timeout: defaults::BODY_IDLE_TIMEOUT.into(),
            max_client_connections: defaults::MAX_CLIENT_CONNECTIONS.into(),
            ws_max_message: defaults::WS_MAX_MESSAGE.into(),
            workers: None,
            tls_cert: None,
            tls_key: None,
            upstream_ca: None,
            shutdown_timeout: defaults::SHUTDOWN_TIMEOUT.into(),
            public_url: None,
            encryption_key_file: None,
            oidc_providers: None,
            mfa_required_roles: String::new(),
            admin_require_mfa: defaults::ADMIN_REQUIRE_MFA.into(),
            hsts: defaults::HSTS.into(),
            event_retention: defaults::EVENT_RETENTION.into(),
        }
    }
}

fn parse_secret(value: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(value))
}

#[cfg(test)]
mod tests {
    use clap::{Args, FromArgMatches};

    use super::*;

    fn serve() -> clap::Command {
        ServeArgs::augment_args(clap::Command::new("serve"))
    }

    #[test]
    fn the_default_flags_are_the_ones_clap_fills_in() {
        let cmd = serve().mut_args(|arg| arg.env(None));
        let parsed = ServeArgs::from_arg_matches(&cmd.get_matches_from(["serve"])).unwrap();
        assert_eq!(format!("{:?}", ServeArgs::default()), format!("{parsed:?}"));
    }

    #[test]
    fn the_example_env_names_distinct_files_for_the_signing_and_tls_keys() {
        let example = include_str!("../../.env.example");
        let file = |var: &str| {
            example
                .lines()
                .find_map(|l| l.trim_start_matches("# ").strip_prefix(&format!("{var}=")))
                .unwrap_or_else(|| panic!("{var} missing from .env.example"))
        };
        let (signing, tls) = (file("PORTCULLIS_JWT_KEY_FILE"), file("PORTCULLIS_TLS_KEY"));
        assert_ne!(signing, tls);
        assert_ne!(file("PORTCULLIS_TLS_CERT"), tls);
    }

    #[test]
    fn the_readme_names_every_variable_of_serve_with_its_default() {
        let readme = include_str!("../../README.md");
        let cells = |row: &'static str| -> Vec<Vec<&'static str>> {
            row.split('|')
                .map(|cell| cell.split(", ").map(str::trim).collect())
                .collect()
        };
        for arg in serve().get_arguments() {
            let Some(var) = arg.get_env().and_then(|v| v.to_str()) else {
                continue;
            };
            let quoted = format!("`{var}`");
            let row = readme
                .lines()
                .filter(|line| line.starts_with("| `"))
                .map(cells)
                .find(|row| row[1].contains(&quoted.as_str()))
                .unwrap_or_else(|| panic!("README's configuration table lacks {var}"));
            let Some(default) = arg.get_default_values().first() else {
                continue;
            };
            let at = row[1].iter().position(|v| *v == quoted).unwrap();
            let shown = row[2][at];
            let default = default.to_string_lossy();
            if default.is_empty() {
                assert_eq!(shown, "empty", "{var}");
            } else {
                assert!(
                    shown.starts_with(&format!("`{default}`")),
                    "README shows {shown} for {var}, clap {default}"
                );
            }
        }
    }
}
