//! WebSockets (contract §11): a real WebSocket upstream — an echo server
//! on port 0, made with `actix-ws` as any actix service would be, with a
//! few special routes — and the client side, awc's WebSocket client,
//! through the gateway with a ticket or a bearer token.
//!
//! The upstream's routes: every path echoes text, binary and fragmented
//! messages frame by frame, answers pings with pongs and a close frame
//! with the same close; `/headers` first sends what its handshake carried
//! (path, query, headers) as JSON; `/close-with/{code}` closes with that
//! code at the first message; `/ping-first` pings the client at once;
//! `/big-reply` answers the first message with 2 MiB; `/refuse` refuses
//! every upgrade with a 403.

use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_codec::Framed;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use actix_ws::{CloseCode, CloseReason, Item, Message};
use awc::BoxedSocket;
use awc::error::WsClientError;
use awc::ws::{Codec, Frame};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};

use super::*;

/// What the WebSocket upstream saw.
#[derive(Clone, Default)]
pub struct SocketLog {
    /// Handshakes it accepted.
    pub handshakes: Arc<AtomicUsize>,
    /// Sockets open now.
    pub open: Arc<AtomicUsize>,
    /// The close codes its peers (the gateway) sent it; `None`: no code.
    pub closes: Arc<Mutex<Vec<Option<u16>>>>,
}

impl SocketLog {
    pub fn handshakes(&self) -> usize {
        self.handshakes.load(Ordering::SeqCst)
    }

    pub fn open(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }

    /// Waits (up to 3 s) until the upstream got a close with `code`.
    pub async fn wait_for_close(&self, code: u16) {
        let start = Instant::now();
        while !self.closes.lock().unwrap().contains(&Some(code)) {
            assert!(
                start.elapsed() < Duration::from_secs(3),
                "the upstream never got close {code}: {:?}",
                self.closes.lock().unwrap()
            );
            actix_web::rt::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// The WebSocket upstream on port 0: its `http://` URL and what it saw.
pub fn socket_upstream() -> (String, SocketLog) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let log = SocketLog::default();
    let seen = log.clone();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(seen.clone()))
            .route(
                "/refuse",
                web::to(|| async { HttpResponse::Forbidden().json(json!({"no": "sockets"})) }),
            )
            .default_service(web::to(accept))
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    actix_web::rt::spawn(server);
    (format!("http://127.0.0.1:{port}"), log)
}

/// An upgrade on any path but `/refuse`: echoes (see the module docs).
async fn accept(
    req: HttpRequest,
    body: web::Payload,
    log: web::Data<SocketLog>,
) -> Result<HttpResponse, actix_web::Error> {
    let (res, mut session, stream) = actix_ws::handle_with_protocols(&req, body, &["feed.v1"])?;
    log.handshakes.fetch_add(1, Ordering::SeqCst);
    log.open.fetch_add(1, Ordering::SeqCst);
    let path = req.path().to_owned();
    if path == "/headers" {
        let mut headers = serde_json::Map::new();
        for (name, value) in req.headers() {
            let values = headers
                .entry(name.as_str().to_owned())
                .or_insert_with(|| json!([]));
            values
                .as_array_mut()
                .unwrap()
                .push(json!(value.to_str().unwrap()));
        }
        let seen = json!({"path": path, "query": req.uri().query(), "headers": headers});
        session.text(seen.to_string()).await.unwrap();
    }
    if path == "/ping-first" {
        session.ping(b"from-upstream").await.unwrap();
    }
    let log = log.get_ref().clone();
    actix_web::rt::spawn(async move {
        let mut stream = stream.max_frame_size(4 << 20);
        let mut first = true;
        while let Some(Ok(msg)) = stream.recv().await {
            if first && !matches!(msg, Message::Ping(_) | Message::Pong(_)) {
                first = false;
                if let Some(code) = path.strip_prefix("/close-with/") {
                    let reason = CloseReason {
                        code: CloseCode::Other(code.parse().unwrap()),
                        description: Some("bye".into()),
                    };
                    let _ = session.clone().close(Some(reason)).await;
                    break;
                }
                if path == "/big-reply" {
                    let _ = session.binary(vec![7u8; 2 << 20]).await;
                    continue;
                }
            }
            let echoed = match msg {
                Message::Text(text) => session.text(text).await,
                Message::Binary(bytes) => session.binary(bytes).await,
                Message::Continuation(item) => session.continuation(item).await,
                Message::Ping(payload) => session.pong(&payload).await,
                Message::Close(reason) => {
                    log.closes
                        .lock()
                        .unwrap()
                        .push(reason.as_ref().map(|r| r.code.into()));
                    let _ = session.clone().close(reason).await;
                    break;
                }
                Message::Pong(_) | Message::Nop => Ok(()),
            };
            if echoed.is_err() {
                break;
            }
        }
        log.open.fetch_sub(1, Ordering::SeqCst);
    });
    Ok(res)
}

/// A WebSocket client's end of a connection.
pub struct Ws {
    framed: Framed<BoxedSocket, Codec>,
}

/// How a handshake proves who is calling.
pub enum Credential<'a> {
    Ticket(&'a str),
    Bearer(&'a str),
    None,
}

/// Connects to `ws://…{path}` on the gateway at `url` (an `http://` URL),
/// with `credential` and the extra handshake `headers`.
pub async fn ws_connect(
    url: &str,
    path: &str,
    credential: Credential<'_>,
    headers: &[(&str, &str)],
) -> Result<Ws, WsClientError> {
    let base = url.replacen("http://", "ws://", 1);
    let url = match credential {
        Credential::Ticket(ticket) if path.contains('?') => format!("{base}{path}&ticket={ticket}"),
        Credential::Ticket(ticket) => format!("{base}{path}?ticket={ticket}"),
        _ => format!("{base}{path}"),
    };
    let mut request = awc::Client::builder()
        .timeout(Duration::from_secs(10))
        .finish()
        .ws(url)
        .max_frame_size(4 << 20);
    if let Credential::Bearer(token) = credential {
        request = request.bearer_auth(token);
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let (_, framed) = request.connect().await?;
    Ok(Ws { framed })
}

impl Ws {
    pub async fn send(&mut self, message: Message) {
        self.framed.send(message).await.unwrap();
    }

    pub async fn send_text(&mut self, text: &str) {
        self.send(Message::Text(text.into())).await;
    }

    /// The next frame within 5 s; `None` when the connection ended.
    pub async fn next(&mut self) -> Option<Frame> {
        match actix_web::rt::time::timeout(Duration::from_secs(5), self.framed.next()).await {
            Ok(Some(Ok(frame))) => Some(frame),
            Ok(Some(Err(e))) => panic!("the gateway broke the protocol: {e}"),
            Ok(None) => None,
            Err(_) => panic!("no frame within 5 s"),
        }
    }

    /// The next text or binary message, skipping control frames.
    pub async fn data(&mut self) -> Frame {
        loop {
            match self.next().await {
                Some(Frame::Ping(_) | Frame::Pong(_)) => {}
                Some(frame) => return frame,
                None => panic!("the connection ended"),
            }
        }
    }

    /// The next text message, as JSON.
    pub async fn json(&mut self) -> Value {
        match self.data().await {
            Frame::Text(bytes) => serde_json::from_slice(&bytes).unwrap(),
            other => panic!("not a text message: {other:?}"),
        }
    }

    /// Waits up to `within` for the gateway's close frame, skipping what
    /// comes before it; its code and how long it took.
    pub async fn closed_within(&mut self, within: Duration) -> (u16, Duration) {
        let start = Instant::now();
        loop {
            let left = within.saturating_sub(start.elapsed());
            match actix_web::rt::time::timeout(left, self.framed.next()).await {
                Ok(Some(Ok(Frame::Close(reason)))) => {
                    let code = reason.map_or(1005, |r| r.code.into());
                    return (code, start.elapsed());
                }
                Ok(Some(Ok(_))) => {}
                Ok(other) => panic!("the connection ended without a close frame: {other:?}"),
                Err(_) => panic!("no close frame within {within:?}"),
            }
        }
    }
}

/// A fragmented text message's frames.
pub fn fragments(parts: &[&str]) -> Vec<Message> {
    let last = parts.len() - 1;
    parts
        .iter()
        .enumerate()
        .map(|(i, part)| {
            let bytes = web::Bytes::copy_from_slice(part.as_bytes());
            Message::Continuation(match i {
                0 => Item::FirstText(bytes),
                i if i == last => Item::Last(bytes),
                _ => Item::Continue(bytes),
            })
        })
        .collect()
}

impl TestApp {
    /// Waits (up to 3 s) until `/metrics` shows `line`.
    pub async fn wait_for_metric(&self, line: &str) {
        let start = Instant::now();
        loop {
            let text = self.get("/metrics").await.body().await.unwrap();
            let text = String::from_utf8_lossy(&text).into_owned();
            if text.lines().any(|l| l == line) {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(3),
                "no {line} in\n{text}"
            );
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `POST /auth/ws-ticket` with a bearer token.
    pub async fn ws_ticket_raw(&self, access: &str) -> Response {
        self.call("POST", "/auth/ws-ticket", access).await
    }

    /// A fresh ticket for the session of `access`.
    pub async fn ws_ticket(&self, access: &str) -> String {
        let mut res = self.ws_ticket_raw(access).await;
        assert_eq!(res.status(), 200);
        let body: Value = res.json().await.unwrap();
        body["ticket"].as_str().unwrap().to_owned()
    }

    /// A socket to `/api{path}` opened with a fresh ticket of `access`.
    pub async fn socket(&self, path: &str, access: &str) -> Ws {
        let ticket = self.ws_ticket(access).await;
        let path = format!("/api{path}");
        ws_connect(&self.url, &path, Credential::Ticket(&ticket), &[])
            .await
            .unwrap()
    }

    /// A WebSocket handshake to `/api{path}` written on a plain socket,
    /// so that a refusal's body can be read; `extra` header lines on top.
    pub async fn ws_handshake_raw(&self, path: &str, extra: &[&str]) -> raw::RawResponse {
        let mut stream = raw::connect(self.port).await;
        let mut lines = vec![
            "Upgrade: websocket",
            "Connection: Upgrade",
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
            "Sec-WebSocket-Version: 13",
        ];
        lines.extend_from_slice(extra);
        let request = raw::head("GET", &format!("/api{path}"), &lines);
        actix_web::rt::task::spawn_blocking(move || raw::exchange(&mut stream, request.as_bytes()))
            .await
            .unwrap()
    }
}
