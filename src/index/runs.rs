//! Posting runs: the posting lists of values that are mostly new in each batch (targets, evidence
//! keys and service request keys), kept in sorted, immutable files under `index/runs/` instead of
//! sled.
//!
//! Most such values are posted once or a few times, so in sled each would be a key of its own, and sled keeps
//! what it has touched in memory whatever its cache size: an import of 100,000 events grew the
//! process by about 40 MB of sled nodes, and each insert cost 4-8 us. Here the postings wait in the
//! index's pending set until the next snapshot, then become one run file: the (key, seq) pairs
//! sorted, in blocks of 128 with a CRC each, and a footer with the first key of every block and a
//! Bloom filter (10 bits per pair). Runs of similar size are merged, so n postings make O(log n)
//! runs. A lookup checks each run's filter in memory (about 1.4 bytes per pair are kept in memory)
//! and reads one block of a run only where the filter says the key may be.
//!
//! Derived data, like the rest of the index. `MANIFEST` names the live runs and the ledger size up
//! to which they hold every posting; a run and then the manifest are fsync'd before the snapshot that
//! relies on them is written, so a snapshot never claims postings that a power cut took away. A
//! manifest or footer that does not check out makes the index unreadable, and the ledger rebuilds it
//! from the log.

use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use super::IndexError;

/// A posting key: the kind's byte and the value's keyed digest (see `Index::posting_prefix`).
pub(super) type Key = [u8; 17];

/// One (key, seq) pair as stored: the key, then the seq (u64, big-endian).
const PAIR: usize = 25;
/// Pairs per block; a block is followed by the CRC-32 of its pairs.
const BLOCK_PAIRS: usize = 128;
const BLOCK_BYTES: usize = BLOCK_PAIRS * PAIR + 4;
const RUN_MAGIC: &[u8; 8] = b"CSTRUN1\n";
const MANIFEST_MAGIC: &[u8; 8] = b"CSTRMF1\n";
/// pairs, blocks, bloom words (u64 each, little-endian), BLAKE3 of the footer, magic.
const TRAILER: usize = 3 * 8 + 32 + 8;
const BLOOM_BITS_PER_PAIR: u64 = 10;
const BLOOM_HASHES: u64 = 7;
/// More runs than this are merged whatever their sizes.
const MAX_RUNS: usize = 16;

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> IndexError + '_ {
    move |source| IndexError::Io { path: path.display().to_string(), source }
}

fn corrupt(path: &Path, what: &str) -> IndexError {
    IndexError::Corrupt(format!("{}: {what}", path.display()))
}

fn u64_le(b: &[u8]) -> u64 {
    u64::from_le_bytes(b.try_into().unwrap_or([0; 8]))
}

/// A Bloom filter over keys. The keys are already uniform (keyed BLAKE3 digests), so their bytes are
/// the hashes.
struct Bloom {
    words: Vec<u64>,
}

impl Bloom {
    fn for_pairs(pairs: u64) -> Self {
        Bloom { words: vec![0; (pairs * BLOOM_BITS_PER_PAIR).div_ceil(64).max(1) as usize] }
    }

    fn positions(&self, key: &Key) -> impl Iterator<Item = usize> {
        let bits = self.words.len() as u64 * 64;
        let h1 = u64_le(&key[1..9]) ^ u64::from(key[0]);
        let h2 = u64_le(&key[9..17]) | 1;
        (0..BLOOM_HASHES).map(move |i| (h1.wrapping_add(i.wrapping_mul(h2)) % bits) as usize)
    }

    fn insert(&mut self, key: &Key) {
        let pos: Vec<usize> = self.positions(key).collect();
        for p in pos {
            self.words[p / 64] |= 1 << (p % 64);
        }
    }

    fn may_contain(&self, key: &Key) -> bool {
        self.positions(key).all(|p| self.words[p / 64] & (1 << (p % 64)) != 0)
    }
}

/// One run file, its footer in memory.
struct Run {
    id: u64,
    path: PathBuf,
    file: File,
    pairs: u64,
    /// The first key of each block.
    fences: Vec<Key>,
    bloom: Bloom,
}

fn run_name(id: u64) -> String {
    format!("{id:016x}.run")
}

/// The length of block `i` of a run of `pairs` pairs, CRC included.
fn block_len(pairs: u64, i: u64) -> usize {
    let in_block = pairs.saturating_sub(i.saturating_mul(BLOCK_PAIRS as u64)).min(BLOCK_PAIRS as u64) as usize;
    in_block * PAIR + 4
}

impl Run {
    /// Writes `pairs` (sorted, without repeats; at most `capacity` of them, which sizes the Bloom
    /// filter) as run `id` in `dir`, and syncs it. The pairs stream through: a merge of large runs
    /// holds one block of each in memory.
    fn write(
        dir: &Path,
        id: u64,
        capacity: u64,
        pairs: impl Iterator<Item = Result<(Key, u64), IndexError>>,
    ) -> Result<Run, IndexError> {
        let path = dir.join(run_name(id));
        let file = OpenOptions::new().read(true).write(true).create_new(true).open(&path).map_err(io(&path))?;
        let mut w = BufWriter::with_capacity(1 << 16, &file);
        let mut bloom = Bloom::for_pairs(capacity);
        let mut fences = Vec::with_capacity(capacity.div_ceil(BLOCK_PAIRS as u64) as usize);
        let mut block = Vec::with_capacity(BLOCK_BYTES);
        let mut n = 0u64;
        let flush_block = |block: &mut Vec<u8>, w: &mut BufWriter<&File>| -> std::io::Result<()> {
            let crc = crc32fast::hash(block);
            block.extend_from_slice(&crc.to_be_bytes());
            w.write_all(block)?;
            block.clear();
            Ok(())
        };
        for pair in pairs {
            let (key, seq) = pair?;
            if n == capacity {
                return Err(corrupt(&path, "more pairs than the run was sized for"));
            }
            if n.is_multiple_of(BLOCK_PAIRS as u64) {
                if !block.is_empty() {
                    flush_block(&mut block, &mut w).map_err(io(&path))?;
                }
                fences.push(key);
            }
            block.extend_from_slice(&key);
            block.extend_from_slice(&seq.to_be_bytes());
            bloom.insert(&key);
            n += 1;
        }
        if !block.is_empty() {
            flush_block(&mut block, &mut w).map_err(io(&path))?;
        }
        let mut footer = Vec::with_capacity(fences.len() * 17 + bloom.words.len() * 8);
        for f in &fences {
            footer.extend_from_slice(f);
        }
        for word in &bloom.words {
            footer.extend_from_slice(&word.to_le_bytes());
        }
        let mut trailer = Vec::with_capacity(TRAILER);
        trailer.extend_from_slice(&n.to_le_bytes());
        trailer.extend_from_slice(&(fences.len() as u64).to_le_bytes());
        trailer.extend_from_slice(&(bloom.words.len() as u64).to_le_bytes());
        trailer.extend_from_slice(blake3::hash(&footer).as_bytes());
        trailer.extend_from_slice(RUN_MAGIC);
        w.write_all(&footer).and_then(|()| w.write_all(&trailer)).and_then(|()| w.flush()).map_err(io(&path))?;
        drop(w);
        file.sync_all().map_err(io(&path))?;
        Ok(Run { id, path, file, pairs: n, fences, bloom })
    }

    /// Opens run `id` and checks its footer.
    fn open(dir: &Path, id: u64) -> Result<Run, IndexError> {
        let path = dir.join(run_name(id));
        let file = File::open(&path).map_err(io(&path))?;
        let len = file.metadata().map_err(io(&path))?.len();
        if len < TRAILER as u64 {
            return Err(corrupt(&path, "shorter than a run's trailer"));
        }
        let mut t = [0u8; TRAILER];
        file.read_exact_at(&mut t, len - TRAILER as u64).map_err(io(&path))?;
        if &t[56..] != RUN_MAGIC {
            return Err(corrupt(&path, "not a posting run"));
        }
        let (pairs, blocks, words) = (u64_le(&t[..8]), u64_le(&t[8..16]), u64_le(&t[16..24]));
        let block_bytes = match blocks {
            0 => Some(0),
            b if b <= pairs => (b - 1).checked_mul(BLOCK_BYTES as u64).map(|x| x + block_len(pairs, b - 1) as u64),
            _ => None,
        };
        let footer_len = blocks.checked_mul(17).zip(words.checked_mul(8)).map(|(a, b)| a + b);
        let fits = pairs.div_ceil(BLOCK_PAIRS as u64) == blocks
            && words >= 1
            && matches!((block_bytes, footer_len), (Some(b), Some(f))
                if b.checked_add(f).and_then(|x| x.checked_add(TRAILER as u64)) == Some(len));
        if !fits {
            return Err(corrupt(&path, "its sizes do not add up"));
        }
        let (block_bytes, footer_len) = (block_bytes.unwrap_or(0), footer_len.unwrap_or(0));
        let mut footer = vec![0u8; footer_len as usize];
        file.read_exact_at(&mut footer, block_bytes).map_err(io(&path))?;
        if blake3::hash(&footer).as_bytes()[..] != t[24..56] {
            return Err(corrupt(&path, "its footer does not match its checksum"));
        }
        let (f, b) = footer.split_at(blocks as usize * 17);
        let fences = f.chunks_exact(17).map(|c| c.try_into().unwrap_or([0; 17])).collect();
        let bloom = Bloom { words: b.chunks_exact(8).map(u64_le).collect() };
        Ok(Run { id, path, file, pairs, fences, bloom })
    }

    /// The pairs of block `i`, after checking its CRC.
    fn block(&self, i: u64) -> Result<Vec<(Key, u64)>, IndexError> {
        let mut b = vec![0u8; block_len(self.pairs, i)];
        self.file.read_exact_at(&mut b, i * BLOCK_BYTES as u64).map_err(io(&self.path))?;
        let (pairs, crc) = b.split_at(b.len() - 4);
        if crc32fast::hash(pairs).to_be_bytes() != crc {
            return Err(corrupt(&self.path, &format!("block {i} does not match its CRC")));
        }
        Ok(pairs
            .chunks_exact(PAIR)
            .map(|p| (p[..17].try_into().unwrap_or([0; 17]), u64::from_be_bytes(p[17..].try_into().unwrap_or([0; 8]))))
            .collect())
    }

    /// Adds the seqs posted under `key` to `out`.
    fn get(&self, key: &Key, out: &mut Vec<u64>) -> Result<(), IndexError> {
        if !self.bloom.may_contain(key) {
            return Ok(());
        }
        // The key's pairs start in the last block whose first key is below it, or in the next.
        let start = self.fences.partition_point(|f| f < key).saturating_sub(1) as u64;
        for i in start..self.fences.len() as u64 {
            for (k, seq) in self.block(i)? {
                match k.cmp(key) {
                    std::cmp::Ordering::Less => {}
                    std::cmp::Ordering::Equal => out.push(seq),
                    std::cmp::Ordering::Greater => return Ok(()),
                }
            }
        }
        Ok(())
    }

    /// Every pair, in order (for merging and rewriting).
    fn pairs(&self) -> impl Iterator<Item = Result<(Key, u64), IndexError>> + '_ {
        (0..self.fences.len() as u64).flat_map(move |i| match self.block(i) {
            Ok(pairs) => pairs.into_iter().map(Ok).collect::<Vec<_>>(),
            Err(e) => vec![Err(e)],
        })
    }
}

/// The live runs and what they cover.
struct Live {
    /// Oldest first.
    runs: Vec<Arc<Run>>,
    /// Every posting of an entry below this ledger size is in `runs`.
    covered: u64,
    next_id: u64,
}

/// The run files of an index.
pub(super) struct Runs {
    dir: PathBuf,
    live: RwLock<Arc<Live>>,
    /// Serialises the changes ([`Runs::update`]: flushes, merges, removals, clearing).
    change: Mutex<()>,
    /// Held through a whole flush by the index (taking postings, writing, dropping them from the
    /// pending set), so that two flushes never cross.
    flushing: Mutex<()>,
}

impl Runs {
    /// Opens (or creates) `dir`, loads the manifest and the runs it names, and deletes run files it
    /// does not name (left by a merge that a crash interrupted).
    pub(super) fn open(dir: &Path) -> Result<Runs, IndexError> {
        fs::create_dir_all(dir).map_err(io(dir))?;
        let mpath = dir.join("MANIFEST");
        let (covered, ids) = match fs::read(&mpath) {
            Ok(b) => decode_manifest(&b).ok_or_else(|| corrupt(&mpath, "not a valid run manifest"))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (0, Vec::new()),
            Err(e) => return Err(io(&mpath)(e)),
        };
        let mut runs = Vec::with_capacity(ids.len());
        for id in &ids {
            runs.push(Arc::new(Run::open(dir, *id)?));
        }
        for entry in fs::read_dir(dir).map_err(io(dir))? {
            let name = entry.map_err(io(dir))?.file_name();
            let name = name.to_string_lossy();
            let listed = ids.iter().any(|id| run_name(*id) == name);
            if (name.ends_with(".run") && !listed) || name == "MANIFEST.tmp" {
                let _ = fs::remove_file(dir.join(name.as_ref()));
            }
        }
        let next_id = ids.iter().max().map_or(0, |m| m + 1);
        Ok(Runs {
            dir: dir.to_path_buf(),
            live: RwLock::new(Arc::new(Live { runs, covered, next_id })),
            change: Mutex::new(()),
            flushing: Mutex::new(()),
        })
    }

    pub(super) fn flushing(&self) -> std::sync::MutexGuard<'_, ()> {
        self.flushing.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn live(&self) -> Arc<Live> {
        self.live.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The ledger size below which every posting is in the runs.
    pub(super) fn covered(&self) -> u64 {
        self.live().covered
    }

    /// Adds the seqs posted under `key` in any run to `out` (unsorted, possibly repeated).
    pub(super) fn get(&self, key: &Key, out: &mut Vec<u64>) -> Result<(), IndexError> {
        for run in &self.live().runs {
            run.get(key, out)?;
        }
        Ok(())
    }

    /// Makes `pairs` durable as a new run (merging runs of similar size), and records that the runs
    /// now hold every posting below `covered`.
    pub(super) fn flush(&self, pairs: &[(Key, u64)], covered: u64) -> Result<(), IndexError> {
        self.update(|live, next_id| {
            let mut runs = live.runs.clone();
            let mut retired = Vec::new();
            let mut pairs = pairs.to_vec();
            pairs.sort_unstable();
            pairs.dedup();
            if !pairs.is_empty() {
                let n = pairs.len() as u64;
                runs.push(Arc::new(Run::write(&self.dir, *next_id, n, pairs.into_iter().map(Ok))?));
                *next_id += 1;
            }
            // Merge the newest two while the older is at most twice the newer (or there are too
            // many).
            while runs.len() >= 2 {
                let (a, b) = (&runs[runs.len() - 2], &runs[runs.len() - 1]);
                if a.pairs > 2 * b.pairs && runs.len() <= MAX_RUNS {
                    break;
                }
                let merged = merge(&self.dir, *next_id, a, b)?;
                *next_id += 1;
                retired.push(runs.pop().unwrap_or_else(|| unreachable!()));
                retired.push(runs.pop().unwrap_or_else(|| unreachable!()));
                runs.push(Arc::new(merged));
            }
            Ok(Some(Update { runs, covered: covered.max(live.covered), retired }))
        })
    }

    /// Removes one posting (erasure), rewriting the runs that hold it.
    pub(super) fn remove(&self, key: &Key, seq: u64) -> Result<(), IndexError> {
        self.update(|live, next_id| {
            let mut runs = Vec::with_capacity(live.runs.len());
            let mut retired = Vec::new();
            for run in &live.runs {
                let mut seqs = Vec::new();
                run.get(key, &mut seqs)?;
                if !seqs.contains(&seq) {
                    runs.push(run.clone());
                    continue;
                }
                if run.pairs > 1 {
                    let kept = run.pairs().filter(|p| !matches!(p, Ok((k, s)) if k == key && *s == seq));
                    runs.push(Arc::new(Run::write(&self.dir, *next_id, run.pairs, kept)?));
                    *next_id += 1;
                }
                retired.push(run.clone());
            }
            Ok((!retired.is_empty()).then_some(Update { runs, covered: live.covered, retired }))
        })
    }

    /// Drops every run (before a rebuild).
    pub(super) fn clear(&self) -> Result<(), IndexError> {
        self.update(|live, _| Ok(Some(Update { runs: Vec::new(), covered: 0, retired: live.runs.clone() })))
    }

    /// Every change to the runs, one at a time: `build` writes the new run files it needs, taking
    /// ids from `next_id`, and says what replaces the live runs (`None`: nothing changes). The new
    /// manifest is then made current. If anything fails, the files written are deleted, so that a
    /// later attempt can use those ids again.
    fn update(
        &self,
        build: impl FnOnce(&Live, &mut u64) -> Result<Option<Update>, IndexError>,
    ) -> Result<(), IndexError> {
        let _g = self.change.lock().unwrap_or_else(|p| p.into_inner());
        let live = self.live();
        let mut next_id = live.next_id;
        let done = build(&live, &mut next_id).and_then(|u| match u {
            Some(Update { runs, covered, retired }) => self.install(Live { runs, covered, next_id }, retired),
            None => Ok(()),
        });
        if done.is_err() {
            for id in live.next_id..=next_id {
                let _ = fs::remove_file(self.dir.join(run_name(id)));
            }
        }
        done
    }

    /// Writes the manifest for `live`, makes it current and deletes the retired runs' files.
    fn install(&self, live: Live, retired: Vec<Arc<Run>>) -> Result<(), IndexError> {
        let mpath = self.dir.join("MANIFEST");
        let tmp = self.dir.join("MANIFEST.tmp");
        let ids: Vec<u64> = live.runs.iter().map(|r| r.id).collect();
        let bytes = encode_manifest(live.covered, &ids);
        (|| -> std::io::Result<()> {
            let mut f = File::create(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
            fs::rename(&tmp, &mpath)?;
            File::open(&self.dir)?.sync_all()
        })()
        .map_err(io(&mpath))?;
        *self.live.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(live);
        // Readers that still hold a retired run read it through its open handle.
        for r in retired {
            let _ = fs::remove_file(&r.path);
        }
        Ok(())
    }
}

/// What one change to the runs makes of them (see [`Runs::update`]): the new live runs, the ledger
/// size they cover, and the runs they replace.
struct Update {
    runs: Vec<Arc<Run>>,
    covered: u64,
    retired: Vec<Arc<Run>>,
}

/// Merges two runs into run `id` (pairs in order, repeats once), streaming.
fn merge(dir: &Path, id: u64, a: &Run, b: &Run) -> Result<Run, IndexError> {
    let (mut x, mut y) = (a.pairs().peekable(), b.pairs().peekable());
    let mut last: Option<(Key, u64)> = None;
    let merged = std::iter::from_fn(move || loop {
        let next = match (x.peek(), y.peek()) {
            (None, None) => return None,
            (Some(Err(_)), _) | (Some(_), None) => x.next(),
            (_, Some(Err(_))) | (None, Some(_)) => y.next(),
            (Some(Ok(p)), Some(Ok(q))) => {
                if p <= q {
                    x.next()
                } else {
                    y.next()
                }
            }
        };
        match next? {
            Err(e) => return Some(Err(e)),
            Ok(pair) if last != Some(pair) => {
                last = Some(pair);
                return Some(Ok(pair));
            }
            Ok(_) => {}
        }
    });
    Run::write(dir, id, a.pairs + b.pairs, merged)
}

fn encode_manifest(covered: u64, ids: &[u64]) -> Vec<u8> {
    let mut b = MANIFEST_MAGIC.to_vec();
    b.extend_from_slice(&covered.to_le_bytes());
    b.extend_from_slice(&(ids.len() as u64).to_le_bytes());
    for id in ids {
        b.extend_from_slice(&id.to_le_bytes());
    }
    let h = *blake3::hash(&b).as_bytes();
    b.extend_from_slice(&h);
    b
}

fn decode_manifest(b: &[u8]) -> Option<(u64, Vec<u64>)> {
    let (body, h) = b.split_at(b.len().checked_sub(32)?);
    if blake3::hash(body).as_bytes()[..] != *h || body.get(..8)? != MANIFEST_MAGIC {
        return None;
    }
    let covered = u64_le(body.get(8..16)?);
    let n = u64_le(body.get(16..24)?);
    let ids = body.get(24..)?;
    if ids.len() as u64 != n.checked_mul(8)? {
        return None;
    }
    Some((covered, ids.chunks_exact(8).map(u64_le).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// The seqs the runs hold under `k`, as `Runs::get` gives them.
    fn lookup(runs: &Runs, k: &Key) -> Vec<u64> {
        let mut out = Vec::new();
        runs.get(k, &mut out).unwrap();
        out
    }

    fn key(kind: u8, v: u32) -> Key {
        let mut k = [0u8; 17];
        k[0] = kind;
        k[1..].copy_from_slice(&blake3::hash(&v.to_be_bytes()).as_bytes()[..16]);
        k
    }

    /// Flushes of many sizes, merges, a removal and a reopen agree with a plain map.
    #[test]
    fn runs_agree_with_a_map() {
        let d = tempfile::tempdir().unwrap();
        let mut want: BTreeMap<Key, Vec<u64>> = BTreeMap::new();
        let mut seq = 0u64;
        {
            let runs = Runs::open(d.path()).unwrap();
            for (round, size) in [1usize, 1, 3, 500, 7, 0, 129, 128, 2000, 1, 5].into_iter().enumerate() {
                let mut pairs = Vec::new();
                for i in 0..size {
                    // Some values are posted again in later rounds, some twice in one round.
                    let k = key(4, (i % 300) as u32 + if i % 3 == 0 { 0 } else { round as u32 * 1000 });
                    pairs.push((k, seq));
                    want.entry(k).or_default().push(seq);
                    seq += 1;
                }
                if size > 2 {
                    pairs.push(pairs[0]);
                }
                runs.flush(&pairs, seq).unwrap();
                assert!(runs.live().runs.len() <= 12, "runs stay few: {}", runs.live().runs.len());
            }
            let (k, s) = want.iter().find(|(_, v)| v.len() > 1).map(|(k, v)| (*k, v[1])).unwrap();
            runs.remove(&k, s).unwrap();
            want.get_mut(&k).unwrap().retain(|x| *x != s);
            assert_eq!(runs.covered(), seq);
        }
        let runs = Runs::open(d.path()).unwrap();
        assert_eq!(runs.covered(), seq);
        for (k, v) in &want {
            let mut got = lookup(&runs, k);
            got.sort_unstable();
            got.dedup();
            assert_eq!(&got, v);
        }
        assert!(lookup(&runs, &key(4, 999_999)).is_empty());
        assert!(lookup(&runs, &key(5, 1)).is_empty());
        let files = fs::read_dir(d.path()).unwrap().count();
        assert_eq!(files, runs.live().runs.len() + 1, "only the live runs and the manifest remain");
        runs.clear().unwrap();
        assert_eq!(runs.covered(), 0);
        assert_eq!(fs::read_dir(d.path()).unwrap().count(), 1);
    }

    /// A flush that fails leaves no file in the way of the next one (a run file is created with
    /// `create_new`, under the next id).
    #[test]
    fn a_failed_flush_leaves_the_next_id_free() {
        let d = tempfile::tempdir().unwrap();
        let runs = Runs::open(d.path()).unwrap();
        let pairs: Vec<(Key, u64)> = (0..10u32).map(|i| (key(2, i), u64::from(i))).collect();
        runs.flush(&pairs, 10).unwrap();
        // Something (a half-written run of an attempt that failed) holds the next id's name.
        let next = runs.live().next_id;
        fs::write(d.path().join(run_name(next)), b"partial").unwrap();
        let more: Vec<(Key, u64)> = (10..20u32).map(|i| (key(2, i), u64::from(i))).collect();
        assert!(runs.flush(&more, 20).is_err());
        assert_eq!(runs.covered(), 10, "a failed flush covers nothing new");
        runs.flush(&more, 20).unwrap();
        assert_eq!(runs.covered(), 20);
        for i in 0..20u32 {
            assert_eq!(lookup(&runs, &key(2, i)), vec![u64::from(i)]);
        }
    }

    /// A damaged block is reported when read; a damaged footer or manifest when opened.
    #[test]
    fn damage_is_found() {
        let d = tempfile::tempdir().unwrap();
        let runs = Runs::open(d.path()).unwrap();
        let pairs: Vec<(Key, u64)> = (0..300u32).map(|i| (key(4, i), u64::from(i))).collect();
        runs.flush(&pairs, 300).unwrap();
        let path = runs.live().runs[0].path.clone();
        drop(runs);
        let mut bytes = fs::read(&path).unwrap();
        bytes[10] ^= 1;
        fs::write(&path, &bytes).unwrap();
        let runs = Runs::open(d.path()).unwrap();
        let mut out = Vec::new();
        let hits = (0..300u32).filter_map(|i| runs.get(&key(4, i), &mut out).err()).count();
        assert!(hits > 0, "the damaged block is found");
        drop(runs);
        let n = bytes.len();
        bytes[10] ^= 1;
        bytes[n - TRAILER - 3] ^= 1;
        fs::write(&path, &bytes).unwrap();
        assert!(Runs::open(d.path()).is_err(), "a damaged footer");
        bytes[n - TRAILER - 3] ^= 1;
        fs::write(&path, &bytes).unwrap();
        let m = d.path().join("MANIFEST");
        let mut mb = fs::read(&m).unwrap();
        mb[9] ^= 1;
        fs::write(&m, &mb).unwrap();
        assert!(Runs::open(d.path()).is_err(), "a damaged manifest");
    }
}
