//! The HTTP client OpenID Providers are reached with ([`Fetch`]), on
//! `awc` like the proxy: the system's roots for `https://` providers, no
//! redirects followed, a timeout, answers of at most [`MAX_ANSWER`].

use std::sync::Arc;
use std::time::Duration;

use crate::oidc::{Fetch, FetchError};

/// The largest answer read from a provider (a discovery document, a JWKS,
/// a token response are a few KiB).
const MAX_ANSWER: usize = 1 << 20;

/// A [`Fetch`] on `awc`: one client per request (they are rare: a
/// discovery, a code exchange), with `tls` for `https://` providers.
pub fn fetcher(tls: Option<Arc<rustls::ClientConfig>>, timeout: Duration) -> Fetch {
    Arc::new(move |request: openidconnect::HttpRequest| {
        let tls = tls.clone();
        Box::pin(async move { send(request, tls, timeout).await })
    })
}

async fn send(
    request: openidconnect::HttpRequest,
    tls: Option<Arc<rustls::ClientConfig>>,
    timeout: Duration,
) -> Result<openidconnect::HttpResponse, FetchError> {
    let fail = |what: &str, e: &dyn std::fmt::Display| FetchError(format!("{what}: {e}"));
    let connector = awc::Connector::new().timeout(timeout);
    let connector = match tls {
        Some(config) => connector.rustls_0_23(config),
        None => connector,
    };
    let client = awc::Client::builder()
        .connector(connector)
        .timeout(timeout)
        .disable_redirects()
        .finish();
    let (parts, body) = request.into_parts();
    let method = awc::http::Method::from_bytes(parts.method.as_str().as_bytes())
        .map_err(|e| fail("method", &e))?;
    let mut outgoing = client.request(method, parts.uri.to_string());
    for (name, value) in &parts.headers {
        outgoing = outgoing.insert_header((name.as_str(), value.as_bytes()));
    }
    let mut answer = outgoing
        .send_body(body)
        .await
        .map_err(|e| fail("request", &e))?;
    let bytes = answer
        .body()
        .limit(MAX_ANSWER)
        .await
        .map_err(|e| fail("answer", &e))?;
    let mut response = http1::Response::builder().status(answer.status().as_u16());
    for (name, value) in answer.headers() {
        response = response.header(name.as_str(), value.as_bytes());
    }
    response
        .body(bytes.to_vec())
        .map_err(|e| fail("answer", &e))
}
