//! §4 and §6: the /api proxy in front of a real upstream.

use std::time::Duration;

use portcullis::auth::Role;
use serde_json::{Value, json};

use crate::support::*;

async fn echo(app: &TestApp, req: awc::ClientRequest) -> Value {
    let _ = app;
    let mut res = req.send().await.unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

#[actix_web::test]
async fn identity_headers_are_added_and_spoofed_ones_removed() {
    let app = spawn_proxied().await;
    let carol = app.add_user("carol", &[]);
    let session = app.login("carol").await;
    let req = app
        .client
        .get(format!("{}/api/things/1?b=2&a=%20x&a=1", app.url))
        .bearer_auth(&session.access)
        .insert_header(("X-User-Id", "admin"))
        .insert_header(("X-User-Roles", "admin"))
        .insert_header(("x-user-extra", "1"))
        .insert_header(("Cookie", format!("{COOKIE}=abc; other=1")))
        .insert_header(("X-Forwarded-For", "6.6.6.6"))
        .insert_header(("X-Request-Id", "trace-123"));
    let seen = echo(&app, req).await;
    let h = &seen["headers"];
    assert_eq!(seen["method"], "GET");
    assert_eq!(seen["path"], "/things/1");
    assert_eq!(seen["query"], "b=2&a=%20x&a=1");
    assert_eq!(h["x-user-id"], json!([carol.id]));
    assert_eq!(h["x-user-name"], json!(["carol"]));
    assert_eq!(h["x-user-roles"], json!(["user"]));
    assert!(h.get("x-user-extra").is_none());
    assert!(h.get("cookie").is_none());
    assert_eq!(h["x-forwarded-for"], json!(["127.0.0.1"]));
    assert_eq!(h["x-forwarded-proto"], json!(["http"]));
    assert_eq!(
        h["x-forwarded-host"],
        json!([format!("127.0.0.1:{}", app.port)])
    );
    assert_eq!(h["x-request-id"], json!(["trace-123"]));
    assert_eq!(
        h["authorization"],
        json!([format!("Bearer {}", session.access)])
    );
}

#[actix_web::test]
async fn a_trusted_proxy_chain_is_kept_and_appended() {
    let app = spawn_proxied_with(|a| a.trusted_proxies = "127.0.0.1".into()).await;
    let session = app.logged_in("carol", &[]).await;
    let req = app
        .client
        .get(format!("{}/api/x", app.url))
        .bearer_auth(&session.access)
        .insert_header(("X-Forwarded-For", "198.51.100.7"))
        .insert_header(("X-Forwarded-Proto", "https"));
    let seen = echo(&app, req).await;
    assert_eq!(
        seen["headers"]["x-forwarded-for"],
        json!(["198.51.100.7, 127.0.0.1"])
    );
    assert_eq!(seen["headers"]["x-forwarded-proto"], json!(["https"]));
}

#[actix_web::test]
async fn the_refresh_cookie_never_authenticates_api_calls() {
    let app = spawn_proxied().await;
    let session = app.logged_in("carol", &[]).await;
    let before = app.upstream().hits();
    let mut res = app
        .client
        .get(format!("{}/api/x", app.url))
        .insert_header(("Cookie", format!("{COOKIE}={}", session.refresh)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(error_code(&mut res).await, "invalid_token");
    assert_eq!(app.upstream().hits(), before, "the upstream never saw it");
}

#[actix_web::test]
async fn the_default_policy_applies_per_role_and_method() {
    let app = spawn_proxied().await;
    app.add_user("alice", &[Role::Admin]);
    app.add_user("bob", &[Role::Editor]);
    app.add_user("carol", &[]);
    let tokens = [
        ("alice", app.login("alice").await.access),
        ("bob", app.login("bob").await.access),
        ("carol", app.login("carol").await.access),
    ];
    let expected = [
        // method, alice, bob, carol
        ("GET", 200, 200, 200),
        ("HEAD", 200, 200, 200),
        ("OPTIONS", 200, 200, 200),
        ("POST", 200, 200, 403),
        ("PUT", 200, 200, 403),
        ("PATCH", 200, 200, 403),
        ("DELETE", 200, 403, 403),
    ];
    for (method, a, b, c) in expected {
        for ((name, token), want) in tokens.iter().zip([a, b, c]) {
            let mut res = app.api(method, "/items/1", token).await;
            assert_eq!(res.status(), want, "{method} as {name}");
            if want == 403 {
                assert_eq!(error_code(&mut res).await, "forbidden");
            }
        }
    }
}

#[actix_web::test]
async fn a_policy_file_replaces_the_default() {
    let app = spawn_proxied_with(|a| {
        let path = std::env::temp_dir().join(format!("policy-{}.toml", std::process::id()));
        std::fs::write(
            &path,
            r#"
[[rule]]
methods = ["GET"]
path = "/public"
public = true

[[rule]]
methods = ["GET", "POST"]
path = "/reports"
roles = ["admin"]

[[rule]]
methods = ["*"]
path = "/"
roles = ["user"]
"#,
        )
        .unwrap();
        a.policy = Some(path);
    })
    .await;
    app.add_user("carol", &[]);
    let carol = app.login("carol").await.access;
    let mut res = app
        .client
        .get(format!("{}/api/public/status", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let seen: Value = res.json().await.unwrap();
    assert!(seen["headers"].get("x-user-id").is_none());
    assert_eq!(app.api("GET", "/reports/q1", &carol).await.status(), 403);
    assert_eq!(app.api("DELETE", "/anything", &carol).await.status(), 200);
    assert_eq!(
        app.client
            .get(format!("{}/api/anything", app.url))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
}

#[actix_web::test]
async fn large_bodies_stream_both_ways() {
    let app = spawn_proxied_with(|a| a.max_body_size = (60 << 20).to_string()).await;
    let session = app.logged_in("bob", &[Role::Editor]).await;
    let size = 50 << 20;
    let mut res = app
        .client
        .post(format!("{}/api/upload", app.url))
        .bearer_auth(&session.access)
        .send_body(vec![b'y'; size])
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let seen: Value = res.json().await.unwrap();
    assert_eq!(seen["body_len"], size);

    let mut res = app
        .client
        .get(format!("{}/api/big/{size}", app.url))
        .bearer_auth(&session.access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body = res.body().limit(size + 1).await.unwrap();
    assert_eq!(body.len(), size);
}

#[actix_web::test]
async fn an_oversized_body_is_refused_before_the_upstream_sees_it() {
    let app = spawn_proxied_with(|a| a.max_body_size = "1024".into()).await;
    let session = app.logged_in("bob", &[Role::Editor]).await;
    let before = app.upstream().hits();
    let mut res = app
        .client
        .post(format!("{}/api/upload", app.url))
        .bearer_auth(&session.access)
        .send_body(vec![b'y'; 4096])
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
    assert_eq!(error_code(&mut res).await, "payload_too_large");
    assert_eq!(app.upstream().hits(), before);
}

#[actix_web::test]
async fn a_chunked_body_streams_and_is_cut_off_past_the_limit() {
    let app = spawn_proxied_with(|a| a.max_body_size = "100000".into()).await;
    let session = app.logged_in("bob", &[Role::Editor]).await;
    let chunks =
        |n: usize| {
            futures_util::stream::iter((0..n).map(|_| {
                Ok::<_, actix_web::Error>(actix_web::web::Bytes::from(vec![b'z'; 10_000]))
            }))
        };
    let mut res = app
        .client
        .post(format!("{}/api/upload", app.url))
        .bearer_auth(&session.access)
        .send_stream(chunks(5))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let seen: Value = res.json().await.unwrap();
    assert_eq!(seen["body_len"], 50_000);
    assert_eq!(seen["headers"]["transfer-encoding"], json!(["chunked"]));

    let mut res = app
        .client
        .post(format!("{}/api/upload", app.url))
        .bearer_auth(&session.access)
        .send_stream(chunks(20))
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
    assert_eq!(error_code(&mut res).await, "payload_too_large");
}

#[actix_web::test]
async fn compressed_bodies_pass_through_untouched() {
    let app = spawn_proxied().await;
    let session = app.logged_in("carol", &[]).await;
    let mut res = app
        .client
        .get(format!("{}/api/gzip", app.url))
        .bearer_auth(&session.access)
        .insert_header(("Accept-Encoding", "gzip"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()
            .get("content-encoding")
            .map(|v| v.to_str().unwrap()),
        Some("gzip"),
        "{:?}",
        res.headers()
    );
    assert_eq!(res.body().await.unwrap(), GZIP_BYTES);
}

#[actix_web::test]
async fn upstream_status_headers_and_redirects_come_back_as_they_are() {
    let app = spawn_proxied().await;
    let session = app.logged_in("carol", &[]).await;
    let mut res = app.api("GET", "/teapot", &session.access).await;
    assert_eq!(res.status(), 418);
    assert_eq!(res.headers().get("x-upstream").unwrap(), "yes");
    assert_eq!(
        res.headers().get("set-cookie").unwrap(),
        "upstream=1; Path=/"
    );
    // the gateway's security headers win over the upstream's own
    assert_eq!(res.headers().get("x-frame-options").unwrap(), "DENY");
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({ "short": "and stout" })
    );

    let res = app.api("GET", "/redirect", &session.access).await;
    assert_eq!(res.status(), 302);
    assert_eq!(
        res.headers().get("location").unwrap(),
        "http://127.0.0.1:1/elsewhere"
    );
}

#[actix_web::test]
async fn a_dead_upstream_is_502_and_a_hanging_one_504() {
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_port = dead.local_addr().unwrap().port();
    drop(dead);
    let app =
        spawn_proxied_with(|a| a.upstream = Some(format!("http://127.0.0.1:{dead_port}"))).await;
    let session = app.logged_in("carol", &[]).await;
    let mut res = app.api("GET", "/x", &session.access).await;
    assert_eq!(res.status(), 502);
    assert_eq!(error_code(&mut res).await, "upstream_unavailable");
    assert_eq!(app.get("/healthz").await.status(), 200);

    let app = spawn_proxied_with(|a| a.upstream_timeout = "1".into()).await;
    let session = app.logged_in("carol", &[]).await;
    let start = std::time::Instant::now();
    let mut res = app.api("GET", "/slow", &session.access).await;
    assert_eq!(res.status(), 504);
    assert!(start.elapsed() < Duration::from_secs(5));
    assert_eq!(error_code(&mut res).await, "upstream_timeout");
    assert_eq!(app.get("/healthz").await.status(), 200);
}

#[actix_web::test]
async fn crafted_paths_never_reach_another_host_or_leave_the_base_path() {
    let canary = Upstream::spawn();
    let app = spawn_proxied_with(|a| {
        a.upstream = a.upstream.as_ref().map(|u| format!("{u}/base"));
    })
    .await;
    let session = app.logged_in("carol", &[]).await;
    let c = canary.port;
    let crafted = [
        "/api/../auth/me".to_owned(),
        "/api/%2e%2e/x".to_owned(),
        "/api/%2E%2E/%2e%2E/x".to_owned(),
        "/api/./x".to_owned(),
        format!("/api//127.0.0.1:{c}/x"),
        format!("/api/http://127.0.0.1:{c}/x"),
        format!("/api/http:%2f%2f127.0.0.1:{c}/x"),
        "/api/%5c%5chost/x".to_owned(),
        "/api/a%2f..%2f..%2fx".to_owned(),
    ];
    let before = app.upstream().hits();
    for path in &crafted {
        let mut res = app
            .client
            .get(format!("{}{path}", app.url))
            .bearer_auth(&session.access)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{path}");
        assert_eq!(error_code(&mut res).await, "invalid_input", "{path}");
    }
    assert_eq!(canary.hits(), 0, "the canary was contacted");
    assert_eq!(app.upstream().hits(), before, "nothing was sent upstream");

    // a normal path stays under the base path
    let seen = echo(
        &app,
        app.client
            .get(format!("{}/api/ok", app.url))
            .bearer_auth(&session.access),
    )
    .await;
    assert_eq!(seen["path"], "/base/ok");
}

#[actix_web::test]
async fn cors_preflights_are_answered_without_a_token_or_the_upstream() {
    let app = spawn_proxied_with(|a| a.cors_origins = "https://app.example.com".into()).await;
    let before = app.upstream().hits();
    let res = app
        .client
        .request(
            actix_web::http::Method::OPTIONS,
            format!("{}/api/employees", app.url),
        )
        .insert_header(("Origin", "https://app.example.com"))
        .insert_header(("Access-Control-Request-Method", "PUT"))
        .insert_header((
            "Access-Control-Request-Headers",
            "authorization, content-type",
        ))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success());
    assert_eq!(
        res.headers().get("access-control-allow-origin").unwrap(),
        "https://app.example.com"
    );
    assert_eq!(app.upstream().hits(), before);
}

#[actix_web::test]
async fn idle_pooled_connections_never_surface_as_errors() {
    let app = spawn_proxied().await;
    let session = app.logged_in("carol", &[]).await;
    for round in 0..2 {
        for _ in 0..4 {
            assert_eq!(
                app.api("GET", "/x", &session.access).await.status(),
                200,
                "round {round}"
            );
        }
        // longer than the upstream's 5-second keep-alive
        actix_web::rt::time::sleep(Duration::from_millis(5500)).await;
    }
    assert_eq!(app.api("GET", "/x", &session.access).await.status(), 200);
}

#[actix_web::test]
async fn the_employee_service_works_through_the_gateway() {
    let employees = employee_service();
    let app = spawn_proxied_with(|a| a.upstream = Some(employees)).await;
    app.add_user("bob", &[Role::Editor]);
    app.add_user("alice", &[Role::Admin]);
    let bob = app.login("bob").await.access;
    let alice = app.login("alice").await.access;

    let mut res = app.api("GET", "/employees", &bob).await;
    assert_eq!(res.status(), 200);
    let all: Vec<Value> = res.json().await.unwrap();
    assert!(all.len() >= 3);
    assert!(all.iter().all(|e| e["updated_by"].is_null()));

    let mut res = app
        .client
        .post(format!("{}/api/employees", app.url))
        .bearer_auth(&bob)
        .insert_header(("X-User-Name", "mallory"))
        .send_json(&json!({ "first_name": "Hedy", "last_name": "Lamarr", "email": "hedy@example.com", "department": "Research" }))
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.unwrap();
    assert_eq!(created["updated_by"], "bob");
    let id = created["id"].as_u64().unwrap();

    let mut res = app.api_json("PUT", &format!("/employees/{id}"), &alice, &json!({ "first_name": "Hedy", "last_name": "Lamarr", "email": "hedy@lamarr.example", "department": "Research" })).await;
    assert_eq!(res.status(), 200);
    let updated: Value = res.json().await.unwrap();
    assert_eq!(updated["updated_by"], "alice");
    assert_eq!(updated["email"], "hedy@lamarr.example");

    for (body, field) in [
        (
            json!({ "first_name": "", "last_name": "L", "email": "a@b.c", "department": "R" }),
            "first_name",
        ),
        (
            json!({ "first_name": "H", "last_name": "L", "email": "nope", "department": "R" }),
            "email",
        ),
        (
            json!({ "first_name": "H", "last_name": "L", "email": "a@b.c", "department": "R", "salary": 1 }),
            "salary",
        ),
    ] {
        let mut res = app.api_json("POST", "/employees", &bob, &body).await;
        assert_eq!(res.status(), 400, "{body}");
        let err: Value = res.json().await.unwrap();
        assert_eq!(err["error"], "invalid_input");
        assert_eq!(err["field"], field, "{err}");
    }

    let mut res = app.api("GET", "/employees/9999", &bob).await;
    assert_eq!(res.status(), 404);
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "not_found");
    assert_eq!(
        app.api("DELETE", &format!("/employees/{id}"), &bob)
            .await
            .status(),
        403
    );
    assert_eq!(
        app.api("DELETE", &format!("/employees/{id}"), &alice)
            .await
            .status(),
        204
    );
    assert_eq!(
        app.api("GET", &format!("/employees/{id}"), &bob)
            .await
            .status(),
        404
    );
}

#[actix_web::test]
async fn a_spoofed_forwarded_host_never_reaches_the_upstream() {
    let app = spawn_proxied().await;
    let session = app.logged_in("carol", &[]).await;
    let req = app
        .client
        .get(format!("{}/api/x", app.url))
        .bearer_auth(&session.access)
        .insert_header(("X-Forwarded-Host", "evil.example"))
        .insert_header(("Forwarded", "host=evil.example;proto=https;for=6.6.6.6"))
        .insert_header(("X-Real-IP", "6.6.6.6"));
    let seen = echo(&app, req).await;
    let h = &seen["headers"];
    assert_eq!(
        h["x-forwarded-host"],
        json!([format!("127.0.0.1:{}", app.port)])
    );
    assert!(h.get("forwarded").is_none());
    assert!(h.get("x-real-ip").is_none());
}

#[actix_web::test]
async fn policy_rules_cannot_be_dodged_by_spelling_the_path_differently() {
    let app = spawn_proxied_with(|a| {
        let path =
            std::env::temp_dir().join(format!("policy-spelling-{}.toml", std::process::id()));
        std::fs::write(
            &path,
            "[[rule]]\nmethods = [\"GET\"]\npath = \"/reports\"\nroles = [\"admin\"]\n\n\
             [[rule]]\nmethods = [\"GET\"]\npath = \"/\"\nroles = [\"user\"]\n",
        )
        .unwrap();
        a.policy = Some(path);
    })
    .await;
    app.add_user("carol", &[]);
    let carol = app.login("carol").await.access;
    let before = app.upstream().hits();
    for path in ["/reports/q1", "/%72eports/q1", "/Reports/q1", "/REPORTS"] {
        assert_eq!(app.api("GET", path, &carol).await.status(), 403, "{path}");
    }
    for path in ["/reports;x/q1", "/..;/reports/q1", "/x/..;/reports"] {
        assert_eq!(app.api("GET", path, &carol).await.status(), 400, "{path}");
    }
    assert_eq!(app.upstream().hits(), before);
    // no rule matches POST: refused, not forwarded
    let mut res = app.api("POST", "/anything", &carol).await;
    assert_eq!(res.status(), 403);
    assert_eq!(error_code(&mut res).await, "forbidden");
    // the normalised path is what the upstream gets
    let seen = echo(
        &app,
        app.client
            .get(format!("{}/api/%7euser/x%2Dy", app.url))
            .bearer_auth(&carol),
    )
    .await;
    assert_eq!(seen["path"], "/~user/x-y");
}

#[actix_web::test]
async fn an_encoded_api_prefix_is_refused_not_forwarded_to_the_root() {
    let app = spawn_proxied().await;
    app.add_user("carol", &[]);
    let carol = app.login("carol").await.access;
    let before = app.upstream().hits();
    let mut res = app
        .client
        .get(format!("{}/%61pi/x", app.url))
        .bearer_auth(&carol)
        .send()
        .await
        .unwrap();
    assert_ne!(res.status(), 200);
    error_code(&mut res).await;
    assert_eq!(app.upstream().hits(), before);
}

#[actix_web::test]
async fn headers_named_in_connection_are_not_forwarded() {
    use std::io::{Read, Write};
    let app = spawn_proxied().await;
    let session = app.logged_in("carol", &[]).await;
    let port = app.port;
    // a raw request: HTTP clients manage Connection themselves
    let raw = actix_web::rt::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        write!(
            stream,
            "GET /api/x HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {}\r\n\
             Connection: close, X-Secret\r\nX-Secret: 1\r\nX-Kept: 1\r\n\r\n",
            session.access
        )
        .unwrap();
        let mut out = String::new();
        stream.read_to_string(&mut out).unwrap();
        out
    })
    .await
    .unwrap();
    let body = &raw[raw.find("\r\n\r\n").unwrap() + 4..];
    let seen: Value = serde_json::from_str(body).unwrap();
    assert_eq!(seen["headers"]["x-kept"], json!(["1"]), "{raw}");
    assert!(seen["headers"].get("x-secret").is_none(), "{raw}");
}
