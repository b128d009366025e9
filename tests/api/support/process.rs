//! Programs as child processes, the real binary and whatever a test runs
//! beside it (chromedriver, nginx). [`Process`] is the one harness for a
//! program that keeps running: one thread reads its stderr (or stdout) line
//! by line and collects the lines for assertions, echoing each with
//! `PORTCULLIS_TEST_LOG=1`; it sends signals, waits for an exit with a
//! limit, and kills the process when dropped, so no test leaves one
//! running, also when it panics.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::test_log;

/// How long a process gets to print what a test waits for.
const START: Duration = Duration::from_secs(60);

/// Which output of a [`Process`] is read; the other is discarded.
#[derive(Debug, Clone, Copy)]
pub enum Stream {
    Stderr,
    Stdout,
}

/// A running child process and the lines it has written; killed (SIGKILL)
/// when dropped.
pub struct Process {
    child: Child,
    /// Every line read so far.
    lines: Arc<Mutex<Vec<String>>>,
    /// The same lines, for [`Process::wait_for_line`].
    arriving: Receiver<String>,
    /// The lines [`Process::wait_for_line`] has taken from `arriving`.
    seen: Vec<String>,
    reader: Option<JoinHandle<()>>,
}

/// How a [`Process`] ended.
#[derive(Debug)]
pub struct Exit {
    pub status: ExitStatus,
    /// From the start of the wait to the exit.
    pub took: Duration,
    /// Every line it wrote.
    pub lines: Vec<String>,
}

impl Process {
    /// Starts `cmd`, reading `stream` line by line on one thread.
    pub fn spawn(mut cmd: Command, stream: Stream) -> Self {
        cmd.stdin(Stdio::null());
        match stream {
            Stream::Stderr => cmd.stdout(Stdio::null()).stderr(Stdio::piped()),
            Stream::Stdout => cmd.stdout(Stdio::piped()).stderr(Stdio::null()),
        };
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {:?}: {e}", cmd.get_program()));
        let out: Box<dyn Read + Send> = match stream {
            Stream::Stderr => Box::new(child.stderr.take().unwrap()),
            Stream::Stdout => Box::new(child.stdout.take().unwrap()),
        };
        let echo = test_log().then(|| {
            let program = Path::new(cmd.get_program()).file_name().unwrap_or_default();
            format!("{}[{}]", program.display(), child.id())
        });
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (tx, arriving) = mpsc::channel();
        let sink = lines.clone();
        // Threads inherit the test's output capture: an echoed line shows
        // with the test that failed.
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if let Some(label) = &echo {
                    eprintln!("{label} {line}");
                }
                sink.lock().unwrap().push(line.clone());
                let _ = tx.send(line);
            }
        });
        Self {
            child,
            lines,
            arriving,
            seen: Vec::new(),
            reader: Some(reader),
        }
    }

    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Every line read so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// Waits (up to 60 s) for a line that `until` accepts; returns the lines
    /// up to it. Panics, showing them, if the process ends first.
    pub fn wait_for_line(&mut self, until: impl Fn(&str) -> bool) -> Vec<String> {
        self.try_wait_for_line(until)
            .unwrap_or_else(|output| panic!("the awaited line never came: {output}"))
    }

    /// [`Process::wait_for_line`], or `Err` with how the process ended (it
    /// is killed after 60 s) and what it printed.
    pub fn try_wait_for_line(
        &mut self,
        until: impl Fn(&str) -> bool,
    ) -> Result<Vec<String>, String> {
        let deadline = Instant::now() + START;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.arriving.recv_timeout(left) {
                Ok(line) => {
                    let done = until(&line);
                    self.seen.push(line);
                    if done {
                        return Ok(self.seen.clone());
                    }
                }
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {
                    self.kill();
                    let status = self.child.wait().unwrap();
                    return Err(format!("{status}:\n{}", self.lines().join("\n")));
                }
            }
        }
    }

    /// Sends `signal` (TERM, INT, …) with the `kill` command.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -{signal} {}", self.id());
    }

    /// Waits up to `limit` for the process to exit; `None` while it runs.
    pub fn exit_within(&mut self, limit: Duration) -> Option<Exit> {
        let start = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if start.elapsed() >= limit {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let took = start.elapsed();
        if let Some(reader) = self.reader.take() {
            reader.join().unwrap();
        }
        Some(Exit {
            status,
            took,
            lines: self.lines(),
        })
    }

    /// Waits up to `limit` for the process to exit; panics if it does not.
    pub fn wait(mut self, limit: Duration) -> Exit {
        self.exit_within(limit)
            .unwrap_or_else(|| panic!("still running after {limit:?}"))
    }

    /// `kill -9`: no shutdown, no flushing, no goodbye.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}
