//! Upstreams on port 0 for a gateway to stand in front of: the echo
//! upstream, a second actix server that answers with what it received
//! (plus a few special routes: redirect, slow, big, gzip, teapot, owned
//! headers), the bundled employee service, and an HTTPS echo.

use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use actix_web::http::StatusCode;
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
            let app = App::new()
                .wrap_fn(move |req, srv| {
                    counter.fetch_add(1, Ordering::SeqCst);
                    actix_web::dev::Service::call(srv, req)
                })
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
                );
            canned()
                .into_iter()
                .fold(app, |app, answer| {
                    let path = answer.path;
                    app.route(
                        path,
                        web::get().to(move || {
                            let answer = answer.clone();
                            async move { answer.respond() }
                        }),
                    )
                })
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

/// A fixed answer of the upstream.
#[derive(Clone)]
struct Canned {
    path: &'static str,
    status: StatusCode,
    /// Appended in this order, so a name may come more than once.
    headers: Vec<(&'static str, String)>,
    body: &'static [u8],
}

impl Canned {
    fn new(path: &'static str, status: StatusCode) -> Self {
        Self {
            path,
            status,
            headers: Vec::new(),
            body: b"",
        }
    }

    fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    fn body(self, body: &'static [u8]) -> Self {
        Self { body, ..self }
    }

    fn respond(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status);
        for (name, value) in &self.headers {
            res.append_header((*name, value.as_str()));
        }
        res.body(self.body)
    }
}

/// The upstream's fixed answers, by path.
fn canned() -> Vec<Canned> {
    vec![
        Canned::new("/redirect", StatusCode::FOUND)
            .header("Location", "http://127.0.0.1:1/elsewhere"),
        Canned::new("/gzip", StatusCode::OK)
            .header("Content-Encoding", "gzip")
            .header("Content-Type", "text/plain")
            .body(GZIP_BYTES),
        Canned::new("/teapot", StatusCode::IM_A_TEAPOT)
            .header("X-Upstream", "yes")
            .header("X-Frame-Options", "SAMEORIGIN")
            .header("Set-Cookie", "upstream=1; Path=/")
            .header("Content-Type", "application/json")
            .body(br#"{"short":"and stout"}"#),
        // headers only the gateway may set on its responses
        Canned::new("/owned-headers", StatusCode::OK)
            .header("Access-Control-Allow-Origin", "*")
            .header("Access-Control-Allow-Methods", "DELETE")
            .header("Access-Control-Max-Age", "86400")
            .header("Set-Cookie", format!("{COOKIE}=planted; Path=/auth"))
            .header("Set-Cookie", "upstream=1; Path=/"),
    ]
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

/// An HTTPS upstream with the certificate `cert` (and its `key`), echoing
/// the path and the user it was sent; its URL.
pub fn https_upstream(cert: &Path, key: &Path) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "https://127.0.0.1:{}",
        listener.local_addr().unwrap().port()
    );
    use portcullis::config::tls;
    let key = tls::certified_key(cert, key).unwrap();
    let tls = tls::server(std::sync::Arc::new(tls::CurrentCertificate::new(key))).unwrap();
    let server = HttpServer::new(|| {
        App::new().default_service(web::to(|req: HttpRequest| async move {
            HttpResponse::Ok().json(json!({
                "path": req.uri().path(),
                "user": req.headers().get("x-user-name").and_then(|v| v.to_str().ok()),
            }))
        }))
    })
    .workers(1)
    .listen_rustls_0_23(listener, tls)
    .unwrap()
    .run();
    actix_web::rt::spawn(server);
    url
}
