//! `--format jsonl`: full entries, one JSON object per line.
//!
//! Each line is the entry's JSON view as `custody log --json` prints it (seq, entry hash, ledger time,
//! prev hash, key ID, signature, action, then `record` or `control`), with redacted fields as
//! `{"redacted": {"by": SEQ, "reason": ..., "authority": ..., "mode": ...}}`, plus `event_time` and
//! `signed_bytes` (hex of the canonical signed bytes, so the entry hash and the signature can be
//! checked from the line alone: `docs/FORMAT.md`, "Entry"). A damaged entry (see
//! [`super::Item`]) is the line `{"seq": N, "damaged": "PROBLEM"}`.

use std::io::{self, Write};

use serde_json::{json, Value};

use super::{json_line, Item, Resolver, Row};

/// Writes one entry.
pub fn write_row<W: Write>(w: &mut W, resolver: &Resolver<'_>, row: &Row) -> io::Result<()> {
    let mut v = resolver.entry_json(&row.entry);
    if let Value::Object(m) = &mut v {
        m.insert("event_time".into(), json!(row.event_time.to_rfc3339()));
        m.insert("signed_bytes".into(), json!(hex::encode(&row.entry.bytes)));
    }
    json_line(w, &v)
}

/// Writes one selected item.
pub fn write_item<W: Write>(w: &mut W, resolver: &Resolver<'_>, item: &Item) -> io::Result<()> {
    match item {
        Item::Row(row) => write_row(w, resolver, row),
        Item::Damaged { seq, problem } => json_line(w, &json!({"seq": seq, "damaged": problem})),
    }
}
