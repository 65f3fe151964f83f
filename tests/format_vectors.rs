//! The test vectors of docs/FORMAT.md: a fixed key seed, ledger ID, times and salts, a few entries,
//! and their exact bytes. The committed file `docs/vectors/entries.json` is checked against the code
//! here; regenerate it (only with a format version change!) with
//! `CUSTODY_WRITE_VECTORS=1 cargo test --test format_vectors`.

use std::collections::BTreeMap;

use custody::commit::{FixedSalts, Opening, Openings};
use custody::entry::{
    seal, Body, Control, Entry, Header, RedactMode, RedactRange, SignedBody, Unsigned, FORMAT_VERSION,
};
use custody::log::{entry_frame, SegmentHeader, FLAG_END_OF_BATCH};
use custody::record::Record;
use custody::sign::{PublicKey, SecretKey};
use custody::time::Timestamp;
use serde_json::{json, Value};

const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/vectors/entries.json");
const SEED: [u8; 32] = [0x11; 32];
const LEDGER_ID: [u8; 16] = [0xcd; 16];

fn t(s: &str) -> Timestamp {
    Timestamp::parse(s).unwrap()
}

struct Builder {
    key: SecretKey,
    prev: [u8; 32],
    seq: u64,
    incident: BTreeMap<String, (u64, [u8; 32])>,
    out: Vec<Value>,
    frames: Vec<u8>,
}

impl Builder {
    fn push(&mut self, name: &str, time: &str, body: Body, openings: Openings, record: Option<Value>) -> Entry {
        let mut body = body;
        if let Body::Change(c) = &mut body {
            c.incident_prev = self.incident.get(&c.incident).copied();
        }
        let header = Header {
            version: FORMAT_VERSION,
            ledger_id: LEDGER_ID,
            seq: self.seq,
            ledger_time: t(time),
            prev_hash: self.prev,
            key_id: self.key.public().key_id(),
            submitter: if self.seq == 2 { Some("soar-prod".into()) } else { None },
            request: if self.seq == 2 { Some("req-7f3a".into()) } else { None },
        };
        let e = Unsigned::new(SignedBody { header, body }, openings).sign(&self.key);
        if let Some(c) = e.change() {
            self.incident.insert(c.incident.clone(), (e.seq(), e.hash));
        }
        let frame = entry_frame(FLAG_END_OF_BATCH, &e);
        self.frames.extend_from_slice(&frame);
        let mut commitments = serde_json::Map::new();
        if let Some(c) = e.change() {
            for (f, cm) in &c.commitments {
                if let Some(Opening::Value { salt, value }) = e.openings.get(*f) {
                    commitments.insert(
                        f.as_str().into(),
                        json!({"code": f.code(), "salt": hex::encode(salt), "value": hex::encode(value), "commitment": hex::encode(cm)}),
                    );
                }
            }
        }
        self.out.push(json!({
            "name": name,
            "seq": self.seq,
            "record": record,
            "signed_bytes": hex::encode(&e.bytes),
            "entry_hash": hex::encode(e.hash),
            "signature_message": hex::encode(custody::entry::signature_message(&e.hash)),
            "signature": hex::encode(e.signature),
            "openings": hex::encode(e.openings.encode()),
            "commitments": commitments,
            "frame": hex::encode(&frame),
        }));
        self.prev = e.hash;
        self.seq += 1;
        e
    }
}

fn build() -> Value {
    let key = SecretKey::from_seed(&SEED);
    let pk = key.public();
    let mut b = Builder { key, prev: [0; 32], seq: 0, incident: BTreeMap::new(), out: Vec::new(), frames: Vec::new() };
    b.push(
        "genesis",
        "2026-03-02T09:00:00Z",
        Body::Control(Control::LedgerInit { name: "vectors".into(), public_key: pk.to_bytes() }),
        Openings::default(),
        None,
    );
    let full = json!({"incident": "INC-2026-0042", "action": "emergency_grant",
        "actor": {"id": "alice@corp.example", "kind": "human"},
        "target": {"id": "carol@corp.example", "kind": "human", "system": "aws-iam"},
        "scope": "arn:aws:iam::aws:policy/AdministratorAccess",
        "approval": {"by": "ciso@corp.example", "source": "servicenow", "ref": "CHG0031337", "at": "2026-03-02T10:04:00Z"},
        "reason": "contain leaked CI deploy key", "outcome": {"status": "success", "detail": "granted"},
        "occurred_at": "2026-03-02T10:05:00Z", "expires_at": "2026-03-02T18:05:00Z",
        "owner": "secops@corp.example", "refs": [],
        "evidence": [{"system": "cloudtrail", "id": "3038ebd2-c98a-4c65-9b6e-e22506292313"}],
        "attributes": {"playbook": "leaked-key-v3"}});
    let rec = Record::from_value(full.clone()).unwrap();
    let (ch, op) = seal(&rec, None, &mut FixedSalts(1));
    b.push("change-all-fields", "2026-03-02T10:06:00Z", Body::Change(ch), op, Some(full));
    let minimal = json!({"incident": "INC-2026-0042", "action": "revoke",
        "actor": {"id": "soar-playbook", "kind": "service"},
        "target": {"id": "carol@corp.example", "kind": "human", "system": "aws-iam"},
        "approval": {"none": "break-glass; reviewed after"},
        "reason": "end the emergency grant", "outcome": {"status": "success"}, "refs": [1]});
    let rec = Record::from_value(minimal.clone()).unwrap();
    let (ch, op) = seal(&rec, None, &mut FixedSalts(0x40));
    b.push("change-minimal-no-approval-submitter-request", "2026-03-02T11:00:00Z", Body::Change(ch), op, Some(minimal));
    let second = SecretKey::from_seed(&[0x22; 32]);
    b.push(
        "key-add",
        "2026-03-02T11:01:00Z",
        Body::Control(Control::KeyAdd { public_key: second.public().to_bytes(), label: "soar-prod".into() }),
        Openings::default(),
        None,
    );
    let e = b.push(
        "redact",
        "2026-03-02T11:02:00Z",
        Body::Control(Control::Redact {
            mode: RedactMode::Erasure,
            ranges: vec![RedactRange {
                first: 1,
                last: 1,
                mask: custody::commit::FieldMask::default().with(custody::commit::Field::Reason),
            }],
            reason: "GDPR Art. 17 request".into(),
            authority: "DPO-2026-17".into(),
            approved_by: "dpo@corp.example".into(),
            cutoff: None,
        }),
        Openings::default(),
        None,
    );
    let _ = e;
    let mut segment = SegmentHeader { ledger_id: LEDGER_ID, first_seq: 0 }.encode().to_vec();
    segment.extend_from_slice(&b.frames);
    // Entry 1 after the redaction was applied: its reason opening replaced by a marker.
    let mut redacted = Openings::decode(&hex::decode(b.out[1]["openings"].as_str().unwrap()).unwrap()).unwrap();
    redacted.0.insert(custody::commit::Field::Reason, Opening::Redacted { by: 4 });
    json!({
        "description": "custody format v1 test vectors; see docs/FORMAT.md, section Test vectors",
        "key_seed": hex::encode(SEED),
        "public_key": pk.to_text(),
        "key_id": hex::encode(pk.key_id()),
        "ledger_id": hex::encode(LEDGER_ID),
        "salts": "fixed for vectors only: entry 1 uses salts 0x01.., entry 2 0x40..; salt k is 16 bytes of value k, taken in field-code order of present fields",
        "entries": b.out,
        "entry1_openings_after_redaction": hex::encode(redacted.encode()),
        "segment_file": hex::encode(&segment),
    })
}

const MERKLE_VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/vectors/merkle.json");

/// Tree, checkpoint and proofs over the five vector entries.
fn merkle_vectors(entries: &Value) -> Value {
    use custody::merkle;
    let hashes: Vec<[u8; 32]> = entries["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| hex::decode(e["entry_hash"].as_str().unwrap()).unwrap().try_into().unwrap())
        .collect();
    let mut store = merkle::MemoryHashStore::new();
    let mut roots = Vec::new();
    for h in &hashes {
        store.append(merkle::leaf_hash(h)).unwrap();
        roots.push(hex::encode(store.root().unwrap()));
    }
    let key = SecretKey::from_seed(&SEED);
    let origin = custody::checkpoint::origin(&LEDGER_ID);
    let cp = custody::note::Checkpoint::new(origin.clone(), 5, store.root().unwrap(), Vec::new()).unwrap();
    let signer = custody::note::NoteSigner::new(&origin, key.signing_key().clone()).unwrap();
    let note = signer.sign(&cp.encode()).unwrap();
    let witness = SecretKey::from_seed(&[0x33; 32]);
    let cosigner = custody::note::Cosigner::new("vector-witness", witness.signing_key().clone()).unwrap();
    let cosig = cosigner.cosign(&cp.encode(), 1_772_445_600).unwrap();
    let inclusion = merkle::prove_inclusion(2, 5, &store).unwrap();
    let consistency = merkle::prove_consistency(3, 5, &store).unwrap();
    json!({
        "description": "RFC 6962 tree over the entry hashes of docs/vectors/entries.json, and a checkpoint of it",
        "leaf_hashes": hashes.iter().map(|h| hex::encode(merkle::leaf_hash(h))).collect::<Vec<_>>(),
        "roots_by_size": roots,
        "origin": origin,
        "checkpoint_body": cp.encode(),
        "checkpoint_note": note,
        "ledger_vkey": signer.verifier().to_vkey(),
        "witness_seed": hex::encode([0x33; 32]),
        "witness_vkey": cosigner.verifier().to_vkey(),
        "cosignature_line": cosig,
        "inclusion": {"index": 2, "tree_size": 5, "hashes": inclusion.iter().map(hex::encode).collect::<Vec<_>>()},
        "consistency": {"old_size": 3, "new_size": 5, "hashes": consistency.iter().map(hex::encode).collect::<Vec<_>>()},
    })
}

#[test]
fn merkle_vectors_match_the_code() {
    let entries: Value = serde_json::from_str(&std::fs::read_to_string(VECTORS).unwrap()).unwrap();
    let built = merkle_vectors(&entries);
    if std::env::var("CUSTODY_WRITE_VECTORS").is_ok() {
        std::fs::write(MERKLE_VECTORS, serde_json::to_string_pretty(&built).unwrap() + "\n").unwrap();
    }
    let committed: Value = serde_json::from_str(&std::fs::read_to_string(MERKLE_VECTORS).unwrap()).unwrap();
    assert_eq!(committed, built);
    // and they verify as an independent checker would
    let root: [u8; 32] = hex::decode(committed["roots_by_size"][4].as_str().unwrap()).unwrap().try_into().unwrap();
    let leaf: [u8; 32] = hex::decode(committed["leaf_hashes"][2].as_str().unwrap()).unwrap().try_into().unwrap();
    let path: Vec<[u8; 32]> = committed["inclusion"]["hashes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| hex::decode(h.as_str().unwrap()).unwrap().try_into().unwrap())
        .collect();
    custody::merkle::verify_inclusion(&leaf, 2, 5, &path, &root).unwrap();
    let v = custody::note::NoteVerifier::from_vkey(committed["ledger_vkey"].as_str().unwrap()).unwrap();
    custody::note::SignedNote::parse(committed["checkpoint_note"].as_str().unwrap()).unwrap().verify(&[v]).unwrap();
}

#[test]
fn vectors_match_the_code() {
    let built = build();
    if std::env::var("CUSTODY_WRITE_VECTORS").is_ok() {
        std::fs::create_dir_all(std::path::Path::new(VECTORS).parent().unwrap()).unwrap();
        std::fs::write(VECTORS, serde_json::to_string_pretty(&built).unwrap() + "\n").unwrap();
    }
    let committed: Value =
        serde_json::from_str(&std::fs::read_to_string(VECTORS).expect("docs/vectors/entries.json")).unwrap();
    assert_eq!(
        committed, built,
        "the code no longer produces the committed vectors: a change to signed bytes needs a new format version"
    );
}

/// An independent check of the committed bytes: decode, re-hash, verify signatures and commitments
/// from the file alone, as another implementation would.
#[test]
fn vectors_verify_from_the_file_alone() {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(VECTORS).unwrap()).unwrap();
    let pk = PublicKey::parse(v["public_key"].as_str().unwrap()).unwrap();
    let mut prev = [0u8; 32];
    for e in v["entries"].as_array().unwrap() {
        let signed = hex::decode(e["signed_bytes"].as_str().unwrap()).unwrap();
        let sig: [u8; 64] = hex::decode(e["signature"].as_str().unwrap()).unwrap().try_into().unwrap();
        let openings = hex::decode(e["openings"].as_str().unwrap()).unwrap();
        let entry = Entry::decode(&signed, sig, &openings).unwrap();
        assert_eq!(hex::encode(entry.hash), e["entry_hash"].as_str().unwrap());
        assert_eq!(entry.header().prev_hash, prev);
        assert!(pk.verify(&custody::entry::signature_message(&entry.hash), &sig));
        assert_eq!(entry.signed.encode(), signed, "re-encoding gives the same bytes");
        let (problems, _) = custody::verify::check_content(&entry, false);
        assert!(problems.is_empty(), "{problems:?}");
        if let Some(rec) = e.get("record").filter(|r| !r.is_null()) {
            let back = entry.change().unwrap().to_record(&entry.openings, None).unwrap();
            assert_eq!(back, Record::from_value(rec.clone()).unwrap());
        }
        prev = entry.hash;
    }
}
