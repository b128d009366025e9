//! §11: WebSockets through `/api`, in front of a real WebSocket upstream
//! (support/sockets.rs): tickets, messages both ways, close codes and
//! pings, the size limit, refused handshakes, the identity headers, and
//! sockets closed the moment their session ends — on this instance or
//! another (PostgreSQL), at expiry, at SIGTERM.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_ws::{CloseCode, CloseReason, Message};
use awc::error::WsClientError;
use awc::ws::Frame;
use portcullis::auth::Role;
use serde_json::Value;

use crate::support::*;

/// A gateway in front of the WebSocket upstream, with `adjust` on top.
async fn gateway_with(adjust: impl FnOnce(&mut ServeArgs)) -> (TestApp, SocketLog) {
    let (upstream, log) = socket_upstream();
    let app = spawn_with(|args| {
        args.upstream = Some(upstream);
        adjust(args);
    })
    .await;
    (app, log)
}

async fn gateway() -> (TestApp, SocketLog) {
    gateway_with(|_| {}).await
}

#[actix_web::test]
async fn a_ticket_is_single_use_json_for_thirty_seconds_and_needs_a_bearer_token() {
    let (app, _) = gateway().await;
    let session = app.logged_in("alice", &[Role::User]).await;
    let mut res = app.ws_ticket_raw(&session.access).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers().get("cache-control").unwrap(), "no-store");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["expires_in"], 30);
    let ticket = body["ticket"].as_str().unwrap();
    assert!(ticket.len() >= 43, "256 bits: {ticket}");
    assert_ne!(app.ws_ticket(&session.access).await, ticket, "each is new");

    let res = app
        .client
        .post(format!("{}/auth/ws-ticket", app.url))
        .send()
        .await
        .unwrap();
    assert_error(res, 401, "invalid_token").await;
}

#[actix_web::test]
async fn text_binary_and_fragmented_messages_pass_both_ways_unchanged() {
    let (app, log) = gateway().await;
    let session = app.logged_in("alice", &[Role::User]).await;
    let mut ws = app.socket("/echo", &session.access).await;

    ws.send_text("hello, upstream").await;
    assert_eq!(ws.data().await, Frame::Text("hello, upstream".into()));
    let bytes: Vec<u8> = (0..=255u8).cycle().take(300 * 1024).collect();
    ws.send(Message::Binary(bytes.clone().into())).await;
    assert_eq!(ws.data().await, Frame::Binary(bytes.into()));
    for piece in fragments(&["he", "ll", "o"]) {
        ws.send(piece).await;
    }
    let mut pieces = Vec::new();
    for _ in 0..3 {
        match ws.data().await {
            Frame::Continuation(item) => pieces.push(format!("{item:?}")),
            other => panic!("not a fragment: {other:?}"),
        }
    }
    assert!(
        pieces[0].contains("FirstText") && pieces[2].contains("Last"),
        "{pieces:?}"
    );
    // a bearer token works as well as a ticket
    let mut by_bearer = ws_connect(
        &app.url,
        "/api/echo",
        Credential::Bearer(&session.access),
        &[],
    )
    .await
    .unwrap();
    by_bearer.send_text("by bearer").await;
    assert_eq!(by_bearer.data().await, Frame::Text("by bearer".into()));
    assert_eq!(log.handshakes(), 2);
}

#[actix_web::test]
async fn close_codes_and_pings_pass_through_both_ways() {
    let (app, log) = gateway().await;
    let session = app.logged_in("alice", &[Role::User]).await;

    // the upstream's close reaches the client with its code
    let mut ws = app.socket("/close-with/4001", &session.access).await;
    ws.send_text("go").await;
    assert_eq!(ws.closed_within(Duration::from_secs(2)).await.0, 4001);

    // the client's close reaches the upstream, whose answer comes back
    let mut ws = app.socket("/echo", &session.access).await;
    let reason = CloseReason {
        code: CloseCode::Other(4002),
        description: Some("done".into()),
    };
    ws.send(Message::Close(Some(reason))).await;
    assert_eq!(ws.closed_within(Duration::from_secs(2)).await.0, 4002);
    log.wait_for_close(4002).await;

    // pings both ways, answered by the other end
    let mut ws = app.socket("/ping-first", &session.access).await;
    assert_eq!(ws.next().await, Some(Frame::Ping("from-upstream".into())));
    ws.send(Message::Ping("from-client".into())).await;
    assert_eq!(ws.next().await, Some(Frame::Pong("from-client".into())));
}

#[actix_web::test]
async fn a_two_mebibyte_message_closes_the_socket_with_1009_either_way() {
    let (app, log) = gateway().await;
    let session = app.logged_in("alice", &[Role::User]).await;
    let mut ws = app.socket("/echo", &session.access).await;
    ws.send(Message::Binary(vec![1u8; 2 << 20].into())).await;
    assert_eq!(ws.closed_within(Duration::from_secs(3)).await.0, 1009);
    log.wait_for_close(1009).await;

    // in pieces, each under the limit, it is still one message too big
    let mut ws = app.socket("/echo", &session.access).await;
    let piece = "x".repeat(700 * 1024);
    for part in fragments(&[&piece, &piece]) {
        ws.send(part).await;
    }
    assert_eq!(ws.closed_within(Duration::from_secs(3)).await.0, 1009);

    // and from the upstream
    let mut ws = app.socket("/big-reply", &session.access).await;
    ws.send_text("send me lots").await;
    assert_eq!(ws.closed_within(Duration::from_secs(3)).await.0, 1009);
    app.wait_for_metric(r#"portcullis_websocket_closes_total{reason="too_big"} 3"#)
        .await;
    app.wait_for_metric("portcullis_websockets_active 0").await;
}

/// The handshake is refused with `status` and JSON `code`, never upgraded.
async fn assert_refused(app: &TestApp, path: &str, extra: &[&str], status: u16, code: &str) {
    let res = app.ws_handshake_raw(path, extra).await;
    assert_eq!(res.status, status, "{path}: {res:?}");
    assert!(res.header("upgrade").is_none(), "{path}: never upgraded");
    assert_eq!(res.error_code(), code, "{path}");
}

#[actix_web::test]
async fn handshakes_without_a_live_ticket_of_their_session_are_refused_as_json() {
    let (app, log) = gateway().await;
    let alice = app.logged_in("alice", &[Role::User]).await;
    let bob = app.logged_in("bob", &[Role::User]).await;

    assert_refused(&app, "/echo", &[], 401, "invalid_token").await;
    assert_refused(&app, "/echo?ticket=not-a-ticket", &[], 401, "invalid_token").await;

    let spent = app.ws_ticket(&alice.access).await;
    drop(app.socket_with_ticket("/echo", &spent).await);
    let path = format!("/echo?ticket={spent}");
    assert_refused(&app, &path, &[], 401, "invalid_token").await;

    let expired = app.ws_ticket(&alice.access).await;
    app.advance(31.0);
    assert_refused(
        &app,
        &format!("/echo?ticket={expired}"),
        &[],
        401,
        "invalid_token",
    )
    .await;

    // bob's ticket beside alice's token: another session's ticket
    let bobs = app.ws_ticket(&bob.access).await;
    let bearer = format!("Authorization: Bearer {}", alice.access);
    let path = format!("/echo?ticket={bobs}");
    assert_refused(&app, &path, &[&bearer], 401, "invalid_token").await;

    // a ticket whose session has ended since
    let orphan = app.ws_ticket(&bob.access).await;
    assert_eq!(app.logout(&bob.refresh).await.status(), 204);
    assert_refused(
        &app,
        &format!("/echo?ticket={orphan}"),
        &[],
        401,
        "invalid_token",
    )
    .await;

    assert_eq!(
        log.handshakes(),
        1,
        "only the one live ticket reached the upstream"
    );
    let refused = ws_connect(&app.url, "/api/echo", Credential::None, &[]).await;
    assert!(matches!(
        refused,
        Err(WsClientError::InvalidResponseStatus(s)) if s == 401
    ));
}

#[actix_web::test]
async fn the_upstream_gets_the_identity_and_neither_the_ticket_nor_spoofed_user_headers() {
    let (app, _) = gateway().await;
    let session = app.logged_in("alice", &[Role::User]).await;
    let ticket = app.ws_ticket(&session.access).await;
    let spoofed = [
        ("X-User-Id", "admin-id"),
        ("X-User-Roles", "admin"),
        ("X-User-Name", "root"),
        ("X-Forwarded-For", "6.6.6.6"),
        ("Cookie", "portcullis_refresh=stolen"),
        ("Sec-WebSocket-Protocol", "feed.v1"),
        ("Sec-WebSocket-Extensions", "permessage-deflate"),
    ];
    let path = format!("/api/headers?a=1&ticket={ticket}&b=%20");
    let mut ws = ws_connect(&app.url, &path, Credential::None, &spoofed)
        .await
        .unwrap();
    let seen = ws.json().await;
    assert_eq!(seen["path"], "/headers");
    assert_eq!(
        seen["query"], "a=1&b=%20",
        "the ticket is gone, the rest as sent"
    );
    let headers = &seen["headers"];
    assert_eq!(headers["x-user-id"], serde_json::json!([session.user_id()]));
    assert_eq!(headers["x-user-name"], serde_json::json!(["alice"]));
    assert_eq!(headers["x-user-roles"], serde_json::json!(["user"]));
    assert_eq!(headers["x-forwarded-for"], serde_json::json!(["127.0.0.1"]));
    assert_eq!(
        headers["sec-websocket-protocol"],
        serde_json::json!(["feed.v1"])
    );
    assert!(headers["x-request-id"].is_array());
    for gone in ["cookie", "sec-websocket-extensions", "authorization"] {
        assert!(
            headers.get(gone).is_none(),
            "{gone} reached the upstream: {headers}"
        );
    }
    assert!(!seen.to_string().contains(&ticket));
}

#[actix_web::test]
async fn the_policy_applies_to_the_handshake_as_a_get() {
    let dir = tempfile::tempdir().unwrap();
    let policy = policy_file(
        dir.path(),
        r#"
        [[rule]]
        methods = ["GET"]
        path = "/admin-feed"
        roles = ["admin"]
        "#,
    );
    let (app, _) = gateway_with(|args| args.policy = Some(policy)).await;
    let user = app.logged_in("alice", &[Role::User]).await;
    let admin = app.logged_in("root", &[Role::User, Role::Admin]).await;
    let ticket = app.ws_ticket(&user.access).await;
    let path = format!("/admin-feed?ticket={ticket}");
    assert_refused(&app, &path, &[], 403, "forbidden").await;
    let mut ws = app.socket("/admin-feed", &admin.access).await;
    ws.send_text("ok").await;
    assert_eq!(ws.data().await, Frame::Text("ok".into()));
}

#[actix_web::test]
async fn an_upstream_that_refuses_or_is_gone_gives_502_not_a_hang() {
    let (app, _) = gateway().await;
    let session = app.logged_in("alice", &[Role::User]).await;
    let ticket = app.ws_ticket(&session.access).await;
    let start = Instant::now();
    assert_refused(
        &app,
        &format!("/refuse?ticket={ticket}"),
        &[],
        502,
        "upstream_unavailable",
    )
    .await;
    assert!(start.elapsed() < Duration::from_secs(2));

    let gone = spawn_with(|_| {}).await; // in front of NO_UPSTREAM
    let session = gone.logged_in("alice", &[Role::User]).await;
    let ticket = gone.ws_ticket(&session.access).await;
    assert_refused(
        &gone,
        &format!("/echo?ticket={ticket}"),
        &[],
        502,
        "upstream_unavailable",
    )
    .await;
}

/// Opens a socket of `session`, ends the session with `end`, and checks
/// the socket (and the upstream behind it) got 1008 within 2 s.
async fn closes_with_1008(app: &TestApp, log: &SocketLog, access: &str, end: impl AsyncFnOnce()) {
    let mut ws = app.socket("/echo", access).await;
    ws.send_text("still here").await;
    assert_eq!(ws.data().await, Frame::Text("still here".into()));
    end().await;
    let (code, took) = ws.closed_within(Duration::from_secs(2)).await;
    assert_eq!(code, 1008);
    eprintln!("closed with 1008 after {took:?}");
    log.wait_for_close(1008).await;
}

#[actix_web::test]
async fn logout_logout_all_disable_and_reuse_each_close_a_live_socket_with_1008() {
    let (app, log) = gateway().await;
    let admin = app.logged_in("root", &[Role::User, Role::Admin]).await;

    let s = app.logged_in("alice", &[Role::User]).await;
    closes_with_1008(&app, &log, &s.access, async || {
        assert_eq!(app.logout(&s.refresh).await.status(), 204);
    })
    .await;

    let s = app.login("alice").await;
    closes_with_1008(&app, &log, &s.access, async || {
        let res = app.call("POST", "/auth/logout-all", &s.access).await;
        assert_eq!(res.status(), 204);
    })
    .await;

    let s = app.logged_in("bob", &[Role::User]).await;
    let path = format!("/auth/admin/users/{}/disable", s.user_id());
    closes_with_1008(&app, &log, &s.access, async || {
        assert_eq!(app.call("POST", &path, &admin.access).await.status(), 204);
    })
    .await;

    let s = app.login("alice").await;
    closes_with_1008(&app, &log, &s.access, async || {
        assert_eq!(app.refresh(&s.refresh).await.status(), 200);
        app.advance(6.0); // past the grace period: the next is reuse
        assert_eq!(app.refresh(&s.refresh).await.status(), 401);
    })
    .await;
}

#[actix_web::test]
async fn a_session_that_expires_closes_its_socket_and_a_refreshed_one_does_not() {
    let (app, _) = gateway_with(|args| args.session_idle_ttl = "3600".into()).await;
    let session = app.logged_in("alice", &[Role::User]).await;
    let mut ws = app.socket("/echo", &session.access).await;
    // a refresh keeps the session alive past its first idle expiry
    app.advance(3000.0);
    assert_eq!(app.refresh(&session.refresh).await.status(), 200);
    app.advance(1000.0);
    actix_web::rt::time::sleep(Duration::from_millis(1500)).await;
    ws.send_text("alive").await;
    assert_eq!(ws.data().await, Frame::Text("alive".into()));
    // unused for an hour, it is over
    app.advance(3600.0);
    assert_eq!(ws.closed_within(Duration::from_secs(2)).await.0, 1008);
}

#[actix_web::test]
async fn two_hundred_idle_sockets_do_not_stop_new_http_requests() {
    let (app, log) = gateway_with(|args| args.max_client_connections = "1000".into()).await;
    let session = app.logged_in("alice", &[Role::User]).await;
    let mut sockets = Vec::new();
    for _ in 0..200 {
        sockets.push(app.socket("/echo", &session.access).await);
    }
    assert_eq!(log.open(), 200);
    let start = Instant::now();
    for _ in 0..20 {
        assert_eq!(app.me(&session.access).await.status(), 200);
        assert_eq!(app.get("/healthz").await.status(), 200);
    }
    let took = start.elapsed();
    assert!(took < Duration::from_secs(3), "40 requests took {took:?}");
    app.wait_for_metric("portcullis_websockets_active 200")
        .await;
    // and every socket still answers
    for ws in sockets.iter_mut().step_by(20) {
        ws.send_text("ping").await;
        assert_eq!(ws.data().await, Frame::Text("ping".into()));
    }
}

impl TestApp {
    /// A socket to `/api{path}` opened with `ticket`.
    async fn socket_with_ticket(&self, path: &str, ticket: &str) -> Ws {
        let path = format!("/api{path}");
        ws_connect(&self.url, &path, Credential::Ticket(ticket), &[])
            .await
            .unwrap()
    }
}

/// Two instances on one fresh PostgreSQL database, both in front of one
/// WebSocket upstream, or `None` (skipped).
async fn two_instances(test: &str) -> Option<(TestApp, TestApp, SocketLog)> {
    let admin = postgres_or_skip(test)?;
    let database = Arc::new(TestDatabase::postgres(&admin));
    let (upstream, log) = socket_upstream();
    let url = upstream.clone();
    let a = spawn_on(&database, |args| args.upstream = Some(upstream)).await;
    let b = spawn_beside(&a, |args| args.upstream = Some(url)).await;
    Some((a, b, log))
}

#[actix_web::test]
async fn a_ticket_from_one_instance_works_once_on_any_other() {
    let name = "a_ticket_from_one_instance_works_once_on_any_other";
    let Some((a, b, log)) = two_instances(name).await else {
        return;
    };
    let session = a.logged_in("alice", &[Role::User]).await;
    let ticket = a.ws_ticket(&session.access).await;
    let mut ws = b.socket_with_ticket("/echo", &ticket).await;
    ws.send_text("via b").await;
    assert_eq!(ws.data().await, Frame::Text("via b".into()));
    let path = format!("/echo?ticket={ticket}");
    assert_refused(&a, &path, &[], 401, "invalid_token").await;
    assert_refused(&b, &path, &[], 401, "invalid_token").await;
    assert_eq!(log.handshakes(), 1);
}

#[actix_web::test]
async fn a_session_ended_through_another_instance_closes_the_socket_within_two_seconds() {
    let name = "a_session_ended_through_another_instance_closes_the_socket_within_two_seconds";
    let Some((a, b, log)) = two_instances(name).await else {
        return;
    };
    let session = a.logged_in("alice", &[Role::User]).await;
    closes_with_1008(&b, &log, &session.access, async || {
        assert_eq!(a.logout(&session.refresh).await.status(), 204);
    })
    .await;

    let admin = a.logged_in("root", &[Role::User, Role::Admin]).await;
    let session = a.login("alice").await;
    let path = format!("/auth/admin/users/{}/sessions", session.user_id());
    closes_with_1008(&b, &log, &session.access, async || {
        assert_eq!(a.call("DELETE", &path, &admin.access).await.status(), 204);
    })
    .await;
}

#[actix_web::test]
async fn sigterm_closes_live_sockets_with_1001_and_logs_each_once_without_its_ticket() {
    let (upstream, log) = socket_upstream();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("p.db").display().to_string();
    cli_add_user(&db, "carol");
    let (served, url) = serve(&[
        ("DATABASE_URL", db.as_str()),
        ("PORTCULLIS_COOKIE_SECURE", "false"),
        ("PORTCULLIS_UPSTREAM", upstream.as_str()),
        ("PORTCULLIS_SHUTDOWN_TIMEOUT", "10"),
    ]);
    let mut res = login_at(&url, "carol", PASSWORD).await;
    assert_eq!(res.status(), 200);
    let access = Session::read(&mut res).await.access;
    let mut res = client()
        .post(format!("{url}/auth/ws-ticket"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    let ticket = res.json::<Value>().await.unwrap()["ticket"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut ws = ws_connect(&url, "/api/feed", Credential::Ticket(&ticket), &[])
        .await
        .unwrap();
    ws.send_text("four").await;
    assert_eq!(ws.data().await, Frame::Text("four".into()));

    served.signal("TERM");
    let (code, took) = ws.closed_within(Duration::from_secs(10)).await;
    assert_eq!(code, 1001);
    assert!(took < Duration::from_secs(5), "took {took:?}");
    log.wait_for_close(1001).await;
    let exit = actix_web::rt::task::spawn_blocking(move || served.wait(Duration::from_secs(10)))
        .await
        .unwrap();
    assert!(exit.status.success(), "exit {:?}", exit.status);
    let lines: Vec<&String> = exit
        .lines
        .iter()
        .filter(|l| l.contains("path=/api/feed"))
        .collect();
    assert_eq!(lines.len(), 1, "one line per socket: {lines:?}");
    for part in [
        "status=101",
        "bytes_in=4",
        "bytes_out=4",
        "close_code=1001",
        "duration_ms=",
    ] {
        assert!(lines[0].contains(part), "{part} missing: {}", lines[0]);
    }
    assert!(
        !exit.lines.iter().any(|l| l.contains(&ticket)),
        "the ticket is never logged"
    );
}
