//! `ANY /api/<rest>`: verify the bearer token, apply the role policy, and
//! stream the request to the configured upstream with the user's identity
//! attached (header rules in `proxy::headers`), and the answer back.
//! Redirects are passed back, never followed; no request can make the
//! gateway contact another host.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use actix_web::body::SizedStream;
use actix_web::http::{Method, header};
use actix_web::{HttpRequest, HttpResponse, web};
use awc::error::{ConnectError, SendRequestError};
use futures_util::StreamExt;

use crate::auth::Roles;
use crate::http::AppState;
use crate::http::access;
use crate::http::error::ApiError;
use crate::http::extract::{authenticate, is_trusted, peer_ip};
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
    let connector = awc::Connector::new()
        .timeout(timeout)
        .conn_keep_alive(POOL_KEEP_ALIVE)
        .limit(256);
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

/// `ANY /api/<rest>`.
pub async fn forward(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    client: web::Data<awc::Client>,
) -> Result<HttpResponse, ApiError> {
    // the router matched a decoded path: "/%61pi/x" lands here too
    let rest = req
        .uri()
        .path()
        .strip_prefix("/api")
        .ok_or_else(|| ApiError::InvalidInput("The API path must start with /api/.".into()))?;
    let path = path::validate(rest).map_err(|e| ApiError::InvalidInput(e.to_string()))?;
    let path = path.as_str();
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

    let claims = match state.policy.decide(req.method().as_str(), path) {
        Decision::Public => None,
        Decision::Refused => {
            authenticate(&req)?;
            return Err(ApiError::Forbidden);
        }
        Decision::NeedsToken(needed) => {
            let claims = authenticate(&req)?;
            let roles = Roles::new(claims.roles.iter().filter_map(|r| r.parse().ok()));
            if !Policy::allows(&needed, &roles) {
                return Err(ApiError::Forbidden);
            }
            Some(claims)
        }
    };

    let declared_len = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared_len.is_some_and(|n| n > state.max_body_size as u64) {
        return Err(ApiError::PayloadTooLarge);
    }
    let chunked = req.headers().contains_key(header::TRANSFER_ENCODING);

    let identity = claims.as_ref().map(|c| headers::Identity {
        id: &c.sub,
        name: &c.name,
        roles: &c.roles,
    });
    let peer = peer_ip(&req);
    // the id the access log has; made here only outside its middleware
    let id = access::request_id(&req);
    let made;
    let request_id = match &id {
        Some(id) => id.as_str(),
        None => {
            made = headers::request_id(req.headers());
            made.as_str()
        }
    };
    // the Host the client sent; never actix's connection_info, which
    // believes a client's X-Forwarded-Host
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let origin = headers::Origin {
        peer,
        peer_trusted: is_trusted(&peer, &state.trusted_proxies),
        host: host.as_deref(),
        proto: if state.https { "https" } else { "http" },
        request_id,
    };
    let url = state.upstream.url(path, req.uri().query());
    // the outgoing headers are built into the request itself, once; only
    // the (rare) retry builds them a second time
    let build = || {
        let mut upstream_req = client.request(req.method().clone(), url.as_str());
        *upstream_req.headers_mut() =
            headers::to_upstream(req.headers(), identity.as_ref(), &origin);
        upstream_req
    };

    let fault = Rc::new(Cell::new(None));
    let body = limited(payload, state.max_body_size, fault.clone());
    let sent = match (declared_len, chunked) {
        (Some(len), _) if len > 0 => build().send_body(SizedStream::new(len, body)).await,
        (_, true) => build().send_stream(body).await,
        _ => {
            let first = build().send().await;
            match first {
                // A pooled connection the upstream closed: nothing of this
                // request was processed, so one retry is safe.
                Err(SendRequestError::Send(_) | SendRequestError::Response(_))
                    if is_idempotent(req.method()) =>
                {
                    log::debug!(
                        "retrying {} once on a fresh upstream connection",
                        req.method()
                    );
                    build().send().await
                }
                other => other,
            }
        }
    };
    // a body that failed on the client's side is the client's fault, not
    // the upstream's
    if let Some(fault) = fault.take() {
        return Err(fault);
    }
    let upstream_res = sent.map_err(|e| upstream_error(&e))?;
    if headers::ambiguous_framing(upstream_res.headers()) {
        log::warn!("upstream answered with both Content-Length and Transfer-Encoding");
        return Err(ApiError::UpstreamUnavailable);
    }

    let status = upstream_res.status();
    let mut kept = headers::to_client(upstream_res.headers(), &state.cookie.name);
    let len = upstream_res
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
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

fn upstream_error(e: &SendRequestError) -> ApiError {
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
