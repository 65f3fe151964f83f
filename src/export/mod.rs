//! Export: the entries a [`Filter`] selects, written as JSON Lines, CSV, HTML, OCSF or Timesketch.
//!
//! This is the "export" step at the end of custody's data flow. It owns the formats and nothing
//! else: selection is [`Ledger::select`] (posting lists and the time index, so that exporting k entries
//! of an n-entry ledger costs about O(k log n) reads, not a scan), verification is
//! [`crate::verify::verify_ledger`] (summarised here as a [`Verification`] for the report), and every
//! format is fed from the same [`Row`]s: one entry with each redactable field resolved to a [`Cell`].
//! A field that was erased is a [`Cell::Redacted`] carrying the redaction entry's seq, reason and
//! authority, so no format can show it as an empty string. Output streams to a `&mut dyn Write`:
//! memory stays bounded by one entry (plus, for HTML, the incident summary). One file per format:
//! [`jsonl`], [`csv`], [`html`], [`ocsf`], [`timesketch`]; `docs/EXPORT.md` documents the CSV columns
//! and the OCSF mapping.

pub mod csv;
pub mod html;
pub mod jsonl;
pub mod ocsf;
pub mod timesketch;

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io::{self, BufWriter, Write};

use serde_json::{json, Map, Value};

use crate::checkpoint::{self, ProofError};
use crate::commit::Field;
use crate::entry::{ApprovalKind, Control, Entry, Shown};
use crate::index::{IndexError, Posting};
use crate::ledger::{Filter, Ledger, LedgerError};
use crate::note::{Checkpoint, SignedNote};
use crate::record::{ActorKind, Evidence, Status, TargetKind};
use crate::sign::{PublicKey, SecretKey};
use crate::time::Timestamp;
use crate::verify::{verify_ledger, VerifyOptions};

/// The export formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Full entries, one JSON object per line, with seq, entry hash and signature.
    Jsonl,
    /// RFC 4180 CSV with fixed columns ([`csv::COLUMNS`]).
    Csv,
    /// One self-contained HTML report: summary, timeline, verification.
    Html,
    /// OCSF 1.3.0 events, one JSON object per line.
    Ocsf,
    /// Timesketch / Plaso-style JSON Lines (`message`, `datetime`, `timestamp_desc`).
    Timesketch,
}

impl Format {
    pub const ALL: &'static [Format] = &[Format::Jsonl, Format::Csv, Format::Html, Format::Ocsf, Format::Timesketch];

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Jsonl => "jsonl",
            Format::Csv => "csv",
            Format::Html => "html",
            Format::Ocsf => "ocsf",
            Format::Timesketch => "timesketch",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Format::ALL.iter().copied().find(|f| f.as_str() == s).ok_or_else(|| {
            let names: Vec<&str> = Format::ALL.iter().map(|f| f.as_str()).collect();
            format!("unknown export format `{s}` (expected one of: {})", names.join(", "))
        })
    }
}

/// Why an export could not be written. A ledger that does not verify is not an error: the export
/// is written and its [`Verification`] says so.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("checkpoint: {0}")]
    Checkpoint(#[from] ProofError),
    #[error("verifying the ledger before the export: {0}")]
    Verify(#[from] crate::log::LogError),
    #[error("writing the export: {0}")]
    Write(#[from] io::Error),
}

/// What an export wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ExportStats {
    /// Entries written.
    pub entries: u64,
    /// Redactable fields shown as redacted (or withheld) instead of a value.
    pub redacted_fields: u64,
    /// Seqs of selected entries that are damaged in the log (marked in the export).
    pub damaged: Vec<u64>,
}

/// The checkpoint an export's verification was checked against.
#[derive(Clone, Debug, serde::Serialize)]
pub struct CheckpointSummary {
    /// The signed note, as issued.
    pub note: String,
    pub origin: String,
    pub size: u64,
    /// RFC 6962 root (hex).
    pub root: String,
    /// Whether the note is signed by a key of the ledger.
    pub signature_ok: bool,
    /// Issued for this export (`--checkpoint-key`) rather than the latest kept one.
    pub fresh: bool,
}

/// The result of verifying the ledger before an export, as the report shows it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Verification {
    pub intact: bool,
    /// Entries checked.
    pub entries: u64,
    /// Head hash of the verified log (hex).
    pub head_hash: Option<String>,
    /// RFC 6962 root of the whole verified log (hex).
    pub tree_root: Option<String>,
    /// `pinned` or `first-use` (see [`crate::verify::Report::trust`]).
    pub trust: String,
    /// Signer keys: key ID, label, when added and retired.
    pub keys: Vec<String>,
    pub checkpoint: Option<CheckpointSummary>,
    /// Number of findings (integrity problems).
    pub findings: u64,
    /// The first findings, as text.
    pub finding_lines: Vec<String>,
}

/// How many findings a [`Verification`] keeps as text.
const FINDING_LINES: usize = 20;

impl Verification {
    /// Verifies the ledger for an export: issues a fresh checkpoint with `fresh_key` (an active key of
    /// the ledger) or takes the latest checkpoint the ledger issued, walks the whole log with
    /// [`verify_ledger`] holding it to that checkpoint's tree, and checks the checkpoint's signature
    /// against the ledger's keys. Without any checkpoint the result rests on the log alone. With
    /// `trust`, the genesis entry must be signed by that key (as `custody verify --trust`);
    /// without it, the genesis key is trusted on first use and the result says so.
    pub fn check(
        ledger: &Ledger,
        fresh_key: Option<&SecretKey>,
        trust: Option<PublicKey>,
    ) -> Result<Self, ExportError> {
        let (note, fresh) = match fresh_key {
            Some(k) => (Some(checkpoint::issue(ledger, k)?.note), true),
            None => (checkpoint::issued(ledger.dir())?.pop().map(|(_, n)| n), false),
        };
        // A kept checkpoint that does not even parse is an integrity finding, not an error.
        let (body, unreadable) = match note.as_deref().map(parse_checkpoint) {
            Some(Ok(b)) => (Some(b), None),
            Some(Err(e)) => (None, Some(e)),
            None => (None, None),
        };
        let opts = VerifyOptions {
            trust,
            checkpoints: body.iter().map(|b| (b.size(), *b.root())).collect(),
            ..Default::default()
        };
        let mut report = verify_ledger(ledger.dir(), &opts)?;
        if let Some(e) = unreadable {
            report.fail("checkpoint", format!("the latest checkpoint in checkpoints/ is unreadable: {e}"));
        }
        let checkpoint = match (note, body) {
            (Some(note), Some(body)) => {
                let keys: Vec<PublicKey> = report.public_keys.iter().filter_map(|k| PublicKey::parse(k).ok()).collect();
                let signature_ok = match checkpoint::verify_checkpoint(&note, &keys, &[]) {
                    Ok(_) => true,
                    Err(e) => {
                        report.fail("checkpoint", e.to_string());
                        false
                    }
                };
                Some(CheckpointSummary {
                    origin: body.origin().to_string(),
                    size: body.size(),
                    root: hex::encode(body.root()),
                    note,
                    signature_ok,
                    fresh,
                })
            }
            _ => None,
        };
        Ok(Verification {
            intact: report.intact,
            entries: report.entries,
            head_hash: report.head_hash.map(hex::encode),
            tree_root: report.tree_root.map(hex::encode),
            trust: report.trust.to_string(),
            keys: report.keys.clone(),
            checkpoint,
            findings: report.findings.len() as u64 + report.findings_omitted,
            finding_lines: report.findings.iter().take(FINDING_LINES).map(|f| f.to_string()).collect(),
        })
    }

    /// One line for stderr and report headers.
    pub fn headline(&self) -> String {
        let against = match &self.checkpoint {
            Some(c) => format!("checkpoint of size {} (root {})", c.size, c.root),
            None => "the log alone (no checkpoint issued; pass --checkpoint-key KEY to issue one)".to_string(),
        };
        if self.intact {
            format!("Ledger verified: intact, {} entries, checked against {against}", self.entries)
        } else {
            format!(
                "LEDGER NOT VERIFIED: {} integrity problem(s) found, checked against {against}; do not rely on this export",
                self.findings
            )
        }
    }
}

fn parse_checkpoint(note: &str) -> Result<Checkpoint, String> {
    let n = SignedNote::parse(note).map_err(|e| format!("not a signed note: {e}"))?;
    Checkpoint::parse(n.text()).map_err(|e| format!("not a checkpoint: {e}"))
}

/// What every format may say about the export as a whole.
#[derive(Clone, Debug)]
pub struct Context {
    pub ledger_name: String,
    /// Ledger ID (hex).
    pub ledger_id: String,
    /// The filter in words, e.g. `incident INC-2026-0042`.
    pub filter: String,
    /// The incident, when the filter names exactly one.
    pub incident: Option<String>,
    /// When the export was made (also "now" for whether a grant has expired).
    pub generated_at: Timestamp,
    pub verification: Option<Verification>,
}

impl Context {
    /// The context of an export of `filter` from `ledger`, without a verification yet.
    pub fn new(ledger: &Ledger, filter: &Filter) -> Self {
        let st = ledger.state();
        Context {
            ledger_name: st.name.clone(),
            ledger_id: st.ledger_id.map(hex::encode).unwrap_or_default(),
            filter: describe_filter(filter),
            incident: filter.incident.clone(),
            generated_at: Timestamp::now(),
            verification: None,
        }
    }
}

/// A filter in words.
pub fn describe_filter(f: &Filter) -> String {
    let mut parts = Vec::new();
    if let Some(i) = &f.incident {
        parts.push(format!("incident {i}"));
    }
    if let Some(t) = &f.target {
        parts.push(format!("target {t}"));
    }
    if let Some(a) = &f.actor {
        parts.push(format!("actor {a}"));
    }
    if let Some(s) = f.since {
        parts.push(format!("event time at or after {s}"));
    }
    if let Some(u) = f.until {
        parts.push(format!("event time at or before {u}"));
    }
    if parts.is_empty() {
        "all entries".to_string()
    } else {
        parts.join(", ")
    }
}

/// The redaction entry behind an erased field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Redaction {
    /// Seq of the redaction entry.
    pub by: u64,
    pub reason: String,
    pub authority: String,
    /// `erasure` or `retention`.
    pub mode: String,
}

/// What an export shows for one redactable field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cell<T> {
    Value(T),
    /// Erased under a redaction entry.
    Redacted(Redaction),
    /// Left out of an evidence bundle by its producer.
    Withheld,
    /// Committed but not present and not covered by a redaction (verification reports it).
    Missing,
}

impl<T> Cell<T> {
    pub fn value(&self) -> Option<&T> {
        match self {
            Cell::Value(v) => Some(v),
            _ => None,
        }
    }

    /// The text shown in place of a value that is not there, e.g.
    /// `[redacted by entry 12: GDPR Art. 17 erasure; authority: DPO-2026-7]`.
    pub fn placeholder(&self) -> Option<String> {
        match self {
            Cell::Value(_) => None,
            Cell::Redacted(r) => {
                Some(format!("[redacted by entry {}: {}; authority: {}]", r.by, r.reason, r.authority))
            }
            Cell::Withheld => Some("[withheld by the bundle's producer]".to_string()),
            Cell::Missing => Some("[missing: the value is gone and no redaction entry covers it]".to_string()),
        }
    }

    /// The JSON form of a field that is not there (the shape `custody log --json` uses).
    pub fn placeholder_json(&self) -> Option<Value> {
        match self {
            Cell::Value(_) => None,
            Cell::Redacted(r) => Some(json!({"redacted": {
                "by": r.by, "reason": r.reason, "authority": r.authority, "mode": r.mode}})),
            Cell::Withheld => Some(json!({"withheld": true})),
            Cell::Missing => Some(json!({"missing": true})),
        }
    }
}

impl Cell<String> {
    /// The value, or the placeholder text.
    pub fn text(&self) -> String {
        match self {
            Cell::Value(v) => v.clone(),
            other => other.placeholder().unwrap_or_default(),
        }
    }

    /// The value as a JSON string, or the placeholder object.
    pub fn json(&self) -> Value {
        match self {
            Cell::Value(v) => Value::String(v.clone()),
            other => other.placeholder_json().unwrap_or(Value::Null),
        }
    }
}

/// The approval of a change, as shown.
#[derive(Clone, Debug)]
pub enum ApprovalView {
    Approved { by: Cell<String>, source: String, reference: Option<Cell<String>>, at: Option<Timestamp> },
    None { note: Cell<String> },
}

/// A record (an access change) with every redactable field resolved.
#[derive(Clone, Debug)]
pub struct ChangeView {
    pub incident: String,
    pub incident_prev: Option<u64>,
    pub actor_id: Cell<String>,
    pub actor_kind: ActorKind,
    pub target_id: Cell<String>,
    pub target_kind: TargetKind,
    pub target_system: String,
    pub scope: Option<Cell<String>>,
    pub approval: ApprovalView,
    pub reason: Cell<String>,
    pub status: Status,
    pub detail: Option<Cell<String>>,
    pub occurred_at: Option<Timestamp>,
    pub expires_at: Option<Timestamp>,
    pub owner: Option<Cell<String>>,
    pub refs: Vec<u64>,
    pub evidence: Option<Cell<Vec<Evidence>>>,
    pub attributes: Option<Cell<BTreeMap<String, String>>>,
}

impl ChangeView {
    /// Every resolved field that is not a value, by its field name.
    pub fn not_shown(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        let mut add = |name: &'static str, p: Option<String>| {
            if let Some(p) = p {
                out.push((name, p));
            }
        };
        add(Field::ActorId.as_str(), self.actor_id.placeholder());
        add(Field::TargetId.as_str(), self.target_id.placeholder());
        add(Field::Scope.as_str(), self.scope.as_ref().and_then(Cell::placeholder));
        match &self.approval {
            ApprovalView::Approved { by, reference, .. } => {
                add(Field::ApprovalBy.as_str(), by.placeholder());
                add(Field::ApprovalRef.as_str(), reference.as_ref().and_then(Cell::placeholder));
            }
            ApprovalView::None { note } => add(Field::ApprovalNone.as_str(), note.placeholder()),
        }
        add(Field::Reason.as_str(), self.reason.placeholder());
        add(Field::OutcomeDetail.as_str(), self.detail.as_ref().and_then(Cell::placeholder));
        add(Field::Owner.as_str(), self.owner.as_ref().and_then(Cell::placeholder));
        add(Field::Evidence.as_str(), self.evidence.as_ref().and_then(Cell::placeholder));
        add(Field::Attributes.as_str(), self.attributes.as_ref().and_then(Cell::placeholder));
        out
    }

    /// Evidence as `system:id` / `system:digest` items, or the placeholder as the only item.
    pub fn evidence_items(&self) -> Vec<String> {
        match &self.evidence {
            None => Vec::new(),
            Some(Cell::Value(ev)) => ev
                .iter()
                .flat_map(|e| {
                    let mut v = Vec::new();
                    if let Some(id) = &e.id {
                        v.push(format!("{}:{id}", e.system));
                    }
                    if let Some(d) = &e.digest {
                        v.push(format!("{}:{d}", e.system));
                    }
                    v
                })
                .collect(),
            Some(other) => other.placeholder().into_iter().collect(),
        }
    }

    /// Attributes as `key=value` items, or the placeholder as the only item.
    pub fn attribute_items(&self) -> Vec<String> {
        match &self.attributes {
            None => Vec::new(),
            Some(Cell::Value(a)) => a.iter().map(|(k, v)| format!("{k}={v}")).collect(),
            Some(other) => other.placeholder().into_iter().collect(),
        }
    }
}

/// One selected entry, ready for any format.
#[derive(Clone, Debug)]
pub struct Row {
    pub entry: Entry,
    /// occurred_at, else the ledger time.
    pub event_time: Timestamp,
    pub change: Option<ChangeView>,
}

impl Row {
    pub fn seq(&self) -> u64 {
        self.entry.seq()
    }
    pub fn hash_hex(&self) -> String {
        hex::encode(self.entry.hash)
    }
    pub fn ledger_time(&self) -> Timestamp {
        self.entry.header().ledger_time
    }
    pub fn action(&self) -> &'static str {
        self.entry.action_name()
    }
    pub fn control(&self) -> Option<&Control> {
        self.entry.control()
    }
    fn redacted_fields(&self) -> u64 {
        self.change.as_ref().map_or(0, |c| c.not_shown().len() as u64)
    }

    /// One sentence for the entry, as timelines show it: `bob@corp.example: revoke on
    /// bob@corp.example (human in aws-iam), scope ..., success`.
    pub fn message(&self) -> String {
        match &self.change {
            Some(c) => {
                let mut s = format!(
                    "{}: {} by {} on {} ({} in {})",
                    c.incident,
                    self.action(),
                    c.actor_id.text(),
                    c.target_id.text(),
                    c.target_kind,
                    c.target_system
                );
                if let Some(scope) = &c.scope {
                    s.push_str(&format!(", scope {}", scope.text()));
                }
                s.push_str(&format!(", {}", c.status));
                if let Some(e) = c.expires_at {
                    s.push_str(&format!(", expires {e}"));
                }
                s.push_str(&format!(": {}", c.reason.text()));
                s
            }
            None => {
                let detail = match self.control() {
                    Some(Control::LedgerInit { name, .. }) => format!("ledger {name} created"),
                    Some(Control::KeyAdd { label, .. }) => format!("signer key added ({label})"),
                    Some(Control::KeyRetire { key_id, reason }) => {
                        format!("signer key {} retired: {reason}", hex::encode(key_id))
                    }
                    Some(Control::Redact { reason, authority, ranges, .. }) => format!(
                        "fields of {} entr(ies) redacted: {reason}; authority: {authority}",
                        ranges.iter().map(|r| r.last - r.first + 1).sum::<u64>()
                    ),
                    Some(Control::HoldAdd { incident, reason, reference }) => {
                        format!("legal hold on {incident} ({reference}): {reason}")
                    }
                    Some(Control::HoldRelease { incident, reason, reference }) => {
                        format!("legal hold on {incident} released ({reference}): {reason}")
                    }
                    Some(Control::ClientAdd { name, role, .. }) => format!("service client {name} added as {role}"),
                    Some(Control::ClientRemove { name, reason }) => format!("service client {name} removed: {reason}"),
                    None => String::new(),
                };
                format!("ledger control: {}: {detail}", self.action())
            }
        }
    }
}

/// Resolves redaction entries once per export (an erased field names its redaction by seq).
pub struct Resolver<'a> {
    ledger: &'a Ledger,
    cache: RefCell<HashMap<u64, Redaction>>,
}

impl<'a> Resolver<'a> {
    pub fn new(ledger: &'a Ledger) -> Self {
        Resolver { ledger, cache: RefCell::new(HashMap::new()) }
    }

    /// The redaction entry with this seq.
    pub fn redaction(&self, by: u64) -> Redaction {
        if let Some(r) = self.cache.borrow().get(&by) {
            return r.clone();
        }
        let r = match self.ledger.get(by).ok().as_ref().and_then(Entry::control) {
            Some(Control::Redact { mode, reason, authority, .. }) => {
                Redaction { by, reason: reason.clone(), authority: authority.clone(), mode: mode.as_str().to_string() }
            }
            _ => Redaction {
                by,
                reason: format!("unknown (entry {by} is not a readable redaction entry; run `custody verify`)"),
                authority: "unknown".to_string(),
                mode: "unknown".to_string(),
            },
        };
        self.cache.borrow_mut().insert(by, r.clone());
        r
    }

    /// The map `entry_json` puts beside `by` for a redacted field.
    pub fn describe(&self, by: u64) -> Map<String, Value> {
        let r = self.redaction(by);
        let mut m = Map::new();
        m.insert("reason".into(), json!(r.reason));
        m.insert("authority".into(), json!(r.authority));
        m.insert("mode".into(), json!(r.mode));
        m
    }

    /// The entry's JSON view (`custody log --json`), redactions described.
    pub fn entry_json(&self, e: &Entry) -> Value {
        crate::ledger::entry_json(e, &|s| self.describe(s))
    }

    fn cell<T>(&self, s: Shown<T>) -> Cell<T> {
        match s {
            Shown::Value(v) => Cell::Value(v),
            Shown::Redacted { by } => Cell::Redacted(self.redaction(by)),
            Shown::Withheld => Cell::Withheld,
            Shown::Missing => Cell::Missing,
        }
    }

    /// Resolves an entry into a [`Row`].
    pub fn row(&self, entry: Entry) -> Row {
        let event_time = entry.change().and_then(|c| c.occurred_at).unwrap_or(entry.header().ledger_time);
        let change = entry.change().map(|c| {
            let o = &entry.openings;
            let text = |f: Field| c.text(o, f).map(|s| self.cell(s));
            // Required fields always have a commitment; `Missing` if the decoder ever let one go.
            let req = |f: Field| text(f).unwrap_or(Cell::Missing);
            let approval = match c.approval {
                ApprovalKind::Approved { at } => ApprovalView::Approved {
                    by: req(Field::ApprovalBy),
                    source: c.approval_source.clone().unwrap_or_default(),
                    reference: text(Field::ApprovalRef),
                    at,
                },
                ApprovalKind::None => ApprovalView::None { note: req(Field::ApprovalNone) },
            };
            ChangeView {
                incident: c.incident.clone(),
                incident_prev: c.incident_prev.map(|(s, _)| s),
                actor_id: req(Field::ActorId),
                actor_kind: c.actor_kind,
                target_id: req(Field::TargetId),
                target_kind: c.target_kind,
                target_system: c.target_system.clone(),
                scope: text(Field::Scope),
                approval,
                reason: req(Field::Reason),
                status: c.status,
                detail: text(Field::OutcomeDetail),
                occurred_at: c.occurred_at,
                expires_at: c.expires_at,
                owner: text(Field::Owner),
                refs: c.refs.clone(),
                evidence: c.evidence(o).map(|s| self.cell(s)),
                attributes: c.attributes(o).map(|s| self.cell(s)),
            }
        });
        Row { entry, event_time, change }
    }
}

/// One selected entry as read from the log: a [`Row`], or a damaged entry that cannot be shown as
/// evidence (its frame does not decode, or its signed bytes were edited; verification reports
/// why). Exports mark damaged entries, so a damaged ledger is still exported, never silently
/// shortened.
#[derive(Clone, Debug)]
pub enum Item {
    Row(Box<Row>),
    Damaged { seq: u64, problem: String },
}

/// The selected entries of one export, readable more than once (the HTML summary comes before the
/// timeline, so HTML reads them twice; every other format once).
pub struct Selection<'a> {
    ledger: &'a Ledger,
    filter: Filter,
    resolver: Resolver<'a>,
    seqs: Vec<u64>,
}

impl<'a> Selection<'a> {
    /// Selects with [`Ledger::select`]: O(k log n) for a filter with an incident, target or actor.
    /// If an entry on the way cannot be read (a damaged ledger), selects again tolerantly.
    pub fn new(ledger: &'a Ledger, filter: &Filter) -> Result<Self, ExportError> {
        let seqs = match ledger.select(filter) {
            Ok(s) => s,
            Err(LedgerError::Damaged(_) | LedgerError::Index(IndexError::Corrupt(_))) => {
                tolerant_select(ledger, filter)?
            }
            Err(e) => return Err(e.into()),
        };
        Ok(Selection { ledger, filter: filter.clone(), resolver: Resolver::new(ledger), seqs })
    }

    pub fn len(&self) -> usize {
        self.seqs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seqs.is_empty()
    }

    pub fn resolver(&self) -> &Resolver<'a> {
        &self.resolver
    }

    /// The filter the selection was made with.
    pub fn filter(&self) -> &Filter {
        &self.filter
    }

    /// The selected entries, in seq order, read from the log one at a time.
    pub fn items(&self) -> impl Iterator<Item = Result<Item, ExportError>> + '_ {
        self.seqs.iter().map(move |s| {
            Ok(match read_tolerant(self.ledger, *s)? {
                Ok(e) => Item::Row(Box::new(self.resolver.row(e))),
                Err(problem) => Item::Damaged { seq: *s, problem },
            })
        })
    }
}

/// Reads an entry, or says why it cannot be shown: its frame does not decode, or its signed bytes
/// no longer hash to what the index recorded when it was written (edited since).
fn read_tolerant(ledger: &Ledger, seq: u64) -> Result<Result<Entry, String>, ExportError> {
    match ledger.get(seq) {
        Ok(e) => Ok(Ok(e)),
        Err(LedgerError::Damaged(p)) => Ok(Err(p)),
        Err(LedgerError::Index(IndexError::Corrupt(p))) => {
            Ok(Err(format!("{p}: its signed bytes changed after it was written (run `custody verify`)")))
        }
        Err(e) => Err(e.into()),
    }
}

/// [`Ledger::select`] for a damaged ledger: the same candidates (posting list, time index or all),
/// each read tolerantly; a damaged candidate is kept (the export marks it), an intact one must
/// match the filter.
fn tolerant_select(ledger: &Ledger, f: &Filter) -> Result<Vec<u64>, ExportError> {
    let size = ledger.head().size;
    let index = ledger.index();
    let posting = match (&f.incident, &f.target, &f.actor) {
        (Some(i), _, _) => Some((Posting::Incident, i)),
        (None, Some(t), _) => Some((Posting::Target, t)),
        (None, None, Some(a)) => Some((Posting::Actor, a)),
        _ => None,
    };
    let candidates: Vec<u64> = match posting {
        Some((kind, v)) => index.postings(kind, v.as_bytes()).collect::<Result<_, _>>().map_err(LedgerError::from)?,
        None if f.since.is_some() || f.until.is_some() => {
            let mut v: Vec<u64> = index
                .by_time(f.since.map(|t| t.nanos()), f.until.map(|t| t.nanos()))
                .collect::<Result<_, _>>()
                .map_err(LedgerError::from)?;
            v.sort_unstable();
            v
        }
        None => (0..size).collect(),
    };
    let mut out = Vec::with_capacity(candidates.len());
    for seq in candidates.into_iter().filter(|s| *s < size) {
        match read_tolerant(ledger, seq)? {
            Ok(e) if !f.is_empty() && !f.matches(&e) => {}
            _ => out.push(seq),
        }
    }
    Ok(out)
}

/// Writes the entries `filter` selects from `ledger` in `format`. The caller verifies first and
/// puts the result in `ctx.verification`; a failed verification is written into the export (HTML
/// says so loudly), it does not stop it.
pub fn export(
    ledger: &Ledger,
    filter: &Filter,
    format: Format,
    ctx: &Context,
    out: &mut dyn Write,
) -> Result<ExportStats, ExportError> {
    let sel = Selection::new(ledger, filter)?;
    let mut w = BufWriter::with_capacity(1 << 16, out);
    let stats = match format {
        Format::Html => html::write(&sel, ctx, &mut w)?,
        Format::Jsonl => each(&sel, &mut w, |w, item| jsonl::write_item(w, sel.resolver(), item))?,
        Format::Csv => {
            csv::write_header(&mut w)?;
            each(&sel, &mut w, csv::write_item)?
        }
        Format::Ocsf => each(&sel, &mut w, |w, item| ocsf::write_item(w, sel.resolver(), ctx, item))?,
        Format::Timesketch => each(&sel, &mut w, |w, item| timesketch::write_item(w, sel.resolver(), item))?,
    };
    w.flush()?;
    Ok(stats)
}

impl ExportStats {
    /// Counts one written item.
    pub fn add(&mut self, item: &Item) {
        match item {
            Item::Row(row) => {
                self.entries += 1;
                self.redacted_fields += row.redacted_fields();
            }
            Item::Damaged { seq, .. } => self.damaged.push(*seq),
        }
    }
}

fn each<W: Write>(
    sel: &Selection<'_>,
    w: &mut W,
    mut write: impl FnMut(&mut W, &Item) -> io::Result<()>,
) -> Result<ExportStats, ExportError> {
    let mut stats = ExportStats::default();
    for item in sel.items() {
        let item = item?;
        write(w, &item)?;
        stats.add(&item);
    }
    Ok(stats)
}

/// Writes one JSON value and a newline.
fn json_line<W: Write>(w: &mut W, v: &Value) -> io::Result<()> {
    serde_json::to_writer(&mut *w, v).map_err(io::Error::from)?;
    w.write_all(b"\n")
}
