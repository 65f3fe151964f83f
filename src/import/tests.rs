//! Test step: imports every sample file and checks counts, mappings, outcomes, the record contract,
//! secret screening, input forms, errors, streaming, and IMPORTERS.md against the tables.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;

use serde_json::Value;

use super::*;

/// The shared samples folder (adjust when the module moves into custody).
const SAMPLES_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/samples");
/// IMPORTERS.md (adjust when the module moves into custody).
const IMPORTERS_MD: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/IMPORTERS.md");

fn opts(with_context: bool) -> ImportOptions {
    ImportOptions { incident: "INC-2026-0042".into(), with_context, approval: None }
}

/// What importing one file gave, per event.
#[derive(Default, Debug)]
struct Summary {
    change: usize,
    context: usize,
    skipped: usize,
    errors: Vec<String>,
    records: Vec<MappedRecord>,
    by_line: BTreeMap<u64, Outcome>,
}

fn import(source: Source, input: impl Read, with_context: bool) -> Result<Summary, ImportError> {
    let mut s = Summary::default();
    for ev in read_events(source, input)? {
        let ev = match ev {
            Ok(ev) => ev,
            Err(e) => {
                s.errors.push(e.to_string());
                continue;
            }
        };
        match map_event(source, &ev, &opts(with_context)) {
            Ok(out) => {
                match &out {
                    Outcome::Records(r) => {
                        s.change += 1;
                        s.records.extend(r.iter().cloned());
                    }
                    Outcome::Context(r) => {
                        s.context += 1;
                        s.records.extend(r.iter().cloned());
                    }
                    Outcome::Skipped { .. } => s.skipped += 1,
                }
                s.by_line.insert(ev.line, out);
            }
            Err(e) => s.errors.push(e.to_string()),
        }
    }
    Ok(s)
}

fn sample(name: &str) -> File {
    File::open(format!("{SAMPLES_DIR}/{name}")).unwrap_or_else(|e| panic!("{SAMPLES_DIR}/{name}: {e}"))
}

#[test]
#[ignore]
fn dump_samples() {
    for (file, source) in [
        ("cloudtrail-iam.jsonl", Source::CloudTrail),
        ("okta-system-log.jsonl", Source::Okta),
        ("okta-system-log.lowercase-keys.jsonl", Source::Okta),
        ("okta-system-log.rapid7.jsonl", Source::Okta),
        ("entra-audit.jsonl", Source::Entra),
        ("m365-management-activity-aad.jsonl", Source::Entra),
        ("github-audit.jsonl", Source::GitHub),
        ("gcp-audit-iam.jsonl", Source::Gcp),
        ("google-workspace-reports.jsonl", Source::GWorkspace),
    ] {
        let s = import(source, sample(file), true).unwrap();
        println!("== {file}: change {} context {} skipped {} errors {:?}", s.change, s.context, s.skipped, s.errors);
        for (line, out) in &s.by_line {
            match out {
                Outcome::Skipped { reason } => println!("{line}: SKIP {reason}"),
                Outcome::Records(r) | Outcome::Context(r) => {
                    for m in r {
                        let rec = &m.json();
                        println!(
                            "{line}: {} | {} {} | actor {} ({}) | target {} ({}) | scope {} | {} {} | {} | {}",
                            m.dedup_key,
                            rec["action"].as_str().unwrap(),
                            rec["attributes"]["source_event"],
                            rec["actor"]["id"],
                            rec["actor"]["kind"],
                            rec["target"]["id"],
                            rec["target"]["kind"],
                            rec.get("scope").unwrap_or(&Value::Null),
                            rec["outcome"]["status"],
                            rec["outcome"].get("detail").unwrap_or(&Value::Null),
                            rec.get("occurred_at").unwrap_or(&Value::Null),
                            rec["reason"],
                        );
                    }
                }
            }
        }
    }
}

/// Per file: source, and the samples README's change / context / skip event counts, plus how many
/// records the change and context events give (GCP binding deltas give more than one).
const SAMPLE_FILES: &[(&str, Source, usize, usize, usize, usize, usize)] = &[
    // file, source, change, context, skip, change records, context records
    ("cloudtrail-iam.jsonl", Source::CloudTrail, 26, 12, 6, 26, 12),
    ("okta-system-log.jsonl", Source::Okta, 10, 8, 1, 10, 8),
    ("okta-system-log.lowercase-keys.jsonl", Source::Okta, 8, 4, 1, 8, 4),
    ("okta-system-log.rapid7.jsonl", Source::Okta, 3, 0, 0, 3, 0),
    ("entra-audit.jsonl", Source::Entra, 18, 6, 0, 18, 6),
    ("m365-management-activity-aad.jsonl", Source::Entra, 2, 2, 0, 2, 2),
    ("github-audit.jsonl", Source::GitHub, 24, 1, 4, 24, 1),
    // 16 change events: 14 with one record, SetIamPolicy with two binding deltas gives two, and
    // three SetIamPolicy events without deltas give one policy_change each: 17 records.
    ("gcp-audit-iam.jsonl", Source::Gcp, 16, 3, 2, 17, 3),
    ("google-workspace-reports.jsonl", Source::GWorkspace, 20, 6, 4, 20, 6),
];

/// Sample files no importer reads (the vault importer is optional and not written).
const UNSUPPORTED_FILES: &[&str] = &["vault-audit.datadog.jsonl"];

#[test]
fn every_sample_file_is_covered() {
    let mut names: Vec<String> = std::fs::read_dir(SAMPLES_DIR)
        .expect("samples folder")
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".jsonl"))
        .collect();
    names.sort();
    for n in &names {
        assert!(
            SAMPLE_FILES.iter().any(|f| f.0 == n) || UNSUPPORTED_FILES.contains(&n.as_str()),
            "sample {n} is not in SAMPLE_FILES"
        );
    }
    assert_eq!(names.len(), SAMPLE_FILES.len() + UNSUPPORTED_FILES.len());
}

#[test]
fn sample_counts_match_the_readme() {
    for &(file, source, change, context, skip, change_records, context_records) in SAMPLE_FILES {
        let with = import(source, sample(file), true).unwrap();
        assert!(with.errors.is_empty(), "{file}: {:?}", with.errors);
        assert_eq!((with.change, with.context, with.skipped), (change, context, skip), "{file} with context");
        assert_eq!(with.records.len(), change_records + context_records, "{file} records with context");
        let observe = with.records.iter().filter(|r| r.json()["action"] == "observe").count();
        assert_eq!(observe, context_records, "{file} observe records");

        let without = import(source, sample(file), false).unwrap();
        assert!(without.errors.is_empty(), "{file}: {:?}", without.errors);
        assert_eq!(
            (without.change, without.context, without.skipped),
            (change, 0, context + skip),
            "{file} without context"
        );
        assert_eq!(without.records.len(), change_records, "{file} records without context");
        for out in without.by_line.values() {
            if let Outcome::Skipped { reason } = out {
                assert!(!reason.is_empty());
            }
        }
    }
}

/// Checks a record against /work/scratch/RECORD_CONTRACT.md, as strictly as custody's validator.
fn contract_check(r: &Value) -> Result<(), String> {
    const ACTIONS: &[&str] = &[
        "grant",
        "revoke",
        "emergency_grant",
        "rotate",
        "disable",
        "enable",
        "create",
        "delete",
        "session_revoke",
        "ownership_change",
        "recertify",
        "exception_add",
        "exception_remove",
        "incident_open",
        "incident_close",
        "mfa_reset",
        "policy_change",
        "observe",
    ];
    const TARGET_KINDS: &[&str] = &[
        "human",
        "service_account",
        "api_key",
        "oauth_grant",
        "token",
        "certificate",
        "service_principal",
        "workload",
        "agent",
        "role",
        "group",
        "secret",
        "other",
    ];
    fn text(field: &str, v: Option<&Value>, max: usize) -> Result<String, String> {
        let s = v.and_then(Value::as_str).ok_or(format!("{field}: missing or not a string"))?;
        if s.is_empty() || s.len() > max {
            return Err(format!("{field}: length {} outside 1..={max}", s.len()));
        }
        if s.chars().any(char::is_control) {
            return Err(format!("{field}: control character"));
        }
        if let Some(kind) = super::secrets::looks_like_secret(s) {
            return Err(format!("{field}: looks like {kind}"));
        }
        Ok(s.to_string())
    }
    fn keys(field: &str, v: &Value, allowed: &[&str]) -> Result<(), String> {
        let o = v.as_object().ok_or(format!("{field}: not an object"))?;
        match o.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(k) => Err(format!("{field}: unknown key {k}")),
            None => Ok(()),
        }
    }
    fn system(field: &str, v: Option<&Value>) -> Result<(), String> {
        let s = text(field, v, 64)?;
        if !s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b)) {
            return Err(format!("{field}: bad system {s}"));
        }
        Ok(())
    }
    let time = |field: &str, v: &Value| -> Result<(), String> {
        let s = v.as_str().ok_or(format!("{field}: not a string"))?;
        chrono::DateTime::parse_from_rfc3339(s).map(|_| ()).map_err(|e| format!("{field}: {s}: {e}"))
    };
    keys(
        "record",
        r,
        &[
            "incident",
            "action",
            "actor",
            "target",
            "scope",
            "approval",
            "reason",
            "outcome",
            "occurred_at",
            "expires_at",
            "owner",
            "refs",
            "evidence",
            "attributes",
        ],
    )?;
    text("incident", r.get("incident"), 128)?;
    let action = r.get("action").and_then(Value::as_str).ok_or("action missing")?;
    if !ACTIONS.contains(&action) {
        return Err(format!("action {action}"));
    }
    keys("actor", &r["actor"], &["id", "kind"])?;
    text("actor.id", r["actor"].get("id"), 256)?;
    let ak = r["actor"]["kind"].as_str().ok_or("actor.kind")?;
    if !["human", "service", "agent", "system"].contains(&ak) {
        return Err(format!("actor.kind {ak}"));
    }
    keys("target", &r["target"], &["id", "kind", "system"])?;
    text("target.id", r["target"].get("id"), 256)?;
    let tk = r["target"]["kind"].as_str().ok_or("target.kind")?;
    if !TARGET_KINDS.contains(&tk) {
        return Err(format!("target.kind {tk}"));
    }
    system("target.system", r["target"].get("system"))?;
    if let Some(scope) = r.get("scope") {
        text("scope", Some(scope), 1024)?;
    }
    let approval = r.get("approval").ok_or("approval missing")?;
    if approval.get("none").is_some() {
        keys("approval", approval, &["none"])?;
        text("approval.none", approval.get("none"), 1024)?;
    } else {
        keys("approval", approval, &["by", "source", "ref", "at"])?;
        text("approval.by", approval.get("by"), 256)?;
        text("approval.source", approval.get("source"), 64)?;
    }
    text("reason", r.get("reason"), 2048)?;
    keys("outcome", &r["outcome"], &["status", "detail"])?;
    let status = r["outcome"]["status"].as_str().ok_or("outcome.status")?;
    if !["success", "failure", "partial", "pending"].contains(&status) {
        return Err(format!("outcome.status {status}"));
    }
    if let Some(d) = r["outcome"].get("detail") {
        text("outcome.detail", Some(d), 2048)?;
    }
    if let Some(t) = r.get("occurred_at") {
        time("occurred_at", t)?;
    }
    if action == "emergency_grant" && r.get("expires_at").is_none() {
        return Err("emergency_grant without expires_at".into());
    }
    let evidence = r["evidence"].as_array().ok_or("evidence")?;
    if evidence.is_empty() || evidence.len() > 64 {
        return Err("evidence count".into());
    }
    for e in evidence {
        keys("evidence[]", e, &["system", "id", "digest"])?;
        system("evidence[].system", e.get("system"))?;
        if let Some(id) = e.get("id") {
            text("evidence[].id", Some(id), 256)?;
        }
        let d = e["digest"].as_str().ok_or("evidence[].digest")?;
        let hex = d.strip_prefix("sha256:").ok_or("digest prefix")?;
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            return Err(format!("digest {d}"));
        }
    }
    let attrs = r["attributes"].as_object().ok_or("attributes")?;
    if attrs.len() > 64 {
        return Err("too many attributes".into());
    }
    for (k, v) in attrs {
        if k.is_empty()
            || k.len() > 64
            || !k.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
        {
            return Err(format!("attribute key {k}"));
        }
        text(&format!("attributes.{k}"), Some(v), 1024)?;
    }
    Ok(())
}

#[test]
fn every_sample_record_meets_the_contract() {
    for &(file, source, ..) in SAMPLE_FILES {
        let s = import(source, sample(file), true).unwrap();
        for m in &s.records {
            let j = m.json();
            contract_check(&j).unwrap_or_else(|e| panic!("{file}: {e}\n{j}"));
            assert_eq!(j["target"]["system"], source.system());
            assert_eq!(j["evidence"][0]["system"], source.name());
            assert_eq!(
                j["approval"]["none"],
                format!("imported from {}; no approval in the source event", source.name())
            );
            let reason = m.record.reason.as_str();
            let event = &m.record.attributes["source_event"];
            assert!(reason.starts_with(&format!("imported from {}: {event}", source.name())), "{reason}");
            assert!(m.dedup_key.starts_with(&format!("{}:", source.name())));
        }
    }
}

/// (file, line, record index, action, target id, target kind, outcome status, scope or detail fragment)
type Expect = (&'static str, u64, usize, &'static str, &'static str, &'static str, &'static str, &'static str);

const EXPECTED: &[(Source, &[Expect])] = &[
    (
        Source::CloudTrail,
        &[
            ("cloudtrail-iam.jsonl", 1, 0, "create", "jackson", "human", "success", "access key ABCDEFG"),
            (
                "cloudtrail-iam.jsonl",
                3,
                0,
                "create",
                "arn:aws:iam::123456789012:user/some_iam_user",
                "human",
                "failure",
                "LimitExceededException",
            ),
            (
                "cloudtrail-iam.jsonl",
                7,
                0,
                "rotate",
                "arn:aws:iam::123456789012:user/test_user",
                "human",
                "failure",
                "PasswordPolicyViolation",
            ),
            ("cloudtrail-iam.jsonl", 8, 0, "rotate", "bob", "human", "success", "console password"),
            (
                "cloudtrail-iam.jsonl",
                11,
                0,
                "rotate",
                "arn:aws:iam::123456789012:root",
                "human",
                "failure",
                "PasswordUpdated: Failure",
            ),
            (
                "cloudtrail-iam.jsonl",
                12,
                0,
                "grant",
                "new-user",
                "human",
                "success",
                "arn:aws:iam::aws:policy/AdministratorAccess",
            ),
            (
                "cloudtrail-iam.jsonl",
                13,
                0,
                "grant",
                "test-user",
                "human",
                "success",
                "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV2",
            ),
            (
                "cloudtrail-iam.jsonl",
                14,
                0,
                "grant",
                "new-role",
                "role",
                "success",
                "arn:aws:iam::aws:policy/AdministratorAccess",
            ),
            ("cloudtrail-iam.jsonl", 15, 0, "grant", "LambdaFunctionRole-1111", "role", "failure", "NoSuchEntity"),
            (
                "cloudtrail-iam.jsonl",
                17,
                0,
                "policy_change",
                "test-user",
                "human",
                "success",
                "inline policy TestUserDenyAll",
            ),
            ("cloudtrail-iam.jsonl", 19, 0, "revoke", "group", "group", "failure", "NoSuchEntity"),
            ("cloudtrail-iam.jsonl", 22, 0, "create", "user", "human", "failure", "EntityAlreadyExists"),
            ("cloudtrail-iam.jsonl", 23, 0, "create", "new-role", "role", "success", ""),
            ("cloudtrail-iam.jsonl", 26, 0, "delete", "unknown", "other", "success", "saml provider"),
            (
                "cloudtrail-iam.jsonl",
                28,
                0,
                "observe",
                "AIDACKCEVSQ6C2EXAMPLE",
                "human",
                "failure",
                "ConsoleLogin: Failure",
            ),
            (
                "cloudtrail-iam.jsonl",
                33,
                0,
                "observe",
                "arn:aws:iam::123456789012:role/FullAdminRole",
                "role",
                "failure",
                "ExpiredToken",
            ),
        ],
    ),
    (
        Source::Okta,
        &[
            ("okta-system-log.jsonl", 1, 0, "create", "00Tpki36zlWjhjQ1u2p4", "token", "success", "api token"),
            ("okta-system-log.jsonl", 2, 0, "revoke", "00Tpki36zlWjhjQ1u2p4", "token", "success", "api token"),
            ("okta-system-log.jsonl", 3, 0, "mfa_reset", "okta organization", "other", "success", "no outcome.result"),
            (
                "okta-system-log.jsonl",
                5,
                0,
                "grant",
                "alice@acme.io",
                "human",
                "success",
                "Super administrator, Read only admin",
            ),
            ("okta-system-log.jsonl", 6, 0, "rotate", "homer@springfield.gov", "human", "success", "password"),
            ("okta-system-log.jsonl", 8, 0, "grant", "okta support", "other", "success", "support impersonation"),
            ("okta-system-log.jsonl", 13, 0, "observe", "casey.hill@hey.com", "human", "failure", "FAILURE"),
            ("okta-system-log.jsonl", 17, 0, "create", "thomas12223391@gmail.com", "human", "success", ""),
            (
                "okta-system-log.lowercase-keys.jsonl",
                1,
                0,
                "mfa_reset",
                "peter.griffin@company.com",
                "human",
                "success",
                "all mfa factors",
            ),
            ("okta-system-log.lowercase-keys.jsonl", 4, 0, "grant", "App (123)", "group", "failure", "FAILURE"),
            (
                "okta-system-log.lowercase-keys.jsonl",
                5,
                0,
                "disable",
                "homer.simpson@duff.com",
                "human",
                "success",
                "LOCKED_OUT",
            ),
            ("okta-system-log.lowercase-keys.jsonl", 6, 0, "create", "Random Org2Org", "other", "pending", "CHALLENGE"),
            ("okta-system-log.rapid7.jsonl", 1, 0, "disable", "user@example.com", "human", "success", "suspended"),
            (
                "okta-system-log.rapid7.jsonl",
                2,
                0,
                "session_revoke",
                "user@example.com",
                "human",
                "success",
                "all sessions",
            ),
        ],
    ),
    (
        Source::Entra,
        &[
            ("entra-audit.jsonl", 1, 0, "grant", "12345", "human", "success", "Application Administrator"),
            ("entra-audit.jsonl", 2, 0, "grant", "12345", "human", "pending", "requested"),
            ("entra-audit.jsonl", 3, 0, "grant", "12345", "human", "success", "Application Administrator"),
            (
                "entra-audit.jsonl",
                4,
                0,
                "grant",
                "denethor@lotr.com",
                "human",
                "success",
                "User Access Administrator at /subscriptions/sub-123",
            ),
            (
                "entra-audit.jsonl",
                5,
                0,
                "revoke",
                "former@company.com",
                "human",
                "success",
                "Reader at /subscriptions/sub-def",
            ),
            ("entra-audit.jsonl", 6, 0, "create", "sp-app-456", "service_principal", "success", "credential Password"),
            ("entra-audit.jsonl", 8, 0, "create", "john@justice.org", "human", "success", "guest invitation"),
            ("entra-audit.jsonl", 9, 0, "create", "aragorn@lotr.com", "human", "failure", "failed"),
            ("entra-audit.jsonl", 11, 0, "policy_change", "123456789", "other", "success", "conditional access MFA"),
            (
                "entra-audit.jsonl",
                14,
                0,
                "policy_change",
                "5e3cb481-2814-4295-b4cc-2440a6d66c86",
                "other",
                "success",
                "conditional access Outside MFA",
            ),
            ("entra-audit.jsonl", 16, 0, "policy_change", "tenant-123", "other", "success", "domain federation"),
            ("entra-audit.jsonl", 20, 0, "observe", "attacker@company.com", "human", "failure", "error 50126"),
            (
                "entra-audit.jsonl",
                24,
                0,
                "observe",
                "some-service-principal",
                "service_principal",
                "failure",
                "error 7000215",
            ),
            (
                "m365-management-activity-aad.jsonl",
                1,
                0,
                "mfa_reset",
                "sample.user@yourorg.onmicrosoft.com",
                "human",
                "success",
                "StrongAuthenticationMethod",
            ),
            (
                "m365-management-activity-aad.jsonl",
                2,
                0,
                "enable",
                "sample.user@yourorg.onmicrosoft.com",
                "human",
                "success",
                "StrongAuthenticationMethod",
            ),
            (
                "m365-management-activity-aad.jsonl",
                4,
                0,
                "observe",
                "sample.user@yourorg.onmicrosoft.com",
                "human",
                "failure",
                "InvalidUserNameOrPassword",
            ),
        ],
    ),
    (
        Source::GitHub,
        &[
            ("github-audit.jsonl", 1, 0, "grant", "cat", "human", "success", "member of my-org"),
            ("github-audit.jsonl", 2, 0, "revoke", "bob", "human", "success", "member of my-org"),
            ("github-audit.jsonl", 4, 0, "grant", "bob", "human", "pending", "invitation"),
            ("github-audit.jsonl", 5, 0, "grant", "cat", "human", "success", "collaborator on my-org/my-repo"),
            ("github-audit.jsonl", 7, 0, "grant", "bob", "human", "success", "enterprise owner"),
            ("github-audit.jsonl", 11, 0, "revoke", "john1987", "human", "success", "moderator of example-io"),
            ("github-audit.jsonl", 12, 0, "create", "my-org/my-team", "group", "success", ""),
            ("github-audit.jsonl", 14, 0, "delete", "my-org/my-team", "group", "success", ""),
            ("github-audit.jsonl", 15, 0, "create", "cat", "human", "success", "ssh key"),
            ("github-audit.jsonl", 17, 0, "grant", "Datadog CI", "oauth_grant", "success", "installed on example-io"),
            (
                "github-audit.jsonl",
                18,
                0,
                "policy_change",
                "my-org",
                "other",
                "success",
                "two-factor requirement disabled",
            ),
            ("github-audit.jsonl", 25, 0, "ownership_change", "your-organization/project_repo", "other", "success", ""),
            ("github-audit.jsonl", 24, 0, "observe", "my-org/my-repo", "other", "success", "branch refs/heads/main"),
        ],
    ),
    (
        Source::Gcp,
        &[
            ("gcp-audit-iam.jsonl", 1, 0, "grant", "user:username@gmail.com", "human", "success", "roles/viewer"),
            (
                "gcp-audit-iam.jsonl",
                2,
                0,
                "revoke",
                "serviceAccount:diana@platform.iam.gserviceaccount.com",
                "service_account",
                "success",
                "roles/owner",
            ),
            (
                "gcp-audit-iam.jsonl",
                3,
                0,
                "grant",
                "cat@example.com",
                "human",
                "success",
                "roles/resourcemanager.organizationAdmin",
            ),
            (
                "gcp-audit-iam.jsonl",
                4,
                0,
                "policy_change",
                "projects/test-project/locations/us/keyRings/test-keyring/cryptoKeys/test-key",
                "other",
                "success",
                "iam policy",
            ),
            (
                "gcp-audit-iam.jsonl",
                5,
                0,
                "create",
                "created-service-account@gcp-project1.iam.gserviceaccount.com",
                "service_account",
                "success",
                "keys/69049163b190437ab9279b28e8afa24bb5c5b076",
            ),
            (
                "gcp-audit-iam.jsonl",
                7,
                0,
                "create",
                "test123 in projects/test-project-123456",
                "service_account",
                "failure",
                "status 7 PERMISSION_DENIED",
            ),
            (
                "gcp-audit-iam.jsonl",
                8,
                0,
                "create",
                "projects/western-verve-123456/roles/CustomRole",
                "role",
                "success",
                "",
            ),
            (
                "gcp-audit-iam.jsonl",
                9,
                0,
                "grant",
                "user:attacker@gmail.com",
                "human",
                "pending",
                "roles/owner on projects/target-project",
            ),
            (
                "gcp-audit-iam.jsonl",
                10,
                0,
                "grant",
                "test-user@example.com",
                "human",
                "success",
                "group admins@example.com",
            ),
            (
                "gcp-audit-iam.jsonl",
                13,
                0,
                "create",
                "projects/1028347245602/locations/global/keys/bf67db25-d748-4335-ae08-7f0e65fnfy02",
                "api_key",
                "success",
                "api key",
            ),
            (
                "gcp-audit-iam.jsonl",
                17,
                0,
                "observe",
                "projects/-/serviceAccounts/some-project@company.iam.gserviceaccount.com",
                "service_account",
                "failure",
                "permission denied: iam.serviceAccounts.signJwt",
            ),
            (
                "gcp-audit-iam.jsonl",
                19,
                0,
                "grant",
                "serviceAccount:test-account3@gcp-project1.iam.gserviceaccount.com",
                "service_account",
                "success",
                "roles/iam.serviceAccountTokenCreator",
            ),
            (
                "gcp-audit-iam.jsonl",
                19,
                1,
                "grant",
                "serviceAccount:test-account3@gcp-project1.iam.gserviceaccount.com",
                "service_account",
                "success",
                "roles/iam.serviceAccountUser",
            ),
            (
                "gcp-audit-iam.jsonl",
                11,
                0,
                "create",
                "inboundSamlSsoProfiles/03vsz0843d02br4",
                "other",
                "success",
                "inbound sso profile",
            ),
            (
                "gcp-audit-iam.jsonl",
                12,
                0,
                "delete",
                "inboundSamlSsoProfiles/01lmf7wd3jt9atc",
                "other",
                "success",
                "inbound sso profile",
            ),
            (
                "gcp-audit-iam.jsonl",
                15,
                0,
                "policy_change",
                "projects/some-project/locations/us-west1/services/cloudrun-exfil",
                "other",
                "success",
                "iam policy",
            ),
            (
                "gcp-audit-iam.jsonl",
                18,
                0,
                "observe",
                "projects/-/serviceAccounts/xxxxx.iam.gserviceaccount.com",
                "service_account",
                "success",
                "access token",
            ),
        ],
    ),
    (
        Source::GWorkspace,
        &[
            ("google-workspace-reports.jsonl", 1, 0, "grant", "bob@example.com", "human", "success", "Some Admin Role"),
            ("google-workspace-reports.jsonl", 3, 0, "create", "CustomAdminRoleName", "role", "success", ""),
            ("google-workspace-reports.jsonl", 4, 0, "delete", "CustomAdminRoleName", "role", "success", ""),
            (
                "google-workspace-reports.jsonl",
                6,
                0,
                "grant",
                "123456789012-abcdefghijklmnopqrstuvwxyz123456.apps.googleusercontent.com",
                "oauth_grant",
                "success",
                "https://www.googleapis.com/auth/admin.directory.user",
            ),
            (
                "google-workspace-reports.jsonl",
                8,
                0,
                "mfa_reset",
                "some.user@somedomain.com",
                "human",
                "success",
                "2-step verification",
            ),
            (
                "google-workspace-reports.jsonl",
                9,
                0,
                "enable",
                "some.user@somedomain.com",
                "human",
                "success",
                "2-step verification",
            ),
            (
                "google-workspace-reports.jsonl",
                11,
                0,
                "rotate",
                "user@example.io",
                "human",
                "success",
                "recovery email",
            ),
            (
                "google-workspace-reports.jsonl",
                12,
                0,
                "disable",
                "homer.simpson@example.com",
                "human",
                "success",
                "password leak",
            ),
            (
                "google-workspace-reports.jsonl",
                16,
                0,
                "policy_change",
                "Security",
                "other",
                "success",
                "Enforce strong password",
            ),
            (
                "google-workspace-reports.jsonl",
                17,
                0,
                "policy_change",
                "evilexample.com",
                "other",
                "success",
                "trusted domain added",
            ),
            (
                "google-workspace-reports.jsonl",
                18,
                0,
                "grant",
                "DocuSign eSignature for Google",
                "oauth_grant",
                "success",
                "domain-wide app install",
            ),
            ("google-workspace-reports.jsonl", 21, 0, "observe", "bob@example.com", "human", "failure", ""),
            (
                "google-workspace-reports.jsonl",
                26,
                0,
                "grant",
                "outside@acme.com",
                "human",
                "success",
                "can_edit on 1111111111111111111",
            ),
            (
                "google-workspace-reports.jsonl",
                27,
                0,
                "ownership_change",
                "1234567890",
                "other",
                "success",
                "new owner bob@example.com",
            ),
        ],
    ),
];

#[test]
fn sample_events_map_as_expected() {
    let mut cache: BTreeMap<&str, Summary> = BTreeMap::new();
    for (source, rows) in EXPECTED {
        let mut names = std::collections::BTreeSet::new();
        for &(file, line, idx, action, target, kind, status, fragment) in rows.iter() {
            let s = cache.entry(file).or_insert_with(|| import(*source, sample(file), true).unwrap());
            let out = s.by_line.get(&line).unwrap_or_else(|| panic!("{file}:{line} missing"));
            let recs = match out {
                Outcome::Records(r) | Outcome::Context(r) => r,
                Outcome::Skipped { reason } => panic!("{file}:{line} skipped: {reason}"),
            };
            let r = &recs[idx].json();
            names.insert(r["attributes"]["source_event"].as_str().unwrap().to_string());
            let at = format!("{file}:{line}#{idx}: {r}");
            assert_eq!(r["action"], action, "{at}");
            assert_eq!(r["target"]["id"], target, "{at}");
            assert_eq!(r["target"]["kind"], kind, "{at}");
            assert_eq!(r["outcome"]["status"], status, "{at}");
            let scope = r.get("scope").and_then(Value::as_str).unwrap_or("");
            let detail = r["outcome"].get("detail").and_then(Value::as_str).unwrap_or("");
            assert!(scope.contains(fragment) || detail.contains(fragment), "{at}: no `{fragment}`");
        }
        assert!(names.len() >= 10, "{source}: only {} event names checked", names.len());
    }
}

#[test]
fn failed_source_events_are_failures() {
    // A failed AttachRolePolicy is a failed grant, with the error code kept.
    let s = import(Source::CloudTrail, sample("cloudtrail-iam.jsonl"), true).unwrap();
    let Outcome::Records(r) = &s.by_line[&15] else { panic!() };
    let j = r[0].json();
    assert_eq!(j["action"], "grant");
    assert_eq!(j["outcome"]["status"], "failure");
    assert_eq!(j["outcome"]["detail"], "NoSuchEntity");
    // Every sample event with an error field gives failure records.
    for &(file, source, ..) in SAMPLE_FILES {
        let text = std::fs::read_to_string(format!("{SAMPLES_DIR}/{file}")).unwrap();
        let s = import(source, sample(file), true).unwrap();
        for (i, line) in text.lines().enumerate() {
            let v: Value = serde_json::from_str(line).unwrap();
            let failed = v.get("errorCode").is_some()
                || v.pointer("/responseElements/ConsoleLogin") == Some(&Value::from("Failure"))
                || v.pointer("/protoPayload/status/code").and_then(Value::as_i64).is_some_and(|c| c != 0)
                || matches!(v.pointer("/properties/result").and_then(Value::as_str), Some("failed" | "failure"))
                || v.get("Operation") == Some(&Value::from("UserLoginFailed"));
            if !failed {
                continue;
            }
            let out = &s.by_line[&(i as u64 + 1)];
            let (Outcome::Records(r) | Outcome::Context(r)) = out else {
                continue; // skipped events (GetRole AccessDenied, RunInstances) give no record
            };
            for m in r {
                assert_eq!(m.json()["outcome"]["status"], "failure", "{file}:{}", i + 1);
            }
        }
    }
}

/// Credential-shaped values planted in request bodies and other unmapped fields, per source.
const PLANTED: &[&str] = &[
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    "00abcdefghijklmnopqrstuvwxyz0123456789AB",
    "Sup3r-Secret-Passw0rd!",
    "AIzaSyA1234567890abcdefghijklmnopqrstuv",
    "FwoGZXIvYXdzEJr//////////wEaDHoZ3SessionTokenBody",
];

fn planted_events() -> Vec<(Source, String)> {
    vec![
        (Source::CloudTrail, r#"{"eventVersion":"1.08","eventName":"CreateLoginProfile","eventSource":"iam.amazonaws.com","eventTime":"2024-01-01T00:00:00Z","eventID":"p1","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::1:user/a"},"requestParameters":{"userName":"victim","password":"Sup3r-Secret-Passw0rd!","passwordResetRequired":false}}"#.into()),
        (Source::CloudTrail, r#"{"eventVersion":"1.08","eventName":"CreateAccessKey","eventSource":"iam.amazonaws.com","eventTime":"2024-01-01T00:00:00Z","eventID":"p2","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::1:user/a"},"requestParameters":{"userName":"victim"},"responseElements":{"accessKey":{"accessKeyId":"AKIAIOSFODNN7EXAMPLE","secretAccessKey":"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY","status":"Active"}}}"#.into()),
        (Source::CloudTrail, r#"{"eventVersion":"1.08","eventName":"AssumeRole","eventSource":"sts.amazonaws.com","eventTime":"2024-01-01T00:00:00Z","eventID":"p3","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::1:user/a"},"requestParameters":{"roleArn":"arn:aws:iam::1:role/r"},"responseElements":{"credentials":{"accessKeyId":"ASIAIOSFODNN7EXAMPLE","secretAccessKey":"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY","sessionToken":"FwoGZXIvYXdzEJr//////////wEaDHoZ3SessionTokenBody"}}}"#.into()),
        // A credential in a mapped field (the target user name) is redacted.
        (Source::CloudTrail, r#"{"eventVersion":"1.08","eventName":"DeleteUser","eventSource":"iam.amazonaws.com","eventTime":"2024-01-01T00:00:00Z","eventID":"p4","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::1:user/a"},"requestParameters":{"userName":"ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789"}}"#.into()),
        (Source::Okta, r#"{"uuid":"o1","published":"2024-01-01T00:00:00Z","eventType":"system.api_token.create","actor":{"id":"u1","type":"User","alternateId":"a@x.io"},"outcome":{"result":"SUCCESS"},"debugContext":{"debugData":{"authorization":"SSWS 00abcdefghijklmnopqrstuvwxyz0123456789AB"}},"target":[{"id":"00T1","type":"Token","displayName":"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"}]}"#.into()),
        (Source::Entra, r#"{"id":"e1","activityDisplayName":"Add service principal credentials","activityDateTime":"2024-01-01T00:00:00Z","result":"success","initiatedBy":{"user":{"userPrincipalName":"a@x.io"}},"targetResources":[{"id":"sp1","type":"ServicePrincipal","modifiedProperties":[{"displayName":"KeyValue","newValue":"\"Sup3r-Secret-Passw0rd!\""},{"displayName":"KeyType","newValue":"\"Password\""}]}],"additionalDetails":[{"key":"token","value":"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"}]}"#.into()),
        (Source::GitHub, r#"{"_document_id":"g1","action":"org.add_member","actor":"cat","created_at":1700000000000,"org":"o","user":"bob","hashed_token":"abc=","token":"ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789","permission":"admin"}"#.into()),
        (Source::Gcp, r#"{"insertId":"c1","timestamp":"2024-01-01T00:00:00Z","protoPayload":{"methodName":"google.iam.admin.v1.CreateServiceAccountKey","authenticationInfo":{"principalEmail":"a@x.io"},"resourceName":"projects/-/serviceAccounts/1","status":{},"response":{"name":"projects/p/serviceAccounts/s@p.iam.gserviceaccount.com/keys/k1","privateKeyData":"-----BEGIN PRIVATE KEY-----\nMIIEvQ\n-----END PRIVATE KEY-----"}},"resource":{"labels":{"email_id":"s@p.iam.gserviceaccount.com"}}}"#.into()),
        (Source::Gcp, r#"{"insertId":"c2","timestamp":"2024-01-01T00:00:00Z","protoPayload":{"methodName":"google.api.apikeys.v2.ApiKeys.CreateKey","authenticationInfo":{"principalEmail":"a@x.io"},"resourceName":"projects/1","status":{},"response":{"name":"projects/1/locations/global/keys/k","keyString":"AIzaSyA1234567890abcdefghijklmnopqrstuv"}}}"#.into()),
        (Source::GWorkspace, r#"{"kind":"admin#reports#activity","id":{"time":"2024-01-01T00:00:00Z","uniqueQualifier":"w1","applicationName":"admin"},"actor":{"email":"a@x.io"},"events":[{"type":"USER_SETTINGS","name":"CHANGE_PASSWORD","parameters":[{"name":"USER_EMAIL","value":"v@x.io"},{"name":"NEW_PASSWORD","value":"Sup3r-Secret-Passw0rd!"}]}]}"#.into()),
    ]
}

#[test]
fn credentials_in_events_never_reach_records() {
    for (source, line) in planted_events() {
        let out = map_event(source, &RawEvent::from_line(1, line.as_bytes()), &opts(true)).unwrap();
        let (Outcome::Records(recs) | Outcome::Context(recs)) = out else { panic!("{source}: {line} was skipped") };
        assert!(!recs.is_empty());
        for m in recs {
            let j = m.json();
            let text = j.to_string();
            for secret in PLANTED {
                assert!(!text.contains(secret), "{source}: `{secret}` leaked into {text}");
            }
            contract_check(&j).unwrap_or_else(|e| panic!("{source}: {e}: {text}"));
        }
    }
    // The mapped ones are visibly redacted, not silently dropped.
    let (_, deleted) = &planted_events()[3];
    let Outcome::Records(r) =
        map_event(Source::CloudTrail, &RawEvent::from_line(1, deleted.as_bytes()), &opts(false)).unwrap()
    else {
        panic!()
    };
    let j = r[0].json();
    assert_eq!(j["target"]["id"], "[redacted]");
    assert_eq!(j["attributes"]["redacted"], "target.id");
}

fn sample_text(file: &str) -> String {
    std::fs::read_to_string(format!("{SAMPLES_DIR}/{file}")).unwrap()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

fn digests(source: Source, input: impl Read) -> Vec<String> {
    read_events(source, input).unwrap().map(|e| e.unwrap().digest()).collect()
}

#[test]
fn gzip_array_and_wrapper_forms_give_the_same_events() {
    let text = sample_text("cloudtrail-iam.jsonl");
    let lines: Vec<&str> = text.lines().collect();
    let plain = digests(Source::CloudTrail, text.as_bytes());
    assert_eq!(plain.len(), 44);
    // Digests are of the event bytes exactly as read.
    assert_eq!(plain[0], RawEvent::from_line(1, lines[0].as_bytes()).digest());

    // gzip of JSON Lines, detected by magic bytes.
    assert_eq!(digests(Source::CloudTrail, &gzip(text.as_bytes())[..]), plain);

    // {"Records": [...]} as delivered to S3, pretty-printed between elements, gzip or not.
    let records = format!("{{\n  \"Records\": [\n    {}\n  ]\n}}\n", lines.join(",\n    "));
    assert_eq!(digests(Source::CloudTrail, records.as_bytes()), plain);
    assert_eq!(digests(Source::CloudTrail, &gzip(records.as_bytes())[..]), plain);
    // Two S3 objects concatenated (zcat *.json.gz).
    let two = format!("{records}{records}");
    assert_eq!(digests(Source::CloudTrail, two.as_bytes()).len(), 88);

    // A bare JSON array (Okta API pages, GitHub exports), with a byte-order mark and CRLF.
    let okta = sample_text("okta-system-log.jsonl");
    let okta_lines: Vec<&str> = okta.lines().collect();
    let array = format!("\u{feff}[\r\n{}\r\n]", okta_lines.join(",\r\n"));
    let from_array: Vec<RawEvent> = read_events(Source::Okta, array.as_bytes()).unwrap().map(Result::unwrap).collect();
    assert_eq!(from_array.len(), 19);
    assert!(from_array.iter().all(|e| e.in_array));
    assert_eq!(from_array[18].position(), Position::Element(19));
    assert_eq!(from_array.iter().map(RawEvent::digest).collect::<Vec<_>>(), digests(Source::Okta, okta.as_bytes()));

    // Graph pages: {"@odata.context": ..., "value": [...], "@odata.nextLink": ...}; numbers after
    // the array are stepped over correctly.
    let entra = sample_text("entra-audit.jsonl");
    let graph = format!(
        "{{\"@odata.context\": \"https://graph.microsoft.com/v1.0/$metadata#auditLogs/directoryAudits\", \"value\": [{}], \"@odata.count\": 24, \"@odata.nextLink\": \"https://graph.microsoft.com/next\"}}",
        entra.lines().collect::<Vec<_>>().join(",")
    );
    let s = import(Source::Entra, graph.as_bytes(), true).unwrap();
    assert_eq!((s.change, s.context, s.skipped, s.errors.len()), (18, 6, 0, 0));

    // GCP {"entries": [...]} and Workspace {"items": [...]} pages.
    let gcp = format!(
        "{{\"entries\": [{}], \"nextPageToken\": \"x\"}}",
        sample_text("gcp-audit-iam.jsonl").lines().collect::<Vec<_>>().join(",")
    );
    let s = import(Source::Gcp, gcp.as_bytes(), true).unwrap();
    assert_eq!((s.change, s.context, s.skipped), (16, 3, 2));
    let ws = format!(
        "{{\"kind\": \"admin#reports#activities\", \"items\": [{}]}}",
        sample_text("google-workspace-reports.jsonl").lines().collect::<Vec<_>>().join(",")
    );
    let s = import(Source::GWorkspace, ws.as_bytes(), true).unwrap();
    assert_eq!((s.change, s.context, s.skipped), (20, 6, 4));

    // An empty input has no events.
    assert_eq!(read_events(Source::Okta, &b"  \n"[..]).unwrap().count(), 0);
}

#[test]
fn workspace_activities_give_one_record_per_event() {
    let activity = r#"{"kind":"admin#reports#activity","id":{"time":"2024-02-01T10:00:00.000Z","uniqueQualifier":"-42","applicationName":"admin","customerId":"C1"},"actor":{"callerType":"USER","email":"admin@x.io"},"ipAddress":"10.0.0.1","events":[{"type":"DELEGATED_ADMIN_SETTINGS","name":"ASSIGN_ROLE","parameters":[{"name":"ROLE_NAME","value":"_SEED_ADMIN_ROLE"},{"name":"USER_EMAIL","value":"eve@x.io"}]},{"type":"SOMETHING","name":"NOT_MAPPED"},{"type":"DELEGATED_ADMIN_SETTINGS","name":"UNASSIGN_ROLE","parameters":[{"name":"ROLE_NAME","value":"_SEED_ADMIN_ROLE"},{"name":"USER_EMAIL","value":"mallory@x.io"}]}]}"#;
    let Outcome::Records(r) =
        map_event(Source::GWorkspace, &RawEvent::from_line(7, activity.as_bytes()), &opts(false)).unwrap()
    else {
        panic!()
    };
    assert_eq!(r.len(), 2);
    assert_eq!(r[0].dedup_key, "gworkspace:-42#0.ASSIGN_ROLE");
    assert_eq!(r[1].dedup_key, "gworkspace:-42#2.UNASSIGN_ROLE");
    let (j0, j1) = (r[0].json(), r[1].json());
    assert_eq!((j0["action"].as_str(), j0["target"]["id"].as_str()), (Some("grant"), Some("eve@x.io")));
    assert_eq!((j1["action"].as_str(), j1["target"]["id"].as_str()), (Some("revoke"), Some("mallory@x.io")));
    assert_eq!(j0["scope"], "_SEED_ADMIN_ROLE");
    assert_eq!(j0["occurred_at"], "2024-02-01T10:00:00Z");
    // Both records carry the digest of the whole activity line.
    assert_eq!(j0["evidence"], j1["evidence"]);
}

#[test]
fn dedup_keys() {
    let s = import(Source::Gcp, sample("gcp-audit-iam.jsonl"), true).unwrap();
    let Outcome::Records(r) = &s.by_line[&19] else { panic!() };
    assert_eq!(r[0].dedup_key, "gcp:hhpfjvdgakc#0");
    assert_eq!(r[1].dedup_key, "gcp:hhpfjvdgakc#1");
    // Line 3 has no insertId: the key is the digest.
    let Outcome::Records(r) = &s.by_line[&3] else { panic!() };
    assert!(r[0].dedup_key.starts_with("gcp:sha256:") && r[0].dedup_key.len() == "gcp:sha256:".len() + 64 + 2);
    assert!(r[0].json()["evidence"][0].get("id").is_none());

    // In the samples, keys repeat only where the fixtures repeat a placeholder event id
    // (CloudTrail eventID "1", Okta uuid "2a992f80-...", the rapid7 uuid): the same source id.
    for &(file, source, ..) in SAMPLE_FILES {
        let s = import(source, sample(file), true).unwrap();
        let mut by_key: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
        for m in &s.records {
            by_key.entry(&m.dedup_key).or_default().push(m.json());
        }
        for (key, recs) in by_key.iter().filter(|(_, v)| v.len() > 1) {
            let ids: Vec<&Value> = recs.iter().map(|r| &r["evidence"][0]["id"]).collect();
            assert!(ids.iter().all(|i| i.is_string() && *i == ids[0]), "{file}: {key} repeats without a shared id");
        }
    }
}

#[test]
fn wrong_source_is_a_clear_error() {
    let err = read_events(Source::CloudTrail, sample("okta-system-log.jsonl")).err().expect("okta read as cloudtrail");
    let msg = err.to_string();
    assert!(msg.contains("line 1: not a cloudtrail event"), "{msg}");
    assert!(msg.contains("it looks like okta"), "{msg}");

    let err = read_events(Source::Gcp, sample("github-audit.jsonl")).err().unwrap();
    assert!(err.to_string().contains("not a gcp event"), "{err}");

    // A CloudTrail S3 object read as Entra is refused at its wrapper.
    let records = format!("{{\"Records\": [{}]}}", sample_text("cloudtrail-iam.jsonl").lines().next().unwrap());
    let err = read_events(Source::Entra, records.as_bytes()).err().unwrap();
    assert!(err.to_string().contains("{\"Records\": [...]}") && err.to_string().contains("cloudtrail"), "{err}");

    // map_event checks too, and names the file when asked.
    let line = sample_text("github-audit.jsonl").lines().next().unwrap().to_string();
    let err = map_event(Source::Okta, &RawEvent::from_line(9, line), &opts(false)).unwrap_err();
    assert_eq!(err.position(), Some(Position::Line(9)));
    let msg = err.in_file("github-audit.jsonl").to_string();
    assert!(msg.starts_with("github-audit.jsonl: line 9: not a okta event"), "{msg}");
    assert!(msg.contains("it looks like github"), "{msg}");
    assert_eq!("GitHub".parse::<Source>().unwrap(), Source::GitHub);
    assert!("vault".parse::<Source>().unwrap_err().to_string().starts_with("unknown source `vault`"));
}

#[test]
fn broken_lines_and_elements_name_their_position() {
    let text = sample_text("cloudtrail-iam.jsonl");
    let lines: Vec<&str> = text.lines().collect();
    let truncated = &lines[2][..lines[2].len() / 2];
    let input = format!("{}\n{}\n{}\nnot json at all\n\n{}", lines[0], lines[1], truncated, lines[3]);
    let items: Vec<_> = read_events(Source::CloudTrail, input.as_bytes()).unwrap().collect();
    assert_eq!(items.len(), 5);
    let errs: Vec<String> = items.iter().filter_map(|i| i.as_ref().err().map(|e| e.to_string())).collect();
    assert_eq!(errs.len(), 2, "{errs:?}");
    assert!(errs[0].starts_with("line 3: not valid json"), "{}", errs[0]);
    assert!(errs[1].starts_with("line 4: "), "{}", errs[1]);
    // Reading goes on after a bad line: line 6 (after a blank line) is read.
    assert_eq!(items[4].as_ref().unwrap().line, 6);

    // A truncated array names the element and ends the iteration.
    let array = format!("[{},\n{},\n{}", lines[0], lines[1], truncated);
    let items: Vec<_> = read_events(Source::CloudTrail, array.as_bytes()).unwrap().collect();
    assert_eq!(items.len(), 3);
    let err = items[2].as_ref().unwrap_err().to_string();
    assert!(err.starts_with("element 3: "), "{err}");
    let unclosed = format!("[{},\n{}", lines[0], lines[1]);
    let items: Vec<_> = read_events(Source::CloudTrail, unclosed.as_bytes()).unwrap().collect();
    assert!(items[2].as_ref().unwrap_err().to_string().starts_with("element 3: unexpected end of input"));
    let garbage = format!("[{}, 42]", lines[0]);
    let items: Vec<_> = read_events(Source::CloudTrail, garbage.as_bytes()).unwrap().collect();
    assert!(items[1].as_ref().unwrap_err().to_string().starts_with("element 2: expected a json object"));
    // A corrupt gzip stream is an i/o error with a position.
    let mut gz = gzip(text.as_bytes());
    let n = gz.len();
    gz.truncate(n / 2);
    let errors = read_events(Source::CloudTrail, &gz[..]).map(|r| r.filter(Result::is_err).count()).unwrap_or(1);
    assert!(errors >= 1);

    // A missing or mistyped event-name field names the field and the line.
    let bad = r#"{"eventName": 42, "eventSource": "iam.amazonaws.com", "eventTime": "2024-01-01T00:00:00Z"}"#;
    let err = map_event(Source::CloudTrail, &RawEvent::from_line(12, bad), &opts(false)).unwrap_err().to_string();
    assert_eq!(err, "line 12: not a cloudtrail event: no eventName with eventSource, eventTime or userIdentity");
    let bad = r#"{"kind":"admin#reports#activity","id":{"applicationName":"admin"},"events":[{"type":"X"}]}"#;
    let err = map_event(Source::GWorkspace, &RawEvent::from_line(4, bad), &opts(false)).unwrap_err().to_string();
    assert_eq!(err, "line 4: field events[0].name: missing");
    let err = map_event(Source::Okta, &RawEvent::from_line(2, "[1,2]"), &opts(false)).unwrap_err().to_string();
    assert_eq!(err, "line 2: expected a json object");
}

/// Generates `{"Records": [ev, ev, ...]}` on the fly and counts the bytes handed out.
struct Generated {
    produced: std::rc::Rc<std::cell::Cell<usize>>,
    remaining: usize,
    buf: Vec<u8>,
    pos: usize,
    state: u8,
}

impl Read for Generated {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
            match self.state {
                0 => {
                    self.buf.extend_from_slice(b"{\"Records\": [");
                    self.state = 1;
                }
                1 if self.remaining > 0 => {
                    let n = self.remaining;
                    self.buf.extend_from_slice(format!(
                        "{{\"eventVersion\":\"1.08\",\"eventID\":\"gen-{n}\",\"eventName\":\"AttachUserPolicy\",\"eventSource\":\"iam.amazonaws.com\",\"eventTime\":\"2024-01-01T00:00:00Z\",\"userIdentity\":{{\"type\":\"IAMUser\",\"arn\":\"arn:aws:iam::1:user/admin\"}},\"requestParameters\":{{\"userName\":\"u{n}\",\"policyArn\":\"arn:aws:iam::aws:policy/ReadOnlyAccess\"}},\"padding\":\"{}\"}}{}",
                        "x".repeat(300),
                        if n > 1 { "," } else { "" }
                    ).as_bytes());
                    self.remaining -= 1;
                }
                1 => {
                    self.buf.extend_from_slice(b"]}");
                    self.state = 2;
                }
                _ => return Ok(0),
            }
        }
        let n = (self.buf.len() - self.pos).min(out.len());
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        self.produced.set(self.produced.get() + n);
        Ok(n)
    }
}

#[test]
fn reading_streams_without_holding_the_file() {
    let produced = std::rc::Rc::new(std::cell::Cell::new(0));
    let events = 50_000; // about 25 MB
    let input = Generated { produced: produced.clone(), remaining: events, buf: Vec::new(), pos: 0, state: 0 };
    let mut reader = read_events(Source::CloudTrail, input).unwrap();
    let first = reader.next().unwrap().unwrap();
    assert!(first.bytes.starts_with(b"{\"eventVersion\""));
    // Only a buffer's worth of the input has been read to produce the first event.
    assert!(produced.get() < 256 * 1024, "read {} bytes before the first event", produced.get());
    let mut count = 1;
    let mut max_gap = 0usize;
    let mut last = produced.get();
    for ev in reader {
        let ev = ev.unwrap();
        count += 1;
        if count % 1000 == 0 {
            let out = map_event(Source::CloudTrail, &ev, &opts(false)).unwrap();
            assert!(matches!(out, Outcome::Records(_)));
        }
        max_gap = max_gap.max(produced.get() - last);
        last = produced.get();
    }
    assert_eq!(count, events);
    assert!(produced.get() > 20_000_000);
    assert!(max_gap <= 128 * 1024, "read {max_gap} bytes ahead for one event");
}

#[test]
fn batch_approval_and_options() {
    let line = sample_text("cloudtrail-iam.jsonl").lines().nth(11).unwrap().to_string();
    let mut o = opts(false);
    o.approval = Some(serde_json::json!({"by": "alice@corp.example", "source": "servicenow", "ref": "CHG0042"}));
    let Outcome::Records(r) = map_event(Source::CloudTrail, &RawEvent::from_line(12, line.clone()), &o).unwrap() else {
        panic!()
    };
    assert_eq!(r[0].json()["approval"]["ref"], "CHG0042");
    contract_check(&r[0].json()).unwrap();
    o.approval = Some(serde_json::json!({"by": "alice", "note": "x"}));
    let err = map_event(Source::CloudTrail, &RawEvent::from_line(12, line.clone()), &o).unwrap_err();
    assert!(err.to_string().starts_with("import options: approval: unknown key `note`"), "{err}");
    // Values given with the import are screened for credentials once, with the options: records
    // are then checked without screening them again.
    let token = "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789";
    o.approval = Some(serde_json::json!({"by": "alice", "source": "servicenow", "ref": token}));
    let err = map_event(Source::CloudTrail, &RawEvent::from_line(12, line.clone()), &o).unwrap_err();
    assert!(err.to_string().starts_with("import options: approval: looks like a GitHub"), "{err}");
    o.approval = Some(serde_json::json!({"none": token}));
    assert!(map_event(Source::CloudTrail, &RawEvent::from_line(12, line.clone()), &o).is_err());
    o.approval = None;
    o.incident = token.into();
    let err = map_event(Source::CloudTrail, &RawEvent::from_line(12, line.clone()), &o).unwrap_err();
    assert!(err.to_string().starts_with("import options: incident: looks like a GitHub"), "{err}");
    o.incident = String::new();
    assert!(map_event(Source::CloudTrail, &RawEvent::from_line(12, line), &o).is_err());
}

#[test]
fn entra_pim_justification_is_kept() {
    let s = import(Source::Entra, sample("entra-audit.jsonl"), false).unwrap();
    let Outcome::Records(r) = &s.by_line[&3] else { panic!() };
    let j = r[0].json();
    assert_eq!(j["attributes"]["justification"], "test assign");
    assert!(j["reason"].as_str().unwrap().ends_with("; justification: test assign"));
}

#[test]
fn tables_are_well_formed() {
    for source in Source::ALL {
        let table = mapping_table(source);
        assert!(table.len() >= 20, "{source}: only {} rows", table.len());
        let mut seen = std::collections::BTreeSet::new();
        for row in table {
            assert!(seen.insert(row.event.to_ascii_lowercase()), "{source}: {} twice", row.event);
            assert!(!row.actions.is_empty());
            assert!(!row.is_context() || row.actions.len() == 1);
            assert!(!row.actions.contains(&Action::Observe) || row.is_context(), "{source}: {}", row.event);
            assert!(!row.target.is_empty() && row.target != "-");
            for alt in super::path::alternatives(row.target).into_iter().chain(super::path::alternatives(row.scope)) {
                assert_eq!(alt.trim(), alt, "{source}: {}: spaces around `{alt}`", row.event);
            }
            assert!(!row.event.contains('|'));
        }
        let changes = table.iter().filter(|r| !r.is_context()).count();
        assert!(changes >= 15, "{source}: {changes} change rows");
    }
}

/// Splits a markdown table row on unescaped `|` and unescapes the cells.
fn split_row(line: &str) -> Vec<String> {
    let inner = line.trim().trim_start_matches('|').trim_end_matches('|');
    let mut cells = vec![String::new()];
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                cells.last_mut().unwrap().push('|');
                chars.next();
            }
            '|' => cells.push(String::new()),
            c => cells.last_mut().unwrap().push(c),
        }
    }
    cells.into_iter().map(|c| c.trim().to_string()).collect()
}

#[test]
fn importers_md_matches_tables() {
    if std::env::var_os("CUSTODY_WRITE_IMPORTERS_MD").is_some() {
        std::fs::write(IMPORTERS_MD, docs::importers_markdown()).unwrap();
    }
    let md = std::fs::read_to_string(IMPORTERS_MD).expect("IMPORTERS.md");
    let header = split_row(table::TABLE_HEADER);
    assert_eq!(header[..5], ["event", "action", "target kind", "scope field", "outcome field"]);
    let mut doc: BTreeMap<&str, Vec<Vec<String>>> = BTreeMap::new();
    let mut current: Option<Source> = None;
    let mut in_table = false;
    for line in md.lines() {
        if let Some(h) = line.strip_prefix("## ") {
            current = h.trim().parse().ok();
            in_table = false;
            continue;
        }
        if line.trim() == table::TABLE_HEADER {
            assert!(current.is_some(), "a mapping table outside a source section");
            in_table = true;
            continue;
        }
        if in_table && line.starts_with("| ---") {
            continue;
        }
        if in_table && line.starts_with('|') {
            let cells = split_row(line);
            assert_eq!(cells.len(), header.len(), "{line}");
            doc.entry(current.unwrap().name()).or_default().push(cells);
        } else {
            in_table = false;
        }
    }
    for source in Source::ALL {
        let rows = doc.get(source.name()).unwrap_or_else(|| panic!("IMPORTERS.md has no {source} table"));
        let code: Vec<Vec<String>> = mapping_table(source).iter().map(|r| r.cells().to_vec()).collect();
        for d in rows {
            let event = d[0].trim_matches('`');
            let c = code
                .iter()
                .find(|c| c[0].trim_matches('`') == event)
                .unwrap_or_else(|| panic!("IMPORTERS.md {source} row `{event}` is not in the code table"));
            assert_eq!(d, c, "IMPORTERS.md {source} row `{event}` differs from the code");
        }
        for c in &code {
            assert!(rows.contains(c), "code row {source} `{}` is missing from IMPORTERS.md", c[0]);
        }
        assert_eq!(rows.len(), code.len(), "{source}: row count");
    }
}

#[test]
fn times_are_normalised_to_rfc3339_utc() {
    let at = |source: Source, file: &str, line: u64| -> Value {
        let s = import(source, sample(file), true).unwrap();
        match &s.by_line[&line] {
            Outcome::Records(r) | Outcome::Context(r) => r[0].json(),
            Outcome::Skipped { reason } => panic!("{reason}"),
        }
    };
    // Panther's "2022-09-27 17:09:18" and "2022-03-22 14:21:53.225" forms.
    assert_eq!(at(Source::CloudTrail, "cloudtrail-iam.jsonl", 1)["occurred_at"], "2022-09-27T17:09:18Z");
    assert_eq!(at(Source::Okta, "okta-system-log.jsonl", 3)["occurred_at"], "2022-03-22T14:21:53.225Z");
    // GitHub epoch milliseconds and text.
    assert_eq!(at(Source::GitHub, "github-audit.jsonl", 1)["occurred_at"], "2021-05-18T02:31:58.553Z");
    assert_eq!(at(Source::GitHub, "github-audit.jsonl", 10)["occurred_at"], "2022-12-11T05:17:28.078Z");
    // Entra with a 7-digit fraction and an offset.
    assert_eq!(at(Source::Entra, "entra-audit.jsonl", 11)["occurred_at"], "2024-11-27T03:31:26.708849800Z");
    // "published": "redacted" stays absent, and says so.
    let r = at(Source::Okta, "okta-system-log.jsonl", 14);
    assert!(r.get("occurred_at").is_none());
    assert_eq!(r["attributes"]["occurred_at_unparsed"], "published");
    // No time at all: absent, without a note.
    let r = at(Source::CloudTrail, "cloudtrail-iam.jsonl", 38);
    assert!(r.get("occurred_at").is_none() && r["attributes"].get("occurred_at_unparsed").is_none());
}

#[test]
fn entra_update_user_is_an_access_change_only_for_access_properties() {
    let ev = |props: &str| {
        format!(
            r#"{{"id":"u1","activityDisplayName":"Update user","activityDateTime":"2024-01-01T00:00:00Z","result":"success","initiatedBy":{{"user":{{"userPrincipalName":"admin@x.io"}}}},"targetResources":[{{"id":"t1","type":"User","userPrincipalName":"eve@x.io","modifiedProperties":[{props}]}}]}}"#
        )
    };
    let map = |line: String| map_event(Source::Entra, &RawEvent::from_line(1, line), &opts(false)).unwrap();
    let disabled = map(ev(
        r#"{"displayName":"AccountEnabled","oldValue":"[true]","newValue":"[false]"},{"displayName":"Included Updated Properties","newValue":"\"AccountEnabled\""}"#,
    ));
    let Outcome::Records(r) = disabled else { panic!() };
    let j = r[0].json();
    assert_eq!((j["action"].as_str(), j["target"]["id"].as_str()), (Some("disable"), Some("eve@x.io")));
    assert_eq!(j["scope"], "AccountEnabled");
    let other = map(ev(r#"{"displayName":"JobTitle","oldValue":"[\"a\"]","newValue":"[\"b\"]"}"#));
    assert!(matches!(other, Outcome::Skipped { .. }));
}
