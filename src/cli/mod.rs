//! The command line: `serve`, `config check`, `demo`, `upstream-demo`,
//! `migrate`, `user …`, `events`, `completions`, `man`, `keygen`. Exit codes: 0 success; 2 bad configuration or arguments (clap's
//! usage for a bad command line, naming the variable a refused value came
//! from; one line per problem, naming the flag or variable, for a bad
//! configuration); 1 any other failure. A database URL is printed without
//! its password.

mod check;
mod env;
mod events;

use std::ffi::OsString;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::accounts::{self, AccountError};
use crate::auth::password::Password;
use crate::auth::{Role, Roles, tokens};
use crate::clock::{self, Clock};
use crate::config::parse::database_dir_exists;
use crate::config::{Config, DbArgs, ServeArgs, defaults};
use crate::db::users::{self, UserRef};
use crate::db::{self, Db, DbError, DbSettings};
use crate::demo::{self, DemoError};
use crate::events::Caller;
use crate::files::write_private_file;
use crate::logging::{self, LogFormat};
use crate::oidc;
use crate::services::Services;
use crate::startup::{Application, StartupError};

#[derive(Debug, Parser)]
#[command(
    name = "portcullis",
    version = concat!(env!("CARGO_PKG_VERSION"), " (", env!("PORTCULLIS_COMMIT"), ")"),
    about = "A session gateway for single-page apps in front of legacy HTTP APIs",
    arg_required_else_help = true,
    after_help = "Try it: `portcullis demo`, then open http://127.0.0.1:8080/.\n\
                  Every flag of `serve` can also be set by the variable shown beside it, \
                  or in a .env file in the working directory (the environment wins)."
)]
pub(crate) struct Cli {
    /// Log line format: text, or json (one JSON object per line).
    #[arg(
        long,
        global = true,
        env = "PORTCULLIS_LOG_FORMAT",
        value_enum,
        default_value_t
    )]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the gateway (applies pending migrations first).
    Serve(Box<ServeArgs>),
    /// Check the configuration `serve` would run with.
    #[command(arg_required_else_help = true)]
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Run a self-contained demo: employee service, gateway, SPA and three
    /// users with generated passwords, on throwaway data removed at exit.
    Demo {
        /// The gateway's listen address (the employee service takes a free
        /// loopback port).
        #[arg(long, value_name = "ADDR", default_value = defaults::BIND)]
        bind: String,
    },
    /// Run only the bundled demo employee service (the "legacy API"). It
    /// trusts identity headers blindly: never expose it.
    UpstreamDemo {
        /// Listen address.
        #[arg(
            long,
            value_name = "ADDR",
            env = "PORTCULLIS_UPSTREAM_DEMO_BIND",
            default_value = "127.0.0.1:8081"
        )]
        bind: String,
    },
    /// Apply pending migrations, say how many, and exit.
    Migrate(DbArgs),
    /// User administration (works beside a running gateway).
    #[command(arg_required_else_help = true)]
    User {
        #[command(flatten)]
        db: DbArgs,
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Print the stored security events, oldest of the latest first.
    Events {
        #[command(flatten)]
        db: DbArgs,
        /// Only this user's events.
        #[arg(long, value_name = "NAME")]
        user: Option<String>,
        /// Keep printing new events as they are stored (Ctrl-C stops).
        #[arg(long)]
        follow: bool,
        /// One JSON object per line, as `GET /auth/admin/events` shows them.
        #[arg(long)]
        json: bool,
        /// How many of the latest events to print first.
        #[arg(long, value_name = "N", default_value_t = 50,
              value_parser = clap::value_parser!(i64).range(0..=100_000))]
        last: i64,
    },
    /// Print the shell completion script for SHELL (bash, zsh, fish,
    /// elvish, powershell) to standard output.
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff, for `man -l -`) to standard output.
    Man,
    /// Write a new Ed25519 private key (PKCS#8 PEM) for EdDSA signing.
    Keygen {
        /// The file to create, owner-only (0600); an existing file is never
        /// overwritten. Its directory must exist.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Load and check everything `serve` would (keys, TLS files, policy,
    /// providers, the database and its migrations) without serving; print
    /// the effective configuration with each value's source, secrets
    /// redacted. Exit 0 when `serve` would start, 2 when not.
    Check(Box<ServeArgs>),
}

/// Where a user name's rules are told, once.
const NAME_HELP: &str = "The user name: 3 to 32 letters, digits, '_', '.' or '-'";

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create a user; prompts for the password twice unless --password-stdin.
    Add {
        #[arg(help = NAME_HELP)]
        name: String,
        /// A role beyond `user`, which every user has; repeat for more.
        #[arg(long = "role", value_name = "ROLE", value_parser = role())]
        roles: Vec<Role>,
        /// Read the password (8 to 256 characters) from one line of
        /// standard input instead of prompting.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a new password (revokes the user's sessions).
    Passwd {
        #[arg(help = NAME_HELP)]
        name: String,
        /// Read the password from one line of standard input instead of
        /// prompting.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users: name, roles, state, id, linked providers (never
    /// password hashes).
    List,
    /// Link an existing account to an OpenID Provider's subject, so that
    /// signing in there signs in as this user (contract §10).
    Link {
        #[arg(help = NAME_HELP)]
        name: String,
        /// The provider's id in the providers file.
        #[arg(long, value_name = "ID")]
        provider: String,
        /// The user's `sub` at that provider.
        #[arg(long, value_name = "SUB")]
        subject: String,
        /// The providers file (as `serve` reads it).
        #[arg(long, env = "PORTCULLIS_OIDC_PROVIDERS", value_name = "FILE")]
        providers: PathBuf,
    },
    /// Replace a user's roles (they apply from the user's next refresh).
    Roles {
        #[arg(help = NAME_HELP)]
        name: String,
        /// The new roles, comma-separated; `user` is always kept.
        #[arg(
            long,
            value_name = "ROLE,…",
            value_delimiter = ',',
            required = true,
            value_parser = role()
        )]
        set: Vec<Role>,
    },
    /// Disable a user (revokes their sessions at once).
    Disable {
        #[arg(help = NAME_HELP)]
        name: String,
    },
    /// Enable a disabled user.
    Enable {
        #[arg(help = NAME_HELP)]
        name: String,
    },
    /// Remove every second factor of a user (a lost phone) and end their
    /// sessions; they log in with their password and may enrol again.
    MfaReset {
        #[arg(help = NAME_HELP)]
        name: String,
    },
}

/// `user list`: one line per user, the linked providers last
/// (`provider:subject`, comma-separated, or `-`).
fn list_users(db: &Db) -> Result<(), Failure> {
    let links = db.with_conn(db::oidc::all_links)?;
    for u in db.with_conn(users::list)? {
        let state = if u.disabled { "disabled" } else { "active" };
        let linked: Vec<String> = links
            .iter()
            .filter(|l| l.user_id == u.id)
            .map(|l| format!("{}:{}", l.provider_id, l.subject))
            .collect();
        let linked = if linked.is_empty() {
            "-".to_owned()
        } else {
            linked.join(",")
        };
        println!("{}\t{}\t{}\t{}\t{linked}", u.username, u.roles, state, u.id);
    }
    Ok(())
}

/// `user link`: the pair (the provider's issuer, `subject`) signs in as
/// `name` from now on.
fn link_user(
    db: &Db,
    name: &str,
    provider: &str,
    subject: &str,
    file: &Path,
) -> Result<(), Failure> {
    // the redirect URIs are not used here; any origin will do
    let providers = oidc::provider::load(file, Some("http://localhost")).map_err(|problems| {
        Failure::Usage(
            problems
                .into_iter()
                .map(|p| format!("PORTCULLIS_OIDC_PROVIDERS: {}: {p}", file.display()))
                .collect(),
        )
    })?;
    let Some(config) = providers.iter().find(|p| p.id == provider) else {
        return Err(Failure::Usage(vec![format!(
            "--provider: no provider {provider:?} in {}",
            file.display()
        )]));
    };
    let who = UserRef::Name(name.to_owned());
    let Some(found) = db.with_conn(|c| users::find(c, &who))? else {
        return Err(account_failure(AccountError::UnknownUser, name));
    };
    let now = clock::now();
    let linked = db
        .with_conn(|c| db::oidc::link(c, &config.issuer, subject, provider, &found.user.id, now))?;
    if !linked {
        return Err(Failure::Other(format!(
            "{provider}'s subject {subject:?} is linked to an account already"
        )));
    }
    println!("{name} is linked to {provider}'s subject {subject}");
    Ok(())
}

/// A role, with the possible values listed in `--help` and in errors.
fn role() -> impl TypedValueParser<Value = Role> {
    PossibleValuesParser::new(Role::ALL.map(Role::as_str)).try_map(|name| name.parse::<Role>())
}

/// How a command failed.
#[derive(Debug)]
pub(crate) enum Failure {
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
    // OpenSSL (bundled, under libpq) initialised before libpq does, without
    // an atexit clean-up: at exit it would free what a pool thread's
    // connection may still use, and `user disable` on PostgreSQL crashed
    // with SIGSEGV once in about twelve runs as it exited
    openssl_sys::init();
    let dotenv = env::DotEnv::load();
    let (cli, matches) = match parse(dotenv.as_ref().ok()) {
        Ok(parsed) => parsed,
        Err(e) => {
            // clap's own rendering: usage, "did you mean", `--help` on stdout
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    let dotenv = match dotenv {
        Ok(dotenv) => dotenv,
        Err(line) => {
            eprintln!("error: {line}");
            return ExitCode::from(2);
        }
    };
    for note in dotenv.notes() {
        eprintln!("{note}");
    }
    logging::init(cli.log_format);
    let result = run(cli.command, &matches, &dotenv);
    let (code, lines) = match result {
        Ok(()) => (ExitCode::SUCCESS, Vec::new()),
        Err(Failure::Usage(lines)) => (ExitCode::from(2), lines),
        Err(Failure::Other(cause)) => (ExitCode::from(1), vec![cause]),
    };
    for line in lines {
        let line = dotenv.annotate(&line);
        match cli.log_format {
            // one JSON object per line, like every other line of the log
            LogFormat::Json => log::error!(target: "portcullis::cli", "{line}"),
            LogFormat::Text => eprintln!("error: {line}"),
        }
    }
    logging::flush();
    code
}

/// The command line, with empty variables counting as unset, and the
/// matches it came from (where each value came from); a refused value
/// that came from a variable names it.
fn parse(dotenv: Option<&env::DotEnv>) -> Result<(Cli, clap::ArgMatches), clap::Error> {
    let argv: Vec<OsString> = std::env::args_os().collect();
    let mut cmd = env::empty_means_unset(Cli::command());
    let matches = match cmd.try_get_matches_from_mut(&argv) {
        Ok(matches) => matches,
        Err(e) => return Err(env::name_the_variable(e, &cmd, &argv, dotenv)),
    };
    let cli = Cli::from_arg_matches(&matches).map_err(|e| e.format(&mut cmd))?;
    Ok((cli, matches))
}

/// Runs `command`; `matches` and `dotenv` say where its values came from.
fn run(command: Command, matches: &clap::ArgMatches, dotenv: &env::DotEnv) -> Result<(), Failure> {
    match command {
        Command::Serve(args) => {
            let config = Config::from_args(&args).map_err(Failure::Usage)?;
            actix_web::rt::System::new().block_on(async move {
                let app = Application::build(config, Clock::system()).map_err(|e| match e {
                    StartupError::Config(line) => Failure::Usage(vec![line]),
                    other => other.into(),
                })?;
                log::info!(
                    "portcullis listening on port {}: {}",
                    app.port(),
                    app.running()
                );
                app.run().await?;
                Ok(())
            })
        }
        Command::Config {
            command: ConfigCommand::Check(args),
        } => check::run(&args, matches, dotenv),
        Command::Demo { bind } => demo::run(&bind).map_err(demo_failure),
        Command::UpstreamDemo { bind } => demo::employees::run(&bind).map_err(demo_failure),
        Command::Migrate(args) => {
            let n = connect(&args)?.migrate()?;
            let url = shown(&args);
            if n == 0 {
                println!("{url} is up to date: no migration to apply");
            } else {
                println!("applied {n} migration(s) to {url}");
            }
            Ok(())
        }
        Command::User { db: args, command } => {
            if !matches!(command, UserCommand::Add { .. }) {
                must_exist(&args)?;
            }
            user(&connect_migrated(&args)?, command)
        }
        Command::Events {
            db: args,
            user,
            follow,
            json,
            last,
        } => {
            must_exist(&args)?;
            let db = connect_migrated(&args)?;
            let options = events::Options {
                user,
                follow,
                json,
                last,
            };
            events::run(&db, &options)
        }
        Command::Keygen { out } => keygen(&out),
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "portcullis",
                &mut std::io::stdout(),
            );
            Ok(())
        }
        Command::Man => Ok(clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout())?),
    }
}

/// The database `args` names, as told to the user: without its password.
fn shown(args: &DbArgs) -> String {
    DbSettings::new(args.database_url.trim()).redacted_url()
}

/// Opens the database named by `args`, migrating nothing: each command
/// says what it applies.
fn connect(args: &DbArgs) -> Result<Db, Failure> {
    let url = args.database_url.trim();
    let usage = |e: String| Failure::Usage(vec![format!("DATABASE_URL: {e}")]);
    database_dir_exists(url).map_err(usage)?;
    Db::connect(url).map_err(|e| match e {
        DbError::Unsupported(cause) => usage(cause),
        other => Failure::Other(other.to_string()),
    })
}

/// For a command that reads what is there: a SQLite file that does not
/// exist is a typo, not a database to make empty (`migrate` and `user add`
/// make one).
fn must_exist(args: &DbArgs) -> Result<(), Failure> {
    let url = args.database_url.trim();
    database_dir_exists(url).map_err(|e| Failure::Usage(vec![format!("DATABASE_URL: {e}")]))?;
    let settings = DbSettings::new(url);
    match settings.sqlite_path() {
        Some(path) if !Path::new(&path).exists() => {
            let shown = std::path::absolute(&path).unwrap_or_else(|_| path.into());
            Err(Failure::Usage(vec![format!(
                "DATABASE_URL: {} does not exist (`portcullis migrate` or `user add` creates a database)",
                shown.display()
            )]))
        }
        _ => Ok(()),
    }
}

/// Opens the database and applies what migrations are pending, saying so.
fn connect_migrated(args: &DbArgs) -> Result<Db, Failure> {
    let db = connect(args)?;
    let n = db.migrate()?;
    if n > 0 {
        eprintln!("note: applied {n} migration(s) to {} first", shown(args));
    }
    Ok(db)
}

fn user(db: &Db, command: UserCommand) -> Result<(), Failure> {
    match command {
        UserCommand::List => list_users(db),
        UserCommand::Link {
            name,
            provider,
            subject,
            providers,
        } => link_user(db, &name, &provider, &subject, &providers),
        other => account_command(db, other),
    }
}

/// The `user` commands that go through the account use cases.
fn account_command(db: &Db, command: UserCommand) -> Result<(), Failure> {
    let now = clock::now();
    // Is `name` taken? Asked before any password prompt.
    let exists = |name: &str| -> Result<bool, Failure> {
        let who = UserRef::Name(name.to_owned());
        Ok(db.with_conn(|c| users::find(c, &who))?.is_some())
    };
    let services = Services::standalone(db, None, now)?;
    let accounts = &services.accounts;
    let caller = Caller::default();
    match command {
        UserCommand::Add {
            name,
            roles,
            password_stdin,
        } => {
            accounts::validate_username(&name).map_err(|e| account_failure(e, &name))?;
            if exists(&name)? {
                return Err(account_failure(AccountError::UsernameTaken, &name));
            }
            let password = Password::new(read_password(password_stdin)?);
            let user =
                block_on(accounts.register(&name, password, Roles::new(roles), &caller, now))
                    .map_err(|e| account_failure(e, &name))?;
            println!("created {} ({}) id {}", user.username, user.roles, user.id);
        }
        UserCommand::Passwd {
            name,
            password_stdin,
        } => {
            if !exists(&name)? {
                return Err(account_failure(AccountError::UnknownUser, &name));
            }
            let password = Password::new(read_password(password_stdin)?);
            let who = UserRef::Name(name.clone());
            block_on(accounts.set_password(who, password, &caller, now))
                .map_err(|e| account_failure(e, &name))?;
            println!("password changed for {name}; their sessions are revoked");
        }
        UserCommand::List | UserCommand::Link { .. } => {}
        UserCommand::Roles { name, set } => {
            let (who, roles) = (UserRef::Name(name.clone()), Roles::new(set));
            if !roles.contains(Role::Admin) {
                warn_if_last_admin(db, &name, "demoting")?;
            }
            let user = block_on(accounts.set_roles(who, roles, None, &caller, now))
                .map_err(|e| account_failure(e, &name))?;
            println!(
                "{name} now has roles {} (from their next refresh)",
                user.roles
            );
        }
        UserCommand::Disable { name } => {
            warn_if_last_admin(db, &name, "disabling")?;
            let who = UserRef::Name(name.clone());
            block_on(accounts.set_disabled(who, true, None, &caller, now))
                .map_err(|e| account_failure(e, &name))?;
            println!("{name} disabled; their sessions are revoked");
        }
        UserCommand::Enable { name } => {
            let who = UserRef::Name(name.clone());
            block_on(accounts.set_disabled(who, false, None, &caller, now))
                .map_err(|e| account_failure(e, &name))?;
            println!("{name} enabled");
        }
        UserCommand::MfaReset { name } => {
            let who = UserRef::Name(name.clone());
            let Some(found) = db.with_conn(|c| users::find(c, &who))? else {
                return Err(account_failure(AccountError::UnknownUser, &name));
            };
            block_on(services.factors.reset(&found.user.id, None, &caller, now))?;
            println!("{name} has no second factor now; their sessions are revoked");
        }
    }
    Ok(())
}

/// Says so on stderr when `name` is the only active admin: after
/// `doing` it nobody can use the admin routes (the CLI still can).
fn warn_if_last_admin(db: &Db, name: &str, doing: &str) -> Result<(), Failure> {
    let admins: Vec<_> = db
        .with_conn(users::list)?
        .into_iter()
        .filter(|u| !u.disabled && u.roles.contains(Role::Admin))
        .collect();
    if admins.len() == 1 && admins[0].username == name {
        eprintln!(
            "warning: {name} is the last active admin; after {doing} them nobody can use the admin routes \
             (`portcullis user roles NAME --set admin` makes another)"
        );
    }
    Ok(())
}

/// Runs one of the gateway's use cases (async, as the routes call them)
/// to completion.
fn block_on<F: std::future::Future>(work: F) -> F::Output {
    actix_web::rt::System::new().block_on(work)
}

/// One line from stdin (without its line ending), or the no-echo prompt.
fn read_password(from_stdin: bool) -> Result<String, Failure> {
    if !from_stdin {
        return prompt_new_password(
            |prompt| {
                rpassword::prompt_password(prompt).map_err(|e| {
                    Failure::Other(format!(
                        "cannot prompt for the password ({e}); pipe it in with --password-stdin"
                    ))
                })
            },
            |note| eprintln!("{note}"),
        );
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let line = line.strip_suffix('\n').unwrap_or(&line);
    let password = line.strip_suffix('\r').unwrap_or(line).to_owned();
    check_password(&password)?;
    Ok(password)
}

/// Asks for a new password, then for it again. A password that breaks the
/// rules is said and asked for again, as is a mismatch; the second failure
/// of either stops.
fn prompt_new_password(
    mut ask: impl FnMut(&str) -> Result<String, Failure>,
    mut say: impl FnMut(&str),
) -> Result<String, Failure> {
    for attempt in 1..=2 {
        let first = ask("Password: ")?;
        if let Err(Failure::Usage(why)) = check_password(&first) {
            if attempt == 2 {
                return Err(Failure::Usage(why));
            }
            say(&format!("{}; try again.", why.join("; ")));
            continue;
        }
        if ask("Repeat password: ")? == first {
            return Ok(first);
        }
        if attempt == 1 {
            say("The passwords do not match; try again.");
        }
    }
    Err(Failure::Other("the passwords do not match".into()))
}

fn check_password(password: &str) -> Result<(), Failure> {
    accounts::validate_password(password)
        .map_err(|e| Failure::Usage(vec![format!("password: {e}")]))
}

fn keygen(out: &Path) -> Result<(), Failure> {
    let pem = tokens::generate_ed25519_pem()?;
    write_private_file(out, secrecy::ExposeSecret::expose_secret(&pem).as_bytes())
        .map_err(|e| Failure::Other(format!("cannot create {}: {e}", out.display())))?;
    println!("wrote an Ed25519 private key to {}", out.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;

    /// Runs the prompt logic against typed `answers`; returns its result and
    /// what it said.
    fn prompt(answers: &[&str]) -> (Result<String, Failure>, Vec<String>) {
        let mut answers = answers.iter();
        let said = RefCell::new(Vec::new());
        let result = prompt_new_password(
            |p| {
                said.borrow_mut().push(p.to_owned());
                answers
                    .next()
                    .map(|a| (*a).to_owned())
                    .ok_or_else(|| Failure::Other("asked once too often".into()))
            },
            |note| said.borrow_mut().push(note.to_owned()),
        );
        (result, said.into_inner())
    }

    #[test]
    fn matching_passwords_are_asked_for_twice() {
        let (result, said) = prompt(&["a fine password", "a fine password"]);
        assert_eq!(result.unwrap(), "a fine password");
        assert_eq!(said, ["Password: ", "Repeat password: "]);
    }

    #[test]
    fn a_mismatch_is_said_and_retried_once() {
        let (result, said) = prompt(&[
            "a fine password",
            "a fine passwrod",
            "second try ok",
            "second try ok",
        ]);
        assert_eq!(result.unwrap(), "second try ok");
        assert_eq!(said[2], "The passwords do not match; try again.");
    }

    #[test]
    fn a_second_mismatch_fails() {
        let (result, said) = prompt(&["a fine password", "x", "a fine password", "y"]);
        assert!(
            matches!(&result, Err(Failure::Other(m)) if m.contains("do not match")),
            "{result:?}"
        );
        assert_eq!(said.len(), 5, "{said:?}");
    }

    #[test]
    fn a_short_password_is_said_and_asked_for_again() {
        let (result, said) = prompt(&["short", "a fine password", "a fine password"]);
        assert_eq!(result.unwrap(), "a fine password");
        assert_eq!(said[0], "Password: ");
        assert!(
            said[1].starts_with("password: ") && said[1].ends_with("; try again."),
            "{said:?}"
        );
        assert_eq!(said[2..], ["Password: ", "Repeat password: "]);
        let (result, said) = prompt(&["short", "tiny"]);
        assert!(matches!(result, Err(Failure::Usage(_))), "{result:?}");
        assert_eq!(said.len(), 3, "{said:?}");
    }

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn help_describes_every_command_and_argument() {
        fn check(cmd: &clap::Command, path: &str) {
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if id != "help" && id != "version" {
                    assert!(arg.get_help().is_some(), "{path} {id} is undescribed");
                }
            }
            for sub in cmd.get_subcommands() {
                assert!(
                    sub.get_about().is_some(),
                    "{path} {} is undescribed",
                    sub.get_name()
                );
                check(sub, &format!("{path} {}", sub.get_name()));
            }
        }
        check(&Cli::command(), "portcullis");
    }
}
