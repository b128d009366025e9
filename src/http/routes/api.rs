//! `ANY /api/<rest>`: verify the bearer token, apply the role policy, and
//! stream the request to the configured upstream with the user's identity
//! attached (header rules in `proxy::headers`), and the answer back.
//! Redirects are passed back, never followed; no request can make the
//! gateway contact another host.

use std::cell::Cell;
use std::net::IpAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use actix_web::body::SizedStream;
use actix_web::http::{Method, header};
use actix_web::{HttpRequest, HttpResponse, web};
use awc::error::{ConnectError, SendRequestError};
use futures_util::StreamExt;

use crate::auth::tokens::Claims;
use crate::http::access_log;
use crate::http::error::ApiError;
use crate::http::extract::{authenticate, peer_ip};
use crate::http::prefixes::API;
use crate::http::state::AppState;
use crate::proxy::policy::{self, Decision, Policy};
use crate::proxy::{headers, path};

/// Idle upstream connections are dropped after this, below actix's (and
/// most servers') 5-second keep-alive, so a pooled connection is never one
/// the upstream has already closed.
const POOL_KEEP_ALIVE: Duration = Duration::from_secs(3);
/// How long a response body may take to stream once its headers arrived.
const BODY_TIMEOUT: Duration = Duration::from_secs(3600);

/// One pooled client per worker, with keep-alive to the upstream; `tls`
/// (for an `https://` upstream) says which roots it trusts.
pub fn client(timeout: Duration, tls: Option<Arc<rustls::ClientConfig>>) -> awc::Client {
    client_of(timeout, tls, 256)
}

/// [`client`] with at most `limit` connections at once (0: no limit).
pub(super) fn client_of(
    timeout: Duration,
    tls: Option<Arc<rustls::ClientConfig>>,
    limit: usize,
) -> awc::Client {
    let connector = awc::Connector::new()
        .timeout(timeout)
        .conn_keep_alive(POOL_KEEP_ALIVE)
        .limit(limit);
    let connector = match tls {
        Some(config) => connector.rustls_0_23(config),
        None => connector,
    };
    awc::Client::builder()
        .connector(connector)
        .timeout(timeout)
        .disable_redirects()
        .no_default_headers()
        .finish()
}

/// `ANY /api/<rest>`: checked, authorized, sent, relayed. (A WebSocket
/// handshake is routed to `websocket::proxy` instead.)
pub async fn forward(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    client: web::Data<awc::Client>,
) -> Result<HttpResponse, ApiError> {
    let path = checked_path(&req)?;
    let claims = authorize(&state, req.method().as_str(), &path, || authenticate(&req))?;
    let settings = &state.proxy;
    let declared_len = content_length(req.headers());
    if declared_len.is_some_and(|n| n > settings.max_body_size as u64) {
        return Err(ApiError::PayloadTooLarge);
    }
    let told = Forwarding::of(&req, &state);
    let url = settings.upstream.url(&path, req.uri().query());
    // the outgoing headers are built into the request itself, once; only
    // the (rare) retry builds them a second time
    let build = || {
        let mut upstream_req = client.request(req.method().clone(), url.as_str());
        *upstream_req.headers_mut() = told.headers(&req, claims.as_deref());
        upstream_req
    };
    let fault = Rc::new(Cell::new(None));
    let body = limited(payload, settings.max_body_size, fault.clone());
    let chunked = req.headers().contains_key(header::TRANSFER_ENCODING);
    let sent = send(build, req.method(), body, declared_len, chunked).await;
    // a body that failed on the client's side is the client's fault, not
    // the upstream's
    if let Some(fault) = fault.take() {
        return Err(fault);
    }
    relay(sent.map_err(|e| upstream_error(&e))?, &state.cookie.name)
}

/// What the upstream is told about a request beyond its own headers: the
/// request id, the Host the client sent, who connected.
pub(super) struct Forwarding {
    request_id: String,
    host: Option<String>,
    peer: IpAddr,
    peer_trusted: bool,
    proto: &'static str,
}

impl Forwarding {
    pub(super) fn of(req: &HttpRequest, state: &AppState) -> Self {
        let peer = peer_ip(req);
        Self {
            request_id: request_id(req),
            host: client_host(req),
            peer,
            peer_trusted: state.trusted_proxies.contains(peer),
            proto: if state.https { "https" } else { "http" },
        }
    }

    /// The request id the upstream gets (the access log's).
    pub(super) fn request_id(&self) -> &str {
        &self.request_id
    }

    /// The headers the upstream gets for `req`, sent for `claims`' user
    /// (none on a public route), by the rules of `proxy::headers`.
    pub(super) fn headers(&self, req: &HttpRequest, claims: Option<&Claims>) -> header::HeaderMap {
        let identity = claims.map(|c| headers::Identity {
            id: &c.sub,
            name: &c.name,
            roles: &c.roles,
        });
        let origin = headers::Origin {
            peer: self.peer,
            peer_trusted: self.peer_trusted,
            host: self.host.as_deref(),
            proto: self.proto,
            request_id: &self.request_id,
        };
        headers::to_upstream(req.headers(), identity.as_ref(), &origin)
    }
}

/// The path after `/api`, refused when it could leave the upstream's base
/// or the request carries headers or overrides the rules cannot read
/// one way.
pub(super) fn checked_path(req: &HttpRequest) -> Result<String, ApiError> {
    // the router matched a decoded path: "/%61pi/x" lands here too
    let rest = req
        .uri()
        .path()
        .strip_prefix(API)
        .ok_or_else(|| ApiError::InvalidInput("The API path must start with /api/.".into()))?;
    let path = path::validate(rest).map_err(|e| ApiError::InvalidInput(e.to_string()))?;
    if let Some(name) = headers::repeated_singleton(req.headers()) {
        return Err(ApiError::InvalidInput(format!(
            "Send one {name} header, not several."
        )));
    }
    let names = req.headers().keys().map(|name| name.as_str());
    if policy::names_another_method(names, req.uri().query()) {
        return Err(ApiError::InvalidInput(
            "Method overrides (X-HTTP-Method-Override, _method) are not accepted: send the method you mean."
                .into(),
        ));
    }
    Ok(path)
}

/// The policy's decision for a `method` call of `path`: `None` for a
/// public route, the caller's claims (from `caller`, asked only when the
/// route is not public) when their token and roles pass.
pub(super) fn authorize(
    state: &AppState,
    method: &str,
    path: &str,
    caller: impl FnOnce() -> Result<Arc<Claims>, ApiError>,
) -> Result<Option<Arc<Claims>>, ApiError> {
    match state.proxy.policy.load().decide(method, path) {
        Decision::Public => Ok(None),
        Decision::Refused => {
            caller()?;
            Err(ApiError::Forbidden)
        }
        Decision::NeedsToken(needed, requires) => {
            let claims = caller()?;
            if !Policy::allows(&needed, &claims.role_set()) {
                return Err(ApiError::Forbidden);
            }
            let now = state.clock.now().timestamp();
            if let Some(unmet) = requires.unmet(&claims.acr, claims.auth_time, now) {
                return Err(ApiError::InsufficientUserAuthentication(unmet));
            }
            Ok(Some(claims))
        }
    }
}

/// The id the access log gave the request; made here only outside that
/// middleware.
fn request_id(req: &HttpRequest) -> String {
    match access_log::request_id(req) {
        Some(id) => id.as_str().to_owned(),
        None => headers::request_id(req.headers()),
    }
}

/// The Host the client sent; never actix's `connection_info`, which
/// believes a client's `X-Forwarded-Host`.
fn client_host(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn content_length(headers: &header::HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
}

/// Sends the request `build` makes, with its body framed as the client
/// framed it. A bodiless idempotent request that meets a pooled connection
/// the upstream closed is sent once more: nothing of it was processed.
async fn send(
    build: impl Fn() -> awc::ClientRequest,
    method: &Method,
    body: impl futures_util::Stream<Item = Result<web::Bytes, actix_web::Error>> + 'static,
    declared_len: Option<u64>,
    chunked: bool,
) -> Result<awc::ClientResponse, SendRequestError> {
    match (declared_len, chunked) {
        (Some(len), _) if len > 0 => build().send_body(SizedStream::new(len, body)).await,
        (_, true) => build().send_stream(body).await,
        _ => match build().send().await {
            Err(SendRequestError::Send(_) | SendRequestError::Response(_))
                if is_idempotent(method) =>
            {
                log::debug!("retrying {method} once on a fresh upstream connection");
                build().send().await
            }
            other => other,
        },
    }
}

/// The upstream's answer as the client gets it: status, headers by the
/// rules of `proxy::headers`, and the body streamed.
fn relay(upstream_res: awc::ClientResponse, cookie_name: &str) -> Result<HttpResponse, ApiError> {
    if headers::ambiguous_framing(upstream_res.headers()) {
        log::warn!("upstream answered with both Content-Length and Transfer-Encoding");
        return Err(ApiError::UpstreamUnavailable);
    }
    let status = upstream_res.status();
    let mut kept = headers::to_client(upstream_res.headers(), cookie_name);
    let len = content_length(upstream_res.headers());
    let body = upstream_res.timeout(BODY_TIMEOUT);
    let mut res = match len {
        Some(len) => HttpResponse::build(status).body(SizedStream::new(len, body)),
        None => {
            // what `streaming` would default to
            if !kept.contains_key(header::CONTENT_TYPE) {
                kept.insert(
                    header::CONTENT_TYPE,
                    header::HeaderValue::from_static("application/octet-stream"),
                );
            }
            HttpResponse::build(status).streaming(body)
        }
    };
    // the upstream's headers move into the response as one map
    *res.headers_mut() = kept;
    Ok(res)
}

/// The request body, cut off with an error past `limit` bytes or when the
/// client's side of it fails (out of time, malformed chunks); `fault` then
/// holds the answer, so the caller gives the client's error (413, 408,
/// 400) rather than a 502.
fn limited(
    payload: web::Payload,
    limit: usize,
    fault: Rc<Cell<Option<ApiError>>>,
) -> impl futures_util::Stream<Item = Result<web::Bytes, actix_web::Error>> {
    let mut seen = 0usize;
    payload.map(move |chunk| {
        let chunk = chunk.map_err(|e| {
            fault.set(Some(ApiError::for_body(&e)));
            actix_web::Error::from(e)
        })?;
        seen += chunk.len();
        if seen > limit {
            fault.set(Some(ApiError::PayloadTooLarge));
            return Err(ApiError::PayloadTooLarge.into());
        }
        Ok(chunk)
    })
}

fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE
    )
}

pub(super) fn upstream_error(e: &SendRequestError) -> ApiError {
    match e {
        SendRequestError::Timeout | SendRequestError::Connect(ConnectError::Timeout) => {
            log::warn!("upstream timeout: {e}");
            ApiError::UpstreamTimeout
        }
        _ => {
            log::warn!("upstream unavailable: {e}");
            ApiError::UpstreamUnavailable
        }
    }
}
