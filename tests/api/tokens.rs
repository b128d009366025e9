//! §3: access-token verification refuses every forgery.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use portcullis::auth::Role;
use serde_json::{Value, json};

use crate::support::*;

fn sign(header: &Header, claims: &Value, secret: &str) -> String {
    jsonwebtoken::encode(header, claims, &EncodingKey::from_secret(secret.as_bytes())).unwrap()
}

fn raw_token(header: &Value, claims: &Value, signature: &str) -> String {
    format!(
        "{}.{}.{signature}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

async fn assert_refused(app: &TestApp, token: &str, what: &str) {
    let mut res = app.me(token).await;
    assert_eq!(res.status(), 401, "{what} was accepted by /auth/me");
    assert_eq!(error_code(&mut res).await, "invalid_token", "{what}");
    let res = app.api("GET", "/x", token).await;
    assert_eq!(res.status(), 401, "{what} was accepted by /api");
}

#[actix_web::test]
async fn forged_tokens_are_refused() {
    let app = spawn_app().await;
    let session = app.logged_in("carol", &[]).await;
    let claims = claims(&session.access);
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(kid(&session.access));

    // control: our own re-signing is accepted, so each refusal below is
    // about the one thing changed
    assert_eq!(app.me(&sign(&header, &claims, SECRET)).await.status(), 200);

    let now = portcullis::clock::now().timestamp();
    let mut escalated = claims.clone();
    escalated["roles"] = json!(["user", "admin"]);
    assert_refused(
        &app,
        &sign(&header, &escalated, "another-secret-of-enough-bytes-xx"),
        "wrong key",
    )
    .await;

    let mut tampered = session
        .access
        .split('.')
        .map(str::to_owned)
        .collect::<Vec<_>>();
    tampered[1] = URL_SAFE_NO_PAD.encode(escalated.to_string());
    assert_refused(&app, &tampered.join("."), "tampered claims").await;

    let alg_none = raw_token(
        &json!({ "alg": "none", "typ": "JWT", "kid": kid(&session.access) }),
        &claims,
        "",
    );
    assert_refused(&app, &alg_none, "alg none").await;

    let mut c = claims.clone();
    c["iss"] = json!("someone-else");
    assert_refused(&app, &sign(&header, &c, SECRET), "wrong iss").await;
    let mut c = claims.clone();
    c["aud"] = json!("another-api");
    assert_refused(&app, &sign(&header, &c, SECRET), "wrong aud").await;
    let mut c = claims.clone();
    c.as_object_mut().unwrap().remove("aud");
    assert_refused(&app, &sign(&header, &c, SECRET), "missing aud").await;
    let mut c = claims.clone();
    c.as_object_mut().unwrap().remove("exp");
    assert_refused(&app, &sign(&header, &c, SECRET), "missing exp").await;
    let mut c = claims.clone();
    c["exp"] = json!(now - 10);
    assert_refused(&app, &sign(&header, &c, SECRET), "expired").await;
    let mut c = claims.clone();
    c["nbf"] = json!(now + 60);
    assert_refused(&app, &sign(&header, &c, SECRET), "future nbf").await;

    let mut h = header.clone();
    h.jku = Some("http://127.0.0.1:1/jwks.json".into());
    assert_refused(&app, &sign(&h, &claims, SECRET), "jku header").await;
    let mut h = header.clone();
    h.x5u = Some("http://127.0.0.1:1/cert.pem".into());
    assert_refused(&app, &sign(&h, &claims, SECRET), "x5u header").await;
    let mut h = header.clone();
    h.x5c = Some(vec!["MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA".into()]);
    assert_refused(&app, &sign(&h, &claims, SECRET), "x5c header").await;
    let mut h = header.clone();
    h.crit = Some(vec!["exp".into()]);
    assert_refused(&app, &sign(&h, &claims, SECRET), "crit header").await;
    let jwk_header = json!({ "alg": "HS256", "kid": kid(&session.access), "jwk": { "kty": "oct", "k": URL_SAFE_NO_PAD.encode(SECRET) } });
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(jwk_header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let sig = jsonwebtoken::crypto::sign(
        signing_input.as_bytes(),
        &EncodingKey::from_secret(SECRET.as_bytes()),
        Algorithm::HS256,
    )
    .unwrap();
    assert_refused(&app, &format!("{signing_input}.{sig}"), "jwk header").await;

    let mut h = header.clone();
    h.kid = Some("some-other-key".into());
    assert_refused(&app, &sign(&h, &claims, SECRET), "unknown kid").await;
    let mut h = Header::new(Algorithm::HS512);
    h.kid = Some(kid(&session.access));
    assert_refused(&app, &sign(&h, &claims, SECRET), "another algorithm").await;
    assert_refused(&app, "not.a.token", "garbage").await;
}

#[actix_web::test]
async fn eddsa_mode_publishes_the_jwks_and_refuses_hs256_confusion() {
    let dir = tempfile::tempdir().unwrap();
    let key_file = keygen(dir.path(), "key.pem");
    let pem = std::fs::read_to_string(&key_file).unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    let app = spawn_with(|a| sign_with_key(a, &key_file)).await;
    let session = app.logged_in("carol", &[Role::User]).await;
    let header = jsonwebtoken::decode_header(&session.access).unwrap();
    assert_eq!(header.alg, Algorithm::EdDSA);

    let mut res = app.get("/.well-known/jwks.json").await;
    assert_eq!(res.status(), 200);
    let jwks: Value = res.json().await.unwrap();
    let key = &jwks["keys"][0];
    assert_eq!(key["kty"], "OKP");
    assert_eq!(key["crv"], "Ed25519");
    assert_eq!(key["kid"].as_str(), header.kid.as_deref());

    // a verifier outside the gateway can check the token with the JWKS alone
    let decoding =
        jsonwebtoken::DecodingKey::from_ed_components(key["x"].as_str().unwrap()).unwrap();
    let mut validation = jsonwebtoken::Validation::new(Algorithm::EdDSA);
    validation.set_audience(&["portcullis-api"]);
    assert!(jsonwebtoken::decode::<Value>(&session.access, &decoding, &validation).is_ok());

    // HS256 signed with the public key bytes: the classic confusion attack
    let x = URL_SAFE_NO_PAD.decode(key["x"].as_str().unwrap()).unwrap();
    let mut h = Header::new(Algorithm::HS256);
    h.kid = header.kid.clone();
    let forged =
        jsonwebtoken::encode(&h, &claims(&session.access), &EncodingKey::from_secret(&x)).unwrap();
    assert_refused(&app, &forged, "HS256 with the public key").await;
}

#[actix_web::test]
async fn the_jwks_is_empty_in_hs256_mode() {
    let app = spawn_app().await;
    let mut res = app.get("/.well-known/jwks.json").await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body, json!({ "keys": [] }));
}

#[actix_web::test]
async fn rotated_keys_keep_verifying_old_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let (old, new) = (keygen(dir.path(), "old.pem"), keygen(dir.path(), "new.pem"));
    let before = spawn_with(|a| sign_with_key(a, &old)).await;
    before.add_user("carol", &[]);
    let session = before.login("carol").await;

    let database_url = before.database_url.clone();
    let after = spawn_with(|a| {
        sign_with_key(a, &new);
        a.jwt_verify_keys = old.display().to_string();
        a.db.database_url = database_url;
    })
    .await;
    assert_eq!(after.me(&session.access).await.status(), 200);
    let mut res = after.get("/.well-known/jwks.json").await;
    let jwks: Value = res.json().await.unwrap();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);
    // new tokens are signed with the new key only
    let fresh = after.login("carol").await;
    assert_eq!(before.me(&fresh.access).await.status(), 401);
}

/// A token with one character of part `part` (0 header, 1 claims, 2
/// signature) changed, well inside the part so it still decodes.
fn one_byte_off(token: &str, part: usize) -> String {
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let mut bytes = parts[part].clone().into_bytes();
    let i = bytes.len() / 2;
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    parts[part] = String::from_utf8(bytes).unwrap();
    parts.join(".")
}

/// Every check that still applies to a token the gateway verified before
/// (and so serves from its verified-token cache), in HS256 or EdDSA mode.
async fn assert_cached_tokens_are_still_checked(app: &TestApp) {
    let session = app.logged_in("carol", &[Role::User]).await;
    // verified once: from here on it comes from the cache
    assert_eq!(app.api("GET", "/x", &session.access).await.status(), 200);
    assert_eq!(app.me(&session.access).await.status(), 200);

    for part in [0, 1, 2] {
        let forged = one_byte_off(&session.access, part);
        assert_ne!(forged, session.access);
        assert_refused(app, &forged, &format!("one byte off in part {part}")).await;
    }
    assert_eq!(
        app.api("GET", "/x", &session.access).await.status(),
        200,
        "the real token is still accepted"
    );

    // expiry: the cached token dies at exp + leeway on the app's clock
    let ttl = claims(&session.access)["exp"].as_i64().unwrap()
        - claims(&session.access)["iat"].as_i64().unwrap();
    app.advance(ttl as f64 + 6.0);
    assert_refused(app, &session.access, "an expired cached token").await;

    // revocation: a cached token of an ended session is refused
    let other = app.logged_in("dave", &[Role::User]).await;
    assert_eq!(app.api("GET", "/x", &other.access).await.status(), 200);
    assert_eq!(app.logout(&other.refresh).await.status(), 204);
    app.wait_until_refused(&other.access, std::time::Duration::from_secs(3))
        .await;
    let res = app.api("GET", "/x", &other.access).await;
    assert_eq!(res.status(), 401, "a revoked cached token reached /api");
}

#[actix_web::test]
async fn cached_hs256_tokens_still_expire_die_with_their_session_and_refuse_forgeries() {
    let app = spawn_proxied().await;
    assert_cached_tokens_are_still_checked(&app).await;
}

#[actix_web::test]
async fn cached_eddsa_tokens_still_expire_die_with_their_session_and_refuse_forgeries() {
    let dir = tempfile::tempdir().unwrap();
    let key_file = ed25519_key_file(dir.path());
    let app = spawn_proxied_with(|a| sign_with_key(a, &key_file)).await;
    assert_cached_tokens_are_still_checked(&app).await;
}
