//! Request extractors: the bearer-token identity ([`Authenticated`]), the
//! admin check ([`Admin`]), the JSON body of the auth routes, who is
//! asking ([`Caller`], with the client's address by the rules of
//! [`crate::client_addr`]), and the CSRF header check. Who may call what is
//! decided here and nowhere else.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::StreamExt;
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;

use super::access_log;
use super::error::ApiError;
use super::state::AppState;
use crate::auth::authn::{ACR_MFA, Requirement};
use crate::auth::tokens::Claims;
use crate::auth::{Role, User};
use crate::client_addr::{TrustedProxies, canonical};
use crate::config::MfaPolicy;
use crate::db::users;
use crate::events::Caller;

/// Largest JSON body the auth routes read.
pub const JSON_LIMIT: usize = 64 * 1024;
/// How much of an oversized body is read and discarded (for at most
/// `limits::BODY_DEADLINE`), so the client gets the 413 instead of a reset
/// connection.
const DRAIN_LIMIT: usize = 16 * 1024 * 1024;

/// The verified claims of a live access token from `Authorization: Bearer`.
/// The refresh cookie never produces one.
pub struct Authenticated(pub Claims);

impl FromRequest for Authenticated {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(authenticate(req).map(|c| Authenticated(Arc::unwrap_or_clone(c))))
    }
}

/// Verifies the bearer token of `req`: signature, claims, and revocation.
/// A token verified before comes from the token cache, but its times and
/// its session's revocation are checked here on every call.
pub fn authenticate(req: &HttpRequest) -> Result<Arc<Claims>, ApiError> {
    let state = state(req)?;
    let token = bearer(req)?.ok_or(ApiError::InvalidToken)?;
    let claims = state
        .tokens
        .load()
        .verify_shared(token, state.clock.now())
        .map_err(|e| {
            log::debug!("access token refused: {e}");
            ApiError::InvalidToken
        })?;
    if state.revoked.is_revoked(&claims.sid) {
        return Err(ApiError::InvalidToken);
    }
    access_log::note_user(req, &claims.sub);
    if must_enrol_first(&state.mfa, &claims, req.path()) {
        return Err(ApiError::InsufficientUserAuthentication(Requirement::MFA));
    }
    Ok(claims)
}

/// Routes a holder of a role in `PORTCULLIS_MFA_REQUIRED_ROLES` may call
/// with a password-only token (contract §9): enough to see who they are,
/// enrol a second factor, step up and leave.
const OPEN_BEFORE_ENROLMENT: [&str; 6] = [
    "/auth/me",
    "/auth/mfa",
    "/auth/passkeys",
    "/auth/step-up",
    "/auth/logout",
    "/auth/refresh",
];

/// Whether the caller holds a role that needs a second factor, has none
/// in this token, and calls a route beyond enrolling one.
fn must_enrol_first(mfa: &MfaPolicy, claims: &Claims, path: &str) -> bool {
    if mfa.required_roles.is_empty() || claims.acr == ACR_MFA {
        return false;
    }
    let roles = claims.role_set();
    mfa.required_roles.iter().any(|r| roles.contains(*r))
        && !OPEN_BEFORE_ENROLMENT.iter().any(|p| path.starts_with(p))
}

/// A caller whose token authenticated at most [`RECENT_SECS`] ago: the
/// routes that add or remove a factor (contract §9) take this.
pub struct Recent(pub Claims);

/// How recent an authentication the factor routes ask for.
pub const RECENT_SECS: i64 = 300;

impl FromRequest for Recent {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(authenticate(req).and_then(|claims| {
            let now = state(req)?.clock.now().timestamp();
            match Requirement::recent(RECENT_SECS).unmet(&claims.acr, claims.auth_time, now) {
                None => Ok(Recent(Arc::unwrap_or_clone(claims))),
                Some(unmet) => Err(ApiError::InsufficientUserAuthentication(unmet)),
            }
        }))
    }
}

/// A caller who is an admin *now*: the bearer token is verified as for
/// [`Authenticated`], then the user's roles and disabled flag are read
/// again from the database, so a demoted or disabled admin is refused at
/// once (`403 forbidden`), not at their next refresh. With
/// `PORTCULLIS_ADMIN_REQUIRE_MFA`, the token must also say `acr` `"mfa"`.
pub struct Admin {
    /// The admin as the database has them at this request.
    pub user: User,
}

impl FromRequest for Admin {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let checked = authenticate(req).and_then(|claims| {
            let state = state(req)?;
            Ok((claims, state.db.clone(), state.mfa.admin_require_mfa))
        });
        Box::pin(async move {
            let (claims, db, require_mfa) = checked?;
            let id = claims.sub.clone();
            let user = match db.read(move |c| users::find_by_id(c, &id)).await? {
                Some(user) if !user.disabled && user.roles.contains(Role::Admin) => user,
                _ => return Err(ApiError::Forbidden),
            };
            if require_mfa && claims.acr != ACR_MFA {
                return Err(ApiError::InsufficientUserAuthentication(Requirement::MFA));
            }
            Ok(Admin { user })
        })
    }
}

/// The bearer token, if any. Two `Authorization` headers are refused: the
/// one checked here and the one an upstream or a log reads could differ.
fn bearer(req: &HttpRequest) -> Result<Option<&str>, ApiError> {
    let mut values = req.headers().get_all(header::AUTHORIZATION);
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(ApiError::InvalidInput(
            "Send one Authorization header, not several.".into(),
        ));
    }
    let token = value.to_str().ok().and_then(|value| {
        let (scheme, token) = value.split_once(' ')?;
        scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim())
            .filter(|t| !t.is_empty())
    });
    Ok(token)
}

/// State-changing cookie routes need `X-CSRF: 1`. A cross-site form cannot
/// set a custom header, and a cross-site script cannot either without a
/// CORS preflight that only allowed origins pass.
pub fn require_csrf_header(req: &HttpRequest) -> Result<(), ApiError> {
    match req.headers().get("x-csrf") {
        Some(v) if v.as_bytes() == b"1" => Ok(()),
        _ => Err(ApiError::CsrfCheckFailed),
    }
}

/// The client's address by the trusted-proxy rule
/// ([`TrustedProxies::client`]).
pub fn client_ip(req: &HttpRequest, trusted: &TrustedProxies) -> IpAddr {
    let forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok());
    trusted.client(peer_ip(req), forwarded)
}

/// The address of the connection's other end, in [`canonical`] form.
pub fn peer_ip(req: &HttpRequest) -> IpAddr {
    req.peer_addr()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |a| canonical(a.ip()))
}

/// Longest `User-Agent` a session records, in characters.
const USER_AGENT_CHARS: usize = 256;

/// Who is asking: the client's address, its `User-Agent` (cut to 256
/// characters) and the request's id, for the services' records and events.
impl FromRequest for Caller {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(state(req).map(|state| {
            Caller {
                addr: Some(client_ip(req, &state.trusted_proxies)),
                user_agent: req
                    .headers()
                    .get(header::USER_AGENT)
                    .and_then(|v| v.to_str().ok())
                    .map(|ua| ua.chars().take(USER_AGENT_CHARS).collect()),
                request_id: access_log::request_id(req).map(|id| id.as_str().to_owned()),
            }
        }))
    }
}

fn state(req: &HttpRequest) -> Result<&AppState, ApiError> {
    req.app_data::<web::Data<AppState>>()
        .map(|data| data.get_ref())
        .ok_or_else(|| ApiError::internal("AppState missing"))
}

/// A JSON request body of at most [`JSON_LIMIT`] bytes. Another content
/// type is 415, an oversized body 413, malformed JSON 400.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for JsonBody<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|essence| {
                let essence = essence.trim().to_ascii_lowercase();
                essence == "application/json"
                    || (essence.starts_with("application/") && essence.ends_with("+json"))
            })
            .unwrap_or(false);
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let mut payload = payload.take();
        Box::pin(async move {
            if declared.is_some_and(|n| n > DRAIN_LIMIT) {
                return Err(ApiError::PayloadTooLarge);
            }
            let too_large =
                |seen: usize| seen > JSON_LIMIT || declared.is_some_and(|n| n > JSON_LIMIT);
            let mut body = web::BytesMut::new();
            let mut seen = 0usize;
            // the body is on the clock of `limits::bound_clients`: a slow
            // one ends in an error here
            while let Some(chunk) = payload.next().await {
                let chunk = match chunk {
                    Ok(chunk) => chunk,
                    // what was declared or read is already too much
                    Err(_) if too_large(seen) => return Err(ApiError::PayloadTooLarge),
                    Err(e) => return Err(ApiError::for_body(&e)),
                };
                seen += chunk.len();
                if seen > DRAIN_LIMIT {
                    break;
                }
                if seen <= JSON_LIMIT {
                    body.extend_from_slice(&chunk);
                }
            }
            if !is_json {
                return Err(ApiError::UnsupportedMediaType);
            }
            if seen > JSON_LIMIT {
                return Err(ApiError::PayloadTooLarge);
            }
            serde_json::from_slice(&body)
                .map(JsonBody)
                .map_err(|e| ApiError::InvalidInput(describe_json_error(&e)))
        })
    }
}

/// A message about a JSON error that never quotes the offending value
/// (it might be a password).
fn describe_json_error(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    match e.classify() {
        Category::Syntax | Category::Eof | Category::Io => {
            "The request body is not valid JSON.".into()
        }
        Category::Data => {
            let text = e.to_string();
            let field = text
                .split('`')
                .nth(1)
                .filter(|_| text.starts_with("missing field") || text.starts_with("unknown field"));
            match field {
                Some(name) if text.starts_with("missing") => {
                    format!("The field `{name}` is required.")
                }
                Some(name) => format!("The field `{name}` is not expected."),
                None => "A field of the request body has the wrong type.".into(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_errors_never_quote_values() {
        #[derive(Debug, serde::Deserialize)]
        #[expect(dead_code, reason = "read only by serde")]
        struct Body {
            password: u32,
        }
        let err = serde_json::from_str::<Body>(r#"{"password": "hunter2hunter2"}"#).unwrap_err();
        assert!(!describe_json_error(&err).contains("hunter2"));
        let err = serde_json::from_str::<Body>("{}").unwrap_err();
        assert_eq!(
            describe_json_error(&err),
            "The field `password` is required."
        );
    }
}
