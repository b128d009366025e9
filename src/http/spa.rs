//! The SPA: files from the static folder, and `index.html` for GETs of
//! client-side routes. actix-files keeps every path inside the folder.

use std::path::PathBuf;

use actix_files::{Files, NamedFile};
use actix_web::dev::{ServiceRequest, ServiceResponse, fn_service};
use actix_web::http::header;
use actix_web::{HttpRequest, Responder};

use super::error::ApiError;

/// Prefixes that belong to the gateway, never to the SPA.
const RESERVED: [&str; 5] = ["/api", "/auth", "/.well-known", "/healthz", "/readyz"];

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
    let path = req.path();
    let reserved = RESERVED.iter().any(|p| {
        path == *p
            || path
                .strip_prefix(p)
                .is_some_and(|rest| rest.starts_with('/'))
    });
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
