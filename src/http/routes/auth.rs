//! The `/auth` routes: register, login, refresh, logout, me, and the
//! caller's view of the `/api` policy.
//!
//! Refresh and logout authenticate with the refresh cookie and therefore
//! need the CSRF header; every 401 from refresh clears the cookie.

use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::password::Password;
use crate::auth::refresh::RefreshToken;
use crate::auth::{Roles, User};
use crate::db::ledger::{Grant, Session, Which};
use crate::events::Caller;
use crate::factors::Proof;
use crate::http::access_log;
use crate::http::cookies;
use crate::http::error::ApiError;
use crate::http::extract::{Authenticated, JsonBody, require_csrf_header};
use crate::http::schemas::{ErrorBody, MfaRequiredBody, PolicyRule, PolicyView, RoleName};
use crate::http::state::AppState;
use crate::login::{LoginError, SignIn};
use crate::sessions::{EndReason, Refreshed};

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
#[expect(dead_code, reason = "only described in the OpenAPI document")]
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
    caller: Caller,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    // closed registration answers the same whatever the body
    if !state.allow_registration {
        return Err(ApiError::RegistrationDisabled);
    }
    let JsonBody(body) =
        JsonBody::<CredentialsBody>::from_request(&req, &mut body.into_inner()).await?;
    let password = Password::new(body.password);
    let user = state
        .services
        .accounts
        .register(
            &body.username,
            password,
            Roles::new([]),
            &caller,
            state.clock.now(),
        )
        .await?;
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
        (status = 200, description = "Logged in; the refresh cookie and the device cookie (`portcullis_device`) are set.", body = TokenResponse,
            headers(("Set-Cookie" = String, description = "The refresh cookie and the device cookie."))),
        (status = 400, description = "`invalid_input`: malformed body.", body = ErrorBody),
        (status = 401, description = "`invalid_credentials`: unknown user, wrong password or disabled user, alike. \
            `mfa_required` (with `mfa_token` and `methods`, no cookie): the password is right and a second factor is due at `POST /auth/login/mfa`.", body = MfaRequiredBody),
        (status = 413, description = "`payload_too_large`: the body is over 64 KiB.", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: the body is not JSON.", body = ErrorBody),
        (status = 429, description = "`too_many_attempts`: too many failures for this username or address (or, with a valid device cookie, this device).", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
        (status = 503, description = "`unavailable`: the database does not answer.", body = ErrorBody),
    )
)]
pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<CredentialsBody>,
) -> Result<HttpResponse, ApiError> {
    let password = Password::new(body.password);
    let login = &state.services.login;
    let device = cookies::read_device(&req);
    let signed = login
        .with_password(
            &body.username,
            password,
            device.as_deref(),
            &caller,
            state.clock.now(),
        )
        .await?;
    match signed {
        SignIn::Session { grant, device } => {
            access_log::note_user(&req, &grant.user.id);
            logged_in(&state, &grant, device)
        }
        SignIn::SecondFactor { mfa_token, methods } => {
            Err(ApiError::MfaRequired { mfa_token, methods })
        }
    }
}

/// `POST /auth/login/mfa`'s body: the pending login and one second factor.
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
pub enum SecondStepBody {
    Totp(TotpStep),
    RecoveryCode(RecoveryCodeStep),
    Passkey(PasskeyStep),
}

/// The second step with a passkey, after `POST /auth/login/mfa/passkey-options`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasskeyStep {
    /// From the `mfa_required` answer of `POST /auth/login`.
    mfa_token: String,
    /// From `POST /auth/login/mfa/passkey-options`.
    ceremony: String,
    /// The `PublicKeyCredential`, `toJSON()` form.
    #[schema(value_type = Object)]
    credential: serde_json::Value,
}

/// The second step with a code of the authenticator app.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TotpStep {
    /// From the `mfa_required` answer of `POST /auth/login`.
    mfa_token: String,
    /// The app's code now (6 digits).
    totp: String,
}

/// The second step with one of the recovery codes.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecoveryCodeStep {
    /// From the `mfa_required` answer of `POST /auth/login`.
    mfa_token: String,
    /// As shown at enrolment (`7KQ4-MN2X-9HPD-3TAW`; case, dashes and
    /// spaces do not matter).
    recovery_code: String,
}

/// `POST /auth/login/mfa` → 200 TokenResponse and the refresh cookie.
#[utoipa::path(
    post,
    path = "/auth/login/mfa",
    tag = "auth",
    request_body = SecondStepBody,
    responses(
        (status = 200, description = "Logged in with two factors; the refresh cookie and the device cookie are set.", body = TokenResponse,
            headers(("Set-Cookie" = String, description = "The refresh cookie and the device cookie."))),
        (status = 400, description = "`invalid_input`: malformed body, or not exactly one of `totp`, `recovery_code` and `ceremony` + `credential` beside `mfa_token`.", body = ErrorBody),
        (status = 401, description = "`invalid_credentials`: a wrong, spent or replayed code or passkey assertion, or an `mfa_token` that is unknown, used, older than 5 minutes or past its fifth wrong code.", body = ErrorBody),
        (status = 413, description = "`payload_too_large`.", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`.", body = ErrorBody),
        (status = 429, description = "`too_many_attempts`: too many wrong codes or passwords for this username or address.", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
        (status = 503, description = "`unavailable`.", body = ErrorBody),
    )
)]
pub async fn login_second_factor(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<SecondStepBody>,
) -> Result<HttpResponse, ApiError> {
    let (mfa_token, proof, refused): (_, _, fn(LoginError) -> ApiError) = match body {
        SecondStepBody::Totp(b) => (b.mfa_token, Proof::Totp(b.totp), ApiError::for_code),
        SecondStepBody::RecoveryCode(b) => (
            b.mfa_token,
            Proof::RecoveryCode(b.recovery_code),
            ApiError::for_code,
        ),
        SecondStepBody::Passkey(b) => {
            let proof = Proof::Passkey {
                ceremony: b.ceremony,
                credential: b.credential,
            };
            (b.mfa_token, proof, |e| e.into())
        }
    };
    let login = &state.services.login;
    let device = cookies::read_device(&req);
    let now = state.clock.now();
    let (grant, device) = login
        .second_factor(&mfa_token, proof, device.as_deref(), &caller, now)
        .await
        .map_err(refused)?;
    access_log::note_user(&req, &grant.user.id);
    logged_in(&state, &grant, device)
}

/// A login's answer: the grant's, with the device cookie set too.
pub(crate) fn logged_in(
    state: &AppState,
    grant: &Grant,
    device: String,
) -> Result<HttpResponse, ApiError> {
    let mut res = grant_response(state, grant)?;
    res.add_cookie(&cookies::set_device(&state.cookie, device))
        .map_err(ApiError::internal)?;
    Ok(res)
}

/// `POST /auth/refresh`: rotates the cookie's token (see [`crate::sessions::Sessions::refresh`]).
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
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    require_csrf_header(&req)?;
    match rotate(&req, &state, &caller).await {
        Err(e) if e.status_code() == 401 => {
            let mut res = e.error_response();
            res.add_cookie(&cookies::clear(&state.cookie))
                .map_err(ApiError::internal)?;
            Ok(res)
        }
        other => other,
    }
}

async fn rotate(
    req: &HttpRequest,
    state: &AppState,
    caller: &Caller,
) -> Result<HttpResponse, ApiError> {
    let sessions = &state.services.sessions;
    let Some(value) = cookies::read(req, &state.cookie) else {
        sessions.count_unusable_token();
        return Err(ApiError::MissingRefreshToken);
    };
    let Some(token) = RefreshToken::parse(&value) else {
        sessions.count_unusable_token();
        return Err(ApiError::InvalidRefreshToken(None));
    };
    match sessions.refresh(token, caller, state.clock.now()).await? {
        Refreshed::Granted(grant) => {
            access_log::note_user(req, &grant.user.id);
            grant_response(state, &grant)
        }
        Refreshed::Ended(_, Some(reuse)) => Err(ApiError::RefreshTokenReused(reuse.cause)),
        Refreshed::Ended(reason @ (EndReason::Expired | EndReason::Idle), _)
        | Refreshed::Refused(Some(reason @ (EndReason::Expired | EndReason::Idle))) => {
            Err(ApiError::SessionExpired(reason))
        }
        Refreshed::Ended(reason, None) => Err(ApiError::InvalidRefreshToken(Some(reason))),
        Refreshed::Refused(reason) => Err(ApiError::InvalidRefreshToken(reason)),
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
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    require_csrf_header(&req)?;
    if let Some(token) = cookies::read(&req, &state.cookie).and_then(|v| RefreshToken::parse(&v)) {
        let (which, now) = (Which::Token(token), state.clock.now());
        let sessions = &state.services.sessions;
        sessions
            .end(which, EndReason::Logout, &caller, None, now)
            .await?;
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
    HttpResponse::Ok().json(PolicyView {
        rules: (state.proxy.policy.load().view_for(&claims.role_set()))
            .into_iter()
            .map(PolicyRule::from)
            .collect(),
    })
}

/// 200 TokenResponse with the grant's refresh token in the cookie.
pub(crate) fn grant_response(state: &AppState, grant: &Grant) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    let cookie = cookies::set(&state.cookie, &grant.refresh, grant.session.remaining(now));
    let mut res = token_response(state, &grant.user, &grant.session)?;
    res.add_cookie(&cookie).map_err(ApiError::internal)?;
    Ok(res)
}

/// 200 TokenResponse: a new access token of `session`, which says how the
/// session authenticated.
pub(crate) fn token_response(
    state: &AppState,
    user: &User,
    session: &Session,
) -> Result<HttpResponse, ApiError> {
    let auth = session.authentication();
    let now = state.clock.now();
    let ends = session.expires_at.and_utc();
    let issued = state
        .tokens
        .load()
        .sign(user, &session.id, &auth, now, ends)
        .map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok().json(TokenResponse {
        access_token: issued.token,
        token_type: "Bearer",
        expires_in: issued.expires_in,
        user: UserBody::from(user),
    }))
}
