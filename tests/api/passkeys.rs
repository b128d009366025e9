//! Contract §9's passkeys, server-side: registration after a fresh
//! authentication, a passkey alone as a login, as the second step after a
//! password and for a step-up, rename and delete; and every assertion the
//! gateway must refuse — wrong origin, wrong RP ID, no user verification,
//! a replay, a counter going backwards, another user's credential, a
//! ceremony finished twice, a disabled user — each `401
//! invalid_credentials` with nothing changed in the database. The
//! authenticator is a software one (support/passkeys.rs) whose knobs make
//! the attacks; Chromium's virtual authenticator is in browser/passkeys.rs.

use std::collections::BTreeMap;

use portcullis::auth::Role;
use serde_json::{Value, json};

use crate::support::*;

/// A gateway with passkeys, alice logged in with her password and her
/// passkey registered.
async fn registered() -> (TestApp, Session, Authenticator) {
    let app = spawn_with_passkeys(|_| {}).await;
    let mut authenticator = Authenticator::new();
    let session = app.with_a_passkey("alice", &mut authenticator).await;
    (app, session, authenticator)
}

/// What a refused assertion must leave as it was: the passkeys and the
/// number of sessions.
fn snapshot(app: &TestApp) -> (BTreeMap<String, StoredPasskey>, (usize, usize)) {
    (stored_passkeys(app.db()), refresh_token_counts(app.db()))
}

/// Asserts a `401 invalid_credentials` without a cookie.
async fn assert_invalid_credentials(mut res: Response) {
    assert_eq!(res.status(), 401);
    assert!(res.headers().get("set-cookie").is_none(), "no cookie");
    assert_eq!(error_code(&mut res).await, "invalid_credentials");
}

/// A passwordless login's options, and `credential` made from them by
/// `answer`, posted: the answer.
async fn login_answered(app: &TestApp, answer: impl FnOnce(&Value) -> Value) -> Response {
    let (ceremony, options) = app.passkey_login_options().await;
    let credential = answer(&options);
    app.finish_passkey_login(&ceremony, &credential).await
}

#[actix_web::test]
async fn a_registered_passkey_is_listed_and_logs_in_alone_as_two_factors() {
    let app = spawn_with_passkeys(|_| {}).await;
    let session = app.logged_in("alice", &[Role::User]).await;
    let (_, options) = app
        .passkey_options("/auth/passkeys/options", Some(&session.access), &json!({}))
        .await;
    let selection = &options["authenticatorSelection"];
    assert_eq!(selection["residentKey"], "required", "{options}");
    assert_eq!(selection["userVerification"], "required");
    assert_eq!(options["rp"]["id"], "portcullis.test");

    let mut authenticator = Authenticator::new();
    let mut res = app
        .register_passkey(&session, &mut authenticator, "  Laptop ")
        .await;
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.unwrap();
    assert_eq!(created["name"], "Laptop");
    assert!(created["created_at"].is_string());
    let mut res = app.call("GET", "/auth/mfa", &session.access).await;
    let status: Value = res.json().await.unwrap();
    assert_eq!(status["passkeys"][0]["id"], created["id"], "{status}");
    assert_eq!(status["passkeys"][0]["last_used_at"], Value::Null);
    assert_eq!(status["passkeys_available"], true);

    // the next registration excludes it
    let (_, options) = app
        .passkey_options("/auth/passkeys/options", Some(&session.access), &json!({}))
        .await;
    assert_eq!(options["excludeCredentials"][0]["id"], authenticator.id());

    let mut res = app.passkey_login(&mut authenticator).await;
    assert_eq!(res.status(), 200);
    assert!(set_cookie(&res, COOKIE).is_some());
    let login = Session::read(&mut res).await;
    let claims = claims(&login.access);
    assert_eq!(claims["amr"], json!(["hwk", "user"]));
    assert_eq!(claims["acr"], "mfa");
    assert_eq!(claims["name"], "alice");
    app.assert_just_now(&claims["auth_time"]);
    let stored = stored_passkeys(app.db());
    assert_eq!(stored[&authenticator.id()].sign_count, 2);
    assert!(stored[&authenticator.id()].last_used);
}

#[actix_web::test]
async fn a_password_then_asks_for_the_passkey_as_its_second_step() {
    let (app, _, mut authenticator) = registered().await;
    let (token, body) = app.first_step("alice").await;
    assert_eq!(body["methods"], json!(["passkey"]));
    let (ceremony, options) = app.second_step_options(&token).await;
    assert_eq!(options["allowCredentials"][0]["id"], authenticator.id());
    assert_eq!(options["userVerification"], "required");
    let credential = authenticator.assert(&options);
    let proof = json!({"ceremony": ceremony, "credential": credential});
    let mut res = app.second_step(&token, proof.clone()).await;
    assert_eq!(res.status(), 200);
    let login = Session::read(&mut res).await;
    assert_eq!(
        claims(&login.access)["amr"],
        json!(["pwd", "hwk", "user", "mfa"])
    );
    // the pending login and the ceremony are spent
    assert_invalid_credentials(app.second_step(&token, proof).await).await;
}

#[actix_web::test]
async fn a_passkey_steps_a_stale_session_up_and_then_it_may_manage_passkeys() {
    let (app, session, mut authenticator) = registered().await;
    app.advance(301.0);
    let res = app.ask_to_register(&session.access).await;
    assert_error(res, 401, "insufficient_user_authentication").await;
    let (ceremony, options) = app.step_up_options(&session.access).await;
    let credential = authenticator.assert(&options);
    let body = json!({"ceremony": ceremony, "credential": credential});
    let mut res = app
        .call_json("POST", "/auth/step-up", &session.access, &body)
        .await;
    assert_eq!(res.status(), 200);
    assert!(set_cookie(&res, COOKIE).is_none(), "the same session");
    let body: Value = res.json().await.unwrap();
    let stepped = body["access_token"].as_str().unwrap();
    let claims = claims(stepped);
    assert_eq!(claims["sid"], session.sid());
    assert_eq!(claims["acr"], "mfa");
    assert_eq!(claims["amr"], json!(["pwd", "hwk", "user", "mfa"]));
    app.assert_just_now(&claims["auth_time"]);
    let res = app.ask_to_register(stepped).await;
    assert_eq!(res.status(), 200);
}

#[actix_web::test]
async fn a_passkey_is_renamed_and_deleted_and_then_refused() {
    let app = spawn_with_passkeys(|_| {}).await;
    let before = app.logged_in("alice", &[Role::User]).await;
    let session = app.login("alice").await;
    let mut authenticator = Authenticator::new();
    let mut res = app
        .register_passkey(&session, &mut authenticator, "Laptop")
        .await;
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.unwrap();
    let mut fields: Vec<&str> = created
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        ["created_at", "id", "name"],
        "§9's answer: {created}"
    );
    // adding a factor ends every other session of the user
    assert_eq!(app.refresh(&before.refresh).await.status(), 401);
    // a session opened after it, to see the deletion end it too
    let other = app.passkey_session(&mut authenticator).await;
    let id = stored_passkey_id(&app, &session).await;
    let path = format!("/auth/passkeys/{id}");
    let mut res = app
        .call_json("PATCH", &path, &session.access, &json!({"name": "Phone"}))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["name"], "Phone");
    let res = app
        .call_json("PATCH", &path, &session.access, &json!({"name": ""}))
        .await;
    assert_error(res, 400, "invalid_input").await;

    // bob can neither see, rename nor delete it
    let bob = app.logged_in("bob", &[Role::User]).await;
    let res = app.call("DELETE", &path, &bob.access).await;
    assert_error(res, 404, "not_found").await;
    let res = app
        .call_json("PATCH", &path, &bob.access, &json!({"name": "Mine"}))
        .await;
    assert_error(res, 404, "not_found").await;
    let mut res = app.call("GET", "/auth/passkeys", &bob.access).await;
    assert_eq!(res.json::<Value>().await.unwrap(), json!({"passkeys": []}));

    let res = app.call("DELETE", &path, &session.access).await;
    assert_eq!(res.status(), 204);
    assert!(stored_passkeys(app.db()).is_empty());
    // removing a factor ends every other session of the user
    assert_eq!(app.refresh(&other.refresh).await.status(), 401);
    assert_invalid_credentials(app.passkey_login(&mut authenticator).await).await;
    // and the password alone logs in again
    assert_eq!(app.login_raw("alice", PASSWORD).await.status(), 200);
}

/// The id of the one passkey of the caller of `session`.
async fn stored_passkey_id(app: &TestApp, session: &Session) -> String {
    let mut res = app.call("GET", "/auth/passkeys", &session.access).await;
    let list: Value = res.json().await.unwrap();
    list["passkeys"][0]["id"].as_str().unwrap().to_owned()
}

#[actix_web::test]
async fn registering_or_deleting_needs_a_fresh_authentication() {
    let (app, session, _) = registered().await;
    let id = stored_passkey_id(&app, &session).await;
    app.advance(301.0);
    let path = format!("/auth/passkeys/{id}");
    let res = app.call("DELETE", &path, &session.access).await;
    assert_error(res, 401, "insufficient_user_authentication").await;
    let res = app.ask_to_register(&session.access).await;
    assert_error(res, 401, "insufficient_user_authentication").await;
    assert_eq!(stored_passkeys(app.db()).len(), 1);
}

/// Alice's passkey, changed by `tamper`, fails a passwordless login with
/// nothing changed in the database; the app, for more.
async fn assert_login_refused_when(tamper: impl FnOnce(&mut Authenticator)) -> TestApp {
    let (app, _, mut authenticator) = registered().await;
    let before = snapshot(&app);
    tamper(&mut authenticator);
    assert_invalid_credentials(app.passkey_login(&mut authenticator).await).await;
    assert_eq!(snapshot(&app), before);
    app
}

#[actix_web::test]
async fn an_assertion_for_another_origin_is_refused_and_changes_nothing() {
    assert_login_refused_when(|a| a.origin = "https://evil.example".into()).await;
    // the same host on another port, or another scheme, is another origin
    assert_login_refused_when(|a| a.origin = "https://portcullis.test:8443".into()).await;
    assert_login_refused_when(|a| a.origin = "http://portcullis.test".into()).await;
}

#[actix_web::test]
async fn an_assertion_for_another_rp_id_is_refused_and_changes_nothing() {
    assert_login_refused_when(|a| a.rp_id = Some("evil.example".into())).await;
}

#[actix_web::test]
async fn an_assertion_without_user_verification_is_refused_and_changes_nothing() {
    let app = assert_login_refused_when(|a| a.verifies_user = false).await;
    let failed = stored_of_kind(app.db(), "login_failed");
    assert_eq!(
        failed.len(),
        1,
        "a failed passkey login is a security event"
    );
}

#[actix_web::test]
async fn a_registration_without_user_verification_is_refused() {
    let app = spawn_with_passkeys(|_| {}).await;
    let session = app.logged_in("alice", &[Role::User]).await;
    let mut authenticator = Authenticator::new();
    authenticator.verifies_user = false;
    let res = app
        .register_passkey(&session, &mut authenticator, "Key")
        .await;
    assert_error(res, 400, "invalid_input").await;
    assert!(stored_passkeys(app.db()).is_empty());
}

#[actix_web::test]
async fn a_counter_that_goes_backwards_is_refused_and_changes_nothing() {
    let (app, _, mut authenticator) = registered().await;
    authenticator.counter = 10;
    assert_eq!(app.passkey_login(&mut authenticator).await.status(), 200);
    assert_eq!(
        stored_passkeys(app.db())[&authenticator.id()].sign_count,
        11
    );
    let before = snapshot(&app);
    // 5 went backwards; 11 is the stored one again: a clone's, or a replay
    for counter in [5, 11] {
        let res = login_answered(&app, |o| authenticator.assert_with_counter(o, counter)).await;
        assert_invalid_credentials(res).await;
        assert_eq!(snapshot(&app), before, "counter {counter}");
    }
    let res = login_answered(&app, |o| authenticator.assert_with_counter(o, 12)).await;
    assert_eq!(res.status(), 200, "12 is above 11");
}

#[actix_web::test]
async fn a_synced_passkey_whose_counter_stays_zero_logs_in_again_and_again() {
    let app = spawn_with_passkeys(|_| {}).await;
    let session = app.logged_in("alice", &[Role::User]).await;
    let mut authenticator = Authenticator::synced();
    let res = app
        .register_passkey(&session, &mut authenticator, "Synced")
        .await;
    assert_eq!(res.status(), 201);
    for _ in 0..2 {
        assert_eq!(app.passkey_login(&mut authenticator).await.status(), 200);
    }
    assert_eq!(stored_passkeys(app.db())[&authenticator.id()].sign_count, 0);
    // a counter that appears after zero is accepted; then it must rise
    authenticator.counter = 3;
    assert_eq!(app.passkey_login(&mut authenticator).await.status(), 200);
    let res = login_answered(&app, |o| authenticator.assert_with_counter(o, 0)).await;
    assert_invalid_credentials(res).await;
}

#[actix_web::test]
async fn another_users_passkey_is_refused_for_her_login_and_changes_nothing() {
    let (app, alice, _) = registered().await;
    let mut bobs = Authenticator::new();
    app.with_a_passkey("bob", &mut bobs).await;
    let before = snapshot(&app);

    // bob's passkey at alice's second step
    let (token, _) = app.first_step("alice").await;
    let (ceremony, options) = app.second_step_options(&token).await;
    let credential = bobs.assert(&options);
    let proof = json!({"ceremony": ceremony, "credential": credential});
    assert_invalid_credentials(app.second_step(&token, proof).await).await;
    // bob's credential claiming alice's user handle in a passwordless login
    let alice = alice.user_id();
    let res = login_answered(&app, |o| {
        let mut credential = bobs.assert(o);
        let handle = uuid::Uuid::parse_str(&alice).unwrap();
        credential["response"]["userHandle"] = b64(handle.as_bytes()).into();
        credential
    })
    .await;
    assert_invalid_credentials(res).await;
    // alice's passkey login does not log bob in, nor bob's alice
    assert_eq!(snapshot(&app).0, before.0);
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[actix_web::test]
async fn a_replayed_assertion_or_a_ceremony_finished_twice_or_late_is_refused() {
    let (app, _, mut authenticator) = registered().await;
    let (ceremony, options) = app.passkey_login_options().await;
    let first = authenticator.assert(&options);
    let res = app.finish_passkey_login(&ceremony, &first).await;
    assert_eq!(res.status(), 200);
    let before = snapshot(&app);
    // the same answer again, and the same answer to a new ceremony
    let res = app.finish_passkey_login(&ceremony, &first).await;
    assert_invalid_credentials(res).await;
    let (fresh, _) = app.passkey_login_options().await;
    let res = app.finish_passkey_login(&fresh, &first).await;
    assert_invalid_credentials(res).await;
    // a fresh, valid assertion (a higher counter) for the spent ceremony
    let second = authenticator.assert(&options);
    let res = app.finish_passkey_login(&ceremony, &second).await;
    assert_invalid_credentials(res).await;
    assert_eq!(snapshot(&app), before);

    let (late, options) = app.passkey_login_options().await;
    app.advance(301.0);
    let credential = authenticator.assert(&options);
    let res = app.finish_passkey_login(&late, &credential).await;
    assert_invalid_credentials(res).await;
    assert_eq!(snapshot(&app), before);
}

#[actix_web::test]
async fn a_disabled_user_cannot_log_in_with_a_passkey_and_nothing_changes() {
    let (app, session, mut authenticator) = registered().await;
    app.set_disabled_flag(&session.user_id());
    let before = snapshot(&app);
    assert_invalid_credentials(app.passkey_login(&mut authenticator).await).await;
    assert_eq!(snapshot(&app), before);
}

#[actix_web::test]
async fn without_a_public_url_passkeys_are_not_offered() {
    let app = spawn_app().await;
    let session = app.logged_in("alice", &[Role::User]).await;
    let res = app.post_json("/auth/passkey/options", &json!({})).await;
    assert_error(res, 404, "not_found").await;
    let res = app.ask_to_register(&session.access).await;
    assert_error(res, 404, "not_found").await;
    let mut res = app.call("GET", "/auth/mfa", &session.access).await;
    assert_eq!(
        res.json::<Value>().await.unwrap()["passkeys_available"],
        false
    );
}

#[actix_web::test]
async fn a_start_without_a_public_url_that_passkeys_need_is_a_configuration_error() {
    let database = std::sync::Arc::new(TestDatabase::sqlite());
    let app = spawn_on(&database, with_public_url).await;
    app.with_a_passkey("alice", &mut Authenticator::new()).await;
    let db = database.url.as_str();
    let out = serve_command(&[("DATABASE_URL", db)]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stderr.lines().find(|l| l.contains("PORTCULLIS_PUBLIC_URL"));
    assert!(line.is_some_and(|l| l.contains("1 passkey")), "{stderr}");
    // an IP address cannot be an RP ID
    let ip = ("PORTCULLIS_PUBLIC_URL", "http://127.0.0.1:8080");
    let out = serve_command(&[("DATABASE_URL", db), ip]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("PORTCULLIS_PUBLIC_URL"), "{stderr}");
}

#[actix_web::test]
async fn a_public_url_by_ip_address_serves_everything_but_passkeys() {
    // an IP address cannot be an RP ID: TOTP and providers still work there
    let app = spawn_with(|a| a.public_url = Some("http://127.0.0.1:8080".into())).await;
    let res = app.post_json("/auth/passkey/options", &json!({})).await;
    assert_error(res, 404, "not_found").await;
    let session = app.logged_in("alice", &[Role::User]).await;
    let mut res = app.call("GET", "/auth/mfa", &session.access).await;
    let factors: Value = res.json().await.unwrap();
    assert_eq!(factors["passkeys_available"], false, "{factors}");
}

#[actix_web::test]
async fn a_ceremony_serves_only_its_kind_and_its_user() {
    let (app, alice, mut authenticator) = registered().await;
    let mut bobs = Authenticator::new();
    let bob = app.with_a_passkey("bob", &mut bobs).await;
    let before = snapshot(&app);

    // a registration ceremony is no login ceremony
    let (ceremony, _) = app
        .passkey_options("/auth/passkeys/options", Some(&alice.access), &json!({}))
        .await;
    let (_, login_options) = app.passkey_login_options().await;
    let assertion = authenticator.assert(&login_options);
    let res = app.finish_passkey_login(&ceremony, &assertion).await;
    assert_invalid_credentials(res).await;

    // alice's step-up ceremony, answered by alice's passkey, does not step bob up
    let (ceremony, options) = app.step_up_options(&alice.access).await;
    let credential = authenticator.assert(&options);
    let body = json!({"ceremony": ceremony, "credential": credential});
    let res = app
        .call_json("POST", "/auth/step-up", &bob.access, &body)
        .await;
    assert_invalid_credentials(res).await;
    // nor does bob's passkey answer a step-up of alice's
    let (ceremony, options) = app.step_up_options(&alice.access).await;
    let mut wider = options.clone();
    wider["allowCredentials"] = json!([]);
    let credential = bobs.assert(&wider);
    let body = json!({"ceremony": ceremony, "credential": credential});
    let res = app
        .call_json("POST", "/auth/step-up", &alice.access, &body)
        .await;
    assert_invalid_credentials(res).await;

    // bob's second-step ceremony is not alice's pending login's
    let (alice_token, _) = app.first_step("alice").await;
    let (bob_token, _) = app.first_step("bob").await;
    let (ceremony, options) = app.second_step_options(&bob_token).await;
    let credential = bobs.assert(&options);
    let proof = json!({"ceremony": ceremony, "credential": credential});
    assert_invalid_credentials(app.second_step(&alice_token, proof).await).await;
    assert_eq!(snapshot(&app), before, "nothing changed");
}

#[actix_web::test]
async fn adding_using_and_deleting_a_passkey_are_security_events() {
    let (app, session, mut authenticator) = registered().await;
    let detail = |e: &portcullis::db::events::EventRow| e.detail.clone().unwrap_or_default();
    let added = stored_of_kind(app.db(), "factor_added");
    assert!(
        added.iter().any(|e| detail(e).contains("passkey")),
        "{added:?}"
    );
    app.passkey_session(&mut authenticator).await;
    let logins = stored_of_kind(app.db(), "login_ok");
    assert!(
        logins.iter().any(|e| detail(e).contains("hwk")),
        "the login says how: {logins:?}"
    );
    let id = stored_passkey_id(&app, &session).await;
    let res = app
        .call("DELETE", &format!("/auth/passkeys/{id}"), &session.access)
        .await;
    assert_eq!(res.status(), 204);
    let removed = stored_of_kind(app.db(), "factor_removed");
    assert!(
        removed.iter().any(|e| detail(e).contains("passkey")),
        "{removed:?}"
    );
}
