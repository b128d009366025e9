//! Request extractors: the bearer-token identity ([`Authenticated`]), the
//! admin check ([`Admin`]), the JSON body of the auth routes, the client
//! address, and the CSRF header check. Who may call what is decided here
//! and nowhere else.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::StreamExt;
use futures_util::future::LocalBoxFuture;
use ipnet::IpNet;
use serde::de::DeserializeOwned;

use super::AppState;
use super::error::ApiError;
use crate::auth::tokens::Claims;
use crate::auth::{Role, User};
use crate::db::users;

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
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::internal("AppState missing"))?;
    let token = bearer(req)?.ok_or(ApiError::InvalidToken)?;
    let claims = state
        .tokens
        .verify_shared(token, state.clock.now())
        .map_err(|e| {
            log::debug!("access token refused: {e}");
            ApiError::InvalidToken
        })?;
    if state.revoked.is_revoked(&claims.sid) {
        return Err(ApiError::InvalidToken);
    }
    super::access::note_user(req, &claims.sub);
    Ok(claims)
}

/// A caller who is an admin *now*: the bearer token is verified as for
/// [`Authenticated`], then the user's roles and disabled flag are read
/// again from the database, so a demoted or disabled admin is refused at
/// once (`403 forbidden`), not at their next refresh.
pub struct Admin {
    pub claims: Claims,
    /// The admin as the database has them at this request.
    pub user: User,
}

impl FromRequest for Admin {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let checked = authenticate(req).and_then(|claims| {
            let state = req
                .app_data::<web::Data<AppState>>()
                .ok_or_else(|| ApiError::internal("AppState missing"))?;
            Ok((claims, state.db.clone()))
        });
        Box::pin(async move {
            let (claims, db) = checked?;
            let id = claims.sub.clone();
            match db.read(move |c| users::find_by_id(c, &id)).await? {
                Some(user) if !user.disabled && user.roles.contains(Role::Admin) => Ok(Admin {
                    claims: Arc::unwrap_or_clone(claims),
                    user,
                }),
                _ => Err(ApiError::Forbidden),
            }
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

/// The client's address: the peer, or — when the peer is a trusted proxy —
/// the right-most `X-Forwarded-For` entry that is not itself trusted.
/// Always in [`canonical`] form: throttling buckets and forwarded headers
/// both get it from here (or from [`peer_ip`]).
pub fn client_ip(req: &HttpRequest, trusted: &[IpNet]) -> IpAddr {
    let peer = peer_ip(req);
    let forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok());
    resolve_client_ip(peer, forwarded, trusted)
}

/// The address of the connection's other end, in [`canonical`] form.
pub fn peer_ip(req: &HttpRequest) -> IpAddr {
    req.peer_addr()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |a| canonical(a.ip()))
}

/// The one address normaliser: an IPv4-mapped IPv6 address
/// (`::ffff:a.b.c.d`, how a dual-stack listener such as `[::]:8080` sees
/// every IPv4 client) is that IPv4 address. Without it every IPv4 client
/// would fall in one IPv6 /64 throttling bucket.
pub fn canonical(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

/// Whether `ip` is one of the configured trusted proxies, whichever form
/// (IPv4 or IPv4-mapped IPv6) either is written in.
pub fn is_trusted(ip: &IpAddr, trusted: &[IpNet]) -> bool {
    let ip = canonical(*ip);
    let mapped = match ip {
        IpAddr::V4(v4) => Some(IpAddr::V6(v4.to_ipv6_mapped())),
        IpAddr::V6(_) => None,
    };
    trusted
        .iter()
        .any(|net| net.contains(&ip) || mapped.is_some_and(|m| net.contains(&m)))
}

/// See [`client_ip`]; pure for testing.
pub fn resolve_client_ip<'a>(
    peer: IpAddr,
    forwarded: impl Iterator<Item = &'a str>,
    trusted: &[IpNet],
) -> IpAddr {
    let peer = canonical(peer);
    if !is_trusted(&peer, trusted) {
        return peer;
    }
    let hops: Vec<&str> = forwarded
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        match hop.parse::<IpAddr>().map(canonical) {
            // an unparseable hop ends what can be believed
            Err(_) => break,
            Ok(ip) if is_trusted(&ip, trusted) => client = ip,
            Ok(ip) => return ip,
        }
    }
    client
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

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_for_is_ignored_from_untrusted_peers() {
        let trusted = ["10.0.0.0/8".parse().unwrap()];
        assert_eq!(
            resolve_client_ip(ip("203.0.113.9"), ["1.2.3.4"].into_iter(), &trusted),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn forwarded_for_from_a_trusted_proxy_names_the_first_untrusted_hop() {
        let trusted = ["10.0.0.0/8".parse().unwrap()];
        assert_eq!(
            resolve_client_ip(
                ip("10.0.0.1"),
                ["6.6.6.6, 198.51.100.7, 10.0.0.2"].into_iter(),
                &trusted
            ),
            ip("198.51.100.7")
        );
        assert_eq!(
            resolve_client_ip(ip("10.0.0.1"), ["garbage, 10.0.0.5"].into_iter(), &trusted),
            ip("10.0.0.5")
        );
    }

    #[test]
    fn ipv4_mapped_addresses_are_read_as_ipv4_everywhere() {
        assert_eq!(canonical(ip("::ffff:192.0.2.7")), ip("192.0.2.7"));
        assert_eq!(canonical(ip("2001:db8::1")), ip("2001:db8::1"));
        assert_eq!(canonical(ip("192.0.2.7")), ip("192.0.2.7"));
        // trusted proxies match in either form, configured in either form
        for net in ["10.0.0.1/32", "::ffff:10.0.0.1/128", "::ffff:10.0.0.0/104"] {
            let trusted = [net.parse().unwrap()];
            assert!(is_trusted(&ip("10.0.0.1"), &trusted), "{net}");
            assert!(is_trusted(&ip("::ffff:10.0.0.1"), &trusted), "{net}");
            assert!(!is_trusted(&ip("10.0.1.1"), &trusted) || net.ends_with("/104"));
        }
        // a hop written as a mapped address is the IPv4 client, through a
        // proxy seen as a mapped address
        let trusted = ["10.0.0.0/8".parse().unwrap()];
        assert_eq!(
            resolve_client_ip(
                ip("10.0.0.1"),
                ["::ffff:198.51.100.7, ::ffff:10.0.0.2"].into_iter(),
                &trusted
            ),
            ip("198.51.100.7")
        );
    }

    #[test]
    fn json_errors_never_quote_values() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
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
