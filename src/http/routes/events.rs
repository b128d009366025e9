//! Reading security events (contract §12): the caller's own activity
//! (`GET /auth/activity`) and every event for admins, filtered and a page
//! at a time (`GET /auth/admin/events`). What an event holds is decided
//! where it is written ([`crate::events`]); here it is only shown.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{Object, ObjectBuilder, Type};
use utoipa::{IntoParams, ToSchema};

use crate::db::events::{self, EventRow, Filter};
use crate::events::Kind;
use crate::http::error::ApiError;
use crate::http::extract::{Admin, Authenticated};
use crate::http::routes::sessions::rfc3339;
use crate::http::schemas::ErrorBody;
use crate::http::state::AppState;

/// How many events `GET /auth/activity` shows.
const ACTIVITY: i64 = 100;
/// The admin list's page size, by default and at most.
const PAGE: i64 = 50;
const MAX_PAGE: i64 = 100;

/// One security event.
#[derive(Serialize, ToSchema)]
pub struct EventBody {
    /// Increasing with every event stored.
    id: i64,
    /// When it happened (RFC 3339, UTC).
    #[schema(format = DateTime)]
    at: String,
    /// `login_ok`, `login_failed`, `login_throttled`, `second_factor_ok`,
    /// `second_factor_failed`, `stepped_up`, `refresh_token_reused`,
    /// `logout`, `session_ended`, `password_changed`, `factor_added`,
    /// `factor_removed`, `roles_changed`, `user_created`, `user_disabled`,
    /// `user_enabled`, `oidc_login`, `backchannel_logout`.
    kind: String,
    user_id: Option<String>,
    /// The user's name; `null` for a login with a name no user has.
    username: Option<String>,
    session_id: Option<String>,
    /// The client's address, as the trusted-proxy rule resolves it.
    client_addr: Option<String>,
    user_agent: Option<String>,
    /// Why a session ended (the refresh `401`'s `reason`).
    reason: Option<String>,
    /// The admin who did it to someone else's account.
    actor: Option<String>,
    /// More of what happened (`amr`, `method`, `roles`, `cause`,
    /// `same_addr`, `username_unknown`…), or `null`.
    #[schema(value_type = Option<Object>)]
    detail: Option<serde_json::Value>,
}

impl From<EventRow> for EventBody {
    fn from(row: EventRow) -> Self {
        Self {
            id: row.id,
            at: rfc3339(row.at),
            kind: row.kind,
            user_id: row.user_id,
            username: row.username,
            session_id: row.session_id,
            client_addr: row.client_addr,
            user_agent: row.user_agent,
            reason: row.reason,
            actor: row.actor,
            detail: row.detail.and_then(|d| serde_json::from_str(&d).ok()),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ActivityBody {
    /// Newest first.
    events: Vec<EventBody>,
}

#[derive(Serialize, ToSchema)]
pub struct EventPage {
    /// Newest first.
    events: Vec<EventBody>,
    /// The `before` of the next (older) page; `null` on the last.
    next: Option<String>,
}

/// `GET /auth/admin/events`'s filters.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    /// Only this user's events (a user id).
    user: Option<String>,
    /// Only events of this kind.
    #[param(schema_with = kind_schema)]
    kind: Option<String>,
    /// A page's `next`: only events older than it.
    #[param(pattern = "^[0-9]{1,18}$")]
    before: Option<String>,
    /// How many (1 to 100; 50 by default).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
}

/// The event kinds, as the document lists them.
fn kind_schema() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(Kind::ALL.map(Kind::as_str)))
        .build()
}

/// The caller's last 100 events.
#[utoipa::path(
    get,
    path = "/auth/activity",
    tag = "sessions",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's last 100 security events, newest first.", body = ActivityBody),
        (status = 401, description = "`invalid_token`.", body = ErrorBody),
        (status = 503, description = "`unavailable`.", body = ErrorBody),
    )
)]
pub async fn activity(
    state: web::Data<AppState>,
    Authenticated(claims): Authenticated,
) -> Result<HttpResponse, ApiError> {
    let filter = Filter {
        user_id: Some(claims.sub),
        ..Filter::default()
    };
    let rows = state
        .db
        .read(move |c| events::list(c, &filter, ACTIVITY))
        .await?;
    let events = rows.into_iter().map(EventBody::from).collect();
    Ok(HttpResponse::Ok().json(ActivityBody { events }))
}

/// Every security event, newest first, a page at a time.
#[utoipa::path(
    get,
    path = "/auth/admin/events",
    tag = "admin",
    security(("bearer" = [])),
    params(EventsQuery),
    responses(
        (status = 200, description = "A page of events, newest first; pages stay stable while new events arrive.", body = EventPage),
        (status = 400, description = "`invalid_input`: an unknown kind or parameter, a malformed cursor, a limit outside 1 to 100.", body = ErrorBody),
        (status = 401, description = "`invalid_token`.", body = ErrorBody),
        (status = 403, description = "`forbidden`: the caller is not an admin (as the database says now).", body = ErrorBody),
        (status = 503, description = "`unavailable`.", body = ErrorBody),
    )
)]
pub async fn admin_events(
    req: HttpRequest,
    state: web::Data<AppState>,
    _admin: Admin,
) -> Result<HttpResponse, ApiError> {
    let (filter, limit) = parse_query(req.query_string())?;
    let page = state
        .db
        .read(move |c| events::page(c, &filter, limit))
        .await?;
    Ok(HttpResponse::Ok().json(EventPage {
        events: page.events.into_iter().map(EventBody::from).collect(),
        next: page.next.map(|id| id.to_string()),
    }))
}

/// The filter and page size a query string asks for.
fn parse_query(query: &str) -> Result<(Filter, i64), ApiError> {
    let invalid = |message: &str| ApiError::InvalidInput(message.to_owned());
    let q = web::Query::<EventsQuery>::from_query(query)
        .map_err(|_| invalid("The parameters are user, kind, before and limit."))?
        .into_inner();
    let kind = match q.kind.as_deref() {
        Some(name) => Some(Kind::parse(name).ok_or_else(|| invalid("Unknown event kind."))?),
        None => None,
    };
    let before = match q.before.as_deref() {
        Some(cursor) => Some(
            cursor
                .parse::<i64>()
                .map_err(|_| invalid("Malformed cursor."))?,
        ),
        None => None,
    };
    let limit = q.limit.unwrap_or(PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(invalid("The limit is 1 to 100."));
    }
    let filter = Filter {
        user_id: q.user,
        kind: kind.map(|k| k.as_str().to_owned()),
        before,
        after: None,
    };
    Ok((filter, limit))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_is_checked_before_any_database_work() {
        let (filter, limit) = parse_query("user=u1&kind=login_ok&before=42&limit=7").unwrap();
        assert_eq!(filter.user_id.as_deref(), Some("u1"));
        assert_eq!(filter.kind.as_deref(), Some("login_ok"));
        assert_eq!((filter.before, limit), (Some(42), 7));
        assert_eq!(parse_query("").unwrap().1, PAGE);
        for bad in [
            "kind=",
            "before=",
            "kind=nope",
            "before=abc",
            "limit=0",
            "limit=101",
            "limit=x",
            "colour=red",
        ] {
            assert!(
                matches!(parse_query(bad), Err(ApiError::InvalidInput(_))),
                "{bad}"
            );
        }
    }
}
