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
use serde_json::{Map, Value as Json};

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
    write!(
        buf,
        "[{} {:<5} {}]",
        buf.timestamp(),
        record.level(),
        record.target()
    )?;
    let mut line = String::new();
    let message = record.args().to_string();
    if !message.is_empty() {
        line.push(' ');
        escape_controls(&mut line, &message);
    }
    let mut fields = Fields::default();
    // a field that cannot be read is left out, never a reason to lose the line
    let _ = record.key_values().visit(&mut fields);
    for (key, value) in fields.0 {
        match value {
            Json::Null => continue,
            Json::String(s) if is_word(&s) => {
                let _ = write!(line, " {key}={s}");
            }
            Json::String(s) => {
                let _ = write!(line, " {key}={s:?}");
            }
            other => {
                let _ = write!(line, " {key}={other}");
            }
        }
    }
    writeln!(buf, "{line}")
}

fn json(buf: &mut env_logger::fmt::Formatter, record: &log::Record<'_>) -> io::Result<()> {
    let mut object = Map::new();
    object.insert("ts".into(), buf.timestamp().to_string().into());
    object.insert("level".into(), record.level().as_str().into());
    object.insert("target".into(), record.target().into());
    let message = record.args().to_string();
    if !message.is_empty() {
        object.insert("message".into(), message.into());
    }
    let mut fields = Fields::default();
    let _ = record.key_values().visit(&mut fields);
    for (key, value) in fields.0 {
        if !value.is_null() {
            object.insert(key, value);
        }
    }
    serde_json::to_writer(&mut *buf, &object)?;
    writeln!(buf)
}

/// A record's key-values, in order, as JSON values.
#[derive(Default)]
struct Fields(Vec<(String, Json)>);

impl<'kvs> VisitSource<'kvs> for Fields {
    fn visit_pair(&mut self, key: Key<'kvs>, value: Value<'kvs>) -> Result<(), log::kv::Error> {
        let value = serde_json::to_value(&value).unwrap_or(Json::Null);
        self.0.push((key.as_str().to_owned(), value));
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
