//! Erasure, legal hold and retention: forgetting content under a recorded authority while every
//! signed byte still verifies.
//!
//! A redaction is a signed `redact` control entry naming entries and fields, followed by the removal
//! of those values and salts from every place custody stores them: the segment files (rewritten
//! crash-safely by [`crate::log::rewrite_segment`], signed bytes untouched) and the index (which
//! holds only keyed digests, whose postings are removed). The intent is written to
//! `log/redaction.pending` before the entry is appended and removed after the rewrite, so a crash at
//! any point leaves every field either present or covered by a durable redaction entry, and the next
//! open finishes the job. Legal holds are control entries too; nothing under hold is redacted.

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::io::Write;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::commit::{Field, FieldMask, Opening, Openings};
use crate::entry::{Body, Control, Entry, RedactMode, RedactRange};
use crate::index::{Loc, Posting};
use crate::ledger::{evidence_keys, Ledger, LedgerError, Receipt, Writer};
use crate::log::{self, list_segments};
use crate::record::limits;
use crate::sign::SecretKey;
use crate::time::Timestamp;

const PENDING: &str = "redaction.pending";
/// Ranges per redaction entry, so that one entry stays far below the 1 MiB limit.
const MAX_RANGES: usize = 40_000;

/// Who asks for an erasure and why.
#[derive(Clone, Debug)]
pub struct Authority {
    pub reason: String,
    pub authority: String,
    pub approved_by: String,
}

/// What a redaction did.
#[derive(Clone, Debug, Serialize)]
pub struct RedactOutcome {
    pub receipts: Vec<Receipt>,
    pub entries: u64,
    pub fields: u64,
}

/// What retention would redact.
#[derive(Clone, Debug, Serialize)]
pub struct RetentionPlan {
    pub cutoff: String,
    pub entries: u64,
    pub fields: u64,
    /// Entries left alone because their incident is under legal hold.
    pub held_entries: u64,
    pub held_incidents: Vec<String>,
    #[serde(skip)]
    pub targets: Vec<(u64, FieldMask)>,
}

#[derive(Serialize, Deserialize)]
struct Intent {
    /// The seq the redaction entry was to get (it is at or after this).
    from_seq: u64,
    ranges: Vec<(u64, u64, u16)>,
}

fn to_ranges(targets: &[(u64, FieldMask)]) -> Vec<RedactRange> {
    let mut out: Vec<RedactRange> = Vec::new();
    for (seq, mask) in targets {
        match out.last_mut() {
            Some(r) if r.last + 1 == *seq && r.mask == *mask => r.last = *seq,
            _ => out.push(RedactRange { first: *seq, last: *seq, mask: *mask }),
        }
    }
    out
}

fn check_authority(a: &Authority) -> Result<(), LedgerError> {
    for (f, v) in [("--reason", &a.reason), ("--authority", &a.authority), ("--approved-by", &a.approved_by)] {
        crate::record::check_text(f, v, limits::REASON).map_err(|e| LedgerError::Invalid(e.to_string()))?;
    }
    Ok(())
}

impl Ledger {
    fn pending_path(&self) -> PathBuf {
        self.dir().join("log").join(PENDING)
    }

    /// Erases `fields` of the entries `seqs` under a recorded authority. Refused (nothing changes)
    /// for entries that do not exist, are not access changes, lack the field, or belong to an
    /// incident under legal hold.
    pub fn redact(
        &self,
        key: &SecretKey,
        seqs: &[u64],
        fields: &[Field],
        who: &Authority,
    ) -> Result<RedactOutcome, LedgerError> {
        check_authority(who)?;
        if seqs.is_empty() || fields.is_empty() {
            return Err(LedgerError::Invalid("name at least one --seq and one --field".into()));
        }
        let mut w = self.writer_lock();
        let mut targets = Vec::new();
        let mut sorted: Vec<u64> = seqs.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        for seq in sorted {
            if seq >= w.state.next_seq {
                return Err(LedgerError::NoSuchEntry { seq, size: w.state.next_seq });
            }
            let e = self.get_unlocked(seq)?;
            let Some(c) = e.change() else {
                return Err(LedgerError::Invalid(format!(
                    "entry {seq} is a {} control entry; only access-change records hold redactable fields",
                    e.action_name()
                )));
            };
            if let Some(h) = w.state.holds.get(&c.incident) {
                return Err(LedgerError::Held {
                    incident: c.incident.clone(),
                    since: h.since,
                    reference: h.reference.clone(),
                    what: format!("redacting entry {seq}"),
                });
            }
            let mut mask = FieldMask::default();
            for f in fields {
                match e.openings.get(*f) {
                    None if !c.commitments.contains_key(f) => {
                        return Err(LedgerError::Invalid(format!("entry {seq} has no `{f}` field to redact")));
                    }
                    Some(Opening::Redacted { by }) => {
                        return Err(LedgerError::Invalid(format!(
                            "entry {seq}: `{f}` was already redacted by entry {by}"
                        )));
                    }
                    _ => mask = mask.with(*f),
                }
            }
            targets.push((seq, mask));
        }
        let mode = RedactMode::Erasure;
        self.redact_locked(&mut w, key, &targets, who, mode, None)
    }

    /// The entries retention would redact: every open redactable field of access-change entries
    /// recorded (ledger time) before `cutoff`, except incidents under legal hold.
    pub fn retention_plan(&self, cutoff: Timestamp) -> Result<RetentionPlan, LedgerError> {
        let w = self.writer_lock();
        self.plan_locked(&w, cutoff)
    }

    fn plan_locked(&self, w: &Writer, cutoff: Timestamp) -> Result<RetentionPlan, LedgerError> {
        let mut plan = RetentionPlan {
            cutoff: cutoff.to_rfc3339(),
            entries: 0,
            fields: 0,
            held_entries: 0,
            held_incidents: Vec::new(),
            targets: Vec::new(),
        };
        let mut held = std::collections::BTreeSet::new();
        for seq in 0..w.state.next_seq {
            let e = self.get_unlocked(seq)?;
            if e.header().ledger_time >= cutoff {
                break;
            }
            let Some(c) = e.change() else { continue };
            let mut mask = FieldMask::default();
            for (f, o) in &e.openings.0 {
                if matches!(o, Opening::Value { .. }) {
                    mask = mask.with(*f);
                }
            }
            if mask.0 == 0 {
                continue;
            }
            if w.state.holds.contains_key(&c.incident) {
                plan.held_entries += 1;
                held.insert(c.incident.clone());
                continue;
            }
            plan.entries += 1;
            plan.fields += mask.fields().count() as u64;
            plan.targets.push((seq, mask));
        }
        plan.held_incidents = held.into_iter().collect();
        Ok(plan)
    }

    /// Applies retention: one redaction entry (mode retention) per run, split only when needed.
    pub fn retention_apply(
        &self,
        key: &SecretKey,
        cutoff: Timestamp,
        who: &Authority,
    ) -> Result<(RetentionPlan, RedactOutcome), LedgerError> {
        check_authority(who)?;
        let mut w = self.writer_lock();
        let plan = self.plan_locked(&w, cutoff)?;
        if plan.targets.is_empty() {
            return Ok((plan, RedactOutcome { receipts: Vec::new(), entries: 0, fields: 0 }));
        }
        let out = self.redact_locked(&mut w, key, &plan.targets, who, RedactMode::Retention, Some(cutoff))?;
        Ok((plan, out))
    }

    fn redact_locked(
        &self,
        w: &mut Writer,
        key: &SecretKey,
        targets: &[(u64, FieldMask)],
        who: &Authority,
        mode: RedactMode,
        cutoff: Option<Timestamp>,
    ) -> Result<RedactOutcome, LedgerError> {
        let ranges = to_ranges(targets);
        let mut out = RedactOutcome {
            receipts: Vec::new(),
            entries: targets.len() as u64,
            fields: targets.iter().map(|(_, m)| m.fields().count() as u64).sum(),
        };
        for chunk in ranges.chunks(MAX_RANGES) {
            let control = Control::Redact {
                mode,
                ranges: chunk.to_vec(),
                reason: who.reason.clone(),
                authority: who.authority.clone(),
                approved_by: who.approved_by.clone(),
                cutoff,
            };
            w.state.check_control(w.state.next_seq, &control).map_err(LedgerError::Invalid)?;
            // 1. the intent, durably, before the entry
            let intent = Intent {
                from_seq: w.state.next_seq,
                ranges: chunk.iter().map(|r| (r.first, r.last, r.mask.0)).collect(),
            };
            self.write_intent(&intent)?;
            // 2. the signed redaction entry, durably
            let receipt = self
                .write(
                    w,
                    key,
                    vec![(Body::Control(control), Openings::default())],
                    &crate::ledger::Submission::default(),
                )?
                .remove(0);
            // 3. remove the values everywhere, crash-safely
            self.apply_redaction(w, receipt.seq, chunk)?;
            // 4. done: the index's new offsets are written out before the intent goes
            self.index().flush()?;
            self.clear_intent()?;
            out.receipts.push(receipt);
        }
        Ok(out)
    }

    fn write_intent(&self, intent: &Intent) -> Result<(), LedgerError> {
        let path = self.pending_path();
        let io = |e| LedgerError::Io { path: path.display().to_string(), source: e };
        let mut f = fs::File::create(&path).map_err(io)?;
        f.write_all(&serde_json::to_vec(intent).unwrap_or_default()).and_then(|_| f.sync_all()).map_err(io)?;
        log::sync_dir(&self.dir().join("log"))?;
        Ok(())
    }

    fn clear_intent(&self) -> Result<(), LedgerError> {
        let path = self.pending_path();
        if path.exists() {
            fs::remove_file(&path).map_err(|e| LedgerError::Io { path: path.display().to_string(), source: e })?;
            log::sync_dir(&self.dir().join("log"))?;
        }
        Ok(())
    }

    /// Finishes a redaction a crash interrupted (called on open).
    pub(crate) fn finish_pending_redaction(&self) -> Result<(), LedgerError> {
        let path = self.pending_path();
        let Ok(text) = fs::read(&path) else {
            return Ok(());
        };
        let mut w = self.writer_lock();
        if let Ok(intent) = serde_json::from_slice::<Intent>(&text) {
            let want: Vec<RedactRange> = intent
                .ranges
                .iter()
                .map(|(a, b, m)| RedactRange { first: *a, last: *b, mask: FieldMask(*m) })
                .collect();
            for seq in intent.from_seq..w.state.next_seq {
                let e = self.get_unlocked(seq)?;
                if let Some(Control::Redact { ranges, .. }) = e.control() {
                    if *ranges == want {
                        self.apply_redaction(&mut w, seq, &want)?;
                        break;
                    }
                }
            }
        }
        drop(w);
        self.clear_intent()
    }

    /// Replaces the covered openings with redaction markers in every segment that holds them, and
    /// removes the index postings of the erased values.
    fn apply_redaction(&self, w: &mut Writer, by: u64, ranges: &[RedactRange]) -> Result<(), LedgerError> {
        let covered = |seq: u64| ranges.iter().find(|r| r.first <= seq && seq <= r.last).map(|r| r.mask);
        // Which segments hold covered entries.
        let mut segments = std::collections::BTreeSet::new();
        for r in ranges {
            for seq in [r.first, r.last] {
                if let Some(loc) = self.loc(seq)? {
                    segments.insert(loc.frame.segment);
                }
            }
        }
        if let (Some(first), Some(last)) = (segments.first().copied(), segments.last().copied()) {
            for (s, _) in list_segments(&self.dir().join("log"))? {
                if s >= first && s <= last {
                    segments.insert(s);
                }
            }
        }
        let mut removed_postings: Vec<(Posting, Vec<u8>, u64)> = Vec::new();
        let mut touched = HashSet::new();
        for seg in segments {
            let path = self.dir().join("log").join(log::segment_name(seg));
            let mut edit = |f: &log::RawFrame| -> Option<Vec<u8>> {
                let e = Entry::decode(&f.signed, f.signature, &f.openings).ok()?;
                let mask = covered(e.seq())?;
                let c = e.change()?;
                let mut o = e.openings.clone();
                let mut changed = false;
                for field in mask.fields() {
                    if let Some(Opening::Value { value, .. }) = o.0.get(&field) {
                        match field {
                            Field::TargetId => removed_postings.push((Posting::Target, value.clone(), e.seq())),
                            Field::ActorId => removed_postings.push((Posting::Actor, value.clone(), e.seq())),
                            Field::Evidence => {
                                if let Some(crate::entry::Shown::Value(ev)) = c.evidence(&e.openings) {
                                    for k in evidence_keys(&ev) {
                                        removed_postings.push((Posting::Evidence, k.into_bytes(), e.seq()));
                                    }
                                }
                            }
                            _ => {}
                        }
                        o.0.insert(field, Opening::Redacted { by });
                        changed = true;
                    }
                }
                changed.then(|| o.encode())
            };
            let moved = log::rewrite_segment(&path, &mut edit)?;
            touched.insert(seg);
            for (frame, loc) in moved {
                if let Ok(e) = Entry::decode(&frame.signed, frame.signature, &frame.openings) {
                    if let Some(old) = self.loc(e.seq())? {
                        self.index().set_loc(e.seq(), Loc { frame: loc, ..old })?;
                    }
                }
            }
        }
        for (kind, value, seq) in removed_postings {
            self.index().remove_posting(kind, &value, seq)?;
        }
        self.drop_file_cache();
        if touched.contains(&w.appender.position().0) {
            w.appender.reopen()?;
        }
        Ok(())
    }

    /// Reads an entry while the writer lock is already held by the caller.
    fn get_unlocked(&self, seq: u64) -> Result<Entry, LedgerError> {
        let loc = self.loc(seq)?.ok_or(LedgerError::NoSuchEntry { seq, size: seq })?;
        self.read_at(loc.frame)
    }

    /// Places an incident under legal hold.
    pub fn hold_add(
        &self,
        key: &SecretKey,
        incident: &str,
        reason: &str,
        reference: &str,
    ) -> Result<Receipt, LedgerError> {
        self.hold(key, incident, reason, reference, true)
    }

    /// Releases a legal hold.
    pub fn hold_release(
        &self,
        key: &SecretKey,
        incident: &str,
        reason: &str,
        reference: &str,
    ) -> Result<Receipt, LedgerError> {
        self.hold(key, incident, reason, reference, false)
    }

    fn hold(
        &self,
        key: &SecretKey,
        incident: &str,
        reason: &str,
        reference: &str,
        add: bool,
    ) -> Result<Receipt, LedgerError> {
        for (f, v, max) in [
            ("--incident", incident, limits::INCIDENT),
            ("--reason", reason, limits::REASON),
            ("--ref", reference, limits::ID),
        ] {
            crate::record::check_text(f, v, max).map_err(|e| LedgerError::Invalid(e.to_string()))?;
        }
        let (incident, reason, reference) = (incident.to_string(), reason.to_string(), reference.to_string());
        let control = if add {
            Control::HoldAdd { incident, reason, reference }
        } else {
            Control::HoldRelease { incident, reason, reference }
        };
        self.append_control(key, control)
    }

    /// Holds in force, by incident.
    pub fn holds(&self) -> BTreeMap<String, crate::chain::HoldState> {
        self.with_state(|s| s.holds.clone())
    }
}
