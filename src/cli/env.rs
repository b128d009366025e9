//! Where the command line's variables come from: a `.env` file in the
//! working directory fills in what the real environment does not set (the
//! real environment always wins), and an empty variable counts as unset.
//! Remembers which variables `.env` supplied, so that a problem with one of
//! them says where the value came from, and names the variable when clap
//! refuses a value that came from one. Never prints a value.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

use clap::Command;
use clap::error::{ContextKind, ContextValue, ErrorKind};

/// The variables a `.env` file supplied.
#[derive(Debug, Default)]
pub(crate) struct DotEnv {
    /// The file, absolute; `None` when there is none.
    path: Option<PathBuf>,
    /// Each variable taken from the file, and whether its value was empty.
    supplied: BTreeMap<String, bool>,
    /// Variables the file sets that the environment already sets otherwise.
    overridden: Vec<String>,
}

impl DotEnv {
    /// Reads `./.env` (not a parent directory's) into the environment,
    /// without overriding a variable that is already set. `Err` is one line
    /// naming the file and what is wrong with it.
    pub fn load() -> Result<Self, String> {
        let path = std::path::absolute(".env").unwrap_or_else(|_| ".env".into());
        if !path.is_file() {
            return Ok(Self::default());
        }
        let bad = |e: dotenvy::Error| format!("{}: {e}", path.display());
        let mut supplied = BTreeMap::new();
        let mut overridden = Vec::new();
        for item in dotenvy::from_path_iter(&path).map_err(bad)? {
            let (key, value) = item.map_err(bad)?;
            match std::env::var_os(&key) {
                None => {
                    supplied.insert(key, value.is_empty());
                }
                Some(real) if real != OsString::from(&value) => {
                    overridden.push(key);
                }
                Some(_) => {}
            }
        }
        dotenvy::from_path(&path).map_err(bad)?;
        Ok(Self {
            path: Some(path),
            supplied,
            overridden,
        })
    }

    /// One note per variable the file sets that the environment overrides,
    /// so an edit to `.env` that has no effect does not go unexplained.
    pub(crate) fn notes(&self) -> impl Iterator<Item = String> + '_ {
        self.path.iter().flat_map(|path| {
            self.overridden.iter().map(move |key| {
                format!(
                    "note: {key} from the environment is used, not the one in {}",
                    path.display()
                )
            })
        })
    }

    /// `line`, with a remark naming `.env` when the line names a variable
    /// that came from it.
    pub(crate) fn annotate(&self, line: &str) -> String {
        let Some(path) = &self.path else {
            return line.to_owned();
        };
        let mut named: Vec<&str> = Vec::new();
        for word in line.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
            if self.supplied.contains_key(word) && !named.contains(&word) {
                named.push(word);
            }
        }
        if named.is_empty() {
            return line.to_owned();
        }
        let described: Vec<String> = named
            .iter()
            .map(|key| {
                if self.supplied.get(*key) == Some(&true) {
                    format!("{key} (empty there, so unset)")
                } else {
                    (*key).to_owned()
                }
            })
            .collect();
        format!("{line} [from {}: {}]", path.display(), described.join(", "))
    }

    /// The file, when it supplied `var`.
    pub(crate) fn supplied(&self, var: &str) -> Option<&Path> {
        self.path
            .as_deref()
            .filter(|_| self.supplied.contains_key(var))
    }
}

/// `error`, with a tip naming the variable when clap refused a value that
/// came from one (clap names only the flag). `cmd` and `argv` are what was
/// parsed. The variable is found by parsing again without it: the value was
/// the variable's when the refusal goes away (a flag on the command line
/// wins over its variable, so its value would be refused again).
pub(crate) fn name_the_variable(
    mut error: clap::Error,
    cmd: &Command,
    argv: &[OsString],
    dotenv: Option<&DotEnv>,
) -> clap::Error {
    if !matches!(
        error.kind(),
        ErrorKind::InvalidValue | ErrorKind::ValueValidation
    ) {
        return error;
    }
    let refusal = |e: &clap::Error| {
        let text = |kind| e.get(kind).map(ToString::to_string);
        (
            e.kind(),
            text(ContextKind::InvalidArg),
            text(ContextKind::InvalidValue),
        )
    };
    let refused = refusal(&error);
    let Some(flag) = refused.1.clone() else {
        return error;
    };
    let var = variables_of(cmd, &flag).into_iter().find(|var| {
        let again = without_variable(cmd.clone(), var).try_get_matches_from(argv);
        again.err().map(|e| refusal(&e)).as_ref() != Some(&refused)
    });
    let Some(var) = var else {
        return error;
    };
    let var = var.to_string_lossy();
    let tip = match dotenv.and_then(|d| d.supplied(&var)) {
        Some(file) => format!("the value came from {var}, set in {}", file.display()),
        None => format!("the value came from the environment variable {var}"),
    };
    let mut tips = match error.get(ContextKind::Suggested) {
        Some(ContextValue::StyledStrs(tips)) => tips.clone(),
        _ => Vec::new(),
    };
    tips.insert(0, tip.into());
    error.insert(ContextKind::Suggested, ContextValue::StyledStrs(tips));
    error
}

/// The variables of the options shown as `shown` (`--name <VALUE>`), in
/// `cmd` and its subcommands. (An argument's own `Display` needs a built
/// command, which only the subcommand in use is.)
fn variables_of(cmd: &Command, shown: &str) -> Vec<OsString> {
    let flag = shown.split([' ', '=']).next().unwrap_or_default();
    let mut found: Vec<OsString> = cmd
        .get_arguments()
        .filter(|arg| {
            arg.get_long()
                .is_some_and(|long| flag == format!("--{long}"))
                || arg
                    .get_short()
                    .is_some_and(|short| flag == format!("-{short}"))
        })
        .filter_map(|arg| arg.get_env().map(OsStr::to_owned))
        .collect();
    for sub in cmd.get_subcommands() {
        found.extend(variables_of(sub, shown));
    }
    found.sort();
    found.dedup();
    found
}

/// `cmd` with `var` read by no argument.
fn without_variable(cmd: Command, var: &OsStr) -> Command {
    cmd.mut_args(|arg| {
        if arg.get_env() == Some(var) {
            arg.env(None)
        } else {
            arg
        }
    })
    .mut_subcommands(|sub| without_variable(sub, var))
}

/// `cmd` with every environment variable that is set but empty ignored, as
/// if unset: `PORTCULLIS_JWT_SECRET=` means "no secret", and a flag with a
/// default keeps it. Applies to every subcommand.
pub(crate) fn empty_means_unset(cmd: Command) -> Command {
    let cmd = cmd.mut_args(|arg| {
        let empty = arg
            .get_env()
            .and_then(std::env::var_os)
            .is_some_and(|value| value.is_empty());
        if empty { arg.env(None) } else { arg }
    });
    cmd.mut_subcommands(empty_means_unset)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dotenv(supplied: &[(&str, bool)]) -> DotEnv {
        DotEnv {
            path: Some("/srv/app/.env".into()),
            supplied: supplied
                .iter()
                .map(|(k, empty)| ((*k).to_owned(), *empty))
                .collect(),
            overridden: vec![],
        }
    }

    #[test]
    fn a_problem_naming_a_variable_from_dotenv_says_so() {
        let env = dotenv(&[("PORTCULLIS_JWT_SECRET", false)]);
        let line = env.annotate(
            "PORTCULLIS_JWT_KEY_FILE: set either PORTCULLIS_JWT_SECRET or PORTCULLIS_JWT_KEY_FILE, not both",
        );
        assert!(
            line.ends_with("[from /srv/app/.env: PORTCULLIS_JWT_SECRET]"),
            "{line}"
        );
    }

    #[test]
    fn only_whole_variable_names_count() {
        let env = dotenv(&[("PORTCULLIS_SESSION_TTL", false)]);
        let line = "PORTCULLIS_SESSION_TTL_X: bad";
        assert_eq!(env.annotate(line), line);
    }

    #[test]
    fn an_empty_value_from_dotenv_is_called_unset() {
        let env = dotenv(&[("PORTCULLIS_UPSTREAM", true)]);
        let line = env.annotate("PORTCULLIS_UPSTREAM: required");
        assert!(line.contains("PORTCULLIS_UPSTREAM (empty there, so unset)"));
    }

    /// A command whose `--level` reads `PATH`, which is set wherever tests
    /// run and is never `low` or `high`.
    fn levels() -> Command {
        Command::new("t").arg(
            clap::Arg::new("level")
                .long("level")
                .env("PATH")
                .value_parser(["low", "high"]),
        )
    }

    fn refused(argv: &[&str], dotenv: Option<&DotEnv>) -> String {
        let argv: Vec<OsString> = argv.iter().map(OsString::from).collect();
        let mut cmd = levels();
        let error = cmd.try_get_matches_from_mut(&argv).unwrap_err();
        name_the_variable(error, &cmd, &argv, dotenv)
            .render()
            .to_string()
    }

    #[test]
    fn a_value_refused_from_a_variable_names_the_variable_and_the_flag() {
        let text = refused(&["t"], None);
        assert!(text.contains("for '--level <level>'"), "{text}");
        assert!(
            text.contains("tip: the value came from the environment variable PATH"),
            "{text}"
        );
        let text = refused(&["t"], Some(&dotenv(&[("PATH", false)])));
        assert!(
            text.contains("the value came from PATH, set in /srv/app/.env"),
            "{text}"
        );
    }

    #[test]
    fn a_value_refused_from_the_command_line_names_only_the_flag() {
        for argv in [&["t", "--level", "mid"][..], &["t", "--level=mid"]] {
            let text = refused(argv, None);
            assert!(text.contains("invalid value 'mid'"), "{text}");
            assert!(!text.contains("PATH"), "{text}");
        }
    }

    #[test]
    fn without_a_dotenv_lines_are_unchanged() {
        let line = "PORTCULLIS_UPSTREAM: required";
        assert_eq!(DotEnv::default().annotate(line), line);
    }
}
