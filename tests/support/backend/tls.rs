//! TLS for the loopback backend: a throwaway self-signed certificate for
//! 127.0.0.1 and the rustls server side.
//!
//! The codex TUI insists on an https `chatgpt_base_url`; codex trusts our
//! certificate through `CODEX_CA_CERTIFICATE=<cert.pem>`. The certificate
//! says `CA:FALSE` explicitly (rustls refuses a CA certificate as a server
//! certificate) and names 127.0.0.1 as an IP SAN. Nothing here talks to
//! anything but 127.0.0.1, and the key never leaves the process.

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ServerConfig, ServerConnection, StreamOwned};
use std::io;
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;

/// A certificate for 127.0.0.1 and a server config that presents it.
pub struct TlsIdentity {
    /// The certificate in PEM, for `CODEX_CA_CERTIFICATE`.
    pub cert_pem: String,
    pub config: Arc<ServerConfig>,
}

/// Make a fresh self-signed certificate (ECDSA P-256, CA:FALSE, SAN
/// 127.0.0.1 and localhost, serverAuth).
pub fn self_signed_for_loopback() -> TlsIdentity {
    let mut params =
        rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .expect("certificate params");
    params.is_ca = rcgen::IsCa::ExplicitNoCa;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "swop test backend");
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    let key = rcgen::KeyPair::generate().expect("generate key");
    let cert = params.self_signed(&key).expect("self-sign");
    let cert_der = CertificateDer::from(cert.der().to_vec());
    let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert_der], key_der)
        .expect("server cert");
    TlsIdentity {
        cert_pem: cert.pem(),
        config: Arc::new(config),
    }
}

/// A server-side TLS stream over an accepted connection.
pub type TlsStream = StreamOwned<ServerConnection, TcpStream>;

/// Wrap an accepted connection; the handshake happens on first read.
pub fn accept(config: &Arc<ServerConfig>, tcp: TcpStream) -> io::Result<TlsStream> {
    let conn = ServerConnection::new(config.clone()).map_err(io::Error::other)?;
    Ok(StreamOwned::new(conn, tcp))
}

/// Send close_notify and half-close the socket.
pub fn close(stream: &mut TlsStream) {
    stream.conn.send_close_notify();
    while stream.conn.wants_write() {
        if stream.conn.write_tls(&mut stream.sock).is_err() {
            break;
        }
    }
    let _ = stream.sock.shutdown(Shutdown::Write);
}
