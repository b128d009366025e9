//! CORS for the configured origins only, with credentials, never `*`; and
//! only for requests that carry `Origin`. A request without one (curl, a
//! server, the same-origin SPA's GETs) is not a CORS request: it skips
//! actix-cors and gets none of its headers (`Vary`, `Access-Control-*`),
//! which on a proxied call were a fifth of the response head. A preflight
//! from an origin not allowed is logged, once per origin and worker, with
//! a hint naming `PORTCULLIS_CORS_ORIGINS`: the browser's console only says
//! the request was blocked.

use std::cell::RefCell;
use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use actix_cors::{Cors, CorsMiddleware};
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::{Method, header};
use futures_util::future::LocalBoxFuture;

/// The middleware factory for `origins`.
pub fn cors(origins: &[String]) -> WithOrigin {
    let cors = origins
        .iter()
        .fold(Cors::default(), |c, o| c.allowed_origin(o));
    WithOrigin(
        cors.supports_credentials()
            .allowed_methods(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
            .allowed_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::ACCEPT,
                header::HeaderName::from_static("x-csrf"),
                header::HeaderName::from_static("x-request-id"),
            ])
            .expose_headers([header::RETRY_AFTER, header::WWW_AUTHENTICATE])
            .max_age(600)
            // A same-origin SPA sends Origin on POST too: let requests from
            // other origins through without CORS headers; the browser blocks
            // them.
            .block_on_origin_mismatch(false),
    )
}

/// [`Cors`] for requests with `Origin`; the rest go straight on.
pub struct WithOrigin(Cors);

impl<S, B> Transform<S, ServiceRequest> for WithOrigin
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Transform = WithOriginService<S>;
    type InitError = ();
    type Future = LocalBoxFuture<'static, Result<Self::Transform, ()>>;

    fn new_transform(&self, service: S) -> Self::Future {
        let next = Rc::new(service);
        let cors = self.0.new_transform(Shared { next: next.clone() });
        Box::pin(async move {
            Ok(WithOriginService {
                cors: cors.await?,
                next,
                refused: Rc::default(),
            })
        })
    }
}

pub struct WithOriginService<S> {
    cors: CorsMiddleware<Shared<S>>,
    next: Rc<S>,
    /// The refused preflights' origins this worker has logged.
    refused: Rc<RefCell<HashSet<String>>>,
}

/// How many refused origins a worker remembers (and logs) at most.
const REFUSED_LOGGED: usize = 64;

/// Logs a preflight from `origin` that got no `Access-Control-Allow-Origin`,
/// the first time this worker sees that origin.
fn note_refused(logged: &RefCell<HashSet<String>>, origin: &str) {
    let mut logged = logged.borrow_mut();
    if logged.len() >= REFUSED_LOGGED || !logged.insert(origin.to_owned()) {
        return;
    }
    log::warn!(
        "CORS preflight from origin {origin:?} refused: it is not in PORTCULLIS_CORS_ORIGINS; add it there (comma-separated, exactly as the browser sends it) if that app should call the gateway"
    );
}

type BoxedResponse<B> =
    Pin<Box<dyn Future<Output = Result<ServiceResponse<EitherBody<B>>, actix_web::Error>>>>;

impl<S, B> Service<ServiceRequest> for WithOriginService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Future = BoxedResponse<B>;

    forward_ready!(next);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        if let Some(origin) = req.headers().get(header::ORIGIN) {
            let preflight = req.method() == Method::OPTIONS
                && req
                    .headers()
                    .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
            if !preflight {
                return self.cors.call(req);
            }
            // printable and short: the header is the client's to write
            let origin: String = String::from_utf8_lossy(origin.as_bytes())
                .chars()
                .filter(|c| !c.is_control())
                .take(200)
                .collect();
            let refused = self.refused.clone();
            let res = self.cors.call(req);
            return Box::pin(async move {
                let res = res.await?;
                if !res
                    .headers()
                    .contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN)
                {
                    note_refused(&refused, &origin);
                }
                Ok(res)
            });
        }
        let res = self.next.call(req);
        Box::pin(async move { res.await.map(ServiceResponse::map_into_left_body) })
    }
}

/// The next service, shared by the CORS path and the direct one.
pub struct Shared<S> {
    next: Rc<S>,
}

impl<S: Service<ServiceRequest>> Service<ServiceRequest> for Shared<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    forward_ready!(next);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        self.next.call(req)
    }
}
