//! Security events as stored (contract §12): one row each, inserted by the
//! transaction of the change it records, read newest first for a user or
//! for everyone, a page at a time, and purged after the retention period.
//!
//! Pages go by the row's increasing id: a page is the newest rows with an
//! id below the cursor, so rows inserted while a reader pages through land
//! above the first page, never in a later one (nothing is seen twice and
//! nothing that was there is skipped).

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::schema::security_events;
use super::{Conn, DbError};

/// One event as stored. `id` is the database's (0 before insertion).
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = security_events)]
pub struct EventRow {
    pub id: i64,
    pub at: NaiveDateTime,
    pub kind: String,
    pub user_id: Option<String>,
    pub username: Option<String>,
    pub session_id: Option<String>,
    pub client_addr: Option<String>,
    pub user_agent: Option<String>,
    pub reason: Option<String>,
    pub actor: Option<String>,
    /// A JSON object, or none.
    pub detail: Option<String>,
}

/// Which events a reader asks for.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub user_id: Option<String>,
    pub kind: Option<String>,
    /// Only events older than this cursor (an id from a page before).
    pub before: Option<i64>,
    /// Only events newer than this id (for following new ones).
    pub after: Option<i64>,
}

/// Stores `event` (its `id` is the database's to give).
pub fn insert(conn: &mut Conn, event: &EventRow) -> Result<(), DbError> {
    diesel::insert_into(security_events::table)
        .values((
            security_events::at.eq(event.at),
            security_events::kind.eq(&event.kind),
            security_events::user_id.eq(&event.user_id),
            security_events::username.eq(&event.username),
            security_events::session_id.eq(&event.session_id),
            security_events::client_addr.eq(&event.client_addr),
            security_events::user_agent.eq(&event.user_agent),
            security_events::reason.eq(&event.reason),
            security_events::actor.eq(&event.actor),
            security_events::detail.eq(&event.detail),
        ))
        .execute(conn)?;
    Ok(())
}

/// At most `limit` events `filter` lets through, newest first.
pub fn list(conn: &mut Conn, filter: &Filter, limit: i64) -> Result<Vec<EventRow>, DbError> {
    let mut query = security_events::table
        .select(EventRow::as_select())
        .into_boxed();
    if let Some(user_id) = &filter.user_id {
        query = query.filter(security_events::user_id.eq(user_id.clone()));
    }
    if let Some(kind) = &filter.kind {
        query = query.filter(security_events::kind.eq(kind.clone()));
    }
    if let Some(before) = filter.before {
        query = query.filter(security_events::id.lt(before));
    }
    if let Some(after) = filter.after {
        query = query.filter(security_events::id.gt(after));
    }
    Ok(query
        .order(security_events::id.desc())
        .limit(limit)
        .load(conn)?)
}

/// A page of events, newest first, and the cursor of the next (older)
/// page if there is one.
#[derive(Debug)]
pub struct Page {
    pub events: Vec<EventRow>,
    pub next: Option<i64>,
}

/// At most `limit` events `filter` lets through, newest first, and the
/// cursor (`before`) that continues after them.
pub fn page(conn: &mut Conn, filter: &Filter, limit: i64) -> Result<Page, DbError> {
    let mut events = list(conn, filter, limit + 1)?;
    let more = events.len() as i64 > limit;
    events.truncate(limit.max(0) as usize);
    let next = more.then(|| events.last().map(|e| e.id)).flatten();
    Ok(Page { events, next })
}

/// Deletes the events from before `before`; returns how many.
pub fn purge(conn: &mut Conn, before: DateTime<Utc>) -> Result<usize, DbError> {
    Ok(
        diesel::delete(security_events::table.filter(security_events::at.lt(before.naive_utc())))
            .execute(conn)?,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: &str, user: &str, secs: i64) -> EventRow {
        EventRow {
            id: 0,
            at: DateTime::from_timestamp(secs, 0).unwrap().naive_utc(),
            kind: kind.into(),
            user_id: Some(user.into()),
            username: None,
            session_id: None,
            client_addr: None,
            user_agent: None,
            reason: None,
            actor: None,
            detail: None,
        }
    }

    #[test]
    fn pages_stay_stable_while_events_arrive() {
        let (db, _dir) = crate::db::temp_db();
        db.with_conn(|c| (0..5).try_for_each(|i| insert(c, &event("login_ok", "a", i))))
            .unwrap();
        let page = |before| {
            let filter = Filter {
                before,
                ..Filter::default()
            };
            db.with_conn(|c| list(c, &filter, 2)).unwrap()
        };
        let first = page(None);
        assert_eq!(
            first
                .iter()
                .map(|e| e.at.and_utc().timestamp())
                .collect::<Vec<_>>(),
            [4, 3]
        );
        // new events while the reader is on page one
        db.with_conn(|c| (5..8).try_for_each(|i| insert(c, &event("login_ok", "a", i))))
            .unwrap();
        let second = page(Some(first[1].id));
        let third = page(Some(second[1].id));
        let seen: Vec<i64> = [first, second, third]
            .concat()
            .iter()
            .map(|e| e.at.and_utc().timestamp())
            .collect();
        assert_eq!(seen, [4, 3, 2, 1, 0], "none twice, none skipped");
    }

    #[test]
    fn filters_and_purge_touch_only_what_they_name() {
        let (db, _dir) = crate::db::temp_db();
        db.with_conn(|c| {
            insert(c, &event("login_ok", "a", 10))?;
            insert(c, &event("login_failed", "a", 20))?;
            insert(c, &event("login_ok", "b", 30))
        })
        .unwrap();
        let of = |user: Option<&str>, kind: Option<&str>| {
            let filter = Filter {
                user_id: user.map(str::to_owned),
                kind: kind.map(str::to_owned),
                ..Filter::default()
            };
            db.with_conn(|c| list(c, &filter, 10)).unwrap().len()
        };
        assert_eq!(of(Some("a"), None), 2);
        assert_eq!(of(None, Some("login_ok")), 2);
        assert_eq!(of(Some("b"), Some("login_failed")), 0);
        let gone = db
            .with_conn(|c| purge(c, DateTime::from_timestamp(25, 0).unwrap()))
            .unwrap();
        assert_eq!(gone, 2);
        assert_eq!(of(None, None), 1, "the newer one stays");
    }
}
