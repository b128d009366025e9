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
//! Access lines ([`access`], filtered as target [`ACCESS_TARGET`]) skip
//! the `log` machinery: they are formatted straight from their fields on
//! the request's thread, in the same two formats, and written by one
//! writer thread in batches: a bounded queue of [`QUEUE_LINES`]; when it is
//! full the line is dropped and counted ([`dropped_access_lines`]) rather
//! than making a request wait for the disk. Every other record is written
//! at once. [`flush`] writes out what is queued (the binary calls it before
//! it exits).

use std::cell::RefCell;
use std::fmt::Write as _;
use std::io::{self, Write};
use std::net::IpAddr;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use log::kv::{Key, Value, VisitSource};
use serde::Serialize;
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
pub(crate) const ACCESS_TARGET: &str = "portcullis::access";
/// Access lines queued for the writer thread before new ones are dropped.
pub(crate) const QUEUE_LINES: usize = 16 * 1024;
/// The most bytes the writer thread gathers into one `write(2)`.
const BATCH_BYTES: usize = 64 * 1024;
/// How long the writer rests after a write; lines wait at most this long
/// (and are written at once after a quiet spell).
const LINGER: Duration = Duration::from_millis(10);

/// The filter when `RUST_LOG` is unset (the README says so).
pub const DEFAULT_FILTER: &str = "info,actix_server=warn";

/// Installs the process's logger: `RUST_LOG` filters (default
/// [`DEFAULT_FILTER`]),
/// records go to stderr in `format`; access lines, when the filter lets
/// them through, go through the writer thread.
pub fn init(format: LogFormat) {
    let mut builder =
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(DEFAULT_FILTER));
    match format {
        LogFormat::Text => builder.format(text),
        LogFormat::Json => builder.format(json),
    };
    let logger = builder.build();
    let access = log::Metadata::builder()
        .target(ACCESS_TARGET)
        .level(log::Level::Info)
        .build();
    if log::Log::enabled(&logger, &access) {
        ACCESS.get_or_init(|| AccessSink {
            format,
            sender: spawn_writer(io::stderr()),
        });
    }
    let max = logger.filter();
    if log::set_boxed_logger(Box::new(logger)).is_ok() {
        log::set_max_level(max);
    }
}

/// One request's access line.
#[derive(Debug, Serialize)]
pub struct AccessLine<'a> {
    pub request_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer: Option<IpAddr>,
    pub method: &'a str,
    /// Without the query string, which may carry secrets.
    pub path: &'a str,
    pub status: u16,
    /// Milliseconds, to a tenth.
    pub latency_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<&'a str>,
    /// For a proxied WebSocket, whose one line is written when it closes.
    #[serde(flatten)]
    pub socket: Option<SocketLine>,
}

/// What a proxied WebSocket did, on its access line.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct SocketLine {
    /// From the upgrade to the close, milliseconds.
    pub duration_ms: u64,
    /// Message payload bytes the client sent.
    pub bytes_in: u64,
    /// Message payload bytes the client was sent.
    pub bytes_out: u64,
    /// The close code the client got (1006: none, the connection dropped).
    pub close_code: u16,
}

/// Whether access lines are written (`RUST_LOG` lets target
/// [`ACCESS_TARGET`] through at `info`); decided once, by [`init`].
pub(crate) fn access_enabled() -> bool {
    ACCESS.get().is_some()
}

/// Formats `line`, stamped `at`, and queues it for the writer thread; a
/// no-op when access lines are filtered out.
pub fn access(at: DateTime<Utc>, line: &AccessLine<'_>) {
    let Some(sink) = ACCESS.get() else {
        return;
    };
    let formatted = match sink.format {
        LogFormat::Text => access_text(at, line).into_bytes(),
        LogFormat::Json => access_json(at, line),
    };
    sink.sender.send(formatted);
}

/// The same line `text` makes of a record with these fields.
fn access_text(at: DateTime<Utc>, line: &AccessLine<'_>) -> String {
    let mut out = String::with_capacity(224);
    let _ = write!(out, "[{} INFO  {ACCESS_TARGET}]", stamp(at));
    let _ = write_str_field(&mut out, "request_id", line.request_id);
    if let Some(peer) = line.peer {
        let _ = write!(out, " peer={peer}");
    }
    let _ = write_str_field(&mut out, "method", line.method);
    let _ = write_str_field(&mut out, "path", line.path);
    let _ = write!(
        out,
        " status={} latency_ms={}",
        line.status, line.latency_ms
    );
    if let Some(user) = line.user_id {
        let _ = write_str_field(&mut out, "user_id", user);
    }
    if let Some(socket) = line.socket {
        let _ = write!(
            out,
            " duration_ms={} bytes_in={} bytes_out={} close_code={}",
            socket.duration_ms, socket.bytes_in, socket.bytes_out, socket.close_code
        );
    }
    out.push('\n');
    out
}

/// `at` as env_logger stamps records: RFC 3339, whole seconds, `Z`;
/// formatted once per second per thread.
fn stamp(at: DateTime<Utc>) -> String {
    thread_local! {
        static LAST: RefCell<(i64, String)> = const { RefCell::new((i64::MIN, String::new())) };
    }
    LAST.with_borrow_mut(|(second, text)| {
        if *second != at.timestamp() {
            *second = at.timestamp();
            *text = at.to_rfc3339_opts(SecondsFormat::Secs, true);
        }
        text.clone()
    })
}

/// The same object `json` makes of a record with these fields.
fn access_json(at: DateTime<Utc>, line: &AccessLine<'_>) -> Vec<u8> {
    #[derive(Serialize)]
    struct Record<'a> {
        ts: String,
        level: &'static str,
        target: &'static str,
        #[serde(flatten)]
        fields: &'a AccessLine<'a>,
    }
    let record = Record {
        ts: stamp(at),
        level: "INFO",
        target: ACCESS_TARGET,
        fields: line,
    };
    let mut out = serde_json::to_vec(&record).unwrap_or_default();
    out.push(b'\n');
    out
}

/// Writes out the access lines queued so far (waits at most a second).
pub(crate) fn flush() {
    if let Some(AccessSink { sender: writer, .. }) = ACCESS.get() {
        let (ack, done) = mpsc::sync_channel(1);
        if writer.tx.send(Message::Flush(ack)).is_ok() {
            let _ = done.recv_timeout(Duration::from_secs(1));
        }
    }
}

/// Access lines dropped because the writer thread's queue was full.
pub(crate) fn dropped_access_lines() -> u64 {
    DROPPED.load(Ordering::Relaxed)
}

static ACCESS: OnceLock<AccessSink> = OnceLock::new();
static DROPPED: AtomicU64 = AtomicU64::new(0);

/// Where access lines go, and in which format.
struct AccessSink {
    format: LogFormat,
    sender: LineSender,
}

enum Message {
    Line(Vec<u8>),
    Flush(SyncSender<()>),
}

/// The queue's sending end: each message is one whole line.
struct LineSender {
    tx: SyncSender<Message>,
}

impl LineSender {
    /// Queues `line`, or drops and counts it when the queue is full.
    fn send(&self, line: Vec<u8>) {
        if let Err(TrySendError::Full(_)) = self.tx.try_send(Message::Line(line)) {
            DROPPED.fetch_add(1, Ordering::Relaxed);
        }
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
            write_str_field(out, key.as_str(), s)
        } else if let Some(n) = value.to_u64() {
            write!(out, " {key}={n}")
        } else if let Some(n) = value.to_i64() {
            write!(out, " {key}={n}")
        } else if let Some(x) = value.to_f64() {
            write!(out, " {key}={x}")
        } else {
            match serde_json::to_value(&value) {
                Ok(Json::Null) | Err(_) => Ok(()),
                Ok(Json::String(s)) => write_str_field(out, key.as_str(), &s),
                Ok(other) => write!(out, " {key}={other}"),
            }
        };
        Ok(())
    }
}

fn write_str_field(out: &mut String, key: &str, s: &str) -> std::fmt::Result {
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
        let sender = spawn_writer(sink.clone());
        for i in 0..1000 {
            sender.send(format!("line {i}\n").into_bytes());
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
        let sender = LineSender { tx };
        let before = dropped_access_lines();
        for _ in 0..5 {
            sender.send(b"x\n".to_vec());
        }
        assert!(dropped_access_lines() - before >= 3);
    }

    #[test]
    fn access_lines_have_the_record_formats_with_odd_values_quoted() {
        let ts = DateTime::UNIX_EPOCH;
        let mut line = AccessLine {
            request_id: "r-1",
            peer: Some("::1".parse().unwrap()),
            method: "GET",
            path: "/api/a b\"c",
            status: 200,
            latency_ms: 0.3,
            user_id: Some("u-9"),
            socket: None,
        };
        assert_eq!(
            access_text(ts, &line),
            "[1970-01-01T00:00:00Z INFO  portcullis::access] request_id=r-1 peer=::1 \
             method=GET path=\"/api/a b\\\"c\" status=200 latency_ms=0.3 user_id=u-9\n"
        );
        // the per-thread stamp follows the clock across seconds
        assert!(
            access_text(ts + chrono::Duration::seconds(61), &line)
                .starts_with("[1970-01-01T00:01:01Z ")
        );
        line.peer = None;
        line.user_id = None;
        let json: Json = serde_json::from_slice(&access_json(ts, &line)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "ts": "1970-01-01T00:00:00Z", "level": "INFO", "target": ACCESS_TARGET,
                "request_id": "r-1", "method": "GET", "path": "/api/a b\"c",
                "status": 200, "latency_ms": 0.3,
            })
        );
        line.socket = Some(SocketLine {
            duration_ms: 1500,
            bytes_in: 3,
            bytes_out: 4,
            close_code: 1008,
        });
        assert!(
            access_text(ts, &line).ends_with(
                "latency_ms=0.3 duration_ms=1500 bytes_in=3 bytes_out=4 close_code=1008\n"
            )
        );
        let json: Json = serde_json::from_slice(&access_json(ts, &line)).unwrap();
        assert_eq!(json["close_code"], 1008);
        assert_eq!(json["bytes_out"], 4);
    }

    #[test]
    fn the_readme_gives_the_real_default_filter() {
        let readme = include_str!("../README.md");
        let row = readme
            .lines()
            .find(|l| l.starts_with("| `RUST_LOG` |"))
            .unwrap();
        assert!(row.contains(&format!("`{DEFAULT_FILTER}`")), "{row}");
        assert!(!readme.contains("(default `info`"), "a stale default");
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
