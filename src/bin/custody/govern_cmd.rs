//! `custody state`, `custody drift` and `custody report`: closure evidence from a verified ledger.
//!
//! Each command verifies the ledger first and refuses (exit 1, a loud message on stderr) when it is
//! not intact, unless `--allow-unverified` is given; then every output (text, JSON, HTML) and stderr
//! say UNVERIFIED. `report --fail-on SEVERITY` exits 1 when a finding at or above that severity
//! exists, so a pipeline can gate an incident's closure on it. All ledger logic is in
//! `custody::govern`; this file parses, prints and picks the exit code.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use serde_json::{json, Value};

use custody::govern::drift::{drift, ChangeKind, Drift, DriftOptions};
use custody::govern::rules::{report, Finding, IncidentSummary, Report, ReportOptions, Severity};
use custody::govern::state::{replay, Identity, IdentityStatus, ReplayOptions, State};
use custody::govern::{EntryRef, Point, Source, Verification};
use custody::time::Timestamp;
use custody::verify::VerifyOptions;

use crate::args::LedgerArg;
use crate::output::{json_line, line, progress};
use crate::Outcome;

/// How to treat verification.
#[derive(Args, Debug, Clone)]
pub struct CheckArgs {
    /// Public key the genesis entry must be signed by (custody-ed25519:HEX, HEX, or a key file)
    #[arg(long)]
    pub trust: Option<String>,
    /// Read a ledger that does not verify; every output then says UNVERIFIED
    #[arg(long)]
    pub allow_unverified: bool,
}

#[derive(Args, Debug)]
pub struct StateArgs {
    #[command(flatten)]
    pub ledger: LedgerArg,
    /// As of this time (RFC 3339): entries whose event time is at or before it
    #[arg(long, conflicts_with = "seq")]
    pub at: Option<String>,
    /// As of this entry: entries 0..=N
    #[arg(long)]
    pub seq: Option<u64>,
    /// Only this identity ID (in any system)
    #[arg(long)]
    pub target: Option<String>,
    #[command(flatten)]
    pub check: CheckArgs,
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct DriftArgs {
    #[command(flatten)]
    pub ledger: LedgerArg,
    /// Earlier time (RFC 3339)
    #[arg(long)]
    pub from: String,
    /// Later time (RFC 3339)
    #[arg(long)]
    pub to: String,
    /// Only the identities this incident names
    #[arg(long)]
    pub incident: Option<String>,
    #[command(flatten)]
    pub check: CheckArgs,
    #[arg(long)]
    pub json: bool,
}

/// Output formats of `report`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    Html,
}

#[derive(Args, Debug)]
pub struct ReportArgs {
    #[command(flatten)]
    pub ledger: LedgerArg,
    /// Only this incident
    #[arg(long)]
    pub incident: Option<String>,
    /// Judge as of this time (RFC 3339; default now): later events are left out
    #[arg(long)]
    pub as_of: Option<String>,
    /// Same as --format json
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Exit 1 when a finding at or above this severity exists: info, low, medium, high, critical
    #[arg(long)]
    pub fail_on: Option<String>,
    /// Weekly points after an incident's close for the exception trend (CUS-EX-001)
    #[arg(long, default_value_t = 4)]
    pub weeks: u32,
    /// The longest emergency grant that counts as time-boxed (CUS-EG-005), e.g. 24h, 2d
    #[arg(long, default_value = "24h")]
    pub max_emergency: String,
    #[command(flatten)]
    pub check: CheckArgs,
}

/// Verifies the ledger; `None` (after a loud refusal) when it is not intact and not allowed.
fn source(ledger: &LedgerArg, check: &CheckArgs) -> anyhow::Result<Option<Source>> {
    let dir = &ledger.ledger;
    if !dir.join("log").is_dir() {
        bail!("{} is not a custody ledger (no log/ directory); give --ledger DIR", dir.display());
    }
    let trust = check.trust.as_deref().map(crate::commands::public_key_arg).transpose()?;
    let approx =
        std::fs::read_dir(dir.join("log"))?.filter_map(|e| e.ok()?.metadata().ok()).map(|m| m.len()).sum::<u64>() / 600;
    let pb = progress(approx, "verifying");
    let tick = |n: u64| pb.set_position(n);
    let src = Source::verify(dir, &VerifyOptions { trust, progress: Some(&tick), ..Default::default() })?;
    pb.finish_and_clear();
    if let Some(banner) = src.verification().banner() {
        if !check.allow_unverified {
            let v = src.verification();
            eprintln!(
                "custody: REFUSED: the ledger at {} did not verify; findings from it would not be evidence.",
                dir.display()
            );
            for p in &v.problems {
                eprintln!("  {p}");
            }
            if v.problems_total > v.problems.len() as u64 {
                eprintln!("  ... and {} more", v.problems_total - v.problems.len() as u64);
            }
            eprintln!(
                "Run `custody verify --ledger {}` to locate every problem, or pass --allow-unverified to read it anyway (every output then says UNVERIFIED).",
                dir.display()
            );
            return Ok(None);
        }
        eprintln!("custody: WARNING: {banner}");
    }
    Ok(Some(src))
}

fn time_arg(flag: &str, s: &str) -> anyhow::Result<Timestamp> {
    Timestamp::parse(s).map_err(|e| anyhow::anyhow!("{flag}: {e}"))
}

fn verified_line(v: &Verification) -> String {
    match v.banner() {
        Some(b) => format!("!!! {b} !!!"),
        None => format!(
            "verified: INTACT ({} entries, head {}, genesis key {})",
            v.entries,
            v.head_hash.as_deref().map(|h| &h[..16]).unwrap_or("-"),
            v.trust
        ),
    }
}

/// Adds `verification` and, when unverified, a top-level `warning` to a JSON object.
fn with_verification(mut v: Value, src: &Source) -> Value {
    if let Value::Object(m) = &mut v {
        m.insert("verification".into(), json!(src.verification()));
        m.insert("warning".into(), json!(src.verification().banner()));
    }
    v
}

// ---- state ---------------------------------------------------------------------------------------

pub fn state(a: StateArgs) -> anyhow::Result<Outcome> {
    let point = match (&a.at, a.seq) {
        (Some(t), _) => Point::Time(time_arg("--at", t)?),
        (None, Some(n)) => Point::Seq(n),
        (None, None) => Point::Head,
    };
    let Some(src) = source(&a.ledger, &a.check)? else { return Ok(Outcome::IntegrityFailure) };
    let st = replay(&src, &ReplayOptions { point, now: Timestamp::now(), target: a.target.clone() })?;
    let idents = st.identities();
    if a.json {
        let v = json!({
            "ledger": a.ledger.ledger.display().to_string(),
            "point": point, "as_of": st.as_of, "target": a.target,
            "entries_applied": st.applied, "entries_without_effect": st.ignored, "last_seq": st.last_seq,
            "redacted_identities": st.redacted_identities,
            "identities": idents.iter().map(|(_, i)| st.identity_json(i)).collect::<Vec<_>>(),
        });
        json_line(&with_verification(v, &src))?;
        return Ok(Outcome::Ok);
    }
    line(&verified_line(src.verification()))?;
    line(&format!(
        "state of {} as of {} ({}): {} identit(ies) from {} access-change entr(ies)",
        a.ledger.ledger.display(),
        st.as_of,
        match point {
            Point::Head => "head".to_string(),
            Point::Seq(n) => format!("after entry {n}"),
            Point::Time(t) => format!("events at or before {t}"),
        },
        idents.len(),
        st.applied
    ))?;
    if st.redacted_identities > 0 {
        line(&format!(
            "note: {} entr(ies) had their target ID erased; each is kept apart as the opaque identity redacted:<seq>",
            st.redacted_identities
        ))?;
    }
    for (_, i) in &idents {
        line("")?;
        for l in identity_lines(&st, i) {
            line(&l)?;
        }
    }
    if let Some(b) = src.verification().banner() {
        line("")?;
        line(&format!("!!! {b} !!!"))?;
    }
    Ok(Outcome::Ok)
}

fn r(e: &EntryRef) -> String {
    e.short()
}

fn identity_lines(st: &State, i: &Identity) -> Vec<String> {
    let mut out = Vec::new();
    let owner = match &i.owner {
        Some(o) => format!("owner {} ({})", st.show(&o.value), r(&o.by)),
        None => "NO OWNER".to_string(),
    };
    let status = match (i.status, i.status_by) {
        (IdentityStatus::Active, None) => "active".to_string(),
        (s, Some(by)) => format!("{} ({})", s.as_str(), r(&by)),
        (s, None) => s.as_str().to_string(),
    };
    out.push(format!("{}  {status}  {owner}", st.name(i)));
    let t = st.as_of;
    let ent_line = |label: &str, scope: &str, e: &custody::govern::state::Entitlement| {
        let mut s = format!("  {label} {scope}");
        if e.emergency() {
            s.push_str("  EMERGENCY");
        }
        let _ = write!(s, "  granted {} in {}  {}", r(&e.granted), e.incident, st.approval_text(&e.approval));
        if let Some(o) = &e.owner {
            let _ = write!(s, "  owner {}", st.show(o));
        }
        if let Some(x) = e.expires_at {
            let _ = write!(s, "  expires {x}");
        }
        s
    };
    let active = i.status == IdentityStatus::Active;
    for (scope, e) in i.entitlements.iter().filter(|(_, e)| e.in_force(t)) {
        out.push(ent_line(if active { "entitlement" } else { "suspended" }, scope, e));
    }
    for (scope, e) in i.lapsed(t) {
        out.push(ent_line("LAPSED, no revocation recorded:", scope, e));
    }
    for (scope, x) in i.exceptions.iter().filter(|(_, x)| x.in_force(t)) {
        let exp = x.expires_at.map(|e| format!("  expires {e}")).unwrap_or_default();
        out.push(format!(
            "  exception {scope}  added {} in {}  {}{exp}",
            r(&x.added),
            x.incident,
            st.approval_text(&x.approval)
        ));
    }
    let times: Vec<String> = [
        ("rotated", i.rotated),
        ("sessions revoked", i.sessions_revoked),
        ("restored", i.restored),
        ("recertified", i.recertified),
        ("last observed", i.observed),
    ]
    .into_iter()
    .filter_map(|(what, at)| at.map(|at| format!("{what} {} ({})", at.time, r(&at))))
    .collect();
    if !times.is_empty() {
        out.push(format!("  {}", times.join("; ")));
    }
    out
}

// ---- drift ---------------------------------------------------------------------------------------

pub fn drift_cmd(a: DriftArgs) -> anyhow::Result<Outcome> {
    let from = time_arg("--from", &a.from)?;
    let to = time_arg("--to", &a.to)?;
    if to < from {
        bail!("--from ({from}) is after --to ({to}); give the earlier time first");
    }
    let Some(src) = source(&a.ledger, &a.check)? else { return Ok(Outcome::IntegrityFailure) };
    let d = drift(&src, &DriftOptions { from, to, incident: a.incident.clone() })?;
    if a.json {
        json_line(&with_verification(serde_json::to_value(&d)?, &src))?;
        return Ok(Outcome::Ok);
    }
    for l in drift_lines(&d, src.verification()) {
        line(&l)?;
    }
    Ok(Outcome::Ok)
}

fn drift_lines(d: &Drift, v: &Verification) -> Vec<String> {
    let mut out = vec![verified_line(v)];
    out.push(format!(
        "drift from {} to {}{}: {} identit(ies) compared, {} change entr(ies) in between, {} difference(s), {} UNAPPROVED",
        d.from,
        d.to,
        d.incident.as_deref().map(|i| format!(" for the identities of {i}")).unwrap_or_default(),
        d.identities_compared,
        d.entries_in_window,
        d.changes.len(),
        d.unapproved
    ));
    for c in &d.changes {
        let sign = match c.kind {
            ChangeKind::Added | ChangeKind::ExceptionAdded => "+",
            ChangeKind::Removed | ChangeKind::Lapsed | ChangeKind::ExceptionRemoved => "-",
            ChangeKind::Changed | ChangeKind::Status => "~",
        };
        let kind = serde_json::to_value(c.kind).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
        let scope = c.scope.as_deref().map(|s| format!("  `{s}`")).unwrap_or_default();
        let flag = if c.unapproved { "  [UNAPPROVED]" } else { "" };
        out.push(format!("{sign} {kind:<17} {}{scope}  {}{flag}", c.identity, c.note));
        for e in &c.explained_by {
            let appr = match (e.approved, e.ratified_by) {
                (true, _) => "approved".to_string(),
                (false, Some(by)) => format!("ratified by entry {by}"),
                (false, None) => "NO APPROVAL".to_string(),
            };
            out.push(format!("      explained by {} (incident {}, {appr})", e.at.short(), e.incident));
        }
    }
    if let Some(b) = v.banner() {
        out.push(format!("!!! {b} !!!"));
    }
    out
}

// ---- report --------------------------------------------------------------------------------------

pub fn report_cmd(a: ReportArgs) -> anyhow::Result<Outcome> {
    let fail_on = a.fail_on.as_deref().map(|s| s.parse::<Severity>().map_err(anyhow::Error::msg)).transpose()?;
    let as_of = match &a.as_of {
        Some(t) => time_arg("--as-of", t)?,
        None => Timestamp::now(),
    };
    let max_emergency =
        custody::time::parse_duration(&a.max_emergency).map_err(|e| anyhow::anyhow!("--max-emergency: {e}"))?;
    let format = if a.json { Format::Json } else { a.format };
    let Some(src) = source(&a.ledger, &a.check)? else { return Ok(Outcome::IntegrityFailure) };
    let opts = ReportOptions { incident: a.incident.clone(), as_of, weeks: a.weeks, max_emergency };
    let rep = report(&src, &opts).with_context(|| format!("reporting on {}", a.ledger.ledger.display()))?;
    match format {
        Format::Json => json_line(&rep)?,
        Format::Text => {
            for l in report_lines(&rep, &a.ledger.ledger) {
                line(&l)?;
            }
        }
        Format::Html => line(&report_html(&rep, &a.ledger.ledger))?,
    }
    if let Some(sev) = fail_on {
        let n = rep.at_or_above(sev);
        if n > 0 {
            eprintln!("custody: {n} finding(s) at or above {sev} (--fail-on {sev}); exit 1");
            return Ok(Outcome::IntegrityFailure);
        }
    }
    Ok(Outcome::Ok)
}

fn counts(r: &Report) -> String {
    Severity::ALL
        .iter()
        .rev()
        .map(|s| format!("{} {}", r.counts.get(s.as_str()).copied().unwrap_or(0), s))
        .collect::<Vec<_>>()
        .join(", ")
}

fn incident_head(i: &IncidentSummary) -> String {
    let state = match i.closed {
        Some(c) => format!("closed by entry {} at {}", c.seq, c.time),
        None => "OPEN".to_string(),
    };
    format!(
        "{}  {state} (first entry {} at {}), {} entries, {} identities{}",
        i.incident,
        i.first.seq,
        i.first.time,
        i.entries,
        i.identities,
        i.owner.as_deref().map(|o| format!(", owner {o}")).unwrap_or_default()
    )
}

fn trend_text(i: &IncidentSummary) -> String {
    let t = &i.exception_trend;
    let pts: Vec<String> = t.points.iter().map(|p| format!("{} {:+}", p.label, p.net)).collect();
    let dir = match t.direction {
        d @ ("growing" | "shrinking" | "flat") => format!("{d} after the close"),
        d => d.to_string(),
    };
    format!(
        "exception trend (net change on its {} identities since its first entry): {} ({dir})",
        t.identities,
        pts.join(", ")
    )
}

fn finding_lines(f: &Finding) -> Vec<String> {
    let mut out = vec![format!("  [{}] {} {}", f.severity().as_str().to_uppercase(), f.rule.id, f.rule.title)];
    if let Some(id) = &f.identity {
        out.push(format!("      identity: {id}"));
    }
    out.push(format!("      route to: {}", f.route_to));
    out.push(format!("      {}", f.message));
    out.push(format!("      evidence: {}", f.evidence.iter().map(|e| e.short()).collect::<Vec<_>>().join("; ")));
    out.push(format!("      action:   {}", f.action));
    out
}

fn report_lines(r: &Report, dir: &Path) -> Vec<String> {
    let mut out = vec![format!("custody report: {}", dir.display()), verified_line(&r.verification)];
    out.push(format!(
        "as of {}; {} incident(s){}; findings: {}",
        r.as_of,
        r.incidents.len(),
        r.incident.as_deref().map(|i| format!(" (only {i})")).unwrap_or_default(),
        counts(r)
    ));
    if r.frames_skipped > 0 {
        out.push(format!("!!! {} damaged frame(s) could not be read and were skipped !!!", r.frames_skipped));
    }
    for i in &r.incidents {
        out.push(String::new());
        out.push(incident_head(i));
        let gov: Vec<String> = i.governance.iter().map(|g| format!("#{} {}", g.seq, g.action)).collect();
        out.push(format!(
            "  governance outcomes: {}",
            if gov.is_empty() { "none".to_string() } else { gov.join(", ") }
        ));
        out.push(format!("  {}", trend_text(i)));
        let fs: Vec<&Finding> = r.findings.iter().filter(|f| f.incident == i.incident).collect();
        if fs.is_empty() {
            out.push("  no findings".to_string());
        }
        for f in fs {
            out.extend(finding_lines(f));
        }
    }
    if let Some(w) = &r.warning {
        out.push(String::new());
        out.push(format!("!!! {w} !!!"));
    }
    out
}

/// Escapes text for HTML element content and attribute values.
fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            _ => o.push(c),
        }
    }
    o
}

/// One self-contained HTML page: inline CSS, no scripts, no external resources, all text escaped.
fn report_html(r: &Report, dir: &Path) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>custody report {}</title>\n<style>\
body{{font-family:system-ui,sans-serif;margin:2em;color:#222}}table{{border-collapse:collapse;width:100%;margin:.5em 0 1.5em}}\
td,th{{border:1px solid #ccc;padding:.3em .5em;vertical-align:top;text-align:left;font-size:.9em}}th{{background:#f3f3f3}}\
.sev{{font-weight:bold;text-transform:uppercase}}.critical{{color:#fff;background:#8b0000}}.high{{color:#b00000}}\
.medium{{color:#a05a00}}.low{{color:#555}}.info{{color:#336}}.banner{{background:#b00000;color:#fff;padding:1em;font-size:1.3em;font-weight:bold}}\
.ok{{color:#060}}code{{font-size:.9em}}</style></head><body>\n",
        esc(&dir.display().to_string())
    );
    if let Some(w) = &r.warning {
        let _ = writeln!(h, "<p class=\"banner\">{}</p>", esc(w));
    }
    let _ = writeln!(h, "<h1>custody report</h1><p>ledger <code>{}</code><br>", esc(&dir.display().to_string()));
    let _ = writeln!(
        h,
        "<span class=\"{}\">{}</span><br>as of {}; findings: {}</p>",
        if r.verification.verified { "ok" } else { "high" },
        esc(&verified_line(&r.verification)),
        esc(&r.as_of.to_rfc3339()),
        esc(&counts(r))
    );
    for i in &r.incidents {
        let _ = writeln!(
            h,
            "<h2>{}</h2><p>{}<br>governance outcomes: {}<br>{}</p>",
            esc(&i.incident),
            esc(&incident_head(i)),
            esc(&{
                let g: Vec<String> = i.governance.iter().map(|g| format!("#{} {}", g.seq, g.action)).collect();
                if g.is_empty() {
                    "none".to_string()
                } else {
                    g.join(", ")
                }
            }),
            esc(&trend_text(i))
        );
        let fs: Vec<&Finding> = r.findings.iter().filter(|f| f.incident == i.incident).collect();
        if fs.is_empty() {
            let _ = writeln!(h, "<p class=\"ok\">no findings</p>");
            continue;
        }
        let _ = writeln!(
            h,
            "<table><tr><th>severity</th><th>rule</th><th>identity</th><th>route to</th><th>finding</th><th>evidence (seq, entry hash)</th><th>suggested action</th><th>OWASP NHI / NIST CSF</th></tr>"
        );
        for f in fs {
            let ev: Vec<String> = f
                .evidence
                .iter()
                .map(|e| {
                    format!("#{} {} <code>{}</code> ({})", e.seq, esc(e.action), hex::encode(e.entry_hash), esc(e.role))
                })
                .collect();
            let _ = writeln!(
                h,
                "<tr><td class=\"sev {s}\">{s}</td><td>{}<br>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}<br>{}</td></tr>",
                esc(f.rule.id),
                esc(f.rule.title),
                esc(f.identity.as_deref().unwrap_or("-")),
                esc(&f.route_to),
                esc(&f.message),
                ev.join("<br>"),
                esc(&f.action),
                esc(f.rule.owasp),
                esc(f.rule.csf),
                s = f.severity().as_str()
            );
        }
        let _ = writeln!(h, "</table>");
    }
    if let Some(w) = &r.warning {
        let _ = writeln!(h, "<p class=\"banner\">{}</p>", esc(w));
    }
    h.push_str("</body></html>");
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escapes_everything() {
        assert_eq!(
            esc("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
    }
}
