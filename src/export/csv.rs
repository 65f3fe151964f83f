//! `--format csv`: RFC 4180 CSV, one row per entry, with the fixed columns of [`COLUMNS`]
//! (documented in `docs/EXPORT.md`).
//!
//! Rows end in CRLF; a cell holding a comma, a double quote, CR or LF is quoted and its quotes
//! doubled (RFC 4180 §2). Times are UTC RFC 3339 (ISO 8601) with `Z`. A cell that a spreadsheet
//! would run as a formula (first character `=`, `+`, `-`, `@`, tab or CR) gets a leading `'`
//! (OWASP "CSV injection"), so `=HYPERLINK(...)` in a reason stays text. Lists inside a cell are
//! separated by `; ` (refs by a space). A field that was erased reads
//! `[redacted by entry N: REASON; authority: AUTHORITY]`, never an empty cell; an empty cell only
//! means the record never had that field. A damaged entry (see [`super::Item`]) is a row with its
//! seq, action `[damaged]` and the problem in `reason`.

use std::io::{self, Write};

use super::{ApprovalView, Item, Row};
use crate::entry::Control;

/// The columns, in order.
pub const COLUMNS: &[&str] = &[
    "seq",
    "entry_hash",
    "ledger_time",
    "event_time",
    "occurred_at",
    "incident",
    "action",
    "actor_id",
    "actor_kind",
    "target_id",
    "target_kind",
    "target_system",
    "scope",
    "approval",
    "approved_by",
    "approval_source",
    "approval_ref",
    "approved_at",
    "no_approval_note",
    "reason",
    "status",
    "detail",
    "expires_at",
    "owner",
    "refs",
    "evidence",
    "attributes",
    "redacted_fields",
    "incident_prev_seq",
    "prev_hash",
    "key_id",
    "signature",
    "submitter",
    "request",
    "control",
];

/// Characters that make a spreadsheet treat a cell as a formula when they come first.
const FORMULA_START: &[char] = &['=', '+', '-', '@', '\t', '\r'];

/// One cell as written: neutralised, then quoted if needed.
pub fn cell(value: &str) -> String {
    let mut v = String::with_capacity(value.len() + 2);
    if value.starts_with(FORMULA_START) {
        v.push('\'');
    }
    v.push_str(value);
    if v.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v
    }
}

fn write_cells<W: Write>(w: &mut W, cells: &[String]) -> io::Result<()> {
    for (i, c) in cells.iter().enumerate() {
        if i > 0 {
            w.write_all(b",")?;
        }
        w.write_all(cell(c).as_bytes())?;
    }
    w.write_all(b"\r\n")
}

/// Writes the header row.
pub fn write_header<W: Write>(w: &mut W) -> io::Result<()> {
    let cells: Vec<String> = COLUMNS.iter().map(|c| c.to_string()).collect();
    write_cells(w, &cells)
}

/// Writes one selected item as a row.
pub fn write_item<W: Write>(w: &mut W, item: &Item) -> io::Result<()> {
    match item {
        Item::Row(row) => write_row(w, row),
        Item::Damaged { seq, problem } => {
            let mut c = vec![String::new(); COLUMNS.len()];
            c[0] = seq.to_string();
            c[6] = "[damaged]".to_string();
            c[19] = format!("[damaged entry: {problem}]");
            write_cells(w, &c)
        }
    }
}

/// Writes one entry as a row.
pub fn write_row<W: Write>(w: &mut W, row: &Row) -> io::Result<()> {
    let e = &row.entry;
    let h = e.header();
    let mut c: Vec<String> = Vec::with_capacity(COLUMNS.len());
    let opt = |v: Option<String>| v.unwrap_or_default();
    c.push(h.seq.to_string());
    c.push(row.hash_hex());
    c.push(h.ledger_time.to_rfc3339());
    c.push(row.event_time.to_rfc3339());
    match &row.change {
        Some(ch) => {
            c.push(opt(ch.occurred_at.map(|t| t.to_rfc3339())));
            c.push(ch.incident.clone());
            c.push(row.action().to_string());
            c.push(ch.actor_id.text());
            c.push(ch.actor_kind.to_string());
            c.push(ch.target_id.text());
            c.push(ch.target_kind.to_string());
            c.push(ch.target_system.clone());
            c.push(opt(ch.scope.as_ref().map(|s| s.text())));
            match &ch.approval {
                ApprovalView::Approved { by, source, reference, at } => {
                    c.push("approved".into());
                    c.push(by.text());
                    c.push(source.clone());
                    c.push(opt(reference.as_ref().map(|r| r.text())));
                    c.push(opt(at.map(|t| t.to_rfc3339())));
                    c.push(String::new());
                }
                ApprovalView::None { note } => {
                    c.push("none".into());
                    c.extend([String::new(), String::new(), String::new(), String::new()]);
                    c.push(note.text());
                }
            }
            c.push(ch.reason.text());
            c.push(ch.status.to_string());
            c.push(opt(ch.detail.as_ref().map(|d| d.text())));
            c.push(opt(ch.expires_at.map(|t| t.to_rfc3339())));
            c.push(opt(ch.owner.as_ref().map(|o| o.text())));
            c.push(ch.refs.iter().map(u64::to_string).collect::<Vec<_>>().join(" "));
            c.push(ch.evidence_items().join("; "));
            c.push(ch.attribute_items().join("; "));
            c.push(ch.not_shown().iter().map(|(f, _)| *f).collect::<Vec<_>>().join(" "));
            c.push(opt(ch.incident_prev.map(|s| s.to_string())));
        }
        None => {
            // A control entry: no record columns, except a hold's incident.
            let incident = match row.control() {
                Some(Control::HoldAdd { incident, .. } | Control::HoldRelease { incident, .. }) => incident.clone(),
                _ => String::new(),
            };
            c.push(String::new());
            c.push(incident);
            c.push(row.action().to_string());
            // actor_id .. incident_prev_seq
            c.extend(std::iter::repeat_n(String::new(), 22));
        }
    }
    c.push(hex::encode(h.prev_hash));
    c.push(hex::encode(h.key_id));
    c.push(hex::encode(e.signature));
    c.push(opt(h.submitter.clone()));
    c.push(opt(h.request.clone()));
    c.push(row.control().map(|ctl| ctl.to_json().to_string()).unwrap_or_default());
    debug_assert_eq!(c.len(), COLUMNS.len());
    write_cells(w, &c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_neutralised_and_quoted() {
        let cases: &[(&str, &str)] = &[
            ("plain", "plain"),
            ("=HYPERLINK(\"http://x\",\"y\")", "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\""),
            ("+1", "'+1"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("\rx", "\"'\rx\""),
            ("a,b", "\"a,b\""),
            ("say \"hi\"", "\"say \"\"hi\"\"\""),
            ("two\nlines", "\"two\nlines\""),
            ("a=b", "a=b"),
            ("", ""),
        ];
        for (i, (input, want)) in cases.iter().enumerate() {
            assert_eq!(cell(input), *want, "case {i}: {input:?}");
        }
    }
}
