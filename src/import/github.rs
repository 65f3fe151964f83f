//! GitHub step: maps GitHub organization and enterprise audit-log events to custody records.

use serde_json::Value;

use super::common::{event_name, lookup, text};
use super::path;
use super::record::{build, not_mapped, outcome_for, Draft, Ev, Status};
use super::table::{row, Action::*, ActorKind, MappingRow, OutcomeRule, TargetKind as K};
use super::{time, ImportError, Outcome};

/// What a GitHub audit event must have.
pub(crate) const SHAPE: &str = "no action with actor, @timestamp, created_at or _document_id";

/// GitHub writes audit events only for completed actions.
const LOG: OutcomeRule = OutcomeRule::Logged;

/// How the importer reads GitHub events (IMPORTERS.md prose).
pub(crate) const DOC: &str = "\
Input: audit-log exports and API pages (a JSON array) or JSON Lines (streaming). The event name is \
`action`; the event id is `_document_id`; the time is `@timestamp`, else `created_at`, else \
`at_sign_timestamp` (epoch milliseconds or text).

- actor: `actor`; service when `actor_is_bot` is true or the login ends in `[bot]`, else human; \
system (`github`) when the event has no actor.
- outcome: GitHub records only completed actions, so success; invitations and requests \
(`org.invite_member`, `business.invite_admin`, `personal_access_token.request_created`) are \
`pending`.
- attributes: `org`, `repo`, `business`, `team`, `permission`, `source_ip` (`actor_ip`), \
`actor_country`, `operation_type`, `programmatic_access_type`. Hashed tokens are never copied.";

/// The GitHub mapping table.
#[rustfmt::skip]
pub(crate) static TABLE: &[MappingRow] = &[
    // Organization membership and roles.
    row("org.add_member", &[Grant], K::Human, "user", "member of {org}|=organization member", LOG),
    row("org.remove_member", &[Revoke], K::Human, "user", "member of {org}|=organization member", LOG),
    row("org.update_member", &[Grant], K::Human, "user", "{permission} of {org}|{permission} in {repo}|org|repo", LOG),
    row("org.invite_member", &[Grant], K::Human, "user|invitee", "member of {org}|org|repo|=organization member", OutcomeRule::Pending("-")),
    row("org.cancel_invitation", &[Revoke], K::Human, "user|invitee", "member of {org}|=organization invitation", LOG),
    row("org.add_billing_manager", &[Grant], K::Human, "user", "billing manager of {org}|=billing manager", LOG),
    row("org.remove_billing_manager", &[Revoke], K::Human, "user", "billing manager of {org}|=billing manager", LOG),
    row("org.remove_outside_collaborator", &[Revoke], K::Human, "user", "outside collaborator in {org}|=outside collaborator", LOG),
    row("org.block_user", &[Disable], K::Human, "user|blocked_user", "blocked from {org}|=blocked", LOG),
    row("org.unblock_user", &[Enable], K::Human, "user|blocked_user", "unblocked in {org}|=unblocked", LOG),
    row("organization_moderators.add_user", &[Grant], K::Human, "user", "moderator of {org}|=organization moderator", LOG),
    row("organization_moderators.remove_user", &[Revoke], K::Human, "user", "moderator of {org}|=organization moderator", LOG),
    row("organization_moderators.add_team", &[Grant], K::Group, "team", "moderator of {org}|=organization moderator", LOG),
    row("organization_moderators.remove_team", &[Revoke], K::Group, "team", "moderator of {org}|=organization moderator", LOG),
    // Organization security settings.
    row("org.enable_two_factor_requirement", &[PolicyChange], K::Other, "org", "=two-factor requirement enabled", LOG),
    row("org.disable_two_factor_requirement", &[PolicyChange], K::Other, "org", "=two-factor requirement disabled", LOG),
    row("org.enable_oauth_app_restrictions", &[PolicyChange], K::Other, "org", "=oauth app restrictions enabled", LOG),
    row("org.disable_oauth_app_restrictions", &[PolicyChange], K::Other, "org", "=oauth app restrictions disabled", LOG),
    row("org.enable_saml", &[PolicyChange], K::Other, "org", "=saml sso enabled", LOG),
    row("org.disable_saml", &[PolicyChange], K::Other, "org", "=saml sso disabled", LOG),
    row("org.saml_disabled", &[PolicyChange], K::Other, "org", "=saml sso disabled", LOG),
    row("org.update_saml_provider_settings", &[PolicyChange], K::Other, "org", "=saml provider settings", LOG),
    row("org.set_default_workflow_permissions", &[PolicyChange], K::Other, "org", "=default workflow permissions", LOG),
    row("org.update_default_repository_permission", &[PolicyChange], K::Other, "org", "default repository permission {permission}|=default repository permission", LOG),
    row("org.update_member_repository_creation_permission", &[PolicyChange], K::Other, "org", "=member repository creation permission", LOG),
    row("ip_allow_list.enable", &[PolicyChange], K::Other, "org|business", "=ip allow list enabled", LOG),
    row("ip_allow_list.disable", &[PolicyChange], K::Other, "org|business", "=ip allow list disabled", LOG),
    row("ip_allow_list_entry.create", &[PolicyChange], K::Other, "org|business", "=ip allow list entry added", LOG),
    row("ip_allow_list_entry.destroy", &[PolicyChange], K::Other, "org|business", "=ip allow list entry removed", LOG),
    // Repositories.
    row("repo.add_member", &[Grant], K::Human, "user", "{permission} on {repo}|collaborator on {repo}|=repository collaborator", LOG),
    row("repo.remove_member", &[Revoke], K::Human, "user", "collaborator on {repo}|=repository collaborator", LOG),
    row("repo.update_member", &[Grant], K::Human, "user", "{permission} on {repo}|collaborator on {repo}|=repository collaborator", LOG),
    row("repo.transfer", &[OwnershipChange], K::Other, "repo", "owner {org}|=new owner", LOG),
    // Teams.
    row("team.add_member", &[Grant], K::Human, "user", "team {team}|team {data.team}|=team member", LOG),
    row("team.remove_member", &[Revoke], K::Human, "user", "team {team}|team {data.team}|=team member", LOG),
    row("team.promote_maintainer", &[Grant], K::Human, "user", "maintainer of {team}|maintainer of {data.team}|=team maintainer", LOG),
    row("team.demote_maintainer", &[Revoke], K::Human, "user", "maintainer of {team}|maintainer of {data.team}|=team maintainer", LOG),
    row("team.create", &[Create], K::Group, "team|data.team", "-", LOG),
    row("team.destroy", &[Delete], K::Group, "team|data.team", "-", LOG),
    row("team.add_repository", &[Grant], K::Group, "team|data.team", "{permission} on {repo}|repo", LOG),
    row("team.remove_repository", &[Revoke], K::Group, "team|data.team", "repo", LOG),
    row("team.update_repository_permission", &[Grant], K::Group, "team|data.team", "{permission} on {repo}|repo", LOG),
    // Enterprise.
    row("business.add_admin", &[Grant], K::Human, "user", "enterprise owner of {business}|=enterprise owner", LOG),
    row("business.remove_admin", &[Revoke], K::Human, "user", "enterprise owner of {business}|=enterprise owner", LOG),
    row("business.invite_admin", &[Grant], K::Human, "user|invitee", "enterprise owner of {business}|=enterprise owner", OutcomeRule::Pending("-")),
    row("business.uninvite_admin", &[Revoke], K::Human, "user|invitee", "enterprise owner of {business}|=enterprise owner", LOG),
    row("business.add_billing_manager", &[Grant], K::Human, "user", "billing manager of {business}|=enterprise billing manager", LOG),
    row("business.remove_billing_manager", &[Revoke], K::Human, "user", "billing manager of {business}|=enterprise billing manager", LOG),
    row("business.enable_two_factor_requirement", &[PolicyChange], K::Other, "business", "=two-factor requirement enabled", LOG),
    row("business.disable_two_factor_requirement", &[PolicyChange], K::Other, "business", "=two-factor requirement disabled", LOG),
    // Keys, tokens, OAuth apps and GitHub Apps.
    row("public_key.create", &[Create], K::Human, "user|@actor", "ssh key {fingerprint}|ssh key {title}|=ssh key", LOG),
    row("public_key.delete", &[Delete], K::Human, "user|@actor", "ssh key {fingerprint}|ssh key {title}|=ssh key", LOG),
    row("deploy_key.create", &[Create], K::Other, "repo", "deploy key {fingerprint}|deploy key {title}|=deploy key", LOG),
    row("deploy_key.delete", &[Delete], K::Other, "repo", "deploy key {fingerprint}|deploy key {title}|=deploy key", LOG),
    row("personal_access_token.request_created", &[Grant], K::Token, "token_id|user|@actor", "org {org}|=organization access", OutcomeRule::Pending("-")),
    row("personal_access_token.access_granted", &[Grant], K::Token, "token_id|user", "org {org}|=organization access", LOG),
    row("personal_access_token.access_revoked", &[Revoke], K::Token, "token_id|user", "org {org}|=organization access", LOG),
    row("oauth_authorization.create", &[Grant], K::OauthGrant, "oauth_application_name|oauth_application_id|application", "for {user}|=oauth authorization", LOG),
    row("oauth_authorization.destroy", &[Revoke], K::OauthGrant, "oauth_application_name|oauth_application_id|application", "for {user}|=oauth authorization", LOG),
    row("org.oauth_app_access_approved", &[Grant], K::OauthGrant, "oauth_application_name|oauth_application_id|name", "org {org}|=organization access", LOG),
    row("org.oauth_app_access_denied", &[Revoke], K::OauthGrant, "oauth_application_name|oauth_application_id|name", "org {org}|=organization access", LOG),
    row("integration_installation.create", &[Grant], K::OauthGrant, "name|integration", "installed on {org}|installed on {repo}|=app installation", LOG),
    row("integration_installation.destroy", &[Revoke], K::OauthGrant, "name|integration", "installed on {org}|installed on {repo}|=app installation", LOG),
    row("integration_installation.repositories_added", &[Grant], K::OauthGrant, "name|integration", "repositories {repositories_added}|=repositories added", LOG),
    row("integration_installation.repositories_removed", &[Revoke], K::OauthGrant, "name|integration", "repositories {repositories_removed}|=repositories removed", LOG),
    row("integration_installation.suspend", &[Disable], K::OauthGrant, "name|integration", "=app installation", LOG),
    row("integration_installation.unsuspend", &[Enable], K::OauthGrant, "name|integration", "=app installation", LOG),
    row("two_factor_authentication.enabled", &[Enable], K::Human, "user|@actor", "=two-factor authentication", LOG),
    row("two_factor_authentication.disabled", &[MfaReset], K::Human, "user|@actor", "=two-factor authentication", LOG),
    // Context.
    row("org.sso_response", &[Observe], K::Human, "@actor", "saml sso to {org}|=saml sso", LOG),
    row("protected_branch.policy_override", &[Observe], K::Other, "repo", "branch {branch}|=branch protection", LOG),
];

pub(crate) fn looks_like(v: &Value) -> bool {
    path::get(v, "action").is_some_and(Value::is_string)
        && ["actor", "@timestamp", "created_at", "_document_id", "org", "repo", "user"]
            .iter()
            .any(|k| path::get(v, k).is_some())
}

pub(crate) fn event_id(v: &Value) -> Option<String> {
    text(v, "_document_id")
}

fn actor(v: &Value) -> (String, ActorKind) {
    match text(v, "actor") {
        Some(a) => {
            let bot = path::get(v, "actor_is_bot").and_then(Value::as_bool) == Some(true) || a.ends_with("[bot]");
            (a, if bot { ActorKind::Service } else { ActorKind::Human })
        }
        None => ("github".into(), ActorKind::System),
    }
}

pub(crate) fn map(ev: &Ev<'_>) -> Result<Outcome, ImportError> {
    let v = ev.value;
    let name = event_name(ev, "action")?;
    let Some(row) = lookup(TABLE, &name) else {
        return Ok(not_mapped(ev.source, &name));
    };
    let (actor_id, actor_kind) = actor(v);
    let (status, detail) = match row.outcome {
        OutcomeRule::Pending(_) => (Status::Pending, Some("invitation or request; not yet in effect".into())),
        _ => (Status::Success, None),
    };
    let target_kind = row.kind.fixed();
    let mut d = Draft {
        event: name,
        action: row.actions[0],
        target_id: path::resolve(v, row.target, &[], Some(&actor_id)),
        actor_id,
        actor_kind,
        target_kind,
        target_spec: row.target,
        scope: path::resolve(v, row.scope, &[], None),
        status,
        detail,
        occurred_at: path::first(v, "@timestamp|created_at|at_sign_timestamp|timestamp").and_then(time::normalize),
        reason_note: None,
        attributes: Default::default(),
    };
    d.note_unparsed_time(v, "@timestamp|created_at|at_sign_timestamp|timestamp");
    d.attr("org", text(v, "org"));
    d.attr("repo", text(v, "repo|repository"));
    d.attr("business", text(v, "business"));
    d.attr("team", text(v, "team|data.team"));
    d.attr("permission", text(v, "permission"));
    d.attr("source_ip", text(v, "actor_ip"));
    d.attr("actor_country", text(v, "actor_location.country_code"));
    d.attr("operation_type", text(v, "operation_type"));
    d.attr("programmatic_access_type", text(v, "programmatic_access_type"));
    Ok(outcome_for(ev, row, vec![build(ev, d, None)]))
}
