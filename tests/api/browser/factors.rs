//! Second factors in the SPA (contract §9, without passkeys), in real
//! Chromium: TOTP set up in the Security view and asked for at login, a
//! recovery code instead, the step-up dialog for a stale session and for
//! an `/api` rule that wants a second factor, removal, new recovery codes,
//! the admin's reset, a role that must enrol, and the `WWW-Authenticate`
//! parser. Codes come from `oathtool` at the gateway's (test) clock.

use portcullis::auth::Role;
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

/// [`with_factors`], and alice (a plain user) with TOTP enrolled through
/// the routes and signed in through the browser with a code.
async fn alice_signed_in_with_totp() -> Option<(Browser, TestApp, Enrolled)> {
    let (browser, app) = with_factors(|_| {}).await?;
    let alice = app.logged_in("alice", &[]).await;
    let enrolled = app.enrol_totp(&alice).await;
    browser
        .log_in_with_totp(&app, "alice", &enrolled.secret)
        .await;
    browser.open_view("#nav-security", "/security").await;
    browser.wait_for("#mfa-state", Is::Text("On"), WAIT).await;
    Some((browser, app, enrolled))
}

/// `code` with its last digit changed: a wrong code of the right shape.
fn wrong(code: &str) -> String {
    let (head, last) = code.split_at(code.len() - 1);
    let digit = (last.parse::<u8>().unwrap() + 1) % 10;
    format!("{head}{digit}")
}

#[actix_web::test]
async fn totp_is_set_up_in_the_security_view_and_asked_for_at_the_next_login() {
    let Some((browser, app)) = with_factors(|_| {}).await else {
        return;
    };
    app.add_user("alice", &[]);
    browser.log_in(&app, "alice").await;
    browser.open_view("#nav-security", "/security").await;
    browser
        .wait_for("#mfa-state", Is::Text("Off: your password alone"), WAIT)
        .await;
    assert!(!browser.is_shown("#totp-remove").await);

    browser.click("#totp-setup").await;
    browser.wait_for("#totp-enrol", Is::Shown, WAIT).await;
    assert_eq!(browser.focused().await, "totp-enrol-title");
    // the QR code is an image of the gateway's SVG, never SVG in the page
    let qr = browser
        .js(
            r#"const img = document.querySelector('#totp-qr');
               return new Promise((resolve) => {
                 const done = () => resolve({
                   src: img.getAttribute('src'), width: img.naturalWidth,
                   svg: atob(img.getAttribute('src').split(',')[1]),
                   inline: document.querySelectorAll('svg').length,
                 });
                 if (img.complete) done(); else img.addEventListener('load', done);
               });"#,
            vec![],
        )
        .await;
    assert!(
        qr["src"]
            .as_str()
            .unwrap()
            .starts_with("data:image/svg+xml;base64,"),
        "{qr}"
    );
    assert!(qr["width"].as_u64().unwrap() > 0, "the image loads: {qr}");
    assert!(qr["svg"].as_str().unwrap().contains("<svg"), "{qr}");
    assert_eq!(qr["inline"], 0, "no SVG element in the page");
    let secret = browser.totp_secret_shown().await;
    let uri = browser.attr("#totp-uri", "href").await.unwrap();
    assert!(
        uri.starts_with("otpauth://totp/") && uri.contains(&format!("secret={secret}")),
        "{uri}"
    );
    let code_field = browser.find("#totp-confirm-code").await;
    assert_eq!(
        code_field.attr("autocomplete").await.unwrap().as_deref(),
        Some("one-time-code")
    );
    assert_eq!(
        code_field.attr("inputmode").await.unwrap().as_deref(),
        Some("numeric")
    );

    // a wrong code is refused beside the field; the right one turns it on
    app.to_mid_step();
    let code = app.code_now(&secret);
    browser.fill("#totp-confirm-code", &wrong(&code)).await;
    browser.click("#totp-confirm").await;
    browser
        .wait_for("#totp-confirm-error", Is::Text("not right"), WAIT)
        .await;
    assert!(!browser.is_shown("#recovery-codes").await);
    browser.fill("#totp-confirm-code", &code).await;
    browser.click("#totp-confirm").await;
    browser.wait_for("#recovery-codes", Is::Shown, WAIT).await;
    assert_eq!(browser.focused().await, "recovery-title");
    browser
        .wait_for("#recovery-codes", Is::Text("will not be shown again"), WAIT)
        .await;
    let codes = browser.recovery_codes_shown().await;
    assert_eq!(codes.len(), 10, "{codes:?}");
    assert!(
        codes
            .iter()
            .all(|c| c.len() == 19 && c.matches('-').count() == 3),
        "{codes:?}"
    );
    browser
        .wait_for("#mfa-state", Is::Text("10 recovery codes left"), WAIT)
        .await;
    assert!(
        !browser.is_shown("#totp-enrol").await,
        "the key is put away"
    );
    assert!(!browser.is_shown("#totp-setup").await);
    // the Activity list below shows the change first
    browser
        .wait_for(
            "#activity-list .activity-item .what",
            Is::Text("Second factor added (authenticator app)"),
            WAIT,
        )
        .await;

    // Copy puts the ten on the clipboard; Download saves them as a .txt
    // from a Blob URL (both caught in the page, so nothing leaves it)
    let saved = browser
        .js(
            r#"return (async () => {
                 let copied = null, blob = null, link = null;
                 Object.defineProperty(navigator, 'clipboard', { configurable: true,
                   value: { writeText: async (text) => { copied = text; } } });
                 const create = URL.createObjectURL;
                 URL.createObjectURL = (b) => { blob = b; return create.call(URL, b); };
                 const click = HTMLAnchorElement.prototype.click;
                 HTMLAnchorElement.prototype.click = function () {
                   link = { href: this.href, download: this.download };
                 };
                 try {
                   document.querySelector('#recovery-copy').click();
                   document.querySelector('#recovery-download').click();
                   await new Promise((r) => setTimeout(r, 100));
                 } finally {
                   URL.createObjectURL = create;
                   HTMLAnchorElement.prototype.click = click;
                   delete navigator.clipboard;
                 }
                 return { copied, link, type: blob?.type, text: await blob?.text() };
               })()"#,
            vec![],
        )
        .await;
    assert_eq!(saved["copied"], codes.join("\n"), "{saved}");
    assert_eq!(saved["link"]["download"], "recovery-codes.txt", "{saved}");
    assert!(
        saved["link"]["href"].as_str().unwrap().starts_with("blob:"),
        "{saved}"
    );
    assert!(saved["type"].as_str().unwrap().starts_with("text/plain"));
    let text = saved["text"].as_str().unwrap();
    assert!(codes.iter().all(|c| text.contains(c.as_str())), "{text}");
    assert!(text.contains("alice"), "{text}");
    browser.assert_no_error_shown().await;

    // shown once: put away, and not there when the view is opened again
    browser.click("#recovery-done").await;
    browser.wait_for("#recovery-codes", Is::Hidden, WAIT).await;
    browser.open_view("#nav-sessions", "/sessions").await;
    browser.open_view("#nav-security", "/security").await;
    browser.wait_for("#mfa-state", Is::Text("On"), WAIT).await;
    assert!(!browser.is_shown("#recovery-codes").await);
    assert!(browser.recovery_codes_shown().await.is_empty());

    // the next login asks for a code, in the field for one
    browser.log_out().await;
    app.advance(30.0); // the confirming code's step is spent
    browser.submit_password(&app, "alice").await;
    browser.wait_for("#mfa-form", Is::Shown, WAIT).await;
    assert_eq!(browser.state().await, "logged-out");
    assert!(!browser.is_shown("#login-form").await);
    assert_eq!(browser.focused().await, "mfa-totp");
    assert!(!browser.is_shown("#mfa-recovery").await);
    let field = browser.find("#mfa-totp").await;
    assert_eq!(
        field.attr("autocomplete").await.unwrap().as_deref(),
        Some("one-time-code")
    );
    assert_eq!(
        field.attr("inputmode").await.unwrap().as_deref(),
        Some("numeric")
    );
    let code = app.code_now(&secret);
    browser.enter_second_factor("totp", "12345").await;
    browser
        .wait_for("#mfa-error", Is::Text("6-digit code"), WAIT)
        .await;
    browser.enter_second_factor("totp", &wrong(&code)).await;
    browser
        .wait_for("#mfa-error", Is::Text("That code is not right"), WAIT)
        .await;
    assert_eq!(browser.state().await, "logged-out");
    browser.enter_second_factor("totp", &code).await;
    browser.wait_signed_in("alice").await;
    browser
        .wait_for("#token-claims", Is::Text("\"acr\": \"mfa\""), WAIT)
        .await;
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
    browser.open_view("#nav-security", "/security").await;
    browser
        .wait_for("#mfa-state", Is::Text("9 recovery codes left"), WAIT)
        .await;

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
async fn a_stale_session_is_asked_for_the_password_before_totp_is_set_up() {
    let Some((browser, app)) = with_factors(|_| {}).await else {
        return;
    };
    app.add_user("alice", &[]);
    browser.log_in(&app, "alice").await;
    browser.open_view("#nav-security", "/security").await;
    browser.wait_for("#totp-setup", Is::Shown, WAIT).await;
    app.advance(301.0); // the login is over 5 minutes old

    browser.click("#totp-setup").await;
    browser.wait_step_up().await;
    browser
        .wait_for("#step-up-reason", Is::Text("last 5 minutes"), WAIT)
        .await;
    assert_eq!(browser.focused().await, "step-up-password");
    // alice has no second factor: the password is all it offers
    assert!(!browser.is_shown("#step-up-totp").await);
    assert_eq!(browser.count_shown("#step-up [data-use]").await, 0);
    assert!(!browser.is_shown("#totp-enrol").await, "not yet");
    browser.submit_step_up("password", "not my password").await;
    browser
        .wait_for("#step-up-error", Is::Text("not your password"), WAIT)
        .await;
    browser.answer_step_up("password", PASSWORD).await;
    // the refused call was made again, with the new token: the key is on show
    browser.wait_for("#totp-enrol", Is::Shown, WAIT).await;
    browser.totp_secret_shown().await;
    browser.assert_no_error_shown().await;

    // given up: the call's refusal is said, and nothing is set up
    browser.click("#totp-cancel").await;
    browser.wait_for("#totp-enrol", Is::Hidden, WAIT).await;
    app.advance(301.0);
    browser.click("#totp-setup").await;
    browser.wait_step_up().await;
    browser.click("#step-up-cancel").await;
    browser.wait_for("#step-up", Is::Hidden, WAIT).await;
    browser
        .wait_for("#status", Is::Text("more recent authentication"), WAIT)
        .await;
    assert!(!browser.is_shown("#totp-enrol").await);
    assert_eq!(browser.focused().await, "totp-setup", "focus goes back");
}

#[actix_web::test]
async fn an_api_rule_wanting_a_second_factor_is_answered_with_a_code_in_the_dialog() {
    let dir = tempfile::tempdir().unwrap();
    let policy = policy_file(
        dir.path(),
        "[[rule]]\nmethods = [\"GET\"]\npath = \"/employees\"\nroles = [\"user\"]\nacr = \"mfa\"\n\n\
         [[rule]]\nmethods = [\"*\"]\npath = \"/\"\nroles = [\"admin\"]\n",
    );
    let Some((browser, app)) = with_factors(|a| a.policy = Some(policy.clone())).await else {
        return;
    };
    app.add_user("alice", &[]);
    // with a password alone the list is refused, and there is no factor to
    // ask for: alice is sent to set one up, told why
    browser.submit_password(&app, "alice").await;
    browser.wait_state("logged-in").await;
    browser
        .wait_for("#security-notice", Is::Text("needs a second factor"), WAIT)
        .await;
    assert_eq!(browser.path().await, "/security");
    assert!(!browser.is_shown("#step-up").await);
    let enrolled = browser.enrol_totp(&app).await;
    assert!(!browser.is_shown("#security-notice").await);
    browser.click("#recovery-done").await;

    // her token is still a password's: the dialog asks for a code
    app.advance(30.0);
    browser.click("#nav-employees").await;
    browser.wait_step_up().await;
    browser
        .wait_for("#step-up-reason", Is::Text("second factor"), WAIT)
        .await;
    assert_eq!(browser.focused().await, "step-up-totp");
    assert!(!browser.is_shown("#step-up-password").await);
    assert!(
        !browser.is_shown("#step-up [data-use=\"password\"]").await,
        "a password is no second factor"
    );
    assert!(
        browser
            .is_shown("#step-up [data-use=\"recovery_code\"]")
            .await
    );
    let code = app.code_now(&enrolled.secret);
    browser.submit_step_up("totp", &wrong(&code)).await;
    browser
        .wait_for("#step-up-error", Is::Text("That code is not right"), WAIT)
        .await;
    browser.answer_step_up("totp", &code).await;
    // the refused call was made again: the list is there
    browser
        .wait_js(
            "return document.querySelectorAll('#employees tbody tr[data-id]').length >= 3",
            vec![],
            WAIT,
            "the employee list after the step-up",
        )
        .await;
    browser.assert_no_error_shown().await;
    browser
        .wait_for("#token-claims", Is::Text("\"acr\": \"mfa\""), WAIT)
        .await;
}

#[actix_web::test]
async fn removing_totp_in_the_security_view_lets_the_password_alone_sign_in() {
    let Some((browser, app, _)) = alice_signed_in_with_totp().await else {
        return;
    };
    // the first press only arms the button
    browser.click("#totp-remove").await;
    browser
        .wait_for("#totp-remove", Is::Text("Confirm"), WAIT)
        .await;
    assert_eq!(app.login_raw("alice", PASSWORD).await.status(), 401);
    browser.click("#totp-remove").await;
    browser
        .wait_for("#mfa-state", Is::Text("Off: your password alone"), WAIT)
        .await;
    browser
        .wait_for("#status", Is::Text("authenticator app is removed"), WAIT)
        .await;
    assert!(!browser.is_shown("#totp-remove").await);
    assert!(!browser.is_shown("#recovery-new").await);
    assert!(browser.is_shown("#totp-setup").await);

    browser.log_out().await;
    browser.log_in(&app, "alice").await;
    assert!(!browser.is_shown("#mfa-form").await);
}

#[actix_web::test]
async fn new_recovery_codes_replace_the_old_ones_after_a_step_up_with_a_code() {
    let Some((browser, app, enrolled)) = alice_signed_in_with_totp().await else {
        return;
    };
    app.advance(301.0); // the login is over 5 minutes old

    browser.click("#recovery-new").await;
    browser
        .wait_for("#recovery-new", Is::Text("Confirm"), WAIT)
        .await;
    browser.click("#recovery-new").await;
    // alice has the app: the password is offered first, a code instead
    browser.wait_step_up().await;
    assert_eq!(browser.focused().await, "step-up-password");
    assert!(browser.is_shown("#step-up [data-use=\"totp\"]").await);
    app.advance(30.0);
    browser
        .answer_step_up("totp", &app.code_now(&enrolled.secret))
        .await;
    browser.wait_for("#recovery-codes", Is::Shown, WAIT).await;
    let codes = browser.recovery_codes_shown().await;
    assert_eq!(codes.len(), 10);
    assert!(codes.iter().all(|c| !enrolled.recovery_codes.contains(c)));
    browser
        .wait_for("#mfa-state", Is::Text("10 recovery codes left"), WAIT)
        .await;
    // an old code no longer signs in; a new one does
    let (token, _) = app.first_step("alice").await;
    let old = json!({ "recovery_code": enrolled.recovery_codes[1] });
    assert_eq!(app.second_step(&token, old).await.status(), 401);
    let new = json!({ "recovery_code": codes[1] });
    assert_eq!(app.second_step(&token, new).await.status(), 200);
}

#[actix_web::test]
async fn an_admin_resets_another_users_second_factor_from_the_users_view() {
    let Some((admin, app)) = with_factors(|_| {}).await else {
        return;
    };
    app.add_user("alice", &[Role::Admin]);
    let bob = app.logged_in("bob", &[]).await;
    let bobs = app.enrol_totp(&bob).await;
    let bob = app.login_with_totp("bob", &bobs.secret).await;
    admin.log_in(&app, "alice").await;
    admin.open_view("#nav-users", "/admin/users").await;
    admin
        .wait_for("#users", Is::AttrAtLeast("data-loaded", 1), WAIT)
        .await;
    let row = format!("#users tbody tr[data-id=\"{}\"]", bob.user_id());
    admin
        .wait_for(&format!("{row} td.mfa"), Is::Text("On"), WAIT)
        .await;
    let me = "#users tbody tr:has(.badge)";
    assert_eq!(admin.text(&format!("{me} td.mfa")).await, "Off");
    assert_eq!(admin.count_shown(&format!("{me} .reset-mfa")).await, 0);

    let reset = format!("{row} .reset-mfa");
    admin.click(&reset).await;
    admin.wait_for(&reset, Is::Text("Confirm"), WAIT).await;
    assert_eq!(app.me(&bob.access).await.status(), 200, "not yet");
    admin.click_and_wait_for_load(&reset, "#users").await;
    admin
        .wait_for(&format!("{row} td.mfa"), Is::Text("Off"), WAIT)
        .await;
    admin
        .wait_for("#status", Is::Text("has no second factor now"), WAIT)
        .await;
    assert_eq!(admin.count_shown(&reset).await, 0);
    app.wait_until_refused(&bob.access, std::time::Duration::from_secs(2))
        .await;
    assert_eq!(
        app.login_raw("bob", PASSWORD).await.status(),
        200,
        "the password alone signs bob in"
    );
}

#[actix_web::test]
async fn a_user_whose_role_must_use_a_second_factor_is_sent_to_set_one_up() {
    let Some((browser, app)) = with_factors(|a| a.mfa_required_roles = "editor".into()).await
    else {
        return;
    };
    app.add_user("bob", &[Role::Editor]);
    browser.submit_password(&app, "bob").await;
    browser.wait_state("logged-in").await;
    browser
        .wait_for(
            "#security-notice",
            Is::Text("must use a second factor"),
            WAIT,
        )
        .await;
    assert_eq!(browser.path().await, "/security");
    assert_eq!(browser.focused().await, "security-notice");
    assert!(!browser.is_shown("#step-up").await);
    browser.assert_no_error_shown().await;
    // the activity too is for after the second factor; it says so, no error
    browser
        .wait_for(
            "#activity-empty",
            Is::Text("once you sign in with a second factor"),
            WAIT,
        )
        .await;
    browser.assert_no_error_shown().await;
    // the rest of the app stays closed: back to Security, no list asked for
    browser.click("#nav-employees").await;
    browser
        .wait_js(
            "return location.pathname === '/security'",
            vec![],
            WAIT,
            "the way back to Security",
        )
        .await;
    assert_eq!(
        browser.number("#employees", "data-loaded").await,
        0,
        "the list was never asked for"
    );

    let enrolled = browser.enrol_totp(&app).await;
    assert!(!browser.is_shown("#security-notice").await);
    browser.click("#recovery-done").await;
    // the password token must now step up with the new factor
    app.advance(30.0);
    browser.click("#nav-employees").await;
    browser
        .answer_step_up("totp", &app.code_now(&enrolled.secret))
        .await;
    browser
        .wait_for("#employees", Is::AttrAtLeast("data-loaded", 1), WAIT)
        .await;
    browser.wait_for("#new-employee", Is::Shown, WAIT).await;
    assert!(browser.count_shown("#employees tbody tr[data-id]").await >= 3);
    browser.assert_no_error_shown().await;
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
