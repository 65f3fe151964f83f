//! Entries: a record (or a control statement) wrapped with the ledger's header, as canonical signed
//! bytes, their blake3 hash and an ed25519 signature.
//!
//! This is the "canonical bytes → sign + chain" step. `docs/FORMAT.md` ("Entry") is the spec; this
//! module is its one implementation: [`SignedBody::encode`] writes the signed bytes `S`,
//! [`Entry::decode`] is the strict reader, `entry_hash = BLAKE3("custody/v1/entry" || 0x00 || S)` and
//! the signature is Ed25519 over `"custody/v1/signature" || 0x00 || entry_hash`. Because the hash does
//! not cover the signature, a batch is chained first and signed afterwards on all cores. The module
//! does no I/O and keeps no ledger state: chaining rules are checked in `verify`.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use crate::canonical::{DecodeError, Reader, Writer};
use crate::commit::{commit, Commitment, Field, FieldMask, Opening, Openings, SaltSource};
use crate::enums::closed_enum;
use crate::record::{Action, Actor, ActorKind, Approval, Evidence, Outcome, Record, Status, Target, TargetKind};
use crate::sign::{KeyId, SecretKey};
use crate::time::Timestamp;

/// The format version written into every entry. A change to signed bytes is a new version.
pub const FORMAT_VERSION: u8 = 1;
/// Domain separation for entry hashes.
pub const ENTRY_DOMAIN: &[u8] = b"custody/v1/entry\0";
/// Domain separation for entry signatures.
pub const SIGNATURE_DOMAIN: &[u8] = b"custody/v1/signature\0";

pub type Hash = [u8; 32];
pub type LedgerId = [u8; 16];
pub type Signature = [u8; 64];

closed_enum! {
    /// The roles a service client can hold.
    Role, "role" {
        Append = 0 => "append",
        Read = 1 => "read",
        Admin = 2 => "admin",
    }
}

closed_enum! {
    /// Why a redaction entry was written.
    RedactMode, "redaction mode" {
        Erasure = 0 => "erasure",
        Retention = 1 => "retention",
    }
}

/// The header every entry carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub version: u8,
    pub ledger_id: LedgerId,
    pub seq: u64,
    pub ledger_time: Timestamp,
    pub prev_hash: Hash,
    pub key_id: KeyId,
    /// The service client that submitted the entry, when it came through `custody serve`.
    pub submitter: Option<String>,
    /// The submitter's request ID (idempotency key): every entry of one request carries it, so a
    /// retried request is recognised from the log itself, even after a crash.
    pub request: Option<String>,
}

/// The approval facts that stay in the clear; who approved and the reference are committed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApprovalKind {
    None,
    Approved { at: Option<Timestamp> },
}

/// The signed form of a [`Record`]: clear fields plus a commitment per present redactable field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub incident: String,
    /// Seq and hash of the previous entry of the same incident; absent for its first entry.
    pub incident_prev: Option<(u64, Hash)>,
    pub action: Action,
    pub actor_kind: ActorKind,
    pub target_kind: TargetKind,
    pub target_system: String,
    pub approval: ApprovalKind,
    pub approval_source: Option<String>,
    pub status: Status,
    pub occurred_at: Option<Timestamp>,
    pub expires_at: Option<Timestamp>,
    pub refs: Vec<u64>,
    pub commitments: BTreeMap<Field, Commitment>,
}

/// A redaction's coverage: entries `first..=last`, the fields in `mask`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RedactRange {
    pub first: u64,
    pub last: u64,
    pub mask: FieldMask,
}

/// Statements about the ledger itself: keys, erasure, holds, service clients.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Control {
    /// Seq 0 only: names the ledger and authorises its first key.
    LedgerInit {
        name: String,
        public_key: [u8; 32],
    },
    KeyAdd {
        public_key: [u8; 32],
        label: String,
    },
    KeyRetire {
        key_id: KeyId,
        reason: String,
    },
    Redact {
        mode: RedactMode,
        ranges: Vec<RedactRange>,
        reason: String,
        authority: String,
        approved_by: String,
        cutoff: Option<Timestamp>,
    },
    HoldAdd {
        incident: String,
        reason: String,
        reference: String,
    },
    HoldRelease {
        incident: String,
        reason: String,
        reference: String,
    },
    ClientAdd {
        name: String,
        role: Role,
        token_hash: Hash,
    },
    ClientRemove {
        name: String,
        reason: String,
    },
}

impl Control {
    /// The name shown where a record would show its action.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Control::LedgerInit { .. } => "ledger_init",
            Control::KeyAdd { .. } => "key_add",
            Control::KeyRetire { .. } => "key_retire",
            Control::Redact { .. } => "redact",
            Control::HoldAdd { .. } => "hold_add",
            Control::HoldRelease { .. } => "hold_release",
            Control::ClientAdd { .. } => "client_add",
            Control::ClientRemove { .. } => "client_remove",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body {
    Change(Change),
    Control(Control),
}

/// Header and body: everything that is signed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedBody {
    pub header: Header,
    pub body: Body,
}

/// A complete entry as stored: signed bytes, hash, signature and openings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub signed: SignedBody,
    /// The canonical signed bytes `S`.
    pub bytes: Vec<u8>,
    pub hash: Hash,
    pub signature: Signature,
    pub openings: Openings,
}

/// The blake3 entry hash of signed bytes.
pub fn entry_hash(signed_bytes: &[u8]) -> Hash {
    let mut h = blake3::Hasher::new();
    h.update(ENTRY_DOMAIN);
    h.update(signed_bytes);
    *h.finalize().as_bytes()
}

/// The message an entry signature covers.
pub fn signature_message(hash: &Hash) -> [u8; 53] {
    let mut m = [0u8; 53];
    m[..SIGNATURE_DOMAIN.len()].copy_from_slice(SIGNATURE_DOMAIN);
    m[SIGNATURE_DOMAIN.len()..].copy_from_slice(hash);
    m
}

const BODY_CHANGE: u8 = 0;
const BODY_CONTROL: u8 = 1;

impl SignedBody {
    /// The canonical signed bytes.
    pub fn encode(&self) -> Vec<u8> {
        self.encode_marked().0
    }

    /// The canonical signed bytes, and where the hash of the incident link (`incident_prev`) sits
    /// in them, if the entry has one.
    fn encode_marked(&self) -> (Vec<u8>, Option<usize>) {
        let mut mark = None;
        let mut w = Writer::new();
        let h = &self.header;
        w.u8(h.version);
        w.fixed(&h.ledger_id);
        w.u64(h.seq);
        w.i64(h.ledger_time.nanos());
        w.fixed(&h.prev_hash);
        w.fixed(&h.key_id);
        w.opt(h.submitter.as_deref(), |w, s| w.str(s));
        w.opt(h.request.as_deref(), |w, s| w.str(s));
        match &self.body {
            Body::Change(c) => {
                w.u8(BODY_CHANGE);
                encode_change(&mut w, c, &mut mark);
            }
            Body::Control(c) => {
                w.u8(BODY_CONTROL);
                encode_control(&mut w, c);
            }
        }
        (w.into_bytes(), mark)
    }

    /// The strict decoder: exactly the bytes `encode` would write, nothing else.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let at = r.position();
        let version = r.u8("version")?;
        if version != FORMAT_VERSION {
            return Err(DecodeError::BadTag { at, what: "format version", tag: version });
        }
        let ledger_id = r.array("ledger id")?;
        let seq = r.u64("seq")?;
        let ledger_time = time(&mut r, "ledger time")?;
        let prev_hash = r.array("prev hash")?;
        let key_id = r.array("key id")?;
        let submitter = r.opt("submitter", |r| r.string("submitter"))?;
        let request = r.opt("request", |r| r.string("request"))?;
        let header = Header { version, ledger_id, seq, ledger_time, prev_hash, key_id, submitter, request };
        let at = r.position();
        let body = match r.u8("body kind")? {
            BODY_CHANGE => Body::Change(decode_change(&mut r)?),
            BODY_CONTROL => Body::Control(decode_control(&mut r)?),
            tag => return Err(DecodeError::BadTag { at, what: "body kind", tag }),
        };
        r.finish("signed bytes")?;
        Ok(SignedBody { header, body })
    }
}

fn time(r: &mut Reader<'_>, what: &'static str) -> Result<Timestamp, DecodeError> {
    let at = r.position();
    let n = r.i64(what)?;
    Timestamp::from_nanos(n).map_err(|_| DecodeError::NonCanonical { at, what, why: "time outside 1970..2200" })
}

fn opt_time(r: &mut Reader<'_>, what: &'static str) -> Result<Option<Timestamp>, DecodeError> {
    r.opt(what, |r| time(r, what))
}

fn write_commit(w: &mut Writer, c: &Change, f: Field) {
    // Required commitments are always present in a Change built by `seal` or `decode`.
    w.fixed(c.commitments.get(&f).unwrap_or(&[0; 32]));
}

fn write_opt_commit(w: &mut Writer, c: &Change, f: Field) {
    w.opt(c.commitments.get(&f), |w, v| w.fixed(v));
}

fn encode_change(w: &mut Writer, c: &Change, incident_hash_at: &mut Option<usize>) {
    w.str(&c.incident);
    w.opt(c.incident_prev.as_ref(), |w, (s, h)| {
        w.u64(*s);
        *incident_hash_at = Some(w.len());
        w.fixed(h);
    });
    w.u8(c.action.code());
    w.u8(c.actor_kind.code());
    write_commit(w, c, Field::ActorId);
    w.u8(c.target_kind.code());
    w.str(&c.target_system);
    write_commit(w, c, Field::TargetId);
    write_opt_commit(w, c, Field::Scope);
    match c.approval {
        ApprovalKind::None => {
            w.u8(0);
            write_commit(w, c, Field::ApprovalNone);
        }
        ApprovalKind::Approved { at } => {
            w.u8(1);
            write_commit(w, c, Field::ApprovalBy);
            w.str(c.approval_source.as_deref().unwrap_or(""));
            write_opt_commit(w, c, Field::ApprovalRef);
            w.opt(at, |w, t| w.i64(t.nanos()));
        }
    }
    write_commit(w, c, Field::Reason);
    w.u8(c.status.code());
    write_opt_commit(w, c, Field::OutcomeDetail);
    w.opt(c.occurred_at, |w, t| w.i64(t.nanos()));
    w.opt(c.expires_at, |w, t| w.i64(t.nanos()));
    write_opt_commit(w, c, Field::Owner);
    w.count(c.refs.len());
    for r in &c.refs {
        w.u64(*r);
    }
    write_opt_commit(w, c, Field::Evidence);
    write_opt_commit(w, c, Field::Attributes);
}

fn req_commit(r: &mut Reader<'_>, map: &mut BTreeMap<Field, Commitment>, f: Field) -> Result<(), DecodeError> {
    map.insert(f, r.array("commitment")?);
    Ok(())
}

fn opt_commit(r: &mut Reader<'_>, map: &mut BTreeMap<Field, Commitment>, f: Field) -> Result<(), DecodeError> {
    if let Some(c) = r.opt("optional commitment", |r| r.array("commitment"))? {
        map.insert(f, c);
    }
    Ok(())
}

fn decode_change(r: &mut Reader<'_>) -> Result<Change, DecodeError> {
    let mut cm = BTreeMap::new();
    let incident = r.string("incident")?;
    let incident_prev =
        r.opt("incident link", |r| Ok((r.u64("incident link seq")?, r.array("incident link hash")?)))?;
    let action = r.code("action", Action::from_code)?;
    let actor_kind = r.code("actor kind", ActorKind::from_code)?;
    req_commit(r, &mut cm, Field::ActorId)?;
    let target_kind = r.code("target kind", TargetKind::from_code)?;
    let target_system = r.string("target system")?;
    req_commit(r, &mut cm, Field::TargetId)?;
    opt_commit(r, &mut cm, Field::Scope)?;
    let at = r.position();
    let (approval, approval_source) = match r.u8("approval kind")? {
        0 => {
            req_commit(r, &mut cm, Field::ApprovalNone)?;
            (ApprovalKind::None, None)
        }
        1 => {
            req_commit(r, &mut cm, Field::ApprovalBy)?;
            let source = r.string("approval source")?;
            opt_commit(r, &mut cm, Field::ApprovalRef)?;
            let at = opt_time(r, "approval time")?;
            (ApprovalKind::Approved { at }, Some(source))
        }
        tag => return Err(DecodeError::BadTag { at, what: "approval kind", tag }),
    };
    req_commit(r, &mut cm, Field::Reason)?;
    let status = r.code("outcome status", Status::from_code)?;
    opt_commit(r, &mut cm, Field::OutcomeDetail)?;
    let occurred_at = opt_time(r, "occurred_at")?;
    let expires_at = opt_time(r, "expires_at")?;
    opt_commit(r, &mut cm, Field::Owner)?;
    let n = r.count("refs", 8)?;
    let mut refs: Vec<u64> = Vec::with_capacity(n);
    for _ in 0..n {
        let at = r.position();
        let s = r.u64("ref")?;
        if refs.last().is_some_and(|l| *l >= s) {
            return Err(DecodeError::NonCanonical { at, what: "refs", why: "refs must be strictly increasing" });
        }
        refs.push(s);
    }
    opt_commit(r, &mut cm, Field::Evidence)?;
    opt_commit(r, &mut cm, Field::Attributes)?;
    Ok(Change {
        incident,
        incident_prev,
        action,
        actor_kind,
        target_kind,
        target_system,
        approval,
        approval_source,
        status,
        occurred_at,
        expires_at,
        refs,
        commitments: cm,
    })
}

fn encode_control(w: &mut Writer, c: &Control) {
    match c {
        Control::LedgerInit { name, public_key } => {
            w.u8(0);
            w.str(name);
            w.fixed(public_key);
        }
        Control::KeyAdd { public_key, label } => {
            w.u8(1);
            w.fixed(public_key);
            w.str(label);
        }
        Control::KeyRetire { key_id, reason } => {
            w.u8(2);
            w.fixed(key_id);
            w.str(reason);
        }
        Control::Redact { mode, ranges, reason, authority, approved_by, cutoff } => {
            w.u8(3);
            w.u8(mode.code());
            w.count(ranges.len());
            for r in ranges {
                w.u64(r.first);
                w.u64(r.last);
                w.u16(r.mask.0);
            }
            w.str(reason);
            w.str(authority);
            w.str(approved_by);
            w.opt(*cutoff, |w, t| w.i64(t.nanos()));
        }
        Control::HoldAdd { incident, reason, reference } => {
            w.u8(4);
            w.str(incident);
            w.str(reason);
            w.str(reference);
        }
        Control::HoldRelease { incident, reason, reference } => {
            w.u8(5);
            w.str(incident);
            w.str(reason);
            w.str(reference);
        }
        Control::ClientAdd { name, role, token_hash } => {
            w.u8(6);
            w.str(name);
            w.u8(role.code());
            w.fixed(token_hash);
        }
        Control::ClientRemove { name, reason } => {
            w.u8(7);
            w.str(name);
            w.str(reason);
        }
    }
}

fn decode_control(r: &mut Reader<'_>) -> Result<Control, DecodeError> {
    let at = r.position();
    Ok(match r.u8("control kind")? {
        0 => Control::LedgerInit { name: r.string("ledger name")?, public_key: r.array("public key")? },
        1 => Control::KeyAdd { public_key: r.array("public key")?, label: r.string("key label")? },
        2 => Control::KeyRetire { key_id: r.array("key id")?, reason: r.string("reason")? },
        3 => {
            let mode = r.code("redaction mode", RedactMode::from_code)?;
            let n = r.count("redaction ranges", 18)?;
            let mut ranges = Vec::with_capacity(n);
            for _ in 0..n {
                let at = r.position();
                let range = RedactRange {
                    first: r.u64("range first")?,
                    last: r.u64("range last")?,
                    mask: FieldMask(r.u16("range mask")?),
                };
                if range.first > range.last || !range.mask.is_valid() {
                    return Err(DecodeError::NonCanonical {
                        at,
                        what: "redaction range",
                        why: "first > last or empty/unknown field mask",
                    });
                }
                if ranges.last().is_some_and(|p: &RedactRange| p.last >= range.first) {
                    return Err(DecodeError::NonCanonical {
                        at,
                        what: "redaction range",
                        why: "ranges must be increasing and disjoint",
                    });
                }
                ranges.push(range);
            }
            Control::Redact {
                mode,
                ranges,
                reason: r.string("reason")?,
                authority: r.string("authority")?,
                approved_by: r.string("approved by")?,
                cutoff: opt_time(r, "cutoff")?,
            }
        }
        4 => Control::HoldAdd {
            incident: r.string("incident")?,
            reason: r.string("reason")?,
            reference: r.string("reference")?,
        },
        5 => Control::HoldRelease {
            incident: r.string("incident")?,
            reason: r.string("reason")?,
            reference: r.string("reference")?,
        },
        6 => Control::ClientAdd {
            name: r.string("client name")?,
            role: r.code("role", Role::from_code)?,
            token_hash: r.array("token hash")?,
        },
        7 => Control::ClientRemove { name: r.string("client name")?, reason: r.string("reason")? },
        tag => return Err(DecodeError::BadTag { at, what: "control kind", tag }),
    })
}

impl Entry {
    /// Decodes a stored entry from its three parts.
    pub fn decode(signed_bytes: &[u8], signature: Signature, openings: &[u8]) -> Result<Self, DecodeError> {
        let signed = SignedBody::decode(signed_bytes)?;
        Ok(Entry {
            signed,
            bytes: signed_bytes.to_vec(),
            hash: entry_hash(signed_bytes),
            signature,
            openings: Openings::decode(openings)?,
        })
    }

    pub fn seq(&self) -> u64 {
        self.signed.header.seq
    }
    pub fn header(&self) -> &Header {
        &self.signed.header
    }
    pub fn change(&self) -> Option<&Change> {
        match &self.signed.body {
            Body::Change(c) => Some(c),
            Body::Control(_) => None,
        }
    }
    pub fn control(&self) -> Option<&Control> {
        match &self.signed.body {
            Body::Control(c) => Some(c),
            Body::Change(_) => None,
        }
    }
    /// The action name: a record's action or a control entry's kind.
    pub fn action_name(&self) -> &'static str {
        match &self.signed.body {
            Body::Change(c) => c.action.as_str(),
            Body::Control(c) => c.kind_name(),
        }
    }
}

/// A signed body with its bytes and hash, waiting for its signature (batches sign in parallel).
pub struct Unsigned {
    pub signed: SignedBody,
    pub bytes: Vec<u8>,
    pub hash: Hash,
    pub openings: Openings,
    /// Where the incident link's hash sits in `bytes` (for [`Unsigned::link`]).
    incident_hash_at: Option<usize>,
}

/// Offset of `prev_hash` in the signed bytes: after the version (1), ledger ID (16), seq (8) and
/// ledger time (8), all of fixed size.
const PREV_HASH_AT: usize = 33;

impl Unsigned {
    pub fn new(signed: SignedBody, openings: Openings) -> Self {
        let (bytes, incident_hash_at) = signed.encode_marked();
        let hash = entry_hash(&bytes);
        Unsigned { signed, bytes, hash, openings, incident_hash_at }
    }

    /// Encodes an entry whose chain links are not known yet (a batch is encoded in parallel, then
    /// linked in order): `prev_hash` and the incident link's hash are filled in by
    /// [`Unsigned::link`], which also computes the entry hash. The link's presence and seq must be
    /// final already: they decide the encoding's length.
    pub fn unlinked(signed: SignedBody, openings: Openings) -> Self {
        let (bytes, incident_hash_at) = signed.encode_marked();
        Unsigned { signed, bytes, hash: [0; 32], openings, incident_hash_at }
    }

    /// Sets the previous entry's hash and, if the entry links to an earlier entry of its incident,
    /// that entry's hash, in the body and in the signed bytes alike; then hashes the bytes. The
    /// result is exactly [`Unsigned::new`] of the linked body.
    pub fn link(&mut self, prev_hash: &Hash, incident_prev_hash: Option<&Hash>) {
        self.signed.header.prev_hash = *prev_hash;
        self.bytes[PREV_HASH_AT..PREV_HASH_AT + 32].copy_from_slice(prev_hash);
        if let (Some(h), Some(at), Body::Change(c)) = (incident_prev_hash, self.incident_hash_at, &mut self.signed.body)
        {
            if let Some((_, link)) = c.incident_prev.as_mut() {
                *link = *h;
                self.bytes[at..at + 32].copy_from_slice(h);
            }
        }
        self.hash = entry_hash(&self.bytes);
    }

    pub fn sign(self, key: &SecretKey) -> Entry {
        let signature = key.sign(&signature_message(&self.hash));
        self.with_signature(signature)
    }

    /// Signs linked entries together ([`SecretKey::sign_batch`]): each gets exactly the signature
    /// [`Unsigned::sign`] would give it, for less work.
    pub fn sign_batch(entries: Vec<Unsigned>, key: &SecretKey) -> Vec<Entry> {
        let msgs: Vec<[u8; 53]> = entries.iter().map(|u| signature_message(&u.hash)).collect();
        entries.into_iter().zip(key.sign_batch(&msgs)).map(|(u, sig)| u.with_signature(sig)).collect()
    }

    fn with_signature(self, signature: [u8; 64]) -> Entry {
        Entry { signed: self.signed, bytes: self.bytes, hash: self.hash, signature, openings: self.openings }
    }
}

// ---- records <-> changes -------------------------------------------------------------------------

/// Canonical value bytes of an evidence list (inside its commitment).
pub fn encode_evidence(ev: &[Evidence]) -> Vec<u8> {
    let mut w = Writer::new();
    w.count(ev.len());
    for e in ev {
        w.str(&e.system);
        w.opt(e.id.as_deref(), |w, s| w.str(s));
        w.opt(e.digest.as_deref(), |w, s| w.str(s));
    }
    w.into_bytes()
}

pub fn decode_evidence(b: &[u8]) -> Result<Vec<Evidence>, DecodeError> {
    let mut r = Reader::new(b);
    let n = r.count("evidence", 6)?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(Evidence {
            system: r.string("evidence system")?,
            id: r.opt("evidence id", |r| r.string("evidence id"))?,
            digest: r.opt("evidence digest", |r| r.string("evidence digest"))?,
        });
    }
    r.finish("evidence")?;
    Ok(out)
}

/// Canonical value bytes of an attribute map (keys in increasing byte order).
pub fn encode_attributes(a: &BTreeMap<String, String>) -> Vec<u8> {
    let mut w = Writer::new();
    w.count(a.len());
    for (k, v) in a {
        w.str(k);
        w.str(v);
    }
    w.into_bytes()
}

pub fn decode_attributes(b: &[u8]) -> Result<BTreeMap<String, String>, DecodeError> {
    let mut r = Reader::new(b);
    let n = r.count("attributes", 8)?;
    let mut out = BTreeMap::new();
    let mut last: Option<String> = None;
    for _ in 0..n {
        let at = r.position();
        let k = r.string("attribute key")?;
        if last.as_ref().is_some_and(|l| l.as_bytes() >= k.as_bytes()) {
            return Err(DecodeError::NonCanonical { at, what: "attributes", why: "keys must be strictly increasing" });
        }
        last = Some(k.clone());
        out.insert(k, r.string("attribute value")?);
    }
    r.finish("attributes")?;
    Ok(out)
}

/// The value bytes of each present redactable field of a record.
pub fn field_values(rec: &Record) -> Vec<(Field, Vec<u8>)> {
    let mut v =
        vec![(Field::ActorId, rec.actor.id.as_bytes().to_vec()), (Field::TargetId, rec.target.id.as_bytes().to_vec())];
    match &rec.approval {
        Approval::None { note } => v.push((Field::ApprovalNone, note.as_bytes().to_vec())),
        Approval::Approved { by, reference, .. } => {
            v.push((Field::ApprovalBy, by.as_bytes().to_vec()));
            if let Some(r) = reference {
                v.push((Field::ApprovalRef, r.as_bytes().to_vec()));
            }
        }
    }
    if let Some(s) = &rec.scope {
        v.push((Field::Scope, s.as_bytes().to_vec()));
    }
    v.push((Field::Reason, rec.reason.as_bytes().to_vec()));
    if let Some(d) = &rec.outcome.detail {
        v.push((Field::OutcomeDetail, d.as_bytes().to_vec()));
    }
    if let Some(o) = &rec.owner {
        v.push((Field::Owner, o.as_bytes().to_vec()));
    }
    if !rec.evidence.is_empty() {
        v.push((Field::Evidence, encode_evidence(&rec.evidence)));
    }
    if !rec.attributes.is_empty() {
        v.push((Field::Attributes, encode_attributes(&rec.attributes)));
    }
    v
}

/// Turns a validated record into its signed form and its openings, drawing one salt per field.
pub fn seal(rec: &Record, incident_prev: Option<(u64, Hash)>, salts: &mut impl SaltSource) -> (Change, Openings) {
    let mut commitments = BTreeMap::new();
    let mut openings = Openings::default();
    for (f, value) in field_values(rec) {
        let salt = salts.salt();
        commitments.insert(f, commit(f, &salt, &value));
        openings.0.insert(f, Opening::Value { salt, value });
    }
    let (approval, approval_source) = match &rec.approval {
        Approval::None { .. } => (ApprovalKind::None, None),
        Approval::Approved { source, at, .. } => (ApprovalKind::Approved { at: *at }, Some(source.clone())),
    };
    let mut refs = rec.refs.clone();
    refs.sort_unstable();
    let change = Change {
        incident: rec.incident.clone(),
        incident_prev,
        action: rec.action,
        actor_kind: rec.actor.kind,
        target_kind: rec.target.kind,
        target_system: rec.target.system.clone(),
        approval,
        approval_source,
        status: rec.outcome.status,
        occurred_at: rec.occurred_at,
        expires_at: rec.expires_at,
        refs,
        commitments,
    };
    (change, openings)
}

/// What is known of one redactable field of a stored entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Shown<T> {
    Value(T),
    Redacted {
        by: u64,
    },
    Withheld,
    /// Committed, but no opening at all: an integrity failure that `verify` reports.
    Missing,
}

impl<T> Shown<T> {
    pub fn value(&self) -> Option<&T> {
        match self {
            Shown::Value(v) => Some(v),
            _ => None,
        }
    }
}

fn shown<T>(o: &Openings, f: Field, parse: impl Fn(&[u8]) -> Option<T>) -> Shown<T> {
    match o.get(f) {
        Some(Opening::Value { value, .. }) => match parse(value) {
            Some(v) => Shown::Value(v),
            None => Shown::Missing,
        },
        Some(Opening::Redacted { by }) => Shown::Redacted { by: *by },
        Some(Opening::Withheld) => Shown::Withheld,
        None => Shown::Missing,
    }
}

fn text(b: &[u8]) -> Option<String> {
    std::str::from_utf8(b).ok().map(str::to_owned)
}

impl Change {
    /// A field's text value as far as the openings show it.
    pub fn text(&self, o: &Openings, f: Field) -> Option<Shown<String>> {
        self.commitments.contains_key(&f).then(|| shown(o, f, text))
    }

    pub fn evidence(&self, o: &Openings) -> Option<Shown<Vec<Evidence>>> {
        self.commitments.contains_key(&Field::Evidence).then(|| shown(o, Field::Evidence, |b| decode_evidence(b).ok()))
    }

    pub fn attributes(&self, o: &Openings) -> Option<Shown<BTreeMap<String, String>>> {
        self.commitments
            .contains_key(&Field::Attributes)
            .then(|| shown(o, Field::Attributes, |b| decode_attributes(b).ok()))
    }

    /// The record with every field filled, or `None` if any committed field is not open. Redacted or
    /// withheld text fields become `placeholder` when `placeholder` is given (validation of what is
    /// left), lists and maps become empty.
    pub fn to_record(&self, o: &Openings, placeholder: Option<&str>) -> Option<Record> {
        let t = |f: Field| -> Option<Option<String>> {
            match self.text(o, f) {
                None => Some(None),
                Some(Shown::Value(v)) => Some(Some(v)),
                Some(Shown::Missing) => None,
                Some(_) => placeholder.map(|p| Some(p.to_string())),
            }
        };
        let approval = match self.approval {
            ApprovalKind::None => Approval::None { note: t(Field::ApprovalNone)?? },
            ApprovalKind::Approved { at } => Approval::Approved {
                by: t(Field::ApprovalBy)??,
                source: self.approval_source.clone().unwrap_or_default(),
                reference: t(Field::ApprovalRef)?,
                at,
            },
        };
        let evidence = match self.evidence(o) {
            None => Vec::new(),
            Some(Shown::Value(v)) => v,
            Some(Shown::Missing) => return None,
            Some(_) => placeholder.map(|_| Vec::new())?,
        };
        let attributes = match self.attributes(o) {
            None => BTreeMap::new(),
            Some(Shown::Value(v)) => v,
            Some(Shown::Missing) => return None,
            Some(_) => placeholder.map(|_| BTreeMap::new())?,
        };
        Some(Record {
            incident: self.incident.clone(),
            action: self.action,
            actor: Actor { id: t(Field::ActorId)??, kind: self.actor_kind },
            target: Target { id: t(Field::TargetId)??, kind: self.target_kind, system: self.target_system.clone() },
            scope: t(Field::Scope)?,
            approval,
            reason: t(Field::Reason)??,
            outcome: Outcome { status: self.status, detail: t(Field::OutcomeDetail)? },
            occurred_at: self.occurred_at,
            expires_at: self.expires_at,
            owner: t(Field::Owner)?,
            refs: self.refs.clone(),
            evidence,
            attributes,
        })
    }

    /// The record as JSON, in the contract's shape, with each field that is not open replaced by an
    /// object saying why: `{"redacted": {"by": seq, ...describe(seq)}}` or `{"withheld": true}`.
    pub fn to_json(&self, o: &Openings, describe: &dyn Fn(u64) -> Map<String, Value>) -> Value {
        let not_open = |by: Option<u64>| -> Value {
            match by {
                Some(seq) => {
                    let mut m = Map::new();
                    m.insert("by".into(), json!(seq));
                    m.extend(describe(seq));
                    json!({ "redacted": m })
                }
                None => json!({ "withheld": true }),
            }
        };
        let show = |s: Shown<Value>| -> Value {
            match s {
                Shown::Value(v) => v,
                Shown::Redacted { by } => not_open(Some(by)),
                Shown::Withheld => not_open(None),
                Shown::Missing => json!({ "missing": true }),
            }
        };
        let t = |f: Field| self.text(o, f).map(|s| show(map_shown(s, Value::String)));
        let mut m = Map::new();
        m.insert("incident".into(), json!(self.incident));
        m.insert("action".into(), json!(self.action.as_str()));
        m.insert("actor".into(), json!({"id": t(Field::ActorId), "kind": self.actor_kind.as_str()}));
        m.insert(
            "target".into(),
            json!({"id": t(Field::TargetId), "kind": self.target_kind.as_str(), "system": self.target_system}),
        );
        if let Some(s) = t(Field::Scope) {
            m.insert("scope".into(), s);
        }
        let approval = match self.approval {
            ApprovalKind::None => json!({"none": t(Field::ApprovalNone)}),
            ApprovalKind::Approved { at } => {
                let mut a = Map::new();
                a.insert("by".into(), t(Field::ApprovalBy).unwrap_or(Value::Null));
                a.insert("source".into(), json!(self.approval_source));
                if let Some(r) = t(Field::ApprovalRef) {
                    a.insert("ref".into(), r);
                }
                if let Some(at) = at {
                    a.insert("at".into(), json!(at.to_rfc3339()));
                }
                Value::Object(a)
            }
        };
        m.insert("approval".into(), approval);
        m.insert("reason".into(), t(Field::Reason).unwrap_or(Value::Null));
        let mut outcome = Map::new();
        outcome.insert("status".into(), json!(self.status.as_str()));
        if let Some(d) = t(Field::OutcomeDetail) {
            outcome.insert("detail".into(), d);
        }
        m.insert("outcome".into(), Value::Object(outcome));
        if let Some(at) = self.occurred_at {
            m.insert("occurred_at".into(), json!(at.to_rfc3339()));
        }
        if let Some(at) = self.expires_at {
            m.insert("expires_at".into(), json!(at.to_rfc3339()));
        }
        if let Some(s) = t(Field::Owner) {
            m.insert("owner".into(), s);
        }
        m.insert("refs".into(), json!(self.refs));
        let ev = self
            .evidence(o)
            .map(|s| show(map_shown(s, |v| serde_json::to_value(v).unwrap_or(Value::Null))))
            .unwrap_or_else(|| json!([]));
        m.insert("evidence".into(), ev);
        let at = self
            .attributes(o)
            .map(|s| show(map_shown(s, |v| serde_json::to_value(v).unwrap_or(Value::Null))))
            .unwrap_or_else(|| json!({}));
        m.insert("attributes".into(), at);
        Value::Object(m)
    }
}

fn map_shown<T, U>(s: Shown<T>, f: impl FnOnce(T) -> U) -> Shown<U> {
    match s {
        Shown::Value(v) => Shown::Value(f(v)),
        Shown::Redacted { by } => Shown::Redacted { by },
        Shown::Withheld => Shown::Withheld,
        Shown::Missing => Shown::Missing,
    }
}

impl Control {
    /// The control statement as JSON.
    pub fn to_json(&self) -> Value {
        let mut v = match self {
            Control::LedgerInit { name, public_key } => {
                json!({"name": name, "public_key": format!("custody-ed25519:{}", hex::encode(public_key)), "key_id": hex::encode(crate::sign::key_id(public_key))})
            }
            Control::KeyAdd { public_key, label } => {
                json!({"public_key": format!("custody-ed25519:{}", hex::encode(public_key)), "key_id": hex::encode(crate::sign::key_id(public_key)), "label": label})
            }
            Control::KeyRetire { key_id, reason } => {
                json!({"key_id": hex::encode(key_id), "reason": reason})
            }
            Control::Redact { mode, ranges, reason, authority, approved_by, cutoff } => json!({
                "mode": mode.as_str(),
                "ranges": ranges.iter().map(|r| json!({"first": r.first, "last": r.last, "fields": r.mask.names()})).collect::<Vec<_>>(),
                "reason": reason, "authority": authority, "approved_by": approved_by,
                "cutoff": cutoff.map(|c| c.to_rfc3339()),
            }),
            Control::HoldAdd { incident, reason, reference } | Control::HoldRelease { incident, reason, reference } => {
                json!({"incident": incident, "reason": reason, "ref": reference})
            }
            Control::ClientAdd { name, role, token_hash } => {
                json!({"name": name, "role": role.as_str(), "token_hash": hex::encode(token_hash)})
            }
            Control::ClientRemove { name, reason } => json!({"name": name, "reason": reason}),
        };
        if let Value::Object(m) = &mut v {
            m.insert("kind".into(), json!(self.kind_name()));
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commit::RandomSalts;

    /// A batch is encoded in parallel with blank links and linked in order afterwards; the result
    /// must be byte for byte what encoding the linked entry directly gives.
    #[test]
    fn linking_an_unlinked_entry_equals_encoding_it_linked() {
        let rec: Record = serde_json::from_str(crate::record::tests::EXAMPLE).unwrap();
        for (submitter, incident_prev) in
            [(None, None), (Some("soar-1".to_string()), Some((3u64, [7u8; 32]))), (None, Some((0, [9u8; 32])))]
        {
            let (change, openings) = seal(&rec, incident_prev, &mut RandomSalts);
            let header = Header {
                version: FORMAT_VERSION,
                ledger_id: [1; 16],
                seq: 4,
                ledger_time: Timestamp::from_nanos(1_772_445_900_000_000_000).unwrap(),
                prev_hash: [5; 32],
                key_id: [6; 8],
                submitter: submitter.clone(),
                request: submitter.as_ref().map(|_| "req-1".to_string()),
            };
            let linked = Unsigned::new(
                SignedBody { header: header.clone(), body: Body::Change(change.clone()) },
                openings.clone(),
            );
            let mut blank = change.clone();
            blank.incident_prev = incident_prev.map(|(s, _)| (s, [0; 32]));
            let mut u = Unsigned::unlinked(
                SignedBody { header: Header { prev_hash: [0; 32], ..header }, body: Body::Change(blank) },
                openings,
            );
            u.link(&[5; 32], incident_prev.as_ref().map(|(_, h)| h));
            assert_eq!(u.bytes, linked.bytes);
            assert_eq!(u.hash, linked.hash);
            assert_eq!(u.signed.encode(), linked.bytes, "the body was patched too");
        }
    }
}
