//! Security events and end reasons in the SPA (contract §12), in real
//! Chromium: the Activity list of the Security view (what, when, from
//! where, which browser, "Show older"), the admin's Events view (filtered
//! by user and kind, a page at a time; offered to admins only), and the
//! sentence an open tab shows when its session ends elsewhere, for each
//! way it can end.

use std::time::Duration;

use portcullis::auth::Role;
use serde_json::json;

use crate::support::browser::{Browser, Is, WAIT, fixture};
use crate::support::*;

const FIREFOX: &str =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0";

/// How long an open tab may take to notice its session ended: the
/// revocation reaches the token check within 2 s, the watch asks every 3 s.
const NOTICE: Duration = Duration::from_secs(8);

/// A login as `name` from a Firefox on Windows at `addr` (the gateway must
/// trust loopback as a proxy): the answer.
async fn login_from_firefox(app: &TestApp, name: &str, password: &str, addr: &str) -> u16 {
    let res = app
        .client
        .post(format!("{}/auth/login", app.url))
        .insert_header(("User-Agent", FIREFOX))
        .insert_header(("X-Forwarded-For", addr))
        .send_json(&json!({ "username": name, "password": password }))
        .await
        .unwrap();
    res.status().as_u16()
}

/// Waits until the open tab is signed out and its login screen says `sentence`.
async fn assert_told(browser: &Browser, sentence: &str) {
    browser.wait_state_within("logged-out", NOTICE).await;
    browser
        .wait_for("#login-message", Is::Text(sentence), WAIT)
        .await;
    browser
        .wait_for("#login-message", Is::Text("Please sign in again."), WAIT)
        .await;
}

#[actix_web::test]
async fn the_activity_list_shows_each_login_with_its_browser_and_address() {
    let Some((browser, app)) = fixture(|a| a.trusted_proxies = "127.0.0.1".into()).await else {
        return;
    };
    app.add_user("alice", &[]);
    app.add_user("bob", &[]);
    assert_eq!(
        login_from_firefox(&app, "alice", PASSWORD, "203.0.113.7").await,
        200
    );
    assert_eq!(
        login_from_firefox(&app, "alice", "not her password", "198.51.100.23").await,
        401
    );
    // bob's doings are not alice's activity
    assert_eq!(
        login_from_firefox(&app, "bob", PASSWORD, "192.0.2.1").await,
        200
    );

    browser.log_in(&app, "alice").await;
    browser.open_view("#nav-security", "/security").await;
    browser.wait_for_activity(3).await;
    let items = browser.texts("#activity-list .activity-item").await;
    assert_eq!(items.len(), 3, "{items:?}");
    // newest first: this browser's login, the failed guess, the Firefox login
    for (item, what, browser_name, address) in [
        (
            &items[0],
            "Signed in with password",
            "Chrome on Linux",
            "127.0.0.1",
        ),
        (
            &items[1],
            "Sign-in failed",
            "Firefox on Windows",
            "198.51.100.23",
        ),
        (
            &items[2],
            "Signed in with password",
            "Firefox on Windows",
            "203.0.113.7",
        ),
    ] {
        assert!(item.starts_with(what), "{item:?}");
        assert!(item.contains(&format!("with {browser_name}")), "{item:?}");
        assert!(item.contains(&format!("from {address}")), "{item:?}");
        assert!(item.contains("just now"), "{item:?}");
    }
    assert!(!items.iter().any(|i| i.contains("192.0.2.1")), "{items:?}");
    assert!(!browser.is_shown("#activity-older").await, "all on show");
    browser.assert_no_error_shown().await;
}

#[actix_web::test]
async fn the_activity_list_shows_older_events_a_page_at_a_time() {
    let Some((browser, app)) = fixture(|_| {}).await else {
        return;
    };
    app.add_user("alice", &[]);
    // 24 changes of role by the command line, then a login: 25 events
    for i in 0..24 {
        let roles: &[Role] = if i % 2 == 0 { &[Role::Editor] } else { &[] };
        app.set_roles("alice", roles).await;
    }
    browser.log_in(&app, "alice").await;
    browser.open_view("#nav-security", "/security").await;
    browser.wait_for_activity(20).await;
    let first = browser.texts("#activity-list .activity-item .what").await;
    assert_eq!(first[0], "Signed in with password");
    assert_eq!(first[1], "Roles changed (roles: user)");
    assert_eq!(first[2], "Roles changed (roles: user, editor)");

    browser.click("#activity-older").await;
    browser.wait_for_activity(25).await;
    assert!(
        !browser.is_shown("#activity-older").await,
        "no more to show"
    );
    let all = browser.texts("#activity-list .activity-item .what").await;
    assert_eq!(all[..20], first[..], "older ones come after, nothing moves");
    assert_eq!(all[24], "Roles changed (roles: user, editor)");
}

#[actix_web::test]
async fn an_admin_filters_the_events_by_user_and_kind_a_page_at_a_time() {
    let Some((browser, app)) = fixture(|a| a.trusted_proxies = "127.0.0.1".into()).await else {
        return;
    };
    app.add_user("root", &[Role::Admin]);
    let bob = app.add_user("bob", &[]);
    app.add_user("carol", &[]);
    assert_eq!(
        login_from_firefox(&app, "bob", "a guess", "198.51.100.23").await,
        401
    );
    assert_eq!(
        login_from_firefox(&app, "carol", PASSWORD, "203.0.113.7").await,
        200
    );
    // 30 of bob's events more: more than one page
    for i in 0..30 {
        let roles: &[Role] = if i % 2 == 0 { &[Role::Editor] } else { &[] };
        app.set_roles("bob", roles).await;
    }

    browser.log_in(&app, "root").await;
    browser.open_view("#nav-events", "/admin/events").await;
    browser.wait_for_events_load(1).await;
    let rows = browser.texts("#events tbody tr").await;
    assert_eq!(rows.len(), 25, "one page: {rows:?}");
    assert!(rows[0].contains("root"), "newest first: {rows:?}");
    assert!(browser.is_shown("#events-older").await);

    // bob's failed login, by kind
    browser.choose("#event-kind", "login_failed").await;
    browser.wait_for_events_load(2).await;
    let rows = browser.texts("#events tbody tr").await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    for fact in [
        "bob",
        "Sign-in failed",
        "198.51.100.23",
        "Firefox on Windows",
    ] {
        assert!(rows[0].contains(fact), "{fact}: {rows:?}");
    }
    assert!(!browser.is_shown("#events-older").await);

    // every event of bob's, two pages: none twice, none missing
    browser.choose("#event-kind", "").await;
    browser.wait_for_events_load(3).await;
    browser.choose("#event-user", &bob.id).await;
    browser.wait_for_events_load(4).await;
    assert_eq!(browser.count_shown("#events tbody tr").await, 25);
    browser.click("#events-older").await;
    browser.wait_for_events_load(5).await;
    assert!(!browser.is_shown("#events-older").await, "the last page");
    let rows = browser.texts("#events tbody tr").await;
    // the failed login and 30 role changes
    assert_eq!(rows.len(), 31, "{rows:?}");
    assert!(rows.iter().all(|r| r.contains("bob")), "{rows:?}");
    assert!(rows.iter().all(|r| !r.contains("carol")), "{rows:?}");
    assert_eq!(
        rows.iter().filter(|r| r.contains("Roles changed")).count(),
        30
    );
    let ids = browser
        .js(
            "return [...document.querySelectorAll('#events tbody tr')].map((tr) => Number(tr.dataset.id))",
            vec![],
        )
        .await;
    let ids: Vec<i64> = serde_json::from_value(ids).unwrap();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");
    browser.assert_no_error_shown().await;
}

#[actix_web::test]
async fn a_non_admin_never_sees_the_events_view_and_the_api_refuses_them_anyway() {
    let Some((browser, app)) = fixture(|_| {}).await else {
        return;
    };
    app.add_user("carol", &[Role::Editor]);
    browser.log_in(&app, "carol").await;
    assert!(browser.is_shown("#nav-security").await);
    browser
        .assert_admin_view_closed(&app, "events", "/admin/events")
        .await;
}

#[actix_web::test]
async fn signing_out_everywhere_on_another_device_is_told_in_every_open_tab() {
    let Some((browser, app)) = fixture(|_| {}).await else {
        return;
    };
    app.add_user("alice", &[]);
    browser.log_in(&app, "alice").await;
    let first = browser.client.window().await.unwrap();
    browser.open_tab(&app.url).await;
    browser.wait_signed_in("alice").await;

    let phone = app.login("alice").await;
    let res = app.call("POST", "/auth/logout-all", &phone.access).await;
    assert_eq!(res.status(), 204);
    let sentence = "You signed out on another device and chose to sign out everywhere.";
    assert_told(&browser, sentence).await;
    // the tab that did not ask the gateway heard it from the one that did
    browser.switch_to(&first).await;
    assert_told(&browser, sentence).await;
}

#[actix_web::test]
async fn a_password_changed_on_another_device_is_told_in_the_open_tab() {
    let Some((browser, app)) = fixture(|_| {}).await else {
        return;
    };
    app.add_user("alice", &[]);
    browser.log_in(&app, "alice").await;
    let phone = app.login("alice").await;
    let body = json!({ "current_password": PASSWORD, "new_password": "a much better passphrase" });
    let res = app
        .call_json("POST", "/auth/password", &phone.access, &body)
        .await;
    assert_eq!(res.status(), 204);
    assert_told(
        &browser,
        "Your password was changed, so we signed you out here.",
    )
    .await;
}

#[actix_web::test]
async fn a_second_factor_added_on_another_device_is_told_in_the_open_tab() {
    let Some((browser, app)) = fixture(with_encryption_key).await else {
        return;
    };
    app.add_user("alice", &[]);
    browser.log_in(&app, "alice").await;
    let phone = app.login("alice").await;
    app.enrol_totp(&phone).await;
    assert_told(
        &browser,
        "Your second factor was changed, so we signed you out here.",
    )
    .await;
}

#[actix_web::test]
async fn an_admin_ending_the_sessions_or_disabling_the_account_is_told_in_the_open_tab() {
    let Some((browser, app)) = fixture(|_| {}).await else {
        return;
    };
    let root = app.logged_in("root", &[Role::Admin]).await;
    let alice = app.add_user("alice", &[]);
    let user = format!("/auth/admin/users/{}", alice.id);

    browser.log_in(&app, "alice").await;
    let res = app
        .call("DELETE", &format!("{user}/sessions"), &root.access)
        .await;
    assert_eq!(res.status(), 204);
    assert_told(&browser, "An administrator ended your sessions.").await;

    browser.log_in(&app, "alice").await;
    let res = app
        .call("POST", &format!("{user}/disable"), &root.access)
        .await;
    assert_eq!(res.status(), 204);
    assert_told(&browser, "An administrator disabled your account.").await;
}

#[actix_web::test]
async fn a_replayed_refresh_token_is_told_in_the_open_tab() {
    let Some((browser, app)) = fixture(|a| a.refresh_grace = "0".into()).await else {
        return;
    };
    app.add_user("alice", &[]);
    browser.log_in(&app, "alice").await;
    let copied = browser.refresh_cookie(&app).await;
    // the tab renews its token; the copy is now a spent one
    browser.goto(&app.url).await;
    browser.wait_signed_in("alice").await;
    assert_ne!(browser.refresh_cookie(&app).await, copied);
    browser.goto(&app.url).await;
    browser.wait_signed_in("alice").await;

    // someone presents the copy: the gateway ends the session
    let mut res = app.refresh(&copied).await;
    assert_eq!(error_code(&mut res).await, "refresh_token_reused");
    assert_told(
        &browser,
        "Your session was used from somewhere else, so we ended it to protect you.",
    )
    .await;
}

#[actix_web::test]
async fn an_expired_or_idle_session_is_told_in_the_open_tab() {
    // the gateway's clock moves; a short access token makes the tab ask
    let Some((browser, app)) = fixture(|a| {
        a.access_ttl = "60".into();
        a.session_idle_ttl = "600".into();
        a.session_ttl = "1000".into();
    })
    .await
    else {
        return;
    };
    app.add_user("alice", &[]);

    browser.log_in(&app, "alice").await;
    let before = browser.refresh_count().await;
    app.advance(500.0); // used again within the idle time: renewed
    browser
        .wait_for(
            "#last-refresh",
            Is::AttrAtLeast("data-count", before + 1),
            NOTICE,
        )
        .await;
    assert_eq!(browser.state().await, "logged-in");
    app.advance(550.0); // past the session's lifetime
    assert_told(&browser, "Your session reached its time limit.").await;

    browser.log_in(&app, "alice").await;
    app.advance(700.0); // unused past the idle time
    assert_told(
        &browser,
        "You were signed out because you had not used the app for a while.",
    )
    .await;
}

#[actix_web::test]
async fn a_session_ended_by_itself_elsewhere_in_the_browser_is_told_in_the_open_tab() {
    let Some((browser, app)) = fixture(|_| {}).await else {
        return;
    };
    app.add_user("alice", &[]);
    browser.log_in(&app, "alice").await;
    // another script of this browser, with its own auth client, ends the
    // session it shares with the page (DELETE /auth/sessions/{its own id}):
    // the cookie stays, and the page's next refresh hears `logout`
    let ended = browser
        .with_page_client(
            "const { sessions } = await (await auth.fetchApi('/auth/sessions')).json();
             const own = sessions.find((s) => s.current);
             const res = await auth.fetchApi(`/auth/sessions/${own.id}`, { method: 'DELETE' });
             return res.status;",
            vec![],
        )
        .await;
    assert_eq!(ended, 204);
    assert_told(
        &browser,
        "You signed out of this session in another tab or window.",
    )
    .await;
}
