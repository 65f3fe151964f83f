//! `custody import`: run an importer over a file or stdin and print the summary.

use std::io::Read;
use std::path::Path;

use anyhow::{bail, Context};

use custody::import::ingest::{ingest, IngestOptions};

use crate::args::LedgerArg;
use crate::commands::{load_key, open};
use crate::output::{json_line, line, progress};
use crate::Outcome;

pub fn run(
    ledger: &LedgerArg,
    key: Option<&Path>,
    file: &str,
    opts: &IngestOptions,
    json: bool,
) -> anyhow::Result<Outcome> {
    let (input, size): (Box<dyn Read>, u64) = if file == "-" {
        (Box::new(std::io::stdin().lock()), 0)
    } else {
        let f = std::fs::File::open(file).with_context(|| format!("opening {file}"))?;
        let size = f.metadata().map(|m| m.len()).unwrap_or(0);
        (Box::new(std::io::BufReader::new(f)), size)
    };
    // About 1.5 KB per event is typical of these exports: enough for a progress estimate.
    let pb = progress(size / 1500, "importing");
    let tick = |n: u64| pb.set_position(n);
    let mut stdout = std::io::stdout().lock();
    let summary = if opts.dry_run {
        ingest(input, file, opts, None, &mut stdout, &tick)?
    } else {
        let Some(key) = key else { bail!("--key is required to sign the imported records (or use --dry-run)") };
        let k = load_key(key)?;
        let l = open(ledger)?;
        ingest(input, file, opts, Some((&l, &k)), &mut stdout, &tick)?
    };
    drop(stdout);
    pb.finish_and_clear();
    if json {
        json_line(&summary)?;
        return Ok(Outcome::Ok);
    }
    for e in &summary.invalid_events {
        eprintln!("invalid: {e}");
    }
    for e in &summary.skipped_events {
        eprintln!("skipped: {e}");
    }
    for c in &summary.conflicts {
        eprintln!("conflict: {c}");
    }
    let mapped: Vec<String> = summary.mapped.iter().map(|(a, n)| format!("{a} {n}")).collect();
    let report = format!(
        "{}: {} events read from {}; mapped {} ({}); context {}; skipped {}; invalid {}; already present {}; id conflicts {}; {}",
        summary.source,
        summary.events,
        summary.file,
        summary.mapped.values().sum::<u64>(),
        if mapped.is_empty() { "none".into() } else { mapped.join(", ") },
        summary.context,
        summary.skipped,
        summary.invalid,
        summary.already_present,
        summary.id_conflicts,
        if opts.dry_run {
            "dry run: nothing appended".to_string()
        } else if summary.appended == 0 {
            "appended nothing".to_string()
        } else {
            format!("appended {} (entries {}..={})", summary.appended, summary.first_seq.unwrap_or(0), summary.last_seq.unwrap_or(0))
        }
    );
    if opts.dry_run {
        eprintln!("{report}");
    } else {
        line(&report)?;
    }
    Ok(Outcome::Ok)
}
