//! `index/` is derived data: deleted, corrupted or stale, it is rebuilt from `log/` (or the error
//! says to run `custody reindex`), never a panic, and queries answer exactly as before.

use std::path::Path;

use crate::support::*;

/// The filters under test, each with the seqs it must select in the ledger `ledger()` builds.
fn queries() -> Vec<(Vec<&'static str>, Vec<u64>)> {
    vec![
        // record(i) is entry i + 1; its incident is INC-{i % 3}
        (vec!["--incident", "INC-1"], vec![2, 5, 8, 11]),
        (vec!["--target", "target4@corp.example"], vec![5]),
        // actor{i % 2}: odd i
        (vec!["--actor", "actor1@corp.example"], vec![2, 4, 6, 8, 10, 12]),
        // occurred at 10:00 + i minutes; the genesis entry's event time is its ledger time (now)
        (vec!["--since", "2026-03-02T10:09:00Z", "--until", "2026-03-02T10:30:00Z"], vec![10, 11, 12]),
        (vec!["--incident", "INC-0", "--actor", "actor0@corp.example"], vec![1, 7]),
        (vec!["--incident", "INC-404"], vec![]),
    ]
}

fn ledger() -> TestLedger {
    TestLedger::with_records(12)
}

/// Runs every query; asserts the seqs, and returns the full output for comparison.
fn answers(t: &TestLedger) -> Vec<Vec<serde_json::Value>> {
    queries()
        .into_iter()
        .map(|(args, want)| {
            let got = t.log(&args);
            let seqs: Vec<u64> = got.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
            assert_eq!(seqs, want, "custody log {args:?}");
            got
        })
        .collect()
}

#[test]
fn deleted_index_is_rebuilt_and_answers_the_same() {
    let t = ledger();
    let before = answers(&t);
    let head = t.head();
    std::fs::remove_dir_all(t.dir.join("index")).expect("remove index/");
    let r = run(t.cmd(&["log", "--json", "--incident", "INC-1"]));
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stderr.contains("rebuilt"), "the rebuild is reported: {}", r.stderr);
    assert!(t.dir.join("index").is_dir());
    assert_eq!(answers(&t), before);
    assert_eq!(t.head(), head);
}

/// Overwrites every file under `dir` with garbage of the same length.
fn scribble(dir: &Path) -> usize {
    let mut n = 0;
    for e in std::fs::read_dir(dir).expect("read dir") {
        let p = e.expect("dir entry").path();
        if p.is_dir() {
            n += scribble(&p);
        } else {
            let len = std::fs::metadata(&p).expect("metadata").len() as usize;
            let garbage: Vec<u8> = (0..len.max(64)).map(|i| (i as u8).wrapping_mul(151).wrapping_add(7)).collect();
            std::fs::write(&p, garbage).expect("scribble");
            n += 1;
        }
    }
    n
}

#[test]
fn corrupt_index_is_rebuilt_or_names_reindex_never_panics() {
    let t = ledger();
    let before = answers(&t);
    assert!(scribble(&t.dir.join("index")) > 0);
    // `run` fails the test on a panic message; a panic also exits 101, not 0 or 2.
    let r = run(t.cmd(&["log", "--json", "--incident", "INC-1"]));
    match r.code {
        0 => {
            let got: Vec<serde_json::Value> =
                r.stdout.lines().map(|l| serde_json::from_str(l).expect("json")).collect();
            assert_eq!(got, before[0], "rebuilt on the fly: the answer is the same");
        }
        2 => assert!(r.stderr.contains("custody reindex"), "the error recommends reindex: {}", r.stderr),
        other => panic!("exit {other}: {r:?}"),
    }
    let r = run(t.cmd(&["reindex"]));
    assert_eq!(r.code, 0, "reindex repairs a corrupt index: {r:?}");
    assert_eq!(answers(&t), before);
}

#[test]
fn reindex_rebuilds_from_the_log() {
    let t = ledger();
    let before = answers(&t);
    let r = run(t.cmd(&["reindex"]));
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stderr.contains("13 entries"), "{}", r.stderr);
    assert_eq!(answers(&t), before);
    // And the ledger still takes appends where it was.
    let receipts = t.append_each(20..21);
    assert_eq!(receipts[0].seq, 13);
}

#[test]
fn index_ahead_of_the_log_is_not_believed() {
    // The log lost its last entry (cut at a frame boundary) but the index still knows it: that
    // entry was acknowledged, so opening refuses (appending would reuse its seq) and says how to go
    // on; `custody reindex` accepts the log as it is and then answers from the log alone.
    let t = ledger();
    let seg = t.segment_file();
    truncate(&seg.path, seg.offset(12) as u64);
    let r = run(t.cmd(&["head", "--json"]));
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("entry 12 was acknowledged") && r.stderr.contains("custody reindex"), "{r:?}");
    let r = run(t.cmd(&["reindex"]));
    assert_eq!(r.code, 0, "{r:?}");
    let r = run(t.cmd(&["head", "--json"]));
    assert_eq!(r.code, 0, "{r:?}");
    let head: serde_json::Value = serde_json::from_str(r.stdout.trim()).expect("head json");
    assert_eq!(head["size"], 12, "{head}");
    assert_eq!(head["head_hash"], hex::encode(seg.entry(11).hash));
    let seqs: Vec<u64> = t.log(&["--incident", "INC-2"]).iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, vec![3, 6, 9], "entry 12 (INC-2) is gone from the answers too");
}

/// Zeroes the last `n` bytes of a file (what a power cut does to pages never written back).
fn zero_tail(path: &Path, n: u64) {
    let len = std::fs::metadata(path).expect("metadata").len();
    let mut bytes = std::fs::read(path).expect("read");
    let from = len.saturating_sub(n) as usize;
    bytes[from..].iter_mut().for_each(|b| *b = 0);
    std::fs::write(path, bytes).expect("write");
}

#[test]
fn flat_index_files_that_lost_pages_are_rebuilt_not_trusted() {
    // The location records and Merkle hashes live in flat files that are never fsync'd on the
    // append path; after a power cut they can reach the disk later than sled's snapshot (or not at
    // all). Opening notices (the snapshot's Merkle frontier and head hash are checked against them)
    // and rebuilds; checkpoints then still sign the tree the log holds.
    use custody::checkpoint;
    for (file, cut) in [("merkle.bin", 32u64), ("loc.bin", 60), ("merkle.bin", 0), ("loc.bin", 0)] {
        let t = ledger();
        let before = answers(&t);
        let good_root = t.open().tree_root(13).expect("root");
        let path = t.dir.join("index").join(file);
        if cut == 0 {
            truncate(&path, 0);
        } else {
            zero_tail(&path, cut);
        }
        let (l, report) = custody::ledger::Ledger::open(&t.dir, &Default::default()).expect("open");
        assert!(report.rebuilt_index, "{file} cut {cut}: the index is rebuilt");
        assert_eq!(l.tree_root(13).expect("root"), good_root, "{file} cut {cut}");
        let cp = checkpoint::issue(&l, &t.key()).expect("checkpoint");
        assert_eq!(*cp.checkpoint.root(), good_root);
        for seq in [0u64, 7, 12] {
            let e = l.get(seq).expect("entry");
            assert_eq!(e.seq(), seq);
        }
        drop(l);
        assert_eq!(answers(&t), before, "{file} cut {cut}");
    }
}
