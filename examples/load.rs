//! Load generator for `custody serve`: 1, 8 and 64 concurrent clients sending single-record appends.
//!
//! Each client is one connection (HTTP/1.1 keep-alive, or HTTP/2 with `--http2`) sending one record
//! per request, each under its own idempotency key, as `custody append --server` does, and waiting
//! for the receipt before sending the next. For every level it reports throughput, p50 and p99
//! latency, and the fsyncs per second read from the service's own `/metrics`; and, measured in the
//! same run on the same machine, the raw one-core ed25519 sign rate (the floor of the style guide),
//! with the two ratios the issue asks for: 64 clients against one client (group commit working),
//! and 64 clients against the one-core sign rate. Last, the library ceiling: the same kind of group
//! (one one-record request per client) straight into `Ledger::submit_many`, without HTTP, which
//! shows how much of the gap to the floor is the service's and how much the ledger's.
//!
//! The service runs in this process on its own Tokio runtime, the clients on another; both share
//! the machine's cores, as a load generator on the same host would. The ledger lives in a new
//! temporary directory (under `$TMPDIR`), so it is on the same filesystem as a real deployment's
//! only if `$TMPDIR` is.
//!
//! ```text
//! cargo run --release --example load -- [--seconds 5] [--levels 1,8,64] [--http2] [--verify]
//! ```

/// The allocator the `custody` binary uses (see Cargo.toml).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use custody::entry::{signature_message, Control, Role};
use custody::ledger::{Ledger, Submission};
use custody::record::Record;
use custody::service::auth::{new_token, token_hash};
use custody::service::client::{Client, ClientOptions};
use custody::service::metrics::sample;
use custody::service::{ServeConfig, Service};
use custody::sign::SecretKey;

struct Args {
    seconds: f64,
    levels: Vec<usize>,
    http2: bool,
    verify: bool,
}

fn args() -> Args {
    let mut a = Args { seconds: 5.0, levels: vec![1, 8, 64], http2: false, verify: false };
    let mut it = std::env::args().skip(1);
    while let Some(x) = it.next() {
        match x.as_str() {
            "--seconds" => a.seconds = it.next().and_then(|v| v.parse().ok()).expect("--seconds N"),
            "--levels" => {
                a.levels = it
                    .next()
                    .expect("--levels 1,8,64")
                    .split(',')
                    .map(|v| v.parse().expect("--levels takes numbers"))
                    .collect()
            }
            "--http2" => a.http2 = true,
            "--verify" => a.verify = true,
            "--bench" => {} // tolerated, so `cargo bench`-style invocations do not fail
            other => panic!("unknown argument {other}; use --seconds N --levels 1,8,64 --http2 --verify"),
        }
    }
    a
}

/// One realistic record; `i` varies the target, the evidence ID and the incident.
fn record(client: usize, i: u64) -> Bytes {
    Bytes::from(format!(
        r#"{{"incident":"INC-LOAD-{}","action":"revoke","actor":{{"id":"soar-playbook","kind":"service"}},"target":{{"id":"user{client}-{i}@corp.example","kind":"human","system":"okta"}},"scope":"okta:app/salesforce","approval":{{"by":"oncall@corp.example","source":"pagerduty","ref":"PD-{i}"}},"reason":"session token seen from an unknown ASN","outcome":{{"status":"success"}},"evidence":[{{"system":"okta","id":"evt-{client}-{i}"}}]}}"#,
        client % 16
    ))
}

/// Signatures per second on one core over the 53-byte entry signature message.
fn sign_rate(key: &SecretKey, dur: Duration) -> f64 {
    let msg = signature_message(&[7u8; 32]);
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < dur {
        for _ in 0..256 {
            std::hint::black_box(key.sign(std::hint::black_box(&msg)));
        }
        n += 256;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

struct Level {
    clients: usize,
    appends: u64,
    secs: f64,
    p50: Duration,
    p99: Duration,
    fsyncs: f64,
    /// Mean fdatasync and mean whole group commit, per commit.
    fsync_ms: f64,
    commit_ms: f64,
    errors: u64,
}

/// Appends/s of the library alone: groups of `n` one-record requests (each with its own submitter
/// and request ID, as the service makes them) straight into `Ledger::submit_many`, for `secs`.
fn library_ceiling(ledger: &Ledger, key: &SecretKey, n: usize, secs: f64) -> f64 {
    let template = Record::from_json(std::str::from_utf8(&record(0, 0)).unwrap_or_default()).expect("valid record");
    let start = Instant::now();
    let mut done = 0u64;
    let mut round = 0u64;
    while start.elapsed().as_secs_f64() < secs {
        let requests = (0..n)
            .map(|c| {
                let mut rec = template.clone();
                rec.target.id = format!("user{c}-{round}@ceiling.example");
                (
                    Submission { submitter: Some(format!("load-{c}")), request: Some(format!("ceiling-{c}-{round}")) },
                    vec![rec],
                )
            })
            .collect();
        let out = ledger.submit_many(key, requests);
        done += out.iter().filter(|r| r.is_ok()).count() as u64;
        round += 1;
    }
    done as f64 / start.elapsed().as_secs_f64()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// (fsyncs, fsync seconds, commit seconds) so far, from the service's own metrics.
async fn metrics(c: &Client) -> (f64, f64, f64) {
    let r = c.send(hyper::Method::GET, "/metrics", &[], Bytes::new()).await.expect("GET /metrics");
    let t = String::from_utf8_lossy(&r.body).into_owned();
    let v = |name: &str| sample(&t, name).unwrap_or(0.0);
    (v("custody_fsyncs_total"), v("custody_fsync_seconds_sum"), v("custody_commit_seconds_sum"))
}

async fn run_level(url: &str, tokens: &[String], n: usize, secs: f64, http2: bool) -> Level {
    let opts = ClientOptions { http2, retries: 0, ..ClientOptions::default() };
    let probe = Client::new(url, tokens[0].clone(), opts.clone()).expect("client");
    let (f0, fs0, c0) = metrics(&probe).await;
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for (c, token) in tokens.iter().enumerate().take(n) {
        let client = Client::new(url, token.clone(), opts.clone()).expect("client");
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(4096);
            let mut errors = 0u64;
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let body = record(c, i);
                let key = format!("load-{c}-{i}");
                let t = Instant::now();
                match client.append_json(body, Some(key)).await {
                    Ok(_) => lat.push(t.elapsed()),
                    Err(_) => errors += 1,
                }
                i += 1;
            }
            (lat, errors)
        }));
    }
    tokio::time::sleep(Duration::from_secs_f64(secs)).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await.expect("client task");
        all.extend(l);
        errors += e;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let (f1, fs1, c1) = metrics(&probe).await;
    let commits = (f1 - f0).max(1.0);
    all.sort_unstable();
    Level {
        clients: n,
        appends: all.len() as u64,
        secs: elapsed,
        p50: percentile(&all, 0.50),
        p99: percentile(&all, 0.99),
        fsyncs: (f1 - f0) / elapsed,
        fsync_ms: 1e3 * (fs1 - fs0) / commits,
        commit_ms: 1e3 * (c1 - c0) / commits,
        errors,
    }
}

fn main() {
    let a = args();
    let dir = tempfile::tempdir().expect("temporary directory");
    let key = SecretKey::generate();
    let (ledger, _) = Ledger::init(&dir.path().join("ledger"), &key, "load").expect("init");
    let most = a.levels.iter().copied().max().unwrap_or(1);
    let mut tokens = Vec::new();
    for c in 0..most {
        let t = new_token();
        ledger
            .append_control(
                &key,
                Control::ClientAdd { name: format!("load-{c}"), role: Role::Append, token_hash: token_hash(&t) },
            )
            .expect("register client");
        tokens.push(t);
    }
    let floor = sign_rate(&key, Duration::from_secs(1));
    let ledger = Arc::new(ledger);

    let server_rt = tokio::runtime::Builder::new_multi_thread().enable_all().thread_name("server").build().expect("rt");
    let mut cfg = ServeConfig::new("127.0.0.1:0".parse().expect("addr"));
    cfg.limits.rate_per_client = 0.0;
    let key_copy = SecretKey::from_file_text(&key.to_file_text(), "load key").expect("key copy");
    let svc = server_rt.block_on(Service::bind(ledger.clone(), key, cfg)).expect("bind");
    let url = format!("http://{}", svc.local_addr());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = server_rt.spawn(svc.run(async {
        let _ = stop_rx.await;
    }));

    let client_rt = tokio::runtime::Builder::new_multi_thread().enable_all().thread_name("client").build().expect("rt");
    let mut rows = Vec::new();
    for &n in &a.levels {
        let l = client_rt.block_on(run_level(&url, &tokens, n, a.seconds, a.http2));
        rows.push(l);
    }
    let _ = stop_tx.send(());
    let _ = server_rt.block_on(server);
    let ceiling = library_ceiling(&ledger, &key_copy, most.max(1), a.seconds);

    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "custody serve load: single-record appends over {}, {cores} cores ({cpu}), {:.0} s per level",
        if a.http2 { "HTTP/2" } else { "HTTP/1.1" },
        a.seconds
    );
    println!("raw one-core ed25519 sign rate (floor): {floor:.0}/s");
    println!();
    println!(
        "| clients | appends/s | p50 ms | p99 ms | fsyncs/s | records/fsync | fsync ms | commit ms | vs 1 client | vs sign floor | errors |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let base = rows.first().map(|r| r.appends as f64 / r.secs).unwrap_or(1.0);
    for r in &rows {
        let tput = r.appends as f64 / r.secs;
        println!(
            "| {} | {:.0} | {:.2} | {:.2} | {:.0} | {:.1} | {:.2} | {:.2} | {:.1}x | {:.0}% | {} |",
            r.clients,
            tput,
            r.p50.as_secs_f64() * 1e3,
            r.p99.as_secs_f64() * 1e3,
            r.fsyncs,
            if r.fsyncs > 0.0 { tput / r.fsyncs } else { 0.0 },
            r.fsync_ms,
            r.commit_ms,
            tput / base,
            100.0 * tput / floor,
            r.errors
        );
    }
    println!();
    println!(
        "library ceiling (no HTTP): Ledger::submit_many with {} one-record requests per group: {ceiling:.0}/s ({:.0}% of the sign floor)",
        most.max(1),
        100.0 * ceiling / floor
    );
    if let (Some(one), Some(top)) = (rows.iter().find(|r| r.clients == 1), rows.iter().find(|r| r.clients == 64)) {
        let (t1, t64) = (one.appends as f64 / one.secs, top.appends as f64 / top.secs);
        println!();
        println!(
            "64 clients vs 1 client: {:.1}x (target >= 20x: {})",
            t64 / t1,
            if t64 / t1 >= 20.0 { "met" } else { "NOT met" }
        );
        println!(
            "64 clients vs one-core sign rate: {:.0}% (target >= 60%: {})",
            100.0 * t64 / floor,
            if t64 / floor >= 0.6 { "met" } else { "NOT met" }
        );
    }
    if a.verify {
        let size = ledger.head().size;
        drop(ledger);
        let report = custody::verify::verify_ledger(&dir.path().join("ledger"), &Default::default()).expect("verify");
        println!("verify: {} entries, intact: {}", size, report.intact);
    }
}
