//! Shared helpers: a ledger in a temporary directory, valid records, the `custody` binary, and
//! surgery on segment files (split into frames, edit, fix the CRC, write back).
//!
//! Ledgers are built through the library (fast, and no lock is held afterwards: every `Ledger` is
//! dropped before a helper returns); what is under test is then driven through the CLI.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use assert_cmd::Command;
use serde_json::{json, Value};

use custody::commit::RandomSalts;
use custody::entry::{seal, Body, Entry, SignedBody, Unsigned};
use custody::ledger::{Ledger, OpenOptions, Receipt};
use custody::log::{entry_frame, parse_frame, FLAG_END_OF_BATCH, SEGMENT_HEADER_LEN};
use custody::record::Record;
use custody::sign::SecretKey;
use custody::time::Timestamp;

/// A valid record, varied by `i`: incident `INC-{i % 3}`, actor `actor{i % 2}@corp.example`,
/// target `target{i}@corp.example`, occurred at 2026-03-02T10:00:00Z plus `i` minutes (modulo 12
/// hours).
pub fn record(i: usize) -> Value {
    let minute = i % 60;
    let hour = 10 + (i / 60) % 12;
    json!({
        "incident": format!("INC-{}", i % 3),
        "action": "grant",
        "actor": {"id": format!("actor{}@corp.example", i % 2), "kind": "human"},
        "target": {"id": format!("target{i}@corp.example"), "kind": "human", "system": "aws-iam"},
        "scope": "arn:aws:iam::aws:policy/ReadOnlyAccess",
        "approval": {"by": "ciso@corp.example", "source": "servicenow", "ref": format!("CHG{i:05}")},
        "reason": format!("containment step {i}"),
        "outcome": {"status": "success", "detail": "granted"},
        "occurred_at": format!("2026-03-02T{hour:02}:{minute:02}:00Z"),
        "owner": "secops@corp.example",
        "evidence": [{"system": "cloudtrail", "id": format!("event-{i}")}],
        "attributes": {"playbook": "leaked-key-v3"}
    })
}

/// `record(i)` as a library [`Record`].
pub fn rec(i: usize) -> Record {
    Record::from_value(record(i)).expect("support::record builds valid records")
}

/// A `custody` command with the environment it reads cleared and a timeout, so that a hang fails
/// the test instead of stalling the run.
pub fn custody() -> Command {
    let mut c = Command::cargo_bin("custody").expect("the custody binary is built for tests");
    c.env_remove("CUSTODY_LEDGER").env_remove("CUSTODY_KEY").timeout(Duration::from_secs(60));
    c
}

/// The path of the `custody` binary, for tests that manage child processes themselves.
pub fn custody_path() -> &'static str {
    env!("CARGO_BIN_EXE_custody")
}

/// What a finished command did.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs a command to completion and captures its exit code and output.
pub fn run(mut cmd: Command) -> Run {
    let out = cmd.output().expect("custody ran");
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(!run.stderr.contains("panicked"), "custody panicked:\n{}", run.stderr);
    run
}

/// A ledger in its own temporary directory, with its genesis key file beside it.
pub struct TestLedger {
    pub tmp: tempfile::TempDir,
    pub dir: PathBuf,
    pub key_path: PathBuf,
}

impl TestLedger {
    /// A new ledger holding only its genesis entry.
    pub fn new() -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        let key_path = tmp.path().join("genesis.key");
        let key = SecretKey::generate();
        key.save_new(&key_path).expect("save key");
        let dir = tmp.path().join("ledger");
        let (l, _) = Ledger::init(&dir, &key, "test-ledger").expect("init");
        drop(l);
        TestLedger { tmp, dir, key_path }
    }

    /// A new ledger with `n` records `record(0..n)`, appended one at a time (one frame per batch).
    pub fn with_records(n: usize) -> Self {
        let t = Self::new();
        t.append_each(0..n);
        t
    }

    pub fn key(&self) -> SecretKey {
        SecretKey::load(&self.key_path).expect("load key")
    }

    pub fn open(&self) -> Ledger {
        Ledger::open(&self.dir, &OpenOptions::default()).expect("open ledger").0
    }

    /// Appends `record(i)` for each `i`, one append (one batch) each.
    pub fn append_each(&self, range: Range<usize>) -> Vec<Receipt> {
        let l = self.open();
        let key = self.key();
        range.map(|i| l.append(&key, rec(i), None).expect("append")).collect()
    }

    /// Appends `record(i)` for each `i` as one batch.
    pub fn append_batch(&self, range: Range<usize>) -> Vec<Receipt> {
        let l = self.open();
        l.append_batch(&self.key(), range.map(rec).collect(), None).expect("append batch")
    }

    /// A `custody SUB... --ledger DIR` command.
    pub fn cmd(&self, sub: &[&str]) -> Command {
        let mut c = custody();
        c.args(sub).arg("--ledger").arg(&self.dir);
        c
    }

    /// `custody head` output (`SIZE:HASH`), asserting it succeeds.
    pub fn head(&self) -> String {
        let r = run(self.cmd(&["head"]));
        assert_eq!(r.code, 0, "custody head failed: {}", r.stderr);
        r.stdout.trim().to_string()
    }

    /// `custody verify --json EXTRA...`: the exit code and the report.
    pub fn verify(&self, extra: &[&str]) -> (i32, Value) {
        let mut c = self.cmd(&["verify", "--json"]);
        c.args(extra);
        let r = run(c);
        let report: Value = serde_json::from_str(r.stdout.trim()).unwrap_or_else(|e| {
            panic!("verify printed no JSON report ({e}); exit {}\nstdout:\n{}\nstderr:\n{}", r.code, r.stdout, r.stderr)
        });
        (r.code, report)
    }

    /// `custody log --json FILTER...` as parsed entries, asserting it succeeds.
    pub fn log(&self, filter: &[&str]) -> Vec<Value> {
        let mut c = self.cmd(&["log", "--json"]);
        c.args(filter);
        let r = run(c);
        assert_eq!(r.code, 0, "custody log failed: {}", r.stderr);
        r.stdout.lines().map(|l| serde_json::from_str(l).expect("log line is JSON")).collect()
    }

    /// The newest segment file.
    pub fn segment(&self) -> PathBuf {
        let mut segs: Vec<PathBuf> = std::fs::read_dir(self.dir.join("log"))
            .expect("log dir")
            .map(|e| e.expect("dir entry").path())
            .filter(|p| p.extension().is_some_and(|x| x == "seg"))
            .collect();
        segs.sort();
        segs.pop().expect("a segment file")
    }

    pub fn segment_file(&self) -> Segment {
        Segment::read(&self.segment())
    }
}

/// Asserts that a verify run failed with exit 1 and that some finding has this kind and seq.
/// Returns that finding. Prints the whole report when it is not there.
pub fn assert_finding<'a>(code: i32, report: &'a Value, kind: &str, seq: u64) -> &'a Value {
    assert_eq!(code, 1, "verify should exit 1 (integrity failure): {report:#}");
    assert_eq!(report["intact"], false, "{report:#}");
    report["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|f| f["kind"] == kind && f["seq"] == seq)
        .unwrap_or_else(|| panic!("no `{kind}` finding at entry {seq} in {report:#}"))
}

/// Asserts a verify run was intact (exit 0) and returns its warnings.
pub fn assert_intact(code: i32, report: &Value) -> Vec<String> {
    assert_eq!(code, 0, "verify should exit 0: {report:#}");
    assert_eq!(report["intact"], true, "{report:#}");
    report["warnings"].as_array().into_iter().flatten().map(|w| w.as_str().unwrap_or_default().to_string()).collect()
}

/// A segment file split into its header and its frames (as stored bytes).
pub struct Segment {
    pub path: PathBuf,
    pub header: Vec<u8>,
    pub frames: Vec<Vec<u8>>,
}

/// Length of the frame that starts `buf`, from its length field (magic, flags, len, payload, crc).
pub fn frame_len(buf: &[u8]) -> usize {
    13 + u32::from_be_bytes([buf[5], buf[6], buf[7], buf[8]]) as usize
}

/// Splits segment bytes after the header into frame ranges. Panics on bytes that are not whole
/// frames (the helpers only split intact segments).
pub fn frame_ranges(bytes: &[u8]) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut at = SEGMENT_HEADER_LEN as usize;
    while at < bytes.len() {
        let n = frame_len(&bytes[at..]);
        assert!(at + n <= bytes.len(), "segment ends inside a frame");
        out.push(at..at + n);
        at += n;
    }
    out
}

impl Segment {
    pub fn read(path: &Path) -> Self {
        let bytes = std::fs::read(path).expect("read segment");
        let frames = frame_ranges(&bytes).into_iter().map(|r| bytes[r].to_vec()).collect();
        Segment { path: path.to_path_buf(), header: bytes[..SEGMENT_HEADER_LEN as usize].to_vec(), frames }
    }

    pub fn bytes(&self) -> Vec<u8> {
        let mut b = self.header.clone();
        for f in &self.frames {
            b.extend_from_slice(f);
        }
        b
    }

    pub fn write(&self) {
        std::fs::write(&self.path, self.bytes()).expect("write segment");
    }

    /// Byte offset of frame `i` in the file.
    pub fn offset(&self, i: usize) -> usize {
        self.header.len() + self.frames[..i].iter().map(Vec::len).sum::<usize>()
    }

    /// The entry stored in frame `i`.
    pub fn entry(&self, i: usize) -> Entry {
        decode_frame(&self.frames[i])
    }
}

/// Decodes a stored frame into its entry.
pub fn decode_frame(frame: &[u8]) -> Entry {
    let (_, signed, sig, openings, _) = parse_frame(frame).expect("a valid frame");
    Entry::decode(&signed, sig, &openings).expect("a valid entry")
}

/// Where the parts of a frame are: signed bytes, signature and openings (byte ranges in the frame).
pub struct Parts {
    pub signed: Range<usize>,
    pub signature: Range<usize>,
    pub openings: Range<usize>,
}

pub fn parts(frame: &[u8]) -> Parts {
    let slen = u32::from_be_bytes([frame[9], frame[10], frame[11], frame[12]]) as usize;
    let signed = 13..13 + slen;
    let signature = signed.end..signed.end + 64;
    let openings = signature.end..frame.len() - 4;
    Parts { signed, signature, openings }
}

/// Recomputes a frame's CRC-32 (IEEE) over flags || len || payload, as an attacker who knows the
/// format would. The CRC stays where the frame's original extent puts it.
pub fn fix_crc(frame: &mut [u8]) {
    let n = frame.len();
    let crc = crc32fast::hash(&frame[4..n - 4]);
    frame[n - 4..].copy_from_slice(&crc.to_be_bytes());
}

impl Segment {
    /// Sets the first byte of `needle` in frame `i`'s openings (a committed value, not signed bytes)
    /// to `byte` and fixes the frame's CRC, as an attacker who knows the format would; then writes
    /// the segment back.
    pub fn edit_opening(&mut self, i: usize, needle: &[u8], byte: u8) {
        let p = parts(&self.frames[i]);
        let at = find_in(&self.frames[i], p.openings, needle);
        self.frames[i][at] = byte;
        fix_crc(&mut self.frames[i]);
        self.write();
    }
}

/// The offset of `needle` in `hay` within `range`, panicking if absent.
pub fn find_in(hay: &[u8], range: Range<usize>, needle: &[u8]) -> usize {
    let start = range.start;
    hay[range]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| start + p)
        .unwrap_or_else(|| panic!("{:?} not found", String::from_utf8_lossy(needle)))
}

/// An entry that would be valid as the ledger's next entry except for its signer: a record of a new
/// incident `incident`, chained to the head, signed by `key`, framed as a batch of one. Built with
/// the library the way the ledger builds entries.
pub fn forge_next(ledger: &TestLedger, key: &SecretKey, incident: &str) -> (u64, Vec<u8>) {
    let l = ledger.open();
    let head = l.head();
    let last = l.get(head.size - 1).expect("head entry");
    let genesis = l.get(0).expect("genesis entry");
    drop(l);
    let mut r = record(0);
    r["incident"] = json!(incident);
    let record = Record::from_value(r).expect("valid record");
    let (change, openings) = seal(&record, None, &mut RandomSalts);
    let now = Timestamp::now().max(last.header().ledger_time);
    // Start from a stored header, so that this stays right when the header gains fields.
    let mut header = genesis.header().clone();
    header.seq = head.size;
    header.ledger_time = now;
    header.prev_hash = last.hash;
    header.key_id = key.public().key_id();
    let e = Unsigned::new(SignedBody { header, body: Body::Change(change) }, openings).sign(key);
    (head.size, entry_frame(FLAG_END_OF_BATCH, &e))
}

/// Appends raw bytes to a file (for forged frames and torn writes).
pub fn append_bytes(path: &Path, bytes: &[u8]) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().append(true).open(path).expect("open for append");
    f.write_all(bytes).expect("append bytes");
}

/// Truncates a file to `len` bytes.
pub fn truncate(path: &Path, len: u64) {
    std::fs::OpenOptions::new().write(true).open(path).and_then(|f| f.set_len(len)).expect("truncate");
}
