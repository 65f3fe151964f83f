//! Entra step: maps Microsoft Entra ID audit events (Graph directoryAudits, the Azure Monitor
//! diagnostic export, and the Office 365 Management Activity form) and sign-ins to custody records.

use serde_json::{json, Map, Value};

use super::common::{lookup, text};
use super::path;
use super::record::{build, not_mapped, outcome_for, Draft, Ev, Status};
use super::table::{row, Action, Action::*, ActorKind, MappingRow, OutcomeRule, TargetKind as K};
use super::{time, ImportError, Outcome};

/// What an Entra event must have.
pub(crate) const SHAPE: &str =
    "no operationName with category, activityDisplayName, sign-in fields, or office 365 Operation";

const RES: OutcomeRule = OutcomeRule::Field("result");
const PENDING: OutcomeRule = OutcomeRule::Pending("result");
// The numeric error code first: Azure Monitor's `resultType` is sometimes the word `Failure`.
const SIGNIN: OutcomeRule = OutcomeRule::Field("status.errorCode|resultType");

/// Entra objects (initiatedBy.user, targetResources[]) are identified in this order.
const PICK: &[&str] = &["userPrincipalName", "id", "displayName"];

/// Azure Monitor categories that hold sign-ins (context).
const SIGNIN_CATEGORIES: &[&str] = &[
    "SignInLogs",
    "NonInteractiveUserSignInLogs",
    "ServicePrincipalSignInLogs",
    "ManagedIdentitySignInLogs",
    "ADFSSignInLogs",
];

/// How the importer reads Entra events (IMPORTERS.md prose).
pub(crate) const DOC: &str = "\
Input: Graph `directoryAudits` (`{\"value\": [...]}` pages, arrays or lines), the Azure Monitor \
diagnostic export (`category: AuditLogs`, the audit in `properties`; the sign-in categories are context) \
and the Office 365 Management Activity form (`Workload: AzureActiveDirectory`). Each form is first \
brought to one *audit view*, the Graph directoryAudit shape, and the field paths below are paths into \
that view: for Azure Monitor it is `properties` plus the top-level fields it lacks; for Office 365 it \
is built from `Operation` (trailing `.` dropped), `ResultStatus`, `Id`, `CreationTime`, `UserId`, \
`ObjectId`, `Target` and `ModifiedProperties`.

- event name: Azure Monitor `operationName`, falling back to `properties.activityDisplayName` when \
the first is not in the table; Graph `activityDisplayName`; Office 365 `Operation`. For Azure Monitor \
sign-ins the event is the `category` (`SignInLogs`, ...); Graph sign-ins are `signIn`.
- event id: `properties.id` or `id` (Office 365 `Id`); time: `activityDateTime`, `createdDateTime` or \
`time`.
- actor: `initiatedBy.user` (human) or `initiatedBy.app` (service); Office 365 `UserId` (UserType 4 \
system, 5 and 6 service); for sign-ins the signing-in principal.
- outcome: `result` success/failure/timeout (Office 365 `ResultStatus`, PartiallySucceeded is \
partial); sign-ins `status.errorCode`, else `resultType` (0 is success, any other code is failure \
with the code). PIM *requested* events are `pending`.
- `Update user` is an access change only when `AccountEnabled` changes (`disable`/`enable`) or a \
`StrongAuthentication*` property changes (`mfa_reset` when emptied, `enable` when a method is \
added); other user updates are skipped.
- attributes: `justification` (PIM `additionalDetails` Justification, also in the reason), \
`result_reason`, `azure_scope`, `category`, `logged_by_service`, `operation_type`, `correlation_id`, \
`tenant_id`, `source_ip`, `app`, `target_name`, `source_form`.";

/// The Entra mapping table.
#[rustfmt::skip]
pub(crate) static TABLE: &[MappingRow] = &[
    // Directory roles, PIM and Azure RBAC.
    row("Add member to role", &[Grant], K::Human, "targetResources[type=User]|targetResources[type=ServicePrincipal]|targetResources[]", "targetResources[type=Role].displayName|targetResources[].modifiedProperties[displayName=Role.DisplayName].newValue", RES),
    row("Remove member from role", &[Revoke], K::Human, "targetResources[type=User]|targetResources[type=ServicePrincipal]|targetResources[]", "targetResources[type=Role].displayName|targetResources[].modifiedProperties[displayName=Role.DisplayName].oldValue", RES),
    row("Add eligible member to role", &[Grant], K::Human, "targetResources[type=User]|targetResources[]", "targetResources[type=Role].displayName|targetResources[].modifiedProperties[displayName=Role.DisplayName].newValue", RES),
    row("Remove eligible member from role", &[Revoke], K::Human, "targetResources[type=User]|targetResources[]", "targetResources[type=Role].displayName|targetResources[].modifiedProperties[displayName=Role.DisplayName].oldValue", RES),
    row("Add scoped member to role", &[Grant], K::Human, "targetResources[type=User]|targetResources[]", "targetResources[type=Role].displayName|targetResources[].modifiedProperties[displayName=Role.DisplayName].newValue", RES),
    row("Remove scoped member from role", &[Revoke], K::Human, "targetResources[type=User]|targetResources[]", "targetResources[type=Role].displayName|targetResources[].modifiedProperties[displayName=Role.DisplayName].oldValue", RES),
    row("Add member to role in PIM requested (permanent)", &[Grant], K::Human, "targetResources[type=User]|targetResources[type=Group]", "targetResources[type=Role].displayName", PENDING),
    row("Add member to role in PIM requested (timebound)", &[Grant], K::Human, "targetResources[type=User]|targetResources[type=Group]", "targetResources[type=Role].displayName", PENDING),
    row("Add member to role in PIM completed (permanent)", &[Grant], K::Human, "targetResources[type=User]|targetResources[type=Group]", "targetResources[type=Role].displayName", RES),
    row("Add member to role in PIM completed (timebound)", &[Grant], K::Human, "targetResources[type=User]|targetResources[type=Group]", "targetResources[type=Role].displayName", RES),
    row("Add eligible member to role in PIM requested (permanent)", &[Grant], K::Human, "targetResources[type=User]|targetResources[type=Group]", "eligible {targetResources[type=Role].displayName}", PENDING),
    row("Add eligible member to role in PIM requested (timebound)", &[Grant], K::Human, "targetResources[type=User]|targetResources[type=Group]", "eligible {targetResources[type=Role].displayName}", PENDING),
    row("Add eligible member to role in PIM completed (permanent)", &[Grant], K::Human, "targetResources[type=User]|targetResources[type=Group]", "eligible {targetResources[type=Role].displayName}", RES),
    row("Add eligible member to role in PIM completed (timebound)", &[Grant], K::Human, "targetResources[type=User]|targetResources[type=Group]", "eligible {targetResources[type=Role].displayName}", RES),
    row("Add member to role requested (PIM activation)", &[Grant], K::Human, "targetResources[type=User]|@actor", "activated {targetResources[type=Role].displayName}", PENDING),
    row("Add member to role completed (PIM activation)", &[Grant], K::Human, "targetResources[type=User]|@actor", "activated {targetResources[type=Role].displayName}", RES),
    row("Remove member from role in PIM completed (permanent)", &[Revoke], K::Human, "targetResources[type=User]|targetResources[type=Group]", "targetResources[type=Role].displayName", RES),
    row("Remove member from role in PIM completed (timebound)", &[Revoke], K::Human, "targetResources[type=User]|targetResources[type=Group]", "targetResources[type=Role].displayName", RES),
    row("Remove eligible member from role in PIM completed (permanent)", &[Revoke], K::Human, "targetResources[type=User]|targetResources[type=Group]", "eligible {targetResources[type=Role].displayName}", RES),
    row("Remove eligible member from role in PIM completed (timebound)", &[Revoke], K::Human, "targetResources[type=User]|targetResources[type=Group]", "eligible {targetResources[type=Role].displayName}", RES),
    row("Remove member from role (PIM activation expired)", &[Revoke], K::Human, "targetResources[type=User]|@actor", "activated {targetResources[type=Role].displayName}", RES),
    row("User has elevated their access to User Access Administrator for their Azure Resources", &[Grant], K::Human, "@actor", "User Access Administrator at {additionalDetails[key=Scope].value}|=User Access Administrator", RES),
    row("Create role assignment", &[Grant], K::Human, "targetResources[]", "{additionalDetails[key=RoleName].value} at {additionalDetails[key=Scope].value}|additionalDetails[key=RoleName].value", RES),
    row("Delete role assignment", &[Revoke], K::Human, "targetResources[]", "{additionalDetails[key=RoleName].value} at {additionalDetails[key=Scope].value}|additionalDetails[key=RoleName].value", RES),
    // Applications and service principals.
    row("Add service principal", &[Create], K::ServicePrincipal, "targetResources[type=ServicePrincipal]|targetResources[]", "-", RES),
    row("Remove service principal", &[Delete], K::ServicePrincipal, "targetResources[type=ServicePrincipal]|targetResources[]", "-", RES),
    row("Add service principal credentials", &[Create], K::ServicePrincipal, "targetResources[type=ServicePrincipal]|targetResources[]", "credential {targetResources[].modifiedProperties[displayName=KeyType].newValue}|=credential", RES),
    row("Remove service principal credentials", &[Delete], K::ServicePrincipal, "targetResources[type=ServicePrincipal]|targetResources[]", "credential {targetResources[].modifiedProperties[displayName=KeyType].oldValue}|=credential", RES),
    row("Update application – Certificates and secrets management", &[Rotate], K::ServicePrincipal, "targetResources[type=Application]|targetResources[]", "=certificates and secrets", RES),
    row("Add application", &[Create], K::ServicePrincipal, "targetResources[type=Application]|targetResources[]", "=app registration", RES),
    row("Delete application", &[Delete], K::ServicePrincipal, "targetResources[type=Application]|targetResources[]", "=app registration", RES),
    row("Add owner to application", &[OwnershipChange], K::ServicePrincipal, "targetResources[type=Application]|targetResources[].modifiedProperties[displayName=Application.DisplayName].newValue", "owner added {targetResources[type=User].userPrincipalName}|=owner added", RES),
    row("Remove owner from application", &[OwnershipChange], K::ServicePrincipal, "targetResources[type=Application]|targetResources[].modifiedProperties[displayName=Application.DisplayName].oldValue", "owner removed {targetResources[type=User].userPrincipalName}|=owner removed", RES),
    row("Add owner to service principal", &[OwnershipChange], K::ServicePrincipal, "targetResources[type=ServicePrincipal]|targetResources[].modifiedProperties[displayName=ServicePrincipal.DisplayName].newValue", "owner added {targetResources[type=User].userPrincipalName}|=owner added", RES),
    row("Remove owner from service principal", &[OwnershipChange], K::ServicePrincipal, "targetResources[type=ServicePrincipal]|targetResources[].modifiedProperties[displayName=ServicePrincipal.DisplayName].oldValue", "owner removed {targetResources[type=User].userPrincipalName}|=owner removed", RES),
    row("Add app role assignment to service principal", &[Grant], K::ServicePrincipal, "targetResources[type=ServicePrincipal]|targetResources[]", "targetResources[].modifiedProperties[displayName=AppRole.Value].newValue|=app role", RES),
    row("Remove app role assignment from service principal", &[Revoke], K::ServicePrincipal, "targetResources[type=ServicePrincipal]|targetResources[]", "targetResources[].modifiedProperties[displayName=AppRole.Value].oldValue|=app role", RES),
    row("Add app role assignment grant to user", &[Grant], K::Human, "targetResources[type=User]|targetResources[]", "app {targetResources[type=ServicePrincipal].displayName}|targetResources[].modifiedProperties[displayName=AppRole.Value].newValue", RES),
    row("Remove app role assignment from user", &[Revoke], K::Human, "targetResources[type=User]|targetResources[]", "app {targetResources[type=ServicePrincipal].displayName}|targetResources[].modifiedProperties[displayName=AppRole.Value].oldValue", RES),
    row("Add delegated permission grant", &[Grant], K::OauthGrant, "targetResources[type=ServicePrincipal]|targetResources[]", "targetResources[].modifiedProperties[displayName=DelegatedPermissionGrant.Scope].newValue|=delegated permissions", RES),
    row("Remove delegated permission grant", &[Revoke], K::OauthGrant, "targetResources[type=ServicePrincipal]|targetResources[]", "targetResources[].modifiedProperties[displayName=DelegatedPermissionGrant.Scope].oldValue|=delegated permissions", RES),
    row("Consent to application", &[Grant], K::OauthGrant, "targetResources[type=ServicePrincipal]|targetResources[]", "targetResources[].modifiedProperties[displayName=ConsentAction.Permissions].newValue|=consent", RES),
    // Users, credentials, sessions.
    row("Add user", &[Create], K::Human, "targetResources[type=User]|targetResources[]", "-", RES),
    row("Invite external user", &[Create], K::Human, "additionalDetails[key=invitedUserEmailAddress].value|targetResources[type=User]", "=guest invitation", RES),
    row("Delete user", &[Delete], K::Human, "targetResources[type=User]|targetResources[]", "-", RES),
    row("Hard delete user", &[Delete], K::Human, "targetResources[type=User]|targetResources[]", "=permanently deleted", RES),
    row("Restore user", &[Enable], K::Human, "targetResources[type=User]|targetResources[]", "=restored", RES),
    row("Disable account", &[Disable], K::Human, "targetResources[type=User]|targetResources[]", "-", RES),
    row("Enable account", &[Enable], K::Human, "targetResources[type=User]|targetResources[]", "-", RES),
    row("Update user", &[MfaReset, Enable, Disable], K::Human, "targetResources[type=User]|targetResources[]", "targetResources[].modifiedProperties[displayName=Included Updated Properties].newValue|=user properties", RES),
    row("Reset password (by admin)", &[Rotate], K::Human, "targetResources[type=User]|targetResources[]", "=password", RES),
    row("Reset user password", &[Rotate], K::Human, "targetResources[type=User]|targetResources[]", "=password", RES),
    row("Change user password", &[Rotate], K::Human, "targetResources[type=User]|targetResources[]", "=password", RES),
    row("Set force change user password", &[Rotate], K::Human, "targetResources[type=User]|targetResources[]", "=password change required", RES),
    row("Change password (self-service)", &[Rotate], K::Human, "targetResources[type=User]|@actor", "=password", RES),
    row("Reset password (self-service)", &[Rotate], K::Human, "targetResources[type=User]|@actor", "=password", RES),
    row("User registered security info", &[Enable], K::Human, "targetResources[type=User]|@actor", "=authentication method", RES),
    row("User deleted security info", &[MfaReset], K::Human, "targetResources[type=User]|@actor", "=authentication method", RES),
    row("Update StsRefreshTokenValidFrom Timestamp", &[SessionRevoke], K::Human, "targetResources[type=User]|targetResources[]", "=refresh tokens", RES),
    row("Invalidate all refresh tokens for a user", &[SessionRevoke], K::Human, "targetResources[type=User]|targetResources[]", "=refresh tokens", RES),
    // Groups.
    row("Add member to group", &[Grant], K::Human, "targetResources[type=User]|targetResources[]", "group {targetResources[].modifiedProperties[displayName=Group.DisplayName].newValue}|group {targetResources[type=Group].displayName}", RES),
    row("Remove member from group", &[Revoke], K::Human, "targetResources[type=User]|targetResources[]", "group {targetResources[].modifiedProperties[displayName=Group.DisplayName].oldValue}|group {targetResources[type=Group].displayName}", RES),
    row("Add owner to group", &[OwnershipChange], K::Group, "targetResources[type=Group]|targetResources[].modifiedProperties[displayName=Group.DisplayName].newValue", "owner added {targetResources[type=User].userPrincipalName}|=owner added", RES),
    row("Remove owner from group", &[OwnershipChange], K::Group, "targetResources[type=Group]|targetResources[].modifiedProperties[displayName=Group.DisplayName].oldValue", "owner removed {targetResources[type=User].userPrincipalName}|=owner removed", RES),
    row("Add group", &[Create], K::Group, "targetResources[type=Group]|targetResources[]", "-", RES),
    row("Delete group", &[Delete], K::Group, "targetResources[type=Group]|targetResources[]", "-", RES),
    // Policies, federation, tenant settings.
    row("Add conditional access policy", &[PolicyChange], K::Other, "targetResources[type=Policy]|targetResources[]", "conditional access {targetResources[].displayName}|=conditional access", RES),
    row("Update conditional access policy", &[PolicyChange], K::Other, "targetResources[type=Policy]|targetResources[]", "conditional access {targetResources[].displayName}|=conditional access", RES),
    row("Delete conditional access policy", &[PolicyChange], K::Other, "targetResources[type=Policy]|targetResources[]", "conditional access {targetResources[].displayName}|=conditional access", RES),
    row("Add policy", &[PolicyChange], K::Other, "targetResources[type=Policy]|targetResources[]", "policy {targetResources[].displayName}|=policy", RES),
    row("Added policy", &[PolicyChange], K::Other, "targetResources[type=Policy]|targetResources[]", "policy {targetResources[].displayName}|=policy", RES),
    row("Update policy", &[PolicyChange], K::Other, "targetResources[type=Policy]|targetResources[]", "policy {targetResources[].displayName}|=policy", RES),
    row("Delete policy", &[PolicyChange], K::Other, "targetResources[type=Policy]|targetResources[]", "policy {targetResources[].displayName}|=policy", RES),
    row("Authentication Methods Policy Update", &[PolicyChange], K::Other, "targetResources[type=Policy]|targetResources[]|tenantId", "=authentication methods policy", RES),
    row("Update authentication methods policy", &[PolicyChange], K::Other, "targetResources[type=Policy]|targetResources[]|tenantId", "=authentication methods policy", RES),
    row("Update authorization policy", &[PolicyChange], K::Other, "targetResources[]|tenantId", "=authorization policy", RES),
    row("Set federation settings on domain", &[PolicyChange], K::Other, "targetResources[type=Domain]|targetResources[]|tenantId", "=domain federation", RES),
    row("Set domain authentication", &[PolicyChange], K::Other, "targetResources[type=Domain]|targetResources[]|tenantId", "=domain authentication", RES),
    row("Add unverified domain", &[PolicyChange], K::Other, "targetResources[type=Domain]|targetResources[]|tenantId", "=domain added", RES),
    row("Verify domain", &[PolicyChange], K::Other, "targetResources[type=Domain]|targetResources[]|tenantId", "=domain verified", RES),
    row("Add partner to cross-tenant access setting", &[PolicyChange], K::Other, "targetResources[]|tenantId", "=cross-tenant access", RES),
    row("Update a partner cross-tenant access setting", &[PolicyChange], K::Other, "targetResources[]|tenantId", "=cross-tenant access", RES),
    // Context: sign-ins.
    row("SignInLogs", &[Observe], K::Human, "userPrincipalName|userId", "resourceDisplayName|appDisplayName", SIGNIN),
    row("NonInteractiveUserSignInLogs", &[Observe], K::Human, "userPrincipalName|userId", "resourceDisplayName|appDisplayName", SIGNIN),
    row("ServicePrincipalSignInLogs", &[Observe], K::ServicePrincipal, "servicePrincipalName|servicePrincipalId|appId", "resourceDisplayName", SIGNIN),
    row("ManagedIdentitySignInLogs", &[Observe], K::ServicePrincipal, "servicePrincipalName|servicePrincipalId|appId", "resourceDisplayName", SIGNIN),
    row("ADFSSignInLogs", &[Observe], K::Human, "userPrincipalName|userId", "resourceDisplayName|appDisplayName", SIGNIN),
    row("signIn", &[Observe], K::Human, "userPrincipalName|userId", "resourceDisplayName|appDisplayName", SIGNIN),
    row("UserLoggedIn", &[Observe], K::Human, "userPrincipalName", "=entra sign-in", RES),
    row("UserLoginFailed", &[Observe], K::Human, "userPrincipalName", "=entra sign-in", OutcomeRule::Failure("logonError")),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    AzureMonitor,
    Graph,
    Office365,
}

impl Form {
    fn name(self) -> &'static str {
        match self {
            Form::AzureMonitor => "azure-monitor",
            Form::Graph => "graph",
            Form::Office365 => "o365-management-activity",
        }
    }
}

fn is_o365(v: &Value) -> bool {
    path::get(v, "Operation").is_some_and(Value::is_string)
        && (text(v, "Workload").is_some_and(|w| w.eq_ignore_ascii_case("AzureActiveDirectory"))
            || path::get(v, "AzureActiveDirectoryEventType").is_some())
}

fn form(v: &Value) -> Option<Form> {
    if is_o365(v) {
        Some(Form::Office365)
    } else if path::get(v, "properties").is_some_and(Value::is_object)
        && (path::get(v, "operationName").is_some() || path::get(v, "category").is_some())
    {
        Some(Form::AzureMonitor)
    } else if path::get(v, "activityDisplayName").is_some()
        || (path::get(v, "createdDateTime").is_some() && path::get(v, "appDisplayName").is_some())
    {
        Some(Form::Graph)
    } else {
        None
    }
}

pub(crate) fn looks_like(v: &Value) -> bool {
    form(v).is_some()
}

pub(crate) fn event_id(v: &Value) -> Option<String> {
    if is_o365(v) {
        text(v, "Id")
    } else {
        text(v, "properties.id|id")
    }
}

/// Builds the Graph-shaped audit view of an Office 365 Management Activity record.
fn o365_view(v: &Value) -> Value {
    let operation = text(v, "Operation").unwrap_or_default();
    let operation = operation.trim_end_matches('.').to_string();
    let targets = path::get(v, "Target").and_then(Value::as_array);
    let kind_names = ["User", "Group", "Role", "ServicePrincipal", "Application", "Device", "Policy", "Directory"];
    let target_type = targets
        .and_then(|t| {
            t.iter().filter_map(|x| text(x, "ID")).find(|id| kind_names.iter().any(|k| k.eq_ignore_ascii_case(id)))
        })
        .unwrap_or_else(|| "User".into());
    let upn = targets.and_then(|t| {
        t.iter().find(|x| path::get(x, "Type").and_then(Value::as_i64) == Some(5)).and_then(|x| text(x, "ID"))
    });
    let modified: Vec<Value> = path::get(v, "ModifiedProperties")
        .and_then(Value::as_array)
        .map(|props| {
            props
                .iter()
                .map(|p| json!({"displayName": p.get("Name"), "oldValue": p.get("OldValue"), "newValue": p.get("NewValue")}))
                .collect()
        })
        .unwrap_or_default();
    let object_id = text(v, "ObjectId");
    let mut target = Map::new();
    target.insert("type".into(), target_type.into());
    if let Some(u) = upn.clone().or_else(|| object_id.clone().filter(|o| o.contains('@'))) {
        target.insert("userPrincipalName".into(), u.into());
    }
    if let Some(o) = &object_id {
        target.insert("id".into(), o.clone().into());
        target.insert("displayName".into(), o.clone().into());
    }
    target.insert("modifiedProperties".into(), Value::Array(modified));
    json!({
        "activityDisplayName": operation,
        "result": v.get("ResultStatus"),
        "id": v.get("Id"),
        "activityDateTime": v.get("CreationTime"),
        "userPrincipalName": v.get("UserId"),
        "logonError": v.get("LogonError"),
        "ipAddress": text(v, "ClientIP|ActorIpAddress"),
        "tenantId": v.get("OrganizationId"),
        "targetResources": [Value::Object(target)],
    })
}

/// The audit view: Graph's directoryAudit shape for every form.
fn view(v: &Value, form: Form) -> Value {
    match form {
        Form::Graph => v.clone(),
        Form::Office365 => o365_view(v),
        Form::AzureMonitor => {
            let mut out = path::get(v, "properties").and_then(Value::as_object).cloned().unwrap_or_default();
            if let Some(top) = v.as_object() {
                for (k, val) in top {
                    if k != "properties" && path::get_ci(&out, k).is_none() {
                        out.insert(k.clone(), val.clone());
                    }
                }
            }
            Value::Object(out)
        }
    }
}

/// Candidate event names, in lookup order.
fn names(v: &Value, form: Form, view: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let category = text(v, "category").unwrap_or_default();
    match form {
        Form::AzureMonitor if SIGNIN_CATEGORIES.iter().any(|c| c.eq_ignore_ascii_case(&category)) => {
            out.push(category);
        }
        Form::AzureMonitor => {
            out.extend(text(v, "operationName"));
            out.extend(text(view, "activityDisplayName"));
        }
        Form::Graph if path::get(v, "activityDisplayName").is_none() => out.push("signIn".into()),
        Form::Graph | Form::Office365 => out.extend(text(view, "activityDisplayName")),
    }
    out.into_iter().map(|n| n.trim().trim_end_matches('.').to_string()).collect()
}

fn actor(v: &Value, form: Form, view: &Value, row: &MappingRow) -> (String, ActorKind) {
    if form == Form::Office365 {
        let id = text(v, "UserId").unwrap_or_else(|| "unknown".into());
        let kind = match path::get(v, "UserType").and_then(Value::as_i64) {
            Some(4) => ActorKind::System,
            Some(5 | 6) => ActorKind::Service,
            _ => ActorKind::Human,
        };
        return (id, kind);
    }
    if row.is_context() {
        if let Some(u) = text(view, "userPrincipalName|userId") {
            return (u, ActorKind::Human);
        }
        if let Some(sp) = text(view, "servicePrincipalName|servicePrincipalId|appId") {
            return (sp, ActorKind::Service);
        }
    }
    if let Some(u) = path::get(view, "initiatedBy.user").and_then(|u| path::text(u, PICK)) {
        return (u, ActorKind::Human);
    }
    if let Some(app) = path::get(view, "initiatedBy.app")
        .and_then(|a| path::text(a, &["servicePrincipalName", "displayName", "appId", "servicePrincipalId"]))
    {
        return (app, ActorKind::Service);
    }
    if let Some(identity) = text(view, "identity") {
        return (identity, ActorKind::Human);
    }
    ("entra".into(), ActorKind::System)
}

fn outcome(rule: OutcomeRule, view: &Value) -> (Status, Option<String>) {
    let spec = match rule {
        OutcomeRule::Logged => return (Status::Success, None),
        OutcomeRule::Failure(p) => return (Status::Failure, text(view, p)),
        OutcomeRule::Field(p) | OutcomeRule::Pending(p) => p,
    };
    let mut found = None;
    for alt in spec.split('|') {
        let Some(value) = path::get(view, alt).and_then(path::scalar_text) else {
            continue;
        };
        found = Some(if alt == "result" {
            match value.to_ascii_lowercase().as_str() {
                "success" | "succeeded" | "true" => (Status::Success, None),
                "failure" | "failed" | "false" | "timeout" => {
                    let why = text(view, "resultReason").map(|r| format!(": {r}")).unwrap_or_default();
                    (Status::Failure, Some(format!("{value}{why}")))
                }
                "partiallysucceeded" | "partial" => (Status::Partial, Some(value)),
                _ => (Status::Pending, Some(format!("result {value}"))),
            }
        } else if value == "0" {
            (Status::Success, None)
        } else {
            let why =
                text(view, "status.failureReason|resultDescription").map(|r| format!(": {r}")).unwrap_or_default();
            (Status::Failure, Some(format!("error {value}{why}")))
        });
        break;
    }
    let (status, detail) = found.unwrap_or((Status::Success, Some("no result in the event; success assumed".into())));
    match (rule, status) {
        (OutcomeRule::Pending(_), Status::Success) => (Status::Pending, Some("requested; not yet in effect".into())),
        _ => (status, detail),
    }
}

/// `Update user`: an access change only for AccountEnabled or StrongAuthentication* changes.
fn update_user(view: &Value) -> Option<Action> {
    let targets = path::get(view, "targetResources")?.as_array()?;
    let props: Vec<&Value> =
        targets.iter().filter_map(|t| path::get(t, "modifiedProperties").and_then(Value::as_array)).flatten().collect();
    let prop = |name: &str| props.iter().find(|p| text(p, "displayName").is_some_and(|n| n.eq_ignore_ascii_case(name)));
    if let Some(p) = prop("AccountEnabled") {
        let new = text(p, "newValue").unwrap_or_default().to_ascii_lowercase();
        let action = if new.contains("false") { Disable } else { Enable };
        return Some(action);
    }
    let mfa = props.iter().find(|p| text(p, "displayName").is_some_and(|n| n.starts_with("StrongAuthentication")))?;
    let new = text(mfa, "newValue").unwrap_or_default();
    let emptied = matches!(new.trim(), "" | "[]" | "null" | "{}");
    Some(if emptied { MfaReset } else { Enable })
}

pub(crate) fn map(ev: &Ev<'_>) -> Result<Outcome, ImportError> {
    let v = ev.value;
    let form =
        form(v).ok_or_else(|| ImportError::WrongFormat { pos: ev.pos, expected: "entra", detail: SHAPE.into() })?;
    let view = view(v, form);
    let candidates = names(v, form, &view);
    let Some(first) = candidates.first().cloned() else {
        return Err(ImportError::Field {
            pos: ev.pos,
            field: match form {
                Form::AzureMonitor => "operationName".into(),
                Form::Graph => "activityDisplayName".into(),
                Form::Office365 => "Operation".into(),
            },
            problem: "missing".into(),
        });
    };
    let Some((name, row)) = candidates.iter().find_map(|n| lookup(TABLE, n).map(|r| (n.clone(), r))) else {
        return Ok(not_mapped(ev.source, &first));
    };
    let scope = path::resolve(&view, row.scope, PICK, None);
    let mut action = row.actions[0];
    if row.actions.len() > 1 {
        match update_user(&view) {
            Some(a) => action = a,
            None => {
                return Ok(Outcome::Skipped {
                    reason: format!(
                        "entra {name} changes no access-relevant property (AccountEnabled, StrongAuthentication*)"
                    ),
                })
            }
        }
    }
    let (actor_id, actor_kind) = actor(v, form, &view, row);
    let (status, detail) = outcome(row.outcome, &view);
    let target_kind = row.kind.fixed();
    let target_id = path::resolve(&view, row.target, PICK, Some(&actor_id));
    let target_name = path::resolve(&view, row.target, &["displayName"], None);
    let justification = text(&view, "additionalDetails[key=Justification].value");
    let mut d = Draft {
        event: name,
        action,
        actor_id,
        actor_kind,
        target_id: None,
        target_kind,
        target_spec: row.target,
        scope,
        status,
        detail,
        occurred_at: path::first(&view, "activityDateTime|createdDateTime|time").and_then(time::normalize),
        reason_note: justification.as_ref().map(|j| format!("justification: {j}")),
        attributes: Default::default(),
    };
    if target_name != target_id {
        d.attr("target_name", target_name);
    }
    d.target_id = target_id;
    d.note_unparsed_time(&view, "activityDateTime|createdDateTime|time");
    d.attr("justification", justification);
    d.attr("result_reason", text(&view, "resultReason"));
    d.attr("azure_scope", text(&view, "additionalDetails[key=Scope].value"));
    d.attr("category", text(&view, "category"));
    d.attr("logged_by_service", text(&view, "loggedByService"));
    d.attr("operation_type", text(&view, "operationType"));
    d.attr("correlation_id", text(&view, "correlationId"));
    d.attr("tenant_id", text(&view, "tenantId"));
    d.attr("source_ip", text(&view, "initiatedBy.user.ipAddress|ipAddress|callerIpAddress"));
    if row.is_context() {
        d.attr("app", text(&view, "appDisplayName"));
    }
    d.attr("source_form", Some(form.name().into()));
    Ok(outcome_for(ev, row, vec![build(ev, d, None)]))
}
