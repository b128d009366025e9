//! Signing in with an OpenID Provider (contract §10), against a real one:
//! panva's `oidc-provider` on loopback. The code flow walked over HTTP as
//! a browser would (303s followed, the provider's login form posted), and
//! the attacks on it: each refused with no session opened.

use serde_json::{Value, json};

use crate::support::*;

/// Signs in as `subject` and refreshes with the cookie the callback set:
/// the session it opened.
async fn signed_in(setup: &OidcSetup, browser: &mut Browser, subject: &str) -> Session {
    let landed = browser.sign_in(&setup.app.url, subject).await;
    assert_eq!(landed, "/", "signed in and sent back to the app");
    let refresh = browser
        .refresh_token(setup.app.port)
        .expect("a refresh cookie");
    let mut res = setup.app.refresh(&refresh).await;
    assert_eq!(res.status(), 200);
    Session::read(&mut res).await
}

#[actix_web::test]
async fn the_code_flow_signs_a_new_user_in_with_the_providers_groups() {
    let setup = spawn_with_provider(json!({"ann": ["editors"]}), "").await;
    let mut browser = Browser::new();
    let callback = browser
        .walk_to_callback(&setup.app.url, "ann", "/employees?page=2")
        .await;
    assert!(callback.contains("code=") && callback.contains("state="));
    let landed = browser.callback(&callback).await;
    assert_eq!(landed, "/employees?page=2");
    assert!(
        browser.cookie(setup.app.port, "portcullis_oidc").is_none(),
        "the sign-in cookie is cleared"
    );
    let refresh = browser
        .refresh_token(setup.app.port)
        .expect("a refresh cookie");
    let mut res = setup.app.refresh(&refresh).await;
    assert_eq!(res.status(), 200);
    let session = Session::read(&mut res).await;
    let claims = claims(&session.access);
    assert_eq!(claims["name"], "ann");
    assert_eq!(claims["amr"], json!(["fed"]));
    assert_eq!(claims["acr"], "pwd");
    assert_eq!(claims["roles"], json!(["user", "editor"]));
    // a federated user has no password to log in with
    assert_error(
        setup.app.login_raw("ann", "").await,
        401,
        "invalid_credentials",
    )
    .await;
    assert_error(
        setup.app.login_raw("ann", "!").await,
        401,
        "invalid_credentials",
    )
    .await;
    let mut res = setup
        .app
        .call("GET", "/auth/oidc/links", &session.access)
        .await;
    let links: Value = res.json().await.unwrap();
    assert_eq!(
        links["providers"],
        json!([{"id": PROVIDER, "name": "Test IdP"}])
    );
}

#[actix_web::test]
async fn providers_are_listed_and_unknown_ones_are_not_found() {
    let setup = spawn_with_provider(json!({}), "").await;
    let mut res = setup.app.get("/auth/oidc/providers").await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body,
        json!({"providers": [{"id": PROVIDER, "name": "Test IdP"}]})
    );
    for path in [
        "/auth/oidc/nope/start",
        "/auth/oidc/nope/callback?code=x&state=y",
    ] {
        assert_error(setup.app.get(path).await, 404, "not_found").await;
    }
    let res = setup
        .app
        .client
        .post(format!(
            "{}/auth/oidc/nope/backchannel-logout",
            setup.app.url
        ))
        .send_body("logout_token=x")
        .await
        .unwrap();
    assert_error(res, 404, "not_found").await;
}

/// A refused sign-in: where the browser was sent, and that no session
/// opened.
async fn assert_refused(setup: &OidcSetup, landed: &str, code: &str, before: usize) {
    assert_eq!(landed, format!("/?auth_error={code}"));
    assert_eq!(session_count(setup.app.db()), before, "no session opened");
}

#[actix_web::test]
async fn a_state_is_spent_once_and_only_by_the_browser_that_began_it() {
    let setup = spawn_with_provider(json!({}), "").await;
    let mut owner = Browser::new();
    let callback = owner.walk_to_callback(&setup.app.url, "ann", "/").await;
    let owners = owner.cookie(setup.app.port, "portcullis_oidc").unwrap();
    // another browser: no sign-in cookie, then one of its own sign-in
    let mut stranger = Browser::new();
    assert_refused(&setup, &stranger.callback(&callback).await, "oidc_state", 0).await;
    let _ = stranger.walk_to_callback(&setup.app.url, "eve", "/").await;
    assert!(stranger.cookie(setup.app.port, "portcullis_oidc").is_some());
    assert_refused(&setup, &stranger.callback(&callback).await, "oidc_state", 0).await;
    // the owner's flow was not spent by those
    assert_eq!(owner.callback(&callback).await, "/");
    assert_eq!(session_count(setup.app.db()), 1);
    // used: the same callback again, with the cookie put back
    owner.set_cookie(setup.app.port, "portcullis_oidc", &owners);
    assert_refused(&setup, &owner.callback(&callback).await, "oidc_state", 1).await;
    // no state at all
    let bare = format!("{}/auth/oidc/{PROVIDER}/callback?code=abc", setup.app.url);
    assert_refused(&setup, &owner.callback(&bare).await, "oidc_state", 1).await;
}

#[actix_web::test]
async fn id_tokens_that_are_not_right_open_no_session() {
    let setup = spawn_with_provider(json!({}), "").await;
    let now = setup.app.clock.now().timestamp();
    let cases: [(Value, &[&str], &str); 8] = [
        (json!({}), &["nonce"], "provider"),
        (json!({"nonce": "not-the-one-asked-for"}), &[], "provider"),
        (json!({"aud": "another-client"}), &[], "provider"),
        (
            json!({"exp": now - 3600, "iat": now - 7200}),
            &[],
            "provider",
        ),
        (json!({"iss": "https://evil.example"}), &[], "provider"),
        (json!({}), &[], "unknown"),
        (json!({}), &[], "none"),
        (json!({}), &[], "hs256"),
    ];
    for (set, unset, key) in cases {
        let mut browser = Browser::new();
        let callback = browser.walk_to_callback(&setup.app.url, "ann", "/").await;
        setup.op.tamper(set.clone(), unset, key).await;
        let landed = browser.callback(&callback).await;
        assert_eq!(landed, "/?auth_error=oidc_token", "{set} {unset:?} {key}");
        assert_eq!(session_count(setup.app.db()), 0, "{set} {unset:?} {key}");
    }
    // and an untampered one still signs in
    let mut browser = Browser::new();
    signed_in(&setup, &mut browser, "ann").await;
}

#[actix_web::test]
async fn a_code_is_exchanged_once_and_the_answer_must_come_from_the_issuer() {
    let setup = spawn_with_provider(json!({}), "").await;
    let mut browser = Browser::new();
    let first = browser.walk_to_callback(&setup.app.url, "ann", "/").await;
    assert_eq!(browser.callback(&first).await, "/");
    let code = query_value(&first, "code");
    // a new sign-in's state with the spent code
    let second = browser.walk_to_callback(&setup.app.url, "ann", "/").await;
    let replayed = second.replace(&query_value(&second, "code"), &code);
    assert_refused(&setup, &browser.callback(&replayed).await, "oidc_token", 1).await;
    // RFC 9207: an answer that says it came from another issuer
    let third = browser.walk_to_callback(&setup.app.url, "ann", "/").await;
    let iss = query_value(&third, "iss");
    let mixed = third.replace(&iss, "https%3A%2F%2Fevil.example");
    assert_refused(&setup, &browser.callback(&mixed).await, "oidc_provider", 1).await;
    // the provider's own error
    let fourth = browser.walk_to_callback(&setup.app.url, "ann", "/").await;
    let state = query_value(&fourth, "state");
    let denied = format!(
        "{}/auth/oidc/{PROVIDER}/callback?error=access_denied&state={state}",
        setup.app.url
    );
    assert_refused(&setup, &browser.callback(&denied).await, "oidc_provider", 1).await;
}

/// The value of `name` in `url`'s query, as sent.
fn query_value(url: &str, name: &str) -> String {
    let query = url.split_once('?').unwrap().1;
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} in {url}"))
        .to_owned()
}

#[actix_web::test]
async fn return_to_never_leaves_the_origin() {
    let setup = spawn_with_provider(json!({}), "").await;
    for target in [
        "//evil.example",
        "https://evil.example",
        "/%5Cevil.example",
        "/%5C/evil.example",
        "evil.example",
    ] {
        let mut browser = Browser::new();
        let callback = browser
            .walk_to_callback(&setup.app.url, "ann", target)
            .await;
        assert_eq!(browser.callback(&callback).await, "/", "{target}");
    }
}

#[actix_web::test]
async fn roles_follow_the_providers_groups_at_every_login_and_a_disabled_user_stays_out() {
    let setup = spawn_with_provider(json!({"ann": ["editors"]}), "").await;
    let first = signed_in(&setup, &mut Browser::new(), "ann").await;
    assert_eq!(claims(&first.access)["roles"], json!(["user", "editor"]));
    setup
        .op
        .test_route("/test/groups", json!({"sub": "ann", "groups": ["admins"]}))
        .await;
    let second = signed_in(&setup, &mut Browser::new(), "ann").await;
    assert_eq!(claims(&second.access)["roles"], json!(["user", "admin"]));
    assert_eq!(
        first.user_id(),
        second.user_id(),
        "the same account by (issuer, sub)"
    );
    let id = second.user_id();
    let kinds: Vec<String> = stored_events(setup.app.db())
        .into_iter()
        .filter(|e| e.user_id.as_deref() == Some(id.as_str()))
        .map(|e| e.kind)
        .collect();
    assert!(kinds.contains(&"roles_changed".to_owned()), "{kinds:?}");
    assert_eq!(kinds.iter().filter(|k| *k == "oidc_login").count(), 2);
    setup.app.disable_user("ann").await;
    let before = session_count(setup.app.db());
    let landed = Browser::new().sign_in(&setup.app.url, "ann").await;
    assert_refused(&setup, &landed, "account_disabled", before).await;
}

#[actix_web::test]
async fn without_create_users_only_linked_accounts_sign_in_never_by_name() {
    let setup = spawn_with_provider(json!({}), "create_users = false").await;
    // a local "ann" exists: the provider's "ann" is not her
    setup.app.add_user("ann", &[]);
    let landed = Browser::new().sign_in(&setup.app.url, "ann").await;
    assert_refused(&setup, &landed, "no_account", 0).await;
    let out = run_cli(
        &[
            "user",
            "link",
            "ann",
            "--provider",
            PROVIDER,
            "--subject",
            "ann",
        ],
        &setup,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let session = signed_in(&setup, &mut Browser::new(), "ann").await;
    assert_eq!(claims(&session.access)["name"], "ann");
    // ann keeps her password
    let res = setup.app.login_raw("ann", PASSWORD).await;
    assert_eq!(res.status(), 200);
    let listed = run_cli(&["user", "list"], &setup);
    let text = String::from_utf8_lossy(&listed.stdout);
    assert!(text.contains(&format!("{PROVIDER}:ann")), "{text}");
}

/// `portcullis ARGS` on the setup's database and providers file.
fn run_cli(args: &[&str], setup: &OidcSetup) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(args)
        .env("DATABASE_URL", &setup.app.database_url)
        .env(
            "PORTCULLIS_OIDC_PROVIDERS",
            setup.dir.path().join("providers.toml"),
        )
        .env("PORTCULLIS_PUBLIC_URL", &setup.public_url)
        .output()
        .unwrap()
}

/// A logout token of the provider for `claims` over the basic ones.
async fn logout_token(setup: &OidcSetup, extra: Value, key: &str) -> String {
    let mut claims = json!({
        "iss": setup.op.issuer,
        "aud": CLIENT_ID,
        "iat": setup.app.clock.now().timestamp(),
        "jti": uuid::Uuid::new_v4().to_string(),
        "sub": "ann",
        "events": {"http://schemas.openid.net/event/backchannel-logout": {}},
    });
    for (name, value) in extra.as_object().unwrap() {
        if value.is_null() {
            claims.as_object_mut().unwrap().remove(name);
        } else {
            claims[name] = value.clone();
        }
    }
    setup.op.sign(claims, key).await
}

async fn post_logout_token(setup: &OidcSetup, token: &str) -> Response {
    setup
        .app
        .client
        .post(format!(
            "{}/auth/oidc/{PROVIDER}/backchannel-logout",
            setup.app.url
        ))
        .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
        .send_body(format!("logout_token={token}"))
        .await
        .unwrap()
}

#[actix_web::test]
async fn the_providers_back_channel_logout_ends_the_session_it_names() {
    let setup = spawn_with_provider(json!({}), "").await;
    let mut browser = Browser::new();
    let session = signed_in(&setup, &mut browser, "ann").await;
    let other = signed_in(&setup, &mut Browser::new(), "bob").await;
    // the provider posts its own logout token to the gateway
    setup
        .op
        .test_route(
            "/test/backchannel-logout",
            json!({"client_id": CLIENT_ID, "sub": "ann"}),
        )
        .await;
    let took = setup
        .app
        .wait_until_refused(&session.access, std::time::Duration::from_secs(3))
        .await;
    assert!(took < std::time::Duration::from_secs(3));
    let refresh = browser.refresh_token(setup.app.port).unwrap();
    let mut res = setup.app.refresh(&refresh).await;
    assert_eq!(res.status(), 401);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["reason"], "oidc_logout");
    assert_eq!(setup.app.me(&other.access).await.status(), 200, "bob stays");
    assert_eq!(
        stored_of_kind(setup.app.db(), "backchannel_logout").len(),
        1
    );
}

#[actix_web::test]
async fn logout_tokens_that_are_not_right_are_refused() {
    let setup = spawn_with_provider(json!({}), "").await;
    let session = signed_in(&setup, &mut Browser::new(), "ann").await;
    let cases = [
        (json!({}), "none"),
        (json!({}), "hs256"),
        (json!({}), "unknown"),
        (json!({"nonce": "n"}), "provider"),
        (json!({"events": null}), "provider"),
        (json!({"events": {"other": {}}}), "provider"),
        (json!({"aud": "another-client"}), "provider"),
        (json!({"iss": "https://evil.example"}), "provider"),
        (json!({"sub": null}), "provider"),
        (
            json!({"iat": setup.app.clock.now().timestamp() - 3600}),
            "provider",
        ),
    ];
    for (extra, key) in cases {
        let token = logout_token(&setup, extra.clone(), key).await;
        let res = post_logout_token(&setup, &token).await;
        assert_error(res, 400, "invalid_request").await;
        assert_eq!(
            setup.app.me(&session.access).await.status(),
            200,
            "{extra} {key}"
        );
    }
    assert_error(
        post_logout_token(&setup, "not-a-jwt").await,
        400,
        "invalid_request",
    )
    .await;
    // a good one is accepted once
    let token = logout_token(&setup, json!({}), "provider").await;
    assert_eq!(post_logout_token(&setup, &token).await.status(), 200);
    let again = post_logout_token(&setup, &token).await;
    assert_error(again, 400, "invalid_request").await;
    setup
        .app
        .wait_until_refused(&session.access, std::time::Duration::from_secs(3))
        .await;
}

#[actix_web::test]
async fn on_postgresql_a_sign_in_started_on_one_instance_finishes_on_another_once() {
    let Some(admin) = postgres_or_skip("oidc two instances") else {
        return;
    };
    let database = std::sync::Arc::new(TestDatabase::postgres(&admin));
    let (port_a, port_b) = (free_port(), free_port());
    // behind one load balancer both have the same public URL: A's here
    let public_url = format!("http://127.0.0.1:{port_a}");
    let op = TestProvider::start(json!([client_entry(&public_url)]), json!({}));
    let dir = tempfile::tempdir().unwrap();
    let file = providers_file(dir.path(), &op.issuer, "");
    let a = spawn_on(&database, |args| {
        oidc_args(args, port_a, &public_url, &file)
    })
    .await;
    let b = spawn_on(&database, |args| {
        oidc_args(args, port_b, &public_url, &file)
    })
    .await;
    let mut browser = Browser::new();
    let callback = browser.walk_to_callback(&a.url, "ann", "/").await;
    let cookie = browser.cookie(a.port, "portcullis_oidc").unwrap();
    browser.set_cookie(b.port, "portcullis_oidc", &cookie);
    let on_b = callback.replace(&a.url, &b.url);
    assert_eq!(browser.callback(&on_b).await, "/");
    let refresh = browser.refresh_token(b.port).unwrap();
    assert_eq!(b.refresh(&refresh).await.status(), 200);
    // and the same state is spent for A too
    assert_eq!(browser.callback(&callback).await, "/?auth_error=oidc_state");
    assert_eq!(session_count(a.db()), 1);
}
