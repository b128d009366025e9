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

    // `user add` on a fresh database migrates it, and says so
    let fresh = dir.path().join("q.db").display().to_string();
    let out = cli(
        &fresh,
        &["user", "add", "zed", "--password-stdin"],
        &format!("{PASSWORD}\n"),
    );
    assert!(out.status.success(), "{}", stderr(&out));
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

/// `portcullis config check` in `dir` with `env`; its output.
fn config_check(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = portcullis();
    cmd.args(["config", "check"]).args(args).current_dir(dir);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

/// The line of `var` in `config check`'s listing.
fn listed<'a>(text: &'a str, var: &str) -> &'a str {
    text.lines()
        .find(|l| l.split_whitespace().next() == Some(var))
        .unwrap_or_else(|| panic!("{var} not listed:\n{text}"))
}

#[test]
fn config_check_prints_each_value_with_its_source_and_never_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(".env"), "PORTCULLIS_ACCESS_TTL=10m\n").unwrap();
    let db = dir.path().join("p.db");
    let env = [
        ("DATABASE_URL", db.to_str().unwrap()),
        ("PORTCULLIS_JWT_SECRET", SECRET),
        ("PORTCULLIS_UPSTREAM", NO_UPSTREAM),
    ];
    let out = config_check(dir.path(), &["--workers", "3"], &env);
    assert_success(&out, "config check");
    let text = stdout(&out);
    let workers = listed(&text, "PORTCULLIS_WORKERS");
    assert!(
        workers.contains(" 3 ") && workers.ends_with("[flag --workers]"),
        "{text}"
    );
    assert!(
        listed(&text, "PORTCULLIS_ACCESS_TTL").contains("10m"),
        "{text}"
    );
    assert!(
        listed(&text, "PORTCULLIS_ACCESS_TTL").contains("[.env "),
        "{text}"
    );
    assert!(
        listed(&text, "PORTCULLIS_UPSTREAM").contains("[environment]"),
        "{text}"
    );
    assert!(
        listed(&text, "PORTCULLIS_COOKIE_NAME").contains("portcullis_refresh"),
        "{text}"
    );
    assert!(
        listed(&text, "PORTCULLIS_COOKIE_NAME").contains("[default]"),
        "{text}"
    );
    assert!(
        listed(&text, "PORTCULLIS_POLICY").contains("(unset)"),
        "{text}"
    );
    assert!(
        !text.contains(SECRET) && !stderr(&out).contains(SECRET),
        "{text}"
    );
    assert!(
        text.contains("serve would run http://127.0.0.1:8080; signing HS256 key hs256-"),
        "{text}"
    );
    assert!(text.contains("3 worker(s)"), "{text}");
    assert!(text.contains("does not exist yet"), "{text}");
    assert!(!db.exists(), "config check made the database file");
    assert!(text.ends_with("configuration OK\n"), "{text}");

    let out = cli(db.to_str().unwrap(), &["migrate"], "");
    assert_success(&out, "migrate");
    let out = config_check(dir.path(), &[], &env);
    assert_success(&out, "config check");
    assert!(stdout(&out).contains("none pending"), "{}", stdout(&out));
}

#[test]
fn config_check_exits_2_for_what_serve_would_refuse() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-key.pem");
    let out = config_check(
        dir.path(),
        &[],
        &[
            ("PORTCULLIS_JWT_KEY_FILE", missing.to_str().unwrap()),
            ("PORTCULLIS_UPSTREAM", NO_UPSTREAM),
            ("PORTCULLIS_POLICY", "no-such-policy.toml"),
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let text = stderr(&out);
    assert!(text.contains("error: PORTCULLIS_JWT_KEY_FILE: "), "{text}");
    assert!(text.contains("error: PORTCULLIS_POLICY: "), "{text}");
    assert!(
        stdout(&out).contains("PORTCULLIS_JWT_KEY_FILE"),
        "the listing comes first"
    );

    // an unreachable database is a refusal too, its password never shown
    let out = config_check(
        dir.path(),
        &[],
        &[
            (
                "DATABASE_URL",
                "postgres://portcullis:hunter22@127.0.0.1:9/p",
            ),
            ("PORTCULLIS_JWT_SECRET", SECRET),
            ("PORTCULLIS_UPSTREAM", NO_UPSTREAM),
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert!(!all.contains("hunter22"), "{all}");
    assert!(
        all.contains("postgres://portcullis:***@127.0.0.1:9/p"),
        "{all}"
    );
    assert_eq!(stderr(&out).lines().count(), 1, "{all}");
    assert!(stderr(&out).contains("refused"), "libpq's cause: {all}");
}

#[test]
fn configuration_errors_are_json_lines_with_the_json_log_format() {
    let out = portcullis()
        .arg("serve")
        .env("PORTCULLIS_LOG_FORMAT", "json")
        .env("PORTCULLIS_ACCESS_TTL", "forever")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let text = stderr(&out);
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(lines.len() >= 2, "{text}");
    assert!(lines.iter().all(|l| l["level"] == "ERROR"), "{text}");
    assert!(
        lines.iter().any(|l| l["message"]
            .as_str()
            .unwrap()
            .starts_with("PORTCULLIS_ACCESS_TTL: ")),
        "{text}"
    );
}

#[test]
fn the_start_up_line_says_what_runs() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("p.db").display().to_string();
    let (gateway, _) = serve(&[
        ("DATABASE_URL", &db),
        ("PORTCULLIS_METRICS_BIND", "127.0.0.1:0"),
    ]);
    let lines = gateway.lines();
    let line = lines
        .iter()
        .find(|l| l.contains("listening on port"))
        .unwrap();
    let port = line.split("listening on port ").nth(1).unwrap();
    let port = port.split(':').next().unwrap();
    for part in [
        format!("http://127.0.0.1:{port};"),
        "signing HS256 key hs256-".to_owned(),
        format!("database sqlite {db};"),
        "the SPA from ".to_owned(),
        "2 worker(s)".to_owned(),
        "/metrics on 127.0.0.1:0".to_owned(),
    ] {
        assert!(line.contains(&part), "{part} missing from: {line}");
    }
}

#[test]
fn a_refused_database_password_fails_at_once_with_libpqs_cause_once() {
    let Some(admin) = postgres_or_skip("a_refused_database_password_fails_at_once") else {
        return;
    };
    let wrong = admin.replacen("portcullis:portcullis@", "portcullis:wrong-password@", 1);
    let started = std::time::Instant::now();
    let out = portcullis()
        .arg("migrate")
        .env("DATABASE_URL", &wrong)
        .env("PORTCULLIS_DB_CONNECT_TIMEOUT", "20")
        .output()
        .unwrap();
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stderr(&out);
    assert!(
        took < std::time::Duration::from_secs(5),
        "took {took:?}: {text}"
    );
    assert_eq!(text.lines().count(), 1, "{text}");
    assert_eq!(
        text.matches("password authentication failed").count(),
        1,
        "{text}"
    );
    assert!(!text.contains("wrong-password"), "{text}");
}

#[test]
fn completions_and_the_man_page_come_from_the_command_line_definition() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef portcullis"),
        ("fish", "complete -c portcullis"),
    ] {
        let out = portcullis().args(["completions", shell]).output().unwrap();
        assert_success(&out, shell);
        let text = stdout(&out);
        assert!(text.contains(marker), "{shell}: {text}");
        assert!(
            text.contains("config") && text.contains("mfa-reset"),
            "{shell}"
        );
    }
    let out = portcullis().arg("man").output().unwrap();
    assert_success(&out, "man");
    let text = stdout(&out);
    assert!(
        text.starts_with(".ie \\n(.g .ds Aq") || text.contains(".TH portcullis"),
        "{text}"
    );
    assert!(text.contains("config") && text.contains("keygen"), "{text}");
    let out = portcullis().arg("--version").output().unwrap();
    let version = stdout(&out);
    assert!(
        version.starts_with(&format!("portcullis {} (", env!("CARGO_PKG_VERSION"))),
        "{version}"
    );
}

#[test]
fn a_mistyped_database_is_refused_by_commands_that_read_it_and_never_made() {
    let dir = tempfile::tempdir().unwrap();
    let typo = dir.path().join("portcullsi.db");
    let url = typo.to_str().unwrap();
    for args in [
        &["user", "list"][..],
        &["user", "disable", "alice"],
        &["events"],
    ] {
        let out = cli(url, args, "");
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        let text = stderr(&out);
        assert!(
            text.contains("DATABASE_URL: ") && text.contains("does not exist"),
            "{text}"
        );
        assert!(!typo.exists(), "{args:?} made an empty database");
    }
    cli_add_user(url, "alice");
    let out = cli(url, &["user", "list"], "");
    assert_success(&out, "user list");
    assert!(stdout(&out).contains("alice"));
}

#[test]
fn demo_with_a_bad_bind_names_the_flag_and_makes_nothing() {
    let out = portcullis()
        .args(["demo", "--bind", "bad"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let text = stderr(&out);
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(
        text.starts_with("error: --bind: \"bad\" is not an address"),
        "{text}"
    );
}

#[test]
fn demoting_or_disabling_the_last_admin_is_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("p.db").display().to_string();
    let pw = format!("{PASSWORD}\n");
    for name in ["root", "second"] {
        let out = cli(
            &db,
            &["user", "add", name, "--role", "admin", "--password-stdin"],
            &pw,
        );
        assert_success(&out, "user add");
    }
    let out = cli(&db, &["user", "disable", "second"], "");
    assert_success(&out, "disable");
    assert!(
        !stderr(&out).contains("warning"),
        "another admin is left: {}",
        stderr(&out)
    );
    let out = cli(&db, &["user", "roles", "root", "--set", "editor"], "");
    assert_success(&out, "roles");
    assert!(
        stderr(&out).contains("warning: root is the last active admin; after demoting them"),
        "{}",
        stderr(&out)
    );
    let out = cli(&db, &["user", "roles", "root", "--set", "admin"], "");
    assert_success(&out, "roles");
    let out = cli(&db, &["user", "disable", "root"], "");
    assert!(
        stderr(&out).contains("after disabling them"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_preflight_from_an_origin_not_allowed_is_logged_with_the_variable_to_set() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("p.db").display().to_string();
    let (mut gateway, url) = serve(&[
        ("DATABASE_URL", &db),
        ("PORTCULLIS_CORS_ORIGINS", "https://app.example.com"),
    ]);
    let preflight = |origin: &str| {
        let out = std::process::Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-D", "-", "-X", "OPTIONS"])
            .args(["-H", &format!("Origin: {origin}")])
            .args(["-H", "Access-Control-Request-Method: POST"])
            .arg(format!("{url}/auth/login"))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).to_lowercase()
    };
    // the allowed origin is answered, and nothing is logged for it
    assert!(preflight("https://app.example.com").contains("access-control-allow-origin"));
    let head = preflight("http://localhost:5173");
    assert!(!head.contains("access-control-allow-origin"), "{head}");
    let lines = gateway.wait_for_line(|l| l.contains("CORS preflight"));
    let line = lines.last().unwrap();
    assert!(line.contains("\"http://localhost:5173\""), "{line}");
    assert!(line.contains("PORTCULLIS_CORS_ORIGINS"), "{line}");
    assert!(
        !lines
            .iter()
            .any(|l| l.contains("CORS preflight") && l.contains("app.example.com\" refused")),
        "{lines:?}"
    );
}
