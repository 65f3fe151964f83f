//! Okta step: maps Okta System Log events (API form, and the data-lake form with lower-cased
//! top-level keys) to custody records.

use serde_json::Value;

use super::common::{event_name, lookup, text};
use super::path;
use super::record::{build, not_mapped, outcome_for, Draft, Ev, Status};
use super::table::{row, Action::*, ActorKind, MappingRow, OutcomeRule, TargetKind as K};
use super::{time, ImportError, Outcome};

/// What an Okta event must have.
pub(crate) const SHAPE: &str = "no eventType with published, uuid or actor";

const RES: OutcomeRule = OutcomeRule::Field("outcome.result");

/// Okta actors and targets are objects; their identifier is picked in this order.
const PICK: &[&str] = &["alternateId", "id", "displayName"];

/// How the importer reads Okta events (IMPORTERS.md prose).
pub(crate) const DOC: &str = "\
Input: System Log API pages (a JSON array) or JSON Lines, including the data-lake form whose \
top-level keys are lower-cased (`eventtype`, `displaymessage`, ...): top-level keys are matched \
ignoring case. The event name is `eventType`; the event id is `uuid`; the time is `published`.

- actor and target objects are identified by `alternateId`, else `id`, else `displayName` (the \
placeholder `unknown` is skipped); `target[type=User]` picks the first target of that type. The other \
identifiers go to `actor_source_id`, `target_source_id` and `target_name`.
- actor kind: `User` is human (system when it is `system@okta.com`), `SystemPrincipal` is system, \
`IP address` is human, anything else (apps, clients) is service.
- outcome: `outcome.result` SUCCESS and ALLOW are success; FAILURE, DENY and SKIPPED are failure; \
CHALLENGE and UNKNOWN are pending; the result and `outcome.reason` go to `outcome.detail`. An event \
without `outcome` is taken as success and says so in the detail. `user.account.lock` is logged when the \
lock happens (Okta marks the sign-in that caused it FAILURE), so it is a successful disable.
- attributes: `display_message`, `client_ip`, `privilege` (`debugContext.debugData.privilegeGranted`), \
`source_result`, `source_form`.";

/// The Okta mapping table.
#[rustfmt::skip]
pub(crate) static TABLE: &[MappingRow] = &[
    // User lifecycle and account state.
    row("user.lifecycle.create", &[Create], K::Human, "target[type=User]", "-", RES),
    row("user.lifecycle.activate", &[Enable], K::Human, "target[type=User]", "-", RES),
    row("user.lifecycle.reactivate", &[Enable], K::Human, "target[type=User]", "-", RES),
    row("user.lifecycle.deactivate", &[Disable], K::Human, "target[type=User]", "-", RES),
    row("user.lifecycle.suspend", &[Disable], K::Human, "target[type=User]", "=suspended", RES),
    row("user.lifecycle.unsuspend", &[Enable], K::Human, "target[type=User]", "=unsuspended", RES),
    row("user.lifecycle.delete.initiated", &[Delete], K::Human, "target[type=User]", "-", RES),
    row("user.account.lock", &[Disable], K::Human, "target[type=User]|@actor", "=locked", OutcomeRule::Logged),
    row("user.account.lock.limit", &[Disable], K::Human, "target[type=User]|@actor", "=locked", OutcomeRule::Logged),
    row("user.account.unlock", &[Enable], K::Human, "target[type=User]|@actor", "=unlocked", RES),
    row("user.account.unlock_by_admin", &[Enable], K::Human, "target[type=User]", "=unlocked", RES),
    row("user.account.reset_password", &[Rotate], K::Human, "target[type=User]|@actor", "=password", RES),
    row("user.account.update_password", &[Rotate], K::Human, "target[type=User]|@actor", "=password", RES),
    row("user.account.expire_password", &[Rotate], K::Human, "target[type=User]", "=password expired", RES),
    // Admin privileges.
    row("user.account.privilege.grant", &[Grant], K::Human, "target[type=User]", "debugContext.debugData.privilegeGranted|=admin privilege", RES),
    row("user.account.privilege.revoke", &[Revoke], K::Human, "target[type=User]", "debugContext.debugData.privilegeRevoked|debugContext.debugData.privilegeGranted|=admin privilege", RES),
    row("group.privilege.grant", &[Grant], K::Group, "target[type=UserGroup]|target[]", "debugContext.debugData.privilegeGranted|=admin privilege", RES),
    row("group.privilege.revoke", &[Revoke], K::Group, "target[type=UserGroup]|target[]", "debugContext.debugData.privilegeRevoked|debugContext.debugData.privilegeGranted|=admin privilege", RES),
    // Group and app membership.
    row("group.user_membership.add", &[Grant], K::Human, "target[type=User]", "group {target[type=UserGroup].displayName}|target[type=UserGroup]", RES),
    row("group.user_membership.remove", &[Revoke], K::Human, "target[type=User]", "group {target[type=UserGroup].displayName}|target[type=UserGroup]", RES),
    row("group.lifecycle.create", &[Create], K::Group, "target[type=UserGroup]", "-", RES),
    row("group.lifecycle.delete", &[Delete], K::Group, "target[type=UserGroup]", "-", RES),
    row("application.user_membership.add", &[Grant], K::Human, "target[type=User]|target[type=AppUser]", "app {target[type=AppInstance].displayName}|target[type=AppInstance]", RES),
    row("application.user_membership.remove", &[Revoke], K::Human, "target[type=User]|target[type=AppUser]", "app {target[type=AppInstance].displayName}|target[type=AppInstance]", RES),
    row("application.lifecycle.create", &[Create], K::Other, "target[type=AppInstance]", "=app integration", RES),
    row("application.lifecycle.update", &[PolicyChange], K::Other, "target[type=AppInstance]", "=app integration", RES),
    row("application.lifecycle.activate", &[Enable], K::Other, "target[type=AppInstance]", "=app integration", RES),
    row("application.lifecycle.deactivate", &[Disable], K::Other, "target[type=AppInstance]", "=app integration", RES),
    row("application.lifecycle.delete", &[Delete], K::Other, "target[type=AppInstance]", "=app integration", RES),
    row("app.oauth2.as.consent.grant", &[Grant], K::OauthGrant, "target[type=AppInstance]|target[]", "debugContext.debugData.grantedScopes|=oauth consent", RES),
    row("app.oauth2.as.consent.revoke", &[Revoke], K::OauthGrant, "target[type=AppInstance]|target[]", "=oauth consent", RES),
    // Factors.
    row("user.mfa.factor.activate", &[Enable], K::Human, "target[type=User]|@actor", "=mfa factor", RES),
    row("user.mfa.factor.deactivate", &[MfaReset], K::Human, "target[type=User]|@actor", "=mfa factor", RES),
    row("user.mfa.factor.reset_all", &[MfaReset], K::Human, "target[type=User]|@actor", "=all mfa factors", RES),
    row("user.mfa.factor.suspend", &[Disable], K::Human, "target[type=User]|@actor", "=mfa factor", RES),
    row("user.mfa.factor.unsuspend", &[Enable], K::Human, "target[type=User]|@actor", "=mfa factor", RES),
    row("system.mfa.factor.activate", &[Enable], K::Other, "target[]|=okta organization", "=mfa factor type", RES),
    row("system.mfa.factor.deactivate", &[MfaReset], K::Other, "target[]|=okta organization", "=mfa factor type", RES),
    // Sessions, impersonation, API tokens.
    row("user.session.clear", &[SessionRevoke], K::Human, "target[type=User]|@actor", "=all sessions", RES),
    row("user.session.impersonation.grant", &[Grant], K::Other, "target[]|=okta support", "=support impersonation", RES),
    row("user.session.impersonation.revoke", &[Revoke], K::Other, "target[]|=okta support", "=support impersonation", RES),
    row("system.api_token.create", &[Create], K::Token, "target[type=Token]|target[]", "=api token", RES),
    row("system.api_token.revoke", &[Revoke], K::Token, "target[type=Token]|target[]", "=api token", RES),
    // Identity providers and policies.
    row("system.idp.lifecycle.create", &[Create], K::Other, "target[type=IdentityProvider]|target[]", "=identity provider", RES),
    row("system.idp.lifecycle.update", &[PolicyChange], K::Other, "target[type=IdentityProvider]|target[]", "=identity provider", RES),
    row("system.idp.lifecycle.activate", &[Enable], K::Other, "target[type=IdentityProvider]|target[]", "=identity provider", RES),
    row("system.idp.lifecycle.deactivate", &[Disable], K::Other, "target[type=IdentityProvider]|target[]", "=identity provider", RES),
    row("system.idp.lifecycle.delete", &[Delete], K::Other, "target[type=IdentityProvider]|target[]", "=identity provider", RES),
    row("policy.lifecycle.create", &[PolicyChange], K::Other, "target[]", "=policy created", RES),
    row("policy.lifecycle.update", &[PolicyChange], K::Other, "target[]", "=policy updated", RES),
    row("policy.lifecycle.activate", &[PolicyChange], K::Other, "target[]", "=policy activated", RES),
    row("policy.lifecycle.deactivate", &[PolicyChange], K::Other, "target[]", "=policy deactivated", RES),
    row("policy.lifecycle.delete", &[PolicyChange], K::Other, "target[]", "=policy deleted", RES),
    row("policy.rule.add", &[PolicyChange], K::Other, "target[]", "=policy rule added", RES),
    row("policy.rule.update", &[PolicyChange], K::Other, "target[]", "=policy rule updated", RES),
    row("policy.rule.delete", &[PolicyChange], K::Other, "target[]", "=policy rule deleted", RES),
    // Context: sign-ins, SSO, token and secret use, threat signals.
    row("user.session.start", &[Observe], K::Human, "@actor", "=okta session", RES),
    row("user.session.end", &[Observe], K::Human, "@actor", "=okta session", RES),
    row("user.authentication.sso", &[Observe], K::Other, "target[type=AppInstance]|target[]", "=single sign-on", RES),
    row("user.authentication.auth_via_mfa", &[Observe], K::Human, "@actor", "=mfa verification", RES),
    row("user.authentication.verify", &[Observe], K::Human, "@actor", "=authentication", RES),
    row("user.session.impersonation.initiate", &[Observe], K::Human, "target[type=User]|@actor", "=support impersonation session", RES),
    row("application.user_membership.show_password", &[Observe], K::Human, "target[type=User]|target[type=AppUser]", "app {target[type=AppInstance].displayName}|=app password", RES),
    row("app.oauth2.token.detect_reuse", &[Observe], K::Human, "target[type=User]|@actor", "=refresh token reuse", RES),
    row("security.threat.detected", &[Observe], K::Human, "@actor", "=threat insight", RES),
    row("user.account.report_suspicious_activity_by_enduser", &[Observe], K::Human, "target[type=User]|@actor", "=reported suspicious activity", RES),
];

pub(crate) fn looks_like(v: &Value) -> bool {
    path::get(v, "eventType").is_some_and(Value::is_string)
        && ["published", "uuid", "actor"].iter().any(|k| path::get(v, k).is_some())
}

pub(crate) fn event_id(v: &Value) -> Option<String> {
    text(v, "uuid")
}

fn actor(v: &Value) -> (String, ActorKind) {
    let Some(a) = path::get(v, "actor").filter(|a| a.is_object()) else {
        return ("okta".into(), ActorKind::System);
    };
    let id = path::text(a, PICK).unwrap_or_else(|| "unknown".into());
    let kind = match text(a, "type").as_deref() {
        Some("User") if id.eq_ignore_ascii_case("system@okta.com") => ActorKind::System,
        Some("User") | Some("IP address") | None => ActorKind::Human,
        Some("SystemPrincipal") => ActorKind::System,
        Some(_) => ActorKind::Service,
    };
    (id, kind)
}

fn outcome(row: &MappingRow, v: &Value) -> (Status, Option<String>) {
    let result = text(v, "outcome.result");
    let reason = text(v, "outcome.reason");
    let detail = match (&result, &reason) {
        (Some(r), Some(why)) => Some(format!("{r}: {why}")),
        (Some(r), None) => Some(r.clone()),
        (None, Some(why)) => Some(why.clone()),
        (None, None) => None,
    };
    if row.outcome == OutcomeRule::Logged {
        return (Status::Success, detail.map(|d| format!("okta outcome {d}")));
    }
    let Some(r) = result else {
        return (Status::Success, Some("no outcome.result in the event; success assumed".into()));
    };
    let status = match r.to_ascii_uppercase().as_str() {
        "SUCCESS" | "ALLOW" => Status::Success,
        "FAILURE" | "DENY" | "SKIPPED" => Status::Failure,
        _ => Status::Pending,
    };
    (status, detail)
}

pub(crate) fn map(ev: &Ev<'_>) -> Result<Outcome, ImportError> {
    let v = ev.value;
    let name = event_name(ev, "eventType")?;
    let Some(row) = lookup(TABLE, &name) else {
        return Ok(not_mapped(ev.source, &name));
    };
    let (actor_id, actor_kind) = actor(v);
    let (status, detail) = outcome(row, v);
    let target_kind = row.kind.fixed();
    let target_id = path::resolve(v, row.target, PICK, Some(&actor_id));
    let target_name = path::resolve(v, row.target, &["displayName"], None);
    let target_source_id = path::resolve(v, row.target, &["id"], None);
    let mut d = Draft {
        event: name,
        action: row.actions[0],
        actor_id: actor_id.clone(),
        actor_kind,
        target_id: None,
        target_kind,
        target_spec: row.target,
        scope: path::resolve(v, row.scope, &["displayName", "alternateId", "id"], None),
        status,
        detail,
        occurred_at: path::get(v, "published").and_then(time::normalize),
        reason_note: None,
        attributes: Default::default(),
    };
    if target_name != target_id {
        d.attr("target_name", target_name);
    }
    if target_source_id != target_id {
        d.attr("target_source_id", target_source_id);
    }
    d.target_id = target_id;
    let actor_source_id = text(v, "actor.id");
    if actor_source_id.as_deref() != Some(actor_id.as_str()) {
        d.attr("actor_source_id", actor_source_id);
    }
    d.attr("display_message", text(v, "displayMessage"));
    d.attr("client_ip", text(v, "client.ipAddress"));
    d.attr("privilege", text(v, "debugContext.debugData.privilegeGranted"));
    d.attr("source_result", text(v, "outcome.result"));
    let lower = v.as_object().is_some_and(|o| o.contains_key("eventtype"));
    d.attr("source_form", Some(if lower { "okta-lowercase-keys" } else { "okta-system-log" }.into()));
    d.note_unparsed_time(v, "published");
    Ok(outcome_for(ev, row, vec![build(ev, d, None)]))
}
