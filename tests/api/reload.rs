//! SIGHUP reloads against the real binary: a renewed certificate is
//! served while open connections stay, the signing key rotates as
//! docs/deploy.md describes with reloads instead of restarts (every
//! session lives on), the policy file is read again, and a broken file
//! keeps what runs and says why.

use std::path::Path;
use std::sync::Arc;

use serde_json::Value;

use crate::support::*;

/// `serve` with `env` on top of [`serve_command`]'s, without its secret
/// when `env` names a key file; the process and its port.
fn serve_reloadable(env: &[(&str, &str)]) -> (Process, String) {
    let mut cmd = serve_command(env);
    if env.iter().any(|(k, _)| *k == "PORTCULLIS_JWT_KEY_FILE") {
        cmd.env_remove("PORTCULLIS_JWT_SECRET");
    }
    try_serve(cmd).unwrap_or_else(|output| panic!("serve did not start: {output}"))
}

/// Sends SIGHUP and waits for the reload's verdict; the line.
fn hangup(gateway: &mut Process) -> String {
    gateway.signal("HUP");
    let lines = gateway
        .wait_for_line(|l| l.contains("SIGHUP: reloaded") || l.contains("SIGHUP: reload failed"));
    lines.last().unwrap().clone()
}

/// Sends SIGHUP and checks that the reload failed, naming `var`.
fn refused_reload(gateway: &mut Process, var: &str) {
    let said = hangup(gateway);
    assert!(said.contains("reload failed"), "{said}");
    let lines = gateway.lines().join("\n");
    assert!(
        lines.contains(&format!("SIGHUP: {var}: ")),
        "the problem names {var}:\n{lines}"
    );
}

fn port_of(url: &str) -> u16 {
    url.rsplit(':').next().unwrap().parse().unwrap()
}

#[actix_web::test]
async fn a_renewed_certificate_is_served_after_sighup_and_open_connections_stay() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("p.db").display().to_string();
    let (cert, key) = (pki.path("cert.pem"), pki.path("key.pem"));
    let (mut gateway, url) = serve_reloadable(&[
        ("DATABASE_URL", &db),
        ("PORTCULLIS_TLS_CERT", cert.to_str().unwrap()),
        ("PORTCULLIS_TLS_KEY", key.to_str().unwrap()),
    ]);
    let port = port_of(&url);
    // a fresh client each time: a resumed session shows the first
    // handshake's certificate
    let config = || {
        let mut config = pki.client_config();
        config.resumption = rustls::client::Resumption::disabled();
        Arc::new(config)
    };
    let mut open = tls_connect(&config(), port);
    assert_eq!(tls_exchange(&mut open, "/healthz"), 200);
    let before = presented(&open);

    let renewed = pki.renew();
    assert_ne!(renewed, before);
    let said = hangup(&mut gateway);
    assert!(said.contains("the TLS certificate"), "{said}");
    let fresh = tls_connect(&config(), port);
    assert_eq!(
        presented(&fresh),
        renewed,
        "a new handshake gets the new one"
    );
    assert_eq!(
        tls_exchange(&mut open, "/healthz"),
        200,
        "the connection opened before the reload still serves"
    );

    // a broken certificate file keeps the renewed one, and says why
    std::fs::write(&cert, "not a certificate").unwrap();
    refused_reload(&mut gateway, "PORTCULLIS_TLS_CERT");
    let mut again = tls_connect(&config(), port);
    assert_eq!(presented(&again), renewed);
    assert_eq!(tls_exchange(&mut again, "/healthz"), 200);
}

/// The key ids the gateway at `url` publishes.
async fn published(url: &str) -> Vec<String> {
    let mut res = client()
        .get(format!("{url}/.well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    let jwks: Value = res.json().await.unwrap();
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

/// Whether `access` passes `GET /auth/me` at `url`.
async fn accepted(url: &str, access: &str) -> bool {
    let res = client()
        .get(format!("{url}/auth/me"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    res.status() == 200
}

/// A refresh with `cookie` at `url`; the new cookie and access token.
async fn refreshed(url: &str, cookie: &str) -> (String, String) {
    let mut res = refresh_at(url, cookie).await;
    assert_eq!(res.status(), 200, "the session lives on");
    let cookie = refresh_cookie(&res);
    let body: Value = res.json().await.unwrap();
    (cookie, body["access_token"].as_str().unwrap().to_owned())
}

fn copy(from: &Path, to: &Path) {
    std::fs::copy(from, to).unwrap();
}

#[actix_web::test]
async fn the_signing_key_rotates_by_reloads_without_logging_anyone_out() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("p.db").display().to_string();
    let old = keygen(dir.path(), "old.pem");
    let new = keygen(dir.path(), "new.pem");
    let (signing, verify) = (
        dir.path().join("signing.pem"),
        dir.path().join("verify.pem"),
    );
    copy(&old, &signing);
    std::fs::write(&verify, "").unwrap();
    cli_add_user(&db, "rhea");
    let (mut gateway, url) = serve_reloadable(&[
        ("DATABASE_URL", &db),
        ("PORTCULLIS_JWT_KEY_FILE", signing.to_str().unwrap()),
        ("PORTCULLIS_JWT_VERIFY_KEYS", verify.to_str().unwrap()),
    ]);
    let mut res = login_at(&url, "rhea", PASSWORD).await;
    assert_eq!(res.status(), 200);
    let cookie = refresh_cookie(&res);
    let body: Value = res.json().await.unwrap();
    let by_old = body["access_token"].as_str().unwrap().to_owned();
    let old_kid = kid(&by_old);
    assert_eq!(published(&url).await, vec![old_kid.clone()]);

    // 1. the new key, verify-only: published, nothing signed with it yet
    copy(&new, &verify);
    let said = hangup(&mut gateway);
    assert!(said.contains("SIGHUP: reloaded"), "{said}");
    let kids = published(&url).await;
    assert_eq!(kids.len(), 2, "{kids:?}");
    let new_kid = kids.iter().find(|k| **k != old_kid).unwrap().clone();
    let (cookie, token) = refreshed(&url, &cookie).await;
    assert_eq!(kid(&token), old_kid);

    // 2. sign with the new key, the old one verify-only
    copy(&new, &signing);
    copy(&old, &verify);
    let said = hangup(&mut gateway);
    assert!(said.contains(&format!("EdDSA key {new_kid}")), "{said}");
    let (cookie, by_new) = refreshed(&url, &cookie).await;
    assert_eq!(kid(&by_new), new_kid);
    assert!(
        accepted(&url, &by_old).await,
        "tokens of the old key still pass"
    );

    // a broken key file on the next reload keeps the new key
    std::fs::write(&signing, "-----BEGIN PRIVATE KEY-----\nbroken\n").unwrap();
    refused_reload(&mut gateway, "PORTCULLIS_JWT_KEY_FILE");
    let (cookie, token) = refreshed(&url, &cookie).await;
    assert_eq!(kid(&token), new_kid);
    assert!(accepted(&url, &by_old).await);

    // 3. the old key dropped: its tokens stop passing, the session does not
    copy(&new, &signing);
    std::fs::write(&verify, "").unwrap();
    hangup(&mut gateway);
    assert_eq!(published(&url).await, vec![new_kid.clone()]);
    assert!(!accepted(&url, &by_old).await, "the dropped key's token");
    assert!(accepted(&url, &by_new).await);
    let (_, token) = refreshed(&url, &cookie).await;
    assert!(accepted(&url, &token).await);
}

/// The `/api` rules `/auth/policy` shows the holder of `access`.
async fn rules(url: &str, access: &str) -> Vec<Value> {
    let mut res = client()
        .get(format!("{url}/auth/policy"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    body["rules"].as_array().unwrap().clone()
}

#[actix_web::test]
async fn the_policy_file_is_read_again_and_a_broken_one_keeps_the_last() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("p.db").display().to_string();
    let one = "[[rule]]\nmethods = [\"GET\"]\npath = \"/\"\nroles = [\"user\"]\n";
    let policy = policy_file(dir.path(), one);
    cli_add_user(&db, "sol");
    let (mut gateway, url) = serve_reloadable(&[
        ("DATABASE_URL", &db),
        ("PORTCULLIS_POLICY", policy.to_str().unwrap()),
    ]);
    let mut res = login_at(&url, "sol", PASSWORD).await;
    let body: Value = res.json().await.unwrap();
    let access = body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(rules(&url, &access).await.len(), 1);

    let two =
        format!("{one}[[rule]]\nmethods = [\"DELETE\"]\npath = \"/x\"\nroles = [\"admin\"]\n");
    std::fs::write(&policy, two).unwrap();
    let said = hangup(&mut gateway);
    assert!(said.contains("a policy of 2 rule(s)"), "{said}");
    let now = rules(&url, &access).await;
    assert_eq!(now.len(), 2, "{now:?}");
    assert_eq!(now[1]["allowed"], false, "{now:?}");

    std::fs::write(&policy, "[[rule]]\nmethods = [\"GET\"]\n").unwrap();
    refused_reload(&mut gateway, "PORTCULLIS_POLICY");
    assert_eq!(rules(&url, &access).await.len(), 2, "the last good policy");
    assert!(accepted(&url, &access).await, "the session is untouched");
}
