//! chromedriver with one headless Chromium session per [`Browser`]: started
//! with a fresh profile, ended when the browser is dropped, also while a
//! failed test unwinds, so no test leaves either running.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use fantoccini::wd::Capabilities;
use fantoccini::{Client, ClientBuilder};
use serde_json::{Value, json};

use super::WAIT;
use crate::support::{Process, Stream, free_port};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "chromedriver";

/// A chromedriver process with one headless Chromium session. Dropping it
/// ends the session (which quits the browser) and kills the driver, also
/// when a test panics.
pub struct Browser {
    pub client: Client,
    session: String,
    browser_pid: Option<u32>,
    driver: Driver,
}

/// chromedriver (killed when dropped) and the browser profile it uses.
struct Driver {
    _process: Process,
    port: u16,
    profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Synchronous on purpose: this runs while a failed test unwinds, when
        // no more awaiting will happen. Quits Chromium; the driver follows.
        let _ = delete_session(self.driver.port, &self.session);
        // Should the driver not have managed, end the browser by its own id
        // rather than leave it running without a driver.
        if let Some(pid) = self.browser_pid
            && is_running(pid)
        {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
    }
}

/// Says on stderr that the running test is skipped for `reason`, or fails
/// it when `PORTCULLIS_REQUIRE_BROWSER=1` asks for every browser test.
pub fn skip_unless_required(reason: &str) {
    if std::env::var("PORTCULLIS_REQUIRE_BROWSER").as_deref() == Ok("1") {
        panic!("browser tests are required (PORTCULLIS_REQUIRE_BROWSER=1), but {reason}");
    }
    // libtest names each test's thread after the test
    let test = std::thread::current()
        .name()
        .unwrap_or("a browser test")
        .to_owned();
    eprintln!("skipped {test}: {reason}");
}

impl Browser {
    /// Starts chromedriver and a session, or returns None (after saying why
    /// on stderr) when Chromium or chromedriver is not installed.
    pub async fn start() -> Option<Browser> {
        let chromedriver = match find_browser() {
            Ok(path) => path,
            Err(reason) => {
                skip_unless_required(&reason);
                return None;
            }
        };
        let profile = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut cmd = Command::new(chromedriver);
        cmd.arg(format!("--port={port}")).arg(format!(
            "--log-path={}",
            profile.path().join("chromedriver.log").display()
        ));
        let driver = Driver {
            _process: Process::spawn(cmd, Stream::Stdout),
            port,
            profile,
        };
        wait_for_port(port).await;

        let user_data = driver.profile.path().join("chromium");
        let capabilities: Capabilities = match json!({
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--no-first-run",
                    "--disable-sync",
                    "--disable-quic",
                    format!("--user-data-dir={}", user_data.display()),
                    "--window-size=1280,900",
                ],
            },
        }) {
            Value::Object(map) => map,
            _ => unreachable!(),
        };
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .unwrap_or_else(|e| panic!("could not start Chromium through chromedriver: {e}"));
        let created = client
            .session_creation_response()
            .expect("a new session's response");
        let session = created.session_id().to_owned();
        let browser_pid = created
            .capabilities()
            .and_then(|c| c.get("goog:processID"))
            .and_then(Value::as_u64)
            .and_then(|pid| u32::try_from(pid).ok());
        Some(Browser {
            client,
            session,
            browser_pid,
            driver,
        })
    }
}

/// chromedriver's path, or why the browser tests cannot run.
fn find_browser() -> Result<PathBuf, String> {
    if !Path::new(CHROMIUM).is_file() {
        return Err(format!("{CHROMIUM} is not installed"));
    }
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join(CHROMEDRIVER));
    std::iter::once(PathBuf::from("/usr/bin").join(CHROMEDRIVER))
        .chain(on_path)
        .find(|p| p.is_file())
        .ok_or_else(|| format!("{CHROMEDRIVER} is not installed (nor on PATH)"))
}

async fn wait_for_port(port: u16) {
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < WAIT,
            "chromedriver did not listen on {port}"
        );
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `DELETE /session/{id}`, blocking, so it can run in `Drop`. Returns once
/// the answer is complete (chromedriver keeps the connection open).
fn delete_session(port: u16, session: &str) -> std::io::Result<()> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(15)))?;
    write!(
        stream,
        "DELETE /session/{session} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
         Content-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Ok(());
        }
        answer.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&answer);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .filter_map(|l| l.split_once(':'))
                .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
                .and_then(|(_, v)| v.trim().parse::<usize>().ok());
            if length.is_none_or(|length| body.len() >= length) {
                return Ok(());
            }
        }
    }
}

/// True while `pid` is a live (not zombie) process.
fn is_running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'))
    })
}
