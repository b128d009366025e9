//! The one error type at the HTTP edge, and the middleware that gives every
//! other error (actix's own: unknown route, wrong method, CORS refusals…)
//! the same JSON shape: `{"error": code, "message": sentence}`.
//!
//! 5xx bodies are opaque; their cause goes to the log. No message ever
//! echoes a password or token.

use actix_http::error::PayloadError;
use actix_web::body::{BoxBody, EitherBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, ResponseError};

use crate::accounts::AccountError;
use crate::auth::authn::{ACR_MFA, Requirement};
use crate::db::DbError;
use crate::factors::FactorError;
use crate::login::LoginError;
use crate::oidc::OidcError;
use crate::sessions::{EndReason, ReuseCause};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    InvalidInput(String),
    /// A request a protocol peer (an OpenID Provider) sent that is not
    /// valid: `invalid_request`.
    #[error("{0}")]
    InvalidRequest(String),
    #[error("The request body must be JSON (Content-Type: application/json).")]
    UnsupportedMediaType,
    #[error("The request body is too large.")]
    PayloadTooLarge,
    #[error("The request body did not arrive in time.")]
    RequestTimeout,
    #[error("Unknown user or wrong password.")]
    InvalidCredentials,
    /// `invalid_credentials` where a code was checked: a wrong, spent or
    /// replayed code, or a sign-in that is over.
    #[error("Wrong or already used code, or the sign-in is over.")]
    InvalidCode,
    /// The password was right; a second factor is due with `mfa_token`.
    #[error("A second factor is required to finish signing in.")]
    MfaRequired {
        mfa_token: String,
        methods: Vec<&'static str>,
    },
    /// The token's authentication is too weak or too old for the route
    /// (RFC 9470): what is unmet.
    #[error("{}", challenge_sentence(.0))]
    InsufficientUserAuthentication(Requirement),
    #[error("The access token is missing, invalid, expired or revoked.")]
    InvalidToken,
    #[error("No refresh token was sent.")]
    MissingRefreshToken,
    /// An unknown token, or one of a session that ended (for this reason).
    #[error("The refresh token is invalid or its session has ended.")]
    InvalidRefreshToken(Option<EndReason>),
    /// A spent token presented after the grace period: its session ended
    /// now, and this is what the reuse looked like.
    #[error("The refresh token was already used; the session has been revoked.")]
    RefreshTokenReused(ReuseCause),
    /// The session's lifetime (or idle time) is over.
    #[error("The session has expired; please log in again.")]
    SessionExpired(EndReason),
    #[error("This request needs the header X-CSRF: 1.")]
    CsrfCheckFailed,
    #[error("Your roles do not allow this request.")]
    Forbidden,
    #[error("Registration is disabled.")]
    RegistrationDisabled,
    #[error("Nothing here.")]
    NotFound,
    #[error("This method is not allowed here.")]
    MethodNotAllowed,
    #[error("That username is taken.")]
    UsernameTaken,
    #[error("Too many attempts; try again in {retry_after} seconds.")]
    TooManyAttempts { retry_after: u64 },
    #[error("The upstream service could not be reached.")]
    UpstreamUnavailable,
    #[error("The upstream service did not answer in time.")]
    UpstreamTimeout,
    #[error("The service is temporarily unavailable.")]
    Unavailable,
    #[error("Internal error.")]
    Internal(String),
}

impl ApiError {
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::InvalidInput(_) => "invalid_input",
            ApiError::InvalidRequest(_) => "invalid_request",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::PayloadTooLarge => "payload_too_large",
            ApiError::RequestTimeout => "request_timeout",
            ApiError::InvalidCredentials | ApiError::InvalidCode => "invalid_credentials",
            ApiError::MfaRequired { .. } => "mfa_required",
            ApiError::InsufficientUserAuthentication(_) => "insufficient_user_authentication",
            ApiError::InvalidToken => "invalid_token",
            ApiError::MissingRefreshToken => "missing_refresh_token",
            ApiError::InvalidRefreshToken(_) => "invalid_refresh_token",
            ApiError::RefreshTokenReused(_) => "refresh_token_reused",
            ApiError::SessionExpired(_) => "session_expired",
            ApiError::CsrfCheckFailed => "csrf_check_failed",
            ApiError::Forbidden => "forbidden",
            ApiError::RegistrationDisabled => "registration_disabled",
            ApiError::NotFound => "not_found",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::UsernameTaken => "username_taken",
            ApiError::TooManyAttempts { .. } => "too_many_attempts",
            ApiError::UpstreamUnavailable => "upstream_unavailable",
            ApiError::UpstreamTimeout => "upstream_timeout",
            ApiError::Unavailable => "unavailable",
            ApiError::Internal(_) => "internal",
        }
    }

    /// An unexpected failure: the cause is logged, the client learns nothing.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        ApiError::Internal(cause.to_string())
    }

    /// What a failed request body means for the client: out of time (an
    /// I/O error of kind `TimedOut`, as `http::limits` ends a slow body:
    /// 408), too large (413), or malformed or cut short (400) — never the
    /// upstream's fault.
    pub fn for_body(e: &PayloadError) -> Self {
        match e {
            PayloadError::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => {
                ApiError::RequestTimeout
            }
            PayloadError::Overflow => ApiError::PayloadTooLarge,
            _ => ApiError::InvalidInput("The request body is malformed or incomplete.".into()),
        }
    }

    /// The generic error for a status that actix (not our code) produced.
    fn for_status(status: StatusCode) -> Self {
        match status.as_u16() {
            401 => ApiError::InvalidToken,
            403 => ApiError::Forbidden,
            404 => ApiError::NotFound,
            405 => ApiError::MethodNotAllowed,
            408 => ApiError::RequestTimeout,
            413 => ApiError::PayloadTooLarge,
            415 => ApiError::UnsupportedMediaType,
            429 => ApiError::TooManyAttempts { retry_after: 1 },
            502 => ApiError::UpstreamUnavailable,
            503 => ApiError::Unavailable,
            504 => ApiError::UpstreamTimeout,
            400..=499 => ApiError::InvalidInput("The request is not valid.".into()),
            _ => ApiError::Internal(format!("status {status}")),
        }
    }

    fn body(&self) -> serde_json::Value {
        let mut body = serde_json::json!({ "error": self.code(), "message": self.to_string() });
        match self {
            ApiError::MfaRequired { mfa_token, methods } => {
                body["mfa_token"] = mfa_token.as_str().into();
                body["methods"] = methods.clone().into();
            }
            ApiError::InsufficientUserAuthentication(unmet) => {
                body["acr_values"] = unmet.mfa.then_some(ACR_MFA).into();
                body["max_age"] = unmet.max_age.into();
            }
            ApiError::InvalidRefreshToken(Some(reason)) | ApiError::SessionExpired(reason) => {
                body["reason"] = reason.as_str().into();
            }
            ApiError::RefreshTokenReused(cause) => {
                body["reason"] = EndReason::ReuseDetected.as_str().into();
                body["cause"] = cause.as_str().into();
            }
            _ => {}
        }
        body
    }
}

impl From<LoginError> for ApiError {
    fn from(e: LoginError) -> Self {
        match e {
            LoginError::InvalidCredentials => ApiError::InvalidCredentials,
            LoginError::Throttled { secs, .. } => ApiError::TooManyAttempts { retry_after: secs },
            LoginError::Busy => ApiError::TooManyAttempts { retry_after: 1 },
            LoginError::Hash(e) => ApiError::internal(e),
            LoginError::Db(e) => e.into(),
        }
    }
}

impl ApiError {
    /// A refused check of a second factor's code: `invalid_credentials`,
    /// in words that speak of a code.
    pub fn for_code(e: LoginError) -> Self {
        match e {
            LoginError::InvalidCredentials => ApiError::InvalidCode,
            other => other.into(),
        }
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::Unavailable(_) | DbError::Blocking => {
                log::error!("database unavailable: {e}");
                ApiError::Unavailable
            }
            other => ApiError::internal(other),
        }
    }
}

impl From<OidcError> for ApiError {
    fn from(e: OidcError) -> Self {
        match e {
            OidcError::NotFound => ApiError::NotFound,
            OidcError::Db(e) => e.into(),
            OidcError::InvalidLogoutToken(why) => {
                ApiError::InvalidRequest(format!("The logout token is not valid: {why}."))
            }
            other => ApiError::InvalidRequest(other.to_string()),
        }
    }
}

impl From<FactorError> for ApiError {
    fn from(e: FactorError) -> Self {
        match e {
            FactorError::NotOffered
            | FactorError::NotEnabled
            | FactorError::UnknownUser
            | FactorError::NothingPending
            | FactorError::NoFactor
            | FactorError::PasskeysNotOffered
            | FactorError::NoPasskey => ApiError::NotFound,
            FactorError::PasskeyRefused => ApiError::InvalidInput(
                "The passkey was not accepted (or its ceremony is over): start again.".into(),
            ),
            FactorError::BadName => {
                ApiError::InvalidInput("A passkey's name has 1 to 64 characters.".into())
            }
            FactorError::WrongCode => ApiError::InvalidInput(
                "That code is not the one the authenticator app shows now.".into(),
            ),
            FactorError::Db(e) => e.into(),
        }
    }
}

impl From<AccountError> for ApiError {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::InvalidInput(message) => ApiError::InvalidInput(message),
            AccountError::UsernameTaken => ApiError::UsernameTaken,
            AccountError::UnknownUser => ApiError::NotFound,
            AccountError::Login(e) => e.into(),
            AccountError::Db(e) => e.into(),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        let code = match self {
            ApiError::InvalidInput(_) | ApiError::InvalidRequest(_) => 400,
            ApiError::UnsupportedMediaType => 415,
            ApiError::PayloadTooLarge => 413,
            ApiError::RequestTimeout => 408,
            ApiError::InvalidCredentials
            | ApiError::InvalidCode
            | ApiError::MfaRequired { .. }
            | ApiError::InsufficientUserAuthentication(_)
            | ApiError::InvalidToken
            | ApiError::MissingRefreshToken
            | ApiError::InvalidRefreshToken(_)
            | ApiError::RefreshTokenReused(_)
            | ApiError::SessionExpired(_) => 401,
            ApiError::CsrfCheckFailed | ApiError::Forbidden | ApiError::RegistrationDisabled => 403,
            ApiError::NotFound => 404,
            ApiError::MethodNotAllowed => 405,
            ApiError::UsernameTaken => 409,
            ApiError::TooManyAttempts { .. } => 429,
            ApiError::UpstreamUnavailable => 502,
            ApiError::Unavailable => 503,
            ApiError::UpstreamTimeout => 504,
            ApiError::Internal(_) => 500,
        };
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Internal(cause) = self {
            log::error!("internal error: {cause}");
        }
        let mut res = HttpResponse::build(self.status_code());
        match self {
            ApiError::InvalidToken => {
                res.insert_header((header::WWW_AUTHENTICATE, r#"Bearer error="invalid_token""#));
            }
            ApiError::TooManyAttempts { retry_after } => {
                res.insert_header((header::RETRY_AFTER, retry_after.to_string()));
            }
            ApiError::InsufficientUserAuthentication(unmet) => {
                res.insert_header((header::WWW_AUTHENTICATE, challenge(unmet)));
            }
            _ => {}
        }
        res.json(self.body())
    }
}

/// The RFC 9470 challenge for what is unmet, only the parameters that
/// apply: `Bearer error="insufficient_user_authentication",
/// error_description="…", acr_values="mfa", max_age=300`.
pub fn challenge(unmet: &Requirement) -> String {
    let mut value = format!(
        r#"Bearer error="insufficient_user_authentication", error_description="{}""#,
        challenge_sentence(unmet)
    );
    if unmet.mfa {
        value.push_str(&format!(r#", acr_values="{ACR_MFA}""#));
    }
    if let Some(max_age) = unmet.max_age {
        value.push_str(&format!(", max_age={max_age}"));
    }
    value
}

/// What the client must do, in words (no `"` or `\`: it is quoted as is).
fn challenge_sentence(unmet: &Requirement) -> &'static str {
    match (unmet.mfa, unmet.max_age.is_some()) {
        (true, true) => "A second factor and a more recent authentication are required.",
        (true, false) => "A second factor is required.",
        _ => "A more recent authentication is required.",
    }
}

/// Handler for paths that name nothing.
pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound)
}

/// Middleware body: rewrites any error response that is not already ours
/// into the JSON shape, keeping its status and headers.
pub async fn json_errors<B>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B, BoxBody>>, actix_web::Error>
where
    B: actix_web::body::MessageBody + 'static,
{
    let res = match next.call(req).await {
        Ok(res) => res,
        Err(err) if err.as_error::<ApiError>().is_some() => return Err(err),
        Err(err) => {
            // no request to attach a response to: answer with an error
            // whose rendering is the JSON one
            let json = rewrite(&err.error_response());
            return Err(
                actix_web::error::InternalError::from_response(err.to_string(), json).into(),
            );
        }
    };
    let foreign = res
        .response()
        .error()
        .is_some_and(|e| e.as_error::<ApiError>().is_none());
    if !foreign {
        return Ok(res.map_into_left_body());
    }
    if let Some(err) = res.response().error() {
        log::debug!("{} from {}: {err}", res.status(), res.request().path());
    }
    let new = rewrite(res.response());
    Ok(ServiceResponse::new(res.into_parts().0, new).map_into_right_body())
}

/// The JSON error for `old`'s status, with `old`'s headers.
fn rewrite<B>(old: &HttpResponse<B>) -> HttpResponse {
    let status = old.status();
    let mut new = ApiError::for_status(status).error_response();
    *new.status_mut() = status;
    for (name, value) in old.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            new.headers_mut().append(name.clone(), value.clone());
        }
    }
    new.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    new
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_step_up_challenge_is_rfc_9470_with_only_what_applies() {
        let both = Requirement {
            mfa: true,
            max_age: Some(300),
        };
        assert_eq!(
            challenge(&both),
            r#"Bearer error="insufficient_user_authentication", error_description="A second factor and a more recent authentication are required.", acr_values="mfa", max_age=300"#
        );
        assert_eq!(
            challenge(&Requirement::MFA),
            r#"Bearer error="insufficient_user_authentication", error_description="A second factor is required.", acr_values="mfa""#
        );
        assert_eq!(
            challenge(&Requirement::recent(5)),
            r#"Bearer error="insufficient_user_authentication", error_description="A more recent authentication is required.", max_age=5"#
        );
        let body = ApiError::InsufficientUserAuthentication(Requirement::MFA).body();
        assert_eq!(body["acr_values"], "mfa");
        assert!(body["max_age"].is_null());
    }

    #[test]
    fn body_errors_say_whose_fault_and_what_kind() {
        let timed_out = std::io::Error::new(std::io::ErrorKind::TimedOut, "slow");
        assert!(matches!(
            ApiError::for_body(&PayloadError::Io(timed_out)),
            ApiError::RequestTimeout
        ));
        assert!(matches!(
            ApiError::for_body(&PayloadError::Overflow),
            ApiError::PayloadTooLarge
        ));
        for malformed in [
            PayloadError::EncodingCorrupted,
            PayloadError::Incomplete(None),
            PayloadError::Io(std::io::Error::other("reset")),
        ] {
            assert!(matches!(
                ApiError::for_body(&malformed),
                ApiError::InvalidInput(_)
            ));
        }
    }
}
