//! State replay beside its floor: a decode-only scan of the same log, in the same run.
//!
//! Replay has to read and decode every entry; nothing can make it cheaper than
//! `log::Scanner` + `Entry::decode` over the same segments. This bench builds one ledger of
//! 1,000,000 entries (realistic incident records: opens, grants, emergency grants, revocations,
//! rotations, session revocations, exceptions, observations, closes, over 20,000 identities and
//! 20,000 incidents), then times:
//!
//! ```text
//! floor/scan_decode   <n> entries/s   Scanner + Entry::decode, single thread
//! state/head          <n> entries/s   govern::state::replay at the head   ratio to floor (target <= 2.0)
//! report/all          <n> entries/s   govern::rules::report, every incident (two passes)
//! ```
//!
//! Criterion measures each case first (sample size 10); a summary then times them again with
//! `Instant`, alternating floor and replay (median of 3 rounds), and prints the ratios.
//!
//! The ledger is built once per run in a temporary directory with `append_batch` of 10,000 (progress
//! is printed); set `CUSTODY_GOVERN_BENCH_DIR=/path` to keep it there and reuse it on the next run.
//! Run with `cargo bench --bench govern`; `cargo test --benches` runs a smoke version (20,000
//! entries, one round).

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use serde_json::json;

use custody::entry::Entry;
use custody::govern::rules::{report, ReportOptions};
use custody::govern::state::{replay, ReplayOptions};
use custody::govern::{Point, Source};
use custody::ledger::{Ledger, OpenOptions};
use custody::log::{ScanItem, Scanner};
use custody::record::Record;
use custody::sign::SecretKey;
use custody::time::Timestamp;

const ENTRIES: usize = 1_000_000;
const SMOKE_ENTRIES: usize = 20_000;
const BATCH: usize = 10_000;
const IDENTITIES: usize = 20_000;
const PER_INCIDENT: usize = 50;
/// The issue's aim: replay within 2x of the decode-only scan.
const TARGET: f64 = 2.0;

mod common;
use common::{mode, Mode};

const SCOPES: [&str; 8] = [
    "arn:aws:iam::aws:policy/ReadOnlyAccess",
    "arn:aws:iam::aws:policy/AdministratorAccess",
    "arn:aws:iam::123456789012:policy/ci-deploy",
    "okta:ORG_ADMIN",
    "okta:APP_ADMIN",
    "Microsoft Graph/Directory.Read.All",
    "Microsoft Graph/Reports.Read.All",
    "github:acme/release:maintain",
];

/// Record number `i` of the bench ledger (the first record gets seq 1).
fn record(i: usize) -> Record {
    let incident = format!("INC-2025-{:05}", i / PER_INCIDENT);
    let p = i % PER_INCIDENT;
    let who = (i * 7919 + p * 104_729) % IDENTITIES;
    let human = format!("user{who:05}@corp.example");
    let key = format!("AKIA{:016}", who);
    let svc = format!("arn:aws:iam::123456789012:role/svc-{who:05}");
    let scope = SCOPES[(i / 7) % SCOPES.len()];
    let at = Timestamp::from_nanos(1_735_689_600_000_000_000 + i as i64 * 30_000_000_000).expect("time");
    let occurred = at.to_rfc3339();
    let approved = json!({"by": "ciso@corp.example", "source": "servicenow", "ref": format!("CHG{:07}", i / 10)});
    let (action, target, kind, scope, extra) = match (p, p % 10) {
        (0, _) => ("incident_open", svc.clone(), "role", None, json!({"owner": "platform-team@corp.example"})),
        (49, _) => ("incident_close", svc.clone(), "role", None, json!({})),
        (_, 1) => ("grant", human.clone(), "human", Some(scope), json!({"owner": "secops@corp.example"})),
        (_, 2) => ("observe", key.clone(), "api_key", None, json!({})),
        (_, 3) => ("revoke", human.clone(), "human", Some(scope), json!({})),
        (_, 4) => {
            let exp = Timestamp::from_nanos(at.nanos() + 4 * 3_600_000_000_000).expect("time").to_rfc3339();
            ("emergency_grant", human.clone(), "human", Some(SCOPES[1]), json!({"expires_at": exp}))
        }
        (_, 5) => ("session_revoke", svc.clone(), "role", Some("sts sessions"), json!({})),
        (_, 6) => ("rotate", key.clone(), "api_key", None, json!({})),
        (_, 7) => ("observe", human.clone(), "human", None, json!({})),
        (_, 8) if i % 20 < 10 => ("exception_add", svc.clone(), "role", Some("EXC-118: long-lived key"), json!({})),
        (_, 8) => ("exception_remove", svc.clone(), "role", Some("EXC-118: long-lived key"), json!({})),
        (_, 9) => ("recertify", svc.clone(), "role", Some(scope), json!({"owner": "platform-team@corp.example"})),
        _ => ("disable", key.clone(), "api_key", None, json!({})),
    };
    let mut v = json!({
        "incident": incident, "action": action,
        "actor": {"id": "soar-playbook", "kind": "service"},
        "target": {"id": target, "kind": kind, "system": "aws-iam"},
        "approval": approved, "reason": format!("playbook step {p} of {incident}"),
        "outcome": {"status": "success"}, "occurred_at": occurred,
        "evidence": [{"system": "cloudtrail", "id": format!("evt-{i:08}")}],
    });
    if let Some(s) = scope {
        v["scope"] = json!(s);
    }
    if let (serde_json::Value::Object(m), serde_json::Value::Object(x)) = (&mut v, extra) {
        m.extend(x);
    }
    Record::from_value(v).expect("bench records follow the contract")
}

/// The bench ledger: reused from `CUSTODY_GOVERN_BENCH_DIR` when it already holds `entries`.
fn build(root: &Path, entries: usize) -> PathBuf {
    let dir = root.join(format!("govern-{entries}"));
    if dir.join("log").is_dir() {
        if let Ok((l, _)) = Ledger::open(&dir, &OpenOptions::default()) {
            if l.head().size as usize == entries {
                println!("reusing the bench ledger at {} ({entries} entries)", dir.display());
                return dir;
            }
        }
        std::fs::remove_dir_all(&dir).expect("remove a stale bench ledger");
    }
    let key = SecretKey::from_seed(&[0x42; 32]);
    let t = Instant::now();
    let (ledger, _) = Ledger::init(&dir, &key, "govern-bench").expect("init");
    let records = entries - 1;
    let mut done = 0;
    while done < records {
        let n = BATCH.min(records - done);
        let batch: Vec<Record> = (done..done + n).map(record).collect();
        ledger.append_batch(&key, batch, None).expect("append_batch");
        done += n;
        if done % (10 * BATCH) == 0 || done == records {
            println!("  built {:>9} / {entries} entries in {:.0} s", done + 1, t.elapsed().as_secs_f64());
        }
    }
    assert_eq!(ledger.head().size as usize, entries);
    println!("built the bench ledger: {entries} entries in {:.1} s at {}", t.elapsed().as_secs_f64(), dir.display());
    dir
}

/// The floor: every frame scanned and decoded, nothing else.
fn scan_decode(dir: &Path) -> u64 {
    let mut n = 0u64;
    for item in Scanner::open(&dir.join("log")).expect("scanner") {
        if let ScanItem::Frame(f) = item.expect("scan") {
            let e = Entry::decode(&f.signed, f.signature, &f.openings).expect("decode");
            black_box(&e);
            n += 1;
        }
    }
    n
}

fn state_head(dir: &Path, now: Timestamp) -> usize {
    let st = replay(&Source::unchecked(dir), &ReplayOptions { point: Point::Head, now, target: None }).expect("replay");
    black_box(st.len())
}

fn report_all(dir: &Path, now: Timestamp) -> usize {
    let r = report(&Source::unchecked(dir), &ReportOptions::new(now)).expect("report");
    black_box(r.findings.len())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn secs(f: impl FnOnce()) -> f64 {
    let t = Instant::now();
    f();
    t.elapsed().as_secs_f64()
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let load = std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    format!("{cpu}, {cores} cores, load {load}")
}

fn main() {
    let mode = mode();
    let mut c = Criterion::default().configure_from_args();
    let entries = if mode == Mode::Bench { ENTRIES } else { SMOKE_ENTRIES };
    let tmp = tempfile::Builder::new().prefix("custody-govern-bench-").tempdir().expect("temp dir");
    let root =
        std::env::var_os("CUSTODY_GOVERN_BENCH_DIR").map(PathBuf::from).unwrap_or_else(|| tmp.path().to_path_buf());
    std::fs::create_dir_all(&root).expect("bench dir");
    if mode == Mode::List {
        println!("govern/scan_decode: benchmark\ngovern/state_head: benchmark\ngovern/report_all: benchmark");
        return;
    }
    let dir = build(&root, entries);
    let now = Timestamp::parse("2026-01-01T00:00:00Z").expect("time");
    let bytes: u64 = std::fs::read_dir(dir.join("log"))
        .expect("log dir")
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum();

    let mut g = c.benchmark_group("govern");
    let long = mode == Mode::Bench;
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(if long { 2000 } else { 200 }))
        .measurement_time(Duration::from_secs(if long { 150 } else { 2 }));
    g.throughput(Throughput::Elements(entries as u64));
    g.bench_function("scan_decode", |b| b.iter(|| scan_decode(&dir)));
    g.bench_function("state_head", |b| b.iter(|| state_head(&dir, now)));
    g.bench_function("report_all", |b| b.iter(|| report_all(&dir, now)));
    g.finish();
    c.final_summary();
    // CUSTODY_BENCH_NO_SUMMARY=1 skips the summary (useful with a criterion filter).
    if std::env::var_os("CUSTODY_BENCH_NO_SUMMARY").is_some() {
        return;
    }

    let rounds = if long { 3 } else { 1 };
    let (mut floor, mut state, mut rep) = (Vec::new(), Vec::new(), Vec::new());
    let mut identities = 0;
    for _ in 0..rounds {
        floor.push(secs(|| assert_eq!(scan_decode(&dir) as usize, entries)));
        state.push(secs(|| identities = state_head(&dir, now)));
        rep.push(secs(|| {
            report_all(&dir, now);
        }));
    }
    let (floor, state, rep) = (median(floor), median(state), median(rep));
    let rate = |s: f64| entries as f64 / s;
    let ratio = state / floor;
    println!();
    println!("== govern replay vs. decode-only scan (Instant, median of {rounds} round(s), same ledger, same run) ==");
    println!(
        "machine: {}; ledger {entries} entries, {:.0} MiB of segments, {identities} identities at the head",
        machine(),
        bytes as f64 / 1048576.0
    );
    println!("floor/scan_decode  {:>10.0} entries/s  {floor:>7.2} s", rate(floor));
    println!(
        "state/head         {:>10.0} entries/s  {state:>7.2} s  ratio to floor {ratio:.2}  (target <= {TARGET:.1}: {})",
        rate(state),
        if ratio <= TARGET { "target met" } else { "TARGET MISSED" }
    );
    println!(
        "report/all         {:>10.0} entries/s  {rep:>7.2} s  ratio to floor {:.2}  (two passes)",
        rate(rep),
        rep / floor
    );
}
