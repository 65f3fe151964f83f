//! Import throughput beside the batch-append floor, and the peak memory of `custody import`, measured
//! in the same run on the same records.
//!
//! The input is the access-change events of `../shared/samples/cloudtrail-iam.jsonl` (26 events),
//! repeated with fresh `eventID`s into gzip JSON Lines files of 10,000 and 100,000 events. An import
//! ([`ingest`], the library call behind `custody import`) reads, decompresses, parses and maps every
//! event, checks it against the ledger for duplicates, spools the records and appends them in durable
//! batches of [`APPEND_BATCH`]. Its floor is the part nobody can skip: [`Ledger::append_batch`] of the
//! same records, already mapped, in batches of the same size, into a fresh ledger.
//!
//! ```text
//! import/100k   <n> events/s   floor(append_batch N) <m>/s   ratio <n/m>   (target 0.70)
//! memory/import  10k <a> MiB   100k <b> MiB   ratio <b/a>                    (flat: close to 1)
//! memory/floor   10k <c> MiB   100k <d> MiB   ratio <d/c>
//! memory/dry-run 10k <e> MiB   100k <f> MiB   ratio <f/e>
//! ```
//!
//! Every measurement runs in a child process on a fresh ledger: a `Ledger` that is dropped does not
//! give all of its memory back (sled's caches), so in-process rounds would pile it up. The children
//! are this bench binary started again with `--custody-bench-child import|floor|floor-stream LEDGER
//! KEY INPUT`, which report their own timing, and `custody import` itself for peak memory.
//!
//! Peak memory is the maximum resident set size of a child `custody import` process (the median of
//! three runs for each size), read with `/usr/bin/time -f %M` when it exists, otherwise by polling
//! `VmHWM` in `/proc/<pid>/status` (every 2 ms; the last reading before exit). Most of it is the
//! ledger's own (sled's caches and write buffers, postings waiting for the next snapshot, the
//! allocator's arenas), so the same is measured for the floor (`floor-stream`: map and
//! `append_batch` as a stream, no spool, no duplicate checks), and the difference is what the
//! importer adds.
//!
//! Criterion first measures the import of 10,000 events (flat sampling, 10 samples); the summary then
//! times the 100,000-event cases, alternating floor and import, and prints the medians and their
//! ratio. A dry run (`custody import --dry-run`: read, map, validate, find duplicates within the
//! input; no ledger) shows the importer's own memory.
//!
//! Run with `cargo bench --bench import` (about 5 minutes on 2 busy cores); `cargo test --benches` runs
//! a smoke version (1,000 and 200 events, one round).

use std::fs::File;
use std::hint::black_box;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, Throughput};
use flate2::write::GzEncoder;
use serde_json::{json, Value};

use custody::import::ingest::{ingest, IngestOptions, APPEND_BATCH};
use custody::import::{map_event, read_events, ImportOptions, Outcome, Source};
use custody::ledger::Ledger;
use custody::record::Record;
use custody::sign::SecretKey;

const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/samples/cloudtrail-iam.jsonl");
/// Records per `append_batch` in the floor: the importer's own batch size.
const FLOOR_BATCH: usize = APPEND_BATCH;
/// The issue's target: import at least this fraction of the floor.
const TARGET: f64 = 0.70;
const INCIDENT: &str = "INC-BENCH-0001";

mod common;
use common::{mode, Mode};

/// The input files, the key and a place for ledgers.
struct Fixture {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    key: SecretKey,
    key_path: PathBuf,
    next_dir: std::cell::Cell<u32>,
}

impl Fixture {
    fn new() -> Self {
        let tmp = tempfile::Builder::new().prefix("custody-bench-import-").tempdir().expect("temporary directory");
        let root = tmp.path().to_path_buf();
        let key = SecretKey::from_seed(&[0x17; 32]);
        let key_path = root.join("bench.key");
        key.save_new(&key_path).expect("save key");
        Fixture { _tmp: tmp, root, key, key_path, next_dir: std::cell::Cell::new(0) }
    }

    /// A new, empty ledger directory (initialised, then closed).
    fn fresh_ledger_dir(&self, what: &str) -> PathBuf {
        let n = self.next_dir.get();
        self.next_dir.set(n + 1);
        let dir = self.root.join(format!("{what}-{n}"));
        Ledger::init(&dir, &self.key, "bench").expect("init");
        dir
    }
}

/// The sample's access-change events (the ones the importer maps to records), as parsed JSON.
fn change_events() -> Vec<Value> {
    let opts = ImportOptions::new(INCIDENT);
    let file = File::open(SAMPLE).unwrap_or_else(|e| panic!("{SAMPLE}: {e}"));
    let events: Vec<Value> = read_events(Source::CloudTrail, file)
        .expect("read sample")
        .map(|ev| ev.expect("sample event"))
        .filter(|ev| matches!(map_event(Source::CloudTrail, ev, &opts), Ok(Outcome::Records(_))))
        .map(|ev| serde_json::from_slice(&ev.bytes).expect("sample JSON"))
        .collect();
    assert_eq!(events.len(), 26, "the sample's access-change events");
    events
}

/// Writes `n` events, the templates in turn with fresh event IDs, as gzip JSON Lines.
fn generate(templates: &[Value], n: usize, path: &Path) {
    let f = File::create(path).expect("create input");
    let mut gz = GzEncoder::new(BufWriter::new(f), flate2::Compression::fast());
    for i in 0..n {
        let mut ev = templates[i % templates.len()].clone();
        ev["eventID"] = json!(format!("b3c4a5d6-{:04x}-4e5f-8a9b-{:012x}", i % 0xffff, i));
        serde_json::to_writer(&mut gz, &ev).expect("write event");
        gz.write_all(b"\n").expect("write newline");
    }
    gz.finish().expect("finish gzip").flush().expect("flush");
}

/// The records an import of `path` appends, mapped in advance (the floor's input).
fn mapped_records(path: &Path) -> Vec<Record> {
    let opts = ImportOptions::new(INCIDENT);
    let mut out = Vec::new();
    for ev in read_events(Source::CloudTrail, File::open(path).expect("open input")).expect("read input") {
        let ev = ev.expect("event");
        let Ok(Outcome::Records(recs)) = map_event(Source::CloudTrail, &ev, &opts) else { panic!("not a change") };
        out.extend(recs.into_iter().map(|m| m.record));
    }
    out
}

fn ingest_opts() -> IngestOptions {
    IngestOptions {
        source: Source::CloudTrail,
        import: ImportOptions::new(INCIDENT),
        dry_run: false,
        skip_invalid: false,
        explain: false,
    }
}

/// First argument of the bench binary started as a child process.
const CHILD_FLAG: &str = "--custody-bench-child";

/// A child process: `CHILD_FLAG WHAT LEDGER KEY INPUT`. Prints `<records appended> <seconds>`, the
/// seconds covering only the measured work:
/// - `import`: [`ingest`] of INPUT (everything `custody import` does);
/// - `floor`: map INPUT into records first (not timed), then `append_batch` them in batches of
///   `FLOOR_BATCH`;
/// - `floor-stream`: map and append as a stream (for peak memory; the time includes the mapping).
fn child(args: &[String]) {
    let [what, ledger, key, input] = args else {
        panic!("usage: {CHILD_FLAG} import|floor|floor-stream LEDGER KEY INPUT")
    };
    let key = SecretKey::load(Path::new(key)).expect("key");
    let (ledger, _) = Ledger::open(Path::new(ledger), &Default::default()).expect("open ledger");
    let input = Path::new(input);
    let (n, d) = match what.as_str() {
        "import" => {
            let f = File::open(input).expect("open input");
            let t = Instant::now();
            let s = ingest(f, "bench", &ingest_opts(), Some((&ledger, &key)), &mut std::io::sink(), &|_| {})
                .expect("import");
            (s.appended as usize, t.elapsed())
        }
        "floor" => {
            let records = mapped_records(input);
            let batches: Vec<Vec<Record>> = records.chunks(FLOOR_BATCH).map(<[Record]>::to_vec).collect();
            drop(records);
            let t = Instant::now();
            let mut n = 0;
            for b in batches {
                n += black_box(ledger.append_batch(&key, b, None).expect("append_batch")).len();
            }
            (n, t.elapsed())
        }
        "floor-stream" => {
            let t = Instant::now();
            let opts = ImportOptions::new(INCIDENT);
            let mut batch = Vec::with_capacity(FLOOR_BATCH);
            let mut n = 0;
            for ev in read_events(Source::CloudTrail, File::open(input).expect("open input")).expect("read input") {
                let Ok(Outcome::Records(recs)) = map_event(Source::CloudTrail, &ev.expect("event"), &opts) else {
                    panic!("not a change")
                };
                batch.extend(recs.into_iter().map(|m| m.record));
                if batch.len() >= FLOOR_BATCH {
                    n += ledger.append_batch(&key, std::mem::take(&mut batch), None).expect("append_batch").len();
                }
            }
            n += ledger.append_batch(&key, batch, None).expect("append_batch").len();
            (n, t.elapsed())
        }
        other => panic!("unknown child `{other}`"),
    };
    println!("{n} {}", d.as_secs_f64());
}

/// Runs a child of this binary on a fresh ledger; returns the measured time (asserting `n` records).
fn run_child(fx: &Fixture, what: &str, input: &Path, n: usize) -> Duration {
    let dir = fx.fresh_ledger_dir(what);
    let out = Command::new(std::env::current_exe().expect("the bench binary"))
        .arg(CHILD_FLAG)
        .arg(what)
        .arg(&dir)
        .arg(&fx.key_path)
        .arg(input)
        .output()
        .expect("run child");
    assert!(out.status.success(), "child {what} failed: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    let (count, secs) = text.trim().split_once(' ').expect("`<n> <seconds>`");
    assert_eq!(count, n.to_string(), "child {what}: every generated event is appended");
    let _ = std::fs::remove_dir_all(dir);
    Duration::from_secs_f64(secs.parse().expect("seconds"))
}

/// Peak resident set size (KiB) of the process `cmd` starts, and how it was read. The process must
/// exit successfully; its stdout is returned.
fn peak_rss_kib(root: &Path, exe: &Path, args: &[&std::ffi::OsStr]) -> (u64, &'static str, Vec<u8>) {
    let setup = |c: &mut Command| {
        c.args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .env_remove("CUSTODY_LEDGER")
            .env_remove("CUSTODY_KEY");
    };
    let time = Path::new("/usr/bin/time");
    let (out, kib, how) = if time.exists() {
        let report = root.join("time.out");
        let mut c = Command::new(time);
        c.args(["-f", "%M", "-o"]).arg(&report).arg(exe);
        setup(&mut c);
        let out = c.output().expect("run under /usr/bin/time");
        let text = std::fs::read_to_string(&report).unwrap_or_default();
        let kib = text.lines().last().and_then(|l| l.trim().parse().ok()).unwrap_or(0);
        (out, kib, "/usr/bin/time %M")
    } else {
        let mut c = Command::new(exe);
        setup(&mut c);
        let mut child = c.spawn().expect("spawn");
        let status = format!("/proc/{}/status", child.id());
        let mut kib = 0;
        while child.try_wait().expect("wait").is_none() {
            if let Ok(s) = std::fs::read_to_string(&status) {
                if let Some(v) = s.lines().find_map(|l| l.strip_prefix("VmHWM:")) {
                    kib = v.trim().trim_end_matches("kB").trim().parse().unwrap_or(kib);
                }
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        (child.wait_with_output().expect("output"), kib, "VmHWM polling")
    };
    assert!(out.status.success(), "{} failed: {}", exe.display(), String::from_utf8_lossy(&out.stderr));
    (kib, how, out.stdout)
}

/// Peak RSS (KiB) of `custody import --dry-run` of `path` (n events): the importer without a ledger.
fn dry_run_rss(fx: &Fixture, path: &Path, n: usize) -> u64 {
    let exe = Path::new(env!("CARGO_BIN_EXE_custody"));
    let args: Vec<&std::ffi::OsStr> = ["import", "--from", "cloudtrail", "--incident", INCIDENT, "--dry-run"]
        .iter()
        .map(std::ffi::OsStr::new)
        .chain([path.as_os_str()])
        .collect();
    let (kib, _, stdout) = peak_rss_kib(&fx.root, exe, &args);
    assert_eq!(stdout.iter().filter(|b| **b == b'\n').count(), n, "one record per event");
    kib
}

/// Peak RSS (KiB) of `custody import` of `path` (n events) into a fresh ledger.
fn import_rss(fx: &Fixture, path: &Path, n: usize) -> (u64, &'static str) {
    let dir = fx.fresh_ledger_dir("memory-import");
    let exe = Path::new(env!("CARGO_BIN_EXE_custody"));
    let args: Vec<&std::ffi::OsStr> = ["import", "--from", "cloudtrail", "--incident", INCIDENT, "--json", "--ledger"]
        .iter()
        .map(std::ffi::OsStr::new)
        .chain([dir.as_os_str(), "--key".as_ref(), fx.key_path.as_os_str(), path.as_os_str()])
        .collect();
    let (kib, how, stdout) = peak_rss_kib(&fx.root, exe, &args);
    let summary: Value = serde_json::from_slice(&stdout).expect("import summary");
    assert_eq!(summary["appended"], n, "{summary}");
    let _ = std::fs::remove_dir_all(dir);
    (kib, how)
}

/// Peak RSS (KiB) of the streaming floor in a child process.
fn floor_rss(fx: &Fixture, path: &Path, n: usize) -> u64 {
    let dir = fx.fresh_ledger_dir("memory-floor");
    let exe = std::env::current_exe().expect("the bench binary");
    let args: Vec<&std::ffi::OsStr> =
        vec![CHILD_FLAG.as_ref(), "floor-stream".as_ref(), dir.as_os_str(), fx.key_path.as_os_str(), path.as_os_str()];
    let (kib, _, stdout) = peak_rss_kib(&fx.root, &exe, &args);
    let text = String::from_utf8_lossy(&stdout);
    assert_eq!(text.split_whitespace().next(), Some(n.to_string().as_str()));
    let _ = std::fs::remove_dir_all(dir);
    kib
}

/// Median of `rounds` rates (items per second).
fn median(mut rates: Vec<f64>) -> f64 {
    rates.sort_by(|a, b| a.total_cmp(b));
    rates[rates.len() / 2]
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn count_lines_gz(path: &Path) -> usize {
    BufReader::new(flate2::read::GzDecoder::new(File::open(path).expect("open"))).lines().count()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some(CHILD_FLAG) {
        child(&args[2..]);
        return;
    }
    let mode = mode();
    if mode == Mode::List {
        println!("import/import/10k: benchmark");
        return;
    }
    let smoke = mode == Mode::Smoke;
    let (small, large, rounds) = if smoke { (200, 1_000, 1) } else { (10_000, 100_000, 3) };
    let fx = Fixture::new();
    let templates = change_events();
    let t = Instant::now();
    let small_path = fx.root.join("cloudtrail-small.jsonl.gz");
    let large_path = fx.root.join("cloudtrail-large.jsonl.gz");
    generate(&templates, small, &small_path);
    generate(&templates, large, &large_path);
    assert_eq!(count_lines_gz(&large_path), large);
    println!(
        "generated {small} and {large} CloudTrail events ({:.1} MB gzip) in {:.1} s",
        std::fs::metadata(&large_path).map_or(0.0, |m| m.len() as f64 / 1e6),
        t.elapsed().as_secs_f64()
    );

    if !smoke {
        let mut c = Criterion::default().configure_from_args();
        let mut g = c.benchmark_group("import");
        g.sample_size(10)
            .sampling_mode(SamplingMode::Flat)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(10))
            .throughput(Throughput::Elements(small as u64));
        g.bench_function("import/10k", |b| {
            b.iter_custom(|iters| (0..iters).map(|_| run_child(&fx, "import", &small_path, small)).sum())
        });
        g.finish();
        c.final_summary();
    }

    // The summary: alternate import and floor so that both see the same load.
    let load_before = load();
    let mut import_rates = Vec::new();
    let mut floor_rates = Vec::new();
    for _ in 0..rounds {
        floor_rates.push(large as f64 / run_child(&fx, "floor", &large_path, large).as_secs_f64());
        import_rates.push(large as f64 / run_child(&fx, "import", &large_path, large).as_secs_f64());
    }
    // Peak RSS varies from run to run by tens of MiB (the allocator's arenas), most at 10k: each
    // figure is the median of `rounds` runs, alternating sizes, and the import's are printed.
    let mut how = "";
    let (mut import_small, mut import_large) = (Vec::new(), Vec::new());
    let (mut floor_small, mut floor_large, mut dry_small, mut dry_large) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        let (kib, h) = import_rss(&fx, &small_path, small);
        how = h;
        import_small.push(kib);
        import_large.push(import_rss(&fx, &large_path, large).0);
        floor_small.push(floor_rss(&fx, &small_path, small));
        floor_large.push(floor_rss(&fx, &large_path, large));
        dry_small.push(dry_run_rss(&fx, &small_path, small));
        dry_large.push(dry_run_rss(&fx, &large_path, large));
    }
    // KiB counts are far below 2^53: exact as f64.
    let mid = |v: Vec<u64>| median(v.into_iter().map(|k| k as f64).collect()) as u64;
    let rss_rounds = format!(
        "memory rounds (MiB): import {} {:?}, {} {:?}",
        small,
        import_small.iter().map(|k| k / 1024).collect::<Vec<_>>(),
        large,
        import_large.iter().map(|k| k / 1024).collect::<Vec<_>>()
    );
    let (small_kib, large_kib) = (mid(import_small), mid(import_large));
    let (small_floor_kib, large_floor_kib) = (mid(floor_small), mid(floor_large));
    let (small_dry_kib, large_dry_kib) = (mid(dry_small), mid(dry_large));
    let load_after = load();

    let import = median(import_rates.clone());
    let floor = median(floor_rates.clone());
    let ratio = import / floor;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let name = if smoke { "smoke".to_string() } else { format!("{}k", large / 1000) };
    println!();
    println!("== custody import vs. floor (Instant, median of {rounds} rounds, alternating) ==");
    println!("machine: {cores} cores, load {load_before} before / {load_after} after, dir {}", fx.root.display());
    println!(
        "rounds: import {:?} events/s; floor {:?} records/s",
        import_rates.iter().map(|r| r.round()).collect::<Vec<_>>(),
        floor_rates.iter().map(|r| r.round()).collect::<Vec<_>>()
    );
    println!(
        "import/{name:<6} {import:>9.0} events/s   floor(append_batch {FLOOR_BATCH}) {floor:>9.0}/s   ratio {ratio:.2}  (target {TARGET:.2}: {})",
        if smoke {
            "smoke run, not a measurement"
        } else if ratio >= TARGET {
            "target met"
        } else {
            "TARGET MISSED"
        }
    );
    println!("{rss_rounds}");
    let mib = |k: u64| k as f64 / 1024.0;
    let k = |n: usize| format!("{}k", n as f64 / 1000.0);
    println!(
        "memory/import  {} {:>7.1} MiB   {} {:>7.1} MiB   ratio {:.2}  (peak RSS of `custody import`, {how})",
        k(small),
        mib(small_kib),
        k(large),
        mib(large_kib),
        large_kib as f64 / small_kib.max(1) as f64
    );
    println!(
        "memory/floor   {} {:>7.1} MiB   {} {:>7.1} MiB   ratio {:.2}  (map + append_batch {FLOOR_BATCH}, streaming)",
        k(small),
        mib(small_floor_kib),
        k(large),
        mib(large_floor_kib),
        large_floor_kib as f64 / small_floor_kib.max(1) as f64
    );
    println!(
        "memory/dry-run {} {:>7.1} MiB   {} {:>7.1} MiB   ratio {:.2}  (`custody import --dry-run`: the importer without a ledger)",
        k(small),
        mib(small_dry_kib),
        k(large),
        mib(large_dry_kib),
        large_dry_kib as f64 / small_dry_kib.max(1) as f64
    );
}
