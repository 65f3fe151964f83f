//! `--format html`: one self-contained report of an incident (or any selection): summary, timeline,
//! verification.
//!
//! The file needs nothing else: no scripts at all, no fonts, no images, no links outside itself
//! (a Content-Security-Policy of `default-src 'none'` says so to the browser too); styles are inline
//! and include print rules (A4/Letter margins, entries not split across pages, colours kept). Every
//! value taken from records or control entries goes through [`escape`]. The summary is computed in
//! a first pass over the selected entries and the timeline written in a second, so memory holds the
//! summary, never the entries.
//!
//! The summary lists the identities touched (with what was done to each, by seq), the actors, the
//! approvals (and every change made without one, with its note), the emergency grants and how each
//! ended (a later `revoke` or `session_revoke` entry whose refs name the grant, or its `expires_at`
//! passing with no such entry), and the open items: emergency grants no revoke ended, incidents
//! without an `incident_close`, outcomes still pending. It judges only the exported entries: a
//! revoke outside the selection is not seen.

use std::collections::BTreeMap;
use std::io::{self, Write};

use super::{ApprovalView, Cell, Context, ExportError, ExportStats, Item, Row, Selection};
use crate::record::{Action, Status};
use crate::time::Timestamp;

/// Escapes text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A field's HTML: the escaped value, or the escaped redaction text in a marked span.
fn cell(c: &Cell<String>) -> String {
    match c {
        Cell::Value(v) => escape(v),
        other => format!("<span class=\"redacted\">{}</span>", escape(&other.placeholder().unwrap_or_default())),
    }
}

/// A key that keeps different redacted values apart (they show the same placeholder).
fn key(c: &Cell<String>, seq: u64) -> String {
    match c {
        Cell::Value(v) => v.clone(),
        other => format!("{} (entry {seq})", other.placeholder().unwrap_or_default()),
    }
}

fn ts(t: Timestamp) -> String {
    escape(&t.to_rfc3339())
}

fn seq_link(s: u64) -> String {
    format!("<a href=\"#e{s}\">#{s}</a>")
}

struct Grant {
    seq: u64,
    target: Cell<String>,
    kind: &'static str,
    system: String,
    scope: Option<Cell<String>>,
    at: Timestamp,
    expires: Option<Timestamp>,
    status: Status,
}

/// How an emergency grant ended, as far as the exported entries show.
enum Ended {
    Revoked { seq: u64, action: &'static str, at: Timestamp },
    Expired { at: Timestamp },
    Active { until: Option<Timestamp> },
    NotGranted,
}

#[derive(Default)]
struct IncidentInfo {
    entries: u64,
    last_open: Option<u64>,
    last_close: Option<(u64, Timestamp)>,
}

/// What was done, by seq: `(seq, action)`.
type Actions = Vec<(u64, &'static str)>;

/// Who approved (as shown), the reference (as shown) and the entries approved that way.
struct ApprovalGroup {
    by: Cell<String>,
    reference: Option<Cell<String>>,
    seqs: Vec<u64>,
}

#[derive(Default)]
struct Summary {
    entries: u64,
    first: Option<Timestamp>,
    last: Option<Timestamp>,
    max_seq: Option<u64>,
    incidents: BTreeMap<String, IncidentInfo>,
    /// (identity, kind, system) -> (seq, action)
    identities: BTreeMap<(String, &'static str, String), (Cell<String>, Actions)>,
    /// (actor, kind) -> (seq, action)
    actors: BTreeMap<(String, &'static str), (Cell<String>, Actions)>,
    /// (by, source, ref) -> seqs
    approvals: BTreeMap<(String, String, String), ApprovalGroup>,
    unapproved: Vec<(u64, &'static str, Cell<String>)>,
    grants: Vec<Grant>,
    /// revoke / session_revoke entries: (seq, action, event time, refs)
    enders: Vec<(u64, &'static str, Timestamp, Vec<u64>)>,
    pending: Vec<(u64, &'static str, Cell<String>)>,
    redacted_fields: u64,
    /// Selected entries that are damaged in the log.
    damaged: Vec<u64>,
}

impl Summary {
    fn add(&mut self, row: &Row) {
        let seq = row.seq();
        self.entries += 1;
        self.first = Some(self.first.map_or(row.event_time, |f| f.min(row.event_time)));
        self.last = Some(self.last.map_or(row.event_time, |l| l.max(row.event_time)));
        self.max_seq = Some(self.max_seq.map_or(seq, |m| m.max(seq)));
        let Some(c) = &row.change else { return };
        self.redacted_fields += c.not_shown().len() as u64;
        let action = row.action();
        let a = row.entry.change().map(|ch| ch.action);
        let inc = self.incidents.entry(c.incident.clone()).or_default();
        inc.entries += 1;
        match a {
            Some(Action::IncidentOpen) => inc.last_open = Some(seq),
            Some(Action::IncidentClose) => inc.last_close = Some((seq, row.event_time)),
            _ => {}
        }
        self.identities
            .entry((key(&c.target_id, seq), c.target_kind.as_str(), c.target_system.clone()))
            .or_insert_with(|| (c.target_id.clone(), Vec::new()))
            .1
            .push((seq, action));
        self.actors
            .entry((key(&c.actor_id, seq), c.actor_kind.as_str()))
            .or_insert_with(|| (c.actor_id.clone(), Vec::new()))
            .1
            .push((seq, action));
        match &c.approval {
            ApprovalView::Approved { by, source, reference, .. } => {
                let r = reference.as_ref().map(|r| key(r, seq)).unwrap_or_default();
                self.approvals
                    .entry((key(by, seq), source.clone(), r))
                    .or_insert_with(|| ApprovalGroup { by: by.clone(), reference: reference.clone(), seqs: Vec::new() })
                    .seqs
                    .push(seq);
            }
            ApprovalView::None { note } => self.unapproved.push((seq, action, note.clone())),
        }
        if a == Some(Action::EmergencyGrant) {
            self.grants.push(Grant {
                seq,
                target: c.target_id.clone(),
                kind: c.target_kind.as_str(),
                system: c.target_system.clone(),
                scope: c.scope.clone(),
                at: row.event_time,
                expires: c.expires_at,
                status: c.status,
            });
        }
        if matches!(a, Some(Action::Revoke | Action::SessionRevoke)) {
            self.enders.push((seq, action, row.event_time, c.refs.clone()));
        }
        if c.status == Status::Pending {
            self.pending.push((seq, action, c.target_id.clone()));
        }
    }

    fn ended(&self, g: &Grant, now: Timestamp) -> Ended {
        if g.status == Status::Failure {
            return Ended::NotGranted;
        }
        if let Some((seq, action, at, _)) =
            self.enders.iter().find(|(s, _, _, refs)| *s > g.seq && refs.contains(&g.seq))
        {
            return Ended::Revoked { seq: *seq, action, at: *at };
        }
        match g.expires {
            Some(t) if t <= now => Ended::Expired { at: t },
            until => Ended::Active { until },
        }
    }

    fn open_items(&self, ctx: &Context) -> Vec<String> {
        let mut out = Vec::new();
        match &ctx.verification {
            Some(v) if !v.intact => out.push(format!(
                "<strong>The ledger did not verify</strong> ({} problem(s)); see <a href=\"#verification\">Verification</a>.",
                v.findings
            )),
            None => out.push("<strong>The ledger was not verified</strong> for this export.".to_string()),
            _ => {}
        }
        for seq in &self.damaged {
            out.push(format!("Entry {} is damaged in the log; what it recorded cannot be relied on.", seq_link(*seq)));
        }
        for g in &self.grants {
            let what = format!("Emergency grant {} to {}", seq_link(g.seq), cell(&g.target));
            match self.ended(g, ctx.generated_at) {
                Ended::Expired { at } => out.push(format!(
                    "{what} expired at {} but no revoke entry records that the access was removed.",
                    ts(at)
                )),
                Ended::Active { until: Some(t) } => {
                    out.push(format!("{what} is still active (until {}); no revoke entry ends it.", ts(t)))
                }
                Ended::Active { until: None } => out.push(format!("{what} has no expiry and no revoke entry ends it.")),
                Ended::Revoked { .. } | Ended::NotGranted => {}
            }
        }
        for (incident, info) in &self.incidents {
            let closed = matches!((info.last_close, info.last_open), (Some((c, _)), o) if o.is_none_or(|o| o < c));
            if !closed {
                out.push(format!(
                    "Incident {} is not closed (no incident_close entry after its last incident_open).",
                    escape(incident)
                ));
            }
        }
        for (seq, action, target) in &self.pending {
            out.push(format!("{} {} on {}: outcome still pending.", seq_link(*seq), escape(action), cell(target)));
        }
        out
    }
}

const STYLE: &str = r#"
:root { --ok: #1b6e20; --bad: #a30d0d; --muted: #5a5a5a; --line: #d0d0d0; --red-bg: #fdecea; --ok-bg: #eaf5ea; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: #111; margin: 0 auto; max-width: 1100px; padding: 24px; }
h1 { font-size: 1.6em; margin: 0 0 4px; } h2 { font-size: 1.25em; border-bottom: 2px solid #111; padding-bottom: 2px; margin-top: 28px; } h3 { font-size: 1.05em; margin: 18px 0 6px; }
.sub, .muted { color: var(--muted); }
code, .mono, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; font-size: 12px; }
.hash { word-break: break-all; }
table { border-collapse: collapse; width: 100%; margin: 4px 0 10px; }
th, td { text-align: left; vertical-align: top; border-bottom: 1px solid var(--line); padding: 4px 6px; }
th { background: #f3f3f3; }
.verification { border: 3px solid var(--ok); background: var(--ok-bg); padding: 10px 16px; margin-top: 16px; }
.verification.fail { border-color: var(--bad); background: var(--red-bg); }
.verification .result { font-size: 1.2em; font-weight: 700; color: var(--ok); }
.verification.fail .result { color: var(--bad); text-transform: uppercase; }
.verification pre { white-space: pre-wrap; word-break: break-all; background: #fff; border: 1px solid var(--line); padding: 6px; }
.open li { margin: 3px 0; }
.redacted { background: #eee; border: 1px dashed #888; padding: 0 3px; font-style: italic; }
ol.timeline { list-style: none; padding: 0; margin: 0; }
.entry { border-left: 4px solid #888; padding: 6px 10px; margin: 10px 0; background: #fafafa; break-inside: avoid; page-break-inside: avoid; }
.entry.emergency_grant { border-left-color: #c77700; } .entry.revoke, .entry.session_revoke, .entry.disable, .entry.delete { border-left-color: #3557a8; }
.entry.incident_open, .entry.incident_close { border-left-color: #111; } .entry.damaged { border-left-color: var(--bad); background: var(--red-bg); } .entry.control { border-left-color: #8a55a8; }
.entry .head { font-weight: 600; } .entry .head .seq { font-family: ui-monospace, monospace; }
.entry .action { text-transform: uppercase; letter-spacing: .03em; }
.status-failure, .status-pending, .status-partial, .noapproval { color: var(--bad); font-weight: 600; }
.entry dl { display: grid; grid-template-columns: 11em 1fr; gap: 1px 10px; margin: 6px 0; }
.entry dt { color: var(--muted); } .entry dd { margin: 0; }
.entry .meta { color: var(--muted); font-size: 12px; margin: 4px 0 0; }
footer { margin-top: 30px; color: var(--muted); font-size: 12px; border-top: 1px solid var(--line); padding-top: 8px; }
@page { margin: 14mm 12mm; }
@media print {
  body { max-width: none; padding: 0; font-size: 10pt; }
  a { color: inherit; text-decoration: none; }
  h2 { break-after: avoid; page-break-after: avoid; }
  tr, .entry, .verification { break-inside: avoid; page-break-inside: avoid; }
  .verification, .entry, th, .redacted { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"#;

/// Writes the report.
pub fn write<W: Write>(sel: &Selection<'_>, ctx: &Context, w: &mut W) -> Result<ExportStats, ExportError> {
    let mut summary = Summary::default();
    for item in sel.items() {
        match item? {
            Item::Row(row) => summary.add(&row),
            Item::Damaged { seq, .. } => summary.damaged.push(seq),
        }
    }
    let title = match &ctx.incident {
        Some(i) => format!("Incident {i}"),
        None => format!("Ledger export: {}", ctx.filter),
    };
    write!(
        w,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n\
         <meta name=\"generator\" content=\"custody {}\">\n<title>{} — custody</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        env!("CARGO_PKG_VERSION"),
        escape(&title)
    )?;
    writeln!(w, "<header>\n<h1>{}</h1>", escape(&title))?;
    let span = match (summary.first, summary.last) {
        (Some(f), Some(l)) => format!(", from {} to {}", ts(f), ts(l)),
        _ => String::new(),
    };
    writeln!(
        w,
        "<p class=\"sub\">Ledger <strong>{}</strong> (ID <code>{}</code>) · selection: {} · {} entr{}{span} · exported {}</p>\n</header>",
        escape(&ctx.ledger_name),
        escape(&ctx.ledger_id),
        escape(&ctx.filter),
        summary.entries,
        if summary.entries == 1 { "y" } else { "ies" },
        ts(ctx.generated_at)
    )?;
    write_verification(w, ctx, &summary)?;
    write_summary(w, ctx, &summary)?;
    writeln!(w, "<section id=\"timeline\">\n<h2>Timeline</h2>")?;
    if summary.entries == 0 {
        writeln!(w, "<p>No entries match the selection.</p>")?;
    }
    writeln!(w, "<ol class=\"timeline\">")?;
    let mut stats = ExportStats::default();
    for item in sel.items() {
        let item = item?;
        match &item {
            Item::Row(row) => write_entry(w, ctx, row)?,
            Item::Damaged { seq, problem } => writeln!(
                w,
                "<li class=\"entry damaged\" id=\"e{seq}\"><div class=\"head\"><span class=\"seq\">#{seq}</span> · DAMAGED</div>\
                 <p>This entry is damaged in the log and is not shown: <code>{}</code></p></li>",
                escape(problem)
            )?,
        }
        stats.add(&item);
    }
    writeln!(w, "</ol>\n</section>")?;
    writeln!(
        w,
        "<footer>Written by custody {} from the ledger's log. Each entry's hash is BLAKE3 over its signed bytes and is signed \
         with Ed25519 by the key shown (docs/FORMAT.md). To check this report against the ledger: <code>custody verify --ledger DIR</code>; \
         for one entry: <code>custody prove --ledger DIR --seq N</code> and <code>custody verify-proof</code>.</footer>\n</body>\n</html>",
        env!("CARGO_PKG_VERSION")
    )?;
    Ok(stats)
}

fn write_verification<W: Write>(w: &mut W, ctx: &Context, summary: &Summary) -> io::Result<()> {
    let Some(v) = &ctx.verification else {
        return writeln!(
            w,
            "<section id=\"verification\" class=\"verification fail\">\n<h2>Verification</h2>\n\
             <p class=\"result\">Not verified: this export was written without verifying the ledger.</p>\n</section>"
        );
    };
    let class = if v.intact { "verification" } else { "verification fail" };
    writeln!(w, "<section id=\"verification\" class=\"{class}\">\n<h2>Verification</h2>")?;
    writeln!(w, "<p class=\"result\">{}</p>", escape(&v.headline()))?;
    writeln!(w, "<table>")?;
    let row = |w: &mut W, k: &str, v: String| writeln!(w, "<tr><th>{k}</th><td>{v}</td></tr>");
    row(
        w,
        "Result",
        if v.intact {
            "Verified: every entry of the log decodes, chains, is signed by a key authorised at that point and matches its field commitments.".into()
        } else {
            format!("<strong>NOT VERIFIED</strong>: {} integrity problem(s). Do not rely on this report until they are explained.", v.findings)
        },
    )?;
    match &v.checkpoint {
        Some(c) => {
            let origin = if c.fresh { "issued for this export" } else { "the latest checkpoint the ledger issued" };
            row(
                w,
                "Checked against",
                format!(
                    "checkpoint ({origin}) <code>{}</code>, tree size {}, root <code class=\"hash\">{}</code>; signature by a ledger key: {}",
                    escape(&c.origin),
                    c.size,
                    escape(&c.root),
                    if c.signature_ok { "valid" } else { "<strong>INVALID</strong>" }
                ),
            )?;
            if let Some(max) = summary.max_seq.filter(|m| *m >= c.size) {
                row(
                    w,
                    "Coverage",
                    format!(
                        "exported entries up to #{} are newer than the checkpoint (size {}): the hash chain and signatures cover them, this checkpoint does not",
                        max, c.size
                    ),
                )?;
            }
        }
        None => row(
            w,
            "Checked against",
            "no checkpoint: the ledger has issued none (<code>custody export --checkpoint-key KEY</code> issues one); the result rests on the log and its genesis key".into(),
        )?,
    }
    row(
        w,
        "Log",
        format!(
            "{} entries; head <code class=\"hash\">{}</code>; tree root <code class=\"hash\">{}</code>",
            v.entries,
            escape(v.head_hash.as_deref().unwrap_or("-")),
            escape(v.tree_root.as_deref().unwrap_or("-"))
        ),
    )?;
    row(
        w,
        "Genesis key",
        if v.trust == "pinned" {
            "pinned by the verifier".into()
        } else {
            "trusted on first use (compare its key ID with one you hold)".into()
        },
    )?;
    let keys: Vec<String> = v.keys.iter().map(|k| format!("<li><code>{}</code></li>", escape(k))).collect();
    row(w, "Key IDs", format!("<ul>{}</ul>", keys.join("")))?;
    row(w, "Findings", v.findings.to_string())?;
    writeln!(w, "</table>")?;
    if !v.finding_lines.is_empty() {
        writeln!(w, "<h3>Problems found</h3>\n<ul>")?;
        for f in &v.finding_lines {
            writeln!(w, "<li><code>{}</code></li>", escape(f))?;
        }
        if v.findings > v.finding_lines.len() as u64 {
            writeln!(
                w,
                "<li>... and {} more (run <code>custody verify</code>)</li>",
                v.findings - v.finding_lines.len() as u64
            )?;
        }
        writeln!(w, "</ul>")?;
    }
    if let Some(c) = &v.checkpoint {
        writeln!(w, "<h3>Checkpoint (signed note)</h3>\n<pre>{}</pre>", escape(&c.note))?;
    }
    writeln!(w, "</section>")
}

fn actions(list: &[(u64, &'static str)]) -> String {
    list.iter().map(|(s, a)| format!("{} {}", seq_link(*s), escape(a))).collect::<Vec<_>>().join(", ")
}

fn write_summary<W: Write>(w: &mut W, ctx: &Context, s: &Summary) -> io::Result<()> {
    writeln!(w, "<section id=\"summary\">\n<h2>Summary</h2>")?;
    if s.incidents.len() > 1 || ctx.incident.is_none() {
        let names: Vec<String> = s
            .incidents
            .iter()
            .map(|(i, info)| {
                format!("{} ({} entr{})", escape(i), info.entries, if info.entries == 1 { "y" } else { "ies" })
            })
            .collect();
        writeln!(w, "<p>Incidents: {}</p>", if names.is_empty() { "none".into() } else { names.join(", ") })?;
    }
    writeln!(w, "<h3>Open items</h3>")?;
    let open = s.open_items(ctx);
    if open.is_empty() {
        writeln!(w, "<p>None: every emergency grant was ended by a revoke entry and every incident is closed.</p>")?;
    } else {
        writeln!(w, "<ul class=\"open\">")?;
        for item in open {
            writeln!(w, "<li>{item}</li>")?;
        }
        writeln!(w, "</ul>")?;
    }

    writeln!(w, "<h3>Emergency grants</h3>")?;
    if s.grants.is_empty() {
        writeln!(w, "<p>None.</p>")?;
    } else {
        writeln!(w, "<table><tr><th>Entry</th><th>Granted to</th><th>Scope</th><th>Granted at</th><th>Expires at</th><th>Ended</th></tr>")?;
        for g in &s.grants {
            let ended = match s.ended(g, ctx.generated_at) {
                Ended::Revoked { seq, action, at } => format!("by {} {} at {}", seq_link(seq), escape(action), ts(at)),
                Ended::Expired { at } => format!("<strong>expired at {} with no revoke entry</strong>", ts(at)),
                Ended::Active { until: Some(t) } => format!("<strong>not ended: active until {}</strong>", ts(t)),
                Ended::Active { until: None } => "<strong>not ended</strong>".to_string(),
                Ended::NotGranted => "not granted (outcome failure)".to_string(),
            };
            writeln!(
                w,
                "<tr><td>{}</td><td>{} <span class=\"muted\">({} in {})</span></td><td>{}</td><td>{}</td><td>{}</td><td>{ended}</td></tr>",
                seq_link(g.seq),
                cell(&g.target),
                escape(g.kind),
                escape(&g.system),
                g.scope.as_ref().map(cell).unwrap_or_default(),
                ts(g.at),
                g.expires.map(ts).unwrap_or_else(|| "-".into()),
            )?;
        }
        writeln!(w, "</table>")?;
    }

    writeln!(w, "<h3>Identities touched</h3>")?;
    writeln!(w, "<table><tr><th>Identity</th><th>Kind</th><th>System</th><th>Entries</th></tr>")?;
    for ((_, kind, system), (id, list)) in &s.identities {
        writeln!(
            w,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            cell(id),
            escape(kind),
            escape(system),
            actions(list)
        )?;
    }
    writeln!(w, "</table>")?;

    writeln!(w, "<h3>Actors</h3>")?;
    writeln!(w, "<table><tr><th>Actor</th><th>Kind</th><th>Entries</th></tr>")?;
    for ((_, kind), (id, list)) in &s.actors {
        writeln!(w, "<tr><td>{}</td><td>{}</td><td>{}</td></tr>", cell(id), escape(kind), actions(list))?;
    }
    writeln!(w, "</table>")?;

    writeln!(w, "<h3>Approvals</h3>")?;
    if !s.approvals.is_empty() {
        writeln!(w, "<table><tr><th>Approved by</th><th>Through</th><th>Reference</th><th>Entries</th></tr>")?;
        for ((_, source, _), ApprovalGroup { by, reference, seqs }) in &s.approvals {
            let list: Vec<String> = seqs.iter().map(|q| seq_link(*q)).collect();
            writeln!(
                w,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                cell(by),
                escape(source),
                reference.as_ref().map(cell).unwrap_or_else(|| "-".into()),
                list.join(", ")
            )?;
        }
        writeln!(w, "</table>")?;
    }
    if s.unapproved.is_empty() {
        writeln!(w, "<p>Every change records an approval.</p>")?;
    } else {
        writeln!(w, "<p class=\"noapproval\">Changes made without approval:</p>")?;
        writeln!(w, "<table><tr><th>Entry</th><th>Action</th><th>Why there was no approval</th></tr>")?;
        for (seq, action, note) in &s.unapproved {
            writeln!(w, "<tr><td>{}</td><td>{}</td><td>{}</td></tr>", seq_link(*seq), escape(action), cell(note))?;
        }
        writeln!(w, "</table>")?;
    }
    if s.redacted_fields > 0 {
        writeln!(
            w,
            "<p>{} field(s) of the exported entries were erased under a recorded authority; each is marked where it was, with the redaction entry, its reason and authority.</p>",
            s.redacted_fields
        )?;
    }
    writeln!(w, "</section>")
}

fn write_entry<W: Write>(w: &mut W, ctx: &Context, row: &Row) -> io::Result<()> {
    let e = &row.entry;
    let h = e.header();
    let action = row.action();
    let class = if row.change.is_some() { action.to_string() } else { format!("control {action}") };
    writeln!(w, "<li class=\"entry {}\" id=\"e{}\">", escape(&class), h.seq)?;
    let status = row
        .change
        .as_ref()
        .map(|c| format!(" · <span class=\"status-{0}\">{0}</span>", escape(c.status.as_str())))
        .unwrap_or_default();
    writeln!(
        w,
        "<div class=\"head\"><span class=\"seq\">#{}</span> · <time datetime=\"{}\">{}</time> · <span class=\"action\">{}</span>{status}</div>",
        h.seq,
        ts(row.event_time),
        ts(row.event_time),
        escape(&action.replace('_', " "))
    )?;
    match &row.change {
        Some(c) => {
            writeln!(
                w,
                "<p class=\"what\">{} <span class=\"muted\">({})</span> → {} <span class=\"muted\">({} in {})</span></p>",
                cell(&c.actor_id),
                escape(c.actor_kind.as_str()),
                cell(&c.target_id),
                escape(c.target_kind.as_str()),
                escape(&c.target_system)
            )?;
            writeln!(w, "<dl>")?;
            let dd = |w: &mut W, k: &str, v: String| writeln!(w, "<dt>{k}</dt><dd>{v}</dd>");
            // With one incident the title names it.
            if ctx.incident.is_none() {
                dd(w, "Incident", escape(&c.incident))?;
            }
            if let Some(s) = &c.scope {
                dd(w, "Scope", cell(s))?;
            }
            match &c.approval {
                ApprovalView::Approved { by, source, reference, at } => {
                    let mut s = format!("{} via {}", cell(by), escape(source));
                    if let Some(r) = reference {
                        s.push_str(&format!(" ({})", cell(r)));
                    }
                    if let Some(at) = at {
                        s.push_str(&format!(" at {}", ts(*at)));
                    }
                    dd(w, "Approval", s)?;
                }
                ApprovalView::None { note } => {
                    dd(w, "Approval", format!("<span class=\"noapproval\">none</span>: {}", cell(note)))?;
                }
            }
            dd(w, "Reason", cell(&c.reason))?;
            if let Some(d) = &c.detail {
                dd(w, "Outcome", format!("{}: {}", escape(c.status.as_str()), cell(d)))?;
            }
            if let Some(t) = c.expires_at {
                dd(w, "Expires", ts(t))?;
            }
            if let Some(o) = &c.owner {
                dd(w, "Owner", cell(o))?;
            }
            if !c.refs.is_empty() {
                let refs: Vec<String> = c.refs.iter().map(|r| seq_link(*r)).collect();
                dd(w, "Answers", refs.join(", "))?;
            }
            if let Some(ev) = &c.evidence {
                let v = match ev {
                    Cell::Value(_) => c
                        .evidence_items()
                        .iter()
                        .map(|i| format!("<code>{}</code>", escape(i)))
                        .collect::<Vec<_>>()
                        .join("<br>"),
                    other => {
                        format!("<span class=\"redacted\">{}</span>", escape(&other.placeholder().unwrap_or_default()))
                    }
                };
                dd(w, "Evidence", v)?;
            }
            if let Some(at) = &c.attributes {
                let v = match at {
                    Cell::Value(_) => escape(&c.attribute_items().join("; ")),
                    other => {
                        format!("<span class=\"redacted\">{}</span>", escape(&other.placeholder().unwrap_or_default()))
                    }
                };
                dd(w, "Attributes", v)?;
            }
            if c.occurred_at.is_some() {
                dd(w, "Recorded", ts(row.ledger_time()))?;
            }
            writeln!(w, "</dl>")?;
        }
        None => {
            writeln!(w, "<p class=\"what\">{}</p>", escape(&row.message()))?;
            if let Some(ctl) = row.control() {
                writeln!(w, "<p class=\"meta mono\">{}</p>", escape(&ctl.to_json().to_string()))?;
            }
        }
    }
    writeln!(
        w,
        "<p class=\"meta\">seq {} · entry hash <code class=\"hash\">{}</code> · key <code>{}</code> · prev <code class=\"hash\">{}</code></p>\n</li>",
        h.seq,
        row.hash_hex(),
        hex::encode(h.key_id),
        hex::encode(h.prev_hash)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(escape("<script>alert(1)</script>"), "&lt;script&gt;alert(1)&lt;/script&gt;");
        assert_eq!(escape("a & \"b\" 'c'"), "a &amp; &quot;b&quot; &#39;c&#39;");
        assert_eq!(cell(&Cell::Value("<b>".into())), "&lt;b&gt;");
    }
}
