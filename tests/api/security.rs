//! Attacks from an outside catalogue, each written as the class it belongs
//! to: headers an upstream would read as ours, method overrides, client
//! addresses on dual-stack listeners, slow clients, framing tricks in both
//! directions, headers the gateway owns, weak secrets and key formats.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use portcullis::auth::Role;
use serde_json::{Value, json};

use crate::support::raw;
use crate::support::*;

/// What the echo upstream received for a `GET /api/x` as `session`, with
/// `extra` headers.
async fn echoed(app: &TestApp, session: &Session, extra: &[(&str, &str)]) -> Value {
    let mut req = app
        .client
        .get(format!("{}/api/x", app.url))
        .bearer_auth(&session.access);
    for (name, value) in extra {
        req = req.append_header((*name, *value));
    }
    let mut res = req.send().await.unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

fn header_names(seen: &Value) -> Vec<String> {
    seen["headers"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect()
}

// --- headers an upstream would read as the gateway's ---------------------

#[actix_web::test]
async fn identity_headers_spelled_with_underscores_or_by_other_proxies_never_reach_the_upstream() {
    let app = spawn_proxied().await;
    let carol = app.logged_in("carol", &[]).await;
    let seen = echoed(
        &app,
        &carol,
        &[
            // WSGI, CGI, PHP and many Java containers read `_` as `-`
            ("X_User_Roles", "admin"),
            ("X_User_Name", "alice"),
            ("x_user_id", "1"),
            ("X-User_Roles", "admin"),
            // identity as other auth proxies assert it
            ("Remote-User", "alice"),
            ("X-Remote-User", "alice"),
            ("X-Forwarded-User", "alice"),
            ("X-Forwarded-Email", "alice@example.com"),
            ("X-Forwarded-Groups", "admin"),
            ("X-Auth-Request-User", "alice"),
            // any other underscore name is dropped too, as nginx does
            ("X_Custom", "1"),
            ("X-Kept", "1"),
        ],
    )
    .await;
    let h = &seen["headers"];
    assert_eq!(h["x-user-roles"], json!(["user"]));
    assert_eq!(h["x-user-name"], json!(["carol"]));
    assert_eq!(h["x-kept"], json!(["1"]));
    for name in header_names(&seen) {
        assert!(!name.contains('_'), "{name} reached the upstream");
        assert!(
            !["remote-user", "x-remote-user"].contains(&name.as_str())
                && !name.starts_with("x-auth-request-")
                && ![
                    "x-forwarded-user",
                    "x-forwarded-email",
                    "x-forwarded-groups"
                ]
                .contains(&name.as_str()),
            "{name} reached the upstream"
        );
    }
}

#[actix_web::test]
async fn identity_headers_of_other_proxies_are_dropped_even_from_a_trusted_proxy() {
    let app = spawn_proxied_with(|a| a.trusted_proxies = "127.0.0.1".into()).await;
    let carol = app.logged_in("carol", &[]).await;
    let seen = echoed(
        &app,
        &carol,
        &[
            ("X-Forwarded-User", "alice"),
            ("X-Forwarded-Proto", "https"),
        ],
    )
    .await;
    assert!(seen["headers"].get("x-forwarded-user").is_none());
    assert_eq!(seen["headers"]["x-forwarded-proto"], json!(["https"]));
}

#[actix_web::test]
async fn url_rewrite_headers_never_reach_the_upstream_from_anyone() {
    let rewrites = [
        ("X-Original-URL", "/admin/users"),
        ("X-Rewrite-URL", "/admin/users"),
        ("X-Override-URL", "/admin/users"),
        ("X-Original-URI", "/admin/users"),
    ];
    for trusted in ["", "127.0.0.1"] {
        let app = spawn_proxied_with(|a| a.trusted_proxies = trusted.into()).await;
        let carol = app.logged_in("carol", &[]).await;
        let seen = echoed(&app, &carol, &rewrites).await;
        for (name, _) in rewrites {
            let lower = name.to_ascii_lowercase();
            assert!(
                seen["headers"].get(&lower).is_none(),
                "{name} reached the upstream (trusted proxies: {trusted:?})"
            );
        }
    }
}

#[actix_web::test]
async fn the_whole_forwarding_family_is_believed_only_from_trusted_proxies() {
    let family = [
        ("X-Forwarded-Port", "443"),
        ("X-Forwarded-Prefix", "/admin"),
        ("X-Forwarded-Ssl", "on"),
        ("X-Forwarded-Scheme", "https"),
        ("X-Forwarded-Server", "evil"),
        ("X-Forwarded-Path", "/admin"),
        ("True-Client-IP", "6.6.6.6"),
        ("X-Client-IP", "6.6.6.6"),
        ("Client-IP", "6.6.6.6"),
        ("CF-Connecting-IP", "6.6.6.6"),
        ("X-Cluster-Client-IP", "6.6.6.6"),
        ("Fastly-Client-IP", "6.6.6.6"),
        ("X-Originating-IP", "6.6.6.6"),
        ("X-Original-Forwarded-For", "6.6.6.6"),
        ("X-Real-IP", "6.6.6.6"),
        ("Forwarded", "for=6.6.6.6;proto=https"),
        ("X-Host", "evil.example"),
        ("Front-End-Https", "on"),
    ];
    let app = spawn_proxied().await;
    let carol = app.logged_in("carol", &[]).await;
    let seen = echoed(&app, &carol, &family).await;
    for (name, _) in family {
        assert!(
            seen["headers"].get(name.to_ascii_lowercase()).is_none(),
            "{name} from an untrusted peer reached the upstream"
        );
    }
    assert_eq!(seen["headers"]["x-forwarded-for"], json!(["127.0.0.1"]));

    let app = spawn_proxied_with(|a| a.trusted_proxies = "127.0.0.1".into()).await;
    let carol = app.logged_in("carol", &[]).await;
    let seen = echoed(&app, &carol, &family).await;
    for (name, value) in family {
        assert_eq!(
            seen["headers"][name.to_ascii_lowercase()],
            json!([value]),
            "{name} from a trusted proxy is passed on"
        );
    }
}

#[actix_web::test]
async fn two_authorization_headers_are_refused_before_anything_is_forwarded() {
    let app = spawn_proxied().await;
    let carol = app.logged_in("carol", &[]).await;
    let alice = app.logged_in("alice", &[Role::Admin]).await;
    let before = app.upstream().hits();
    for first_is_valid in [true, false] {
        let (a, b) = if first_is_valid {
            (carol.access.as_str(), alice.access.as_str())
        } else {
            ("forged", carol.access.as_str())
        };
        let mut res = app
            .client
            .get(format!("{}/api/x", app.url))
            .append_header(("Authorization", format!("Bearer {a}")))
            .append_header(("Authorization", format!("Bearer {b}")))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400);
        assert_eq!(error_code(&mut res).await, "invalid_input");
    }
    assert_eq!(app.upstream().hits(), before, "the upstream never saw them");

    let mut res = app
        .client
        .get(format!("{}/auth/me", app.url))
        .append_header(("Authorization", format!("Bearer {}", carol.access)))
        .append_header(("Authorization", format!("Bearer {}", alice.access)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(error_code(&mut res).await, "invalid_input");
}

#[actix_web::test]
async fn two_authorization_headers_are_refused_on_public_routes_too() {
    // nothing verifies a token there, so the upstream would read whichever
    let dir = tempfile::tempdir().unwrap();
    let policy = policy_file(
        dir.path(),
        "[[rule]]\nmethods = [\"GET\"]\npath = \"/public\"\npublic = true\n",
    );
    let app = spawn_proxied_with(|a| a.policy = Some(policy)).await;
    let ok = app
        .client
        .get(format!("{}/api/public/x", app.url))
        .append_header(("Authorization", "Bearer one"))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200, "one header passes");
    let before = app.upstream().hits();
    let mut res = app
        .client
        .get(format!("{}/api/public/x", app.url))
        .append_header(("Authorization", "Bearer one"))
        .append_header(("Authorization", "Bearer two"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(error_code(&mut res).await, "invalid_input");
    assert_eq!(app.upstream().hits(), before);
}

// --- the method the upstream acts on is the method the policy judged -----

#[actix_web::test]
async fn method_override_headers_and_parameters_are_refused_before_the_policy() {
    let app = spawn_proxied().await;
    let bob = app.logged_in("bob", &[Role::Editor]).await;
    let before = app.upstream().hits();
    for header in [
        "X-HTTP-Method-Override",
        "X-Method-Override",
        "X-HTTP-Method",
    ] {
        let mut res = app
            .client
            .post(format!("{}/api/items/1", app.url))
            .bearer_auth(&bob.access)
            .insert_header((header, "DELETE"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{header}");
        assert_eq!(error_code(&mut res).await, "invalid_input");
    }
    // PHP (Symfony, Laravel) reads `.`, ` ` and `[` in names as `_`
    for query in [
        "_method=DELETE",
        "_METHOD=delete",
        "%5Fmethod=DELETE",
        "a=1&_method=DELETE",
        ".method=DELETE",
        "+_method=DELETE",
        "%20_method=DELETE",
        "[method=DELETE",
        "_method[]=DELETE",
    ] {
        let mut res = app
            .client
            .post(format!("{}/api/items/1?{query}", app.url))
            .bearer_auth(&bob.access)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "?{query}");
        assert_eq!(error_code(&mut res).await, "invalid_input");
    }
    assert_eq!(app.upstream().hits(), before, "the upstream never saw them");

    // parameters that merely look alike pass
    for query in ["methods=1", "my_method=DELETE", "method=DELETE"] {
        let res = app
            .client
            .post(format!("{}/api/items/1?{query}", app.url))
            .bearer_auth(&bob.access)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "?{query}");
    }
}

// --- one client address, however the listener sees it -------------------

/// Fails `n` logins from `from` (each with a fresh unknown username, so
/// only the address counts) and returns the status of one more.
async fn fail_logins_from(app: &TestApp, from: IpAddr, xff: Option<&str>, n: usize) -> u16 {
    let forwarded = xff.map(|a| format!("X-Forwarded-For: {a}"));
    let extra: Vec<&str> = forwarded.iter().map(String::as_str).collect();
    let mut last = 0;
    for i in 0..=n {
        let mut stream = raw::connect_from(from, app.port).await;
        // a valid name (3–32 characters), so it gets its own bucket
        let name = format!("u{}", &uuid::Uuid::new_v4().simple().to_string()[..16]);
        let res = raw::exchange(
            &mut stream,
            &raw::login_request(&name, &format!("wrong password {i}"), &extra),
        );
        last = res.status;
    }
    last
}

#[actix_web::test]
async fn ipv4_clients_of_a_dual_stack_listener_each_have_their_own_throttle_bucket() {
    let app = spawn_with(|a| a.bind = "[::]:0".into()).await;
    let first: IpAddr = "127.0.0.1".parse().unwrap();
    let second: IpAddr = "127.0.0.2".parse().unwrap();
    assert_eq!(fail_logins_from(&app, first, None, 20).await, 429);
    assert_eq!(
        fail_logins_from(&app, second, None, 0).await,
        401,
        "another IPv4 client is not locked out by the first"
    );
}

#[actix_web::test]
async fn a_dual_stack_listener_forwards_ipv4_clients_by_their_ipv4_address() {
    let app = spawn_proxied_with(|a| a.bind = "[::]:0".into()).await;
    let carol = app.logged_in("carol", &[]).await;
    let seen = echoed(&app, &carol, &[]).await;
    assert_eq!(seen["headers"]["x-forwarded-for"], json!(["127.0.0.1"]));
}

#[actix_web::test]
async fn trusted_proxies_and_their_hops_are_read_as_ipv4_on_a_dual_stack_listener() {
    let app = spawn_proxied_with(|a| {
        a.bind = "[::]:0".into();
        a.trusted_proxies = "127.0.0.1".into();
    })
    .await;
    let carol = app.logged_in("carol", &[]).await;
    let seen = echoed(&app, &carol, &[("X-Forwarded-For", "198.51.100.7")]).await;
    assert_eq!(
        seen["headers"]["x-forwarded-for"],
        json!(["198.51.100.7, 127.0.0.1"]),
        "the proxy (arriving as ::ffff:127.0.0.1) is trusted"
    );

    let local: IpAddr = "127.0.0.1".parse().unwrap();
    // a hop written as an IPv4-mapped address is the same IPv4 client
    assert_eq!(
        fail_logins_from(&app, local, Some("::ffff:198.51.100.9"), 19).await,
        401
    );
    assert_eq!(
        fail_logins_from(&app, local, Some("198.51.100.9"), 0).await,
        429
    );
    assert_eq!(
        fail_logins_from(&app, local, Some("198.51.100.10"), 0).await,
        401,
        "its neighbour has its own bucket"
    );
}

// --- slow clients ----------------------------------------------------------

#[actix_web::test]
async fn a_trickled_login_body_is_cut_off_with_408() {
    let app = spawn_app().await;
    let mut stream = raw::connect(app.port).await;
    let body = br#"{"username":"carol","password":"correct horse battery"}"#;
    let len = format!("Content-Length: {}", body.len());
    let head = raw::head(
        "POST",
        "/auth/login",
        &["Content-Type: application/json", len.as_str()],
    );
    use std::io::Write;
    stream.write_all(head.as_bytes()).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let body = body.to_vec();
    std::thread::spawn(move || {
        for byte in body {
            if writer.write_all(&[byte]).is_err() {
                break;
            }
            std::thread::sleep(Duration::from_secs(1));
        }
    });
    let started = Instant::now();
    let res = raw::read_response(&mut stream);
    assert_eq!(res.status, 408);
    assert_eq!(res.error_code(), "request_timeout");
    assert!(
        started.elapsed() < Duration::from_secs(9),
        "cut off after {:?}",
        started.elapsed()
    );
}

#[actix_web::test]
async fn a_declared_login_body_that_never_arrives_is_answered() {
    let app = spawn_app().await;
    for (declared, status, code) in [
        (100, 408, "request_timeout"),
        (1_000_000, 413, "payload_too_large"),
    ] {
        let mut stream = raw::connect(app.port).await;
        let len = format!("Content-Length: {declared}");
        let head = raw::head(
            "POST",
            "/auth/login",
            &["Content-Type: application/json", len.as_str()],
        );
        let started = Instant::now();
        let res = raw::exchange(&mut stream, head.as_bytes());
        assert_eq!(res.status, status, "declared {declared}");
        assert_eq!(res.error_code(), code);
        assert!(started.elapsed() < Duration::from_secs(9));
    }
}

#[actix_web::test]
async fn a_stalled_api_body_is_cut_off_after_the_idle_timeout() {
    let app = spawn_proxied_with(|a| a.body_idle_timeout = "1".into()).await;
    let bob = app.logged_in("bob", &[Role::Editor]).await;
    let auth = format!("Authorization: Bearer {}", bob.access);
    for framing in ["Content-Length: 100", "Transfer-Encoding: chunked"] {
        let mut stream = raw::connect(app.port).await;
        let mut req = raw::head(
            "POST",
            "/api/upload",
            &[auth.as_str(), framing, "Content-Type: text/plain"],
        )
        .into_bytes();
        // a first piece, then nothing
        if framing.starts_with("Transfer") {
            req.extend_from_slice(b"a\r\n0123456789\r\n");
        } else {
            req.extend_from_slice(b"0123456789");
        }
        let started = Instant::now();
        let res = raw::exchange(&mut stream, &req);
        assert_eq!(res.status, 408, "{framing}");
        assert_eq!(res.error_code(), "request_timeout");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{framing}: cut off after {:?}",
            started.elapsed()
        );
    }
}

#[actix_web::test]
async fn a_slow_but_steady_api_body_is_not_cut_off() {
    let app = spawn_proxied_with(|a| {
        a.body_idle_timeout = "2".into();
        // the upstream timeout counts the upload too
        a.upstream_timeout = "20".into();
    })
    .await;
    let bob = app.logged_in("bob", &[Role::Editor]).await;
    let auth = format!("Authorization: Bearer {}", bob.access);
    let mut stream = raw::connect(app.port).await;
    let head = raw::head(
        "POST",
        "/api/upload",
        &[
            auth.as_str(),
            "Content-Length: 4",
            "Content-Type: text/plain",
        ],
    );
    use std::io::Write;
    stream.write_all(head.as_bytes()).unwrap();
    // 4 s in all, never idle for 2 s
    for byte in b"abcd" {
        std::thread::sleep(Duration::from_millis(1000));
        stream.write_all(&[*byte]).unwrap();
    }
    let res = raw::read_response(&mut stream);
    assert_eq!(res.status, 200);
    let seen: Value = serde_json::from_slice(&res.body).unwrap();
    assert_eq!(seen["body_len"], 4);
}

#[actix_web::test]
async fn connections_per_client_address_are_bounded() {
    let app = spawn_with(|a| a.max_client_connections = "2".into()).await;
    let health = raw::head("GET", "/healthz", &[]);
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut stream = raw::connect(app.port).await;
        assert_eq!(raw::exchange(&mut stream, health.as_bytes()).status, 200);
        held.push(stream);
    }
    let mut third = raw::connect(app.port).await;
    let res = raw::exchange(&mut third, health.as_bytes());
    assert_eq!(res.status, 429);
    assert_eq!(res.error_code(), "too_many_attempts");
    assert!(res.header("retry-after").is_some());
    assert!(
        raw::closed_within(&mut third, Duration::from_secs(2)),
        "the refused connection is closed"
    );

    // another address is not affected
    let other: IpAddr = "127.0.0.2".parse().unwrap();
    let mut stream = raw::connect_from(other, app.port).await;
    assert_eq!(raw::exchange(&mut stream, health.as_bytes()).status, 200);

    // a freed slot is usable again
    drop(held.pop());
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let mut stream = raw::connect(app.port).await;
        let status = raw::exchange(&mut stream, health.as_bytes()).status;
        if status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "the slot was never freed");
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
}

#[actix_web::test]
async fn connections_from_trusted_proxies_are_not_bounded() {
    let app = spawn_with(|a| {
        a.max_client_connections = "1".into();
        a.trusted_proxies = "127.0.0.1".into();
    })
    .await;
    let health = raw::head("GET", "/healthz", &[]);
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut stream = raw::connect(app.port).await;
        assert_eq!(raw::exchange(&mut stream, health.as_bytes()).status, 200);
        held.push(stream);
    }
}

// --- framing -------------------------------------------------------------

#[actix_web::test]
async fn a_body_cut_short_is_the_clients_fault_not_the_upstreams() {
    let app = spawn_proxied().await;
    let bob = app.logged_in("bob", &[Role::Editor]).await;
    let auth = format!("Authorization: Bearer {}", bob.access);
    for (framing, piece) in [
        ("Content-Length: 100", &b"0123456789"[..]),
        ("Transfer-Encoding: chunked", &b"a\r\n0123456789\r\n"[..]),
    ] {
        let mut stream = raw::connect(app.port).await;
        let mut req = raw::head(
            "POST",
            "/api/upload",
            &[auth.as_str(), framing, "Content-Type: text/plain"],
        )
        .into_bytes();
        req.extend_from_slice(piece);
        use std::io::Write;
        stream.write_all(&req).unwrap();
        // the client stops sending but still listens
        stream.shutdown(std::net::Shutdown::Write).unwrap();
        let res = raw::read_response(&mut stream);
        assert_eq!(res.status, 400, "{framing}");
        assert_eq!(res.error_code(), "invalid_input");
    }
}

#[actix_web::test]
async fn a_malformed_chunk_closes_the_connection_without_a_502() {
    // actix-http reads a malformed chunk as an I/O error and closes the
    // connection at once: no answer can be written (README, known limits)
    let app = spawn_proxied().await;
    let bob = app.logged_in("bob", &[Role::Editor]).await;
    let auth = format!("Authorization: Bearer {}", bob.access);
    let mut stream = raw::connect(app.port).await;
    let mut req = raw::head(
        "POST",
        "/api/upload",
        &[
            auth.as_str(),
            "Transfer-Encoding: chunked",
            "Content-Type: text/plain",
        ],
    )
    .into_bytes();
    req.extend_from_slice(b"zz\r\nhello\r\n0\r\n\r\n");
    use std::io::{Read, Write};
    stream.write_all(&req).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 400"),
        "{answer}"
    );
}

/// An upstream that answers every request with `response`, verbatim.
fn raw_upstream(response: &'static [u8]) -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { break };
            std::thread::spawn(move || {
                let mut buf = [0u8; 8192];
                let mut seen = Vec::new();
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = stream.write_all(response);
            });
        }
    });
    url
}

#[actix_web::test]
async fn an_upstream_answer_with_two_framings_is_a_502() {
    let upstream = raw_upstream(
        b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    );
    let app = spawn_with(|a| a.upstream = Some(upstream)).await;
    let carol = app.logged_in("carol", &[]).await;
    let mut res = app.api("GET", "/x", &carol.access).await;
    assert_eq!(res.status(), 502);
    assert_eq!(error_code(&mut res).await, "upstream_unavailable");
}

// --- response headers the gateway owns -----------------------------------

#[actix_web::test]
async fn the_gateway_owns_cors_headers_and_its_cookie_on_api_responses() {
    let origin = "http://app.example";
    let app = spawn_proxied_with(|a| a.cors_origins = origin.into()).await;
    let carol = app.logged_in("carol", &[]).await;
    for sent_origin in [Some(origin), Some("http://evil.example"), None] {
        let mut req = app
            .client
            .get(format!("{}/api/owned-headers", app.url))
            .bearer_auth(&carol.access);
        if let Some(o) = sent_origin {
            req = req.insert_header(("Origin", o));
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 200);
        let all = |name: &str| -> Vec<String> {
            res.headers()
                .get_all(name)
                .map(|v| v.to_str().unwrap().to_owned())
                .collect()
        };
        let expected: Vec<String> = match sent_origin {
            Some(o) if o == origin => vec![origin.to_owned()],
            _ => vec![],
        };
        assert_eq!(
            all("access-control-allow-origin"),
            expected,
            "origin {sent_origin:?}"
        );
        assert!(all("access-control-allow-methods").is_empty());
        assert!(
            all("access-control-max-age").is_empty(),
            "the upstream's Access-Control-* headers are dropped"
        );
        assert!(
            set_cookie(&res, COOKIE).is_none(),
            "the upstream cannot set the refresh cookie"
        );
        assert_eq!(set_cookie(&res, "upstream").unwrap().value(), "1");
    }
}

// --- cookies -------------------------------------------------------------

#[actix_web::test]
async fn a_rotation_in_the_sessions_last_second_keeps_the_cookie() {
    let app = spawn_with(|a| {
        a.access_ttl = "60".into();
        a.session_ttl = "100".into();
        a.session_idle_ttl = "100".into();
    })
    .await;
    let carol = app.logged_in("carol", &[]).await;
    // at most a second left (less by however long a loaded machine takes)
    app.advance(99.0);
    let res = app.refresh(&carol.refresh).await;
    assert_eq!(res.status(), 200);
    let cookie = set_cookie(&res, COOKIE).unwrap();
    assert_eq!(
        cookie.max_age().map(|a| a.whole_seconds()),
        Some(1),
        "a live session's cookie is never set with Max-Age=0"
    );
}

// --- signing keys ----------------------------------------------------------

/// The HS256 secret `.env.example` once showed (operators copied it), and
/// any it shows now.
fn example_secrets() -> Vec<String> {
    let shown = include_str!("../../.env.example")
        .lines()
        .filter_map(|l| l.strip_prefix("PORTCULLIS_JWT_SECRET="))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned);
    std::iter::once(portcullis::config::parse::EXAMPLE_SECRET.to_owned())
        .chain(shown)
        .collect()
}

#[test]
fn the_example_secret_and_predictable_secrets_are_refused_with_exit_2() {
    let predictable = [
        "a".repeat(48),
        "0123456789abcdef0123456789abcdef".into(),
        "passwordpasswordpasswordpassword".into(),
        "abababababababababababababababab".into(),
    ];
    for secret in example_secrets().into_iter().chain(predictable) {
        let mut cmd = portcullis();
        cmd.arg("serve")
            .env("PORTCULLIS_BIND", "127.0.0.1:0")
            .env("PORTCULLIS_UPSTREAM", "http://127.0.0.1:9")
            .env("PORTCULLIS_JWT_SECRET", &secret);
        let out = Process::spawn(cmd, Stream::Stderr)
            .exit_within(Duration::from_secs(20))
            .unwrap_or_else(|| panic!("serve started with the secret {secret:?}"));
        let stderr = out.lines.join("\n");
        assert_eq!(out.status.code(), Some(2), "{secret:?} accepted: {stderr}");
        assert!(
            stderr.contains("PORTCULLIS_JWT_SECRET") && stderr.contains("openssl rand -base64 48"),
            "{stderr}"
        );
        assert!(!stderr.contains(&secret), "the secret is echoed: {stderr}");
    }
}

#[test]
fn keygen_writes_a_pkcs8_v1_key_that_common_tools_load() {
    use base64::Engine;
    let dir = tempfile::tempdir().unwrap();
    let path = keygen(dir.path(), "key.pem");
    let pem = std::fs::read_to_string(&path).unwrap();
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    // RFC 5208 PrivateKeyInfo: SEQUENCE { INTEGER 0, AlgorithmIdentifier,
    // OCTET STRING } and nothing after: 48 bytes for Ed25519
    assert_eq!(der.len(), 48, "no public key or attributes embedded");
    assert_eq!(&der[2..5], &[0x02, 0x01, 0x00], "version v1 (0)");

    if std::process::Command::new("openssl")
        .arg("version")
        .output()
        .is_ok()
    {
        let out = std::process::Command::new("openssl")
            .args(["pkey", "-noout", "-in"])
            .arg(&path)
            .output()
            .unwrap();
        assert_success(&out, "openssl cannot read it");
    }
    let python = std::process::Command::new("python3")
        .args([
            "-c",
            "import sys\n\
             try:\n    from cryptography.hazmat.primitives.serialization import load_pem_private_key\n\
             except ImportError:\n    sys.exit(3)\n\
             load_pem_private_key(open(sys.argv[1], 'rb').read(), None)",
        ])
        .arg(&path)
        .output();
    if let Ok(out) = python
        && out.status.code() != Some(3)
    {
        assert_success(&out, "Python's cryptography cannot read it");
    }

    // and the gateway itself serves with it
    let mut cmd = serve_command(&[
        ("PORTCULLIS_JWT_KEY_FILE", path.to_str().unwrap()),
        ("DATABASE_URL", dir.path().join("p.db").to_str().unwrap()),
    ]);
    cmd.env_remove("PORTCULLIS_JWT_SECRET");
    let (_child, _) = try_serve(cmd).unwrap();
}

// --- memory under a login flood -------------------------------------------

/// A `/proc/PID/status` figure in KiB.
fn proc_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[cfg(target_os = "linux")]
#[actix_web::test]
async fn memory_stays_bounded_after_a_flood_of_failed_logins() {
    const MIB: u64 = 1024;
    const HASH_MIB: u64 = 19;
    const MARGIN_MIB: u64 = 32;
    const LOGINS: usize = 300;
    const IN_FLIGHT: usize = 8;

    let dir = tempfile::tempdir().unwrap();
    let upstream = Upstream::spawn();
    let (child, url) = serve(&[
        ("PORTCULLIS_UPSTREAM", upstream.url.as_str()),
        ("DATABASE_URL", dir.path().join("p.db").to_str().unwrap()),
        // each failure from its own address, so none is throttled
        ("PORTCULLIS_TRUSTED_PROXIES", "127.0.0.1"),
    ]);
    let pid = child.id();
    let client = client();
    // one login first, so what every login needs once is in the base
    let _ = client
        .post(format!("{url}/auth/login"))
        .send_json(&json!({ "username": "warm", "password": "up" }))
        .await
        .unwrap();
    let base = proc_kib(pid, "VmRSS");

    let attempts = futures_util::stream::iter(0..LOGINS).map(|i| {
        let client = client.clone();
        let url = url.clone();
        async move {
            client
                .post(format!("{url}/auth/login"))
                .insert_header((
                    "X-Forwarded-For",
                    format!("198.51.{}.{}", i / 250, i % 250 + 1),
                ))
                .send_json(
                    &json!({ "username": format!("nobody{i}"), "password": "wrong password" }),
                )
                .await
                .unwrap()
                .status()
        }
    });
    use futures_util::StreamExt;
    let statuses: Vec<_> = attempts.buffer_unordered(IN_FLIGHT).collect().await;
    assert!(
        statuses.iter().filter(|s| s.as_u16() == 401).count() > LOGINS / 2,
        "most logins were hashed and failed: {statuses:?}"
    );

    let slots = std::thread::available_parallelism().map_or(2, |n| n.get()) as u64;
    let bound = base + slots * HASH_MIB * MIB + MARGIN_MIB * MIB;
    let (rss, peak) = (proc_kib(pid, "VmRSS"), proc_kib(pid, "VmHWM"));
    eprintln!(
        "base {} MiB, after {LOGINS} failed logins {} MiB, peak {} MiB, bound {} MiB ({slots} slots)",
        base / MIB,
        rss / MIB,
        peak / MIB,
        bound / MIB
    );
    assert!(rss <= bound, "RSS {} MiB > {} MiB", rss / MIB, bound / MIB);
    assert!(
        peak <= bound,
        "peak {} MiB > {} MiB",
        peak / MIB,
        bound / MIB
    );
}
