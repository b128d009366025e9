//! The `/auth` routes: register, login, refresh, logout, me, and the
//! caller's view of the `/api` policy.
//!
//! Refresh and logout authenticate with the refresh cookie and therefore
//! need the CSRF header; every 401 from refresh clears the cookie.

use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::accounts::{self, AccountError};
use crate::auth::refresh::RefreshToken;
use crate::auth::{Roles, User};
use crate::db::ledger::{self, ClientInfo, Grant, RotateOutcome};
use crate::db::throttle::Throttled;
use crate::db::users;
use crate::http::AppState;
use crate::http::access;
use crate::http::cookies;
use crate::http::error::ApiError;
use crate::http::extract::{Authenticated, JsonBody, client_ip, require_csrf_header};
use crate::http::metrics::{Login, Refresh};
use crate::http::schemas::{ErrorBody, PolicyView, RoleName};

/// The log target of auth events (logins, reuse, ended sessions).
const EVENTS: &str = "portcullis::auth";

#[derive(Deserialize, ToSchema)]
pub struct CredentialsBody {
    username: String,
    password: String,
}

/// The contract's `User`.
#[derive(Serialize, ToSchema)]
#[schema(as = User)]
pub struct UserBody {
    id: String,
    username: String,
    /// Always contains `user`.
    #[schema(value_type = Vec<RoleName>)]
    roles: Vec<String>,
}

impl From<&User> for UserBody {
    fn from(user: &User) -> Self {
        Self {
            id: user.id.clone(),
            username: user.username.clone(),
            roles: user.roles.names(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct TokenResponse {
    access_token: String,
    /// Always `Bearer`.
    #[schema(value_type = String, pattern = "^Bearer$")]
    token_type: &'static str,
    /// Seconds until the access token expires.
    expires_in: i64,
    user: UserBody,
}

/// `POST /auth/register`'s answer.
#[derive(Serialize, ToSchema)]
pub struct Registered {
    user: UserBody,
}

/// `POST /auth/register`'s body, as the route validates it.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct RegisterBody {
    #[schema(pattern = "^[A-Za-z0-9_.-]{3,32}$")]
    username: String,
    #[schema(min_length = 8, max_length = 256)]
    password: String,
}

/// `POST /auth/register` → 201 `{"user": User}`; no tokens.
#[utoipa::path(
    post,
    path = "/auth/register",
    tag = "auth",
    request_body = RegisterBody,
    responses(
        (status = 201, description = "The account is created; no tokens are issued.", body = Registered),
        (status = 400, description = "`invalid_input`: malformed body, or a username or password of the wrong shape.", body = ErrorBody),
        (status = 403, description = "`registration_disabled`.", body = ErrorBody),
        (status = 409, description = "`username_taken` (in any letter case).", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: the body is over 64 KiB.", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: the body is not JSON.", body = ErrorBody),
        (status = 429, description = "`too_many_attempts`: every password hasher is busy.", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
        (status = 503, description = "`unavailable`: the database does not answer.", body = ErrorBody),
    )
)]
pub async fn register(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    // closed registration answers the same whatever the body
    if !state.allow_registration {
        return Err(ApiError::RegistrationDisabled);
    }
    let JsonBody(body) =
        JsonBody::<CredentialsBody>::from_request(&req, &mut body.into_inner()).await?;
    accounts::validate_username(&body.username)?;
    accounts::validate_password(&body.password)?;
    let password = body.password;
    let hash = state
        .hashing
        .run(move |h| h.hash(&password))
        .await
        .map_err(accounts::AccountError::from)?
        .map_err(accounts::AccountError::from)?;
    let now = state.clock.now();
    let user = state
        .db
        .run(move |c| {
            Ok(accounts::create(
                c,
                &body.username,
                &hash,
                &Roles::new([]),
                now,
            ))
        })
        .await??;
    Ok(HttpResponse::Created().json(Registered {
        user: UserBody::from(&user),
    }))
}

/// `POST /auth/login` → 200 TokenResponse and the refresh cookie.
#[utoipa::path(
    post,
    path = "/auth/login",
    tag = "auth",
    request_body = CredentialsBody,
    responses(
        (status = 200, description = "Logged in; the refresh cookie is set.", body = TokenResponse,
            headers(("Set-Cookie" = String, description = "The refresh cookie."))),
        (status = 400, description = "`invalid_input`: malformed body.", body = ErrorBody),
        (status = 401, description = "`invalid_credentials`: unknown user, wrong password or disabled user, alike.", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: the body is over 64 KiB.", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: the body is not JSON.", body = ErrorBody),
        (status = 429, description = "`too_many_attempts`: too many failures for this username or address.", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
        (status = 503, description = "`unavailable`: the database does not answer.", body = ErrorBody),
    )
)]
pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    JsonBody(body): JsonBody<CredentialsBody>,
) -> Result<HttpResponse, ApiError> {
    let addr = client_ip(&req, &state.trusted_proxies);
    // a name that cannot exist is counted per address only (see
    // `Throttle::buckets`), so junk names cannot grow the throttle's table
    let key = if accounts::validate_username(&body.username).is_ok() {
        users::username_key(&body.username)
    } else {
        String::new()
    };
    let rid = access::request_id(&req);
    let rid = rid.as_ref().map(access::RequestId::as_str);
    match state
        .throttle
        .begin(&state.db, &key, addr, state.clock.now())
        .await
    {
        Ok(()) => {}
        Err(Throttled::Wait(retry_after)) => {
            state.metrics.login(Login::Throttled);
            log::warn!(
                target: EVENTS,
                request_id = rid,
                username = body.username.as_str(),
                client_addr = addr.to_string().as_str();
                "login throttled"
            );
            return Err(ApiError::TooManyAttempts { retry_after });
        }
        Err(e) => return Err(e.into()),
    }

    let client = ClientInfo {
        user_agent: req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(256).collect()),
        client_addr: Some(addr.to_string()),
    };
    let username = body.username.clone();
    let grant = match accounts::login(
        &state.db,
        &state.hashing,
        body.username,
        body.password,
        client,
        state.session,
        state.clock.now(),
    )
    .await
    {
        Ok(grant) => grant,
        Err(AccountError::Busy) => {
            // no password was checked: not a failed attempt
            state.metrics.login(Login::Throttled);
            if let Err(e) = state.throttle.refund(&state.db, &key, addr).await {
                log::warn!("refunding a login attempt failed: {e}");
            }
            return Err(AccountError::Busy.into());
        }
        Err(e) => {
            if matches!(e, AccountError::InvalidCredentials) {
                state.metrics.login(Login::Invalid);
                log::warn!(
                    target: EVENTS,
                    request_id = rid,
                    username = username.as_str(),
                    client_addr = addr.to_string().as_str();
                    "login failed"
                );
            }
            return Err(e.into());
        }
    };
    if let Err(e) = state.throttle.succeeded(&state.db, &key, addr).await {
        log::warn!("clearing the login throttle failed: {e}");
    }
    state.metrics.login(Login::Ok);
    access::note_user(&req, &grant.user.id);
    log::info!(
        target: EVENTS,
        request_id = rid,
        username = grant.user.username.as_str(),
        user_id = grant.user.id.as_str(),
        session_id = grant.session.id.as_str();
        "login ok"
    );
    grant_response(&state, &grant)
}

/// `POST /auth/refresh`: rotates the cookie's token (see [`ledger::rotate`]).
#[utoipa::path(
    post,
    path = "/auth/refresh",
    tag = "auth",
    security(("refresh_cookie" = [], "csrf" = [])),
    responses(
        (status = 200, description = "A new access token; the rotated refresh token is in the cookie.", body = TokenResponse,
            headers(("Set-Cookie" = String, description = "The rotated refresh cookie."))),
        (status = 401, description = "`missing_refresh_token`, `invalid_refresh_token`, `refresh_token_reused` or `session_expired`; the cookie is cleared.", body = ErrorBody),
        (status = 403, description = "`csrf_check_failed`: the header `X-CSRF: 1` is missing.", body = ErrorBody),
        (status = 503, description = "`unavailable`: the database does not answer.", body = ErrorBody),
    )
)]
pub async fn refresh(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    require_csrf_header(&req)?;
    let result = rotate(&req, &state).await;
    match result {
        Ok(res) => Ok(res),
        Err(e) if e.status_code() == 401 => {
            let mut res = e.error_response();
            res.add_cookie(&cookies::clear(&state.cookie))
                .map_err(ApiError::internal)?;
            Ok(res)
        }
        Err(e) => Err(e),
    }
}

async fn rotate(req: &HttpRequest, state: &web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let Some(value) = cookies::read(req, &state.cookie) else {
        state.metrics.refresh(Refresh::Invalid);
        return Err(ApiError::MissingRefreshToken);
    };
    let Some(token) = RefreshToken::parse(&value) else {
        state.metrics.refresh(Refresh::Invalid);
        return Err(ApiError::InvalidRefreshToken);
    };
    let key = state.successor.clone();
    let policy = state.session;
    let now = state.clock.now();
    let outcome = state
        .db
        .run(move |conn| ledger::rotate(conn, &token, &key, &policy, now))
        .await?;
    let rid = access::request_id(req);
    let rid = rid.as_ref().map(access::RequestId::as_str);
    match outcome {
        RotateOutcome::Rotated(grant) => {
            state.metrics.refresh(Refresh::Rotated);
            access::note_user(req, &grant.user.id);
            grant_response(state, &grant)
        }
        RotateOutcome::Replayed(grant) => {
            state.metrics.refresh(Refresh::Replayed);
            access::note_user(req, &grant.user.id);
            log::info!(
                target: EVENTS,
                request_id = rid,
                session_id = grant.session.id.as_str();
                "refresh token replayed within the grace period"
            );
            grant_response(state, &grant)
        }
        RotateOutcome::Reused { session_id } => {
            state.metrics.refresh(Refresh::Reused);
            log::warn!(
                target: EVENTS,
                request_id = rid,
                session_id = session_id.as_str(),
                reason = "reuse";
                "refresh token reuse detected: session revoked"
            );
            state.revoked.extend([(session_id, now)], now);
            Err(ApiError::RefreshTokenReused)
        }
        RotateOutcome::Expired { session_id } => {
            state.metrics.refresh(Refresh::Expired);
            log::info!(
                target: EVENTS,
                request_id = rid,
                session_id = session_id.as_str(),
                reason = "expired";
                "session ended"
            );
            state.revoked.extend([(session_id, now)], now);
            Err(ApiError::SessionExpired)
        }
        RotateOutcome::Invalid => {
            state.metrics.refresh(Refresh::Invalid);
            Err(ApiError::InvalidRefreshToken)
        }
    }
}

/// `POST /auth/logout` → 204, the session revoked, the cookie cleared;
/// also 204 without a cookie or with a dead one.
#[utoipa::path(
    post,
    path = "/auth/logout",
    tag = "auth",
    security(("csrf" = [], "refresh_cookie" = []), ("csrf" = [])),
    responses(
        (status = 204, description = "The cookie's session (if any) has ended; the cookie is cleared."),
        (status = 403, description = "`csrf_check_failed`: the header `X-CSRF: 1` is missing.", body = ErrorBody),
        (status = 503, description = "`unavailable`: the database does not answer.", body = ErrorBody),
    )
)]
pub async fn logout(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    require_csrf_header(&req)?;
    if let Some(token) = cookies::read(&req, &state.cookie).and_then(|v| RefreshToken::parse(&v)) {
        let now = state.clock.now();
        let revoked = state
            .db
            .run(move |conn| ledger::revoke_by_token(conn, &token, "logout", now))
            .await?;
        if let Some(session_id) = revoked {
            let rid = access::request_id(&req);
            log::info!(
                target: EVENTS,
                request_id = rid.as_ref().map(access::RequestId::as_str),
                session_id = session_id.as_str(),
                reason = "logout";
                "session revoked"
            );
            state.revoked.extend([(session_id, now)], now);
        }
    }
    Ok(HttpResponse::NoContent()
        .cookie(cookies::clear(&state.cookie))
        .finish())
}

/// `GET /auth/me` → the token's user.
#[utoipa::path(
    get,
    path = "/auth/me",
    tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The user the access token was issued to.", body = UserBody),
        (status = 401, description = "`invalid_token`: the access token is missing, invalid, expired or revoked.", body = ErrorBody),
    )
)]
pub async fn me(Authenticated(claims): Authenticated) -> HttpResponse {
    HttpResponse::Ok().json(UserBody {
        id: claims.sub,
        username: claims.name,
        roles: claims.roles,
    })
}

/// `GET /auth/policy` → the `/api` rules in order, each with whether the
/// caller's roles pass it, so a SPA shows only the controls the gateway
/// will allow (see the README).
#[utoipa::path(
    get,
    path = "/auth/policy",
    tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The `/api` rules in order, each with whether the caller passes it.", body = PolicyView),
        (status = 401, description = "`invalid_token`.", body = ErrorBody),
    )
)]
pub async fn policy(
    state: web::Data<AppState>,
    Authenticated(claims): Authenticated,
) -> HttpResponse {
    let roles = Roles::new(claims.roles.iter().filter_map(|r| r.parse().ok()));
    HttpResponse::Ok().json(serde_json::json!({ "rules": state.policy.view_for(&roles) }))
}

/// 200 TokenResponse with the grant's refresh token in the cookie.
fn grant_response(state: &AppState, grant: &Grant) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    let issued = state
        .tokens
        .sign(
            &grant.user,
            &grant.session.id,
            now,
            grant.session.expires_at.and_utc(),
        )
        .map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok()
        .cookie(cookies::set(
            &state.cookie,
            &grant.refresh,
            grant.session.remaining(now),
        ))
        .json(TokenResponse {
            access_token: issued.token,
            token_type: "Bearer",
            expires_in: issued.expires_in,
            user: UserBody::from(&grant.user),
        }))
}
