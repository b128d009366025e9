//! One builder per section of [`super::Config`]: each reads its flags from
//! [`ServeArgs`], notes every problem in the collector (one line each,
//! naming the variable) and returns the section only when all of its
//! fields parsed. A builder never stops at the first problem, so one run
//! reports them all. Durations become the type their user needs here, once.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::Duration;
use ipnet::IpNet;
use secrecy::{ExposeSecret, SecretString};

use super::args::{ServeArgs, defaults};
use super::parse::{
    cookie_name_ok, database_dir_exists, non_empty, parse_bind, parse_bool, parse_bytes,
    parse_count, parse_hsts, parse_lifetime, parse_net, parse_origin, parse_secs, read_file,
    secret_ok, split_list,
};
use super::{CookieSettings, Problems, tls};
use crate::auth::Role;
use crate::auth::passkey::{RelyingParty, RpError};
use crate::auth::seal::SealKey;
use crate::auth::tokens::{KeyError, SigningKey, Tokens};
use crate::db::DbSettings;
use crate::db::ledger::SessionPolicy;
use crate::oidc::{self, ProviderConfig};
use crate::proxy::Upstream;
use crate::proxy::policy::Policy;

/// Where the database is, how many connections and how long to wait.
pub(super) fn database(args: &ServeArgs, p: &mut Problems) -> Option<DbSettings> {
    let url = args.db.database_url.trim().to_owned();
    p.check("DATABASE_URL", non_empty(&url));
    p.check("DATABASE_URL", database_dir_exists(&url));
    let pool_size = p.take(
        "PORTCULLIS_DB_POOL_SIZE",
        parse_count(&args.db_pool_size, 1..=1000, "a number of connections")
            .and_then(|n| u32::try_from(n).map_err(|e| e.to_string())),
    );
    let statement_timeout = p.take(
        "PORTCULLIS_DB_STATEMENT_TIMEOUT",
        parse_secs(&args.db_statement_timeout, 1),
    );
    let connect_timeout = p.take(
        "PORTCULLIS_DB_CONNECT_TIMEOUT",
        parse_secs(&args.db_connect_timeout, 1),
    );
    Some(DbSettings {
        url,
        pool_size: pool_size?,
        statement_timeout: statement_timeout?,
        connect_timeout: connect_timeout?,
    })
}

/// How the gateway listens: its addresses, who may speak for a client, how
/// many threads, how long a shutdown waits.
pub(super) struct Listener {
    pub bind: String,
    pub metrics_bind: Option<String>,
    pub trusted_proxies: Vec<IpNet>,
    pub workers: usize,
    /// Whole seconds, as actix's `shutdown_timeout` takes them.
    pub shutdown_timeout: u64,
}

pub(super) fn listener(args: &ServeArgs, p: &mut Problems) -> Option<Listener> {
    let bind = args.bind.trim().to_owned();
    p.check("PORTCULLIS_BIND", parse_bind(&bind));
    if let Some(addr) = &args.metrics_bind {
        p.check("PORTCULLIS_METRICS_BIND", parse_bind(addr));
    }
    let trusted_proxies = p.take(
        "PORTCULLIS_TRUSTED_PROXIES",
        split_list(&args.trusted_proxies)
            .map(parse_net)
            .collect::<Result<Vec<_>, _>>(),
    );
    let workers = p.take(
        "PORTCULLIS_WORKERS",
        match &args.workers {
            None => Ok(std::thread::available_parallelism().map_or(2, |n| n.get())),
            Some(n) => parse_count(n, 1..=256, "a number"),
        },
    );
    let shutdown_timeout = p.take(
        "PORTCULLIS_SHUTDOWN_TIMEOUT",
        parse_secs(&args.shutdown_timeout, 0).map(|d| d.as_secs()),
    );
    Some(Listener {
        bind,
        metrics_bind: args.metrics_bind.clone(),
        trusted_proxies: trusted_proxies?,
        workers: workers?,
        shutdown_timeout: shutdown_timeout?,
    })
}

/// The listener's TLS, and the HSTS value it sends.
pub(super) struct Https {
    /// Both files or neither; `None` is plain HTTP.
    pub tls: Option<rustls::sign::CertifiedKey>,
    /// `Strict-Transport-Security`, sent when `tls` is set; `None` for off.
    pub hsts: Option<String>,
}

pub(super) fn https(args: &ServeArgs, p: &mut Problems) -> Option<Https> {
    let hsts = p.take("PORTCULLIS_HSTS", parse_hsts(&args.hsts));
    let tls = listener_tls(args, p);
    Some(Https {
        tls: tls?,
        hsts: hsts?,
    })
}

/// The listener's certificate and key: both files or neither; `Some(None)`
/// is plain HTTP.
pub(super) fn listener_tls(
    args: &ServeArgs,
    p: &mut Problems,
) -> Option<Option<rustls::sign::CertifiedKey>> {
    match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => p.blame(tls::certified_key(cert, key)).map(Some),
        (None, None) => Some(None),
        (Some(_), None) => p.take(
            "PORTCULLIS_TLS_KEY",
            Err("required with PORTCULLIS_TLS_CERT: set both or neither".into()),
        ),
        (None, Some(_)) => p.take(
            "PORTCULLIS_TLS_CERT",
            Err("required with PORTCULLIS_TLS_KEY: set both or neither".into()),
        ),
    }
}

/// The upstream API and what may reach it.
pub(super) struct Proxy {
    pub upstream: Upstream,
    pub timeout: StdDuration,
    /// The client TLS for an `https://` upstream; `None` for `http://`.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    pub policy: Policy,
}

pub(super) fn proxy(args: &ServeArgs, p: &mut Problems) -> Option<Proxy> {
    let upstream = p.take(
        "PORTCULLIS_UPSTREAM",
        args.upstream
            .as_deref()
            .ok_or_else(|| "required: the base URL of the upstream API".to_owned())
            .and_then(Upstream::parse),
    );
    let timeout = p.take(
        "PORTCULLIS_UPSTREAM_TIMEOUT",
        parse_secs(&args.upstream_timeout, 1),
    );
    let tls = match &upstream {
        Some(up) if up.is_https() => p
            .take(
                "PORTCULLIS_UPSTREAM_CA",
                tls::upstream(args.upstream_ca.as_deref()),
            )
            .map(|c| Some(Arc::new(c))),
        _ => Some(None),
    };
    let policy = policy(args, p);
    Some(Proxy {
        upstream: upstream?,
        timeout: timeout?,
        tls: tls?,
        policy: policy?,
    })
}

/// The route rules of `PORTCULLIS_POLICY`, else the default policy.
pub(super) fn policy(args: &ServeArgs, p: &mut Problems) -> Option<Policy> {
    p.take(
        "PORTCULLIS_POLICY",
        match &args.policy {
            None => Ok(Policy::default()),
            Some(path) => read_file(path).and_then(|text| {
                Policy::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
            }),
        },
    )
}

/// The access tokens: the signer and verifiers, keys loaded, and their
/// lifetime.
pub(super) struct AccessTokens {
    pub tokens: Tokens,
    pub ttl: Duration,
}

pub(super) fn access_tokens(args: &ServeArgs, p: &mut Problems) -> Option<AccessTokens> {
    const VERIFY_KEYS: &str = "PORTCULLIS_JWT_VERIFY_KEYS";
    let signing_key = p.blame(signing_key(args));
    // an empty file holds no key: a rotation by reloads empties it last
    let verify_keys = p.take(
        VERIFY_KEYS,
        split_list(&args.jwt_verify_keys)
            .map(|path| read_file(Path::new(path)))
            .filter(|text| text.as_ref().map_or(true, |t| !t.trim().is_empty()))
            .collect::<Result<Vec<_>, _>>(),
    );
    if args.jwt_secret.is_some() && !args.jwt_verify_keys.trim().is_empty() {
        p.check(
            VERIFY_KEYS,
            Err("Ed25519 keys verify EdDSA tokens only; with PORTCULLIS_JWT_SECRET (HS256) leave it empty".into()),
        );
    }
    let ttl = p.take("PORTCULLIS_ACCESS_TTL", parse_lifetime(&args.access_ttl, 1));
    let issuer = args.issuer.trim();
    p.check("PORTCULLIS_ISSUER", non_empty(issuer));
    let audience = args.audience.trim();
    p.check("PORTCULLIS_AUDIENCE", non_empty(audience));

    let (key, extra, ttl) = (signing_key?, verify_keys?, ttl?);
    let tokens = match Tokens::new(&key, &extra, issuer, audience, ttl) {
        Ok(tokens) => tokens,
        Err(e @ KeyError::BadVerifyKey(_)) => p.take(VERIFY_KEYS, Err(e.to_string()))?,
        Err(e) => p.take("PORTCULLIS_JWT_KEY_FILE", Err(e.to_string()))?,
    };
    Some(AccessTokens { tokens, ttl })
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

/// How long sessions live, and the window in which a just-rotated refresh
/// token is a replay rather than reuse.
pub(super) fn session(args: &ServeArgs, p: &mut Problems) -> Option<SessionPolicy> {
    let ttl = p.take(
        "PORTCULLIS_SESSION_TTL",
        parse_lifetime(&args.session_ttl, 1),
    );
    let idle_ttl = p.take(
        "PORTCULLIS_SESSION_IDLE_TTL",
        parse_lifetime(&args.session_idle_ttl, 1),
    );
    let grace = p.take(
        "PORTCULLIS_REFRESH_GRACE",
        parse_lifetime(&args.refresh_grace, 0).and_then(|g| {
            if g > Duration::seconds(60) {
                Err("at most 60 seconds; longer windows weaken reuse detection".into())
            } else {
                Ok(g)
            }
        }),
    );
    Some(SessionPolicy {
        ttl: ttl?,
        idle_ttl: idle_ttl?,
        grace: grace?,
    })
}

/// The refresh cookie: a valid name, and `Secure` unless turned off.
pub(super) fn cookie(args: &ServeArgs, p: &mut Problems) -> Option<CookieSettings> {
    let secure = p.take("PORTCULLIS_COOKIE_SECURE", parse_bool(&args.cookie_secure));
    let name = args.cookie_name.trim().to_owned();
    p.check(
        "PORTCULLIS_COOKIE_NAME",
        cookie_name_ok(&name, secure.unwrap_or(true)),
    );
    Some(CookieSettings {
        name,
        secure: secure?,
    })
}

/// What the browser side gets: open registration, the origins allowed to
/// call with credentials, and the SPA's folder.
pub(super) struct Browsers {
    pub allow_registration: bool,
    pub cors_origins: Vec<String>,
    pub static_dir: Option<PathBuf>,
}

pub(super) fn browsers(args: &ServeArgs, p: &mut Problems) -> Option<Browsers> {
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
    Some(Browsers {
        allow_registration: allow_registration?,
        cors_origins: cors_origins?,
        static_dir: static_dir?,
    })
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

/// Second factors (contract §9): the public origin, the key that seals
/// TOTP seeds, and who must use a second factor.
pub(super) struct SecondFactors {
    pub public_url: Option<String>,
    /// The WebAuthn relying party of `public_url`.
    pub passkeys: Option<RelyingParty>,
    pub seal: Option<SealKey>,
    pub required_roles: Vec<Role>,
    pub admin_require_mfa: bool,
}

pub(super) fn second_factors(args: &ServeArgs, p: &mut Problems) -> Option<SecondFactors> {
    let public_url = match &args.public_url {
        None => Some(None),
        Some(url) => p.take(
            "PORTCULLIS_PUBLIC_URL",
            parse_origin(url.trim().trim_end_matches('/')).map(Some),
        ),
    };
    // an address like http://10.0.0.5 serves TOTP and OIDC, not passkeys
    // (startup says so, and refuses to run when passkeys are stored)
    let passkeys = match &public_url {
        Some(Some(url)) => p.take(
            "PORTCULLIS_PUBLIC_URL",
            match RelyingParty::new(url) {
                Ok(rp) => Ok(Some(rp)),
                Err(RpError::IpAddress(_)) => Ok(None),
                Err(e) => Err(e.to_string()),
            },
        ),
        _ => Some(None),
    };
    let seal = match &args.encryption_key_file {
        None => Some(None),
        Some(path) => p.take(
            "PORTCULLIS_ENCRYPTION_KEY_FILE",
            read_file(path).and_then(|text| {
                SealKey::from_base64(&text)
                    .map(Some)
                    .map_err(|e| format!("{}: {e}", path.display()))
            }),
        ),
    };
    let required_roles = p.take(
        "PORTCULLIS_MFA_REQUIRED_ROLES",
        split_list(&args.mfa_required_roles)
            .map(|name| {
                name.parse::<Role>()
                    .map_err(|_| format!("{name:?} is no role (user, editor, admin)"))
            })
            .collect::<Result<Vec<_>, _>>(),
    );
    let admin_require_mfa = p.take(
        "PORTCULLIS_ADMIN_REQUIRE_MFA",
        parse_bool(&args.admin_require_mfa),
    );
    Some(SecondFactors {
        public_url: public_url?,
        passkeys: passkeys?,
        seal: seal?,
        required_roles: required_roles?,
        admin_require_mfa: admin_require_mfa?,
    })
}

/// The OpenID Providers of `PORTCULLIS_OIDC_PROVIDERS` (contract §10),
/// with the client TLS they are reached with (the system's roots) when
/// one is `https://`. Needs `PORTCULLIS_PUBLIC_URL`.
pub(super) struct Providers {
    pub providers: Vec<ProviderConfig>,
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

pub(super) fn oidc(args: &ServeArgs, p: &mut Problems) -> Option<Providers> {
    const VAR: &str = "PORTCULLIS_OIDC_PROVIDERS";
    let Some(path) = &args.oidc_providers else {
        return Some(Providers {
            providers: Vec::new(),
            tls: None,
        });
    };
    let public_url = args
        .public_url
        .as_deref()
        .and_then(|u| parse_origin(u.trim().trim_end_matches('/')).ok());
    let providers = match oidc::provider::load(path, public_url.as_deref()) {
        Ok(providers) => providers,
        Err(problems) => {
            for problem in problems {
                p.0.push(format!("{VAR}: {}: {problem}", path.display()));
            }
            return None;
        }
    };
    let tls = if providers.iter().any(|pr| pr.issuer.starts_with("https://")) {
        Some(Arc::new(p.take(VAR, tls::upstream(None))?))
    } else {
        None
    };
    Some(Providers { providers, tls })
}

/// How long security events are kept.
pub(super) fn event_retention(args: &ServeArgs, p: &mut Problems) -> Option<Duration> {
    p.take(
        "PORTCULLIS_EVENT_RETENTION",
        parse_count(&args.event_retention, 1..=36_500, "a number of days")
            .map(|days| Duration::days(days as i64)),
    )
}

/// What one client may cost: body size, body pace, open connections,
/// WebSocket message size.
pub(super) struct HttpLimits {
    pub max_body_size: usize,
    pub body_idle_timeout: StdDuration,
    pub max_client_connections: usize,
    pub ws_max_message: usize,
}

pub(super) fn http_limits(args: &ServeArgs, p: &mut Problems) -> Option<HttpLimits> {
    let max_body_size = p.take(
        "PORTCULLIS_MAX_BODY_SIZE",
        parse_bytes(&args.max_body_size, 1..=usize::MAX),
    );
    let body_idle_timeout = p.take(
        "PORTCULLIS_BODY_IDLE_TIMEOUT",
        parse_secs(&args.body_idle_timeout, 1),
    );
    let max_client_connections = p.take(
        "PORTCULLIS_MAX_CLIENT_CONNECTIONS",
        parse_count(&args.max_client_connections, 1..=65_536, "a number"),
    );
    let ws_max_message = p.take(
        "PORTCULLIS_WS_MAX_MESSAGE",
        parse_bytes(&args.ws_max_message, 1..=(1 << 30)),
    );
    Some(HttpLimits {
        max_body_size: max_body_size?,
        body_idle_timeout: body_idle_timeout?,
        max_client_connections: max_client_connections?,
        ws_max_message: ws_max_message?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unnamed_static_folder_is_optional() {
        assert_eq!(
            static_dir(None).unwrap().is_some(),
            Path::new(defaults::STATIC_DIR).is_dir()
        );
    }

    #[test]
    fn a_section_with_one_bad_field_is_none_and_says_why_once() {
        let mut p = Problems::default();
        let limits = http_limits(
            &ServeArgs {
                body_idle_timeout: "0".into(),
                ..ServeArgs::default()
            },
            &mut p,
        );
        assert!(limits.is_none());
        assert_eq!(p.0.len(), 1, "{:?}", p.0);
        assert!(
            p.0[0].starts_with("PORTCULLIS_BODY_IDLE_TIMEOUT: "),
            "{:?}",
            p.0
        );
    }

    #[test]
    fn database_settings_take_their_defaults_from_db_settings() {
        let mut p = Problems::default();
        let settings = database(&ServeArgs::default(), &mut p).unwrap();
        let db = DbSettings::new(settings.url.clone());
        assert_eq!(settings.pool_size, db.pool_size);
        assert_eq!(settings.statement_timeout, db.statement_timeout);
        assert_eq!(settings.connect_timeout, db.connect_timeout);
        assert!(p.0.is_empty(), "{:?}", p.0);
    }
}
