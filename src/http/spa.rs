//! The SPA: files from the static folder, and `index.html` for GETs of
//! client-side routes (never under the gateway's own prefixes, see
//! [`prefixes::reserved`]). actix-files keeps every path inside the folder.

use std::path::PathBuf;

use actix_files::{Files, NamedFile};
use actix_web::dev::{ServiceRequest, ServiceResponse, fn_service};
use actix_web::http::header;
use actix_web::{HttpRequest, Responder};

use super::error::ApiError;
use super::prefixes;

/// The static-file service, with the client-side-routing fallback.
pub fn service(dir: PathBuf) -> Files {
    let index = dir.join("index.html");
    Files::new("/", dir)
        .index_file("index.html")
        .prefer_utf8(true)
        .default_handler(fn_service(move |req: ServiceRequest| {
            let index = index.clone();
            async move {
                let (req, _) = req.into_parts();
                let res = fallback(&req, index).await;
                Ok(ServiceResponse::new(
                    req.clone(),
                    res.respond_to(&req).map_into_boxed_body(),
                ))
            }
        }))
}

async fn fallback(req: &HttpRequest, index: PathBuf) -> Result<NamedFile, ApiError> {
    let reserved = prefixes::reserved(req.path());
    let wants_html = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"));
    if reserved || !wants_html {
        return Err(ApiError::NotFound);
    }
    NamedFile::open_async(index)
        .await
        .map_err(|_| ApiError::NotFound)
}
