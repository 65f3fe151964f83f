//! Commands of the verifiable log: checkpoint, prove, verify-proof, cosign, vkey.

use std::path::Path;

use anyhow::{bail, Context};
use serde_json::json;

use custody::checkpoint::{self, ConsistencyProof, InclusionProof, ProofError, VerifiedCheckpoint};
use custody::note::{Checkpoint, NoteVerifier, SignedNote};
use custody::sign::PublicKey;

use crate::args::LedgerArg;
use crate::commands::{load_key, open, public_key_arg};
use crate::output::{json_line, line};
use crate::Outcome;

fn write_out(out: Option<&Path>, text: &str) -> anyhow::Result<()> {
    match out {
        Some(p) => std::fs::write(p, text).with_context(|| format!("writing {}", p.display())),
        None => {
            use std::io::Write;
            std::io::stdout().lock().write_all(text.as_bytes())?;
            Ok(())
        }
    }
}

pub fn checkpoint(ledger: &LedgerArg, key: &Path, out: Option<&Path>) -> anyhow::Result<Outcome> {
    let k = load_key(key)?;
    let l = open(ledger)?;
    let cp = checkpoint::issue(&l, &k)?;
    let vkey = checkpoint::ledger_verifier(cp.checkpoint.origin(), &k.public())?.to_vkey();
    write_out(out, &cp.note)?;
    eprintln!(
        "checkpoint of {} entries kept in {}; verifier key (vkey): {vkey}",
        cp.checkpoint.size(),
        checkpoint::checkpoint_dir(l.dir()).display()
    );
    Ok(Outcome::Ok)
}

fn read(p: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))
}

/// Parses a checkpoint note's body without checking signatures (that happens separately).
pub fn checkpoint_body(note: &str, what: &str) -> anyhow::Result<Checkpoint> {
    let n = SignedNote::parse(note).map_err(|e| anyhow::anyhow!("{what} is not a signed note: {e}"))?;
    Checkpoint::parse(n.text()).map_err(|e| anyhow::anyhow!("{what} is not a checkpoint: {e}"))
}

pub fn prove(
    ledger: &LedgerArg,
    seq: Option<u64>,
    size: Option<u64>,
    from: Option<&Path>,
    out: Option<&Path>,
) -> anyhow::Result<Outcome> {
    let l = open(ledger)?;
    let latest = checkpoint::issued(l.dir())?.pop();
    let text = match (seq, from) {
        (Some(seq), _) => {
            let size = match (size, &latest) {
                (Some(s), _) => s,
                (None, Some((s, _))) => *s,
                (None, None) => {
                    bail!("the ledger has issued no checkpoint yet; run `custody checkpoint` first, or pass --size")
                }
            };
            serde_json::to_string_pretty(&checkpoint::prove_inclusion(&l, seq, size)?)?
        }
        (None, Some(from)) => {
            let old = checkpoint_body(&read(from)?, "--from")?;
            let Some((new_size, _)) = latest else {
                bail!("the ledger has issued no checkpoint yet; run `custody checkpoint` first")
            };
            let mut p = checkpoint::prove_consistency(&l, old.size(), new_size)?;
            if p.old_root != hex::encode(old.root()) {
                eprintln!("warning: this ledger's tree of {} entries does not have the old checkpoint's root: it was rewritten or forked since", old.size());
            }
            p.old_checkpoint = Some(read(from)?);
            serde_json::to_string_pretty(&p)?
        }
        (None, None) => bail!("give --seq N (inclusion) or --from OLD_CHECKPOINT (consistency)"),
    };
    write_out(out, &(text + "\n"))?;
    Ok(Outcome::Ok)
}

fn witnesses(vkeys: &[String]) -> anyhow::Result<Vec<NoteVerifier>> {
    vkeys.iter().map(|v| NoteVerifier::from_vkey(v).map_err(|e| anyhow::anyhow!("--witness `{v}`: {e}"))).collect()
}

fn proof_outcome(r: Result<checkpoint::ProofReport, ProofError>, quorum: usize, json: bool) -> anyhow::Result<Outcome> {
    let (ok, msg, cos) = match r {
        Ok(rep) if rep.cosignatures.len() >= quorum => (true, rep.statement, rep.cosignatures),
        Ok(rep) => (
            false,
            format!("only {} of the required {quorum} witness cosignatures verified", rep.cosignatures.len()),
            rep.cosignatures,
        ),
        Err(e) if e.is_integrity_failure() => (false, e.to_string(), Vec::new()),
        Err(e) => return Err(e.into()),
    };
    if json {
        json_line(&json!({"valid": ok, "statement": msg, "cosignatures": cos}))?;
    } else {
        line(&format!("{}: {msg}", if ok { "VALID" } else { "INVALID" }))?;
        for c in cos {
            line(&format!("  cosigned by {c}"))?;
        }
    }
    Ok(if ok { Outcome::Ok } else { Outcome::IntegrityFailure })
}

pub fn verify_proof(
    proof: &Path,
    checkpoint: Option<&Path>,
    old_checkpoint: Option<&Path>,
    key: &str,
    witness_vkeys: &[String],
    quorum: usize,
    json: bool,
) -> anyhow::Result<Outcome> {
    let key = public_key_arg(key)?;
    let ws = witnesses(witness_vkeys)?;
    let text = read(proof)?;
    let v: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", proof.display()))?;
    let cp_arg = checkpoint.map(read).transpose()?;
    match v.get("format").and_then(|f| f.as_str()) {
        Some(checkpoint::INCLUSION_FORMAT) => {
            let p: InclusionProof =
                serde_json::from_value(v).with_context(|| format!("{}: malformed inclusion proof", proof.display()))?;
            let Some(cp) = cp_arg.or_else(|| p.checkpoint.clone()) else {
                bail!("the proof holds no checkpoint; pass --checkpoint FILE")
            };
            proof_outcome(checkpoint::verify_inclusion_proof(&p, &cp, &key, &ws), quorum, json)
        }
        Some(checkpoint::CONSISTENCY_FORMAT) => {
            let p: ConsistencyProof = serde_json::from_value(v)
                .with_context(|| format!("{}: malformed consistency proof", proof.display()))?;
            let Some(new) = cp_arg.or_else(|| p.checkpoint.clone()) else {
                bail!("the proof holds no new checkpoint; pass --checkpoint FILE")
            };
            let Some(old) = old_checkpoint.map(read).transpose()?.or_else(|| p.old_checkpoint.clone()) else {
                bail!("the proof holds no old checkpoint; pass --old-checkpoint FILE")
            };
            proof_outcome(checkpoint::verify_consistency_proof(&p, &old, &new, &key, &ws), quorum, json)
        }
        other => bail!("{}: unknown proof format {other:?}", proof.display()),
    }
}

#[allow(clippy::too_many_arguments)]
pub fn cosign(
    witness_key: &Path,
    name: &str,
    checkpoint_file: &Path,
    state: &Path,
    ledger_key: Option<&str>,
    ledger: Option<&Path>,
    proof: Option<&Path>,
    out: Option<&Path>,
) -> anyhow::Result<Outcome> {
    let wk = load_key(witness_key)?;
    let note = read(checkpoint_file)?;
    let lk = ledger_key.map(public_key_arg).transpose()?;
    let opened = match ledger {
        Some(dir) => Some(open(&LedgerArg { ledger: dir.to_path_buf(), wait: 30 })?),
        None => None,
    };
    let proof_file: Option<ConsistencyProof> = match proof {
        Some(p) => Some(
            serde_json::from_str(&read(p)?).with_context(|| format!("{}: malformed consistency proof", p.display()))?,
        ),
        None => None,
    };
    let proof_for = |old: u64, new: u64| -> Result<Vec<String>, ProofError> {
        if let Some(l) = &opened {
            return Ok(checkpoint::prove_consistency(l, old, new)?.hashes);
        }
        match &proof_file {
            Some(p) if p.old_size == old && p.new_size == new => Ok(p.hashes.clone()),
            Some(p) => Err(ProofError::Usage(format!(
                "the proof file is from size {} to {}, but this witness needs {old} to {new}",
                p.old_size, p.new_size
            ))),
            None => Err(ProofError::Usage(format!(
                "this witness last cosigned size {old}; give --ledger DIR or --proof FILE with a consistency proof from {old} to {new}"
            ))),
        }
    };
    let now = custody::time::Timestamp::now().unix_seconds().max(0) as u64;
    match checkpoint::cosign(&wk, name, state, &note, lk.as_ref(), &proof_for, now) {
        Ok(c) => {
            write_out(out, &c.note)?;
            eprintln!(
                "cosigned size {} (previously {}); witness vkey: {}",
                c.size,
                c.previous_size.map(|s| s.to_string()).unwrap_or_else(|| "none".into()),
                checkpoint::witness_vkey(&wk, name)?
            );
            Ok(Outcome::Ok)
        }
        Err(e) if e.is_integrity_failure() => {
            eprintln!("custody: REFUSED to cosign: {e}");
            Ok(Outcome::IntegrityFailure)
        }
        Err(e) => Err(e.into()),
    }
}

pub fn vkey(key: &Path, witness: Option<&str>, ledger: Option<&Path>) -> anyhow::Result<Outcome> {
    let k = load_key(key)?;
    match (witness, ledger) {
        (Some(name), _) => line(&checkpoint::witness_vkey(&k, name)?)?,
        (None, Some(dir)) => {
            let l = open(&LedgerArg { ledger: dir.to_path_buf(), wait: 30 })?;
            let origin = checkpoint::origin(&l.state().ledger_id.unwrap_or_default());
            line(&checkpoint::ledger_verifier(&origin, &k.public())?.to_vkey())?;
        }
        (None, None) => bail!("give --witness NAME (a witness vkey) or --ledger DIR (the ledger key's vkey)"),
    }
    Ok(Outcome::Ok)
}

/// Verifies the auditor's checkpoint signature (after the ledger walk) with the trusted key or the
/// ledger's own keys, and the witness quorum. Returns the verified checkpoint or why it failed.
pub fn check_kept_checkpoint(
    note: &str,
    trust: Option<&PublicKey>,
    ledger_keys: &[String],
    witness_vkeys: &[String],
    quorum: usize,
) -> anyhow::Result<Result<VerifiedCheckpoint, String>> {
    let ws = witnesses(witness_vkeys)?;
    let keys: Vec<PublicKey> = match trust {
        Some(t) => vec![*t],
        None => ledger_keys.iter().filter_map(|k| PublicKey::parse(k).ok()).collect(),
    };
    Ok(match checkpoint::verify_checkpoint(note, &keys, &ws) {
        Ok(v) if v.cosignatures.len() >= quorum => Ok(v),
        Ok(v) => Err(format!(
            "the checkpoint has {} valid witness cosignature(s); --quorum requires {quorum}",
            v.cosignatures.len()
        )),
        Err(e) if e.is_integrity_failure() => Err(e.to_string()),
        Err(e) => return Err(e.into()),
    })
}
