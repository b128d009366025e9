//! The real binary as a child process: `portcullis()` with a clean
//! environment, `cli()` to run a command to completion, and
//! [`ServeProcess`], `portcullis serve` until it is killed.

use std::time::Duration;

use super::{NO_UPSTREAM, SECRET};

/// The real binary with a clean environment and working directory, so
/// nothing from the developer's shell or a `.env` leaks in.
pub fn portcullis() -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .current_dir(std::env::temp_dir());
    cmd
}

/// Runs a command of the binary against `database_url` to completion,
/// with `stdin` as its input.
pub fn cli(database_url: &str, args: &[&str], stdin: &str) -> std::process::Output {
    use std::io::Write;
    use std::process::Stdio;
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

/// A `portcullis serve` child process, killed (SIGKILL) when dropped.
pub struct ServeProcess {
    child: std::process::Child,
    pub url: String,
}

impl ServeProcess {
    /// Starts `portcullis serve` on `database_url` (port 0, HS256 with
    /// [`SECRET`]) with `env` on top, and waits until it listens. `Err`
    /// holds what it printed when it exited instead.
    pub fn start(database_url: &str, env: &[(&str, &str)]) -> Result<Self, String> {
        use std::io::{BufRead, BufReader};
        let mut cmd = portcullis();
        cmd.arg("serve")
            .env("DATABASE_URL", database_url)
            .env("PORTCULLIS_BIND", "127.0.0.1:0")
            .env("PORTCULLIS_UPSTREAM", NO_UPSTREAM)
            .env("PORTCULLIS_JWT_SECRET", SECRET)
            .env("PORTCULLIS_WORKERS", "2")
            .env("RUST_LOG", "info")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        for (var, value) in env {
            cmd.env(var, value);
        }
        let mut child = cmd.spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut lines = Vec::new();
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    let port: Option<u16> = line
                        .split("listening on port ")
                        .nth(1)
                        .and_then(|rest| rest.split_whitespace().next()?.parse().ok());
                    lines.push(line);
                    if let Some(port) = port {
                        return Ok(Self {
                            child,
                            url: format!("http://127.0.0.1:{port}"),
                        });
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    let status = child.wait().unwrap();
                    return Err(format!("{status}:\n{}", lines.join("\n")));
                }
            }
        }
    }

    /// `kill -9`: no shutdown, no flushing, no goodbye.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
