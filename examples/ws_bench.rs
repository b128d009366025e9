//! Not portcullis: the two ends of `bench/ws`, the WebSocket measurement.
//!
//! - `ws_bench echo ADDR`: an `actix-ws` echo server (one worker), the
//!   upstream both paths share;
//! - `ws_bench client URL CONNS SECS [TOKEN]`: CONNS sockets (with `TOKEN`
//!   as a bearer header when given), each in a closed loop: send a 64-byte
//!   text message, wait for its echo, again, for SECS seconds. Prints one
//!   JSON line: messages echoed, messages/s, round-trip p50/p99 in ms.

use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use actix_ws::Message;
use awc::ws::Frame;
use futures_util::{SinkExt, StreamExt};

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage =
        || std::io::Error::other("usage: ws_bench echo ADDR | client URL CONNS SECS [TOKEN]");
    match args.first().map(String::as_str) {
        Some("echo") => echo(args.get(1).ok_or_else(usage)?),
        Some("client") if args.len() >= 4 => {
            let conns = args[2].parse().map_err(|_| usage())?;
            let secs = args[3].parse().map_err(|_| usage())?;
            client(&args[1], conns, secs, args.get(4).cloned())
        }
        _ => Err(usage()),
    }
}

fn echo(addr: &str) -> std::io::Result<()> {
    actix_web::rt::System::new().block_on(
        HttpServer::new(|| App::new().default_service(web::to(socket)))
            .workers(1)
            .bind(addr)?
            .run(),
    )
}

async fn socket(req: HttpRequest, body: web::Payload) -> Result<HttpResponse, actix_web::Error> {
    let (res, mut session, mut stream) = actix_ws::handle(&req, body)?;
    actix_web::rt::spawn(async move {
        while let Some(Ok(message)) = stream.recv().await {
            let sent = match message {
                Message::Text(text) => session.text(text).await,
                Message::Binary(bytes) => session.binary(bytes).await,
                Message::Ping(payload) => session.pong(&payload).await,
                Message::Close(reason) => {
                    let _ = session.close(reason).await;
                    return;
                }
                _ => Ok(()),
            };
            if sent.is_err() {
                return;
            }
        }
    });
    Ok(res)
}

fn client(url: &str, conns: usize, secs: u64, token: Option<String>) -> std::io::Result<()> {
    let url = url.to_owned();
    let rtts = actix_web::rt::System::new().block_on(async move {
        let until = Instant::now() + Duration::from_secs(secs);
        let loops = (0..conns).map(|_| one_socket(url.clone(), token.clone(), until));
        futures_util::future::join_all(loops).await
    });
    let mut all: Vec<Duration> = rtts.into_iter().collect::<Result<Vec<_>, _>>()?.concat();
    all.sort_unstable();
    let pct = |p: f64| {
        let at = ((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1));
        all.get(at).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    println!(
        r#"{{"messages":{},"per_sec":{:.0},"p50_ms":{:.3},"p99_ms":{:.3}}}"#,
        all.len(),
        all.len() as f64 / secs as f64,
        pct(0.50),
        pct(0.99)
    );
    Ok(())
}

/// One socket's closed loop; the round trip of every message.
async fn one_socket(
    url: String,
    token: Option<String>,
    until: Instant,
) -> std::io::Result<Vec<Duration>> {
    let mut request = awc::Client::new().ws(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let (_, mut socket) = request
        .connect()
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let payload = "x".repeat(64);
    let mut rtts = Vec::new();
    while Instant::now() < until {
        let sent = Instant::now();
        socket
            .send(Message::Text(payload.as_str().into()))
            .await
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        loop {
            match socket.next().await {
                Some(Ok(Frame::Text(_))) => break,
                Some(Ok(_)) => {}
                other => return Err(std::io::Error::other(format!("echo lost: {other:?}"))),
            }
        }
        rtts.push(sent.elapsed());
    }
    let _ = socket.send(Message::Close(None)).await;
    Ok(rtts)
}
