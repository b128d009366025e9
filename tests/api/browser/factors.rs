//! Second factors in the SPA (contract §9, without passkeys), in real
//! Chromium: a recovery code in place of the app's code at login, and the
//! auth client's `WWW-Authenticate` parser, run in the page. Codes come
//! from `oathtool` at the gateway's (test) clock.

use serde_json::{Value, json};

use crate::support::browser::{Browser, Is, WAIT, fixture};
use crate::support::*;

/// The browser fixture with TOTP offered, and `adjust` applied too.
async fn with_factors(adjust: impl FnOnce(&mut ServeArgs)) -> Option<(Browser, TestApp)> {
    fixture(|a| {
        with_encryption_key(a);
        adjust(a);
    })
    .await
}

#[actix_web::test]
async fn a_recovery_code_signs_in_in_place_of_the_app_code_once() {
    let Some((browser, app)) = with_factors(|_| {}).await else {
        return;
    };
    let alice = app.logged_in("alice", &[]).await;
    let enrolled = app.enrol_totp(&alice).await;

    browser.submit_password(&app, "alice").await;
    browser.wait_for("#mfa-form", Is::Shown, WAIT).await;
    browser
        .click("#mfa-form [data-use=\"recovery_code\"]")
        .await;
    browser.wait_for("#mfa-recovery", Is::Shown, WAIT).await;
    assert_eq!(browser.focused().await, "mfa-recovery");
    assert!(!browser.is_shown("#mfa-totp").await);
    assert!(browser.is_shown("#mfa-form [data-use=\"totp\"]").await);
    browser
        .enter_second_factor("recovery_code", "AAAA-BBBB-CCCC-DDDD")
        .await;
    browser
        .wait_for("#mfa-error", Is::Text("recovery code is not right"), WAIT)
        .await;
    // typed as a person might: lower case, spaces for dashes
    let code = &enrolled.recovery_codes[0];
    let typed = code.to_lowercase().replace('-', " ");
    browser.enter_second_factor("recovery_code", &typed).await;
    browser.wait_signed_in("alice").await;

    // the same code a second time is refused; "Start again" goes back to the password
    browser.log_out().await;
    browser.submit_password(&app, "alice").await;
    browser.enter_second_factor("recovery_code", code).await;
    browser
        .wait_for("#mfa-error", Is::Text("used already"), WAIT)
        .await;
    browser.click("#mfa-restart").await;
    browser.wait_for("#login-form", Is::Shown, WAIT).await;
    assert!(!browser.is_shown("#mfa-form").await);
    assert_eq!(browser.focused().await, "password");
    assert_eq!(browser.value("#username").await, "alice");
    assert_eq!(browser.value("#password").await, "");
}

#[actix_web::test]
async fn the_www_authenticate_parser_reads_rfc_7235_challenges_exactly() {
    let Some((browser, app)) = fixture(|_| {}).await else {
        return;
    };
    browser.goto(&app.url).await;
    browser.wait_state("logged-out").await;
    let headers = json!([
        // the gateway's own: max_age as a token
        "Bearer error=\"insufficient_user_authentication\", error_description=\"A second factor and a more recent authentication are required.\", acr_values=\"mfa\", max_age=300",
        // RFC 9470's examples quote it
        "Bearer error=\"insufficient_user_authentication\", error_description=\"A more recent authentication is required\", max_age=\"5\"",
        // other schemes first, commas and escapes inside quotes, any case, extra spaces
        "Basic realm=\"x, y\", Newauth YWxhZGRpbjpvcGVuc2VzYW1l, bEaReR  Realm = \"a \\\"b\\\", c\" , ERROR=insufficient_user_authentication,scope=\"read write\", acr_values=\"mfa phr\"",
        // a description that only names another error
        "Bearer error=\"invalid_token\", error_description=\"not insufficient_user_authentication, max_age=1\"",
        // the first of a repeated parameter counts; an unquoted value ends at a comma
        "Bearer error=insufficient_user_authentication, max_age=60, max_age=1",
        // malformed: an unterminated quote ends the parse
        "Bearer error=\"insufficient_user_authentication, max_age=1",
        "",
    ]);
    let parsed = browser
        .js(
            r#"return (async () => {
                 const { parseWwwAuthenticate, stepUpChallenge } = await import('/js/auth-client.js');
                 return arguments[0].map((h) => ({
                   challenges: parseWwwAuthenticate(h).map((c) => ({ ...c, params: { ...c.params } })),
                   stepUp: stepUpChallenge(h),
                 }));
               })()"#,
            vec![headers],
        )
        .await;
    let step_ups: Vec<&Value> = parsed
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["stepUp"])
        .collect();
    assert_eq!(
        step_ups,
        [
            &json!({"acrValues": ["mfa"], "maxAge": 300,
                    "description": "A second factor and a more recent authentication are required."}),
            &json!({"acrValues": [], "maxAge": 5, "description": "A more recent authentication is required"}),
            &json!({"acrValues": ["mfa", "phr"], "maxAge": null, "description": null}),
            &Value::Null,
            &json!({"acrValues": [], "maxAge": 60, "description": null}),
            &Value::Null,
            &Value::Null,
        ]
    );
    assert_eq!(
        parsed[2]["challenges"],
        json!([
            {"scheme": "basic", "params": {"realm": "x, y"}, "token68": null},
            {"scheme": "newauth", "params": {}, "token68": "YWxhZGRpbjpvcGVuc2VzYW1l"},
            {"scheme": "bearer", "token68": null, "params": {
                "realm": "a \"b\", c", "error": "insufficient_user_authentication",
                "scope": "read write", "acr_values": "mfa phr"}},
        ])
    );
    assert_eq!(
        parsed[3]["challenges"][0]["params"],
        json!({"error": "invalid_token", "error_description": "not insufficient_user_authentication, max_age=1"})
    );
    assert_eq!(
        parsed[5]["challenges"],
        json!([{"scheme": "bearer", "params": {}, "token68": null}])
    );
    assert_eq!(parsed[6]["challenges"], json!([]));
}
