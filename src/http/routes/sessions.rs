//! The caller's own sessions and password, with a bearer token (no cookie,
//! no CSRF header): list the live sessions, end one, log out everywhere,
//! change the password.
//!
//! Every session these routes end is ended by the sessions service, so
//! its access tokens are refused at once on this instance, as after logout.
//! Another user's session is answered exactly like an unknown one (404), so
//! session ids cannot be probed.

use actix_web::{HttpResponse, web};
use chrono::{NaiveDateTime, SecondsFormat};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::password::Password;
use crate::db::ledger::{SessionInfo, Which};
use crate::events::Caller;
use crate::http::cookies;
use crate::http::error::ApiError;
use crate::http::extract::{Authenticated, JsonBody};
use crate::http::schemas::ErrorBody;
use crate::http::state::AppState;
use crate::sessions::EndReason;

/// The contract's `Session`: one device the caller is logged in on.
#[derive(Serialize, ToSchema)]
pub struct SessionBody {
    id: String,
    /// When the login happened (RFC 3339, UTC).
    #[schema(format = DateTime)]
    created_at: String,
    /// When the session last refreshed its access token.
    #[schema(format = DateTime)]
    last_used_at: String,
    /// The absolute expiry; refreshing never extends it.
    #[schema(format = DateTime)]
    expires_at: String,
    /// The `User-Agent` sent at login, if any (at most 256 characters).
    user_agent: Option<String>,
    /// The client address at login, as the trusted-proxy rule resolves it.
    client_addr: Option<String>,
    /// True for the session of the token this request was made with.
    current: bool,
}

#[derive(Serialize, ToSchema)]
pub struct SessionList {
    /// Newest first.
    sessions: Vec<SessionBody>,
}

#[derive(Deserialize, ToSchema)]
pub struct PasswordBody {
    current_password: String,
    /// 8 to 256 characters.
    #[schema(min_length = 8, max_length = 256)]
    new_password: String,
}

/// RFC 3339 in UTC, to the second: `2026-01-31T12:00:00Z`.
pub fn rfc3339(at: NaiveDateTime) -> String {
    at.and_utc().to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl SessionBody {
    fn new(s: SessionInfo, current_sid: &str) -> Self {
        Self {
            current: s.id == current_sid,
            id: s.id,
            created_at: rfc3339(s.created_at),
            last_used_at: rfc3339(s.last_used_at),
            expires_at: rfc3339(s.expires_at),
            user_agent: s.user_agent,
            client_addr: s.client_addr,
        }
    }
}

/// The caller's live sessions, newest first.
#[utoipa::path(
    get,
    path = "/auth/sessions",
    tag = "sessions",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's live sessions, newest first.", body = SessionList),
        (status = 401, description = "`invalid_token`: the access token is missing, invalid, expired or revoked.", body = ErrorBody),
        (status = 503, description = "`unavailable`: the database does not answer.", body = ErrorBody),
    )
)]
pub async fn list(
    state: web::Data<AppState>,
    Authenticated(claims): Authenticated,
) -> Result<HttpResponse, ApiError> {
    let sessions = state.services.sessions.list(claims.sub, state.clock.now());
    Ok(HttpResponse::Ok().json(SessionList {
        sessions: (sessions.await?)
            .into_iter()
            .map(|s| SessionBody::new(s, &claims.sid))
            .collect(),
    }))
}

/// Ends one of the caller's sessions, as logout would.
#[utoipa::path(
    delete,
    path = "/auth/sessions/{id}",
    tag = "sessions",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "A session id from `GET /auth/sessions`.")),
    responses(
        (status = 204, description = "The session has ended; its access tokens are refused within 2 s."),
        (status = 401, description = "`invalid_token`.", body = ErrorBody),
        (status = 404, description = "`not_found`: no live session of the caller has this id.", body = ErrorBody),
        (status = 503, description = "`unavailable`.", body = ErrorBody),
    )
)]
pub async fn end(
    state: web::Data<AppState>,
    caller: Caller,
    Authenticated(claims): Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let session_id = id.into_inner();
    // ending the session this request came from is a logout
    let reason = if session_id == claims.sid {
        EndReason::Logout
    } else {
        EndReason::EndedElsewhere
    };
    let which = Which::OwnedBy {
        user_id: claims.sub,
        session_id,
    };
    let now = state.clock.now();
    let ended = state
        .services
        .sessions
        .end(which, reason, &caller, None, now);
    if !ended.await? {
        return Err(ApiError::NotFound);
    }
    Ok(HttpResponse::NoContent().finish())
}

/// Ends every session of the caller, the current one included.
#[utoipa::path(
    post,
    path = "/auth/logout-all",
    tag = "sessions",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Every session of the caller has ended; the refresh cookie is cleared."),
        (status = 401, description = "`invalid_token`.", body = ErrorBody),
        (status = 503, description = "`unavailable`.", body = ErrorBody),
    )
)]
pub async fn logout_all(
    state: web::Data<AppState>,
    caller: Caller,
    Authenticated(claims): Authenticated,
) -> Result<HttpResponse, ApiError> {
    let which = Which::AllOf {
        user_id: claims.sub,
        keep: None,
    };
    let (reason, now) = (EndReason::LogoutAll, state.clock.now());
    state
        .services
        .sessions
        .end(which, reason, &caller, None, now)
        .await?;
    Ok(HttpResponse::NoContent()
        .cookie(cookies::clear(&state.cookie))
        .finish())
}

/// Changes the caller's password; every other session of theirs ends.
#[utoipa::path(
    post,
    path = "/auth/password",
    tag = "sessions",
    security(("bearer" = [])),
    request_body = PasswordBody,
    responses(
        (status = 204, description = "The password is changed; every other session of the caller has ended."),
        (status = 400, description = "`invalid_input`: malformed body, or a new password outside 8–256 characters.", body = ErrorBody),
        (status = 401, description = "`invalid_credentials` (wrong current password) or `invalid_token`.", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: the body is over 64 KiB.", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: the body is not JSON.", body = ErrorBody),
        (status = 429, description = "`too_many_attempts`: too many wrong passwords; see `Retry-After`.", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
        (status = 503, description = "`unavailable`.", body = ErrorBody),
    )
)]
pub async fn change_password(
    state: web::Data<AppState>,
    caller: Caller,
    Authenticated(claims): Authenticated,
    JsonBody(body): JsonBody<PasswordBody>,
) -> Result<HttpResponse, ApiError> {
    let (current, new) = (
        Password::new(body.current_password),
        Password::new(body.new_password),
    );
    let changed = state.services.accounts.change_password(
        &claims.sub,
        &claims.name,
        &claims.sid,
        current,
        new,
        &caller,
        state.clock.now(),
    );
    changed.await?;
    Ok(HttpResponse::NoContent().finish())
}
