//! `custody demo`: the ledger it leaves behind verifies with the demo key pinned.

use custody::sign::SecretKey;

use crate::support::*;

#[test]
fn demo_ledger_verifies_with_its_key_pinned() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let d = tmp.path().join("demo");
    let mut c = custody();
    c.args(["demo", "--dir"]).arg(&d);
    let r = run(c);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("verify: INTACT (11 entries"), "{}", r.stdout);
    let public = SecretKey::load(&d.join("responder.key")).expect("demo key").public().to_text();
    let mut c = custody();
    c.args(["verify", "--json", "--ledger"]).arg(d.join("ledger")).args(["--trust", &public]);
    let r = run(c);
    assert_eq!(r.code, 0, "{r:?}");
    let report: serde_json::Value = serde_json::from_str(r.stdout.trim()).expect("report");
    assert_eq!(report["intact"], true, "{report:#}");
    assert_eq!(report["trust"], "pinned", "{report:#}");
    assert_eq!(report["entries"], 11);
    assert_eq!(report["ledger_name"], "acme-identity-incidents");
    // The timeline it printed is the incident's ten records, in order.
    let incident = custody_log(&d.join("ledger"), &["--incident", "INC-2026-0042"]);
    assert_eq!(incident, (1..=10).collect::<Vec<u64>>());
}

fn custody_log(ledger: &std::path::Path, filter: &[&str]) -> Vec<u64> {
    let mut c = custody();
    c.args(["log", "--json", "--ledger"]).arg(ledger).args(filter);
    let r = run(c);
    assert_eq!(r.code, 0, "{r:?}");
    r.stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json")["seq"].as_u64().unwrap())
        .collect()
}
