//! The sled index under `index/`: lookups by seq, incident, target, actor, evidence and time, the
//! stored Merkle hashes and a snapshot of the chain state. Derived data only.
//!
//! Everything here can be rebuilt from `log/` (`custody reindex`), a stale index is caught up on open,
//! and verification never reads it. sled's `flush` is not an fsync (sled issue #1452), so nothing in
//! this module is ever the only copy of evidence. Identifier values (target, actor, evidence IDs) are
//! stored only as keyed blake3 digests under a random per-index key, never as values: erasing a value
//! from the log then leaves nothing of it in sled's own files, whose old pages sled may keep for a
//! while.

use std::path::Path;

use crate::chain::ChainState;
use crate::entry::Hash;
use crate::log::FrameLoc;

/// Index errors.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("index database: {0} (it can be rebuilt from the log with `custody reindex`)")]
    Sled(#[from] sled::Error),
    #[error("index is inconsistent: {0} (rebuild it with `custody reindex`)")]
    Corrupt(String),
}

/// Posting-list kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Posting {
    Incident = 1,
    Target = 2,
    Actor = 3,
    Evidence = 4,
    /// `submitter ‖ 0x00 ‖ request`: the entries of one idempotent request.
    Request = 5,
}

/// Where an entry is and what the index knows of it without reading the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Loc {
    pub frame: FrameLoc,
    pub hash: Hash,
    /// occurred_at, or the ledger time when the record has none (control entries: ledger time).
    pub event_time: i64,
}

impl Loc {
    fn encode(&self) -> [u8; 60] {
        let mut b = [0u8; 60];
        b[..8].copy_from_slice(&self.frame.segment.to_be_bytes());
        b[8..16].copy_from_slice(&self.frame.offset.to_be_bytes());
        b[16..20].copy_from_slice(&self.frame.len.to_be_bytes());
        b[20..52].copy_from_slice(&self.hash);
        b[52..60].copy_from_slice(&self.event_time.to_be_bytes());
        b
    }

    fn decode(b: &[u8]) -> Result<Self, IndexError> {
        if b.len() != 60 {
            return Err(IndexError::Corrupt(format!("location record of {} bytes", b.len())));
        }
        let u64at = |i: usize| u64::from_be_bytes(b[i..i + 8].try_into().unwrap_or([0; 8]));
        let mut hash = [0u8; 32];
        hash.copy_from_slice(&b[20..52]);
        Ok(Loc {
            frame: FrameLoc {
                segment: u64at(0),
                offset: u64at(8),
                len: u32::from_be_bytes(b[16..20].try_into().unwrap_or([0; 4])),
            },
            hash,
            event_time: u64at(52) as i64,
        })
    }
}

/// What one entry adds to the index.
pub struct IndexEntry {
    pub seq: u64,
    pub loc: Loc,
    pub postings: Vec<(Posting, Vec<u8>)>,
    pub incident_head: Option<(String, Hash)>,
    pub merkle: Vec<(u64, Hash)>,
}

/// The sled database and its trees.
pub struct Index {
    db: sled::Db,
    loc: sled::Tree,
    post: sled::Tree,
    time: sled::Tree,
    merkle: sled::Tree,
    ihead: sled::Tree,
    meta: sled::Tree,
    hkey: [u8; 32],
}

const META_STATE: &[u8] = b"state";
const META_HKEY: &[u8] = b"hkey";
const META_FORMAT: &[u8] = b"index-format";
const INDEX_FORMAT: &[u8] = b"1";

impl Index {
    /// Opens (or creates) the index at `dir`.
    pub fn open(dir: &Path) -> Result<Self, IndexError> {
        // The index is derived and never relied on for durability: sled's background flush runs
        // every 5 s instead of its default 500 ms (measured: about one pwrite + sync_file_range per
        // append otherwise). What a crash loses, the next open catches up from the log.
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(64 << 20)
            .mode(sled::Mode::HighThroughput)
            .flush_every_ms(Some(5_000))
            .open()?;
        let meta = db.open_tree("meta")?;
        if let Some(f) = meta.get(META_FORMAT)? {
            if f.as_ref() != INDEX_FORMAT {
                return Err(IndexError::Corrupt("unknown index format".into()));
            }
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
        Ok(Index {
            loc: db.open_tree("loc")?,
            post: db.open_tree("post")?,
            time: db.open_tree("time")?,
            merkle: db.open_tree("merkle")?,
            ihead: db.open_tree("ihead")?,
            meta,
            db,
            hkey,
        })
    }

    /// Removes every derived record (before a rebuild).
    pub fn clear(&self) -> Result<(), IndexError> {
        for t in [&self.loc, &self.post, &self.time, &self.merkle, &self.ihead] {
            t.clear()?;
        }
        self.meta.remove(META_STATE)?;
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

    fn posting_key(&self, kind: Posting, value: &[u8], seq: u64) -> [u8; 25] {
        let mut k = [0u8; 25];
        k[0] = kind as u8;
        k[1..17].copy_from_slice(&self.digest(kind, value));
        k[17..].copy_from_slice(&seq.to_be_bytes());
        k
    }

    /// Records a run of entries (one sled batch per tree) and then the state snapshot.
    pub fn add(&self, entries: &[IndexEntry], state: &ChainState) -> Result<(), IndexError> {
        let (mut loc, mut post, mut time, mut merkle, mut ihead) = (
            sled::Batch::default(),
            sled::Batch::default(),
            sled::Batch::default(),
            sled::Batch::default(),
            sled::Batch::default(),
        );
        for e in entries {
            loc.insert(&e.seq.to_be_bytes(), &e.loc.encode()[..]);
            for (kind, value) in &e.postings {
                post.insert(&self.posting_key(*kind, value, e.seq), &[]);
            }
            let mut tk = [0u8; 16];
            tk[..8].copy_from_slice(&(e.loc.event_time as u64).to_be_bytes());
            tk[8..].copy_from_slice(&e.seq.to_be_bytes());
            time.insert(&tk, &[]);
            for (i, h) in &e.merkle {
                merkle.insert(&i.to_be_bytes(), h);
            }
            if let Some((incident, hash)) = &e.incident_head {
                let mut v = [0u8; 40];
                v[..8].copy_from_slice(&e.seq.to_be_bytes());
                v[8..].copy_from_slice(hash);
                ihead.insert(incident.as_bytes(), &v[..]);
            }
        }
        self.loc.apply_batch(loc)?;
        self.post.apply_batch(post)?;
        self.time.apply_batch(time)?;
        self.merkle.apply_batch(merkle)?;
        self.ihead.apply_batch(ihead)?;
        self.save_state(state)
    }

    /// Saves the chain state snapshot (without incident heads, which live in their own tree).
    pub fn save_state(&self, state: &ChainState) -> Result<(), IndexError> {
        let json = serde_json::to_vec(state).map_err(|e| IndexError::Corrupt(e.to_string()))?;
        self.meta.insert(META_STATE, json)?;
        Ok(())
    }

    /// Loads the snapshot and the incident heads, if the index has them.
    pub fn load_state(&self) -> Result<Option<ChainState>, IndexError> {
        let Some(b) = self.meta.get(META_STATE)? else {
            return Ok(None);
        };
        let mut st: ChainState =
            serde_json::from_slice(&b).map_err(|e| IndexError::Corrupt(format!("state snapshot: {e}")))?;
        for kv in self.ihead.iter() {
            let (k, v) = kv?;
            if v.len() != 40 {
                return Err(IndexError::Corrupt("incident head record".into()));
            }
            let seq = u64::from_be_bytes(v[..8].try_into().unwrap_or([0; 8]));
            let mut h = [0u8; 32];
            h.copy_from_slice(&v[8..]);
            st.incidents.insert(String::from_utf8_lossy(&k).into_owned(), (seq, h));
        }
        st.parse_keys();
        Ok(Some(st))
    }

    pub fn loc(&self, seq: u64) -> Result<Option<Loc>, IndexError> {
        self.loc.get(seq.to_be_bytes())?.map(|v| Loc::decode(&v)).transpose()
    }

    /// Replaces an entry's location (after a segment rewrite).
    pub fn set_loc(&self, seq: u64, loc: Loc) -> Result<(), IndexError> {
        self.loc.insert(seq.to_be_bytes(), &loc.encode()[..])?;
        Ok(())
    }

    /// Seqs in a posting list, in order.
    pub fn postings(&self, kind: Posting, value: &[u8]) -> impl Iterator<Item = Result<u64, IndexError>> {
        let mut prefix = [0u8; 17];
        prefix[0] = kind as u8;
        prefix[1..].copy_from_slice(&self.digest(kind, value));
        self.post.scan_prefix(prefix).map(|kv| {
            let (k, _) = kv?;
            Ok(u64::from_be_bytes(k[17..25].try_into().map_err(|_| IndexError::Corrupt("posting key".into()))?))
        })
    }

    /// Removes postings of a value for one entry (erasure).
    pub fn remove_posting(&self, kind: Posting, value: &[u8], seq: u64) -> Result<(), IndexError> {
        self.post.remove(self.posting_key(kind, value, seq))?;
        Ok(())
    }

    /// Seqs whose event time is within `[since, until]`, in event-time order.
    pub fn by_time(&self, since: Option<i64>, until: Option<i64>) -> impl Iterator<Item = Result<u64, IndexError>> {
        let lo = (since.unwrap_or(0).max(0) as u64).to_be_bytes();
        let hi = until.map(|u| {
            let mut k = [0xffu8; 16];
            k[..8].copy_from_slice(&(u.max(0) as u64).to_be_bytes());
            k
        });
        let iter = match hi {
            Some(hi) => self.time.range(lo.to_vec()..=hi.to_vec()),
            None => self.time.range(lo.to_vec()..),
        };
        iter.map(|kv| {
            let (k, _) = kv?;
            Ok(u64::from_be_bytes(k[8..16].try_into().map_err(|_| IndexError::Corrupt("time key".into()))?))
        })
    }

    /// Stored Merkle hashes by index.
    pub fn merkle_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, IndexError> {
        indexes
            .iter()
            .map(|i| {
                let v = self
                    .merkle
                    .get(i.to_be_bytes())?
                    .ok_or_else(|| IndexError::Corrupt(format!("stored Merkle hash {i} is missing")))?;
                v.as_ref().try_into().map_err(|_| IndexError::Corrupt(format!("stored Merkle hash {i}")))
            })
            .collect()
    }

    /// Writes sled's buffers out (best effort; never relied on for durability).
    pub fn flush(&self) {
        let _ = self.db.flush();
    }
}
