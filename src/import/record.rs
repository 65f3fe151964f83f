//! Record-building step: turns a mapped draft into a custody [`Record`] (evidence with the event
//! digest, approval, cleaned and secret-screened strings) and its dedup key.

use std::collections::BTreeMap;

use serde_json::Value;

use super::error::Position;
use super::secrets::looks_like_secret;
use super::table::{Action, ActorKind, MappingRow, TargetKind};
use super::{ImportOptions, MappedRecord, Outcome, Source};
use crate::record::{Actor, Approval, Evidence, Outcome as RecordOutcome, Record, Target};
use crate::time::Timestamp;

/// Contract limits (bytes).
pub(crate) const ID_MAX: usize = 256;
pub(crate) const SCOPE_MAX: usize = 1024;
pub(crate) const REASON_MAX: usize = 2048;
pub(crate) const DETAIL_MAX: usize = 2048;
pub(crate) const ATTR_MAX: usize = 1024;
pub(crate) const ATTR_ENTRIES: usize = 64;

pub(crate) use crate::record::Status;

/// One parsed event and what every record made from it shares.
pub(crate) struct Ev<'a> {
    pub source: Source,
    pub pos: Position,
    pub value: &'a Value,
    /// `sha256:<hex>` of the raw event bytes.
    pub digest: String,
    /// The source's own event id, when the event has a usable one.
    pub event_id: Option<String>,
    pub opts: &'a ImportOptions,
    /// The batch approval of `opts`, or the statement that the source event carries none.
    pub approval: Approval,
}

impl Ev<'_> {
    /// `<source>:<event id>`, or `<source>:sha256:<hex>` without an id.
    pub fn dedup_base(&self) -> String {
        match &self.event_id {
            Some(id) => format!("{}:{id}", self.source.name()),
            None => format!("{}:{}", self.source.name(), self.digest),
        }
    }
}

/// A record before cleaning.
pub(crate) struct Draft {
    pub event: String,
    pub action: Action,
    pub actor_id: String,
    pub actor_kind: ActorKind,
    pub target_id: Option<String>,
    pub target_kind: TargetKind,
    pub target_spec: &'static str,
    pub scope: Option<String>,
    pub status: Status,
    pub detail: Option<String>,
    pub occurred_at: Option<String>,
    pub reason_note: Option<String>,
    pub attributes: BTreeMap<String, String>,
}

impl Draft {
    /// Notes, in `occurred_at_unparsed`, a time field that is present but could not be read (such
    /// as Panther's `"redacted"`): `occurred_at` then stays absent.
    pub fn note_unparsed_time(&mut self, v: &Value, spec: &str) {
        if self.occurred_at.is_none() {
            if let Some(field) = spec.split('|').find(|p| super::path::get(v, p).is_some_and(|x| !x.is_null())) {
                self.attributes.insert("occurred_at_unparsed".into(), field.to_string());
            }
        }
    }

    /// Adds an attribute when the value is present and non-empty.
    pub fn attr(&mut self, key: &str, value: Option<String>) {
        if let Some(v) = value.filter(|v| !v.trim().is_empty()) {
            self.attributes.insert(key.to_string(), v);
        }
    }
}

/// Replaces control characters with spaces, trims, and cuts to `max` bytes on a char boundary.
pub(crate) fn clean(s: &str, max: usize) -> Option<String> {
    // Most values have no control characters: they are then only trimmed and cut, not copied twice.
    let replaced: String;
    let t = if s.chars().any(char::is_control) {
        replaced = s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
        replaced.trim()
    } else {
        s.trim()
    };
    if t.is_empty() {
        return None;
    }
    let mut end = t.len().min(max);
    while !t.is_char_boundary(end) {
        end -= 1;
    }
    Some(t[..end].trim_end().to_string())
}

/// Cleans a value and screens it for credential material; a credential-shaped value is replaced by
/// `[redacted]` and the field name is noted.
fn screen(field: &str, s: &str, max: usize, redacted: &mut Vec<String>) -> Option<String> {
    let c = clean(s, max)?;
    if looks_like_secret(&c).is_some() {
        redacted.push(field.to_string());
        return Some("[redacted]".to_string());
    }
    Some(c)
}

/// Builds the record and its dedup key.
pub(crate) fn build(ev: &Ev<'_>, d: Draft, key_suffix: Option<String>) -> MappedRecord {
    let mut redacted = Vec::new();
    let source = ev.source.name();
    let actor_id = screen("actor.id", &d.actor_id, ID_MAX, &mut redacted).unwrap_or_else(|| "unknown".to_string());
    let mut attributes = d.attributes;
    let target_id = match d.target_id.as_deref().and_then(|t| screen("target.id", t, ID_MAX, &mut redacted)) {
        Some(t) => t,
        None => {
            attributes.insert("target_unresolved".into(), d.target_spec.to_string());
            "unknown".to_string()
        }
    };
    let mut reason = format!("imported from {source}: {}", d.event);
    if let Some(note) = &d.reason_note {
        reason.push_str("; ");
        reason.push_str(note);
    }
    let reason =
        screen("reason", &reason, REASON_MAX, &mut redacted).unwrap_or_else(|| format!("imported from {source}"));

    // A credential-shaped scope is left out (scope is optional).
    let scope =
        d.scope.as_deref().and_then(|s| screen("scope", s, SCOPE_MAX, &mut redacted)).filter(|s| s != "[redacted]");

    let detail = d.detail.as_deref().and_then(|s| screen("outcome.detail", s, DETAIL_MAX, &mut redacted));

    let mut attrs = BTreeMap::new();
    attributes.insert("source_event".into(), d.event.clone());
    // A time the importer normalised always parses; were it ever not to, the record says so rather
    // than carry a time nobody can read.
    let occurred_at = d.occurred_at.and_then(|t| match Timestamp::parse(&t) {
        Ok(t) => Some(t),
        Err(_) => {
            attributes.insert("occurred_at_unparsed".into(), t);
            None
        }
    });
    for (k, v) in attributes {
        if attrs.len() >= ATTR_ENTRIES - 1 {
            break;
        }
        // As `screen`, but a credential-shaped attribute is left out rather than kept as `[redacted]`.
        let Some(v) = clean(&v, ATTR_MAX) else { continue };
        if looks_like_secret(&v).is_some() {
            redacted.push(format!("attributes.{k}"));
        } else {
            attrs.insert(k, v);
        }
    }
    if !redacted.is_empty() {
        attrs.insert("redacted".into(), redacted.join(","));
    }

    let id = ev.event_id.as_deref().and_then(|i| clean(i, ID_MAX)).filter(|id| looks_like_secret(id).is_none());
    let evidence = Evidence { system: source.to_string(), id, digest: Some(ev.digest.clone()) };

    let record = Record {
        incident: ev.opts.incident.clone(),
        action: d.action.record(),
        actor: Actor { id: actor_id, kind: d.actor_kind.record() },
        target: Target { id: target_id, kind: d.target_kind, system: ev.source.system().to_string() },
        scope,
        approval: ev.approval.clone(),
        reason,
        outcome: RecordOutcome { status: d.status, detail },
        occurred_at,
        expires_at: None,
        owner: None,
        refs: Vec::new(),
        evidence: vec![evidence],
        attributes: attrs,
    };

    let mut dedup_key = ev.dedup_base();
    if let Some(s) = key_suffix {
        dedup_key.push('#');
        dedup_key.push_str(&s);
    }
    MappedRecord { record, dedup_key }
}

/// Wraps the records of one event: change rows give `Records`; context rows give `Context` with
/// `with_context`, and are skipped otherwise.
pub(crate) fn outcome_for(ev: &Ev<'_>, row: &MappingRow, records: Vec<MappedRecord>) -> Outcome {
    if row.is_context() {
        if ev.opts.with_context {
            Outcome::Context(records)
        } else {
            Outcome::Skipped {
                reason: format!(
                    "{} {} is context (a sign-in or token use); import with_context to record it as observe",
                    ev.source.name(),
                    row.event
                ),
            }
        }
    } else {
        Outcome::Records(records)
    }
}

/// The skip reason for an event name that no row maps.
pub(crate) fn not_mapped(source: Source, event: &str) -> Outcome {
    Outcome::Skipped {
        reason: format!("{source} event {event} is not an access change (not in the {source} mapping table)"),
    }
}
