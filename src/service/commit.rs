//! Group commit: one writer thread gathers concurrent append requests into shared batches.
//!
//! This module owns the path from "a request's records are parsed" to "its receipts are durable".
//! Handlers hand a [`Job`] to a bounded queue and await its answer; a single OS thread (the only
//! writer of the ledger) takes the first waiting job, then every job that is already waiting (up to
//! [`CommitConfig::max_group_records`]), and appends them with one [`Ledger::submit_many`]: one write
//! and one `fdatasync` for the whole group. Each job is answered only when that call returns, so no
//! receipt is ever handed out before its entry is durable.
//!
//! There is no timer: while one group is being synced, the requests that arrive meanwhile form the
//! next group, so the group size follows the load (one request alone is committed at once; 64
//! concurrent clients share a sync). Back-pressure: the queue is bounded both in requests and in
//! records; when either is full, [`Committer::submit`] refuses at once (the API answers 503 with
//! `Retry-After`) instead of holding more memory.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::Instant;

use tokio::sync::{mpsc, oneshot};

use super::metrics::Metrics;
use crate::ledger::{Ledger, LedgerError, Submission, Submitted, MAX_BATCH};
use crate::record::Record;
use crate::sign::SecretKey;

/// Sizes of the queue and of the groups.
#[derive(Clone, Debug)]
pub struct CommitConfig {
    /// Append requests that may wait for the writer.
    pub queue_requests: usize,
    /// Records (over all waiting requests) that may wait for the writer.
    pub queue_records: usize,
    /// A group takes waiting requests until it holds this many records (a single request may be
    /// larger, up to the ledger's batch limit).
    pub max_group_records: usize,
}

impl Default for CommitConfig {
    fn default() -> Self {
        CommitConfig { queue_requests: 4096, queue_records: 100_000, max_group_records: MAX_BATCH }
    }
}

/// What a request gets back: its receipts once durable, or why not.
pub type Answer = Result<Submitted, LedgerError>;

/// One append request waiting for the writer.
pub struct Job {
    pub submission: Submission,
    pub records: Vec<Record>,
    reply: oneshot::Sender<Answer>,
}

/// Why a job was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The queue is full: try again shortly.
    Full,
    /// The service is shutting down.
    Closed,
}

/// The handle handlers use to queue jobs; owns the writer thread.
pub struct Committer {
    tx: RwLock<Option<mpsc::Sender<Job>>>,
    metrics: Arc<Metrics>,
    max_records: u64,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Committer {
    /// Starts the writer thread for `ledger`, signing with `key`.
    pub fn start(
        ledger: Arc<Ledger>,
        key: Arc<SecretKey>,
        cfg: &CommitConfig,
        metrics: Arc<Metrics>,
    ) -> std::io::Result<Committer> {
        let (tx, rx) = mpsc::channel(cfg.queue_requests.max(1));
        let m = metrics.clone();
        let max_group = cfg.max_group_records.max(1);
        let thread = std::thread::Builder::new()
            .name("custody-writer".into())
            .spawn(move || writer_loop(rx, &ledger, &key, &m, max_group))?;
        Ok(Committer {
            tx: RwLock::new(Some(tx)),
            metrics,
            max_records: cfg.queue_records.max(1) as u64,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Queues a request; the receiver yields its answer once the writer has made it durable (or
    /// failed). Refuses at once when the queue is full.
    pub fn submit(&self, submission: Submission, records: Vec<Record>) -> Result<oneshot::Receiver<Answer>, Refused> {
        let n = records.len() as u64;
        let tx = self.tx.read().unwrap_or_else(|p| p.into_inner());
        let tx = tx.as_ref().ok_or(Refused::Closed)?;
        // Reserve room for the records first, so that the bound holds under concurrency. A single
        // request larger than the whole budget is still let in when the queue is empty.
        let before = self.metrics.queue_records.fetch_add(n, Relaxed);
        if before > 0 && before + n > self.max_records {
            self.metrics.queue_records.fetch_sub(n, Relaxed);
            return Err(Refused::Full);
        }
        let (reply, rx) = oneshot::channel();
        self.metrics.queue_depth.fetch_add(1, Relaxed);
        match tx.try_send(Job { submission, records, reply }) {
            Ok(()) => Ok(rx),
            Err(e) => {
                self.metrics.queue_records.fetch_sub(n, Relaxed);
                self.metrics.queue_depth.fetch_sub(1, Relaxed);
                Err(match e {
                    mpsc::error::TrySendError::Full(_) => Refused::Full,
                    mpsc::error::TrySendError::Closed(_) => Refused::Closed,
                })
            }
        }
    }

    /// Whether the writer is still taking jobs.
    pub fn is_open(&self) -> bool {
        self.tx.read().unwrap_or_else(|p| p.into_inner()).as_ref().is_some_and(|t| !t.is_closed())
    }

    /// Stops taking jobs, lets the writer commit everything already queued, and waits for it.
    pub fn close(&self) {
        self.tx.write().unwrap_or_else(|p| p.into_inner()).take();
        let t = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(t) = t {
            let _ = t.join();
        }
    }
}

impl Drop for Committer {
    fn drop(&mut self) {
        self.close();
    }
}

fn writer_loop(mut rx: mpsc::Receiver<Job>, ledger: &Ledger, key: &SecretKey, m: &Metrics, max_group: usize) {
    while let Some(first) = rx.blocking_recv() {
        let mut records = first.records.len();
        let mut group = vec![first];
        while records < max_group {
            match rx.try_recv() {
                Ok(j) => {
                    records += j.records.len();
                    group.push(j);
                }
                Err(_) => break,
            }
        }
        m.queue_depth.fetch_sub(group.len() as u64, Relaxed);
        m.queue_records.fetch_sub(records as u64, Relaxed);
        let mut replies = Vec::with_capacity(group.len());
        let requests: Vec<(Submission, Vec<Record>)> = group
            .into_iter()
            .map(|j| {
                replies.push(j.reply);
                (j.submission, j.records)
            })
            .collect();
        let start = Instant::now();
        let answers = ledger.submit_many(key, requests);
        let mut appended = 0u64;
        for a in &answers {
            match a {
                Ok(Submitted::Appended(r)) if !r.is_empty() => {
                    appended += r.len() as u64;
                    m.appended_requests.fetch_add(1, Relaxed);
                }
                Ok(Submitted::Replayed(_)) => {
                    m.replayed_requests.fetch_add(1, Relaxed);
                }
                _ => {}
            }
        }
        if appended > 0 {
            m.commit_seconds.observe_duration(start.elapsed());
            m.fsync_seconds.observe_duration(ledger.last_sync());
            m.fsyncs.fetch_add(1, Relaxed);
            m.appended_entries.fetch_add(appended, Relaxed);
            m.batch_records.observe(appended as f64);
            m.batch_requests.observe(
                answers.iter().filter(|a| matches!(a, Ok(Submitted::Appended(r)) if !r.is_empty())).count() as f64,
            );
        }
        for (reply, answer) in replies.into_iter().zip(answers) {
            // A caller that went away (client disconnected) still has its entries durable; a retry
            // with the same idempotency key gets the receipts.
            let _ = reply.send(answer);
        }
    }
}
