//! A small client for the custody service, for Rust tools and `custody append --server`.
//!
//! This module owns the client side of the API: connections (HTTP/1.1 with a small pool, or one
//! multiplexed HTTP/2 connection; TLS with rustls, optional client certificates), bearer tokens, and
//! safe retries. [`Client::append`] sends one request under an idempotency key and retries it on
//! anything that may have been transient (no connection, a timeout, a lost answer, 408, 429, 5xx),
//! with the same key each time, so the service appends the records once and a retry gets the
//! original receipts. Errors that retrying cannot fix (401, 403, 413, 422, ...) are returned at once
//! with the service's JSON error.
//!
//! ```no_run
//! # async fn f() -> Result<(), custody::service::client::ClientError> {
//! use custody::service::client::{Client, ClientOptions};
//! let c = Client::new("http://127.0.0.1:7440", "cst_...".into(), ClientOptions::default())?;
//! let body = std::fs::read("records.jsonl").unwrap();
//! let out = c.append_json(body.into(), None).await?;
//! println!("{} receipts", out.receipts.len());
//! # Ok(()) }
//! ```

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde::Deserialize;
use serde_json::Value;
use tokio::net::TcpStream;

use crate::ledger::Receipt;
use crate::record::Record;

/// How the client connects and retries.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// Trust this CA (PEM) for `https://` instead of the public web roots.
    pub ca_file: Option<PathBuf>,
    /// Client certificate and key (PEM) for services that require mutual TLS.
    pub client_cert: Option<(PathBuf, PathBuf)>,
    /// Speak HTTP/2 (prior knowledge on `http://`, ALPN on `https://`); HTTP/1.1 otherwise.
    pub http2: bool,
    /// Time for one attempt (connect, send, answer).
    pub timeout: Duration,
    /// Retries after the first attempt.
    pub retries: u32,
    /// First backoff; doubled after each retry, capped at 5 s, with jitter.
    pub backoff: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            ca_file: None,
            client_cert: None,
            http2: false,
            timeout: Duration::from_secs(30),
            retries: 8,
            backoff: Duration::from_millis(100),
        }
    }
}

/// What went wrong talking to the service.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("server URL `{url}`: {problem}")]
    Url { url: String, problem: String },
    #[error("TLS setup: {0}")]
    Tls(String),
    /// The connection failed or broke; the request may or may not have arrived.
    #[error("{0}")]
    Transport(String),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The service answered with an error.
    #[error("the service answered {status} ({code}): {message}")]
    Api { status: u16, code: String, message: String, field: Option<String>, retry_after: Option<Duration> },
    #[error("unexpected answer from the service: {0}")]
    Protocol(String),
}

impl ClientError {
    /// Whether sending the same request again (with the same idempotency key) may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            ClientError::Transport(_) | ClientError::Timeout(_) => true,
            ClientError::Api { status, .. } => matches!(status, 408 | 429 | 500 | 502 | 503 | 504),
            _ => false,
        }
    }
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: hyper::HeaderMap,
    pub body: Bytes,
}

impl Reply {
    /// The body as JSON, or the service's JSON error as [`ClientError::Api`].
    pub fn json(self) -> Result<Value, ClientError> {
        if !self.status.is_success() {
            return Err(api_error(&self));
        }
        serde_json::from_slice(&self.body).map_err(|e| ClientError::Protocol(format!("not JSON: {e}")))
    }
}

fn api_error(r: &Reply) -> ClientError {
    let v: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
    let e = &v["error"];
    let retry_after = r
        .headers
        .get(hyper::header::RETRY_AFTER)
        .and_then(|h| h.to_str().ok())
        .and_then(|s| s.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    ClientError::Api {
        status: r.status.as_u16(),
        code: e["code"].as_str().unwrap_or("unknown").to_string(),
        message: e["message"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| String::from_utf8_lossy(&r.body).chars().take(200).collect()),
        field: e["field"].as_str().map(str::to_owned),
        retry_after,
    }
}

/// The receipts of an append.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Appended {
    pub receipts: Vec<Receipt>,
    /// The service had the request already (an earlier try got through): these are its receipts.
    pub replayed: bool,
    /// The idempotency key the request was sent under.
    pub idempotency_key: String,
    /// How many attempts it took.
    pub attempts: u32,
}

#[derive(Deserialize)]
struct AppendAnswer {
    receipts: Vec<Receipt>,
    replayed: bool,
}

/// A new idempotency key: `req-` and 32 random hex digits.
pub fn new_idempotency_key() -> String {
    let mut b = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut b);
    format!("req-{}", hex::encode(b))
}

enum Sender {
    H1(hyper::client::conn::http1::SendRequest<Full<Bytes>>),
    H2(hyper::client::conn::http2::SendRequest<Full<Bytes>>),
}

impl Sender {
    fn is_closed(&self) -> bool {
        match self {
            Sender::H1(s) => s.is_closed(),
            Sender::H2(s) => s.is_closed(),
        }
    }
}

/// A connection to one service, safe to share between tasks.
pub struct Client {
    https: bool,
    host: String,
    port: u16,
    authority: String,
    prefix: String,
    token: String,
    tls: Option<tokio_rustls::TlsConnector>,
    opts: ClientOptions,
    idle: Mutex<Vec<Sender>>,
}

impl Client {
    /// A client for the service at `url` (`http://host:port` or `https://host:port`, optionally with
    /// a path prefix) that authenticates with `token`.
    pub fn new(url: &str, token: String, opts: ClientOptions) -> Result<Client, ClientError> {
        let bad = |p: &str| ClientError::Url { url: url.to_string(), problem: p.to_string() };
        let uri: Uri = url.parse().map_err(|e: hyper::http::uri::InvalidUri| bad(&e.to_string()))?;
        let https = match uri.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            _ => return Err(bad("must start with http:// or https://")),
        };
        let auth = uri.authority().ok_or_else(|| bad("has no host"))?;
        let host = auth.host().trim_start_matches('[').trim_end_matches(']').to_string();
        let port = auth.port_u16().unwrap_or(if https { 443 } else { 80 });
        let prefix = uri.path().trim_end_matches('/').to_string();
        let tls = if https { Some(tls_connector(&opts)?) } else { None };
        Ok(Client {
            https,
            host,
            port,
            authority: auth.as_str().to_string(),
            prefix,
            token: token.trim().to_string(),
            tls,
            opts,
            idle: Mutex::new(Vec::new()),
        })
    }

    async fn connect(&self) -> Result<Sender, ClientError> {
        let addr = format!("{}:{}", self.host, self.port);
        let tcp = TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|e| ClientError::Transport(format!("cannot connect to {addr}: {e}")))?;
        let _ = tcp.set_nodelay(true);
        let transport = |e: hyper::Error| ClientError::Transport(format!("HTTP handshake with {addr}: {e}"));
        match &self.tls {
            None => self.handshake(TokioIo::new(tcp), self.opts.http2).await.map_err(transport),
            Some(tls) => {
                let name = ServerName::try_from(self.host.clone())
                    .map_err(|e| ClientError::Tls(format!("server name {}: {e}", self.host)))?;
                let s = tls
                    .connect(name, tcp)
                    .await
                    .map_err(|e| ClientError::Transport(format!("TLS handshake with {addr}: {e}")))?;
                let h2 = s.get_ref().1.alpn_protocol() == Some(b"h2");
                self.handshake(TokioIo::new(s), h2).await.map_err(transport)
            }
        }
    }

    async fn handshake<I>(&self, io: TokioIo<I>, h2: bool) -> Result<Sender, hyper::Error>
    where
        I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        if h2 {
            let (s, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), io).await?;
            tokio::spawn(conn);
            Ok(Sender::H2(s))
        } else {
            let (s, conn) = hyper::client::conn::http1::handshake(io).await?;
            tokio::spawn(conn);
            Ok(Sender::H1(s))
        }
    }

    /// An idle connection, or a new one.
    async fn sender(&self) -> Result<Sender, ClientError> {
        {
            let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
            idle.retain(|s| !s.is_closed());
            match idle.first() {
                Some(Sender::H2(s)) => return Ok(Sender::H2(s.clone())),
                Some(Sender::H1(_)) => {
                    if let Some(s) = idle.pop() {
                        return Ok(s);
                    }
                }
                None => {}
            }
        }
        self.connect().await
    }

    fn put_back(&self, s: Sender) {
        if s.is_closed() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        match s {
            Sender::H2(_) if idle.iter().any(|i| matches!(i, Sender::H2(_))) => {}
            s => idle.push(s),
        }
    }

    /// Sends one request (one attempt, no retry) and reads the whole answer.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> Result<Reply, ClientError> {
        let t = self.opts.timeout;
        tokio::time::timeout(t, self.send_inner(method, path, headers, body))
            .await
            .map_err(|_| ClientError::Timeout(t))?
    }

    async fn send_inner(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> Result<Reply, ClientError> {
        let mut sender = self.sender().await?;
        let path = format!("{}{path}", self.prefix);
        let scheme = if self.https { "https" } else { "http" };
        let mut b = Request::builder().method(method);
        b = match sender {
            Sender::H2(_) => b.uri(format!("{scheme}://{}{path}", self.authority)),
            Sender::H1(_) => b.uri(path.as_str()).header(hyper::header::HOST, self.authority.as_str()),
        };
        if !self.token.is_empty() {
            b = b.header(hyper::header::AUTHORIZATION, format!("Bearer {}", self.token));
        }
        if !body.is_empty() {
            b = b.header(hyper::header::CONTENT_TYPE, "application/json");
        }
        for (k, v) in headers {
            let k = HeaderName::from_bytes(k.as_bytes()).map_err(|e| ClientError::Protocol(e.to_string()))?;
            let v = HeaderValue::from_str(v).map_err(|e| ClientError::Protocol(e.to_string()))?;
            b = b.header(k, v);
        }
        let req = b.body(Full::new(body)).map_err(|e| ClientError::Protocol(e.to_string()))?;
        let transport = |e: hyper::Error| ClientError::Transport(format!("request to {}: {e}", self.authority));
        let resp = match &mut sender {
            Sender::H1(s) => {
                s.ready().await.map_err(transport)?;
                s.send_request(req).await.map_err(transport)?
            }
            Sender::H2(s) => {
                s.ready().await.map_err(transport)?;
                s.send_request(req).await.map_err(transport)?
            }
        };
        let (parts, body) = resp.into_parts();
        let body = body.collect().await.map_err(transport)?.to_bytes();
        self.put_back(sender);
        Ok(Reply { status: parts.status, headers: parts.headers, body })
    }

    /// Sends a request, retrying transient failures with backoff (honouring `Retry-After`).
    /// Only safe for requests that are idempotent (reads, or appends with an idempotency key).
    pub async fn send_retrying(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> Result<(Reply, u32), ClientError> {
        let mut backoff = self.opts.backoff;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let r = self.send(method.clone(), path, headers, body.clone()).await;
            let err = match r {
                Ok(reply) if reply.status.is_success() => return Ok((reply, attempt)),
                Ok(reply) => api_error(&reply),
                Err(e) => e,
            };
            if !err.is_retryable() || attempt > self.opts.retries {
                return Err(err);
            }
            let wait = match &err {
                ClientError::Api { retry_after: Some(d), .. } => (*d).min(Duration::from_secs(30)),
                _ => {
                    let jitter = rand::random_range(0..=backoff.as_millis() as u64 / 2 + 1);
                    backoff + Duration::from_millis(jitter)
                }
            };
            tokio::time::sleep(wait).await;
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }

    /// Appends records (one JSON object, or JSON Lines: one request, one batch) under an
    /// idempotency key (a new one when `None`), retrying until it gets receipts or a final error.
    pub async fn append_json(&self, body: Bytes, idempotency_key: Option<String>) -> Result<Appended, ClientError> {
        let key = idempotency_key.unwrap_or_else(new_idempotency_key);
        let (reply, attempts) =
            self.send_retrying(Method::POST, "/v1/entries", &[("idempotency-key", key.as_str())], body).await?;
        let a: AppendAnswer = serde_json::from_slice(&reply.body)
            .map_err(|e| ClientError::Protocol(format!("append answer is not receipts: {e}")))?;
        Ok(Appended { receipts: a.receipts, replayed: a.replayed, idempotency_key: key, attempts })
    }

    /// Appends records (see [`Client::append_json`]).
    pub async fn append(&self, records: &[Record], idempotency_key: Option<String>) -> Result<Appended, ClientError> {
        let mut body = Vec::new();
        for r in records {
            serde_json::to_writer(&mut body, r).map_err(|e| ClientError::Protocol(e.to_string()))?;
            body.push(b'\n');
        }
        self.append_json(body.into(), idempotency_key).await
    }

    /// GETs a JSON document (with retries).
    pub async fn get_json(&self, path: &str) -> Result<Value, ClientError> {
        self.send_retrying(Method::GET, path, &[], Bytes::new()).await?.0.json()
    }
}

fn tls_connector(opts: &ClientOptions) -> Result<tokio_rustls::TlsConnector, ClientError> {
    let tls =
        |what: &str, p: &PathBuf, e: &dyn std::fmt::Display| ClientError::Tls(format!("{what} {}: {e}", p.display()));
    let mut roots = rustls::RootCertStore::empty();
    match &opts.ca_file {
        Some(ca) => {
            for c in CertificateDer::pem_file_iter(ca).map_err(|e| tls("CA file", ca, &e))? {
                roots.add(c.map_err(|e| tls("CA file", ca, &e))?).map_err(|e| tls("CA file", ca, &e))?;
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ClientError::Tls(e.to_string()))?
        .with_root_certificates(roots);
    let mut cfg = match &opts.client_cert {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => {
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
                .and_then(|it| it.collect())
                .map_err(|e| tls("client certificate", cert, &e))?;
            let k = PrivateKeyDer::from_pem_file(key).map_err(|e| tls("client key", key, &e))?;
            builder.with_client_auth_cert(certs, k).map_err(|e| ClientError::Tls(e.to_string()))?
        }
    };
    cfg.alpn_protocols =
        if opts.http2 { vec![b"h2".to_vec(), b"http/1.1".to_vec()] } else { vec![b"http/1.1".to_vec()] };
    Ok(tokio_rustls::TlsConnector::from(Arc::new(cfg)))
}
