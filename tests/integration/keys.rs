//! Signer keys: `custody key add|retire|list`, appends by added and retired keys, entries forged
//! after a retirement, and pinning the genesis key with `verify --trust`.

use serde_json::Value;

use custody::sign::SecretKey;

use crate::support::*;

/// `custody keygen --json` into the ledger's temp dir: (path, key ID, public key text).
fn keygen(t: &TestLedger, name: &str) -> (std::path::PathBuf, String, String) {
    let path = t.tmp.path().join(name);
    let mut c = custody();
    c.args(["keygen", "--json", "--out"]).arg(&path);
    let r = run(c);
    assert_eq!(r.code, 0, "{r:?}");
    let v: Value = serde_json::from_str(r.stdout.trim()).expect("keygen json");
    (path, v["key_id"].as_str().unwrap().to_string(), v["public_key"].as_str().unwrap().to_string())
}

fn append_with(t: &TestLedger, key: &std::path::Path, i: usize) -> Run {
    let mut c = t.cmd(&["append"]);
    c.arg("--key").arg(key).args(["--json", "-"]).write_stdin(record(i).to_string());
    run(c)
}

fn key_list(t: &TestLedger) -> Vec<Value> {
    let r = run(t.cmd(&["key", "list", "--json"]));
    assert_eq!(r.code, 0, "{r:?}");
    r.stdout.lines().map(|l| serde_json::from_str(l).expect("key json")).collect()
}

#[test]
fn added_key_signs_until_retired_then_is_refused_and_forgeries_fail() {
    let t = TestLedger::with_records(1);
    let (k2, id2, _) = keygen(&t, "second.key");

    // Not yet authorised: refused, naming the key.
    let head = t.head();
    let r = append_with(&t, &k2, 1);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains(&id2), "{}", r.stderr);
    assert_eq!(t.head(), head);

    // Authorise it (a signed entry by the genesis key), then it signs.
    let mut c = t.cmd(&["key", "add"]);
    c.arg("--key").arg(&t.key_path).arg("--public").arg(&k2).args(["--label", "soar-prod"]);
    let r = run(c);
    assert_eq!(r.code, 0, "{r:?}");
    let r = append_with(&t, &k2, 2);
    assert_eq!(r.code, 0, "{r:?}");
    let keys = key_list(&t);
    let second = keys.iter().find(|k| k["key_id"] == id2.as_str()).expect("listed");
    assert_eq!(second["label"], "soar-prod");
    assert!(second["retired_at"].is_null(), "{second}");

    // Retire it: listed as retired, and an append with it is refused naming the key.
    let mut c = t.cmd(&["key", "retire"]);
    c.arg("--key").arg(&t.key_path).args(["--key-id", &id2, "--reason", "rotated after the incident"]);
    let r = run(c);
    assert_eq!(r.code, 0, "{r:?}");
    let retired_at = serde_json::from_str::<Value>(r.stdout.trim()).expect("receipt")["seq"].as_u64().unwrap();
    let second = key_list(&t).into_iter().find(|k| k["key_id"] == id2.as_str()).expect("listed");
    assert_eq!(second["retired_at"], retired_at);
    let head = t.head();
    let r = append_with(&t, &k2, 3);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains(&id2), "the error names the key: {}", r.stderr);
    assert_eq!(t.head(), head, "nothing appended");
    let (code, report) = t.verify(&[]);
    assert_intact(code, &report);

    // An entry signed by the retired key after its retirement, written straight into the log.
    let key2 = SecretKey::load(&k2).expect("load key");
    let (seq, frame) = forge_next(&t, &key2, "INC-AFTER-RETIREMENT");
    append_bytes(&t.segment(), &frame);
    let (code, report) = t.verify(&[]);
    let f = assert_finding(code, &report, "key", seq);
    let msg = f["message"].as_str().unwrap();
    assert!(msg.contains(&id2) && msg.contains(&format!("retired at entry {retired_at}")), "{f:#}");
}

#[test]
fn the_last_active_key_cannot_be_retired() {
    let t = TestLedger::new();
    let id = hex::encode(t.key().public().key_id());
    let head = t.head();
    let mut c = t.cmd(&["key", "retire"]);
    c.arg("--key").arg(&t.key_path).args(["--key-id", &id, "--reason", "oops"]);
    let r = run(c);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("last active key"), "{}", r.stderr);
    assert_eq!(t.head(), head);
}

#[test]
fn trust_pins_the_genesis_key() {
    let t = TestLedger::with_records(2);
    let genesis = t.key().public().to_text();
    // The right key, as text and as the key file: pinned.
    for trust in [genesis.clone(), t.key_path.display().to_string()] {
        let (code, report) = t.verify(&["--trust", &trust]);
        assert_intact(code, &report);
        assert_eq!(report["trust"], "pinned", "{report:#}");
    }
    // Another key: exit 1, a `trust` finding on the genesis entry naming both keys.
    let other = SecretKey::generate().public().to_text();
    let (code, report) = t.verify(&["--trust", &other]);
    let f = assert_finding(code, &report, "trust", 0);
    let msg = f["message"].as_str().unwrap();
    assert!(msg.contains(&genesis) && msg.contains(&other), "{f:#}");
    // A ledger re-made from scratch under another key (same records, valid chain) fails the same way.
    let forged = TestLedger::with_records(2);
    let (code, report) = forged.verify(&["--trust", &genesis]);
    assert_finding(code, &report, "trust", 0);
}
