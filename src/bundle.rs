//! Evidence bundles: one file an auditor carries away and verifies offline with only a public key.
//!
//! A bundle (`docs/FORMAT.md`, section 13) is a POSIX tar archive holding `README.txt`,
//! `manifest.json` (the SHA-256 of every other file), `checkpoint.txt` (a signed checkpoint, with any
//! witness cosignatures), `control.jsonl` (the genesis, key-management and redaction entries that
//! authorise the incident's entries) and `entries.jsonl` (the incident's entries). Every entry carries
//! its signed bytes, signature, openings and an inclusion proof against the checkpoint. The incident
//! back-links prove the incident's chain is gap-free. `--withhold` leaves chosen fields' values and
//! salts out (marked withheld), and the entries still verify. This module builds and checks bundles;
//! it reads the ledger only through [`Ledger`].

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::chain::ChainState;
use crate::checkpoint::{self, ProofError};
use crate::commit::{Field, Opening};
use crate::entry::{signature_message, Control, Entry};
use crate::ledger::{Filter, Ledger, LedgerError};
use crate::merkle;
use crate::note::Checkpoint;
use crate::record::Action;
use crate::sign::PublicKey;
use crate::verify::check_content;

/// Format tag of bundles.
pub const BUNDLE_FORMAT: &str = "custody-bundle-v1";
/// The largest bundle file `verify-bundle` reads.
pub const MAX_BUNDLE_BYTES: u64 = 512 << 20;
const FILES: [&str; 4] = ["checkpoint.txt", "control.jsonl", "entries.jsonl", "README.txt"];

/// Errors building or reading a bundle. `Invalid` means the bundle does not prove what it claims.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("bundle is not valid: {0}")]
    Invalid(String),
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Proof(#[from] ProofError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// One entry as carried in a bundle.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct BundledEntry {
    pub seq: u64,
    pub entry_hash: String,
    pub signed_bytes: String,
    pub signature: String,
    pub openings: String,
    /// Inclusion proof (audit path, leaf to root) against the bundle's checkpoint.
    pub proof: Vec<String>,
}

/// The bundle manifest.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: String,
    pub origin: String,
    pub ledger_name: String,
    pub incident: String,
    pub checkpoint_size: u64,
    pub entries: Vec<u64>,
    pub control_entries: Vec<u64>,
    pub withheld: Vec<String>,
    /// SHA-256 (hex) of each other file in the archive.
    pub files: BTreeMap<String, String>,
}

fn sha256_hex(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

fn bundled(e: &Entry, openings: &[u8], proof: Vec<[u8; 32]>) -> BundledEntry {
    BundledEntry {
        seq: e.seq(),
        entry_hash: hex::encode(e.hash),
        signed_bytes: hex::encode(&e.bytes),
        signature: hex::encode(e.signature),
        openings: hex::encode(openings),
        proof: proof.iter().map(hex::encode).collect(),
    }
}

fn readme(m: &Manifest) -> String {
    format!(
        "custody evidence bundle ({BUNDLE_FORMAT})\n\
         =========================================\n\n\
         Incident:   {incident}\n\
         Ledger:     {name} ({origin})\n\
         Checkpoint: tree size {size}\n\
         Entries:    {n} of the incident, plus {c} control entries (genesis, key management, redactions)\n\
         Withheld:   {withheld}\n\n\
         To verify with custody:  custody verify-bundle THIS_FILE --trust <ledger public key>\n\n\
         To verify by hand (docs/FORMAT.md of custody specifies every byte):\n\
         1. manifest.json lists the SHA-256 of checkpoint.txt, control.jsonl, entries.jsonl and this\n\
            README; recompute them (sha256sum) and compare.\n\
         2. checkpoint.txt is a C2SP signed note (c2sp.org/signed-note, tlog-checkpoint): origin,\n\
            tree size, base64 RFC 6962 root. Its Ed25519 signature line is by a ledger key under the\n\
            key name equal to the origin; witness cosignatures (tlog-cosignature) may follow.\n\
         3. control.jsonl and entries.jsonl hold one entry per line: seq, entry_hash, signed_bytes (S),\n\
            signature, openings (hex) and proof (hex hashes). For each: entry_hash =\n\
            BLAKE3(\"custody/v1/entry\" || 0x00 || S); the signature is Ed25519 (strict) over\n\
            \"custody/v1/signature\" || 0x00 || entry_hash by the key whose 8-byte key ID is in S, a key\n\
            authorised by the genesis entry or a key_add entry in control.jsonl and not retired\n\
            before; the proof is an RFC 6962 inclusion proof of leaf SHA-256(0x00 || entry_hash) at\n\
            index seq in the checkpoint's tree.\n\
         4. Each opening value must match its commitment in S: BLAKE3(\"custody/v1/field-commitment\"\n\
            || 0x00 || field code || salt || u32 length || value). Fields marked withheld were left\n\
            out of this bundle by its producer; fields marked redacted were erased by the redaction\n\
            entry named, which is in control.jsonl.\n\
         5. The incident chain: the first entry of the incident has no incident link; each later one\n\
            links to the seq and entry hash of the one before. No gap means no entry of the incident\n\
            between the first and the last here is missing. If the last is incident_close, the bundle\n\
            holds the whole incident up to its close.\n",
        incident = m.incident,
        name = m.ledger_name,
        origin = m.origin,
        size = m.checkpoint_size,
        n = m.entries.len(),
        c = m.control_entries.len(),
        withheld = if m.withheld.is_empty() { "nothing".to_string() } else { m.withheld.join(", ") },
    )
}

/// Builds a bundle of `incident` against the signed checkpoint `checkpoint_note` (which may carry
/// witness cosignatures), leaving the `withhold` fields out. Writes a tar archive to `out`.
pub fn build(
    ledger: &Ledger,
    incident: &str,
    checkpoint_note: &str,
    withhold: &[Field],
    out: &mut dyn Write,
) -> Result<Manifest, BundleError> {
    let keys: Vec<PublicKey> =
        ledger.state().keys.values().filter_map(|k| PublicKey::from_bytes(&k.public_key).ok()).collect();
    let cp = checkpoint::verify_checkpoint(checkpoint_note, &keys, &[])?.checkpoint;
    let size = cp.size();
    if ledger.tree_root(size)? != *cp.root() {
        return Err(BundleError::Usage(format!("the checkpoint's root is not this ledger's tree of {size} entries")));
    }
    let seqs: Vec<u64> = ledger
        .select(&Filter { incident: Some(incident.to_string()), ..Default::default() })?
        .into_iter()
        .filter(|s| *s < size)
        .collect();
    if seqs.is_empty() {
        return Err(BundleError::Usage(format!(
            "incident {incident} has no entries in the checkpointed tree of {size} entries (issue a newer checkpoint with `custody checkpoint`)"
        )));
    }
    let reader = ledger.merkle_reader();
    let proof = |seq: u64| merkle::prove_inclusion(seq, size, &reader).map_err(|e| BundleError::Usage(e.to_string()));
    let mut entries = Vec::new();
    let mut redactions = BTreeSet::new();
    for &seq in &seqs {
        let e = ledger.get(seq)?;
        let mut o = e.openings.clone();
        for f in withhold {
            if let Some(v) = o.0.get_mut(f) {
                if matches!(v, Opening::Value { .. }) {
                    *v = Opening::Withheld;
                }
            }
        }
        for v in o.0.values() {
            if let Opening::Redacted { by } = v {
                redactions.insert(*by);
            }
        }
        entries.push(bundled(&e, &o.encode(), proof(seq)?));
    }
    // Genesis, every key-management entry before the checkpoint, and the redactions used.
    let mut control = Vec::new();
    for seq in 0..size {
        let e = ledger.get(seq)?;
        let keep = match e.control() {
            Some(Control::LedgerInit { .. } | Control::KeyAdd { .. } | Control::KeyRetire { .. }) => true,
            Some(Control::Redact { .. }) => redactions.contains(&seq),
            _ => false,
        };
        if keep {
            control.push(bundled(&e, &e.openings.encode(), proof(seq)?));
        }
    }
    let jsonl = |v: &[BundledEntry]| -> String {
        v.iter().map(|e| serde_json::to_string(e).unwrap_or_default() + "\n").collect()
    };
    let entries_text = jsonl(&entries);
    let control_text = jsonl(&control);
    let mut manifest = Manifest {
        format: BUNDLE_FORMAT.into(),
        origin: cp.origin().to_string(),
        ledger_name: ledger.state().name,
        incident: incident.to_string(),
        checkpoint_size: size,
        entries: seqs,
        control_entries: control.iter().map(|e| e.seq).collect(),
        withheld: withhold.iter().map(|f| f.as_str().to_string()).collect(),
        files: BTreeMap::new(),
    };
    let readme = readme(&manifest);
    let files: Vec<(&str, &[u8])> = vec![
        ("README.txt", readme.as_bytes()),
        ("checkpoint.txt", checkpoint_note.as_bytes()),
        ("control.jsonl", control_text.as_bytes()),
        ("entries.jsonl", entries_text.as_bytes()),
    ];
    for (name, bytes) in &files {
        manifest.files.insert((*name).into(), sha256_hex(bytes));
    }
    let manifest_text = serde_json::to_string_pretty(&manifest).unwrap_or_default() + "\n";
    let mut tar = tar::Builder::new(out);
    let mut add = |name: &str, bytes: &[u8]| -> std::io::Result<()> {
        let mut h = tar::Header::new_ustar();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(0);
        h.set_cksum();
        tar.append_data(&mut h, name, bytes)
    };
    add("manifest.json", manifest_text.as_bytes())?;
    for (name, bytes) in files {
        add(name, bytes)?;
    }
    tar.into_inner()?.flush()?;
    Ok(manifest)
}

/// What a bundle verification established, said exactly.
#[derive(Clone, Debug, Serialize)]
pub struct BundleReport {
    pub valid: bool,
    pub incident: String,
    pub origin: String,
    pub checkpoint_size: u64,
    pub cosignatures: Vec<String>,
    pub entries: u64,
    pub trust: &'static str,
    /// Statements that were proven.
    pub proven: Vec<String>,
    /// Statements that this bundle cannot prove.
    pub not_proven: Vec<String>,
    pub problems: Vec<String>,
    pub withheld: Vec<String>,
    pub redacted: Vec<String>,
}

/// Parses a JSON Lines file of entries, which must be in strictly increasing seq order (the
/// canonical form: a reordered bundle is a different, invalid bundle).
fn parse_entries(text: &str, file: &str) -> Result<Vec<BundledEntry>, BundleError> {
    let entries: Vec<BundledEntry> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| serde_json::from_str(l).map_err(|e| BundleError::Invalid(format!("{file} line {}: {e}", i + 1))))
        .collect::<Result<_, _>>()?;
    if let Some(w) = entries.windows(2).find(|w| w[0].seq >= w[1].seq) {
        return Err(BundleError::Invalid(format!(
            "{file}: entry {} comes after entry {}: entries must be in increasing seq order",
            w[1].seq, w[0].seq
        )));
    }
    Ok(entries)
}

fn unhex<const N: usize>(s: &str, what: &str) -> Result<[u8; N], BundleError> {
    hex::decode(s)
        .ok()
        .and_then(|v| v.try_into().ok())
        .ok_or_else(|| BundleError::Invalid(format!("{what} is not {N} bytes of hex")))
}

fn decode_entry(b: &BundledEntry, file: &str) -> Result<Entry, BundleError> {
    let bad = |what: &str| BundleError::Invalid(format!("{file}: entry {}: {what}", b.seq));
    let signed = hex::decode(&b.signed_bytes).map_err(|_| bad("signed_bytes is not hex"))?;
    let openings = hex::decode(&b.openings).map_err(|_| bad("openings is not hex"))?;
    let sig: [u8; 64] = unhex(&b.signature, "signature")?;
    let e = Entry::decode(&signed, sig, &openings).map_err(|err| bad(&format!("does not decode: {err}")))?;
    if e.seq() != b.seq {
        return Err(bad(&format!("its signed bytes say seq {}", e.seq())));
    }
    if hex::encode(e.hash) != b.entry_hash {
        return Err(bad("entry_hash is not the hash of its signed bytes"));
    }
    Ok(e)
}

/// Reads the files of a bundle archive, with limits and clear errors for garbage.
fn read_archive(bytes: &[u8]) -> Result<BTreeMap<String, Vec<u8>>, BundleError> {
    let mut files = BTreeMap::new();
    let mut ar = tar::Archive::new(bytes);
    let entries = ar.entries().map_err(|e| BundleError::Invalid(format!("not a bundle archive: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| BundleError::Invalid(format!("damaged archive: {e}")))?;
        let name = entry
            .path()
            .map_err(|e| BundleError::Invalid(format!("damaged archive entry name: {e}")))?
            .to_string_lossy()
            .into_owned();
        if entry.size() > MAX_BUNDLE_BYTES {
            return Err(BundleError::Invalid(format!("{name} is larger than a bundle may be")));
        }
        let mut data = Vec::new();
        entry.read_to_end(&mut data).map_err(|e| BundleError::Invalid(format!("damaged archive: {name}: {e}")))?;
        if files.insert(name.clone(), data).is_some() {
            return Err(BundleError::Invalid(format!("the archive holds {name} twice")));
        }
    }
    Ok(files)
}

/// Verifies a bundle offline. `trust` pins the genesis key; without it the genesis key in the bundle
/// is trusted on first use and the report says so. `witnesses`/`quorum` require cosignatures.
pub fn verify(
    bytes: &[u8],
    trust: Option<&PublicKey>,
    witnesses: &[crate::note::NoteVerifier],
    quorum: usize,
) -> Result<BundleReport, BundleError> {
    let files = read_archive(bytes)?;
    let get = |name: &str| -> Result<&Vec<u8>, BundleError> {
        files.get(name).ok_or_else(|| BundleError::Invalid(format!("the bundle has no {name}")))
    };
    let manifest: Manifest = serde_json::from_slice(get("manifest.json")?)
        .map_err(|e| BundleError::Invalid(format!("manifest.json: {e}")))?;
    if manifest.format != BUNDLE_FORMAT {
        return Err(BundleError::Invalid(format!("manifest format `{}` is not {BUNDLE_FORMAT}", manifest.format)));
    }
    let mut r = BundleReport {
        valid: false,
        incident: manifest.incident.clone(),
        origin: manifest.origin.clone(),
        checkpoint_size: manifest.checkpoint_size,
        cosignatures: Vec::new(),
        entries: 0,
        trust: if trust.is_some() { "pinned" } else { "first-use" },
        proven: Vec::new(),
        not_proven: Vec::new(),
        problems: Vec::new(),
        withheld: Vec::new(),
        redacted: Vec::new(),
    };
    // 1. the manifest's digests, and no file more or less
    // The file set is fixed: anything else is not part of the format.
    for name in files.keys().chain(manifest.files.keys()).filter(|n| n.as_str() != "manifest.json") {
        if !FILES.contains(&name.as_str()) {
            r.problems.push(format!("{name} is not a file of a {BUNDLE_FORMAT} bundle"));
        }
    }
    for name in FILES {
        match (manifest.files.get(name), files.get(name)) {
            (Some(want), Some(data)) if *want == sha256_hex(data) => {}
            (Some(_), Some(_)) => r.problems.push(format!("{name} does not match its digest in the manifest")),
            (None, _) => r.problems.push(format!("the manifest does not list {name}")),
            (_, None) => r.problems.push(format!("{name} is missing")),
        }
    }
    let text = |name: &str| -> Result<String, BundleError> {
        String::from_utf8(get(name)?.clone()).map_err(|_| BundleError::Invalid(format!("{name} is not UTF-8")))
    };
    let control = parse_entries(&text("control.jsonl")?, "control.jsonl")?;
    let entries = parse_entries(&text("entries.jsonl")?, "entries.jsonl")?;
    // 2. replay the control entries (keys) in seq order
    let mut controls: Vec<(Entry, &BundledEntry)> =
        control.iter().map(|b| decode_entry(b, "control.jsonl").map(|e| (e, b))).collect::<Result<_, _>>()?;
    controls.sort_by_key(|(e, _)| e.seq());
    let Some((genesis, _)) = controls.first().filter(|(e, _)| e.seq() == 0) else {
        return Err(BundleError::Invalid("control.jsonl does not start with the genesis entry (seq 0)".into()));
    };
    let Some(Control::LedgerInit { public_key, .. }) = genesis.control() else {
        return Err(BundleError::Invalid("entry 0 is not a ledger_init entry".into()));
    };
    let genesis_key = PublicKey::from_bytes(public_key).map_err(|e| BundleError::Invalid(e.to_string()))?;
    if let Some(t) = trust {
        if *t != genesis_key {
            r.problems.push(format!(
                "the genesis key is {}, not the trusted key {}",
                genesis_key.to_text(),
                t.to_text()
            ));
        }
    }
    // Key state as of each control entry: (seq, state after it).
    let mut states: Vec<(u64, ChainState)> = Vec::new();
    let mut st = ChainState::default();
    for (e, _) in &controls {
        let key = if e.seq() == 0 {
            Some(genesis_key)
        } else {
            st.active_key(&e.header().key_id).and_then(|k| PublicKey::from_bytes(&k.public_key).ok())
        };
        match key {
            Some(k) if k.verify(&signature_message(&e.hash), &e.signature) => {
                if let Some(c) = e.control() {
                    if e.seq() == 0 {
                        st.ledger_id = Some(e.header().ledger_id);
                    }
                    st.apply_control(e.seq(), c);
                }
            }
            Some(_) => r.problems.push(format!("control entry {}: signature does not verify", e.seq())),
            None => r.problems.push(format!("control entry {}: signed by a key not authorised at that point", e.seq())),
        }
        states.push((e.seq(), st.clone()));
    }
    let ledger_id = genesis.header().ledger_id;
    // Every manifest field must follow from the evidence: the manifest itself is not signed.
    if let Some(Control::LedgerInit { name, .. }) = genesis.control() {
        if *name != manifest.ledger_name {
            r.problems
                .push(format!("the manifest names the ledger {:?}, the genesis entry {name:?}", manifest.ledger_name));
        }
    }
    if controls.iter().map(|(e, _)| e.seq()).collect::<Vec<_>>() != manifest.control_entries {
        r.problems.push("control.jsonl does not hold exactly the control entries the manifest lists".into());
    }
    let key_at = |seq: u64| -> Option<&ChainState> { states.iter().rev().find(|(s, _)| *s < seq).map(|(_, st)| st) };
    // 3. the checkpoint: signed by a ledger key, with the cosignatures asked for
    let all_keys: Vec<PublicKey> = st.keys.values().filter_map(|k| PublicKey::from_bytes(&k.public_key).ok()).collect();
    let cp = match checkpoint::verify_checkpoint(&text("checkpoint.txt")?, &all_keys, witnesses) {
        Ok(v) => v,
        Err(e) => {
            r.problems.push(e.to_string());
            return Ok(r);
        }
    };
    r.cosignatures = cp.cosignatures.iter().map(|(n, t)| format!("{n} at {t}")).collect();
    if cp.cosignatures.len() < quorum {
        r.problems.push(format!("{} witness cosignature(s) verified; {quorum} required", cp.cosignatures.len()));
    }
    let cpb: &Checkpoint = &cp.checkpoint;
    if cpb.size() != manifest.checkpoint_size || cpb.origin() != manifest.origin {
        r.problems.push("the manifest does not describe the checkpoint it carries".into());
    }
    if checkpoint::origin(&ledger_id) != cpb.origin() {
        r.problems.push("the checkpoint is for another ledger than the genesis entry".into());
    }
    let included = |b: &BundledEntry, e: &Entry| -> Result<(), String> {
        let path = b
            .proof
            .iter()
            .map(|h| unhex::<32>(h, "proof hash"))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?;
        merkle::verify_inclusion(&merkle::leaf_hash(&e.hash), e.seq(), cpb.size(), &path, cpb.root())
            .map_err(|e| e.to_string())
    };
    for (e, b) in &controls {
        if let Err(msg) = included(b, e) {
            r.problems.push(format!("control entry {}: not included in the checkpoint: {msg}", e.seq()));
        }
    }
    // 4. the incident's entries
    let mut decoded: Vec<(Entry, &BundledEntry)> =
        entries.iter().map(|b| decode_entry(b, "entries.jsonl").map(|e| (e, b))).collect::<Result<_, _>>()?;
    decoded.sort_by_key(|(e, _)| e.seq());
    if decoded.iter().map(|(e, _)| e.seq()).collect::<Vec<_>>() != manifest.entries {
        r.problems.push("entries.jsonl does not hold exactly the entries the manifest lists".into());
    }
    let mut withheld = BTreeSet::new();
    let mut prev: Option<(u64, [u8; 32])> = None;
    for (i, (e, b)) in decoded.iter().enumerate() {
        let seq = e.seq();
        let Some(c) = e.change() else {
            r.problems.push(format!("entry {seq} is not an access change"));
            continue;
        };
        if c.incident != manifest.incident {
            r.problems.push(format!("entry {seq} belongs to incident {}, not {}", c.incident, manifest.incident));
        }
        if e.header().ledger_id != ledger_id {
            r.problems.push(format!("entry {seq} belongs to another ledger"));
        }
        match key_at(seq)
            .and_then(|s| s.active_key(&e.header().key_id))
            .and_then(|k| PublicKey::from_bytes(&k.public_key).ok())
        {
            Some(k) if k.verify(&signature_message(&e.hash), &e.signature) => {}
            Some(_) => r.problems.push(format!("entry {seq}: signature does not verify")),
            None => r.problems.push(format!(
                "entry {seq}: signed by key {}, not authorised at that point",
                hex::encode(e.header().key_id)
            )),
        }
        if let Err(msg) = included(b, e) {
            r.problems.push(format!("entry {seq}: not included in the checkpoint: {msg}"));
        }
        let (problems, redacted) = check_content(e, true);
        r.problems.extend(problems.into_iter().map(|p| p.message));
        for (f, by) in redacted {
            let covered = controls.iter().any(|(ce, _)| {
                ce.seq() == by
                    && ce.control().is_some_and(|c| {
                        crate::verify::redaction_covers(c, seq, crate::commit::FieldMask::default().with(f))
                    })
            });
            if covered {
                r.redacted.push(format!("entry {seq} {f}: erased by redaction entry {by}"));
            } else {
                r.problems.push(format!("entry {seq}: field `{f}` is marked redacted by entry {by}, which this bundle does not show to cover it"));
            }
        }
        for (f, o) in &e.openings.0 {
            if matches!(o, Opening::Withheld) {
                withheld.insert(f.as_str());
            }
        }
        // The incident chain: first entry has no link, every later one links to the one before.
        let link = c.incident_prev;
        match (i, prev, link) {
            (0, _, None) => {}
            (0, _, Some((s, _))) => r.not_proven.push(format!(
                "entries of the incident before entry {s} (the bundle starts at entry {seq}, which links back to entry {s})"
            )),
            (_, Some(p), Some(l)) if p == l => {}
            (_, Some((ps, _)), l) => r.problems.push(format!(
                "gap in the incident chain: entry {seq} links to {}, but the entry before it in this bundle is {ps}",
                l.map(|(s, _)| format!("entry {s}")).unwrap_or_else(|| "nothing".into())
            )),
            (_, None, _) => {}
        }
        prev = Some((seq, e.hash));
    }
    r.entries = decoded.len() as u64;
    r.withheld = withheld.into_iter().map(str::to_string).collect();
    // Every withheld marker must be declared; a declared field may simply occur in no entry.
    if let Some(f) = r.withheld.iter().find(|f| !manifest.withheld.contains(f)) {
        r.problems.push(format!("field {f} is withheld in the entries but the manifest does not declare it"));
    }
    r.valid = r.problems.is_empty();
    if r.valid {
        let first = decoded.first().map(|(e, _)| e.seq()).unwrap_or(0);
        let last = decoded.last().map(|(e, _)| e.seq()).unwrap_or(0);
        r.proven.push(format!(
            "{} entries of incident {} are authentic: each is signed by a key the ledger authorised at that point",
            r.entries, r.incident
        ));
        r.proven.push(format!(
            "each is included in the ledger's tree of {} entries, whose root a ledger key signed{}",
            cpb.size(),
            if r.cosignatures.is_empty() {
                String::new()
            } else {
                format!(" and {} witness(es) cosigned", r.cosignatures.len())
            }
        ));
        r.proven.push(format!("the incident's chain is gap-free from entry {first} to entry {last}"));
        let closed = decoded.last().and_then(|(e, _)| e.change()).is_some_and(|c| c.action == Action::IncidentClose);
        if closed {
            r.proven
                .push(format!("the incident was closed at entry {last}: the bundle holds all of it up to its close"));
            r.not_proven
                .push(format!("entries of this incident after its close at entry {last}, if any were appended later"));
        } else {
            r.not_proven.push(format!(
                "completeness: the incident has no incident_close entry here; entries after entry {last} may exist"
            ));
        }
        if !r.withheld.is_empty() {
            r.not_proven.push(format!(
                "the values of withheld fields ({}), left out by the bundle's producer",
                r.withheld.join(", ")
            ));
        }
        if r.trust == "first-use" {
            r.not_proven.push("that the genesis key is the ledger's real key: pass --trust PUBKEY to pin it".into());
        }
    }
    Ok(r)
}
