//! Ingest step: runs an importer over an input and appends what it maps to a ledger.
//!
//! One streaming pass reads and maps every event, validates every record against the contract and
//! decides what is already in the ledger; the validated records (mapped fields only, never raw
//! events) are spooled to a private temporary file (`spool`). Only if the whole input is good (or
//! `skip_invalid` is set) does a second pass append them, in durable batches. Memory grows only by a
//! 16-byte fingerprint per record (to catch an event repeated within the input).
//!
//! An event's records are appended in order, so the ledger holds a prefix of them: the n-th record
//! of an event is already present when the ledger holds at least n entries with the event's source
//! and raw-event digest. An import cut between two batches therefore resumes with the missing
//! records of a split event, and an import with context after one without adds the context records
//! of an event that also has access changes (Workspace activities). The same source event ID with
//! different bytes is reported as a conflict (fixtures and some exports reuse IDs) and imported,
//! never silently dropped.

use std::collections::{BTreeMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::PathBuf;
use std::sync::mpsc;

use serde::Serialize;
use sha2::{Digest, Sha256};

use rayon::prelude::*;

use super::{map_checked, read_events, spool, ImportError, ImportOptions, Outcome, Position, RawEvent, Source};
use crate::ledger::{Ledger, LedgerError, Receipt};
use crate::record::{Approval, Record};
use crate::sign::SecretKey;

/// Records per durable batch in the append pass (fewer when they hold more than `MAP_CHUNK_BYTES`).
/// The next batch is read while one is appended, so two are in memory at once.
pub const APPEND_BATCH: usize = 2_500;
/// Events mapped in parallel at a time in the first pass.
const MAP_CHUNK: usize = 1_024;
/// Raw bytes mapped at a time, whatever the number of events: a chunk is in memory two or three
/// times over (read, mapped, tallied), and one event may be up to `MAX_EVENT_BYTES`. Spooled
/// records are read back in batches of at most this many bytes too.
const MAP_CHUNK_BYTES: usize = 16 << 20;

/// Errors of an import run.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Import(#[from] ImportError),
    #[error("{file}: {pos}: mapped record is not valid: {problem}")]
    Invalid { file: String, pos: String, problem: String },
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("import spool: {0}")]
    Spool(#[from] std::io::Error),
}

/// How to run an import.
pub struct IngestOptions {
    pub source: Source,
    pub import: ImportOptions,
    /// Print the records instead of appending them.
    pub dry_run: bool,
    /// Import the valid events and report the bad ones, instead of refusing the whole input.
    pub skip_invalid: bool,
    /// Keep every skipped event with its reason in the summary.
    pub explain: bool,
}

/// What an import run did.
#[derive(Debug, Default, Serialize)]
pub struct Summary {
    pub source: String,
    pub file: String,
    pub events: u64,
    /// Access-change records by action.
    pub mapped: BTreeMap<String, u64>,
    pub context: u64,
    pub skipped: u64,
    pub invalid: u64,
    pub already_present: u64,
    /// Records whose source event ID is already in the ledger with different event bytes.
    pub id_conflicts: u64,
    pub appended: u64,
    pub first_seq: Option<u64>,
    pub last_seq: Option<u64>,
    /// `position: problem` of every invalid event (with skip_invalid).
    pub invalid_events: Vec<String>,
    /// `position: reason` of every skipped event (with explain).
    pub skipped_events: Vec<String>,
    pub conflicts: Vec<String>,
}

struct Spool {
    path: PathBuf,
}

impl Spool {
    fn create() -> std::io::Result<(Self, File)> {
        let mut n = [0u8; 8];
        let _ = getrandom::fill(&mut n);
        let path = std::env::temp_dir().join(format!("custody-import-{}.spool", hex::encode(n)));
        let mut o = OpenOptions::new();
        o.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            o.mode(0o600);
        }
        let f = o.open(&path)?;
        Ok((Spool { path }, f))
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// Runs an import. With `dry_run`, `out` receives the records as JSON Lines and nothing is appended;
/// otherwise `ledger` and `key` are required. `progress` is called with the number of events read.
pub fn ingest(
    input: impl Read,
    file: &str,
    opts: &IngestOptions,
    ledger: Option<(&Ledger, &SecretKey)>,
    out: &mut dyn Write,
    progress: &dyn Fn(u64),
) -> Result<Summary, IngestError> {
    opts.import.validate()?;
    let approval = opts.import.record_approval(opts.source)?;
    let (spool, spool_file) = Spool::create()?;
    let mut pass = FirstPass {
        s: Summary { source: opts.source.name().to_string(), file: file.to_string(), ..Default::default() },
        seen: HashSet::new(),
        spool_w: BufWriter::new(spool_file),
        pending: 0,
        out,
        progress,
    };
    let mut reader = read_events(opts.source, input).map_err(|e| e.in_file(file))?;
    // Mapping, validating and serialising an event is independent of every other event, and so are
    // the ledger lookups for duplicates (the ledger does not change during this pass): they run on
    // all cores, a chunk at a time. Reading the input and the bookkeeping that depends on order stay
    // on this thread, and overlap with the mapping of the next chunk, so that neither waits for the
    // other.
    let map_chunk = |chunk: Vec<Result<RawEvent, ImportError>>| -> Vec<Mapped> {
        chunk
            .into_par_iter()
            .map(|ev| {
                ev.map(|ev| {
                    let prepared = prepare(opts.source, &ev, &opts.import, &approval, opts.dry_run);
                    let known = match (&prepared, ledger) {
                        (Prepared::Mapped { digest, records, .. }, Some((l, _))) => {
                            Some(known(l, opts.source, digest, records))
                        }
                        _ => None,
                    };
                    // The raw event is dropped here, on the thread that mapped it, as its records
                    // were: the ordered pass needs only the position (memory freed on another
                    // thread than the one that allocated it is reclaimed late, and peak memory
                    // showed it).
                    (ev.position(), prepared, known)
                })
            })
            .collect()
    };
    rayon::in_place_scope(|scope| -> Result<(), IngestError> {
        let mut in_flight: Option<mpsc::Receiver<Vec<Mapped>>> = None;
        loop {
            let chunk = next_chunk(&mut reader);
            let next = (!chunk.is_empty()).then(|| {
                let (tx, rx) = mpsc::sync_channel(1);
                let map_chunk = &map_chunk;
                scope.spawn(move |_| {
                    // The receiver is gone only when this thread has returned an error.
                    let _ = tx.send(map_chunk(chunk));
                });
                rx
            });
            if let Some(rx) = in_flight.take() {
                // A mapping job that panicked drops its sender; the scope re-raises the panic.
                let Ok(chunk) = rx.recv() else { break };
                for m in chunk {
                    tally(&mut pass, opts, file, m)?;
                }
            }
            match next {
                Some(rx) => in_flight = Some(rx),
                None => break,
            }
        }
        Ok(())
    })?;
    let FirstPass { mut s, spool_w, pending, .. } = pass;
    progress(s.events);
    spool_w.into_inner().map_err(|e| e.into_error())?;
    if opts.dry_run || pending == 0 {
        return Ok(s);
    }
    let Some((l, key)) = ledger else {
        return Err(IngestError::Ledger(LedgerError::Invalid(
            "an import needs a ledger and a key (or --dry-run)".into(),
        )));
    };
    append_pass(l, key, File::open(&spool.path)?, &mut s)?;
    Ok(s)
}

/// The append pass: appends the spooled records in durable batches of [`APPEND_BATCH`], reading
/// the next batch back while the current one is appended.
fn append_pass(l: &Ledger, key: &SecretKey, spooled: File, s: &mut Summary) -> Result<(), IngestError> {
    std::thread::scope(|threads| -> Result<(), IngestError> {
        let (tx, rx) = mpsc::sync_channel::<std::io::Result<Vec<Record>>>(0);
        threads.spawn(move || {
            let mut input = BufReader::new(spooled);
            let mut buf = Vec::new();
            loop {
                let mut batch = Vec::with_capacity(APPEND_BATCH);
                let mut bytes = 0;
                let read = (|| {
                    while batch.len() < APPEND_BATCH && bytes < MAP_CHUNK_BYTES && spool::read(&mut input, &mut buf)? {
                        bytes += buf.len();
                        batch.push(spool::decode(&buf).map_err(std::io::Error::other)?);
                    }
                    Ok(())
                })();
                let last = batch.is_empty() || read.is_err();
                // The receiver is gone only when the append loop has stopped on an error.
                if tx.send(read.map(|()| batch)).is_err() || last {
                    break;
                }
            }
        });
        for batch in rx {
            let batch = batch?;
            if batch.is_empty() {
                break;
            }
            let receipts: Vec<Receipt> = l.append_batch(key, batch, None)?;
            s.appended += receipts.len() as u64;
            s.first_seq = s.first_seq.or(receipts.first().map(|r| r.seq));
            s.last_seq = receipts.last().map(|r| r.seq).or(s.last_seq);
        }
        Ok(())
    })
}

/// The next events to map: up to `MAP_CHUNK` of them, and no more once `MAP_CHUNK_BYTES` of raw
/// events are taken (so that large events cannot make the chunks in flight hold gigabytes).
fn next_chunk(events: &mut impl Iterator<Item = Result<RawEvent, ImportError>>) -> Vec<Result<RawEvent, ImportError>> {
    let mut chunk = Vec::new();
    let mut bytes = 0;
    while chunk.len() < MAP_CHUNK && bytes < MAP_CHUNK_BYTES {
        let Some(ev) = events.next() else { break };
        bytes += ev.as_ref().map_or(0, |e| e.bytes.len());
        chunk.push(ev);
    }
    chunk
}

/// The ordered part of the first pass: counts, duplicates within the input, the spool.
struct FirstPass<'o> {
    s: Summary,
    /// Fingerprints of (record key, event digest) seen in this input.
    seen: HashSet<[u8; 16]>,
    spool_w: BufWriter<File>,
    /// Records spooled for the append pass.
    pending: u64,
    /// Where a dry run prints its records.
    out: &'o mut dyn Write,
    progress: &'o dyn Fn(u64),
}

/// Takes one mapped event, in input order: counts it, drops the records the input or the ledger
/// already holds, and spools (or, in a dry run, prints) the rest.
fn tally(p: &mut FirstPass<'_>, opts: &IngestOptions, file: &str, mapped: Mapped) -> Result<(), IngestError> {
    let (pos, prepared, known) = match mapped {
        Ok(m) => m,
        Err(e) if opts.skip_invalid && !matches!(e, ImportError::Io { .. }) => {
            p.s.invalid += 1;
            p.s.invalid_events.push(e.to_string());
            return Ok(());
        }
        Err(e) => return Err(e.in_file(file).into()),
    };
    p.s.events += 1;
    if p.s.events.is_multiple_of(1000) {
        (p.progress)(p.s.events);
    }
    let (digest, is_context, records) = match prepared {
        Prepared::Mapped { digest, is_context, records } => (digest, is_context, records),
        Prepared::Skipped(reason) => {
            p.s.skipped += 1;
            if opts.explain {
                p.s.skipped_events.push(format!("{pos}: {reason}"));
            }
            return Ok(());
        }
        Prepared::Refused(e) if opts.skip_invalid => {
            p.s.invalid += 1;
            p.s.invalid_events.push(e.to_string());
            return Ok(());
        }
        Prepared::Refused(e) => return Err(e.in_file(file).into()),
        Prepared::Invalid(problem) if opts.skip_invalid => {
            p.s.invalid += 1;
            p.s.invalid_events.push(format!("{pos}: {problem}"));
            return Ok(());
        }
        Prepared::Invalid(problem) => {
            return Err(IngestError::Invalid { file: file.to_string(), pos: pos.to_string(), problem })
        }
    };
    // How many of this event's records the ledger already holds (a prefix of them, see above),
    // and which records' event IDs it holds.
    let known = known.transpose()?;
    for (i, rec) in records.into_iter().enumerate() {
        if !p.seen.insert(fingerprint(&rec.key, &digest)) {
            p.s.already_present += 1;
            continue;
        }
        if let Some(k) = &known {
            let present = k.present;
            if (i as u64) < present {
                p.s.already_present += 1;
                continue;
            }
            // Records of this very event (same bytes) carry the ID too: no conflict with those.
            if let Some(id) = rec.evidence_id.as_deref().filter(|_| present == 0) {
                if k.id_known.get(i).copied().unwrap_or(false) {
                    p.s.id_conflicts += 1;
                    p.s.conflicts.push(format!(
                        "{pos}: event ID {id} is already in the ledger with different event bytes; imported as a separate record"
                    ));
                }
            }
        }
        if is_context {
            p.s.context += 1;
        } else {
            match p.s.mapped.get_mut(rec.action) {
                Some(n) => *n += 1,
                None => {
                    p.s.mapped.insert(rec.action.to_string(), 1);
                }
            }
        }
        if opts.dry_run {
            p.out.write_all(&rec.line)?;
            writeln!(p.out)?;
        } else {
            p.spool_w.write_all(&rec.line)?;
            p.pending += 1;
        }
    }
    Ok(())
}

/// What the ledger already holds of one event: how many of its records carry its digest, and for
/// each record whether the ledger holds its event ID.
struct Known {
    present: u64,
    id_known: Vec<bool>,
}

/// The ledger lookups for one mapped event (evidence keys `system:digest` and `system:id`).
fn known(l: &Ledger, source: Source, digest: &str, records: &[Spooled]) -> Result<Known, LedgerError> {
    let system_of = |rec: &Spooled| rec.evidence_system.clone().unwrap_or_else(|| source.name().to_string());
    let present = match records.first() {
        Some(rec) => l.evidence_count(&format!("{}:{digest}", system_of(rec)))?,
        None => 0,
    };
    let mut id_known = Vec::with_capacity(records.len());
    for rec in records {
        id_known.push(match rec.evidence_id.as_deref().filter(|_| present == 0) {
            Some(id) => l.has_evidence(&format!("{}:{id}", system_of(rec)))?,
            None => false,
        });
    }
    Ok(Known { present, id_known })
}

/// One event of the first pass with what the parallel part made of it: where it was, its records
/// and what the ledger already holds of them; or the error reading it.
type Mapped = Result<(Position, Prepared, Option<Result<Known, LedgerError>>), ImportError>;

/// What the rest of an import needs of one valid record: its line (spool bytes, or JSON in a dry
/// run), and what the duplicate checks and the summary look at.
struct Spooled {
    action: &'static str,
    evidence_system: Option<String>,
    evidence_id: Option<String>,
    /// The dedup key (`MappedRecord::dedup_key`).
    key: String,
    line: Vec<u8>,
}

/// What the parallel part of the first pass makes of one event.
enum Prepared {
    /// The importer refused the event (malformed, of another source, a required field missing).
    Refused(ImportError),
    /// Nothing to record, and why.
    Skipped(String),
    /// A mapped record does not meet the record contract.
    Invalid(String),
    /// Valid records (see `Spooled`) and the event's digest.
    Mapped { digest: String, is_context: bool, records: Vec<Spooled> },
}

fn prepare(source: Source, ev: &RawEvent, opts: &ImportOptions, approval: &Approval, dry_run: bool) -> Prepared {
    let digest = ev.digest();
    let (records, is_context) = match map_checked(source, ev, opts, approval, digest.clone()) {
        Ok(Outcome::Records(r)) => (r, false),
        Ok(Outcome::Context(r)) => (r, true),
        Ok(Outcome::Skipped { reason }) => return Prepared::Skipped(reason),
        Err(e) => return Prepared::Refused(e),
    };
    let mut out = Vec::with_capacity(records.len());
    for m in records {
        let rec = m.record;
        // The importer screened every value it took from the event for credentials, and
        // `ImportOptions::validate` the ones given with the import: the rest of the contract is
        // checked here. (The append checks everything again, secrets included.)
        if let Err(e) = rec.validate_with(0, false) {
            return Prepared::Invalid(e.to_string());
        }
        // A dry run prints the record's JSON; an import spools it for the append pass.
        let line = if dry_run { serde_json::to_vec(&rec) } else { Ok(spool::encode(&rec)) };
        match line {
            Ok(line) => {
                let evidence = rec.evidence.first();
                out.push(Spooled {
                    action: rec.action.as_str(),
                    evidence_system: evidence.map(|e| e.system.clone()),
                    evidence_id: evidence.and_then(|e| e.id.clone()),
                    key: m.dedup_key,
                    line,
                })
            }
            Err(e) => return Prepared::Invalid(e.to_string()),
        }
    }
    Prepared::Mapped { digest, is_context, records: out }
}

/// A 16-byte fingerprint of a record's dedup key and its event's digest.
fn fingerprint(key: &str, digest: &str) -> [u8; 16] {
    let mut h = Sha256::new();
    h.update(key.as_bytes());
    h.update(b"|");
    h.update(digest.as_bytes());
    let mut out = [0u8; 16];
    out.copy_from_slice(&h.finalize()[..16]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_are_bounded_by_count_and_by_bytes() {
        let mut small = (0..3000).map(|i| Ok(RawEvent::from_line(i, b"{}".to_vec())));
        assert_eq!(next_chunk(&mut small).len(), MAP_CHUNK);
        assert_eq!(next_chunk(&mut small).len(), MAP_CHUNK);
        assert_eq!(next_chunk(&mut small).len(), 3000 - 2 * MAP_CHUNK);
        assert!(next_chunk(&mut small).is_empty());
        // 3 MiB events: six fit under the budget, the sixth reaches it.
        let mut big = (0..20).map(|i| Ok(RawEvent::from_line(i, vec![b' '; 3 << 20])));
        assert_eq!(next_chunk(&mut big).len(), 6);
        assert_eq!(next_chunk(&mut big).len(), 6);
    }
}
