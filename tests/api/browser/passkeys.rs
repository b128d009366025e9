//! Passkeys in the SPA (contract §9), in real Chromium with its virtual
//! authenticator (WebDriver's WebAuthn commands): one added in the Security
//! view, signing in by the username field's autofill and by the button,
//! the passkey as the second step after a password, a step-up answered
//! with it, and a deleted one refused. The gateway's public URL is
//! `http://localhost:PORT`, what the browser opens: an IP address cannot
//! be an RP ID.

use serde_json::{Value, json};

use crate::support::browser::{Browser, Is, VirtualAuthenticator, WAIT, fixture};
use crate::support::*;

/// The browser fixture on `http://localhost:PORT` with passkeys offered
/// there, and a virtual authenticator in the browser.
async fn with_passkeys() -> Option<(Browser, TestApp, VirtualAuthenticator)> {
    let port = free_port();
    let (browser, mut app) = fixture(|a| {
        a.bind = format!("127.0.0.1:{port}");
        a.public_url = Some(format!("http://localhost:{port}"));
    })
    .await?;
    app.url = format!("http://localhost:{port}");
    let authenticator = browser.add_virtual_authenticator().await;
    Some((browser, app, authenticator))
}

/// Adds a passkey called `name` in the Security view (open, its sign-in
/// recent) and waits for it in the list.
async fn add_passkey(browser: &Browser, name: &str) {
    browser.wait_for("#passkeys", Is::Shown, WAIT).await;
    browser.fill("#passkey-name", name).await;
    browser.click("#passkey-add").await;
    browser
        .wait_for("#passkey-list .passkey-name", Is::Text(name), WAIT)
        .await;
}

/// The signed-in tab's access token claims, as the session panel shows
/// them (on any view).
async fn claims(browser: &Browser) -> Value {
    let text = browser
        .js(
            "return document.querySelector('#token-claims').textContent",
            vec![],
        )
        .await;
    let text = text.as_str().unwrap_or_default();
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[actix_web::test]
async fn a_passkey_added_in_the_security_view_signs_in_by_autofill_and_by_the_button() {
    let Some((browser, app, authenticator)) = with_passkeys().await else {
        return;
    };
    app.add_user("alice", &[]);
    browser.log_in(&app, "alice").await;
    browser.open_view("#nav-security", "/security").await;
    add_passkey(&browser, "Laptop").await;
    browser
        .wait_for("#status", Is::Text("The passkey Laptop is added"), WAIT)
        .await;

    // the browser holds a discoverable credential for localhost, the gateway its key
    let held = browser.credentials(&authenticator).await;
    assert_eq!(held.len(), 1, "{held:?}");
    assert_eq!(held[0]["isResidentCredential"], true, "{held:?}");
    assert_eq!(held[0]["rpId"], "localhost");
    let stored = stored_passkeys(app.db());
    assert_eq!(stored.len(), 1);
    let credential_id = held[0]["credentialId"].as_str().unwrap();
    assert!(stored.contains_key(credential_id), "{stored:?}");

    // signed out, the login form's autofill offers it (a conditional
    // request, which the virtual authenticator answers as a user picking
    // it): alice is in without typing anything
    let first = claims(&browser).await["sid"].clone();
    browser.click("#logout").await;
    // signed in again at once: the state may never be seen logged out
    browser
        .wait_js(
            "const c = document.querySelector('#token-claims').textContent; \
             return document.body.dataset.state === 'logged-in' && c !== '' \
                 && JSON.parse(c).sid !== arguments[0]",
            vec![first],
            WAIT,
            "a new session by the autofill",
        )
        .await;
    browser.wait_signed_in("alice").await;
    assert_signed_in_by_passkey(&browser).await;

    // a browser without the autofill: the form stays, the button signs in
    browser.without_passkey_autofill().await;
    browser.reload().await;
    browser.wait_signed_in("alice").await;
    browser.log_out().await;
    assert!(browser.is_shown("#passkey-login").await);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(browser.state().await, "logged-out", "no autofill now");
    browser.click("#passkey-login").await;
    browser.wait_signed_in("alice").await;
    assert_signed_in_by_passkey(&browser).await;
    let used = stored_passkeys(app.db());
    assert!(used[credential_id].last_used, "{used:?}");
}

/// The session panel's claims say a passkey alone signed this tab in.
async fn assert_signed_in_by_passkey(browser: &Browser) {
    let signed_in = claims(browser).await;
    assert_eq!(signed_in["acr"], "mfa", "{signed_in}");
    assert_eq!(signed_in["amr"], json!(["hwk", "user"]), "{signed_in}");
}

#[actix_web::test]
async fn a_passkey_finishes_a_password_login_answers_a_step_up_and_once_deleted_signs_in_no_more() {
    let Some((browser, app, _authenticator)) = with_passkeys().await else {
        return;
    };
    browser.without_passkey_autofill().await;
    app.add_user("alice", &[]);
    browser.log_in(&app, "alice").await;
    browser.open_view("#nav-security", "/security").await;
    add_passkey(&browser, "Phone").await;
    browser.log_out().await;

    // the password is right, and the passkey is the second step
    browser.submit_password(&app, "alice").await;
    browser.wait_for("#mfa-passkey", Is::Shown, WAIT).await;
    assert!(!browser.is_shown("#mfa-submit").await, "no code to type");
    assert_eq!(browser.focused().await, "mfa-passkey");
    browser.click("#mfa-passkey").await;
    browser.wait_signed_in("alice").await;
    let signed_in = claims(&browser).await;
    assert_eq!(signed_in["acr"], "mfa", "{signed_in}");
    let amr = signed_in["amr"].as_array().unwrap();
    for method in ["pwd", "hwk", "user", "mfa"] {
        assert!(amr.contains(&json!(method)), "{signed_in}");
    }

    // over 5 minutes later, deleting it asks to confirm it is you: the
    // passkey answers, and the deletion goes through
    app.advance(301.0);
    let renders = browser.number("#passkey-list", "data-loaded").await;
    browser.open_view("#nav-security", "/security").await;
    // the view's own load drew the list anew: press the buttons of that one
    browser
        .wait_for(
            "#passkey-list",
            Is::AttrAtLeast("data-loaded", renders + 1),
            WAIT,
        )
        .await;
    browser
        .wait_for("#passkey-list .passkey-name", Is::Text("Phone"), WAIT)
        .await;
    browser.click("#passkey-list .delete").await;
    browser.click("#passkey-list .delete").await; // the second press confirms
    browser.wait_step_up().await;
    browser.wait_for("#step-up-passkey", Is::Shown, WAIT).await;
    let before = claims(&browser).await["auth_time"].as_i64().unwrap();
    browser.click("#step-up-passkey").await;
    browser.wait_for("#step-up", Is::Hidden, WAIT).await;
    browser.wait_for("#passkeys-empty", Is::Shown, WAIT).await;
    assert!(stored_passkeys(app.db()).is_empty());
    let after = claims(&browser).await["auth_time"].as_i64().unwrap();
    assert!(after >= before + 300, "stepped up: {before} → {after}");

    // the browser still holds it; the gateway refuses it
    browser.log_out().await;
    browser.click("#passkey-login").await;
    browser
        .wait_for("#login-error", Is::Text("was not accepted"), WAIT)
        .await;
    assert_eq!(browser.state().await, "logged-out");
    // and the password alone signs in again
    browser.log_in(&app, "alice").await;
}
