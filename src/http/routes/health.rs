//! `/healthz`, `/readyz` and `/.well-known/jwks.json`.

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::http::AppState;
use crate::http::error::ApiError;

/// 200 while the process runs.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// 200 when the database answers, else 503.
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
pub async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    let max_age = state.tokens.ttl().num_seconds().clamp(0, JWKS_MAX_AGE_SECS);
    HttpResponse::Ok()
        .insert_header(("Cache-Control", format!("public, max-age={max_age}")))
        .json(state.tokens.jwks())
}
