//! Evidence bundles (issue 5 and the withheld fields of issue 10): a bundle verifies offline with
//! only the file and the public key, and every edit, omission or reordering inside it is found.

use std::collections::BTreeMap;
use std::io::Read;

use custody::bundle::{self, Manifest};
use custody::checkpoint;
use custody::commit::Field;
use custody::ledger::{Filter, Ledger};
use custody::record::Record;
use custody::sign::SecretKey;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const INCIDENT: &str = "INC-2026-0042";

fn rec(action: &str, target: &str, refs: &[u64], extra: Value) -> Record {
    let mut v = json!({"incident": INCIDENT, "action": action,
        "actor": {"id": "alice@corp.example", "kind": "human"},
        "target": {"id": target, "kind": "service_account", "system": "aws-iam"},
        "approval": {"by": "ciso@corp.example", "source": "servicenow", "ref": "CHG0031337"},
        "reason": format!("{action} during the leaked-key response"), "outcome": {"status": "success"},
        "refs": refs});
    if let (Value::Object(m), Value::Object(e)) = (&mut v, extra) {
        m.extend(e);
    }
    Record::from_value(v).unwrap()
}

/// A ledger with the incident interleaved with another incident's entries, closed or not.
fn ledger(closed: bool) -> (tempfile::TempDir, Ledger, SecretKey) {
    let d = tempfile::tempdir().unwrap();
    let key = SecretKey::generate();
    let (l, _) = Ledger::init(&d.path().join("l"), &key, "bundle-test").unwrap();
    let other = |i: u64| {
        let mut r = rec("grant", &format!("svc-{i}"), &[], json!({}));
        r.incident = "INC-OTHER".into();
        r
    };
    l.append(&key, rec("incident_open", "ci-deploy", &[], json!({})), None).unwrap();
    l.append(&key, other(1), None).unwrap();
    l.append(&key, rec("disable", "ci-deploy", &[1], json!({"owner": "platform@corp.example"})), None).unwrap();
    l.append(&key, other(2), None).unwrap();
    l.append(&key, rec("rotate", "ci-deploy", &[1], json!({})), None).unwrap();
    if closed {
        l.append(&key, rec("incident_close", "ci-deploy", &[], json!({})), None).unwrap();
    }
    (d, l, key)
}

fn build(l: &Ledger, key: &SecretKey, withhold: &[Field]) -> Vec<u8> {
    let note = checkpoint::issue(l, key).unwrap().note;
    let mut out = Vec::new();
    bundle::build(l, INCIDENT, &note, withhold, &mut out).unwrap();
    out
}

fn files(bytes: &[u8]) -> BTreeMap<String, Vec<u8>> {
    let mut ar = tar::Archive::new(bytes);
    let mut m = BTreeMap::new();
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().to_string_lossy().into_owned();
        let mut d = Vec::new();
        e.read_to_end(&mut d).unwrap();
        m.insert(name, d);
    }
    m
}

/// Re-packs files, recomputing the manifest digests (the careful attacker).
fn pack(mut f: BTreeMap<String, Vec<u8>>, fix_digests: bool) -> Vec<u8> {
    if fix_digests {
        let mut man: Manifest = serde_json::from_slice(&f["manifest.json"]).unwrap();
        for (name, data) in &f {
            if name != "manifest.json" {
                man.files.insert(name.clone(), hex::encode(Sha256::digest(data)));
            }
        }
        f.insert("manifest.json".into(), serde_json::to_vec(&man).unwrap());
    }
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in &f {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, data.as_slice()).unwrap();
    }
    b.into_inner().unwrap()
}

fn edit_lines(f: &mut BTreeMap<String, Vec<u8>>, file: &str, edit: impl FnOnce(&mut Vec<String>)) {
    let mut lines: Vec<String> = String::from_utf8(f[file].clone()).unwrap().lines().map(str::to_owned).collect();
    edit(&mut lines);
    f.insert(file.into(), (lines.join("\n") + "\n").into_bytes());
}

fn verdict(bytes: &[u8], key: &SecretKey) -> (bool, String) {
    match bundle::verify(bytes, Some(&key.public()), &[], 0) {
        Ok(r) => (r.valid, format!("{:?} {:?}", r.problems, r.not_proven)),
        Err(e) => (false, e.to_string()),
    }
}

#[test]
fn a_closed_incident_bundle_proves_completeness_offline() {
    let (_d, l, key) = ledger(true);
    let bytes = build(&l, &key, &[]);
    drop(l); // nothing but the file and the key from here on
    let r = bundle::verify(&bytes, Some(&key.public()), &[], 0).unwrap();
    assert!(r.valid, "{:?}", r.problems);
    assert_eq!(r.entries, 4);
    assert!(r.proven.iter().any(|p| p.contains("gap-free")), "{:?}", r.proven);
    assert!(r.proven.iter().any(|p| p.contains("closed")), "{:?}", r.proven);
    assert_eq!(r.trust, "pinned");
    // a different trusted key is refused
    assert!(!bundle::verify(&bytes, Some(&SecretKey::generate().public()), &[], 0).unwrap().valid);
}

#[test]
fn an_open_incident_bundle_says_it_is_incomplete() {
    let (_d, l, key) = ledger(false);
    let r = bundle::verify(&build(&l, &key, &[]), Some(&key.public()), &[], 0).unwrap();
    assert!(r.valid, "{:?}", r.problems);
    assert!(r.not_proven.iter().any(|p| p.contains("no incident_close")), "{:?}", r.not_proven);
}

#[test]
fn every_edit_omission_or_reordering_is_found() {
    let (_d, l, key) = ledger(true);
    let good = files(&build(&l, &key, &[]));
    type Attack = Box<dyn Fn(&mut BTreeMap<String, Vec<u8>>)>;
    let attacks: Vec<(&str, Attack)> = vec![
        (
            "omit the middle entry",
            Box::new(|f| {
                edit_lines(f, "entries.jsonl", |l| {
                    l.remove(1);
                })
            }),
        ),
        ("reorder two entries", Box::new(|f| edit_lines(f, "entries.jsonl", |l| l.swap(0, 2)))),
        (
            "edit a signed byte",
            Box::new(|f| {
                edit_lines(f, "entries.jsonl", |l| {
                    let mut v: Value = serde_json::from_str(&l[1]).unwrap();
                    let s = v["signed_bytes"].as_str().unwrap().to_string();
                    let last = if s.ends_with('0') { "1" } else { "0" };
                    v["signed_bytes"] = json!(format!("{}{last}", &s[..s.len() - 1]));
                    l[1] = v.to_string();
                })
            }),
        ),
        (
            "edit an opening value",
            Box::new(|f| {
                edit_lines(f, "entries.jsonl", |l| {
                    let mut v: Value = serde_json::from_str(&l[0]).unwrap();
                    let s = v["openings"].as_str().unwrap().to_string();
                    let last = if s.ends_with('0') { "1" } else { "0" };
                    v["openings"] = json!(format!("{}{last}", &s[..s.len() - 1]));
                    l[0] = v.to_string();
                })
            }),
        ),
        (
            "drop a proof hash",
            Box::new(|f| {
                edit_lines(f, "entries.jsonl", |l| {
                    let mut v: Value = serde_json::from_str(&l[0]).unwrap();
                    v["proof"].as_array_mut().unwrap().pop();
                    l[0] = v.to_string();
                })
            }),
        ),
        (
            "swap proofs of two entries",
            Box::new(|f| {
                edit_lines(f, "entries.jsonl", |l| {
                    let mut a: Value = serde_json::from_str(&l[0]).unwrap();
                    let mut b: Value = serde_json::from_str(&l[1]).unwrap();
                    std::mem::swap(&mut a["proof"], &mut b["proof"]);
                    l[0] = a.to_string();
                    l[1] = b.to_string();
                })
            }),
        ),
        (
            "remove the genesis key entry",
            Box::new(|f| {
                edit_lines(f, "control.jsonl", |l| {
                    l.remove(0);
                })
            }),
        ),
        (
            "edit a manifest line",
            Box::new(|f| {
                let mut m: Manifest = serde_json::from_slice(&f["manifest.json"]).unwrap();
                m.ledger_name = "another-ledger".into();
                f.insert("manifest.json".into(), serde_json::to_vec(&m).unwrap());
            }),
        ),
        (
            "edit the checkpoint",
            Box::new(|f| {
                let s = String::from_utf8(f["checkpoint.txt"].clone()).unwrap().replacen('\n', "\n1", 1);
                f.insert("checkpoint.txt".into(), s.into_bytes());
            }),
        ),
        (
            "add a file",
            Box::new(|f| {
                f.insert("extra.txt".into(), b"x".to_vec());
            }),
        ),
    ];
    for (what, attack) in &attacks {
        for fix in [false, true] {
            let mut f = good.clone();
            attack(&mut f);
            let (valid, why) = verdict(&pack(f, fix), &key);
            assert!(!valid, "not detected: {what} (digests recomputed: {fix}): {why}");
        }
    }
    assert!(verdict(&pack(good, true), &key).0, "the repacked original still verifies");
}

#[test]
fn withheld_fields_leave_the_bundle_and_it_still_verifies() {
    let (_d, l, key) = ledger(true);
    let bytes = build(&l, &key, &[Field::ActorId, Field::Owner, Field::Reason]);
    let text = String::from_utf8_lossy(&bytes);
    for secret in ["alice@corp.example", "platform@corp.example", "during the leaked-key response"] {
        assert!(!text.contains(secret), "withheld value {secret} is in the bundle");
        assert!(!text.contains(&hex::encode(secret)), "withheld value {secret} is in the bundle (hex)");
    }
    let r = bundle::verify(&bytes, Some(&key.public()), &[], 0).unwrap();
    assert!(r.valid, "{:?}", r.problems);
    assert_eq!(r.withheld, vec!["actor.id", "owner", "reason"]);
    assert_eq!(l.select(&Filter { incident: Some(INCIDENT.into()), ..Default::default() }).unwrap().len(), 4);
}

#[test]
fn garbage_and_truncations_get_a_clear_error_never_a_panic() {
    let (_d, l, key) = ledger(true);
    let bytes = build(&l, &key, &[]);
    let mut state = 0x2545F4914F6CDD1Du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for i in 0..400 {
        let mut b = bytes.clone();
        match i % 3 {
            0 => b.truncate((next() % bytes.len() as u64) as usize),
            1 => {
                let p = (next() % b.len() as u64) as usize;
                b[p] ^= 1 << (next() % 8);
            }
            _ => b = (0..(next() % 4096)).map(|_| next() as u8).collect(),
        }
        // Ok(report) or Err: either way, no panic; a damaged content byte is never accepted
        let _ = bundle::verify(&b, Some(&key.public()), &[], 0);
    }
    assert!(bundle::verify(b"not a tar", None, &[], 0).is_err());
}
