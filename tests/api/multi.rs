//! §7: several gateway instances on one PostgreSQL database behave as one
//! gateway. Each test starts two or three real instances (in-process
//! `Application`s, or `portcullis serve` processes where one must die) on a
//! fresh database; without PostgreSQL they skip, saying so.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use portcullis::auth::Role;
use portcullis::clock;
use serde_json::Value;

use crate::support::*;

/// Three instances on one fresh PostgreSQL database, or `None` (skipped).
async fn three_instances(test: &str) -> Option<[TestApp; 3]> {
    three_instances_with(test, |_| {}).await
}

async fn three_instances_with(test: &str, adjust: impl Fn(&mut ServeArgs)) -> Option<[TestApp; 3]> {
    let admin = postgres_or_skip(test)?;
    let database = Arc::new(TestDatabase::postgres(&admin));
    let a = spawn_on(&database, &adjust).await;
    let b = spawn_beside(&a, &adjust).await;
    let c = spawn_beside(&a, &adjust).await;
    Some([a, b, c])
}

#[actix_web::test]
async fn sixteen_concurrent_refreshes_over_three_instances_rotate_exactly_once() {
    let name = "sixteen_concurrent_refreshes_over_three_instances_rotate_exactly_once";
    let Some(apps) = three_instances(name).await else {
        return;
    };
    let session = apps[0].logged_in("alice", &[Role::User]).await;
    let sid = sid(&session.access);

    let calls = (0..16).map(|i| apps[i % 3].refresh(&session.refresh));
    let responses = futures_util::future::join_all(calls).await;
    let mut cookies = HashSet::new();
    for res in &responses {
        assert_eq!(res.status(), 200, "every concurrent refresh succeeds");
        cookies.insert(refresh_cookie(res));
    }
    assert_eq!(cookies.len(), 1, "all converge on one successor");

    let (hashes, unspent) = tokens_of_session(apps[0].db(), &sid);
    assert_eq!(hashes.len(), 2, "the login token and exactly one successor");
    assert_eq!(unspent, 1);
    let successor = cookies.into_iter().next().unwrap();
    assert!(hashes.contains(&token_hash(&successor)));
    // and the successor rotates on any instance
    assert_eq!(apps[2].refresh(&successor).await.status(), 200);
}

#[actix_web::test]
async fn a_token_rotated_on_one_instance_and_replayed_on_another_after_grace_is_reuse() {
    let name = "a_token_rotated_on_one_instance_and_replayed_on_another_after_grace_is_reuse";
    let Some([a, b, _c]) = three_instances(name).await else {
        return;
    };
    let session = a.logged_in("alice", &[Role::User]).await;
    let mut res = a.refresh(&session.refresh).await;
    assert_eq!(res.status(), 200);
    let successor = refresh_cookie(&res);
    let body: Value = res.json().await.unwrap();
    let fresh_access = body["access_token"].as_str().unwrap().to_owned();

    a.advance(6.0); // past the 5 s grace, for both: they share the clock
    let mut res = b.refresh(&session.refresh).await;
    assert_eq!(res.status(), 401);
    assert_cookie_cleared(&res);
    assert_eq!(error_code(&mut res).await, "refresh_token_reused");

    // the whole session is gone, on both instances
    for app in [&a, &b] {
        let mut res = app.refresh(&successor).await;
        assert_eq!(res.status(), 401);
        assert_eq!(error_code(&mut res).await, "invalid_refresh_token");
        app.wait_until_refused(&fresh_access, Duration::from_secs(2))
            .await;
    }
}

#[actix_web::test]
async fn a_logout_through_one_instance_is_refused_by_the_others_within_two_seconds() {
    let name = "a_logout_through_one_instance_is_refused_by_the_others_within_two_seconds";
    let Some([a, b, c]) = three_instances(name).await else {
        return;
    };
    let session = a.logged_in("alice", &[Role::User]).await;
    for app in [&b, &c] {
        assert_eq!(app.me(&session.access).await.status(), 200);
    }
    assert_eq!(a.logout(&session.refresh).await.status(), 204);
    let (b_took, c_took) = futures_util::future::join(
        b.wait_until_refused(&session.access, Duration::from_secs(2)),
        c.wait_until_refused(&session.access, Duration::from_secs(2)),
    )
    .await;
    eprintln!("revocation reached B in {b_took:?}, C in {c_took:?}");
}

#[actix_web::test]
async fn brute_force_spread_over_instances_hits_one_shared_throttle() {
    let name = "brute_force_spread_over_instances_hits_one_shared_throttle";
    let Some(apps) = three_instances(name).await else {
        return;
    };
    apps[0].add_user("alice", &[]);
    // five failures for alice are allowed in all, not five per instance
    for i in 0..5 {
        let mut res = apps[i % 3].login_raw("alice", "wrong guess").await;
        assert_eq!(res.status(), 401, "attempt {i}");
        assert_eq!(error_code(&mut res).await, "invalid_credentials");
    }
    for app in &apps {
        assert_throttled(app.login_raw("alice", PASSWORD).await).await;
    }
    // the window ends for every instance at once
    apps[0].advance(301.0);
    assert_eq!(apps[2].login_raw("alice", PASSWORD).await.status(), 200);
}

#[actix_web::test]
async fn a_grace_replay_on_an_instance_signing_with_another_key_gets_the_same_successor() {
    let name = "a_grace_replay_on_an_instance_signing_with_another_key_gets_the_same_successor";
    let Some(admin) = postgres_or_skip(name) else {
        return;
    };
    let database = Arc::new(TestDatabase::postgres(&admin));
    let a = spawn_on(&database, |_| {}).await;
    let b = spawn_beside(&a, |args| {
        args.jwt_secret = Some("another-secret-of-at-least-32-bytes!!".into());
    })
    .await;
    let session = a.logged_in("alice", &[Role::User]).await;
    let res = a.refresh(&session.refresh).await;
    assert_eq!(res.status(), 200);
    let successor = refresh_cookie(&res);

    // the first response was "lost"; the retry lands on B within the grace
    let mut res = b.refresh(&session.refresh).await;
    assert_eq!(res.status(), 200, "{:?}", res.body().await);
    assert_eq!(refresh_cookie(&res), successor, "the same successor");
    assert_eq!(b.refresh(&successor).await.status(), 200);
}

/// One client of the storm: refreshes its session over and over, spread
/// over the instances, keeping the last cookie it was answered with.
struct StormClient {
    sid: String,
    cookie: String,
    answered: Vec<String>,
    /// A 401 ends the client's session: its code.
    ended: Option<String>,
}

async fn storm(client: &mut StormClient, urls: &[String], until: Instant, http: &awc::Client) {
    let mut i = 0;
    while Instant::now() < until && client.ended.is_none() {
        let url = &urls[i % urls.len()];
        i += 1;
        let sent = http
            .post(format!("{url}/auth/refresh"))
            .insert_header(("X-CSRF", "1"))
            .insert_header(("Cookie", format!("{COOKIE}={}", client.cookie)))
            .timeout(Duration::from_secs(10))
            .send()
            .await;
        // a killed instance answers nothing: keep the cookie, try another
        let Ok(mut res) = sent else { continue };
        match res.status().as_u16() {
            200 => {
                client.cookie = refresh_cookie(&res);
                client.answered.push(client.cookie.clone());
            }
            401 => {
                let body: Value = res.json().await.unwrap();
                client.ended = Some(body["error"].as_str().unwrap().to_owned());
            }
            other => panic!("a refresh answered {other}: {:?}", res.body().await),
        }
    }
}

#[actix_web::test]
async fn an_instance_killed_in_a_refresh_storm_loses_no_session_and_no_cookie() {
    let name = "an_instance_killed_in_a_refresh_storm_loses_no_session_and_no_cookie";
    let Some(admin) = postgres_or_skip(name) else {
        return;
    };
    let database = TestDatabase::postgres(&admin);
    let on_database = [("DATABASE_URL", database.url.as_str())];
    let (_a, a) = serve(&on_database);
    let (_b, b) = serve(&on_database);
    let (mut victim, victim_url) = serve(&on_database);
    let db = open_db(&database.url);
    let http = client();
    let mut clients = Vec::new();
    for i in 0..6 {
        let user = format!("user{i}");
        create_user(&db, &user, &[], clock::now());
        let mut res = login_at(&a, &user, PASSWORD).await;
        assert_eq!(res.status(), 200);
        let cookie = refresh_cookie(&res);
        let body: Value = res.json().await.unwrap();
        clients.push(StormClient {
            sid: sid(body["access_token"].as_str().unwrap()),
            answered: vec![cookie.clone()],
            cookie,
            ended: None,
        });
    }

    let all = [a.clone(), b.clone(), victim_url];
    let until = Instant::now() + Duration::from_millis(1500);
    let storms = clients.iter_mut().map(|c| storm(c, &all, until, &http));
    let kill = async {
        actix_web::rt::time::sleep(Duration::from_millis(400)).await;
        victim.kill();
    };
    futures_util::future::join(futures_util::future::join_all(storms), kill).await;

    let survivors = [a, b];
    let mut intact = 0;
    for client in &mut clients {
        // every cookie a client was answered with is in the ledger
        let (hashes, unspent) = tokens_of_session(&db, &client.sid);
        for cookie in &client.answered {
            assert!(
                hashes.contains(&token_hash(cookie)),
                "a cookie the ledger does not know"
            );
        }
        assert!(unspent <= 1, "a session with two live tokens");
        // and on the survivors the session goes on, or has ended cleanly
        let until = Instant::now() + Duration::from_millis(300);
        if client.ended.is_none() {
            storm(client, &survivors, until, &http).await;
        }
        match client.ended.as_deref() {
            None => intact += 1,
            Some("refresh_token_reused" | "invalid_refresh_token") => {
                assert!(
                    revoked_at(&db, &client.sid).is_some(),
                    "an ended session is revoked"
                );
            }
            Some(other) => panic!("a session ended with {other}"),
        }
    }
    let rotations: usize = clients.iter().map(|c| c.answered.len()).sum();
    eprintln!("{rotations} rotations answered; {intact} of 6 sessions intact after the kill");
    assert!(rotations > 12, "the storm ran");
}

/// Signs with `sign`, also accepting and publishing `verify`; access
/// tokens live two minutes.
fn keys(sign: &std::path::Path, verify: &[&std::path::Path]) -> impl Fn(&mut ServeArgs) {
    let sign = sign.to_owned();
    let verify = verify
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(",");
    move |args| {
        sign_with_key(args, &sign);
        args.jwt_verify_keys = verify.clone();
        args.access_ttl = "120".into();
    }
}

async fn refreshed(app: &TestApp, cookie: &str) -> Session {
    let mut res = app.refresh(cookie).await;
    assert_eq!(
        res.status(),
        200,
        "the session survives: {:?}",
        res.body().await
    );
    Session::read(&mut res).await
}

#[actix_web::test]
async fn rotating_the_signing_key_across_two_instances_logs_nobody_out() {
    let name = "rotating_the_signing_key_across_two_instances_logs_nobody_out";
    let Some(admin) = postgres_or_skip(name) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (old, new) = (keygen(dir.path(), "old.pem"), keygen(dir.path(), "new.pem"));
    let database = Arc::new(TestDatabase::postgres(&admin));

    // before: both instances sign with the old key
    let a0 = spawn_on(&database, keys(&old, &[])).await;
    let b0 = spawn_beside(&a0, keys(&old, &[])).await;
    let mut alice = a0.logged_in("alice", &[Role::User]).await;
    b0.add_user("bob", &[]);
    let mut bob = b0.login("bob").await;
    let old_kid = kid(&alice.access);

    // step 1: the new key is published everywhere, still verify-only
    let a1 = spawn_beside(&a0, keys(&old, &[&new])).await;
    let b1 = spawn_beside(&a0, keys(&old, &[&new])).await;
    let mut res = a1.get("/.well-known/jwks.json").await;
    let cache = res
        .headers()
        .get("cache-control")
        .unwrap()
        .to_str()
        .unwrap();
    let max_age: i64 = cache
        .strip_prefix("public, max-age=")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("Cache-Control: {cache}"));
    assert!(
        (1..=120).contains(&max_age),
        "cached at most one access TTL"
    );
    let jwks: Value = res.json().await.unwrap();
    let published = jwks["keys"].as_array().unwrap();
    assert_eq!(published.len(), 2);
    for key in published {
        assert_eq!(key["alg"], "EdDSA");
        assert_eq!(key["use"], "sig");
        assert!(key["kid"].is_string());
    }
    for app in [&a1, &b1] {
        assert_eq!(app.me(&alice.access).await.status(), 200);
    }
    alice = refreshed(&a1, &alice.refresh).await;
    assert_eq!(kid(&alice.access), old_kid, "still signed with the old key");

    // step 2: signing switches to the new key; the old one stays verify-only
    let a2 = spawn_beside(&a0, keys(&new, &[&old])).await;
    let b2 = spawn_beside(&a0, keys(&new, &[&old])).await;
    for app in [&a2, &b2] {
        assert_eq!(app.me(&alice.access).await.status(), 200, "old tokens pass");
    }
    alice = refreshed(&a2, &alice.refresh).await;
    bob = refreshed(&b2, &bob.refresh).await;
    assert_ne!(kid(&alice.access), old_kid, "now signed with the new key");
    // instances still at step 1 already accept what step 2 signs
    for app in [&a1, &b1, &b2] {
        assert_eq!(app.me(&alice.access).await.status(), 200);
    }

    // step 3: after one access TTL no old-key token is alive: drop the old key
    a0.advance(121.0);
    let a3 = spawn_beside(&a0, keys(&new, &[])).await;
    let b3 = spawn_beside(&a0, keys(&new, &[])).await;
    let mut res = a3.get("/.well-known/jwks.json").await;
    let jwks: Value = res.json().await.unwrap();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
    for (app, session) in [(&a3, &alice), (&b3, &bob)] {
        let next = refreshed(app, &session.refresh).await;
        assert_eq!(a3.me(&next.access).await.status(), 200);
        assert_eq!(b3.me(&next.access).await.status(), 200);
    }
}

/// Not a check but a measurement, run on demand:
/// `cargo test --release --test api measure -- --ignored --nocapture`.
/// Two `serve` processes on one database: refresh rotations per second
/// with 32 clients spread over both, and how long a logout on one takes to
/// be refused by the other.
#[actix_web::test]
#[ignore = "a measurement; run on demand"]
async fn measure_rotations_per_second_and_revocation_propagation_over_two_instances() {
    let name = "measure_rotations_per_second_and_revocation_propagation_over_two_instances";
    let Some(admin) = postgres_or_skip(name) else {
        return;
    };
    let database = TestDatabase::postgres(&admin);
    let env = [
        ("DATABASE_URL", database.url.as_str()),
        ("PORTCULLIS_DB_POOL_SIZE", "16"),
    ];
    let (_a, a) = serve(&env);
    let (_b, b) = serve(&env);
    let db = open_db(&database.url);
    let http = client();
    let login = |user: String| {
        let url = a.clone();
        async move {
            let mut res = login_at(&url, &user, PASSWORD).await;
            assert_eq!(res.status(), 200);
            let cookie = refresh_cookie(&res);
            let body: Value = res.json().await.unwrap();
            (cookie, body["access_token"].as_str().unwrap().to_owned())
        }
    };
    let mut clients = Vec::new();
    for i in 0..32 {
        let user = format!("user{i}");
        create_user(&db, &user, &[], clock::now());
        let (cookie, access) = login(user).await;
        clients.push(StormClient {
            sid: sid(&access),
            answered: Vec::new(),
            cookie,
            ended: None,
        });
    }
    let both = [a.clone(), b.clone()];
    let started = Instant::now();
    let until = started + Duration::from_secs(5);
    futures_util::future::join_all(clients.iter_mut().map(|c| storm(c, &both, until, &http))).await;
    let rotations: usize = clients.iter().map(|c| c.answered.len()).sum();
    let secs = started.elapsed().as_secs_f64();
    assert!(clients.iter().all(|c| c.ended.is_none()));

    let mut delays = Vec::new();
    for _ in 0..20 {
        let (cookie, access) = login("user0".into()).await;
        let res = logout_at(&a, &cookie).await;
        assert_eq!(res.status(), 204);
        let at = Instant::now();
        loop {
            let res = http
                .get(format!("{b}/auth/me"))
                .bearer_auth(&access)
                .send()
                .await
                .unwrap();
            if res.status() == 401 {
                break;
            }
            assert!(at.elapsed() < Duration::from_secs(2));
            actix_web::rt::time::sleep(Duration::from_millis(5)).await;
        }
        delays.push(at.elapsed());
    }
    delays.sort();
    eprintln!(
        "{rotations} rotations in {secs:.1} s = {:.0}/s over two instances (32 clients); \
         revocation reached the other instance in median {:?}, max {:?}",
        rotations as f64 / secs,
        delays[delays.len() / 2],
        delays[delays.len() - 1]
    );
}

#[actix_web::test]
async fn a_totp_code_works_once_across_instances_and_any_instance_finishes_a_pending_login() {
    let name = "a_totp_code_works_once_across_instances_and_any_instance_finishes_a_pending_login";
    let dir = tempfile::tempdir().unwrap();
    let key = encryption_key_file(dir.path());
    let shared_key = |args: &mut ServeArgs| args.encryption_key_file = Some(key.clone());
    let Some([a, b, c]) = three_instances_with(name, shared_key).await else {
        return;
    };
    let alice = a.logged_in("alice", &[Role::User]).await;
    let enrolled = a.enrol_totp(&alice).await;
    // a pending login begun on one instance finishes on another
    let (token, _) = a.first_step("alice").await;
    let code = b.code_now(&enrolled.secret);
    let mut res = b
        .second_step(&token, serde_json::json!({ "totp": code }))
        .await;
    assert_eq!(res.status(), 200, "{:?}", error_code(&mut res).await);
    // the same code, on a third instance, is a replay
    let (again, _) = c.first_step("alice").await;
    let res = c
        .second_step(&again, serde_json::json!({ "totp": code }))
        .await;
    assert_error(res, 401, "invalid_credentials").await;
    // and the used pending login cannot be finished anywhere
    a.advance(30.0);
    let next = a.code_now(&enrolled.secret);
    let res = c
        .second_step(&token, serde_json::json!({ "totp": next }))
        .await;
    assert_error(res, 401, "invalid_credentials").await;

    // two instances racing with one code: one login
    let (t1, _) = a.first_step("alice").await;
    let (t2, _) = b.first_step("alice").await;
    let body = |t: &str| serde_json::json!({ "totp": next, "mfa_token": t });
    let (b1, b2) = (body(&t1), body(&t2));
    let both = futures_util::future::join(
        a.post_json("/auth/login/mfa", &b1),
        b.post_json("/auth/login/mfa", &b2),
    );
    let (r1, r2) = both.await;
    let mut statuses = [r1.status().as_u16(), r2.status().as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 401], "a step's code is accepted once");
}

#[actix_web::test]
async fn a_passkey_ceremony_begun_on_one_instance_finishes_on_another_once() {
    let name = "a_passkey_ceremony_begun_on_one_instance_finishes_on_another_once";
    let Some([a, b, c]) = three_instances_with(name, with_public_url).await else {
        return;
    };
    let mut authenticator = Authenticator::new();
    a.with_a_passkey("alice", &mut authenticator).await;
    let (ceremony, options) = a.passkey_login_options().await;
    let credential = authenticator.assert(&options);
    let mut res = b.finish_passkey_login(&ceremony, &credential).await;
    assert_eq!(res.status(), 200, "finished on another instance");
    let login = Session::read(&mut res).await;
    assert_eq!(claims(&login.access)["acr"], "mfa");
    let before = (stored_passkeys(a.db()), refresh_token_counts(a.db()));
    // the same ceremony, a fresh assertion, on the third instance
    let again = authenticator.assert(&options);
    let mut res = c.finish_passkey_login(&ceremony, &again).await;
    assert_eq!(res.status(), 401);
    assert_eq!(error_code(&mut res).await, "invalid_credentials");
    assert_eq!(
        (stored_passkeys(a.db()), refresh_token_counts(a.db())),
        before
    );
}

#[actix_web::test]
async fn two_instances_racing_one_passkey_ceremony_open_one_session() {
    let name = "two_instances_racing_one_passkey_ceremony_open_one_session";
    let Some([a, b, _]) = three_instances_with(name, with_public_url).await else {
        return;
    };
    let mut authenticator = Authenticator::synced();
    a.with_a_passkey("alice", &mut authenticator).await;
    let (ceremony, options) = a.passkey_login_options().await;
    let credential = authenticator.assert(&options);
    let (one, two) = futures_util::future::join(
        a.finish_passkey_login(&ceremony, &credential),
        b.finish_passkey_login(&ceremony, &credential),
    )
    .await;
    let mut statuses = [one.status().as_u16(), two.status().as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 401]);
}
