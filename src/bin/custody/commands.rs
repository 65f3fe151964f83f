//! One function per command: turn checked arguments into library calls and print the results.

use std::io::Read;
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context};
use serde_json::{json, Map, Value};

use custody::entry::Control;
use custody::ledger::{Filter, Ledger, OpenOptions};
use custody::record::Record;
use custody::sign::{PublicKey, SecretKey};
use custody::time::Timestamp;
use custody::verify::{verify_ledger, VerifyOptions};

use crate::args::{AppendArgs, Command, FilterArgs, HoldCommand, KeyCommand, LedgerArg, RecordFlags, RetentionCommand};
use crate::output::{entry_line, json_line, line, progress};
use crate::Outcome;
use custody::commit::Field;
use custody::redact::Authority;

pub fn run(cmd: Command) -> anyhow::Result<Outcome> {
    match cmd {
        Command::Keygen { out, json } => keygen(&out, json),
        Command::Init { ledger, key, name, json } => init(&ledger, &key.key, &name, json),
        Command::Key(k) => key_cmd(k),
        Command::Append(a) if a.server.is_some() => crate::serve_cmd::remote_append(a),
        Command::Append(a) => append(a),
        Command::Verify { ledger, trust, head, checkpoint, witnesses, quorum, json } => {
            verify(&ledger, trust.as_deref(), head.as_deref(), checkpoint.as_deref(), &witnesses, quorum, json)
        }
        Command::Checkpoint { ledger, key, out } => crate::proofs::checkpoint(&ledger, &key.key, out.as_deref()),
        Command::Prove { ledger, seq, size, from, out } => {
            crate::proofs::prove(&ledger, seq, size, from.as_deref(), out.as_deref())
        }
        Command::VerifyProof { proof, checkpoint, old_checkpoint, key, witnesses, quorum, json } => {
            crate::proofs::verify_proof(
                &proof,
                checkpoint.as_deref(),
                old_checkpoint.as_deref(),
                &key,
                &witnesses,
                quorum,
                json,
            )
        }
        Command::Cosign { witness_key, name, checkpoint, state, ledger_key, ledger, proof, out } => {
            crate::proofs::cosign(
                &witness_key,
                &name,
                &checkpoint,
                &state,
                ledger_key.as_deref(),
                ledger.as_deref(),
                proof.as_deref(),
                out.as_deref(),
            )
        }
        Command::Vkey { key, witness, ledger } => crate::proofs::vkey(&key.key, witness.as_deref(), ledger.as_deref()),
        Command::Log { ledger, filter, json } => log(&ledger, &filter, json),
        Command::Head { ledger, json } => head(&ledger, json),
        Command::Reindex { ledger } => {
            let (l, _) = Ledger::open(
                &ledger.ledger,
                &OpenOptions { wait: Duration::from_secs(ledger.wait), rebuild_index: true },
            )?;
            let n = l.head().size;
            eprintln!("rebuilt index/ from log/: {n} entries");
            Ok(Outcome::Ok)
        }
        Command::Demo { dir } => crate::demo::run(dir),
        Command::Serve(a) => crate::serve_cmd::serve(a),
        Command::Client(c) => crate::serve_cmd::client(c),
        Command::Export(a) => crate::export_cmd::run(a),
        Command::State(a) => crate::govern_cmd::state(a),
        Command::Drift(a) => crate::govern_cmd::drift_cmd(a),
        Command::Report(a) => crate::govern_cmd::report_cmd(a),
        Command::Redact { ledger, key, seqs, fields, reason, authority, approved_by, json } => {
            let fields = fields
                .iter()
                .map(|f| f.parse::<Field>().map_err(anyhow::Error::msg))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let k = load_key(&key.key)?;
            let l = open(&ledger)?;
            let out = l.redact(&k, &seqs, &fields, &Authority { reason, authority, approved_by })?;
            if json {
                json_line(&out)?;
            } else {
                for r in &out.receipts {
                    json_line(r)?;
                }
                eprintln!(
                    "redacted {} field(s) in {} entr(ies); the values are gone from log/ and index/",
                    out.fields, out.entries
                );
            }
            Ok(Outcome::Ok)
        }
        Command::Hold(h) => hold(h),
        Command::Bundle { ledger, incident, out, checkpoint, key, withhold } => {
            crate::bundle_cmd::bundle(&ledger, &incident, &out, checkpoint.as_deref(), key.as_deref(), &withhold)
        }
        Command::VerifyBundle { file, trust, witnesses, quorum, json } => {
            crate::bundle_cmd::verify_bundle(&file, trust.as_deref(), &witnesses, quorum, json)
        }
        Command::Import {
            ledger,
            key,
            source,
            file,
            incident,
            with_context,
            approval_by,
            approval_source,
            approval_ref,
            dry_run,
            skip_invalid,
            explain,
            json,
        } => {
            let approval = approval_by.map(|by| {
                let mut a = Map::new();
                a.insert("by".into(), json!(by));
                a.insert("source".into(), json!(approval_source.unwrap_or_else(|| "change-ticket".into())));
                if let Some(r) = approval_ref {
                    a.insert("ref".into(), json!(r));
                }
                Value::Object(a)
            });
            let source: custody::import::Source = source.parse().map_err(anyhow::Error::msg)?;
            let opts = custody::import::ingest::IngestOptions {
                source,
                import: custody::import::ImportOptions { incident, with_context, approval },
                dry_run,
                skip_invalid,
                explain,
            };
            crate::import_cmd::run(&ledger, key.as_deref(), &file, &opts, json)
        }
        Command::Retention(RetentionCommand::Apply {
            ledger,
            key,
            older_than,
            before,
            dry_run,
            reason,
            authority,
            approved_by,
            json,
        }) => {
            let cutoff = match (older_than, before) {
                (Some(d), _) => {
                    let nanos = custody::time::parse_duration(&d).map_err(anyhow::Error::msg)?;
                    Timestamp::from_nanos(Timestamp::now().nanos().saturating_sub(nanos).max(0))?
                }
                (None, Some(t)) => Timestamp::parse(&t).map_err(|e| anyhow::anyhow!("--before: {e}"))?,
                (None, None) => bail!("give --older-than DURATION or --before TIME"),
            };
            let l = open(&ledger)?;
            if dry_run {
                let plan = l.retention_plan(cutoff)?;
                if json {
                    json_line(
                        &json!({"plan": plan, "targets": plan.targets.iter().map(|(s, m)| json!({"seq": s, "fields": m.names()})).collect::<Vec<_>>()}),
                    )?;
                } else {
                    for (s, m) in &plan.targets {
                        line(&format!("would redact entry {s}: {}", m.names().join(", ")))?;
                    }
                    line(&format!(
                        "dry run: {} field(s) in {} entr(ies) recorded before {} would be redacted; {} entr(ies) kept under legal hold ({})",
                        plan.fields, plan.entries, plan.cutoff, plan.held_entries, plan.held_incidents.join(", ")
                    ))?;
                }
                return Ok(Outcome::Ok);
            }
            let Some(key) = key else { bail!("--key is required to sign the retention redaction (or use --dry-run)") };
            let k = load_key(&key)?;
            let (plan, out) = l.retention_apply(&k, cutoff, &Authority { reason, authority, approved_by })?;
            if json {
                json_line(&json!({"plan": plan, "result": out}))?;
            } else {
                for r in &out.receipts {
                    json_line(r)?;
                }
                eprintln!(
                    "retention: redacted {} field(s) in {} entr(ies) recorded before {}; {} entr(ies) kept under legal hold",
                    out.fields, out.entries, plan.cutoff, plan.held_entries
                );
            }
            Ok(Outcome::Ok)
        }
    }
}

/// Opens a ledger for use, reporting any repair it needed on stderr.
pub fn open(arg: &LedgerArg) -> anyhow::Result<Ledger> {
    let (l, report) =
        Ledger::open(&arg.ledger, &OpenOptions { wait: Duration::from_secs(arg.wait), ..Default::default() })?;
    for q in &report.quarantined {
        eprintln!("custody: warning: a torn tail (an append that was never acknowledged) was moved to {q}");
    }
    if let Some(why) = &report.index_problem {
        eprintln!("custody: note: index/ could not be used ({why}) and was rebuilt from log/");
    } else if report.rebuilt_index {
        eprintln!("custody: note: index/ was missing or stale and was rebuilt from log/");
    }
    Ok(l)
}

pub fn load_key(path: &Path) -> anyhow::Result<SecretKey> {
    Ok(SecretKey::load(path)?)
}

/// A public key given as text or as a key file (public or private).
pub fn public_key_arg(s: &str) -> anyhow::Result<PublicKey> {
    if let Ok(k) = PublicKey::parse(s) {
        return Ok(k);
    }
    let p = Path::new(s);
    if p.is_file() {
        let text = std::fs::read_to_string(p).with_context(|| format!("reading {s}"))?;
        if let Ok(k) = PublicKey::parse(text.trim()) {
            return Ok(k);
        }
        return Ok(SecretKey::from_file_text(&text, s)?.public());
    }
    Ok(PublicKey::parse(s)?)
}

fn hold(h: HoldCommand) -> anyhow::Result<Outcome> {
    match h {
        HoldCommand::Add(a) => {
            let k = load_key(&a.key.key)?;
            let l = open(&a.ledger)?;
            print_receipts(&[l.hold_add(&k, &a.incident, &a.reason, &a.reference)?], a.json)
        }
        HoldCommand::Release(a) => {
            let k = load_key(&a.key.key)?;
            let l = open(&a.ledger)?;
            print_receipts(&[l.hold_release(&k, &a.incident, &a.reason, &a.reference)?], a.json)
        }
        HoldCommand::List { ledger, json } => {
            let l = open(&ledger)?;
            for (incident, h) in l.holds() {
                if json {
                    json_line(
                        &json!({"incident": incident, "since": h.since, "reason": h.reason, "ref": h.reference}),
                    )?;
                } else {
                    line(&format!(
                        "{incident}  under hold since entry {}  ref {}  {}",
                        h.since, h.reference, h.reason
                    ))?;
                }
            }
            Ok(Outcome::Ok)
        }
    }
}

fn keygen(out: &Path, json: bool) -> anyhow::Result<Outcome> {
    let k = SecretKey::generate();
    k.save_new(out)?;
    let pk = k.public();
    if json {
        json_line(
            &json!({"path": out.display().to_string(), "public_key": pk.to_text(), "key_id": hex::encode(pk.key_id())}),
        )?;
    } else {
        line(&format!("wrote private key to {} (mode 0600)", out.display()))?;
        line(&format!("public key: {}", pk.to_text()))?;
        line(&format!("key id:     {}", hex::encode(pk.key_id())))?;
    }
    Ok(Outcome::Ok)
}

fn init(ledger: &LedgerArg, key: &Path, name: &str, json: bool) -> anyhow::Result<Outcome> {
    let k = load_key(key)?;
    let (_l, r) = Ledger::init(&ledger.ledger, &k, name)?;
    if json {
        json_line(&r)?;
    } else {
        line(&format!("created ledger {name:?} in {}", ledger.ledger.display()))?;
        line(&format!("genesis entry 0: {}", r.entry_hash))?;
        line(&format!("authorised key {} ({})", hex::encode(k.public().key_id()), k.public().to_text()))?;
    }
    Ok(Outcome::Ok)
}

fn key_cmd(k: KeyCommand) -> anyhow::Result<Outcome> {
    match k {
        KeyCommand::Add { ledger, key, public, label, json } => {
            let signer = load_key(&key.key)?;
            let pk = public_key_arg(&public)?;
            custody::record::check_text("label", &label, 256)?;
            let l = open(&ledger)?;
            let r = l.append_control(&signer, Control::KeyAdd { public_key: pk.to_bytes(), label })?;
            print_receipts(&[r], json)
        }
        KeyCommand::Retire { ledger, key, key_id, reason, json } => {
            let signer = load_key(&key.key)?;
            let raw = hex::decode(key_id.trim()).ok().and_then(|v| <[u8; 8]>::try_from(v).ok());
            let Some(id) = raw else {
                bail!("--key-id `{key_id}` is not a key ID (16 hex digits; see `custody key list`)")
            };
            custody::record::check_text("reason", &reason, 2048)?;
            let l = open(&ledger)?;
            let r = l.append_control(&signer, Control::KeyRetire { key_id: id, reason })?;
            print_receipts(&[r], json)
        }
        KeyCommand::List { ledger, json } => {
            let l = open(&ledger)?;
            let st = l.state();
            for (id, k) in &st.keys {
                if json {
                    json_line(
                        &json!({"key_id": id, "public_key": format!("custody-ed25519:{}", hex::encode(k.public_key)), "label": k.label, "added_at": k.added_at, "retired_at": k.retired_at}),
                    )?;
                } else {
                    let status =
                        k.retired_at.map(|r| format!("retired at entry {r}")).unwrap_or_else(|| "active".into());
                    line(&format!(
                        "{id}  {:<12} added at entry {:<6} {status}  custody-ed25519:{}",
                        k.label,
                        k.added_at,
                        hex::encode(k.public_key)
                    ))?;
                }
            }
            Ok(Outcome::Ok)
        }
    }
}

pub fn print_receipts(receipts: &[custody::ledger::Receipt], _json: bool) -> anyhow::Result<Outcome> {
    // Receipts are JSON lines in both modes: they are what scripts keep.
    for r in receipts {
        json_line(r)?;
    }
    Ok(Outcome::Ok)
}

/// Reads one JSON object or JSON Lines from a file or stdin into records, naming the record and
/// line of any problem.
pub fn read_records(src: &str) -> anyhow::Result<Vec<Record>> {
    let mut text = String::new();
    if src == "-" {
        std::io::stdin().read_to_string(&mut text).context("reading records from stdin")?;
    } else {
        text = std::fs::read_to_string(src).with_context(|| format!("reading records from {src}"))?;
    }
    let mut out = Vec::new();
    let mut stream = serde_json::Deserializer::from_str(&text).into_iter::<Value>();
    // Line numbers for messages, counted on from the last record (not from the start of the text
    // for every record, which made a large input quadratic).
    let (mut counted_to, mut line) = (0usize, 1usize);
    loop {
        let start = stream.byte_offset();
        let next = stream.next();
        let Some(v) = next else { break };
        let n = out.len() + 1;
        if n > custody::ledger::MAX_BATCH {
            bail!(
                "{src}: more than {} records; one append is one batch of at most that many (split the input, or use --each)",
                custody::ledger::MAX_BATCH
            );
        }
        let at = (start + text[start..].len() - text[start..].trim_start().len()).min(text.len());
        line += text[counted_to..at].matches('\n').count();
        counted_to = at;
        let v = v.map_err(|e| anyhow::anyhow!("{src}: record {n} (line {}): not valid JSON: {e}", e.line()))?;
        let rec = Record::from_value(v).map_err(|e| anyhow::anyhow!("{src}: record {n} (line {line}): {e}"))?;
        out.push(rec);
    }
    if out.is_empty() {
        bail!("{src}: no records found (expected one JSON object, or JSON Lines)");
    }
    Ok(out)
}

/// Builds a record from flags through the same JSON contract as `--json`.
pub fn record_from_flags(f: &RecordFlags) -> anyhow::Result<Record> {
    let need = |v: &Option<String>, flag: &str| -> anyhow::Result<String> {
        v.clone().ok_or_else(|| anyhow::anyhow!("--{flag} is required (or give records with --json FILE)"))
    };
    let mut m = Map::new();
    m.insert("incident".into(), json!(need(&f.incident, "incident")?));
    m.insert("action".into(), json!(need(&f.action, "action")?));
    m.insert("actor".into(), json!({"id": need(&f.actor, "actor")?, "kind": f.actor_kind}));
    m.insert(
        "target".into(),
        json!({"id": need(&f.target, "target")?, "kind": need(&f.target_kind, "target-kind")?, "system": need(&f.system, "system")?}),
    );
    if let Some(s) = &f.scope {
        m.insert("scope".into(), json!(s));
    }
    let approval = match (&f.no_approval, &f.approved_by) {
        (Some(none), _) => json!({"none": none}),
        (None, Some(by)) => {
            let mut a = Map::new();
            a.insert("by".into(), json!(by));
            a.insert("source".into(), json!(need(&f.approval_source, "approval-source")?));
            if let Some(r) = &f.approval_ref {
                a.insert("ref".into(), json!(r));
            }
            if let Some(at) = &f.approved_at {
                a.insert("at".into(), json!(at));
            }
            Value::Object(a)
        }
        (None, None) => bail!(
            "say who approved (--approved-by, --approval-source) or record that nobody did (--no-approval REASON)"
        ),
    };
    m.insert("approval".into(), approval);
    m.insert("reason".into(), json!(need(&f.reason, "reason")?));
    let mut outcome = Map::new();
    outcome.insert("status".into(), json!(f.status));
    if let Some(d) = &f.detail {
        outcome.insert("detail".into(), json!(d));
    }
    m.insert("outcome".into(), Value::Object(outcome));
    for (k, v) in [("occurred_at", &f.occurred_at), ("expires_at", &f.expires_at), ("owner", &f.owner)] {
        if let Some(v) = v {
            m.insert(k.into(), json!(v));
        }
    }
    m.insert("refs".into(), json!(f.refs));
    let mut evidence = Vec::new();
    for e in &f.evidence {
        let Some((system, rest)) = e.split_once(':') else {
            bail!("--evidence `{e}` must be SYSTEM:ID or SYSTEM:sha256:HEX")
        };
        if rest.starts_with("sha256:") || rest.starts_with("blake3:") {
            evidence.push(json!({"system": system, "digest": rest}));
        } else {
            evidence.push(json!({"system": system, "id": rest}));
        }
    }
    m.insert("evidence".into(), Value::Array(evidence));
    let mut attrs = Map::new();
    for a in &f.attributes {
        let Some((k, v)) = a.split_once('=') else { bail!("--attr `{a}` must be KEY=VALUE") };
        attrs.insert(k.into(), json!(v));
    }
    m.insert("attributes".into(), Value::Object(attrs));
    Ok(Record::from_value(Value::Object(m))?)
}

fn append(a: AppendArgs) -> anyhow::Result<Outcome> {
    if a.each {
        return append_each(&a);
    }
    let records = match &a.json {
        Some(src) => read_records(src)?,
        None => vec![record_from_flags(&a.record)?],
    };
    let key =
        load_key(a.key.as_deref().context("--key is required (or send the records to a service with --server)")?)?;
    let l = open(&a.ledger)?;
    let receipts = l.append_batch(&key, records, None)?;
    print_receipts(&receipts, true)
}

/// Appends each JSON line as it arrives, one durable append per line; stops at the first bad
/// line (everything before it stays appended, as its printed receipts say).
fn append_each(a: &AppendArgs) -> anyhow::Result<Outcome> {
    use std::io::BufRead;
    let src = a.json.as_deref().unwrap_or("-");
    let input: Box<dyn BufRead> = if src == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::io::BufReader::new(std::fs::File::open(src).with_context(|| format!("opening {src}"))?))
    };
    let key =
        load_key(a.key.as_deref().context("--key is required (or send the records to a service with --server)")?)?;
    let l = open(&a.ledger)?;
    for (i, text) in input.lines().enumerate() {
        let text = text.with_context(|| format!("reading {src}"))?;
        if text.trim().is_empty() {
            continue;
        }
        let rec = Record::from_json(&text).map_err(|e| anyhow::anyhow!("{src}: line {}: {e}", i + 1))?;
        let r = l.append(&key, rec, None)?;
        json_line(&r)?;
    }
    Ok(Outcome::Ok)
}

/// Parses `SIZE:HASH`.
pub fn parse_head(s: &str) -> anyhow::Result<(u64, [u8; 32])> {
    let (size, hash) = s
        .split_once(':')
        .ok_or_else(|| anyhow::anyhow!("--head `{s}` must be SIZE:HASH (as `custody head` prints)"))?;
    let size: u64 = size.parse().with_context(|| format!("--head size `{size}` is not a number"))?;
    let hash: [u8; 32] = hex::decode(hash)
        .ok()
        .and_then(|v| v.try_into().ok())
        .ok_or_else(|| anyhow::anyhow!("--head hash `{hash}` is not 64 hex digits"))?;
    Ok((size, hash))
}

fn verify(
    ledger: &LedgerArg,
    trust: Option<&str>,
    head: Option<&str>,
    checkpoint: Option<&Path>,
    witnesses: &[String],
    quorum: usize,
    json: bool,
) -> anyhow::Result<Outcome> {
    let trust = trust.map(public_key_arg).transpose()?;
    let head = head.map(parse_head).transpose()?;
    if !ledger.ledger.join("log").is_dir() {
        bail!("{} is not a custody ledger (no log/ directory)", ledger.ledger.display());
    }
    let kept = match checkpoint {
        Some(p) => {
            let note = std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            let body = crate::proofs::checkpoint_body(&note, "--checkpoint")?;
            Some((note, body))
        }
        None => None,
    };
    let checkpoints: Vec<(u64, [u8; 32])> = kept.iter().map(|(_, b)| (b.size(), *b.root())).collect();
    // An estimate of the entry count for the progress bar, from the log's size.
    let approx = std::fs::read_dir(ledger.ledger.join("log"))?
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum::<u64>()
        / 600;
    let pb = progress(approx, "verifying");
    let tick = |n: u64| pb.set_position(n);
    let mut report = verify_ledger(&ledger.ledger, &VerifyOptions { trust, head, progress: Some(&tick), checkpoints })?;
    pb.finish_and_clear();
    // The kept checkpoint must be signed by the trusted key (or a key of the ledger), with enough
    // witness cosignatures; a fork shows the ledger's own checkpoint of that size beside it.
    let mut checkpoint = None;
    let mut evidence = None;
    if let Some((note, body)) = &kept {
        match crate::proofs::check_kept_checkpoint(note, trust.as_ref(), &report.public_keys, witnesses, quorum)? {
            Ok(v) => checkpoint = Some(v),
            Err(msg) => report.fail("checkpoint", msg),
        }
        if report.findings.iter().any(|f| f.kind == "checkpoint") {
            if let Ok(issued) = custody::checkpoint::issued(&ledger.ledger) {
                if let Some((_, theirs)) = issued.into_iter().find(|(s, n)| *s == body.size() && n != note) {
                    evidence = Some((note.clone(), theirs));
                }
            }
        }
    }
    if json {
        json_line(&report)?;
        return Ok(if report.intact { Outcome::Ok } else { Outcome::IntegrityFailure });
    }
    let name = report.ledger_name.clone().unwrap_or_default();
    line(&format!(
        "ledger {name:?} ({}): {} entries, head {}",
        report.ledger_id.clone().unwrap_or_default(),
        report.entries,
        report.head_hash.map(hex::encode).unwrap_or_default()
    ))?;
    if let Some(k) = &report.genesis_key {
        line(&format!(
            "genesis key {k} ({})",
            if report.trust == "pinned" { "matches --trust" } else { "trusted on first use" }
        ))?;
    }
    for k in &report.keys {
        line(&format!("  key {k}"))?;
    }
    if let Some(root) = report.tree_root {
        line(&format!("tree root (RFC 6962 over entry hashes): {}", hex::encode(root)))?;
    }
    if report.redacted_fields > 0 {
        let by: Vec<String> = report
            .redactions
            .iter()
            .map(|r| format!("entry {} ({} fields in {} entries)", r.redaction_seq, r.fields, r.entries))
            .collect();
        line(&format!("redacted fields: {}, by {}", report.redacted_fields, by.join(", ")))?;
    }
    if let Some(c) = &checkpoint {
        line(&format!(
            "checkpoint: size {} root {} signed by the ledger key; {} witness cosignature(s) verified",
            c.checkpoint.size(),
            hex::encode(c.checkpoint.root()),
            c.cosignatures.len()
        ))?;
    }
    for w in &report.warnings {
        eprintln!("warning: {w}");
    }
    if report.intact {
        line("INTACT: every entry decodes, chains, is signed by a key authorised at that point, and matches its commitments")?;
    } else {
        line(&format!("NOT INTACT: {} problem(s) found", report.findings.len() as u64 + report.findings_omitted))?;
        for f in &report.findings {
            line(&format!("  {f}"))?;
        }
        if report.findings_omitted > 0 {
            line(&format!("  ... and {} more", report.findings_omitted))?;
        }
        if let Some((kept, theirs)) = &evidence {
            line("evidence of equivocation: two signed checkpoints of the same size with different roots")?;
            line(&format!(
                "--- the checkpoint you kept ---\n{kept}--- the ledger's checkpoint of that size now ---\n{theirs}"
            ))?;
        }
    }
    Ok(if report.intact { Outcome::Ok } else { Outcome::IntegrityFailure })
}

pub fn filter_from(f: &FilterArgs) -> anyhow::Result<Filter> {
    let t = |s: &Option<String>, flag: &str| -> anyhow::Result<Option<Timestamp>> {
        s.as_deref().map(|s| Timestamp::parse(s).map_err(|e| anyhow::anyhow!("--{flag}: {e}"))).transpose()
    };
    Ok(Filter {
        incident: f.incident.clone(),
        target: f.target.clone(),
        actor: f.actor.clone(),
        since: t(&f.since, "since")?,
        until: t(&f.until, "until")?,
    })
}

fn log(ledger: &LedgerArg, f: &FilterArgs, json: bool) -> anyhow::Result<Outcome> {
    let filter = filter_from(f)?;
    let l = open(ledger)?;
    for e in l.query(&filter)? {
        let e = e?;
        if json {
            json_line(&l.entry_json(&e))?;
        } else {
            line(&entry_line(&e, Some(&l)))?;
        }
    }
    Ok(Outcome::Ok)
}

fn head(ledger: &LedgerArg, json: bool) -> anyhow::Result<Outcome> {
    let l = open(ledger)?;
    let h = l.head();
    if json {
        json_line(&h)?;
    } else {
        line(&format!("{}:{}", h.size, h.head_hash))?;
    }
    Ok(Outcome::Ok)
}
