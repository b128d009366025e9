//! Slow-client bounds, in one middleware ([`bound_clients`]) and one
//! connection counter ([`ConnectionLimit`]):
//!
//! - a request head must arrive within 5 s (actix's own timer);
//! - a request body outside `/api` (the JSON of `/auth/*`) must arrive
//!   whole within [`BODY_DEADLINE`];
//! - a proxied body under `/api` may take as long as it needs, but may not
//!   pause longer than `PORTCULLIS_BODY_IDLE_TIMEOUT` between two pieces
//!   (a WebSocket's is its messages, which may pause as long as the peers
//!   answer pings: its pump watches that);
//! - one client address (an IPv4 address, or an IPv6 /64) may hold at most
//!   `PORTCULLIS_MAX_CLIENT_CONNECTIONS` connections at once; requests on
//!   the ones past that get `429` and the connection is closed. Trusted
//!   proxies are not counted: they carry many clients.
//!
//! A body that runs out of time ends in an I/O error of kind `TimedOut`,
//! which handlers turn into `408 request_timeout` ([`ApiError::for_body`]);
//! it never holds a worker.

use std::any::Any;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_http::error::PayloadError;
use actix_tls::accept::rustls_0_23::TlsStream;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Extensions, Payload, ServiceRequest, ServiceResponse};
use actix_web::http::ConnectionType;
use actix_web::middleware::Next;
use actix_web::rt::net::TcpStream;
use actix_web::{HttpMessage, ResponseError, web};
use futures_util::StreamExt;
use tokio::time::Instant;

use super::error::ApiError;
use super::prefixes::{self, API};
use super::state::AppState;
use crate::client_addr::{TrustedProxies, bucket, canonical};
use crate::proxy::websocket;

/// How long a request body outside `/api` may take to arrive in full.
pub const BODY_DEADLINE: Duration = Duration::from_secs(5);

/// The error a timed-out body ends with; [`ApiError::for_body`] reads it
/// as 408.
fn timed_out() -> PayloadError {
    PayloadError::Io(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        "the request body did not arrive in time",
    ))
}

/// How long a body may take.
#[derive(Debug, Clone, Copy)]
enum BodyTime {
    /// The whole body, from when the head arrived.
    Whole(Duration),
    /// Each piece, from the one before.
    Idle(Duration),
}

/// The middleware: refuses requests on connections past the per-address
/// bound, and puts every request body on its clock.
pub async fn bound_clients<B: MessageBody + 'static>(
    mut req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    if req
        .conn_data::<ConnectionSlot>()
        .is_some_and(|slot| slot.over)
    {
        let mut res = ApiError::TooManyAttempts { retry_after: 1 }.error_response();
        res.head_mut().set_connection_type(ConnectionType::Close);
        return Ok(req.into_response(res).map_into_right_body());
    }
    let idle = req
        .app_data::<web::Data<AppState>>()
        .map_or(BODY_DEADLINE, |s| s.proxy.body_idle_timeout);
    let time = if prefixes::is_under(req.path(), API) {
        BodyTime::Idle(idle)
    } else {
        BodyTime::Whole(BODY_DEADLINE)
    };
    let socket = websocket::is_handshake(req.method().as_str(), req.headers());
    match req.take_payload() {
        Payload::None => {}
        payload if socket => req.set_payload(payload),
        payload => req.set_payload(on_the_clock(payload, time)),
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

/// `payload`, ending with [`timed_out`] when `time` runs out.
fn on_the_clock(payload: Payload, time: BodyTime) -> Payload {
    let started = Instant::now();
    let stream = futures_util::stream::unfold(Some(payload), move |state| async move {
        let mut payload = state?;
        let deadline = match time {
            BodyTime::Whole(limit) => started + limit,
            BodyTime::Idle(limit) => Instant::now() + limit,
        };
        match tokio::time::timeout_at(deadline, payload.next()).await {
            Ok(Some(item)) => Some((item, Some(payload))),
            Ok(None) => None,
            Err(_) => Some((Err(timed_out()), None)),
        }
    });
    Payload::from(Box::pin(stream) as actix_http::BoxedPayloadStream)
}

/// Counts open connections per client address (across workers).
#[derive(Debug, Clone)]
pub struct ConnectionLimit {
    max: usize,
    trusted: TrustedProxies,
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

/// One counted connection; dropped with the connection.
#[derive(Debug)]
struct ConnectionSlot {
    key: IpAddr,
    /// Past the bound: every request on it is refused.
    over: bool,
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl ConnectionLimit {
    pub fn new(max: usize, trusted: TrustedProxies) -> Self {
        Self {
            max,
            trusted,
            open: Arc::default(),
        }
    }

    /// For `HttpServer::on_connect`: counts the new connection against its
    /// client address; the slot kept in the connection's data frees it.
    pub fn on_connect(&self, conn: &dyn Any, data: &mut Extensions) {
        let tcp = conn.downcast_ref::<TcpStream>().or_else(|| {
            conn.downcast_ref::<TlsStream<TcpStream>>()
                .map(|tls| tls.get_ref().0)
        });
        let Some(peer) = tcp.and_then(|s| s.peer_addr().ok()) else {
            return;
        };
        let ip = canonical(peer.ip());
        if self.trusted.contains(ip) {
            return;
        }
        let key = bucket(ip);
        let count = {
            let mut open = lock(&self.open);
            let count = open.entry(key).or_insert(0);
            *count += 1;
            *count
        };
        data.insert(ConnectionSlot {
            key,
            over: count > self.max,
            open: self.open.clone(),
        });
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut open = lock(&self.open);
        if let Some(count) = open.get_mut(&self.key) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.key);
            }
        }
    }
}

fn lock(open: &Mutex<HashMap<IpAddr, usize>>) -> std::sync::MutexGuard<'_, HashMap<IpAddr, usize>> {
    // a poisoned lock only means a panic mid-update of a counter
    open.lock().unwrap_or_else(|e| e.into_inner())
}
