//! One typed [`Config`] for `serve`, built from the flags and their
//! environment variables ([`args`]) by pure parsers ([`parse`]), one
//! section at a time ([`sections`]). The collector reports every problem at
//! once, each naming the variable and what is wrong (the CLI exits 2), and
//! builds a `Config` only when every field parsed: there are no placeholder
//! values. Key files are read and parsed once, here; start-up reuses the
//! result.

pub mod args;
pub mod parse;
pub mod reload;
mod sections;
pub mod tls;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::Duration;
use ipnet::IpNet;

pub use args::{DbArgs, ServeArgs, defaults};

use crate::auth::Role;
use crate::auth::passkey::RelyingParty;
use crate::auth::seal::SealKey;
use crate::auth::tokens::Tokens;
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
    /// Largest WebSocket message through `/api`.
    pub ws_max_message: usize,
    pub workers: usize,
    /// The listener's certificate, which a reload replaces; `None` is
    /// plain HTTP.
    pub tls: Option<Arc<tls::CurrentCertificate>>,
    /// `Strict-Transport-Security` on the HTTPS listener; `None` for off.
    pub hsts: Option<String>,
    /// How long security events are kept.
    pub event_retention: chrono::Duration,
    /// The client TLS for an `https://` upstream; `None` for `http://`.
    pub upstream_tls: Option<Arc<rustls::ClientConfig>>,
    /// Seconds in-flight requests get after SIGTERM/SIGINT.
    pub shutdown_timeout: u64,
    /// The origin users open, without a trailing slash.
    pub public_url: Option<String>,
    /// Checks passkeys (the RP ID is `public_url`'s host); `None`:
    /// passkeys are not offered.
    pub passkeys: Option<RelyingParty>,
    /// Seals TOTP seeds at rest; `None`: TOTP is not offered.
    pub seal: Option<SealKey>,
    /// Who must use a second factor.
    pub mfa: MfaPolicy,
    /// The OpenID Providers users may sign in with.
    pub oidc_providers: Vec<crate::oidc::ProviderConfig>,
    /// The client TLS the providers are reached with (`https://` issuers).
    pub oidc_tls: Option<Arc<rustls::ClientConfig>>,
    /// The flags this was built from: a reload reads their files again.
    pub args: ServeArgs,
}

/// Who must use a second factor (contract §9).
#[derive(Debug, Clone, Default)]
pub struct MfaPolicy {
    /// Holders of these roles with a password-only token are refused.
    pub required_roles: Vec<Role>,
    /// `/auth/admin/*` needs `acr` `"mfa"`.
    pub admin_require_mfa: bool,
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

    /// [`Self::take`] for a result that names its own variable.
    fn blame<T>(&mut self, result: Result<T, (&str, String)>) -> Option<T> {
        result
            .map_err(|(var, e)| self.0.push(format!("{var}: {e}")))
            .ok()
    }
}

impl Config {
    /// Validates `args`; `Err` holds one line per problem.
    pub fn from_args(args: &ServeArgs) -> Result<Self, Vec<String>> {
        let mut p = Problems::default();
        // every section runs, so that one run reports every problem
        let sections = (
            sections::database(args, &mut p),
            sections::listener(args, &mut p),
            sections::https(args, &mut p),
            sections::proxy(args, &mut p),
            sections::access_tokens(args, &mut p),
            sections::session(args, &mut p),
            sections::cookie(args, &mut p),
            sections::browsers(args, &mut p),
            sections::http_limits(args, &mut p),
            sections::second_factors(args, &mut p),
            sections::event_retention(args, &mut p),
            sections::oidc(args, &mut p),
        );
        let (
            Some(database),
            Some(listener),
            Some(https),
            Some(proxy),
            Some(access),
            Some(session),
            Some(cookie),
            Some(browsers),
            Some(limits),
            Some(factors),
            Some(event_retention),
            Some(oidc),
        ) = sections
        else {
            return Err(p.0);
        };
        if !p.0.is_empty() {
            return Err(p.0);
        }
        Ok(Self {
            database,
            bind: listener.bind,
            upstream: proxy.upstream,
            tokens: access.tokens,
            access_ttl: access.ttl,
            session,
            cookie,
            allow_registration: browsers.allow_registration,
            cors_origins: browsers.cors_origins,
            static_dir: browsers.static_dir,
            upstream_timeout: proxy.timeout,
            trusted_proxies: listener.trusted_proxies,
            policy: proxy.policy,
            metrics_bind: listener.metrics_bind,
            max_body_size: limits.max_body_size,
            body_idle_timeout: limits.body_idle_timeout,
            max_client_connections: limits.max_client_connections,
            ws_max_message: limits.ws_max_message,
            workers: listener.workers,
            tls: https
                .tls
                .map(|key| Arc::new(tls::CurrentCertificate::new(key))),
            hsts: https.hsts,
            event_retention,
            upstream_tls: proxy.tls,
            shutdown_timeout: listener.shutdown_timeout,
            public_url: factors.public_url,
            passkeys: factors.passkeys,
            seal: factors.seal,
            mfa: MfaPolicy {
                required_roles: factors.required_roles,
                admin_require_mfa: factors.admin_require_mfa,
            },
            oidc_providers: oidc.providers,
            oidc_tls: oidc.tls,
            args: args.clone(),
        })
    }
}

impl Config {
    /// What runs, on one line, for the start-up log and `config check`:
    /// the scheme and `addr`, the signing algorithm and key ids, the
    /// database backend and where (no password), the SPA folder, the
    /// workers and the metrics listener.
    pub fn summary(&self, addr: &str) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        let spa = match &self.static_dir {
            Some(dir) => format!("the SPA from {}", dir.display()),
            None => "no SPA".to_owned(),
        };
        let metrics = match &self.metrics_bind {
            Some(at) => format!("/metrics on {at}"),
            None => "/metrics on this listener".to_owned(),
        };
        format!(
            "{scheme}://{addr}; signing {}; database {}; {spa}; {} worker(s); {metrics}",
            self.tokens.describe(),
            self.database.describe(),
            self.workers,
        )
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
    use std::collections::BTreeSet;

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

    /// The variables clap reads for `serve`.
    fn variables() -> BTreeSet<String> {
        use clap::Args;
        ServeArgs::augment_args(clap::Command::new("serve"))
            .get_arguments()
            .filter_map(|arg| arg.get_env())
            .map(|var| var.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn every_problem_names_a_variable_of_serve_and_every_variable_has_one() {
        let everything_bad = ServeArgs {
            db: DbArgs {
                database_url: "no-such-dir/p.db".into(),
            },
            db_pool_size: "0".into(),
            db_statement_timeout: "soon".into(),
            db_connect_timeout: "soon".into(),
            bind: "nowhere".into(),
            upstream: None,
            jwt_key_file: Some("key.pem".into()),
            jwt_verify_keys: "old.pem".into(),
            access_ttl: "soon".into(),
            session_ttl: "soon".into(),
            session_idle_ttl: "soon".into(),
            refresh_grace: "61".into(),
            cookie_secure: "maybe".into(),
            cookie_name: "a b".into(),
            allow_registration: "maybe".into(),
            cors_origins: "*".into(),
            static_dir: Some("no-such-folder".into()),
            upstream_timeout: "soon".into(),
            issuer: " ".into(),
            audience: String::new(),
            trusted_proxies: "proxy.local".into(),
            policy: Some("no-such-policy.toml".into()),
            metrics_bind: Some("nowhere".into()),
            max_body_size: "0".into(),
            body_idle_timeout: "soon".into(),
            max_client_connections: "0".into(),
            ws_max_message: "0".into(),
            workers: Some("0".into()),
            tls_cert: Some("cert.pem".into()),
            shutdown_timeout: "soon".into(),
            public_url: Some("ftp://example.com".into()),
            encryption_key_file: Some("no-such-key".into()),
            oidc_providers: Some("no-such-providers.toml".into()),
            mfa_required_roles: "boss".into(),
            admin_require_mfa: "maybe".into(),
            hsts: "forever".into(),
            event_retention: "0".into(),
            ..args()
        };
        // what the first cannot say at the same time
        let the_rest = ServeArgs {
            jwt_secret: None,
            jwt_key_file: Some("no-such-key.pem".into()),
            tls_key: Some("key.pem".into()),
            upstream: Some("https://127.0.0.1:9443".into()),
            upstream_ca: Some("no-such-ca.pem".into()),
            ..args()
        };
        let lines: Vec<String> = [everything_bad, the_rest]
            .iter()
            .flat_map(|args| Config::from_args(args).unwrap_err())
            .collect();
        let known = variables();
        let mut labelled = BTreeSet::new();
        for line in &lines {
            let (label, _) = line.split_once(": ").unwrap();
            labelled.insert(label.to_owned());
            let named = line
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|w| w.starts_with("PORTCULLIS_") || *w == "DATABASE_URL");
            for var in std::iter::once(label).chain(named) {
                assert!(known.contains(var), "{var} is no variable of serve: {line}");
            }
        }
        let unlabelled: Vec<_> = known.difference(&labelled).collect();
        assert!(unlabelled.is_empty(), "no problem names {unlabelled:?}");
    }
}
