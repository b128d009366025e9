//! `portcullis config check`, as `nginx -t` is for nginx: loads and checks
//! everything `serve` would (the keys, the TLS files, the policy and
//! providers files, the database reachable and its migrations applied or
//! pending) without serving, and prints the effective configuration, each
//! value with where it came from (a flag, the environment, `.env`, the
//! default). Secret values are never printed, and a database URL is shown
//! without its password.

use std::path::Path;

use clap::parser::ValueSource;
use clap::{ArgMatches, Args};

use super::Failure;
use super::env::DotEnv;
use crate::config::{Config, ServeArgs};
use crate::db::{Db, DbSettings};

/// Prints the configuration `serve` would run with and checks it; `Err`
/// (exit 2) holds one line per problem.
pub(super) fn run(args: &ServeArgs, matches: &ArgMatches, dotenv: &DotEnv) -> Result<(), Failure> {
    let check = matches
        .subcommand_matches("config")
        .and_then(|m| m.subcommand_matches("check"));
    println!("# the configuration `portcullis serve` would run with");
    if let Some(check) = check {
        for line in sources(check, dotenv) {
            println!("{line}");
        }
    }
    let config = Config::from_args(args).map_err(Failure::Usage)?;
    println!("serve would run {}", config.summary(&config.bind));
    println!("database {}", database(&config.database)?);
    println!("configuration OK");
    Ok(())
}

/// One line per variable of `serve`: its name, its value (secrets
/// redacted) and where it came from.
fn sources(check: &ArgMatches, dotenv: &DotEnv) -> Vec<String> {
    let serve = ServeArgs::augment_args(clap::Command::new("check"));
    let mut lines = Vec::new();
    for arg in serve.get_arguments() {
        let (Some(var), Some(long)) = (arg.get_env(), arg.get_long()) else {
            continue;
        };
        let var = var.to_string_lossy();
        let id = arg.get_id().as_str();
        let raw: Vec<String> = check
            .get_raw(id)
            .map(|values| values.map(|v| v.to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        let value = if raw.is_empty() {
            "(unset)".to_owned()
        } else if var == "DATABASE_URL" {
            DbSettings::new(raw.join(",")).redacted_url()
        } else if arg.is_hide_env_values_set() {
            "(secret, not shown)".to_owned()
        } else {
            raw.join(",")
        };
        let source = match check.value_source(id) {
            Some(ValueSource::CommandLine) => format!("flag --{long}"),
            Some(ValueSource::EnvVariable) => match dotenv.supplied(&var) {
                Some(file) => format!(".env {}", file.display()),
                None => "environment".to_owned(),
            },
            Some(ValueSource::DefaultValue) => "default".to_owned(),
            _ => "unset".to_owned(),
        };
        lines.push(format!("{var:<34} {value:<40} [{source}]"));
    }
    lines
}

/// The database reachable, and its migrations applied or pending. A
/// SQLite file that does not exist yet is not made: `serve` would make it.
fn database(settings: &DbSettings) -> Result<String, Failure> {
    let shown = settings.describe();
    if let Some(path) = settings.sqlite_path()
        && !Path::new(&path).exists()
    {
        let n = Db::migrations_known(settings);
        return Ok(format!(
            "{shown}: does not exist yet; serve creates it and applies {n} migration(s)"
        ));
    }
    let unreachable = |e: crate::db::DbError| Failure::Usage(vec![format!("DATABASE_URL: {e}")]);
    let db = Db::open(settings).map_err(unreachable)?;
    let (applied, pending) = db.migration_status().map_err(unreachable)?;
    let pending = match pending {
        0 => "none pending".to_owned(),
        n => format!("{n} pending (serve applies them at start; or run `portcullis migrate`)"),
    };
    Ok(format!(
        "{shown}: reachable, {applied} migration(s) applied, {pending}"
    ))
}
