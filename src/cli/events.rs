//! `portcullis events`: the stored security events (contract §12), oldest
//! of the latest first, as the gateway's admin list shows them; `--follow`
//! keeps printing new ones, `--json` prints one object per line (the
//! shape of `GET /auth/admin/events`).

use std::collections::BTreeSet;
use std::io::Write;
use std::time::Duration;

use crate::db::events::{self, EventRow, Filter};
use crate::db::users::{self, UserRef};
use crate::db::{Db, DbError};
use crate::http::routes::events::EventBody;

use super::Failure;

/// How often `--follow` asks for new events.
const POLL: Duration = Duration::from_secs(1);
/// How far below the newest id seen `--follow` looks again: an event whose
/// transaction got its id earlier but committed later (PostgreSQL) is
/// still printed, once.
const LATE_WINDOW: i64 = 200;
/// At most this many new events per poll.
const BATCH: i64 = 1000;

/// What to print and how.
#[derive(Debug)]
pub(crate) struct Options {
    pub user: Option<String>,
    pub follow: bool,
    pub json: bool,
    pub last: i64,
}

/// Prints the last `options.last` events (of the user, if named), then
/// with `follow` every new one until interrupted.
pub(crate) fn run(db: &Db, options: &Options) -> Result<(), Failure> {
    let user_id = match &options.user {
        Some(name) => {
            let who = UserRef::Name(name.clone());
            let found = db.with_conn(|c| users::find(c, &who))?;
            Some(
                found
                    .ok_or_else(|| Failure::Other(format!("no user named {name:?}")))?
                    .user
                    .id,
            )
        }
        None => None,
    };
    let filter = Filter {
        user_id,
        ..Filter::default()
    };
    let mut seen = BTreeSet::new();
    let first = db.with_conn(|c| events::list(c, &filter, options.last))?;
    print(&first, options.json, &mut seen)?;
    if !options.follow {
        return Ok(());
    }
    loop {
        std::thread::sleep(POLL);
        let after = seen.last().map(|id| id - LATE_WINDOW);
        let filter = Filter {
            after,
            ..filter.clone()
        };
        let new = db.with_conn(|c| events::list(c, &filter, BATCH));
        match new {
            Ok(rows) => print(&rows, options.json, &mut seen)?,
            Err(e @ (DbError::Unavailable(_) | DbError::Blocking)) => {
                eprintln!("note: the database does not answer ({e}); retrying")
            }
            Err(e) => return Err(e.into()),
        }
        if let Some(newest) = seen.last().copied() {
            seen = seen.split_off(&(newest - LATE_WINDOW));
        }
    }
}

/// Prints the rows not seen yet, oldest first (they come newest first).
fn print(rows: &[EventRow], json: bool, seen: &mut BTreeSet<i64>) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    for row in rows.iter().rev() {
        if !seen.insert(row.id) {
            continue;
        }
        let line = if json {
            serde_json::to_string(&EventBody::from(row.clone()))?
        } else {
            text(row)
        };
        // a closed pipe (`| head`) ends the command quietly
        if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
            return Ok(());
        }
    }
    Ok(())
}

/// One event as a line of text: time, kind, who, then what else is known.
fn text(row: &EventRow) -> String {
    let at = row
        .at
        .and_utc()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let who = row.username.as_deref().unwrap_or("-");
    let mut line = format!("{at}  {:<20}  {who}", row.kind);
    let fields = [
        ("reason", &row.reason),
        ("by", &row.actor),
        ("session", &row.session_id),
        ("from", &row.client_addr),
    ];
    for (key, value) in fields {
        if let Some(value) = value {
            line.push_str(&format!("  {key}={value}"));
        }
    }
    let detail = row
        .detail
        .as_deref()
        .and_then(|d| serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(d).ok());
    for (key, value) in detail.into_iter().flatten() {
        let value = value
            .as_str()
            .map_or_else(|| value.to_string(), str::to_owned);
        line.push_str(&format!("  {key}={value}"));
    }
    if let Some(agent) = &row.user_agent {
        line.push_str(&format!("  agent={agent:?}"));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_says_when_what_who_and_the_rest() {
        let row = EventRow {
            id: 3,
            at: chrono::DateTime::from_timestamp(1_800_000_000, 0)
                .unwrap()
                .naive_utc(),
            kind: "session_ended".into(),
            user_id: Some("u1".into()),
            username: Some("alice".into()),
            session_id: Some("s1".into()),
            client_addr: Some("192.0.2.1".into()),
            user_agent: Some("Firefox".into()),
            reason: Some("admin".into()),
            actor: Some("root".into()),
            detail: Some(r#"{"cause":"successor_used"}"#.into()),
        };
        assert_eq!(
            text(&row),
            "2027-01-15T08:00:00Z  session_ended         alice  reason=admin  by=root  \
             session=s1  from=192.0.2.1  cause=successor_used  agent=\"Firefox\""
        );
    }
}
