//! `custody serve`: the ledger as an HTTP/1.1 and HTTP/2 service, the single writer of its ledger.
//!
//! # Layout
//! - [`Service::bind`] opens the listening socket (and loads TLS), [`Service::run`] accepts
//!   connections until its shutdown future completes, then shuts down gracefully.
//! - [`api`]: the routes under `/v1`, JSON in and out, every refusal a JSON error.
//! - [`auth`]: bearer tokens (only their hashes are kept, in the ledger), roles, rate limits.
//! - [`commit`]: group commit. One writer thread appends the records of many concurrent requests
//!   with one write and one `fdatasync`; each request is answered once its own entries are durable.
//! - [`metrics`]: Prometheus counters.
//! - [`client`]: the Rust client (`custody append --server` uses it), retrying with an
//!   idempotency key.
//!
//! Limits that keep one client from hurting the others: a connection cap, a header read timeout
//! (HTTP/1) and a first-byte and TLS handshake timeout, a body size cap and body read timeout (the
//! writer never waits for a body: only parsed requests reach it), a bounded append queue (503 when
//! full), and a per-client rate limit (429). On shutdown the service stops accepting, lets open
//! requests finish (up to a grace period), commits and syncs everything already queued, and returns.
//!
//! What this module does not do: it never reads a record's meaning (the ledger checks records), and
//! it keeps no state of its own that the ledger does not already hold: client registrations are
//! ledger entries, and idempotency keys are in the signed header of the entries they produced.

pub mod api;
pub mod auth;
pub mod client;
pub mod commit;
pub mod metrics;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use crate::ledger::Ledger;
use crate::sign::SecretKey;
use api::AppState;
pub use commit::CommitConfig;
use metrics::Metrics;

/// Per-request and per-client limits.
#[derive(Clone, Debug)]
pub struct Limits {
    /// The largest request body, in bytes (413 above it).
    pub max_body: usize,
    /// Time allowed from connection to the end of a request's headers, and for a TLS handshake.
    pub header_timeout: Duration,
    /// Time allowed to receive a request body.
    pub body_timeout: Duration,
    /// Open connections at once; further connections wait in the kernel's accept queue.
    pub max_connections: usize,
    /// Requests a second per client, on average (0: no limit).
    pub rate_per_client: f64,
    /// Requests a client may send at once above its rate.
    pub rate_burst: f64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body: 4 << 20,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            max_connections: 1024,
            rate_per_client: 1000.0,
            rate_burst: 2000.0,
        }
    }
}

/// TLS material, PEM files.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// Require client certificates issued by this CA (mutual TLS).
    pub client_ca: Option<PathBuf>,
}

/// How to run the service.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    pub listen: SocketAddr,
    pub tls: Option<TlsFiles>,
    pub limits: Limits,
    pub commit: CommitConfig,
    /// How long open requests may take to finish after shutdown begins.
    pub shutdown_grace: Duration,
}

impl ServeConfig {
    pub fn new(listen: SocketAddr) -> Self {
        ServeConfig {
            listen,
            tls: None,
            limits: Limits::default(),
            commit: CommitConfig::default(),
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: SocketAddr, source: std::io::Error },
    #[error("TLS: {0}")]
    Tls(String),
    #[error("the signing key {key_id} is not an active key of this ledger; authorise it with `custody key add`")]
    KeyNotAuthorized { key_id: String },
    #[error("cannot start the writer thread: {0}")]
    Writer(std::io::Error),
}

/// A bound, not yet running service.
pub struct Service {
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    state: Arc<AppState>,
    grace: Duration,
}

impl Service {
    /// Binds the listening socket and starts the writer thread. Must be called inside a Tokio
    /// runtime.
    pub async fn bind(ledger: Arc<Ledger>, key: SecretKey, cfg: ServeConfig) -> Result<Service, ServiceError> {
        let kid = key.public().key_id();
        if ledger.with_state(|s| s.active_key(&kid).is_none()) {
            return Err(ServiceError::KeyNotAuthorized { key_id: hex::encode(kid) });
        }
        let tls = cfg.tls.as_ref().map(tls_acceptor).transpose()?;
        let listener =
            TcpListener::bind(cfg.listen).await.map_err(|source| ServiceError::Listen { addr: cfg.listen, source })?;
        let metrics = Arc::new(Metrics::default());
        let key = Arc::new(key);
        let committer = commit::Committer::start(ledger.clone(), key.clone(), &cfg.commit, metrics.clone())
            .map_err(ServiceError::Writer)?;
        let state = Arc::new(AppState::new(ledger, key, committer, metrics, cfg.limits.clone()));
        Ok(Service { listener, tls, state, grace: cfg.shutdown_grace })
    }

    /// The address actually bound (for `--listen 127.0.0.1:0`).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    /// The service's metrics (for tests and embedding).
    pub fn metrics(&self) -> Arc<Metrics> {
        self.state.metrics.clone()
    }

    /// Serves until `shutdown` completes; then stops accepting, lets open requests finish (up to the
    /// grace period), and commits and syncs every append already queued before returning.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let Service { listener, tls, state, grace } = self;
        let router = api::router(state.clone());
        let limits = state.limits.clone();
        let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
        let graceful = GracefulShutdown::new();
        tokio::pin!(shutdown);
        loop {
            let permit = tokio::select! {
                _ = &mut shutdown => break,
                p = permits.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            };
            let (stream, _) = tokio::select! {
                _ = &mut shutdown => break,
                a = listener.accept() => match a {
                    Ok(a) => a,
                    // Out of file descriptors and the like: back off rather than spin.
                    Err(_) => { tokio::time::sleep(Duration::from_millis(50)).await; continue }
                },
            };
            let watcher = graceful.watcher();
            let (router, tls, limits) = (router.clone(), tls.clone(), limits.clone());
            tokio::spawn(async move {
                serve_connection(stream, tls, router, &limits, watcher).await;
                drop(permit);
            });
        }
        drop(listener);
        tokio::select! {
            _ = graceful.shutdown() => {}
            _ = tokio::time::sleep(grace) => {}
        }
        let st = state.clone();
        let _ = tokio::task::spawn_blocking(move || st.committer.close()).await;
    }
}

async fn serve_connection(
    stream: TcpStream,
    tls: Option<tokio_rustls::TlsAcceptor>,
    router: axum::Router,
    limits: &Limits,
    watcher: hyper_util::server::graceful::Watcher,
) {
    let _ = stream.set_nodelay(true);
    // A connection that sends nothing is dropped after the header timeout (HTTP/2 and protocol
    // detection have no header timer of their own).
    let mut first = [0u8; 1];
    if !matches!(tokio::time::timeout(limits.header_timeout, stream.peek(&mut first)).await, Ok(Ok(n)) if n > 0) {
        return;
    }
    let svc = TowerToHyperService::new(router);
    let mut b = auto::Builder::new(TokioExecutor::new());
    b.http1().timer(TokioTimer::new()).header_read_timeout(limits.header_timeout);
    b.http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(256)
        .keep_alive_interval(Some(Duration::from_secs(30)))
        .keep_alive_timeout(Duration::from_secs(20));
    match tls {
        None => {
            let _ = watcher.watch(b.serve_connection(TokioIo::new(stream), svc)).await;
        }
        Some(acceptor) => {
            let Ok(Ok(s)) = tokio::time::timeout(limits.header_timeout, acceptor.accept(stream)).await else {
                return;
            };
            let _ = watcher.watch(b.serve_connection(TokioIo::new(s), svc)).await;
        }
    }
}

/// Builds the TLS acceptor: the certificate chain and key, ALPN h2 and http/1.1, and with a client
/// CA, mandatory client certificates.
fn tls_acceptor(t: &TlsFiles) -> Result<tokio_rustls::TlsAcceptor, ServiceError> {
    let err =
        |what: &str, p: &PathBuf, e: &dyn std::fmt::Display| ServiceError::Tls(format!("{what} {}: {e}", p.display()));
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&t.cert)
        .and_then(|it| it.collect())
        .map_err(|e| err("certificate file", &t.cert, &e))?;
    if certs.is_empty() {
        return Err(err("certificate file", &t.cert, &"holds no CERTIFICATE block"));
    }
    let key = PrivateKeyDer::from_pem_file(&t.key).map_err(|e| err("private key file", &t.key, &e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| ServiceError::Tls(e.to_string()))?;
    let builder = match &t.client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for c in CertificateDer::pem_file_iter(ca).map_err(|e| err("client CA file", ca, &e))? {
                roots.add(c.map_err(|e| err("client CA file", ca, &e))?).map_err(|e| err("client CA file", ca, &e))?;
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| err("client CA file", ca, &e))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut cfg = builder.with_single_cert(certs, key).map_err(|e| ServiceError::Tls(e.to_string()))?;
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(cfg)))
}
