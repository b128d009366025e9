//! The floor `bench/run` compares the gateway with: a bare actix-web + awc
//! reverse proxy, with no auth, no header rules, no log and no middleware.
//! It is not part of portcullis; `bench/run` builds and starts it.
//!
//! Usage: `bare_proxy LISTEN UPSTREAM_BASE` (e.g. `127.0.0.1:0
//! http://127.0.0.1:9000`); prints `listening on ADDR` once bound.

use std::net::TcpListener;

use actix_web::body::SizedStream;
use actix_web::http::header;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};

async fn forward(
    req: HttpRequest,
    payload: web::Payload,
    client: web::Data<awc::Client>,
    base: web::Data<String>,
) -> HttpResponse {
    let base = base.as_str();
    let rest = req.uri().path().strip_prefix("/api").unwrap_or("/");
    let url = match req.uri().query() {
        Some(q) => format!("{base}{rest}?{q}"),
        None => format!("{base}{rest}"),
    };
    let mut out = client.request_from(url.as_str(), req.head());
    out.headers_mut().remove(header::HOST);
    let sent = out.send_stream(payload).await;
    let Ok(res) = sent else {
        return HttpResponse::BadGateway().finish();
    };
    let mut back = HttpResponse::build(res.status());
    for (name, value) in res.headers() {
        if name != header::CONNECTION && name != header::TRANSFER_ENCODING {
            back.append_header((name.clone(), value.clone()));
        }
    }
    let len = res
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match len {
        Some(len) => back.body(SizedStream::new(len, res)),
        None => back.streaming(res),
    }
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(listen), Some(base)) = (args.next(), args.next()) else {
        eprintln!("usage: bare_proxy LISTEN UPSTREAM_BASE");
        std::process::exit(2);
    };
    let listener = TcpListener::bind(listen)?;
    println!("listening on {}", listener.local_addr()?);
    let base = base.trim_end_matches('/').to_owned();
    HttpServer::new(move || {
        let client = awc::Client::builder()
            .disable_redirects()
            .no_default_headers()
            .finish();
        App::new()
            .app_data(web::Data::new(client))
            .app_data(web::Data::new(base.clone()))
            .default_service(web::to(forward))
    })
    .listen(listener)?
    .run()
    .await
}
