//! Access tokens: short-lived JWTs signed HS256 or EdDSA, and their strict
//! verification. The JWKS for EdDSA keys is built here too.
//!
//! Verification pins the algorithm, requires a known `kid`, `exp`, `iss` and
//! `aud`, refuses key material named in the header (`jwk`, `jku`, `x5u`,
//! `x5c`) and any `crit` extension, and checks `exp`/`nbf` against the `now`
//! it is given with at most [`LEEWAY_SECS`] of leeway. Verification is one
//! pass (split, header, signature with a key prepared once per `kid`,
//! claims); tokens that passed are remembered in a bounded
//! [`TokenCache`], and a cached token still has its times checked on every
//! call.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey};
use hmac::{Hmac, Mac};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::{ExposeSecret, SecretString};
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::authn::{ACR_PWD, Authentication};
use super::token_cache::{self, TokenCache};
use super::{Roles, User};

/// Clock leeway allowed when checking `exp` and `nbf`.
pub(crate) const LEEWAY_SECS: i64 = 5;
/// Verified tokens remembered (see [`TokenCache`]); about 200 bytes each.
pub(crate) const CACHE_CAPACITY: usize = 16 * 1024;

/// The signing key as configured.
pub enum SigningKey {
    Hs256(SecretString),
    /// An Ed25519 private key, PKCS#8 PEM.
    EdDsa(SecretString),
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(
        "not an Ed25519 PKCS#8 private key: expected one `-----BEGIN PRIVATE KEY-----` block, as `portcullis keygen` writes ({0})"
    )]
    BadPrivateKey(String),
    #[error(
        "not an Ed25519 key: expected a `-----BEGIN PRIVATE KEY-----` (PKCS#8) or `-----BEGIN PUBLIC KEY-----` (SPKI) block ({0})"
    )]
    BadVerifyKey(String),
}

/// Why a token was refused. Every variant answers `401 invalid_token`; the
/// detail is for logs and tests.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("malformed token or header")]
    Malformed,
    #[error("header names key material or critical extensions")]
    HeaderKeyMaterial,
    #[error("algorithm not allowed")]
    Algorithm,
    #[error("unknown key id")]
    UnknownKey,
    #[error("signature or claims rejected: {0}")]
    Rejected(String),
    #[error("token expired")]
    Expired,
    #[error("token not yet valid")]
    NotYetValid,
    #[error("signing failed")]
    Signing,
}

/// The claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    pub sub: String,
    pub name: String,
    pub roles: Vec<String>,
    pub sid: String,
    pub iat: i64,
    pub exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    pub iss: String,
    pub aud: String,
    pub jti: String,
    /// When the session last authenticated (Unix seconds). A token that
    /// does not say is as old as can be: no `max_age` rule passes it.
    #[serde(default)]
    pub auth_time: i64,
    /// How (RFC 8176 values).
    #[serde(default)]
    pub amr: Vec<String>,
    /// `"mfa"` or `"pwd"`; a token that does not say is `"pwd"`.
    #[serde(default = "acr_pwd")]
    pub acr: String,
}

fn acr_pwd() -> String {
    ACR_PWD.to_owned()
}

impl Claims {
    /// The roles the token names; names this gateway does not know are
    /// ignored.
    pub(crate) fn role_set(&self) -> Roles {
        Roles::new(self.roles.iter().filter_map(|r| r.parse().ok()))
    }
}

/// A freshly signed access token.
pub struct Issued {
    pub token: String,
    pub expires_in: i64,
}

/// Signs and verifies access tokens.
pub struct Tokens {
    algorithm: Algorithm,
    kid: String,
    encoding: EncodingKey,
    decoding: HashMap<String, VerifyKey>,
    cache: TokenCache<Claims>,
    issuer: String,
    audience: String,
    ttl: Duration,
    jwks: serde_json::Value,
    /// The ids of the keys only verified with, in the order configured.
    verify_only: Vec<String>,
}

impl Tokens {
    /// Builds the signer from the configured key, plus extra Ed25519 keys
    /// (PEM text) that are still accepted and published.
    pub fn new(
        key: &SigningKey,
        extra_verify_keys: &[String],
        issuer: &str,
        audience: &str,
        ttl: Duration,
    ) -> Result<Self, KeyError> {
        let mut decoding = HashMap::new();
        let mut jwks = Vec::new();
        let (algorithm, kid, encoding) = match key {
            SigningKey::Hs256(secret) => {
                let secret = secret.expose_secret().as_bytes();
                let kid = hs256_kid(secret);
                let mac = Hmac::<Sha256>::new_from_slice(secret)
                    .map_err(|e| KeyError::BadPrivateKey(e.to_string()))?;
                decoding.insert(kid.clone(), VerifyKey::Hs256(mac));
                (Algorithm::HS256, kid, EncodingKey::from_secret(secret))
            }
            SigningKey::EdDsa(pem) => {
                let signing = ed25519_dalek::SigningKey::from_pkcs8_pem(pem.expose_secret())
                    .map_err(|e| KeyError::BadPrivateKey(e.to_string()))?;
                let der = signing
                    .to_pkcs8_der()
                    .map_err(|e| KeyError::BadPrivateKey(e.to_string()))?;
                let public = signing.verifying_key();
                let kid = publish_ed25519(&public, &mut decoding, &mut jwks)?;
                (
                    Algorithm::EdDSA,
                    kid,
                    EncodingKey::from_ed_der(der.as_bytes()),
                )
            }
        };
        let mut verify_only = Vec::new();
        for pem in extra_verify_keys {
            let public = ed25519_dalek::SigningKey::from_pkcs8_pem(pem)
                .map(|k| k.verifying_key())
                .or_else(|_| ed25519_dalek::VerifyingKey::from_public_key_pem(pem))
                .map_err(|e| KeyError::BadVerifyKey(e.to_string()))?;
            verify_only.push(publish_ed25519(&public, &mut decoding, &mut jwks)?);
        }

        Ok(Self {
            algorithm,
            kid,
            encoding,
            decoding,
            cache: TokenCache::new(CACHE_CAPACITY),
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            ttl,
            jwks: serde_json::json!({ "keys": jwks }),
            verify_only,
        })
    }

    /// Signs an access token for `user` in session `sid`, authenticated as
    /// `auth` says; it never outlives the session (`session_ends`).
    pub fn sign(
        &self,
        user: &User,
        sid: &str,
        auth: &Authentication,
        now: DateTime<Utc>,
        session_ends: DateTime<Utc>,
    ) -> Result<Issued, TokenError> {
        let lifetime = self.ttl.min(session_ends - now).max(Duration::seconds(1));
        let mut header = Header::new(self.algorithm);
        header.kid = Some(self.kid.clone());
        header.typ = Some("JWT".into());
        let claims = Claims {
            sub: user.id.clone(),
            name: user.username.clone(),
            roles: user.roles.names(),
            sid: sid.to_owned(),
            iat: now.timestamp(),
            exp: (now + lifetime).timestamp(),
            nbf: None,
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            jti: uuid::Uuid::new_v4().to_string(),
            auth_time: auth.auth_time.timestamp(),
            amr: auth.amr.clone(),
            acr: auth.acr.to_owned(),
        };
        let token = jsonwebtoken::encode(&header, &claims, &self.encoding)
            .map_err(|_| TokenError::Signing)?;
        Ok(Issued {
            token,
            expires_in: lifetime.num_seconds(),
        })
    }

    /// Verifies a token's header, signature and claims at time `now`.
    #[cfg(test)]
    fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<Claims, TokenError> {
        self.verify_shared(token, now).map(Arc::unwrap_or_clone)
    }

    /// Verifies a token's header, signature and claims at `now`, sharing
    /// the claims: a token verified before (same SHA-256 of the whole
    /// token) comes from the cache, and only its `exp`/`nbf` are checked
    /// again against `now`. Revocation is the caller's to check, on every
    /// call.
    pub(crate) fn verify_shared(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<Arc<Claims>, TokenError> {
        let key = token_cache::hash(token);
        let claims = match self.cache.get(&key) {
            Some(claims) => claims,
            None => {
                let claims = Arc::new(self.verify_signed(token)?);
                check_times(&claims, now)?;
                self.cache
                    .insert(key, claims.clone(), claims.exp, now.timestamp());
                return Ok(claims);
            }
        };
        check_times(&claims, now)?;
        Ok(claims)
    }

    /// Header, signature, `iss` and `aud`, in one pass over the token:
    /// everything about a token that does not depend on the time.
    fn verify_signed(&self, token: &str) -> Result<Claims, TokenError> {
        let mut parts = token.split('.');
        let (Some(header_b64), Some(claims_b64), Some(signature_b64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let header_json = URL_SAFE_NO_PAD
            .decode(header_b64)
            .map_err(|_| TokenError::Malformed)?;
        let header: JwtHeader<'_> =
            serde_json::from_slice(&header_json).map_err(|_| TokenError::Malformed)?;
        if header.jwk.is_some()
            || header.jku.is_some()
            || header.x5u.is_some()
            || header.x5c.is_some()
            || header.crit.is_some()
        {
            return Err(TokenError::HeaderKeyMaterial);
        }
        let expected = match self.algorithm {
            Algorithm::EdDSA => "EdDSA",
            _ => "HS256",
        };
        if header.alg != expected {
            return Err(TokenError::Algorithm);
        }
        let key = header
            .kid
            .as_deref()
            .and_then(|kid| self.decoding.get(kid))
            .ok_or(TokenError::UnknownKey)?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature_b64)
            .map_err(|_| TokenError::Rejected("signature is not base64url".into()))?;
        // the signing input is the token up to its last dot
        let signing_input = &token[..header_b64.len() + 1 + claims_b64.len()];
        key.verify(signing_input.as_bytes(), &signature)?;
        let claims_json = URL_SAFE_NO_PAD
            .decode(claims_b64)
            .map_err(|_| TokenError::Rejected("claims are not base64url".into()))?;
        let claims: Claims = serde_json::from_slice(&claims_json)
            .map_err(|e| TokenError::Rejected(format!("claims: {e}")))?;
        if claims.iss != self.issuer {
            return Err(TokenError::Rejected("wrong issuer".into()));
        }
        if claims.aud != self.audience {
            return Err(TokenError::Rejected("wrong audience".into()));
        }
        Ok(claims)
    }

    /// `{"keys": [...]}`: the Ed25519 public keys (empty for HS256).
    pub fn jwks(&self) -> &serde_json::Value {
        &self.jwks
    }

    /// Lifetime of an access token.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// The algorithm and the key ids (public: every token's header and
    /// the JWKS show them) as the log tells them:
    /// `EdDSA key kid-a (also verifying kid-b)`.
    pub fn describe(&self) -> String {
        let alg = match self.algorithm {
            Algorithm::EdDSA => "EdDSA",
            _ => "HS256",
        };
        let mut line = format!("{alg} key {}", self.kid);
        if !self.verify_only.is_empty() {
            line.push_str(&format!(
                " (also verifying {})",
                self.verify_only.join(", ")
            ));
        }
        line
    }
}

/// `exp` and `nbf` at `now`, in milliseconds, not whole seconds: nothing is
/// accepted past `exp + LEEWAY_SECS`, not even a fraction of a second.
fn check_times(claims: &Claims, now: DateTime<Utc>) -> Result<(), TokenError> {
    let now_ms = now.timestamp_millis();
    let leeway_ms = LEEWAY_SECS * 1000;
    if now_ms > claims.exp.saturating_mul(1000).saturating_add(leeway_ms) {
        return Err(TokenError::Expired);
    }
    if claims
        .nbf
        .is_some_and(|nbf| nbf.saturating_mul(1000) > now_ms + leeway_ms)
    {
        return Err(TokenError::NotYetValid);
    }
    Ok(())
}

/// The JOSE header members verification looks at; the key-material ones
/// only for their presence.
#[derive(Deserialize)]
struct JwtHeader<'a> {
    #[serde(borrow)]
    alg: Cow<'a, str>,
    #[serde(borrow, default)]
    kid: Option<Cow<'a, str>>,
    #[serde(default)]
    jwk: Option<IgnoredAny>,
    #[serde(default)]
    jku: Option<IgnoredAny>,
    #[serde(default)]
    x5u: Option<IgnoredAny>,
    #[serde(default)]
    x5c: Option<IgnoredAny>,
    #[serde(default)]
    crit: Option<IgnoredAny>,
}

/// A verifying key, prepared once per `kid`: the HMAC keyed state, or the
/// Ed25519 point already decompressed.
enum VerifyKey {
    Hs256(Hmac<Sha256>),
    Ed25519(ed25519_dalek::VerifyingKey),
}

impl VerifyKey {
    fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), TokenError> {
        let bad = || TokenError::Rejected("bad signature".into());
        match self {
            Self::Hs256(mac) => {
                let mut mac = mac.clone();
                mac.update(message);
                // constant-time comparison
                mac.verify_slice(signature).map_err(|_| bad())
            }
            Self::Ed25519(key) => {
                let signature =
                    ed25519_dalek::Signature::from_slice(signature).map_err(|_| bad())?;
                key.verify_strict(message, &signature).map_err(|_| bad())
            }
        }
    }
}

fn hs256_kid(secret: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"portcullis hs256 kid\0");
    hasher.update(secret);
    format!("hs256-{}", &URL_SAFE_NO_PAD.encode(hasher.finalize())[..16])
}

/// Adds an Ed25519 public key to the verifier and the JWKS; returns its kid,
/// the RFC 7638 thumbprint.
fn publish_ed25519(
    public: &ed25519_dalek::VerifyingKey,
    decoding: &mut HashMap<String, VerifyKey>,
    jwks: &mut Vec<serde_json::Value>,
) -> Result<String, KeyError> {
    let x = URL_SAFE_NO_PAD.encode(public.as_bytes());
    // RFC 7638 §3: the required members, lexicographic order, no whitespace.
    let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
    let kid = URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()));
    if decoding
        .insert(kid.clone(), VerifyKey::Ed25519(*public))
        .is_none()
    {
        jwks.push(serde_json::json!({
            "kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "alg": "EdDSA", "use": "sig",
        }));
    }
    Ok(kid)
}

/// A new Ed25519 private key as PKCS#8 v1 PEM (RFC 5208, no public key
/// embedded), for `portcullis keygen`: OpenSSL 3.0 and Python's
/// `cryptography` refuse the v2 form (RFC 5958) that embeds it. Both
/// forms load.
pub fn generate_ed25519_pem() -> Result<SecretString, KeyError> {
    let key = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
    let v1 = ed25519_dalek::pkcs8::KeypairBytes {
        secret_key: key.to_bytes(),
        public_key: None,
    };
    v1.to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
        .map(|pem| SecretString::from(pem.as_str()))
        .map_err(|e| KeyError::BadPrivateKey(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Roles;

    fn user() -> User {
        User {
            id: "u1".into(),
            username: "alice".into(),
            roles: Roles::parse("admin").unwrap(),
            disabled: false,
        }
    }

    fn pwd_auth() -> Authentication {
        Authentication::by(&[crate::auth::authn::Method::Pwd], now())
    }

    #[test]
    fn tokens_say_how_and_when_the_session_authenticated() {
        let tokens = hs("0123456789abcdef0123456789abcdef");
        let two = Authentication::by(
            &[
                crate::auth::authn::Method::Pwd,
                crate::auth::authn::Method::Otp,
            ],
            now() - Duration::seconds(40),
        );
        let issued = tokens.sign(&user(), "s1", &two, now(), far()).unwrap();
        let claims = tokens.verify(&issued.token, now()).unwrap();
        assert_eq!(claims.acr, "mfa");
        assert_eq!(claims.amr, ["pwd", "otp", "mfa"]);
        assert_eq!(claims.auth_time, now().timestamp() - 40);
    }

    fn hs(secret: &str) -> Tokens {
        Tokens::new(
            &SigningKey::Hs256(SecretString::from(secret)),
            &[],
            "portcullis",
            "portcullis-api",
            Duration::seconds(900),
        )
        .unwrap()
    }

    fn ed(pem: &SecretString) -> Tokens {
        Tokens::new(
            &SigningKey::EdDsa(pem.clone()),
            &[],
            "portcullis",
            "portcullis-api",
            Duration::seconds(900),
        )
        .unwrap()
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    fn far() -> DateTime<Utc> {
        now() + Duration::days(30)
    }

    #[test]
    fn a_token_never_outlives_its_session() {
        let tokens = hs("0123456789abcdef0123456789abcdef");
        let issued = tokens
            .sign(
                &user(),
                "s1",
                &pwd_auth(),
                now(),
                now() + Duration::seconds(60),
            )
            .unwrap();
        assert_eq!(issued.expires_in, 60);
        let claims = tokens.verify(&issued.token, now()).unwrap();
        assert_eq!(claims.exp, now().timestamp() + 60);
    }

    #[test]
    fn a_signed_token_verifies_with_every_claim() {
        let tokens = hs("0123456789abcdef0123456789abcdef");
        let issued = tokens
            .sign(&user(), "s1", &pwd_auth(), now(), far())
            .unwrap();
        let claims = tokens.verify(&issued.token, now()).unwrap();
        assert_eq!(claims.sub, "u1");
        assert_eq!(claims.roles, ["user", "admin"]);
        assert_eq!(claims.exp - claims.iat, 900);
        assert_eq!(issued.expires_in, 900);
    }

    #[test]
    fn expiry_allows_five_seconds_of_leeway_and_no_more() {
        let tokens = hs("0123456789abcdef0123456789abcdef");
        let issued = tokens
            .sign(&user(), "s1", &pwd_auth(), now(), far())
            .unwrap();
        let exp = now() + Duration::seconds(900);
        assert!(
            tokens
                .verify(&issued.token, exp + Duration::seconds(5))
                .is_ok()
        );
        assert_eq!(
            tokens.verify(&issued.token, exp + Duration::milliseconds(5500)),
            Err(TokenError::Expired),
            "half a second past the leeway is too late"
        );
        assert_eq!(
            tokens.verify(&issued.token, exp + Duration::milliseconds(5001)),
            Err(TokenError::Expired)
        );
        assert_eq!(
            tokens.verify(&issued.token, exp + Duration::seconds(6)),
            Err(TokenError::Expired)
        );
    }

    #[test]
    fn a_token_from_another_secret_is_refused() {
        let issued = hs("another-secret-another-secret-xx")
            .sign(&user(), "s1", &pwd_auth(), now(), far())
            .unwrap();
        assert!(
            hs("0123456789abcdef0123456789abcdef")
                .verify(&issued.token, now())
                .is_err()
        );
    }

    #[test]
    fn eddsa_tokens_verify_and_publish_a_thumbprint_kid() {
        let pem = generate_ed25519_pem().unwrap();
        let tokens = ed(&pem);
        let issued = tokens
            .sign(&user(), "s1", &pwd_auth(), now(), far())
            .unwrap();
        assert!(tokens.verify(&issued.token, now()).is_ok());
        let header = jsonwebtoken::decode_header(&issued.token).unwrap();
        let keys = tokens.jwks()["keys"].as_array().unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0]["kid"].as_str(), header.kid.as_deref());
        // another Ed25519 key does not verify it
        let other = ed(&generate_ed25519_pem().unwrap());
        assert_eq!(
            other.verify(&issued.token, now()),
            Err(TokenError::UnknownKey)
        );
    }

    #[test]
    fn keys_load_in_both_pkcs8_forms() {
        use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
        let v1 = generate_ed25519_pem().unwrap();
        let key = ed25519_dalek::SigningKey::from_pkcs8_pem(v1.expose_secret()).unwrap();
        // the v2 form, public key embedded, as earlier versions wrote it
        let v2 = SecretString::from(key.to_pkcs8_pem(LineEnding::LF).unwrap().as_str());
        assert_ne!(v1.expose_secret(), v2.expose_secret());
        let issued = ed(&v1)
            .sign(&user(), "s1", &pwd_auth(), now(), far())
            .unwrap();
        assert!(
            ed(&v2).verify(&issued.token, now()).is_ok(),
            "same key either way"
        );
        assert_eq!(ed(&v1).jwks(), ed(&v2).jwks());
    }

    #[test]
    fn extra_verify_keys_are_accepted_and_published() {
        let old = generate_ed25519_pem().unwrap();
        let issued = ed(&old)
            .sign(&user(), "s1", &pwd_auth(), now(), far())
            .unwrap();
        let new = Tokens::new(
            &SigningKey::EdDsa(generate_ed25519_pem().unwrap()),
            &[old.expose_secret().to_owned()],
            "portcullis",
            "portcullis-api",
            Duration::seconds(900),
        )
        .unwrap();
        assert!(new.verify(&issued.token, now()).is_ok());
        assert_eq!(new.jwks()["keys"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn an_hs256_token_is_refused_by_an_eddsa_verifier() {
        let hs_token = hs("0123456789abcdef0123456789abcdef")
            .sign(&user(), "s1", &pwd_auth(), now(), far())
            .unwrap();
        let tokens = ed(&generate_ed25519_pem().unwrap());
        assert_eq!(
            tokens.verify(&hs_token.token, now()),
            Err(TokenError::Algorithm)
        );
    }
}
