//! `--format ocsf`: one OCSF event (schema 1.3.0) per entry, one JSON object per line, for SIEMs
//! and data lakes that ingest the Open Cybersecurity Schema Framework as it is.
//!
//! [`mapping`] picks the class and activity for each custody action (and, for some actions, the
//! kind of identity acted on); the full table is in `docs/EXPORT.md`. Every event carries
//! `class_uid`, `class_name`, `category_uid`, `category_name`, `activity_id`, `activity_name`,
//! `type_uid` (`class_uid * 100 + activity_id`), `severity_id`, `time` (event time, ms since the
//! epoch), `message`, `actor`, the class's primary object (`user`, `group`, `entity` or
//! `finding_info_list`) and `metadata` (product custody and its version, schema version, `uid` =
//! entry hash, `sequence` = seq, `correlation_uid` = incident, `log_name` = ledger name,
//! `logged_time` = ledger time). The complete custody entry (signature, refs, approval, evidence,
//! attributes, expires_at; redactions described) is kept under `unmapped.custody`, so nothing is
//! lost in the mapping. A redacted identity becomes a `user`/`entity` whose `name` is the
//! redaction text (`[redacted by entry N: REASON; authority: AUTHORITY]`) and that has no `uid`.
//! A damaged entry (see [`super::Item`]) becomes a Base Event (`class_uid` 0, activity 99
//! `Damaged Entry`, severity High, status Failure) at the export time, naming the seq and problem.

use std::io::{self, Write};

use serde_json::{json, Map, Value};

use super::{json_line, ApprovalView, Cell, ChangeView, Context, Item, Resolver, Row};
use crate::entry::Control;
use crate::record::{Action, ActorKind, Status, TargetKind};

/// The OCSF schema version the events follow.
pub const SCHEMA_VERSION: &str = "1.3.0";

/// An OCSF class and activity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mapping {
    pub class_uid: u32,
    pub class_name: &'static str,
    pub category_uid: u32,
    pub category_name: &'static str,
    pub activity_id: u32,
    pub activity_name: &'static str,
}

impl Mapping {
    pub fn type_uid(&self) -> u64 {
        u64::from(self.class_uid) * 100 + u64::from(self.activity_id)
    }
}

const IAM: (u32, &str) = (3, "Identity & Access Management");
const FINDINGS: (u32, &str) = (2, "Findings");

const fn class(
    uid: u32,
    name: &'static str,
    cat: (u32, &'static str),
    activity_id: u32,
    activity: &'static str,
) -> Mapping {
    Mapping {
        class_uid: uid,
        class_name: name,
        category_uid: cat.0,
        category_name: cat.1,
        activity_id,
        activity_name: activity,
    }
}

const fn account_change(id: u32, name: &'static str) -> Mapping {
    class(3001, "Account Change", IAM, id, name)
}
const fn entity(id: u32, name: &'static str) -> Mapping {
    class(3004, "Entity Management", IAM, id, name)
}
const fn user_access(id: u32, name: &'static str) -> Mapping {
    class(3005, "User Access Management", IAM, id, name)
}
const fn group(id: u32, name: &'static str) -> Mapping {
    class(3006, "Group Management", IAM, id, name)
}

/// Whether OCSF calls this kind of identity a "user/role" (Account Change applies).
fn is_account(k: TargetKind) -> bool {
    matches!(
        k,
        TargetKind::Human
            | TargetKind::ServiceAccount
            | TargetKind::ServicePrincipal
            | TargetKind::Workload
            | TargetKind::Agent
            | TargetKind::Role
    )
}

/// The class and activity for a record's action on a target of this kind.
pub fn mapping(action: Action, target: TargetKind) -> Mapping {
    let account = is_account(target);
    let is_group = target == TargetKind::Group;
    match action {
        Action::Grant | Action::EmergencyGrant if is_group => group(1, "Assign Privileges"),
        Action::Grant | Action::EmergencyGrant => user_access(1, "Assign Privileges"),
        Action::Revoke if is_group => group(2, "Revoke Privileges"),
        Action::Revoke => user_access(2, "Revoke Privileges"),
        Action::Rotate if account || is_group => account_change(3, "Password Change"),
        Action::Rotate => entity(3, "Update"),
        Action::Disable if account => account_change(5, "Disable"),
        Action::Enable if account => account_change(2, "Enable"),
        Action::Disable | Action::Enable => entity(3, "Update"),
        Action::Create if account => account_change(1, "Create"),
        Action::Create => entity(1, "Create"),
        Action::Delete if account => account_change(6, "Delete"),
        Action::Delete => entity(4, "Delete"),
        Action::SessionRevoke => class(3002, "Authentication", IAM, 2, "Logoff"),
        Action::OwnershipChange | Action::PolicyChange => entity(3, "Update"),
        Action::Recertify => user_access(99, "Recertify"),
        Action::ExceptionAdd => entity(1, "Create"),
        Action::ExceptionRemove => entity(4, "Delete"),
        Action::IncidentOpen => class(2005, "Incident Finding", FINDINGS, 1, "Create"),
        Action::IncidentClose => class(2005, "Incident Finding", FINDINGS, 3, "Close"),
        Action::MfaReset => account_change(11, "MFA Factor Disable"),
        Action::Observe => entity(99, "Observe"),
    }
}

/// The class and activity for a control entry (ledger keys, redactions, holds, clients), and the
/// entity type it manages.
pub fn control_mapping(c: &Control) -> (Mapping, &'static str) {
    match c {
        Control::LedgerInit { .. } => (entity(1, "Create"), "custody_ledger"),
        Control::KeyAdd { .. } => (entity(1, "Create"), "custody_signer_key"),
        Control::KeyRetire { .. } => (entity(4, "Delete"), "custody_signer_key"),
        Control::Redact { .. } => (entity(3, "Update"), "custody_ledger_entries"),
        Control::HoldAdd { .. } => (entity(1, "Create"), "legal_hold"),
        Control::HoldRelease { .. } => (entity(4, "Delete"), "legal_hold"),
        Control::ClientAdd { .. } => (entity(1, "Create"), "custody_service_client"),
        Control::ClientRemove { .. } => (entity(4, "Delete"), "custody_service_client"),
    }
}

/// An OCSF user object for an identity: `uid` and `name` are the ID; a redacted ID gives only
/// `name`, the redaction text.
fn user(id: &Cell<String>, type_id: u32, type_name: &str) -> Value {
    let mut m = Map::new();
    match id {
        Cell::Value(v) => {
            m.insert("uid".into(), json!(v));
            m.insert("name".into(), json!(v));
        }
        other => {
            m.insert("name".into(), json!(other.placeholder()));
        }
    }
    m.insert("type_id".into(), json!(type_id));
    m.insert("type".into(), json!(type_name));
    Value::Object(m)
}

fn actor_type(k: ActorKind) -> (u32, &'static str) {
    match k {
        ActorKind::Human => (1, "User"),
        ActorKind::System => (3, "System"),
        ActorKind::Service => (99, "Service"),
        ActorKind::Agent => (99, "Agent"),
    }
}

fn target_type(k: TargetKind) -> (u32, &'static str) {
    match k {
        TargetKind::Human => (1, "User"),
        other => (99, other.as_str()),
    }
}

fn status(s: Status) -> (u32, &'static str) {
    match s {
        Status::Success => (1, "Success"),
        Status::Failure => (2, "Failure"),
        Status::Partial => (99, "Partial"),
        Status::Pending => (99, "Pending"),
    }
}

fn primary(m: &mut Map<String, Value>, map: &Mapping, action: Action, c: &ChangeView) {
    let (tid, tname) = target_type(c.target_kind);
    let target = user(&c.target_id, tid, tname);
    let privileges = || json!(c.scope.iter().map(Cell::text).collect::<Vec<_>>());
    match map.class_uid {
        3001 => {
            m.insert("user".into(), target);
        }
        3002 => {
            m.insert("user".into(), target);
            m.insert("service".into(), json!({"name": c.target_system}));
            m.insert("is_remote".into(), json!(true));
        }
        3005 => {
            m.insert("user".into(), target);
            m.insert("privileges".into(), privileges());
        }
        3006 => {
            let mut g = Map::new();
            if let Cell::Value(v) = &c.target_id {
                g.insert("uid".into(), json!(v));
            }
            g.insert("name".into(), json!(c.target_id.text()));
            m.insert("group".into(), Value::Object(g));
            m.insert("privileges".into(), privileges());
        }
        2005 => {
            m.insert(
                "finding_info_list".into(),
                json!([{"uid": c.incident, "title": format!("incident {}", c.incident), "desc": c.reason.text()}]),
            );
            m.insert("desc".into(), json!(c.reason.text()));
            let (sid, sname) = if action == Action::IncidentClose { (5, "Closed") } else { (1, "New") };
            m.insert("status_id".into(), json!(sid));
            m.insert("status".into(), json!(sname));
            let (aid, aname) = actor_type(c.actor_kind);
            m.insert("assignee".into(), user(&c.actor_id, aid, aname));
            if action == Action::IncidentClose {
                m.insert("comment".into(), json!(c.reason.text()));
            }
        }
        _ => {
            // Entity Management: the entity is the identity acted on, or the exception or policy
            // named in the scope.
            let (etype, named_by_scope) = match action {
                Action::ExceptionAdd | Action::ExceptionRemove => ("policy_exception", true),
                Action::PolicyChange => ("policy", true),
                _ => (c.target_kind.as_str(), false),
            };
            let mut ent = Map::new();
            match (&c.scope, named_by_scope) {
                (Some(scope), true) => {
                    ent.insert("name".into(), json!(scope.text()));
                    ent.insert("data".into(), json!({"target": user(&c.target_id, tid, tname)}));
                }
                _ => {
                    if let Cell::Value(v) = &c.target_id {
                        ent.insert("uid".into(), json!(v));
                    }
                    ent.insert("name".into(), json!(c.target_id.text()));
                    if let Some(scope) = &c.scope {
                        ent.insert("data".into(), json!({"scope": scope.text()}));
                    }
                }
            }
            ent.insert("type".into(), json!(etype));
            m.insert("entity".into(), Value::Object(ent));
            m.insert("comment".into(), json!(c.reason.text()));
        }
    }
}

/// The OCSF event of one entry.
pub fn event(resolver: &Resolver<'_>, ctx: &Context, row: &Row) -> Value {
    let e = &row.entry;
    let h = e.header();
    let mut m = Map::new();
    let map = match (&row.change, row.control()) {
        (Some(c), _) => mapping(action_of(row), c.target_kind),
        (None, Some(ctl)) => control_mapping(ctl).0,
        (None, None) => entity(99, "Other"),
    };
    m.insert("class_uid".into(), json!(map.class_uid));
    m.insert("class_name".into(), json!(map.class_name));
    m.insert("category_uid".into(), json!(map.category_uid));
    m.insert("category_name".into(), json!(map.category_name));
    m.insert("activity_id".into(), json!(map.activity_id));
    m.insert("activity_name".into(), json!(map.activity_name));
    m.insert("type_uid".into(), json!(map.type_uid()));
    m.insert("type_name".into(), json!(format!("{}: {}", map.class_name, map.activity_name)));
    m.insert("time".into(), json!(row.event_time.unix_millis()));
    m.insert("message".into(), json!(row.message()));
    let emergency = row.change.is_some() && action_of(row) == Action::EmergencyGrant;
    let (sev, sev_name) = if emergency { (3, "Medium") } else { (1, "Informational") };
    m.insert("severity_id".into(), json!(sev));
    m.insert("severity".into(), json!(sev_name));
    let mut meta = Map::new();
    meta.insert("version".into(), json!(SCHEMA_VERSION));
    meta.insert(
        "product".into(),
        json!({"name": "custody", "vendor_name": "custody", "version": env!("CARGO_PKG_VERSION")}),
    );
    meta.insert("uid".into(), json!(row.hash_hex()));
    meta.insert("sequence".into(), json!(h.seq));
    meta.insert("log_name".into(), json!(ctx.ledger_name));
    meta.insert("log_provider".into(), json!("custody"));
    meta.insert("logged_time".into(), json!(h.ledger_time.unix_millis()));
    meta.insert("event_code".into(), json!(row.action()));
    match &row.change {
        Some(c) => {
            let action = action_of(row);
            meta.insert("correlation_uid".into(), json!(c.incident));
            if let Some(t) = c.occurred_at {
                meta.insert("original_time".into(), json!(t.to_rfc3339()));
            }
            let (aid, aname) = actor_type(c.actor_kind);
            m.insert("actor".into(), json!({"user": user(&c.actor_id, aid, aname)}));
            if map.class_uid != 2005 {
                let (sid, sname) = status(c.status);
                m.insert("status_id".into(), json!(sid));
                m.insert("status".into(), json!(sname));
                if let Some(d) = &c.detail {
                    m.insert("status_detail".into(), json!(d.text()));
                }
            }
            primary(&mut m, &map, action, c);
            if let ApprovalView::None { .. } = c.approval {
                meta.insert("labels".into(), json!(["custody", "no-approval"]));
            }
        }
        None => {
            let kid = hex::encode(h.key_id);
            m.insert(
                "actor".into(),
                json!({"app_name": "custody", "user": {"uid": kid, "name": format!("ledger key {kid}"), "type_id": 3, "type": "System"}}),
            );
            m.insert("status_id".into(), json!(1));
            m.insert("status".into(), json!("Success"));
            if let Some(ctl) = row.control() {
                let (_, etype) = control_mapping(ctl);
                let (uid, name, comment) = match ctl {
                    Control::LedgerInit { name, .. } => (ctx.ledger_id.clone(), name.clone(), None),
                    Control::KeyAdd { public_key, label } => {
                        (hex::encode(crate::sign::key_id(public_key)), label.clone(), None)
                    }
                    Control::KeyRetire { key_id, reason } => (hex::encode(key_id), hex::encode(key_id), Some(reason)),
                    Control::Redact { ranges, reason, .. } => {
                        let names: Vec<String> = ranges.iter().map(|r| format!("{}-{}", r.first, r.last)).collect();
                        (String::new(), format!("entries {}", names.join(", ")), Some(reason))
                    }
                    Control::HoldAdd { incident, reason, .. } | Control::HoldRelease { incident, reason, .. } => {
                        (incident.clone(), incident.clone(), Some(reason))
                    }
                    Control::ClientAdd { name, .. } => (name.clone(), name.clone(), None),
                    Control::ClientRemove { name, reason } => (name.clone(), name.clone(), Some(reason)),
                };
                let mut ent = Map::new();
                if !uid.is_empty() {
                    ent.insert("uid".into(), json!(uid));
                }
                ent.insert("name".into(), json!(name));
                ent.insert("type".into(), json!(etype));
                ent.insert("data".into(), ctl.to_json());
                m.insert("entity".into(), Value::Object(ent));
                if let Some(r) = comment {
                    m.insert("comment".into(), json!(r));
                }
            }
        }
    }
    m.insert("metadata".into(), Value::Object(meta));
    m.insert("unmapped".into(), json!({"custody": resolver.entry_json(e)}));
    Value::Object(m)
}

fn action_of(row: &Row) -> Action {
    row.entry.change().map_or(Action::Observe, |c| c.action)
}

/// Writes one entry as an OCSF event line.
pub fn write_row<W: Write>(w: &mut W, resolver: &Resolver<'_>, ctx: &Context, row: &Row) -> io::Result<()> {
    json_line(w, &event(resolver, ctx, row))
}

/// Writes one selected item as an OCSF event line.
pub fn write_item<W: Write>(w: &mut W, resolver: &Resolver<'_>, ctx: &Context, item: &Item) -> io::Result<()> {
    match item {
        Item::Row(row) => write_row(w, resolver, ctx, row),
        Item::Damaged { seq, problem } => json_line(
            w,
            &json!({
                "class_uid": 0, "class_name": "Base Event", "category_uid": 0, "category_name": "Uncategorized",
                "activity_id": 99, "activity_name": "Damaged Entry", "type_uid": 99, "type_name": "Base Event: Other",
                "severity_id": 4, "severity": "High", "status_id": 2, "status": "Failure",
                "time": ctx.generated_at.unix_millis(),
                "message": format!("ledger entry {seq} is damaged: {problem}"),
                "metadata": {"version": SCHEMA_VERSION, "sequence": seq, "log_name": ctx.ledger_name, "log_provider": "custody",
                    "product": {"name": "custody", "vendor_name": "custody", "version": env!("CARGO_PKG_VERSION")}},
            }),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every action maps to an IAM or Findings class whose activity IDs exist in OCSF 1.3.0, and the
    /// IDs named in the issue are the ones used.
    #[test]
    fn every_action_has_a_class() {
        for a in Action::ALL {
            for k in TargetKind::ALL {
                let m = mapping(*a, *k);
                assert!([3001, 3002, 3004, 3005, 3006, 2005].contains(&m.class_uid), "{a} on {k}: {m:?}");
                assert_eq!(m.category_uid, m.class_uid / 1000, "{a} on {k}: category of {}", m.class_uid);
                assert!(m.activity_id <= 11 || m.activity_id == 99, "{a} on {k}: {m:?}");
                assert_eq!(m.type_uid(), u64::from(m.class_uid) * 100 + u64::from(m.activity_id));
            }
        }
        assert_eq!(mapping(Action::Disable, TargetKind::ServiceAccount).class_uid, 3001);
        assert_eq!(mapping(Action::EmergencyGrant, TargetKind::Human).class_uid, 3005);
        assert_eq!(mapping(Action::Delete, TargetKind::ApiKey).class_uid, 3004);
        assert_eq!(mapping(Action::SessionRevoke, TargetKind::Role).class_uid, 3002);
        assert_eq!(mapping(Action::Recertify, TargetKind::ServiceAccount).activity_id, 99);
    }
}
