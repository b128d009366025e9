//! What a provider publishes, fetched and kept: its discovery document and
//! signing keys (JWKS), by `openidconnect`'s discovery over the gateway's
//! own HTTP client ([`Fetch`]). Fetched at start and retried in the
//! background when the provider cannot be reached; fetched again when a
//! token names a key it does not know, at most once a [`REFETCH_EVERY`].

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use futures_util::future::LocalBoxFuture;
use openidconnect::IssuerUrl;
use openidconnect::core::CoreProviderMetadata;

use super::provider::ProviderConfig;

/// The HTTP client the providers are reached with: the gateway's (on
/// `awc`, with its TLS settings), given to this module so that it names
/// no web framework. No redirects are followed.
pub type Fetch = Arc<
    dyn Fn(
            openidconnect::HttpRequest,
        ) -> LocalBoxFuture<'static, Result<openidconnect::HttpResponse, FetchError>>
        + Send
        + Sync,
>;

/// Why a request to a provider failed (never a secret: the client secret
/// travels in a header the message does not show).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct FetchError(pub String);

/// How often, at most, a provider's keys are fetched again for a key id
/// they did not have.
pub const REFETCH_EVERY: Duration = Duration::from_secs(30);

/// How often, at most, a provider never reached is tried on demand.
pub const RETRY_UNREACHED: Duration = Duration::from_secs(1);

/// A provider's published metadata, keys included.
pub struct Discovered {
    pub metadata: CoreProviderMetadata,
    /// The same keys, for the back-channel logout tokens.
    pub keys: jsonwebtoken::jwk::JwkSet,
}

/// One configured provider and what it last published.
pub struct Provider {
    pub config: ProviderConfig,
    discovered: RwLock<Option<Arc<Discovered>>>,
    /// When the last fetch began; held while one runs, so that callers
    /// wait for it rather than fetch again.
    fetching: tokio::sync::Mutex<Option<Instant>>,
}

impl Provider {
    pub fn new(config: ProviderConfig) -> Self {
        Self {
            config,
            discovered: RwLock::new(None),
            fetching: tokio::sync::Mutex::new(None),
        }
    }

    /// What the provider published, when it has been reached.
    pub fn current(&self) -> Option<Arc<Discovered>> {
        self.discovered.read().ok().and_then(|d| d.clone())
    }

    /// Fetches the discovery document and the keys now.
    pub async fn discover(&self, fetch: &Fetch) -> Result<Arc<Discovered>, String> {
        let mut last = self.fetching.lock().await;
        *last = Some(Instant::now());
        self.fetch_now(fetch).await
    }

    /// The fetch itself; the caller holds `fetching`.
    async fn fetch_now(&self, fetch: &Fetch) -> Result<Arc<Discovered>, String> {
        let issuer = IssuerUrl::new(self.config.issuer.clone()).map_err(|e| e.to_string())?;
        let client = |req| fetch(req);
        let metadata = CoreProviderMetadata::discover_async(issuer, &client)
            .await
            .map_err(|e| describe(&e))?;
        let keys = serde_json::to_value(metadata.jwks())
            .and_then(serde_json::from_value)
            .map_err(|e| format!("unusable JWKS: {e}"))?;
        let discovered = Arc::new(Discovered { metadata, keys });
        if let Ok(mut slot) = self.discovered.write() {
            *slot = Some(discovered.clone());
        }
        Ok(discovered)
    }

    /// What the provider published: fetched first when it never was (at
    /// most once a [`RETRY_UNREACHED`]) or, with `stale` (a token named an
    /// unknown key), when the last fetch is older than [`REFETCH_EVERY`].
    /// A fetch under way is waited for, not repeated.
    pub async fn published(&self, fetch: &Fetch, stale: bool) -> Option<Arc<Discovered>> {
        if let Some(current) = self.current().filter(|_| !stale) {
            return Some(current);
        }
        let mut last = self.fetching.lock().await;
        let current = self.current();
        let bound = if current.is_some() {
            REFETCH_EVERY
        } else {
            RETRY_UNREACHED
        };
        let recent = last.is_some_and(|at| at.elapsed() < bound);
        if recent || (current.is_some() && !stale) {
            return current;
        }
        *last = Some(Instant::now());
        match self.fetch_now(fetch).await {
            Ok(found) => Some(found),
            Err(e) => {
                log::warn!(provider = self.config.id.as_str(); "fetching the OpenID Provider's metadata failed: {e}");
                current
            }
        }
    }
}

/// A discovery error in one line, with its causes.
pub(super) fn describe(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Discovers every provider not reached yet, every `retry` until each
/// has been: an unreachable provider is logged, never fatal to the others.
pub async fn discover_all(providers: Vec<Arc<Provider>>, fetch: Fetch, retry: Duration) {
    let mut waiting = providers;
    loop {
        let mut still = Vec::new();
        for p in waiting {
            match p.discover(&fetch).await {
                Ok(_) => log::info!(provider = p.config.id.as_str(); "OpenID Provider discovered"),
                Err(e) => {
                    log::warn!(provider = p.config.id.as_str(); "cannot reach the OpenID Provider {} (retrying in {} s): {e}", p.config.issuer, retry.as_secs());
                    still.push(p);
                }
            }
        }
        if still.is_empty() {
            return;
        }
        waiting = still;
        tokio::time::sleep(retry).await;
    }
}
