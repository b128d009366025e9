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

/// The public keys access tokens are verified with (empty for HS256).
pub async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "public, max-age=300"))
        .json(state.tokens.jwks())
}
