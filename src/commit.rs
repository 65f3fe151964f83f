//! Field commitments: how a redactable field's value is bound into signed bytes without being in them.
//!
//! For every redactable field that a record has, the signed bytes carry
//! `BLAKE3("custody/v1/field-commitment" || 0x00 || field code || salt[16] || u32 len || value)`
//! (`docs/FORMAT.md`, "Field commitments"). The value and its salt travel beside the signed bytes as an
//! [`Opening`]. A fresh random 128-bit salt per field per entry stops dictionary attacks on guessable
//! values and makes equal values in two entries commit differently. Removing an opening (erasure) or
//! leaving it out of a bundle (withholding) never changes a signed byte. This module owns the hash,
//! the salts and the opening encoding; it knows nothing of where openings are stored.

use std::collections::BTreeMap;

use rand::RngCore;

use crate::canonical::{DecodeError, Reader, Writer};
use crate::enums::closed_enum;

closed_enum! {
    /// A redactable field. The code is the field's byte in commitments and openings, and its bit in a
    /// redaction mask (`1 << code`).
    Field, "redactable field" {
        ActorId = 0 => "actor.id",
        TargetId = 1 => "target.id",
        ApprovalBy = 2 => "approval.by",
        ApprovalRef = 3 => "approval.ref",
        ApprovalNone = 4 => "approval.none",
        Scope = 5 => "scope",
        Reason = 6 => "reason",
        OutcomeDetail = 7 => "outcome.detail",
        Owner = 8 => "owner",
        Evidence = 9 => "evidence",
        Attributes = 10 => "attributes",
    }
}

/// Number of redactable fields.
pub const FIELD_COUNT: usize = 11;

/// Domain separation for commitments.
pub const COMMIT_DOMAIN: &[u8] = b"custody/v1/field-commitment\0";

pub type Salt = [u8; 16];
pub type Commitment = [u8; 32];

/// A set of fields as a bit mask (`1 << field code`), as redaction entries carry it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FieldMask(pub u16);

impl FieldMask {
    pub const ALL: FieldMask = FieldMask((1 << FIELD_COUNT) - 1);
    pub fn contains(self, f: Field) -> bool {
        self.0 & (1 << f.code()) != 0
    }
    pub fn with(self, f: Field) -> Self {
        FieldMask(self.0 | (1 << f.code()))
    }
    pub fn is_valid(self) -> bool {
        self.0 != 0 && self.0 & !Self::ALL.0 == 0
    }
    pub fn fields(self) -> impl Iterator<Item = Field> {
        Field::ALL.iter().copied().filter(move |f| self.contains(*f))
    }
    pub fn names(self) -> Vec<&'static str> {
        self.fields().map(Field::as_str).collect()
    }
}

/// The commitment to `value` for `field` under `salt`.
pub fn commit(field: Field, salt: &Salt, value: &[u8]) -> Commitment {
    // The bytes hashed: domain, field code, salt, value length (u32, big-endian), value. They are
    // laid out in one piece (on the stack when short) for blake3's one-shot hash, which costs
    // about half the incremental one on the short values most fields hold.
    const D: usize = COMMIT_DOMAIN.len();
    const HEAD: usize = D + 1 + 16 + 4;
    let end = HEAD + value.len();
    let (mut small, mut large) = ([0u8; 192], Vec::new());
    let buf: &mut [u8] = if end <= small.len() {
        &mut small[..end]
    } else {
        large.resize(end, 0);
        &mut large
    };
    buf[..D].copy_from_slice(COMMIT_DOMAIN);
    buf[D] = field.code();
    buf[D + 1..D + 17].copy_from_slice(salt);
    buf[D + 17..HEAD].copy_from_slice(&(value.len() as u32).to_be_bytes());
    buf[HEAD..].copy_from_slice(value);
    *blake3::hash(buf).as_bytes()
}

/// Where salts come from: the OS-seeded CSPRNG in production, fixed bytes for test vectors.
pub trait SaltSource {
    fn salt(&mut self) -> Salt;
}

/// Salts from the thread-local cryptographically secure generator.
pub struct RandomSalts;

impl SaltSource for RandomSalts {
    fn salt(&mut self) -> Salt {
        let mut s = [0u8; 16];
        rand::rng().fill_bytes(&mut s);
        s
    }
}

/// Salts from a fixed sequence (test vectors): salt i is `[i; 16]` starting at `start`.
pub struct FixedSalts(pub u8);

impl SaltSource for FixedSalts {
    fn salt(&mut self) -> Salt {
        let s = [self.0; 16];
        self.0 = self.0.wrapping_add(1);
        s
    }
}

/// What is known beside the signed bytes about one committed field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Opening {
    /// The value's canonical bytes and its salt.
    Value { salt: Salt, value: Vec<u8> },
    /// Erased; the redaction entry with this seq authorises it.
    Redacted { by: u64 },
    /// Left out of an evidence bundle by its producer (only valid inside a bundle).
    Withheld,
}

const TAG_VALUE: u8 = 0;
const TAG_REDACTED: u8 = 1;
const TAG_WITHHELD: u8 = 2;

/// The openings of one entry, by field, in field-code order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Openings(pub BTreeMap<Field, Opening>);

impl Openings {
    pub fn get(&self, f: Field) -> Option<&Opening> {
        self.0.get(&f)
    }

    /// The value bytes of a field, if present.
    pub fn value(&self, f: Field) -> Option<&[u8]> {
        match self.0.get(&f) {
            Some(Opening::Value { value, .. }) => Some(value),
            _ => None,
        }
    }

    /// Canonical encoding: `u8` count, then per field in increasing code order: field code, tag, and
    /// for a value `salt[16] || u32 len || bytes`, for a redaction `u64 seq`, for withheld nothing.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.u8(self.0.len() as u8);
        for (f, o) in &self.0 {
            w.u8(f.code());
            match o {
                Opening::Value { salt, value } => {
                    w.u8(TAG_VALUE);
                    w.fixed(salt);
                    w.bytes(value);
                }
                Opening::Redacted { by } => {
                    w.u8(TAG_REDACTED);
                    w.u64(*by);
                }
                Opening::Withheld => w.u8(TAG_WITHHELD),
            }
        }
        w.into_bytes()
    }

    /// Strict decoding: fields strictly increasing, known tags, no trailing bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let n = r.u8("opening count")? as usize;
        let mut map = BTreeMap::new();
        let mut last: Option<Field> = None;
        for _ in 0..n {
            let at = r.position();
            let f = r.code("opening field", Field::from_code)?;
            if last.is_some_and(|l| l >= f) {
                return Err(DecodeError::NonCanonical {
                    at,
                    what: "opening field",
                    why: "fields must be in increasing order",
                });
            }
            last = Some(f);
            let at = r.position();
            let o = match r.u8("opening tag")? {
                TAG_VALUE => Opening::Value { salt: r.array("salt")?, value: r.bytes("opening value")?.to_vec() },
                TAG_REDACTED => Opening::Redacted { by: r.u64("redacted by")? },
                TAG_WITHHELD => Opening::Withheld,
                tag => return Err(DecodeError::BadTag { at, what: "opening tag", tag }),
            };
            map.insert(f, o);
        }
        r.finish("openings")?;
        Ok(Openings(map))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The commitment is exactly the incremental hash of its parts, at every length around the
    /// stack buffer's edge.
    #[test]
    fn one_shot_and_incremental_commitments_agree() {
        for len in 0..400usize {
            let value: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            let mut h = blake3::Hasher::new();
            h.update(COMMIT_DOMAIN);
            h.update(&[Field::Reason.code()]);
            h.update(&[9; 16]);
            h.update(&(len as u32).to_be_bytes());
            h.update(&value);
            assert_eq!(commit(Field::Reason, &[9; 16], &value), *h.finalize().as_bytes(), "length {len}");
        }
    }

    #[test]
    fn commitments_hide_and_differ() {
        let a = commit(Field::ActorId, &[1; 16], b"alice@corp.example");
        let b = commit(Field::ActorId, &[2; 16], b"alice@corp.example");
        let c = commit(Field::TargetId, &[1; 16], b"alice@corp.example");
        assert_ne!(a, b, "equal values under different salts must differ");
        assert_ne!(a, c, "the field code is part of the commitment");
        let mut s = RandomSalts;
        assert_ne!(s.salt(), s.salt());
    }

    #[test]
    fn openings_round_trip_and_refuse_disorder() {
        let mut o = Openings::default();
        o.0.insert(Field::Reason, Opening::Value { salt: [9; 16], value: b"why".to_vec() });
        o.0.insert(Field::ActorId, Opening::Redacted { by: 12 });
        o.0.insert(Field::Owner, Opening::Withheld);
        let b = o.encode();
        assert_eq!(Openings::decode(&b).unwrap(), o);
        // swap the first two items' field codes: order no longer increasing
        let mut bad = b.clone();
        bad[1] = Field::Owner.code();
        assert!(Openings::decode(&bad).is_err());
        let mut trailing = b;
        trailing.push(0);
        assert!(Openings::decode(&trailing).is_err());
    }

    #[test]
    fn masks() {
        let m = FieldMask::default().with(Field::Reason).with(Field::Scope);
        assert!(m.contains(Field::Reason) && !m.contains(Field::Owner));
        assert_eq!(m.names(), vec!["scope", "reason"]);
        assert!(m.is_valid() && !FieldMask(0).is_valid() && !FieldMask(1 << 11).is_valid());
    }
}
