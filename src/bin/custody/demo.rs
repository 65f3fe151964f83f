//! `custody demo`: a realistic incident, end to end, on the embedded default store.
//!
//! A CI service account's AWS access key leaks in a public repository. The responders open an
//! incident, disable the key, give themselves a time-boxed break-glass grant, revoke the sessions,
//! rotate the key, end the break-glass grant, recertify the account, remove the exception that
//! allowed a long-lived key, and close the incident. The demo appends that, verifies the ledger and
//! prints the incident timeline.

use std::path::PathBuf;

use anyhow::Context;
use serde_json::json;

use custody::ledger::{Filter, Ledger};
use custody::record::Record;
use custody::sign::SecretKey;
use custody::verify::{verify_ledger, VerifyOptions};

use crate::output::{entry_line, line};
use crate::Outcome;

pub const INCIDENT: &str = "INC-2026-0042";

/// The demo incident's records. `first` is the seq the first record will get (refs point at
/// earlier records of the incident).
pub fn incident_records(first: u64) -> Vec<Record> {
    let s = |i: u64| first + i;
    let none = json!({"none": "containment before approval; reviewed in the post-incident review"});
    let cab = |r: &str, at: &str| json!({"by": "ciso@corp.example", "source": "servicenow", "ref": r, "at": at});
    let recs = vec![
        json!({"incident": INCIDENT, "action": "incident_open",
          "actor": {"id": "alice@corp.example", "kind": "human"},
          "target": {"id": "arn:aws:iam::123456789012:user/ci-deploy", "kind": "service_account", "system": "aws-iam"},
          "approval": none, "reason": "GitHub secret scanning: AWS access key of ci-deploy pushed to a public repository",
          "outcome": {"status": "success"}, "occurred_at": "2026-03-02T09:58:00Z", "owner": "platform-team@corp.example",
          "evidence": [{"system": "github", "id": "secret-scanning-alert-4711"}],
          "attributes": {"severity": "high", "playbook": "leaked-key-v3"}}),
        json!({"incident": INCIDENT, "action": "disable",
          "actor": {"id": "soar-playbook-leaked-key", "kind": "service"},
          "target": {"id": "AKIAIOSFODNN7EXAMPLE", "kind": "api_key", "system": "aws-iam"},
          "scope": "arn:aws:iam::123456789012:user/ci-deploy", "approval": none,
          "reason": "contain: deactivate the leaked access key", "outcome": {"status": "success", "detail": "UpdateAccessKey Status=Inactive"},
          "occurred_at": "2026-03-02T10:01:12Z", "owner": "platform-team@corp.example",
          "evidence": [{"system": "cloudtrail", "id": "6f1a8c52-3e0b-4a4b-9f0e-1d2c3b4a5e6f"}]}),
        json!({"incident": INCIDENT, "action": "emergency_grant",
          "actor": {"id": "alice@corp.example", "kind": "human"},
          "target": {"id": "bob@corp.example", "kind": "human", "system": "aws-iam"},
          "scope": "arn:aws:iam::aws:policy/AdministratorAccess", "approval": cab("CHG0031337", "2026-03-02T10:04:00Z"),
          "reason": "break-glass: responder needs admin to rotate keys and review CloudTrail", "outcome": {"status": "success", "detail": "granted"},
          "occurred_at": "2026-03-02T10:05:00Z", "expires_at": "2026-03-02T14:05:00Z", "owner": "secops@corp.example",
          "evidence": [{"system": "cloudtrail", "id": "3038ebd2-c98a-4c65-9b6e-e22506292313"}]}),
        json!({"incident": INCIDENT, "action": "session_revoke",
          "actor": {"id": "bob@corp.example", "kind": "human"},
          "target": {"id": "arn:aws:iam::123456789012:role/ci-deploy-role", "kind": "role", "system": "aws-iam"},
          "scope": "sts:AssumeRole sessions issued before 2026-03-02T10:10:00Z", "approval": cab("CHG0031337", "2026-03-02T10:04:00Z"),
          "reason": "invalidate sessions the leaked key may have opened", "outcome": {"status": "success", "detail": "AWSRevokeOlderSessions attached"},
          "occurred_at": "2026-03-02T10:10:30Z", "refs": [s(1)]}),
        json!({"incident": INCIDENT, "action": "rotate",
          "actor": {"id": "bob@corp.example", "kind": "human"},
          "target": {"id": "arn:aws:iam::123456789012:user/ci-deploy", "kind": "service_account", "system": "aws-iam"},
          "scope": "access key AKIAIOSFODNN7EXAMPLE -> AKIAI44QH8DHBEXAMPLE", "approval": cab("CHG0031337", "2026-03-02T10:04:00Z"),
          "reason": "issue a new key for CI and store it in the vault, never in the repository",
          "outcome": {"status": "success", "detail": "new key stored at vault:secret/ci/aws-deploy (version 7)"},
          "occurred_at": "2026-03-02T10:31:00Z", "owner": "platform-team@corp.example", "refs": [s(1)],
          "evidence": [{"system": "cloudtrail", "id": "b2c8e4f0-7d1a-4c3e-8a9b-0f1e2d3c4b5a"},
                       {"system": "vault", "digest": "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}]}),
        json!({"incident": INCIDENT, "action": "delete",
          "actor": {"id": "bob@corp.example", "kind": "human"},
          "target": {"id": "AKIAIOSFODNN7EXAMPLE", "kind": "api_key", "system": "aws-iam"},
          "approval": cab("CHG0031337", "2026-03-02T10:04:00Z"),
          "reason": "remove the leaked key after the new one is in use", "outcome": {"status": "success"},
          "occurred_at": "2026-03-02T11:02:00Z", "refs": [s(1)]}),
        json!({"incident": INCIDENT, "action": "revoke",
          "actor": {"id": "alice@corp.example", "kind": "human"},
          "target": {"id": "bob@corp.example", "kind": "human", "system": "aws-iam"},
          "scope": "arn:aws:iam::aws:policy/AdministratorAccess", "approval": cab("CHG0031337", "2026-03-02T10:04:00Z"),
          "reason": "end the break-glass grant: rotation complete", "outcome": {"status": "success", "detail": "DetachUserPolicy"},
          "occurred_at": "2026-03-02T11:20:00Z", "refs": [s(2)]}),
        json!({"incident": INCIDENT, "action": "recertify",
          "actor": {"id": "dana@corp.example", "kind": "human"},
          "target": {"id": "arn:aws:iam::123456789012:user/ci-deploy", "kind": "service_account", "system": "aws-iam"},
          "scope": "ci-deploy-policy (least privilege, reviewed)", "approval": json!({"by": "dana@corp.example", "source": "sailpoint", "ref": "CERT-2026-0311"}),
          "reason": "owner recertified the account's access after the incident", "outcome": {"status": "success"},
          "occurred_at": "2026-03-03T15:00:00Z", "owner": "platform-team@corp.example"}),
        json!({"incident": INCIDENT, "action": "exception_remove",
          "actor": {"id": "dana@corp.example", "kind": "human"},
          "target": {"id": "arn:aws:iam::123456789012:user/ci-deploy", "kind": "service_account", "system": "aws-iam"},
          "scope": "EXC-118: long-lived access key allowed for CI", "approval": json!({"by": "ciso@corp.example", "source": "servicenow", "ref": "CHG0031402"}),
          "reason": "CI moves to OIDC federation; the long-lived key exception is withdrawn", "outcome": {"status": "success"},
          "occurred_at": "2026-03-03T15:10:00Z"}),
        json!({"incident": INCIDENT, "action": "incident_close",
          "actor": {"id": "alice@corp.example", "kind": "human"},
          "target": {"id": "arn:aws:iam::123456789012:user/ci-deploy", "kind": "service_account", "system": "aws-iam"},
          "approval": json!({"by": "ciso@corp.example", "source": "servicenow", "ref": "INC-2026-0042-closure"}),
          "reason": "contained, rotated, break-glass ended, recertified", "outcome": {"status": "success"},
          "occurred_at": "2026-03-03T16:00:00Z"}),
    ];
    recs.into_iter().map(|v| Record::from_value(v).expect("demo records follow the contract")).collect()
}

pub fn run(dir: Option<PathBuf>) -> anyhow::Result<Outcome> {
    let dir = match dir {
        Some(d) => d,
        None => std::env::temp_dir().join(format!("custody-demo-{}", custody::time::Timestamp::now().nanos())),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let key_path = dir.join("responder.key");
    let ledger_dir = dir.join("ledger");
    let key = SecretKey::generate();
    key.save_new(&key_path)?;
    let (ledger, _) = Ledger::init(&ledger_dir, &key, "acme-identity-incidents")?;
    let receipts = ledger.append_batch(&key, incident_records(1), None)?;
    line(&format!("demo ledger: {}", ledger_dir.display()))?;
    line(&format!("signing key: {} (key id {})", key_path.display(), hex::encode(key.public().key_id())))?;
    line(&format!("appended {} entries for incident {INCIDENT} in one durable batch", receipts.len()))?;
    let head = ledger.head();
    drop(ledger);

    let report = verify_ledger(&ledger_dir, &VerifyOptions { trust: Some(key.public()), ..Default::default() })?;
    line("")?;
    line(&format!(
        "verify: {} ({} entries, head {}:{})",
        if report.intact { "INTACT" } else { "NOT INTACT" },
        report.entries,
        head.size,
        head.head_hash
    ))?;
    for f in &report.findings {
        line(&format!("  {f}"))?;
    }

    let (ledger, _) = Ledger::open(&ledger_dir, &Default::default())?;
    line("")?;
    line(&format!("timeline of {INCIDENT}:"))?;
    for e in ledger.query(&Filter { incident: Some(INCIDENT.into()), ..Default::default() })? {
        line(&format!("  {}", entry_line(&e?, Some(&ledger))))?;
    }
    // Export the incident for reviewers, verified against a fresh signed checkpoint.
    let filter = Filter { incident: Some(INCIDENT.into()), ..Default::default() };
    let verification = custody::export::Verification::check(&ledger, Some(&key), Some(key.public()))?;
    let mut ctx = custody::export::Context::new(&ledger, &filter);
    ctx.verification = Some(verification);
    line("")?;
    line("exports for reviewers:")?;
    for (format, ext) in [
        ("html", "html"),
        ("csv", "csv"),
        ("jsonl", "jsonl"),
        ("ocsf", "ocsf.json"),
        ("timesketch", "timesketch.jsonl"),
    ] {
        let path = dir.join(format!("{INCIDENT}.{ext}"));
        let mut f = std::io::BufWriter::new(
            std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?,
        );
        let fmt: custody::export::Format = format.parse().map_err(anyhow::Error::msg)?;
        custody::export::export(&ledger, &filter, fmt, &ctx, &mut f)?;
        std::io::Write::flush(&mut f)?;
        line(&format!("  {format:<11} {}", path.display()))?;
    }
    line("")?;
    line("try next:")?;
    line(&format!("  custody verify --ledger {} --trust {}", ledger_dir.display(), key.public().to_text()))?;
    line(&format!("  custody log --ledger {} --incident {INCIDENT} --json", ledger_dir.display()))?;
    line(&format!("  custody head --ledger {}", ledger_dir.display()))?;
    line(&format!(
        "  custody bundle --ledger {} --incident {INCIDENT} --out {}.bundle && custody verify-bundle {}.bundle",
        ledger_dir.display(),
        dir.join(INCIDENT).display(),
        dir.join(INCIDENT).display()
    ))?;
    Ok(if report.intact { Outcome::Ok } else { Outcome::IntegrityFailure })
}
