//! The operator's routes: `/healthz`, `/readyz`, `/metrics` and
//! `/.well-known/jwks.json`.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::http::error::ApiError;
use crate::http::schemas::{ErrorBody, Jwks, Status};
use crate::http::state::AppState;

/// 200 while the process runs.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    responses((status = 200, description = "`{\"status\": \"ok\"}` while the process runs.", body = Status))
)]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// 200 when the database answers, else 503.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    responses(
        (status = 200, description = "The database answers.", body = Status),
        (status = 503, description = "`unavailable`: the database does not answer.", body = ErrorBody),
    )
)]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    if state.db.ping().await {
        Ok(HttpResponse::Ok().json(json!({ "status": "ready" })))
    } else {
        Err(ApiError::Unavailable)
    }
}

/// Longest a verifier may cache the JWKS.
const JWKS_MAX_AGE_SECS: i64 = 300;

/// The public keys access tokens are verified with (empty for HS256). A
/// cache never outlives one access-token lifetime, so a key added as
/// verify-only reaches every verifier before the tokens it will sign exist
/// for longer than that (see the key-rotation steps in the README).
#[utoipa::path(
    get,
    path = "/.well-known/jwks.json",
    tag = "operations",
    responses((status = 200, description = "The public keys (empty in HS256 mode).", body = Jwks,
        headers(("Cache-Control" = String, description = "`public, max-age=N`, N at most the access TTL."))))
)]
pub async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    let tokens = state.tokens.load();
    let max_age = tokens.ttl().num_seconds().clamp(0, JWKS_MAX_AGE_SECS);
    HttpResponse::Ok()
        .insert_header(("Cache-Control", format!("public, max-age={max_age}")))
        .json(tokens.jwks())
}

/// `GET /metrics`: the Prometheus text exposition.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses(
        (status = 200, description = "The Prometheus text exposition: the `portcullis_*` series of contract §8 and process metrics. \
            When `PORTCULLIS_METRICS_BIND` is set it is served there, and this listener answers `404 not_found`.",
            content_type = "text/plain; version=0.0.4", body = String),
    )
)]
pub async fn metrics(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let live = match state.services.sessions.count_live(state.clock.now()).await {
        Ok(n) => Some(n),
        Err(e) => {
            log::warn!("counting live sessions for /metrics failed: {e}");
            None
        }
    };
    let body = state.metrics.render(live).map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok()
        .insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static(prometheus::TEXT_FORMAT),
        ))
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .body(body))
}
