//! Contract §9 without passkeys: TOTP and recovery codes, the two-step
//! login, `acr`/`amr`/`auth_time` in tokens, step-up, and who must use a
//! second factor. Codes come from `oathtool`, an RFC 6238 implementation
//! that is not ours.

use std::time::Duration;

use portcullis::auth::Role;
use serde_json::{Value, json};

use crate::support::*;

/// A gateway with TOTP, and `name` logged in with a password.
async fn gateway_with(name: &str, roles: &[Role]) -> (TestApp, Session) {
    let app = spawn_with_factors(|_| {}).await;
    let session = app.logged_in(name, roles).await;
    (app, session)
}

#[actix_web::test]
async fn totp_is_set_up_confirmed_with_a_code_and_then_asked_for_at_login() {
    let (app, session) = gateway_with("alice", &[]).await;
    let mut res = app.call("GET", "/auth/mfa", &session.access).await;
    let status: Value = res.json().await.unwrap();
    assert_eq!(
        status,
        json!({"totp": false, "totp_available": true, "passkeys": [],
               "passkeys_available": false, "recovery_codes_left": 0, "required": false})
    );
    let mut res = app
        .call("POST", "/auth/mfa/totp/setup", &session.access)
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers().get("cache-control").unwrap(), "no-store");
    let setup: Value = res.json().await.unwrap();
    let secret = setup["secret"].as_str().unwrap();
    assert_eq!(secret.len(), 32, "160 bits in base32");
    assert_eq!(
        setup["otpauth_uri"],
        format!("otpauth://totp/portcullis:alice?secret={secret}&issuer=portcullis")
    );
    assert!(setup["qr_svg"].as_str().unwrap().contains("<svg"));
    // a wrong code confirms nothing
    let mut res = app
        .call_json(
            "POST",
            "/auth/mfa/totp/confirm",
            &session.access,
            &json!({"code": "000000"}),
        )
        .await;
    assert_eq!(error_code(&mut res).await, "invalid_input");
    let mut res = app.call("GET", "/auth/mfa", &session.access).await;
    assert_eq!(res.json::<Value>().await.unwrap()["totp"], false);

    let enrolled = app.enrol_totp(&session).await;
    assert_eq!(enrolled.recovery_codes.len(), 10);
    let mut res = app.call("GET", "/auth/mfa", &session.access).await;
    let status: Value = res.json().await.unwrap();
    assert_eq!(
        (
            status["totp"].clone(),
            status["recovery_codes_left"].clone()
        ),
        (json!(true), json!(10))
    );

    // the password alone no longer logs in
    let (token, body) = app.first_step("alice").await;
    assert_eq!(body["methods"], json!(["totp", "recovery_code"]));
    assert!(body["message"].is_string());
    assert!(token.len() >= 43, "256 random bits");
    let code = app.code_now(&enrolled.secret);
    let mut res = app.second_step(&token, json!({ "totp": code })).await;
    assert_eq!(res.status(), 200);
    let two = Session::read(&mut res).await;
    let claims = claims(&two.access);
    assert_eq!(claims["acr"], "mfa");
    assert_eq!(claims["amr"], json!(["pwd", "otp", "mfa"]));
    app.assert_just_now(&claims["auth_time"]);
    // a refresh keeps how the session authenticated
    app.advance(60.0);
    let mut res = app.refresh(&two.refresh).await;
    let refreshed = Session::read(&mut res).await;
    let again = claims_of(&refreshed.access);
    assert_eq!(again["acr"], "mfa");
    assert_eq!(again["auth_time"], claims["auth_time"]);
}

fn claims_of(access: &str) -> Value {
    claims(access)
}

#[actix_web::test]
async fn a_wrong_password_answers_alike_with_or_without_a_second_factor() {
    let (app, session) = gateway_with("alice", &[]).await;
    app.add_user("bob", &[]);
    app.enrol_totp(&session).await;
    let mut bodies = Vec::new();
    for name in ["alice", "bob", "nobody"] {
        let mut res = app.login_raw(name, "wrong password!").await;
        assert_eq!(res.status(), 401);
        assert!(res.headers().get("set-cookie").is_none());
        bodies.push(res.json::<Value>().await.unwrap());
    }
    assert!(bodies.iter().all(|b| b == &bodies[0]), "{bodies:?}");
    assert_eq!(bodies[0]["error"], "invalid_credentials");
}

#[actix_web::test]
async fn a_code_works_once_its_neighbour_steps_too_and_two_steps_away_never() {
    let (app, session) = gateway_with("alice", &[]).await;
    let enrolled = app.enrol_totp(&session).await;
    // the step before is one no code was accepted for yet
    app.advance(30.0);
    app.to_mid_step();
    let t = app.unix_now();
    let login_with = |code: String| {
        let app = &app;
        async move {
            let (token, _) = app.first_step("alice").await;
            app.second_step(&token, json!({ "totp": code }))
                .await
                .status()
        }
    };
    // the step before, then this one, then the one after: each once
    assert_eq!(login_with(oathtool(&enrolled.secret, t - 30)).await, 200);
    assert_eq!(
        login_with(oathtool(&enrolled.secret, t - 30)).await,
        401,
        "replay"
    );
    assert_eq!(login_with(oathtool(&enrolled.secret, t)).await, 200);
    assert_eq!(
        login_with(oathtool(&enrolled.secret, t)).await,
        401,
        "replay"
    );
    assert_eq!(login_with(oathtool(&enrolled.secret, t + 30)).await, 200);
    // two steps away, either way
    assert_eq!(login_with(oathtool(&enrolled.secret, t + 60)).await, 401);
    app.advance(120.0);
    assert_eq!(
        login_with(oathtool(&enrolled.secret, t)).await,
        401,
        "too old now"
    );
}

#[actix_web::test]
async fn a_recovery_code_works_once_and_new_ones_kill_the_old() {
    let (app, session) = gateway_with("alice", &[]).await;
    let enrolled = app.enrol_totp(&session).await;
    let code = enrolled.recovery_codes[3].clone();
    let (token, _) = app.first_step("alice").await;
    // as a person types it: lower case, spaces for dashes
    let typed = code.to_lowercase().replace('-', " ");
    let res = app
        .second_step(&token, json!({ "recovery_code": typed }))
        .await;
    assert_eq!(res.status(), 200);
    let (token, _) = app.first_step("alice").await;
    let res = app
        .second_step(&token, json!({ "recovery_code": code }))
        .await;
    assert_error(res, 401, "invalid_credentials").await;
    let mut res = app.call("GET", "/auth/mfa", &session.access).await;
    assert_eq!(res.json::<Value>().await.unwrap()["recovery_codes_left"], 9);

    let mut res = app
        .call("POST", "/auth/mfa/recovery-codes", &session.access)
        .await;
    assert_eq!(res.status(), 200);
    let fresh: Value = res.json().await.unwrap();
    assert_eq!(fresh["recovery_codes"].as_array().unwrap().len(), 10);
    let (token, _) = app.first_step("alice").await;
    let old = enrolled.recovery_codes[0].clone();
    let res = app
        .second_step(&token, json!({ "recovery_code": old }))
        .await;
    assert_error(res, 401, "invalid_credentials").await;
    let res = app
        .second_step(
            &token,
            json!({ "recovery_code": fresh["recovery_codes"][0] }),
        )
        .await;
    assert_eq!(res.status(), 200, "a new code, on the same pending login");
}

#[actix_web::test]
async fn a_pending_login_finishes_once_within_five_minutes_for_its_own_user() {
    let (app, alice) = gateway_with("alice", &[]).await;
    let a = app.enrol_totp(&alice).await;
    let bob = app.logged_in("bob", &[]).await;
    let b = app.enrol_totp(&bob).await;
    let (token, _) = app.first_step("alice").await;
    // bob's code does not finish alice's login
    let res = app
        .second_step(&token, json!({ "totp": app.code_now(&b.secret) }))
        .await;
    assert_error(res, 401, "invalid_credentials").await;
    let res = app
        .second_step(&token, json!({ "totp": app.code_now(&a.secret) }))
        .await;
    assert_eq!(res.status(), 200);
    // used: not again, not even with a code not spent yet
    app.advance(30.0);
    let res = app
        .second_step(&token, json!({ "totp": app.code_now(&a.secret) }))
        .await;
    assert_error(res, 401, "invalid_credentials").await;
    // five minutes pass
    let (token, _) = app.first_step("alice").await;
    app.advance(301.0);
    let res = app
        .second_step(&token, json!({ "totp": app.code_now(&a.secret) }))
        .await;
    assert_error(res, 401, "invalid_credentials").await;
    // an unknown token, and a malformed body
    let res = app
        .second_step("not-a-token", json!({ "totp": "123456" }))
        .await;
    assert_error(res, 401, "invalid_credentials").await;
    let res = app
        .second_step("x", json!({ "totp": "123456", "recovery_code": "x" }))
        .await;
    assert_error(res, 400, "invalid_input").await;
}

#[actix_web::test]
async fn five_wrong_codes_end_a_pending_login_and_count_against_the_username() {
    let (app, alice) = gateway_with("alice", &[]).await;
    let a = app.enrol_totp(&alice).await;
    let (token, _) = app.first_step("alice").await;
    for _ in 0..5 {
        let res = app.second_step(&token, json!({ "totp": "000000" })).await;
        assert_error(res, 401, "invalid_credentials").await;
    }
    // the fifth ended the pending login: the right code no longer finishes it
    let res = app
        .second_step(&token, json!({ "totp": app.code_now(&a.secret) }))
        .await;
    assert_error(res, 401, "invalid_credentials").await;
    // and the five were the username's attempts of the window
    let res = app.login_raw("alice", PASSWORD).await;
    assert_throttled(res).await;
    // once the window has passed, the pending login is still over
    app.advance(301.0);
    let (token2, _) = app.first_step("alice").await;
    let res = app
        .second_step(&token, json!({ "totp": app.code_now(&a.secret) }))
        .await;
    assert_error(res, 401, "invalid_credentials").await;
    let res = app
        .second_step(&token2, json!({ "totp": app.code_now(&a.secret) }))
        .await;
    assert_eq!(res.status(), 200, "a new pending login finishes");
}

#[actix_web::test]
async fn the_fifth_wrong_code_ends_the_pending_login_even_from_many_addresses() {
    let (app, alice) = gateway_with("alice", &[]).await;
    let a = app.enrol_totp(&alice).await;
    let (token, _) = app.first_step("alice").await;
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let res = app.second_step(&token, json!({ "totp": "999999" })).await;
        statuses.push(res.status().as_u16());
    }
    assert!(
        statuses.iter().all(|s| *s == 401 || *s == 429),
        "{statuses:?}"
    );
    app.advance(301.0);
    let res = app
        .second_step(&token, json!({ "totp": app.code_now(&a.secret) }))
        .await;
    assert_eq!(res.status(), 401);
}

#[actix_web::test]
async fn a_disabled_user_cannot_finish_a_pending_login() {
    let (app, alice) = gateway_with("alice", &[]).await;
    let a = app.enrol_totp(&alice).await;
    let (token, _) = app.first_step("alice").await;
    app.disable_user("alice").await;
    let res = app
        .second_step(&token, json!({ "totp": app.code_now(&a.secret) }))
        .await;
    assert_error(res, 401, "invalid_credentials").await;
}

#[actix_web::test]
async fn an_mfa_token_is_no_access_token_anywhere() {
    let (app, alice) = gateway_with("alice", &[]).await;
    app.enrol_totp(&alice).await;
    let (token, _) = app.first_step("alice").await;
    for (method, path) in [
        ("GET", "/auth/me"),
        ("GET", "/auth/mfa"),
        ("GET", "/auth/sessions"),
        ("POST", "/auth/mfa/totp/setup"),
        ("POST", "/auth/step-up"),
        ("GET", "/api/employees"),
    ] {
        let res = app.call(method, path, &token).await;
        assert_eq!(res.status(), 401, "{method} {path}");
    }
    let res = app
        .client
        .post(format!("{}/auth/refresh", app.url))
        .insert_header(("X-CSRF", "1"))
        .insert_header(("Cookie", format!("{COOKIE}={token}")))
        .send()
        .await
        .unwrap();
    assert_error(res, 401, "invalid_refresh_token").await;
}

#[actix_web::test]
async fn totp_seeds_are_stored_sealed_never_as_the_seed() {
    let (app, alice) = gateway_with("alice", &[]).await;
    let enrolled = app.enrol_totp(&alice).await;
    let stored = app.stored_bytes();
    let raw = base32_decode(&enrolled.secret);
    assert!(
        !contains(&stored, enrolled.secret.as_bytes()),
        "the base32 seed is stored"
    );
    assert!(!contains(&stored, &raw), "the raw seed is stored");
    for code in &enrolled.recovery_codes {
        assert!(
            !contains(&stored, code.as_bytes()),
            "a recovery code is stored"
        );
        assert!(!contains(&stored, code.replace('-', "").as_bytes()));
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn base32_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut bits, mut value, mut out) = (0u32, 0u32, Vec::new());
    for c in text.bytes() {
        value = (value << 5) | ALPHABET.iter().position(|a| *a == c).unwrap() as u32;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((value >> bits) as u8);
            value &= (1 << bits) - 1;
        }
    }
    out
}

#[actix_web::test]
async fn the_factor_routes_refuse_a_stale_session_and_accept_it_after_a_step_up() {
    let (app, alice) = gateway_with("alice", &[]).await;
    app.advance(301.0);
    let mut res = app
        .call("POST", "/auth/mfa/totp/setup", &alice.access)
        .await;
    assert_eq!(res.status(), 401);
    assert_eq!(
        res.headers().get("www-authenticate").unwrap(),
        r#"Bearer error="insufficient_user_authentication", error_description="A more recent authentication is required.", max_age=300"#
    );
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "insufficient_user_authentication");
    assert_eq!(
        (body["acr_values"].clone(), body["max_age"].clone()),
        (Value::Null, json!(300))
    );
    for (method, path) in [
        ("POST", "/auth/mfa/totp/confirm"),
        ("DELETE", "/auth/mfa/totp"),
        ("POST", "/auth/mfa/recovery-codes"),
    ] {
        let res = app.call(method, path, &alice.access).await;
        assert_error(res, 401, "insufficient_user_authentication").await;
    }
    // GET /auth/mfa only reads: a stale session may
    assert_eq!(
        app.call("GET", "/auth/mfa", &alice.access).await.status(),
        200
    );

    let mut res = app
        .call_json(
            "POST",
            "/auth/step-up",
            &alice.access,
            &json!({ "password": PASSWORD }),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers().get("set-cookie").is_none(),
        "the refresh token stays"
    );
    let stepped: Value = res.json().await.unwrap();
    let access = stepped["access_token"].as_str().unwrap();
    assert_eq!(sid(access), alice.sid(), "the same session");
    let auth_time = claims(access)["auth_time"].clone();
    app.assert_just_now(&auth_time);
    assert_eq!(claims(access)["acr"], "pwd");
    let res = app.call("POST", "/auth/mfa/totp/setup", access).await;
    assert_eq!(res.status(), 200);
    // the old refresh token still refreshes, and keeps the new auth_time
    let mut res = app.refresh(&alice.refresh).await;
    let refreshed = Session::read(&mut res).await;
    assert_eq!(claims(&refreshed.access)["auth_time"], auth_time);
}

#[actix_web::test]
async fn a_wrong_step_up_is_refused_and_throttled_like_a_login() {
    let (app, alice) = gateway_with("alice", &[]).await;
    for _ in 0..5 {
        let res = app
            .call_json(
                "POST",
                "/auth/step-up",
                &alice.access,
                &json!({ "password": "wrong one!" }),
            )
            .await;
        assert_error(res, 401, "invalid_credentials").await;
    }
    let res = app
        .call_json(
            "POST",
            "/auth/step-up",
            &alice.access,
            &json!({ "password": PASSWORD }),
        )
        .await;
    assert_throttled(res).await;
    // the owner's login is not locked by a stolen token's guesses
    assert_eq!(app.login_raw("alice", PASSWORD).await.status(), 200);
    let res = app
        .call_json(
            "POST",
            "/auth/step-up",
            &alice.access,
            &json!({ "password": "x", "totp": "1" }),
        )
        .await;
    assert_error(res, 400, "invalid_input").await;
}

#[actix_web::test]
async fn an_mfa_rule_refuses_a_password_token_with_the_exact_challenge_until_a_step_up() {
    let dir = tempfile::tempdir().unwrap();
    let policy = policy_file(
        dir.path(),
        r#"
[[rule]]
methods = ["GET"]
path = "/payroll"
roles = ["user"]
acr = "mfa"

[[rule]]
methods = ["GET"]
path = "/fresh"
roles = ["user"]
max_age = 60

[[rule]]
methods = ["*"]
path = "/"
roles = ["user"]
"#,
    );
    let app = spawn_proxied_with(|args| {
        with_encryption_key(args);
        args.policy = Some(policy);
    })
    .await;
    let alice = app.logged_in("alice", &[]).await;
    let mut res = app.api("GET", "/payroll", &alice.access).await;
    assert_eq!(res.status(), 401);
    assert_eq!(
        res.headers().get("www-authenticate").unwrap(),
        r#"Bearer error="insufficient_user_authentication", error_description="A second factor is required.", acr_values="mfa""#
    );
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        (body["acr_values"].clone(), body["max_age"].clone()),
        (json!("mfa"), Value::Null)
    );
    assert_eq!(app.upstream().hits(), 0, "refused before the upstream");
    // a password step-up is not a second factor
    let mut res = app
        .call_json(
            "POST",
            "/auth/step-up",
            &alice.access,
            &json!({ "password": PASSWORD }),
        )
        .await;
    let pwd: Value = res.json().await.unwrap();
    let res = app
        .api("GET", "/payroll", pwd["access_token"].as_str().unwrap())
        .await;
    assert_error(res, 401, "insufficient_user_authentication").await;

    let enrolled = app.enrol_totp(&alice).await;
    let code = app.code_now(&enrolled.secret);
    let mut res = app
        .call_json(
            "POST",
            "/auth/step-up",
            &alice.access,
            &json!({ "totp": code }),
        )
        .await;
    assert_eq!(res.status(), 200);
    let stepped: Value = res.json().await.unwrap();
    let access = stepped["access_token"].as_str().unwrap().to_owned();
    assert_eq!(claims(&access)["acr"], "mfa");
    assert_eq!(claims(&access)["amr"], json!(["pwd", "otp", "mfa"]));
    assert_eq!(app.api("GET", "/payroll", &access).await.status(), 200);

    // max_age, by the test clock
    assert_eq!(app.api("GET", "/fresh", &access).await.status(), 200);
    app.advance(61.0);
    let mut res = app.api("GET", "/fresh", &access).await;
    assert_eq!(res.status(), 401);
    assert_eq!(
        res.headers().get("www-authenticate").unwrap(),
        r#"Bearer error="insufficient_user_authentication", error_description="A more recent authentication is required.", max_age=60"#
    );
    assert_eq!(
        error_code(&mut res).await,
        "insufficient_user_authentication"
    );
    // a role the caller lacks is still 403, whatever the authentication
    let res = app.api("DELETE", "/anything", &access).await;
    assert_eq!(res.status(), 200, "the catch-all rule lets users through");
}

#[actix_web::test]
async fn removing_or_adding_a_factor_ends_every_other_session() {
    let (app, alice) = gateway_with("alice", &[]).await;
    let other = app.login("alice").await;
    let enrolled = app.enrol_totp(&alice).await;
    app.wait_until_refused(&other.access, Duration::from_secs(2))
        .await;
    assert_eq!(
        app.me(&alice.access).await.status(),
        200,
        "the caller's stays"
    );
    let third = app.login_with_totp("alice", &enrolled.secret).await;
    let res = app.call("DELETE", "/auth/mfa/totp", &alice.access).await;
    assert_eq!(res.status(), 204);
    app.wait_until_refused(&third.access, Duration::from_secs(2))
        .await;
    let mut res = app.refresh(&third.refresh).await;
    assert_eq!(error_code(&mut res).await, "invalid_refresh_token");
    // the password alone logs in again, and the recovery codes died with TOTP
    assert_eq!(app.login_raw("alice", PASSWORD).await.status(), 200);
    let mut res = app.call("GET", "/auth/mfa", &alice.access).await;
    let status: Value = res.json().await.unwrap();
    assert_eq!(
        (
            status["totp"].clone(),
            status["recovery_codes_left"].clone()
        ),
        (json!(false), json!(0))
    );
    let res = app.call("DELETE", "/auth/mfa/totp", &alice.access).await;
    assert_error(res, 404, "not_found").await;
}

#[actix_web::test]
async fn without_an_encryption_key_totp_is_not_offered() {
    let app = spawn_app().await;
    let alice = app.logged_in("alice", &[]).await;
    let mut res = app.call("GET", "/auth/mfa", &alice.access).await;
    assert_eq!(res.json::<Value>().await.unwrap()["totp_available"], false);
    let res = app
        .call("POST", "/auth/mfa/totp/setup", &alice.access)
        .await;
    assert_error(res, 404, "not_found").await;
}

#[actix_web::test]
async fn a_role_that_must_use_a_second_factor_can_only_enrol_until_it_does() {
    let app = spawn_proxied_with(|args| {
        with_encryption_key(args);
        args.mfa_required_roles = "editor".into();
    })
    .await;
    let bob = app.logged_in("bob", &[Role::Editor]).await;
    let mut res = app.api("GET", "/employees", &bob.access).await;
    assert_eq!(res.status(), 401);
    assert_eq!(
        res.headers().get("www-authenticate").unwrap(),
        r#"Bearer error="insufficient_user_authentication", error_description="A second factor is required.", acr_values="mfa""#
    );
    assert_eq!(
        error_code(&mut res).await,
        "insufficient_user_authentication"
    );
    let res = app.call("GET", "/auth/sessions", &bob.access).await;
    assert_error(res, 401, "insufficient_user_authentication").await;
    assert_eq!(app.me(&bob.access).await.status(), 200);
    let mut res = app.call("GET", "/auth/mfa", &bob.access).await;
    assert_eq!(res.json::<Value>().await.unwrap()["required"], true);
    let enrolled = app.enrol_totp(&bob).await;
    let two = app.login_with_totp("bob", &enrolled.secret).await;
    assert_eq!(
        app.api("GET", "/employees", &two.access).await.status(),
        200
    );
    // a plain user is not asked
    let carol = app.logged_in("carol", &[]).await;
    assert_eq!(
        app.api("GET", "/employees", &carol.access).await.status(),
        200
    );
}

#[actix_web::test]
async fn admins_may_be_required_to_use_a_second_factor_and_reset_a_lost_one() {
    let app = spawn_with_factors(|args| args.admin_require_mfa = "true".into()).await;
    let root = app.logged_in("root", &[Role::Admin]).await;
    let res = app.call("GET", "/auth/admin/users", &root.access).await;
    assert_error(res, 401, "insufficient_user_authentication").await;
    let enrolled = app.enrol_totp(&root).await;
    let root = app.login_with_totp("root", &enrolled.secret).await;
    let bob = app.logged_in("bob", &[]).await;
    let bobs = app.enrol_totp(&bob).await;
    let bob = app.login_with_totp("bob", &bobs.secret).await;

    let mut res = app.call("GET", "/auth/admin/users", &root.access).await;
    let users: Value = res.json().await.unwrap();
    let mfa: Vec<(&str, bool)> = users["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| (u["username"].as_str().unwrap(), u["mfa"].as_bool().unwrap()))
        .collect();
    assert_eq!(mfa, [("bob", true), ("root", true)]);
    let path = format!("/auth/admin/users/{}/mfa/reset", bob.user_id());
    assert_eq!(app.call("POST", &path, &root.access).await.status(), 204);
    app.wait_until_refused(&bob.access, Duration::from_secs(2))
        .await;
    assert_eq!(
        app.login_raw("bob", PASSWORD).await.status(),
        200,
        "password alone"
    );
    let res = app
        .call("POST", "/auth/admin/users/nobody/mfa/reset", &root.access)
        .await;
    assert_error(res, 404, "not_found").await;
}

#[actix_web::test]
async fn the_cli_resets_a_lost_second_factor() {
    let (app, alice) = gateway_with("alice", &[]).await;
    app.enrol_totp(&alice).await;
    let out = cli(&app.database_url, &["user", "mfa-reset", "alice"], "");
    assert_success(&out, "mfa-reset");
    app.wait_until_refused(&alice.access, Duration::from_secs(2))
        .await;
    assert_eq!(app.login_raw("alice", PASSWORD).await.status(), 200);
    let out = cli(&app.database_url, &["user", "mfa-reset", "nobody"], "");
    assert_eq!(out.status.code(), Some(1));
}
