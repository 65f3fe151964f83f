//! `--format timesketch`: JSON Lines for forensic timeline tools (Timesketch's JSONL importer,
//! Plaso-style events).
//!
//! Every line has the three fields Timesketch requires, `message`, `datetime` (ISO 8601, UTC) and
//! `timestamp_desc`, plus `timestamp` (microseconds since the epoch), `data_type`
//! (`custody:ledger:entry`) and the record's fields flattened to strings (`actor_id`,
//! `target_id`, `scope`, `reason`, ...; lists joined with `; `), so that every attribute can be
//! searched as it is. One event per entry at its event time (`timestamp_desc` `Event Occurred`
//! when the record gives `occurred_at`, else `Recorded in Ledger`); a record with `expires_at`
//! (a time-boxed grant) adds a second event at that time with `timestamp_desc` `Access Expires`,
//! as Plaso emits one event per timestamp. A damaged entry (see [`super::Item`]) has no trustworthy
//! time: it becomes an event at the Unix epoch with `timestamp_desc` `Damaged Entry`
//! and the problem in `message`, so that it sorts first and is seen. Redacted fields read
//! `[redacted by entry N: REASON; authority: AUTHORITY]` and are listed in `redacted_fields`.

use std::io::{self, Write};

use serde_json::{json, Map, Value};

use super::{json_line, ApprovalView, Cell, Item, Resolver, Row};
use crate::time::Timestamp;

fn micros(t: Timestamp) -> i64 {
    t.nanos().div_euclid(1_000)
}

/// Writes the event(s) of one entry.
pub fn write_row<W: Write>(w: &mut W, _resolver: &Resolver<'_>, row: &Row) -> io::Result<()> {
    let e = &row.entry;
    let h = e.header();
    let mut m = Map::new();
    m.insert("message".into(), json!(row.message()));
    m.insert("datetime".into(), json!(row.event_time.to_rfc3339()));
    m.insert("timestamp".into(), json!(micros(row.event_time)));
    let desc = if row.change.as_ref().is_some_and(|c| c.occurred_at.is_some()) {
        "Event Occurred"
    } else {
        "Recorded in Ledger"
    };
    m.insert("timestamp_desc".into(), json!(desc));
    m.insert("data_type".into(), json!("custody:ledger:entry"));
    m.insert("seq".into(), json!(h.seq));
    m.insert("entry_hash".into(), json!(row.hash_hex()));
    m.insert("ledger_time".into(), json!(h.ledger_time.to_rfc3339()));
    m.insert("key_id".into(), json!(hex::encode(h.key_id)));
    m.insert("action".into(), json!(row.action()));
    let mut s = |k: &str, v: String| {
        m.insert(k.into(), Value::String(v));
    };
    match &row.change {
        Some(c) => {
            s("incident", c.incident.clone());
            s("actor_id", c.actor_id.text());
            s("actor_kind", c.actor_kind.to_string());
            s("target_id", c.target_id.text());
            s("target_kind", c.target_kind.to_string());
            s("target_system", c.target_system.clone());
            if let Some(v) = &c.scope {
                s("scope", v.text());
            }
            match &c.approval {
                ApprovalView::Approved { by, source, reference, at } => {
                    s("approval", "approved".into());
                    s("approved_by", by.text());
                    s("approval_source", source.clone());
                    if let Some(r) = reference {
                        s("approval_ref", r.text());
                    }
                    if let Some(at) = at {
                        s("approved_at", at.to_rfc3339());
                    }
                }
                ApprovalView::None { note } => {
                    s("approval", "none".into());
                    s("no_approval_note", note.text());
                }
            }
            s("reason", c.reason.text());
            s("status", c.status.to_string());
            if let Some(v) = &c.detail {
                s("detail", v.text());
            }
            if let Some(t) = c.occurred_at {
                s("occurred_at", t.to_rfc3339());
            }
            if let Some(t) = c.expires_at {
                s("expires_at", t.to_rfc3339());
            }
            if let Some(v) = c.owner.as_ref().map(Cell::text) {
                s("owner", v);
            }
            if !c.refs.is_empty() {
                s("refs", c.refs.iter().map(u64::to_string).collect::<Vec<_>>().join(" "));
            }
            if c.evidence.is_some() {
                s("evidence", c.evidence_items().join("; "));
            }
            if c.attributes.is_some() {
                s("attributes", c.attribute_items().join("; "));
            }
            let not_shown = c.not_shown();
            if !not_shown.is_empty() {
                s("redacted_fields", not_shown.iter().map(|(f, _)| *f).collect::<Vec<_>>().join(" "));
            }
        }
        None => {
            if let Some(ctl) = row.control() {
                s("control", ctl.to_json().to_string());
            }
        }
    }
    let expiry = row.change.as_ref().and_then(|c| c.expires_at);
    let first = Value::Object(m);
    json_line(w, &first)?;
    if let (Some(t), Value::Object(mut m)) = (expiry, first) {
        m.insert("message".into(), json!(format!("access expires: {}", row.message())));
        m.insert("datetime".into(), json!(t.to_rfc3339()));
        m.insert("timestamp".into(), json!(micros(t)));
        m.insert("timestamp_desc".into(), json!("Access Expires"));
        json_line(w, &Value::Object(m))?;
    }
    Ok(())
}

/// Writes the event(s) of one selected item.
pub fn write_item<W: Write>(w: &mut W, resolver: &Resolver<'_>, item: &Item) -> io::Result<()> {
    match item {
        Item::Row(row) => write_row(w, resolver, row),
        Item::Damaged { seq, problem } => json_line(
            w,
            &json!({
                "message": format!("ledger entry {seq} is damaged: {problem}"),
                "datetime": "1970-01-01T00:00:00Z", "timestamp": 0, "timestamp_desc": "Damaged Entry",
                "data_type": "custody:ledger:damaged", "seq": seq,
            }),
        ),
    }
}
