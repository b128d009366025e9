//! Contract §12: security events stored with the change they record and
//! read by their user and by admins, why a session ended in the refresh
//! `401`, the reuse cause, device cookies that keep strangers from locking
//! an owner out, and usernames no user has kept out of logs and events.

use std::collections::HashSet;
use std::time::Duration;

use chrono::Duration as ChronoDuration;
use portcullis::auth::Role;
use portcullis::services::Services;
use serde_json::{Value, json};

use crate::support::*;

/// The `401` body of a refresh with `refresh`.
async fn refused_refresh(app: &TestApp, refresh: &str) -> Value {
    let mut res = app.refresh(refresh).await;
    assert_eq!(res.status(), 401);
    assert_cookie_cleared(&res);
    res.json().await.unwrap()
}

/// Asserts that a refresh with `refresh` is refused with `code` and
/// `reason`.
async fn assert_ended(app: &TestApp, refresh: &str, code: &str, reason: &str) {
    let body = refused_refresh(app, refresh).await;
    assert_eq!(body["error"], code, "{body}");
    assert_eq!(body["reason"], reason, "{body}");
}

fn detail(event: &portcullis::db::events::EventRow) -> Value {
    serde_json::from_str(event.detail.as_deref().unwrap_or("{}")).unwrap()
}

// --- which action writes which event ---------------------------------------

#[actix_web::test]
async fn logins_write_their_events_with_who_and_from_where() {
    let app = spawn_with(|a| a.trusted_proxies = "127.0.0.1".into()).await;
    let alice = app.add_user("alice", &[]);
    let res = app
        .client
        .post(format!("{}/auth/login", app.url))
        .insert_header(("User-Agent", "Firefox/140"))
        .insert_header(("X-Forwarded-For", "192.0.2.10"))
        .send_json(&json!({ "username": "alice", "password": PASSWORD }))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let ok = stored_of_kind(app.db(), "login_ok");
    assert_eq!(ok.len(), 1);
    assert_eq!(ok[0].user_id.as_deref(), Some(alice.id.as_str()));
    assert_eq!(ok[0].username.as_deref(), Some("alice"));
    assert_eq!(ok[0].client_addr.as_deref(), Some("192.0.2.10"));
    assert_eq!(ok[0].user_agent.as_deref(), Some("Firefox/140"));
    assert!(ok[0].session_id.is_some());
    assert_eq!(detail(&ok[0])["amr"], "pwd");

    let res = app
        .login_from("alice", "wrong password", "192.0.2.11", None)
        .await;
    assert_eq!(res.status(), 401);
    let failed = stored_of_kind(app.db(), "login_failed");
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].user_id.as_deref(), Some(alice.id.as_str()));
    assert_eq!(failed[0].client_addr.as_deref(), Some("192.0.2.11"));
    assert!(failed[0].session_id.is_none());

    // four more failures fill alice's bucket; the next is throttled
    for _ in 0..4 {
        app.login_from("alice", "wrong password", "192.0.2.11", None)
            .await;
    }
    let res = app
        .login_from("alice", "wrong password", "192.0.2.11", None)
        .await;
    assert_eq!(res.status(), 429);
    let throttled = stored_of_kind(app.db(), "login_throttled");
    assert_eq!(throttled.len(), 1);
    assert_eq!(throttled[0].username.as_deref(), Some("alice"));
    assert_eq!(stored_of_kind(app.db(), "login_failed").len(), 5);
    assert_eq!(stored_of_kind(app.db(), "login_ok").len(), 1, "no login");
}

#[actix_web::test]
async fn account_changes_write_their_events_and_refused_ones_write_none() {
    let app = spawn_with(|a| a.allow_registration = "true".into()).await;
    let root = app.logged_in("root", &[Role::Admin]).await;
    let res = app
        .post_json(
            "/auth/register",
            &json!({ "username": "bob", "password": PASSWORD }),
        )
        .await;
    assert_eq!(res.status(), 201);
    let bob = app.login("bob").await;
    let bob_id = bob.user_id();
    let admin = |method: &'static str, path: String, body: Option<Value>| {
        let (app, root) = (&app, &root);
        async move {
            match body {
                Some(body) => app.call_json(method, &path, &root.access, &body).await,
                None => app.call(method, &path, &root.access).await,
            }
            .status()
        }
    };
    let roles = format!("/auth/admin/users/{bob_id}/roles");
    let editor = json!({ "roles": ["user", "editor"] });
    assert_eq!(admin("PUT", roles.clone(), Some(editor)).await, 200);
    let bad = json!({ "roles": ["wizard"] });
    assert_eq!(admin("PUT", roles, Some(bad)).await, 400);
    let disable = format!("/auth/admin/users/{bob_id}/disable");
    assert_eq!(admin("POST", disable, None).await, 204);
    let enable = format!("/auth/admin/users/{bob_id}/enable");
    assert_eq!(admin("POST", enable, None).await, 204);
    // an admin may not disable themselves: refused, nothing written
    let root_id = root.user_id();
    let own = format!("/auth/admin/users/{root_id}/disable");
    assert_ne!(admin("POST", own, None).await, 204);

    let bob = app.login("bob").await;
    let _elsewhere = app.login("bob").await;
    let wrong = json!({ "current_password": "not it", "new_password": "a new password" });
    let res = app
        .call_json("POST", "/auth/password", &bob.access, &wrong)
        .await;
    assert_eq!(res.status(), 401);
    let right = json!({ "current_password": PASSWORD, "new_password": "a new password" });
    let res = app
        .call_json("POST", "/auth/password", &bob.access, &right)
        .await;
    assert_eq!(res.status(), 204);

    let of = |kind| stored_of_kind(app.db(), kind);
    assert_eq!(of("user_created").len(), 1);
    assert_eq!(of("user_created")[0].username.as_deref(), Some("bob"));
    let changed = of("roles_changed");
    assert_eq!(changed.len(), 1, "the refused change wrote nothing");
    assert_eq!(changed[0].user_id.as_deref(), Some(bob_id.as_str()));
    assert_eq!(changed[0].actor.as_deref(), Some("root"));
    assert_eq!(detail(&changed[0])["roles"], "user,editor");
    assert_eq!(of("user_disabled").len(), 1, "root's own refused: none");
    assert_eq!(of("user_disabled")[0].actor.as_deref(), Some("root"));
    assert_eq!(of("user_enabled").len(), 1);
    assert_eq!(of("password_changed").len(), 1, "the wrong one wrote none");
    // disabling ended bob's first session, the password change his second
    let reasons: Vec<_> = of("session_ended")
        .into_iter()
        .map(|e| e.reason.unwrap())
        .collect();
    assert_eq!(reasons, ["user_disabled", "password_changed"]);
}

#[actix_web::test]
async fn second_factors_write_their_events() {
    let app = spawn_with_factors(|_| {}).await;
    let alice = app.logged_in("alice", &[]).await;
    let other = app.login("alice").await;
    let enrolled = app.enrol_totp(&alice).await;
    let added = stored_of_kind(app.db(), "factor_added");
    assert_eq!(added.len(), 1);
    assert_eq!(detail(&added[0])["factor"], "totp");
    // the other session ended for it
    assert_ended(
        &app,
        &other.refresh,
        "invalid_refresh_token",
        "factors_changed",
    )
    .await;

    let (token, _) = app.first_step("alice").await;
    let res = app.second_step(&token, json!({ "totp": "000000" })).await;
    assert_eq!(res.status(), 401);
    let session = app.login_with_totp("alice", &enrolled.secret).await;
    let failed = stored_of_kind(app.db(), "second_factor_failed");
    assert_eq!(failed.len(), 1);
    let ok = stored_of_kind(app.db(), "second_factor_ok");
    assert_eq!(ok.len(), 1);
    assert_eq!(detail(&ok[0])["method"], "otp");
    assert_eq!(ok[0].session_id.as_deref(), Some(session.sid().as_str()));
    let logins = stored_of_kind(app.db(), "login_ok");
    assert_eq!(detail(logins.last().unwrap())["amr"], "pwd,otp,mfa");

    app.advance(400.0);
    let step = json!({ "password": PASSWORD });
    let mut res = app
        .call_json("POST", "/auth/step-up", &session.access, &step)
        .await;
    assert_eq!(res.status(), 200);
    let stepped: Value = res.json().await.unwrap();
    let access = stepped["access_token"].as_str().unwrap();
    assert_eq!(stored_of_kind(app.db(), "stepped_up").len(), 1);
    let res = app.call("DELETE", "/auth/mfa/totp", access).await;
    assert_eq!(res.status(), 204);
    assert_eq!(stored_of_kind(app.db(), "factor_removed").len(), 1);
}

#[actix_web::test]
async fn an_event_and_its_change_commit_together_or_not_at_all() {
    let app = spawn_app().await;
    let root = app.logged_in("root", &[Role::Admin]).await;
    let bob = app.logged_in("bob", &[]).await;
    app.fail_storing("user_disabled");
    app.fail_storing("logout");

    let res = app
        .call(
            "POST",
            &format!("/auth/admin/users/{}/disable", bob.user_id()),
            &root.access,
        )
        .await;
    assert_eq!(res.status(), 500);
    assert!(!app.user(&bob.user_id()).disabled, "bob is not disabled");
    assert!(
        revoked_at(app.db(), &bob.sid()).is_none(),
        "nor his session"
    );
    assert!(stored_of_kind(app.db(), "session_ended").is_empty());

    let res = app.logout(&bob.refresh).await;
    assert_eq!(res.status(), 500);
    assert!(revoked_at(app.db(), &bob.sid()).is_none(), "still live");
    assert_eq!(app.refresh(&bob.refresh).await.status(), 200);
}

// --- reading them ----------------------------------------------------------

#[actix_web::test]
async fn a_user_sees_only_their_own_activity_and_only_admins_see_all() {
    let app = spawn_app().await;
    let alice = app.logged_in("alice", &[]).await;
    let bob = app.logged_in("bob", &[]).await;
    app.login_raw("bob", "wrong password").await;
    app.login_raw("nobody", "wrong password").await;

    let mine = app.activity(&alice.access).await;
    assert_eq!(mine.len(), 1, "{mine:?}");
    assert_eq!(mine[0]["kind"], "login_ok");
    assert_eq!(mine[0]["user_id"], alice.user_id());
    assert_eq!(mine[0]["client_addr"], "127.0.0.1");
    assert!(mine[0]["at"].as_str().unwrap().ends_with('Z'));
    let bobs = app.activity(&bob.access).await;
    let kinds: Vec<_> = bobs.iter().map(|e| e["kind"].clone()).collect();
    assert_eq!(kinds, ["login_failed", "login_ok"], "newest first");

    let res = app.admin_events(&alice.access, "").await;
    assert_error(res, 403, "forbidden").await;
    let res = app.get("/auth/activity").await;
    assert_error(res, 401, "invalid_token").await;
    let res = app.get("/auth/admin/events").await;
    assert_error(res, 401, "invalid_token").await;

    let root = app.logged_in("root", &[Role::Admin]).await;
    let mut res = app.admin_events(&root.access, "").await;
    assert_eq!(res.status(), 200);
    let all: Value = res.json().await.unwrap();
    assert_eq!(all["events"].as_array().unwrap().len(), 5);
    assert_eq!(all["next"], Value::Null);
    let query = format!("user={}&kind=login_failed", bob.user_id());
    let mut res = app.admin_events(&root.access, &query).await;
    let bobs: Value = res.json().await.unwrap();
    assert_eq!(bobs["events"].as_array().unwrap().len(), 1);
    for bad in [
        "kind=nope",
        "limit=0",
        "limit=101",
        "before=x",
        "colour=red",
    ] {
        let res = app.admin_events(&root.access, bad).await;
        assert_error(res, 400, "invalid_input").await;
    }
}

#[actix_web::test]
async fn pages_neither_repeat_nor_skip_while_new_events_arrive() {
    let app = spawn_app().await;
    let root = app.logged_in("root", &[Role::Admin]).await;
    for _ in 0..6 {
        app.login("root").await;
    }
    let before: HashSet<i64> = stored_events(app.db()).iter().map(|e| e.id).collect();
    assert_eq!(before.len(), 7);
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let query = match &cursor {
            Some(c) => format!("limit=2&before={c}"),
            None => "limit=2".to_owned(),
        };
        let mut res = app.admin_events(&root.access, &query).await;
        let page: Value = res.json().await.unwrap();
        seen.extend(
            page["events"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["id"].as_i64().unwrap()),
        );
        // more events between the pages
        app.login("root").await;
        match page["next"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    let unique: HashSet<i64> = seen.iter().copied().collect();
    assert_eq!(unique.len(), seen.len(), "no event twice: {seen:?}");
    assert_eq!(
        unique, before,
        "every event that was there, and no newer one"
    );
    let mut newest_first = seen.clone();
    newest_first.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(seen, newest_first);
}

#[actix_web::test]
async fn the_retention_purge_removes_old_events_only() {
    let app = spawn_app().await;
    app.logged_in("alice", &[]).await;
    app.advance(60.0 * 86_400.0);
    app.login("alice").await;
    let now = app.clock.now();
    let services = Services::standalone(app.db(), None, now).unwrap();
    let later = now + ChronoDuration::days(31);
    let purged = services.purge(later).await.unwrap();
    assert_eq!(purged.events, 1, "the one from 91 days before");
    let left = stored_events(app.db());
    assert_eq!(left.len(), 1);
    assert!(left[0].at > (now - ChronoDuration::days(1)).naive_utc());
    assert_eq!(services.purge(later).await.unwrap().events, 0);
}

// --- why a session ended ---------------------------------------------------

#[actix_web::test]
async fn a_logout_and_a_logout_everywhere_say_so() {
    let app = spawn_app().await;
    let one = app.logged_in("alice", &[]).await;
    let two = app.login("alice").await;
    assert_eq!(app.logout(&one.refresh).await.status(), 204);
    assert_ended(&app, &one.refresh, "invalid_refresh_token", "logout").await;
    let res = app.call("POST", "/auth/logout-all", &two.access).await;
    assert_eq!(res.status(), 204);
    assert_ended(&app, &two.refresh, "invalid_refresh_token", "logout_all").await;
}

#[actix_web::test]
async fn a_session_ended_from_another_says_ended_elsewhere() {
    let app = spawn_app().await;
    let laptop = app.logged_in("alice", &[]).await;
    let phone = app.login("alice").await;
    let res = app
        .call(
            "DELETE",
            &format!("/auth/sessions/{}", phone.sid()),
            &laptop.access,
        )
        .await;
    assert_eq!(res.status(), 204);
    assert_ended(
        &app,
        &phone.refresh,
        "invalid_refresh_token",
        "ended_elsewhere",
    )
    .await;
    let own = format!("/auth/sessions/{}", laptop.sid());
    assert_eq!(app.call("DELETE", &own, &laptop.access).await.status(), 204);
    assert_ended(&app, &laptop.refresh, "invalid_refresh_token", "logout").await;
}

#[actix_web::test]
async fn an_admin_ending_sessions_or_disabling_says_which() {
    let app = spawn_app().await;
    let root = app.logged_in("root", &[Role::Admin]).await;
    let bob = app.logged_in("bob", &[]).await;
    let path = format!("/auth/admin/users/{}/sessions", bob.user_id());
    assert_eq!(app.call("DELETE", &path, &root.access).await.status(), 204);
    assert_ended(&app, &bob.refresh, "invalid_refresh_token", "admin").await;
    let bob = app.login("bob").await;
    let path = format!("/auth/admin/users/{}/disable", bob.user_id());
    assert_eq!(app.call("POST", &path, &root.access).await.status(), 204);
    assert_ended(&app, &bob.refresh, "invalid_refresh_token", "user_disabled").await;
}

#[actix_web::test]
async fn a_password_change_says_password_changed() {
    let app = spawn_app().await;
    let here = app.logged_in("alice", &[]).await;
    let there = app.login("alice").await;
    let body = json!({ "current_password": PASSWORD, "new_password": "a new password" });
    let res = app
        .call_json("POST", "/auth/password", &here.access, &body)
        .await;
    assert_eq!(res.status(), 204);
    assert_ended(
        &app,
        &there.refresh,
        "invalid_refresh_token",
        "password_changed",
    )
    .await;
}

#[actix_web::test]
async fn an_expired_and_an_idle_session_say_which() {
    let app = spawn_with(|a| {
        a.session_ttl = "1000".into();
        a.session_idle_ttl = "100".into();
    })
    .await;
    let idle = app.logged_in("alice", &[]).await;
    let mut busy = app.login("alice").await;
    let mut refreshes = 0;
    loop {
        app.advance(90.0);
        let mut res = app.refresh(&busy.refresh).await;
        if res.status() != 200 {
            break;
        }
        busy = Session::read(&mut res).await;
        refreshes += 1;
        if refreshes == 2 {
            // unused for 180 s
            assert_ended(&app, &idle.refresh, "session_expired", "idle").await;
        }
    }
    assert_eq!(refreshes, 11, "used every 90 s, it lives its 1000 s");
    assert_ended(&app, &busy.refresh, "session_expired", "expired").await;
    // presented again, an ended session still says why
    assert_ended(&app, &idle.refresh, "session_expired", "idle").await;
}

#[actix_web::test]
async fn a_reuse_says_whether_the_successor_was_used() {
    let app = spawn_with(|a| a.refresh_grace = "0".into()).await;
    // the client never saved the successor
    let lost = app.logged_in("alice", &[]).await;
    assert_eq!(app.refresh(&lost.refresh).await.status(), 200);
    app.advance(0.05);
    let body = refused_refresh(&app, &lost.refresh).await;
    assert_eq!(body["error"], "refresh_token_reused");
    assert_eq!(body["reason"], "reuse_detected");
    assert_eq!(body["cause"], "successor_unused");

    // someone else holds a newer token
    let stolen = app.login("alice").await;
    let mut res = app.refresh(&stolen.refresh).await;
    let next = Session::read(&mut res).await;
    app.advance(0.05);
    assert_eq!(app.refresh(&next.refresh).await.status(), 200);
    app.advance(0.05);
    let body = refused_refresh(&app, &stolen.refresh).await;
    assert_eq!(body["cause"], "successor_used");
    // after that, the session's tokens say it ended for reuse
    assert_ended(
        &app,
        &next.refresh,
        "invalid_refresh_token",
        "reuse_detected",
    )
    .await;

    let reused = stored_of_kind(app.db(), "refresh_token_reused");
    let causes: Vec<_> = reused.iter().map(|e| detail(e)["cause"].clone()).collect();
    assert_eq!(causes, ["successor_unused", "successor_used"]);
    assert_eq!(detail(&reused[1])["same_addr"], "true");
    assert_eq!(reused[1].reason.as_deref(), Some("reuse_detected"));
    let mut res = app.get("/metrics").await;
    let text = String::from_utf8(res.body().await.unwrap().to_vec()).unwrap();
    assert!(text.contains(r#"portcullis_refresh_reuse_total{cause="successor_unused"} 1"#));
    assert!(text.contains(r#"portcullis_refresh_reuse_total{cause="successor_used"} 1"#));
    assert!(text.contains(r#"portcullis_events_written_total{kind="refresh_token_reused"} 2"#));
}

// --- device cookies ----------------------------------------------------------

/// 50 wrong passwords for `name`, each from an address of its own.
async fn strangers_guess(app: &TestApp, name: &str) {
    for i in 0..50 {
        let addr = format!("203.0.113.{}", i + 1);
        let status = app.login_from(name, "a guess", &addr, None).await.status();
        assert!(status == 401 || status == 429, "{status}");
    }
}

#[actix_web::test]
async fn strangers_guessing_do_not_lock_out_the_owners_known_browser() {
    let app = spawn_with(|a| a.trusted_proxies = "127.0.0.1".into()).await;
    app.add_user("alice", &[]);
    let res = app
        .login_from("alice", PASSWORD, "198.51.100.7", None)
        .await;
    let cookie = set_cookie(&res, DEVICE).unwrap();
    assert_eq!(cookie.http_only(), Some(true));
    assert_eq!(
        cookie.same_site(),
        Some(actix_web::cookie::SameSite::Strict)
    );
    assert_eq!(cookie.path(), Some("/auth"));
    assert_eq!(
        cookie.max_age().map(|a| a.whole_seconds()),
        Some(365 * 86_400)
    );
    let device = cookie.value().to_owned();

    strangers_guess(&app, "alice").await;
    // a new browser is throttled
    let res = app
        .login_from("alice", PASSWORD, "198.51.100.8", None)
        .await;
    assert_throttled(res).await;
    // alice's own browser gets in at once, and again
    let res = app
        .login_from("alice", PASSWORD, "198.51.100.7", Some(&device))
        .await;
    assert_eq!(res.status(), 200);
    let renewed = set_cookie(&res, DEVICE).unwrap().value().to_owned();
    let res = app
        .login_from("alice", PASSWORD, "198.51.100.9", Some(&renewed))
        .await;
    assert_eq!(res.status(), 200, "from any address");
    // guesses with the device cookie are bounded by its own bucket
    for _ in 0..5 {
        let res = app
            .login_from("alice", "a guess", "198.51.100.7", Some(&renewed))
            .await;
        assert_eq!(res.status(), 401);
    }
    let res = app
        .login_from("alice", PASSWORD, "198.51.100.7", Some(&renewed))
        .await;
    assert_throttled(res).await;
}

#[actix_web::test]
async fn a_forged_foreign_or_expired_device_cookie_gives_no_exemption() {
    let app = spawn_with(|a| a.trusted_proxies = "127.0.0.1".into()).await;
    app.add_user("alice", &[]);
    app.add_user("bob", &[]);
    let old = app.device_of("alice", "198.51.100.7").await;
    app.advance(366.0 * 86_400.0);
    let alices = app.device_of("alice", "198.51.100.7").await;
    let bobs = app.device_of("bob", "198.51.100.8").await;
    let (head, mac) = alices.rsplit_once('.').unwrap();
    let flipped = if mac.starts_with('A') { "B" } else { "A" };
    let forged = format!("{head}.{flipped}{}", &mac[1..]);

    strangers_guess(&app, "alice").await;
    for (what, cookie) in [
        ("forged", forged.as_str()),
        ("bob's", bobs.as_str()),
        ("a year old", old.as_str()),
        ("junk", "v1.x.y.z"),
    ] {
        let res = app
            .login_from("alice", PASSWORD, "198.51.100.7", Some(cookie))
            .await;
        assert_eq!(res.status(), 429, "{what} device cookie");
    }
    let res = app
        .login_from("alice", PASSWORD, "198.51.100.7", Some(&alices))
        .await;
    assert_eq!(res.status(), 200, "the real one still works");
}

// --- what is never kept ------------------------------------------------------

#[actix_web::test]
async fn a_password_typed_as_the_username_reaches_neither_log_nor_events() {
    let dir = tempfile::tempdir().unwrap();
    let db_url = dir.path().join("p.db").display().to_string();
    let (served, url) = serve(&[("DATABASE_URL", db_url.as_str())]);
    cli_add_user(&db_url, "alice");
    // one that could be a username, one that could not
    let typed = ["Tr0ub4dor.3-secret", "correct horse battery staple!"];
    for password in typed {
        let res = login_at(&url, password, "whatever").await;
        assert_eq!(res.status(), 401);
    }
    let res = login_at(&url, "alice", "wrong password").await;
    assert_eq!(res.status(), 401);
    served.signal("TERM");
    let exit = served.wait(Duration::from_secs(30));
    let failed: Vec<&String> = exit
        .lines
        .iter()
        .filter(|l| l.contains("login failed"))
        .collect();
    assert_eq!(failed.len(), 3, "{:?}", exit.lines);
    assert!(failed[2].contains("username=alice"), "{}", failed[2]);
    for password in typed {
        for line in &exit.lines {
            assert!(!line.contains(password), "logged: {line}");
        }
    }
    assert!(failed[0].contains("username_unknown="), "{}", failed[0]);
    assert_ne!(
        failed[0].split("username_unknown=").nth(1),
        failed[1].split("username_unknown=").nth(1),
        "two names, two tags"
    );
    let db = open_db(&db_url);
    let stored = format!("{:?}", stored_events(&db));
    for password in typed {
        assert!(!stored.contains(password), "stored: {stored}");
    }
    assert_eq!(stored_of_kind(&db, "login_failed").len(), 3);
}

#[actix_web::test]
async fn the_events_command_prints_them_and_follows_new_ones() {
    let app = spawn_app().await;
    app.logged_in("alice", &[]).await;
    app.logged_in("bob", &[]).await;
    let out = cli(
        &app.database_url,
        &["events", "--json", "--user", "alice"],
        "",
    );
    assert_success(&out, "events --json");
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["kind"], "login_ok");
    assert_eq!(lines[0]["username"], "alice");
    let out = cli(&app.database_url, &["events", "--user", "nobody"], "");
    assert_eq!(out.status.code(), Some(1));

    let mut follow = portcullis();
    follow
        .args(["events", "--follow"])
        .env("DATABASE_URL", &app.database_url);
    let mut process = Process::spawn(follow, Stream::Stdout);
    process.wait_for_line(|l| l.contains("login_ok") && l.contains("bob"));
    app.login_raw("carol", "wrong password").await;
    let seen = process.wait_for_line(|l| l.contains("login_failed"));
    let last = seen.last().unwrap();
    assert!(last.contains("username_unknown="), "{last}");
    assert!(!last.contains("carol"), "{last}");
}
