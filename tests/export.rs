//! `custody export` (issue 5, the timeline exporter): every format on the demo incident, CSV
//! quoting and formula neutralisation, HTML escaping, redacted fields in every format, a ledger
//! that does not verify, and the HTML report rendered by headless Chromium.
//!
//! Ledgers come from `custody demo --dir` (the leaked-CI-key incident) or from the shared test
//! helpers of `tests/integration/support.rs`; exports run through the CLI unless a test needs
//! records the CLI would not make.

#[allow(dead_code)]
#[path = "integration/support.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};

use custody::export::{csv::COLUMNS, export, Context, Format, Verification};
use custody::ledger::Filter;
use custody::record::Record;

use support::{custody, find_in, fix_crc, parts, run, Run, TestLedger};

const INCIDENT: &str = "INC-2026-0042";

/// A demo ledger (`custody demo --dir`): genesis + the 10 entries of the incident.
struct Demo {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    key: PathBuf,
}

fn demo() -> Demo {
    let tmp = tempfile::tempdir().expect("tempdir");
    let r = run({
        let mut c = custody();
        c.arg("demo").arg("--dir").arg(tmp.path());
        c
    });
    assert_eq!(r.code, 0, "custody demo failed:\n{}\n{}", r.stdout, r.stderr);
    Demo { dir: tmp.path().join("ledger"), key: tmp.path().join("responder.key"), _tmp: tmp }
}

/// `custody export --ledger DIR --format F EXTRA...`.
fn export_cli(dir: &Path, format: &str, extra: &[&str]) -> Run {
    let mut c = custody();
    c.arg("export").arg("--ledger").arg(dir).args(["--format", format]).args(extra);
    run(c)
}

fn export_ok(dir: &Path, format: &str, extra: &[&str]) -> String {
    let r = export_cli(dir, format, extra);
    assert_eq!(r.code, 0, "export --format {format} failed:\n{}", r.stderr);
    r.stdout
}

fn json_lines(s: &str) -> Vec<Value> {
    s.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"))).collect()
}

/// A strict RFC 4180 reader: records end in CRLF, quoted fields may hold `,`, `"` (doubled), CR and
/// LF. Panics on anything else, so that a malformed export fails the test.
fn parse_csv(s: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut chars = s.chars().peekable();
    let mut quoted = false;
    let mut at_start = true;
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => {
                    quoted = false;
                    assert!(matches!(chars.peek(), Some(',') | Some('\r') | None), "text after a closing quote");
                }
                c => field.push(c),
            }
            continue;
        }
        match c {
            '"' if at_start => {
                quoted = true;
                at_start = false;
            }
            '"' => panic!("a quote inside an unquoted field: {field:?}"),
            ',' => {
                row.push(std::mem::take(&mut field));
                at_start = true;
            }
            '\r' => {
                assert_eq!(chars.next(), Some('\n'), "CR without LF ends a record");
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
                at_start = true;
            }
            '\n' => panic!("bare LF outside quotes (records end in CRLF)"),
            c => {
                field.push(c);
                at_start = false;
            }
        }
    }
    assert!(!quoted, "unterminated quoted field");
    assert!(row.is_empty() && field.is_empty(), "the last record does not end in CRLF");
    rows
}

fn col(name: &str) -> usize {
    COLUMNS.iter().position(|c| *c == name).unwrap_or_else(|| panic!("no CSV column {name}"))
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[test]
fn jsonl_has_full_entries_with_seq_hash_and_signature() {
    let d = demo();
    let lines = json_lines(&export_ok(&d.dir, "jsonl", &["--incident", INCIDENT]));
    assert_eq!(lines.len(), 10);
    for (i, v) in lines.iter().enumerate() {
        assert_eq!(v["seq"], json!(i + 1), "{v}");
        assert!(is_hex(v["entry_hash"].as_str().unwrap(), 64), "{v}");
        assert!(is_hex(v["signature"].as_str().unwrap(), 128), "{v}");
        assert_eq!(v["record"]["incident"], INCIDENT);
        // The signed bytes travel along: their hash is the entry hash.
        let bytes = hex::decode(v["signed_bytes"].as_str().unwrap()).unwrap();
        assert_eq!(hex::encode(custody::entry::entry_hash(&bytes)), v["entry_hash"].as_str().unwrap());
    }
    assert_eq!(lines[2]["record"]["action"], "emergency_grant");
    assert_eq!(lines[2]["record"]["expires_at"], "2026-03-02T14:05:00Z");
}

#[test]
fn csv_has_the_documented_columns_one_row_per_entry() {
    let d = demo();
    let out = export_ok(&d.dir, "csv", &["--incident", INCIDENT]);
    let rows = parse_csv(&out);
    assert_eq!(rows[0], COLUMNS.iter().map(|c| c.to_string()).collect::<Vec<_>>());
    assert_eq!(rows.len(), 11, "header + 10 entries");
    for r in &rows[1..] {
        assert_eq!(r.len(), COLUMNS.len());
        assert_eq!(r[col("incident")], INCIDENT);
        assert!(r[col("event_time")].ends_with('Z') && r[col("ledger_time")].ends_with('Z'), "{r:?}");
        assert!(is_hex(&r[col("entry_hash")], 64));
    }
    let grant = &rows[3];
    assert_eq!(grant[col("action")], "emergency_grant");
    assert_eq!(grant[col("event_time")], "2026-03-02T10:05:00Z");
    assert_eq!(grant[col("expires_at")], "2026-03-02T14:05:00Z");
    assert_eq!(grant[col("approval_ref")], "CHG0031337");
    assert_eq!(rows[2][col("approval")], "none");
    assert!(!rows[2][col("no_approval_note")].is_empty());
}

#[test]
fn ocsf_events_carry_class_category_activity_time_and_product() {
    let d = demo();
    let events = json_lines(&export_ok(&d.dir, "ocsf", &["--incident", INCIDENT]));
    assert_eq!(events.len(), 10);
    for e in &events {
        for k in ["class_uid", "category_uid", "activity_id", "time", "type_uid", "severity_id"] {
            assert!(e[k].is_u64(), "{k} missing in {e}");
        }
        assert_eq!(
            e["type_uid"].as_u64().unwrap(),
            e["class_uid"].as_u64().unwrap() * 100 + e["activity_id"].as_u64().unwrap()
        );
        assert_eq!(e["metadata"]["product"]["name"], "custody");
        assert_eq!(e["metadata"]["version"], "1.3.0");
        assert_eq!(e["metadata"]["correlation_uid"], INCIDENT);
        assert!(e["actor"]["user"]["uid"].is_string(), "{e}");
        assert_eq!(e["unmapped"]["custody"]["seq"], e["metadata"]["sequence"]);
    }
    let by_action = |a: &str| events.iter().find(|e| e["metadata"]["event_code"] == a).unwrap_or_else(|| panic!("{a}"));
    let class = |a: &str| (by_action(a)["class_uid"].as_u64().unwrap(), by_action(a)["activity_id"].as_u64().unwrap());
    assert_eq!(class("incident_open"), (2005, 1));
    assert_eq!(class("disable"), (3004, 3), "disabling an api_key is an entity update");
    assert_eq!(class("emergency_grant"), (3005, 1));
    assert_eq!(class("session_revoke"), (3002, 2));
    assert_eq!(class("rotate"), (3001, 3));
    assert_eq!(class("delete"), (3004, 4));
    assert_eq!(class("revoke"), (3005, 2));
    assert_eq!(class("recertify"), (3005, 99));
    assert_eq!(by_action("recertify")["activity_name"], "Recertify");
    assert_eq!(class("incident_close"), (2005, 3));
    // 2026-03-02T10:05:00Z in milliseconds.
    assert_eq!(by_action("emergency_grant")["time"], 1_772_445_900_000u64);
    assert_eq!(by_action("emergency_grant")["user"]["uid"], "bob@corp.example");
    assert_eq!(by_action("emergency_grant")["privileges"], json!(["arn:aws:iam::aws:policy/AdministratorAccess"]));
    for e in events.iter().filter(|e| e["category_uid"] == 3) {
        assert!(e["user"].is_object() || e["entity"].is_object(), "IAM event without a primary object: {e}");
    }
}

#[test]
fn timesketch_lines_have_message_datetime_and_timestamp_desc() {
    let d = demo();
    let lines = json_lines(&export_ok(&d.dir, "timesketch", &["--incident", INCIDENT]));
    assert_eq!(lines.len(), 11, "10 entries + the emergency grant's expiry");
    for l in &lines {
        assert!(!l["message"].as_str().unwrap().is_empty(), "{l}");
        assert!(l["datetime"].as_str().unwrap().ends_with('Z'), "{l}");
        assert!(l["timestamp_desc"].is_string() && l["timestamp"].is_i64(), "{l}");
        assert_eq!(l["incident"], INCIDENT);
    }
    let expiry = lines.iter().find(|l| l["timestamp_desc"] == "Access Expires").expect("expiry event");
    assert_eq!(expiry["datetime"], "2026-03-02T14:05:00Z");
    assert_eq!(expiry["seq"], 3);
}

#[test]
fn html_report_has_summary_timeline_and_verification() {
    let d = demo();
    let html = export_ok(&d.dir, "html", &["--incident", INCIDENT, "--checkpoint-key", d.key.to_str().unwrap()]);
    assert!(html.starts_with("<!DOCTYPE html>"));
    for needle in [
        INCIDENT,
        "Ledger verified: intact",
        "issued for this export",
        "Emergency grants",
        "Identities touched",
        "Changes made without approval",
        "bob@corp.example",
        "@media print",
    ] {
        assert!(html.contains(needle), "the report lacks {needle:?}");
    }
    // The break-glass grant (entry 3) was ended by the revoke (entry 7), and the incident is closed.
    assert!(html.contains("by <a href=\"#e7\">#7</a> revoke"), "grant end not shown");
    assert!(html.contains("None: every emergency grant was ended"), "open items expected to be empty");
    // Self-contained: no scripts, no external resources.
    for bad in ["<script", "src=", "http://", "https://", "@import", "url("] {
        assert!(!html.contains(bad), "the report contains {bad:?}");
    }
}

#[test]
fn html_lists_open_items() {
    // Only the first three demo entries: the grant has no revoke and the incident is not closed.
    let d = demo();
    let html = export_ok(&d.dir, "html", &["--incident", INCIDENT, "--until", "2026-03-02T10:06:00Z"]);
    assert!(
        html.contains("Emergency grant <a href=\"#e3\">#3</a> to bob@corp.example expired at 2026-03-02T14:05:00Z"),
        "{html}"
    );
    assert!(html.contains("Incident INC-2026-0042 is not closed"));
}

/// A ledger holding one record of the shared helper shape with some fields replaced.
fn ledger_with(edit: impl FnOnce(&mut Value)) -> TestLedger {
    let t = TestLedger::new();
    let mut v = support::record(1);
    edit(&mut v);
    let l = t.open();
    l.append(&t.key(), Record::from_value(v).expect("valid record"), None).expect("append");
    t
}

fn export_lib(t: &TestLedger, format: Format) -> String {
    let l = t.open();
    let filter = Filter::default();
    let mut ctx = Context::new(&l, &filter);
    ctx.verification = Some(Verification::check(&l, None, None).expect("verify"));
    assert!(ctx.verification.as_ref().unwrap().intact);
    let mut out = Vec::new();
    export(&l, &filter, format, &ctx, &mut out).expect("export");
    String::from_utf8(out).expect("UTF-8")
}

#[test]
fn csv_neutralises_formulas_and_quotes_per_rfc_4180() {
    let reason = r#"=HYPERLINK("http://evil.example/?q=1","click"), then "more""#;
    let t = ledger_with(|v| {
        v["reason"] = json!(reason);
        v["scope"] = json!("@SUM(A1:A9)");
        v["actor"]["id"] = json!("+1-555-0100");
        v["outcome"]["detail"] = json!("-2+3, \"quoted\"");
        v["attributes"] = json!({"note": "a,b \"c\""});
    });
    let out = export_lib(&t, Format::Csv);
    // The raw bytes: the formula cell is neutralised with `'`, then quoted with doubled quotes.
    assert!(out.contains(r#""'=HYPERLINK(""http://evil.example/?q=1"",""click""), then ""more""""#), "{out}");
    let rows = parse_csv(&out);
    assert_eq!(rows.len(), 3, "header, genesis, the record");
    let r = &rows[2];
    assert_eq!(r[col("reason")], format!("'{reason}"));
    assert_eq!(r[col("scope")], "'@SUM(A1:A9)");
    assert_eq!(r[col("actor_id")], "'+1-555-0100");
    assert_eq!(r[col("detail")], "'-2+3, \"quoted\"");
    assert_eq!(r[col("attributes")], "note=a,b \"c\"");
    // No cell of the file starts with a formula character.
    for row in &rows {
        for c in row {
            assert!(!c.starts_with(['=', '+', '-', '@', '\t', '\r']), "unneutralised cell {c:?}");
        }
    }
}

#[test]
fn html_escapes_everything_taken_from_records() {
    let t = ledger_with(|v| {
        v["reason"] = json!("<script>alert(1)</script>");
        v["target"]["id"] = json!("\"><script>alert(2)</script>");
        v["scope"] = json!("<img src=x onerror=alert(3)>");
        v["attributes"] = json!({"x": "</td></tr><script>alert(4)</script>"});
        v["approval"]["ref"] = json!("' onmouseover='alert(5)");
    });
    let html = export_lib(&t, Format::Html);
    assert!(!html.contains("<script"), "a <script> from record data reached the report");
    assert!(!html.contains("<img"), "an <img> from record data reached the report");
    assert!(!html.contains("' onmouseover='"), "an attribute breakout reached the report");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(html.contains("&quot;&gt;&lt;script&gt;alert(2)&lt;/script&gt;"));
    assert!(html.contains("&lt;img src=x onerror=alert(3)&gt;"));
}

/// Redacts the reason and target of the demo's emergency grant (entry 3) as entry 11.
fn redacted_demo() -> Demo {
    let d = demo();
    let mut c = custody();
    c.args(["redact", "--ledger"]).arg(&d.dir).arg("--key").arg(&d.key).args([
        "--seq",
        "3",
        "--field",
        "reason",
        "--field",
        "target.id",
        "--reason",
        "GDPR Art. 17 erasure",
        "--authority",
        "DPO-2026-7",
        "--approved-by",
        "dpo@corp.example",
    ]);
    let r = run(c);
    assert_eq!(r.code, 0, "redact failed: {}", r.stderr);
    d
}

const PLACEHOLDER: &str = "[redacted by entry 11: GDPR Art. 17 erasure; authority: DPO-2026-7]";

fn assert_structured(v: &Value, what: &str) {
    assert_eq!(
        v,
        &json!({"redacted": {"by": 11, "reason": "GDPR Art. 17 erasure", "authority": "DPO-2026-7", "mode": "erasure"}}),
        "{what}"
    );
}

#[test]
fn redacted_fields_show_seq_reason_and_authority_in_every_format() {
    let d = redacted_demo();
    let f = ["--incident", INCIDENT];

    let jsonl = json_lines(&export_ok(&d.dir, "jsonl", &f));
    assert_structured(&jsonl[2]["record"]["reason"], "jsonl reason");
    assert_structured(&jsonl[2]["record"]["target"]["id"], "jsonl target.id");

    let rows = parse_csv(&export_ok(&d.dir, "csv", &f));
    assert_eq!(rows[3][col("reason")], PLACEHOLDER);
    assert_eq!(rows[3][col("target_id")], PLACEHOLDER);
    assert_eq!(rows[3][col("redacted_fields")], "target.id reason");

    let html = export_ok(&d.dir, "html", &f);
    assert!(html.contains(&format!("<span class=\"redacted\">{PLACEHOLDER}</span>")), "html");

    let ocsf = json_lines(&export_ok(&d.dir, "ocsf", &f));
    let grant = &ocsf[2];
    assert_eq!(grant["user"]["name"], PLACEHOLDER);
    assert!(grant["user"].get("uid").is_none(), "a redacted identity has no uid: {grant}");
    assert!(grant["message"].as_str().unwrap().contains(PLACEHOLDER));
    assert_structured(&grant["unmapped"]["custody"]["record"]["reason"], "ocsf unmapped reason");

    let ts = json_lines(&export_ok(&d.dir, "timesketch", &f));
    assert_eq!(ts[2]["reason"], PLACEHOLDER);
    assert_eq!(ts[2]["target_id"], PLACEHOLDER);
    assert_eq!(ts[2]["redacted_fields"], "target.id reason");

    // `custody log` too, in both forms.
    let mut c = custody();
    c.args(["log", "--ledger"]).arg(&d.dir).args(["--incident", INCIDENT]);
    let log = run(c);
    assert!(log.stdout.contains("[redacted by entry 11: GDPR Art. 17 erasure (DPO-2026-7)]"), "{}", log.stdout);
    let mut c = custody();
    c.args(["log", "--json", "--ledger"]).arg(&d.dir).args(["--incident", INCIDENT]);
    let log = json_lines(&run(c).stdout);
    assert_structured(&log[2]["record"]["reason"], "log --json reason");
}

/// `--trust` pins the genesis key, as `custody verify --trust` does: the right key is reported as
/// pinned, another key makes the export NOT VERIFIED (exit 1), without it the key is trusted on
/// first use and the report says so.
#[test]
fn trust_pins_the_genesis_key() {
    let d = demo();
    let key = d.key.to_str().unwrap();
    let html = export_ok(&d.dir, "html", &["--trust", key]);
    assert!(html.contains("pinned by the verifier") && html.contains("Ledger verified: intact"));
    let html = export_ok(&d.dir, "html", &[]);
    assert!(html.contains("trusted on first use"));
    let other = custody::sign::SecretKey::from_seed(&[9; 32]).public().to_text();
    let r = export_cli(&d.dir, "html", &["--trust", &other]);
    assert_eq!(r.code, 1, "stderr:\n{}", r.stderr);
    assert!(r.stderr.contains("LEDGER NOT VERIFIED"), "{}", r.stderr);
    let r = export_cli(&d.dir, "html", &["--trust", "not-a-key"]);
    assert_eq!(r.code, 2, "a bad --trust is a usage error:\n{}", r.stderr);
    assert!(r.stdout.is_empty());
}

#[test]
fn a_ledger_that_does_not_verify_is_exported_says_so_and_exits_1() {
    let t = TestLedger::with_records(5);
    // The reason is committed, not signed: edit it and fix the CRC, as an attacker would.
    t.segment_file().edit_opening(3, b"containment step 2", b'C');
    let out = t.tmp.path().join("report.html");
    let r = export_cli(&t.dir, "html", &["--out", out.to_str().unwrap()]);
    assert_eq!(r.code, 1, "stderr:\n{}", r.stderr);
    assert!(r.stderr.contains("LEDGER NOT VERIFIED") && r.stderr.contains("commitment"), "{}", r.stderr);
    let html = std::fs::read_to_string(&out).expect("the report is written anyway");
    assert!(html.contains("class=\"verification fail\""));
    assert!(html.contains("NOT VERIFIED"));
    assert!(html.contains("The ledger did not verify"), "open items name it");
    let r = export_cli(&t.dir, "jsonl", &[]);
    assert_eq!(r.code, 1);
    assert_eq!(json_lines(&r.stdout).len(), 6, "genesis + 5 records, all written");
}

#[test]
fn entries_with_edited_signed_bytes_are_marked_damaged_not_dropped() {
    let t = TestLedger::with_records(5);
    let mut seg = t.segment_file();
    let p = parts(&seg.frames[2]);
    let at = find_in(&seg.frames[2], p.signed, b"INC-");
    seg.frames[2][at + 4] = b'9'; // INC-1 -> INC-9: still decodes, but no longer what was indexed
    fix_crc(&mut seg.frames[2]);
    seg.write();
    let r = export_cli(&t.dir, "jsonl", &["--incident", "INC-1"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let lines = json_lines(&r.stdout);
    assert_eq!(lines.len(), 2, "{}", r.stdout);
    assert_eq!(lines[0]["seq"], 2);
    assert!(lines[0]["damaged"].as_str().unwrap().contains("changed after it was written"), "{}", lines[0]);
    assert_eq!(lines[1]["seq"], 5);
    assert!(r.stderr.contains("damaged"), "{}", r.stderr);
}

#[test]
fn bad_arguments_exit_2_and_write_nothing() {
    let d = demo();
    let out = d.dir.parent().unwrap().join("x.csv");
    let r = export_cli(&d.dir, "pdf", &["--out", out.to_str().unwrap()]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("unknown export format `pdf`") && r.stderr.contains("timesketch"), "{}", r.stderr);
    let r = export_cli(&d.dir, "csv", &["--since", "yesterday", "--out", out.to_str().unwrap()]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--since"), "{}", r.stderr);
    assert!(!out.exists());
    let r = export_cli(&d.dir.join("nope"), "csv", &[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
}

/// The text of a serialised DOM: tags dropped, entities decoded (the few the report uses).
fn dom_text(dom: &str) -> String {
    let mut out = String::with_capacity(dom.len());
    let mut in_tag = false;
    for c in dom.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&#39;", "'").replace("&amp;", "&")
}

#[test]
fn chromium_renders_the_report() {
    let chromium = Path::new("/usr/bin/chromium");
    if !chromium.exists() {
        eprintln!();
        eprintln!("******************************************************************************");
        eprintln!("SKIPPED chromium_renders_the_report: /usr/bin/chromium is not installed.");
        eprintln!("Install Debian's `chromium` package (apt-get install -y chromium) to run it.");
        eprintln!("******************************************************************************");
        return;
    }
    let d = redacted_demo();
    let report = d.dir.parent().unwrap().join("report.html");
    let r = export_cli(&d.dir, "html", &["--incident", INCIDENT, "--out", report.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let first_hash = json_lines(&export_ok(&d.dir, "jsonl", &["--incident", INCIDENT]))[0]["entry_hash"]
        .as_str()
        .unwrap()
        .to_string();
    let profile = tempfile::tempdir().expect("tempdir");
    let out = assert_cmd::Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", report.display()))
        .timeout(Duration::from_secs(120))
        .output()
        .expect("chromium ran");
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && dom.contains("</html>"),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!dom.contains("<script"), "the rendered DOM holds a script");
    let text = dom_text(&dom);
    assert!(text.contains(&format!("Incident {INCIDENT}")), "incident ID not rendered");
    assert!(text.contains(&first_hash), "entry hash {first_hash} not rendered");
    assert!(text.contains("Ledger verified: intact"), "verification result not rendered");
    assert!(text.contains(PLACEHOLDER), "redaction not rendered");
    assert!(text.contains("Emergency grants") && text.contains("Timeline"));
}
