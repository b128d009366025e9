//! Signing in with an OpenID Provider (contract §10): the service behind
//! `/auth/oidc/*`. A sign-in is started ([`Oidc::start`]: the code flow
//! with PKCE `S256`, a random `state` and `nonce`, the flow kept in the
//! database and bound to the browser), finished at the callback
//! ([`Oidc::finish`]: the flow claimed once, the code exchanged, the ID
//! token verified by `openidconnect`, the user found by the pair issuer and
//! subject or created, roles taken from the provider's groups) and ends in
//! the login flow's one [`Login::open_session`]. A provider's back-channel
//! logout ([`Oidc::backchannel_logout`]) ends the sessions it names
//! through the sessions service.
//!
//! Knows nothing of HTTP but the request and response types the provider
//! is spoken to with (through [`Fetch`]); callers pass `now`.

pub mod discovery;
mod identity;
mod logout_token;
pub mod provider;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreErrorResponseType,
    CoreGenderClaim, CoreJsonWebKey, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm,
    CoreRevocableToken, CoreRevocationErrorResponse, CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AdditionalClaims, AuthorizationCode, Client, ClientId, ClientSecret, CsrfToken,
    EmptyExtraTokenFields, EndpointMaybeSet, EndpointNotSet, EndpointSet, IdTokenClaims,
    IdTokenFields, Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
    StandardErrorResponse, StandardTokenResponse, TokenResponse,
};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use crate::auth::authn::Authentication;
use crate::db::ledger::Grant;
use crate::db::oidc::{self as store, Linked, NewFlow};
use crate::db::{Db, DbError};
use crate::events::Caller;
use crate::login::{Also, Login, LoginError};
use crate::sessions::{Ending, Sessions};
use discovery::{Discovered, describe};
pub use discovery::{Fetch, FetchError, Provider};
pub use provider::ProviderConfig;

/// Claims beyond the standard ones (groups, a custom username claim), as
/// the ID token has them.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct OtherClaims {
    #[serde(flatten)]
    pub all: serde_json::Map<String, serde_json::Value>,
}

impl AdditionalClaims for OtherClaims {}

type IdClaims = IdTokenClaims<OtherClaims, CoreGenderClaim>;
type Fields = IdTokenFields<
    OtherClaims,
    EmptyExtraTokenFields,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;
type OidcClient = Client<
    OtherClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    StandardTokenResponse<Fields, CoreTokenType>,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// The signatures an ID token may have: asymmetric only (`alg: none` and
/// HS256, which a client secret could forge, are refused).
const ASYMMETRIC: [CoreJwsSigningAlgorithm; 10] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::RsaSsaPssSha512,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EcdsaP521Sha512,
    CoreJwsSigningAlgorithm::EdDsa,
];

/// How long an unreachable provider waits before it is tried again.
pub const DISCOVERY_RETRY: std::time::Duration = std::time::Duration::from_secs(30);

/// Why a sign-in (or a back-channel logout) was refused. Each sign-in
/// refusal has the contract's `auth_error` code ([`OidcError::code`]).
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("no such provider")]
    NotFound,
    /// An unknown, spent or expired `state`, or one of another browser.
    #[error("unknown, used or expired state, or another browser's")]
    State,
    /// The provider said no, could not be reached, or answered for another.
    #[error("the provider refused or could not be reached: {0}")]
    Provider(String),
    /// The code exchange or the ID token failed.
    #[error("the token exchange or the ID token failed: {0}")]
    Token(String),
    #[error("the account is disabled")]
    AccountDisabled,
    #[error("no account for this identity")]
    NoAccount,
    /// Another first sign-in of the same subject linked it at once.
    #[error("the identity was linked by another sign-in at once")]
    Raced,
    /// A back-channel logout token that is not valid.
    #[error("invalid logout token: {0}")]
    InvalidLogoutToken(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl OidcError {
    /// The `auth_error` of the callback's redirect.
    pub fn code(&self) -> &'static str {
        match self {
            OidcError::State => "oidc_state",
            OidcError::Token(_) | OidcError::InvalidLogoutToken(_) => "oidc_token",
            OidcError::AccountDisabled => "account_disabled",
            OidcError::NoAccount => "no_account",
            OidcError::NotFound | OidcError::Provider(_) | OidcError::Raced | OidcError::Db(_) => {
                "oidc_provider"
            }
        }
    }
}

impl From<diesel::result::Error> for OidcError {
    fn from(e: diesel::result::Error) -> Self {
        OidcError::Db(e.into())
    }
}

/// A sign-in started: where to send the browser, and the value of its
/// `portcullis_oidc` cookie.
#[derive(Debug)]
pub struct Started {
    pub location: String,
    pub browser: String,
}

/// What the provider sent back to the callback.
#[derive(Debug, Default, Deserialize)]
pub struct Callback {
    pub code: Option<String>,
    pub state: Option<String>,
    /// RFC 9207: the issuer that answered.
    pub iss: Option<String>,
    pub error: Option<String>,
}

/// A sign-in finished: the session, and where the browser goes now.
#[derive(Debug)]
pub struct Finished {
    pub grant: Grant,
    pub return_to: String,
}

/// The service; cloning shares it.
#[derive(Clone)]
pub struct Oidc {
    providers: Arc<[Arc<Provider>]>,
    fetch: Option<Fetch>,
    db: Db,
    login: Login,
    sessions: Sessions,
}

impl Oidc {
    /// The providers of `configs`, reached through `fetch` (`None`: none
    /// is reached, for the command line).
    pub fn new(
        configs: Vec<ProviderConfig>,
        fetch: Option<Fetch>,
        db: Db,
        login: Login,
        sessions: Sessions,
    ) -> Self {
        let providers = configs.into_iter().map(|c| Arc::new(Provider::new(c)));
        Self {
            providers: providers.collect(),
            fetch,
            db,
            login,
            sessions,
        }
    }

    /// Discovers every provider, retrying those that cannot be reached
    /// every [`DISCOVERY_RETRY`] until each has been (a background job).
    pub async fn discover(&self) {
        if let (Some(fetch), false) = (&self.fetch, self.providers.is_empty()) {
            discovery::discover_all(self.providers.to_vec(), fetch.clone(), DISCOVERY_RETRY).await;
        }
    }

    /// The configured providers, in the file's order.
    pub fn providers(&self) -> &[Arc<Provider>] {
        &self.providers
    }

    /// The provider with this id.
    pub fn provider(&self, id: &str) -> Option<&Arc<Provider>> {
        self.providers.iter().find(|p| p.config.id == id)
    }

    fn fetch(&self) -> Result<&Fetch, OidcError> {
        self.fetch
            .as_ref()
            .ok_or_else(|| OidcError::Provider("no HTTP client".into()))
    }

    /// What `provider` published: fetched when it never was, or again for
    /// a key it did not have (`stale`).
    async fn published(
        &self,
        provider: &Provider,
        stale: bool,
    ) -> Result<Arc<Discovered>, OidcError> {
        provider
            .published(self.fetch()?, stale)
            .await
            .ok_or_else(|| OidcError::Provider("the provider has not been reached".into()))
    }

    /// Starts a sign-in at provider `id` that comes back to `return_to`
    /// (a path of this origin, else `/`). `browser` is the browser's
    /// `portcullis_oidc` cookie, kept when it has one, so that sign-ins in
    /// two tabs do not spoil each other.
    pub async fn start(
        &self,
        id: &str,
        return_to: Option<&str>,
        browser: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Started, OidcError> {
        let provider = self.provider(id).ok_or(OidcError::NotFound)?;
        let discovered = self.published(provider, false).await?;
        let client = client(&provider.config, &discovered)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let scopes = provider.config.scopes.iter().filter(|s| *s != "openid");
        let (url, state, nonce) = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scopes(scopes.map(|s| Scope::new(s.clone())))
            .set_pkce_challenge(challenge)
            .url();
        let browser = match browser.filter(|b| is_browser_value(b)) {
            Some(b) => b.to_owned(),
            None => crate::auth::opaque_token(),
        };
        let return_to = local_path(return_to).to_owned();
        let (state, nonce, verifier) = (
            state.secret().clone(),
            nonce.secret().clone(),
            verifier.secret().clone(),
        );
        let (b, pid) = (browser.clone(), provider.config.id.clone());
        self.db
            .run(move |c| {
                let flow = NewFlow {
                    state: &state,
                    browser: &b,
                    provider_id: &pid,
                    nonce: &nonce,
                    pkce_verifier: &verifier,
                    return_to: &return_to,
                };
                store::open_flow(c, &flow, now)
            })
            .await?;
        Ok(Started {
            location: url.to_string(),
            browser,
        })
    }

    /// Finishes a sign-in at provider `id`'s callback, for the browser
    /// holding the `browser` cookie: a session, or a refusal that opened
    /// none.
    pub async fn finish(
        &self,
        id: &str,
        callback: Callback,
        browser: Option<&str>,
        caller: &Caller,
        now: DateTime<Utc>,
    ) -> Result<Finished, OidcError> {
        let provider = self.provider(id).ok_or(OidcError::NotFound)?;
        let (Some(state), Some(browser)) = (callback.state.clone(), browser) else {
            return Err(OidcError::State);
        };
        let (b, pid) = (browser.to_owned(), provider.config.id.clone());
        let flow = self
            .db
            .run(move |c| store::claim_flow(c, &state, &b, &pid, now))
            .await?
            .ok_or(OidcError::State)?;
        if let Some(error) = &callback.error {
            return Err(OidcError::Provider(format!(
                "the provider answered {error:?}"
            )));
        }
        if callback
            .iss
            .as_ref()
            .is_some_and(|iss| *iss != provider.config.issuer)
        {
            return Err(OidcError::Provider(
                "the answer came from another issuer".into(),
            ));
        }
        let code = callback
            .code
            .ok_or_else(|| OidcError::Token("no code".into()))?;
        let claims = self.exchange(provider, code, &flow, now).await?;
        let signed_in = identity::SignedIn::of(&provider.config, &claims)?;
        let user = self.resolved(provider, &signed_in, caller, now).await?;
        let auth = Authentication::federated(signed_in.amr.clone(), now);
        let also = Also::Federated {
            provider: provider.config.id.clone(),
            sid: signed_in.sid.clone(),
        };
        let grant = match self
            .login
            .open_session(user, auth, Some(also), caller, now)
            .await
        {
            Ok(grant) => grant,
            Err(LoginError::InvalidCredentials) => return Err(OidcError::AccountDisabled),
            Err(LoginError::Db(e)) => return Err(OidcError::Db(e)),
            Err(e) => return Err(OidcError::Provider(e.to_string())),
        };
        Ok(Finished {
            grant,
            return_to: flow.return_to,
        })
    }

    /// Exchanges `code` (with the flow's PKCE verifier) and verifies the
    /// ID token; a token signed with a key the provider did not publish
    /// before fetches its keys again, once.
    async fn exchange(
        &self,
        provider: &Provider,
        code: String,
        flow: &store::Flow,
        now: DateTime<Utc>,
    ) -> Result<IdClaims, OidcError> {
        let discovered = self.published(provider, false).await?;
        let client = client(&provider.config, &discovered)?;
        let fetch = self.fetch()?;
        let http = |req| fetch(req);
        let response = client
            .exchange_code(AuthorizationCode::new(code))
            .map_err(|e| OidcError::Provider(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(flow.pkce_verifier.clone()))
            .request_async(&http)
            .await
            .map_err(|e| OidcError::Token(describe(&e)))?;
        let id_token = response
            .id_token()
            .ok_or_else(|| OidcError::Token("no ID token".into()))?;
        let nonce = Nonce::new(flow.nonce.clone());
        let verify = |client: &OidcClient| {
            let verifier = client
                .id_token_verifier()
                .set_allowed_algs(ASYMMETRIC)
                .set_time_fn(move || now);
            id_token.claims(&verifier, &nonce).cloned()
        };
        match verify(&client) {
            Ok(claims) => Ok(claims),
            Err(openidconnect::ClaimsVerificationError::SignatureVerification(
                openidconnect::SignatureVerificationError::NoMatchingKey,
            )) => {
                let fresh = self.published(provider, true).await?;
                let client = self::client(&provider.config, &fresh)?;
                verify(&client).map_err(|e| OidcError::Token(e.to_string()))
            }
            Err(e) => Err(OidcError::Token(e.to_string())),
        }
    }

    /// The user behind a verified sign-in (found, or created when the
    /// provider may create users), with the provider's roles applied;
    /// a race with another first sign-in of the same subject is run again.
    async fn resolved(
        &self,
        provider: &Provider,
        signed_in: &identity::SignedIn,
        caller: &Caller,
        now: DateTime<Utc>,
    ) -> Result<crate::auth::User, OidcError> {
        let mut tries = 0;
        loop {
            let (config, who, by) = (provider.config.clone(), signed_in.clone(), caller.clone());
            let resolved = self
                .db
                .run(move |c| identity::resolve(c, &config, &who, &by, now))
                .await;
            match resolved {
                Ok((user, events)) => {
                    self.sessions.announce(Ending::said(events), now);
                    return Ok(user);
                }
                Err(OidcError::Raced) if tries == 0 => tries += 1,
                Err(e) => return Err(e),
            }
        }
    }

    /// Verifies a back-channel logout token of provider `id` and ends the
    /// sessions it names (that provider session, or every session the
    /// subject opened through the provider); returns how many ended.
    pub async fn backchannel_logout(
        &self,
        id: &str,
        token: &str,
        caller: &Caller,
        now: DateTime<Utc>,
    ) -> Result<usize, OidcError> {
        let provider = self.provider(id).ok_or(OidcError::NotFound)?;
        let invalid = |e: OidcError| match e {
            OidcError::Db(e) => OidcError::Db(e),
            other => OidcError::InvalidLogoutToken(other.to_string()),
        };
        let discovered = self.published(provider, false).await.map_err(invalid)?;
        let claims = match logout_token::verify(&provider.config, &discovered.keys, token, now) {
            Err(logout_token::Invalid::UnknownKey) => {
                let fresh = self.published(provider, true).await.map_err(invalid)?;
                logout_token::verify(&provider.config, &fresh.keys, token, now)
            }
            other => other,
        }
        .map_err(|e| OidcError::InvalidLogoutToken(e.to_string()))?;
        let policy = self.sessions.policy();
        let (config, by) = (provider.config.clone(), caller.clone());
        let ending = self
            .db
            .run(move |c| logout_token::end_sessions(c, &config, &claims, &policy, &by, now))
            .await?;
        let count = ending.len();
        self.sessions.announce(ending, now);
        Ok(count)
    }

    /// The providers `user_id` is linked to.
    pub async fn links_of(&self, user_id: &str) -> Result<Vec<Linked>, DbError> {
        let id = user_id.to_owned();
        self.db.read(move |c| store::links_of(c, &id)).await
    }
}

/// The `openidconnect` client of a provider, from what it published.
fn client(config: &ProviderConfig, discovered: &Discovered) -> Result<OidcClient, OidcError> {
    let redirect = RedirectUrl::new(config.redirect_uri.clone())
        .map_err(|e| OidcError::Provider(e.to_string()))?;
    let secret = ClientSecret::new(config.client_secret.expose_secret().to_owned());
    Ok(OidcClient::from_provider_metadata(
        discovered.metadata.clone(),
        ClientId::new(config.client_id.clone()),
        Some(secret),
    )
    .set_redirect_uri(redirect))
}

/// Whether `value` could be a `portcullis_oidc` cookie this gateway made.
fn is_browser_value(value: &str) -> bool {
    value.len() == 43
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `return_to` when it is a path of this origin, else `/`: it must start
/// with one `/`, and hold no `\`, no scheme-relative `//` and no control
/// characters (which browsers would read as another host).
pub fn local_path(return_to: Option<&str>) -> &str {
    match return_to {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.contains('\\')
                && path.len() <= 2048
                && !path.chars().any(|c| c.is_control()) =>
        {
            path
        }
        _ => "/",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_to_stays_on_this_origin() {
        for (given, kept) in [
            (Some("/employees?x=1"), "/employees?x=1"),
            (Some("/"), "/"),
            (None, "/"),
            (Some("//evil.example"), "/"),
            (Some("https://evil.example"), "/"),
            (Some("/\\evil.example"), "/"),
            (Some("/\tx"), "/"),
            (Some("evil"), "/"),
        ] {
            assert_eq!(local_path(given), kept, "{given:?}");
        }
    }
}
