//! Every record validation rule through `custody append`: exit 2, stderr names the field and the
//! record (and line), and nothing is appended. A batch is all-or-nothing.

use serde_json::{json, Value};

use crate::support::*;

/// Runs `custody append --json -` with `input` on stdin.
fn append_stdin(t: &TestLedger, input: &str) -> Run {
    let mut c = t.cmd(&["append"]);
    c.arg("--key").arg(&t.key_path).args(["--json", "-"]).write_stdin(input);
    run(c)
}

/// The ledger's observable state: `custody head` and the segment's length (not one byte written).
fn state(t: &TestLedger) -> (String, u64) {
    (t.head(), std::fs::metadata(t.segment()).expect("segment").len())
}

type Edit = fn(&mut Value);

/// One rule per row: the edit that breaks it, and what stderr must name.
const CASES: &[(&str, Edit, &[&str])] = &[
    // a required field is missing
    (
        "missing field",
        |v| {
            v.as_object_mut().unwrap().remove("reason");
        },
        &["`reason`", "required"],
    ),
    // a nested required field is missing
    (
        "missing nested field",
        |v| {
            v["target"].as_object_mut().unwrap().remove("system");
        },
        &["`system`", "required"],
    ),
    // a field the contract does not have
    ("unknown field", |v| v["surprise"] = json!(1), &["`surprise`", "not part of the record contract"]),
    // an action outside the closed set
    ("unknown action", |v| v["action"] = json!("nuke"), &["action", "`nuke`"]),
    // a target kind outside the closed set
    ("unknown target kind", |v| v["target"]["kind"] = json!("robot"), &["target kind", "`robot`"]),
    // an outcome status outside the closed set
    ("unknown status", |v| v["outcome"]["status"] = json!("meh"), &["outcome status", "`meh`"]),
    // over the reason limit (2048 bytes)
    ("over-long reason", |v| v["reason"] = json!("x".repeat(2049)), &["`reason`", "limit is 2048"]),
    // over the incident limit (128 bytes)
    ("over-long incident", |v| v["incident"] = json!("I".repeat(129)), &["`incident`", "limit is 128"]),
    // an empty required text
    ("empty actor", |v| v["actor"]["id"] = json!(""), &["`actor.id`", "empty"]),
    // a control character in free text
    ("newline in reason", |v| v["reason"] = json!("two\nlines"), &["`reason`", "control character"]),
    // a system name with characters outside a-z 0-9 . _ -
    ("bad system name", |v| v["target"]["system"] = json!("AWS IAM"), &["`target.system`"]),
    // an expiry before the event
    (
        "expires before occurred",
        |v| {
            v["action"] = json!("emergency_grant");
            v["expires_at"] = json!("2026-03-02T09:00:00Z");
        },
        &["`expires_at`", "after occurred_at"],
    ),
    // an expiry equal to the event
    (
        "expires at occurred",
        |v| {
            v["action"] = json!("emergency_grant");
            v["expires_at"] = v["occurred_at"].clone();
        },
        &["`expires_at`", "after occurred_at"],
    ),
    // a break-glass grant that is not time-boxed
    (
        "emergency_grant without expiry",
        |v| v["action"] = json!("emergency_grant"),
        &["`expires_at`", "emergency_grant"],
    ),
    // a ref to an entry that does not exist (the ledger has 3)
    ("ref to nonexistent entry", |v| v["refs"] = json!([1, 99]), &["`refs`", "99"]),
    // a ref to the entry itself, which gets seq 3
    ("ref to itself", |v| v["refs"] = json!([3]), &["`refs`", "3"]),
    // the same ref twice
    ("duplicate ref", |v| v["refs"] = json!([1, 1]), &["`refs`", "twice"]),
    // a PEM private key block on one line
    (
        "PEM block",
        |v| v["reason"] = json!("found -----BEGIN RSA PRIVATE KEY----- MIIEowIBAAKCAQEA -----END RSA PRIVATE KEY-----"),
        &["`reason`", "PEM"],
    ),
    // the shape of an AWS secret access key
    (
        "AWS secret key",
        |v| v["scope"] = json!("key wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY leaked"),
        &["`scope`", "AWS secret access key"],
    ),
    // a GitHub personal access token
    (
        "ghp_ token",
        |v| v["outcome"]["detail"] = json!("rotated ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789"),
        &["`outcome.detail`", "GitHub"],
    ),
    // a JSON Web Token in an attribute value
    (
        "JWT",
        |v| {
            v["attributes"]["token"] =
                json!("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n")
        },
        &["`attributes.token`", "JSON Web Token"],
    ),
    // a secret in an identifier field
    ("token as target id", |v| v["target"]["id"] = json!("ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789"), &["`target.id`"]),
    // an evidence digest that is not sha256:/blake3: + 64 hex
    ("bad digest", |v| v["evidence"] = json!([{"system": "vault", "digest": "md5:abc"}]), &["`evidence[0].digest`"]),
    // approval with neither `by`+`source` nor `none`
    ("approval without approver", |v| v["approval"] = json!({"ref": "CHG1"}), &["approval"]),
    // an unknown field inside a nested object
    (
        "unknown nested field",
        |v| v["actor"]["email"] = json!("a@corp.example"),
        &["`email`", "not part of the record contract"],
    ),
    // more refs than the limit (64)
    ("too many refs", |v| v["refs"] = json!((0..65).collect::<Vec<u64>>()), &["`refs`", "limit is 64"]),
    // an attribute key outside a-z 0-9 . _ -
    ("bad attribute key", |v| v["attributes"]["Bad Key"] = json!("x"), &["`attributes.Bad Key`"]),
];

#[test]
fn each_rule_exits_2_names_the_field_and_appends_nothing() {
    let t = TestLedger::with_records(2);
    let before = state(&t);
    let mut failures = Vec::new();
    for (i, (name, edit, needles)) in CASES.iter().enumerate() {
        let mut v = record(7);
        edit(&mut v);
        let r = append_stdin(&t, &v.to_string());
        let missing: Vec<_> = needles.iter().chain(&["record 1"]).filter(|n| !r.stderr.contains(*n)).collect();
        if r.code != 2 || !missing.is_empty() {
            failures
                .push(format!("case {i} ({name}): exit {} (want 2), stderr lacks {missing:?}:\n{}", r.code, r.stderr));
        }
        assert_eq!(state(&t), before, "case {i} ({name}) changed the ledger");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // The unedited record is valid: every failure above was the edit's doing.
    let r = append_stdin(&t, &record(7).to_string());
    assert_eq!(r.code, 0, "{}", r.stderr);
}

/// A value serde cannot read (a malformed time, a number where text belongs) is refused, but the
/// message names the field `(json)` instead of the field that holds the value: `Record::from_value`
/// goes through `serde_json::from_value`, whose errors carry no path.
#[test]

fn unreadable_value_names_the_field() {
    let t = TestLedger::with_records(2);
    let before = state(&t);
    for (field, bad) in [("occurred_at", json!("last tuesday")), ("reason", json!(42))] {
        let mut v = record(7);
        v[field] = bad;
        let r = append_stdin(&t, &v.to_string());
        assert_eq!(r.code, 2, "{}", r.stderr);
        assert_eq!(state(&t), before);
        assert!(r.stderr.contains("record 1"), "{}", r.stderr);
        assert!(r.stderr.contains(&format!("`{field}`")), "{field}: {}", r.stderr);
    }
}

#[test]
fn malformed_time_is_refused() {
    // What works today (the ignored test above asks for more): refused, with the value and record.
    let t = TestLedger::with_records(2);
    let before = state(&t);
    for (field, bad) in [("occurred_at", "last tuesday"), ("expires_at", "2026-13-45T00:00:00Z")] {
        let mut v = record(7);
        v[field] = json!(bad);
        let r = append_stdin(&t, &v.to_string());
        assert_eq!(r.code, 2, "{field}: {}", r.stderr);
        assert!(r.stderr.contains(bad) && r.stderr.contains("record 1"), "{field}: {}", r.stderr);
        assert_eq!(state(&t), before);
    }
}

fn lines(records: &[Value]) -> String {
    records.iter().map(|r| format!("{r}\n")).collect()
}

#[test]
fn batch_with_one_invalid_record_appends_none() {
    let t = TestLedger::with_records(2);
    let before = state(&t);
    let mut batch: Vec<Value> = (10..14).map(record).collect();
    batch[2]["refs"] = json!([99]); // record 3 of 4 breaks a rule that needs the ledger
    let r = append_stdin(&t, &lines(&batch));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("record 3") && r.stderr.contains("`refs`"), "{}", r.stderr);
    assert_eq!(state(&t), before);
    assert_eq!(r.stdout, "", "no receipt may be printed");
}

#[test]
fn batch_with_unknown_field_on_line_3_names_record_and_line() {
    let t = TestLedger::with_records(2);
    let before = state(&t);
    let mut batch: Vec<Value> = (10..14).map(record).collect();
    batch[2]["colour"] = json!("red");
    let r = append_stdin(&t, &lines(&batch));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("record 3 (line 3)") && r.stderr.contains("`colour`"), "{}", r.stderr);
    assert_eq!(state(&t), before);
}

#[test]
fn line_numbers_count_blank_lines_between_records() {
    let t = TestLedger::with_records(2);
    let before = state(&t);
    let mut batch: Vec<Value> = (10..13).map(record).collect();
    batch[2]["colour"] = json!("red");
    let text = format!("{}\n\n{}\n\n\n{}\n", batch[0], batch[1], batch[2]);
    let r = append_stdin(&t, &text);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("record 3 (line 6)"), "{}", r.stderr);
    assert_eq!(state(&t), before);
}

#[test]
fn a_batch_over_the_limit_is_refused_and_appends_none() {
    let t = TestLedger::with_records(2);
    let before = state(&t);
    let one = record(10).to_string();
    let text = format!("{one}\n").repeat(custody::ledger::MAX_BATCH + 1);
    let r = append_stdin(&t, &text);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains(&format!("more than {} records", custody::ledger::MAX_BATCH)), "{}", r.stderr);
    assert!(r.stderr.contains("--each"), "{}", r.stderr);
    assert_eq!(state(&t), before);
    assert_eq!(r.stdout, "", "no receipt may be printed");
}

#[test]
fn malformed_json_line_n_names_line_n_and_appends_none() {
    let t = TestLedger::with_records(2);
    let before = state(&t);
    let good = lines(&(10..14).map(record).collect::<Vec<_>>());
    let mut ls: Vec<&str> = good.lines().collect();
    let broken = "{\"incident\": \"INC-9\", \"action\": }";
    ls[3] = broken; // line 4 of 4 is not JSON
    let input = ls.join("\n") + "\n";
    let r = append_stdin(&t, &input);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("record 4") && r.stderr.contains("line 4") && r.stderr.contains("not valid JSON"),
        "{}",
        r.stderr
    );
    assert_eq!(state(&t), before);
    // The same batch with line 4 repaired goes in whole: four receipts, one per record.
    let r = append_stdin(&t, &good);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout.lines().count(), 4, "{}", r.stdout);
}

#[test]
fn bad_input_from_a_file_and_from_flags() {
    let t = TestLedger::with_records(2);
    let before = state(&t);
    // --json FILE: the file is named along with the record.
    let path = t.tmp.path().join("records.jsonl");
    let mut v = record(7);
    v["surprise"] = json!(true);
    std::fs::write(&path, lines(&[record(8), v])).expect("write records");
    let mut c = t.cmd(&["append"]);
    c.arg("--key").arg(&t.key_path).arg("--json").arg(&path);
    let r = run(c);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("records.jsonl") && r.stderr.contains("record 2") && r.stderr.contains("`surprise`"),
        "{}",
        r.stderr
    );
    // Flags go through the same contract.
    let mut c = t.cmd(&["append"]);
    c.arg("--key").arg(&t.key_path).args([
        "--incident",
        "INC-1",
        "--action",
        "nuke",
        "--actor",
        "a@corp.example",
        "--target",
        "b@corp.example",
        "--target-kind",
        "human",
        "--system",
        "okta",
        "--no-approval",
        "n/a",
        "--reason",
        "test",
    ]);
    let r = run(c);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("action") && r.stderr.contains("`nuke`"), "{}", r.stderr);
    assert_eq!(state(&t), before);
}
