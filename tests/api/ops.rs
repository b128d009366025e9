//! §8 Operations and §1's TLS: each metric moves by exactly one per event,
//! the separate metrics listener, the access log and auth events of a real
//! process in both formats, graceful shutdown by signal, HTTPS on the
//! listener and towards the upstream.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use actix_web::{App, HttpResponse, HttpServer, web};
use portcullis::auth::Role;
use serde_json::{Value, json};

use crate::support::*;

// ---------------------------------------------------------------- metrics

/// The value of one series in a scrape (0 when it is not there yet).
fn sample(scrape: &str, series: &str) -> f64 {
    scrape
        .lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

async fn scrape(app: &TestApp) -> String {
    let mut res = app.get("/metrics").await;
    assert_eq!(res.status(), 200);
    String::from_utf8(res.body().await.unwrap().to_vec()).unwrap()
}

/// Scrapes before and after `event` and checks that exactly the `moved`
/// series went up by one and the `still` series stayed.
async fn moves_exactly<F: Future<Output = ()>>(
    app: &TestApp,
    moved: &[&str],
    still: &[&str],
    event: F,
) {
    let before = scrape(app).await;
    event.await;
    let after = scrape(app).await;
    for series in moved {
        assert_eq!(
            sample(&after, series) - sample(&before, series),
            1.0,
            "{series} did not move by exactly one"
        );
    }
    for series in still {
        assert_eq!(
            sample(&after, series),
            sample(&before, series),
            "{series} moved"
        );
    }
}

const LOGIN_OK: &str = r#"portcullis_logins_total{outcome="ok"}"#;
const LOGIN_INVALID: &str = r#"portcullis_logins_total{outcome="invalid"}"#;
const LOGIN_THROTTLED: &str = r#"portcullis_logins_total{outcome="throttled"}"#;
const ROTATED: &str = r#"portcullis_refreshes_total{outcome="rotated"}"#;
const REPLAYED: &str = r#"portcullis_refreshes_total{outcome="replayed"}"#;
const REUSED: &str = r#"portcullis_refreshes_total{outcome="reused"}"#;
const EXPIRED: &str = r#"portcullis_refreshes_total{outcome="expired"}"#;
const INVALID: &str = r#"portcullis_refreshes_total{outcome="invalid"}"#;
const UNAVAILABLE: &str = r#"portcullis_upstream_errors_total{kind="unavailable"}"#;
const TIMEOUT: &str = r#"portcullis_upstream_errors_total{kind="timeout"}"#;

#[actix_web::test]
async fn each_login_refresh_and_upstream_outcome_moves_its_counter_by_exactly_one() {
    // no upstream listens behind this gateway: /api calls are 502
    let app = spawn_app().await;
    app.add_user("dora", &[Role::User]);
    let all_logins = [LOGIN_OK, LOGIN_INVALID, LOGIN_THROTTLED];

    let mut session = None;
    moves_exactly(
        &app,
        &[LOGIN_OK],
        &[LOGIN_INVALID, LOGIN_THROTTLED],
        async {
            session = Some(app.login("dora").await);
        },
    )
    .await;
    let session = session.unwrap();
    let live = sample(&scrape(&app).await, "portcullis_sessions_active");
    assert_eq!(live, 1.0, "the login's session is live");

    moves_exactly(
        &app,
        &[LOGIN_INVALID],
        &[LOGIN_OK, LOGIN_THROTTLED],
        async {
            assert_eq!(app.login_raw("dora", "wrong password").await.status(), 401);
        },
    )
    .await;

    for _ in 0..5 {
        assert_eq!(app.login_raw("eve", "wrong password").await.status(), 401);
    }
    moves_exactly(
        &app,
        &[LOGIN_THROTTLED],
        &[LOGIN_OK, LOGIN_INVALID],
        async {
            assert_eq!(app.login_raw("eve", "wrong password").await.status(), 429);
        },
    )
    .await;

    moves_exactly(
        &app,
        &[
            UNAVAILABLE,
            r#"portcullis_http_requests_total{route="api",status="502"}"#,
            r#"portcullis_http_request_duration_seconds_count{route="api"}"#,
        ],
        &[TIMEOUT],
        async {
            let mut res = app.api("GET", "/employees", &session.access).await;
            assert_eq!(res.status(), 502);
            assert_eq!(error_code(&mut res).await, "upstream_unavailable");
        },
    )
    .await;

    let mut successor = String::new();
    moves_exactly(&app, &[ROTATED], &[REPLAYED, REUSED], async {
        let res = app.refresh(&session.refresh).await;
        assert_eq!(res.status(), 200);
        successor = refresh_cookie(&res);
    })
    .await;

    moves_exactly(&app, &[REPLAYED], &[ROTATED, REUSED], async {
        let res = app.refresh(&session.refresh).await;
        assert_eq!(res.status(), 200, "within the grace period");
        assert_eq!(set_cookie(&res, COOKIE).unwrap().value(), successor);
    })
    .await;

    app.advance(10.0);
    let before = scrape(&app).await;
    moves_exactly(&app, &[REUSED], &[ROTATED, REPLAYED, EXPIRED], async {
        let mut res = app.refresh(&session.refresh).await;
        assert_eq!(error_code(&mut res).await, "refresh_token_reused");
    })
    .await;
    let after = scrape(&app).await;
    assert_eq!(
        sample(&before, "portcullis_sessions_active")
            - sample(&after, "portcullis_sessions_active"),
        1.0,
        "the reused session is no longer active"
    );

    moves_exactly(&app, &[INVALID], &[REUSED], async {
        let mut res = app.refresh("not-a-token").await;
        assert_eq!(error_code(&mut res).await, "invalid_refresh_token");
    })
    .await;

    let idle = app.login("dora").await;
    app.advance(8.0 * 86_400.0);
    moves_exactly(&app, &[EXPIRED], &[REUSED, INVALID], async {
        let mut res = app.refresh(&idle.refresh).await;
        assert_eq!(error_code(&mut res).await, "session_expired");
    })
    .await;
    assert_eq!(
        sample(&scrape(&app).await, "portcullis_sessions_active"),
        0.0
    );
    let text = scrape(&app).await;
    for series in all_logins {
        assert!(text.contains(series), "{series} is exposed");
    }
}

#[actix_web::test]
async fn metrics_are_prometheus_text_with_route_groups_not_paths_and_process_metrics() {
    let app = spawn_app().await;
    let res = app
        .get("/some/client-chosen-path-xyz?token=sekrit-query-value")
        .await;
    assert_eq!(res.status(), 404);
    let res = app.get("/metrics").await;
    assert_eq!(
        res.headers().get("content-type").unwrap(),
        "text/plain; version=0.0.4"
    );
    let text = scrape(&app).await;
    assert!(!text.contains("client-chosen-path-xyz") && !text.contains("sekrit"));
    assert_eq!(
        sample(
            &text,
            r#"portcullis_http_requests_total{route="static",status="404"}"#
        ),
        1.0
    );
    for series in [
        "portcullis_http_request_duration_seconds_bucket{route=\"auth\",le=\"0.005\"}",
        "portcullis_http_request_duration_seconds_bucket{route=\"api\",le=\"+Inf\"}",
        "portcullis_http_request_duration_seconds_bucket{route=\"static\",le=\"+Inf\"}",
        "portcullis_http_request_duration_seconds_bucket{route=\"other\",le=\"+Inf\"}",
        REUSED,
        UNAVAILABLE,
        TIMEOUT,
        "portcullis_sessions_active",
        "process_resident_memory_bytes",
        "process_open_fds",
        "process_cpu_seconds_total",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(series)),
            "{series} missing"
        );
    }
    let mut res = app.get("/openapi.json").await;
    let doc: Value = res.json().await.unwrap();
    assert!(
        doc["paths"]["/metrics"]["get"]["responses"]["200"]["content"]["text/plain; version=0.0.4"]
            .is_object(),
        "/metrics is in the OpenAPI document"
    );
    for line in text.lines().filter(|l| l.starts_with("portcullis_")) {
        let labels = line.split(['{', '}']).nth(1).unwrap_or("");
        for pair in labels.split(',').filter(|p| !p.is_empty()) {
            let (name, _) = pair.split_once('=').unwrap();
            assert!(
                [
                    "route", "status", "outcome", "kind", "cause", "reason", "le",
                    // build_info's, fixed when the binary was built
                    "version", "commit",
                ]
                .contains(&name),
                "unexpected label in {line}"
            );
        }
    }
}

#[actix_web::test]
async fn an_upstream_timeout_counts_as_timeout_not_unavailable() {
    let (upstream, _) = slow_upstream(Duration::from_secs(5));
    let app = spawn_with(|a| {
        a.upstream = Some(upstream);
        a.upstream_timeout = "1".into();
    })
    .await;
    let session = app.logged_in("fay", &[Role::User]).await;
    moves_exactly(&app, &[TIMEOUT], &[UNAVAILABLE], async {
        let mut res = app.api("GET", "/slow", &session.access).await;
        assert_eq!(error_code(&mut res).await, "upstream_timeout");
    })
    .await;
}

#[actix_web::test]
async fn the_grafana_dashboard_queries_only_series_the_gateway_exposes() {
    let app = spawn_app().await;
    app.get("/healthz").await;
    let text = scrape(&app).await;
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/grafana-dashboard.json");
    let dashboard: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert!(dashboard["title"].is_string() && dashboard["uid"].is_string());
    let panels = dashboard["panels"].as_array().unwrap();
    assert!(panels.len() >= 6);
    for panel in panels {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            let names = expr
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|w| w.starts_with("portcullis_") || w.starts_with("process_"));
            for name in names {
                assert!(
                    text.lines().any(|l| l.starts_with(name)),
                    "{name} in panel {} is not exposed",
                    panel["title"]
                );
            }
        }
    }
}

#[actix_web::test]
async fn a_separate_metrics_listener_serves_metrics_and_the_main_one_answers_404() {
    let app = spawn_with(|a| a.metrics_bind = Some("127.0.0.1:0".into())).await;
    let port = app.metrics_port.expect("a metrics listener");
    assert_ne!(port, app.port);
    let mut res = app
        .client
        .get(format!("{}/metrics", app.url))
        .insert_header(("Accept", "text/html"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(error_code(&mut res).await, "not_found");

    let client = client();
    let metrics = format!("http://127.0.0.1:{port}");
    let mut res = client
        .get(format!("{metrics}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let text = String::from_utf8(res.body().await.unwrap().to_vec()).unwrap();
    assert_eq!(
        sample(
            &text,
            r#"portcullis_http_requests_total{route="other",status="404"}"#
        ),
        1.0,
        "the main listener's 404 for /metrics is counted:\n{text}"
    );
    let mut res = client
        .post(format!("{metrics}/auth/login"))
        .send_json(&json!({ "username": "x", "password": "y" }))
        .await
        .unwrap();
    assert_eq!(res.status(), 404, "only /metrics is served there");
    assert_eq!(error_code(&mut res).await, "not_found");
}

// ------------------------------------------------------- a real process

/// `portcullis serve` as a child process on a fresh database holding the
/// user carol (plain-http cookies, no SPA), `env` on top: it, its URL, and
/// the database's folder, which must outlive it.
fn serve_for_carol(env: &[(&str, &str)]) -> (Process, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("p.db").display().to_string();
    cli_add_user(&db, "carol");
    let mut cmd = serve_command(&[
        ("DATABASE_URL", db.as_str()),
        ("PORTCULLIS_COOKIE_SECURE", "false"),
        ("PORTCULLIS_STATIC_DIR", &dir.path().display().to_string()),
    ]);
    for (name, value) in env {
        cmd.env(name, value);
    }
    let (served, url) = try_serve(cmd).unwrap();
    (served, url, dir)
}

/// carol's access token on the gateway at `url`.
async fn carols_token(url: &str) -> String {
    let mut res = login_at(url, "carol", PASSWORD).await;
    assert_eq!(res.status(), 200);
    Session::read(&mut res).await.access
}

const EVIL_NAME: &str = "ev\u{1b}[31mil\n[2099-01-01T00:00:00Z INFO  forged] admin logged in";
const WRONG_PASSWORD: &str = "wrong-password-never-logged";
const QUERY_SECRET: &str = "query-secret-never-logged";

/// A full session against a real process; returns every secret it saw.
async fn full_session(url: &str) -> Vec<String> {
    let client = client();
    let mut secrets = vec![PASSWORD.to_owned(), WRONG_PASSWORD.to_owned()];

    let mut res = login_at(url, "carol", PASSWORD).await;
    assert_eq!(res.status(), 200);
    let first = refresh_cookie(&res);
    let body: Value = res.json().await.unwrap();
    let access = body["access_token"].as_str().unwrap().to_owned();
    secrets.extend([first.clone(), access.clone()]);

    let res = login_at(url, EVIL_NAME, WRONG_PASSWORD).await;
    assert_eq!(res.status(), 401);

    // a token-like value in the query string, and a chosen request id
    let mut res = client
        .get(format!(
            "{url}/api/employees?access_token={access}&api_key={QUERY_SECRET}"
        ))
        .bearer_auth(&access)
        .insert_header(("X-Request-Id", "ops-test-42"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers().get("x-request-id").unwrap(), "ops-test-42");
    let echo: Value = res.json().await.unwrap();
    assert_eq!(echo["headers"]["x-request-id"], json!(["ops-test-42"]));
    let mut res = client
        .get(format!("{url}/api/employees/7"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    let echo: Value = res.json().await.unwrap();
    let generated = echo["headers"]["x-request-id"][0].as_str().unwrap();
    assert_eq!(
        res.headers().get("x-request-id").unwrap(),
        generated,
        "the client and the upstream see the same generated id"
    );

    let res = refresh_at(url, &first).await;
    assert_eq!(res.status(), 200);
    let second = refresh_cookie(&res);
    secrets.push(second.clone());
    // the grace period is 0 here: presenting the spent token is reuse
    let res = refresh_at(url, &first).await;
    assert_eq!(res.status(), 401);

    let mut res = login_at(url, "carol", PASSWORD).await;
    let third = refresh_cookie(&res);
    let body: Value = res.json().await.unwrap();
    secrets.extend([third.clone(), body["access_token"].as_str().unwrap().into()]);
    let res = logout_at(url, &third).await;
    assert_eq!(res.status(), 204);
    secrets.push(QUERY_SECRET.to_owned());
    secrets
}

fn assert_no_secrets(lines: &[String], secrets: &[String]) {
    let all = lines.join("\n");
    for secret in secrets {
        assert!(
            !all.contains(secret.as_str()),
            "{secret:?} is in the log:\n{all}"
        );
    }
    assert!(
        !all.contains('\u{1b}'),
        "a raw escape character reached the log"
    );
    assert!(!all.contains("refresh=") && !all.contains("Bearer "));
}

/// Every line a real process logged for a [`full_session`], stopped by
/// `signal`, with `env` on top; checked to hold no secret.
async fn log_of_a_full_session(env: &[(&str, &str)], signal: &str) -> Vec<String> {
    let upstream = Upstream::spawn();
    let mut all = vec![
        ("PORTCULLIS_UPSTREAM", upstream.url.as_str()),
        ("PORTCULLIS_REFRESH_GRACE", "0"),
    ];
    all.extend_from_slice(env);
    let (served, url, _dir) = serve_for_carol(&all);
    let secrets = full_session(&url).await;
    served.signal(signal);
    let Exit { status, lines, .. } = served.wait(Duration::from_secs(30));
    assert!(status.success(), "{status:?}");
    assert_no_secrets(&lines, &secrets);
    lines
}

#[actix_web::test]
async fn the_text_log_of_a_full_session_has_one_line_per_request_with_its_id_and_no_secret() {
    let lines = log_of_a_full_session(&[], "TERM").await;

    for line in &lines {
        assert!(
            line.starts_with('['),
            "a line was split or forged: {line:?}"
        );
    }
    let access: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains(" portcullis::access]"))
        .collect();
    assert_eq!(
        access.len(),
        8,
        "one line per request:\n{}",
        lines.join("\n")
    );
    for line in &access {
        assert!(line.contains(" request_id="), "{line}");
        assert!(line.contains(" latency_ms="), "{line}");
        assert!(!line.contains('?'), "no query string: {line}");
    }
    assert!(access.iter().any(|l| {
        l.contains(
            "request_id=ops-test-42 peer=127.0.0.1 method=GET path=/api/employees status=200",
        ) && l.contains(" user_id=")
    }));
    // a name no user has is never logged, only its keyed hash
    let failed = lines.iter().find(|l| l.contains("login failed")).unwrap();
    let tag = failed.split("username_unknown=").nth(1).unwrap_or("");
    assert!(
        tag.len() == 12 && tag.chars().all(|c| c.is_ascii_hexdigit()),
        "{failed}"
    );
    assert!(!failed.contains("username="), "{failed}");
    assert!(!lines.iter().any(|l| l.contains("forged")), "{lines:?}");
    let event = |text: &str| {
        lines
            .iter()
            .find(|l| l.contains(text))
            .unwrap_or_else(|| panic!("no {text:?} in:\n{}", lines.join("\n")))
    };
    assert!(event("login ok").contains("username=carol"));
    assert!(event("reuse detected").contains(" session_id="));
    assert!(event("reason=logout").contains("session revoked"));
    assert!(event("SIGTERM received").contains("portcullis::startup"));
}

#[actix_web::test]
async fn the_json_log_is_one_object_per_line_with_the_same_fields_and_no_secret() {
    let lines = log_of_a_full_session(&[("PORTCULLIS_LOG_FORMAT", "json")], "INT").await;

    let records: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
        .collect();
    let access: Vec<&Value> = records
        .iter()
        .filter(|r| r["target"] == "portcullis::access")
        .collect();
    assert_eq!(access.len(), 8);
    for r in &access {
        assert!(
            r["request_id"].as_str().is_some_and(|id| !id.is_empty()),
            "{r}"
        );
        assert!(r["method"].is_string() && r["path"].is_string(), "{r}");
        assert_eq!(r["peer"], "127.0.0.1", "{r}");
        assert!(r["status"].is_u64() && r["latency_ms"].is_number(), "{r}");
        assert!(r["ts"].is_string() && r["level"] == "INFO", "{r}");
    }
    let api = access
        .iter()
        .find(|r| r["request_id"] == "ops-test-42")
        .unwrap();
    assert_eq!(api["path"], "/api/employees");
    assert_eq!(api["status"], 200);
    assert!(api["user_id"].is_string());
    let failed = records
        .iter()
        .find(|r| r["message"] == "login failed")
        .unwrap();
    assert!(failed.get("username").is_none(), "{failed}");
    assert!(
        failed["username_unknown"]
            .as_str()
            .is_some_and(|t| t.len() == 12)
    );
    assert!(!lines.iter().any(|l| l.contains("forged")), "{lines:?}");
    assert_eq!(failed["level"], "WARN");
    let reuse = records
        .iter()
        .find(|r| r["message"].as_str().is_some_and(|m| m.contains("reuse")))
        .unwrap();
    assert!(reuse["session_id"].is_string() && reuse["request_id"].is_string());
}

/// An upstream whose `/slow` answers 200 after `delay`, counting arrivals.
fn slow_upstream(delay: Duration) -> (String, Arc<AtomicUsize>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let arrived = Arc::new(AtomicUsize::new(0));
    let counter = arrived.clone();
    let server = HttpServer::new(move || {
        let counter = counter.clone();
        App::new().route(
            "/slow",
            web::get().to(move || {
                let counter = counter.clone();
                async move {
                    counter.fetch_add(1, Ordering::SeqCst);
                    actix_web::rt::time::sleep(delay).await;
                    HttpResponse::Ok().body("finished")
                }
            }),
        )
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    actix_web::rt::spawn(server);
    (url, arrived)
}

#[actix_web::test]
async fn sigterm_and_sigint_let_in_flight_proxied_requests_finish_then_exit_0() {
    let (upstream, arrived) = slow_upstream(Duration::from_secs(2));
    for signal in ["TERM", "INT"] {
        let (served, url, _dir) = serve_for_carol(&[
            ("PORTCULLIS_UPSTREAM", &upstream),
            ("PORTCULLIS_SHUTDOWN_TIMEOUT", "10"),
        ]);
        let access = carols_token(&url).await;

        let seen = arrived.load(Ordering::SeqCst);
        let in_flight = actix_web::rt::spawn({
            let url = url.clone();
            async move {
                let mut res = client()
                    .get(format!("{url}/api/slow"))
                    .bearer_auth(access)
                    .send()
                    .await
                    .unwrap();
                (res.status(), res.body().await.unwrap())
            }
        });
        while arrived.load(Ordering::SeqCst) == seen {
            actix_web::rt::time::sleep(Duration::from_millis(10)).await;
        }
        served.signal(signal);
        let signalled = Instant::now();
        while client().get(format!("{url}/healthz")).send().await.is_ok() {
            assert!(
                signalled.elapsed() < Duration::from_secs(5),
                "SIG{signal}: new connections are still accepted"
            );
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }

        let (status, body) = in_flight.await.unwrap();
        assert_eq!(status, 200, "SIG{signal}: the in-flight request finished");
        assert_eq!(body, "finished");
        let Exit {
            status: exit,
            took,
            lines,
        } = actix_web::rt::task::spawn_blocking(move || served.wait(Duration::from_secs(10)))
            .await
            .unwrap();
        assert!(exit.success(), "SIG{signal}: exit {exit:?}");
        assert!(took < Duration::from_secs(5), "SIG{signal}: took {took:?}");
        assert!(
            lines
                .iter()
                .any(|l| l.contains("path=/api/slow status=200")),
            "the finished request is logged before exit:\n{}",
            lines.join("\n")
        );
    }
}

#[actix_web::test]
async fn a_request_outlasting_the_shutdown_timeout_does_not_hold_the_exit() {
    let (upstream, arrived) = slow_upstream(Duration::from_secs(30));
    let (served, url, _dir) = serve_for_carol(&[
        ("PORTCULLIS_UPSTREAM", &upstream),
        ("PORTCULLIS_SHUTDOWN_TIMEOUT", "1"),
    ]);
    let access = carols_token(&url).await;
    let _stuck = actix_web::rt::spawn(async move {
        let _ = client()
            .get(format!("{url}/api/slow"))
            .bearer_auth(access)
            .send()
            .await;
    });
    while arrived.load(Ordering::SeqCst) == 0 {
        actix_web::rt::time::sleep(Duration::from_millis(10)).await;
    }
    served.signal("TERM");
    let Exit {
        status: exit, took, ..
    } = actix_web::rt::task::spawn_blocking(move || served.wait(Duration::from_secs(10)))
        .await
        .unwrap();
    assert!(exit.success(), "{exit:?}");
    assert!(took < Duration::from_secs(4), "took {took:?}");
}

// -------------------------------------------------------------------- TLS

#[actix_web::test]
async fn connections_over_https_count_against_the_per_address_bound() {
    let pki = Pki::new();
    let app = spawn_with(|a| {
        a.tls_cert = Some(pki.path("cert.pem"));
        a.tls_key = Some(pki.path("key.pem"));
        a.max_client_connections = "1".into();
    })
    .await;
    let config = Arc::new(pki.client_config());
    let port = app.port;
    actix_web::rt::task::spawn_blocking(move || {
        let (_held, status) = tls_get(&config, port, "/healthz");
        assert_eq!(status, 200);
        let (_, status) = tls_get(&config, port, "/healthz");
        assert_eq!(
            status, 429,
            "a second TLS connection from the address is refused"
        );
    })
    .await
    .unwrap();
}

#[actix_web::test]
async fn every_answer_of_the_https_listener_carries_hsts_and_none_of_the_plain_one() {
    let pki = Pki::new();
    let client = pki.client();
    let answers = |base: String| {
        let client = client.clone();
        async move {
            let mut seen = Vec::new();
            for (method, path) in [
                ("GET", "/healthz"),
                ("GET", "/auth/me"),
                ("POST", "/auth/login"),
                ("GET", "/no/such/page"),
                ("DELETE", "/auth/refresh"),
                ("GET", "/api/employees"),
            ] {
                let req = client.request(method.parse().unwrap(), format!("{base}{path}"));
                let res = req.send().await.unwrap();
                let hsts = res.headers().get("strict-transport-security");
                seen.push((
                    path,
                    res.status().as_u16(),
                    hsts.map(|v| v.to_str().unwrap().to_owned()),
                ));
            }
            seen
        }
    };
    let https = |hsts: &'static str| {
        let pki = &pki;
        async move {
            spawn_proxied_with(|a| {
                a.tls_cert = Some(pki.path("cert.pem"));
                a.tls_key = Some(pki.path("key.pem"));
                if !hsts.is_empty() {
                    a.hsts = hsts.into();
                }
            })
            .await
        }
    };
    let app = https("").await;
    for (path, status, hsts) in answers(format!("https://127.0.0.1:{}", app.port)).await {
        assert_eq!(
            hsts.as_deref(),
            Some("max-age=31536000"),
            "{path} ({status})"
        );
    }
    let app = https("max-age=600; includeSubDomains").await;
    for (path, status, hsts) in answers(format!("https://127.0.0.1:{}", app.port)).await {
        assert_eq!(
            hsts.as_deref(),
            Some("max-age=600; includeSubDomains"),
            "{path} ({status})"
        );
    }
    let app = https("off").await;
    for (path, status, hsts) in answers(format!("https://127.0.0.1:{}", app.port)).await {
        assert_eq!(hsts, None, "{path} ({status}): off");
    }
    let plain = spawn_proxied().await;
    for (path, status, hsts) in answers(plain.url.clone()).await {
        assert_eq!(hsts, None, "{path} ({status}) over plain HTTP");
    }
}

#[actix_web::test]
async fn the_listener_speaks_https_and_a_login_over_it_sets_a_secure_cookie() {
    let pki = Pki::new();
    let app = spawn_proxied_with(|a| {
        a.tls_cert = Some(pki.path("cert.pem"));
        a.tls_key = Some(pki.path("key.pem"));
    })
    .await;
    app.add_user("hattie", &[Role::User]);
    let https = format!("https://127.0.0.1:{}", app.port);
    let client = pki.client();

    let mut res = client
        .post(format!("{https}/auth/login"))
        .send_json(&json!({ "username": "hattie", "password": PASSWORD }))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let cookie = set_cookie(&res, COOKIE).unwrap();
    assert_eq!(cookie.secure(), Some(true));
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["user"]["username"], "hattie");
    let access = body["access_token"].as_str().unwrap();
    let mut res = client
        .get(format!("{https}/api/employees"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.version(), actix_web::http::Version::HTTP_11);
    let echo: Value = res.json().await.unwrap();
    assert_eq!(echo["headers"]["x-forwarded-proto"], json!(["https"]));
    let res = client
        .post(format!("{https}/auth/refresh"))
        .insert_header(("X-CSRF", "1"))
        .insert_header(("Cookie", format!("{COOKIE}={}", cookie.value())))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "the Secure cookie works over https");

    assert!(
        app.client
            .get(format!("{}/healthz", app.url))
            .send()
            .await
            .is_err(),
        "plain http is not served on the TLS listener"
    );
    let stranger = client_trusting_nothing();
    assert!(
        stranger
            .get(format!("{https}/healthz"))
            .send()
            .await
            .is_err()
    );
}

/// A TLS client with an empty root store: every certificate fails.
fn client_trusting_nothing() -> awc::Client {
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(rustls::RootCertStore::empty())
    .with_no_client_auth();
    awc::Client::builder()
        .connector(awc::Connector::new().rustls_0_23(Arc::new(config)))
        .finish()
}

#[actix_web::test]
async fn an_https_upstream_is_verified_against_the_configured_ca() {
    let pki = Pki::new();
    let upstream = https_upstream(&pki.path("cert.pem"), &pki.path("key.pem"));
    let app = spawn_with(|a| {
        a.upstream = Some(format!("{upstream}/base"));
        a.upstream_ca = Some(pki.path("ca.pem"));
    })
    .await;
    let session = app.logged_in("ida", &[Role::User]).await;
    let mut res = app.api("GET", "/employees", &session.access).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["path"], "/base/employees");
    assert_eq!(body["user"], "ida");

    // the same upstream, but the gateway trusts another CA
    let other = Pki::new();
    let app = spawn_with(|a| {
        a.upstream = Some(upstream.clone());
        a.upstream_ca = Some(other.path("ca.pem"));
    })
    .await;
    let session = app.logged_in("ida", &[Role::User]).await;
    let before = scrape(&app).await;
    let mut res = app.api("GET", "/employees", &session.access).await;
    assert_eq!(res.status(), 502);
    assert_eq!(error_code(&mut res).await, "upstream_unavailable");
    let after = scrape(&app).await;
    assert_eq!(
        sample(&after, UNAVAILABLE) - sample(&before, UNAVAILABLE),
        1.0
    );
}

#[test]
fn an_unknown_log_format_is_exit_2_naming_it() {
    let out = portcullis()
        .arg("migrate")
        .env("PORTCULLIS_LOG_FORMAT", "xml")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    let first = stderr.lines().next().unwrap_or_default();
    assert!(
        first.contains("--log-format") && first.contains("xml"),
        "{stderr}"
    );
    assert!(
        stderr.contains("text, json"),
        "the choices are named: {stderr}"
    );
}

#[test]
fn tls_needs_both_a_certificate_and_a_key_and_readable_pem() {
    let pki = Pki::new();
    let serve = |env: &[(&str, &Path)]| {
        let mut cmd = portcullis();
        cmd.arg("serve")
            .env("PORTCULLIS_UPSTREAM", "http://127.0.0.1:9")
            .env("PORTCULLIS_JWT_SECRET", SECRET)
            .env("PORTCULLIS_STATIC_DIR", pki.dir.path());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        (out.status.code(), String::from_utf8(out.stderr).unwrap())
    };
    let (code, stderr) = serve(&[("PORTCULLIS_TLS_CERT", &pki.path("cert.pem"))]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("PORTCULLIS_TLS_KEY"), "{stderr}");
    let (code, stderr) = serve(&[("PORTCULLIS_TLS_KEY", &pki.path("key.pem"))]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("PORTCULLIS_TLS_CERT"), "{stderr}");
    let (code, stderr) = serve(&[
        ("PORTCULLIS_TLS_CERT", &pki.path("key.pem")),
        ("PORTCULLIS_TLS_KEY", &pki.path("key.pem")),
    ]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("PORTCULLIS_TLS_CERT"), "{stderr}");
    assert!(
        !stderr.contains("PRIVATE KEY-----\n"),
        "no key material echoed"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[actix_web::test]
async fn build_info_names_the_version_and_the_commit_built_from() {
    let app = spawn_app().await;
    let text = scrape(&app).await;
    let git = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned());
    let commit = git.unwrap_or_else(|| "unknown".to_owned());
    let series = format!(
        "portcullis_build_info{{commit=\"{commit}\",version=\"{}\"}}",
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(
        sample(&text, &series),
        1.0,
        "{series} missing from:\n{text}"
    );
}
