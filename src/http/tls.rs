//! The optional TLS listener (`--tls-cert`, `--tls-key`): the certificate chain and key read from
//! PEM files at start-up into a rustls configuration (ring), and the acceptor that serves the
//! public listener's HTTP over it, HTTP/1.1 only; WebSocket upgrades keep the TLS stream.

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use actix_http::{Protocol, error::DispatchError};
use actix_service::{ServiceFactory, ServiceFactoryExt as _, fn_service};
use actix_tls::accept::TlsError;
use actix_tls::accept::rustls_0_23::{Acceptor, TlsStream};
use anyhow::Context as _;
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpStream;

use super::websocket_transport::{ReadEnd, Upgraded, WriteEnd};
use crate::config::TlsConfig;

/// The TLS acceptor of the public listener, or `None` when TLS is not configured. A file that is
/// missing, unreadable or holds no certificate or key, or a key that does not belong to the
/// certificate, stops the start with a message naming the flag and the file.
pub fn acceptor(config: &TlsConfig) -> anyhow::Result<Option<Acceptor>> {
    // clap makes each flag require the other.
    let (Some(cert), Some(key)) = (&config.tls_cert, &config.tls_key) else {
        return Ok(None);
    };
    let chain = read_chain(cert)?;
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|error| anyhow::anyhow!("--tls-key {}: {}", key.display(), pem_error(error)))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut server = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS: the crypto provider offers no safe protocol version")?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|error| {
            anyhow::anyhow!("--tls-cert and --tls-key do not make a usable pair: {error}")
        })?;
    // HTTP/1.1 only, never h2: actix-http's HTTP/2 has no extended CONNECT (RFC 8441), so a
    // WebSocket could not be opened over it, and no GOAWAY on a graceful stop, so a client would
    // not learn to take its next request elsewhere (HTTP/1.1 says `Connection: close`).
    server.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Some(Acceptor::new(server)))
}

/// The certificates of the PEM file at `path`, leaf first; at least one.
fn read_chain(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let chain = CertificateDer::pem_file_iter(path)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(|error| anyhow::anyhow!("--tls-cert {}: {}", path.display(), pem_error(error)))?;
    anyhow::ensure!(
        !chain.is_empty(),
        "--tls-cert {}: no certificate in it (a PEM `BEGIN CERTIFICATE` block)",
        path.display()
    );
    Ok(chain)
}

/// A PEM reading error in words (the library's own show bytes as numbers).
fn pem_error(error: rustls::pki_types::pem::Error) -> String {
    use rustls::pki_types::pem::Error;
    let invalid = |why: &str| format!("not a valid PEM file: {why}");
    match error {
        Error::Io(error) => format!("cannot read it: {error}"),
        Error::NoItemsFound => "no private key in it (a PEM `BEGIN … PRIVATE KEY` block)".into(),
        Error::MissingSectionEnd { end_marker } => invalid(&format!(
            "no `-----END {}-----` line",
            String::from_utf8_lossy(&end_marker)
        )),
        Error::IllegalSectionStart { .. } => invalid("a malformed `-----BEGIN` line"),
        Error::Base64Decode(error) => invalid(&format!("a block is not base64 ({error})")),
        other => invalid(&other.to_string()),
    }
}

/// `http` (an HTTP service over TLS streams) behind `acceptor`'s handshake. A handshake takes
/// at most actix-tls's 3 s; a client that fails one (plain HTTP sent to this port, a
/// certificate it does not trust) is dropped without an answer.
pub fn accept<S>(
    acceptor: Acceptor,
    http: S,
) -> impl ServiceFactory<
    TcpStream,
    Config = (),
    Response = (),
    Error = TlsError<io::Error, DispatchError>,
    InitError = (),
>
where
    S: ServiceFactory<
            (TlsStream<TcpStream>, Protocol, Option<SocketAddr>),
            Config = (),
            Response = (),
            Error = DispatchError,
            InitError = (),
        >,
{
    acceptor
        .map_err(TlsError::into_service_error)
        .and_then(fn_service(|stream: TlsStream<TcpStream>| async move {
            let peer = stream.get_ref().0.peer_addr().ok();
            Ok::<_, TlsError<io::Error, DispatchError>>((stream, Protocol::Http1, peer))
        }))
        .and_then(http.map_err(TlsError::Service))
}

impl Upgraded for TlsStream<TcpStream> {
    fn into_ends(self) -> (ReadEnd, WriteEnd) {
        // The two halves share the stream under a lock held only while one of them is polled.
        let (read, write) = tokio::io::split(self);
        (Box::new(read), Box::new(write))
    }
}
