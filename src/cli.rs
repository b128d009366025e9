//! The command line: `serve`, `demo`, `upstream-demo`, `migrate`, `user …`,
//! `keygen`. Exit codes: 0 success; 2 bad configuration or arguments (one
//! line per problem, naming the flag or variable); 1 any other failure.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::accounts::{self, AccountError};
use crate::auth::{Roles, password, tokens};
use crate::clock::{self, Clock};
use crate::config::{Config, DbArgs, ServeArgs};
use crate::db::Db;
use crate::db::users::{self, UserRef};
use crate::demo::{self, DemoError};
use crate::files::write_private_file;
use crate::startup::Application;

#[derive(Debug, Parser)]
#[command(
    name = "portcullis",
    version,
    about = "A session gateway for single-page apps in front of legacy HTTP APIs"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the gateway (applies migrations first).
    Serve(Box<ServeArgs>),
    /// Run a self-contained demo: employee service, gateway, SPA and users.
    Demo {
        #[arg(long, default_value = "127.0.0.1:8080")]
        bind: String,
    },
    /// Run only the bundled demo employee service (the "legacy API").
    UpstreamDemo {
        #[arg(
            long,
            env = "PORTCULLIS_UPSTREAM_DEMO_BIND",
            default_value = "127.0.0.1:8081"
        )]
        bind: String,
    },
    /// Apply pending migrations and exit.
    Migrate(DbArgs),
    /// User administration.
    User {
        #[command(flatten)]
        db: DbArgs,
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Write a new Ed25519 private key (PKCS#8 PEM) for EdDSA signing.
    Keygen {
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create a user (every user has the `user` role).
    Add {
        name: String,
        #[arg(long = "role")]
        roles: Vec<String>,
        /// Read the password from one line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a new password (revokes the user's sessions).
    Passwd {
        name: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users.
    List,
    /// Replace a user's roles (they apply from the next refresh).
    Roles {
        name: String,
        #[arg(long)]
        set: String,
    },
    /// Disable a user (revokes their sessions).
    Disable { name: String },
    /// Enable a disabled user.
    Enable { name: String },
}

/// How a command failed.
#[derive(Debug)]
pub enum Failure {
    /// Bad configuration or arguments: exit 2, one line each.
    Usage(Vec<String>),
    /// Anything else: exit 1.
    Other(String),
}

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure::Other(e.to_string())
    }
}

fn demo_failure(e: DemoError) -> Failure {
    match e {
        DemoError::Config(lines) => Failure::Usage(lines),
        other => Failure::Other(other.to_string()),
    }
}

fn account_failure(e: AccountError, name: &str) -> Failure {
    match e {
        AccountError::InvalidInput(message) => Failure::Usage(vec![format!("NAME: {message}")]),
        AccountError::UsernameTaken => Failure::Other(format!("the username {name:?} is taken")),
        AccountError::UnknownUser => Failure::Other(format!("no user named {name:?}")),
        other => Failure::Other(other.to_string()),
    }
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let dotenv = dotenvy::dotenv();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            let text = e.render().to_string();
            let line = text.lines().next().unwrap_or("invalid arguments");
            eprintln!("{line}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = dotenv
        && !e.not_found()
    {
        eprintln!("error: .env: {e}");
        return ExitCode::from(2);
    }
    env_logger::Builder::from_env(
        env_logger::Env::default().default_filter_or("info,actix_server=warn"),
    )
    .init();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(lines)) => {
            for line in lines {
                eprintln!("error: {line}");
            }
            ExitCode::from(2)
        }
        Err(Failure::Other(cause)) => {
            eprintln!("error: {cause}");
            ExitCode::from(1)
        }
    }
}

fn run(command: Command) -> Result<(), Failure> {
    match command {
        Command::Serve(args) => {
            let config = Config::from_args(&args).map_err(Failure::Usage)?;
            actix_web::rt::System::new().block_on(async move {
                let app = Application::build(config, Clock::system())?;
                log::info!("portcullis listening on port {}", app.port());
                app.run().await?;
                Ok(())
            })
        }
        Command::Demo { bind } => demo::run(&bind).map_err(demo_failure),
        Command::UpstreamDemo { bind } => demo::employees::run(&bind).map_err(demo_failure),
        Command::Migrate(db) => {
            let n = open(&db)?.migrate()?;
            println!("applied {n} migration(s)");
            Ok(())
        }
        Command::User { db, command } => user(&open(&db)?, command),
        Command::Keygen { out } => keygen(&out),
    }
}

fn open(db: &DbArgs) -> Result<Db, Failure> {
    let db = Db::connect(&db.database_url)
        .map_err(|e| Failure::Usage(vec![format!("DATABASE_URL: {e}")]))?;
    db.migrate()?;
    Ok(db)
}

fn user(db: &Db, command: UserCommand) -> Result<(), Failure> {
    let now = clock::now();
    match command {
        UserCommand::Add {
            name,
            roles,
            password_stdin,
        } => {
            accounts::validate_username(&name).map_err(|e| account_failure(e, &name))?;
            let roles = Roles::parse(&roles.join(","))
                .map_err(|e| Failure::Usage(vec![format!("--role: {e}")]))?;
            let hash = password::hash(&read_password(password_stdin)?)?;
            let user = db
                .with_conn(|c| Ok(accounts::create(c, &name, &hash, &roles, now)))?
                .map_err(|e| account_failure(e, &name))?;
            println!("created {} ({}) id {}", user.username, user.roles, user.id);
        }
        UserCommand::Passwd {
            name,
            password_stdin,
        } => {
            let hash = password::hash(&read_password(password_stdin)?)?;
            db.with_conn(|c| {
                Ok(accounts::set_password(
                    c,
                    UserRef::Name(&name),
                    &hash,
                    None,
                    now,
                ))
            })?
            .map_err(|e| account_failure(e, &name))?;
            println!("password changed for {name}; their sessions are revoked");
        }
        UserCommand::List => {
            for u in db.with_conn(users::list)? {
                let state = if u.disabled { "disabled" } else { "active" };
                println!("{}\t{}\t{}\t{}", u.username, u.roles, state, u.id);
            }
        }
        UserCommand::Roles { name, set } => {
            let roles =
                Roles::parse(&set).map_err(|e| Failure::Usage(vec![format!("--set: {e}")]))?;
            db.with_conn(|c| Ok(accounts::set_roles(c, UserRef::Name(&name), &roles, now)))?
                .map_err(|e| account_failure(e, &name))?;
            println!("{name} now has roles {roles} (from their next refresh)");
        }
        UserCommand::Disable { name } => {
            db.with_conn(|c| Ok(accounts::set_disabled(c, UserRef::Name(&name), true, now)))?
                .map_err(|e| account_failure(e, &name))?;
            println!("{name} disabled; their sessions are revoked");
        }
        UserCommand::Enable { name } => {
            db.with_conn(|c| Ok(accounts::set_disabled(c, UserRef::Name(&name), false, now)))?
                .map_err(|e| account_failure(e, &name))?;
            println!("{name} enabled");
        }
    }
    Ok(())
}

/// One line from stdin (without its line ending), or a no-echo prompt twice.
fn read_password(from_stdin: bool) -> Result<String, Failure> {
    let password = if from_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        let line = line.strip_suffix('\n').unwrap_or(&line);
        line.strip_suffix('\r').unwrap_or(line).to_owned()
    } else {
        let first = rpassword::prompt_password("Password: ")?;
        let second = rpassword::prompt_password("Repeat password: ")?;
        if first != second {
            return Err(Failure::Other("the passwords do not match".into()));
        }
        first
    };
    accounts::validate_password(&password)
        .map_err(|e| Failure::Usage(vec![format!("password: {e}")]))?;
    Ok(password)
}

fn keygen(out: &Path) -> Result<(), Failure> {
    let pem = tokens::generate_ed25519_pem()?;
    write_private_file(out, secrecy::ExposeSecret::expose_secret(&pem).as_bytes())
        .map_err(|e| Failure::Other(format!("cannot create {}: {e}", out.display())))?;
    println!("wrote an Ed25519 private key to {}", out.display());
    Ok(())
}
