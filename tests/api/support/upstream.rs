//! Upstreams on port 0 for a gateway to stand in front of: the echo
//! upstream, a second actix server that answers with what it received
//! (plus a few special routes: redirect, slow, big, gzip, teapot, owned
//! headers), and the bundled employee service.

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use futures_util::StreamExt;
use serde_json::{Value, json};

use super::COOKIE;

/// Opaque "compressed" bytes: the gateway must pass them on as they are.
pub const GZIP_BYTES: &[u8] = b"\x1f\x8b\x08\x00not-really-gzip\x00\x01\x02";

/// A real upstream: echoes what it received, and a few special routes.
pub struct Upstream {
    pub url: String,
    pub port: u16,
    pub hits: Arc<AtomicUsize>,
}

impl Upstream {
    pub fn spawn() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        let server = HttpServer::new(move || {
            let counter = counter.clone();
            App::new()
                .wrap_fn(move |req, srv| {
                    counter.fetch_add(1, Ordering::SeqCst);
                    actix_web::dev::Service::call(srv, req)
                })
                .route(
                    "/redirect",
                    web::get().to(|| async {
                        HttpResponse::Found()
                            .insert_header(("Location", "http://127.0.0.1:1/elsewhere"))
                            .finish()
                    }),
                )
                .route(
                    "/slow",
                    web::get().to(|| async {
                        actix_web::rt::time::sleep(Duration::from_secs(30)).await;
                        HttpResponse::Ok().finish()
                    }),
                )
                .route(
                    "/big/{bytes}",
                    web::get().to(|n: web::Path<usize>| async move {
                        let total = n.into_inner();
                        let chunk = web::Bytes::from(vec![b'x'; 64 * 1024]);
                        let stream = futures_util::stream::iter(
                            (0..total.div_ceil(chunk.len())).map(move |i| {
                                let len = chunk.len().min(total - i * chunk.len());
                                Ok::<_, actix_web::Error>(chunk.slice(..len))
                            }),
                        );
                        HttpResponse::Ok().streaming(stream)
                    }),
                )
                .route(
                    "/gzip",
                    web::get().to(|| async {
                        HttpResponse::Ok()
                            .insert_header(("Content-Encoding", "gzip"))
                            .insert_header(("Content-Type", "text/plain"))
                            .body(GZIP_BYTES)
                    }),
                )
                .route(
                    "/teapot",
                    web::get().to(|| async {
                        HttpResponse::build(actix_web::http::StatusCode::IM_A_TEAPOT)
                            .insert_header(("X-Upstream", "yes"))
                            .insert_header(("X-Frame-Options", "SAMEORIGIN"))
                            .insert_header(("Set-Cookie", "upstream=1; Path=/"))
                            .json(json!({ "short": "and stout" }))
                    }),
                )
                .route(
                    "/owned-headers",
                    web::get().to(|| async {
                        // headers only the gateway may set on its responses
                        HttpResponse::Ok()
                            .insert_header(("Access-Control-Allow-Origin", "*"))
                            .insert_header(("Access-Control-Allow-Methods", "DELETE"))
                            .insert_header(("Access-Control-Max-Age", "86400"))
                            .append_header(("Set-Cookie", format!("{COOKIE}=planted; Path=/auth")))
                            .append_header(("Set-Cookie", "upstream=1; Path=/"))
                            .finish()
                    }),
                )
                .default_service(web::to(echo))
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
        actix_web::rt::spawn(server);
        Self {
            url: format!("http://127.0.0.1:{port}"),
            port,
            hits,
        }
    }

    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

/// Echoes method, path, query, headers (all values per name) and the body's
/// length, read as a stream.
async fn echo(req: HttpRequest, mut body: web::Payload) -> HttpResponse {
    let mut len = 0usize;
    while let Some(chunk) = body.next().await {
        match chunk {
            Ok(c) => len += c.len(),
            Err(e) => return HttpResponse::BadRequest().body(e.to_string()),
        }
    }
    let mut headers = serde_json::Map::new();
    for name in req.headers().keys() {
        let values: Vec<Value> = req
            .headers()
            .get_all(name)
            .map(|v| json!(v.to_str().unwrap_or("<binary>")))
            .collect();
        headers.insert(name.as_str().to_owned(), Value::Array(values));
    }
    HttpResponse::Ok().json(json!({
        "method": req.method().as_str(),
        "path": req.uri().path(),
        "query": req.uri().query(),
        "headers": headers,
        "body_len": len,
    }))
}

/// The bundled employee service (what `portcullis upstream-demo` runs) on
/// port 0; its URL.
pub fn employee_service() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    actix_web::rt::spawn(portcullis::demo::employees::server(listener).unwrap());
    format!("http://127.0.0.1:{port}")
}
