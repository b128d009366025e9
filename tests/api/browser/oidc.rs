//! Signing in with an OpenID Provider in real Chromium (contract §10): the
//! login page's "Sign in with NAME", the provider's own login form, and
//! the app signed in when the browser comes back; a refused sign-in said
//! in plain words; the linked provider in the Security view.

use serde_json::json;

use crate::support::browser::{Browser, Is, WAIT, fixture};
use crate::support::*;

/// A browser and a gateway that signs in with a fresh provider.
async fn with_provider() -> Option<(Browser, TestApp, TestProvider, tempfile::TempDir)> {
    let port = free_port();
    let public_url = format!("http://127.0.0.1:{port}");
    let op = TestProvider::start(
        json!([client_entry(&public_url)]),
        json!({"ann": ["editors"]}),
    );
    let dir = tempfile::tempdir().unwrap();
    let file = providers_file(dir.path(), &op.issuer, "");
    let (browser, app) = fixture(|a| oidc_args(a, port, &public_url, &file)).await?;
    Some((browser, app, op, dir))
}

#[actix_web::test]
async fn sign_in_with_the_provider_from_the_login_page_and_see_it_linked() {
    let Some((browser, app, _op, _dir)) = with_provider().await else {
        return;
    };
    browser.goto(&app.url).await;
    browser.wait_state("logged-out").await;
    let link = ".oidc-provider[data-provider=\"testop\"]";
    browser
        .wait_for(link, Is::Text("Sign in with Test IdP"), WAIT)
        .await;
    browser.click(link).await;
    // the provider's own page
    browser.wait_for("#op-login", Is::Shown, WAIT).await;
    browser.fill("#op-login", "ann").await;
    browser.click("#op-submit").await;
    browser.wait_signed_in("ann").await;
    assert_eq!(browser.text("#roles").await, "user, editor");
    browser.open_view("#nav-security", "/security").await;
    browser
        .wait_for("#oidc-links-list li", Is::Text("Test IdP"), WAIT)
        .await;
}

#[actix_web::test]
async fn a_refused_sign_in_is_said_in_plain_words_once() {
    let Some((browser, app, _op, _dir)) = with_provider().await else {
        return;
    };
    browser
        .goto(&format!("{}/?auth_error=no_account", app.url))
        .await;
    browser.wait_state("logged-out").await;
    browser
        .wait_for(
            "#login-message",
            Is::Text("There is no account here for that identity"),
            WAIT,
        )
        .await;
    let search = browser.js("return location.search", vec![]).await;
    assert_eq!(search, json!(""), "the code left the address bar");
}
