//! The record: what one access change says, its JSON contract and its validation.
//!
//! This is the first step of custody's data flow (record → canonical bytes → sign + chain → store →
//! verify / query / export). A [`Record`] is plain values as a responder writes them; it knows nothing
//! of salts, commitments, signatures or storage. [`Record::from_json`] is the strict parser behind
//! `custody append --json` (unknown fields are refused) and [`Record::validate`] is the one place the
//! limits of `docs/FORMAT.md` ("Limits") are enforced.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::enums::closed_enum;
use crate::secrets::looks_like_secret;
use crate::time::Timestamp;

closed_enum! {
    /// What was done. Codes 0-17 are access changes; control entries (keys, redaction, holds,
    /// clients) have their own kinds in `entry::Control`.
    Action, "action" {
        Grant = 0 => "grant",
        Revoke = 1 => "revoke",
        EmergencyGrant = 2 => "emergency_grant",
        Rotate = 3 => "rotate",
        Disable = 4 => "disable",
        Enable = 5 => "enable",
        Create = 6 => "create",
        Delete = 7 => "delete",
        SessionRevoke = 8 => "session_revoke",
        OwnershipChange = 9 => "ownership_change",
        Recertify = 10 => "recertify",
        ExceptionAdd = 11 => "exception_add",
        ExceptionRemove = 12 => "exception_remove",
        IncidentOpen = 13 => "incident_open",
        IncidentClose = 14 => "incident_close",
        MfaReset = 15 => "mfa_reset",
        PolicyChange = 16 => "policy_change",
        Observe = 17 => "observe",
    }
}

closed_enum! {
    /// Who acted.
    ActorKind, "actor kind" {
        Human = 0 => "human",
        Service = 1 => "service",
        Agent = 2 => "agent",
        System = 3 => "system",
    }
}

closed_enum! {
    /// What kind of identity was acted on.
    TargetKind, "target kind" {
        Human = 0 => "human",
        ServiceAccount = 1 => "service_account",
        ApiKey = 2 => "api_key",
        OauthGrant = 3 => "oauth_grant",
        Token = 4 => "token",
        Certificate = 5 => "certificate",
        ServicePrincipal = 6 => "service_principal",
        Workload = 7 => "workload",
        Agent = 8 => "agent",
        Role = 9 => "role",
        Group = 10 => "group",
        Secret = 11 => "secret",
        Other = 12 => "other",
    }
}

closed_enum! {
    /// How the change ended.
    Status, "outcome status" {
        Success = 0 => "success",
        Failure = 1 => "failure",
        Partial = 2 => "partial",
        Pending = 3 => "pending",
    }
}

impl TargetKind {
    /// Whether this kind of identity is a credential (rotation and revocation rules apply).
    pub fn is_credential(self) -> bool {
        matches!(
            self,
            TargetKind::ApiKey
                | TargetKind::OauthGrant
                | TargetKind::Token
                | TargetKind::Certificate
                | TargetKind::Secret
        )
    }
}

/// Who did it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Actor {
    pub id: String,
    pub kind: ActorKind,
}

/// The identity acted on and the system it lives in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    pub id: String,
    pub kind: TargetKind,
    pub system: String,
}

/// Who approved the change, or an explicit statement that nobody did. Never silently absent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Approval {
    Approved { by: String, source: String, reference: Option<String>, at: Option<Timestamp> },
    None { note: String },
}

/// The result of the change at the source system.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outcome {
    pub status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// A pointer to source-system evidence: an event ID and/or a digest of an external artifact.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Evidence {
    pub system: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
}

/// One access change, as a responder or an importer states it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    pub incident: String,
    pub action: Action,
    pub actor: Actor,
    pub target: Target,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    pub approval: Approval,
    pub reason: String,
    pub outcome: Outcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub occurred_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(default)]
    pub refs: Vec<u64>,
    #[serde(default)]
    pub evidence: Vec<Evidence>,
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
}

/// The documented limits (`docs/FORMAT.md`, "Limits"), in bytes of UTF-8 unless said otherwise.
pub mod limits {
    pub const INCIDENT: usize = 128;
    pub const ID: usize = 256;
    pub const SYSTEM: usize = 64;
    pub const SCOPE: usize = 1024;
    pub const APPROVAL_SOURCE: usize = 64;
    pub const APPROVAL_NOTE: usize = 1024;
    pub const REASON: usize = 2048;
    pub const DETAIL: usize = 2048;
    pub const REFS: usize = 64;
    pub const EVIDENCE: usize = 64;
    pub const ATTRIBUTES: usize = 64;
    pub const ATTRIBUTE_KEY: usize = 64;
    pub const ATTRIBUTE_VALUE: usize = 1024;
    /// The largest canonical signed bytes of one entry.
    pub const ENTRY_BYTES: usize = 1 << 20;
}

/// A record that breaks the contract: which field, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("record field `{field}` {problem}")]
pub struct RecordError {
    pub field: String,
    pub problem: String,
}

impl RecordError {
    pub fn new(field: impl Into<String>, problem: impl Into<String>) -> Self {
        RecordError { field: field.into(), problem: problem.into() }
    }
}

/// Checks a free-text value: not empty, within its limit, no control characters, no secrets.
pub fn check_text(field: &str, value: &str, max: usize) -> Result<(), RecordError> {
    check_text_with(field, value, max, true)
}

/// [`check_text`], with the secret heuristics optional: stored entries are judged by the rules that
/// are part of the format (limits, characters), never by heuristics that may change over time.
pub fn check_text_with(field: &str, value: &str, max: usize, secrets: bool) -> Result<(), RecordError> {
    if value.is_empty() {
        return Err(RecordError::new(field, "is empty"));
    }
    if value.len() > max {
        return Err(RecordError::new(field, format!("is {} bytes long; the limit is {max}", value.len())));
    }
    if has_control(value) {
        return Err(RecordError::new(field, "contains a control character (newline, tab, ...)"));
    }
    if let Some(kind) = looks_like_secret(value).filter(|_| secrets) {
        return Err(RecordError::new(
            field,
            format!("looks like {kind}; a ledger stores identifiers and fingerprints of secrets, never secrets"),
        ));
    }
    Ok(())
}

/// Whether `value` holds a control character (Unicode general category Cc: U+0000..U+001F,
/// U+007F..U+009F), scanning bytes: C1 controls are the UTF-8 pairs `C2 80` to `C2 9F`.
fn has_control(value: &str) -> bool {
    let b = value.as_bytes();
    b.iter()
        .enumerate()
        .any(|(i, &c)| c < 0x20 || c == 0x7f || (c == 0xc2 && b.get(i + 1).is_some_and(|n| (0x80..=0x9f).contains(n))))
}

/// Checks a system name such as `aws-iam`: lower-case ASCII letters, digits, `.`, `_` and `-`.
pub fn check_system(field: &str, value: &str) -> Result<(), RecordError> {
    check_text(field, value, limits::SYSTEM)?;
    check_system_chars(field, value)
}

fn check_system_chars(field: &str, value: &str) -> Result<(), RecordError> {
    if !value.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b)) {
        return Err(RecordError::new(
            field,
            format!("`{value}` may hold only lower-case letters, digits, `.`, `_` and `-`"),
        ));
    }
    Ok(())
}

fn check_digest(field: &str, value: &str) -> Result<(), RecordError> {
    let hex = value
        .strip_prefix("sha256:")
        .or_else(|| value.strip_prefix("blake3:"))
        .ok_or_else(|| RecordError::new(field, format!("`{value}` must be `sha256:<64 hex>` or `blake3:<64 hex>`")))?;
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return Err(RecordError::new(field, "must have exactly 64 lower-case hex digits after the algorithm"));
    }
    Ok(())
}

impl Record {
    /// Parses one record from the JSON contract; [`Record::validate`] checks its values.
    pub fn from_json(text: &str) -> Result<Self, RecordError> {
        // Parsing without tracking the path is the common case (every appended record); a record
        // that fails is parsed again with tracking, so that the error names the field.
        if let Ok(record) = serde_json::from_str(text) {
            return Ok(record);
        }
        let mut de = serde_json::Deserializer::from_str(text);
        let record: Record =
            serde_path_to_error::deserialize(&mut de).map_err(|e| path_error(e.path().to_string(), e.inner()))?;
        de.end().map_err(|e| json_error(&e))?;
        Ok(record)
    }

    /// Parses a record from an already parsed JSON value (importers produce these).
    pub fn from_value(value: serde_json::Value) -> Result<Self, RecordError> {
        // As in `from_json`: the path is tracked only to explain a failure.
        if let Ok(record) = Record::deserialize(&value) {
            return Ok(record);
        }
        serde_path_to_error::deserialize(value).map_err(|e| path_error(e.path().to_string(), e.inner()))
    }

    /// Enforces every rule of the contract that does not need the ledger. `next_seq` is the seq the
    /// entry would get; refs must point to earlier entries.
    pub fn validate(&self, next_seq: u64) -> Result<(), RecordError> {
        self.validate_with(next_seq, true)
    }

    /// [`Record::validate`] with the secret heuristics optional (off when judging stored entries).
    pub fn validate_with(&self, next_seq: u64, secrets: bool) -> Result<(), RecordError> {
        let check_text = |f: &str, v: &str, max: usize| check_text_with(f, v, max, secrets);
        let check_system = |f: &str, v: &str| -> Result<(), RecordError> {
            check_text(f, v, limits::SYSTEM)?;
            check_system_chars(f, v)
        };
        check_text("incident", &self.incident, limits::INCIDENT)?;
        check_text("actor.id", &self.actor.id, limits::ID)?;
        check_text("target.id", &self.target.id, limits::ID)?;
        check_system("target.system", &self.target.system)?;
        if let Some(scope) = &self.scope {
            check_text("scope", scope, limits::SCOPE)?;
        }
        match &self.approval {
            Approval::Approved { by, source, reference, at: _ } => {
                check_text("approval.by", by, limits::ID)?;
                check_text("approval.source", source, limits::APPROVAL_SOURCE)?;
                if let Some(r) = reference {
                    check_text("approval.ref", r, limits::ID)?;
                }
            }
            Approval::None { note } => check_text("approval.none", note, limits::APPROVAL_NOTE)?,
        }
        check_text("reason", &self.reason, limits::REASON)?;
        if let Some(detail) = &self.outcome.detail {
            check_text("outcome.detail", detail, limits::DETAIL)?;
        }
        if let Some(owner) = &self.owner {
            check_text("owner", owner, limits::ID)?;
        }
        if self.action == Action::EmergencyGrant && self.expires_at.is_none() {
            return Err(RecordError::new(
                "expires_at",
                "is required for emergency_grant: a break-glass grant must be time-boxed",
            ));
        }
        if let (Some(occurred), Some(expires)) = (self.occurred_at, self.expires_at) {
            if expires <= occurred {
                return Err(RecordError::new(
                    "expires_at",
                    format!("({expires}) must be after occurred_at ({occurred})"),
                ));
            }
        }
        if self.refs.len() > limits::REFS {
            return Err(RecordError::new(
                "refs",
                format!("has {} items; the limit is {}", self.refs.len(), limits::REFS),
            ));
        }
        let mut sorted = self.refs.clone();
        sorted.sort_unstable();
        sorted.dedup();
        if sorted.len() != self.refs.len() {
            return Err(RecordError::new("refs", "names an entry twice"));
        }
        if let Some(bad) = self.refs.iter().find(|r| **r >= next_seq) {
            return Err(RecordError::new(
                "refs",
                format!("names entry {bad}, which does not exist (the ledger has {next_seq} entries)"),
            ));
        }
        if self.evidence.len() > limits::EVIDENCE {
            return Err(RecordError::new(
                "evidence",
                format!("has {} items; the limit is {}", self.evidence.len(), limits::EVIDENCE),
            ));
        }
        for (i, ev) in self.evidence.iter().enumerate() {
            let at =
                |e: RecordError| RecordError { field: e.field.replacen("evidence", &format!("evidence[{i}]"), 1), ..e };
            check_system("evidence.system", &ev.system).map_err(at)?;
            if ev.id.is_none() && ev.digest.is_none() {
                return Err(RecordError::new(format!("evidence[{i}]"), "needs an `id` or a `digest`"));
            }
            if let Some(id) = &ev.id {
                check_text("evidence.id", id, limits::ID).map_err(at)?;
            }
            if let Some(d) = &ev.digest {
                check_digest("evidence.digest", d).map_err(at)?;
            }
        }
        if self.attributes.len() > limits::ATTRIBUTES {
            return Err(RecordError::new(
                "attributes",
                format!("has {} entries; the limit is {}", self.attributes.len(), limits::ATTRIBUTES),
            ));
        }
        for (k, v) in &self.attributes {
            if k.is_empty()
                || k.len() > limits::ATTRIBUTE_KEY
                || !k.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
            {
                return Err(RecordError::new(
                    format!("attributes.{k}"),
                    format!("key must be 1 to {} bytes of a-z, 0-9, `.`, `_`, `-`", limits::ATTRIBUTE_KEY),
                ));
            }
            check_text("attributes", v, limits::ATTRIBUTE_VALUE)
                .map_err(|e| RecordError { field: format!("attributes.{k}"), ..e })?;
        }
        Ok(())
    }

    /// The record's event time: when it happened at the source, else `fallback` (the ledger time).
    pub fn event_time(&self, fallback: Timestamp) -> Timestamp {
        self.occurred_at.unwrap_or(fallback)
    }
}

/// A serde error with the path of the value it failed on (`occurred_at`, `target.kind`, ...).
fn path_error(path: String, e: &serde_json::Error) -> RecordError {
    let mut err = json_error(e);
    if path.is_empty() || path == "." {
        return err;
    }
    let msg = e.to_string();
    err.field = if msg.starts_with("unknown field") {
        path // already ends with the unknown field's name
    } else if msg.starts_with("missing field") {
        format!("{path}.{}", err.field)
    } else {
        path
    };
    err
}

/// Turns a serde_json error into a record error that names the field where possible.
fn json_error(e: &serde_json::Error) -> RecordError {
    let msg = e.to_string();
    // serde's messages look like "unknown field `foo`, expected one of ..." or
    // "missing field `reason` at line 1 column 20"; lift the field name out for the user.
    let field = msg
        .split('`')
        .nth(1)
        .filter(|_| msg.starts_with("unknown field") || msg.starts_with("missing field"))
        .unwrap_or("(json)")
        .to_string();
    let problem = if msg.starts_with("unknown field") {
        format!("is not part of the record contract ({msg})")
    } else if msg.starts_with("missing field") {
        format!("is required ({msg})")
    } else {
        format!("could not be read: {msg}")
    };
    RecordError { field, problem }
}

/// The JSON shape of [`Approval`]: either `{by, source, ref?, at?}` or `{none}`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ApprovalJson {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    source: Option<String>,
    #[serde(default, rename = "ref", skip_serializing_if = "Option::is_none")]
    reference: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    none: Option<String>,
}

impl Serialize for Approval {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let json = match self.clone() {
            Approval::Approved { by, source, reference, at } => {
                ApprovalJson { by: Some(by), source: Some(source), reference, at, none: None }
            }
            Approval::None { note } => {
                ApprovalJson { by: None, source: None, reference: None, at: None, none: Some(note) }
            }
        };
        json.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Approval {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let j = ApprovalJson::deserialize(d)?;
        match (j.none, j.by, j.source) {
            (Some(note), None, None) if j.reference.is_none() && j.at.is_none() => Ok(Approval::None { note }),
            (Some(_), _, _) => Err(D::Error::custom(
                "approval: `none` cannot be combined with `by`, `source`, `ref` or `at`",
            )),
            (None, Some(by), Some(source)) => Ok(Approval::Approved { by, source, reference: j.reference, at: j.at }),
            (None, _, _) => Err(D::Error::custom(
                "approval needs `by` and `source` (who approved, through what), or `none` with the reason there was no approval",
            )),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub const EXAMPLE: &str = r#"{"incident": "INC-2026-0042", "action": "emergency_grant",
 "actor": {"id": "alice@corp.example", "kind": "human"},
 "target": {"id": "carol@corp.example", "kind": "human", "system": "aws-iam"},
 "scope": "arn:aws:iam::aws:policy/AdministratorAccess",
 "approval": {"by": "ciso@corp.example", "source": "servicenow", "ref": "CHG0031337",
              "at": "2026-03-02T10:04:00Z"},
 "reason": "contain leaked CI deploy key", "outcome": {"status": "success", "detail": "granted"},
 "occurred_at": "2026-03-02T10:05:00Z", "expires_at": "2026-03-02T18:05:00Z",
 "owner": "secops@corp.example", "refs": [],
 "evidence": [{"system": "cloudtrail", "id": "3038ebd2-c98a-4c65-9b6e-e22506292313"}],
 "attributes": {"playbook": "leaked-key-v3"}}"#;

    fn example() -> serde_json::Value {
        serde_json::from_str(EXAMPLE).unwrap()
    }

    fn check(v: serde_json::Value) -> Result<Record, RecordError> {
        let r = Record::from_value(v)?;
        r.validate(10)?;
        Ok(r)
    }

    #[test]
    fn the_issue_example_parses_and_round_trips() {
        let r = check(example()).unwrap();
        assert_eq!(r.action, Action::EmergencyGrant);
        let back: serde_json::Value = serde_json::to_value(&r).unwrap();
        assert_eq!(Record::from_value(back).unwrap(), r);
    }

    #[test]
    fn no_approval_is_explicit() {
        let mut v = example();
        v["approval"] = serde_json::json!({"none": "break-glass; reviewed after"});
        let r = check(v).unwrap();
        assert_eq!(r.approval, Approval::None { note: "break-glass; reviewed after".into() });
    }

    #[test]
    fn occurred_at_stays_absent() {
        let mut v = example();
        v.as_object_mut().unwrap().remove("occurred_at");
        let r = check(v).unwrap();
        assert_eq!(r.occurred_at, None);
    }

    /// Each rule with the field the error must name.
    #[test]
    fn bad_input_names_the_field() {
        type Edit = fn(&mut serde_json::Value);
        let cases: &[(&str, Edit)] = &[
            ("surprise", |v| v["surprise"] = 1.into()),
            ("reason", |v| {
                v.as_object_mut().unwrap().remove("reason");
            }),
            ("incident", |v| v["incident"] = "".into()),
            ("action", |v| v["action"] = "nuke".into()),
            ("target.kind", |v| v["target"]["kind"] = "robot".into()),
            ("target.surprise", |v| v["target"]["surprise"] = 1.into()),
            ("outcome.status", |v| {
                v["outcome"].as_object_mut().unwrap().remove("status");
            }),
            ("reason", |v| v["reason"] = 42.into()),
            ("reason", |v| v["reason"] = "x".repeat(3000).into()),
            ("occurred_at", |v| v["occurred_at"] = "last tuesday".into()),
            ("expires_at", |v| v["expires_at"] = "2026-03-02T10:00:00Z".into()),
            ("expires_at", |v| {
                v.as_object_mut().unwrap().remove("expires_at");
            }),
            ("refs", |v| v["refs"] = serde_json::json!([99])),
            ("refs", |v| v["refs"] = serde_json::json!([1, 1])),
            ("reason", |v| v["reason"] = "rotated ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789".into()),
            ("attributes.token", |v| {
                v["attributes"]["token"] =
                    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n".into()
            }),
            ("target.system", |v| v["target"]["system"] = "AWS IAM".into()),
            ("evidence[0].digest", |v| v["evidence"][0]["digest"] = "md5:abc".into()),
            ("evidence[0]", |v| v["evidence"] = serde_json::json!([{"system": "okta"}])),
            ("attributes.Bad Key", |v| v["attributes"]["Bad Key"] = "x".into()),
            ("reason", |v| v["reason"] = "two\nlines".into()),
        ];
        for (i, (field, edit)) in cases.iter().enumerate() {
            let mut v = example();
            edit(&mut v);
            let err = check(v).expect_err(&format!("case {i} ({field}) was accepted"));
            assert_eq!(&err.field, field, "case {i}: {err}");
        }
    }

    #[test]
    fn approval_shapes() {
        let mut v = example();
        v["approval"] = serde_json::json!({"by": "x@corp.example"});
        assert!(check(v).is_err());
        let mut v = example();
        v["approval"] = serde_json::json!({"none": "n/a", "by": "x"});
        assert!(check(v).is_err());
    }
}
