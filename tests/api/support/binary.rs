//! The real binary's commands: [`portcullis`] with a clean environment,
//! [`cli`] to run one to completion (and the few every suite needs:
//! [`cli_add_user`], [`keygen`]), and [`serve`], `portcullis serve` as a
//! [`Process`] that has said which port it listens on.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::{NO_UPSTREAM, PASSWORD, Process, SECRET, Stream};

/// The real binary with a clean environment and working directory, so
/// nothing from the developer's shell or a `.env` leaks in.
pub fn portcullis() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_portcullis"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .current_dir(std::env::temp_dir());
    cmd
}

/// Runs a command of the binary against `database_url` to completion,
/// with `stdin` as its input.
pub fn cli(database_url: &str, args: &[&str], stdin: &str) -> std::process::Output {
    let mut child = portcullis()
        .args(args)
        .env("DATABASE_URL", database_url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A command may exit without reading its input (a taken name is
    // refused before the password is read): a broken pipe is no failure.
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    child.wait_with_output().unwrap()
}

/// A port nothing listens on right now, for a program that must be told
/// one (most take port 0 instead).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Adds the user `name` with [`PASSWORD`] through `portcullis user add`.
pub fn cli_add_user(database_url: &str, name: &str) {
    let out = cli(
        database_url,
        &["user", "add", name, "--password-stdin"],
        &format!("{PASSWORD}\n"),
    );
    assert_success(&out, "user add");
}

/// `portcullis keygen` writing a new Ed25519 key to `dir/name`; its path.
pub fn keygen(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    let out = portcullis()
        .args(["keygen", "--out"])
        .arg(&path)
        .output()
        .unwrap();
    assert_success(&out, "keygen");
    path
}

/// The command (`what`) exited 0; else fails showing its stderr.
pub fn assert_success(out: &std::process::Output, what: &str) {
    assert!(
        out.status.success(),
        "{what}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `portcullis serve` on a free port of 127.0.0.1, logging at `info`, with
/// two workers, signing with [`SECRET`], in front of [`NO_UPSTREAM`] and
/// serving the bundled SPA; `env` on top. Name a `DATABASE_URL`.
pub fn serve_command(env: &[(&str, &str)]) -> Command {
    let mut cmd = portcullis();
    cmd.arg("serve")
        .env("PORTCULLIS_BIND", "127.0.0.1:0")
        .env("RUST_LOG", "info")
        .env("PORTCULLIS_WORKERS", "2")
        .env("PORTCULLIS_JWT_SECRET", SECRET)
        .env("PORTCULLIS_UPSTREAM", NO_UPSTREAM)
        .env(
            "PORTCULLIS_STATIC_DIR",
            concat!(env!("CARGO_MANIFEST_DIR"), "/static"),
        );
    for (name, value) in env {
        cmd.env(name, value);
    }
    cmd
}

/// [`serve_command`] with `env`, started and listening; it and its URL.
pub fn serve(env: &[(&str, &str)]) -> (Process, String) {
    try_serve(serve_command(env)).unwrap_or_else(|output| panic!("serve did not start: {output}"))
}

/// Starts `cmd` (a `serve` command) and waits until it says which port it
/// listens on; `Err` holds how it ended and what it printed instead.
pub fn try_serve(cmd: Command) -> Result<(Process, String), String> {
    let mut process = Process::spawn(cmd, Stream::Stderr);
    let port = process
        .try_wait_for_line(|line| port_in(line).is_some())
        .map(|lines| lines.last().and_then(|l| port_in(l)))?;
    let port = port.expect("the line holds the port");
    Ok((process, format!("http://127.0.0.1:{port}")))
}

/// The port in a "listening on port N" line.
fn port_in(line: &str) -> Option<u16> {
    let rest = line.split("listening on port ").nth(1)?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}
