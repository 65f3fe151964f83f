//! Import step: turns audit logs of identity systems (AWS CloudTrail, Okta, Microsoft Entra, GitHub,
//! Google Cloud, Google Workspace) into custody records in the JSON contract's form.
//!
//! [`read_events`] streams raw events out of a file (gzip or not; JSON Lines, JSON array, or a
//! wrapper object), [`map_event`] maps one raw event to records, and [`mapping_table`] exposes the
//! per-source tables that drive the mapping (rendered in IMPORTERS.md).

use std::fmt;
use std::str::FromStr;

use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::record::{Approval, Record};

mod cloudtrail;
pub mod docs;
mod entra;
mod error;
mod gcp;
mod github;
mod gworkspace;
pub mod ingest;
mod okta;
mod path;
mod reader;
mod record;
mod secrets;
mod spool;
pub mod table;
mod time;

#[cfg(test)]
mod tests;

pub use error::{ImportError, Position};
pub use reader::{read_events, EventReader, MAX_EVENT_BYTES};
pub use table::{Action, ActorKind, KindRule, MappingRow, OutcomeRule, TargetKind};

use record::Ev;

/// An audit-log source the importers understand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    CloudTrail,
    Okta,
    Entra,
    GitHub,
    Gcp,
    GWorkspace,
}

impl Source {
    /// Every source, in documentation order.
    pub const ALL: [Source; 6] =
        [Source::CloudTrail, Source::Okta, Source::Entra, Source::GitHub, Source::Gcp, Source::GWorkspace];

    /// The source's name, as accepted by `FromStr` and written in evidence and dedup keys.
    pub fn name(self) -> &'static str {
        match self {
            Source::CloudTrail => "cloudtrail",
            Source::Okta => "okta",
            Source::Entra => "entra",
            Source::GitHub => "github",
            Source::Gcp => "gcp",
            Source::GWorkspace => "gworkspace",
        }
    }

    /// The `target.system` of records imported from this source.
    pub fn system(self) -> &'static str {
        match self {
            Source::CloudTrail => "aws-iam",
            other => other.name(),
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Source {
    type Err = ImportError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Source::ALL
            .into_iter()
            .find(|src| src.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| ImportError::UnknownSource(s.to_string()))
    }
}

/// What every record of one import run shares.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportOptions {
    /// Incident correlation id written into every record.
    pub incident: String,
    /// Record sign-ins and token uses as `observe` records (otherwise they are skipped).
    pub with_context: bool,
    /// An approval for the whole batch, `{"by", "source", "ref"?, "at"?}` as in the contract; without
    /// one, records carry `{"none": "imported from <source>; no approval in the source event"}`.
    pub approval: Option<Value>,
}

impl ImportOptions {
    /// Options for `incident`, without context records and without a batch approval.
    pub fn new(incident: impl Into<String>) -> Self {
        ImportOptions { incident: incident.into(), with_context: false, approval: None }
    }

    /// The approval every record of `source` carries: the batch approval, or the statement that the
    /// source event carries none.
    pub(crate) fn record_approval(&self, source: Source) -> Result<Approval, ImportError> {
        match &self.approval {
            Some(v) => {
                Approval::deserialize(v).map_err(|e| ImportError::Options { field: "approval", problem: e.to_string() })
            }
            None => {
                Ok(Approval::None { note: format!("imported from {}; no approval in the source event", source.name()) })
            }
        }
    }

    /// Checks the options against the contract (incident text, approval shape).
    pub fn validate(&self) -> Result<(), ImportError> {
        let bad = |field: &'static str, problem: &str| ImportError::Options { field, problem: problem.to_string() };
        let text_ok = |s: &str, max: usize| !s.is_empty() && s.len() <= max && !s.chars().any(char::is_control);
        if !text_ok(&self.incident, 128) {
            return Err(bad("incident", "must be 1 to 128 bytes without control characters"));
        }
        // Importers screen every value they take from an event; the values given here are screened
        // here, once, so that every record of the import is screened (see `ingest`).
        let secret = |field: &'static str, text: &str| match secrets::looks_like_secret(text) {
            Some(kind) => Err(bad(field, &format!("looks like {kind}; give an identifier, not a credential"))),
            None => Ok(()),
        };
        secret("incident", &self.incident)?;
        let Some(approval) = &self.approval else {
            return Ok(());
        };
        for text in approval.as_object().into_iter().flat_map(|o| o.values()).filter_map(Value::as_str) {
            secret("approval", text)?;
        }
        let obj = approval.as_object().ok_or_else(|| bad("approval", "must be an object"))?;
        let field_text = |k: &str, max: usize| obj.get(k).and_then(Value::as_str).is_some_and(|s| text_ok(s, max));
        if obj.contains_key("none") {
            if obj.len() != 1 || !field_text("none", 1024) {
                return Err(bad("approval", "`none` must be the only key, with 1 to 1024 bytes of text"));
            }
            return Ok(());
        }
        if let Some(k) = obj.keys().find(|k| !["by", "source", "ref", "at"].contains(&k.as_str())) {
            return Err(ImportError::Options {
                field: "approval",
                problem: format!("unknown key `{k}`; expected by, source, ref, at"),
            });
        }
        if !field_text("by", 256) || !field_text("source", 64) {
            return Err(bad("approval", "needs `by` (1 to 256 bytes) and `source` (1 to 64 bytes)"));
        }
        if obj.contains_key("ref") && !field_text("ref", 256) {
            return Err(bad("approval.ref", "must be 1 to 256 bytes of text"));
        }
        if let Some(at) = obj.get("at") {
            let ok = at.as_str().is_some_and(|s| chrono::DateTime::parse_from_rfc3339(s).is_ok());
            if !ok {
                return Err(bad("approval.at", "must be an rfc 3339 time"));
            }
        }
        Ok(())
    }
}

/// One event's bytes exactly as read (the JSON text, without surrounding whitespace or the line
/// terminator) and where it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawEvent {
    /// 1-based line (JSON Lines) or 1-based array element index.
    pub line: u64,
    /// Whether `line` is an array element index.
    pub in_array: bool,
    /// The event's JSON text.
    pub bytes: Vec<u8>,
}

impl RawEvent {
    /// A raw event from line `line` of a JSON Lines input.
    pub fn from_line(line: u64, bytes: impl Into<Vec<u8>>) -> Self {
        RawEvent { line, in_array: false, bytes: bytes.into() }
    }

    /// Where the event was.
    pub fn position(&self) -> Position {
        if self.in_array {
            Position::Element(self.line)
        } else {
            Position::Line(self.line)
        }
    }

    /// `sha256:<hex>` of the bytes.
    pub fn digest(&self) -> String {
        format!("sha256:{}", hex::encode(Sha256::digest(&self.bytes)))
    }
}

/// A record, with the key that identifies it across imports.
#[derive(Debug, Clone, PartialEq)]
pub struct MappedRecord {
    /// The record, built by the importer and checked against the contract by `ingest`.
    pub record: Record,
    /// `<source>:<event id>` (or `<source>:sha256:<hex>` for events without an id), with a `#...`
    /// suffix when one event yields several records (GCP binding deltas, Workspace events).
    pub dedup_key: String,
}

impl MappedRecord {
    /// The record in the JSON contract's form, as `custody append --json` takes it.
    pub fn json(&self) -> Value {
        // A record always serialises: its maps have string keys.
        serde_json::to_value(&self.record).unwrap_or(Value::Null)
    }
}

/// What one event became.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Access changes.
    Records(Vec<MappedRecord>),
    /// Sign-ins and token uses, as `observe` records (only with `with_context`).
    Context(Vec<MappedRecord>),
    /// Nothing to record, and why.
    Skipped { reason: String },
}

/// The mapping table of `source`.
pub fn mapping_table(source: Source) -> &'static [MappingRow] {
    match source {
        Source::CloudTrail => cloudtrail::TABLE,
        Source::Okta => okta::TABLE,
        Source::Entra => entra::TABLE,
        Source::GitHub => github::TABLE,
        Source::Gcp => gcp::TABLE,
        Source::GWorkspace => gworkspace::TABLE,
    }
}

/// Whether a parsed event has the shape of `source`'s events; `Err` says what is missing.
fn shape(source: Source, v: &Value) -> Result<(), &'static str> {
    let ok = match source {
        Source::CloudTrail => cloudtrail::looks_like(v),
        Source::Okta => okta::looks_like(v),
        Source::Entra => entra::looks_like(v),
        Source::GitHub => github::looks_like(v),
        Source::Gcp => gcp::looks_like(v),
        Source::GWorkspace => gworkspace::looks_like(v),
    };
    if ok {
        return Ok(());
    }
    Err(match source {
        Source::CloudTrail => cloudtrail::SHAPE,
        Source::Okta => okta::SHAPE,
        Source::Entra => entra::SHAPE,
        Source::GitHub => github::SHAPE,
        Source::Gcp => gcp::SHAPE,
        Source::GWorkspace => gworkspace::SHAPE,
    })
}

/// The source whose events `v` looks like, if exactly one fits.
pub fn guess_source(v: &Value) -> Option<Source> {
    let fits: Vec<Source> = Source::ALL.into_iter().filter(|s| shape(*s, v).is_ok()).collect();
    (fits.len() == 1).then(|| fits[0])
}

fn wrong_format(source: Source, pos: Position, v: &Value, missing: &str) -> ImportError {
    let hint = match guess_source(v) {
        Some(other) if other != source => format!("; it looks like {other}"),
        _ => String::new(),
    };
    ImportError::WrongFormat { pos, expected: source.name(), detail: format!("{missing}{hint}") }
}

fn parse(ev: &RawEvent) -> Result<Value, ImportError> {
    let v: Value =
        serde_json::from_slice(&ev.bytes).map_err(|e| ImportError::Json { pos: ev.position(), source: e })?;
    if !v.is_object() {
        return Err(ImportError::Structure { pos: ev.position(), detail: "expected a json object".into() });
    }
    Ok(v)
}

/// Checks that a raw event is one of `source`'s events (the reader calls this on the first event).
pub(crate) fn source_check(source: Source, ev: &RawEvent) -> Result<(), ImportError> {
    let v = parse(ev)?;
    shape(source, &v).map_err(|missing| wrong_format(source, ev.position(), &v, missing))
}

/// Maps one raw event of `source` to custody records.
///
/// Errors name the event's line (or element) and the field: malformed JSON, an event of another
/// source, or a missing event-name field.
pub fn map_event(source: Source, ev: &RawEvent, opts: &ImportOptions) -> Result<Outcome, ImportError> {
    opts.validate()?;
    map_checked(source, ev, opts, &opts.record_approval(source)?, ev.digest())
}

/// [`map_event`] for options already validated, with their approval and the event's digest already
/// computed (an import computes the one once and the other once per event).
pub(crate) fn map_checked(
    source: Source,
    ev: &RawEvent,
    opts: &ImportOptions,
    approval: &Approval,
    digest: String,
) -> Result<Outcome, ImportError> {
    let value = parse(ev)?;
    shape(source, &value).map_err(|missing| wrong_format(source, ev.position(), &value, missing))?;
    let event_id = match source {
        Source::CloudTrail => cloudtrail::event_id(&value),
        Source::Okta => okta::event_id(&value),
        Source::Entra => entra::event_id(&value),
        Source::GitHub => github::event_id(&value),
        Source::Gcp => gcp::event_id(&value),
        Source::GWorkspace => gworkspace::event_id(&value),
    };
    let e = Ev { source, pos: ev.position(), value: &value, digest, event_id, opts, approval: approval.clone() };
    match source {
        Source::CloudTrail => cloudtrail::map(&e),
        Source::Okta => okta::map(&e),
        Source::Entra => entra::map(&e),
        Source::GitHub => github::map(&e),
        Source::Gcp => gcp::map(&e),
        Source::GWorkspace => gworkspace::map(&e),
    }
}

/// Helpers the per-source modules share.
pub(crate) mod common {
    use serde_json::Value;

    use super::error::ImportError;
    use super::path;
    use super::record::Ev;
    use super::table::MappingRow;

    /// The required event-name field of an event.
    pub(crate) fn event_name(ev: &Ev<'_>, field: &str) -> Result<String, ImportError> {
        match path::get(ev.value, field) {
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.trim().to_string()),
            Some(_) => Err(ImportError::Field {
                pos: ev.pos,
                field: field.to_string(),
                problem: "must be a non-empty string".into(),
            }),
            None => Err(ImportError::Field { pos: ev.pos, field: field.to_string(), problem: "missing".into() }),
        }
    }

    /// The row whose event equals `name` exactly, then ignoring ASCII case.
    pub(crate) fn lookup(table: &'static [MappingRow], name: &str) -> Option<&'static MappingRow> {
        table.iter().find(|r| r.event == name).or_else(|| table.iter().find(|r| r.event.eq_ignore_ascii_case(name)))
    }

    /// A text field through the path language.
    pub(crate) fn text(v: &Value, spec: &str) -> Option<String> {
        path::resolve(v, spec, &[], None)
    }
}
