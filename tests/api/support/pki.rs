//! A test certificate authority and what speaks TLS to a gateway with it:
//! [`Pki`] (a CA, a certificate for localhost it signed, renewed on demand)
//! and [`tls_get`], a request over a TLS connection kept open.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};

/// A test CA and a certificate it signed for localhost and 127.0.0.1, as
/// PEM files.
pub struct Pki {
    pub dir: tempfile::TempDir,
    ca: CertifiedIssuer<'static, KeyPair>,
}

impl Pki {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "portcullis test CA");
        let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
        std::fs::write(dir.path().join("ca.pem"), ca.pem()).unwrap();
        let pki = Self { dir, ca };
        pki.renew();
        pki
    }

    /// Writes a new certificate with a new key, signed by the same CA, over
    /// `cert.pem` and `key.pem`; returns the certificate (DER).
    pub fn renew(&self) -> Vec<u8> {
        let key = KeyPair::generate().unwrap();
        let leaf = CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()])
            .unwrap()
            .signed_by(&key, &self.ca)
            .unwrap();
        std::fs::write(self.path("cert.pem"), leaf.pem()).unwrap();
        std::fs::write(self.path("key.pem"), key.serialize_pem()).unwrap();
        leaf.der().to_vec()
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A client trusting only this CA, offering h2 and HTTP/1.1.
    pub fn client(&self) -> awc::Client {
        awc::Client::builder()
            .connector(awc::Connector::new().rustls_0_23(Arc::new(self.client_config())))
            .timeout(Duration::from_secs(30))
            .finish()
    }

    /// The TLS configuration of [`Pki::client`].
    pub fn client_config(&self) -> rustls::ClientConfig {
        let mut roots = rustls::RootCertStore::empty();
        let pem = std::fs::read(self.path("ca.pem")).unwrap();
        let der = rustls::pki_types::pem::PemObject::from_pem_slice(&pem).unwrap();
        roots.add(der).unwrap();
        let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        // offer HTTP/2 like a browser: the gateway must choose HTTP/1.1
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        config
    }
}

/// A TLS connection to a gateway.
pub type TlsStream = rustls::StreamOwned<rustls::ClientConnection, std::net::TcpStream>;

/// Opens a TLS connection to `port` of 127.0.0.1 as `localhost`, the
/// handshake done.
pub fn tls_connect(config: &Arc<rustls::ClientConfig>, port: u16) -> TlsStream {
    let tcp = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let conn =
        rustls::ClientConnection::new(config.clone(), "localhost".try_into().unwrap()).unwrap();
    let mut stream = rustls::StreamOwned::new(conn, tcp);
    while stream.conn.is_handshaking() {
        stream.conn.complete_io(&mut stream.sock).unwrap();
    }
    stream
}

/// The certificate the gateway presented on `stream` (DER).
pub fn presented(stream: &TlsStream) -> Vec<u8> {
    stream.conn.peer_certificates().unwrap()[0].to_vec()
}

/// The status line of an answer, read byte by byte from `stream`.
fn status_line(stream: &mut TlsStream) -> u16 {
    use std::io::Read;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n") {
        stream.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    let line = String::from_utf8(head).unwrap();
    line.split(' ').nth(1).unwrap().parse().unwrap()
}

/// Sends `GET path` on `stream` and reads the whole answer (framed by its
/// `Content-Length`), so the connection can carry another; its status.
pub fn tls_exchange(stream: &mut TlsStream, path: &str) -> u16 {
    use std::io::{Read, Write};
    write!(stream, "GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    let status = status_line(stream);
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head != b"\r\n" {
        stream.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap().to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map_or(0, |n| n.trim().parse().unwrap());
    let mut body = vec![0; length];
    stream.read_exact(&mut body).unwrap();
    status
}

/// Opens a TLS connection to `port`, sends `GET path` and reads the status
/// line; returns the still-open stream (unless the server closed it) and
/// the status.
pub fn tls_get(config: &Arc<rustls::ClientConfig>, port: u16, path: &str) -> (TlsStream, u16) {
    use std::io::Write;
    let mut stream = tls_connect(config, port);
    write!(stream, "GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    let status = status_line(&mut stream);
    (stream, status)
}
