//! The React example (`examples/react`, on the `@portcullis/client`
//! package) in real Chromium: its `npm run build` output served by the
//! gateway as its static folder, a sign-in with the password and a TOTP
//! code, the employee list through `/api`, a reload that keeps the session
//! (the refresh cookie), sign out, and a sign-in with a recovery code
//! instead. Without the build the test says so on stderr and passes, unless
//! `PORTCULLIS_REQUIRE_BROWSER=1` (`.ci/run` builds it first).

use std::path::{Path, PathBuf};

use crate::support::browser::{Browser, Is, WAIT, fixture, skip_unless_required};
use crate::support::*;

/// `examples/react/dist`, when it has been built.
fn react_build() -> Option<PathBuf> {
    let dist = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/react/dist");
    if dist.join("index.html").is_file() {
        return Some(dist);
    }
    skip_unless_required(
        "the React example is not built (run `npm ci && npm run build` in examples/react)",
    );
    None
}

/// Waits for the app's phase: loading, signed-in or signed-out.
async fn wait_phase(browser: &Browser, phase: &str) {
    browser
        .wait_for("main", Is::Attr("data-phase", phase), WAIT)
        .await;
}

/// Sends the password form for `name` on the loaded, signed-out app.
async fn send_password(browser: &Browser, name: &str) {
    wait_phase(browser, "signed-out").await;
    browser.fill("#username", name).await;
    browser.fill("#password", PASSWORD).await;
    browser.click("#sign-in").await;
    browser.wait_for("#second-step", Is::Shown, WAIT).await;
}

/// Waits for `name` signed in and the seeded employees listed.
async fn wait_signed_in(browser: &Browser, name: &str) {
    wait_phase(browser, "signed-in").await;
    browser.wait_for("#whoami", Is::Text(name), WAIT).await;
    browser
        .wait_for("#employees", Is::AttrAtLeast("data-count", 3), WAIT)
        .await;
}

#[actix_web::test]
async fn the_react_example_signs_in_with_a_second_factor_keeps_the_session_and_signs_out() {
    let Some(dist) = react_build() else {
        return;
    };
    let Some((browser, app)) = fixture(|a| {
        with_encryption_key(a);
        a.static_dir = Some(dist);
    })
    .await
    else {
        return;
    };
    let alice = app.logged_in("alice", &[]).await;
    let enrolled = app.enrol_totp(&alice).await;

    browser.goto(&app.url).await;
    assert_eq!(
        browser.js("return document.title", vec![]).await,
        "Employees — portcullis React example",
        "the gateway serves the React build"
    );
    send_password(&browser, "alice").await;
    assert_eq!(
        browser.attr("#code", "data-factor").await.as_deref(),
        Some("totp")
    );
    browser.fill("#code", &app.code_now(&enrolled.secret)).await;
    browser.click("#verify").await;
    wait_signed_in(&browser, "alice").await;

    // a reload forgets the access token; the refresh cookie restores it
    browser.reload().await;
    wait_signed_in(&browser, "alice").await;

    browser.click("#sign-out").await;
    wait_phase(&browser, "signed-out").await;
    browser.reload().await;
    wait_phase(&browser, "signed-out").await;

    // the second step with a recovery code instead
    send_password(&browser, "alice").await;
    browser.click("#use-other").await;
    browser
        .wait_for("#code", Is::Attr("data-factor", "recovery_code"), WAIT)
        .await;
    browser.fill("#code", &enrolled.recovery_codes[0]).await;
    browser.click("#verify").await;
    wait_signed_in(&browser, "alice").await;
}
