//! The ledger: durable appends, reads and queries over one ledger directory.
//!
//! This is the only module that knows both the evidence (`log/`, see [`crate::log`]) and the derived
//! index (`index/`, see [`crate::index`]). Callers see records, entries, seqs and receipts, never file
//! handles. An append returns only after its frames are fsync'd; the index is updated afterwards and
//! caught up from the log on the next open if a crash came in between. A process holds the ledger's
//! lock file (`ledger.lock`) while it has the ledger open (sled allows one process per database);
//! another process waits for it up to [`OpenOptions::wait`]. Within a process a [`Ledger`] is shared
//! between threads (`Sync`); appends are serialised by one writer mutex.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rayon::prelude::*;
use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::chain::ChainState;
use crate::commit::{Field, Openings, RandomSalts};
use crate::entry::{seal, Body, Control, Entry, Hash, Header, SignedBody, Unsigned, FORMAT_VERSION};
use crate::index::{Index, IndexEntry, IndexError, Loc, Posting};
use crate::log::{
    self, entry_frame, list_segments, parse_frame, Appender, LogError, ScanItem, Scanner, Tail, FLAG_END_OF_BATCH,
};
use crate::merkle;
use crate::record::{limits, Record, RecordError};
use crate::sign::SecretKey;
use crate::time::Timestamp;

/// The most records one batch may hold.
pub const MAX_BATCH: usize = 10_000;

/// Errors of ledger operations. Integrity problems found by verification are not errors here;
/// they are [`crate::verify::Finding`]s.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error(transparent)]
    Log(#[from] LogError),
    #[error(transparent)]
    Index(#[from] IndexError),
    /// `index` counts from 1, as people count records in a file.
    #[error("record {index} of the batch: {problem}")]
    Record { index: usize, problem: RecordError },
    #[error("{0}")]
    Invalid(String),
    #[error(
        "key {key_id} is not an active signer of this ledger; an authorised key must add it first (`custody key add`)"
    )]
    NotAuthorized { key_id: String },
    #[error("ledger {dir} is locked by another process; waited {waited:?} (raise --wait, or send appends to one `custody serve`)")]
    Locked { dir: String, waited: Duration },
    #[error("{dir} is not a custody ledger (no log/ directory); create one with `custody init`")]
    NotALedger { dir: String },
    #[error("{dir} already exists and is not empty; `custody init` needs a new or empty directory")]
    Exists { dir: String },
    #[error("the log is damaged ({0}); run `custody verify` to locate every problem")]
    Damaged(String),
    #[error(
        "entry {seq} was acknowledged (the index recorded it after its fsync), but its frame in segment {segment} at offset \
         {offset} is damaged or gone ({problem}); nothing was changed. Run `custody verify` to locate every problem; \
         `custody reindex` rebuilds the index from the log as it is now, accepting the loss"
    )]
    AcknowledgedLost { seq: u64, segment: u64, offset: u64, problem: String },
    #[error("incident {incident} is under legal hold since entry {since} (ref {reference}); {what} is refused")]
    Held { incident: String, since: u64, reference: String, what: String },
    #[error("no entry {seq}: the ledger has {size} entries")]
    NoSuchEntry { seq: u64, size: u64 },
    #[error("{path}: {source}")]
    Io { path: String, source: io::Error },
    /// A group commit's shared write failed; nothing of it was appended and the request may be retried.
    #[error("the shared write of this group commit failed, nothing of it was appended ({0}); retry the request")]
    GroupWrite(String),
    /// A request ID that already names other records: a retry must send the same records.
    #[error(
        "request ID {request:?} was already used for different records ({why}); a retry must send the same \
         records, and a new operation needs a new request ID"
    )]
    RequestReused { request: String, why: String },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> LedgerError + '_ {
    move |source| LedgerError::Io { path: path.display().to_string(), source }
}

/// What an append returns for each entry: its place in the ledger, once durable.
#[derive(Clone, Debug, Serialize, PartialEq, Eq, serde::Deserialize)]
pub struct Receipt {
    pub seq: u64,
    pub entry_hash: String,
    pub ledger_time: String,
}

/// Who submitted a batch and under which request ID (idempotency key).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Submission {
    /// The service client (recorded in every entry's signed header).
    pub submitter: Option<String>,
    /// The request ID: a retry with the same submitter and request ID appends nothing and gets the
    /// original receipts.
    pub request: Option<String>,
}

/// What an idempotent submission did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Submitted {
    /// Appended now.
    Appended(Vec<Receipt>),
    /// Already in the ledger from an earlier try: the original receipts.
    Replayed(Vec<Receipt>),
}

impl Submitted {
    pub fn receipts(&self) -> &[Receipt] {
        match self {
            Submitted::Appended(r) | Submitted::Replayed(r) => r,
        }
    }
}

fn request_key(s: &Submission) -> Option<Vec<u8>> {
    let r = s.request.as_ref()?;
    let mut k = s.submitter.clone().unwrap_or_default().into_bytes();
    k.push(0);
    k.extend_from_slice(r.as_bytes());
    Some(k)
}

/// No submitter, no request ID (entries written by the ledger's own key holder).
static NO_SUBMISSION: Submission = Submission { submitter: None, request: None };

/// Whether two records say the same: equal but for the order of their refs (stored sorted).
fn same_record(a: &Record, b: &Record) -> bool {
    let normal = |r: &Record| {
        let mut r = r.clone();
        r.refs.sort_unstable();
        r
    };
    normal(a) == normal(b)
}

/// What every submission must satisfy before its records are looked at: the batch size, and the
/// submitter and request ID as text.
fn check_shape(sub: &Submission, records: usize) -> Result<(), LedgerError> {
    if records > MAX_BATCH {
        return Err(LedgerError::Invalid(format!("a batch holds at most {MAX_BATCH} records; this one has {records}")));
    }
    for (what, v) in [("submitter", &sub.submitter), ("request ID", &sub.request)] {
        if let Some(s) = v {
            crate::record::check_text(what, s, limits::ID).map_err(|e| LedgerError::Invalid(e.to_string()))?;
        }
    }
    Ok(())
}

/// The checks [`Ledger::submit_many`] makes of one request before the shared write, and its sealed
/// bodies. `before` is the ledger size before the call: refs must name entries below it.
fn check_request(sub: &Submission, records: &[Record], before: u64) -> Result<Vec<(Body, Openings)>, LedgerError> {
    check_shape(sub, records.len())?;
    records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            r.validate(before).map_err(|problem| LedgerError::Record { index: i + 1, problem })?;
            let (c, o) = seal(r, None, &mut RandomSalts);
            Ok((Body::Change(c), o))
        })
        .collect()
}

/// The ledger's size and the hash of its last entry.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Head {
    pub size: u64,
    pub head_hash: String,
}

/// How to open a ledger.
#[derive(Clone, Debug)]
pub struct OpenOptions {
    /// How long to wait for another process's lock.
    pub wait: Duration,
    /// Ignore the index and rebuild it from the log (`custody reindex`), accepting the log as it is.
    pub rebuild_index: bool,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions { wait: Duration::from_secs(30), rebuild_index: false }
    }
}

/// What opening the ledger had to repair.
#[derive(Clone, Debug, Default, Serialize)]
pub struct OpenReport {
    /// Torn tails moved to `quarantine/` (never acknowledged).
    pub quarantined: Vec<String>,
    /// The index was missing, stale beyond repair or corrupt and was rebuilt from the log.
    pub rebuilt_index: bool,
    /// Entries the index had not seen yet and caught up on.
    pub caught_up: u64,
    /// Why the index was thrown away, when sled could not use its own files.
    pub index_problem: Option<String>,
}

/// Selects entries.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub incident: Option<String>,
    pub target: Option<String>,
    pub actor: Option<String>,
    /// Event time (occurred_at, else ledger time) at or after.
    pub since: Option<Timestamp>,
    /// Event time at or before.
    pub until: Option<Timestamp>,
}

impl Filter {
    pub fn is_empty(&self) -> bool {
        self.incident.is_none()
            && self.target.is_none()
            && self.actor.is_none()
            && self.since.is_none()
            && self.until.is_none()
    }

    /// Whether an entry matches every criterion (values are compared with what the log holds).
    pub fn matches(&self, e: &Entry) -> bool {
        let event_time = event_time(e);
        if self.since.is_some_and(|s| event_time < s.nanos()) || self.until.is_some_and(|u| event_time > u.nanos()) {
            return false;
        }
        let c = e.change();
        if let Some(i) = &self.incident {
            if c.map(|c| &c.incident) != Some(i) {
                return false;
            }
        }
        for (want, f) in [(&self.target, Field::TargetId), (&self.actor, Field::ActorId)] {
            if let Some(w) = want {
                if c.is_none() || e.openings.value(f) != Some(w.as_bytes()) {
                    return false;
                }
            }
        }
        true
    }
}

/// An entry's event time in nanoseconds: occurred_at, else the ledger time.
pub fn event_time(e: &Entry) -> i64 {
    e.change().and_then(|c| c.occurred_at).unwrap_or(e.header().ledger_time).nanos()
}

pub(crate) struct Writer {
    pub(crate) state: ChainState,
    pub(crate) appender: Appender,
}

/// An open ledger.
pub struct Ledger {
    dir: PathBuf,
    index: Index,
    writer: Mutex<Writer>,
    files: Mutex<HashMap<u64, Arc<File>>>,
    rebuild_index: bool,
    _lock: File,
}

impl Drop for Ledger {
    /// Leaves an up-to-date index snapshot behind, so that the next open has nothing to catch up.
    fn drop(&mut self) {
        let w = self.writer.get_mut().unwrap_or_else(|p| p.into_inner());
        if w.state.next_seq > 0 {
            let _ = self.index.save_state(&w.state);
        }
    }
}

fn lock(dir: &Path, wait: Duration) -> Result<File, LedgerError> {
    let path = dir.join("ledger.lock");
    let f = fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path).map_err(io_err(&path))?;
    let start = Instant::now();
    loop {
        match f.try_lock() {
            Ok(()) => return Ok(f),
            Err(fs::TryLockError::WouldBlock) => {
                if start.elapsed() >= wait {
                    return Err(LedgerError::Locked { dir: dir.display().to_string(), waited: wait });
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(fs::TryLockError::Error(e)) => {
                return Err(LedgerError::Io { path: path.display().to_string(), source: e })
            }
        }
    }
}

/// Below this many records, a batch's steps run on the caller's thread: handing a few entries to
/// the thread pool (waking its threads) costs more than the work.
const PAR_MIN: usize = 16;

/// Maps each item of a batch (with its index) through `f`, on the thread pool when the batch has at
/// least [`PAR_MIN`] items; stops at an error.
fn map_batch<T: Send, R: Send>(
    items: Vec<T>,
    f: impl Fn((usize, T)) -> Result<R, LedgerError> + Sync + Send,
) -> Result<Vec<R>, LedgerError> {
    if items.len() < PAR_MIN {
        items.into_iter().enumerate().map(f).collect()
    } else {
        items.into_par_iter().enumerate().map(f).collect()
    }
}

/// At most this many entries are linked per task in [`Ledger::write_for`]: linking one is a blake3
/// of its bytes, signing it an ed25519 signature, about 30 times longer; signing starts after the
/// first chunk.
const LINK_CHUNK: usize = 32;

/// An entry of a batch on its way from encoded to signed (in place, in one vector: no allocation).
#[allow(clippy::large_enum_variant)]
enum Slot {
    Unsigned(Unsigned),
    Taken,
    Signed(Entry, Vec<u8>, crate::index::Prepared, Receipt),
}

/// Index records for one entry.
fn index_entry(e: &Entry, loc: log::FrameLoc) -> IndexEntry {
    let mut postings = Vec::new();
    let h = e.header();
    if let Some(k) = request_key(&Submission { submitter: h.submitter.clone(), request: h.request.clone() }) {
        postings.push((Posting::Request, k));
    }
    let mut incident_head = None;
    if let Some(c) = e.change() {
        postings.push((Posting::Incident, c.incident.as_bytes().to_vec()));
        incident_head = Some((c.incident.clone(), e.hash));
        if let Some(v) = e.openings.value(Field::TargetId) {
            postings.push((Posting::Target, v.to_vec()));
        }
        if let Some(v) = e.openings.value(Field::ActorId) {
            postings.push((Posting::Actor, v.to_vec()));
        }
        if let Some(Some(crate::entry::Shown::Value(ev))) = Some(c.evidence(&e.openings)) {
            for k in evidence_keys(&ev) {
                postings.push((Posting::Evidence, k.into_bytes()));
            }
        }
    }
    IndexEntry {
        seq: e.seq(),
        loc: Loc { frame: loc, hash: e.hash, event_time: event_time(e) },
        postings,
        incident_head,
    }
}

/// The keys under which evidence is recognised again (importers' idempotence): `system:id` and
/// `system:digest`.
pub fn evidence_keys(ev: &[crate::record::Evidence]) -> Vec<String> {
    let mut keys = Vec::new();
    for e in ev {
        if let Some(id) = &e.id {
            keys.push(format!("{}:{}", e.system, id));
        }
        if let Some(d) = &e.digest {
            keys.push(format!("{}:{}", e.system, d));
        }
    }
    keys
}

impl Ledger {
    /// Creates a ledger in `dir` (new or empty) whose genesis entry names it and authorises `key`.
    pub fn init(dir: &Path, key: &SecretKey, name: &str) -> Result<(Ledger, Receipt), LedgerError> {
        crate::record::check_text("ledger name", name, limits::ID).map_err(|e| LedgerError::Invalid(e.to_string()))?;
        if dir.exists() && fs::read_dir(dir).map_err(io_err(dir))?.next().is_some() {
            return Err(LedgerError::Exists { dir: dir.display().to_string() });
        }
        fs::create_dir_all(dir.join("log")).map_err(io_err(dir))?;
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            log::sync_dir(parent)?;
        }
        log::sync_dir(dir)?;
        let lockf = lock(dir, Duration::ZERO)?;
        let mut ledger_id = [0u8; 16];
        getrandom::fill(&mut ledger_id).map_err(|e| LedgerError::Invalid(format!("no random source: {e}")))?;
        let mut appender = Appender::create(&dir.join("log"), ledger_id)?;
        let pk = key.public();
        let header = Header {
            version: FORMAT_VERSION,
            ledger_id,
            seq: 0,
            ledger_time: Timestamp::now(),
            prev_hash: [0; 32],
            key_id: pk.key_id(),
            submitter: None,
            request: None,
        };
        let body = Body::Control(Control::LedgerInit { name: name.to_string(), public_key: pk.to_bytes() });
        let e = Unsigned::new(SignedBody { header, body }, Openings::default()).sign(key);
        let locs = appender.append(0, &[entry_frame(FLAG_END_OF_BATCH, &e)])?;
        let index = Index::open(&dir.join("index"))?;
        index.clear()?;
        let mut state = ChainState::default();
        state.apply(&e);
        index.add(&[index_entry(&e, locs[0])], &state)?;
        index.save_state(&state)?;
        let receipt = receipt(&e);
        Ok((
            Ledger {
                dir: dir.to_path_buf(),
                index,
                writer: Mutex::new(Writer { state, appender }),
                files: Mutex::new(HashMap::new()),
                rebuild_index: false,
                _lock: lockf,
            },
            receipt,
        ))
    }

    /// Opens an existing ledger: takes the lock, quarantines a torn tail, and brings the index up to
    /// date with the log (catching up, or rebuilding it when it is missing or does not match).
    pub fn open(dir: &Path, opts: &OpenOptions) -> Result<(Ledger, OpenReport), LedgerError> {
        match Self::open_once(dir, opts) {
            // sled opened but could not read or write its own files (seen after a power cut: sled
            // has open crash-consistency bugs). The index is derived data: start it over from the
            // log, as if it had been deleted.
            Err(LedgerError::Index(e @ (IndexError::Sled(_) | IndexError::Io { .. } | IndexError::Indexer(_)))) => {
                let index_dir = dir.join("index");
                fs::remove_dir_all(&index_dir).map_err(io_err(&index_dir))?;
                let (ledger, mut report) = Self::open_once(dir, opts)?;
                report.rebuilt_index = true;
                report.index_problem = Some(e.to_string());
                Ok((ledger, report))
            }
            other => other,
        }
    }

    fn open_once(dir: &Path, opts: &OpenOptions) -> Result<(Ledger, OpenReport), LedgerError> {
        let log_dir = dir.join("log");
        if !log_dir.is_dir() {
            return Err(LedgerError::NotALedger { dir: dir.display().to_string() });
        }
        let lockf = lock(dir, opts.wait)?;
        let mut report = OpenReport::default();
        let index_dir = dir.join("index");
        let index = match Index::open(&index_dir) {
            Ok(i) => i,
            Err(_) => {
                // A corrupt index is derived data: throw it away and rebuild.
                fs::remove_dir_all(&index_dir).map_err(io_err(&index_dir))?;
                report.rebuilt_index = true;
                Index::open(&index_dir)?
            }
        };
        let ledger = Ledger {
            dir: dir.to_path_buf(),
            index,
            // Placeholder writer; replaced by `recover`.
            writer: Mutex::new(Writer {
                state: ChainState::default(),
                appender: Appender::open(&log_dir, [0; 16], 0, 0).or_else(|_| dummy_appender(&log_dir))?,
            }),
            files: Mutex::new(HashMap::new()),
            rebuild_index: opts.rebuild_index,
            _lock: lockf,
        };
        ledger.recover(&mut report)?;
        Ok((ledger, report))
    }

    fn recover(&self, report: &mut OpenReport) -> Result<(), LedgerError> {
        let log_dir = self.dir.join("log");
        // Where to resume: after the last entry the index knows. The index records an entry only
        // after its fsync, so that entry was acknowledged: if the log no longer holds it intact, the
        // log lost evidence, and opening refuses rather than quietly continuing (which would reuse
        // its seq). `custody reindex` (rebuild_index) is the operator's explicit decision.
        // A redaction interrupted after its segment rewrite leaves stale offsets in the index: rebuild.
        let redaction_pending = log_dir.join("redaction.pending").exists();
        let saved = if self.rebuild_index || redaction_pending { None } else { self.index.load_state().ok().flatten() };
        let mut state = None;
        if let Some(s) = saved.as_ref().filter(|s| s.next_seq > 0) {
            let seq = s.next_seq - 1;
            if let Some(loc) = self.index.loc(seq)?.filter(|l| l.hash == s.head_hash) {
                let problem = match self.read_at(loc.frame) {
                    Ok(e) if e.hash == s.head_hash => {
                        state = Some((s.clone(), loc));
                        None
                    }
                    Ok(_) => Some("holds a different entry".to_string()),
                    Err(LedgerError::Damaged(why)) => Some(why),
                    Err(err) => Some(err.to_string()),
                };
                // The index's offsets can be stale (a segment rewritten by erasure after sled last
                // wrote them out): the entry is lost only if the log no longer holds it anywhere.
                if let Some(problem) = problem {
                    if !log_holds(&log_dir, seq, &s.head_hash)? {
                        return Err(acknowledged_lost(seq, loc, &problem));
                    }
                }
            }
        }
        if state.is_none() {
            report.rebuilt_index = true;
            self.index.clear()?;
        }
        let segments = list_segments(&log_dir)?;
        if segments.is_empty() {
            return Err(LedgerError::Damaged("log/ holds no segment files".into()));
        }
        let (mut st, mut scanner) = match state.take() {
            Some((s, loc)) => {
                let from: Vec<_> = segments.iter().filter(|(seq, _)| *seq >= loc.frame.segment).cloned().collect();
                let mut sc = Scanner::over(from);
                sc.seek(loc.frame.offset + loc.frame.len as u64)?;
                (s, sc)
            }
            None => (ChainState::default(), Scanner::over(segments.clone())),
        };
        let mut batch: Vec<(Entry, log::FrameLoc)> = Vec::new();
        let mut caught = 0u64;
        for item in scanner.by_ref() {
            match item? {
                ScanItem::Frame(f) => {
                    let e = Entry::decode(&f.signed, f.signature, &f.openings).map_err(|err| {
                        LedgerError::Damaged(format!("segment {} offset {}: {err}", f.loc.segment, f.loc.offset))
                    })?;
                    batch.push((e, f.loc));
                    if batch.len() >= 4096 {
                        caught += self.index_run(&mut st, std::mem::take(&mut batch))?;
                    }
                }
                ScanItem::Damage { segment, offset, problem, .. } => {
                    return Err(LedgerError::Damaged(format!("segment {segment} offset {offset}: {problem}")));
                }
                ScanItem::BadSegment { path, problem, .. } => {
                    return Err(LedgerError::Damaged(format!("{}: {problem}", path.display())));
                }
            }
        }
        caught += self.index_run(&mut st, batch)?;
        let torn = scanner.tail().clone();
        drop(scanner);
        if let Tail::Torn { path, offset, .. } = torn {
            let q = log::quarantine_tail(&path, offset, &self.dir.join("quarantine"))?;
            report.quarantined.push(q.display().to_string());
        }
        if !report.rebuilt_index {
            report.caught_up = caught;
        }
        if st.next_seq == 0 {
            return Err(LedgerError::Damaged("the log holds no entries, not even the genesis entry".into()));
        }
        let segments = list_segments(&log_dir)?;
        let (active, path) = segments.last().cloned().ok_or_else(|| LedgerError::Damaged("no segments".into()))?;
        let len = fs::metadata(&path).map_err(io_err(&path))?.len();
        let ledger_id = st.ledger_id.unwrap_or_default();
        let appender = Appender::open(&log_dir, ledger_id, active, len)?;
        self.index.save_state(&st)?;
        self.index.trim()?;
        *self.writer_lock() = Writer { state: st, appender };
        self.finish_pending_redaction()?;
        Ok(())
    }

    /// Applies and indexes a run of entries read back from the log.
    fn index_run(&self, st: &mut ChainState, run: Vec<(Entry, log::FrameLoc)>) -> Result<u64, LedgerError> {
        if run.is_empty() {
            return Ok(0);
        }
        let first = run[0].0.seq();
        if first != st.next_seq {
            return Err(LedgerError::Damaged(format!(
                "expected entry {} next in the log, found {first}; run `custody verify`",
                st.next_seq
            )));
        }
        let mut entries = Vec::with_capacity(run.len());
        for (e, loc) in &run {
            st.apply(e);
            entries.push(index_entry(e, *loc));
        }
        self.index.add(&entries, st)?;
        Ok(run.len() as u64)
    }

    pub(crate) fn writer_lock(&self) -> MutexGuard<'_, Writer> {
        // A panic while holding the writer cannot leave the log half-written (appends cut back on
        // error), so a poisoned lock is safe to take over.
        self.writer.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The ledger directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A copy of the chain state at the head (keys, holds, clients, incident heads).
    pub fn state(&self) -> ChainState {
        self.writer_lock().state.clone()
    }

    /// The ledger's size and head hash.
    pub fn head(&self) -> Head {
        let w = self.writer_lock();
        Head { size: w.state.next_seq, head_hash: hex::encode(w.state.head_hash) }
    }

    /// Appends one record durably.
    pub fn append(&self, key: &SecretKey, record: Record, submitter: Option<&str>) -> Result<Receipt, LedgerError> {
        Ok(self.append_batch(key, vec![record], submitter)?.remove(0))
    }

    /// Appends records all-or-nothing with one fsync: validates all, seals in parallel, chains in
    /// order, signs in parallel, writes, syncs, and only then returns receipts.
    pub fn append_batch(
        &self,
        key: &SecretKey,
        records: Vec<Record>,
        submitter: Option<&str>,
    ) -> Result<Vec<Receipt>, LedgerError> {
        let sub = Submission { submitter: submitter.map(str::to_owned), request: None };
        Ok(self.submit(key, records, &sub)?.receipts().to_vec())
    }

    /// Appends a batch for a submitter, idempotently when a request ID is given: if the ledger
    /// already holds entries of this (submitter, request ID), nothing is appended and their
    /// receipts are returned. The check and the append happen under one lock.
    pub fn submit(&self, key: &SecretKey, records: Vec<Record>, sub: &Submission) -> Result<Submitted, LedgerError> {
        if records.is_empty() {
            return Ok(Submitted::Appended(Vec::new()));
        }
        check_shape(sub, records.len())?;
        let mut w = self.writer_lock();
        if let Some(receipts) = self.replay(w.state.next_seq, sub, &records)? {
            return Ok(Submitted::Replayed(receipts));
        }
        let next = w.state.next_seq;
        // One pass (parallel for a large batch): validate, seal, and free each record.
        let check = |(i, r): (usize, Record)| {
            r.validate(next + i as u64).map_err(|problem| LedgerError::Record { index: i + 1, problem })?;
            let (c, o) = seal(&r, None, &mut RandomSalts);
            Ok((Body::Change(c), o))
        };
        let bodies = map_batch(records, check)?;
        Ok(Submitted::Appended(self.write(&mut w, key, bodies, sub)?))
    }

    /// Group commit: appends the records of many requests with one write and one fsync. Each request
    /// is checked on its own first (record rules, refs to entries that existed before the call, and
    /// its (submitter, request ID) against the ledger and against the requests before it in this
    /// call); a request that fails gets its own error and takes no part in the write, and a retried
    /// request gets its original receipts. All others are appended together, in order, each entry
    /// keeping its own request's submitter and request ID. Results come back in request order, only
    /// once the shared write is durable; if that write fails, every request in it fails and nothing
    /// of it was appended.
    pub fn submit_many(
        &self,
        key: &SecretKey,
        requests: Vec<(Submission, Vec<Record>)>,
    ) -> Vec<Result<Submitted, LedgerError>> {
        enum Plan {
            Done(Result<Submitted, LedgerError>),
            /// Appended in the shared write: bodies `at..at + len`.
            Write(usize, usize),
            /// The same (submitter, request ID) as an earlier request of this call.
            Again(usize, usize),
        }
        let before = self.head().size;
        // Validate and seal outside the writer lock: refs must name entries that existed before the
        // call, which stays true whatever seq each record gets.
        // The lookups for earlier tries of each request too: they hold if nothing was appended
        // between `before` and taking the lock (with one writer, the service's case), and are made
        // again under the lock otherwise.
        let check = |(sub, records): &(Submission, Vec<Record>)| {
            (check_request(sub, records, before), self.replay(before, sub, records))
        };
        #[allow(clippy::type_complexity)]
        let checked: Vec<(
            Result<Vec<(Body, Openings)>, LedgerError>,
            Result<Option<Vec<Receipt>>, LedgerError>,
        )> = if requests.iter().map(|(_, r)| r.len()).sum::<usize>() < PAR_MIN {
            requests.iter().map(check).collect()
        } else {
            requests.par_iter().map(check).collect()
        };
        let mut w = self.writer_lock();
        let prechecked = w.state.next_seq == before;
        let mut plans = Vec::with_capacity(requests.len());
        let mut bodies = Vec::new();
        let mut subs: Vec<(&Submission, usize)> = Vec::new();
        // Request keys of this call: where their bodies are, and which request brought them.
        let mut seen: HashMap<Vec<u8>, (usize, usize, usize)> = HashMap::new();
        for (r, ((sub, records), (checked, earlier))) in requests.iter().zip(checked).enumerate() {
            let sealed = match checked {
                Ok(sealed) if sealed.is_empty() => {
                    plans.push(Plan::Done(Ok(Submitted::Appended(Vec::new()))));
                    continue;
                }
                Ok(sealed) => sealed,
                Err(e) => {
                    plans.push(Plan::Done(Err(e)));
                    continue;
                }
            };
            let span = (bodies.len(), sealed.len());
            if let Some(k) = request_key(sub) {
                if let Some((at, len, first)) = seen.get(&k) {
                    let (_, same) = &requests[*first];
                    let plan =
                        if same.len() == records.len() && same.iter().zip(records).all(|(a, b)| same_record(a, b)) {
                            Plan::Again(*at, *len)
                        } else {
                            Plan::Done(Err(LedgerError::RequestReused {
                                request: sub.request.clone().unwrap_or_default(),
                                why: format!("request {} of this group used it for other records", first + 1),
                            }))
                        };
                    plans.push(plan);
                    continue;
                }
                let earlier = if prechecked { earlier } else { self.replay(w.state.next_seq, sub, records) };
                match earlier {
                    Ok(None) => {}
                    other => {
                        plans.push(Plan::Done(other.map(|r| Submitted::Replayed(r.unwrap_or_default()))));
                        continue;
                    }
                }
                seen.insert(k, (span.0, span.1, r));
            }
            plans.push(Plan::Write(span.0, span.1));
            subs.push((sub, sealed.len()));
            bodies.extend(sealed);
        }
        let written = if bodies.is_empty() { Ok(Vec::new()) } else { self.write_for(&mut w, key, bodies, &subs) };
        drop(w);
        let receipts = |at: usize, len: usize| -> Result<Vec<Receipt>, LedgerError> {
            match &written {
                Ok(r) => Ok(r[at..at + len].to_vec()),
                Err(e) => Err(LedgerError::GroupWrite(e.to_string())),
            }
        };
        plans
            .into_iter()
            .map(|p| match p {
                Plan::Done(r) => r,
                Plan::Write(at, len) => receipts(at, len).map(Submitted::Appended),
                Plan::Again(at, len) => receipts(at, len).map(Submitted::Replayed),
            })
            .collect()
    }

    /// The receipts of an earlier request with this request key, if the ledger holds one, and only
    /// if it holds the same records: a request ID that names other records is refused
    /// ([`LedgerError::RequestReused`]), never answered with receipts for something else. A field
    /// of the earlier records that was redacted since cannot be compared and is taken as equal.
    fn replay(&self, size: u64, sub: &Submission, records: &[Record]) -> Result<Option<Vec<Receipt>>, LedgerError> {
        let Some(k) = request_key(sub) else { return Ok(None) };
        let seqs: Vec<u64> = self.index.postings(Posting::Request, &k).collect::<Result<_, _>>()?;
        if seqs.is_empty() {
            return Ok(None);
        }
        let reused = |why: String| LedgerError::RequestReused { request: sub.request.clone().unwrap_or_default(), why };
        if seqs.len() != records.len() {
            return Err(reused(format!("{} records then, {} now", seqs.len(), records.len())));
        }
        let mut receipts = Vec::with_capacity(seqs.len());
        for (i, (s, new)) in seqs.into_iter().zip(records).enumerate() {
            let loc = self.index.loc(s)?.ok_or(LedgerError::NoSuchEntry { seq: s, size })?;
            let e = self.read_at(loc.frame)?;
            if let Some(old) = e.change().and_then(|c| c.to_record(&e.openings, None)) {
                if !same_record(&old, new) {
                    return Err(reused(format!("record {} differs from entry {s}", i + 1)));
                }
            }
            receipts.push(receipt(&e));
        }
        Ok(Some(receipts))
    }

    /// How long the last append's `fdatasync` took (for the service's metrics).
    pub fn last_sync(&self) -> Duration {
        self.writer_lock().appender.last_sync()
    }

    /// Appends one control statement (key, redaction, hold, client) after checking it against the
    /// chain rules.
    pub fn append_control(&self, key: &SecretKey, control: Control) -> Result<Receipt, LedgerError> {
        self.append_control_by(key, control, &Submission::default())
    }

    /// [`Ledger::append_control`] on behalf of a service client, who is recorded as its submitter
    /// (an admin registering or removing a client).
    pub fn append_control_by(
        &self,
        key: &SecretKey,
        control: Control,
        sub: &Submission,
    ) -> Result<Receipt, LedgerError> {
        let mut w = self.writer_lock();
        w.state.check_control(w.state.next_seq, &control).map_err(LedgerError::Invalid)?;
        Ok(self.write(&mut w, key, vec![(Body::Control(control), Openings::default())], sub)?.remove(0))
    }

    /// Runs `f` with the writer held, so that a check and the append that depends on it are atomic
    /// (holds and redactions).
    pub fn with_state<T>(&self, f: impl FnOnce(&ChainState) -> T) -> T {
        f(&self.writer_lock().state)
    }

    pub(crate) fn write(
        &self,
        w: &mut Writer,
        key: &SecretKey,
        bodies: Vec<(Body, Openings)>,
        sub: &Submission,
    ) -> Result<Vec<Receipt>, LedgerError> {
        let n = bodies.len();
        self.write_for(w, key, bodies, &[(sub, n)])
    }

    /// [`Ledger::write`] for bodies of several submissions: `subs` gives each run of consecutive
    /// bodies its submission and length, so every entry's header names its own request.
    fn write_for(
        &self,
        w: &mut Writer,
        key: &SecretKey,
        bodies: Vec<(Body, Openings)>,
        subs: &[(&Submission, usize)],
    ) -> Result<Vec<Receipt>, LedgerError> {
        let kid = key.public().key_id();
        if w.state.active_key(&kid).is_none() {
            return Err(LedgerError::NotAuthorized { key_id: hex::encode(kid) });
        }
        let n = bodies.len();
        if n == 0 {
            return Ok(Vec::new());
        }
        let next = w.state.next_seq;
        let now = Timestamp::now();
        let time = w.state.last_time.map_or(now, |t| t.max(now));
        let ledger_id = w.state.ledger_id.unwrap_or_default();
        let per_body: Vec<&Submission> = subs.iter().flat_map(|(s, n)| std::iter::repeat_n(*s, *n)).collect();
        // 1. Which earlier entry of the batch each entry's incident link points to (its seq is known
        //    now, its hash only once linked).
        let deps: Vec<Option<usize>> = {
            let mut last: HashMap<&str, usize> = HashMap::new();
            bodies
                .iter()
                .enumerate()
                .map(|(i, (body, _))| match body {
                    Body::Change(c) => last.insert(c.incident.as_str(), i),
                    Body::Control(_) => None,
                })
                .collect()
        };
        // 2. Encode every entry (in parallel for a large batch), with its hash links left blank.
        let st = &w.state;
        let encode = |(i, (mut body, openings)): (usize, (Body, Openings))| {
            if let Body::Change(c) = &mut body {
                c.incident_prev = match deps[i] {
                    Some(j) => Some((next + j as u64, [0; 32])),
                    None => st.incidents.get(&c.incident).copied(),
                };
            }
            let sub = per_body.get(i).copied().unwrap_or(&NO_SUBMISSION);
            let header = Header {
                version: FORMAT_VERSION,
                ledger_id,
                seq: next + i as u64,
                ledger_time: time,
                prev_hash: [0; 32],
                key_id: kid,
                submitter: sub.submitter.clone(),
                request: sub.request.clone(),
            };
            let u = Unsigned::unlinked(SignedBody { header, body }, openings);
            if u.bytes.len() > limits::ENTRY_BYTES {
                return Err(LedgerError::Invalid(format!(
                    "entry {i} of the batch encodes to {} bytes; the limit is {}",
                    u.bytes.len(),
                    limits::ENTRY_BYTES
                )));
            }
            Ok(Slot::Unsigned(u))
        };
        let mut slots = map_batch(bodies, encode)?;
        // 3. Link in order (each hash covers the one before) on one thread, while the others sign,
        //    frame and prepare the index records of the chunks already linked.
        let index = &self.index;
        let head = w.state.head_hash;
        // Small enough chunks that every thread gets some of a small batch to sign.
        let chunk_len = (n / (4 * rayon::current_num_threads())).clamp(1, LINK_CHUNK);
        let sign_chunk = |c: usize, chunk: &mut [Slot]| {
            // Every slot of a linked chunk is unsigned: the entries line up with the slots.
            let mut unsigned = Vec::with_capacity(chunk.len());
            for slot in chunk.iter_mut() {
                if let Slot::Unsigned(u) = std::mem::replace(slot, Slot::Taken) {
                    unsigned.push(u);
                }
            }
            for (k, (slot, e)) in chunk.iter_mut().zip(Unsigned::sign_batch(unsigned, key)).enumerate() {
                let flags = if c * chunk_len + k == n - 1 { FLAG_END_OF_BATCH } else { 0 };
                let frame = entry_frame(flags, &e);
                let prepared = index.prepare(&index_entry(&e, log::FrameLoc { segment: 0, offset: 0, len: 0 }));
                let r = receipt(&e);
                *slot = Slot::Signed(e, frame, prepared, r);
            }
        };
        let mut hashes: Vec<Hash> = Vec::with_capacity(n);
        let mut prev = head;
        let mut link_chunk = |c: usize, chunk: &mut [Slot]| {
            for (k, slot) in chunk.iter_mut().enumerate() {
                if let Slot::Unsigned(u) = slot {
                    u.link(&prev, deps[c * chunk_len + k].map(|j| &hashes[j]));
                    prev = u.hash;
                    hashes.push(u.hash);
                }
            }
        };
        if n < PAR_MIN {
            for (c, chunk) in slots.chunks_mut(chunk_len).enumerate() {
                link_chunk(c, chunk);
                sign_chunk(c, chunk);
            }
        } else {
            rayon::scope(|s| {
                for (c, chunk) in slots.chunks_mut(chunk_len).enumerate() {
                    link_chunk(c, chunk);
                    s.spawn(move |_| sign_chunk(c, chunk));
                }
            });
        }
        let mut entries = Vec::with_capacity(n);
        let mut frames = Vec::with_capacity(n);
        let mut prepared = Vec::with_capacity(n);
        let mut receipts = Vec::with_capacity(n);
        for slot in slots {
            let Slot::Signed(e, f, p, r) = slot else {
                return Err(LedgerError::Invalid("an entry of the batch was not signed".into()));
            };
            entries.push(e);
            frames.push(f);
            prepared.push(p);
            receipts.push(r);
        }
        // 4. Write, then fsync: durable from there on. While a large batch syncs, the index plans
        //    its records (which changes nothing until committed).
        let written = w.appender.write(next, &frames)?;
        for (p, l) in prepared.iter_mut().zip(written.locs()) {
            p.loc.frame = *l;
        }
        let (synced, planned) = if n < PAR_MIN {
            (w.appender.sync(written), self.index.plan(prepared))
        } else {
            let appender = &mut w.appender;
            rayon::join(|| appender.sync(written), || self.index.plan(prepared))
        };
        synced?;
        // 5. The index follows; if it fails, the next open catches it up.
        for e in &entries {
            w.state.apply(e);
        }
        if let Ok(Some(planned)) = planned {
            let _ = self.index.commit(planned, &w.state);
        }
        // A large batch's memory is freed on the pool, off the caller's path.
        if n >= PAR_MIN {
            rayon::spawn(move || drop((entries, frames)));
        }
        Ok(receipts)
    }

    fn file(&self, segment: u64) -> Result<Arc<File>, LedgerError> {
        let mut files = self.files.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(f) = files.get(&segment) {
            return Ok(f.clone());
        }
        let path = self.dir.join("log").join(log::segment_name(segment));
        let f = Arc::new(File::open(&path).map_err(io_err(&path))?);
        files.insert(segment, f.clone());
        Ok(f)
    }

    /// Forgets cached segment handles (after a segment was rewritten).
    pub(crate) fn drop_file_cache(&self) {
        self.files.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    pub(crate) fn read_at(&self, loc: log::FrameLoc) -> Result<Entry, LedgerError> {
        let f = self.file(loc.segment)?;
        let mut buf = vec![0u8; loc.len as usize];
        f.read_exact_at(&mut buf, loc.offset)
            .map_err(|e| LedgerError::Damaged(format!("segment {} offset {}: {e}", loc.segment, loc.offset)))?;
        let (_, signed, sig, openings, _) = parse_frame(&buf)
            .map_err(|p| LedgerError::Damaged(format!("segment {} offset {}: {p}", loc.segment, loc.offset)))?;
        Entry::decode(&signed, sig, &openings)
            .map_err(|e| LedgerError::Damaged(format!("segment {} offset {}: {e}", loc.segment, loc.offset)))
    }

    /// The entry with this seq, read from the log.
    pub fn get(&self, seq: u64) -> Result<Entry, LedgerError> {
        let size = self.head().size;
        let loc = self.index.loc(seq)?.filter(|_| seq < size).ok_or(LedgerError::NoSuchEntry { seq, size })?;
        let e = self.read_at(loc.frame)?;
        if e.seq() != seq || e.hash != loc.hash {
            return Err(LedgerError::Index(IndexError::Corrupt(format!("entry {seq} is not where the index says"))));
        }
        Ok(e)
    }

    /// The index's location record for an entry.
    pub(crate) fn loc(&self, seq: u64) -> Result<Option<Loc>, LedgerError> {
        Ok(self.index.loc(seq)?)
    }

    pub(crate) fn index(&self) -> &Index {
        &self.index
    }

    /// The seqs of the entries that match, in seq order. Uses a posting list or the time index when
    /// the filter allows, so that selecting k entries costs about O(k log n), not a scan.
    pub fn select(&self, f: &Filter) -> Result<Vec<u64>, LedgerError> {
        let size = self.head().size;
        let candidates: Vec<u64> = if let Some(i) = &f.incident {
            self.index.postings(Posting::Incident, i.as_bytes()).collect::<Result<_, _>>()?
        } else if let Some(t) = &f.target {
            self.index.postings(Posting::Target, t.as_bytes()).collect::<Result<_, _>>()?
        } else if let Some(a) = &f.actor {
            self.index.postings(Posting::Actor, a.as_bytes()).collect::<Result<_, _>>()?
        } else if f.since.is_some() || f.until.is_some() {
            let mut v: Vec<u64> =
                self.index.by_time(f.since.map(|t| t.nanos()), f.until.map(|t| t.nanos())).collect::<Result<_, _>>()?;
            v.sort_unstable();
            v
        } else {
            (0..size).collect()
        };
        let mut out = Vec::with_capacity(candidates.len());
        for seq in candidates.into_iter().filter(|s| *s < size) {
            if f.is_empty() || f.matches(&self.get(seq)?) {
                out.push(seq);
            }
        }
        Ok(out)
    }

    /// The entries that match, read from the log, in seq order.
    pub fn query<'a>(
        &'a self,
        f: &Filter,
    ) -> Result<impl Iterator<Item = Result<Entry, LedgerError>> + 'a, LedgerError> {
        let seqs = self.select(f)?;
        Ok(seqs.into_iter().map(move |s| self.get(s)))
    }

    /// Whether any entry already carries this evidence key (`system:id` or `system:digest`).
    pub fn has_evidence(&self, key: &str) -> Result<bool, LedgerError> {
        Ok(self.index.postings(Posting::Evidence, key.as_bytes()).next().transpose()?.is_some())
    }

    /// How many entries carry this evidence key (importers: how many records of one source event
    /// the ledger already holds).
    pub fn evidence_count(&self, key: &str) -> Result<u64, LedgerError> {
        let mut n = 0;
        for seq in self.index.postings(Posting::Evidence, key.as_bytes()) {
            seq?;
            n += 1;
        }
        Ok(n)
    }

    /// Rebuilds `index/` from `log/`.
    pub fn reindex(&self) -> Result<u64, LedgerError> {
        let w = self.writer_lock();
        self.index.clear()?;
        let mut st = ChainState::default();
        let mut batch = Vec::new();
        for item in Scanner::open(&self.dir.join("log"))? {
            match item? {
                ScanItem::Frame(f) => {
                    let e = Entry::decode(&f.signed, f.signature, &f.openings)
                        .map_err(|err| LedgerError::Damaged(err.to_string()))?;
                    batch.push((e, f.loc));
                    if batch.len() >= 4096 {
                        self.index_run(&mut st, std::mem::take(&mut batch))?;
                    }
                }
                ScanItem::Damage { segment, offset, problem, .. } => {
                    return Err(LedgerError::Damaged(format!("segment {segment} offset {offset}: {problem}")))
                }
                ScanItem::BadSegment { path, problem, .. } => {
                    return Err(LedgerError::Damaged(format!("{}: {problem}", path.display())))
                }
            }
        }
        self.index_run(&mut st, batch)?;
        drop(w);
        let n = st.next_seq;
        self.writer_lock().state = st;
        self.index.save_state(&self.writer_lock().state)?;
        self.index.trim()?;
        self.index.flush()?;
        Ok(n)
    }

    /// Describes a redaction entry for display beside the fields it erased.
    pub fn describe_redaction(&self, seq: u64) -> Map<String, Value> {
        let mut m = Map::new();
        if let Ok(e) = self.get(seq) {
            if let Some(Control::Redact { reason, authority, mode, .. }) = e.control() {
                m.insert("reason".into(), json!(reason));
                m.insert("authority".into(), json!(authority));
                m.insert("mode".into(), json!(mode.as_str()));
            }
        }
        m
    }

    /// The JSON view of an entry with redacted fields described.
    pub fn entry_json(&self, e: &Entry) -> Value {
        entry_json(e, &|s| self.describe_redaction(s))
    }

    /// Tree root of the first `size` entries (RFC 6962 over entry hashes).
    pub fn tree_root(&self, size: u64) -> Result<Hash, LedgerError> {
        let head = self.head().size;
        if size > head {
            return Err(LedgerError::Invalid(format!(
                "the ledger has {head} entries; there is no tree of size {size}"
            )));
        }
        let (indexed, root) = self.index.head_root();
        if indexed == size {
            return Ok(root);
        }
        merkle::tree_hash(size, &self.merkle_reader())
            .map_err(|e| LedgerError::Index(IndexError::Corrupt(e.to_string())))
    }

    /// A reader over the stored Merkle hashes, for proofs.
    pub fn merkle_reader(&self) -> impl merkle::HashReader + '_ {
        IndexHashes(&self.index)
    }
}

struct IndexHashes<'a>(&'a Index);

impl merkle::HashReader for IndexHashes<'_> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, merkle::MerkleError> {
        self.0.merkle_hashes(indexes).map_err(|e| merkle::MerkleError::Storage(Box::new(e)))
    }
}

/// Whether the log holds entry `seq` with this hash (a read-only scan; only used when the index's
/// location for it turned out wrong).
fn log_holds(log_dir: &Path, seq: u64, hash: &Hash) -> Result<bool, LedgerError> {
    for item in Scanner::open(log_dir)? {
        if let ScanItem::Frame(f) = item? {
            if f.signed.len() > 25
                && f.signed[17..25] == seq.to_be_bytes()
                && crate::entry::entry_hash(&f.signed) == *hash
            {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

fn acknowledged_lost(seq: u64, loc: Loc, what: &str) -> LedgerError {
    LedgerError::AcknowledgedLost {
        seq,
        segment: loc.frame.segment,
        offset: loc.frame.offset,
        problem: what.to_string(),
    }
}

fn dummy_appender(log_dir: &Path) -> Result<Appender, LedgerError> {
    // Only used as a placeholder before recovery picks the real active segment.
    let segments = list_segments(log_dir)?;
    let (seq, _) =
        segments.first().cloned().ok_or_else(|| LedgerError::Damaged("log/ holds no segment files".into()))?;
    Ok(Appender::open(log_dir, [0; 16], seq, 0)?)
}

fn receipt(e: &Entry) -> Receipt {
    Receipt { seq: e.seq(), entry_hash: hex::encode(e.hash), ledger_time: e.header().ledger_time.to_rfc3339() }
}

/// The JSON view of an entry: header facts, then `record` (with redactions described by `describe`)
/// or `control`.
pub fn entry_json(e: &Entry, describe: &dyn Fn(u64) -> Map<String, Value>) -> Value {
    let h = e.header();
    let mut m = Map::new();
    m.insert("seq".into(), json!(h.seq));
    m.insert("entry_hash".into(), json!(hex::encode(e.hash)));
    m.insert("ledger_time".into(), json!(h.ledger_time.to_rfc3339()));
    m.insert("prev_hash".into(), json!(hex::encode(h.prev_hash)));
    m.insert("key_id".into(), json!(hex::encode(h.key_id)));
    m.insert("signature".into(), json!(hex::encode(e.signature)));
    if let Some(s) = &h.submitter {
        m.insert("submitter".into(), json!(s));
    }
    if let Some(r) = &h.request {
        m.insert("request".into(), json!(r));
    }
    m.insert("action".into(), json!(e.action_name()));
    match &e.signed.body {
        Body::Change(c) => {
            if let Some((s, hh)) = c.incident_prev {
                m.insert("incident_prev".into(), json!({"seq": s, "entry_hash": hex::encode(hh)}));
            }
            m.insert("record".into(), c.to_json(&e.openings, describe));
        }
        Body::Control(c) => {
            m.insert("control".into(), c.to_json());
        }
    }
    Value::Object(m)
}
