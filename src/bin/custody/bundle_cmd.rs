//! `custody bundle` and `custody verify-bundle`.

use std::io::Read;
use std::path::Path;

use anyhow::{bail, Context};
use serde_json::json;

use custody::bundle::{self, BundleError};
use custody::checkpoint;
use custody::commit::Field;
use custody::ledger::Filter;
use custody::note::NoteVerifier;

use crate::args::LedgerArg;
use crate::commands::{load_key, open, public_key_arg};
use crate::output::{json_line, line};
use crate::Outcome;

pub fn bundle(
    ledger: &LedgerArg,
    incident: &str,
    out: &Path,
    checkpoint_file: Option<&Path>,
    key: Option<&Path>,
    withhold: &[String],
) -> anyhow::Result<Outcome> {
    let fields =
        withhold.iter().map(|f| f.parse::<Field>().map_err(anyhow::Error::msg)).collect::<anyhow::Result<Vec<_>>>()?;
    let l = open(ledger)?;
    let last = l.select(&Filter { incident: Some(incident.to_string()), ..Default::default() })?.last().copied();
    let Some(last) = last else { bail!("incident {incident} has no entries in this ledger") };
    let note = match checkpoint_file {
        Some(p) => std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?,
        None => match checkpoint::issued(l.dir())?.into_iter().rev().find(|(size, _)| *size > last) {
            Some((_, n)) => n,
            None => match key {
                Some(k) => checkpoint::issue(&l, &load_key(k)?)?.note,
                None => bail!(
                    "no checkpoint covers entry {last} of incident {incident}; pass --key to issue one, or run `custody checkpoint` first"
                ),
            },
        },
    };
    let tmp = out.with_extension("partial");
    let mut f = std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    let manifest = bundle::build(&l, incident, &note, &fields, &mut f)?;
    f.sync_all()?;
    std::fs::rename(&tmp, out).with_context(|| format!("writing {}", out.display()))?;
    eprintln!(
        "wrote {}: {} entries of {incident}, {} control entries, proofs against the checkpoint of {} entries{}",
        out.display(),
        manifest.entries.len(),
        manifest.control_entries.len(),
        manifest.checkpoint_size,
        if manifest.withheld.is_empty() {
            String::new()
        } else {
            format!("; withheld: {}", manifest.withheld.join(", "))
        }
    );
    Ok(Outcome::Ok)
}

pub fn verify_bundle(
    file: &Path,
    trust: Option<&str>,
    witnesses: &[String],
    quorum: usize,
    json: bool,
) -> anyhow::Result<Outcome> {
    let trust = trust.map(public_key_arg).transpose()?;
    let ws: Vec<NoteVerifier> = witnesses
        .iter()
        .map(|v| NoteVerifier::from_vkey(v).map_err(|e| anyhow::anyhow!("--witness `{v}`: {e}")))
        .collect::<anyhow::Result<_>>()?;
    let mut bytes = Vec::new();
    let f = std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?;
    f.take(bundle::MAX_BUNDLE_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > bundle::MAX_BUNDLE_BYTES {
        bail!("{} is larger than a bundle may be ({} bytes)", file.display(), bundle::MAX_BUNDLE_BYTES);
    }
    let report = match bundle::verify(&bytes, trust.as_ref(), &ws, quorum) {
        Ok(r) => r,
        Err(BundleError::Invalid(msg)) => {
            if json {
                json_line(&json!({"valid": false, "problems": [msg]}))?;
            } else {
                line(&format!("NOT VALID: {msg}"))?;
            }
            return Ok(Outcome::IntegrityFailure);
        }
        Err(e) => return Err(e.into()),
    };
    if json {
        json_line(&report)?;
    } else {
        line(&format!(
            "bundle of incident {} from {} (checkpoint of {} entries{})",
            report.incident,
            report.origin,
            report.checkpoint_size,
            if report.cosignatures.is_empty() {
                String::new()
            } else {
                format!(", cosigned by {}", report.cosignatures.join(", "))
            }
        ))?;
        if report.valid {
            line("VALID. Proven:")?;
            for p in &report.proven {
                line(&format!("  - {p}"))?;
            }
        } else {
            line(&format!("NOT VALID: {} problem(s)", report.problems.len()))?;
            for p in &report.problems {
                line(&format!("  - {p}"))?;
            }
        }
        if !report.not_proven.is_empty() {
            line("Not proven by this bundle:")?;
            for p in &report.not_proven {
                line(&format!("  - {p}"))?;
            }
        }
        for r in &report.redacted {
            line(&format!("  redacted: {r}"))?;
        }
        if !report.withheld.is_empty() {
            line(&format!("  withheld by the producer: {}", report.withheld.join(", ")))?;
        }
    }
    Ok(if report.valid { Outcome::Ok } else { Outcome::IntegrityFailure })
}
