//! State replay: the effective access state as of a seq or a time, rebuilt from the verified log.
//!
//! This module owns the meaning of each action for access (see `docs/GOVERNANCE.md`, "State"):
//!
//! - an **entitlement** is (identity, scope). `grant`, `emergency_grant`, `policy_change` with a
//!   scope and `create` with a scope add it (or replace it: the newest grant entry wins); `revoke`
//!   with a scope removes that one, `revoke` without a scope removes all of the identity's (and a
//!   credential counts as revoked), `delete` removes the identity with all its entitlements and
//!   exceptions, `disable` suspends the identity (and removes the entitlement its scope names, if
//!   any), `enable` makes it active again (a **restored** identity when it was disabled, deleted or
//!   revoked). An entitlement with `expires_at` lapses at that time; a lapsed entitlement stays
//!   visible as *lapsed* (nobody recorded its removal).
//! - an **exception** is (identity, scope) from `exception_add`, ended by `exception_remove`, by
//!   `delete` or by its `expires_at`.
//! - `rotate` and `mfa_reset` set the identity's rotation time, `session_revoke` its session
//!   revocation time, `recertify` its recertification, `observe` when it was last seen; none of them
//!   change access. `ownership_change` sets the owner (or clears it when the record has none); any
//!   other record with an `owner` sets it too.
//! - Access counts as granted when the outcome is `success` or `partial` (access may exist), and as
//!   removed only on `success`. `failure` and `pending` change nothing.
//!
//! Entries are applied in seq order. Strings that repeat (systems, scopes, approvers, owners) are
//! interned; nearly unique ones (incident names, ticket references, notes) are kept per grant, so the
//! intern table grows with the values that repeat, not with the ledger.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::{event_time, EntryRef, Event, GovernError, Point, Source, Text, TextRef};
use crate::commit::Field;
use crate::entry::{ApprovalKind, Control, Entry};
use crate::record::{Action, Status, TargetKind};
use crate::time::Timestamp;

/// Where an identity stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdentityStatus {
    Active,
    /// Suspended by `disable`: its entitlements are kept but give no access.
    Disabled,
    /// A credential revoked as a whole (`revoke` without a scope).
    Revoked,
    Deleted,
}

impl IdentityStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            IdentityStatus::Active => "active",
            IdentityStatus::Disabled => "disabled",
            IdentityStatus::Revoked => "revoked",
            IdentityStatus::Deleted => "deleted",
        }
    }
}

/// The approval a grant carried.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApprovalView {
    Approved { by: Text, source: Arc<str>, reference: Option<Text> },
    None { note: Text },
}

impl ApprovalView {
    pub fn is_approved(&self) -> bool {
        matches!(self, ApprovalView::Approved { .. })
    }
}

/// One entitlement: the grant entry that made it and what that entry said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entitlement {
    pub granted: EntryRef,
    pub incident: Arc<str>,
    pub approval: ApprovalView,
    /// The owner the grant record named, if any.
    pub owner: Option<Text>,
    pub expires_at: Option<Timestamp>,
}

impl Entitlement {
    pub fn emergency(&self) -> bool {
        self.granted.action == Action::EmergencyGrant
    }
    /// Whether it still gives access at `t` (not lapsed).
    pub fn in_force(&self, t: Timestamp) -> bool {
        self.expires_at.is_none_or(|x| x > t)
    }
}

/// One exception (a documented deviation from policy) on an identity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exception {
    pub added: EntryRef,
    pub incident: Arc<str>,
    pub approval: ApprovalView,
    pub expires_at: Option<Timestamp>,
}

impl Exception {
    pub fn in_force(&self, t: Timestamp) -> bool {
        self.expires_at.is_none_or(|x| x > t)
    }
}

/// An owner and the entry that recorded it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    pub value: Text,
    pub by: EntryRef,
}

/// Everything the ledger says about one identity.
#[derive(Clone, Debug)]
pub struct Identity {
    pub system: Arc<str>,
    /// The ID, or `redacted:<seq>` when the entry's `target.id` was erased.
    pub id: Arc<str>,
    /// The redaction entry that erased the ID, when the ID is opaque.
    pub id_redacted_by: Option<u64>,
    pub kind: TargetKind,
    pub status: IdentityStatus,
    /// The entry that set the status (none: active since first seen).
    pub status_by: Option<EntryRef>,
    pub owner: Option<Owner>,
    /// An `ownership_change` without an owner cleared it.
    pub owner_cleared: Option<EntryRef>,
    pub entitlements: BTreeMap<Arc<str>, Entitlement>,
    pub exceptions: BTreeMap<Arc<str>, Exception>,
    pub rotated: Option<EntryRef>,
    pub sessions_revoked: Option<EntryRef>,
    /// Last `enable` (or `create`) that brought it back after it was disabled, revoked or deleted.
    pub restored: Option<EntryRef>,
    pub recertified: Option<EntryRef>,
    pub observed: Option<EntryRef>,
    pub first: EntryRef,
    pub last: EntryRef,
}

impl Identity {
    pub fn is_credential(&self) -> bool {
        self.kind.is_credential()
    }

    /// Entitlements that give access at `t`: the identity is active and they have not lapsed.
    pub fn effective(&self, t: Timestamp) -> impl Iterator<Item = (&Arc<str>, &Entitlement)> {
        let active = self.status == IdentityStatus::Active;
        self.entitlements.iter().filter(move |(_, e)| active && e.in_force(t))
    }

    /// Entitlements whose `expires_at` passed without a recorded removal.
    pub fn lapsed(&self, t: Timestamp) -> impl Iterator<Item = (&Arc<str>, &Entitlement)> {
        self.entitlements.iter().filter(move |(_, e)| !e.in_force(t))
    }
}

/// What applying one entry did, for callers that judge changes (drift, rules).
#[derive(Debug, Default)]
pub struct Effect {
    /// The outcome was `failure` or `pending` (or `partial` for a removal): nothing changed.
    pub ignored: bool,
    /// The entry was outside the target filter.
    pub filtered: bool,
    pub new_identity: bool,
    /// The identity's status before the entry.
    pub status_before: Option<IdentityStatus>,
    /// Scope of an entitlement this entry added (not present before).
    pub added: Option<Arc<str>>,
    /// An entitlement this entry replaced by a newer grant of the same scope.
    pub replaced: Option<(Arc<str>, Entitlement)>,
    /// Entitlements this entry removed.
    pub removed: Vec<(Arc<str>, Entitlement)>,
    /// The identity was disabled, revoked or deleted and this entry made it active again.
    pub restored: bool,
    pub exception_added: Option<Arc<str>>,
    /// A recorded exception that this `exception_add` replaced (same identity and scope).
    pub exception_replaced: Option<Exception>,
    /// Recorded exceptions this entry ended.
    pub exceptions_removed: Vec<(Arc<str>, Exception)>,
    /// An `exception_remove` of an exception the ledger never recorded (it predates the ledger).
    pub exception_removed_unrecorded: bool,
}

/// A redaction entry's reason and authority, to show beside the fields it erased.
#[derive(Clone, Debug)]
pub struct RedactionNote {
    pub reason: String,
    pub authority: String,
}

/// The effective access state after some entries.
#[derive(Debug)]
pub struct State {
    /// Identities in the order they were first seen; `index` maps each key to its place. Keeping
    /// the large `Identity` values out of the hash table keeps the table's buckets small (a lookup
    /// per entry then touches little memory).
    identities: Vec<Identity>,
    index: HashMap<String, usize>,
    interned: HashSet<Arc<str>>,
    key: String,
    target: Option<String>,
    /// Time at which lapse (expiry) is judged.
    pub as_of: Timestamp,
    /// Change entries applied (including those that changed nothing).
    pub applied: u64,
    /// Change entries whose outcome meant no change (failure, pending).
    pub ignored: u64,
    pub last_seq: Option<u64>,
    /// Identities whose ID was erased, each kept apart as `redacted:<seq>`.
    pub redacted_identities: u64,
    redactions: BTreeMap<u64, RedactionNote>,
}

impl State {
    /// An empty state judged at `as_of`; with `target`, only entries about that identity ID apply.
    pub fn new(as_of: Timestamp, target: Option<String>) -> Self {
        State {
            identities: Vec::new(),
            index: HashMap::new(),
            interned: HashSet::new(),
            key: String::new(),
            target,
            as_of,
            applied: 0,
            ignored: 0,
            last_seq: None,
            redacted_identities: 0,
            redactions: BTreeMap::new(),
        }
    }

    fn intern(&mut self, s: &str) -> Arc<str> {
        intern(&mut self.interned, s)
    }

    pub fn len(&self) -> usize {
        self.identities.len()
    }

    pub fn is_empty(&self) -> bool {
        self.identities.is_empty()
    }

    /// The identity with this key (see [`super::identity_key`]).
    pub fn get(&self, key: &str) -> Option<&Identity> {
        self.index.get(key).map(|&i| &self.identities[i])
    }

    /// Every identity with its key, in key order.
    pub fn identities(&self) -> Vec<(&String, &Identity)> {
        let mut v: Vec<_> = self.index.iter().map(|(k, &i)| (k, &self.identities[i])).collect();
        v.sort_by(|a, b| a.0.cmp(b.0));
        v
    }

    /// Applies one entry (control entries only teach the state about redactions).
    pub fn apply_entry(&mut self, e: &Entry) -> Effect {
        self.last_seq = Some(e.seq());
        if let Some(Control::Redact { reason, authority, .. }) = e.control() {
            self.redactions.insert(e.seq(), RedactionNote { reason: reason.clone(), authority: authority.clone() });
        }
        match Event::of(e) {
            Some(ev) => self.apply(&ev),
            None => Effect::default(),
        }
    }

    /// Applies one access-change event.
    pub fn apply(&mut self, ev: &Event<'_>) -> Effect {
        let mut eff = Effect::default();
        if let Some(t) = &self.target {
            if ev.target.value() != Some(t.as_str()) {
                eff.filtered = true;
                return eff;
            }
        }
        self.applied += 1;
        let action = ev.action();
        let status = ev.change.status;
        let grants = matches!(action, Action::Grant | Action::EmergencyGrant | Action::PolicyChange | Action::Create);
        let takes_effect = match status {
            Status::Success => true,
            Status::Partial => grants || matches!(action, Action::Enable | Action::ExceptionAdd),
            Status::Failure | Status::Pending => false,
        };
        if !takes_effect {
            self.ignored += 1;
            eff.ignored = true;
            return eff;
        }
        let at = ev.at;
        ev.key_into(&mut self.key);
        let scope = ev.scope.map(|s| match s {
            TextRef::Value(v) => self.intern(v),
            _ => Arc::from(format!("redacted:{}", at.seq)),
        });
        let owner = ev.owner.map(|o| self.text(o));
        // Only grants and exceptions keep their approval and incident.
        let detail = (grants || action == Action::ExceptionAdd).then(|| (self.approval(ev), Arc::from(ev.incident())));
        let slot = match self.index.get(self.key.as_str()) {
            Some(&i) => i,
            None => {
                let (id, redacted_by) = match ev.target {
                    TextRef::Value(v) => (self.intern(v), None),
                    TextRef::Redacted(by) => (Arc::from(ev.target_id()), Some(by)),
                    TextRef::Withheld => (Arc::from(ev.target_id()), None),
                };
                if !matches!(ev.target, TextRef::Value(_)) {
                    self.redacted_identities += 1;
                }
                let system = self.intern(&ev.change.target_system);
                let ident = Identity {
                    system,
                    id,
                    id_redacted_by: redacted_by,
                    kind: ev.change.target_kind,
                    status: IdentityStatus::Active,
                    status_by: None,
                    owner: None,
                    owner_cleared: None,
                    entitlements: BTreeMap::new(),
                    exceptions: BTreeMap::new(),
                    rotated: None,
                    sessions_revoked: None,
                    restored: None,
                    recertified: None,
                    observed: None,
                    first: at,
                    last: at,
                };
                self.identities.push(ident);
                self.index.insert(self.key.clone(), self.identities.len() - 1);
                eff.new_identity = true;
                self.identities.len() - 1
            }
        };
        let ident = &mut self.identities[slot];
        eff.status_before = Some(ident.status);
        ident.kind = ev.change.target_kind;
        ident.last = at;
        let set_status = |ident: &mut Identity, s: IdentityStatus| {
            ident.status = s;
            ident.status_by = Some(at);
        };
        match action {
            Action::Grant | Action::EmergencyGrant | Action::PolicyChange | Action::Create => {
                if action == Action::Create && ident.status != IdentityStatus::Active {
                    eff.restored = !eff.new_identity;
                    set_status(ident, IdentityStatus::Active);
                    if eff.restored {
                        ident.restored = Some(at);
                    }
                }
                let scope = match (action, scope) {
                    (_, Some(s)) => Some(s),
                    (Action::Grant | Action::EmergencyGrant, None) => Some(intern(&mut self.interned, "(unscoped)")),
                    _ => None,
                };
                if let (Some(s), Some((approval, incident))) = (scope, detail) {
                    let ent = Entitlement {
                        granted: at,
                        incident,
                        approval,
                        owner: owner.clone(),
                        expires_at: ev.change.expires_at,
                    };
                    match ident.entitlements.insert(s.clone(), ent) {
                        Some(old) => eff.replaced = Some((s, old)),
                        None => eff.added = Some(s),
                    }
                }
            }
            Action::Revoke => {
                match scope {
                    Some(s) => {
                        if let Some(old) = ident.entitlements.remove(&s) {
                            eff.removed.push((s, old));
                        }
                    }
                    None => eff.removed.extend(std::mem::take(&mut ident.entitlements)),
                }
                if scope_is_whole(ev) && ident.kind.is_credential() {
                    set_status(ident, IdentityStatus::Revoked);
                }
            }
            Action::Delete => {
                eff.removed.extend(std::mem::take(&mut ident.entitlements));
                eff.exceptions_removed.extend(std::mem::take(&mut ident.exceptions));
                set_status(ident, IdentityStatus::Deleted);
            }
            Action::Disable => {
                if let Some(s) = scope {
                    if let Some(old) = ident.entitlements.remove(&s) {
                        eff.removed.push((s, old));
                    }
                }
                set_status(ident, IdentityStatus::Disabled);
            }
            Action::Enable => {
                if ident.status != IdentityStatus::Active {
                    eff.restored = true;
                    ident.restored = Some(at);
                }
                set_status(ident, IdentityStatus::Active);
            }
            Action::Rotate | Action::MfaReset => ident.rotated = Some(at),
            Action::SessionRevoke => ident.sessions_revoked = Some(at),
            Action::Recertify => ident.recertified = Some(at),
            Action::Observe => ident.observed = Some(at),
            Action::ExceptionAdd => {
                let s = scope.unwrap_or_else(|| intern(&mut self.interned, "(unscoped)"));
                if let Some((approval, incident)) = detail {
                    let x = Exception { added: at, incident, approval, expires_at: ev.change.expires_at };
                    eff.exception_replaced = ident.exceptions.insert(s.clone(), x);
                    eff.exception_added = Some(s);
                }
            }
            Action::ExceptionRemove => {
                let s = scope.unwrap_or_else(|| intern(&mut self.interned, "(unscoped)"));
                match ident.exceptions.remove(&s) {
                    Some(x) => eff.exceptions_removed.push((s, x)),
                    None => eff.exception_removed_unrecorded = true,
                }
            }
            Action::OwnershipChange => {
                if owner.is_none() {
                    ident.owner = None;
                    ident.owner_cleared = Some(at);
                }
            }
            Action::IncidentOpen | Action::IncidentClose => {}
        }
        if let Some(o) = owner {
            ident.owner = Some(Owner { value: o, by: at });
            ident.owner_cleared = None;
        }
        eff
    }

    fn text(&mut self, t: TextRef<'_>) -> Text {
        match t {
            TextRef::Value(v) => Text::Value(self.intern(v)),
            TextRef::Redacted(by) => Text::Redacted(by),
            TextRef::Withheld => Text::Withheld,
        }
    }

    fn approval(&mut self, ev: &Event<'_>) -> ApprovalView {
        let (e, c) = (ev.entry, ev.change);
        let t = |s: &mut Self, f: Field| super::text(e, c, f).map(|x| s.text(x));
        match c.approval {
            ApprovalKind::Approved { .. } => ApprovalView::Approved {
                by: t(self, Field::ApprovalBy).unwrap_or(Text::Withheld),
                source: self.intern(c.approval_source.as_deref().unwrap_or("")),
                // Ticket references and notes are nearly unique: kept, not interned, so that the
                // intern table grows with the few values that repeat, not with the ledger.
                reference: super::text(e, c, Field::ApprovalRef).map(owned),
            },
            ApprovalKind::None => {
                ApprovalView::None { note: super::text(e, c, Field::ApprovalNone).map(owned).unwrap_or(Text::Withheld) }
            }
        }
    }

    /// A text field for people: the value, or why it is not shown (redaction entry, reason and
    /// authority when the redaction entry was read). Never an empty string.
    pub fn show(&self, t: &Text) -> String {
        match t {
            Text::Redacted(by) => match self.redactions.get(by) {
                Some(n) => format!("[redacted by entry {by}: {} ({})]", n.reason, n.authority),
                None => t.show(),
            },
            _ => t.show(),
        }
    }

    /// A text field as JSON: the string, or `{"redacted": {"by", "reason", "authority"}}`.
    pub fn show_json(&self, t: &Text) -> Value {
        match t {
            Text::Redacted(by) => {
                let mut m = Map::new();
                m.insert("by".into(), json!(by));
                if let Some(n) = self.redactions.get(by) {
                    m.insert("reason".into(), json!(n.reason));
                    m.insert("authority".into(), json!(n.authority));
                }
                json!({ "redacted": m })
            }
            _ => serde_json::to_value(t).unwrap_or(Value::Null),
        }
    }

    /// `id (kind, system)` for people, saying when the ID was erased.
    pub fn name(&self, i: &Identity) -> String {
        match i.id_redacted_by {
            Some(by) => format!("{} ({}, {}; ID erased by entry {by})", i.id, i.kind, i.system),
            None => format!("{} ({}, {})", i.id, i.kind, i.system),
        }
    }

    pub fn approval_json(&self, a: &ApprovalView) -> Value {
        match a {
            ApprovalView::Approved { by, source, reference } => {
                let mut m = Map::new();
                m.insert("by".into(), self.show_json(by));
                m.insert("source".into(), json!(source.as_ref()));
                if let Some(r) = reference {
                    m.insert("ref".into(), self.show_json(r));
                }
                Value::Object(m)
            }
            ApprovalView::None { note } => json!({ "none": self.show_json(note) }),
        }
    }

    pub fn approval_text(&self, a: &ApprovalView) -> String {
        match a {
            ApprovalView::Approved { by, source, reference } => {
                let r = reference.as_ref().map(|r| format!(" {}", self.show(r))).unwrap_or_default();
                format!("approved by {} via {source}{r}", self.show(by))
            }
            ApprovalView::None { note } => format!("NO APPROVAL ({})", self.show(note)),
        }
    }

    pub fn entitlement_json(&self, scope: &str, e: &Entitlement) -> Value {
        let mut m = Map::new();
        m.insert("scope".into(), json!(scope));
        m.insert("emergency".into(), json!(e.emergency()));
        m.insert("granted".into(), json!(e.granted));
        m.insert("incident".into(), json!(e.incident.as_ref()));
        m.insert("approval".into(), self.approval_json(&e.approval));
        m.insert("owner".into(), e.owner.as_ref().map(|o| self.show_json(o)).unwrap_or(Value::Null));
        m.insert("expires_at".into(), json!(e.expires_at.map(|t| t.to_rfc3339())));
        Value::Object(m)
    }

    /// One identity as JSON, with its entitlements split into effective and lapsed at [`State::as_of`].
    pub fn identity_json(&self, i: &Identity) -> Value {
        let t = self.as_of;
        let ents = |it: &mut dyn Iterator<Item = (&Arc<str>, &Entitlement)>| -> Vec<Value> {
            it.map(|(s, e)| self.entitlement_json(s, e)).collect()
        };
        let suspended: Vec<Value> = if i.status == IdentityStatus::Active {
            Vec::new()
        } else {
            ents(&mut i.entitlements.iter().filter(|(_, e)| e.in_force(t)))
        };
        let exceptions: Vec<Value> = i
            .exceptions
            .iter()
            .filter(|(_, x)| x.in_force(t))
            .map(|(s, x)| {
                json!({"scope": s.as_ref(), "added": x.added, "incident": x.incident.as_ref(),
                       "approval": self.approval_json(&x.approval),
                       "expires_at": x.expires_at.map(|t| t.to_rfc3339())})
            })
            .collect();
        let mut m = Map::new();
        m.insert("system".into(), json!(i.system.as_ref()));
        m.insert("id".into(), json!(i.id.as_ref()));
        if let Some(by) = i.id_redacted_by {
            m.insert("id_redacted".into(), self.show_json(&Text::Redacted(by)));
        }
        m.insert("kind".into(), json!(i.kind.as_str()));
        m.insert("status".into(), json!(i.status.as_str()));
        m.insert("status_entry".into(), json!(i.status_by));
        m.insert(
            "owner".into(),
            i.owner.as_ref().map(|o| json!({"value": self.show_json(&o.value), "entry": o.by})).unwrap_or(Value::Null),
        );
        m.insert("entitlements".into(), json!(ents(&mut i.effective(t))));
        m.insert("suspended".into(), json!(suspended));
        m.insert("lapsed_without_revocation".into(), json!(ents(&mut i.lapsed(t))));
        m.insert("exceptions".into(), json!(exceptions));
        m.insert("rotated".into(), json!(i.rotated));
        m.insert("sessions_revoked".into(), json!(i.sessions_revoked));
        m.insert("restored".into(), json!(i.restored));
        m.insert("recertified".into(), json!(i.recertified));
        m.insert("last_observed".into(), json!(i.observed));
        m.insert("first_entry".into(), json!(i.first));
        m.insert("last_entry".into(), json!(i.last));
        Value::Object(m)
    }
}

fn owned(t: TextRef<'_>) -> Text {
    match t {
        TextRef::Value(v) => Text::Value(Arc::from(v)),
        TextRef::Redacted(by) => Text::Redacted(by),
        TextRef::Withheld => Text::Withheld,
    }
}

fn intern(set: &mut HashSet<Arc<str>>, s: &str) -> Arc<str> {
    if let Some(a) = set.get(s) {
        return a.clone();
    }
    let a: Arc<str> = Arc::from(s);
    set.insert(a.clone());
    a
}

/// A `revoke` without a scope ends the whole credential.
fn scope_is_whole(ev: &Event<'_>) -> bool {
    ev.scope.is_none()
}

/// What to replay.
#[derive(Clone, Debug)]
pub struct ReplayOptions {
    pub point: Point,
    /// The time lapse is judged at for [`Point::Head`] (the caller's clock; fixed in tests).
    pub now: Timestamp,
    /// Only entries about this identity ID (in any system).
    pub target: Option<String>,
}

/// Replays the source up to `opts.point` into a state. One streaming pass.
pub fn replay(source: &Source, opts: &ReplayOptions) -> Result<State, GovernError> {
    let as_of = match opts.point {
        Point::Time(t) => t,
        _ => opts.now,
    };
    if let (Point::Seq(n), Some(size)) = (opts.point, source.size()) {
        if n >= size {
            return Err(GovernError::NoSuchEntry { seq: n, size });
        }
    }
    let mut st = State::new(as_of, opts.target.clone());
    let mut reached = None;
    let mut latest: Option<Timestamp> = None;
    source.scan(|e| {
        let change = e.change().is_some();
        match opts.point {
            Point::Seq(n) if e.seq() > n => return Ok(super::Flow::Stop),
            Point::Seq(n) if e.seq() == n => reached = Some(e.header().ledger_time),
            // Control entries (keys, redactions) speak about the ledger, not about access: always read.
            Point::Time(t) if change && event_time(e) > t => return Ok(super::Flow::Continue),
            _ => {}
        }
        if change {
            latest = latest.max(Some(event_time(e)));
        }
        st.apply_entry(e);
        Ok(super::Flow::Continue)
    })?;
    if let Point::Seq(n) = opts.point {
        match reached {
            // Lapse is judged at the latest event the ledger had recorded by entry N.
            Some(ledger_time) => st.as_of = latest.unwrap_or(ledger_time),
            None => return Err(GovernError::NoSuchEntry { seq: n, size: st.last_seq.map_or(0, |s| s + 1) }),
        }
    }
    Ok(st)
}
