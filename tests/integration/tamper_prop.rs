//! Property: any single-byte change anywhere in a stored entry's frame (magic, flags, length, signed
//! bytes, signature, openings, CRC), with or without the CRC recomputed afterwards, is found by
//! `verify_ledger` (`intact == false`).
//!
//! The one exception the format leaves open: the end-of-batch flag (bit 0 of the flags byte) is not
//! signed. Toggling it and recomputing the CRC moves a batch boundary without changing any entry;
//! see `end_of_batch_flag_is_not_authenticated` for what that can and cannot do. The generator
//! below skips exactly that case.
//!
//! A change to the last frame makes it look like a torn write (never acknowledged, only a warning),
//! so when the last frame is changed the verifier is given the head noted before the change, as an
//! auditor would.

use std::ops::Range;
use std::sync::OnceLock;

use proptest::prelude::*;
use proptest::sample::Index;

use custody::entry::Control;
use custody::log::{segment_name, FLAG_END_OF_BATCH};
use custody::verify::{verify_ledger, Report, VerifyOptions};

use crate::support::*;

/// An intact ledger's one segment, its frames and its head, built once for all cases.
struct Pristine {
    bytes: Vec<u8>,
    frames: Vec<Range<usize>>,
    head: (u64, [u8; 32]),
}

fn pristine() -> &'static Pristine {
    static P: OnceLock<Pristine> = OnceLock::new();
    P.get_or_init(|| {
        let t = TestLedger::with_records(2); // entries 1, 2: batches of one
        t.append_batch(2..5); // entries 3, 4, 5: one batch (flags 0, 0, end)
        {
            let l = t.open();
            let other = custody::sign::SecretKey::generate();
            l.append_control(
                &t.key(),
                Control::KeyAdd { public_key: other.public().to_bytes(), label: "second".into() },
            )
            .expect("key add"); // entry 6: a control entry
        }
        t.append_each(5..6); // entry 7
        let bytes = std::fs::read(t.segment()).expect("segment");
        let frames = frame_ranges(&bytes);
        assert_eq!(frames.len(), 8);
        let report = verify(&bytes, None);
        assert!(report.intact, "the pristine ledger verifies: {report:?}");
        let head = (report.size, report.head_hash.expect("head"));
        Pristine { bytes, frames, head }
    })
}

fn verify(segment: &[u8], head: Option<(u64, [u8; 32])>) -> Report {
    let d = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(d.path().join("log")).expect("log dir");
    verify_in(d.path(), segment, head)
}

/// Verifies `segment` as the only segment of the ledger directory `dir` (which holds `log/`).
fn verify_in(dir: &std::path::Path, segment: &[u8], head: Option<(u64, [u8; 32])>) -> Report {
    std::fs::write(dir.join("log").join(segment_name(0)), segment).expect("segment");
    verify_ledger(dir, &VerifyOptions { head, ..Default::default() }).expect("verify runs")
}

/// Which part of a frame a byte belongs to, for failure messages.
fn region(frame: &[u8], pos: usize) -> &'static str {
    let p = parts(frame);
    match pos {
        0..=3 => "magic",
        4 => "flags",
        5..=8 => "length",
        9..=12 => "signed length",
        _ if p.signed.contains(&pos) => "signed bytes",
        _ if p.signature.contains(&pos) => "signature",
        _ if p.openings.contains(&pos) => "openings",
        _ => "crc",
    }
}

/// Applies the change; returns false for the one change the format does not authenticate.
fn tamper(bytes: &mut [u8], frame: Range<usize>, pos: usize, xor: u8, fix: bool) -> bool {
    if pos == 4 && xor == FLAG_END_OF_BATCH && fix {
        return false;
    }
    let f = &mut bytes[frame];
    f[pos] ^= xor;
    // Recompute the CRC in place when the byte is one it covers (it covers flags..payload).
    if fix && (4..f.len() - 4).contains(&pos) {
        fix_crc(f);
    }
    true
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn any_single_byte_change_in_a_frame_is_found(
        which in 0usize..8,
        pos in any::<Index>(),
        xor in 1u8..=255,
        fix in any::<bool>(),
    ) {
        let p = pristine();
        let frame = p.frames[which].clone();
        let pos = pos.index(frame.len());
        let mut bytes = p.bytes.clone();
        let what = region(&bytes[frame.clone()], pos);
        prop_assume!(tamper(&mut bytes, frame, pos, xor, fix));
        let last = which == p.frames.len() - 1;
        let report = verify(&bytes, last.then_some(p.head));
        prop_assert!(
            !report.intact,
            "frame {which} byte {pos} ({what}) ^ {xor:#04x}, crc fixed: {fix}: not detected; {report:?}"
        );
    }
}

/// Every byte of a middle frame, one flip each, with and without the CRC fixed: the exhaustive
/// version of the property for one entry (a record entry inside a batch), run in well under a second.
#[test]
fn every_byte_of_one_record_frame_is_covered() {
    let p = pristine();
    let which = 4; // entry 4: a record in the middle of the batch 3..=5, flags 0
    let frame = p.frames[which].clone();
    let d = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(d.path().join("log")).expect("log dir");
    let mut missed = Vec::new();
    for pos in 0..frame.len() {
        for fix in [false, true] {
            let mut bytes = p.bytes.clone();
            if !tamper(&mut bytes, frame.clone(), pos, 0x01, fix) {
                continue;
            }
            if verify_in(d.path(), &bytes, None).intact {
                missed.push((pos, region(&p.bytes[frame.clone()], pos), fix));
            }
        }
    }
    assert!(missed.is_empty(), "undetected single-bit flips (pos, region, crc fixed): {missed:?}");
}

/// The end-of-batch flag is framing, not evidence: it is covered by the CRC but not by any
/// signature. Toggling it (CRC fixed) in the middle of the log changes nothing a verifier can see,
/// and no entry is lost. At the end of the log, clearing it makes the last batch look unfinished,
/// i.e. torn: exactly as detectable as truncating the file, which is to say by a noted head.
#[test]
fn end_of_batch_flag_is_not_authenticated() {
    let p = pristine();
    for which in [1, 3] {
        let mut bytes = p.bytes.clone();
        let f = &mut bytes[p.frames[which].clone()];
        f[4] ^= FLAG_END_OF_BATCH;
        fix_crc(f);
        let report = verify(&bytes, None);
        assert!(report.intact, "frame {which}: {report:?}");
        assert_eq!(report.entries, 8, "frame {which}: every entry is still counted");
    }
    let last = p.frames[7].clone();
    let mut bytes = p.bytes.clone();
    bytes[last.start + 4] ^= FLAG_END_OF_BATCH;
    fix_crc(&mut bytes[last]);
    let report = verify(&bytes, None);
    assert!(report.intact && report.entries == 7, "{report:?}");
    assert!(report.warnings.iter().any(|w| w.contains("torn tail")), "{report:?}");
    let report = verify(&bytes, Some(p.head));
    assert!(report.findings.iter().any(|f| f.kind == "truncated"), "{report:?}");
}
