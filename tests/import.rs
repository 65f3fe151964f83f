//! `custody import` end to end: every file of `../shared/samples/` through the CLI into real ledgers
//! in temporary directories, then read back with `custody log --json` and `custody verify`.
//!
//! What belongs here (issue 9, "How we will know"): per-file counts from the import summary, a table
//! of mapped events per source checked in the ledger, failed source events as failure outcomes,
//! idempotence (a second import appends nothing; a later import with context, or a re-run after an
//! interrupted import, adds exactly the missing records of an event), the input forms (gzip, JSON array, `{"Records"}`),
//! refusals that leave the ledger unchanged, `--skip-invalid`, `--dry-run`, `--explain`, a planted
//! credential that must not reach any file of the ledger, and a leaked-key incident that mixes
//! imported and hand-written entries into one verified timeline. The mapping itself is unit-tested
//! in `src/import/tests.rs`; these tests check what reaches the ledger.

#[allow(dead_code)]
#[path = "integration/support.rs"]
mod support;

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use support::{assert_intact, run, Run, TestLedger};

/// The shared samples folder, beside the repository.
const SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/samples");
const INCIDENT: &str = "INC-2026-0101";

fn sample_path(file: &str) -> PathBuf {
    Path::new(SAMPLES).join(file)
}

fn sample_lines(file: &str) -> Vec<String> {
    let text = std::fs::read_to_string(sample_path(file)).unwrap_or_else(|e| panic!("{SAMPLES}/{file}: {e}"));
    text.lines().map(str::to_owned).collect()
}

/// `sha256:<hex>` of an event's bytes, as importers write it into evidence.
fn digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// `custody import --from SOURCE FILE --incident INCIDENT --ledger DIR --key KEY EXTRA...`.
fn import(t: &TestLedger, source: &str, file: &Path, extra: &[&str]) -> Run {
    let mut c = t.cmd(&["import", "--from", source]);
    c.arg(file).args(["--incident", INCIDENT, "--key"]).arg(&t.key_path).args(extra);
    run(c)
}

/// An import with `--json` that must succeed; returns its summary.
fn import_ok(t: &TestLedger, source: &str, file: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["--json"];
    args.extend_from_slice(extra);
    let r = import(t, source, file, &args);
    assert_eq!(r.code, 0, "import {source} {} failed:\n{}", file.display(), r.stderr);
    serde_json::from_str(r.stdout.trim())
        .unwrap_or_else(|e| panic!("summary is not JSON ({e}):\n{}\nstderr:\n{}", r.stdout, r.stderr))
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// The summary's `mapped` counts as `action n, ...` (sorted by action), and their total.
fn mapped(summary: &Value) -> (String, u64) {
    let m = summary["mapped"].as_object().expect("mapped is an object");
    let text = m.iter().map(|(a, n)| format!("{a} {}", u(n))).collect::<Vec<_>>().join(", ");
    (text, m.values().map(u).sum())
}

/// The ledger's size from `custody head` (`SIZE:HASH`).
fn size(head: &str) -> u64 {
    head.split(':').next().and_then(|s| s.parse().ok()).expect("head is SIZE:HASH")
}

/// The change records of `custody log --json`, grouped by the evidence digest of the source event,
/// each group in seq order.
fn records_by_digest(t: &TestLedger) -> HashMap<String, Vec<Value>> {
    let mut out: HashMap<String, Vec<Value>> = HashMap::new();
    for e in t.log(&[]) {
        let Some(rec) = e.get("record") else { continue };
        if let Some(d) = rec["evidence"][0]["digest"].as_str() {
            out.entry(d.to_string()).or_default().push(e.clone());
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Counts per sample file, with and without context, and idempotence.

/// One sample file: the source it is read as, its events, and what they give. Change and context
/// are records (a GCP SetIamPolicy with two binding deltas gives two); `skip` is the events skipped
/// when importing with context (without context, the context events are skipped as well). The
/// samples README gives the same numbers as events per file: change / context / skip.
struct SampleFile {
    file: &'static str,
    source: &'static str,
    events: u64,
    change: u64,
    context: u64,
    skip: u64,
    /// The change records by action, as the summary's `mapped` lists them.
    by_action: &'static str,
}

const SAMPLE_FILES: &[SampleFile] = &[
    SampleFile {
        file: "cloudtrail-iam.jsonl",
        source: "cloudtrail",
        events: 44,
        change: 26,
        context: 12,
        skip: 6,
        by_action: "create 9, delete 1, grant 4, policy_change 4, revoke 2, rotate 6",
    },
    SampleFile {
        file: "okta-system-log.jsonl",
        source: "okta",
        events: 19,
        change: 10,
        context: 8,
        skip: 1,
        by_action: "create 2, grant 4, mfa_reset 1, revoke 1, rotate 2",
    },
    SampleFile {
        file: "okta-system-log.lowercase-keys.jsonl",
        source: "okta",
        events: 13,
        change: 8,
        context: 4,
        skip: 1,
        by_action: "create 2, disable 2, grant 1, mfa_reset 2, policy_change 1",
    },
    SampleFile {
        file: "okta-system-log.rapid7.jsonl",
        source: "okta",
        events: 3,
        change: 3,
        context: 0,
        skip: 0,
        by_action: "disable 2, session_revoke 1",
    },
    SampleFile {
        file: "entra-audit.jsonl",
        source: "entra",
        events: 24,
        change: 18,
        context: 6,
        skip: 0,
        by_action: "create 5, grant 4, policy_change 8, revoke 1",
    },
    SampleFile {
        file: "m365-management-activity-aad.jsonl",
        source: "entra",
        events: 4,
        change: 2,
        context: 2,
        skip: 0,
        by_action: "enable 1, mfa_reset 1",
    },
    SampleFile {
        file: "github-audit.jsonl",
        source: "github",
        events: 29,
        change: 24,
        context: 1,
        skip: 4,
        by_action: "create 2, delete 2, grant 10, ownership_change 1, policy_change 6, revoke 3",
    },
    // 16 change events give 17 records: line 19's SetIAMPolicy has two binding deltas.
    SampleFile {
        file: "gcp-audit-iam.jsonl",
        source: "gcp",
        events: 21,
        change: 17,
        context: 3,
        skip: 2,
        by_action: "create 6, delete 1, grant 6, policy_change 3, revoke 1",
    },
    SampleFile {
        file: "google-workspace-reports.jsonl",
        source: "gworkspace",
        events: 30,
        change: 20,
        context: 6,
        skip: 4,
        by_action: "create 2, delete 1, disable 1, enable 1, grant 6, mfa_reset 2, ownership_change 1, policy_change 4, revoke 1, rotate 1",
    },
];

/// Sample files no importer reads (no Vault importer yet).
const UNSUPPORTED: &[&str] = &["vault-audit.datadog.jsonl"];

#[test]
fn every_sample_file_is_in_the_table() {
    let mut names: Vec<String> = std::fs::read_dir(SAMPLES)
        .expect("samples folder")
        .map(|e| e.expect("dir entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".jsonl"))
        .collect();
    names.sort();
    let known: Vec<&str> = SAMPLE_FILES.iter().map(|f| f.file).chain(UNSUPPORTED.iter().copied()).collect();
    for n in &names {
        assert!(known.contains(&n.as_str()), "sample {n} is not in SAMPLE_FILES: add its expected counts");
    }
    assert_eq!(names.len(), known.len(), "a file of SAMPLE_FILES is missing from {SAMPLES}");
    for f in SAMPLE_FILES {
        assert_eq!(sample_lines(f.file).len() as u64, f.events, "{}: events", f.file);
    }
}

/// Checks the counts of an import summary.
fn check_summary(s: &Value, f: &SampleFile, with_context: bool, what: &str) {
    let at = format!("{} {what}: {s}", f.file);
    assert_eq!(u(&s["events"]), f.events, "{at}");
    assert_eq!(u(&s["invalid"]), 0, "{at}");
    let (by_action, total) = mapped(s);
    assert_eq!(total, f.change, "{at}");
    assert_eq!(by_action, f.by_action, "{at}");
    if with_context {
        assert_eq!((u(&s["context"]), u(&s["skipped"])), (f.context, f.skip), "{at}");
    } else {
        // Context events are counted as skipped events (one record per context event here).
        assert_eq!((u(&s["context"]), u(&s["skipped"])), (0, f.context + f.skip), "{at}");
    }
}

#[test]
fn every_sample_file_imports_with_the_expected_counts_once() {
    for f in SAMPLE_FILES {
        let path = sample_path(f.file);
        // Without context, twice: the second run finds every record already present.
        let t = TestLedger::new();
        let s = import_ok(&t, f.source, &path, &[]);
        check_summary(&s, f, false, "without context");
        assert_eq!(u(&s["appended"]), f.change, "{}", f.file);
        assert_eq!(size(&t.head()), 1 + f.change, "{}: genesis + change records", f.file);
        let head = t.head();
        let again = import_ok(&t, f.source, &path, &[]);
        assert_eq!(u(&again["appended"]), 0, "{}: second import: {again}", f.file);
        assert_eq!(u(&again["already_present"]), f.change, "{}: {again}", f.file);
        assert_eq!(t.head(), head, "{}: the second import changed the ledger", f.file);
        // Then with context: only the context records are new.
        let ctx = import_ok(&t, f.source, &path, &["--with-context"]);
        assert_eq!(u(&ctx["appended"]), f.context, "{}: {ctx}", f.file);
        assert_eq!(u(&ctx["already_present"]), f.change, "{}: {ctx}", f.file);
        assert_eq!(size(&t.head()), 1 + f.change + f.context, "{}", f.file);
        let (code, report) = t.verify(&[]);
        assert_intact(code, &report);

        // With context on a new ledger, twice.
        let t = TestLedger::new();
        let s = import_ok(&t, f.source, &path, &["--with-context"]);
        check_summary(&s, f, true, "with context");
        assert_eq!(u(&s["appended"]), f.change + f.context, "{}", f.file);
        assert_eq!((u(&s["first_seq"]), u(&s["last_seq"])), (1, f.change + f.context), "{}: {s}", f.file);
        let head = t.head();
        let again = import_ok(&t, f.source, &path, &["--with-context"]);
        assert_eq!(u(&again["appended"]), 0, "{}: second import: {again}", f.file);
        assert_eq!(u(&again["already_present"]), f.change + f.context, "{}: {again}", f.file);
        assert!(again["first_seq"].is_null(), "{}: {again}", f.file);
        assert_eq!(t.head(), head, "{}: the second import changed the ledger", f.file);
        let (code, report) = t.verify(&[]);
        assert_intact(code, &report);
    }
}

// ---------------------------------------------------------------------------------------------
// What each mapped event became, read back from the ledger.

/// (file, line, record of that event, event name, action, target id, target kind, outcome status)
type Row = (&'static str, u64, usize, &'static str, &'static str, &'static str, &'static str, &'static str);

const CT: &str = "cloudtrail-iam.jsonl";
const OKTA: &str = "okta-system-log.jsonl";
const OKTA_LC: &str = "okta-system-log.lowercase-keys.jsonl";
const OKTA_R7: &str = "okta-system-log.rapid7.jsonl";
const ENTRA: &str = "entra-audit.jsonl";
const M365: &str = "m365-management-activity-aad.jsonl";
const GH: &str = "github-audit.jsonl";
const GCP: &str = "gcp-audit-iam.jsonl";
const GWS: &str = "google-workspace-reports.jsonl";

#[rustfmt::skip]
const EXPECTED: &[(&str, &[Row])] = &[
    ("cloudtrail", &[
        (CT, 1, 0, "CreateAccessKey", "create", "jackson", "human", "success"),
        (CT, 3, 0, "CreateAccessKey", "create", "arn:aws:iam::123456789012:user/some_iam_user", "human", "failure"),
        (CT, 5, 0, "CreateVirtualMFADevice", "create", "unknown", "other", "success"),
        (CT, 7, 0, "ChangePassword", "rotate", "arn:aws:iam::123456789012:user/test_user", "human", "failure"),
        (CT, 8, 0, "UpdateLoginProfile", "rotate", "bob", "human", "success"),
        (CT, 11, 0, "PasswordUpdated", "rotate", "arn:aws:iam::123456789012:root", "human", "failure"),
        (CT, 12, 0, "AttachUserPolicy", "grant", "new-user", "human", "success"),
        (CT, 15, 0, "AttachRolePolicy", "grant", "LambdaFunctionRole-1111", "role", "failure"),
        (CT, 16, 0, "PutUserPolicy", "policy_change", "compromised_user", "human", "success"),
        (CT, 19, 0, "DeleteGroupPolicy", "revoke", "group", "group", "failure"),
        (CT, 20, 0, "UpdateAssumeRolePolicy", "policy_change", "unknown", "role", "success"),
        (CT, 22, 0, "CreateUser", "create", "user", "human", "failure"),
        (CT, 23, 0, "CreateRole", "create", "new-role", "role", "success"),
        (CT, 26, 0, "DeleteSAMLProvider", "delete", "unknown", "other", "success"),
        (CT, 28, 0, "ConsoleLogin", "observe", "AIDACKCEVSQ6C2EXAMPLE", "human", "failure"),
        (CT, 33, 0, "AssumeRole", "observe", "arn:aws:iam::123456789012:role/FullAdminRole", "role", "failure"),
        (CT, 36, 0, "GetSessionToken", "observe", "example-user", "human", "failure"),
    ]),
    ("okta", &[
        (OKTA, 1, 0, "system.api_token.create", "create", "00Tpki36zlWjhjQ1u2p4", "token", "success"),
        (OKTA, 2, 0, "system.api_token.revoke", "revoke", "00Tpki36zlWjhjQ1u2p4", "token", "success"),
        (OKTA, 3, 0, "system.mfa.factor.deactivate", "mfa_reset", "okta organization", "other", "success"),
        (OKTA, 5, 0, "user.account.privilege.grant", "grant", "alice@acme.io", "human", "success"),
        (OKTA, 6, 0, "user.account.reset_password", "rotate", "homer@springfield.gov", "human", "success"),
        (OKTA, 8, 0, "user.session.impersonation.grant", "grant", "okta support", "other", "success"),
        (OKTA, 13, 0, "user.session.start", "observe", "casey.hill@hey.com", "human", "failure"),
        (OKTA, 17, 0, "user.lifecycle.create", "create", "thomas12223391@gmail.com", "human", "success"),
        (OKTA_LC, 1, 0, "user.mfa.factor.reset_all", "mfa_reset", "peter.griffin@company.com", "human", "success"),
        (OKTA_LC, 2, 0, "user.mfa.factor.suspend", "disable", "peter.griffin@company.com", "human", "success"),
        (OKTA_LC, 4, 0, "group.privilege.grant", "grant", "App (123)", "group", "failure"),
        // Okta logs the lock itself with the FAILURE of the sign-in that caused it.
        (OKTA_LC, 5, 0, "user.account.lock", "disable", "homer.simpson@duff.com", "human", "success"),
        (OKTA_LC, 6, 0, "application.lifecycle.create", "create", "Random Org2Org", "other", "pending"),
        (OKTA_LC, 10, 0, "security.threat.detected", "observe", "1.2.3.4", "human", "failure"),
        (OKTA_R7, 1, 0, "user.lifecycle.suspend", "disable", "user@example.com", "human", "success"),
        (OKTA_R7, 2, 0, "user.session.clear", "session_revoke", "user@example.com", "human", "success"),
    ]),
    ("entra", &[
        (ENTRA, 1, 0, "Add member to role", "grant", "12345", "human", "success"),
        (ENTRA, 2, 0, "Add member to role in PIM requested (permanent)", "grant", "12345", "human", "pending"),
        (ENTRA, 3, 0, "Add member to role in PIM completed (permanent)", "grant", "12345", "human", "success"),
        (ENTRA, 4, 0, "User has elevated their access to User Access Administrator for their Azure Resources", "grant", "denethor@lotr.com", "human", "success"),
        (ENTRA, 5, 0, "Delete role assignment", "revoke", "former@company.com", "human", "success"),
        (ENTRA, 6, 0, "Add service principal credentials", "create", "sp-app-456", "service_principal", "success"),
        (ENTRA, 7, 0, "Add service principal", "create", "sp-new-789", "service_principal", "success"),
        (ENTRA, 9, 0, "Invite external user", "create", "aragorn@lotr.com", "human", "failure"),
        (ENTRA, 11, 0, "Update conditional access policy", "policy_change", "123456789", "other", "success"),
        (ENTRA, 14, 0, "Delete conditional access policy", "policy_change", "5e3cb481-2814-4295-b4cc-2440a6d66c86", "other", "success"),
        (ENTRA, 16, 0, "Set federation settings on domain", "policy_change", "tenant-123", "other", "success"),
        (ENTRA, 20, 0, "SignInLogs", "observe", "attacker@company.com", "human", "failure"),
        (ENTRA, 24, 0, "ServicePrincipalSignInLogs", "observe", "some-service-principal", "service_principal", "failure"),
        (M365, 1, 0, "Update user", "mfa_reset", "sample.user@yourorg.onmicrosoft.com", "human", "success"),
        (M365, 4, 0, "UserLoginFailed", "observe", "sample.user@yourorg.onmicrosoft.com", "human", "failure"),
    ]),
    ("github", &[
        (GH, 1, 0, "org.add_member", "grant", "cat", "human", "success"),
        (GH, 2, 0, "org.remove_member", "revoke", "bob", "human", "success"),
        (GH, 4, 0, "org.invite_member", "grant", "bob", "human", "pending"),
        (GH, 5, 0, "repo.add_member", "grant", "cat", "human", "success"),
        (GH, 7, 0, "business.add_admin", "grant", "bob", "human", "success"),
        (GH, 11, 0, "organization_moderators.remove_user", "revoke", "john1987", "human", "success"),
        (GH, 12, 0, "team.create", "create", "my-org/my-team", "group", "success"),
        (GH, 14, 0, "team.destroy", "delete", "my-org/my-team", "group", "success"),
        (GH, 15, 0, "public_key.create", "create", "cat", "human", "success"),
        (GH, 16, 0, "public_key.delete", "delete", "cat", "human", "success"),
        (GH, 17, 0, "integration_installation.create", "grant", "Datadog CI", "oauth_grant", "success"),
        (GH, 18, 0, "org.disable_two_factor_requirement", "policy_change", "my-org", "other", "success"),
        (GH, 24, 0, "protected_branch.policy_override", "observe", "my-org/my-repo", "other", "success"),
        (GH, 25, 0, "repo.transfer", "ownership_change", "your-organization/project_repo", "other", "success"),
    ]),
    ("gcp", &[
        (GCP, 1, 0, "SetIamPolicy", "grant", "user:username@gmail.com", "human", "success"),
        (GCP, 2, 0, "SetIamPolicy", "revoke", "serviceAccount:diana@platform.iam.gserviceaccount.com", "service_account", "success"),
        (GCP, 4, 0, "SetIamPolicy", "policy_change", "projects/test-project/locations/us/keyRings/test-keyring/cryptoKeys/test-key", "other", "success"),
        (GCP, 5, 0, "google.iam.admin.v1.CreateServiceAccountKey", "create", "created-service-account@gcp-project1.iam.gserviceaccount.com", "service_account", "success"),
        (GCP, 7, 0, "google.iam.admin.v1.CreateServiceAccount", "create", "test123 in projects/test-project-123456", "service_account", "failure"),
        (GCP, 8, 0, "google.iam.admin.v1.CreateRole", "create", "projects/western-verve-123456/roles/CustomRole", "role", "success"),
        (GCP, 9, 0, "InsertProjectOwnershipInvite", "grant", "user:attacker@gmail.com", "human", "pending"),
        (GCP, 10, 0, "google.admin.AdminService.addGroupMember", "grant", "test-user@example.com", "human", "success"),
        (GCP, 11, 0, "google.admin.AdminService.inboundSsoProfileCreated", "create", "inboundSamlSsoProfiles/03vsz0843d02br4", "other", "success"),
        (GCP, 12, 0, "google.admin.AdminService.inboundSsoProfileDeleted", "delete", "inboundSamlSsoProfiles/01lmf7wd3jt9atc", "other", "success"),
        (GCP, 13, 0, "google.api.apikeys.v2.ApiKeys.CreateKey", "create", "projects/1028347245602/locations/global/keys/bf67db25-d748-4335-ae08-7f0e65fnfy02", "api_key", "success"),
        (GCP, 17, 0, "SignJwt", "observe", "projects/-/serviceAccounts/some-project@company.iam.gserviceaccount.com", "service_account", "failure"),
        (GCP, 18, 0, "GenerateAccessToken", "observe", "projects/-/serviceAccounts/xxxxx.iam.gserviceaccount.com", "service_account", "success"),
        (GCP, 19, 0, "google.iam.admin.v1.SetIAMPolicy", "grant", "serviceAccount:test-account3@gcp-project1.iam.gserviceaccount.com", "service_account", "success"),
        (GCP, 19, 1, "google.iam.admin.v1.SetIAMPolicy", "grant", "serviceAccount:test-account3@gcp-project1.iam.gserviceaccount.com", "service_account", "success"),
    ]),
    ("gworkspace", &[
        (GWS, 1, 0, "admin:ASSIGN_ROLE", "grant", "bob@example.com", "human", "success"),
        (GWS, 3, 0, "admin:CREATE_ROLE", "create", "CustomAdminRoleName", "role", "success"),
        (GWS, 4, 0, "admin:DELETE_ROLE", "delete", "CustomAdminRoleName", "role", "success"),
        (GWS, 6, 0, "token:authorize", "grant", "123456789012-abcdefghijklmnopqrstuvwxyz123456.apps.googleusercontent.com", "oauth_grant", "success"),
        (GWS, 8, 0, "user_accounts:2sv_disable", "mfa_reset", "some.user@somedomain.com", "human", "success"),
        (GWS, 9, 0, "user_accounts:2sv_enroll", "enable", "some.user@somedomain.com", "human", "success"),
        (GWS, 11, 0, "user_accounts:recovery_email_edit", "rotate", "user@example.io", "human", "success"),
        (GWS, 12, 0, "login:account_disabled_password_leak", "disable", "homer.simpson@example.com", "human", "success"),
        (GWS, 16, 0, "admin:CHANGE_APPLICATION_SETTING", "policy_change", "Security", "other", "success"),
        (GWS, 17, 0, "admin:ADD_TRUSTED_DOMAINS", "policy_change", "evilexample.com", "other", "success"),
        (GWS, 18, 0, "admin:ADD_APPLICATION", "grant", "DocuSign eSignature for Google", "oauth_grant", "success"),
        (GWS, 21, 0, "login:login_failure", "observe", "bob@example.com", "human", "failure"),
        (GWS, 26, 0, "drive:change_user_access", "grant", "outside@acme.com", "human", "success"),
        (GWS, 27, 0, "drive:change_owner", "ownership_change", "1234567890", "other", "success"),
    ]),
];

/// The `--from` name of a sample file.
fn source_of(file: &str) -> &'static str {
    SAMPLE_FILES.iter().find(|f| f.file == file).map(|f| f.source).expect("file is in SAMPLE_FILES")
}

#[test]
fn mapped_events_reach_the_ledger_as_expected() {
    for (source, rows) in EXPECTED {
        // One ledger per source, holding every sample file of that source (with context).
        let t = TestLedger::new();
        let mut files: Vec<&str> = rows.iter().map(|r| r.0).collect();
        files.dedup();
        for f in &files {
            assert_eq!(source_of(f), *source);
            import_ok(&t, source, &sample_path(f), &["--with-context"]);
        }
        let by_digest = records_by_digest(&t);
        let mut names = std::collections::BTreeSet::new();
        for &(file, line, idx, event, action, target, kind, status) in rows.iter() {
            let bytes = &sample_lines(file)[line as usize - 1];
            let entries = by_digest
                .get(&digest(bytes.as_bytes()))
                .unwrap_or_else(|| panic!("{file}:{line} ({event}) has no record in the ledger"));
            let e = entries.get(idx).unwrap_or_else(|| panic!("{file}:{line} has only {} records", entries.len()));
            let r = &e["record"];
            let at = format!("{file}:{line}#{idx} (entry {}): {r}", e["seq"]);
            assert_eq!(r["attributes"]["source_event"], event, "{at}");
            assert_eq!(r["action"], action, "{at}");
            assert_eq!(e["action"], action, "{at}");
            assert_eq!(r["target"]["id"], target, "{at}");
            assert_eq!(r["target"]["kind"], kind, "{at}");
            assert_eq!(r["outcome"]["status"], status, "{at}");
            assert_eq!(r["incident"], INCIDENT, "{at}");
            assert_eq!(r["evidence"][0]["system"], *source, "{at}");
            names.insert(event);
        }
        assert!(names.len() >= 10, "{source}: only {} distinct event names in the table", names.len());
    }
}

/// Every record is in the order of its event in the file: the import keeps the input's order.
#[test]
fn imported_entries_follow_the_input_order() {
    let t = TestLedger::new();
    import_ok(&t, "github", &sample_path(GH), &["--with-context"]);
    let lines: HashMap<String, usize> =
        sample_lines(GH).iter().enumerate().map(|(i, l)| (digest(l.as_bytes()), i + 1)).collect();
    let order: Vec<usize> =
        t.log(&[]).iter().filter_map(|e| e["record"]["evidence"][0]["digest"].as_str().map(|d| lines[d])).collect();
    assert_eq!(order.len(), 25);
    assert!(order.windows(2).all(|w| w[0] < w[1]), "entries out of input order: {order:?}");
}

// ---------------------------------------------------------------------------------------------
// Failed source events.

/// Whether a sample event says it failed, in its own system's words.
fn source_says_failed(source: &str, v: &Value) -> bool {
    let s = |p: &str| v.pointer(p).and_then(Value::as_str);
    match source {
        "cloudtrail" => {
            v.get("errorCode").is_some()
                || s("/responseElements/ConsoleLogin") == Some("Failure")
                || s("/responseElements/PasswordUpdated") == Some("Failure")
        }
        // Top-level keys may be lower-cased (the data-lake export form). `user.account.lock` is
        // logged when the lock happens, with the outcome of the sign-in that caused it: a
        // successful disable, as IMPORTERS.md says.
        "okta" => {
            let get = |k: &str| v.as_object().and_then(|o| o.iter().find(|(key, _)| key.eq_ignore_ascii_case(k)));
            let event = get("eventType").and_then(|(_, e)| e.as_str());
            let result = get("outcome").and_then(|(_, o)| o["result"].as_str());
            matches!(result, Some("FAILURE" | "DENY")) && event != Some("user.account.lock")
        }
        "entra" => {
            matches!(s("/properties/result"), Some("failure" | "failed"))
                || matches!(s("/resultType"), Some(r) if r != "0" && v.get("category").is_some_and(|c| c.as_str().is_some_and(|c| c.contains("SignIn"))))
                || v.pointer("/properties/status/errorCode").and_then(Value::as_i64).is_some_and(|c| c != 0)
                || matches!(s("/ResultStatus"), Some("Failed" | "Failure"))
                // Office 365 logs a failed sign-in as `UserLoginFailed` with `ResultStatus: Success`.
                || s("/Operation") == Some("UserLoginFailed")
        }
        "gcp" => {
            v.pointer("/protoPayload/status/code").and_then(Value::as_i64).is_some_and(|c| c != 0)
                || v.pointer("/protoPayload/authorizationInfo")
                    .and_then(Value::as_array)
                    .is_some_and(|a| a.iter().any(|i| i["granted"] == false))
        }
        "gworkspace" => {
            let failure = |e: &Value| e["name"] == "login_failure";
            failure(v) || v["events"].as_array().is_some_and(|es| es.iter().any(failure))
        }
        _ => false,
    }
}

#[test]
fn failed_source_events_become_failed_outcomes() {
    // The least number of failed events each source's samples hold (so the test cannot pass empty).
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for f in SAMPLE_FILES {
        let t = TestLedger::new();
        import_ok(&t, f.source, &sample_path(f.file), &["--with-context"]);
        let by_digest = records_by_digest(&t);
        for (i, line) in sample_lines(f.file).iter().enumerate() {
            let v: Value = serde_json::from_str(line).expect("sample lines are JSON");
            let Some(entries) = by_digest.get(&digest(line.as_bytes())) else { continue };
            let failed = source_says_failed(f.source, &v);
            if failed {
                *seen.entry(f.source).or_default() += 1;
            }
            for e in entries {
                let status = &e["record"]["outcome"]["status"];
                if failed {
                    assert_eq!(status, "failure", "{}:{}: {}", f.file, i + 1, e["record"]);
                    // The lockout keeps its code although `resultType` says only `Failure`.
                    if f.file == ENTRA && i + 1 == 21 {
                        let detail = e["record"]["outcome"]["detail"].as_str().unwrap_or_default();
                        assert!(detail.starts_with("error 50053: The account is locked"), "{detail}");
                    }
                } else {
                    assert_ne!(status, "failure", "{}:{} did not fail at the source: {}", f.file, i + 1, e["record"]);
                }
            }
        }
    }
    // CloudTrail: errorCode on 7 imported events (GetRole's AccessDenied is skipped) plus 3
    // ConsoleLogin or PasswordUpdated Failures; Okta: 4 FAILURE and 1 DENY; Entra: 1 failed
    // invitation, 3 failed sign-ins, 1 UserLoginFailed; GCP: 1 status code, 1 denied SignJwt;
    // Workspace: 1 login_failure.
    let want: BTreeMap<&str, usize> =
        [("cloudtrail", 10), ("okta", 5), ("entra", 5), ("gcp", 2), ("gworkspace", 1)].into_iter().collect();
    assert_eq!(seen, want, "failed events found per source");
}

// ---------------------------------------------------------------------------------------------
// Input forms.

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).expect("gzip");
    enc.finish().expect("gzip")
}

/// The evidence digests of a ledger's records, in seq order.
fn digests_in(t: &TestLedger) -> Vec<String> {
    t.log(&[]).iter().filter_map(|e| e["record"]["evidence"][0]["digest"].as_str().map(str::to_owned)).collect()
}

#[test]
fn gzip_array_and_records_forms_import_the_same_events() {
    let lines = sample_lines(CT);
    let dir = tempfile::tempdir().expect("tempdir");
    let plain = TestLedger::new();
    import_ok(&plain, "cloudtrail", &sample_path(CT), &["--with-context"]);
    let want = digests_in(&plain);
    assert_eq!(want.len(), 38);

    let text = std::fs::read(sample_path(CT)).expect("sample");
    let array = format!("[\n{}\n]\n", lines.join(",\n"));
    let records = format!("{{\"Records\": [{}]}}", lines.join(", "));
    let forms: Vec<(&str, Vec<u8>)> = vec![
        ("events.jsonl.gz", gzip(&text)),
        ("events.json", array.clone().into_bytes()),
        ("records.json", records.clone().into_bytes()),
        ("records.json.gz", gzip(records.as_bytes())),
    ];
    for (name, bytes) in forms {
        let path = dir.path().join(name);
        std::fs::write(&path, &bytes).expect("write input");
        let t = TestLedger::new();
        let s = import_ok(&t, "cloudtrail", &path, &["--with-context"]);
        assert_eq!((u(&s["events"]), u(&s["appended"])), (44, 38), "{name}: {s}");
        // The digest is over the event's own bytes, so every form gives the same evidence...
        assert_eq!(digests_in(&t), want, "{name}");
        // ...and importing one form after another appends nothing.
        let head = plain.head();
        let again = import_ok(&plain, "cloudtrail", &path, &["--with-context"]);
        assert_eq!(u(&again["appended"]), 0, "{name} after the JSON Lines import: {again}");
        assert_eq!(plain.head(), head, "{name}");
    }

    // Standard input, gzip-compressed.
    let t = TestLedger::new();
    let mut c = t.cmd(&["import", "--from", "cloudtrail", "-", "--incident", INCIDENT, "--json"]);
    c.arg("--key").arg(&t.key_path).write_stdin(gzip(&text));
    let r = run(c);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s: Value = serde_json::from_str(r.stdout.trim()).expect("summary");
    assert_eq!((u(&s["appended"]), s["file"].as_str()), (26, Some("-")), "{s}");
}

// ---------------------------------------------------------------------------------------------
// Refusals: exit 2, a message that says where, and nothing appended.

#[test]
fn a_file_of_another_source_is_refused_and_nothing_is_appended() {
    let t = TestLedger::with_records(2);
    let head = t.head();
    for (source, file) in [("okta", CT), ("cloudtrail", GH), ("gcp", OKTA), ("github", GWS)] {
        let r = import(&t, source, &sample_path(file), &[]);
        assert_eq!(r.code, 2, "--from {source} {file}: {r:?}");
        assert!(r.stderr.contains(file) && r.stderr.contains("line 1"), "{source} {file}: {}", r.stderr);
        assert!(r.stderr.contains(&format!("not a {source} event")), "{source} {file}: {}", r.stderr);
        assert_eq!(t.head(), head, "--from {source} {file} appended");
    }
    // The message names the source the file looks like.
    let r = import(&t, "okta", &sample_path(CT), &[]);
    assert!(r.stderr.contains("looks like cloudtrail"), "{}", r.stderr);
    // An unknown source is a usage error.
    let r = import(&t, "splunk", &sample_path(CT), &[]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("unknown source `splunk`"), "{}", r.stderr);
    assert_eq!(t.head(), head);
}

/// The CloudTrail sample with line `n` replaced by broken JSON.
fn broken_sample(dir: &Path, n: usize) -> PathBuf {
    let mut lines = sample_lines(CT);
    lines[n - 1] = r#"{"eventVersion": "1.08", "eventName": "AttachUserPolicy", "#.to_string();
    let path = dir.join("broken-cloudtrail.jsonl");
    std::fs::write(&path, lines.join("\n") + "\n").expect("write");
    path
}

#[test]
fn a_malformed_line_refuses_the_whole_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Line 30 comes after 26 good change events: none of them may be appended.
    let path = broken_sample(dir.path(), 30);
    let t = TestLedger::new();
    let head = t.head();
    let r = import(&t, "cloudtrail", &path, &["--with-context"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("broken-cloudtrail.jsonl") && r.stderr.contains("line 30"), "{}", r.stderr);
    assert!(r.stderr.contains("not valid json"), "{}", r.stderr);
    assert_eq!(t.head(), head, "a refused import appended");
}

#[test]
fn skip_invalid_imports_the_rest_and_reports_the_bad_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Line 12 is AttachUserPolicy (a change event): 25 change records remain.
    let path = broken_sample(dir.path(), 12);
    let t = TestLedger::new();
    let s = import_ok(&t, "cloudtrail", &path, &["--skip-invalid"]);
    assert_eq!((u(&s["invalid"]), u(&s["appended"]), u(&s["events"])), (1, 25, 43), "{s}");
    let bad = s["invalid_events"].as_array().expect("invalid_events");
    assert_eq!(bad.len(), 1, "{s}");
    assert!(bad[0].as_str().is_some_and(|b| b.contains("line 12")), "{s}");
    assert_eq!(size(&t.head()), 26);
    // Without --json the bad line is reported on stderr.
    let t = TestLedger::new();
    let r = import(&t, "cloudtrail", &path, &["--skip-invalid"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("invalid: line 12"), "{}", r.stderr);
    assert!(r.stdout.contains("invalid 1") && r.stdout.contains("appended 25"), "{}", r.stdout);
}

#[test]
fn dry_run_prints_the_records_and_appends_nothing() {
    let t = TestLedger::with_records(1);
    let head = t.head();
    // No key needed.
    let mut c = t.cmd(&["import", "--from", "gcp", "--incident", INCIDENT, "--dry-run"]);
    c.arg(sample_path(GCP));
    let r = run(c);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let recs: Vec<custody::record::Record> = r
        .stdout
        .lines()
        .map(|l| custody::record::Record::from_json(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(recs.len(), 17, "{}", r.stdout);
    assert!(recs.iter().all(|rec| rec.incident == INCIDENT));
    assert!(r.stderr.contains("dry run: nothing appended"), "{}", r.stderr);
    assert_eq!(t.head(), head);
    // With a key and --with-context, still nothing.
    let r = import(&t, "gcp", &sample_path(GCP), &["--dry-run", "--with-context"]);
    assert_eq!((r.code, r.stdout.lines().count()), (0, 20), "{}", r.stderr);
    assert_eq!(t.head(), head);
}

#[test]
fn explain_lists_every_skipped_event_with_its_reason() {
    let t = TestLedger::new();
    let s = import_ok(&t, "cloudtrail", &sample_path(CT), &["--explain"]);
    let skipped: Vec<&str> = s["skipped_events"].as_array().expect("list").iter().filter_map(Value::as_str).collect();
    assert_eq!(skipped.len(), 18, "{s}");
    // The six unrelated events, each with its line and why.
    for (line, event) in
        [(39, "ListAccessKeys"), (40, "GetCallerIdentity"), (41, "GetRole"), (42, "StopLogging"), (44, "GetObject")]
    {
        let want = format!("line {line}: cloudtrail event {event} is not an access change");
        assert!(skipped.iter().any(|s| s.starts_with(&want)), "no `{want}` in {skipped:#?}");
    }
    // Context events say how to import them.
    assert!(skipped.iter().any(|s| s.starts_with("line 28:") && s.contains("is context")), "{skipped:#?}");
    // In the human form, on stderr.
    let t = TestLedger::new();
    let r = import(&t, "github", &sample_path(GH), &["--explain"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stderr.lines().filter(|l| l.starts_with("skipped: line ")).count(), 5, "{}", r.stderr);
    assert!(r.stderr.contains("skipped: line 29: github event workflows.created_workflow_run"), "{}", r.stderr);
}

#[test]
fn a_batch_approval_is_written_into_every_record() {
    let t = TestLedger::new();
    import_ok(
        &t,
        "okta",
        &sample_path(OKTA_R7),
        &["--approval-by", "ciso@corp.example", "--approval-source", "servicenow", "--approval-ref", "CHG0042"],
    );
    let log = t.log(&[]);
    let recs: Vec<&Value> = log.iter().filter_map(|e| e.get("record")).collect();
    assert_eq!(recs.len(), 3);
    for r in recs {
        assert_eq!(r["approval"], json!({"by": "ciso@corp.example", "source": "servicenow", "ref": "CHG0042"}), "{r}");
    }
}

// ---------------------------------------------------------------------------------------------
// Credentials in raw events never reach the ledger.

/// Credential-shaped values planted in fields the CloudTrail mapper does not read.
const SECRETS: &[&str] = &[
    "hunter2-Sup3rSecret!",
    "FwoGZXIvYXdzEJr//////////wEaDExampleSessionTokenValue1234567890",
    "-----BEGIN RSA PRIVATE KEY-----MIIEow...",
    "ghp_R7dKq2Zp9XbW4mLc8NvT1yHs6JfA3eGu0iQo",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY",
];

/// Parts of the secrets that must not appear either (a truncated or re-encoded copy would hold them).
const SECRET_PARTS: &[&str] =
    &["hunter2", "ExampleSessionTokenValue", "BEGIN RSA PRIVATE KEY", "MIIEow", "R7dKq2Zp9XbW4mLc8NvT1yHs6JfA3eGu0iQo"];

/// Sample events with the secrets planted: a CreateAccessKey (a change), and an AssumeRole (context).
fn planted_events() -> Vec<String> {
    let lines = sample_lines(CT);
    let mut create: Value = serde_json::from_str(&lines[0]).expect("line 1");
    assert_eq!(create["eventName"], "CreateAccessKey");
    create["eventID"] = json!("planted-create-1");
    create["requestParameters"] = json!({
        "userName": "jackson",
        "password": SECRETS[0],
        "sessionToken": SECRETS[1],
        "privateKey": SECRETS[2],
    });
    create["responseElements"]["accessKey"]["secretAccessKey"] = json!(SECRETS[4]);
    create["additionalEventData"] = json!({"githubToken": SECRETS[3]});
    create["userAgent"] = json!(format!("curl/8.0 (token {})", SECRETS[3]));
    let mut assume: Value = serde_json::from_str(&lines[31]).expect("line 32");
    assert_eq!(assume["eventName"], "AssumeRole");
    assume["eventID"] = json!("planted-assume-1");
    assume["responseElements"] = json!({"credentials": {
        "accessKeyId": "ASIAIOSFODNN7EXAMPLE", "secretAccessKey": SECRETS[4], "sessionToken": SECRETS[1]}});
    assume["requestParameters"]["policy"] = json!(format!("{{\"password\": \"{}\"}}", SECRETS[0]));
    vec![create.to_string(), assume.to_string()]
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let p = e.expect("dir entry").path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn assert_no_secret(what: &str, bytes: &[u8]) {
    for s in SECRETS.iter().chain(SECRET_PARTS) {
        let found = bytes.windows(s.len()).any(|w| w == s.as_bytes());
        assert!(!found, "`{s}` reached {what}");
        let hex = hex::encode(s.as_bytes());
        assert!(!bytes.windows(hex.len()).any(|w| w == hex.as_bytes()), "hex of `{s}` reached {what}");
    }
}

#[test]
fn credentials_in_raw_events_never_reach_the_ledger_files() {
    let t = TestLedger::new();
    let input = t.tmp.path().join("planted.jsonl");
    let events = planted_events();
    std::fs::write(&input, events.join("\n") + "\n").expect("write input");
    // The raw events do hold the secrets (the test would prove nothing otherwise).
    let raw = std::fs::read(&input).expect("read input");
    for s in SECRETS {
        assert!(raw.windows(s.len()).any(|w| w == s.as_bytes()), "the planted input lacks `{s}`");
    }
    // The import's spool goes to TMPDIR: point it into the test's directory to check it too.
    let spool_dir = t.tmp.path().join("tmp");
    std::fs::create_dir(&spool_dir).expect("tmp dir");

    let mut c = t.cmd(&["import", "--from", "cloudtrail", "--incident", INCIDENT, "--with-context", "--json"]);
    c.arg("--key").arg(&t.key_path).arg(&input).env("TMPDIR", &spool_dir);
    let r = run(c);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s: Value = serde_json::from_str(r.stdout.trim()).expect("summary");
    assert_eq!((u(&s["appended"]), u(&s["context"])), (2, 1), "{s}");
    assert_no_secret("the import's output", format!("{}{}", r.stdout, r.stderr).as_bytes());

    // The records are there, with the event's mapped fields and digest only.
    let log = t.log(&[]);
    assert_eq!(log.len(), 3);
    assert_eq!(log[1]["record"]["target"]["id"], "jackson");
    assert_eq!(log[1]["record"]["evidence"][0]["digest"], digest(events[0].as_bytes()));
    assert_eq!(log[2]["record"]["action"], "observe");
    let shown = log.iter().map(Value::to_string).collect::<String>();
    assert_no_secret("custody log --json", shown.as_bytes());

    // Every byte of every file of the ledger: log/, index/, checkpoints/, quarantine/, ...
    let r = run(t.cmd(&["checkpoint", "--key", t.key_path.to_str().expect("utf-8 path")]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let files = files_under(&t.dir);
    let dirs: Vec<String> = files
        .iter()
        .filter_map(|f| f.strip_prefix(&t.dir).ok()?.components().next())
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    for d in ["log", "index", "checkpoints"] {
        assert!(dirs.iter().any(|x| x == d), "no files under {d}/: {files:?}");
    }
    for f in &files {
        let bytes = std::fs::read(f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        assert_no_secret(&f.display().to_string(), &bytes);
    }
    // The spool is gone (and held only mapped records while it existed).
    let left: Vec<PathBuf> = files_under(&spool_dir);
    assert!(left.is_empty(), "the import left files in TMPDIR: {left:?}");

    // A dry run prints records; they must not carry the secrets either.
    let mut c = t.cmd(&["import", "--from", "cloudtrail", "--incident", INCIDENT, "--with-context", "--dry-run"]);
    c.arg(&input);
    let r = run(c);
    assert_eq!((r.code, r.stdout.lines().count()), (0, 2), "{}", r.stderr);
    assert_no_secret("the dry run's records", r.stdout.as_bytes());
}

// ---------------------------------------------------------------------------------------------
// A leaked-key incident from imported and hand-written entries.

/// Writes the given (1-based) lines of a sample file to `dir/name`.
fn excerpt(dir: &Path, file: &str, lines: &[usize], name: &str) -> PathBuf {
    let all = sample_lines(file);
    let text: String = lines.iter().map(|n| format!("{}\n", all[n - 1])).collect();
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write excerpt");
    path
}

/// `custody append` of one hand-written record given as flags; returns its seq.
fn append_flags(t: &TestLedger, flags: &[(&str, &str)]) -> u64 {
    let mut c = t.cmd(&["append", "--incident", INCIDENT]);
    c.arg("--key").arg(&t.key_path);
    for (flag, value) in flags {
        c.args([flag, value]);
    }
    receipt_seq(run(c))
}

/// `custody append --json -` of one hand-written record; returns its seq.
fn append_json(t: &TestLedger, record: Value) -> u64 {
    let mut c = t.cmd(&["append", "--json", "-"]);
    c.arg("--key").arg(&t.key_path).write_stdin(record.to_string());
    receipt_seq(run(c))
}

fn receipt_seq(r: Run) -> u64 {
    assert_eq!(r.code, 0, "append failed: {}", r.stderr);
    let receipt: Value = serde_json::from_str(r.stdout.lines().next().expect("a receipt")).expect("receipt JSON");
    u(&receipt["seq"])
}

/// A hand-written record of the incident, approved under the incident's change ticket.
fn responder_step(action: &str, target: &str, scope: Option<&str>, reason: &str, at: &str, refs: &[u64]) -> Value {
    let mut r = json!({
        "incident": INCIDENT, "action": action,
        "actor": {"id": "bob@corp.example", "kind": "human"},
        "target": {"id": target, "kind": "human", "system": "aws-iam"},
        "approval": {"by": "ciso@corp.example", "source": "servicenow", "ref": "CHG0031337"},
        "reason": reason, "outcome": {"status": "success"}, "occurred_at": at, "refs": refs,
    });
    if let Some(s) = scope {
        r["scope"] = json!(s);
    }
    r
}

#[test]
fn leaked_key_incident_from_imported_and_hand_written_entries() {
    let t = TestLedger::new();
    // Unrelated work in the ledger before and during the incident (other incidents).
    t.append_batch(0..2);

    let open = append_flags(
        &t,
        &[
            ("--action", "incident_open"),
            ("--actor", "alice@corp.example"),
            ("--target", "jackson"),
            ("--target-kind", "human"),
            ("--system", "aws-iam"),
            ("--no-approval", "detection: open the incident"),
            ("--reason", "GitHub secret scanning: AWS access key of jackson pushed to a public repository"),
            ("--occurred-at", "2022-09-27T17:30:00Z"),
            ("--evidence", "github:secret-scanning-alert-4711"),
        ],
    );
    assert_eq!(open, 3);

    // The attacker's trail in CloudTrail: a new access key, admin and quarantine policies, a deny-all
    // inline policy, and a failed console sign-in (context).
    let dir = tempfile::tempdir().expect("tempdir");
    let ct = excerpt(dir.path(), CT, &[1, 12, 13, 16, 28], "cloudtrail-leak.jsonl");
    let s = import_ok(&t, "cloudtrail", &ct, &["--with-context"]);
    assert_eq!((u(&s["appended"]), u(&s["context"]), u(&s["first_seq"])), (5, 1, 4), "{s}");
    let access_key_seq = 4;
    let admin_seq = 5;

    t.append_each(2..3); // another incident's record lands in between

    // GitHub: the SSH key the attacker added is deleted, a member removed.
    let gh = excerpt(dir.path(), GH, &[15, 16, 2], "github-leak.jsonl");
    let s = import_ok(&t, "github", &gh, &[]);
    assert_eq!((u(&s["appended"]), u(&s["first_seq"])), (3, 10), "{s}");

    // The responders' own steps.
    let rotate = append_json(
        &t,
        responder_step(
            "rotate",
            "jackson",
            Some("access key ABCDEFG"),
            "rotate the leaked access key",
            "2022-09-27T18:00:00Z",
            &[access_key_seq],
        ),
    );
    let revoke = append_json(
        &t,
        responder_step(
            "revoke",
            "new-user",
            Some("arn:aws:iam::aws:policy/AdministratorAccess"),
            "remove the admin policy the attacker attached",
            "2022-09-27T18:05:00Z",
            &[admin_seq],
        ),
    );
    let close = append_json(
        &t,
        responder_step("incident_close", "jackson", None, "contained and rotated", "2022-09-28T09:00:00Z", &[]),
    );
    assert_eq!((rotate, revoke, close), (13, 14, 15));

    let (code, report) = t.verify(&[]);
    assert_intact(code, &report);

    let timeline = t.log(&["--incident", INCIDENT]);
    let seqs: Vec<u64> = timeline.iter().map(|e| u(&e["seq"])).collect();
    assert_eq!(seqs, [3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 15], "the incident's entries, in seq order");
    let actions: Vec<&str> = timeline.iter().map(|e| e["action"].as_str().expect("action")).collect();
    assert_eq!(
        actions,
        [
            "incident_open",
            "create",
            "grant",
            "grant",
            "policy_change",
            "observe",
            "create",
            "delete",
            "revoke",
            "rotate",
            "revoke",
            "incident_close"
        ]
    );
    let systems: Vec<&str> =
        timeline.iter().map(|e| e["record"]["evidence"][0]["system"].as_str().unwrap_or("-")).collect();
    assert_eq!(
        systems,
        [
            "github",
            "cloudtrail",
            "cloudtrail",
            "cloudtrail",
            "cloudtrail",
            "cloudtrail",
            "github",
            "github",
            "github",
            "-",
            "-",
            "-"
        ]
    );
    // Imported entries say where they came from; hand-written ones carry the responders' approval.
    for e in &timeline[1..9] {
        assert!(e["record"]["reason"].as_str().is_some_and(|r| r.starts_with("imported from ")), "{e}");
    }
    for e in &timeline[9..] {
        assert_eq!(e["record"]["approval"]["ref"], "CHG0031337", "{e}");
    }
    assert_eq!(timeline[9]["record"]["refs"], json!([access_key_seq]));
    assert_eq!(timeline[10]["record"]["refs"], json!([admin_seq]));
    // The incident chain: each entry links to the previous entry of the incident, across imports
    // and hand-written appends (and past the other incident's entries at 9).
    assert!(timeline[0].get("incident_prev").is_none(), "{}", timeline[0]);
    for w in timeline.windows(2) {
        assert_eq!(
            w[1]["incident_prev"],
            json!({"seq": w[0]["seq"], "entry_hash": w[0]["entry_hash"]}),
            "entry {} does not link to entry {}",
            w[1]["seq"],
            w[0]["seq"]
        );
    }
    // The human timeline shows the same entries.
    let r = run(t.cmd(&["log", "--incident", INCIDENT]));
    assert_eq!((r.code, r.stdout.lines().count()), (0, 12), "{}", r.stdout);
    // `custody export` (JSON Lines, CSV, ...) is built on another branch; once merged, export this
    // incident here and compare it with the timeline above.
}

// ---------------------------------------------------------------------------------------------
// Idempotence when one event gives several records.

/// A Workspace activity with an access change and a sign-in: without context it gives one record,
/// with context two. Importing it with context after importing it without must add the sign-in.
#[test]
fn context_records_of_a_mixed_event_are_added_by_a_later_import_with_context() {
    let t = TestLedger::new();
    let activity = json!({
        "kind": "admin#reports#activity",
        "id": {"time": "2026-03-02T10:00:00Z", "uniqueQualifier": "mixed-1", "applicationName": "login"},
        "actor": {"email": "homer.simpson@example.com"},
        "events": [
            {"type": "account_warning", "name": "account_disabled_password_leak",
             "parameters": [{"name": "affected_email_address", "value": "homer.simpson@example.com"}]},
            {"type": "login", "name": "login_success",
             "parameters": [{"name": "login_type", "value": "google_password"}]}
        ]
    });
    let path = t.tmp.path().join("mixed.jsonl");
    std::fs::write(&path, format!("{activity}\n")).expect("write");
    let s = import_ok(&t, "gworkspace", &path, &[]);
    assert_eq!(u(&s["appended"]), 1, "{s}");
    let s = import_ok(&t, "gworkspace", &path, &["--with-context"]);
    assert_eq!((u(&s["appended"]), u(&s["already_present"])), (1, 1), "{s}");
    let actions: Vec<Value> = t.log(&[]).iter().skip(1).map(|e| e["action"].clone()).collect();
    assert_eq!(actions, [json!("disable"), json!("observe")]);
    // And a third import finds both.
    let s = import_ok(&t, "gworkspace", &path, &["--with-context"]);
    assert_eq!((u(&s["appended"]), u(&s["already_present"])), (0, 2), "{s}");
}

/// An import stopped between two append batches (a crash, a full disk) can be run again: records
/// of an event whose other records made it into the ledger are appended, not taken as present.
#[test]
fn an_interrupted_import_resumes_records_of_a_split_event() {
    use custody::import::{map_event, Outcome, RawEvent, Source};
    let t = TestLedger::new();
    // gcp-audit-iam.jsonl line 19: one SetIAMPolicy event with two binding deltas.
    let line = &sample_lines(GCP)[18];
    let opts = custody::import::ImportOptions::new(INCIDENT);
    let Ok(Outcome::Records(recs)) = map_event(Source::Gcp, &RawEvent::from_line(19, line.as_bytes()), &opts) else {
        panic!("line 19 maps to records")
    };
    assert_eq!(recs.len(), 2);
    // The first batch ended after the event's first record.
    let first = recs[0].record.clone();
    t.open().append_batch(&t.key(), vec![first], None).expect("append");
    let path = t.tmp.path().join("line19.jsonl");
    std::fs::write(&path, format!("{line}\n")).expect("write");
    let s = import_ok(&t, "gcp", &path, &[]);
    assert_eq!((u(&s["appended"]), u(&s["already_present"])), (1, 1), "{s}");
    let scopes: Vec<Value> = t.log(&[]).iter().skip(1).map(|e| e["record"]["scope"].clone()).collect();
    assert_eq!(scopes, [json!("roles/iam.serviceAccountTokenCreator"), json!("roles/iam.serviceAccountUser")]);
}
