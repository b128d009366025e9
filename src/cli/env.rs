//! Where the command line's variables come from: a `.env` file in the
//! working directory fills in what the real environment does not set (the
//! real environment always wins), and an empty variable counts as unset.
//! Remembers which variables `.env` supplied, so that a problem with one of
//! them says where the value came from. Never prints a value.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::PathBuf;

use clap::Command;

/// The variables a `.env` file supplied.
#[derive(Debug, Default)]
pub struct DotEnv {
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
    pub fn notes(&self) -> impl Iterator<Item = String> + '_ {
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
    pub fn annotate(&self, line: &str) -> String {
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
}

/// `cmd` with every environment variable that is set but empty ignored, as
/// if unset: `PORTCULLIS_JWT_SECRET=` means "no secret", and a flag with a
/// default keeps it. Applies to every subcommand.
pub fn empty_means_unset(cmd: Command) -> Command {
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

    #[test]
    fn without_a_dotenv_lines_are_unchanged() {
        let line = "PORTCULLIS_UPSTREAM: required";
        assert_eq!(DotEnv::default().annotate(line), line);
    }
}
