//! Deliberate edits to stored frames, judged through `custody verify --json`: exit 1 and a finding
//! that names the right entry and kind. Each test makes one change to an otherwise intact ledger.
//!
//! The ledger is genesis + 5 records appended one at a time, so frame `i` holds entry `i` and every
//! frame ends its own batch. Tampering is done in the middle (entry 2 or 3) so that valid frames
//! follow: damage at the very end of the log is indistinguishable from a torn write and is covered
//! by the `--head` tests below.

use custody::commit::Field;
use custody::entry::Body;
use custody::entry::Unsigned;
use custody::log::entry_frame;
use custody::sign::SecretKey;

use crate::support::*;

fn ledger() -> TestLedger {
    let t = TestLedger::with_records(5);
    let (code, report) = t.verify(&[]);
    assert_intact(code, &report);
    t
}

#[test]
fn flipped_signed_byte_is_a_framing_finding_at_that_entry() {
    let t = ledger();
    let mut seg = t.segment_file();
    let p = parts(&seg.frames[2]);
    let at = find_in(&seg.frames[2], p.signed, b"INC-");
    seg.frames[2][at] ^= 0x20; // `INC-` -> `iNC-`; the frame CRC no longer matches
    seg.write();
    let (code, report) = t.verify(&[]);
    let f = assert_finding(code, &report, "framing", 2);
    assert!(f["message"].as_str().unwrap().contains("checksum"), "{f:#}");
}

#[test]
fn edited_signed_bytes_with_fixed_crc_fail_the_signature_and_the_chain() {
    let t = ledger();
    let mut seg = t.segment_file();
    let p = parts(&seg.frames[2]);
    let at = find_in(&seg.frames[2], p.signed, b"INC-");
    seg.frames[2][at + 4] = b'9'; // INC-2 -> INC-9: still decodes, different hash
    fix_crc(&mut seg.frames[2]);
    seg.write();
    let (code, report) = t.verify(&[]);
    assert_finding(code, &report, "signature", 2);
    assert_finding(code, &report, "prev_hash", 3);
    let framing = report["findings"].as_array().unwrap().iter().any(|f| f["kind"] == "framing");
    assert!(!framing, "the CRC was fixed; no framing finding expected: {report:#}");
}

#[test]
fn deleted_frame_is_a_seq_gap_at_the_entry_that_follows() {
    let t = ledger();
    let mut seg = t.segment_file();
    seg.frames.remove(3);
    seg.write();
    let (code, report) = t.verify(&[]);
    let f = assert_finding(code, &report, "seq", 4);
    assert!(f["message"].as_str().unwrap().contains("expected seq 3"), "{f:#}");
    assert_finding(code, &report, "prev_hash", 4);
}

#[test]
fn swapped_frames_are_found_out_of_order() {
    let t = ledger();
    let mut seg = t.segment_file();
    seg.frames.swap(2, 3);
    seg.write();
    let (code, report) = t.verify(&[]);
    let first = assert_finding(code, &report, "seq", 3);
    assert!(first["message"].as_str().unwrap().contains("expected seq 2"), "{first:#}");
    assert_finding(code, &report, "seq", 2);
    assert_finding(code, &report, "prev_hash", 2);
}

#[test]
fn frame_signed_by_an_unauthorized_key_is_a_key_finding() {
    let t = ledger();
    let stranger = SecretKey::generate();
    let (seq, frame) = forge_next(&t, &stranger, "INC-FORGED");
    append_bytes(&t.segment(), &frame);
    let (code, report) = t.verify(&[]);
    let f = assert_finding(code, &report, "key", seq);
    let id = hex::encode(stranger.public().key_id());
    assert!(f["message"].as_str().unwrap().contains(&id), "{f:#}");
}

#[test]
fn forged_frame_by_the_authorized_key_is_accepted() {
    // The control for the test above: the same forgery signed by the genesis key is a valid entry,
    // so the `key` finding there is about the signer and nothing else.
    let t = ledger();
    let (seq, frame) = forge_next(&t, &t.key(), "INC-FORGED");
    append_bytes(&t.segment(), &frame);
    let (code, report) = t.verify(&[]);
    assert_intact(code, &report);
    assert_eq!(report["size"], seq + 1, "{report:#}");
}

/// Changes the target system of entry `i` and re-signs it with the ledger's own key.
fn resign_with_new_system(t: &TestLedger, seg: &mut Segment, i: usize) {
    let mut e = seg.entry(i);
    let Body::Change(c) = &mut e.signed.body else { panic!("entry {i} is a record") };
    c.target_system = "okta".into();
    let flags = seg.frames[i][4];
    let resigned = Unsigned::new(e.signed.clone(), e.openings.clone()).sign(&t.key());
    seg.frames[i] = entry_frame(flags, &resigned);
}

#[test]
fn resigned_entry_breaks_the_chain_at_the_next_entry() {
    let t = ledger();
    let mut seg = t.segment_file();
    resign_with_new_system(&t, &mut seg, 2);
    seg.write();
    let (code, report) = t.verify(&[]);
    assert_finding(code, &report, "prev_hash", 3);
    let about_2: Vec<_> = report["findings"].as_array().unwrap().iter().filter(|f| f["seq"] == 2).collect();
    assert!(about_2.is_empty(), "entry 2 itself is validly signed; only the chain can catch it: {about_2:?}");
}

#[test]
fn resigned_last_entry_is_caught_only_by_a_noted_head() {
    let t = ledger();
    let noted = t.head();
    let mut seg = t.segment_file();
    let last = seg.frames.len() - 1;
    resign_with_new_system(&t, &mut seg, last);
    seg.write();
    // Nothing follows the last entry, so without a noted head the rewrite is undetectable.
    let (code, report) = t.verify(&[]);
    assert_intact(code, &report);
    let (code, report) = t.verify(&["--head", &noted]);
    assert_finding(code, &report, "rewritten", last as u64);
}

#[test]
fn truncated_tail_is_caught_by_a_noted_head() {
    let t = ledger();
    let noted = t.head(); // 6 entries
    let seg = t.segment_file();
    // Cut exactly at a frame boundary: what remains is a clean, shorter ledger.
    truncate(&seg.path, seg.offset(4) as u64);
    let (code, report) = t.verify(&[]);
    assert_intact(code, &report);
    assert_eq!(report["size"], 4);
    let (code, report) = t.verify(&["--head", &noted]);
    let f = assert_finding(code, &report, "truncated", 4);
    assert!(f["message"].as_str().unwrap().contains("4..5"), "the finding names the missing entries: {f:#}");
}

#[test]
fn torn_tail_is_a_warning_without_head_and_truncation_with_it() {
    let t = ledger();
    let noted = t.head();
    let seg = t.segment_file();
    truncate(&seg.path, (seg.offset(5) + 20) as u64);
    let (code, report) = t.verify(&[]);
    let warnings = assert_intact(code, &report);
    assert!(warnings.iter().any(|w| w.contains("torn tail")), "{warnings:?}");
    assert_eq!(report["size"], 5);
    let (code, report) = t.verify(&["--head", &noted]);
    assert_finding(code, &report, "truncated", 5);
}

#[test]
fn edited_opening_value_is_a_commitment_finding_naming_the_field() {
    let t = ledger();
    // The reason is committed, not signed: it is in the openings only.
    t.segment_file().edit_opening(3, b"containment step 2", b'C');
    let (code, report) = t.verify(&[]);
    let f = assert_finding(code, &report, "commitment", 3);
    let msg = f["message"].as_str().unwrap();
    assert!(msg.contains("entry 3") && msg.contains("`reason`"), "{f:#}");
}

#[test]
fn removed_opening_is_missing_content() {
    let t = ledger();
    let mut seg = t.segment_file();
    let mut e = seg.entry(3);
    assert!(e.openings.0.remove(&Field::Reason).is_some());
    let flags = seg.frames[3][4];
    seg.frames[3] = entry_frame(flags, &e);
    seg.write();
    let (code, report) = t.verify(&[]);
    let f = assert_finding(code, &report, "missing_content", 3);
    assert!(f["message"].as_str().unwrap().contains("`reason`"), "{f:#}");
}

#[test]
fn human_output_names_the_problem_too() {
    // Without --json: exit 1, `NOT INTACT` and the located finding on stdout.
    let t = ledger();
    let mut seg = t.segment_file();
    seg.frames.remove(3);
    seg.write();
    let r = run(t.cmd(&["verify"]));
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stdout.contains("NOT INTACT"), "{}", r.stdout);
    assert!(r.stdout.contains("entry 4 (segment 0, offset"), "{}", r.stdout);
}

/// Verification checks most signatures in its parallel pass, against the keys authorised before the
/// chunk (4,096 entries) being decoded, and re-checks in the chain walk whenever the rules name
/// another key. Over a ledger of more than three chunks, with a key rotated in the middle of one,
/// a bad signature deep in the ledger and one by the rotated key are still found, and nothing else.
#[test]
fn signatures_checked_ahead_of_the_walk_still_locate_tampering() {
    use custody::entry::Control;
    use custody::sign::SecretKey;
    let t = TestLedger::new();
    let l = t.open();
    let key = t.key();
    let second = SecretKey::from_seed(&[0x77; 32]);
    for b in 0..10 {
        l.append_batch(&key, (b * 1000..(b + 1) * 1000).map(rec).collect(), None).expect("batch");
    }
    // Rotate at 10,001 (inside the third chunk), then go on with the new key.
    l.append_control(&key, Control::KeyAdd { public_key: second.public().to_bytes(), label: "second".into() })
        .expect("key add");
    l.append_control(&second, Control::KeyRetire { key_id: key.public().key_id(), reason: "rotated".into() })
        .expect("key retire");
    for b in 10..14 {
        l.append_batch(&second, (b * 1000..(b + 1) * 1000).map(rec).collect(), None).expect("batch");
    }
    drop(l);
    let (code, report) = t.verify(&[]);
    assert_intact(code, &report);
    assert_eq!(report["entries"], 14_003, "{report}");

    // Flip one signature byte of an entry signed by the first key (entry 9,000) and one of the
    // second key's (entry 13,500), with the frame checksums fixed.
    let mut seg = t.segment_file();
    let first = seg.frames.iter().position(|f| decode_frame(f).seq() == 9_000).expect("entry 9000");
    let later = seg.frames.iter().position(|f| decode_frame(f).seq() == 13_500).expect("entry 13500");
    for i in [first, later] {
        let p = parts(&seg.frames[i]);
        seg.frames[i][p.signature.start + 7] ^= 0x01;
        fix_crc(&mut seg.frames[i]);
    }
    seg.write();
    let (code, report) = t.verify(&[]);
    assert_finding(code, &report, "signature", 9_000);
    assert_finding(code, &report, "signature", 13_500);
    let findings = report["findings"].as_array().expect("findings");
    assert_eq!(findings.len(), 2, "exactly the two tampered entries: {report}");
}
