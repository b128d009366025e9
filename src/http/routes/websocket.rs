//! WebSockets through `/api` (contract §11) and `POST /auth/ws-ticket`.
//!
//! A handshake is authorized like an `/api` GET, by a bearer token or a
//! single-use ticket (`?ticket=`, removed before forwarding); then the
//! gateway makes its own handshake with the upstream (`ws://` or `wss://`
//! after the upstream's scheme, with the headers of `proxy::headers`), and
//! only once the upstream accepted does the client get its `101`. A
//! refused handshake is the usual JSON error and never upgrades.
//!
//! Then one task per socket pumps messages both ways, frame by frame
//! (continuations pass as they are, counted against
//! `PORTCULLIS_WS_MAX_MESSAGE`: more is `1009`), each direction waiting
//! for the other side to take a message before reading the next, so a
//! slow reader holds back its writer instead of filling the gateway.
//! Beside the traffic it waits for the socket's registration in
//! [`LiveSockets`](crate::auth::sockets::LiveSockets) (its session ended:
//! `1008`; shutdown: `1001`), for its session's own expiry (`1008`), and
//! pings both peers: one silent for [`IDLE_LIMIT`] is closed.

use std::cell::Cell;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use actix_ws::{CloseCode, CloseReason, Item, Message, MessageStream, ProtocolError, Session};
use awc::error::WsClientError;
use awc::ws::Frame;
use bytestring::ByteString;
use chrono::{DateTime, Utc};
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use serde::Serialize;
use utoipa::ToSchema;

use super::api::{self, Forwarding};
use crate::auth::sockets::{Closing, Registration};
use crate::auth::tokens::Claims;
use crate::db::tickets;
use crate::http::access_log;
use crate::http::error::ApiError;
use crate::http::extract::{Authenticated, authenticate};
use crate::http::schemas::ErrorBody;
use crate::http::state::AppState;
use crate::logging::{self, AccessLine, SocketLine};
use crate::metrics::SocketClose;
use crate::proxy::websocket as rules;

/// How often a quiet peer is pinged.
const PING_EVERY: Duration = Duration::from_secs(20);
/// A peer silent this long (no message, no pong) is closed.
pub const IDLE_LIMIT: Duration = Duration::from_secs(60);
/// How long the gateway waits for a peer to take a close frame, or to
/// answer one.
const CLOSE_WAIT: Duration = Duration::from_secs(1);
/// How often a socket looks at its session's expiry.
const EXPIRY_CHECK: Duration = Duration::from_secs(1);
/// The payload of the gateway's own pings: their pongs stop here.
const PING: &[u8] = b"portcullis";

/// Whether a request is a WebSocket handshake: the route table sends those
/// to [`proxy`].
pub fn is_handshake(ctx: &actix_web::guard::GuardContext<'_>) -> bool {
    rules::is_handshake(ctx.head().method.as_str(), &ctx.head().headers)
}

/// The upstream client for WebSockets, one per worker: a connection per
/// socket, as many as there are sockets, none taken from the HTTP pool.
pub struct SocketClient(awc::Client);

impl SocketClient {
    pub fn new(timeout: Duration, tls: Option<Arc<rustls::ClientConfig>>) -> Self {
        Self(api::client_of(timeout, tls, 0))
    }
}

/// A WebSocket ticket.
#[derive(Serialize, ToSchema)]
pub struct WsTicket {
    /// Opaque, single use; the handshake carries it as `?ticket=…`.
    ticket: String,
    /// Seconds it may be spent in: 30.
    expires_in: i64,
}

/// A single-use ticket for one WebSocket handshake to `/api` (contract
/// §11), bound to the caller's session: browsers cannot set
/// `Authorization` on a WebSocket. Valid 30 s, accepted by any instance.
#[utoipa::path(
    post,
    path = "/auth/ws-ticket",
    tag = "sessions",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A fresh ticket.", body = WsTicket),
        (status = 401, description = "`invalid_token` (or `insufficient_user_authentication` for a role that must enrol a second factor first).", body = ErrorBody),
        (status = 503, description = "`unavailable`.", body = ErrorBody),
    )
)]
pub async fn ticket(
    Authenticated(claims): Authenticated,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    let ticket = state.services.sessions.issue_ticket(&claims, now).await?;
    Ok(HttpResponse::Ok().json(WsTicket {
        ticket,
        expires_in: tickets::LIFETIME.num_seconds(),
    }))
}

/// A WebSocket handshake to `/api/<path>`: authorized, accepted by the
/// upstream, then upgraded and pumped (see the module docs).
pub async fn proxy(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    client: web::Data<SocketClient>,
) -> Result<HttpResponse, ApiError> {
    let started = Instant::now();
    let path = api::checked_path(&req)?;
    actix_http::ws::verify_handshake(req.head())
        .map_err(|e| ApiError::InvalidInput(format!("Not a valid WebSocket handshake: {e}.")))?;
    let (ticket, query) = rules::take_ticket(req.uri().query());
    let caller = identify(&req, &state, ticket).await;
    let mut live_until = None;
    let claims = api::authorize(&state, "GET", &path, || {
        let (claims, until) = caller?;
        live_until = Some(until);
        Ok(claims)
    })?;
    let told = Forwarding::of(&req, &state);
    let url = state.proxy.upstream.url(&path, query.as_deref());
    let max = state.proxy.ws_max_message;
    let (upstream_res, upstream) =
        connect(&client.0, &url, &req, &told, claims.as_deref(), max).await?;
    let chosen = upstream_res
        .headers()
        .get(rules::PROTOCOL)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let protocols: Vec<&str> = chosen.iter().map(String::as_str).collect();
    let (res, session, messages) = actix_ws::handle_with_protocols(&req, payload, &protocols)
        .map_err(|e| ApiError::InvalidInput(format!("Not a valid WebSocket handshake: {e}.")))?;
    let socket = Socket::open(&req, &state, claims.as_deref(), live_until, &told, started);
    actix_web::rt::spawn(socket.run(session, messages.max_frame_size(max), upstream, max));
    Ok(res)
}

/// Who opens the socket, and when their session ends by itself: from the
/// ticket when one came (a bearer token beside it must be of the same
/// session), else from the bearer token.
async fn identify(
    req: &HttpRequest,
    state: &AppState,
    ticket: Option<String>,
) -> Result<(Arc<Claims>, DateTime<Utc>), ApiError> {
    let now = state.clock.now();
    let sessions = &state.services.sessions;
    let Some(ticket) = ticket else {
        let claims = authenticate(req)?;
        let until = sessions.live_until(claims.sid.clone(), now).await?;
        return Ok((claims, until.ok_or(ApiError::InvalidToken)?));
    };
    let spent = sessions
        .spend_ticket(ticket, now)
        .await?
        .ok_or(ApiError::InvalidToken)?;
    if req.headers().contains_key(header::AUTHORIZATION)
        && authenticate(req)?.sid != spent.claims.sid
    {
        return Err(ApiError::InvalidToken);
    }
    access_log::note_user(req, &spent.claims.sub);
    Ok((Arc::new(spent.claims), spent.live_until))
}

/// The gateway's own handshake with the upstream, with the request's
/// headers by the rules of `proxy::headers` and `proxy::websocket`. An
/// upstream that refuses the upgrade, or cannot be reached, is a `502`
/// (`504` when it does not answer in time).
async fn connect(
    client: &awc::Client,
    url: &str,
    req: &HttpRequest,
    told: &Forwarding,
    claims: Option<&Claims>,
    max: usize,
) -> Result<
    (
        awc::ClientResponse,
        impl Stream<Item = Result<Frame, ProtocolError>>
        + Sink<Message, Error = ProtocolError>
        + Unpin
        + 'static,
    ),
    ApiError,
> {
    let mut handshake = client.ws(url).max_frame_size(max);
    for (name, value) in &rules::for_upstream_handshake(told.headers(req, claims)) {
        handshake = handshake.header(name.clone(), value.clone());
    }
    handshake.connect().await.map_err(|e| match e {
        WsClientError::SendRequest(e) => api::upstream_error(&e),
        WsClientError::InvalidResponseStatus(status) => {
            log::warn!("the upstream refused the WebSocket upgrade: {status}");
            ApiError::UpstreamUnavailable
        }
        other => {
            log::warn!("the upstream's WebSocket handshake failed: {other}");
            ApiError::UpstreamUnavailable
        }
    })
}

/// How a socket's pump ended.
#[derive(Debug)]
enum End {
    /// The client sent a close frame.
    ClientClosed(Option<CloseReason>),
    /// The upstream sent a close frame.
    UpstreamClosed(Option<CloseReason>),
    /// A message over the limit, from either side.
    TooBig,
    /// The socket's session ended (or expired).
    SessionEnded,
    /// The gateway is shutting down.
    Shutdown,
    /// A peer answered no ping for [`IDLE_LIMIT`].
    Idle,
    /// The client's connection broke, without a close frame.
    ClientGone,
    /// The upstream's connection broke, or it broke the protocol.
    UpstreamGone,
}

impl End {
    /// The close the gateway sends both peers when it ends the socket
    /// itself (for the peers' own closes, see [`finish`]).
    fn own_close(&self) -> CloseReason {
        let (code, why) = match self {
            End::TooBig => (CloseCode::Size, "message too big"),
            End::SessionEnded => (CloseCode::Policy, "session ended"),
            End::Shutdown => (CloseCode::Away, "gateway shutting down"),
            End::Idle | End::ClientGone => (CloseCode::Away, "peer not answering"),
            _ => (CloseCode::Error, "upstream connection lost"),
        };
        CloseReason {
            code,
            description: Some(why.to_owned()),
        }
    }

    fn metric(&self) -> SocketClose {
        match self {
            End::ClientClosed(_) | End::UpstreamClosed(_) => SocketClose::Normal,
            End::TooBig => SocketClose::TooBig,
            End::SessionEnded => SocketClose::SessionEnded,
            End::Shutdown => SocketClose::Shutdown,
            End::Idle => SocketClose::Idle,
            End::ClientGone | End::UpstreamGone => SocketClose::Error,
        }
    }
}

impl From<Closing> for End {
    fn from(why: Closing) -> Self {
        match why {
            Closing::SessionEnded => End::SessionEnded,
            Closing::ShuttingDown => End::Shutdown,
        }
    }
}

/// What the pump saw, for liveness and the access line.
struct Traffic {
    heard_client: Cell<Instant>,
    heard_upstream: Cell<Instant>,
    bytes_in: Cell<u64>,
    bytes_out: Cell<u64>,
}

impl Traffic {
    fn new() -> Self {
        let now = Instant::now();
        Self {
            heard_client: Cell::new(now),
            heard_upstream: Cell::new(now),
            bytes_in: Cell::new(0),
            bytes_out: Cell::new(0),
        }
    }

    fn quietest(&self) -> Duration {
        self.heard_client
            .get()
            .min(self.heard_upstream.get())
            .elapsed()
    }
}

/// The size so far of a message sent in pieces, against the limit.
struct Pieces {
    max: usize,
    so_far: usize,
}

impl Pieces {
    fn new(max: usize) -> Self {
        Self { max, so_far: 0 }
    }

    /// Whether this piece may pass: not once its message outgrew the limit.
    fn admit(&mut self, item: &Item) -> bool {
        let total = match item {
            Item::FirstText(b) | Item::FirstBinary(b) => b.len(),
            Item::Continue(b) | Item::Last(b) => self.so_far + b.len(),
        };
        self.so_far = if matches!(item, Item::Last(_)) {
            0
        } else {
            total
        };
        total <= self.max
    }
}

/// The payload bytes of a data message (control frames count nothing).
fn data_len(message: &Message) -> u64 {
    let len = match message {
        Message::Text(text) => text.len(),
        Message::Binary(bytes) => bytes.len(),
        Message::Continuation(
            Item::FirstText(b) | Item::FirstBinary(b) | Item::Continue(b) | Item::Last(b),
        ) => b.len(),
        _ => 0,
    };
    len as u64
}

/// Client to upstream, message by message, until either side is done;
/// pings the upstream when it has been quiet.
async fn client_to_upstream(
    messages: &mut MessageStream,
    upstream: &mut (impl Sink<Message, Error = ProtocolError> + Unpin),
    traffic: &Traffic,
    max: usize,
) -> End {
    let mut pieces = Pieces::new(max);
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + PING_EVERY, PING_EVERY);
    loop {
        let received = tokio::select! {
            received = messages.recv() => received,
            _ = ping.tick() => {
                let quiet = traffic.heard_upstream.get().elapsed() >= PING_EVERY;
                if quiet && upstream.send(Message::Ping(PING.into())).await.is_err() {
                    return End::UpstreamGone;
                }
                continue;
            }
        };
        let message = match received {
            Some(Ok(message)) => message,
            Some(Err(ProtocolError::Overflow)) => return End::TooBig,
            Some(Err(e)) => {
                log::debug!("the client broke the WebSocket protocol: {e}");
                return End::ClientGone;
            }
            None => return End::ClientGone,
        };
        traffic.heard_client.set(Instant::now());
        let message = match message {
            Message::Close(reason) => return End::ClientClosed(reason),
            Message::Pong(payload) if payload == PING => continue,
            Message::Nop => continue,
            Message::Continuation(item) if !pieces.admit(&item) => return End::TooBig,
            message => message,
        };
        traffic
            .bytes_in
            .set(traffic.bytes_in.get() + data_len(&message));
        if upstream.send(message).await.is_err() {
            return End::UpstreamGone;
        }
    }
}

/// Upstream to client, frame by frame, until either side is done.
async fn upstream_to_client(
    upstream: &mut (impl Stream<Item = Result<Frame, ProtocolError>> + Unpin),
    client: &mut Session,
    traffic: &Traffic,
    max: usize,
) -> End {
    let mut pieces = Pieces::new(max);
    while let Some(frame) = upstream.next().await {
        let message = match frame {
            Ok(Frame::Close(reason)) => return End::UpstreamClosed(reason),
            Ok(Frame::Pong(payload)) if payload == PING => None,
            Ok(Frame::Text(bytes)) => match ByteString::try_from(bytes) {
                Ok(text) => Some(Message::Text(text)),
                Err(_) => return End::UpstreamGone,
            },
            Ok(Frame::Binary(bytes)) => Some(Message::Binary(bytes)),
            Ok(Frame::Continuation(item)) if !pieces.admit(&item) => return End::TooBig,
            Ok(Frame::Continuation(item)) => Some(Message::Continuation(item)),
            Ok(Frame::Ping(payload)) => Some(Message::Ping(payload)),
            Ok(Frame::Pong(payload)) => Some(Message::Pong(payload)),
            Err(ProtocolError::Overflow) => return End::TooBig,
            Err(e) => {
                log::debug!("the upstream broke the WebSocket protocol: {e}");
                return End::UpstreamGone;
            }
        };
        traffic.heard_upstream.set(Instant::now());
        let Some(message) = message else { continue };
        traffic
            .bytes_out
            .set(traffic.bytes_out.get() + data_len(&message));
        if client.send(message).await.is_err() {
            return End::ClientGone;
        }
    }
    End::UpstreamGone
}

/// Ends both sides after `end`, at once; the close code the client got
/// (1006 when its connection was gone).
async fn finish(
    end: &End,
    client: Session,
    upstream: &mut (impl Sink<Message, Error = ProtocolError> + Unpin),
    from_upstream: &mut (impl Stream<Item = Result<Frame, ProtocolError>> + Unpin),
) -> u16 {
    let (to_client, to_upstream) = match end {
        End::ClientClosed(reason) => {
            // the upstream's answer is what the client hears back
            let answer = close_upstream(upstream, from_upstream, reason.clone(), true).await;
            let answer = answer.or_else(|| reason.clone());
            return close_client(client, answer).await;
        }
        End::UpstreamClosed(reason) => (Some(reason.clone()), Some((reason.clone(), false))),
        End::UpstreamGone => (Some(Some(end.own_close())), None),
        End::ClientGone => (None, Some((Some(end.own_close()), true))),
        _ => (
            Some(Some(end.own_close())),
            Some((Some(end.own_close()), true)),
        ),
    };
    let upstream_side = async {
        if let Some((reason, wait)) = to_upstream {
            close_upstream(upstream, from_upstream, reason, wait).await;
        }
    };
    let client_side = async {
        match to_client {
            Some(reason) => close_client(client, reason).await,
            None => 1006,
        }
    };
    futures_util::future::join(client_side, upstream_side)
        .await
        .0
}

/// Sends the client `reason` and ends its connection; the code it got.
async fn close_client(client: Session, reason: Option<CloseReason>) -> u16 {
    let code = reason.as_ref().map_or(1005, |r| r.code.into());
    let _ = tokio::time::timeout(CLOSE_WAIT, client.close(reason)).await;
    code
}

/// Sends the upstream `reason` and, when the gateway is the one closing
/// (`wait`), waits for its answering close before ending the connection
/// (RFC 6455 §7.1.1); the upstream's answer.
async fn close_upstream(
    upstream: &mut (impl Sink<Message, Error = ProtocolError> + Unpin),
    from_upstream: &mut (impl Stream<Item = Result<Frame, ProtocolError>> + Unpin),
    reason: Option<CloseReason>,
    wait: bool,
) -> Option<CloseReason> {
    let sent = tokio::time::timeout(CLOSE_WAIT, upstream.send(Message::Close(reason))).await;
    let mut answer = None;
    if wait && matches!(sent, Ok(Ok(()))) {
        answer = tokio::time::timeout(CLOSE_WAIT, close_of(from_upstream))
            .await
            .ok()
            .flatten();
    }
    let _ = tokio::time::timeout(CLOSE_WAIT, SinkExt::close(upstream)).await;
    answer
}

/// The close frame the upstream answers with, skipping what comes first.
async fn close_of(
    from_upstream: &mut (impl Stream<Item = Result<Frame, ProtocolError>> + Unpin),
) -> Option<CloseReason> {
    while let Some(Ok(frame)) = from_upstream.next().await {
        if let Frame::Close(reason) = frame {
            return reason;
        }
    }
    None
}

/// An upgraded socket: what its pump needs beside the two connections.
struct Socket {
    state: web::Data<AppState>,
    registration: Registration,
    /// Its session, and when that ends by itself; `None` on a public route.
    session: Option<(String, DateTime<Utc>)>,
    /// What its access line says, when access lines are written.
    line: Option<LineFacts>,
    opened: Instant,
    handshake_ms: f64,
}

struct LineFacts {
    request_id: String,
    peer: Option<std::net::IpAddr>,
    path: String,
    user_id: Option<String>,
}

impl Socket {
    /// Registers the socket under its session (a public route's under
    /// none: only shutdown closes it) and counts it.
    fn open(
        req: &HttpRequest,
        state: &web::Data<AppState>,
        claims: Option<&Claims>,
        live_until: Option<DateTime<Utc>>,
        told: &Forwarding,
        started: Instant,
    ) -> Self {
        let session = claims
            .zip(live_until)
            .map(|(c, until)| (c.sid.clone(), until));
        let key = session.as_ref().map_or("", |(sid, _)| sid.as_str());
        let registration = state.revoked.sockets().register(key);
        state.metrics.socket_opened();
        let line = logging::access_enabled().then(|| LineFacts {
            request_id: told.request_id().to_owned(),
            peer: req.peer_addr().map(|p| p.ip()),
            path: req.uri().path().to_owned(),
            user_id: claims.map(|c| c.sub.clone()),
        });
        Self {
            state: state.clone(),
            registration,
            session,
            line,
            opened: Instant::now(),
            handshake_ms: (started.elapsed().as_secs_f64() * 10_000.0).round() / 10.0,
        }
    }

    /// Pumps until one side is done or the socket must close; then closes
    /// both sides, counts it and writes its access line.
    async fn run(
        mut self,
        client: Session,
        mut messages: MessageStream,
        upstream: impl Stream<Item = Result<Frame, ProtocolError>>
        + Sink<Message, Error = ProtocolError>
        + Unpin,
        max: usize,
    ) {
        let (mut to_upstream, mut from_upstream) = upstream.split();
        let traffic = Traffic::new();
        let mut to_client = client.clone();
        let end = tokio::select! {
            end = client_to_upstream(&mut messages, &mut to_upstream, &traffic, max) => end,
            end = upstream_to_client(&mut from_upstream, &mut to_client, &traffic, max) => end,
            end = self.watch(client.clone(), &traffic) => end,
        };
        let code = finish(&end, client, &mut to_upstream, &mut from_upstream).await;
        self.state.metrics.socket_closed(end.metric());
        self.write_line(code, &traffic);
    }

    /// Resolves when the socket must close for reasons of its own: its
    /// registration says so, its session ended or expired, a peer went
    /// silent. Pings the client when it has been quiet.
    async fn watch(&mut self, mut client: Session, traffic: &Traffic) -> End {
        let mut tick = tokio::time::interval(EXPIRY_CHECK);
        let mut pinged = Instant::now();
        loop {
            tokio::select! {
                why = self.registration.closing() => return End::from(why),
                _ = tick.tick() => {}
            }
            if self.session_over().await {
                return End::SessionEnded;
            }
            if traffic.quietest() >= IDLE_LIMIT {
                return End::Idle;
            }
            if traffic.heard_client.get().elapsed() >= PING_EVERY && pinged.elapsed() >= PING_EVERY
            {
                pinged = Instant::now();
                let _ = tokio::time::timeout(CLOSE_WAIT, client.ping(PING)).await;
            }
        }
    }

    /// Whether the socket's session is over: ended (as this instance's
    /// revocation list knows) or, once its expiry came, no longer live in
    /// the database (a refresh may have moved its idle expiry on).
    async fn session_over(&mut self) -> bool {
        let Some((sid, deadline)) = &mut self.session else {
            return false;
        };
        let sessions = &self.state.services.sessions;
        if sessions.is_revoked(sid) {
            return true;
        }
        let now = self.state.clock.now();
        if now < *deadline {
            return false;
        }
        match sessions.live_until(sid.clone(), now).await {
            Ok(Some(until)) if until > now => {
                *deadline = until;
                false
            }
            Ok(_) => true,
            Err(e) => {
                log::warn!("checking a WebSocket's session failed: {e}");
                *deadline = now + chrono::Duration::seconds(5);
                false
            }
        }
    }

    /// The socket's one access line: duration, bytes each way, close code.
    fn write_line(&self, close_code: u16, traffic: &Traffic) {
        let Some(facts) = &self.line else { return };
        let socket = SocketLine {
            duration_ms: u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX),
            bytes_in: traffic.bytes_in.get(),
            bytes_out: traffic.bytes_out.get(),
            close_code,
        };
        logging::access(
            crate::clock::now(),
            &AccessLine {
                request_id: &facts.request_id,
                peer: facts.peer,
                method: "GET",
                path: &facts.path,
                status: 101,
                latency_ms: self.handshake_ms,
                user_id: facts.user_id.as_deref(),
                socket: Some(socket),
            },
        );
    }
}
