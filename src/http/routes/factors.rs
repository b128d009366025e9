//! The caller's second factors (contract §9), with a bearer token: what
//! they have (`GET /auth/mfa`), TOTP set up, confirmed and removed, new
//! recovery codes, and the step-up that re-authenticates the session.
//!
//! Adding or removing a factor needs an authentication at most 300 s old
//! ([`Recent`]); the factors service ends every other session of the user
//! when one changes.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::password::Password;
use crate::events::Caller;
use crate::factors::Proof;
use crate::http::error::ApiError;
use crate::http::extract::{Authenticated, JsonBody, Recent};
use crate::http::routes::auth::{TokenResponse, token_response};
use crate::http::routes::passkeys::PasskeyBody;
use crate::http::schemas::{ErrorBody, StepUpBody};
use crate::http::state::AppState;
use crate::login::{LoginError, Reauth, Signed};

/// The caller's second factors.
#[derive(Serialize, ToSchema)]
pub struct MfaStatusBody {
    /// TOTP is enabled.
    totp: bool,
    /// This gateway offers TOTP (it has an encryption key).
    totp_available: bool,
    passkeys: Vec<PasskeyBody>,
    /// This gateway offers passkeys (it has `PORTCULLIS_PUBLIC_URL`).
    passkeys_available: bool,
    recovery_codes_left: i64,
    /// The caller holds a role that must use a second factor.
    required: bool,
}

/// A TOTP setup: what an authenticator app needs, shown once.
#[derive(Serialize, ToSchema)]
pub struct TotpSetupBody {
    /// The seed in base32, for typing into an app.
    secret: String,
    /// `otpauth://totp/ISSUER:USER?secret=…&issuer=ISSUER` (Key Uri Format).
    otpauth_uri: String,
    /// The URI as a QR code, an SVG document.
    qr_svg: String,
}

#[derive(Deserialize, ToSchema)]
pub struct TotpConfirmBody {
    /// A code the app shows now for the seed just set up.
    code: String,
}

/// Recovery codes, shown once: each works once.
#[derive(Serialize, ToSchema)]
pub struct RecoveryCodesBody {
    /// Ten codes like `7KQ4-MN2X-9HPD-3TAW`.
    recovery_codes: Vec<String>,
}

/// `POST /auth/step-up`'s body: one of the password, a code of the
/// authenticator app, or a recovery code.
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
pub enum StepUpRequest {
    Password(PasswordProof),
    Totp(TotpProof),
    RecoveryCode(RecoveryCodeProof),
    Passkey(PasskeyProof),
}

/// A passkey's assertion, after `POST /auth/step-up/passkey-options`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasskeyProof {
    ceremony: String,
    /// The `PublicKeyCredential`, `toJSON()` form.
    #[schema(value_type = Object)]
    credential: serde_json::Value,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordProof {
    password: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TotpProof {
    /// The app's code now (6 digits).
    totp: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecoveryCodeProof {
    recovery_code: String,
}

/// What the caller has.
#[utoipa::path(
    get,
    path = "/auth/mfa",
    tag = "factors",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's second factors.", body = MfaStatusBody),
        (status = 401, description = "`invalid_token`.", body = ErrorBody),
        (status = 503, description = "`unavailable`.", body = ErrorBody),
    )
)]
pub async fn status(
    state: web::Data<AppState>,
    Authenticated(claims): Authenticated,
) -> Result<HttpResponse, ApiError> {
    let status = state.services.factors.status(&claims.sub).await?;
    let roles = claims.role_set();
    let required = state.mfa.required_roles.iter().any(|r| roles.contains(*r));
    Ok(HttpResponse::Ok().json(MfaStatusBody {
        totp: status.totp,
        totp_available: status.totp_available,
        passkeys: status.passkeys.iter().map(PasskeyBody::from).collect(),
        passkeys_available: status.passkeys_available,
        recovery_codes_left: status.recovery_codes_left,
        required,
    }))
}

/// Sets up TOTP: a new seed, pending until confirmed.
#[utoipa::path(
    post,
    path = "/auth/mfa/totp/setup",
    tag = "factors",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A new seed, pending until `POST /auth/mfa/totp/confirm`; a new setup replaces a pending one.", body = TotpSetupBody),
        (status = 401, description = "`invalid_token`, or `insufficient_user_authentication` (the last authentication is over 300 s old).", body = StepUpBody),
        (status = 404, description = "`not_found`: this gateway offers no TOTP (no encryption key).", body = ErrorBody),
        (status = 503, description = "`unavailable`.", body = ErrorBody),
    )
)]
pub async fn set_up_totp(
    state: web::Data<AppState>,
    Recent(claims): Recent,
) -> Result<HttpResponse, ApiError> {
    let factors = &state.services.factors;
    let setup = factors
        .set_up_totp(&claims.sub, &claims.name, state.clock.now())
        .await?;
    Ok(HttpResponse::Ok().json(TotpSetupBody {
        secret: setup.secret,
        otpauth_uri: setup.otpauth_uri,
        qr_svg: setup.qr_svg,
    }))
}

/// Confirms the pending TOTP with a code: TOTP is on.
#[utoipa::path(
    post,
    path = "/auth/mfa/totp/confirm",
    tag = "factors",
    security(("bearer" = [])),
    request_body = TotpConfirmBody,
    responses(
        (status = 200, description = "TOTP is on; ten recovery codes, shown once, replace any old ones; every other session of the caller has ended.", body = RecoveryCodesBody),
        (status = 400, description = "`invalid_input`: a code that is not the app's code now, or a malformed body.", body = ErrorBody),
        (status = 401, description = "`invalid_token` or `insufficient_user_authentication`.", body = StepUpBody),
        (status = 404, description = "`not_found`: no TOTP is set up to confirm, or this gateway offers no TOTP.", body = ErrorBody),
        (status = 413, description = "`payload_too_large`.", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`.", body = ErrorBody),
        (status = 503, description = "`unavailable`.", body = ErrorBody),
    )
)]
pub async fn confirm_totp(
    state: web::Data<AppState>,
    caller: Caller,
    Recent(claims): Recent,
    JsonBody(body): JsonBody<TotpConfirmBody>,
) -> Result<HttpResponse, ApiError> {
    let (factors, now) = (&state.services.factors, state.clock.now());
    let codes = factors
        .confirm_totp(&claims.sub, &body.code, &claims.sid, &caller, now)
        .await?;
    Ok(HttpResponse::Ok().json(RecoveryCodesBody {
        recovery_codes: codes,
    }))
}

/// Removes TOTP.
#[utoipa::path(
    delete,
    path = "/auth/mfa/totp",
    tag = "factors",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "TOTP is off (and the recovery codes with it, when it was the last factor); every other session of the caller has ended."),
        (status = 401, description = "`invalid_token` or `insufficient_user_authentication`.", body = StepUpBody),
        (status = 404, description = "`not_found`: TOTP is not on.", body = ErrorBody),
        (status = 503, description = "`unavailable`.", body = ErrorBody),
    )
)]
pub async fn remove_totp(
    state: web::Data<AppState>,
    caller: Caller,
    Recent(claims): Recent,
) -> Result<HttpResponse, ApiError> {
    let (factors, now) = (&state.services.factors, state.clock.now());
    factors
        .remove_totp(&claims.sub, &claims.sid, &caller, now)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Ten new recovery codes; the old ones die.
#[utoipa::path(
    post,
    path = "/auth/mfa/recovery-codes",
    tag = "factors",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Ten new recovery codes, shown once; the old ones no longer work.", body = RecoveryCodesBody),
        (status = 404, description = "`not_found`: the caller has no second factor to back up.", body = ErrorBody),
        (status = 401, description = "`invalid_token` or `insufficient_user_authentication`.", body = StepUpBody),
        (status = 503, description = "`unavailable`.", body = ErrorBody),
    )
)]
pub async fn new_recovery_codes(
    state: web::Data<AppState>,
    caller: Caller,
    Recent(claims): Recent,
) -> Result<HttpResponse, ApiError> {
    let (factors, now) = (&state.services.factors, state.clock.now());
    let codes = factors
        .new_recovery_codes(&claims.sub, &caller, now)
        .await?;
    Ok(HttpResponse::Ok().json(RecoveryCodesBody {
        recovery_codes: codes,
    }))
}

/// Re-authenticates the caller's session (RFC 9470 step-up).
#[utoipa::path(
    post,
    path = "/auth/step-up",
    tag = "factors",
    security(("bearer" = [])),
    request_body = StepUpRequest,
    responses(
        (status = 200, description = "A new access token of the same session (no new cookie): `auth_time` is now, and `acr`/`amr` rise when a second factor was used.", body = TokenResponse),
        (status = 400, description = "`invalid_input`: not exactly one of `password`, `totp`, `recovery_code`, `ceremony` + `credential`, or a malformed body.", body = ErrorBody),
        (status = 401, description = "`invalid_credentials` (wrong password, code or passkey assertion) or `invalid_token`.", body = ErrorBody),
        (status = 413, description = "`payload_too_large`.", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`.", body = ErrorBody),
        (status = 429, description = "`too_many_attempts`: throttled like a login.", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
        (status = 503, description = "`unavailable`.", body = ErrorBody),
    )
)]
pub async fn step_up(
    state: web::Data<AppState>,
    caller: Caller,
    Authenticated(claims): Authenticated,
    JsonBody(body): JsonBody<StepUpRequest>,
) -> Result<HttpResponse, ApiError> {
    let (proof, refused): (_, fn(LoginError) -> ApiError) = match body {
        StepUpRequest::Password(b) => (Reauth::Password(Password::new(b.password)), |e| e.into()),
        StepUpRequest::Totp(b) => (Reauth::Factor(Proof::Totp(b.totp)), ApiError::for_code),
        StepUpRequest::RecoveryCode(b) => (
            Reauth::Factor(Proof::RecoveryCode(b.recovery_code)),
            ApiError::for_code,
        ),
        StepUpRequest::Passkey(b) => (
            Reauth::Factor(Proof::Passkey {
                ceremony: b.ceremony,
                credential: b.credential,
            }),
            |e| e.into(),
        ),
    };
    let who = Signed {
        user_id: &claims.sub,
        username: &claims.name,
        session_id: &claims.sid,
    };
    let login = &state.services.login;
    let (user, session) = login
        .step_up(who, proof, &caller, state.clock.now())
        .await
        .map_err(refused)?;
    token_response(&state, &user, &session)
}
