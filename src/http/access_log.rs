//! The outermost middleware: gives each request its id, counts it in the
//! metrics, and writes its one access-log line.
//!
//! The request id is the client's `X-Request-Id` when it is a sane short
//! token, else a new UUID; it is made once here, kept in the request's
//! extensions for the proxy (so the upstream sees the same id) and set on
//! the response when the handler did not. The line has the id, the peer's
//! address, method, path without the query string (it may carry secrets),
//! status, latency and the user id when a handler learnt it
//! ([`note_user`]); nothing is formatted when the log level filters the line
//! out. A proxied WebSocket's line (status 101) is written by its pump when
//! it closes, with its duration, bytes each way and close code.

use std::future::{Ready, ready};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{HttpMessage, HttpRequest};
use futures_util::future::LocalBoxFuture;

use super::error::ApiError;
use super::prefixes;
use crate::logging;
use crate::metrics::{Metrics, UpstreamFailure};
use crate::proxy::headers;

const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// This request's id, as a header value (see the module docs).
#[derive(Clone)]
pub struct RequestId(pub HeaderValue);

impl RequestId {
    pub fn as_str(&self) -> &str {
        // made from a checked token or a UUID: always visible ASCII
        self.0.to_str().unwrap_or("-")
    }
}

/// The id this middleware gave `req`.
pub fn request_id(req: &HttpRequest) -> Option<RequestId> {
    req.extensions().get::<RequestId>().cloned()
}

/// The authenticated user of a request, for its access-log line.
struct UserId(String);

/// Records who made `req` for its access-log line; a no-op when access
/// lines are filtered out.
pub fn note_user(req: &HttpRequest, user_id: &str) {
    if logging::access_enabled() {
        req.extensions_mut().insert(UserId(user_id.to_owned()));
    }
}

/// The middleware factory.
pub struct AccessLog {
    metrics: Arc<Metrics>,
}

impl AccessLog {
    pub fn new(metrics: Arc<Metrics>) -> Self {
        Self { metrics }
    }
}

impl<S, B> Transform<S, ServiceRequest> for AccessLog
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<B>;
    type Error = actix_web::Error;
    type Transform = AccessLogService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, ()>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(AccessLogService {
            service: Rc::new(service),
            metrics: self.metrics.clone(),
        }))
    }
}

pub struct AccessLogService<S> {
    service: Rc<S>,
    metrics: Arc<Metrics>,
}

impl<S, B> Service<ServiceRequest> for AccessLogService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<B>;
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<ServiceResponse<B>, actix_web::Error>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let start = Instant::now();
        let group = prefixes::group_of(req.path());
        let id = RequestId(
            HeaderValue::try_from(headers::request_id(req.headers()))
                .unwrap_or(HeaderValue::from_static("-")),
        );
        req.extensions_mut().insert(id.clone());
        // captured only when the line will be written: a refcount each
        let line = logging::access_enabled()
            .then(|| (req.method().clone(), req.uri().clone(), req.peer_addr()));
        let service = self.service.clone();
        let metrics = self.metrics.clone();
        Box::pin(async move {
            let mut result = service.call(req).await;
            let elapsed = start.elapsed();
            let status = match &result {
                Ok(res) => res.status(),
                Err(e) => e.as_response_error().status_code(),
            };
            metrics.request(group, status.as_u16(), elapsed);
            if status.as_u16() == 502 || status.as_u16() == 504 {
                count_upstream_failure(&metrics, &result);
            }
            // a proxied WebSocket writes its one line when it closes
            let upgraded = status == StatusCode::SWITCHING_PROTOCOLS;
            if let Some((method, uri, peer)) = line.filter(|_| !upgraded) {
                let extensions = result.as_ref().ok().map(|res| res.request().extensions());
                let user_id = extensions
                    .as_ref()
                    .and_then(|ext| ext.get::<UserId>())
                    .map(|u| u.0.as_str());
                // stamped with the wall clock, like every other log line
                logging::access(
                    crate::clock::now(),
                    &logging::AccessLine {
                        request_id: id.as_str(),
                        peer: peer.map(|p| p.ip()),
                        method: method.as_str(),
                        path: uri.path(),
                        status: status.as_u16(),
                        latency_ms: (elapsed.as_secs_f64() * 1000.0 * 10.0).round() / 10.0,
                        user_id,
                        socket: None,
                    },
                );
            }
            if let Ok(res) = &mut result
                && !res.headers().contains_key(&X_REQUEST_ID)
            {
                res.headers_mut().insert(X_REQUEST_ID, id.0);
            }
            result
        })
    }
}

/// Counts a 502/504 that the proxy produced (not one an upstream sent).
fn count_upstream_failure<B>(
    metrics: &Metrics,
    result: &Result<ServiceResponse<B>, actix_web::Error>,
) {
    let error = match result {
        Ok(res) => res.response().error(),
        Err(e) => Some(e),
    };
    match error.and_then(|e| e.as_error::<ApiError>()) {
        Some(ApiError::UpstreamUnavailable) => metrics.upstream_error(UpstreamFailure::Unavailable),
        Some(ApiError::UpstreamTimeout) => metrics.upstream_error(UpstreamFailure::Timeout),
        _ => {}
    }
}
