//! Printing: JSON lines, human lines, progress bars. Only presentation lives here.

use std::io::{IsTerminal, Write};

use custody::commit::Field;
use custody::entry::{Entry, Shown};
use custody::ledger::Ledger;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

/// Prints one JSON value as a line on stdout.
pub fn json_line<T: Serialize>(v: &T) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, v)?;
    writeln!(out)?;
    // Receipts are promises: a reader of a pipe must see each one as soon as it is made.
    out.flush()?;
    Ok(())
}

/// Prints a line on stdout, turning a closed pipe into an error `main` treats as success.
pub fn line(s: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{s}")?;
    Ok(())
}

/// A progress bar on stderr when it is a terminal and the work is long; hidden otherwise.
pub fn progress(len: u64, what: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() || len < 10_000 {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(len);
    pb.set_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} ({per_sec}, eta {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    pb.set_message(what.to_string());
    pb
}

fn text(e: &Entry, f: Field, ledger: Option<&Ledger>) -> Option<String> {
    let c = e.change()?;
    Some(match c.text(&e.openings, f)? {
        Shown::Value(v) => v,
        Shown::Redacted { by } => {
            let why = ledger
                .map(|l| l.describe_redaction(by))
                .and_then(|m| Some(format!(": {} ({})", m.get("reason")?.as_str()?, m.get("authority")?.as_str()?)))
                .unwrap_or_default();
            format!("[redacted by entry {by}{why}]")
        }
        Shown::Withheld => "[withheld]".into(),
        Shown::Missing => "[missing]".into(),
    })
}

/// One human-readable timeline line for an entry.
pub fn entry_line(e: &Entry, ledger: Option<&Ledger>) -> String {
    let h = e.header();
    match e.change() {
        Some(c) => {
            let when = c.occurred_at.unwrap_or(h.ledger_time);
            let actor = text(e, Field::ActorId, ledger).unwrap_or_default();
            let target = text(e, Field::TargetId, ledger).unwrap_or_default();
            let mut s = format!(
                "#{:<5} {}  {:<16} {} -> {} ({} in {})",
                h.seq,
                when,
                c.action.as_str(),
                actor,
                target,
                c.target_kind.as_str(),
                c.target_system
            );
            if let Some(scope) = text(e, Field::Scope, ledger) {
                s.push_str(&format!("  scope={scope}"));
            }
            s.push_str(&format!("  {}", c.status.as_str()));
            match c.approval {
                custody::entry::ApprovalKind::None => {
                    s.push_str(&format!(
                        "  NO APPROVAL ({})",
                        text(e, Field::ApprovalNone, ledger).unwrap_or_default()
                    ));
                }
                custody::entry::ApprovalKind::Approved { .. } => {
                    s.push_str(&format!("  approved by {}", text(e, Field::ApprovalBy, ledger).unwrap_or_default()));
                    if let Some(r) = text(e, Field::ApprovalRef, ledger) {
                        s.push_str(&format!(" ({r})"));
                    }
                }
            }
            if let Some(exp) = c.expires_at {
                s.push_str(&format!("  expires {exp}"));
            }
            if !c.refs.is_empty() {
                s.push_str(&format!("  refs {:?}", c.refs));
            }
            s.push_str(&format!("  \"{}\"", text(e, Field::Reason, ledger).unwrap_or_default()));
            s
        }
        None => {
            let ctl = e.control().map(|c| c.to_json()).unwrap_or_default();
            format!("#{:<5} {}  {:<16} {}", h.seq, h.ledger_time, e.action_name(), ctl)
        }
    }
}
