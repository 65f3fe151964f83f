//! CloudTrail step: maps AWS CloudTrail management events (IAM, STS, console sign-in, IAM Identity
//! Center) to custody records.

use serde_json::Value;

use super::common::{event_name, lookup, text};
use super::path;
use super::record::{build, not_mapped, outcome_for, Draft, Ev, Status};
use super::table::{row, Action::*, ActorKind, MappingRow, OutcomeRule, TargetKind as K};
use super::{time, ImportError, Outcome};

/// What a CloudTrail event must have.
pub(crate) const SHAPE: &str = "no eventName with eventSource, eventTime or userIdentity";

/// IAM and STS calls report failure in `errorCode`.
const ERR: OutcomeRule = OutcomeRule::Field("errorCode");

/// How the importer reads CloudTrail events (IMPORTERS.md prose).
pub(crate) const DOC: &str = "\
Input: `{\"Records\": [...]}` as CloudTrail delivers to S3 (gzip or not), a JSON array of events, or \
JSON Lines. The event name is `eventName`; the event id is `eventID`; the time is `eventTime`.

- actor: `userIdentity.arn` (else `principalId`, `userName`, `invokedBy`). `Root`, `IAMUser`, \
`FederatedUser`, `SAMLUser`, `WebIdentityUser` and `IdentityCenterUser` are human; `AssumedRole` is \
human when the session name looks like an e-mail address and service otherwise; `AWSService` is system.
- outcome: failure when `errorCode` is present (the code goes to `outcome.detail`); for console \
sign-in and password events, failure when `responseElements.ConsoleLogin` or \
`responseElements.PasswordUpdated` is `Failure`. A failed `AttachRolePolicy` is a failed grant.
- `disable/enable` rows pick `enable` when `requestParameters.status` is `Active`, else `disable`.
- attributes: `event_source`, `aws_region`, `account_id`, `source_ip`, `invoked_by`, \
`actor_access_key_id`, `mfa_authenticated`, `mfa_used`. Request bodies (policy documents, \
passwords) and response credentials are never copied.";

/// The CloudTrail mapping table.
#[rustfmt::skip]
pub(crate) static TABLE: &[MappingRow] = &[
    // IAM users and their credentials.
    row("CreateUser", &[Create], K::Human, "requestParameters.userName|responseElements.user.userName", "-", ERR),
    row("DeleteUser", &[Delete], K::Human, "requestParameters.userName", "-", ERR),
    row("CreateLoginProfile", &[Create], K::Human, "requestParameters.userName|@actor", "=console password", ERR),
    row("UpdateLoginProfile", &[Rotate], K::Human, "requestParameters.userName|@actor", "=console password", ERR),
    row("DeleteLoginProfile", &[Delete], K::Human, "requestParameters.userName|@actor", "=console password", ERR),
    row("ChangePassword", &[Rotate], K::Human, "@actor", "=console password", ERR),
    row("PasswordUpdated", &[Rotate], K::Human, "@actor", "=console password", OutcomeRule::Field("errorCode|responseElements.PasswordUpdated")),
    row("CreateAccessKey", &[Create], K::Human, "requestParameters.userName|responseElements.accessKey.userName|@actor", "access key {responseElements.accessKey.accessKeyId}|=access key", ERR),
    row("UpdateAccessKey", &[Disable, Enable], K::Human, "requestParameters.userName|@actor", "access key {requestParameters.accessKeyId}|=access key", ERR),
    row("DeleteAccessKey", &[Delete], K::Human, "requestParameters.userName|@actor", "access key {requestParameters.accessKeyId}|=access key", ERR),
    row("CreateServiceSpecificCredential", &[Create], K::Human, "requestParameters.userName", "{requestParameters.serviceName} credential {responseElements.serviceSpecificCredential.serviceSpecificCredentialId}|requestParameters.serviceName", ERR),
    row("ResetServiceSpecificCredential", &[Rotate], K::Human, "requestParameters.userName|@actor", "service credential {requestParameters.serviceSpecificCredentialId}", ERR),
    row("UpdateServiceSpecificCredential", &[Disable, Enable], K::Human, "requestParameters.userName|@actor", "service credential {requestParameters.serviceSpecificCredentialId}", ERR),
    row("DeleteServiceSpecificCredential", &[Delete], K::Human, "requestParameters.userName|@actor", "service credential {requestParameters.serviceSpecificCredentialId}", ERR),
    row("UploadSSHPublicKey", &[Create], K::Human, "requestParameters.userName", "ssh key {responseElements.sSHPublicKey.sSHPublicKeyId}|=ssh key", ERR),
    row("UpdateSSHPublicKey", &[Disable, Enable], K::Human, "requestParameters.userName", "ssh key {requestParameters.sSHPublicKeyId}|=ssh key", ERR),
    row("DeleteSSHPublicKey", &[Delete], K::Human, "requestParameters.userName", "ssh key {requestParameters.sSHPublicKeyId}|=ssh key", ERR),
    row("UploadSigningCertificate", &[Create], K::Human, "requestParameters.userName|@actor", "signing certificate {responseElements.certificate.certificateId}|=signing certificate", ERR),
    row("UpdateSigningCertificate", &[Disable, Enable], K::Human, "requestParameters.userName|@actor", "signing certificate {requestParameters.certificateId}|=signing certificate", ERR),
    row("DeleteSigningCertificate", &[Delete], K::Human, "requestParameters.userName|@actor", "signing certificate {requestParameters.certificateId}|=signing certificate", ERR),
    // MFA devices.
    row("CreateVirtualMFADevice", &[Create], K::Other, "responseElements.virtualMFADevice.serialNumber|requestParameters.virtualMFADeviceName", "=virtual mfa device", ERR),
    row("EnableMFADevice", &[Enable], K::Human, "requestParameters.userName|@actor", "mfa device {requestParameters.serialNumber}|=mfa device", ERR),
    row("DeactivateMFADevice", &[MfaReset], K::Human, "requestParameters.userName|@actor", "mfa device {requestParameters.serialNumber}|=mfa device", ERR),
    row("DeleteVirtualMFADevice", &[Delete], K::Other, "requestParameters.serialNumber", "=virtual mfa device", ERR),
    // Managed and inline policies.
    row("AttachUserPolicy", &[Grant], K::Human, "requestParameters.userName", "requestParameters.policyArn", ERR),
    row("AttachRolePolicy", &[Grant], K::Role, "requestParameters.roleName", "requestParameters.policyArn", ERR),
    row("AttachGroupPolicy", &[Grant], K::Group, "requestParameters.groupName", "requestParameters.policyArn", ERR),
    row("DetachUserPolicy", &[Revoke], K::Human, "requestParameters.userName", "requestParameters.policyArn", ERR),
    row("DetachRolePolicy", &[Revoke], K::Role, "requestParameters.roleName", "requestParameters.policyArn", ERR),
    row("DetachGroupPolicy", &[Revoke], K::Group, "requestParameters.groupName", "requestParameters.policyArn", ERR),
    row("PutUserPolicy", &[PolicyChange], K::Human, "requestParameters.userName", "inline policy {requestParameters.policyName}", ERR),
    row("PutRolePolicy", &[PolicyChange], K::Role, "requestParameters.roleName", "inline policy {requestParameters.policyName}", ERR),
    row("PutGroupPolicy", &[PolicyChange], K::Group, "requestParameters.groupName", "inline policy {requestParameters.policyName}", ERR),
    row("DeleteUserPolicy", &[Revoke], K::Human, "requestParameters.userName", "inline policy {requestParameters.policyName}", ERR),
    row("DeleteRolePolicy", &[Revoke], K::Role, "requestParameters.roleName", "inline policy {requestParameters.policyName}", ERR),
    row("DeleteGroupPolicy", &[Revoke], K::Group, "requestParameters.groupName", "inline policy {requestParameters.policyName}", ERR),
    row("PutUserPermissionsBoundary", &[PolicyChange], K::Human, "requestParameters.userName", "permissions boundary {requestParameters.permissionsBoundary}", ERR),
    row("PutRolePermissionsBoundary", &[PolicyChange], K::Role, "requestParameters.roleName", "permissions boundary {requestParameters.permissionsBoundary}", ERR),
    row("DeleteUserPermissionsBoundary", &[PolicyChange], K::Human, "requestParameters.userName", "=permissions boundary removed", ERR),
    row("DeleteRolePermissionsBoundary", &[PolicyChange], K::Role, "requestParameters.roleName", "=permissions boundary removed", ERR),
    row("CreatePolicy", &[Create], K::Other, "responseElements.policy.arn|requestParameters.policyName", "=managed policy", ERR),
    row("CreatePolicyVersion", &[PolicyChange], K::Other, "requestParameters.policyArn", "version {responseElements.policyVersion.versionId}|=new version", ERR),
    row("SetDefaultPolicyVersion", &[PolicyChange], K::Other, "requestParameters.policyArn", "default version {requestParameters.versionId}", ERR),
    row("DeletePolicy", &[Delete], K::Other, "requestParameters.policyArn", "=managed policy", ERR),
    // Roles, groups, instance profiles.
    row("CreateRole", &[Create], K::Role, "requestParameters.roleName|responseElements.role.arn", "-", ERR),
    row("DeleteRole", &[Delete], K::Role, "requestParameters.roleName", "-", ERR),
    row("UpdateRole", &[PolicyChange], K::Role, "requestParameters.roleName", "=role settings", ERR),
    row("UpdateAssumeRolePolicy", &[PolicyChange], K::Role, "requestParameters.roleName|resources[type=AWS::IAM::Role].ARN", "=trust policy", ERR),
    row("CreateServiceLinkedRole", &[Create], K::Role, "responseElements.role.roleName|requestParameters.aWSServiceName", "-", ERR),
    row("AddRoleToInstanceProfile", &[Grant], K::Role, "requestParameters.roleName", "instance profile {requestParameters.instanceProfileName}", ERR),
    row("RemoveRoleFromInstanceProfile", &[Revoke], K::Role, "requestParameters.roleName", "instance profile {requestParameters.instanceProfileName}", ERR),
    row("CreateGroup", &[Create], K::Group, "requestParameters.groupName", "-", ERR),
    row("DeleteGroup", &[Delete], K::Group, "requestParameters.groupName", "-", ERR),
    row("AddUserToGroup", &[Grant], K::Human, "requestParameters.userName", "group {requestParameters.groupName}", ERR),
    row("RemoveUserFromGroup", &[Revoke], K::Human, "requestParameters.userName", "group {requestParameters.groupName}", ERR),
    // Identity providers and account settings.
    row("CreateSAMLProvider", &[Create], K::Other, "responseElements.sAMLProviderArn|requestParameters.name", "=saml provider", ERR),
    row("UpdateSAMLProvider", &[PolicyChange], K::Other, "requestParameters.sAMLProviderArn|responseElements.sAMLProviderArn", "=saml provider metadata", ERR),
    row("DeleteSAMLProvider", &[Delete], K::Other, "requestParameters.sAMLProviderArn", "=saml provider", ERR),
    row("CreateOpenIDConnectProvider", &[Create], K::Other, "responseElements.openIDConnectProviderArn|requestParameters.url", "=oidc provider", ERR),
    row("UpdateOpenIDConnectProviderThumbprint", &[PolicyChange], K::Other, "requestParameters.openIDConnectProviderArn", "=oidc provider thumbprints", ERR),
    row("AddClientIDToOpenIDConnectProvider", &[PolicyChange], K::Other, "requestParameters.openIDConnectProviderArn", "client id {requestParameters.clientID} added", ERR),
    row("RemoveClientIDFromOpenIDConnectProvider", &[PolicyChange], K::Other, "requestParameters.openIDConnectProviderArn", "client id {requestParameters.clientID} removed", ERR),
    row("DeleteOpenIDConnectProvider", &[Delete], K::Other, "requestParameters.openIDConnectProviderArn", "=oidc provider", ERR),
    row("UpdateAccountPasswordPolicy", &[PolicyChange], K::Other, "recipientAccountId", "=account password policy", ERR),
    row("DeleteAccountPasswordPolicy", &[PolicyChange], K::Other, "recipientAccountId", "=account password policy removed", ERR),
    // IAM Identity Center account assignments.
    row("CreateAccountAssignment", &[Grant], K::Human, "requestParameters.principalId", "permission set {requestParameters.permissionSetArn} in {requestParameters.targetId}|requestParameters.permissionSetArn", ERR),
    row("DeleteAccountAssignment", &[Revoke], K::Human, "requestParameters.principalId", "permission set {requestParameters.permissionSetArn} in {requestParameters.targetId}|requestParameters.permissionSetArn", ERR),
    // Context: sign-ins and token issuance.
    row("ConsoleLogin", &[Observe], K::Human, "@actor", "=aws console", OutcomeRule::Field("errorCode|responseElements.ConsoleLogin")),
    row("CheckMfa", &[Observe], K::Human, "@actor", "=aws console mfa", OutcomeRule::Field("errorCode|responseElements.CheckMfa")),
    row("SwitchRole", &[Observe], K::Role, "additionalEventData.SwitchTo|@actor", "=aws console", OutcomeRule::Field("errorCode|responseElements.SwitchRole")),
    row("AssumeRole", &[Observe], K::Role, "requestParameters.roleArn", "=sts session", ERR),
    row("AssumeRoleWithSAML", &[Observe], K::Role, "requestParameters.roleArn", "=sts session", ERR),
    row("AssumeRoleWithWebIdentity", &[Observe], K::Role, "requestParameters.roleArn", "=sts session", ERR),
    row("GetSessionToken", &[Observe], K::Human, "@actor", "=sts session token", ERR),
    row("GetFederationToken", &[Observe], K::Human, "requestParameters.name|@actor", "=sts federation token", ERR),
    row("GetSigninToken", &[Observe], K::Human, "@actor", "=console sign-in token", ERR),
    row("GetRoleCredentials", &[Observe], K::Role, "requestParameters.roleName", "=identity center role credentials", ERR),
    row("CreateToken", &[Observe], K::Human, "@actor", "=identity center oidc token", ERR),
];

pub(crate) fn looks_like(v: &Value) -> bool {
    path::get(v, "eventName").is_some_and(Value::is_string)
        && ["eventSource", "eventTime", "userIdentity", "eventVersion"].iter().any(|k| path::get(v, k).is_some())
}

pub(crate) fn event_id(v: &Value) -> Option<String> {
    text(v, "eventID")
}

/// The caller: id and kind.
fn actor(v: &Value) -> (String, ActorKind) {
    let kind_of = |t: &str, arn: &str| match t {
        "AWSService" => ActorKind::System,
        "AWSAccount" => ActorKind::Service,
        "AssumedRole" => {
            let session = arn.rsplit('/').next().unwrap_or("");
            if session.contains('@') {
                ActorKind::Human
            } else {
                ActorKind::Service
            }
        }
        _ => ActorKind::Human,
    };
    let Some(ui) = path::get(v, "userIdentity").filter(|u| u.is_object()) else {
        let id = text(v, "eventSource").unwrap_or_else(|| "aws".into());
        return (id, ActorKind::System);
    };
    let t = text(ui, "type").unwrap_or_default();
    let arn = text(ui, "arn").unwrap_or_default();
    let id = text(ui, "arn|principalId|userName|invokedBy|accountId").unwrap_or_else(|| "unknown".into());
    (id, kind_of(&t, &arn))
}

/// `enable` when the request sets the status `Active`, else `disable`.
fn choose(row: &MappingRow, v: &Value) -> super::table::Action {
    if row.actions == [Disable, Enable] {
        match text(v, "requestParameters.status") {
            Some(s) if s.eq_ignore_ascii_case("active") => Enable,
            _ => Disable,
        }
    } else {
        row.actions[0]
    }
}

/// Failure when an `errorCode` is present or a `responseElements.X` field says `Failure`.
fn outcome(row: &MappingRow, v: &Value) -> (Status, Option<String>) {
    let OutcomeRule::Field(spec) = row.outcome else {
        return (Status::Success, None);
    };
    for alt in spec.split('|') {
        let Some(value) = path::get(v, alt).and_then(path::scalar_text) else {
            continue;
        };
        if alt == "errorCode" {
            return (Status::Failure, Some(value));
        }
        if value.eq_ignore_ascii_case("failure") {
            let field = alt.rsplit('.').next().unwrap_or(alt);
            return (Status::Failure, Some(format!("{field}: {value}")));
        }
    }
    (Status::Success, None)
}

pub(crate) fn map(ev: &Ev<'_>) -> Result<Outcome, ImportError> {
    let v = ev.value;
    let name = event_name(ev, "eventName")?;
    let Some(row) = lookup(TABLE, &name) else {
        return Ok(not_mapped(ev.source, &name));
    };
    let (actor_id, actor_kind) = actor(v);
    let (status, detail) = outcome(row, v);
    let target_kind = row.kind.fixed();
    let mut d = Draft {
        event: name,
        action: choose(row, v),
        target_id: path::resolve(v, row.target, &[], Some(&actor_id)),
        actor_id,
        actor_kind,
        target_kind,
        target_spec: row.target,
        scope: path::resolve(v, row.scope, &[], None),
        status,
        detail,
        occurred_at: path::get(v, "eventTime").and_then(time::normalize),
        reason_note: None,
        attributes: Default::default(),
    };
    d.attr("event_source", text(v, "eventSource"));
    d.attr("aws_region", text(v, "awsRegion"));
    d.attr("account_id", text(v, "recipientAccountId|userIdentity.accountId"));
    d.attr("source_ip", text(v, "sourceIPAddress"));
    d.attr("invoked_by", text(v, "userIdentity.invokedBy"));
    d.attr("actor_access_key_id", text(v, "userIdentity.accessKeyId"));
    d.attr("mfa_authenticated", text(v, "userIdentity.sessionContext.attributes.mfaAuthenticated"));
    d.attr("mfa_used", text(v, "additionalEventData.MFAUsed"));
    d.attr("saml_provider", text(v, "additionalEventData.SamlProviderArn"));
    d.note_unparsed_time(v, "eventTime");
    Ok(outcome_for(ev, row, vec![build(ev, d, None)]))
}
