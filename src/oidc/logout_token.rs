//! OpenID Connect Back-Channel Logout 1.0: a provider's logout token
//! verified (`jsonwebtoken`, with the provider's published keys: an
//! asymmetric signature, `iss`, `aud`, a recent `iat`, a `jti`, the
//! back-channel `events` member, `sid` or `sub`, no `nonce`), and the
//! sessions it names ended, its `jti` recorded in the same transaction so
//! that it is accepted once.

use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use super::OidcError;
use super::provider::ProviderConfig;
use crate::db::ledger::{SessionPolicy, Which};
use crate::db::{self, Conn, oidc as store};
use crate::events::{Caller, Event, Kind};
use crate::sessions::{EndReason, Ending, end_in};

/// The member of `events` a logout token must have.
const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// How old a logout token may be.
const MAX_AGE: Duration = Duration::minutes(10);
/// How far ahead of this clock a provider's clock may be.
const LEEWAY: Duration = Duration::seconds(60);

/// Why a logout token was refused.
#[derive(Debug, thiserror::Error)]
pub enum Invalid {
    /// Signed with a key the provider has not published (yet).
    #[error("signed with an unknown key")]
    UnknownKey,
    #[error("{0}")]
    Bad(String),
}

/// A verified logout token's claims.
#[derive(Debug, Clone, Deserialize)]
pub struct LogoutClaims {
    iat: i64,
    #[serde(default)]
    exp: Option<i64>,
    jti: String,
    events: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    sid: Option<String>,
    #[serde(default)]
    sub: Option<String>,
    #[serde(default)]
    nonce: Option<serde_json::Value>,
}

fn bad(what: impl Into<String>) -> Invalid {
    Invalid::Bad(what.into())
}

/// Verifies `token` as a logout token of `config`'s provider, whose keys
/// are `keys`, at `now`.
pub fn verify(
    config: &ProviderConfig,
    keys: &JwkSet,
    token: &str,
    now: DateTime<Utc>,
) -> Result<LogoutClaims, Invalid> {
    let header = jsonwebtoken::decode_header(token).map_err(|e| bad(format!("header: {e}")))?;
    if matches!(
        header.alg,
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512
    ) {
        return Err(bad("a symmetric signature"));
    }
    let key = match &header.kid {
        Some(kid) => keys.find(kid),
        None if keys.keys.len() == 1 => keys.keys.first(),
        None => None,
    }
    .ok_or(Invalid::UnknownKey)?;
    let key = DecodingKey::from_jwk(key).map_err(|e| bad(format!("key: {e}")))?;
    let mut validation = Validation::new(header.alg);
    validation.set_issuer(&[&config.issuer]);
    validation.set_audience(&[&config.client_id]);
    // `exp` is optional in a logout token, and checked below on our clock
    validation.validate_exp = false;
    validation.required_spec_claims = HashSet::from(["iss".to_owned(), "aud".to_owned()]);
    let claims = jsonwebtoken::decode::<LogoutClaims>(token, &key, &validation)
        .map_err(|e| bad(e.to_string()))?
        .claims;
    let now_secs = now.timestamp();
    if claims.iat > now_secs + LEEWAY.num_seconds() || claims.iat < now_secs - MAX_AGE.num_seconds()
    {
        return Err(bad("iat is not recent"));
    }
    if claims
        .exp
        .is_some_and(|exp| exp < now_secs - LEEWAY.num_seconds())
    {
        return Err(bad("expired"));
    }
    if !claims.events.get(EVENT).is_some_and(|v| v.is_object()) {
        return Err(bad("no back-channel logout event"));
    }
    if claims.nonce.is_some() {
        return Err(bad("a nonce (an ID token, not a logout token)"));
    }
    if claims.sid.is_none() && claims.sub.is_none() {
        return Err(bad("neither sid nor sub"));
    }
    if claims.jti.is_empty() {
        return Err(bad("no jti"));
    }
    Ok(claims)
}

/// In one transaction: the token's `jti` recorded (a second time refuses
/// it), the sessions it names ended for [`EndReason::OidcLogout`], and a
/// back-channel logout event.
pub(super) fn end_sessions(
    conn: &mut Conn,
    config: &ProviderConfig,
    claims: &LogoutClaims,
    policy: &SessionPolicy,
    caller: &Caller,
    now: DateTime<Utc>,
) -> Result<Ending, OidcError> {
    db::write_tx(conn, |conn| {
        let until = DateTime::from_timestamp(claims.iat, 0).unwrap_or(now) + MAX_AGE + LEEWAY;
        let until = claims
            .exp
            .and_then(|exp| DateTime::from_timestamp(exp, 0))
            .map_or(until, |exp| exp.max(until));
        if !store::first_use_of_jti(conn, &config.issuer, &claims.jti, until)? {
            // nothing else ran in this transaction
            return Err(OidcError::InvalidLogoutToken("a jti seen before".into()));
        }
        let user_id = match &claims.sub {
            Some(sub) => store::user_of(conn, &config.issuer, sub)?,
            None => None,
        };
        let which = Which::Federated {
            provider: config.id.clone(),
            sid: claims.sid.clone(),
            user_id: user_id.clone(),
        };
        let ending = end_in(
            conn,
            &which,
            EndReason::OidcLogout,
            policy,
            caller,
            None,
            now,
        )?;
        let mut event = Event::new(Kind::BackchannelLogout, caller, now)
            .with("provider", config.id.as_str())
            .with("sessions", ending.len().to_string());
        if let Some(id) = &user_id {
            event = event.user_id(id);
        }
        event.write(conn)?;
        Ok(ending.after(event))
    })
}
