//! The SPA in a real browser: Debian's Chromium, headless, driven through
//! chromedriver, against the real gateway in front of the employee service.
//!
//! Each test starts its own chromedriver and browser profile
//! ([`crate::support::browser`]). When Chromium or chromedriver is missing
//! the tests say so on stderr and pass, unless `PORTCULLIS_REQUIRE_BROWSER=1`,
//! which turns the skip into a failure.

use std::time::{Duration, Instant};

use portcullis::auth::Role;
use serde_json::{Value, json};

use crate::support::browser::{Browser, Is, WAIT, fixture};
use crate::support::*;

mod events;
mod factors;
mod oidc;
mod passkeys;
mod react;
mod websockets;

#[actix_web::test]
async fn each_role_sees_only_the_controls_it_may_use() {
    let Some((browser, app)) = fixture(|_| {}).await else {
        return;
    };
    app.add_user("alice", &[Role::Admin]);
    app.add_user("bob", &[Role::Editor]);
    app.add_user("carol", &[]);

    for (name, roles, can_edit, can_delete) in [
        ("alice", "user, admin", true, true),
        ("bob", "user, editor", true, false),
        ("carol", "user", false, false),
    ] {
        browser.log_in(&app, name).await;
        assert_eq!(browser.text("#roles").await, roles, "{name}'s roles");
        let rows = browser.count_shown("#employees tbody tr[data-id]").await;
        assert!(rows >= 3, "{name} sees the seeded employees, got {rows}");
        assert_eq!(
            browser.is_shown("#new-employee").await,
            can_edit,
            "{name}: New"
        );
        assert_eq!(
            browser.is_shown("#actions-col").await,
            can_edit || can_delete,
            "{name}: actions column"
        );
        let edits = browser.count_shown("#employees tbody .edit").await;
        assert_eq!(edits, if can_edit { rows } else { 0 }, "{name}: Edit");
        let deletes = browser.count_shown("#employees tbody .delete").await;
        assert_eq!(deletes, if can_delete { rows } else { 0 }, "{name}: Delete");
        browser.log_out().await;
    }

    // carol asks for the create form by URL: it is not offered.
    browser.log_in(&app, "carol").await;
    browser
        .assert_route_falls_back(&app, "/employees/new")
        .await;
    assert!(!browser.is_shown("#employee-form").await);
    assert!(!browser.is_shown("#new-employee").await);
    let rows = browser.count_shown("#employees tbody tr[data-id]").await;

    // carol's own browser session, through the page's auth client, tries to
    // create an employee anyway: the gateway refuses.
    let mallory = json!({ "first_name": "Mallory", "last_name": "M", "email": "m@example.com", "department": "Sales" });
    browser
        .assert_page_fetch_refused(
            "/api/employees",
            json!({
                "method": "POST",
                "headers": { "Content-Type": "application/json" },
                "body": mallory.to_string(),
            }),
        )
        .await;

    // The same through the gateway with carol's token from a plain HTTP client.
    let carol = app.login("carol").await.access;
    let res = app.api_json("POST", "/employees", &carol, &mallory).await;
    assert_eq!(res.status(), 403);
    let mut res = app.api("GET", "/employees", &carol).await;
    let all: Vec<Value> = res.json().await.unwrap();
    assert_eq!(all.len(), rows, "nothing was created");
    assert!(all.iter().all(|e| e["first_name"] != "Mallory"));
}

#[actix_web::test]
async fn the_controls_follow_a_custom_policy_not_the_default_roles() {
    let dir = tempfile::tempdir().unwrap();
    // editors may delete but not create or edit: the reverse of the default
    let file = policy_file(
        dir.path(),
        "[[rule]]\nmethods = [\"GET\"]\npath = \"/\"\nroles = [\"user\"]\n\n\
         [[rule]]\nmethods = [\"DELETE\"]\npath = \"/employees\"\nroles = [\"editor\"]\n\n\
         [[rule]]\nmethods = [\"*\"]\npath = \"/\"\nroles = [\"admin\"]\n",
    );
    let Some((browser, app)) = fixture(|a| a.policy = Some(file.clone())).await else {
        return;
    };
    app.add_user("bob", &[Role::Editor]);
    browser.log_in(&app, "bob").await;
    let rows = browser.count_shown("#employees tbody tr[data-id]").await;
    assert!(rows >= 3, "bob sees the seeded employees, got {rows}");
    assert!(!browser.is_shown("#new-employee").await, "no New for bob");
    assert_eq!(browser.count_shown("#employees tbody .edit").await, 0);
    assert_eq!(
        browser.count_shown("#employees tbody .delete").await,
        rows,
        "the policy lets bob delete"
    );
}

#[actix_web::test]
async fn an_editor_creates_and_edits_an_employee() {
    let Some((browser, app)) = fixture(|_| {}).await else {
        return;
    };
    app.add_user("bob", &[Role::Editor]);
    browser.log_in(&app, "bob").await;

    assert!(
        browser.row("hedy@example.org").await.is_null(),
        "not seeded"
    );
    browser.click("#new-employee").await;
    browser.wait_for("#employee-form", Is::Shown, WAIT).await;
    assert_eq!(browser.path().await, "/employees/new");
    browser.fill("#first_name", "Hedy").await;
    browser.fill("#last_name", "Lamarr").await;
    browser.fill("#email", "not-an-email").await;
    browser.fill("#department", "Research").await;
    browser.click("#save-employee").await;
    // The server's validation message is shown and the form stays open.
    browser.wait_for("#form-error", Is::Shown, WAIT).await;
    assert!(browser.is_shown("#employee-form").await);

    browser.fill("#email", "hedy@example.org").await;
    browser.click("#save-employee").await;
    browser.wait_for("#employee-form", Is::Hidden, WAIT).await;
    let row = browser.wait_for_row("hedy@example.org").await;
    assert_eq!(row["first"], "Hedy");
    assert_eq!(row["last"], "Lamarr");
    assert_eq!(row["department"], "Research");
    assert_eq!(row["updated_by"], "bob");
    assert_eq!(browser.path().await, "/");
    let id = row["id"].as_str().unwrap().to_owned();

    browser
        .click(&format!("#employees tbody tr[data-id=\"{id}\"] .edit"))
        .await;
    browser.wait_for("#employee-form", Is::Shown, WAIT).await;
    assert_eq!(browser.path().await, format!("/employees/{id}"));
    assert_eq!(browser.value("#first_name").await, "Hedy");
    assert_eq!(browser.value("#email").await, "hedy@example.org");
    browser.fill("#department", "Engineering").await;
    browser.fill("#email", "hedy@lamarr.example").await;
    browser.click("#save-employee").await;
    browser.wait_for("#employee-form", Is::Hidden, WAIT).await;
    let row = browser.wait_for_row("hedy@lamarr.example").await;
    assert_eq!(row["id"], id.as_str());
    assert_eq!(row["department"], "Engineering");
    assert_eq!(row["updated_by"], "bob");
    assert!(!browser.text("#status").await.is_empty());
    browser.assert_no_error_shown().await;

    // The employee service agrees.
    let bob = app.login("bob").await.access;
    let mut res = app.api("GET", &format!("/employees/{id}"), &bob).await;
    assert_eq!(res.status(), 200);
    let saved: Value = res.json().await.unwrap();
    assert_eq!(saved["email"], "hedy@lamarr.example");
    assert_eq!(saved["department"], "Engineering");
    assert_eq!(saved["updated_by"], "bob");
}

#[actix_web::test]
async fn no_token_is_kept_where_scripts_or_storage_could_find_it() {
    let Some((browser, app)) = fixture(|_| {}).await else {
        return;
    };
    app.add_user("alice", &[Role::Admin]);
    browser.log_in(&app, "alice").await;
    browser.assert_no_token_stored().await;

    // After a reload the session comes back from the cookie alone.
    browser.reload().await;
    browser.wait_state("logged-in").await;
    browser.wait_for("#whoami", Is::Text("alice"), WAIT).await;
    browser.assert_no_token_stored().await;

    // The refresh cookie is there, but only for /auth and out of scripts' reach.
    browser.goto(&format!("{}/auth/me", app.url)).await;
    let cookies = browser.client.get_all_cookies().await.unwrap();
    let refresh = cookies
        .iter()
        .find(|c| c.name() == COOKIE)
        .unwrap_or_else(|| panic!("no refresh cookie at /auth: {cookies:?}"));
    assert_eq!(refresh.http_only(), Some(true));
    assert_eq!(refresh.path(), Some("/auth"));
    assert_eq!(refresh.secure(), Some(true));
    assert!(!refresh.value().starts_with("eyJ"), "opaque, not a JWT");
    let script_view = browser.js("return document.cookie", vec![]).await;
    assert_eq!(script_view, "", "document.cookie at /auth: {script_view}");
}

#[actix_web::test]
async fn silent_refreshes_keep_a_three_second_token_working() {
    let Some((browser, app)) = fixture(|a| a.access_ttl = "3".into()).await else {
        return;
    };
    app.add_user("bob", &[Role::Editor]);
    browser.log_in(&app, "bob").await;
    let before = browser.refresh_count().await;

    // Time passing is the point here: five token lifetimes.
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(15) {
        actix_web::rt::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(
            browser.state().await,
            "logged-in",
            "logged out after {:?}: {}",
            start.elapsed(),
            browser.describe().await
        );
        browser.assert_no_error_shown().await;
    }
    let after = browser.refresh_count().await;
    assert!(
        after >= before + 4,
        "expected a silent refresh every ~2.4 s, saw {} in 15 s",
        after - before
    );

    // The list still loads with the current token.
    browser.reload_list().await;
    browser.assert_no_error_shown().await;
    assert!(browser.count_shown("#employees tbody tr[data-id]").await >= 3);

    // A reload keeps the user logged in.
    browser.reload().await;
    browser.wait_state("logged-in").await;
    browser.wait_for("#whoami", Is::Text("bob"), WAIT).await;
    browser
        .wait_for("#employees", Is::AttrAtLeast("data-loaded", 1), WAIT)
        .await;
    assert!(browser.count_shown("#employees tbody tr[data-id]").await >= 3);
    browser.assert_no_error_shown().await;
}

#[actix_web::test]
async fn two_tabs_whose_tokens_expire_together_both_stay_logged_in() {
    let Some((browser, app)) = fixture(|a| a.access_ttl = "3".into()).await else {
        return;
    };
    app.add_user("bob", &[Role::Editor]);
    browser.log_in(&app, "bob").await;
    let first = browser.client.window().await.unwrap();
    // The second tab restores the session from the cookie and broadcasts the
    // new token, which the first adopts: both now hold the same token.
    let second = browser.open_tab(&app.url).await;
    browser.wait_state("logged-in").await;
    browser
        .wait_for("#employees", Is::AttrAtLeast("data-loaded", 1), WAIT)
        .await;
    browser.switch_to(&first).await;
    browser
        .wait_for("#last-refresh", Is::AttrAtLeast("data-count", 1), WAIT)
        .await;
    let first_before = browser.refresh_count().await;
    browser.switch_to(&second).await;
    let second_before = browser.refresh_count().await;

    // Time passing is the point: three lifetimes of the shared token.
    actix_web::rt::time::sleep(Duration::from_secs(10)).await;

    for (tab, before) in [(&first, first_before), (&second, second_before)] {
        browser.switch_to(tab).await;
        assert_eq!(
            browser.state().await,
            "logged-in",
            "{}",
            browser.describe().await
        );
        let now = browser.refresh_count().await;
        assert!(
            now >= before + 2,
            "each tab renews or adopts every ~2.4 s: {before} -> {now}"
        );
        browser.reload_list().await;
        browser.assert_no_error_shown().await;
    }
}

#[actix_web::test]
async fn logging_out_in_one_tab_logs_out_the_other() {
    let Some((browser, app)) = fixture(|_| {}).await else {
        return;
    };
    app.add_user("alice", &[Role::Admin]);
    browser.log_in(&app, "alice").await;
    let first = browser.client.window().await.unwrap();
    browser.open_tab(&app.url).await;
    browser.wait_state("logged-in").await;
    browser.wait_for("#whoami", Is::Text("alice"), WAIT).await;

    browser.log_out().await;
    browser
        .wait_for("#login-message", Is::Text("You have signed out."), WAIT)
        .await;

    browser.switch_to(&first).await;
    browser
        .wait_state_within("logged-out", Duration::from_secs(5))
        .await;
    browser
        .wait_for("#login-message", Is::Text("another tab"), WAIT)
        .await;
    assert!(!browser.is_shown("#app-view").await);
    assert_eq!(browser.count_shown("#employees tbody tr").await, 0);

    // The session is over on the server too: a reload stays logged out.
    browser.reload().await;
    browser.wait_state("logged-out").await;
}

#[actix_web::test]
async fn a_stolen_refresh_token_ends_the_session_with_an_explanation() {
    let Some((browser, app)) = fixture(|a| a.refresh_grace = "0".into()).await else {
        return;
    };
    app.add_user("alice", &[Role::Admin]);
    browser.log_in(&app, "alice").await;

    // A thief copies the refresh cookie and rotates it first.
    let stolen = browser.refresh_cookie(&app).await;
    let res = app.refresh(&stolen).await;
    assert_eq!(res.status(), 200);
    let thiefs = refresh_cookie(&res);

    // The victim's page presents the same token again: reuse. The whole
    // session dies and the page says why; the thief has not used the new
    // token yet, which looks like a lost answer, and the words allow both.
    browser.goto(&app.url).await;
    browser.wait_state("logged-out").await;
    browser
        .wait_for(
            "#login-message",
            Is::Text("An old key of your session was used again, perhaps after a lost connection or by someone else, so we ended it to protect you."),
            WAIT,
        )
        .await;
    assert_eq!(
        app.refresh(&thiefs).await.status(),
        401,
        "the thief's token died too"
    );
}

#[actix_web::test]
async fn the_app_works_from_the_keyboard_on_a_phone_width_screen() {
    let Some((browser, app)) = fixture(|_| {}).await else {
        return;
    };
    app.add_user("carol", &[Role::User]);
    browser.client.set_window_size(375, 800).await.unwrap();
    browser.goto(&app.url).await;
    browser.wait_state("logged-out").await;

    // type, Tab to the next field, Enter to submit: no mouse
    const TAB: char = '\u{E004}';
    const ENTER: char = '\u{E007}';
    browser.find("#username").await.click().await.unwrap();
    let focused = browser.client.active_element().await.unwrap();
    focused
        .send_keys(&format!("carol{TAB}{PASSWORD}{ENTER}"))
        .await
        .unwrap();
    browser.wait_state("logged-in").await;
    browser
        .wait_for("#employees", Is::AttrAtLeast("data-loaded", 1), WAIT)
        .await;

    // every control has an accessible name, and nothing overflows the page
    let unlabelled = browser
        .js(
            "return [...document.querySelectorAll('input, select, textarea')]
                .filter(e => !e.labels?.length && !e.getAttribute('aria-label'))
                .map(e => e.id || e.name)",
            vec![],
        )
        .await;
    assert_eq!(unlabelled, json!([]), "unlabelled controls");
    let overflow = browser
        .js(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth",
            vec![],
        )
        .await;
    assert!(
        overflow.as_i64().unwrap() <= 0,
        "the page scrolls sideways by {overflow}px"
    );
    let live = browser.attr("#status", "aria-live").await;
    assert_eq!(live.as_deref(), Some("polite"));
}

#[actix_web::test]
async fn a_screenshot_of_the_logged_in_app_is_saved_for_the_docs() {
    // signed with an Ed25519 key, as `portcullis demo` does
    let keys = tempfile::tempdir().unwrap();
    let key_file = ed25519_key_file(keys.path());
    let Some((browser, app)) = fixture(|a| sign_with_key(a, &key_file)).await else {
        return;
    };
    app.add_user("alice", &[Role::Admin]);
    app.add_user("bob", &[Role::Editor]);
    // One row edited by someone, so the "Updated by" column shows something.
    let bob = app.login("bob").await.access;
    let res = app.api_json("POST", "/employees", &bob, &json!({ "first_name": "Radia", "last_name": "Perlman", "email": "radia@example.org", "department": "Networking" })).await;
    assert_eq!(res.status(), 201);

    browser.log_in(&app, "alice").await;
    browser.wait_for_row("radia@example.org").await;
    browser.wait_for("#session-panel", Is::Shown, WAIT).await;
    browser
        .wait_for("#token-claims", Is::Text("\"name\": \"alice\""), WAIT)
        .await;
    browser
        .wait_for("#token-header", Is::Text("\"alg\": \"EdDSA\""), WAIT)
        .await;
    browser
        .wait_for("#token-countdown", Is::Text(" s"), WAIT)
        .await;
    browser
        .js(
            "document.activeElement?.blur(); window.scrollTo(0, 0);",
            vec![],
        )
        .await;
    // wide enough for the table and the session panel side by side
    browser.client.set_window_size(1480, 900).await.unwrap();

    browser.save_screenshot("app.png", "screenshot.png").await;
}

#[actix_web::test]
async fn ending_another_session_signs_that_browser_out_within_seconds() {
    let Some((laptop, phone, _app)) = alice_on_two_browsers().await else {
        return;
    };

    laptop.open_view("#nav-sessions", "/sessions").await;
    laptop.wait_for_sessions(2).await;
    assert_eq!(
        laptop
            .count_shown(".session-item[data-current=\"true\"] .badge")
            .await,
        1,
        "this device is marked"
    );
    assert_eq!(
        laptop.count_shown(".session-item .end-session").await,
        1,
        "only the other session can be ended here"
    );
    let device = laptop
        .text(".session-item[data-current=\"false\"] .device")
        .await;
    assert_eq!(device, "Chrome on Linux", "the user agent, shortened");
    let address = laptop
        .text(".session-item[data-current=\"false\"] .address")
        .await;
    assert_eq!(address, "127.0.0.1");

    // the first press only arms the button
    laptop.click(".session-item .end-session").await;
    laptop
        .wait_for(".session-item .end-session", Is::Text("Confirm"), WAIT)
        .await;
    assert_eq!(phone.state().await, "logged-in");
    laptop.click(".session-item .end-session").await;
    let ended = Instant::now();
    laptop.wait_for_sessions(1).await;

    phone
        .wait_state_within("logged-out", Duration::from_secs(8))
        .await;
    eprintln!(
        "the other browser was signed out after {:?}",
        ended.elapsed()
    );
    phone
        .wait_for(
            "#login-message",
            Is::Text("You signed out on another device: this session was ended from your list of sessions."),
            WAIT,
        )
        .await;
    // the session is over on the server too
    phone.reload().await;
    phone.wait_state("logged-out").await;
    assert_eq!(laptop.state().await, "logged-in");
    laptop.reload_list_in_view().await;
}

#[actix_web::test]
async fn signing_out_everywhere_signs_out_every_browser_including_this_one() {
    let Some((laptop, phone, _app)) = alice_on_two_browsers().await else {
        return;
    };

    laptop.open_view("#nav-sessions", "/sessions").await;
    laptop.wait_for_sessions(2).await;
    laptop.click("#logout-everywhere").await;
    laptop
        .wait_for("#logout-everywhere", Is::Text("Confirm"), WAIT)
        .await;
    laptop.click("#logout-everywhere").await;
    laptop.wait_state("logged-out").await;
    laptop
        .wait_for("#login-message", Is::Text("every device"), WAIT)
        .await;
    phone
        .wait_state_within("logged-out", Duration::from_secs(8))
        .await;
    // nothing survives a reload in either browser
    for browser in [&laptop, &phone] {
        browser.reload().await;
        browser.wait_state("logged-out").await;
    }
}

#[actix_web::test]
async fn a_password_change_signs_out_the_other_browser_and_says_so() {
    let Some((laptop, phone, app)) = alice_on_two_browsers().await else {
        return;
    };
    laptop.open_view("#nav-password", "/password").await;

    // errors are shown beside the field they are about
    laptop.fill("#current-password", "not my password").await;
    laptop.fill("#new-password", "short").await;
    laptop.click("#password-submit").await;
    laptop
        .wait_for("#new-password-error", Is::Text("8 to 256"), WAIT)
        .await;
    laptop
        .fill("#new-password", "a much better passphrase")
        .await;
    laptop.click("#password-submit").await;
    laptop
        .wait_for(
            "#current-password-error",
            Is::Text("not your current password"),
            WAIT,
        )
        .await;
    assert!(!laptop.is_shown("#new-password-error").await);
    assert_eq!(phone.state().await, "logged-in", "nothing changed yet");

    laptop.fill("#current-password", PASSWORD).await;
    laptop
        .fill("#new-password", "a much better passphrase")
        .await;
    laptop.click("#password-submit").await;
    laptop
        .wait_for(
            "#password-success",
            Is::Text("other sessions were signed out"),
            WAIT,
        )
        .await;
    assert!(!laptop.is_shown("#current-password-error").await);
    assert_eq!(
        laptop.value("#current-password").await,
        "",
        "the form is cleared"
    );

    phone
        .wait_state_within("logged-out", Duration::from_secs(8))
        .await;
    phone
        .wait_for(
            "#login-message",
            Is::Text("Your password was changed, so we signed you out here."),
            WAIT,
        )
        .await;
    // this browser stays signed in, and the new password is the one that works
    assert_eq!(laptop.state().await, "logged-in");
    laptop.reload().await;
    laptop.wait_state("logged-in").await;
    assert_eq!(app.login_raw("alice", PASSWORD).await.status(), 401);
    assert_eq!(
        app.login_raw("alice", "a much better passphrase")
            .await
            .status(),
        200
    );
}

#[actix_web::test]
async fn an_admin_disables_a_user_signed_in_elsewhere_and_their_page_explains() {
    let Some((admin, app)) = fixture(|_| {}).await else {
        return;
    };
    let other = Browser::start().await.expect("a second browser");
    app.add_user("alice", &[Role::Admin]);
    let bob = app.add_user("bob", &[]);
    admin.log_in(&app, "alice").await;
    other.log_in(&app, "bob").await;

    admin.open_view("#nav-users", "/admin/users").await;
    admin
        .wait_for("#users", Is::AttrAtLeast("data-loaded", 1), WAIT)
        .await;
    let row = format!("#users tbody tr[data-id=\"{}\"]", bob.id);
    admin
        .wait_for(&format!("{row} td.sessions"), Is::Text("1"), WAIT)
        .await;
    // the admin cannot disable themselves or drop their own admin role here
    let me = "#users tbody tr:has(.badge)";
    assert_eq!(admin.count_shown(&format!("{me} .disable")).await, 0);
    assert_eq!(
        admin
            .attr(&format!("{me} input.role[data-role=\"admin\"]"), "disabled")
            .await
            .as_deref(),
        Some("true")
    );

    // roles are editable: bob becomes an editor
    admin
        .click(&format!("{row} input.role[data-role=\"editor\"]"))
        .await;
    // the status is said before the list reloads: wait for the new rows,
    // or the next click may land on a row being replaced
    admin
        .click_and_wait_for_load(&format!("{row} .save-roles"), "#users")
        .await;
    admin
        .wait_for("#status", Is::Text("now has the roles"), WAIT)
        .await;
    let saved = app.user(&bob.id);
    assert_eq!(saved.roles.names(), ["user", "editor"]);

    // disabling asks for a second press, then signs bob out everywhere
    admin.click(&format!("{row} .disable")).await;
    admin
        .wait_for(&format!("{row} .disable"), Is::Text("Confirm"), WAIT)
        .await;
    assert_eq!(other.state().await, "logged-in");
    admin.click(&format!("{row} .disable")).await;
    admin
        .wait_for(&format!("{row} .state"), Is::Text("Disabled"), WAIT)
        .await;
    other
        .wait_state_within("logged-out", Duration::from_secs(8))
        .await;
    other
        .wait_for(
            "#login-message",
            Is::Text("An administrator disabled your account."),
            WAIT,
        )
        .await;
    assert_eq!(app.login_raw("bob", PASSWORD).await.status(), 401);

    // enabling lets bob back in
    admin.click(&format!("{row} .enable")).await;
    admin
        .wait_for(&format!("{row} .state"), Is::Text("Active"), WAIT)
        .await;
    assert_eq!(app.login_raw("bob", PASSWORD).await.status(), 200);
}

#[actix_web::test]
async fn a_non_admin_never_sees_the_users_view_and_the_api_refuses_them_anyway() {
    let Some((browser, app)) = fixture(|_| {}).await else {
        return;
    };
    app.add_user("carol", &[Role::Editor]);
    browser.log_in(&app, "carol").await;
    assert!(browser.is_shown("#nav-sessions").await);
    browser
        .assert_admin_view_closed(&app, "users", "/admin/users")
        .await;
}

#[actix_web::test]
async fn a_screenshot_of_the_sessions_view_is_saved_for_the_docs() {
    // behind a proxy the gateway trusts, so each device has its own address
    let Some((browser, app)) = fixture(|a| a.trusted_proxies = "127.0.0.1".into()).await else {
        return;
    };
    app.add_user("alice", &[Role::Admin]);
    // two other devices, as real browsers name themselves, signed in a
    // while ago
    for (ua, addr, hours) in [
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
            "198.51.100.23",
            50,
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
            "203.0.113.7",
            6,
        ),
    ] {
        let mut res = app
            .client
            .post(format!("{}/auth/login", app.url))
            .insert_header(("User-Agent", ua))
            .insert_header(("X-Forwarded-For", addr))
            .send_json(&json!({ "username": "alice", "password": PASSWORD }))
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let body: Value = res.json().await.unwrap();
        let token = body["access_token"].as_str().unwrap();
        // signed in a while ago: a screenshot that looks lived in
        backdate_session(app.db(), &sid(token), app.clock.now(), hours);
    }
    browser.log_in(&app, "alice").await;
    browser.open_view("#nav-sessions", "/sessions").await;
    browser.wait_for_sessions(3).await;
    let devices = browser
        .js(
            "return [...document.querySelectorAll('.session-item .device strong')].map(e => e.textContent)",
            vec![],
        )
        .await;
    assert_eq!(
        devices,
        json!(["Chrome on Linux", "Firefox on Windows", "Safari on iOS"]),
        "newest first, shortened"
    );
    let addresses = browser
        .js(
            "return [...document.querySelectorAll('.session-item .address')].map(e => e.textContent)",
            vec![],
        )
        .await;
    assert_eq!(
        addresses,
        json!(["127.0.0.1", "203.0.113.7", "198.51.100.23"]),
        "the client address as the trusted-proxy rule resolves it"
    );
    browser
        .js(
            "document.activeElement?.blur(); window.scrollTo(0, 0);",
            vec![],
        )
        .await;
    browser.client.set_window_size(1100, 760).await.unwrap();
    browser
        .save_screenshot("sessions.png", "sessions.png")
        .await;
}

/// The [`fixture`] with a second browser: alice (a plain user) logged in
/// on both, a laptop and a phone.
async fn alice_on_two_browsers() -> Option<(Browser, Browser, TestApp)> {
    let (laptop, app) = fixture(|_| {}).await?;
    let phone = Browser::start().await.expect("a second browser");
    app.add_user("alice", &[]);
    laptop.log_in(&app, "alice").await;
    phone.log_in(&app, "alice").await;
    Some((laptop, phone, app))
}

/// Where the session panel's `User` value sits against its label:
/// `{stacked, share}`, `stacked` when the value starts below the label and
/// `share` the value's width over the list's.
async fn user_fact_layout(browser: &Browser) -> Value {
    browser
        .js(
            r#"const dd = document.querySelector('#session-user');
               const dt = dd.previousElementSibling.getBoundingClientRect();
               const value = dd.getBoundingClientRect();
               const list = dd.parentElement.getBoundingClientRect();
               return { stacked: value.top >= dt.bottom - 1, share: value.width / list.width };"#,
            vec![],
        )
        .await
}

#[actix_web::test]
async fn the_session_panel_puts_labels_above_values_where_it_is_narrow() {
    let Some((browser, app)) = fixture(|_| {}).await else {
        return;
    };
    app.add_user("alice", &[]);
    // 1280 px: the panel is the 20rem column beside the list
    browser.log_in(&app, "alice").await;
    let beside_the_list = user_fact_layout(&browser).await;
    assert_eq!(beside_the_list["stacked"], json!(true), "{beside_the_list}");
    assert!(
        beside_the_list["share"].as_f64().unwrap() > 0.95,
        "the id gets the panel's width: {beside_the_list}"
    );
    // 800 px: the panel is below the list, as wide as the page
    browser.client.set_window_size(800, 900).await.unwrap();
    let wide = user_fact_layout(&browser).await;
    assert_eq!(
        wide["stacked"],
        json!(false),
        "labels beside values: {wide}"
    );
    // a phone
    browser.client.set_window_size(380, 800).await.unwrap();
    let phone = user_fact_layout(&browser).await;
    assert_eq!(phone["stacked"], json!(true), "{phone}");
}
