//! `custody serve`, `custody client add|remove|list` and `custody append --server`: the command-line
//! side of the service. Arguments become a `ServeConfig` or a `Client`; the work is in
//! `custody::service`.

use std::io::Write;
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use bytes::Bytes;
use hyper::Method;
use serde_json::{json, Value};

use custody::entry::{Control, Role};
use custody::service::auth::{check_client_name, new_token, token_hash};
use custody::service::client::{new_idempotency_key, Client, ClientOptions};
use custody::service::{CommitConfig, Limits, ServeConfig, Service, TlsFiles};

use crate::args::{AppendArgs, ClientCommand, ClientTarget, RemoteArgs, ServeArgs};
use crate::commands::{load_key, open, print_receipts, read_records, record_from_flags};
use crate::output::{json_line, line};
use crate::Outcome;

/// Warns when a secret file can be read by others than its owner.
fn warn_if_shared(path: &Path, what: &str) {
    if let Ok(m) = std::fs::metadata(path) {
        if m.permissions().mode() & 0o077 != 0 {
            eprintln!(
                "custody: warning: {what} {} is readable by group or others (mode {:o}); `chmod 0400` it",
                path.display(),
                m.permissions().mode() & 0o777
            );
        }
    }
}

fn resolve(listen: &str) -> anyhow::Result<SocketAddr> {
    listen
        .to_socket_addrs()
        .with_context(|| format!("--listen `{listen}` is not an address (HOST:PORT, e.g. 127.0.0.1:7440)"))?
        .next()
        .with_context(|| format!("--listen `{listen}` resolves to no address"))
}

pub fn serve(a: ServeArgs) -> anyhow::Result<Outcome> {
    let key = load_key(&a.key.key)?;
    warn_if_shared(&a.key.key, "signing key");
    let listen = resolve(&a.listen)?;
    let tls = match (a.tls_cert, a.tls_key) {
        (Some(cert), Some(key)) => {
            warn_if_shared(&key, "TLS key");
            Some(TlsFiles { cert, key, client_ca: a.tls_client_ca })
        }
        _ => None,
    };
    let https = tls.is_some();
    let cfg = ServeConfig {
        listen,
        tls,
        limits: Limits {
            max_body: a.max_body,
            header_timeout: Duration::from_secs(a.header_timeout.max(1)),
            body_timeout: Duration::from_secs(a.body_timeout.max(1)),
            max_connections: a.max_connections,
            rate_per_client: a.rate_limit,
            rate_burst: a.rate_burst,
        },
        commit: CommitConfig { queue_requests: a.queue, queue_records: a.queue_records, ..CommitConfig::default() },
        shutdown_grace: Duration::from_secs(a.shutdown_grace),
    };
    let ledger = Arc::new(open(&a.ledger)?);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().thread_name("custody-serve").build()?;
    let result = rt.block_on(async {
        let svc = Service::bind(ledger, key, cfg).await?;
        let addr = svc.local_addr();
        let scheme = if https { "https" } else { "http" };
        json_line(&json!({"listening": addr.to_string(), "url": format!("{scheme}://{addr}")}))?;
        eprintln!(
            "custody: serving {} on {scheme}://{addr}; SIGTERM or Ctrl-C stops it after committing what was accepted",
            a.ledger.ledger.display()
        );
        svc.run(shutdown_signal()).await;
        anyhow::Ok(())
    });
    rt.shutdown_timeout(Duration::from_secs(5));
    result?;
    eprintln!("custody: stopped; every accepted append is committed and synced");
    Ok(Outcome::Ok)
}

async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = term => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

fn client_for(server: &str, token_file: Option<&Path>, r: &RemoteArgs) -> anyhow::Result<Client> {
    let tf = token_file.context("--token-file is required with --server")?;
    warn_if_shared(tf, "token file");
    let token = std::fs::read_to_string(tf).with_context(|| format!("reading the token from {}", tf.display()))?;
    if token.trim().is_empty() {
        bail!("{} holds no token; `custody client add` writes one", tf.display());
    }
    let opts = ClientOptions {
        ca_file: r.tls_ca.clone(),
        client_cert: r.tls_client_cert.clone().zip(r.tls_client_key.clone()),
        http2: r.http2,
        timeout: Duration::from_secs(r.timeout.max(1)),
        retries: r.retries,
        ..ClientOptions::default()
    };
    Ok(Client::new(server, token.trim().to_string(), opts)?)
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread().enable_all().build()?)
}

/// `custody append --server URL --token-file F ...`: the same records and receipts as a local
/// append, sent under an idempotency key and retried until the service answers.
pub fn remote_append(a: AppendArgs) -> anyhow::Result<Outcome> {
    let server = a.server.as_deref().context("--server is required")?;
    if a.each {
        return remote_append_each(&a, server);
    }
    let records = match &a.json {
        Some(src) => read_records(src)?,
        None => vec![record_from_flags(&a.record)?],
    };
    let client = client_for(server, a.token_file.as_deref(), &a.remote)?;
    let key = a.idempotency_key.clone().unwrap_or_else(new_idempotency_key);
    let out = runtime()?.block_on(client.append(&records, Some(key.clone()))).with_context(|| {
        format!(
            "appending to {server} (idempotency key {key}; retry with --idempotency-key {key} to append at most once)"
        )
    })?;
    if out.replayed {
        eprintln!("custody: note: the service already had request {key}; these are its original receipts");
    }
    print_receipts(&out.receipts, true)
}

/// `--each` through the service: every JSON line is its own request (and idempotency key), sent as
/// it arrives; stops at the first line that is refused (everything before it stays appended, as its
/// printed receipts say).
fn remote_append_each(a: &AppendArgs, server: &str) -> anyhow::Result<Outcome> {
    use std::io::BufRead;
    if a.idempotency_key.is_some() {
        bail!("--idempotency-key names one request; with --each every line gets its own key");
    }
    let src = a.json.as_deref().unwrap_or("-");
    let input: Box<dyn BufRead> = if src == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::io::BufReader::new(std::fs::File::open(src).with_context(|| format!("opening {src}"))?))
    };
    let client = client_for(server, a.token_file.as_deref(), &a.remote)?;
    let rt = runtime()?;
    for (i, text) in input.lines().enumerate() {
        let text = text.with_context(|| format!("reading {src}"))?;
        if text.trim().is_empty() {
            continue;
        }
        let rec =
            custody::record::Record::from_json(&text).map_err(|e| anyhow::anyhow!("{src}: line {}: {e}", i + 1))?;
        let key = new_idempotency_key();
        let out = rt
            .block_on(client.append(&[rec], Some(key.clone())))
            .with_context(|| format!("{src}: line {}: appending to {server} (idempotency key {key})", i + 1))?;
        print_receipts(&out.receipts, true)?;
    }
    Ok(Outcome::Ok)
}

fn role(s: &str) -> anyhow::Result<Role> {
    s.parse::<Role>().map_err(anyhow::Error::msg)
}

/// Writes a token to a new file only its owner can read.
fn write_token(path: &Path, token: &str) -> anyhow::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {} (it must not exist yet)", path.display()))?;
    writeln!(f, "{token}").and_then(|_| f.sync_all()).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

pub fn client(c: ClientCommand) -> anyhow::Result<Outcome> {
    match c {
        ClientCommand::Add { target, name, role: r, token_out, json } => {
            check_client_name(&name).map_err(anyhow::Error::msg)?;
            let r = role(&r)?;
            let (token, receipt) = match &target.server {
                Some(server) => {
                    let c = client_for(server, target.token_file.as_deref(), &target.remote)?;
                    let body = Bytes::from(json!({"name": name, "role": r}).to_string());
                    // Not retried: a lost answer would lose the only copy of the token.
                    let v = runtime()?.block_on(c.send(Method::POST, "/v1/clients", &[], body))?.json()?;
                    (v["token"].as_str().context("the service returned no token")?.to_string(), v["receipt"].clone())
                }
                None => {
                    let (ledger, key) = local(&target)?;
                    let token = new_token();
                    let control = Control::ClientAdd { name: name.clone(), role: r, token_hash: token_hash(&token) };
                    (token, serde_json::to_value(ledger.append_control(&key, control)?)?)
                }
            };
            if let Some(p) = &token_out {
                write_token(p, &token)?;
            }
            if json {
                let mut v = json!({"name": name, "role": r, "receipt": receipt});
                match &token_out {
                    Some(p) => v["token_file"] = json!(p.display().to_string()),
                    None => v["token"] = json!(token),
                }
                json_line(&v)?;
            } else {
                line(&format!("client {name} registered with role {r} (entry {})", receipt["seq"]))?;
                match &token_out {
                    Some(p) => {
                        line(&format!("its bearer token is in {} (mode 0600); only its hash is kept", p.display()))?
                    }
                    None => {
                        line(&format!("bearer token (shown once; only its hash is kept): {token}"))?;
                    }
                }
            }
            Ok(Outcome::Ok)
        }
        ClientCommand::Remove { target, name, reason, json } => {
            let receipt = match &target.server {
                Some(server) => {
                    let c = client_for(server, target.token_file.as_deref(), &target.remote)?;
                    let path = format!("/v1/clients/{name}?reason={}", urlencode(&reason));
                    runtime()?.block_on(c.send(Method::DELETE, &path, &[], Bytes::new()))?.json()?["receipt"].clone()
                }
                None => {
                    let (ledger, key) = local(&target)?;
                    serde_json::to_value(
                        ledger.append_control(&key, Control::ClientRemove { name: name.clone(), reason })?,
                    )?
                }
            };
            if json {
                json_line(&json!({"name": name, "removed": true, "receipt": receipt}))?;
            } else {
                line(&format!("client {name} removed (entry {}); its token no longer works", receipt["seq"]))?;
            }
            Ok(Outcome::Ok)
        }
        ClientCommand::List { target, json } => {
            let list: Vec<Value> = match &target.server {
                Some(server) => {
                    let c = client_for(server, target.token_file.as_deref(), &target.remote)?;
                    let v = runtime()?.block_on(c.get_json("/v1/clients"))?;
                    v["clients"].as_array().cloned().unwrap_or_default()
                }
                None => open(&target.ledger)?
                    .with_state(|s| s.clients.clone())
                    .into_iter()
                    .map(|(name, c)| json!({"name": name, "role": c.role, "added_at": c.added_at}))
                    .collect(),
            };
            for c in &list {
                if json {
                    json_line(c)?;
                } else {
                    line(&format!(
                        "{}  role {}  registered by entry {}",
                        c["name"].as_str().unwrap_or("?"),
                        c["role"].as_str().unwrap_or("?"),
                        c["added_at"]
                    ))?;
                }
            }
            Ok(Outcome::Ok)
        }
    }
}

fn local(t: &ClientTarget) -> anyhow::Result<(custody::ledger::Ledger, custody::sign::SecretKey)> {
    let key = t.key.as_deref().context(
        "--key is required to sign the registration (or go through a service with --server and an admin token)",
    )?;
    let key = load_key(key)?;
    Ok((open(&t.ledger)?, key))
}

/// Percent-encodes a query value.
fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
