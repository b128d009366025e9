//! HTTP/1.1 over a plain socket, for what a well-behaved client cannot do:
//! trickle a body, stall mid-request, send malformed framing, hold
//! connections open, or connect from another loopback address.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A response read off the socket.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    /// Every value of the header `name` (case-insensitive).
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.header_all(name).first().copied()
    }

    /// The JSON error code, checking the contract's error shape.
    pub fn error_code(&self) -> String {
        assert_eq!(
            self.header("content-type"),
            Some("application/json"),
            "error responses are JSON: {self:?}"
        );
        let body: Value = serde_json::from_slice(&self.body).unwrap();
        assert!(body["message"].is_string(), "message missing: {body}");
        body["error"].as_str().unwrap().to_owned()
    }
}

/// A connection to the gateway on loopback (async only so that the test's
/// runtime gets to start the server first; the socket itself blocks).
pub async fn connect(port: u16) -> TcpStream {
    connect_from(IpAddr::from([127, 0, 0, 1]), port).await
}

/// A connection from `local` (another loopback address, say 127.0.0.2),
/// so the gateway sees a second client.
pub async fn connect_from(local: IpAddr, port: u16) -> TcpStream {
    let socket = actix_web::rt::net::TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(local, 0)).unwrap();
    let stream = socket
        .connect(SocketAddr::from(([127, 0, 0, 1], port)))
        .await
        .unwrap()
        .into_std()
        .unwrap();
    stream.set_nonblocking(false).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream
}

/// A complete request head: `extra` header lines (without line endings)
/// follow `Host`.
pub fn head(method: &str, path: &str, extra: &[&str]) -> String {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: gateway.test\r\n");
    for line in extra {
        head.push_str(line);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    head
}

/// A JSON `POST /auth/login` with `Connection: close`.
pub fn login_request(username: &str, password: &str, extra: &[&str]) -> Vec<u8> {
    let body = serde_json::json!({ "username": username, "password": password }).to_string();
    let len = format!("Content-Length: {}", body.len());
    let mut lines = vec![
        "Content-Type: application/json",
        len.as_str(),
        "Connection: close",
    ];
    lines.extend_from_slice(extra);
    let mut req = head("POST", "/auth/login", &lines).into_bytes();
    req.extend_from_slice(body.as_bytes());
    req
}

/// Writes `request` and reads one response.
pub fn exchange(stream: &mut TcpStream, request: &[u8]) -> RawResponse {
    stream.write_all(request).unwrap();
    read_response(stream)
}

/// Reads one response (head, then a `Content-Length` body, or everything
/// until the peer closes). Panics if nothing complete arrives
/// within the read timeout.
pub fn read_response(stream: &mut TcpStream) -> RawResponse {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut res = httparse::Response::new(&mut headers);
        if let httparse::Status::Complete(len) = res.parse(&buf).unwrap() {
            let status = res.code.unwrap();
            let headers: Vec<(String, String)> = res
                .headers
                .iter()
                .map(|h| {
                    (
                        h.name.to_owned(),
                        String::from_utf8_lossy(h.value).into_owned(),
                    )
                })
                .collect();
            let rest = buf.split_off(len);
            let body = read_body(stream, &headers, rest);
            return RawResponse {
                status,
                headers,
                body,
            };
        }
        let n = stream
            .read(&mut chunk)
            .expect("a response before the timeout");
        assert!(n > 0, "connection closed without a response");
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn read_body(stream: &mut TcpStream, headers: &[(String, String)], mut body: Vec<u8>) -> Vec<u8> {
    let find = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let mut chunk = [0u8; 8192];
    if let Some(len) = find("content-length").and_then(|v| v.parse::<usize>().ok()) {
        while body.len() < len {
            let n = stream.read(&mut chunk).unwrap();
            assert!(n > 0, "body cut short");
            body.extend_from_slice(&chunk[..n]);
        }
        body.truncate(len);
        return body;
    }
    // no length: the gateway's own answers always have one; read what
    // comes until the peer closes
    while let Ok(n) = stream.read(&mut chunk) {
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body
}

/// Whether the peer has closed the connection (reads EOF or a reset
/// within `within`).
pub fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    let mut chunk = [0u8; 1024];
    while Instant::now() < deadline {
        stream
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        match stream.read(&mut chunk) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => return true,
        }
    }
    false
}
