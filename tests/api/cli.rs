//! The command line as a newcomer meets it: usage and suggestions, help
//! for every argument, errors that say what to do (a missing database
//! directory, a value from `.env`, a refused value naming its variable),
//! what `migrate` applied (never the database password), a taken name
//! refused before any password prompt, one retry at the prompt, and
//! database files only their owner can read.

use std::path::Path;
use std::process::Output;

use crate::support::*;

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_bare_command_or_a_typo_gets_clap_usage_and_a_suggestion_with_exit_2() {
    let out = portcullis().output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let text = stderr(&out);
    assert!(
        text.contains("Usage: portcullis [OPTIONS] <COMMAND>"),
        "{text}"
    );
    for command in ["serve", "demo", "migrate", "user", "keygen"] {
        assert!(text.contains(command), "{command} missing from:\n{text}");
    }

    let out = portcullis().arg("serv").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let text = stderr(&out);
    assert!(text.contains("tip:") && text.contains("'serve'"), "{text}");
    assert!(text.contains("Usage:"), "{text}");

    let out = portcullis()
        .args(["user", "add", "alice", "--rol", "admin"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let text = stderr(&out);
    assert!(text.contains("--role"), "no suggestion in:\n{text}");

    let out = portcullis()
        .args(["user", "roles", "alice", "--set", "editor,root"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let text = stderr(&out);
    assert!(
        text.contains("'root'") && text.contains("user, editor, admin"),
        "{text}"
    );

    let out = portcullis().arg("--help").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "help is not an error");
}

#[test]
fn help_lists_the_roles_and_names_the_arguments() {
    let out = portcullis()
        .args(["user", "add", "--help"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = stdout(&out);
    assert!(
        help.contains("<NAME>") && help.contains("[possible values: user, editor, admin]"),
        "{help}"
    );
    let out = portcullis()
        .args(["user", "roles", "--help"])
        .output()
        .unwrap();
    let help = stdout(&out);
    assert!(help.contains("--set <ROLE,…>"), "{help}");
}

#[test]
fn a_missing_database_directory_exits_2_saying_so_for_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-dir");
    let url = missing.join("p.db").display().to_string();
    let expected = format!("directory {} does not exist", missing.display());
    let runs: [&[&str]; 3] = [&["serve"], &["migrate"], &["user", "list"]];
    for args in runs {
        let out = portcullis()
            .args(args)
            .env("DATABASE_URL", &url)
            .env("PORTCULLIS_UPSTREAM", "http://127.0.0.1:9")
            .env("PORTCULLIS_JWT_SECRET", SECRET)
            .env("PORTCULLIS_STATIC_DIR", dir.path())
            .output()
            .unwrap();
        let text = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {text}");
        assert!(text.contains(&expected), "{args:?}: {text}");
        assert_eq!(
            text.matches("DATABASE_URL").count(),
            1,
            "{args:?}: one line naming the variable once:\n{text}"
        );
        assert!(!missing.exists(), "nothing was created");
    }
}

#[test]
fn migrate_reports_what_it_applied_and_other_commands_say_when_they_migrate() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("p.db").display().to_string();
    let out = cli(&db, &["migrate"], "");
    assert!(out.status.success(), "{}", stderr(&out));
    let said = stdout(&out);
    let applied: usize = said
        .strip_prefix("applied ")
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{said}"));
    assert!(applied > 0, "a fresh database gets every migration: {said}");

    let out = cli(&db, &["migrate"], "");
    assert!(stdout(&out).contains("up to date"), "{}", stdout(&out));

    // a user command on a fresh database migrates it, and says so
    let fresh = dir.path().join("q.db").display().to_string();
    let out = cli(&fresh, &["user", "list"], "");
    assert!(out.status.success());
    assert!(
        stderr(&out).contains(&format!("applied {applied} migration(s)")),
        "{}",
        stderr(&out)
    );
    let out = cli(&fresh, &["user", "list"], "");
    assert_eq!(stderr(&out), "", "nothing to say the second time");
    let out = cli(&fresh, &["migrate"], "");
    assert!(stdout(&out).contains("up to date"));
}

/// The password in a `postgres://user:password@host/db` URL.
fn password_of(url: &str) -> &str {
    let authority = url.split_once("://").unwrap().1.split('/').next().unwrap();
    let userinfo = authority.rsplit_once('@').map_or("", |(u, _)| u);
    userinfo.split_once(':').map_or("", |(_, p)| p)
}

#[test]
fn migrate_and_a_first_user_command_name_a_postgres_database_without_its_password() {
    let Some(admin) = postgres_or_skip(
        "migrate_and_a_first_user_command_name_a_postgres_database_without_its_password",
    ) else {
        return;
    };
    let db = TestDatabase::postgres(&admin);
    let password = password_of(&db.url);
    assert!(!password.is_empty(), "the test server's URL has a password");
    let hidden = |text: &str| {
        assert!(!text.contains(&db.url), "{text}");
        assert!(!text.contains(&format!(":{password}@")), "{text}");
        assert!(
            text.contains(":***@"),
            "the database is still named: {text}"
        );
    };

    let out = cli(&db.url, &["migrate"], "");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("applied "), "{}", stdout(&out));
    hidden(&stdout(&out));
    let out = cli(&db.url, &["migrate"], "");
    assert!(stdout(&out).contains("up to date"), "{}", stdout(&out));
    hidden(&stdout(&out));

    let fresh = TestDatabase::postgres(&admin);
    let out = cli(&fresh.url, &["user", "list"], "");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).starts_with("note: applied "),
        "{}",
        stderr(&out)
    );
    hidden(&stderr(&out));
}

#[test]
fn a_value_clap_refuses_names_the_variable_it_came_from() {
    let dir = tempfile::tempdir().unwrap();
    let first_line = |out: &Output| stderr(out).lines().next().unwrap_or_default().to_owned();

    // from the environment, for a command that reads no other variable
    let out = portcullis()
        .arg("serve")
        .env("PORTCULLIS_LOG_FORMAT", "xml")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let text = stderr(&out);
    assert!(
        first_line(&out).contains("'xml'") && first_line(&out).contains("--log-format"),
        "{text}"
    );
    assert!(text.contains("text, json"), "the choices are named: {text}");
    assert!(
        text.contains("the value came from the environment variable PORTCULLIS_LOG_FORMAT"),
        "{text}"
    );

    // from .env: the file is named
    let dotenv = dir.path().join(".env");
    std::fs::write(&dotenv, "PORTCULLIS_LOG_FORMAT=xml\n").unwrap();
    let out = portcullis()
        .arg("migrate")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let text = stderr(&out);
    let shown = dotenv.canonicalize().unwrap();
    assert!(
        text.contains(&format!(
            "the value came from PORTCULLIS_LOG_FORMAT, set in {}",
            shown.display()
        )),
        "{text}"
    );
    assert!(!dir.path().join("portcullis.db").exists(), "nothing ran");

    // from the command line, with a valid variable beside it: only the flag
    let out = portcullis()
        .args(["--log-format", "xml", "migrate"])
        .env("PORTCULLIS_LOG_FORMAT", "json")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let text = stderr(&out);
    assert!(first_line(&out).contains("--log-format"), "{text}");
    assert!(!text.contains("PORTCULLIS_LOG_FORMAT"), "{text}");
}

#[test]
fn a_taken_name_or_an_unknown_user_is_refused_before_the_password_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("p.db").display().to_string();
    cli_add_user(&db, "alice");
    // no password on stdin: had it been read first, it would be the error
    let out = cli(&db, &["user", "add", "ALICE", "--password-stdin"], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("is taken"), "{}", stderr(&out));
    let out = cli(&db, &["user", "passwd", "nobody", "--password-stdin"], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no user named"), "{}", stderr(&out));
}

#[cfg(unix)]
#[test]
fn database_files_are_created_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.db");
    cli_add_user(file.to_str().unwrap(), "alice");
    assert_eq!(mode(&file), 0o600, "the database file");

    // while a gateway has it open, its WAL and shared-memory files too
    let file = dir.path().join("live.db");
    let url = file.display().to_string();
    let _db = migrated_db(&url);
    for suffix in ["", "-wal", "-shm"] {
        let path = dir.path().join(format!("live.db{suffix}"));
        assert!(path.exists(), "{} missing", path.display());
        assert_eq!(mode(&path), 0o600, "{}", path.display());
    }
}

#[test]
fn a_value_from_dotenv_is_named_as_such_and_an_empty_one_counts_as_unset() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path(), "key.pem");
    let dotenv = dir.path().join(".env");
    let serve = || {
        portcullis()
            .arg("serve")
            .current_dir(dir.path())
            .env("PORTCULLIS_STATIC_DIR", dir.path())
            .env("DATABASE_URL", dir.path().join("p.db"))
            .output()
            .unwrap()
    };

    // conflicting with the environment: the key file is set there, the
    // secret in .env
    std::fs::write(
        &dotenv,
        format!("PORTCULLIS_UPSTREAM=http://127.0.0.1:9\nPORTCULLIS_JWT_SECRET={SECRET}\n"),
    )
    .unwrap();
    let out = portcullis()
        .arg("serve")
        .current_dir(dir.path())
        .env("PORTCULLIS_STATIC_DIR", dir.path())
        .env("PORTCULLIS_JWT_KEY_FILE", &key)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let text = stderr(&out);
    let line = text
        .lines()
        .find(|l| l.contains("not both"))
        .unwrap_or_else(|| panic!("{text}"));
    let shown = dotenv.canonicalize().unwrap();
    assert!(
        line.contains(&format!("from {}: PORTCULLIS_JWT_SECRET", shown.display())),
        "{line}"
    );
    assert!(!text.contains(SECRET), "the secret is echoed:\n{text}");

    // invalid in .env
    std::fs::write(
        &dotenv,
        "PORTCULLIS_UPSTREAM=http://127.0.0.1:9\nPORTCULLIS_ACCESS_TTL=soon\n",
    )
    .unwrap();
    let text = stderr(&serve());
    let line = text
        .lines()
        .find(|l| l.contains("PORTCULLIS_ACCESS_TTL"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(line.contains(".env: PORTCULLIS_ACCESS_TTL"), "{line}");

    // empty means unset: no "not both", and the default TTL instead of an
    // unparsable empty one; only the missing upstream remains
    std::fs::write(
        &dotenv,
        format!(
            "PORTCULLIS_JWT_SECRET=\nPORTCULLIS_JWT_KEY_FILE={}\nPORTCULLIS_ACCESS_TTL=\nPORTCULLIS_UPSTREAM=\n",
            key.display()
        ),
    )
    .unwrap();
    let out = serve();
    assert_eq!(out.status.code(), Some(2));
    let text = stderr(&out);
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(
        text.starts_with("error: PORTCULLIS_UPSTREAM: required")
            && text.contains("PORTCULLIS_UPSTREAM (empty there, so unset)"),
        "{text}"
    );

    // an empty variable in the real environment is unset too, and still
    // wins over .env
    std::fs::write(
        &dotenv,
        format!("PORTCULLIS_UPSTREAM=http://127.0.0.1:9\nPORTCULLIS_JWT_SECRET={SECRET}\n"),
    )
    .unwrap();
    let out = portcullis()
        .arg("serve")
        .current_dir(dir.path())
        .env("PORTCULLIS_STATIC_DIR", dir.path())
        .env("PORTCULLIS_JWT_SECRET", "")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let text = stderr(&out);
    assert!(text.contains("a signing key is required"), "{text}");
    assert!(
        text.contains("note: PORTCULLIS_JWT_SECRET from the environment is used"),
        "{text}"
    );
}

/// Runs `portcullis ARGS…` on a pseudo-terminal (util-linux `script`), typing
/// `input`; `None` where `script` is not available.
fn on_a_terminal(database_url: &str, args: &str, input: &str) -> Option<Output> {
    use std::io::Write;
    use std::process::Stdio;
    let has_script = std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_script {
        eprintln!("skipped: util-linux `script` is not installed");
        return None;
    }
    let binary = env!("CARGO_BIN_EXE_portcullis");
    let mut child = std::process::Command::new("script")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .current_dir(std::env::temp_dir())
        .args(["-qec", &format!("{binary} {args}"), "/dev/null"])
        .env("DATABASE_URL", database_url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    let _ = child.stdin.take().unwrap().write_all(input.as_bytes());
    Some(child.wait_with_output().unwrap())
}

#[test]
fn a_mismatched_password_at_the_prompt_gets_one_retry() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("p.db").display().to_string();
    let Some(out) = on_a_terminal(
        &db,
        "user add alice",
        "a fine password\nanother password\nsecond try ok\nsecond try ok\n",
    ) else {
        return;
    };
    // on a terminal, stdout and stderr both come through the one pty
    let text = stdout(&out);
    assert!(text.contains("do not match; try again"), "{text}");
    assert!(text.contains("created alice"), "{text}");
    let out = cli(&db, &["user", "list"], "");
    assert!(stdout(&out).starts_with("alice\t"));

    let Some(out) = on_a_terminal(
        &db,
        "user add bob",
        "one password\nanother\nx password\ny password\n",
    ) else {
        return;
    };
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(stdout(&out).contains("the passwords do not match"));
}
