//! Verification: walks `log/` from the first byte and judges every entry, trusting nothing else.
//!
//! This is the "verify" step. It reads only the segment files (never `index/`), streams them in
//! chunks (memory does not grow with the ledger, apart from one (seq, hash) per incident and the
//! redaction markers still waiting for their redaction entry), decodes and checks commitments in
//! parallel, applies the chain rules of [`crate::chain`] in order and checks signatures in parallel
//! across cores. Every problem becomes a [`Finding`] with the seq, segment and offset where it was
//! found; the walk continues past it so that all problems are reported, not only the first.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use rayon::prelude::*;
use serde::Serialize;

use crate::chain::{short, ChainState, Violation};
use crate::commit::{commit, Field, FieldMask, Opening};
use crate::entry::{signature_message, Control, Entry, Hash};
use crate::log::{LogError, RawFrame, ScanItem, Scanner, Tail};
use crate::sign::{KeyId, PublicKey};

/// How many frames are decoded and verified together.
const CHUNK: usize = 4096;
/// How many findings are kept in full; the rest are counted.
const MAX_FINDINGS: usize = 10_000;

/// One integrity problem, located.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Finding {
    pub seq: Option<u64>,
    pub segment: Option<u64>,
    pub offset: Option<u64>,
    pub kind: &'static str,
    pub message: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.seq, self.segment, self.offset) {
            (Some(s), Some(g), Some(o)) => {
                write!(f, "entry {s} (segment {g}, offset {o}): [{}] {}", self.kind, self.message)
            }
            (None, Some(g), Some(o)) => write!(f, "segment {g}, offset {o}: [{}] {}", self.kind, self.message),
            (Some(s), _, _) => write!(f, "entry {s}: [{}] {}", self.kind, self.message),
            _ => write!(f, "[{}] {}", self.kind, self.message),
        }
    }
}

/// What the auditor asks the verifier to hold the ledger to.
#[derive(Default)]
pub struct VerifyOptions<'a> {
    /// The genesis key must be this key.
    pub trust: Option<PublicKey>,
    /// A (size, head hash) noted earlier: the ledger must still have that entry at `size - 1`.
    pub head: Option<(u64, Hash)>,
    /// Called with the number of entries checked so far.
    pub progress: Option<&'a (dyn Fn(u64) + Sync)>,
    /// Checkpoints (tree size, root) the auditor kept: the ledger must still contain each tree.
    pub checkpoints: Vec<(u64, Hash)>,
}

/// How many fields one redaction entry accounts for.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct RedactionSummary {
    pub redaction_seq: u64,
    pub fields: u64,
    pub entries: u64,
}

/// The result of a verification.
#[derive(Debug, Serialize)]
pub struct Report {
    pub intact: bool,
    pub entries: u64,
    pub size: u64,
    #[serde(serialize_with = "ser_hex_opt")]
    pub head_hash: Option<Hash>,
    pub ledger_id: Option<String>,
    pub ledger_name: Option<String>,
    pub genesis_key: Option<String>,
    /// `pinned` when `--trust` matched, `first-use` when the genesis key was taken on trust.
    pub trust: &'static str,
    pub findings: Vec<Finding>,
    pub findings_omitted: u64,
    pub warnings: Vec<String>,
    pub redacted_fields: u64,
    pub redactions: Vec<RedactionSummary>,
    pub keys: Vec<String>,
    /// Every public key the ledger ever authorised (custody-ed25519 text).
    pub public_keys: Vec<String>,
    /// RFC 6962 root of the whole ledger (over entry hashes), computed from the log.
    #[serde(serialize_with = "ser_hex_opt")]
    pub tree_root: Option<Hash>,
    #[serde(skip)]
    pub tail: Tail,
}

fn ser_hex_opt<S: serde::Serializer>(h: &Option<Hash>, s: S) -> Result<S::Ok, S::Error> {
    match h {
        Some(h) => s.serialize_str(&hex::encode(h)),
        None => s.serialize_none(),
    }
}

impl Report {
    /// Adds a finding found outside the log walk (e.g. a checkpoint's signature).
    pub fn fail(&mut self, kind: &'static str, message: String) {
        self.findings.push(Finding { seq: None, segment: None, offset: None, kind, message });
        self.intact = false;
    }
}

/// Checks an entry's openings against its commitments. Returns the problems and the fields that
/// are marked redacted (to be matched with their redaction entries). `withheld_ok` is true inside a
/// bundle, where a producer may withhold fields.
pub fn check_content(e: &Entry, withheld_ok: bool) -> (Vec<Violation>, Vec<(Field, u64)>) {
    let mut problems = Vec::new();
    let mut redacted = Vec::new();
    let seq = e.seq();
    let Some(c) = e.change() else {
        if !e.openings.0.is_empty() {
            problems.push(Violation {
                kind: "content",
                message: format!("entry {seq}: a control entry carries field values"),
            });
        }
        return (problems, redacted);
    };
    for (f, cm) in &c.commitments {
        match e.openings.get(*f) {
            Some(Opening::Value { salt, value }) => {
                if commit(*f, salt, value) != *cm {
                    problems.push(Violation {
                        kind: "commitment",
                        message: format!("entry {seq}: the value of field `{f}` does not match its commitment (edited after signing)"),
                    });
                }
            }
            Some(Opening::Redacted { by }) => {
                if *by <= seq {
                    problems.push(Violation {
                        kind: "redaction",
                        message: format!(
                            "entry {seq}: field `{f}` claims redaction by entry {by}, which is not later than it"
                        ),
                    });
                } else {
                    redacted.push((*f, *by));
                }
            }
            Some(Opening::Withheld) if withheld_ok => {}
            Some(Opening::Withheld) => problems.push(Violation {
                kind: "missing_content",
                message: format!("entry {seq}: field `{f}` is marked withheld, which only a bundle may do"),
            }),
            None => problems.push(Violation {
                kind: "missing_content",
                message: format!("entry {seq}: the value of field `{f}` is missing and no redaction entry covers it"),
            }),
        }
    }
    for f in e.openings.0.keys() {
        if !c.commitments.contains_key(f) {
            problems.push(Violation {
                kind: "content",
                message: format!("entry {seq}: carries a value for field `{f}`, which it never committed to"),
            });
        }
    }
    // What is left must still be a valid record (limits and characters; secrets heuristics are not
    // part of the format and are not applied to stored entries).
    if problems.is_empty() {
        if let Some(rec) = c.to_record(&e.openings, Some("[not shown]")) {
            if let Err(err) = rec.validate_with(seq, false) {
                problems.push(Violation { kind: "record", message: format!("entry {seq}: {err}") });
            }
        }
    }
    (problems, redacted)
}

/// Checks a redaction marker against the redaction entry it names.
pub fn redaction_covers(c: &Control, seq: u64, mask: FieldMask) -> bool {
    match c {
        Control::Redact { ranges, .. } => {
            ranges.iter().any(|r| r.first <= seq && seq <= r.last && (r.mask.0 & mask.0) == mask.0)
        }
        _ => false,
    }
}

struct Decoded {
    frame: RawFrame,
    entry: Result<Entry, String>,
    content: (Vec<Violation>, Vec<(Field, u64)>),
    /// The signature checked in the parallel pass against the key its key ID named among the keys
    /// known before the chunk, and the result. The walk uses it only if the chain rules name that
    /// same key; otherwise the signature is checked again against the key they name.
    sig: Option<(PublicKey, bool)>,
}

/// The parallel part of verifying a chunk: decode each frame, check its content against its
/// commitments and the record rules, and check its signature against the key its key ID names
/// among `known` (the keys authorised before the chunk).
fn decode_chunk(frames: Vec<RawFrame>, known: &HashMap<KeyId, PublicKey>) -> Vec<Decoded> {
    frames
        .into_par_iter()
        .map(|frame| {
            let entry = Entry::decode(&frame.signed, frame.signature, &frame.openings).map_err(|e| e.to_string());
            let (content, sig) = match &entry {
                Ok(e) => (
                    check_content(e, false),
                    known.get(&e.header().key_id).map(|k| (*k, k.verify(&signature_message(&e.hash), &e.signature))),
                ),
                Err(_) => ((Vec::new(), Vec::new()), None),
            };
            Decoded { frame, entry, content, sig }
        })
        .collect()
}

/// Chunks decoding on the pool while the walk (one thread) goes through the chunk before them.
struct Pipeline {
    inflight: Option<std::sync::mpsc::Receiver<std::thread::Result<Vec<Decoded>>>>,
}

impl Pipeline {
    /// Starts decoding `frames` and walks the chunk decoded before them, if any.
    fn push(&mut self, v: &mut Walk<'_>, frames: Vec<RawFrame>) {
        if frames.is_empty() {
            return;
        }
        // Keys a control entry of the chunk being walked adds are not known yet: the few entries
        // signed with them are checked again in the walk.
        let known = v.state.parsed_keys().clone();
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        rayon::spawn(move || {
            let decoded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| decode_chunk(frames, &known)));
            let _ = tx.send(decoded);
        });
        self.drain(v);
        self.inflight = Some(rx);
    }

    /// Walks the chunk in flight.
    fn drain(&mut self, v: &mut Walk<'_>) {
        if let Some(rx) = self.inflight.take() {
            // A chunk is never skipped: a panic in its decode task goes on here, in the caller,
            // as it would have without the pipeline.
            match rx.recv() {
                Ok(Ok(decoded)) => v.walk(decoded),
                Ok(Err(panic)) => std::panic::resume_unwind(panic),
                Err(_) => unreachable!("a decode task always sends before its sender drops"),
            }
        }
    }
}

/// Verifies the ledger at `dir` (the ledger directory holding `log/`).
pub fn verify_ledger(dir: &Path, opts: &VerifyOptions<'_>) -> Result<Report, LogError> {
    let log_dir = dir.join("log");
    if !log_dir.is_dir() {
        return Err(LogError::Segment {
            path: log_dir.display().to_string(),
            problem: "no log directory: is this a custody ledger?".into(),
        });
    }
    let mut v = Walk::new(opts);
    let scanner = Scanner::open(&log_dir)?;
    // The scanner (reads, checksums, framing) runs on its own thread, a few chunks ahead of the
    // verification, which keeps the cores busy meanwhile.
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Result<ScanItem, LogError>>>(2);
    let reader = std::thread::spawn(move || {
        let mut scanner = scanner;
        let mut batch = Vec::with_capacity(CHUNK);
        for item in scanner.by_ref() {
            batch.push(item);
            if batch.len() == CHUNK && tx.send(std::mem::replace(&mut batch, Vec::with_capacity(CHUNK))).is_err() {
                return scanner.tail().clone();
            }
        }
        let _ = tx.send(batch);
        scanner.tail().clone()
    });
    let mut chunk = Vec::with_capacity(CHUNK);
    let mut pipe = Pipeline { inflight: None };
    for item in rx.iter().flatten() {
        match item? {
            ScanItem::Frame(f) => {
                chunk.push(f);
                if chunk.len() == CHUNK {
                    pipe.push(&mut v, std::mem::take(&mut chunk));
                }
            }
            ScanItem::Damage { segment, offset, problem, .. } => {
                pipe.push(&mut v, std::mem::take(&mut chunk));
                pipe.drain(&mut v);
                // The damaged frame is where the next expected entry should be.
                let expected = v.state.next_seq;
                v.find(Finding {
                    seq: Some(expected),
                    segment: Some(segment),
                    offset: Some(offset),
                    kind: "framing",
                    message: format!("{problem} (entry {expected} was expected here)"),
                });
            }
            ScanItem::BadSegment { segment, path, problem } => {
                pipe.push(&mut v, std::mem::take(&mut chunk));
                pipe.drain(&mut v);
                v.find(Finding {
                    seq: None,
                    segment: Some(segment),
                    offset: Some(0),
                    kind: "segment",
                    message: format!("{}: {problem}", path.display()),
                });
            }
        }
    }
    pipe.push(&mut v, chunk);
    pipe.drain(&mut v);
    // Every segment header names the genesis ledger ID.
    if let Some(id) = v.state.ledger_id {
        for (seg, path) in crate::log::list_segments(&log_dir)? {
            let mut hdr = [0u8; crate::log::SEGMENT_HEADER_LEN as usize];
            let read = std::fs::File::open(&path).and_then(|mut f| std::io::Read::read_exact(&mut f, &mut hdr));
            if let (Ok(()), Ok(h)) = (read, crate::log::SegmentHeader::decode(&hdr)) {
                if h.ledger_id != id {
                    v.find(Finding {
                        seq: None,
                        segment: Some(seg),
                        offset: Some(0),
                        kind: "segment",
                        message: format!(
                            "segment header names ledger {}, not this ledger ({})",
                            hex::encode(h.ledger_id),
                            hex::encode(id)
                        ),
                    });
                }
            }
        }
    }
    let tail = reader.join().map_err(|_| LogError::Segment {
        path: log_dir.display().to_string(),
        problem: "the log reader thread failed".into(),
    })?;
    Ok(v.finish(tail))
}

struct Walk<'a> {
    opts: &'a VerifyOptions<'a>,
    state: ChainState,
    findings: Vec<Finding>,
    omitted: u64,
    warnings: Vec<String>,
    entries: u64,
    /// Redaction markers waiting for their redaction entry: by seq -> (first, last, mask, incident)
    /// runs of consecutive entries.
    pending: BTreeMap<u64, Vec<(u64, u64, FieldMask, String)>>,
    redactions: BTreeMap<u64, RedactionSummary>,
    head_at: Option<Hash>,
    genesis_key: Option<PublicKey>,
    trust: &'static str,
    frontier: crate::checkpoint::Frontier,
    /// Roots seen at the sizes of the auditor's checkpoints.
    roots_at: BTreeMap<u64, Hash>,
}

impl<'a> Walk<'a> {
    fn new(opts: &'a VerifyOptions<'a>) -> Self {
        Walk {
            opts,
            state: ChainState::default(),
            findings: Vec::new(),
            omitted: 0,
            warnings: Vec::new(),
            entries: 0,
            pending: BTreeMap::new(),
            redactions: BTreeMap::new(),
            head_at: None,
            genesis_key: None,
            trust: "first-use",
            frontier: Default::default(),
            roots_at: BTreeMap::new(),
        }
    }

    fn find(&mut self, f: Finding) {
        if self.findings.len() < MAX_FINDINGS {
            self.findings.push(f);
        } else {
            self.omitted += 1;
        }
    }

    fn at(&mut self, fr: &RawFrame, seq: Option<u64>, v: Violation) {
        self.find(Finding {
            seq,
            segment: Some(fr.loc.segment),
            offset: Some(fr.loc.offset),
            kind: v.kind,
            message: v.message,
        });
    }

    /// The chain walk over a decoded chunk, in order.
    fn walk(&mut self, decoded: Vec<Decoded>) {
        if decoded.is_empty() {
            return;
        }
        let mut bad_sigs: Vec<usize> = Vec::new();
        // Signature jobs since the last flush: (index in `decoded`, key).
        let mut jobs: Vec<(usize, PublicKey)> = Vec::new();
        let mut rule_ok = vec![true; decoded.len()];
        for i in 0..decoded.len() {
            let d = &decoded[i];
            let e = match &d.entry {
                Ok(e) => e,
                Err(msg) => {
                    let fr = d.frame.clone();
                    self.at(
                        &fr,
                        None,
                        Violation { kind: "decode", message: format!("signed bytes do not decode: {msg}") },
                    );
                    continue;
                }
            };
            let seq = e.seq();
            let (key, violations) = self.state.check(e);
            if !violations.is_empty() {
                rule_ok[i] = false;
            }
            for viol in violations {
                let fr = d.frame.clone();
                self.at(&fr, Some(seq), viol);
            }
            if seq == 0 {
                if let Some(k) = key {
                    self.genesis_key = Some(k);
                    if let Some(t) = &self.opts.trust {
                        if *t != k {
                            rule_ok[i] = false;
                            let fr = d.frame.clone();
                            self.at(
                                &fr,
                                Some(0),
                                Violation {
                                    kind: "trust",
                                    message: format!(
                                        "the genesis key is {}, not the trusted key {}",
                                        k.to_text(),
                                        t.to_text()
                                    ),
                                },
                            );
                        } else {
                            self.trust = "pinned";
                        }
                    }
                }
            }
            for viol in d.content.0.clone() {
                let fr = d.frame.clone();
                self.at(&fr, Some(seq), viol);
            }
            // One run per (redaction, entry range, mask, incident); an entry's fields merge into one mask.
            let mut marks: BTreeMap<u64, FieldMask> = BTreeMap::new();
            for (f, by) in &d.content.1 {
                let m = marks.entry(*by).or_default();
                *m = m.with(*f);
            }
            let incident = e.change().map(|c| c.incident.clone()).unwrap_or_default();
            for (by, m) in marks {
                let runs = self.pending.entry(by).or_default();
                match runs.last_mut() {
                    Some((_, last, mask, inc)) if *last + 1 == seq && *mask == m && *inc == incident => *last = seq,
                    _ => runs.push((seq, seq, m, incident.clone())),
                }
            }
            if let Some(k) = key {
                match d.sig {
                    Some((checked, ok)) if checked == k => {
                        if !ok {
                            bad_sigs.push(i);
                            self.signature_failed(&decoded[i]);
                        }
                    }
                    _ => jobs.push((i, k)),
                }
            }
            self.state.advance(e);
            self.entries += 1;
            self.frontier.push(e);
            if self.opts.checkpoints.iter().any(|(size, _)| *size == self.frontier.size()) {
                self.roots_at.insert(self.frontier.size(), self.frontier.root());
            }
            if let Some((size, _)) = self.opts.head {
                if size > 0 && seq == size - 1 {
                    self.head_at = Some(e.hash);
                }
            }
            if let Some(c) = e.control() {
                // Flush: a control entry's effect depends on its own signature.
                let bad = self.flush(&decoded, &mut jobs);
                let valid = rule_ok[i] && !bad.contains(&i) && !bad_sigs.contains(&i);
                if valid {
                    self.state.apply_control(seq, c);
                }
                if let Control::Redact { .. } = c {
                    self.resolve_redaction(seq, c, valid, &d.frame);
                }
            }
        }
        self.flush(&decoded, &mut jobs);
        if let Some(p) = self.opts.progress {
            p(self.entries);
        }
        // Freed on the pool, while the walk goes on.
        rayon::spawn(move || drop(decoded));
    }

    /// Verifies the queued signatures in parallel; returns the indexes that failed.
    fn flush(&mut self, decoded: &[Decoded], jobs: &mut Vec<(usize, PublicKey)>) -> Vec<usize> {
        if jobs.is_empty() {
            return Vec::new();
        }
        let bad: Vec<usize> = jobs
            .par_iter()
            .filter_map(|(i, k)| {
                let e = decoded[*i].entry.as_ref().ok()?;
                (!k.verify(&signature_message(&e.hash), &e.signature)).then_some(*i)
            })
            .collect();
        for i in &bad {
            self.signature_failed(&decoded[*i]);
        }
        jobs.clear();
        bad
    }

    fn signature_failed(&mut self, d: &Decoded) {
        if let Ok(e) = &d.entry {
            let fr = d.frame.clone();
            let msg = format!("signature by key {} does not verify", hex::encode(e.header().key_id));
            self.at(&fr, Some(e.seq()), Violation { kind: "signature", message: msg });
        }
    }

    fn resolve_redaction(&mut self, seq: u64, c: &Control, valid: bool, fr: &RawFrame) {
        let runs = self.pending.remove(&seq).unwrap_or_default();
        let mut summary = RedactionSummary { redaction_seq: seq, fields: 0, entries: 0 };
        for (first, last, mask, incident) in runs {
            if let Some(h) = self.state.holds.get(&incident).filter(|_| valid) {
                self.find(Finding {
                    seq: Some(seq),
                    segment: Some(fr.loc.segment),
                    offset: Some(fr.loc.offset),
                    kind: "hold",
                    message: format!(
                        "redaction entry {seq} erased entries {first}..={last} of incident {incident}, which is under legal hold since entry {}",
                        h.since
                    ),
                });
            }
            for n in first..=last {
                if valid && redaction_covers(c, n, mask) {
                    summary.fields += mask.fields().count() as u64;
                    summary.entries += 1;
                } else {
                    let why = if valid { "which does not cover it" } else { "which is not a valid redaction entry" };
                    self.find(Finding {
                        seq: Some(n),
                        segment: None,
                        offset: None,
                        kind: "missing_content",
                        message: format!(
                            "entry {n}: field(s) {} marked redacted by entry {seq}, {why}",
                            mask.names().join(", ")
                        ),
                    });
                }
            }
        }
        if summary.fields > 0 {
            self.redactions.insert(seq, summary);
        }
    }

    fn finish(mut self, tail: Tail) -> Report {
        let leftover = std::mem::take(&mut self.pending);
        for (by, runs) in leftover {
            for (first, last, mask, _) in runs {
                self.find(Finding {
                    seq: Some(first),
                    segment: None,
                    offset: None,
                    kind: "missing_content",
                    message: format!(
                        "entries {first}..={last}: field(s) {} marked redacted by entry {by}, which is not a redaction entry of this ledger",
                        mask.names().join(", ")
                    ),
                });
            }
        }
        if let Tail::Torn { segment, offset, bytes, incomplete_batch_frames, problem, .. } = &tail {
            self.warnings.push(format!(
                "torn tail in segment {segment} at offset {offset}: {bytes} bytes ({incomplete_batch_frames} complete frames of an unfinished batch; {problem}). It was never acknowledged; opening the ledger for writing moves it to quarantine/"
            ));
        }
        if let Some((size, hash)) = self.opts.head {
            if self.state.next_seq < size {
                self.find(Finding {
                    seq: Some(self.state.next_seq),
                    segment: None,
                    offset: None,
                    kind: "truncated",
                    message: format!(
                        "the ledger has {} entries but the head you noted has {size}: acknowledged entries {}..{} are missing",
                        self.state.next_seq,
                        self.state.next_seq,
                        size - 1
                    ),
                });
            } else if size > 0 && self.head_at != Some(hash) {
                self.find(Finding {
                    seq: Some(size - 1),
                    segment: None,
                    offset: None,
                    kind: "rewritten",
                    message: format!(
                        "entry {} has hash {}, not the head hash you noted ({}): the ledger was rewritten since",
                        size - 1,
                        self.head_at.map(|h| short(&h)).unwrap_or_else(|| "(absent)".into()),
                        short(&hash)
                    ),
                });
            }
        }
        for (size, root) in &self.opts.checkpoints {
            match self.roots_at.get(size) {
                None => self.find(Finding {
                    seq: Some(self.frontier.size()),
                    segment: None,
                    offset: None,
                    kind: "checkpoint",
                    message: format!(
                        "the checkpoint covers {size} entries but the log holds {}: the ledger was truncated or rolled back since it was issued",
                        self.frontier.size()
                    ),
                }),
                Some(r) if r != root => self.find(Finding {
                    seq: Some(size - 1),
                    segment: None,
                    offset: None,
                    kind: "checkpoint",
                    message: format!(
                        "the log's tree of {size} entries has root {}, not the checkpoint's {}: entries before {size} were rewritten (or the ledger forked) since the checkpoint was issued",
                        hex::encode(r),
                        hex::encode(root)
                    ),
                }),
                Some(_) => {}
            }
        }
        if self.entries == 0 && self.findings.is_empty() {
            self.find(Finding {
                seq: None,
                segment: None,
                offset: None,
                kind: "genesis",
                message: "the ledger holds no entries, not even its genesis".into(),
            });
        }
        if self.opts.trust.is_none() && self.genesis_key.is_some() {
            self.warnings.push("the genesis key was trusted on first use; pass --trust PUBKEY to pin it".into());
        }
        let keys = self
            .state
            .keys
            .iter()
            .map(|(id, k)| match k.retired_at {
                Some(r) => format!("{id} ({}, added at entry {}, retired at entry {r})", k.label, k.added_at),
                None => format!("{id} ({}, added at entry {})", k.label, k.added_at),
            })
            .collect();
        let public_keys = self
            .state
            .keys
            .values()
            .filter_map(|k| PublicKey::from_bytes(&k.public_key).ok())
            .map(|k| k.to_text())
            .collect();
        let redactions: Vec<RedactionSummary> = self.redactions.into_values().collect();
        Report {
            intact: self.findings.is_empty() && self.omitted == 0,
            entries: self.entries,
            size: self.state.next_seq,
            head_hash: (self.entries > 0).then_some(self.state.head_hash),
            ledger_id: self.state.ledger_id.map(hex::encode),
            ledger_name: (!self.state.name.is_empty()).then(|| self.state.name.clone()),
            genesis_key: self.genesis_key.map(|k| k.to_text()),
            trust: self.trust,
            findings: self.findings,
            findings_omitted: self.omitted,
            warnings: self.warnings,
            redacted_fields: redactions.iter().map(|r| r.fields).sum(),
            tree_root: (self.entries > 0).then(|| self.frontier.root()),
            redactions,
            keys,
            public_keys,
            tail,
        }
    }
}
