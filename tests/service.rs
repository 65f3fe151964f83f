//! `custody serve` end to end: real servers on 127.0.0.1 port 0, real HTTP clients.
//!
//! Most tests run the service in-process (the library's `Service`, on the test's Tokio runtime) so
//! they can reach into the ledger (hold its writer to fill the queue) and the metrics. The shutdown
//! and crash tests run the `custody serve` binary as a child process and send it SIGTERM or
//! SIGKILL. Only loopback addresses are used; every loop is bounded in count and time.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream as StdTcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::{Method, StatusCode};
use serde_json::{json, Value};
use tempfile::TempDir;

use custody::entry::{Control, Role};
use custody::ledger::{Ledger, OpenOptions, Receipt};
use custody::service::auth::{new_token, token_hash};
use custody::service::client::{Client, ClientError, ClientOptions};
use custody::service::metrics::sample;
use custody::service::{ServeConfig, Service, TlsFiles};
use custody::sign::SecretKey;
use custody::verify::{verify_ledger, VerifyOptions};

// ---- helpers -------------------------------------------------------------------------------------

/// A valid record, varied by `(c, i)`.
fn record(c: usize, i: usize) -> Value {
    json!({
        "incident": format!("INC-{}", c % 4),
        "action": "revoke",
        "actor": {"id": "soar-playbook", "kind": "service"},
        "target": {"id": format!("user{c}-{i}@corp.example"), "kind": "human", "system": "okta"},
        "approval": {"by": "oncall@corp.example", "source": "pagerduty", "ref": format!("PD-{c}-{i}")},
        "reason": "session token seen from an unknown ASN",
        "outcome": {"status": "success"},
        "evidence": [{"system": "okta", "id": format!("evt-{c}-{i}")}]
    })
}

fn body(v: &Value) -> Bytes {
    Bytes::from(v.to_string())
}

/// A ledger with registered clients: `soar` (append), `auditor` (read), `admin` (admin) and
/// `c0`..`c15` (append). Returns the directory, the key and the tokens by client name.
fn ledger_with_clients() -> (TempDir, Ledger, SecretKey, HashMap<String, String>) {
    let dir = tempfile::tempdir().unwrap();
    let key = SecretKey::generate();
    let (ledger, _) = Ledger::init(&dir.path().join("ledger"), &key, "service-test").unwrap();
    let mut tokens = HashMap::new();
    let mut clients: Vec<(String, Role)> =
        vec![("soar".into(), Role::Append), ("auditor".into(), Role::Read), ("admin".into(), Role::Admin)];
    clients.extend((0..16).map(|c| (format!("c{c}"), Role::Append)));
    for (name, role) in clients {
        let t = new_token();
        ledger
            .append_control(&key, Control::ClientAdd { name: name.clone(), role, token_hash: token_hash(&t) })
            .unwrap();
        tokens.insert(name, t);
    }
    (dir, ledger, key, tokens)
}

/// An in-process service.
struct TestServer {
    url: String,
    dir: TempDir,
    ledger: Arc<Ledger>,
    tokens: HashMap<String, String>,
    /// The genesis key's public half, as text.
    genesis: String,
    service_metrics: Arc<custody::service::metrics::Metrics>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl TestServer {
    async fn start(configure: impl FnOnce(&mut ServeConfig)) -> TestServer {
        let (dir, ledger, key, tokens) = ledger_with_clients();
        let mut cfg = ServeConfig::new("127.0.0.1:0".parse().unwrap());
        cfg.shutdown_grace = Duration::from_secs(5);
        configure(&mut cfg);
        let https = cfg.tls.is_some();
        let ledger = Arc::new(ledger);
        let genesis = key.public().to_text();
        let svc = Service::bind(ledger.clone(), key, cfg).await.unwrap();
        let url = format!("{}://{}", if https { "https" } else { "http" }, svc.local_addr());
        let service_metrics = svc.metrics();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(svc.run(async {
            let _ = rx.await;
        }));
        TestServer { url, dir, ledger, tokens, genesis, service_metrics, stop: Some(tx), task: Some(task) }
    }

    fn client(&self, name: &str, opts: ClientOptions) -> Client {
        Client::new(&self.url, self.tokens[name].clone(), opts).unwrap()
    }

    /// A client that never retries (to see each answer).
    fn raw(&self, name: &str) -> Client {
        self.client(name, ClientOptions { retries: 0, timeout: Duration::from_secs(10), ..ClientOptions::default() })
    }

    fn size(&self) -> u64 {
        self.ledger.head().size
    }

    async fn stop(mut self) -> (TempDir, Arc<Ledger>) {
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(Duration::from_secs(20), self.task.take().unwrap()).await.unwrap().unwrap();
        (self.dir, self.ledger)
    }
}

fn assert_intact(dir: &Path) {
    let r = verify_ledger(&dir.join("ledger"), &VerifyOptions::default()).unwrap();
    assert!(r.intact, "the ledger does not verify: {:?}", r.findings);
}

/// Submitter and request ID of every entry.
fn requests_in(ledger: &Ledger) -> Vec<(u64, Option<String>, Option<String>)> {
    (0..ledger.head().size)
        .map(|s| {
            let e = ledger.get(s).unwrap();
            (s, e.header().submitter.clone(), e.header().request.clone())
        })
        .collect()
}

// ---- appends -------------------------------------------------------------------------------------

/// 16 clients x 100 concurrent appends: all land, once each, in a ledger that verifies, and group
/// commit shared the fsyncs. Half the clients speak HTTP/2 (one multiplexed connection each), half
/// HTTP/1.1 (a connection per concurrent request).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_land_once_each() {
    let s = TestServer::start(|_| {}).await;
    let before = s.size();
    let mut tasks = Vec::new();
    for c in 0..16 {
        let client =
            Arc::new(s.client(&format!("c{c}"), ClientOptions { http2: c % 2 == 0, ..ClientOptions::default() }));
        for i in 0..100 {
            let client = client.clone();
            tasks.push(tokio::spawn(async move {
                let a = client.append_json(body(&record(c, i)), Some(format!("k-{c}-{i}"))).await.unwrap();
                assert!(!a.replayed);
                assert_eq!(a.receipts.len(), 1);
                (c, i, a.receipts[0].clone())
            }));
        }
    }
    let mut receipts = Vec::new();
    for t in tasks {
        receipts.push(tokio::time::timeout(Duration::from_secs(60), t).await.unwrap().unwrap());
    }
    let seqs: HashSet<u64> = receipts.iter().map(|(_, _, r)| r.seq).collect();
    assert_eq!(seqs.len(), 1600, "every append got its own seq");
    assert_eq!(s.size(), before + 1600);
    let fsyncs = s.service_metrics.fsyncs.load(std::sync::atomic::Ordering::Relaxed);
    assert!(fsyncs < 1600, "group commit should share fsyncs; {fsyncs} fsyncs for 1600 appends");
    let (dir, ledger) = s.stop().await;
    for (c, i, r) in &receipts {
        let e = ledger.get(r.seq).unwrap();
        assert_eq!(hex::encode(e.hash), r.entry_hash);
        assert_eq!(e.header().submitter.as_deref(), Some(format!("c{c}").as_str()), "the submitter is signed");
        assert_eq!(e.header().request.as_deref(), Some(format!("k-{c}-{i}").as_str()));
        let target = e.change().unwrap().text(&e.openings, custody::commit::Field::TargetId).unwrap();
        assert_eq!(target.value().unwrap(), &format!("user{c}-{i}@corp.example"));
    }
    let mut seen = HashSet::new();
    for (_, sub, req) in requests_in(&ledger) {
        if let Some(req) = req {
            assert!(seen.insert((sub, req.clone())), "request {req} appended twice");
        }
    }
    assert_intact(dir.path());
}

/// A retried request (same client, same Idempotency-Key) is appended once and gets the original
/// receipts, also when the copies arrive at the same time; another client's equal key is its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retried_request_is_not_doubled() {
    let s = TestServer::start(|_| {}).await;
    let c = s.raw("soar");
    let before = s.size();
    let batch = Bytes::from(format!("{}\n{}\n", record(1, 1), record(1, 2)));
    let first = c.append_json(batch.clone(), Some("retry-1".into())).await.unwrap();
    let again = c.append_json(batch, Some("retry-1".into())).await.unwrap();
    assert!(!first.replayed && again.replayed);
    assert_eq!(first.receipts, again.receipts);
    assert_eq!(s.size(), before + 2);

    // Twenty copies at once: they may share one group commit; still one append.
    let c = Arc::new(c);
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let c = c.clone();
        tasks.push(tokio::spawn(
            async move { c.append_json(body(&record(2, 0)), Some("race-1".into())).await.unwrap() },
        ));
    }
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap());
    }
    assert_eq!(answers.iter().filter(|a| !a.replayed).count(), 1, "exactly one copy appends");
    assert!(answers.iter().all(|a| a.receipts == answers[0].receipts));
    assert_eq!(s.size(), before + 3);

    // The same key for other records is refused, not answered with the first request's receipts;
    // nothing is appended. So is a batch of another length, and a second request of one group
    // commit that brings the key with other records.
    for (what, b) in [
        ("other records", Bytes::from(format!("{}\n{}\n", record(1, 1), record(1, 3)))),
        ("fewer records", body(&record(1, 1))),
    ] {
        let reply = c.send(Method::POST, "/v1/entries", &[("idempotency-key", "retry-1")], b).await.unwrap();
        let v: Value = serde_json::from_slice(&reply.body).unwrap();
        assert_eq!(reply.status.as_u16(), 422, "{what}: {v}");
        assert_eq!(v["error"]["code"], "idempotency_key_reused", "{what}: {v}");
        assert!(v["error"]["message"].as_str().unwrap().contains("retry-1"), "{what}: {v}");
    }
    assert_eq!(s.size(), before + 3);
    let mut tasks = Vec::new();
    for i in 0..6 {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            c.send(Method::POST, "/v1/entries", &[("idempotency-key", "race-2")], body(&record(4, i % 2)))
                .await
                .unwrap()
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap().status.as_u16());
    }
    assert!(statuses.iter().all(|s| *s == 200 || *s == 201 || *s == 422), "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 422).count(), 3, "three of the six bring other records: {statuses:?}");
    assert_eq!(s.size(), before + 4, "one of the six appends");

    // The key is scoped to its client.
    let other = s.raw("c0").append_json(body(&record(3, 0)), Some("retry-1".into())).await.unwrap();
    assert!(!other.replayed);
    assert_eq!(s.size(), before + 5);
    let m =
        String::from_utf8(s.raw("soar").send(Method::GET, "/metrics", &[], Bytes::new()).await.unwrap().body.to_vec())
            .unwrap();
    // The twenty copies, and the two of the six whose records equal the one that appended.
    assert_eq!(sample(&m, "custody_append_requests_total{outcome=\"replayed\"}"), Some(22.0));
    let (dir, _) = s.stop().await;
    assert_intact(dir.path());
}

/// Each bad request gets the right 4xx with a JSON error naming the problem; the head never moves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_the_right_4xx_and_the_head_does_not_move() {
    let s = TestServer::start(|c| c.limits.max_body = 64 << 10).await;
    let head = s.raw("soar").get_json("/v1/head").await.unwrap();
    let with = |f: &dyn Fn(&mut Value)| {
        let mut v = record(0, 0);
        f(&mut v);
        body(&v)
    };
    let ghp = format!("ghp_{}", "aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789");
    let mut bad = record(0, 4);
    bad["reason"] = json!("");
    let two = Bytes::from(format!("{}\n{}\n", record(0, 1), bad));
    /// (what, client, body, extra headers, status, code, field, message fragment)
    type Case<'a> = (&'a str, &'a str, Bytes, Vec<(&'a str, &'a str)>, u16, &'a str, Option<&'a str>, &'a str);
    #[rustfmt::skip]
    let cases: Vec<Case> = vec![
        // (what, client, body, extra headers, status, code, field, message fragment)
        ("malformed JSON", "soar", Bytes::from_static(b"{\"incident\": \"INC-1\", "), vec![], 400, "malformed_json", None, "not valid JSON"),
        ("unknown field", "soar", with(&|v| v["colour"] = json!("red")), vec![], 422, "invalid_record", Some("colour"), "not part of the record contract"),
        ("over-long field", "soar", with(&|v| v["reason"] = json!("x".repeat(3000))), vec![], 422, "invalid_record", Some("reason"), "3000 bytes long; the limit is 2048"),
        ("secret in a field", "soar", with(&|v| v["outcome"]["detail"] = json!(format!("rotated {ghp}"))), vec![], 422, "invalid_record", Some("outcome.detail"), "GitHub personal access token"),
        ("custody token in a field", "soar", with(&|v| v["reason"] = json!(format!("leaked {}", new_token()))), vec![], 422, "invalid_record", Some("reason"), "custody service client token"),
        ("second record bad", "soar", two, vec![], 422, "invalid_record", Some("reason"), "record 2"),
        ("oversized body", "soar", Bytes::from(vec![b' '; 100 << 10]), vec![], 413, "body_too_large", None, "larger than 65536 bytes"),
        ("empty body", "soar", Bytes::new(), vec![], 400, "no_records", None, "no record"),
        ("over-long idempotency key", "soar", body(&record(0, 2)), vec![("idempotency-key", "k".repeat(300).leak())], 400, "invalid_request", None, "Idempotency-Key"),
        ("wrong token", "bogus", body(&record(0, 3)), vec![], 401, "unauthorized", None, "not registered"),
        ("no token", "none", body(&record(0, 3)), vec![], 401, "unauthorized", None, "no bearer token"),
        ("read-only token", "auditor", body(&record(0, 3)), vec![], 403, "forbidden", None, "has role read"),
    ];
    for (what, who, b, headers, status, code, field, fragment) in cases {
        let reply = match who {
            "bogus" => Client::new(&s.url, new_token(), ClientOptions { retries: 0, ..Default::default() }).unwrap(),
            "none" => Client::new(&s.url, String::new(), ClientOptions { retries: 0, ..Default::default() }).unwrap(),
            _ => s.raw(who),
        }
        .send(Method::POST, "/v1/entries", &headers, b)
        .await
        .unwrap();
        let v: Value = serde_json::from_slice(&reply.body).unwrap_or_else(|_| panic!("{what}: answer is not JSON"));
        assert_eq!(reply.status.as_u16(), status, "{what}: {v}");
        assert_eq!(v["error"]["code"], code, "{what}: {v}");
        assert_eq!(v["error"]["field"].as_str(), field, "{what}: {v}");
        let msg = v["error"]["message"].as_str().unwrap();
        assert!(msg.contains(fragment), "{what}: message {msg:?} should say {fragment:?}");
        assert_eq!(s.raw("soar").get_json("/v1/head").await.unwrap(), head, "{what}: the head moved");
    }
    let m = s.service_metrics.clone();
    use custody::service::metrics::Reject;
    assert_eq!(m.rejects(Reject::InvalidRecord), 5);
    assert_eq!(m.rejects(Reject::Unauthorized), 2);
    assert_eq!(m.rejects(Reject::Forbidden), 1);
    assert_eq!(m.rejects(Reject::BodyTooLarge), 1);
    s.stop().await;
}

/// With the writer held, a queue of one fills: further appends get 503 with Retry-After at once,
/// and the queued ones are committed once the writer is free.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_queue_answers_503_with_retry_after() {
    let s = TestServer::start(|c| c.commit.queue_requests = 1).await;
    let before = s.size();
    let (hold_tx, hold_rx) = std::sync::mpsc::channel::<()>();
    let l = s.ledger.clone();
    let holder = std::thread::spawn(move || l.with_state(|_| hold_rx.recv_timeout(Duration::from_secs(20))));
    // One request goes to the (blocked) writer, one waits in the queue, the rest are refused.
    let mut tasks = Vec::new();
    for i in 0..4 {
        let c = s.raw(&format!("c{i}"));
        tasks.push(tokio::spawn(async move {
            let r = c.send(Method::POST, "/v1/entries", &[], body(&record(i, 0))).await.unwrap();
            (r, Instant::now())
        }));
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let released = Instant::now();
    hold_tx.send(()).unwrap();
    holder.join().unwrap().unwrap();
    let (mut created, mut refused) = (0, 0);
    for t in tasks {
        let (r, at) = t.await.unwrap();
        match r.status {
            StatusCode::CREATED => created += 1,
            StatusCode::SERVICE_UNAVAILABLE => {
                refused += 1;
                assert!(at < released, "a full queue must refuse at once, not wait for the writer");
                assert_eq!(r.headers.get("retry-after").and_then(|v| v.to_str().ok()), Some("1"));
                let v: Value = serde_json::from_slice(&r.body).unwrap();
                assert_eq!(v["error"]["code"], "queue_full");
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert!(refused >= 1 && created >= 1, "created {created}, refused {refused}");
    assert_eq!(s.size(), before + created);
    assert_eq!(s.service_metrics.rejects(custody::service::metrics::Reject::QueueFull), refused);
    s.stop().await;
}

/// A client over its rate gets 429 with Retry-After; other clients are not affected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_answers_429() {
    let s = TestServer::start(|c| {
        c.limits.rate_per_client = 0.5;
        c.limits.rate_burst = 2.0;
    })
    .await;
    let c = s.raw("soar");
    for i in 0..2 {
        let r = c.send(Method::POST, "/v1/entries", &[], body(&record(0, i))).await.unwrap();
        assert_eq!(r.status, StatusCode::CREATED);
    }
    let r = c.send(Method::POST, "/v1/entries", &[], body(&record(0, 9))).await.unwrap();
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers.get("retry-after").is_some());
    let r = s.raw("c0").send(Method::POST, "/v1/entries", &[], body(&record(1, 0))).await.unwrap();
    assert_eq!(r.status, StatusCode::CREATED, "limits are per client");
    s.stop().await;
}

/// A client that stalls in its headers or its body is cut off by the timeouts, and meanwhile other
/// clients' appends go through (the writer never waits for a body).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_do_not_hold_the_writer() {
    let s = TestServer::start(|c| {
        c.limits.header_timeout = Duration::from_millis(800);
        c.limits.body_timeout = Duration::from_millis(800);
    })
    .await;
    let addr = s.url.trim_start_matches("http://").to_string();
    let token = s.tokens["soar"].clone();
    let slow = tokio::task::spawn_blocking(move || {
        let start = Instant::now();
        // Stalls in the body: answered 408.
        let mut body_staller = StdTcpStream::connect(&addr).unwrap();
        body_staller.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(body_staller, "POST /v1/entries HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Length: 1000\r\n\r\n{{\"incident\"").unwrap();
        // Stalls in the headers, and one that sends nothing: both closed.
        let mut header_staller = StdTcpStream::connect(&addr).unwrap();
        header_staller.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(header_staller, "POST /v1/entries HTTP/1.1\r\nHost: x\r\nAuthor").unwrap();
        let mut silent = StdTcpStream::connect(&addr).unwrap();
        silent.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut answer = Vec::new();
        let _ = body_staller.read_to_end(&mut answer);
        let answer = String::from_utf8_lossy(&answer).into_owned();
        let mut rest = Vec::new();
        let closed_headers = header_staller.read_to_end(&mut rest).is_ok();
        let closed_silent = silent.read_to_end(&mut rest).is_ok();
        (answer, closed_headers, closed_silent, start.elapsed())
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let t = Instant::now();
    let ok = s.raw("c0").append_json(body(&record(0, 0)), None).await.unwrap();
    assert_eq!(ok.receipts.len(), 1);
    assert!(t.elapsed() < Duration::from_millis(700), "an append waited for a slow client: {:?}", t.elapsed());
    let (answer, closed_headers, closed_silent, took) = slow.await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("body_timeout"), "{answer}");
    assert!(closed_headers && closed_silent, "stalled connections must be closed");
    assert!(took < Duration::from_secs(5), "{took:?}");
    s.stop().await;
}

/// `Ledger::submit_many`, the group commit under the service: each request is checked on its own
/// (a bad one fails alone and takes no seq), a copy of a request in the same group or a later one
/// gets the first one's receipts, every entry carries its own request's submitter and request ID,
/// and the whole group is one batch (one end-of-batch frame, so one write and one sync).
#[test]
fn submit_many_checks_each_request_and_writes_one_batch() {
    use custody::ledger::{LedgerError, Submission, Submitted};
    use custody::log::{ScanItem, Scanner, FLAG_END_OF_BATCH};
    use custody::record::Record;
    let dir = tempfile::tempdir().unwrap();
    let key = SecretKey::generate();
    let (ledger, _) = Ledger::init(&dir.path().join("ledger"), &key, "group").unwrap();
    let before = ledger.head().size;
    let sub = |who: &str, req: Option<&str>| Submission { submitter: Some(who.into()), request: req.map(Into::into) };
    let rec = |c: usize, i: usize| Record::from_value(record(c, i)).unwrap();
    let mut long = record(9, 9);
    long["reason"] = json!("x".repeat(3000));
    let mut forward = record(8, 8);
    forward["refs"] = json!([before + 1]); // an entry of this very group: not there before the call
    let out = ledger.submit_many(
        &key,
        vec![
            (sub("a", Some("k1")), vec![rec(1, 1)]),
            (sub("b", Some("k2")), vec![rec(2, 1), Record::from_value(long).unwrap()]),
            (sub("a", Some("k1")), vec![rec(1, 1)]),
            (sub("c", None), vec![rec(3, 1), rec(3, 2)]),
            (sub("d", None), vec![Record::from_value(forward).unwrap()]),
        ],
    );
    let receipts = |r: &Result<Submitted, LedgerError>| r.as_ref().unwrap().receipts().to_vec();
    assert!(matches!(&out[0], Ok(Submitted::Appended(r)) if r.len() == 1 && r[0].seq == before));
    match &out[1] {
        Err(LedgerError::Record { index: 2, problem }) => assert_eq!(problem.field, "reason"),
        other => panic!("the over-long record must fail its own request: {other:?}"),
    }
    assert!(matches!(&out[2], Ok(Submitted::Replayed(_))), "{:?}", out[2]);
    assert_eq!(receipts(&out[2]), receipts(&out[0]));
    let seqs: Vec<u64> = receipts(&out[3]).iter().map(|r| r.seq).collect();
    assert_eq!(seqs, vec![before + 1, before + 2], "the failed request took no seq");
    assert!(matches!(&out[4], Err(LedgerError::Record { index: 1, .. })), "{:?}", out[4]);
    assert_eq!(ledger.head().size, before + 3);
    for (seq, who, req) in [(before, "a", Some("k1")), (before + 1, "c", None), (before + 2, "c", None)] {
        let e = ledger.get(seq).unwrap();
        assert_eq!((e.header().submitter.as_deref(), e.header().request.as_deref()), (Some(who), req));
    }
    // A later retry is answered from the ledger.
    let again = ledger.submit_many(&key, vec![(sub("a", Some("k1")), vec![rec(1, 1)])]);
    assert!(matches!(&again[0], Ok(Submitted::Replayed(r)) if *r == receipts(&out[0])));
    assert_eq!(ledger.head().size, before + 3);
    // The same request ID for other records is refused, in a later call and within one call; the
    // same records with their refs in another order are the same request.
    let mut with_refs = record(5, 5);
    with_refs["refs"] = json!([before + 1, before]);
    let first =
        ledger.submit(&key, vec![Record::from_value(with_refs.clone()).unwrap()], &sub("e", Some("k5"))).unwrap();
    with_refs["refs"] = json!([before, before + 1]);
    let same = ledger.submit(&key, vec![Record::from_value(with_refs).unwrap()], &sub("e", Some("k5"))).unwrap();
    assert!(matches!(&same, Submitted::Replayed(r) if r == first.receipts()));
    let reused = ledger.submit(&key, vec![rec(5, 6)], &sub("e", Some("k5")));
    assert!(
        matches!(&reused, Err(LedgerError::RequestReused { request, why }) if request == "k5" && why.contains("record 1 differs")),
        "{reused:?}"
    );
    let group = ledger.submit_many(
        &key,
        vec![
            (sub("a", Some("k1")), vec![rec(1, 2)]),
            (sub("f", Some("k6")), vec![rec(6, 1)]),
            (sub("f", Some("k6")), vec![rec(6, 2)]),
        ],
    );
    assert!(matches!(&group[0], Err(LedgerError::RequestReused { .. })), "{:?}", group[0]);
    assert!(matches!(&group[1], Ok(Submitted::Appended(_))), "{:?}", group[1]);
    assert!(
        matches!(&group[2], Err(LedgerError::RequestReused { why, .. }) if why.contains("request 2 of this group")),
        "{:?}",
        group[2]
    );
    assert_eq!(ledger.head().size, before + 5);
    // One batch: only the group's last frame ends a batch.
    let flags: Vec<(u64, u8)> = Scanner::open(&dir.path().join("ledger/log"))
        .unwrap()
        .enumerate()
        .filter_map(|(i, item)| match item.unwrap() {
            ScanItem::Frame(f) => Some((i as u64, f.flags)),
            _ => None,
        })
        .filter(|(i, _)| *i >= before && *i < before + 3)
        .collect();
    assert_eq!(flags.iter().map(|(_, f)| f & FLAG_END_OF_BATCH).collect::<Vec<_>>(), vec![0, 0, FLAG_END_OF_BATCH]);
    drop(ledger);
    assert_intact(dir.path());
}

// ---- reads, clients, TLS -------------------------------------------------------------------------

/// Entries, paging, filters, proofs and the checkpoint, with the roles that may read them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_proofs_and_checkpoint() {
    let s = TestServer::start(|_| {}).await;
    let w = s.raw("soar");
    let mut receipts = Vec::new();
    for i in 0..5 {
        receipts.extend(w.append_json(body(&record(i % 2, i)), None).await.unwrap().receipts);
    }
    let r = s.raw("auditor");
    let e = r.get_json(&format!("/v1/entries/{}", receipts[0].seq)).await.unwrap();
    assert_eq!(e["entry_hash"], receipts[0].entry_hash);
    assert_eq!(e["submitter"], "soar");
    let page = r.get_json("/v1/entries?incident=INC-0&limit=2").await.unwrap();
    assert_eq!(page["entries"].as_array().unwrap().len(), 2);
    let after = page["next_after"].as_u64().unwrap();
    let rest = r.get_json(&format!("/v1/entries?incident=INC-0&limit=2&after={after}")).await.unwrap();
    assert_eq!(rest["entries"].as_array().unwrap().len(), 1);
    assert!(rest["next_after"].is_null());
    let all = r.get_json("/v1/entries?limit=1000").await.unwrap();
    assert_eq!(all["entries"].as_array().unwrap().len() as u64, s.size());
    // An append-only client cannot read entries, but can check its receipts.
    let denied = w.get_json(&format!("/v1/entries/{}", receipts[0].seq)).await.unwrap_err();
    assert!(matches!(denied, ClientError::Api { status: 403, .. }), "{denied}");
    let note = w.send(Method::GET, "/v1/checkpoint", &[], Bytes::new()).await.unwrap();
    assert_eq!(note.status, StatusCode::OK);
    let note = String::from_utf8(note.body.to_vec()).unwrap();
    let pk = s.ledger.with_state(|st| {
        st.keys.values().map(|k| custody::sign::PublicKey::from_bytes(&k.public_key).unwrap()).collect::<Vec<_>>()
    });
    let cp = custody::checkpoint::verify_checkpoint(&note, &pk, &[]).unwrap();
    assert_eq!(cp.checkpoint.size(), s.size());
    let proof = w.get_json(&format!("/v1/proof/inclusion?seq={}&size={}", receipts[2].seq, s.size())).await.unwrap();
    assert_eq!(proof["entry_hash"], receipts[2].entry_hash);
    let cons = w.get_json(&format!("/v1/proof/consistency?old=3&new={}", s.size())).await.unwrap();
    assert_eq!(cons["old_size"], 3);
    let bad = w.get_json("/v1/proof/inclusion?seq=99999").await.unwrap_err();
    assert!(matches!(bad, ClientError::Api { status: 400, .. }), "{bad}");
    let missing = r.get_json("/v1/entries/99999").await.unwrap_err();
    assert!(matches!(&missing, ClientError::Api { status: 404, code, .. } if code == "no_such_entry"), "{missing}");
    let export = r.send(Method::GET, "/v1/incidents/INC-0/export?format=csv", &[], Bytes::new()).await.unwrap();
    assert_eq!(export.status, StatusCode::OK, "{}", String::from_utf8_lossy(&export.body));
    assert_eq!(export.headers["x-custody-verified"], "intact");
    assert_eq!(export.headers["x-custody-entries"], "3");
    assert!(export.headers["content-type"].to_str().unwrap().starts_with("text/csv"));
    assert_eq!(String::from_utf8_lossy(&export.body).lines().count(), 4, "a header and three rows");
    let jsonl = r.send(Method::GET, "/v1/incidents/INC-0/export", &[], Bytes::new()).await.unwrap();
    assert_eq!(jsonl.status, StatusCode::OK);
    assert_eq!(jsonl.body.split(|b| *b == b'\n').filter(|l| !l.is_empty()).count(), 3);
    // trust= pins the genesis key: the right one verifies, another does not, a malformed one is 400.
    let pinned = format!("/v1/incidents/INC-0/export?format=html&trust={}", s.genesis);
    let pinned = r.send(Method::GET, &pinned, &[], Bytes::new()).await.unwrap();
    assert_eq!(pinned.headers["x-custody-verified"], "intact");
    assert!(String::from_utf8_lossy(&pinned.body).contains("pinned by the verifier"));
    let other = custody::sign::SecretKey::from_seed(&[9; 32]).public().to_text();
    let other = format!("/v1/incidents/INC-0/export?trust={other}");
    let other = r.send(Method::GET, &other, &[], Bytes::new()).await.unwrap();
    assert_eq!(other.status, StatusCode::OK);
    assert_eq!(other.headers["x-custody-verified"], "NOT-VERIFIED");
    let malformed = r.send(Method::GET, "/v1/incidents/INC-0/export?trust=zz", &[], Bytes::new()).await.unwrap();
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    let bad = r.send(Method::GET, "/v1/incidents/INC-0/export?format=pdf", &[], Bytes::new()).await.unwrap();
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let none = r.send(Method::GET, "/v1/incidents/INC-404/export", &[], Bytes::new()).await.unwrap();
    assert_eq!(none.status, StatusCode::NOT_FOUND);
    let denied = w.send(Method::GET, "/v1/incidents/INC-0/export", &[], Bytes::new()).await.unwrap();
    assert_eq!(denied.status, StatusCode::FORBIDDEN, "append clients cannot export");
    let health = r.send(Method::GET, "/healthz", &[], Bytes::new()).await.unwrap();
    assert_eq!(health.status, StatusCode::OK);
    s.stop().await;
}

/// Registering and removing clients through the API are ledger entries made by the admin; the
/// token works at once and stops working once removed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_are_ledger_entries() {
    let s = TestServer::start(|_| {}).await;
    let admin = s.raw("admin");
    let add = |name: &str, role: &str| Bytes::from(json!({"name": name, "role": role}).to_string());
    let denied = s.raw("soar").send(Method::POST, "/v1/clients", &[], add("x", "admin")).await.unwrap();
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    let v = admin.send(Method::POST, "/v1/clients", &[], add("new-bot", "append")).await.unwrap().json().unwrap();
    let token = v["token"].as_str().unwrap().to_string();
    let seq = v["receipt"]["seq"].as_u64().unwrap();
    let e = s.ledger.get(seq).unwrap();
    assert!(matches!(e.control(), Some(Control::ClientAdd { name, role: Role::Append, .. }) if name == "new-bot"));
    assert_eq!(e.header().submitter.as_deref(), Some("admin"), "who registered it is part of the evidence");
    let dup = admin.send(Method::POST, "/v1/clients", &[], add("new-bot", "read")).await.unwrap();
    assert_eq!(dup.status, StatusCode::CONFLICT);
    let bot = Client::new(&s.url, token.clone(), ClientOptions { retries: 0, ..Default::default() }).unwrap();
    let a = bot.append_json(body(&record(5, 5)), None).await.unwrap();
    assert_eq!(s.ledger.get(a.receipts[0].seq).unwrap().header().submitter.as_deref(), Some("new-bot"));
    let list = admin.get_json("/v1/clients").await.unwrap();
    assert!(list["clients"].as_array().unwrap().iter().any(|c| c["name"] == "new-bot" && c["role"] == "append"));
    let rm = admin.send(Method::DELETE, "/v1/clients/new-bot?reason=rotated", &[], Bytes::new()).await.unwrap();
    assert_eq!(rm.status, StatusCode::OK);
    let after = bot.send(Method::POST, "/v1/entries", &[], body(&record(5, 6))).await.unwrap();
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
    let (dir, _) = s.stop().await;
    assert_intact(dir.path());
}

struct Pki {
    dir: TempDir,
}

impl Pki {
    /// A CA, a server certificate for 127.0.0.1 and a client certificate, all PEM files.
    fn new() -> Pki {
        use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, ExtendedKeyUsagePurpose, IsCa, KeyPair};
        let dir = tempfile::tempdir().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
        let write = |name: &str, text: String| std::fs::write(dir.path().join(name), text).unwrap();
        write("ca.pem", ca.pem());
        for (name, san, eku) in [
            ("server", "127.0.0.1", ExtendedKeyUsagePurpose::ServerAuth),
            ("client", "soar.clients.example", ExtendedKeyUsagePurpose::ClientAuth),
        ] {
            let key = KeyPair::generate().unwrap();
            let mut p = CertificateParams::new(vec![san.to_string()]).unwrap();
            p.extended_key_usages = vec![eku];
            let cert = p.signed_by(&key, &ca).unwrap();
            write(&format!("{name}.pem"), cert.pem());
            write(&format!("{name}.key"), key.serialize_pem());
        }
        Pki { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// HTTPS with HTTP/2 and HTTP/1.1 by ALPN; with a client CA, only clients with a certificate from
/// it get in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_and_mutual_tls() {
    let pki = Pki::new();
    let files =
        |client_ca: Option<PathBuf>| TlsFiles { cert: pki.path("server.pem"), key: pki.path("server.key"), client_ca };
    let s = TestServer::start(|c| c.tls = Some(files(None))).await;
    for http2 in [true, false] {
        let opts = ClientOptions { ca_file: Some(pki.path("ca.pem")), http2, retries: 0, ..Default::default() };
        let a = s.client("soar", opts).append_json(body(&record(0, http2 as usize)), None).await.unwrap();
        assert_eq!(a.receipts.len(), 1, "http2 {http2}");
    }
    let untrusted = s.client("soar", ClientOptions { retries: 0, ..Default::default() }).get_json("/v1/head").await;
    assert!(matches!(untrusted, Err(ClientError::Transport(_))), "a client without the CA must not connect");
    s.stop().await;

    let s = TestServer::start(|c| c.tls = Some(files(Some(pki.path("ca.pem"))))).await;
    let without = ClientOptions { ca_file: Some(pki.path("ca.pem")), retries: 0, ..Default::default() };
    assert!(s.client("soar", without.clone()).get_json("/v1/head").await.is_err(), "mTLS: no client cert, no entry");
    let with = ClientOptions { client_cert: Some((pki.path("client.pem"), pki.path("client.key"))), ..without };
    let a = s.client("soar", with).append_json(body(&record(1, 1)), None).await.unwrap();
    assert_eq!(a.receipts.len(), 1);
    s.stop().await;
}

// ---- the binary: SIGTERM and SIGKILL -------------------------------------------------------------

/// A `custody serve` child process.
struct Child_ {
    child: Child,
    url: String,
}

fn start_binary(dir: &Path) -> Child_ {
    let mut child = Command::new(env!("CARGO_BIN_EXE_custody"))
        .args(["serve", "--ledger"])
        .arg(dir.join("ledger"))
        .arg("--key")
        .arg(dir.join("key"))
        .args(["--listen", "127.0.0.1:0", "--wait", "10", "--shutdown-grace", "10", "--rate-limit", "0"])
        .env_remove("CUSTODY_LEDGER")
        .env_remove("CUSTODY_KEY")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let v: Value = serde_json::from_str(&line).unwrap_or_else(|_| panic!("custody serve printed {line:?}"));
    Child_ { child, url: v["url"].as_str().unwrap().to_string() }
}

fn wait_exit(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return st;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("custody serve did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A ledger directory with a key file and the test clients, closed (for a child process).
fn ledger_dir() -> (TempDir, HashMap<String, String>) {
    let (dir, ledger, key, tokens) = ledger_with_clients();
    std::fs::write(dir.path().join("key"), key.to_file_text()).unwrap();
    drop(ledger);
    (dir, tokens)
}

fn reopen(dir: &Path) -> Ledger {
    Ledger::open(&dir.join("ledger"), &OpenOptions::default()).unwrap().0
}

fn check_receipts(ledger: &Ledger, receipts: &[Receipt]) {
    for r in receipts {
        let e = ledger.get(r.seq).unwrap_or_else(|err| panic!("acknowledged entry {} is gone: {err}", r.seq));
        assert_eq!(hex::encode(e.hash), r.entry_hash, "acknowledged entry {} was replaced", r.seq);
    }
}

/// SIGTERM: stop accepting, finish and sync what was accepted, exit 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_commits_what_was_accepted_and_exits_0() {
    let (dir, tokens) = ledger_dir();
    let mut srv = start_binary(dir.path());
    let opts = ClientOptions { retries: 0, timeout: Duration::from_secs(10), ..Default::default() };
    let client = Arc::new(Client::new(&srv.url, tokens["soar"].clone(), opts).unwrap());
    let mut tasks = Vec::new();
    for i in 0..200 {
        let c = client.clone();
        tasks.push(tokio::spawn(async move { c.append_json(body(&record(0, i)), None).await }));
    }
    tokio::time::sleep(Duration::from_millis(30)).await;
    let pid = srv.child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let status = tokio::task::spawn_blocking(move || wait_exit(&mut srv.child, Duration::from_secs(20))).await.unwrap();
    assert_eq!(status.code(), Some(0), "SIGTERM must end with exit 0");
    let mut receipts = Vec::new();
    for t in tasks {
        if let Ok(a) = t.await.unwrap() {
            receipts.extend(a.receipts);
        }
    }
    assert!(!receipts.is_empty(), "some appends should have been answered before the shutdown");
    check_receipts(&reopen(dir.path()), &receipts);
    assert_intact(dir.path());
}

/// Kills the server with SIGKILL under load, ten times. After each restart the clients retry what
/// was unanswered with the same idempotency keys. In the end every receipt any client received is
/// in the ledger, no request was appended twice, and the ledger verifies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_under_load_loses_no_receipt() {
    const KILLS: usize = 10;
    const CLIENTS: usize = 8;
    let (dir, tokens) = ledger_dir();
    let mut receipts: BTreeMap<String, Vec<Receipt>> = BTreeMap::new();
    // (client, key, record index) of requests sent but not answered.
    let mut pending: Vec<(usize, String, usize)> = Vec::new();
    let mut next = 0usize;
    let (mut retried, mut replayed) = (0, 0);
    for round in 0..=KILLS {
        let mut srv = start_binary(dir.path());
        let opts = ClientOptions { retries: 0, timeout: Duration::from_secs(5), ..Default::default() };
        let clients: Vec<Arc<Client>> = (0..CLIENTS)
            .map(|c| Arc::new(Client::new(&srv.url, tokens[&format!("c{c}")].clone(), opts.clone()).unwrap()))
            .collect();
        // First, the retries of what the last crash left unanswered: each gets its receipts now
        // (replayed if it had been committed).
        for (c, key, i) in std::mem::take(&mut pending) {
            let a = clients[c].append_json(body(&record(c, i)), Some(key.clone())).await.unwrap();
            assert_eq!(a.receipts.len(), 1);
            retried += 1;
            replayed += a.replayed as usize;
            if let Some(old) = receipts.insert(key.clone(), a.receipts) {
                panic!("request {key} was answered before the crash and retried: {old:?}");
            }
        }
        if round == KILLS {
            let pid = srv.child.id().to_string();
            assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
            let st =
                tokio::task::spawn_blocking(move || wait_exit(&mut srv.child, Duration::from_secs(20))).await.unwrap();
            assert_eq!(st.code(), Some(0));
            break;
        }
        // Load: each client sends requests one after another until the kill.
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut tasks = Vec::new();
        for (c, client) in clients.iter().enumerate() {
            let (client, stop) = (client.clone(), stop.clone());
            let start = next + c * 1000;
            tasks.push(tokio::spawn(async move {
                let mut done = Vec::new();
                let mut lost = Vec::new();
                for i in start..start + 1000 {
                    let key = format!("crash-{c}-{i}");
                    if stop.load(std::sync::atomic::Ordering::Relaxed) {
                        break;
                    }
                    match client.append_json(body(&record(c, i)), Some(key.clone())).await {
                        Ok(a) => done.push((key, a.receipts)),
                        Err(_) => {
                            lost.push((c, key, i));
                            break;
                        }
                    }
                }
                (done, lost)
            }));
        }
        next += CLIENTS * 1000;
        let delay = 150 + (round as u64 * 37) % 200;
        tokio::time::sleep(Duration::from_millis(delay)).await;
        srv.child.kill().unwrap(); // SIGKILL
        srv.child.wait().unwrap();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for t in tasks {
            let (done, lost) = tokio::time::timeout(Duration::from_secs(20), t).await.unwrap().unwrap();
            for (k, r) in done {
                receipts.insert(k, r);
            }
            pending.extend(lost);
        }
    }
    let quarantined = std::fs::read_dir(dir.path().join("ledger/quarantine")).map_or(0, |d| d.count());
    eprintln!(
        "{KILLS} kills: {} requests answered, {retried} retried after a kill ({replayed} of them had been committed), \
         {quarantined} torn tails quarantined",
        receipts.len()
    );
    let ledger = reopen(dir.path());
    let all: Vec<Receipt> = receipts.values().flatten().cloned().collect();
    assert!(all.len() > 100, "the load should have produced receipts, got {}", all.len());
    check_receipts(&ledger, &all);
    let mut count: HashMap<String, usize> = HashMap::new();
    for (_, _, req) in requests_in(&ledger) {
        if let Some(r) = req.filter(|r| r.starts_with("crash-")) {
            *count.entry(r).or_default() += 1;
        }
    }
    assert!(count.values().all(|n| *n == 1), "a request was appended twice");
    assert_eq!(count.len(), receipts.len(), "every appended request was answered (now or on retry)");
    drop(ledger);
    assert_intact(dir.path());
}

/// The CLI end to end: an admin registers a client through the service, and `custody append
/// --server` appends with it, once per idempotency key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_registers_and_appends_through_the_service() {
    let (dir, tokens) = ledger_dir();
    let mut srv = start_binary(dir.path());
    let admin = dir.path().join("admin.token");
    std::fs::write(&admin, &tokens["admin"]).unwrap();
    let bot = dir.path().join("bot.token");
    let custody = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_custody")).args(args).env_remove("CUSTODY_KEY").output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, out, err) = custody(&[
        "client",
        "add",
        "--server",
        &srv.url,
        "--token-file",
        admin.to_str().unwrap(),
        "ci-bot",
        "--role",
        "append",
        "--token-out",
        bot.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(std::fs::read_to_string(&bot).unwrap().starts_with("cst_"));
    let append = |key: &str| {
        custody(&[
            "append",
            "--server",
            &srv.url,
            "--token-file",
            bot.to_str().unwrap(),
            "--idempotency-key",
            key,
            "--incident",
            "INC-9",
            "--action",
            "disable",
            "--actor",
            "soar",
            "--actor-kind",
            "service",
            "--target",
            "svc-deploy",
            "--target-kind",
            "service_account",
            "--system",
            "aws-iam",
            "--no-approval",
            "containment",
            "--reason",
            "key leaked in CI logs",
        ])
    };
    let (c1, r1, e1) = append("cli-1");
    let (c2, r2, e2) = append("cli-1");
    assert_eq!((c1, c2), (Some(0), Some(0)), "{e1}{e2}");
    assert_eq!(r1, r2, "a retried key gets the original receipt");
    assert!(e2.contains("already had request cli-1"), "{e2}");
    let receipt: Receipt = serde_json::from_str(r1.trim()).unwrap();
    // A read-only or unknown token gets a clear error and exit 2.
    std::fs::write(&bot, "cst_not-a-registered-token-at-all-0123456789abc").unwrap();
    let (code, _, err) = append("cli-2");
    assert_eq!(code, Some(2));
    assert!(err.contains("401") && err.contains("not registered"), "{err}");
    let pid = srv.child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    assert_eq!(wait_exit(&mut srv.child, Duration::from_secs(20)).code(), Some(0));
    let ledger = reopen(dir.path());
    check_receipts(&ledger, std::slice::from_ref(&receipt));
    assert_eq!(ledger.get(receipt.seq).unwrap().header().submitter.as_deref(), Some("ci-bot"));
}
