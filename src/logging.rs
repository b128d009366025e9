//! The log's line format (`PORTCULLIS_LOG_FORMAT`): `text` (one line per
//! record, key-value fields after the message) or `json` (one JSON object
//! per line, written by serde_json). Records carry their fields as `log`
//! key-values, so both formats show the same fields.
//!
//! Whatever a client sent reaches a log line escaped: in `text`, control
//! characters in the message are escaped and a field value that is not a
//! plain word is quoted with Rust's string escapes; in `json`, serde_json
//! escapes. This module never decides *what* is logged: callers never pass
//! tokens, cookie values or passwords.
//!
//! Access lines ([`ACCESS_TARGET`]) are formatted on the request's thread
//! but written by one writer thread, in batches: a bounded queue of
//! [`QUEUE_LINES`]; when it is full the line is dropped and counted
//! ([`dropped_access_lines`]) rather than making a request wait for the
//! disk. Every other record is written at once, as before. [`flush`]
//! writes out what is queued (the binary calls it before it exits).

use std::fmt::Write as _;
use std::io::{self, Write};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::time::Duration;

use log::kv::{Key, Value, VisitSource};
use serde::ser::{SerializeMap, Serializer};
use serde_json::Value as Json;

/// How log records are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// The log target of access lines, for `RUST_LOG` filters.
pub const ACCESS_TARGET: &str = "portcullis::access";
/// Access lines queued for the writer thread before new ones are dropped.
pub const QUEUE_LINES: usize = 16 * 1024;
/// The most bytes the writer thread gathers into one `write(2)`.
const BATCH_BYTES: usize = 64 * 1024;
/// How long the writer rests after a write; lines wait at most this long
/// (and are written at once after a quiet spell).
const LINGER: Duration = Duration::from_millis(10);

/// Installs the process's logger: `RUST_LOG` filters (default `info`),
/// records go to stderr in `format`, access lines through the writer
/// thread.
pub fn init(format: LogFormat) {
    let builder = || {
        let mut builder = env_logger::Builder::from_env(
            env_logger::Env::default().default_filter_or("info,actix_server=warn"),
        );
        match format {
            LogFormat::Text => builder.format(text),
            LogFormat::Json => builder.format(json),
        };
        builder
    };
    let direct = builder().build();
    let sender = WRITER.get_or_init(|| spawn_writer(io::stderr())).clone();
    let queued = builder()
        .target(env_logger::Target::Pipe(Box::new(sender)))
        // pass the bytes through: the formats emit no styles and escape
        // control characters, so stripping styles (what `Never` does) would
        // only scan every access line for nothing
        .write_style(env_logger::WriteStyle::Always)
        .build();
    let max = direct.filter();
    if log::set_boxed_logger(Box::new(Split { direct, queued })).is_ok() {
        log::set_max_level(max);
    }
}

/// Writes out the access lines queued so far (waits at most a second).
pub fn flush() {
    if let Some(writer) = WRITER.get() {
        let (ack, done) = mpsc::sync_channel(1);
        if writer.tx.send(Message::Flush(ack)).is_ok() {
            let _ = done.recv_timeout(Duration::from_secs(1));
        }
    }
}

/// Access lines dropped because the writer thread's queue was full.
pub fn dropped_access_lines() -> u64 {
    DROPPED.load(Ordering::Relaxed)
}

static WRITER: OnceLock<LineSender> = OnceLock::new();
static DROPPED: AtomicU64 = AtomicU64::new(0);

/// Access lines to the writer thread, everything else straight out.
struct Split {
    direct: env_logger::Logger,
    queued: env_logger::Logger,
}

impl log::Log for Split {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        self.direct.enabled(metadata)
    }

    fn log(&self, record: &log::Record<'_>) {
        if record.target() == ACCESS_TARGET {
            self.queued.log(record);
        } else {
            self.direct.log(record);
        }
    }

    fn flush(&self) {
        self.direct.flush();
        flush();
    }
}

enum Message {
    Line(Vec<u8>),
    Flush(SyncSender<()>),
}

/// The queue's sending end, as the `Write` env_logger formats into: each
/// `write` is one whole record.
#[derive(Clone)]
struct LineSender {
    tx: SyncSender<Message>,
}

impl Write for LineSender {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.tx.try_send(Message::Line(buf.to_vec())) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                DROPPED.fetch_add(1, Ordering::Relaxed);
            }
            Err(TrySendError::Disconnected(_)) => {
                return Err(io::Error::other("log writer thread ended"));
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        // called after every record: the writer thread decides when to write
        Ok(())
    }
}

/// Starts the thread that writes queued lines to `out`, as many as are
/// waiting in one `write`.
fn spawn_writer<W: Write + Send + 'static>(out: W) -> LineSender {
    let (tx, rx) = mpsc::sync_channel(QUEUE_LINES);
    let spawned = std::thread::Builder::new()
        .name("access-log".into())
        .spawn(move || write_batches(&rx, out));
    if let Err(e) = spawned {
        eprintln!("cannot start the access-log writer: {e}");
    }
    LineSender { tx }
}

fn write_batches<W: Write>(rx: &Receiver<Message>, mut out: W) {
    let mut batch = Vec::with_capacity(BATCH_BYTES);
    while let Ok(first) = rx.recv() {
        let mut next = Some(first);
        while let Some(message) = next.take() {
            match message {
                Message::Line(line) => {
                    batch.extend_from_slice(&line);
                    if batch.len() < BATCH_BYTES {
                        next = rx.try_recv().ok();
                    }
                }
                Message::Flush(ack) => {
                    let _ = out.write_all(&batch).and_then(|()| out.flush());
                    batch.clear();
                    let _ = ack.send(());
                    next = rx.try_recv().ok();
                }
            }
        }
        if !batch.is_empty() {
            // nowhere to report a failed log write; the line is lost
            let _ = out.write_all(&batch).and_then(|()| out.flush());
            batch.clear();
            // let the next lines gather: a busy gateway then costs one write
            // per LINGER, and a worker queueing a line finds the writer
            // awake or asleep on a timer, never waiting to be woken
            std::thread::sleep(LINGER);
        }
    }
}

fn text(buf: &mut env_logger::fmt::Formatter, record: &log::Record<'_>) -> io::Result<()> {
    let mut line = String::with_capacity(192);
    let _ = write!(
        line,
        "[{} {:<5} {}]",
        buf.timestamp(),
        record.level(),
        record.target()
    );
    match record.args().as_str() {
        Some("") => {}
        Some(message) => {
            line.push(' ');
            escape_controls(&mut line, message);
        }
        None => {
            line.push(' ');
            escape_controls(&mut line, &record.args().to_string());
        }
    }
    // a field that cannot be read is left out, never a reason to lose the line
    let _ = record.key_values().visit(&mut TextFields(&mut line));
    line.push('\n');
    buf.write_all(line.as_bytes())
}

/// Appends ` key=value` for each field; absent (null) fields are skipped.
struct TextFields<'a>(&'a mut String);

impl<'kvs> VisitSource<'kvs> for TextFields<'_> {
    fn visit_pair(&mut self, key: Key<'kvs>, value: Value<'kvs>) -> Result<(), log::kv::Error> {
        let out = &mut *self.0;
        let _ = if let Some(s) = value.to_borrowed_str() {
            write_str_field(out, &key, s)
        } else if let Some(n) = value.to_u64() {
            write!(out, " {key}={n}")
        } else if let Some(n) = value.to_i64() {
            write!(out, " {key}={n}")
        } else if let Some(x) = value.to_f64() {
            write!(out, " {key}={x}")
        } else {
            match serde_json::to_value(&value) {
                Ok(Json::Null) | Err(_) => Ok(()),
                Ok(Json::String(s)) => write_str_field(out, &key, &s),
                Ok(other) => write!(out, " {key}={other}"),
            }
        };
        Ok(())
    }
}

fn write_str_field(out: &mut String, key: &Key<'_>, s: &str) -> std::fmt::Result {
    if is_word(s) {
        write!(out, " {key}={s}")
    } else {
        write!(out, " {key}={s:?}")
    }
}

fn json(buf: &mut env_logger::fmt::Formatter, record: &log::Record<'_>) -> io::Result<()> {
    let mut line = Vec::with_capacity(256);
    let mut ser = serde_json::Serializer::new(&mut line);
    let mut object = ser.serialize_map(None)?;
    object.serialize_entry("ts", &format_args!("{}", buf.timestamp()))?;
    object.serialize_entry("level", record.level().as_str())?;
    object.serialize_entry("target", record.target())?;
    if record.args().as_str() != Some("") {
        object.serialize_entry("message", record.args())?;
    }
    let mut fields = JsonFields(&mut object);
    record
        .key_values()
        .visit(&mut fields)
        .map_err(io::Error::other)?;
    object.end()?;
    line.push(b'\n');
    buf.write_all(&line)
}

/// Adds each field to the JSON object; absent (null) fields are skipped.
struct JsonFields<'a, M>(&'a mut M);

impl<'kvs, M: SerializeMap<Error = serde_json::Error>> VisitSource<'kvs> for JsonFields<'_, M> {
    fn visit_pair(&mut self, key: Key<'kvs>, value: Value<'kvs>) -> Result<(), log::kv::Error> {
        let present = value.to_borrowed_str().is_some()
            || value.to_f64().is_some()
            || serde_json::to_value(&value).is_ok_and(|v| !v.is_null());
        if present {
            self.0
                .serialize_entry(key.as_str(), &value)
                .map_err(log::kv::Error::boxed)?;
        }
        Ok(())
    }
}

/// Letters, digits and a few punctuation marks: written as is; anything
/// else (spaces, quotes, `=`, control characters) is quoted.
fn is_word(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:/@+,%".contains(&b))
}

/// Appends `s` with its control characters escaped (`\n`, `\u{1b}`), so
/// one record stays one line and cannot drive a terminal.
fn escape_controls(out: &mut String, s: &str) {
    for c in s.chars() {
        if c.is_control() {
            let _ = write!(out, "{}", c.escape_default());
        } else {
            out.push(c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn queued_lines_are_all_written_in_order_by_the_writer_thread() {
        let sink = Sink::default();
        let mut sender = spawn_writer(sink.clone());
        for i in 0..1000 {
            sender.write_all(format!("line {i}\n").as_bytes()).unwrap();
        }
        let (ack, done) = mpsc::sync_channel(1);
        sender.tx.send(Message::Flush(ack)).unwrap();
        done.recv().unwrap();
        let written = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        let expected: String = (0..1000).map(|i| format!("line {i}\n")).collect();
        assert_eq!(written, expected);
    }

    #[test]
    fn a_full_queue_drops_and_counts_instead_of_blocking() {
        // a receiver nobody reads: the queue fills and stays full
        let (tx, _rx) = mpsc::sync_channel(2);
        let mut sender = LineSender { tx };
        let before = dropped_access_lines();
        for _ in 0..5 {
            sender.write_all(b"x\n").unwrap();
        }
        assert!(dropped_access_lines() - before >= 3);
    }

    #[test]
    fn control_characters_are_escaped_and_words_stay_bare() {
        let mut out = String::new();
        escape_controls(&mut out, "a\nb\u{1b}[31m");
        assert_eq!(out, "a\\nb\\u{1b}[31m");
        assert!(is_word("3f2a-9c/x:1"));
        assert!(!is_word("a b") && !is_word("a=b") && !is_word("x\n") && !is_word(""));
    }
}
