//! Mapping-table step: the vocabulary of the per-source tables (event name -> action, target kind,
//! target, scope and outcome fields) and their rendering as the markdown of IMPORTERS.md.

use std::fmt;

/// Custody actions an importer can produce (the contract's closed set, minus the incident_* entries
/// that only people write).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Grant,
    Revoke,
    EmergencyGrant,
    Rotate,
    Disable,
    Enable,
    Create,
    Delete,
    SessionRevoke,
    OwnershipChange,
    Recertify,
    ExceptionAdd,
    ExceptionRemove,
    MfaReset,
    PolicyChange,
    Observe,
}

impl Action {
    /// The contract's spelling (the record's closed set names it).
    pub fn as_str(self) -> &'static str {
        self.record().as_str()
    }

    /// The same value in the record's closed set.
    pub fn record(self) -> crate::record::Action {
        use crate::record::Action as R;
        match self {
            Action::Grant => R::Grant,
            Action::Revoke => R::Revoke,
            Action::EmergencyGrant => R::EmergencyGrant,
            Action::Rotate => R::Rotate,
            Action::Disable => R::Disable,
            Action::Enable => R::Enable,
            Action::Create => R::Create,
            Action::Delete => R::Delete,
            Action::SessionRevoke => R::SessionRevoke,
            Action::OwnershipChange => R::OwnershipChange,
            Action::Recertify => R::Recertify,
            Action::ExceptionAdd => R::ExceptionAdd,
            Action::ExceptionRemove => R::ExceptionRemove,
            Action::MfaReset => R::MfaReset,
            Action::PolicyChange => R::PolicyChange,
            Action::Observe => R::Observe,
        }
    }
}

/// Target kinds: the record's closed set, all of which importers produce.
pub use crate::record::TargetKind;

/// Contract actor kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActorKind {
    Human,
    Service,
    System,
}

impl ActorKind {
    /// The contract's spelling (the record's closed set names it).
    pub fn as_str(self) -> &'static str {
        self.record().as_str()
    }

    /// The same value in the record's closed set.
    pub fn record(self) -> crate::record::ActorKind {
        use crate::record::ActorKind as R;
        match self {
            ActorKind::Human => R::Human,
            ActorKind::Service => R::Service,
            ActorKind::System => R::System,
        }
    }
}

/// How a row's target kind is decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KindRule {
    /// Always this kind.
    Fixed(TargetKind),
    /// From the IAM member prefix (`user:` human, `serviceAccount:` service_account, `group:` group,
    /// anything else other); GCP binding deltas.
    ByMemberPrefix,
}

impl KindRule {
    /// The fixed kind; `other` for rules the importer resolves per record.
    pub fn fixed(self) -> TargetKind {
        match self {
            KindRule::Fixed(k) => k,
            KindRule::ByMemberPrefix => TargetKind::Other,
        }
    }
}

impl fmt::Display for KindRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KindRule::Fixed(k) => f.write_str(k.as_str()),
            KindRule::ByMemberPrefix => f.write_str("by member prefix"),
        }
    }
}

/// Where a row reads the event's own result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutcomeRule {
    /// The source logs only completed actions: success.
    Logged,
    /// These result fields decide success or failure (alternatives separated by `|`).
    Field(&'static str),
    /// As `Field`, but a success is only a request or invitation, so it is recorded as `pending`.
    Pending(&'static str),
    /// The event itself denotes a failure; the field (if any) gives the detail.
    Failure(&'static str),
}

impl fmt::Display for OutcomeRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OutcomeRule::Logged => f.write_str("- (logged on success)"),
            OutcomeRule::Field(p) => write!(f, "`{p}`"),
            OutcomeRule::Pending("-") => f.write_str("- (logged on request: pending)"),
            OutcomeRule::Pending(p) => write!(f, "`{p}` (success is pending)"),
            OutcomeRule::Failure(p) => write!(f, "always failure, detail `{p}`"),
        }
    }
}

/// One row of a source's mapping table: how one event name becomes a custody record.
///
/// Field specs are dotted paths into the event (see IMPORTERS.md, "Field paths"): `a.b`,
/// `list[key=value]` (first element whose `key` equals `value`), `list[]` (first element), `|`
/// between alternatives (first that yields a value wins), `@actor` (the event's actor), `=text`
/// (a constant) and `{path}` templates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MappingRow {
    /// The source's event name (CloudTrail eventName, Okta eventType, Entra activity, GitHub action,
    /// GCP methodName suffix, Workspace `application:event`).
    pub event: &'static str,
    /// The action; when several are listed the first is the default and the importer picks another
    /// from the event's fields (documented per source).
    pub actions: &'static [Action],
    /// The target kind.
    pub kind: KindRule,
    /// Where the target id comes from.
    pub target: &'static str,
    /// Where the scope comes from (`-`: none).
    pub scope: &'static str,
    /// Where the outcome comes from.
    pub outcome: OutcomeRule,
}

impl MappingRow {
    /// Context rows (sign-ins, token uses) produce `observe` records only with `with_context`.
    pub fn is_context(&self) -> bool {
        self.actions == [Action::Observe]
    }

    /// The action column as written in IMPORTERS.md.
    pub fn action_cell(&self) -> String {
        self.actions.iter().map(|a| a.as_str()).collect::<Vec<_>>().join("/")
    }

    /// The six cells of this row as IMPORTERS.md writes them (unescaped).
    pub fn cells(&self) -> [String; 6] {
        let code = |s: &str| {
            if s == "-" {
                "-".to_string()
            } else {
                format!("`{s}`")
            }
        };
        [
            format!("`{}`", self.event),
            self.action_cell(),
            self.kind.to_string(),
            code(self.scope),
            self.outcome.to_string(),
            code(self.target),
        ]
    }
}

/// Shorthand used by the per-source tables.
pub(crate) const fn row(
    event: &'static str,
    actions: &'static [Action],
    kind: TargetKind,
    target: &'static str,
    scope: &'static str,
    outcome: OutcomeRule,
) -> MappingRow {
    MappingRow { event, actions, kind: KindRule::Fixed(kind), target, scope, outcome }
}

/// The header of every mapping table in IMPORTERS.md.
pub const TABLE_HEADER: &str = "| event | action | target kind | scope field | outcome field | target field |";

/// Escapes a cell for a markdown table.
pub fn escape_cell(s: &str) -> String {
    s.replace('|', "\\|")
}

/// Renders one source's table as markdown.
pub fn markdown_table(rows: &[MappingRow]) -> String {
    let mut out = String::new();
    out.push_str(TABLE_HEADER);
    out.push('\n');
    out.push_str("| --- | --- | --- | --- | --- | --- |\n");
    for r in rows {
        let cells = r.cells();
        out.push('|');
        for c in cells.iter() {
            out.push(' ');
            out.push_str(&escape_cell(c));
            out.push_str(" |");
        }
        out.push('\n');
    }
    out
}
