//! GCP step: maps Google Cloud audit-log entries (LogEntry with an AuditLog protoPayload) to custody
//! records, one per IAM binding delta for policy changes.

use serde_json::Value;

use super::common::text;
use super::path;
use super::record::{build, not_mapped, outcome_for, Draft, Ev, Status};
use super::table::{row, Action, Action::*, ActorKind, KindRule, MappingRow, OutcomeRule, TargetKind as K};
use super::{time, ImportError, MappedRecord, Outcome};

/// What a GCP audit-log entry must have.
pub(crate) const SHAPE: &str = "no protoPayload, logName or insertId (not a cloud logging LogEntry)";

const STATUS: OutcomeRule = OutcomeRule::Field("protoPayload.status.code|protoPayload.authorizationInfo[].granted");

/// Where binding deltas live (IAM policy changes, and services that log them in metadata).
const DELTAS: &str = "protoPayload.serviceData.policyDelta.bindingDeltas|protoPayload.metadata.bindingDeltas";

/// How the importer reads GCP entries (IMPORTERS.md prose).
pub(crate) const DOC: &str = "\
Input: Cloud Logging LogEntry objects with an AuditLog `protoPayload` (JSON Lines, a JSON array as \
`gcloud logging read --format=json` writes, or `{\"entries\": [...]}`). The event name is \
`protoPayload.methodName`; a row matches the whole method name or its last dotted segments, ignoring \
case (`SetIamPolicy` matches `google.iam.admin.v1.SetIAMPolicy`). The event id is `insertId`; the time \
is `timestamp` (else `receiveTimestamp`, else `protoPayload.requestMetadata.requestAttributes.time`).

- `SetIamPolicy`: one record per binding delta in `protoPayload.serviceData.policyDelta.bindingDeltas` \
(or `protoPayload.metadata.bindingDeltas`): `ADD` is `grant`, `REMOVE` is `revoke`, the target is the \
member (kind by prefix: `user:` human, `serviceAccount:` service_account, `group:` group, otherwise \
other; no prefix is human), the scope is the role; dedup keys end in `#<delta index>`. A SetIamPolicy \
without deltas is one `policy_change` on `protoPayload.resourceName` with the requested bindings in the \
`policy_bindings` attribute.
- actor: `protoPayload.authenticationInfo.principalEmail` (else `principalSubject`); service when it \
is a `gserviceaccount.com` address, otherwise human; system when the entry has no principal.
- outcome: failure when `protoPayload.status.code` is non-zero (code, name and message in the detail) \
or any `authorizationInfo[].granted` is false.
- attributes: `service`, `resource`, `project_id`, `source_ip`, `service_account_key` (the key's \
resource name, never key material), `policy_bindings`, `condition`.";

/// The GCP mapping table.
#[rustfmt::skip]
pub(crate) static TABLE: &[MappingRow] = &[
    MappingRow {
        event: "SetIamPolicy",
        actions: &[Grant, Revoke, PolicyChange],
        kind: KindRule::ByMemberPrefix,
        target: "protoPayload.serviceData.policyDelta.bindingDeltas[].member|protoPayload.metadata.bindingDeltas[].member|protoPayload.resourceName",
        scope: "protoPayload.serviceData.policyDelta.bindingDeltas[].role|protoPayload.metadata.bindingDeltas[].role|=iam policy",
        outcome: STATUS,
    },
    // Service accounts and their keys.
    row("google.iam.admin.v1.CreateServiceAccount", &[Create], K::ServiceAccount, "protoPayload.response.email|{protoPayload.request.account_id} in {protoPayload.request.name}|protoPayload.resourceName", "-", STATUS),
    row("google.iam.admin.v1.DeleteServiceAccount", &[Delete], K::ServiceAccount, "resource.labels.email_id|protoPayload.resourceName", "-", STATUS),
    row("google.iam.admin.v1.DisableServiceAccount", &[Disable], K::ServiceAccount, "resource.labels.email_id|protoPayload.resourceName", "-", STATUS),
    row("google.iam.admin.v1.EnableServiceAccount", &[Enable], K::ServiceAccount, "resource.labels.email_id|protoPayload.resourceName", "-", STATUS),
    row("google.iam.admin.v1.UndeleteServiceAccount", &[Enable], K::ServiceAccount, "resource.labels.email_id|protoPayload.resourceName", "=undeleted", STATUS),
    row("google.iam.admin.v1.CreateServiceAccountKey", &[Create], K::ServiceAccount, "resource.labels.email_id|protoPayload.request.name|protoPayload.resourceName", "key {protoPayload.response.name}|=service account key", STATUS),
    row("google.iam.admin.v1.UploadServiceAccountKey", &[Create], K::ServiceAccount, "resource.labels.email_id|protoPayload.request.name|protoPayload.resourceName", "key {protoPayload.response.name}|=uploaded service account key", STATUS),
    row("google.iam.admin.v1.DeleteServiceAccountKey", &[Delete], K::ServiceAccount, "resource.labels.email_id|protoPayload.resourceName", "key {protoPayload.request.name}|key {protoPayload.resourceName}", STATUS),
    row("google.iam.admin.v1.DisableServiceAccountKey", &[Disable], K::ServiceAccount, "resource.labels.email_id|protoPayload.resourceName", "key {protoPayload.request.name}|key {protoPayload.resourceName}", STATUS),
    row("google.iam.admin.v1.EnableServiceAccountKey", &[Enable], K::ServiceAccount, "resource.labels.email_id|protoPayload.resourceName", "key {protoPayload.request.name}|key {protoPayload.resourceName}", STATUS),
    // Custom roles.
    row("google.iam.admin.v1.CreateRole", &[Create], K::Role, "protoPayload.response.name|protoPayload.resourceName", "-", STATUS),
    row("google.iam.admin.v1.UpdateRole", &[PolicyChange], K::Role, "protoPayload.resourceName|protoPayload.request.name", "=role permissions", STATUS),
    row("google.iam.admin.v1.DeleteRole", &[Delete], K::Role, "protoPayload.resourceName|protoPayload.request.name", "-", STATUS),
    row("google.iam.admin.v1.UndeleteRole", &[Enable], K::Role, "protoPayload.resourceName|protoPayload.request.name", "=undeleted", STATUS),
    // API keys.
    row("ApiKeys.CreateKey", &[Create], K::ApiKey, "protoPayload.response.name|protoPayload.resourceName", "=api key", STATUS),
    row("ApiKeys.UpdateKey", &[PolicyChange], K::ApiKey, "protoPayload.request.key.name|protoPayload.resourceName", "=api key restrictions", STATUS),
    row("ApiKeys.DeleteKey", &[Delete], K::ApiKey, "protoPayload.request.name|protoPayload.resourceName", "=api key", STATUS),
    row("ApiKeys.UndeleteKey", &[Enable], K::ApiKey, "protoPayload.request.name|protoPayload.resourceName", "=api key", STATUS),
    // Project ownership, Workspace admin actions and SSO via Cloud Audit Logs.
    row("InsertProjectOwnershipInvite", &[Grant], K::Human, "protoPayload.request.member", "roles/owner on {protoPayload.resourceName}|=roles/owner", OutcomeRule::Pending("protoPayload.status.code")),
    row("AdminService.addGroupMember", &[Grant], K::Human, "protoPayload.metadata.event[].parameter[name=USER_EMAIL].value", "group {protoPayload.metadata.event[].parameter[name=GROUP_EMAIL].value}|=group member", STATUS),
    row("AdminService.removeGroupMember", &[Revoke], K::Human, "protoPayload.metadata.event[].parameter[name=USER_EMAIL].value", "group {protoPayload.metadata.event[].parameter[name=GROUP_EMAIL].value}|=group member", STATUS),
    row("AdminService.inboundSsoProfileCreated", &[Create], K::Other, "protoPayload.metadata.event[].parameter[name=INBOUND_SSO_PROFILE_NAME].value|protoPayload.resourceName", "=inbound sso profile", STATUS),
    row("AdminService.inboundSsoProfileUpdated", &[PolicyChange], K::Other, "protoPayload.metadata.event[].parameter[name=INBOUND_SSO_PROFILE_NAME].value|protoPayload.resourceName", "=inbound sso profile", STATUS),
    row("AdminService.inboundSsoProfileDeleted", &[Delete], K::Other, "protoPayload.metadata.event[].parameter[name=INBOUND_SSO_PROFILE_NAME].value|protoPayload.resourceName", "=inbound sso profile", STATUS),
    // Context: short-lived credentials minted for service accounts.
    row("SignJwt", &[Observe], K::ServiceAccount, "protoPayload.request.name|protoPayload.resourceName", "=signed jwt", STATUS),
    row("SignBlob", &[Observe], K::ServiceAccount, "protoPayload.request.name|protoPayload.resourceName", "=signed blob", STATUS),
    row("GenerateAccessToken", &[Observe], K::ServiceAccount, "protoPayload.request.name|protoPayload.resourceName", "=access token", STATUS),
    row("GenerateIdToken", &[Observe], K::ServiceAccount, "protoPayload.request.name|protoPayload.resourceName", "=id token", STATUS),
];

pub(crate) fn looks_like(v: &Value) -> bool {
    path::get(v, "protoPayload").is_some_and(Value::is_object)
        || ((path::get(v, "logName").is_some() || path::get(v, "insertId").is_some())
            && path::get(v, "eventType").is_none()
            && path::get(v, "eventName").is_none())
}

pub(crate) fn event_id(v: &Value) -> Option<String> {
    text(v, "insertId")
}

/// The row for a method: exact name, else the longest row that is a dotted suffix (ignoring case).
fn lookup(method: &str) -> Option<&'static MappingRow> {
    let m = method.to_ascii_lowercase();
    TABLE
        .iter()
        .filter(|r| {
            let e = r.event.to_ascii_lowercase();
            m == e || m.ends_with(&format!(".{e}"))
        })
        .max_by_key(|r| r.event.len())
}

fn actor(v: &Value) -> (String, ActorKind) {
    match text(v, "protoPayload.authenticationInfo.principalEmail|protoPayload.authenticationInfo.principalSubject") {
        Some(p) => {
            let service = p.ends_with(".gserviceaccount.com") || p.starts_with("serviceAccount:");
            (p, if service { ActorKind::Service } else { ActorKind::Human })
        }
        None => (text(v, "protoPayload.serviceName").unwrap_or_else(|| "gcp".into()), ActorKind::System),
    }
}

/// gRPC status names for the codes audit logs carry.
fn code_name(code: i64) -> &'static str {
    match code {
        1 => "CANCELLED",
        2 => "UNKNOWN",
        3 => "INVALID_ARGUMENT",
        4 => "DEADLINE_EXCEEDED",
        5 => "NOT_FOUND",
        6 => "ALREADY_EXISTS",
        7 => "PERMISSION_DENIED",
        8 => "RESOURCE_EXHAUSTED",
        9 => "FAILED_PRECONDITION",
        10 => "ABORTED",
        11 => "OUT_OF_RANGE",
        12 => "UNIMPLEMENTED",
        13 => "INTERNAL",
        14 => "UNAVAILABLE",
        15 => "DATA_LOSS",
        16 => "UNAUTHENTICATED",
        _ => "ERROR",
    }
}

fn outcome(row: &MappingRow, v: &Value) -> (Status, Option<String>) {
    let code = path::get(v, "protoPayload.status.code").and_then(Value::as_i64).unwrap_or(0);
    if code != 0 {
        let msg = text(v, "protoPayload.status.message").map(|m| format!(": {m}")).unwrap_or_default();
        return (Status::Failure, Some(format!("status {code} {}{msg}", code_name(code))));
    }
    let denied = path::get(v, "protoPayload.authorizationInfo")
        .and_then(Value::as_array)
        .and_then(|infos| infos.iter().find(|i| path::get(i, "granted").and_then(Value::as_bool) == Some(false)));
    if let Some(info) = denied {
        let perm = text(info, "permission").unwrap_or_else(|| "a permission".into());
        return (Status::Failure, Some(format!("permission denied: {perm}")));
    }
    match row.outcome {
        OutcomeRule::Pending(_) => (Status::Pending, Some("invitation; not yet in effect".into())),
        _ => (Status::Success, None),
    }
}

fn member_kind(member: &str) -> K {
    match member.split_once(':').map(|(p, _)| p) {
        Some("user") => K::Human,
        Some("serviceAccount") => K::ServiceAccount,
        Some("group") => K::Group,
        Some(_) => K::Other,
        None => K::Human,
    }
}

pub(crate) fn map(ev: &Ev<'_>) -> Result<Outcome, ImportError> {
    let v = ev.value;
    let Some(method) = text(v, "protoPayload.methodName") else {
        return Ok(Outcome::Skipped {
            reason: "gcp log entry without protoPayload.methodName is not an audit log entry".into(),
        });
    };
    let Some(row) = lookup(&method) else {
        return Ok(not_mapped(ev.source, &method));
    };
    let (actor_id, actor_kind) = actor(v);
    let (status, detail) = outcome(row, v);
    let base = |action: Action, target: Option<String>, kind: K, scope: Option<String>| {
        let mut d = Draft {
            event: method.clone(),
            action,
            actor_id: actor_id.clone(),
            actor_kind,
            target_id: target,
            target_kind: kind,
            target_spec: row.target,
            scope,
            status,
            detail: detail.clone(),
            occurred_at: path::first(
                v,
                "timestamp|receiveTimestamp|protoPayload.requestMetadata.requestAttributes.time",
            )
            .and_then(time::normalize),
            reason_note: None,
            attributes: Default::default(),
        };
        d.note_unparsed_time(v, "timestamp|receiveTimestamp|protoPayload.requestMetadata.requestAttributes.time");
        d.attr("service", text(v, "protoPayload.serviceName"));
        d.attr("resource", text(v, "protoPayload.resourceName"));
        d.attr("project_id", text(v, "resource.labels.project_id"));
        d.attr("source_ip", text(v, "protoPayload.requestMetadata.callerIp|protoPayload.requestMetadata.callerIP"));
        d.attr("service_account_key", text(v, "protoPayload.authenticationInfo.serviceAccountKeyName"));
        d
    };
    if row.kind == KindRule::ByMemberPrefix {
        let deltas = path::first(v, DELTAS).and_then(Value::as_array).cloned().unwrap_or_default();
        if deltas.is_empty() {
            let mut d = base(
                PolicyChange,
                text(v, "protoPayload.resourceName|protoPayload.request.resource"),
                K::Other,
                Some("iam policy".into()),
            );
            d.target_spec = "protoPayload.resourceName";
            d.attr("policy_bindings", bindings_summary(v));
            return Ok(outcome_for(ev, row, vec![build(ev, d, None)]));
        }
        let records: Vec<MappedRecord> = deltas
            .iter()
            .enumerate()
            .map(|(i, delta)| {
                let member = text(delta, "member");
                let action = match text(delta, "action").as_deref() {
                    Some(a) if a.eq_ignore_ascii_case("REMOVE") => Revoke,
                    _ => Grant,
                };
                let kind = member.as_deref().map(member_kind).unwrap_or(K::Other);
                let mut d = base(action, member, kind, text(delta, "role"));
                d.attr("delta_action", text(delta, "action"));
                d.attr("condition", text(delta, "condition.title|condition.expression"));
                build(ev, d, Some(i.to_string()))
            })
            .collect();
        return Ok(outcome_for(ev, row, records));
    }
    let kind = row.kind.fixed();
    let target = path::resolve(v, row.target, &[], Some(&actor_id));
    let scope = path::resolve(v, row.scope, &[], None);
    let d = base(row.actions[0], target, kind, scope);
    Ok(outcome_for(ev, row, vec![build(ev, d, None)]))
}

/// `role=member,member; ...` of the requested policy (identifiers only), for SetIamPolicy without deltas.
fn bindings_summary(v: &Value) -> Option<String> {
    let bindings = path::get(v, "protoPayload.request.policy.bindings")?.as_array()?;
    let parts: Vec<String> =
        bindings.iter().filter_map(|b| Some(format!("{}={}", text(b, "role")?, text(b, "members")?))).collect();
    (!parts.is_empty()).then(|| parts.join("; "))
}
