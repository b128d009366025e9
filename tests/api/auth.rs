//! §3: login, refresh rotation, grace, reuse, logout, me, registration.

use std::time::Duration;

use futures_util::future::join_all;
use portcullis::auth::Role;
use serde_json::{Value, json};

use crate::support::*;

#[actix_web::test]
async fn login_returns_the_token_response_and_a_strict_refresh_cookie() {
    let app = spawn_app().await;
    let alice = app.add_user("alice", &[Role::Admin]);
    let mut res = app.login_raw("alice", PASSWORD).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers().get("cache-control").unwrap(), "no-store");
    let cookie = set_cookie(&res, COOKIE).unwrap();
    assert_eq!(cookie.http_only(), Some(true));
    assert_eq!(cookie.secure(), Some(true));
    assert_eq!(
        cookie.same_site(),
        Some(actix_web::cookie::SameSite::Strict)
    );
    assert_eq!(cookie.path(), Some("/auth"));
    let max_age = cookie.max_age().unwrap().whole_seconds();
    assert!(
        (2_591_990..=2_592_000).contains(&max_age),
        "Max-Age {max_age}"
    );
    // 256 bits, base64url
    assert_eq!(cookie.value().len(), 43);

    let body: Value = res.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert_eq!(
        body["user"],
        json!({ "id": alice.id, "username": "alice", "roles": ["user", "admin"] })
    );
    let token = body["access_token"].as_str().unwrap();
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::HS256);
    assert!(header.kid.is_some());
    let claims = claims(token);
    for claim in [
        "sub", "name", "roles", "sid", "iat", "exp", "iss", "aud", "jti",
    ] {
        assert!(!claims[claim].is_null(), "claim {claim} missing");
    }
    assert_eq!(claims["iss"], "portcullis");
    assert_eq!(claims["aud"], "portcullis-api");

    // the database holds only a hash of the refresh token
    let db_bytes = app.stored_bytes();
    let needle = cookie.value().as_bytes();
    assert!(!db_bytes.windows(needle.len()).any(|w| w == needle));
}

#[actix_web::test]
async fn unknown_user_wrong_password_and_disabled_user_get_the_same_401() {
    let app = spawn_app().await;
    app.add_user("alice", &[]);
    app.add_user("dave", &[]);
    app.disable_user("dave").await;

    let mut bodies = Vec::new();
    for (name, pw) in [
        ("nobody", PASSWORD),
        ("alice", "wrong password"),
        ("dave", PASSWORD),
    ] {
        let mut res = app.login_raw(name, pw).await;
        assert_eq!(res.status(), 401, "{name}");
        assert!(set_cookie(&res, COOKIE).is_none());
        bodies.push(res.body().await.unwrap());
    }
    assert_eq!(bodies[0], bodies[1]);
    assert_eq!(bodies[1], bodies[2]);
    let body: Value = serde_json::from_slice(&bodies[0]).unwrap();
    assert_eq!(body["error"], "invalid_credentials");
}

#[actix_web::test]
async fn unknown_users_take_about_as_long_as_wrong_passwords() {
    let app = spawn_app().await;
    app.add_user("alice", &[]);
    // the fastest of several attempts, taken in turns: other tests running
    // beside this one can only make an attempt slower, never faster
    let (mut unknown, mut known) = (Duration::MAX, Duration::MAX);
    for _ in 0..4 {
        for (name, best) in [("nobody", &mut unknown), ("alice", &mut known)] {
            let start = std::time::Instant::now();
            let res = app.login_raw(name, "wrong password").await;
            assert_eq!(res.status(), 401);
            *best = (*best).min(start.elapsed());
        }
    }
    // both run one argon2 verification per attempt; without the dummy hash
    // the unknown user would answer in a fraction of the time
    assert!(
        unknown * 2 > known,
        "unknown {unknown:?} vs known {known:?}"
    );
}

#[actix_web::test]
async fn passwords_are_compared_exactly_as_sent() {
    let app = spawn_app().await;
    app.add_user("alice", &[]);
    let res = app.login_raw("alice", &format!(" {PASSWORD}")).await;
    assert_eq!(res.status(), 401);
    assert_eq!(
        app.login_raw("ALICE", PASSWORD).await.status(),
        200,
        "usernames are case-insensitive"
    );
}

#[actix_web::test]
async fn repeated_failures_are_throttled_with_retry_after() {
    let app = spawn_app().await;
    app.add_user("alice", &[]);
    for _ in 0..5 {
        assert_eq!(app.login_raw("alice", "wrong password").await.status(), 401);
    }
    assert_throttled(app.login_raw("alice", PASSWORD).await).await;
}

#[actix_web::test]
async fn names_that_cannot_exist_are_throttled_by_address_only() {
    // junk names share a bucket per address with the address's limit (20),
    // not the stricter per-name one (5): a client trying odd names is told
    // `invalid_credentials` as long as its address may still try
    let app = spawn_app().await;
    let junk = [
        "",
        "a",
        "with space",
        "at@example.com",
        "x".repeat(40).leak(),
    ];
    for i in 0..20 {
        let name = junk[i % junk.len()];
        let mut res = app.login_raw(name, "wrong password").await;
        assert_eq!(res.status(), 401, "attempt {i} with {name:?}");
        assert_eq!(error_code(&mut res).await, "invalid_credentials");
    }
    let res = app.login_raw("with space", "wrong password").await;
    assert_eq!(res.status(), 429, "the address bucket still ends it");
}

#[actix_web::test]
async fn spoofed_forwarded_for_does_not_dodge_the_address_throttle() {
    let app = spawn_app().await;
    for i in 0..20 {
        let res = app
            .client
            .post(format!("{}/auth/login", app.url))
            .insert_header(("X-Forwarded-For", format!("10.0.0.{i}")))
            .send_json(&json!({ "username": format!("user{i}"), "password": "wrong password" }))
            .await
            .unwrap();
        assert_eq!(res.status(), 401);
    }
    let res = app
        .client
        .post(format!("{}/auth/login", app.url))
        .insert_header(("X-Forwarded-For", "10.9.9.9"))
        .send_json(&json!({ "username": "fresh", "password": "wrong password" }))
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
}

#[actix_web::test]
async fn refresh_rotates_the_token_and_reads_the_user_again() {
    let app = spawn_app().await;
    let session = app.logged_in("bob", &[]).await;
    app.set_roles("bob", &[Role::Editor]).await;

    let mut res = app.refresh(&session.refresh).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers().get("cache-control").unwrap(), "no-store");
    let next = set_cookie(&res, COOKIE).unwrap();
    assert_ne!(next.value(), session.refresh);
    assert_eq!(next.path(), Some("/auth"));
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["user"]["roles"], json!(["user", "editor"]));
    let mut me = app.me(body["access_token"].as_str().unwrap()).await;
    let me: Value = me.json().await.unwrap();
    assert_eq!(me["roles"], json!(["user", "editor"]));
}

#[actix_web::test]
async fn rotation_does_not_extend_the_session_cookie() {
    let app = spawn_with(|a| {
        a.session_ttl = "100".into();
        a.access_ttl = "10".into();
    })
    .await;
    let session = app.logged_in("bob", &[]).await;
    app.advance(1.1);
    let res = app.refresh(&session.refresh).await;
    let age = set_cookie(&res, COOKIE)
        .unwrap()
        .max_age()
        .unwrap()
        .whole_seconds();
    assert!(age <= 99, "Max-Age {age} must shrink with the session");
}

#[actix_web::test]
async fn sixteen_concurrent_refreshes_all_succeed_with_exactly_one_successor() {
    let app = spawn_app().await;
    let session = app.logged_in("bob", &[]).await;
    let responses = join_all((0..16).map(|_| app.refresh(&session.refresh))).await;
    let mut successors = std::collections::HashSet::new();
    for res in &responses {
        assert_eq!(res.status(), 200);
        successors.insert(refresh_cookie(res));
    }
    assert_eq!(successors.len(), 1, "all converge on one cookie");
    let successor = successors.into_iter().next().unwrap();
    assert_ne!(successor, session.refresh);
    // the successor is live and rotates on
    assert_eq!(app.refresh(&successor).await.status(), 200);
}

#[actix_web::test]
async fn many_sessions_rotating_at_once_lose_nothing_and_rotate_each_token_once() {
    const SESSIONS: usize = 24;
    const ROUNDS: usize = 4;
    let app = spawn_app().await;
    let mut tokens = Vec::new();
    for i in 0..SESSIONS {
        let name = format!("user{}", i % 6);
        if i < 6 {
            app.add_user(&name, &[]);
        }
        tokens.push(app.login(&name).await.refresh);
    }
    let mut seen: std::collections::HashSet<String> = tokens.iter().cloned().collect();
    for _ in 0..ROUNDS {
        let responses = join_all(tokens.iter().map(|t| app.refresh(t))).await;
        tokens = responses
            .iter()
            .map(|res| {
                assert_eq!(res.status(), 200, "no rotation is lost");
                refresh_cookie(res)
            })
            .collect();
        for t in &tokens {
            assert!(seen.insert(t.clone()), "every successor is new");
        }
    }
    // each session holds its first token and one successor per round,
    // every one spent but the last
    let (stored, unspent) = refresh_token_counts(app.db());
    assert_eq!(stored, SESSIONS * (ROUNDS + 1));
    assert_eq!(unspent, SESSIONS);
}

#[actix_web::test]
async fn a_lost_response_is_recovered_within_the_grace_period() {
    let app = spawn_app().await;
    let session = app.logged_in("bob", &[]).await;
    let first = app.refresh(&session.refresh).await;
    let successor = refresh_cookie(&first);
    // the client never saw `first` and presents the old token again
    let mut again = app.refresh(&session.refresh).await;
    assert_eq!(again.status(), 200);
    assert_eq!(set_cookie(&again, COOKIE).unwrap().value(), successor);
    let body: Value = again.json().await.unwrap();
    assert_eq!(
        app.me(body["access_token"].as_str().unwrap())
            .await
            .status(),
        200
    );
    assert_eq!(app.refresh(&successor).await.status(), 200);
}

#[actix_web::test]
async fn reused_refresh_token_revokes_the_whole_session() {
    let app = spawn_with(|a| a.refresh_grace = "0".into()).await;
    let session = app.logged_in("bob", &[]).await;
    let mut first = app.refresh(&session.refresh).await;
    let successor = refresh_cookie(&first);
    let body: Value = first.json().await.unwrap();
    let access = body["access_token"].as_str().unwrap().to_owned();
    app.advance(0.05);

    let mut reuse = app.refresh(&session.refresh).await;
    assert_eq!(reuse.status(), 401);
    assert_cookie_cleared(&reuse);
    assert_eq!(error_code(&mut reuse).await, "refresh_token_reused");

    // the descendant token and every access token of the session die
    let mut descendant = app.refresh(&successor).await;
    assert_eq!(descendant.status(), 401);
    assert_eq!(error_code(&mut descendant).await, "invalid_refresh_token");
    app.wait_until_refused(&access, Duration::from_secs(2))
        .await;
    app.wait_until_refused(&session.access, Duration::from_secs(2))
        .await;
}

#[actix_web::test]
async fn another_login_of_the_same_user_survives_a_reuse_elsewhere() {
    let app = spawn_with(|a| a.refresh_grace = "0".into()).await;
    let stolen = app.logged_in("bob", &[]).await;
    let other = app.login("bob").await;
    app.refresh(&stolen.refresh).await;
    app.advance(0.05);
    assert_eq!(app.refresh(&stolen.refresh).await.status(), 401);
    assert_eq!(app.refresh(&other.refresh).await.status(), 200);
}

#[actix_web::test]
async fn refresh_needs_the_csrf_header_and_a_cookie() {
    let app = spawn_app().await;
    let session = app.logged_in("bob", &[]).await;
    let mut res = app
        .client
        .post(format!("{}/auth/refresh", app.url))
        .insert_header(("Cookie", format!("{COOKIE}={}", session.refresh)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(error_code(&mut res).await, "csrf_check_failed");
    let mut res = app
        .client
        .post(format!("{}/auth/refresh", app.url))
        .insert_header(("Cookie", format!("{COOKIE}={}", session.refresh)))
        .insert_header(("X-CSRF", "0"))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(&mut res).await, "csrf_check_failed");
    // the refused attempt did not spend the token
    assert_eq!(app.refresh(&session.refresh).await.status(), 200);

    let mut res = app
        .client
        .post(format!("{}/auth/refresh", app.url))
        .insert_header(("X-CSRF", "1"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_cookie_cleared(&res);
    assert_eq!(error_code(&mut res).await, "missing_refresh_token");
    let mut res = app.refresh("not-a-token").await;
    assert_eq!(error_code(&mut res).await, "invalid_refresh_token");
    let mut res = app.refresh(&"A".repeat(43)).await;
    assert_eq!(error_code(&mut res).await, "invalid_refresh_token");
}

#[actix_web::test]
async fn an_expired_session_answers_session_expired() {
    let app = spawn_with(|a| {
        a.access_ttl = "1".into();
        a.session_ttl = "2".into();
    })
    .await;
    let session = app.logged_in("bob", &[]).await;
    app.advance(2.1);
    let mut res = app.refresh(&session.refresh).await;
    assert_eq!(res.status(), 401);
    assert_cookie_cleared(&res);
    assert_eq!(error_code(&mut res).await, "session_expired");
}

#[actix_web::test]
async fn a_session_shorter_than_the_access_ttl_caps_the_access_token() {
    // the default 900 s access TTL with a 60 s session: the gateway starts,
    // and no token outlives the session it belongs to
    let app = spawn_with(|a| a.session_ttl = "60".into()).await;
    let session = app.logged_in("bob", &[]).await;
    let mut res = app.refresh(&session.refresh).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    let expires_in = body["expires_in"].as_i64().unwrap();
    assert!(
        (1..=60).contains(&expires_in),
        "expires_in {expires_in} is capped at the session's 60 s"
    );
    let access = body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(app.me(&access).await.status(), 200);
    // past the session's end and the verifier's 5 s leeway
    app.advance(66.0);
    assert_eq!(app.me(&access).await.status(), 401, "dead with its session");
}

#[actix_web::test]
async fn logout_revokes_the_session_and_its_access_tokens_within_two_seconds() {
    let app = spawn_proxied().await;
    let session = app.logged_in("bob", &[]).await;
    assert_eq!(
        app.api("GET", "/anything", &session.access).await.status(),
        200
    );
    let res = app.logout(&session.refresh).await;
    assert_eq!(res.status(), 204);
    assert_cookie_cleared(&res);
    app.wait_until_refused(&session.access, Duration::from_secs(2))
        .await;
    assert_eq!(
        app.api("GET", "/anything", &session.access).await.status(),
        401
    );
    assert_eq!(app.refresh(&session.refresh).await.status(), 401);
}

#[actix_web::test]
async fn logout_without_a_cookie_or_with_a_dead_one_is_still_204() {
    let app = spawn_app().await;
    for cookie in [
        None,
        Some(format!("{COOKIE}=garbage")),
        Some(format!("{COOKIE}={}", "B".repeat(43))),
    ] {
        let mut req = app
            .client
            .post(format!("{}/auth/logout", app.url))
            .insert_header(("X-CSRF", "1"));
        if let Some(c) = cookie {
            req = req.insert_header(("Cookie", c));
        }
        assert_eq!(req.send().await.unwrap().status(), 204);
    }
    let mut res = app
        .client
        .post(format!("{}/auth/logout", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(&mut res).await, "csrf_check_failed");
}

#[actix_web::test]
async fn me_needs_a_bearer_token_and_never_the_cookie() {
    let app = spawn_app().await;
    let session = app.logged_in("carol", &[]).await;
    let mut res = app.me(&session.access).await;
    assert_eq!(res.status(), 200);
    let me: Value = res.json().await.unwrap();
    assert_eq!(me, session.body["user"]);
    let mut res = app
        .client
        .get(format!("{}/auth/me", app.url))
        .insert_header(("Cookie", format!("{COOKIE}={}", session.refresh)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(
        res.headers().get("www-authenticate").unwrap(),
        r#"Bearer error="invalid_token""#
    );
    assert_eq!(error_code(&mut res).await, "invalid_token");
}

#[actix_web::test]
async fn get_on_state_changing_routes_is_405_json() {
    let app = spawn_app().await;
    for path in [
        "/auth/login",
        "/auth/refresh",
        "/auth/logout",
        "/auth/register",
    ] {
        let mut res = app.get(path).await;
        assert_eq!(res.status(), 405, "{path}");
        assert_eq!(error_code(&mut res).await, "method_not_allowed");
    }
    let mut res = app
        .client
        .delete(format!("{}/auth/me", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 405);
    assert_eq!(res.headers().get("cache-control").unwrap(), "no-store");
    error_code(&mut res).await;
}

#[actix_web::test]
async fn registration_is_closed_by_default() {
    let app = spawn_app().await;
    let mut res = app
        .post_json(
            "/auth/register",
            &json!({ "username": "eve", "password": "long enough" }),
        )
        .await;
    assert_eq!(res.status(), 403);
    assert_eq!(error_code(&mut res).await, "registration_disabled");
    // whatever the body: closed is closed
    let mut res = app
        .client
        .post(format!("{}/auth/register", app.url))
        .insert_header(("Content-Type", "text/plain"))
        .send_body("not json")
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(error_code(&mut res).await, "registration_disabled");
}

#[actix_web::test]
async fn registration_creates_a_user_without_tokens() {
    let app = spawn_with(|a| a.allow_registration = "true".into()).await;
    let mut res = app
        .post_json(
            "/auth/register",
            &json!({ "username": "Erin", "password": "long enough" }),
        )
        .await;
    assert_eq!(res.status(), 201);
    assert!(set_cookie(&res, COOKIE).is_none());
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["user"]["username"], "Erin");
    assert_eq!(body["user"]["roles"], json!(["user"]));
    assert!(body.get("access_token").is_none());

    let mut taken = app
        .post_json(
            "/auth/register",
            &json!({ "username": "erin", "password": "long enough" }),
        )
        .await;
    assert_eq!(taken.status(), 409);
    assert_eq!(error_code(&mut taken).await, "username_taken");

    for (username, password) in [
        ("ab", "long enough"),
        ("bad name", "long enough"),
        ("frank", "short"),
        ("frank", &"x".repeat(257)),
    ] {
        let mut res = app
            .post_json(
                "/auth/register",
                &json!({ "username": username, "password": password }),
            )
            .await;
        assert_eq!(res.status(), 400, "{username} / {password}");
        assert_eq!(error_code(&mut res).await, "invalid_input");
    }
    let res = app.login_raw("Erin", "long enough").await;
    assert_eq!(res.status(), 200);
}

#[actix_web::test]
async fn the_cli_can_disable_a_user_beside_a_live_server() {
    let app = spawn_app().await;
    let session = app.logged_in("carol", &[]).await;
    let out = cli(&app.database_url, &["user", "disable", "carol"], "");
    assert_success(&out, "user disable");
    app.wait_until_refused(&session.access, Duration::from_secs(2))
        .await;
    assert_eq!(app.refresh(&session.refresh).await.status(), 401);
    assert_eq!(app.login_raw("carol", PASSWORD).await.status(), 401);
}

#[actix_web::test]
async fn a_password_change_revokes_sessions() {
    let app = spawn_app().await;
    let session = app.logged_in("carol", &[]).await;
    app.set_password("carol", "a brand new password").await;

    app.wait_until_refused(&session.access, Duration::from_secs(2))
        .await;
    assert_eq!(app.refresh(&session.refresh).await.status(), 401);
    assert_eq!(
        app.login_raw("carol", "a brand new password")
            .await
            .status(),
        200
    );
}

#[actix_web::test]
async fn parallel_guesses_cannot_outrun_the_throttle() {
    let app = spawn_app().await;
    app.add_user("alice", &[]);
    let responses = join_all((0..12).map(|_| app.login_raw("alice", "wrong password"))).await;
    let refused = responses.iter().filter(|r| r.status() == 401).count();
    let throttled = responses.iter().filter(|r| r.status() == 429).count();
    assert_eq!(refused + throttled, 12);
    assert!(refused <= 5, "{refused} guesses were checked");
}

#[actix_web::test]
async fn a_weak_stored_hash_is_upgraded_at_login() {
    use argon2::PasswordHasher;
    let app = spawn_app().await;
    let weak = argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        argon2::Params::new(1024, 1, 1, None).unwrap(),
    )
    .hash_password(
        PASSWORD.as_bytes(),
        &argon2::password_hash::SaltString::encode_b64(b"sixteen byte salt").unwrap(),
    )
    .unwrap()
    .to_string();
    app.add_user_with_hash("old", &weak);

    assert_eq!(app.login_raw("old", PASSWORD).await.status(), 200);
    let stored = app.stored_hash("old");
    assert!(
        stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{stored}"
    );
    assert_eq!(app.login_raw("old", PASSWORD).await.status(), 200);
}

#[actix_web::test]
async fn a_spent_token_after_the_grace_period_is_reuse() {
    let app = spawn_with(|a| a.refresh_grace = "1".into()).await;
    let session = app.logged_in("bob", &[]).await;
    assert_eq!(app.refresh(&session.refresh).await.status(), 200);
    assert_eq!(
        app.refresh(&session.refresh).await.status(),
        200,
        "within the grace"
    );
    app.advance(2.1);
    let mut res = app.refresh(&session.refresh).await;
    assert_eq!(error_code(&mut res).await, "refresh_token_reused");
}

#[actix_web::test]
async fn the_cli_can_change_a_password_beside_a_live_server() {
    let app = spawn_app().await;
    let session = app.logged_in("carol", &[]).await;
    let out = cli(
        &app.database_url,
        &["user", "passwd", "carol", "--password-stdin"],
        "  a new password with spaces  \n",
    );
    assert_success(&out, "user passwd");
    app.wait_until_refused(&session.access, Duration::from_secs(2))
        .await;
    assert_eq!(app.login_raw("carol", PASSWORD).await.status(), 401);
    assert_eq!(
        app.login_raw("carol", "  a new password with spaces  ")
            .await
            .status(),
        200,
        "the password is taken exactly as typed"
    );
}
