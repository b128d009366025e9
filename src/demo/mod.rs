//! `portcullis demo`: one command, no set-up. Starts the employee service on
//! a free loopback port and the gateway in front of it, with a fresh data
//! directory (SQLite file and Ed25519 key), and seeds three users with
//! generated passwords, printed on stdout. Its public URL is
//! `http://localhost:PORT` (an IP address cannot be a WebAuthn RP ID, and
//! `localhost` is a secure context), so passkeys work in it.

pub mod employees;

use std::io::Write;
use std::net::TcpListener;
use std::path::PathBuf;
use std::task::Poll;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use secrecy::ExposeSecret;

use crate::accounts::AccountError;
use crate::auth::password::Password;
use crate::auth::seal::SealKey;
use crate::auth::tokens::{KeyError, generate_ed25519_pem};
use crate::auth::totp::TotpSecret;
use crate::auth::{Role, Roles};
use crate::clock::{self, Clock};
use crate::config::{Config, DbArgs, ServeArgs};
use crate::db::{Db, DbError};
use crate::events::Caller;
use crate::factors::{FactorError, Factors};
use crate::files::write_private_file;
use crate::services::{Services, ServicesError};
use crate::startup::{Application, StartupError};

/// Why the demo could not run.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The listen address (or another setting) is unusable: the CLI exits 2.
    #[error("{}", .0.join("; "))]
    Config(Vec<String>),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Account(#[from] AccountError),
    #[error(transparent)]
    Services(#[from] ServicesError),
    #[error(transparent)]
    Factor(#[from] FactorError),
    #[error(transparent)]
    Startup(#[from] StartupError),
}

const USERS: [(&str, Role); 4] = [
    ("alice", Role::Admin),
    ("bob", Role::Editor),
    ("carol", Role::User),
    ("dave", Role::User),
];

/// The demo user who signs in with a second factor.
const WITH_TOTP: &str = "dave";

/// Creates the demo's users with generated passwords, and enrols TOTP for
/// [`WITH_TOTP`]; their `name / password (role)` lines.
fn seed(db: &Db, seal: SealKey) -> Result<Vec<String>, DemoError> {
    let now = clock::now();
    let services = Services::standalone(db, Some(seal), now)?;
    let caller = Caller::default();
    actix_web::rt::System::new().block_on(async {
        let mut credentials = Vec::new();
        for (name, role) in USERS {
            let pw = generate_password();
            let password = Password::new(pw.clone());
            let roles = Roles::new([role]);
            let user = (services.accounts)
                .register(name, password, roles, &caller, now)
                .await?;
            let mut line = format!("{name} / {pw} ({role})");
            if name == WITH_TOTP {
                let secret = enrol_totp(&services.factors, &user.id, name, now).await?;
                line.push_str(&format!(
                    " with TOTP: add {secret} to an authenticator app, or run `oathtool --totp -b {secret}`"
                ));
            }
            credentials.push(line);
        }
        Ok(credentials)
    })
}

/// Sets up and confirms TOTP for a demo user, as the SPA would with a code
/// the app shows; the seed in base32.
async fn enrol_totp(
    factors: &Factors,
    user_id: &str,
    name: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<String, DemoError> {
    let setup = factors.set_up_totp(user_id, name, now).await?;
    let code = base32::decode(base32::Alphabet::Rfc4648 { padding: false }, &setup.secret)
        .map(TotpSecret::from_bytes)
        .and_then(|s| s.code_at(u64::try_from(now.timestamp()).ok()?))
        .ok_or(FactorError::WrongCode)?;
    // no session of the user is open yet: none to keep
    factors
        .confirm_totp(user_id, &code, "", &Caller::default(), now)
        .await?;
    Ok(setup.secret)
}

pub fn run(bind: &str) -> Result<(), DemoError> {
    // the demo's own flag, checked before anything is made
    crate::config::parse::parse_bind(bind)
        .map_err(|e| DemoError::Config(vec![format!("--bind: {e}")]))?;
    let dir = data_dir()?;
    let result = run_in(&dir, bind);
    // the data directory is throwaway: gone when the demo stops
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn run_in(dir: &std::path::Path, bind: &str) -> Result<(), DemoError> {
    let key_file = dir.join("signing-key.pem");
    write_private_file(
        &key_file,
        generate_ed25519_pem()?.expose_secret().as_bytes(),
    )?;
    let database_url = dir.join("portcullis.db").display().to_string();

    let encryption_key = dir.join("encryption-key");
    let key_text = SealKey::generate_base64();
    write_private_file(&encryption_key, key_text.as_bytes())?;
    let seal = SealKey::from_base64(&key_text).map_err(|e| DemoError::Config(vec![e]))?;

    let db = Db::connect(&database_url)?;
    db.migrate()?;
    let credentials = seed(&db, seal)?;

    let upstream = TcpListener::bind("127.0.0.1:0")?;
    let upstream_addr = upstream.local_addr()?;
    let bind = with_a_port(bind)?;
    let public_url = format!("http://localhost:{}", port_of(&bind));
    let args = ServeArgs {
        db: DbArgs { database_url },
        bind: bind.clone(),
        public_url: Some(public_url.clone()),
        upstream: Some(format!("http://{upstream_addr}")),
        jwt_key_file: Some(key_file),
        encryption_key_file: Some(encryption_key),
        // the demo is plain http on loopback
        cookie_secure: "false".into(),
        static_dir: static_dir(),
        ..ServeArgs::default()
    };
    let config = Config::from_args(&args).map_err(DemoError::Config)?;

    actix_web::rt::System::new().block_on(async move {
        let employees = actix_web::rt::spawn(employees::server(upstream)?);
        let app = Application::build(config, Clock::system())?;
        let mut server = std::pin::pin!(app.run());
        // The server starts, and with it its SIGINT/SIGTERM handling, on its
        // first poll: only then is the demo ready to be stopped cleanly.
        let first = std::future::poll_fn(|cx| Poll::Ready(server.as_mut().poll(cx))).await;
        if let Poll::Ready(result) = first {
            employees.abort();
            return Ok(result?);
        }
        let mut out = std::io::stdout().lock();
        for line in &credentials {
            writeln!(out, "{line}")?;
        }
        // the origin passkeys are bound to: the browser must open this one
        writeln!(out, "portcullis demo: open {public_url}/")?;
        writeln!(
            out,
            "(throwaway data in {}; Ctrl-C stops the demo and removes it)",
            dir.display()
        )?;
        out.flush()?;
        drop(out);
        let result = server.await;
        employees.abort();
        result?;
        Ok(())
    })
}

/// `bind` with its port chosen now when it asks for any (`:0`): the
/// public URL, made before the gateway binds, must name the port.
fn with_a_port(bind: &str) -> std::io::Result<String> {
    if port_of(bind) != "0" {
        return Ok(bind.to_owned());
    }
    let port = TcpListener::bind(bind)?.local_addr()?.port();
    let host = bind.rsplit_once(':').map_or(bind, |(host, _)| host);
    Ok(format!("{host}:{port}"))
}

fn port_of(bind: &str) -> &str {
    bind.rsplit_once(':').map_or("", |(_, port)| port)
}

fn data_dir() -> Result<PathBuf, DemoError> {
    let mut suffix = [0u8; 6];
    rand::rngs::OsRng.fill_bytes(&mut suffix);
    let dir = std::env::temp_dir().join(format!(
        "portcullis-demo-{}",
        URL_SAFE_NO_PAD.encode(suffix)
    ));
    // the signing key lives here: owner only
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(&dir)?;
    Ok(dir)
}

fn generate_password() -> String {
    let mut bytes = [0u8; 12];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// `./static` when run from the repository, else the one it was built from;
/// none (an API-only demo, said once in the log) when that is gone too.
fn static_dir() -> Option<PathBuf> {
    [
        PathBuf::from("static"),
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("static"),
    ]
    .into_iter()
    .find(|dir| dir.join("index.html").is_file())
}
