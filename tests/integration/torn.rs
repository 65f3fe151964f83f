//! Torn tails: bytes at the end of the newest segment that were never acknowledged (a torn last
//! frame, or a batch without its end-of-batch frame). `custody verify` only warns about them;
//! opening the ledger moves them to `quarantine/`, says so on stderr, and the ledger then verifies
//! clean and takes new appends where the acknowledged entries end.

use std::path::PathBuf;

use crate::support::*;

/// The files in `quarantine/`.
fn quarantined(t: &TestLedger) -> Vec<PathBuf> {
    match std::fs::read_dir(t.dir.join("quarantine")) {
        Ok(rd) => rd.map(|e| e.expect("dir entry").path()).collect(),
        Err(_) => Vec::new(),
    }
}

/// Asserts that verify warns about a torn tail, exits 0 and counts `size` entries.
fn assert_torn(t: &TestLedger, size: u64) {
    let r = run(t.cmd(&["verify"]));
    assert_eq!(r.code, 0, "a torn tail is not an integrity failure: {r:?}");
    assert!(r.stderr.contains("warning: torn tail"), "{}", r.stderr);
    assert!(r.stdout.contains("INTACT"), "{}", r.stdout);
    let (code, report) = t.verify(&[]);
    assert_intact(code, &report);
    assert_eq!(report["size"], size, "{report:#}");
}

/// How the ledger is opened after the tear.
#[derive(Clone, Copy, Debug)]
enum Opener {
    /// `custody head`
    Head,
    /// `custody append` of one record (which must get seq `size`)
    Append,
}

fn append_one(t: &TestLedger, i: usize) -> Run {
    let mut c = t.cmd(&["append"]);
    c.arg("--key").arg(&t.key_path).args(["--json", "-"]).write_stdin(record(i).to_string());
    run(c)
}

/// Copies `index/` aside: the index as it is when only the entries so far were acknowledged.
fn snapshot_index(t: &TestLedger) -> tempfile::TempDir {
    let snap = tempfile::tempdir().expect("tempdir");
    copy_dir(&t.dir.join("index"), snap.path());
    snap
}

/// Puts a snapshot back: a crash before the index learned of the torn append (the index is
/// updated only after an append's fsync, so it never knows an unacknowledged entry).
fn restore_index(t: &TestLedger, snap: &tempfile::TempDir) {
    let idx = t.dir.join("index");
    std::fs::remove_dir_all(&idx).expect("remove index/");
    copy_dir(snap.path(), &idx);
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir") {
        let e = e.expect("entry");
        if e.file_type().expect("type").is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).expect("copy");
        }
    }
}

fn receipt_seq(r: &Run) -> u64 {
    serde_json::from_str::<serde_json::Value>(r.stdout.trim()).expect("receipt")["seq"].as_u64().expect("seq")
}

/// Opens the ledger: the torn bytes must go to quarantine/ and be reported on stderr, the ledger
/// then verifies clean with `size` acknowledged entries and the next append gets seq `size`.
fn open_and_quarantine(t: &TestLedger, opener: Opener, torn: &[u8], size: u64) {
    assert!(quarantined(t).is_empty());
    let r = match opener {
        Opener::Head => run(t.cmd(&["head"])),
        Opener::Append => append_one(t, 50),
    };
    assert_eq!(r.code, 0, "{opener:?}: {r:?}");
    assert!(r.stderr.contains("torn tail") && r.stderr.contains("quarantine"), "{opener:?}: {}", r.stderr);
    let q = quarantined(t);
    assert_eq!(q.len(), 1, "{q:?}");
    assert!(r.stderr.contains(&*q[0].to_string_lossy()), "stderr names the file: {}", r.stderr);
    assert_eq!(std::fs::read(&q[0]).expect("quarantine file"), torn, "quarantine holds exactly the torn bytes");
    let size = match opener {
        Opener::Head => {
            assert!(r.stdout.starts_with(&format!("{size}:")), "{}", r.stdout);
            size
        }
        Opener::Append => {
            assert_eq!(receipt_seq(&r), size, "the append continues after the acknowledged entries");
            size + 1
        }
    };
    // Clean now: no warning, and appends continue where the acknowledged entries end.
    let (code, report) = t.verify(&[]);
    let warnings = assert_intact(code, &report);
    assert!(!warnings.iter().any(|w| w.contains("torn")), "{warnings:?}");
    assert_eq!(report["size"], size);
    let r = append_one(t, 51);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(receipt_seq(&r), size);
    let (code, report) = t.verify(&[]);
    assert_intact(code, &report);
    assert_eq!(report["size"], size + 1);
    assert_eq!(quarantined(t).len(), 1, "nothing more was quarantined");
}

#[test]
fn torn_last_record_warns_then_is_quarantined_on_open() {
    for (opener, keep_index) in [(Opener::Head, true), (Opener::Append, true), (Opener::Head, false)] {
        let t = TestLedger::with_records(2);
        let snap = snapshot_index(&t);
        append_one(&t, 3); // entry 3: its write is torn below, so it was never acknowledged
        let seg = t.segment_file();
        let cut = seg.offset(3) + 30; // 30 bytes into the last frame
        let original = seg.bytes();
        truncate(&seg.path, cut as u64);
        restore_index(&t, &snap);
        if !keep_index {
            // Recovery from a full scan of the log rather than from where the index left off.
            std::fs::remove_dir_all(t.dir.join("index")).expect("remove index/");
        }
        assert_torn(&t, 3);
        open_and_quarantine(&t, opener, &original[seg.offset(3)..cut], 3);
    }
}

#[test]
fn torn_segment_header_of_a_new_segment_is_quarantined() {
    // A crash while creating the next segment leaves a file shorter than a segment header.
    let t = TestLedger::with_records(2);
    let path = t.dir.join("log").join(custody::log::segment_name(3));
    let partial = b"CSTDYLOG\x00\x00".to_vec();
    std::fs::write(&path, &partial).expect("partial segment");
    assert_torn(&t, 3);
    open_and_quarantine(&t, Opener::Append, &partial, 3);
    assert!(!path.exists(), "the torn segment file is removed after it was quarantined");
}

#[test]
fn batch_without_its_end_frame_is_torn_as_a_whole() {
    for (name, into_end_frame) in [("cut before the end frame", 0), ("cut inside the end frame", 25)] {
        let t = TestLedger::with_records(2);
        let snap = snapshot_index(&t);
        t.append_batch(2..5); // entries 3, 4, 5; only frame 5 ends the batch
        let seg = t.segment_file();
        assert_eq!(seg.frames.len(), 6);
        assert_eq!(seg.frames[3][4] & custody::log::FLAG_END_OF_BATCH, 0);
        let original = seg.bytes();
        let cut = seg.offset(5) + into_end_frame;
        truncate(&seg.path, cut as u64);
        restore_index(&t, &snap);
        // Frames 3 and 4 are complete and valid, but their batch never ended: none of it counts.
        let r = run(t.cmd(&["verify"]));
        assert_eq!(r.code, 0, "{name}: {r:?}");
        assert!(r.stderr.contains("2 complete frames of an unfinished batch"), "{name}: {}", r.stderr);
        let (code, report) = t.verify(&[]);
        assert_intact(code, &report);
        assert_eq!(report["size"], 3, "{name}: {report:#}");
        open_and_quarantine(&t, Opener::Head, &original[seg.offset(3)..cut], 3);
        assert_eq!(t.log(&[]).len(), 4, "{name}: entries 0..=2 and the new one");
    }
}

#[test]
fn damage_before_the_last_frame_is_not_a_torn_tail() {
    // Only the end of the log can be torn: a bad frame followed by a valid one is damage (exit 1),
    // and nothing that follows it may be cut away as if it were torn.
    let t = TestLedger::with_records(3);
    let mut seg = t.segment_file();
    let n = seg.frames[2].len();
    seg.frames[2][n - 1] ^= 0xff; // break the CRC of entry 2
    seg.write();
    let before = std::fs::read(&seg.path).expect("segment");
    let (code, report) = t.verify(&[]);
    assert_finding(code, &report, "framing", 2);
    // With its index, opening resumes after the last entry the index knows (today without a rescan,
    // so it succeeds; refusing would be fine too). Either way nothing may be quarantined.
    let r = run(t.cmd(&["head"]));
    assert!(r.code == 0 || r.code == 2, "{r:?}");
    assert!(quarantined(&t).is_empty());
    // Without it, opening must rescan the log, meets the damage and refuses, pointing at verify.
    std::fs::remove_dir_all(t.dir.join("index")).expect("remove index/");
    let r = run(t.cmd(&["head"]));
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("custody verify"), "the error points at verify: {}", r.stderr);
    assert!(quarantined(&t).is_empty());
    assert_eq!(std::fs::read(&seg.path).expect("segment"), before, "nothing was cut away");
}

/// A complete last frame whose checksum fails looks torn in the log alone, but the index recorded
/// that entry after its fsync, so it was acknowledged. Opening the ledger (even read-only `custody
/// head`) must not discard it as "never acknowledged": today it is moved to quarantine/, the ledger
/// shrinks by one and `custody verify` then reports INTACT (only a noted head would notice).
#[test]

fn damaged_acknowledged_last_entry_is_not_quarantined_as_torn() {
    let t = TestLedger::with_records(3);
    let noted = t.head();
    assert!(noted.starts_with("4:"));
    let mut seg = t.segment_file();
    let n = seg.frames[3].len();
    seg.frames[3][n / 2] ^= 0x01; // one bit of bitrot in the acknowledged entry 3
    seg.write();
    let r = run(t.cmd(&["head"]));
    assert!(
        r.code == 2 || r.stdout.trim() == noted,
        "entry 3 was acknowledged; it may be refused or kept, not dropped: {r:?}"
    );
    assert!(quarantined(&t).is_empty(), "an acknowledged entry was quarantined: {:?}", quarantined(&t));
}
