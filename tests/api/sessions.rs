//! §8: the caller's sessions and password (bearer routes), the admin
//! routes, and `/openapi.json`.

use std::time::{Duration, Instant};

use portcullis::auth::Role;
use serde_json::{Value, json};

use crate::support::*;

const NEW_PASSWORD: &str = "a new and longer passphrase";

async fn sessions_of(app: &TestApp, access: &str) -> Vec<Value> {
    let mut res = app.call("GET", "/auth/sessions", access).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    body["sessions"].as_array().unwrap().clone()
}

async fn users_list(app: &TestApp, access: &str) -> Vec<Value> {
    let mut res = app.call("GET", "/auth/admin/users", access).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    body["users"].as_array().unwrap().clone()
}

fn rfc3339(value: &Value) -> chrono::DateTime<chrono::Utc> {
    let text = value.as_str().unwrap();
    assert!(text.ends_with('Z'), "UTC: {text}");
    chrono::DateTime::parse_from_rfc3339(text).unwrap().to_utc()
}

// --- the caller's sessions --------------------------------------------------

#[actix_web::test]
async fn a_user_lists_their_live_sessions_newest_first_with_the_current_one_marked() {
    let app = spawn_app().await;
    app.add_user("alice", &[]);
    app.add_user("bob", &[]);
    let laptop = app.login_as("alice", "Firefox on a laptop").await;
    app.advance(10.0);
    let phone = app.login_as("alice", "Safari on a phone").await;
    app.advance(10.0);
    let ended = app.login("alice").await;
    assert_eq!(app.logout(&ended.refresh).await.status(), 204);
    app.login("bob").await;

    let mut res = app.call("GET", "/auth/sessions", &laptop.access).await;
    assert_eq!(res.headers().get("cache-control").unwrap(), "no-store");
    let body: Value = res.json().await.unwrap();
    let list = body["sessions"].as_array().unwrap();
    let ids: Vec<&str> = list.iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [phone.sid(), laptop.sid()],
        "newest first, ended and other users' absent"
    );
    assert_eq!(list[0]["user_agent"], "Safari on a phone");
    assert_eq!(list[1]["user_agent"], "Firefox on a laptop");
    assert_eq!(list[0]["current"], false);
    assert_eq!(list[1]["current"], true);
    for s in list {
        assert_eq!(s["client_addr"], "127.0.0.1");
        let created = rfc3339(&s["created_at"]);
        assert_eq!(
            rfc3339(&s["expires_at"]) - created,
            chrono::Duration::days(30)
        );
        assert!(rfc3339(&s["last_used_at"]) >= created);
    }
    assert!(rfc3339(&list[0]["created_at"]) > rfc3339(&list[1]["created_at"]));

    // a refresh moves last_used_at, not expires_at
    app.advance(30.0);
    assert_eq!(app.refresh(&laptop.refresh).await.status(), 200);
    let after = sessions_of(&app, &phone.access).await;
    let laptop_row = after
        .iter()
        .find(|s| s["id"] == laptop.sid().as_str())
        .unwrap();
    assert!(rfc3339(&laptop_row["last_used_at"]) > rfc3339(&list[1]["last_used_at"]));
    assert_eq!(laptop_row["expires_at"], list[1]["expires_at"]);
    assert_eq!(
        after.iter().find(|s| s["current"] == true).unwrap()["id"],
        phone.sid().as_str()
    );
}

#[actix_web::test]
async fn ending_another_of_ones_sessions_refuses_its_tokens_within_two_seconds() {
    let app = spawn_app().await;
    app.add_user("alice", &[]);
    let mine = app.login("alice").await;
    let other = app.login("alice").await;
    let res = app
        .call(
            "DELETE",
            &format!("/auth/sessions/{}", other.sid()),
            &mine.access,
        )
        .await;
    assert_eq!(res.status(), 204);
    app.wait_until_refused(&other.access, Duration::from_secs(2))
        .await;
    assert_error(
        app.refresh(&other.refresh).await,
        401,
        "invalid_refresh_token",
    )
    .await;
    // the caller's own session is untouched
    assert_eq!(app.me(&mine.access).await.status(), 200);
    assert_eq!(app.refresh(&mine.refresh).await.status(), 200);
    let left = sessions_of(&app, &mine.access).await;
    assert_eq!(left.len(), 1);
    // ending it again: it is no longer there
    let res = app
        .call(
            "DELETE",
            &format!("/auth/sessions/{}", other.sid()),
            &mine.access,
        )
        .await;
    assert_error(res, 404, "not_found").await;
}

#[actix_web::test]
async fn another_users_session_and_an_unknown_id_are_both_404_not_403() {
    let app = spawn_app().await;
    let alice = app.logged_in("alice", &[]).await;
    let mallory = app.logged_in("mallory", &[Role::Admin]).await;
    let mut res = app
        .call(
            "DELETE",
            &format!("/auth/sessions/{}", alice.sid()),
            &mallory.access,
        )
        .await;
    assert_eq!(res.status(), 404, "not 403: ids cannot be probed");
    let body: Value = res.json().await.unwrap();
    let mut unknown = app
        .call(
            "DELETE",
            "/auth/sessions/00000000-0000-4000-8000-000000000000",
            &mallory.access,
        )
        .await;
    assert_eq!(unknown.status(), 404);
    assert_eq!(
        body,
        unknown.json::<Value>().await.unwrap(),
        "the same answer for both"
    );
    assert_eq!(body["error"], "not_found");
    // alice's session lives on
    assert_eq!(app.me(&alice.access).await.status(), 200);
    assert_eq!(app.refresh(&alice.refresh).await.status(), 200);
}

#[actix_web::test]
async fn the_bearer_routes_need_an_access_token_never_the_cookie() {
    let app = spawn_app().await;
    let alice = app.logged_in("alice", &[]).await;
    for (method, path) in [
        ("GET", "/auth/sessions"),
        ("DELETE", "/auth/sessions/x"),
        ("POST", "/auth/logout-all"),
        ("POST", "/auth/password"),
        ("GET", "/auth/admin/users"),
        ("POST", "/auth/admin/users/x/disable"),
    ] {
        let mut res = app
            .client
            .request(method.parse().unwrap(), format!("{}{path}", app.url))
            .insert_header(("Cookie", format!("{COOKIE}={}", alice.refresh)))
            .insert_header(("X-CSRF", "1"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401, "{method} {path}");
        assert_eq!(
            res.headers().get("www-authenticate").unwrap(),
            r#"Bearer error="invalid_token""#
        );
        assert_eq!(error_code(&mut res).await, "invalid_token");
    }
}

#[actix_web::test]
async fn logout_all_ends_every_session_including_the_current_one_and_clears_the_cookie() {
    let app = spawn_app().await;
    app.add_user("alice", &[]);
    let bob = app.logged_in("bob", &[]).await;
    let sessions = [
        app.login("alice").await,
        app.login("alice").await,
        app.login("alice").await,
    ];
    let res = app
        .call("POST", "/auth/logout-all", &sessions[0].access)
        .await;
    assert_eq!(res.status(), 204);
    assert_cookie_cleared(&res);
    for s in &sessions {
        app.wait_until_refused(&s.access, Duration::from_secs(2))
            .await;
        assert_eq!(app.refresh(&s.refresh).await.status(), 401);
    }
    // other users are untouched, and alice can log in again
    assert_eq!(app.me(&bob.access).await.status(), 200);
    let again = app.login("alice").await;
    assert_eq!(sessions_of(&app, &again.access).await.len(), 1);
}

// --- the password -----------------------------------------------------------

#[actix_web::test]
async fn changing_the_password_ends_the_other_sessions_and_keeps_this_one() {
    let app = spawn_app().await;
    app.add_user("alice", &[]);
    let mine = app.login("alice").await;
    let other = app.login("alice").await;
    let res = app
        .call_json(
            "POST",
            "/auth/password",
            &mine.access,
            &json!({ "current_password": PASSWORD, "new_password": NEW_PASSWORD }),
        )
        .await;
    assert_eq!(res.status(), 204);
    app.wait_until_refused(&other.access, Duration::from_secs(2))
        .await;
    assert_eq!(app.refresh(&other.refresh).await.status(), 401);
    assert_eq!(app.me(&mine.access).await.status(), 200);
    assert_eq!(app.refresh(&mine.refresh).await.status(), 200);
    assert_eq!(app.login_raw("alice", PASSWORD).await.status(), 401);
    assert_eq!(app.login_raw("alice", NEW_PASSWORD).await.status(), 200);
}

#[actix_web::test]
async fn a_new_password_outside_8_to_256_characters_is_invalid_input_and_changes_nothing() {
    let app = spawn_app().await;
    let alice = app.logged_in("alice", &[]).await;
    for new in ["short", &"x".repeat(257)] {
        let res = app
            .call_json(
                "POST",
                "/auth/password",
                &alice.access,
                &json!({ "current_password": PASSWORD, "new_password": new }),
            )
            .await;
        assert_error(res, 400, "invalid_input").await;
    }
    let res = app
        .call_json(
            "POST",
            "/auth/password",
            &alice.access,
            &json!({ "current_password": PASSWORD }),
        )
        .await;
    assert_error(res, 400, "invalid_input").await;
    assert_eq!(app.login_raw("alice", PASSWORD).await.status(), 200);
}

#[actix_web::test]
async fn a_wrong_current_password_is_invalid_credentials_and_throttled_like_login() {
    let app = spawn_app().await;
    let alice = app.logged_in("alice", &[]).await;
    let other = app.login("alice").await;
    let wrong = json!({ "current_password": "not my password", "new_password": NEW_PASSWORD });
    for _ in 0..5 {
        let mut res = app
            .call_json("POST", "/auth/password", &alice.access, &wrong)
            .await;
        assert_eq!(res.status(), 401);
        assert_eq!(error_code(&mut res).await, "invalid_credentials");
        assert!(
            res.headers().get("www-authenticate").is_none(),
            "the token is fine"
        );
    }
    let right = json!({ "current_password": PASSWORD, "new_password": NEW_PASSWORD });
    assert_throttled(
        app.call_json("POST", "/auth/password", &alice.access, &right)
            .await,
    )
    .await;
    // nothing changed, no session ended, and the owner can still log in
    assert_eq!(app.me(&other.access).await.status(), 200);
    assert_eq!(app.login_raw("alice", PASSWORD).await.status(), 200);
}

#[actix_web::test]
async fn a_wrong_current_password_takes_about_as_long_as_a_failed_login() {
    let app = spawn_app().await;
    let alice = app.logged_in("alice", &[]).await;
    let wrong = json!({ "current_password": "not my password", "new_password": NEW_PASSWORD });
    // the argon2 bound: one verification here, the fastest of three
    let stored = portcullis::auth::password::hash(PASSWORD).unwrap();
    let mut bound = Duration::MAX;
    let mut change = Duration::MAX;
    for _ in 0..3 {
        let start = Instant::now();
        portcullis::auth::password::verify("not my password", &stored);
        bound = bound.min(start.elapsed());
        let start = Instant::now();
        assert_eq!(
            app.call_json("POST", "/auth/password", &alice.access, &wrong)
                .await
                .status(),
            401
        );
        change = change.min(start.elapsed());
    }
    // the gateway runs one verification too (a failed login does the
    // same); without it the wrong password would answer in a fraction of
    // the time. A loaded machine only slows the gateway's (it hashes at
    // idle priority), never this bound.
    assert!(
        change * 2 > bound,
        "password change {change:?} vs one argon2 verification {bound:?}"
    );
}

// --- the admin routes -------------------------------------------------------

#[actix_web::test]
async fn an_admin_lists_users_with_roles_state_and_live_session_counts() {
    let app = spawn_app().await;
    let root = app.logged_in("root", &[Role::Admin]).await;
    app.add_user("bob", &[Role::Editor]);
    let carol = app.add_user("carol", &[]);
    app.login("bob").await;
    let ended = app.login("bob").await;
    app.logout(&ended.refresh).await;
    app.login("bob").await;
    app.disable_user("carol").await;

    let mut res = app.call("GET", "/auth/admin/users", &root.access).await;
    assert_eq!(res.headers().get("cache-control").unwrap(), "no-store");
    let body: Value = res.json().await.unwrap();
    let users = body["users"].as_array().unwrap();
    let names: Vec<&str> = users
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["bob", "carol", "root"]);
    assert_eq!(users[0]["roles"], json!(["user", "editor"]));
    assert_eq!(users[0]["sessions"], 2);
    assert_eq!(users[0]["disabled"], false);
    assert_eq!(users[1]["id"], carol.id.as_str());
    assert_eq!(users[1]["disabled"], true);
    assert_eq!(users[1]["sessions"], 0);
    assert_eq!(users[2]["roles"], json!(["user", "admin"]));
    assert_eq!(users[2]["sessions"], 1);
    rfc3339(&users[2]["created_at"]);
    assert_eq!(
        users[0].as_object().unwrap().keys().collect::<Vec<_>>(),
        [
            "created_at",
            "disabled",
            "id",
            "mfa",
            "roles",
            "sessions",
            "username"
        ],
        "and nothing else (no hashes, no seeds)"
    );
}

#[actix_web::test]
async fn a_non_admin_is_refused_every_admin_route() {
    let app = spawn_app().await;
    let bob = app.logged_in("bob", &[Role::Editor]).await;
    let carol = app.add_user("carol", &[]);
    let target = format!("/auth/admin/users/{}", carol.id);
    for (method, path, body) in [
        ("GET", "/auth/admin/users".to_owned(), None),
        (
            "PUT",
            format!("{target}/roles"),
            Some(json!({ "roles": ["admin"] })),
        ),
        // a malformed body still learns only `forbidden`
        (
            "PUT",
            format!("{target}/roles"),
            Some(json!({ "roles": 7 })),
        ),
        ("POST", format!("{target}/disable"), None),
        ("POST", format!("{target}/enable"), None),
        ("DELETE", format!("{target}/sessions"), None),
    ] {
        let res = match body {
            Some(body) => app.call_json(method, &path, &bob.access, &body).await,
            None => app.call(method, &path, &bob.access).await,
        };
        assert_error(res, 403, "forbidden").await;
    }
    let user = app.user(&carol.id);
    assert!(
        !user.disabled && user.roles.names() == ["user"],
        "nothing changed"
    );
}

#[actix_web::test]
async fn an_admin_sets_roles_which_reach_the_users_tokens_at_the_next_refresh() {
    let app = spawn_app().await;
    let root = app.logged_in("root", &[Role::Admin]).await;
    let bob = app.logged_in("bob", &[]).await;
    let mut res = app
        .call_json(
            "PUT",
            &format!("/auth/admin/users/{}/roles", bob.user_id()),
            &root.access,
            &json!({ "roles": ["editor"] }),
        )
        .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body,
        json!({ "id": bob.user_id(), "username": "bob", "roles": ["user", "editor"] })
    );
    let mut res = app.refresh(&bob.refresh).await;
    let refreshed: Value = res.json().await.unwrap();
    assert_eq!(refreshed["user"]["roles"], json!(["user", "editor"]));
}

#[actix_web::test]
async fn unknown_roles_are_invalid_input_and_unknown_users_not_found() {
    let app = spawn_app().await;
    let root = app.logged_in("root", &[Role::Admin]).await;
    let bob = app.add_user("bob", &[]);
    let roles = format!("/auth/admin/users/{}/roles", bob.id);
    for bad in [
        json!({ "roles": ["root"] }),
        json!({ "roles": [" admin"] }),
        json!({ "roles": "admin" }),
        json!({}),
    ] {
        let res = app.call_json("PUT", &roles, &root.access, &bad).await;
        assert_error(res, 400, "invalid_input").await;
    }
    let unknown = "/auth/admin/users/00000000-0000-4000-8000-000000000000";
    let res = app
        .call_json(
            "PUT",
            &format!("{unknown}/roles"),
            &root.access,
            &json!({ "roles": [] }),
        )
        .await;
    assert_error(res, 404, "not_found").await;
    for (method, action) in [
        ("POST", "disable"),
        ("POST", "enable"),
        ("DELETE", "sessions"),
    ] {
        let res = app
            .call(method, &format!("{unknown}/{action}"), &root.access)
            .await;
        assert_error(res, 404, "not_found").await;
    }
}

#[actix_web::test]
async fn an_admin_cannot_disable_themselves_or_drop_their_own_admin_role() {
    let app = spawn_app().await;
    let root = app.logged_in("root", &[Role::Admin]).await;
    let me = format!("/auth/admin/users/{}", root.user_id());
    let res = app
        .call("POST", &format!("{me}/disable"), &root.access)
        .await;
    assert_error(res, 400, "invalid_input").await;
    let res = app
        .call_json(
            "PUT",
            &format!("{me}/roles"),
            &root.access,
            &json!({ "roles": ["editor"] }),
        )
        .await;
    assert_error(res, 400, "invalid_input").await;
    // still an admin, still logged in
    assert_eq!(
        users_list(&app, &root.access).await[0]["roles"],
        json!(["user", "admin"])
    );
    // adding a role to oneself is fine
    let res = app
        .call_json(
            "PUT",
            &format!("{me}/roles"),
            &root.access,
            &json!({ "roles": ["admin", "editor"] }),
        )
        .await;
    assert_eq!(res.status(), 200);
}

#[actix_web::test]
async fn disabling_a_user_ends_every_session_within_two_seconds_until_enabled() {
    let app = spawn_app().await;
    let root = app.logged_in("root", &[Role::Admin]).await;
    let bob = app.logged_in("bob", &[]).await;
    let bob2 = app.login("bob").await;
    let path = format!("/auth/admin/users/{}", bob.user_id());
    let res = app
        .call("POST", &format!("{path}/disable"), &root.access)
        .await;
    assert_eq!(res.status(), 204);
    for s in [&bob, &bob2] {
        app.wait_until_refused(&s.access, Duration::from_secs(2))
            .await;
        assert_eq!(app.refresh(&s.refresh).await.status(), 401);
    }
    assert_error(
        app.login_raw("bob", PASSWORD).await,
        401,
        "invalid_credentials",
    )
    .await;
    assert_eq!(users_list(&app, &root.access).await[0]["disabled"], true);

    let res = app
        .call("POST", &format!("{path}/enable"), &root.access)
        .await;
    assert_eq!(res.status(), 204);
    assert_eq!(app.login_raw("bob", PASSWORD).await.status(), 200);
    // the old sessions stay ended
    assert_eq!(app.refresh(&bob.refresh).await.status(), 401);
}

#[actix_web::test]
async fn an_admin_ends_every_session_of_a_user_within_two_seconds() {
    let app = spawn_app().await;
    let root = app.logged_in("root", &[Role::Admin]).await;
    let bob = app.logged_in("bob", &[]).await;
    let bob2 = app.login("bob").await;
    let res = app
        .call(
            "DELETE",
            &format!("/auth/admin/users/{}/sessions", bob.user_id()),
            &root.access,
        )
        .await;
    assert_eq!(res.status(), 204);
    for s in [&bob, &bob2] {
        app.wait_until_refused(&s.access, Duration::from_secs(2))
            .await;
        assert_eq!(app.refresh(&s.refresh).await.status(), 401);
    }
    // not disabled: bob may log in again, and root is untouched
    assert_eq!(app.login_raw("bob", PASSWORD).await.status(), 200);
    assert_eq!(app.me(&root.access).await.status(), 200);
}

#[actix_web::test]
async fn a_demoted_admin_is_refused_at_once_though_their_token_still_says_admin() {
    let app = spawn_app().await;
    let root = app.logged_in("root", &[Role::Admin]).await;
    let dave = app.logged_in("dave", &[Role::Admin]).await;
    assert_eq!(
        app.call("GET", "/auth/admin/users", &dave.access)
            .await
            .status(),
        200
    );
    let res = app
        .call_json(
            "PUT",
            &format!("/auth/admin/users/{}/roles", dave.user_id()),
            &root.access,
            &json!({ "roles": ["editor"] }),
        )
        .await;
    assert_eq!(res.status(), 200);
    // dave's access token still carries "admin" ...
    assert_eq!(claims(&dave.access)["roles"], json!(["user", "admin"]));
    // ... but the admin routes ask the database
    let res = app.call("GET", "/auth/admin/users", &dave.access).await;
    assert_error(res, 403, "forbidden").await;
    let res = app
        .call(
            "POST",
            &format!("/auth/admin/users/{}/disable", root.user_id()),
            &dave.access,
        )
        .await;
    assert_error(res, 403, "forbidden").await;
}

#[actix_web::test]
async fn a_disabled_admin_is_refused_at_once_even_before_revocation_reaches_the_gateway() {
    let app = spawn_app().await;
    let dave = app.logged_in("dave", &[Role::Admin]).await;
    // only the flag, behind the gateway's back: no session is revoked
    app.set_disabled_flag(&dave.user_id());
    assert_eq!(
        app.me(&dave.access).await.status(),
        200,
        "the token itself is live"
    );
    let res = app.call("GET", "/auth/admin/users", &dave.access).await;
    assert_error(res, 403, "forbidden").await;
}

// --- the OpenAPI document ---------------------------------------------------

async fn openapi(app: &TestApp) -> Value {
    let mut res = app.get("/openapi.json").await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers().get("content-type").unwrap(),
        "application/json"
    );
    res.json().await.unwrap()
}

#[actix_web::test]
async fn the_openapi_document_describes_the_auth_session_admin_and_health_routes() {
    let app = spawn_with(|a| a.cookie_name = "my_refresh".into()).await;
    let doc = openapi(&app).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1."));
    let paths = doc["paths"].as_object().unwrap();
    for (path, method) in [
        ("/auth/register", "post"),
        ("/auth/login", "post"),
        ("/auth/login/mfa", "post"),
        ("/auth/step-up", "post"),
        ("/auth/mfa", "get"),
        ("/auth/mfa/totp/setup", "post"),
        ("/auth/mfa/totp/confirm", "post"),
        ("/auth/mfa/totp", "delete"),
        ("/auth/mfa/recovery-codes", "post"),
        ("/auth/admin/users/{id}/mfa/reset", "post"),
        ("/auth/refresh", "post"),
        ("/auth/logout", "post"),
        ("/auth/me", "get"),
        ("/auth/sessions", "get"),
        ("/auth/sessions/{id}", "delete"),
        ("/auth/logout-all", "post"),
        ("/auth/password", "post"),
        ("/auth/admin/users", "get"),
        ("/auth/admin/users/{id}/roles", "put"),
        ("/auth/admin/users/{id}/disable", "post"),
        ("/auth/admin/users/{id}/enable", "post"),
        ("/auth/admin/users/{id}/sessions", "delete"),
        ("/.well-known/jwks.json", "get"),
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/", "get"),
        ("/openapi.json", "get"),
    ] {
        let op = &paths[path][method];
        assert!(op.is_object(), "{method} {path} is documented");
        // every error answer has the contract's shape: ErrorBody, or one
        // of the two that add fields to it (§9's mfa_required and step-up)
        for (status, response) in op["responses"].as_object().unwrap() {
            if status.starts_with('4') || status.starts_with('5') {
                let schema = &response["content"]["application/json"]["schema"]["$ref"];
                assert!(
                    [
                        "#/components/schemas/ErrorBody",
                        "#/components/schemas/MfaRequiredBody",
                        "#/components/schemas/StepUpBody",
                    ]
                    .contains(&schema.as_str().unwrap_or_default()),
                    "{method} {path} {status}: {schema}"
                );
            }
        }
    }
    let password = &paths["/auth/password"]["post"];
    assert_eq!(password["security"], json!([{ "bearer": [] }]));
    assert!(password["requestBody"]["content"]["application/json"].is_object());
    for status in ["204", "400", "401", "413", "415", "429"] {
        assert!(
            password["responses"][status].is_object(),
            "password {status}"
        );
    }
    assert_eq!(
        paths["/auth/refresh"]["post"]["security"],
        json!([{ "refresh_cookie": [], "csrf": [] }])
    );
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["refresh_cookie"]["in"], "cookie");
    assert_eq!(
        schemes["refresh_cookie"]["name"], "my_refresh",
        "the configured cookie"
    );
    assert_eq!(schemes["csrf"]["in"], "header");
    assert_eq!(schemes["csrf"]["name"], "X-CSRF");
    for shape in ["ErrorBody", "MfaRequiredBody", "StepUpBody"] {
        let required = doc["components"]["schemas"][shape]["required"]
            .as_array()
            .unwrap();
        assert_eq!(required[..2], [json!("error"), json!("message")], "{shape}");
    }
}

/// Found by Schemathesis: a 405 must say which methods the resource has.
#[actix_web::test]
async fn every_documented_route_answers_other_methods_with_405_and_an_allow_header() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("static");
    let app = spawn_with(|a| a.static_dir = Some(dir)).await;
    let doc = openapi(&app).await;
    for (path, ops) in doc["paths"].as_object().unwrap() {
        let documented: Vec<String> = ops
            .as_object()
            .unwrap()
            .keys()
            .map(|m| m.to_uppercase())
            .collect();
        let mut expected = documented.clone();
        if documented.contains(&"GET".to_owned()) {
            expected.push("HEAD".to_owned());
        }
        let url = path.replace("{id}", "00000000-0000-4000-8000-000000000000");
        for method in ["GET", "POST", "PUT", "PATCH", "DELETE", "TRACE"] {
            if documented.iter().any(|m| m == method) {
                continue;
            }
            let mut res = app
                .client
                .request(method.parse().unwrap(), format!("{}{url}", app.url))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 405, "{method} {path}");
            let allow = res
                .headers()
                .get("allow")
                .unwrap_or_else(|| panic!("{method} {path}: no Allow"));
            let mut allowed: Vec<String> = allow
                .to_str()
                .unwrap()
                .split(',')
                .map(|m| m.trim().to_owned())
                .collect();
            allowed.sort();
            let mut want = expected.clone();
            want.sort();
            assert_eq!(allowed, want, "{method} {path}");
            assert_eq!(error_code(&mut res).await, "method_not_allowed");
        }
    }
}
