//! §1 as a user runs it: the binary's commands, exit codes, the demo, and
//! sessions surviving a restart.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::*;

#[test]
fn bad_configuration_exits_2_naming_every_variable() {
    let out = portcullis()
        .arg("serve")
        .env("PORTCULLIS_JWT_SECRET", "too-short")
        .env("PORTCULLIS_ACCESS_TTL", "forever")
        .env("PORTCULLIS_CORS_ORIGINS", "*")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    for var in [
        "PORTCULLIS_UPSTREAM",
        "PORTCULLIS_JWT_SECRET",
        "PORTCULLIS_ACCESS_TTL",
        "PORTCULLIS_CORS_ORIGINS",
    ] {
        assert!(stderr.contains(var), "{var} not named in:\n{stderr}");
    }
    assert!(!stderr.contains("too-short"), "the secret is echoed");
    assert!(!stderr.contains("panicked") && !stderr.contains("backtrace"));

    // a bad command line gets clap's usage; its first line names the flag
    let out = portcullis()
        .args(["serve", "--no-such-flag"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    let first = stderr.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("error: ") && first.contains("--no-such-flag"),
        "{stderr}"
    );
    assert!(stderr.contains("Usage: portcullis serve"), "{stderr}");
}

#[test]
fn a_bad_policy_file_exits_2_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let policy = policy_file(
        dir.path(),
        "[[rule]]\nmethods = [\"GET\"]\npath = \"/\"\nroles = [\"root\"]\n",
    );
    let out = portcullis()
        .arg("serve")
        .env("PORTCULLIS_UPSTREAM", "http://127.0.0.1:9")
        .env("PORTCULLIS_JWT_SECRET", SECRET)
        .env("PORTCULLIS_POLICY", &policy)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("PORTCULLIS_POLICY")
            && stderr.contains("line 1")
            && stderr.contains("root"),
        "{stderr}"
    );
}

#[test]
fn users_are_administered_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("p.db");
    let db = db.display().to_string();
    let run = |args: &[&str], stdin: &str| cli(&db, args, stdin);
    let out = run(
        &[
            "user",
            "add",
            "alice",
            "--role",
            "admin",
            "--password-stdin",
        ],
        "a fine password\n",
    );
    assert_success(&out, "user add");
    let out = run(
        &["user", "add", "alice", "--password-stdin"],
        "a fine password\n",
    );
    assert_eq!(out.status.code(), Some(1), "a taken name fails");
    let out = run(&["user", "add", "bob", "--password-stdin"], "short\n");
    assert_eq!(out.status.code(), Some(2), "a short password is bad input");
    let out = run(
        &["user", "add", "bob", "--role", "root", "--password-stdin"],
        "a fine password\n",
    );
    assert_eq!(out.status.code(), Some(2));
    let out = run(&["user", "roles", "alice", "--set", "editor"], "");
    assert!(out.status.success());
    let out = run(&["user", "disable", "alice"], "");
    assert!(out.status.success());
    let out = run(&["user", "list"], "");
    let listing = String::from_utf8(out.stdout).unwrap();
    assert!(
        listing.contains("alice\tuser,editor\tdisabled"),
        "{listing}"
    );
    assert!(!listing.contains("argon2"), "hashes are never listed");
    let out = run(
        &["user", "passwd", "nobody", "--password-stdin"],
        "a fine password\n",
    );
    assert_eq!(out.status.code(), Some(1));
    let out = run(&["migrate"], "");
    assert!(out.status.success());
}

#[actix_web::test]
async fn sessions_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("p.db");
    let upstream = Upstream::spawn();
    let db_url = db.display().to_string();
    let start = || {
        serve(&[
            ("DATABASE_URL", &db_url),
            ("PORTCULLIS_UPSTREAM", &upstream.url),
        ])
    };
    cli_add_user(&db_url, "carol");

    let (first, url) = start();
    let res = login_at(&url, "carol", PASSWORD).await;
    assert_eq!(res.status(), 200);
    let refresh = refresh_cookie(&res);
    drop(first); // SIGKILL: no graceful shutdown

    let (_second, url) = start();
    let mut res = refresh_at(&url, &refresh).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["user"]["username"], "carol");
}

/// Starts `portcullis demo` on a free port; returns it, the lines it
/// printed and its throwaway data directory.
fn start_demo() -> (Process, Vec<String>, PathBuf) {
    let mut cmd = portcullis();
    cmd.args(["demo", "--bind", "127.0.0.1:0"]);
    let mut demo = Process::spawn(cmd, Stream::Stdout);
    let lines = demo.wait_for_line(|l| l.contains("throwaway data in"));
    let dir = lines
        .last()
        .and_then(|l| l.split_once("throwaway data in ")?.1.split_once(';'))
        .map(|(dir, _)| PathBuf::from(dir))
        .unwrap();
    assert!(
        dir.join("signing-key.pem").is_file(),
        "{}",
        lines.join("\n")
    );
    (demo, lines, dir)
}

/// Sends `signal` (INT or TERM) to the demo, waits for it to exit, and
/// checks that it exited cleanly and took its data directory with it.
fn stop_demo(mut demo: Process, signal: &str, dir: &Path) {
    demo.signal(signal);
    let status = demo
        .exit_within(Duration::from_secs(30))
        .unwrap_or_else(|| panic!("the demo is still running 30 s after SIG{signal}"))
        .status;
    assert!(status.success(), "SIG{signal}: {status:?}");
    assert!(
        !dir.exists(),
        "SIG{signal} left the demo's data behind: {}",
        dir.display()
    );
}

#[actix_web::test]
async fn the_demo_runs_with_no_setup_and_its_printed_credentials_log_in() {
    let (demo, lines, dir) = start_demo();
    let creds: Vec<(String, String, String)> = lines
        .iter()
        .filter_map(|l| {
            let (name, rest) = l.split_once(" / ")?;
            let (pw, rest) = rest.split_once(" (")?;
            let (role, _) = rest.split_once(')')?;
            Some((name.to_owned(), pw.to_owned(), role.to_owned()))
        })
        .collect();
    let names: Vec<_> = creds.iter().map(|(n, _, r)| format!("{n}:{r}")).collect();
    assert_eq!(
        names,
        ["alice:admin", "bob:editor", "carol:user", "dave:user"]
    );
    let url = lines.iter().find(|l| l.contains("http://")).unwrap();
    let url = &url[url.find("http://").unwrap()..]
        .trim_end_matches('/')
        .to_owned();
    // an IP address cannot be a WebAuthn RP ID: the demo's origin is localhost
    assert!(url.starts_with("http://localhost:"), "{url}");

    let client = client();
    let (_, carol_pw, _) = &creds[2];
    let mut res = login_at(url, "carol", carol_pw).await;
    assert_eq!(res.status(), 200);
    let cookie = set_cookie(&res, COOKIE).unwrap();
    assert_eq!(cookie.secure(), None, "the demo is plain http");
    let body: Value = res.json().await.unwrap();
    let token = body["access_token"].as_str().unwrap();
    let mut res = client
        .get(format!("{url}/api/employees"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let employees: Vec<Value> = res.json().await.unwrap();
    assert!(!employees.is_empty());
    let res = client.get(format!("{url}/")).send().await.unwrap();
    assert_eq!(res.status(), 200);

    // dave signs in with the TOTP seed the demo printed, as an app would
    let dave = lines.iter().find(|l| l.starts_with("dave / ")).unwrap();
    let secret = dave.split("oathtool --totp -b ").nth(1).unwrap();
    let secret = secret.trim_end_matches('`');
    let (_, dave_pw, _) = &creds[3];
    let mut res = login_at(url, "dave", dave_pw).await;
    let first: Value = res.json().await.unwrap();
    assert_eq!(first["error"], "mfa_required", "{first}");
    // the demo spent the code of its enrolment step: the next step's
    let next = portcullis::clock::now().timestamp() + 30;
    let res = client
        .post(format!("{url}/auth/login/mfa"))
        .send_json(&json!({ "mfa_token": first["mfa_token"], "totp": oathtool(secret, next) }))
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "dave's second step");

    // Ctrl-C stops it and removes the throwaway data (the signing key too)
    stop_demo(demo, "INT", &dir);
}

#[test]
fn a_terminated_demo_removes_its_data_too() {
    let (demo, _, dir) = start_demo();
    stop_demo(demo, "TERM", &dir);
}

#[test]
fn a_dotenv_file_is_read_and_the_real_environment_wins() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(".env"),
        "PORTCULLIS_UPSTREAM=http://127.0.0.1:9\nPORTCULLIS_JWT_SECRET=short-from-dotenv\nPORTCULLIS_ACCESS_TTL=nonsense\n",
    )
    .unwrap();
    let out = portcullis()
        .arg("serve")
        .current_dir(dir.path())
        .env("PORTCULLIS_ACCESS_TTL", "60")
        .env("PORTCULLIS_STATIC_DIR", dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("PORTCULLIS_JWT_SECRET"),
        "the .env secret was read:\n{stderr}"
    );
    assert!(
        !stderr.contains("PORTCULLIS_UPSTREAM"),
        "the .env upstream was read:\n{stderr}"
    );
    assert!(
        !stderr.contains("error: PORTCULLIS_ACCESS_TTL"),
        "the environment wins:\n{stderr}"
    );
    assert!(
        stderr.contains("note: PORTCULLIS_ACCESS_TTL from the environment is used"),
        "the overridden .env value is pointed out:\n{stderr}"
    );
}

#[actix_web::test]
async fn upstream_demo_serves_the_employee_api_on_its_own() {
    let port = free_port();
    let mut cmd = portcullis();
    cmd.args(["upstream-demo", "--bind", &format!("127.0.0.1:{port}")])
        .env("RUST_LOG", "info");
    let mut child = Process::spawn(cmd, Stream::Stderr);
    child.wait_for_line(|l| l.contains("/employees"));
    let mut res = client()
        .get(format!("http://127.0.0.1:{port}/employees"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let employees: Vec<Value> = res.json().await.unwrap();
    assert_eq!(employees.len(), 5);
    assert!(employees[0]["updated_by"].is_null());
    let mut res = client()
        .post(format!("http://127.0.0.1:{port}/employees"))
        .insert_header(("X-User-Name", "legacy-admin"))
        .send_json(&json!({ "first_name": "A", "last_name": "B", "email": "a@b.example", "department": 5 }))
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let err: Value = res.json().await.unwrap();
    assert_eq!(err["field"], "department");
    assert_eq!(err["message"], "`department` must be a string.");
}

#[actix_web::test]
async fn serve_without_a_static_folder_is_an_api_only_gateway() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("p.db").display().to_string();
    let mut cmd = serve_command(&[("DATABASE_URL", &db)]);
    // run where there is no ./static and name none
    cmd.current_dir(dir.path())
        .env_remove("PORTCULLIS_STATIC_DIR");
    let (child, url) = try_serve(cmd).unwrap();
    let lines = child.lines();
    assert!(
        lines.iter().any(|l| l.contains("no SPA")),
        "the missing SPA is said once in the log:\n{}",
        lines.join("\n")
    );
    let client = client();
    let mut res = client
        .get(format!("{url}/"))
        .insert_header(("Accept", "text/html"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(error_code(&mut res).await, "not_found");
    let res = client.get(format!("{url}/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 200);

    // a folder named explicitly that does not exist stays exit 2, naming
    // the resolved absolute path
    let out = portcullis()
        .current_dir(dir.path())
        .arg("serve")
        .env("DATABASE_URL", dir.path().join("p.db"))
        .env("PORTCULLIS_UPSTREAM", "http://127.0.0.1:9")
        .env("PORTCULLIS_JWT_SECRET", SECRET)
        .env("PORTCULLIS_STATIC_DIR", "public")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let expected = dir.path().canonicalize().unwrap().join("public");
    assert!(
        stderr.contains("PORTCULLIS_STATIC_DIR") && stderr.contains(&*expected.to_string_lossy()),
        "{stderr}"
    );
}
