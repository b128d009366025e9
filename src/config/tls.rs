//! TLS settings, built from PEM files with rustls and its `ring`
//! provider: the listener's certificate (`PORTCULLIS_TLS_CERT`/`_KEY`,
//! TLS 1.2 and 1.3), held in a [`CurrentCertificate`] that a reload swaps
//! while connections stay open, and the roots trusted for an `https://`
//! upstream (`PORTCULLIS_UPSTREAM_CA`, else the system's). Each loader
//! returns the value or one sentence saying what is wrong.

use std::path::Path;
use std::sync::Arc;

use arc_swap::ArcSwap;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, RootCertStore, ServerConfig};

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!(
            "{} is not a PEM certificate file: expected `-----BEGIN CERTIFICATE-----` blocks ({e})",
            path.display()
        ))?;
    if certs.is_empty() {
        return Err(format!(
            "{} holds no PEM certificate: expected one or more `-----BEGIN CERTIFICATE-----` blocks, the server's own first",
            path.display()
        ));
    }
    Ok(certs)
}

/// The certificate chain at `cert` with the private key at `key`, checked
/// to belong together; `Err` names the variable to blame.
pub fn certified_key(cert: &Path, key: &Path) -> Result<CertifiedKey, (&'static str, String)> {
    let chain = certificates(cert).map_err(|e| ("PORTCULLIS_TLS_CERT", e))?;
    let der = PrivateKeyDer::from_pem_file(key).map_err(|e| {
        (
            "PORTCULLIS_TLS_KEY",
            format!(
                "{} is not a PEM private key: expected one `-----BEGIN PRIVATE KEY-----` (PKCS#8), `EC PRIVATE KEY` or `RSA PRIVATE KEY` block ({e})",
                key.display()
            ),
        )
    })?;
    let signing = provider()
        .key_provider
        .load_private_key(der)
        .map_err(|e| ("PORTCULLIS_TLS_KEY", format!("{}: {e}", key.display())))?;
    let certified = CertifiedKey::new(chain, signing);
    certified.keys_match().map_err(|e| {
        (
            "PORTCULLIS_TLS_KEY",
            format!("does not match the certificate: {e}"),
        )
    })?;
    Ok(certified)
}

/// The certificate the listener presents now: every handshake asks for
/// it, and [`CurrentCertificate::replace`] swaps it without touching open
/// connections.
#[derive(Debug)]
pub struct CurrentCertificate(ArcSwap<CertifiedKey>);

impl CurrentCertificate {
    pub fn new(first: CertifiedKey) -> Self {
        Self(ArcSwap::from_pointee(first))
    }

    /// New handshakes present `next` from now on.
    pub fn replace(&self, next: CertifiedKey) {
        self.0.store(Arc::new(next));
    }
}

impl ResolvesServerCert for CurrentCertificate {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.load_full())
    }
}

/// The listener's TLS, presenting `current`; HTTP/1.1 is the only protocol
/// offered on top.
pub fn server(current: Arc<CurrentCertificate>) -> Result<ServerConfig, String> {
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_cert_resolver(current);
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// The client TLS for an `https://` upstream: the certificates of the PEM
/// bundle `ca` are the only roots when given, else the system's roots.
pub fn upstream(ca: Option<&Path>) -> Result<ClientConfig, String> {
    let mut roots = RootCertStore::empty();
    match ca {
        Some(path) => {
            for cert in certificates(path)? {
                roots
                    .add(cert)
                    .map_err(|e| format!("{}: unusable certificate: {e}", path.display()))?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            let (added, _) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                return Err(
                    "no system root certificates found for the https upstream; name a PEM bundle"
                        .into(),
                );
            }
        }
    }
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    // the proxy streams HTTP/1.1 both ways
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_that_is_no_pem_says_what_was_expected() {
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "not a certificate\n").unwrap();
        let cert = certificates(&junk).unwrap_err();
        assert!(
            cert.contains("`-----BEGIN CERTIFICATE-----` blocks"),
            "{cert}"
        );
        let (var, key) = certified_key(&junk, &junk).unwrap_err();
        assert_eq!(var, "PORTCULLIS_TLS_CERT");
        assert!(key.contains("BEGIN CERTIFICATE"), "{key}");

        let real = dir.path().join("cert.pem");
        let made = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        std::fs::write(&real, made.cert.pem()).unwrap();
        let (var, key) = certified_key(&real, &junk).unwrap_err();
        assert_eq!(var, "PORTCULLIS_TLS_KEY");
        assert!(
            key.contains("`-----BEGIN PRIVATE KEY-----` (PKCS#8)"),
            "{key}"
        );
    }
}
