//! `custody export`: verify the ledger, then write the selected entries in one format.
//!
//! The export always runs `verify_ledger` first (against a fresh checkpoint with
//! `--checkpoint-key`, else against the latest kept one) and puts the result in the export. A
//! ledger that does not verify is still exported, says so in the export and loudly on stderr, and
//! the command exits 1. With `--out`, the file is written beside its destination and renamed over
//! it only once complete, so a failed export changes nothing.

use std::fs;
use std::io::Write;
use std::path::Path;

use anyhow::{bail, Context as _};

use custody::export::{export, Context, ExportStats, Format, Verification};
use custody::ledger::{Filter, Ledger};

use crate::args::ExportArgs;
use crate::commands::{filter_from, load_key, open, public_key_arg};
use crate::Outcome;

pub fn run(a: ExportArgs) -> anyhow::Result<Outcome> {
    let format: Format = a.format.parse().map_err(anyhow::Error::msg)?;
    let filter = filter_from(&a.filter)?;
    let key = a.checkpoint_key.as_deref().map(load_key).transpose()?;
    let trust = a.trust.as_deref().map(public_key_arg).transpose()?;
    if let Some(out) = &a.out {
        if out.is_dir() {
            bail!("--out {} is a directory; give a file name", out.display());
        }
    }
    let ledger = open(&a.ledger)?;
    let verification =
        Verification::check(&ledger, key.as_ref(), trust).context("verifying the ledger before the export")?;
    let intact = verification.intact;
    if !intact {
        eprintln!("custody: ******************************************************************");
        eprintln!("custody: {}", verification.headline());
        for f in &verification.finding_lines {
            eprintln!("custody:   {f}");
        }
        eprintln!("custody: the export is written and marks the ledger as NOT VERIFIED; exit status 1");
        eprintln!("custody: ******************************************************************");
    }
    let mut ctx = Context::new(&ledger, &filter);
    ctx.verification = Some(verification);
    let stats = match &a.out {
        Some(path) => write_file(&ledger, &filter, format, &ctx, path)?,
        None => {
            let mut out = std::io::stdout().lock();
            let stats = export(&ledger, &filter, format, &ctx, &mut out)?;
            out.flush()?;
            stats
        }
    };
    eprintln!(
        "exported {} entr(ies) as {format}{}; {}",
        stats.entries,
        if stats.redacted_fields > 0 {
            format!(" ({} redacted field(s) shown as redacted)", stats.redacted_fields)
        } else {
            String::new()
        },
        ctx.verification.as_ref().map(|v| v.headline()).unwrap_or_default()
    );
    if !stats.damaged.is_empty() {
        let seqs: Vec<String> = stats.damaged.iter().map(u64::to_string).collect();
        eprintln!(
            "custody: {} selected entr(ies) are damaged in the log and are marked damaged in the export: {}",
            seqs.len(),
            seqs.join(", ")
        );
    }
    Ok(if intact && stats.damaged.is_empty() { Outcome::Ok } else { Outcome::IntegrityFailure })
}

/// Writes to a temporary file beside `path`, syncs it and renames it over `path`.
fn write_file(
    ledger: &Ledger,
    filter: &Filter,
    format: Format,
    ctx: &Context,
    path: &Path,
) -> anyhow::Result<ExportStats> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("export");
    let tmp = path.with_file_name(format!(".{name}.custody-tmp"));
    let result = (|| -> anyhow::Result<ExportStats> {
        let mut f = fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        let stats = export(ledger, filter, format, ctx, &mut f)?;
        f.sync_all().with_context(|| format!("syncing {}", tmp.display()))?;
        fs::rename(&tmp, path).with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))?;
        Ok(stats)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}
