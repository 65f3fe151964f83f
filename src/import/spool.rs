//! Spool step of an import: holds the records of the first pass in a private temporary file until
//! the whole input has been checked, for the append pass to read back.
//!
//! The file is written and read by the same process and deleted when the import ends; it is not part
//! of any format custody keeps. A record is a `u32` length and the record's fields in [`Record`]'s
//! order, written with custody's canonical primitives (`canonical::Writer`; evidence and attributes as
//! their canonical value bytes). Reading one back is a few copies where parsing its JSON form cost
//! several times more, and the file is about a third smaller.

use std::io::{self, BufRead};

use crate::canonical::{DecodeError, Reader, Writer};
use crate::entry::{decode_attributes, decode_evidence, encode_attributes, encode_evidence};
use crate::record::{Action, Actor, ActorKind, Approval, Outcome, Record, Status, Target, TargetKind};
use crate::time::Timestamp;

/// A record's spool bytes, its length first.
pub(crate) fn encode(rec: &Record) -> Vec<u8> {
    let mut w = Writer::new();
    w.str(&rec.incident);
    w.u8(rec.action.code());
    w.str(&rec.actor.id);
    w.u8(rec.actor.kind.code());
    w.str(&rec.target.id);
    w.u8(rec.target.kind.code());
    w.str(&rec.target.system);
    w.opt(rec.scope.as_deref(), |w, s| w.str(s));
    match &rec.approval {
        Approval::None { note } => {
            w.u8(0);
            w.str(note);
        }
        Approval::Approved { by, source, reference, at } => {
            w.u8(1);
            w.str(by);
            w.str(source);
            w.opt(reference.as_deref(), |w, s| w.str(s));
            w.opt(*at, |w, t| w.i64(t.nanos()));
        }
    }
    w.str(&rec.reason);
    w.u8(rec.outcome.status.code());
    w.opt(rec.outcome.detail.as_deref(), |w, s| w.str(s));
    w.opt(rec.occurred_at, |w, t| w.i64(t.nanos()));
    w.opt(rec.expires_at, |w, t| w.i64(t.nanos()));
    w.opt(rec.owner.as_deref(), |w, s| w.str(s));
    w.count(rec.refs.len());
    for r in &rec.refs {
        w.u64(*r);
    }
    w.bytes(&encode_evidence(&rec.evidence));
    w.bytes(&encode_attributes(&rec.attributes));
    let body = w.into_bytes();
    let mut out = Vec::with_capacity(4 + body.len());
    out.extend_from_slice(&u32::try_from(body.len()).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(&body);
    out
}

/// Reads the next record's bytes (without the length) into `buf`; `false` at the end of the file.
pub(crate) fn read(input: &mut impl BufRead, buf: &mut Vec<u8>) -> io::Result<bool> {
    if input.fill_buf()?.is_empty() {
        return Ok(false);
    }
    let mut len = [0u8; 4];
    input.read_exact(&mut len)?;
    buf.resize(u32::from_be_bytes(len) as usize, 0);
    input.read_exact(buf)?;
    Ok(true)
}

/// The record of one spooled body (as [`read`] gives it).
pub(crate) fn decode(body: &[u8]) -> Result<Record, DecodeError> {
    let mut r = Reader::new(body);
    let time = |r: &mut Reader<'_>, what: &'static str| -> Result<Timestamp, DecodeError> {
        let at = r.position();
        Timestamp::from_nanos(r.i64(what)?).map_err(|_| DecodeError::NonCanonical { at, what, why: "out of range" })
    };
    let incident = r.string("incident")?;
    let action = r.code("action", Action::from_code)?;
    let actor = Actor { id: r.string("actor id")?, kind: r.code("actor kind", ActorKind::from_code)? };
    let target = Target {
        id: r.string("target id")?,
        kind: r.code("target kind", TargetKind::from_code)?,
        system: r.string("target system")?,
    };
    let scope = r.opt("scope", |r| r.string("scope"))?;
    let at = r.position();
    let approval = match r.u8("approval")? {
        0 => Approval::None { note: r.string("approval note")? },
        1 => Approval::Approved {
            by: r.string("approval by")?,
            source: r.string("approval source")?,
            reference: r.opt("approval ref", |r| r.string("approval ref"))?,
            at: r.opt("approval at", |r| time(r, "approval at"))?,
        },
        tag => return Err(DecodeError::BadTag { at, what: "approval", tag }),
    };
    let reason = r.string("reason")?;
    let outcome = Outcome {
        status: r.code("outcome status", Status::from_code)?,
        detail: r.opt("outcome detail", |r| r.string("outcome detail"))?,
    };
    let occurred_at = r.opt("occurred_at", |r| time(r, "occurred_at"))?;
    let expires_at = r.opt("expires_at", |r| time(r, "expires_at"))?;
    let owner = r.opt("owner", |r| r.string("owner"))?;
    let n = r.count("refs", 8)?;
    let refs = (0..n).map(|_| r.u64("ref")).collect::<Result<_, _>>()?;
    let evidence = decode_evidence(r.bytes("evidence")?)?;
    let attributes = decode_attributes(r.bytes("attributes")?)?;
    r.finish("spooled record")?;
    Ok(Record {
        incident,
        action,
        actor,
        target,
        scope,
        approval,
        reason,
        outcome,
        occurred_at,
        expires_at,
        owner,
        refs,
        evidence,
        attributes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::tests::EXAMPLE;

    fn round_trip(rec: &Record) {
        let bytes = encode(rec);
        let mut input = io::Cursor::new(bytes.repeat(2));
        let mut buf = Vec::new();
        for _ in 0..2 {
            assert!(read(&mut input, &mut buf).unwrap());
            assert_eq!(&decode(&buf).unwrap(), rec);
        }
        assert!(!read(&mut input, &mut buf).unwrap(), "the end of the file is the end, not an error");
    }

    #[test]
    fn records_round_trip() {
        let full = Record::from_json(EXAMPLE).unwrap();
        round_trip(&full);
        let mut other = full.clone();
        other.approval = Approval::None { note: "break-glass; reviewed after".into() };
        other.scope = None;
        other.occurred_at = None;
        other.expires_at = None;
        other.owner = None;
        other.outcome.detail = None;
        other.refs = vec![0, 7, u64::MAX];
        other.evidence.clear();
        other.attributes.clear();
        round_trip(&other);
        let mut approved = full;
        approved.approval =
            Approval::Approved { by: "ciso@corp.example".into(), source: "jira".into(), reference: None, at: None };
        round_trip(&approved);
    }

    #[test]
    fn damage_is_an_error_not_a_panic() {
        let bytes = encode(&Record::from_json(EXAMPLE).unwrap());
        let body = &bytes[4..];
        for cut in 0..body.len() {
            assert!(decode(&body[..cut]).is_err(), "cut at {cut}");
        }
        let mut longer = body.to_vec();
        longer.push(0);
        assert!(decode(&longer).is_err());
        let mut input = io::Cursor::new(bytes[..bytes.len() - 1].to_vec());
        assert!(read(&mut input, &mut Vec::new()).is_err(), "a torn last record is an error");
        let mut input = io::Cursor::new(bytes[..2].to_vec());
        assert!(read(&mut input, &mut Vec::new()).is_err(), "a torn length is an error");
    }
}
