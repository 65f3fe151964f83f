//! Concurrency: threads sharing one `Arc<Ledger>`, and processes contending for the ledger lock.

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use custody::ledger::{Ledger, OpenOptions};
use custody::verify::{verify_ledger, VerifyOptions};

use crate::support::*;

#[test]
fn eight_threads_share_one_ledger() {
    let t = TestLedger::new();
    let ledger = Arc::new(t.open());
    let key = Arc::new(t.key());
    let handles: Vec<_> = (0..8)
        .map(|n| {
            let (ledger, key) = (ledger.clone(), key.clone());
            std::thread::spawn(move || {
                (0..50).map(|i| ledger.append(&key, rec(n * 50 + i), None).expect("append")).collect::<Vec<_>>()
            })
        })
        .collect();
    let receipts: Vec<_> = handles.into_iter().flat_map(|h| h.join().expect("thread")).collect();
    let seqs: BTreeSet<u64> = receipts.iter().map(|r| r.seq).collect();
    assert_eq!(seqs.len(), 400, "400 distinct seqs");
    assert_eq!(seqs.iter().copied().collect::<Vec<_>>(), (1..=400).collect::<Vec<_>>());
    assert_eq!(ledger.head().size, 401);
    drop(ledger);
    let report = verify_ledger(&t.dir, &VerifyOptions::default()).expect("verify");
    assert!(report.intact, "{:?}", report.findings);
    assert_eq!(report.entries, 401);
    // Every receipt names the entry the log holds at that seq.
    let (code, report) = t.verify(&[]);
    assert_intact(code, &report);
    let by_seq: std::collections::HashMap<u64, String> = t
        .log(&[])
        .into_iter()
        .map(|e| (e["seq"].as_u64().unwrap(), e["entry_hash"].as_str().unwrap().to_string()))
        .collect();
    for r in &receipts {
        assert_eq!(by_seq.get(&r.seq), Some(&r.entry_hash), "entry {}", r.seq);
    }
}

#[test]
fn four_processes_append_at_once_and_all_succeed() {
    let t = TestLedger::with_records(1);
    let children: Vec<_> = (0..4)
        .map(|i| {
            let mut c = Command::new(custody_path())
                .args(["append", "--json", "-", "--ledger"])
                .arg(&t.dir)
                .arg("--key")
                .arg(&t.key_path)
                .env_remove("CUSTODY_LEDGER")
                .env_remove("CUSTODY_KEY")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn");
            // Two records each, so that batches of different processes could interleave if the
            // lock did not hold.
            let input = format!("{}\n{}\n", record(100 + 2 * i), record(101 + 2 * i));
            std::io::Write::write_all(&mut c.stdin.take().expect("stdin"), input.as_bytes()).expect("write stdin");
            c
        })
        .collect();
    let mut seqs = Vec::new();
    for c in children {
        let out = c.wait_with_output().expect("wait");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{}: {stderr}", out.status);
        let batch: Vec<u64> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("receipt")["seq"].as_u64().unwrap())
            .collect();
        assert_eq!(batch.len(), 2);
        assert_eq!(batch[1], batch[0] + 1, "a batch is contiguous");
        seqs.extend(batch);
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (2..10).collect::<Vec<_>>());
    let (code, report) = t.verify(&[]);
    assert_intact(code, &report);
    assert_eq!(report["size"], 10);
}

#[test]
fn wait_zero_on_a_held_ledger_fails_with_a_lock_message() {
    let t = TestLedger::with_records(1);
    let before = std::fs::read(t.segment()).expect("segment");
    let held = Ledger::open(&t.dir, &OpenOptions::default()).expect("open").0;
    for sub in [&["append"][..], &["head"], &["log"]] {
        let mut c = t.cmd(sub);
        c.args(["--wait", "0"]);
        if sub == ["append"] {
            c.arg("--key").arg(&t.key_path).args(["--json", "-"]).write_stdin(record(9).to_string());
        }
        let started = Instant::now();
        let r = run(c);
        assert_eq!(r.code, 2, "{sub:?}: {r:?}");
        assert!(r.stderr.contains("locked by another process"), "{sub:?}: {}", r.stderr);
        assert!(started.elapsed() < Duration::from_secs(10), "{sub:?} did not wait 0 s");
    }
    // --wait N waits about N seconds, then gives up the same way.
    let mut c = t.cmd(&["head"]);
    c.args(["--wait", "1"]);
    let started = Instant::now();
    let r = run(c);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(started.elapsed() >= Duration::from_millis(900), "{:?}", started.elapsed());
    assert_eq!(std::fs::read(t.segment()).expect("segment"), before, "nothing was written");
    // Released, the same append goes through.
    drop(held);
    let mut c = t.cmd(&["append"]);
    c.args(["--wait", "0"]).arg("--key").arg(&t.key_path).args(["--json", "-"]).write_stdin(record(9).to_string());
    let r = run(c);
    assert_eq!(r.code, 0, "{r:?}");
}
