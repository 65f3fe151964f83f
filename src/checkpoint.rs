//! The verifiable log: signed checkpoints, inclusion and consistency proofs, and witness
//! cosignatures, over the RFC 6962 tree of entry hashes.
//!
//! The tree math is in [`crate::merkle`] and the C2SP note formats in [`crate::note`]; this module
//! ties them to a ledger: the checkpoint origin is `custody.ledger/<ledger id>`, a checkpoint is a
//! signed note by an active ledger key with the key name equal to the origin, and issued
//! checkpoints are kept in `checkpoints/` (one file per tree size). Proof files are JSON
//! (`docs/FORMAT.md`, section 12) and verify offline from the proof, a checkpoint and a public key.
//! A witness keeps the last checkpoint it cosigned per origin and refuses anything that is not a
//! consistent extension of it.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::entry::{Entry, Hash, LedgerId};
use crate::ledger::{Ledger, LedgerError};
use crate::merkle::{self, MerkleError};
use crate::note::{Checkpoint, Cosigner, KeyKind, NoteSigner, NoteVerifier, SignedNote};
use crate::sign::{PublicKey, SecretKey};

/// Format tag of inclusion proof files.
pub const INCLUSION_FORMAT: &str = "custody-inclusion-proof-v1";
/// Format tag of consistency proof files.
pub const CONSISTENCY_FORMAT: &str = "custody-consistency-proof-v1";

/// Problems with checkpoints and proofs. `Invalid*` variants mean the evidence does not prove what
/// it claims (exit 1); the others are usage or I/O problems (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum ProofError {
    #[error("checkpoint signature: {0}")]
    InvalidSignature(String),
    #[error("proof does not verify: {0}")]
    InvalidProof(String),
    #[error("equivocation: {0}")]
    Equivocation(String),
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
}

impl ProofError {
    /// Whether this error means the evidence failed (exit 1) rather than the request (exit 2).
    pub fn is_integrity_failure(&self) -> bool {
        matches!(self, ProofError::InvalidSignature(_) | ProofError::InvalidProof(_) | ProofError::Equivocation(_))
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ProofError + '_ {
    move |source| ProofError::Io { path: path.display().to_string(), source }
}

fn merkle_err(e: MerkleError) -> ProofError {
    ProofError::InvalidProof(e.to_string())
}

/// The checkpoint origin of a ledger.
pub fn origin(ledger_id: &LedgerId) -> String {
    format!("custody.ledger/{}", hex::encode(ledger_id))
}

/// A verified checkpoint: its body and the signed note text.
#[derive(Clone, Debug)]
pub struct VerifiedCheckpoint {
    pub checkpoint: Checkpoint,
    pub note: String,
    /// Witness cosignatures that verified: (witness name, timestamp).
    pub cosignatures: Vec<(String, u64)>,
}

/// The note verifier for a ledger key under an origin.
pub fn ledger_verifier(origin: &str, key: &PublicKey) -> Result<NoteVerifier, ProofError> {
    NoteVerifier::new(origin, *key.verifying_key(), KeyKind::Ed25519).map_err(|e| ProofError::Usage(e.to_string()))
}

/// Parses a signed checkpoint and checks the signature of one of `keys` (ledger keys) under the
/// checkpoint's own origin, and any cosignatures from `witnesses`.
pub fn verify_checkpoint(
    note: &str,
    keys: &[PublicKey],
    witnesses: &[NoteVerifier],
) -> Result<VerifiedCheckpoint, ProofError> {
    let parsed =
        SignedNote::parse(note).map_err(|e| ProofError::InvalidSignature(format!("not a signed note: {e}")))?;
    let cp =
        Checkpoint::parse(parsed.text()).map_err(|e| ProofError::InvalidSignature(format!("not a checkpoint: {e}")))?;
    let mut last_err = String::from("no ledger key given");
    for k in keys {
        let mut verifiers = vec![ledger_verifier(cp.origin(), k)?];
        verifiers.extend(witnesses.iter().cloned());
        match parsed.verify(&verifiers) {
            Ok(sigs) if sigs.iter().any(|s| s.kind == KeyKind::Ed25519) => {
                let cosignatures = sigs
                    .iter()
                    .filter(|s| s.kind == KeyKind::Cosignature)
                    .map(|s| (s.name.clone(), s.timestamp.unwrap_or(0)))
                    .collect();
                return Ok(VerifiedCheckpoint { checkpoint: cp, note: note.to_string(), cosignatures });
            }
            Ok(_) => last_err = "signed only by witnesses, not by the ledger key".into(),
            Err(e) => last_err = e.to_string(),
        }
    }
    Err(ProofError::InvalidSignature(format!(
        "checkpoint for {} at size {} is not signed by the ledger key: {last_err}",
        cp.origin(),
        cp.size()
    )))
}

/// Where a ledger keeps the checkpoints it issued.
pub fn checkpoint_dir(ledger_dir: &Path) -> PathBuf {
    ledger_dir.join("checkpoints")
}

fn checkpoint_path(ledger_dir: &Path, size: u64) -> PathBuf {
    checkpoint_dir(ledger_dir).join(format!("{size:020}.checkpoint"))
}

/// Issues (and keeps) a checkpoint of the ledger's current tree, signed by `key`, which must be an
/// active key of the ledger.
pub fn issue(ledger: &Ledger, key: &SecretKey) -> Result<VerifiedCheckpoint, ProofError> {
    let st = ledger.state();
    let kid = key.public().key_id();
    if st.active_key(&kid).is_none() {
        return Err(LedgerError::NotAuthorized { key_id: hex::encode(kid) }.into());
    }
    let size = st.next_seq;
    let root = ledger.tree_root(size)?;
    let origin = origin(&st.ledger_id.unwrap_or_default());
    let cp = Checkpoint::new(origin.clone(), size, root, Vec::new()).map_err(|e| ProofError::Usage(e.to_string()))?;
    let signer = NoteSigner::new(&origin, key.signing_key().clone()).map_err(|e| ProofError::Usage(e.to_string()))?;
    let note = signer.sign(&cp.encode()).map_err(|e| ProofError::Usage(e.to_string()))?;
    let dir = checkpoint_dir(ledger.dir());
    fs::create_dir_all(&dir).map_err(io(&dir))?;
    let path = checkpoint_path(ledger.dir(), size);
    let tmp = path.with_extension("tmp");
    let mut f = fs::File::create(&tmp).map_err(io(&tmp))?;
    f.write_all(note.as_bytes()).and_then(|_| f.sync_all()).map_err(io(&tmp))?;
    fs::rename(&tmp, &path).map_err(io(&path))?;
    crate::log::sync_dir(&dir).map_err(|e| ProofError::Usage(e.to_string()))?;
    Ok(VerifiedCheckpoint { checkpoint: cp, note, cosignatures: Vec::new() })
}

/// The checkpoints a ledger has issued, by size (the note text of each).
pub fn issued(ledger_dir: &Path) -> Result<Vec<(u64, String)>, ProofError> {
    let dir = checkpoint_dir(ledger_dir);
    let mut out = Vec::new();
    let Ok(rd) = fs::read_dir(&dir) else { return Ok(out) };
    for e in rd {
        let e = e.map_err(io(&dir))?;
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(size) = name.strip_suffix(".checkpoint").and_then(|s| s.parse::<u64>().ok()) {
            out.push((size, fs::read_to_string(e.path()).map_err(io(&e.path()))?));
        }
    }
    out.sort_by_key(|(s, _)| *s);
    Ok(out)
}

/// An inclusion proof file.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct InclusionProof {
    pub format: String,
    pub origin: String,
    /// The entry's seq (its leaf index).
    pub index: u64,
    pub tree_size: u64,
    /// The entry hash (the leaf data); the leaf hash is SHA-256(0x00 || entry hash).
    pub entry_hash: String,
    /// The entry's signed bytes (hex), so the verifier can recompute the entry hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_bytes: Option<String>,
    /// Audit path, leaf to root (hex SHA-256 hashes).
    pub hashes: Vec<String>,
    /// The signed checkpoint of `tree_size`, when the ledger issued one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<String>,
}

/// A consistency proof file.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyProof {
    pub format: String,
    pub origin: String,
    pub old_size: u64,
    pub new_size: u64,
    pub old_root: String,
    pub new_root: String,
    pub hashes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_checkpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<String>,
}

fn hexes(v: &[Hash]) -> Vec<String> {
    v.iter().map(hex::encode).collect()
}

fn unhex32(s: &str, what: &str) -> Result<Hash, ProofError> {
    hex::decode(s)
        .ok()
        .and_then(|v| v.try_into().ok())
        .ok_or_else(|| ProofError::InvalidProof(format!("{what} `{s}` is not 64 hex digits")))
}

/// Proves that entry `seq` is in the tree of `size` entries.
pub fn prove_inclusion(ledger: &Ledger, seq: u64, size: u64) -> Result<InclusionProof, ProofError> {
    let head = ledger.head().size;
    if size > head || seq >= size {
        return Err(ProofError::Usage(format!(
            "cannot prove entry {seq} in a tree of {size} entries (the ledger has {head})"
        )));
    }
    let e = ledger.get(seq)?;
    let hashes =
        merkle::prove_inclusion(seq, size, &ledger.merkle_reader()).map_err(|e| ProofError::Usage(e.to_string()))?;
    let checkpoint = issued(ledger.dir())?.into_iter().find(|(s, _)| *s == size).map(|(_, n)| n);
    Ok(InclusionProof {
        format: INCLUSION_FORMAT.into(),
        origin: origin(&e.header().ledger_id),
        index: seq,
        tree_size: size,
        entry_hash: hex::encode(e.hash),
        signed_bytes: Some(hex::encode(&e.bytes)),
        hashes: hexes(&hashes),
        checkpoint,
    })
}

/// Proves that the tree of `old` entries is a prefix of the tree of `new` entries.
pub fn prove_consistency(ledger: &Ledger, old: u64, new: u64) -> Result<ConsistencyProof, ProofError> {
    let head = ledger.head().size;
    if old > new || new > head {
        return Err(ProofError::Usage(format!(
            "cannot prove consistency from size {old} to {new} (the ledger has {head})"
        )));
    }
    let r = ledger.merkle_reader();
    let hashes = merkle::prove_consistency(old, new, &r).map_err(|e| ProofError::Usage(e.to_string()))?;
    let cps = issued(ledger.dir())?;
    Ok(ConsistencyProof {
        format: CONSISTENCY_FORMAT.into(),
        origin: origin(&ledger.state().ledger_id.unwrap_or_default()),
        old_size: old,
        new_size: new,
        old_root: hex::encode(ledger.tree_root(old)?),
        new_root: hex::encode(ledger.tree_root(new)?),
        hashes: hexes(&hashes),
        old_checkpoint: cps.iter().find(|(s, _)| *s == old).map(|(_, n)| n.clone()),
        checkpoint: cps.iter().find(|(s, _)| *s == new).map(|(_, n)| n.clone()),
    })
}

/// What a proof check established.
#[derive(Clone, Debug, Serialize)]
pub struct ProofReport {
    pub kind: &'static str,
    pub origin: String,
    pub statement: String,
    pub cosignatures: Vec<String>,
}

/// Verifies an inclusion proof offline against a signed checkpoint and the ledger's public key.
pub fn verify_inclusion_proof(
    p: &InclusionProof,
    checkpoint: &str,
    key: &PublicKey,
    witnesses: &[NoteVerifier],
) -> Result<ProofReport, ProofError> {
    if p.format != INCLUSION_FORMAT {
        return Err(ProofError::Usage(format!("proof format `{}` is not {INCLUSION_FORMAT}", p.format)));
    }
    let cp = verify_checkpoint(checkpoint, &[*key], witnesses)?;
    if cp.checkpoint.origin() != p.origin {
        return Err(ProofError::InvalidProof(format!(
            "the proof is for {}, the checkpoint for {}",
            p.origin,
            cp.checkpoint.origin()
        )));
    }
    if cp.checkpoint.size() != p.tree_size {
        return Err(ProofError::InvalidProof(format!(
            "the proof is for tree size {}, the checkpoint has size {}",
            p.tree_size,
            cp.checkpoint.size()
        )));
    }
    let entry_hash = unhex32(&p.entry_hash, "entry_hash")?;
    if let Some(sb) = &p.signed_bytes {
        let bytes = hex::decode(sb).map_err(|_| ProofError::InvalidProof("signed_bytes is not hex".into()))?;
        if crate::entry::entry_hash(&bytes) != entry_hash {
            return Err(ProofError::InvalidProof("the entry hash is not the hash of the signed bytes".into()));
        }
        let body = crate::entry::SignedBody::decode(&bytes)
            .map_err(|e| ProofError::InvalidProof(format!("signed bytes: {e}")))?;
        if body.header.seq != p.index {
            return Err(ProofError::InvalidProof(format!(
                "the signed bytes are entry {}, the proof says {}",
                body.header.seq, p.index
            )));
        }
    }
    let path = p.hashes.iter().map(|h| unhex32(h, "proof hash")).collect::<Result<Vec<_>, _>>()?;
    merkle::verify_inclusion(&merkle::leaf_hash(&entry_hash), p.index, p.tree_size, &path, cp.checkpoint.root())
        .map_err(merkle_err)?;
    Ok(ProofReport {
        kind: "inclusion",
        origin: p.origin.clone(),
        statement: format!(
            "entry {} (hash {}) is in the ledger's tree of {} entries, whose root the ledger key signed",
            p.index, p.entry_hash, p.tree_size
        ),
        cosignatures: cp.cosignatures.iter().map(|(n, t)| format!("{n} at {t}")).collect(),
    })
}

/// Verifies a consistency proof offline: the old and new checkpoints are signed by the ledger key and
/// the new tree extends the old one.
pub fn verify_consistency_proof(
    p: &ConsistencyProof,
    old_checkpoint: &str,
    new_checkpoint: &str,
    key: &PublicKey,
    witnesses: &[NoteVerifier],
) -> Result<ProofReport, ProofError> {
    if p.format != CONSISTENCY_FORMAT {
        return Err(ProofError::Usage(format!("proof format `{}` is not {CONSISTENCY_FORMAT}", p.format)));
    }
    let old = verify_checkpoint(old_checkpoint, &[*key], &[])?;
    let new = verify_checkpoint(new_checkpoint, &[*key], witnesses)?;
    check_consistency(&old.checkpoint, &new.checkpoint, &p.hashes)?;
    Ok(ProofReport {
        kind: "consistency",
        origin: p.origin.clone(),
        statement: format!(
            "the ledger's tree of {} entries is a prefix of its tree of {} entries: nothing acknowledged before was removed or changed",
            old.checkpoint.size(),
            new.checkpoint.size()
        ),
        cosignatures: new.cosignatures.iter().map(|(n, t)| format!("{n} at {t}")).collect(),
    })
}

/// Checks that `new` consistently extends `old` with the given proof hashes.
pub fn check_consistency(old: &Checkpoint, new: &Checkpoint, hashes: &[String]) -> Result<(), ProofError> {
    if old.origin() != new.origin() {
        return Err(ProofError::InvalidProof(format!(
            "checkpoints of different logs: {} and {}",
            old.origin(),
            new.origin()
        )));
    }
    if new.size() < old.size() {
        return Err(ProofError::Equivocation(format!(
            "rollback: the new checkpoint has {} entries, fewer than the {} of the old one",
            new.size(),
            old.size()
        )));
    }
    if new.size() == old.size() && new.root() != old.root() {
        return Err(ProofError::Equivocation(format!(
            "two checkpoints of size {} with different roots: the log forked",
            new.size()
        )));
    }
    let path = hashes.iter().map(|h| unhex32(h, "proof hash")).collect::<Result<Vec<_>, _>>()?;
    merkle::verify_consistency(old.size(), new.size(), old.root(), new.root(), &path).map_err(|e| {
        ProofError::Equivocation(format!(
            "the tree of {} entries is not a prefix of the tree of {}: {e}",
            old.size(),
            new.size()
        ))
    })
}

/// A witness's memory of the last checkpoint it cosigned for one log.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WitnessState {
    pub origin: String,
    pub ledger_key: String,
    pub checkpoint: String,
}

fn state_path(dir: &Path, origin: &str) -> PathBuf {
    let name: String =
        origin.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '.' { c } else { '_' }).collect();
    dir.join(format!("{name}.json"))
}

/// The outcome of a cosigning request.
#[derive(Debug)]
pub struct Cosigned {
    /// The checkpoint with the witness's cosignature line added.
    pub note: String,
    pub size: u64,
    pub previous_size: Option<u64>,
}

/// A witness cosigns `new_note` if it is signed by the ledger key and consistent with the last
/// checkpoint this witness cosigned for the same origin (`hashes`: the consistency proof from that
/// size to the new one). Refuses rollbacks and forks, returning both checkpoints as evidence.
pub fn cosign(
    witness: &SecretKey,
    witness_name: &str,
    state_dir: &Path,
    new_note: &str,
    ledger_key: Option<&PublicKey>,
    proof_for: &dyn Fn(u64, u64) -> Result<Vec<String>, ProofError>,
    now: u64,
) -> Result<Cosigned, ProofError> {
    let parsed =
        SignedNote::parse(new_note).map_err(|e| ProofError::InvalidSignature(format!("not a signed note: {e}")))?;
    let body =
        Checkpoint::parse(parsed.text()).map_err(|e| ProofError::InvalidSignature(format!("not a checkpoint: {e}")))?;
    fs::create_dir_all(state_dir).map_err(io(state_dir))?;
    let sp = state_path(state_dir, body.origin());
    let prior: Option<WitnessState> = match fs::read(&sp) {
        Ok(b) => Some(serde_json::from_slice(&b).map_err(|e| ProofError::Usage(format!("{}: {e}", sp.display())))?),
        Err(_) => None,
    };
    let key = match (ledger_key, &prior) {
        (Some(k), Some(p)) if k.to_text() != p.ledger_key => {
            return Err(ProofError::Usage(format!(
                "this witness pinned ledger key {} for {}; refusing another key",
                p.ledger_key,
                body.origin()
            )));
        }
        (Some(k), _) => *k,
        (None, Some(p)) => PublicKey::parse(&p.ledger_key).map_err(|e| ProofError::Usage(e.to_string()))?,
        (None, None) => {
            return Err(ProofError::Usage(
                "first cosignature for this log: pass --ledger-key to pin the ledger's public key".into(),
            ))
        }
    };
    let new = verify_checkpoint(new_note, &[key], &[])?;
    let mut previous_size = None;
    if let Some(p) = &prior {
        let old = verify_checkpoint(&p.checkpoint, &[key], &[])?;
        previous_size = Some(old.checkpoint.size());
        let hashes = if new.checkpoint.size() > old.checkpoint.size() {
            proof_for(old.checkpoint.size(), new.checkpoint.size())?
        } else {
            Vec::new()
        };
        if let Err(e) = check_consistency(&old.checkpoint, &new.checkpoint, &hashes) {
            return Err(match e {
                ProofError::Equivocation(msg) => ProofError::Equivocation(format!(
                    "{msg}\n--- checkpoint this witness cosigned before ---\n{}--- checkpoint presented now ---\n{}",
                    p.checkpoint, new_note
                )),
                other => other,
            });
        }
    }
    let cosigner =
        Cosigner::new(witness_name, witness.signing_key().clone()).map_err(|e| ProofError::Usage(e.to_string()))?;
    let line = cosigner.cosign(parsed.text(), now).map_err(|e| ProofError::Usage(e.to_string()))?;
    let mut out = parsed.clone();
    out.add_signature_line(&line).map_err(|e| ProofError::Usage(e.to_string()))?;
    let state =
        WitnessState { origin: body.origin().to_string(), ledger_key: key.to_text(), checkpoint: new_note.to_string() };
    let tmp = sp.with_extension("tmp");
    let mut f = fs::File::create(&tmp).map_err(io(&tmp))?;
    f.write_all(&serde_json::to_vec_pretty(&state).unwrap_or_default()).and_then(|_| f.sync_all()).map_err(io(&tmp))?;
    fs::rename(&tmp, &sp).map_err(io(&sp))?;
    crate::log::sync_dir(state_dir).map_err(|e| ProofError::Usage(e.to_string()))?;
    Ok(Cosigned { note: out.encode(), size: body.size(), previous_size })
}

/// The vkey of a witness key under a name (C2SP tlog-cosignature form).
pub fn witness_vkey(key: &SecretKey, name: &str) -> Result<String, ProofError> {
    Ok(Cosigner::new(name, key.signing_key().clone())
        .map_err(|e| ProofError::Usage(e.to_string()))?
        .verifier()
        .to_vkey())
}

/// A streaming RFC 6962 tree over entry hashes, holding O(log n) hashes: the verifier computes roots
/// from the log itself, never from the index.
#[derive(Default, Debug, Clone)]
pub struct Frontier {
    /// Complete subtrees, left to right: (number of leaves, hash).
    stack: Vec<(u64, Hash)>,
    size: u64,
}

impl Frontier {
    pub fn push(&mut self, entry: &Entry) {
        self.push_hash(&entry.hash);
    }

    pub fn push_hash(&mut self, entry_hash: &Hash) {
        self.stack.push((1, merkle::leaf_hash(entry_hash)));
        while self.stack.len() >= 2 && self.stack[self.stack.len() - 1].0 == self.stack[self.stack.len() - 2].0 {
            let (n, right) = self.stack.pop().unwrap_or_default();
            let (_, left) = self.stack.pop().unwrap_or_default();
            self.stack.push((2 * n, merkle::node_hash(&left, &right)));
        }
        self.size += 1;
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// The root of the tree of all leaves pushed so far (RFC 6962 §2.1).
    pub fn root(&self) -> Hash {
        let mut it = self.stack.iter().rev();
        match it.next() {
            None => merkle::EMPTY_TREE_HASH,
            Some((_, h)) => it.fold(*h, |acc, (_, left)| merkle::node_hash(left, &acc)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frontier_matches_the_stored_tree() {
        let mut store = merkle::MemoryHashStore::new();
        let mut f = Frontier::default();
        for i in 0u32..300 {
            let h = *blake3::hash(&i.to_be_bytes()).as_bytes();
            store.append(merkle::leaf_hash(&h)).unwrap();
            f.push_hash(&h);
            assert_eq!(f.root(), store.root().unwrap(), "size {}", i + 1);
        }
    }
}
