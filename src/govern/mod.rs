//! Governance: what a verified ledger says about access, and whether an incident's response was
//! complete.
//!
//! This is the step after "verify". A tamper-evident log proves that records were not altered; this
//! module reads those records as identity changes and answers the closure questions of an incident:
//! was every break-glass grant time-boxed, approved, owned and revoked by a recorded revocation, was
//! every exposed credential rotated or revoked, does every restored identity have an owner, did
//! access drift during recovery.
//!
//! # Layout
//! - [`Source`]: a ledger directory and the result of verifying it. Everything here starts from a
//!   `Source`; [`Source::verify`] runs [`crate::verify::verify_ledger`] first, and an unverified source
//!   says so ([`Verification::banner`]) in every output built from it.
//! - [`state`]: replay of the log into the effective access state (identity → entitlements with their
//!   grant entry, approval, owner and expiry; exceptions; credential rotation and session revocation
//!   times) as of a seq or a time.
//! - [`drift`]: two states in one pass, their difference and the entries that explain it.
//! - [`rules`]: findings with stable rule IDs, severities, evidence entries (seq + hash), the owner to
//!   route each to and a suggested action.
//!
//! # Reading the log
//! Replay streams `log/` with [`crate::log::Scanner`] and [`Entry::decode`], in seq order, and stops
//! at the size that was verified, so entries appended after verification are never judged. It never
//! reads `index/` and never takes the writer's lock, so it runs beside `custody serve`. Memory grows
//! with the state (identities, their entitlements and exceptions, open findings), not with the
//! number of entries.
//!
//! # Times
//! An entry's event time is its `occurred_at`, else its ledger time (as in [`crate::ledger::Filter`]).
//! "As of time T" applies, in seq order, every entry whose event time is at or before T: the state at
//! T as the ledger knows it now, including entries recorded later about earlier events. "As of seq N"
//! applies entries 0..=N: the state as it was recorded by then, with lapse judged at the latest event
//! time among them. Control entries (keys, redactions) speak about the ledger rather than about
//! access and are always read, whatever the time.

pub mod drift;
pub mod rules;
pub mod state;

use std::path::{Path, PathBuf};

use serde::{Serialize, Serializer};

use crate::commit::{Field, Opening};
use crate::entry::{ApprovalKind, Change, Entry, Hash};
use crate::log::{LogError, ScanItem, Scanner};
use crate::record::Action;
use crate::time::Timestamp;
use crate::verify::{verify_ledger, VerifyOptions};

/// How many verification problems a [`Verification`] keeps in full.
const KEPT_PROBLEMS: usize = 5;

/// Errors of governance reads. Integrity problems are not errors: they are what
/// [`Verification`] reports.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GovernError {
    #[error(transparent)]
    Log(#[from] LogError),
    /// The ledger did not verify and the caller asked for a verified one.
    #[error(
        "the ledger at {dir} did not verify: {problems} integrity problem(s), the first: {first}; \
         findings computed from it would not be evidence (run `custody verify --ledger {dir}` to locate every problem)"
    )]
    NotVerified { dir: String, problems: u64, first: String },
    /// The log no longer reads as it did when it was verified.
    #[error("{what}: {problem}; the log changed since it was verified (run `custody verify` again)")]
    Changed { what: String, problem: String },
    #[error("no entry {seq}: the verified ledger has {size} entries (seqs 0..{size})")]
    NoSuchEntry { seq: u64, size: u64 },
    #[error("{0}")]
    Invalid(String),
}

/// What verification said about the ledger a [`Source`] reads.
#[derive(Clone, Debug, Serialize)]
pub struct Verification {
    /// True only when verification ran and found the ledger intact.
    pub verified: bool,
    /// False when verification was skipped ([`Source::unchecked`]).
    pub checked: bool,
    /// Entries verification read.
    pub entries: u64,
    /// Entry hash of the last verified entry.
    pub head_hash: Option<String>,
    /// `pinned` when the genesis key matched a trusted key, `first-use` otherwise.
    pub trust: &'static str,
    /// The first few integrity problems, as `custody verify` prints them.
    pub problems: Vec<String>,
    pub problems_total: u64,
}

impl Verification {
    /// The loud warning every output of an unverified source must carry; `None` when verified.
    pub fn banner(&self) -> Option<String> {
        if self.verified {
            return None;
        }
        Some(if !self.checked {
            "UNVERIFIED: verification was skipped; nothing below is evidence".to_string()
        } else {
            format!(
                "UNVERIFIED: the ledger did not verify ({} integrity problem(s){}); nothing below is evidence",
                self.problems_total,
                self.problems.first().map(|p| format!(", the first: {p}")).unwrap_or_default()
            )
        })
    }
}

/// A ledger directory to read, with what verification said about it.
#[derive(Clone, Debug)]
pub struct Source {
    dir: PathBuf,
    /// Entries with seq below this are read; the rest were appended after verification.
    size: u64,
    verification: Verification,
}

impl Source {
    /// Verifies the ledger at `dir` (reading all of `log/`) and returns it as a source, intact or not.
    /// Call [`Source::require_verified`] to refuse a ledger that is not intact.
    pub fn verify(dir: &Path, opts: &VerifyOptions<'_>) -> Result<Source, GovernError> {
        let report = verify_ledger(dir, opts)?;
        let verified = report.intact;
        let verification = Verification {
            verified,
            checked: true,
            entries: report.entries,
            head_hash: report.head_hash.map(hex::encode),
            trust: report.trust,
            problems: report.findings.iter().take(KEPT_PROBLEMS).map(|f| f.to_string()).collect(),
            problems_total: report.findings.len() as u64 + report.findings_omitted,
        };
        // An intact ledger is read up to what was verified; a damaged one as far as it decodes.
        let size = if verified { report.size } else { u64::MAX };
        Ok(Source { dir: dir.to_path_buf(), size, verification })
    }

    /// A source that was not verified (benchmarks, or a caller that verified by other means). Every
    /// output built from it says UNVERIFIED.
    pub fn unchecked(dir: &Path) -> Source {
        Source {
            dir: dir.to_path_buf(),
            size: u64::MAX,
            verification: Verification {
                verified: false,
                checked: false,
                entries: 0,
                head_hash: None,
                trust: "none",
                problems: Vec::new(),
                problems_total: 0,
            },
        }
    }

    /// This source if it verified intact, else [`GovernError::NotVerified`].
    pub fn require_verified(self) -> Result<Source, GovernError> {
        if self.verification.verified {
            return Ok(self);
        }
        Err(GovernError::NotVerified {
            dir: self.dir.display().to_string(),
            problems: self.verification.problems_total,
            first: self
                .verification
                .problems
                .first()
                .cloned()
                .unwrap_or_else(|| "verification was skipped".to_string()),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn verification(&self) -> &Verification {
        &self.verification
    }

    /// The number of verified entries (`None` when the source is not verified).
    pub fn size(&self) -> Option<u64> {
        (self.size != u64::MAX).then_some(self.size)
    }

    /// Streams the entries of the verified prefix in seq order. On an unverified source, frames that
    /// do not parse or decode are skipped and counted; on a verified one they are an error (the log
    /// changed since it was verified).
    pub fn scan(&self, mut f: impl FnMut(&Entry) -> Result<Flow, GovernError>) -> Result<ScanStats, GovernError> {
        let mut stats = ScanStats::default();
        let strict = self.verification.verified;
        for item in Scanner::open(&self.dir.join("log"))? {
            let frame = match item? {
                ScanItem::Frame(fr) => fr,
                ScanItem::Damage { segment, offset, problem, .. } => {
                    if strict {
                        return Err(GovernError::Changed {
                            what: format!("segment {segment} offset {offset}"),
                            problem,
                        });
                    }
                    stats.skipped += 1;
                    continue;
                }
                ScanItem::BadSegment { path, problem, .. } => {
                    if strict {
                        return Err(GovernError::Changed { what: path.display().to_string(), problem });
                    }
                    stats.skipped += 1;
                    continue;
                }
            };
            let e = match Entry::decode(&frame.signed, frame.signature, &frame.openings) {
                Ok(e) => e,
                Err(err) => {
                    if strict {
                        return Err(GovernError::Changed {
                            what: format!("segment {} offset {}", frame.loc.segment, frame.loc.offset),
                            problem: err.to_string(),
                        });
                    }
                    stats.skipped += 1;
                    continue;
                }
            };
            if e.seq() >= self.size {
                break;
            }
            stats.read += 1;
            stats.last_seq = Some(e.seq());
            if f(&e)? == Flow::Stop {
                break;
            }
        }
        Ok(stats)
    }
}

/// Whether a scan goes on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Stop,
}

/// What a scan read.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct ScanStats {
    /// Entries read.
    pub read: u64,
    /// Frames skipped because they did not parse or decode (unverified sources only).
    pub skipped: u64,
    pub last_seq: Option<u64>,
}

/// Where in the ledger a state is taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Point {
    /// Every verified entry; expiries are judged at the caller's `now`.
    Head,
    /// Entries 0..=seq; expiries are judged at the latest event time among them.
    Seq(u64),
    /// Entries whose event time is at or before this time; expiries are judged at it.
    Time(Timestamp),
}

impl Serialize for Point {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Point::Head => s.serialize_str("head"),
            Point::Seq(n) => s.serialize_str(&format!("seq {n}")),
            Point::Time(t) => s.serialize_str(&t.to_rfc3339()),
        }
    }
}

/// An entry's event time: `occurred_at`, else its ledger time.
pub fn event_time(e: &Entry) -> Timestamp {
    e.change().and_then(|c| c.occurred_at).unwrap_or(e.header().ledger_time)
}

/// A pointer to the entry that is evidence for something: its seq, hash, action and event time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EntryRef {
    pub seq: u64,
    pub hash: Hash,
    pub action: Action,
    pub time: Timestamp,
}

impl EntryRef {
    pub fn of(e: &Entry, action: Action) -> Self {
        EntryRef { seq: e.seq(), hash: e.hash, action, time: event_time(e) }
    }

    /// `#seq (action, hash prefix)` for human output.
    pub fn short(&self) -> String {
        format!("#{} {} {}", self.seq, self.action, &hex::encode(self.hash)[..16])
    }
}

impl Serialize for EntryRef {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("EntryRef", 4)?;
        st.serialize_field("seq", &self.seq)?;
        st.serialize_field("entry_hash", &hex::encode(self.hash))?;
        st.serialize_field("action", self.action.as_str())?;
        st.serialize_field("time", &self.time.to_rfc3339())?;
        st.end()
    }
}

/// A redactable text field as the log shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Text {
    Value(std::sync::Arc<str>),
    /// Erased under the redaction entry with this seq.
    Redacted(u64),
    /// Not shown: withheld, or not valid UTF-8.
    Withheld,
}

impl Text {
    pub fn value(&self) -> Option<&str> {
        match self {
            Text::Value(v) => Some(v),
            _ => None,
        }
    }

    /// The value, or a bracketed note saying why it is not shown. Never an empty string.
    pub fn show(&self) -> String {
        match self {
            Text::Value(v) => v.to_string(),
            Text::Redacted(by) => format!("[redacted by entry {by}]"),
            Text::Withheld => "[not shown]".to_string(),
        }
    }
}

impl Serialize for Text {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Text::Value(v) => s.serialize_str(v),
            Text::Redacted(by) => serde_json::json!({"redacted": {"by": by}}).serialize(s),
            Text::Withheld => serde_json::json!({"withheld": true}).serialize(s),
        }
    }
}

/// A borrowed view of a redactable text field of one entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextRef<'a> {
    Value(&'a str),
    Redacted(u64),
    Withheld,
}

impl<'a> TextRef<'a> {
    pub fn value(self) -> Option<&'a str> {
        match self {
            TextRef::Value(v) => Some(v),
            _ => None,
        }
    }
}

/// A redactable text field of a change entry: `None` when the record has no such field.
pub fn text<'a>(e: &'a Entry, c: &Change, f: Field) -> Option<TextRef<'a>> {
    if !c.commitments.contains_key(&f) {
        return None;
    }
    Some(match e.openings.get(f) {
        Some(Opening::Value { value, .. }) => {
            std::str::from_utf8(value).map(TextRef::Value).unwrap_or(TextRef::Withheld)
        }
        Some(Opening::Redacted { by }) => TextRef::Redacted(*by),
        _ => TextRef::Withheld,
    })
}

/// One access-change entry seen as an identity event: the fields governance reads, borrowed from the
/// entry. A redacted `target.id` makes the identity opaque: `redacted:<seq>` of this entry.
#[derive(Clone, Copy, Debug)]
pub struct Event<'a> {
    pub entry: &'a Entry,
    pub change: &'a Change,
    pub at: EntryRef,
    pub target: TextRef<'a>,
    pub scope: Option<TextRef<'a>>,
    pub owner: Option<TextRef<'a>>,
    pub actor: TextRef<'a>,
}

impl<'a> Event<'a> {
    /// The event view of a change entry; `None` for control entries.
    pub fn of(e: &'a Entry) -> Option<Event<'a>> {
        let c = e.change()?;
        Some(Event {
            entry: e,
            change: c,
            at: EntryRef::of(e, c.action),
            target: text(e, c, Field::TargetId).unwrap_or(TextRef::Withheld),
            scope: text(e, c, Field::Scope),
            owner: text(e, c, Field::Owner),
            actor: text(e, c, Field::ActorId).unwrap_or(TextRef::Withheld),
        })
    }

    pub fn action(&self) -> Action {
        self.change.action
    }

    pub fn incident(&self) -> &'a str {
        &self.change.incident
    }

    /// Whether the record carries an approval (not `{"none": ...}`).
    pub fn approved(&self) -> bool {
        matches!(self.change.approval, ApprovalKind::Approved { .. })
    }

    /// Writes the identity key of the target (see [`identity_key`]) into `buf`.
    pub fn key_into(&self, buf: &mut String) {
        identity_key_into(buf, &self.change.target_system, self.target, self.at.seq);
    }

    /// The target's identity ID as shown: the ID, or `redacted:<seq>` when it was erased.
    pub fn target_id(&self) -> String {
        match self.target {
            TextRef::Value(v) => v.to_string(),
            _ => format!("redacted:{}", self.at.seq),
        }
    }
}

/// Separator inside identity keys: a control character, which no stored ID can contain.
const KEY_SEP: char = '\u{1f}';

/// The key under which an identity's state is kept: its system and ID. An erased ID gets a key no
/// real ID can have, `redacted:<seq>` of the entry, so that it never merges with another identity.
pub fn identity_key(system: &str, id: &str) -> String {
    let mut s = String::with_capacity(system.len() + id.len() + 1);
    identity_key_into(&mut s, system, TextRef::Value(id), 0);
    s
}

fn identity_key_into(buf: &mut String, system: &str, id: TextRef<'_>, seq: u64) {
    use std::fmt::Write;
    buf.clear();
    buf.push_str(system);
    buf.push(KEY_SEP);
    match id {
        TextRef::Value(v) => buf.push_str(v),
        _ => {
            buf.push(KEY_SEP);
            let _ = write!(buf, "redacted:{seq}");
        }
    }
}

/// Whether an action adds or widens access (as opposed to containing, recording or reviewing it).
pub fn increases_access(a: Action) -> bool {
    matches!(
        a,
        Action::Grant
            | Action::EmergencyGrant
            | Action::Enable
            | Action::Create
            | Action::ExceptionAdd
            | Action::PolicyChange
            | Action::OwnershipChange
            | Action::MfaReset
    )
}

/// Whether an action contains an incident by removing or invalidating access.
pub fn contains_access(a: Action) -> bool {
    matches!(
        a,
        Action::Revoke
            | Action::Disable
            | Action::Delete
            | Action::Rotate
            | Action::SessionRevoke
            | Action::ExceptionRemove
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_keys_keep_redacted_ids_apart() {
        let mut a = String::new();
        identity_key_into(&mut a, "aws-iam", TextRef::Redacted(9), 4);
        let b = identity_key("aws-iam", "redacted:4");
        assert_ne!(a, b, "an erased ID must not merge with a real ID that reads `redacted:4`");
        assert_eq!(identity_key("okta", "bob"), identity_key("okta", "bob"));
        assert_ne!(identity_key("okta", "bob"), identity_key("aws-iam", "bob"));
    }

    #[test]
    fn unverified_banner_is_loud() {
        let s = Source::unchecked(Path::new("/nonexistent"));
        assert!(s.verification().banner().unwrap().starts_with("UNVERIFIED"));
        assert!(matches!(s.require_verified(), Err(GovernError::NotVerified { .. })));
    }
}
