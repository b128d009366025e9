//! §2 and §5: the error shape for every kind of bad request, security
//! headers, the SPA and its fallback, health, CORS.

use portcullis::auth::Role;
use serde_json::{Value, json};

use crate::support::*;

#[actix_web::test]
async fn bad_bodies_get_json_errors_not_resets() {
    let app = spawn_app().await;
    let url = format!("{}/auth/login", app.url);

    let mut res = app
        .client
        .post(&url)
        .insert_header(("Content-Type", "text/plain"))
        .send_body("username=a&password=b")
        .await
        .unwrap();
    assert_eq!(res.status(), 415);
    assert_eq!(error_code(&mut res).await, "unsupported_media_type");

    let mut res = app
        .client
        .post(&url)
        .insert_header(("Content-Type", "application/json"))
        .send_body("{\"username\": ")
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(error_code(&mut res).await, "invalid_input");

    let mut res = app
        .client
        .post(&url)
        .insert_header(("Content-Type", "application/json"))
        .send_body(r#"{"username": "alice", "password": 12345678}"#)
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert!(
        !body["message"].as_str().unwrap().contains("12345678"),
        "{body}"
    );

    let big = json!({ "username": "alice", "password": "x".repeat(100 * 1024) });
    let mut res = app.post_json("/auth/login", &big).await;
    assert_eq!(res.status(), 413);
    assert_eq!(error_code(&mut res).await, "payload_too_large");
}

#[actix_web::test]
async fn errors_never_echo_the_password() {
    let app = spawn_app().await;
    let secret = "s3cret-passw0rd-value";
    for body in [
        json!({ "username": "alice", "password": secret }),
        json!({ "username": "alice", "password": secret, "extra": 1 }),
        json!({ "username": secret }),
    ] {
        let mut res = app.post_json("/auth/login", &body).await;
        let text = String::from_utf8(res.body().await.unwrap().to_vec()).unwrap();
        assert!(!text.contains(secret), "{text}");
    }
}

#[actix_web::test]
async fn unknown_routes_are_404_json() {
    let app = spawn_app().await;
    for path in [
        "/auth/nope",
        "/healthz/x",
        "/.well-known/other",
        "/missing.js",
    ] {
        let mut res = app.get(path).await;
        assert_eq!(res.status(), 404, "{path}");
        assert_eq!(error_code(&mut res).await, "not_found");
    }
    let mut res = app
        .client
        .post(format!("{}/nowhere", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    error_code(&mut res).await;
    let mut res = app
        .client
        .post(format!("{}/healthz", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 405);
    error_code(&mut res).await;
}

#[actix_web::test]
async fn every_response_carries_the_security_headers() {
    let app = spawn_app().await;
    for (path, accept) in [
        ("/", "text/html"),
        ("/healthz", "*/*"),
        ("/auth/me", "*/*"),
        ("/nope", "application/json"),
        ("/employees/3", "text/html"),
    ] {
        let res = app
            .client
            .get(format!("{}{path}", app.url))
            .insert_header(("Accept", accept))
            .send()
            .await
            .unwrap();
        let h = res.headers();
        assert_eq!(
            h.get("x-content-type-options").unwrap(),
            "nosniff",
            "{path}"
        );
        assert_eq!(h.get("referrer-policy").unwrap(), "no-referrer", "{path}");
        assert_eq!(h.get("x-frame-options").unwrap(), "DENY", "{path}");
        let csp = h.get("content-security-policy").unwrap().to_str().unwrap();
        assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
    }
}

#[actix_web::test]
async fn the_spa_is_served_with_a_client_side_routing_fallback() {
    let app = spawn_app().await;
    let index = std::fs::read("static/index.html").unwrap();
    let mut res = app.get("/").await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()
            .get("content-type")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert_eq!(res.body().await.unwrap(), index);

    let mut res = app
        .client
        .get(format!("{}/employees/42", app.url))
        .insert_header(("Accept", "text/html,application/xhtml+xml"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.body().await.unwrap(), index);

    let res = app.get("/js/auth-client.js").await;
    assert_eq!(res.status(), 200);
    let ct = res.headers().get("content-type").unwrap().to_str().unwrap();
    assert!(
        ct.starts_with("text/javascript") || ct.starts_with("application/javascript"),
        "{ct}"
    );

    // the gateway's own paths never fall back to the SPA
    for path in ["/healthz/x", "/readyz/x", "/.well-known/x", "/api"] {
        let mut res = app
            .client
            .get(format!("{}{path}", app.url))
            .insert_header(("Accept", "text/html"))
            .send()
            .await
            .unwrap();
        assert_ne!(res.status(), 200, "{path}");
        error_code(&mut res).await;
    }
    // /api and /auth never fall back to the SPA
    let mut res = app
        .client
        .get(format!("{}/auth/unknown", app.url))
        .insert_header(("Accept", "text/html"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    error_code(&mut res).await;
}

#[actix_web::test]
async fn static_paths_never_escape_the_folder() {
    let app = spawn_app().await;
    for path in [
        "/../Cargo.toml",
        "/%2e%2e/Cargo.toml",
        "/js/%2e%2e/%2e%2e/Cargo.toml",
        "/..%2fCargo.toml",
        "/%2e%2e%5cCargo.toml",
    ] {
        let mut res = app.get(path).await;
        let body = res.body().await.unwrap();
        assert!(
            !String::from_utf8_lossy(&body).contains("[package]"),
            "{path} escaped"
        );
        assert_ne!(res.status(), 200, "{path}");
    }
}

#[actix_web::test]
async fn health_and_readiness_answer_json() {
    let app = spawn_app().await;
    let mut res = app.get("/healthz").await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({ "status": "ok" })
    );
    let res = app.get("/readyz").await;
    assert_eq!(res.status(), 200);

    assert_eq!(
        res.headers().get("content-type").unwrap(),
        "application/json"
    );
}

#[actix_web::test]
async fn cors_allows_only_configured_origins_never_a_wildcard() {
    let app = spawn_with(|a| a.cors_origins = "https://app.example.com".into()).await;
    let preflight = |origin: &'static str| {
        app.client
            .request(
                actix_web::http::Method::OPTIONS,
                format!("{}/auth/refresh", app.url),
            )
            .insert_header(("Origin", origin))
            .insert_header(("Access-Control-Request-Method", "POST"))
            .insert_header(("Access-Control-Request-Headers", "x-csrf"))
            .send()
    };
    let res = preflight("https://app.example.com").await.unwrap();
    assert!(res.status().is_success());
    assert_eq!(
        res.headers().get("access-control-allow-origin").unwrap(),
        "https://app.example.com"
    );
    assert_eq!(
        res.headers()
            .get("access-control-allow-credentials")
            .unwrap(),
        "true"
    );

    let mut res = preflight("https://evil.example.com").await.unwrap();
    assert!(res.headers().get("access-control-allow-origin").is_none());
    if !res.status().is_success() {
        error_code(&mut res).await;
    }

    let res = app
        .client
        .get(format!("{}/healthz", app.url))
        .insert_header(("Origin", "https://evil.example.com"))
        .send()
        .await
        .unwrap();
    assert!(res.headers().get("access-control-allow-origin").is_none());
    let res = app
        .client
        .get(format!("{}/healthz", app.url))
        .insert_header(("Origin", "https://app.example.com"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.headers().get("access-control-allow-origin").unwrap(),
        "https://app.example.com"
    );

    // no Origin, no CORS request: none of its headers
    let res = app.get("/healthz").await;
    assert_eq!(res.status(), 200);
    for name in res.headers().keys() {
        assert!(
            !name.as_str().starts_with("access-control-") && name != "vary",
            "{name} on a request without Origin"
        );
    }
}

#[actix_web::test]
async fn the_policy_view_tells_the_spa_what_a_custom_policy_allows() {
    let dir = tempfile::tempdir().unwrap();
    let file = policy_file(
        dir.path(),
        "[[rule]]\nmethods = [\"GET\"]\npath = \"/employees\"\nroles = [\"user\"]\n\n\
         [[rule]]\nmethods = [\"*\"]\npath = \"/\"\nroles = [\"admin\"]\n",
    );
    let app = spawn_with(|a| a.policy = Some(file.clone())).await;
    let bob = app.logged_in("bob", &[Role::Editor]).await;
    let mut res = app
        .client
        .get(format!("{}/auth/policy", app.url))
        .bearer_auth(&bob.access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers().get("cache-control").unwrap(), "no-store");
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body,
        json!({ "rules": [
            { "methods": ["GET"], "path": "/employees", "allowed": true },
            { "methods": ["*"], "path": "/", "allowed": false },
        ]})
    );
    let mut res = app.get("/auth/policy").await;
    assert_eq!(res.status(), 401);
    assert_eq!(error_code(&mut res).await, "invalid_token");
}
