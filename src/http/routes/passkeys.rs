//! The passkey routes (contract §9): a passwordless login (options for any
//! discoverable passkey, then the assertion), the options of a passkey
//! second step and of a step-up (the assertions themselves go to
//! `POST /auth/login/mfa` and `POST /auth/step-up`), and the caller's
//! passkeys: registered (with a recent authentication), listed, renamed,
//! removed (with a recent authentication).
//!
//! Options are `{"ceremony", "publicKey"}`: `publicKey` is what
//! `PublicKeyCredential.parseCreationOptionsFromJSON` /
//! `parseRequestOptionsFromJSON` read; a credential is what
//! `PublicKeyCredential.toJSON()` writes. Without `PORTCULLIS_PUBLIC_URL`
//! every route here answers `404 not_found`.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::events::Caller;
use crate::factors::passkeys::{Ceremony, PasskeyInfo};
use crate::http::access_log;
use crate::http::error::ApiError;
use crate::http::extract::{Authenticated, JsonBody, Recent};
use crate::http::routes::auth::logged_in;
use crate::http::schemas::{ErrorBody, StepUpBody};
use crate::http::state::AppState;

/// A ceremony begun: its id, and the options for the browser.
#[derive(Serialize, ToSchema)]
pub struct OptionsBody {
    /// Opaque, single use, valid 5 minutes: sent back with the credential.
    ceremony: String,
    /// `PublicKeyCredentialCreationOptionsJSON` or
    /// `PublicKeyCredentialRequestOptionsJSON` (WebAuthn Level 3).
    #[serde(rename = "publicKey")]
    #[schema(value_type = Object)]
    public_key: serde_json::Value,
}

impl From<Ceremony> for OptionsBody {
    fn from(c: Ceremony) -> Self {
        Self {
            ceremony: c.id,
            public_key: c.public_key,
        }
    }
}

/// An answer to a ceremony: the `PublicKeyCredential` in `toJSON()` form.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssertionBody {
    ceremony: String,
    #[schema(value_type = Object)]
    credential: serde_json::Value,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PendingBody {
    /// From the `mfa_required` answer of `POST /auth/login`.
    mfa_token: String,
}

/// A new passkey: the answer to `POST /auth/passkeys/options`, and a name.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegistrationBody {
    ceremony: String,
    #[schema(value_type = Object)]
    credential: serde_json::Value,
    /// 1 to 64 characters once trimmed, e.g. "Laptop".
    #[schema(min_length = 1, pattern = "\\S")]
    name: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenameBody {
    /// 1 to 64 characters once trimmed.
    #[schema(min_length = 1, pattern = "\\S")]
    name: String,
}

/// A passkey as its owner sees it.
#[derive(Serialize, ToSchema)]
pub struct PasskeyBody {
    id: String,
    name: String,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    last_used_at: Option<String>,
}

impl From<&PasskeyInfo> for PasskeyBody {
    fn from(p: &PasskeyInfo) -> Self {
        Self {
            id: p.id.clone(),
            name: p.name.clone(),
            created_at: p.created_at.to_rfc3339(),
            last_used_at: p.last_used_at.map(|t| t.to_rfc3339()),
        }
    }
}

/// A passkey just added (§9): no use yet to speak of.
#[derive(Serialize, ToSchema)]
pub struct CreatedBody {
    id: String,
    name: String,
    #[schema(format = DateTime)]
    created_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct PasskeysBody {
    passkeys: Vec<PasskeyBody>,
}

/// Options for a passwordless login (autofill or a button).
#[utoipa::path(
    post,
    path = "/auth/passkey/options",
    tag = "passkeys",
    responses(
        (status = 200, description = "Request options for any discoverable passkey (`userVerification: required`, no `allowCredentials`).", body = OptionsBody),
        (status = 404, description = "`not_found`: passkeys are not offered (no `PORTCULLIS_PUBLIC_URL`).", body = ErrorBody),
        (status = 503, description = "`unavailable`.", body = ErrorBody),
    )
)]
pub async fn login_options(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let factors = &state.services.factors;
    let ceremony = factors.begin_discovery(state.clock.now()).await?;
    Ok(HttpResponse::Ok().json(OptionsBody::from(ceremony)))
}

/// A passwordless login with a passkey.
#[utoipa::path(
    post,
    path = "/auth/passkey/login",
    tag = "passkeys",
    request_body = AssertionBody,
    responses(
        (status = 200, description = "Logged in (`amr` `hwk`, `user`; `acr` `mfa`); the refresh cookie and the device cookie are set.", body = crate::http::routes::auth::TokenResponse),
        (status = 400, description = "`invalid_input`: malformed body.", body = ErrorBody),
        (status = 401, description = "`invalid_credentials`: an unknown credential, a bad signature, a wrong origin or RP ID, no user verification, a counter that went backwards, a spent or expired ceremony, a disabled user.", body = ErrorBody),
        (status = 429, description = "`too_many_attempts`: too many failures from this address.", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
        (status = 413, description = "`payload_too_large`: the body is over 64 KiB.", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: the body is not JSON.", body = ErrorBody),
        (status = 503, description = "`unavailable`.", body = ErrorBody),
    )
)]
pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<AssertionBody>,
) -> Result<HttpResponse, ApiError> {
    let login = &state.services.login;
    let now = state.clock.now();
    let (grant, device) = login
        .with_passkey(&body.ceremony, &body.credential, &caller, now)
        .await?;
    access_log::note_user(&req, &grant.user.id);
    logged_in(&state, &grant, device)
}

/// Options for the second step of a login with a passkey.
#[utoipa::path(
    post,
    path = "/auth/login/mfa/passkey-options",
    tag = "passkeys",
    request_body = PendingBody,
    responses(
        (status = 200, description = "Request options for the user's passkeys; the assertion goes to `POST /auth/login/mfa` with `mfa_token` and `ceremony`.", body = OptionsBody),
        (status = 401, description = "`invalid_credentials`: the `mfa_token` is unknown, used or over, or its user has no passkey.", body = ErrorBody),
        (status = 400, description = "`invalid_input`: a malformed body.", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: the body is over 64 KiB.", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: the body is not JSON.", body = ErrorBody),
        (status = 503, description = "`unavailable`.", body = ErrorBody),
    )
)]
pub async fn second_step_options(
    state: web::Data<AppState>,
    JsonBody(body): JsonBody<PendingBody>,
) -> Result<HttpResponse, ApiError> {
    let login = &state.services.login;
    let ceremony = login
        .passkey_second_step(&body.mfa_token, state.clock.now())
        .await?;
    Ok(HttpResponse::Ok().json(OptionsBody::from(ceremony)))
}

/// Options for a step-up with a passkey.
#[utoipa::path(
    post,
    path = "/auth/step-up/passkey-options",
    tag = "passkeys",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Request options for the caller's passkeys; the assertion goes to `POST /auth/step-up` with `ceremony`.", body = OptionsBody),
        (status = 401, description = "`invalid_token`.", body = ErrorBody),
        (status = 404, description = "`not_found`: the caller has no passkey, or passkeys are not offered.", body = ErrorBody),
        (status = 503, description = "`unavailable`.", body = ErrorBody),
    )
)]
pub async fn step_up_options(
    state: web::Data<AppState>,
    Authenticated(claims): Authenticated,
) -> Result<HttpResponse, ApiError> {
    let factors = &state.services.factors;
    let ceremony = factors
        .begin_assertion(&claims.sub, state.clock.now())
        .await?;
    Ok(HttpResponse::Ok().json(OptionsBody::from(ceremony)))
}

/// Options for a new passkey of the caller.
#[utoipa::path(
    post,
    path = "/auth/passkeys/options",
    tag = "passkeys",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Creation options: resident key required, user verification required, the caller's passkeys excluded.", body = OptionsBody),
        (status = 401, description = "`invalid_token`, or `insufficient_user_authentication` (the last authentication is over 300 s old).", body = StepUpBody),
        (status = 404, description = "`not_found`: passkeys are not offered.", body = ErrorBody),
        (status = 503, description = "`unavailable`.", body = ErrorBody),
    )
)]
pub async fn registration_options(
    state: web::Data<AppState>,
    Recent(claims): Recent,
) -> Result<HttpResponse, ApiError> {
    let factors = &state.services.factors;
    let ceremony = factors
        .begin_registration(&claims.sub, &claims.name, state.clock.now())
        .await?;
    Ok(HttpResponse::Ok().json(OptionsBody::from(ceremony)))
}

/// Registers a new passkey of the caller.
#[utoipa::path(
    post,
    path = "/auth/passkeys",
    tag = "passkeys",
    security(("bearer" = [])),
    request_body = RegistrationBody,
    responses(
        (status = 201, description = "The passkey is the caller's; every other session of the caller has ended.", body = CreatedBody),
        (status = 400, description = "`invalid_input`: the authenticator's answer was not accepted (or the ceremony is spent or over), a name of the wrong length, a malformed body.", body = ErrorBody),
        (status = 401, description = "`invalid_token` or `insufficient_user_authentication`.", body = StepUpBody),
        (status = 404, description = "`not_found`: passkeys are not offered.", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: the body is over 64 KiB.", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: the body is not JSON.", body = ErrorBody),
        (status = 503, description = "`unavailable`.", body = ErrorBody),
    )
)]
pub async fn register(
    state: web::Data<AppState>,
    caller: Caller,
    Recent(claims): Recent,
    JsonBody(body): JsonBody<RegistrationBody>,
) -> Result<HttpResponse, ApiError> {
    let (factors, now) = (&state.services.factors, state.clock.now());
    let passkey = factors
        .register_passkey(
            &claims.sub,
            &body.ceremony,
            &body.credential,
            &body.name,
            &claims.sid,
            &caller,
            now,
        )
        .await?;
    Ok(HttpResponse::Created().json(CreatedBody {
        id: passkey.id,
        name: passkey.name,
        created_at: passkey.created_at.to_rfc3339(),
    }))
}

/// The caller's passkeys.
#[utoipa::path(
    get,
    path = "/auth/passkeys",
    tag = "passkeys",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's passkeys, oldest first.", body = PasskeysBody),
        (status = 401, description = "`invalid_token`.", body = ErrorBody),
        (status = 503, description = "`unavailable`.", body = ErrorBody),
    )
)]
pub async fn list(
    state: web::Data<AppState>,
    Authenticated(claims): Authenticated,
) -> Result<HttpResponse, ApiError> {
    let status = state.services.factors.status(&claims.sub).await?;
    Ok(HttpResponse::Ok().json(PasskeysBody {
        passkeys: status.passkeys.iter().map(PasskeyBody::from).collect(),
    }))
}

/// Renames one of the caller's passkeys.
#[utoipa::path(
    patch,
    path = "/auth/passkeys/{id}",
    tag = "passkeys",
    security(("bearer" = [])),
    request_body = RenameBody,
    params(("id" = String, Path, description = "The passkey's id.")),
    responses(
        (status = 200, description = "Renamed.", body = PasskeyBody),
        (status = 400, description = "`invalid_input`: a name of the wrong length, a malformed body.", body = ErrorBody),
        (status = 401, description = "`invalid_token`.", body = ErrorBody),
        (status = 404, description = "`not_found`: no passkey of the caller has that id.", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: the body is over 64 KiB.", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: the body is not JSON.", body = ErrorBody),
        (status = 503, description = "`unavailable`.", body = ErrorBody),
    )
)]
pub async fn rename(
    state: web::Data<AppState>,
    Authenticated(claims): Authenticated,
    id: web::Path<String>,
    JsonBody(body): JsonBody<RenameBody>,
) -> Result<HttpResponse, ApiError> {
    let factors = &state.services.factors;
    let passkey = factors.rename_passkey(&claims.sub, &id, &body.name).await?;
    Ok(HttpResponse::Ok().json(PasskeyBody::from(&passkey)))
}

/// Removes one of the caller's passkeys.
#[utoipa::path(
    delete,
    path = "/auth/passkeys/{id}",
    tag = "passkeys",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The passkey's id.")),
    responses(
        (status = 204, description = "Removed (and the recovery codes with it, when it was the last second factor); every other session of the caller has ended."),
        (status = 401, description = "`invalid_token` or `insufficient_user_authentication`.", body = StepUpBody),
        (status = 404, description = "`not_found`: no passkey of the caller has that id.", body = ErrorBody),
        (status = 503, description = "`unavailable`.", body = ErrorBody),
    )
)]
pub async fn remove(
    state: web::Data<AppState>,
    caller: Caller,
    Recent(claims): Recent,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (factors, now) = (&state.services.factors, state.clock.now());
    factors
        .remove_passkey(&claims.sub, &id, &claims.sid, &caller, now)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
