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

use std::fmt::Write as _;
use std::io::{self, Write};

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

/// Installs the process's logger: `RUST_LOG` filters (default `info`),
/// records go to stderr in `format`.
pub fn init(format: LogFormat) {
    let mut builder = env_logger::Builder::from_env(
        env_logger::Env::default().default_filter_or("info,actix_server=warn"),
    );
    match format {
        LogFormat::Text => builder.format(text),
        LogFormat::Json => builder.format(json),
    };
    builder.init();
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

    #[test]
    fn control_characters_are_escaped_and_words_stay_bare() {
        let mut out = String::new();
        escape_controls(&mut out, "a\nb\u{1b}[31m");
        assert_eq!(out, "a\\nb\\u{1b}[31m");
        assert!(is_word("3f2a-9c/x:1"));
        assert!(!is_word("a b") && !is_word("a=b") && !is_word("x\n") && !is_word(""));
    }
}
