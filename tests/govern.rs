//! Governance scenarios: realistic incidents written into real ledgers, then state, drift and the
//! findings report checked against what a reviewer would expect.
//!
//! Each scenario builds a ledger through the library (records in the JSON contract, one batch per
//! record so seqs are known), verifies it, and asserts the exact set of findings: every expected rule
//! appears with the evidence entries that prove it (seq and entry hash), and nothing else appears. A
//! clean, properly closed incident yields no findings. The last tests drive the CLI on the demo
//! incident (`custody demo`), including `--fail-on`, HTML output and the refusal of an unverified
//! ledger.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use assert_cmd::Command;
use serde_json::{json, Value};

use custody::commit::Field;
use custody::entry::Control;
use custody::govern::drift::{drift, ChangeKind, DriftOptions};
use custody::govern::rules::{report, Report, ReportOptions, Severity};
use custody::govern::state::{replay, IdentityStatus, ReplayOptions};
use custody::govern::{identity_key, Point, Source};
use custody::ledger::{Ledger, OpenOptions};
use custody::record::Record;
use custody::redact::Authority;
use custody::sign::SecretKey;
use custody::time::Timestamp;
use custody::verify::VerifyOptions;

/// A ledger being written: the key that signs, and each entry's hash by seq.
struct Book {
    dir: tempfile::TempDir,
    ledger: Option<Ledger>,
    key: SecretKey,
    hashes: BTreeMap<u64, String>,
}

impl Book {
    fn new() -> Self {
        let dir = tempfile::Builder::new().prefix("custody-govern-").tempdir().expect("temp dir");
        let key = SecretKey::from_seed(&[7; 32]);
        let (ledger, r) = Ledger::init(&dir.path().join("ledger"), &key, "acme-identity-incidents").expect("init");
        let mut hashes = BTreeMap::new();
        hashes.insert(r.seq, r.entry_hash);
        Book { dir, ledger: Some(ledger), key, hashes }
    }

    fn ledger(&self) -> &Ledger {
        self.ledger.as_ref().expect("ledger open")
    }

    /// Appends one record; returns its seq.
    fn add(&mut self, v: Value) -> u64 {
        let rec = Record::from_value(v.clone()).unwrap_or_else(|e| panic!("scenario record {v}: {e}"));
        let r = self.ledger().append_batch(&self.key, vec![rec], None).expect("append").remove(0);
        self.hashes.insert(r.seq, r.entry_hash);
        r.seq
    }

    /// Authorises a new key, retires the current one, and signs with the new one from now on.
    fn rotate_signer(&mut self) -> (u64, u64) {
        let next = SecretKey::from_seed(&[8; 32]);
        let l = self.ledger();
        let add = l
            .append_control(
                &self.key,
                Control::KeyAdd { public_key: next.public().to_bytes(), label: "soar-2026".into() },
            )
            .expect("key add");
        let retire = l
            .append_control(
                &next,
                Control::KeyRetire { key_id: self.key.public().key_id(), reason: "responder laptop reimaged".into() },
            )
            .expect("key retire");
        self.hashes.insert(add.seq, add.entry_hash);
        self.hashes.insert(retire.seq, retire.entry_hash);
        self.key = next;
        (add.seq, retire.seq)
    }

    fn path(&self) -> std::path::PathBuf {
        self.dir.path().join("ledger")
    }

    /// Closes the ledger and returns a verified source over it.
    fn source(&mut self) -> Source {
        self.ledger = None;
        Source::verify(&self.path(), &VerifyOptions::default())
            .expect("verify runs")
            .require_verified()
            .expect("intact")
    }

    fn reopen(&mut self) {
        self.ledger = Some(Ledger::open(&self.path(), &OpenOptions::default()).expect("reopen").0);
    }
}

fn t(s: &str) -> Timestamp {
    Timestamp::parse(s).expect("test time")
}

/// A record in the JSON contract. `approval` is `Some((by, ref))` or `None` with a note.
#[allow(clippy::too_many_arguments)]
fn rec(
    incident: &str,
    action: &str,
    actor: &str,
    target: (&str, &str, &str),
    scope: Option<&str>,
    approval: Option<(&str, &str)>,
    reason: &str,
    at: &str,
) -> Value {
    let mut v = json!({
        "incident": incident, "action": action,
        "actor": {"id": actor, "kind": if actor.contains('@') { "human" } else { "service" }},
        "target": {"id": target.0, "kind": target.1, "system": target.2},
        "approval": match approval {
            Some((by, r)) => json!({"by": by, "source": "servicenow", "ref": r}),
            None => json!({"none": "containment first; approval to follow in the post-incident review"}),
        },
        "reason": reason, "outcome": {"status": "success"}, "occurred_at": at,
    });
    if let Some(s) = scope {
        v["scope"] = json!(s);
    }
    v
}

fn with(mut v: Value, key: &str, val: Value) -> Value {
    v[key] = val;
    v
}

/// Asserts the report holds exactly these findings: (rule, evidence seqs the finding must cite),
/// and that every evidence hash is the ledger's hash for that seq.
fn expect(book: &Book, r: &Report, want: &[(&str, &[u64])]) {
    let got: Vec<String> =
        r.findings.iter().map(|f| format!("{} {}: {}", f.rule.id, f.severity(), f.message)).collect();
    let mut got_ids: Vec<&str> = r.findings.iter().map(|f| f.rule.id).collect();
    let mut want_ids: Vec<&str> = want.iter().map(|(id, _)| *id).collect();
    got_ids.sort_unstable();
    want_ids.sort_unstable();
    assert_eq!(got_ids, want_ids, "findings:\n{}", got.join("\n"));
    for (id, seqs) in want {
        assert!(
            r.findings.iter().any(|f| f.rule.id == *id && seqs.iter().all(|s| f.evidence.iter().any(|e| e.seq == *s))),
            "no {id} finding cites entries {seqs:?}; findings:\n{}",
            got.join("\n")
        );
    }
    for f in &r.findings {
        assert!(
            !f.route_to.is_empty() && !f.action.is_empty(),
            "{} needs an owner to route to and an action",
            f.rule.id
        );
        for e in &f.evidence {
            assert_eq!(
                Some(&hex::encode(e.entry_hash)),
                book.hashes.get(&e.seq),
                "{}: evidence entry {} carries the wrong hash",
                f.rule.id,
                e.seq
            );
        }
    }
}

fn opts(as_of: &str, incident: Option<&str>) -> ReportOptions {
    let mut o = ReportOptions::new(t(as_of));
    o.incident = incident.map(str::to_string);
    o
}

// ---- the demo incident: a leaked CI deploy key, handled by the book ------------------------------

/// The records of `custody demo` (src/bin/custody/demo.rs), first record at seq 1.
fn demo_records() -> Vec<Value> {
    const I: &str = "INC-2026-0042";
    let ci = ("arn:aws:iam::123456789012:user/ci-deploy", "service_account", "aws-iam");
    let key = ("AKIAIOSFODNN7EXAMPLE", "api_key", "aws-iam");
    let cab = Some(("ciso@corp.example", "CHG0031337"));
    vec![
        with(
            rec(
                I,
                "incident_open",
                "alice@corp.example",
                ci,
                None,
                None,
                "GitHub secret scanning: AWS access key of ci-deploy pushed to a public repository",
                "2026-03-02T09:58:00Z",
            ),
            "owner",
            json!("platform-team@corp.example"),
        ),
        with(
            rec(
                I,
                "disable",
                "soar-playbook-leaked-key",
                key,
                Some(ci.0),
                None,
                "contain: deactivate the leaked access key",
                "2026-03-02T10:01:12Z",
            ),
            "owner",
            json!("platform-team@corp.example"),
        ),
        with(
            with(
                rec(
                    I,
                    "emergency_grant",
                    "alice@corp.example",
                    ("bob@corp.example", "human", "aws-iam"),
                    Some("arn:aws:iam::aws:policy/AdministratorAccess"),
                    cab,
                    "break-glass: responder needs admin to rotate keys and review CloudTrail",
                    "2026-03-02T10:05:00Z",
                ),
                "expires_at",
                json!("2026-03-02T14:05:00Z"),
            ),
            "owner",
            json!("secops@corp.example"),
        ),
        with(
            rec(
                I,
                "session_revoke",
                "bob@corp.example",
                ("arn:aws:iam::123456789012:role/ci-deploy-role", "role", "aws-iam"),
                Some("sts:AssumeRole sessions issued before 2026-03-02T10:10:00Z"),
                cab,
                "invalidate sessions the leaked key may have opened",
                "2026-03-02T10:10:30Z",
            ),
            "refs",
            json!([2]),
        ),
        with(
            rec(
                I,
                "rotate",
                "bob@corp.example",
                ci,
                Some("access key AKIAIOSFODNN7EXAMPLE -> AKIAI44QH8DHBEXAMPLE"),
                cab,
                "issue a new key for CI and store it in the vault",
                "2026-03-02T10:31:00Z",
            ),
            "refs",
            json!([2]),
        ),
        with(
            rec(
                I,
                "delete",
                "bob@corp.example",
                key,
                None,
                cab,
                "remove the leaked key after the new one is in use",
                "2026-03-02T11:02:00Z",
            ),
            "refs",
            json!([2]),
        ),
        with(
            rec(
                I,
                "revoke",
                "alice@corp.example",
                ("bob@corp.example", "human", "aws-iam"),
                Some("arn:aws:iam::aws:policy/AdministratorAccess"),
                cab,
                "end the break-glass grant: rotation complete",
                "2026-03-02T11:20:00Z",
            ),
            "refs",
            json!([3]),
        ),
        rec(
            I,
            "recertify",
            "dana@corp.example",
            ci,
            Some("ci-deploy-policy (least privilege, reviewed)"),
            Some(("dana@corp.example", "CERT-2026-0311")),
            "owner recertified the account's access after the incident",
            "2026-03-03T15:00:00Z",
        ),
        rec(
            I,
            "exception_remove",
            "dana@corp.example",
            ci,
            Some("EXC-118: long-lived access key allowed for CI"),
            Some(("ciso@corp.example", "CHG0031402")),
            "CI moves to OIDC federation; the long-lived key exception is withdrawn",
            "2026-03-03T15:10:00Z",
        ),
        rec(
            I,
            "incident_close",
            "alice@corp.example",
            ci,
            None,
            Some(("ciso@corp.example", "INC-2026-0042-closure")),
            "contained, rotated, break-glass ended, recertified",
            "2026-03-03T16:00:00Z",
        ),
    ]
}

/// The demo incident: only the containment step taken before approval is left to note.
#[test]
fn demo_leaked_ci_key_yields_a_short_report() {
    let mut b = Book::new();
    for r in demo_records() {
        b.add(r);
    }
    let src = b.source();
    let r = report(&src, &opts("2026-04-15T00:00:00Z", None)).expect("report");
    expect(&b, &r, &[("CUS-AP-002", &[2])]);
    let inc = &r.incidents[0];
    assert_eq!((inc.status, inc.entries, inc.identities), ("closed", 10, 4));
    assert_eq!(inc.governance.iter().map(|g| g.seq).collect::<Vec<_>>(), vec![8, 9]);
    let trend: Vec<(String, i64)> = inc.exception_trend.points.iter().map(|p| (p.label.clone(), p.net)).collect();
    assert_eq!(trend[..3], [("opened".into(), 0), ("closed".into(), -1), ("+1w".into(), -1)]);
    assert_eq!(trend.len(), 2 + 4, "four weekly points after the close");
    assert_eq!(inc.exception_trend.direction, "flat");
    assert_eq!(r.findings[0].route_to, "platform-team@corp.example", "routed to the key's owner");
    assert_eq!(r.at_or_above(Severity::Low), 1);
    assert_eq!(r.at_or_above(Severity::Medium), 0);

    // While the break-glass grant was still running, the report said so.
    let during = report(&src, &opts("2026-03-02T10:30:00Z", None)).expect("report");
    assert!(during.findings.iter().any(|f| f.rule.id == "CUS-EG-001" && f.evidence[0].seq == 3));
    assert_eq!(during.incidents[0].status, "open");
}

/// State replay of the demo incident: at head, at a seq and at a time.
#[test]
fn state_replay_at_head_seq_and_time() {
    let mut b = Book::new();
    for r in demo_records() {
        b.add(r);
    }
    let src = b.source();
    let now = t("2026-04-01T00:00:00Z");
    let at = |point| replay(&src, &ReplayOptions { point, now, target: None }).expect("replay");
    let bob = identity_key("aws-iam", "bob@corp.example");
    let key = identity_key("aws-iam", "AKIAIOSFODNN7EXAMPLE");
    let admin = "arn:aws:iam::aws:policy/AdministratorAccess";

    let head = at(Point::Head);
    assert_eq!(head.get(&bob).expect("bob").effective(head.as_of).count(), 0, "break-glass ended");
    assert_eq!(head.get(&key).expect("key").status, IdentityStatus::Deleted);

    let mid = at(Point::Seq(4));
    let ent = mid.get(&bob).and_then(|i| i.entitlements.get(admin)).expect("bob holds admin after entry 3");
    assert_eq!(ent.granted.seq, 3);
    assert!(ent.emergency() && ent.approval.is_approved());
    assert_eq!(ent.expires_at, Some(t("2026-03-02T14:05:00Z")));
    assert_eq!(mid.get(&key).expect("key").status, IdentityStatus::Disabled);
    assert_eq!(mid.as_of, t("2026-03-02T10:10:30Z"), "lapse is judged at the latest event by entry 4");

    let by_time = at(Point::Time(t("2026-03-02T10:20:00Z")));
    assert!(by_time.get(&bob).is_some_and(|i| i.effective(by_time.as_of).count() == 1));
    let json = by_time.identity_json(by_time.get(&bob).expect("bob"));
    assert_eq!(json["entitlements"][0]["granted"]["seq"], 3);
    assert_eq!(json["entitlements"][0]["owner"], "secops@corp.example");

    // One identity only, and a seq beyond the verified ledger is refused.
    let only =
        replay(&src, &ReplayOptions { point: Point::Head, now, target: Some("bob@corp.example".into()) }).unwrap();
    assert_eq!(only.len(), 1);
    assert!(replay(&src, &ReplayOptions { point: Point::Seq(99), now, target: None }).is_err());

    // An emergency grant left to lapse shows as lapsed, not as access.
    let late = replay(&src, &ReplayOptions { point: Point::Seq(6), now, target: None }).unwrap();
    let bob_late = late.get(&bob).expect("bob");
    assert_eq!(bob_late.effective(late.as_of).count(), 1, "entry 6 was recorded before the expiry");
    let after_expiry =
        replay(&src, &ReplayOptions { point: Point::Time(t("2026-03-02T15:00:00Z")), now, target: None }).unwrap();
    assert_eq!(after_expiry.get(&bob).expect("bob").effective(after_expiry.as_of).count(), 0);
}

// ---- scenario 2: a compromised Okta admin and a break-glass grant left to lapse -------------------

#[test]
fn compromised_admin_with_break_glass() {
    const I: &str = "INC-2026-0107";
    let okta = "okta";
    let admin = ("jdoe-admin@corp.example", "human", okta);
    let ciso = Some(("ciso@corp.example", "CHG0040021"));
    let mut b = Book::new();
    let open = b.add(with(
        rec(
            I,
            "incident_open",
            "soc-oncall@corp.example",
            admin,
            None,
            None,
            "Okta ThreatInsight: admin session from an anonymising proxy after an MFA push flood",
            "2026-05-04T02:10:00Z",
        ),
        "owner",
        json!("iam-team@corp.example"),
    ));
    // The attacker's persistence, recorded by the Okta importer: a helpdesk account made org admin.
    let persist = b.add(rec(
        I,
        "grant",
        "jdoe-admin@corp.example",
        ("helpdesk-temp@corp.example", "human", okta),
        Some("okta:ORG_ADMIN"),
        None,
        "user.account.privilege.grant seen in the System Log during the compromise",
        "2026-05-04T01:55:00Z",
    ));
    let disable = b.add(rec(
        I,
        "disable",
        "soc-oncall@corp.example",
        admin,
        None,
        None,
        "contain: suspend the compromised admin",
        "2026-05-04T02:14:00Z",
    ));
    let sessions = b.add(rec(
        I,
        "session_revoke",
        "soc-oncall@corp.example",
        admin,
        Some("all Okta sessions"),
        ciso,
        "user.session.clear for the compromised admin",
        "2026-05-04T02:15:00Z",
    ));
    // Break-glass for the first responder: no approval, no owner, three days long, never revoked.
    let bg1 = b.add(with(
        rec(
            I,
            "emergency_grant",
            "soc-oncall@corp.example",
            ("responder-1@corp.example", "human", okta),
            Some("okta:SUPER_ADMIN"),
            None,
            "break-glass: responder needs super admin to audit the tenant",
            "2026-05-04T02:20:00Z",
        ),
        "expires_at",
        json!("2026-05-07T02:20:00Z"),
    ));
    let (_, retire) = b.rotate_signer();
    // A second, properly run break-glass grant: approved, owned, 8 hours, revoked in time.
    let bg2 = b.add(with(
        with(
            rec(
                I,
                "emergency_grant",
                "soc-oncall@corp.example",
                ("responder-2@corp.example", "human", "aws-iam"),
                Some("arn:aws:iam::aws:policy/AdministratorAccess"),
                ciso,
                "break-glass: check the federated AWS roles",
                "2026-05-04T02:30:00Z",
            ),
            "expires_at",
            json!("2026-05-04T10:30:00Z"),
        ),
        "owner",
        json!("secops@corp.example"),
    ));
    b.add(with(
        rec(
            I,
            "revoke",
            "soc-oncall@corp.example",
            ("responder-2@corp.example", "human", "aws-iam"),
            Some("arn:aws:iam::aws:policy/AdministratorAccess"),
            ciso,
            "end break-glass",
            "2026-05-04T04:00:00Z",
        ),
        "refs",
        json!([bg2]),
    ));
    b.add(rec(
        I,
        "mfa_reset",
        "iam-lead@corp.example",
        admin,
        None,
        ciso,
        "re-enrol the admin's authenticators in person",
        "2026-05-04T09:00:00Z",
    ));
    b.add(rec(
        I,
        "enable",
        "iam-lead@corp.example",
        admin,
        None,
        ciso,
        "restore the admin after re-enrolment",
        "2026-05-04T09:30:00Z",
    ));
    // The directory sync service was suspended as a precaution and brought back with no owner.
    let sync = ("svc-okta-sync", "service_account", okta);
    b.add(rec(
        I,
        "disable",
        "iam-lead@corp.example",
        sync,
        None,
        ciso,
        "precaution: the sync token may have been read",
        "2026-05-04T02:40:00Z",
    ));
    let restored = b.add(rec(
        I,
        "enable",
        "iam-lead@corp.example",
        sync,
        None,
        ciso,
        "sync needed for payroll",
        "2026-05-04T11:00:00Z",
    ));
    let close = b.add(rec(
        I,
        "incident_close",
        "soc-oncall@corp.example",
        admin,
        None,
        ciso,
        "admin restored; sessions cleared",
        "2026-05-05T12:00:00Z",
    ));
    let src = b.source();
    let r = report(&src, &opts("2026-06-01T00:00:00Z", Some(I))).expect("report");
    expect(
        &b,
        &r,
        &[
            ("CUS-AP-001", &[persist]),
            ("CUS-AP-002", &[disable]),
            ("CUS-EG-002", &[bg1]),
            ("CUS-EG-003", &[bg1]),
            ("CUS-EG-004", &[bg1]),
            ("CUS-EG-005", &[bg1]),
            ("CUS-ID-001", &[restored]),
            ("CUS-IN-001", &[close]),
            ("CUS-IN-002", &[close]),
            ("CUS-KEY-001", &[open, retire]),
        ],
    );
    let _ = sessions;
    let helpdesk = r.findings.iter().find(|f| f.rule.id == "CUS-AP-001").expect("AP-001");
    assert_eq!(helpdesk.route_to, "iam-team@corp.example (incident owner)");
    assert!(helpdesk.message.contains("containment first"), "{}", helpdesk.message);
    let key = r.findings.iter().find(|f| f.rule.id == "CUS-KEY-001").expect("KEY-001");
    assert_eq!(key.severity(), Severity::Info);
    assert!(key.message.contains("5 entr(ies)"), "{}", key.message);

    // The day of the incident: the first break-glass grant was still running.
    let during = report(&src, &opts("2026-05-04T12:00:00Z", Some(I))).expect("report");
    let active = during.findings.iter().find(|f| f.rule.id == "CUS-EG-001").expect("EG-001 during");
    assert_eq!(active.evidence[0].seq, bg1);
    assert!(!during.findings.iter().any(|f| f.rule.id == "CUS-EG-002"));

    // A later, approved observe record that refs the persistence grant ratifies it.
    b.reopen();
    b.add(with(
        rec(
            "INC-2026-0107-PIR",
            "observe",
            "ciso@corp.example",
            ("helpdesk-temp@corp.example", "human", okta),
            None,
            Some(("ciso@corp.example", "PIR-0107")),
            "post-incident review: grant confirmed as the helpdesk lead's, approved after the fact",
            "2026-05-06T10:00:00Z",
        ),
        "refs",
        json!([persist]),
    ));
    let src = b.source();
    let r = report(&src, &opts("2026-06-01T00:00:00Z", Some(I))).expect("report");
    assert!(!r.findings.iter().any(|f| f.rule.id == "CUS-AP-001"), "ratified after the fact");
}

// ---- scenario 3: an over-privileged service principal, and drift while it was being fixed ---------

#[test]
fn over_privileged_service_principal() {
    const I: &str = "INC-2026-0212";
    let sp = ("sp-billing-export", "service_principal", "entra-id");
    let cab = Some(("cab@corp.example", "CHG0051190"));
    let mut b = Book::new();
    // Before the incident: the principal was granted far more than it needed.
    b.add(with(
        rec(
            "CHG-2025-1187",
            "grant",
            "deploy-bot",
            sp,
            Some("Microsoft Graph/Directory.ReadWrite.All"),
            Some(("app-owner@corp.example", "CHG0039001")),
            "billing export onboarding",
            "2025-11-03T09:00:00Z",
        ),
        "owner",
        json!("finance-apps@corp.example"),
    ));
    b.add(rec(
        I,
        "incident_open",
        "secops@corp.example",
        sp,
        None,
        None,
        "Defender for Cloud Apps: sp-billing-export enumerated every group and user",
        "2026-06-10T08:00:00Z",
    ));
    let secret = ("sp-billing-export/client-secret-2", "secret", "entra-id");
    b.add(rec(
        I,
        "rotate",
        "secops@corp.example",
        secret,
        None,
        cab,
        "Add service principal credentials; old secret removed",
        "2026-06-10T08:20:00Z",
    ));
    b.add(rec(
        I,
        "session_revoke",
        "secops@corp.example",
        sp,
        Some("refresh tokens"),
        cab,
        "revoke the principal's tokens",
        "2026-06-10T08:25:00Z",
    ));
    b.add(rec(
        I,
        "revoke",
        "secops@corp.example",
        sp,
        Some("Microsoft Graph/Directory.ReadWrite.All"),
        cab,
        "least privilege: the export needs Reports.Read.All only",
        "2026-06-10T09:00:00Z",
    ));
    b.add(rec(
        I,
        "grant",
        "secops@corp.example",
        sp,
        Some("Microsoft Graph/Reports.Read.All"),
        cab,
        "least privilege replacement",
        "2026-06-10T09:05:00Z",
    ));
    // Meanwhile an automation run under another change ticket widened it again, unapproved.
    let drift_in = b.add(rec(
        "CHG-2026-0311",
        "grant",
        "terraform-cloud",
        sp,
        Some("Microsoft Graph/Application.ReadWrite.All"),
        None,
        "terraform apply: module drift",
        "2026-06-11T14:00:00Z",
    ));
    b.add(rec(
        I,
        "exception_add",
        "finance-lead@corp.example",
        sp,
        Some("EXC-311: export reads SharePoint billing site"),
        cab,
        "documented exception for the legacy export",
        "2026-06-12T10:00:00Z",
    ));
    let close = b.add(rec(
        I,
        "incident_close",
        "secops@corp.example",
        sp,
        None,
        cab,
        "entitlement reduced; exception documented",
        "2026-06-12T12:00:00Z",
    ));
    let later = b.add(rec(
        "CHG-2026-0330",
        "exception_add",
        "finance-lead@corp.example",
        sp,
        Some("EXC-330: export writes to the finance mailbox"),
        Some(("finance-lead@corp.example", "CHG0052004")),
        "new month-end job",
        "2026-06-26T10:00:00Z",
    ));
    let src = b.source();
    let r = report(&src, &opts("2026-07-20T00:00:00Z", Some(I))).expect("report");
    expect(&b, &r, &[("CUS-DR-001", &[drift_in, close]), ("CUS-EX-001", &[close, later]), ("CUS-IN-001", &[close])]);
    let inc = &r.incidents[0];
    assert_eq!(inc.exception_trend.direction, "growing");
    let nets: Vec<i64> = inc.exception_trend.points.iter().map(|p| p.net).collect();
    assert_eq!(nets, vec![0, 1, 1, 2, 2, 2]);
    assert_eq!(r.findings.iter().find(|f| f.rule.id == "CUS-DR-001").unwrap().route_to, "finance-apps@corp.example");

    // Drift between the incident's open and close, for its identities only.
    let d = drift(
        &src,
        &DriftOptions { from: t("2026-06-10T07:59:00Z"), to: t("2026-06-12T12:00:00Z"), incident: Some(I.into()) },
    )
    .expect("drift");
    let kinds: Vec<(ChangeKind, Option<&str>, bool)> =
        d.changes.iter().map(|c| (c.kind, c.scope.as_deref(), c.unapproved)).collect();
    assert!(kinds.contains(&(ChangeKind::Removed, Some("Microsoft Graph/Directory.ReadWrite.All"), false)));
    assert!(kinds.contains(&(ChangeKind::Added, Some("Microsoft Graph/Reports.Read.All"), false)));
    assert!(kinds.contains(&(ChangeKind::Added, Some("Microsoft Graph/Application.ReadWrite.All"), true)));
    assert!(kinds.contains(&(
        ChangeKind::ExceptionAdded,
        Some("EXC-311: export reads SharePoint billing site"),
        false
    )));
    assert_eq!(d.unapproved, 1);
    let unapproved = d.changes.iter().find(|c| c.unapproved).unwrap();
    assert_eq!(unapproved.explained_by.iter().map(|e| e.at.seq).collect::<Vec<_>>(), vec![drift_in]);
    assert!(d.changes.iter().all(|c| c.system == "entra-id"), "other identities are left out");

    // The automation change is approved after the fact, under its own change ticket: no more drift.
    b.reopen();
    b.add(with(
        rec(
            "CHG-2026-0311",
            "observe",
            "cab@corp.example",
            sp,
            Some("Microsoft Graph/Application.ReadWrite.All"),
            Some(("cab@corp.example", "CHG0051777")),
            "emergency CAB: the module change is accepted",
            "2026-06-20T09:00:00Z",
        ),
        "refs",
        json!([drift_in]),
    ));
    let src = b.source();
    let r = report(&src, &opts("2026-07-20T00:00:00Z", Some(I))).expect("report");
    expect(&b, &r, &[("CUS-EX-001", &[close, later])]);
}

// ---- scenario 4: OAuth grant abuse by a third-party app --------------------------------------------

#[test]
fn oauth_grant_abuse_by_third_party_app() {
    const I: &str = "INC-2026-0288";
    let gw = "google-workspace";
    let app = "1234567890-mailmerge.apps.googleusercontent.com";
    let alice = (format!("{app}/alice@corp.example"), "oauth_grant", gw);
    let bob = (format!("{app}/bob@corp.example"), "oauth_grant", gw);
    let sec = Some(("secops-lead@corp.example", "SEC-2291"));
    let mut b = Book::new();
    b.add(rec(
        I,
        "incident_open",
        "secops@corp.example",
        (&alice.0, alice.1, alice.2),
        Some("https://mail.google.com/"),
        None,
        "token authorize: unverified app requested full Gmail access; vendor breach disclosed",
        "2026-07-01T13:00:00Z",
    ));
    let seen_bob = b.add(rec(
        I,
        "observe",
        "google-workspace-importer",
        (&bob.0, bob.1, bob.2),
        Some("https://mail.google.com/"),
        None,
        "token activity: the app read bob's mailbox at 03:12Z",
        "2026-07-01T03:12:00Z",
    ));
    b.add(rec(
        I,
        "revoke",
        "secops@corp.example",
        (&alice.0, alice.1, alice.2),
        Some("https://mail.google.com/"),
        sec,
        "remove the app's grant for alice",
        "2026-07-01T13:20:00Z",
    ));
    // The replacement integration is created by the incident: not an exposed credential.
    b.add(with(
        rec(
            I,
            "create",
            "secops@corp.example",
            ("mailmerge-v2-service-key", "api_key", gw),
            None,
            sec,
            "vetted replacement integration",
            "2026-07-01T15:00:00Z",
        ),
        "owner",
        json!("marketing-ops@corp.example"),
    ));
    let src = b.source();
    let r = report(&src, &opts("2026-07-02T00:00:00Z", Some(I))).expect("report");
    expect(&b, &r, &[("CUS-CR-001", &[seen_bob]), ("CUS-CR-002", &[seen_bob])]);
    let cr = r.findings.iter().find(|f| f.rule.id == "CUS-CR-001").unwrap();
    assert!(cr.identity.as_deref().unwrap_or("").contains("bob@corp.example"));
    assert_eq!(cr.severity(), Severity::Critical);
    assert_eq!(r.incidents[0].status, "open");
}

// ---- scenario 5: a clean, properly closed incident -------------------------------------------------

#[test]
fn clean_closed_incident_has_no_findings() {
    const I: &str = "INC-2026-0301";
    let gh = "github";
    let pat = ("pat-ci-release (fine-grained, acme/release)", "token", gh);
    let bot = ("release-bot", "service_account", gh);
    let ok = Some(("appsec-lead@corp.example", "SEC-3001"));
    let mut b = Book::new();
    b.add(with(
        rec(
            I,
            "incident_open",
            "appsec@corp.example",
            bot,
            None,
            ok,
            "GitHub secret scanning: release-bot's PAT in a build log",
            "2026-08-03T09:00:00Z",
        ),
        "owner",
        json!("release-eng@corp.example"),
    ));
    b.add(rec(I, "revoke", "appsec@corp.example", pat, None, ok, "revoke the exposed token", "2026-08-03T09:05:00Z"));
    b.add(rec(
        I,
        "session_revoke",
        "appsec@corp.example",
        bot,
        Some("installation tokens"),
        ok,
        "expire tokens minted with the PAT",
        "2026-08-03T09:06:00Z",
    ));
    let bg = b.add(with(
        with(
            rec(
                I,
                "emergency_grant",
                "appsec@corp.example",
                ("responder@corp.example", "human", gh),
                Some("acme/release: admin"),
                ok,
                "audit the repository's deploy keys",
                "2026-08-03T09:10:00Z",
            ),
            "expires_at",
            json!("2026-08-03T11:10:00Z"),
        ),
        "owner",
        json!("appsec-lead@corp.example"),
    ));
    b.add(with(
        rec(
            I,
            "revoke",
            "appsec-lead@corp.example",
            ("responder@corp.example", "human", gh),
            Some("acme/release: admin"),
            ok,
            "audit done",
            "2026-08-03T10:00:00Z",
        ),
        "refs",
        json!([bg]),
    ));
    b.add(with(
        rec(
            I,
            "create",
            "release-eng-lead@corp.example",
            ("release-bot GitHub App installation", "token", gh),
            Some("acme/release: contents write"),
            ok,
            "replace the PAT with a GitHub App",
            "2026-08-03T11:00:00Z",
        ),
        "owner",
        json!("release-eng@corp.example"),
    ));
    b.add(rec(
        I,
        "recertify",
        "release-eng-lead@corp.example",
        bot,
        Some("acme/release: contents write"),
        ok,
        "access reviewed after the incident",
        "2026-08-04T10:00:00Z",
    ));
    b.add(rec(
        I,
        "incident_close",
        "appsec@corp.example",
        bot,
        None,
        ok,
        "token revoked, replaced, recertified",
        "2026-08-04T12:00:00Z",
    ));
    let src = b.source();
    let r = report(&src, &opts("2026-09-15T00:00:00Z", None)).expect("report");
    expect(&b, &r, &[]);
    assert_eq!(r.incidents[0].status, "closed");
    assert_eq!(r.at_or_above(Severity::Info), 0);
}

// ---- redaction: replay never crashes on erased identities ------------------------------------------

#[test]
fn redacted_target_ids_are_opaque_identities() {
    let mut b = Book::new();
    let seqs: Vec<u64> = demo_records().into_iter().map(|r| b.add(r)).collect();
    let who = Authority {
        reason: "GDPR Art. 17 erasure request".into(),
        authority: "DPO-2026-17".into(),
        approved_by: "dpo@corp.example".into(),
    };
    b.ledger().redact(&b.key, &[seqs[2], seqs[6]], &[Field::TargetId, Field::Scope], &who).expect("redact ids");
    b.ledger().redact(&b.key, &[seqs[2]], &[Field::Owner], &who).expect("redact owner");
    let src = b.source();
    let now = t("2026-04-01T00:00:00Z");
    let st = replay(&src, &ReplayOptions { point: Point::Head, now, target: None }).expect("replay");
    assert_eq!(st.redacted_identities, 2, "each erased ID is its own opaque identity");
    let opaque: Vec<_> = st.identities().into_iter().filter(|(_, i)| i.id_redacted_by.is_some()).collect();
    assert_eq!(opaque.len(), 2);
    assert!(opaque.iter().any(|(_, i)| i.id.as_ref() == format!("redacted:{}", seqs[2])));
    let json = st.identity_json(opaque[0].1);
    assert_eq!(json["id_redacted"]["redacted"]["authority"], "DPO-2026-17");
    let grant = opaque.iter().find(|(_, i)| !i.entitlements.is_empty()).expect("the grant's opaque identity");
    assert!(st.show(grant.1.entitlements.values().next().unwrap().owner.as_ref().unwrap()).contains("GDPR"));
    // The report still runs; with the IDs erased, nothing links the revoke to the grant.
    let r = report(&src, &opts("2026-04-15T00:00:00Z", None)).expect("report");
    assert!(r
        .findings
        .iter()
        .any(|f| f.rule.id == "CUS-EG-002" && f.identity.as_deref().unwrap_or("").contains("redacted:")));
}

// ---- the CLI on the demo incident --------------------------------------------------------------------

fn custody() -> Command {
    let mut c = Command::cargo_bin("custody").expect("binary");
    c.env_remove("CUSTODY_LEDGER").env_remove("CUSTODY_KEY").timeout(Duration::from_secs(60));
    c
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = custody().args(args).output().expect("custody runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{stderr}");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned(), stderr)
}

fn demo_ledger(dir: &Path) -> String {
    let (code, _, err) = run(&["demo", "--dir", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    dir.join("ledger").display().to_string()
}

#[test]
fn cli_report_state_drift_on_the_demo() {
    let tmp = tempfile::tempdir().unwrap();
    let l = demo_ledger(&tmp.path().join("demo"));
    let as_of = "2026-04-15T00:00:00Z";
    let (code, out, err) = run(&["report", "--ledger", &l, "--as-of", as_of]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("CUS-AP-002") && out.contains("INTACT"), "{out}");
    assert!(!out.contains("UNVERIFIED"));

    let (code, _, err) = run(&["report", "--ledger", &l, "--as-of", as_of, "--fail-on", "low"]);
    assert_eq!(code, 1, "a low finding fails --fail-on low: {err}");
    assert!(err.contains("--fail-on low"), "{err}");
    let (code, _, _) = run(&["report", "--ledger", &l, "--as-of", as_of, "--fail-on", "medium"]);
    assert_eq!(code, 0);

    let (code, out, _) = run(&["report", "--ledger", &l, "--as-of", as_of, "--json"]);
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&out).expect("one JSON document");
    assert_eq!(v["verification"]["verified"], true);
    assert_eq!(v["findings"][0]["rule"], "CUS-AP-002");
    assert_eq!(v["findings"][0]["evidence"][0]["seq"], 2);

    let (code, html, _) = run(&["report", "--ledger", &l, "--as-of", as_of, "--format", "html"]);
    assert_eq!(code, 0);
    assert!(html.starts_with("<!DOCTYPE html>") && html.contains("CUS-AP-002"));
    assert!(!html.contains("<script") && !html.contains("http://") && !html.contains("https://"), "self-contained");
    assert!(html.contains("AKIAIOSFODNN7EXAMPLE") && html.contains("&quot;containment"), "text is escaped");

    let (code, out, err) = run(&["state", "--ledger", &l, "--seq", "4", "--target", "bob@corp.example", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["identities"][0]["entitlements"][0]["granted"]["seq"], 3);
    let (code, out, _) = run(&["state", "--ledger", &l, "--at", "2026-03-02T10:20:00Z"]);
    assert_eq!(code, 0);
    assert!(out.contains("bob@corp.example") && out.contains("AdministratorAccess"), "{out}");

    let (code, out, err) =
        run(&["drift", "--ledger", &l, "--from", "2026-03-02T09:00:00Z", "--to", "2026-03-04T00:00:00Z", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["unapproved"], 0);

    // Bad input: exit 2, nothing changed.
    let (code, _, err) = run(&["report", "--ledger", &l, "--fail-on", "urgent"]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = run(&["state", "--ledger", &l, "--at", "last tuesday"]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = run(&["report", "--ledger", &l, "--incident", "INC-NOPE"]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn cli_refuses_an_unverified_ledger_loudly() {
    let tmp = tempfile::tempdir().unwrap();
    let l = demo_ledger(&tmp.path().join("demo"));
    // Flip one byte in the middle of the log: a damaged frame with valid frames after it (damage in
    // the very last frame would read as a torn tail, which is never an acknowledged entry).
    let seg = std::fs::read_dir(Path::new(&l).join("log")).unwrap().next().unwrap().unwrap().path();
    let mut bytes = std::fs::read(&seg).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x01;
    std::fs::write(&seg, &bytes).unwrap();
    let (code, out, err) = run(&["report", "--ledger", &l, "--as-of", "2026-04-15T00:00:00Z"]);
    assert_eq!(code, 1, "refused: {err}");
    assert!(out.is_empty() && err.contains("did not verify") && err.contains("--allow-unverified"), "{err}");
    for args in [
        vec!["report", "--ledger", &l, "--allow-unverified"],
        vec!["report", "--ledger", &l, "--allow-unverified", "--json"],
        vec!["report", "--ledger", &l, "--allow-unverified", "--format", "html"],
        vec!["state", "--ledger", &l, "--allow-unverified"],
        vec!["state", "--ledger", &l, "--allow-unverified", "--json"],
        vec![
            "drift",
            "--ledger",
            &l,
            "--allow-unverified",
            "--from",
            "2026-03-01T00:00:00Z",
            "--to",
            "2026-03-05T00:00:00Z",
        ],
    ] {
        let (code, out, err) = run(&args);
        assert_eq!(code, 0, "{args:?}: {err}");
        assert!(
            out.contains("UNVERIFIED") && err.contains("UNVERIFIED"),
            "{args:?} must say UNVERIFIED:\n{out}\n{err}"
        );
    }
}
