//! Workspace step: maps Google Workspace Admin SDK Reports activities (one activity per line, with
//! its `events` list) to custody records, one per access-change event.

use serde_json::{json, Map, Value};

use super::common::{lookup, text};
use super::path;
use super::record::{build, outcome_for, Draft, Ev, Status};
use super::table::{row, Action::*, ActorKind, MappingRow, OutcomeRule, TargetKind as K};
use super::{time, ImportError, MappedRecord, Outcome};

/// What a Workspace activity must have.
pub(crate) const SHAPE: &str = "no id.applicationName with events (or a flattened event name)";

const LOG: OutcomeRule = OutcomeRule::Logged;

/// How the importer reads Workspace activities (IMPORTERS.md prose).
pub(crate) const DOC: &str = "\
Input: Reports API activities (`kind: admin#reports#activity`), one per line, in a JSON array, or as \
`{\"items\": [...]}` pages. Each activity's `events[]` are mapped one by one; parameters \
(`[{\"name\", \"value\" | \"multiValue\" | \"intValue\" | \"boolValue\"}]`) become `parameters.NAME`. The \
flattened one-event form found in exports such as Panther's (`name`, `type`, `parameters` as an object \
at the top level) is read the same way. The event name is `<id.applicationName>:<event name>`; the \
event id is `id.uniqueQualifier`; the time is `id.time`. Dedup keys end in \
`#<event index>.<event name>`.

- actor: `actor.email` (else `actor.profileId`, `actor.key`); service when `actor.callerType` is \
`KEY`; system (`google`) when the activity has no actor (Google's own account warnings).
- outcome: Workspace logs completed actions (success); `login_failure` events are failures; \
`login_challenge` is a failure when `login_challenge_status` says it failed.
- `drive:change_user_access` is `revoke` when `parameters.new_value` is `none`, else `grant`.
- an activity whose events include an access change gives `Records` (with its context events as \
`observe` records when importing with context).
- attributes: `application`, `event_type`, `source_ip`, `customer_id`, `doc_title`, `doc_type`, \
`visibility`, `app_name`, `member_role`, `setting_name`, `old_value`, `new_value`.";

/// The Workspace mapping table.
#[rustfmt::skip]
pub(crate) static TABLE: &[MappingRow] = &[
    // Admin console: roles and privileges.
    row("admin:ASSIGN_ROLE", &[Grant], K::Human, "parameters.USER_EMAIL", "parameters.ROLE_NAME|=admin role", LOG),
    row("admin:UNASSIGN_ROLE", &[Revoke], K::Human, "parameters.USER_EMAIL", "parameters.ROLE_NAME|=admin role", LOG),
    row("admin:GRANT_ADMIN_PRIVILEGE", &[Grant], K::Human, "parameters.USER_EMAIL", "=super admin", LOG),
    row("admin:REVOKE_ADMIN_PRIVILEGE", &[Revoke], K::Human, "parameters.USER_EMAIL", "=super admin", LOG),
    row("admin:CREATE_ROLE", &[Create], K::Role, "parameters.ROLE_NAME|parameters.ROLE_ID", "-", LOG),
    row("admin:DELETE_ROLE", &[Delete], K::Role, "parameters.ROLE_NAME|parameters.ROLE_ID", "-", LOG),
    row("admin:RENAME_ROLE", &[PolicyChange], K::Role, "parameters.NEW_ROLE_NAME|parameters.ROLE_NAME|parameters.ROLE_ID", "=role renamed", LOG),
    row("admin:ADD_PRIVILEGE", &[PolicyChange], K::Role, "parameters.ROLE_NAME", "privilege {parameters.PRIVILEGE_NAME} added|=privilege added", LOG),
    row("admin:REMOVE_PRIVILEGE", &[PolicyChange], K::Role, "parameters.ROLE_NAME", "privilege {parameters.PRIVILEGE_NAME} removed|=privilege removed", LOG),
    // Admin console: users and their credentials.
    row("admin:CREATE_USER", &[Create], K::Human, "parameters.USER_EMAIL", "-", LOG),
    row("admin:DELETE_USER", &[Delete], K::Human, "parameters.USER_EMAIL", "-", LOG),
    row("admin:UNDELETE_USER", &[Enable], K::Human, "parameters.USER_EMAIL", "=undeleted", LOG),
    row("admin:SUSPEND_USER", &[Disable], K::Human, "parameters.USER_EMAIL", "=suspended", LOG),
    row("admin:UNSUSPEND_USER", &[Enable], K::Human, "parameters.USER_EMAIL", "=unsuspended", LOG),
    row("admin:CHANGE_PASSWORD", &[Rotate], K::Human, "parameters.USER_EMAIL", "=password", LOG),
    row("admin:DELETE_2SV_SCRATCH_CODES", &[MfaReset], K::Human, "parameters.USER_EMAIL", "=2-step verification backup codes", LOG),
    row("admin:GENERATE_2SV_SCRATCH_CODES", &[Rotate], K::Human, "parameters.USER_EMAIL", "=2-step verification backup codes", LOG),
    row("admin:REVOKE_3LO_TOKEN", &[Revoke], K::OauthGrant, "parameters.CLIENT_ID|parameters.APP_NAME", "for {parameters.USER_EMAIL}|=oauth token", LOG),
    row("admin:REVOKE_3LO_DEVICE_TOKENS", &[SessionRevoke], K::Human, "parameters.USER_EMAIL", "device {parameters.DEVICE_ID}|=device tokens", LOG),
    // Admin console: groups.
    row("admin:CREATE_GROUP", &[Create], K::Group, "parameters.GROUP_EMAIL", "-", LOG),
    row("admin:DELETE_GROUP", &[Delete], K::Group, "parameters.GROUP_EMAIL", "-", LOG),
    row("admin:ADD_GROUP_MEMBER", &[Grant], K::Human, "parameters.USER_EMAIL", "group {parameters.GROUP_EMAIL}|=group member", LOG),
    row("admin:REMOVE_GROUP_MEMBER", &[Revoke], K::Human, "parameters.USER_EMAIL", "group {parameters.GROUP_EMAIL}|=group member", LOG),
    row("admin:UPDATE_GROUP_MEMBER", &[Grant], K::Human, "parameters.USER_EMAIL", "{parameters.MEMBER_ROLE} of {parameters.GROUP_EMAIL}|group {parameters.GROUP_EMAIL}", LOG),
    // Admin console: domain, security and app settings.
    row("admin:CHANGE_APPLICATION_SETTING", &[PolicyChange], K::Other, "parameters.APPLICATION_NAME", "parameters.SETTING_NAME", LOG),
    row("admin:ADD_TRUSTED_DOMAINS", &[PolicyChange], K::Other, "parameters.DOMAIN_NAME", "=trusted domain added", LOG),
    row("admin:REMOVE_TRUSTED_DOMAINS", &[PolicyChange], K::Other, "parameters.DOMAIN_NAME", "=trusted domain removed", LOG),
    row("admin:ADD_APPLICATION", &[Grant], K::OauthGrant, "parameters.APPLICATION_NAME|parameters.APP_ID", "=domain-wide app install", LOG),
    row("admin:REMOVE_APPLICATION", &[Revoke], K::OauthGrant, "parameters.APPLICATION_NAME|parameters.APP_ID", "=domain-wide app install", LOG),
    row("admin:AUTHORIZE_API_CLIENT_ACCESS", &[Grant], K::OauthGrant, "parameters.API_CLIENT_NAME", "parameters.API_SCOPES|=domain-wide delegation", LOG),
    row("admin:REMOVE_API_CLIENT_ACCESS", &[Revoke], K::OauthGrant, "parameters.API_CLIENT_NAME", "parameters.API_SCOPES|=domain-wide delegation", LOG),
    // OAuth grants by users.
    row("token:authorize", &[Grant], K::OauthGrant, "parameters.client_id|parameters.app_name", "parameters.scope|=oauth scopes", LOG),
    row("token:revoke", &[Revoke], K::OauthGrant, "parameters.client_id|parameters.app_name", "parameters.scope|=oauth scopes", LOG),
    // Users' own account security.
    row("user_accounts:2sv_enroll", &[Enable], K::Human, "@actor", "=2-step verification", LOG),
    row("user_accounts:2sv_disable", &[MfaReset], K::Human, "@actor", "=2-step verification", LOG),
    row("user_accounts:titanium_enroll", &[Enable], K::Human, "@actor", "=advanced protection", LOG),
    row("user_accounts:titanium_unenroll", &[MfaReset], K::Human, "@actor", "=advanced protection", LOG),
    row("user_accounts:password_edit", &[Rotate], K::Human, "@actor", "=password", LOG),
    row("user_accounts:recovery_email_edit", &[Rotate], K::Human, "@actor", "=recovery email", LOG),
    row("user_accounts:recovery_phone_edit", &[Rotate], K::Human, "@actor", "=recovery phone", LOG),
    row("user_accounts:recovery_secret_qa_edit", &[Rotate], K::Human, "@actor", "=recovery question", LOG),
    // Google disabling accounts.
    row("login:account_disabled_password_leak", &[Disable], K::Human, "parameters.affected_email_address", "=account (password leak)", LOG),
    row("login:account_disabled_hijacked", &[Disable], K::Human, "parameters.affected_email_address", "=account (hijacked)", LOG),
    row("login:account_disabled_spamming", &[Disable], K::Human, "parameters.affected_email_address", "=account (spamming)", LOG),
    row("login:account_disabled_spamming_through_relay", &[Disable], K::Human, "parameters.affected_email_address", "=account (spamming through relay)", LOG),
    row("login:account_disabled_generic", &[Disable], K::Human, "parameters.affected_email_address", "=account", LOG),
    // Groups (enterprise).
    row("groups_enterprise:add_member", &[Grant], K::Human, "parameters.member_id", "group {parameters.group_id}|=group member", LOG),
    row("groups_enterprise:remove_member", &[Revoke], K::Human, "parameters.member_id", "group {parameters.group_id}|=group member", LOG),
    row("groups_enterprise:ban_user_with_moderation", &[Revoke], K::Human, "parameters.member_id|parameters.user_email", "banned from {parameters.group_id}|=group ban", LOG),
    row("groups_enterprise:change_member_role", &[Grant], K::Human, "parameters.member_id", "{parameters.member_role} of {parameters.group_id}|group {parameters.group_id}", LOG),
    row("groups_enterprise:create_group", &[Create], K::Group, "parameters.group_id", "-", LOG),
    row("groups_enterprise:delete_group", &[Delete], K::Group, "parameters.group_id", "-", LOG),
    // Drive sharing and ownership.
    row("drive:change_user_access", &[Grant, Revoke], K::Human, "parameters.target_user|parameters.target_domain", "{parameters.new_value} on {parameters.doc_id}|{parameters.new_value} on {parameters.doc_title}", LOG),
    row("drive:change_owner", &[OwnershipChange], K::Other, "parameters.doc_id|parameters.doc_title", "new owner {parameters.new_owner}|=new owner", LOG),
    row("drive:change_document_visibility", &[PolicyChange], K::Other, "parameters.doc_id|parameters.doc_title", "visibility {parameters.visibility}|=visibility", LOG),
    row("drive:change_document_access_scope", &[PolicyChange], K::Other, "parameters.doc_id|parameters.doc_title", "access scope {parameters.new_value}|=access scope", LOG),
    // Context: sign-ins, warnings, forwarding.
    row("login:login_success", &[Observe], K::Human, "@actor", "=google sign-in", LOG),
    row("login:login_failure", &[Observe], K::Human, "@actor", "=google sign-in", OutcomeRule::Failure("parameters.login_failure_type")),
    row("login:login_challenge", &[Observe], K::Human, "@actor", "=login challenge", OutcomeRule::Field("parameters.login_challenge_status")),
    row("login:login_verification", &[Observe], K::Human, "@actor", "=login verification", LOG),
    row("login:logout", &[Observe], K::Human, "@actor", "=google sign-out", LOG),
    row("login:suspicious_login", &[Observe], K::Human, "parameters.affected_email_address|@actor", "=suspicious sign-in", LOG),
    row("login:suspicious_login_less_secure_app", &[Observe], K::Human, "parameters.affected_email_address|@actor", "=suspicious sign-in", LOG),
    row("login:suspicious_programmatic_login", &[Observe], K::Human, "parameters.affected_email_address|@actor", "=suspicious sign-in", LOG),
    row("login:gov_attack_warning", &[Observe], K::Human, "parameters.affected_email_address|@actor", "=government-backed attack warning", LOG),
    row("saml:login_success", &[Observe], K::Human, "@actor", "saml sign-in to {parameters.application_name}|=saml sign-in", LOG),
    row("saml:login_failure", &[Observe], K::Human, "@actor", "saml sign-in to {parameters.application_name}|=saml sign-in", OutcomeRule::Failure("parameters.failure_type")),
    row("user_accounts:email_forwarding_out_of_domain", &[Observe], K::Human, "@actor", "forwarding to {parameters.email_forwarding_destination_address}|=mail forwarding", LOG),
];

pub(crate) fn looks_like(v: &Value) -> bool {
    let app = path::get(v, "id.applicationName").is_some_and(Value::is_string);
    let kind = text(v, "kind").is_some_and(|k| k == "admin#reports#activity");
    let events =
        path::get(v, "events").is_some_and(Value::is_array) || path::get(v, "name").is_some_and(Value::is_string);
    (app || kind) && events
}

pub(crate) fn event_id(v: &Value) -> Option<String> {
    text(v, "id.uniqueQualifier")
}

/// Reports API parameters (`[{"name", "value"|...}]`) as an object; objects are kept, null is empty.
fn parameters(p: Option<&Value>) -> Value {
    match p {
        Some(Value::Array(items)) => {
            let mut out = Map::new();
            for item in items {
                let Some(name) = text(item, "name") else {
                    continue;
                };
                let value = [
                    "value",
                    "multiValue",
                    "intValue",
                    "boolValue",
                    "multiIntValue",
                    "messageValue",
                    "multiMessageValue",
                ]
                .iter()
                .find_map(|k| item.get(*k).cloned())
                .unwrap_or(Value::Null);
                out.insert(name, value);
            }
            Value::Object(out)
        }
        Some(Value::Object(o)) => Value::Object(o.clone()),
        _ => Value::Object(Map::new()),
    }
}

/// Per-event views: the event's name, type and parameters with the activity's actor, id and ip.
fn events(v: &Value) -> Vec<(usize, Value)> {
    let shared = |name: &Value, ty: Option<&Value>, params: Option<&Value>| {
        json!({
            "name": name,
            "type": ty,
            "parameters": parameters(params),
            "actor": path::get(v, "actor"),
            "id": path::get(v, "id"),
            "ipAddress": path::get(v, "ipAddress"),
        })
    };
    if let Some(list) = path::get(v, "events").and_then(Value::as_array) {
        return list
            .iter()
            .enumerate()
            .map(|(i, e)| (i, shared(e.get("name").unwrap_or(&Value::Null), e.get("type"), e.get("parameters"))))
            .collect();
    }
    match path::get(v, "name") {
        Some(name) => vec![(0, shared(name, path::get(v, "type"), path::get(v, "parameters")))],
        None => Vec::new(),
    }
}

fn actor(v: &Value) -> (String, ActorKind) {
    match text(v, "actor.email|actor.profileId|actor.key") {
        Some(a) => {
            let key = text(v, "actor.callerType").is_some_and(|t| t.eq_ignore_ascii_case("KEY"));
            (a, if key { ActorKind::Service } else { ActorKind::Human })
        }
        None => ("google".into(), ActorKind::System),
    }
}

fn outcome(rule: OutcomeRule, view: &Value) -> (Status, Option<String>) {
    match rule {
        OutcomeRule::Failure(p) => (Status::Failure, text(view, p)),
        OutcomeRule::Field(p) => match text(view, p) {
            Some(s) if s.to_ascii_lowercase().contains("fail") => (Status::Failure, Some(s)),
            Some(s) => (Status::Success, Some(s)),
            None => (Status::Success, None),
        },
        OutcomeRule::Pending(_) => (Status::Pending, None),
        OutcomeRule::Logged => (Status::Success, None),
    }
}

pub(crate) fn map(ev: &Ev<'_>) -> Result<Outcome, ImportError> {
    let v = ev.value;
    let app = text(v, "id.applicationName").ok_or_else(|| ImportError::Field {
        pos: ev.pos,
        field: "id.applicationName".into(),
        problem: "missing".into(),
    })?;
    let views = events(v);
    if views.is_empty() {
        return Err(ImportError::Field { pos: ev.pos, field: "events".into(), problem: "missing or empty".into() });
    }
    let (actor_id, actor_kind) = actor(v);
    let (mut changes, mut context, mut skipped) = (Vec::<MappedRecord>::new(), Vec::new(), Vec::new());
    let mut context_row = None;
    for (i, view) in views {
        let Some(event) = text(&view, "name") else {
            return Err(ImportError::Field {
                pos: ev.pos,
                field: format!("events[{i}].name"),
                problem: "missing".into(),
            });
        };
        let key = format!("{app}:{event}");
        let Some(row) = lookup(TABLE, &key) else {
            skipped.push(key);
            continue;
        };
        let target_kind = row.kind.fixed();
        let action = if row.actions == [Grant, Revoke] {
            let new = text(&view, "parameters.new_value").unwrap_or_default();
            if new.eq_ignore_ascii_case("none") {
                Revoke
            } else {
                Grant
            }
        } else {
            row.actions[0]
        };
        let (status, detail) = outcome(row.outcome, &view);
        let mut d = Draft {
            event: key.clone(),
            action,
            actor_id: actor_id.clone(),
            actor_kind,
            target_id: path::resolve(&view, row.target, &[], Some(&actor_id)),
            target_kind,
            target_spec: row.target,
            scope: path::resolve(&view, row.scope, &[], None),
            status,
            detail,
            occurred_at: path::get(v, "id.time").and_then(time::normalize),
            reason_note: None,
            attributes: Default::default(),
        };
        d.note_unparsed_time(v, "id.time");
        d.attr("application", Some(app.clone()));
        d.attr("event_type", text(&view, "type"));
        d.attr("source_ip", text(v, "ipAddress"));
        d.attr("customer_id", text(v, "id.customerId"));
        for (attr, param) in [
            ("doc_title", "doc_title"),
            ("doc_type", "doc_type"),
            ("visibility", "visibility"),
            ("app_name", "app_name"),
            ("member_role", "member_role"),
            ("setting_name", "SETTING_NAME"),
            ("old_value", "OLD_VALUE"),
            ("new_value", "NEW_VALUE"),
        ] {
            d.attr(attr, text(&view, &format!("parameters.{param}")));
        }
        let record = build(ev, d, Some(format!("{i}.{event}")));
        if row.is_context() {
            context.push(record);
            context_row = Some(row);
        } else {
            changes.push(record);
        }
    }
    if !changes.is_empty() {
        if ev.opts.with_context {
            changes.extend(context);
        }
        return Ok(Outcome::Records(changes));
    }
    if let Some(row) = context_row {
        return Ok(outcome_for(ev, row, context));
    }
    Ok(Outcome::Skipped {
        reason: format!(
            "gworkspace events {} are not access changes (not in the gworkspace mapping table)",
            skipped.join(", ")
        ),
    })
}
