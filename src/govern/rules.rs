//! Findings: the closure rules, each with a stable ID, and the report that applies them.
//!
//! Every rule below is a constant whose doc comment says exactly what it checks. `docs/GOVERNANCE.md`
//! has the table that maps each rule to the OWASP Non-Human Identity Top 10 (2025) risk and the NIST
//! CSF 2.0 outcome it evidences (a test keeps the table and these constants in agreement). Rule IDs
//! never change meaning; a changed check gets a new ID.
//!
//! [`report`] makes two streaming passes over the verified log. The first finds each incident's
//! first entry, its last `incident_close` and the identities it names. The second replays the state
//! ([`super::state`]) and, per incident in scope, follows its emergency grants, exposed credentials,
//! session revocations, restored identities, unapproved changes, governance outcomes, signer keys and
//! exception changes; it snapshots the named identities' entitlements at the incident's first entry
//! and compares them at its close (drift during recovery). Everything is judged at `as_of`.
//! Memory grows with the state and with the incidents in scope (the identities each names, its open
//! candidates for findings), not with the number of entries.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use serde::{Serialize, Serializer};

use super::drift::ratifies;
use super::state::{Effect, IdentityStatus, State};
use super::Verification;
use super::{event_time, increases_access, EntryRef, Event, Flow, GovernError, Source, Text, TextRef};
use crate::commit::Field;
use crate::entry::{Control, Entry, Hash};
use crate::record::{Action, Status};
use crate::time::Timestamp;

/// How much a finding matters. `--fail-on` compares with this order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 5] =
        [Severity::Info, Severity::Low, Severity::Medium, Severity::High, Severity::Critical];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl std::str::FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Severity::ALL
            .into_iter()
            .find(|v| v.as_str() == s.to_ascii_lowercase())
            .ok_or_else(|| format!("unknown severity `{s}` (expected one of: info, low, medium, high, critical)"))
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Severity {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A closure rule: its stable ID, default severity, what it evidences and what to do about it.
#[derive(Debug, PartialEq, Eq)]
pub struct Rule {
    pub id: &'static str,
    pub severity: Severity,
    pub title: &'static str,
    /// OWASP Non-Human Identities Top 10 (2025) risks, e.g. `NHI1`, or `-`.
    pub owasp: &'static str,
    /// NIST CSF 2.0 outcomes, e.g. `PR.AA-05`.
    pub csf: &'static str,
    /// The suggested action, in general; findings add specifics.
    pub action: &'static str,
}

/// An `emergency_grant` of the incident whose entitlement is still in force at `as_of`: not
/// revoked, not replaced, not lapsed. Break-glass access must end by a recorded revocation.
pub const EG_STILL_ACTIVE: Rule = Rule {
    id: "CUS-EG-001",
    severity: Severity::High,
    title: "Emergency grant still active",
    owasp: "NHI1, NHI5",
    csf: "PR.AA-05, RC.RP-06",
    action: "revoke the emergency grant and record the revocation with refs to the grant entry",
};

/// An `emergency_grant` whose `expires_at` passed with no recorded revocation before it (it lapsed
/// silently), including one revoked only after it had expired. Nobody is on record ending it.
pub const EG_SILENT_EXPIRY: Rule = Rule {
    id: "CUS-EG-002",
    severity: Severity::Medium,
    title: "Emergency grant expired without a recorded revocation",
    owasp: "NHI1",
    csf: "PR.AA-05, RS.AN-06",
    action: "confirm at the source that the access is gone and record a revoke with refs to the grant entry",
};

/// An `emergency_grant` recorded with `{"approval": {"none": ...}}` and never ratified (no later
/// approved `observe` or `recertify` record refs it).
pub const EG_NO_APPROVAL: Rule = Rule {
    id: "CUS-EG-003",
    severity: Severity::High,
    title: "Emergency grant without approval",
    owasp: "NHI5",
    csf: "PR.AA-05, GV.RR-02",
    action: "obtain the approval and record it: an approved `observe` record with refs to the grant entry",
};

/// An `emergency_grant` whose record names no owner while its identity had none either: nobody is
/// accountable for ending it.
pub const EG_NO_OWNER: Rule = Rule {
    id: "CUS-EG-004",
    severity: Severity::Medium,
    title: "Emergency grant without an accountable owner",
    owasp: "NHI1",
    csf: "GV.RR-02, PR.AA-01",
    action:
        "name the owner accountable for the grant (a record with `owner`), and give owners to break-glass identities",
};

/// An `emergency_grant` without `expires_at`, or whose expiry is further after the grant than the
/// emergency window (default 24 hours, `--max-emergency`): not time-boxed.
pub const EG_NOT_TIMEBOXED: Rule = Rule {
    id: "CUS-EG-005",
    severity: Severity::Medium,
    title: "Emergency grant not time-boxed",
    owasp: "NHI7",
    csf: "PR.AA-05",
    action: "shorten break-glass grants to the emergency window and re-grant if the work needs longer",
};

/// A credential identity (api_key, oauth_grant, token, certificate, secret) named by the incident,
/// and not created by it, with no `rotate`, `revoke` or `delete` of it at or after the incident first
/// named it. A `disable` alone does not count: it can be undone.
pub const CR_NOT_ROTATED: Rule = Rule {
    id: "CUS-CR-001",
    severity: Severity::Critical,
    title: "Exposed credential not rotated or revoked",
    owasp: "NHI2, NHI3, NHI7",
    csf: "RS.MI-02, PR.AA-01",
    action: "rotate or revoke the credential at its source and record it",
};

/// An incident that names an exposed credential (as for CUS-CR-001) but has no `session_revoke`
/// at or after the credential was first named: sessions and tokens issued with it may still work.
pub const CR_NO_SESSION_REVOKE: Rule = Rule {
    id: "CUS-CR-002",
    severity: Severity::High,
    title: "No session revocation after a credential compromise",
    owasp: "NHI2, NHI7",
    csf: "RS.MI-01, RS.MI-02",
    action: "revoke the sessions and tokens issued with the credential and record a session_revoke",
};

/// An identity the incident restored (`enable`, or `create` of one that was deleted) that is active
/// at `as_of` with no owner on record.
pub const ID_RESTORED_NO_OWNER: Rule = Rule {
    id: "CUS-ID-001",
    severity: Severity::High,
    title: "Restored identity without an accountable owner",
    owasp: "NHI1",
    csf: "RC.RP-05, GV.RR-02, ID.AM-08",
    action: "record the identity's accountable owner (ownership_change), or disable it until one is named",
};

/// A change of the incident that adds or widens access (`grant`, `enable`, `create`,
/// `exception_add`, `policy_change`, `ownership_change`, `mfa_reset`) and took effect without
/// approval and was never ratified. Emergency grants are CUS-EG-003.
pub const AP_INCREASE_UNAPPROVED: Rule = Rule {
    id: "CUS-AP-001",
    severity: Severity::High,
    title: "Access-increasing change without approval",
    owasp: "NHI5",
    csf: "PR.AA-05, GV.RR-02",
    action: "review the change; revoke it, or record its approval (an approved `observe` record with refs to it)",
};

/// A containment change of the incident (`revoke`, `disable`, `delete`, `rotate`,
/// `session_revoke`, `exception_remove`) without approval and never ratified. Often right in an
/// emergency, but the approval belongs on record afterwards.
pub const AP_CONTAINMENT_UNAPPROVED: Rule = Rule {
    id: "CUS-AP-002",
    severity: Severity::Low,
    title: "Containment change without approval",
    owasp: "-",
    csf: "RS.MI-01, RS.AN-06",
    action: "record the retrospective approval: an approved `observe` record with refs to the entry",
};

/// An access-increasing change (including an emergency grant) whose approver is its actor: no
/// separation of duties.
pub const AP_SELF_APPROVED: Rule = Rule {
    id: "CUS-AP-003",
    severity: Severity::Medium,
    title: "Self-approved access-increasing change",
    owasp: "NHI5",
    csf: "PR.AA-05",
    action: "have someone other than the actor approve the change, and record it",
};

/// An entitlement of an identity the incident names that is in force at the incident's close and
/// was not in force (with the same grant entry) at its first entry, granted by an entry of another
/// incident without approval: access drifted during recovery beyond what was approved.
pub const DR_UNAPPROVED_DRIFT: Rule = Rule {
    id: "CUS-DR-001",
    severity: Severity::High,
    title: "Unapproved access drift during recovery",
    owasp: "NHI5",
    csf: "PR.AA-05, RC.RP-05",
    action: "review the entitlement with its owner; revoke it or record its approval",
};

/// A closed incident whose identities carry more exceptions at the last weekly point after its
/// close (up to `--weeks`, default 4) than at its close: the exception list grows after
/// certification. Counted as the net change (added minus removed or expired) since its first entry.
pub const EX_GROWING: Rule = Rule {
    id: "CUS-EX-001",
    severity: Severity::Medium,
    title: "Exception list growing after the incident's close",
    owasp: "NHI5, NHI7",
    csf: "ID.IM-03, PR.AA-05",
    action: "review the new exceptions with their owners; remove them or give each an expiry",
};

/// A closed incident that has other findings of medium severity or more at `as_of`: it was closed
/// while its response was incomplete.
pub const IN_CLOSED_OPEN_FINDINGS: Rule = Rule {
    id: "CUS-IN-001",
    severity: Severity::High,
    title: "Incident closed with open findings",
    owasp: "-",
    csf: "RC.RP-06",
    action: "resolve the open findings, then close the incident again",
};

/// A closed incident with no governance outcome among its entries: no `recertify`, no
/// `exception_add` or `exception_remove` (exception documented or withdrawn), no
/// `ownership_change`, and no `revoke`, `delete`, `disable` or `policy_change` that removed a
/// non-emergency entitlement (entitlement reduced).
pub const IN_NO_GOVERNANCE: Rule = Rule {
    id: "CUS-IN-002",
    severity: Severity::Medium,
    title: "Incident closed without a governance outcome",
    owasp: "NHI1, NHI5",
    csf: "ID.IM-03, RC.RP-06",
    action: "record the outcome: recertify the identities, reduce the entitlement, or document the exception",
};

/// Entries of the incident signed by a key that a later `key_retire` retired. The entries stay
/// valid (they were signed before the retirement); the finding says which evidence rests on it.
pub const KEY_RETIRED_LATER: Rule = Rule {
    id: "CUS-KEY-001",
    severity: Severity::Info,
    title: "Entries signed by a key retired later",
    owasp: "-",
    csf: "RS.AN-06",
    action: "none needed; keep the retired key's public key with the evidence",
};

/// Every rule, in the order of `docs/GOVERNANCE.md`.
pub const RULES: &[&Rule] = &[
    &EG_STILL_ACTIVE,
    &EG_SILENT_EXPIRY,
    &EG_NO_APPROVAL,
    &EG_NO_OWNER,
    &EG_NOT_TIMEBOXED,
    &CR_NOT_ROTATED,
    &CR_NO_SESSION_REVOKE,
    &ID_RESTORED_NO_OWNER,
    &AP_INCREASE_UNAPPROVED,
    &AP_CONTAINMENT_UNAPPROVED,
    &AP_SELF_APPROVED,
    &DR_UNAPPROVED_DRIFT,
    &EX_GROWING,
    &IN_CLOSED_OPEN_FINDINGS,
    &IN_NO_GOVERNANCE,
    &KEY_RETIRED_LATER,
];

/// An entry that is evidence for a finding, and its role in it.
#[derive(Clone, Debug, Serialize)]
pub struct Evidence {
    pub seq: u64,
    #[serde(serialize_with = "hex_hash")]
    pub entry_hash: Hash,
    pub action: &'static str,
    pub time: Timestamp,
    /// What the entry is in this finding: `grant`, `revocation`, `close`, ...
    pub role: &'static str,
}

fn hex_hash<S: Serializer>(h: &Hash, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex::encode(h))
}

impl Evidence {
    pub fn of(r: &EntryRef, role: &'static str) -> Self {
        Evidence { seq: r.seq, entry_hash: r.hash, action: r.action.as_str(), time: r.time, role }
    }
    fn control(e: &Entry, role: &'static str) -> Self {
        Evidence { seq: e.seq(), entry_hash: e.hash, action: e.action_name(), time: e.header().ledger_time, role }
    }
    /// `#seq action hash-prefix` for people.
    pub fn short(&self) -> String {
        format!("#{} {} {} ({})", self.seq, self.action, &hex::encode(self.entry_hash)[..16], self.role)
    }
}

/// One finding: which rule, about what, routed to whom, on which evidence, and what to do.
#[derive(Clone, Debug)]
pub struct Finding {
    pub rule: &'static Rule,
    pub incident: String,
    /// The identity concerned, `id (kind, system)`.
    pub identity: Option<String>,
    /// Who to route it to: the identity's owner, else the incident's owner, else its opener.
    pub route_to: String,
    pub message: String,
    pub evidence: Vec<Evidence>,
    pub action: String,
}

impl Finding {
    pub fn severity(&self) -> Severity {
        self.rule.severity
    }
}

impl Serialize for Finding {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Finding", 11)?;
        st.serialize_field("rule", self.rule.id)?;
        st.serialize_field("severity", &self.rule.severity)?;
        st.serialize_field("title", self.rule.title)?;
        st.serialize_field("incident", &self.incident)?;
        st.serialize_field("identity", &self.identity)?;
        st.serialize_field("route_to", &self.route_to)?;
        st.serialize_field("message", &self.message)?;
        st.serialize_field("evidence", &self.evidence)?;
        st.serialize_field("suggested_action", &self.action)?;
        st.serialize_field("owasp_nhi", self.rule.owasp)?;
        st.serialize_field("nist_csf", self.rule.csf)?;
        st.end()
    }
}

/// One point of an incident's exception trend.
#[derive(Clone, Debug, Serialize)]
pub struct TrendPoint {
    /// `opened`, `closed`, `+1w`, `+2w`, ...
    pub label: String,
    pub at: Timestamp,
    /// Exceptions added minus removed or expired on the incident's identities since its first entry.
    pub net: i64,
}

/// The weekly exception trend of an incident after its close.
#[derive(Clone, Debug, Serialize)]
pub struct Trend {
    /// Identities the incident names (the trend counts their exceptions).
    pub identities: usize,
    pub points: Vec<TrendPoint>,
    /// `growing`, `shrinking` or `flat` after the close; `not closed`; `too early` (less than a week).
    pub direction: &'static str,
}

/// What the report says about one incident.
#[derive(Clone, Debug, Serialize)]
pub struct IncidentSummary {
    pub incident: String,
    pub status: &'static str,
    pub first: EntryRef,
    pub closed: Option<EntryRef>,
    pub entries: u64,
    pub identities: usize,
    pub owner: Option<String>,
    /// Entries that are governance outcomes (see CUS-IN-002).
    pub governance: Vec<EntryRef>,
    pub exception_trend: Trend,
    pub findings: usize,
}

/// The findings report.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub verification: Verification,
    /// The loud warning when the ledger is not verified.
    pub warning: Option<String>,
    pub as_of: Timestamp,
    pub incident: Option<String>,
    pub entries_read: u64,
    /// Frames that did not parse or decode and were skipped (only when the ledger is unverified).
    pub frames_skipped: u64,
    pub incidents: Vec<IncidentSummary>,
    pub counts: BTreeMap<&'static str, usize>,
    pub findings: Vec<Finding>,
}

impl Report {
    /// How many findings are at or above `s`.
    pub fn at_or_above(&self, s: Severity) -> usize {
        self.findings.iter().filter(|f| f.severity() >= s).count()
    }
}

/// What to report on.
#[derive(Clone, Debug)]
pub struct ReportOptions {
    /// One incident, or every incident.
    pub incident: Option<String>,
    /// Entries with an event time after this are left out; expiry and trends are judged at it.
    pub as_of: Timestamp,
    /// Weekly points after an incident's close for CUS-EX-001.
    pub weeks: u32,
    /// The longest emergency grant that counts as time-boxed (CUS-EG-005), in nanoseconds.
    pub max_emergency: i64,
}

const WEEK: i64 = 7 * 86_400 * 1_000_000_000;
const HOUR: i64 = 3_600 * 1_000_000_000;

impl ReportOptions {
    pub fn new(as_of: Timestamp) -> Self {
        ReportOptions { incident: None, as_of, weeks: 4, max_emergency: 24 * HOUR }
    }
}

// ---- the engine -----------------------------------------------------------------------------------

struct Pass1 {
    first_seq: u64,
    close_seq: Option<u64>,
    named: HashSet<String>,
}

struct Cred {
    name: String,
    first: EntryRef,
    created: bool,
    remediated: Option<EntryRef>,
    disabled: Option<EntryRef>,
}

struct Emergency {
    track: usize,
    key: String,
    name: String,
    scope: Arc<str>,
    grant: EntryRef,
    approved: bool,
    approval_note: String,
    has_owner: bool,
    expires_at: Option<Timestamp>,
    ended: Option<(EntryRef, &'static str)>,
}

struct Unapproved {
    track: usize,
    at: EntryRef,
    key: String,
    name: String,
    note: String,
}

struct ExItem {
    add: Option<EntryRef>,
    expires: Option<Timestamp>,
    removed: Option<Timestamp>,
}

impl ExItem {
    fn end(&self) -> Option<Timestamp> {
        match (self.removed, self.expires) {
            (Some(r), Some(x)) => Some(r.min(x)),
            (r, x) => r.or(x),
        }
    }
}

struct Track {
    id: String,
    first_seq: u64,
    named: HashSet<String>,
    first: Option<EntryRef>,
    closed: Option<EntryRef>,
    entries: u64,
    opener: Option<String>,
    owner: Option<String>,
    creds: BTreeMap<String, Cred>,
    sessions: Vec<EntryRef>,
    governance: Vec<EntryRef>,
    restored: Vec<(String, String, EntryRef)>,
    before: HashMap<String, BTreeMap<Arc<str>, u64>>,
    drift: Vec<(String, String, Arc<str>, super::state::Entitlement)>,
    ex_items: Vec<ExItem>,
    ex_index: HashMap<u64, usize>,
    ex_unrecorded: Vec<Timestamp>,
    keys: BTreeMap<[u8; 8], (u64, EntryRef, EntryRef)>,
}

impl Track {
    fn net_at(&self, t: Timestamp) -> i64 {
        let added = self.ex_items.iter().filter(|x| x.add.is_some_and(|a| a.time <= t)).count() as i64;
        let ended = self.ex_items.iter().filter(|x| x.end().is_some_and(|e| e <= t)).count() as i64;
        let unrecorded = self.ex_unrecorded.iter().filter(|r| **r <= t).count() as i64;
        added - ended - unrecorded
    }
}

struct Engine<'o> {
    opts: &'o ReportOptions,
    state: State,
    tracks: Vec<Track>,
    by_incident: HashMap<String, usize>,
    by_first: HashMap<u64, usize>,
    by_close: HashMap<u64, usize>,
    /// Identity key -> the incidents in scope that name it.
    naming: HashMap<String, Vec<usize>>,
    emergencies: Vec<Emergency>,
    emergency_by_grant: HashMap<u64, usize>,
    cred_index: HashMap<String, Vec<usize>>,
    unapproved: Vec<(Unapproved, bool)>,
    ratified: HashMap<u64, u64>,
    retired: BTreeMap<String, Evidence>,
    findings: Vec<Finding>,
    key: String,
}

/// Runs every rule over the source, judged at `opts.as_of`.
pub fn report(source: &Source, opts: &ReportOptions) -> Result<Report, GovernError> {
    // Pass 1: the incidents in scope, their first entry, last close and named identities.
    let mut p1: BTreeMap<String, Pass1> = BTreeMap::new();
    let mut buf = String::new();
    source.scan(|e| {
        let Some(ev) = Event::of(e) else { return Ok(Flow::Continue) };
        if event_time(e) > opts.as_of || opts.incident.as_deref().is_some_and(|i| i != ev.incident()) {
            return Ok(Flow::Continue);
        }
        if !p1.contains_key(ev.incident()) {
            p1.insert(ev.incident().to_string(), Pass1 { first_seq: e.seq(), close_seq: None, named: HashSet::new() });
        }
        let Some(p) = p1.get_mut(ev.incident()) else { return Ok(Flow::Continue) };
        if ev.action() == Action::IncidentClose && ev.change.status == Status::Success {
            p.close_seq = Some(e.seq());
        }
        ev.key_into(&mut buf);
        if !p.named.contains(buf.as_str()) {
            p.named.insert(buf.clone());
        }
        Ok(Flow::Continue)
    })?;
    if let Some(i) = &opts.incident {
        if p1.is_empty() {
            return Err(GovernError::Invalid(format!(
                "the ledger holds no entry of incident {i} with an event time at or before {}",
                opts.as_of
            )));
        }
    }
    let mut eng = Engine {
        opts,
        state: State::new(opts.as_of, None),
        tracks: Vec::new(),
        by_incident: HashMap::new(),
        by_first: HashMap::new(),
        by_close: HashMap::new(),
        naming: HashMap::new(),
        emergencies: Vec::new(),
        emergency_by_grant: HashMap::new(),
        cred_index: HashMap::new(),
        unapproved: Vec::new(),
        ratified: HashMap::new(),
        retired: BTreeMap::new(),
        findings: Vec::new(),
        key: String::new(),
    };
    for (id, p) in p1 {
        let i = eng.tracks.len();
        eng.by_incident.insert(id.clone(), i);
        eng.by_first.insert(p.first_seq, i);
        if let Some(c) = p.close_seq {
            eng.by_close.insert(c, i);
        }
        for k in &p.named {
            eng.naming.entry(k.clone()).or_default().push(i);
        }
        eng.tracks.push(Track {
            id,
            first_seq: p.first_seq,
            named: p.named,
            first: None,
            closed: None,
            entries: 0,
            opener: None,
            owner: None,
            creds: BTreeMap::new(),
            sessions: Vec::new(),
            governance: Vec::new(),
            restored: Vec::new(),
            before: HashMap::new(),
            drift: Vec::new(),
            ex_items: Vec::new(),
            ex_index: HashMap::new(),
            ex_unrecorded: Vec::new(),
            keys: BTreeMap::new(),
        });
    }
    // Pass 2: replay and follow.
    let stats = source.scan(|e| {
        // Control entries (keys, redactions) are statements about the ledger: always read.
        if e.change().is_none() || event_time(e) <= opts.as_of {
            eng.entry(e);
        }
        Ok(Flow::Continue)
    })?;
    eng.finish();
    let mut findings = std::mem::take(&mut eng.findings);
    findings.sort_by(|a, b| {
        b.severity()
            .cmp(&a.severity())
            .then_with(|| a.incident.cmp(&b.incident))
            .then_with(|| a.evidence.first().map(|e| e.seq).cmp(&b.evidence.first().map(|e| e.seq)))
            .then_with(|| a.rule.id.cmp(b.rule.id))
    });
    let mut counts = BTreeMap::new();
    for s in Severity::ALL {
        counts.insert(s.as_str(), findings.iter().filter(|f| f.severity() == s).count());
    }
    let mut per_incident: HashMap<&str, usize> = HashMap::new();
    for f in &findings {
        *per_incident.entry(f.incident.as_str()).or_default() += 1;
    }
    let incidents = eng
        .tracks
        .iter()
        .filter_map(|t| {
            Some(IncidentSummary {
                incident: t.id.clone(),
                status: if t.closed.is_some() { "closed" } else { "open" },
                first: t.first?,
                closed: t.closed,
                entries: t.entries,
                identities: t.named.len(),
                owner: t.owner.clone(),
                governance: t.governance.clone(),
                exception_trend: eng.trend(t),
                findings: per_incident.get(t.id.as_str()).copied().unwrap_or(0),
            })
        })
        .collect();
    Ok(Report {
        verification: source.verification().clone(),
        warning: source.verification().banner(),
        as_of: opts.as_of,
        incident: opts.incident.clone(),
        entries_read: stats.read,
        frames_skipped: stats.skipped,
        incidents,
        counts,
        findings,
    })
}

fn duration(nanos: i64) -> String {
    let m = nanos.unsigned_abs() / 60_000_000_000;
    let (d, h, m) = (m / 1440, (m / 60) % 24, m % 60);
    match (d, h) {
        (0, 0) => format!("{m}m"),
        (0, _) => format!("{h}h {m:02}m"),
        _ => format!("{d}d {h}h"),
    }
}

impl Engine<'_> {
    fn entry(&mut self, e: &Entry) {
        if let Some(Control::KeyRetire { key_id, .. }) = e.control() {
            self.retired.insert(hex::encode(key_id), Evidence::control(e, "key_retire"));
        }
        let Some(ev) = Event::of(e) else {
            self.state.apply_entry(e);
            return;
        };
        let track = self.by_incident.get(ev.incident()).copied();
        if let Some(&t) = self.by_first.get(&e.seq()) {
            self.snapshot(t, ev.at.time);
        }
        let mut key = std::mem::take(&mut self.key);
        ev.key_into(&mut key);
        let eff = self.state.apply_entry(e);
        // Any incident's grant can need its ratification (CUS-DR-001 looks across incidents).
        for r in ratifies(&ev) {
            self.ratified.entry(*r).or_insert(ev.at.seq);
        }
        self.follow_emergencies(&ev, &eff);
        self.follow_credentials(&ev, &key);
        self.follow_exceptions(&ev, &eff, &key);
        if let Some(t) = track {
            self.incident_entry(t, e, &ev, &eff, &key);
        }
        self.key = key;
        if let Some(&t) = self.by_close.get(&e.seq()) {
            self.at_close(t);
        }
    }

    /// Before the incident's first entry: the named identities' entitlements and exceptions.
    fn snapshot(&mut self, t: usize, at: Timestamp) {
        let track = &mut self.tracks[t];
        for k in &track.named {
            let Some(ident) = self.state.get(k) else { continue };
            let ents =
                ident.entitlements.iter().filter(|(_, e)| e.in_force(at)).map(|(s, e)| (s.clone(), e.granted.seq));
            track.before.insert(k.clone(), ents.collect());
            for x in ident.exceptions.values().filter(|x| x.in_force(at)) {
                track.ex_index.insert(x.added.seq, track.ex_items.len());
                track.ex_items.push(ExItem { add: None, expires: x.expires_at, removed: None });
            }
        }
    }

    fn follow_emergencies(&mut self, ev: &Event<'_>, eff: &Effect) {
        let how = match ev.action() {
            Action::Revoke => "revoked",
            Action::Delete => "deleted",
            Action::Disable => "disabled",
            _ => "ended",
        };
        for (_, ent) in &eff.removed {
            if let Some(&i) = self.emergency_by_grant.get(&ent.granted.seq) {
                self.emergencies[i].ended.get_or_insert((ev.at, how));
            }
        }
        if let Some((_, old)) = &eff.replaced {
            if let Some(&i) = self.emergency_by_grant.get(&old.granted.seq) {
                self.emergencies[i].ended.get_or_insert((ev.at, "replaced by a newer grant"));
            }
        }
    }

    fn follow_credentials(&mut self, ev: &Event<'_>, key: &str) {
        if !ev.change.target_kind.is_credential() || ev.change.status != Status::Success {
            return;
        }
        let remediates = matches!(ev.action(), Action::Rotate | Action::Revoke | Action::Delete);
        let disables = ev.action() == Action::Disable;
        if !(remediates || disables) {
            return;
        }
        for &t in self.cred_index.get(key).map(Vec::as_slice).unwrap_or(&[]) {
            if let Some(c) = self.tracks[t].creds.get_mut(key) {
                if c.first.seq <= ev.at.seq {
                    if remediates {
                        c.remediated.get_or_insert(ev.at);
                    } else {
                        c.disabled.get_or_insert(ev.at);
                    }
                }
            }
        }
    }

    fn follow_exceptions(&mut self, ev: &Event<'_>, eff: &Effect, key: &str) {
        let touched =
            eff.exception_added.is_some() || !eff.exceptions_removed.is_empty() || eff.exception_removed_unrecorded;
        if !touched {
            return;
        }
        let seq = ev.at.seq;
        fn end(track: &mut Track, added_seq: u64, at: Timestamp) {
            if let Some(&i) = track.ex_index.get(&added_seq) {
                track.ex_items[i].removed.get_or_insert(at);
            }
        }
        // The trend looks at most `weeks` past an incident's close; later changes are not kept.
        let horizon = i64::from(self.opts.weeks) * WEEK;
        for &t in self.naming.get(key).map(Vec::as_slice).unwrap_or(&[]) {
            let track = &mut self.tracks[t];
            if seq < track.first_seq || track.closed.is_some_and(|c| ev.at.time.nanos() - c.time.nanos() > horizon) {
                continue;
            }
            if let Some(old) = &eff.exception_replaced {
                end(track, old.added.seq, ev.at.time);
            }
            for (_, x) in &eff.exceptions_removed {
                end(track, x.added.seq, ev.at.time);
            }
            if eff.exception_removed_unrecorded {
                track.ex_unrecorded.push(ev.at.time);
            }
            if eff.exception_added.is_some() {
                track.ex_index.insert(seq, track.ex_items.len());
                track.ex_items.push(ExItem { add: Some(ev.at), expires: ev.change.expires_at, removed: None });
            }
        }
    }

    fn incident_entry(&mut self, t: usize, e: &Entry, ev: &Event<'_>, eff: &Effect, key: &str) {
        let action = ev.action();
        let applied = !eff.ignored && !eff.filtered;
        {
            let track = &mut self.tracks[t];
            track.entries += 1;
            track.first.get_or_insert(ev.at);
            if track.opener.is_none() || action == Action::IncidentOpen {
                if let Some(a) = ev.actor.value() {
                    track.opener = Some(a.to_string());
                }
            }
            if action == Action::IncidentOpen {
                if let Some(o) = ev.owner {
                    track.owner = Some(self.state.show(&to_text(o)));
                }
            }
            if action == Action::IncidentClose && applied {
                track.closed = Some(ev.at);
            }
            let k = track.keys.entry(e.header().key_id).or_insert((0, ev.at, ev.at));
            k.0 += 1;
            k.2 = ev.at;
        }
        // Credentials named by the incident.
        if ev.change.target_kind.is_credential() {
            let track = &mut self.tracks[t];
            if !track.creds.contains_key(key) {
                let created = action == Action::Create;
                let remediated = (ev.change.status == Status::Success
                    && matches!(action, Action::Rotate | Action::Revoke | Action::Delete))
                .then_some(ev.at);
                let disabled = (ev.change.status == Status::Success && action == Action::Disable).then_some(ev.at);
                track.creds.insert(
                    key.to_string(),
                    Cred { name: name_of(&self.state, key, ev), first: ev.at, created, remediated, disabled },
                );
                self.cred_index.entry(key.to_string()).or_default().push(t);
            }
        }
        if !applied {
            return;
        }
        let track = &mut self.tracks[t];
        if action == Action::SessionRevoke {
            track.sessions.push(ev.at);
        }
        let reduced = eff.removed.iter().any(|(_, x)| !x.emergency());
        if matches!(
            action,
            Action::Recertify | Action::ExceptionAdd | Action::ExceptionRemove | Action::OwnershipChange
        ) || reduced
        {
            track.governance.push(ev.at);
        }
        if eff.restored {
            track.restored.push((key.to_string(), name_of(&self.state, key, ev), ev.at));
        }
        // Approvals.
        let approved = ev.approved();
        let exempt =
            matches!(action, Action::IncidentOpen | Action::IncidentClose | Action::Observe | Action::Recertify);
        if action == Action::EmergencyGrant {
            let has_owner = self.state.get(key).is_some_and(|i| i.owner.is_some());
            let note = if approved { String::new() } else { approval_none(ev, &self.state) };
            let i = self.emergencies.len();
            self.emergency_by_grant.insert(ev.at.seq, i);
            let scope = eff.added.clone().or_else(|| eff.replaced.as_ref().map(|(s, _)| s.clone()));
            self.emergencies.push(Emergency {
                track: t,
                key: key.to_string(),
                name: name_of(&self.state, key, ev),
                scope: scope.unwrap_or_else(|| Arc::from("(unscoped)")),
                grant: ev.at,
                approved,
                approval_note: note,
                has_owner,
                expires_at: ev.change.expires_at,
                ended: None,
            });
        } else if !approved && !exempt {
            let note = approval_none(ev, &self.state);
            self.unapproved.push((
                Unapproved { track: t, at: ev.at, key: key.to_string(), name: name_of(&self.state, key, ev), note },
                increases_access(action),
            ));
        }
        if approved && increases_access(action) {
            let by = crate::govern::text(ev.entry, ev.change, Field::ApprovalBy).and_then(TextRef::value);
            if let (Some(by), Some(actor)) = (by, ev.actor.value()) {
                if by == actor {
                    let f = self.finding(
                        &AP_SELF_APPROVED,
                        t,
                        Some(key),
                        Some(name_of(&self.state, key, ev)),
                        format!("entry {} ({action}) was approved by its own actor {actor}", ev.at.seq),
                        vec![Evidence::of(&ev.at, "change")],
                        AP_SELF_APPROVED.action.to_string(),
                    );
                    self.findings.push(f);
                }
            }
        }
    }

    /// At the incident's close: which named identities gained access from outside the incident.
    fn at_close(&mut self, t: usize) {
        let track = &self.tracks[t];
        let Some(close) = track.closed else { return };
        let mut drift = Vec::new();
        for k in &track.named {
            let Some(ident) = self.state.get(k) else { continue };
            let before = track.before.get(k);
            for (scope, ent) in ident.effective(close.time) {
                let same = before.and_then(|b| b.get(scope)).is_some_and(|s| *s == ent.granted.seq);
                if !same && ent.incident.as_ref() != track.id && !ent.approval.is_approved() {
                    drift.push((k.clone(), self.state.name(ident), scope.clone(), ent.clone()));
                }
            }
        }
        self.tracks[t].drift = drift;
    }

    fn route(&self, t: usize, key: Option<&str>) -> String {
        if let Some(o) = key.and_then(|k| self.state.get(k)).and_then(|i| i.owner.as_ref()) {
            return self.state.show(&o.value);
        }
        let track = &self.tracks[t];
        if let Some(o) = &track.owner {
            return format!("{o} (incident owner)");
        }
        match &track.opener {
            Some(o) => format!("{o} (incident opener)"),
            None => "unassigned".to_string(),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn finding(
        &self,
        rule: &'static Rule,
        t: usize,
        key: Option<&str>,
        identity: Option<String>,
        message: String,
        evidence: Vec<Evidence>,
        action: String,
    ) -> Finding {
        Finding {
            rule,
            incident: self.tracks[t].id.clone(),
            identity,
            route_to: self.route(t, key),
            message,
            evidence,
            action,
        }
    }

    fn trend(&self, t: &Track) -> Trend {
        let identities = t.named.len();
        let Some(first) = t.first else {
            return Trend { identities, points: Vec::new(), direction: "not closed" };
        };
        let mut points = vec![TrendPoint { label: "opened".into(), at: first.time, net: 0 }];
        let Some(close) = t.closed else {
            points.push(TrendPoint { label: "as of".into(), at: self.opts.as_of, net: t.net_at(self.opts.as_of) });
            return Trend { identities, points, direction: "not closed" };
        };
        points.push(TrendPoint { label: "closed".into(), at: close.time, net: t.net_at(close.time) });
        for k in 1..=i64::from(self.opts.weeks) {
            let at = close.time.saturating_add_nanos(k * WEEK);
            if at > self.opts.as_of {
                break;
            }
            points.push(TrendPoint { label: format!("+{k}w"), at, net: t.net_at(at) });
        }
        let direction = if points.len() < 3 {
            "too early"
        } else {
            let (c, l) = (points[1].net, points[points.len() - 1].net);
            match l.cmp(&c) {
                std::cmp::Ordering::Greater => "growing",
                std::cmp::Ordering::Less => "shrinking",
                std::cmp::Ordering::Equal => "flat",
            }
        };
        Trend { identities, points, direction }
    }

    fn finish(&mut self) {
        let as_of = self.opts.as_of;
        let mut out = Vec::new();
        // Emergency grants.
        for g in &self.emergencies {
            let key = Some(g.key.as_str());
            let grant = Evidence::of(&g.grant, "grant");
            let closed = self.tracks[g.track].closed;
            let exp = g.expires_at;
            let exp_text = exp.map(|x| x.to_rfc3339()).unwrap_or_else(|| "never".into());
            let what = format!("emergency grant of `{}` to {} (entry {})", g.scope, g.name, g.grant.seq);
            match (g.ended, exp) {
                (None, Some(x)) if x <= as_of => out.push(self.finding(
                    &EG_SILENT_EXPIRY,
                    g.track,
                    key,
                    Some(g.name.clone()),
                    format!("{what} expired at {exp_text} and no revocation was recorded"),
                    vec![grant.clone()],
                    format!(
                        "confirm at the source that `{}` is gone and record a revoke with refs [{}]",
                        g.scope, g.grant.seq
                    ),
                )),
                (None, _) => {
                    let left = exp
                        .map(|x| format!("; it expires at {exp_text}, in {}", duration(x.nanos() - as_of.nanos())))
                        .unwrap_or_default();
                    let closed_note = closed
                        .map(|c| format!(", although the incident closed at entry {}", c.seq))
                        .unwrap_or_default();
                    let mut ev = vec![grant.clone()];
                    if let Some(c) = closed {
                        ev.push(Evidence::of(&c, "close"));
                    }
                    out.push(self.finding(
                        &EG_STILL_ACTIVE,
                        g.track,
                        key,
                        Some(g.name.clone()),
                        format!("{what} is still in force{left}{closed_note}"),
                        ev,
                        format!(
                            "revoke `{}` from {} and record the revoke with refs [{}]",
                            g.scope, g.name, g.grant.seq
                        ),
                    ));
                }
                (Some((end, how)), Some(x)) if end.time > x => out.push(self.finding(
                    &EG_SILENT_EXPIRY,
                    g.track,
                    key,
                    Some(g.name.clone()),
                    format!(
                        "{what} expired at {exp_text}; it was {how} only by entry {}, {} after it had expired",
                        end.seq,
                        duration(end.time.nanos() - x.nanos())
                    ),
                    vec![grant.clone(), Evidence::of(&end, "late revocation")],
                    "end break-glass grants by a recorded revocation before they expire".to_string(),
                )),
                _ => {}
            }
            if !g.approved && !self.ratified.contains_key(&g.grant.seq) {
                out.push(self.finding(
                    &EG_NO_APPROVAL,
                    g.track,
                    key,
                    Some(g.name.clone()),
                    format!("{what} had no approval: {}", g.approval_note),
                    vec![grant.clone()],
                    format!("record the approval: an approved `observe` record with refs [{}]", g.grant.seq),
                ));
            }
            if !g.has_owner {
                out.push(self.finding(
                    &EG_NO_OWNER,
                    g.track,
                    key,
                    Some(g.name.clone()),
                    format!("{what} names no owner, and {} had none on record", g.name),
                    vec![grant.clone()],
                    EG_NO_OWNER.action.to_string(),
                ));
            }
            let window = exp.map(|x| x.nanos() - g.grant.time.nanos());
            if window.is_none_or(|w| w > self.opts.max_emergency) {
                let msg = match window {
                    Some(w) => format!(
                        "{what} runs {} (until {exp_text}); the emergency window is {}",
                        duration(w),
                        duration(self.opts.max_emergency)
                    ),
                    None => format!("{what} has no expiry"),
                };
                out.push(self.finding(
                    &EG_NOT_TIMEBOXED,
                    g.track,
                    key,
                    Some(g.name.clone()),
                    msg,
                    vec![grant],
                    EG_NOT_TIMEBOXED.action.to_string(),
                ));
            }
        }
        // Credentials, sessions, restored identities, drift, per incident.
        for t in 0..self.tracks.len() {
            let track = &self.tracks[t];
            let exposed: Vec<(&String, &Cred)> = track.creds.iter().filter(|(_, c)| !c.created).collect();
            for (k, c) in &exposed {
                if c.remediated.is_none() {
                    let mut ev = vec![Evidence::of(&c.first, "first named")];
                    let extra = match c.disabled {
                        Some(d) => {
                            ev.push(Evidence::of(&d, "disabled"));
                            format!("; it was disabled by entry {}, which can be undone", d.seq)
                        }
                        None => String::new(),
                    };
                    out.push(self.finding(
                        &CR_NOT_ROTATED,
                        t,
                        Some(k),
                        Some(c.name.clone()),
                        format!(
                            "incident {} names credential {} (first at entry {}) and no rotate, revoke or delete of it is recorded{extra}",
                            track.id, c.name, c.first.seq
                        ),
                        ev,
                        format!("rotate or revoke {} at its source and record it with refs [{}]", c.name, c.first.seq),
                    ));
                }
            }
            if let Some(first) = exposed.iter().map(|(_, c)| c.first).min_by_key(|r| r.seq) {
                if !track.sessions.iter().any(|s| s.seq >= first.seq) {
                    let names: Vec<&str> = exposed.iter().map(|(_, c)| c.name.as_str()).collect();
                    out.push(self.finding(
                        &CR_NO_SESSION_REVOKE,
                        t,
                        exposed.first().map(|(k, _)| k.as_str()),
                        exposed.first().map(|(_, c)| c.name.clone()),
                        format!(
                            "incident {} names {} exposed credential(s) ({}) but records no session_revoke after entry {}",
                            track.id,
                            names.len(),
                            names.join(", "),
                            first.seq
                        ),
                        exposed.iter().map(|(_, c)| Evidence::of(&c.first, "first named")).collect(),
                        CR_NO_SESSION_REVOKE.action.to_string(),
                    ));
                }
            }
            for (k, name, at) in &track.restored {
                let Some(ident) = self.state.get(k) else { continue };
                if ident.status == IdentityStatus::Active && ident.owner.is_none() {
                    let mut ev = vec![Evidence::of(at, "restored")];
                    if let Some(c) = ident.owner_cleared {
                        ev.push(Evidence::of(&c, "owner cleared"));
                    }
                    out.push(self.finding(
                        &ID_RESTORED_NO_OWNER,
                        t,
                        Some(k),
                        Some(name.clone()),
                        format!("{name} was restored by entry {} and has no owner on record", at.seq),
                        ev,
                        ID_RESTORED_NO_OWNER.action.to_string(),
                    ));
                }
            }
            for (k, name, scope, ent) in &track.drift {
                if self.ratified.contains_key(&ent.granted.seq) {
                    continue;
                }
                let mut ev = vec![Evidence::of(&ent.granted, "grant")];
                if let Some(c) = track.closed {
                    ev.push(Evidence::of(&c, "close"));
                }
                out.push(self.finding(
                    &DR_UNAPPROVED_DRIFT,
                    t,
                    Some(k),
                    Some(name.clone()),
                    format!(
                        "{name} gained `{scope}` during the recovery of {} by entry {} (incident {}) without approval; \
                         it is in force at the close",
                        track.id, ent.granted.seq, ent.incident
                    ),
                    ev,
                    format!(
                        "review `{scope}` with the owner; revoke it, or record its approval with refs [{}]",
                        ent.granted.seq
                    ),
                ));
            }
        }
        // Unapproved changes.
        for (u, increase) in &self.unapproved {
            if self.ratified.contains_key(&u.at.seq) {
                continue;
            }
            let rule = if *increase { &AP_INCREASE_UNAPPROVED } else { &AP_CONTAINMENT_UNAPPROVED };
            out.push(self.finding(
                rule,
                u.track,
                Some(&u.key),
                Some(u.name.clone()),
                format!("entry {} ({}) took effect without approval: {}", u.at.seq, u.at.action, u.note),
                vec![Evidence::of(&u.at, "change")],
                format!("{} (refs [{}])", rule.action, u.at.seq),
            ));
        }
        // Signer keys retired later.
        for t in 0..self.tracks.len() {
            for (kid, (n, first, last)) in &self.tracks[t].keys {
                let kid = hex::encode(kid);
                let Some(ret) = self.retired.get(&kid) else { continue };
                out.push(self.finding(
                    &KEY_RETIRED_LATER,
                    t,
                    None,
                    None,
                    format!(
                        "{n} entr(ies) of {} (entries {}..={}) are signed by key {kid}, retired by entry {}",
                        self.tracks[t].id, first.seq, last.seq, ret.seq
                    ),
                    vec![Evidence::of(first, "first signed"), Evidence::of(last, "last signed"), ret.clone()],
                    KEY_RETIRED_LATER.action.to_string(),
                ));
            }
        }
        // Exception trend, closure. Open findings per incident are counted once, before the loop
        // adds any closure finding (a per-incident filter over all findings would be quadratic).
        let mut open: HashMap<String, (usize, std::collections::BTreeSet<&'static str>)> = HashMap::new();
        for f in out.iter().filter(|f| f.severity() >= Severity::Medium) {
            let o = open.entry(f.incident.clone()).or_default();
            o.0 += 1;
            o.1.insert(f.rule.id);
        }
        for t in 0..self.tracks.len() {
            let track = &self.tracks[t];
            let Some(close) = track.closed else { continue };
            let trend = self.trend(track);
            if trend.direction == "growing" {
                let series: Vec<String> = trend.points.iter().map(|p| format!("{} {:+}", p.label, p.net)).collect();
                let after = track.ex_items.iter().filter_map(|x| x.add).filter(|a| a.time > close.time);
                let mut ev: Vec<Evidence> = vec![Evidence::of(&close, "close")];
                ev.extend(after.take(10).map(|a| Evidence::of(&a, "exception added after close")));
                out.push(self.finding(
                    &EX_GROWING,
                    t,
                    None,
                    None,
                    format!(
                        "the exceptions on the {} identities of {} grow after its close: {}",
                        trend.identities,
                        track.id,
                        series.join(", ")
                    ),
                    ev,
                    EX_GROWING.action.to_string(),
                ));
            }
            if let Some((n, ids)) = open.get(track.id.as_str()) {
                let ids: Vec<&str> = ids.iter().copied().collect();
                let f = self.finding(
                    &IN_CLOSED_OPEN_FINDINGS,
                    t,
                    None,
                    None,
                    format!(
                        "{} was closed by entry {} while {} finding(s) of medium severity or more remain: {}",
                        track.id,
                        close.seq,
                        n,
                        ids.join(", ")
                    ),
                    vec![Evidence::of(&close, "close")],
                    IN_CLOSED_OPEN_FINDINGS.action.to_string(),
                );
                out.push(f);
            }
            if track.governance.is_empty() {
                let f = self.finding(
                    &IN_NO_GOVERNANCE,
                    t,
                    None,
                    None,
                    format!(
                        "{} was closed by entry {} with no governance outcome: no recertification, no entitlement reduced, no exception documented",
                        track.id, close.seq
                    ),
                    vec![Evidence::of(&close, "close")],
                    IN_NO_GOVERNANCE.action.to_string(),
                );
                out.push(f);
            }
        }
        self.findings.append(&mut out);
    }
}

/// `id (kind, system)` of an event's target.
fn name_of(state: &State, key: &str, ev: &Event<'_>) -> String {
    state.get(key).map(|i| state.name(i)).unwrap_or_else(|| ev.target_id())
}

fn to_text(t: TextRef<'_>) -> Text {
    match t {
        TextRef::Value(v) => Text::Value(Arc::from(v)),
        TextRef::Redacted(by) => Text::Redacted(by),
        TextRef::Withheld => Text::Withheld,
    }
}

/// The `approval.none` note of an entry, for the finding's message.
fn approval_none(ev: &Event<'_>, state: &State) -> String {
    match crate::govern::text(ev.entry, ev.change, Field::ApprovalNone) {
        Some(t) => format!("\"{}\"", state.show(&to_text(t))),
        None => "no approval recorded".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// docs/GOVERNANCE.md's rule table and the rule constants agree: every rule appears once, with
    /// its severity, OWASP risks and CSF outcomes exactly as in the code.
    #[test]
    fn governance_doc_table_matches_the_rules() {
        let doc = include_str!("../../docs/GOVERNANCE.md");
        for r in RULES {
            let rows: Vec<&str> = doc.lines().filter(|l| l.starts_with(&format!("| {} |", r.id))).collect();
            assert_eq!(rows.len(), 1, "{} must have exactly one row in the rule table", r.id);
            let cells: Vec<&str> = rows[0].split('|').map(str::trim).collect();
            assert_eq!(cells[2], r.severity.as_str(), "{}: severity", r.id);
            assert_eq!(cells[3], r.title, "{}: title", r.id);
            assert_eq!(cells[4], r.owasp, "{}: OWASP NHI", r.id);
            assert_eq!(cells[5], r.csf, "{}: NIST CSF", r.id);
        }
        let mut ids: Vec<&str> = RULES.iter().map(|r| r.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), RULES.len(), "rule IDs are unique");
    }

    #[test]
    fn severities_parse_and_order() {
        assert_eq!("HIGH".parse::<Severity>().unwrap(), Severity::High);
        assert!("urgent".parse::<Severity>().is_err());
        assert!(Severity::Critical > Severity::High && Severity::Low > Severity::Info);
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(duration(90 * 60 * 1_000_000_000), "1h 30m");
        assert_eq!(duration(3 * 86_400 * 1_000_000_000), "3d 0h");
        assert_eq!(duration(59 * 1_000_000_000), "0m");
    }
}
