//! TLS for pool-postgres: tokio-postgres's `MakeTlsConnect` over rustls (the rustls 0.23
//! and ring provider sqlx's `tls-rustls` already builds, through tokio-rustls), set up
//! once when the manager is built from the URL's `sslmode` and `sslrootcert`, which
//! pool-facts reads for both bindings (`pool_facts::PostgresTls`).
//!
//! | `sslmode` | TLS | the server's certificate |
//! |---|---|---|
//! | `disable`, `allow` | never: the manager connects with `NoTls` | |
//! | `prefer`, and a URL without `sslmode` (libpq's default, `pool_facts::DEFAULT_SSL_MODE`) | when the server answers the TLS request with yes; plain otherwise | accepted unverified ([`AcceptAnyCertificate`]) |
//! | `require` | always; a server that refuses TLS fails the connect | unverified, unless `sslrootcert` is given: then as `verify-ca` (libpq's rule) |
//! | `verify-ca` | always | the chain, against `sslrootcert` (only its certificates), or without one against the webpki roots (Mozilla's, what pool-sqlx's sqlx trusts) |
//! | `verify-full` | always | the chain as `verify-ca`, and the URL's host name (or IP address) against the certificate |
//!
//! A Unix-socket host never uses TLS (libpq ignores `sslmode` there too). `sslrootcert=system`
//! is read as the webpki roots. A URL without `sslmode` is `prefer`, as on libpq and
//! pool-sqlx: against a server with `ssl = on` the session is encrypted; write
//! `sslmode=disable` for plain text (to compare with raw tokio-postgres on `NoTls`, say).
//! Where this differs from libpq: libpq reads `PGSSLMODE` when the URL sets no mode
//! (sqlx does too; pool-postgres reads no environment), and it reads
//! `~/.postgresql/root.crt` when no `sslrootcert` is given (pool-postgres does not read
//! files it was not named), and `allow` there tries plain first and TLS if the server
//! insists; sqlx reads `allow` as `disable` as well. Where it differs from sqlx: sqlx's
//! `require` never verifies, and its `verify-ca` trusts the webpki roots besides
//! `sslrootcert`. Client certificates (`sslcert`, `sslkey`) are refused with a
//! `ConfigError`, not ignored. No channel binding is offered (SCRAM's
//! `channel_binding=require` fails; the default, `prefer`, goes on without).

use std::{
    fmt, fs,
    future::Future,
    io,
    path::Path,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use pool_core::{ConfigError, ErrorClass};
use pool_facts::{PostgresTls, SslMode};
use rustls::{
    ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
    client::{
        WebPkiServerVerifier,
        danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier},
    },
    crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature},
    pki_types::{CertificateDer, ServerName, UnixTime, pem::PemObject},
};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::{
    Socket,
    tls::{ChannelBinding, MakeTlsConnect, TlsConnect},
};

/// What the manager connects with, chosen once when it is built: the plain path is
/// tokio-postgres's `NoTls`, the same as before TLS existed here.
#[derive(Clone, Debug)]
pub(crate) enum Connector {
    /// No TLS (`sslmode=disable|allow`, a Unix socket, or a manager built by hand).
    Plain,
    /// TLS through rustls.
    Rustls(MakeRustlsConnect),
}

/// tokio-postgres's `MakeTlsConnect` over rustls: one `ClientConfig` shared by every
/// connect (cloning is an `Arc`'s).
#[derive(Clone)]
pub struct MakeRustlsConnect {
    config: Arc<ClientConfig>,
    /// What the certificate is checked against, for the error when it fails.
    trust: Arc<str>,
}

impl fmt::Debug for MakeRustlsConnect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MakeRustlsConnect")
            .field("trust", &self.trust)
            .finish_non_exhaustive()
    }
}

impl MakeRustlsConnect {
    /// Connects with a rustls configuration of your own (its verifier, roots, client
    /// certificate); `trust` says in errors what the certificate was checked against.
    pub fn new(config: Arc<ClientConfig>, trust: impl Into<Arc<str>>) -> Self {
        MakeRustlsConnect {
            config,
            trust: trust.into(),
        }
    }

    /// The configuration for a URL's TLS parameters: `None` when the mode uses no TLS.
    pub(crate) fn for_url(tls: &PostgresTls) -> Result<Option<Self>, ConfigError> {
        if tls.client_cert.is_some() || tls.client_key.is_some() {
            return Err(ConfigError::new(
                "sslcert",
                "(and `sslkey`): pool-postgres does not send client certificates yet; use \
                 pool-sqlx for certificate authentication",
            ));
        }
        let root_cert = tls
            .root_cert
            .as_deref()
            .filter(|path| path.as_os_str() != "system");
        let mode = tls.effective_mode();
        let verify = match mode {
            SslMode::Disable | SslMode::Allow => return Ok(None),
            SslMode::Prefer => Verify::Nothing,
            // libpq: `require` with a root certificate given verifies as `verify-ca`.
            SslMode::Require if root_cert.is_none() => Verify::Nothing,
            SslMode::Require | SslMode::VerifyCa => Verify::Chain,
            SslMode::VerifyFull => Verify::ChainAndName,
            _ => {
                return Err(ConfigError::new(
                    "sslmode",
                    format!("`{}` is not known to pool-postgres", mode.name()),
                ));
            }
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|error| ConfigError::new("sslmode", format!("rustls refused: {error}")))?;
        let (config, trust) = match verify {
            Verify::Nothing => (
                builder
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate { provider }))
                    .with_no_client_auth(),
                "nothing (the certificate is not verified)".to_owned(),
            ),
            Verify::Chain | Verify::ChainAndName => {
                let (roots, trust) = match root_cert {
                    Some(path) => (read_roots(path)?, format!("sslrootcert {}", path.display())),
                    None => (
                        RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
                        "the webpki roots".to_owned(),
                    ),
                };
                let roots = Arc::new(roots);
                let config = if verify == Verify::Chain {
                    let verifier = WebPkiServerVerifier::builder_with_provider(roots, provider)
                        .build()
                        .map_err(|error| {
                            ConfigError::new("sslrootcert", format!("cannot be used: {error}"))
                        })?;
                    builder
                        .dangerous()
                        .with_custom_certificate_verifier(Arc::new(ChainOnly { verifier }))
                        .with_no_client_auth()
                } else {
                    builder.with_root_certificates(roots).with_no_client_auth()
                };
                (config, trust)
            }
        };
        Ok(Some(MakeRustlsConnect::new(
            Arc::new(config),
            format!("sslmode={}, checked against {trust}", mode.name()),
        )))
    }
}

/// What a connect verifies of the server's certificate.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Verify {
    Nothing,
    Chain,
    ChainAndName,
}

/// The certificates of a PEM file, each one a root to trust; a missing or unreadable file,
/// one without a certificate, or a certificate rustls cannot use is a `ConfigError`
/// naming the file.
fn read_roots(path: &Path) -> Result<RootCertStore, ConfigError> {
    let shown = path.display();
    let pem = fs::read(path).map_err(|error| {
        ConfigError::new("sslrootcert", format!("cannot read {shown}: {error}"))
    })?;
    let mut roots = RootCertStore::empty();
    for (index, certificate) in CertificateDer::pem_slice_iter(&pem).enumerate() {
        let certificate = certificate.map_err(|error| {
            ConfigError::new(
                "sslrootcert",
                format!("{shown} is not a PEM file of certificates: {error}"),
            )
        })?;
        roots.add(certificate).map_err(|error| {
            ConfigError::new(
                "sslrootcert",
                format!(
                    "certificate {} of {shown} cannot be a root: {error}",
                    index + 1
                ),
            )
        })?;
    }
    if roots.is_empty() {
        return Err(ConfigError::new(
            "sslrootcert",
            format!("{shown} holds no PEM certificate"),
        ));
    }
    Ok(roots)
}

/// The verifier of `sslmode=prefer`, and of `require` without `sslrootcert`: any
/// certificate is accepted, as libpq does in those modes. The traffic is encrypted, but
/// against an attacker in the middle it proves nothing; use `verify-full` for that. The
/// handshake's signatures are still checked (the server holds the key of the certificate
/// it sent).
#[derive(Debug)]
pub struct AcceptAnyCertificate {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// `verify-ca`'s verifier: webpki's, with a certificate valid for another name accepted
/// (webpki checks the chain before the name, so a name error means the chain held).
#[derive(Debug)]
struct ChainOnly {
    verifier: Arc<WebPkiServerVerifier>,
}

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.verifier.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForName
                | rustls::CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            outcome => outcome,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.verifier.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.verifier.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.verifier.supported_verify_schemes()
    }
}

/// Why a TLS connect failed, in the cause of tokio-postgres's "error performing TLS
/// handshake" (pool-postgres's error shows both). A server that answers the TLS request
/// with no under `require` is tokio-postgres's own "server does not support TLS".
#[derive(Debug)]
#[non_exhaustive]
pub enum TlsError {
    /// The host cannot be a TLS server name.
    ServerName(String),
    /// The server's certificate was refused: it will be refused again, so the error is
    /// `Permanent`.
    Certificate {
        /// rustls's reason (unknown issuer, expired, not valid for the name, ...).
        error: rustls::Error,
        /// The mode and what the certificate was checked against.
        trust: Arc<str>,
    },
    /// The TLS protocol failed (an alert from the server, no common version or cipher):
    /// `Permanent`.
    Protocol(rustls::Error),
    /// The socket failed or closed during the handshake: a `Connection` failure.
    Io(io::Error),
}

impl TlsError {
    /// How the pool and the policies treat this failure.
    pub fn class(&self) -> ErrorClass {
        match self {
            TlsError::Io(_) => ErrorClass::Connection,
            TlsError::ServerName(_) | TlsError::Certificate { .. } | TlsError::Protocol(_) => {
                ErrorClass::Permanent
            }
        }
    }

    /// Reads what tokio-rustls's handshake failed with: its `io::Error` carries rustls's
    /// error when TLS itself failed.
    fn from_handshake(error: io::Error, trust: &Arc<str>) -> Self {
        if !error
            .get_ref()
            .is_some_and(|inner| inner.is::<rustls::Error>())
        {
            return TlsError::Io(error);
        }
        let kind = error.kind();
        match error
            .into_inner()
            .map(|inner| inner.downcast::<rustls::Error>())
        {
            Some(Ok(error)) => match *error {
                error @ rustls::Error::InvalidCertificate(_) => TlsError::Certificate {
                    error,
                    trust: trust.clone(),
                },
                error => TlsError::Protocol(error),
            },
            Some(Err(inner)) => TlsError::Io(io::Error::new(kind, inner)),
            None => TlsError::Io(kind.into()),
        }
    }
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsError::ServerName(host) => {
                write!(f, "the host `{host}` cannot be a TLS server name")
            }
            TlsError::Certificate { error, trust } => {
                write!(f, "the server's certificate was refused ({trust}): {error}")
            }
            TlsError::Protocol(error) => write!(f, "TLS failed: {error}"),
            TlsError::Io(error) => {
                write!(f, "the connection failed during the TLS handshake: {error}")
            }
        }
    }
}

impl std::error::Error for TlsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TlsError::ServerName(_) => None,
            TlsError::Certificate { error, .. } | TlsError::Protocol(error) => Some(error),
            TlsError::Io(error) => Some(error),
        }
    }
}

impl MakeTlsConnect<Socket> for MakeRustlsConnect {
    type Stream = RustlsStream;
    type TlsConnect = RustlsConnect;
    type Error = TlsError;

    fn make_tls_connect(&mut self, domain: &str) -> Result<RustlsConnect, TlsError> {
        let name = ServerName::try_from(domain.to_owned())
            .map_err(|_| TlsError::ServerName(domain.to_owned()))?;
        Ok(RustlsConnect {
            config: self.config.clone(),
            trust: self.trust.clone(),
            name,
        })
    }
}

/// One connect's TLS handshake, to the host it was made for.
pub struct RustlsConnect {
    config: Arc<ClientConfig>,
    trust: Arc<str>,
    name: ServerName<'static>,
}

impl TlsConnect<Socket> for RustlsConnect {
    type Stream = RustlsStream;
    type Error = TlsError;
    type Future = Pin<Box<dyn Future<Output = Result<RustlsStream, TlsError>> + Send>>;

    fn connect(self, stream: Socket) -> Self::Future {
        Box::pin(async move {
            tokio_rustls::TlsConnector::from(self.config)
                .connect(self.name, stream)
                .await
                .map(|stream| RustlsStream(Box::new(stream)))
                .map_err(|error| TlsError::from_handshake(error, &self.trust))
        })
    }
}

/// A TLS session over tokio-postgres's socket.
pub struct RustlsStream(Box<tokio_rustls::client::TlsStream<Socket>>);

impl tokio_postgres::tls::TlsStream for RustlsStream {
    fn channel_binding(&self) -> ChannelBinding {
        ChannelBinding::none()
    }
}

impl AsyncRead for RustlsStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for RustlsStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }
}
