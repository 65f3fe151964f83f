//! Drift: how access differs between two times, and which entries explain each difference.
//!
//! One streaming pass keeps two [`State`]s, one fed the entries whose event time is at or before
//! `from`, the other those at or before `to`, and remembers the entries with an event time in
//! `(from, to]` per identity. The difference of the two states is listed per identity: entitlements
//! added, removed, changed (a newer grant entry) or lapsed (expired with no recorded removal), status
//! changes and exceptions added or removed. An addition, change, re-activation or exception whose
//! entry carries no approval (and was not ratified later, see [`ratifies`]) is flagged `unapproved`.
//! With an incident, only the identities that incident's entries name are compared (a first pass
//! finds them).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use super::state::{IdentityStatus, State};
use super::{event_time, EntryRef, Event, Flow, GovernError, Source};
use crate::entry::Entry;
use crate::record::{Action, Status};
use crate::time::Timestamp;

/// The seqs an entry ratifies: an approved `observe` or `recertify` record that refs earlier
/// entries records their approval after the fact (the way to approve a containment step taken
/// before its approval could be obtained).
pub fn ratifies<'a>(ev: &Event<'a>) -> &'a [u64] {
    let ok = matches!(ev.action(), Action::Observe | Action::Recertify)
        && ev.approved()
        && ev.change.status == Status::Success;
    if ok {
        &ev.change.refs
    } else {
        &[]
    }
}

/// What to compare.
#[derive(Clone, Debug)]
pub struct DriftOptions {
    pub from: Timestamp,
    pub to: Timestamp,
    /// Only identities this incident's entries name.
    pub incident: Option<String>,
}

/// What kind of difference.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// An entitlement present at `to` and not at `from`.
    Added,
    /// An entitlement present at `from` and removed by a recorded entry.
    Removed,
    /// An entitlement present at both, granted again by a newer entry.
    Changed,
    /// An entitlement that expired with no recorded removal.
    Lapsed,
    /// The identity's status (active, disabled, revoked, deleted) differs.
    Status,
    ExceptionAdded,
    ExceptionRemoved,
}

/// An entry that explains a difference.
#[derive(Clone, Debug, Serialize)]
pub struct Explanation {
    #[serde(flatten)]
    pub at: EntryRef,
    pub incident: String,
    pub approved: bool,
    /// The later entry that ratified it, when it had no approval of its own.
    pub ratified_by: Option<u64>,
}

/// One difference between the two states.
#[derive(Clone, Debug, Serialize)]
pub struct DriftChange {
    pub identity: String,
    pub system: String,
    pub id: String,
    pub kind: ChangeKind,
    pub scope: Option<String>,
    /// The entitlement, status or exception at `from` (JSON view).
    pub before: Option<Value>,
    /// And at `to`.
    pub after: Option<Value>,
    pub explained_by: Vec<Explanation>,
    /// Access gained without approval.
    pub unapproved: bool,
    pub note: String,
}

/// The difference between two times.
#[derive(Clone, Debug, Serialize)]
pub struct Drift {
    pub from: Timestamp,
    pub to: Timestamp,
    pub incident: Option<String>,
    pub identities_compared: usize,
    /// Change entries with an event time in `(from, to]` about the compared identities.
    pub entries_in_window: u64,
    pub changes: Vec<DriftChange>,
    pub unapproved: usize,
}

struct Seen {
    at: EntryRef,
    incident: String,
    approved: bool,
    scope: Option<Arc<str>>,
}

/// The identity keys an incident's entries name (up to `until`, by event time).
pub fn incident_identities(source: &Source, incident: &str, until: Timestamp) -> Result<HashSet<String>, GovernError> {
    let mut keys = HashSet::new();
    let mut buf = String::new();
    source.scan(|e| {
        if let Some(ev) = Event::of(e).filter(|ev| ev.incident() == incident && event_time(e) <= until) {
            ev.key_into(&mut buf);
            if !keys.contains(buf.as_str()) {
                keys.insert(buf.clone());
            }
        }
        Ok(Flow::Continue)
    })?;
    Ok(keys)
}

/// Compares access at `opts.from` and `opts.to`.
pub fn drift(source: &Source, opts: &DriftOptions) -> Result<Drift, GovernError> {
    if opts.to < opts.from {
        return Err(GovernError::Invalid(format!(
            "--from ({}) is after --to ({}); give the earlier time first",
            opts.from, opts.to
        )));
    }
    let only = match &opts.incident {
        Some(i) => {
            let keys =
                incident_identities(source, i, Timestamp::from_nanos(crate::time::MAX_NANOS).unwrap_or(opts.to))?;
            if keys.is_empty() {
                return Err(GovernError::Invalid(format!("the ledger holds no entry of incident {i}")));
            }
            Some(keys)
        }
        None => None,
    };
    let mut a = State::new(opts.from, None);
    let mut b = State::new(opts.to, None);
    let mut seen: HashMap<String, Vec<Seen>> = HashMap::new();
    let mut ratified: HashMap<u64, u64> = HashMap::new();
    let mut in_window = 0u64;
    let mut key = String::new();
    source.scan(|e: &Entry| {
        let t = event_time(e);
        let ev = Event::of(e);
        if let Some(ev) = &ev {
            for r in ratifies(ev) {
                ratified.entry(*r).or_insert(ev.at.seq);
            }
            ev.key_into(&mut key);
            if only.as_ref().is_some_and(|k| !k.contains(key.as_str())) {
                return Ok(Flow::Continue);
            }
            if t > opts.from && t <= opts.to && ev.action() != Action::Observe {
                in_window += 1;
                let scope = ev.scope.map(|s| match s {
                    super::TextRef::Value(v) => Arc::from(v),
                    _ => Arc::from(format!("redacted:{}", ev.at.seq)),
                });
                seen.entry(key.clone()).or_default().push(Seen {
                    at: ev.at,
                    incident: ev.incident().to_string(),
                    approved: ev.approved(),
                    scope,
                });
            }
        }
        // Control entries (keys, redactions) are statements about the ledger: both states read them.
        let control = ev.is_none();
        if control || t <= opts.from {
            a.apply_entry(e);
        }
        if control || t <= opts.to {
            b.apply_entry(e);
        }
        Ok(Flow::Continue)
    })?;

    let mut keys: Vec<&String> = a.identities().into_iter().map(|(k, _)| k).collect();
    keys.extend(b.identities().into_iter().map(|(k, _)| k));
    keys.sort();
    keys.dedup();
    let mut changes = Vec::new();
    for k in &keys {
        diff_identity(k, &a, &b, seen.get(*k).map(Vec::as_slice).unwrap_or(&[]), &ratified, &mut changes);
    }
    let unapproved = changes.iter().filter(|c| c.unapproved).count();
    Ok(Drift {
        from: opts.from,
        to: opts.to,
        incident: opts.incident.clone(),
        identities_compared: keys.len(),
        entries_in_window: in_window,
        changes,
        unapproved,
    })
}

fn explain(seen: &[Seen], ratified: &HashMap<u64, u64>, pick: impl Fn(&Seen) -> bool) -> Vec<Explanation> {
    seen.iter()
        .filter(|s| pick(s))
        .map(|s| Explanation {
            at: s.at,
            incident: s.incident.clone(),
            approved: s.approved,
            ratified_by: if s.approved { None } else { ratified.get(&s.at.seq).copied() },
        })
        .collect()
}

fn diff_identity(
    key: &str,
    a: &State,
    b: &State,
    seen: &[Seen],
    ratified: &HashMap<u64, u64>,
    out: &mut Vec<DriftChange>,
) {
    let (ia, ib) = (a.get(key), b.get(key));
    let Some(any) = ib.or(ia) else { return };
    let name = b.name(any);
    let approved_seq = |seq: u64, approved: bool| approved || ratified.contains_key(&seq);
    let change = |kind, scope: Option<&str>, before, after, explained_by, unapproved, note: String| DriftChange {
        identity: name.clone(),
        system: any.system.to_string(),
        id: any.id.to_string(),
        kind,
        scope: scope.map(str::to_string),
        before,
        after,
        explained_by,
        unapproved,
        note,
    };
    let empty = BTreeMap::new();
    let ents_a: BTreeMap<_, _> =
        ia.map(|i| &i.entitlements).unwrap_or(&empty).iter().filter(|(_, e)| e.in_force(a.as_of)).collect();
    let all_b = ib.map(|i| &i.entitlements).unwrap_or(&empty);
    let ents_b: BTreeMap<_, _> = all_b.iter().filter(|(_, e)| e.in_force(b.as_of)).collect();
    for (scope, eb) in &ents_b {
        let before = ents_a.get(scope);
        if before.is_some_and(|ea| ea.granted.seq == eb.granted.seq) {
            continue;
        }
        let ok = approved_seq(eb.granted.seq, eb.approval.is_approved());
        let kind = if before.is_some() { ChangeKind::Changed } else { ChangeKind::Added };
        let note = format!(
            "{} by entry {} ({}, incident {}){}",
            if kind == ChangeKind::Added { "granted" } else { "granted again" },
            eb.granted.seq,
            eb.granted.action,
            eb.incident,
            if ok { String::new() } else { format!("; {}", b.approval_text(&eb.approval)) }
        );
        out.push(change(
            kind,
            Some(scope),
            before.map(|ea| a.entitlement_json(scope, ea)),
            Some(b.entitlement_json(scope, eb)),
            explain(seen, ratified, about(scope)),
            !ok,
            note,
        ));
    }
    for (scope, ea) in &ents_a {
        if ents_b.contains_key(scope) {
            continue;
        }
        let lapsed = all_b.get(*scope).is_some_and(|e| e.granted.seq == ea.granted.seq);
        let (kind, note) = if lapsed {
            let exp = ea.expires_at.map(|t| t.to_rfc3339()).unwrap_or_default();
            (ChangeKind::Lapsed, format!("expired at {exp} (granted by entry {}); no removal recorded", ea.granted.seq))
        } else {
            (ChangeKind::Removed, "removed".to_string())
        };
        out.push(change(
            kind,
            Some(scope),
            Some(a.entitlement_json(scope, ea)),
            None,
            explain(seen, ratified, about(scope)),
            false,
            note,
        ));
    }
    let (sa, sb) = (ia.map(|i| i.status), ib.map(|i| i.status));
    // A status change, or an identity first recorded in the window in a status other than active.
    if sa != sb && (sa.is_some() || sb != Some(IdentityStatus::Active)) {
        let by = ib.and_then(|i| i.status_by);
        let reactivated = sb == Some(IdentityStatus::Active);
        let unapproved = reactivated
            && by.is_some_and(|r| seen.iter().any(|s| s.at.seq == r.seq && !approved_seq(s.at.seq, s.approved)));
        out.push(change(
            ChangeKind::Status,
            None,
            sa.map(|s| Value::from(s.as_str())),
            sb.map(|s| Value::from(s.as_str())),
            explain(seen, ratified, |s| whole_identity(s.at.action) || s.at.action == Action::Enable),
            unapproved,
            format!(
                "{} -> {}",
                sa.map_or("not recorded", IdentityStatus::as_str),
                sb.map_or("not recorded", IdentityStatus::as_str)
            ),
        ));
    }
    let exc_a: BTreeMap<_, _> =
        ia.map(|i| i.exceptions.iter().filter(|(_, x)| x.in_force(a.as_of)).collect()).unwrap_or_default();
    let exc_b: BTreeMap<_, _> =
        ib.map(|i| i.exceptions.iter().filter(|(_, x)| x.in_force(b.as_of)).collect()).unwrap_or_default();
    for (scope, xb) in &exc_b {
        if exc_a.get(scope).is_some_and(|xa| xa.added.seq == xb.added.seq) {
            continue;
        }
        let ok = approved_seq(xb.added.seq, xb.approval.is_approved());
        out.push(change(
            ChangeKind::ExceptionAdded,
            Some(scope),
            None,
            Some(serde_json::json!({"added": xb.added, "approval": b.approval_json(&xb.approval)})),
            explain(seen, ratified, about(scope)),
            !ok,
            format!("exception added by entry {}", xb.added.seq),
        ));
    }
    for (scope, xa) in &exc_a {
        if !exc_b.contains_key(scope) {
            out.push(change(
                ChangeKind::ExceptionRemoved,
                Some(scope),
                Some(serde_json::json!({"added": xa.added})),
                None,
                explain(seen, ratified, about(scope)),
                false,
                "exception ended".to_string(),
            ));
        }
    }
}

/// Actions that act on a whole identity when they carry no scope.
fn about(scope: &str) -> impl Fn(&Seen) -> bool + '_ {
    move |s: &Seen| s.scope.as_deref() == Some(scope) || s.scope.is_none() && whole_identity(s.at.action)
}

fn whole_identity(a: Action) -> bool {
    matches!(a, Action::Revoke | Action::Delete | Action::Disable | Action::Enable | Action::Create)
}
