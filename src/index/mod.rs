//! The index under `index/`: lookups by seq, incident, target, actor, evidence and time, the
//! stored Merkle hashes and a snapshot of the chain state. Derived data only.
//!
//! Everything here can be rebuilt from `log/` (`custody reindex`), a stale index is caught up on open,
//! and verification never reads it. Nothing in this module is ever the only copy of evidence, and
//! nothing here is fsync'd on the append path.
//!
//! Three kinds of storage, each for what it does best:
//! - flat files for what is dense and append-only: `loc.bin` (one 60-byte location record per seq,
//!   at `seq * 60`) and `merkle.bin` (the tlog-ordered stored Merkle hashes, 32 bytes each, at
//!   `index * 32`). One `pwrite` each per batch, one `pread` per lookup.
//! - sled for what is sparse and keyed: posting lists of values that recur (incident, actor), the
//!   time index, incident heads, and the state snapshot. A posting list is stored in
//!   chunks, one per (value, batch): a batch of a thousand entries of one incident costs one sled
//!   insert, not a thousand.
//! - posting runs (`runs/`, see [`runs`]) for values that are mostly new in each batch (targets,
//!   evidence keys, service request keys): sorted, immutable files merged as they grow, so that a
//!   million of them cost neither a million sled inserts nor sled's memory for a million keys.
//!
//! Identifier values are stored only as keyed blake3 digests under a random per-index key, never as
//! values: erasing a value from the log then leaves nothing of it in sled's own files, whose old
//! pages sled may keep for a while.
//!
//! The snapshot holds the chain state and the Merkle frontier (the roots of the complete subtrees at
//! the head). On open, the frontier is compared with `merkle.bin` and the last location record with
//! the head hash; any disagreement (the flat files and sled reach the disk at different times after a
//! power cut) makes the ledger rebuild the index from the log rather than trust it.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::chain::ChainState;
use crate::entry::Hash;
use crate::log::FrameLoc;
use crate::merkle;

mod runs;
use runs::{Key, Runs};

/// Index errors.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("index database: {0} (it can be rebuilt from the log with `custody reindex`)")]
    Sled(#[from] sled::Error),
    #[error("index file {path}: {source} (it can be rebuilt from the log with `custody reindex`)")]
    Io { path: String, source: std::io::Error },
    #[error("index is inconsistent: {0} (rebuild it with `custody reindex`)")]
    Corrupt(String),
    /// The indexer thread could not put what it was handed into sled.
    #[error("index database: the indexer failed: {0} (it can be rebuilt from the log with `custody reindex`)")]
    Indexer(String),
}

/// Posting-list kinds. Target, evidence and request postings live in runs, the others in sled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Posting {
    Incident = 1,
    Target = 2,
    Actor = 3,
    Evidence = 4,
    /// `submitter ‖ 0x00 ‖ request`: the entries of one idempotent request.
    Request = 5,
}

/// Whether a posting key (its first byte is the kind) belongs in the runs rather than sled: the
/// kinds whose values are mostly new in each batch. Incidents and actors recur from batch to batch,
/// and a sled chunk per (value, batch) suits them.
fn in_runs(key: &Key) -> bool {
    [Posting::Target, Posting::Evidence, Posting::Request].iter().any(|k| key[0] == *k as u8)
}

/// Where an entry is and what the index knows of it without reading the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Loc {
    pub frame: FrameLoc,
    pub hash: Hash,
    /// occurred_at, or the ledger time when the record has none (control entries: ledger time).
    pub event_time: i64,
}

const LOC_BYTES: usize = 60;

impl Loc {
    fn encode(&self) -> [u8; LOC_BYTES] {
        let mut b = [0u8; LOC_BYTES];
        b[..8].copy_from_slice(&self.frame.segment.to_be_bytes());
        b[8..16].copy_from_slice(&self.frame.offset.to_be_bytes());
        b[16..20].copy_from_slice(&self.frame.len.to_be_bytes());
        b[20..52].copy_from_slice(&self.hash);
        b[52..60].copy_from_slice(&self.event_time.to_be_bytes());
        b
    }

    fn decode(b: &[u8; LOC_BYTES]) -> Self {
        let u64at = |i: usize| u64::from_be_bytes(b[i..i + 8].try_into().unwrap_or([0; 8]));
        let mut hash = [0u8; 32];
        hash.copy_from_slice(&b[20..52]);
        Loc {
            frame: FrameLoc {
                segment: u64at(0),
                offset: u64at(8),
                len: u32::from_be_bytes(b[16..20].try_into().unwrap_or([0; 4])),
            },
            hash,
            event_time: u64at(52) as i64,
        }
    }
}

/// What one entry adds to the index.
pub struct IndexEntry {
    pub seq: u64,
    pub loc: Loc,
    pub postings: Vec<(Posting, Vec<u8>)>,
    pub incident_head: Option<(String, Hash)>,
}

/// What [`Index::plan`] computed for a run of entries, for [`Index::commit`].
pub struct Planned {
    first: u64,
    locs: Vec<u8>,
    hashes: Vec<u8>,
    next: Frontier,
    post: Vec<([u8; 17], Vec<u64>)>,
    time: Vec<(u64, Vec<(u64, u64)>)>,
    ihead: Vec<(String, u64, Hash)>,
}

/// An entry's index records with the per-entry work done (digests, leaf hash), ready for
/// [`Index::add_prepared`]. Preparing needs no lock and runs in parallel with signing.
pub struct Prepared {
    pub seq: u64,
    /// Filled in once the entry's place in the log is known.
    pub loc: Loc,
    leaf: Hash,
    postings: Vec<[u8; 17]>,
    incident_head: Option<(String, Hash)>,
}

/// The roots of the complete subtrees of the tree of `size` leaves, largest (leftmost) first: one
/// per set bit of `size`. Appending a leaf needs nothing else, and folding them gives the root.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Frontier {
    size: u64,
    hashes: Vec<Hash>,
}

impl Frontier {
    /// Adds leaf `size` (its RFC 6962 leaf hash) and pushes the hashes it stores (the leaf hash,
    /// then each complete subtree it closes, bottom-up: storage order) onto `out`.
    fn push(&mut self, leaf: Hash, out: &mut Vec<u8>) {
        let mut h = leaf;
        out.extend_from_slice(&h);
        for _ in 0..self.size.trailing_ones() {
            let left = self.hashes.pop().unwrap_or_default();
            h = merkle::node_hash(&left, &h);
            out.extend_from_slice(&h);
        }
        self.hashes.push(h);
        self.size += 1;
    }

    fn root(&self) -> Hash {
        let mut it = self.hashes.iter().rev();
        match it.next() {
            None => merkle::EMPTY_TREE_HASH,
            Some(h) => it.fold(*h, |acc, left| merkle::node_hash(left, &acc)),
        }
    }

    /// Where each frontier hash lives in `merkle.bin`.
    fn stored_indexes(&self) -> Vec<u64> {
        let mut lo = 0u64;
        let mut out = Vec::with_capacity(self.hashes.len());
        for level in (0..64u32).rev().filter(|l| self.size >> l & 1 == 1) {
            out.push(merkle::stored_hash_index(level, lo >> level));
            lo += 1 << level;
        }
        out
    }

    fn encode(&self) -> Vec<u8> {
        let mut b = self.size.to_be_bytes().to_vec();
        for h in &self.hashes {
            b.extend_from_slice(h);
        }
        b
    }

    fn decode(b: &[u8]) -> Option<Self> {
        let size = u64::from_be_bytes(b.get(..8)?.try_into().ok()?);
        let rest = &b[8..];
        if !rest.len().is_multiple_of(32)
            || rest.len() / 32 != size.count_ones() as usize
            || size > merkle::MAX_TREE_SIZE
        {
            return None;
        }
        let hashes = rest.chunks_exact(32).map(|c| c.try_into().unwrap_or([0; 32])).collect();
        Some(Frontier { size, hashes })
    }
}

/// A flat file of fixed-size records, written with `pwrite` and read with `pread`.
struct Flat {
    path: PathBuf,
    file: File,
}

impl Flat {
    fn open(path: PathBuf) -> Result<Self, IndexError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|source| IndexError::Io { path: path.display().to_string(), source })?;
        Ok(Flat { path, file })
    }

    fn err(&self) -> impl FnOnce(std::io::Error) -> IndexError + '_ {
        move |source| IndexError::Io { path: self.path.display().to_string(), source }
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> Result<(), IndexError> {
        self.file.write_all_at(buf, offset).map_err(self.err())
    }

    /// Reads `buf.len()` bytes at `offset`; false when the file is shorter.
    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<bool, IndexError> {
        match self.file.read_exact_at(buf, offset) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(false),
            Err(e) => Err(self.err()(e)),
        }
    }

    fn truncate(&self, len: u64) -> Result<(), IndexError> {
        self.file.set_len(len).map_err(self.err())
    }

    fn sync(&self) -> Result<(), IndexError> {
        self.file.sync_data().map_err(self.err())
    }
}

/// The index: flat files and the sled database.
pub struct Index {
    db: sled::Db,
    post: sled::Tree,
    time: sled::Tree,
    ihead: sled::Tree,
    meta: sled::Tree,
    hkey: [u8; 32],
    loc: Flat,
    merkle: Flat,
    frontier: Mutex<Frontier>,
    /// When the snapshot was last saved.
    saved_at: Mutex<Instant>,
    /// What was handed to the indexer thread and is not in sled or the runs yet.
    pending: Arc<(Mutex<Pending>, Condvar)>,
    runs: Arc<Runs>,
    /// The indexer thread's queue and handle (taken on drop).
    indexer: Mutex<Option<(SyncSender<Work>, JoinHandle<()>)>>,
}

/// The part of one [`Index::add_prepared`] for the indexer thread: posting chunks (for sled, or for
/// the next run), time chunks and incident heads, grouped; and the snapshot to write once they are
/// in, when one is due.
struct Work {
    post: Vec<([u8; 17], Vec<u64>)>,
    time: Vec<(u64, Vec<(u64, u64)>)>,
    ihead: Vec<(String, u64, Hash)>,
    snapshot: Option<Snapshot>,
    /// The number of entries indexed once this work is in.
    size: u64,
}

/// The snapshot, encoded: the Merkle frontier and the chain state (JSON, without incident heads,
/// which live in their own tree).
struct Snapshot {
    frontier: Vec<u8>,
    state: Vec<u8>,
}

impl Snapshot {
    /// `None` when the index fell behind the log (an earlier failure): the old snapshot stays, and
    /// the next open catches up from it.
    fn of(frontier: &Frontier, state: &ChainState) -> Result<Option<Snapshot>, IndexError> {
        if frontier.size != state.next_seq {
            return Ok(None);
        }
        let json = serde_json::to_vec(state).map_err(|e| IndexError::Corrupt(e.to_string()))?;
        Ok(Some(Snapshot { frontier: frontier.encode(), state: json }))
    }

    fn put(&self, meta: &sled::Tree) -> Result<(), sled::Error> {
        meta.insert(META_FRONTIER, &self.frontier[..])?;
        meta.insert(META_STATE, &self.state[..])?;
        Ok(())
    }
}

/// Postings and times handed to the indexer thread and not yet in sled or the runs. Reads look here
/// first, then in sled and the runs: the indexer removes an item only after storing it, so every
/// item is always in one of them (or briefly in two; reads deduplicate).
#[derive(Default)]
struct Pending {
    post: HashMap<[u8; 17], VecDeque<u64>>,
    time: VecDeque<(u64, u64)>,
    /// Run postings the indexer has taken in since the last flush, in order (each is also in
    /// `post` until the flush), and the number of entries indexed once they are.
    acc: Vec<(Key, u64)>,
    acc_size: u64,
    sent: u64,
    done: u64,
    /// The first sled error the indexer met: snapshots stop there, so the next open catches up.
    failed: Option<String>,
}

impl Pending {
    /// Drops the first `n` seqs pending under `key`: they are stored now. Items leave the pending
    /// set in the order they entered it.
    fn release(&mut self, key: &[u8; 17], n: usize) {
        if let Some(q) = self.post.get_mut(key) {
            q.drain(..n.min(q.len()));
            if q.is_empty() {
                self.post.remove(key);
            }
        }
    }
}

/// Works the indexer may have queued before an append waits for it.
const INDEXER_QUEUE: usize = 64;

/// Run postings are flushed at every snapshot, and also once this many have gathered.
const RUN_FLUSH: usize = 1 << 18;

/// Puts the run postings gathered since the last flush into a new run, and then drops them from the
/// pending set, where reads found them until now.
fn flush_runs(pending: &Mutex<Pending>, runs: &Runs) -> Result<(), IndexError> {
    let _one = runs.flushing();
    let (pairs, size) = {
        let mut p = lock(pending);
        (std::mem::take(&mut p.acc), p.acc_size)
    };
    if pairs.is_empty() && runs.covered() >= size {
        return Ok(());
    }
    if let Err(e) = runs.flush(&pairs, size) {
        // Back in front of what came since, for the next flush: the pending set still holds them,
        // and it must give them up in the order they entered it.
        let mut p = lock(pending);
        let later = std::mem::replace(&mut p.acc, pairs);
        p.acc.extend(later);
        return Err(e);
    }
    let mut counts: HashMap<Key, usize> = HashMap::new();
    for (k, _) in &pairs {
        *counts.entry(*k).or_default() += 1;
    }
    let mut p = lock(pending);
    for (k, n) in counts {
        p.release(&k, n);
    }
    Ok(())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The indexer thread: applies each work to sled in order, then drops it from the pending set.
fn indexer_loop(
    rx: Receiver<Work>,
    trees: (sled::Tree, sled::Tree, sled::Tree, sled::Tree),
    pending: Arc<(Mutex<Pending>, Condvar)>,
    runs: Arc<Runs>,
) {
    let (post, time, ihead, meta) = trees;
    for w in rx {
        let applied = (|| -> Result<(), IndexError> {
            // Plain inserts, not sled batches: a sled batch seals and writes sled's log buffer (a
            // pwrite and a sync_file_range) each time, and the index needs no atomicity across keys
            // (the snapshot, written last, says what it holds).
            for (prefix, seqs) in w.post.iter().filter(|(p, _)| !in_runs(p)) {
                let mut k = [0u8; 25];
                k[..17].copy_from_slice(prefix);
                k[17..].copy_from_slice(&seqs[0].to_be_bytes());
                post.insert(&k[..], encode_chunk(seqs))?;
            }
            for (bucket, pairs) in &w.time {
                let mut k = [0u8; 16];
                k[..8].copy_from_slice(&bucket.to_be_bytes());
                k[8..].copy_from_slice(&pairs[0].1.to_be_bytes());
                let mut v = Vec::with_capacity(pairs.len() * 16);
                for (t, s) in pairs {
                    v.extend_from_slice(&t.to_be_bytes());
                    v.extend_from_slice(&s.to_be_bytes());
                }
                time.insert(&k[..], v)?;
            }
            for (incident, seq, hash) in &w.ihead {
                let mut v = [0u8; 40];
                v[..8].copy_from_slice(&seq.to_be_bytes());
                v[8..].copy_from_slice(hash);
                ihead.insert(incident.as_bytes(), &v[..])?;
            }
            Ok(())
        })();
        let (m, cv) = &*pending;
        let mut p = lock(m);
        // Run postings go to the next flush whatever sled did, so that they leave the pending set
        // in the order they entered it.
        for (prefix, seqs) in w.post.iter().filter(|(p, _)| in_runs(p)) {
            p.acc.extend(seqs.iter().map(|s| (*prefix, *s)));
        }
        p.acc_size = w.size;
        if w.snapshot.is_some() || p.acc.len() >= RUN_FLUSH {
            drop(p);
            let flushed = flush_runs(m, &runs);
            p = lock(m);
            if let Err(e) = flushed {
                p.failed = p.failed.take().or(Some(e.to_string()));
            }
        }
        match applied {
            Ok(()) => {
                if let (Some(snapshot), None) = (&w.snapshot, &p.failed) {
                    if let Err(e) = snapshot.put(&meta) {
                        p.failed = Some(e.to_string());
                    }
                }
                for (prefix, seqs) in w.post.iter().filter(|(p, _)| !in_runs(p)) {
                    p.release(prefix, seqs.len());
                }
                let n: usize = w.time.iter().map(|(_, v)| v.len()).sum();
                let n = n.min(p.time.len());
                p.time.drain(..n);
            }
            // Left pending, so reads stay right; the snapshot stays where it was.
            Err(e) => p.failed = p.failed.take().or(Some(e.to_string())),
        }
        p.done += 1;
        cv.notify_all();
    }
}

/// The snapshot (chain state and frontier) is saved at most this often while appends run, and
/// always when the ledger closes: a crash costs at most this much catching up from the log on the
/// next open, and a busy ledger does not rewrite its state (which lists every key, hold and
/// service client) into sled for every small batch.
const SNAPSHOT_EVERY: Duration = Duration::from_millis(250);

const META_STATE: &[u8] = b"state";
const META_FRONTIER: &[u8] = b"frontier";
const META_HKEY: &[u8] = b"hkey";
const META_FORMAT: &[u8] = b"index-format";
/// 2: locations and Merkle hashes in flat files, posting lists and the time index in chunks.
/// 3: evidence and request postings in runs.
/// 4: target postings in runs too.
const INDEX_FORMAT: &[u8] = b"4";

/// Event times are grouped into buckets of 2^42 ns (about 73 minutes) in the time index.
const TIME_BUCKET_SHIFT: u32 = 42;

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn get_varint(b: &[u8], at: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *b.get(*at)?;
        *at += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// A chunk of a posting list: the seqs as ascending deltas from the key's first seq.
fn encode_chunk(seqs: &[u64]) -> Vec<u8> {
    let mut out = Vec::with_capacity(seqs.len() * 2);
    let mut prev = seqs.first().copied().unwrap_or(0);
    for s in &seqs[1.min(seqs.len())..] {
        put_varint(&mut out, s - prev);
        prev = *s;
    }
    out
}

fn decode_chunk(first: u64, v: &[u8], out: &mut Vec<u64>) -> Result<(), IndexError> {
    out.push(first);
    let (mut at, mut prev) = (0, first);
    while at < v.len() {
        let d = get_varint(v, &mut at).ok_or_else(|| IndexError::Corrupt("posting chunk".into()))?;
        prev = prev.checked_add(d).ok_or_else(|| IndexError::Corrupt("posting chunk".into()))?;
        out.push(prev);
    }
    Ok(())
}

/// Seqs collected from the pending set and sled, as an ordered iterator without repeats (a
/// catch-up after a crash can index a run again under other chunk boundaries, and an item can be
/// both pending and in sled for a moment), or the error that stopped the collection.
fn sorted_seqs(seqs: Result<Vec<u64>, IndexError>) -> impl Iterator<Item = Result<u64, IndexError>> {
    let (mut ok, err) = match seqs {
        Ok(v) => (v, None),
        Err(e) => (Vec::new(), Some(e)),
    };
    ok.sort_unstable();
    ok.dedup();
    ok.into_iter().map(Ok).chain(err.map(Err))
}

fn be_u64(b: &[u8]) -> Result<u64, IndexError> {
    b.try_into().map(u64::from_be_bytes).map_err(|_| IndexError::Corrupt("index key".into()))
}

impl Index {
    /// Opens (or creates) the index at `dir`.
    pub fn open(dir: &Path) -> Result<Self, IndexError> {
        // The index is derived and never relied on for durability: sled's background flush runs
        // every 5 s instead of its default 500 ms. What a crash loses, the next open catches up
        // from the log.
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(16 << 20)
            .mode(sled::Mode::HighThroughput)
            .flush_every_ms(Some(5_000))
            .open()?;
        let meta = db.open_tree("meta")?;
        if let Some(f) = meta.get(META_FORMAT)? {
            if f.as_ref() != INDEX_FORMAT {
                return Err(IndexError::Corrupt("index of another format".into()));
            }
        } else if db.open_tree("loc")?.first()?.is_some() {
            // An index of format 1 (no format marker at all is older still): rebuild it.
            return Err(IndexError::Corrupt("index of an older format".into()));
        } else {
            meta.insert(META_FORMAT, INDEX_FORMAT)?;
        }
        let hkey = match meta.get(META_HKEY)? {
            Some(k) if k.len() == 32 => k.as_ref().try_into().unwrap_or([0; 32]),
            _ => {
                let mut k = [0u8; 32];
                getrandom::fill(&mut k).map_err(|e| IndexError::Corrupt(format!("no random source: {e}")))?;
                meta.insert(META_HKEY, &k)?;
                k
            }
        };
        let (post, time, ihead) = (db.open_tree("post")?, db.open_tree("time")?, db.open_tree("ihead")?);
        let runs = Arc::new(Runs::open(&dir.join("runs"))?);
        let pending: Arc<(Mutex<Pending>, Condvar)> = Arc::default();
        let (tx, rx) = std::sync::mpsc::sync_channel(INDEXER_QUEUE);
        let trees = (post.clone(), time.clone(), ihead.clone(), meta.clone());
        let (p, r) = (pending.clone(), runs.clone());
        let thread = std::thread::Builder::new()
            .name("custody-indexer".into())
            .spawn(move || indexer_loop(rx, trees, p, r))
            .map_err(|e| IndexError::Io { path: dir.display().to_string(), source: e })?;
        Ok(Index {
            post,
            time,
            ihead,
            meta,
            db,
            hkey,
            loc: Flat::open(dir.join("loc.bin"))?,
            merkle: Flat::open(dir.join("merkle.bin"))?,
            frontier: Mutex::new(Frontier::default()),
            saved_at: Mutex::new(Instant::now()),
            pending,
            runs,
            indexer: Mutex::new(Some((tx, thread))),
        })
    }

    fn frontier(&self) -> std::sync::MutexGuard<'_, Frontier> {
        lock(&self.frontier)
    }

    /// Removes every derived record (before a rebuild).
    pub fn clear(&self) -> Result<(), IndexError> {
        self.wait_idle();
        {
            // Items a failed work left pending go with everything else.
            let mut p = lock(&self.pending.0);
            p.post.clear();
            p.time.clear();
            p.acc.clear();
            p.acc_size = 0;
            p.failed = None;
        }
        self.runs.clear()?;
        for t in [&self.post, &self.time, &self.ihead] {
            t.clear()?;
        }
        self.meta.remove(META_STATE)?;
        self.meta.remove(META_FRONTIER)?;
        self.loc.truncate(0)?;
        self.merkle.truncate(0)?;
        *self.frontier() = Frontier::default();
        Ok(())
    }

    fn digest(&self, kind: Posting, value: &[u8]) -> [u8; 16] {
        let mut h = blake3::Hasher::new_keyed(&self.hkey);
        h.update(&[kind as u8]);
        h.update(value);
        let mut d = [0u8; 16];
        d.copy_from_slice(&h.finalize().as_bytes()[..16]);
        d
    }

    fn posting_prefix(&self, kind: Posting, value: &[u8]) -> [u8; 17] {
        let mut k = [0u8; 17];
        k[0] = kind as u8;
        k[1..].copy_from_slice(&self.digest(kind, value));
        k
    }

    /// The per-entry work of indexing `e`.
    pub fn prepare(&self, e: &IndexEntry) -> Prepared {
        Prepared {
            seq: e.seq,
            loc: e.loc,
            leaf: merkle::leaf_hash(&e.loc.hash),
            postings: e.postings.iter().map(|(kind, value)| self.posting_prefix(*kind, value)).collect(),
            incident_head: e.incident_head.clone(),
        }
    }

    /// Records a run of consecutive entries, which must follow the last one recorded, and then the
    /// state snapshot.
    pub fn add(&self, entries: &[IndexEntry], state: &ChainState) -> Result<(), IndexError> {
        use rayon::prelude::*;
        let prepared: Vec<Prepared> = entries.par_iter().map(|e| self.prepare(e)).collect();
        self.add_prepared(prepared, state)
    }

    /// [`Index::add`] of prepared entries.
    pub fn add_prepared(&self, entries: Vec<Prepared>, state: &ChainState) -> Result<(), IndexError> {
        match self.plan(entries)? {
            Some(planned) => self.commit(planned, state),
            None => Ok(()),
        }
    }

    /// The computing half of [`Index::add_prepared`], which changes nothing: the entries' location
    /// records, the Merkle hashes they complete and the frontier after them, their postings and
    /// time entries. The ledger plans while the log's `fdatasync` runs, and commits the plan once
    /// the entries are durable (or drops it). `None` for no entries.
    pub fn plan(&self, entries: Vec<Prepared>) -> Result<Option<Planned>, IndexError> {
        let Some(first) = entries.first().map(|e| e.seq) else {
            return Ok(None);
        };
        let mut next = self.frontier().clone();
        if first != next.size || entries.iter().enumerate().any(|(i, e)| e.seq != first + i as u64) {
            return Err(IndexError::Corrupt(format!(
                "entries from {first} indexed after {} entries (not consecutive)",
                next.size
            )));
        }
        let mut locs = Vec::with_capacity(entries.len() * LOC_BYTES);
        let mut hashes = Vec::with_capacity(entries.len() * 64);
        // Postings and time entries, grouped so that each (value, batch) and each (time bucket,
        // batch) is one chunk.
        let mut post: HashMap<[u8; 17], Vec<u64>> = HashMap::new();
        let mut time: BTreeMap<u64, Vec<(u64, u64)>> = BTreeMap::new();
        let mut ihead: HashMap<String, (u64, Hash)> = HashMap::new();
        for e in entries {
            locs.extend_from_slice(&e.loc.encode());
            next.push(e.leaf, &mut hashes);
            for prefix in e.postings {
                let list = post.entry(prefix).or_default();
                if list.last() != Some(&e.seq) {
                    list.push(e.seq);
                }
            }
            let t = e.loc.event_time.max(0) as u64;
            time.entry(t >> TIME_BUCKET_SHIFT).or_default().push((t, e.seq));
            if let Some((incident, hash)) = e.incident_head {
                ihead.insert(incident, (e.seq, hash));
            }
        }
        Ok(Some(Planned {
            first,
            locs,
            hashes,
            next,
            post: post.into_iter().collect(),
            time: time.into_iter().collect(),
            ihead: ihead.into_iter().map(|(i, (s, h))| (i, s, h)).collect(),
        }))
    }

    /// The recording half of [`Index::add_prepared`]: writes a plan's flat records, moves the
    /// frontier and hands the sled part to the indexer thread. The plan must follow the last entry
    /// recorded (nothing may be recorded between planning and committing).
    pub fn commit(&self, planned: Planned, state: &ChainState) -> Result<(), IndexError> {
        let Planned { first, locs, hashes, next, post, time, ihead } = planned;
        let mut frontier = self.frontier();
        if first != frontier.size {
            return Err(IndexError::Corrupt(format!(
                "entries from {first} planned, but the index now holds {} entries",
                frontier.size
            )));
        }
        self.loc.write_at(&locs, first * LOC_BYTES as u64)?;
        self.merkle.write_at(&hashes, merkle::stored_hash_count(first) * 32)?;
        *frontier = next;
        let mut saved_at = lock(&self.saved_at);
        let snapshot = if saved_at.elapsed() >= SNAPSHOT_EVERY { Snapshot::of(&frontier, state)? } else { None };
        if snapshot.is_some() {
            *saved_at = Instant::now();
        }
        drop(saved_at);
        // The sled part goes to the indexer thread; reads see it as pending until it is in. The
        // frontier stays locked until the work is queued, so that works are queued in the order
        // their items were made pending (the indexer removes them in that order).
        let (m, _) = &*self.pending;
        {
            let mut p = lock(m);
            for (prefix, seqs) in &post {
                p.post.entry(*prefix).or_default().extend(seqs.iter().copied());
            }
            for (_, pairs) in &time {
                p.time.extend(pairs.iter().copied());
            }
            p.sent += 1;
        }
        let work = Work { post, time, ihead, snapshot, size: frontier.size };
        let tx = lock(&self.indexer).as_ref().map(|(tx, _)| tx.clone());
        let sent = tx.map(|tx| tx.send(work).is_ok()).unwrap_or(false);
        if !sent {
            let mut p = lock(m);
            p.done += 1;
            p.failed = Some("the indexer thread is gone".into());
            return Err(IndexError::Indexer("the indexer thread is gone".into()));
        }
        drop(frontier);
        Ok(())
    }

    /// Waits until the indexer thread has put everything handed to it into sled.
    pub fn wait_idle(&self) {
        let (m, cv) = &*self.pending;
        let mut p = lock(m);
        while p.done < p.sent {
            p = cv.wait(p).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Saves the snapshot now: the chain state (without incident heads, which live in their own
    /// tree) and the Merkle frontier.
    pub fn save_state(&self, state: &ChainState) -> Result<(), IndexError> {
        self.wait_idle();
        if let Some(e) = lock(&self.pending.0).failed.clone() {
            return Err(IndexError::Indexer(e));
        }
        flush_runs(&self.pending.0, &self.runs)?;
        if let Some(snapshot) = Snapshot::of(&self.frontier(), state)? {
            snapshot.put(&self.meta)?;
        }
        *lock(&self.saved_at) = Instant::now();
        Ok(())
    }

    /// Loads the snapshot and the incident heads, if the index has them and they agree with the
    /// flat files (the Merkle frontier with `merkle.bin`, the head hash with `loc.bin`).
    pub fn load_state(&self) -> Result<Option<ChainState>, IndexError> {
        let Some(b) = self.meta.get(META_STATE)? else {
            return Ok(None);
        };
        let mut st: ChainState =
            serde_json::from_slice(&b).map_err(|e| IndexError::Corrupt(format!("state snapshot: {e}")))?;
        let Some(frontier) = self.meta.get(META_FRONTIER)?.and_then(|b| Frontier::decode(&b)) else {
            return Ok(None);
        };
        // The runs must hold every posting the snapshot counts (a power cut can leave them behind).
        if frontier.size != st.next_seq || self.runs.covered() < st.next_seq {
            return Ok(None);
        }
        let stored = self.merkle_hashes(&frontier.stored_indexes());
        if !matches!(stored, Ok(ref s) if *s == frontier.hashes) {
            return Ok(None);
        }
        if st.next_seq > 0 && !matches!(self.loc(st.next_seq - 1), Ok(Some(l)) if l.hash == st.head_hash) {
            return Ok(None);
        }
        for kv in self.ihead.iter() {
            let (k, v) = kv?;
            if v.len() != 40 {
                return Err(IndexError::Corrupt("incident head record".into()));
            }
            let seq = be_u64(&v[..8])?;
            let mut h = [0u8; 32];
            h.copy_from_slice(&v[8..]);
            st.incidents.insert(String::from_utf8_lossy(&k).into_owned(), (seq, h));
        }
        st.parse_keys();
        *self.frontier() = frontier;
        Ok(Some(st))
    }

    /// Cuts the flat files back to the entries the snapshot knows (after a catch-up, records of
    /// entries indexed after the last snapshot reached the disk were rewritten; nothing beyond the
    /// head may remain).
    pub fn trim(&self) -> Result<(), IndexError> {
        let size = self.frontier().size;
        self.loc.truncate(size * LOC_BYTES as u64)?;
        self.merkle.truncate(merkle::stored_hash_count(size) * 32)
    }

    /// The location record of entry `seq`, if the index has one.
    pub fn loc(&self, seq: u64) -> Result<Option<Loc>, IndexError> {
        let mut b = [0u8; LOC_BYTES];
        let Some(at) = seq.checked_mul(LOC_BYTES as u64) else { return Ok(None) };
        if !self.loc.read_at(&mut b, at)? {
            return Ok(None);
        }
        if b == [0u8; LOC_BYTES] {
            return Err(IndexError::Corrupt(format!("the location of entry {seq} is missing")));
        }
        Ok(Some(Loc::decode(&b)))
    }

    /// Replaces an entry's location (after a segment rewrite).
    pub fn set_loc(&self, seq: u64, loc: Loc) -> Result<(), IndexError> {
        self.loc.write_at(&loc.encode(), seq * LOC_BYTES as u64)
    }

    /// Seqs in a posting list, in order.
    pub fn postings(&self, kind: Posting, value: &[u8]) -> impl Iterator<Item = Result<u64, IndexError>> {
        let prefix = self.posting_prefix(kind, value);
        let seqs = (|| {
            // Pending first, then the runs or sled (see `Pending`).
            let mut out: Vec<u64> =
                lock(&self.pending.0).post.get(&prefix).map(|q| q.iter().copied().collect()).unwrap_or_default();
            if in_runs(&prefix) {
                self.runs.get(&prefix, &mut out)?;
                return Ok(out);
            }
            for kv in self.post.scan_prefix(prefix) {
                let (k, v) = kv?;
                decode_chunk(be_u64(&k[17..])?, &v, &mut out)?;
            }
            Ok(out)
        })();
        sorted_seqs(seqs)
    }

    /// Removes postings of a value for one entry (erasure).
    pub fn remove_posting(&self, kind: Posting, value: &[u8], seq: u64) -> Result<(), IndexError> {
        self.wait_idle();
        let prefix = self.posting_prefix(kind, value);
        if in_runs(&prefix) {
            flush_runs(&self.pending.0, &self.runs)?;
            return self.runs.remove(&prefix, seq);
        }
        for kv in self.post.scan_prefix(prefix) {
            let (k, v) = kv?;
            let mut seqs = Vec::new();
            decode_chunk(be_u64(&k[17..])?, &v, &mut seqs)?;
            if !seqs.contains(&seq) {
                continue;
            }
            seqs.retain(|s| *s != seq);
            self.post.remove(&k)?;
            if let Some(first) = seqs.first() {
                let mut nk = [0u8; 25];
                nk[..17].copy_from_slice(&k[..17]);
                nk[17..].copy_from_slice(&first.to_be_bytes());
                self.post.insert(&nk[..], encode_chunk(&seqs))?;
            }
        }
        Ok(())
    }

    /// Seqs whose event time is within `[since, until]`, in seq order.
    pub fn by_time(&self, since: Option<i64>, until: Option<i64>) -> impl Iterator<Item = Result<u64, IndexError>> {
        let lo = since.unwrap_or(0).max(0) as u64;
        let hi = until.map_or(u64::MAX, |u| u.max(0) as u64);
        let seqs = (|| {
            let mut out = Vec::new();
            if lo > hi {
                return Ok(out);
            }
            out.extend(lock(&self.pending.0).time.iter().filter(|(t, _)| (lo..=hi).contains(t)).map(|(_, s)| *s));
            let from = (lo >> TIME_BUCKET_SHIFT).to_be_bytes().to_vec();
            let mut to = (hi >> TIME_BUCKET_SHIFT).to_be_bytes().to_vec();
            to.extend_from_slice(&u64::MAX.to_be_bytes());
            for kv in self.time.range(from..=to) {
                let (_, v) = kv?;
                if !v.len().is_multiple_of(16) {
                    return Err(IndexError::Corrupt("time index chunk".into()));
                }
                for pair in v.chunks_exact(16) {
                    let t = be_u64(&pair[..8])?;
                    if (lo..=hi).contains(&t) {
                        out.push(be_u64(&pair[8..])?);
                    }
                }
            }
            Ok(out)
        })();
        sorted_seqs(seqs)
    }

    /// Stored Merkle hashes by index.
    pub fn merkle_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, IndexError> {
        indexes
            .iter()
            .map(|i| {
                let mut h = [0u8; 32];
                let at = i.checked_mul(32).ok_or_else(|| IndexError::Corrupt(format!("stored Merkle hash {i}")))?;
                if !self.merkle.read_at(&mut h, at)? {
                    return Err(IndexError::Corrupt(format!("stored Merkle hash {i} is missing")));
                }
                Ok(h)
            })
            .collect()
    }

    /// The number of entries indexed and the Merkle root of all of them, from the frontier kept in
    /// memory (no reads).
    pub fn head_root(&self) -> (u64, Hash) {
        let f = self.frontier();
        (f.size, f.root())
    }

    /// Writes sled's buffers out and syncs the flat files (best effort for sled, whose `flush` is
    /// not an fsync; never relied on for evidence).
    pub fn flush(&self) -> Result<(), IndexError> {
        self.wait_idle();
        let _ = self.db.flush();
        self.loc.sync()?;
        self.merkle.sync()
    }
}

impl Drop for Index {
    /// Lets the indexer thread finish what it was handed, then ends it.
    fn drop(&mut self) {
        if let Some((tx, thread)) = lock(&self.indexer).take() {
            drop(tx);
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Postings are found at once (pending), after the indexer is done (sled, or the runs for
    /// evidence), and after a reopen; each seq once, in order, across batches.
    #[test]
    fn postings_are_visible_pending_and_after_the_indexer() {
        let d = tempfile::tempdir().unwrap();
        let entry = |seq: u64, incident: &str| IndexEntry {
            seq,
            loc: Loc {
                frame: FrameLoc { segment: 0, offset: seq * 100 + 64, len: 100 },
                hash: *blake3::hash(&seq.to_be_bytes()).as_bytes(),
                event_time: 1_000_000_000 * seq as i64,
            },
            postings: vec![
                (Posting::Incident, incident.as_bytes().to_vec()),
                (Posting::Evidence, format!("cloudtrail:evt-{seq}").into_bytes()),
                (Posting::Evidence, format!("cloudtrail:shared-{}", seq % 10).into_bytes()),
            ],
            incident_head: Some((incident.to_string(), [1; 32])),
        };
        let mut st = ChainState::default();
        {
            let ix = Index::open(d.path()).unwrap();
            for b in 0..20u64 {
                let batch: Vec<IndexEntry> =
                    (b * 5..b * 5 + 5).map(|s| entry(s, if s % 2 == 0 { "INC-A" } else { "INC-B" })).collect();
                ix.add(&batch, &st).unwrap();
                let a: Vec<u64> = ix.postings(Posting::Incident, b"INC-A").collect::<Result<_, _>>().unwrap();
                let want: Vec<u64> = (0..b * 5 + 5).filter(|s| s % 2 == 0).collect();
                assert_eq!(a, want, "after batch {b}");
                let shared: Vec<u64> =
                    ix.postings(Posting::Evidence, b"cloudtrail:shared-3").collect::<Result<_, _>>().unwrap();
                assert_eq!(shared, (0..b * 5 + 5).filter(|s| s % 10 == 3).collect::<Vec<_>>(), "after batch {b}");
                if b == 10 {
                    // A flush in the middle: some postings in a run, the rest pending.
                    ix.wait_idle();
                    flush_runs(&ix.pending.0, &ix.runs).unwrap();
                }
            }
            let t: Vec<u64> = ix.by_time(Some(10_000_000_000), Some(12_000_000_000)).collect::<Result<_, _>>().unwrap();
            assert_eq!(t, vec![10, 11, 12]);
            ix.wait_idle();
            let b: Vec<u64> = ix.postings(Posting::Incident, b"INC-B").collect::<Result<_, _>>().unwrap();
            assert_eq!(b, (0..100).filter(|s| s % 2 == 1).collect::<Vec<_>>());
            let one: Vec<u64> = ix.postings(Posting::Evidence, b"cloudtrail:evt-77").collect::<Result<_, _>>().unwrap();
            assert_eq!(one, vec![77]);
            st.next_seq = 100;
            st.head_hash = *blake3::hash(&99u64.to_be_bytes()).as_bytes();
            ix.save_state(&st).unwrap();
            assert!(lock(&ix.pending.0).post.is_empty(), "a snapshot leaves nothing pending");
        }
        let ix = Index::open(d.path()).unwrap();
        let back = ix.load_state().unwrap().expect("the snapshot matches the flat files");
        assert_eq!(back.next_seq, 100);
        let b: Vec<u64> = ix.postings(Posting::Incident, b"INC-B").collect::<Result<_, _>>().unwrap();
        assert_eq!(b.len(), 50);
        assert_eq!(ix.head_root().0, 100);
        assert_eq!(ix.runs.covered(), 100, "the snapshot's postings are all in runs");
        for s in [0u64, 42, 99] {
            let got: Vec<u64> = ix
                .postings(Posting::Evidence, format!("cloudtrail:evt-{s}").as_bytes())
                .collect::<Result<_, _>>()
                .unwrap();
            assert_eq!(got, vec![s]);
        }
        let shared: Vec<u64> =
            ix.postings(Posting::Evidence, b"cloudtrail:shared-3").collect::<Result<_, _>>().unwrap();
        assert_eq!(shared, (0..100).filter(|s| s % 10 == 3).collect::<Vec<_>>());
        ix.remove_posting(Posting::Evidence, b"cloudtrail:shared-3", 53).unwrap();
        let shared: Vec<u64> =
            ix.postings(Posting::Evidence, b"cloudtrail:shared-3").collect::<Result<_, _>>().unwrap();
        assert_eq!(shared, (0..100).filter(|s| s % 10 == 3 && *s != 53).collect::<Vec<_>>());
    }

    /// A flush that fails keeps its postings pending (reads still find them) and in line for the
    /// next flush, which drains them once they are in a run.
    #[test]
    fn a_failed_flush_is_retried_by_the_next() {
        let d = tempfile::tempdir().unwrap();
        let ix = Index::open(d.path()).unwrap();
        let entry = |seq: u64| IndexEntry {
            seq,
            loc: Loc {
                frame: FrameLoc { segment: 0, offset: seq * 100 + 64, len: 100 },
                hash: *blake3::hash(&seq.to_be_bytes()).as_bytes(),
                event_time: 0,
            },
            postings: vec![(Posting::Target, format!("t-{}", seq % 3).into_bytes())],
            incident_head: None,
        };
        let st = ChainState::default();
        let find = |ix: &Index| -> Vec<u64> { ix.postings(Posting::Target, b"t-1").collect::<Result<_, _>>().unwrap() };
        ix.add(&(0..10).map(entry).collect::<Vec<_>>(), &st).unwrap();
        ix.wait_idle();
        flush_runs(&ix.pending.0, &ix.runs).unwrap();
        // The runs directory becomes a file: the next run cannot be written.
        let runs_dir = d.path().join("runs");
        std::fs::rename(&runs_dir, d.path().join("runs.away")).unwrap();
        std::fs::write(&runs_dir, b"in the way").unwrap();
        ix.add(&(10..20).map(entry).collect::<Vec<_>>(), &st).unwrap();
        ix.wait_idle();
        assert!(flush_runs(&ix.pending.0, &ix.runs).is_err());
        let want: Vec<u64> = (0..20).filter(|s| s % 3 == 1).collect();
        assert_eq!(find(&ix), want, "pending still answers");
        std::fs::remove_file(&runs_dir).unwrap();
        std::fs::rename(d.path().join("runs.away"), &runs_dir).unwrap();
        ix.add(&(20..30).map(entry).collect::<Vec<_>>(), &st).unwrap();
        ix.wait_idle();
        flush_runs(&ix.pending.0, &ix.runs).unwrap();
        assert!(lock(&ix.pending.0).post.is_empty(), "everything reached a run");
        assert_eq!(find(&ix), (0..30).filter(|s| s % 3 == 1).collect::<Vec<_>>());
        assert_eq!(ix.runs.covered(), 30);
    }

    #[test]
    fn chunks_round_trip() {
        for seqs in [vec![7u64], vec![0, 1, 2, 3], vec![5, 300, 70_000, 1 << 40]] {
            let mut out = Vec::new();
            decode_chunk(seqs[0], &encode_chunk(&seqs), &mut out).unwrap();
            assert_eq!(out, seqs);
        }
        assert!(decode_chunk(0, &[0x80], &mut Vec::new()).is_err());
    }

    #[test]
    fn frontier_matches_the_stored_tree() {
        let mut tree = merkle::MemoryHashStore::new();
        let mut f = Frontier::default();
        let mut stored = Vec::new();
        for i in 0..300u32 {
            let h = *blake3::hash(&i.to_be_bytes()).as_bytes();
            tree.append(merkle::leaf_hash(&h)).unwrap();
            f.push(merkle::leaf_hash(&h), &mut stored);
            assert_eq!(f.root(), tree.root().unwrap(), "root at size {}", i + 1);
            let all: Vec<u8> = tree.stored().concat();
            assert_eq!(stored, all, "stored hashes at size {}", i + 1);
            for (idx, h) in f.stored_indexes().iter().zip(&f.hashes) {
                assert_eq!(&tree.stored()[*idx as usize], h);
            }
            assert_eq!(Frontier::decode(&f.encode()), Some(f.clone()));
        }
    }
}
